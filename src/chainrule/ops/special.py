"""scipy.special-style functions: logsumexp, softmax, log_softmax, and the Bessel i0 / i1.

Each of logsumexp, softmax and log_softmax is one primitive with a stable forward
(the maximum is subtracted first) and rules written with the answer, so a network's
loss costs one node, not six.  i0's derivative is i1, implemented here (no scipy):
``I_nu(x) / x**nu`` is a primitive whose derivative is ``x * I_{nu+1}(x) / x**nu``, so
every derivative order of i0 and i1 is exact, at 0 too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import arrays as _arrays

from ..core.registry import register
from . import elementwise as E
from . import reduce as R
from .util import defprim, empty_as, full_as, value

# ---------------------------------------------------------------------------------
# logsumexp, softmax, log_softmax


def _shift(x: np.ndarray, axis: Any) -> np.ndarray:
    """The maximum along axis (keepdims), 0 where it is not finite: what gets subtracted."""
    xr = np.real(x) if np.iscomplexobj(x) else x
    if xr.size == 0:
        return np.zeros_like(xr, shape=np.sum(xr, axis=axis, keepdims=True).shape)
    m = np.max(xr, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def _lse_fwd(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    m = _shift(x, axis)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out


def _lse_weights(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """softmax(x) = exp(x - logsumexp(x)), with its limits where that is inf - inf: 0 at
    x = -inf; a slice holding +inf gives all its weight to its +inf entries, shared equally
    (max's tie rule).  Constants there, so every derivative order is 0 (never NaN)."""
    a = R.expand_back(ans, x, axis, keepdims)
    xr = np.real(value(x))
    neg, pos = np.isneginf(xr), np.isposinf(xr)
    if not _arrays.maybe_any(neg, pos):
        return E.exp(x - a)
    npos = np.sum(pos, axis=R.norm_axis(axis, xr.ndim), keepdims=True)
    top = (npos > 0) & ~np.isnan(np.real(value(a)))
    fixed = neg | top
    w = np.where(top, pos / np.maximum(npos, 1), 0.0).astype(xr.dtype)
    with np.errstate(invalid="ignore"):  # inf - inf where the mask throws it away
        d = x - a
    return E.where_prim(fixed, w, E.exp(E.where_prim(fixed, 0.0, d)))


logsumexp_prim = defprim(
    _lse_fwd, "logsumexp",
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         R.expand_back(g, x, axis, keepdims) * E.conj(_lse_weights(ans, x, axis, keepdims)),),
    jvp=(lambda dx, ans, x, axis=None, keepdims=False:
         R.sum_prim(dx * _lse_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
)


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) over ``axis``, computed stably (scipy.special.logsumexp).

    ``b`` (weights, may be a Tensor) and ``return_sign`` follow SciPy: with a negative
    sum the result is NaN unless ``return_sign=True``, which returns (log|s|, sign(s))."""
    axis = R._axis(axis)
    if b is None and not return_sign:
        return logsumexp_prim(a, axis=axis, keepdims=keepdims)
    av = _arrays.asarray(value(a))
    if b is not None:
        av, _ = np.broadcast_arrays(av, _arrays.asarray(value(b)))
        # weights of 0 do not count towards the maximum (SciPy's rule)
        bv = np.broadcast_to(_arrays.asarray(value(b)), av.shape)
        av = np.where(bv != 0, av, -np.inf)
    m = _shift(av, axis)
    e = E.exp(a - m)
    if b is not None:
        e = e * b
    s = R.sum_prim(e, axis=axis, keepdims=True)
    sv = value(s)
    if return_sign:
        if np.iscomplexobj(sv):
            raise NotImplementedError("logsumexp(return_sign=True) of complex values is not "
                                      "supported on Tensors")
        sgn = np.sign(sv)
        s = E.absolute(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = E.log(s) + m
    if not keepdims:
        ax = R.norm_axis(axis, len(np.shape(av)))
        shape = tuple(n for i, n in enumerate(np.shape(av)) if i not in ax)
        from . import shape as S

        out = S.reshape(out, shape)
        if return_sign:
            sgn = np.reshape(sgn, shape)
    return (out, sgn) if return_sign else out


def _softmax_fwd(x: Any, axis: Any = None) -> Any:
    e = np.exp(x - _shift(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


softmax_prim = defprim(
    _softmax_fwd, "softmax", saves=(),
    # J = diag(s) - s s^T:  J^T g = s * (g - <g, s>)
    vjp=(lambda g, ans, x, axis=None:
         E.conj(ans) * (g - R.sum_prim(g * E.conj(ans), axis=axis, keepdims=True)),),
    jvp=(lambda dx, ans, x, axis=None:
         ans * (dx - R.sum_prim(dx * ans, axis=axis, keepdims=True)),),
)


def _log_softmax_fwd(x: Any, axis: Any = None) -> Any:
    y = x - _shift(x, axis)
    with np.errstate(divide="ignore"):
        return y - np.log(np.sum(np.exp(y), axis=axis, keepdims=True))


log_softmax_prim = defprim(
    _log_softmax_fwd, "log_softmax", saves=(),
    # J = I - 1 s^T:  J^T g = g - s * sum(g)
    vjp=(lambda g, ans, x, axis=None:
         g - E.conj(E.exp(ans)) * R.sum_prim(g, axis=axis, keepdims=True),),
    jvp=(lambda dx, ans, x, axis=None:
         dx - R.sum_prim(E.exp(ans) * dx, axis=axis, keepdims=True),),
)


def softmax(x: Any, axis: Any = None) -> Any:
    """exp(x) / sum(exp(x)) over ``axis`` (all elements when None, as in SciPy)."""
    return softmax_prim(x, axis=R._axis(axis))


def log_softmax(x: Any, axis: Any = None) -> Any:
    """x - logsumexp(x) over ``axis`` (all elements when None, as in SciPy)."""
    return log_softmax_prim(x, axis=R._axis(axis))


register("logsumexp", logsumexp)
register("softmax", softmax)
register("log_softmax", log_softmax)


# ---------------------------------------------------------------------------------
# modified Bessel functions of the first kind: i0 (NumPy's) and i1 (ours)


def _inu_scaled_series(ax: np.ndarray, nu: int) -> np.ndarray:
    """sum_k (x^2/4)^k / (2^nu k! (k+nu)!): positive terms, no cancellation."""
    q = ax * ax / 4.0
    term = full_as(ax, 1.0 / (2.0 ** nu * math.factorial(nu)), np.float64)
    total = term.copy()
    k = 0
    while True:
        k += 1
        term = term * q / (k * (k + nu))
        total += term
        if not np.any(term > total * 1e-17) or k > 10_000:
            return total


def _inu_scaled_asymptotic(ax: np.ndarray, nu: int) -> np.ndarray:
    """I_nu(x) ~ e^x / sqrt(2 pi x) * sum_k (-1)^k prod_j (4nu^2 - (2j-1)^2) / (k! (8x)^k)."""
    mu = 4.0 * nu * nu
    term = np.ones_like(ax)
    total = term.copy()
    for k in range(1, 60):
        nxt = -term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * ax)
        if np.all(np.abs(nxt) >= np.abs(term)):  # the series has started to diverge
            break
        term = nxt
        total += term
        if not np.any(np.abs(term) > np.abs(total) * 1e-17):
            break
    with np.errstate(over="ignore"):
        h = np.exp(ax / 2)  # e^x as h * h: no overflow before the answer overflows
        return h * (h / np.sqrt(2 * np.pi * ax)) / ax ** nu * total


def _inu_scaled_fwd(x: Any, nu: int = 1) -> Any:
    x = _arrays.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    if _arrays.lazy(x):  # the series runs until it converges: block by block, still lazy
        return x.map_blocks(_inu_scaled_fwd, nu=nu, dtype=dtype)
    ax = np.abs(x).astype(np.float64)
    out = empty_as(ax, np.float64)
    big = ax > 25.0 + 2.0 * nu * nu  # the asymptotic series is accurate to 1 ulp there
    if np.any(big):
        out[big] = _inu_scaled_asymptotic(ax[big], nu)
    if not np.all(big):
        out[~big] = _inu_scaled_series(ax[~big], nu)
    return out.astype(dtype, copy=False)


def _inu_scaled_deriv(ans: Any, x: Any, nu: int = 1) -> Any:
    # d/dx [x^-nu I_nu(x)] = x^-nu I_{nu+1}(x) = x * f_{nu+1}(x)
    return x * inu_scaled(x, nu=nu + 1)


inu_scaled = defprim(
    _inu_scaled_fwd, "inu_scaled", saves_ans=False,
    vjp=(lambda g, ans, x, nu=1: g * _inu_scaled_deriv(ans, x, nu),),
    jvp=(lambda dx, ans, x, nu=1: dx * _inu_scaled_deriv(ans, x, nu),),
)
inu_scaled.__doc__ = "I_nu(x) / x**nu for an integer nu >= 1 (even in x, smooth at 0)."


def i1(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 1 (derivative of i0)."""
    return x * inu_scaled(x, nu=1)


def _i0_fwd(x: Any) -> Any:
    return np.i0(x)


i0_prim = defprim(
    _i0_fwd, "i0", saves_ans=False,
    vjp=(lambda g, ans, x: g * i1(x),),
    jvp=(lambda dx, ans, x: dx * i1(x),),
)


def i0(x: Any) -> Any:
    if np.iscomplexobj(value(x)):
        raise TypeError("i0 not supported for complex values")
    return i0_prim(x)


register("i0", i0)
