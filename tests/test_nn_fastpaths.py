"""The fast paths of the eager cross entropy and of the optimizer step give the very bits of
the general code, and refuse what it refuses, with the same messages.

* cross_entropy on (N, C) logits with every target a class, no weight and no smoothing
  builds its coefficients with one range check instead of the general masks; its loss and
  gradient are compared bit for bit with the same formula written out in NumPy and with
  the general path (an ignore_index that is a class no target names).
* the optimizer checks a group's options again only when one of them is another object
  (or could have changed in place); a plain NumPy parameter with a plain gradient skips
  the detailed checks, which still run (and raise) for everything else.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.core import arrays
from chainrule.core.errors import ShapeError

RNG = np.random.default_rng(11)


def _loss_and_grad(x, t, **kw):
    xt = cr.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, t, **kw)
    (loss.sum() if kw.get("reduction") == "none" else loss).backward()
    return np.asarray(loss._value), np.asarray(xt.grad)


def _by_hand(x, t, reduction):
    """softmax_cross_entropy's formula, step for step, with NumPy."""
    n, c = x.shape
    dt = x.dtype.type
    at = dt(1) / dt(n) if reduction == "mean" else dt(1)
    pick = np.zeros(x.shape, x.dtype)
    pick[np.arange(n), t] = at
    m = np.maximum.reduce(x, axis=1, keepdims=True)
    y = x - m
    e = np.exp(y)
    s = np.add.reduce(e, axis=1, keepdims=True)
    lse = np.log(s)
    if reduction == "none":
        loss = np.squeeze(at * lse - np.add.reduce(pick * y, axis=1, keepdims=True), axis=1)
    else:
        loss = at * np.add.reduce(lse, axis=None) - np.vdot(pick, y)
    grad = e / s * at - pick
    return np.asarray(loss), grad


CASES = [(dt, tdt, red) for dt in (np.float32, np.float64)
         for tdt in (np.int64, np.int32, np.int16, np.uint8)
         for red in ("mean", "sum", "none")]


@pytest.mark.parametrize("dt,tdt,reduction", CASES)
def test_cross_entropy_fast_path_is_the_formula_bit_for_bit(dt, tdt, reduction):
    x = (RNG.standard_normal((64, 10)) * 3).astype(dt)
    t = RNG.integers(0, 10, 64).astype(tdt)
    loss, grad = _loss_and_grad(x, t, reduction=reduction)
    want_loss, want_grad = _by_hand(x, t, reduction)
    assert loss.dtype == dt and grad.dtype == dt
    assert loss.tobytes() == want_loss.astype(dt).tobytes()
    assert grad.tobytes() == want_grad.tobytes()


@pytest.mark.parametrize("dt,tdt,reduction", CASES)
def test_cross_entropy_fast_path_equals_the_general_path(dt, tdt, reduction):
    # targets in 0..8 of 10 classes: ignore_index=9 takes the general path (a class could
    # be ignored), ignores nothing, and must give the same bits
    x = (RNG.standard_normal((33, 10)) * 4).astype(dt)
    t = RNG.integers(0, 9, 33).astype(tdt)
    fast = _loss_and_grad(x, t, reduction=reduction)
    general = _loss_and_grad(x, t, reduction=reduction, ignore_index=9)
    for a, b in zip(fast, general, strict=True):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    # a module, a non-contiguous target, and the second-order path agree too
    loss_fn = nn.CrossEntropyLoss(reduction=reduction)
    tt = np.repeat(t, 2)[::2]
    assert not tt.flags.c_contiguous
    xt = cr.tensor(x)
    assert np.asarray(loss_fn(xt, tt)._value).tobytes() == fast[0].tobytes()
    g2 = cr.grad(lambda z: F.cross_entropy(z, t, reduction=reduction).sum())
    g2b = cr.grad(lambda z: F.cross_entropy(z, t, reduction=reduction, ignore_index=9).sum())
    assert np.asarray(g2(x)).tobytes() == np.asarray(g2b(x)).tobytes()


def test_cross_entropy_fast_path_matches_torch():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((64, 10)).astype(np.float32)
    t = RNG.integers(0, 10, 64)
    for reduction in ("mean", "sum", "none"):
        loss, grad = _loss_and_grad(x, t, reduction=reduction)
        xt = torch.tensor(x, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(xt, torch.tensor(t), reduction=reduction)
        tl.sum().backward()
        np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=2e-6, atol=1e-7)


BAD_TARGETS = [
    (np.array([0, 3, 1]), 3),
    (np.array([0, -1, 1]), -1),
    (np.array([2, 0, 7], np.int32), 7),
    (np.array([-2, 0, 0], np.int16), -2),
    (np.array([1, 200, 0], np.uint8), 200),
    (np.array([0, 1, np.iinfo(np.int64).min]), np.iinfo(np.int64).min),
]


@pytest.mark.parametrize("t,bad", BAD_TARGETS + [(np.array([0, -100, 9]), 9)])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_out_of_range_targets_still_raise(t, bad, ignore_index):
    if ignore_index != -100 and -100 in t:
        bad = -100  # not ignored now: the first target out of range
    x = cr.tensor(np.ones((3, 3), np.float32), requires_grad=True)
    msg = f"nll_loss: target {bad} is out of bounds for 3 classes"
    with pytest.raises(IndexError, match=re.escape(msg)):
        F.cross_entropy(x, t, ignore_index=ignore_index)
    with pytest.raises(IndexError, match=re.escape(msg)):
        nn.CrossEntropyLoss(ignore_index=ignore_index)(x, t)


def test_ignore_index_inside_the_classes_is_still_ignored():
    x = RNG.standard_normal((6, 4))
    t = np.array([0, 1, 2, 3, 1, 1])
    loss, grad = _loss_and_grad(x, t, ignore_index=1)
    keep = t != 1
    want, want_grad = _by_hand(x[keep], t[keep], "mean")
    np.testing.assert_allclose(loss, want, rtol=1e-15)
    np.testing.assert_allclose(grad[keep], want_grad, rtol=1e-13, atol=1e-17)
    assert not grad[~keep].any()


def test_non_finite_logits_take_the_quiet_branch():
    x = RNG.standard_normal((5, 5))
    x[1, 2] = np.inf
    x[3, :] = -np.inf
    x[4, 0] = np.nan
    t = np.array([0, 1, 2, 3, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = _loss_and_grad(x, t, reduction="none")
        general = _loss_and_grad(x, t, reduction="none", ignore_index=4)  # (no target is 4)
    # rows 0 and 2 are finite; the others NaN, as in the general formula
    assert np.isfinite(fast[0][[0, 2]]).all() and np.isnan(fast[0][[1, 3, 4]]).all()
    for a, b in zip(fast, general, strict=True):
        assert a.tobytes() == b.tobytes()


def test_a_reduced_loss_is_an_array_for_the_engine_and_a_scalar_for_numpy():
    x = RNG.standard_normal((8, 3)).astype(np.float32)
    t = RNG.integers(0, 3, 8)
    guarded = arrays.GUARDED[0]
    arrays.GUARDED[0] = False
    try:
        loss = F.cross_entropy(cr.tensor(x, requires_grad=True), t)
        loss.backward()
        # a NumPy scalar handed to the engine would switch on its guarded mode
        assert arrays.GUARDED[0] is False
    finally:
        arrays.GUARDED[0] = guarded
    assert type(loss._value) is np.ndarray and loss._value.shape == ()
    plain = F.cross_entropy(x, t)
    assert type(plain) is np.float32
    assert np.asarray(plain).tobytes() == loss._value.tobytes()
    assert type(F.cross_entropy(x, t, reduction="none")) is np.ndarray


# --- optimizer ---------------------------------------------------------------------------


def _model(dtype=np.float32):
    rng = np.random.default_rng(3)
    ps = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in ((4, 3), (4,), (2, 4))]
    return ps, rng


def test_sgd_step_is_the_hand_update_bit_for_bit():
    ps, rng = _model()
    hand = [p._value.copy() for p in ps]
    opt = optim.SGD(ps, lr=0.1)
    for k in range(3):
        gs = [rng.standard_normal(p.shape).astype(np.float32) for p in ps]
        for p, g in zip(ps, gs, strict=True):
            p.grad = cr.tensor(g) if k % 2 else g  # a Tensor or a plain array
        opt.step()
        for h, g in zip(hand, gs, strict=True):
            h -= 0.1 * g
        for p, h in zip(ps, hand, strict=True):
            assert p._value.tobytes() == h.tobytes()


def test_sgd_momentum_and_complex_follow_the_formula():
    rng = np.random.default_rng(4)
    p = nn.Parameter((rng.standard_normal(5) + 1j * rng.standard_normal(5)).astype(np.complex64))
    q = nn.Parameter(rng.standard_normal(3))
    opt = optim.SGD([p, q], lr=0.05, momentum=0.9, weight_decay=0.01)
    hp, hq = p._value.view(np.float32).copy(), q._value.copy()
    bufs = [None, None]
    for _ in range(3):
        gp = (rng.standard_normal(5) + 1j * rng.standard_normal(5)).astype(np.complex64)
        gq = rng.standard_normal(3)
        p.grad, q.grad = gp, gq
        opt.step()
        for i, (h, g) in enumerate(((hp, gp.view(np.float32)), (hq, gq))):
            g = g + 0.01 * h
            if bufs[i] is None:
                bufs[i] = g.copy()
            else:
                bufs[i] *= 0.9
                bufs[i] += (1 - 0.0) * g
            h -= 0.05 * bufs[i]
    assert p._value.view(np.float32).tobytes() == hp.tobytes()
    assert q._value.tobytes() == hq.tobytes()


def test_group_options_are_checked_again_when_they_change():
    ps, _ = _model()
    opt = optim.SGD(ps, lr=0.1)
    for p in ps:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    opt.step()  # checked once, then cached
    group = opt.param_groups[0]
    before = [p._value.copy() for p in ps]
    for bad in (float("nan"), True, "0.1", None, np.float64("nan")):
        group["lr"] = bad
        with pytest.raises(TypeError, match=re.escape(f"SGD.step: parameter group 0 has lr = "
                                                      f"{bad!r}, which is not a float")):
            opt.step()
        for p, b in zip(ps, before, strict=True):
            assert p._value.tobytes() == b.tobytes()  # nothing was updated
    group["lr"] = 0.1
    opt.step()
    group["nesterov"] = 2
    with pytest.raises(TypeError, match="has nesterov = 2, which is not a bool"):
        opt.step()
    group["nesterov"] = False
    # a new group dict in the same place is checked on its own
    opt.param_groups[0] = dict(group, momentum=float("nan"))
    with pytest.raises(TypeError, match="has momentum = nan"):
        opt.step()


def test_an_option_changed_in_place_is_checked_again():
    ps, _ = _model(np.float64)
    opt = optim.Adam(ps, lr=0.01)
    for p in ps:
        p.grad = np.ones(p.shape)
    group = opt.param_groups[0]
    group["betas"] = [0.9, 0.999]  # a list: may change without changing identity
    opt.step()
    opt.step()
    group["betas"][0] = float("nan")
    with pytest.raises(TypeError, match=re.escape("has betas = [nan, 0.999]")):
        opt.step()
    group["betas"][0] = 0.9
    opt.step()
    group["eps"] = None
    with pytest.raises(TypeError, match="has eps = None"):
        opt.step()


def test_bad_gradients_and_parameters_are_still_refused():
    ps, _ = _model()
    opt = optim.SGD(ps, lr=0.1)
    for p in ps:
        p.grad = np.ones(p.shape, np.float32)
    before = [p._value.copy() for p in ps]

    def refused(exc, msg):
        with pytest.raises(exc, match=re.escape(msg)):
            opt.step()
        for p, b in zip(ps, before, strict=True):
            assert p._value.tobytes() == b.tobytes()

    # (the .grad setter refuses these; a gradient written past it must still be refused)
    ps[1]._grad = np.ones(5, np.float32)
    refused(ShapeError, "SGD.step: a gradient of shape (5,) for parameter 1 (group 0, shape (4,)); "
            "nothing was updated")
    ps[1]._grad = np.ones(4, bool)
    refused(TypeError, "SGD.step: parameter 1 (group 0, shape (4,)) of dtype float32 has a "
                       "gradient of dtype bool; nothing was updated")
    ps[1]._grad = [1.0, 1.0, 1.0, 1.0]
    refused(TypeError, "SGD.step: parameter 1 (group 0, shape (4,)) has a .grad of type list")
    ps[1].grad = np.ones(4, np.float32)
    ps[2]._value.flags.writeable = False
    refused(ValueError, "SGD.step: parameter 2 (group 0, shape (2, 4)) is read-only")
    ps[2]._value.flags.writeable = True
    # an integer gradient is accepted, as before
    ps[1]._grad = np.ones(4, np.int64)
    opt.step()
    want = before[1].copy()
    want -= 0.1 * np.ones(4, np.int64)
    assert ps[1]._value.tobytes() == want.tobytes()


def test_a_state_of_the_wrong_shape_is_refused():
    ps, _ = _model()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    opt.state[ps[2]]["momentum_buffer"] = np.zeros(3, np.float32)
    with pytest.raises(ShapeError, match=re.escape(
            "SGD.step: the optimizer state 'momentum_buffer' of parameter 2 (group 0, shape "
            "(2, 4)) has shape (3,), not the parameter's (2, 4); nothing was updated")):
        opt.step()


def test_a_refused_step_leaves_no_state_behind():
    ps, _ = _model()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    ps[0].grad = np.ones(ps[0].shape, np.float32)
    ps[1]._grad = np.ones(3, np.float32)  # wrong shape
    with pytest.raises(ShapeError, match="a gradient of shape"):
        opt.step()
    assert opt.state == {}
    ps[1].grad = None
    opt.step()
    assert set(opt.state) == {ps[0]}
