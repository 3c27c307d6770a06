"""The dispatch tables: NumPy callable -> chainrule implementation.

``UFUNCS`` maps a ``np.ufunc`` to a primitive (NEP 13); ``FUNCTIONS`` maps any other
NumPy function to an implementation with NumPy's own signature (NEP 18); ``NAMES``
is the ``cr.numpy`` namespace ("linalg.inv" style keys for submodules); ``PRIMITIVES``
the library's own primitives by name (the op test table must have a row for each).
They live in the core, which knows no particular op: ``ops/`` fills them.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

UFUNCS: dict[Any, Any] = {}
FUNCTIONS: dict[Any, Callable] = {}
NAMES: dict[str, Callable] = {}
# primitives that belong to the library (the test table must have a row for each)
PRIMITIVES: dict[str, Any] = {}


def _lookup(name: str) -> Any:
    obj: Any = np
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def register(names: str | list[str], impl: Callable) -> Callable:
    """Route ``np.<name>`` (for each name) to ``impl`` and expose it as ``cr.numpy.<name>``."""
    for name in [names] if isinstance(names, str) else names:
        NAMES[name] = impl
        target = _lookup(name)
        if target is None:
            continue
        if isinstance(target, np.ufunc):
            UFUNCS[target] = impl
        else:
            FUNCTIONS[target] = impl
    return impl


def implements(*names: str) -> Callable[[Callable], Callable]:
    """Decorator form of :func:`register`."""

    def deco(fn: Callable) -> Callable:
        register(list(names), fn)
        return fn

    return deco
