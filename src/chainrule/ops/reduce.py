"""Reductions and scans: sum, prod, max/min, cumsum/cumprod, quantiles, and the composites.

Primitives here: sum, max (also min / nanmax / nanmin), prod, cumsum, cumprod, median,
quantile.  Everything else (mean, average, var, std, ptp, nan*, percentile, trace, diff,
trapezoid) is built from primitives, so its derivatives of every order come for free.

Tie conventions (PyTorch's): max/min/amax/amin/nanmax/nanmin and median share the
gradient equally among tied elements; quantile/percentile send it to the elements a
stable sort puts at the interpolated positions (torch.quantile).
"""

from __future__ import annotations

import builtins
import functools
import inspect
from typing import Any

import numpy as np

from ..core import arrays as _arrays

from . import elementwise as E
from . import index as I
from . import shape as S
from .util import broadcast_view, defprim, register, value

_NoValue = np._NoValue



def _numpy_when_integral(fn: Any) -> Any:
    """``fn`` (np.NAME's implementation), except that with an integer or bool ``dtype=``
    the result is NumPy's own: it has no derivative, and NumPy computes in that dtype
    (modular products, a mean that truncates), which composing chainrule's float rules
    would not reproduce.  Computed on the values, returned as a constant Tensor."""
    sig = inspect.signature(fn)
    npfn = getattr(np, fn.__name__)

    @functools.wraps(fn)
    def wrapped(*args: Any, **kw: Any) -> Any:
        b = sig.bind(*args, **kw)
        dt = b.arguments.get("dtype")
        if dt is None or b.arguments.get("out") is not None or np.dtype(dt).kind not in "biu":
            return fn(*args, **kw)
        from ..core.tensor import Tensor
        vals = {k: value(v) for k, v in b.arguments.items()}
        return Tensor._make(np.asarray(npfn(**vals)), None, None)

    return wrapped

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
    if g.__class__ is np.ndarray or isinstance(g, np.generic):
        # a constant (first-order backward; 0-d array * float gives a NumPy scalar): NumPy
        if not keepdims and shape:
            ax = norm_axis(axis, len(shape))
            g = g.reshape(tuple([1 if i in ax else n for i, n in enumerate(shape)]))
        return g if g.shape == shape else broadcast_view(g, tuple(shape))
    if not keepdims and shape:
        ax = norm_axis(axis, len(shape))
        kept = [1 if i in ax else n for i, n in enumerate(shape)]
        g = S.reshape(g, tuple(kept))
    return S.broadcast_to(g, shape)


def _keep(v: np.ndarray, x_ndim: int, axis: Any, keepdims: bool) -> np.ndarray:
    """A reduced plain array with the reduced axes put back (for masks against x)."""
    if not keepdims and x_ndim:
        v = np.expand_dims(v, norm_axis(axis, x_ndim))
    return v


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


def _float_dtype(w: np.ndarray, ref: Any) -> np.ndarray:
    dt = getattr(ref, "dtype", None)
    if dt is not None and dt.kind in "fc":
        return w.astype(np.finfo(dt).dtype)  # complex64 -> float32 weights
    return w


def count(x: Any, axis: Any) -> int:
    shape = np.shape(value(x))
    n = 1
    for a in norm_axis(axis, len(shape)):
        n *= shape[a]
    return n


def _masked(a: Any, where: Any, fill: Any) -> Any:
    """``a`` with the positions outside ``where`` replaced by the constant ``fill``."""
    mask = np.broadcast_to(_arrays.asarray(value(where), dtype=bool), np.shape(value(a)))
    return E.where_prim(mask, a, fill)


# ---------------------------------------------------------------------------------
# sum and mean


def _sum_fwd(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
    if x.__class__ is np.ndarray:  # what np.sum itself calls for an ndarray
        return np.add.reduce(x, axis, dtype, None, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)


sum_prim = defprim(
    _sum_fwd, "sum", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, x, axis=None, keepdims=False, dtype=None:
         expand_back(g, x, axis, keepdims),),
)


def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
        initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("sum", out)
    if where is not _NoValue and where is not None and where is not True:
        a = _masked(a, where, 0)
    r = sum_prim(a, axis=_axis(axis), keepdims=keepdims, dtype=dtype)
    if initial is not _NoValue and initial is not None:
        r = r + initial
    return r


register("sum", sum)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         where: Any = _NoValue) -> Any:
    _no_out("mean", out)
    axis = _axis(axis)
    if where is not _NoValue and where is not None and where is not True:
        mask = np.broadcast_to(_arrays.asarray(value(where), dtype=bool), np.shape(value(a)))
        s = sum_prim(E.where_prim(mask, a, 0), axis=axis, keepdims=keepdims, dtype=dtype)
        n = np.sum(mask, axis=axis, keepdims=keepdims)
    else:
        s = sum_prim(a, axis=axis, keepdims=keepdims, dtype=dtype)
        n = count(a, axis)
    if s.dtype.kind not in "fc":
        s = E.astype(s, dtype=np.dtype(np.float64))
    if isinstance(n, (np.ndarray, np.generic)):  # an intp count: divide in float64, then cast
        r = s / n
        return E.astype(r, dtype=s.dtype) if r.dtype != s.dtype else r
    return s / n


register("mean", _numpy_when_integral(mean))


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: Any = _NoValue) -> Any:
    """np.average; ``weights`` may be a Tensor too (both get gradients)."""
    axis = _axis(axis)
    keep = False if keepdims is _NoValue else bool(keepdims)
    av = value(a)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keep)
        if returned:
            scl = _arrays.asarray(count(a, axis), dtype=avg.dtype)
            return avg, np.broadcast_to(scl, avg.shape).copy()
        return avg
    wv = value(weights)
    ashape, wshape = np.shape(av), np.shape(wv)
    w = weights
    if ashape != wshape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        ax = norm_axis(axis, len(ashape))
        if wshape != tuple(ashape[i] for i in ax):
            raise ValueError("Shape of weights must be consistent with shape of a along "
                             "specified axis.")
        # put the weights' axes where a's reduced axes are
        order = sorted(range(len(ax)), key=lambda k: ax[k])
        if order != list(range(len(ax))):
            w = S.transpose(w, tuple(order))
        full = [1] * len(ashape)
        for i in ax:
            full[i] = ashape[i]
        w = S.reshape(w, tuple(full))
    scl = sum(w, axis=axis, keepdims=keep)
    if np.any(value(scl) == 0.0):
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    avg = sum(a * w, axis=axis, keepdims=keep) / scl
    if returned:
        if np.shape(value(scl)) != np.shape(value(avg)):
            scl = S.broadcast_to(scl, np.shape(value(avg)))
        return avg, scl
    return avg


register("average", average)


# ---------------------------------------------------------------------------------
# max / min (and the NaN-ignoring versions): one primitive, tie-splitting weights

_EXT = {"max": np.max, "min": np.min, "nanmax": np.nanmax, "nanmin": np.nanmin}


def _ext_fwd(x: Any, axis: Any = None, keepdims: bool = False, which: str = "max") -> Any:
    return _EXT[which](x, axis=axis, keepdims=keepdims)


def _ext_weights(ans: Any, x: Any, axis: Any, keepdims: bool, which: str = "max") -> Any:
    # the gradient is shared equally among tied extrema (PyTorch's amax/amin, JAX)
    xv = value(x)
    av = _keep(value(ans), xv.ndim, axis, keepdims)
    ax = norm_axis(axis, xv.ndim)
    if which.startswith("nan"):  # NaNs are ignored: they never match, an all-NaN slice gets 0
        mask = xv == av
        n = np.maximum(np.sum(mask, axis=ax, keepdims=True), 1)
    else:  # NaN propagates: the NaNs are the answer
        mask = (xv == av) | (np.isnan(xv) & np.isnan(av))
        n = np.sum(mask, axis=ax, keepdims=True)
    return _float_dtype(mask / n, xv)


extremum = defprim(
    _ext_fwd, "max", kinked=True,
    vjp=(lambda g, ans, x, axis=None, keepdims=False, which="max":
         expand_back(g, x, axis, keepdims) * _ext_weights(ans, x, axis, keepdims, which),),
    jvp=(lambda dx, ans, x, axis=None, keepdims=False, which="max":
         sum_prim(dx * _ext_weights(ans, x, axis, keepdims, which), axis=axis, keepdims=keepdims),),
)


def _extreme(which: str, a: Any, axis: Any, keepdims: bool, initial: Any, where: Any) -> Any:
    has_initial = initial is not _NoValue and initial is not None
    if where is not _NoValue and where is not None and where is not True:
        if not has_initial:
            raise ValueError(f"{which}(where=...) needs initial=...: the reduction has no "
                             "identity to fill the masked-out positions with")
        a = _masked(a, where, initial)
    axis = _axis(axis)
    if has_initial and count(a, axis) == 0:
        # nothing to reduce (NumPy: the initial value); the sum keeps the graph, gradient 0
        return sum_prim(a, axis=axis, keepdims=keepdims) + _arrays.asarray(
            initial, dtype=np.result_type(value(a).dtype, np.float64)
            if value(a).dtype.kind not in "fc" else value(a).dtype)
    r = extremum(a, axis=axis, keepdims=keepdims, which=which)
    if has_initial:
        # np.max(x, initial=v) == maximum(max(x), v); the ufunc's tie rule applies
        pick = E.fmax if which.startswith("nan") else E.maximum
        if which.endswith("min"):
            pick = E.fmin if which.startswith("nan") else E.minimum
        r = pick(r, _arrays.asarray(initial, dtype=r.dtype))
    return r


def max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
        initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("max", out)
    return _extreme("max", a, axis, keepdims, initial, where)


def min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
        initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("min", out)
    return _extreme("min", a, axis, keepdims, initial, where)


def nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
           initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("nanmax", out)
    return _extreme("nanmax", a, axis, keepdims, initial, where)


def nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
           initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("nanmin", out)
    return _extreme("nanmin", a, axis, keepdims, initial, where)


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
    """max - min: a constant slice gets gradient 0 (the shared weights cancel)."""
    _no_out("ptp", out)
    return max(a, axis=axis, keepdims=keepdims) - min(a, axis=axis, keepdims=keepdims)


register(["max", "amax"], max)
register(["min", "amin"], min)
register("nanmax", nanmax)
register("nanmin", nanmin)
register("ptp", ptp, method=True)


# ---------------------------------------------------------------------------------
# prod: the product of the others, exact with zeros


def _prod_fwd(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.prod(x, axis=axis, keepdims=keepdims)


def _regular(xv: np.ndarray) -> bool:
    """No zero and nothing infinite: ans / x is the product of the others."""
    return not _arrays.maybe_any(_irregular(xv))


def _prod_grad_factor(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """d prod / d x_i = product of the others.

    Slices without zeros: ans / x_i (a rational identity near x, so every derivative
    order is right).  Slices with zeros: exclusive products from the left times those
    from the right, made with cumprod (whose own rules are exact with zeros)."""
    ax = norm_axis(axis, np.ndim(value(x)))
    if not ax:
        return E.ones_like(x)
    if _regular(value(x)):
        return expand_back(ans, x, axis, keepdims) / x
    xm = S.moveaxis(x, ax, tuple(range(-len(ax), 0)))
    lead = xm.shape[: xm.ndim - len(ax)]
    b = int(np.prod(lead, dtype=np.int64))
    flat = S.reshape(xm, (b, -1))
    a2 = S.reshape(ans, (b, 1))

    def exact(flat: Any, a2: Any) -> Any:
        left = _exclusive_cumprod(flat)
        return left * S.flip(_exclusive_cumprod(S.flip(flat, axis=-1)), axis=-1)

    others = _split_rows([flat, a2], _irregular(value(flat)), lambda f, a: a / f, exact)
    return S.moveaxis(S.reshape(others, xm.shape), tuple(range(-len(ax), 0)), ax)


def _irregular(v: np.ndarray) -> np.ndarray:
    return ~np.isfinite(v) | (v == 0)


def _split_rows(ts: list, bad: np.ndarray, regular: Any, exact: Any) -> Any:
    """``regular`` on the rows (of 2-D operands) where ``bad`` is all False, ``exact`` on
    the others, reassembled in order: the slow exact formula only where it is needed."""
    if _arrays.lazy(bad):  # values not at hand: the exact formula everywhere
        return exact(*ts)
    rows = np.any(bad, axis=-1)
    if not rows.any():
        return regular(*ts)
    if rows.all():
        return exact(*ts)
    ri, gi = np.flatnonzero(rows), np.flatnonzero(~rows)
    rb = exact(*[I.getitem(t, idx=(ri,)) for t in ts])
    rg = regular(*[I.getitem(t, idx=(gi,)) for t in ts])
    inv = np.argsort(np.concatenate([ri, gi]))
    return I.getitem(S.concatenate([rb, rg], axis=0), idx=(inv,))


def _exclusive_cumprod(x: Any) -> Any:
    """prod_{k<i} x_k along the last axis."""
    ones = E.ones_like(x[..., :1])
    if x.shape[-1] <= 1:
        return ones if x.shape[-1] else x
    return S.concatenate([ones, cumprod_prim(x[..., :-1], axis=-1)], axis=-1)


prod_prim = defprim(
    _prod_fwd, "prod",
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         expand_back(g, x, axis, keepdims) * E.conj(_prod_grad_factor(ans, x, axis, keepdims)),),
    jvp=(lambda dx, ans, x, axis=None, keepdims=False:
         sum_prim(dx * _prod_grad_factor(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
)


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
         initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("prod", out)
    if dtype is not None:
        a = E.astype(a, dtype=np.dtype(dtype))
    if where is not _NoValue and where is not None and where is not True:
        a = _masked(a, where, 1)
    r = prod_prim(a, axis=_axis(axis), keepdims=keepdims)
    if initial is not _NoValue and initial is not None:
        r = r * initial
    return r


register("prod", _numpy_when_integral(prod))


# ---------------------------------------------------------------------------------
# scans: cumsum (linear) and cumprod


def _cumsum_fwd(x: Any, axis: Any = None) -> Any:
    return np.cumsum(x, axis=axis)


def _rev_cumsum(g: Any, axis: int) -> Any:
    """sum_{j >= i} g_j along ``axis``."""
    return S.flip(cumsum_prim(S.flip(g, axis=axis), axis=axis), axis=axis)


def _cumsum_vjp(g: Any, ans: Any, x: Any, axis: Any = None) -> Any:
    if axis is None:
        return S.reshape(_rev_cumsum(g, 0), x.shape)
    return _rev_cumsum(g, axis)


cumsum_prim = defprim(_cumsum_fwd, "cumsum", saves=(), saves_ans=False, linear=True,
                      vjp=(_cumsum_vjp,))


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumsum", out)
    if dtype is None:
        return cumsum_prim(a, axis=axis)
    dt = np.dtype(dtype)
    r = cumsum_prim(E.astype(a, dtype=dt), axis=axis)
    # NumPy's scan widens small integers (uint8 -> uint64) unless told the dtype; the
    # modular result cast back is what np.cumsum(..., dtype=dt) computes
    return r if r.dtype == dt else E.astype(r, dtype=dt)


def _cumulative(name: str, scan: Any, first: Any, x: Any, axis: Any, dtype: Any, out: Any,
                include_initial: bool) -> Any:
    """NumPy 2's cumulative_sum / cumulative_prod: the scan, with the identity prepended
    when ``include_initial``; ``axis`` may be omitted only for 1-d input."""
    _no_out(name, out)
    if axis is None:
        if np.ndim(value(x)) > 1:
            raise ValueError(f"{name}: axis must be given for arrays of more than one dimension")
        axis = 0
    r = scan(x, axis=axis, dtype=dtype)
    if include_initial:
        r = S.concatenate([first(_take1(r, axis)), r], axis=axis)
    return r


def cumulative_sum(x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None,
                   include_initial: bool = False) -> Any:
    return _cumulative("cumulative_sum", cumsum, E.zeros_like, x, axis, dtype, out,
                       include_initial)


def _take1(r: Any, axis: int) -> Any:
    idx = [slice(None)] * r.ndim
    idx[axis] = slice(0, 1)
    return r[tuple(idx)] if r.shape[axis] else S.reshape(
        r, tuple(1 if i == axis % r.ndim else n for i, n in enumerate(r.shape)))


register("cumsum", cumsum)
register("cumulative_sum", cumulative_sum)


def _linrec_rev(b: Any, c: Any) -> Any:
    """S_i = b_i + c_i * S_{i+1} along the last axis (S_{n-1} = b_{n-1}; len(c) = n - 1).

    A Hillis-Steele scan: log2(n) rounds of slices, products and sums, so the result
    is a plain composition of primitives and differentiates exactly to any order."""
    n = b.shape[-1]
    s = 1
    while s < n:
        head = b[..., : n - s] + c[..., : n - s] * b[..., s:]
        b = S.concatenate([head, b[..., n - s:]], axis=-1)
        if 2 * s < n:
            c = c[..., : n - 2 * s] * c[..., s: n - s]
        s *= 2
    return b


def _cumprod_fwd(x: Any, axis: Any = None) -> Any:
    return np.cumprod(x, axis=axis)


def _scan_rule(f: Any, reverse: bool) -> Any:
    """A cumprod rule from f(a, ans, x) on 2-D operands scanned along their last axis
    (axis moved last, leading axes merged; axis=None flattened).  A VJP answers in x's
    shape, a JVP in ans's."""

    def rule(a: Any, ans: Any, x: Any, axis: Any = None) -> Any:
        if axis is None:
            r = f(S.reshape(a, (1, -1)), S.reshape(ans, (1, -1)), S.reshape(x, (1, -1)))
            return S.reshape(r, x.shape if reverse else ans.shape)
        if x.shape[axis] == 0:
            return E.zeros_like(a)
        mv = lambda t: S.moveaxis(t, axis, -1)
        a, ans, x = mv(a), mv(ans), mv(x)
        shape = x.shape
        two = lambda t: S.reshape(t, (-1, shape[-1]))
        r = S.reshape(f(two(a), two(ans), two(x)), shape)
        return S.moveaxis(r, -1, axis)

    return rule


def _exclusive_from_ans(ans: Any) -> Any:
    """prod_{k<i} x_k = ans_{i-1} (1 for i = 0)."""
    return S.concatenate([E.ones_like(ans[..., :1]), ans[..., :-1]], axis=-1)


def _cumprod_vjp_2d(g: Any, ans: Any, x: Any) -> Any:
    # d ans_j / d x_i = prod_{k<i} x_k * prod_{i<k<=j} x_k  (i <= j)
    def regular(g: Any, ans: Any, x: Any) -> Any:
        # sum_{j>=i} g_j conj(ans_j) / conj(x_i): exact near x (no zero in the row)
        return _rev_cumsum(g * E.conj(ans), -1) / E.conj(x)

    def exact(g: Any, ans: Any, x: Any) -> Any:
        # grad_i = conj(prod_{k<i} x_k) * S_i,  S_i = g_i + conj(x_{i+1}) S_{i+1}
        return E.conj(_exclusive_from_ans(ans)) * _linrec_rev(g, E.conj(x[..., 1:]))

    return _split_rows([g, ans, x], _irregular(value(x)), regular, exact)


def _cumprod_jvp_2d(dx: Any, ans: Any, x: Any) -> Any:
    def regular(dx: Any, ans: Any, x: Any) -> Any:
        return ans * cumsum_prim(dx / x, axis=-1)

    def exact(dx: Any, ans: Any, x: Any) -> Any:
        # d ans_j = T_j = u_j + x_j T_{j-1},  u_i = dx_i prod_{k<i} x_k: a reversed scan
        u = dx * _exclusive_from_ans(ans)
        return S.flip(_linrec_rev(S.flip(u, axis=-1), S.flip(x[..., 1:], axis=-1)), axis=-1)

    return _split_rows([dx, ans, x], _irregular(value(x)), regular, exact)


_cumprod_vjp = _scan_rule(_cumprod_vjp_2d, reverse=True)
_cumprod_jvp = _scan_rule(_cumprod_jvp_2d, reverse=False)


cumprod_prim = defprim(_cumprod_fwd, "cumprod", vjp=(_cumprod_vjp,), jvp=(_cumprod_jvp,))


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumprod", out)
    if dtype is None:
        return cumprod_prim(a, axis=axis)
    dt = np.dtype(dtype)
    r = cumprod_prim(E.astype(a, dtype=dt), axis=axis)
    # NumPy's scan widens small integers (uint8 -> uint64) unless told the dtype; the
    # modular result cast back is what np.cumprod(..., dtype=dt) computes
    return r if r.dtype == dt else E.astype(r, dtype=dt)


def cumulative_prod(x: Any, /, *, axis: Any = None, dtype: Any = None, out: Any = None,
                    include_initial: bool = False) -> Any:
    return _cumulative("cumulative_prod", cumprod, E.ones_like, x, axis, dtype, out,
                       include_initial)


register("cumprod", cumprod)
register("cumulative_prod", cumulative_prod)


# ---------------------------------------------------------------------------------
# var / std


def _as_complex_dtype(r: Any, dtype: Any) -> Any:
    """NumPy's var/std with a complex ``dtype=`` return that complex dtype (a zero
    imaginary part), though the variance is real."""
    if dtype is not None and np.dtype(dtype).kind == "c" and r.dtype != np.dtype(dtype):
        return E.astype(r, dtype=np.dtype(dtype))
    return r


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
        keepdims: bool = False, *, where: Any = _NoValue, mean: Any = _NoValue,
        correction: Any = _NoValue) -> Any:
    return _as_complex_dtype(_var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                                  correction=correction), dtype)


def _var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
         keepdims: bool = False, *, where: Any = _NoValue, mean: Any = _NoValue,
         correction: Any = _NoValue) -> Any:
    _no_out("var", out)
    if correction is not _NoValue and correction is not None:
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    axis = _axis(axis)
    if dtype is not None:
        a = E.astype(a, dtype=np.dtype(dtype))
    masked = where is not _NoValue and where is not None and where is not True
    if mean is not _NoValue and mean is not None:
        m = mean
    else:
        m = globals()["mean"](a, axis=axis, keepdims=True, where=where if masked else _NoValue)
    d = a - m
    sq = E.real(d * E.conj(d)) if E.is_complex(d) else d * d
    if masked:
        mask = np.broadcast_to(_arrays.asarray(value(where), dtype=bool), np.shape(value(a)))
        s = sum_prim(E.where_prim(mask, sq, 0), axis=axis, keepdims=keepdims)
        n = np.sum(mask, axis=axis, keepdims=keepdims).astype(s.dtype)
    else:
        s = sum_prim(sq, axis=axis, keepdims=keepdims)
        n = count(a, axis)
    return s / (n - ddof)


def safe_sqrt(v: Any) -> Any:
    """sqrt whose derivative at 0 is 0 (a subgradient) rather than inf * 0 = NaN."""
    zero = value(v) == 0
    if not _arrays.maybe_any(zero):
        return E.sqrt(v)
    return E.where_prim(zero, 0.0, E.sqrt(E.where_prim(zero, 1.0, v)))


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
        keepdims: bool = False, *, where: Any = _NoValue, mean: Any = _NoValue,
        correction: Any = _NoValue) -> Any:
    """sqrt(var); at zero variance the gradient is 0 (like a norm at 0), never NaN."""
    return _as_complex_dtype(safe_sqrt(_var(a, axis=axis, dtype=dtype, out=out, ddof=ddof,
                                            keepdims=keepdims, where=where, mean=mean,
                                            correction=correction)), dtype)


register("var", _numpy_when_integral(var))
register("std", _numpy_when_integral(std))


# ---------------------------------------------------------------------------------
# NaN-ignoring reductions: the gradient at a NaN is 0


def _nan_mask(a: Any) -> np.ndarray:
    return np.isnan(value(a))


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
           initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("nansum", out)
    if _arrays.asarray(value(a)).dtype.kind in "fc":
        a = E.where_prim(_nan_mask(a), 0, a)
    return sum(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
            initial: Any = _NoValue, where: Any = _NoValue) -> Any:
    _no_out("nanprod", out)
    if _arrays.asarray(value(a)).dtype.kind in "fc":
        a = E.where_prim(_nan_mask(a), 1, a)
    return prod(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
            *, where: Any = _NoValue) -> Any:
    _no_out("nanmean", out)
    if _arrays.asarray(value(a)).dtype.kind not in "fc":
        return mean(a, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    keep = ~_nan_mask(a)
    if where is not _NoValue and where is not None and where is not True:
        keep = keep & _arrays.asarray(value(where), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        return mean(a, axis=axis, dtype=dtype, keepdims=keepdims, where=keep)


def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
           keepdims: bool = False, *, where: Any = _NoValue, mean: Any = _NoValue,
           correction: Any = _NoValue) -> Any:
    _no_out("nanvar", out)
    keep = ~_nan_mask(a)
    if where is not _NoValue and where is not None and where is not True:
        keep = keep & _arrays.asarray(value(where), dtype=bool)
    a = E.where_prim(~keep, 0, a)
    return var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=keep, mean=mean,
               correction=correction)


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
           keepdims: bool = False, *, where: Any = _NoValue, mean: Any = _NoValue,
           correction: Any = _NoValue) -> Any:
    return safe_sqrt(nanvar(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims,
                            where=where, mean=mean, correction=correction))


def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("nancumsum", out)
    return cumsum(E.where_prim(_nan_mask(a), 0, a), axis=axis, dtype=dtype)


def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("nancumprod", out)
    return cumprod(E.where_prim(_nan_mask(a), 1, a), axis=axis, dtype=dtype)


register("nansum", nansum)
register("nanprod", _numpy_when_integral(nanprod))
register("nanmean", _numpy_when_integral(nanmean))
register("nanvar", _numpy_when_integral(nanvar))
register("nanstd", _numpy_when_integral(nanstd))
register("nancumsum", nancumsum)
register("nancumprod", nancumprod)


# ---------------------------------------------------------------------------------
# median, quantile, percentile


def _median_fwd(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _arrays.asarray(np.median(x, axis=axis, keepdims=keepdims))


def _median_weights(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Weight of each element in the median: the middle value(s) of each slice, with
    each middle's share spread equally over the elements equal to it (torch.median's
    tie rule); a slice holding NaN gives its gradient to its NaNs."""
    xv = value(x)
    nd = xv.ndim
    ax = norm_axis(axis, nd)
    kept = tuple(i for i in range(nd) if i not in ax)
    xt = np.transpose(xv, kept + ax).reshape(tuple(xv.shape[i] for i in kept) + (-1,))
    n = xt.shape[-1]
    part = np.partition(xt, sorted({(n - 1) // 2, n // 2}), axis=-1)  # NaNs go last
    lo, hi = part[..., (n - 1) // 2], part[..., n // 2]

    def back(v: np.ndarray) -> np.ndarray:  # a per-slice value, broadcastable against x
        full = [1] * nd
        for i in kept:
            full[i] = xv.shape[i]
        return np.reshape(v, full)

    lo, hi = back(lo), back(hi)
    m_lo, m_hi = xv == lo, xv == hi
    axn = ax
    w = 0.5 * m_lo / np.maximum(np.sum(m_lo, axis=axn, keepdims=True), 1) + \
        0.5 * m_hi / np.maximum(np.sum(m_hi, axis=axn, keepdims=True), 1)
    nan = np.isnan(xv)
    if _arrays.maybe_any(nan):
        has = np.any(nan, axis=axn, keepdims=True)
        w = np.where(has, nan / np.maximum(np.sum(nan, axis=axn, keepdims=True), 1), w)
    return _float_dtype(w, xv)


median_prim = defprim(
    _median_fwd, "median", kinked=True,
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         expand_back(g, x, axis, keepdims) * _median_weights(ans, x, axis, keepdims),),
    jvp=(lambda dx, ans, x, axis=None, keepdims=False:
         sum_prim(dx * _median_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
)


def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    _no_out("median", out)
    if np.ndim(value(a)) == 0:
        a = S.reshape(a, (1,))
        axis = None
        if keepdims:
            return S.reshape(median_prim(a, axis=None, keepdims=False), ())
    return median_prim(a, axis=_axis(axis), keepdims=keepdims)


register("median", median)


def _virtual_index(n: int, q: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """NumPy's quantile positions: (lower index, weight of the next index) per q."""
    def hf(alpha: float, beta: float) -> np.ndarray:  # Hyndman & Fan continuous methods
        return n * q + (alpha + q * (1 - alpha - beta)) - 1

    def discrete(index: np.ndarray, take_prev: Any) -> np.ndarray:
        prev = np.floor(index)
        gamma = index - prev
        return np.where(take_prev(gamma, index), prev, prev + 1)

    zero = np.zeros_like(q, dtype=np.float64)
    if method in ("lower", "higher", "nearest", "inverted_cdf", "closest_observation"):
        if method == "lower":
            idx = np.floor((n - 1) * q)
        elif method == "higher":
            idx = np.ceil((n - 1) * q)
        elif method == "nearest":
            idx = np.around((n - 1) * q)
        elif method == "inverted_cdf":
            idx = discrete(n * q - 1, lambda g, i: g == 0)
        else:
            idx = discrete(n * q - 1 - 0.5, lambda g, i: (g == 0) & (np.floor(i) % 2 == 1))
        return np.clip(idx, 0, n - 1).astype(np.intp), zero
    if method == "linear":
        vi = (n - 1) * q
    elif method == "midpoint":
        vi = 0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q))
    elif method == "averaged_inverted_cdf":
        vi = n * q - 1
    else:
        ab = {"interpolated_inverted_cdf": (0, 1), "hazen": (0.5, 0.5), "weibull": (0, 0),
              "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0)}
        if method not in ab:
            raise ValueError(f"{method!r} is not a valid method for quantile")
        vi = hf(*ab[method])
    vi = _arrays.asarray(vi, dtype=np.float64)
    prev = np.floor(vi)
    gamma = vi - prev
    if method == "averaged_inverted_cdf":
        gamma = np.where(gamma == 0, 0.5, 1.0)
    elif method == "midpoint":
        gamma = np.where(vi % 1 == 0, 0.0, 0.5)
    above = vi >= n - 1
    below = vi < 0
    prev = np.where(above, n - 1, np.where(below, 0, prev))
    gamma = np.where(above | below, 0.0, gamma)
    return prev.astype(np.intp), gamma


def _quantile_selection(xv: np.ndarray, qv: np.ndarray, axis: Any, method: str) -> tuple:
    """Which elements of x each quantile interpolates, and with what weights.

    Returns (idx, w): ``x[idx]`` has shape q.shape + kept shape + (2,), and the
    quantiles are ``sum(x[idx] * w, axis=-1)``.  Positions come from a stable argsort,
    so tied values are taken in their original order (torch.quantile's rule)."""
    nd = xv.ndim
    ax = tuple(sorted(set(norm_axis(axis, nd))))
    kept = tuple(i for i in range(nd) if i not in ax)
    kshape = tuple(xv.shape[i] for i in kept)
    rshape = tuple(xv.shape[i] for i in ax)
    xt = np.transpose(xv, kept + ax).reshape(kshape + (-1,))
    n = xt.shape[-1]
    if n == 0:
        raise ValueError("quantile of an empty slice")
    perm = np.argsort(xt, axis=-1, kind="stable")  # NaNs sort last
    lo, gamma = _virtual_index(n, qv, method)
    hi = np.minimum(lo + 1, n - 1)
    pos = np.stack([lo, hi], axis=-1)  # q.shape + (2,)
    nq = qv.ndim
    # sorted position -> flat index over the reduced axes, shape q + kept + (2,)
    flat = np.take(perm, pos, axis=-1)  # kept + q + (2,)
    flat = np.moveaxis(flat, tuple(range(len(kshape))), tuple(range(nq, nq + len(kshape))))
    w = np.stack([1.0 - gamma, gamma], axis=-1).reshape(qv.shape + (1,) * len(kshape) + (2,))
    last = np.take_along_axis(xt, perm[..., -1:], axis=-1)
    nan = np.isnan(last) if xt.dtype.kind in "fc" else None
    if nan is not None and _arrays.maybe_any(nan):  # the answer is NaN: send the gradient to a NaN
        nanpos = np.broadcast_to(perm[..., -1:], kshape + (1,))
        has = np.broadcast_to(nan.reshape((1,) * nq + kshape + (1,)), flat.shape)
        flat = np.where(has, nanpos.reshape((1,) * nq + kshape + (1,)), flat)
        w = np.where(has, np.array([1.0, 0.0]), w)
    coords = np.unravel_index(flat, rshape) if rshape else ()
    idx: list = [None] * nd
    for k, i in enumerate(kept):
        shp = [1] * (nq + len(kshape) + 1)
        shp[nq + k] = xv.shape[i]
        idx[i] = np.arange(xv.shape[i]).reshape(shp)
    for k, i in enumerate(ax):
        idx[i] = coords[k]
    return tuple(idx), np.broadcast_to(w, flat.shape)


def _qfwd(x: Any, q: Any = None, axis: Any = None, keepdims: bool = False,
          method: str = "linear", sel: Any = None, pct: bool = False) -> Any:
    f = np.percentile if pct else np.quantile
    return _arrays.asarray(f(x, q, axis=axis, keepdims=keepdims, method=method))


def _qvjp(g: Any, ans: Any, x: Any, q: Any = None, axis: Any = None, keepdims: bool = False,
          method: str = "linear", sel: Any = None, pct: bool = False) -> Any:
    idx, w = sel
    g = S.reshape(g, w.shape[:-1] + (1,))
    return I.scatter_add(g * _float_dtype(w, g), shape=x.shape, idx=idx)


def _qjvp(dx: Any, ans: Any, x: Any, q: Any = None, axis: Any = None, keepdims: bool = False,
          method: str = "linear", sel: Any = None, pct: bool = False) -> Any:
    idx, w = sel
    t = sum_prim(I.getitem(dx, idx=idx) * _float_dtype(w, dx), axis=-1)
    return S.reshape(t, ans.shape)


quantile_prim = defprim(_qfwd, "quantile", saves=(), saves_ans=False, kinked=True,
                        vjp=(_qvjp,), jvp=(_qjvp,))


def _quantile(name: str, a: Any, q: Any, axis: Any, keepdims: bool, method: str,
              weights: Any, interpolation: Any, pct: bool) -> Any:
    from ..core.tensor import Tensor

    if isinstance(q, Tensor) and (q._node is not None or q._tangents is not None):
        raise NotImplementedError(
            f"{name}: the gradient with respect to q is not supported (torch.{name} does not "
            f"differentiate q either); pass q.detach() if q is a constant")
    if weights is not None:
        raise NotImplementedError(f"{name}(weights=...) is not supported on Tensors")
    if interpolation is not None:
        method = interpolation
    qv = _arrays.asarray(value(q))
    qn = np.true_divide(qv, 100) if pct else qv
    if np.any((qn < 0) | (qn > 1)):
        raise ValueError(f"{name}: q must be in the range "
                         + ("[0, 100]" if pct else "[0, 1]"))
    axis = _axis(axis)
    if np.ndim(value(a)) == 0:
        a = S.reshape(a, (1,))
        axis = None
        r = _quantile(name, a, q, None, False, method, None, None, pct)
        return r
    sel = _quantile_selection(_arrays.asarray(value(a)), _arrays.asarray(qn, dtype=np.float64), axis, method)
    return quantile_prim(a, q=value(q), axis=axis, keepdims=keepdims, method=method, sel=sel,
                         pct=pct)


def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: Any = None,
             interpolation: Any = None) -> Any:
    _no_out("quantile", out)
    return _quantile("quantile", a, q, axis, keepdims, method, weights, interpolation, False)


def percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights: Any = None,
               interpolation: Any = None) -> Any:
    _no_out("percentile", out)
    return _quantile("percentile", a, q, axis, keepdims, method, weights, interpolation, True)


register("quantile", quantile)
register("percentile", percentile)


# ---------------------------------------------------------------------------------
# trace, diff, trapezoid


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Any:
    _no_out("trace", out)
    nd = np.ndim(value(a))
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    a1, a2 = norm_axis((axis1, axis2), nd)
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    xm = S.moveaxis(a, (a1, a2), (-2, -1))
    n, m = xm.shape[-2:]
    r0, c0 = builtins.max(-offset, 0), builtins.max(offset, 0)
    k = builtins.max(0, builtins.min(n - r0, m - c0))
    d = I.getitem(xm, idx=(Ellipsis, np.arange(k) + r0, np.arange(k) + c0))
    return sum_prim(d, axis=-1, dtype=dtype)


register("trace", trace, method=True)


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NoValue,
         append: Any = _NoValue) -> Any:
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    av = value(a)
    nd = np.ndim(av)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = norm_axis(axis, nd)[0]
    parts = []
    for extra in (prepend, append):
        if extra is _NoValue:
            parts.append(None)
            continue
        if np.ndim(value(extra)) == 0:
            shape = list(np.shape(av))
            shape[axis] = 1
            extra = S.broadcast_to(extra, tuple(shape)) if hasattr(extra, "shape") else \
                np.broadcast_to(extra, tuple(shape))
        parts.append(extra)
    if parts[0] is not None or parts[1] is not None:
        seq = ([parts[0]] if parts[0] is not None else []) + [a] + \
              ([parts[1]] if parts[1] is not None else [])
        a = S.concatenate(seq, axis=axis)
    if _arrays.asarray(value(a)).dtype == bool:
        return np.diff(_arrays.asarray(value(a)), n=n, axis=axis)
    hi = [slice(None)] * nd
    lo = [slice(None)] * nd
    hi[axis] = slice(1, None)
    lo[axis] = slice(None, -1)
    for _ in range(n):
        a = a[tuple(hi)] - a[tuple(lo)]
    return a


register("diff", diff)


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """np.trapezoid; y, x and dx may all be Tensors."""
    nd = np.ndim(value(y))
    if x is None:
        d = dx
    else:
        if np.ndim(value(x)) == 1:
            d = diff(x)
            shape = [1] * nd
            shape[axis] = d.shape[0]
            d = S.reshape(d, tuple(shape)) if hasattr(d, "shape") and not isinstance(
                d, np.ndarray) else np.reshape(d, shape)
        else:
            d = diff(x, axis=axis)
    hi = [slice(None)] * nd
    lo = [slice(None)] * nd
    hi[axis] = slice(1, None)
    lo[axis] = slice(None, -1)
    return sum(d * (y[tuple(hi)] + y[tuple(lo)]) / 2.0, axis=axis)


register("trapezoid", trapezoid)


def _gradient_axis(f: Any, h: Any, ax: int, nd: int, edge_order: int) -> Any:
    """np.gradient along one axis: second-order central differences inside, one-sided
    differences of order ``edge_order`` at the ends.  ``h`` is a scalar spacing or the
    coordinates along the axis; f and h may be Tensors (the result is linear in f)."""
    n = np.shape(value(f))[ax]

    def at(sl: Any) -> Any:
        return f[(slice(None),) * ax + (sl,)]

    def along(v: Any) -> Any:  # a 1-d coefficient, shaped to broadcast along ax
        shape = [1] * nd
        shape[ax] = -1
        return S.reshape(v, tuple(shape))

    if np.ndim(value(h)) == 0:
        mid = (at(slice(2, None)) - at(slice(None, -2))) / (2.0 * h)
        if edge_order == 1:
            first = (at(slice(1, 2)) - at(slice(0, 1))) / h
            last = (at(slice(n - 1, n)) - at(slice(n - 2, n - 1))) / h
        else:
            first = (-1.5 * at(slice(0, 1)) + 2.0 * at(slice(1, 2)) - 0.5 * at(slice(2, 3))) / h
            last = (0.5 * at(slice(n - 3, n - 2)) - 2.0 * at(slice(n - 2, n - 1))
                    + 1.5 * at(slice(n - 1, n))) / h
    else:
        if np.ndim(value(h)) != 1 or np.shape(value(h))[0] != n:
            raise ValueError("when 1d, distances must match the length of the corresponding "
                             "dimension")
        dx = diff(h if _arrays.asarray(value(h)).dtype.kind in "fc" else
                  _arrays.asarray(value(h), dtype=np.float64))
        d1, d2 = dx[:-1], dx[1:]
        a = along(-d2 / (d1 * (d1 + d2)))
        b = along((d2 - d1) / (d1 * d2))
        c = along(d1 / (d2 * (d1 + d2)))
        mid = a * at(slice(None, -2)) + b * at(slice(1, -1)) + c * at(slice(2, None))
        if edge_order == 1:
            first = (at(slice(1, 2)) - at(slice(0, 1))) / dx[0]
            last = (at(slice(n - 1, n)) - at(slice(n - 2, n - 1))) / dx[n - 2]
        else:
            p, q = dx[0], dx[1]
            first = (-(2.0 * p + q) / (p * (p + q)) * at(slice(0, 1))
                     + (p + q) / (p * q) * at(slice(1, 2)) - p / (q * (p + q)) * at(slice(2, 3)))
            p, q = dx[n - 3], dx[n - 2]
            last = (q / (p * (p + q)) * at(slice(n - 3, n - 2))
                    - (p + q) / (p * q) * at(slice(n - 2, n - 1))
                    + (2.0 * q + p) / (q * (p + q)) * at(slice(n - 1, n)))
    return S.concatenate([first, mid, last], axis=ax)


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """np.gradient: a linear map of f (spacing given as scalars or coordinates)."""
    fv = value(f)
    nd = np.ndim(fv)
    if nd == 0:
        raise ValueError("gradient requires an array with at least one dimension")
    axes = tuple(range(nd)) if axis is None else norm_axis(axis, nd)
    if len(set(axes)) != len(axes):
        raise ValueError("duplicate value in 'axis'")
    if len(varargs) == 0:
        spacing: list = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(value(varargs[0])) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    if _arrays.asarray(fv).dtype.kind not in "fc":
        f = E.astype(f, dtype=np.dtype(np.float64))
    out = []
    for ax, h in zip(axes, spacing, strict=True):
        if np.shape(fv)[ax] < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")
        out.append(_gradient_axis(f, h, ax, nd, edge_order))
    return out[0] if len(out) == 1 else tuple(out)


register("gradient", gradient)
