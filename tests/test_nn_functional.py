"""Activations and losses of chainrule.nn.functional against torch.nn.functional: values and
gradients (float64 to 1e-12 unless stated), reductions, weights, ignore_index, label smoothing,
probability targets, extreme logits."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(1)


def _both(fn, tfn, *arrays, diff=(0,), tol=1e-12, **kw):
    """Value and gradient (random cotangent) of fn vs tfn for the arguments in diff."""
    cs = [cr.tensor(a, requires_grad=True) if i in diff else a for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    y = fn(*cs, **kw)
    ty = tfn(*ts, **kw)
    tyv = ty.detach().numpy()
    assert y.shape == tyv.shape
    np.testing.assert_allclose(y._value, tyv, rtol=tol, atol=tol)
    u = RNG.standard_normal(tyv.shape)
    (y * u).sum().backward()
    (ty * torch.tensor(u, dtype=ty.dtype)).sum().backward()
    worst = float(np.max(np.abs(y._value - tyv))) if tyv.size else 0.0
    for i in diff:
        np.testing.assert_allclose(cs[i].grad._value, ts[i].grad.numpy(), rtol=tol, atol=tol,
                                   err_msg=f"grad of argument {i}")
        worst = max(worst, float(np.max(np.abs(cs[i].grad._value - ts[i].grad.numpy()))))
    return worst


X = RNG.standard_normal((4, 5)) * 3
X[0, :3] = [0.0, 40.0, -40.0]  # 0 (kinks) and the tails


@pytest.mark.parametrize("name,ours,theirs", [
    ("relu", F.relu, TF.relu),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("gelu", F.gelu, TF.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: TF.gelu(x, approximate="tanh")),
    ("softplus", F.softplus, TF.softplus),
    ("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=5.0),
     lambda x: TF.softplus(x, beta=2.0, threshold=5.0)),
    ("silu", F.silu, TF.silu),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("softmax0", lambda x: F.softmax(x, dim=0), lambda x: TF.softmax(x, dim=0)),
    ("softmax1", lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1)),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1), lambda x: TF.log_softmax(x, dim=-1)),
    ("erf", F.erf, torch.special.erf),
])
def test_activation_matches_torch(name, ours, theirs):
    _both(ours, theirs, X)


def test_activation_modules_and_float32():
    x = X.astype(np.float32)
    for m, t in [(nn.ReLU(), torch.nn.ReLU()), (nn.GELU(), torch.nn.GELU()),
                 (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.LeakyReLU(), torch.nn.LeakyReLU()),
                 (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
                 (nn.LogSoftmax(dim=1), torch.nn.LogSoftmax(dim=1)),
                 (nn.SiLU(), torch.nn.SiLU()), (nn.Softplus(), torch.nn.Softplus())]:
        y = m(cr.tensor(x))
        assert y.dtype == np.float32, type(m).__name__
        np.testing.assert_allclose(y._value, t(torch.tensor(x)).numpy(), rtol=2e-6, atol=2e-7,
                                   err_msg=type(m).__name__)


def test_relu_gradient_at_zero_is_zero():
    x = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad._value, [0.0, 0.0, 1.0])
    assert np.asarray(F.relu(np.array([-np.inf, np.nan, np.inf]))).tolist()[0] == 0.0


def test_softmax_implicit_dim_like_torch():
    for shape in [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 2)]:
        x = RNG.standard_normal(shape)
        with pytest.warns(UserWarning):
            t = TF.softmax(torch.tensor(x), dim=None)
        np.testing.assert_allclose(np.asarray(F.softmax(x)), t.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------------
# losses

LOGITS = RNG.standard_normal((6, 4)) * 2
LABELS = np.array([0, 3, 1, 1, 2, 3])


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    _both(F.mse_loss, TF.mse_loss, a, b, diff=(0, 1), reduction=reduction)
    _both(F.l1_loss, TF.l1_loss, a, b, diff=(0, 1), reduction=reduction)
    _both(F.mse_loss, TF.mse_loss, a, b[:1], diff=(0, 1), reduction=reduction)


def test_regression_loss_rejects_silent_broadcast():
    with pytest.raises(cr.ShapeError, match=r"target of shape \(5,\).*input of shape \(5, 1\)"):
        F.mse_loss(np.zeros((5, 1)), np.zeros(5))
    with pytest.raises(cr.ShapeError):
        nn.L1Loss()(np.zeros((5, 1)), np.zeros(5))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_matches_torch(reduction, weighted, smoothing):
    w = np.array([0.5, 2.0, 1.0, 1.5]) if weighted else None
    labels = LABELS.copy()
    labels[2] = -100  # ignored
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=-100)

    def ours(x, y):
        return F.cross_entropy(x, y, weight=w, **kw)

    def theirs(x, y):
        return TF.cross_entropy(x, y, weight=None if w is None else torch.tensor(w), **kw)

    _both(ours, theirs, LOGITS, labels)


def test_cross_entropy_spatial_and_unbatched():
    x = RNG.standard_normal((2, 3, 4, 2))
    y = RNG.integers(0, 3, (2, 4, 2))
    _both(F.cross_entropy, TF.cross_entropy, x, y)
    _both(lambda a, b: F.cross_entropy(a, b, reduction="none"),
          lambda a, b: TF.cross_entropy(a, b, reduction="none"), x, y)
    _both(F.cross_entropy, TF.cross_entropy, RNG.standard_normal(5), np.array(3))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_probability_targets(smoothing):
    p = RNG.random((6, 4))
    p /= p.sum(1, keepdims=True)
    w = np.array([1.0, 2.0, 0.5, 1.0])
    for kw in [dict(), dict(reduction="sum"), dict(reduction="none")]:
        _both(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=smoothing, **kw),
              lambda a, b: TF.cross_entropy(a, b, weight=torch.tensor(w),
                                            label_smoothing=smoothing, **kw),
              LOGITS, p, diff=(0, 1))


def test_cross_entropy_is_stable_at_extreme_logits():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    y = np.array([1, 2, 0])
    worst = _both(F.cross_entropy, TF.cross_entropy, x, y)
    assert worst < 1e-9
    xt = cr.tensor(x.astype(np.float32), requires_grad=True)
    loss = nn.CrossEntropyLoss()(xt, y)
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(xt.grad._value))
    np.testing.assert_allclose(loss.item(), (2000 + 0 + np.log(2)) / 3, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_torch(reduction):
    logp = np.log(RNG.random((6, 4)))
    w = np.array([1.0, 0.2, 3.0, 1.0])
    _both(lambda a, b: F.nll_loss(a, b, reduction=reduction),
          lambda a, b: TF.nll_loss(a, b, reduction=reduction), logp, LABELS)
    _both(lambda a, b: F.nll_loss(a, b, weight=w, ignore_index=1, reduction=reduction),
          lambda a, b: TF.nll_loss(a, b, weight=torch.tensor(w), ignore_index=1,
                                   reduction=reduction), logp, LABELS)
    m = nn.NLLLoss(reduction=reduction)
    np.testing.assert_allclose(np.asarray(m(logp, LABELS)),
                               TF.nll_loss(torch.tensor(logp), torch.tensor(LABELS),
                                           reduction=reduction).numpy(), atol=1e-12)


def test_classification_loss_errors():
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(LOGITS, np.array([0, 1, 2, 3, 4, 0]))
    with pytest.raises(TypeError, match="must be integers"):
        F.nll_loss(LOGITS, LABELS.astype(float))
    with pytest.raises(cr.ShapeError, match="expected shape"):
        F.cross_entropy(LOGITS, LABELS[:3])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(reduction):
    x = RNG.standard_normal((5, 3)) * 3
    x[0] = [1000.0, -1000.0, 0.0]
    y = RNG.random((5, 3))
    w = RNG.random((5, 3))
    pw = np.array([0.5, 2.0, 3.0])
    _both(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
          lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction),
          x, y, diff=(0, 1))
    _both(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=w, pos_weight=pw,
                                                          reduction=reduction),
          lambda a, b: TF.binary_cross_entropy_with_logits(
              a, b, weight=torch.tensor(w), pos_weight=torch.tensor(pw), reduction=reduction),
          x, y, diff=(0, 1))
    m = nn.BCEWithLogitsLoss(pos_weight=pw, reduction=reduction)
    t = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw), reduction=reduction)
    np.testing.assert_allclose(np.asarray(m(x, y)),
                               t(torch.tensor(x), torch.tensor(y)).numpy(), atol=1e-12)
    with pytest.raises(cr.ShapeError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, y[:, :1])


def test_loss_modules_repr_and_bad_reduction():
    assert repr(nn.MSELoss()) == repr(torch.nn.MSELoss())
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


def test_losses_second_order_against_torch():
    # Hessian-vector products through cross entropy and BCE, double backward in torch
    for ours, theirs, target in [
        (F.cross_entropy, TF.cross_entropy, LABELS),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
         RNG.random((6, 4))),
    ]:
        v = RNG.standard_normal(LOGITS.shape)
        hv = cr.hvp(lambda x: ours(x, target), LOGITS, v)
        tx = torch.tensor(LOGITS, requires_grad=True)
        (g,) = torch.autograd.grad(theirs(tx, torch.tensor(target)), tx, create_graph=True)
        (thv,) = torch.autograd.grad((g * torch.tensor(v)).sum(), tx)
        np.testing.assert_allclose(np.asarray(hv), thv.numpy(), rtol=1e-10, atol=1e-12)


def test_one_hot():
    np.testing.assert_array_equal(F.one_hot(np.array([0, 2]), 3), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(F.one_hot(np.array([1])), [[0, 1]])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [10, 5000])
def test_maximum_relu_backward_zeroes_dropped_units_bit_for_bit(dtype, n):
    # the ReLU VJP (np.maximum(0, z)) drops the cotangent where z < 0 exactly as
    # np.where(z < 0, 0, g) does, inf and NaN cotangents included (not inf * 0 = NaN),
    # keeps -0.0 and halves on ties, at sizes on both sides of its large-array path
    r = np.random.default_rng(n)
    z = r.standard_normal(n).astype(dtype)
    z[:4] = [-1.0, -2.0, 1.0, 0.0]
    g = r.standard_normal(n).astype(dtype)
    g[:4] = [np.inf, np.nan, -0.0, 3.0]
    zt = cr.tensor(z, requires_grad=True)
    out = np.maximum(0, zt)
    out.backward(g)
    expect = np.where(z < 0, dtype(0), g)
    expect[3] *= 0.5
    got = np.asarray(zt.grad)
    assert got.dtype == dtype
    assert got.tobytes() == expect.tobytes()
