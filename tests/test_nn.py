"""chainrule.nn modules against PyTorch: a torch model's state_dict loads unchanged into the
equivalent chainrule model, and outputs and the gradient of every parameter agree."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn

RNG = np.random.default_rng(0)


def _load_from_torch(ours: nn.Module, theirs: torch.nn.Module) -> None:
    res = ours.load_state_dict(theirs.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []



@pytest.fixture(autouse=True)
def _seed_torch():
    """PyTorch's initial weights are random: seed them so every run compares the same numbers."""
    torch.manual_seed(0)


def _compare(ours: nn.Module, theirs: torch.nn.Module, x: np.ndarray, tol: float,
             train: bool = True) -> float:
    """Same input, same cotangent: compare outputs and every parameter's gradient.
    Returns the largest absolute difference seen."""
    ours.train(train)
    theirs.train(train)
    y = ours(x)
    ty = theirs(torch.tensor(x))
    u = RNG.standard_normal(ty.shape)
    (y * u.astype(y.dtype)).sum().backward()
    (ty * torch.tensor(u, dtype=ty.dtype)).sum().backward()
    worst = float(np.max(np.abs(y._value - ty.detach().numpy())))
    np.testing.assert_allclose(y._value, ty.detach().numpy(), rtol=tol, atol=tol)
    tp = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(tp), (names, list(tp))
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        g = tp[name].grad.numpy()
        assert p.grad.dtype == p.dtype
        worst = max(worst, float(np.max(np.abs(p.grad._value - g))))
        np.testing.assert_allclose(p.grad._value, g, rtol=tol, atol=tol, err_msg=name)
    return worst


def _mlp_pair(dtype):
    t = tnn.Sequential(tnn.Linear(5, 8), tnn.Tanh(), tnn.Linear(8, 8), tnn.GELU(),
                       tnn.Linear(8, 3))
    o = nn.Sequential(nn.Linear(5, 8, dtype=dtype), nn.Tanh(), nn.Linear(8, 8, dtype=dtype),
                      nn.GELU(), nn.Linear(8, 3, dtype=dtype))
    return o, t


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_mlp_matches_torch(dtype, tol):
    o, t = _mlp_pair(dtype)
    if dtype == np.float64:
        t.double()
    _load_from_torch(o, t)
    x = RNG.standard_normal((7, 5)).astype(dtype)
    _compare(o, t, x, tol)


def _cnn_pair():
    t = tnn.Sequential(
        tnn.Conv2d(2, 4, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(4, 6, (2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
        tnn.LeakyReLU(0.1), tnn.Conv2d(6, 6, 1, groups=3, bias=False), tnn.Flatten(),
        tnn.Linear(6 * 3 * 1, 4),
    ).double()
    o = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, dtype=np.float64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, (2, 3), stride=(1, 2), padding=(1, 0), dilation=(2, 1),
                  dtype=np.float64),
        nn.LeakyReLU(0.1), nn.Conv2d(6, 6, 1, groups=3, bias=False, dtype=np.float64),
        nn.Flatten(), nn.Linear(6 * 3 * 1, 4, dtype=np.float64),
    )
    return o, t


def test_cnn_matches_torch():
    o, t = _cnn_pair()
    _load_from_torch(o, t)
    x = RNG.standard_normal((3, 2, 6, 6))
    _compare(o, t, x, 1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_cnn_float32_and_same_padding():
    t = tnn.Sequential(tnn.Conv2d(1, 3, (3, 2), padding="same"), tnn.Sigmoid(),
                       tnn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), tnn.Flatten(),
                       tnn.Linear(3 * 4 * 5, 2))
    o = nn.Sequential(nn.Conv2d(1, 3, (3, 2), padding="same"), nn.Sigmoid(),
                      nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), nn.Flatten(),
                      nn.Linear(3 * 4 * 5, 2))
    _load_from_torch(o, t)
    x = RNG.standard_normal((2, 1, 7, 8)).astype(np.float32)
    _compare(o, t, x, 1e-5)


def test_unbatched_conv_and_pool():
    w = RNG.standard_normal((4, 2, 3, 3))
    x = RNG.standard_normal((2, 5, 5))
    y = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
    ty = torch.nn.functional.max_pool2d(
        torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1), 2)
    np.testing.assert_allclose(np.asarray(y), ty.numpy(), atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 4), (5, 4, 3)])
def test_batchnorm1d_matches_torch(shape):
    t = tnn.BatchNorm1d(4).double()
    o = nn.BatchNorm1d(4, dtype=np.float64)
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-1, 1)
    _load_from_torch(o, t)
    for _ in range(3):  # running statistics follow torch's over several batches
        x = RNG.standard_normal(shape) * 2 + 1
        for p in o.parameters():
            p.grad = None
        t.zero_grad()
        _compare(o, t, x, 1e-12, train=True)
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(o.state_dict()[k], v.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=k)
    assert int(o.num_batches_tracked.item()) == 3
    for p in o.parameters():
        p.grad = None
    t.zero_grad()
    _compare(o, t, RNG.standard_normal(shape), 1e-12, train=False)


def test_batchnorm_momentum_none_and_2d():
    t = tnn.BatchNorm2d(3, momentum=None).double()
    o = nn.BatchNorm2d(3, momentum=None, dtype=np.float64)
    _load_from_torch(o, t)
    for _ in range(3):
        x = RNG.standard_normal((4, 3, 2, 3))
        o(x)
        t(torch.tensor(x))
    np.testing.assert_allclose(o.running_var._value, t.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(o.running_mean._value, t.running_mean.numpy(), atol=1e-12)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(np.ones((1, 3)))
    with pytest.raises(ValueError, match="expected 2 or 3-D"):
        nn.BatchNorm1d(3)(np.ones((2, 3, 4, 5)))


@pytest.mark.parametrize("ns,shape", [(4, (3, 4)), ((2, 4), (3, 2, 4))])
def test_layernorm_matches_torch(ns, shape):
    t = tnn.LayerNorm(ns).double()
    with torch.no_grad():
        t.weight.uniform_(0.5, 1.5)
        t.bias.uniform_(-1, 1)
    o = nn.LayerNorm(ns, dtype=np.float64)
    _load_from_torch(o, t)
    _compare(o, t, RNG.standard_normal(shape) * 3, 1e-12)


def test_float64_input_to_float32_model():
    # a float64 NumPy batch is cast to the model's dtype, as the data usually comes
    m = nn.Linear(3, 2)
    y = m(np.ones((4, 3)))
    assert y.dtype == np.float32
    y.sum().backward()
    assert m.weight.grad.dtype == np.float32


# ---------------------------------------------------------------------------------
# Module mechanics


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 6), nn.ReLU())
        self.head = nn.Linear(6, 2)
        self.bn = nn.BatchNorm1d(6)
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.register_buffer("steps", np.zeros((), dtype=np.int64))
        self.register_buffer("cache", np.zeros(3), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.head(self.bn(self.features(x))) * self.scale


class TNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.features = tnn.Sequential(tnn.Linear(4, 6), tnn.ReLU())
        self.head = tnn.Linear(6, 2)
        self.bn = tnn.BatchNorm1d(6)
        self.scale = tnn.Parameter(torch.ones(1))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        self.register_buffer("cache", torch.zeros(3), persistent=False)

    def forward(self, x):
        return self.head(self.bn(self.features(x))) * self.scale


def test_registration_and_keys_match_torch():
    o, t = Net(), TNet()
    assert list(o.state_dict()) == list(t.state_dict())
    assert [n for n, _ in o.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in o.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in o.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in o.named_children()] == [n for n, _ in t.named_children()]
    assert o.note == "plain attribute"
    assert all(p.dtype == np.float32 for p in o.parameters())
    assert o.num_parameters() == sum(p.numel() for p in t.parameters())
    _load_from_torch(o, t)
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    _compare(o, t, x, 1e-5)


def test_repr_matches_torch():
    o = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(64, 10), nn.Dropout(0.2), nn.BatchNorm1d(10), nn.LayerNorm(10),
                      nn.LeakyReLU(), nn.GELU(), nn.Softmax(dim=1), nn.LogSoftmax(dim=1),
                      nn.Sigmoid(), nn.Tanh())
    t = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                       tnn.Flatten(), tnn.Linear(64, 10), tnn.Dropout(0.2), tnn.BatchNorm1d(10),
                       tnn.LayerNorm(10), tnn.LeakyReLU(), tnn.GELU(), tnn.Softmax(dim=1),
                       tnn.LogSoftmax(dim=1), tnn.Sigmoid(), tnn.Tanh())
    assert repr(o) == repr(t)
    assert repr(nn.CrossEntropyLoss()) == repr(tnn.CrossEntropyLoss())


def test_load_state_dict_rejects_and_leaves_model_unchanged():
    m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    before = {k: v.copy() for k, v in m.state_dict().items()}
    good = {k: np.full(v.shape, 0.5) for k, v in before.items()}

    bad = dict(good)
    bad["0.weight"] = np.zeros((3, 2))
    with pytest.raises(nn.StateDictError, match=r"size mismatch for 0.weight.*\(3, 2\).*\(2, 3\)"):
        m.load_state_dict(bad)
    missing = {k: v for k, v in good.items() if k != "2.bias"}
    with pytest.raises(nn.StateDictError, match='Missing key.*"2.bias"'):
        m.load_state_dict(missing)
    extra = dict(good, **{"3.weight": np.zeros(1)})
    with pytest.raises(nn.StateDictError, match='Unexpected key.*"3.weight"'):
        m.load_state_dict(extra)
    with pytest.raises(nn.StateDictError, match="complex"):
        m.load_state_dict(dict(good, **{"0.bias": np.zeros(2, complex)}))
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])

    res = m.load_state_dict(missing, strict=False)
    assert res.missing_keys == ["2.bias"] and res.unexpected_keys == []
    assert m[0].weight.dtype == np.float32  # float64 values cast to the parameter's dtype
    np.testing.assert_array_equal(m[0].weight._value, np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(m[2].bias._value, before["2.bias"])


def test_state_dict_shares_memory_and_load_keeps_identity():
    m = nn.Linear(2, 2)
    w = m.weight
    sd = m.state_dict()
    assert np.shares_memory(sd["weight"], w._value)
    m.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    assert m.weight is w
    np.testing.assert_array_equal(w._value, np.eye(2, dtype=np.float32))


def test_load_after_forward_is_detected():
    m = nn.Linear(2, 1)
    loss = m(np.ones((1, 2))).sum()
    m.load_state_dict({"weight": np.zeros((1, 2)), "bias": np.zeros(1)})
    with pytest.raises(cr.GradientError, match="modified in place"):
        loss.backward()


def test_train_eval_zero_grad_and_call():
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(2)))
    assert m.training and all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    m(np.ones((3, 2))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(np.all(p.grad._value == 0) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_sequential_indexing_and_containers():
    s = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(s.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(s[0], nn.Linear) and isinstance(s[-1], nn.ReLU)
    assert isinstance(s[:1], nn.Sequential) and len(s[:1]) == 1
    s.append(nn.Linear(3, 1))
    assert list(s.state_dict())[-1] == "2.bias"
    ml = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 1)])
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    holder = nn.Module()
    holder.layers = ml
    holder.named = md
    assert list(holder.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.1.weight",
                                         "layers.1.bias", "named.a.weight", "named.a.bias"]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), "relu")
    with pytest.raises(IndexError):
        s[5]


def test_assignment_rules():
    m = nn.Linear(2, 2, bias=False)
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    with pytest.raises(TypeError, match="nn.Parameter or None expected"):
        m.weight = np.zeros((2, 2))
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = m.missing

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Early()
    del m.weight
    assert list(m.state_dict()) == []


def test_shared_parameters_counted_once():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    m(np.ones((1, 2))).sum().backward()
    t = torch.nn.Linear(2, 2)
    _load_from_torch(lin, t)
    tm = torch.nn.Sequential(t, torch.nn.ReLU(), t)
    tm(torch.ones(1, 2)).sum().backward()
    lin.zero_grad()
    m(np.ones((1, 2))).sum().backward()
    np.testing.assert_allclose(lin.weight.grad._value, t.weight.grad.numpy(), rtol=1e-6)


def test_deepcopy_and_dtype_casts():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    c = copy.deepcopy(m)
    assert c[0].weight is not m[0].weight
    np.testing.assert_array_equal(c[0].weight._value, m[0].weight._value)
    c(np.ones((3, 2))).sum().backward()
    assert m[0].weight.grad is None and c[0].weight.grad is not None
    c.double()
    assert all(p.dtype == np.float64 for p in c.parameters())
    assert c[1].running_mean.dtype == np.float64 and c[1].num_batches_tracked.dtype == np.int64
    y = c(np.ones((3, 2)))
    assert y.dtype == np.float64
    y.sum().backward()
    assert c[0].weight.grad.dtype == np.float64


def test_parameter_basics():
    p = nn.Parameter([1.0, 2.0])
    assert p.dtype == np.float32 and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:")
    q = nn.Parameter(np.zeros(2))
    assert q.dtype == np.float64
    r = p * 2
    assert type(r) is cr.Tensor
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


def test_dropout():
    cr.manual_seed(1)
    d = nn.Dropout(0.25)
    x = np.ones((200, 50), np.float32)
    y = d(x)._value if isinstance(d(x), cr.Tensor) else np.asarray(d(x))
    zeros = np.mean(y == 0)
    assert 0.22 < zeros < 0.28
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)
    d.eval()
    assert d(x) is x
    t = cr.tensor(np.ones(10), requires_grad=True)
    out = F.dropout(t, 0.5, generator=np.random.default_rng(3))
    out.sum().backward()
    np.testing.assert_array_equal(t.grad._value, out._value)  # gradient = mask / (1 - p)
    np.testing.assert_array_equal(np.asarray(F.dropout(np.ones(3), 1.0)), np.zeros(3))
    a = F.dropout(np.ones(20), 0.5, generator=np.random.default_rng(5))
    b = F.dropout(np.ones(20), 0.5, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_flatten_and_identity():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Identity()(x) is x


def test_second_order_through_a_module():
    # a gradient penalty: d/dW of ||d loss / d x||^2, against torch's double backward
    t = tnn.Sequential(tnn.Linear(3, 4), tnn.Tanh(), tnn.Linear(4, 1)).double()
    o = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(),
                      nn.Linear(4, 1, dtype=np.float64))
    _load_from_torch(o, t)
    x = RNG.standard_normal((5, 3))

    xx = cr.tensor(x, requires_grad=True)
    o(xx).sum().backward(create_graph=True)
    gx = xx.grad
    o.zero_grad()
    (gx * gx).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(t(tx).sum(), tx, create_graph=True)
    (tg * tg).sum().backward()
    for (n, p), tp in zip(o.named_parameters(), t.parameters(), strict=False):
        if tp.grad is None:  # the last bias does not move the input gradient
            assert p.grad is None, n
            continue
        np.testing.assert_allclose(p.grad._value, tp.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=n)


def test_forward_mode_through_a_network_matches_reverse():
    nn.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, dtype=np.float64), nn.BatchNorm2d(2,
                      dtype=np.float64), nn.GELU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.LayerNorm(8, dtype=np.float64), nn.Linear(8, 3, dtype=np.float64),
                      nn.LogSoftmax(dim=1))
    x = RNG.standard_normal((2, 1, 4, 4))
    for mode in (True, False):
        m.train(mode)
        m[1].momentum = 0.0  # keep the running statistics fixed across the calls
        f = lambda xx: m(xx)
        jr = cr.jacobian(f)(x)
        jf = cr.jacfwd(f)(x)
        # the model's parameters require grad: the Jacobians are functions of them, so they
        # come back as Tensors on the parameters' graph (as torch.func's do)
        assert isinstance(jr, cr.Tensor) and isinstance(jf, cr.Tensor)
        assert jr.requires_grad and jf.requires_grad
        np.testing.assert_allclose(jf.detach().numpy(), jr.detach().numpy(), rtol=1e-10, atol=1e-12)
        h = 1e-6
        v = RNG.standard_normal(x.shape)
        _, t = cr.jvp(f, (x,), (v,))
        with cr.no_grad():
            num = (np.asarray(f(x + h * v)) - np.asarray(f(x - h * v))) / (2 * h)
        np.testing.assert_allclose(t.detach().numpy(), num, rtol=1e-5, atol=1e-7)
