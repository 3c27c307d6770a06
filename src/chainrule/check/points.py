"""Where two computations evaluate their nonlinear pieces.

A derivative taken by the chain rule evaluates each inner function's derivative at the
point where the function itself is evaluated: d/dw sigma(w x) needs sigma'(w x), so a
derivative that evaluates sigma at x instead has taken it at the wrong point (the seed's
bug).  This module records the points: Python-level calls of the user's own functions (a
``sys.settrace`` hook that watches only call events) and chainrule's nonlinear primitives
(the engine's recorder), and compares the two computations' points.

It also lends chainrule a way into code written with ``math.*`` (which takes values out of
any autodiff graph): ``math_as_numpy(f)`` patches, for the duration of a trace only, the
``math`` module and its functions in the globals that f reaches with NumPy's.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import errors
from .numerical import plain


def _point_args(prim: Any, args: list, library: bool) -> list | None:
    """The arguments that say where ``prim`` is evaluated, if the points check watches it:
    a nonlinear library primitive (``nonlinear=`` on its defprim: a derivative must evaluate
    it, or its derivative, at the same points as f does; a tuple names the arguments that
    locate the point), or any primitive of the user's own (all its arguments)."""
    if not library:
        return args
    where = getattr(prim, "nonlinear", False)
    if where is True:
        return args
    if not where:
        return None
    return [args[i] for i in where if i < len(args)]


def nonlinear_primitives() -> list[str]:
    """The library primitives the points check watches (flagged ``nonlinear=``)."""
    from ..core.registry import PRIMITIVES

    return sorted(n for n, p in PRIMITIVES.items() if getattr(p, "nonlinear", False))


@dataclass
class Call:
    name: str                  # function name
    key: Any                   # what identifies "the same function" in both computations
    args: tuple                # numeric argument values
    site: tuple | None         # (file, line) of the call
    caller: str = ""           # the calling function's name


@dataclass
class Points:
    calls: list[Call] = field(default_factory=list)
    error: BaseException | None = None
    value: Any = None


def _numeric(v: Any) -> Any:
    v = plain(v)
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float | complex | np.number):
        return v
    if isinstance(v, np.ndarray) and v.dtype.kind in "fc" and v.size <= 64:
        return np.array(v, copy=True)
    return None


def _is_user(filename: str) -> bool:
    return not errors._is_library(filename) and not filename.startswith("<frozen") and (
        "site-packages" not in filename) and "/lib/python" not in filename


def python_calls(fn: Callable, *args: Any, skip: Sequence[Any] = ()) -> Points:
    """Run fn(*args), recording calls of user-level Python functions and their arguments."""
    pts = Points()
    skip_codes = {getattr(s, "__code__", None) for s in skip}

    def tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event != "call":
            return None
        code = frame.f_code
        if code in skip_codes or not _is_user(code.co_filename):
            return None
        nargs = code.co_argcount + code.co_kwonlyargcount
        vals = []
        for name in code.co_varnames[:nargs]:
            v = _numeric(frame.f_locals.get(name))
            if v is not None:
                vals.append(v)
        if vals:
            back = frame.f_back
            site = (back.f_code.co_filename, back.f_lineno) if back is not None else None
            caller = back.f_code.co_name if back is not None else ""
            pts.calls.append(Call(code.co_name, code, tuple(vals), site, caller))
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        pts.value = fn(*args)
    except Exception as exc:
        pts.error = exc
    finally:
        sys.settrace(old)
    return pts


def op_calls(fn: Callable, *args: Any, requires_grad: Sequence[bool] | None = None) -> Points:
    """Run fn on Tensors, recording chainrule's nonlinear (and custom) primitives."""
    from ..core.tensor import Tensor, tensor
    from ..core.registry import PRIMITIVES
    from .locate import Recorder

    lib = {id(p) for p in PRIMITIVES.values()}
    pts = Points()
    flags = requires_grad or [True] * len(args)
    with Recorder() as rec:
        targs = []
        for a, fl in zip(args, flags, strict=True):
            if fl and isinstance(plain(a), np.ndarray | float | np.floating):
                targs.append(tensor(np.asarray(plain(a), dtype=np.float64), requires_grad=True))
            else:
                targs.append(a)
        try:
            pts.value = fn(*targs)
        except Exception as exc:
            pts.error = exc
    for r in rec.recs:
        args = _point_args(r.prim, r.args, id(r.prim) in lib)
        if args is not None:
            vals = tuple(v for v in (_numeric(a) for a in args) if v is not None)
            if vals:
                pts.calls.append(Call(r.prim.name, ("op", r.prim.name), vals, r.site))
    _ = Tensor
    return pts


def _same(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        xa, ya = np.asarray(x), np.asarray(y)
        if xa.shape != ya.shape or not np.allclose(xa, ya, rtol=1e-9, atol=1e-12):
            return False
    return True


def _num(v: Any) -> str:
    if isinstance(v, complex):
        return f"{v:.6g}"
    r = repr(float(v))
    return r if len(r) <= 8 else f"{float(v):.6g}"


def _show(vals: tuple) -> str:
    parts = []
    for v in vals:
        a = np.asarray(v)
        if a.size == 1:
            parts.append(_num(a.reshape(-1)[0].item()))
        else:
            parts.append(np.array2string(a.reshape(-1)[:4], precision=4, separator=", ") +
                         ("..." if a.size > 4 else ""))
    return ", ".join(parts)


@dataclass
class Mismatch:
    name: str
    key: Any
    ref: list[Call]            # where the reference (f / the forward) evaluates it
    other: list[Call]          # points only the derivative uses

    def describe(self, who: str, ref_who: str) -> str:
        o = "; ".join(sorted({_show(c.args) for c in self.other}))
        r = "; ".join(sorted({_show(c.args) for c in self.ref}))
        return f"{who} evaluates {self.name} at {o} where {ref_who} evaluates it at {r}"


def compare(ref: Points, other: Points) -> list[Mismatch]:
    """Functions both computations evaluate, at points only ``other`` uses."""
    out = []
    keys: dict[Any, list[Call]] = {}
    for c in ref.calls:
        keys.setdefault(c.key, []).append(c)
    seen = set()
    for c in other.calls:
        if c.key not in keys or c.key in seen:
            continue
        mine = [d for d in other.calls if d.key == c.key]
        extra = [d for d in mine if not any(_same(d.args, r.args) for r in keys[c.key])]
        if extra:
            out.append(Mismatch(c.name, c.key, keys[c.key], extra))
        seen.add(c.key)
    return out


# ---------------------------------------------------------------------------------
# what a rule evaluates compared with its forward


def rule_vs_forward(rec: Any, argnum: int, mode: str, ad: Any) -> list[str]:
    """Hints for a node whose rule evaluates a nonlinear piece where its forward does not."""
    prim = rec.prim
    args = list(ad.args)
    # every float argument is watched (a constant one too: the rule may misuse it)
    tracked = [isinstance(a, np.ndarray | float) and np.asarray(a).dtype.kind == "f"
               for a in args]

    def fwd(*a: Any) -> Any:
        return prim.fwd(*a, **rec.kw)

    ref_ops = op_calls(fwd, *args, requires_grad=tracked)
    ref_py = python_calls(fwd, *args)
    rule = (prim.vjps if mode == "VJP" else prim.jvps).get(argnum)
    if rule is None:
        return []
    ans = np.asarray(ad.ans)
    first = np.ones(ans.shape) if mode == "VJP" else np.ones(np.shape(args[argnum]))

    def call_rule(g: Any, a_: Any, *rest: Any) -> Any:
        return rule(g, a_, *rest, **rec.kw)

    rflags = [False, False] + tracked
    oth_ops = op_calls(call_rule, first, ans, *args, requires_grad=rflags)
    oth_py = python_calls(call_rule, first, ans, *args)
    out = []
    for m in compare(ref_ops, oth_ops) + compare(ref_py, oth_py):
        out.append(m.describe("the rule", "the forward") +
                   ": a derivative must be taken where the forward evaluates the function")
    return out[:2]


# ---------------------------------------------------------------------------------
# math.* under a trace


_MATH_NUMPY: dict[str, Callable] = {
    "exp": np.exp, "expm1": np.expm1, "log1p": np.log1p, "log2": np.log2,
    "log10": np.log10, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "atan2": np.arctan2,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "fabs": np.abs, "pow": np.power,
    "hypot": np.hypot, "cbrt": np.cbrt,
}


def _wrap_math(name: str) -> Callable:
    mfn = getattr(math, name)
    nfn = _MATH_NUMPY.get(name)

    def w(*a: Any) -> Any:
        from ..core.tensor import Tensor

        if any(isinstance(v, Tensor) for v in a):
            if name == "log":
                return np.log(a[0]) if len(a) == 1 else np.log(a[0]) / np.log(a[1])
            if nfn is not None:
                return nfn(*a)
        return mfn(*a)

    w.__name__ = name
    return w


class _MathShim(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name in _MATH_NUMPY or name == "log":
            return _wrap_math(name)
        return getattr(math, name)


def _reachable_globals(fns: Sequence[Any], depth: int = 4) -> list[dict]:
    seen: dict[int, dict] = {}
    todo = [(f, 0) for f in fns]
    visited: set[int] = set()
    while todo:
        f, d = todo.pop()
        if id(f) in visited or d > depth:
            continue
        visited.add(id(f))
        f = getattr(f, "__func__", f)
        code = getattr(f, "__code__", None)
        g = getattr(f, "__globals__", None)
        if code is None or g is None:
            continue
        fname = code.co_filename
        if errors._is_library(fname):
            continue
        seen[id(g)] = g
        names = set()
        stack = [code]
        while stack:
            c = stack.pop()
            names.update(c.co_names)
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        mods = [v for v in (g.get(nm) for nm in names) if isinstance(v, types.ModuleType)
                and not errors._is_library(getattr(v, "__file__", None) or "<frozen>")]
        for nm in names:
            for v in [g.get(nm)] + [getattr(mod, nm, None) for mod in mods]:
                if isinstance(v, types.FunctionType):
                    todo.append((v, d + 1))
        for cell in getattr(f, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            if isinstance(v, types.FunctionType):
                todo.append((v, d + 1))
    return list(seen.values())


@contextmanager
def math_as_numpy(*fns: Any) -> Iterator[bool]:
    """Within the block, ``math`` (and math functions imported by name) in the globals
    reached from ``fns`` dispatch to NumPy for Tensors.  Yields whether anything changed."""
    math_ids = {id(getattr(math, n)): n for n in list(_MATH_NUMPY) + ["log"]}
    shim = _MathShim("math")
    undo: list[tuple[dict, str, Any]] = []
    for g in _reachable_globals(fns):
        for name, v in list(g.items()):
            if v is math:
                undo.append((g, name, v))
                g[name] = shim
            elif id(v) in math_ids and callable(v):
                undo.append((g, name, v))
                g[name] = _wrap_math(math_ids[id(v)])
    try:
        yield bool(undo)
    finally:
        for g, name, v in reversed(undo):
            g[name] = v


def function_binding(code: Any, fns: Sequence[Any]) -> tuple[dict, str, Any] | None:
    """(globals, name, function) through which ``code``'s function is looked up."""
    for g in _reachable_globals(fns):
        for name, v in g.items():
            if isinstance(v, types.FunctionType) and v.__code__ is code:
                return g, name, v
    return None
