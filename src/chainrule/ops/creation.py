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

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import arrays as _arrays
from numpy.lib.array_utils import normalize_axis_index

from ..core import primitive as P
from ..core.registry import FUNCTIONS, register
from . import shape as S
from .elementwise import astype
from .util import defprim, full_for, registered, unbroadcast, value


def _const(v: Any) -> Any:
    return P.Tensor._make(_arrays.asarray(v), None, None)


def _traced(x: Any) -> bool:
    return isinstance(x, P.Tensor) and (x._node is not None or x._tangents is not None)


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

    if isinstance(fill_value, (list, tuple)):
        fill_value = build_array(fill_value, copy=False)
    shape = _plain(shape)
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if isinstance(fill_value, P.Tensor):
        x = fill_value
        if dtype is not None and x.dtype != np.dtype(dtype):
            from .elementwise import astype

            x = astype(x, dtype=np.dtype(dtype))
        if x.shape != shape:
            x = S.broadcast_to_prim(x, shape=shape)
        return S.copy_prim(x)
    out = full_for(shape, fill_value, dtype, order=order)  # a traced fill: traced
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
        from .elementwise import astype

        out = astype(out, dtype=base.dtype)
    return out


register("arange", arange)
FUNCTIONS[np.arange] = lambda *a, **k: _const_or_tensor(arange(*a, **k))


def _like_array(copy_default: bool | None) -> Callable:
    def impl(obj: Any, dtype: Any = None, *args: Any, copy: Any = copy_default,
             ndmin: int = 0, **kw: Any) -> Any:
        out = build_array(obj, dtype=dtype, copy=copy)
        nd = np.ndim(value(out))
        if ndmin > nd:
            out = S.reshape_prim(out, shape=(1,) * (ndmin - nd) + np.shape(value(out)))
        return _const_or_tensor(out)

    return impl


FUNCTIONS[np.array] = _like_array(True)
FUNCTIONS[np.asarray] = _like_array(None)


# ---------------------------------------------------------------------------------
# linspace / logspace: differentiable in start and stop (and logspace in base)


def _linspace_fwd(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
                  axis: int = 0) -> Any:
    if axis == 0:  # (not passed when default: Dask's linspace takes no axis)
        return np.linspace(start, stop, num, endpoint=endpoint)
    return np.linspace(start, stop, num, endpoint=endpoint, axis=axis)


def _stop_weights(g: Any, num: int, endpoint: bool, axis: int) -> tuple[np.ndarray, int]:
    """k / div along ``axis``: the weight of stop in sample k (start's is 1 - it)."""
    ax = normalize_axis_index(axis, g.ndim)
    w = np.linspace(0.0, 1.0, num, endpoint=endpoint)
    dt = g.dtype
    if dt.kind in "fc":
        w = w.astype(np.finfo(dt).dtype)
    shape = [1] * g.ndim
    shape[ax] = num
    return w.reshape(shape), ax


def _linspace_vjp(which: int) -> Callable:
    def rule(g: Any, ans: Any, start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             axis: int = 0) -> Any:
        from . import reduce as R

        w, ax = _stop_weights(g, num, endpoint, axis)
        part = R.sum(g * (w if which else 1 - w), axis=ax)
        return unbroadcast(start if which == 0 else stop, part)

    return rule


# linear in (start, stop) jointly: samples are start * (1 - k/div) + stop * k/div
linspace_prim = defprim(_linspace_fwd, "linspace", saves=(), saves_ans=False, linear=True,
                        vjp=(_linspace_vjp(0), _linspace_vjp(1)))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0, *,
             device: Any = None) -> Any:
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    if dtype is not None and np.dtype(dtype).kind not in "fc":
        # NumPy floors, then casts: piecewise constant, so a constant
        out: Any = np.linspace(value(start), value(stop), num, endpoint=endpoint, dtype=dtype,
                               axis=axis)
    else:
        out = linspace_prim(start, stop, num=num, endpoint=bool(endpoint), axis=axis)
        if dtype is not None and out.dtype != np.dtype(dtype):
            out = astype(out, dtype=np.dtype(dtype))
    if not retstep:
        return out
    div = num - 1 if endpoint else num
    delta = stop - start
    return out, (delta / div if div > 0 else delta * np.nan)


register("linspace", linspace)


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> Any:
    """``base ** linspace(start, stop)``, as NumPy builds it (base broadcast along axis)."""
    from .elementwise import power

    nd = len(np.broadcast_shapes(np.shape(value(start)), np.shape(value(stop)),
                                 np.shape(value(base))))

    def lift(a: Any) -> Any:
        s = np.shape(value(a))
        return S.reshape(a, (1,) * (nd - len(s)) + s) if len(s) < nd else a

    y = linspace(lift(start), lift(stop), num=num, endpoint=endpoint, axis=axis)
    out = power(S.expand_dims(lift(base), axis), y)
    if dtype is not None and out.dtype != np.dtype(dtype):
        out = astype(out, dtype=np.dtype(dtype))
    return out


register("logspace", logspace)


def build_array(obj: Any, dtype: Any = None, copy: bool | None = True, **kw: Any) -> Any:
    """np.array that builds from Tensors (nested lists of them stack)."""

    def has_tensor(x: Any) -> bool:
        if isinstance(x, P.Tensor) or registered(x):  # (np.array would convert a traced one)
            return True
        if isinstance(x, (list, tuple)):
            return any(has_tensor(y) for y in x)
        return False

    if not has_tensor(obj):
        return np.array(obj, dtype=dtype, copy=copy, **kw)

    def build(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return S.stack([build(y) for y in x])
        return x if isinstance(x, P.Tensor) else _arrays.asarray(x)

    out = build(obj)
    if obj is out and copy:
        out = S.copy(out)
    if dtype is not None:
        out = astype(out, dtype=dtype)
    return out
