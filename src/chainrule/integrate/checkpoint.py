"""``cr.checkpoint(f)``: run f without recording its graph and recompute it in the
backward pass (memory for time, as ``torch.utils.checkpoint``)."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import numpy as np

from ..core import errors
from ..core.primitive import Primitive, defvjp
from ..core.tensor import Tensor
from ..optimize._common import as_plain_result, name_of, plain, plain_mode, traced
from ..transforms import jvp, vjp


def checkpoint(f: Callable) -> Callable:
    """``f`` whose forward pass records one operation instead of its whole graph.

    ``cr.checkpoint(f)(*args)`` runs ``f`` on the plain values of ``args`` (nothing is
    recorded inside it) and returns one Tensor (or a tuple of Tensors when f returns a
    tuple or list of arrays); the backward pass runs ``f`` again on ``args`` under the
    recorder and pulls the cotangent through that graph, which is dropped at once.  The
    gradients are those of ``f`` itself, to any order (higher orders recompute again),
    and first-order forward mode (``cr.jvp``) works too.  Tensors to differentiate must
    be arguments: a Tensor with history that ``f`` closes over is refused (its gradient
    would be lost).
    """
    who = f"checkpoint({name_of(f)})"

    def wrapped(*args: Any) -> Any:
        diff = tuple(i for i, a in enumerate(args) if traced(a))
        if not diff:
            return f(*args)
        layout: list = []

        def pack(out: Any) -> Any:
            parts = out if isinstance(out, (tuple, list)) else None
            if parts is None:
                if not layout:
                    layout.append(None)
                return out
            if not layout:
                layout.append([np.shape(plain(p)) for p in parts])
            if len(parts) == 1:
                return np.reshape(parts[0], (-1,))
            return np.concatenate([np.reshape(p, (-1,)) for p in parts])

        def fwd(*raw: Any) -> np.ndarray:
            with plain_mode():
                out = f(*raw)
            leaves = out if isinstance(out, (tuple, list)) else (out,)
            for o in leaves:
                if traced(o):
                    raise errors.GradientError(
                        f"{who}: f's result depends on a Tensor with history that is not an "
                        f"argument (a closure or a global); its gradient would be lost.  Pass "
                        f"it as an argument: cr.checkpoint(f)(x, w)")
            return np.asarray(as_plain_result(pack(tuple(as_plain_result(o) for o in leaves)
                                                   if isinstance(out, (tuple, list))
                                                   else out)))

        prim = Primitive(fwd, name=who)
        cache: dict[str, Any] = {}

        def cotangents(g: Any, ans: Any, raw: tuple) -> dict:
            key = cache.get("key")
            if key is not None and key[0] is g and key[1] is ans:
                return cache["cts"]
            create = isinstance(g, Tensor) or isinstance(ans, Tensor)

            def again(*d: Any) -> Any:
                call = list(raw)
                for i, v in zip(diff, d):
                    call[i] = v
                return pack(f(*call))

            with (contextlib.nullcontext() if create else plain_mode()):
                _, pull = vjp(again, *[raw[i] for i in diff])
                cts = pull(g)
            if not create:
                cts = tuple(as_plain_result(c) for c in cts)
            out = dict(zip(diff, cts))
            cache["key"], cache["cts"] = (g, ans), out
            return out

        def rule(i: int) -> Callable:
            return lambda g, ans, *raw: cotangents(g, ans, raw)[i]

        defvjp(prim, *[rule(i) for i in diff], argnums=diff)

        def tangent(ts: list, ans: Any, *raw: Any) -> Any:
            if any(isinstance(v, Tensor) for v in (ans, *raw, *ts)):
                raise NotImplementedError(
                    f"{who}: forward mode through a checkpoint is first order only (nest "
                    f"reverse mode, cr.hessian, for second derivatives)")
            idx = [i for i in diff if ts[i] is not None]

            def again(*d: Any) -> Any:
                call = list(raw)
                for i, v in zip(idx, d):
                    call[i] = v
                return pack(f(*call))

            with plain_mode():
                _, t = jvp(again, [raw[i] for i in idx], [ts[i] for i in idx])
            return as_plain_result(t)

        prim.jvp_all = tangent
        out = prim(*args)
        if layout and layout[0] is not None:
            parts, off = [], 0
            for shape in layout[0]:
                size = int(np.prod(shape))
                parts.append(np.reshape(out[off:off + size], shape))
                off += size
            return tuple(parts)
        return out

    wrapped.__name__ = who
    wrapped.__wrapped__ = f
    return wrapped
