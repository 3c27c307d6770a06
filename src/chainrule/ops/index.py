"""Indexing: t[idx], t[idx] = v, and the gathers built on them.

Three primitives:

* ``getitem(x, idx=...)``: NumPy indexing, basic or advanced.  Its VJP scatters the
  cotangent back (``scatter_add``), accumulating over repeated indices.
* ``scatter_add(g, shape=..., idx=...)``: zeros of ``shape`` with ``g`` added at ``idx``.
* ``setitem(x, v, idx=...)``: a copy of ``x`` with ``v`` written at ``idx`` (the functional
  form behind ``Tensor.__setitem__``).

take, take_along_axis, put_along_axis, compress, diag, diagonal, sort and partition are
gathers/scatters with index arrays computed by NumPy on plain values; tril/triu are a
``where`` with a constant mask.  argmax, argsort, nonzero ... return plain integer arrays
(``nondiff``): indices are constants, they carry no gradient.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import arrays as _arrays
from numpy.lib.array_utils import normalize_axis_index

from ..core import primitive as P
from ..core.errors import GradientError, LeftGraphError, user_line
from ..core.registry import NAMES
from . import elementwise as E
from . import shape as S
from .util import (defprim, empty_for, lift, register, registered, registered_in,
                   unbroadcast, value, zeros_for)


def raw_index(idx: Any) -> Any:
    """An index with Tensors replaced by their values and index arrays copied.

    The copy matters: the index is kept for the backward pass, and a caller that
    reuses (mutates) its index array afterwards must not change a recorded gradient.
    """
    T = P.Tensor
    if isinstance(idx, T):
        return idx._value.copy()
    if isinstance(idx, _arrays.TYPES):
        return idx.copy()
    if isinstance(idx, tuple):
        return tuple(
            i._value.copy() if isinstance(i, T) else i.copy() if isinstance(i, _arrays.TYPES)
            else _raw_list(i) if isinstance(i, list) else i
            for i in idx
        )
    if isinstance(idx, list):
        return _raw_list(idx)
    return idx


def _raw_list(lst: list) -> Any:
    if any(isinstance(i, (P.Tensor, list)) for i in lst):
        return [_raw_list(i) if isinstance(i, list) else value(i) for i in lst]
    return lst


def _is_basic(idx: Any) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in items
    )


# ---------------------------------------------------------------------------------
# the primitives


def _lazy_index(idx: Any) -> Any:
    """The lazy (Dask) array among the parts of an index, or None."""
    for i in (idx if isinstance(idx, tuple) else (idx,)):
        if i.__class__ is not np.ndarray and _arrays.lazy(i):
            return i
    return None


def _lazy_getitem(x: Any, idx: Any, lz: Any) -> Any:
    """``x[idx]`` with a lazy index: ``x`` in the index's library (NumPy would compute the
    index to read it), an n-d integer array index as a flat one reshaped (Dask indexes
    with 1-d integer arrays only)."""
    if not _arrays.lazy(x):
        x = _arrays.on_backend_of(x, lz)
    if idx is lz and lz.ndim > 1 and lz.dtype.kind in "iu":
        return x[lz.reshape(-1)].reshape(lz.shape + x.shape[1:])
    return x[idx]


def _getitem_fwd(x: Any, idx: Any = None) -> Any:
    if _arrays.GUARDED[0]:
        lz = _lazy_index(idx)
        if lz is not None:
            return _lazy_getitem(x, idx, lz)
    try:
        r = x[idx]
    except LeftGraphError:
        # a plain array indexed by a registered (traced) one converts the index: index
        # the plain array lifted to the index's type instead
        t = registered_in(idx)
        if t is None or registered(x):
            raise
        r = lift(x, t)[idx]
    if isinstance(r, np.ndarray) and not r.flags.owndata and not _is_basic(idx):
        # advanced indexing can hand back a transposed buffer of its own (not a view of
        # x); it must not share x's version counter, so give it storage of its own
        r = r.copy()
    return r


def _getitem_vjp(g: Any, ans: Any, x: Any, idx: Any = None) -> Any:
    return scatter_add(g, shape=x.shape, idx=idx)


getitem = defprim(_getitem_fwd, "getitem", saves=(), saves_ans=False, linear=True,
                  vjp=(_getitem_vjp,))


_FULL = slice(None)


def _one_range(idx: Any, shape: tuple) -> tuple | None:
    """(axis, start, stop) when ``idx`` picks one step-1 range (or one index) along one axis
    and everything along the others (x[a:b], x[:, i], x[..., :k]); else None."""
    items = idx if isinstance(idx, tuple) else (idx,)
    if Ellipsis in items:
        if sum(1 for i in items if i is Ellipsis) != 1:
            return None
        e = items.index(Ellipsis)
        items = items[:e] + (_FULL,) * (len(shape) - len(items) + 1) + items[e + 1:]
    if len(items) > len(shape):
        return None
    found = None
    for ax, it in enumerate(items):
        if isinstance(it, slice) and it == _FULL:
            continue
        if found is not None:
            return None
        n = shape[ax]
        if isinstance(it, slice):
            if it.step not in (None, 1):
                return None
            start, stop, _ = it.indices(n)
            stop = max(start, stop)
        elif isinstance(it, (int, np.integer)) and not isinstance(it, bool) and -n <= it < n:
            start = int(it) % n
            stop = start + 1
        else:
            return None
        found = (ax, start, stop)
    return found


def _scatter_add_fwd(g: Any, shape: Any = None, idx: Any = None) -> Any:
    basic = _is_basic(idx)
    if basic:
        rng = _one_range(idx, tuple(shape))
        if rng is not None:
            # one pass: write g into its range and zeros only around it
            ax, start, stop = rng
            out = empty_for(shape, np.result_type(g), g)
            lead = (_FULL,) * ax
            out[idx] = g
            out[lead + (slice(0, start),)] = 0
            out[lead + (slice(stop, None),)] = 0
            return out
    if basic:
        out = zeros_for(shape, np.result_type(g), g)
        out[idx] = g
    elif _arrays.GUARDED[0] and (_arrays.lazy(g) or _lazy_index(idx) is not None):
        return _scatter_add_lazy(g, tuple(shape), idx)
    else:
        # a traced index (NumPy would convert one inside a tuple): traced zeros take the sum
        t = registered_in(idx)
        out = zeros_for(shape, np.result_type(g), g, t)
        # np.add.at crashes the interpreter (NumPy 2.4) on values of more dimensions than
        # the indexed result: check that g broadcasts to it first
        zero = out.dtype.type(0) if t is None else lift(out.dtype.type(0), t)
        target = np.broadcast_to(zero, out.shape)[idx].shape
        if np.broadcast_shapes(np.shape(g), target) != target:
            raise ValueError(f"values of shape {np.shape(g)} do not fit the indexed result's "
                             f"shape {target}")
        np.add.at(out, idx, g)  # repeated indices accumulate
    return out


def _scatter_add_lazy(g: Any, shape: tuple, idx: Any) -> Any:
    """``np.add.at`` on lazy (Dask) arrays, which Dask lacks: the flat position of every
    indexed element, and the values summed into their positions by the library's
    ``bincount``, all lazy.  A concrete index gives its positions from the index alone
    (NumPy, no data); a lazy one may be one integer array on the first axis (an embedding's
    gradient), whose positions are ``i * row + j``.  (Real and imaginary parts apart:
    bincount weighs with reals.)"""
    import importlib
    lz = _lazy_index(idx)
    like = lz if lz is not None else g
    lib = importlib.import_module(type(like).__module__.split(".")[0] + ".array")
    n = math.prod(shape)
    if lz is None:
        pos = np.arange(n).reshape(shape)[idx]
    else:
        items = idx if isinstance(idx, tuple) else (idx,)
        if items[0] is not lz or lz.dtype.kind not in "iu" or any(
                not (isinstance(i, slice) and i == slice(None)) for i in items[1:]):
            from ..core.errors import BackendError, shapes_of, user_line
            raise BackendError(
                f"scatter_add (np.add.at, the gradient of indexing) is not available on dask "
                f"arrays with a lazy index other than one integer array on the first axis "
                f"(argument shapes: {shapes_of((g,))})\n  at {user_line()}\n  Nothing was "
                f"converted to NumPy. Compute the index first (idx.compute()): an index is "
                f"usually small.")
        row = math.prod(shape[1:])
        i = lz.reshape(-1, 1)
        i = lib.where(i < 0, i + shape[0], i)
        pos = (i * row + np.arange(row)).reshape(lz.shape + tuple(shape[1:]))
    gl = g if _arrays.lazy(g) else _arrays.on_backend_of(np.asarray(g), like)
    gb = np.broadcast_to(gl, pos.shape) if tuple(np.shape(gl)) != tuple(pos.shape) else gl
    w = gb.reshape(-1)
    where = (lib.from_array(pos.reshape(-1)) if lz is None else pos.reshape(-1)).rechunk(
        w.chunks)
    dt = np.result_type(g)

    def part(v: Any) -> Any:
        return lib.bincount(where, weights=v, minlength=n)

    flat = part(np.real(w)) + 1j * part(np.imag(w)) if dt.kind == "c" else part(w)
    return flat.astype(dt).reshape(shape)


scatter_add = defprim(
    _scatter_add_fwd, "scatter_add", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, x, shape=None, idx=None: unbroadcast(x, getitem(g, idx=idx)),),
)


def _setitem_fwd(x: Any, v: Any, idx: Any = None) -> Any:
    t = None if registered(x) else registered_in((v, idx))
    # a traced value or index written into a plain x: a traced copy of x takes the write
    out = _arrays.copy(x) if t is None else lift(x, t, copy=True)
    out[idx] = v
    return out


def _setitem_vjp_x(g: Any, ans: Any, x: Any, v: Any, idx: Any = None) -> Any:
    keep = np.ones(x.shape, dtype=bool)
    t = registered_in(idx)
    if t is not None:  # a traced index: a traced mask
        keep = lift(keep, t, copy=True)
    keep[idx] = False
    return E.where_prim(keep, g, np.zeros((), dtype=g.dtype))


def _setitem_vjp_v(g: Any, ans: Any, x: Any, v: Any, idx: Any = None) -> Any:
    if not _is_basic(idx):
        # only one of several writes to the same element survives, and NumPy does not
        # promise which: the gradient of v would be a guess, so refuse
        hits = zeros_for(x.shape, np.int64, registered_in(idx))  # (a traced index: traced)
        np.add.at(hits, idx, 1)
        if hits.max(initial=0) > 1:
            raise GradientError(
                f"setitem: t[idx] = v with an index that names the same element of t (shape "
                f"{tuple(x.shape)}) more than once; which write survives is unspecified, so "
                f"the gradient with respect to v is undefined.\n  Use unique indices "
                f"(np.unique(i, return_index=True) keeps one write per element)."
            )
    piece = getitem(g, idx=idx)
    vs = tuple(getattr(v, "shape", ()))
    extra = len(vs) - len(piece.shape)
    if extra > 0:  # NumPy lets v carry extra leading 1s
        piece = S.reshape_prim(piece, shape=(1,) * extra + tuple(piece.shape))
    return unbroadcast(v, piece)


setitem = defprim(_setitem_fwd, "setitem", saves=(), saves_ans=False, linear=True,
                  vjp=(_setitem_vjp_x, _setitem_vjp_v))


# ---------------------------------------------------------------------------------
# gathers


def _axis_index(ax: int, i: Any) -> tuple:
    return (slice(None),) * ax + (i,)


def _int_array(indices: Any, who: str) -> np.ndarray:
    ind = _arrays.asarray(value(indices))
    if ind.dtype.kind not in "iu":
        if ind.size == 0:
            return ind.astype(np.intp)
        raise IndexError(f"{who}: indices must be integers, got dtype {ind.dtype}")
    return ind


def take(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    if out is not None:
        raise NotImplementedError("take(out=...) on Tensors would leave the graph; use the "
                                  "return value")
    a = S._prep(a)
    ind = _int_array(indices, "take")
    if axis is None:
        a = S.reshape_prim(a, shape=(-1,))
        axis = 0
    ax = normalize_axis_index(axis, S._ndim(a))
    n = S._shape(a)[ax]
    if mode == "wrap":
        ind = ind % n
    elif mode == "clip":
        ind = np.clip(ind, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', not {mode!r}")
    if ind.ndim == 0:
        ind = ind.reshape(1)  # an array index (a copy, as NumPy's take), then drop the axis
        return S.reshape_prim(getitem(a, idx=_axis_index(ax, ind)),
                              shape=S._shape(a)[:ax] + S._shape(a)[ax + 1:])
    return getitem(a, idx=_axis_index(ax, ind))


register("take", take, method=True)


def _along_axis_index(shape: tuple, ind: np.ndarray, ax: int) -> tuple:
    nd = len(shape)
    fancy = []
    for d, n in enumerate(shape):
        if d == ax:
            fancy.append(ind)
        else:
            s = [1] * nd
            s[d] = n
            fancy.append(np.arange(n).reshape(s))
    return tuple(fancy)


def take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Any:
    arr = S._prep(arr)
    ind = _int_array(indices, "take_along_axis")
    if axis is None:
        if ind.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        arr = S.reshape_prim(arr, shape=(-1,))
        axis = 0
    nd = S._ndim(arr)
    if ind.ndim != nd:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    ax = normalize_axis_index(axis, nd)
    return getitem(arr, idx=_along_axis_index(S._shape(arr), ind, ax))


register("take_along_axis", take_along_axis)


def put_along_axis(arr: Any, indices: Any, values: Any, axis: Any) -> None:
    """Write ``values`` into the Tensor ``arr`` in place, like NumPy's (returns None).

    On a Tensor this is ``arr[index] = values`` (Tensor.__setitem__): the Tensor moves
    onto a new graph node, gradients flow to ``values`` and to the untouched elements
    of the old ``arr``.  A leaf that requires grad refuses, as for any item assignment.
    """
    ind = _int_array(indices, "put_along_axis")
    if not isinstance(arr, P.Tensor):
        if isinstance(values, P.Tensor) and (values._node is not None or values._tangents is not None):
            raise TypeError(
                f"put_along_axis: writing a Tensor that requires grad into a NumPy array would "
                f"drop its gradient.\n  at {user_line()}\n  Make arr a Tensor "
                f"(arr = cr.tensor(arr)) so the write is recorded.")
        np.put_along_axis(arr, ind, value(values), axis)
        return None
    shape = arr.shape
    if axis is None:
        if ind.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        size = arr.size
        if ind.size and (ind.min() < -size or ind.max() >= size):
            raise IndexError(f"put_along_axis: index out of bounds for size {size}")
        idx = np.unravel_index(ind % max(size, 1), shape)
    else:
        if ind.ndim != len(shape):
            raise ValueError("`indices` and `arr` must have the same number of dimensions")
        idx = _along_axis_index(shape, ind, normalize_axis_index(axis, len(shape)))
    arr[idx] = values
    return None


register("put_along_axis", put_along_axis)


def compress(condition: Any, a: Any, axis: Any = None, out: Any = None) -> Any:
    if out is not None:
        raise NotImplementedError("compress(out=...) on Tensors would leave the graph; use the "
                                  "return value")
    cond = _arrays.asarray(value(condition))
    if cond.ndim != 1:
        raise ValueError("condition must be a 1-d array")
    a = S._prep(a)
    if axis is None:
        a = S.reshape_prim(a, shape=(-1,))
        axis = 0
    ax = normalize_axis_index(axis, S._ndim(a))
    return getitem(a, idx=_axis_index(ax, np.flatnonzero(cond)))


register("compress", compress)


def _diag_indices(n1: int, n2: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    if k >= 0:
        m = max(0, min(n1, n2 - k))
        return np.arange(m), np.arange(m) + k
    m = max(0, min(n1 + k, n2))
    return np.arange(m) - k, np.arange(m)


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    a = S._prep(a)
    nd = S._ndim(a)
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    a1, a2 = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    order = tuple(d for d in range(nd) if d not in (a1, a2)) + (a1, a2)
    if order != tuple(range(nd)):
        a = S.transpose_prim(a, axes=order)
    s = S._shape(a)
    i, j = _diag_indices(s[-2], s[-1], int(offset))
    return getitem(a, idx=(Ellipsis, i, j))


def diag(v: Any, k: int = 0) -> Any:
    v = S._prep(v)
    s = S._shape(v)
    if len(s) == 2:
        return diagonal(v, k)
    if len(s) != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = s[0] + abs(int(k))
    i, j = _diag_indices(n, n, int(k))
    return scatter_add(v, shape=(n, n), idx=(i, j))


register("diagonal", diagonal)
register("diag", diag)


def _tri_mask(shape: tuple, k: int, lower: bool) -> np.ndarray:
    r, c = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[-1], shape[-1])
    low = np.tri(r, c, k=k if lower else k - 1, dtype=bool)
    return low if lower else ~low


def _tri(m: Any, k: int, lower: bool) -> Any:
    m = S._prep(m)
    s = S._shape(m)
    if len(s) == 0:
        raise ValueError("tril/triu: input must be at least 1-d")
    zero = np.zeros((), dtype=np.result_type(value(m)))
    return E.where_prim(_tri_mask(s, int(k), lower), m, zero)


register("tril", lambda m, k=0: _tri(m, k, True))
register("triu", lambda m, k=0: _tri(m, k, False))


# ---------------------------------------------------------------------------------
# sorting: the gradient follows the permutation (as torch.sort)


def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
         stable: Any = None) -> Any:
    if order is not None:
        raise NotImplementedError("sort(order=...) (structured arrays) is not supported on "
                                  "Tensors")
    a = S._prep(a)
    if axis is None:
        a = S.reshape_prim(a, shape=(-1,))
        axis = -1
    ax = normalize_axis_index(axis, S._ndim(a))
    perm = np.argsort(value(a), axis=ax, kind=kind, stable=stable)
    return getitem(a, idx=_along_axis_index(S._shape(a), perm, ax))


def partition(a: Any, kth: Any, axis: Any = -1, kind: str = "introselect",
              order: Any = None) -> Any:
    if order is not None:
        raise NotImplementedError("partition(order=...) is not supported on Tensors")
    a = S._prep(a)
    if axis is None:
        a = S.reshape_prim(a, shape=(-1,))
        axis = -1
    ax = normalize_axis_index(axis, S._ndim(a))
    v = value(a)
    kth = value(kth)
    perm = np.argpartition(v, kth, axis=ax, kind=kind)
    want = np.partition(v, kth, axis=ax, kind=kind)
    if not np.array_equal(np.take_along_axis(v, perm, axis=ax), want, equal_nan=True):
        # argpartition arranged the unordered parts differently from partition: map
        # NumPy's own result back to source positions through the sorted order
        src = np.argsort(v, axis=ax, kind="stable")
        dst = np.argsort(want, axis=ax, kind="stable")
        perm = np.empty_like(src)
        np.put_along_axis(perm, dst, src, axis=ax)
    return getitem(a, idx=_along_axis_index(S._shape(a), perm, ax))


register("sort", sort)
register("partition", partition)


# ---------------------------------------------------------------------------------
# select and the index tricks r_ / c_


def select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """np.select as nested ``where``: the first true condition picks its choice."""
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    conds = [_arrays.asarray(value(c)) for c in condlist]
    for i, c in enumerate(conds):
        if c.dtype != bool:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    out = default
    for c, v in zip(reversed(conds), reversed(list(choicelist)), strict=True):
        out = E.where_prim(c, v, out)
    return out


register("select", select)


def _stand_in(it: Any) -> Any:
    """What NumPy's r_ / c_ is given in place of ``it``: a Tensor's value; zeros of a traced
    array's shape and dtype (its elements are gathered into place afterwards)."""
    v = it._value if isinstance(it, P.Tensor) else it
    return np.zeros(v.shape, v.dtype) if registered(v) else v


class _Concatenator:
    """``cr.numpy.r_`` / ``c_``: NumPy's index tricks, differentiable in the Tensors given.

    They only arrange their pieces (slices become ranges, directives set dims and axis),
    so NumPy's own object runs twice: on the values, for the result, and with each Tensor
    replaced by the (1-based) positions of its elements, which says where every element
    of the result comes from; the Tensors' elements are then gathered into place.
    """

    def __init__(self, np_obj: Any, name: str) -> None:
        self._np = np_obj
        self._name = name

    def __getitem__(self, key: Any) -> Any:
        items = key if isinstance(key, tuple) else (key,)
        # Tensors and traced arrays (which NumPy's object would convert) are gathered
        tensors = [it for it in items if isinstance(it, P.Tensor) or registered(it)]
        if not tensors:
            return self._np[key]
        plain = tuple(_stand_in(it) for it in items)
        const = _arrays.asarray(self._np[plain])
        ids, start = [], 1
        for it in items:
            if isinstance(it, P.Tensor) or registered(it):
                n = value(it).size
                ids.append(np.arange(start, start + n, dtype=np.float64).reshape(it.shape))
                start += n
            elif isinstance(it, slice):  # a range of constants: zeros of its length
                ids.append(np.zeros(np.r_[it].shape))
            elif isinstance(it, str):  # a directive ("r", "0,2,1" ...)
                ids.append(it)
            else:
                ids.append(np.zeros(np.shape(it)))
        pos = _arrays.asarray(self._np[tuple(ids)])
        if pos.shape != const.shape:  # pragma: no cover - a directive this scheme misreads
            raise NotImplementedError(f"cr.numpy.{self._name}[...] with these directives")
        mask = pos > 0
        flat = S.concatenate([S.reshape(t, (-1,)) for t in tensors])
        out = E.where_prim(mask, getitem(flat, idx=np.where(mask, pos - 1, 0).astype(np.intp)),
                           const)
        return out if out.dtype == const.dtype else E.astype(out, dtype=const.dtype)

    def __len__(self) -> int:
        return 0


r_ = _Concatenator(np.r_, "r_")
c_ = _Concatenator(np.c_, "c_")
NAMES["r_"] = r_
NAMES["c_"] = c_

# ---------------------------------------------------------------------------------
# non-differentiable: integer/boolean results, plain arrays out

NONDIFF = [
    "argmax", "argmin", "argsort", "argpartition", "nonzero", "flatnonzero", "argwhere",
    "count_nonzero", "searchsorted", "any", "all", "isclose", "allclose", "array_equal",
    "array_equiv", "iscomplex", "isreal", "iscomplexobj", "isrealobj", "isneginf", "isposinf",
    "result_type",
]
for _n in NONDIFF:
    # t.argpartition and t.searchsorted: ndarray's methods (argmax & co. get PyTorch's
    # dim= too: ops/methods.py)
    defprim(getattr(np, _n), _n, np_names=_n, nondiff=True,
            method=_n in ("argpartition", "searchsorted"))


from . import creation  # noqa: F401  (creation functions; imported for registration)
