"""Indexing: t[idx] and t[idx] = v.  Advanced indices scatter-add their gradient."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import primitive as P
from .util import defprim, unbroadcast


def raw_index(idx: Any) -> Any:
    """An index with any Tensors in it replaced by their (integer/bool) values."""
    T = P.Tensor
    if isinstance(idx, T):
        return idx._value
    if isinstance(idx, tuple):
        return tuple(i._value if isinstance(i, T) else i for i in idx)
    if isinstance(idx, list) and any(isinstance(i, T) for i in idx):
        return [i._value if isinstance(i, T) else i for i in idx]
    return idx


def _is_basic(idx: Any) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in items
    )


def _getitem_fwd(x: Any, idx: Any = None) -> Any:
    return x[idx]


def _getitem_vjp(g: Any, ans: Any, x: Any, idx: Any = None) -> Any:
    return scatter_add(g, shape=x.shape, idx=idx)


getitem = defprim(_getitem_fwd, "getitem", saves=(), saves_ans=False, linear=True, view=True,
                  vjp=(_getitem_vjp,))


def _scatter_add_fwd(g: Any, shape: Any = None, idx: Any = None) -> Any:
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(idx):
        out[idx] = g
    else:
        np.add.at(out, idx, g)  # repeated indices accumulate
    return out


scatter_add = defprim(
    _scatter_add_fwd, "scatter_add", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, x, shape=None, idx=None: getitem(g, idx=idx),),
)


def _setitem_fwd(x: Any, v: Any, idx: Any = None) -> Any:
    out = np.array(x, copy=True)
    out[idx] = v
    return out


def _setitem_vjp_x(g: Any, ans: Any, x: Any, v: Any, idx: Any = None) -> Any:
    from . import elementwise as E  # noqa: PLC0415

    keep = np.ones(x.shape, dtype=bool)
    keep[idx] = False
    return E.where_prim(keep, g, E.zeros_like(g))


def _setitem_vjp_v(g: Any, ans: Any, x: Any, v: Any, idx: Any = None) -> Any:
    # only the last write to a repeated index survives; NumPy does not promise which,
    # so refuse repeated advanced indices rather than guess
    piece = getitem(g, idx=idx)
    if not _is_basic(idx):
        flat = np.ravel_multi_index if False else None  # noqa: F841
        marker = np.zeros(x.shape, dtype=np.int64)
        np.add.at(marker, idx, 1)
        if marker.max(initial=0) > 1:
            from ..core.errors import GradientError  # noqa: PLC0415

            raise GradientError(
                "t[idx] = v with an index that repeats an element: which write survives is "
                "unspecified, so the gradient of v is undefined. Use unique indices."
            )
    return unbroadcast(v, piece)


setitem = defprim(_setitem_fwd, "setitem", saves=(), saves_ans=False, linear=True,
                  vjp=(_setitem_vjp_x, _setitem_vjp_v))
