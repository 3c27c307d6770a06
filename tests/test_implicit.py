"""cr.custom_root and cr.fixed_point: solutions differentiated by the implicit function
theorem, never through the solver's iterations."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.optimize import ConvergenceError


def square(x, theta):
    return x ** 2 - theta


def bisection(f, x0, theta):
    """A solver that only works on plain floats: float() of a Tensor with history, or any
    attempt to record through it, would fail or cut the graph."""
    theta = np.asarray(theta, dtype=float)
    lo, hi = np.zeros_like(theta), np.maximum(1.0, theta)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        pos = np.asarray(f(mid, theta)) > 0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
    return np.array(0.5 * (lo + hi)).reshape(np.shape(x0))


def newton(f, x0, theta):
    x = float(x0)
    for _ in range(60):
        x = x - float(f(x, theta)) / (2.0 * x)
    return x


sqrt_root = cr.custom_root(square, bisection)


def test_value_and_derivatives_of_a_square_root() -> None:
    theta = 4.0
    assert abs(sqrt_root(1.0, theta) - 2.0) < 1e-12
    assert abs(cr.grad(lambda t: sqrt_root(1.0, t))(theta) - 1 / (2 * np.sqrt(theta))) < 1e-12
    # second order: d²/dθ² √θ = -θ^{-3/2}/4 (the dense linear solve is differentiable)
    d2 = cr.grad(cr.grad(lambda t: sqrt_root(1.0, t)))(theta)
    assert abs(d2 - (-0.25 * theta ** -1.5)) < 1e-12
    # forward mode, and forward over reverse
    val, tan = cr.jvp(lambda t: sqrt_root(1.0, t), (theta,), (1.0,))
    assert abs(val - 2.0) < 1e-12 and abs(tan - 0.25) < 1e-12
    assert abs(cr.jacfwd(cr.grad(lambda t: sqrt_root(1.0, t)))(theta) - d2) < 1e-12


def test_a_plain_float_newton_solver_gives_exact_gradients() -> None:
    root = cr.custom_root(square, newton)  # newton calls float(): never sees a Tensor
    g = cr.grad(lambda t: root(1.0, t))(9.0)
    assert abs(g - 1 / 6) < 1e-14


def test_vector_parameters_and_backward() -> None:
    theta = np.array([1.0, 4.0, 9.0, 16.0])
    J = cr.jacobian(lambda t: sqrt_root(np.ones(4), t))(theta)
    np.testing.assert_allclose(J, np.diag(0.5 / np.sqrt(theta)), atol=1e-12)
    t = cr.tensor(theta, requires_grad=True)
    np.sum(sqrt_root(np.ones(4), t) * np.arange(4.0)).backward()
    np.testing.assert_allclose(t.grad.numpy(), np.arange(4.0) * 0.5 / np.sqrt(theta), atol=1e-12)


def test_the_derivative_in_x0_is_zero() -> None:
    g = cr.grad(lambda x0, t: sqrt_root(x0, t), argnums=(0, 1))(1.5, 4.0)
    assert g[0] == 0.0 and abs(g[1] - 0.25) < 1e-12


def linear(x, A, b):
    return A @ x - b


def test_several_parameters_of_a_linear_system() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    b = rng.normal(size=3)
    root = cr.custom_root(linear, lambda f, x0, A, b: np.linalg.solve(A, b))
    w = np.array([1.0, -2.0, 0.5])
    gA, gb = cr.grad(lambda A, b: w @ root(np.zeros(3), A, b), argnums=(0, 1))(A, b)
    x = np.linalg.solve(A, b)
    u = np.linalg.solve(A.T, w)
    np.testing.assert_allclose(gb, u, atol=1e-12)
    np.testing.assert_allclose(gA, -np.outer(u, x), atol=1e-12)
    # forward mode in A and b together
    dA, db = rng.normal(size=(3, 3)), rng.normal(size=3)
    _, tan = cr.jvp(lambda A, b: root(np.zeros(3), A, b), (A, b), (dA, db))
    np.testing.assert_allclose(tan, np.linalg.solve(A, db - dA @ x), atol=1e-12)


@pytest.mark.parametrize("n", [5, 300])
def test_gmres_matches_the_dense_solve(n) -> None:
    """300 unknowns: 'auto' goes matrix-free (GMRES on VJPs and JVPs of f)."""
    rng = np.random.default_rng(1)
    theta = rng.uniform(1.0, 4.0, size=n)
    w = rng.normal(size=n)
    exact = w * 0.5 / np.sqrt(theta)
    for method in ("gmres", "auto"):
        root = cr.custom_root(square, bisection, linear_solve=method)
        g = cr.grad(lambda t: w @ root(np.ones(n), t))(theta)
        np.testing.assert_allclose(g, exact, rtol=1e-9)
        _, tan = cr.jvp(lambda t: root(np.ones(n), t), (theta,), (w,))
        np.testing.assert_allclose(tan, exact, rtol=1e-9)


def babylon(x, t):
    return 0.5 * (x + t / x)


@pytest.mark.parametrize("method", ["auto", "dense", "gmres", "fixed_point"])
def test_fixed_point_and_its_gradient(method) -> None:
    theta = np.array([2.0, 3.0, 10.0])
    x = cr.fixed_point(babylon, np.ones(3), theta, linear_solve=method)
    np.testing.assert_allclose(x, np.sqrt(theta), rtol=1e-12)
    g = cr.grad(lambda t: np.sum(cr.fixed_point(babylon, np.ones(3), t, linear_solve=method)))(
        theta)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(theta), rtol=1e-9)
    _, tan = cr.jvp(lambda t: cr.fixed_point(babylon, np.ones(3), t, linear_solve=method),
                    (theta,), (np.ones(3),))
    np.testing.assert_allclose(tan, 0.5 / np.sqrt(theta), rtol=1e-9)


def test_fixed_point_of_a_contraction_matches_the_linear_solution() -> None:
    # x = M x + c  =>  x = (I - M)^{-1} c, dx/dc = (I - M)^{-1}
    rng = np.random.default_rng(2)
    M = 0.3 * rng.normal(size=(4, 4)) / 2
    c = rng.normal(size=4)
    J = cr.jacobian(lambda c: cr.fixed_point(lambda x, M, c: M @ x + c, np.zeros(4), M, c,
                                             tol=1e-14))(c)
    np.testing.assert_allclose(J, np.linalg.inv(np.eye(4) - M), atol=1e-10)


def test_fixed_point_refuses_no_convergence_naming_g() -> None:
    def oscillates(x, t):
        return t - x

    with pytest.raises(ConvergenceError, match=r"fixed_point\(oscillates\).*max_iter=20"):
        cr.fixed_point(oscillates, np.ones(2), np.ones(2), max_iter=20)

    def explodes(x, t):
        return 3.0 * x + t

    with pytest.raises(cr.ChainruleError, match=r"fixed_point\(explodes\).*diverges"):
        cr.fixed_point(explodes, np.ones(2), np.ones(2))


def test_wrong_shapes_are_chainrule_errors_naming_the_function() -> None:
    def shrinks(x, t):
        return x[:1] * t

    with pytest.raises(cr.ShapeError, match=r"fixed_point\(shrinks\).*shape \(1,\)"):
        cr.fixed_point(shrinks, np.ones(2), 1.0)

    def not_square(x, t):
        return np.concatenate([x - t, x])

    root = cr.custom_root(not_square, lambda f, x0, t: x0)
    with pytest.raises(cr.ShapeError, match=r"custom_root\(not_square\).*square system"):
        cr.grad(lambda t: np.sum(root(np.ones(2), t)))(1.0)
    bad = cr.custom_root(square, lambda f, x0, t: np.ones(5))
    with pytest.raises(cr.ShapeError, match=r"custom_root\(square\): the solver returned shape"):
        bad(np.ones(2), 1.0)
    with pytest.raises(ValueError, match="linear_solve"):
        cr.custom_root(square, bisection, linear_solve="lu")


def test_a_singular_jacobian_at_the_solution_is_named() -> None:
    with pytest.raises(cr.ChainruleError, match=r"custom_root\(square\).*singular"):
        cr.grad(lambda t: cr.custom_root(square, lambda f, x0, t: np.zeros_like(x0))(1.0, t))(0.0)


def test_a_closed_over_tensor_with_history_is_refused() -> None:
    t = cr.tensor(4.0, requires_grad=True)

    def closes_over(x, unused):
        return x ** 2 - t

    with pytest.raises(cr.GradientError, match=r"custom_root\(closes_over\).*parameter"):
        cr.custom_root(closes_over, lambda f, x0, _: np.full_like(x0, 2.0))(np.ones(()), 1.0)
    with pytest.raises(cr.GradientError, match=r"fixed_point\(<lambda>\).*parameter"):
        cr.fixed_point(lambda x, _: 0.5 * (x + t / x), np.ones(2), 1.0)


def test_a_system_written_into_zeros_like() -> None:
    def system(x, th):
        r = np.zeros_like(x)
        r[0] = x[0] ** 2 - th
        r[1] = x[1] - th
        return r

    def solve(f, x0, th):
        return np.array([np.sqrt(th), th])

    for method in ("dense", "gmres"):
        root = cr.custom_root(system, solve, linear_solve=method)
        assert abs(cr.grad(lambda th: np.sum(root(np.ones(2), th)))(4.0) - 1.25) < 1e-12
        assert abs(cr.jvp(lambda th: np.sum(root(np.ones(2), th)), (4.0,), (1.0,))[1]
                   - 1.25) < 1e-12
