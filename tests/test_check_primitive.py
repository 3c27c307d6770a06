"""cr.primitive / cr.defvjp / cr.defjvp as the extension API, and cr.check_primitive."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.util import unbroadcast, value


@cr.primitive
def logistic(x):
    return 1 / (1 + np.exp(-x))


cr.defvjp(logistic, lambda g, ans, x: g * ans * (1 - ans))
cr.defjvp(logistic, lambda dx, ans, x: dx * ans * (1 - ans))


@cr.primitive
def scaled_add(x, y, scale=1.0):
    return scale * x + y


cr.defvjp(scaled_add, lambda g, ans, x, y, scale=1.0: unbroadcast(x, scale * g),
          lambda g, ans, x, y, scale=1.0: unbroadcast(y, g))
cr.defjvp(scaled_add, lambda dx, ans, x, y, scale=1.0: scale * dx,
          lambda dy, ans, x, y, scale=1.0: np.broadcast_to(dy, np.shape(ans)))  # the result's shape


def test_public_extension_api() -> None:
    assert isinstance(logistic, cr.Primitive)
    x = np.array([0.2, -1.0])
    g = cr.grad(lambda v: np.sum(logistic(v)))(x)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(g, s * (1 - s))
    with pytest.raises(TypeError, match="@cr.primitive"):
        cr.defvjp(np.sin, lambda g, ans, x: g)


def test_correct_primitives_pass_to_second_order() -> None:
    rep = cr.check_primitive(logistic, np.array([0.5, -1.5, 2.0]))
    assert rep and len(rep.points) == 3
    assert all(any(c.order == 2 for c in r.checks) for r in rep.reports)
    assert "OK at 3 points" in str(rep)
    rep = cr.check_primitive(scaled_add, np.ones((2, 3)), np.array([1.0, 2.0, 3.0]), scale=2.5)
    assert rep, str(rep)


def test_wrong_jvp_is_found() -> None:
    @cr.primitive
    def softsign(x):
        return x / (1 + np.abs(x))

    cr.defvjp(softsign, lambda g, ans, x: g / (1 + np.abs(x)) ** 2)
    cr.defjvp(softsign, lambda dx, ans, x: dx / (1 + np.abs(x)))  # the square is missing
    rep = cr.check_primitive(softsign, np.array([0.5, -1.5]))
    assert not rep
    assert rep.located.name == "softsign" and rep.located.mode == "JVP"
    assert "FAILED" in str(rep) and "at point 0" in str(rep)


def test_rule_that_is_not_differentiable_fails_at_second_order() -> None:
    @cr.primitive
    def cube(x):
        return x ** 3

    cr.defvjp(cube, lambda g, ans, x: g * 3 * value(x) ** 2)  # value(): a constant copy
    cr.defjvp(cube, lambda dx, ans, x: dx * 3 * x ** 2)
    assert cr.check_primitive(cube, np.array([0.5, 1.2]), order=1)
    rep = cr.check_primitive(cube, np.array([0.5, 1.2]))
    assert not rep
    assert rep.located.name == "cube" and "2nd order" in rep.located.mode
    assert "not differentiable as written" in str(rep)


def test_missing_rules_are_reported() -> None:
    @cr.primitive
    def half(x):
        return x / 2

    cr.defvjp(half, lambda g, ans, x: g / 2)
    rep = cr.check_primitive(half, np.array([1.0, 2.0]))
    assert not rep
    assert "no JVP rule for argument 0" in str(rep)
    with pytest.raises(cr.GradcheckError):
        cr.check_primitive(half, np.array([1.0]), raise_on_fail=True)
    with pytest.raises(TypeError, match="chainrule primitive"):
        cr.check_primitive(np.sin, 1.0)
