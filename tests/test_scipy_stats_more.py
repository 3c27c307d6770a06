"""cr.scipy.stats, the distributions beyond the first eight (the rest of jax.scipy.stats):
values against SciPy (inside and outside the support), derivatives in x and in the
continuous parameters against central differences (reverse and forward mode), and values
and gradients against jax.scipy.stats."""

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
K1 = np.array([1.0, 2.0, 3.0, 5.0, 8.0])
B01 = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
PAR = np.array([1.5, 2.0, 3.1, 4.5, 9.0])
UNI = np.array([0.4, 1.0, 1.9, 2.5, 3.2])
LS = (0.3, 1.7)
ALL = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")


def _cases() -> list:
    c = []
    for m in ALL + ("ppf", "isf"):
        c.append(("cauchy", m, UNIT if m in ("ppf", "isf") else X, LS))
    for m in ALL:
        c.append(("chi2", m, POS, (3.5, 0.1, 1.3)))
    for m in ALL + ("ppf",):
        c.append(("expon", m, UNIT if m == "ppf" else POS, (0.1, 1.3)))
    for m in ("logpdf", "pdf", "cdf"):
        c.append(("gennorm", m, X, (1.7, 0.3, 1.4)))
        c.append(("laplace", m, X, LS))
    for d in ("gumbel_l", "gumbel_r"):
        for m in ALL + ("ppf",):
            c.append((d, m, UNIT if m == "ppf" else X, LS))
    for m in ALL + ("ppf", "isf"):
        c.append(("logistic", m, UNIT if m in ("ppf", "isf") else X, LS))
    for m in ALL + ("ppf",):
        c.append(("pareto", m, UNIT if m == "ppf" else PAR, (2.5, 0.1, 1.2)))
    for m in ALL:
        c.append(("truncnorm", m, X, (-1.2, 1.9, 0.3, 1.7)))           # around 0
        c.append(("truncnorm", m, 0.3 + 1.7 * np.array([0.6, 1.0, 2.0, 2.9]),
                  (0.5, 3.0, 0.3, 1.7)))                                 # the right tail
        c.append(("truncnorm", m, -np.array([1.1, 1.5, 2.5, 3.9]),
                  (-4.0, -1.0)))                                         # the left tail
    for m in ("logpdf", "pdf", "cdf", "ppf"):
        c.append(("uniform", m, UNIT if m == "ppf" else UNI, (0.3, 3.1)))
    for m in ("logpdf", "pdf"):
        c.append(("vonmises", m, X, (2.3, 0.3, 1.1)))
        c.append(("wrapcauchy", m, POS, (0.4, 0.1, 1.0)))
    c.append(("norm", "isf", UNIT, LS))
    for m in ("logpmf", "pmf", "cdf"):
        c.append(("bernoulli", m, B01, (0.35,)))
    c.append(("bernoulli", "ppf", UNIT, (0.35,)))
    for m in ("logpmf", "pmf"):
        c.append(("betabinom", m, K, (9, 2.3, 1.7)))
        c.append(("geom", m, K1, (0.3,)))
        c.append(("nbinom", m, K, (3.5, 0.4)))
    return c


CASES = _cases()
# the continuous (differentiable) parameters; a cdf in a shape parameter whose derivative
# is an incomplete gamma function's in its parameter is not differentiated (see below)
DIFF_PARAMS = {
    ("chi2", None): (0, 1, 2), ("chi2", "cdf"): (1, 2), ("gennorm", None): (0, 1, 2),
    ("gennorm", "cdf"): (1, 2), ("pareto", None): (0, 1, 2), ("truncnorm", None): (0, 1, 2, 3),
    ("vonmises", None): (0, 1, 2), ("wrapcauchy", None): (0, 1, 2),
    ("bernoulli", None): (0,), ("betabinom", None): (1, 2), ("geom", None): (0,),
    ("nbinom", None): (0, 1),
}
DISCRETE = {"bernoulli", "betabinom", "geom", "nbinom"}


def _diff_params(dist: str, method: str, params: tuple) -> tuple:
    key = "cdf" if method in ("cdf", "logcdf", "sf", "logsf") else None
    default = DIFF_PARAMS.get((dist, None), tuple(range(len(params))))
    which = DIFF_PARAMS.get((dist, key), default)
    return tuple(i for i in which if i < len(params))


def _ids(cases: list) -> list:
    return [f"{d}.{m}-{i}" for i, (d, m, _, _) in enumerate(cases)]


@pytest.mark.parametrize("dist,method,x,params", CASES, ids=_ids(CASES))
def test_values_equal_scipys(dist: str, method: str, x: np.ndarray, params: tuple) -> None:
    ours = getattr(getattr(stats, dist), method)(x, *params)
    ref = getattr(getattr(scipy_stats, dist), method)(x, *params)
    assert isinstance(ours, np.ndarray) and not isinstance(ours, cr.Tensor)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)
    # on Tensors: the same values, a Tensor result
    tx = x if dist in DISCRETE else cr.tensor(x)
    which = _diff_params(dist, "logpdf", params)
    tp = [cr.tensor(float(p)) if i in which else p for i, p in enumerate(params)]
    tv = getattr(getattr(stats, dist), method)(tx, *tp)
    assert isinstance(tv, cr.Tensor)
    np.testing.assert_allclose(np.asarray(tv.detach()._value), ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("dist,method,x,params", CASES, ids=_ids(CASES))
def test_derivatives_match_central_differences(dist: str, method: str, x: np.ndarray,
                                               params: tuple) -> None:
    """In x (continuous distributions) and in every continuous parameter, reverse and
    forward mode (second order for the densities)."""
    params = tuple(float(p) for p in params)
    which = _diff_params(dist, method, params)
    argnums = ([] if dist in DISCRETE else [0]) + [1 + i for i in which]

    def f(x, *ps):
        return getattr(getattr(stats, dist), method)(x, *ps)

    order = 2 if method in ("logpdf", "logpmf") else 1
    rep = cr.gradcheck(f, x, *params, argnums=argnums, order=order, full_max=0)
    assert rep, str(rep)


def test_outside_the_support() -> None:
    """SciPy's values outside the support (-inf, 0, 1); finite gradients there, 0 where
    the value is a constant."""
    xs = np.array([-0.5, 0.05, 0.5, 2.0, 7.0])
    cases = [
        ("chi2", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), xs, (3.0, 0.1)),
        ("expon", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), xs, (0.1,)),
        ("pareto", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), xs + 0.5, (2.5,)),
        ("truncnorm", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), xs, (-0.2, 1.5)),
        ("uniform", ("logpdf", "pdf", "cdf"), xs, (0.0, 1.0)),
        ("wrapcauchy", ("logpdf", "pdf"), np.array([-1.0, 0.5, 6.0, 6.5]), (0.3,)),
        ("bernoulli", ("logpmf", "pmf", "cdf"), np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), (0.3,)),
        ("betabinom", ("logpmf", "pmf"), np.array([-1.0, 2.0, 2.5, 10.0, 11.0]),
         (10, 2.0, 3.0)),
        ("geom", ("logpmf", "pmf"), np.array([0.0, 1.0, 2.5, 3.0]), (0.3,)),
        ("nbinom", ("logpmf", "pmf"), np.array([-1.0, 0.0, 2.5, 3.0]), (2.5, 0.4)),
    ]
    for dist, methods, x, params in cases:
        for m in methods:
            ours = getattr(getattr(stats, dist), m)(x, *params)
            ref = getattr(getattr(scipy_stats, dist), m)(x, *params)
            np.testing.assert_allclose(ours, ref, rtol=1e-12, err_msg=f"{dist}.{m}")
    # a 0 gradient where the value is a constant, finite everywhere
    for dist, m, params in [("expon", "cdf", (0.1,)), ("pareto", "sf", (2.5,)),
                            ("truncnorm", "cdf", (-0.2, 1.5)), ("uniform", "cdf", (0.0, 1.0)),
                            ("chi2", "cdf", (3.0, 0.1))]:
        g = cr.elementwise_grad(lambda x: getattr(getattr(stats, dist), m)(x, *params))(xs)
        assert np.isfinite(g).all() and g[0] == 0.0, (dist, m, g)
    g = cr.elementwise_grad(lambda x: stats.uniform.cdf(x, 0.0, 2.0))(xs)
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5, 0.5, 0.0])  # 2.0: the closed end
    g = cr.grad(lambda p: np.sum(stats.bernoulli.cdf([-1.0, 0.0, 0.5, 1.0, 2.0], p)))(0.3)
    assert g == -2.0  # 1 - p at k = 0 and 0.5 only
    # a quantile outside [0, 1] is NaN, as SciPy's
    for dist, params in [("cauchy", ()), ("expon", ()), ("gumbel_r", ()), ("pareto", (2.0,)),
                         ("uniform", ()), ("bernoulli", (0.3,))]:
        q = np.array([-0.1, 0.0, 0.5, 1.0, 1.1])
        np.testing.assert_allclose(getattr(stats, dist).ppf(q, *params),
                                   getattr(scipy_stats, dist).ppf(q, *params), rtol=1e-12,
                                   err_msg=dist)


def test_known_derivatives() -> None:
    """A cdf's derivative in x is the density; the quantile function's is its reciprocal;
    the Bernoulli quantile is a step function (a zero derivative)."""
    for dist, x, params in [("cauchy", X, LS), ("gumbel_r", X, LS), ("gumbel_l", X, LS),
                            ("logistic", X, LS), ("laplace", X, LS), ("expon", POS, (0.1, 1.3)),
                            ("chi2", POS, (3.5,)), ("pareto", PAR, (2.5, 0.1, 1.2)),
                            ("gennorm", X, (1.7, 0.3, 1.4)),
                            ("truncnorm", X, (-1.2, 1.9, 0.3, 1.7))]:
        d = getattr(stats, dist)
        g = cr.elementwise_grad(lambda x: d.cdf(x, *params))(x)
        np.testing.assert_allclose(g, getattr(scipy_stats, dist).pdf(x, *params), rtol=1e-11,
                                   err_msg=dist)
    for dist, params in [("cauchy", LS), ("logistic", LS), ("expon", (0.1, 1.3)),
                         ("gumbel_r", LS), ("pareto", (2.5, 0.1, 1.2)), ("norm", LS)]:
        d, ref = getattr(stats, dist), getattr(scipy_stats, dist)
        g = cr.elementwise_grad(lambda q: d.ppf(q, *params))(UNIT)
        np.testing.assert_allclose(g, 1 / ref.pdf(ref.ppf(UNIT, *params), *params),
                                   rtol=1e-10, err_msg=dist)
    # cauchy.ppf at one half: exactly loc, slope pi scale
    v, g = cr.value_and_grad(lambda q: stats.cauchy.ppf(q, 0.3, 1.7))(0.5)
    assert v == 0.3 and np.isclose(g, np.pi * 1.7, rtol=1e-12)
    g = cr.elementwise_grad(lambda q: stats.bernoulli.ppf(q, 0.35))(UNIT)
    np.testing.assert_array_equal(g, 0.0)
    # the truncated normal in its bounds: d/db logpdf = -phi(b) / (Phi(b) - Phi(a))
    g = cr.grad(lambda b: stats.truncnorm.logpdf(0.1, -1.0, b))(1.5)
    sn = scipy_stats.norm
    np.testing.assert_allclose(g, -sn.pdf(1.5) / (sn.cdf(1.5) - sn.cdf(-1.0)), rtol=1e-12)


def test_cdf_in_a_shape_parameter_says_it_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="gammainc.*respect to a"):
        cr.grad(lambda df: stats.chi2.cdf(0.7, df))(2.0)
    with pytest.raises(NotImplementedError, match="gammaincc.*respect to a"):
        cr.grad(lambda b: stats.gennorm.cdf(0.7, b))(1.5)
    with pytest.raises(NotImplementedError, match="gammaincc.*respect to a"):
        cr.jvp(lambda df: stats.chi2.sf(0.7, df), (2.0,), (1.0,))


P3 = np.array([0.2, 0.3, 0.5])
COUNTS = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0], [2.0, 2.0, 2.0], [1.0, 2.0, 2.0],
                   [1.5, 1.5, 3.0]])


def test_multinomial() -> None:
    np.testing.assert_allclose(stats.multinomial.logpmf(COUNTS, 6, P3),
                               scipy_stats.multinomial.logpmf(COUNTS, 6, P3), rtol=1e-12)
    np.testing.assert_allclose(stats.multinomial.pmf(COUNTS, 6, P3),
                               scipy_stats.multinomial.pmf(COUNTS, 6, P3), rtol=1e-12)
    v = stats.multinomial.logpmf(COUNTS[0], 6, P3)
    assert isinstance(v, np.floating) and np.isclose(
        v, scipy_stats.multinomial.logpmf(COUNTS[0], 6, P3), rtol=1e-13)
    # a batch of n and p
    ps = np.array([P3, [0.1, 0.6, 0.3]])
    np.testing.assert_allclose(stats.multinomial.logpmf(COUNTS[:2], [6, 6], ps),
                               scipy_stats.multinomial.logpmf(COUNTS[:2], [6, 6], ps),
                               rtol=1e-12)
    # d/dp_i sum log pmf = sum x_i / p_i (p as given); central differences, both modes
    g = cr.grad(lambda p: np.sum(stats.multinomial.logpmf(COUNTS[:3], 6, p)))(P3)
    np.testing.assert_allclose(g, np.sum(COUNTS[:3], axis=0) / P3, rtol=1e-13)
    assert cr.gradcheck(lambda p: stats.multinomial.logpmf(COUNTS[:3], 6, p), P3, order=2)
    assert cr.gradcheck(lambda p: stats.multinomial.pmf(COUNTS[:3], 6, p), P3)


def test_frozen_and_array_likes() -> None:
    np.testing.assert_allclose(stats.cauchy(0.5, 2.0).logcdf(X),
                               scipy_stats.cauchy(0.5, 2.0).logcdf(X), rtol=1e-13)
    np.testing.assert_allclose(stats.truncnorm(-1, 2).pdf([0.0, 1.0]),
                               scipy_stats.truncnorm(-1, 2).pdf([0.0, 1.0]), rtol=1e-13)
    # scalars in, NumPy scalars out (as SciPy's), inside and outside the support
    for dist, m, x, params in [("expon", "sf", -0.5, ()), ("uniform", "cdf", 0.5, ()),
                               ("truncnorm", "logcdf", 3.0, (-1.0, 1.0)),
                               ("laplace", "cdf", 0.2, ()), ("gamma", "logpdf", -1.0, (2.0,))]:
        v = getattr(getattr(stats, dist), m)(x, *params)
        assert isinstance(v, np.float64) and v == getattr(getattr(scipy_stats, dist), m)(
            x, *params), (dist, m)
    g = cr.grad(lambda s: np.sum(stats.laplace(scale=s).logpdf(X)))(1.5)
    np.testing.assert_allclose(g, np.sum(np.abs(X) / 1.5**2 - 1 / 1.5), rtol=1e-13)


# ---------------------------------------------------------------------------------
# against jax.scipy.stats


def _jax():
    jax = pytest.importorskip("jax")
    pytest.importorskip("jaxshim")  # (sets jax_enable_x64 and the compilation cache)
    return jax


JAX_CASES = [
    ("cauchy", "logpdf", X, LS), ("cauchy", "logcdf", X, LS), ("cauchy", "isf", UNIT, LS),
    ("chi2", "logpdf", POS, (3.5, 0.1, 1.3)), ("chi2", "sf", POS, (3.5, 0.1, 1.3)),
    ("expon", "logsf", POS, (0.1, 1.3)), ("expon", "logcdf", POS, (0.1, 1.3)),
    ("gennorm", "logpdf", X, (1.7,)),  # (no loc, scale in JAX)
    # (JAX 0.10's gumbel_l.ppf, gumbel_r.ppf have no gradient in q: a float0 error)
    ("gumbel_l", "logcdf", X, LS), ("gumbel_r", "logsf", X, LS),
    ("laplace", "cdf", X, LS), ("logistic", "logpdf", X, LS), ("logistic", "ppf", UNIT, LS),
    ("pareto", "logpdf", PAR, (2.5, 0.1, 1.2)), ("pareto", "logcdf", PAR, (2.5, 0.1, 1.2)),
    ("truncnorm", "logpdf", X, (-1.2, 1.9, 0.3, 1.7)),
    ("truncnorm", "logcdf", X, (-1.2, 1.9, 0.3, 1.7)),
    ("truncnorm", "logsf", X, (-1.2, 1.9, 0.3, 1.7)),
    ("uniform", "cdf", UNI, (0.3, 3.1)), ("vonmises", "logpdf", X, (2.3,)),
    ("wrapcauchy", "logpdf", POS, (0.4,)),  # (JAX's two have no loc, scale) ("norm", "isf", UNIT, LS),
    ("bernoulli", "logpmf", B01, (0.35,)), ("betabinom", "logpmf", K, (9.0, 2.3, 1.7)),
    ("geom", "logpmf", K1, (0.3,)), ("nbinom", "logpmf", K, (3.5, 0.4)),
]


def test_against_jax_scipy_stats() -> None:
    """Values and gradients (in x and every continuous parameter) of the sum."""
    jax = _jax()
    import jax.numpy as jnp
    import jax.scipy.stats as jst

    for dist, method, x, params in JAX_CASES:
        f = getattr(getattr(stats, dist), method)
        fj = getattr(getattr(jst, dist), method)
        args = (x,) + tuple(float(p) for p in params)
        which = _diff_params(dist, method, params)
        argnums = tuple(([] if dist in DISCRETE else [0]) + [1 + i for i in which])
        vj, gj = jax.jit(jax.value_and_grad(lambda *a: jnp.sum(fj(*a)), argnums=argnums))(*args)
        vo, go = cr.value_and_grad(lambda *a: np.sum(f(*a)), argnums=argnums)(*args)
        # (JAX's betabinom is accurate to ~1e-8 only: SciPy's value, ours, is checked above)
        tol = 1e-7 if dist == "betabinom" else 1e-10
        np.testing.assert_allclose(vo, vj, rtol=tol, err_msg=f"{dist}.{method}")
        for i, o, t in zip(argnums, go, gj):
            np.testing.assert_allclose(o, t, rtol=tol * 10, atol=1e-12,
                                       err_msg=f"{dist}.{method} argument {i}")
    # multinomial (p as given) and bernoulli's cdf and ppf (values)
    vo, go = cr.value_and_grad(lambda p: np.sum(stats.multinomial.logpmf(COUNTS[:3], 6, p)))(P3)
    counts = COUNTS[:3].astype(int)  # (JAX's takes integer counts only, one row at a time)
    vj, gj = jax.value_and_grad(lambda p: sum(jst.multinomial.logpmf(c, 6, p)
                                              for c in counts))(P3)
    np.testing.assert_allclose(vo, vj, rtol=1e-12)
    np.testing.assert_allclose(go, gj, rtol=1e-12)
    np.testing.assert_allclose(stats.bernoulli.cdf(B01, 0.35), jst.bernoulli.cdf(B01, 0.35),
                               rtol=1e-12)
    np.testing.assert_array_equal(stats.bernoulli.ppf(UNIT, 0.35), jst.bernoulli.ppf(UNIT, 0.35))


def test_compiled_with_the_support_decided_at_run_time() -> None:
    """cr.compile traces the support masks (comparisons of the arguments), so a compiled
    gradient agrees with the eager one for inputs inside and outside the support."""
    def safe(v):
        return np.where(np.isfinite(v), v, 0.0)

    for dist, method, x, params in [
            ("gamma", "logpdf", POS, (2.5,)), ("beta", "cdf", UNIT, (2.0, 3.0)),
            ("expon", "logsf", POS, ()), ("pareto", "logcdf", PAR, (2.5,)),
            ("truncnorm", "logcdf", X / 2, (-0.5, 0.8)), ("uniform", "cdf", UNIT, (0.2, 0.5)),
            ("cauchy", "ppf", UNIT, ())]:
        d = getattr(stats, dist)

        def f(x):
            return np.sum(safe(getattr(d, method)(x, *params)))

        g = cr.compile(cr.grad(f))
        for inp in (x, 1.1 * x - 0.2, -x):
            with np.errstate(all="ignore"):
                np.testing.assert_allclose(g(inp), cr.grad(f)(inp), rtol=1e-12, atol=1e-15,
                                           err_msg=f"{dist}.{method}")
