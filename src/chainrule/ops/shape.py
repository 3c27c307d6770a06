"""Shape primitives: all linear, so their JVP is themselves (``linear=True``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..numpy.registry import register
from .util import defprim, value


def _reshape_fwd(x: Any, shape: Any = None, order: str = "C") -> Any:
    return np.reshape(x, shape, order=order)


reshape_prim = defprim(
    _reshape_fwd, "reshape", saves=(), saves_ans=False, linear=True, view=True,
    vjp=(lambda g, ans, x, shape=None, order="C": reshape_prim(g, shape=x.shape, order=order),),
)


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
            copy: Any = None) -> Any:
    if shape is None:
        shape = newshape
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    return reshape_prim(a, shape=tuple(shape), order=order)


register("reshape", reshape)


def ravel(a: Any, order: str = "C") -> Any:
    return reshape_prim(a, shape=(-1,), order=order)


register("ravel", ravel)


def _transpose_fwd(x: Any, axes: Any = None) -> Any:
    return np.transpose(x, axes)


def _inv_axes(axes: Any, ndim: int) -> Any:
    if axes is None:
        return None
    axes = [a % ndim for a in axes]
    return tuple(np.argsort(axes))


transpose_prim = defprim(
    _transpose_fwd, "transpose", saves=(), saves_ans=False, linear=True, view=True,
    vjp=(lambda g, ans, x, axes=None: transpose_prim(g, axes=_inv_axes(axes, len(x.shape))),),
)


def transpose(a: Any, axes: Any = None) -> Any:
    return transpose_prim(a, axes=None if axes is None else tuple(axes))


register(["transpose", "permute_dims"], transpose)


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    nd = np.ndim(value(a))
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    src = [s % nd for s in src]
    dst = [d % nd for d in dst]
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose_prim(a, axes=tuple(order))


register("moveaxis", moveaxis)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    nd = np.ndim(value(a))
    order = list(range(nd))
    i, j = axis1 % nd, axis2 % nd
    order[i], order[j] = order[j], order[i]
    return transpose_prim(a, axes=tuple(order))


register("swapaxes", swapaxes)


def _broadcast_to_fwd(x: Any, shape: Any = None) -> Any:
    return np.broadcast_to(x, shape)


def _bt_vjp(g: Any, ans: Any, x: Any, shape: Any = None) -> Any:
    from .util import unbroadcast  # noqa: PLC0415

    return unbroadcast(x, g)


broadcast_to_prim = defprim(_broadcast_to_fwd, "broadcast_to", saves=(), saves_ans=False,
                            linear=True, vjp=(_bt_vjp,))


def broadcast_to(array: Any, shape: Any, subok: bool = False) -> Any:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(shape)
    if np.shape(value(array)) == shape:
        return array
    return broadcast_to_prim(array, shape=shape)


register("broadcast_to", broadcast_to)


def expand_dims(a: Any, axis: Any) -> Any:
    v = np.expand_dims(np.empty(np.shape(value(a)), dtype=np.int8), axis)
    return reshape_prim(a, shape=v.shape)


def squeeze(a: Any, axis: Any = None) -> Any:
    v = np.squeeze(np.empty(np.shape(value(a)), dtype=np.int8), axis)
    return reshape_prim(a, shape=v.shape)


register("expand_dims", expand_dims)
register("squeeze", squeeze)


def _flip_fwd(x: Any, axis: Any = None) -> Any:
    return np.flip(x, axis)


flip_prim = defprim(_flip_fwd, "flip", saves=(), saves_ans=False, linear=True, view=True,
                    vjp=(lambda g, ans, x, axis=None: flip_prim(g, axis=axis),))


def flip(m: Any, axis: Any = None) -> Any:
    return flip_prim(m, axis=axis if not isinstance(axis, list) else tuple(axis))


register("flip", flip)


def _concat_fwd(*xs: Any, axis: int = 0) -> Any:
    return np.concatenate(xs, axis=axis)


def _concat_vjp(i: int) -> Any:
    def rule(g: Any, ans: Any, *xs: Any, axis: int = 0) -> Any:
        from .index import getitem  # noqa: PLC0415

        if axis is None:
            start = int(np.sum([x.size for x in xs[:i]]))
            piece = getitem(g, idx=(slice(start, start + xs[i].size),))
            return reshape_prim(piece, shape=xs[i].shape)
        ax = axis % len(ans.shape)
        start = int(np.sum([x.shape[ax] for x in xs[:i]], dtype=int))
        idx = (slice(None),) * ax + (slice(start, start + xs[i].shape[ax]),)
        return getitem(g, idx=idx)

    return rule


class _Rules(dict):
    """vjps for variadic primitives: rule i is made on first use."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def get(self, i: int, default: Any = None) -> Any:  # type: ignore[override]
        if i not in self:
            self[i] = self.make(i)
        return self[i]


concatenate_prim = defprim(_concat_fwd, "concatenate", saves=(), saves_ans=False, linear=True)
concatenate_prim.vjps = _Rules(_concat_vjp)


def _promote(xs: Any) -> list:
    return [x if hasattr(x, "shape") else np.asarray(x) for x in xs]


def concatenate(arrays: Any, axis: Any = 0, out: Any = None, dtype: Any = None,
                casting: str = "same_kind") -> Any:
    if out is not None:
        raise NotImplementedError("concatenate(out=...) is not supported on Tensors")
    xs = _promote(arrays)
    if dtype is not None:
        from .elementwise import astype  # noqa: PLC0415

        xs = [astype(x, dtype=dtype) for x in xs]
    return concatenate_prim(*xs, axis=axis)


register(["concatenate", "concat"], concatenate)


def stack(arrays: Any, axis: int = 0, out: Any = None, dtype: Any = None,
          casting: str = "same_kind") -> Any:
    xs = _promote(arrays)
    if not xs:
        raise ValueError("need at least one array to stack")
    nd = len(np.shape(value(xs[0]))) + 1
    ax = axis % nd
    return concatenate([expand_dims(x, ax) for x in xs], axis=ax, out=out, dtype=dtype)


register("stack", stack)


def _copy_fwd(x: Any) -> Any:
    return np.array(x, copy=True)


copy_prim = defprim(_copy_fwd, "copy", saves=(), saves_ans=False, linear=True,
                    vjp=(lambda g, ans, x: g,))


def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    return copy_prim(a)


register("copy", copy)
