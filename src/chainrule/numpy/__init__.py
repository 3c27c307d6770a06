"""``cr.numpy``: the NumPy namespace, differentiable.

Every function works on Tensors, ndarrays, lists and numbers.  Names with a chainrule
rule call it directly; any other NumPy name is NumPy's own, which on a Tensor goes
through NEP 18 dispatch (and so raises a clear NotImplementedError when no rule exists).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as _np

from .registry import NAMES


def _build_array(obj: Any, dtype: Any = None, copy: bool = True, **kw: Any) -> Any:
    """np.array that builds from Tensors (nested lists of them stack)."""
    from ..core.tensor import Tensor
    from ..ops import elementwise as E
    from ..ops import shape as S

    def has_tensor(x: Any) -> bool:
        if isinstance(x, Tensor):
            return True
        if isinstance(x, (list, tuple)):
            return any(has_tensor(y) for y in x)
        return False

    if not has_tensor(obj):
        return _np.array(obj, dtype=dtype, copy=copy, **kw)

    def build(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return S.stack([build(y) for y in x])
        return x if isinstance(x, Tensor) else _np.asarray(x)

    out = build(obj)
    if isinstance(out, Tensor) and obj is out:
        out = S.copy(out) if copy else out
    if dtype is not None:
        out = E.astype(out, dtype=dtype)
    return out


def asarray(obj: Any, dtype: Any = None, **kw: Any) -> Any:
    return _build_array(obj, dtype=dtype, copy=None, **kw)  # None: copy only if needed


class _Sub(types.ModuleType):
    def __init__(self, name: str, np_mod: Any) -> None:
        super().__init__(name)
        self._np_mod = np_mod
        self._prefix = name.rsplit(".", 1)[-1] + "."

    def __getattr__(self, name: str) -> Any:
        impl = NAMES.get(self._prefix + name)
        if impl is not None:
            return impl
        return getattr(self._np_mod, name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._np_mod)))


linalg = _Sub(__name__ + ".linalg", _np.linalg)
fft = _Sub(__name__ + ".fft", _np.fft)
array = _build_array


def __getattr__(name: str) -> Any:
    impl = NAMES.get(name)
    if impl is not None:
        return impl
    return getattr(_np, name)


def __dir__() -> list[str]:
    return sorted(set(dir(_np)) | set(NAMES))
