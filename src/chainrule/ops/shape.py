"""Shape and joining: a handful of linear primitives (their JVP is themselves, ``linear=True``)
and NumPy's shape/joining/splitting functions built from them.

Primitives: reshape, transpose, broadcast_to, flip, concatenate, copy (and getitem /
scatter_add in index.py).  Everything else composes them:

* ravel, squeeze, expand_dims, atleast_*d      -> reshape
* moveaxis, rollaxis, swapaxes, rot90          -> transpose (+ flip)
* tile, repeat with one count                  -> reshape + broadcast_to + reshape
* stack/hstack/vstack/dstack/column_stack/append -> concatenate
* split/array_split/[hvd]split, roll           -> basic slicing (getitem)
* pad: constant -> scatter into zeros; edge/reflect/symmetric/wrap -> index arrays (take)

Results that NumPy returns as views (reshape, transpose, flip, basic slices) share the
input's version counter, so an in-place write through them is seen by the input.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..core import arrays as _arrays
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from ..core import primitive as P
from .util import LazyRules, broadcast_view, defprim, register, value


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(value(x))


def _ndim(x: Any) -> int:
    return len(_shape(x))


def _dummy(shape: tuple) -> np.ndarray:
    """A zero-memory array of ``shape`` for asking NumPy what shape a function returns."""
    return np.broadcast_to(np.int8(0), shape)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _prep(a: Any) -> Any:
    """Tensors and ndarrays pass; lists and numbers become arrays."""
    return a if isinstance(a, P.Tensor) or isinstance(a, _arrays.TYPES) else np.asarray(a)


# ---------------------------------------------------------------------------------
# reshape family


def _reshape_fwd(x: Any, shape: Any = None, order: str = "C") -> Any:
    if order == "C":  # (the default is not passed: Dask's reshape takes no order)
        if _arrays.lazy(x):
            return _lazy_reshape(x, shape)
        return np.reshape(x, shape)
    return np.reshape(x, shape, order=order)


def _lazy_reshape(x: Any, shape: Any) -> Any:
    """Dask reshapes only by even merges and splits of its chunks: otherwise the axes after
    those both shapes share are rechunked into one chunk, merged, and split into the new
    shape (lazy; nothing computed)."""
    try:
        return np.reshape(x, shape)
    except NotImplementedError:
        new = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if -1 in new:
            known = math.prod(n for n in new if n != -1)
            new = tuple(x.size // max(known, 1) if n == -1 else n for n in new)
        k = 0
        while k < min(x.ndim, len(new)) and x.shape[k] == new[k]:
            k += 1
        # two passes, each one Dask has: merge the axes after the shared ones, then split
        y = x.rechunk({i: -1 for i in range(k, x.ndim)})
        y = np.reshape(y, x.shape[:k] + (math.prod(x.shape[k:]),))
        return np.reshape(y, new)


reshape_prim = defprim(
    _reshape_fwd, "reshape", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, x, shape=None, order="C": reshape_prim(g, shape=x.shape, order=order),),
)


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
            copy: Any = None) -> Any:
    if shape is None:
        shape = newshape
    if _is_int(shape):
        shape = (int(shape),)
    if order not in ("C", "F"):
        raise NotImplementedError(f"reshape(order={order!r}) on Tensors: use 'C' or 'F'")
    out = reshape_prim(_prep(a), shape=tuple(int(s) for s in shape), order=order)
    return copy_prim(out) if copy else out


register("reshape", reshape)


def ravel(a: Any, order: str = "C") -> Any:
    if order not in ("C", "F"):
        raise NotImplementedError(f"ravel(order={order!r}) on Tensors: use 'C' or 'F'")
    return reshape_prim(_prep(a), shape=(-1,), order=order)


register("ravel", ravel, method=True)


def expand_dims(a: Any, axis: Any) -> Any:
    a = _prep(a)
    return reshape_prim(a, shape=np.expand_dims(_dummy(_shape(a)), axis).shape)


def squeeze(a: Any, axis: Any = None) -> Any:
    a = _prep(a)
    return reshape_prim(a, shape=np.squeeze(_dummy(_shape(a)), axis).shape)


register("expand_dims", expand_dims)
register("squeeze", squeeze)


def _atleast(nd: int, arys: tuple) -> Any:
    out = []
    for a in arys:
        a = _prep(a)
        s = _shape(a)
        if len(s) < nd:
            if nd == 3 and len(s) == 2:
                s = s + (1,)
            elif nd == 3 and len(s) == 1:
                s = (1,) + s + (1,)
            else:
                s = (1,) * (nd - len(s)) + s
            a = reshape_prim(a, shape=s)
        out.append(a)
    return out[0] if len(out) == 1 else tuple(out)


register("atleast_1d", lambda *arys: _atleast(1, arys))
register("atleast_2d", lambda *arys: _atleast(2, arys))
register("atleast_3d", lambda *arys: _atleast(3, arys))


# ---------------------------------------------------------------------------------
# axis permutations


def _transpose_fwd(x: Any, axes: Any = None) -> Any:
    return np.transpose(x, axes)


def _inv_axes(axes: Any, ndim: int) -> Any:
    if axes is None:
        return None
    axes = [a % ndim for a in axes]
    return tuple(np.argsort(axes))


transpose_prim = defprim(
    _transpose_fwd, "transpose", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, x, axes=None: transpose_prim(g, axes=_inv_axes(axes, len(x.shape))),),
)


def transpose(a: Any, axes: Any = None) -> Any:
    return transpose_prim(_prep(a), axes=None if axes is None else tuple(int(i) for i in axes))


register(["transpose", "permute_dims"], transpose)


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    a = _prep(a)
    nd = _ndim(a)
    src = normalize_axis_tuple(source, nd, "source")
    dst = normalize_axis_tuple(destination, nd, "destination")
    if len(src) != len(dst):
        raise ValueError("moveaxis: `source` and `destination` arguments must have the same "
                         "number of elements")
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose_prim(a, axes=tuple(order))


register("moveaxis", moveaxis)


def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    a = _prep(a)
    n = _ndim(a)
    axis = normalize_axis_index(axis, n)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(
            f"'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in")
    if axis < start:
        start -= 1
    axes = list(range(n))
    axes.remove(axis)
    axes.insert(start, axis)
    return transpose_prim(a, axes=tuple(axes))


register("rollaxis", rollaxis)


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    a = _prep(a)
    nd = _ndim(a)
    i, j = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    order = list(range(nd))
    order[i], order[j] = order[j], order[i]
    return transpose_prim(a, axes=tuple(order))


register("swapaxes", swapaxes, method=True)


# ---------------------------------------------------------------------------------
# broadcasting, tiling, repeating


def _broadcast_to_fwd(x: Any, shape: Any = None) -> Any:
    return broadcast_view(x, shape) if shape.__class__ is tuple else np.broadcast_to(x, shape)


def _bt_vjp(g: Any, ans: Any, x: Any, shape: Any = None) -> Any:
    from .util import unbroadcast

    return unbroadcast(x, g)


broadcast_to_prim = defprim(_broadcast_to_fwd, "broadcast_to", saves=(), saves_ans=False,
                            linear=True, vjp=(_bt_vjp,))


def broadcast_to(array: Any, shape: Any, subok: bool = False) -> Any:
    if _is_int(shape):
        shape = (int(shape),)
    shape = tuple(int(s) for s in shape)
    array = _prep(array)
    if _shape(array) == shape:
        return array
    return broadcast_to_prim(array, shape=shape)


register("broadcast_to", broadcast_to)


def broadcast_arrays(*args: Any, subok: bool = False) -> tuple:
    shape = np.broadcast_shapes(*[_shape(a) for a in args])
    return tuple(broadcast_to(a, shape) for a in args)


register("broadcast_arrays", broadcast_arrays)


def tile(A: Any, reps: Any) -> Any:
    A = _prep(A)
    reps = (int(reps),) if _is_int(reps) else tuple(int(r) for r in reps)
    s = _shape(A)
    d = builtins.max(len(reps), len(s))
    s = (1,) * (d - len(s)) + s
    reps = (1,) * (d - len(reps)) + reps
    if all(r == 1 for r in reps):
        return copy_prim(reshape_prim(A, shape=s))
    # (1, s0, 1, s1, ...) broadcast to (r0, s0, r1, s1, ...), then merge the pairs
    inter = tuple(x for n in s for x in (1, n))
    big = tuple(x for r, n in zip(reps, s, strict=True) for x in (r, n))
    t = broadcast_to_prim(reshape_prim(A, shape=inter), shape=big)
    return reshape_prim(t, shape=tuple(r * n for r, n in zip(reps, s, strict=True)))


register("tile", tile)


def repeat(a: Any, repeats: Any, axis: Any = None) -> Any:
    from .index import getitem

    a = _prep(a)
    if axis is None:
        a = reshape_prim(a, shape=(-1,))
        axis = 0
    s = _shape(a)
    ax = normalize_axis_index(axis, len(s))
    r = _arrays.asarray(value(repeats))
    if r.dtype.kind not in "iu":
        r = r.astype(np.intp, casting="safe")  # same error as NumPy for floats
    if r.size == 1:
        k = int(r.reshape(()))
        if k < 0:
            raise ValueError("repeat: negative dimensions are not allowed")
        t = reshape_prim(a, shape=s[:ax + 1] + (1,) + s[ax + 1:])
        t = broadcast_to_prim(t, shape=s[:ax + 1] + (k,) + s[ax + 1:])
        return reshape_prim(t, shape=s[:ax] + (s[ax] * k,) + s[ax + 1:])
    idx = np.repeat(np.arange(s[ax]), r)  # NumPy checks the counts
    return getitem(a, idx=(slice(None),) * ax + (idx,))


register("repeat", repeat)


# ---------------------------------------------------------------------------------
# flips, rotations, rolls


def _flip_fwd(x: Any, axis: Any = None) -> Any:
    return np.flip(x, axis)


flip_prim = defprim(_flip_fwd, "flip", saves=(), saves_ans=False, linear=True,
                    vjp=(lambda g, ans, x, axis=None: flip_prim(g, axis=axis),))


def flip(m: Any, axis: Any = None) -> Any:
    m = _prep(m)
    if axis is not None:
        axis = normalize_axis_tuple(axis, _ndim(m))
    return flip_prim(m, axis=axis)


register("flip", flip)


def flipud(m: Any) -> Any:
    m = _prep(m)
    if _ndim(m) < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip_prim(m, axis=(0,))


def fliplr(m: Any) -> Any:
    m = _prep(m)
    if _ndim(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip_prim(m, axis=(1,))


register("flipud", flipud)
register("fliplr", fliplr)


def rot90(m: Any, k: int = 1, axes: Any = (0, 1)) -> Any:
    m = _prep(m)
    nd = _ndim(m)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    if axes[0] == axes[1] or builtins.abs(axes[0] - axes[1]) == nd:
        raise ValueError("Axes must be different.")
    a0, a1 = normalize_axis_index(axes[0], nd), normalize_axis_index(axes[1], nd)
    k %= 4
    if k == 0:
        return getitem_view(m)
    if k == 2:
        return flip_prim(m, axis=(a0, a1))
    order = list(range(nd))
    order[a0], order[a1] = order[a1], order[a0]
    if k == 1:
        return transpose_prim(flip_prim(m, axis=(a1,)), axes=tuple(order))
    return flip_prim(transpose_prim(m, axes=tuple(order)), axis=(a1,))


def getitem_view(m: Any) -> Any:
    from .index import getitem

    return getitem(m, idx=Ellipsis)


register("rot90", rot90)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    from .index import getitem

    a = _prep(a)
    if axis is None:
        s = _shape(a)
        return reshape_prim(roll(reshape_prim(a, shape=(-1,)), shift, 0), shape=s)
    nd = _ndim(a)
    axes = normalize_axis_tuple(axis, nd, allow_duplicate=True)
    b = np.broadcast(_arrays.asarray(value(shift)), _arrays.asarray(axes))
    if b.ndim > 1:
        raise ValueError("'shift' and 'axis' should be scalars or 1D sequences")
    total = [0] * nd
    for sh, ax in b:
        total[int(ax)] += int(sh)
    out = a
    for ax, sh in enumerate(total):
        n = _shape(a)[ax]
        if n == 0 or sh % n == 0:
            continue
        sh %= n
        pre = (slice(None),) * ax
        out = concatenate_prim(getitem(out, idx=pre + (slice(n - sh, None),)),
                               getitem(out, idx=pre + (slice(None, n - sh),)), axis=ax)
    return copy_prim(out) if out is a else out


register("roll", roll)


# ---------------------------------------------------------------------------------
# joining


def _concat_fwd(*xs: Any, axis: int = 0) -> Any:
    return np.concatenate(xs, axis=axis)


def _concat_vjp(i: int) -> Any:
    def rule(g: Any, ans: Any, *xs: Any, axis: int = 0) -> Any:
        from .index import getitem

        if axis is None:
            start = int(np.sum([x.size for x in xs[:i]]))
            piece = getitem(g, idx=(slice(start, start + xs[i].size),))
            return reshape_prim(piece, shape=xs[i].shape)
        ax = axis % len(ans.shape)
        start = int(np.sum([x.shape[ax] for x in xs[:i]], dtype=int))
        idx = (slice(None),) * ax + (slice(start, start + xs[i].shape[ax]),)
        return getitem(g, idx=idx)

    return rule




concatenate_prim = defprim(_concat_fwd, "concatenate", saves=(), saves_ans=False, linear=True)
concatenate_prim.vjps = LazyRules(_concat_vjp)


def _promote(xs: Any) -> list:
    if isinstance(xs, P.Tensor) or isinstance(xs, _arrays.TYPES):
        return list(xs)  # NumPy iterates over the first axis
    return [_prep(x) for x in xs]


def concatenate(arrays: Any, axis: Any = 0, out: Any = None, dtype: Any = None,
                casting: str = "same_kind") -> Any:
    if out is not None:
        raise NotImplementedError(
            "concatenate(out=...) on Tensors: writing into a preallocated array would leave the "
            "graph. Use the return value.")
    xs = _promote(arrays)
    if dtype is not None:
        from .elementwise import astype

        xs = [astype(x, dtype=np.dtype(dtype)) for x in xs]
    return concatenate_prim(*xs, axis=axis)


register(["concatenate", "concat"], concatenate)


def stack(arrays: Any, axis: int = 0, out: Any = None, dtype: Any = None,
          casting: str = "same_kind") -> Any:
    xs = _promote(arrays)
    if not xs:
        raise ValueError("need at least one array to stack")
    shapes = {_shape(x) for x in xs}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    nd = len(_shape(xs[0])) + 1
    ax = normalize_axis_index(axis, nd)
    return concatenate([expand_dims(x, ax) for x in xs], axis=ax, out=out, dtype=dtype)


register("stack", stack)


def hstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    xs = [_atleast(1, (x,)) for x in _promote(tup)]
    ax = 0 if xs and _ndim(xs[0]) == 1 else 1
    return concatenate(xs, axis=ax, dtype=dtype)


def vstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    return concatenate([_atleast(2, (x,)) for x in _promote(tup)], axis=0, dtype=dtype)


def dstack(tup: Any) -> Any:
    return concatenate([_atleast(3, (x,)) for x in _promote(tup)], axis=2)


def column_stack(tup: Any) -> Any:
    xs = []
    for x in _promote(tup):
        if _ndim(x) < 2:
            x = reshape_prim(x, shape=(-1, 1))
        xs.append(x)
    return concatenate(xs, axis=1)


def append(arr: Any, values: Any, axis: Any = None) -> Any:
    arr, values = _prep(arr), _prep(values)
    if axis is None:
        arr = reshape_prim(arr, shape=(-1,)) if _ndim(arr) != 1 else arr
        values = reshape_prim(values, shape=(-1,))
        axis = _ndim(arr) - 1
    return concatenate_prim(arr, values, axis=axis)


register("hstack", hstack)
register("vstack", vstack)
register("dstack", dstack)
register("column_stack", column_stack)
register("append", append)


# ---------------------------------------------------------------------------------
# splitting: basic slices, so the pieces are views (like NumPy's)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    from .index import getitem

    ary = _prep(ary)
    nd = _ndim(ary)
    ax = normalize_axis_index(axis, nd)
    total = _shape(ary)[ax]
    ios = value(indices_or_sections)
    if np.ndim(ios) == 0:
        sections = int(ios)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        each, extra = divmod(total, sections)
        sizes = [0] + extra * [each + 1] + (sections - extra) * [each]
        points = np.cumsum(sizes).tolist()
    else:
        points = [0] + [int(i) for i in ios] + [total]
    pre = (slice(None),) * ax
    return [getitem(ary, idx=pre + (slice(points[i], points[i + 1]),))
            for i in range(len(points) - 1)]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    ios = value(indices_or_sections)
    if np.ndim(ios) == 0:
        n = _shape(ary)[normalize_axis_index(axis, _ndim(ary))]
        if n % int(ios):
            raise ValueError("array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary: Any, indices_or_sections: Any) -> list:
    if _ndim(ary) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if _ndim(ary) > 1 else 0)


def vsplit(ary: Any, indices_or_sections: Any) -> list:
    if _ndim(ary) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def dsplit(ary: Any, indices_or_sections: Any) -> list:
    if _ndim(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


register("array_split", array_split)
register("split", split)
register("hsplit", hsplit)
register("vsplit", vsplit)
register("dsplit", dsplit)


# ---------------------------------------------------------------------------------
# pad


def _as_pairs(x: Any, nd: int, what: str) -> list:
    """NumPy's broadcasting of pad_width / constant_values to one (before, after) per axis."""
    a = _arrays.asarray(x)
    if a.size == 1:
        return [(a.reshape(()).item(),) * 2] * nd
    if a.size == 2 and a.shape != (2, 1):
        f = a.ravel()
        return [(f[0].item(), f[1].item())] * nd
    try:
        b = np.broadcast_to(a, (nd, 2))
    except ValueError:
        raise ValueError(f"pad: {what} of shape {a.shape} cannot be broadcast to ({nd}, 2)") \
            from None
    return [(b[i, 0].item(), b[i, 1].item()) for i in range(nd)]


_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(array: Any, pad_width: Any, mode: Any = "constant", **kwargs: Any) -> Any:
    from . import elementwise as E
    from .index import getitem, scatter_add

    a = _prep(array)
    s = _shape(a)
    nd = len(s)
    pw = [(int(b), int(e)) for b, e in _as_pairs(value(pad_width), nd, "pad_width")]
    if any(b < 0 or e < 0 for b, e in pw):
        raise ValueError("index can't contain negative values")
    if mode in ("constant", "empty"):
        cv = kwargs.pop("constant_values", 0) if mode == "constant" else 0
        if kwargs:
            raise TypeError(f"pad: unsupported keyword arguments for mode {mode!r}: "
                            f"{sorted(kwargs)}")
        out_shape = tuple(n + b + e for n, (b, e) in zip(s, pw, strict=True))
        idx = tuple(slice(b, b + n) for n, (b, _) in zip(s, pw, strict=True))
        out = scatter_add(a, shape=out_shape, idx=idx)
        if isinstance(cv, P.Tensor):
            if cv.ndim != 0:
                raise NotImplementedError(
                    "pad: a Tensor constant_values must be a single value (0-d); pass per-axis "
                    "constants as plain numbers")
            ring = np.pad(np.zeros(s, dtype=out.dtype), pw, constant_values=1)
            res = out + cv * ring
            return res if res.dtype == out.dtype else E.astype(res, dtype=out.dtype)
        pairs = _as_pairs(cv, nd, "constant_values")
        if any(v != 0 for pr in pairs for v in pr):
            const = np.pad(np.zeros(s, dtype=out.dtype), pw, constant_values=pairs)
            out = E.add(out, const)
        return out
    if mode in _INDEX_MODES:
        if kwargs.get("reflect_type", "even") != "even":
            raise NotImplementedError(
                "pad(reflect_type='odd') is not supported on Tensors; use the default 'even'")
        kwargs.pop("reflect_type", None)
        if kwargs:
            raise TypeError(f"pad: unsupported keyword arguments for mode {mode!r}: "
                            f"{sorted(kwargs)}")
        out = a
        for ax, (b, e) in enumerate(pw):
            if b == 0 and e == 0:
                continue
            if s[ax] == 0:
                raise ValueError(f"can't extend empty axis {ax} using modes other than "
                                 f"'constant' or 'empty'")
            # where each output position reads from: np.pad of the positions themselves
            src = np.pad(np.arange(s[ax]), (b, e), mode=mode)
            out = getitem(out, idx=(slice(None),) * ax + (src,))
        return copy_prim(out) if out is a else out
    raise NotImplementedError(
        f"pad(mode={mode!r}) is not supported on Tensors (supported: 'constant', 'empty', "
        f"'edge', 'reflect', 'symmetric', 'wrap'); compose it from those, or register a rule "
        f"with cr.primitive / cr.defvjp")


register("pad", pad)


# ---------------------------------------------------------------------------------
# copy, shape queries


def _copy_fwd(x: Any) -> Any:
    return _arrays.copy(x)


copy_prim = defprim(_copy_fwd, "copy", saves=(), saves_ans=False, linear=True,
                    vjp=(lambda g, ans, x: g,))


def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    return copy_prim(_prep(a))


register("copy", copy)

# shape, ndim and size are facts about a value, not functions of it: plain Python numbers
register("shape", lambda a: _shape(a))
register("ndim", lambda a: _ndim(a))
register("size", lambda a, axis=None: int(np.prod(_shape(a))) if axis is None
         else _shape(a)[axis])
