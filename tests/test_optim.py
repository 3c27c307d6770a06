"""Optimizers and schedules against PyTorch: the same parameters and gradients, several steps,
and the trajectories agree (float64 to ~1e-15, float32 to a few ulps)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler as lrs

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (4,), ()]


def _trajectory(ours_cls, theirs_cls, kw, dtype=np.float64, steps=7, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    ps = [nn.Parameter(a) for a in init]
    ts = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    opt = ours_cls(ps, **kw)
    topt = theirs_cls(ts, **kw)
    worst = 0.0
    for k in range(steps):
        for p, t, g in zip(ps, ts, grads[k], strict=True):
            p.grad = cr.tensor(g)
            t.grad = torch.tensor(g)
        opt.step()
        topt.step()
        for p, t in zip(ps, ts, strict=True):
            assert p.dtype == dtype
            worst = max(worst, float(np.max(np.abs(p._value - t.detach().numpy()))))
    return worst


CONFIGS = [
    (optim.SGD, torch.optim.SGD, dict(lr=0.1)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.5, maximize=True)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.3, 0.8), eps=1e-6, weight_decay=0.1)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.02, amsgrad=True)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.3, amsgrad=True,
                                          betas=(0.7, 0.9))),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5)),
]


@pytest.mark.parametrize("ours,theirs,kw", CONFIGS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CONFIGS)])
def test_matches_torch_float64(ours, theirs, kw):
    assert _trajectory(ours, theirs, kw) < 1e-13


@pytest.mark.parametrize("ours,theirs,kw", CONFIGS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CONFIGS)])
def test_matches_torch_float32(ours, theirs, kw):
    assert _trajectory(ours, theirs, kw, dtype=np.float32) < 2e-6


def test_param_groups_and_repr():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(3), rng.standard_normal(2)
    pa, pb = nn.Parameter(a), nn.Parameter(b)
    ta, tb = torch.nn.Parameter(torch.tensor(a)), torch.nn.Parameter(torch.tensor(b))
    opt = optim.SGD([{"params": [pa]}, {"params": [pb], "lr": 0.5}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.5}], lr=0.1, momentum=0.9)
    for _ in range(3):
        ga, gb = rng.standard_normal(3), rng.standard_normal(2)
        pa.grad, pb.grad = cr.tensor(ga), cr.tensor(gb)
        ta.grad, tb.grad = torch.tensor(ga), torch.tensor(gb)
        opt.step()
        topt.step()
    np.testing.assert_allclose(pa._value, ta.detach().numpy(), atol=1e-14)
    np.testing.assert_allclose(pb._value, tb.detach().numpy(), atol=1e-14)
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)


def test_optimizer_on_a_model_matches_torch():
    t = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    o = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    o.load_state_dict(t.state_dict())
    opt = optim.AdamW(o.parameters(), lr=0.05)
    topt = torch.optim.AdamW(t.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    for _ in range(10):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(o(x), y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tl = torch.nn.CrossEntropyLoss()(t(torch.tensor(x)), torch.tensor(y))
        tl.backward()
        topt.step()
        assert abs(loss.item() - tl.item()) < 1e-5
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(o.state_dict()[k], v.numpy(), atol=2e-5, err_msg=k)


def test_zero_grad_and_skipping_params_without_grad():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([p, q], lr=1.0)
    p.grad = cr.tensor(np.array([1.0, 2.0]))
    opt.step()
    np.testing.assert_array_equal(p._value, [0.0, -1.0])
    np.testing.assert_array_equal(q._value, [1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad._value, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_step_after_forward_is_detected():
    m = nn.Linear(2, 1)
    opt = optim.SGD(m.parameters(), lr=0.1)
    m(np.ones((1, 2))).sum().backward()
    loss = m(np.ones((1, 2))).sum()
    opt.step()  # changes the weights the second graph saved
    with pytest.raises(cr.GradientError, match="modified in place"):
        loss.backward()


def test_closure_and_state_dict_resume():
    rng = np.random.default_rng(3)
    a = rng.standard_normal(4)
    target = rng.standard_normal(4)

    def run(split):
        p = nn.Parameter(a)
        opt = optim.Adam([p], lr=0.1, amsgrad=True)

        def closure():
            opt.zero_grad()
            loss = ((p - target) ** 2).sum()
            loss.backward()
            return loss

        for k in range(6):
            if k == split:
                sd = opt.state_dict()
                p2 = nn.Parameter(p._value)
                opt = optim.Adam([p2], lr=0.1, amsgrad=True)
                opt.load_state_dict(sd)
                p = p2
            assert opt.step(closure) is not None
        return p._value

    np.testing.assert_array_equal(run(split=-1), run(split=3))


def test_bad_arguments():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)


# ---------------------------------------------------------------------------------
# schedules


def _lrs(make, tmake, epochs=25, lr=0.1):
    p = nn.Parameter(np.zeros(1))
    tp = torch.nn.Parameter(torch.zeros(1))
    opt = optim.SGD([p], lr=lr)
    topt = torch.optim.SGD([tp], lr=lr)
    s, ts = make(opt), tmake(topt)
    ours, theirs = [], []
    for _ in range(epochs):
        opt.step()
        topt.step()
        s.step()
        ts.step()
        ours.append(s.get_last_lr()[0])
        theirs.append(ts.get_last_lr()[0])
    return np.array(ours), np.array(theirs)


@pytest.mark.parametrize("name,make,tmake", [
    ("step", lambda o: lrs.StepLR(o, 4, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, 4, gamma=0.5)),
    ("cosine", lambda o: lrs.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    ("multistep", lambda o: lrs.MultiStepLR(o, [3, 7, 7], gamma=0.3),
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 7, 7], gamma=0.3)),
    ("exp", lambda o: lrs.ExponentialLR(o, 0.9),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9)),
    ("lambda", lambda o: lrs.LambdaLR(o, lambda e: 1 / (1 + e)),
     lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e))),
])
def test_schedules_match_torch(name, make, tmake):
    ours, theirs = _lrs(make, tmake)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-16)


def test_cosine_closed_form_and_optimizer_lr():
    p = nn.Parameter(np.zeros(1))
    opt = optim.Adam([p], lr=0.2)
    s = lrs.CosineAnnealingLR(opt, T_max=8)
    seen = []
    for _ in range(8):
        s.step()
        seen.append(opt.param_groups[0]["lr"])
    expect = [0.2 * (1 + np.cos(np.pi * t / 8)) / 2 for t in range(1, 9)]
    np.testing.assert_allclose(seen, expect, atol=1e-15)


# ---------------------------------------------------------------------------------
# gradient clipping


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(4)
    gs = [rng.standard_normal(s) for s in [(3, 4), (5,)]]
    ps = [nn.Parameter(np.zeros(g.shape)) for g in gs]
    ts = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in gs]
    for p, t, g in zip(ps, ts, gs, strict=True):
        p.grad = cr.tensor(g)
        t.grad = torch.tensor(g)
    n = nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type)
    assert abs(float(n) - tn.item()) < 1e-12
    assert n.item() == pytest.approx(tn.item())
    for p, t in zip(ps, ts, strict=True):
        np.testing.assert_allclose(p.grad._value, t.grad.numpy(), rtol=1e-13, atol=1e-15)
    assert optim.clip_grad_norm_ is nn.utils.clip_grad_norm_


def test_clip_grad_value_and_nonfinite():
    p = nn.Parameter(np.zeros(3))
    p.grad = cr.tensor(np.array([-3.0, 0.5, 9.0]))
    nn.utils.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(p.grad._value, [-1.0, 0.5, 1.0])
    p.grad = cr.tensor(np.array([np.inf, 1.0, 0.0]))
    with pytest.raises(cr.GradientError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("ours,theirs,kw", [
    (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    (optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
])
def test_complex_parameters_match_torch(ours, theirs, kw):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    p, t = nn.Parameter(a), torch.nn.Parameter(torch.tensor(a))
    opt, topt = ours([p], **kw), theirs([t], **kw)
    for _ in range(4):
        g = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
        p.grad, t.grad = cr.tensor(g.T.copy().T), torch.tensor(g)  # a non-contiguous gradient
        opt.step()
        topt.step()
    np.testing.assert_allclose(p._value, t.detach().numpy(), rtol=1e-13, atol=1e-14)
