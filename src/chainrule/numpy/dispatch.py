"""NEP 13 / NEP 18 entry points: a dict lookup from the NumPy callable to its rule."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable

import numpy as np

from ..core import hooks
from ..core.errors import user_line
from ..core.registry import FUNCTIONS, UFUNCS
from ..core.registry import NAMES
from ..ops.elementwise import astype


def _unsupported(what: str) -> NotImplementedError:
    return NotImplementedError(
        f"{what} has no chainrule rule, so it cannot be differentiated (chainrule never "
        f"returns a silent zero gradient).\n  at {user_line()}\n  Register one: decorate a "
        f"NumPy implementation with @cr.primitive and give it rules with cr.defvjp / cr.defjvp, "
        f"or call it on t.detach() if the result is a constant."
    )


def ufunc_name(ufunc: np.ufunc) -> str:
    """Where the user got ``ufunc`` from: ``np.exp``, ``scipy.special.expit`` ...

    NumPy's own ufuncs are named ``np.NAME``; another library's (SciPy's special functions
    are ufuncs too) by the public module that exposes it (searched on this error path only)."""
    name = ufunc.__name__
    if getattr(np, name, None) is ufunc:
        return f"np.{name}"
    best = None
    for modname, mod in list(sys.modules.items()):
        if mod is None or any(part.startswith("_") for part in modname.split(".")):
            continue
        try:
            found = getattr(mod, name, None) is ufunc
        except Exception:  # a lazy module that fails on attribute access
            continue
        if found and (best is None or len(modname) < len(best)):
            best = modname
    return f"{best}.{name}" if best else f"the ufunc {name!r} (not NumPy's)"


_REDUCE = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min"}
_ACCUMULATE = {np.add: "cumsum", np.multiply: "cumprod"}

# another library's ufuncs whose rules live in an optional chainrule module (which imports
# that library): loaded on the first miss of a ufunc that is not NumPy's, once
_RULE_MODULES = {"scipy": "chainrule.scipy.special"}


def _load_rules(ufunc: np.ufunc) -> bool:
    """Import the rule modules of the libraries loaded so far (a miss on a foreign ufunc);
    True if one was imported, so the lookup is worth retrying."""
    if getattr(np, ufunc.__name__, None) is ufunc:
        return False
    loaded = False
    for lib, mod in list(_RULE_MODULES.items()):
        if lib in sys.modules:
            importlib.import_module(mod)  # (an import error is raised again on the next miss)
            _RULE_MODULES.pop(lib, None)  # (another thread may have loaded it meanwhile)
            loaded = True
    return loaded


def ufunc_dispatch(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    if method == "__call__":
        prim = UFUNCS.get(ufunc)
        if prim is None and _RULE_MODULES and _load_rules(ufunc):
            prim = UFUNCS.get(ufunc)
        if prim is None:
            raise _unsupported(ufunc_name(ufunc))
        if kwargs:
            out = kwargs.pop("out", None)
            if out is not None and any(o is not None for o in out):
                f = ufunc_name(ufunc)
                raise NotImplementedError(
                    f"{f}(..., out=...) on Tensors: writing into a preallocated "
                    f"array would leave the graph.\n  at {user_line()}\n  Use the return value "
                    f"(y = {f}(x)) or an in-place operator on a Tensor (x += y)."
                )
            dtype = kwargs.pop("dtype", None)
            if kwargs:
                raise NotImplementedError(
                    f"{ufunc_name(ufunc)}: keyword(s) {sorted(kwargs)} are not supported on Tensors"
                )
            if dtype is not None:
                return astype(prim(*inputs), dtype=dtype)
        return prim(*inputs)
    table = _REDUCE if method == "reduce" else _ACCUMULATE if method == "accumulate" else {}
    name = table.get(ufunc)
    if name is None:
        raise _unsupported(f"{ufunc_name(ufunc)}.{method}")
    out = kwargs.pop("out", None)
    if out is not None and any(o is not None for o in (out if isinstance(out, tuple) else (out,))):
        raise NotImplementedError(
            f"{ufunc_name(ufunc)}.{method}(..., out=...) on Tensors: writing into a preallocated "
            f"array would leave the graph.\n  at {user_line()}\n  Use the return value instead."
        )
    axis = kwargs.pop("axis", 0)
    args = inputs[1:]
    return NAMES[name](inputs[0], axis, *args, **kwargs)


def function_dispatch(func: Callable, args: tuple, kwargs: dict) -> Any:
    impl = FUNCTIONS.get(func)
    if impl is None:
        mod = getattr(func, "__module__", "numpy") or "numpy"
        mod = mod.replace("numpy.linalg._linalg", "numpy.linalg").replace("numpy.fft._pocketfft", "numpy.fft")
        prefix = "np" + mod[len("numpy"):] if mod.startswith("numpy") else mod
        raise _unsupported(f"{prefix}.{func.__name__}")
    return impl(*args, **kwargs)


hooks.ufunc_dispatch = ufunc_dispatch  # Tensor.__array_ufunc__ / __array_function__ call them
hooks.function_dispatch = function_dispatch
