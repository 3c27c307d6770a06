"""Rows for ops/index.py: t[idx] (basic, advanced, boolean, repeated indices, Tensors as
indices), scatter_add, t[idx] = v, and the gathers built on them (take, take_along_axis,
put_along_axis, compress, diag, diagonal, tril, triu, sort, partition); the
non-differentiable index functions (argmax ... any, all) return plain arrays."""

import numpy as np

import chainrule as cr
from chainrule.ops import index as I
from harness import Table

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

ROWS = Table()


row = ROWS.row


def tf(make):
    return (lambda *a: make()(*a)) if torch is not None else None


def tidx(a):
    return torch.tensor(np.asarray(a)) if torch is not None else None


# --- t[idx] ----------------------------------------------------------------------
BASIC = [
    ("int", lambda x: x[1], (3, 2)),
    ("negative int", lambda x: x[-1, 0], (3, 2)),
    ("slice", lambda x: x[1:3], (4, 2)),
    ("step slice", lambda x: x[::2, 1:], (4, 3)),
    ("None+Ellipsis", lambda x: x[None, ..., 0], (2, 3)),
    ("Ellipsis", lambda x: x[..., 1], (2, 2, 3)),
    ("0d ()", lambda x: x[()], ()),
    ("0d None", lambda x: x[None], ()),
    ("0d Ellipsis", lambda x: x[...], ()),
]
for _nm, _f, _s in BASIC:
    row("getitem", _f, [_s], tf(lambda _f=_f: _f), f"getitem[{_nm}]")
row("getitem", lambda x: x[::-1], [(3,)], id="getitem[reversed]")

REP = np.array([0, 2, 0, 0])
ADV = [
    ("int array", lambda x, i: x[i], (3, 2), [np.array([2, 0])]),
    ("repeated", lambda x, i: x[i], (3,), [REP]),
    ("2 arrays", lambda x, i, j: x[i, j], (3, 2), [np.array([0, 2, 0]), np.array([1, 0, 1])]),
    ("array after slice", lambda x, i: x[:, i], (2, 3), [np.array([2, 0, 2])]),
    ("array in middle", lambda x, i: x[1:, i, :], (3, 3, 2), [np.array([[0, 1], [2, 2]])]),
    ("mask", lambda x, m: x[m], (2, 3), [np.array([[True, False, True], [False, True, True]])]),
    ("row mask", lambda x, m: x[m], (3, 2), [np.array([True, False, True])]),
    ("mask+slice", lambda x, m: x[:, m], (2, 3), [np.array([False, True, True])]),
]
for _nm, _f, _s, _ix in ADV:
    row("getitem", _f, [_s], _f, f"getitem[{_nm}]",
        args=lambda rng, _s=_s, _ix=_ix: [rng.uniform(-2, 2, _s)] + list(_ix))
row("getitem", lambda x: x[cr.tensor([1, 0, 1])], [(3,)],
    tf(lambda: lambda x: x[torch.tensor([1, 0, 1])]), "getitem[Tensor index]")
row("getitem", lambda x: x[cr.tensor([True, False, True]), cr.tensor(1)], [(3, 2)],
    tf(lambda: lambda x: x[torch.tensor([True, False, True]), 1]), "getitem[Tensor mask+int]")
row("getitem", lambda x: x[[0, 0, 1]], [(2,)], tf(lambda: lambda x: x[[0, 0, 1]]),
    "getitem[list]")
row("getitem", lambda x: x[x > 0], [(2, 3)], id="getitem[value mask]",
    args=lambda rng: [rng.choice([-1.0, 1.0], (2, 3)) * rng.uniform(0.5, 2, (2, 3))])
row("getitem", lambda x: x[1:, [1, 0]], [(2, 2)], dtype=np.complex128, id="getitem[complex]")
row("getitem", lambda x: sum(x[i] * (i + 1) for i in range(3)), [(3, 2)], id="getitem[loop]")

# --- scatter_add (the VJP of getitem, used directly by pad and diag) ---------------
row("scatter_add", lambda g: I.scatter_add(g, shape=(4,), idx=(REP,)), [(4,)],
    tf(lambda: lambda g: torch.zeros(4, dtype=g.dtype).index_put((tidx(REP),), g,
                                                                 accumulate=True)),
    "scatter_add[repeated]")
row("scatter_add", lambda g: I.scatter_add(g, shape=(3, 4), idx=(slice(1, 3), Ellipsis)),
    [(2, 4)], id="scatter_add[basic]")
row("scatter_add", lambda g: I.scatter_add(g, shape=(2, 3), idx=(slice(None), np.array([0, 0]))),
    [(2,)], id="scatter_add[broadcast g]")


# --- t[idx] = v ---------------------------------------------------------------------
def writable(x):
    """A copy of x to assign into: a Tensor, so a Tensor v can be written (into an ndarray it
    could not be: ndarray.__setitem__ would take it out of the graph)."""
    return x.clone() if isinstance(x, cr.Tensor) else cr.tensor(x)


def assign(idx):
    def f(x, v):
        y = writable(x)
        y[idx] = v
        return y

    def t(x, v):
        y = x.clone()
        y[tuple(tidx(i) if isinstance(i, np.ndarray) else i for i in idx)
          if isinstance(idx, tuple) else tidx(idx) if isinstance(idx, np.ndarray) else idx] = v
        return y

    return f, (t if torch is not None else None)


SET = [
    ("row", 1, (3, 2), (2,)),
    ("broadcast v", (slice(None), 0), (3, 2), ()),
    ("int array", np.array([2, 0]), (3, 2), (2, 2)),
    ("2 arrays", (np.array([0, 2]), np.array([1, 1])), (3, 2), (2,)),
    ("mask", np.array([[True, False], [False, False], [True, True]]), (3, 2), (3,)),
    ("mask broadcast", np.array([True, False, True]), (3, 2), (2,)),
    ("leading 1s", 0, (3, 2), (1, 2)),
    ("0d", (), (), ()),
    ("Ellipsis", (Ellipsis, 1), (2, 2, 2), (2, 1)),
]
for _nm, _ix, _xs, _vs in SET:
    _f, _t = assign(_ix)
    row("setitem", _f, [_xs, _vs], _t if _nm != "leading 1s" else None, f"setitem[{_nm}]")
_f, _ = assign((slice(None), 1))
row("setitem", _f, [(2, 2), (2,)], dtype=np.complex128, id="setitem[complex]")


def _double_assign(x, v, w):
    y = writable(x) * 1.0
    y[0] = v
    y[1:] = w * y[0]  # the second write reads the first
    return y


row("setitem", _double_assign, [(3,), (), ()], id="setitem[chained]")

# --- gathers --------------------------------------------------------------------------
row("getitem", lambda x: np.take(x, [0, 2, 0], axis=-1), [(2, 3)],
    tf(lambda: lambda x: torch.index_select(x, -1, torch.tensor([0, 2, 0]))), "take[axis=-1]")
row("getitem", lambda x: np.take(x, [[3, 0], [1, 1]]), [(2, 2)],
    tf(lambda: lambda x: torch.take(x, torch.tensor([[3, 0], [1, 1]]))), "take[flat]")
row("getitem", lambda x: np.take(x, 1, axis=0), [(2, 3)], id="take[scalar index]")
row("getitem", lambda x: np.take(x, [-1, 4], mode="wrap"), [(3,)], id="take[wrap]")
row("getitem", lambda x: np.take(x, [-1, 4], mode="clip"), [(3,)], id="take[clip]")
row("getitem", lambda x: x.take([1, 1]), [(3,)], id="Tensor.take")
_TA = np.array([[2, 0, 0], [1, 1, 2]])
row("getitem", lambda x: np.take_along_axis(x, _TA, axis=1), [(2, 3)],
    tf(lambda: lambda x: torch.take_along_dim(x, tidx(_TA), 1)), "take_along_axis[1]")
row("getitem", lambda x: np.take_along_axis(x, np.array([[1], [0]]), axis=-2), [(2, 3)],
    tf(lambda: lambda x: torch.take_along_dim(x, torch.tensor([[1], [0]]), -2)),
    "take_along_axis[broadcast idx]")
row("getitem", lambda x: np.take_along_axis(x, np.array([3, 0, 3]), axis=None), [(2, 2)],
    id="take_along_axis[None]")


_PA = np.array([[2, 0], [0, 1]])


def _put(x, v):
    y = writable(x)
    np.put_along_axis(y, _PA, v, axis=1)
    return y


def _tput(x, v):
    return x.clone().scatter(1, tidx(_PA), v)


row("setitem", _put, [(2, 3), (2, 2)], tf(lambda: _tput), "put_along_axis")


def _put_flat(x, v):
    y = writable(x)
    np.put_along_axis(y, np.array([3, -4]), v, axis=None)
    return y


row("setitem", _put_flat, [(2, 2), ()], id="put_along_axis[None]")
row("getitem", lambda x: np.compress([True, False, True], x, axis=0), [(3, 2)],
    tf(lambda: lambda x: torch.index_select(x, 0, torch.tensor([0, 2]))), "compress[axis=0]")
row("getitem", lambda x: np.compress([0, 1, 1], x), [(2, 2)], id="compress[flat]")
row("getitem", lambda x: np.compress([False, True], x, axis=-1), [(2, 3)],
    id="compress[short cond]")
for _k in (0, 1, -2):
    row("scatter_add", lambda x, _k=_k: np.diag(x, _k), [(3,)],
        tf(lambda _k=_k: lambda x: torch.diag(x, _k)), f"diag[1d,k={_k}]")
    row("getitem", lambda x, _k=_k: np.diag(x, _k), [(3, 4)],
        tf(lambda _k=_k: lambda x: torch.diag(x, _k)), f"diag[2d,k={_k}]")
row("getitem", lambda x: np.diagonal(x), [(3, 2)], tf(lambda: torch.diagonal), "diagonal")
row("getitem", lambda x: np.diagonal(x, 1, -1, -3), [(3, 2, 4)],
    tf(lambda: lambda x: torch.diagonal(x, 1, -1, -3)), "diagonal[neg axes]")
row("getitem", lambda x: np.diagonal(x, -1, 2, 1), [(2, 3, 3)],
    tf(lambda: lambda x: torch.diagonal(x, -1, 2, 1)), "diagonal[batch]")
row("getitem", lambda x: x.diagonal(), [(2, 2)], id="Tensor.diagonal")
row("getitem", lambda x: np.diagonal(x, 5), [(2, 2)], id="diagonal[empty]")
for _nm in ("tril", "triu"):
    for _k in (0, 1, -1):
        row("where", lambda x, _nm=_nm, _k=_k: getattr(np, _nm)(x, _k), [(3, 4)],
            tf(lambda _nm=_nm, _k=_k: lambda x: getattr(torch, _nm)(x, _k)), f"{_nm}[k={_k}]")
    row("where", lambda x, _nm=_nm: getattr(np, _nm)(x), [(2, 3, 3)],
        tf(lambda _nm=_nm: getattr(torch, _nm)), f"{_nm}[batch]")
    row("where", lambda x, _nm=_nm: getattr(np, _nm)(x), [(3,)], id=f"{_nm}[1d]")

# --- sorting ------------------------------------------------------------------------------
row("getitem", lambda x: np.sort(x), [(2, 4)], tf(lambda: lambda x: torch.sort(x).values),
    "sort[-1]")
row("getitem", lambda x: np.sort(x, axis=0), [(3, 2)],
    tf(lambda: lambda x: torch.sort(x, 0).values), "sort[0]")
row("getitem", lambda x: np.sort(x, axis=None), [(2, 3)],
    tf(lambda: lambda x: torch.sort(x.reshape(-1)).values), "sort[None]")
row("getitem", lambda x: np.sort(x, axis=-2, stable=True), [(3, 2)], id="sort[stable]")
row("getitem", lambda x: np.partition(x, 2), [(5,)], id="partition[2]")
row("getitem", lambda x: np.partition(x, (0, 2), axis=0), [(4, 2)], id="partition[axis 0]")
row("getitem", lambda x: np.partition(x, -1, axis=None), [(2, 3)], id="partition[None]")

# --- non-differentiable ----------------------------------------------------------------
NONDIFF = [
    ("argmax", lambda x: np.argmax(x), [(2, 3)]),
    ("argmax", lambda x: np.argmax(x, axis=-1, keepdims=True), [(2, 3)]),
    ("argmin", lambda x: np.argmin(x, axis=0), [(2, 3)]),
    ("argsort", lambda x: np.argsort(x, axis=-1), [(2, 3)]),
    ("argpartition", lambda x: np.argpartition(x, 1), [(4,)]),
    ("nonzero", lambda x: np.nonzero(x > 0), [(2, 3)]),
    ("nonzero", lambda x: np.nonzero(x), [(3,)]),
    ("flatnonzero", lambda x: np.flatnonzero(x > 0), [(2, 3)]),
    ("argwhere", lambda x: np.argwhere(x), [(2, 2)]),
    ("count_nonzero", lambda x: np.count_nonzero(x > 0, axis=0), [(2, 3)]),
    ("searchsorted", lambda x, v: np.searchsorted(x, v), [(4,), (3,)]),
    ("any", lambda x: np.any(x > 1), [(3,)]),
    ("all", lambda x: np.all(x > -1, axis=0), [(2, 2)]),
    ("isclose", lambda x, y: np.isclose(x, y), [(3,), (3,)]),
    ("allclose", lambda x, y: np.allclose(x, x), [(3,), (3,)]),
    ("array_equal", lambda x, y: np.array_equal(x, y), [(3,), (3,)]),
    ("array_equiv", lambda x: np.array_equiv(x, x), [(3,)]),
    ("argmax", lambda x: x.argmax(), [(3,)]),
    ("iscomplex", lambda x: np.iscomplex(x), [(3,)]),
    ("isreal", lambda x: np.isreal(x), [(3,)]),
    ("iscomplexobj", lambda x: np.iscomplexobj(x), [(3,)]),
    ("isrealobj", lambda x: np.isrealobj(x), [(3,)]),
    ("isneginf", lambda x: np.isneginf(x * np.inf), [(3,)]),
    ("isposinf", lambda x: np.isposinf(x * np.inf), [(3,)]),
    ("result_type", lambda x, y: np.result_type(x, y, np.float32), [(3,), (2,)]),
]
for _p, _f, _s in NONDIFF:
    row(_p, _f, _s, order=0, id=f"{_p}{_s}")
