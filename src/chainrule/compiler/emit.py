"""From a trace to Python: dead-code elimination, copies elided, in-place accumulation into
temporaries nobody else holds, ``del`` at each value's last use, and the source text.

The emitted function makes the recorded NumPy calls in the recorded order and nothing else;
each value is named after the user's variable where the trace saw one.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Any

import numpy as np

from ..core import errors
from .tracer import Op, Retrace, Traced

_ndarray = np.ndarray
try:  # the C function np.count_nonzero calls for a whole array
    from numpy._core.multiarray import count_nonzero as _count_nonzero
except ImportError:  # pragma: no cover
    _count_nonzero = np.count_nonzero


def _root(v: Any) -> int:
    """The identity of the memory ``v`` lives in (the end of its ``.base`` chain)."""
    while isinstance(v, _ndarray) and v.base is not None:
        v = v.base
    return id(v)


def _vars_in(a: Any, out: list) -> list:
    c = a.__class__
    if c is Traced:
        out.append(a)
    elif c is tuple or c is list:
        for x in a:
            _vars_in(x, out)
    elif c is dict:
        for x in a.values():
            _vars_in(x, out)
    elif c is slice:
        _vars_in((a.start, a.stop, a.step), out)
    return out


def _use_info(ops: list[Op], outputs: list) -> tuple[dict, set, dict]:
    """For a rewriting pass: how many times each value is used, the ids of the outputs, and
    the index of the op that makes each value."""
    n_use: dict[int, int] = {}
    for op in ops:
        for u in _uses(op):
            n_use[id(u)] = n_use.get(id(u), 0) + 1
    out_ids = {id(t) for t in outputs if t.__class__ is Traced}
    made = {id(o): i for i, op in enumerate(ops) for o in op.outs}
    return n_use, out_ids, made


def _uses(op: Op) -> list:
    u = _vars_in(op.args, [])
    if op.kw:
        _vars_in(op.kw, u)
    return u


def prune(ops: list[Op], outputs: list, keep_mutations_of: set | None = None,
          not_from: list | None = None) -> list[Op]:
    """The ops needed for ``outputs``: every guard, every write into memory something needed
    lives in (or, with ``keep_mutations_of``, into those roots), and what they read.
    ``not_from``: arrays (a backward pass's cotangents) whose guards belong elsewhere: a
    guard that reads anything computed from them is kept only where it is needed."""
    tainted = set()
    if not_from:
        tainted = {id(t) for t in not_from}
        for op in ops:
            if any(id(u) in tainted for u in _uses(op)):
                tainted.update(id(o) for o in op.outs)
                tainted.update(id(m) for m in op.mutates)
                if op.kind == "guard":
                    tainted.add(id(op))
    need = {id(t) for t in outputs if t.__class__ is Traced}
    need_roots = {_root(t._v) for t in outputs if t.__class__ is Traced}
    keep_roots = keep_mutations_of or set()
    live: list[Op] = []
    for op in reversed(ops):
        alive = (op.kind == "guard" and id(op) not in tainted) \
            or any(id(o) in need for o in op.outs)
        if not alive and op.mutates:
            alive = any(_root(m._v) in need_roots or _root(m._v) in keep_roots
                        for m in op.mutates)
        if alive:
            live.append(op)
            for u in _uses(op):
                need.add(id(u))
                need_roots.add(_root(u._v))
            for o in op.outs:
                need_roots.add(_root(o._v))
    live.reverse()
    return live


def _all_ones(a: Any) -> bool:
    if a.__class__ is _ndarray:
        return a.size > 0 and bool((a == 1).all()) and a.dtype.kind in "fc"
    return a.__class__ in (int, float) and a == 1


def elide_copies(ops: list[Op], outputs: list, inputs: list = ()) -> tuple[list[Op], dict]:
    """Steps that give back their operand's value: ``b = a.copy()`` and ``b = a * ones``
    (a constant of ones, as the seed of a backward pass is) where neither is ever written
    into and ``b`` is not handed back.  Then ``b`` is ``a``.  Gives the ops left and the
    {id(b): a} map."""
    mutated = set()
    for op in ops:
        for m in op.mutates:
            mutated.add(_root(m._v))
    out_ids = {id(t) for t in outputs if t.__class__ is Traced}
    # two inputs may be one array on a later call (f(a, a)): where any input is written
    # into, a copy of an input is what keeps its old value, and stays
    in_roots = {_root(t._v) for t in inputs}
    keep_input_copies = bool(in_roots & mutated)
    alias: dict[int, Traced] = {}
    kept = []
    for op in ops:
        if alias:
            op = _substitute(op, alias)
        a = None
        if (op.kind == "method" and op.fn == "copy" and len(op.args) == 1 and not op.kw
                and op.args[0].__class__ is Traced):
            a = op.args[0]
        elif ((op.kind == "binop" and op.fn == "*") or (
                op.kind == "call" and op.fn is np.multiply and not op.kw)) and len(op.args) == 2:
            x, y = op.args
            if y.__class__ is Traced and x.__class__ is not Traced:
                x, y = y, x
            if x.__class__ is Traced and y.__class__ is not Traced and _all_ones(y):
                a = x
        if a is not None and len(op.outs) == 1:
            b = op.outs[0]
            if (b.__class__ is Traced and a._v.__class__ is b._v.__class__
                    and np.shape(a._v) == np.shape(b._v) and a._v.dtype == b._v.dtype
                    and _root(a._v) not in mutated and _root(b._v) not in mutated
                    and id(b) not in out_ids
                    and not (keep_input_copies and _root(a._v) in in_roots)):
                alias[id(b)] = alias.get(id(a), a)
                continue
        kept.append(op)
    return drop_noop_reshapes(drop_broadcasts(kept, outputs), outputs), alias


def _elementwise2(op: Op) -> bool:
    """A two-operand elementwise step (``a * b``, ``np.add(a, b)``) writing a new array."""
    if len(op.args) != 2 or len(op.outs) != 1 or op.mutates:
        return False
    if op.kind == "binop":
        return op.fn != "@"
    return (op.kind == "call" and isinstance(op.fn, np.ufunc) and op.fn.nin == 2
            and op.fn.signature is None and not op.kw)


def drop_broadcasts(ops: list[Op], outputs: list) -> list[Op]:
    """``b = np.broadcast_to(a, s)`` read only by elementwise steps whose other operand
    gives the result the shape ``s`` anyway (the backward of a sum or a mean, ``g * e``):
    those steps read ``a`` and the broadcast goes (a ufunc broadcasts its operands itself,
    to the same values)."""
    out_ids = {id(t) for t in outputs if t.__class__ is Traced}
    users: dict[int, list[int]] = {}
    for j, op in enumerate(ops):
        for u in _uses(op):
            users.setdefault(id(u), []).append(j)
    alias: dict[int, dict] = {}  # op index -> {id(b): a}
    drop = set()
    for i, op in enumerate(ops):
        if not (op.kind == "call" and op.fn is np.broadcast_to and len(op.outs) == 1
                and op.args and op.args[0].__class__ is Traced):
            continue
        a, b = op.args[0], op.outs[0]
        if b.__class__ is not Traced or id(b) in out_ids or not users.get(id(b)):
            continue
        ok = True
        for j in users[id(b)]:
            u = ops[j]
            if not _elementwise2(u) or not any(x is b for x in u.args):
                ok = False
                break
            other = u.args[1] if u.args[0] is b else u.args[0]
            try:
                shp = np.broadcast_shapes(np.shape(a._v), np.shape(
                    other._v if other.__class__ is Traced else other))
            except ValueError:
                shp = None
            if shp != np.shape(u.outs[0]._v):
                ok = False
                break
        if ok:
            drop.add(i)
            for j in users[id(b)]:
                alias.setdefault(j, {})[id(b)] = a
    if not drop:
        return ops
    return [_substitute(op, alias[j]) if j in alias else op
            for j, op in enumerate(ops) if j not in drop]


def drop_noop_reshapes(ops: list[Op], outputs: list) -> list[Op]:
    """``b = a.reshape(s)`` where ``s`` is a's own shape (a rule written for any rank, run
    on the rank it expects): later steps read ``a`` (b would be a view of the same memory
    with the same shape and strides)."""
    out_ids = {id(t) for t in outputs if t.__class__ is Traced}
    alias: dict[int, Any] = {}
    kept = []
    for op in ops:
        if alias:
            op = _substitute(op, alias)
        if ((op.kind == "method" and op.fn == "reshape")
                or (op.kind == "call" and op.fn is np.reshape)) and len(op.outs) == 1 \
                and not op.mutates and op.args and op.args[0].__class__ is Traced:
            a, b = op.args[0], op.outs[0]
            if (b.__class__ is Traced and id(b) not in out_ids and a._v.__class__ is _ndarray
                    and b._v.__class__ is _ndarray and a._v.shape == b._v.shape
                    and a._v.strides == b._v.strides):
                alias[id(b)] = a
                continue
        kept.append(op)
    return kept


def _is_zero(x: Any) -> bool:
    return (x.__class__ in (int, float) or isinstance(x, (np.integer, np.floating))) \
        and x == 0


_COUNT_FLOATS_MAX = 2048  # numbers: up to here count_nonzero(x) beats count_nonzero(x == 0)


def fuse_zero_tests(ops: list[Op], outputs: list) -> list[Op]:
    """``b = x == 0; c = b.any(); if c: retrace`` (the tie check of np.maximum's and
    np.minimum's rules, traced without a tie) as one call and a scalar test:
    ``c = count_nonzero(x); if c != x.size: retrace`` (the same outcome: x has a zero iff
    fewer than all its numbers are nonzero; NaN is nonzero and not == 0, -0.0 is both).
    On a large x, ``c = count_nonzero(b); if c != 0: retrace`` (no ndarray.any wrapper)."""
    n_use, out_ids, made = _use_info(ops, outputs)
    new = list(ops)
    changed = False
    for k, g in enumerate(ops):
        if not (g.kind == "guard" and g.fn == "bool" and g.kw.get("expect") is False
                and len(g.args) == 1 and g.args[0].__class__ is Traced):
            continue
        c = g.args[0]
        j = made.get(id(c))
        if j is None or n_use.get(id(c)) != 1 or id(c) in out_ids:
            continue
        any_op = ops[j]
        if not ((any_op.kind == "method" and any_op.fn == "any") or (
                any_op.kind == "call" and any_op.fn is np.any)) or len(any_op.args) != 1 \
                or any_op.kw or len(any_op.outs) != 1 or any_op.mutates:
            continue
        b = any_op.args[0]
        i = made.get(id(b))
        if b.__class__ is not Traced or i is None or n_use.get(id(b)) != 1 \
                or id(b) in out_ids:
            continue
        eq = ops[i]
        if not ((eq.kind == "binop" and eq.fn == "==") or (
                eq.kind == "call" and eq.fn is np.equal and not eq.kw)) \
                or len(eq.args) != 2 or eq.mutates or len(eq.outs) != 1:
            continue
        x, z = eq.args
        if z.__class__ is Traced:
            x, z = z, x
        if x.__class__ is not Traced or not _is_zero(z) or x._v.__class__ is not _ndarray \
                or x._v.dtype.kind not in "biuf" or b._v.shape != x._v.shape:
            continue
        note = "no number was 0 (a tie) when traced: a 0 traces again"
        if x._v.size <= _COUNT_FLOATS_MAX:
            cnt = x._tr.new(int(_count_nonzero(x._v)))
            new[i] = None
            new[j] = Op("call", _count_nonzero, (x,), {}, [cnt], (), any_op.line,
                        err=any_op.err)
            expect = x._v.size
        else:  # counting a large float array is slower than comparing, then counting bools
            cnt = x._tr.new(int(_count_nonzero(b._v)))
            new[j] = Op("call", _count_nonzero, (b,), {}, [cnt], (), any_op.line,
                        err=any_op.err)
            expect = 0
        new[k] = Op("guard", "value", (cnt,), {"expect": expect, "k": g.kw["k"],
                                               "note": note}, [], line=g.line)
        changed = True
    return [op for op in new if op is not None] if changed else ops


def _mul_operands(op: Op) -> tuple | None:
    if len(op.args) == 2 and len(op.outs) == 1 and not op.mutates and (
            (op.kind == "binop" and op.fn == "*")
            or (op.kind == "call" and op.fn is np.multiply and not op.kw)):
        return op.args
    return None


def _uniform(c: Any, value: float, shape: tuple) -> bool:
    """Is ``c`` the constant ``value`` (a number, or an array of it that broadcasts to
    ``shape`` without changing it)?"""
    if c.__class__ is float or isinstance(c, np.floating):
        return c == value
    if c.__class__ is _ndarray and c.dtype.kind == "f" and c.size:
        try:
            ok = np.broadcast_shapes(c.shape, shape) == shape
        except ValueError:
            return False
        return ok and bool((c == value).all())
    return False


def fold_half_square(ops: list[Op], outputs: list, inputs: list) -> list[Op]:
    """The backward of ``0.5 * sum(t ** 2)``: ``d = 0.5 * (2 * t)``, which is ``t`` bit for
    bit unless ``2 * t`` overflows.  It cannot when the forward's ``s = sum(t ** 2)`` is
    finite (then every |t| < 2 ** 512 in float64, 2 ** 64 in float32, and doubling and
    halving are exact, subnormals and -0.0 included), so the step reads
    ``d = t if s < inf else 0.5 * (2 * t)``: the two multiplications run only where eager's
    could round differently.  ``t`` must be a temporary of this code read by nothing else."""
    n_use: dict[int, int] = {}
    users: dict[int, list[int]] = {}
    for i, op in enumerate(ops):
        for u in _uses(op):
            n_use[id(u)] = n_use.get(id(u), 0) + 1
            users.setdefault(id(u), []).append(i)
    out_ids = {id(t) for t in outputs if t.__class__ is Traced}
    in_ids = {id(t) for t in inputs}
    made = {id(o): i for i, op in enumerate(ops) for o in op.outs}
    mutated = {id(m) for op in ops for m in op.mutates}
    new = list(ops)
    changed = False
    for i2, m2 in enumerate(ops):
        args = _mul_operands(m2)
        if args is None:
            continue
        t7, c = args
        if t7.__class__ is not Traced:
            t7, c = c, t7
        d = m2.outs[0]
        if t7.__class__ is not Traced or c.__class__ is Traced or d.__class__ is not Traced:
            continue
        i1 = made.get(id(t7))
        if i1 is None or n_use.get(id(t7)) != 1 or id(t7) in out_ids or new[i1] is None:
            continue
        args1 = _mul_operands(ops[i1])
        if args1 is None:
            continue
        t3, k = args1
        if t3.__class__ is not Traced:
            t3, k = k, t3
        if t3.__class__ is not Traced or k.__class__ is Traced or not (
                k.__class__ in (int, float) or isinstance(k, np.floating)) or k != 2:
            continue
        v = t3._v
        if (v.__class__ is not _ndarray or v.dtype.kind != "f" or v.base is not None
                or id(t3) not in made or id(t3) in in_ids or id(t3) in out_ids
                or n_use.get(id(t3)) != 2 or {id(t3), id(t7), id(d)} & mutated
                or d._v.__class__ is not _ndarray or d._v.dtype != v.dtype
                or d._v.shape != v.shape or t7._v.dtype != v.dtype
                or not _uniform(c, 0.5, v.shape)):
            continue
        # the other reader of t: t ** 2 (np.square, np.power, t * t), summed whole, earlier
        ip = [j for j in users[id(t3)] if j != i1]
        if len(ip) != 1 or ip[0] > i1:
            continue
        p = ops[ip[0]]
        if not (len(p.outs) == 1 and not p.mutates and (
                (p.kind == "call" and p.fn is np.square and len(p.args) == 1 and not p.kw)
                or (((p.kind == "call" and p.fn is np.power and not p.kw)
                     or (p.kind == "binop" and p.fn == "**")) and len(p.args) == 2
                    and p.args[0] is t3 and p.args[1].__class__ in (int, float)
                    and p.args[1] == 2)
                or (_mul_operands(p) is not None and p.args[0] is t3 and p.args[1] is t3))):
            continue
        t4 = p.outs[0]
        if t4.__class__ is not Traced or t4._v.__class__ is not _ndarray \
                or t4._v.dtype != v.dtype or id(t4) in mutated:
            continue
        sums = [j for j in users.get(id(t4), ()) if j < i2 and (
            (ops[j].kind == "method" and ops[j].fn == "sum")
            or (ops[j].kind == "call" and ops[j].fn is np.sum))
            and len(ops[j].args) == 1 and not _drop_default_kw(ops[j].kw or {})
            and len(ops[j].outs) == 1]
        if not sums:
            continue
        t5 = ops[sums[0]].outs[0]
        if t5.__class__ is not Traced or t5._v.__class__ is not v.dtype.type:
            continue
        new[i1] = None
        new[i2] = Op("expr", "{0} if {1} < inf else {2} * ({3} * {0})", (t3, t5, c, k), {},
                     [d], (), m2.line, err=m2.err)
        changed = True
    return [op for op in new if op is not None] if changed else ops


def _binop_is(op: Op, syms: tuple, fns: tuple) -> bool:
    return len(op.args) == 2 and len(op.outs) == 1 and not op.mutates and (
        (op.kind == "binop" and op.fn in syms)
        or (op.kind == "call" and not op.kw and any(op.fn is f for f in fns)))


def _axis_of(op: Op, name: str, fn: Any) -> Any:
    """The axis of ``t.<name>(axis=a, keepdims=True)`` / ``np.<fn>(t, axis=a,
    keepdims=True)`` as a tuple; None if ``op`` is not that."""
    if len(op.args) != 1 or len(op.outs) != 1 or op.mutates:
        return None
    if not ((op.kind == "method" and op.fn == name) or (op.kind == "call" and op.fn is fn)):
        return None
    kw = op.kw or {}
    if set(kw) != {"axis", "keepdims"} or kw["keepdims"] is not True:
        return None
    a = kw["axis"]
    a = (a,) if a.__class__ is int else a
    if a.__class__ is not tuple or not all(x.__class__ is int for x in a):
        return None
    nd = op.args[0]._v.ndim if op.args[0].__class__ is Traced else -1
    return tuple(sorted(x % nd for x in a)) if nd > 0 else None


def fold_unique_max(ops: list[Op], outputs: list) -> list[Op]:
    """The backward of ``m = t.max(axis, keepdims=True)`` shares the cotangent among the
    maxima of each slice: ``w = ((t == m) | (isnan(t) & isnan(m))) / count`` with the count
    per slice.  Where ``m`` has no NaN (so no slice of ``t`` has one, and each slice holds
    its maximum at least once) and ``t == m`` holds exactly once per slice, ``w`` is
    ``t == m`` as the same float dtype (x / 1 is x): two counts replace the NaN masks, a
    reduction and a division.  Otherwise the full expression runs, as eager's."""
    n_use, out_ids, made = _use_info(ops, outputs)
    mutated = {id(m) for op in ops for m in op.mutates}

    def src(t: Any) -> Op | None:
        i = made.get(id(t)) if t.__class__ is Traced else None
        return None if i is None else ops[i]

    new = list(ops)
    changed = False
    for iD, dv in enumerate(ops):
        if not _binop_is(dv, ("/",), (np.true_divide,)):
            continue
        t26, t27 = dv.args
        o26, o27 = src(t26), src(t27)
        if o26 is None or o27 is None or not _binop_is(o26, ("|",), (np.logical_or,
                                                                     np.bitwise_or)):
            continue
        axis = _axis_of(o27, "sum", np.sum)
        if axis is None or o27.args[0] is not t26:
            continue
        t22, t25 = o26.args
        o22, o25 = src(t22), src(t25)
        if o22 is None or o25 is None or not _binop_is(o25, ("&",), (np.logical_and,
                                                                     np.bitwise_and)):
            continue
        if not _binop_is(o22, ("==",), (np.equal,)):
            continue
        t3, t4 = o22.args
        t23, t24 = o25.args
        o23, o24, o4 = src(t23), src(t24), src(t4)
        if o23 is None or o24 is None or o4 is None:
            continue
        if not (o23.kind == "call" and o23.fn is np.isnan and _args_are(o23, t3) and not o23.kw
                and o24.kind == "call" and o24.fn is np.isnan and _args_are(o24, t4)
                and not o24.kw):
            continue
        if _axis_of(o4, "max", np.max) != axis and _axis_of(o4, "max", np.amax) != axis:
            continue
        if o4.args[0] is not t3:
            continue
        chain = (t23, t25, t26, t27)
        w = dv.outs[0]
        if any(id(t) in out_ids or id(t) in mutated for t in chain + (t22, t24, t3, t4, w)):
            continue
        if n_use.get(id(t23)) != 1 or n_use.get(id(t25)) != 1 or n_use.get(id(t26)) != 2 \
                or n_use.get(id(t27)) != 1 or n_use.get(id(t22)) != 1:
            continue
        v26, v27, vw = t26._v, t27._v, w._v
        if not (v26.__class__ is _ndarray and v26.dtype == np.bool_
                and v27.__class__ is _ndarray and v27.dtype.kind in "iu"
                and vw.__class__ is _ndarray and vw.dtype.kind == "f"
                and t3._v.__class__ is _ndarray and t3._v.dtype.kind == "f"
                and t22._v.shape == vw.shape):
            continue
        for t in chain:
            new[made[id(t)]] = None
        ns = {"dt": vw.dtype}
        new[iD] = Op("expr", "{0}.astype({5}) if count_nonzero({1}) == 0 and count_nonzero("
                     "{0}) == {3} else ({0} | (np.isnan({2}) & {1})) / ({0} | (np.isnan({2})"
                     " & {1})).sum(axis={4}, keepdims=True)",
                     (t22, t24, t3, int(v27.size), axis, ns["dt"]), {}, [w], (), dv.line,
                     err=dv.err)
        changed = True
    return [op for op in new if op is not None] if changed else ops


def _args_are(op: Op, *args: Any) -> bool:
    """Are ``op``'s arguments exactly ``args``, by identity?  (``op.args == (t,)`` would
    compare Traced values with ``==``: a recorded comparison, after the trace has ended.)"""
    return len(op.args) == len(args) and all(a is b for a, b in zip(op.args, args))


def _squares(p: Op, t: Any) -> bool:
    """Is ``p`` ``t ** 2`` (np.square, np.power or ** with the exponent 2, t * t)?"""
    if len(p.outs) != 1 or p.mutates:
        return False
    if p.kind == "call" and p.fn is np.square and _args_are(p, t) and not p.kw:
        return True
    if ((p.kind == "call" and p.fn is np.power and not p.kw) or (
            p.kind == "binop" and p.fn == "**")) and len(p.args) == 2 and p.args[0] is t:
        e = p.args[1]
        return e.__class__ in (int, float) and e == 2
    m = _mul_operands(p)
    return m is not None and m[0] is t and m[1] is t


def scalar_square_sum(ops: list[Op], outputs: list) -> list[Op]:
    """``s = np.sum(t ** 2)`` of a float32/float64 array holding one number as
    ``v = t[0, ...]; s = v * v``: the square is one correctly rounded product either way, and
    the sum of one number adds it to 0.0 (as ``Emitter._sum``), which changes no square (never
    -0.0): an indexing and a scalar product instead of a ufunc call and a reduction."""
    n_use, out_ids, made = _use_info(ops, outputs)
    new = list(ops)
    changed = False
    for i, op in enumerate(ops):
        if not (((op.kind == "method" and op.fn == "sum") or (
                op.kind == "call" and op.fn is np.sum)) and len(op.args) == 1
                and not _drop_default_kw(op.kw or {}) and len(op.outs) == 1
                and not op.mutates):
            continue
        t4, s_out = op.args[0], op.outs[0]
        j = made.get(id(t4)) if t4.__class__ is Traced else None
        if j is None or n_use.get(id(t4)) != 1 or id(t4) in out_ids or new[j] is None:
            continue
        p = ops[j]
        t3 = p.args[0] if p.args else None
        if t3.__class__ is not Traced or not _squares(p, t3):
            continue
        v = t3._v
        if not (v.__class__ is _ndarray and v.size == 1 and v.ndim >= 1
                and v.dtype.kind == "f" and v.dtype.itemsize in (4, 8)
                and t4._v.__class__ is _ndarray and t4._v.dtype == v.dtype
                and s_out.__class__ is Traced and s_out._v.__class__ is v.dtype.type):
            continue
        idx = (0,) * v.ndim
        one = t3._tr.new(v[idx])
        new[j] = Op("getitem", None, (t3, idx), {}, [one], (), p.line, err=p.err)
        new[i] = Op("expr", "{0} * {0}", (one,), {}, [s_out], (), op.line, err=p.err or op.err)
        changed = True
    return new if changed else ops


def _is_add_at(fn: Any) -> bool:
    return getattr(fn, "__self__", None) is np.add and getattr(fn, "__name__", "") == "at"


def scatter_into_zeros(ops: list[Op]) -> list[Op]:
    """``z = zeros; np.add.at(z, (rows, j), v)`` (the backward of ``x[rows, j]``) as
    ``z[rows, j] = v`` where no position can be hit twice: ``rows`` a constant of distinct
    rows (negative ones counted where they land) that pairs with every ``j`` once, ``v`` of
    z's dtype with no -0.0 (0.0 + v is v for every other value, NaN included).  Fancy
    assignment is several times cheaper than ``ufunc.at``."""
    out = list(ops)
    for i in range(1, len(ops)):
        op, prev = ops[i], ops[i - 1]
        if not (op.kind == "call" and _is_add_at(op.fn) and len(op.args) == 3 and not op.kw
                and not op.outs and len(op.mutates) == 1):
            continue
        z, idx, v = op.args
        if not (z.__class__ is Traced and op.mutates[0] is z and len(prev.outs) == 1
                and prev.outs[0] is z
                and not prev.mutates and prev.kind == "call"
                and prev.fn in (np.zeros_like, np.zeros) and z._v.__class__ is _ndarray
                and z._v.base is None and z._v.dtype.kind == "f"):
            continue
        if not (idx.__class__ is tuple and len(idx) == 2 == z._v.ndim):
            continue
        rows, j = idx
        if not (rows.__class__ is _ndarray and rows.dtype.kind in "iu" and rows.ndim == 1
                and j.__class__ is Traced and j._v.__class__ is _ndarray
                and j._v.dtype.kind in "iu" and j._v.shape == rows.shape):
            continue
        n = z._v.shape[0]
        if rows.size and not (((rows >= -n) & (rows < n)).all()
                              and np.unique(rows % n).size == rows.size):
            continue
        vv = v._v if v.__class__ is Traced else v
        if not (isinstance(vv, (_ndarray, np.generic)) and vv.dtype == z._v.dtype):
            continue
        if np.any((vv == 0) & np.signbit(vv)):
            continue
        if v.__class__ is Traced:
            continue  # (a computed v could hold -0.0 on another call)
        out[i] = Op("setitem", None, (z, idx, v), {}, [], (z,), op.line, err=op.err)
    return out


def _substitute(op: Op, alias: dict) -> Op:
    def sub(a: Any) -> Any:
        c = a.__class__
        if c is Traced:
            return alias.get(id(a), a)
        if c is tuple or c is list:
            return c(sub(x) for x in a)
        if c is dict:
            return {k: sub(v) for k, v in a.items()}
        if c is slice:
            return slice(sub(a.start), sub(a.stop), sub(a.step))
        return a
    return Op(op.kind, op.fn, sub(op.args), sub(op.kw) if op.kw else op.kw, op.outs,
              tuple(sub(m) for m in op.mutates), op.line, op.unpack, err=op.err)


_IN_PLACE = {"+": "+=", "-": "-=", "*": "*="}
_UFUNC_SYM = {np.add: "+", np.subtract: "-", np.multiply: "*"}
# np.f(a, b) spelled as the operator when an operand is an ndarray: the operator calls the
# same ufunc on the same operands, in order, without the attribute lookups (not np.power:
# ndarray's ** swaps in np.square / np.sqrt for some exponents)
_OPERATOR = {np.add: "+", np.subtract: "-", np.multiply: "*", np.matmul: "@",
             np.true_divide: "/", np.floor_divide: "//", np.less: "<", np.less_equal: "<=",
             np.greater: ">", np.greater_equal: ">=", np.equal: "==", np.not_equal: "!="}


def _is_array(x: Any) -> bool:
    return x.__class__ is _ndarray or (x.__class__ is Traced and x._v.__class__ is _ndarray)


def _operator_ok(x: Any) -> bool:
    """Does ``x op y`` make the same call as ``np.op(x, y)``? For an ndarray operand, and for
    a floating NumPy scalar (whose scalar arithmetic rounds as the ufunc does; integer
    scalars warn on overflow where the ufunc wraps silently, so they keep the call)."""
    if _is_array(x):
        return True
    v = x._v if x.__class__ is Traced else x
    return isinstance(v, np.inexact)


# ufuncs (and operators) whose Python-int operand, next to a float array, may be written as
# a float literal: both are weak scalars converted to the array's dtype (NEP 50), and an int
# of at most 2048 in magnitude is exact in every float dtype; NumPy resolves a float
# literal faster than an int
_WEAK_FLOAT_OK = frozenset((np.add, np.subtract, np.multiply, np.true_divide, np.maximum,
                            np.minimum, np.fmax, np.fmin, np.less, np.less_equal, np.greater,
                            np.greater_equal, np.equal, np.not_equal, "+", "-", "*", "/",
                            "<", "<=", ">", ">=", "==", "!="))


def _weak_floats(fn: Any, args: tuple) -> tuple:
    """``(2, x)`` as ``(2.0, x)`` where x is a float array and fn one of _WEAK_FLOAT_OK."""
    if len(args) != 2:
        return args
    x, y = args
    cx, cy = x.__class__, y.__class__
    if cx is not int and cy is not int:
        return args
    try:
        if fn not in _WEAK_FLOAT_OK:
            return args
    except TypeError:  # (an unhashable callable)
        return args
    if cx is int and -2048 <= x <= 2048 and _float_array(y):
        return float(x), y
    if cy is int and -2048 <= y <= 2048 and _float_array(x):
        return x, float(y)
    return args


def _python_scalar(x: Any, y: Any) -> tuple:
    """``np.where(c, np.float64(0.0), t)`` as ``np.where(c, 0.0, t)`` where t is an array of
    the scalar's float dtype: the Python float, a weak scalar, is converted back to that
    dtype exactly (it holds the scalar's value), and NumPy takes it faster."""
    for a, b in ((x, y), (y, x)):
        if (isinstance(a, np.floating) and a.__class__ in (np.float16, np.float32, np.float64)
                and np.isfinite(a) and b.__class__ is Traced and b._v.__class__ is _ndarray
                and b._v.dtype == a.dtype):
            a = float(a)
            return (a, b) if b is y else (b, a)
    return x, y


def _float_array(x: Any) -> bool:
    v = x._v if x.__class__ is Traced else x
    return v.__class__ is _ndarray and v.dtype.kind == "f"


def _is_real_float(x: Any) -> bool:
    v = x._v if x.__class__ is Traced else x
    return isinstance(v, (_ndarray, np.generic)) and v.dtype.kind == "f"


def _drop_default_kw(kw: dict) -> dict:
    """a.sum(axis=None, keepdims=False) is a.sum()"""
    return {n: v for n, v in kw.items()
            if not ((n == "keepdims" and v is False) or (n in _NONE_KW and v is None))}


def _reverses(t: Traced, axes: Any) -> bool:
    """Is ``t.transpose(axes)`` the same as ``t.T``?"""
    if axes is None:
        return True
    if axes.__class__ is not tuple:
        return False
    return axes == tuple(range(t._v.ndim - 1, -1, -1))


def _identifier(base: str) -> str:
    """``base`` made a Python identifier (state.0.weight -> state_0_weight)."""
    base = re.sub(r"\W", "_", base) or "t"
    if base[0].isdigit() or keyword.iskeyword(base):
        base = "_" + base
    return base


class Emitter:
    """Names, constants and the text of one function."""

    def __init__(self, names: dict[int, str], const_names: dict[int, str] | None = None) -> None:
        self.user_names = names
        self.const_names = const_names or {}
        self.names: dict[int, str] = {}
        self.taken: set[str] = {"np", "_retrace", "Retrace"}
        self.ns: dict[str, Any] = {"np": np, "_retrace": _retrace}
        self.consts: dict[int, str] = {}
        self.scalars: dict[tuple, str] = {}
        self.const_doc: list[str] = []
        self.counter = 0

    # --- names ------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        base = _identifier(base)
        name = base
        i = 1
        while name in self.taken:
            name = f"{base}_{i}"
            i += 1
        self.taken.add(name)
        return name

    def name(self, t: Traced, hint: str | None = None) -> str:
        n = self.names.get(id(t))
        if n is None:
            hint = hint or self.user_names.get(id(t))
            if hint is None:
                self.counter += 1
                hint = f"t{self.counter}"
                while hint in self.taken:
                    self.counter += 1
                    hint = f"t{self.counter}"
            n = self.names[id(t)] = self.fresh(hint)
        return n

    def const(self, a: Any) -> str:
        n = self.consts.get(id(a))
        if n is None:
            if isinstance(a, _ndarray):
                n = self.fresh(self.const_names.get(id(a)) or f"c{len(self.consts)}")
                self.const_doc.append(f"{n}: a constant {a.dtype} array of shape {a.shape}"
                                      + (f" = {_short(a)}" if a.size <= 6 else ""))
                # a constant: the emitted code reads it through a read-only view, so nothing
                # it runs may write into it; the user's own array (a closure's, a global)
                # stays writable, and a write into it is caught by the captured-value check
                self.consts[id(a)] = n
                v = a.view()
                v.flags.writeable = False
                self.ns[n] = v
                return n
            else:
                n = self.fresh(getattr(a, "__name__", type(a).__name__).split(".")[-1])
                mod = getattr(a, "__module__", None)
                self.const_doc.append(f"{n}: {mod + '.' if mod else ''}"
                                      f"{getattr(a, '__qualname__', repr(a))}")
            self.consts[id(a)] = n
            self.ns[n] = a
        return n

    # --- expressions ------------------------------------------------------------------
    def expr(self, a: Any) -> str:
        c = a.__class__
        if c is Traced:
            return self.name(a)
        if c is _ndarray:
            return self.const(a)
        if a is None or c is bool or c is int or c is str:
            return repr(a)
        if c is float:
            if math.isfinite(a):
                return repr(a)
            if math.isnan(a):  # (its sign and payload as they are: the object itself)
                n = self.scalars.get((float, id(a)))
                if n is None:
                    n = self.scalars[(float, id(a))] = self.fresh("nan")
                    self.ns[n] = a
                    sign = "-" if math.copysign(1.0, a) < 0 else ""
                    self.const_doc.append(f"{n} = {sign}float('nan')")
                return n
            return f"float({str(a)!r})"
        if c is complex:
            # (repr's "(-0-0j)" reads back as 0j - 0j: each part spelled as a float keeps the
            # signs of zeros, inf and NaN)
            return f"complex({self.expr(a.real)}, {self.expr(a.imag)})"
        if c is tuple:
            if len(a) == 1:
                return f"({self.expr(a[0])},)"
            return "(" + ", ".join(self.expr(x) for x in a) + ")"
        if c is list:
            return "[" + ", ".join(self.expr(x) for x in a) + "]"
        if c is dict:
            return "{" + ", ".join(f"{k!r}: {self.expr(v)}" for k, v in a.items()) + "}"
        if c is slice:
            return f"slice({self.expr(a.start)}, {self.expr(a.stop)}, {self.expr(a.step)})"
        if a is Ellipsis:
            return "..."
        if isinstance(a, np.generic):
            # a NumPy scalar (np.float64(0.0)): a named constant, not built on every call
            r = repr(a)
            if not (r.startswith("np.") and "nan" not in r and "inf" not in r):
                return self.const(a)
            key = (c, r)
            n = self.scalars.get(key)
            if n is None:
                n = self.scalars[key] = self.fresh(
                    {0: "zero", 1: "one"}.get(a.item(), f"c{len(self.consts) + len(self.scalars)}")
                    if a.dtype.kind in "fiu" else f"c{len(self.consts) + len(self.scalars)}")
                self.ns[n] = a
                self.const_doc.append(f"{n} = {r}")
            return n
        if c is np.dtype or isinstance(a, np.dtype):
            if a.names is None and a.subdtype is None and getattr(np, a.name, None) is not None:
                return f"np.{a.name}"
            return self.const(a)
        if isinstance(a, type) and getattr(np, a.__name__, None) is a:
            return f"np.{a.__name__}"
        if a is float or a is int or a is bool or a is complex:
            return a.__name__
        return self.const(a)

    def index(self, idx: Any) -> str:
        if idx.__class__ is tuple:
            if not idx:
                return "()"
            return ", ".join(self._index_part(x) for x in idx) + ("," if len(idx) == 1 else "")
        return self._index_part(idx)

    def _index_part(self, x: Any) -> str:
        if x.__class__ is slice:
            parts = ["" if x.start is None else self.expr(x.start),
                     "" if x.stop is None else self.expr(x.stop)]
            s = ":".join(parts)
            if x.step is not None:
                s += ":" + self.expr(x.step)
            return s
        return self.expr(x)

    def func(self, fn: Any) -> str:
        if isinstance(fn, np.ufunc):
            if getattr(np, fn.__name__, None) is fn:
                return f"np.{fn.__name__}"
            return self.const(fn)
        owner = getattr(fn, "__self__", None)
        if isinstance(owner, np.ufunc):  # np.add.reduce, np.add.at ...
            return f"{self.func(owner)}.{fn.__name__}"
        name = getattr(fn, "__name__", None)
        if name is not None:
            for prefix, mod in (("np", np), ("np.linalg", np.linalg), ("np.fft", np.fft)):
                if getattr(mod, name, None) is fn:
                    return f"{prefix}.{name}"
        return self.const(fn)

    def call_args(self, args: tuple, kw: dict) -> str:
        parts = [self.expr(a) for a in args]
        parts += [f"{k}={self.expr(v)}" for k, v in kw.items()]
        return ", ".join(parts)

    def rhs(self, op: Op) -> str:
        k = op.kind
        a = op.args
        if k == "call":
            kw = _non_default(op.fn, op.kw)
            sym = _OPERATOR.get(op.fn)
            if sym is not None and not kw and len(a) == 2 and (_operator_ok(a[0])
                                                                or _operator_ok(a[1])):
                x, y = _weak_floats(op.fn, a)
                return f"{self._operand(x)} {sym} {self._operand(y)}"
            if (op.fn is np.power and not kw and len(a) == 2 and a[1].__class__ in (int, float)
                    and a[1] == 2 and _is_real_float(a[0])):
                # x**2 is x*x, correctly rounded either way; np.square skips pow's dispatch
                return f"np.square({self.expr(a[0])})"
            meth = _METHOD.get(op.fn) if a and a[0].__class__ is Traced else None
            if meth is not None and not _METHOD_KW.issuperset(kw):
                meth = None  # (np.var's correction=, np.reshape's newshape=: the function's own)
            if meth is not None and a[0]._v.__class__ is _ndarray:
                # the method NumPy's function calls for an ndarray, without its wrapper
                if meth == ".T" and not kw and (len(a) == 1 or (len(a) == 2
                                                              and _reverses(a[0], a[1]))):
                    return f"{self.expr(a[0])}.T"
                if meth == ".T":
                    meth = "transpose"
                if meth in _REDUCTIONS:
                    kw = _drop_default_kw(kw)
                if meth == "sum" and len(a) == 1:
                    fast = self._sum(a[0], kw, op)
                    if fast is not None:
                        return fast
                return f"{self.expr(a[0])}.{meth}({self.call_args(a[1:], kw)})"
            if op.fn is np.zeros_like and len(a) == 1:
                fast = self._zeros(a[0], kw, op)
                if fast is not None:
                    return fast
            if not kw and len(a) == 2:
                a = _weak_floats(op.fn, a)
            elif op.fn is np.where and not kw and len(a) == 3:
                a = (a[0],) + _python_scalar(a[1], a[2])
            return f"{self.func(op.fn)}({self.call_args(a, kw)})"
        if k == "method":
            kw = op.kw
            if kw and op.fn in _REDUCTIONS:
                kw = _drop_default_kw(kw)
            if op.fn == "sum" and len(a) == 1 and a[0]._v.__class__ is _ndarray:
                fast = self._sum(a[0], kw, op)
                if fast is not None:
                    return fast
            if op.fn == "transpose" and not op.kw and a[0]._v.__class__ is _ndarray and (
                    len(a) == 1 or (len(a) == 2 and _reverses(a[0], a[1]))):
                return f"{self.expr(a[0])}.T"
            return f"{self.expr(a[0])}.{op.fn}({self.call_args(a[1:], kw)})"
        if k == "attr":
            return f"{self.expr(a[0])}.{op.fn}"
        if k == "binop":
            x, y = _weak_floats(op.fn, a)
            return f"{self._operand(x)} {op.fn} {self._operand(y)}"
        if k == "unop":
            if op.fn == "abs":
                return f"abs({self.expr(a[0])})"
            return f"{op.fn}{self._operand(a[0])}"
        if k == "getitem":
            return f"{self.expr(a[0])}[{self.index(a[1])}]"
        if k == "copy":
            return f"{self.expr(a[0])}.copy()"
        if k == "expr":  # a rewritten step: fn is its text, {i} the i-th argument
            if "inf" in op.fn:
                self.ns["inf"] = math.inf
                self.taken.add("inf")
            if "count_nonzero(" in op.fn:
                self.ns["count_nonzero"] = _count_nonzero
                self.taken.add("count_nonzero")
            return op.fn.format(*[self._operand(x) for x in a])
        raise AssertionError(k)  # pragma: no cover

    def _zeros(self, t: Any, kw: dict, op: Op) -> str | None:
        """``np.zeros_like(a, dtype=d, shape=s, order='C')`` of a plain ndarray is
        ``np.zeros(s, d)``: the same fresh C-ordered array of +0.0, without zeros_like's
        Python wrapper (empty_like, then a copy of 0 into it).  Without ``shape``, and
        ``order`` 'K' or 'A' (the default), the same when ``a`` is C-contiguous."""
        v = t._v if t.__class__ is Traced else t
        out = op.outs[0]._v if op.outs else None
        if v.__class__ is not _ndarray or out.__class__ is not _ndarray \
                or not set(kw) <= {"dtype", "order", "shape", "subok"} \
                or kw.get("subok", True) is not True:
            return None
        order = kw.get("order", "K")
        shape = kw.get("shape")
        if not (order == "C" or (order in ("K", "A") and (shape is None or tuple(
                np.atleast_1d(shape)) == v.shape) and v.flags.c_contiguous)):
            return None
        if not out.flags.c_contiguous or out.dtype != np.dtype(kw.get("dtype") or v.dtype):
            return None
        return f"np.zeros({self.expr(tuple(out.shape))}, {self.expr(out.dtype)})"

    def _sum(self, t: Traced, kw: dict, op: Op) -> str | None:
        """``t.sum(...)`` of an ndarray without ndarray.sum's Python wrapper (which calls
        np.add.reduce with these same arguments): ``np.add.reduce(t, axis, dtype, None,
        keepdims)``.  A whole-array sum of one float32/float64 number is ``0.0 + x`` (the
        reduction adds the element to the identity: -0.0 gives 0.0 as it does there), an
        indexing and a scalar addition instead of a reduction."""
        if not set(kw) <= {"axis", "dtype", "keepdims"} or t._v.__class__ is not _ndarray:
            return None
        v = t._v
        axis = kw.get("axis")
        dtype = kw.get("dtype")
        keepdims = kw.get("keepdims", False)
        out = op.outs[0]._v if op.outs else None
        if (axis is None and dtype is None and not keepdims and v.size == 1 and v.ndim >= 1
                and v.dtype.kind == "f" and v.dtype.itemsize in (4, 8)
                and out.__class__ is v.dtype.type):
            return f"{self.expr(t)}[{', '.join(['0'] * v.ndim)}] + 0.0"
        if keepdims.__class__ is not bool:
            return None
        parts = [self.expr(t), self.expr(axis)]
        if dtype is not None or keepdims:
            parts.append(self.expr(dtype))
        if keepdims:
            parts += ["None", "True"]
        return f"np.add.reduce({', '.join(parts)})"

    def _operand(self, a: Any) -> str:
        s = self.expr(a)
        if a.__class__ in (int, float, complex) and (s.startswith("-") or "j" in s):
            return f"({s})"
        return s


# np.f(a, ...) for an ndarray a is a.f(...): the same C method, without the Python wrapper
_METHOD = {np.sum: "sum", np.prod: "prod", np.mean: "mean", np.transpose: ".T",
           np.reshape: "reshape", np.swapaxes: "swapaxes", np.squeeze: "squeeze",
           np.ravel: "ravel", np.cumsum: "cumsum", np.cumprod: "cumprod", np.max: "max",
           np.min: "min", np.amax: "max", np.amin: "min",
           np.argmax: "argmax", np.argmin: "argmin", np.any: "any", np.all: "all",
           np.round: "round", np.diagonal: "diagonal", np.trace: "trace",
           np.repeat: "repeat", np.take: "take", np.nonzero: "nonzero", np.std: "std",
           np.var: "var"}

# the keywords the methods take as the functions do
_METHOD_KW = frozenset(("axis", "keepdims", "dtype", "order", "decimals", "ddof", "initial",
                        "where", "mode", "axis1", "axis2", "offset", "repeats", "indices"))

# ndarray methods whose axis, dtype and out default to None and keepdims to False
_REDUCTIONS = frozenset(("sum", "prod", "mean", "std", "var", "max", "min", "any", "all",
                         "cumsum", "cumprod", "argmax", "argmin", "ptp"))
_NONE_KW = frozenset(("axis", "dtype", "out"))

_DEFAULTS: dict = {}


def _non_default(fn: Any, kw: dict) -> dict:
    """``kw`` without the arguments given their default value (None, False, True), which
    the call means anyway: ``np.sum(t, axis=None, keepdims=False)`` reads ``np.sum(t)``."""
    if not kw or isinstance(fn, np.ufunc):
        return kw
    d = _DEFAULTS.get(fn)
    if d is None:
        try:
            import inspect
            d = {n: p.default for n, p in inspect.signature(fn).parameters.items()
                 if p.default is None or p.default is False or p.default is True}
        except (TypeError, ValueError):
            d = {}
        _DEFAULTS[fn] = d
    return {k: v for k, v in kw.items() if not (k in d and v is d[k])}


def _short(a: np.ndarray) -> str:
    return " ".join(np.array2string(a.ravel(), precision=6, separator=", ",
                                    max_line_width=10**6).split())


def _retrace(k: int) -> None:
    raise Retrace(k)


def _guard_line(em: Emitter, op: Op) -> str:
    conv = op.fn
    t = op.args[0]
    v = em.expr(t)
    expect = op.kw["expect"]
    k = op.kw["k"]
    if conv == "bool":
        return (f"if {'not ' if expect else ''}{v}: _retrace({k})  "
                f"# traced with {v} {expect}: the other way traces again")
    if conv == "item":
        lhs = f"{v}.item({em.call_args(op.args[1:], {})})"
    elif conv == "tolist":
        lhs = f"{v}.tolist()"
    elif conv in ("float", "int", "complex"):
        lhs = f"{conv}({v})"
    elif conv == "index":
        lhs = f"{v}.__index__()"
    else:  # a Python value a recorded step returned
        lhs = v
    rhs = em.expr(expect) if not isinstance(expect, (list, np.dtype)) else em.const(expect)
    if isinstance(expect, float) and math.isnan(expect):
        return f"if {lhs} == {lhs}: _retrace({k})  # traced with NaN"
    if expect.__class__ is float and expect == 0.0:
        # -0.0 == 0.0, but x / s is -inf for one and inf for the other: the sign counts
        em.ns["_copysign"] = math.copysign
        em.taken.add("_copysign")
        return (f"if (_g := {lhs}) != 0.0 or _copysign(1.0, _g) != "
                f"{math.copysign(1.0, expect)!r}: _retrace({k})  # traced with {expect!r}")
    note = op.kw.get("note") or "a value the trace depends on"
    return f"if {lhs} != {rhs}: _retrace({k})  # {note}"


_IN_PLACE_MIN = 1024  # elements: below this, a = a + b is as fast (measured)
_DEL_MIN = 1024  # bytes: a smaller value is freed at the return (a del costs more than it saves)


def _small(t: Any) -> bool:
    """Is ``t``'s memory (the whole buffer it views) under _DEL_MIN bytes?"""
    v = t._v if t.__class__ is Traced else t
    if v.__class__ is not _ndarray and not isinstance(v, _ndarray):
        return True  # a NumPy scalar, a Python value
    while isinstance(v.base, _ndarray):
        v = v.base
    return v.base is None and v.nbytes < _DEL_MIN


_MAYBE_VIEW_METHODS = frozenset(("ravel", "reshape", "view", "squeeze", "swapaxes",
                                 "transpose", "diagonal"))
_MAYBE_VIEW_FUNCS = (np.ravel, np.reshape, np.ascontiguousarray, np.asfortranarray,
                     np.require, np.asarray, np.asanyarray, np.squeeze, np.atleast_1d,
                     np.atleast_2d, np.atleast_3d, np.real, np.imag)


def _maybe_view(op: Op) -> bool:
    """Can ``op`` give a view of its operand on some call and a fresh array on another?"""
    if op.kind == "method":
        return op.fn in _MAYBE_VIEW_METHODS or (op.fn == "astype" and (
            op.kw.get("copy") is False or (len(op.args) > 4 and op.args[4] is False)))
    if op.kind == "call":
        return any(op.fn is f for f in _MAYBE_VIEW_FUNCS)
    return False


def in_place(ops: list[Op], outputs: list, inputs: list, names: dict) -> dict[int, int]:
    """Which ``a + b`` / ``a - b`` / ``a * b`` (and np.add/subtract/multiply without options)
    may write into ``a``: a temporary this code made, holding its own memory, that nothing
    reads afterwards, of the result's shape and dtype.  {op index: operand position}."""
    last: dict[int, int] = {}
    for i, op in enumerate(ops):
        for u in _uses(op):
            last[id(u)] = i
    protected = {id(t) for t in outputs if t.__class__ is Traced}
    protected |= {id(t) for t in inputs}
    # memory more than one value lives in (views), and memory written in place
    roots: dict[int, int] = {}
    made = set()
    for op in ops:
        for o in op.outs:
            if o.__class__ is Traced:
                r = _root(o._v)
                roots[r] = roots.get(r, 0) + 1
                made.add(id(o))
    for t in inputs:
        r = _root(t._v)
        roots[r] = roots.get(r, 0) + 2
    # values made by a step that copies or gives a view depending on its operand's memory
    # layout (x.ravel() of a transposed input copies; of a contiguous one it is a view of
    # the caller's array): fresh while tracing, maybe not on a later call
    layout_made = {id(o) for op in ops if _maybe_view(op) for o in op.outs}
    out: dict[int, int] = {}
    for i, op in enumerate(ops):
        if op.kind == "binop" and op.fn in _IN_PLACE:
            cands = (0, 1) if op.fn in "+*" else (0,)
        elif op.kind == "call" and op.fn in _UFUNC_SYM and not op.kw and len(op.args) == 2:
            cands = (0, 1) if op.fn is not np.subtract else (0,)
        else:
            continue
        res = op.outs[0]
        if res.__class__ is not Traced or res._v.__class__ is not _ndarray \
                or res._v.size < _IN_PLACE_MIN:
            continue  # a += b costs more than a + b on small arrays (out= is parsed)
        if res._v.dtype.kind == "c" and op.fn in ("*", np.multiply):
            cands = (0,)  # complex b * a is not bitwise a * b (NumPy's loops use FMA)
        for pos in cands:
            a = op.args[pos]
            other = op.args[1 - pos]
            if (a.__class__ is Traced and id(a) in made and id(a) not in protected
                    and id(a) not in layout_made
                    and last.get(id(a)) == i and a._v.__class__ is _ndarray
                    and a._v.base is None and roots.get(_root(a._v)) == 1
                    and a._v.flags.writeable and a._v.shape == res._v.shape
                    and a._v.dtype == res._v.dtype and res._v.__class__ is _ndarray
                    and other is not a
                    and not (other.__class__ is Traced and _root(other._v) == _root(a._v))
                    and not (id(a) in names and names.get(id(res)) != names[id(a)])):
                # (a user's variable keeps its meaning: z is not reused for dz)
                out[i] = pos
                break
    return out


def emit(fname: str, ops: list[Op], inputs: list, outputs: list, names: dict[int, str],
         input_names: list[str], comments: bool = True, alias: dict | None = None,
         sections: dict[int, str] | None = None,
         const_names: dict[int, str] | None = None, hints: dict[int, str] | None = None,
         ret: Any = None, caller: Any = None,
         extra_ns: dict | None = None) -> tuple[str, Any, Emitter]:
    """Source and function object: ``def fname(*inputs): ...; return outputs``.

    ``hints``: names for outputs the user did not name (d_w1); ``ret``: a function of the
    outputs' expressions giving the return expression (default: a flat tuple); ``caller``:
    the site of the call being compiled (its steps are commented "the result")."""
    em = Emitter(names, const_names)
    hints = hints or {}
    ops = fold_half_square(fuse_zero_tests(ops, outputs), outputs, inputs)
    ops = scalar_square_sum(ops, outputs)
    ops = scatter_into_zeros(fold_unique_max(ops, outputs))
    if extra_ns:
        em.ns.update(extra_ns)
        em.taken.update(extra_ns)
    params = [em.name(t, hint) for t, hint in zip(inputs, input_names)]
    alias = alias or {}
    outputs = [alias.get(id(o), o) if o.__class__ is Traced else o for o in outputs]
    inplace = in_place(ops, outputs, inputs, names)
    # a chain of in-place steps (t = sin(x); t *= y; t += 1) carries one name: the first
    # user's name along it (z), so that it reads as the user wrote it
    chain: dict[int, Traced] = {}
    for i, pos in inplace.items():
        a, r = ops[i].args[pos], ops[i].outs[0]
        root = chain.get(id(a), a)
        chain[id(r)] = root
        if id(root) not in em.names and id(root) not in names and id(r) in names:
            names[id(root)] = names[id(r)]
    last: dict[int, int] = {}
    for i, op in enumerate(ops):
        for u in _uses(op):
            last[id(u)] = i
    out_ids = {id(o) for o in outputs if o.__class__ is Traced}
    dels: dict[int, list] = {}
    for i, op in enumerate(ops):
        seen_here = set()
        for u in _uses(op):
            if last[id(u)] == i and id(u) not in out_ids and id(u) not in seen_here:
                seen_here.add(id(u))
                dels.setdefault(i, []).append(u)
    # outputs with a suggested name (d_w1) that are not the end of an in-place chain are
    # named so where they are made
    chained = {id(ops[i].outs[0]) for i in inplace}
    for o in outputs:
        if o.__class__ is Traced and id(o) in hints and id(o) not in chained \
                and id(o) not in em.names and id(o) not in names and not any(
                    o is t for t in inputs):
            em.names[id(o)] = em.fresh(hints[id(o)])
    body: list[str] = []
    prev_line = None
    for i, op in enumerate(ops):
        if sections and i in sections:
            body.append(f"# {sections[i]}")
            prev_line = None
        if comments and op.line is not None and op.line != prev_line and op.kind != "copy":
            prev_line = op.line
            if op.line[0] == "backward":
                body.append(f"# backward of {op.line[1]}")
            elif op.line == caller:
                body.append("# the result")
            else:
                code = errors.format_site(op.line).split(": ", 1)
                if len(code) == 2:
                    body.append(f"# {code[1]}")
        n_body = len(body)
        if op.kind == "guard":
            body.append(_guard_line(em, op))
        elif op.kind == "setitem":
            body.append(f"{em.expr(op.args[0])}[{em.index(op.args[1])}] = "
                        f"{em.expr(op.args[2])}")
        elif op.kind == "inplace":
            body.append(f"{em.expr(op.args[0])} {op.fn}= {em.expr(op.args[1])}")
        elif i in inplace:
            pos = inplace[i]
            a, b = op.args[pos], op.args[1 - pos]
            sym = op.fn if op.kind == "binop" else _UFUNC_SYM[op.fn]
            an = em.expr(a)
            body.append(f"{an} {_IN_PLACE[sym]} {em._operand(b)}")
            em.names[id(op.outs[0])] = an
            # the result lives on under a's name: a's last use is not here any more
            dels[i] = [u for u in dels.get(i, ()) if u is not a]  # identity, not ==
        elif op.outs and any(op.outs[0] is m for m in op.mutates) and op.kind == "call":
            body.append(em.rhs(op))  # out= / ufunc.at: the write is the statement
        elif not op.outs:
            body.append(em.rhs(op))
        else:
            rhs = em.rhs(op)
            if op.unpack:
                lhs = ", ".join(em.name(o) for o in op.outs)
                if len(op.outs) == 1:
                    lhs += ","
            else:
                lhs = em.name(op.outs[0])
            body.append(f"{lhs} = {rhs}")
        if op.err:  # the floating-point settings the step ran under (np.errstate)
            stmt = body[n_body:]
            del body[n_body:]
            body.append(f"with np.errstate({', '.join(f'{k}={v!r}' for k, v in op.err.items())}):")
            body.extend("    " + ln for ln in stmt)
        gone = list(dict.fromkeys(em.expr(u) for u in dels.get(i, ())
                                  if id(u) in em.names and not _small(u)))
        if gone:
            body.append("del " + ", ".join(gone))
        # results nobody reads (a part of an unpacked tuple): dropped at once
        dead = [em.name(o) for o in op.outs if o.__class__ is Traced and id(o) not in last
                and id(o) not in out_ids and not any(o is m for m in op.mutates)
                and not _small(o)
                and op.kind != "guard"
                and i not in inplace]
        if dead:
            body.append("del " + ", ".join(dead))
    rets = []
    for o in outputs:
        r = em.expr(o)
        h = hints.get(id(o)) if o.__class__ is Traced else None
        if h is not None:
            h = _identifier(h)
        if h is not None and r != h and h not in em.taken:
            h = em.fresh(h)
            body.append(f"{h} = {r}")
            r = h
        rets.append(r)
    if ret is not None:
        body.append("return " + ret(rets))
        em.ns.update(extra_ns or {})  # (the names the return expression bound)
    else:
        body.append("return " + (", ".join(rets) + ("," if len(rets) == 1 else "") if rets
                                 else "()"))
    while fname in em.ns or fname in em.taken:  # (a def named erf would shadow the erf it calls)
        fname = "compiled_" + fname
    head = f"def {fname}({', '.join(params)}):"
    doc = []
    if em.const_doc:
        doc = ["# constants of this trace:"] + [f"#   {d}" for d in em.const_doc]
    src = "\n".join([head] + ["    " + line for line in doc + body]) + "\n"
    code = compile(src, f"<chainrule.compile {fname}>", "exec")
    exec(code, em.ns)
    return src, em.ns[fname], em
