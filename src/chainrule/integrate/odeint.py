"""``odeint`` and ``solve_ivp`` with gradients from the continuous adjoint.

The forward solve runs on plain NumPy values (adaptive steps, error control) and is
recorded as one operation.  Its VJP integrates the augmented system

    y' = f(y, t, θ),   a' = -aᵀ ∂f/∂y,   g' = -aᵀ ∂f/∂θ

backwards from each output time to the one before (a starts at the cotangent of the last
output and receives each earlier output's cotangent on the way), with the VJPs of ``func``
from chainrule.  Only the outputs are kept: memory does not grow with the step count.
The backward pass is itself an ``odeint`` call, so it is differentiable again (reverse
over reverse: ``cr.hessian``).  ``adjoint=False`` differentiates through the solver's
steps instead (the same steps, replayed on Tensors), with ``checkpoint=k`` recomputing
each run of k steps in the backward pass rather than keeping its graph.
``adjoint="interpolated"`` integrates only the adjoint backwards, along the forward
solution re-solved per output interval (for stiff problems, where y cannot run backwards).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from ..core import errors
from ..core.primitive import Primitive, defvjp
from ..core.tensor import Tensor
from ..optimize._common import array_valued, as_plain_result, float_array, name_of, plain, \
    plain_mode, traced, untraced
from ..transforms import jacobian, jvp, vjp
from ._steppers import METHODS, Hermite, Method, Run, integrate
from .checkpoint import checkpoint as _checkpoint

_ALIASES = {"dopri5": "dopri5", "rk45": "dopri5", "bosh3": "bosh3", "rk23": "bosh3",
            "rosenbrock23": "rosenbrock23", "ros23": "rosenbrock23"}


@dataclass(frozen=True)
class _Options:
    method: Method
    rtol: float
    atol: Any
    first_step: float | None
    max_step: float
    max_steps: int
    adjoint: Any  # "backsolve", "interpolated" or False
    checkpoint: int | None
    adjoint_rtol: float
    adjoint_atol: float


def _method(name: str, who: str) -> Method:
    key = _ALIASES.get(str(name).lower())
    if key is None:
        raise ValueError(
            f"{who}: method={name!r} is not available; choose 'dopri5' (RK45, Dormand–Prince "
            f"5(4)), 'bosh3' (RK23, Bogacki–Shampine 3(2)) or 'rosenbrock23' (implicit, for "
            f"stiff problems)")
    return METHODS[key]


def odeint(func: Callable, y0: Any, t: Any, *params: Any, rtol: float = 1e-7,
           atol: float = 1e-9, method: str = "dopri5", adjoint: bool | str = True,
           checkpoint: int | None = None, first_step: float | None = None,
           max_step: float = np.inf, max_steps: int = 100_000,
           adjoint_rtol: float | None = None, adjoint_atol: float | None = None) -> Any:
    """Solve dy/dt = func(y, t, *params) (SciPy's argument order) and return y at each
    time in ``t`` (shape ``(len(t),) + y0.shape``; ``t[0]`` is the initial time, and ``t``
    may decrease).

    Differentiable w.r.t. ``y0``, ``t`` and every Tensor among ``params``:

    * ``adjoint=True`` (default, "backsolve"): the continuous adjoint, integrating y back
      with the adjoint state; memory independent of the number of steps; reverse mode to
      any order (reverse over reverse).  Where y cannot be run backwards (stiff,
      dissipative dynamics) the backward y misses the stored outputs and a GradientError
      says so rather than return a wrong gradient.
    * ``adjoint="interpolated"``: the adjoint state is integrated backwards along the
      forward solution, re-solved per output interval from the stored output and
      interpolated (cubic Hermite): stable for stiff problems; memory grows with the steps
      of one output interval (plain arrays); first order.
    * ``adjoint=False``: through the solver's steps (any mode and order; memory grows with
      the steps unless ``checkpoint=k`` recomputes each run of k steps in the backward
      pass).

    First-order forward mode (``cr.jvp``) integrates the forward sensitivities.

    ``method``: ``"dopri5"`` (RK45, Dormand–Prince 5(4), default), ``"bosh3"`` (RK23) or
    ``"rosenbrock23"`` (Shampine–Reichelt's L-stable Rosenbrock method with the exact
    Jacobian ∂f/∂y from chainrule, for stiff problems).  ``rtol``/``atol``: the per-step
    error control; the adjoint integration uses ``adjoint_rtol``/``adjoint_atol``
    (default the same).  ``max_step`` bounds the step size, ``max_steps`` the number of
    steps (then :class:`cr.optimize.ConvergenceError`).
    """
    who = f"odeint({name_of(func)})"
    m = _method(method, who)
    if checkpoint is not None and (not isinstance(checkpoint, (int, np.integer))
                                   or checkpoint < 1):
        raise ValueError(f"{who}: checkpoint must be a positive number of steps, got "
                         f"{checkpoint!r}")
    opts = _Options(m, float(rtol), atol, first_step, float(max_step), int(max_steps),
                    _adjoint_kind(adjoint, who), None if checkpoint is None else int(checkpoint),
                    float(rtol if adjoint_rtol is None else adjoint_rtol),
                    float(np.min(atol) if adjoint_atol is None else adjoint_atol))
    return _odeint(array_valued(func), y0, t, params, opts, who)


def _adjoint_kind(adjoint: Any, who: str) -> Any:
    if adjoint is True or adjoint == "backsolve":
        return "backsolve"
    if adjoint is False or adjoint == "interpolated":
        return adjoint
    raise ValueError(f"{who}: adjoint={adjoint!r}; choose True (or 'backsolve'), "
                     f"'interpolated' or False")


def _times(t: Any, who: str) -> np.ndarray:
    tv = float_array(t, who, "t")
    if tv.ndim != 1 or tv.size < 1:
        raise errors.ShapeError(f"{who}: t must be a 1-D array of output times (the first is "
                                f"the initial time), got shape {tv.shape}")
    d = np.diff(tv)
    if d.size and not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError(f"{who}: t must be strictly increasing or strictly decreasing")
    if not np.all(np.isfinite(tv)):
        raise ValueError(f"{who}: t holds non-finite values")
    return tv


def _rhs(func: Callable, shape: tuple, ps: Sequence[Any], who: str) -> Callable:
    """rhs(t, z) on flat states, of any value type (plain arrays or Tensors)."""
    n = int(np.prod(shape))

    def rhs(t: Any, z: Any) -> Any:
        out = func(np.reshape(z, shape), t, *ps)
        if np.shape(plain(out)) != shape:
            raise errors.ShapeError(
                f"{who}: func(y, t, *params) returned shape {np.shape(plain(out))} for y of "
                f"shape {shape}; it must return dy/dt, of y's shape")
        return np.reshape(out, (n,))

    return rhs


def _jac(rhs: Callable) -> Callable:
    """(∂f/∂y, ∂f/∂t) at (t, z), exact, by reverse mode."""
    def jac(t: Any, z: Any) -> tuple[Any, Any]:
        J = jacobian(lambda zz: rhs(t, zz))(z)
        T = jacobian(lambda tt: rhs(tt, z))(t if isinstance(t, Tensor) else float(t))
        return J, T
    return jac


def _forward(func: Callable, y0: np.ndarray, t: np.ndarray, ps: Sequence[Any], opts: _Options,
             who: str, record: bool = False) -> tuple[np.ndarray, Run]:
    shape = y0.shape
    with plain_mode():
        rhs_g = _rhs(func, shape, ps, who)

        def rhs(tt: float, z: np.ndarray) -> np.ndarray:
            return untraced(rhs_g(tt, z), who, "func(y, t, *params)")

        jac = None
        if opts.method.implicit:
            jg = _jac(rhs_g)

            def jac(tt: float, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                J, T = jg(tt, z)
                return as_plain_result(J), as_plain_result(T)

        with np.errstate(over="ignore", invalid="ignore"):
            run = integrate(rhs, y0.reshape(-1), t, method=opts.method, rtol=opts.rtol,
                            atol=opts.atol, jac=jac, first_step=opts.first_step,
                            max_step=opts.max_step, max_steps=opts.max_steps, record=record,
                            who=who)
    Y = np.stack(run.ys).reshape((len(t),) + shape)
    return Y, run


def _odeint(func: Callable, y0: Any, t: Any, params: Sequence[Any], opts: _Options, who: str,
            pre: tuple | None = None) -> Any:
    y0v = float_array(y0, who, "y0").astype(np.float64)
    tv = _times(t, who)
    params = tuple(params)
    plain_ps = tuple(plain(p) if isinstance(p, Tensor) else p for p in params)
    diff = tuple(j for j, p in enumerate(params) if traced(p))
    if not (diff or traced(y0) or traced(t)):
        return pre[0] if pre is not None else _forward(func, y0v, tv, plain_ps, opts, who)[0]
    if not opts.adjoint:
        return _through_steps(func, y0, t, y0v, tv, params, plain_ps, opts, who, pre)
    return _adjoint_call(func, y0, t, y0v, tv, params, diff, opts, who, pre)


# --- the continuous adjoint -----------------------------------------------------------------


def _adjoint_call(func: Callable, y0: Any, t: Any, y0v: np.ndarray, tv: np.ndarray,
                  params: tuple, diff: tuple, opts: _Options, who: str,
                  pre: tuple | None) -> Any:
    def fwd(y0_: Any, t_: Any, *ps: Any) -> np.ndarray:
        if pre is not None:
            return pre[0]
        return _forward(func, np.asarray(y0_, dtype=np.float64), np.asarray(t_, np.float64),
                        ps, opts, who)[0]

    prim = Primitive(fwd, name=who)
    cache: dict[str, Any] = {}

    def cotangents(g: Any, ans: Any, args: tuple) -> dict:
        key = cache.get("key")
        if key is not None and key[0] is g and key[1] is ans:
            return cache["cts"]
        create = any(isinstance(v, Tensor) for v in (g, ans, *args))
        with (contextlib.nullcontext() if create else plain_mode()):
            out = _adjoint_backward(func, g, ans, args[1], args[2:], diff, opts, who)
        if not create:
            out = {k: as_plain_result(v) for k, v in out.items()}
        cache["key"], cache["cts"] = (g, ans), out
        return out

    def rule(i: int) -> Callable:
        return lambda g, ans, *args: cotangents(g, ans, args)[i]

    idx = (0, 1, *[2 + j for j in diff])
    defvjp(prim, *[rule(i) for i in idx], argnums=idx)

    def tangent(ts: list, ans: Any, *args: Any) -> Any:
        if any(isinstance(v, Tensor) for v in (ans, *args, *ts)):
            raise NotImplementedError(
                f"{who}: forward mode through the adjoint is first order only; for second "
                f"derivatives use reverse over reverse (cr.hessian), or adjoint=False")
        with plain_mode():
            return _sensitivities(func, ans, args[0], args[1], args[2:], ts, opts, who)

    prim.jvp_all = tangent
    return prim(y0 if isinstance(y0, Tensor) else y0v, t if isinstance(t, Tensor) else tv,
                *params)


def _augmented(func: Callable, shape: tuple, diff: tuple) -> Callable:
    """The adjoint system on z = [y, a, g_θ...] (flat), for backward integration."""
    n = int(np.prod(shape))

    def aug(z: Any, t: Any, *ps: Any) -> Any:
        y = np.reshape(z[:n], shape)
        a = np.reshape(z[n:2 * n], shape)

        def f(y_: Any, *d: Any) -> Any:
            call = list(ps)
            for j, v in zip(diff, d):
                call[j] = v
            return func(y_, t, *call)

        fy, pull = vjp(f, y, *[ps[j] for j in diff])
        cts = pull(a)
        return np.concatenate([np.reshape(fy, (n,))] + [-np.reshape(c, (-1,)) for c in cts])

    aug.__name__ = f"adjoint of {name_of(func)}"
    return aug


def _adjoint_backward(func: Callable, G: Any, Y: Any, t: Any, ps: tuple, diff: tuple,
                      opts: _Options, who: str) -> dict:
    """{argument index: cotangent} for (y0, t, params...) given the outputs' cotangent G."""
    N = np.shape(plain(Y))[0]
    shape = tuple(np.shape(plain(Y))[1:])
    n = int(np.prod(shape))
    sizes = [int(np.size(plain(ps[j]))) for j in diff]
    aug = _augmented(func, shape, diff)
    if opts.adjoint == "interpolated" and any(isinstance(v, Tensor) for v in (G, Y, t, *ps)):
        raise NotImplementedError(
            f"{who}: adjoint='interpolated' is first order; for second derivatives use "
            f"adjoint=True (the backward pass is then an odeint itself) or adjoint=False")
    aug_opts = replace(opts, rtol=opts.adjoint_rtol, atol=opts.adjoint_atol, adjoint="backsolve",
                       checkpoint=None, first_step=None)
    a = G[N - 1]
    gth = [np.zeros(s) for s in sizes]
    gts = []
    for i in range(N - 1, 0, -1):
        gts.append(np.sum(G[i] * func(Y[i], t[i], *ps)))  # y(t_i) moves with t_i
        if opts.adjoint == "interpolated":
            zt = _interpolated(func, a, gth, Y[i - 1], t[i - 1], t[i], ps, diff, aug_opts, who)
            zt = np.concatenate([np.zeros(n), zt])
        else:
            z = np.concatenate([np.reshape(Y[i], (n,)), np.reshape(a, (n,)), *gth])
            zt = _odeint(aug, z, np.stack([t[i], t[i - 1]]), ps, aug_opts,
                         f"{who}, adjoint")[-1]
            _check_reconstruction(plain(zt[:n]), plain(Y[i - 1]), plain(t[i]),
                                  plain(t[i - 1]), opts, who)
        a = np.reshape(zt[n:2 * n], shape) + G[i - 1]
        off = 2 * n
        gth = []
        for s in sizes:
            gth.append(zt[off:off + s])
            off += s
    # y(t_0) = y0 does not move with t_0, the later outputs do: -a(t_0)·f(y0, t_0)
    gt0 = -np.sum((a - G[0]) * func(Y[0], t[0], *ps)) if N > 1 else np.sum(G[0] * 0.0)
    out: dict[int, Any] = {0: a, 1: np.stack([gt0] + gts[::-1])}
    for j, gj in zip(diff, gth):
        out[2 + j] = np.reshape(gj, np.shape(plain(ps[j])))
    return out


INTERPOLATION_TIGHTER = 1e-3


def _interpolated(func: Callable, a: np.ndarray, gth: list, y_prev: np.ndarray, t_prev: float,
                  t_i: float, ps: tuple, diff: tuple, opts: _Options, who: str) -> np.ndarray:
    """[a, g_θ] at t_prev, integrating a' = -aᵀ∂f/∂y, g' = -aᵀ∂f/∂θ backwards from t_i with
    y from the cubic Hermite interpolant of the forward solution, solved again from the
    stored y(t_prev) (never run backwards: stable for stiff, dissipative dynamics)."""
    shape = np.shape(y_prev)
    n = int(np.prod(shape))
    y_prev = np.asarray(y_prev, dtype=np.float64)
    # a fifth-order method is re-solved 1000x tighter than asked: the (fourth-order) cubic
    # interpolant between its steps is then more accurate than the adjoint's own tolerance
    # (Lotka-Volterra: 1e-7 -> 4e-9 relative); lower orders are interpolated as they are
    fine = replace(opts, rtol=opts.rtol * (INTERPOLATION_TIGHTER if opts.method.order >= 5
                                           else 1.0))
    _, run = _forward(func, y_prev, np.array([float(t_prev), float(t_i)]), ps, fine, who,
                      record=True)
    f_prev = as_plain_result(func(y_prev, float(t_prev), *ps)).reshape(-1)
    path = Hermite([float(t_prev)] + run.times, [y_prev.reshape(-1)] + run.states,
                   [f_prev] + run.slopes)

    def back(t: Any, w: Any) -> Any:
        y = np.reshape(path(t), shape)

        def f(y_: Any, *d: Any) -> Any:
            call = list(ps)
            for j, v in zip(diff, d):
                call[j] = v
            return func(y_, t, *call)

        _, pull = vjp(f, y, *[ps[j] for j in diff])
        cts = pull(np.reshape(w[:n], shape))
        return np.concatenate([-np.reshape(c, (-1,)) for c in cts])

    def rhs(t: float, w: np.ndarray) -> np.ndarray:
        return as_plain_result(back(t, w))

    jac = None
    if opts.method.implicit:
        jg = _jac(back)

        def jac(t: float, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            J, T = jg(t, w)
            return as_plain_result(J), as_plain_result(T)

    w0 = np.concatenate([np.reshape(a, (n,))] + [np.reshape(g, (-1,)) for g in gth])
    with np.errstate(over="ignore", invalid="ignore"):
        out = integrate(rhs, w0, np.array([float(t_i), float(t_prev)]), method=opts.method,
                        rtol=opts.rtol, atol=opts.atol, jac=jac, max_step=opts.max_step,
                        max_steps=opts.max_steps, who=f"{who}, adjoint")
    return out.ys[-1]


RECONSTRUCTION_FACTOR = 1e3


def _check_reconstruction(y_back: np.ndarray, y_stored: np.ndarray, t_from: float, t_to: float,
                          opts: _Options, who: str) -> None:
    """The adjoint re-integrates y backwards; where that is unstable (strongly dissipative,
    stiff dynamics) the y it reaches differs from the stored output by far more than the
    tolerances allow, and the gradient would be wrong: refused."""
    y_stored = np.reshape(y_stored, -1)
    scale = np.asarray(opts.atol) + opts.rtol * np.abs(y_stored)
    with np.errstate(over="ignore", invalid="ignore"):
        err = float(np.max(np.abs(np.reshape(y_back, -1) - y_stored) / scale))
    if not err <= RECONSTRUCTION_FACTOR:
        raise errors.GradientError(
            f"{who}: the adjoint integrated y backwards from t={float(t_from):g} to "
            f"t={float(t_to):g} and reached a state {err:.3g} tolerances away from the forward "
            f"solution there (the dynamics are too dissipative or stiff to run backwards), so "
            f"its gradient would be wrong.  Use adjoint=False (checkpoint=k bounds its memory),"
            f" or more output times in t (each restarts y from the stored value)")


def _sensitivities(func: Callable, Y: np.ndarray, y0: np.ndarray, t: np.ndarray, ps: tuple,
                   ts: list, opts: _Options, who: str) -> np.ndarray:
    """Forward mode: integrate s' = ∂f/∂y s + Σ ∂f/∂θ_j θ̇_j alongside y."""
    shape = np.shape(Y)[1:]
    n = int(np.prod(shape))
    dy0 = ts[0] if ts[0] is not None else np.zeros(shape)
    dt = ts[1]
    pidx = [j for j in range(len(ps)) if ts[2 + j] is not None]
    if dt is not None:
        dy0 = dy0 - np.asarray(func(np.asarray(y0), t[0], *ps)) * dt[0]

    def sens(w: Any, tt: Any, *pp: Any) -> Any:
        y = np.reshape(w[:n], shape)
        s = np.reshape(w[n:], shape)

        def f(y_: Any, *d: Any) -> Any:
            call = list(pp)
            for j, v in zip(pidx, d):
                call[j] = v
            return func(y_, tt, *call)

        fy, ds = jvp(f, (y, *[pp[j] for j in pidx]), (s, *[ts[2 + j] for j in pidx]))
        return np.concatenate([np.reshape(fy, (n,)), np.reshape(ds, (n,))])

    w0 = np.concatenate([np.reshape(y0, (n,)), np.reshape(dy0, (n,))])
    W, _ = _forward(sens, w0, t, ps, replace(opts, atol=np.min(opts.atol)), who)
    S = W[:, n:].reshape(np.shape(Y))
    S[0] = ts[0] if ts[0] is not None else 0.0
    if dt is not None:
        for i in range(1, len(t)):
            S[i] = S[i] + np.asarray(func(Y[i], t[i], *ps)) * dt[i]
    return S


# --- through the steps ------------------------------------------------------------------------


def _through_steps(func: Callable, y0: Any, t: Any, y0v: np.ndarray, tv: np.ndarray,
                   params: tuple, plain_ps: tuple, opts: _Options, who: str,
                   pre: tuple | None) -> Any:
    """The same steps as the plain solve, taken again on Tensors (each step's size a fixed
    fraction of its output interval, so the output times stay differentiable)."""
    if pre is not None and pre[1] is not None and pre[1].steps:
        run = pre[1]
    else:
        run = _forward(func, y0v, tv, plain_ps, opts, who, record=True)[1]
    shape = y0v.shape
    n = int(np.prod(shape))
    by_interval: list[list] = [[] for _ in range(len(tv) - 1)]
    for i, a, b in run.steps:
        by_interval[i].append((a, b))
    step = opts.method.step
    implicit = opts.method.implicit

    def steps(y: Any, ta: Any, width: Any, fracs: tuple, *ps: Any) -> Any:
        rhs = _rhs(func, shape, ps, who)
        jac = _jac(rhs) if implicit else None
        f0 = rhs(ta + fracs[0][0] * width, y)
        for a, b in fracs:
            tk = ta + a * width
            h = (b - a) * width
            y, _, f0 = step(rhs, tk, y, h, f0, jac) if implicit else step(rhs, tk, y, h, f0)
        return y

    # a Tensor from the start (a constant one for a plain y0): func may write into
    # np.zeros_like(y), as SciPy-style code does, and that must be a Tensor too
    y = np.reshape(y0 if isinstance(y0, Tensor) else Tensor._make(y0v, None, None), (n,))
    T = t if isinstance(t, Tensor) else tv
    outs = [y]
    k = opts.checkpoint
    for i, fr in enumerate(by_interval):
        ta, width = T[i], T[i + 1] - T[i]
        chunks = [tuple(fr)] if not k else [tuple(fr[j:j + k]) for j in range(0, len(fr), k)]
        for ch in chunks:
            if k:
                y = _checkpoint(lambda yy, aa, ww, *pp, _ch=ch: steps(yy, aa, ww, _ch, *pp))(
                    y, ta, width, *params)
            else:
                y = steps(y, ta, width, ch, *params)
        outs.append(y)
    return np.reshape(np.stack(outs), (len(tv),) + shape)


# --- solve_ivp ----------------------------------------------------------------------------------


class OdeResult(dict):
    """What ``solve_ivp`` returns, as SciPy's: ``t`` (n_points,), ``y`` (n, n_points) (a
    Tensor when differentiable), ``success``, ``status``, ``message``, ``nfev``, ``njev``,
    ``nlu``, ``sol`` and ``t_events``/``y_events`` (None: not supported)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __repr__(self) -> str:
        return "\n".join(f"{k:>9}: {v!r}" for k, v in self.items())


def solve_ivp(fun: Callable, t_span: Sequence[float], y0: Any, method: str = "RK45",
              t_eval: Any = None, args: Sequence[Any] | None = None, *, rtol: float = 1e-3,
              atol: float = 1e-6, adjoint: bool | str = True, checkpoint: int | None = None,
              first_step: float | None = None, max_step: float = np.inf,
              max_steps: int = 100_000) -> OdeResult:
    """``scipy.integrate.solve_ivp``'s signature (``fun(t, y, *args)``, 1-D ``y0``, SciPy's
    default tolerances) on chainrule's own solvers, differentiable like :func:`odeint`
    (w.r.t. ``y0`` and the Tensors in ``args``).

    ``method``: ``"RK45"`` (Dormand–Prince 5(4)), ``"RK23"`` (Bogacki–Shampine 3(2)) or
    ``"Rosenbrock23"`` (implicit, for stiff problems; SciPy's Radau/BDF/LSODA are not
    reimplemented).  Without ``t_eval`` the result holds the accepted steps' times.
    Events and dense output are not supported.
    """
    who = f"solve_ivp({name_of(fun)})"
    if method in ("Radau", "BDF", "LSODA", "DOP853"):
        raise ValueError(f"{who}: method {method!r} is SciPy's own and not differentiated "
                         f"here; use 'RK45', 'RK23' or, for stiff problems, 'Rosenbrock23'")
    m = _method(method, who)
    y0v = float_array(y0, who, "y0")
    if y0v.ndim != 1:
        raise errors.ShapeError(f"{who}: y0 must be 1-dimensional, got shape {y0v.shape}")
    if len(t_span) != 2:
        raise ValueError(f"{who}: t_span must be (t0, tf)")
    t0, tf = (float(plain(s)) for s in t_span)
    args = tuple(args) if args is not None else ()
    opts = _Options(m, float(rtol), atol, first_step, float(max_step), int(max_steps),
                    _adjoint_kind(adjoint, who), checkpoint, float(rtol), float(np.min(atol)))

    def func(y: Any, t: Any, *a: Any) -> Any:
        out = fun(t, y, *a)
        if isinstance(out, (list, tuple)):  # [dy0, dy1], as SciPy allows
            return np.stack([v if isinstance(v, Tensor) else np.asarray(v) for v in out])
        return out

    func.__name__ = name_of(fun)
    plain_args = tuple(plain(a) if isinstance(a, Tensor) else a for a in args)
    y0f = y0v.astype(np.float64)
    if t_eval is None:  # the accepted steps are the output times: one step per interval
        _, run = _forward(func, y0f, np.array([t0, tf]), plain_args, opts, who, record=True)
        ts = np.array([t0] + run.times)
        Y = np.stack([y0f] + run.states) if run.states else y0f[None]
        run.steps = [(i, 0.0, 1.0) for i in range(len(run.times))]
        keep = slice(None)
    else:
        ts = _times(t_eval, who)
        lo, hi = min(t0, tf), max(t0, tf)
        if np.any(ts < lo - 1e-12 * abs(lo)) or np.any(ts > hi + 1e-12 * abs(hi)) or (
                ts.size > 1 and (ts[-1] - ts[0]) * (tf - t0) < 0):
            raise ValueError(f"{who}: t_eval must lie within t_span, in its direction")
        keep = slice(None) if ts[0] == t0 else slice(1, None)
        if ts[0] != t0:
            ts = np.concatenate([[t0], ts])
        Y, run = _forward(func, y0f, ts, plain_args, opts, who, record=True)
    Y = _odeint(func, y0, ts, args, opts, who, pre=(Y, run))[keep]
    ts = ts[keep]
    stats = run
    res = OdeResult()
    res.t = np.asarray(ts)
    res.y = np.transpose(Y)
    res.sol = None
    res.t_events = None
    res.y_events = None
    res.nfev = stats.nfev
    res.njev = stats.njev
    res.nlu = stats.nsteps if m.implicit else 0
    res.status = 0
    res.message = "The solver successfully reached the end of the integration interval."
    res.success = True
    return res
