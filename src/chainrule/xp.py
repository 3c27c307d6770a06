"""``cr.xp``: the Python Array API standard (version 2024.12) on chainrule Tensors.

``t.__array_namespace__()`` returns this module, so code written against the standard
(``xp = array_namespace(x)``; scikit-learn with ``array_api_dispatch``, SciPy with
``SCIPY_ARRAY_API=1``, einops) runs on Tensors and is differentiated::

    import chainrule as cr

    def loss(w, X, y):
        xp = w.__array_namespace__()
        z = X @ w
        return xp.mean(xp.logaddexp(0.0, z) - y * z)

    cr.grad(loss)(w, X, y)

Every function here returns Tensors.  A differentiable result comes from chainrule's
primitives (the NumPy function is called on the Tensors and NEP 13/18 dispatch records
it, or a composition of recorded operations); a result with no derivative (comparisons,
integer and boolean results, indices) is a Tensor that needs no gradient, as
``t.astype(int)`` is.  The arguments may be Tensors, NumPy arrays and, where the standard
allows them, Python scalars.  Where the standard's semantics differ from NumPy's (the
``copy=`` keywords, ``sort(stable=, descending=)``, ``can_cast``, ``finfo``, the
``unique_*`` treatment of NaNs, ``vecdot`` and ``vector_norm`` over any axes), the standard
is followed.  The only device is ``"cpu"``.
"""

from __future__ import annotations

import builtins as _b
import math as _math
import types as _types
from collections.abc import Sequence as _Sequence
from typing import Any, NamedTuple

import numpy as _np

from .core import hooks as _hooks
from .core.tensor import Tensor
from .ops import elementwise as _E
from .ops import shape as _S
from . import numpy as _cnp

__array_api_version__ = "2024.12"

Array = Tensor
_SUPPORTED_VERSIONS = ("2021.12", "2022.12", "2023.12", "2024.12")

# ---------------------------------------------------------------------------------------
# data types and constants

# NumPy's scalar types, as NumPy's own namespace has them: they compare equal to a Tensor's
# ``dtype`` (``t.dtype == xp.float64``), and unlike ``np.dtype`` objects not to None
bool = _np.bool_  # noqa: A001  (the standard's names)
int8 = _np.int8
int16 = _np.int16
int32 = _np.int32
int64 = _np.int64
uint8 = _np.uint8
uint16 = _np.uint16
uint32 = _np.uint32
uint64 = _np.uint64
float32 = _np.float32
float64 = _np.float64
complex64 = _np.complex64
complex128 = _np.complex128

e = _math.e
inf = _math.inf
nan = _math.nan
pi = _math.pi
newaxis = None

_DTYPES = {"bool": bool, "int8": int8, "int16": int16, "int32": int32, "int64": int64,
           "uint8": uint8, "uint16": uint16, "uint32": uint32, "uint64": uint64,
           "float32": float32, "float64": float64, "complex64": complex64,
           "complex128": complex128}


# ---------------------------------------------------------------------------------------
# helpers: what comes in, what goes out


def _in(x: Any) -> Any:
    """An argument as NumPy's functions take it: Tensors and arrays as they are."""
    if isinstance(x, (Tensor, _np.ndarray)):
        return x
    if isinstance(x, _np.generic):
        return _np.asarray(x)
    return x


def _out(r: Any) -> Any:
    """A result as a Tensor (one that needs no gradient when NumPy gave a plain array)."""
    if isinstance(r, Tensor):
        return r
    if isinstance(r, (_np.ndarray, _np.generic)):
        return Tensor._make(_np.asarray(r), None, None)
    if isinstance(r, tuple):
        return tuple(_out(v) for v in r)
    if isinstance(r, list):
        return [_out(v) for v in r]
    if isinstance(r, (int, float, complex)):
        return Tensor._make(_np.asarray(r), None, None)
    return r


def _value(x: Any) -> _np.ndarray:
    """The values of ``x`` as a plain array (for results that have no derivative)."""
    return x._value if isinstance(x, Tensor) else _np.asarray(x)


def _dtype_of(x: Any) -> _np.dtype:
    if isinstance(x, _np.dtype):
        return x
    if isinstance(x, (Tensor, _np.ndarray, _np.generic)):
        return x.dtype
    if isinstance(x, type) and issubclass(x, _np.generic):
        return _np.dtype(x)
    raise TypeError(f"expected an array or a dtype, got {type(x).__name__}")


def _check_device(device: Any) -> None:
    if device is not None and device != "cpu" and not (
            isinstance(device, _Device) or getattr(device, "type", None) == "cpu"):
        raise ValueError(f"chainrule computes with NumPy on the CPU: device={device!r} is not "
                         f"available (the only device is 'cpu')")


class _Device(str):
    """The one device, ``'cpu'`` (a string, so ``x.device == 'cpu'``)."""


_CPU = _Device("cpu")


def _norm_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < _b.max(ndim, 1):
        raise IndexError(f"axis {axis} is out of bounds for an array of {ndim} dimensions")
    return axis % ndim if ndim else 0


def _axes(axis: int | tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    out = tuple(_norm_axis(a, ndim) for a in axis)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return out


# ---------------------------------------------------------------------------------------
# elementwise functions


def _unary(name: str, fn: Any) -> Any:
    def f(x: Array, /) -> Array:
        return _out(fn(_in(x)))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"The standard's ``{name}(x)``: NumPy's ``{fn.__name__}``, elementwise."
    return f


def _binary(name: str, fn: Any) -> Any:
    def f(x1: Array | complex, x2: Array | complex, /) -> Array:
        return _out(fn(_in(x1), _in(x2)))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"The standard's ``{name}(x1, x2)``: NumPy's ``{fn.__name__}``, elementwise; "
                 f"either argument may be a Python scalar.")
    return f


abs = _unary("abs", _np.absolute)  # noqa: A001
acos = _unary("acos", _np.arccos)
acosh = _unary("acosh", _np.arccosh)
asin = _unary("asin", _np.arcsin)
asinh = _unary("asinh", _np.arcsinh)
atan = _unary("atan", _np.arctan)
atanh = _unary("atanh", _np.arctanh)
bitwise_invert = _unary("bitwise_invert", _np.invert)
cos = _unary("cos", _np.cos)
cosh = _unary("cosh", _np.cosh)
exp = _unary("exp", _np.exp)
isfinite = _unary("isfinite", _np.isfinite)
isinf = _unary("isinf", _np.isinf)
isnan = _unary("isnan", _np.isnan)
log = _unary("log", _np.log)
log1p = _unary("log1p", _np.log1p)
log2 = _unary("log2", _np.log2)
log10 = _unary("log10", _np.log10)
logical_not = _unary("logical_not", _np.logical_not)
negative = _unary("negative", _np.negative)
positive = _unary("positive", _np.positive)
signbit = _unary("signbit", _np.signbit)
sin = _unary("sin", _np.sin)
sinh = _unary("sinh", _np.sinh)
square = _unary("square", _np.square)
sqrt = _unary("sqrt", _np.sqrt)
tan = _unary("tan", _np.tan)

add = _binary("add", _np.add)
atan2 = _binary("atan2", _np.arctan2)
bitwise_and = _binary("bitwise_and", _np.bitwise_and)
bitwise_left_shift = _binary("bitwise_left_shift", _np.left_shift)
bitwise_or = _binary("bitwise_or", _np.bitwise_or)
bitwise_right_shift = _binary("bitwise_right_shift", _np.right_shift)
bitwise_xor = _binary("bitwise_xor", _np.bitwise_xor)
copysign = _binary("copysign", _np.copysign)
divide = _binary("divide", _np.true_divide)
equal = _binary("equal", _np.equal)
greater = _binary("greater", _np.greater)
greater_equal = _binary("greater_equal", _np.greater_equal)
hypot = _binary("hypot", _np.hypot)
less = _binary("less", _np.less)
less_equal = _binary("less_equal", _np.less_equal)
logaddexp = _binary("logaddexp", _np.logaddexp)
logical_and = _binary("logical_and", _np.logical_and)
logical_or = _binary("logical_or", _np.logical_or)
logical_xor = _binary("logical_xor", _np.logical_xor)
maximum = _binary("maximum", _np.maximum)
minimum = _binary("minimum", _np.minimum)
multiply = _binary("multiply", _np.multiply)
nextafter = _binary("nextafter", _np.nextafter)
not_equal = _binary("not_equal", _np.not_equal)
pow = _binary("pow", _np.power)  # noqa: A001
remainder = _binary("remainder", _np.remainder)
subtract = _binary("subtract", _np.subtract)


def _integral_same(name: str, fn: Any) -> Any:
    def f(x: Array, /) -> Array:
        x = _in(x)
        if _dtype_of(x).kind in "biu":  # the standard: integers come back unchanged
            return _out(_S.copy(x) if isinstance(x, Tensor) else _np.array(x))
        return _out(fn(x))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"The standard's ``{name}(x)``: NumPy's ``{fn.__name__}``; integers unchanged."
    return f


ceil = _integral_same("ceil", _np.ceil)
floor = _integral_same("floor", _np.floor)
trunc = _integral_same("trunc", _np.trunc)
round = _integral_same("round", _np.round)  # noqa: A001


def expm1(x: Array, /) -> Array:
    """``exp(x) - 1``, accurate near 0; for complex infinities and NaNs the standard's
    special values (those of ``exp(x) - 1``; NumPy's ``expm1`` gives NaNs there)."""
    x = _in(x)
    if _dtype_of(x).kind != "c":
        return _out(_np.expm1(x))
    # + (0 - 0j): a real part of -0 becomes +0 (expm1(-0 + 0j) is +0 + 0j); nothing else moves
    bad = ~_np.isfinite(_value(x))
    if not bad.any():
        return _out(_np.expm1(x) + complex(0.0, -0.0))
    with _np.errstate(invalid="ignore", over="ignore"):
        return _out(_np.where(bad, _np.exp(x) - 1, _np.expm1(x)) + complex(0.0, -0.0))


def tanh(x: Array, /) -> Array:
    """The hyperbolic tangent; for complex ``x`` with an infinite real part, the standard's
    ``±1 ± 0j`` (the imaginary zero takes the sign of ``imag(x)``, NumPy's that of
    ``sin(2 imag(x))``)."""
    x = _in(x)
    r = _np.tanh(x)
    if _dtype_of(x).kind == "c":
        v = _value(x)
        sat = _np.isinf(v.real)
        if sat.any():  # (tanh is flat there: the derivative 0 is lost by no one)
            edge = _np.empty_like(v)
            edge.real = _np.sign(v.real)
            edge.imag = _np.copysign(0.0, v.imag)
            r = _np.where(sat, edge, r)
    return _out(r)


def floor_divide(x1: Array | complex, x2: Array | complex, /) -> Array:
    """``floor(x1 / x2)``: NumPy's ``floor_divide``, with the standard's special values
    where an argument is infinite (``inf // 2`` is ``inf``, ``1 // -inf`` is ``-0``)."""
    a, b = (x._value if isinstance(x, Tensor) else _in(x) for x in (x1, x2))
    with _np.errstate(invalid="ignore"):  # inf // 2 warns, and is mended below
        r = _np.floor_divide(a, b)  # (Python scalars stay weak in NumPy's promotion)
    if r.dtype.kind == "f":
        bad = _np.isinf(a) | _np.isinf(b)
        if _np.any(bad):
            with _np.errstate(invalid="ignore", divide="ignore"):
                r = _np.where(bad, _np.floor(_np.true_divide(a, b)), r)
    return _out(r)


def sign(x: Array, /) -> Array:
    """``sign(x)``: -1, 0 or 1; for complex ``x``, ``x / |x|`` (0 at 0)."""
    x = _in(x)
    if _dtype_of(x).kind == "c":
        mag = _np.absolute(x)
        safe = where(mag == 0, _np.ones((), mag.dtype), mag)
        return _out(_np.where(_value(mag) == 0, _np.zeros((), x.dtype), x / safe))
    return _out(_np.sign(x))


def reciprocal(x: Array, /) -> Array:
    """``1 / x``."""
    return _out(_np.reciprocal(_in(x)))


def conj(x: Array, /) -> Array:
    """The complex conjugate (a real ``x`` as it is)."""
    return _out(_np.conjugate(_in(x)))


def real(x: Array, /) -> Array:
    """The real part (a real ``x`` as it is)."""
    x = _in(x)
    if _dtype_of(x).kind != "c":
        return _out(_S.copy(x) if isinstance(x, Tensor) else _np.array(x))
    return _out(_np.real(x))


def imag(x: Array, /) -> Array:
    """The imaginary part (zeros for a real ``x``)."""
    x = _in(x)
    if _dtype_of(x).kind != "c":
        return zeros_like(x)
    return _out(_np.imag(x))


def clip(x: Array, /, min: Array | float | None = None,  # noqa: A002
         max: Array | float | None = None) -> Array:  # noqa: A002
    """``x`` clipped to ``[min, max]`` (which broadcast with ``x``); the result keeps
    ``x``'s dtype, and a Python bound outside an integer dtype's range is no bound."""
    x = _in(x)
    dt = _np.dtype(_dtype_of(x))
    out = x

    def bound(b: Any) -> Any:
        b = _in(b)
        if isinstance(b, (Tensor, _np.ndarray)) or dt.kind not in "iu":
            return b
        info = _np.iinfo(dt)
        return _np.asarray(_b.min(_b.max(b, info.min), info.max)).astype(dt)

    if min is not None:
        out = _np.maximum(out, bound(min))
    if max is not None:
        out = _np.minimum(out, bound(max))
    if out is x:
        return _out(_S.copy(x) if isinstance(x, Tensor) else _np.array(x))
    out = _out(out)
    return out if out.dtype == dt else astype(out, dt)


# ---------------------------------------------------------------------------------------
# creation functions


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None,
            copy: bool | None = None) -> Array:
    """A Tensor from ``obj`` (a Tensor keeps its history).  ``copy=True`` always copies,
    ``copy=False`` never does (``ValueError`` if it would have to), ``None`` copies a
    Tensor only when the dtype changes and always copies other data."""
    _check_device(device)
    if dtype is not None:
        dtype = _np.dtype(dtype)
    if isinstance(obj, Tensor):
        same = dtype is None or dtype == obj.dtype
        if copy is False and not same:
            raise ValueError("asarray(copy=False): a change of dtype needs a copy")
        if not same:
            return astype(obj, dtype)
        return _S.copy(obj) if copy else obj
    if copy is False:  # (NumPy raises ValueError where it would have to copy)
        return Tensor._make(_np.asarray(obj, dtype=dtype, copy=False), None, None)
    if isinstance(obj, (list, tuple)) and _holds_tensor(obj):
        return _out(_cnp.array(obj, dtype=dtype))
    if dtype is None and not isinstance(obj, (_np.ndarray, _np.generic)) and \
            not hasattr(obj, "__array__") and _is_pyscalar_tree(obj):
        dtype = _default_for_scalars(obj)
    v = _np.array(obj, dtype=dtype, copy=True)
    if v.dtype.kind not in "biufc":
        raise TypeError(f"asarray: a Tensor holds numbers, not {v.dtype}")
    return Tensor._make(v, None, None)


def _holds_tensor(x: Any) -> _b.bool:
    if isinstance(x, (list, tuple)):
        return _b.any(_holds_tensor(y) for y in x)
    return isinstance(x, Tensor)


def _is_pyscalar_tree(x: Any) -> _b.bool:
    if isinstance(x, (list, tuple)):
        return _b.all(_is_pyscalar_tree(y) for y in x)
    return isinstance(x, (_b.bool, int, float, complex))


def _default_for_scalars(x: Any) -> _np.dtype | None:
    kinds: set = set()

    def walk(y: Any) -> None:
        if isinstance(y, (list, tuple)):
            for z in y:
                walk(z)
        else:
            kinds.add(type(y))

    walk(x)
    if not kinds:
        return float64
    if complex in kinds:
        return complex128
    if float in kinds:
        return float64
    if int in kinds:
        return int64
    return bool


def arange(start: int | float, /, stop: int | float | None = None, step: int | float = 1, *,
           dtype: Any = None, device: Any = None) -> Array:
    """``[start, stop)`` in steps of ``step`` (``arange(n)``: ``[0, n)``)."""
    _check_device(device)
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = _b.all(isinstance(v, int) for v in (start, stop, step))
        dtype = int64 if ints else float64
    return _out(_cnp.arange(start, stop, step, dtype=dtype))


def _shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    return (shape,) if isinstance(shape, int) else tuple(shape)


def empty(shape: int | tuple[int, ...], *, dtype: Any = None, device: Any = None) -> Array:
    """An uninitialised array (zeros here)."""
    _check_device(device)
    return _out(_np.zeros(_shape(shape), dtype=dtype or float64))


def zeros(shape: int | tuple[int, ...], *, dtype: Any = None, device: Any = None) -> Array:
    """An array of zeros."""
    _check_device(device)
    return _out(_np.zeros(_shape(shape), dtype=dtype or float64))


def ones(shape: int | tuple[int, ...], *, dtype: Any = None, device: Any = None) -> Array:
    """An array of ones."""
    _check_device(device)
    return _out(_np.ones(_shape(shape), dtype=dtype or float64))


def full(shape: int | tuple[int, ...], fill_value: complex | Array, *, dtype: Any = None,
         device: Any = None) -> Array:
    """An array filled with ``fill_value`` (a Tensor fill value is differentiated)."""
    _check_device(device)
    if dtype is None and isinstance(fill_value, (_b.bool, int, float, complex)):
        dtype = _default_for_scalars(fill_value)
    return _out(_cnp.full(_shape(shape), _in(fill_value), dtype=dtype))


def _like(x: Array, dtype: Any) -> _np.dtype:
    return _np.dtype(dtype) if dtype is not None else _dtype_of(_in(x))


def empty_like(x: Array, /, *, dtype: Any = None, device: Any = None) -> Array:
    """An uninitialised array shaped like ``x`` (zeros here)."""
    _check_device(device)
    return _out(_np.zeros(_np.shape(_value(x)), dtype=_like(x, dtype)))


def zeros_like(x: Array, /, *, dtype: Any = None, device: Any = None) -> Array:
    """Zeros shaped like ``x``."""
    _check_device(device)
    return _out(_np.zeros(_np.shape(_value(x)), dtype=_like(x, dtype)))


def ones_like(x: Array, /, *, dtype: Any = None, device: Any = None) -> Array:
    """Ones shaped like ``x``."""
    _check_device(device)
    return _out(_np.ones(_np.shape(_value(x)), dtype=_like(x, dtype)))


def full_like(x: Array, /, fill_value: complex | Array, *, dtype: Any = None,
              device: Any = None) -> Array:
    """``fill_value`` in the shape of ``x``, with ``x``'s dtype unless ``dtype`` is given."""
    _check_device(device)
    return _out(_cnp.full(_np.shape(_value(x)), _in(fill_value), dtype=_like(x, dtype)))


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None) -> Array:
    """Ones on the ``k``-th diagonal."""
    _check_device(device)
    return _out(_np.eye(n_rows, n_cols, k=k, dtype=dtype or float64))


def linspace(start: complex | Array, stop: complex | Array, /, num: int, *, dtype: Any = None,
             device: Any = None, endpoint: _b.bool = True) -> Array:
    """``num`` evenly spaced values (Tensor endpoints are differentiated)."""
    _check_device(device)
    if dtype is None:
        cplx = _b.any(isinstance(v, complex) or _dtype_of(_np.asarray(_value(v))).kind == "c"
                      for v in (start, stop))
        dtype = complex128 if cplx else float64
    return _out(_cnp.linspace(_in(start), _in(stop), num, endpoint=endpoint, dtype=dtype))


def meshgrid(*arrays: Array, indexing: str = "xy") -> list[Array]:
    """Coordinate arrays from 1-D arrays (``indexing='xy'`` or ``'ij'``)."""
    if indexing not in ("xy", "ij"):
        raise ValueError("meshgrid: indexing must be 'xy' or 'ij'")
    arrs = [_in(a) for a in arrays]
    n = len(arrs)
    lens = [_np.shape(a)[0] if _np.ndim(a) else 1 for a in arrs]
    if indexing == "xy" and n >= 2:
        lens[0], lens[1] = lens[1], lens[0]
    out = []
    for i, a in enumerate(arrs):
        pos = i
        if indexing == "xy" and n >= 2 and i < 2:
            pos = 1 - i
        shape = [1] * n
        shape[pos] = lens[pos]
        out.append(_out(_np.broadcast_to(_np.reshape(a, shape), tuple(lens))))
    return out


def tril(x: Array, /, *, k: int = 0) -> Array:
    """The lower triangle of each matrix in ``x`` (the last two axes)."""
    return _out(_np.tril(_in(x), k=k))


def triu(x: Array, /, *, k: int = 0) -> Array:
    """The upper triangle of each matrix in ``x`` (the last two axes)."""
    return _out(_np.triu(_in(x), k=k))


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """A Tensor from any object with ``__dlpack__`` (a Tensor keeps its history)."""
    _check_device(device)
    if isinstance(x, Tensor):
        return _S.copy(x) if copy else x
    kw = {} if copy is None else {"copy": copy}
    return Tensor._make(_np.from_dlpack(x, **kw), None, None)


# ---------------------------------------------------------------------------------------
# data type functions


def astype(x: Array, dtype: Any, /, *, copy: _b.bool = True, device: Any = None) -> Array:
    """``x`` cast to ``dtype``; ``copy=False`` returns ``x`` itself when the dtype is the
    same.  A cast to an integer or boolean dtype gives a Tensor that needs no gradient."""
    _check_device(device)
    dt = _np.dtype(dtype)
    x = _in(x)
    if not isinstance(x, Tensor):
        x = Tensor._make(_np.asarray(x), None, None)
    if not copy and x.dtype == dt:
        return x
    if x.dtype.kind == "c" and dt.kind != "c":
        raise TypeError(f"astype: the standard casts no complex array to {dt} (take real() or "
                        f"abs() first)")
    return _out(_E.astype(x, dt, copy=True))


def can_cast(from_: Any, to: Any, /) -> _b.bool:
    """Whether ``from_`` (a dtype or an array) casts to ``to`` without loss: within a kind
    this is the standard's promotion table (``int8`` to ``int16``, ``uint8`` to ``int16``,
    ``float32`` to ``complex64`` ...); across kinds, which the standard leaves open, it is
    NumPy's safe casting (``bool`` to any number, ``int32`` to ``float64``)."""
    return _np.can_cast(_dtype_of(from_), _np.dtype(to), "safe")


class finfo_object(NamedTuple):
    """The standard's ``finfo`` result: Python numbers and the real dtype."""

    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: _np.dtype


class iinfo_object(NamedTuple):
    """The standard's ``iinfo`` result."""

    bits: int
    max: int
    min: int
    dtype: _np.dtype


def finfo(type: Any, /) -> finfo_object:  # noqa: A002
    """Machine limits of a floating dtype (for a complex one, its real part's)."""
    dt = _dtype_of(type)
    fi = _np.finfo(dt)
    return finfo_object(int(fi.bits), float(fi.eps), float(fi.max), float(fi.min),
                        float(fi.smallest_normal), _np.dtype(fi.dtype))


def iinfo(type: Any, /) -> iinfo_object:  # noqa: A002
    """Machine limits of an integer dtype."""
    dt = _dtype_of(type)
    ii = _np.iinfo(dt)
    return iinfo_object(int(ii.bits), int(ii.max), int(ii.min), dt)


_KINDS = {"bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
          "real floating": "f", "complex floating": "c", "numeric": "iufc"}


def isdtype(dtype: Any, kind: Any) -> _b.bool:
    """Whether ``dtype`` is of ``kind``: a dtype, one of the standard's kind names
    ('bool', 'signed integer', 'unsigned integer', 'integral', 'real floating',
    'complex floating', 'numeric') or a tuple of them."""
    dt = _np.dtype(dtype)
    if isinstance(kind, tuple):
        return _b.any(isdtype(dt, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; the standard's kinds are "
                             f"{sorted(_KINDS)}")
        return dt.kind in _KINDS[kind]
    return dt == _np.dtype(kind)


def result_type(*arrays_and_dtypes: Any) -> _np.dtype:
    """The dtype of the standard's type promotion over arrays, dtypes and Python scalars."""
    args = []
    for a in arrays_and_dtypes:
        if isinstance(a, (_b.bool, int, float, complex)):
            args.append(a)
        else:
            args.append(_dtype_of(a))
    if not _b.any(isinstance(a, _np.dtype) for a in args):
        raise TypeError("result_type: at least one array or dtype is required")
    dts = [a for a in args if isinstance(a, _np.dtype)]
    kinds = {d.kind for d in dts}
    if "b" in kinds and kinds != {"b"}:
        raise TypeError(f"result_type: the standard promotes no bool with {dts}")
    out = dts[0]
    for d in dts[1:]:
        if out.kind in "iu" and d.kind in "fc" or out.kind in "fc" and d.kind in "iu":
            raise TypeError(f"result_type: the standard promotes no integer with a floating "
                            f"type ({out}, {d})")
        out = _np.promote_types(out, d)
    for s in args:
        if isinstance(s, _np.dtype):
            continue
        if isinstance(s, _b.bool):
            continue
        if isinstance(s, int):
            if out.kind == "b":
                raise TypeError("result_type: a Python int with a bool array")
            continue
        if isinstance(s, float):
            if out.kind in "biu":
                raise TypeError("result_type: a Python float with an integer or bool array")
            continue
        if out.kind in "biu":
            raise TypeError("result_type: a Python complex with an integer or bool array")
        if out.kind == "f":
            out = _np.dtype(complex64 if out == float32 else complex128)
    return _np.dtype(out)


# ---------------------------------------------------------------------------------------
# indexing functions


def take(x: Array, indices: Array, /, *, axis: int | None = None) -> Array:
    """Elements of ``x`` at ``indices`` along ``axis`` (optional for a 1-D ``x``)."""
    x = _in(x)
    if axis is None:
        if _np.ndim(_value(x)) != 1:
            raise ValueError("take: axis is required for an array of more than one dimension")
        axis = 0
    return _out(_np.take(x, _value(indices), axis=axis))


def take_along_axis(x: Array, indices: Array, /, *, axis: int = -1) -> Array:
    """Elements of ``x`` at ``indices`` (same rank) along ``axis``."""
    return _out(_np.take_along_axis(_in(x), _value(indices), axis=axis))


# ---------------------------------------------------------------------------------------
# linear algebra functions


def matmul(x1: Array, x2: Array, /) -> Array:
    """The matrix product (``x1 @ x2``)."""
    return _out(_np.matmul(_in(x1), _in(x2)))


def matrix_transpose(x: Array, /) -> Array:
    """Each matrix in ``x`` transposed (the last two axes swapped)."""
    x = _in(x)
    if _np.ndim(_value(x)) < 2:
        raise ValueError("matrix_transpose: x must have at least two dimensions")
    return _out(_np.swapaxes(x, -1, -2))


def tensordot(x1: Array, x2: Array, /, *,
              axes: int | tuple[_Sequence[int], _Sequence[int]] = 2) -> Array:
    """The tensor contraction over ``axes``."""
    if not isinstance(axes, int):
        axes = (list(axes[0]), list(axes[1]))
    return _out(_np.tensordot(_in(x1), _in(x2), axes=axes))


def vecdot(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """``sum(conj(x1) * x2, axis=axis)`` after broadcasting."""
    a, b = _in(x1), _in(x2)
    shape = _np.broadcast_shapes(_np.shape(_value(a)), _np.shape(_value(b)))
    nd = len(shape)
    if not -nd <= axis < nd:
        raise ValueError(f"vecdot: axis {axis} out of range for the broadcast shape {shape}")
    if _np.shape(_value(a))[axis] != _np.shape(_value(b))[axis]:
        raise ValueError("vecdot: x1 and x2 must have the same size along axis")
    if _dtype_of(a).kind == "c":
        a = _np.conjugate(a)
    ab = _np.multiply(a, b)
    return _out(_np.sum(ab, axis=axis, dtype=_dtype_of(ab)))


# ---------------------------------------------------------------------------------------
# manipulation functions


def broadcast_arrays(*arrays: Array) -> list[Array]:
    """The arrays broadcast against each other."""
    return [_out(a) for a in _np.broadcast_arrays(*[_in(a) for a in arrays])]


def broadcast_to(x: Array, /, shape: tuple[int, ...]) -> Array:
    """``x`` broadcast to ``shape``."""
    return _out(_np.broadcast_to(_in(x), tuple(shape)))


def concat(arrays: tuple[Array, ...] | list[Array], /, *, axis: int | None = 0) -> Array:
    """The arrays joined along ``axis`` (``None``: flattened first)."""
    arrs = [_in(a) for a in arrays]
    if axis is None:
        arrs = [_np.reshape(a, (-1,)) for a in arrs]
        axis = 0
    return _out(_np.concatenate(arrs, axis=axis))


def expand_dims(x: Array, /, axis: int | tuple[int, ...] = 0) -> Array:
    """``x`` with new axes of size one at ``axis`` (an int or a tuple)."""
    x = _in(x)
    nd = _np.ndim(_value(x)) + (1 if isinstance(axis, int) else len(axis))
    for a in (axis,) if isinstance(axis, int) else axis:
        if not -nd <= a < nd:
            raise IndexError(f"expand_dims: axis {a} out of range")
    return _out(_np.expand_dims(x, axis))


def flip(x: Array, /, *, axis: int | tuple[int, ...] | None = None) -> Array:
    """``x`` with the order of elements reversed along ``axis``."""
    return _out(_np.flip(_in(x), axis=axis))


def moveaxis(x: Array, source: int | tuple[int, ...], destination: int | tuple[int, ...],
             /) -> Array:
    """``x`` with axes moved."""
    return _out(_np.moveaxis(_in(x), source, destination))


def permute_dims(x: Array, /, axes: tuple[int, ...]) -> Array:
    """``x`` with its axes permuted."""
    return _out(_np.transpose(_in(x), tuple(axes)))


def repeat(x: Array, repeats: int | Array, /, *, axis: int | None = None) -> Array:
    """Each element repeated ``repeats`` times along ``axis`` (``None``: flattened)."""
    x = _in(x)
    if axis is None:
        x = _np.reshape(x, (-1,))
        axis = 0
    reps = repeats if isinstance(repeats, int) else _value(repeats)
    return _out(_np.repeat(x, reps, axis=axis))


def reshape(x: Array, /, shape: tuple[int, ...], *, copy: _b.bool | None = None) -> Array:
    """``x`` in a new shape; ``copy=False`` raises ``ValueError`` when that needs a copy."""
    x = _in(x)
    shape = tuple(shape)
    if copy is False:
        v = _value(x)
        try:
            _np.reshape(v, shape, copy=False)
        except ValueError as err:
            raise ValueError(f"reshape(copy=False): {err}") from None
    if copy:
        x = _S.copy(x) if isinstance(x, Tensor) else _np.array(x)
    return _out(_np.reshape(x, shape))


def roll(x: Array, /, shift: int | tuple[int, ...], *,
         axis: int | tuple[int, ...] | None = None) -> Array:
    """``x`` rolled by ``shift`` along ``axis`` (``None``: flattened, then restored)."""
    return _out(_np.roll(_in(x), shift, axis=axis))


def squeeze(x: Array, /, axis: int | tuple[int, ...]) -> Array:
    """``x`` without the size-one axes ``axis`` (``ValueError`` if one is not size one)."""
    x = _in(x)
    shape = _np.shape(_value(x))
    ax = _axes(axis, len(shape))
    if _b.any(shape[a] != 1 for a in ax):
        raise ValueError(f"squeeze: axis {axis} of shape {shape} is not of size one")
    return _out(_np.squeeze(x, axis=ax))


def stack(arrays: tuple[Array, ...] | list[Array], /, *, axis: int = 0) -> Array:
    """The arrays joined along a new axis."""
    return _out(_np.stack([_in(a) for a in arrays], axis=axis))


def tile(x: Array, repetitions: tuple[int, ...], /) -> Array:
    """``x`` repeated ``repetitions`` times along each axis."""
    return _out(_np.tile(_in(x), tuple(repetitions)))


def unstack(x: Array, /, *, axis: int = 0) -> tuple[Array, ...]:
    """The slices of ``x`` along ``axis``, as a tuple."""
    x = _in(x)
    nd = _np.ndim(_value(x))
    if nd == 0:
        raise ValueError("unstack: x must have at least one dimension")
    ax = _norm_axis(axis, nd)
    lead = (slice(None),) * ax
    return tuple(_out(x[lead + (i,)]) for i in range(_np.shape(_value(x))[ax]))


# ---------------------------------------------------------------------------------------
# searching functions


def argmax(x: Array, /, *, axis: int | None = None, keepdims: _b.bool = False) -> Array:
    """The index of the first maximum."""
    return _out(_np.argmax(_value(x), axis=axis, keepdims=keepdims))


def argmin(x: Array, /, *, axis: int | None = None, keepdims: _b.bool = False) -> Array:
    """The index of the first minimum."""
    return _out(_np.argmin(_value(x), axis=axis, keepdims=keepdims))


def count_nonzero(x: Array, /, *, axis: int | tuple[int, ...] | None = None,
                  keepdims: _b.bool = False) -> Array:
    """The number of non-zero elements (default integer dtype)."""
    v = _value(x)
    ax = _axes(axis, v.ndim)
    r = _np.count_nonzero(v, axis=ax, keepdims=keepdims) if v.ndim else \
        _np.asarray(_np.count_nonzero(v))
    return _out(_np.asarray(r, dtype=int64))


def nonzero(x: Array, /) -> tuple[Array, ...]:
    """The indices of the non-zero elements, one array per axis."""
    v = _value(x)
    if v.ndim == 0:
        raise ValueError("nonzero: x must have at least one dimension")
    return tuple(_out(i) for i in _np.nonzero(v))


def searchsorted(x1: Array, x2: Array | complex, /, *, side: str = "left",
                 sorter: Array | None = None) -> Array:
    """Where ``x2``'s elements would go in the sorted 1-D ``x1``."""
    s = None if sorter is None else _value(sorter)
    return _out(_np.asarray(_np.searchsorted(_value(x1), _value(x2), side=side, sorter=s)))


def where(condition: Array, x1: Array | complex, x2: Array | complex, /) -> Array:
    """``x1`` where ``condition`` holds, else ``x2``."""
    return _out(_np.where(_value(condition), _in(x1), _in(x2)))


# ---------------------------------------------------------------------------------------
# set functions


class UniqueAllResult(NamedTuple):
    """``unique_all``'s result."""

    values: Array
    indices: Array
    inverse_indices: Array
    counts: Array


class UniqueCountsResult(NamedTuple):
    """``unique_counts``'s result."""

    values: Array
    counts: Array


class UniqueInverseResult(NamedTuple):
    """``unique_inverse``'s result."""

    values: Array
    inverse_indices: Array


def _unique(x: Array) -> tuple[Array, _np.ndarray, _np.ndarray, _np.ndarray]:
    """The unique values (NaNs distinct, as the standard says), differentiable (picked from
    ``x`` at the first occurrences), and the indices, inverse indices and counts."""
    x = _in(x)
    v = _value(x)
    flat = v.reshape(-1)
    _, idx, inv, cnt = _np.unique(flat, return_index=True, return_inverse=True,
                                  return_counts=True, equal_nan=False)
    if isinstance(x, Tensor):
        vals = _np.reshape(x, (-1,))[idx]
    else:
        vals = flat[idx]
    return _out(vals), idx, inv.reshape(v.shape), cnt


def unique_all(x: Array, /) -> UniqueAllResult:
    """The unique values, the index of each one's first occurrence, the inverse indices
    (``x``'s shape) and the counts."""
    vals, idx, inv, cnt = _unique(x)
    return UniqueAllResult(vals, _out(idx.astype(int64)), _out(inv.astype(int64)),
                           _out(cnt.astype(int64)))


def unique_counts(x: Array, /) -> UniqueCountsResult:
    """The unique values and their counts."""
    vals, _, _, cnt = _unique(x)
    return UniqueCountsResult(vals, _out(cnt.astype(int64)))


def unique_inverse(x: Array, /) -> UniqueInverseResult:
    """The unique values and the inverse indices (``x``'s shape)."""
    vals, _, inv, _ = _unique(x)
    return UniqueInverseResult(vals, _out(inv.astype(int64)))


def unique_values(x: Array, /) -> Array:
    """The unique values (sorted; NaNs distinct)."""
    return _unique(x)[0]


# ---------------------------------------------------------------------------------------
# sorting functions


def argsort(x: Array, /, *, axis: int = -1, descending: _b.bool = False,
            stable: _b.bool = True) -> Array:
    """The indices that sort ``x`` along ``axis``; a stable sort keeps ties in order, also
    when ``descending``."""
    v = _value(x)
    if v.ndim == 0:
        return _out(_np.zeros((), int64))
    kind = "stable" if stable else None
    if not descending:
        return _out(_np.argsort(v, axis=axis, kind=kind).astype(int64))
    n = v.shape[axis]
    rev = _np.flip(_np.argsort(_np.flip(v, axis=axis), axis=axis, kind=kind), axis=axis)
    return _out((n - 1 - rev).astype(int64))


def sort(x: Array, /, *, axis: int = -1, descending: _b.bool = False,
         stable: _b.bool = True) -> Array:
    """``x`` sorted along ``axis`` (differentiable: the elements picked in sorted order)."""
    x = _in(x)
    if _np.ndim(_value(x)) == 0:
        return _out(_S.copy(x) if isinstance(x, Tensor) else _np.array(x))
    idx = argsort(x, axis=axis, descending=descending, stable=stable)._value
    return _out(_np.take_along_axis(x, idx, axis=axis))


# ---------------------------------------------------------------------------------------
# statistical functions


def _sum_dtype(x: Any, dtype: Any) -> Any:
    """The standard's accumulation dtype: integers to the default integer (signed or
    unsigned as ``x``), floats as they are."""
    if dtype is not None:
        return _np.dtype(dtype)
    dt = _dtype_of(x)
    if dt.kind == "b":
        return int64
    if dt.kind == "i":
        return int64
    if dt.kind == "u":
        return uint64
    return None


def _as(r: Any, dt: Any) -> Array:
    """``r`` in the accumulation dtype ``dt`` (chainrule may have accumulated small
    integers wider; the low bits are the same, so the cast gives the wrapped result)."""
    r = _out(r)
    return r if dt is None or r.dtype == dt else astype(r, dt)


def _cumulative(name: str, fn: Any, initial: int) -> Any:
    def f(x: Array, /, *, axis: int | None = None, dtype: Any = None,
          include_initial: _b.bool = False) -> Array:
        x = _in(x)
        nd = _np.ndim(_value(x))
        if axis is None:
            if nd > 1:
                raise ValueError(f"{name}: axis is required for an array of more than one "
                                 f"dimension")
            if nd == 0:
                x = _np.reshape(x, (1,))
            axis = 0
        dt = _sum_dtype(x, dtype)
        r = _as(fn(x, axis=axis, dtype=dt), dt)
        if include_initial:
            shape = list(_np.shape(_value(r)))
            shape[axis] = 1
            first = _np.full(shape, initial, dtype=_dtype_of(r))
            r = _np.concatenate([first, r], axis=axis)
        return _out(r)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"The standard's ``{name}``: NumPy's ``{fn.__name__}`` along ``axis``; "
                 f"``include_initial`` puts {initial} first.")
    return f


cumulative_sum = _cumulative("cumulative_sum", _np.cumsum, 0)
cumulative_prod = _cumulative("cumulative_prod", _np.cumprod, 1)


def _axis_arg(axis: int | tuple[int, ...] | None) -> Any:
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def max(x: Array, /, *, axis: int | tuple[int, ...] | None = None,  # noqa: A001
        keepdims: _b.bool = False) -> Array:
    """The maximum over ``axis``."""
    return _out(_np.max(_in(x), axis=_axis_arg(axis), keepdims=keepdims))


def min(x: Array, /, *, axis: int | tuple[int, ...] | None = None,  # noqa: A001
        keepdims: _b.bool = False) -> Array:
    """The minimum over ``axis``."""
    return _out(_np.min(_in(x), axis=_axis_arg(axis), keepdims=keepdims))


def mean(x: Array, /, *, axis: int | tuple[int, ...] | None = None,
         keepdims: _b.bool = False) -> Array:
    """The arithmetic mean over ``axis``."""
    return _out(_np.mean(_in(x), axis=_axis_arg(axis), keepdims=keepdims))


def sum(x: Array, /, *, axis: int | tuple[int, ...] | None = None,  # noqa: A001
        dtype: Any = None, keepdims: _b.bool = False) -> Array:
    """The sum over ``axis``; integers accumulate in the default integer dtype."""
    x = _in(x)
    dt = _sum_dtype(x, dtype)
    return _as(_np.sum(x, axis=_axis_arg(axis), dtype=dt, keepdims=keepdims), dt)


def prod(x: Array, /, *, axis: int | tuple[int, ...] | None = None, dtype: Any = None,
         keepdims: _b.bool = False) -> Array:
    """The product over ``axis``; integers accumulate in the default integer dtype."""
    x = _in(x)
    dt = _sum_dtype(x, dtype)
    return _as(_np.prod(x, axis=_axis_arg(axis), dtype=dt, keepdims=keepdims), dt)


def std(x: Array, /, *, axis: int | tuple[int, ...] | None = None,
        correction: int | float = 0.0, keepdims: _b.bool = False) -> Array:
    """The standard deviation, dividing by ``N - correction``."""
    return _out(_np.std(_in(x), axis=_axis_arg(axis), ddof=correction, keepdims=keepdims))


def var(x: Array, /, *, axis: int | tuple[int, ...] | None = None,
        correction: int | float = 0.0, keepdims: _b.bool = False) -> Array:
    """The variance, dividing by ``N - correction``."""
    return _out(_np.var(_in(x), axis=_axis_arg(axis), ddof=correction, keepdims=keepdims))


# ---------------------------------------------------------------------------------------
# utility functions


def all(x: Array, /, *, axis: int | tuple[int, ...] | None = None,  # noqa: A001
        keepdims: _b.bool = False) -> Array:
    """Whether every element over ``axis`` is true."""
    return _out(_np.asarray(_np.all(_value(x), axis=_axis_arg(axis), keepdims=keepdims)))


def any(x: Array, /, *, axis: int | tuple[int, ...] | None = None,  # noqa: A001
        keepdims: _b.bool = False) -> Array:
    """Whether some element over ``axis`` is true."""
    return _out(_np.asarray(_np.any(_value(x), axis=_axis_arg(axis), keepdims=keepdims)))


def diff(x: Array, /, *, axis: int = -1, n: int = 1, prepend: Array | None = None,
         append: Array | None = None) -> Array:
    """The ``n``-th forward difference along ``axis``, with ``prepend`` / ``append`` joined
    to ``x`` first."""
    x = _in(x)
    parts = [p for p in (_in(prepend) if prepend is not None else None, x,
                         _in(append) if append is not None else None) if p is not None]
    if len(parts) > 1:
        x = _np.concatenate(parts, axis=axis)
    return _out(_np.diff(x, n=n, axis=axis))


# ---------------------------------------------------------------------------------------
# the namespace-information object


class _Info:
    """``__array_namespace_info__()``: capabilities, devices and dtypes."""

    __module__ = __name__

    def capabilities(self) -> dict[str, Any]:
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self) -> str:
        return _CPU

    def devices(self) -> list[str]:
        return [_CPU]

    def default_dtypes(self, *, device: Any = None) -> dict[str, _np.dtype]:
        _check_device(device)
        return {"real floating": float64, "complex floating": complex128,
                "integral": int64, "indexing": int64}

    def dtypes(self, *, device: Any = None,
               kind: str | tuple[str, ...] | None = None) -> dict[str, _np.dtype]:
        _check_device(device)
        if kind is None:
            return dict(_DTYPES)
        return {n: d for n, d in _DTYPES.items() if isdtype(d, kind)}


def __array_namespace_info__() -> _Info:
    """The inspection object of the standard (capabilities, devices, dtypes)."""
    return _Info()


# ---------------------------------------------------------------------------------------
# the linalg and fft extensions


class _Extension(_types.ModuleType):
    """A sub-namespace of the standard (``xp.linalg``, ``xp.fft``)."""

    def __init__(self, name: str, funcs: dict[str, Any]) -> None:
        super().__init__(name, f"The Array API standard's {name.rsplit('.', 1)[-1]} "
                               f"extension on chainrule Tensors.")
        for k, v in funcs.items():
            setattr(self, k, v)
        self.__all__ = sorted(funcs)

    def __repr__(self) -> str:
        return f"<namespace {self.__name__}>"

    def __dir__(self) -> list[str]:
        return list(self.__all__)


class EighResult(NamedTuple):
    """``linalg.eigh``'s result."""

    eigenvalues: Array
    eigenvectors: Array


class QRResult(NamedTuple):
    """``linalg.qr``'s result."""

    Q: Array
    R: Array


class SlogdetResult(NamedTuple):
    """``linalg.slogdet``'s result."""

    sign: Array
    logabsdet: Array


class SVDResult(NamedTuple):
    """``linalg.svd``'s result."""

    U: Array
    S: Array
    Vh: Array


def _cholesky(x: Array, /, *, upper: _b.bool = False) -> Array:
    """The Cholesky factor: lower ``L`` with ``x = L L^H``, or ``upper`` ``U = L^H``."""
    L = _np.linalg.cholesky(_in(x))
    if upper:
        L = _np.swapaxes(L, -1, -2)
        if _dtype_of(L).kind == "c":
            L = _np.conjugate(L)
    return _out(L)


def _cross(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """The cross product of 3-vectors along ``axis``."""
    a, b = _in(x1), _in(x2)
    if _np.shape(_value(a))[axis] != 3 or _np.shape(_value(b))[axis] != 3:
        raise ValueError("cross: the vectors along axis must have three elements")
    return _out(_np.cross(a, b, axis=axis))


def _det(x: Array, /) -> Array:
    """The determinant of each matrix."""
    return _out(_np.linalg.det(_in(x)))


def _diagonal(x: Array, /, *, offset: int = 0) -> Array:
    """The ``offset`` diagonal of each matrix (the last two axes)."""
    return _out(_np.diagonal(_in(x), offset=offset, axis1=-2, axis2=-1))


def _eigh(x: Array, /) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of each Hermitian matrix."""
    w, v = _np.linalg.eigh(_in(x))
    return EighResult(_out(w), _out(v))


def _eigvalsh(x: Array, /) -> Array:
    """Eigenvalues (ascending) of each Hermitian matrix."""
    return _out(_np.linalg.eigvalsh(_in(x)))


def _inv(x: Array, /) -> Array:
    """The inverse of each matrix."""
    return _out(_np.linalg.inv(_in(x)))


def _matrix_norm(x: Array, /, *, keepdims: _b.bool = False,
                 ord: int | float | str | None = "fro") -> Array:  # noqa: A002
    """The ``ord`` norm of each matrix ('fro', 'nuc', 1, 2, inf, -1, -2, -inf)."""
    return _out(_np.linalg.norm(_in(x), ord=ord, axis=(-2, -1), keepdims=keepdims))


def _matrix_power(x: Array, n: int, /) -> Array:
    """``x`` to the integer power ``n`` (negative: of the inverse)."""
    return _out(_np.linalg.matrix_power(_in(x), n))


def _svdvals(x: Array, /) -> Array:
    """The singular values of each matrix, descending."""
    return _out(_np.linalg.svd(_in(x), compute_uv=False))


def _default_rtol(v: _np.ndarray) -> float:
    dt = v.dtype if v.dtype.kind in "fc" else float64
    return _b.max(v.shape[-2:]) * float(_np.finfo(dt).eps)


def _matrix_rank(x: Array, /, *, rtol: float | Array | None = None) -> Array:
    """The number of singular values above ``rtol`` times the largest (no derivative)."""
    v = _value(x)
    s = _np.linalg.svd(v, compute_uv=False)
    rt = _np.asarray(_default_rtol(v) if rtol is None else _value(rtol))
    smax = _np.max(s, axis=-1, keepdims=True, initial=0.0)
    return _out(_np.sum(s > rt[..., None] * smax, axis=-1, dtype=int64))


def _outer(x1: Array, x2: Array, /) -> Array:
    """The outer product of two vectors."""
    a, b = _in(x1), _in(x2)
    if _np.ndim(_value(a)) != 1 or _np.ndim(_value(b)) != 1:
        raise ValueError("outer: both arguments must be one-dimensional")
    return _out(_np.multiply(_np.reshape(a, (-1, 1)), _np.reshape(b, (1, -1))))


def _pinv(x: Array, /, *, rtol: float | Array | None = None) -> Array:
    """The Moore-Penrose pseudo-inverse (singular values below ``rtol`` times the largest
    count as zero; default ``max(M, N) * eps``)."""
    x = _in(x)
    v = _value(x)
    rc = _default_rtol(v) if rtol is None else _value(rtol)
    return _out(_np.linalg.pinv(x, rcond=rc))


def _qr(x: Array, /, *, mode: str = "reduced") -> QRResult:
    """The QR factorisation ('reduced' or 'complete')."""
    q, r = _np.linalg.qr(_in(x), mode=mode)
    return QRResult(_out(q), _out(r))


def _slogdet(x: Array, /) -> SlogdetResult:
    """The sign and the log of the absolute value of each determinant."""
    s, ld = _np.linalg.slogdet(_in(x))
    return SlogdetResult(_out(s), _out(ld))


def _solve(x1: Array, x2: Array, /) -> Array:
    """The solution of ``x1 @ y = x2`` (a 1-D ``x2`` is a vector)."""
    a, b = _in(x1), _in(x2)
    if _np.ndim(_value(b)) == 1:
        b1 = _np.reshape(b, (-1, 1))
        r = _np.linalg.solve(a, _np.broadcast_to(
            b1, _np.shape(_value(a))[:-2] + _np.shape(_value(b1))))
        return _out(r[..., 0])
    return _out(_np.linalg.solve(a, b))


def _svd(x: Array, /, *, full_matrices: _b.bool = True) -> SVDResult:
    """``U, S, Vh`` with ``x = U @ diag(S) @ Vh``."""
    u, s, vh = _np.linalg.svd(_in(x), full_matrices=full_matrices)
    return SVDResult(_out(u), _out(s), _out(vh))


def _trace(x: Array, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """The sum of the ``offset`` diagonal of each matrix."""
    x = _in(x)
    dt = _sum_dtype(x, dtype)
    return _as(_np.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dt), dt)


def _vector_norm(x: Array, /, *, axis: int | tuple[int, ...] | None = None,
                 keepdims: _b.bool = False, ord: int | float = 2) -> Array:  # noqa: A002
    """The ``ord`` norm over ``axis`` (several axes or ``None``: taken as one vector)."""
    x = _in(x)
    shape = _np.shape(_value(x))
    ax = _axes(axis, len(shape))
    rest = [a for a in range(len(shape)) if a not in ax]
    moved = _np.transpose(x, rest + list(ax)) if ax else x
    flat = _np.reshape(moved, tuple(shape[a] for a in rest) + (-1,)) if ax else \
        _np.reshape(x, shape + (1,))
    if _np.shape(_value(flat))[-1] == 0:
        r = _np.zeros(_np.shape(_value(flat))[:-1],
                      dtype=_np.finfo(_dtype_of(x)).dtype if _dtype_of(x).kind in "fc" else
                      float64)
    else:
        r = _np.linalg.norm(flat, ord=ord, axis=-1)
    if keepdims:
        full = list(shape)
        for a in ax:
            full[a] = 1
        r = _np.reshape(r, tuple(full))
    return _out(r)


linalg = _Extension(__name__ + ".linalg", {
    "cholesky": _cholesky, "cross": _cross, "det": _det, "diagonal": _diagonal,
    "eigh": _eigh, "eigvalsh": _eigvalsh, "inv": _inv, "matmul": matmul,
    "matrix_norm": _matrix_norm, "matrix_power": _matrix_power, "matrix_rank": _matrix_rank,
    "matrix_transpose": matrix_transpose, "outer": _outer, "pinv": _pinv, "qr": _qr,
    "slogdet": _slogdet, "solve": _solve, "svd": _svd, "svdvals": _svdvals,
    "tensordot": tensordot, "trace": _trace, "vecdot": vecdot, "vector_norm": _vector_norm,
})
for _f, _n in [(f, n) for n, f in vars(linalg).items() if callable(f) and not n.startswith("_")]:
    if _f.__name__.startswith("_"):
        _f.__name__ = _f.__qualname__ = _n


def _fft1(name: str, fn: Any) -> Any:
    def f(x: Array, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Array:
        return _out(fn(_in(x), n=n, axis=axis, norm=norm))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"The standard's ``fft.{name}``: NumPy's ``np.fft.{name}``."
    return f


def _fftn(name: str, fn: Any) -> Any:
    def f(x: Array, /, *, s: _Sequence[int] | None = None, axes: _Sequence[int] | None = None,
          norm: str = "backward") -> Array:
        x = _in(x)
        if s is not None and axes is None:
            axes = tuple(range(-len(s), 0))
        return _out(fn(x, s=None if s is None else tuple(s),
                       axes=None if axes is None else tuple(axes), norm=norm))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"The standard's ``fft.{name}``: NumPy's ``np.fft.{name}``."
    return f


def _fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Array:
    """The sample frequencies of an ``n``-point FFT."""
    _check_device(device)
    return _out(_np.fft.fftfreq(n, d=d).astype(dtype or float64))


def _rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Array:
    """The sample frequencies of an ``n``-point real FFT."""
    _check_device(device)
    return _out(_np.fft.rfftfreq(n, d=d).astype(dtype or float64))


def _fftshift(x: Array, /, *, axes: int | _Sequence[int] | None = None) -> Array:
    """The zero frequency moved to the centre."""
    return _out(_np.fft.fftshift(_in(x), axes=axes if axes is None or isinstance(axes, int)
                                 else tuple(axes)))


def _ifftshift(x: Array, /, *, axes: int | _Sequence[int] | None = None) -> Array:
    """``fftshift`` undone."""
    return _out(_np.fft.ifftshift(_in(x), axes=axes if axes is None or isinstance(axes, int)
                                  else tuple(axes)))


fft = _Extension(__name__ + ".fft", {
    **{n: _fft1(n, getattr(_np.fft, n)) for n in ("fft", "ifft", "rfft", "irfft", "hfft",
                                                   "ihfft")},
    **{n: _fftn(n, getattr(_np.fft, n)) for n in ("fftn", "ifftn", "rfftn", "irfftn")},
    "fftfreq": _fftfreq, "rfftfreq": _rfftfreq, "fftshift": _fftshift,
    "ifftshift": _ifftshift,
})
for _n in ("fftfreq", "rfftfreq", "fftshift", "ifftshift"):
    getattr(fft, _n).__name__ = getattr(fft, _n).__qualname__ = _n


# ---------------------------------------------------------------------------------------
# the Tensor side: __array_namespace__, to_device, DLPack and the missing operators


def _namespace(api_version: str | None = None) -> Any:
    if api_version is not None and api_version not in _SUPPORTED_VERSIONS:
        raise ValueError(f"chainrule.xp implements the Array API standard "
                         f"{__array_api_version__}; api_version={api_version!r} is not one "
                         f"it supports ({', '.join(_SUPPORTED_VERSIONS)})")
    import sys

    return sys.modules[__name__]


_hooks.array_namespace = _namespace


def _to_device(self: Tensor, device: Any, /, *, stream: Any = None) -> Tensor:
    """``x`` on ``device``: ``'cpu'`` is the only one, so ``x`` itself."""
    _check_device(device)
    return self


def _dlpack(self: Tensor, /, *, stream: Any = None, max_version: Any = None,
            dl_device: Any = None, copy: Any = None) -> Any:
    self._leaving("DLPack export (np.from_dlpack, torch.from_dlpack ...)",
                  "Export t.detach() for a constant.")
    v = self._value
    kw: dict[str, Any] = {}
    if max_version is not None:
        kw["max_version"] = max_version
    if dl_device is not None:
        kw["dl_device"] = dl_device
    if copy is not None:
        kw["copy"] = copy
    return v.__dlpack__(stream=stream, **kw)


def _dlpack_device(self: Tensor, /) -> tuple[int, int]:
    return self._value.__dlpack_device__()


def _op(fn: Any, reflected: _b.bool) -> Any:
    if reflected:
        return lambda self, other: fn(other, self)
    return lambda self, other: fn(self, other)


_TENSOR_EXTRAS = {
    "to_device": _to_device,
    "__dlpack__": _dlpack,
    "__dlpack_device__": _dlpack_device,
    "__lshift__": _op(_np.left_shift, False),
    "__rlshift__": _op(_np.left_shift, True),
    "__rshift__": _op(_np.right_shift, False),
    "__rrshift__": _op(_np.right_shift, True),
    "__rand__": _op(_np.bitwise_and, True),
    "__ror__": _op(_np.bitwise_or, True),
    "__rxor__": _op(_np.bitwise_xor, True),
}
for _n, _f in _TENSOR_EXTRAS.items():
    if _n not in vars(Tensor):  # what the Tensor class lacks; nothing it has is replaced
        setattr(Tensor, _n, _f)


__all__ = [
    "__array_api_version__", "__array_namespace_info__", "Array", "linalg", "fft",
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128", "e", "inf", "nan", "pi", "newaxis",
    "abs", "acos", "acosh", "add", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_left_shift", "bitwise_invert", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "ceil", "clip", "conj", "copysign", "cos", "cosh", "divide", "equal", "exp", "expm1",
    "floor", "floor_divide", "greater", "greater_equal", "hypot", "imag", "isfinite", "isinf",
    "isnan", "less", "less_equal", "log", "log1p", "log2", "log10", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "multiply", "negative",
    "nextafter", "not_equal", "positive", "pow", "real", "reciprocal", "remainder", "round",
    "sign", "signbit", "sin", "sinh", "square", "sqrt", "subtract", "tan", "tanh", "trunc",
    "arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
    "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
    "astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type",
    "take", "take_along_axis",
    "matmul", "matrix_transpose", "tensordot", "vecdot",
    "broadcast_arrays", "broadcast_to", "concat", "expand_dims", "flip", "moveaxis",
    "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile", "unstack",
    "argmax", "argmin", "count_nonzero", "nonzero", "searchsorted", "where",
    "unique_all", "unique_counts", "unique_inverse", "unique_values",
    "argsort", "sort",
    "cumulative_prod", "cumulative_sum", "max", "mean", "min", "prod", "std", "sum", "var",
    "all", "any", "diff",
]
