"""More of ``torch.nn.functional``: 1-d and transposed convolution, average and adaptive
pooling, resampling, padding, group normalisation, ELU / PReLU, channel dropout and the
BCE / Huber / smooth-L1 / KL losses.

Everything here is composed of existing differentiable ops, so it works in both modes and
to any order:

* ``conv1d`` is ``conv2d`` on a height-1 image; ``conv_transpose2d`` is the input-gradient
  side of the ``conv2d`` primitive trio (``conv2d_input_grad``), the operator a transposed
  convolution is by definition, so its derivatives are the other two sides.
* ``avg_pool*`` sums windows with a ones kernel through the ``conv2d`` primitive and
  divides by a constant divisor array (``count_include_pad``, ``ceil_mode``,
  ``divisor_override``); the window geometry is max pooling's (``pool_geometry``).
* ``adaptive_avg_pool*`` and ``interpolate`` are linear maps along each spatial axis:
  constant averaging matrices (adaptive pooling) and gathers with constant blend weights
  (nearest / linear interpolation).
* ``pad`` maps PyTorch's modes onto the differentiable ``np.pad`` (constant, edge,
  reflect, wrap); negative constant padding crops.

Public names are re-exported by ``chainrule.nn.functional``.
"""

from __future__ import annotations

import math as _math
from typing import Any as _Any

import numpy as _np

from ..core import arrays as _arrays
from ..core.errors import ShapeError as _ShapeError
from ..ops import elementwise as _E
from ..ops import products as _L
from ..ops import reduce as _R
from ..ops import shape as _S
from ..ops.index import getitem as _getitem
from ..ops.util import value as _value
from . import primitives as _prims
from . import random as _random

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d",
    "binary_cross_entropy", "conv1d", "conv_transpose2d", "dropout1d", "dropout2d", "elu",
    "group_norm", "huber_loss", "interpolate", "kl_div", "pad", "prelu", "smooth_l1_loss",
]


def _shape(x: _Any) -> tuple:
    return tuple(_np.shape(_value(x)))


def _float_dtype(x: _Any) -> _np.dtype:
    d = _arrays.asarray(_value(x)).dtype
    return d if d.kind in "fc" else _np.dtype(_np.float64)


def _single(v: _Any, name: str) -> int:
    """An int or a 1-tuple of one (PyTorch's 1-d sizes); padding may be 0, the rest >= 1."""
    low = 0 if name.endswith("padding") else 1
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    return _prims.count(v, name, low)


def _no_inplace(name: str, inplace: bool) -> None:
    if inplace:
        raise NotImplementedError(
            f"{name}(inplace=True) is not supported: chainrule values are not modified in "
            f"place; call it with inplace=False and use the result")


def _no_legacy(name: str, size_average: _Any, reduce: _Any) -> None:
    if size_average is not None or reduce is not None:
        raise NotImplementedError(
            f"{name}: the deprecated size_average / reduce arguments are not supported; "
            f"pass reduction='mean' | 'sum' | 'none'")


def _batched(input: _Any, nd: int, name: str, what: str) -> tuple[_Any, bool]:
    """``input`` with a batch axis (added when it has ``nd - 1`` dimensions)."""
    n = len(_shape(input))
    if n == nd:
        return input, False
    if n == nd - 1:
        return _S.reshape(input, (1,) + _shape(input)), True
    raise _ShapeError(f"{name}: expected a {nd - 1}-D or {nd}-D input {what}, got shape "
                      f"{_shape(input)}")


def _unbatch(y: _Any, unbatched: bool) -> _Any:
    return _S.reshape(y, _shape(y)[1:]) if unbatched else y


# ---------------------------------------------------------------------------------
# convolutions


def conv1d(input: _Any, weight: _Any, bias: _Any = None, stride: _Any = 1, padding: _Any = 0,
           dilation: _Any = 1, groups: int = 1) -> _Any:
    """1-D cross-correlation (PyTorch's conv1d): input (N, C, L) or (C, L), weight
    (O, C // groups, K), optional bias (O,); ``padding`` an int, 'valid' or 'same'."""
    s, d = _single(stride, "conv1d: stride"), _single(dilation, "conv1d: dilation")
    g = _prims.count(groups, "conv1d: groups", 1)
    ws = _shape(weight)
    if len(ws) != 3:
        raise _ShapeError(f"conv1d: weight must be 3-D (O, C/groups, K), got shape {ws}")
    x, unbatched = _batched(input, 3, "conv1d", "(N, C, L)")
    n, c, length = _shape(x)
    o, cg, k = ws
    if c != cg * g:
        raise _ShapeError(f"conv1d: input has {c} channels but weight {ws} with groups={g} "
                          f"expects {cg * g}")
    if o % g:
        raise _ShapeError(f"conv1d: {o} output channels are not divisible by groups={g}")
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = 0
        elif padding == "same":
            if s != 1:
                raise ValueError("conv1d: padding='same' is not supported for strided "
                                 "convolutions")
            total = d * (k - 1)
            lo, hi = total // 2, total - total // 2
        else:
            raise ValueError(f"conv1d: padding must be an int, 'valid' or 'same', got "
                             f"{padding!r}")
    else:
        lo = hi = _single(padding, "conv1d: padding")
    if _prims.out_size(length, lo, hi, k, s, d) <= 0:
        raise _ShapeError(f"conv1d: the kernel {k} (dilation {d}) does not fit the padded "
                          f"input of length {length + lo + hi}")
    y = _prims.conv2d(_S.reshape(x, (n, c, 1, length)), _S.reshape(weight, (o, cg, 1, k)),
                      stride=(1, s), padding=((0, 0), (lo, hi)), dilation=(1, d), groups=g)
    y = _S.reshape(y, (n, o, _shape(y)[3]))
    if bias is not None:
        y = y + _S.reshape(bias, (1, -1, 1))
    return _unbatch(y, unbatched)


def conv_transpose_geometry(in_size: tuple, kernel: tuple, stride: tuple, padding: tuple,
                            output_padding: tuple, dilation: tuple) -> list[tuple]:
    """Per spatial axis: (the output size, the (low, high) padding of the equivalent
    convolution, the zero rows appended after it) with PyTorch's output size
    (n - 1) s - 2 p + d (k - 1) + output_padding + 1."""
    out = []
    for n, k, s, p, op, d in zip(in_size, kernel, stride, padding, output_padding, dilation,
                                 strict=True):
        if op >= s and op >= d:
            raise ValueError(
                f"conv_transpose2d: output_padding {output_padding} must be smaller than "
                f"either stride {stride} or dilation {dilation}")
        size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if size <= 0:
            raise _ShapeError(f"conv_transpose2d: the output size {size} along an axis of "
                              f"length {n} is not positive")
        hi = p - op  # the convolution the transpose belongs to sees `hi` padding at the end
        out.append((size, (p, hi), 0) if hi >= 0 else (size + hi, (p, 0), -hi))
    return out


def conv_transpose2d(input: _Any, weight: _Any, bias: _Any = None, stride: _Any = 1,
                     padding: _Any = 0, output_padding: _Any = 0, groups: int = 1,
                     dilation: _Any = 1) -> _Any:
    """2-D transposed convolution (PyTorch's conv_transpose2d): input (N, C_in, H, W) or
    (C_in, H, W), weight (C_in, C_out // groups, KH, KW), optional bias (C_out,)."""
    st, dil = _prims.pair(stride, "conv_transpose2d: stride"), \
        _prims.pair(dilation, "conv_transpose2d: dilation")
    pd = _prims.pair(padding, "conv_transpose2d: padding")
    opd = _prims.pair(output_padding, "conv_transpose2d: output_padding")
    g = _prims.count(groups, "conv_transpose2d: groups", 1)
    ws = _shape(weight)
    if len(ws) != 4:
        raise _ShapeError(f"conv_transpose2d: weight must be 4-D (C_in, C_out/groups, KH, KW), "
                          f"got shape {ws}")
    x, unbatched = _batched(input, 4, "conv_transpose2d", "(N, C, H, W)")
    n, c, h, w = _shape(x)
    if c != ws[0]:
        raise _ShapeError(f"conv_transpose2d: input has {c} channels but the weight {ws} "
                          f"expects {ws[0]}")
    if c % g:
        raise _ShapeError(f"conv_transpose2d: {c} input channels are not divisible by "
                          f"groups={g}")
    (oh, ph, eh), (ow, pw, ew) = conv_transpose_geometry((h, w), ws[2:], st, pd, opd, dil)
    y = _prims.conv2d_input_grad(x, weight, x_shape=(n, ws[1] * g, oh, ow), stride=st,
                                 padding=(ph, pw), dilation=dil, groups=g)
    if eh or ew:  # output_padding beyond the padding: rows no window reaches, zeros
        y = _S.pad(y, ((0, 0), (0, 0), (0, eh), (0, ew)))
    if bias is not None:
        y = y + _S.reshape(bias, (1, -1, 1, 1))
    return _unbatch(y, unbatched)


# ---------------------------------------------------------------------------------
# average pooling


def _divisors(n: int, o: int, k: int, s: int, p: int, include_pad: bool) -> _np.ndarray:
    """PyTorch's divisor per output position along one axis: the window clipped to the
    padded input (count_include_pad) or to the input itself."""
    start = _np.arange(o) * s - p
    end = _np.minimum(start + k, n + p)
    if include_pad:
        return end - start
    return _np.minimum(end, n) - _np.maximum(start, 0)


def _avg_pool(x: _Any, name: str, kernel: tuple, stride: tuple, padding: tuple,
              ceil_mode: bool, count_include_pad: bool, divisor_override: _Any) -> _Any:
    n, c, h, w = _shape(x)
    for k, p in zip(kernel, padding, strict=True):
        if p > k // 2:
            raise ValueError(f"{name}: padding {padding} must be at most half the kernel "
                             f"size {kernel}")
    oh, ow, pads = _prims.pool_geometry((n, c, h, w), kernel, stride, padding, (1, 1),
                                        bool(ceil_mode))
    dt = _float_dtype(x)
    ones = _np.ones((1, 1) + tuple(kernel), dtype=dt)
    sums = _prims.conv2d(_S.reshape(x, (n * c, 1, h, w)), ones, stride=tuple(stride),
                         padding=pads, dilation=(1, 1), groups=1)
    sums = _S.reshape(sums, (n, c, oh, ow))
    if divisor_override is not None:
        dv = _prims.count(divisor_override, f"{name}: divisor_override", 1)
        return sums / dt.type(dv)
    dh = _divisors(h, oh, kernel[0], stride[0], padding[0], count_include_pad)
    dw = _divisors(w, ow, kernel[1], stride[1], padding[1], count_include_pad)
    return sums / _np.multiply.outer(dh, dw).astype(dt)


def avg_pool2d(input: _Any, kernel_size: _Any, stride: _Any = None, padding: _Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> _Any:
    """Average over KH x KW windows of (N, C, H, W) or (C, H, W) (PyTorch's avg_pool2d)."""
    k = _prims.pair(kernel_size, "avg_pool2d: kernel_size")
    st = k if stride is None or stride == () or stride == [] \
        else _prims.pair(stride, "avg_pool2d: stride")
    pd = _prims.pair(padding, "avg_pool2d: padding")
    x, unbatched = _batched(input, 4, "avg_pool2d", "(N, C, H, W)")
    y = _avg_pool(x, "avg_pool2d", k, st, pd, ceil_mode, count_include_pad, divisor_override)
    return _unbatch(y, unbatched)


def avg_pool1d(input: _Any, kernel_size: _Any, stride: _Any = None, padding: _Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> _Any:
    """Average over windows of length K of (N, C, L) or (C, L) (PyTorch's avg_pool1d)."""
    k = _single(kernel_size, "avg_pool1d: kernel_size")
    st = k if stride is None or stride == () or stride == [] \
        else _single(stride, "avg_pool1d: stride")
    pd = _single(padding, "avg_pool1d: padding")
    x, unbatched = _batched(input, 3, "avg_pool1d", "(N, C, L)")
    n, c, length = _shape(x)
    y = _avg_pool(_S.reshape(x, (n, c, 1, length)), "avg_pool1d", (1, k), (1, st), (0, pd),
                  ceil_mode, count_include_pad, None)
    y = _S.reshape(y, (n, c, _shape(y)[3]))
    return _unbatch(y, unbatched)


def _adaptive_matrix(n: int, o: int, dtype: _np.dtype) -> _np.ndarray:
    """(o, n): row i averages x[floor(i n / o) : ceil((i + 1) n / o)]."""
    i = _np.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    j = _np.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_sizes(output_size: _Any, in_sizes: tuple, name: str) -> tuple:
    nd = len(in_sizes)
    if output_size is None or isinstance(output_size, (int, _np.integer)):
        output_size = (output_size,) * nd
    sizes = tuple(output_size)
    if len(sizes) != nd:
        raise ValueError(f"{name}: output_size must have {nd} elements, got {output_size!r}")
    return tuple(n if o is None else _prims.count(o, f"{name}: output_size", 1)
                 for o, n in zip(sizes, in_sizes, strict=True))


def adaptive_avg_pool1d(input: _Any, output_size: _Any) -> _Any:
    """Average (N, C, L) or (C, L) down to output_size positions (PyTorch's windows)."""
    x, unbatched = _batched(input, 3, "adaptive_avg_pool1d", "(N, C, L)")
    (o,) = _adaptive_sizes(output_size, _shape(x)[2:], "adaptive_avg_pool1d")
    a = _adaptive_matrix(_shape(x)[2], o, _float_dtype(x))
    return _unbatch(_L.matmul(x, a.T), unbatched)


def adaptive_avg_pool2d(input: _Any, output_size: _Any) -> _Any:
    """Average (N, C, H, W) or (C, H, W) down to output_size (an int, a pair, None = keep)."""
    x, unbatched = _batched(input, 4, "adaptive_avg_pool2d", "(N, C, H, W)")
    h, w = _shape(x)[2:]
    oh, ow = _adaptive_sizes(output_size, (h, w), "adaptive_avg_pool2d")
    dt = _float_dtype(x)
    y = _L.matmul(_L.matmul(_adaptive_matrix(h, oh, dt), x), _adaptive_matrix(w, ow, dt).T)
    return _unbatch(y, unbatched)


# ---------------------------------------------------------------------------------
# interpolation


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")


def _nearest_index(n: int, o: int, scale: float | None, exact: bool) -> _np.ndarray:
    """Source index per output position, in single precision as PyTorch computes it."""
    f32 = _np.float32
    sc = f32(1.0 / scale) if scale is not None and scale > 0 else f32(n) / f32(o)
    dst = _np.arange(o)
    if exact:
        src = _np.floor(((dst + 0.5) * _np.float64(sc)).astype(f32))
    elif o == n:
        return dst
    elif o == 2 * n:
        return dst // 2
    else:
        src = _np.floor(dst.astype(f32) * sc)
    return _np.minimum(src.astype(_np.int64), n - 1)


def _linear_taps(n: int, o: int, scale: float | None, align_corners: bool,
                 dt: _np.dtype) -> tuple:
    """(i0, i1, w0, w1) per output position: out = w0 x[i0] + w1 x[i1] (PyTorch's rule)."""
    t = dt.type
    if align_corners:
        sc = t((n - 1) / (o - 1)) if o > 1 else t(0)
    else:
        sc = t(1.0 / scale) if scale is not None and scale > 0 else t(n) / t(o)
    dst = _np.arange(o).astype(dt)
    if align_corners:
        src = sc * dst
    else:
        src = _np.maximum(sc * (dst + t(0.5)) - t(0.5), t(0))
    i0 = src.astype(_np.int64)
    w1 = _np.clip(src - i0.astype(dt), t(0), t(1)).astype(dt)
    w0 = (t(1) - w1).astype(dt)
    i1 = i0 + (i0 < n - 1)
    return i0, i1, w0, w1


def _along(x: _Any, axis: int, idx: _np.ndarray) -> _Any:
    return _getitem(x, idx=(slice(None),) * axis + (idx,))


def _blend_shape(nd: int, axis: int, o: int) -> tuple:
    return tuple(o if i == axis else 1 for i in range(nd))


def interpolate(input: _Any, size: _Any = None, scale_factor: _Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> _Any:
    """Resample (N, C, *spatial) to ``size`` or by ``scale_factor`` (PyTorch's interpolate):
    modes 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' (4-D), 'trilinear'
    (5-D) with ``align_corners``, and 'area' (adaptive average pooling)."""
    if mode not in _MODES:
        raise NotImplementedError(
            f"interpolate: mode={mode!r} is not supported (supported: {', '.join(_MODES)})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    shape = _shape(input)
    nsp = len(shape) - 2
    if nsp < 1:
        raise _ShapeError(f"interpolate: input must be (N, C, *spatial) with at least one "
                          f"spatial dimension, got shape {shape}")
    if mode in _LINEAR_MODES:
        if _LINEAR_MODES[mode] != nsp:
            raise NotImplementedError(
                f"interpolate: mode={mode!r} needs a {_LINEAR_MODES[mode] + 2}-D input, got "
                f"{len(shape)}-D")
        align = bool(align_corners)
    elif align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating "
                         "modes linear | bilinear | trilinear")
    else:
        align = False
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor must be given")
    in_sp = shape[2:]
    if size is not None:
        sizes = (size,) * nsp if isinstance(size, (int, _np.integer)) else tuple(size)
        if len(sizes) != nsp:
            raise ValueError(f"interpolate: size {size!r} must have {nsp} elements for a "
                             f"{len(shape)}-D input")
        out_sp = tuple(_prims.count(s, "interpolate: size", 1) for s in sizes)
        scales: tuple = (None,) * nsp
    else:
        sf = (scale_factor,) * nsp if isinstance(scale_factor, (int, float, _np.number)) \
            else tuple(scale_factor)
        if len(sf) != nsp:
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} must have {nsp} "
                             f"elements for a {len(shape)}-D input")
        sf = tuple(float(s) for s in sf)
        if any(not s > 0 for s in sf):
            raise ValueError(f"interpolate: scale_factor must be positive, got {scale_factor!r}")
        out_sp = tuple(int(_math.floor(float(n) * s)) for n, s in zip(in_sp, sf, strict=True))
        if any(o < 1 for o in out_sp):
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} gives the empty "
                             f"output size {out_sp}")
        scales = (None,) * nsp if recompute_scale_factor else sf
    if mode == "area":
        if nsp == 1:
            return adaptive_avg_pool1d(input, out_sp)
        if nsp == 2:
            return adaptive_avg_pool2d(input, out_sp)
        raise NotImplementedError("interpolate: mode='area' supports 3-D and 4-D inputs")
    dt = _float_dtype(input)
    nd = len(shape)
    y = input
    for j in reversed(range(nsp)):  # the last axis first: PyTorch's order of the blends
        ax = 2 + j
        n, o = in_sp[j], out_sp[j]
        if mode in ("nearest", "nearest-exact"):
            idx = _nearest_index(n, o, scales[j], mode == "nearest-exact")
            if o != n or (idx != _np.arange(n)).any():
                y = _along(y, ax, idx)
            continue
        i0, i1, w0, w1 = _linear_taps(n, o, scales[j], align, dt)
        bs = _blend_shape(nd, ax, o)
        y = _along(y, ax, i0) * _np.reshape(w0, bs) + _along(y, ax, i1) * _np.reshape(w1, bs)
    if y is input:
        y = _S.copy(input)
    return y


# ---------------------------------------------------------------------------------
# padding


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: _Any, pad: _Any, mode: str = "constant", value: float | None = None) -> _Any:
    """PyTorch's pad: ``pad`` lists (before, after) pairs from the last dimension backwards;
    modes 'constant' (negative widths crop), 'reflect', 'replicate' and 'circular'."""
    widths = [int(p) for p in pad]
    if len(widths) % 2:
        raise ValueError(f"pad: the padding length must be even, got {len(widths)}")
    shape = _shape(input)
    nd = len(shape)
    if len(widths) // 2 > nd:
        raise ValueError(f"pad: padding {tuple(widths)} names {len(widths) // 2} dimensions, "
                         f"the input has {nd}")
    pw = [(0, 0)] * nd
    for i in range(len(widths) // 2):
        pw[nd - 1 - i] = (widths[2 * i], widths[2 * i + 1])
    if mode == "constant":
        crop = tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(shape, pw,
                                                                           strict=True))
        for n, (b, e) in zip(shape, pw, strict=True):
            if n + b + e < 0 or (b < 0 and e < 0 and -b - e > n):
                raise ValueError(f"pad: padding {tuple(widths)} crops more than the input of "
                                 f"shape {shape}")
        x = input
        if any(b < 0 or e < 0 for b, e in pw):
            x = _getitem(input, idx=crop)
        grow = [(max(b, 0), max(e, 0)) for b, e in pw]
        if any(b or e for b, e in grow):
            return _S.pad(x, grow, mode="constant", constant_values=0 if value is None else value)
        return x if x is not input else _S.copy(input)
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode={mode!r} is not supported (supported: "
                                  f"'constant', 'reflect', 'replicate', 'circular')")
    if value is not None and value != 0:
        raise ValueError(f"pad: value is only used with mode='constant', not {mode!r}")
    for ax, (n, (b, e)) in enumerate(zip(shape, pw, strict=True)):
        if b == 0 and e == 0:
            continue
        if b < 0 or e < 0:
            raise NotImplementedError(f"pad: negative padding {tuple(widths)} is only supported "
                                      f"with mode='constant'")
        if mode == "reflect" and (b >= n or e >= n):
            raise ValueError(f"pad: reflect padding ({b}, {e}) must be smaller than the size "
                             f"{n} of dimension {ax}")
        if mode == "circular" and (b > n or e > n):
            raise ValueError(f"pad: circular padding ({b}, {e}) must be at most the size {n} "
                             f"of dimension {ax}")
        if n == 0:
            raise ValueError(f"pad: cannot pad the empty dimension {ax} with mode={mode!r}")
    return _S.pad(input, pw, mode=_PAD_MODES[mode])


# ---------------------------------------------------------------------------------
# normalisation and activations


def group_norm(input: _Any, num_groups: int, weight: _Any = None, bias: _Any = None,
               eps: float = 1e-5) -> _Any:
    """Normalise (N, C, *) over groups of C // num_groups channels (and all positions),
    then scale and shift per channel."""
    shape = _shape(input)
    if len(shape) < 2:
        raise _ShapeError(f"group_norm: input must be (N, C, *), got shape {shape}")
    g = _prims.count(num_groups, "group_norm: num_groups", 1)
    n, c = shape[:2]
    if c % g:
        raise ValueError(f"group_norm: {c} channels are not divisible by num_groups={g}")
    xg = _S.reshape(input, (n, g, -1))
    d = xg - _R.mean(xg, axis=-1, keepdims=True)
    var = _R.mean(d * d, axis=-1, keepdims=True)
    y = _S.reshape(d / _E.sqrt(var + eps), shape)
    cshape = (1, c) + (1,) * (len(shape) - 2)
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and _shape(t) != (c,):
            raise _ShapeError(f"group_norm: {what} must have shape ({c},), got {_shape(t)}")
    if weight is not None:
        y = y * _S.reshape(weight, cshape)
    if bias is not None:
        y = y + _S.reshape(bias, cshape)
    return y


def elu(input: _Any, alpha: float = 1.0, inplace: bool = False) -> _Any:
    """x for x > 0, alpha (exp(x) - 1) otherwise (slope alpha at 0, as in PyTorch)."""
    _no_inplace("elu", inplace)
    pos = _arrays.asarray(_value(input)) > 0
    dt = _float_dtype(input)
    neg = _E.expm1(input * (~pos).astype(dt))  # exp of 0 where x > 0: no overflow there
    return _E.where_prim(pos, input, neg * dt.type(alpha) if alpha != 1 else neg)


def prelu(input: _Any, weight: _Any) -> _Any:
    """x for x > 0, weight * x otherwise; weight has 1 element or one per channel (dim 1)."""
    shape = _shape(input)
    ws = _shape(weight)
    if len(ws) != 1:
        raise _ShapeError(f"prelu: weight must be 1-D, got shape {ws}")
    if ws[0] != 1:
        c = shape[1] if len(shape) >= 2 else 1
        if ws[0] != c:
            raise _ShapeError(f"prelu: weight has {ws[0]} elements but the input of shape "
                              f"{shape} has {c} channels (dimension 1)")
        w = _S.reshape(weight, (1, c) + (1,) * (len(shape) - 2))
    else:
        w = _S.reshape(weight, ())
    pos = _arrays.asarray(_value(input)) > 0
    dt = _float_dtype(input)
    return input * (pos.astype(dt) + w * (~pos).astype(dt))


def _channel_dropout(input: _Any, p: float, training: bool, inplace: bool, name: str,
                     spatial: int, generator: _np.random.Generator | None) -> _Any:
    _no_inplace(name, inplace)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    shape = _shape(input)
    if len(shape) not in (spatial + 1, spatial + 2):
        raise _ShapeError(f"{name}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D "
                          f"input, got shape {shape}")
    if not training or p == 0.0:
        return input
    dt = _float_dtype(input)
    lead = len(shape) - spatial  # (N, C) or (C,)
    mshape = shape[:lead] + (1,) * spatial
    if p == 1.0:
        return input * _np.zeros(mshape, dt)
    keep = _random.draw(generator, "random", mshape) >= p
    return input * (keep.astype(dt) * dt.type(1.0 / (1.0 - p)))


def dropout1d(input: _Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: _np.random.Generator | None = None) -> _Any:
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scale the rest by
    1 / (1 - p) (training only)."""
    return _channel_dropout(input, p, training, inplace, "dropout1d", 1, generator)


def dropout2d(input: _Any, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: _np.random.Generator | None = None) -> _Any:
    """Zero whole channels of (N, C, H, W) or (C, H, W) with probability p, scale the rest
    by 1 / (1 - p) (training only)."""
    return _channel_dropout(input, p, training, inplace, "dropout2d", 2, generator)


# ---------------------------------------------------------------------------------
# losses


def _reduce(loss: _Any, reduction: str) -> _Any:
    if reduction == "mean":
        return _R.mean(loss)
    if reduction == "sum":
        return _R.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(name: str, input: _Any, target: _Any) -> None:
    if _shape(input) != _shape(target):
        raise _ShapeError(f"{name}: target of shape {_shape(target)} must have the input's "
                          f"shape {_shape(input)}")


def _clamped_log(x: _Any, pos: _np.ndarray, dt: _np.dtype) -> _Any:
    """max(log(x), -100) where ``pos`` (x > 0), -100 elsewhere, with no inf on the way."""
    safe = _E.where_prim(pos, x, dt.type(1))
    return _E.where_prim(pos, _E.maximum(_E.log(safe), dt.type(-100)), dt.type(-100))


def binary_cross_entropy(input: _Any, target: _Any, weight: _Any = None,
                         size_average: _Any = None, reduce: _Any = None,
                         reduction: str = "mean") -> _Any:
    """-w [y log x + (1 - y) log(1 - x)] for probabilities x in [0, 1], each log clamped
    at -100 (PyTorch's BCELoss)."""
    _no_legacy("binary_cross_entropy", size_average, reduce)
    _same_shape("binary_cross_entropy", input, target)
    xv = _arrays.asarray(_value(input))
    if xv.size and not ((xv >= 0) & (xv <= 1)).all():
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 "
                         "and 1")
    dt = _float_dtype(input)
    log_x = _clamped_log(input, xv > 0, dt)
    log_1mx = _clamped_log(1 - input, xv < 1, dt)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def huber_loss(input: _Any, target: _Any, reduction: str = "mean", delta: float = 1.0,
               weight: _Any = None) -> _Any:
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere, d = input - target,
    optionally times ``weight`` before the reduction."""
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    _same_shape("huber_loss", input, target)
    d = input - target
    ad = _E.absolute(d)
    small = _arrays.asarray(_value(ad)) < delta
    loss = _E.where_prim(small, 0.5 * (d * d), delta * (ad - 0.5 * delta))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input: _Any, target: _Any, size_average: _Any = None, reduce: _Any = None,
                   reduction: str = "mean", beta: float = 1.0) -> _Any:
    """0.5 d^2 / beta where |d| < beta, |d| - beta / 2 elsewhere (beta = 0: the L1 loss)."""
    _no_legacy("smooth_l1_loss", size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    _same_shape("smooth_l1_loss", input, target)
    d = input - target
    ad = _E.absolute(d)
    if beta == 0:
        return _reduce(ad, reduction)
    small = _arrays.asarray(_value(ad)) < beta
    loss = _E.where_prim(small, (0.5 / beta) * (d * d), ad - 0.5 * beta)
    return _reduce(loss, reduction)


def kl_div(input: _Any, target: _Any, size_average: _Any = None, reduce: _Any = None,
           reduction: str = "mean", log_target: bool = False) -> _Any:
    """Pointwise KL divergence of log-probabilities ``input`` from ``target`` (probabilities,
    or log-probabilities with ``log_target``): target (log target - input), 0 where the
    target probability is 0.  ``reduction='batchmean'`` divides the sum by the batch size
    (the true KL divergence); 'mean' averages over every element, as PyTorch does."""
    _no_legacy("kl_div", size_average, reduce)
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                         f"{reduction!r}")
    if log_target:
        loss = _E.exp(target) * (target - input)
    else:
        tv = _arrays.asarray(_value(target))
        pos = tv > 0
        dt = _float_dtype(target)
        safe = _E.where_prim(pos, target, dt.type(1))
        loss = _E.where_prim(pos, target * _E.log(safe), dt.type(0)) - target * input
    if reduction == "batchmean":
        shape = _np.broadcast_shapes(_shape(input), _shape(target))
        total = _R.sum(loss)
        return total / shape[0] if shape else total
    return _reduce(loss, reduction)
