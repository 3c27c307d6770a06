"""Attention with PyTorch's semantics: ``scaled_dot_product_attention`` and
``MultiheadAttention`` (parameter names, shapes, initialisation, masks and layouts as in
``torch.nn``).  Everything is built from differentiable Tensor ops (matmul, reshape,
swapaxes, where, softmax), so gradients flow to the inputs, the parameters and a float mask.

Mask conventions differ between the two, as in PyTorch:

* ``scaled_dot_product_attention``: a boolean ``attn_mask`` says which positions *take part*
  (True = attend); a float mask is added to the scores.
* ``MultiheadAttention``: a boolean ``attn_mask`` / ``key_padding_mask`` says which positions
  are *masked out* (True = ignore); a float mask is added to the scores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import arrays
from ..core.errors import ShapeError
from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops import shape as S
from ..ops.util import value as _value
from . import functional as F
from . import init
from .layers import Linear, _as_input
from .module import Module
from .parameter import Parameter
from .primitives import count

__all__ = ["MultiheadAttention", "multi_head_attention_forward", "scaled_dot_product_attention"]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(_value(x)))


def _dtype(x: Any) -> np.dtype:
    d = arrays.asarray(_value(x)).dtype
    return d if d.kind in "fc" else np.dtype(np.float64)


def _additive_mask(mask: Any, dtype: np.dtype, name: str, true_keeps: bool) -> Any:
    """A mask as something to add to the attention scores: a boolean mask becomes 0 / -inf
    (``true_keeps`` says whether True means "attend" or "masked out"); a float mask is used
    as it is (a Tensor keeps its gradient; a plain array is cast to the scores' dtype)."""
    if mask is None:
        return None
    m = arrays.asarray(_value(mask))
    if m.dtype.kind == "b":
        keep = m if true_keeps else ~m
        return np.where(keep, dtype.type(0), dtype.type(-np.inf))
    if m.dtype.kind not in "fc":
        raise TypeError(f"only bool and floating types of {name} are supported, got {m.dtype}")
    if isinstance(mask, Tensor):
        return mask
    return m if m.dtype == dtype else m.astype(dtype)


def _safe_softmax(scores: Any) -> Any:
    """softmax over the last axis, with rows that are masked everywhere (all -inf) giving
    zeros rather than NaN (what PyTorch's scaled_dot_product_attention does)."""
    dead = np.all(arrays.asarray(_value(scores)) == -np.inf, axis=-1, keepdims=True)
    w = F.softmax(E.where(dead, np.zeros((), _dtype(scores)), scores), -1)
    return E.where(dead, np.zeros((), _dtype(scores)), w)


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Any:
    """``softmax(query @ key^T * scale + mask) @ value`` over the last two axes.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the
    leading (batch, head) axes broadcast.  ``attn_mask`` broadcasts to (..., L, S): boolean
    True = take part, a float mask is added to the scores.  ``is_causal`` masks out the
    positions above the diagonal (top-left aligned, ``tril`` of an (L, S) matrix of ones)
    and may not be combined with ``attn_mask``.  ``scale`` defaults to 1/sqrt(E).
    ``dropout_p`` drops attention weights (always: this function does not know of a
    training mode, as in PyTorch), drawing from ``chainrule.nn``'s random stream.
    ``enable_gqa`` repeats each key/value head for a group of query heads (axis -3).
    Rows that are masked everywhere give zeros, as in PyTorch.
    """
    qs, ks, vs = _shape(query), _shape(key), _shape(value)
    if len(qs) < 2 or len(ks) < 2 or len(vs) < 2:
        raise ShapeError(f"scaled_dot_product_attention: query, key and value must have at "
                         f"least 2 dimensions, got {qs}, {ks}, {vs}")
    if qs[-1] != ks[-1]:
        raise ShapeError(f"scaled_dot_product_attention: query {qs} and key {ks} must have the "
                         f"same last dimension (embedding size)")
    if ks[-2] != vs[-2]:
        raise ShapeError(f"scaled_dot_product_attention: key {ks} and value {vs} must have the "
                         f"same number of positions (axis -2)")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: an explicit attn_mask must not be set "
                         "when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if enable_gqa:
        if len(qs) < 3 or len(ks) < 3 or len(vs) < 3:
            raise ShapeError("scaled_dot_product_attention: enable_gqa needs a head axis (-3) "
                             "on query, key and value")
        hq, hk, hv = qs[-3], ks[-3], vs[-3]
        if hk != hv or hq % hk:
            raise ShapeError(f"scaled_dot_product_attention: enable_gqa needs the number of "
                             f"query heads ({hq}) to be a multiple of the key/value heads "
                             f"({hk}, {hv})")
        if hq != hk:
            key = S.repeat(key, hq // hk, axis=-3)
            value = S.repeat(value, hq // hk, axis=-3)
    L, Sn = qs[-2], ks[-2]
    dt = np.result_type(_dtype(query), _dtype(key))
    sc = 1.0 / math.sqrt(qs[-1]) if scale is None else float(scale)
    scores = (query @ S.swapaxes(key, -1, -2)) * dt.type(sc)
    if is_causal:
        keep = np.tril(np.ones((L, Sn), dtype=bool))
        scores = scores + np.where(keep, dt.type(0), dt.type(-np.inf)).astype(dt)
        weights = F.softmax(scores, -1)
    elif attn_mask is not None:
        scores = scores + _additive_mask(attn_mask, dt, "attn_mask", true_keeps=True)
        weights = _safe_softmax(scores)
    else:
        weights = F.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, training=True)
    return weights @ value


def _pad_last(mask: Any) -> Any:
    """One more key position that nothing masks (a column of zeros on the last axis)."""
    if mask is None:
        return None
    shape = _shape(mask)
    zeros = np.zeros(shape[:-1] + (1,), _dtype(mask))
    return S.concatenate([mask, zeros], axis=-1)


def multi_head_attention_forward(
    query: Any, key: Any, value: Any, embed_dim_to_check: int, num_heads: int,
    in_proj_weight: Any, in_proj_bias: Any, bias_k: Any, bias_v: Any, add_zero_attn: bool,
    dropout_p: float, out_proj_weight: Any, out_proj_bias: Any, training: bool = True,
    key_padding_mask: Any = None, need_weights: bool = True, attn_mask: Any = None,
    use_separate_proj_weight: bool = False, q_proj_weight: Any = None, k_proj_weight: Any = None,
    v_proj_weight: Any = None, static_k: Any = None, static_v: Any = None,
    average_attn_weights: bool = True, is_causal: bool = False,
) -> tuple[Any, Any]:
    """PyTorch's ``F.multi_head_attention_forward``: sequence-first inputs query (L, N, E),
    key (S, N, kdim), value (S, N, vdim), or unbatched (L, E), (S, kdim), (S, vdim).

    Returns ``(output, weights)``: output (L, N, E) (or (L, E)); weights (N, L, S) averaged
    over the heads, (N, num_heads, L, S) with ``average_attn_weights=False``, or None with
    ``need_weights=False``.  Boolean masks: True = masked out.  ``attn_mask`` is (L, S) or
    (N * num_heads, L, S); ``key_padding_mask`` is (N, S) (or (S,) unbatched).
    ``is_causal`` is a hint that ``attn_mask`` is the causal mask (it requires one); without
    a key_padding_mask and with need_weights=False the causal mask itself is applied.
    ``static_k`` / ``static_v`` (N * num_heads, S, E / num_heads) replace the projected keys
    and values.
    """
    qs, ks, vs = _shape(query), _shape(key), _shape(value)
    batched = _check_batched(qs, ks, vs, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = (S.expand_dims(t, 1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = S.expand_dims(key_padding_mask, 0) \
                if isinstance(key_padding_mask, Tensor) \
                else np.expand_dims(np.asarray(key_padding_mask), 0)
        qs, ks, vs = _shape(query), _shape(key), _shape(value)
    L, N, Ed = qs
    Sn = ks[0]
    if Ed != embed_dim_to_check:
        raise ShapeError(f"multi_head_attention_forward: was expecting embedding dimension of "
                         f"{embed_dim_to_check}, but got {Ed}")
    head_dim = Ed // num_heads
    if head_dim * num_heads != Ed:
        raise ShapeError(f"embed_dim {Ed} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if ks[:2] != vs[:2]:
            raise ShapeError(f"key's sequence and batch dims {ks[:2]} do not match value's "
                             f"{vs[:2]}")
    elif ks != vs:
        raise ShapeError(f"key shape {ks} does not match value shape {vs}")
    dt = _dtype(query)
    key_padding_mask = _additive_mask(key_padding_mask, dt, "key_padding_mask", False)
    if is_causal and attn_mask is None:
        raise ValueError("Need attn_mask if specifying the is_causal hint. You may use the "
                         "Transformer module method `generate_square_subsequent_mask` to "
                         "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the causal mask itself, applied by scaled_dot_product_attention
    else:
        attn_mask = _additive_mask(attn_mask, dt, "attn_mask", False)
        if key_padding_mask is not None:
            is_causal = False  # the masks are merged below and used as they are

    # input projections
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ValueError("use_separate_proj_weight is True but q_proj_weight, "
                             "k_proj_weight or v_proj_weight is None")
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if in_proj_weight is None:
            raise ValueError("use_separate_proj_weight is False but in_proj_weight is None")
        wq, wk, wv = in_proj_weight[:Ed], in_proj_weight[Ed:2 * Ed], in_proj_weight[2 * Ed:]
    if in_proj_bias is None:
        bq = bk = bv = None
    else:
        bq, bk, bv = in_proj_bias[:Ed], in_proj_bias[Ed:2 * Ed], in_proj_bias[2 * Ed:]
    q = F.linear(query, wq, bq)
    k = F.linear(key, wk, bk)
    v = F.linear(value, wv, bv)

    # attn_mask to (1 or N*H, L, S)
    if attn_mask is not None:
        am = _shape(attn_mask)
        if len(am) == 2:
            if am != (L, Sn):
                raise ShapeError(f"The shape of the 2D attn_mask is {am}, but should be "
                                 f"{(L, Sn)}.")
            attn_mask = S.expand_dims(attn_mask, 0)
        elif len(am) == 3:
            if am != (N * num_heads, L, Sn):
                raise ShapeError(f"The shape of the 3D attn_mask is {am}, but should be "
                                 f"{(N * num_heads, L, Sn)}.")
        else:
            raise ShapeError(f"attn_mask's dimension {len(am)} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise ValueError("bias cannot be added to static key / value")
        k = S.concatenate([k, S.broadcast_to(bias_k, (1, N, Ed))], axis=0)
        v = S.concatenate([v, S.broadcast_to(bias_v, (1, N, Ed))], axis=0)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise ValueError("bias_k and bias_v must both be given or both be None")

    NH = N * num_heads
    q = S.swapaxes(S.reshape(q, (L, NH, head_dim)), 0, 1)
    if static_k is None:
        k = S.swapaxes(S.reshape(k, (_shape(k)[0], NH, head_dim)), 0, 1)
    else:
        if _shape(static_k)[::2] != (NH, head_dim):
            raise ShapeError(f"static_k should be ({NH}, S, {head_dim}), got "
                             f"{_shape(static_k)}")
        k = static_k
    if static_v is None:
        v = S.swapaxes(S.reshape(v, (_shape(v)[0], NH, head_dim)), 0, 1)
    else:
        if _shape(static_v)[::2] != (NH, head_dim):
            raise ShapeError(f"static_v should be ({NH}, S, {head_dim}), got "
                             f"{_shape(static_v)}")
        v = static_v

    if add_zero_attn:
        zeros = np.zeros((NH, 1, head_dim), dt)
        k = S.concatenate([k, zeros], axis=1)
        v = S.concatenate([v, zeros], axis=1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)

    src_len = _shape(k)[1]
    if key_padding_mask is not None:
        if _shape(key_padding_mask) != (N, src_len):
            raise ShapeError(f"expecting key_padding_mask shape of {(N, src_len)}, but got "
                             f"{_shape(key_padding_mask)}")
        kpm = S.reshape(S.broadcast_to(S.reshape(key_padding_mask, (N, 1, 1, src_len)),
                                       (N, num_heads, 1, src_len)), (NH, 1, src_len))
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * dt.type(math.sqrt(1.0 / head_dim))) @ S.swapaxes(k, -1, -2)
        if attn_mask is not None:
            scores = attn_mask + scores
        weights = F.softmax(scores, -1)
        if dropout_p > 0.0:
            weights = F.dropout(weights, dropout_p, training=True)
        out = weights @ v  # (NH, L, head_dim)
        out = S.reshape(S.swapaxes(out, 0, 1), (L * N, Ed))
        out = S.reshape(F.linear(out, out_proj_weight, out_proj_bias), (L, N, Ed))
        weights = S.reshape(weights, (N, num_heads, L, src_len))
        if average_attn_weights:
            weights = R.mean(weights, axis=1)
        if not batched:
            out = S.squeeze(out, 1)
            weights = S.squeeze(weights, 0)
        return out, weights

    if attn_mask is not None:
        if _shape(attn_mask)[0] == 1:
            attn_mask = S.expand_dims(attn_mask, 0)
        else:
            attn_mask = S.reshape(attn_mask, (N, num_heads, _shape(attn_mask)[1], src_len))
    q = S.reshape(q, (N, num_heads, L, head_dim))
    k = S.reshape(k, (N, num_heads, src_len, head_dim))
    v = S.reshape(v, (N, num_heads, src_len, head_dim))
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = S.reshape(S.transpose(out, (2, 0, 1, 3)), (L * N, Ed))
    out = S.reshape(F.linear(out, out_proj_weight, out_proj_bias), (L, N, Ed))
    if not batched:
        out = S.squeeze(out, 1)
    return out, None


def _check_batched(qs: tuple, ks: tuple, vs: tuple, key_padding_mask: Any, attn_mask: Any,
                   num_heads: int) -> bool:
    """Whether the inputs carry a batch axis (3-D) or not (2-D); the masks must agree."""
    if len(qs) == 3:
        if len(ks) != 3 or len(vs) != 3:
            raise ShapeError(f"For batched (3-D) query, expected key and value to be 3-D but "
                             f"found {len(ks)}-D and {len(vs)}-D tensors respectively")
        if key_padding_mask is not None and len(_shape(key_padding_mask)) != 2:
            raise ShapeError(f"For batched (3-D) query, expected key_padding_mask to be None "
                             f"or 2-D but found {len(_shape(key_padding_mask))}-D tensor instead")
        if attn_mask is not None and len(_shape(attn_mask)) not in (2, 3):
            raise ShapeError(f"For batched (3-D) query, expected attn_mask to be None, 2-D or "
                             f"3-D but found {len(_shape(attn_mask))}-D tensor instead")
        return True
    if len(qs) == 2:
        if len(ks) != 2 or len(vs) != 2:
            raise ShapeError(f"For unbatched (2-D) query, expected key and value to be 2-D but "
                             f"found {len(ks)}-D and {len(vs)}-D tensors respectively")
        if key_padding_mask is not None and len(_shape(key_padding_mask)) != 1:
            raise ShapeError(f"For unbatched (2-D) query, expected key_padding_mask to be None "
                             f"or 1-D but found {len(_shape(key_padding_mask))}-D tensor instead")
        if attn_mask is not None:
            am = _shape(attn_mask)
            if len(am) not in (2, 3):
                raise ShapeError(f"For unbatched (2-D) query, expected attn_mask to be None, "
                                 f"2-D or 3-D but found {len(am)}-D tensor instead")
            if len(am) == 3 and am != (num_heads, qs[0], ks[0]):
                raise ShapeError(f"Expected attn_mask shape to be {(num_heads, qs[0], ks[0])} "
                                 f"but got {am}")
        return False
    raise ShapeError(f"query should be unbatched 2-D or batched 3-D, got {len(qs)}-D")


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters: ``in_proj_weight`` (3E, E) and
    ``in_proj_bias`` (3E,) (or ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim) when kdim or vdim differ from E), ``out_proj`` a Linear(E, E),
    ``bias_k`` / ``bias_v`` (1, 1, E) with ``add_bias_kv``.  Initialised as PyTorch does:
    xavier_uniform for the input projections, zeros for the biases, xavier_normal for
    bias_k / bias_v, Linear's default for out_proj.weight.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns ``(output, weights or None)``;
    inputs are (L, N, E) or with ``batch_first=True`` (N, L, E), or unbatched (L, E).
    Boolean masks: True = masked out; float masks are added to the scores.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 dtype: Any = np.float32, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        embed_dim = count(embed_dim, "MultiheadAttention: embed_dim", 1)
        num_heads = count(num_heads, "MultiheadAttention: num_heads", 1)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout}")
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else count(kdim, "MultiheadAttention: kdim", 1)
        self.vdim = embed_dim if vdim is None else count(vdim, "MultiheadAttention: vdim", 1)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        dt = np.dtype(dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.zeros((embed_dim, embed_dim), dt))
            self.k_proj_weight = Parameter(np.zeros((embed_dim, self.kdim), dt))
            self.v_proj_weight = Parameter(np.zeros((embed_dim, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt, generator=generator)
        if add_bias_kv:
            self.bias_k = Parameter(np.zeros((1, 1, embed_dim), dt))
            self.bias_v = Parameter(np.zeros((1, 1, embed_dim), dt))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_parameters(generator)

    def _reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight, generator=generator)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, generator=generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k, generator=generator)
            init.xavier_normal_(self.bias_v, generator=generator)

    def _param_dtype(self) -> np.dtype:
        return self.out_proj.weight.dtype

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Any, Any]:
        dt = self._param_dtype()
        query, key, value = (_as_input(t, dt) for t in (query, key, value))
        batched = len(_shape(query)) == 3
        if self.batch_first and batched:
            query, key, value = (S.swapaxes(t, 0, 1) for t in (query, key, value))
        out, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and batched:
            out = S.swapaxes(out, 0, 1)
        return out, weights

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s
