"""Creation functions: zeros, ones, empty, eye, identity, tri, arange, full, and
``np.array(..., like=t)``.

Their results are constants (plain ndarrays), except where a value flows in from a
Tensor that carries a derivative:

* ``full(shape, t)`` broadcasts ``t``: differentiable in the fill value;
* ``arange(t0, stop, dt)`` is ``t0 + dt * k``: differentiable in start and step (the
  count of elements, a function of stop, is piecewise constant);
* ``like=t`` (NEP 35): NumPy hands the call to chainrule, which returns a Tensor
  (a constant, or built from the Tensors in the data for ``np.array([t, u], like=t)``).

``np.full`` and ``np.array`` themselves convert a Tensor fill value or element with
``np.asarray`` before chainrule can see it (they are not NEP 18 functions without
``like=``), so a traced one raises LeftGraphError there: use ``cr.numpy.full`` /
``cr.numpy.array`` (or ``like=t``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import primitive as P
from ..numpy.registry import FUNCTIONS, register
from . import shape as S
from .util import value


def _const(v: Any) -> Any:
    return P.Tensor._make(np.asarray(v), None, None)


def _traced(x: Any) -> bool:
    return isinstance(x, P.Tensor) and (x._node is not None or x._fw is not None)


def _plain(x: Any) -> Any:
    """Numbers and shapes from Tensors (untraced values only: these are constants)."""
    if isinstance(x, P.Tensor):
        if _traced(x):
            raise TypeError(
                "a Tensor that requires grad was passed where a creation function needs a "
                "constant (a shape, a count, a dtype ...); pass t.detach() or a number")
        return x._value
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(y) for y in x)
    return x


def _creator(name: str, fn: Callable) -> None:
    def impl(*args: Any, like: Any = None, **kw: Any) -> Any:
        out = fn(*_plain(args), **{k: _plain(v) for k, v in kw.items()})
        return _const(out) if isinstance(like, P.Tensor) else out

    def like_impl(*args: Any, **kw: Any) -> Any:  # reached via like=<Tensor> (NEP 35)
        return _const(fn(*_plain(args), **{k: _plain(v) for k, v in kw.items()}))

    impl.__name__ = name
    register(name, impl)
    FUNCTIONS[getattr(np, name)] = like_impl


for _n in ["zeros", "ones", "eye", "identity", "tri"]:
    _creator(_n, getattr(np, _n))
# empty: zeros, so that a program reading an "empty" array is at least deterministic
_creator("empty", lambda shape, dtype=float, order="C", **kw: np.zeros(shape, dtype, order))


def full(shape: Any, fill_value: Any, dtype: Any = None, order: str = "C", *,
         device: Any = None, like: Any = None) -> Any:
    from ..numpy import _build_array  # noqa: PLC0415

    if isinstance(fill_value, (list, tuple)):
        fill_value = _build_array(fill_value, copy=False)
    shape = _plain(shape)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if isinstance(fill_value, P.Tensor):
        x = fill_value
        if dtype is not None and x.dtype != np.dtype(dtype):
            from .elementwise import astype  # noqa: PLC0415

            x = astype(x, dtype=np.dtype(dtype))
        if x.shape != shape:
            x = S.broadcast_to_prim(x, shape=shape)
        return S.copy_prim(x)
    out = np.full(shape, fill_value, dtype, order)
    return _const(out) if isinstance(like, P.Tensor) else out


register("full", full)
FUNCTIONS[np.full] = lambda *a, **k: _const_or_tensor(full(*a, **k))


def _const_or_tensor(x: Any) -> Any:
    return x if isinstance(x, P.Tensor) else _const(x)


def arange(*args: Any, dtype: Any = None, device: Any = None, like: Any = None,
           **kw: Any) -> Any:
    names = ["start", "stop", "step"]
    given = dict(zip(names, args, strict=False))
    given.update(kw)
    start, stop, step = given.get("start"), given.get("stop"), given.get("step")
    plain = [value(x) for x in (start, stop, step)]
    base = np.arange(*[value(a) for a in args], dtype=dtype,
                     **{k: value(v) for k, v in kw.items()})
    # the values depend on start (when stop is also given) and on step
    t_start = start if stop is not None and _traced(start) else None
    t_step = step if _traced(step) else None
    if t_start is None and t_step is None:
        return _const(base) if isinstance(like, P.Tensor) else base
    k = np.arange(base.size, dtype=base.dtype)
    out = k * (t_step if t_step is not None else (plain[2] if plain[2] is not None else 1))
    out = out + (t_start if t_start is not None else plain[0])
    if out.dtype != base.dtype:
        from .elementwise import astype  # noqa: PLC0415

        out = astype(out, dtype=base.dtype)
    return out


register("arange", arange)
FUNCTIONS[np.arange] = lambda *a, **k: _const_or_tensor(arange(*a, **k))


def _like_array(copy_default: bool | None) -> Callable:
    def impl(obj: Any, dtype: Any = None, *args: Any, copy: Any = copy_default,
             ndmin: int = 0, **kw: Any) -> Any:
        from ..numpy import _build_array  # noqa: PLC0415

        out = _build_array(obj, dtype=dtype, copy=copy)
        nd = np.ndim(value(out))
        if ndmin > nd:
            out = S.reshape_prim(out, shape=(1,) * (ndmin - nd) + np.shape(value(out)))
        return _const_or_tensor(out)

    return impl


FUNCTIONS[np.array] = _like_array(True)
FUNCTIONS[np.asarray] = _like_array(None)
