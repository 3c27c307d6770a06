"""The array types a Tensor holds as they are.

NumPy's ``ndarray`` always; layers above register their own (the compiler's traced arrays,
see ``chainrule/compiler``), and those pass through the engine untouched, where an ndarray
would: never converted with ``np.asarray`` (which would turn a traced value into a
constant).  Core reads ``TYPES`` / ``CLASSES`` through this module, so a registration is seen
everywhere at once.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

from . import xparray

TYPES: tuple = (np.ndarray,)
CLASSES: set = {np.ndarray}


# array types of other libraries that follow NumPy's dispatch protocols (NEP 13 ufuncs,
# NEP 18 functions), so that the rules' NumPy calls on them run in that library: a Dask
# array stays lazy, a CuPy array stays on its GPU.  Registered the first time one is seen.
FOREIGN = {
    "dask.array.core.Array": "dask",
    "cupy.ndarray": "cupy",
    "cupy._core.core.ndarray": "cupy",
    "cupy._core.core._ndarray_base": "cupy",
}
BACKEND: dict[type, str | None] = {np.ndarray: "numpy"}


def backend(x: Any) -> str | None:
    """The library an array comes from ("numpy", "dask", "cupy", ...), registering a foreign
    array type the first time; None for what is not an array of a known library."""
    c = x.__class__
    try:
        return BACKEND[c]
    except KeyError:
        pass
    name = None
    for k in c.__mro__:
        name = FOREIGN.get(f"{k.__module__}.{k.__qualname__}")
        if name is not None:
            register(c)
            if name == "dask":
                _refuse_dask_fallbacks()
            break
    else:
        if isinstance(x, np.ndarray):
            name = "numpy"
        elif xparray.namespace_of(c, x) is not None:
            # an Array API array without NumPy's protocols: held in an XPArray
            name = xparray.class_for(xparray.namespace_of(c, x)).lib
    BACKEND[c] = name  # (None too: a class is looked at once)
    return name


# set once a library's arrays have been seen whose fallbacks must be refused: the engine then
# runs each rule under :func:`refusing_fallbacks` (a NumPy-only program never pays for it)
GUARDED = [False]


def _refuse_dask_fallbacks() -> None:
    GUARDED[0] = True


def refusing_fallbacks(fn: Any, /, *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)`` with Dask's fallback refused: Dask runs a NumPy function it lacks
    by computing the whole array into NumPy, with only a FutureWarning; under chainrule that
    would be a silent conversion (a lazy, maybe larger than memory, array computed in the
    middle of a gradient), so the warning is raised as an error instead."""
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"The `numpy\..*` function is not "
                                r"implemented by Dask array", category=FutureWarning)
        return fn(*args, **kw)


def lazy(x: Any) -> bool:
    """Are ``x``'s values not at hand (a Dask array: reading one computes its graph)?  Rules
    then take their branch-free general path instead of testing values for a fast one."""
    return x.__class__ is not np.ndarray and backend(x) == "dask"


def maybe_any(*masks: Any) -> bool:
    """Might any of ``masks`` hold a True?  For a rule's fast-path test (``if not
    maybe_any(isinf(x)): <the plain formula>``): a lazy mask answers True without computing,
    so the rule takes its general, branch-free path, right for every value."""
    for m in masks:
        if m.__class__ is not np.ndarray and lazy(m) or np.any(m):
            return True
    return False


def is_view(a: Any) -> bool:
    """Does ``a`` borrow another array's memory (NumPy's and CuPy's ``base``)?  Lazy and
    immutable arrays (Dask) have no views."""
    return getattr(a, "base", None) is not None


def may_share_memory(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(np.may_share_memory(a, b))
    except TypeError:  # a library without memory to share (Dask: each array a new graph)
        return False


def same_view(w: Any, v: Any) -> bool:
    """Do ``w`` and ``v`` name exactly the same memory: shape, strides and first byte?  For
    a registered array type (the compiler's traced arrays) its ``_cr_same_view(v)`` answers,
    if it has one; any other pair is taken for different memory."""
    if w.__class__ is np.ndarray and v.__class__ is np.ndarray:
        return (w.shape == v.shape and w.strides == v.strides
                and w.__array_interface__["data"][0] == v.__array_interface__["data"][0])
    ask = getattr(type(w), "_cr_same_view", None)
    return bool(ask(w, v)) if ask is not None else False


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
    if x.__class__ in CLASSES and x.__class__ is not np.ndarray or (
            x.__class__ not in CLASSES and backend(x) not in (None, "numpy")):
        if x.__class__ not in CLASSES and xparray.held(x):
            x = xparray.wrap(x)
        own = getattr(x, "_cr_asarray", None)
        if own is not None:
            return own(dtype)
        if dtype is None or x.dtype == np.dtype(dtype):
            return x
        return x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def copy(x: Any, dtype: Any = None) -> Any:
    """``np.array(x, dtype, copy=True)``, with a registered type's own ``copy``/``astype``."""
    if x.__class__ in CLASSES and x.__class__ is not np.ndarray or (
            x.__class__ not in CLASSES and backend(x) not in (None, "numpy")):
        if x.__class__ not in CLASSES and xparray.held(x):
            x = xparray.wrap(x)
        return x.copy() if dtype is None or x.dtype == np.dtype(dtype) else x.astype(dtype)
    return np.array(x, dtype=dtype, copy=True)


def on_backend_of(x: Any, like: Any) -> Any:
    """``x`` (a NumPy array or scalar) as an array of ``like``'s library when ``like`` is a
    Dask or CuPy array (a gradient that never met the data, a constant, comes back in the
    argument's type; nothing else is moved); else ``x`` unchanged."""
    b = backend(like) if like.__class__ is not np.ndarray else "numpy"
    if b in (None, "numpy") or backend(x) == b:
        return x
    if isinstance(like, xparray.XPArray):
        return like.__class__(like._in(x)) if hasattr(x, "shape") else x
    # the array's own library, found from its class (dask.array.core, cupy ...): the module
    # that defines the class, or the nearest package above it, with an ``asarray``
    name = like.__class__.__module__
    while name:
        mod = sys.modules.get(name) or importlib.import_module(name)
        if hasattr(mod, "asarray"):
            return mod.asarray(x)
        name = name.rpartition(".")[0]
    raise TypeError(f"cannot make a {type(like).__name__} array: its library has no asarray")


def to_library(x: Any, lib: Any) -> Any:
    """``x`` (an array of any library the engine holds) as an array of ``lib`` (a namespace
    module with ``asarray``: numpy, cupy, dask.array, array_api_strict ...): the one
    explicit move between libraries (``Module.to``).  Back to NumPy goes through the
    library's own way out (DLPack, ``.get()``, ``.compute()``)."""
    raw = xparray.unwrap(x)
    if lib is np:
        if raw.__class__ is np.ndarray:
            return raw
        b = backend(x)
        if b == "dask":
            return np.asarray(raw.compute())
        if b == "cupy":
            return raw.get()
        return np.from_dlpack(raw).copy()
    r = lib.asarray(raw)
    return xparray.wrap(r) if xparray.held(r) else r


def library_of(x: Any) -> Any:
    """The namespace module of ``x``'s library (numpy, dask.array, cupy, array_api_strict)."""
    if isinstance(x, xparray.XPArray):
        return x.xp
    b = backend(x)
    if b in (None, "numpy"):
        return np
    return importlib.import_module("dask.array" if b == "dask" else b)
