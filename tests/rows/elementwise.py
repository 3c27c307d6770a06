"""Rows for ops/elementwise.py: unary, binary (with broadcasting and 0-d), complex."""

import numpy as np

from harness import Row

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

T = lambda name: (lambda *a: getattr(torch, name)(*a)) if torch is not None else None  # noqa: E731
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
_ints = lambda rng: [rng.integers(1, 9, 4), rng.integers(1, 9, 4)]  # noqa: E731
for name in ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "gcd", "lcm"]:
    ROWS.append(Row(name, getattr(np, name), [(4,), (4,)], order=0, args=_ints))
ROWS.append(Row("invert", np.invert, [(4,)], order=0, args=lambda rng: [rng.integers(1, 9, 4)]))
