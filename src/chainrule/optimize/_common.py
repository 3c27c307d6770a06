"""What the solvers share: plain values, a clean engine state for plain computations,
the convergence error, and small Krylov solvers on plain NumPy arrays."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np

from ..core import errors
from ..core.state import STATE
from ..core.tensor import Tensor


class ConvergenceError(errors.ChainruleError, RuntimeError):
    """A solver (fixed_point, odeint, an adjoint linear solve) did not converge."""


def plain(v: Any) -> np.ndarray:
    """The NumPy value of ``v`` (a Tensor's value, an array, a number)."""
    if isinstance(v, Tensor):
        return v._value
    return np.asarray(v)


def traced(v: Any) -> bool:
    """Does ``v`` carry a derivative (a Tensor with history or forward-mode tangents)?"""
    return isinstance(v, Tensor) and (v._node is not None or v._tangents is not None)


def float_array(v: Any, who: str, what: str) -> np.ndarray:
    """``v`` as a real float array (integers become float64); complex values and anything
    else are refused."""
    a = plain(v)
    if a.dtype.kind in "biu":
        a = a.astype(np.float64)
    if a.dtype.kind == "c":
        raise TypeError(f"{who}: {what} is complex ({a.dtype}); the solvers here work on real "
                        f"values (split a complex unknown into its real and imaginary parts)")
    if a.dtype.kind != "f":
        raise TypeError(f"{who}: {what} must be numbers (a float array), got dtype {a.dtype}")
    return a


@contextlib.contextmanager
def plain_mode() -> Iterator[None]:
    """Run a computation on plain values as if at the top level: transforms inside give
    plain results (depth 0) and see their own forward-mode tangents (no ceiling), so a
    solver's forward pass or a first-order rule never builds a graph it does not need."""
    st = STATE
    saved = (st.depth, st.fw_ceiling)
    st.depth, st.fw_ceiling = 0, 1 << 30
    try:
        yield
    finally:
        st.depth, st.fw_ceiling = saved


def as_plain_result(v: Any) -> np.ndarray:
    """A plain ndarray of a value a plain computation returned (a Tensor without history,
    an array or a number)."""
    return np.asarray(plain(v))


def untraced(v: Any, who: str, what: str) -> np.ndarray:
    """The plain value of what a user's function returned on plain inputs; a result with
    history means the function closes over a Tensor being differentiated, whose gradient the
    solver would lose: refused."""
    if isinstance(v, (tuple, list)):
        for x in v:
            untraced(x, who, what)
        return np.asarray([plain(x) for x in v]) if v else np.asarray(v)
    if traced(v):
        raise errors.GradientError(
            f"{who}: {what} depends on a Tensor with history that is not among its "
            f"parameters (a closure or a global), so its gradient would be lost.  Pass it as "
            f"a parameter (after y0/x0, or in args)")
    return as_plain_result(v)


def array_valued(fn: Callable) -> Callable:
    """``fn`` whose list or tuple result (``return [dx, dy]``, as SciPy allows) is stacked
    into one array, differentiably; other results unchanged."""
    def wrapped(*args: Any) -> Any:
        out = fn(*args)
        if isinstance(out, (list, tuple)):
            return np.stack([v if isinstance(v, Tensor) else np.asarray(v) for v in out])
        return out

    wrapped.__name__ = name_of(fn)
    wrapped.__wrapped__ = fn
    return wrapped


def name_of(f: Any, default: str = "f") -> str:
    return getattr(f, "__name__", None) or getattr(type(f), "__name__", default)


def gmres(matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray, *, tol: float = 1e-12,
          maxiter: int | None = None, restart: int = 50, who: str = "gmres") -> np.ndarray:
    """Solve ``A x = b`` for a matrix given by ``matvec`` (restarted GMRES, plain NumPy).

    Stops when ``|A x - b| <= tol * |b|``; raises :class:`ConvergenceError` otherwise."""
    b = np.asarray(b, dtype=np.result_type(b, np.float64))
    n = b.size
    bnorm = float(np.linalg.norm(b))
    x = np.zeros_like(b)
    if bnorm == 0.0:
        return x
    maxiter = maxiter or 10 * n + 100
    restart = max(1, min(restart, n))
    done = 0
    r = b - matvec(x)
    while done < maxiter:
        beta = float(np.linalg.norm(r))
        if beta <= tol * bnorm:
            return x
        V = np.zeros((restart + 1, n), b.dtype)
        H = np.zeros((restart + 1, restart), b.dtype)
        V[0] = r / beta
        k = 0
        for k in range(restart):
            w = matvec(V[k])
            for j in range(k + 1):  # modified Gram-Schmidt
                H[j, k] = np.vdot(V[j], w)
                w = w - H[j, k] * V[j]
            H[k + 1, k] = np.linalg.norm(w)
            done += 1
            e1 = np.zeros(k + 2, b.dtype)
            e1[0] = beta
            y = np.linalg.lstsq(H[:k + 2, :k + 1], e1, rcond=None)[0]
            res = float(np.linalg.norm(H[:k + 2, :k + 1] @ y - e1))
            if H[k + 1, k] <= 1e-14 * beta or res <= tol * bnorm or done >= maxiter:
                break
            V[k + 1] = w / H[k + 1, k]
        x = x + V[:k + 1].T @ y
        r = b - matvec(x)
        if float(np.linalg.norm(r)) <= tol * bnorm:
            return x
    raise ConvergenceError(
        f"{who}: the iterative linear solve did not converge in {maxiter} iterations "
        f"(relative residual {np.linalg.norm(r) / bnorm:.3g}, tolerance {tol:g}); "
        f"use linear_solve='dense' for a small system")
