"""nn.Embedding, nn.RNN, nn.LSTM, nn.GRU against PyTorch in float64: a torch module's
state_dict loads unchanged, and outputs, final states and the gradients of the input, the
initial states and every parameter agree to float64 rounding."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.core.errors import ShapeError
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = dict(rtol=1e-10, atol=1e-12)
WORST = [0.0]  # the largest relative disagreement with torch, over the whole file

CELLS = {  # name -> (chainrule class, torch class, extra constructor arguments)
    "rnn_tanh": ("RNN", {}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": 2}),
    "gru": ("GRU", {}),
}


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)


def _close(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOL)
    scale = max(float(np.max(np.abs(theirs), initial=0.0)), 1e-300)
    WORST[0] = max(WORST[0], float(np.max(np.abs(ours - theirs), initial=0.0)) / scale)


def _pair(kind: str, input_size: int = 3, hidden: int = 4, **kw):
    name, extra = CELLS[kind]
    t = getattr(tnn, name)(input_size, hidden, **extra, **kw).double()
    o = getattr(nn, name)(input_size, hidden, **extra, **kw, dtype=np.float64)
    res = o.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    return o, t


def _states(kind: str, o, batch: tuple, rng: np.random.Generator) -> list[np.ndarray]:
    dirs = 2 if o.bidirectional else 1
    out = o.proj_size or o.hidden_size
    h = rng.standard_normal((o.num_layers * dirs,) + batch + (out,))
    if CELLS[kind][0] != "LSTM":
        return [h]
    return [h, rng.standard_normal((o.num_layers * dirs,) + batch + (o.hidden_size,))]


def _run_both(kind: str, o, t, x: np.ndarray, states: list[np.ndarray] | None,
              rng: np.random.Generator) -> None:
    """Forward both, backward a random cotangent of every output, compare everything."""
    lstm = CELLS[kind][0] == "LSTM"
    cx = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    cs = [cr.tensor(s, requires_grad=True) for s in states] if states else None
    ts = [torch.tensor(s, requires_grad=True) for s in states] if states else None
    if states is None:
        y, hn = o(cx)
        ty, thn = t(tx)
    elif lstm:
        y, hn = o(cx, tuple(cs))
        ty, thn = t(tx, tuple(ts))
    else:
        y, hn = o(cx, cs[0])
        ty, thn = t(tx, ts[0])
    outs = [y] + (list(hn) if lstm else [hn])
    touts = [ty] + (list(thn) if lstm else [thn])
    assert len(outs) == len(touts)
    loss, tloss = 0.0, 0.0
    for k, (a, b) in enumerate(zip(outs, touts)):
        _close(a._value, b.detach().numpy(), f"output {k}")
        u = rng.standard_normal(b.shape)
        loss = loss + (a * u).sum()
        tloss = tloss + (b * torch.tensor(u)).sum()
    loss.backward()
    tloss.backward()
    _close(cx.grad._value, tx.grad.numpy(), "d input")
    for k, (a, b) in enumerate(zip(cs or [], ts or [])):
        _close(a.grad._value, b.grad.numpy(), f"d state {k}")
    tp = dict(t.named_parameters())
    assert [n for n, _ in o.named_parameters()] == list(tp)
    for n, p in o.named_parameters():
        _close(p.grad._value, tp[n].grad.numpy(), n)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("given_states", [False, True])
def test_recurrent_matches_torch(kind, num_layers, bidirectional, batch_first, bias,
                                 given_states):
    rng = np.random.default_rng(zlib.crc32(repr((kind, num_layers, bidirectional, batch_first,
                                                 bias, given_states)).encode()))
    o, t = _pair(kind, num_layers=num_layers, bidirectional=bidirectional,
                 batch_first=batch_first, bias=bias)
    steps, batch = 5, 3
    x = rng.standard_normal((batch, steps, 3) if batch_first else (steps, batch, 3))
    states = _states(kind, o, (batch,), rng) if given_states else None
    _run_both(kind, o, t, x, states, rng)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("given_states", [False, True])
def test_unbatched_input_matches_torch(kind, bidirectional, given_states):
    rng = np.random.default_rng(7)
    o, t = _pair(kind, num_layers=2, bidirectional=bidirectional, batch_first=True)
    x = rng.standard_normal((6, 3))  # (L, H_in); batch_first does not apply
    states = _states(kind, o, (), rng) if given_states else None
    _run_both(kind, o, t, x, states, rng)


@pytest.mark.parametrize("kind", list(CELLS))
def test_output_shapes_match_torch(kind):
    o, t = _pair(kind, num_layers=3, bidirectional=True, batch_first=True)
    x = np.zeros((2, 7, 3))
    y, hn = o(x)
    ty, thn = t(torch.tensor(x))
    assert y.shape == tuple(ty.shape)
    if CELLS[kind][0] == "LSTM":
        assert hn[0].shape == tuple(thn[0].shape) and hn[1].shape == tuple(thn[1].shape)
    else:
        assert hn.shape == tuple(thn.shape)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_state_dict_keys_and_shapes_match_torch(kind, bias):
    name, extra = CELLS[kind]
    t = getattr(tnn, name)(5, 6, num_layers=2, bidirectional=True, bias=bias, **extra)
    o = getattr(nn, name)(5, 6, num_layers=2, bidirectional=True, bias=bias, **extra)
    ts, cs = t.state_dict(), o.state_dict()
    assert list(cs) == list(ts)
    for k in ts:
        assert cs[k].shape == tuple(ts[k].shape), k
        assert cs[k].dtype == np.float32
    assert repr(o) == repr(t)


def test_init_is_uniform_in_inverse_sqrt_hidden_and_seeded():
    cr.manual_seed(3)
    a = nn.LSTM(4, 16, num_layers=2, bidirectional=True)
    cr.manual_seed(3)
    b = nn.LSTM(4, 16, num_layers=2, bidirectional=True)
    k = 1 / math.sqrt(16)
    allv = np.concatenate([p._value.ravel() for p in a.parameters()])
    assert np.all(np.abs(allv) <= k) and allv.max() > 0.9 * k and allv.min() < -0.9 * k
    assert abs(allv.mean()) < 0.02 and abs(allv.std() - k / math.sqrt(3)) < 0.01
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p._value, q._value)
    g1 = nn.GRU(4, 8, generator=np.random.default_rng(5))
    g2 = nn.GRU(4, 8, generator=np.random.default_rng(5))
    for p, q in zip(g1.parameters(), g2.parameters()):
        np.testing.assert_array_equal(p._value, q._value)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_dropout_eval_matches_torch_and_train_is_seeded(kind):
    rng = np.random.default_rng(11)
    o, t = _pair(kind, num_layers=3, dropout=0.4, bidirectional=True)
    o.eval()
    t.eval()
    x = rng.standard_normal((5, 2, 3))
    _run_both(kind, o, t, x, None, rng)
    o.train()
    cr.manual_seed(1)
    y1 = o(x)[0]._value
    cr.manual_seed(1)
    y2 = o(x)[0]._value
    y3 = o(x)[0]._value
    o.eval()
    y0 = o(x)[0]._value
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, y0) and not np.allclose(y2, y3)
    # the last layer's own output is not dropped: with dropout=1 everything the second and
    # third layers see is zero, so only their biases reach the output
    o.dropout = 1.0
    o.train()
    o.zero_grad()
    y, _ = o(x)
    t.dropout = 1.0
    t.train()
    ty, _ = t(torch.tensor(x))
    _close(y._value, ty.detach().numpy(), "dropout=1 output")


def test_dropout_generator_argument_is_reproducible():
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    outs = []
    for _ in range(2):
        m = nn.GRU(3, 5, num_layers=2, dropout=0.5, generator=np.random.default_rng(9))
        outs.append(m(x)[0]._value)
    np.testing.assert_array_equal(*outs)


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)


def test_float32_default_and_float64_input_cast():
    m = nn.LSTM(3, 4)
    y, (h, c) = m(np.random.default_rng(0).standard_normal((2, 1, 3)))
    assert y.dtype == np.float32 and h.dtype == np.float32 and c.dtype == np.float32
    assert y.shape == (2, 1, 4)


def test_recurrent_refusals():
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(TypeError):
        nn.GRU(3, 4, proj_size=2)
    m = nn.GRU(3, 4, dtype=np.float64)
    with pytest.raises(ShapeError, match="input_size"):
        m(np.zeros((5, 2, 4)))
    with pytest.raises(ShapeError, match="2D or 3D"):
        m(np.zeros((5, 2, 3, 1)))
    with pytest.raises(ShapeError, match="Expected hx size"):
        m(np.zeros((5, 2, 3)), np.zeros((1, 3, 4)))
    with pytest.raises(ShapeError, match="should also be 2-D"):
        m(np.zeros((5, 3)), np.zeros((1, 1, 4)))
    with pytest.raises(ShapeError, match="should also be 3-D"):
        m(np.zeros((5, 1, 3)), np.zeros((1, 4)))
    lstm = nn.LSTM(3, 4, dtype=np.float64)
    with pytest.raises(TypeError, match="tuple"):
        lstm(np.zeros((5, 2, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(ShapeError, match="c_0"):
        lstm(np.zeros((5, 2, 3)), (np.zeros((1, 2, 4)), np.zeros((1, 2, 5))))


def test_lstm_trains_a_step_like_torch():
    """A model around an LSTM: one SGD step in each library lands on the same weights."""
    rng = np.random.default_rng(2)
    t = tnn.LSTM(3, 5, num_layers=2, batch_first=True).double()
    o = nn.LSTM(3, 5, num_layers=2, batch_first=True, dtype=np.float64)
    o.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = rng.standard_normal((4, 6, 3))
    target = rng.standard_normal((4, 5))
    opt = cr.optim.SGD(o.parameters(), lr=0.1)
    topt = torch.optim.SGD(t.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        loss = nn.MSELoss()(o(x)[0][:, -1], target)
        tloss = tnn.MSELoss()(t(torch.tensor(x))[0][:, -1], torch.tensor(target))
        _close(np.asarray(loss._value), tloss.detach().numpy(), "loss")
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
    for k, v in t.state_dict().items():
        _close(o.state_dict()[k], v.numpy(), k)


class _Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4, padding_idx=0, dtype=np.float64)
        self.lstm = nn.LSTM(4, 6, batch_first=True, bidirectional=True, dtype=np.float64)
        self.head = nn.Linear(12, 3, dtype=np.float64)

    def forward(self, tokens):
        y, _ = self.lstm(self.emb(tokens))
        return self.head(y)


def test_compiled_lstm_model_matches_eager():
    cr.manual_seed(0)
    model = _Tagger()
    run = cr.compile(model)
    rng = np.random.default_rng(3)
    for _ in range(3):
        tokens = rng.integers(0, 10, (2, 5))
        u = rng.standard_normal((2, 5, 3))
        model.zero_grad()
        (model(tokens) * u).sum().backward()
        want = model(tokens)._value
        grads = {n: p.grad._value.copy() for n, p in model.named_parameters()}
        model.zero_grad()
        out = run(tokens)
        (out * u).sum().backward()
        np.testing.assert_allclose(out._value, want, rtol=1e-13, atol=1e-14)
        for n, p in model.named_parameters():
            np.testing.assert_allclose(p.grad._value, grads[n], rtol=1e-12, atol=1e-14,
                                       err_msg=n)
    info = run.cache_info()
    assert info["traces"] == 1 and info["eager"] == 0 and info["hits"] == 2  # really compiled


# ---------------------------------------------------------------------------------
# Embedding


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx):
    rng = np.random.default_rng(4)
    t = tnn.Embedding(7, 3, padding_idx=padding_idx).double()
    o = nn.Embedding(7, 3, padding_idx=padding_idx, dtype=np.float64)
    assert o.padding_idx == t.padding_idx
    with torch.no_grad():  # a non-zero padding row: it must still get no gradient
        t.weight.add_(1.0)
    o.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    idx = np.array([[0, 2, 6, 2], [6, 6, 1, 0]])
    y = o(idx)
    ty = t(torch.tensor(idx))
    _close(y._value, ty.detach().numpy(), "embedding output")
    u = rng.standard_normal(ty.shape)
    (y * u).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    _close(o.weight.grad._value, t.weight.grad.numpy(), "embedding grad")
    if padding_idx is not None:
        assert np.all(o.weight.grad._value[padding_idx] == 0)
        assert np.any(y._value[idx == o.padding_idx] != 0)  # the row's value, not zeros
    assert list(o.state_dict()) == list(t.state_dict()) == ["weight"]
    assert repr(o) == repr(t)


def test_embedding_init_and_padding_row():
    cr.manual_seed(0)
    e = nn.Embedding(2000, 8, padding_idx=-3)
    assert e.weight.dtype == np.float32 and e.padding_idx == 1997
    assert np.all(e.weight._value[1997] == 0)
    w = np.delete(e.weight._value, 1997, axis=0)
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    cr.manual_seed(0)
    np.testing.assert_array_equal(nn.Embedding(2000, 8, padding_idx=-3).weight._value,
                                  e.weight._value)
    with pytest.raises(ValueError, match="Padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="Padding_idx"):
        nn.Embedding(5, 2, padding_idx=-6)


def test_embedding_from_pretrained():
    w = np.arange(12.0).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(w)
    tf = tnn.Embedding.from_pretrained(torch.tensor(w))
    assert not frozen.weight.requires_grad and not tf.weight.requires_grad
    np.testing.assert_array_equal(frozen(np.array([3, 0]))._value, w[[3, 0]])
    w[0, 0] = 100.0  # a copy, not a view of the caller's array
    assert frozen.weight._value[0, 0] == 0.0
    live = nn.Embedding.from_pretrained(np.arange(12.0).reshape(4, 3), freeze=False,
                                        padding_idx=1)
    assert live.weight.requires_grad and live.weight.dtype == np.float64
    np.testing.assert_array_equal(live.weight._value[1], [3.0, 4.0, 5.0])  # kept, not zeroed
    live(np.array([1, 2, 1])).sum().backward()
    np.testing.assert_array_equal(live.weight.grad._value,
                                  [[0, 0, 0], [0, 0, 0], [1, 1, 1], [0, 0, 0]])
    with pytest.raises(ShapeError, match="2-dimensional"):
        nn.Embedding.from_pretrained(np.zeros(3))


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_embedding_max_norm_matches_torch(norm_type):
    t = tnn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type).double()
    o = nn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type, dtype=np.float64)
    o.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    idx = np.array([1, 3, 3, 5])
    y = o(idx)
    ty = t(torch.tensor(idx))
    _close(y._value, ty.detach().numpy(), "max_norm output")
    _close(o.weight._value, t.weight.detach().numpy(), "renormalised weight")
    y.sum().backward()
    ty.sum().backward()
    _close(o.weight.grad._value, t.weight.grad.numpy(), "max_norm grad")


def test_functional_embedding_and_refusals():
    w = cr.tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    y = F.embedding(np.array([[4, 0], [0, 0]]), w, padding_idx=0)
    np.testing.assert_array_equal(y._value, [[[8, 9], [0, 1]], [[0, 1], [0, 1]]])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad._value, [[0, 0], [0, 0], [0, 0], [0, 0], [1, 1]])
    np.testing.assert_array_equal(F.embedding(np.array([1]), np.eye(3)), [[0, 1, 0]])
    with pytest.raises(TypeError, match="integers"):
        F.embedding(np.array([1.0]), w)
    with pytest.raises(IndexError):
        F.embedding(np.array([5]), w)
    with pytest.raises(NotImplementedError, match="scale_grad_by_freq"):
        nn.Embedding(3, 2, scale_grad_by_freq=True)
    with pytest.raises(NotImplementedError, match="sparse"):
        F.embedding(np.array([1]), w, sparse=True)


def test_worst_disagreement_is_float64_rounding():
    """Runs last in this file: every comparison above stayed at float64 rounding."""
    assert WORST[0] < 1e-12, WORST[0]
    print(f"\nworst relative disagreement with torch: {WORST[0]:.3g}")
