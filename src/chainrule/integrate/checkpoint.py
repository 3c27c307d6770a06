"""``cr.checkpoint(f)``: run f without keeping its graph and recompute it in the backward
pass (memory for time, as ``torch.utils.checkpoint``)."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import numpy as np

from ..core.graph import backward
from ..core.primitive import Primitive, defvjp, leaf_node
from ..core.state import STATE, next_seq
from ..core.tensor import Tensor
from ..ops.shape import copy_prim
from ..optimize._common import as_plain_result, name_of, plain, plain_mode, traced
from ..transforms import jvp, vjp


def checkpoint(f: Callable) -> Callable:
    """``f`` whose forward pass keeps one recorded operation instead of its whole graph.

    ``cr.checkpoint(f)(*args)`` runs ``f`` on the plain values of ``args`` and returns one
    Tensor (or a tuple of Tensors when f returns a tuple or list of arrays); the backward
    pass runs ``f`` again under the recorder and pulls the cotangent through that graph,
    which is dropped at once.  The gradients are those of ``f`` itself, to any order in
    reverse mode (higher orders recompute again), and first-order forward mode
    (``cr.jvp``) works for arguments.  Tensors that ``f`` closes over (a module's weights,
    a transform's variables) receive their gradients too; then the forward pass records
    f's graph once to find them and drops it.
    """
    who = f"checkpoint({name_of(f)})"

    def wrapped(*args: Any) -> Any:
        diff = tuple(i for i, a in enumerate(args) if traced(a))
        raw_args = tuple(plain(a) if isinstance(a, Tensor) else a for a in args)
        mark = next_seq()
        with plain_mode():
            first = f(*raw_args)
        leaves = first if isinstance(first, (tuple, list)) else (first,)
        outer = _boundary([o for o in leaves if isinstance(o, Tensor)], mark)
        if not diff and not outer:
            return first  # nothing recorded (forward-mode tangents of closures included)
        if any(isinstance(o, Tensor) and o._tangents is not None for o in leaves):
            raise NotImplementedError(
                f"{who}: f closes over a value carrying a forward-mode tangent (cr.jvp) while "
                f"its arguments are traced; pass that value as an argument")
        layout = [np.shape(plain(p)) for p in leaves] if isinstance(first, (tuple, list)) \
            else None
        value = _pack(tuple(as_plain_result(o) for o in leaves)) if layout is not None \
            else as_plain_result(first)
        first = leaves = None  # the graph recorded to find closures is dropped here
        n_args = len(args)

        def fwd(*raw: Any) -> np.ndarray:
            return value

        # the rules need the arguments' values (to recompute), not the result's nor the
        # stand-ins' of the closed-over values
        prim = Primitive(fwd, name=who, saves=tuple(range(n_args)), saves_ans=False)
        cache: dict[str, Any] = {}

        def again(call: list) -> Any:
            out = f(*call)
            return _pack(out) if layout is not None else out

        def cotangents(g: Any, ans: Any, raw: tuple) -> dict:
            key = cache.get("key")
            if key is not None and key[0] is g and key[1] is ans:
                return cache["cts"]
            create = isinstance(g, Tensor) or isinstance(ans, Tensor)
            raw = raw[:n_args]
            if not outer:
                def again_d(*d: Any) -> Any:
                    call = list(raw)
                    for i, v in zip(diff, d):
                        call[i] = v
                    return again(call)

                with (contextlib.nullcontext() if create else plain_mode()):
                    _, pull = vjp(again_d, *[raw[i] for i in diff])
                    cts = pull(g)
                out = dict(zip(diff, (c if create else as_plain_result(c) for c in cts)))
            else:
                out = _pull_with_closures(again, raw, diff, outer, g, create, n_args)
            cache["key"], cache["cts"] = (g, ans), out
            return out

        def rule(i: int) -> Callable:
            return lambda g, ans, *raw: cotangents(g, ans, raw)[i]

        idx = diff + tuple(n_args + j for j in range(len(outer)))
        defvjp(prim, *[rule(i) for i in idx], argnums=idx)

        def tangent(ts: list, ans: Any, *raw: Any) -> Any:
            if outer or any(isinstance(v, Tensor) for v in (ans, *raw, *ts)):
                raise NotImplementedError(
                    f"{who}: forward mode through a checkpoint is first order, in its "
                    f"arguments only (nest reverse mode, cr.hessian, for second derivatives)")
            use = [i for i in diff if ts[i] is not None]

            def again_d(*d: Any) -> Any:
                call = list(raw)
                for i, v in zip(use, d):
                    call[i] = v
                return again(call)

            with plain_mode():
                _, t = jvp(again_d, [raw[i] for i in use], [ts[i] for i in use])
            return as_plain_result(t)

        prim.jvp_all = tangent
        # each closed-over value enters as an extra argument standing on its node, so
        # that the backward pass delivers its cotangent there
        extra = [Tensor._make(np.zeros(n.shape, n.dtype), n, None) for n in outer]
        res = prim(*args, *extra)
        if layout is not None:
            parts, off = [], 0
            for shape in layout:
                size = int(np.prod(shape))
                parts.append(np.reshape(res[off:off + size], shape))
                off += size
            return tuple(parts)
        return res

    wrapped.__name__ = who
    wrapped.__wrapped__ = f
    return wrapped


def _pack(parts: Any) -> Any:
    parts = tuple(parts)
    if len(parts) == 1:
        return np.reshape(parts[0], (-1,))
    return np.concatenate([np.reshape(p, (-1,)) for p in parts])


def _boundary(outs: list, mark: int) -> list:
    """The nodes recorded before ``mark`` that the graph below ``outs`` reaches: the values
    f closed over (leaves, or results of earlier operations)."""
    found: dict = {}
    seen = set()
    stack = [o._node for o in outs if o._node is not None]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.seq < mark:
            found[id(n)] = n
            continue
        stack.extend(p for p in n.parents if p is not None)
    return sorted(found.values(), key=lambda n: n.seq)


def _pull_with_closures(again: Callable, raw: tuple, diff: tuple, outer: list, g: Any,
                        create: bool, n_args: int) -> dict:
    """Recompute f with fresh leaves for the traced arguments and pull ``g`` back to them
    and to the closed-over nodes."""
    st = STATE
    saved = st.grad_enabled
    st.grad_enabled = True
    try:
        call = list(raw)
        lifted = []
        for i in diff:
            a = raw[i]
            if isinstance(a, Tensor) and a._node is not None:
                t = copy_prim(a)  # connected: the pass is recorded (higher order)
            else:
                v = plain(a)
                t = Tensor._make(v, leaf_node(v.shape, v.dtype), None)
            lifted.append(t)
            call[i] = t
        out = again(call)
    finally:
        st.grad_enabled = saved
    targets = [t._node for t in lifted] + list(outer)
    seed = g if create else plain(g)
    res = backward([out._node], [seed], targets=targets, create_graph=create,
                   retain_graph=create) if isinstance(out, Tensor) and out._node is not None \
        else {}
    cts: dict[int, Any] = {}
    for i, t in zip(diff, lifted):
        c = res.get(t._node)
        cts[i] = (np.zeros(t.shape) if c is None else c)
    for j, n in enumerate(outer):
        c = res.get(n)
        cts[n_args + j] = np.zeros(n.shape, n.dtype) if c is None else c
    if not create:
        cts = {k: as_plain_result(v) for k, v in cts.items()}
    return cts
