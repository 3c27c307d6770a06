"""cr.scipy.stats: values against SciPy; derivatives in x and in the parameters against
central differences (reverse and forward mode, first and second order); values and
gradients against jax.scipy.stats and autograd.scipy.stats; the hierarchical model's
log-density (eight schools, non-centred) of docs/science.md."""

from __future__ import annotations

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats")

import chainrule as cr  # noqa: E402
from chainrule.scipy import stats  # noqa: E402

X = np.array([-1.7, -0.4, 0.2, 0.9, 2.3])
POS = np.array([0.15, 0.6, 1.3, 2.2, 4.1])
UNIT = np.array([0.05, 0.3, 0.5, 0.72, 0.93])
K = np.array([0.0, 1.0, 3.0, 4.0, 7.0])

# (distribution name, method, x, parameters): SciPy's signature, positional
CASES = [
    ("norm", "logpdf", X, (0.3, 1.7)), ("norm", "pdf", X, (0.3, 1.7)),
    ("norm", "cdf", X, (0.3, 1.7)), ("norm", "logcdf", X, (0.3, 1.7)),
    ("norm", "sf", X, (0.3, 1.7)), ("norm", "logsf", X, (0.3, 1.7)),
    ("norm", "ppf", UNIT, (0.3, 1.7)),
    ("t", "logpdf", X, (3.5, 0.3, 1.7)), ("t", "pdf", X, (3.5, 0.3, 1.7)),
    ("t", "cdf", X, (3.5, 0.3, 1.7)), ("t", "logcdf", X, (3.5, 0.3, 1.7)),
    ("t", "sf", X, (3.5, 0.3, 1.7)), ("t", "logsf", X, (3.5, 0.3, 1.7)),
    ("gamma", "logpdf", POS, (2.5, 0.1, 1.3)), ("gamma", "pdf", POS, (2.5, 0.1, 1.3)),
    ("gamma", "cdf", POS, (2.5, 0.1, 1.3)), ("gamma", "logcdf", POS, (2.5, 0.1, 1.3)),
    ("gamma", "sf", POS, (2.5, 0.1, 1.3)), ("gamma", "logsf", POS, (2.5, 0.1, 1.3)),
    ("beta", "logpdf", UNIT, (2.2, 3.1)), ("beta", "pdf", UNIT, (2.2, 3.1)),
    ("beta", "cdf", UNIT, (2.2, 3.1)), ("beta", "logcdf", UNIT, (2.2, 3.1)),
    ("beta", "sf", UNIT, (2.2, 3.1)), ("beta", "logsf", UNIT, (2.2, 3.1)),
    ("poisson", "logpmf", K, (2.7,)), ("poisson", "pmf", K, (2.7,)),
    ("poisson", "cdf", K, (2.7,)), ("poisson", "logcdf", K, (2.7,)),
    ("poisson", "sf", K, (2.7,)),
    ("binom", "logpmf", K, (9, 0.35)), ("binom", "pmf", K, (9, 0.35)),
    ("binom", "cdf", K, (9, 0.35)), ("binom", "logcdf", K, (9, 0.35)),
]
# which parameter positions are continuous (differentiable) for each distribution; a cdf's
# derivative in a shape parameter is not implemented (see test_cdf_in_a_shape_parameter...)
DIFF_PARAMS = {
    ("norm", None): (0, 1), ("t", None): (0, 1, 2), ("t", "cdf"): (1, 2),
    ("gamma", None): (0, 1, 2), ("gamma", "cdf"): (1, 2), ("beta", None): (0, 1),
    ("beta", "cdf"): (), ("poisson", None): (0,), ("binom", None): (1,),
}
DISCRETE = {"poisson", "binom"}


def _ids(cases: list) -> list:
    return [f"{d}.{m}" for d, m, _, _ in cases]


def _diff_params(dist: str, method: str) -> tuple:
    key = "cdf" if method in ("cdf", "logcdf", "sf", "logsf") else None
    return DIFF_PARAMS.get((dist, key), DIFF_PARAMS[(dist, None)])


@pytest.mark.parametrize("dist,method,x,params", CASES, ids=_ids(CASES))
def test_values_equal_scipys(dist: str, method: str, x: np.ndarray, params: tuple) -> None:
    ours = getattr(getattr(stats, dist), method)(x, *params)
    ref = getattr(getattr(scipy_stats, dist), method)(x, *params)
    assert isinstance(ours, np.ndarray) and not isinstance(ours, cr.Tensor)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)
    # on Tensors (x, and the continuous parameters): the same values, a Tensor result
    tx = x if dist in DISCRETE else cr.tensor(x)
    which = DIFF_PARAMS[(dist, None)]
    tp = [cr.tensor(float(p)) if i in which else p for i, p in enumerate(params)]
    tv = getattr(getattr(stats, dist), method)(tx, *tp)
    assert isinstance(tv, cr.Tensor)
    np.testing.assert_allclose(np.asarray(tv.detach()._value), ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dist,method,x,params", CASES, ids=_ids(CASES))
def test_derivatives_match_central_differences(dist: str, method: str, x: np.ndarray,
                                               params: tuple) -> None:
    """In x (continuous distributions) and in every continuous parameter, reverse and
    forward mode, to second order."""
    params = tuple(float(p) for p in params)
    which = _diff_params(dist, method)
    argnums = ([] if dist in DISCRETE else [0]) + [1 + i for i in which]
    if not argnums:
        return

    def f(x, *ps):
        return getattr(getattr(stats, dist), method)(x, *ps)

    rep = cr.gradcheck(f, x, *params, argnums=argnums, order=2, full_max=0)
    assert rep, str(rep)


def test_gradient_of_logpdf_is_the_known_formula() -> None:
    """d/dmu log N(x; mu, s) = (x - mu) / s^2, d/ds = ((x - mu)^2 / s^2 - 1) / s."""
    mu, s = 0.4, 1.6
    gmu, gs = cr.grad(lambda m, sc: np.sum(stats.norm.logpdf(X, m, sc)), argnums=(0, 1))(mu, s)
    np.testing.assert_allclose(gmu, np.sum(X - mu) / s**2, rtol=1e-13)
    np.testing.assert_allclose(gs, np.sum(((X - mu) ** 2 / s**2 - 1) / s), rtol=1e-13)
    # the cdf's derivative in x is the density
    g = cr.elementwise_grad(lambda x: stats.t.cdf(x, 4.0, 0.2, 1.5))(X)
    np.testing.assert_allclose(g, scipy_stats.t.pdf(X, 4.0, 0.2, 1.5), rtol=1e-12)
    # the Poisson cdf in mu: -pmf(k)
    g = cr.elementwise_grad(lambda mu: stats.poisson.cdf(K, mu))(np.full(5, 2.7))
    np.testing.assert_allclose(g, -scipy_stats.poisson.pmf(K, 2.7), rtol=1e-12)


def test_outside_the_support() -> None:
    """-inf (log) and 0 outside the support, as SciPy; finite (zero) gradients there."""
    x = np.array([-0.5, 0.5, 1.5])
    for ours, ref in [
        (stats.gamma.logpdf(x, 2.0), scipy_stats.gamma.logpdf(x, 2.0)),
        (stats.gamma.cdf(x, 2.0), scipy_stats.gamma.cdf(x, 2.0)),
        (stats.beta.logpdf(x, 2.0, 3.0), scipy_stats.beta.logpdf(x, 2.0, 3.0)),
        (stats.beta.cdf(x, 2.0, 3.0), scipy_stats.beta.cdf(x, 2.0, 3.0)),
        (stats.beta.sf(x, 2.0, 3.0), scipy_stats.beta.sf(x, 2.0, 3.0)),
        (stats.beta.sf(x[1:], 2.0, 3.0), scipy_stats.beta.sf(x[1:], 2.0, 3.0)),
        (stats.beta.cdf(x[1:], 2.0, 3.0), scipy_stats.beta.cdf(x[1:], 2.0, 3.0)),
        (stats.binom.cdf([3, 12], 10, 0.3), scipy_stats.binom.cdf([3, 12], 10, 0.3)),
        (stats.poisson.logpmf([-1.0, 2.5, 2.0], 3.0),
         scipy_stats.poisson.logpmf([-1.0, 2.5, 2.0], 3.0)),
        (stats.binom.logpmf([-1, 3, 12], 10, 0.3), scipy_stats.binom.logpmf([-1, 3, 12], 10, 0.3)),
        (stats.binom.cdf([-1, 3, 12], 10, 0.3), scipy_stats.binom.cdf([-1, 3, 12], 10, 0.3)),
    ]:
        np.testing.assert_allclose(ours, ref, rtol=1e-12)
    g = cr.elementwise_grad(lambda x: stats.gamma.cdf(x, 2.0))(x)
    assert g[0] == 0.0 and np.isfinite(g).all() and g[1] > 0
    g = cr.grad(lambda a: np.sum(np.where(np.isfinite(stats.gamma.logpdf(x, a)),
                                          stats.gamma.logpdf(x, a), 0.0)))(2.0)
    assert np.isfinite(g)


def test_cdf_in_a_shape_parameter_says_it_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="shape parameter"):
        cr.grad(lambda df: stats.t.cdf(0.3, df))(3.0)
    with pytest.raises(NotImplementedError, match="df"):
        cr.jvp(lambda df: stats.t.cdf(0.3, df), (3.0,), (1.0,))
    with pytest.raises(NotImplementedError, match="gammainc.*respect to a"):
        cr.grad(lambda a: stats.gamma.cdf(0.7, a))(2.0)
    with pytest.raises(NotImplementedError, match="betainc.*respect to b"):
        cr.grad(lambda b: stats.beta.cdf(0.7, 2.0, b))(2.0)


def test_array_likes() -> None:
    """Lists and scalars, as SciPy takes them; a list holding Tensors is differentiable."""
    np.testing.assert_allclose(stats.norm.logpdf([1, 2], 0, [1, 2]),
                               scipy_stats.norm.logpdf([1, 2], 0, [1, 2]), rtol=1e-14)
    np.testing.assert_allclose(stats.multivariate_normal.logpdf([[0.0, 1], [1, 1]], [0, 0],
                                                                [[2, 0.1], [0.1, 1]]),
                               scipy_stats.multivariate_normal.logpdf(
                                   [[0.0, 1], [1, 1]], [0, 0], [[2, 0.1], [0.1, 1]]),
                               rtol=1e-13)
    assert isinstance(stats.poisson.pmf(3, 2.0), np.floating)
    g = cr.grad(lambda m: np.sum(stats.norm.logpdf([1.0, 2.0], [m, 2 * m])))(0.5)
    np.testing.assert_allclose(g, (1 - 0.5) + 2 * (2 - 2 * 0.5), rtol=1e-14)


def test_frozen_distributions() -> None:
    d = stats.norm(0.5, 2.0)
    np.testing.assert_allclose(d.logpdf(X), scipy_stats.norm(0.5, 2.0).logpdf(X), rtol=1e-13)
    g = cr.grad(lambda s: np.sum(stats.gamma(2.0, scale=s).logpdf(POS)))(1.5)
    np.testing.assert_allclose(g, np.sum(POS / 1.5**2 - 2.0 / 1.5), rtol=1e-12)


# ---------------------------------------------------------------------------------
# multivariate

ALPHA = np.array([1.5, 2.0, 3.5])
SIMPLEX = np.array([[0.2, 0.5, 0.1], [0.3, 0.2, 0.6], [0.5, 0.3, 0.3]])  # columns sum to 1
MEAN = np.array([0.3, -0.5, 1.0])
B = np.array([[1.0, 0.2, 0.0], [0.3, 1.2, 0.1], [-0.2, 0.4, 0.9]])
COV = B @ B.T + 0.5 * np.eye(3)
XS = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5], [-0.3, 0.0, 2.0], [0.0, 0.0, 0.0]])


def test_dirichlet_values_and_derivatives() -> None:
    np.testing.assert_allclose(stats.dirichlet.logpdf(SIMPLEX, ALPHA),
                               scipy_stats.dirichlet.logpdf(SIMPLEX, ALPHA), rtol=1e-12)
    np.testing.assert_allclose(stats.dirichlet.pdf(SIMPLEX[:, 0], ALPHA),
                               scipy_stats.dirichlet.pdf(SIMPLEX[:, 0], ALPHA), rtol=1e-12)
    # K - 1 components: the last is 1 - their sum (SciPy's rule)
    np.testing.assert_allclose(stats.dirichlet.logpdf(SIMPLEX[:2], ALPHA),
                               scipy_stats.dirichlet.logpdf(SIMPLEX[:2], ALPHA), rtol=1e-12)
    assert cr.gradcheck(lambda a: stats.dirichlet.logpdf(SIMPLEX, a), ALPHA, order=2)
    assert cr.gradcheck(lambda x: stats.dirichlet.logpdf(x, ALPHA), SIMPLEX[:2], order=2)


def test_multivariate_normal_values_and_derivatives() -> None:
    for x in (XS, XS[1]):
        np.testing.assert_allclose(stats.multivariate_normal.logpdf(x, MEAN, COV),
                                   scipy_stats.multivariate_normal.logpdf(x, MEAN, COV),
                                   rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.pdf(XS, MEAN, COV),
                               scipy_stats.multivariate_normal.pdf(XS, MEAN, COV), rtol=1e-12)
    # scalar and diagonal covariances, no mean, 1-D
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(XS, MEAN, 2.0),
                               scipy_stats.multivariate_normal.logpdf(XS, MEAN, 2.0), rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(X, cov=2.0),
                               scipy_stats.multivariate_normal.logpdf(X, cov=2.0), rtol=1e-12)
    np.testing.assert_allclose(
        stats.multivariate_normal.logpdf(XS, MEAN, np.array([1.0, 2.0, 0.5])),
        scipy_stats.multivariate_normal.logpdf(XS, MEAN, np.array([1.0, 2.0, 0.5])),
        rtol=1e-12)
    np.testing.assert_allclose(stats.multivariate_normal.logpdf(X, 0.2, 1.5),
                               scipy_stats.multivariate_normal.logpdf(X, 0.2, 1.5), rtol=1e-12)
    # in x, mean, and cov (parametrised symmetric: cov = S S^T + 0.5 I)
    assert cr.gradcheck(lambda x, m: stats.multivariate_normal.logpdf(x, m, COV), XS[:2],
                        MEAN, order=2, full_max=0)
    assert cr.gradcheck(lambda s: stats.multivariate_normal.logpdf(
        XS[:2], MEAN, s @ s.T + 0.5 * np.eye(3)), B, order=2, full_max=0)
    # the gradient in mean is cov^-1 (x - mean), summed
    g = cr.grad(lambda m: np.sum(stats.multivariate_normal.logpdf(XS, m, COV)))(MEAN)
    np.testing.assert_allclose(g, np.linalg.solve(COV, np.sum(XS - MEAN, axis=0)), rtol=1e-12)


# ---------------------------------------------------------------------------------
# the hierarchical model of docs/science.md: eight schools, non-centred

Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA8 = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_logp(mu, log_tau, eta, *, st=stats, xp=np):
    """log p(mu, log tau, eta | y) up to a constant: mu ~ t(3, 0, 10), tau ~ Gamma(2, scale
    5) (log tau's density: + log tau), eta ~ N(0, 1), theta = mu + tau eta,
    y ~ N(theta, sigma)."""
    tau = xp.exp(log_tau)
    theta = mu + tau * eta
    return (st.t.logpdf(mu, 3.0, 0.0, 10.0) + st.gamma.logpdf(tau, 2.0, 0.0, 5.0) + log_tau
            + xp.sum(st.norm.logpdf(eta, 0.0, 1.0))
            + xp.sum(st.norm.logpdf(Y8, theta, SIGMA8)))


ETA8 = np.array([0.3, -0.2, 0.5, 0.1, -0.7, 0.4, 0.9, -0.1])


def test_eight_schools_log_density() -> None:
    mu, log_tau = 4.0, np.log(3.0)
    v = eight_schools_logp(mu, log_tau, ETA8)
    ref = eight_schools_logp(mu, log_tau, ETA8, st=scipy_stats)
    np.testing.assert_allclose(v, ref, rtol=1e-13)
    # the gradient by hand: d/dmu = t-prior score + sum (y - theta) / sigma^2
    theta = mu + 3.0 * ETA8
    r = (Y8 - theta) / SIGMA8**2
    gmu = -(3.0 + 1.0) * mu / (3.0 * 100.0 + mu**2) + np.sum(r)
    geta = -ETA8 + 3.0 * r
    g = cr.grad(eight_schools_logp, argnums=(0, 1, 2))(mu, log_tau, ETA8)
    np.testing.assert_allclose(g[0], gmu, rtol=1e-12)
    np.testing.assert_allclose(g[2], geta, rtol=1e-12)
    # every argument, both modes, and the Hessian (second order)
    assert cr.gradcheck(eight_schools_logp, mu, log_tau, ETA8, order=2)
    H = cr.hessian(lambda z: eight_schools_logp(z[0], z[1], z[2:]))(
        np.concatenate([[mu, log_tau], ETA8]))
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(-H[2:, 2:]) > 0)  # the eta block is concave here


# ---------------------------------------------------------------------------------
# against JAX and autograd


def _jax():
    """JAX in double precision, its compilations cached on disk as in tests/jaxshim.py."""
    jax = pytest.importorskip("jax")
    pytest.importorskip("jaxshim")  # (sets jax_enable_x64 and the compilation cache)
    return jax


# the cdfs that JAX lacks a check for here are checked against SciPy's values, central
# differences and known formulas above (and norm.cdf against autograd below)
JAX_CASES = [
    ("norm", "logpdf", X, (0.3, 1.7), (0, 1, 2)), ("norm", "logcdf", X, (0.3, 1.7), (0, 1, 2)),
    ("t", "logpdf", X, (3.5, 0.3, 1.7), (0, 1, 2, 3)),
    ("gamma", "logpdf", POS, (2.5, 0.1, 1.3), (0, 1, 2, 3)),
    ("beta", "logpdf", UNIT, (2.2, 3.1), (0, 1, 2)),
    ("poisson", "logpmf", K, (2.7,), (1,)), ("binom", "logpmf", K, (9.0, 0.35), (2,)),
]


def test_against_jax_scipy_stats() -> None:
    jax = _jax()
    import jax.numpy as jnp
    import jax.scipy.stats as jst

    for dist, method, x, params, argnums in JAX_CASES:
        f = getattr(getattr(stats, dist), method)
        fj = getattr(getattr(jst, dist), method)
        args = (x,) + tuple(float(p) for p in params)
        # one compiled function per case (JAX op by op is slow)
        vj, gj = jax.jit(jax.value_and_grad(lambda *a: jnp.sum(fj(*a)), argnums=argnums))(*args)
        vo, go = cr.value_and_grad(lambda *a: np.sum(f(*a)), argnums=argnums)(*args)
        np.testing.assert_allclose(vo, vj, rtol=1e-10, err_msg=f"{dist}.{method}")
        for o, t in zip(go, gj):
            np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-12, err_msg=f"{dist}.{method}")
    # multivariate (the cov gradient compared by its symmetric part: both read a Cholesky
    # factor of a symmetric matrix, and only that part is the derivative)
    for ours, theirs, args in [
        (stats.dirichlet.logpdf, jst.dirichlet.logpdf, (SIMPLEX, ALPHA)),
        (stats.multivariate_normal.logpdf, jst.multivariate_normal.logpdf, (XS, MEAN, COV)),
    ]:
        n = len(args)
        vo, g1 = cr.value_and_grad(lambda *a: np.sum(ours(*a)), argnums=tuple(range(n)))(*args)
        vj, g2 = jax.jit(jax.value_and_grad(lambda *a: jnp.sum(theirs(*a)),
                                            argnums=tuple(range(n))))(*args)
        np.testing.assert_allclose(vo, vj, rtol=1e-10)
        for i, (o, t) in enumerate(zip(g1, g2)):
            t = np.asarray(t)
            if ours is stats.multivariate_normal.logpdf and i == 2:
                o, t = (o + o.T) / 2, (t + t.T) / 2
            np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-12)


def test_eight_schools_against_jax() -> None:
    jax = _jax()
    import jax.numpy as jnp
    import jax.scipy.stats as jst

    args = (4.0, np.log(3.0), ETA8)
    ours = cr.grad(eight_schools_logp, argnums=(0, 1, 2))(*args)

    def logp_jax(z):
        return eight_schools_logp(z[0], z[1], z[2:], st=jst, xp=jnp)

    z = np.concatenate([args[:2], ETA8])
    gj = jax.jit(jax.grad(logp_jax))(z)
    np.testing.assert_allclose(np.concatenate([[ours[0], ours[1]], ours[2]]), gj,
                               rtol=1e-11, atol=1e-13)
    Hj = jax.jit(jax.hessian(logp_jax))(z)
    H = cr.hessian(lambda z: eight_schools_logp(z[0], z[1], z[2:]))(z)
    np.testing.assert_allclose(H, Hj, rtol=1e-10, atol=1e-12)


def test_against_autograd_scipy_stats() -> None:
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    import autograd.scipy.stats as ast

    cases = [
        ("norm", "logpdf", (X, 0.3, 1.7), (0, 1, 2)), ("norm", "cdf", (X, 0.3, 1.7), (0, 1, 2)),
        ("t", "logpdf", (X, 3.5, 0.3, 1.7), (0, 1, 2, 3)),
        ("gamma", "logpdf", (POS, 2.5), (0, 1)), ("beta", "logpdf", (UNIT, 2.2, 3.1), (0, 1, 2)),
        ("poisson", "logpmf", (K, 2.7), (1,)),
    ]
    for dist, method, args, argnums in cases:
        f = getattr(getattr(stats, dist), method)
        fa = getattr(getattr(ast, dist), method)
        np.testing.assert_allclose(f(*args), fa(*args), rtol=1e-10, err_msg=f"{dist}.{method}")
        for i in argnums:
            o = cr.grad(lambda *a: np.sum(f(*a)), argnums=i)(*args)
            t = autograd.grad(lambda *a: anp.sum(fa(*a)), argnum=i)(*args)
            np.testing.assert_allclose(o, t, rtol=1e-9, err_msg=f"{dist}.{method} arg {i}")
    o = cr.grad(lambda m: np.sum(stats.multivariate_normal.logpdf(XS, m, COV)))(MEAN)
    t = autograd.grad(lambda m: anp.sum(ast.multivariate_normal.logpdf(XS, m, COV)))(MEAN)
    np.testing.assert_allclose(o, t, rtol=1e-10)
    o = cr.grad(lambda a: np.sum(stats.dirichlet.logpdf(SIMPLEX[:, 0], a)))(ALPHA)
    t = autograd.grad(lambda a: anp.sum(ast.dirichlet.logpdf(SIMPLEX[:, 0], a)))(ALPHA)
    np.testing.assert_allclose(o, t, rtol=1e-10)


def test_the_science_page_example_runs() -> None:
    """docs/science.md, section "cr.scipy: stats, linalg, signal": its code runs and asserts."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "science.md").read_text()
    section = text.split("\n## cr.scipy: stats, linalg, signal\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks and "eight" in section
    for code in blocks:
        exec(compile(code, "docs/science.md", "exec"), {})
