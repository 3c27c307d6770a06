"""Rows for ops/elementwise.py: unary, binary (with broadcasting and 0-d), complex."""

import numpy as np

from harness import Row

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

T = lambda name: (lambda *a: getattr(torch, name)(*a)) if torch is not None else None
S = [(3,), ()]  # shapes: a vector and a 0-d value

ROWS = []


def unary(prim, f, low=-2.0, high=2.0, tname=None, order=2, np_name=None):
    for s in S:
        ROWS.append(Row(prim, f, [s], low, high, order=order,
                        torch_fn=T(tname) if tname else None,
                        id=f"{np_name or prim}{list(s)}"))


unary("exp", np.exp, tname="exp")
unary("exp2", np.exp2, tname="exp2")
unary("expm1", np.expm1, tname="expm1")
unary("log", np.log, 0.5, 3.0, "log")
unary("log2", np.log2, 0.5, 3.0, "log2")
unary("log10", np.log10, 0.5, 3.0, "log10")
unary("log1p", np.log1p, -0.5, 3.0, "log1p")
unary("sqrt", np.sqrt, 0.5, 3.0, "sqrt")
unary("cbrt", np.cbrt, 0.5, 3.0)
unary("square", np.square, tname="square")
unary("reciprocal", np.reciprocal, 0.5, 3.0, "reciprocal")
unary("sin", np.sin, tname="sin")
unary("cos", np.cos, tname="cos")
unary("tan", np.tan, -1.2, 1.2, "tan")
unary("arcsin", np.arcsin, -0.9, 0.9, "asin")
unary("arcsin", np.asin, -0.9, 0.9, np_name="asin")
unary("arccos", np.arccos, -0.9, 0.9, "acos")
unary("arccos", np.acos, -0.9, 0.9, np_name="acos")
unary("arctan", np.arctan, tname="atan")
unary("arctan", np.atan, np_name="atan")
unary("sinh", np.sinh, tname="sinh")
unary("cosh", np.cosh, tname="cosh")
unary("tanh", np.tanh, tname="tanh")
unary("arcsinh", np.arcsinh, tname="asinh")
unary("arcsinh", np.asinh, np_name="asinh")
unary("arccosh", np.arccosh, 1.2, 3.0, "acosh")
unary("arccosh", np.acosh, 1.2, 3.0, np_name="acosh")
unary("arctanh", np.arctanh, -0.9, 0.9, "atanh")
unary("arctanh", np.atanh, -0.9, 0.9, np_name="atanh")
unary("deg2rad", np.deg2rad, tname="deg2rad")
unary("deg2rad", np.radians, np_name="radians")
unary("rad2deg", np.rad2deg, tname="rad2deg")
unary("rad2deg", np.degrees, np_name="degrees")
unary("sinc", np.sinc, tname="sinc")
unary("negative", np.negative, tname="neg")
unary("negative", lambda x: -x, np_name="neg-operator")
unary("positive", np.positive)
unary("absolute", np.abs, tname="abs")
unary("absolute", np.absolute, np_name="absolute")
unary("fabs", np.fabs)
unary("real", np.real)
unary("imag", lambda x: np.imag(x) + x, np_name="imag")
unary("conjugate", np.conjugate)
unary("conjugate", np.conj, np_name="conj")
unary("real_if_close", np.real_if_close)
unary("angle", lambda x: np.angle(x) + x, np_name="angle-real")
unary("astype", lambda x: np.real(x.astype(np.complex128) * (1 + 2j)))
unary("nan_to_num", np.nan_to_num)

# complex rows: PyTorch's convention for the gradient of a real loss
C = np.complex128
for prim, f, tn in [("exp", np.exp, "exp"), ("sin", np.sin, "sin"), ("log", np.log, "log"),
                    ("multiply", lambda z: z * (1 - 2j) * z, None), ("absolute", np.abs, "abs"),
                    ("real", np.real, "real"), ("imag", np.imag, "imag"),
                    ("conjugate", lambda z: np.conj(z) * z, None), ("angle", np.angle, "angle"),
                    ("sqrt", np.sqrt, "sqrt"), ("tanh", np.tanh, "tanh"),
                    ("true_divide", lambda z: 1 / z, "reciprocal"),
                    ("power", lambda z: z ** 3, None)]:
    ROWS.append(Row(prim, f, [(3,)], 0.3, 1.5, order=1, dtype=C,
                    torch_fn=T(tn) if tn else None, id=f"{prim}-complex"))

BIN = [((3,), (3,)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((), (3,)), ((), ())]


def binary(prim, f, low=-2.0, high=2.0, tname=None, order=2, np_name=None):
    for sa, sb in BIN:
        ROWS.append(Row(prim, f, [sa, sb], low, high, order=order,
                        torch_fn=T(tname) if tname else None,
                        id=f"{np_name or prim}{list(sa)}{list(sb)}"))


binary("add", np.add, tname="add")
binary("add", lambda x, y: x + y, np_name="add-operator")
binary("subtract", np.subtract, tname="sub")
binary("multiply", np.multiply, tname="mul")
binary("true_divide", np.divide, 0.5, 2.0, "div")
binary("true_divide", np.true_divide, 0.5, 2.0, np_name="true_divide")
binary("power", np.power, 0.5, 2.0, "pow")
binary("power", lambda x, y: x ** y, 0.5, 2.0, np_name="pow-operator")
binary("float_power", np.float_power, 0.5, 2.0, "float_power")
binary("maximum", np.maximum, tname="maximum", order=1)
binary("minimum", np.minimum, tname="minimum", order=1)
binary("fmax", np.fmax, tname="fmax", order=1)
binary("fmin", np.fmin, tname="fmin", order=1)
binary("arctan2", np.arctan2, 0.5, 2.0, "atan2")
binary("arctan2", np.atan2, 0.5, 2.0, np_name="atan2")
binary("hypot", np.hypot, 0.5, 2.0, "hypot")
binary("logaddexp", np.logaddexp, tname="logaddexp")
binary("logaddexp2", np.logaddexp2, tname="logaddexp2")
binary("remainder", np.remainder, 0.3, 2.0, "remainder", order=1)
binary("remainder", np.mod, 0.3, 2.0, np_name="mod", order=1)
binary("fmod", np.fmod, 0.3, 2.0, "fmod", order=1)
ROWS.append(Row("copysign", np.copysign, [(3,), (3,)], 0.5, 2.0, order=1,
                args=lambda rng: [rng.uniform(0.5, 2, 3), np.array([1.0, -1.0, 2.0])], wrt=(0,)))
# the sign argument: slope 0 away from 0 (it was an error when traced)
ROWS.append(Row("copysign", np.copysign, [(3,), (3,)], order=1, id="copysign[sign]",
                args=lambda rng: [rng.uniform(-2, 2, 3), np.array([1.0, -1.5, 2.0])], wrt=(0, 1)))
# (torch.ldexp's gradient takes 2**n in integers, 0 for n < 0: the reference gets a float n)
ROWS.append(Row("ldexp", np.ldexp, [(3, 1), (4,)], wrt=(0,),
                args=lambda rng: [rng.uniform(-2, 2, (3, 1)), np.array([-2, 0, 1, 3])],
                torch_fn=(lambda x, n: torch.ldexp(x, n.to(x.dtype))) if torch is not None else None))
ROWS.append(Row("where", lambda x, y: np.where(np.array([True, False, True]), x, y),
                [(3,), (3,)], torch_fn=(lambda x, y: torch.where(torch.tensor([True, False, True]), x, y))
                if torch is not None else None))
ROWS.append(Row("where", lambda x, y: np.where(x > 0, x, y), [(2, 3), (3,)], id="where-broadcast"))
ROWS.append(Row("clip", lambda x: np.clip(x, -1.0, 1.0), [(5,)],
                args=lambda rng: [np.array([-1.5, -0.5, 0.2, 0.9, 1.7])],
                torch_fn=(lambda x: torch.clamp(x, -1.0, 1.0)) if torch is not None else None))
ROWS.append(Row("clip", lambda x, lo, hi: np.clip(x, lo, hi), [(4,), (4,), (4,)],
                args=lambda rng: [np.array([-1.5, 0.0, 0.5, 3.0]), np.array([-1.0, -1.0, 0.0, 0.0]),
                                  np.array([1.0, 1.0, 1.0, 2.0])], id="clip-array-bounds", order=1))

# not differentiable: plain arrays out
for name in ["sign", "floor", "ceil", "rint", "trunc", "isnan", "isinf", "isfinite", "signbit",
             "logical_not", "spacing"]:
    ROWS.append(Row(name, getattr(np, name), [(4,)], order=0))
for name in ["greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
             "logical_and", "logical_or", "logical_xor", "heaviside", "floor_divide", "nextafter"]:
    ROWS.append(Row(name, getattr(np, name), [(4,), (4,)], order=0))
_ints = lambda rng: [rng.integers(1, 9, 4), rng.integers(1, 9, 4)]
for name in ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "gcd", "lcm"]:
    ROWS.append(Row(name, getattr(np, name), [(4,), (4,)], order=0, args=_ints))
ROWS.append(Row("invert", np.invert, [(4,)], order=0, args=lambda rng: [rng.integers(1, 9, 4)]))

# spherical Bessel j_n(z)/z^n, the primitive behind sinc's derivatives (series below
# |z| = 4 + n, upward recurrence above)
from chainrule.ops.elementwise import sph_scaled

for _n in [0, 1, 3]:
    ROWS.append(Row("sph_scaled", lambda x, n=_n: sph_scaled(x, n=n), [(6,)], -9.0, 9.0,
                    id=f"sph_scaled-n{_n}"))

# --- special points (tests/test_special_points.py): where rules branch on values -------
from harness import Point, attach_points

A = np.array
INF, NAN = np.inf, np.nan


def points(name, *pts):
    """Attach special points to this module's rows called ``name``."""
    attach_points(ROWS, name, *pts)


def slope(values):
    """D_1 of <u, f> for an elementwise f with derivative ``values``."""
    return lambda u, *a: u * A(values)


JAX_ABS = {1: "JAX's |x| has slope 1 at 0; chainrule's (PyTorch's) 0"}
points("sinc[3]", Point([A([0.0, 1.0, -0.5])], id="0"), Point([A([1e-9, -2.0, 3.0])], id="near-0", not_jax={
           2: "JAX's sinc is (sin(pi x)/(pi x)) away from 0 exactly: its sinc''(1e-9) is 201 "
              "(cancellation), the truth -pi^2/3", 3: "the same cancellation"}))
points("sinc[]", Point([A(0.0)], id="0"))
for _n, _t in [(0, 4.0), (1, 5.0), (3, 7.0)]:
    points(f"sph_scaled-n{_n}", Point([A([0.0, _t - 1e-9, _t, -_t])], id="0-and-switch"))
for _name in ["absolute[3]", "fabs[3]"]:
    points(_name, Point([A([0.0, 1.5, -2.0])], smooth=1, expect={2: 0.0, 3: 0.0},
                        not_jax=JAX_ABS, id="0"))
points("absolute[]", Point([A(0.0)], smooth=1, expect={2: 0.0, 3: 0.0}, not_jax=JAX_ABS,
                           id="0"))
_Z = A([0j, 1 + 1j, -2 + 0.5j])
points("absolute-complex", Point(
    [_Z], order=1, smooth=0, id="0",
    expect={1: lambda u, z: u * np.where(z == 0, 0, z / np.where(z == 0, 1, np.abs(z)))}))
points("angle-complex", Point(
    [_Z], order=1, smooth=0, id="0",
    expect={1: lambda u, z: u * np.where(z == 0, 0, 1j * z / np.where(z == 0, 1, np.abs(z) ** 2))}))
# angle of a real x jumps (pi below 0, 0 from 0 up): slope 0 everywhere, the row adds x
points("angle-real[3]", Point([A([0.0, -1.0, 2.0])], smooth=0, id="0-and-negative",
                              expect={1: slope([1.0, 1.0, 1.0]), 2: 0.0, 3: 0.0},
                              not_jax={1: "JAX: NaN at 0", 2: "NaN", 3: "NaN"}))
points("arctan2[3][3]",
       Point([A([0.0, 0.0]), A([0.0, 0.0])], smooth=0, expect={1: 0.0, 2: 0.0, 3: 0.0},
             not_jax={1: "JAX: NaN at the origin", 2: "NaN", 3: "NaN"}, id="origin"),
       Point([A([0.0, 1.5, -1.0]), A([2.0, 0.0, 0.0])], id="axes"))
points("hypot[3][3]",
       Point([A([0.0, 0.0]), A([0.0, 0.0])], smooth=0, expect={1: 0.0, 2: 0.0, 3: 0.0},
             not_jax={1: "JAX: 1/2 each at the origin; chainrule 0, a norm's convention"},
             id="origin"),
       Point([A([0.0, 3.0]), A([2.0, 0.0])], id="axes"))
points("clip[(5,)]", Point(
    [A([-1.0, 1.0, 0.5, 2.0, -3.0])], smooth=0, id="bounds",
    expect={1: slope([1.0, 1.0, 1.0, 0.0, 0.0]), 2: 0.0, 3: 0.0},
    not_jax={1: "JAX splits a bound 1/2-1/2; chainrule's slope is 1 there (PyTorch)"}))
points("clip-array-bounds", Point(
    [A([-1.0, 0.5, 1.0]), A([-1.0, -1.0, -1.0]), A([1.0, 1.0, 1.0])], smooth=0, id="bounds",
    expect={1: {0: slope([1.0, 1.0, 1.0]), 1: 0.0, 2: 0.0}, 2: 0.0, 3: 0.0},
    not_jax={1: "JAX splits a bound 1/2-1/2; chainrule gives x the slope (PyTorch)"}))
points("copysign[(3,), (3,)]", Point(
    [A([0.0, 1.5, -2.0]), A([1.0, -1.0, -0.0])], smooth=1, expect={2: 0.0, 3: 0.0},
    not_jax={1: "JAX: slope 1 at x = 0; chainrule 0 (|x|'s)"}, id="0-and-minus-0"))
_TIE = [A([1.0, 2.0, -1.0, 0.5]), A([1.0, 0.5, 3.0, 0.5])]
for _name in ["maximum[3][3]", "minimum[3][3]"]:
    points(_name, Point(_TIE, smooth=1, expect={2: 0.0, 3: 0.0}, id="ties"))
for _name, _w in [("fmax[3][3]", [0.0, 1.0, 0.5, 1.0]), ("fmin[3][3]", [0.0, 1.0, 0.5, 0.0])]:
    points(_name, Point(
        [A([NAN, 1.0, 2.0, 0.5]), A([1.0, NAN, 2.0, -1.0])], smooth=0, id="nan-and-tie",
        expect={1: {0: slope(_w), 1: slope(1 - A(_w) - (A([0, 1, 0, 0]) * 0))}, 2: 0.0,
                3: 0.0},
        not_jax={1: "JAX's fmax/fmin at NaN", 2: "NaN", 3: "NaN"}))
_NOT_JAX_POW = {1: "JAX: NaN (0 * inf) at x = 0 for an array exponent", 2: "NaN", 3: "NaN"}
for _name in ["power[3][3]", "float_power[3][3]"]:
    points(_name,
           Point([A([0.0, 0.0, 0.0, 0.0]), A([0.0, 1.0, 2.0, 3.0])], wrt=(0,),
                 not_jax=_NOT_JAX_POW, id="x=0-integer-y"),
           Point([A([2.0, 0.7, 0.5]), A([0.0, 0.0, 1.0])], id="y=0"),
           Point([A([0.0, 0.0]), A([2.0, 0.5])], wrt=(1,), id="x=0<y"))
points("remainder[3][3]", Point(
    [A([3.0, 1.0]), A([1.5, 0.5])], smooth=0, id="jumps",
    expect={1: {0: slope([1.0, 1.0]), 1: lambda u, x, y: -u * np.floor(x / y)}, 2: 0.0,
            3: 0.0},
    not_jax={1: "at a jump: chainrule takes the right-continuous slope"}))
points("fmod[3][3]", Point(
    [A([3.0, -1.0]), A([1.5, 0.5])], smooth=0, id="jumps",
    expect={1: {0: slope([1.0, 1.0]), 1: lambda u, x, y: -u * np.trunc(x / y)}, 2: 0.0,
            3: 0.0},
    not_jax={1: "at a jump: chainrule takes the slope of trunc(x / y)"}))
points("nan_to_num[3]", Point([A([NAN, INF, -INF, 1.5])], smooth=0, id="nonfinite",
                              expect={1: slope([0.0, 0.0, 0.0, 1.0]), 2: 0.0, 3: 0.0},
                              not_jax={1: "JAX's nan_to_num at NaN", 2: "NaN", 3: "NaN"}))
_LX, _LY = A([INF, -INF, INF, -INF, 1.0]), A([1.0, 1.0, INF, -INF, -INF])
_JAX_INF = {1: "JAX replaces infinities by 0 in logaddexp's rule (d/dy logaddexp(inf, 1) = e)",
            2: "NaN", 3: "NaN"}
for _name in ["logaddexp[3][3]", "logaddexp2[3][3]"]:
    points(_name, Point([_LX, _LY], smooth=0, id="infinities", not_jax=_JAX_INF,
                        expect={1: {0: slope([1.0, 0.0, 0.5, 0.0, 1.0]),
                                    1: slope([0.0, 1.0, 0.5, 0.0, 0.0])}, 2: 0.0, 3: 0.0}),
           Point([A([-INF, 0.5]), A([0.3, -INF])], wrt=(0,), smooth=0, id="-inf",
                 expect={1: slope([0.0, 1.0]), 2: 0.0, 3: 0.0}))
