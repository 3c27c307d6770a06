"""Tensor operators and methods, bound once the primitive table exists."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..numpy.registry import NAMES
from ..ops import elementwise as E
from ..ops import index as I
from ..ops import linalg as L
from ..ops import reduce as R
from ..ops import shape as S
from .primitive import apply
from .tensor import Tensor


def _v(x: Any) -> Any:
    return x._value if isinstance(x, Tensor) else x


def _binary(prim: Any) -> tuple:
    # straight to the engine: no generic dispatch between an operator and its primitive
    def op(self: Tensor, other: Any) -> Any:
        return apply(prim, (self, other), {})

    def rop(self: Tensor, other: Any) -> Any:
        return apply(prim, (other, self), {})

    def iop(self: Tensor, other: Any) -> Tensor:
        return self._inplace(prim, other)

    return op, rop, iop


for _name, _prim in [("add", E.add), ("sub", E.subtract), ("mul", E.multiply),
                     ("truediv", E.true_divide), ("pow", E.power), ("matmul", L.matmul),
                     ("mod", E.remainder)]:
    _op, _rop, _iop = _binary(_prim)
    setattr(Tensor, f"__{_name}__", _op)
    setattr(Tensor, f"__r{_name}__", _rop)
    setattr(Tensor, f"__i{_name}__", _iop)

Tensor.__neg__ = lambda self: apply(E.negative, (self,), {})
Tensor.__pos__ = lambda self: E.positive(self)
Tensor.__abs__ = lambda self: E.absolute(self)
Tensor.__floordiv__ = lambda self, o: np.floor_divide(self._value, _v(o))
Tensor.__rfloordiv__ = lambda self, o: np.floor_divide(_v(o), self._value)
Tensor.__lt__ = lambda self, o: self._value < _v(o)
Tensor.__le__ = lambda self, o: self._value <= _v(o)
Tensor.__gt__ = lambda self, o: self._value > _v(o)
Tensor.__ge__ = lambda self, o: self._value >= _v(o)
Tensor.__eq__ = lambda self, o: self._value == _v(o)  # type: ignore[assignment]
Tensor.__ne__ = lambda self, o: self._value != _v(o)  # type: ignore[assignment]
Tensor.__invert__ = lambda self: ~self._value
Tensor.__and__ = lambda self, o: self._value & _v(o)
Tensor.__or__ = lambda self, o: self._value | _v(o)
Tensor.__xor__ = lambda self, o: self._value ^ _v(o)


def _getitem(self: Tensor, idx: Any) -> Tensor:
    return I.getitem(self, idx=I.raw_index(idx))


Tensor.__getitem__ = _getitem
Tensor.T = property(lambda self: S.transpose_prim(self, axes=None))
Tensor.mT = property(lambda self: S.swapaxes(self, -1, -2))
Tensor.real = property(lambda self: E.real(self))
Tensor.imag = property(lambda self: E.imag(self))


def _method(name: str) -> Any:
    def m(self: Tensor, *args: Any, **kw: Any) -> Any:
        return NAMES[name](self, *args, **kw)

    m.__name__ = name
    return m


for _n in ["sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "cumprod", "exp", "log",
           "sqrt", "sin", "cos", "tan", "tanh", "abs", "clip", "conj", "conjugate", "squeeze",
           "flatten", "swapaxes", "repeat", "trace", "diagonal", "ravel", "dot", "sort",
           "argmax", "argmin", "argsort", "nonzero", "round", "any", "all", "take", "ptp",
           "square", "log1p", "expm1", "cumsum"]:
    if not hasattr(Tensor, _n):
        setattr(Tensor, _n, _method(_n))


def _reshape(self: Tensor, *shape: Any, **kw: Any) -> Tensor:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return S.reshape(self, shape, **kw)


def _transpose(self: Tensor, *axes: Any) -> Tensor:
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = tuple(axes[0]) if axes[0] is not None else ()
    return S.transpose(self, axes or None)


def _astype(self: Tensor, dtype: Any, copy: bool = True) -> Tensor:
    return E.astype(self, dtype=np.dtype(dtype), copy=copy)


Tensor.reshape = _reshape
Tensor.view = _reshape
Tensor.transpose = _transpose
Tensor.permute = _transpose
Tensor.astype = _astype
Tensor.flatten = lambda self: S.reshape(self, (-1,))
Tensor.amax = lambda self, *a, **k: R.max(self, *a, **k)
Tensor.amin = lambda self, *a, **k: R.min(self, *a, **k)
Tensor.unsqueeze = lambda self, dim: S.expand_dims(self, dim)
Tensor.float = lambda self: E.astype(self, dtype=np.dtype(np.float32))
Tensor.double = lambda self: E.astype(self, dtype=np.dtype(np.float64))
Tensor.pow = lambda self, e: E.power(self, e)
Tensor.copy = lambda self: S.copy(self)

# shape/index family (ops/shape.py, ops/index.py): NumPy's ndarray methods and the
# torch-style ones whose NumPy function takes the array first
Tensor.compress = lambda self, condition, axis=None: NAMES["compress"](condition, self, axis)
for _n in ["flip", "roll", "tile", "tril", "triu", "argpartition", "searchsorted"]:
    if not hasattr(Tensor, _n):
        setattr(Tensor, _n, _method(_n))


def _nn_method(name: str) -> Any:
    def m(self: Tensor, *args: Any, **kw: Any) -> Any:
        from ..nn import functional as F  # noqa: PLC0415  (nn builds on the core)

        return getattr(F, name)(self, *args, **kw)

    m.__name__ = name
    return m


Tensor.relu = _nn_method("relu")
Tensor.sigmoid = _nn_method("sigmoid")
Tensor.softmax = _nn_method("softmax")
Tensor.log_softmax = _nn_method("log_softmax")
