"""detect_anomaly: the first operation that produced a NaN or an inf, and the user's line.

Inside ``with cr.detect_anomaly():`` the engine records each node's creation site and
calls ``check_forward`` after every operation on Tensors and ``check_backward`` after
every VJP rule.  An operation whose output holds a nan (or an inf) that its inputs did
not hold is reported with its name, the shapes, the first bad element, the input values
there and the line that called it; in the backward pass, the rule that produced it and
the line where its operation was called in the forward pass.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import errors, hooks
from ..core.primitive import Meta
from ..core.state import STATE


class AnomalyError(errors.GradientError):
    """An operation produced nan/inf inside ``detect_anomaly()``."""

    def __init__(self, message: str, event: Anomaly) -> None:
        super().__init__(message)
        self.event = event


class AnomalyWarning(RuntimeWarning):
    """detect_anomaly(raise_error=False) reports anomalies as warnings."""


@dataclass
class Anomaly:
    op: str
    phase: str          # "forward" / "backward"
    kind: str           # "nan" / "inf" / "nan and inf"
    index: tuple
    site: str
    message: str


class _Active(threading.local):
    def __init__(self) -> None:
        self.stack: list[detect_anomaly] = []


_ACTIVE = _Active()


class detect_anomaly:
    """``with cr.detect_anomaly():`` -- stop at the first operation that makes a nan/inf.

    ``raise_error=True`` (default) raises :class:`AnomalyError`; ``False`` warns
    (:class:`AnomalyWarning`) and goes on.  ``check_forward=False`` watches only the
    backward pass (PyTorch's behaviour).  Found anomalies are kept in ``.anomalies``.
    Also usable as a decorator.  Costs a finiteness test per operation: a debugging tool.
    """

    def __init__(self, raise_error: bool = True, check_forward: bool = True) -> None:
        self.raise_error = raise_error
        self.check_forward = check_forward
        self.anomalies: list[Anomaly] = []
        self._saved: list[bool] = []

    def __enter__(self) -> detect_anomaly:
        self._saved.append(STATE.anomaly)
        STATE.anomaly = True
        _ACTIVE.stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _ACTIVE.stack.remove(self)
        STATE.anomaly = self._saved.pop()

    def __call__(self, fn: Callable) -> Callable:
        import functools

        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with detect_anomaly(self.raise_error, self.check_forward):
                return fn(*a, **k)

        return wrapper


def _ctx() -> detect_anomaly | None:
    return _ACTIVE.stack[-1] if _ACTIVE.stack else None


def _plain(a: Any) -> Any:
    return getattr(a, "_value", a)


def _bad_flags(v: np.ndarray) -> tuple[bool, bool]:
    if v.dtype.kind not in "fc":
        return False, False
    return bool(np.isnan(v).any()), bool(np.isinf(v).any())


def _kind(nan: bool, inf: bool) -> str:
    return "nan and inf" if nan and inf else "nan" if nan else "inf"


def _first_bad(v: np.ndarray, nan_only: bool) -> tuple:
    mask = np.isnan(v) if nan_only else ~np.isfinite(v)
    if v.ndim == 0:
        return ()
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), v.shape))


def _values_at(args: Any, idx: tuple, shape: tuple) -> str:
    parts = []
    for i, a in enumerate(args):
        a = _plain(a)
        if isinstance(a, Meta) or not hasattr(a, "shape") and not isinstance(a, int | float):
            continue
        arr = np.asarray(a)
        if arr.dtype.kind not in "fciub":
            continue
        try:
            v = np.broadcast_to(arr, shape)[idx] if shape else arr.reshape(-1)[0]
        except ValueError:
            continue
        parts.append(f"argument {i} = {np.asarray(v).item()!r}" if np.ndim(v) == 0
                     else f"argument {i}")
    return ", ".join(parts)


def _report(event: Anomaly) -> None:
    ctx = _ctx()
    if ctx is not None:
        ctx.anomalies.append(event)
    if ctx is None or ctx.raise_error:
        raise AnomalyError(event.message, event)
    warnings.warn(event.message, AnomalyWarning, stacklevel=4)


def check_forward(prim: Any, args: tuple, out: Any) -> None:
    """Called by the engine after each operation on Tensors while anomaly mode is on."""
    ctx = _ctx()
    if ctx is not None and not ctx.check_forward:
        return
    v = _plain(out)
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "fc":
        return
    if np.isfinite(v).all():
        return
    onan, oinf = _bad_flags(v)
    inan = iinf = False
    for a in args:
        a = _plain(a)
        if isinstance(a, np.ndarray | float | complex | np.generic):
            n_, i_ = _bad_flags(np.asarray(a))
            inan, iinf = inan or n_, iinf or i_
    new_nan = onan and not inan
    new_inf = oinf and not inan and not iinf
    if not (new_nan or new_inf):
        return
    idx = _first_bad(v, nan_only=new_nan and not new_inf)
    site = errors.format_site(errors.user_site(2))
    kind = _kind(new_nan, new_inf)
    at = f"[{', '.join(map(str, idx))}]" if idx else ""
    vals = _values_at(args, idx, v.shape)
    msg = (f"detect_anomaly: {prim.name} produced {kind} in the forward pass (first at "
           f"element {at or '()'} of its output of shape {v.shape}"
           + (f"; there {vals}" if vals else "") + ")"
           f"\n  at {site}\n  input shapes: {errors.shapes_of([_plain(a) for a in args]) or '-'}"
           f"\n  {_advice(prim.name, 'forward')}")
    _report(Anomaly(prim.name, "forward", kind, idx, site, msg))


def check_backward(node: Any, i: int, gi: Any) -> None:
    """Called by the engine after each VJP rule while anomaly mode is on."""
    v = _plain(gi)
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "fc" or np.isfinite(v).all():
        return
    nan, inf = _bad_flags(v)
    idx = _first_bad(v, nan_only=False)
    site = errors.format_site(node.site)
    kind = _kind(nan, inf)
    at = f"[{', '.join(map(str, idx))}]" if idx else "()"
    vals = _values_at(node.args or (), idx, v.shape)
    msg = (f"detect_anomaly: the backward rule of {node.name} for argument {i} produced {kind} "
           f"(first at element {at} of the gradient of shape {v.shape}"
           + (f"; there the forward {vals}" if vals else "") + ")"
           f"\n  {node.name} was called at {site}"
           f"\n  {_advice(node.name, 'backward')}")
    _report(Anomaly(node.name, "backward", kind, idx, site, msg))


_WHY = {
    "log": "log of 0 or of a negative number",
    "sqrt": "the derivative of sqrt at 0 is infinite",
    "true_divide": "a division by zero",
    "reciprocal": "a division by zero",
    "power": "a power of 0 with a negative or fractional exponent",
    "arcsin": "arcsin/arccos at +-1 (infinite slope) or outside [-1, 1]",
    "arccos": "arcsin/arccos at +-1 (infinite slope) or outside [-1, 1]",
    "exp": "exp overflows above about 709 (float64) / 88 (float32)",
}


def _advice(name: str, phase: str) -> str:
    why = _WHY.get(name)
    base = f"common cause: {why}. " if why else ""
    if phase == "backward":
        return base + ("A finite forward value can have an infinite derivative; guard the "
                       "input (np.clip, np.where with a safe value in the other branch).")
    return base + "Guard the input (np.clip, np.maximum(x, eps)) or mask it with np.where."


hooks.check_forward = check_forward  # the core calls them in anomaly mode (core/hooks.py)
hooks.check_backward = check_backward
