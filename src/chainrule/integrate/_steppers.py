"""The ODE steppers: embedded Runge–Kutta pairs (Dormand–Prince 5(4), Bogacki–Shampine
3(2)) and the Rosenbrock 2(3) method of Shampine and Reichelt (MATLAB's ode23s), and the
adaptive driver that steps to each output time with error control.

A step is written with arithmetic only (``y + h * (...)``, ``np.linalg.solve``), so the
same code runs on plain arrays (the solve, the adjoint) and on Tensors (``adjoint=False``:
differentiating through the steps).  The driver itself works on plain NumPy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..optimize._common import ConvergenceError

Rhs = Callable[[Any, Any], Any]  # rhs(t, y) -> dy/dt, y flat


@dataclass(frozen=True)
class Tableau:
    """An explicit embedded pair: stages ``c``, matrix ``a`` (rows), weights ``b`` of the
    propagated solution, ``e = b - b̂`` (the error estimate); the last stage is evaluated at
    the new solution (FSAL)."""

    name: str
    order: int  # of the propagated solution; the error estimate is of order order-1
    c: tuple
    a: tuple
    b: tuple
    e: tuple


DOPRI5 = Tableau(
    "dopri5", 5,
    (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    ((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
     (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
     (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
     (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0),
    (35 / 384 - 5179 / 57600, 0.0, 500 / 1113 - 7571 / 16695, 125 / 192 - 393 / 640,
     -2187 / 6784 + 92097 / 339200, 11 / 84 - 187 / 2100, -1 / 40),
)

BOSH3 = Tableau(
    "bosh3", 3,
    (0.0, 1 / 2, 3 / 4, 1.0),
    ((), (1 / 2,), (0.0, 3 / 4), (2 / 9, 1 / 3, 4 / 9)),
    (2 / 9, 1 / 3, 4 / 9, 0.0),
    (2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8),
)


def _combo(coef: tuple, ks: list) -> Any:
    out = None
    for c, k in zip(coef, ks):
        if c != 0.0:
            out = c * k if out is None else out + c * k
    return out


def rk_step(tab: Tableau, rhs: Rhs, t: Any, y: Any, h: Any, f0: Any,
            jac: Callable | None = None) -> tuple[Any, Any, Any]:
    """One step of an explicit pair: (y_new, error estimate, rhs at y_new)."""
    ks = [f0]
    for ci, ai in zip(tab.c[1:], tab.a[1:]):
        ks.append(rhs(t + ci * h, y + h * _combo(ai, ks)))
    y_new = y + h * _combo(tab.b, ks)
    return y_new, h * _combo(tab.e, ks), ks[-1]


_D = 1.0 / (2.0 + math.sqrt(2.0))
_E32 = 6.0 + math.sqrt(2.0)


def ros23_step(rhs: Rhs, t: Any, y: Any, h: Any, f0: Any,
               jac: Callable) -> tuple[Any, Any, Any]:
    """One step of Shampine & Reichelt's Rosenbrock 2(3) pair (L-stable second order
    solution), with J = ∂f/∂y and T = ∂f/∂t exact from ``jac(t, y)``."""
    J, T = jac(t, y)
    n = np.shape(J)[0]
    W = np.eye(n) - (h * _D) * J
    hdT = (h * _D) * T
    k1 = np.linalg.solve(W, f0 + hdT)
    f1 = rhs(t + 0.5 * h, y + (0.5 * h) * k1)
    k2 = np.linalg.solve(W, f1 - k1) + k1
    y_new = y + h * k2
    f2 = rhs(t + h, y_new)
    k3 = np.linalg.solve(W, f2 - _E32 * (k2 - f1) - 2.0 * (k1 - f0) + hdT)
    return y_new, (h / 6.0) * (k1 - 2.0 * k2 + k3), f2


@dataclass(frozen=True)
class Method:
    name: str
    order: int  # order of the error estimate + 1: the step-size exponent is 1/order
    step: Callable
    evals: int  # evaluations of the right-hand side per step
    implicit: bool = False


METHODS = {
    "dopri5": Method("dopri5", 5, lambda *a: rk_step(DOPRI5, *a), 6),
    "bosh3": Method("bosh3", 3, lambda *a: rk_step(BOSH3, *a), 3),
    "rosenbrock23": Method("rosenbrock23", 3, ros23_step, 2, implicit=True),
}


def _rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(v)))) if v.size else 0.0


@dataclass
class Run:
    """What the driver returns: the states at the output times, and the accepted steps
    ([(interval index, fraction of the interval where the step starts, where it ends)])
    when asked to record them."""

    ys: list
    steps: list = field(default_factory=list)
    times: list = field(default_factory=list)  # the accepted step end points (solve_ivp)
    states: list = field(default_factory=list)  # and the states there
    slopes: list = field(default_factory=list)  # and the right-hand side there
    nfev: int = 0
    njev: int = 0
    nsteps: int = 0
    nrejected: int = 0


def integrate(rhs: Rhs, y0: np.ndarray, ts: np.ndarray, *, method: Method, rtol: float,
              atol: Any, jac: Callable | None = None, first_step: float | None = None,
              max_step: float = np.inf, max_steps: int = 100_000, record: bool = False,
              who: str = "odeint") -> Run:
    """Integrate dy/dt = rhs(t, y) (flat plain arrays) from ts[0] through each ts[i],
    stepping onto every output time exactly.  Errors are controlled per step:
    rms(err / (atol + rtol·max(|y|, |y_new|))) <= 1."""
    ts = np.asarray(ts, dtype=np.float64)
    y = np.asarray(y0, dtype=np.float64)
    run = Run([y])
    if len(ts) < 2:
        return run
    direction = 1.0 if ts[-1] > ts[0] else -1.0
    t = float(ts[0])
    f0 = np.asarray(rhs(t, y), dtype=np.float64)
    run.nfev += 1
    q = method.order
    if method.implicit and jac is None:
        raise ValueError(f"{who}: method {method.name} needs the Jacobian")
    span = abs(float(ts[-1] - ts[0]))
    h = abs(first_step) if first_step else _initial_step(rhs, t, y, f0, direction, q, rtol,
                                                         atol, span, max_step)
    if first_step is None:
        run.nfev += 1
    h = min(h, max_step, span)
    for i in range(1, len(ts)):
        target = float(ts[i])
        start = t
        width = target - start
        if width == 0.0:
            run.ys.append(y)
            continue
        while direction * (target - t) > 0.0:
            remaining = abs(target - t)
            last = h >= remaining * (1.0 - 1e-10)
            hs = remaining if last else h
            hd = direction * hs
            y_new, err, f_new = method.step(rhs, t, y, hd, f0, jac) if method.implicit \
                else method.step(rhs, t, y, hd, f0)
            run.nfev += method.evals
            if method.implicit:
                run.njev += 1
            y_new = np.asarray(y_new, dtype=np.float64)
            scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
            with np.errstate(over="ignore", invalid="ignore"):
                en = _rms(np.asarray(err) / scale)
            run.nsteps += 1
            if run.nsteps > max_steps:
                raise ConvergenceError(
                    f"{who}: more than max_steps={max_steps} steps before t={target:g} "
                    f"(reached t={t:g}); the problem may be stiff (method='rosenbrock23') or "
                    f"need a larger max_steps")
            if en <= 1.0:
                t_new = target if last else t + hd
                if record:
                    run.steps.append((i - 1, (t - start) / width, (t_new - start) / width))
                    run.times.append(t_new)
                    run.states.append(np.asarray(y_new, dtype=np.float64))
                t, y, f0 = t_new, y_new, np.asarray(f_new, dtype=np.float64)
                if record:
                    run.slopes.append(f0)
                factor = 10.0 if en == 0.0 else min(10.0, 0.9 * en ** (-1.0 / q))
                h_next = hs * factor
                h = max(h, h_next) if last else h_next
                h = min(h, max_step)
            else:
                run.nrejected += 1
                factor = 0.2 if not np.isfinite(en) else max(0.2, 0.9 * en ** (-1.0 / q))
                h = hs * factor
                if h <= 1e-14 * max(1.0, abs(t)):
                    raise ConvergenceError(
                        f"{who}: the step size fell below {h:.3g} at t={t:g} (error control "
                        f"with rtol={rtol:g}); the solution may blow up there, or the problem "
                        f"is stiff (method='rosenbrock23')")
        run.ys.append(y)
    return run


def _initial_step(rhs: Rhs, t: float, y: np.ndarray, f0: np.ndarray, direction: float,
                  q: int, rtol: float, atol: Any, span: float, max_step: float) -> float:
    """Hairer, Nørsett & Wanner's starting step (Solving ODEs I, II.4)."""
    scale = atol + rtol * np.abs(y)
    d0, d1 = _rms(y / scale), _rms(f0 / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, span, max_step)
    f1 = np.asarray(rhs(t + direction * h0, y + direction * h0 * f0), dtype=np.float64)
    d2 = _rms((f1 - f0) / scale) / h0
    if max(d1, d2) <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / q)
    return min(100 * h0, h1)


class Hermite:
    """The cubic Hermite interpolant of accepted steps (times, states, slopes): C¹, exact
    at the step ends, of fourth order inside a step.  Evaluated at a time ``t`` of any type
    (a Tensor too: differentiable in t); the step is found from t's plain value."""

    def __init__(self, times: list, states: list, slopes: list) -> None:
        self.t = np.asarray(times, dtype=np.float64)
        self.y = states
        self.f = slopes
        self.increasing = self.t[-1] >= self.t[0]

    def __call__(self, t: Any) -> Any:
        tv = float(np.asarray(getattr(t, "_value", t)))
        ts = self.t if self.increasing else self.t[::-1]
        k = int(np.clip(np.searchsorted(ts, tv) - 1, 0, len(ts) - 2))
        if not self.increasing:
            k = len(ts) - 2 - k
        t0, t1 = self.t[k], self.t[k + 1]
        h = t1 - t0
        s = (t - t0) / h
        s2 = s * s
        s3 = s2 * s
        return ((2 * s3 - 3 * s2 + 1) * self.y[k] + (s3 - 2 * s2 + s) * h * self.f[k]
                + (-2 * s3 + 3 * s2) * self.y[k + 1] + (s3 - s2) * h * self.f[k + 1])
