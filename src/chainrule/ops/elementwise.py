"""Elementwise primitives: one line of derivative beside each registration.

Complex convention (PyTorch's): for a real loss L of z = x + iy the gradient is
dL/dx + i dL/dy, so a holomorphic f has VJP  g -> g * conj(f'(z))  and JVP
dz -> dz * f'(z).  ``deriv`` entries give f'(z) once and serve both modes.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..core import arrays as _arrays

from ..core import primitive as P
from .util import defprim, empty_as, full_as, is_complex, register, unbroadcast, value

# ---------------------------------------------------------------------------------
# helpers used inside rules (they dispatch on plain values and Tensors alike)


def conj(x: Any) -> Any:
    return conjugate(x) if is_complex(x) else x


def _zeros_like_fwd(x: Any, dtype: Any = None) -> Any:
    return np.zeros_like(x, dtype=dtype)


def _wrap_const(fn: Callable) -> Callable:
    """Creation from a template: a constant Tensor for a Tensor template, else ndarray."""

    def impl(a: Any, *args: Any, **kw: Any) -> Any:
        from ..core.tensor import Tensor

        if isinstance(a, Tensor):
            kw.pop("subok", None)
            return Tensor._make(fn(a._value, *args, **kw), None, None)
        return fn(a, *args, **kw)

    impl.__name__ = fn.__name__
    return impl


zeros_like = register("zeros_like", _wrap_const(np.zeros_like))
ones_like = register("ones_like", _wrap_const(np.ones_like))
_full_like_const = _wrap_const(np.full_like)


def _full_like(a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True,
               shape: Any = None, **kw: Any) -> Any:
    """``np.full_like``; a Tensor fill value is differentiated (as ``cr.numpy.full``)."""
    from ..core.tensor import Tensor
    from .creation import full

    if isinstance(fill_value, Tensor):
        proto = a._value if isinstance(a, Tensor) else _arrays.asarray(a)
        return full(proto.shape if shape is None else shape, fill_value,
                    dtype=proto.dtype if dtype is None else dtype)
    return _full_like_const(a, fill_value, dtype, order, subok, shape, **kw)


full_like = register("full_like", _full_like)
empty_like = register("empty_like", _wrap_const(np.zeros_like))


# ---------------------------------------------------------------------------------
# holomorphic / real-analytic unary functions: name -> f'(x) from (ans, x)


def unary(np_fn: Any, deriv: Callable, name: str, np_names: list[str] | None = None,
          saves_ans: bool = True, nonlinear: bool = True, **flags: Any) -> Any:
    """A unary function from its derivative ``deriv(ans, x)`` = f'(x), stated once for both
    modes.  ``nonlinear`` is True by default (every such function but the unit conversions
    deg2rad and rad2deg); ``flags`` (``method=``, ``kinked=``) go to :func:`defprim`."""
    def vjp(g: Any, ans: Any, x: Any) -> Any:
        d = deriv(ans, x)
        dt = getattr(d, "dtype", None)
        if dt is not None and dt.kind != "c":  # real: conj is the identity
            return g * d
        return g * conj(d)

    return defprim(
        np_fn, name, np_names=np_names or [name], saves_ans=saves_ans,
        vjp=(vjp,),
        jvp=(lambda dx, ans, x: dx * deriv(ans, x),),
        nonlinear=nonlinear, **flags,
    )


_nd = np.ndarray


LN2 = float(np.log(2.0))
LN10 = float(np.log(10.0))

exp = unary(np.exp, lambda ans, x: ans, "exp", method=True)
exp2 = unary(np.exp2, lambda ans, x: ans * LN2, "exp2")
expm1 = unary(np.expm1, lambda ans, x: ans + 1, "expm1", method=True)
log = unary(np.log, lambda ans, x: 1 / x, "log", saves_ans=False, method=True)
log2 = unary(np.log2, lambda ans, x: 1 / (x * LN2), "log2", saves_ans=False)
log10 = unary(np.log10, lambda ans, x: 1 / (x * LN10), "log10", saves_ans=False)
log1p = unary(np.log1p, lambda ans, x: 1 / (x + 1), "log1p", saves_ans=False, method=True)
sqrt = unary(np.sqrt, lambda ans, x: 0.5 / ans, "sqrt", method=True)
cbrt = unary(np.cbrt, lambda ans, x: 1 / (3 * ans * ans), "cbrt")
square = unary(np.square, lambda ans, x: 2 * x, "square", saves_ans=False, method=True)
reciprocal = unary(np.reciprocal, lambda ans, x: -(ans * ans), "reciprocal")
# on a plain array the primitive is the NumPy call: skip the dispatch (first order)
sin = unary(np.sin, lambda ans, x: np.cos(x) if x.__class__ is _nd else cos(x), "sin",
            saves_ans=False, method=True)
cos = unary(np.cos, lambda ans, x: -(np.sin(x) if x.__class__ is _nd else sin(x)), "cos",
            saves_ans=False, method=True)
tan = unary(np.tan, lambda ans, x: 1 + ans * ans, "tan", method=True)
arcsin = unary(np.arcsin, lambda ans, x: 1 / sqrt(1 - x * x), "arcsin", ["arcsin", "asin"],
               saves_ans=False)
arccos = unary(np.arccos, lambda ans, x: -1 / sqrt(1 - x * x), "arccos", ["arccos", "acos"],
               saves_ans=False)
arctan = unary(np.arctan, lambda ans, x: 1 / (1 + x * x), "arctan", ["arctan", "atan"],
               saves_ans=False)
sinh = unary(np.sinh, lambda ans, x: np.cosh(x) if x.__class__ is _nd else cosh(x), "sinh",
             saves_ans=False)
cosh = unary(np.cosh, lambda ans, x: np.sinh(x) if x.__class__ is _nd else sinh(x), "cosh",
             saves_ans=False)
tanh = unary(np.tanh, lambda ans, x: 1 - ans * ans, "tanh", method=True)
arcsinh = unary(np.arcsinh, lambda ans, x: 1 / sqrt(x * x + 1), "arcsinh", ["arcsinh", "asinh"],
                saves_ans=False)
arccosh = unary(np.arccosh, lambda ans, x: 1 / sqrt(x * x - 1), "arccosh", ["arccosh", "acosh"],
                saves_ans=False)
arctanh = unary(np.arctanh, lambda ans, x: 1 / (1 - x * x), "arctanh", ["arctanh", "atanh"],
                saves_ans=False)
DEG = float(np.pi / 180.0)
deg2rad = unary(np.deg2rad, lambda ans, x: DEG, "deg2rad", ["deg2rad", "radians"], saves_ans=False,
                nonlinear=False)
rad2deg = unary(np.rad2deg, lambda ans, x: 1 / DEG, "rad2deg", ["rad2deg", "degrees"],
                saves_ans=False, nonlinear=False)


# sinc(x) = f_0(pi x) with f_n(z) = j_n(z) / z**n (j_n: the spherical Bessel function): an
# even, entire function with f_n'(z) = -z f_{n+1}(z).  So sinc' = -pi^2 x f_1(pi x) and every
# further derivative stays in the family, exact at x = 0 too (where the closed form
# (cos(pi x) - sinc(x)) / x is 0/0: a where() there would make the second derivative 0).


def _double_factorial(k: int) -> float:
    return float(np.prod(np.arange(k, 0, -2, dtype=np.float64)))


def _sph_scaled_series(z: np.ndarray, n: int) -> np.ndarray:
    """sum_k (-z^2/2)^k / (k! (2n+2k+1)!!), for |z| < 4 + n (at most e^4 of cancellation)."""
    q = -z * z / 2.0
    term = full_as(z, 1.0 / _double_factorial(2 * n + 1), z.dtype)
    total = term.copy()
    k = 0
    while True:
        k += 1
        term = term * q / (k * (2 * n + 2 * k + 1))
        total += term
        if not np.any(np.abs(term) > np.abs(total) * 1e-17) or k > 10_000:
            return total


def _sph_scaled_upward(z: np.ndarray, n: int) -> np.ndarray:
    """f_{k+1} = ((2k+1) f_k - f_{k-1}) / z^2 from f_{-1} = cos z, f_0 = sin z / z: stable
    for |z| >= 4 + n (the recurrence only loses accuracy below z ~ n)."""
    z2 = z * z
    prev, cur = np.cos(z), np.sin(z) / z
    for k in range(n):
        prev, cur = cur, ((2 * k + 1) * cur - prev) / z2
    return cur


def _sph_scaled_fwd(z: Any, n: int = 1) -> Any:
    z = _arrays.asarray(z)
    dtype = z.dtype if z.dtype.kind in "fc" else np.dtype(np.float64)
    if _arrays.lazy(z):  # the series runs until it converges: block by block, still lazy
        return z.map_blocks(_sph_scaled_fwd, n=n, dtype=dtype)
    zz = z.astype(np.result_type(dtype, np.float64))
    out = empty_as(zz, zz.dtype)
    small = np.abs(zz) < 4.0 + n
    if np.any(small):
        out[small] = _sph_scaled_series(zz[small], n)
    if not np.all(small):
        out[~small] = _sph_scaled_upward(zz[~small], n)
    return out.astype(dtype, copy=False)


def _sph_scaled_deriv(z: Any, n: int) -> Any:
    return -z * sph_scaled(z, n=n + 1)


sph_scaled = defprim(
    _sph_scaled_fwd, "sph_scaled", saves_ans=False,
    vjp=(lambda g, ans, z, n=1: g * conj(_sph_scaled_deriv(z, n)),),
    jvp=(lambda dz, ans, z, n=1: dz * _sph_scaled_deriv(z, n),),
)
sph_scaled.__doc__ = "j_n(z) / z**n (spherical Bessel, n >= 0): even, entire, smooth at 0."

PI2 = float(np.pi ** 2)
sinc = unary(np.sinc, lambda ans, x: -PI2 * x * sph_scaled(np.pi * x, n=1), "sinc",
             saves_ans=False)

# ---------------------------------------------------------------------------------
# linear unary functions: their JVP is themselves


negative = defprim(np.negative, "negative", np_names="negative", saves=(), saves_ans=False,
                   linear=True, vjp=(lambda g, ans, x: -g,))
positive = defprim(np.positive, "positive", np_names="positive", saves=(), saves_ans=False,
                   linear=True, vjp=(lambda g, ans, x: g,))
conjugate = defprim(np.conjugate, "conjugate", np_names=["conjugate", "conj"], saves=(),
                    saves_ans=False, linear=True, method=True,
                    vjp=(lambda g, ans, x: conjugate(g),))
real = defprim(np.real, "real", np_names="real", saves=(), saves_ans=False, linear=True,
               vjp=(lambda g, ans, x: g,))
# L = imag(z) = y: dL/dx + i dL/dy = i
imag = defprim(np.imag, "imag", np_names="imag", saves=(), saves_ans=False, linear=True,
               vjp=(lambda g, ans, x: g * 1j,))


def _astype_fwd(x: Any, dtype: Any = None, copy: bool = True) -> Any:
    return _arrays.asarray(x).astype(dtype, copy=copy)


astype_prim = defprim(_astype_fwd, "astype", saves=(), saves_ans=False, linear=True,
                      vjp=(lambda g, ans, x, dtype=None, copy=True: g,))


def astype(x: Any, dtype: Any = None, copy: bool = True) -> Any:
    """``x.astype(dtype)``; to an integer or boolean dtype the result is a constant.

    A cast to integers is piecewise constant (derivative zero almost everywhere), so
    passing the cotangent through it would be silently wrong: ``int(x) * x`` would get
    ``int(x) + x``.  Like PyTorch, the graph is cut there: a Tensor in gives a Tensor
    that needs no gradient (a plain array in, a plain array out).

    NumPy's ``copy``: with ``copy=False`` the result may be the input itself (then it shares
    the input's version counter, as every alias does).
    """
    dt = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    if dt.kind in "fc":
        return astype_prim(x, dtype=dt) if copy else astype_prim(x, dtype=dt, copy=False)
    if isinstance(x, P.Tensor):
        v = _astype_fwd(x._value, dt, copy)
        t = P.Tensor._make(v, None, None)
        if v is x._value or np.may_share_memory(v, x._value):
            t._version = x._version
            t._node_version = x._version[0]
        return t
    return _astype_fwd(x, dt, copy)


def _np_astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    return astype(x, dtype=dtype, copy=copy)


register("astype", _np_astype)


def _real_if_close(x: Any, tol: float = 100) -> Any:
    return np.real_if_close(x, tol=tol)


real_if_close = defprim(_real_if_close, "real_if_close", np_names="real_if_close", saves=(),
                        saves_ans=False, linear=True, vjp=(lambda g, ans, x, tol=100: g,))


def _abs_vjp(g: Any, ans: Any, x: Any) -> Any:
    if is_complex(x):
        # d|z|: (x + iy)/|z|; 0 at z = 0 (PyTorch's choice)
        safe = where(value(ans) == 0, 1.0, ans)
        return where(value(ans) == 0, 0.0, g * x / safe)
    return g * sign(x)


def _abs_jvp(dx: Any, ans: Any, x: Any) -> Any:
    if is_complex(x):
        safe = where(value(ans) == 0, 1.0, ans)
        return where(value(ans) == 0, 0.0, real(conj(x) * dx) / safe)
    return dx * sign(x)


absolute = defprim(np.absolute, "absolute", np_names=["absolute", "abs"], saves_ans=True,
                   method="abs", kinked=True, vjp=(_abs_vjp,), jvp=(_abs_jvp,))
fabs = defprim(np.fabs, "fabs", np_names="fabs", saves_ans=False, kinked=True,
               vjp=(lambda g, ans, x: g * sign(x),), jvp=(lambda dx, ans, x: dx * sign(x),))


def _angle_fwd(z: Any, deg: bool = False) -> Any:
    return np.angle(z, deg=deg)


def _angle_scale(deg: bool) -> float:
    return 1 / DEG if deg else 1.0


def _angle_vjp(g: Any, ans: Any, z: Any, deg: bool = False) -> Any:
    if not is_complex(z):
        return zeros_like(g)
    # angle = atan2(y, x):  dL/dx + i dL/dy = g * (-y + i x)/|z|^2 = g * i z / |z|^2
    r2 = real(z * conj(z))
    safe = where(value(r2) == 0, 1.0, r2)
    return where(value(r2) == 0, 0.0, g * _angle_scale(deg) * 1j * z / safe)


def _angle_jvp(dz: Any, ans: Any, z: Any, deg: bool = False) -> Any:
    if not is_complex(z):
        return zeros_like(ans)
    r2 = real(z * conj(z))
    safe = where(value(r2) == 0, 1.0, r2)
    return where(value(r2) == 0, 0.0, _angle_scale(deg) * imag(conj(z) * dz) / safe)


angle = defprim(_angle_fwd, "angle", np_names="angle", saves_ans=False,
                vjp=(_angle_vjp,), jvp=(_angle_jvp,))

# ---------------------------------------------------------------------------------
# binary functions (broadcasting): binary() states each partial derivative once

_F64 = np.dtype(np.float64)


def _partial_rules(d: Any, first: bool, keep_ans: bool) -> tuple:
    """The VJP and JVP rules of one argument (x if ``first``, else y) of f(x, y) from its
    tangent map ``d`` (t, ans, x, y) -> df/d(arg) * t, the number 1 or -1, or None."""
    if d is None:
        return None, None
    if d.__class__ is int and d in (1, -1):
        # (g.shape == x.shape: unbroadcast's own first test, without its call)
        if d == 1 and first:
            def vjp(g: Any, ans: Any, x: Any, y: Any) -> Any:
                return g if g.shape == getattr(x, "shape", None) else unbroadcast(x, g)
        elif d == 1:
            def vjp(g: Any, ans: Any, x: Any, y: Any) -> Any:
                return g if g.shape == getattr(y, "shape", None) else unbroadcast(y, g)
        elif first:
            def vjp(g: Any, ans: Any, x: Any, y: Any) -> Any:
                return unbroadcast(x, -g)
        else:
            def vjp(g: Any, ans: Any, x: Any, y: Any) -> Any:
                return unbroadcast(y, -g)
        return vjp, (lambda t, ans, x, y: t) if d == 1 else (lambda t, ans, x, y: -t)
    if not callable(d):
        raise TypeError(f"binary(): a partial is a function (t, ans, x, y), 1, -1 or None, "
                        f"not {d!r}")

    # the adjoint of t -> d * t is g -> conj(d) * g = conj(d(conj(g))), which is d(g) where
    # that is real (the usual case: one test) and conj(d(g)) for a real g.  A result of the
    # argument's shape needs no unbroadcast (tested here: this is the hot path of x * c)
    def vjp(g: Any, ans: Any, x: Any, y: Any) -> Any:
        a = ans if keep_ans else None
        r = d(g, a, x, y)
        dt = r.dtype
        if dt is not _F64 and dt.kind == "c":
            r = conjugate(d(conjugate(g), a, x, y)) if g.dtype.kind == "c" else conjugate(r)
        z = x if first else y  # the argument this cotangent belongs to
        return r if z.__class__ is _nd and r.shape == z.shape else unbroadcast(z, r)

    return vjp, d


def binary(np_fn: Any, name: str, dx: Any, dy: Any, *, np_names: str | list[str] | None = None,
           saves_ans: bool = True, linear: bool = False, **options: Any) -> Any:
    """A broadcasting function of two arguments from its partial derivatives, each stated
    once and serving both modes.  ``dx(t, ans, x, y)`` is df/dx * t, elementwise (a tangent
    t of x times the partial, broadcasting to the result: ``t * y`` for x * y, ``t / y``
    for x / y): it is the JVP rule in x, and the VJP rule is its adjoint,
    unbroadcast(x, conj(dx(conj(g)))) = unbroadcast(x, g * conj(df/dx)) (the complex
    convention of the module docstring).  ``dy`` likewise for y.

    A partial may also be 1 or -1 (add and subtract: no multiplication) or None (no
    derivative in that argument: copysign's y).  ``saves_ans=False``: the answer is not
    kept for the VJP (an in-place write into the result leaves the graph valid, as in
    PyTorch), which then calls the partials with ``ans=None``; a partial that needs the
    answer recomputes it there.  ``linear``: f is linear in (x, y) jointly, so its JVP is f
    of the tangents (no JVP rules).  ``options`` (``saves=``, ``method=``, ``nonlinear=``,
    ``kinked=`` ...) go to :func:`defprim`.
    """
    vx, jx = _partial_rules(dx, True, saves_ans)
    vy, jy = _partial_rules(dy, False, saves_ans)
    return defprim(np_fn, name, np_names=np_names or name, saves_ans=saves_ans, linear=linear,
                   vjp=(vx, vy), jvp=None if linear else (jx, jy), **options)


add = binary(np.add, "add", 1, 1, saves=(), saves_ans=False, linear=True)
subtract = binary(np.subtract, "subtract", 1, -1, saves=(), saves_ans=False, linear=True)
multiply = binary(np.multiply, "multiply", lambda t, ans, x, y: t * y,
                  lambda t, ans, x, y: t * x, saves_ans=False)
# the answer is not saved (the VJP recomputes x / y): like PyTorch, an in-place write into a
# quotient does not invalidate the graph
true_divide = binary(np.true_divide, "true_divide", lambda t, ans, x, y: t / y,
                     lambda t, ans, x, y: -t * (x / y if ans is None else ans) / y,
                     np_names=["true_divide", "divide"], saves_ans=False)


def _pow_dx(ans: Any, x: Any, y: Any) -> Any:
    # y * x**(y-1), written so that y == 0 gives 0 (not 0 * inf) at x == 0
    yv = value(y)
    if yv.__class__ is int or yv.__class__ is float or (
            np.ndim(yv) == 0 and not isinstance(yv, _arrays.TYPES)):
        if yv == 0:
            return zeros_like(x) * 0
        if yv == 2:  # x**2, the common case: 2x, without a pass of x**1
            return y * x
        return y * power(x, yv - 1)
    # only at x == y == 0 is y x**(y-1) = 0 * inf; x**0 = 1 is constant in x there.  (Masking
    # all of y == 0 would make the mixed derivative d/dy (y x**(y-1)) = 1/x there 0.)
    bad = (yv == 0) & (value(x) == 0)
    if not _arrays.maybe_any(bad):
        return y * power(x, y - 1)
    return where(bad, 0.0, y * power(x, where(bad, 1, y - 1)))


def _pow_dy(ans: Any, x: Any, y: Any) -> Any:
    # x**y * log(x); 0 where x == 0 < y (0**y = 0 near such y: the limit, PyTorch's value).
    # For y <= 0 the limit as x -> 0+ is -inf (also in mixed derivatives: d/dy of
    # y x**(y-1) at y = 1), which the formula gives.
    zero = (value(x) == 0) & (value(y) > 0)
    if not _arrays.maybe_any(zero):
        return ans * log(x)
    return where(zero, 0.0, ans * log(where(zero, 1.0, x)))


def _power_partials(recompute: Callable) -> tuple:
    """x**y's partials, shared by power and float_power; ``recompute(x, y)`` gives x**y in
    the VJP, where the answer is not saved."""
    return (lambda t, ans, x, y: t * _pow_dx(ans, x, y),
            lambda t, ans, x, y: t * _pow_dy(recompute(x, y) if ans is None else ans, x, y))


# The answer is not saved: only the exponent's rule needs it, and recomputes it, so an
# in-place write into a power (y = t**3; y[0] = b) leaves the graph valid, as in PyTorch.
# (nonlinear=(0,): x**n and its derivative n x**(n-1) share the base, not the exponent)
power = binary(np.power, "power", *_power_partials(lambda x, y: power(x, y)),
               np_names=["power", "pow"], saves_ans=False, nonlinear=(0,))
float_power = binary(np.float_power, "float_power",
                     *_power_partials(lambda x, y: float_power(x, y)), saves_ans=False,
                     nonlinear=(0,))


def _select_weights(x: Any, y: Any, pick_x: Callable) -> tuple[Any, Any]:
    """Weights of x and y in max/min: 1/0 where one wins, 1/2 each on a tie (PyTorch)."""
    xv, yv = value(x), value(y)
    wx = np.where(xv == yv, 0.5, pick_x(xv, yv).astype(float))
    return wx, 1.0 - wx


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _zero_where(g: Any, drop: Any) -> Any:
    """``np.where(drop, 0, g)`` for a real float ndarray g, bit for bit (+0.0 where drop; g,
    inf and NaN included, elsewhere), as one integer multiply of g's bits by ``~drop``: a
    fresh array, at about a third of np.where's cost on a large random mask (below a few
    thousand elements np.where's one call is cheaper than three)."""
    u = _UINT.get(g.dtype.itemsize)
    if u is None or g.size < 2048:  # (and long double)
        return np.where(drop, g.dtype.type(0), g)
    return (g.view(u) * ~drop).view(g.dtype)


def _maxmin(np_fn: Any, name: str, pick_x: Callable, nan_aware: bool = False) -> Any:
    def weights(x: Any, y: Any) -> tuple[Any, Any]:
        wx, wy = _select_weights(x, y, pick_x)
        if nan_aware:  # fmax/fmin: the non-NaN argument is the answer
            xn, yn = np.isnan(value(x)), np.isnan(value(y))
            wx = np.where(xn, 0.0, np.where(yn, 1.0, wx))
            wy = np.where(yn, 0.0, np.where(xn, 1.0, wy))
        else:  # maximum/minimum propagate NaN: the NaN argument is the answer
            xn, yn = np.isnan(value(x)), np.isnan(value(y))
            wx = np.where(xn, 1.0, np.where(yn, 0.0, wx))
            wy = np.where(yn & ~xn, 1.0, np.where(xn, 0.0, wy))
        return wx, wy

    def dtype_w(w: Any, ref: Any) -> Any:
        dt = getattr(ref, "dtype", None)
        return w.astype(dt) if dt is not None and dt.kind in "fc" else w

    # the other argument wins where other_wins(this, other) (maximum: this < other)
    other_wins = None if nan_aware else (np.less if pick_x is np.greater else np.greater)

    def fast(g: Any, ans: Any, a: Any, b: Any) -> Any:
        """g times a's weight when the other argument b is one number that is not NaN (ReLU
        as np.maximum(0, z)), first order, real floats: None when that does not apply.
        a's weight: 1 where a wins or is NaN, 1/2 on ties, 0 where b wins."""
        arr = _arrays.CLASSES
        if (other_wins is None or g.__class__ not in arr or a.__class__ not in arr
                or g.dtype.kind != "f" or g.dtype != ans.dtype or a.dtype.kind != "f"
                or g.shape != a.shape):
            return None
        bv = b
        if b.__class__ is not float:
            if b.__class__ is int:
                bv = float(b)
            elif (b.__class__ is np.ndarray or isinstance(b, np.generic)) and b.ndim == 0 \
                    and b.dtype.kind in "fiub":
                bv = b.item()
            else:
                return None
        if bv != bv:  # NaN: b is the answer everywhere (the general rule handles it)
            return None
        r = _zero_where(g, other_wins(a, bv))
        eq = a == bv
        if _arrays.lazy(eq):  # (no mask writes into a lazy array)
            return np.where(eq, r * 0.5, r)
        if eq.any():
            r[eq] *= 0.5
        return r

    def vjp_x(g: Any, ans: Any, x: Any, y: Any) -> Any:
        r = fast(g, ans, x, y)
        return r if r is not None else unbroadcast(x, g * dtype_w(weights(x, y)[0], ans))

    def vjp_y(g: Any, ans: Any, x: Any, y: Any) -> Any:
        r = fast(g, ans, y, x)
        return r if r is not None else unbroadcast(y, g * dtype_w(weights(x, y)[1], ans))

    def jvp_x(dx: Any, ans: Any, x: Any, y: Any) -> Any:
        r = fast(dx, ans, x, y)
        return r if r is not None else dx * dtype_w(weights(x, y)[0], ans)

    def jvp_y(dy: Any, ans: Any, x: Any, y: Any) -> Any:
        r = fast(dy, ans, y, x)
        return r if r is not None else dy * dtype_w(weights(x, y)[1], ans)

    return defprim(np_fn, name, np_names=name, saves_ans=False, kinked=True,
                   vjp=(vjp_x, vjp_y), jvp=(jvp_x, jvp_y))


maximum = _maxmin(np.maximum, "maximum", np.greater)
minimum = _maxmin(np.minimum, "minimum", np.less)
fmax = _maxmin(np.fmax, "fmax", np.greater, nan_aware=True)
fmin = _maxmin(np.fmin, "fmin", np.less, nan_aware=True)


def _over_norm(t: Any, h: Any) -> Any:
    """t / h for the 2-norm h = hypot(x, y); 0 where h == 0, the origin, where the norm's
    derivative is taken to be 0 (the norms' convention, never 0/0 = NaN)."""
    zero = value(h) == 0
    if not _arrays.maybe_any(zero):
        return t / h
    return where_prim(zero, 0.0, t / where_prim(zero, 1.0, h))


def _atan2_slope(t: Any, y: Any, x: Any) -> Any:
    # t / (x^2 + y^2), written (t/h)/h with h = hypot(x, y) (x^2 + y^2 would underflow)
    h = hypot(x, y)
    return _over_norm(_over_norm(t, h), h)


# d atan2(y, x) = (x dy - y dx) / (x^2 + y^2); 0 at the origin, where atan2 jumps (PyTorch)
arctan2 = binary(np.arctan2, "arctan2", lambda t, ans, y, x: t * _atan2_slope(x, y, x),
                 lambda t, ans, y, x: -t * _atan2_slope(y, y, x), np_names=["arctan2", "atan2"],
                 saves_ans=False, nonlinear=True)
hypot = binary(np.hypot, "hypot", lambda t, ans, x, y: t * _over_norm(x, ans),
               lambda t, ans, x, y: t * _over_norm(y, ans), nonlinear=True, kinked=True)


def _lae_share(ex: Callable, ans: Any, x: Any, y: Any) -> Any:
    """x's share ex(x - ans) of logaddexp(x, y) (ex = exp or exp2), with its limits where
    that is inf - inf: 1 where x = +inf beats y, 0 at x = -inf; equal infinities share
    equally at +inf (the tie rule of max) and get 0 at -inf (logsumexp's rule)."""
    xv, yv = value(x), value(y)
    xp, xn = np.isposinf(xv), np.isneginf(xv)
    if not _arrays.maybe_any(xp, xn):
        return ex(x - ans)
    fixed = xp | xn
    share = np.where(xp, np.where(np.isposinf(yv), 0.5, 1.0), 0.0)
    share = np.where(np.isnan(yv), np.nan, share)
    with np.errstate(invalid="ignore"):  # inf - inf where the mask throws it away
        d = x - ans
    return where_prim(fixed, share, ex(where_prim(fixed, 0.0, d)))


def _lae_partials(ex: Callable) -> tuple:
    """The partials of logaddexp (ex = exp) and logaddexp2 (ex = exp2): each argument's share."""
    return (lambda t, ans, x, y: t * _lae_share(ex, ans, x, y),
            lambda t, ans, x, y: t * _lae_share(ex, ans, y, x))


logaddexp = binary(np.logaddexp, "logaddexp", *_lae_partials(exp), nonlinear=True)
logaddexp2 = binary(np.logaddexp2, "logaddexp2", *_lae_partials(exp2), nonlinear=True)


def _floordiv(x: Any, y: Any) -> Any:
    return np.floor_divide(value(x), value(y))


# x mod y = x - floor(x / y) * y: slope 1 in x and -floor(x/y) in y (away from the jumps)
remainder = binary(np.remainder, "remainder", 1, lambda t, ans, x, y: -t * _floordiv(x, y),
                   np_names=["remainder", "mod"], saves_ans=False, kinked=True)
# fmod truncates toward zero: x - trunc(x / y) * y
fmod = binary(np.fmod, "fmod", 1, lambda t, ans, x, y: -t * np.trunc(value(x) / value(y)),
              saves_ans=False, kinked=True)


def _copysign_slope(x: Any, y: Any) -> Any:
    # |x| with the sign of y: slope sign(x) * sign(y), where sign(+0/-0 of y) follows signbit
    s = np.where(np.signbit(value(y)), -1.0, 1.0)
    return np.sign(value(x)) * s


# the sign argument enters through its sign alone: slope 0 wherever it is defined (PyTorch's
# choice too), not an error when it happens to be traced
copysign = binary(np.copysign, "copysign", lambda t, ans, x, y: t * _copysign_slope(x, y),
                  lambda t, ans, x, y: t * 0.0, saves_ans=False, kinked=True)
# ldexp(x, n) = x * 2**n for integers n (no derivative in n): linear in x, so its rule is itself
ldexp = binary(np.ldexp, "ldexp", lambda t, ans, x, n: ldexp(t, n), None, saves=(1,),
               saves_ans=False)


def _clip_fwd(x: Any, lo: Any = None, hi: Any = None) -> Any:
    return np.clip(x, lo, hi)


def _clip_mask(x: Any, lo: Any, hi: Any) -> Any:
    xv = value(x)
    if lo is None:
        return np.ones(np.shape(xv), dtype=bool) if hi is None else xv <= value(hi)
    m = xv >= value(lo)
    if hi is not None:
        m &= xv <= value(hi)  # (m is the comparison's own array: traced when xv is)
    return m


def _clip_lo_mask(x: Any, lo: Any, hi: Any) -> Any:
    m = value(x) < value(lo)
    if hi is not None:
        m = m & (value(lo) <= value(hi))
    return m


def _clip_hi_mask(x: Any, lo: Any, hi: Any) -> Any:
    return value(x) > value(hi)


clip_prim = defprim(
    _clip_fwd, "clip", saves_ans=False, kinked=True,
    vjp=(lambda g, ans, x, lo, hi: unbroadcast(x, g * _clip_mask(x, lo, hi)),
         lambda g, ans, x, lo, hi: unbroadcast(lo, g * _clip_lo_mask(x, lo, hi)),
         lambda g, ans, x, lo, hi: unbroadcast(hi, g * _clip_hi_mask(x, lo, hi))),
    jvp=(lambda dx, ans, x, lo, hi: dx * _clip_mask(x, lo, hi),
         lambda d, ans, x, lo, hi: d * _clip_lo_mask(x, lo, hi),
         lambda d, ans, x, lo, hi: d * _clip_hi_mask(x, lo, hi)),
)


def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **kw: Any) -> Any:
    if out is not None:
        raise NotImplementedError("clip(out=...) is not supported on Tensors; use the return value")
    a_min = kw.pop("min", a_min)
    a_max = kw.pop("max", a_max)
    return clip_prim(a, a_min, a_max)


register("clip", clip, method=True)


def _nan_to_num_fwd(x: Any, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    if nan == 0.0 and posinf is None and neginf is None:  # (Dask takes no keywords)
        return np.nan_to_num(x)
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


nan_to_num_prim = defprim(
    _nan_to_num_fwd, "nan_to_num", saves_ans=False,
    vjp=(lambda g, ans, x, **kw: g * np.isfinite(value(x)),),
    jvp=(lambda dx, ans, x, **kw: dx * np.isfinite(value(x)),),
)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None,
               neginf: Any = None) -> Any:
    return nan_to_num_prim(x, nan=nan, posinf=posinf, neginf=neginf)


register("nan_to_num", nan_to_num)


def _where_fwd(c: Any, x: Any, y: Any) -> Any:
    return np.where(c, x, y)


where_prim = defprim(
    _where_fwd, "where", saves=(0,), saves_ans=False,
    vjp=(None,
         lambda g, ans, c, x, y: unbroadcast(x, where_prim(c, g, zeros_like(g))),
         lambda g, ans, c, x, y: unbroadcast(y, where_prim(c, zeros_like(g), g))),
    jvp_all=lambda ts, ans, c, x, y: where_prim(
        c, zeros_like(ans) if ts[1] is None else ts[1], zeros_like(ans) if ts[2] is None else ts[2]
    ),
)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:
        return np.where(value(condition))
    return where_prim(value(condition), x, y)


register("where", where)

# ---------------------------------------------------------------------------------
# non-differentiable: plain arrays out, the gradient is cut (docs/coverage.md lists them)

NONDIFF_UFUNCS = [
    "sign", "floor", "ceil", "rint", "trunc", "isnan", "isinf", "isfinite", "signbit",
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "heaviside", "floor_divide",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift",
    "gcd", "lcm", "spacing", "nextafter",
]
for _n in NONDIFF_UFUNCS:
    defprim(getattr(np, _n), _n, np_names=_n, nondiff=True)
from ..core.registry import PRIMITIVES

sign = PRIMITIVES["sign"]


def _round(a: Any, decimals: int = 0, out: Any = None) -> Any:
    return np.round(value(a), decimals)


register(["round", "around"], _round, method="round")
register("fix", lambda x, out=None: np.fix(value(x)))
