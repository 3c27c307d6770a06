"""Rules for ``scipy.special``: its ufuncs differentiate where they are called.

SciPy's special functions are NumPy ufuncs, so ``scipy.special.erf(t)`` on a Tensor reaches
``Tensor.__array_ufunc__`` like ``np.exp(t)`` does.  This module gives each ufunc below a
primitive (the forward is SciPy's own call) and puts it in the ufunc table; the dispatch
imports it the first time it meets a ufunc that is not NumPy's (numpy/dispatch.py), so
``import chainrule`` never imports SciPy.

Every derivative is written with differentiable operations -- most are special functions
themselves (erf' is a Gaussian, digamma' is polygamma(1, .), i0' is i1, jv' is a difference
of jv's) -- so every order works in both modes.  Arguments that are orders or shape
parameters (``n`` of polygamma and expn, ``v`` of jv/iv/kv, ``a`` of gammainc, ``a, b`` of
betainc, those of hyp1f1/hyp2f1, the exponent of zeta) are not differentiated: a derivative
asked of them raises ``NotImplementedError`` naming the function.

What SciPy has as Python functions rather than ufuncs is here too: ``polygamma``,
``multigammaln``, ``logsumexp``, ``softmax``, ``log_softmax`` and ``softplus`` (use
``cr.scipy.special.NAME``: SciPy's own ``polygamma`` and ``logsumexp`` convert their
arguments with ``np.asarray``, which a Tensor refuses).  The ufuncs with rules are exported
as SciPy's own objects, so ``cr.scipy.special.expit is scipy.special.expit``.

Conventions where a formula is 0/0 or at a kink (see docs/science.md):

* ``xlogy(x, y)``: d/dx = log(y) (-inf at y = 0), as JAX and autograd; d/dy = x / y, and 0
  where x = 0 (``xlogy(0, y)`` is 0 for every y: the exact partial), where JAX gives NaN at
  x = y = 0.  ``xlog1py``, ``rel_entr`` and ``kl_div`` likewise in y.
* ``i0e``, ``i1e``, ``ive`` contain exp(-|x|): the derivative at x = 0 takes sign(0) = 0.
"""


import math as _math
from typing import Any as _Any
from typing import Callable as _Callable

import numpy as _np
import scipy.special as _sc

from ..core.primitive import Primitive as _Primitive
from ..core.registry import UFUNCS as _UFUNCS
from ..core.tensor import Tensor as _Tensor
from ..ops import special as _ops_special
from ..ops.elementwise import conj as _conj
from ..ops.elementwise import where_prim as _where
from ..ops.util import set_rules as _set_rules
from ..ops.util import unbroadcast as _unbroadcast
from ..ops.util import value as _value

__all__ = ["RULES", "DERIVATIVES", "FUNCTIONS", "polygamma", "multigammaln", "logsumexp",
           "softmax", "log_softmax", "softplus", "comb", "factorial"]

RULES: dict[str, _Primitive] = {}       # scipy.special NAME -> the primitive its ufunc dispatches to
DERIVATIVES: dict[str, str] = {}       # NAME -> its derivative, as the coverage page states it
FUNCTIONS: dict[str, str] = {}         # the non-ufunc functions of this namespace -> how

_SQRT_PI = _math.sqrt(_math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI
_SQRT_2PI = _math.sqrt(2.0 * _math.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI


def _refuse(name: str, arg: str, why: str) -> _Callable:
    """A rule for an argument that is not differentiated: asking for it raises."""
    def rule(t: _Any, ans: _Any, *args: _Any, **kw: _Any) -> _Any:
        raise NotImplementedError(
            f"scipy.special.{name}: no derivative with respect to {arg} ({why}). Pass {arg} "
            f"as a plain array or {arg}.detach(); the other arguments are differentiated.")

    return rule


def _register(name: str, vjps: tuple, jvps: tuple, deriv: str, saves_ans: bool = True,
              kinked: bool = False, uf: _Any = None, nondiff: bool = False) -> _Primitive:
    uf = getattr(_sc, name) if uf is None else uf
    if not isinstance(uf, _np.ufunc):  # pragma: no cover - a SciPy that made it a function
        raise TypeError(f"scipy.special.{name} is not a ufunc in this SciPy")
    p = _Primitive(uf, f"scipy.special.{name}", saves_ans=saves_ans, broadcast_tangents=True,
                   nondiff=nondiff)
    p.methods = ()
    p.nonlinear = False
    p.kinked = kinked
    _set_rules(p, vjps, jvps)
    p.__module__ = __name__
    _UFUNCS[uf] = p
    RULES[name] = p
    DERIVATIVES[name] = deriv
    if getattr(_sc, name, None) is uf:
        globals()[name] = uf
        __all__.append(name)
    return p


def _unary(name: str, d: _Callable, deriv: str, saves_ans: bool = True,
           kinked: bool = False) -> _Primitive:
    """f(x) from f'(x) = d(ans, x) (holomorphic where SciPy takes complex input)."""
    return _register(
        name,
        (lambda g, ans, x: g * _conj(d(ans, x)),),
        (lambda t, ans, x: t * d(ans, x),),
        deriv, saves_ans, kinked)


def _nary(name: str, partials: tuple, deriv: str, why: str = "", saves_ans: bool = True,
          kinked: bool = False, uf: _Any = None) -> _Primitive:
    """f(*args) (broadcasting) from its partials, each ``d(ans, *args)`` or, for an argument
    that is not differentiated, its name (a derivative asked of it raises, saying ``why``)."""
    def v(i: int, d: _Any) -> _Callable:
        if isinstance(d, str):
            return _refuse(name, d, why)

        def vjp(g: _Any, ans: _Any, *args: _Any) -> _Any:
            return _unbroadcast(args[i], g * _conj(d(ans, *args)))

        return vjp

    def j(d: _Any) -> _Callable:
        if isinstance(d, str):
            return _refuse(name, d, why)
        return lambda t, ans, *args: t * d(ans, *args)

    return _register(name, tuple(v(i, d) for i, d in enumerate(partials)),
                     tuple(j(d) for d in partials), deriv, saves_ans, kinked, uf)


def _binary(name: str, dx: _Callable | None, dy: _Callable | None, deriv: str,
            refuse: tuple[str, str] | None = None, saves_ans: bool = True,
            kinked: bool = False) -> _Primitive:
    """f(x, y) from its partials d(ans, x, y); a None partial is refused: ``refuse`` = (the
    argument's name, why)."""
    arg, why = refuse if refuse is not None else ("", "")
    return _nary(name, (arg if dx is None else dx, arg if dy is None else dy), deriv, why,
                 saves_ans, kinked)


def _x_over(x: _Any, y: _Any) -> _Any:
    """x / y, and 0 where x == 0 (y == 0 too): the y-partial of x log y, which is 0 along
    x = 0 whatever y is."""
    both = (_value(x) == 0) & (_value(y) == 0)
    if not _np.any(both):
        return x / y
    return x / _where(both, 1.0, y)


def _sign(x: _Any) -> _Any:
    return _np.sign(_np.real(_value(x)))


# ---------------------------------------------------------------------------------
# logistic, error functions, normal distribution

# expit(x) expit(-x), not ans (1 - ans): 1 - ans rounds to 0 for x > 37
_unary("expit", lambda ans, x: ans * _sc.expit(-x), "expit(x) expit(-x)")
_unary("logit", lambda ans, x: 1 / (x * (1 - x)), "1 / (x (1 - x))", saves_ans=False)
_unary("log_expit", lambda ans, x: _sc.expit(-x), "expit(-x)", saves_ans=False)
_unary("erf", lambda ans, x: _TWO_OVER_SQRT_PI * _np.exp(-x * x), "2/sqrt(pi) exp(-x^2)",
       saves_ans=False)
_unary("erfc", lambda ans, x: -_TWO_OVER_SQRT_PI * _np.exp(-x * x), "-2/sqrt(pi) exp(-x^2)",
       saves_ans=False)
_unary("erfinv", lambda ans, x: (_SQRT_PI / 2) * _np.exp(ans * ans),
       "sqrt(pi)/2 exp(erfinv(x)^2)")
_unary("erfcinv", lambda ans, x: (-_SQRT_PI / 2) * _np.exp(ans * ans),
       "-sqrt(pi)/2 exp(erfcinv(x)^2)")
# erfcx' = 2 x erfcx(x) - 2/sqrt(pi) cancels for large x (its relative error grows like x^2);
# for x > 10 the derivative of erfcx's asymptotic series sum_n (-1)^n (2n-1)!! / (2^n sqrt(pi))
# x^-(2n+1), 20 terms (the rest is below 1e-22 there)
_ERFCX_BIG = 10.0
_ERFCX_TAIL = [(-1) ** (n + 1) * _math.prod(range(2 * n - 1, 0, -2)) * (2 * n + 1) / 2 ** n
               / _SQRT_PI for n in range(20)]


def _erfcx_d(ans: _Any, x: _Any) -> _Any:
    direct = 2 * x * ans - _TWO_OVER_SQRT_PI
    big = _np.real(_value(x)) > _ERFCX_BIG
    if not _np.any(big):
        return direct
    r = 1 / _where(big, x, _ERFCX_BIG) ** 2
    tail = 0.0
    for c in reversed(_ERFCX_TAIL):  # Horner in r: sum_n c_n r^(n+1)
        tail = (tail + c) * r
    return _where(big, tail, direct)


_unary("erfcx", _erfcx_d, "2 x erfcx(x) - 2/sqrt(pi) (its asymptotic series for x > 10)")
_unary("dawsn", lambda ans, x: 1 - 2 * x * ans, "1 - 2 x dawsn(x)")
# the Faddeeva function (complex): w' = -2 z w + 2i / sqrt(pi)
_unary("wofz", lambda ans, z: -2 * z * ans + 2j / _SQRT_PI, "-2 z wofz(z) + 2i/sqrt(pi) (complex)")
_binary("owens_t", lambda ans, h, a: -0.5 * _INV_SQRT_2PI * _np.exp(-0.5 * h * h)
        * _sc.erf(a * h / _math.sqrt(2.0)),
        lambda ans, h, a: _np.exp(-0.5 * h * h * (1 + a * a)) / (2 * _math.pi * (1 + a * a)),
        "-exp(-h^2/2) erf(a h / sqrt 2) / (2 sqrt(2 pi)) in h; "
        "exp(-h^2 (1 + a^2)/2) / (2 pi (1 + a^2)) in a", saves_ans=False)
_unary("ndtr", lambda ans, x: _INV_SQRT_2PI * _np.exp(-0.5 * x * x), "exp(-x^2/2) / sqrt(2 pi)",
       saves_ans=False)
# phi(x) / Phi(x) in log space: no 0/0 far in the lower tail
_unary("log_ndtr", lambda ans, x: _INV_SQRT_2PI * _np.exp(-0.5 * x * x - ans),
       "exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi)")
_unary("ndtri", lambda ans, x: _SQRT_2PI * _np.exp(0.5 * ans * ans), "sqrt(2 pi) exp(ndtri(x)^2/2)")


# ---------------------------------------------------------------------------------
# gamma family

def _polygamma_fwd(x: _Any, n: _Any = 0) -> _Any:
    return _sc.polygamma(n, x)


def _polygamma_d(x: _Any, n: _Any) -> _Any:
    return _polygamma_prim(x, n=n + 1)


_polygamma_prim = _Primitive(_polygamma_fwd, "scipy.special.polygamma", saves_ans=False,
                           broadcast_tangents=True)
_polygamma_prim.vjps[0] = lambda g, ans, x, n=0: _unbroadcast(x, g * _polygamma_d(x, n))
_polygamma_prim.jvps[0] = lambda t, ans, x, n=0: t * _polygamma_d(x, n)
_polygamma_prim.methods, _polygamma_prim.nonlinear, _polygamma_prim.kinked = (), False, False
_polygamma_prim.__module__ = __name__


def polygamma(n: _Any, x: _Any) -> _Any:
    """scipy.special.polygamma(n, x), the n-th derivative of digamma, differentiable in ``x``
    (d/dx polygamma(n, x) = polygamma(n + 1, x)); ``n`` is an integer order, never
    differentiated (a _Tensor ``n`` that carries a derivative raises)."""
    if isinstance(n, _Tensor):
        if n._node is not None or n._tangents is not None:
            raise NotImplementedError(
                "scipy.special.polygamma: no derivative with respect to the order n (an "
                "integer); pass n as a plain integer or array, or n.detach().")
        n = n._value
    n = _np.asarray(n)
    if n.dtype.kind == "f" and _np.any(n != _np.floor(n)):
        raise ValueError("scipy.special.polygamma: the order n must be an integer")
    n = n.astype(_np.int64) if n.dtype.kind in "fb" else n
    return _polygamma_prim(x, n=int(n) if n.ndim == 0 else n)


FUNCTIONS["polygamma"] = "d/dx = polygamma(n + 1, x); n (an integer) not differentiated"


def _psi1(ans: _Any, x: _Any) -> _Any:
    return _polygamma_prim(x, n=1)


_unary("gamma", lambda ans, x: ans * _sc.digamma(x), "gamma(x) digamma(x)")
_unary("gammaln", lambda ans, x: _sc.digamma(x), "digamma(x)", saves_ans=False)
_unary("loggamma", lambda ans, x: _sc.digamma(x), "digamma(x)", saves_ans=False)
_unary("rgamma", lambda ans, x: -ans * _sc.digamma(x), "-rgamma(x) digamma(x)")
_unary("digamma", _psi1, "polygamma(1, x) (also scipy.special.psi)", saves_ans=False)
psi = _sc.psi  # the same ufunc as digamma
__all__.append("psi")
_binary("beta", lambda ans, a, b: ans * (_sc.digamma(a) - _sc.digamma(a + b)),
        lambda ans, a, b: ans * (_sc.digamma(b) - _sc.digamma(a + b)),
        "beta(a, b) (digamma(a) - digamma(a + b)); likewise in b")
_binary("betaln", lambda ans, a, b: _sc.digamma(a) - _sc.digamma(a + b),
        lambda ans, a, b: _sc.digamma(b) - _sc.digamma(a + b),
        "digamma(a) - digamma(a + b); likewise in b", saves_ans=False)


def _gammainc_dx(ans: _Any, a: _Any, x: _Any) -> _Any:
    # the integrand x^(a-1) e^(-x) / gamma(a), in log space (xlogy: 0 log 0 = 0 for a = 1)
    av = _value(a)
    return _np.exp(_sc.xlogy(av - 1, x) - x - _sc.gammaln(av))


_binary("gammainc", None, _gammainc_dx, "in x: exp(-x) x^(a-1) / gamma(a); a not differentiated",
        refuse=("a", "the derivative in the shape parameter is not implemented"),
        saves_ans=False)
_binary("gammaincc", None, lambda ans, a, x: -_gammainc_dx(ans, a, x),
        "in x: -exp(-x) x^(a-1) / gamma(a); a not differentiated",
        refuse=("a", "the derivative in the shape parameter is not implemented"),
        saves_ans=False)


_binary("poch", lambda ans, z, m: ans * (_sc.digamma(z + m) - _sc.digamma(z)),
        lambda ans, z, m: ans * _sc.digamma(z + m),
        "poch(z, m) (digamma(z + m) - digamma(z)) in z; poch(z, m) digamma(z + m) in m")
_register("gammasgn", (), (), "not differentiable (the sign of gamma: a plain array comes back)",
          nondiff=True)


def _betainc_dx(ans: _Any, a: _Any, b: _Any, x: _Any) -> _Any:
    # the beta density x^(a-1) (1-x)^(b-1) / B(a, b), in log space
    av, bv = _value(a), _value(b)
    return _np.exp(_sc.xlogy(av - 1, x) + _sc.xlog1py(bv - 1, -x) - _sc.betaln(av, bv))


_nary("betainc", ("a", "b", _betainc_dx),
      "in x: x^(a-1) (1-x)^(b-1) / beta(a, b); a, b not differentiated",
      "the derivative in a shape parameter is not implemented", saves_ans=False)
_nary("hyp1f1", ("a", "b", lambda ans, a, b, x: _value(a) / _value(b)
                 * _sc.hyp1f1(_value(a) + 1, _value(b) + 1, x)),
      "in x: a/b hyp1f1(a+1, b+1, x); a, b not differentiated",
      "the derivative in a parameter is not implemented", saves_ans=False)
_nary("hyp2f1", ("a", "b", "c", lambda ans, a, b, c, z: _value(a) * _value(b) / _value(c)
                 * _sc.hyp2f1(_value(a) + 1, _value(b) + 1, _value(c) + 1, z)),
      "in z: ab/c hyp2f1(a+1, b+1, c+1, z); a, b, c not differentiated",
      "the derivative in a parameter is not implemented", saves_ans=False)
# zeta(x, q) is a Python function calling the ufunc _zeta (Hurwitz) or _riemann_zeta (q None)
_nary("zeta", ("x", lambda ans, x, q: -_value(x) * _sc.zeta(_value(x) + 1, q)),
      "Hurwitz zeta(x, q), in q: -x zeta(x+1, q); x not differentiated (nor Riemann zeta(x))",
      "the derivative in the exponent is not implemented", saves_ans=False,
      uf=_sc._ufuncs._zeta)
_riemann = _Primitive(_sc._ufuncs._riemann_zeta, "scipy.special.zeta", broadcast_tangents=True)
_riemann.vjps[0] = _riemann.jvps[0] = _refuse(
    "zeta", "x", "the derivative of Riemann's zeta(x), q None, is not implemented")
_riemann.methods, _riemann.nonlinear, _riemann.kinked = (), False, False
_UFUNCS[_sc._ufuncs._riemann_zeta] = _riemann
zeta = _sc.zeta
__all__.append("zeta")


def multigammaln(a: _Any, d: int) -> _Any:
    """scipy.special.multigammaln(a, d): log of the multivariate gamma function of dimension
    ``d``, as d(d-1)/4 log(pi) + sum_j gammaln(a - j/2), j = 0 .. d-1 (differentiable in a)."""
    if int(d) != d or d < 1:
        raise ValueError("scipy.special.multigammaln: d must be a positive integer")
    d = int(d)
    if _np.any(_value(a) <= (d - 1) / 2):
        raise ValueError("scipy.special.multigammaln: the condition a > (d-1)/2 is not met")
    out = d * (d - 1) / 4 * _math.log(_math.pi)
    for j in range(d):
        out = out + _sc.gammaln(a - j / 2)
    return out


FUNCTIONS["multigammaln"] = "sum of gammaln: differentiable in a, any order"


# ---------------------------------------------------------------------------------
# x log y and the entropies

_binary("xlogy", lambda ans, x, y: _np.log(y), lambda ans, x, y: _x_over(x, y),
        "log(y) in x; x / y in y (0 where x = 0)", saves_ans=False)
_binary("xlog1py", lambda ans, x, y: _np.log1p(y), lambda ans, x, y: _x_over(x, 1 + y),
        "log1p(y) in x; x / (1 + y) in y (0 where x = 0)", saves_ans=False)
_unary("entr", lambda ans, x: -(_np.log(x) + 1), "-(log(x) + 1)", saves_ans=False)
_binary("rel_entr", lambda ans, x, y: _np.log(x) - _np.log(y) + 1,
        lambda ans, x, y: -_x_over(x, y),
        "log(x/y) + 1 in x; -x / y in y (0 where x = 0)", saves_ans=False)
_binary("kl_div", lambda ans, x, y: _np.log(x) - _np.log(y),
        lambda ans, x, y: 1 - _x_over(x, y),
        "log(x/y) in x; 1 - x / y in y (1 where x = 0)", saves_ans=False)


# ---------------------------------------------------------------------------------
# exponential integrals

_unary("exp1", lambda ans, x: -_np.exp(-x) / x, "-exp(-x) / x", saves_ans=False)
_unary("expi", lambda ans, x: _np.exp(x) / x, "exp(x) / x", saves_ans=False)


def _expn_dx(ans: _Any, n: _Any, x: _Any) -> _Any:
    # E_n' = -E_(n-1) for n >= 1; E_0 = exp(-x)/x has E_0' = -E_0 (1 + 1/x)
    nv = _np.asarray(_value(n))
    lower = -_sc.expn(_np.maximum(nv - 1, 0), x)
    if not _np.any(nv == 0):
        return lower
    return _where(nv == 0, -ans * (1 + 1 / x), lower)


_nary("expn", ("n", _expn_dx), "in x: -expn(n-1, x) (n >= 1), -expn(0, x) (1 + 1/x) (n = 0)",
      "the order is not differentiated")


# ---------------------------------------------------------------------------------
# Bessel functions: derivatives by the recurrences, which stay in the family (exact at 0)

_unary("i0", lambda ans, x: _sc.i1(x), "i1(x)", saves_ans=False)
# i1' = (i0 + i2) / 2 (= i0 - i1/x, without the division at 0)
_unary("i1", lambda ans, x: (_sc.i0(x) + _sc.iv(2, x)) / 2, "(i0(x) + iv(2, x)) / 2",
       saves_ans=False)
_unary("i0e", lambda ans, x: _sc.i1e(x) - _sign(x) * ans, "i1e(x) - sign(x) i0e(x)", kinked=True)
_unary("i1e", lambda ans, x: (_sc.i0e(x) + _sc.ive(2, x)) / 2 - _sign(x) * ans,
       "(i0e(x) + ive(2, x)) / 2 - sign(x) i1e(x)", kinked=True)
_unary("j0", lambda ans, x: -_sc.j1(x), "-j1(x)", saves_ans=False)
_unary("j1", lambda ans, x: (_sc.j0(x) - _sc.jv(2, x)) / 2, "(j0(x) - jv(2, x)) / 2",
       saves_ans=False)
_unary("y0", lambda ans, x: -_sc.y1(x), "-y1(x)", saves_ans=False)
_unary("y1", lambda ans, x: (_sc.y0(x) - _sc.yv(2, x)) / 2, "(y0(x) - yv(2, x)) / 2",
       saves_ans=False)
_unary("k0", lambda ans, x: -_sc.k1(x), "-k1(x)", saves_ans=False)
_unary("k1", lambda ans, x: -(_sc.k0(x) + _sc.kv(2, x)) / 2, "-(k0(x) + kv(2, x)) / 2",
       saves_ans=False)
_unary("k0e", lambda ans, x: ans - _sc.k1e(x), "k0e(x) - k1e(x)")
_unary("k1e", lambda ans, x: ans - (_sc.k0e(x) + _sc.kve(2, x)) / 2,
       "k1e(x) - (k0e(x) + kve(2, x)) / 2")

_ORDER = ("v", "the order is not differentiated")


def _v(v: _Any) -> _Any:
    return _value(v)


_binary("jv", None, lambda ans, v, x: (_sc.jv(_v(v) - 1, x) - _sc.jv(_v(v) + 1, x)) / 2,
        "in x: (jv(v-1, x) - jv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
jn = _sc.jn  # the same ufunc as jv
__all__.append("jn")
_binary("yn", None, lambda ans, n, x: (_sc.yn(_v(n) - 1, x) - _sc.yn(_v(n) + 1, x)) / 2,
        "in x: (yn(n-1, x) - yn(n+1, x)) / 2", refuse=("n", "the order is not differentiated"),
        saves_ans=False)
_binary("yv", None, lambda ans, v, x: (_sc.yv(_v(v) - 1, x) - _sc.yv(_v(v) + 1, x)) / 2,
        "in x: (yv(v-1, x) - yv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
_binary("iv", None, lambda ans, v, x: (_sc.iv(_v(v) - 1, x) + _sc.iv(_v(v) + 1, x)) / 2,
        "in x: (iv(v-1, x) + iv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
_binary("kv", None, lambda ans, v, x: -(_sc.kv(_v(v) - 1, x) + _sc.kv(_v(v) + 1, x)) / 2,
        "in x: -(kv(v-1, x) + kv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
_binary("ive", None, lambda ans, v, x: (_sc.ive(_v(v) - 1, x) + _sc.ive(_v(v) + 1, x)) / 2
        - _sign(x) * ans, "in x: (ive(v-1, x) + ive(v+1, x)) / 2 - sign(x) ive(v, x)",
        refuse=_ORDER, kinked=True)
_binary("kve", None, lambda ans, v, x: ans - (_sc.kve(_v(v) - 1, x) + _sc.kve(_v(v) + 1, x)) / 2,
        "in x: kve(v, x) - (kve(v-1, x) + kve(v+1, x)) / 2", refuse=_ORDER)


# ---------------------------------------------------------------------------------
# Box-Cox transforms, the dilogarithm

# d/dlmbda boxcox = L^2 h(lmbda L), L = log x, h(u) = (u e^u - e^u + 1) / u^2 (= 1/2 at 0);
# below |u| = 0.1 h's series sum_n (n-1) u^(n-2) / n!, n = 2 .. 10 (the rest under 3e-16)
_H_SERIES = [(n - 1) / _math.factorial(n) for n in range(2, 11)]


def _boxcox_h(u: _Any) -> _Any:
    small = _np.abs(_np.real(_value(u))) < 0.1
    series = 0.0
    for c in reversed(_H_SERIES):
        series = series * u + c
    if _np.all(small):
        return series
    ub = _where(small, 1.0, u)
    direct = (ub * _np.exp(ub) - _np.expm1(ub)) / (ub * ub)
    return _where(small, series, direct)


def _boxcox_dl(L: _Any, lmbda: _Any) -> _Any:
    return L * L * _boxcox_h(lmbda * L)


_binary("boxcox", lambda ans, x, lm: x ** (lm - 1), lambda ans, x, lm: _boxcox_dl(_np.log(x), lm),
        "x^(lmbda-1) in x; L^2 h(lmbda L) in lmbda, L = log x, h(u) = (u e^u - e^u + 1)/u^2 "
        "(its series near 0: (log x)^2 / 2 at lmbda = 0)", saves_ans=False)
_binary("boxcox1p", lambda ans, x, lm: (1 + x) ** (lm - 1),
        lambda ans, x, lm: _boxcox_dl(_np.log1p(x), lm),
        "(1+x)^(lmbda-1) in x; as boxcox's in lmbda with L = log1p(x)", saves_ans=False)


def _spence_d(ans: _Any, z: _Any) -> _Any:
    # spence' = log(z) / (1 - z) = -log1p(w) / w, w = z - 1; near w = 0 its series
    w = z - 1
    small = _np.abs(_value(w)) < 1e-3
    series = -(1 - w * (1 / 2 - w * (1 / 3 - w * (1 / 4 - w * (1 / 5 - w / 6)))))
    if _np.all(small):
        return series
    wb = _where(small, 1.0, w)
    return _where(small, series, -_np.log1p(wb) / wb)


_unary("spence", _spence_d, "log(z) / (1 - z) (-1 at z = 1, by its series there)",
       saves_ans=False)


# ---------------------------------------------------------------------------------
# SciPy's Python functions (not ufuncs): chainrule's primitives (ops/special.py)

def logsumexp(a: _Any, axis: _Any = None, b: _Any = None, keepdims: bool = False,
              return_sign: bool = False) -> _Any:
    """scipy.special.logsumexp on Tensors: log(sum(b * exp(a))) over ``axis``, stably (one
    primitive; ``b`` may be a _Tensor; ``return_sign`` as in SciPy)."""
    return _ops_special.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)


def softmax(x: _Any, axis: _Any = None) -> _Any:
    """scipy.special.softmax on Tensors: exp(x) / sum(exp(x)) over ``axis`` (all when None)."""
    return _ops_special.softmax(x, axis=axis)


def log_softmax(x: _Any, axis: _Any = None) -> _Any:
    """scipy.special.log_softmax on Tensors: x - logsumexp(x) over ``axis``."""
    return _ops_special.log_softmax(x, axis=axis)


def softplus(x: _Any) -> _Any:
    """scipy.special.softplus: log(1 + exp(x)) = np.logaddexp(0, x), as SciPy computes it
    (``scipy.special.softplus(t)`` itself works on Tensors too)."""
    return _np.logaddexp(0.0, x)


FUNCTIONS["logsumexp"] = "chainrule's logsumexp primitive (`b=`, `return_sign=` as in SciPy)"
FUNCTIONS["softmax"] = "chainrule's softmax primitive"
FUNCTIONS["log_softmax"] = "chainrule's log_softmax primitive"
FUNCTIONS["softplus"] = "np.logaddexp(0, x), as SciPy computes it"


def _has_tensor(*args: _Any) -> bool:
    return any(isinstance(a, _Tensor) for a in args)


def comb(N: _Any, k: _Any, *, exact: bool = False, repetition: bool = False,
         legacy: _Any = None) -> _Any:
    """scipy.special.comb(N, k): N choose k, exp(gammaln(N + 1) - gammaln(k + 1) -
    gammaln(N - k + 1)) where 0 <= k <= N (0 elsewhere, as SciPy's); ``repetition`` is
    comb(N + k - 1, k).  Differentiable in N and k (real, as SciPy's exact=False).
    ``exact=True`` (integers) gives SciPy's value and refuses Tensors."""
    if exact:
        if _has_tensor(N, k):
            raise NotImplementedError("scipy.special.comb(exact=True): an exact integer count "
                                      "has no derivative; use exact=False")
        return _sc.comb(N, k, exact=True, repetition=repetition)
    if repetition:
        return comb(N + k - 1, k)
    nv, kv = _np.broadcast_arrays(_np.asarray(_value(N), dtype=float),
                                  _np.asarray(_value(k), dtype=float))
    ok = (kv <= nv) & (nv >= 0) & (kv >= 0)
    if not _has_tensor(N, k):
        N, k = nv, kv
    if not _np.all(ok):
        N, k = _where(ok, N, 1.0), _where(ok, k, 0.0)
    out = _np.exp(_sc.gammaln(N + 1) - _sc.gammaln(k + 1) - _sc.gammaln(N - k + 1))
    if not _np.all(ok):
        out = _where(ok, out, 0.0)
    return out if _np.ndim(_value(out)) or _has_tensor(out) else _np.float64(out)


def factorial(n: _Any, exact: bool = False, extend: str = "zero") -> _Any:
    """scipy.special.factorial(n): gamma(n + 1) (0 for n < 0, as SciPy's extend='zero');
    differentiable in n (real).  ``exact=True`` (integers) gives SciPy's value and refuses
    Tensors; extend='complex' is gamma(n + 1) everywhere."""
    if exact:
        if _has_tensor(n):
            raise NotImplementedError("scipy.special.factorial(exact=True): an exact integer "
                                      "has no derivative; use exact=False")
        return _sc.factorial(n, exact=True, extend=extend)
    if extend not in ("zero", "complex"):
        raise ValueError(f"scipy.special.factorial: extend must be 'zero' or 'complex', got "
                         f"{extend!r}")
    if not _has_tensor(n):
        n = _np.asarray(n, dtype=complex if extend == "complex" else float)
    if extend == "complex":
        out = _sc.gamma(n + 1)
    else:
        nv = _np.asarray(_value(n))
        neg = nv < 0
        out = _sc.gamma(_where(neg, 1.0, n) + 1 if _np.any(neg) else n + 1)
        if _np.any(neg):
            out = _where(neg, 0.0, out)
    return out if _np.ndim(_value(out)) or _has_tensor(out) else _np.asarray(out)[()]


FUNCTIONS["comb"] = "exp of gammaln differences (exact=False): differentiable in N and k"
FUNCTIONS["factorial"] = "gamma(n + 1), 0 for n < 0 (exact=False): differentiable in n"
