"""``cr.scipy.signal``: convolution and correlation (scipy.signal), differentiable.

    from chainrule.scipy import signal
    y = signal.convolve(x, k, mode="same")

One primitive does the work: the full convolution ``z = x * y`` over some axes (SciPy's
``convolve`` or ``fftconvolve`` computes it).  Its rules are convolutions again: with
``m`` the length of ``y`` along an axis,

    VJP in x:  g correlated with y  =  full(g, flip(conj y))[m-1 : m-1+len(x)]   ("valid")
    VJP in y:  the same with x and y exchanged
    JVP:       full(dx, y) + full(x, dy)        (bilinear)

so every order of derivative holds.  The modes are slices of the full result ('valid':
where the inputs overlap completely; 'same': centred, the size of ``in1``, as SciPy
centres it), and ``correlate(a, v)`` is ``convolve(a, flip(conj v))`` -- slices and flips
are differentiable operations, so the rules of the full convolution are all there is.

``convolve2d`` and ``correlate2d`` are the same full convolution of the input padded as
``boundary`` says ('fill' with ``fillvalue``, 'wrap', 'symm': np.pad's constant, wrap and
symmetric modes, differentiable), read with SciPy's 2-D offsets ('same' is centred at
(n2 - 1) // 2 of the full convolution, n2 // 2 of the full correlation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.signal as _ss

from ..core.primitive import Primitive
from ..ops.util import unbroadcast, value

__all__ = ["convolve", "correlate", "fftconvolve", "convolve2d", "correlate2d"]

_MODES = ("full", "valid", "same")


def _asarray(x: Any) -> Any:
    return x if hasattr(x, "shape") else np.asarray(x)


def _cplx(x: Any) -> bool:
    return np.asarray(value(x)).dtype.kind == "c"


def _conj(x: Any) -> Any:
    return np.conj(x) if _cplx(x) else x


def _full_fwd(x: Any, y: Any, axes: tuple = (), method: str = "auto") -> Any:
    if method == "fft":
        return _ss.fftconvolve(x, y, mode="full", axes=list(axes))
    return _ss.convolve(x, y, mode="full", method=method)


def _flip(x: Any, axes: tuple) -> Any:
    return np.flip(x, axis=axes)


def _valid_part(z: Any, m: tuple, n: tuple, axes: tuple) -> Any:
    """z[..., m-1 : m-1+n, ...] along each of ``axes``."""
    idx = [slice(None)] * len(z.shape)
    for ax, mi, ni in zip(axes, m, n):
        idx[ax] = slice(mi - 1, mi - 1 + ni)
    return z[tuple(idx)]


def _grad_first(g: Any, x: Any, y: Any, axes: tuple, method: str) -> Any:
    """The cotangent of x in full(x, y): g correlated with y, x's size along ``axes``."""
    z = _full(g, _flip(_conj(y), axes), axes=axes, method=method)
    m = tuple(y.shape[a] for a in axes)
    n = tuple(x.shape[a] for a in axes)
    return _valid_part(z, m, n, axes)


def _full_vjp_x(g: Any, ans: Any, x: Any, y: Any, axes: tuple = (), method: str = "auto"
                ) -> Any:
    gx = _grad_first(g, x, y, axes, method)
    gx = unbroadcast(x, gx)
    return np.real(gx) if _cplx(gx) and x.dtype.kind != "c" else gx


def _full_vjp_y(g: Any, ans: Any, x: Any, y: Any, axes: tuple = (), method: str = "auto"
                ) -> Any:
    gy = _grad_first(g, y, x, axes, method)
    gy = unbroadcast(y, gy)
    return np.real(gy) if _cplx(gy) and y.dtype.kind != "c" else gy


_full = Primitive(_full_fwd, "scipy.signal.convolve(full)", broadcast_tangents=True)
_full.vjps[0] = _full_vjp_x
_full.vjps[1] = _full_vjp_y
_full.jvps[0] = lambda dx, ans, x, y, axes=(), method="auto": _full(dx, y, axes=axes,
                                                                     method=method)
_full.jvps[1] = lambda dy, ans, x, y, axes=(), method="auto": _full(x, dy, axes=axes,
                                                                     method=method)


def _mode_slice(z: Any, s1: tuple, s2: tuple, mode: str, axes: tuple) -> Any:
    """The ``mode`` part of the full result ``z`` of inputs of shapes s1, s2."""
    if mode == "full":
        return z
    idx = [slice(None)] * len(z.shape)
    for ax in axes:
        n1, n2 = s1[ax], s2[ax]
        if mode == "valid":
            size = abs(n1 - n2) + 1
            start = min(n1, n2) - 1
        else:  # same: in1's size, centred in the full result (SciPy's _centered)
            size = n1
            start = (z.shape[ax] - n1) // 2
        idx[ax] = slice(start, start + size)
    return z[tuple(idx)]


def _check(in1: Any, in2: Any, mode: str, axes: tuple, what: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"{what}: mode must be one of 'full', 'valid', 'same', got {mode!r}")
    s1, s2 = in1.shape, in2.shape
    if len(s1) != len(s2):
        raise ValueError(f"{what}: in1 and in2 should have the same dimensionality "
                         f"(shapes {tuple(s1)} and {tuple(s2)})")
    if mode == "valid":
        ge = all(s1[a] >= s2[a] for a in axes)
        le = all(s1[a] <= s2[a] for a in axes)
        if not (ge or le):
            raise ValueError(f"{what}: for 'valid' mode, one must be at least as large as "
                             f"the other in every dimension (shapes {tuple(s1)} and "
                             f"{tuple(s2)})")


def _conv(in1: Any, in2: Any, mode: str, axes: tuple, method: str, what: str) -> Any:
    in1, in2 = _asarray(in1), _asarray(in2)
    _check(in1, in2, mode, axes, what)
    if 0 in tuple(in1.shape) or 0 in tuple(in2.shape):
        return _ss.convolve(value(in1), value(in2), mode=mode)  # SciPy's empty result
    z = _full(in1, in2, axes=axes, method=method)
    return _mode_slice(z, tuple(in1.shape), tuple(in2.shape), mode, axes)


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The N-D convolution of ``in1`` and ``in2`` (scipy.signal.convolve): ``mode``
    'full', 'valid' or 'same'; ``method`` 'auto', 'direct' or 'fft' (the rules use the
    same).  Differentiable in both inputs, to every order."""
    in1 = _asarray(in1)
    return _conv(in1, in2, mode, tuple(range(len(in1.shape))), method, "convolve")


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The N-D cross-correlation (scipy.signal.correlate): ``convolve(in1, flip(conj(in2)))``
    with the same modes.  Differentiable in both inputs, to every order."""
    in1, in2 = _asarray(in1), _asarray(in2)
    axes = tuple(range(len(in1.shape)))
    if len(in1.shape) != len(in2.shape):
        _check(in1, in2, mode, axes, "correlate")
    return _conv(in1, _flip(_conj(in2), axes), mode, axes, method, "correlate")


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None) -> Any:
    """The convolution by FFT (scipy.signal.fftconvolve), over ``axes`` (default all;
    along the other axes the inputs broadcast).  Differentiable in both inputs."""
    in1, in2 = _asarray(in1), _asarray(in2)
    nd = len(in1.shape)
    if axes is None:
        ax = tuple(range(nd))
    else:
        ax = tuple(sorted({int(a) % nd for a in np.atleast_1d(axes)}))
    return _conv(in1, in2, mode, ax, "fft", "fftconvolve")


_BOUNDARIES = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap",
               "symm": "symmetric", "symmetric": "symmetric"}


def _two_d(in1: Any, in2: Any, mode: str, boundary: str, fillvalue: Any, flip: bool,
           what: str) -> Any:
    in1, in2 = _asarray(in1), _asarray(in2)
    if len(in1.shape) != 2 or len(in2.shape) != 2:
        raise ValueError(f"{what} inputs must both be 2-D arrays (shapes {tuple(in1.shape)} "
                         f"and {tuple(in2.shape)})")
    if mode not in _MODES:
        raise ValueError(f"{what}: mode must be one of 'full', 'valid', 'same', got {mode!r}")
    if boundary not in _BOUNDARIES:
        raise ValueError(f"{what}: boundary must be one of 'fill', 'wrap', 'symm' (or 'pad', "
                         f"'circular', 'symmetric'), got {boundary!r}")
    fv = np.asarray(value(fillvalue))
    if fv.size != 1:
        raise ValueError(f"{what}: fillvalue must be a scalar or an array with one element")
    axes = (0, 1)
    _check(in1, in2, mode, axes, what)
    if flip:
        in2 = _flip(_conj(in2), axes)
    if 0 in tuple(in1.shape) or 0 in tuple(in2.shape):
        raise ValueError(f"{what}: an empty input (shapes {tuple(in1.shape)} and "
                         f"{tuple(in2.shape)})")
    if mode == "valid":  # no boundary is read
        return _conv(in1, in2, "valid", axes, "auto", what)
    s1, s2 = tuple(in1.shape), tuple(in2.shape)
    kind = _BOUNDARIES[boundary]
    if kind == "constant" and fv.reshape(()) == 0:
        full = _full(in1, in2, axes=axes)
    else:
        width = [(m - 1, m - 1) for m in s2]
        if kind == "constant":
            fill = fv.reshape(())
            if fill.dtype.kind == "c" and np.asarray(value(in1)).dtype.kind != "c":
                in1 = in1 + 0j
            padded = np.pad(in1, width, mode="constant", constant_values=fill)
        else:
            padded = np.pad(in1, width, mode=kind)
        full = _mode_slice(_full(padded, in2, axes=axes), tuple(padded.shape), s2, "valid",
                           axes)
    if mode == "full":
        return full
    idx = tuple(slice(st, st + n1) for st, n1 in
                zip(((m if flip else m - 1) // 2 for m in s2), s1))
    return full[idx]


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: Any = 0) -> Any:
    """The 2-D convolution (scipy.signal.convolve2d): ``mode`` 'full', 'valid', 'same';
    ``boundary`` 'fill' (padded with ``fillvalue``), 'wrap' (circular) or 'symm'
    (reflected).  Differentiable in both inputs, to every order."""
    return _two_d(in1, in2, mode, boundary, fillvalue, False, "convolve2d")


def correlate2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
                fillvalue: Any = 0) -> Any:
    """The 2-D cross-correlation (scipy.signal.correlate2d), with convolve2d's modes and
    boundaries.  Differentiable in both inputs, to every order."""
    return _two_d(in1, in2, mode, boundary, fillvalue, True, "correlate2d")
