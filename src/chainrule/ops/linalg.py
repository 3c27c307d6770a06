"""Matrix products and linear algebra."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..numpy.registry import register
from . import elementwise as E
from . import shape as S
from .util import defprim, unbroadcast


def _mT(a: Any) -> Any:
    return S.swapaxes(a, -1, -2)


def _as2d(x: Any, g: Any, ans_ndim: int, left: bool) -> tuple[Any, Any]:
    return x, g


def _matmul_grads(g: Any, x: Any, y: Any, which: int) -> Any:
    xs, ys = x.shape, y.shape
    x2 = S.reshape(x, (1,) + tuple(xs)) if len(xs) == 1 else x
    y2 = S.reshape(y, tuple(ys) + (1,)) if len(ys) == 1 else y
    gs = list(g.shape)
    if len(xs) == 1:
        gs.insert(len(gs) - (0 if len(ys) == 1 else 1), 1)
    if len(ys) == 1:
        gs.append(1)
    g2 = S.reshape(g, tuple(gs))
    if which == 0:
        r = matmul(g2, E.conj(_mT(y2)))
        if len(xs) == 1:
            r = S.reshape(unbroadcast(np.empty((1,) + tuple(xs)), r) if r.ndim > 2 else r, xs)
            return r
        return unbroadcast(x, r)
    r = matmul(E.conj(_mT(x2)), g2)
    if len(ys) == 1:
        r = unbroadcast(np.empty(tuple(ys) + (1,)), r) if r.ndim > 2 else r
        return S.reshape(r, ys)
    return unbroadcast(y, r)


matmul = defprim(
    np.matmul, "matmul", np_names="matmul", saves_ans=False,
    vjp=(lambda g, ans, x, y: _matmul_grads(g, x, y, 0),
         lambda g, ans, x, y: _matmul_grads(g, x, y, 1)),
    jvp=(lambda dx, ans, x, y: matmul(dx, y), lambda dy, ans, x, y: matmul(x, dy)),
)


def dot(a: Any, b: Any, out: Any = None) -> Any:
    if out is not None:
        raise NotImplementedError("dot(out=...) is not supported on Tensors")
    na, nb = np.ndim(getattr(a, "_value", a)), np.ndim(getattr(b, "_value", b))
    if na == 0 or nb == 0:
        return E.multiply(a, b)
    if nb <= 2:
        return matmul(a, b)
    from .linalg_ext import tensordot  # noqa: PLC0415

    return tensordot(a, b, axes=([-1], [-2]))


register("dot", dot)
