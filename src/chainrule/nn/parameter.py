"""Parameter: a leaf Tensor that a Module registers and an optimizer updates."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import arrays as _arrays
from ..core.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad by default and is registered when assigned to a Module.

    ``Parameter(data)`` copies ``data``; a Python list or number becomes float32
    (PyTorch's default dtype), an ndarray keeps its dtype unless ``dtype=`` is given.
    """

    def __init__(self, data: Any = None, requires_grad: bool = True, dtype: Any = None) -> None:
        if data is None:
            data = np.empty(0, dtype=dtype or np.float32)
        if isinstance(data, Tensor):
            data = data._value
        if data.__class__ is not np.ndarray and _arrays.backend(data) not in (None, "numpy"):
            # an array of another library (Dask, CuPy, array-api-strict) stays one: copied
            # in its library, never through NumPy
            super().__init__(data, requires_grad=requires_grad, dtype=dtype)
            return
        if dtype is None and not isinstance(data, np.ndarray):
            arr = np.asarray(data)
            dtype = np.float32 if arr.dtype.kind in "fiub" else None
        super().__init__(np.array(data, dtype=dtype, copy=True), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo: dict) -> Parameter:
        # a fresh leaf: copying the graph node would send gradients to the original
        p = Parameter(self._value, requires_grad=self.requires_grad)
        if self.grad is not None:
            p.grad = Tensor(self.grad._value)  # (a copy, in the gradient's library)
        memo[id(self)] = p
        return p

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild_parameter, (self._value.copy(), self.requires_grad))


def _rebuild_parameter(value: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(value, requires_grad=requires_grad)
