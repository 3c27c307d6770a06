"""cr.integrate.odeint / solve_ivp: values against analytic solutions and SciPy, gradients
from the continuous adjoint against analytic ones, central differences, differentiating
through the steps and JAX; memory that does not grow with the step count."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
from chainrule.integrate import odeint, solve_ivp
from chainrule.integrate._steppers import BOSH3, DOPRI5
from chainrule.optimize import ConvergenceError


@pytest.mark.parametrize("tab", [DOPRI5, BOSH3], ids=lambda t: t.name)
def test_tableaus_satisfy_their_order_conditions(tab) -> None:
    c, b, e = np.array(tab.c), np.array(tab.b), np.array(tab.e)
    s = len(c)
    A = np.zeros((s, s))
    for i, row in enumerate(tab.a):
        A[i, :len(row)] = row
    np.testing.assert_allclose(A.sum(axis=1), c, atol=1e-15)  # row sums are the nodes
    bhat = b - e
    for w, p in ((b, tab.order), (bhat, tab.order - 1)):
        for k in range(1, p + 1):  # the bushy trees: Σ w c^(k-1) = 1/k
            assert abs(w @ c ** (k - 1) - 1 / k) < 1e-14
        assert abs(w @ A @ c - 1 / 6) < 1e-14 if p >= 3 else True
    assert abs(b @ A @ A @ c - 1 / 24) < 1e-14 if tab.order >= 4 else True
    assert abs(e.sum()) < 1e-15


def decay(y, t, k):
    return -k * y


Y0 = np.array([1.0, 2.0])
T = np.linspace(0.0, 2.0, 5)


def exact(y0, t, k):
    return np.exp(-k * (t - t[0]))[:, None] * y0


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rosenbrock23"])
def test_exponential_decay_values(method) -> None:
    tol = 1e-4 if method == "rosenbrock23" else 1e-7  # second order: looser, fewer steps
    Y = odeint(decay, Y0, T, 0.7, method=method, rtol=tol * 1e-2, atol=1e-12)
    assert Y.shape == (5, 2)
    np.testing.assert_allclose(Y, exact(Y0, T, 0.7), rtol=tol)
    back = odeint(decay, Y[-1], T[::-1], 0.7, method=method, rtol=tol * 1e-2, atol=1e-12)
    np.testing.assert_allclose(back[-1], Y0, rtol=tol)  # t may decrease


@pytest.mark.parametrize("adjoint", [True, False])
def test_exponential_decay_gradients_in_k_y0_and_t(adjoint) -> None:
    k = 0.7

    def L(y0, t, k):
        return np.sum(odeint(decay, y0, t, k, rtol=1e-10, atol=1e-12, adjoint=adjoint))

    gy, gt, gk = cr.grad(L, argnums=(0, 1, 2))(Y0, T, k)
    E = exact(Y0, T, k)
    assert abs(gk - np.sum(-(T - T[0])[:, None] * E)) < 1e-8
    np.testing.assert_allclose(gy, np.sum(np.exp(-k * T)), rtol=1e-8)
    want_t = -k * E.sum(axis=1)
    want_t[0] = k * E[1:].sum()  # a later start moves every later output
    np.testing.assert_allclose(gt, want_t, atol=1e-8)


def test_forward_mode_gives_the_sensitivities() -> None:
    _, tan = cr.jvp(lambda k: odeint(decay, Y0, T, k, rtol=1e-10, atol=1e-12), (0.7,), (1.0,))
    np.testing.assert_allclose(tan, -(T - T[0])[:, None] * exact(Y0, T, 0.7), atol=1e-9)
    _, tan = cr.jvp(lambda y0, t: odeint(decay, y0, t, 0.7, rtol=1e-10, atol=1e-12),
                    (Y0, T), (np.array([1.0, 0.0]), np.ones(5)))
    # shifting every time together leaves the solution unchanged: only the y0 tangent stays
    np.testing.assert_allclose(tan, exact(np.array([1.0, 0.0]), T, 0.7), atol=1e-9)


def test_second_derivatives_reverse_over_reverse_of_the_adjoint() -> None:
    # y(1) = y0 e^{-k}: d²/dk² Σ y(1) = 3 e^{-k}
    H = cr.hessian(lambda k: np.sum(odeint(decay, Y0, np.array([0.0, 1.0]), k[0],
                                           rtol=1e-10, atol=1e-12)[-1]))(np.array([0.5]))
    assert abs(H[0, 0] - 3 * np.exp(-0.5)) < 1e-7


def lotka_volterra(y, t, theta):
    a, b, c, d = theta
    prey, pred = y
    return np.stack([a * prey - b * prey * pred, -c * pred + d * prey * pred])


THETA = np.array([1.5, 1.0, 3.0, 1.0])
LV_Y0 = np.array([1.0, 1.0])
LV_T = np.linspace(0.0, 4.0, 9)


def lv_loss(theta, adjoint=True, **kw):
    Y = odeint(lotka_volterra, LV_Y0, LV_T, theta, rtol=1e-9, atol=1e-11, adjoint=adjoint,
               **kw)
    return np.sum(Y ** 2 * np.linspace(1, 2, 9)[:, None])


def scipy_style(y, t, a, b, c, d):
    """Written as for scipy.integrate.odeint: separate parameters, a preallocated result."""
    dy = np.zeros_like(y)
    dy[0] = a * y[0] - b * y[0] * y[1]
    dy[1] = -c * y[1] + d * y[0] * y[1]
    return dy


def test_a_scipy_style_function_writing_into_zeros_like() -> None:
    t = np.linspace(0.0, 2.0, 5)

    def L(a, adjoint=True):
        return np.sum(odeint(scipy_style, np.ones(2), t, a, 1.0, 3.0, 1.0, adjoint=adjoint))

    fd = (L(1.5 + 1e-6) - L(1.5 - 1e-6)) / 2e-6
    for adjoint in (True, "interpolated", False):
        assert abs(cr.grad(lambda a: L(a, adjoint))(1.5) - fd) < 1e-5 * abs(fd)
    assert abs(cr.jvp(L, (1.5,), (1.0,))[1] - fd) < 1e-5 * abs(fd)


def test_a_function_returning_a_list() -> None:
    def as_list(y, t, a):
        return [a * y[0] - y[0] * y[1], -3.0 * y[1] + y[0] * y[1]]

    t = np.linspace(0.0, 2.0, 5)

    def L(a, adjoint=True):
        return np.sum(odeint(as_list, np.ones(2), t, a, adjoint=adjoint))

    fd = (L(1.5 + 1e-6) - L(1.5 - 1e-6)) / 2e-6
    for adjoint in (True, False):
        assert abs(cr.grad(lambda a: L(a, adjoint))(1.5) - fd) < 1e-5 * abs(fd)
    r = solve_ivp(lambda t, y, a: [-a * y[0], 0.0 * y[1]], (0.0, 1.0), np.ones(2), args=(0.5,),
                  t_eval=np.array([1.0]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.y[:, 0], [np.exp(-0.5), 1.0], rtol=1e-8)


def test_lotka_volterra_values_against_scipy() -> None:
    si = pytest.importorskip("scipy.integrate")
    Y = odeint(lotka_volterra, LV_Y0, LV_T, THETA, rtol=1e-11, atol=1e-12)
    ref = si.solve_ivp(lambda t, y: lotka_volterra(y, t, THETA), (0.0, 4.0), LV_Y0,
                       t_eval=LV_T, method="DOP853", rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(Y.T, ref.y, rtol=1e-9, atol=1e-10)


def test_lotka_volterra_adjoint_against_differences_and_the_steps() -> None:
    g = cr.grad(lv_loss)(THETA)
    steps = cr.grad(lambda th: lv_loss(th, adjoint=False))(THETA)
    chunks = cr.grad(lambda th: lv_loss(th, adjoint=False, checkpoint=4))(THETA)
    eps = 1e-5
    fd = np.array([(lv_loss(THETA + e) - lv_loss(THETA - e)) / (2 * eps)
                   for e in np.eye(4) * eps])
    rel = np.abs(g - fd).max() / np.abs(fd).max()
    print(f"\nLotka-Volterra: adjoint vs central differences {rel:.2e}, "
          f"vs through the steps {np.abs(g - steps).max() / np.abs(steps).max():.2e}")
    assert rel < 1e-7
    np.testing.assert_allclose(g, steps, rtol=1e-7)
    np.testing.assert_allclose(chunks, steps, rtol=1e-12)  # the same steps, recomputed


def test_lotka_volterra_gradients_against_jax() -> None:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.experimental.ode import odeint as jodeint

    def jlv(y, t, theta):
        a, b, c, d = theta[0], theta[1], theta[2], theta[3]
        return jnp.stack([a * y[0] - b * y[0] * y[1], -c * y[1] + d * y[0] * y[1]])

    w = jnp.linspace(1, 2, 9)[:, None]

    def jloss(theta, y0):
        return jnp.sum(jodeint(jlv, y0, jnp.asarray(LV_T), theta, rtol=1e-8, atol=1e-10) ** 2 * w)

    jg = jax.grad(jloss, argnums=(0, 1))(jnp.asarray(THETA), jnp.asarray(LV_Y0))
    g = cr.grad(lambda th, y0: np.sum(odeint(lotka_volterra, y0, LV_T, th, rtol=1e-8,
                                             atol=1e-10) ** 2 * np.linspace(1, 2, 9)[:, None]),
                argnums=(0, 1))(THETA, LV_Y0)
    # two solvers at rtol 1e-8 (JAX's own adaptive Dopri5 and its adjoint)
    for ours, theirs in zip(g, jg):
        theirs = np.asarray(theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6 * np.abs(theirs).max())


def _science_section(title: str) -> str:
    import pathlib

    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "science.md").read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_lotka_volterra_parameters_fitted_through_the_adjoint() -> None:
    """docs/science.md's worked example, run from the page: noisy counts, parameters fitted
    by BFGS with the gradient from odeint's adjoint."""
    import re

    pytest.importorskip("scipy")
    blocks = re.findall(r"```python\n(.*?)```", _science_section("ODEs and the adjoint"),
                        flags=re.S)
    assert len(blocks) == 1 and "lotka_volterra" in blocks[0] and "minimize" in blocks[0]
    exec(compile(blocks[0], "docs/science.md", "exec"), {})


def test_stiff_problems_with_the_rosenbrock_method() -> None:
    A = np.array([[-1000.0, 0.0], [1.0, -1.0]])
    t = np.array([0.0, 0.5, 2.0])
    Y = odeint(lambda y, t: A @ y, np.array([1.0, 0.0]), t, method="rosenbrock23", rtol=1e-7,
               atol=1e-12)
    # y1 = (e^{-t} - e^{-1000 t}) / 999
    np.testing.assert_allclose(Y[1:, 1], (np.exp(-t[1:]) - np.exp(-1000 * t[1:])) / 999,
                               rtol=1e-4)
    with pytest.raises(ConvergenceError, match=r"odeint\(<lambda>\).*max_steps=300.*stiff"):
        odeint(lambda y, t: A @ y, np.array([1.0, 0.0]), t, max_steps=300)

    def stiff(y, t, k):
        return np.stack([-k * y[0], y[0] - y[1]])

    def L(k):
        return np.sum(odeint(stiff, np.array([1.0, 0.0]), np.array([0.0, 0.1]), k,
                             method="rosenbrock23", rtol=1e-5, atol=1e-9, adjoint=False))

    g = cr.grad(L)(100.0)
    fd = (L(100.01) - L(99.99)) / 0.02
    assert abs(g - fd) < 1e-4 * abs(fd)


def stiff_pair(y, t, k):
    return np.stack([-k * y[0], y[0] - y[1]])


def test_a_stiff_adjoint_is_refused_by_backsolve_and_right_interpolated() -> None:
    """y0 = e^{-kt} cannot be integrated backwards (it grows like e^{1000 t}): the
    backsolve adjoint says so; the interpolated adjoint integrates only a, g backwards."""
    with pytest.raises(cr.GradientError,
                       match=r"odeint\(stiff_pair\).*backwards.*adjoint=False"):
        cr.grad(lambda k: np.sum(odeint(stiff_pair, np.array([1.0, 0.0]),
                                        np.array([0.0, 0.05, 0.1]), k)))(1000.0)
    t = np.array([0.0, 0.25, 0.5])
    k = 1000.0

    def L(k, adjoint):
        return np.sum(odeint(stiff_pair, np.array([1.0, 0.0]), t, k, method="rosenbrock23",
                             rtol=1e-5, atol=1e-12, adjoint=adjoint))

    # exact: y1(t) = (e^{-t} - e^{-kt}) / (k - 1), y0(t) = e^{-kt}
    def exact(k):
        return sum((np.exp(-s) - np.exp(-k * s)) / (k - 1) + np.exp(-k * s) for s in t[1:])

    want = (exact(k + 1e-3) - exact(k - 1e-3)) / 2e-3
    g = cr.grad(lambda k: L(k, "interpolated"))(k)
    assert abs(g - want) < 1e-3 * abs(want)  # measured 4e-4 at rtol 1e-5
    with pytest.raises(NotImplementedError, match="interpolated.*first order"):
        cr.hessian(lambda k: L(k[0], "interpolated"))(np.array([k]))


def test_the_interpolated_adjoint_on_lotka_volterra() -> None:
    g = cr.grad(lambda th: lv_loss(th, adjoint="interpolated"))(THETA)
    steps = cr.grad(lambda th: lv_loss(th, adjoint=False))(THETA)
    np.testing.assert_allclose(g, steps, rtol=1e-6, atol=1e-7 * np.abs(steps).max())
    with pytest.raises(ValueError, match=r"adjoint='checkpointed'"):
        odeint(decay, Y0, T, 1.0, adjoint="checkpointed")


def test_robertson_against_scipy_radau() -> None:
    si = pytest.importorskip("scipy.integrate")

    def robertson(y, t, k):
        return np.stack([-k[0] * y[0] + k[2] * y[1] * y[2],
                         k[0] * y[0] - k[2] * y[1] * y[2] - k[1] * y[1] ** 2, k[1] * y[1] ** 2])

    k = np.array([0.04, 3e7, 1e4])
    t = np.array([0.0, 1e-3, 0.1, 1.0, 10.0])
    Y = odeint(robertson, np.array([1.0, 0.0, 0.0]), t, k, method="rosenbrock23", rtol=1e-5,
               atol=1e-10)
    ref = si.solve_ivp(lambda t, y: robertson(y, t, k), (0.0, 10.0), [1.0, 0.0, 0.0],
                       t_eval=t, method="Radau", rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(Y.T, ref.y, rtol=2e-3, atol=1e-9)
    np.testing.assert_allclose(Y.sum(axis=1), 1.0, atol=1e-9)  # mass is conserved


def _peak(loss) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        cr.grad(loss)(A_MEM)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


A_MEM = -np.eye(20) + 0.1 * np.random.default_rng(2).normal(size=(20, 20)) / np.sqrt(20)


def test_adjoint_memory_does_not_grow_with_the_number_of_steps() -> None:
    """20 states, 10 vs 100 steps (max_step), tracemalloc's peak during cr.grad: measured
    0.09 vs 0.09 MB for the adjoint, 0.55 vs 5.06 MB through the steps, 0.51 vs 0.58 MB
    through the steps with checkpoint=10."""
    y0 = np.ones(20)
    t = np.array([0.0, 1.0])

    def make(max_step, **kw):
        return lambda A: np.sum(odeint(lambda y, t, A: A @ y, y0, t, A, max_step=max_step,
                                       **kw)[-1])

    adj = [_peak(make(h)) for h in (0.1, 0.01)]
    steps = [_peak(make(h, adjoint=False)) for h in (0.1, 0.01)]
    ck = [_peak(make(h, adjoint=False, checkpoint=10)) for h in (0.1, 0.01)]
    print(f"\npeak MB, 10 vs 100 steps: adjoint {adj[0] / 1e6:.2f} vs {adj[1] / 1e6:.2f}; "
          f"through the steps {steps[0] / 1e6:.2f} vs {steps[1] / 1e6:.2f}; "
          f"checkpoint=10 {ck[0] / 1e6:.2f} vs {ck[1] / 1e6:.2f}")
    assert adj[1] < 1.25 * adj[0]
    assert steps[1] > 4 * steps[0]
    assert ck[1] < 0.25 * steps[1]


# --- solve_ivp ---------------------------------------------------------------------------------


def test_solve_ivp_matches_scipy() -> None:
    si = pytest.importorskip("scipy.integrate")

    def fun(t, y, a):
        return -a * y + np.sin(t)

    ours = solve_ivp(fun, (0.0, 3.0), np.array([1.0, 2.0]), args=(0.5,), rtol=1e-9,
                     atol=1e-11, t_eval=np.linspace(0.5, 3.0, 6))
    ref = si.solve_ivp(fun, (0.0, 3.0), np.array([1.0, 2.0]), args=(0.5,), rtol=1e-12,
                       atol=1e-12, t_eval=np.linspace(0.5, 3.0, 6))
    assert ours.y.shape == ref.y.shape == (2, 6) and ours.success
    np.testing.assert_allclose(ours.t, ref.t)
    np.testing.assert_allclose(ours.y, ref.y, rtol=1e-8)
    free = solve_ivp(fun, (0.0, 3.0), np.array([1.0, 2.0]), args=(0.5,))  # scipy's tolerances
    assert free.t[0] == 0.0 and free.t[-1] == 3.0 and free.y.shape == (2, free.t.size)
    assert free.nfev > 0 and 3 <= free.t.size < 40


def test_solve_ivp_gradients() -> None:
    def fun(t, y, a):
        return -a * y

    for t_eval in (np.array([0.5, 1.0]), None):
        for adjoint in (True, False):
            def L(a):
                r = solve_ivp(fun, (0.0, 1.0), np.array([1.0, 2.0]), args=(a,), rtol=1e-9,
                              atol=1e-11, t_eval=t_eval, adjoint=adjoint)
                return np.sum(r.y[:, -1])

            assert abs(cr.grad(L)(0.5) - (-3 * np.exp(-0.5))) < 1e-7


def test_refusals_name_the_function() -> None:
    def wrong_shape(y, t):
        return np.concatenate([y, y])

    with pytest.raises(cr.ShapeError, match=r"odeint\(wrong_shape\).*shape \(4,\)"):
        odeint(wrong_shape, Y0, T)
    with pytest.raises(ValueError, match=r"odeint\(decay\).*strictly"):
        odeint(decay, Y0, np.array([0.0, 1.0, 0.5]), 1.0)
    with pytest.raises(cr.ShapeError, match=r"odeint\(decay\): t must be a 1-D"):
        odeint(decay, Y0, np.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"odeint\(decay\).*method='euler'"):
        odeint(decay, Y0, T, 1.0, method="euler")
    with pytest.raises(ValueError, match=r"solve_ivp\(<lambda>\).*'Radau'"):
        solve_ivp(lambda t, y: -y, (0, 1), Y0, method="Radau")
    with pytest.raises(cr.ShapeError, match=r"solve_ivp\(<lambda>\).*1-dimensional"):
        solve_ivp(lambda t, y: -y, (0, 1), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"t_eval must lie within t_span"):
        solve_ivp(lambda t, y: -y, (0, 1), Y0, t_eval=np.array([0.5, 2.0]))

    with pytest.raises(TypeError, match=r"odeint\(decay\): y0 is complex"):
        odeint(decay, Y0 + 1j, T, 1.0)

    k = cr.tensor(0.5, requires_grad=True)

    def closes_over(y, t):
        return -k * y

    with pytest.raises(cr.GradientError, match=r"odeint\(closes_over\).*Pass it as a param"):
        odeint(closes_over, Y0, T)
    with cr.no_grad():  # nothing is differentiated: the closure is just a value
        np.testing.assert_allclose(odeint(closes_over, Y0, T)[-1], Y0 * np.exp(-1.0), rtol=1e-6)
    # a vector atol is per component of y (the adjoint's augmented state uses its smallest)
    g = cr.grad(lambda a: np.sum(odeint(decay, Y0, T, a, atol=np.array([1e-10, 1e-9]))[-1]))(0.7)
    assert abs(g - (-2.0 * 3 * np.exp(-1.4))) < 1e-6

    def blows_up(y, t):
        return y ** 2

    with pytest.raises(ConvergenceError, match=r"odeint\(blows_up\)"):
        odeint(blows_up, np.array([1.0]), np.array([0.0, 2.0]))
