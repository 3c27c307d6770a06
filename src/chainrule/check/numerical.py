"""Finite differences: the seed's ``numerical_derivative`` for arrays, and the directional
differences with error estimates and kink detection that gradcheck compares against.

Everything here works in *real coordinates*: a complex array of n elements is the real
vector of its 2n parts (``view(float64)`` order: re0, im0, re1, im1 ...).  Then one real
Jacobian describes every function, and PyTorch's complex convention falls out: the VJP of
a complex input, viewed as reals, is the real gradient of the real loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

import numpy as np
from ..transforms import tree_flatten

EPS64 = float(np.finfo(np.float64).eps)

# ---------------------------------------------------------------------------------
# real coordinates


def plain(x: Any) -> Any:
    """The plain value of a Tensor (or x itself)."""
    return getattr(x, "_value", x)


def to_real(a: Any) -> np.ndarray:
    """A float64 1-D copy of ``a`` in real coordinates."""
    a = np.asarray(plain(a))
    if a.dtype.kind == "c":
        return np.ascontiguousarray(a, dtype=np.complex128).reshape(-1).view(np.float64).copy()
    return np.asarray(a, dtype=np.float64).reshape(-1).copy()


def from_real(r: np.ndarray, shape: tuple, is_complex: bool) -> np.ndarray:
    r = np.ascontiguousarray(r, dtype=np.float64)
    if is_complex:
        return r.view(np.complex128).reshape(shape)
    return r.reshape(shape)


def flat_output(out: Any) -> np.ndarray:
    """A function's output (array, scalar, or tuple/list/dict of them) as one real vector."""
    leaves, _ = tree_flatten(out)
    parts = [to_real(leaf) for leaf in leaves]
    if not parts:
        return np.zeros(0)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def output_eps(out: Any) -> float:
    """Machine epsilon of the least precise floating leaf of ``out`` (float64 at best)."""
    eps = EPS64
    for leaf in tree_flatten(out)[0]:
        dt = np.asarray(plain(leaf)).dtype
        if dt.kind in "fc":
            eps = max(eps, float(np.finfo(dt).eps))
    return eps


def element_name(shape: tuple, is_complex: bool, j: int) -> str:
    """The element of an array that real coordinate ``j`` belongs to: '[1, 2]' or '[3].im'."""
    part = ""
    if is_complex:
        part = ".re" if j % 2 == 0 else ".im"
        j //= 2
    if not shape:
        return "[]" + part if part else ""
    idx = np.unravel_index(j, shape)
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" + part


# ---------------------------------------------------------------------------------
# directional differences with an error estimate


@dataclass
class FD:
    """Finite-difference estimate of J @ v at one point (one entry per real output)."""

    d: np.ndarray       # Richardson-extrapolated central difference
    err: np.ndarray     # estimated error of d (truncation + rounding)
    kink: np.ndarray    # bool: one-sided slopes differ (not differentiable here)
    left: np.ndarray    # one-sided slopes, for the report
    right: np.ndarray
    undefined: np.ndarray  # bool: f is nan/inf near the point
    h: float


def _step(x: np.ndarray, v: np.ndarray, eps: float) -> float:
    nz = v != 0
    amax = float(np.max(np.abs(x[nz]))) if np.any(nz) else 0.0
    vmax = float(np.max(np.abs(v))) if v.size else 1.0
    return eps ** (1 / 3) * max(1.0, amax) / max(vmax, 1e-300)


def _one(G: Callable, x: np.ndarray, v: np.ndarray, F0: np.ndarray, eps: float,
         h: float) -> FD:
    Fp1, Fm1 = G(x + h * v), G(x - h * v)
    Fp2, Fm2 = G(x + 0.5 * h * v), G(x - 0.5 * h * v)
    with np.errstate(all="ignore"):
        D1 = (Fp1 - Fm1) / (2 * h)
        D2 = (Fp2 - Fm2) / h
        d = (4 * D2 - D1) / 3
        fscale = np.maximum.reduce([np.abs(F0), np.abs(Fp1), np.abs(Fm1), np.abs(Fp2),
                                    np.abs(Fm2)])
        rnd = 4 * eps * fscale / h
        err = np.abs(D1 - D2) + rnd
        gap1 = (Fp1 - 2 * F0 + Fm1) / h
        gap2 = (Fp2 - 2 * F0 + Fm2) / (0.5 * h)
        big = np.maximum(np.abs(gap1), np.abs(gap2))
        left = (F0 - Fm2) / (0.5 * h)
        right = (Fp2 - F0) / (0.5 * h)
        # a jump in slope that matters: above rounding (estimated from |f| -- too low where
        # f's value comes from cancellation, hence also relative to the slopes themselves)
        slopes = np.abs(left) + np.abs(right)
        floor = np.maximum(50 * rnd, 1e-6 * (slopes + 1e-3 * np.max(slopes, initial=0.0)))
        # smooth: the gap between one-sided slopes halves with the step (h f'');
        # a kink keeps it (the jump in slope) -- so does a jump in value
        kink = (big > floor + 1e-300) & (np.abs(gap2 - 0.5 * gap1) > 0.25 * big)
    undefined = ~(np.isfinite(Fp1) & np.isfinite(Fm1) & np.isfinite(Fp2) & np.isfinite(Fm2))
    return FD(d, err, kink & ~undefined, left, right, undefined, h)


def directional(G: Callable[[np.ndarray], np.ndarray], x: np.ndarray, v: np.ndarray,
                F0: np.ndarray, eps: float = EPS64, h: float | None = None) -> FD:
    """d/dt G(x + t v) at t = 0, by central differences at two steps, extrapolated.

    The error estimate is the difference of the two steps' values (which bounds the
    truncation error of the extrapolated one) plus the rounding error of the smaller
    step.  Where G is undefined near x the step shrinks; where the result is noisy
    (f computed in lower precision than its output says) a larger step is tried.
    """
    h0 = _step(x, v, eps) if h is None else h
    fd = _one(G, x, v, F0, eps, h0)
    ok0 = np.isfinite(F0)
    if np.any(fd.undefined & ok0):
        small = _one(G, x, v, F0, eps, h0 * 1e-3)
        _merge(fd, small, fd.undefined & ~small.undefined)
    if h is None:
        with np.errstate(all="ignore"):
            rel = fd.err / (np.abs(fd.d) + np.max(np.abs(fd.d), initial=0.0) + 1e-300)
        if np.any((rel > 1e-5) & ok0 & ~fd.kink & ~fd.undefined):
            big = _one(G, x, v, F0, eps, h0 * 100)
            better = (big.err < fd.err) & ~big.undefined & ~big.kink & ~fd.kink & ~fd.undefined
            _merge(fd, big, better)
    fd.undefined |= ~ok0
    return fd


def _merge(fd: FD, other: FD, mask: np.ndarray) -> None:
    for name in ("d", "err", "kink", "left", "right", "undefined"):
        getattr(fd, name)[mask] = getattr(other, name)[mask]


# ---------------------------------------------------------------------------------
# the public function


def _richardson(G: Callable, x: np.ndarray, v: np.ndarray, levels: int = 4) -> tuple:
    """Central differences at h0, h0/2, ... extrapolated (Neville); value, error estimate."""
    h0 = EPS64 ** (1 / 5) * max(1.0, float(np.max(np.abs(x[v != 0]), initial=0.0)))
    table: list[list[np.ndarray]] = []
    for k in range(levels):
        h = h0 / 2 ** k
        row = [(G(x + h * v) - G(x - h * v)) / (2 * h)]
        for j in range(1, k + 1):
            row.append(row[j - 1] + (row[j - 1] - table[k - 1][j - 1]) / (4 ** j - 1))
        table.append(row)
    best = table[-1][-1]
    err = np.abs(best - table[-1][-2]) + np.abs(best - table[-2][-2])
    return best, err


def numerical_derivative(f: Callable, x: Any, h: Any = None, method: str = "central",
                         return_error: bool = False) -> Any:
    """The derivative of ``f`` at ``x`` by finite differences, always in float64.

    * scalar ``x``, scalar ``f``: a float (the seed's function);
    * array ``x``, scalar ``f``: the gradient, shaped like ``x``;
    * array-valued ``f``: the Jacobian, shaped ``f(x).shape + x.shape``.

    ``method``: ``"central"`` (default; step ``h`` per element near eps^(1/3)·max(1, |x|)),
    ``"forward"`` (step near eps^(1/2)·max(1, |x|)), ``"complex"`` (complex step: exact to
    rounding for real-analytic code that accepts complex input; ``h`` defaults to 1e-20)
    and ``"richardson"`` (central differences at four steps, extrapolated).  With
    ``return_error=True`` the result is ``(derivative, error_estimate)``.

    Complex ``x``: for a real-valued ``f`` the result is df/dRe + i df/dIm (PyTorch's
    gradient convention); for a complex ``f`` it is df/dRe, the complex derivative when f
    is holomorphic.
    """
    methods = ("central", "forward", "complex", "richardson")
    if method not in methods:
        raise ValueError(f"numerical_derivative: method must be one of {methods}, not {method!r}")
    scalar_in = np.ndim(plain(x)) == 0 and not isinstance(plain(x), np.ndarray)
    xa = np.asarray(plain(x))
    if xa.dtype.kind not in "fciub":
        raise TypeError(f"numerical_derivative: x must be numeric, got dtype {xa.dtype}")
    cplx_in = xa.dtype.kind == "c"
    if cplx_in and method == "complex":
        raise ValueError("numerical_derivative: the complex step needs a real x")
    x64 = xa.astype(np.complex128 if cplx_in else np.float64)
    shape = x64.shape

    def call(xv: np.ndarray) -> Any:
        arg = xv.item() if scalar_in else xv
        return plain(f(arg))

    out0 = call(x64)
    out0a = np.asarray(out0)
    if out0a.dtype.kind not in "fciub":
        raise TypeError(f"numerical_derivative: f returned a non-numeric value ({type(out0)})")
    cplx_out = out0a.dtype.kind == "c"
    out_shape = out0a.shape
    xflat = x64.reshape(-1)
    n = xflat.size
    steps = (None if h is None
             else np.broadcast_to(np.asarray(h, dtype=np.float64), shape).reshape(-1))
    cols, errs = [], []
    dirs = [1.0, 1j] if cplx_in else [1.0]
    for j in range(n):
        parts, perr = [], []
        for dirn in dirs:
            e = np.zeros(n, x64.dtype)
            e[j] = dirn

            def G(xr: np.ndarray, e: np.ndarray = e) -> np.ndarray:
                return np.asarray(call(xr.reshape(shape)), dtype=np.complex128 if cplx_out
                                  else np.float64)

            xj = abs(xflat[j])
            if method == "central":
                hj = EPS64 ** (1 / 3) * max(1.0, xj) if steps is None else float(steps[j])
                d = (G(xflat + hj * e) - G(xflat - hj * e)) / (2 * hj)
                err = np.full(d.shape, np.nan)
            elif method == "forward":
                hj = EPS64 ** 0.5 * max(1.0, xj) if steps is None else float(steps[j])
                d = (G(xflat + hj * e) - G(xflat)) / hj
                err = np.full(d.shape, np.nan)
            elif method == "complex":
                hj = 1e-20 if steps is None else float(steps[j])
                d = _complex_step(call, xflat, j, hj, shape)
                err = np.abs(d) * EPS64
            else:
                d, err = _richardson(lambda xr: G(xr), xflat, e)
            parts.append(d)
            perr.append(err)
        if cplx_in:
            d = parts[0] + 1j * parts[1] if not cplx_out else parts[0]
            err = np.abs(perr[0]) + np.abs(perr[1])
        else:
            d, err = parts[0], perr[0]
        cols.append(np.asarray(d).reshape(out_shape))
        errs.append(np.asarray(err).reshape(out_shape))
    J = np.stack(cols, axis=-1).reshape(out_shape + shape) if cols else np.zeros(out_shape + shape)
    E = np.stack(errs, axis=-1).reshape(out_shape + shape) if errs else np.zeros(J.shape)
    if scalar_in and not out_shape:
        res: Any = complex(J) if np.iscomplexobj(J) else float(J)
        err_out: Any = float(np.real(E))
    else:
        res, err_out = J, E
    if return_error:
        return res, err_out
    return res


def _complex_step(call: Callable, xflat: np.ndarray, j: int, h: float, shape: tuple) -> Any:
    xc = xflat.astype(np.complex128)
    xc[j] += 1j * h
    try:
        out = call(xc.reshape(shape))
    except TypeError as exc:
        raise TypeError(
            f"numerical_derivative(method='complex'): f does not accept complex input ({exc}); "
            "the complex step needs code that works on complex numbers (numpy or cmath, not "
            "math). Use method='central' or 'richardson'."
        ) from None
    out = np.asarray(out)
    if out.dtype.kind != "c":
        raise ValueError(
            "numerical_derivative(method='complex'): f returned a real value for a complex "
            "input, so it is not real-analytic as written (abs, comparisons, .real ...). "
            "Use method='central' or 'richardson'."
        )
    return out.imag / h

