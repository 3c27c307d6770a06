"""Helpers every rule shares: unbroadcast, dtype fitting, primitive registration.

An op is stated in one place: its ``defprim`` (or ``register``) call says, besides its rules
and NumPy names, what the rest of the package derives from it -- ``method=`` (bound as a
Tensor method by ops/methods.py), ``nonlinear=`` (the points check, check/points.py),
``kinked=`` (the gradcheck sweep at random points, tests/test_check_optable.py); the
coverage page (docs/coverage.md) shows all three.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np

from ..core import arrays as _arrays

from ..core import hooks
from ..core import primitive as P
from ..core.primitive import Primitive
from ..core.registry import PRIMITIVES
from ..core.registry import register as _register


class _Lazy:
    """The sibling op modules (they import this one), bound once on first use: an import
    statement inside a hot function costs ~0.6 us per call."""

    E: Any = None
    R: Any = None
    S: Any = None

    @classmethod
    def bind(cls) -> type:
        from . import elementwise, reduce, shape

        cls.E, cls.R, cls.S = elementwise, reduce, shape
        return cls


def _mods() -> type:
    return _Lazy if _Lazy.E is not None else _Lazy.bind()


def shape_of(x: Any) -> tuple[int, ...]:
    s = getattr(x, "shape", None)
    return () if s is None else tuple(s)


def is_complex(x: Any) -> bool:
    d = getattr(x, "dtype", None)
    if d is None:
        return isinstance(x, complex)
    return d.kind == "c"


# Tensor methods that are NumPy functions: t.NAME(*a, **k) is NAMES[NAME](t, *a, **k)
# (ops/methods.py binds them; the names come from method= on defprim and register)
METHODS: list[str] = []


def _names(names: str | list[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _add_methods(method: bool | str | list[str], names: str | list[str] | None) -> tuple:
    """The Tensor method names ``method=`` asks for: True, every NumPy name of the call; a
    name or a list, those (each one of NumPy's names, so t.NAME means np.NAME)."""
    if not method:
        return ()
    given = [] if names is None else _names(names)
    ms = given if method is True else _names(method)  # type: ignore[arg-type]
    bad = [m for m in ms if m not in given]
    if bad or not ms:
        raise ValueError(f"method={method!r}: a method must be one of the NumPy names {given}")
    METHODS.extend(m for m in ms if m not in METHODS)
    return tuple(ms)


def register(names: str | list[str], impl: Callable, *, method: bool | str | list[str] = False
             ) -> Callable:
    """``core.registry.register`` (route ``np.<name>`` to ``impl``), and ``method=`` as
    in :func:`defprim`, for an op built from primitives (np.clip, np.ptp ...)."""
    _add_methods(method, names)  # (checks the names first)
    _register(names, impl)
    return impl


def set_rules(p: Primitive, vjps: Any = (), jvps: Any = ()) -> None:
    """Give ``p`` its rules by argument position (None: that argument has no rule)."""
    for i, r in enumerate(vjps or ()):
        if r is not None:
            p.vjps[i] = r
    for i, r in enumerate(jvps or ()):
        if r is not None:
            p.jvps[i] = r


def defprim(
    fwd: Callable,
    name: str,
    *,
    np_names: str | list[str] | None = None,
    vjp: tuple | None = None,
    jvp: tuple | None = None,
    jvp_all: Callable | None = None,
    linear: bool = False,
    method: bool | str | list[str] = False,
    nonlinear: bool | tuple[int, ...] = False,
    kinked: bool = False,
    **options: Any,
) -> Primitive:
    """Create a library primitive, give it rules, and route NumPy names to it.

    ``linear=True``: the primitive is linear in its positional arguments jointly
    (add, reshape, sum, concatenate ...), so its JVP is the primitive itself applied
    to the tangents (zeros where an argument has none); no JVP rule needs writing.

    What the rest of the package derives from the op (each is an attribute of the
    primitive, and docs/coverage.md shows it):

    * ``method``: bind NumPy names as Tensor methods (``t.exp()`` is ``np.exp(t)``): True,
      every name in ``np_names``; a name or list of them, those (``absolute``: ``"abs"``).
      The primitive's ``methods`` is the tuple of names.
    * ``nonlinear``: the op's value is a nonlinear function of its inputs whose derivative
      must be evaluated where the op is (check/points.py watches these: a derivative that
      evaluates sin at another point than f does has taken it at the wrong point).  A
      tuple of argument positions: only those arguments are the point (``power``: the base,
      which x**n and its derivative n x**(n-1) share; the exponent changes).
    * ``kinked``: the op is not differentiable at some points of its domain (the kinks of
      |x|, max and clip, the jumps of remainder), where its rules pick a convention; the
      gradcheck sweep also checks it at random points (tests/test_check_optable.py).
    """
    options.setdefault("broadcast_tangents", True)  # library rules may return broadcastable tangents
    p = Primitive(fwd, name, **options)
    p.methods = _add_methods(method, np_names)
    p.nonlinear = tuple(nonlinear) if isinstance(nonlinear, (tuple, list)) else bool(nonlinear)
    p.kinked = bool(kinked)
    set_rules(p, vjp, jvp)
    if linear:
        def linear_jvp(ts: list, ans: Any, *args: Any, **kw: Any) -> Any:
            E = _mods().E
            return p(*[E.zeros_like(a) if t is None else t for t, a in zip(ts, args)], **kw)

        p.jvp_all = linear_jvp
    if jvp_all is not None:
        p.jvp_all = jvp_all
    p.__module__ = sys._getframe(1).f_globals.get("__name__")  # the op module defining it
    PRIMITIVES[name] = p
    if np_names is not None:
        _register(np_names, p)
    return p


def unbroadcast(x: Any, g: Any) -> Any:
    """Sum ``g`` over the axes along which ``x`` was broadcast, giving ``x``'s shape."""
    shape = getattr(x, "shape", ())
    gshape = g.shape
    if gshape == shape:
        return g
    shape = tuple(shape)
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    if g.__class__ is np.ndarray or isinstance(g, np.generic):
        # a plain cotangent is a constant (only Tensors are traced): NumPy directly
        if axes:
            g = np.add.reduce(g, axis=axes)
        return g.reshape(shape) if g.shape != shape else g
    m = _mods()
    if axes:
        g = m.R.sum(g, axis=axes)
    if g.shape != shape:
        g = m.S.reshape(g, shape)
    return g


def broadcast_view(a: Any, shape: tuple) -> Any:
    """``np.broadcast_to(a, shape)``: the same read-only view (zero strides on the broadcast
    axes), built directly for a C-contiguous ndarray (np.broadcast_to's Python layer costs
    about 3 us, a large part of a small reduction's backward); anything else, and any shape
    that does not broadcast, goes to np.broadcast_to itself."""
    if a.__class__ is not np.ndarray or not a.flags.c_contiguous or not a.size:
        return np.broadcast_to(a, shape)
    nd = a.ndim
    lead = len(shape) - nd
    if lead < 0:
        return np.broadcast_to(a, shape)
    if nd == 0:
        if min(shape, default=0) < 0:
            return np.broadcast_to(a, shape)
        strides: Any = (0,) * lead
    else:
        ashape, astr = a.shape, a.strides
        strides = [0] * lead
        for j in range(nd):
            m, n = ashape[j], shape[lead + j]
            if m == n:
                strides.append(astr[j])
            elif m == 1 and n > 0:
                strides.append(0)
            else:
                return np.broadcast_to(a, shape)  # (NumPy's own error)
        strides = tuple(strides)
    v = np.ndarray(shape, a.dtype, a, 0, strides)
    v.flags.writeable = False
    return v


def cast_like(g: Any, dtype: np.dtype) -> Any:
    """Cast a cotangent or tangent to ``dtype`` (a real input takes the real part)."""
    E = _mods().E
    if g.dtype.kind == "c" and dtype.kind != "c":
        g = E.real(g)
    if g.dtype != dtype:
        g = E.astype(g, dtype=dtype)
    return g


def fit_tangent(t: Any, out: Any) -> Any:
    """Give a JVP rule's result the output's shape and dtype."""
    if not hasattr(t, "shape"):
        t = _arrays.asarray(t)
    if t.shape != out.shape:
        t = _mods().S.broadcast_to(t, out.shape)
    if t.dtype != out.dtype:
        t = cast_like(t, out.dtype)
    return t


hooks.fit_tangent = fit_tangent  # the core calls them (core/hooks.py)
hooks.cast_like = cast_like


def value(x: Any) -> Any:
    """The plain value of a Tensor or array-like (for constants inside rules)."""
    return x._value if isinstance(x, P.Tensor) else x


class LazyRules(dict):
    """The rules of a variadic primitive (concatenate, einsum): rule i is made on first use."""

    def __init__(self, make: Callable[[int], Callable]) -> None:
        super().__init__()
        self.make = make

    def get(self, i: int, default: Any = None) -> Any:  # type: ignore[override]
        if i not in self:
            self[i] = self.make(i)
        return self[i]


# ---------------------------------------------------------------------------------
# arrays of a registered type (core.arrays: the compiler's traced arrays).  NumPy converts
# one with np.asarray when it is written into a plain array (out[i] = t), used to index
# one (a[t]) or handed to a routine outside its dispatch (np.full's fill, np.r_,
# as_strided, np.ascontiguousarray), which a traced array refuses.  The helpers below do
# what plain NumPy does for ndarrays (the same call, nothing added) and allocate from the
# data otherwise (``np.zeros_like(t, shape=...)`` goes through NEP 18: a traced array).


def registered(x: Any) -> bool:
    """Is ``x`` an array of a registered type other than ndarray?"""
    c = x.__class__
    return c is not np.ndarray and c in _arrays.CLASSES


def registered_in(obj: Any) -> Any:
    """The first array of a registered type in ``obj`` (tuples and lists walked), or None."""
    c = obj.__class__
    if c is tuple or c is list:
        for x in obj:
            r = registered_in(x)
            if r is not None:
                return r
        return None
    return obj if c is not np.ndarray and c in _arrays.CLASSES else None


def _like(arrays: tuple) -> Any:
    for a in arrays:
        c = a.__class__
        if c is not np.ndarray and c in _arrays.CLASSES:
            return a
    return None


def empty_for(shape: Any, dtype: Any, *data: Any) -> Any:
    """``np.empty(shape, dtype)``, of the type of the first registered array in ``data``."""
    t = _like(data)
    if t is None:
        return np.empty(shape, dtype)
    return np.empty_like(t, shape=shape, dtype=np.dtype(dtype), order="C")


def zeros_for(shape: Any, dtype: Any, *data: Any) -> Any:
    """``np.zeros(shape, dtype)``, of the type of the first registered array in ``data``."""
    t = _like(data)
    if t is None:
        return np.zeros(shape, dtype)
    return np.zeros_like(t, shape=shape, dtype=np.dtype(dtype), order="C")


def full_for(shape: Any, fill: Any, dtype: Any, *data: Any, order: str = "C") -> Any:
    """``np.full(shape, fill, dtype, order)``, of the type of the first registered array in
    ``data`` (or ``fill``)."""
    t = _like(data + (fill,))
    if t is None:
        return np.full(shape, fill, dtype, order)
    dt = np.result_type(fill) if dtype is None else np.dtype(dtype)
    return np.full_like(t, fill, shape=shape, dtype=dt, order=order)


def empty_as(x: Any, dtype: Any) -> Any:
    """``np.empty(x.shape, dtype)``; for a registered ``x``, ``np.empty_like(x)``: its shape
    is then ``x``'s in the compiled code too (a mask's count can change between calls),
    never the trace's."""
    if registered(x):
        return np.empty_like(x, dtype=np.dtype(dtype), order="C")
    return np.empty(x.shape, dtype)


def full_as(x: Any, fill: Any, dtype: Any) -> Any:
    """``np.full(x.shape, fill, dtype)``; ``np.full_like`` for a registered ``x`` (its shape
    follows ``x``'s in the compiled code, as in :func:`empty_as`)."""
    if registered(x):
        return np.full_like(x, fill, dtype=np.dtype(dtype), order="C")
    return np.full(x.shape, fill, dtype)


def lift(x: Any, like: Any, copy: bool = False) -> Any:
    """A plain array ``x`` as an array of ``like``'s registered type (NEP 35 ``like=``), to
    read; ``copy=True`` for one to write into (the compiler keeps constants read-only)."""
    return np.array(x, like=like) if copy else np.asarray(x, like=like)


def contiguous(x: Any) -> Any:
    """``np.ascontiguousarray(x)``; a registered array stays one (copied when it is not
    C-contiguous)."""
    c = x.__class__
    if c is np.ndarray or c not in _arrays.CLASSES:
        return np.ascontiguousarray(x)
    if not hasattr(x, "flags"):  # a lazy array (Dask) has no memory layout to fix
        return x
    if x.ndim == 0:
        return x.reshape(1)
    return x if x.flags.c_contiguous else x.copy(order="C")
