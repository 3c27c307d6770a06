"""cr.numerical_derivative: the seed's central difference, for scalars, arrays, Jacobians."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.check.numerical import directional, to_real


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_seed_values() -> None:
    # the seed: z = (x^2 + 1)^3 at x = 2 has derivative 300; sigma(2 w) at w = 0.5: 0.393224
    d = cr.numerical_derivative(lambda x: (x ** 2 + 1) ** 3, 2)
    assert isinstance(d, float) and abs(d - 300) < 1e-6
    s = cr.numerical_derivative(lambda w: sigmoid(w * 2.0), 0.5)
    assert isinstance(s, float)
    assert f"{s:.6f}" == "0.393224"
    exact = 2 * sigmoid(1.0) * (1 - sigmoid(1.0))
    assert abs(s - exact) < 1e-9


def test_gradient_and_jacobian_shapes() -> None:
    x = np.array([[0.5, -1.0, 2.0], [0.3, 0.1, -0.7]])
    g = cr.numerical_derivative(lambda v: np.sum(v ** 3), x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-8)
    J = cr.numerical_derivative(np.sin, x[0])
    assert J.shape == (3, 3)
    np.testing.assert_allclose(J, np.diag(np.cos(x[0])), atol=1e-9)
    # scalar in, array out
    d = cr.numerical_derivative(lambda t: np.array([t, t * t, np.sin(t)]), 0.7)
    np.testing.assert_allclose(d, [1.0, 1.4, np.cos(0.7)], rtol=1e-8)


@pytest.mark.parametrize("method,tol", [("central", 1e-9), ("forward", 1e-6),
                                        ("complex", 1e-15), ("richardson", 1e-12)])
def test_methods_accuracy(method: str, tol: float) -> None:
    x = np.array([0.3, 1.7, -2.2])
    d = cr.numerical_derivative(lambda v: np.exp(np.sin(v)), x, method=method)
    exact = np.diag(np.exp(np.sin(x)) * np.cos(x))
    assert np.max(np.abs(d - exact)) < tol * 10


def test_richardson_error_estimate_bounds_the_error() -> None:
    d, err = cr.numerical_derivative(np.exp, 1.0, method="richardson", return_error=True)
    assert abs(d - np.e) <= max(err, 1e-14) * 10
    assert err < 1e-9


def test_always_float64_whatever_the_input_dtype() -> None:
    seen = []

    def f(v):
        seen.append(v.dtype)
        return np.sum(v * v)

    g = cr.numerical_derivative(f, np.array([1.0, 2.0], dtype=np.float32))
    assert set(seen) == {np.dtype(np.float64)}
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-8)


def test_complex_input_pytorch_convention() -> None:
    z = np.array([1.0 + 2.0j, -0.5 + 0.3j])
    g = cr.numerical_derivative(lambda v: np.sum(np.abs(v) ** 2), z)
    np.testing.assert_allclose(g, 2 * z, rtol=1e-8)  # d|z|^2 = 2x + 2iy
    # a holomorphic f: the complex derivative
    d = cr.numerical_derivative(np.exp, 0.3 + 0.2j)
    assert abs(d - np.exp(0.3 + 0.2j)) < 1e-8


def test_step_can_be_given() -> None:
    # the seed's own step: h = 1e-5
    d = cr.numerical_derivative(lambda x: x ** 3, 2.0, h=1e-5)
    assert abs(d - (12.0 + 1e-10)) < 1e-6


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        cr.numerical_derivative(np.sin, 1.0, method="five-point")
    with pytest.raises(TypeError, match="complex input"):
        cr.numerical_derivative(lambda w: sigmoid(w), 0.5, method="complex")
    with pytest.raises(ValueError, match="not real-analytic"):
        cr.numerical_derivative(lambda w: np.abs(w), 0.5, method="complex")


def test_directional_detects_kinks_not_smooth_curvature() -> None:
    def G(x):
        return np.array([np.maximum(x[0], 0.0), 1e6 * x[0] ** 2, np.abs(x[0] - 1e-9)])

    x = np.zeros(1)
    fd = directional(G, x, np.ones(1), G(x))
    assert fd.kink.tolist() == [True, False, True]
    assert fd.left[0] == pytest.approx(0.0, abs=1e-9) and fd.right[0] == pytest.approx(1.0)
    assert to_real(np.array([1 + 2j])).tolist() == [1.0, 2.0]
