"""The primitives behind the network layers: erf, linear, relu, conv2d and max_pool2d.

Everything else in ``chainrule.nn`` is composed of the core primitives.  These three
are primitives because a composition would be slow (conv, pooling) or impossible
(NumPy has no erf).  Each rule is written with primitives, so every order works:

* ``conv2d(x, w)``, ``conv2d_input_grad(gy, w)`` and ``conv2d_weight_grad(x, gy)``
  are one bilinear form seen from its three sides; the VJP of each side is one of
  the other two, and their JVPs are themselves (bilinearity).
* ``linear(x, w)``: x @ w.T, one op with a contiguous weight gradient.
* ``relu(x)``: max(x, 0) with derivative 0 at 0 (PyTorch's), one op instead of a select.
* ``max_pool2d(x)``: its VJP scatters the cotangent to the winners of each window
  (``max_pool2d_scatter``), its JVP gathers the tangent there (``max_pool2d_gather``);
  those two are linear and each other's transpose.

Layouts are PyTorch's: x (N, C, H, W), weight (O, C // groups, KH, KW).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import arrays as _arrays
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from ..core.errors import ShapeError
from ..ops import elementwise as E
from ..ops import products as L
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import special as SP
from ..ops.util import contiguous, defprim, full_for, registered, value, zeros_for

# ---------------------------------------------------------------------------------
# erf


def _erf_impl() -> Any:
    try:
        from scipy.special import erf

        return erf
    except ImportError:  # pragma: no cover - scipy ships with scikit-learn
        vec = np.frompyfunc(math.erf, 1, 1)
        return lambda x: vec(x)


_ERF: Any = None


def _erf_fwd(x: Any) -> Any:
    global _ERF
    x = _arrays.asarray(x)
    if x.dtype.kind == "c":
        raise TypeError("erf: complex input is not supported")
    if _ERF is None:
        _ERF = _erf_impl()
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    return _arrays.asarray(_ERF(x), dtype=dt)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_deriv(x: Any) -> Any:
    return _TWO_OVER_SQRT_PI * E.exp(-(x * x))


erf = defprim(
    _erf_fwd, "erf", saves_ans=False,
    vjp=(lambda g, ans, x: g * _erf_deriv(x),),
    jvp=(lambda dx, ans, x: dx * _erf_deriv(x),),
)

# ---------------------------------------------------------------------------------
# linear: x @ w.T as one op whose weight gradient comes out C-contiguous (the layout of
# the weight), so that optimizer updates run on contiguous memory


def _linear_fwd(x: Any, w: Any) -> Any:
    return np.matmul(x, np.transpose(w))


def _linear_vjp_w(g: Any, ans: Any, x: Any, w: Any) -> Any:
    out, inn = w.shape
    if g.__class__ is np.ndarray and x.__class__ is np.ndarray:
        # first order on plain arrays: the same NumPy calls without the primitives' layer
        return np.matmul(g.reshape((-1, out)).T, x.reshape((-1, inn)))
    g2 = S.reshape(g, (-1, out))
    return L.matmul(S.transpose_prim(g2, axes=None), S.reshape(x, (-1, inn)))


linear = defprim(
    _linear_fwd, "linear", saves_ans=False,
    vjp=(lambda g, ans, x, w: L.matmul(g, w), _linear_vjp_w),
    jvp=(lambda dx, ans, x, w: linear(dx, w), lambda dw, ans, x, w: linear(x, dw)),
)


# ---------------------------------------------------------------------------------
# relu: a primitive for speed (np.where is slow, and max(x, 0) would split the gradient
# at 0); the derivative at 0 is 0, as in PyTorch


def _relu_fwd(x: Any) -> Any:
    return np.maximum(x, 0)


def _relu_mask(ans: Any) -> np.ndarray:
    if ans.__class__ is np.ndarray:  # (the first-order backward: no unwrapping to do)
        return ans > 0
    return _arrays.asarray(value(ans)) > 0


relu = defprim(
    _relu_fwd, "relu", saves=(), saves_ans=True, kinked=True,
    vjp=(lambda g, ans, x: g * _relu_mask(ans),),
    jvp=(lambda dx, ans, x: dx * _relu_mask(ans),),
)


# ---------------------------------------------------------------------------------
# softmax cross-entropy, fused: loss = -sum(pick * log_softmax(x)) with a constant
# coefficient array ``pick`` (x's shape) that holds the class weights, the 1/N of a mean
# and the label smoothing; ``rowsum`` = sum(pick, axis, keepdims).  One node instead of
# log_softmax, a product and a sum.  d loss / dx = softmax(x) * rowsum - pick, written
# with softmax_prim, so every order works.  The forward computes the softmax anyway and
# leaves it in ``cache`` (a list made per call) tagged with the very array it came from:
# the first-order rules use it when they are handed that array, and recompute otherwise.


def _add_reduce(x: Any, axis: Any, keepdims: bool = False) -> Any:
    # (the ufunc method skips np.sum's Python layer; Dask has only np.sum)
    return (np.add.reduce if x.__class__ is np.ndarray else np.sum)(x, axis=axis,
                                                                     keepdims=keepdims)


def _sce_fwd(x: Any, pick: Any = None, rowsum: Any = None, axis: int = 1, reduce: bool = True,
             cache: Any = None) -> Any:
    if x.__class__ is np.ndarray:
        m = np.maximum.reduce(x, axis=axis, keepdims=True)
        finite = np.logical_and.reduce(np.isfinite(m), axis=None)  # (np.all's C part)
        out = _sce_shifted(x, m, finite, pick, rowsum, axis, reduce, cache)
        # a 0-d array, not a NumPy scalar: what the engine would make of the scalar, after
        # asking which array library it comes from
        return np.asarray(out) if reduce else out
    m = np.max(x, axis=axis, keepdims=True)
    return _sce_shifted(x, m, not _arrays.maybe_any(~np.isfinite(m)), pick, rowsum, axis,
                        reduce, cache)


def _sce_shifted(x: Any, m: Any, finite: bool, pick: Any, rowsum: Any, axis: int,
                 reduce: bool, cache: Any) -> Any:
    if finite:
        return _sce_rest(x, m, pick, rowsum, axis, reduce, cache)
    # an infinite maximum: shift by 0 there (as log_softmax does), let NaN/inf through quietly
    with np.errstate(divide="ignore", invalid="ignore"):
        return _sce_rest(x, np.where(np.isfinite(m), m, 0), pick, rowsum, axis, reduce, cache)


def _sce_rest(x: Any, m: Any, pick: Any, rowsum: Any, axis: int, reduce: bool,
              cache: Any) -> Any:
    y = x - m
    e = np.exp(y)
    s = _add_reduce(e, axis=axis, keepdims=True)
    lse = np.log(s)
    if cache is not None:
        e /= s  # the softmax, for the rules
        cache[:] = [x, e]
    if reduce:
        # sum(rowsum * lse) - sum(pick * y), each one call
        if rowsum.ndim:
            out = np.vdot(rowsum, lse)
        else:
            out = rowsum * _add_reduce(lse, axis=None)
        return out - np.vdot(pick, y)
    per = rowsum * lse
    per -= _add_reduce(pick * y, axis=axis, keepdims=True)
    return np.squeeze(per, axis=axis)


def _sce_weights(x: Any, pick: Any, rowsum: Any, axis: int, cache: Any, take: bool) -> Any:
    """softmax(x) * rowsum - pick (a fresh plain array when x is the forward's own array)."""
    if cache and cache[0] is x and x.__class__ is np.ndarray:
        sm = cache[1]
        if take:
            cache.clear()  # the caller may write into it
        else:
            sm = sm.copy()
        sm *= rowsum
        sm -= pick
        return sm
    return SP.softmax_prim(x, axis=axis) * rowsum - pick


def _sce_vjp(g: Any, ans: Any, x: Any, pick: Any = None, rowsum: Any = None, axis: int = 1,
             reduce: bool = True, cache: Any = None) -> Any:
    q = _sce_weights(x, pick, rowsum, axis, cache, True)
    if not reduce:
        g = np.expand_dims(g, axis) if g.__class__ is np.ndarray else \
            S.reshape(g, tuple(1 if i == axis else n for i, n in enumerate(x.shape)))
    if q.__class__ is np.ndarray and g.__class__ is np.ndarray and (
            g.dtype is q.dtype or q.dtype == np.result_type(q, g)):
        q *= g
        return q
    return g * q


def _sce_jvp(dx: Any, ans: Any, x: Any, pick: Any = None, rowsum: Any = None, axis: int = 1,
             reduce: bool = True, cache: Any = None) -> Any:
    t = dx * _sce_weights(x, pick, rowsum, axis, cache, False)
    return R.sum_prim(t) if reduce else R.sum_prim(t, axis=axis)


softmax_cross_entropy = defprim(
    _sce_fwd, "softmax_cross_entropy", saves_ans=False,
    vjp=(_sce_vjp,), jvp=(_sce_jvp,),
)
softmax_cross_entropy.__doc__ = (
    "-sum(pick * log_softmax(x, axis)) over everything (reduce) or over axis only; the "
    "constant pick (x's shape) holds targets, weights and smoothing, rowsum = its sum "
    "over axis (keepdims).")


# ---------------------------------------------------------------------------------
# convolution geometry


def count(v: Any, name: str, minimum: int = 0) -> int:
    """A size or count given by the user: an integer (not a bool, not a float: PyTorch refuses
    them too, and truncating 2.5 to 2 would build another layer) of at least ``minimum``."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {v!r} ({type(v).__name__})")
    if v < minimum:
        want = "a positive integer" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {want}, got {int(v)}")
    return int(v)


def pair(v: Any, name: str) -> tuple[int, int]:
    """An int or a pair of ints (kernel_size, stride, dilation >= 1; padding >= 0)."""
    low = 0 if name.endswith("padding") else 1
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        v = count(v, name, low)
        return v, v
    try:
        t = tuple(v)
    except TypeError:  # a float, a bool, None ...: refused as a size
        count(v, name, low)
        raise
    if len(t) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return count(t[0], name, low), count(t[1], name, low)


def out_size(n: int, lo: int, hi: int, k: int, s: int, d: int) -> int:
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def _pad(x: np.ndarray, padding: tuple, fill: float = 0.0) -> np.ndarray:
    (pt, pb), (pl, pr) = padding
    if pt == pb == pl == pr == 0:
        return x
    n, c, h, w = x.shape
    out = full_for((n, c, h + pt + pb, w + pl + pr), fill, x.dtype, x)
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


def _windows(xp: np.ndarray, kh: int, kw: int, oh: int, ow: int, stride: tuple,
             dilation: tuple) -> np.ndarray:
    """Read-only view (N, C, OH, OW, KH, KW) of the windows of a padded NCHW input."""
    if registered(xp):  # as_strided converts: NumPy's sliding windows, strided
        return _sliding(xp, (2, 3), kh, kw, oh, ow, stride, dilation)
    sn, sc, sh, sw = xp.strides
    return as_strided(
        xp, (xp.shape[0], xp.shape[1], oh, ow, kh, kw),
        (sn, sc, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1]),
        writeable=False,
    )


def _sliding(x: Any, axes: tuple, kh: int, kw: int, oh: int, ow: int, stride: tuple,
             dilation: tuple) -> Any:
    """The windows of ``x`` along ``axes`` (OH x OW of them, KH x KW taps each, appended
    as the last two axes) with ``sliding_window_view`` (NEP 18: a traced array stays one)."""
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    win = sliding_window_view(x, (eh, ew), axis=axes)
    pick = [slice(None)] * win.ndim
    pick[axes[0]] = slice(0, stride[0] * (oh - 1) + 1, stride[0])
    pick[axes[1]] = slice(0, stride[1] * (ow - 1) + 1, stride[1])
    pick[-2] = slice(None, None, dilation[0])
    pick[-1] = slice(None, None, dilation[1])
    return win[tuple(pick)]


def _tap(p: int, q: int, oh: int, ow: int, stride: tuple, dilation: tuple) -> tuple:
    """The slice of the padded input that kernel tap (p, q) sees at every output position."""
    h0, w0 = p * dilation[0], q * dilation[1]
    return (slice(h0, h0 + stride[0] * (oh - 1) + 1, stride[0]),
            slice(w0, w0 + stride[1] * (ow - 1) + 1, stride[1]))


def _real(name: str, *xs: Any) -> None:
    for x in xs:
        if _arrays.asarray(x).dtype.kind == "c":
            raise TypeError(f"{name}: complex tensors are not supported")


def _conv_geometry(x_shape: tuple, w_shape: tuple, stride: tuple, padding: tuple,
                   dilation: tuple, groups: int) -> tuple[int, int]:
    if len(x_shape) != 4:
        raise ShapeError(f"conv2d: input must be 4-D (N, C, H, W), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ShapeError(f"conv2d: weight must be 4-D (O, C/groups, KH, KW), got {tuple(w_shape)}")
    c, o = x_shape[1], w_shape[0]
    if c != w_shape[1] * groups:
        raise ShapeError(
            f"conv2d: input has {c} channels but weight {tuple(w_shape)} with groups={groups} "
            f"expects {w_shape[1] * groups}"
        )
    if o % groups:
        raise ShapeError(f"conv2d: {o} output channels are not divisible by groups={groups}")
    oh = out_size(x_shape[2], *padding[0], w_shape[2], stride[0], dilation[0])
    ow = out_size(x_shape[3], *padding[1], w_shape[3], stride[1], dilation[1])
    if oh <= 0 or ow <= 0:
        raise ShapeError(
            f"conv2d: the kernel {tuple(w_shape[2:])} (dilation {dilation}) does not fit the "
            f"padded input {x_shape[2] + sum(padding[0])}x{x_shape[3] + sum(padding[1])}"
        )
    return oh, ow


# ---------------------------------------------------------------------------------
# the three sides of the convolution, computed channels-last: im2col rows are
# (n, i, j), columns (p, q, c), so each window row copies runs of KW * C contiguous values


def _nhwc_padded(x: np.ndarray, padding: tuple) -> np.ndarray:
    (pt, pb), (pl, pr) = padding
    n, c, h, w = x.shape
    out = zeros_for((n, h + pt + pb, w + pl + pr, c), x.dtype, x)
    out[:, pt:pt + h, pl:pl + w, :] = x.transpose(0, 2, 3, 1)
    return out


def _cols(xh: np.ndarray, kh: int, kw: int, oh: int, ow: int, stride: tuple,
          dilation: tuple) -> np.ndarray:
    """im2col of a padded NHWC input: (N * OH * OW, KH * KW * C)."""
    n, c = xh.shape[0], xh.shape[3]
    if registered(xh):  # as_strided converts: NumPy's sliding windows, strided
        win = _sliding(xh, (1, 2), kh, kw, oh, ow, stride, dilation)  # (N, OH, OW, C, KH, KW)
        return win.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
    sn, sh, sw, sc = xh.strides
    win = as_strided(xh, (n, oh, ow, kh, kw, c),
                     (sn, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1], sc),
                     writeable=False)
    return win.reshape(n * oh * ow, kh * kw * c)


def _wmat(w: np.ndarray) -> np.ndarray:
    """Weight (O, C, KH, KW) as the (KH * KW * C, O) matrix that multiplies im2col rows."""
    o = w.shape[0]
    return w.transpose(2, 3, 1, 0).reshape(-1, o)


def _gmat(gy: np.ndarray) -> np.ndarray:
    """Output-shaped (N, O, OH, OW) as (N * OH * OW, O) rows."""
    return gy.transpose(0, 2, 3, 1).reshape(-1, gy.shape[1])


def _conv_fwd(x: Any, w: Any, stride: tuple = (1, 1), padding: tuple = ((0, 0), (0, 0)),
              dilation: tuple = (1, 1), groups: int = 1) -> np.ndarray:
    x, w = _arrays.asarray(x), _arrays.asarray(w)
    _real("conv2d", x, w)
    oh, ow = _conv_geometry(x.shape, w.shape, stride, padding, dilation, groups)
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    og = o // groups
    xh = _nhwc_padded(x, padding)
    parts = []
    for g in range(groups):
        cols = _cols(xh[..., g * cg:(g + 1) * cg], kh, kw, oh, ow, stride, dilation)
        parts.append(cols @ _wmat(w[g * og:(g + 1) * og]))
    y = parts[0] if groups == 1 else np.concatenate(parts, axis=1)
    return contiguous(y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))


def _conv_input_grad_fwd(gy: Any, w: Any, x_shape: tuple = (), stride: tuple = (1, 1),
                         padding: tuple = ((0, 0), (0, 0)), dilation: tuple = (1, 1),
                         groups: int = 1) -> np.ndarray:
    gy, w = _arrays.asarray(gy), _arrays.asarray(w)
    n, c, h, wd = x_shape
    oh, ow = gy.shape[2:]
    (pt, pb), (pl, pr) = padding
    o, cg, kh, kw = w.shape
    og = o // groups
    gm = _gmat(gy)
    dxh = zeros_for((n, h + pt + pb, wd + pl + pr, c), np.result_type(gy, w), gy, w)
    for g in range(groups):
        # col2im: each tap adds its block of columns back where it was read from
        dcols = (gm[:, g * og:(g + 1) * og] @ _wmat(w[g * og:(g + 1) * og]).T).reshape(
            n, oh, ow, kh, kw, cg)
        cs = slice(g * cg, (g + 1) * cg)  # (written through dxh: a lazy array has no views)
        for p in range(kh):
            for q in range(kw):
                hs, ws = _tap(p, q, oh, ow, stride, dilation)
                dxh[:, hs, ws, cs] += dcols[:, :, :, p, q, :]
    return contiguous(dxh[:, pt:pt + h, pl:pl + wd, :].transpose(0, 3, 1, 2))


def _conv_weight_grad_fwd(x: Any, gy: Any, w_shape: tuple = (), stride: tuple = (1, 1),
                          padding: tuple = ((0, 0), (0, 0)), dilation: tuple = (1, 1),
                          groups: int = 1) -> np.ndarray:
    x, gy = _arrays.asarray(x), _arrays.asarray(gy)
    o, cg, kh, kw = w_shape
    oh, ow = gy.shape[2:]
    og = o // groups
    xh = _nhwc_padded(x, padding)
    gm = _gmat(gy)
    parts = []
    for g in range(groups):
        cols = _cols(xh[..., g * cg:(g + 1) * cg], kh, kw, oh, ow, stride, dilation)
        dwm = cols.T @ gm[:, g * og:(g + 1) * og]  # (KH * KW * Cg, Og)
        parts.append(dwm.reshape(kh, kw, cg, og).transpose(3, 2, 0, 1))
    dw = parts[0] if groups == 1 else np.concatenate(parts, axis=0)
    return contiguous(dw)


def _geo(kw: dict) -> dict:
    return {k: kw[k] for k in ("stride", "padding", "dilation", "groups")}


# y = A(x, w);  dx = B(gy, w);  dw = C(x, gy).  <gy, A(x, w)> = <B(gy, w), x> = <C(x, gy), w>
conv2d = defprim(
    _conv_fwd, "conv2d", saves_ans=False,
    vjp=(lambda g, ans, x, w, **kw: conv2d_input_grad(g, w, x_shape=x.shape, **kw),
         lambda g, ans, x, w, **kw: conv2d_weight_grad(x, g, w_shape=w.shape, **kw)),
    jvp=(lambda dx, ans, x, w, **kw: conv2d(dx, w, **kw),
         lambda dw, ans, x, w, **kw: conv2d(x, dw, **kw)),
)
conv2d_input_grad = defprim(
    _conv_input_grad_fwd, "conv2d_input_grad", saves_ans=False,
    vjp=(lambda g, ans, gy, w, x_shape=(), **kw: conv2d(g, w, **kw),
         lambda g, ans, gy, w, x_shape=(), **kw: conv2d_weight_grad(g, gy, w_shape=w.shape, **kw)),
    jvp=(lambda d, ans, gy, w, **kw: conv2d_input_grad(d, w, **kw),
         lambda d, ans, gy, w, **kw: conv2d_input_grad(gy, d, **kw)),
)
conv2d_weight_grad = defprim(
    _conv_weight_grad_fwd, "conv2d_weight_grad", saves_ans=False,
    vjp=(lambda g, ans, x, gy, w_shape=(), **kw: conv2d_input_grad(gy, g, x_shape=x.shape, **kw),
         lambda g, ans, x, gy, w_shape=(), **kw: conv2d(x, g, **kw)),
    jvp=(lambda d, ans, x, gy, **kw: conv2d_weight_grad(d, gy, **kw),
         lambda d, ans, x, gy, **kw: conv2d_weight_grad(x, d, **kw)),
)

# ---------------------------------------------------------------------------------
# max pooling


def pool_geometry(x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple,
                  dilation: tuple, ceil_mode: bool) -> tuple:
    """(OH, OW, padding as ((top, bottom), (left, right))) with PyTorch's rules."""
    if len(x_shape) != 4:
        raise ShapeError(f"max_pool2d: input must be 4-D (N, C, H, W), got {tuple(x_shape)}")
    for k, p in zip(kernel, padding, strict=False):
        if p > k // 2:
            raise ValueError(
                f"max_pool2d: padding {padding} must be at most half the kernel size {kernel}"
            )
    outs, pads = [], []
    for n, k, s, p, d in zip(x_shape[2:], kernel, stride, padding, dilation, strict=False):
        span = n + 2 * p - d * (k - 1) - 1
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1  # the last window must start inside the input or the left padding
        if o <= 0:
            raise ShapeError(
                f"max_pool2d: the window {kernel} (dilation {dilation}) does not fit the input "
                f"{tuple(x_shape[2:])} padded by {padding}"
            )
        hi = max((o - 1) * s + d * (k - 1) + 1 - n - p, 0)
        outs.append(o)
        pads.append((p, hi))
    return outs[0], outs[1], tuple(pads)


def _fill_for(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _tiles(x_shape: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
           ceil_mode: bool) -> tuple[int, int] | None:
    """(OH, OW) when the windows tile the input without overlap or padding, else None."""
    if stride != kernel or dilation != (1, 1) or padding != (0, 0):
        return None
    oh, ow, pads = pool_geometry(x_shape, kernel, stride, padding, dilation, ceil_mode)
    if pads[0][1] or pads[1][1]:
        return None
    return oh, ow


def _blocks(x: np.ndarray, kernel: tuple, oh: int, ow: int) -> np.ndarray:
    """(N, C, OH, OW, KH * KW) copy of the tiles of x (tiling case)."""
    kh, kw = kernel
    n, c = x.shape[:2]
    t = x[:, :, :oh * kh, :ow * kw].reshape(n, c, oh, kh, ow, kw)
    return t.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)


def _unblocks(b: np.ndarray, kernel: tuple, x_shape: tuple) -> np.ndarray:
    kh, kw = kernel
    n, c, oh, ow = b.shape[:4]
    t = b.reshape(n, c, oh, ow, kh, kw).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * kh, ow * kw)
    if t.shape == tuple(x_shape):
        return contiguous(t)
    out = zeros_for(x_shape, b.dtype, b)
    out[:, :, :oh * kh, :ow * kw] = t
    return out


def _pool_fwd(x: Any, kernel: tuple = (2, 2), stride: tuple = (2, 2),
              padding: tuple = (0, 0), dilation: tuple = (1, 1),
              ceil_mode: bool = False) -> np.ndarray:
    x = _arrays.asarray(x)
    _real("max_pool2d", x)
    oh, ow, pads = pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    xp = _pad(x, pads, _fill_for(x.dtype))
    out = None
    for p in range(kernel[0]):
        for q in range(kernel[1]):
            hs, ws = _tap(p, q, oh, ow, stride, dilation)
            tap = xp[:, :, hs, ws]
            out = tap.copy() if out is None else np.maximum(out, tap)  # NaN propagates
    return out


def _pool_argmax(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                 ceil_mode: bool) -> np.ndarray:
    """For each output, the tap (p * KW + q) of its window's first maximum (a NaN wins)."""
    oh, ow, pads = pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    if _tiles(x.shape, kernel, stride, padding, dilation, ceil_mode):
        b = _blocks(x, kernel, oh, ow)
    else:
        xp = _pad(x, pads, _fill_for(x.dtype))
        b = _windows(xp, kernel[0], kernel[1], oh, ow, stride, dilation).reshape(
            x.shape[0], x.shape[1], oh, ow, -1)
    return b.argmax(axis=-1)


def _scatter_fwd(g: Any, idx: Any = None, x_shape: tuple = (), kernel: tuple = (2, 2),
                 stride: tuple = (2, 2), padding: tuple = (0, 0), dilation: tuple = (1, 1),
                 ceil_mode: bool = False) -> np.ndarray:
    g = _arrays.asarray(g)
    kk = kernel[0] * kernel[1]
    if _tiles(x_shape, kernel, stride, padding, dilation, ceil_mode):
        b = (idx[..., None] == np.arange(kk)) * g[..., None]
        return _unblocks(b.astype(g.dtype, copy=False), kernel, x_shape)
    n, c, h, w = x_shape
    oh, ow, pads = pool_geometry(x_shape, kernel, stride, padding, dilation, ceil_mode)
    (pt, pb), (pl, pr) = pads
    dxp = zeros_for((n, c, h + pt + pb, w + pl + pr), g.dtype, g, idx)
    k = 0
    for p in range(kernel[0]):
        for q in range(kernel[1]):
            hs, ws = _tap(p, q, oh, ow, stride, dilation)
            dxp[:, :, hs, ws] += (idx == k) * g
            k += 1
    return dxp[:, :, pt:pt + h, pl:pl + w].copy() if (pt or pb or pl or pr) else dxp


def _gather_fwd(gx: Any, idx: Any = None, x_shape: tuple = (), kernel: tuple = (2, 2),
                stride: tuple = (2, 2), padding: tuple = (0, 0), dilation: tuple = (1, 1),
                ceil_mode: bool = False) -> np.ndarray:
    gx = _arrays.asarray(gx)
    oh, ow, pads = pool_geometry(x_shape, kernel, stride, padding, dilation, ceil_mode)
    if _tiles(x_shape, kernel, stride, padding, dilation, ceil_mode):
        b = _blocks(gx, kernel, oh, ow)
    else:
        gp = _pad(gx, pads)
        b = _windows(gp, kernel[0], kernel[1], oh, ow, stride, dilation).reshape(
            gx.shape[0], gx.shape[1], oh, ow, -1)
    return np.take_along_axis(b, idx[..., None], axis=-1)[..., 0]


def _pool_kw(kw: dict) -> dict:
    return {k: kw[k] for k in ("kernel", "stride", "padding", "dilation", "ceil_mode") if k in kw}


def _winners(x: Any, kw: dict) -> np.ndarray:
    p = {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0), "dilation": (1, 1),
         "ceil_mode": False}
    p.update(_pool_kw(kw))
    return _pool_argmax(_arrays.asarray(value(x)), **p)


max_pool2d_scatter = defprim(
    _scatter_fwd, "max_pool2d_scatter", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, gy, **kw: max_pool2d_gather(g, **kw),),
)
max_pool2d_gather = defprim(
    _gather_fwd, "max_pool2d_gather", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, gx, **kw: max_pool2d_scatter(g, **kw),),
)
max_pool2d = defprim(
    _pool_fwd, "max_pool2d", saves_ans=False, kinked=True,
    vjp=(lambda g, ans, x, **kw: max_pool2d_scatter(
        g, idx=_winners(x, kw), x_shape=tuple(x.shape), **_pool_kw(kw)),),
    jvp=(lambda dx, ans, x, **kw: max_pool2d_gather(
        dx, idx=_winners(x, kw), x_shape=tuple(x.shape), **_pool_kw(kw)),),
)
