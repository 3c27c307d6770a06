"""A user's rules are validated: at registration (arity) and on every call (what they return)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def _double():
    @cr.primitive
    def double(x):
        return 2.0 * x

    return double


def _mul():
    @cr.primitive
    def mul(x, y):
        return x * y

    return mul


# --- what a JVP rule returns is checked like a VJP rule's ---------------------------------


def test_a_scalar_from_a_jvp_rule_is_refused_not_broadcast() -> None:
    f = _double()
    cr.defjvp(f, lambda dx, ans, x: np.sum(dx) + 2.0)  # wrong: 0-d for a (3,) output
    with pytest.raises(cr.GradientError) as info:
        cr.jvp(f, (np.ones(3),), (np.ones(3),))
    msg = str(info.value)
    assert "JVP rule of double for argument 0" in msg and "shape ()" in msg and "(3,)" in msg
    assert "rule(dx, ans, x)" in msg


def test_a_right_jvp_rule_still_works_and_its_dtype_is_fitted() -> None:
    f = _double()
    cr.defjvp(f, lambda dx, ans, x: 2.0 * np.asarray(dx, np.float64))
    _, t = cr.jvp(f, (np.ones(3, np.float32),), (np.ones(3, np.float32),))
    assert t.dtype == np.float32 and np.all(t == 2.0)


def test_a_complex_tangent_for_a_real_output_is_refused() -> None:
    f = _double()
    cr.defjvp(f, lambda dx, ans, x: 2.0 * dx + 1j)
    with pytest.raises(cr.GradientError, match="complex128.*real output of dtype float64"):
        cr.jvp(f, (np.ones(2),), (np.ones(2),))


@pytest.mark.parametrize("bad, said", [(None, "None"), (2.0, "a float"), ([2.0, 2.0], "a list")])
def test_a_jvp_rule_returning_a_non_array_is_named(bad, said) -> None:
    f = _double()
    cr.defjvp(f, lambda dx, ans, x: bad)
    with pytest.raises(cr.GradientError) as info:
        cr.jvp(f, (np.ones(2),), (np.ones(2),))
    msg = str(info.value)
    assert f"returned {said}" in msg and "double" in msg and "rule(dx, ans, x)" in msg
    assert "test_custom_rules.py" in msg  # where the rule is defined


@pytest.mark.parametrize("bad, said", [(None, "None"), (2.0, "a float"), ([1.0, 1.0], "a list")])
def test_a_vjp_rule_returning_a_non_array_is_named(bad, said) -> None:
    f = _double()
    cr.defvjp(f, lambda g, ans, x: bad)
    x = cr.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(cr.GradientError) as info:
        f(x).sum().backward()
    msg = str(info.value)
    assert f"returned {said}" in msg and "VJP rule of double for argument 0" in msg
    assert "rule(g, ans, x)" in msg and "shape (2,)" in msg
    assert x.grad is None


def test_a_vjp_rule_returning_none_inside_a_transform() -> None:
    f = _mul()
    cr.defvjp(f, lambda g, ans, x, y: None, lambda g, ans, x, y: g * x)
    with pytest.raises(cr.GradientError, match=r"VJP rule of mul for argument 0 .*returned None"):
        cr.grad(lambda a: np.sum(f(a, 3.0)))(np.ones(2))


def test_the_user_jvp_for_a_broadcast_argument_must_return_the_output_shape() -> None:
    f = _mul()
    # the tangent of x * y for a scalar x is dx * y, of y's shape; returning dx is wrong
    cr.defjvp(f, lambda dx, ans, x, y: dx, lambda dx, ans, x, y: dx * x)
    with pytest.raises(cr.GradientError, match=r"shape \(\), but it must have shape \(3,\)"):
        cr.jvp(lambda a: f(a, np.arange(3.0)), (1.0,), (1.0,))
    cr.defjvp(f, lambda dx, ans, x, y: dx * y)
    _, t = cr.jvp(lambda a: f(a, np.arange(3.0)), (1.0,), (1.0,))
    np.testing.assert_array_equal(t, [0.0, 1.0, 2.0])


# --- arity at registration --------------------------------------------------------------


def test_defvjp_checks_each_rules_arity_at_registration() -> None:
    f = _mul()
    with pytest.raises(TypeError) as info:
        cr.defvjp(f, lambda g, x, y: g * y)  # forgot ans
    msg = str(info.value)
    assert "defvjp(mul)" in msg and "argument 0" in msg and "rule(g, ans, x, y)" in msg
    assert not f.vjps  # nothing registered


def test_defjvp_checks_each_rules_arity_at_registration() -> None:
    f = _double()
    with pytest.raises(TypeError, match=r"defjvp\(double\).*rule\(dx, ans, x\)"):
        cr.defjvp(f, lambda dx: 2 * dx)
    assert not f.jvps


def test_more_rules_than_arguments_is_refused() -> None:
    f = _double()
    with pytest.raises(TypeError, match=r"2 rules .* double takes 1 positional argument"):
        cr.defvjp(f, lambda g, ans, x: g, lambda g, ans, x: g)
    with pytest.raises(TypeError, match=r"argnums"):
        cr.defvjp(f, lambda g, ans, x: g, argnums=(3,))


def test_a_rule_that_is_not_callable_is_refused() -> None:
    f = _double()
    with pytest.raises(TypeError, match="not callable"):
        cr.defvjp(f, 2.0)


def test_rules_with_defaults_varargs_and_keywords_are_accepted() -> None:
    @cr.primitive
    def scale(x, factor=2.0):
        return factor * x

    cr.defvjp(scale, lambda g, ans, x, factor=2.0: g * factor)
    cr.defjvp(scale, lambda dx, ans, *args, **kw: dx * kw.get("factor", args[1] if len(args) > 1
                                                                else 2.0))
    assert cr.grad(lambda a: scale(a, factor=3.0))(1.0) == 3.0
    assert cr.grad(lambda a: scale(a))(1.0) == 2.0
    assert cr.jvp(lambda a: scale(a, 5.0), (1.0,), (1.0,))[1] == 5.0


def test_a_rule_that_does_not_take_a_keyword_the_call_passes_is_named() -> None:
    @cr.primitive
    def scale(x, factor=2.0):
        return factor * x

    cr.defvjp(scale, lambda g, ans, x: g * 2.0)  # fits scale(x), not scale(x, factor=3)
    assert cr.grad(lambda a: scale(a))(1.0) == 2.0
    with pytest.raises(TypeError) as info:
        cr.grad(lambda a: scale(a, factor=3.0))(1.0)
    msg = str(info.value)
    assert "VJP rule of scale for argument 0" in msg and "factor=" in msg


def test_a_type_error_inside_a_rule_is_the_users_own() -> None:
    f = _double()
    cr.defvjp(f, lambda g, ans, x: g + "oops")
    with pytest.raises(TypeError) as info:
        f(cr.tensor(np.ones(2), requires_grad=True)).sum().backward()
    assert "VJP rule" not in str(info.value)  # not mistaken for a signature mismatch


def test_library_rules_still_broadcast_tangents() -> None:
    # add's JVP for a scalar argument returns the scalar tangent; the engine broadcasts it
    _, t = cr.jvp(lambda a: a + np.zeros(3), (1.0,), (2.0,))
    np.testing.assert_array_equal(t, [2.0, 2.0, 2.0])


# --- over the op table: every library forward, wrapped as a user primitive ----------------


def test_bad_rule_results_are_refused_for_every_primitive_of_the_table() -> None:
    """Each library primitive's forward becomes a user primitive with rules that return
    garbage (None, a float, a list, a wrong shape): every call in both modes is a
    GradientError naming the primitive, never a crash elsewhere or a wrong value."""
    from chainrule.core.registry import PRIMITIVES
    from test_optable import ROWS

    args_of = {}
    for row in ROWS:
        if row.order >= 1 and row.prim not in args_of:
            args_of[row.prim] = row.make_args()
    covered = 0
    for name, lib in PRIMITIVES.items():
        if lib.nondiff or name not in args_of:
            continue
        args = args_of[name]
        try:
            with np.errstate(all="ignore"):
                ans = np.asarray(lib.fwd(*args))
        except Exception:
            continue
        if ans.dtype.kind not in "fc":
            continue
        pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind in "fc"]
        for bad in (None, 1.0, [1.0], "wrong shape"):
            up = cr.primitive(lib.fwd)

            def rule(g, ans, *a, _bad=bad, **kw):
                return np.zeros(np.shape(ans) + (2,)) if _bad == "wrong shape" else _bad

            cr.defvjp(up, *[rule] * len(args))
            cr.defjvp(up, *[rule] * len(args))
            ts = [cr.tensor(a, requires_grad=True) if i in pos else a for i, a in enumerate(args)]
            with pytest.raises(cr.GradientError, match=f"rule of {up.name} for argument"):
                np.sum(np.real(up(*ts))).backward()
            with pytest.raises(cr.GradientError, match=f"JVP rule of {up.name}"):
                cr.jvp(lambda *xs: up(*[xs[pos.index(i)] if i in pos else a
                                         for i, a in enumerate(args)]),
                       tuple(args[i] for i in pos), tuple(np.ones_like(args[i]) for i in pos))
        covered += 1
    print("primitives covered:", covered)
    assert covered >= 90, covered


def test_a_rule_that_raises_is_called_once() -> None:
    calls = []
    f = _double()

    def bad(g, ans, x):
        calls.append(1)
        return g + "oops"

    cr.defvjp(f, bad)
    cr.defjvp(f, lambda dx, ans, x: calls.append(2) or dx + "oops")
    with pytest.raises(TypeError):
        f(cr.tensor(np.ones(2), requires_grad=True)).sum().backward()
    with pytest.raises(TypeError):
        cr.jvp(f, (np.ones(2),), (np.ones(2),))
    assert calls == [1, 2]  # the error path does not run the rule a second time
