"""The backward pass.  Knows nothing about particular operations.

Nodes are processed in decreasing creation order (``seq``), which is a topological
order, with a heap of the nodes that have received a cotangent: no recursion, no
graph sort, and graphs of any depth.  Saved values are dropped as soon as the pass
leaves a node (unless ``retain_graph``), so memory falls while the pass runs.
"""

from __future__ import annotations

import heapq
from typing import Any, Iterable

import numpy as np

from . import errors
from . import primitive as P
from .state import STATE


def _rebuild(node: P.Node) -> tuple[tuple, Any]:
    """Arguments and answer of ``node`` as Tensors on the graph (for create_graph)."""
    T = P.Tensor
    fwa = node.fwa
    args = []
    for i, (v, p) in enumerate(zip(node.args, node.parents)):
        fw = fwa[0][i] if fwa is not None else None
        if (p is None and fw is None) or isinstance(v, P.Meta):
            args.append(v)
        else:
            args.append(T._make(v, p, fw))
    ans = node.ans
    if not isinstance(ans, P.Meta):
        ans = T._make(ans, node, fwa[1] if fwa is not None else None)
    return tuple(args), ans


def _check_versions(node: P.Node) -> None:
    for vc, ver in node.vcs:
        if vc[0] != ver:
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
        from ..ops.util import cast_like  # noqa: PLC0415

        gi = cast_like(gi, p.dtype)
    return gi


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
    """
    st = STATE
    grads: dict[P.Node, Any] = {}
    owned: set[int] = set()
    heap: list = []
    push = heapq.heappush
    pop = heapq.heappop

    def add(p: P.Node, g: Any) -> None:
        prev = grads.get(p)
        if prev is None:
            grads[p] = g
            push(heap, (-p.seq, p))
        elif create_graph:
            grads[p] = prev + g
        elif id(prev) in owned:
            np.add(prev, g, out=prev)
        else:
            s = prev + g
            if s.__class__ is np.ndarray:
                owned.add(id(s))
            grads[p] = s

    for r, g in zip(roots, seeds):
        add(r, g)

    if targets is not None:
        tset = set(targets)
        min_seq = min((t.seq for t in tset), default=0)
    else:
        tset = set()
        min_seq = 0
    results: dict[P.Node, Any] = {}

    saved_mode = st.grad_enabled
    st.grad_enabled = create_graph
    try:
        while heap:
            node = pop(heap)[1]
            g = grads.pop(node)
            if owned:
                owned.discard(id(g))  # ids are reused once an array is freed
            if node in tset:
                results[node] = g
                continue
            if targets is None and node.ref is not None:
                _deliver(node, g, create_graph)
            prim = node.prim
            if prim is None:
                continue
            if node.args is None:
                _freed(node)
            if node.vcs:
                _check_versions(node)
            if create_graph:
                args, ans = _rebuild(node)
            else:
                args, ans = node.args, node.ans
            kw = node.kw
            for i, p in enumerate(node.parents):
                if p is None or p.seq < min_seq:
                    continue
                rule = prim.vjps.get(i)
                if rule is None:
                    raise NotImplementedError(
                        f"{prim.name} has no VJP rule for argument {i}; register one with "
                        f"cr.defvjp({prim.name}, ...)"
                    )
                gi = rule(g, ans, *args, **kw)
                if gi.shape != p.shape or gi.dtype != p.dtype:
                    gi = _fit(gi, p, node, i)
                if st.anomaly:
                    from ..check.anomaly import check_backward  # noqa: PLC0415

                    check_backward(node, i, gi)
                add(p, gi)
            if not retain_graph:
                node.args = None
                node.ans = None
                node.parents = ()
                node.fwa = None
                node.vcs = None
    finally:
        st.grad_enabled = saved_mode
    return results


def _deliver(node: P.Node, g: Any, create_graph: bool) -> None:
    t = node.ref()
    if t is None:
        return
    T = P.Tensor
    if not create_graph and isinstance(g, T):
        g = g._value
    if t.grad is None:
        if isinstance(g, T):
            t.grad = g
        else:
            # copy: the cotangent may alias an array that the caller or a rule still holds
            t.grad = T._make(np.array(g, copy=True), None, None)
    else:
        prev = t.grad
        if create_graph or isinstance(g, T) or prev._node is not None:
            t.grad = prev + g
        else:
            prev._value = prev._value + g
