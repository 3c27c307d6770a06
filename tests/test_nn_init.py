"""Initialisers: PyTorch's gains and fans exactly, and the right distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chainrule import nn
from chainrule.nn import init

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


@pytest.mark.parametrize("shape", [(3, 5), (4, 2, 3, 3), (6, 1, 5)])
def test_fans_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(np.zeros(shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def _draw(fn, shape, **kw):
    w = nn.Parameter(np.zeros(shape))
    fn(w, generator=np.random.default_rng(0), **kw)
    return w._value


def test_uniform_initialisers_have_pytorch_bounds():
    shape = (300, 200)
    for fn, kw, bound in [
        (init.xavier_uniform_, dict(gain=2.0), 2.0 * math.sqrt(6 / 500)),
        (init.kaiming_uniform_, dict(), math.sqrt(2) * math.sqrt(3 / 200)),
        (init.kaiming_uniform_, dict(mode="fan_out", nonlinearity="relu"),
         math.sqrt(2) * math.sqrt(3 / 300)),
        (init.kaiming_uniform_, dict(a=math.sqrt(5)), 1 / math.sqrt(200)),
    ]:
        v = _draw(fn, shape, **kw)
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.99 * bound
        np.testing.assert_allclose(v.std(), bound / math.sqrt(3), rtol=0.02)


def test_normal_initialisers_have_pytorch_std():
    shape = (300, 200)
    for fn, kw, std in [
        (init.xavier_normal_, dict(gain=0.5), 0.5 * math.sqrt(2 / 500)),
        (init.kaiming_normal_, dict(nonlinearity="relu"), math.sqrt(2 / 200)),
        (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="tanh"), 5 / 3 / math.sqrt(300)),
    ]:
        v = _draw(fn, shape, **kw)
        np.testing.assert_allclose(v.std(), std, rtol=0.02)
        assert abs(v.mean()) < 0.02 * std * 10


def test_layer_defaults_like_torch():
    lin = nn.Linear(50, 400)
    b = 1 / math.sqrt(50)
    assert np.abs(lin.weight._value).max() <= b and np.abs(lin.weight._value).max() > 0.95 * b
    assert np.abs(lin.bias._value).max() <= b
    conv = nn.Conv2d(4, 64, 3)
    bc = 1 / math.sqrt(4 * 9)
    assert np.abs(conv.weight._value).max() <= bc and np.abs(conv.weight._value).max() > 0.9 * bc
    assert lin.weight.dtype == np.float32 and nn.Linear(2, 2, dtype=np.float64).weight.dtype == \
        np.float64
    ln, bn = nn.LayerNorm(3), nn.BatchNorm1d(3)
    for m in (ln, bn):
        np.testing.assert_array_equal(m.weight._value, 1)
        np.testing.assert_array_equal(m.bias._value, 0)


def test_seeding_is_reproducible():
    nn.manual_seed(123)
    a = nn.Linear(3, 3).weight._value.copy()
    nn.manual_seed(123)
    b = nn.Linear(3, 3).weight._value.copy()
    np.testing.assert_array_equal(a, b)
    c = nn.Linear(3, 3, generator=np.random.default_rng(7)).weight._value
    d = nn.Linear(3, 3, generator=np.random.default_rng(7)).weight._value
    np.testing.assert_array_equal(c, d)


def test_simple_initialisers_and_errors():
    w = nn.Parameter(np.zeros((2, 3)))
    init.constant_(w, 0.3)
    np.testing.assert_array_equal(w._value, 0.3)
    init.ones_(w)
    np.testing.assert_array_equal(w._value, 1)
    init.zeros_(w)
    np.testing.assert_array_equal(w._value, 0)
    init.eye_(w)
    np.testing.assert_array_equal(w._value, np.eye(2, 3))
    init.trunc_normal_(w, std=5.0, a=-1.0, b=1.0, generator=np.random.default_rng(0))
    assert np.abs(w._value).max() <= 1
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(nn.Parameter(np.zeros(3)))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_normal_(w, mode="fan")
