"""Values never leave the graph silently, and errors name what the user called."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_a_foreign_ufunc_is_named_by_its_own_module() -> None:
    sp = pytest.importorskip("scipy.special")
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    names = ["ellipk", "zetac", "ellipe"]      # (expit, gammaln ... have rules: cr.scipy)
    for name in names:
        f = getattr(sp, name)
        with pytest.raises(NotImplementedError, match=rf"^scipy\.special\.{name} has no chainrule rule"):
            f(t)


def test_a_numpy_ufunc_without_a_rule_is_named_np() -> None:
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"^np\.logaddexp\.reduce has no chainrule rule"):
        np.logaddexp.reduce(t)


@pytest.mark.parametrize("call", [
    lambda t, o: np.add.reduce(t, out=o),
    lambda t, o: np.multiply.reduce(t, axis=0, out=o),
    lambda t, o: np.add.accumulate(t, out=np.zeros(2)),
])
def test_reduce_into_out_is_refused_not_ignored(call) -> None:
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    o = np.zeros(())
    with pytest.raises(NotImplementedError, match="out="):
        call(t, o)
    assert o == 0.0


def test_errors_name_the_operation_once_over_the_op_table() -> None:
    """NumPy's own message often starts with the function's name ("matmul: Input operand 1
    ..."); the error names the operation once.  Every row is called with Tensors of
    mismatched shapes (and of too many dimensions) to provoke NumPy's errors."""
    import re

    from test_optable import ROWS

    twice = re.compile(r"^([\w.]+): (?:[\w.]+\.)?\1: ")
    provoked = 0
    for row in ROWS:
        args = row.make_args()
        for variant in range(2):
            bad = []
            for i, a in enumerate(args):
                if isinstance(a, np.ndarray) and a.dtype.kind in "fc":
                    shape = (i + 2, i + 3) if variant == 0 else (2,) * (a.ndim + 3)
                    a = cr.tensor(np.ones(shape, a.dtype), requires_grad=True)
                bad.append(a)
            try:
                row.fn(*bad)
            except Exception as exc:
                provoked += 1
                msg = str(exc)
                assert not twice.match(msg), f"{row.name}: {msg}"
    assert provoked > 200  # the check ran on many errors, not on none


def test_matmul_shape_error_names_matmul_once() -> None:
    a = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(cr.ShapeError) as info:
        a @ np.ones((2, 3))
    msg = str(info.value)
    assert msg.startswith("matmul: Input operand 1 has a mismatch") and "matmul: matmul" not in msg
    assert "(2, 3), (2, 3)" in msg


def test_full_like_with_a_traced_fill_value_differentiates() -> None:
    g = cr.grad(lambda a: np.sum(cr.numpy.full_like(np.ones((2, 3)), a) * np.arange(6.0).reshape(2, 3)))
    assert g(1.0) == 15.0
    out = cr.numpy.full_like(np.ones(3, np.float32), cr.tensor(2.0))
    assert out.dtype == np.float32 and np.all(out.numpy() == 2.0)


def test_scatter_add_with_values_that_do_not_fit_is_an_error_not_a_crash() -> None:
    from chainrule.ops import index as I

    g = cr.tensor(np.ones((2, 2, 2, 2)), requires_grad=True)
    with pytest.raises(cr.ShapeError, match="do not fit"):
        I.scatter_add(g, shape=(2, 3), idx=(slice(None), np.array([0, 0])))


HOSTILE_LEAVES = ["a", None, b"x", object(), np.datetime64("2020-01-01"), np.array(["a"]),
                  {"w": "text"}, [1.0, None], np.array([1.0], dtype=object)]
TRANSFORMS = {
    "grad": lambda v: cr.grad(lambda x: 0.0)(v),
    "value_and_grad": lambda v: cr.value_and_grad(lambda x: 0.0)(v),
    "jacobian": lambda v: cr.jacobian(lambda x: x)(v),
    "jacfwd": lambda v: cr.jacfwd(lambda x: x)(v),
    "hessian": lambda v: cr.hessian(lambda x: 0.0)(v),
    "elementwise_grad": lambda v: cr.elementwise_grad(lambda x: x)(v),
    "vjp": lambda v: cr.vjp(lambda x: x, v),
    "jvp": lambda v: cr.jvp(lambda x: x, (v,), (v,)),
    "linearize": lambda v: cr.linearize(lambda x: x, v),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
@pytest.mark.parametrize("leaf", HOSTILE_LEAVES, ids=lambda v: type(v).__name__ + repr(v)[:12])
def test_non_numeric_inputs_are_refused_by_every_transform(name, leaf) -> None:
    # before: cr.grad(lambda x: x)("a") was 1.0 and a None tangent gave NaN.  (jacobian and
    # hessian take arrays only, and refuse a dict or list with their own TypeError.)
    with pytest.raises((cr.GradientError, TypeError, ValueError),
                       match=r"argument 0|not a number|not a float|must be arrays|structure"):
        TRANSFORMS[name](leaf)


@pytest.mark.parametrize("bad", ["a", None, object()], ids=["str", "None", "object"])
def test_non_numeric_tangents_and_cotangents_are_refused(bad) -> None:
    with pytest.raises(cr.GradientError, match="tangent of argument 0 .*not numbers"):
        cr.jvp(lambda x: x * 2, (1.0,), (bad,))
    with pytest.raises(cr.GradientError, match="cotangent .*not numbers"):
        cr.vjp(lambda x: x * 2, 1.0)[1](bad)
    with pytest.raises(cr.GradientError, match="not numbers"):
        cr.hvp(lambda x: np.sum(x ** 3), (np.ones(3),), (bad,))
    assert cr.jvp(lambda x: x * 2, (1.0,), (1,))[1] == 2.0  # an integer tangent is cast


def test_a_complex_tangent_or_cotangent_for_a_real_value_is_refused() -> None:
    # before: jvp(a**2, (1.0,), (1j,)) gave 0.0 and vjp_fn(1j * ones) dropped the 1j silently
    with pytest.raises(cr.GradientError, match="tangent of argument 0 is complex but the primal"):
        cr.jvp(lambda a: a ** 2, (1.0,), (1j,))
    with pytest.raises(cr.GradientError, match="cotangent is complex but the output is real"):
        cr.vjp(lambda a: a * 2, np.ones(2))[1](np.ones(2) * 1j)
    # complex where the value is complex is the normal case
    assert cr.jvp(lambda a: a ** 2, (1 + 0j,), (1j,))[1] == 2j
    np.testing.assert_array_equal(cr.vjp(lambda a: a * 1j, np.ones(2))[1](np.ones(2) * 1j)[0],
                                  [1.0, 1.0])


@pytest.mark.parametrize("bad, kind", [
    (lambda: cr.tensor(np.ones(2)), cr.ShapeError),
    (lambda: cr.tensor(np.ones(3, np.float32)), cr.ShapeError),
    (lambda: "abc", TypeError), (lambda: [1.0, 2.0, 3.0], TypeError),
], ids=["shape", "dtype", "str", "list"])
def test_assigning_a_wrong_grad_is_refused(bad, kind) -> None:
    # before: t.grad = 'abc' was accepted and the next backward() died in an AttributeError
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(kind, match=r"t\.grad = "):
        x.grad = bad()
    assert x.grad is None
    x.grad = np.ones(3)                      # an array of the right shape and dtype is fine
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 5.0, 7.0])


@pytest.mark.parametrize("gradient", [np.ones(3) * 1j, "a", [None, None, None]],
                         ids=["complex", "str", "None"])
def test_backward_refuses_a_gradient_that_is_not_real_numbers(gradient) -> None:
    # before: a complex gradient lost its imaginary part, None became NaN
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(cr.GradientError, match=r"backward\(gradient=\.\.\.\)"):
        (x * 2).backward(gradient)
    assert x.grad is None
