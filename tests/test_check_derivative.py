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
    f = lambda w: sigmoid(w * 2.0)
    df = lambda w: forward_and_backward(x_input, w)[1]
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
    f = lambda w: sigmoid(w * x_input)

    def df(w):
        k = w * x_input
        return sigmoid_derivative(k) * x_input

    rep = cr.check_derivative(f, df, weight)
    assert rep and "OK" in str(rep)
    assert rep.exact == pytest.approx(rep.user, rel=1e-12)


def test_numpy_derivative_wrong_point_found_by_tracing() -> None:
    f = lambda x: np.sum(np.exp(np.sin(x)))
    good = lambda x: np.exp(np.sin(x)) * np.cos(x)
    bad = lambda x: np.exp(x) * np.cos(x)
    x = np.array([0.2, -1.0, 0.7])
    assert cr.check_derivative(f, good, x)
    rep = cr.check_derivative(f, bad, x)
    assert not rep
    assert "df evaluates exp at" in str(rep) and "where f evaluates it at" in str(rep)


def test_missing_factor_sign_and_other_point() -> None:
    f = lambda x: x ** 3
    rep = cr.check_derivative(f, lambda x: x ** 2, 1.5)
    assert not rep and "ratio 0.333333 (= 1/3)" in str(rep)
    rep = cr.check_derivative(np.cos, np.sin, 0.4)
    assert not rep and "sign flip" in str(rep)
    rep = cr.check_derivative(lambda x: np.sin(2 * x), lambda x: 2 * np.cos(4 * x), 0.3)
    assert not rep and "true derivative at 2x" in str(rep)


def test_jacobian_and_shapes() -> None:
    A = np.array([[1.0, 2.0], [0.5, -1.0]])
    f = lambda x: A @ np.tanh(x)
    x = np.array([0.3, -0.2])
    good = lambda x: A * (1 - np.tanh(x) ** 2)
    assert cr.check_derivative(f, good, x)
    rep = cr.check_derivative(f, lambda x: good(x).T, x)
    assert not rep and "transposed" in str(rep)
    rep = cr.check_derivative(f, lambda x: np.ones(3), x)
    assert not rep and "shape (3,)" in rep.error


def test_df_that_raises() -> None:
    rep = cr.check_derivative(np.sin, lambda x: 1 / 0, 0.3)
    assert not rep and "ZeroDivisionError" in str(rep)


# --- status: a df (or f) that raises is not "WRONG" -------------------------------------------

def test_status_separates_raising_from_wrong() -> None:
    rep = cr.check_derivative(np.sin, lambda x: 1 / 0, 0.3)
    assert rep.status == "error" and "NOT CHECKED" in str(rep) and "WRONG" not in str(rep)
    rep = cr.check_derivative(lambda x: 1 / 0, np.cos, 0.3)
    assert rep.status == "error" and "ZeroDivisionError" in rep.error
    assert cr.check_derivative(np.sin, np.sin, 0.3).status == "wrong"
    assert cr.check_derivative(np.sin, np.cos, 0.3).status == "ok"
    rep = cr.check_derivative(np.sin, lambda x: None, 0.3)
    assert rep.status == "wrong" and "returned None" in rep.error


# --- several parameters: a tuple -------------------------------------------------------------

def forward_pass(x, w1, b1, w2, b2):        # the seed's cell 13
    z1 = w1 @ x + b1
    a1 = np.maximum(0, z1)
    z2 = w2 @ a1 + b2
    return z2, a1, z1


X1 = np.array([[1.0], [2.0]])
Y1 = np.array([[0.5]])
XB = np.array([[1.0, -0.5, 2.0, 0.3], [2.0, 1.5, -1.0, -0.7]])      # a batch of 4
YB = np.array([[0.5, -1.0, 0.2, 0.0]])


def loss(w1, b1, w2, b2, x=X1, y=Y1):
    return 0.5 * np.sum((forward_pass(x, w1, b1, w2, b2)[0] - y) ** 2)


def backward_pass(w1, b1, w2, b2, x=X1, y=Y1, mask=True, extra=1.0):
    z2, a1, z1 = forward_pass(x, w1, b1, w2, b2)
    dz2 = z2 - y
    dw2 = dz2 @ a1.T
    db2 = dz2.sum(axis=1, keepdims=True)
    da1 = w2.T @ dz2
    dz1 = da1 * (z1 > 0) if mask else da1          # the forgotten mask: no (z1 > 0)
    return dz1 @ x.T * extra, dz1.sum(axis=1, keepdims=True), dw2, db2


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((3, 2)), rng.standard_normal((3, 1)),
            rng.standard_normal((1, 3)), rng.standard_normal((1, 1)))


def test_tuple_of_parameters_right() -> None:
    W = _weights()
    rep = cr.check_derivative(loss, backward_pass, W)
    assert rep and rep.status == "ok" and rep.wrong == []
    assert rep.params == ["w1", "b1", "w2", "b2"]
    assert isinstance(rep.user, tuple) and len(rep.user) == 4
    for u, e in zip(rep.user, rep.exact, strict=True):
        np.testing.assert_allclose(u, e, rtol=1e-12)
    text = str(rep)
    assert text.startswith("check_derivative(loss, backward_pass) at (w1, b1, w2, b2): OK")
    assert "w1 (3, 2)  ok" in text


def test_tuple_reports_which_parameter_is_wrong() -> None:
    W = _weights()
    rep = cr.check_derivative(loss, lambda *p: backward_pass(*p, extra=2.0), W)
    assert not rep and rep.wrong == ["w1"] and rep.status == "wrong"
    assert [p.ok for p in rep.parts] == [False, True, True, True]
    text = str(rep)
    assert "df is WRONG for w1" in text and "b1 (3, 1)  ok" in text
    assert "df's d/dw1 is 2 times the true derivative" in text


@pytest.mark.parametrize("bad,expect", [
    (lambda *p: backward_pass(*p)[:3], "3 derivatives for 4 parameters"),
    (lambda *p: backward_pass(*p)[0], "returned one ndarray"),
    (lambda *p: (*backward_pass(*p)[:3], np.zeros(3)), "shape (3,)"),
    (lambda *p: (*backward_pass(*p)[:3], "x"), "not a number"),
])
def test_tuple_with_the_wrong_structure(bad, expect) -> None:
    rep = cr.check_derivative(loss, bad, _weights())
    assert not rep and rep.status == "wrong" and expect in str(rep)


def test_tuple_of_scalars_and_mixed() -> None:
    f = lambda a, b: a * np.sin(b)
    assert cr.check_derivative(f, lambda a, b: (np.sin(b), a * np.cos(b)), (2.0, 0.3))
    rep = cr.check_derivative(f, lambda a, b: (np.sin(b), np.cos(b)), (2.0, 0.3))
    assert rep.wrong == ["b"]
    g = lambda v, s: np.sum(v ** 2) * s
    assert cr.check_derivative(g, lambda v, s: (2 * v * s, np.sum(v ** 2)),
                               (np.array([1.0, 2.0]), 3.0))
    with pytest.raises(ValueError, match="empty tuple"):
        cr.check_derivative(g, g, ())


def test_a_list_is_still_one_array_parameter() -> None:
    f = lambda v: np.sum(v ** 3)
    assert cr.check_derivative(f, lambda v: 3 * np.asarray(v) ** 2, [1.0, 2.0])


# --- the forgotten ReLU mask -------------------------------------------------------------------

@pytest.mark.parametrize("batch", [False, True], ids=["one example", "a batch"])
def test_forgotten_relu_mask_is_named(batch) -> None:
    W = _weights()
    if batch:
        f = lambda w1, b1, w2, b2: loss(w1, b1, w2, b2, XB, YB)
        good = lambda *p: backward_pass(*p, x=XB, y=YB)
        bad = lambda *p: backward_pass(*p, x=XB, y=YB, mask=False)
    else:
        f, good = loss, backward_pass
        bad = lambda *p: backward_pass(*p, mask=False)
    assert cr.check_derivative(f, good, W)
    assert np.any(W[0] @ (XB if batch else X1) + W[1] < 0)     # some unit is off
    rep = cr.check_derivative(f, bad, W)
    assert not rep and rep.wrong == ["w1", "b1"]
    text = str(rep)
    assert "the ReLU's mask is missing" in text, text
    assert "relu'(z) = (z > 0)" in text


def test_forgotten_mask_on_one_array() -> None:
    f = lambda z: np.sum(np.tanh(np.maximum(z, 0.0)))
    z = np.array([0.5, -1.0, 2.0, -0.3])
    assert cr.check_derivative(f, lambda z: (1 - np.tanh(np.maximum(z, 0)) ** 2) * (z > 0), z)
    rep = cr.check_derivative(f, lambda z: 1 - np.tanh(np.maximum(z, 0)) ** 2, z)
    assert not rep and "ReLU's mask is missing" in str(rep)
    # a mask written another way (np.where): the element pattern still says it
    h = lambda z: np.sum(np.where(z > 0, z, 0.0) * 3.0)
    rep = cr.check_derivative(h, lambda z: np.full(z.shape, 3.0), z)
    assert not rep and "nonzero where the true derivative is zero" in str(rep)
    assert "missing mask" in str(rep)


# --- math.* tracing never touches the user's module ----------------------------------------

def _sig_math(x):
    return 1 / (1 + math.exp(-x))


def _dsig_math(x):
    return _sig_math(x) * (1 - _sig_math(x))


MATH_ID = id(math)     # (an int: inside a traced copy the name math is NumPy's stand-in)


def test_math_tracing_leaves_module_globals_alone() -> None:
    g = globals()
    before = {k: v for k, v in g.items()}
    seen = []

    def f(w):
        seen.append((id(g["math"]) == MATH_ID, g["_sig_math"] is before["_sig_math"]))
        return _sig_math(w * 2.0)

    def df(w):
        seen.append((id(g["math"]) == MATH_ID, g["_dsig_math"] is before["_dsig_math"]))
        return _dsig_math(2.0) * 2.0                   # the seed's bug: wrong point

    rep = cr.check_derivative(f, df, 0.5)
    assert not rep and "math.* traced as numpy" in str(rep)
    assert "with _sig_math evaluated at 1.0 instead, df gives 0.393224" in str(rep)
    assert seen and all(a and b for a, b in seen)
    assert {k: v for k, v in g.items()} == before


def test_math_tracing_is_invisible_to_other_threads() -> None:
    import threading

    stop = threading.Event()
    counts = {"refused": 0, "succeeded": 0, "other": 0}

    def other_thread():
        while not stop.is_set():
            try:
                cr.grad(_sig_math)(0.3)
                counts["succeeded"] += 1
            except cr.LeftGraphError:
                counts["refused"] += 1
            except Exception:
                counts["other"] += 1

    t = threading.Thread(target=other_thread)
    t.start()
    try:
        f = lambda w: _sig_math(w * 2.0)
        df = lambda w: _dsig_math(2.0) * 2.0
        for _ in range(15):
            rep = cr.check_derivative(f, df, 0.5)
            assert not rep and rep.exact == pytest.approx(0.393224, abs=1e-6)
    finally:
        stop.set()
        t.join()
    assert counts["refused"] > 50
    assert counts["succeeded"] == 0 and counts["other"] == 0, counts


def test_math_helpers_in_closures_and_modules_are_traced(tmp_path, monkeypatch) -> None:
    (tmp_path / "helpers_cd.py").write_text(
        "import math\n\ndef sig(x):\n    return 1 / (1 + math.exp(-x))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import helpers_cd

    def make():
        inner = helpers_cd.sig

        def f(w):
            return inner(w) * helpers_cd.sig(2 * w)

        return f

    f = make()
    s = helpers_cd.sig

    def df(w):
        return (s(w) * (1 - s(w)) * s(2 * w)
                + s(w) * 2 * s(2 * w) * (1 - s(2 * w)))

    rep = cr.check_derivative(f, df, 0.4)
    assert rep, str(rep)
    assert rep.exact_note == "exact; math.* traced as numpy"
    assert helpers_cd.math is math and helpers_cd.sig is s
