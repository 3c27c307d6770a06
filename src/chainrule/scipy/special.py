"""Rules for ``scipy.special``: its ufuncs differentiate where they are called.

SciPy's special functions are NumPy ufuncs, so ``scipy.special.erf(t)`` on a Tensor reaches
``Tensor.__array_ufunc__`` like ``np.exp(t)`` does.  This module gives each ufunc below a
primitive (the forward is SciPy's own call) and puts it in the ufunc table; the dispatch
imports it the first time it meets a ufunc that is not NumPy's (numpy/dispatch.py), so
``import chainrule`` never imports SciPy.

Every derivative is written with differentiable operations -- most are special functions
themselves (erf' is a Gaussian, digamma' is polygamma(1, .), i0' is i1, jv' is a difference
of jv's) -- so every order works in both modes.  Arguments that are orders or shape
parameters (``n`` of polygamma, ``v`` of jv/iv/kv, ``a`` of gammainc) are not differentiated:
a derivative asked of them raises ``NotImplementedError`` naming the function.

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

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import scipy.special as sc

from ..core.primitive import Primitive
from ..core.registry import UFUNCS
from ..core.tensor import Tensor
from ..ops import special as _ops_special
from ..ops.elementwise import conj, where_prim
from ..ops.util import unbroadcast, value

__all__ = ["RULES", "DERIVATIVES", "FUNCTIONS", "polygamma", "multigammaln", "logsumexp",
           "softmax", "log_softmax", "softplus"]

RULES: dict[str, Primitive] = {}       # scipy.special NAME -> the primitive its ufunc dispatches to
DERIVATIVES: dict[str, str] = {}       # NAME -> its derivative, as the coverage page states it
FUNCTIONS: dict[str, str] = {}         # the non-ufunc functions of this namespace -> how

_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / _SQRT_2PI


def _refuse(name: str, arg: str, why: str) -> Callable:
    """A rule for an argument that is not differentiated: asking for it raises."""
    def rule(t: Any, ans: Any, *args: Any, **kw: Any) -> Any:
        raise NotImplementedError(
            f"scipy.special.{name}: no derivative with respect to {arg} ({why}); only the "
            f"other argument is differentiated. Pass {arg} as a plain array or {arg}.detach().")

    return rule


def _register(name: str, vjps: tuple, jvps: tuple, deriv: str, saves_ans: bool = True,
              kinked: bool = False) -> Primitive:
    uf = getattr(sc, name)
    if not isinstance(uf, np.ufunc):  # pragma: no cover - a SciPy that made it a function
        raise TypeError(f"scipy.special.{name} is not a ufunc in this SciPy")
    p = Primitive(uf, f"scipy.special.{name}", saves_ans=saves_ans, broadcast_tangents=True)
    p.methods = ()
    p.nonlinear = False
    p.kinked = kinked
    for i, r in enumerate(vjps):
        if r is not None:
            p.vjps[i] = r
    for i, r in enumerate(jvps):
        if r is not None:
            p.jvps[i] = r
    p.__module__ = __name__
    UFUNCS[uf] = p
    RULES[name] = p
    DERIVATIVES[name] = deriv
    globals()[name] = uf
    __all__.append(name)
    return p


def _unary(name: str, d: Callable, deriv: str, saves_ans: bool = True,
           kinked: bool = False) -> Primitive:
    """f(x) from f'(x) = d(ans, x) (holomorphic where SciPy takes complex input)."""
    return _register(
        name,
        (lambda g, ans, x: g * conj(d(ans, x)),),
        (lambda t, ans, x: t * d(ans, x),),
        deriv, saves_ans, kinked)


def _binary(name: str, dx: Callable | None, dy: Callable | None, deriv: str,
            refuse: tuple[str, str] | None = None, saves_ans: bool = True,
            kinked: bool = False) -> Primitive:
    """f(x, y) from its partials d(ans, x, y) (broadcasting); a None partial is refused:
    ``refuse`` = (the argument's name, why)."""
    def v(d: Callable | None, first: bool) -> Callable:
        if d is None:
            assert refuse is not None
            return _refuse(name, *refuse)

        def vjp(g: Any, ans: Any, x: Any, y: Any) -> Any:
            return unbroadcast(x if first else y, g * conj(d(ans, x, y)))

        return vjp

    def j(d: Callable | None) -> Callable:
        if d is None:
            assert refuse is not None
            return _refuse(name, *refuse)
        return lambda t, ans, x, y: t * d(ans, x, y)

    return _register(name, (v(dx, True), v(dy, False)), (j(dx), j(dy)), deriv, saves_ans, kinked)


def _x_over(x: Any, y: Any) -> Any:
    """x / y, and 0 where x == 0 (y == 0 too): the y-partial of x log y, which is 0 along
    x = 0 whatever y is."""
    both = (value(x) == 0) & (value(y) == 0)
    if not np.any(both):
        return x / y
    return x / where_prim(both, 1.0, y)


def _sign(x: Any) -> Any:
    return np.sign(np.real(value(x)))


# ---------------------------------------------------------------------------------
# logistic, error functions, normal distribution

_unary("expit", lambda ans, x: ans * (1 - ans), "expit(x) (1 - expit(x))")
_unary("logit", lambda ans, x: 1 / (x * (1 - x)), "1 / (x (1 - x))", saves_ans=False)
_unary("log_expit", lambda ans, x: sc.expit(-x), "expit(-x)", saves_ans=False)
_unary("erf", lambda ans, x: _TWO_OVER_SQRT_PI * np.exp(-x * x), "2/sqrt(pi) exp(-x^2)",
       saves_ans=False)
_unary("erfc", lambda ans, x: -_TWO_OVER_SQRT_PI * np.exp(-x * x), "-2/sqrt(pi) exp(-x^2)",
       saves_ans=False)
_unary("erfinv", lambda ans, x: (_SQRT_PI / 2) * np.exp(ans * ans),
       "sqrt(pi)/2 exp(erfinv(x)^2)")
_unary("erfcinv", lambda ans, x: (-_SQRT_PI / 2) * np.exp(ans * ans),
       "-sqrt(pi)/2 exp(erfcinv(x)^2)")
_unary("erfcx", lambda ans, x: 2 * x * ans - _TWO_OVER_SQRT_PI, "2 x erfcx(x) - 2/sqrt(pi)")
_unary("ndtr", lambda ans, x: _INV_SQRT_2PI * np.exp(-0.5 * x * x), "exp(-x^2/2) / sqrt(2 pi)",
       saves_ans=False)
# phi(x) / Phi(x) in log space: no 0/0 far in the lower tail
_unary("log_ndtr", lambda ans, x: _INV_SQRT_2PI * np.exp(-0.5 * x * x - ans),
       "exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi)")
_unary("ndtri", lambda ans, x: _SQRT_2PI * np.exp(0.5 * ans * ans), "sqrt(2 pi) exp(ndtri(x)^2/2)")


# ---------------------------------------------------------------------------------
# gamma family

def _polygamma_fwd(x: Any, n: Any = 0) -> Any:
    return sc.polygamma(n, x)


def _polygamma_d(x: Any, n: Any) -> Any:
    return polygamma_prim(x, n=n + 1)


polygamma_prim = Primitive(_polygamma_fwd, "scipy.special.polygamma", saves_ans=False,
                           broadcast_tangents=True)
polygamma_prim.vjps[0] = lambda g, ans, x, n=0: unbroadcast(x, g * _polygamma_d(x, n))
polygamma_prim.jvps[0] = lambda t, ans, x, n=0: t * _polygamma_d(x, n)
polygamma_prim.methods, polygamma_prim.nonlinear, polygamma_prim.kinked = (), False, False
polygamma_prim.__module__ = __name__


def polygamma(n: Any, x: Any) -> Any:
    """scipy.special.polygamma(n, x), the n-th derivative of digamma, differentiable in ``x``
    (d/dx polygamma(n, x) = polygamma(n + 1, x)); ``n`` is an integer order, never
    differentiated (a Tensor ``n`` that carries a derivative raises)."""
    if isinstance(n, Tensor):
        if n._node is not None or n._tangents is not None:
            raise NotImplementedError(
                "scipy.special.polygamma: no derivative with respect to the order n (an "
                "integer); pass n as a plain integer or array, or n.detach().")
        n = n._value
    n = np.asarray(n)
    if n.dtype.kind == "f" and np.any(n != np.floor(n)):
        raise ValueError("scipy.special.polygamma: the order n must be an integer")
    n = n.astype(np.int64) if n.dtype.kind in "fb" else n
    return polygamma_prim(x, n=int(n) if n.ndim == 0 else n)


FUNCTIONS["polygamma"] = "d/dx = polygamma(n + 1, x); n (an integer) not differentiated"


def _psi1(ans: Any, x: Any) -> Any:
    return polygamma_prim(x, n=1)


_unary("gamma", lambda ans, x: ans * sc.digamma(x), "gamma(x) digamma(x)")
_unary("gammaln", lambda ans, x: sc.digamma(x), "digamma(x)", saves_ans=False)
_unary("loggamma", lambda ans, x: sc.digamma(x), "digamma(x)", saves_ans=False)
_unary("rgamma", lambda ans, x: -ans * sc.digamma(x), "-rgamma(x) digamma(x)")
_unary("digamma", _psi1, "polygamma(1, x) (also scipy.special.psi)", saves_ans=False)
psi = sc.psi  # the same ufunc as digamma
__all__.append("psi")
_binary("beta", lambda ans, a, b: ans * (sc.digamma(a) - sc.digamma(a + b)),
        lambda ans, a, b: ans * (sc.digamma(b) - sc.digamma(a + b)),
        "beta(a, b) (digamma(a) - digamma(a + b)); likewise in b")
_binary("betaln", lambda ans, a, b: sc.digamma(a) - sc.digamma(a + b),
        lambda ans, a, b: sc.digamma(b) - sc.digamma(a + b),
        "digamma(a) - digamma(a + b); likewise in b", saves_ans=False)


def _gammainc_dx(ans: Any, a: Any, x: Any) -> Any:
    # the integrand x^(a-1) e^(-x) / gamma(a), in log space (xlogy: 0 log 0 = 0 for a = 1)
    av = value(a)
    return np.exp(sc.xlogy(av - 1, x) - x - sc.gammaln(av))


_binary("gammainc", None, _gammainc_dx, "in x: exp(-x) x^(a-1) / gamma(a); a not differentiated",
        refuse=("a", "the derivative in the shape parameter is not implemented"),
        saves_ans=False)
_binary("gammaincc", None, lambda ans, a, x: -_gammainc_dx(ans, a, x),
        "in x: -exp(-x) x^(a-1) / gamma(a); a not differentiated",
        refuse=("a", "the derivative in the shape parameter is not implemented"),
        saves_ans=False)


def multigammaln(a: Any, d: int) -> Any:
    """scipy.special.multigammaln(a, d): log of the multivariate gamma function of dimension
    ``d``, as d(d-1)/4 log(pi) + sum_j gammaln(a - j/2), j = 0 .. d-1 (differentiable in a)."""
    if int(d) != d or d < 1:
        raise ValueError("scipy.special.multigammaln: d must be a positive integer")
    d = int(d)
    if np.any(value(a) <= (d - 1) / 2):
        raise ValueError("scipy.special.multigammaln: the condition a > (d-1)/2 is not met")
    out = d * (d - 1) / 4 * math.log(math.pi)
    for j in range(d):
        out = out + sc.gammaln(a - j / 2)
    return out


FUNCTIONS["multigammaln"] = "sum of gammaln: differentiable in a, any order"


# ---------------------------------------------------------------------------------
# x log y and the entropies

_binary("xlogy", lambda ans, x, y: np.log(y), lambda ans, x, y: _x_over(x, y),
        "log(y) in x; x / y in y (0 where x = 0)", saves_ans=False)
_binary("xlog1py", lambda ans, x, y: np.log1p(y), lambda ans, x, y: _x_over(x, 1 + y),
        "log1p(y) in x; x / (1 + y) in y (0 where x = 0)", saves_ans=False)
_unary("entr", lambda ans, x: -(np.log(x) + 1), "-(log(x) + 1)", saves_ans=False)
_binary("rel_entr", lambda ans, x, y: np.log(x) - np.log(y) + 1,
        lambda ans, x, y: -_x_over(x, y),
        "log(x/y) + 1 in x; -x / y in y (0 where x = 0)", saves_ans=False)
_binary("kl_div", lambda ans, x, y: np.log(x) - np.log(y),
        lambda ans, x, y: 1 - _x_over(x, y),
        "log(x/y) in x; 1 - x / y in y (1 where x = 0)", saves_ans=False)


# ---------------------------------------------------------------------------------
# Bessel functions: derivatives by the recurrences, which stay in the family (exact at 0)

_unary("i0", lambda ans, x: sc.i1(x), "i1(x)", saves_ans=False)
# i1' = (i0 + i2) / 2 (= i0 - i1/x, without the division at 0)
_unary("i1", lambda ans, x: (sc.i0(x) + sc.iv(2, x)) / 2, "(i0(x) + iv(2, x)) / 2",
       saves_ans=False)
_unary("i0e", lambda ans, x: sc.i1e(x) - _sign(x) * ans, "i1e(x) - sign(x) i0e(x)", kinked=True)
_unary("i1e", lambda ans, x: (sc.i0e(x) + sc.ive(2, x)) / 2 - _sign(x) * ans,
       "(i0e(x) + ive(2, x)) / 2 - sign(x) i1e(x)", kinked=True)
_unary("j0", lambda ans, x: -sc.j1(x), "-j1(x)", saves_ans=False)
_unary("j1", lambda ans, x: (sc.j0(x) - sc.jv(2, x)) / 2, "(j0(x) - jv(2, x)) / 2",
       saves_ans=False)
_unary("y0", lambda ans, x: -sc.y1(x), "-y1(x)", saves_ans=False)
_unary("y1", lambda ans, x: (sc.y0(x) - sc.yv(2, x)) / 2, "(y0(x) - yv(2, x)) / 2",
       saves_ans=False)
_unary("k0", lambda ans, x: -sc.k1(x), "-k1(x)", saves_ans=False)
_unary("k1", lambda ans, x: -(sc.k0(x) + sc.kv(2, x)) / 2, "-(k0(x) + kv(2, x)) / 2",
       saves_ans=False)
_unary("k0e", lambda ans, x: ans - sc.k1e(x), "k0e(x) - k1e(x)")
_unary("k1e", lambda ans, x: ans - (sc.k0e(x) + sc.kve(2, x)) / 2,
       "k1e(x) - (k0e(x) + kve(2, x)) / 2")

_ORDER = ("v", "the order is not differentiated")


def _v(v: Any) -> Any:
    return value(v)


_binary("jv", None, lambda ans, v, x: (sc.jv(_v(v) - 1, x) - sc.jv(_v(v) + 1, x)) / 2,
        "in x: (jv(v-1, x) - jv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
_binary("yv", None, lambda ans, v, x: (sc.yv(_v(v) - 1, x) - sc.yv(_v(v) + 1, x)) / 2,
        "in x: (yv(v-1, x) - yv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
_binary("iv", None, lambda ans, v, x: (sc.iv(_v(v) - 1, x) + sc.iv(_v(v) + 1, x)) / 2,
        "in x: (iv(v-1, x) + iv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
_binary("kv", None, lambda ans, v, x: -(sc.kv(_v(v) - 1, x) + sc.kv(_v(v) + 1, x)) / 2,
        "in x: -(kv(v-1, x) + kv(v+1, x)) / 2", refuse=_ORDER, saves_ans=False)
_binary("ive", None, lambda ans, v, x: (sc.ive(_v(v) - 1, x) + sc.ive(_v(v) + 1, x)) / 2
        - _sign(x) * ans, "in x: (ive(v-1, x) + ive(v+1, x)) / 2 - sign(x) ive(v, x)",
        refuse=_ORDER, kinked=True)
_binary("kve", None, lambda ans, v, x: ans - (sc.kve(_v(v) - 1, x) + sc.kve(_v(v) + 1, x)) / 2,
        "in x: kve(v, x) - (kve(v-1, x) + kve(v+1, x)) / 2", refuse=_ORDER)


# ---------------------------------------------------------------------------------
# SciPy's Python functions (not ufuncs): chainrule's primitives (ops/special.py)

def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """scipy.special.logsumexp on Tensors: log(sum(b * exp(a))) over ``axis``, stably (one
    primitive; ``b`` may be a Tensor; ``return_sign`` as in SciPy)."""
    return _ops_special.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)


def softmax(x: Any, axis: Any = None) -> Any:
    """scipy.special.softmax on Tensors: exp(x) / sum(exp(x)) over ``axis`` (all when None)."""
    return _ops_special.softmax(x, axis=axis)


def log_softmax(x: Any, axis: Any = None) -> Any:
    """scipy.special.log_softmax on Tensors: x - logsumexp(x) over ``axis``."""
    return _ops_special.log_softmax(x, axis=axis)


def softplus(x: Any) -> Any:
    """scipy.special.softplus: log(1 + exp(x)) = np.logaddexp(0, x), as SciPy computes it
    (``scipy.special.softplus(t)`` itself works on Tensors too)."""
    return np.logaddexp(0.0, x)


FUNCTIONS["logsumexp"] = "chainrule's logsumexp primitive (`b=`, `return_sign=` as in SciPy)"
FUNCTIONS["softmax"] = "chainrule's softmax primitive"
FUNCTIONS["log_softmax"] = "chainrule's log_softmax primitive"
FUNCTIONS["softplus"] = "np.logaddexp(0, x), as SciPy computes it"
