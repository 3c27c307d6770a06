"""``chainrule.nn.functional``: the layers and losses as functions (PyTorch's names).

Every function takes Tensors or plain arrays and is built from primitives, so it is
differentiable in both modes and to any order.  Conventions follow
``torch.nn.functional``: class dimension 1 for losses, (N, C, H, W) images,
``reduction='mean' | 'sum' | 'none'``.
"""

import math as _math
from typing import Any as _Any

import numpy as _np

from ..core import arrays as _arrays
from ..core.errors import ShapeError as _ShapeError
from ..core.xparray import XPArray as _XPArray
from ..core.tensor import Tensor as _Tensor
from ..ops import elementwise as _E
from ..ops import reduce as _R
from ..ops import shape as _S
from ..ops import special as _SP
from ..ops.util import value as _value
from . import primitives as _prims
from . import random as _random

__all__ = [
    "binary_cross_entropy_with_logits", "batch_norm", "conv2d", "cross_entropy", "dropout",
    "erf", "flatten", "gelu", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "logsigmoid", "max_pool2d", "mse_loss", "multi_head_attention_forward", "nll_loss",
    "one_hot", "relu", "scaled_dot_product_attention", "sigmoid", "silu", "softmax",
    "softplus", "tanh",
]

erf = _prims.erf


def _shape(x: _Any) -> tuple:
    v = x._value if isinstance(x, _Tensor) else x
    return v.shape if v.__class__ is _np.ndarray else tuple(_np.shape(_value(x)))


def _float_dtype(x: _Any) -> _np.dtype:
    d = _arrays.asarray(_value(x)).dtype
    return d if d.kind in "fc" else _np.dtype(_np.float64)


# ---------------------------------------------------------------------------------
# layers


def linear(input: _Any, weight: _Any, bias: _Any = None) -> _Any:
    """``input @ weight.T + bias`` with PyTorch's weight layout (out_features, in_features)."""
    w = weight
    wshape = _shape(w)
    if len(wshape) != 2:
        raise _ShapeError(f"linear: weight must be 2-D (out, in), got shape {wshape}")
    ishape = _shape(input)
    if ishape[-1:] != wshape[1:]:
        raise _ShapeError(
            f"linear: input of shape {ishape} does not fit weight of shape {wshape} "
            f"(the last axis of the input must be in_features={wshape[1]})"
        )
    if not ishape:
        raise _ShapeError("linear: the input must have at least one dimension")
    y = _prims.linear(input, w)
    if bias is not None:
        y = y + bias
    return y


def relu(input: _Any) -> _Any:
    """max(x, 0); its derivative at 0 is 0, as in PyTorch."""
    return _prims.relu(input)


def leaky_relu(input: _Any, negative_slope: float = 0.01) -> _Any:
    """x for x > 0, negative_slope * x otherwise (a constant slope per element)."""
    pos = _arrays.asarray(_value(input)) > 0
    dt = _float_dtype(input)
    return input * (pos * dt.type(1 - negative_slope) + dt.type(negative_slope))


def sigmoid(input: _Any) -> _Any:
    """1 / (1 + exp(-x)), with exp(-|x|) so that it never overflows and keeps the tails."""
    pos = _arrays.asarray(_value(input)) >= 0
    dt = _float_dtype(input)
    sgn = dt.type(1) - dt.type(2) * pos  # -1 where x >= 0, else 1
    z = _E.exp(input * sgn)  # exp(-|x|) <= 1
    return (pos + z * (~pos)) / (1 + z)


def logsigmoid(input: _Any) -> _Any:
    return -_E.logaddexp(0.0, -input)


def tanh(input: _Any) -> _Any:
    return _E.tanh(input)


def softplus(input: _Any, beta: float = 1.0, threshold: float = 20.0) -> _Any:
    """log(1 + exp(beta x)) / beta; linear where beta x > threshold (PyTorch)."""
    bx = input * beta if beta != 1 else input
    soft = _E.logaddexp(0.0, bx)
    if beta != 1:
        soft = soft / beta
    return _E.where_prim(_value(bx) > threshold, input, soft)


def silu(input: _Any) -> _Any:
    return input * sigmoid(input)


_SQRT1_2 = 1.0 / _math.sqrt(2.0)
_SQRT_2_PI = _math.sqrt(2.0 / _math.pi)


def gelu(input: _Any, approximate: str = "none") -> _Any:
    """x * Phi(x): exact with erf (``approximate='none'``) or the tanh form (``'tanh'``)."""
    x = input
    if approximate == "none":
        return 0.5 * x * (1 + _prims.erf(x * _SQRT1_2))
    if approximate == "tanh":
        return 0.5 * x * (1 + _E.tanh(_SQRT_2_PI * (x + 0.044715 * (x * x * x))))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def _softmax_dim(input: _Any, dim: int | None) -> int | None:
    nd = _np.ndim(_value(input))
    if nd == 0:
        return None
    if dim is None:  # PyTorch's implicit choice (deprecated there too; pass dim)
        return 0 if nd in (0, 1, 3) else 1
    return dim


def softmax(input: _Any, dim: int | None = None, dtype: _Any = None) -> _Any:
    if dtype is not None:
        input = _E.astype(input, dtype=_np.dtype(dtype))
    return _SP.softmax_prim(input, axis=_softmax_dim(input, dim))


def log_softmax(input: _Any, dim: int | None = None, dtype: _Any = None) -> _Any:
    """x - logsumexp(x): stable for any finite logits (±1000 included)."""
    if dtype is not None:
        input = _E.astype(input, dtype=_np.dtype(dtype))
    return _SP.log_softmax_prim(input, axis=_softmax_dim(input, dim))


def dropout(input: _Any, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: _np.random.Generator | None = None) -> _Any:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    dt = _float_dtype(input)
    shape = _shape(input)
    if p == 1.0:
        return input * _np.zeros(shape, dt)
    keep = _random.draw(generator, "random", shape) >= p
    return input * (keep.astype(dt) * dt.type(1.0 / (1.0 - p)))


def flatten(input: _Any, start_dim: int = 0, end_dim: int = -1) -> _Any:
    shape = _shape(input)
    nd = len(shape)
    if nd == 0:
        return _S.reshape(input, (1,))
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    new = shape[:s] + (int(_np.prod(shape[s:e + 1], dtype=_np.int64)),) + shape[e + 1:]
    return _S.reshape(input, new)


def layer_norm(input: _Any, normalized_shape: _Any, weight: _Any = None, bias: _Any = None,
               eps: float = 1e-5) -> _Any:
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, _np.integer)) \
        else tuple(int(n) for n in normalized_shape)
    shape = _shape(input)
    if not ns or shape[len(shape) - len(ns):] != ns:
        raise _ShapeError(
            f"layer_norm: normalized_shape {ns} must be the trailing dimensions of the input, "
            f"whose shape is {shape}"
        )
    axes = tuple(range(len(shape) - len(ns), len(shape)))
    d = input - _R.mean(input, axis=axes, keepdims=True)
    var = _R.mean(d * d, axis=axes, keepdims=True)
    y = d / _E.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _assign(buf: _Any, new: _np.ndarray) -> None:
    """Overwrite a running statistic in place (a Tensor buffer or an ndarray)."""
    if isinstance(buf, _Tensor):
        if _arrays.lazy(new) and not _arrays.lazy(buf._value):
            # statistics of lazy (Dask) data: the buffer holds them lazily too (writing
            # them into its NumPy array would compute the batch)
            buf._value = new.astype(buf._value.dtype)
        else:
            buf._value[...] = new
        vc = buf._version
        vc[0] += 1
        buf._node_version = vc[0]
    else:
        buf[...] = new


def batch_norm(input: _Any, running_mean: _Any, running_var: _Any, weight: _Any = None,
               bias: _Any = None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5) -> _Any:
    """Normalise over every axis but the channel axis 1.

    Training: batch statistics (biased variance), and the running statistics are updated
    in place with ``momentum`` (the running variance with the unbiased estimate), as in
    PyTorch.  Evaluation: the running statistics.
    """
    shape = _shape(input)
    if len(shape) < 2:
        raise _ShapeError(f"batch_norm: input must be at least 2-D (N, C, ...), got {shape}")
    c = shape[1]
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, c) + (1,) * (len(shape) - 2)

    def per_channel(t: _Any, what: str) -> _Any:
        if t is None:
            return None
        if _shape(t) != (c,):
            raise _ShapeError(f"batch_norm: {what} must have shape ({c},), got {_shape(t)}")
        return _S.reshape(t, bshape)

    if training:
        n = int(_np.prod([shape[a] for a in axes]))
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {shape}"
            )
        mean = _R.mean(input, axis=axes, keepdims=True)
        d = input - mean
        var = _R.mean(d * d, axis=axes, keepdims=True)
        if momentum is not None and (running_mean is not None or running_var is not None):
            m = float(momentum)
            if running_mean is not None:
                rm = _arrays.asarray(_value(running_mean))
                _assign(running_mean, (1 - m) * rm + m * _np.reshape(_value(mean), (c,)))
            if running_var is not None:
                rv = _arrays.asarray(_value(running_var))
                unbiased = _np.reshape(_value(var), (c,)) * (n / (n - 1))
                _assign(running_var, (1 - m) * rv + m * unbiased)
        y = d / _E.sqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
        rm = _np.reshape(_value(per_channel(running_mean, "running_mean")), bshape)
        rv = _np.reshape(_value(per_channel(running_var, "running_var")), bshape)
        y = (input - rm) / _np.sqrt(rv + eps)
    if weight is not None:
        y = y * per_channel(weight, "weight")
    if bias is not None:
        y = y + per_channel(bias, "bias")
    return y


def _conv_padding(padding: _Any, kernel: tuple, dilation: tuple, stride: tuple) -> tuple:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            if stride != (1, 1):
                raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
            out = []
            for k, d in zip(kernel, dilation, strict=False):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))
            return tuple(out)
        raise ValueError(
            f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = _prims.pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"conv2d: padding must be non-negative, got {padding!r}")
    return ((ph, ph), (pw, pw))


def conv2d(input: _Any, weight: _Any, bias: _Any = None, stride: _Any = 1, padding: _Any = 0,
           dilation: _Any = 1, groups: int = 1) -> _Any:
    """2-D cross-correlation (PyTorch's conv2d): input (N, C, H, W) or (C, H, W),
    weight (O, C // groups, KH, KW), optional bias (O,)."""
    st, dil = _prims.pair(stride, "stride"), _prims.pair(dilation, "dilation")
    if min(st) < 1 or min(dil) < 1 or int(groups) < 1:
        raise ValueError("conv2d: stride, dilation and groups must be positive")
    ws = _shape(weight)
    if len(ws) != 4:
        raise _ShapeError(f"conv2d: weight must be 4-D (O, C/groups, KH, KW), got {ws}")
    pad = _conv_padding(padding, ws[2:], dil, st)
    unbatched = len(_shape(input)) == 3
    x = _S.reshape(input, (1,) + _shape(input)) if unbatched else input
    y = _prims.conv2d(x, weight, stride=st, padding=pad, dilation=dil, groups=int(groups))
    if bias is not None:
        y = y + _S.reshape(bias, (1, -1, 1, 1))
    return _S.reshape(y, _shape(y)[1:]) if unbatched else y


def max_pool2d(input: _Any, kernel_size: _Any, stride: _Any = None, padding: _Any = 0,
               dilation: _Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> _Any:
    if return_indices:
        raise NotImplementedError("max_pool2d(return_indices=True) is not supported")
    k = _prims.pair(kernel_size, "kernel_size")
    st = k if stride is None or stride == () else _prims.pair(stride, "stride")
    kw = dict(kernel=k, stride=st, padding=_prims.pair(padding, "padding"),
              dilation=_prims.pair(dilation, "dilation"), ceil_mode=bool(ceil_mode))
    if min(k) < 1 or min(st) < 1 or min(kw["dilation"]) < 1:
        raise ValueError("max_pool2d: kernel_size, stride and dilation must be positive")
    unbatched = len(_shape(input)) == 3
    x = _S.reshape(input, (1,) + _shape(input)) if unbatched else input
    y = _prims.max_pool2d(x, **kw)
    return _S.reshape(y, _shape(y)[1:]) if unbatched else y


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


def _check_target(name: str, input: _Any, target: _Any) -> None:
    ish, tsh = _shape(input), _shape(target)
    if ish == tsh:
        return
    try:
        b = _np.broadcast_shapes(ish, tsh)
    except ValueError:
        b = None
    if b != ish:
        raise _ShapeError(
            f"{name}: target of shape {tsh} does not match input of shape {ish}"
            + (f"; broadcasting would give shape {b} and a wrong loss" if b is not None else "")
            + f". Reshape one of them (e.g. target.reshape({ish}))."
        )


def mse_loss(input: _Any, target: _Any, reduction: str = "mean") -> _Any:
    _check_target("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input: _Any, target: _Any, reduction: str = "mean") -> _Any:
    _check_target("l1_loss", input, target)
    return _reduce(_E.absolute(input - target), reduction)


def _int_target(what: str, target: _Any, tshape: tuple) -> _np.ndarray:
    t = _arrays.asarray(_value(target))
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{what}: class-index targets must be integers, got dtype {t.dtype}"
            + (" (for class probabilities pass a float target of the input's shape to "
               "cross_entropy)" if t.dtype.kind == "f" else "")
        )
    if t.shape != tshape:
        raise _ShapeError(f"{what}: target of shape {t.shape} does not fit the input; expected "
                         f"shape {tshape}")
    return t


def _constant_zeros(like: _Any, shape: tuple, dt: _Any) -> _Any:
    """Zeros to write a constant into: NumPy's (Dask takes NumPy constants, and cannot write
    into its own arrays at integer indices), or those of an Array API library, which does
    not mix with NumPy."""
    if isinstance(like, _XPArray):
        return _np.zeros_like(like, dtype=dt)
    return _np.zeros(shape, dtype=dt)


def _checked_targets(t: _np.ndarray, c: int = 0, ignore_index: int = -100) -> _np.ndarray:
    # one block of lazy targets, checked when the block is computed
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"nll_loss: target {int(t[bad].flat[0])} is out of bounds for {c} "
                         f"classes")
    return t


def _lazy_pick(t: _Any, c: int, cdim: int, ndim: int, dt: _Any, weight: _Any,
               ignore_index: int, reduction: str, ls: float) -> tuple:
    """The coefficient array of nll_loss / cross_entropy for lazy (Dask) targets, built
    without computing them: a one-hot comparison with the classes instead of a scatter, the
    targets' range checked block by block when the graph runs.  (pick, rowsum, scale)."""
    t = t.map_blocks(_checked_targets, c=c, ignore_index=ignore_index, dtype=t.dtype)
    valid = t != ignore_index
    cls = _np.arange(c).reshape((c,) + (1,) * (ndim - 1 - cdim))
    onehot = (_np.expand_dims(t, cdim) == cls) & _np.expand_dims(valid, cdim)
    oh = onehot.astype(dt)
    wv = None if weight is None else _np.reshape(_arrays.asarray(_value(weight)), cls.shape)
    if wv is not None and wv.size != c:
        raise _ShapeError(f"nll_loss: weight must have shape ({c},), got {wv.shape}")
    wrow = valid.astype(dt) if wv is None else _np.sum(oh * wv, axis=cdim)
    scale = 1.0 / _np.sum(wrow) if reduction == "mean" else 1.0
    at = wrow * (scale * (1 - ls))
    pick = oh * _np.expand_dims(at, cdim)
    if ls:
        sm = (1.0 if wv is None else wv) * (scale * ls / c)
        pick = pick + sm * _np.expand_dims(valid, cdim).astype(dt)
    return pick.astype(dt), _np.sum(pick, axis=cdim, keepdims=True).astype(dt)


def nll_loss(input: _Any, target: _Any, weight: _Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> _Any:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) or (C,) at integer
    ``target`` (N, ...) or ().

    The 'mean' is weighted: sum(w[t_i] * l_i) / sum(w[t_i]) over targets not ignored.
    Computed as one product with a constant matrix that holds -w[t_i] at each target
    (and 0 elsewhere), so the gradient is one multiplication.
    """
    shape = _shape(input)
    if len(shape) == 0:
        raise _ShapeError("nll_loss: input must have a class dimension, got a 0-d input")
    cdim = 0 if len(shape) == 1 else 1
    c = shape[cdim]
    tshape = () if cdim == 0 else (shape[0],) + shape[2:]
    t = _int_target("nll_loss", target, tshape)
    if _arrays.lazy(t):
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        pick, _ = _lazy_pick(t, c, cdim, len(shape), _float_dtype(input), weight,
                             ignore_index, reduction, 0.0)
        if reduction == "none":
            return _R.sum_prim(input * -pick, axis=cdim)
        return _R.sum_prim(input * -pick)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"nll_loss: target {int(t[bad].flat[0])} is out of bounds for {c} "
                         f"classes")
    ts = _np.where(valid, t, 0)
    dt = _float_dtype(input)
    if weight is not None:
        wv = _arrays.asarray(_value(weight))
        if wv.shape != (c,):
            raise _ShapeError(f"nll_loss: weight must have shape ({c},), got {wv.shape}")
        w = wv[ts] * valid
    else:
        w = valid
    w = _arrays.asarray(w, dtype=dt)
    if reduction == "mean":
        with _np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in torch
            w = w / w.sum()
    elif reduction not in ("sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    pick = _constant_zeros(_arrays.asarray(_value(input)), shape, dt)
    _np.put_along_axis(pick, _np.expand_dims(ts, cdim), -_np.expand_dims(w, cdim), axis=cdim)
    if reduction == "none":
        return _R.sum_prim(input * pick, axis=cdim)
    return _R.sum_prim(input * pick)


def _fused_cross_entropy(input: _Any, xv: _np.ndarray, cdim: int, t: _np.ndarray, weight: _Any,
                         ignore_index: int, reduction: str, label_smoothing: float) -> _Any:
    """Integer targets: one softmax_cross_entropy node, whose constant coefficient array
    holds w[t_i] (1 - smoothing) at each target plus smoothing * w_c / C everywhere, for
    the rows not ignored, over sum(w[t_i]) for a mean (PyTorch's weighted mean)."""
    shape = xv.shape
    c = shape[cdim]
    tshape = () if cdim == 0 else (shape[0],) + shape[2:]
    if t.shape != tshape:
        raise _ShapeError(f"nll_loss: target of shape {t.shape} does not fit the input; "
                         f"expected shape {tshape}")
    if reduction != "mean" and reduction != "sum" and reduction != "none":
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    dt = xv.dtype
    if t.__class__ is _np.ndarray and xv.__class__ is _np.ndarray and cdim == 1 and \
            len(shape) == 2 and weight is None and not label_smoothing:
        # the common case, (N, C) logits against N classes: every target a class (one
        # reduction checks it: the targets seen as unsigned, negatives are huge) and
        # ignore_index none of them; the same coefficients as below, fewer calls
        u = _UNSIGNED.get(t.dtype)
        if u is not None and not 0 <= ignore_index < c and \
                _np.maximum.reduce(t.view(u), axis=None) < c:
            at = _scale(dt, t.size if reduction == "mean" else 1)
            pick = _np.zeros(shape, dtype=dt)
            pick[_rows(shape[0]), t] = at
            reduce = reduction != "none"
            loss = _prims.softmax_cross_entropy(input, pick=pick, rowsum=at, axis=1,
                                                reduce=reduce, cache=[])
            return _plain_loss(input, loss) if reduce else loss
    if _arrays.lazy(t):
        pick, rowsum = _lazy_pick(t, c, cdim, len(shape), dt, weight, ignore_index, reduction,
                                  float(label_smoothing))
        return _prims.softmax_cross_entropy(input, pick=pick, rowsum=rowsum, axis=cdim,
                                            reduce=reduction != "none", cache=[])
    lo = hi = None
    if t.size:
        lo, hi = _np.minimum.reduce(t, axis=None), _np.maximum.reduce(t, axis=None)
    if lo is None or (lo >= 0 and hi < c and not 0 <= ignore_index < c):
        all_valid = True  # every target is a class, none is ignore_index
        valid = None
        ts = t
    else:
        valid = t != ignore_index
        bad = valid & ((t < 0) | (t >= c))
        if bad.any():
            raise IndexError(f"nll_loss: target {int(t[bad].flat[0])} is out of bounds for {c} "
                             f"classes")
        all_valid = bool(valid.all())
        ts = t if all_valid else _np.where(valid, t, 0)
    wv = None
    if weight is not None:
        wv = _arrays.asarray(_value(weight))
        if wv.shape != (c,):
            raise _ShapeError(f"nll_loss: weight must have shape ({c},), got {wv.shape}")
        w = _arrays.asarray(wv[ts] if all_valid else wv[ts] * valid, dtype=dt)
    elif all_valid:
        w = None  # 1 at every target
    else:
        w = valid.astype(dt)
    one = dt.type(1)
    if reduction != "mean":
        scale = one
    elif w is None:
        scale = one / dt.type(t.size)  # (t.size > 0: no warning to silence)
    else:
        with _np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in torch
            scale = one / dt.type(w.sum())
    ls = float(label_smoothing)
    at = scale * dt.type(1 - ls) if ls else scale
    if w is not None:
        at = w * at
    pick = _constant_zeros(xv, shape, dt)
    if len(shape) == 2:
        pick[_np.arange(shape[0]), ts] = at
    elif len(shape) == 1:
        pick[ts] = at
    else:
        _np.put_along_axis(pick, _np.expand_dims(ts, cdim),
                          _np.expand_dims(_np.broadcast_to(at, tshape), cdim), axis=cdim)
    if ls > 0:
        wshape = (c,) + (1,) * (len(shape) - 1 - cdim)
        sm = _np.full(wshape, scale * dt.type(ls / c), dtype=dt) if wv is None else \
            (_np.reshape(wv, wshape) * (scale * dt.type(ls / c))).astype(dt)
        if not all_valid:
            sm = sm * _np.expand_dims(valid, cdim).astype(dt)
        pick += sm
        rowsum = _np.add.reduce(pick, axis=cdim, keepdims=True)
    elif w is None:
        rowsum = at  # a scalar: 1 (or 1/N) in every row
    else:
        rowsum = _np.expand_dims(at, cdim)
    reduce = reduction != "none"
    loss = _prims.softmax_cross_entropy(input, pick=pick, rowsum=rowsum, axis=cdim,
                                        reduce=reduce, cache=[])
    return _plain_loss(input, loss) if reduce else loss


# the unsigned view of each (native) signed integer dtype, and the unsigned ones themselves
_UNSIGNED = {_np.dtype(s): _np.dtype(u) for s, u in (
    ("i1", "u1"), ("i2", "u2"), ("i4", "u4"), ("i8", "u8"), ("u1", "u1"), ("u2", "u2"),
    ("u4", "u4"), ("u8", "u8"))}
_ROWS: dict[int, _np.ndarray] = {}


def _rows(n: int) -> _np.ndarray:
    """arange(n), kept (read-only) for the next batch of the same size."""
    r = _ROWS.get(n)
    if r is None:
        if len(_ROWS) >= 16:
            _ROWS.clear()
        r = _ROWS[n] = _np.arange(n)
        r.flags.writeable = False
    return r


_SCALES: dict[tuple, _Any] = {}


def _scale(dt: _np.dtype, n: int) -> _Any:
    """1 / n in ``dt`` (a NumPy scalar, computed as dt(1) / dt(n)), kept for the next call."""
    key = (dt, n)
    v = _SCALES.get(key)
    if v is None:
        if len(_SCALES) >= 64:
            _SCALES.clear()
        v = _SCALES[key] = dt.type(1) / dt.type(n)
    return v


def _plain_loss(input: _Any, loss: _Any) -> _Any:
    # the primitive gives a reduced loss as a 0-d array (for the engine); plain NumPy
    # logits still get a NumPy scalar, as np.sum would give
    if loss.__class__ is _np.ndarray and not isinstance(input, _Tensor):
        return loss[()]
    return loss


def cross_entropy(input: _Any, target: _Any, weight: _Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> _Any:
    """Cross entropy of logits ``input`` (N, C, ...) against integer classes, or against
    class probabilities (a float target of the input's shape).  PyTorch's semantics,
    stable for any finite logits."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0 and 1, got {label_smoothing}")
    xv = input._value if isinstance(input, _Tensor) else _arrays.asarray(input)
    shape = xv.shape
    cdim = 0 if len(shape) == 1 else 1
    tv = target if target.__class__ is _np.ndarray else _arrays.asarray(_value(target))
    if tv.dtype.kind in "iu" and shape and xv.dtype.kind == "f" and xv.size:
        return _fused_cross_entropy(input, xv, cdim, tv, weight, ignore_index, reduction,
                                    label_smoothing)
    logp = log_softmax(input, dim=cdim)
    c = shape[cdim] if shape else 0
    wshape = (c,) + (1,) * (len(shape) - 1 - cdim)
    wv = None if weight is None else _np.reshape(_arrays.asarray(_value(weight)), wshape)
    if tv.dtype.kind == "f":  # class probabilities
        if tv.shape != shape:
            raise _ShapeError(f"cross_entropy: probability targets must have the input's shape "
                             f"{shape}, got {tv.shape}")
        t = target
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / c
        prod = logp * t if wv is None else logp * t * wv.astype(logp.dtype)
        per = -_R.sum(prod, axis=cdim)
        return _reduce(per, reduction)
    nll = nll_loss(logp, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    smooth = -_R.sum(logp if wv is None else logp * wv.astype(logp.dtype), axis=cdim)
    keep = tv != ignore_index
    smooth = smooth * keep.astype(_float_dtype(input))
    if reduction == "mean":
        if weight is None:
            smooth = _R.sum(smooth) / keep.sum()
        else:
            smooth = _R.sum(smooth) / _arrays.asarray(_value(weight))[tv[keep]].sum()
    elif reduction == "sum":
        smooth = _R.sum(smooth)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)


def binary_cross_entropy_with_logits(input: _Any, target: _Any, weight: _Any = None,
                                     reduction: str = "mean", pos_weight: _Any = None) -> _Any:
    """-[p y log s(x) + (1 - y) log(1 - s(x))] with s the sigmoid, from the logits x
    through softplus (stable for any finite x)."""
    if _shape(input) != _shape(target):
        raise _ShapeError(
            f"binary_cross_entropy_with_logits: target size {_shape(target)} must be the same as "
            f"input size {_shape(input)}"
        )
    sp = _E.logaddexp(0.0, input)  # softplus(x) = -log(1 - s(x))
    if pos_weight is None:
        loss = sp - target * input  # softplus(-x) = softplus(x) - x
    else:
        loss = (1 - target) * sp + pos_weight * target * (sp - input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def one_hot(labels: _Any, num_classes: int = -1) -> _np.ndarray:
    """Integer labels -> one-hot int64 array (not differentiable, like PyTorch)."""
    t = _arrays.asarray(_value(labels))
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got {t.dtype}")
    n = int(t.max()) + 1 if num_classes < 0 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise IndexError(f"one_hot: labels must lie in [0, {n})")
    return (t[..., None] == _np.arange(n)).astype(_np.int64)


def _bind_tensor_methods() -> None:
    """``t.relu()``, ``t.sigmoid()``, ``t.softmax(dim)``, ``t.log_softmax(dim)``: PyTorch's
    Tensor methods for these functions, bound onto the Tensor by this layer (the core
    below knows nothing of nn)."""
    for name in ("relu", "sigmoid", "softmax", "log_softmax"):
        fn = globals()[name]

        def method(self: _Tensor, *args: _Any, _fn: _Any = fn, **kw: _Any) -> _Any:
            return _fn(self, *args, **kw)

        method.__name__ = name
        method.__doc__ = f"``{name}(t, ...)`` of chainrule.nn.functional, as a method."
        setattr(_Tensor, name, method)


_bind_tensor_methods()

# attention lives in its own module (it builds on the functions above); imported last
from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402

# conv1d, transposed convolution, average/adaptive pooling, interpolate, pad, group_norm,
# elu, prelu, channel dropout and more losses live in their own module; imported last
from .functional_extra import (  # noqa: E402
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, binary_cross_entropy,
    conv1d, conv_transpose2d, dropout1d, dropout2d, elu, group_norm, huber_loss, interpolate,
    kl_div, pad, prelu, smooth_l1_loss,
)

__all__ += [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d",
    "binary_cross_entropy", "conv1d", "conv_transpose2d", "dropout1d", "dropout2d", "elu",
    "group_norm", "huber_loss", "interpolate", "kl_div", "pad", "prelu", "smooth_l1_loss",
]

# the embedding lookup lives with the Embedding layer (nn/recurrent.py); imported last
from .recurrent import embedding  # noqa: E402

__all__ += ["embedding"]
