"""cr.check_derivative on the seed's sigmoid cell, and on NumPy derivatives."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr


# --- the seed's cell 4, as written (math.exp, sigma' evaluated at x instead of k = w x) ---
def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def sigmoid_derivative(x):
    return sigmoid(x) * (1 - sigmoid(x))


def forward_and_backward(x, w):
    k = w * x
    output = sigmoid(k)
    print(f"Forward Output: {output:.4f}")

    d_output_d_k = sigmoid_derivative(x)
    d_k_d_w = x
    d_output_dw = d_output_d_k * d_k_d_w

    return output, d_output_dw


x_input = 2.0
weight = 0.5


def test_seed_sigmoid_cell_fails_and_says_why(capsys: pytest.CaptureFixture) -> None:
    f = lambda w: sigmoid(w * 2.0)  # noqa: E731
    df = lambda w: forward_and_backward(x_input, w)[1]  # noqa: E731
    rep = cr.check_derivative(f, df, weight)
    assert not rep
    assert f"{rep.user:.6f}" == "0.209987"
    assert f"{rep.exact:.6f}" == "0.393224"       # chainrule, through math.exp
    assert f"{rep.numerical:.6f}" == "0.393224"
    text = str(rep)
    assert "0.209987" in text and "0.393224" in text
    assert "df evaluates sigmoid at 2.0 where f evaluates it at 1.0" in text
    # confirmed by re-running df with sigma at f's point
    assert "with sigmoid evaluated at 1.0 instead, df gives 0.393224" in text
    assert "in sigmoid_derivative" in text


def test_seed_sigmoid_with_the_right_derivative_passes() -> None:
    f = lambda w: sigmoid(w * x_input)  # noqa: E731

    def df(w):
        k = w * x_input
        return sigmoid_derivative(k) * x_input

    rep = cr.check_derivative(f, df, weight)
    assert rep and "OK" in str(rep)
    assert rep.exact == pytest.approx(rep.user, rel=1e-12)


def test_numpy_derivative_wrong_point_found_by_tracing() -> None:
    f = lambda x: np.sum(np.exp(np.sin(x)))  # noqa: E731
    good = lambda x: np.exp(np.sin(x)) * np.cos(x)  # noqa: E731
    bad = lambda x: np.exp(x) * np.cos(x)  # noqa: E731
    x = np.array([0.2, -1.0, 0.7])
    assert cr.check_derivative(f, good, x)
    rep = cr.check_derivative(f, bad, x)
    assert not rep
    assert "df evaluates exp at" in str(rep) and "where f evaluates it at" in str(rep)


def test_missing_factor_sign_and_other_point() -> None:
    f = lambda x: x ** 3  # noqa: E731
    rep = cr.check_derivative(f, lambda x: x ** 2, 1.5)
    assert not rep and "ratio 0.333333 (= 1/3)" in str(rep)
    rep = cr.check_derivative(np.cos, np.sin, 0.4)
    assert not rep and "sign flip" in str(rep)
    rep = cr.check_derivative(lambda x: np.sin(2 * x), lambda x: 2 * np.cos(4 * x), 0.3)
    assert not rep and "true derivative at 2x" in str(rep)


def test_jacobian_and_shapes() -> None:
    A = np.array([[1.0, 2.0], [0.5, -1.0]])
    f = lambda x: A @ np.tanh(x)  # noqa: E731
    x = np.array([0.3, -0.2])
    good = lambda x: A * (1 - np.tanh(x) ** 2)  # noqa: E731
    assert cr.check_derivative(f, good, x)
    rep = cr.check_derivative(f, lambda x: good(x).T, x)
    assert not rep and "transposed" in str(rep)
    rep = cr.check_derivative(f, lambda x: np.ones(3), x)
    assert not rep and "shape (3,)" in rep.error


def test_df_that_raises() -> None:
    rep = cr.check_derivative(np.sin, lambda x: 1 / 0, 0.3)
    assert not rep and "ZeroDivisionError" in str(rep)
