"""Rows for ops/shape.py: reshape/transpose/broadcast/flip/concatenate/copy and every
NumPy shape, joining and splitting function built on them (0-d, negative axes,
broadcasting included)."""

import numpy as np

import chainrule as cr
from harness import Table

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover
    torch = None

ROWS = Table()


row = ROWS.row


def tf(make):
    """A torch function, or None when torch is missing (make is only called lazily)."""
    return (lambda *a: make()(*a)) if torch is not None else None


def pieces(ps):
    """Join split pieces with distinct weights, so a mix-up of pieces shows."""
    return np.concatenate([np.ravel(p) * (i + 1) for i, p in enumerate(ps)])


def tpieces(ps):
    return torch.cat([p.reshape(-1) * (i + 1) for i, p in enumerate(ps)])


# --- reshape family --------------------------------------------------------------
row("reshape", lambda x: np.reshape(x, (3, 2)), [(2, 3)],
    tf(lambda: lambda x: torch.reshape(x, (3, 2))), "reshape[2,3->3,2]")
row("reshape", lambda x: np.reshape(x, (-1, 2), order="F"), [(2, 3)], id="reshape[order=F]")
row("reshape", lambda x: np.reshape(x, (1, 1)), [()],
    tf(lambda: lambda x: torch.reshape(x, (1, 1))), "reshape[0d->1,1]")
row("reshape", lambda x: x.reshape(6), [(3, 2)], id="Tensor.reshape")
row("reshape", lambda x: np.ravel(x), [(2, 3)], tf(lambda: torch.ravel), "ravel")
row("reshape", lambda x: np.ravel(x, order="F"), [(2, 3)],
    tf(lambda: lambda x: x.T.reshape(-1)), "ravel[F]")
row("reshape", lambda x: np.squeeze(x), [(1, 3, 1)], tf(lambda: torch.squeeze), "squeeze")
row("reshape", lambda x: np.squeeze(x, axis=-1), [(2, 1)],
    tf(lambda: lambda x: torch.squeeze(x, -1)), "squeeze[axis=-1]")
row("reshape", lambda x: np.expand_dims(x, -1), [(2, 3)],
    tf(lambda: lambda x: torch.unsqueeze(x, -1)), "expand_dims[-1]")
row("reshape", lambda x: np.expand_dims(x, (0, 2)), [(3,)], id="expand_dims[(0,2)]")
row("reshape", lambda x: np.expand_dims(x, 0), [()], id="expand_dims[0d]")
for _k, _nm in [(1, "atleast_1d"), (2, "atleast_2d"), (3, "atleast_3d")]:
    for _s in [(), (3,), (2, 3)]:
        row("reshape", getattr(np, _nm), [_s],
            tf(lambda _nm=_nm: getattr(torch, _nm)), f"{_nm}{list(_s)}")
row("reshape", lambda x, y: np.concatenate([np.ravel(a) for a in np.atleast_2d(x, y)]),
    [(), (2,)], id="atleast_2d[two args]")

# --- axis permutations ----------------------------------------------------------
row("transpose", lambda x: np.transpose(x), [(2, 3)], tf(lambda: lambda x: x.T), "transpose")
row("transpose", lambda x: np.transpose(x, (1, 2, 0)), [(2, 3, 2)],
    tf(lambda: lambda x: x.permute(1, 2, 0)), "transpose[axes]")
row("transpose", lambda x: np.transpose(x, (-1, 0, 1)), [(2, 3, 2)], id="transpose[neg]")
row("transpose", lambda x: np.permute_dims(x, (1, 0)), [(2, 3)],
    tf(lambda: lambda x: torch.permute(x, (1, 0))), "permute_dims")
row("transpose", lambda x: np.transpose(x), [()], id="transpose[0d]")
row("transpose", lambda x: x.T, [(3, 2)], id="Tensor.T")
row("transpose", lambda x: np.moveaxis(x, -1, 0), [(2, 3, 2)],
    tf(lambda: lambda x: torch.movedim(x, -1, 0)), "moveaxis[-1,0]")
row("transpose", lambda x: np.moveaxis(x, (0, 1), (2, 0)), [(2, 3, 2)],
    tf(lambda: lambda x: torch.movedim(x, (0, 1), (2, 0))), "moveaxis[tuple]")
row("transpose", lambda x: np.rollaxis(x, 2), [(2, 3, 2)], id="rollaxis[2]")
row("transpose", lambda x: np.rollaxis(x, 0, 3), [(2, 3, 2)], id="rollaxis[0,3]")
row("transpose", lambda x: np.rollaxis(x, -1, -2), [(2, 3, 2)], id="rollaxis[neg]")
row("transpose", lambda x: np.swapaxes(x, -1, -3), [(2, 3, 2)],
    tf(lambda: lambda x: torch.swapaxes(x, -1, -3)), "swapaxes[neg]")

# --- broadcast / tile / repeat -------------------------------------------------
row("broadcast_to", lambda x: np.broadcast_to(x, (2, 3)), [(3,)],
    tf(lambda: lambda x: torch.broadcast_to(x, (2, 3))), "broadcast_to[3->2,3]")
row("broadcast_to", lambda x: np.broadcast_to(x, (2, 3)), [(2, 1)], id="broadcast_to[2,1]")
row("broadcast_to", lambda x: np.broadcast_to(x, (2, 2)), [()],
    tf(lambda: lambda x: torch.broadcast_to(x, (2, 2))), "broadcast_to[0d]")
row("broadcast_to", lambda x, y: np.concatenate([np.ravel(a) for a in np.broadcast_arrays(x, y)]),
    [(2, 1), (3,)], id="broadcast_arrays")
row("broadcast_to", lambda x: np.tile(x, 2), [(3,)], tf(lambda: lambda x: torch.tile(x, (2,))),
    "tile[2]")
row("broadcast_to", lambda x: np.tile(x, (2, 1, 2)), [(2, 3)],
    tf(lambda: lambda x: torch.tile(x, (2, 1, 2))), "tile[2,1,2]")
row("broadcast_to", lambda x: np.tile(x, 3), [()], id="tile[0d]")
row("copy", lambda x: np.tile(x, (1, 1)), [(3,)], id="tile[ones]")
row("broadcast_to", lambda x: np.repeat(x, 2), [(2, 2)],
    tf(lambda: lambda x: torch.repeat_interleave(x, 2)), "repeat[flat]")
row("broadcast_to", lambda x: np.repeat(x, 3, axis=-1), [(2, 2)],
    tf(lambda: lambda x: torch.repeat_interleave(x, 3, dim=-1)), "repeat[axis=-1]")
row("broadcast_to", lambda x: np.repeat(x, 2), [()], id="repeat[0d]")
row("getitem", lambda x: np.repeat(x, [1, 0, 3], axis=0), [(3, 2)],
    tf(lambda: lambda x: torch.repeat_interleave(x, torch.tensor([1, 0, 3]), dim=0)),
    "repeat[array]")
row("broadcast_to", lambda x: x.repeat(2, axis=0), [(2, 2)], id="Tensor.repeat")

# --- flips, rotations, rolls ---------------------------------------------------
row("flip", lambda x: np.flip(x), [(2, 3)], tf(lambda: lambda x: torch.flip(x, (0, 1))),
    "flip[all]")
row("flip", lambda x: np.flip(x, -1), [(2, 3)], tf(lambda: lambda x: torch.flip(x, (-1,))),
    "flip[-1]")
row("flip", lambda x: np.flip(x), [()], id="flip[0d]")
row("flip", lambda x: np.fliplr(x), [(2, 3)], tf(lambda: torch.fliplr), "fliplr")
row("flip", lambda x: np.flipud(x), [(3, 2)], tf(lambda: torch.flipud), "flipud")
for _k in (1, 2, 3, -1, 4):
    row("flip", lambda x, _k=_k: np.rot90(x, _k), [(2, 3)],
        tf(lambda _k=_k: lambda x: torch.rot90(x, _k, (0, 1))), f"rot90[k={_k}]")
row("flip", lambda x: np.rot90(x, 1, axes=(2, 0)), [(2, 3, 2)],
    tf(lambda: lambda x: torch.rot90(x, 1, (2, 0))), "rot90[axes]")
row("concatenate", lambda x: np.roll(x, 2), [(5,)], tf(lambda: lambda x: torch.roll(x, 2)),
    "roll[2]")
row("concatenate", lambda x: np.roll(x, -1, axis=-1), [(2, 3)],
    tf(lambda: lambda x: torch.roll(x, -1, -1)), "roll[-1,axis=-1]")
row("concatenate", lambda x: np.roll(x, (1, 2), axis=(0, 1)), [(2, 3)],
    tf(lambda: lambda x: torch.roll(x, (1, 2), (0, 1))), "roll[tuple]")
row("concatenate", lambda x: np.roll(x, 4), [(2, 3)], tf(lambda: lambda x: torch.roll(x, 4)),
    "roll[flat]")
row("copy", lambda x: np.roll(x, 3), [(3,)], id="roll[full turn]")

# --- pad -----------------------------------------------------------------------
row("scatter_add", lambda x: np.pad(x, 1), [(2, 3)],
    tf(lambda: lambda x: F.pad(x, (1, 1, 1, 1))), "pad[constant 0]")
row("scatter_add", lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=2.5), [(2, 3)],
    tf(lambda: lambda x: F.pad(x, (0, 2, 1, 0), value=2.5)), "pad[constant 2.5]")
row("scatter_add", lambda x: np.pad(x, (1, 2), constant_values=((1, 2), (3, 4))), [(2, 2)],
    id="pad[per-axis constants]")
row("scatter_add", lambda x: np.pad(x, 2), [()], id="pad[0d]")
row("scatter_add", lambda x, c: np.pad(x + 0 * c, 1, constant_values=c), [(2,), ()],
    id="pad[tensor constant]")
row("getitem", lambda x: np.pad(x, ((0, 0), (2, 3)), mode="reflect"), [(2, 4)],
    tf(lambda: lambda x: F.pad(x[None], (2, 3), mode="reflect")[0]), "pad[reflect]")
row("getitem", lambda x: np.pad(x, ((1, 2), (2, 1)), mode="edge"), [(2, 3)],
    tf(lambda: lambda x: F.pad(x[None], (2, 1, 1, 2), mode="replicate")[0]), "pad[edge]")
row("getitem", lambda x: np.pad(x, ((0, 0), (2, 1)), mode="wrap"), [(2, 3)],
    tf(lambda: lambda x: F.pad(x[None], (2, 1), mode="circular")[0]), "pad[wrap]")
row("getitem", lambda x: np.pad(x, (4, 5), mode="symmetric"), [(3,)], id="pad[symmetric]")
row("getitem", lambda x: np.pad(x, (5, 4), mode="wrap"), [(2,)], id="pad[wrap > size]")

# --- joining -------------------------------------------------------------------
row("concatenate", lambda x, y: np.concatenate([x, y]), [(2, 3), (1, 3)],
    tf(lambda: lambda x, y: torch.cat([x, y])), "concatenate[0]")
row("concatenate", lambda x, y, z: np.concatenate((x, y, z), axis=-1), [(2, 1), (2, 3), (2, 2)],
    tf(lambda: lambda x, y, z: torch.cat([x, y, z], -1)), "concatenate[-1]")
row("concatenate", lambda x, y: np.concatenate([x, y], axis=None), [(2, 2), (3,)],
    id="concatenate[None]")
row("concatenate", lambda x, y: np.concatenate([x, y]), [(2,), (2,)], dtype=np.complex128,
    id="concatenate[complex]")
row("concatenate", lambda x: np.concatenate([x, np.ones((1, 2))]), [(1, 2)],
    id="concatenate[with constant]")
row("concatenate", lambda x, y: np.stack([x, y]), [(2, 3), (2, 3)],
    tf(lambda: lambda x, y: torch.stack([x, y])), "stack[0]")
row("concatenate", lambda x, y: np.stack([x, y], axis=-1), [(2, 3), (2, 3)],
    tf(lambda: lambda x, y: torch.stack([x, y], -1)), "stack[-1]")
row("concatenate", lambda x, y: np.stack([x, y]), [(), ()],
    tf(lambda: lambda x, y: torch.stack([x, y])), "stack[0d]")
row("concatenate", lambda x, y: np.hstack([x, y]), [(2,), (3,)],
    tf(lambda: lambda x, y: torch.hstack([x, y])), "hstack[1d]")
row("concatenate", lambda x, y: np.hstack([x, y]), [(2, 1), (2, 2)],
    tf(lambda: lambda x, y: torch.hstack([x, y])), "hstack[2d]")
row("concatenate", lambda x, y: np.hstack([x, y]), [(), ()], id="hstack[0d]")
row("concatenate", lambda x, y: np.vstack([x, y]), [(3,), (2, 3)],
    tf(lambda: lambda x, y: torch.vstack([x, y])), "vstack")
row("concatenate", lambda x, y: np.dstack([x, y]), [(2, 2), (2, 2, 1)],
    tf(lambda: lambda x, y: torch.dstack([x, y])), "dstack")
row("concatenate", lambda x, y: np.dstack([x, y]), [(3,), (3,)], id="dstack[1d]")
row("concatenate", lambda x, y: np.column_stack([x, y]), [(3,), (3, 2)],
    tf(lambda: lambda x, y: torch.column_stack([x, y])), "column_stack")
row("concatenate", lambda x, y: np.append(x, y), [(2, 2), (3,)],
    tf(lambda: lambda x, y: torch.cat([x.reshape(-1), y.reshape(-1)])), "append[flat]")
row("concatenate", lambda x, y: np.append(x, y, axis=-1), [(2, 2), (2, 1)],
    tf(lambda: lambda x, y: torch.cat([x, y], -1)), "append[axis=-1]")
row("concatenate", lambda x, y: np.append(x, y), [(), ()], id="append[0d]")

# --- splitting -----------------------------------------------------------------
row("getitem", lambda x: pieces(np.split(x, 3)), [(6,)],
    tf(lambda: lambda x: tpieces(torch.split(x, 2))), "split[3]")
row("getitem", lambda x: pieces(np.split(x, [1, 3], axis=-1)), [(2, 4)],
    tf(lambda: lambda x: tpieces(torch.tensor_split(x, [1, 3], dim=-1))), "split[indices]")
row("getitem", lambda x: pieces(np.array_split(x, 3)), [(5, 2)],
    tf(lambda: lambda x: tpieces(torch.tensor_split(x, 3))), "array_split")
row("getitem", lambda x: pieces(np.hsplit(x, 2)), [(2, 4)],
    tf(lambda: lambda x: tpieces(torch.hsplit(x, 2))), "hsplit")
row("getitem", lambda x: pieces(np.hsplit(x, 2)), [(4,)], id="hsplit[1d]")
row("getitem", lambda x: pieces(np.vsplit(x, [1])), [(3, 2)],
    tf(lambda: lambda x: tpieces(torch.vsplit(x, [1]))), "vsplit")
row("getitem", lambda x: pieces(np.dsplit(x, 2)), [(1, 2, 4)],
    tf(lambda: lambda x: tpieces(torch.dsplit(x, 2))), "dsplit")

# --- copy, full --------------------------------------------------------------------
row("copy", lambda x: np.copy(x), [(2, 3)], tf(lambda: torch.clone), "copy")
row("copy", lambda x: np.copy(x), [()], id="copy[0d]")
row("copy", lambda x: cr.numpy.full((2, 3), x), [()],
    tf(lambda: lambda x: x.expand(2, 3).clone()), "full[0d fill]")
row("broadcast_to", lambda x: cr.numpy.full((2, 3), x), [(3,)],
    tf(lambda: lambda x: x.expand(2, 3).clone()), "full[broadcast fill]")
row("copy", lambda x: cr.numpy.array(x), [(2,)], id="array[tensor]")
row("concatenate", lambda x, y: cr.numpy.array([x, y]), [(2,), (2,)],
    tf(lambda: lambda x, y: torch.stack([x, y])), "array[list of tensors]")
row("concatenate", lambda x, y: cr.numpy.array([[x, 1.0], [2.0, y]]), [(), ()],
    id="array[nested]")
row("concatenate", lambda x, y: np.array([x, y], like=x), [(2,), (2,)], id="array[like=]",
    wrt=(0,))  # like= must be the Tensor
