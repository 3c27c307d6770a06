"""``cr.scipy.stats``: SciPy's distributions as differentiable functions of chainrule Tensors.

    import chainrule as cr
    from chainrule.scipy import stats
    cr.grad(lambda mu: stats.norm.logpdf(1.5, loc=mu, scale=2.0).sum())(0.3)

Each density, mass and distribution function is a composition of chainrule operations
(``np.*`` on Tensors and the special functions below), so every order of derivative, in
reverse and forward mode, follows from the rules of those operations, and the derivative
holds in the distribution's parameters as well as in ``x``.  The signatures are SciPy's
(``norm.logpdf(x, loc=0, scale=1)``, ``t.cdf(x, df, loc=0, scale=1)`` ...); plain NumPy
arguments give plain NumPy results.  A distribution called with its parameters is frozen,
as in SciPy: ``stats.norm(0.0, 2.0).logpdf(x)``.

Where a derivative is not implemented (a cdf in a shape parameter: ``t.cdf`` in ``df``,
``gamma.cdf`` in ``a``, ``beta.cdf`` in ``a``/``b``, ``chi2.cdf`` in ``df``, ``gennorm.cdf``
in ``beta`` -- the derivative of an incomplete gamma or beta function in its parameters),
differentiating raises NotImplementedError saying so; the value itself is always SciPy's.

The distributions: norm, t, gamma, beta, chi2, expon, cauchy, laplace, logistic, gennorm,
gumbel_l, gumbel_r, pareto, truncnorm (its normal mass log(Phi(b) - Phi(a)) by SciPy's
three cases, so accurate in both tails), uniform, vonmises, wrapcauchy (continuous);
poisson, binom, bernoulli, betabinom, geom, nbinom (discrete: ``k`` is not differentiated);
dirichlet, multivariate_normal, multinomial (multivariate).  A quantile of a discrete
distribution (``bernoulli.ppf``) is a step function: its derivative is 0.

The special functions are ``scipy.special``'s ufuncs, differentiable through the rules
of ``chainrule.scipy.special`` (``scipy.special.gammaln(t)`` on a Tensor dispatches
through NumPy; the derivative of ``gammaln`` is ``digamma``, whose derivative is
``polygamma(1, .)`` ...), so every order is exact; the t cdf (``stdtr``, which has no
rule there) is a primitive here, its derivative the t density.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import scipy.special as sc

from ..core.primitive import Primitive, Tensor
from ..ops.util import unbroadcast, value

__all__ = ["norm", "t", "gamma", "beta", "poisson", "binom", "dirichlet",
           "multivariate_normal", "bernoulli", "betabinom", "cauchy", "chi2", "expon",
           "gennorm", "geom", "gumbel_l", "gumbel_r", "laplace", "logistic", "multinomial",
           "nbinom", "pareto", "truncnorm", "uniform", "vonmises", "wrapcauchy"]

_LOG_2PI = math.log(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

# ---------------------------------------------------------------------------------
# special functions: scipy.special's ufuncs, whose rules chainrule.scipy.special registers
# (loaded before this module by the package; on a Tensor, NumPy dispatches to them).  The
# t distribution's cdf, stdtr, has no rule there: it is a primitive of this module.

gammaln, xlogy, xlog1py, betaln = sc.gammaln, sc.xlogy, sc.xlog1py, sc.betaln
ndtr, log_ndtr, ndtri = sc.ndtr, sc.log_ndtr, sc.ndtri
gammainc, gammaincc, betainc = sc.gammainc, sc.gammaincc, sc.betainc
expit, logit, log_expit, i0e = sc.expit, sc.logit, sc.log_expit, sc.i0e


def _stdtr_df(*args: Any, **kw: Any) -> Any:
    raise NotImplementedError(
        "scipy.stats.t.cdf (scipy.special.stdtr): the derivative in df, a shape parameter, "
        "is not implemented (it is the derivative of an incomplete beta function in its "
        "parameters); the value is SciPy's. Pass df as a constant (t.detach()) to "
        "differentiate in x, loc and scale.")


def _t_pdf(df: Any, x: Any) -> Any:
    return np.exp(_t_logpdf(x, df))


_stdtr = Primitive(sc.stdtr, "scipy.special.stdtr", broadcast_tangents=True)
_stdtr.vjps[0] = _stdtr.jvps[0] = _stdtr_df
_stdtr.vjps[1] = lambda g, ans, df, x: unbroadcast(x, g * _t_pdf(df, x))
_stdtr.jvps[1] = lambda dx, ans, df, x: dx * _t_pdf(df, x)


def stdtr(df: Any, t: Any) -> Any:
    """scipy.special.stdtr(df, t), the t distribution's cdf, differentiable in ``t`` to
    every order (its derivative is the density); not in ``df``."""
    if isinstance(df, Tensor) or isinstance(t, Tensor):
        return _stdtr(df, t)
    return sc.stdtr(df, t)


# ---------------------------------------------------------------------------------
# helpers


def _val(x: Any) -> np.ndarray:
    """The plain values of ``x`` (to decide where the support is)."""
    return np.asarray(value(x))


def _concrete(mask: Any) -> bool:
    """A mask with values (not one traced by cr.compile, whose values are not known)."""
    return isinstance(mask, (np.ndarray, np.generic, bool))


def _every(mask: Any) -> bool:
    """True when ``mask`` is known to hold everywhere (a traced mask: not known)."""
    return _concrete(mask) and bool(np.all(mask))


def _some(mask: Any) -> bool:
    """True when ``mask`` may hold somewhere (a traced mask: it may)."""
    return not _concrete(mask) or bool(np.any(mask))


def _guard(ok: Any, x: Any, safe: float) -> Any:
    """``x`` where ``ok``, ``safe`` elsewhere: the value the formula sees outside the
    support, so that neither it nor its derivatives are NaN there (they are then masked).
    The masks are comparisons of the arguments themselves (Tensors compare to plain boolean
    arrays, and under cr.compile to traced ones), so the support is decided at run time."""
    return x if _every(ok) else np.where(ok, x, safe)


def _outside(ok: Any, inside: Any, fill: float) -> Any:
    return inside if _every(ok) else np.where(ok, inside, fill)


def _std(x: Any, loc: Any, scale: Any) -> Any:
    return (x - loc) / scale


def _arraylike(v: Any) -> Any:
    """A list or tuple argument as an array (SciPy takes array-likes; a Tensor inside one
    is stacked differentiably by NumPy's dispatch)."""
    if isinstance(v, (list, tuple)):
        try:
            return np.asarray(v)
        except Exception:  # a Tensor inside: built differentiably
            return np.stack([_arraylike(e) for e in v])
    return v


def _takes_arraylikes(method: Callable) -> Callable:
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        # log(0) = -inf and NaN outside the parameters' domain are values here, as in
        # SciPy's methods: no RuntimeWarning for them
        with np.errstate(divide="ignore", invalid="ignore"):
            out = method(self, *[_arraylike(a) for a in args],
                         **{k: _arraylike(v) for k, v in kwargs.items()})
        # a scalar, not a 0-d array, for scalar arguments (as SciPy's; np.where gives 0-d)
        return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out
    wrapped.__name__, wrapped.__qualname__ = method.__name__, method.__qualname__
    wrapped.__doc__, wrapped.__wrapped__ = method.__doc__, method  # type: ignore[attr-defined]
    return wrapped


class _Dist:
    """A distribution: SciPy's methods as differentiable functions; calling it with the
    parameters freezes them (``norm(0, 2).logpdf(x)``)."""

    name = ""

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        for k, v in list(vars(cls).items()):
            if callable(v) and not k.startswith("_"):
                setattr(cls, k, _takes_arraylikes(v))

    def __call__(self, *args: Any, **kwargs: Any) -> _Frozen:
        return _Frozen(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<chainrule.scipy.stats.{self.name}>"


class _Frozen:
    """A distribution with its parameters fixed: ``frozen.logpdf(x)`` is
    ``dist.logpdf(x, *params)``."""

    def __init__(self, dist: _Dist, args: tuple, kwargs: dict) -> None:
        self.dist, self.args, self.kwds = dist, args, kwargs

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self.dist, name)
        return lambda x, **kw: method(x, *self.args, **{**self.kwds, **kw})

    def __repr__(self) -> str:
        return f"<frozen chainrule.scipy.stats.{self.dist.name}{self.args}>"


# ---------------------------------------------------------------------------------
# continuous, univariate


class _Norm(_Dist):
    """The normal distribution (scipy.stats.norm): loc, scale."""

    name = "norm"

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log N(x; loc, scale^2)."""
        z = _std(x, loc, scale)
        return -0.5 * z * z - np.log(scale) - 0.5 * _LOG_2PI

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """N(x; loc, scale^2)."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """Phi((x - loc) / scale)."""
        return ndtr(_std(x, loc, scale))

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log Phi((x - loc) / scale), accurate in the left tail (log_ndtr)."""
        return log_ndtr(_std(x, loc, scale))

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """1 - cdf, accurate in the right tail."""
        return ndtr(-_std(x, loc, scale))

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1 - cdf)."""
        return log_ndtr(-_std(x, loc, scale))

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The quantile function: loc + scale * ndtri(q)."""
        return loc + scale * ndtri(q)

    def isf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The inverse survival function: loc - scale * ndtri(q)."""
        return loc - scale * ndtri(q)


def _t_logpdf(z: Any, df: Any) -> Any:
    return (gammaln((df + 1.0) * 0.5) - gammaln(df * 0.5) - 0.5 * np.log(df * math.pi)
            - (df + 1.0) * 0.5 * np.log1p(z * z / df))


class _T(_Dist):
    """Student's t distribution (scipy.stats.t): df, loc, scale."""

    name = "t"

    def logpdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log t(x; df, loc, scale)."""
        return _t_logpdf(_std(x, loc, scale), df) - np.log(scale)

    def pdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """t(x; df, loc, scale)."""
        return np.exp(self.logpdf(x, df, loc, scale))

    def cdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """stdtr(df, (x - loc) / scale); differentiable in x, loc and scale (not df)."""
        return stdtr(df, _std(x, loc, scale))

    def logcdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, df, loc, scale))

    def sf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """1 - cdf (as stdtr(df, -z))."""
        return stdtr(df, -_std(x, loc, scale))

    def logsf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1 - cdf)."""
        return np.log(self.sf(x, df, loc, scale))


class _Gamma(_Dist):
    """The gamma distribution (scipy.stats.gamma): shape a, loc, scale."""

    name = "gamma"

    def logpdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """(a - 1) log y - y - gammaln(a) - log scale, y = (x - loc) / scale >= 0."""
        y = _std(x, loc, scale)
        ok = y >= 0
        y = _guard(ok, y, 1.0)
        return _outside(ok, xlogy(a - 1.0, y) - y - gammaln(a) - np.log(scale), -np.inf)

    def pdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, a, loc, scale))

    def cdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """gammainc(a, y); differentiable in x, loc and scale (not a)."""
        y = _std(x, loc, scale)
        ok = y >= 0
        return _outside(ok, gammainc(a, _guard(ok, y, 1.0)), 0.0)

    def logcdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, a, loc, scale))

    def sf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """gammaincc(a, y)."""
        y = _std(x, loc, scale)
        ok = y >= 0
        return _outside(ok, gammaincc(a, _guard(ok, y, 1.0)), 1.0)

    def logsf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1 - cdf)."""
        return np.log(self.sf(x, a, loc, scale))


class _Beta(_Dist):
    """The beta distribution (scipy.stats.beta): a, b, loc, scale."""

    name = "beta"

    def logpdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """(a - 1) log y + (b - 1) log(1 - y) - betaln(a, b) - log scale, 0 <= y <= 1."""
        y = _std(x, loc, scale)
        ok = (y >= 0) & (y <= 1)
        y = _guard(ok, y, 0.5)
        lp = xlogy(a - 1.0, y) + xlog1py(b - 1.0, -y) - betaln(a, b) - np.log(scale)
        return _outside(ok, lp, -np.inf)

    def pdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, a, b, loc, scale))

    def cdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """betainc(a, b, y); differentiable in x, loc and scale (not a, b)."""
        y = _std(x, loc, scale)
        ok = (y >= 0) & (y <= 1)
        c = betainc(a, b, _guard(ok, y, 0.5))
        return _outside(ok, c, 0.0) if _every(y <= 1) else np.where(
            y > 1, 1.0, _outside(ok, c, 0.0))

    def logcdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, a, b, loc, scale))

    def sf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """1 - cdf, as betainc(b, a, 1 - y) (accurate near y = 1)."""
        y = _std(x, loc, scale)
        ok = (y >= 0) & (y <= 1)
        c = betainc(b, a, 1.0 - _guard(ok, y, 0.5))
        return _outside(ok, c, 0.0) if _every(y >= 0) else np.where(
            y < 0, 1.0, _outside(ok, c, 0.0))

    def logsf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1 - cdf)."""
        return np.log(self.sf(x, a, b, loc, scale))


# ---------------------------------------------------------------------------------
# more continuous distributions (the rest of jax.scipy.stats): each a composition of
# differentiable operations, with SciPy's loc/scale convention y = (x - loc) / scale


_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)


def _in_unit(q: Any, r: Any) -> Any:
    """A quantile function's value ``r``, NaN where ``q`` is outside [0, 1] (as SciPy)."""
    return _outside((q >= 0) & (q <= 1), r, np.nan)


def _loc_scale(r: Any, loc: Any, scale: Any) -> Any:
    return loc + scale * r


class _Cauchy(_Dist):
    """The Cauchy distribution (scipy.stats.cauchy): loc, scale."""

    name = "cauchy"

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-log(pi scale (1 + y^2))."""
        z = _std(x, loc, scale)
        return -np.log1p(z * z) - np.log(scale) - _LOG_PI

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """1 / (pi scale (1 + y^2))."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """arctan2(1, -y) / pi (accurate in the left tail, as SciPy's)."""
        return np.arctan2(1.0, -_std(x, loc, scale)) / math.pi

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, loc, scale))

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """arctan2(1, y) / pi."""
        return np.arctan2(1.0, _std(x, loc, scale)) / math.pi

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log sf."""
        return np.log(self.sf(x, loc, scale))

    @staticmethod
    def _std_ppf(q: Any) -> Any:
        # -1 / tan(pi q'), q' = q - 1 above one half: accurate in both tails; at q = 1/2
        # pi (q - 1/2), exactly 0 with the right derivatives (pi, then 0); +-inf at 1, 0
        upper = q > 0.5
        r = -1.0 / np.tan(math.pi * (q - np.where(upper, 1.0, 0.0)))
        half = q == 0.5
        if _some(half):
            r = np.where(half, math.pi * (q - 0.5), r)
        one = q == 1.0
        if _some(one):
            r = np.where(one, np.inf, r)
        return _in_unit(q, r)

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The quantile function: loc - scale / tan(pi q) (q - 1 for q > 1/2)."""
        return _loc_scale(self._std_ppf(q), loc, scale)

    def isf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The inverse survival function: loc - scale ppf_standard(q)."""
        return loc - scale * self._std_ppf(q)


class _Chi2(_Dist):
    """The chi-squared distribution (scipy.stats.chi2): df, loc, scale."""

    name = "chi2"

    def logpdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """(df/2 - 1) log y - y/2 - gammaln(df/2) - (df/2) log 2 - log scale, y >= 0."""
        y = _std(x, loc, scale)
        ok = y >= 0
        y = _guard(ok, y, 1.0)
        h = df * 0.5
        lp = xlogy(h - 1.0, y) - y * 0.5 - gammaln(h) - h * _LOG_2 - np.log(scale)
        return _outside(ok, lp, -np.inf)

    def pdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, df, loc, scale))

    def cdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """gammainc(df/2, y/2); differentiable in x, loc and scale (not df)."""
        y = _std(x, loc, scale)
        ok = y >= 0
        return _outside(ok, gammainc(df * 0.5, _guard(ok, y, 1.0) * 0.5), 0.0)

    def logcdf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, df, loc, scale))

    def sf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """gammaincc(df/2, y/2); differentiable in x, loc and scale (not df)."""
        y = _std(x, loc, scale)
        ok = y >= 0
        return _outside(ok, gammaincc(df * 0.5, _guard(ok, y, 1.0) * 0.5), 1.0)

    def logsf(self, x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log sf."""
        return np.log(self.sf(x, df, loc, scale))


class _Expon(_Dist):
    """The exponential distribution (scipy.stats.expon): loc, scale (1 / rate)."""

    name = "expon"

    def _y(self, x: Any, loc: Any, scale: Any) -> tuple:
        y = _std(x, loc, scale)
        ok = y >= 0
        return _guard(ok, y, 1.0), ok

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-y - log scale, y >= 0."""
        y, ok = self._y(x, loc, scale)
        return _outside(ok, -y - np.log(scale), -np.inf)

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-expm1(-y)."""
        y, ok = self._y(x, loc, scale)
        return _outside(ok, -np.expm1(-y), 0.0)

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(-expm1(-y))."""
        y, ok = self._y(x, loc, scale)
        return _outside(ok, np.log(-np.expm1(-y)), -np.inf)

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """exp(-y)."""
        y, ok = self._y(x, loc, scale)
        return _outside(ok, np.exp(-y), 1.0)

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-y."""
        y, ok = self._y(x, loc, scale)
        return _outside(ok, -y, 0.0)

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """loc - scale log1p(-q)."""
        return _loc_scale(_in_unit(q, -np.log1p(-q)), loc, scale)


def _abs_pow(z: Any, p: Any) -> Any:
    """|z|^p, 0 at z = 0 with finite derivatives there (in p too: |z|^p log|z| -> 0)."""
    a = np.abs(z)
    zero = a == 0
    if not _some(zero):
        return a ** p
    return np.where(zero, 0.0, _guard(np.logical_not(zero), a, 1.0) ** p)


class _Gennorm(_Dist):
    """The generalized normal distribution (scipy.stats.gennorm): shape beta, loc, scale."""

    name = "gennorm"

    def logpdf(self, x: Any, beta: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(beta / 2) - gammaln(1 / beta) - |y|^beta - log scale."""
        z = _std(x, loc, scale)
        return (np.log(0.5 * beta) - gammaln(1.0 / beta) - _abs_pow(z, beta)
                - np.log(scale))

    def pdf(self, x: Any, beta: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, beta, loc, scale))

    def cdf(self, x: Any, beta: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """(1/2 + c) - c gammaincc(1/beta, |y|^beta), c = sign(y)/2; differentiable in x,
        loc and scale (not beta)."""
        z = _std(x, loc, scale)
        c = 0.5 * np.sign(z)  # (its derivative is 0)
        return (0.5 + c) - c * gammaincc(1.0 / beta, _abs_pow(z, beta))


class _GumbelR(_Dist):
    """The right-skewed Gumbel distribution (scipy.stats.gumbel_r): loc, scale."""

    name = "gumbel_r"

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-y - exp(-y) - log scale."""
        z = _std(x, loc, scale)
        return -z - np.exp(-z) - np.log(scale)

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """exp(-exp(-y))."""
        return np.exp(self.logcdf(x, loc, scale))

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-exp(-y)."""
        return -np.exp(-_std(x, loc, scale))

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-expm1(-exp(-y))."""
        return -np.expm1(-np.exp(-_std(x, loc, scale)))

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log sf."""
        return np.log(self.sf(x, loc, scale))

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """loc - scale log(-log q)."""
        return _loc_scale(_in_unit(q, -np.log(-np.log(q))), loc, scale)


class _GumbelL(_Dist):
    """The left-skewed Gumbel distribution (scipy.stats.gumbel_l): loc, scale."""

    name = "gumbel_l"

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """y - exp(y) - log scale."""
        z = _std(x, loc, scale)
        return z - np.exp(z) - np.log(scale)

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-expm1(-exp(y))."""
        return -np.expm1(-np.exp(_std(x, loc, scale)))

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, loc, scale))

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """exp(-exp(y))."""
        return np.exp(self.logsf(x, loc, scale))

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-exp(y)."""
        return -np.exp(_std(x, loc, scale))

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """loc + scale log(-log1p(-q))."""
        return _loc_scale(_in_unit(q, np.log(-np.log1p(-q))), loc, scale)


class _Laplace(_Dist):
    """The Laplace distribution (scipy.stats.laplace): loc, scale."""

    name = "laplace"

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1/2) - |y| - log scale."""
        return -_LOG_2 - np.abs(_std(x, loc, scale)) - np.log(scale)

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """exp(y)/2 for y <= 0, 1 - exp(-y)/2 above (one exp(-|y|), no overflow)."""
        z = _std(x, loc, scale)
        e = 0.5 * np.exp(-np.abs(z))
        return np.where(z > 0, 1.0 - e, e)


class _Logistic(_Dist):
    """The logistic distribution (scipy.stats.logistic): loc, scale."""

    name = "logistic"

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-|y| - 2 log1p(exp(-|y|)) - log scale."""
        a = -np.abs(_std(x, loc, scale))
        return a - 2.0 * np.log1p(np.exp(a)) - np.log(scale)

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """expit(y)."""
        return expit(_std(x, loc, scale))

    def logcdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log_expit(y)."""
        return log_expit(_std(x, loc, scale))

    def sf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """expit(-y)."""
        return expit(-_std(x, loc, scale))

    def logsf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log_expit(-y)."""
        return log_expit(-_std(x, loc, scale))

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """loc + scale logit(q)."""
        return loc + scale * logit(q)

    def isf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """loc - scale logit(q)."""
        return loc - scale * logit(q)


class _Pareto(_Dist):
    """The Pareto distribution (scipy.stats.pareto): shape b, loc, scale; y >= 1."""

    name = "pareto"

    def _logy(self, x: Any, loc: Any, scale: Any) -> tuple:
        y = _std(x, loc, scale)
        ok = y >= 1
        return np.log(_guard(ok, y, 2.0)), ok

    def logpdf(self, x: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log b - (b + 1) log y - log scale, y >= 1."""
        ly, ok = self._logy(x, loc, scale)
        return _outside(ok, np.log(b) - (b + 1.0) * ly - np.log(scale), -np.inf)

    def pdf(self, x: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, b, loc, scale))

    def cdf(self, x: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """1 - y^-b, as -expm1(-b log y)."""
        ly, ok = self._logy(x, loc, scale)
        return _outside(ok, -np.expm1(-b * ly), 0.0)

    def logcdf(self, x: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1 - y^-b)."""
        ly, ok = self._logy(x, loc, scale)
        return _outside(ok, np.log(-np.expm1(-b * ly)), -np.inf)

    def sf(self, x: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """y^-b."""
        ly, ok = self._logy(x, loc, scale)
        return _outside(ok, np.exp(-b * ly), 1.0)

    def logsf(self, x: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-b log y."""
        ly, ok = self._logy(x, loc, scale)
        return _outside(ok, -b * ly, 0.0)

    def ppf(self, q: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """loc + scale (1 - q)^(-1/b)."""
        return _loc_scale(_in_unit(q, (1.0 - q) ** (-1.0 / b)), loc, scale)


def _log_gauss_mass(lo: Any, hi: Any) -> Any:
    """log(Phi(hi) - Phi(lo)) for lo <= hi, accurately (SciPy's cases: both in the left
    tail, both in the right, or around 0); each case's inputs guarded where it is not used,
    so no case puts a NaN into the derivative of another."""
    left = (hi <= 0) | (lo > lo)  # (broadcast to both shapes)
    right = (lo > 0) | (hi > hi)
    mid = np.logical_not(left | right)
    parts = []
    if _some(left):
        la, lb = log_ndtr(_guard(left, lo, -2.0)), log_ndtr(_guard(left, hi, -1.0))
        parts.append((left, lb + np.log1p(-np.exp(la - lb))))
    if _some(right):
        la, lb = log_ndtr(-_guard(right, hi, 2.0)), log_ndtr(-_guard(right, lo, 1.0))
        parts.append((right, lb + np.log1p(-np.exp(la - lb))))
    if _some(mid):
        parts.append((mid, np.log1p(-ndtr(_guard(mid, lo, -1.0))
                                    - ndtr(-_guard(mid, hi, 1.0)))))
    out = parts[-1][1]
    for where, v in parts[-2::-1]:
        out = np.where(where, v, out)
    return out


class _Truncnorm(_Dist):
    """The truncated normal distribution (scipy.stats.truncnorm): a, b (the standardized
    bounds: the support is [loc + a scale, loc + b scale]), loc, scale; differentiable in x
    and every parameter (the bounds too: the normal mass between them is a closed form)."""

    name = "truncnorm"

    def _z(self, x: Any, a: Any, b: Any, loc: Any, scale: Any) -> tuple:
        z = _std(x, loc, scale)
        ok = (z >= a) & (z <= b)
        if _every(ok):
            return z, ok, z < a
        # a point inside [a, b] (either may be infinite), a constant
        av, bv = np.asarray(value(a), dtype=float), np.asarray(value(b), dtype=float)
        fa, fb = np.isfinite(av), np.isfinite(bv)
        with np.errstate(invalid="ignore"):
            inner = np.where(fa & fb, (av + bv) / 2, np.where(fa, av + 1.0,
                                                              np.where(fb, bv - 1.0, 0.0)))
        return np.where(ok, z, inner), ok, z < a

    def logpdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-y^2/2 - log(2 pi)/2 - log(Phi(b) - Phi(a)) - log scale on [a, b]."""
        z, ok, _ = self._z(x, a, b, loc, scale)
        lp = -0.5 * z * z - 0.5 * _LOG_2PI - _log_gauss_mass(a, b) - np.log(scale)
        return _outside(ok, lp, -np.inf)

    def pdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, a, b, loc, scale))

    def _logs(self, x: Any, a: Any, b: Any, loc: Any, scale: Any) -> tuple:
        """(log cdf, log sf) inside the support, each from the other where it is near 0
        (log1p(-exp(.)) of the other, as SciPy), and the masks."""
        z, ok, below = self._z(x, a, b, loc, scale)
        m = _log_gauss_mass(a, b)
        lc = _log_gauss_mass(a, z) - m
        ls = _log_gauss_mass(z, b) - m
        near_c, near_s = lc > -0.1, ls > -0.1
        lc2 = np.where(near_c, np.log1p(-np.exp(_guard(near_c, ls, -1.0))), lc)
        ls2 = np.where(near_s, np.log1p(-np.exp(_guard(near_s, lc, -1.0))), ls)
        return lc2, ls2, ok, below

    def logcdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log((Phi(y) - Phi(a)) / (Phi(b) - Phi(a))): -inf below a, 0 above b."""
        lc, _, ok, below = self._logs(x, a, b, loc, scale)
        return np.where(ok, lc, np.where(below, -np.inf, 0.0))

    def cdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """exp(logcdf)."""
        return np.exp(self.logcdf(x, a, b, loc, scale))

    def logsf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log((Phi(b) - Phi(y)) / (Phi(b) - Phi(a))): 0 below a, -inf above b."""
        _, ls, ok, below = self._logs(x, a, b, loc, scale)
        return np.where(ok, ls, np.where(below, 0.0, -np.inf))

    def sf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """exp(logsf)."""
        return np.exp(self.logsf(x, a, b, loc, scale))


class _Uniform(_Dist):
    """The uniform distribution on [loc, loc + scale] (scipy.stats.uniform)."""

    name = "uniform"

    def _y(self, x: Any, loc: Any, scale: Any) -> tuple:
        y = _std(x, loc, scale)
        ok = (y >= 0) & (y <= 1)
        return _guard(ok, y, 0.5), ok, y

    def logpdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """-log scale on the support."""
        y, ok, _ = self._y(x, loc, scale)
        return _outside(ok, 0.0 * y - np.log(scale), -np.inf)

    def pdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """1 / scale on the support."""
        return np.exp(self.logpdf(x, loc, scale))

    def cdf(self, x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """y clipped to [0, 1]."""
        y, ok, yv = self._y(x, loc, scale)
        return np.where(ok, y, np.where(yv > 1, 1.0, 0.0))

    def ppf(self, q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """loc + scale q."""
        return _loc_scale(_in_unit(q, q), loc, scale)


class _Vonmises(_Dist):
    """The von Mises distribution (scipy.stats.vonmises): kappa, loc, scale; as SciPy's,
    the density is not restricted to one period."""

    name = "vonmises"

    def logpdf(self, x: Any, kappa: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """kappa (cos y - 1) - log(2 pi i0e(kappa)) - log scale (cos y - 1 as
        -2 sin^2(y/2), without cancellation)."""
        z = _std(x, loc, scale)
        s = np.sin(0.5 * z)
        return -2.0 * kappa * s * s - _LOG_2PI - np.log(i0e(kappa)) - np.log(scale)

    def pdf(self, x: Any, kappa: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, kappa, loc, scale))


class _Wrapcauchy(_Dist):
    """The wrapped Cauchy distribution (scipy.stats.wrapcauchy): c (0 < c < 1), loc, scale;
    support 0 <= y <= 2 pi."""

    name = "wrapcauchy"

    def logpdf(self, x: Any, c: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1 - c^2) - log(2 pi (1 + c^2 - 2 c cos y)) - log scale."""
        y = _std(x, loc, scale)
        ok = (y >= 0) & (y <= 2 * math.pi)
        y = _guard(ok, y, 1.0)
        lp = (np.log1p(-c * c) - _LOG_2PI - np.log(1.0 + c * c - 2.0 * c * np.cos(y))
              - np.log(scale))
        return _outside(ok, lp, -np.inf)

    def pdf(self, x: Any, c: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, c, loc, scale))


# ---------------------------------------------------------------------------------
# discrete


def _integer_k(k: Any, loc: Any) -> tuple:
    kv = np.asarray(value(k), dtype=float) - np.asarray(value(loc), dtype=float)
    return kv, kv == np.floor(kv)


class _Poisson(_Dist):
    """The Poisson distribution (scipy.stats.poisson): rate mu (differentiable), loc."""

    name = "poisson"

    def logpmf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """k log mu - gammaln(k + 1) - mu for integer k >= 0 (-inf elsewhere)."""
        kv, whole = _integer_k(k, loc)
        ok = whole & (kv >= 0)
        kk = np.where(ok, kv, 0.0)
        return _outside(ok, xlogy(kk, mu) - gammaln(kk + 1.0) - mu, -np.inf)

    def pmf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """The mass function."""
        return np.exp(self.logpmf(k, mu, loc))

    def cdf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """P(K <= k) = gammaincc(floor(k) + 1, mu); its derivative in mu is -pmf(floor k)."""
        kv = np.floor(np.asarray(value(k), dtype=float) - np.asarray(value(loc), dtype=float))
        ok = kv >= 0
        return _outside(ok, gammaincc(np.where(ok, kv, 0.0) + 1.0, mu), 0.0)

    def logcdf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """log cdf."""
        return np.log(self.cdf(k, mu, loc))

    def sf(self, k: Any, mu: Any, loc: Any = 0) -> Any:
        """P(K > k) = gammainc(floor(k) + 1, mu)."""
        kv = np.floor(np.asarray(value(k), dtype=float) - np.asarray(value(loc), dtype=float))
        ok = kv >= 0
        return _outside(ok, gammainc(np.where(ok, kv, 0.0) + 1.0, mu), 1.0)


class _Binom(_Dist):
    """The binomial distribution (scipy.stats.binom): trials n, probability p
    (differentiable), loc."""

    name = "binom"

    def logpmf(self, k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
        """log C(n, k) + k log p + (n - k) log(1 - p) for integer 0 <= k <= n."""
        kv, whole = _integer_k(k, loc)
        nv = np.asarray(value(n), dtype=float)
        ok = whole & (kv >= 0) & (kv <= nv)
        kk = np.where(ok, kv, 0.0)
        nk = np.where(ok, nv - kk, 0.0)
        comb = gammaln(nv + 1.0) - gammaln(kk + 1.0) - gammaln(nk + 1.0)
        return _outside(ok, comb + xlogy(kk, p) + xlog1py(nk, -p), -np.inf)

    def pmf(self, k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
        """The mass function."""
        return np.exp(self.logpmf(k, n, p, loc))

    def cdf(self, k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
        """P(K <= k) = betainc(n - k, k + 1, 1 - p) for 0 <= k < n (0 below, 1 above)."""
        kv = np.floor(np.asarray(value(k), dtype=float) - np.asarray(value(loc), dtype=float))
        nv = np.asarray(value(n), dtype=float)
        kv, nv = np.broadcast_arrays(kv, nv)
        mid = (kv >= 0) & (kv < nv)
        c = betainc(np.where(mid, nv - kv, 1.0), np.where(mid, kv, 0.0) + 1.0, 1.0 - p)
        return _outside(mid, c, 0.0) if not np.any(kv >= nv) else np.where(
            kv >= nv, 1.0, _outside(mid, c, 0.0))

    def logcdf(self, k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
        """log cdf."""
        return np.log(self.cdf(k, n, p, loc))


def _step_result(vals: np.ndarray, *params: Any) -> Any:
    """A piecewise-constant value (a quantile of a discrete distribution): a Tensor with a
    zero derivative when a parameter is one, else the plain array."""
    ts = [p for p in params if isinstance(p, Tensor)]
    if not ts:
        return vals if np.ndim(vals) else vals[()]
    zero = sum(0.0 * np.where(np.isfinite(_val(p)), p, 0.0) for p in ts)
    return vals + zero


class _Bernoulli(_Dist):
    """The Bernoulli distribution (scipy.stats.bernoulli): probability p (differentiable),
    loc."""

    name = "bernoulli"

    def logpmf(self, k: Any, p: Any, loc: Any = 0) -> Any:
        """k log p + (1 - k) log(1 - p) for k in {0, 1} (-inf elsewhere)."""
        kv, whole = _integer_k(k, loc)
        ok = whole & ((kv == 0) | (kv == 1))
        kk = np.where(ok, kv, 0.0)
        return _outside(ok, xlogy(kk, p) + xlog1py(1.0 - kk, -p), -np.inf)

    def pmf(self, k: Any, p: Any, loc: Any = 0) -> Any:
        """The mass function."""
        return np.exp(self.logpmf(k, p, loc))

    def cdf(self, k: Any, p: Any, loc: Any = 0) -> Any:
        """0 below 0, 1 - p on [0, 1), 1 from 1."""
        kv = np.floor(np.asarray(value(k), dtype=float) - np.asarray(value(loc), dtype=float))
        return np.where(kv < 0, 0.0, np.where(kv >= 1, 1.0, 1.0 - p))

    def ppf(self, q: Any, p: Any, loc: Any = 0) -> Any:
        """The smallest k with cdf(k) >= q: -1 at q = 0 (SciPy's convention), 0 up to
        q = 1 - p, 1 above; NaN outside [0, 1].  A step function: its derivative is 0."""
        qv, pv = np.broadcast_arrays(_val(q).astype(float), _val(p).astype(float))
        out = np.where(qv > 1.0 - pv, 1.0, 0.0)
        out = np.where(qv == 0, -1.0, out)
        out = np.where((qv < 0) | (qv > 1) | np.isnan(qv), np.nan, out)
        out = out + np.asarray(value(loc), dtype=float)
        return _step_result(out, q, p)


class _Betabinom(_Dist):
    """The beta-binomial distribution (scipy.stats.betabinom): trials n, shapes a, b
    (differentiable), loc."""

    name = "betabinom"

    def logpmf(self, k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Any:
        """-log(n + 1) - betaln(n - k + 1, k + 1) + betaln(k + a, n - k + b) - betaln(a, b)
        for integer 0 <= k <= n."""
        kv, whole = _integer_k(k, loc)
        nv = np.asarray(value(n), dtype=float)
        ok = whole & (kv >= 0) & (kv <= nv)
        kk = np.where(ok, kv, 0.0)
        nk = np.where(ok, nv - kk, 0.0)
        comb = -np.log(nv + 1.0) - betaln(nk + 1.0, kk + 1.0)
        return _outside(ok, comb + betaln(kk + a, nk + b) - betaln(a, b), -np.inf)

    def pmf(self, k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Any:
        """The mass function."""
        return np.exp(self.logpmf(k, n, a, b, loc))


class _Geom(_Dist):
    """The geometric distribution on 1, 2, ... (scipy.stats.geom): p (differentiable), loc."""

    name = "geom"

    def logpmf(self, k: Any, p: Any, loc: Any = 0) -> Any:
        """(k - 1) log(1 - p) + log p for integer k >= 1."""
        kv, whole = _integer_k(k, loc)
        ok = whole & (kv >= 1)
        kk = np.where(ok, kv, 1.0)
        return _outside(ok, xlog1py(kk - 1.0, -p) + np.log(p), -np.inf)

    def pmf(self, k: Any, p: Any, loc: Any = 0) -> Any:
        """The mass function."""
        return np.exp(self.logpmf(k, p, loc))


class _Nbinom(_Dist):
    """The negative binomial distribution (scipy.stats.nbinom): n successes (real,
    differentiable), probability p (differentiable), loc."""

    name = "nbinom"

    def logpmf(self, k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
        """gammaln(n + k) - gammaln(k + 1) - gammaln(n) + n log p + k log(1 - p), integer
        k >= 0."""
        kv, whole = _integer_k(k, loc)
        ok = whole & (kv >= 0)
        kk = np.where(ok, kv, 0.0)
        lp = gammaln(n + kk) - gammaln(kk + 1.0) - gammaln(n) + n * np.log(p) + xlog1py(kk, -p)
        return _outside(ok, lp, -np.inf)

    def pmf(self, k: Any, n: Any, p: Any, loc: Any = 0) -> Any:
        """The mass function."""
        return np.exp(self.logpmf(k, n, p, loc))


# ---------------------------------------------------------------------------------
# multivariate


class _Dirichlet(_Dist):
    """The Dirichlet distribution (scipy.stats.dirichlet): concentrations alpha (K,).

    ``x`` has the K components along its FIRST axis, as in SciPy ((K,) or (K, N); K - 1
    components are completed with 1 - their sum)."""

    name = "dirichlet"

    def logpdf(self, x: Any, alpha: Any) -> Any:
        """sum_i (alpha_i - 1) log x_i - (sum_i gammaln(alpha_i) - gammaln(sum_i alpha_i))."""
        K = np.shape(value(alpha))[0]
        if np.shape(value(x))[0] == K - 1:
            last = 1.0 - np.sum(x, axis=0)
            x = np.concatenate([x, np.expand_dims(last, 0)], axis=0)
        a = np.reshape(alpha, (K,) + (1,) * (np.ndim(value(x)) - 1))
        lnB = np.sum(gammaln(alpha)) - gammaln(np.sum(alpha))
        return np.sum(xlogy(a - 1.0, x), axis=0) - lnB

    def pdf(self, x: Any, alpha: Any) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, alpha))


def _mvn_params(mean: Any, cov: Any) -> tuple:
    if mean is None:
        cs = np.shape(value(cov))
        d = 1 if len(cs) == 0 else cs[0]
        mean = np.zeros(d)
    d = int(np.size(value(mean)))
    mean = np.reshape(mean, (d,))
    nd = np.ndim(value(cov))
    if nd == 0:
        cov = cov * np.eye(d)
    elif nd == 1:
        cov = np.reshape(cov, (-1,)) * np.eye(d) if np.size(value(cov)) == d else cov
    return mean, cov, d


class _MVN(_Dist):
    """The multivariate normal (scipy.stats.multivariate_normal): mean (d,), cov (a scalar,
    the (d,) diagonal or (d, d)); differentiable in x, mean and cov (through a Cholesky
    factor).  ``allow_singular=True`` is not supported (a singular cov raises)."""

    name = "multivariate_normal"

    def logpdf(self, x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False
               ) -> Any:
        """-(d log 2 pi + log det cov + (x - mean)^T cov^-1 (x - mean)) / 2, over the last
        axis of x (SciPy's quantile conventions; the result squeezed as SciPy's)."""
        from ._linalg import solve_triangular

        if allow_singular:
            raise NotImplementedError("multivariate_normal.logpdf(allow_singular=True): a "
                                      "singular covariance is not supported")
        mean, cov, d = _mvn_params(mean, cov)
        xs = np.shape(value(x))
        if len(xs) == 0:
            x = np.reshape(x, (1, 1))
        elif len(xs) == 1:
            x = np.reshape(x, (-1, 1) if d == 1 else (1, -1))
        L = np.linalg.cholesky(cov)
        dev = x - mean
        lead = np.shape(value(dev))[:-1]
        flat = np.reshape(dev, (-1, d))
        z = solve_triangular(L, np.transpose(flat), lower=True)
        maha = np.reshape(np.sum(z * z, axis=0), lead)
        logdet = 2.0 * np.sum(np.log(np.diagonal(L)))
        out = -0.5 * (d * _LOG_2PI + logdet + maha)
        return _squeeze(out)

    def pdf(self, x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False
            ) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, mean, cov, allow_singular))


class _Multinomial(_Dist):
    """The multinomial distribution (scipy.stats.multinomial): trials n, probabilities p
    (differentiable; the K categories along the last axis of x and p).

    p is used as given (JAX's convention; SciPy replaces its last entry by 1 - the sum of
    the others, which changes the derivative, not the value, for a p that sums to 1)."""

    name = "multinomial"

    def logpmf(self, x: Any, n: Any, p: Any) -> Any:
        """gammaln(n + 1) + sum_i (x_i log p_i - gammaln(x_i + 1)) for non-negative integer
        counts summing to n (-inf elsewhere)."""
        xv = np.asarray(value(x), dtype=float)
        if xv.ndim == 0:
            raise ValueError("multinomial: x must be an array.")
        nv = np.asarray(value(n), dtype=float)
        ok = (np.all((xv == np.floor(xv)) & (xv >= 0), axis=-1)
              & (np.sum(xv, axis=-1) == nv))
        xx = np.where(ok[..., None], xv, 0.0)
        lp = gammaln(nv + 1.0) + np.sum(xlogy(xx, p) - gammaln(xx + 1.0), axis=-1)
        out = _outside(ok, lp, -np.inf)
        if np.ndim(value(out)) == 0 and not isinstance(out, Tensor):
            return np.float64(out)
        return out

    def pmf(self, x: Any, n: Any, p: Any) -> Any:
        """The mass function."""
        return np.exp(self.logpmf(x, n, p))


def _squeeze(out: Any) -> Any:
    if np.ndim(value(out)) and 1 in np.shape(value(out)):
        out = np.squeeze(out)
    if np.ndim(value(out)) == 0 and not isinstance(out, Tensor):
        return out[()]
    return out


norm = _Norm()
t = _T()
gamma = _Gamma()
beta = _Beta()
poisson = _Poisson()
binom = _Binom()
dirichlet = _Dirichlet()
multivariate_normal = _MVN()
bernoulli = _Bernoulli()
betabinom = _Betabinom()
cauchy = _Cauchy()
chi2 = _Chi2()
expon = _Expon()
gennorm = _Gennorm()
geom = _Geom()
gumbel_l = _GumbelL()
gumbel_r = _GumbelR()
laplace = _Laplace()
logistic = _Logistic()
multinomial = _Multinomial()
nbinom = _Nbinom()
pareto = _Pareto()
truncnorm = _Truncnorm()
uniform = _Uniform()
vonmises = _Vonmises()
wrapcauchy = _Wrapcauchy()
