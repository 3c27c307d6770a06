"""PyTorch's tensor factories: ``cr.zeros(2, 3)``, ``cr.randn(4, seed=0)``, ``cr.cat([t, u])``.

Every function returns a chainrule Tensor.  Shapes are given as PyTorch takes them, as
separate ints or one tuple/list (``cr.zeros(2, 3)`` is ``cr.zeros((2, 3))``); each size must
be a non-negative int.  ``dtype=`` takes anything ``np.dtype`` does; ``requires_grad=True``
makes the result a leaf that requires grad (floating-point and complex dtypes only);
``device=`` accepts only None or ``"cpu"``.

**Default dtype: float64**, as ``cr.tensor`` and NumPy (``cr.tensor([1.0])`` is float64),
not PyTorch's float32.  The nn layers are float32 (PyTorch's default) and cast a constant
float64 input to their own dtype, so ``model(cr.randn(8, 4))`` works either way; pass
``dtype=np.float32`` for a float32 tensor.  Integer results (``arange`` with int
arguments, ``randint``, ``full`` with an int fill value) are int64; a bool fill value
gives bool; a complex one complex128.

**Random numbers** (``randn``, ``rand``, ``randint``, ``randn_like``, ``rand_like``) come
from a NumPy ``np.random.Generator``: ``generator=`` one you pass (it advances), or
``seed=`` an int, which draws from a fresh ``np.random.default_rng(seed)`` (PCG64), so the
same seed gives the same numbers on every call; with neither, the generator that
``cr.manual_seed`` seeds (the one nn initialisers and dropout use).  ``randn`` is
``Generator.standard_normal(shape)``, ``rand`` is ``Generator.random(shape)`` (uniform on
[0, 1)), both drawn in float64 and then cast to ``dtype``; ``randint(low, high, size)`` is
``Generator.integers(low, high, size, dtype=np.int64)`` (``high`` excluded), cast to
``dtype``.  The numbers differ from PyTorch's for the same seed.

``cat``, ``stack`` and ``where`` are differentiable: they are ``np.concatenate``,
``np.stack`` and ``np.where`` on the Tensors (NumPy's type promotion; ``dim=`` or NumPy's
``axis=``).  The other factories make constants.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .core.tensor import Tensor
from .nn import random as _random

__all__ = [
    "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like",
    "randn", "rand", "randint", "cat", "stack", "where",
]

DEFAULT_DTYPE = np.dtype(np.float64)


# --- argument checks --------------------------------------------------------------------
def _is_int(d: Any) -> bool:
    if isinstance(d, (bool, np.bool_)):
        return False
    if isinstance(d, (numbers.Integral, np.integer)):
        return True
    if isinstance(d, Tensor) and d.ndim == 0 and d.dtype.kind in "iu":
        return True
    return False


def _shape(who: str, size: tuple, kw_size: Any = None) -> tuple[int, ...]:
    """The shape from ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, ``f()`` or ``f(size=...)``."""
    if kw_size is not None:
        if size:
            raise TypeError(f"cr.{who}: the shape was given both as arguments {size} and as "
                            f"size={kw_size!r}; give it once")
        size = (kw_size,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    elif len(size) == 1 and isinstance(size[0], np.ndarray) and size[0].ndim == 1:
        size = tuple(size[0].tolist())
    for d in size:
        if not _is_int(d):
            raise TypeError(
                f"cr.{who}: sizes must be ints, got {type(d).__name__} {d!r} in {size!r}; "
                f"write cr.{who}(2, 3) or cr.{who}((2, 3))")
    shape = tuple(int(d) for d in size)
    neg = [d for d in shape if d < 0]
    if neg:
        raise ValueError(f"cr.{who}: sizes must be non-negative, got {shape}")
    return shape


def _dtype(who: str, dtype: Any, default: Any = DEFAULT_DTYPE) -> np.dtype:
    if dtype is None:
        return np.dtype(default)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"cr.{who}: dtype={dtype!r} is not a NumPy dtype; write np.float32, np.float64, "
            f"np.int64, 'float32' ... (a torch dtype is not accepted)") from None
    if dt.kind not in "biufc":
        raise TypeError(f"cr.{who}: a Tensor holds numbers; dtype={dt} is not a numeric dtype")
    return dt


def _device(who: str, device: Any) -> None:
    if device is not None and str(device) != "cpu":
        raise ValueError(f"cr.{who}: chainrule runs on NumPy (the CPU); device={device!r} is "
                         f"not available (None or 'cpu' only)")


def _finish(who: str, value: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(value, None, None)
    if requires_grad:
        if value.dtype.kind not in "fc":
            raise TypeError(
                f"cr.{who}: only floating-point and complex tensors can require gradients; "
                f"this one has dtype {value.dtype} (pass dtype=np.float64)")
        t.requires_grad_(True)
    return t


def _number(who: str, name: str, x: Any) -> Any:
    if isinstance(x, Tensor):
        if x.requires_grad:
            raise TypeError(f"cr.{who}: {name} must be a number, not a Tensor that requires "
                            f"grad; pass t.item() or t.detach()")
        if x.size != 1:
            raise TypeError(f"cr.{who}: {name} must be a number, got a Tensor of shape "
                            f"{x.shape}")
        x = x.item()
    elif isinstance(x, np.ndarray):
        if x.size != 1:
            raise TypeError(f"cr.{who}: {name} must be a number, got an array of shape "
                            f"{x.shape}")
        x = x.item()
    if not isinstance(x, (numbers.Number, np.generic)):
        raise TypeError(f"cr.{who}: {name} must be a number, got {type(x).__name__}")
    return x


def _like_source(who: str, input: Any) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(input, Tensor):
        return input.shape, input.dtype
    if isinstance(input, np.ndarray):
        return input.shape, input.dtype
    raise TypeError(f"cr.{who}: input must be a Tensor (or an ndarray), got "
                    f"{type(input).__name__}")


def _generator(who: str, seed: Any, generator: Any) -> np.random.Generator | None:
    if seed is not None and generator is not None:
        raise TypeError(f"cr.{who}: give seed= or generator=, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(
                f"cr.{who}: generator= must be a np.random.Generator (np.random.default_rng"
                f"(0)), got {type(generator).__name__}")
        return generator
    if seed is not None:
        if not _is_int(seed) or int(seed) < 0:
            raise TypeError(f"cr.{who}: seed= must be a non-negative int, got {seed!r}")
        return np.random.default_rng(int(seed))
    return None  # the default generator (cr.manual_seed), looked up at draw time


# --- constants --------------------------------------------------------------------------
def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None,
          out: Any = None, **kw: Any) -> Tensor:
    """``torch.zeros``: a Tensor of zeros, float64 unless ``dtype=`` says otherwise."""
    return _filled("zeros", np.zeros, size, dtype, requires_grad, device, out, kw)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None,
         out: Any = None, **kw: Any) -> Tensor:
    """``torch.ones``: a Tensor of ones, float64 unless ``dtype=`` says otherwise."""
    return _filled("ones", np.ones, size, dtype, requires_grad, device, out, kw)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None,
          out: Any = None, **kw: Any) -> Tensor:
    """``torch.empty``: a Tensor whose values are whatever the memory held (``np.empty``)."""
    return _filled("empty", np.empty, size, dtype, requires_grad, device, out, kw)


def _filled(who: str, fn: Any, size: tuple, dtype: Any, requires_grad: bool, device: Any,
            out: Any, kw: dict) -> Tensor:
    _no_extra(who, out, kw)
    shape = _shape(who, size, kw.get("size"))
    _device(who, device)
    return _finish(who, fn(shape, dtype=_dtype(who, dtype)), requires_grad)


def _no_extra(who: str, out: Any, kw: dict) -> None:
    if out is not None:
        raise TypeError(f"cr.{who}: out= is not supported; assign the result instead")
    bad = [k for k in kw if k != "size"]
    if bad:
        raise TypeError(f"cr.{who}() got an unexpected keyword argument {bad[0]!r}")


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """``torch.full(size, fill_value)``: the dtype follows ``fill_value`` unless given (bool
    gives bool, an int int64, a float float64, a complex complex128)."""
    shape = _shape("full", (size,) if not isinstance(size, (tuple, list)) else tuple(size))
    v = _number("full", "fill_value", fill_value)
    _device("full", device)
    if dtype is None:
        if isinstance(v, (bool, np.bool_)):
            default: Any = np.bool_
        elif isinstance(v, (numbers.Integral, np.integer)):
            default = np.int64
        elif isinstance(v, (numbers.Real, np.floating)):
            default = DEFAULT_DTYPE
        else:
            default = np.complex128
        dt = np.dtype(default)
    else:
        dt = _dtype("full", dtype)
    return _finish("full", np.full(shape, v, dtype=dt), requires_grad)


def arange(start: Any = 0, end: Any = None, step: Any = 1, *, dtype: Any = None,
           requires_grad: bool = False, device: Any = None) -> Tensor:
    """``torch.arange``: ``arange(end)``, ``arange(start, end)``, ``arange(start, end,
    step)``, end excluded.  int64 when all arguments are ints, float64 otherwise (or
    ``dtype``).  A zero step, or one whose sign points away from ``end``, raises."""
    if end is None:
        start, end = 0, start
    start = _number("arange", "start", start)
    end = _number("arange", "end", end)
    step = _number("arange", "step", step)
    for name, x in (("start", start), ("end", end), ("step", step)):
        if isinstance(x, (complex, np.complexfloating)):
            raise TypeError(f"cr.arange: {name} must be real, got {x!r}")
        if not np.isfinite(x):
            raise ValueError(f"cr.arange: {name} must be finite, got {x!r}")
    if step == 0:
        raise ValueError("cr.arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"cr.arange: upper bound and lower bound inconsistent with step "
                         f"sign (start={start}, end={end}, step={step})")
    _device("arange", device)
    ints = all(_is_int(x) for x in (start, end, step))
    dt = _dtype("arange", dtype, np.int64 if ints else DEFAULT_DTYPE)
    if ints:
        value = np.arange(start, end, step, dtype=np.int64).astype(dt, copy=False)
    else:
        value = np.arange(float(start), float(end), float(step),
                          dtype=np.float64).astype(dt, copy=False)
    return _finish("arange", value, requires_grad)


def linspace(start: Any, end: Any, steps: Any, *, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """``torch.linspace(start, end, steps)``: ``steps`` evenly spaced values from ``start`` to
    ``end`` inclusive (``np.linspace``; float64 unless ``dtype``)."""
    start = _number("linspace", "start", start)
    end = _number("linspace", "end", end)
    if not _is_int(steps):
        raise TypeError(f"cr.linspace: steps must be an int, got {type(steps).__name__} "
                        f"{steps!r}")
    if int(steps) < 0:
        raise ValueError(f"cr.linspace: number of steps must be non-negative, got {steps}")
    _device("linspace", device)
    cplx = isinstance(start, (complex, np.complexfloating)) or isinstance(
        end, (complex, np.complexfloating))
    dt = _dtype("linspace", dtype, np.complex128 if cplx else DEFAULT_DTYPE)
    value = np.linspace(start, end, int(steps),
                        dtype=np.complex128 if cplx else np.float64)
    if dt.kind in "iu":
        value = np.trunc(value.real)
    return _finish("linspace", value.astype(dt, copy=False), requires_grad)


def eye(n: Any, m: Any = None, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """``torch.eye(n, m=None)``: an n x m (n x n) identity matrix, float64 unless ``dtype``."""
    rows, cols = _shape("eye", (n, n if m is None else m))
    _device("eye", device)
    return _finish("eye", np.eye(rows, cols, dtype=_dtype("eye", dtype)), requires_grad)


# --- *_like -----------------------------------------------------------------------------
def zeros_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
               device: Any = None) -> Tensor:
    """Zeros of ``input``'s shape and dtype (or ``dtype``); a constant."""
    shape, dt0 = _like_source("zeros_like", input)
    _device("zeros_like", device)
    return _finish("zeros_like", np.zeros(shape, _dtype("zeros_like", dtype, dt0)),
                   requires_grad)


def ones_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """Ones of ``input``'s shape and dtype (or ``dtype``); a constant."""
    shape, dt0 = _like_source("ones_like", input)
    _device("ones_like", device)
    return _finish("ones_like", np.ones(shape, _dtype("ones_like", dtype, dt0)),
                   requires_grad)


def empty_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
               device: Any = None) -> Tensor:
    """An uninitialised Tensor of ``input``'s shape and dtype (or ``dtype``)."""
    shape, dt0 = _like_source("empty_like", input)
    _device("empty_like", device)
    return _finish("empty_like", np.empty(shape, _dtype("empty_like", dtype, dt0)),
                   requires_grad)


def full_like(input: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False,
              device: Any = None) -> Tensor:
    """``fill_value`` in ``input``'s shape and dtype (or ``dtype``), as ``torch.full_like``."""
    shape, dt0 = _like_source("full_like", input)
    v = _number("full_like", "fill_value", fill_value)
    _device("full_like", device)
    return _finish("full_like", np.full(shape, v, dtype=_dtype("full_like", dtype, dt0)),
                   requires_grad)


def randn_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
               seed: Any = None, generator: Any = None, device: Any = None) -> Tensor:
    """``randn`` in ``input``'s shape and dtype (or ``dtype``; floating-point only)."""
    shape, dt0 = _like_source("randn_like", input)
    return _random_float("randn_like", "standard_normal", shape,
                         _float_like("randn_like", dtype, dt0), requires_grad, seed,
                         generator, device)


def rand_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
              seed: Any = None, generator: Any = None, device: Any = None) -> Tensor:
    """``rand`` in ``input``'s shape and dtype (or ``dtype``; floating-point only)."""
    shape, dt0 = _like_source("rand_like", input)
    return _random_float("rand_like", "random", shape, _float_like("rand_like", dtype, dt0),
                         requires_grad, seed, generator, device)


def _float_like(who: str, dtype: Any, dt0: np.dtype) -> np.dtype:
    dt = _dtype(who, dtype, dt0)
    if dt.kind not in "fc":
        raise TypeError(f"cr.{who}: random values need a floating-point dtype, got {dt} "
                        f"(pass dtype=np.float64)")
    return dt


# --- random -----------------------------------------------------------------------------
def randn(*size: Any, seed: Any = None, generator: Any = None, dtype: Any = None,
          requires_grad: bool = False, device: Any = None, **kw: Any) -> Tensor:
    """``torch.randn``: standard normal values, ``Generator.standard_normal`` (see the
    module's docstring for the generator and the dtype)."""
    _no_extra("randn", None, kw)
    shape = _shape("randn", size, kw.get("size"))
    return _random_float("randn", "standard_normal", shape, _float_like("randn", dtype,
                         DEFAULT_DTYPE), requires_grad, seed, generator, device)


def rand(*size: Any, seed: Any = None, generator: Any = None, dtype: Any = None,
         requires_grad: bool = False, device: Any = None, **kw: Any) -> Tensor:
    """``torch.rand``: uniform values on [0, 1), ``Generator.random``."""
    _no_extra("rand", None, kw)
    shape = _shape("rand", size, kw.get("size"))
    return _random_float("rand", "random", shape, _float_like("rand", dtype, DEFAULT_DTYPE),
                         requires_grad, seed, generator, device)


def _random_float(who: str, method: str, shape: tuple, dt: np.dtype, requires_grad: bool,
                  seed: Any, generator: Any, device: Any) -> Tensor:
    _device(who, device)
    gen = _generator(who, seed, generator)
    v = np.asarray(_random.draw(gen, method, shape))
    if dt.kind == "c":
        v = v.astype(dt)  # real parts drawn, imaginary parts zero
    return _finish(who, v.astype(dt, copy=False), requires_grad)


def randint(*args: Any, size: Any = None, seed: Any = None, generator: Any = None,
            dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """``torch.randint(high, size)`` / ``torch.randint(low, high, size)``: ints in
    [low, high) (``low`` 0 by default), ``Generator.integers(..., dtype=np.int64)``, int64
    unless ``dtype``."""
    if size is not None:
        args = args + (size,)
    if len(args) == 2:
        low, high, size = 0, args[0], args[1]
    elif len(args) == 3:
        low, high, size = args
    else:
        raise TypeError("cr.randint: expected randint(high, size) or randint(low, high, size)"
                        f" with size a tuple, got {len(args)} positional arguments")
    for name, x in (("low", low), ("high", high)):
        if not _is_int(x):
            raise TypeError(f"cr.randint: {name} must be an int, got {type(x).__name__} {x!r}")
    low, high = int(low), int(high)
    if low >= high:
        raise ValueError(f"cr.randint: low must be less than high, got low={low} >= "
                         f"high={high}")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"cr.randint: size must be a tuple of ints, got "
                        f"{type(size).__name__} {size!r}")
    shape = _shape("randint", tuple(size))
    dt = _dtype("randint", dtype, np.int64)
    _device("randint", device)
    gen = _generator("randint", seed, generator)
    v = np.asarray(_random.draw(gen, "integers", low, high, shape, np.int64))
    return _finish("randint", v.astype(dt, copy=False), requires_grad)


# --- differentiable joins ---------------------------------------------------------------
def _axis(who: str, dim: Any, axis: Any) -> int:
    if axis is not None:
        if dim is not None and dim != axis:
            raise TypeError(f"cr.{who}: give dim= or axis=, not both")
        dim = axis
    if dim is None:
        dim = 0
    if not _is_int(dim):
        raise TypeError(f"cr.{who}: dim must be an int, got {type(dim).__name__} {dim!r}")
    return int(dim)


def _seq(who: str, tensors: Any) -> list:
    if isinstance(tensors, (Tensor, np.ndarray)) or not isinstance(tensors, Sequence):
        if isinstance(tensors, (Tensor, np.ndarray)) or not hasattr(tensors, "__iter__"):
            raise TypeError(
                f"cr.{who}: expected a sequence (list or tuple) of Tensors, got "
                f"{type(tensors).__name__}; write cr.{who}([t, u])")
        tensors = list(tensors)
    if len(tensors) == 0:
        raise ValueError(f"cr.{who}: expected a non-empty list of Tensors")
    return list(tensors)


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x), None, None)


def cat(tensors: Sequence[Any], dim: Any = None, *, axis: Any = None) -> Tensor:
    """``torch.cat(tensors, dim=0)``: join along an existing dimension (``np.concatenate``,
    differentiable in every input)."""
    ts = _seq("cat", tensors)
    d = _axis("cat", dim, axis)
    nd = {np.ndim(t) for t in ts}
    if 0 in nd:
        raise ValueError("cr.cat: zero-dimensional tensors cannot be concatenated; use "
                         "cr.stack")
    if len(nd) > 1:
        shapes = [tuple(np.shape(t)) for t in ts]
        raise ValueError(f"cr.cat: tensors must have the same number of dimensions, got "
                         f"shapes {shapes}")
    n = nd.pop()
    if not -n <= d < n:
        raise IndexError(f"cr.cat: dim {d} is out of range for {n}-dimensional tensors "
                         f"(expected in [{-n}, {n - 1}])")
    return _tensor(np.concatenate(ts, axis=d))


def stack(tensors: Sequence[Any], dim: Any = None, *, axis: Any = None) -> Tensor:
    """``torch.stack(tensors, dim=0)``: join along a new dimension (``np.stack``,
    differentiable in every input); all shapes must be equal."""
    ts = _seq("stack", tensors)
    d = _axis("stack", dim, axis)
    shapes = [tuple(np.shape(t)) for t in ts]
    if len(set(shapes)) > 1:
        raise ValueError(f"cr.stack: expects each tensor to be of equal size, got shapes "
                         f"{shapes}")
    n = len(shapes[0]) + 1
    if not -n <= d < n:
        raise IndexError(f"cr.stack: dim {d} is out of range (expected in [{-n}, {n - 1}] "
                         f"for tensors of shape {shapes[0]})")
    return _tensor(np.stack(ts, axis=d))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``torch.where(condition, input, other)``: ``input`` where ``condition`` holds, else
    ``other`` (``np.where``; differentiable in ``input`` and ``other``, which broadcast and
    may be numbers).  The condition must be boolean, as in PyTorch.  ``where(condition)``
    alone is ``nonzero(as_tuple=True)``: a tuple of int64 index Tensors."""
    cv = condition._value if isinstance(condition, Tensor) else np.asarray(condition)
    if cv.dtype != np.bool_:
        raise TypeError(f"cr.where: expected condition to be a boolean tensor, but got dtype "
                        f"{cv.dtype}; write cr.where(c != 0, ...) or c.astype(bool)")
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64, copy=False), None, None)
                     for i in np.nonzero(cv))
    if input is None or other is None:
        raise TypeError("cr.where: give both input and other, or neither")
    return _tensor(np.where(cv, input, other))
