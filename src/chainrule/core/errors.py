"""Errors that name the operation, the shapes and the user's own source line."""

from __future__ import annotations

import linecache
import os
import sys

import numpy as np

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY = os.path.dirname(os.path.abspath(__import__("numpy").__file__))


def _classify(filename: str) -> bool:
    if not filename.startswith("<"):
        # a module imported through a path such as checkout/benchmarks/../src names its
        # files that way: compare the normalized path
        try:
            filename = os.path.normpath(os.path.join(os.getcwd(), filename))
        except OSError:  # (the working directory is gone)
            filename = os.path.normpath(filename)
    return (
        filename.startswith(_PKG + os.sep)
        or filename.startswith(_NUMPY + os.sep)
        or filename.startswith("<frozen")
        or os.sep + "contextlib.py" in filename
        or os.sep + "functools.py" in filename
    )


_LIBRARY: dict[str, bool] = {}  # filename -> whether it is chainrule's, NumPy's or stdlib glue


def _is_library(filename: str) -> bool:
    """Is ``filename`` (a code object's) part of chainrule, NumPy or Python's own plumbing
    (contextlib, functools): a frame to skip when naming the user's line?"""
    lib = _LIBRARY.get(filename)
    if lib is None:
        lib = _LIBRARY[filename] = _classify(filename)
    return lib


def user_site(skip: int = 1) -> tuple[str, int] | None:
    """(filename, lineno) of the innermost frame outside chainrule and numpy."""
    f = sys._getframe(skip)
    while f is not None:
        fn = f.f_code.co_filename
        lib = _LIBRARY.get(fn)
        if lib is None:
            lib = _LIBRARY[fn] = _classify(fn)
        if not lib:
            return fn, f.f_lineno
        f = f.f_back
    return None


def format_site(site: tuple[str, int] | None) -> str:
    if site is None:
        return "<unknown location>"
    fn, ln = site
    code = linecache.getline(fn, ln).strip()
    return f"{fn}:{ln}" + (f": {code}" if code else "")


def user_line() -> str:
    return format_site(user_site(2))


class ChainruleError(Exception):
    """Base class of chainrule's own errors."""


class GradientError(ChainruleError, RuntimeError):
    """A gradient cannot be computed correctly; the message says what to do."""


class LeftGraphError(ChainruleError, TypeError):
    """A traced value left the graph (float(), math.*, np.asarray ...)."""


class ShapeError(ChainruleError, ValueError):
    """Operands whose shapes do not fit."""


class LinAlgError(ChainruleError, np.linalg.LinAlgError):
    """A linear-algebra operation failed (a singular matrix ...); still a numpy LinAlgError."""


class BackendError(ChainruleError, NotImplementedError):
    """An operation the array's library (Dask, CuPy ...) cannot do as asked; nothing was
    converted to NumPy behind the user's back."""


def shapes_of(args) -> str:
    out = []
    for a in args:
        shp = getattr(a, "shape", None)
        if shp is not None:
            out.append(str(tuple(shp)))
        elif isinstance(a, (int, float, complex)):
            out.append("scalar")
    return ", ".join(out)
