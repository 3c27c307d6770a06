"""The array types a Tensor holds as they are.

NumPy's ``ndarray`` always; layers above register their own (the compiler's traced arrays,
see ``chainrule/compiler``), and those pass through the engine untouched, where an ndarray
would: never converted with ``np.asarray`` (which would turn a traced value into a
constant).  Core reads ``TYPES`` / ``CLASSES`` through this module, so a registration is seen
everywhere at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TYPES: tuple = (np.ndarray,)
CLASSES: set = {np.ndarray}


def register(cls: type) -> None:
    """Let ``cls`` (an array-like with ``shape``, ``dtype``, NumPy dispatch) stand for an
    ndarray everywhere in the engine."""
    global TYPES
    if cls not in CLASSES:
        TYPES = TYPES + (cls,)
        CLASSES.add(cls)


def asarray(x: Any, dtype: Any = None) -> Any:
    """``np.asarray(x, dtype)``, except that an array of a registered type is kept (cast
    with its own ``astype`` when ``dtype`` differs)."""
    if x.__class__ in CLASSES and x.__class__ is not np.ndarray:
        own = getattr(x, "_cr_asarray", None)
        if own is not None:
            return own(dtype)
        if dtype is None or x.dtype == np.dtype(dtype):
            return x
        return x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def copy(x: Any, dtype: Any = None) -> Any:
    """``np.array(x, dtype, copy=True)``, with a registered type's own ``copy``/``astype``."""
    if x.__class__ in CLASSES and x.__class__ is not np.ndarray:
        return x.copy() if dtype is None or x.dtype == np.dtype(dtype) else x.astype(dtype)
    return np.array(x, dtype=dtype, copy=True)
