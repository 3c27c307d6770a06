"""NumPy's face on an Array API array: how a Tensor holds an array-api-strict (or any other
Array API) array that does not implement NumPy's dispatch protocols.

chainrule's rules are NumPy calls.  Dask and CuPy take them as they are (NEP 13 / NEP 18);
a library that only follows the Python Array API standard does not, and ``np.exp(x)`` on
its array would either fail or, worse, convert it to NumPy through ``__array__``.  So the
engine keeps such an array in an :class:`XPArray`: a thin holder that implements NEP 13 /
NEP 18 by translating each NumPy call into the array's own namespace
(``x.__array_namespace__()``): ``np.arccos`` -> ``xp.acos``, ``np.sum(a, axis, keepdims)``
-> ``xp.sum``, ``np.moveaxis`` -> ``xp.permute_dims`` ...  NumPy's semantics are kept
(dtype promotion across kinds, weak Python scalars, ``axis=None`` and the like), because
the Tensor promises NumPy's meaning whatever holds its data.  What the standard lacks is
composed from standard functions (``np.add.at`` by a one-hot sum, ``np.einsum`` by
broadcasting, ``np.pad``, ``np.split``, ``np.tril`` ...); what cannot be composed raises
TypeError, which the engine turns into ``cr.BackendError`` naming the operation and the
library.  Nothing is ever converted to NumPy: ``np.asarray(xparray)`` raises.

Writes never alias: an Array API library may return views (array-api-strict's slices are
NumPy views), and the standard leaves writes through them unspecified, so a write into an
XPArray replaces the array it holds with an updated copy (copy on write).  Version counters
then stay exact without tracking views.

The user never sees an XPArray: results leave the engine (gradients, ``t.numpy()``) as the
library's own arrays (:func:`unwrap`).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

# ---------------------------------------------------------------------------------------
# which arrays are held this way

_NS: dict[type, Any] = {}        # raw array class -> its namespace (None: not an Array API array)
_CLASS: dict[int, type] = {}     # id(namespace) -> its XPArray subclass


def namespace_of(c: type, x: Any = None) -> Any:
    """The Array API namespace of arrays of class ``c`` when they need an XPArray (they have
    ``__array_namespace__`` but not NumPy's ``__array_function__``); else None.  ``x``, an
    instance, answers when one is at hand; else one is made by the class's library."""
    try:
        return _NS[c]
    except KeyError:
        pass
    xp = None
    if hasattr(c, "__array_namespace__") and not hasattr(c, "__array_function__") and \
            hasattr(c, "shape") and hasattr(c, "dtype") and not issubclass(c, (XPArray,
                                                                              np.generic)):
        try:
            xp = (x if x is not None else _probe(c)).__array_namespace__()
        except Exception:
            xp = None
        if xp is np or getattr(xp, "__name__", "").split(".")[0] == "numpy":
            xp = None  # (NumPy's own scalars and arrays are NumPy's)
    elif c.__module__.split(".")[0] == "torch" and hasattr(c, "shape") and \
            hasattr(c, "dtype") and x is not None:
        # PyTorch's tensors: the standard's namespace for them is array-api-compat's (found
        # by name, as core finds other libraries: nothing is imported before one is seen)
        try:
            import importlib
            xp = importlib.import_module("array_api_compat").array_namespace(x)
        except Exception:
            xp = None
    _NS[c] = xp
    return xp


def _probe(c: type) -> Any:
    # __array_namespace__ is a method: the namespace comes from an instance, made by the
    # class's own library (its module or the nearest package above with ``asarray``)
    import importlib
    import sys
    name = c.__module__
    while name:
        mod = sys.modules.get(name) or importlib.import_module(name)
        if hasattr(mod, "asarray"):
            return mod.asarray(0.0)
        name = name.rpartition(".")[0]
    raise TypeError(c)


def held(x: Any) -> bool:
    """Is ``x`` a raw array that the engine must hold in an XPArray?"""
    return namespace_of(x.__class__, x) is not None


def wrap(x: Any) -> XPArray:
    """``x`` (a raw Array API array) in its XPArray.  The array must be on its library's
    default device: the constants a rule makes are made there."""
    xp = namespace_of(x.__class__, x)
    c = class_for(xp)
    dev = getattr(x, "device", None)
    if dev is not None and c._device is not None and str(dev) != c._device:
        from . import errors
        raise errors.BackendError(
            f"an array of {c.lib} on device {dev}: chainrule runs that library on its default "
            f"device ({c._device}) only, where the constants it makes are made.\n  at "
            f"{errors.user_line()}\n  Move the data there first (or use CuPy for a GPU).")
    return c(x)


def class_for(xp: Any) -> type:
    c = _CLASS.get(id(xp))
    if c is None:
        lib = xp.__name__.split(".")[0]
        if lib == "array_api_compat":  # (a wrapped library: PyTorch's namespace)
            lib = xp.__name__.split(".")[1]
        try:
            device = str(xp.asarray(0.0).device)
        except Exception:
            device = None
        c = type(f"XPArray[{lib}]", (XPArray,), {"__slots__": (), "xp": xp, "lib": lib,
                                                  "_dtypes": _dtype_table(xp),
                                                  "_device": device})
        _CLASS[id(xp)] = c
        from . import arrays
        arrays.register(c)
        arrays.BACKEND[c] = lib
        arrays.GUARDED[0] = True  # the rules' TypeErrors on it become BackendErrors
    return c


def unwrap(x: Any) -> Any:
    """The library's own array for an XPArray (anything else as it is)."""
    return x.a if isinstance(x, XPArray) else x


_NAMES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64", "complex64", "complex128"]


def _dtype_table(xp: Any) -> tuple[dict, dict]:
    to_np, to_xp = {}, {}
    for n in _NAMES:
        d = getattr(xp, n, None)
        if d is not None:
            to_np[d] = np.dtype(n)
            to_xp[np.dtype(n)] = d
    return to_np, to_xp


# ---------------------------------------------------------------------------------------
# the holder


class XPArray:
    """An Array API array, answering NumPy's protocols (see the module's docstring)."""

    __slots__ = ("a", "__weakref__")
    __array_priority__ = 50
    xp: Any = None
    lib: str = ""
    _dtypes: tuple = ({}, {})
    _device: str | None = None

    def __init__(self, a: Any) -> None:
        self.a = a

    # -- conversions between the two worlds
    def _xdt(self, dtype: Any) -> Any:
        d = np.dtype(dtype)
        try:
            return self._dtypes[1][d]
        except KeyError:
            raise TypeError(f"dtype {d} is not available on {self.lib} arrays") from None

    def _in(self, v: Any) -> Any:
        """A value of the other operands as this library's array (NumPy constants made by a
        rule are brought over; Python scalars stay scalars)."""
        if isinstance(v, XPArray):
            if v.xp is not self.xp:
                raise TypeError(f"arrays of two libraries meet ({self.lib} and {v.lib})")
            return v.a
        if v.__class__ in _NS and _NS[v.__class__] is self.xp:
            return v
        if isinstance(v, (np.ndarray, np.generic)):
            if isinstance(v, np.ndarray) and not v.flags.writeable:
                v = v.copy()  # (a library may share the memory, and expect to own it)
            return self.xp.asarray(np.asarray(v) if v.dtype.kind != "O" else v,
                                   dtype=self._xdt(v.dtype))
        if held(v):
            raise TypeError(f"arrays of two libraries meet ({self.lib} and "
                            f"{type(v).__module__.split('.')[0]})")
        if isinstance(v, (list, tuple)):
            return self.xp.asarray(np.asarray(v))
        return v

    def _out(self, r: Any) -> Any:
        if isinstance(r, tuple):
            return tuple(self._out(x) for x in r)
        if isinstance(r, list):
            return [self._out(x) for x in r]
        if r.__class__ in _NS and _NS[r.__class__] is self.xp:
            return self.__class__(r)
        return r

    # -- what NumPy code reads off an array
    @property
    def shape(self) -> tuple:
        return tuple(self.a.shape)

    @property
    def ndim(self) -> int:
        return self.a.ndim

    @property
    def size(self) -> int:
        return math.prod(self.a.shape)

    @property
    def dtype(self) -> np.dtype:
        d = self.a.dtype
        try:
            return self._dtypes[0][d]
        except KeyError:  # (a library whose dtypes are NumPy's, as JAX's are)
            self._dtypes[0][d] = n = np.dtype(d)
            return n

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def T(self) -> XPArray:
        return self.transpose()

    @property
    def mT(self) -> XPArray:
        return np.swapaxes(self, -1, -2)

    @property
    def real(self) -> XPArray:
        return np.real(self)

    @property
    def imag(self) -> XPArray:
        return np.imag(self)

    @property
    def device(self) -> Any:
        return self.a.device

    base = None  # (writes never alias: see the module docstring)

    @property
    def flags(self) -> Any:
        # what NumPy code asks of ``a.flags``: writes are copy on write, so always allowed
        import types
        return types.SimpleNamespace(writeable=True, c_contiguous=True, f_contiguous=False,
                                     owndata=True, aligned=True)

    def __len__(self) -> int:
        if self.a.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.a.shape[0]

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self.a)

    def __float__(self) -> float:
        return float(self.a)

    def __int__(self) -> int:
        return int(self.a)

    def __complex__(self) -> complex:
        return complex(self.a)

    def __index__(self) -> int:
        return int(self.a)

    def item(self) -> Any:
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        v = self.a if self.a.ndim == 0 else self.xp.reshape(self.a, ())
        k = self.dtype.kind
        return bool(v) if k == "b" else int(v) if k in "iu" else complex(v) if k == "c" \
            else float(v)

    def tolist(self) -> Any:
        if self.ndim == 0:
            return self.item()
        return [x.tolist() for x in self]

    def __repr__(self) -> str:
        return f"{self.lib}:{self.a!r}"

    def __reduce__(self) -> tuple:
        # (the class is made per library at run time: pickle the array, wrap it again)
        return (wrap, (self.a,))

    def __deepcopy__(self, memo: dict) -> XPArray:
        return self.copy()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(f"an array of {self.lib} is not converted to NumPy silently")

    __hash__ = None  # type: ignore[assignment]

    # -- methods of ndarray, through the functions below
    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe",
               subok: bool = True, copy: bool = True) -> XPArray:
        d = self._xdt(dtype)
        if not copy and self.a.dtype == d:
            return self
        return self.__class__(self.xp.astype(self.a, d))

    def copy(self, order: str = "K") -> XPArray:
        return self.__class__(self.xp.asarray(self.a, copy=True))

    def reshape(self, *shape: Any, order: str = "C") -> XPArray:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return np.reshape(self, shape)

    def transpose(self, *axes: Any) -> XPArray:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return np.transpose(self, axes or None)

    def __getattr__(self, name: str) -> Any:
        # ndarray methods with a NumPy function of the same name (sum, mean, swapaxes ...)
        f = _METHODS.get(name)
        if f is None:
            raise AttributeError(f"{self.lib} array (as chainrule holds it) has no {name!r}")
        return lambda *args, **kw: f(self, *args, **kw)

    # -- operators, through NumPy's ufuncs (NumPy's promotion)
    def __getitem__(self, key: Any) -> Any:
        try:
            return self._out(_getitem(self, key))
        except TypeError as exc:
            _unavailable(exc)
            raise

    def __setitem__(self, key: Any, value: Any) -> None:
        try:
            _setitem(self, key, value)
        except TypeError as exc:
            _unavailable(exc)
            raise

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        for v in (*inputs, *kw.get("out", ())):
            if hasattr(v, "__array_ufunc__") and not isinstance(v, (XPArray, np.ndarray,
                                                                     np.generic)):
                return NotImplemented  # (a Tensor among them: it records the call)
        try:
            return _ufunc(self, ufunc, method, inputs, kw)
        except TypeError as exc:
            _unavailable(exc)
            raise

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        for t in types:
            if not issubclass(t, (XPArray, np.ndarray)):
                return NotImplemented  # (a Tensor among them: it records the call)
        impl = _FUNCTIONS.get(func)
        if impl is None:
            _unavailable(TypeError(f"np.{_name_of(func)} is not available on {self.lib} "
                                   f"arrays"))
        if func in _LIKE:  # NEP 35 (``like=self``): the array to make is of this library
            kwargs = {**kwargs, "like": self}
        try:
            return impl(*args, **kwargs)
        except TypeError as exc:
            _unavailable(exc)
            raise


def _binop(uf: np.ufunc, reflected: bool = False) -> Callable:
    if reflected:
        return lambda self, other: uf(other, self)
    return lambda self, other: uf(self, other)


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul),
                   ("and", np.bitwise_and), ("or", np.bitwise_or), ("xor", np.bitwise_xor),
                   ("lshift", np.left_shift), ("rshift", np.right_shift)]:
    setattr(XPArray, f"__{_name}__", _binop(_uf))
    setattr(XPArray, f"__r{_name}__", _binop(_uf, True))
for _name, _uf in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                   ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(XPArray, f"__{_name}__", _binop(_uf))
XPArray.__neg__ = lambda self: np.negative(self)  # type: ignore[attr-defined]
XPArray.__pos__ = lambda self: np.positive(self)  # type: ignore[attr-defined]
XPArray.__abs__ = lambda self: np.absolute(self)  # type: ignore[attr-defined]
XPArray.__invert__ = lambda self: np.invert(self)  # type: ignore[attr-defined]


def _inplace(uf: np.ufunc) -> Callable:
    def op(self: XPArray, other: Any) -> XPArray:
        r = uf(self, other)
        if r.dtype != self.dtype:
            if not np.can_cast(r.dtype, self.dtype, "same_kind"):  # (NumPy refuses too)
                raise TypeError(f"Cannot cast ufunc {uf.__name__!r} output from "
                                f"{r.dtype} to {self.dtype} with casting rule 'same_kind'")
            r = r.astype(self.dtype)
        self.a = np.broadcast_to(r, self.shape).a  # (copy on write: a new array)
        return self
    return op


for _name, _uf in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                   ("mod", np.remainder), ("pow", np.power), ("and", np.bitwise_and),
                   ("or", np.bitwise_or), ("xor", np.bitwise_xor)]:
    setattr(XPArray, f"__i{_name}__", _inplace(_uf))

def _unavailable(exc: Exception) -> None:
    """A NumPy call the translation cannot make: cr.BackendError, with the user's line."""
    msg = str(exc)
    if " is not available on " in msg or "no implementation found" in msg:
        from . import errors
        raise errors.BackendError(
            f"{msg}\n  at {errors.user_line()}\n  Nothing was converted to NumPy: the "
            f"Array API standard has no such function; write the step with functions it "
            f"has, or convert the input yourself.") from None


def _name_of(func: Callable) -> str:
    mod = getattr(func, "__module__", "") or ""
    sub = mod.split(".")[1] if mod.startswith("numpy.") and mod.split(".")[1] in (
        "linalg", "fft") else ""
    return f"{sub}.{func.__name__}" if sub else func.__name__


from ._xpfuncs import _FUNCTIONS, _LIKE, _METHODS, _getitem, _setitem, _ufunc  # noqa: E402
