"""The networks ``chainrule train`` builds for the sequence datasets."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..nn.transformer import generate_square_subsequent_mask


class AdditionTransformer(nn.Module):
    """A decoder-only transformer: token and position embeddings, ``num_layers`` pre-norm
    blocks (causal self-attention, GELU MLP), a final LayerNorm and a linear head.

    ``forward(x)``: x (N, T) int tokens -> logits (N, vocab, answer_len) for the last
    ``answer_len`` positions (nn.CrossEntropyLoss's (N, C, d) layout)."""

    def __init__(self, vocab: int, seq_len: int, answer_len: int, d_model: int = 64,
                 nhead: int = 4, num_layers: int = 2, dim_feedforward: int = 256,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.answer_len = answer_len
        self.tok = nn.Embedding(vocab, d_model, dtype=dtype)
        self.pos = nn.Embedding(seq_len, d_model, dtype=dtype)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0,
                                           activation="gelu", batch_first=True,
                                           norm_first=True, dtype=dtype)
        self.blocks = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model, dtype=dtype)
        self.head = nn.Linear(d_model, vocab, dtype=dtype)
        self.mask = generate_square_subsequent_mask(seq_len, dtype)

    def forward(self, x: Any) -> Any:
        t = np.shape(getattr(x, "_value", x))[1]
        h = self.tok(x) + self.pos.weight[:t]
        h = self.blocks(h, mask=self.mask[:t, :t], is_causal=True)
        logits = self.head(self.norm(h))
        return logits[:, t - self.answer_len:].swapaxes(1, 2)


def greedy_answers(model: AdditionTransformer, prompts: np.ndarray) -> np.ndarray:
    """Decode the answers from the prompts alone (N, P), one token at a time: each step
    feeds back the model's own previous digits (no teacher forcing).  Returns (N, answer_len).
    """
    from ..core.tensor import no_grad

    seq = np.asarray(prompts, dtype=np.int64)
    p = seq.shape[1]
    with no_grad():
        for _ in range(model.answer_len):
            logits = np.asarray(model(seq)._value)                  # (N, V, answer_len)
            seq = np.concatenate([seq, logits[:, :, -1].argmax(1)[:, None]], axis=1)
    return seq[:, p:]


class SequenceClassifier(nn.Module):
    """An LSTM or GRU over (N, T, features) and a linear head on the last hidden state."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, n_classes: int,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.rnn = rnn(input_size, hidden_size, batch_first=True, dtype=dtype)
        self.head = nn.Linear(hidden_size, n_classes, dtype=dtype)

    def forward(self, x: Any) -> Any:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])
