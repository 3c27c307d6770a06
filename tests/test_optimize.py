"""cr.optimize.minimize / root / least_squares: SciPy's solvers with chainrule's exact
derivatives, and solutions differentiable in args (argmin differentiation)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("scipy")

A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.5]])


def quadratic(x, b):
    return 0.5 * x @ A @ x - b @ x


B = np.array([1.0, -1.0, 2.0])


@pytest.mark.parametrize("method", ["BFGS", "CG", "L-BFGS-B", "Newton-CG", "trust-ncg",
                                    "trust-krylov", "trust-exact", "dogleg", "trust-constr"])
def test_argmin_of_a_quadratic_and_its_derivative(method) -> None:
    res = cr.optimize.minimize(quadratic, np.zeros(3), args=(B,), method=method,
                               options={"gtol": 1e-10} if method in ("BFGS", "CG") else None)
    np.testing.assert_allclose(res.x, np.linalg.solve(A, B), atol=1e-5)
    # the solution's Jacobian in b is A^{-1}, exactly (implicit, not through the iterations)
    J = cr.jacobian(lambda b: cr.optimize.minimize(quadratic, np.zeros(3), args=(b,),
                                                   method=method).x)(B)
    np.testing.assert_allclose(J, np.linalg.inv(A), atol=1e-12)


def test_exact_derivatives_reach_scipy() -> None:
    # Newton-CG with exact Hessian-vector products (it counts our hessp calls)
    res = cr.optimize.minimize(quadratic, np.zeros(3), args=(B,), method="Newton-CG")
    assert res.success and res.nhev >= 1
    np.testing.assert_allclose(res.x, np.linalg.solve(A, B), atol=1e-10)
    # trust-exact receives the Hessian itself and also converges at once
    res = cr.optimize.minimize(quadratic, np.zeros(3), args=(B,), method="trust-exact")
    assert res.success and res.nit <= 3
    np.testing.assert_allclose(res.jac, 0.0, atol=1e-10)


def test_forward_mode_and_second_derivatives_of_the_argmin() -> None:
    def sol(b):
        return cr.optimize.minimize(quadratic, np.zeros(3), args=(b,), method="trust-exact").x

    np.testing.assert_allclose(cr.jacfwd(sol)(B), np.linalg.inv(A), atol=1e-10)
    # x*(b) is linear: its second derivative vanishes (reverse over reverse of the implicit rule)
    H = cr.hessian(lambda b: np.sum(sol(b) ** 2))(B)
    np.testing.assert_allclose(H, 2 * np.linalg.inv(A).T @ np.linalg.inv(A), atol=1e-8)


def test_hessp_through_an_ode_falls_back_to_reverse_over_reverse() -> None:
    # odeint's adjoint has no forward-over-reverse; Newton-CG still gets exact H·p
    target = np.exp(-0.8)

    def misfit(k):
        y = cr.integrate.odeint(lambda y, t, k: -k * y, 1.0, np.array([0.0, 1.0]), k[0],
                                rtol=1e-10, atol=1e-12)
        return (y[-1] - target) ** 2

    res = cr.optimize.minimize(misfit, np.array([0.3]), method="Newton-CG",
                               options={"xtol": 1e-12})
    assert res.success and res.nhev >= 1
    np.testing.assert_allclose(res.x, [0.8], rtol=1e-6)


def test_the_optimal_value_is_differentiable_envelope_theorem() -> None:
    # min_x ½xᵀAx - bᵀx = -½ bᵀA⁻¹b, whose gradient in b is -A⁻¹b
    g = cr.grad(lambda b: cr.optimize.minimize(quadratic, np.zeros(3), args=(b,)).fun)(B)
    np.testing.assert_allclose(g, -np.linalg.solve(A, B), atol=1e-6)


def quartic(x, a):
    return np.sum((x - a) ** 4) + np.sum(x ** 2) + x[0] * x[1]


def test_gradient_of_a_nonquadratic_minimizer_against_central_differences() -> None:
    a = np.array([1.0, -0.5])

    def sol(a):
        return cr.optimize.minimize(quartic, np.zeros(2), args=(a,), method="BFGS",
                                    options={"gtol": 1e-12}).x

    J = cr.jacobian(sol)(a)
    eps = 1e-5
    fd = np.stack([(sol(a + e) - sol(a - e)) / (2 * eps) for e in np.eye(2) * eps], axis=1)
    np.testing.assert_allclose(J, fd, atol=1e-6)
    t = cr.tensor(a, requires_grad=True)
    res = cr.optimize.minimize(quartic, np.zeros(2), args=(t,), method="Newton-CG")
    assert isinstance(res.x, cr.Tensor)
    np.sum(res.x).backward()
    np.testing.assert_allclose(t.grad.numpy(), fd.sum(axis=0), atol=1e-5)


def test_x_keeps_the_shape_of_x0() -> None:
    target = np.arange(6.0).reshape(2, 3)
    res = cr.optimize.minimize(lambda X, T: np.sum((X - T) ** 2), np.zeros((2, 3)), args=(target,))
    assert res.x.shape == (2, 3)
    np.testing.assert_allclose(res.x, target, atol=1e-6)


def test_minimize_refusals_name_the_function() -> None:
    def vector_valued(x):
        return x ** 2

    with pytest.raises(cr.ShapeError, match=r"minimize\(vector_valued\).*scalar"):
        cr.optimize.minimize(vector_valued, np.ones(2))
    t = cr.tensor(B, requires_grad=True)
    with pytest.raises(cr.GradientError, match=r"minimize\(quadratic\).*constrained"):
        cr.optimize.minimize(quadratic, np.zeros(3), args=(t,), method="SLSQP",
                             constraints=[{"type": "ineq", "fun": lambda x, b: x[0]}])
    with pytest.raises(cr.GradientError, match=r"minimize\(quadratic\).*bound is active"):
        cr.optimize.minimize(quadratic, np.zeros(3), args=(t,), method="L-BFGS-B",
                             bounds=[(None, None), (None, None), (None, 0.5)])
    # an inactive bound is fine
    res = cr.optimize.minimize(quadratic, np.zeros(3), args=(t,), method="L-BFGS-B",
                               bounds=[(-10, 10)] * 3)
    np.testing.assert_allclose(res.x.detach().numpy(), np.linalg.solve(A, B), atol=1e-5)


def cubic(x, t):
    return x ** 3 - t


@pytest.mark.parametrize("method", ["hybr", "lm", "krylov"])
def test_root_and_its_derivative(method) -> None:
    t = np.array([8.0, 27.0, 2.0])
    res = cr.optimize.root(cubic, np.ones(3), args=(t,), method=method, tol=1e-12)
    np.testing.assert_allclose(res.x, np.cbrt(t), rtol=1e-8)
    J = cr.jacobian(lambda t: cr.optimize.root(cubic, np.ones(3), args=(t,), method=method,
                                               tol=1e-12).x)(t)
    np.testing.assert_allclose(J, np.diag(1 / (3 * np.cbrt(t) ** 2)), rtol=1e-6)


def test_root_uses_the_exact_jacobian() -> None:
    res = cr.optimize.root(cubic, np.ones(3), args=(np.array([8.0, 27.0, 2.0]),))
    assert res.success and res.njev >= 1  # hybr called our jac (it counts the calls)


TT = np.linspace(0.0, 2.0, 15)


def decay(p, y):
    return p[0] * np.exp(-p[1] * TT) - y


def test_least_squares_fit_and_its_derivative_in_the_data() -> None:
    y = 2.0 * np.exp(-1.5 * TT) + 0.01 * np.sin(7 * TT)
    res = cr.optimize.least_squares(decay, np.ones(2), args=(y,))
    assert res.success
    np.testing.assert_allclose(res.jac, cr.jacobian(lambda p: decay(p, y))(res.x), atol=1e-12)

    def fit(y):
        return cr.optimize.least_squares(decay, np.ones(2), args=(y,), xtol=1e-14,
                                         ftol=1e-14, gtol=1e-14).x

    J = cr.jacobian(fit)(y)
    eps = 1e-4  # the fit is accurate to ~1e-11: a smaller step measures its noise
    for k in (0, 7, 14):
        e = np.zeros_like(y)
        e[k] = eps
        np.testing.assert_allclose(J[:, k], (fit(y + e) - fit(y - e)) / (2 * eps), rtol=1e-4)
    with pytest.raises(cr.GradientError, match=r"least_squares\(decay\).*loss='linear'"):
        cr.jacobian(lambda y: cr.optimize.least_squares(decay, np.ones(2), args=(y,),
                                                        loss="soft_l1").x)(y)


def test_a_missing_scipy_is_explained(monkeypatch) -> None:
    import builtins

    real = builtins.__import__

    def no_scipy(name, *a, **k):
        if name.startswith("scipy"):
            raise ImportError("no scipy")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match=r"cr.optimize.minimize wraps scipy.optimize.*pip"):
        cr.optimize.minimize(quadratic, np.zeros(3), args=(B,))


def test_the_science_page_example_runs() -> None:
    """docs/science.md, section "Gradients through solvers": its code runs and asserts."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "science.md").read_text()
    section = text.split("\n## Gradients through solvers\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1 and "custom_root" in blocks[0] and "minimize" in blocks[0]
    exec(compile(blocks[0], "docs/science.md", "exec"), {})
