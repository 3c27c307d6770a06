"""``cr.numpy``: the NumPy namespace, differentiable.

Every function works on Tensors, ndarrays, lists and numbers.  Names with a chainrule
rule call it directly; any other NumPy name is NumPy's own, which on a Tensor goes
through NEP 18 dispatch (and so raises a clear NotImplementedError when no rule exists).
"""

import functools as _functools
import types as _types
from typing import Any as _Any

import numpy as _np

from ..core import hooks as _hooks
from ..core import primitive as _P
from ..core.errors import LeftGraphError as _LeftGraphError
from ..core.registry import NAMES as _NAMES


from ..ops.creation import build_array as _build_array

_hooks.stack_lists = lambda lst: _build_array(lst, copy=False)  # for core's list retry


def asarray(obj: _Any, dtype: _Any = None, **kw: _Any) -> _Any:
    return _build_array(obj, dtype=dtype, copy=None, **kw)  # None: copy only if needed


def _holds_tensor(x: _Any) -> bool:
    if isinstance(x, (list, tuple)):
        return any(_holds_tensor(y) for y in x)
    return isinstance(x, _P.Tensor)


def _accepting_lists(impl: _Any) -> _Any:
    """``impl`` that also takes lists/tuples holding Tensors where NumPy takes an array.

    NumPy would build an array from such a list (np.mean([t, u])); the implementations
    see a list, and converting it raises LeftGraphError.  Only then (no cost otherwise)
    the call is repeated with each such list built by ``cr.numpy.array``.  Primitives
    do the same themselves (core.primitive); this covers the composite functions.
    """

    @_functools.wraps(impl)
    def call(*args: _Any, **kw: _Any) -> _Any:
        try:
            return impl(*args, **kw)
        except _LeftGraphError:
            built = [_build_array(a, copy=None) if isinstance(a, (list, tuple)) and _holds_tensor(a)
                     else a for a in args]
            if all(b is a for b, a in zip(built, args)):
                raise
        return impl(*built, **kw)

    return call


_WRAPPED: dict[str, _Any] = {}


def _public(key: str, impl: _Any) -> _Any:
    """What ``cr.numpy.<key>`` returns for a registered implementation."""
    if not isinstance(impl, _types.FunctionType):  # primitives retry with built lists themselves
        return impl
    w = _WRAPPED.get(key)
    if w is None or w.__wrapped__ is not impl:
        w = _WRAPPED[key] = _accepting_lists(impl)
    return w


class _Sub(_types.ModuleType):
    def __init__(self, name: str, np_mod: _Any) -> None:
        super().__init__(name)
        self._np_mod = np_mod
        self._prefix = name.rsplit(".", 1)[-1] + "."

    def __getattr__(self, name: str) -> _Any:
        impl = _NAMES.get(self._prefix + name)
        out = _public(self._prefix + name, impl) if impl is not None else getattr(self._np_mod, name)
        setattr(self, name, out)  # cache: later lookups are plain attribute reads
        return out

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._np_mod)))


linalg = _Sub(__name__ + ".linalg", _np.linalg)
fft = _Sub(__name__ + ".fft", _np.fft)
array = _build_array


def __getattr__(name: str) -> _Any:
    impl = _NAMES.get(name)
    out = _public(name, impl) if impl is not None else getattr(_np, name)
    globals()[name] = out  # cache: later lookups are plain attribute reads
    return out


def __dir__() -> list[str]:
    return sorted(set(dir(_np)) | {n for n in _NAMES if "." not in n})

from . import dispatch as _dispatch  # noqa: F401  (installs the NEP 13/18 hooks)
