"""cr.detect_anomaly: the first operation that made a nan/inf, forward or backward."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.state import STATE


def test_forward_nan_names_op_and_line() -> None:
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.raises(cr.AnomalyError) as ei, np.errstate(invalid="ignore"):
        with cr.detect_anomaly():
            y = x * 2.0
            z = np.log(y)  # the line that makes the nan
            z.sum()
    msg = str(ei.value)
    assert "log produced nan in the forward pass" in msg
    assert "element [1]" in msg and "argument 0 = -4.0" in msg
    assert "z = np.log(y)  # the line that makes the nan" in msg
    assert ei.value.event.op == "log" and ei.value.event.phase == "forward"
    assert STATE.anomaly is False


def test_backward_inf_names_the_forward_line() -> None:
    x = cr.tensor([4.0, 0.0], requires_grad=True)
    with pytest.raises(cr.AnomalyError) as ei, np.errstate(divide="ignore"):
        with cr.detect_anomaly():
            r = np.sqrt(x)  # finite forward, infinite slope at 0
            (r * 3.0).sum().backward()
    msg = str(ei.value)
    assert "the backward rule of sqrt for argument 0 produced inf" in msg
    assert "r = np.sqrt(x)  # finite forward" in msg
    assert ei.value.event.index == (1,)


def test_only_the_first_producer_is_reported() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(cr.AnomalyError) as ei, np.errstate(all="ignore"):
        with cr.detect_anomaly():
            a = 1.0 / x          # inf made here
            b = np.exp(a) * 0.0  # inf * 0 = nan: made from an inf, not the first
            b.sum()
    assert ei.value.event.op == "true_divide"


def test_warn_mode_collects_and_continues() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        with cr.detect_anomaly(raise_error=False) as ctx:
            y = np.sqrt(x)
            y.sum().backward()
    assert len(ctx.anomalies) == 1 and ctx.anomalies[0].phase == "backward"
    assert any(issubclass(v.category, cr.check.AnomalyWarning) for v in w)
    assert np.isinf(x.grad.numpy()[0])


def test_backward_only_mode_and_decorator() -> None:
    @cr.detect_anomaly(check_forward=False)
    def run():
        x = cr.tensor([-1.0, 1.0], requires_grad=True)
        with np.errstate(invalid="ignore"):
            y = np.where(x.detach().numpy() > 0, np.log(x), 0.0)  # nan masked by where
        y.sum().backward()
        return x.grad

    g = run()
    np.testing.assert_allclose(g.numpy(), [0.0, 1.0])


def test_clean_code_is_untouched() -> None:
    x = cr.tensor([0.5, 1.5], requires_grad=True)
    with cr.detect_anomaly() as ctx:
        np.sum(np.log(x) * x).backward()
    assert not ctx.anomalies
    np.testing.assert_allclose(x.grad.numpy(), np.log([0.5, 1.5]) + 1)
