"""Primitives: the table entries that hold a forward function and its VJP/JVP rules.

Calling a primitive is the engine's hot path (``apply``).  With no Tensor among the
arguments it is the bare NumPy call.  With Tensors it unwraps them, runs NumPy once,
and when something needs a derivative records one ``Node`` (a few slot writes) and/or
pushes forward-mode tangents through the JVP rules.

Rule conventions (both are functions of plain values *or* Tensors, written with
chainrule's own operations so that they can themselves be differentiated):

* VJP rule for argument i:   ``rule(g, ans, *args, **kw) -> cotangent of args[i]``
* JVP rule for argument i:   ``rule(dx, ans, *args, **kw) -> tangent of ans``
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, NoReturn

import numpy as np

from . import arrays, errors, hooks
from .state import HOOKED, STATE, next_seq

_ndarray = np.ndarray
_GUARDED = arrays.GUARDED  # [True] once an array library's rules may lack something
_SCALARS = frozenset({float, int, complex, bool})
Tensor: Any = None  # set by core.tensor (avoids an import cycle)


class Meta:
    """Stands in for an argument whose value no rule needs: only its shape and dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, v: Any) -> None:
        v = v if hasattr(v, "shape") else np.asarray(v)
        self.shape = v.shape
        self.dtype = v.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Meta(shape={self.shape}, dtype={self.dtype})"


_new = object.__new__


# Metas are immutable, so equal ones are shared: fewer live objects per recorded operation,
# less work for the cyclic garbage collector
_METAS: dict[tuple, Meta] = {}


def _meta_of(v: Any) -> Meta:
    key = (tuple(v.shape), v.dtype)
    m = _METAS.get(key)
    if m is None:
        if len(_METAS) > 4096:
            _METAS.clear()
        m = _METAS[key] = _new(Meta)
        m.shape, m.dtype = key
    return m


class Node:
    """One recorded operation, or a leaf (``prim`` None).  Holds no reference to its output
    tensor; ``ref`` is a weak reference to the leaf (or ``retain_grad`` tensor) whose
    ``.grad`` receives its cotangent.

    * ``args`` / ``kw``: the arguments the rules are called with (a ``Meta`` — shape and
      dtype only — for an argument whose value no rule needs); ``ans``: the result, or its
      Meta.
    * ``parents``: per positional argument, the Node it came from (None: a constant).
    * ``saved_versions``: flat (version counter, version when recorded, ...) of every
      Tensor whose value this node saved; the backward pass refuses to use a value written
      since (see ``core/graph.py``).
    * ``tangents``: in forward mode under recording, (the arguments' tangents, the
      result's), so that ``create_graph`` backward passes rebuild them.
    * ``seq``: creation order (a topological order); ``site``: where it was made (anomaly
      mode only).

    Built in one place, :func:`new_node`.
    """

    __slots__ = ("prim", "args", "kw", "ans", "parents", "seq", "shape", "dtype",
                 "saved_versions", "tangents", "ref", "site", "__weakref__")

    @property
    def name(self) -> str:
        return "leaf" if self.prim is None else self.prim.name

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Node {self.name} #{self.seq} shape={self.shape}>"


def new_node(prim: Any, parents: Any, args: Any, kw: Any, ans: Any, shape: tuple, dtype: Any,
             saved_versions: tuple | None, ref: Any = None) -> Node:
    """The one constructor of a Node (slots written directly: no __init__ on the hot path)."""
    n = _new(Node)
    n.prim = prim
    n.parents = parents
    n.args = args
    n.kw = kw
    n.ans = ans
    n.shape = shape
    n.dtype = dtype
    n.saved_versions = saved_versions
    n.tangents = None
    n.ref = ref
    n.site = None
    n.seq = next_seq()
    return n


def leaf_node(shape: tuple, dtype: Any, ref: Any = None) -> Node:
    """A leaf: the start of a graph (a tensor that requires grad, a transform's input)."""
    return new_node(None, (), (), None, None, shape, dtype, None, ref)


class Primitive:
    """A differentiable operation: ``fwd`` on plain values plus its rules.

    ``saves``: indices of positional arguments whose *values* the rules need (None: all);
    the others are kept only as shape/dtype.  ``saves_ans``: the rules use ``ans``.
    ``nondiff``: the result is a plain array and cuts the gradient (argmax, floor,
    comparisons ...).  A result that shares memory with an argument (a view, or the
    argument itself) is found by ``apply`` and shares that argument's version counter, so
    no primitive declares it.  ``broadcast_tangents``: the JVP rules may return a tangent
    that broadcasts to the result (the library's own rules); a user's rules must return the
    result's shape exactly, as their VJP rules must return each argument's.
    """

    def __init__(
        self,
        fwd: Callable,
        name: str | None = None,
        *,
        saves: tuple[int, ...] | None = None,
        saves_ans: bool = True,
        nondiff: bool = False,
        broadcast_tangents: bool = False,
    ) -> None:
        self.fwd = fwd
        self.name = name or getattr(fwd, "__name__", "primitive")
        self.vjps: dict[int, Callable] = {}
        self.jvps: dict[int, Callable] = {}
        self.jvp_all: Callable | None = None
        self.saves = None if saves is None else frozenset(saves)
        self.saves_ans = saves_ans
        self.nondiff = nondiff
        self.broadcast_tangents = broadcast_tangents
        # a ufunc called without out= always returns a new array: no alias to look for
        self.fresh = isinstance(fwd, np.ufunc)
        self.__doc__ = getattr(fwd, "__doc__", None)
        self.__name__ = self.name
        self.__wrapped__ = fwd

    def __call__(self, *args: Any, **kw: Any) -> Any:
        T = Tensor
        for a in args:
            if isinstance(a, T):
                return apply(self, args, kw)
        try:
            return self.fwd(*args, **kw) if kw else self.fwd(*args)  # no Tensor: plain NumPy
        except errors.LeftGraphError:
            fixed = _stack_lists(args)
            if fixed is None:
                raise
        return apply(self, fixed, kw)

    def __repr__(self) -> str:
        return f"<chainrule primitive {self.name}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # lets a primitive serve directly as a method (Tensor.sum = sum_prim)
        if obj is None:
            return self
        return lambda *a, **k: apply(self, (obj,) + a, k)


def _tangent_levels(args: tuple, ceiling: int) -> list[int]:
    levels: list[int] = []
    for a in args:
        if isinstance(a, Tensor):
            fw = a._tangents
            if fw is not None:
                for lv in fw:
                    if lv < ceiling and lv not in levels:
                        levels.append(lv)
    if len(levels) > 1:
        levels.sort()
    return levels


def backend_failed(prim: Primitive, args: tuple, exc: Exception, where: str,
                   kw: dict | None = None) -> None:
    """Raise BackendError for ``exc`` of an array library that lacks what ``prim`` (or, with
    ``where``, one of its rules) asked of it; return when only NumPy was involved."""
    libs = sorted({b for a in (*args, *(kw or {}).values()) for b in [arrays.backend(
        a._value if isinstance(a, Tensor) else a)] if b not in (None, "numpy")})
    if not libs:
        return  # only NumPy was involved: the caller explains ``exc`` as usual
    what = f"{prim.name} ({where})" if where else prim.name
    raise errors.BackendError(
        f"{what} is not available on {', '.join(libs)} arrays as called (argument shapes: "
        f"{errors.shapes_of(args) or 'none'}): {str(exc).splitlines()[0]}\n"
        f"  at {errors.user_line()}\n  Nothing was converted to NumPy. Compute the "
        f"input first (x.compute(), cupy.asnumpy(x)) if it fits in memory, or write "
        f"the step with operations the library has.") from None


def _fail(prim: Primitive, args: tuple, kw: dict, exc: Exception) -> None:
    if arrays.GUARDED[0] and isinstance(exc, (FutureWarning, NotImplementedError, TypeError,
                                              AttributeError)):
        backend_failed(prim, args, exc, "", kw)
    if isinstance(exc, np.linalg.LinAlgError):
        kind = errors.LinAlgError
    elif isinstance(exc, ValueError):
        kind = errors.ShapeError
    else:
        kind = type(exc)
    msg = str(exc)
    for said in (prim.name, prim.name.rsplit(".", 1)[-1]):
        if msg.startswith(said + ": "):  # NumPy named the function already (matmul: ...)
            msg = msg[len(said) + 2:]
            break
    try:
        err = kind(
            f"{prim.name}: {msg} (argument shapes: {errors.shapes_of(args) or 'none'})\n"
            f"  at {errors.user_line()}"
        )
    except Exception:
        raise exc from None
    raise err from None


def apply(prim: Primitive, args: tuple, kw: dict) -> Any:
    """``prim`` on ``args``: NumPy runs once on the plain values; the result is a Tensor that
    records one Node when a Tensor argument has history and recording is on, and carries the
    result's tangent when one carries forward-mode tangents.

    The engine's hot path: every operation on a Tensor passes here, so the common case (a
    new array, values saved as they are) builds its Node inline."""
    # 1. unwrap the Tensors: plain values, parent nodes, (counter, version) of each
    T = Tensor
    if len(args) == 1:  # (a unary op: the loop below, unrolled)
        a = args[0]
        if not isinstance(a, T):
            return _plain_call(prim, args, kw)
        raw = [a._value]
        vc = a._version
        versions = (vc, vc[0])
        n = a._node
        parents = [n]
        rec = n is not None
        if rec and vc[0] != a._node_version:
            _stale(prim, a)
        fw = a._tangents is not None
    elif len(args) == 2:  # (a binary op: the loop below, unrolled)
        a, b = args
        if isinstance(a, T):
            va = a._value
            vc = a._version
            versions = (vc, vc[0])
            na = a._node
            rec = na is not None
            if rec and vc[0] != a._node_version:
                _stale(prim, a)
            fw = a._tangents is not None
            if isinstance(b, T):
                vc = b._version
                versions += (vc, vc[0])
                nb = b._node
                if nb is not None:
                    rec = True
                    if vc[0] != b._node_version:
                        _stale(prim, b)
                if b._tangents is not None:
                    fw = True
                raw = [va, b._value]
            else:
                nb = None
                raw = [va, b]
        elif isinstance(b, T):
            vc = b._version
            versions = (vc, vc[0])
            na = None
            nb = b._node
            rec = nb is not None
            if rec and vc[0] != b._node_version:
                _stale(prim, b)
            fw = b._tangents is not None
            raw = [a, b._value]
        else:
            return _plain_call(prim, args, kw)
        parents = [na, nb]
    else:
        raw = None
        rec = fw = False
        i = 0
        for a in args:
            if isinstance(a, T):
                if raw is None:
                    raw = list(args)
                    parents = [None] * len(args)
                    versions = ()
                raw[i] = a._value
                vc = a._version
                versions += (vc, vc[0])
                n = a._node
                if n is not None:
                    parents[i] = n
                    rec = True
                    if vc[0] != a._node_version:
                        _stale(prim, a)
                if a._tangents is not None:
                    fw = True
            i += 1
        if raw is None:
            return _plain_call(prim, args, kw)
    # 2. NumPy, once
    try:
        if _GUARDED[0]:
            ans = arrays.refusing_fallbacks(prim.fwd, *raw, **kw)
        else:
            ans = prim.fwd(*raw, **kw) if kw else prim.fwd(*raw)
    except (ValueError, TypeError, IndexError, np.linalg.LinAlgError, NotImplementedError,
            FutureWarning, AttributeError) as exc:
        return _forward_failed(prim, args, kw, exc)
    if prim.nondiff:
        return ans
    if ans.__class__ is not _ndarray and ans.__class__ not in arrays.CLASSES and \
            arrays.backend(ans) in (None, "numpy"):  # (a foreign array type is registered)
        ans = np.asarray(ans)
    # 3. the result: a new version counter, or its input's when it aliases one
    out = _new(T)
    out._tangents = None
    out._grad = None
    if prim.fresh:
        out._value = ans
        vc = out._version = [0, None]
        out._node_version = 0
    else:
        vc = _result_counter(out, args, raw, ans)
        ans = out._value
    # 4. the record
    if rec and STATE.grad_enabled:
        if prim.saves is not None:
            out._node = _record(prim, args, raw, kw, parents, versions, ans, vc)
        else:  # every argument saved as it is: the Node built here (as new_node does)
            n = out._node = _new(Node)
            n.prim = prim
            n.parents = parents
            n.args = raw
            n.kw = kw
            shape = n.shape = ans.shape
            dtype = n.dtype = ans.dtype
            if prim.saves_ans:
                n.ans = ans
                versions += (vc, vc[0])
            else:
                n.ans = _METAS.get((shape, dtype)) or _meta_of(ans)
            n.saved_versions = versions
            n.tangents = n.ref = n.site = None
            n.seq = next_seq()
    else:
        out._node = None
    # 5. forward mode
    if fw:
        _forward_mode(prim, args, raw, kw, out, STATE)
    if HOOKED:
        _hooked(prim, args, out, STATE)
    return out


def _plain_call(prim: Primitive, args: tuple, kw: dict) -> Any:
    """No Tensor among the arguments: NumPy itself (a list holding Tensors is built first)."""
    try:
        return prim.fwd(*args, **kw)
    except errors.LeftGraphError:
        fixed = _stack_lists(args)
        if fixed is None:
            raise
    return apply(prim, fixed, kw)


def _forward_failed(prim: Primitive, args: tuple, kw: dict, exc: Exception) -> Any:
    """NumPy raised: retry once with lists of Tensors built into arrays, else raise
    chainrule's error naming the operation, the shapes and the user's line."""
    if isinstance(exc, errors.LeftGraphError):
        fixed = _stack_lists(args)
        if fixed is not None:
            return apply(prim, fixed, kw)
    _fail(prim, args, kw, exc)


def _result_counter(out: Any, args: tuple, raw: list, ans: np.ndarray) -> list:
    """Give ``out`` its value and version counter: that of the Tensor argument it shares
    memory with (a view, or the argument itself), so a write through either is seen by the
    other's saved values and history; a copy of ``ans`` and a new counter when it aliases a
    plain array (nothing would see a write into the user's array); else a new counter."""
    vc = None
    alias = ans.base is not None if ans.__class__ is _ndarray else arrays.is_view(ans)
    if not alias:
        for r in raw:
            if r is ans:
                alias = True
                break
    if alias:
        ans, vc = _alias(args, raw, ans)
    out._value = ans
    if vc is None:
        vc = [0, None]
    out._version = vc
    out._node_version = vc[0]
    return vc


def _record(prim: Primitive, args: tuple, raw: list, kw: dict, parents: list,
            versions: tuple, ans: np.ndarray, vc: list) -> Node:
    """The Node for one operation: the values its rules need (a shared ``Meta`` — shape and
    dtype — for the others) and the versions of every saved Tensor."""
    saves = prim.saves
    if saves is not None:
        versions = ()
        i = 0
        for r in raw:
            if i not in saves:
                if r.__class__ is _ndarray:
                    raw[i] = _METAS.get((r.shape, r.dtype)) or _meta_of(r)
                elif r.__class__ not in _SCALARS and hasattr(r, "shape"):
                    raw[i] = _meta_of(r)
            else:
                a = args[i]
                if isinstance(a, Tensor):
                    avc = a._version
                    versions += (avc, avc[0])
            i += 1
    shape = ans.shape
    if prim.saves_ans:
        saved = ans
        versions += (vc, vc[0])
    else:
        saved = _METAS.get((shape, ans.dtype)) or _meta_of(ans)
    return new_node(prim, parents, raw, kw, saved, shape, ans.dtype, versions)


def _forward_mode(prim: Primitive, args: tuple, raw: list, kw: dict, out: Any, st: Any) -> None:
    """The result's tangent at each forward-mode level its arguments carry."""
    levels = _tangent_levels(args, st.fw_ceiling)
    if not levels:
        return
    if out._node is None and len(levels) == 1 and _plain_tangents(args):
        _push_plain(prim, args, raw, kw, out, levels[0])  # first order: rules on plain values
    else:
        _push_tangents(prim, args, kw, out, levels)
    if out._node is not None:
        out._node.tangents = (tuple(a._tangents if isinstance(a, Tensor) else None for a in args),
                              out._tangents)


def _hooked(prim: Primitive, args: tuple, out: Any, st: Any) -> None:
    """Anomaly mode (where each node was made; a check of each result) and the checker's
    recorder, in the threads that switched them on."""
    node = out._node
    if node is not None:
        if st.anomaly:
            node.site = errors.user_site(3)
        if st.record is not None:
            st.record(node, [a._value if isinstance(a, Tensor) else a for a in args], out._value)
    if st.anomaly:
        hooks.check_forward(prim, args, out)


def _alias(args: tuple, raw: list, ans: np.ndarray) -> tuple[np.ndarray, list | None]:
    """``ans`` (which may share memory with an argument) and the version counter it must
    share: that of the Tensor argument it aliases; a copy of it and None when it aliases a
    plain array argument; itself and None when it aliases none."""
    T = Tensor
    for a, r in zip(args, raw):
        if r.__class__ is _ndarray and (r is ans or np.may_share_memory(ans, r)) or (
                r.__class__ in arrays.CLASSES and arrays.may_share_memory(ans, r)):
            if isinstance(a, T):
                return ans, a._version
            return ans.copy(), None
    return ans, None



def _tangent_at(prim: Primitive, args: tuple, call_args: Any, ans: Any, lv: int, kw: dict) -> Any:
    """The output's tangent at level ``lv``: ``jvp_all``, or the sum of the per-argument rules.

    The rules are called with ``call_args`` and ``ans``: the Tensors themselves when the
    tangent must itself be differentiable, or their plain values (first-order fast path)."""
    T = Tensor
    if prim.jvp_all is not None:
        ts = [a._tangents.get(lv) if isinstance(a, T) and a._tangents is not None else None for a in args]
        return prim.jvp_all(ts, ans, *call_args, **kw)
    t = None
    i = -1
    for a in args:
        i += 1
        if not isinstance(a, T) or a._tangents is None:
            continue
        dx = a._tangents.get(lv)
        if dx is None:
            continue
        rule = prim.jvps.get(i)
        try:
            ti = rule(dx, ans, *call_args, **kw) if kw else rule(dx, ans, *call_args)
        except TypeError as exc:  # no rule, or a call it cannot take: explained
            rule_failed(prim, "JVP", i, rule, (dx, ans, *call_args), kw, exc)
        if not prim.broadcast_tangents:
            ti = check_result(prim, "JVP", i, rule, ti, ans.shape, ans.dtype)
        t = ti if t is None else t + ti
    return t


def _push_tangents(prim: Primitive, args: tuple, kw: dict, out: Any, levels: list[int]) -> None:
    st = STATE
    saved = st.fw_ceiling
    out._tangents = {}
    for lv in levels:
        st.fw_ceiling = lv  # tangents of level >= lv are invisible to the rules (no confusion)
        try:
            t = _tangent_at(prim, args, args, out, lv, kw)
            if t is not None:
                out._tangents[lv] = hooks.fit_tangent(t, out)
        finally:
            st.fw_ceiling = saved


def _holds_tensor(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        for y in x:
            if _holds_tensor(y):
                return True
        return False
    return isinstance(x, Tensor)


def _stack_lists(args: tuple) -> tuple | None:
    """``args`` with each list/tuple that holds Tensors built into one (cr.numpy.array),
    as NumPy would build an array from it; None when no argument is such a list.

    Reached only when the forward raised LeftGraphError (NumPy met a Tensor inside a
    list): ``cr.numpy.sum([t, u])`` means ``sum(array([t, u]))``, differentiably."""
    if not any(isinstance(a, (list, tuple)) and _holds_tensor(a) for a in args):
        return None
    return tuple(hooks.stack_lists(a) if isinstance(a, (list, tuple)) and _holds_tensor(a)
                 else a for a in args)


def _plain_tangents(args: tuple) -> bool:
    """First-order forward mode and nothing else: every tensor argument carries one tangent
    (a plain array) and no history.  Then the JVP rules need not be traced: they run on
    the plain values, with no Tensor wrapped around each intermediate."""
    T = Tensor
    for a in args:
        if isinstance(a, T):
            fw = a._tangents
            if a._node is not None or (fw is not None and (
                    len(fw) != 1 or next(iter(fw.values())).__class__ is not _ndarray)):
                return False
    return True


def _push_plain(prim: Primitive, args: tuple, raw: list, kw: dict, out: Any, lv: int) -> None:
    t = _tangent_at(prim, args, raw, out._value, lv, kw)
    if t is not None:
        t = hooks.fit_tangent(t, out)
        if t.__class__ is Tensor:  # a rule that built a Tensor from constants
            t = t._value
        out._tangents = {lv: t}


def _stale(prim: Primitive, a: Any) -> None:
    site = a._version[1]
    raise errors.GradientError(
        f"{prim.name}: an input of shape {tuple(a.shape)} was modified in place through a view "
        f"(at {errors.format_site(site)}) after it was computed, so its recorded history no "
        f"longer matches its value and its gradient would be wrong.\n  at {errors.user_line()}\n"
        "  Modify a copy instead (t = t.clone() before writing to a view of it), "
        "or write to the tensor itself."
    )


def primitive(fwd: Callable | None = None, **options: Any) -> Any:
    """Decorator: make ``fwd`` (a function of plain NumPy values) a chainrule primitive.

    Then give it rules with :func:`defvjp` / :func:`defjvp`.  Options are those of
    :class:`Primitive` (``saves``, ``saves_ans``, ``nondiff``).
    """
    if fwd is None:
        return lambda f: Primitive(f, **options)
    return Primitive(fwd, **options)


def defvjp(prim: Primitive, *rules: Callable | None, argnums: tuple[int, ...] | None = None) -> None:
    """Give ``prim`` VJP rules, one per positional argument: ``rule(g, ans, *args, **kw)``.

    ``None`` marks an argument that the gradient does not flow into.  Each rule's arity is
    checked here (it must accept ``g``, ``ans`` and the primitive's positional arguments);
    what it returns is checked on every call (the argument's shape; an array or Tensor).
    """
    _register(prim, "defvjp", "g", prim.vjps if isinstance(prim, Primitive) else {}, rules,
              argnums)


def defjvp(prim: Primitive, *rules: Callable | None, argnums: tuple[int, ...] | None = None) -> None:
    """Give ``prim`` JVP rules, one per positional argument: ``rule(dx, ans, *args, **kw)``.

    Each rule's arity is checked here; what it returns is checked on every call: the
    tangent of the result, of the result's shape exactly (an array or Tensor)."""
    _register(prim, "defjvp", "dx", prim.jvps if isinstance(prim, Primitive) else {}, rules,
              argnums)


def _positional(prim: Primitive) -> tuple[list[str], int, bool]:
    """The names of ``prim``'s positional parameters, how many are required, and whether it
    takes ``*args`` (then any number); ``([], 0, True)`` when its signature is unknown."""
    try:
        sig = inspect.signature(prim.fwd)
    except (TypeError, ValueError):
        return [], 0, True
    names, required, var = [], 0, False
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
            required += p.default is p.empty
        elif p.kind is p.VAR_POSITIONAL:
            var = True
    return names, required, var


def signature_text(prim: Primitive, first: str) -> str:
    """How ``prim``'s rules are called: ``rule(g, ans, x, y)``."""
    names, _, var = _positional(prim)
    args = names + (["*args"] if var else [])
    return f"rule({', '.join([first, 'ans', *args])})"


def _register(prim: Any, what: str, first: str, table: dict, rules: tuple,
              argnums: tuple[int, ...] | None) -> None:
    _check_prim(prim, what)
    names, required, var = _positional(prim)
    idx = list(range(len(rules)) if argnums is None else argnums)
    if argnums is not None and len(idx) != len(rules):
        raise TypeError(f"{what}({prim.name}): {len(rules)} rules for argnums {tuple(idx)}")
    if not var:
        if argnums is None and len(rules) > len(names):
            raise TypeError(
                f"{what}({prim.name}): {len(rules)} rules given, but {prim.name} takes "
                f"{len(names)} positional argument{'s' if len(names) != 1 else ''} "
                f"({', '.join(names)}): one rule per argument, None for one without a gradient"
            )
        bad = [i for i in idx if not 0 <= i < len(names)]
        if bad:
            raise TypeError(f"{what}({prim.name}): argnums {tuple(bad)} out of range for "
                            f"{len(names)} positional arguments")
    sig = signature_text(prim, first)
    checked = {}
    for i, r in zip(idx, rules):
        if r is None:
            continue
        if not callable(r):
            raise TypeError(f"{what}({prim.name}): the rule for argument {i} is not callable "
                            f"({type(r).__name__}); a rule is a function {sig}")
        try:
            rsig = inspect.signature(r)
        except (TypeError, ValueError):  # a builtin without a signature: checked when called
            rsig = None
        if rsig is not None:
            try:
                rsig.bind(*range(2 + required))
            except TypeError as exc:
                raise TypeError(
                    f"{what}({prim.name}): the rule for argument {i} ({describe(r)}) cannot be "
                    f"called as {sig}: {exc}"
                ) from None
        checked[i] = r
    table.update(checked)


def describe(rule: Any) -> str:
    """A rule as a user finds it: its name and where it is defined."""
    name = getattr(rule, "__qualname__", None) or getattr(rule, "__name__", None) or repr(rule)
    code = getattr(rule, "__code__", None)
    if code is not None:
        return f"{name} at {code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"
    return name


def _what(v: Any) -> str:
    if v is None:
        return "None"
    t = type(v).__name__
    return f"an {t}" if t[0] in "aeiou" else f"a {t}"


def check_result(prim: Primitive, kind: str, i: int, rule: Any, r: Any, shape: tuple,
                 dtype: Any) -> Any:
    """A user rule's result, checked: an array or Tensor of ``shape``; a real result for a
    real ``dtype`` (a JVP's tangent; a VJP's cotangent of a real input may be complex: its
    real part is taken); other dtypes are cast to ``dtype``."""
    first = "g" if kind == "VJP" else "dx"
    of = (f"the cotangent of argument {i}" if kind == "VJP" else "the tangent of the result")
    where = (f"the {kind} rule of {prim.name} for argument {i} ({describe(rule)})")
    sig = signature_text(prim, first)
    if not isinstance(r, Tensor) and not isinstance(r, (_ndarray, np.generic)):
        raise errors.GradientError(
            f"{where} returned {_what(r)}; a {kind} rule is called as {sig} and must return "
            f"{of}: an array or Tensor of shape {tuple(shape)} (dtype {dtype}).\n"
            f"  at {errors.user_line()}"
        )
    if tuple(r.shape) != tuple(shape):
        raise errors.GradientError(
            f"{where} returned {of} with shape {tuple(r.shape)}, but it must have shape "
            f"{tuple(shape)}; a {kind} rule is called as {sig}.  Nothing is broadcast for a "
            f"user's rule: a wrong shape is a wrong rule.\n  at {errors.user_line()}"
        )
    if kind == "JVP" and r.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        raise errors.GradientError(
            f"{where} returned a tangent of dtype {r.dtype} for a real output of dtype "
            f"{dtype}; the tangent of a real result is real.\n  at {errors.user_line()}"
        )
    return r


def rule_failed(prim: Primitive, kind: str, i: int, rule: Any, args: tuple, kw: dict | None,
                exc: TypeError) -> NoReturn:
    """A VJP or JVP rule call raised TypeError: a missing rule and a call that does not fit
    the rule's signature are explained; otherwise the TypeError is the rule's own and is
    raised again (the rule is not called a second time)."""
    if rule is None:
        defn = "defvjp" if kind == "VJP" else "defjvp"
        mode = "" if kind == "VJP" else " (forward-mode)"
        raise NotImplementedError(
            f"{prim.name} has no {kind}{mode} rule for argument {i}; register one with "
            f"cr.{defn}({prim.name}, ...)\n  at {errors.user_line()}"
        ) from None
    check_call(prim, kind, i, rule, args, kw or {})
    if arrays.GUARDED[0]:  # an array library without what the rule asked of it
        backend_failed(prim, args, exc, f"its {kind} in argument {i}", kw)
    raise exc


def check_call(prim: Primitive, kind: str, i: int, rule: Any, args: tuple, kw: dict) -> None:
    """A TypeError raised by calling ``rule``: if the call itself does not fit the rule's
    signature, say how rules are called (else it is the rule's own error: returns)."""
    try:
        inspect.signature(rule).bind(*args, **kw)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ValueError):  # no signature to compare with
            return
        first = "g" if kind == "VJP" else "dx"
        given = ", ".join([first, "ans", *(f"arg{j}" for j in range(len(args) - 2)),
                           *(f"{k}=..." for k in kw)])
        raise TypeError(
            f"the {kind} rule of {prim.name} for argument {i} ({describe(rule)}) was called as "
            f"rule({given}) and does not accept it: {exc}.  Rules are called as "
            f"{signature_text(prim, first)} plus the keyword arguments of the call "
            f"(add them, or **kw, to the rule).\n  at {errors.user_line()}"
        ) from None


def _check_prim(prim: Any, what: str) -> None:
    if not isinstance(prim, Primitive):
        raise TypeError(
            f"{what} expects a chainrule primitive (decorate the function with @cr.primitive), "
            f"got {type(prim).__name__}"
        )
