"""Discrete Fourier transforms: three linear primitives along one axis, everything else
composed from them exactly as NumPy composes its own n-D transforms (so the values agree
bit for bit).

* ``fft.c2c``  complex -> complex (fft / ifft).  Its adjoint is the opposite transform
  with the dual normalisation ("backward" <-> "forward", "ortho" stays): F^H = n * ifft.
* ``fft.r2c``  real -> half spectrum (rfft).  As a real-linear map its adjoint is
  Re(F^H [g; 0]) = irfft of g with the interior bins halved (irfft counts each interior
  bin twice, once for itself and once for its Hermitian mirror).
* ``fft.c2r``  half spectrum -> real (irfft).  Its adjoint is rfft of g with the interior
  bins doubled; bin 0 (and bin n/2 for even n) is counted once, and irfft ignores their
  imaginary parts, which the (real) rfft of a real g reproduces as a zero derivative.

Padding and cropping to ``n`` / ``s`` happen outside the primitives (slicing and
concatenating zeros, themselves differentiable), so the primitives always see the
transform length as the input length (c2r: n // 2 + 1 bins).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..core import arrays as _arrays

from ..core.registry import register
from . import elementwise as E
from . import shape as S
from .util import defprim, value

_NORMS = {None: "backward", "backward": "backward", "ortho": "ortho", "forward": "forward"}
_DUAL = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _norm(norm: Any) -> str:
    try:
        return _NORMS[norm]
    except (KeyError, TypeError):
        raise ValueError(
            f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".') from None


def _whole(x: Any, axis: int) -> Any:
    """``x`` with ``axis`` in one chunk when ``x`` is a lazy (Dask) array: a transform along
    an axis needs all of it (a lazy rechunk, nothing computed); else ``x``."""
    return x.rechunk({axis % x.ndim: -1}) if _arrays.lazy(x) else x


def _c2c_fwd(x: Any, axis: int = -1, inverse: bool = False, norm: str = "backward") -> Any:
    return (np.fft.ifft if inverse else np.fft.fft)(_whole(x, axis), axis=axis, norm=norm)


c2c = defprim(
    _c2c_fwd, "fft.c2c", saves=(), saves_ans=False, linear=True,
    vjp=(lambda g, ans, x, axis=-1, inverse=False, norm="backward":
         c2c(g, axis=axis, inverse=not inverse, norm=_DUAL[norm]),),
)


def _bin_weights(n: int, axis: int, ndim: int, interior: float) -> np.ndarray:
    """Weights over the n // 2 + 1 bins of a length-n real transform: 1 for bin 0 (and
    bin n/2 when n is even), ``interior`` for the others; shaped to broadcast on axis."""
    m = n // 2 + 1
    w = np.full(m, interior)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    shape = [1] * ndim
    shape[axis] = m
    return w.reshape(shape)


def _r2c_fwd(x: Any, axis: int = -1, norm: str = "backward") -> Any:
    return np.fft.rfft(_whole(x, axis), axis=axis, norm=norm)


def _r2c_vjp(g: Any, ans: Any, x: Any, axis: int = -1, norm: str = "backward") -> Any:
    n = x.shape[axis]
    return c2r(g * _bin_weights(n, axis, len(x.shape), 0.5), axis=axis, n=n, norm=_DUAL[norm])


r2c = defprim(_r2c_fwd, "fft.r2c", saves=(), saves_ans=False, linear=True, vjp=(_r2c_vjp,))


def _c2r_fwd(x: Any, axis: int = -1, n: int = 2, norm: str = "backward") -> Any:
    return np.fft.irfft(_whole(x, axis), n=n, axis=axis, norm=norm)


def _c2r_vjp(g: Any, ans: Any, x: Any, axis: int = -1, n: int = 2, norm: str = "backward") -> Any:
    return r2c(g, axis=axis, norm=_DUAL[norm]) * _bin_weights(n, axis, len(x.shape), 2.0)


c2r = defprim(_c2r_fwd, "fft.c2r", saves=(), saves_ans=False, linear=True, vjp=(_c2r_vjp,))

# ---------------------------------------------------------------------------------
# NumPy's signatures


def _arr(a: Any) -> Any:
    return a if hasattr(a, "shape") else _arrays.asarray(a)


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise NotImplementedError(
            f"fft.{name}(out=...) is not supported on Tensors: writing into a preallocated array "
            "would leave the graph. Use the return value.")


def _axis(axis: Any, ndim: int) -> int:
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def _npoints(n: Any) -> int:
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
    return n


def _resize(x: Any, n: int, axis: int) -> Any:
    """Crop or zero-pad x along axis to length n (what NumPy does with ``n``)."""
    cur = x.shape[axis]
    if n == cur:
        return x
    if n < cur:
        idx = [slice(None)] * len(x.shape)
        idx[axis] = slice(0, n)
        return x[tuple(idx)]
    shape = list(x.shape)
    shape[axis] = n - cur
    return S.concatenate([x, np.zeros(shape, dtype=value(x).dtype)], axis=axis)


def fft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    _no_out("fft", out)
    a = _arr(a)
    ax = _axis(axis, len(a.shape))
    n = a.shape[ax] if n is None else _npoints(n)
    return c2c(_resize(a, n, ax), axis=ax, inverse=False, norm=_norm(norm))


def ifft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    _no_out("ifft", out)
    a = _arr(a)
    ax = _axis(axis, len(a.shape))
    n = a.shape[ax] if n is None else _npoints(n)
    return c2c(_resize(a, n, ax), axis=ax, inverse=True, norm=_norm(norm))


def rfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    _no_out("rfft", out)
    a = _arr(a)
    if value(a).dtype.kind == "c":
        raise TypeError("fft.rfft: the input must be real (got a complex array); use fft.fft")
    ax = _axis(axis, len(a.shape))
    n = a.shape[ax] if n is None else _npoints(n)
    return r2c(_resize(a, n, ax), axis=ax, norm=_norm(norm))


def irfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    _no_out("irfft", out)
    a = _arr(a)
    ax = _axis(axis, len(a.shape))
    n = (a.shape[ax] - 1) * 2 if n is None else n
    n = _npoints(n)
    return c2r(_resize(a, n // 2 + 1, ax), axis=ax, n=n, norm=_norm(norm))


def hfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    _no_out("hfft", out)
    a = _arr(a)
    if n is None:
        n = (a.shape[axis] - 1) * 2
    return irfft(E.conj(a), n, axis, norm=_DUAL[_norm(norm)])


def ihfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    _no_out("ihfft", out)
    return E.conjugate(rfft(a, n, axis, norm=_DUAL[_norm(norm)]))


def _cook(a: Any, s: Any, axes: Any, invreal: bool = False) -> tuple[list, list]:
    shape = a.shape
    nd = len(shape)
    shapeless = s is None
    if axes is not None:
        axes = [_axis(x, nd) for x in axes]
    if s is None:
        s = list(shape) if axes is None else [shape[x] for x in axes]
    s = list(s)
    if axes is None:
        axes = [_axis(x, nd) for x in range(-len(s), 0)]
    if len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    if invreal and shapeless:
        s[-1] = (shape[axes[-1]] - 1) * 2
    s = [shape[x] if (n is None or n == -1) else n for n, x in zip(s, axes, strict=False)]
    return s, axes


def fftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    _no_out("fftn", out)
    a = _arr(a)
    s, axes = _cook(a, s, axes)
    for ii in reversed(range(len(axes))):
        a = fft(a, s[ii], axes[ii], norm)
    return a


def ifftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    _no_out("ifftn", out)
    a = _arr(a)
    s, axes = _cook(a, s, axes)
    for ii in reversed(range(len(axes))):
        a = ifft(a, s[ii], axes[ii], norm)
    return a


def rfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    _no_out("rfftn", out)
    a = _arr(a)
    s, axes = _cook(a, s, axes)
    a = rfft(a, s[-1], axes[-1], norm)
    for ii in range(len(axes) - 2, -1, -1):
        a = fft(a, s[ii], axes[ii], norm)
    return a


def irfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    _no_out("irfftn", out)
    a = _arr(a)
    s, axes = _cook(a, s, axes, invreal=True)
    for ii in range(len(axes) - 1):
        a = ifft(a, s[ii], axes[ii], norm)
    return irfft(a, s[-1], axes[-1], norm)


def fft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    return fftn(a, s, axes, norm, out)


def ifft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    return ifftn(a, s, axes, norm, out)


def rfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    return rfftn(a, s, axes, norm, out)


def irfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    return irfftn(a, s, axes, norm, out)


def _roll(x: Any, shift: int, axis: int) -> Any:
    n = x.shape[axis]
    k = shift % n if n else 0
    if k == 0:
        return x
    lo = [slice(None)] * len(x.shape)
    hi = list(lo)
    lo[axis] = slice(n - k, None)
    hi[axis] = slice(0, n - k)
    return S.concatenate([x[tuple(lo)], x[tuple(hi)]], axis=axis)


def _shift(x: Any, axes: Any, sign: int) -> Any:
    x = _arr(x)
    nd = len(x.shape)
    if axes is None:
        axes = list(range(nd))
    elif isinstance(axes, (int, np.integer)):
        axes = [axes]
    for ax in axes:
        ax = _axis(ax, nd)
        x = _roll(x, sign * (x.shape[ax] // 2), ax)
    return x


def fftshift(x: Any, axes: Any = None) -> Any:
    return _shift(x, axes, 1)


def ifftshift(x: Any, axes: Any = None) -> Any:
    return _shift(x, axes, -1)


for _name in ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fftn", "ifftn", "rfftn", "irfftn",
              "fft2", "ifft2", "rfft2", "irfft2", "fftshift", "ifftshift"]:
    register("fft." + _name, globals()[_name])
