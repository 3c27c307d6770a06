"""cr.gradcheck: what it checks, how it reports, and how it locates a wrong rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.state import STATE

X = np.array([0.3, 1.2, -0.7])


def make(fwd, vjp, jvp, name=None):
    p = cr.primitive(fwd, name=name or fwd.__name__)
    cr.defvjp(p, vjp)
    cr.defjvp(p, jvp)
    return p


def test_passes_and_is_truthy() -> None:
    rep = cr.gradcheck(lambda x: np.sin(x) * x, X)
    assert rep and rep.ok and not rep.failures
    modes = {c.mode for c in rep.checks}
    assert {"rev", "fwd", "determinism", "zero-cotangent"} <= modes
    assert any("full Jacobian 3x3" in c.how for c in rep.checks)
    assert "OK" in str(rep)
    assert STATE.record is None  # the tracer is removed


def test_several_arguments_tuple_output_and_argnums() -> None:
    def f(x, n, y):
        return np.sin(x) * y, np.sum(x * x) * n

    rep = cr.gradcheck(f, X, 3, np.array([2.0, -1.0, 0.5]))
    assert rep
    assert {c.input for c in rep.checks if c.mode == "rev"} == {"x", "y"}
    rep = cr.gradcheck(f, X, 3.0, np.array([2.0, -1.0, 0.5]), argnums=1)
    assert {c.input for c in rep.checks if c.mode == "rev"} == {"n"}


def test_complex_inputs() -> None:
    z = np.array([0.5 + 1.0j, -0.3 + 0.2j])
    assert cr.gradcheck(lambda z: np.sum(np.abs(np.exp(z) * z) ** 2), z)
    assert cr.gradcheck(lambda z: np.exp(z) * (1 - 2j), z)


def test_second_order() -> None:
    rep = cr.gradcheck(lambda x, y: np.sum(np.tanh(x * y) ** 2), X, X[::-1].copy(), order=2)
    assert rep
    assert any(c.order == 2 and c.mode == "rev" for c in rep.checks)
    assert any(c.order == 2 and c.mode == "fwd" for c in rep.checks)


def test_only_forward_mode() -> None:
    rep = cr.gradcheck(np.cos, X, modes=("fwd",))
    assert rep and {c.mode for c in rep.checks} == {"fwd"}
    with pytest.raises(ValueError, match="modes"):
        cr.gradcheck(np.cos, X, modes=("backward",))
    with pytest.raises(ValueError, match="no floating-point argument"):
        cr.gradcheck(lambda n: n, 3)


def test_kinks_are_reported_not_failures() -> None:
    x = np.array([0.0, 1.5, -0.5])
    rep = cr.gradcheck(lambda v: np.maximum(v, 0.0), x)  # relu at 0
    assert rep
    assert len(rep.kinks) == 1 and rep.kinks[0].index.startswith("[0]")
    assert (rep.kinks[0].left, rep.kinks[0].right) == pytest.approx((0.0, 1.0), abs=1e-6)
    assert "non-differentiable points" in str(rep)
    rep = cr.gradcheck(np.abs, x)
    assert rep and rep.kinks[0].left == pytest.approx(-1.0)
    rep = cr.gradcheck(np.max, np.array([1.0, 2.0, 2.0]))  # max with a tie
    assert rep and len(rep.kinks) == 2
    assert {k.auto for k in rep.kinks} == {0.5}  # the tie shares the gradient


def test_relu_abs_max_at_random_points_never_fail() -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        x = rng.standard_normal(6)
        for f in (lambda v: np.maximum(v, 0), np.abs, np.max, lambda v: np.sort(v) * X.sum(),
                  lambda v: np.clip(v, -0.5, 0.5)):
            rep = cr.gradcheck(f, x)
            assert rep, str(rep)


def test_float32_inputs_are_checked_in_float64() -> None:
    x = X.astype(np.float32)
    rep = cr.gradcheck(lambda v: np.exp(v) * np.tanh(v), x)
    assert rep
    assert {"rev float32", "fwd float32"} <= {c.mode for c in rep.checks}
    # a function that computes in float32 inside: noisy differences, no false alarm
    rep = cr.gradcheck(lambda v: np.sin(v.astype(np.float32)).astype(np.float64) * 3, X)
    assert rep, str(rep)


def test_projections_for_large_inputs_then_full_jacobian_where_one_fails() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((12, 12))
    rep = cr.gradcheck(lambda a: np.tanh(a @ X[:3].repeat(4)), A)
    assert rep and any("projections" in c.how for c in rep.checks)

    bad = make(lambda a: a @ a, lambda g, ans, a: g @ a.T + a.T @ g * 1.0001,
               lambda d, ans, a: d @ a + a @ d, name="matsq")
    rep = cr.gradcheck(lambda a: np.sum(np.sin(bad(a))), A)
    assert not rep
    assert any("after a failed projection" in c.how for c in rep.failures)
    assert rep.located.name == "matsq" and rep.located.mode == "VJP"


def test_raise_on_fail_carries_the_report() -> None:
    bad = make(lambda x: x * x, lambda g, ans, x: g * x, lambda d, ans, x: 2 * d * x, "sq")
    with pytest.raises(cr.GradcheckError) as ei:
        cr.gradcheck(lambda x: np.sum(bad(x)), X, raise_on_fail=True)
    assert isinstance(ei.value, AssertionError)
    assert not ei.value.report and ei.value.report.located.name == "sq"
    assert "wrong node: sq" in str(ei.value)


def test_failure_table_and_location() -> None:
    bad = make(lambda x: x * x, lambda g, ans, x: g * x, lambda d, ans, x: 2 * d * x, "sq")

    def f(x):
        y = np.sin(x)
        return np.exp(bad(y))  # the guilty line

    rep = cr.gradcheck(f, X)
    text = str(rep)
    head = text.splitlines()[1].split()
    assert head == ["input", "mode", "order", "element", "automatic", "numerical", "abs",
                    "err", "rel", "err", "tol"]
    row = text.splitlines()[2].split()
    assert row[:3] == ["x", "rev", "1"]
    w = rep.failures[0].worst
    assert w.rel_err == pytest.approx(0.5) and w.abs_err > 100 * w.tol
    fnd = rep.located
    assert fnd.name == "sq" and fnd.custom and fnd.argnum == 0
    assert "return np.exp(bad(y))  # the guilty line" in fnd.site
    assert fnd.in_shapes == [(3,)] and fnd.out_shape == (3,)
    assert any("ratio 0.5" in h for h in fnd.hints)


def test_jvp_bug_located_in_forward_mode() -> None:
    bad = make(np.sin, lambda g, ans, x: g * np.cos(x), lambda d, ans, x: -d * np.cos(x), "s")
    rep = cr.gradcheck(lambda x: np.sum(bad(x) ** 2), X)
    assert [c.mode for c in rep.failures] == ["fwd"]
    assert rep.located.mode == "JVP" and "sign flip" in str(rep)


def test_non_deterministic_backward() -> None:
    calls = []

    def vjp(g, ans, x):
        calls.append(1)
        return g * np.cos(x) * (1 + 1e-3 * len(calls))

    bad = make(np.sin, vjp, lambda d, ans, x: d * np.cos(x), "drift")
    rep = cr.gradcheck(lambda x: np.sum(bad(x)), X, modes=("rev",), rtol=1e-2)
    det = [c for c in rep.checks if c.mode == "determinism"][0]
    assert not det.passed and "not deterministic" in det.message


def test_zero_cotangent_must_give_zero() -> None:
    bad = make(np.sin, lambda g, ans, x: g * np.cos(x) + 1e-12, lambda d, ans, x: d * np.cos(x),
               "offset")
    rep = cr.gradcheck(lambda x: bad(x), X)
    z = [c for c in rep.checks if c.mode == "zero-cotangent"][0]
    assert not z.passed and "nonzero gradient" in z.message


def test_value_that_left_the_graph_is_not_blamed_on_a_node() -> None:
    def f(x):
        c = x.detach() if isinstance(x, cr.Tensor) else x  # a constant copy: d/dx is x, not 2x
        return x * c

    rep = cr.gradcheck(f, X)
    assert not rep and rep.located is None
    assert "how they connect" in rep.locate_note


def test_math_functions_are_reported() -> None:
    rep = cr.gradcheck(lambda w: 1 / (1 + math.exp(-w)), 0.5)
    assert not rep
    assert "LeftGraphError" in str(rep) and "math" in str(rep)


def test_user_tolerance() -> None:
    f16 = make(np.sin, lambda g, ans, x: (g * np.cos(x)).astype(np.float16),
               lambda d, ans, x: d * np.cos(x), "half")
    assert not cr.gradcheck(lambda x: f16(x), X)
    assert cr.gradcheck(lambda x: f16(x), X, rtol=1e-2, atol=1e-3)


def test_float32_rule_hint() -> None:
    f32 = make(np.sin, lambda g, ans, x: (g * np.cos(x)).astype(np.float32),
               lambda d, ans, x: d * np.cos(x), "single")
    assert cr.gradcheck(lambda x: f32(x) * 2.0, X)  # float32 rounding is under the floor
    rep = cr.gradcheck(lambda x: f32(x) * 2.0, X, rtol=1e-12, atol=0.0)
    assert not rep and rep.located.name == "single"
    assert "float32 noise: the rule computes in float32" in str(rep)
