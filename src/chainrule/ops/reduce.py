"""Reductions: sum, mean, prod, max/min and the composites built on them."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..numpy.registry import register
from . import elementwise as E
from . import shape as S
from .util import defprim, value


def norm_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim if ndim else 0)
    return tuple(out)


def expand_back(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Undo a reduction's shape: put the reduced axes back as size 1, then broadcast."""
    shape = x.shape
    if not keepdims and shape:
        kept = [1 if i in norm_axis(axis, len(shape)) else n for i, n in enumerate(shape)]
        g = S.reshape(g, tuple(kept))
    return S.broadcast_to(g, shape)


def _sum_fwd(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)


sum_prim = defprim(
    _sum_fwd, "sum", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, x, axis=None, keepdims=False, dtype=None: expand_back(g, x, axis, keepdims),),
)


def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
        initial: Any = None, where: Any = None) -> Any:
    _no_out("sum", out)
    if where is not None or initial is not None:
        raise NotImplementedError("sum(where=..., initial=...) is not supported on Tensors")
    return sum_prim(a, axis=_axis(axis), keepdims=keepdims, dtype=dtype)


register("sum", sum)


def _axis(axis: Any) -> Any:
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise NotImplementedError(
            f"{name}(out=...) is not supported on Tensors: writing into a preallocated array "
            f"would leave the graph. Use the return value."
        )


def count(x: Any, axis: Any) -> int:
    shape = np.shape(value(x))
    n = 1
    for a in norm_axis(axis, len(shape)):
        n *= shape[a]
    return n


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         where: Any = None) -> Any:
    _no_out("mean", out)
    if where is not None:
        raise NotImplementedError("mean(where=...) is not supported on Tensors")
    axis = _axis(axis)
    s = sum_prim(a, axis=axis, keepdims=keepdims, dtype=dtype)
    n = count(a, axis)
    if s.dtype.kind not in "fc":
        s = E.astype(s, dtype=np.float64)
    return s / n


register("mean", mean)


def _ext_fwd(x: Any, axis: Any = None, keepdims: bool = False, which: str = "max") -> Any:
    return (np.max if which == "max" else np.min)(x, axis=axis, keepdims=keepdims)


def _ext_weights(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # the gradient is shared equally among tied extrema (PyTorch's amax/amin, JAX)
    xv = value(x)
    av = value(ans)
    if not keepdims and xv.ndim:
        av = np.expand_dims(av, norm_axis(axis, xv.ndim))
    mask = (xv == av) | (np.isnan(xv) & np.isnan(av))
    w = mask / np.sum(mask, axis=norm_axis(axis, xv.ndim) or None, keepdims=True)
    return w.astype(xv.dtype) if xv.dtype.kind in "fc" else w


extremum = defprim(
    _ext_fwd, "max",
    vjp=(lambda g, ans, x, axis=None, keepdims=False, which="max":
         expand_back(g, x, axis, keepdims) * _ext_weights(ans, x, axis, keepdims),),
    jvp=(lambda dx, ans, x, axis=None, keepdims=False, which="max":
         sum_prim(dx * _ext_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
)


def max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
        where: Any = None) -> Any:
    _no_out("max", out)
    if initial is not None or where is not None:
        raise NotImplementedError("max(initial=..., where=...) is not supported on Tensors")
    return extremum(a, axis=_axis(axis), keepdims=keepdims, which="max")


def min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, initial: Any = None,
        where: Any = None) -> Any:
    _no_out("min", out)
    if initial is not None or where is not None:
        raise NotImplementedError("min(initial=..., where=...) is not supported on Tensors")
    return extremum(a, axis=_axis(axis), keepdims=keepdims, which="min")


register(["max", "amax"], max)
register(["min", "amin"], min)


def _prod_fwd(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.prod(x, axis=axis, keepdims=keepdims)


def _prod_grad_factor(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """d prod / d x_i = product of the others; exact with zeros (no division by x)."""
    ax = norm_axis(axis, np.ndim(value(x)))
    if not ax:
        return E.ones_like(x)
    xm = S.moveaxis(x, ax, tuple(range(-len(ax), 0)))
    lead = xm.shape[: xm.ndim - len(ax)]
    flat = S.reshape(xm, lead + (-1,))
    # exclusive cumulative products from the left and from the right
    ones = E.ones_like(flat[..., :1])
    left = cumprod(S.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    rflat = S.flip(flat, axis=-1)
    right = S.flip(cumprod(S.concatenate([ones, rflat[..., :-1]], axis=-1), axis=-1), axis=-1)
    others = S.reshape(left * right, xm.shape)
    return S.moveaxis(others, tuple(range(-len(ax), 0)), ax)


prod_prim = defprim(
    _prod_fwd, "prod",
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         expand_back(g, x, axis, keepdims) * E.conj(_prod_grad_factor(ans, x, axis, keepdims)),),
    jvp=(lambda dx, ans, x, axis=None, keepdims=False:
         sum_prim(dx * _prod_grad_factor(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
)


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         initial: Any = None, where: Any = None) -> Any:
    _no_out("prod", out)
    if initial is not None or where is not None:
        raise NotImplementedError("prod(initial=..., where=...) is not supported on Tensors")
    if dtype is not None:
        a = E.astype(a, dtype=dtype)
    return prod_prim(a, axis=_axis(axis), keepdims=keepdims)


register("prod", prod)


def _cumsum_fwd(x: Any, axis: Any = None) -> Any:
    return np.cumsum(x, axis=axis)


def _cumsum_vjp(g: Any, ans: Any, x: Any, axis: Any = None) -> Any:
    if axis is None:
        return S.reshape(S.flip(cumsum_prim(S.flip(g, axis=0), axis=0), axis=0), x.shape)
    return S.flip(cumsum_prim(S.flip(g, axis=axis), axis=axis), axis=axis)


cumsum_prim = defprim(_cumsum_fwd, "cumsum", saves=(), saves_ans=False, linear=True,
                      vjp=(_cumsum_vjp,))


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumsum", out)
    if dtype is not None:
        a = E.astype(a, dtype=dtype)
    return cumsum_prim(a, axis=axis)


register("cumsum", cumsum)


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Composite: exp-free, exact with zeros (products of the prefixes via a prefix scan)."""
    _no_out("cumprod", out)
    if dtype is not None:
        a = E.astype(a, dtype=dtype)
    return cumprod_prim(a, axis=axis)


def _cumprod_fwd(x: Any, axis: Any = None) -> Any:
    return np.cumprod(x, axis=axis)


def _cumprod_vjp(g: Any, ans: Any, x: Any, axis: Any = None) -> Any:
    if axis is None:
        flat = S.reshape(x, (-1,))
        return S.reshape(_cumprod_vjp(S.reshape(g, (-1,)), S.reshape(ans, (-1,)), flat, 0), x.shape)
    # d ans_j / d x_i = prod_{k<=j, k!=i} x_k for i <= j.  Build it without dividing by x.
    n = x.shape[axis]
    xm = S.moveaxis(x, axis, -1)
    gm = S.moveaxis(g, axis, -1)
    out = []
    for i in range(n):
        # prefix product of the others up to each j >= i
        before = prod_prim(xm[..., :i], axis=-1, keepdims=True) if i else E.ones_like(xm[..., :1])
        after = cumprod_prim(xm[..., i + 1:], axis=-1) if i + 1 < n else None
        terms = before * gm[..., i:i + 1]
        tot = terms
        if after is not None:
            tot = tot + sum_prim(before * gm[..., i + 1:] * after, axis=-1, keepdims=True)
        out.append(tot)
    return S.moveaxis(S.concatenate(out, axis=-1), -1, axis)


cumprod_prim = defprim(_cumprod_fwd, "cumprod", vjp=(lambda g, ans, x, axis=None:
                       E.conj(_cumprod_vjp(E.conj(g), ans, x, axis)),))
cumprod_prim.jvps[0] = lambda dx, ans, x, axis=None: _cumprod_jvp(dx, ans, x, axis)


def _cumprod_jvp(dx: Any, ans: Any, x: Any, axis: Any) -> Any:
    # the JVP is the transpose of the VJP: build it from the VJP by linearity in g is costly,
    # so use the product rule on the scan: d ans_j = sum_{i<=j} dx_i * prod_{k<=j,k!=i} x_k
    if axis is None:
        return S.reshape(_cumprod_jvp(S.reshape(dx, (-1,)), S.reshape(ans, (-1,)),
                                      S.reshape(x, (-1,)), 0), ans.shape)
    n = x.shape[axis]
    xm = S.moveaxis(x, axis, -1)
    dm = S.moveaxis(dx, axis, -1)
    cols = []
    for j in range(n):
        acc = None
        for i in range(j + 1):
            others = [xm[..., k:k + 1] for k in range(j + 1) if k != i]
            term = dm[..., i:i + 1]
            for o in others:
                term = term * o
            acc = term if acc is None else acc + term
        cols.append(acc)
    return S.moveaxis(S.concatenate(cols, axis=-1), -1, axis)


register("cumprod", cumprod)


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
        keepdims: bool = False, where: Any = None, mean: Any = None, correction: Any = None) -> Any:
    _no_out("var", out)
    if where is not None or mean is not None:
        raise NotImplementedError("var(where=..., mean=...) is not supported on Tensors")
    if correction is not None:
        ddof = correction
    axis = _axis(axis)
    m = globals()["mean"](a, axis=axis, keepdims=True)
    d = a - m
    sq = E.real(d * E.conj(d)) if E.is_complex(d) else d * d
    n = count(a, axis)
    return sum_prim(sq, axis=axis, keepdims=keepdims) / (n - ddof)


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
        keepdims: bool = False, where: Any = None, mean: Any = None, correction: Any = None) -> Any:
    return E.sqrt(var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims,
                      where=where, mean=mean, correction=correction))


register("var", var)
register("std", std)
