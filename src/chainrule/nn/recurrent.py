"""Embedding and the recurrent layers (RNN, LSTM, GRU) with PyTorch's names, parameter
layouts, gate orders, defaults and initialisation.

The recurrent layers compute the input projection of a whole sequence in one matmul per
layer and direction; the time loop does only the hidden-state matmul and the gates.
Everything is built from differentiable primitives, so gradients come from the engine.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from ..core import arrays as _arrays
from ..core.errors import ShapeError
from ..core.tensor import Tensor
from ..ops import elementwise as _E
from ..ops import shape as _S
from ..ops.util import value as _value
from . import functional as F
from . import init
from .layers import _as_input, _param
from .module import Module
from .primitives import count

__all__ = ["Embedding", "GRU", "LSTM", "RNN"]


def _shape(x: Any) -> tuple:
    return tuple(np.shape(_value(x)))


# ---------------------------------------------------------------------------------
# Embedding


def _check_embedding_options(what: str, scale_grad_by_freq: bool, sparse: bool) -> None:
    if scale_grad_by_freq:
        raise NotImplementedError(f"{what}: scale_grad_by_freq=True is not supported")
    if sparse:
        raise NotImplementedError(f"{what}: sparse=True is not supported (gradients are dense)")


def _renorm_rows_(weight: Any, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and outside the graph, the rows ``idx`` whose ``norm_type``-norm
    exceeds ``max_norm`` to norm ``max_norm`` (PyTorch's embedding renorm)."""
    w = weight._value if isinstance(weight, Tensor) else weight
    if not isinstance(w, np.ndarray):
        raise TypeError("embedding: max_norm needs a weight it can modify in place")
    rows = np.unique(idx)
    if rows.size == 0:
        return
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if not big.any():
        return
    rows, norms = rows[big], norms[big]
    w[rows] *= (max_norm / (norms + 1e-7)).astype(w.dtype)[:, None]
    if isinstance(weight, Tensor):
        vc = weight._version
        vc[0] += 1
        weight._node_version = vc[0]


def _check_rows(idx: np.ndarray, n: int = 0) -> np.ndarray:
    if idx.size and bool(np.any((idx < 0) | (idx >= n))):
        raise IndexError(f"embedding: index out of range: indices must lie in [0, {n}), got "
                         f"values in [{idx.min()}, {idx.max()}]")
    return idx


def embedding(input: Any, weight: Any, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Any:
    """Rows of ``weight`` (num_embeddings, dim) at the integer indices ``input``; the output
    has shape ``input.shape + (dim,)``.  The ``padding_idx`` row gets no gradient.
    With ``max_norm``, the looked-up rows of ``weight`` are first renormalised in place."""
    _check_embedding_options("embedding", scale_grad_by_freq, sparse)
    idx = _arrays.asarray(_value(input))  # a traced array under cr.compile stays one
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    wshape = _shape(weight)
    if len(wshape) != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, dim), got {wshape}")
    n = wshape[0]
    if _arrays.lazy(idx):  # (checked block by block when the graph runs)
        idx = idx.map_blocks(_check_rows, n=n, dtype=idx.dtype)
    elif idx.size and bool(np.any((idx < 0) | (idx >= n))):
        raise IndexError(f"embedding: index out of range: indices must lie in [0, {n}), got "
                         f"values in [{idx.min()}, {idx.max()}]")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
    if max_norm is not None:
        _renorm_rows_(weight, idx, float(max_norm), float(norm_type))
    out = weight[idx]
    if padding_idx is not None and isinstance(weight, Tensor):
        # the padding row's value, without a path back to the weight
        out = _E.where_prim((idx == padding_idx)[..., None], weight._value[idx], out)
    return out


class Embedding(Module):
    """A lookup table: ``weight`` (num_embeddings, embedding_dim), initialised N(0, 1) with
    the ``padding_idx`` row zero (that row also receives no gradient)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Any = None, _freeze: bool = False, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        _check_embedding_options("Embedding", scale_grad_by_freq, sparse)
        self.num_embeddings = count(num_embeddings, "Embedding: num_embeddings")
        self.embedding_dim = count(embedding_dim, "Embedding: embedding_dim")
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError("Padding_idx must be within num_embeddings")
            if padding_idx < 0:
                padding_idx += self.num_embeddings
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = _param((self.num_embeddings, self.embedding_dim), dtype)
            self.reset_parameters(generator)
        else:
            w = np.array(_value(_weight), copy=True)
            if w.shape != (self.num_embeddings, self.embedding_dim):
                raise ShapeError("Shape of weight does not match num_embeddings and "
                                 f"embedding_dim: {w.shape}")
            self.weight = _param(w.shape, w.dtype if w.dtype.kind == "f" else dtype)
            self.weight._value[...] = w
        if _freeze:
            self.weight.requires_grad_(False)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            self.weight._value[self.padding_idx] = 0

    def forward(self, input: Any) -> Any:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is a copy of the 2-D ``embeddings`` (kept as given, the
        padding row included); ``freeze=True`` makes it not require grad."""
        e = np.asarray(_value(embeddings))
        if e.ndim != 2:
            raise ShapeError("Embeddings parameter is expected to be 2-dimensional, got "
                             f"shape {e.shape}")
        rows, cols = e.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=e,
                   _freeze=freeze)


# ---------------------------------------------------------------------------------
# recurrent layers


def _rnn_cell(nonlinearity: str) -> Any:
    act = F.tanh if nonlinearity == "tanh" else F.relu

    def cell(xp: Any, h: Any, c: Any, w_hh: Any, b_hh: Any, w_hr: Any) -> tuple:
        a = xp + F.linear(h, w_hh, b_hh)
        return act(a), None

    return cell


def _lstm_cell(xp: Any, h: Any, c: Any, w_hh: Any, b_hh: Any, w_hr: Any) -> tuple:
    g = xp + F.linear(h, w_hh, b_hh)
    n = _shape(c)[-1]
    i = F.sigmoid(g[..., :n])
    f = F.sigmoid(g[..., n:2 * n])
    gg = F.tanh(g[..., 2 * n:3 * n])
    o = F.sigmoid(g[..., 3 * n:])
    c = f * c + i * gg
    h = o * F.tanh(c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_cell(xp: Any, h: Any, c: Any, w_hh: Any, b_hh: Any, w_hr: Any) -> tuple:
    gh = F.linear(h, w_hh, b_hh)
    n = _shape(h)[-1]
    r = F.sigmoid(xp[..., :n] + gh[..., :n])
    z = F.sigmoid(xp[..., n:2 * n] + gh[..., n:2 * n])
    nn_ = F.tanh(xp[..., 2 * n:] + r * gh[..., 2 * n:])
    return (1 - z) * nn_ + z * h, None


class _RNNBase(Module):
    _mode = ""
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = count(input_size, f"{name}: input_size")
        self.hidden_size = count(hidden_size, f"{name}: hidden_size", 1)
        self.num_layers = count(num_layers, f"{name}: num_layers", 1)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) \
                or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={self.num_layers}",
                          UserWarning, stacklevel=3)
        proj_size = count(proj_size, f"{name}: proj_size")
        if proj_size and proj_size >= self.hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = proj_size
        self.generator = generator
        dirs = 2 if self.bidirectional else 1
        out = proj_size if proj_size else self.hidden_size
        g = self._gates * self.hidden_size
        self._weight_names: list[list[str]] = []
        for layer in range(self.num_layers):
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                fan = self.input_size if layer == 0 else out * dirs
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                setattr(self, names[0], _param((g, fan), dtype))
                setattr(self, names[1], _param((g, out), dtype))
                if self.bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    setattr(self, names[2], _param((g,), dtype))
                    setattr(self, names[3], _param((g,), dtype))
                if proj_size:
                    names.append(f"weight_hr{sfx}")
                    setattr(self, names[-1], _param((proj_size, self.hidden_size), dtype))
                self._weight_names.append(names)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Every weight and bias uniform in ±1/sqrt(hidden_size) (PyTorch's init)."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k, generator=generator)

    def _cell(self) -> Any:
        raise NotImplementedError

    def _weights(self, i: int) -> tuple:
        sfx = self._weight_names[i][0][len("weight_ih"):]
        get = self._parameters.get
        return (get("weight_ih" + sfx), get("weight_hh" + sfx), get("bias_ih" + sfx),
                get("bias_hh" + sfx), get("weight_hr" + sfx))

    def _check_state(self, h: Any, shape: tuple, what: str, batched: bool) -> None:
        got = _shape(h)
        if batched and len(got) != 3:
            raise ShapeError(f"For batched 3-D input, {what} should also be 3-D but got "
                             f"{len(got)}-D tensor")
        if not batched and len(got) != 2:
            raise ShapeError(f"For unbatched 2-D input, {what} should also be 2-D but got "
                             f"{len(got)}-D tensor")
        if got != shape:
            raise ShapeError(f"Expected {what} size {shape}, got {got}")

    def forward(self, input: Any, hx: Any = None) -> tuple:
        name = type(self).__name__
        dt = self.weight_ih_l0.dtype
        x = _as_input(input, dt)
        nd = len(_shape(x))
        if nd not in (2, 3):
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {nd}D instead")
        batched = nd == 3
        if not batched:
            x = _S.expand_dims(x, 1)
        elif self.batch_first:
            x = _S.swapaxes(x, 0, 1)
        steps, batch, feat = _shape(x)
        if feat != self.input_size:
            raise ShapeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {feat}")
        dirs = 2 if self.bidirectional else 1
        out_size = self.proj_size or self.hidden_size
        lstm = self._mode == "LSTM"
        hshape = (self.num_layers * dirs, batch, out_size)
        cshape = (self.num_layers * dirs, batch, self.hidden_size)
        if hx is None:
            h0 = np.zeros(hshape, dt)
            c0 = np.zeros(cshape, dt) if lstm else None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
                h0, c0 = _as_input(hx[0], dt), _as_input(hx[1], dt)
            else:
                if isinstance(hx, (tuple, list)):
                    raise TypeError(f"{name}: hx must be a single tensor h_0, not a tuple")
                h0, c0 = _as_input(hx, dt), None
            strip = (lambda s: s[:1] + s[2:]) if not batched else (lambda s: s)
            self._check_state(h0, strip(hshape), "hx" if not lstm else "h_0", batched)
            if lstm:
                self._check_state(c0, strip(cshape), "c_0", batched)
            if not batched:
                h0 = _S.expand_dims(h0, 1)
                c0 = _S.expand_dims(c0, 1) if lstm else None
        cell = self._cell()
        h_n: list = []
        c_n: list = []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                i = layer * dirs + d
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(i)
                xp = F.linear(layer_in, w_ih, b_ih)  # the whole sequence at once
                h = h0[i]
                c = c0[i] if lstm else None
                seq: list = [None] * steps
                order = range(steps - 1, -1, -1) if d else range(steps)
                for t in order:
                    h, c = cell(xp[t], h, c, w_hh, b_hh, w_hr)
                    seq[t] = h
                outs.append(_S.stack(seq, axis=0) if steps else
                            np.zeros((0, batch, out_size), dt))
                h_n.append(h)
                c_n.append(c)
            layer_in = outs[0] if dirs == 1 else _S.concatenate(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True, generator=self.generator)
        output = layer_in
        hn = _S.stack(h_n, axis=0)
        cn = _S.stack(c_n, axis=0) if lstm else None
        if not batched:
            output = output[:, 0]
            hn = hn[:, 0]
            cn = cn[:, 0] if lstm else None
        elif self.batch_first:
            output = _S.swapaxes(output, 0, 1)
        return (output, (hn, cn)) if lstm else (output, hn)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act tanh or relu.
    Returns ``(output, h_n)``."""

    _mode = "RNN"
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, generator)

    def _cell(self) -> Any:
        return _rnn_cell(self.nonlinearity)



class LSTM(_RNNBase):
    """LSTM with PyTorch's gate order (i, f, g, o) and optional projection ``proj_size``
    (h_t = W_hr (o * tanh c_t)).  ``forward(input, (h_0, c_0))`` returns
    ``(output, (h_n, c_n))``."""

    _mode = "LSTM"
    _gates = 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype, generator)

    def _cell(self) -> Any:
        return _lstm_cell


class GRU(_RNNBase):
    """GRU with PyTorch's gate order (r, z, n) and n = tanh(W_in x + b_in + r * (W_hn h +
    b_hn)); h_t = (1 - z) * n + z * h_{t-1}.  Returns ``(output, h_n)``."""

    _mode = "GRU"
    _gates = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, dtype, generator)

    def _cell(self) -> Any:
        return _gru_cell
