"""``chainrule.nn.functional``: the layers and losses as functions (PyTorch's names).

Every function takes Tensors or plain arrays and is built from primitives, so it is
differentiable in both modes and to any order.  Conventions follow
``torch.nn.functional``: class dimension 1 for losses, (N, C, H, W) images,
``reduction='mean' | 'sum' | 'none'``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.errors import ShapeError
from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops import shape as S
from ..ops import special as SP
from ..ops.util import value
from . import ops
from . import random as _random

__all__ = [
    "binary_cross_entropy_with_logits", "batch_norm", "conv2d", "cross_entropy", "dropout",
    "erf", "flatten", "gelu", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "logsigmoid", "max_pool2d", "mse_loss", "nll_loss", "one_hot", "relu", "sigmoid", "silu",
    "softmax", "softplus", "tanh",
]

erf = ops.erf


def _shape(x: Any) -> tuple:
    return tuple(np.shape(value(x)))


def _float_dtype(x: Any) -> np.dtype:
    d = np.asarray(value(x)).dtype
    return d if d.kind in "fc" else np.dtype(np.float64)


# ---------------------------------------------------------------------------------
# layers


def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """``input @ weight.T + bias`` with PyTorch's weight layout (out_features, in_features)."""
    w = weight
    if np.ndim(value(w)) != 2:
        raise ShapeError(f"linear: weight must be 2-D (out, in), got shape {_shape(w)}")
    if _shape(input)[-1:] != _shape(w)[1:]:
        raise ShapeError(
            f"linear: input of shape {_shape(input)} does not fit weight of shape {_shape(w)} "
            f"(the last axis of the input must be in_features={_shape(w)[1]})"
        )
    if np.ndim(value(input)) == 0:
        raise ShapeError("linear: the input must have at least one dimension")
    y = ops.linear(input, w)
    if bias is not None:
        y = y + bias
    return y


def relu(input: Any) -> Any:
    """max(x, 0); its derivative at 0 is 0, as in PyTorch."""
    return ops.relu(input)


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Any:
    """x for x > 0, negative_slope * x otherwise (a constant slope per element)."""
    pos = np.asarray(value(input)) > 0
    dt = _float_dtype(input)
    return input * (pos * dt.type(1 - negative_slope) + dt.type(negative_slope))


def sigmoid(input: Any) -> Any:
    """1 / (1 + exp(-x)), with exp(-|x|) so that it never overflows and keeps the tails."""
    pos = np.asarray(value(input)) >= 0
    dt = _float_dtype(input)
    sgn = dt.type(1) - dt.type(2) * pos  # -1 where x >= 0, else 1
    z = E.exp(input * sgn)  # exp(-|x|) <= 1
    return (pos + z * (~pos)) / (1 + z)


def logsigmoid(input: Any) -> Any:
    return -E.logaddexp(0.0, -input)


def tanh(input: Any) -> Any:
    return E.tanh(input)


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """log(1 + exp(beta x)) / beta; linear where beta x > threshold (PyTorch)."""
    bx = input * beta if beta != 1 else input
    soft = E.logaddexp(0.0, bx)
    if beta != 1:
        soft = soft / beta
    return E.where_prim(value(bx) > threshold, input, soft)


def silu(input: Any) -> Any:
    return input * sigmoid(input)


_SQRT1_2 = 1.0 / math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)


def gelu(input: Any, approximate: str = "none") -> Any:
    """x * Phi(x): exact with erf (``approximate='none'``) or the tanh form (``'tanh'``)."""
    x = input
    if approximate == "none":
        return 0.5 * x * (1 + ops.erf(x * _SQRT1_2))
    if approximate == "tanh":
        return 0.5 * x * (1 + E.tanh(_SQRT_2_PI * (x + 0.044715 * (x * x * x))))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def _softmax_dim(input: Any, dim: int | None) -> int | None:
    nd = np.ndim(value(input))
    if nd == 0:
        return None
    if dim is None:  # PyTorch's implicit choice (deprecated there too; pass dim)
        return 0 if nd in (0, 1, 3) else 1
    return dim


def softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    if dtype is not None:
        input = E.astype(input, dtype=np.dtype(dtype))
    return SP.softmax_prim(input, axis=_softmax_dim(input, dim))


def log_softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    """x - logsumexp(x): stable for any finite logits (±1000 included)."""
    if dtype is not None:
        input = E.astype(input, dtype=np.dtype(dtype))
    return SP.log_softmax_prim(input, axis=_softmax_dim(input, dim))


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: np.random.Generator | None = None) -> Any:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    dt = _float_dtype(input)
    shape = _shape(input)
    if p == 1.0:
        return input * np.zeros(shape, dt)
    keep = _random.get(generator).random(shape) >= p
    return input * (keep.astype(dt) * dt.type(1.0 / (1.0 - p)))


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    shape = _shape(input)
    nd = len(shape)
    if nd == 0:
        return S.reshape(input, (1,))
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    new = shape[:s] + (int(np.prod(shape[s:e + 1], dtype=np.int64)),) + shape[e + 1:]
    return S.reshape(input, new)


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(n) for n in normalized_shape)
    shape = _shape(input)
    if not ns or shape[len(shape) - len(ns):] != ns:
        raise ShapeError(
            f"layer_norm: normalized_shape {ns} must be the trailing dimensions of the input, "
            f"whose shape is {shape}"
        )
    axes = tuple(range(len(shape) - len(ns), len(shape)))
    d = input - R.mean(input, axis=axes, keepdims=True)
    var = R.mean(d * d, axis=axes, keepdims=True)
    y = d / E.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _assign(buf: Any, new: np.ndarray) -> None:
    """Overwrite a running statistic in place (a Tensor buffer or an ndarray)."""
    if isinstance(buf, Tensor):
        buf._value[...] = new
        vc = buf._vc
        vc[0] += 1
        buf._nv = vc[0]
    else:
        buf[...] = new


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5) -> Any:
    """Normalise over every axis but the channel axis 1.

    Training: batch statistics (biased variance), and the running statistics are updated
    in place with ``momentum`` (the running variance with the unbiased estimate), as in
    PyTorch.  Evaluation: the running statistics.
    """
    shape = _shape(input)
    if len(shape) < 2:
        raise ShapeError(f"batch_norm: input must be at least 2-D (N, C, ...), got {shape}")
    c = shape[1]
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, c) + (1,) * (len(shape) - 2)

    def per_channel(t: Any, what: str) -> Any:
        if t is None:
            return None
        if _shape(t) != (c,):
            raise ShapeError(f"batch_norm: {what} must have shape ({c},), got {_shape(t)}")
        return S.reshape(t, bshape)

    if training:
        n = int(np.prod([shape[a] for a in axes]))
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {shape}"
            )
        mean = R.mean(input, axis=axes, keepdims=True)
        d = input - mean
        var = R.mean(d * d, axis=axes, keepdims=True)
        if momentum is not None and (running_mean is not None or running_var is not None):
            m = float(momentum)
            if running_mean is not None:
                rm = np.asarray(value(running_mean))
                _assign(running_mean, (1 - m) * rm + m * np.reshape(value(mean), (c,)))
            if running_var is not None:
                rv = np.asarray(value(running_var))
                unbiased = np.reshape(value(var), (c,)) * (n / (n - 1))
                _assign(running_var, (1 - m) * rv + m * unbiased)
        y = d / E.sqrt(var + eps)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
        rm = np.reshape(value(per_channel(running_mean, "running_mean")), bshape)
        rv = np.reshape(value(per_channel(running_var, "running_var")), bshape)
        y = (input - rm) / np.sqrt(rv + eps)
    if weight is not None:
        y = y * per_channel(weight, "weight")
    if bias is not None:
        y = y + per_channel(bias, "bias")
    return y


def _conv_padding(padding: Any, kernel: tuple, dilation: tuple, stride: tuple) -> tuple:
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
    ph, pw = ops.pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"conv2d: padding must be non-negative, got {padding!r}")
    return ((ph, ph), (pw, pw))


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Any:
    """2-D cross-correlation (PyTorch's conv2d): input (N, C, H, W) or (C, H, W),
    weight (O, C // groups, KH, KW), optional bias (O,)."""
    st, dil = ops.pair(stride, "stride"), ops.pair(dilation, "dilation")
    if min(st) < 1 or min(dil) < 1 or int(groups) < 1:
        raise ValueError("conv2d: stride, dilation and groups must be positive")
    ws = _shape(weight)
    if len(ws) != 4:
        raise ShapeError(f"conv2d: weight must be 4-D (O, C/groups, KH, KW), got {ws}")
    pad = _conv_padding(padding, ws[2:], dil, st)
    unbatched = len(_shape(input)) == 3
    x = S.reshape(input, (1,) + _shape(input)) if unbatched else input
    y = ops.conv2d(x, weight, stride=st, padding=pad, dilation=dil, groups=int(groups))
    if bias is not None:
        y = y + S.reshape(bias, (1, -1, 1, 1))
    return S.reshape(y, _shape(y)[1:]) if unbatched else y


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    if return_indices:
        raise NotImplementedError("max_pool2d(return_indices=True) is not supported")
    k = ops.pair(kernel_size, "kernel_size")
    st = k if stride is None or stride == () else ops.pair(stride, "stride")
    kw = dict(kernel=k, stride=st, padding=ops.pair(padding, "padding"),
              dilation=ops.pair(dilation, "dilation"), ceil_mode=bool(ceil_mode))
    if min(k) < 1 or min(st) < 1 or min(kw["dilation"]) < 1:
        raise ValueError("max_pool2d: kernel_size, stride and dilation must be positive")
    unbatched = len(_shape(input)) == 3
    x = S.reshape(input, (1,) + _shape(input)) if unbatched else input
    y = ops.max_pool2d(x, **kw)
    return S.reshape(y, _shape(y)[1:]) if unbatched else y


# ---------------------------------------------------------------------------------
# losses


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_target(name: str, input: Any, target: Any) -> None:
    ish, tsh = _shape(input), _shape(target)
    if ish == tsh:
        return
    try:
        b = np.broadcast_shapes(ish, tsh)
    except ValueError:
        b = None
    if b != ish:
        raise ShapeError(
            f"{name}: target of shape {tsh} does not match input of shape {ish}"
            + (f"; broadcasting would give shape {b} and a wrong loss" if b is not None else "")
            + f". Reshape one of them (e.g. target.reshape({ish}))."
        )


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    _check_target("mse_loss", input, target)
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    _check_target("l1_loss", input, target)
    return _reduce(E.absolute(input - target), reduction)


def _int_target(what: str, target: Any, tshape: tuple) -> np.ndarray:
    t = np.asarray(value(target))
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{what}: class-index targets must be integers, got dtype {t.dtype}"
            + (" (for class probabilities pass a float target of the input's shape to "
               "cross_entropy)" if t.dtype.kind == "f" else "")
        )
    if t.shape != tshape:
        raise ShapeError(f"{what}: target of shape {t.shape} does not fit the input; expected "
                         f"shape {tshape}")
    return t


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Any:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) or (C,) at integer
    ``target`` (N, ...) or ().

    The 'mean' is weighted: sum(w[t_i] * l_i) / sum(w[t_i]) over targets not ignored.
    Computed as one product with a constant matrix that holds -w[t_i] at each target
    (and 0 elsewhere), so the gradient is one multiplication.
    """
    shape = _shape(input)
    if len(shape) == 0:
        raise ShapeError("nll_loss: input must have a class dimension, got a 0-d input")
    cdim = 0 if len(shape) == 1 else 1
    c = shape[cdim]
    tshape = () if cdim == 0 else (shape[0],) + shape[2:]
    t = _int_target("nll_loss", target, tshape)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"nll_loss: target {int(t[bad].flat[0])} is out of bounds for {c} "
                         f"classes")
    ts = np.where(valid, t, 0)
    dt = _float_dtype(input)
    if weight is not None:
        wv = np.asarray(value(weight))
        if wv.shape != (c,):
            raise ShapeError(f"nll_loss: weight must have shape ({c},), got {wv.shape}")
        w = wv[ts] * valid
    else:
        w = valid
    w = np.asarray(w, dtype=dt)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in torch
            w = w / w.sum()
    elif reduction not in ("sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    pick = np.zeros(shape, dtype=dt)
    np.put_along_axis(pick, np.expand_dims(ts, cdim), -np.expand_dims(w, cdim), axis=cdim)
    if reduction == "none":
        return R.sum_prim(input * pick, axis=cdim)
    return R.sum_prim(input * pick)


def _fused_cross_entropy(input: Any, xv: np.ndarray, cdim: int, t: np.ndarray, weight: Any,
                         ignore_index: int, reduction: str, label_smoothing: float) -> Any:
    """Integer targets: one softmax_cross_entropy node, whose constant coefficient array
    holds w[t_i] (1 - smoothing) at each target plus smoothing * w_c / C everywhere, for
    the rows not ignored, over sum(w[t_i]) for a mean (PyTorch's weighted mean)."""
    shape = xv.shape
    c = shape[cdim]
    tshape = () if cdim == 0 else (shape[0],) + shape[2:]
    if t.shape != tshape:
        raise ShapeError(f"nll_loss: target of shape {t.shape} does not fit the input; "
                         f"expected shape {tshape}")
    if reduction != "mean" and reduction != "sum" and reduction != "none":
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    dt = xv.dtype
    lo = hi = None
    if t.size:
        lo, hi = np.minimum.reduce(t, axis=None), np.maximum.reduce(t, axis=None)
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
        ts = t if all_valid else np.where(valid, t, 0)
    wv = None
    if weight is not None:
        wv = np.asarray(value(weight))
        if wv.shape != (c,):
            raise ShapeError(f"nll_loss: weight must have shape ({c},), got {wv.shape}")
        w = np.asarray(wv[ts] if all_valid else wv[ts] * valid, dtype=dt)
    elif all_valid:
        w = None  # 1 at every target
    else:
        w = valid.astype(dt)
    one = dt.type(1)
    if reduction == "mean":
        n = t.size if w is None else w.sum()
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: NaN, as in torch
            scale = one / dt.type(n)
    else:
        scale = one
    ls = float(label_smoothing)
    at = scale * dt.type(1 - ls) if ls else scale
    if w is not None:
        at = w * at
    pick = np.zeros(shape, dtype=dt)
    if len(shape) == 2:
        pick[np.arange(shape[0]), ts] = at
    elif len(shape) == 1:
        pick[ts] = at
    else:
        np.put_along_axis(pick, np.expand_dims(ts, cdim),
                          np.expand_dims(np.broadcast_to(at, tshape), cdim), axis=cdim)
    if ls > 0:
        wshape = (c,) + (1,) * (len(shape) - 1 - cdim)
        sm = np.full(wshape, scale * dt.type(ls / c), dtype=dt) if wv is None else \
            (np.reshape(wv, wshape) * (scale * dt.type(ls / c))).astype(dt)
        if not all_valid:
            sm = sm * np.expand_dims(valid, cdim).astype(dt)
        pick += sm
        rowsum = np.add.reduce(pick, axis=cdim, keepdims=True)
    elif w is None:
        rowsum = at  # a scalar: 1 (or 1/N) in every row
    else:
        rowsum = np.expand_dims(at, cdim)
    return ops.softmax_cross_entropy(input, pick=pick, rowsum=rowsum, axis=cdim,
                                     reduce=reduction != "none", cache=[])


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Any:
    """Cross entropy of logits ``input`` (N, C, ...) against integer classes, or against
    class probabilities (a float target of the input's shape).  PyTorch's semantics,
    stable for any finite logits."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0 and 1, got {label_smoothing}")
    xv = input._value if isinstance(input, Tensor) else np.asarray(input)
    shape = xv.shape
    cdim = 0 if len(shape) == 1 else 1
    tv = target if target.__class__ is np.ndarray else np.asarray(value(target))
    if tv.dtype.kind in "iu" and shape and xv.dtype.kind == "f" and xv.size:
        return _fused_cross_entropy(input, xv, cdim, tv, weight, ignore_index, reduction,
                                    label_smoothing)
    logp = log_softmax(input, dim=cdim)
    c = shape[cdim] if shape else 0
    wshape = (c,) + (1,) * (len(shape) - 1 - cdim)
    wv = None if weight is None else np.reshape(np.asarray(value(weight)), wshape)
    if tv.dtype.kind == "f":  # class probabilities
        if tv.shape != shape:
            raise ShapeError(f"cross_entropy: probability targets must have the input's shape "
                             f"{shape}, got {tv.shape}")
        t = target
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / c
        prod = logp * t if wv is None else logp * t * wv.astype(logp.dtype)
        per = -R.sum(prod, axis=cdim)
        return _reduce(per, reduction)
    nll = nll_loss(logp, target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    smooth = -R.sum(logp if wv is None else logp * wv.astype(logp.dtype), axis=cdim)
    keep = tv != ignore_index
    smooth = smooth * keep.astype(_float_dtype(input))
    if reduction == "mean":
        if weight is None:
            smooth = R.sum(smooth) / keep.sum()
        else:
            smooth = R.sum(smooth) / np.asarray(value(weight))[tv[keep]].sum()
    elif reduction == "sum":
        smooth = R.sum(smooth)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / c)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Any:
    """-[p y log s(x) + (1 - y) log(1 - s(x))] with s the sigmoid, from the logits x
    through softplus (stable for any finite x)."""
    if _shape(input) != _shape(target):
        raise ShapeError(
            f"binary_cross_entropy_with_logits: target size {_shape(target)} must be the same as "
            f"input size {_shape(input)}"
        )
    sp = E.logaddexp(0.0, input)  # softplus(x) = -log(1 - s(x))
    if pos_weight is None:
        loss = sp - target * input  # softplus(-x) = softplus(x) - x
    else:
        loss = (1 - target) * sp + pos_weight * target * (sp - input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def one_hot(labels: Any, num_classes: int = -1) -> np.ndarray:
    """Integer labels -> one-hot int64 array (not differentiable, like PyTorch)."""
    t = np.asarray(value(labels))
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got {t.dtype}")
    n = int(t.max()) + 1 if num_classes < 0 else num_classes
    if t.size and (t.min() < 0 or t.max() >= n):
        raise IndexError(f"one_hot: labels must lie in [0, {n})")
    return (t[..., None] == np.arange(n)).astype(np.int64)
