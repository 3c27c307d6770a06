"""The backward pass.  Knows nothing about particular operations.

Nodes are processed in decreasing creation order (``seq``), which is a topological
order, with a heap of the nodes that have received a cotangent: no recursion, no
graph sort, and graphs of any depth.  Saved values are dropped as soon as the pass
leaves a node (unless ``retain_graph``), so memory falls while the pass runs.
"""

from __future__ import annotations

import heapq
import sys
from typing import Any, Iterable

import numpy as np

from . import arrays, errors, hooks
from . import primitive as P
from .state import STATE

_refcount = sys.getrefcount


def _rebuild(node: P.Node) -> tuple[tuple, Any]:
    """Arguments and answer of ``node`` as Tensors on the graph (for create_graph)."""
    T = P.Tensor
    tangents = node.tangents
    args = []
    for i, (v, p) in enumerate(zip(node.args, node.parents)):
        fw = tangents[0][i] if tangents is not None else None
        if (p is None and fw is None) or isinstance(v, P.Meta):
            args.append(v)
        else:
            args.append(T._make(v, p, fw))
    ans = node.ans
    if not isinstance(ans, P.Meta):
        ans = T._make(ans, node, tangents[1] if tangents is not None else None)
    return tuple(args), ans


def _check_versions(node: P.Node) -> None:
    saved = node.saved_versions  # flat: (counter, version when recorded, counter, ...)
    for j in range(0, len(saved), 2):
        vc = saved[j]
        if vc[0] != saved[j + 1]:
            where = errors.format_site(vc[1])
            made = f" (created at {errors.format_site(node.site)})" if node.site else ""
            raise errors.GradientError(
                f"backward: a value of shape {node.shape} that {node.name}{made} saved for the "
                f"backward pass was modified in place afterwards (at {where}), so its gradient "
                f"would be wrong.\n  Use an out-of-place operation there (x = x + y instead of "
                f"x += y), or .clone() the tensor before modifying it."
            )


def _freed(node: P.Node) -> None:
    raise errors.GradientError(
        f"backward: trying to go backward through {node.name} (output shape {node.shape}) a "
        f"second time, but its saved values were freed by the first backward().\n"
        f"  at {errors.user_line()}\n"
        f"  Pass retain_graph=True to the first backward() if you need to call it twice, or "
        f"recompute the forward pass."
    )


def _fit(gi: Any, p: P.Node, node: P.Node, i: int) -> Any:
    """Check a rule's cotangent against its input and cast it to the input's dtype."""
    if gi.shape != p.shape:
        raise errors.GradientError(
            f"the VJP rule of {node.name} for argument {i} returned a cotangent of shape "
            f"{tuple(gi.shape)}, but that argument has shape {tuple(p.shape)}; the rule is wrong "
            f"(a missing sum over broadcast axes is the usual cause: use unbroadcast)."
        )
    if gi.dtype != p.dtype:
        gi = hooks.cast_like(gi, p.dtype)
    return gi


# what may be added into a plain ndarray in place (another array type, such as a traced
# one, makes a new sum of its own type)
_SAME_KIND = (np.ndarray, np.float64, np.float32, np.complex128, np.complex64, np.float16)


def _accumulate(prev: Any, g: Any, owned: set, create_graph: bool) -> Any:
    """prev + g, in place into ``prev`` when nobody else can see it."""
    if create_graph:
        return prev + g
    if id(prev) in owned or (
        prev.__class__ is np.ndarray and g.__class__ in _SAME_KIND and prev.base is None and _refcount(prev) <= 4
        and prev.flags.writeable and prev.dtype == g.dtype and prev.shape == g.shape
    ):
        # 4: the grads dict, our argument, the caller's local, getrefcount's argument
        np.add(prev, g, out=prev)
        owned.add(id(prev))
        return prev
    s = prev + g
    if s.__class__ is np.ndarray:
        owned.add(id(s))
    return s


def backward(
    roots: Iterable[P.Node],
    seeds: Iterable[Any],
    *,
    targets: Iterable[P.Node] | None = None,
    create_graph: bool = False,
    retain_graph: bool = False,
) -> dict[P.Node, Any]:
    """Propagate ``seeds`` back from ``roots``.

    With ``targets``: return {target node: cotangent} and touch no ``.grad``.
    Without: deliver cotangents to the tensors that asked for them (leaves and
    ``retain_grad``) and return {}.

    Nodes wait in a heap keyed by -seq.  A node whose only new parent is also the next
    node in seq order (a chain, the common case) hands over to it directly.
    """
    st = STATE
    grads, heap, owned = _seed(roots, seeds, create_graph)
    tset = set(targets) if targets is not None else set()
    min_seq = min(t.seq for t in tset) if tset else 0  # nothing below the targets matters
    deliver = targets is None
    results: dict[P.Node, Any] = {}
    anomaly = st.anomaly
    guarded = arrays.GUARDED  # [True] once an array library's rules may lack something
    push = heapq.heappush
    pop = heapq.heappop

    saved_mode = st.grad_enabled
    st.grad_enabled = create_graph
    nxt = None
    try:
        while True:
            if nxt is not None:
                node = nxt
                nxt = None
            elif heap:
                node = pop(heap)[1]
            else:
                break
            g = grads.pop(node)
            if owned:
                owned.discard(id(g))  # ids are reused once an array is freed
            if tset and node in tset:
                results[node] = g
                continue
            if deliver and node.ref is not None:
                _deliver(node, g, create_graph)
            prim = node.prim
            if prim is None:
                continue
            args = node.args
            saved = node.saved_versions  # (counter, version when recorded, ...)
            if args is None or (saved and (saved[0][0] != saved[1] or (len(saved) > 2 and (
                    len(saved) > 4 or saved[2][0] != saved[3])))) or create_graph:
                args, ans = _inputs(node, create_graph)  # freed, changed or to be rebuilt
            else:
                ans = node.ans
            kw = node.kw
            vjps = prim.vjps
            fresh = None
            i = -1
            for p in node.parents:
                i += 1
                if p is None or p.seq < min_seq:
                    continue
                rule = vjps.get(i)
                try:
                    if guarded[0]:
                        gi = arrays.refusing_fallbacks(rule, g, ans, *args, **kw)
                    elif kw:
                        gi = rule(g, ans, *args, **kw)
                    else:
                        gi = rule(g, ans, *args)
                except TypeError as exc:  # no rule, or a call it cannot take: explained
                    P.rule_failed(prim, "VJP", i, rule, (g, ans, *args), kw, exc)
                except (FutureWarning, NotImplementedError) as exc:
                    if guarded[0]:
                        P.backend_failed(prim, (g, ans, *args), exc, f"its VJP in argument {i}",
                                         kw)
                    raise
                try:
                    if gi.shape != p.shape or (gi.dtype is not p.dtype and gi.dtype != p.dtype):
                        gi = _fit(gi, p, node, i)
                except AttributeError:  # not an array (None, a float, a list): say so
                    P.check_result(prim, "VJP", i, rule, gi, p.shape, p.dtype)
                    raise
                if anomaly:
                    hooks.check_backward(node, i, gi)
                prev = grads.get(p)
                if prev is None:
                    grads[p] = gi
                    if fresh is None:
                        fresh = p
                    else:
                        push(heap, (-p.seq, p))
                else:
                    grads[p] = _accumulate(prev, gi, owned, create_graph)
                    prev = None
            gi = None  # hold no reference: _deliver and _accumulate count them
            if fresh is not None:
                if not heap or fresh.seq > -heap[0][0]:
                    nxt = fresh  # nothing waiting comes before it: no heap round trip
                else:
                    push(heap, (-fresh.seq, fresh))
            if not retain_graph:  # drop what it saved: memory falls while the pass runs
                node.args = node.ans = node.tangents = node.saved_versions = None
                node.parents = ()
    finally:
        st.grad_enabled = saved_mode
    return results


def _inputs(node: P.Node, create_graph: bool) -> tuple[Any, Any]:
    """What ``node``'s rules are called with: its saved arguments and result, checked to be
    still there (not freed by an earlier pass) and unchanged since they were recorded;
    rebuilt as Tensors on the graph when the pass itself is recorded (create_graph)."""
    if node.args is None:
        _freed(node)
    saved = node.saved_versions  # (counter, version when recorded, ...): all unchanged?
    if saved and (saved[0][0] != saved[1] or (len(saved) > 2 and (
            len(saved) > 4 or saved[2][0] != saved[3]))):
        _check_versions(node)  # one changed (or many to look at): find it and raise
    if create_graph:
        return _rebuild(node)
    return node.args, node.ans


def _seed(roots: Iterable[P.Node], seeds: Iterable[Any],
          create_graph: bool) -> tuple[dict, list, set]:
    """The cotangents to start from (summed where a root repeats), the heap of nodes that
    wait for their turn (keyed by -seq), and the ids of arrays the pass owns."""
    grads: dict[P.Node, Any] = {}
    heap: list = []
    owned: set[int] = set()
    for r, g in zip(roots, seeds):
        prev = grads.get(r)
        if prev is None:
            grads[r] = g
            heapq.heappush(heap, (-r.seq, r))
        else:
            grads[r] = _accumulate(prev, g, owned, create_graph)
    return grads, heap, owned


def _deliver(node: P.Node, g: Any, create_graph: bool) -> None:
    t = node.ref()
    if t is None:
        return
    T = P.Tensor
    if not create_graph and isinstance(g, T):
        g = g._value
    if t._grad is None:
        if isinstance(g, T):
            t._grad = g
        else:
            # copy unless nobody else can see the array (the caller or a rule may still hold
            # it, or another leaf may receive the same object); 3 references: the backward
            # loop's local, ours, and getrefcount's argument
            if (g.__class__ is not np.ndarray or g.base is not None or _refcount(g) > 3
                    or not g.flags.writeable):
                g = arrays.copy(g)
            t._grad = T._make(g, None, None)
    else:
        prev = t._grad
        if create_graph or isinstance(g, T) or prev._node is not None:
            t._grad = prev + g
        else:
            prev._value = prev._value + g
