"""The networks ``chainrule train`` builds for addition and sequences train like the same
networks in PyTorch 2.13: weights copied over, the same batches, Adam with the CLI's cosine
schedule; the loss at every step and every parameter after every step agree to float64
rounding."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli.models import AdditionTransformer, SequenceClassifier, greedy_answers

torch = pytest.importorskip("torch")

STEPS = 5
TOL = 1e-10            # float64: the differences seen are about 1e-14 (see docs/nn.md)


class TorchAddition(torch.nn.Module):
    """AdditionTransformer, written in PyTorch with the same names."""

    def __init__(self, vocab, seq_len, answer_len, d_model, nhead, num_layers, ff):
        super().__init__()
        self.answer_len = answer_len
        self.tok = torch.nn.Embedding(vocab, d_model, dtype=torch.float64)
        self.pos = torch.nn.Embedding(seq_len, d_model, dtype=torch.float64)
        layer = torch.nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=0.0,
                                                 activation="gelu", batch_first=True,
                                                 norm_first=True, dtype=torch.float64)
        self.blocks = torch.nn.TransformerEncoder(layer, num_layers,
                                                  enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(d_model, dtype=torch.float64)
        self.head = torch.nn.Linear(d_model, vocab, dtype=torch.float64)

    def forward(self, x):
        t = x.shape[1]
        h = self.tok(x) + self.pos.weight[:t]
        mask = torch.nn.Transformer.generate_square_subsequent_mask(t, dtype=torch.float64)
        h = self.blocks(h, mask=mask, is_causal=True)
        return self.head(self.norm(h))[:, t - self.answer_len:].transpose(1, 2)


class TorchClassifier(torch.nn.Module):
    def __init__(self, cell, input_size, hidden, n_classes):
        super().__init__()
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.rnn = rnn(input_size, hidden, batch_first=True, dtype=torch.float64)
        self.head = torch.nn.Linear(hidden, n_classes, dtype=torch.float64)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def _copy(ours, theirs):
    sd = ours.state_dict()
    tsd = theirs.state_dict()
    assert list(sd) == list(tsd)                     # same names, same order
    for k, v in sd.items():
        assert tuple(tsd[k].shape) == np.shape(v), k
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in sd.items()})


def _train_both(ours, theirs, batches, lr):
    """STEPS Adam steps with a per-step cosine schedule in both; returns the largest
    difference of the losses and of the parameters (after each step)."""
    _copy(ours, theirs)
    opt = optim.Adam(ours.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS)
    topt = torch.optim.Adam(theirs.parameters(), lr=lr)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=STEPS)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    worst_loss = worst_param = 0.0
    for x, y in batches:
        loss = loss_fn(ours(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        tx = torch.tensor(x)
        tloss = tloss_fn(theirs(tx), torch.tensor(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        tsched.step()
        worst_loss = max(worst_loss, abs(float(loss._value) - tloss.item()))
        tsd = theirs.state_dict()
        for k, v in ours.state_dict().items():
            worst_param = max(worst_param, float(np.max(np.abs(np.asarray(v)
                                                              - tsd[k].detach().numpy()))))
    return worst_loss, worst_param


def test_addition_transformer_steps_equal_torch():
    nd = 3
    X, y, _, _ = cr.data.make_addition(nd, n_train=STEPS * 16, n_test=10, seed=1)
    cr.manual_seed(0)
    ours = AdditionTransformer(12, 3 * nd + 2, nd + 1, d_model=16, nhead=4, num_layers=2,
                               dim_feedforward=32, dtype=np.float64)
    theirs = TorchAddition(12, 3 * nd + 2, nd + 1, 16, 4, 2, 32)
    batches = [(X[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]) for i in range(STEPS)]
    # the logits agree before any step
    with cr.no_grad():
        a = np.asarray(ours(X[:16])._value)
    _copy(ours, theirs)
    with torch.no_grad():
        b = theirs(torch.tensor(X[:16])).numpy()
    assert a.shape == b.shape == (16, 12, nd + 1)
    assert np.max(np.abs(a - b)) < TOL
    worst_loss, worst_param = _train_both(ours, theirs, batches, lr=3e-3)
    print(f"addition transformer: max |loss diff| {worst_loss:.2e}, "
          f"max |param diff| {worst_param:.2e}")
    assert worst_loss < TOL and worst_param < TOL


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sequence_classifier_steps_equal_torch(cell):
    X, y = cr.data.make_frequencies(STEPS * 16, length=12, n_classes=4, seed=2,
                                    dtype=np.float64)
    cr.manual_seed(0)
    ours = SequenceClassifier(cell, 1, 8, 4, dtype=np.float64)
    theirs = TorchClassifier(cell, 1, 8, 4)
    batches = [(X[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]) for i in range(STEPS)]
    worst_loss, worst_param = _train_both(ours, theirs, batches, lr=3e-3)
    print(f"{cell} classifier: max |loss diff| {worst_loss:.2e}, "
          f"max |param diff| {worst_param:.2e}")
    assert worst_loss < TOL and worst_param < TOL


def test_greedy_decoding_equals_torch():
    # decoding from the prompt alone, token by token, gives the same answers in both
    nd = 3
    _, _, X, y = cr.data.make_addition(nd, n_train=10, n_test=64, seed=3)
    cr.manual_seed(4)
    ours = AdditionTransformer(12, 3 * nd + 2, nd + 1, d_model=16, nhead=4, num_layers=1,
                               dim_feedforward=32, dtype=np.float64)
    theirs = TorchAddition(12, 3 * nd + 2, nd + 1, 16, 4, 1, 32)
    _copy(ours, theirs)
    prompts = X[:, :2 * nd + 2]
    got = greedy_answers(ours, prompts)
    seq = torch.tensor(prompts)
    with torch.no_grad():
        for _ in range(nd + 1):
            nxt = theirs(seq)[:, :, -1].argmax(1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
    assert np.array_equal(got, seq[:, 2 * nd + 2:].numpy())
