"""``cr.compile(f)``: trace ``f`` once per signature, run the emitted straight-line NumPy.

A call is keyed by its *signature*: the structure of the arguments, each array's shape and
dtype, each Tensor's and whether it requires grad, the value of every static argument and
Python scalar, and the grad mode.  A new signature traces (one eager run of ``f`` on
``Traced`` values: its result is eager's), emits a function and keeps it; a known one runs
the emitted code.  A guard that fails (a branch on a traced value going the other way)
traces again; a signature with more than ``max_traces`` outcomes runs eagerly from then on,
with a warning that names the line.

Called on Tensors that require grad, the compiled function is one recorded operation:
its forward is the emitted forward, its VJP the emitted backward (both traced together
from ``f`` and the engine's own backward pass, then split where the cotangents enter).
A backward pass that must itself be differentiated (``create_graph``, ``cr.grad`` of
``cr.grad``) runs ``f`` eagerly instead: never a wrong higher derivative.
"""

from __future__ import annotations

import builtins
import copy as _copy
import functools
import inspect
import keyword
import re
import sys
import threading
import types
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from ..core import errors
from ..core.graph import backward as _backward
from ..core.primitive import Primitive, apply, leaf_node
from ..core.state import STATE, next_seq
from ..core.tensor import Tensor, enable_grad
from ..nn import random as _nnrandom
from ..transforms import Transformed
from . import emit as E
from .tracer import _LOCAL, CompileError, Retrace, Trace, Traced, current

_ndarray = np.ndarray
MISS = object()  # no compiled code ran (Compiled._run_cached)
EAGER = object()  # the compiled code raised an exception: this call runs eagerly
_PY_SCALARS = (bool, int, float, complex, str, bytes, type(None))


# --- pytrees ---------------------------------------------------------------------------

def flatten(x: Any) -> tuple[list, Any]:
    """Leaves and a hashable description of the structure (tuples, lists, dicts, None)."""
    leaves: list = []
    return leaves, _flat(x, leaves)


def _flat(x: Any, leaves: list) -> Any:
    c = x.__class__
    if c is tuple or c is list:
        return (c, tuple(_flat(v, leaves) for v in x))
    if c is dict:
        keys = tuple(x)  # (in the dict's order: f may iterate it, and eager keeps it)
        return (dict, keys, tuple(_flat(x[k], leaves) for k in keys))
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a named tuple
        return (c, tuple(_flat(v, leaves) for v in x))
    leaves.append(x)
    return None


def unflatten(tree: Any, leaves: Any) -> Any:
    it = iter(leaves)
    return _unflat(tree, it)


def _unflat(tree: Any, it: Any) -> Any:
    if tree is None:
        return next(it)
    c = tree[0]
    if c is dict:
        return {k: _unflat(t, it) for k, t in zip(tree[1], tree[2])}
    vals = [_unflat(t, it) for t in tree[1]]
    if c is tuple or c is list:
        return c(vals)
    return c(*vals)


# --- what a trace reads from outside its arguments ---------------------------------------

def _reachable(f: Any, depth: int = 0, seen: set | None = None) -> list:
    """(getter, object, name) for each array, Tensor, Generator and Python or NumPy scalar
    ``f`` can reach through its closure, the globals its code names, its defaults, a bound
    method's object, and the functions, containers and objects among those."""
    seen = set() if seen is None else seen
    out: list = []
    if id(f) in seen or depth > 6:
        return out
    seen.add(id(f))
    if isinstance(f, functools.partial):
        for i, a in enumerate(f.args):
            out += _leaf_refs(a, lambda f=f, i=i: f.args[i], depth, seen, None)
        for k, a in f.keywords.items():
            out += _leaf_refs(a, lambda f=f, k=k: f.keywords[k], depth, seen, k)
        return out + _reachable(f.func, depth + 1, seen)
    if isinstance(f, types.MethodType):  # obj.method: what it reads from self too
        out += _leaf_refs(f.__self__, lambda f=f: f.__self__, depth, seen, None)
        return out + _reachable(f.__func__, depth + 1, seen)
    if isinstance(f, Transformed):  # cr.grad(f) ...: the closure that calls f
        return _reachable(f._fn, depth + 1, seen)
    code = getattr(f, "__code__", None)
    if code is None:
        call = getattr(type(f), "__call__", None)  # noqa: B004 (the class's own function)
        if isinstance(call, types.FunctionType) and not type(f).__module__.startswith(
                "chainrule"):
            seen.discard(id(f))  # (the object's own state: walked as an object)
            return _leaf_refs(f, lambda f=f: f, depth, seen, None)
        return out
    for name, cell in zip(code.co_freevars, f.__closure__ or ()):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        out += _leaf_refs(v, _tagged(lambda cell=cell: cell.cell_contents, cell=cell),
                          depth, seen, name)
    g = getattr(f, "__globals__", {})
    for name in _names(code):
        if name in g:
            out += _leaf_refs(g[name], _tagged(lambda g=g, name=name: g.get(name, _GONE),
                                               globals=(g, name)), depth, seen, name)
    for i, d in enumerate(f.__defaults__ or ()):
        out += _leaf_refs(d, lambda f=f, i=i: f.__defaults__[i], depth, seen, None)
    for k, d in (getattr(f, "__kwdefaults__", None) or {}).items():
        out += _leaf_refs(d, lambda f=f, k=k: _item(f.__kwdefaults__, k), depth, seen, k)
    return out


def _tagged(get: Callable, **how: Any) -> Callable:
    """A getter that says where it reads (a closure cell, a module's globals), so that the
    check of captured values can read it there directly."""
    get.how = how
    return get


def _names(code: types.CodeType) -> set:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


_GONE = object()  # what a getter gives where its path no longer leads anywhere
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_MAX_ITEMS = 256  # a container longer than this is not looked into (docs/compile.md)


def _item(c: Any, k: Any) -> Any:
    try:
        return c[k]
    except (KeyError, IndexError, TypeError):
        return _GONE


def _attr(o: Any, k: str) -> Any:
    d = getattr(o, "__dict__", None)
    return d.get(k, _GONE) if isinstance(d, dict) else _GONE


def _walks_into(v: Any) -> bool:
    """Is ``v`` an object whose attributes a function may read (``self.w``, ``cfg.lr``): one
    of the user's classes, or an nn.Module; not a module, a class, NumPy's or chainrule's
    machinery."""
    if isinstance(v, (type, types.ModuleType)) or not isinstance(
            getattr(v, "__dict__", None), dict):
        return False
    if isinstance(v, _nnmodule_cls()):
        return True
    mod = type(v).__module__ or ""
    return not (mod.startswith(("chainrule", "numpy", "builtins")) or mod in (
        "types", "functools", "threading", "typing", "abc") or (
            mod.startswith("_") and mod != "__main__"))


class _Ident:
    """A captured object checked by identity only."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj


def _is_traced(v: Any) -> bool:
    return v.__class__ is Traced or (isinstance(v, Tensor) and v._value.__class__ is Traced)


def _has_state(x: Any) -> bool:
    """Is ``x`` (an argument keyed by identity) something whose contents the trace may read:
    an object, a function (its closure and globals)?"""
    return isinstance(x, (types.FunctionType, functools.partial, types.MethodType)) or \
        _walks_into(x)


def _nnmodule_cls() -> type:
    from ..nn.module import Module
    return Module


def _frozen(t: tuple) -> bool:
    """Is ``t`` made of Python scalars and such tuples only (nothing in it can change)?"""
    for x in t:
        if x.__class__ is tuple:
            if not _frozen(x):
                return False
        elif x.__class__ not in _SCALARS:
            return False
    return True


def _leaf_refs(v: Any, get: Callable, depth: int, seen: set, name: str | None) -> list:
    if isinstance(v, (_ndarray, Tensor, np.random.Generator)) or v.__class__ is Traced:
        return [(get, v, name)]
    if v.__class__ in _SCALARS or isinstance(v, np.generic):
        return [(get, v, name)]
    # a function, a ufunc, an object: the name must still hold it (ACT = np.sin rebound,
    # a global function redefined), and what it reads is walked
    # (not a class, nor one of chainrule's own functions, which the transforms' closures
    # name: they are not rebound)
    ident = [(get, _Ident(v), name)] if (callable(v) or _walks_into(v)) and not (
        isinstance(v, type) or (isinstance(v, types.FunctionType) and (
            v.__module__ or "").startswith("chainrule"))) else []
    if isinstance(v, (types.FunctionType, functools.partial, types.MethodType, Transformed)):
        return ident + _reachable(v, depth + 1, seen)
    if id(v) in seen or depth > 6:
        return ident
    if v.__class__ is tuple and _frozen(v):
        # immutable all the way down (a transform's argnums): the name holding the same
        # tuple is the whole check, one identity test instead of one per item
        return [(get, _Ident(v), name)]
    out: list = ident
    if isinstance(v, (list, tuple)) and not hasattr(v, "_fields") or (
            isinstance(v, tuple) and hasattr(v, "_fields")):
        if len(v) > _MAX_ITEMS:
            return out
        seen.add(id(v))
        for i, x in enumerate(v):
            out += _leaf_refs(x, lambda get=get, i=i: _item(get(), i), depth + 1, seen, None)
        return out
    if isinstance(v, dict):
        if len(v) > _MAX_ITEMS:
            return out
        seen.add(id(v))
        for k, x in list(v.items()):
            out += _leaf_refs(x, lambda get=get, k=k: _item(get(), k), depth + 1, seen, None)
        return out
    if _walks_into(v):
        seen.add(id(v))
        state = v.__dict__
        if len(state) <= _MAX_ITEMS:
            for k, x in list(state.items()):
                out += _leaf_refs(x, lambda get=get, k=k: _attr(get(), k), depth + 1, seen,
                                  None)
        # the globals its own class's methods read (a user's forward)
        for cls in type(v).__mro__:
            if (cls.__module__ or "").startswith(("chainrule", "builtins")):
                continue
            for m in list(vars(cls).values()):
                if isinstance(m, property):
                    m = m.fget
                if isinstance(m, (staticmethod, classmethod)):
                    m = m.__func__
                if isinstance(m, types.FunctionType):
                    out += _reachable(m, depth + 1, seen)
    return out


def _scalar_key(x: Any) -> Any:
    """A scalar's class and exact value (see ``_exact``: -0.0 is not 0.0, NaN is NaN)."""
    return (x.__class__, _exact(x))


class _Captured:
    """What a trace may read from outside its arguments: the arrays and Tensors (a copy of
    each), the Python and NumPy scalars (their values after the trace: what the trace saw
    last), checked on every call (a changed value or a rebound name traces again), and the
    Generators, whose state must not move while tracing.  ``skip``: the ids of containers
    not to look into (a compiled module's parameters and buffers: inputs)."""

    def __init__(self, f: Any, skip: Any = (), objects: Any = ()) -> None:
        self.arrays: list = []
        self.gens: list = []
        self.scalars: list = []
        self.idents: list = []  # (getter, object): functions, ufuncs, objects
        self.names: dict[int, str] = {}  # id(array) -> the name it is read under
        seen = set(skip)
        refs = _reachable(f, seen=seen)
        for o in objects:  # arguments keyed by identity (a config object): their contents
            refs += _leaf_refs(o, lambda o=o: o, 0, seen, None)
        self.objects = objects
        self.skip = skip
        for get, v, name in refs:
            if v.__class__ in _SCALARS or isinstance(v, np.generic):
                self.scalars.append([get, None, None])
                continue
            if _is_traced(v):
                continue  # (a value an earlier trace stored: see stored_traced)
            if v.__class__ is _Ident:
                self.idents.append((get, v.obj))
                continue
            if name is not None and not isinstance(v, np.random.Generator):
                self.names.setdefault(id(v._value if isinstance(v, Tensor) else v), name)
            if isinstance(v, np.random.Generator):
                self.gens.append((v, _copy.deepcopy(v.bit_generator.state)))
            else:
                val = v._value if isinstance(v, Tensor) else v
                try:
                    snap = (val.shape, val.dtype, val.tobytes())
                except Exception:  # (another library's array without bytes: its identity)
                    snap = None
                self.arrays.append((get, v, snap))
        self.settle()

    def stored_traced(self, f: Any) -> list:
        """The names of the places (a closure's list, a module's attribute) where the trace
        left a traced value: side effects happen while tracing only, so compiled calls
        would leave it stale."""
        seen = set(self.skip)
        refs = _reachable(f, seen=seen)
        for o in self.objects:
            refs += _leaf_refs(o, lambda o=o: o, 0, seen, None)
        return [name or "an object's attribute or a container's item"
                for _, v, name in refs if _is_traced(v)]

    def settle(self) -> None:
        """Take the scalars' values (after the trace: a counter the function bumps while
        tracing is not a change) and build the check."""
        for s in self.scalars:
            v = s[0]()
            s[1] = _scalar_key(v) if v.__class__ in _SCALARS or isinstance(v, np.generic) \
                else ("not a scalar", v)
            s[2:] = [v]
        self.same = self._checker()

    def __bool__(self) -> bool:
        return bool(self.arrays or self.gens or self.scalars or self.idents)

    def checks(self, prefix: str, fail: str) -> tuple[list[str], dict]:
        """The check as statements (``fail`` where a value differs; an emptied closure cell
        raises ValueError) and the names they read, each starting with ``prefix``."""
        ns: dict[str, Any] = {"_GONE": _GONE, "_scalar_key": _scalar_key}
        lines = []

        def reader(get: Callable, p: str) -> str:
            how = getattr(get, "how", {})
            if "cell" in how:
                ns[f"{p}c"] = how["cell"]
                return f"{p}c.cell_contents"
            if "globals" in how:
                ns[f"{p}g"], ns[f"{p}n"] = how["globals"]
                return f"{p}g.get({p}n, _GONE)"
            ns[f"{p}get"] = get
            return f"{p}get()"

        for i, (get, v, snap) in enumerate(self.arrays):
            p = f"{prefix}{i}"
            ns[f"{p}v"] = v
            lines.append(f"if {reader(get, p)} is not {p}v: {fail}")
            if snap is None:
                continue
            ns[f"{p}s"], ns[f"{p}d"], ns[f"{p}b"] = snap
            val = f"{p}v._value" if isinstance(v, Tensor) else f"{p}v"
            lines.append(f"x = {val}")
            lines.append(f"if x.shape != {p}s or x.dtype != {p}d "
                         f"or x.tobytes() != {p}b: {fail}")
        for i, (get, obj) in enumerate(self.idents):
            p = f"{prefix}i{i}"
            ns[f"{p}o"] = obj
            lines.append(f"if {reader(get, p)} is not {p}o: {fail}")
        for i, (get, key, value) in enumerate(self.scalars):
            p = f"{prefix}s{i}"
            ns[f"{p}k"] = key
            if key[0] == "not a scalar":  # (rebound while tracing: what it holds now)
                ns[f"{p}x"] = value
                lines.append(f"if {reader(get, p)} is not {p}x: {fail}")
            elif key[0] is bool or key[0] is type(None) or key[0] is int or key[0] is str:
                # (compared as themselves, with their class: True == 1)
                ns[f"{p}t"], ns[f"{p}x"] = key[0], value
                lines.append(f"x = {reader(get, p)}")
                lines.append(f"if x.__class__ is not {p}t or x != {p}x: {fail}")
            else:
                lines.append(f"if _scalar_key({reader(get, p)}) != {p}k: {fail}")
        return lines, ns

    def _checker(self) -> Callable[[], bool]:
        """``same`` as straight-line code: each captured name read where it lives, each
        value compared with its snapshot (identity, shape, dtype, bytes)."""
        body, ns = self.checks("k", "return False")
        ns["_ValueError"] = ValueError
        lines = ["def same():", "    try:", "        pass"] + ["        " + ln for ln in body]
        lines += ["    except _ValueError:  # an emptied closure cell", "        return False",
                  "    return True"]
        exec(builtins.compile("\n".join(lines) + "\n", "<chainrule.compile captured>",
                              "exec"), ns)
        return ns["same"]


# --- random numbers ------------------------------------------------------------------------

def _draw(generator: Any, method: str, *args: Any) -> Any:
    """nn's random draws (dropout) while tracing: drawn as eager would, and made an input
    of the compiled code, drawn afresh from the same generator on every call."""
    q = _REPLAY.queue
    if q:
        return q.pop(0)  # an eager re-run of a compiled call: the numbers it drew
    tr = current()
    gen = _nnrandom.get(generator)
    value = getattr(gen, method)(*args)
    if tr is None:
        return value
    t = tr.input(np.asarray(value))
    tr.inputs.pop()  # not a positional input: drawn by the caller of the emitted code
    tr.random.append((t, generator, method, args))
    return t


class _Replay(threading.local):
    queue: list | None = None


_REPLAY = _Replay()
_nnrandom.TRACE_DRAW = _draw


def _watch_entropy() -> None:
    """Make a generator created without a seed while tracing (``np.random.default_rng()``:
    fresh OS entropy, other numbers on every eager call) visible: NumPy's SeedSequence
    draws that entropy through ``numpy.random.bit_generator.randbits``, wrapped (once) to
    mark the trace of this thread."""
    global _ENTROPY_WATCHED
    if _ENTROPY_WATCHED:
        return
    _ENTROPY_WATCHED = True
    try:
        from numpy.random import bit_generator as bg
        orig = bg.randbits
    except (ImportError, AttributeError):  # pragma: no cover (another NumPy)
        return

    def randbits(k: int) -> int:
        tr = current()
        if tr is not None:
            tr.entropy = True
        return orig(k)

    bg.randbits = randbits


_ENTROPY_WATCHED = False


def _rng_state() -> Any:
    st = np.random.get_state()
    return st[1].tobytes(), st[2]


# --- one trace -------------------------------------------------------------------------------

class _Entry:
    """One signature's compiled code."""

    __slots__ = ("fn", "source", "out_tree", "out_spec", "random", "captured", "n_in",
                 "bwd", "bwd_source", "n_res", "diff_out", "diff_shapes", "prim", "call",
                 "unused", "writes", "restore", "layout")


def _user_names(trace: Trace) -> Callable:
    """A profile function that names traced values after the user's local variables (read
    when each of the user's frames returns)."""
    names = trace.names

    def prof(frame: Any, event: str, arg: Any) -> None:
        if event != "return" or errors._is_library(frame.f_code.co_filename):
            return
        for k, v in frame.f_locals.items():
            if k.startswith("_"):
                continue
            if isinstance(v, Tensor):
                v = v._value
            if v.__class__ is Traced and id(v) not in names:
                names[id(v)] = k
    return prof


def _kind(x: Any) -> tuple:
    """A leaf's part of the signature, and whether it is dynamic (an input of the code)."""
    c = x.__class__
    if c is _ndarray:
        return ("a", x.shape, x.dtype), True
    if isinstance(x, Tensor):
        return ("T", x._value.shape, x._value.dtype, x._node is not None,
                x._tangents is not None), True
    if isinstance(x, np.generic):
        return ("s", x.dtype), True
    if isinstance(x, _ndarray):
        return ("a", x.shape, x.dtype, c), True
    if isinstance(x, _PY_SCALARS):
        return ("p", c, _exact(x)), False
    if c is slice:  # (unhashable before Python 3.12)
        return ("o", c, _exact((x.start, x.stop, x.step))), False
    try:
        hash(x)
    except TypeError:
        raise TypeError(
            f"cr.compile: an argument of type {c.__name__} is neither an array nor hashable, "
            f"so it cannot key the cache.\n  at {errors.user_line()}\n  Pass arrays, "
            f"Tensors, numbers or hashable values (or mark it static with static_argnums "
            f"after making it hashable).") from None
    return ("o", c, x), False


def _layout(dyn: list) -> tuple:
    """Each input array's strides, whether it is a view, writeable, aligned, and the first
    input it may share memory with."""
    raw = [x._value if isinstance(x, Tensor) else x for x in dyn]
    out = []
    for i, a in enumerate(raw):
        if a.__class__ is not _ndarray:
            out.append(None)
            continue
        f = a.flags
        share = next((j for j in range(i) if raw[j].__class__ is _ndarray
                      and np.may_share_memory(a, raw[j])), -1)
        out.append((a.strides, a.base is None, f.writeable, f.aligned, share))
    return tuple(out)


def _exact(x: Any) -> Any:
    """A hashable stand-in for ``x`` that is equal only for the same value of the same type:
    ``0.0 == -0.0`` (but ``1 / -0.0`` is ``-inf``) and ``nan != nan`` (a new NaN would never
    hit the cache), so a float is keyed by its bits; ``True == 1`` and ``np.int64(1) == 1``
    (but they index and promote differently), so the type is part of the key; a tuple (a
    static argument) element by element."""
    c = x.__class__
    if c is int or c is str:
        return x
    if c is float:
        return (float, x.hex())
    if c is complex:
        return (complex, x.real.hex(), x.imag.hex())
    if c is tuple:
        return (tuple, tuple(_exact(v) for v in x))
    if isinstance(x, np.generic):  # (np.int64(1) == 1, but x * np.int64(1) is int64)
        return (c, x.dtype, x.tobytes())
    return (c, x)  # (True == 1, but x[True] is not x[1])


class Compiled:
    """A compiled function (see ``cr.compile``)."""

    def __init__(self, f: Callable, static_argnums: Sequence[int] = (),
                 static_argnames: Sequence[str] = (), max_traces: int = 8,
                 name: str | None = None) -> None:
        self.f = f
        self.static_argnums = tuple(static_argnums)
        self.static_argnames = tuple(static_argnames)
        self.max_traces = max_traces
        self.name = name or getattr(f, "__name__", None) or type(f).__name__
        self._cache: dict[Any, list] = {}
        self._hot: Callable | None = None  # the last plain-array signature's fast path
        self._hots: dict[Any, Callable] = {}  # each plain-array signature's
        self._eager: dict[Any, str] = {}
        # the ids of containers the check of captured values does not look into (a
        # compiled module's parameters and buffers, which are inputs)
        self.capture_skip: Callable[[], Any] | None = None
        self.traces = 0
        self.hits = 0
        functools.update_wrapper(self, f, updated=())
        try:
            self._params = list(inspect.signature(f).parameters)
        except (TypeError, ValueError):
            self._params = []

    def __repr__(self) -> str:
        return f"<chainrule compiled {self.name}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    # --- the signature -------------------------------------------------------------
    def _static(self, n: int, kwargs: dict) -> tuple[tuple, tuple]:
        """The positions of this call's static positional arguments, and the names of its
        static keyword arguments (a parameter in static_argnums passed by keyword is
        static too)."""
        nums, names = [], self.static_argnames
        for a in self.static_argnums:
            if -n <= a < n:
                nums.append(a % n)
            elif 0 <= a < len(self._params) and self._params[a] in kwargs:
                names = names + (self._params[a],)
            else:
                raise ValueError(f"cr.compile: static_argnums {a} is out of range for a call "
                                 f"with {n} positional arguments")
        return tuple(nums), names

    def _split(self, args: tuple, kwargs: dict) -> tuple:
        n = len(args)
        static, snames = self._static(n, kwargs)
        dyn_args = [None if i in static else a for i, a in enumerate(args)]
        st_args = tuple((i, _exact(args[i])) for i in static)
        dyn_kw = {k: v for k, v in kwargs.items() if k not in snames}
        st_kw = tuple(sorted(((k, _exact(v)) for k, v in kwargs.items()
                             if k in snames), key=lambda kv: kv[0]))
        leaves, tree = flatten((dyn_args, dyn_kw))
        sig = []
        dyn = []
        for x in leaves:
            k, is_dyn = _kind(x)
            sig.append(k)
            if is_dyn:
                dyn.append(x)
        try:
            key = (tree, tuple(sig), st_args, st_kw, STATE.grad_enabled)
            hash(key)
        except TypeError:
            raise TypeError(f"cr.compile: a static argument is not hashable\n  at "
                            f"{errors.user_line()}") from None
        return key, leaves, tree, dyn

    def cache_info(self) -> dict:
        """``{'signatures', 'traces', 'hits', 'eager'}``: how many signatures have code, how
        many traces were made in all (guards that failed included), how many calls ran
        compiled code, how many signatures fell back to eager."""
        return {"signatures": len(self._cache), "traces": self.traces, "hits": self.hits,
                "eager": len(self._eager)}

    def clear_cache(self) -> None:
        self._cache.clear()
        self._hot = None
        self._hots.clear()
        self._eager.clear()

    # --- calling -----------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hot = self._hot
        if hot is not None and not kwargs:
            try:
                out = hot(args)  # the signature of the last call: its code, or MISS
            except Exception:
                out = MISS  # (the general path below runs it again, and decides)
            if out is not MISS:
                self.hits += 1
                return out
        if _LOCAL.trace is not None:
            return self.f(*args, **kwargs)  # inside another trace: traced inline
        key, leaves, tree, dyn = self._split(args, kwargs)
        if key in self._eager:
            return self.f(*args, **kwargs)
        diff = STATE.grad_enabled and any(isinstance(x, Tensor) and x._node is not None
                                          for x in dyn)
        if any(isinstance(x, Tensor) and x._tangents is not None for x in dyn):
            return self.f(*args, **kwargs)  # forward-mode tangents: eager (documented)
        out = self._run_cached(key, dyn, diff)
        if out is EAGER:
            return self.f(*args, **kwargs)
        if out is MISS:
            out = self._trace_and_run(key, args, kwargs, leaves, tree, dyn, diff)
        if not kwargs and not self.static_argnums and not diff:
            self._make_hot(args, key)
        return out

    def _make_hot(self, args: tuple, key: Any) -> None:
        """The fast call path for this signature when every argument is a plain ndarray and
        its code draws no random numbers (their draws are made by the general path):
        straight-line code that compares each argument's class, shape and dtype, the grad
        mode and the captured arrays, and runs the signature's first entry."""
        entries = self._cache.get(key)
        if not entries or any(e.random or e.bwd is not None or e.restore
                              or e.layout is not None for e in entries):
            self._hot = None
            return
        for a in args:
            if a.__class__ is not _ndarray:
                return
        hot = self._hots.get(key)
        if hot is not None and hot.entries is entries:  # (made once per signature)
            self._hot = hot
            return
        n = len(args)
        names = [f"a{i}" for i in range(n)]
        ns: dict[str, Any] = {"_nd": _ndarray, "_STATE": STATE, "_LOCAL": _LOCAL,
                              "_entries": entries, "_grad": key[-1], "MISS": MISS,
                              "Retrace": Retrace}
        test = ["_STATE.grad_enabled == _grad", "_LOCAL.trace is None", "_entries"]
        for i, a in enumerate(args):
            ns[f"s{i}"], ns[f"d{i}"] = a.shape, a.dtype
            test[i:i] = [f"a{i}.__class__ is _nd and a{i}.shape == s{i} and "
                         f"(a{i}.dtype is d{i} or a{i}.dtype == d{i})"]
        lines = ["def hot(args):", f"    if len(args) == {n}:"]
        if n:
            lines.append(f"        {', '.join(names)}{',' if n == 1 else ''} = args")
        # the entry first in the list now: its captured arrays checked inline, its code
        # called directly (another entry first, after a guard went the other way: checked
        # through its own ``same``)
        e0 = entries[0]
        ns["_e0"], ns["_fn0"] = e0, e0.fn
        inline: list[str] = []
        if e0.captured is not None:
            inline, cns = e0.captured.checks("_k", "return MISS")
            ns.update(cns)
        lines += [f"        if {' and '.join(test)}:",
                  "            e = _entries[0]",
                  "            if e is _e0:"]
        if inline:
            lines += ["                try:"] + ["                    " + ln for ln in inline]
            lines += ["                except ValueError:  # an emptied closure cell",
                      "                    return MISS"]
        lines += ["                try:",
                  f"                    return _fn0({', '.join(names)})",
                  "                except Retrace:",
                  "                    return MISS  # the other outcomes, or a new trace",
                  "            c = e.captured",
                  "            if not e.random and (c is None or c.same()):",
                  "                try:",
                  f"                    return e.fn({', '.join(names)})",
                  "                except Retrace:",
                  "                    pass",
                  "    return MISS"]
        exec(builtins.compile("\n".join(lines) + "\n", f"<chainrule.compile {self.name} call>",
                              "exec"), ns)
        hot = self._hot = self._hots[key] = ns["hot"]
        hot.entries = entries

    def _run_cached(self, key: Any, dyn: list, diff: bool) -> Any:
        """Run the first trace of this signature whose guards pass; MISS if none does."""
        entries = self._cache.get(key)
        if entries:
            for entry in entries:
                if entry.captured is not None and not entry.captured.same():
                    entries.remove(entry)
                    break
                try:
                    out = self._run(entry, dyn, diff)
                except Retrace:
                    continue
                except Exception:
                    # a FloatingPointError under np.errstate(...='raise'), a LinAlgError, an
                    # IndexError of a new index: the function may catch it (eager takes its
                    # except branch) or raise it from its own line: this call runs eagerly
                    if entry.writes:
                        raise
                    return EAGER
                if entries[0] is not entry:  # the outcome seen last is tried first next time
                    entries.remove(entry)
                    entries.insert(0, entry)
                self.hits += 1
                return out
        return MISS

    def _trace_and_run(self, key: Any, args: tuple, kwargs: dict, leaves: list, tree: Any,
                       dyn: list, diff: bool) -> Any:
        entries = self._cache.setdefault(key, [])
        if len(entries) >= self.max_traces:
            entries.clear()  # (the fast path's reference to the list sees it empty)
            self._cache.pop(key, None)
            self._eager[key] = "guards"
            warnings.warn(
                f"cr.compile({self.name}): {self.max_traces} traces for one signature (a "
                f"guard keeps failing: Python control flow on array values, or a float() / "
                f"item() of one); running it eagerly from now on. Make the value a static "
                f"argument (static_argnums), or use np.where instead of if.",
                RuntimeWarning, stacklevel=3)
            return self.f(*args, **kwargs)
        try:
            entry, out = self._trace(args, kwargs, leaves, tree, dyn, diff)
        except BaseException:
            if not entries:  # (the user's exception, unchanged; no half-made signature)
                self._cache.pop(key, None)
            raise
        self.traces += 1
        if entry is None:
            self._eager[key] = "eager"
            return out
        entries.insert(0, entry)
        return out

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The Python code run for a call with these arguments (traced now if it is new):
        the forward and, when the call differentiates, the backward."""
        key, leaves, tree, dyn = self._split(args, kwargs)
        diff = STATE.grad_enabled and any(isinstance(x, Tensor) and x._node is not None
                                          for x in dyn)
        if not self._cache.get(key):
            if key in self._eager:
                raise CompileError(f"cr.compile({self.name}): this signature runs eagerly "
                                   f"({self._eager[key]}); there is no compiled code")
            self._trace_and_run(key, args, kwargs, leaves, tree, dyn, diff)
            if not self._cache.get(key):
                raise CompileError(f"cr.compile({self.name}): this call could not be "
                                   f"compiled; it runs eagerly")
        e = self._cache[key][0]
        return e.source + ("\n" + e.bwd_source if e.bwd_source else "")

    # --- tracing --------------------------------------------------------------------------
    def _input_names(self, tree: Any, leaves: list) -> tuple[list[str], list[int]]:
        """The array inputs' names, and the positional argument each comes from (-1 for a
        keyword argument)."""
        names = []
        positions = []
        # positional arguments named after the function's parameters; leaves inside a
        # structure get an index
        flat_names: list[tuple[str, int]] = []

        def walk(t: Any, base: str, pos: int) -> None:
            if t is None:
                flat_names.append((base, pos))
                return
            if t[0] is dict:
                for k, sub in zip(t[1], t[2]):
                    walk(sub, f"{base}_{k}" if base else str(k), pos)
                return
            for i, sub in enumerate(t[1]):
                walk(sub, f"{base}_{i}", pos)

        (_, argtrees), kwtree = tree[1]
        for i, sub in enumerate(argtrees):
            base = self._params[i] if i < len(self._params) and self._params[i] not in (
                "args", "kwargs") else f"arg{i}"
            walk(sub, base, i)
        walk(kwtree, "", -1)
        for x, (nm, pos) in zip(leaves, flat_names):
            if _kind(x)[1]:
                names.append(nm)
                positions.append(pos)
        return names, positions

    def _warn_type_tests(self) -> None:
        """``isinstance(x, np.ndarray)`` is False for a traced input: say so (once) where the
        function's own code tests for ndarray."""
        if getattr(self, "_type_tests_checked", False):
            return
        self._type_tests_checked = True
        f = self.f
        for _ in range(8):  # (through a bound method, a partial, a transform)
            if f is None or getattr(f, "__code__", None) is not None:
                break
            f = getattr(f, "__func__", None) or getattr(f, "func", None) or getattr(
                f, "_fn", None)
        code = getattr(f, "__code__", None)
        if code is None or errors._is_library(code.co_filename):
            return
        names = _names(code)
        if "ndarray" in names and ("isinstance" in names or "type" in names):
            warnings.warn(
                f"cr.compile({self.name}): the function tests for np.ndarray (isinstance / "
                f"type); while tracing, its array inputs are traced arrays, not ndarrays, so "
                f"that test is False in the compiled code. Branch on np.ndim(x) or x.dtype, "
                f"or make the value static (docs/compile.md).", RuntimeWarning, stacklevel=5)

    def _trace(self, args: tuple, kwargs: dict, leaves: list, tree: Any, dyn: list,
               diff: bool) -> tuple[Any, Any]:
        self._warn_type_tests()
        _watch_entropy()
        tr = Trace()
        captured = _Captured(self.f, self.capture_skip() if self.capture_skip else (),
                             [x for x in leaves if _has_state(x)]
                             + [v for _, v in self._static_values(args, kwargs)
                                if _has_state(v)])
        rng_before = _rng_state()
        gen_before = {id(g): _copy.deepcopy(g) for g, _ in captured.gens}
        tr.const_names = captured.names
        tr.caller = errors.user_site(1)
        nn_gen = _copy.deepcopy(_nnrandom.default_generator())
        in_names, in_pos = self._input_names(tree, leaves)
        new_leaves = []
        traced_inputs = []
        diff_leaves = []
        di = iter(dyn)
        for x in leaves:
            if not _kind(x)[1]:
                new_leaves.append(x)
                continue
            next(di)
            raw = x._value if isinstance(x, Tensor) else x
            if diff and isinstance(raw, _ndarray):
                # the differentiable call runs the emitted code once traced: the trace must
                # not write into the caller's arrays (a BatchNorm buffer) a first time
                raw = raw.copy()
            t = tr.input(raw)
            traced_inputs.append(t)
            if isinstance(x, Tensor):
                tt = Tensor._make(t, None, None)
                if diff and x._node is not None:
                    tt._node = leaf_node(t.shape, t.dtype)
                    diff_leaves.append((len(traced_inputs) - 1, tt))
                new_leaves.append(tt)
            else:
                new_leaves.append(t)
        call_args, call_kw = self._call_args(args, kwargs, tree, new_leaves)
        seq0 = next_seq()
        prof = _user_names(tr)
        old_prof = sys.getprofile()
        sys.setprofile(prof)
        try:
            with tr:
                if diff:
                    with enable_grad():
                        out = self.f(*call_args, **call_kw)
                else:
                    out = self.f(*call_args, **call_kw)
                out_leaves, out_tree = flatten(out)
                for o in out_leaves:
                    if isinstance(o, (types.GeneratorType, types.CoroutineType,
                                      types.AsyncGeneratorType)):
                        raise CompileError(
                            f"cr.compile({self.name}): the function returned a "
                            f"{type(o).__name__}; its body runs after the call returns, "
                            f"outside the trace, so it cannot be compiled.\n  at "
                            f"{errors.format_site(tr.caller)}\n  Compile the function that "
                            f"computes each value (cr.compile(step)), or return a list.")
                spec, flat_out, flat_t = _out_spec(out_leaves)
                grads = cts = None
                diff_out = [j for j, t in enumerate(flat_t) if diff and t is not None
                            and t._node is not None and t.dtype.kind in "fc"]
                # before the backward pass (which frees the graph it walks)
                self._check_foreign(flat_t, seq0, {id(t._node) for _, t in diff_leaves})
                if diff_out:
                    grads, cts = self._backward(tr, [flat_t[j] for j in diff_out], diff_leaves)
                    # an argument the outputs do not depend on gets no gradient (None, as
                    # eagerly): it is not an argument of the recorded operation
                    unused = [i for (i, _), g in zip(diff_leaves, grads) if g is None]
                    diff_leaves = [d for d, g in zip(diff_leaves, grads) if g is not None]
                    grads = [g for g in grads if g is not None]
        finally:
            sys.setprofile(old_prof)
        self._check_random(tr, rng_before, gen_before, captured, nn_gen)
        captured.settle()
        stored = captured.stored_traced(self.f)
        if stored:
            warnings.warn(
                f"cr.compile({self.name}): the function stored a value it computed in "
                f"{stored[0]} while tracing; compiled calls run only NumPy, so that place "
                f"keeps the trace's (finished) value. Return the value instead.",
                RuntimeWarning, stacklevel=4)
        captured = captured if captured else None
        entry = _Entry()
        entry.captured = captured
        entry.random = [(g, m, a) for _, g, m, a in tr.random]
        rand_inputs = [t for t, _, _, _ in tr.random]
        entry.out_tree = out_tree
        entry.out_spec = spec
        in_roots = {E._root(t._v) for t in traced_inputs}
        # (a call that writes into its arguments cannot be run again eagerly after the
        # compiled code stopped half-way: see EAGER)
        # the inputs' memory layout, where the user's code read one (x.flags, x.strides,
        # x.base, np.shares_memory): another layout is another outcome (traced again)
        entry.layout = _layout(dyn) if tr.layout else None
        entry.writes = any(E._root(m._v) in in_roots for op in tr.ops for m in op.mutates)
        # the inputs a call writes into before a guard can fail: put back on a retrace (the
        # next trace, or the signature's next outcome, must start from the caller's values)
        entry.restore = []
        if entry.writes and any(op.kind == "guard" for op in tr.ops):
            written = {E._root(m._v) for op in tr.ops for m in op.mutates}
            entry.restore = [i for i, t in enumerate(traced_inputs)
                             if E._root(t._v) in written]
        if not diff_out:
            ops = E.prune(tr.ops, flat_out,
                          keep_mutations_of={E._root(t._v) for t in traced_inputs})
            ops, alias = E.elide_copies(ops, flat_out, traced_inputs)
            argnums = getattr(self.f, "_cr_gradient", None)
            if argnums is not None:
                argnums = tuple(a % len(args) if args else a for a in argnums)
                _name_gradients(tr, flat_out, traced_inputs, in_names, in_pos, argnums)
            ret, extra = _returner(out_tree, spec)
            src, fn, em = E.emit(self._fname(), ops, traced_inputs + rand_inputs, flat_out,
                                 tr.names,
                                 in_names + [f"random{i}" for i in range(len(rand_inputs))],
                                 alias=alias, const_names=tr.const_names, hints=tr.hints,
                                 ret=ret, caller=tr.caller, extra_ns=extra)
            entry.fn, entry.source, entry.bwd, entry.bwd_source = fn, src, None, ""
            # the concrete result of this (eager) run is the call's result
            result = _rebuild(spec, out_tree, [o._v for o in flat_out])
            return entry, result
        # differentiable: split at the cotangents
        fwd_outs = flat_out
        entry.diff_out = diff_out
        entry.diff_shapes = [(tuple(flat_out[j].shape), int(np.size(flat_out[j]._v)))
                             for j in diff_out]
        grad_outs = [g for g in grads]
        roots_in = {E._root(t._v) for t in traced_inputs}
        bwd_ops_all = E.prune(tr.ops, [g for g in grad_outs if g.__class__ is Traced])
        fwd_ops = E.prune(tr.ops, fwd_outs, keep_mutations_of=roots_in, not_from=cts)
        fwd_ids = {id(op) for op in fwd_ops}
        ct_ids = {id(c) for c in cts}
        bwd_ops = [op for op in bwd_ops_all if id(op) not in fwd_ids]
        bwd_keep = [g for g in grad_outs if g.__class__ is Traced]
        bwd_ops = E.drop_noop_reshapes(E.drop_broadcasts(bwd_ops, bwd_keep), bwd_keep)
        # residuals: what the backward reads that the forward (or an input) made
        made_b = {id(o) for op in bwd_ops for o in op.outs}
        res: list = []
        seen = set()
        for op in bwd_ops:
            for u in E._uses(op):
                if id(u) not in made_b and id(u) not in ct_ids and id(u) not in seen:
                    seen.add(id(u))
                    res.append(u)
        for g in grad_outs:
            if g.__class__ is Traced and id(g) not in made_b and id(g) not in ct_ids \
                    and id(g) not in seen:
                seen.add(id(g))
                res.append(g)
        if any(op.mutates and any(E._root(m._v) in roots_in for m in op.mutates)
               for op in bwd_ops):
            return None, self.f(*args, **kwargs)  # a backward that writes into inputs
        fname = self._fname()
        fwd_ops, alias = E.elide_copies(fwd_ops, fwd_outs + res, traced_inputs)
        res = [alias.get(id(r), r) for r in res]
        src, fn, _ = E.emit(f"{fname}_forward", fwd_ops, traced_inputs + rand_inputs,
                            fwd_outs + res, tr.names,
                            in_names + [f"random{i}" for i in range(len(rand_inputs))],
                            alias=alias, const_names=tr.const_names, caller=tr.caller)
        for g, (i, _) in zip(grad_outs, diff_leaves):
            if g.__class__ is Traced and id(g) not in tr.names:
                tr.hints[id(g)] = f"d_{in_names[i]}"
        bsrc, bfn, _ = E.emit(f"{fname}_backward", bwd_ops, res + list(cts), grad_outs,
                              tr.names, [None] * len(res)
                              + [f"g_{i}" for i in range(len(cts))],
                              const_names=tr.const_names, hints=tr.hints)
        entry.fn, entry.source, entry.bwd, entry.bwd_source = fn, src, bfn, bsrc
        entry.n_res = len(res)
        entry.n_in = len(traced_inputs)
        entry.prim = _make_prim(self, entry, [i for i, _ in diff_leaves])
        entry.unused = unused
        entry.call = (args, kwargs, leaves, tree)
        # this call's result: run the emitted code (one recorded op), as later calls will,
        # on the random numbers the trace drew
        return entry, self._run(entry, dyn, True, [t._v for t in rand_inputs])

    def _static_values(self, args: tuple, kwargs: dict) -> list:
        nums, names = self._static(len(args), kwargs)
        return [(i, args[i]) for i in nums] + [(k, kwargs[k]) for k in names if k in kwargs]

    def _call_args(self, args: tuple, kwargs: dict, tree: Any, leaves: list) -> tuple:
        """The call of ``f`` with the dynamic leaves replaced by ``leaves``."""
        dyn_args, dyn_kw = unflatten(tree, leaves)
        call_args = list(dyn_args)
        nums, names = self._static(len(args), kwargs)
        for i in nums:
            call_args[i] = args[i]
        call_kw = dict(dyn_kw)
        for k in names:
            if k in kwargs:
                call_kw[k] = kwargs[k]
        return call_args, call_kw

    def _drop(self, entry: _Entry) -> None:
        for entries in self._cache.values():
            if entry in entries:
                entries.remove(entry)

    def _fname(self) -> str:
        name = re.sub(r"\W+", "_", self.name).strip("_")
        if name == "lambda":
            return "compiled_lambda"
        return name if name.isidentifier() and not keyword.iskeyword(name) else "compiled"

    def _backward(self, tr: Trace, outs: list, diff_leaves: list) -> tuple:
        """The engine's backward pass from every differentiable output, traced: cotangents
        enter as inputs; gives (grads per differentiable input, None where the outputs do
        not reach it; cotangent inputs)."""
        roots, seeds, cts = [], [], []
        for o in outs:
            v = o._value._v
            ct = tr.input(np.zeros(v.shape, v.dtype) if v.__class__ is _ndarray
                          else v.dtype.type(0))
            tr.inputs.pop()
            roots.append(o._node)
            seeds.append(ct)
            cts.append(ct)
        targets = [t._node for _, t in diff_leaves]
        res = _backward(roots, seeds, targets=targets, create_graph=False,
                        retain_graph=False) if roots else {}
        grads = []
        for _, t in diff_leaves:
            g = res.get(t._node)
            if isinstance(g, Tensor):
                g = g._value
            grads.append(g)
        return grads, cts

    def _check_foreign(self, flat_t: list, seq0: int, own: set) -> None:
        """An output whose history reaches a Tensor recorded before the trace began (one
        that requires grad, read from a closure or a global; ``own``: the ids of the
        arguments' leaf nodes) would lose that gradient."""
        stack = [t._node for t in flat_t if t is not None and t._node is not None]
        seen = set(own)
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if n.seq < seq0:
                raise CompileError(
                    f"cr.compile({self.name}): the function reads a Tensor that requires grad "
                    f"(shape {n.shape}) from outside its arguments; its gradient would be lost "
                    f"in compiled code. Pass it as an argument (cr.compile(model) does this "
                    f"for a module's parameters).")
            stack.extend(p for p in n.parents if p is not None)

    def _check_random(self, tr: Trace, rng_before: Any, gen_before: dict, captured: Any,
                      nn_gen: Any) -> None:
        moved = None
        if tr.entropy:
            moved = ("a generator it creates without a seed (np.random.default_rng(): fresh "
                     "entropy on every call)")
        elif _rng_state() != rng_before:
            moved = "np.random's global generator (np.random.*)"
        else:
            for g, _ in captured.gens:
                replay = gen_before[id(g)]
                for _, gen, m, a in tr.random:
                    if gen is g:
                        getattr(replay, m)(*a)
                if replay.bit_generator.state != g.bit_generator.state:
                    moved = "a np.random.Generator the function uses"
                    break
            else:
                for _, gen, m, a in tr.random:
                    if gen is None:
                        getattr(nn_gen, m)(*a)
                if nn_gen.bit_generator.state != _nnrandom.default_generator() \
                        .bit_generator.state:
                    moved = "chainrule.nn's generator (cr.manual_seed)"
        if moved:
            raise CompileError(
                f"cr.compile({self.name}): the function draws random numbers from {moved} "
                f"while it is traced; the compiled code would repeat the same numbers on "
                f"every call. Draw them outside and pass them in as arguments (nn's dropout "
                f"in a compiled module does this by itself).")

    def _run(self, entry: _Entry, dyn: list, diff: bool, drawn: list | None = None) -> Any:
        if entry.layout is not None and drawn is None and _layout(dyn) != entry.layout:
            raise Retrace(-1)
        if entry.restore:
            saved = [(a, a.copy()) for a in (
                dyn[i]._value if isinstance(dyn[i], Tensor) else dyn[i] for i in entry.restore)]
            try:
                return self._run_entry(entry, dyn, diff, drawn)
            except Retrace:
                for a, s in saved:
                    np.copyto(a, s)
                raise
        return self._run_entry(entry, dyn, diff, drawn)

    def _run_entry(self, entry: _Entry, dyn: list, diff: bool, drawn: list | None) -> Any:
        raw = [x._value if isinstance(x, Tensor) else x for x in dyn]
        if drawn is not None:
            raw += drawn
        else:
            for gen, m, a in entry.random:
                raw.append(np.asarray(getattr(_nnrandom.get(gen), m)(*a)))
        if entry.bwd is None:
            return entry.fn(*raw)  # the emitted code builds the output structure
        # one recorded operation: its arguments are the dynamic leaves (Tensors keep their
        # place in the graph), plus a holder the forward fills with the residuals
        holder = _Holder()
        prim = entry.prim
        rand = raw[len(dyn):]
        if entry.unused:  # (arguments without a gradient are not the operation's)
            dyn = list(dyn)
            for i in entry.unused:
                dyn[i] = raw[i]
        packed = apply(prim, (holder, rand) + tuple(dyn), {})
        vals = list(holder.outs)
        holder.outs = None
        diff_out = entry.diff_out
        if len(diff_out) == 1:
            vals[diff_out[0]] = packed
        else:
            off = 0
            for j, (shp, n) in zip(diff_out, entry.diff_shapes):
                vals[j] = packed[off:off + n].reshape(shp)
                off += n
        return _rebuild(entry.out_spec, entry.out_tree, vals)


def _name_gradients(tr: Trace, outs: list, inputs: list, in_names: list, in_pos: list,
                    argnums: tuple) -> None:
    """Outputs of cr.grad / cr.value_and_grad the user did not name: when the last ones have
    the shapes of the inputs of the arguments in ``argnums``, in that order, one per input,
    they are named d_<input>; a scalar output before them is the value."""
    sel = [(t, nm) for a in argnums for t, nm, p in zip(inputs, in_names, in_pos) if p == a]
    inputs = [t for t, _ in sel]
    in_names = [nm for _, nm in sel]
    n = len(inputs)
    tail = outs[len(outs) - n:]
    if not n or len(tail) != n or not all(o.__class__ is Traced and o.shape == t.shape
                                          for o, t in zip(tail, inputs)):
        return
    for o, nm in zip(tail, in_names):
        if id(o) not in tr.names:
            tr.hints[id(o)] = f"d_{nm}"
    if len(outs) == n + 1 and outs[0].__class__ is Traced and id(outs[0]) not in tr.names \
            and outs[0].ndim == 0:
        tr.hints[id(outs[0])] = "value"


def _returner(tree: Any, spec: list) -> tuple[Callable, dict]:
    """The emitted code's return expression, in the function's own output structure, and
    the names it uses (the Tensor wrapper, named-tuple types, constants)."""
    ns: dict[str, Any] = {}

    def bind(obj: Any, base: str) -> str:
        name = f"_{base}{len(ns)}"
        ns[name] = obj
        return name

    def build(rets: list) -> str:
        it = iter(spec)

        def leaf() -> str:
            s = next(it)
            kind = s[0]
            if kind == "tensor":
                if "_tensor" not in ns:
                    ns["_tensor"] = _as_tensor
                return f"_tensor({rets[s[1]]})"
            if kind == "array":
                return rets[s[1]]
            if kind == "const_array":
                return f"{bind(s[1], 'k')}.copy()"
            if kind == "const_tensor":
                ns["_copy_tensor"] = _copy_tensor
                return f"_copy_tensor({bind(s[1], 'k')})"
            v = s[1]
            if v is None or v.__class__ in (bool, int, str) or (
                    v.__class__ is float and v == v and v not in (float("inf"), -float("inf"))):
                return repr(v)
            return bind(v, "k")

        def walk(t: Any) -> str:
            if t is None:
                return leaf()
            c = t[0]
            if c is dict:
                return "{" + ", ".join(f"{bind(k, 'key')}: {walk(sub)}"
                                       for k, sub in zip(t[1], t[2])) + "}"
            parts = [walk(sub) for sub in t[1]]
            if c is tuple:
                return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
            if c is list:
                return "[" + ", ".join(parts) + "]"
            return f"{bind(c, 'type')}({', '.join(parts)})"

        out = walk(tree)
        return out[1:-1] if out.startswith("(") and out.endswith(")") and tree is not None \
            and tree[0] is tuple and len(tree[1]) > 1 else out

    return build, ns


def _as_tensor(v: Any) -> Tensor:
    return Tensor._make(v, None, None)


def _copy_tensor(t: Tensor) -> Tensor:
    return Tensor._make(t._value.copy(), None, None)


_TAKEN = object()  # a gradient the compiled backward computed and already handed over


class _Holder:
    """Passed to the compiled primitive as a plain argument: the forward leaves its residuals
    (and the non-differentiated outputs) here for the backward."""

    __slots__ = ("res", "outs", "grads", "g")

    def __init__(self) -> None:
        self.res = None
        self.outs = None
        self.grads = None
        self.g = None


def _make_prim(comp: Compiled, entry: _Entry, diff_pos: list) -> Primitive:
    n_out = len(entry.out_spec)
    diff_out = entry.diff_out

    def fwd(holder: _Holder, rand: list, *vals: Any) -> Any:
        outs = entry.fn(*vals, *rand)
        holder.res = outs[n_out:]
        outs = outs[:n_out]
        holder.outs = outs
        if len(diff_out) == 1:
            return outs[diff_out[0]]
        return np.concatenate([np.ravel(outs[j]) for j in diff_out])

    prim = Primitive(fwd, name=f"compiled {comp.name}", saves_ans=False)

    def rule_for(pos: int) -> Callable:
        k = diff_pos.index(pos)

        def rule(g: Any, ans: Any, holder: _Holder, rand: list, *vals: Any) -> Any:
            grads = holder.grads
            if holder.g is not g or grads[k] is _TAKEN:
                if isinstance(g, Tensor) or any(isinstance(v, Tensor) for v in vals):
                    grads = _eager_vjp(comp, entry, holder, g, vals, rand, diff_pos)
                else:
                    try:
                        grads = entry.bwd(*holder.res, *_unpack(g, entry))
                    except Retrace:  # a guard of the backward: eager now, a new trace next
                        comp._drop(entry)
                        grads = _eager_vjp(comp, entry, holder, g, vals, rand, diff_pos)
                grads = holder.grads = list(grads)
                holder.g = g
            # handed over, not kept: a gradient nobody else holds becomes the leaf's .grad
            # without a copy (core's _deliver copies what is still referenced elsewhere)
            out = grads[k]
            grads[k] = _TAKEN
            return out
        return rule

    for pos in diff_pos:
        prim.vjps[pos + 2] = rule_for(pos)
    return prim


def _unpack(g: Any, entry: _Entry) -> list:
    if len(entry.diff_out) == 1:
        return [g]
    cts = []
    off = 0
    for shp, n in entry.diff_shapes:
        cts.append(g[off:off + n].reshape(shp))
        off += n
    return cts


def _eager_vjp(comp: Compiled, entry: _Entry, holder: _Holder, g: Any, vals: tuple,
               rand: list, diff_pos: list) -> list:
    """The VJP by running ``f`` eagerly (with the forward's random numbers): for a backward
    pass that is itself recorded (create_graph), or one whose guard failed."""
    args, kwargs, leaves, tree = entry.call
    create = isinstance(g, Tensor) or any(isinstance(v, Tensor) and v._node is not None
                                          for v in vals)
    new, targets = [], []
    di = iter(vals)
    k = 0
    for x in leaves:
        if not _kind(x)[1]:
            new.append(x)
            continue
        v = next(di)
        if k in diff_pos:
            t = v if isinstance(v, Tensor) and v._node is not None else None
            if t is None:
                raw = v._value if isinstance(v, Tensor) else v
                t = Tensor._make(raw, None, None)
                t._node = leaf_node(t.shape, t.dtype)
            targets.append(t)
            new.append(t)
        else:
            new.append(v if isinstance(x, Tensor) or not isinstance(v, Tensor) else v._value)
        k += 1
    call_args, call_kw = comp._call_args(args, kwargs, tree, new)
    _REPLAY.queue = list(rand)
    try:
        with enable_grad():
            out = comp.f(*call_args, **call_kw)
    finally:
        _REPLAY.queue = None
    by_flat = {s[1]: o for s, o in zip(entry.out_spec, flatten(out)[0]) if s[0] == "tensor"}
    roots = [by_flat[j]._node for j in entry.diff_out]
    res = _backward(roots, _unpack(g, entry), targets=[t._node for t in targets],
                    create_graph=create, retain_graph=create)
    grads = []
    for t in targets:
        gi = res.get(t._node)
        grads.append(np.zeros(t.shape, t.dtype) if gi is None else gi)
    return grads


def unwrap_out(o: Any) -> Any:
    if o.__class__ is Traced:
        return o._v
    return o


def _out_spec(out_leaves: list) -> tuple[list, list, list]:
    """How each output leaf is given back — ('tensor', i, shape, size) a Tensor, ('array', i,
    ...) the value, ('const...', obj) a value that does not depend on the inputs — the flat
    list of Traced values the emitted code returns, and the Tensor each came from."""
    spec = []
    flat = []
    flat_t = []
    for o in out_leaves:
        if isinstance(o, Tensor):
            v = o._value
            if v.__class__ is Traced:
                spec.append(("tensor", len(flat), tuple(v.shape), int(np.size(v._v))))
                flat.append(v)
                flat_t.append(o)
            else:
                spec.append(("const_tensor", o))
        elif o.__class__ is Traced:
            spec.append(("array", len(flat), tuple(o.shape), int(np.size(o._v))))
            flat.append(o)
            flat_t.append(None)
        elif isinstance(o, _ndarray):
            spec.append(("const_array", o.copy()))
        else:
            spec.append(("const", o))
    return spec, flat, flat_t


def _rebuild(spec: list, tree: Any, vals: Sequence, diff_out: Sequence = ()) -> Any:
    leaves = []
    for s in spec:
        kind = s[0]
        if kind == "tensor":
            v = vals[s[1]]
            leaves.append(v if isinstance(v, Tensor) else Tensor._make(v, None, None))
        elif kind == "array":
            leaves.append(vals[s[1]])
        elif kind == "const_tensor":
            leaves.append(s[1])
        elif kind == "const_array":
            leaves.append(s[1].copy())
        else:
            leaves.append(s[1])
    return unflatten(tree, leaves)


def compile(f: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
            static_argnames: str | Sequence[str] = (), max_traces: int = 8) -> Any:
    """Compile ``f`` (see docs/compile.md).  Usable as ``cr.compile(f)`` or as a decorator,
    ``@cr.compile(static_argnums=(1,))``; an ``nn.Module`` gives a compiled module."""
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    if f is None:
        return lambda g: compile(g, static_argnums=static_argnums,
                                 static_argnames=static_argnames, max_traces=max_traces)
    from .module import CompiledModule, is_module  # noqa: F401  (module imports function)
    if is_module(f):
        return CompiledModule(f, max_traces=max_traces)
    if not callable(f):
        raise TypeError(f"cr.compile: expected a function or an nn.Module, got "
                        f"{type(f).__name__}\n  at {errors.user_line()}")
    return Compiled(f, static_argnums, static_argnames, max_traces)
