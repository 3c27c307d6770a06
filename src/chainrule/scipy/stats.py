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
``gamma.cdf`` in ``a``, ``beta.cdf`` in ``a``/``b`` -- the derivative of an incomplete
gamma or beta function in its parameters), differentiating raises NotImplementedError
saying so; the value itself is always SciPy's.

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
           "multivariate_normal"]

_LOG_2PI = math.log(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

# ---------------------------------------------------------------------------------
# special functions: scipy.special's ufuncs, whose rules chainrule.scipy.special registers
# (loaded before this module by the package; on a Tensor, NumPy dispatches to them).  The
# t distribution's cdf, stdtr, has no rule there: it is a primitive of this module.

gammaln, xlogy, xlog1py, betaln = sc.gammaln, sc.xlogy, sc.xlog1py, sc.betaln
ndtr, log_ndtr, ndtri = sc.ndtr, sc.log_ndtr, sc.ndtri
gammainc, gammaincc, betainc = sc.gammainc, sc.gammaincc, sc.betainc


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


def _guard(ok: np.ndarray, x: Any, safe: float) -> Any:
    """``x`` where ``ok``, ``safe`` elsewhere: the value the formula sees outside the
    support, so that neither it nor its derivatives are NaN there (they are then masked)."""
    return x if bool(np.all(ok)) else np.where(ok, x, safe)


def _outside(ok: np.ndarray, inside: Any, fill: float) -> Any:
    return inside if bool(np.all(ok)) else np.where(ok, inside, fill)


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
        return method(self, *[_arraylike(a) for a in args],
                      **{k: _arraylike(v) for k, v in kwargs.items()})
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
        ok = _val(y) >= 0
        y = _guard(ok, y, 1.0)
        return _outside(ok, xlogy(a - 1.0, y) - y - gammaln(a) - np.log(scale), -np.inf)

    def pdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, a, loc, scale))

    def cdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """gammainc(a, y); differentiable in x, loc and scale (not a)."""
        y = _std(x, loc, scale)
        ok = _val(y) >= 0
        return _outside(ok, gammainc(a, _guard(ok, y, 1.0)), 0.0)

    def logcdf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, a, loc, scale))

    def sf(self, x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """gammaincc(a, y)."""
        y = _std(x, loc, scale)
        ok = _val(y) >= 0
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
        yv = _val(y)
        ok = (yv >= 0) & (yv <= 1)
        y = _guard(ok, y, 0.5)
        lp = xlogy(a - 1.0, y) + xlog1py(b - 1.0, -y) - betaln(a, b) - np.log(scale)
        return _outside(ok, lp, -np.inf)

    def pdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The density."""
        return np.exp(self.logpdf(x, a, b, loc, scale))

    def cdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """betainc(a, b, y); differentiable in x, loc and scale (not a, b)."""
        y = _std(x, loc, scale)
        yv = _val(y)
        ok = (yv >= 0) & (yv <= 1)
        c = betainc(a, b, _guard(ok, y, 0.5))
        return _outside(ok, c, 0.0) if bool(np.all(yv <= 1)) else np.where(
            yv > 1, 1.0, _outside(ok, c, 0.0))

    def logcdf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log cdf."""
        return np.log(self.cdf(x, a, b, loc, scale))

    def sf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """1 - cdf, as betainc(b, a, 1 - y) (accurate near y = 1)."""
        y = _std(x, loc, scale)
        yv = _val(y)
        ok = (yv >= 0) & (yv <= 1)
        c = betainc(b, a, 1.0 - _guard(ok, y, 0.5))
        return _outside(ok, c, 0.0) if bool(np.all(yv >= 0)) else np.where(
            yv < 0, 1.0, _outside(ok, c, 0.0))

    def logsf(self, x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """log(1 - cdf)."""
        return np.log(self.sf(x, a, b, loc, scale))


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
        from .linalg import solve_triangular

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
