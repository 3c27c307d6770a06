"""Learning-rate schedules against PyTorch: the lr (and momentum / beta1) of every parameter
group after each of many steps equals torch's to float rounding, for a grid of arguments;
a state_dict taken mid-run and loaded into a fresh scheduler continues identically."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule import nn, optim
from chainrule.optim import lr_scheduler as lrs

torch = pytest.importorskip("torch")
tls = torch.optim.lr_scheduler

LRS = (0.1, 0.03)
REL = 1e-12  # relative agreement: the same recurrences in the same order (in practice exact)


def _pair(kind: str, **kw):
    """The same two-group optimizer in chainrule and in torch."""
    ours = [{"params": [nn.Parameter(np.zeros(3))], "lr": LRS[0]},
            {"params": [nn.Parameter(np.zeros(2))], "lr": LRS[1]}]
    theirs = [{"params": [torch.nn.Parameter(torch.zeros(3))], "lr": LRS[0]},
              {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": LRS[1]}]
    cls = {"sgd": (optim.SGD, torch.optim.SGD), "adam": (optim.Adam, torch.optim.Adam),
           "adamw": (optim.AdamW, torch.optim.AdamW)}[kind]
    return cls[0](ours, **kw), cls[1](theirs, **kw)


def _momenta(opt) -> list[float]:
    out = []
    for g in opt.param_groups:
        if "betas" in g:
            out.append(float(g["betas"][0]))
        out.append(float(g.get("momentum", 0.0)))
    return out


def _close(a: list[float], b: list[float]) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        x, y = float(x), float(y)
        assert math.isclose(x, y, rel_tol=REL, abs_tol=1e-300), (a, b)
        if y != 0:
            worst = max(worst, abs(x - y) / abs(y))
    return worst


def _run(make, kind="sgd", steps=40, opt_kw=None, metrics=None):
    opt, topt = _pair(kind, **(opt_kw or {"lr": 0.1}))
    s, ts = make(lrs, opt), make(tls, topt)
    worst = _close([g["lr"] for g in opt.param_groups], [g["lr"] for g in topt.param_groups])
    for k in range(steps):
        topt.step()
        opt.step()
        if metrics is None:
            s.step()
            ts.step()
        else:
            s.step(metrics[k])
            ts.step(metrics[k])
        worst = max(worst, _close(s.get_last_lr(), ts.get_last_lr()))
        worst = max(worst, _close([g["lr"] for g in opt.param_groups],
                                  [g["lr"] for g in topt.param_groups]))
        worst = max(worst, _close(_momenta(opt), _momenta(topt)))
    return worst


ONE_CYCLE = [dict(max_lr=0.5, total_steps=40),
             dict(max_lr=[0.5, 0.2], total_steps=40, anneal_strategy="linear"),
             dict(max_lr=0.5, total_steps=40, three_phase=True),
             dict(max_lr=0.5, total_steps=40, three_phase=True, anneal_strategy="linear",
                  pct_start=0.25),
             dict(max_lr=0.5, epochs=4, steps_per_epoch=10, cycle_momentum=False),
             dict(max_lr=1.0, total_steps=41, pct_start=0.1, div_factor=10.0,
                  final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9)]


@pytest.mark.parametrize("kind,opt_kw", [("sgd", {"lr": 0.1, "momentum": 0.9}),
                                         ("adam", {"lr": 0.1}), ("adamw", {"lr": 0.1})])
@pytest.mark.parametrize("kw", ONE_CYCLE)
def test_one_cycle(kind, opt_kw, kw):
    steps = kw.get("total_steps", 40)
    assert _run(lambda m, o: m.OneCycleLR(o, **kw), kind, steps, opt_kw) <= REL


def test_one_cycle_past_the_end_raises():
    opt, _ = _pair("sgd", lr=0.1, momentum=0.9)
    s = lrs.OneCycleLR(opt, max_lr=0.5, total_steps=3)
    for _ in range(2):
        s.step()
    s.step()  # step 3 of 3 is the last one that is allowed (as torch)
    with pytest.raises(ValueError, match="total_steps"):
        s.step()


def test_one_cycle_refuses_an_optimizer_without_momentum():
    class Plain(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

        def _update(self, v, g, state, group):
            v -= group["lr"] * g

    with pytest.raises(ValueError, match="momentum"):
        lrs.OneCycleLR(Plain([nn.Parameter(np.zeros(2))]), max_lr=1.0, total_steps=5)


PLATEAU = [dict(), dict(mode="max"), dict(factor=0.5, patience=2),
           dict(patience=1, threshold=0.1, threshold_mode="abs"),
           dict(mode="max", patience=0, threshold_mode="abs", cooldown=2),
           dict(patience=0, cooldown=1, min_lr=0.01, factor=0.3),
           dict(patience=0, min_lr=[0.02, 0.001], factor=0.5),
           dict(patience=0, factor=0.9, eps=1e-2)]


@pytest.mark.parametrize("kw", PLATEAU)
@pytest.mark.parametrize("seed", [0, 1])
def test_reduce_on_plateau(kw, seed):
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal(60) * 0.1) + np.linspace(1, 0.5, 60)
    metrics = [float(v) for v in walk]
    metrics[10:20] = [metrics[10]] * 10  # a flat stretch
    assert _run(lambda m, o: m.ReduceLROnPlateau(o, **kw), steps=60, metrics=metrics) <= REL


@pytest.mark.parametrize("kw", [dict(), dict(start_factor=0.1, total_iters=10),
                                dict(start_factor=1.0, end_factor=0.2, total_iters=7),
                                dict(start_factor=0.5, end_factor=0.0, total_iters=3)])
def test_linear(kw):
    assert _run(lambda m, o: m.LinearLR(o, **kw)) <= REL


@pytest.mark.parametrize("kw", [dict(), dict(total_iters=10, power=2.0),
                                dict(total_iters=25, power=0.5), dict(total_iters=1)])
def test_polynomial(kw):
    assert _run(lambda m, o: m.PolynomialLR(o, **kw)) <= REL


def _seq(m, o, which):
    if which == 0:
        return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=5),
                                  m.CosineAnnealingLR(o, T_max=20)], milestones=[5])
    if which == 1:
        return m.SequentialLR(o, [m.ConstantLR(o, factor=0.5, total_iters=3)
                                  if hasattr(m, "ConstantLR") and m is tls else
                                  m.LinearLR(o, start_factor=0.5, end_factor=0.5, total_iters=3),
                                  m.ExponentialLR(o, gamma=0.9),
                                  m.StepLR(o, step_size=4, gamma=0.5)], milestones=[3, 12])
    if which == 2:
        return m.SequentialLR(o, [m.MultiStepLR(o, milestones=[2, 4], gamma=0.5),
                                  m.PolynomialLR(o, total_iters=10, power=2.0)], milestones=[6])
    return m.SequentialLR(o, [m.LambdaLR(o, lambda e: 1.0 / (e + 1)),
                              m.LinearLR(o, start_factor=0.2, total_iters=4)], milestones=[8])


@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_sequential(which):
    assert _run(lambda m, o: _seq(m, o, which), steps=30) <= REL


@pytest.mark.parametrize("which", [0, 1])
def test_chained(which):
    def make(m, o):
        if which == 0:
            return m.ChainedScheduler([m.LinearLR(o, start_factor=0.2, total_iters=4),
                                       m.ExponentialLR(o, gamma=0.95)])
        return m.ChainedScheduler([m.StepLR(o, step_size=3, gamma=0.7),
                                   m.CosineAnnealingLR(o, T_max=9, eta_min=0.001),
                                   m.MultiStepLR(o, milestones=[5, 15], gamma=0.5)], optimizer=o)
    assert _run(make, steps=30) <= REL


@pytest.mark.parametrize("make", [
    lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    lambda m, o: m.MultiStepLR(o, milestones=[3, 3, 8], gamma=0.4),
    lambda m, o: m.ExponentialLR(o, gamma=0.93),
    lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.002),
    lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]),
])
def test_existing_schedules_still_agree(make):
    assert _run(make, steps=30) <= REL


# --- state_dict round trips -------------------------------------------------------------------

ROUND_TRIP = {
    "step": lambda o: lrs.StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: lrs.MultiStepLR(o, milestones=[2, 9], gamma=0.3),
    "exponential": lambda o: lrs.ExponentialLR(o, gamma=0.9),
    "cosine": lambda o: lrs.CosineAnnealingLR(o, T_max=6),
    "lambda": lambda o: lrs.LambdaLR(o, lambda e: 0.95 ** e),
    "linear": lambda o: lrs.LinearLR(o, start_factor=0.1, total_iters=12),
    "polynomial": lambda o: lrs.PolynomialLR(o, total_iters=15, power=1.5),
    "onecycle": lambda o: lrs.OneCycleLR(o, max_lr=0.4, total_steps=30, three_phase=True),
    "sequential": lambda o: lrs.SequentialLR(
        o, [lrs.LinearLR(o, start_factor=0.1, total_iters=4), lrs.CosineAnnealingLR(o, T_max=9)],
        milestones=[4]),
    "chained": lambda o: lrs.ChainedScheduler([lrs.StepLR(o, 4, 0.5),
                                               lrs.ExponentialLR(o, gamma=0.97)]),
    "plateau": lambda o: lrs.ReduceLROnPlateau(o, patience=1, cooldown=1, factor=0.5),
}


def _trace(s, opt, steps, start):
    out = []
    for k in range(start, start + steps):
        if isinstance(s, lrs.ReduceLROnPlateau):
            s.step(1.0 if k % 3 else 0.9 - 0.01 * k)
        else:
            s.step()
        out.append([g["lr"] for g in opt.param_groups] + _momenta(opt))
    return out


@pytest.mark.parametrize("name", sorted(ROUND_TRIP))
def test_state_dict_round_trip_mid_run_continues_identically(name):
    make = ROUND_TRIP[name]
    opt, _ = _pair("sgd", lr=0.1, momentum=0.9)
    s = make(opt)
    _trace(s, opt, 10, 0)
    sd, osd = s.state_dict(), opt.state_dict()
    rest = _trace(s, opt, 15, 10)

    opt2, _ = _pair("sgd", lr=0.1, momentum=0.9)
    s2 = make(opt2)
    _trace(s2, opt2, 3, 0)  # somewhere else, to be overwritten
    opt2.load_state_dict(osd)
    s2.load_state_dict(sd)
    assert _trace(s2, opt2, 15, 10) == rest  # bit for bit
    # the state is a copy: stepping the first scheduler did not change it
    assert s2.state_dict().keys() == sd.keys()


def test_state_dict_of_another_schedule_is_refused():
    opt, _ = _pair("sgd", lr=0.1)
    s = lrs.StepLR(opt, step_size=2)
    e = lrs.ExponentialLR(opt, gamma=0.5)
    with pytest.raises(ValueError, match="step_size"):
        e.load_state_dict(s.state_dict())
    with pytest.raises(TypeError):
        s.load_state_dict([1, 2])


def test_lambda_state_keeps_callable_objects_but_not_functions():
    class Warm:
        def __init__(self):
            self.scale = 1.0

        def __call__(self, e):
            return self.scale * 0.9 ** e

    opt, _ = _pair("sgd", lr=0.1)
    w = Warm()
    s = lrs.LambdaLR(opt, [w, lambda e: 1.0])
    w.scale = 0.5
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"scale": 0.5}, None]
    w2 = Warm()
    s2 = lrs.LambdaLR(opt, [w2, lambda e: 1.0])
    s2.load_state_dict(sd)
    assert w2.scale == 0.5 and callable(s2.lr_lambdas[1])


def test_plateau_refuses_bad_arguments():
    opt, _ = _pair("sgd", lr=0.1)
    with pytest.raises(ValueError, match="factor"):
        lrs.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        lrs.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="min_lrs"):
        lrs.ReduceLROnPlateau(opt, min_lr=[0.1])
