"""Implicit differentiation: gradients of a solution x*(θ) of f(x, θ) = 0 without
differentiating the solver.

By the implicit function theorem, ∂f/∂x dx* + ∂f/∂θ dθ = 0 at the solution, so

* reverse mode (VJP): solve (∂f/∂x)ᵀ u = ḡ, then θ̄ = -(∂f/∂θ)ᵀ u (one VJP of f);
* forward mode (JVP): solve (∂f/∂x) ẋ = -(∂f/∂θ) θ̇.

The linear system is solved densely with the Jacobian from ``cr.jacobian`` (exact, and
itself differentiable: higher derivatives work) or, for a large x, matrix-free with
GMRES on VJPs / JVPs of f (first order).  The solver only ever sees plain NumPy values.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

import numpy as np

from ..core import errors
from ..core.primitive import Primitive, defvjp
from ..core.tensor import Tensor
from ..transforms import jacobian, jvp, vjp
from ._common import ConvergenceError, array_valued, as_plain_result, float_array, gmres, \
    name_of, plain, plain_mode, traced, untraced

DENSE_MAX = 200  # linear_solve="auto": a dense Jacobian up to this many unknowns
_METHODS = ("auto", "dense", "gmres", "fixed_point")


def custom_root(f: Callable, solve: Callable, *, linear_solve: str = "auto",
                linear_tol: float = 1e-12) -> Callable:
    """A root finder whose solution is differentiable by the implicit function theorem.

    ``f(x, *params)`` is the system (its output has x's shape); ``solve(f, x0, *params)``
    is any solver, written with plain NumPy (it is never differentiated), returning x*
    with ``f(x*, *params) = 0``.  Returns ``root(x0, *params) -> x*``: differentiable
    w.r.t. every Tensor among ``params`` in reverse and forward mode (and to higher order
    with the dense linear solve); the derivative w.r.t. ``x0`` is zero.

    ``linear_solve``: ``"dense"`` (the Jacobian ∂f/∂x by ``cr.jacobian`` and a dense solve;
    differentiable again), ``"gmres"`` (matrix-free, one VJP/JVP of f per iteration, first
    order only) or ``"auto"`` (dense up to 200 unknowns).  Values that must be
    differentiated are passed in ``params``, not closed over by f.
    """
    _check_method(linear_solve, "custom_root")
    who = f"custom_root({name_of(f)})"

    def root(x0: Any, *params: Any) -> Any:
        return implicit_root(f, solve, x0, params, who=who, linear_solve=linear_solve,
                             linear_tol=linear_tol)

    root.__name__ = who
    root.__doc__ = f"The root of {name_of(f)} found by {name_of(solve)}, differentiable " \
                   f"in its parameters (implicit function theorem)."
    return root


def fixed_point(g: Callable, x0: Any, *params: Any, tol: float = 1e-10, max_iter: int = 1000,
                linear_solve: str = "auto", linear_tol: float = 1e-12) -> Any:
    """x* with ``x* = g(x*, *params)``, by the iteration x ← g(x, *params) from ``x0``.

    Converged when ``|x_new - x| <= tol * (1 + |x_new|)``; raises
    :class:`ConvergenceError` (a ``cr.ChainruleError``) naming g after ``max_iter``
    iterations or on a non-finite iterate.  The derivative w.r.t. the Tensors in
    ``params`` is implicit (the iterations are not differentiated): ``linear_solve``
    ``"dense"``, ``"gmres"``, ``"fixed_point"`` (the adjoint iteration u ← (∂g/∂x)ᵀu + ḡ,
    which converges when the forward iteration does) or ``"auto"`` (dense up to 200
    unknowns, else the adjoint iteration).
    """
    _check_method(linear_solve, "fixed_point")
    who = f"fixed_point({name_of(g, 'g')})"
    if linear_solve == "auto" and plain(x0).size > DENSE_MAX:
        linear_solve = "fixed_point"

    def iterate(_f: Callable, x: Any, *ps: Any) -> np.ndarray:
        x = np.array(x, dtype=np.result_type(x, np.float64))
        step = np.inf
        for _ in range(max_iter):
            xn = untraced(g(x, *ps), who, "g(x, *params)")
            if xn.shape != x.shape:
                raise errors.ShapeError(
                    f"{who}: g(x, *params) returned shape {xn.shape} for x of shape {x.shape}; "
                    f"a fixed point needs g to return x's shape")
            with np.errstate(over="ignore", invalid="ignore"):
                step = float(np.linalg.norm(xn - x))
                size = float(np.linalg.norm(xn))
            if not (np.all(np.isfinite(xn)) and np.isfinite(size)):
                raise ConvergenceError(f"{who}: the iteration produced a non-finite value "
                                       f"(|x| was {np.linalg.norm(x):.3g}); it diverges")
            if step <= tol * (1.0 + size):
                return xn
            x = xn
        raise ConvergenceError(
            f"{who}: no convergence after max_iter={max_iter} iterations (last step "
            f"{step:.3g}, tol {tol:g}); g may not be a contraction near x0, or needs more "
            f"iterations (max_iter=...)")

    def residual(x: Any, *ps: Any) -> Any:
        return g(x, *ps) - x

    residual.__name__ = name_of(g, "g")
    return implicit_root(residual, iterate, x0, params, who=who, linear_solve=linear_solve,
                         linear_tol=linear_tol)


def _check_method(method: str, who: str) -> None:
    if method not in _METHODS or (method == "fixed_point" and who != "fixed_point"):
        ok = [m for m in _METHODS if m != "fixed_point" or who == "fixed_point"]
        raise ValueError(f"{who}: linear_solve={method!r}; choose one of {ok}")


def implicit_root(f: Callable, solve: Callable, x0: Any, params: Sequence[Any], *, who: str,
                  linear_solve: str = "auto", linear_tol: float = 1e-12) -> Any:
    """``solve(f, x0, *params)`` as one recorded operation with implicit VJP/JVP rules."""
    x0v = float_array(x0, who, "x0")
    f = array_valued(f)
    params = tuple(params)
    diff = tuple(j for j, p in enumerate(params) if traced(p))

    def run(x0_: Any, *ps: Any) -> np.ndarray:
        x0_ = np.asarray(x0_)
        with plain_mode():
            xs = as_plain_result(solve(f, x0_, *ps))
            if xs.shape != x0_.shape:
                raise errors.ShapeError(
                    f"{who}: the solver returned shape {xs.shape} for x0 of shape {x0_.shape}")
            r = untraced(f(xs, *ps), who, "f(x, *params)")
        if r.shape != xs.shape:
            raise errors.ShapeError(
                f"{who}: f(x, *params) returned shape {r.shape} for x of shape {xs.shape}; "
                f"implicit differentiation needs a square system (f's output of x's shape)")
        if not np.all(np.isfinite(xs)):
            raise ConvergenceError(f"{who}: the solver returned non-finite values")
        return xs.astype(np.result_type(x0_.dtype, np.float64), copy=False)

    if not diff:
        return run(x0v, *[plain(p) if isinstance(p, Tensor) else p for p in params])

    prim = Primitive(run, name=who)
    cache: dict[str, Any] = {}

    def cotangents(g: Any, ans: Any, args: tuple) -> dict:
        key = cache.get("key")
        if key is not None and key[0] is g and key[1] is ans:
            return cache["cts"]
        create = isinstance(g, Tensor) or isinstance(ans, Tensor)
        ps = args[1:]
        with (contextlib.nullcontext() if create else plain_mode()):
            u = _adjoint(f, ans, ps, g, linear_solve, linear_tol, create, who)

            x = ans if isinstance(ans, Tensor) else Tensor._make(ans, None, None)

            def f_theta(*d: Any) -> Any:  # (x a Tensor: f may write into np.zeros_like(x))
                return f(x, *_merge(ps, diff, d))

            _, pull = vjp(f_theta, *[ps[j] for j in diff])
            cts = pull(-u)
        if not create:
            cts = tuple(as_plain_result(c) for c in cts)
        out = dict(zip(diff, cts))
        cache["key"], cache["cts"] = (g, ans), out
        return out

    def x0_rule(g: Any, ans: Any, *args: Any) -> Any:
        return g * 0.0

    def param_rule(j: int) -> Callable:
        def rule(g: Any, ans: Any, *args: Any) -> Any:
            return cotangents(g, ans, args)[j]
        return rule

    defvjp(prim, x0_rule, *[param_rule(j) for j in diff], argnums=(0, *[1 + j for j in diff]))

    def tangent(ts: list, ans: Any, *args: Any) -> Any:
        ps = args[1:]
        pairs = [(j, ts[1 + j]) for j in range(len(ps)) if ts[1 + j] is not None]
        if not pairs:
            return np.zeros(np.shape(plain(ans)), plain(ans).dtype)
        create = any(isinstance(v, Tensor) for v in (ans, *args, *(t for _, t in pairs)))
        with (contextlib.nullcontext() if create else plain_mode()):
            dx = _tangent(f, ans, ps, pairs, linear_solve, linear_tol, create, who)
        return dx if create else as_plain_result(dx)

    prim.jvp_all = tangent
    return prim(x0 if isinstance(x0, Tensor) else x0v, *params)


def _merge(ps: tuple, idx: tuple, vals: tuple) -> list:
    out = list(ps)
    for j, v in zip(idx, vals):
        out[j] = v
    return out


def _dense(method: str, n: int, create: bool) -> bool:
    return create or method == "dense" or (method == "auto" and n <= DENSE_MAX)


def _jac_x(f: Callable, x: Any, ps: tuple, who: str) -> Any:
    shape = np.shape(plain(x))
    n = int(np.prod(shape))

    def fx(z: Any) -> Any:
        return np.reshape(f(np.reshape(z, shape), *ps), (n,))

    return jacobian(fx)(np.reshape(x, (n,)))


def _solve(A: Any, b: Any, who: str) -> Any:
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        raise errors.LinAlgError(
            f"{who}: the Jacobian ∂f/∂x at the solution is singular, so the solution is not a "
            f"locally unique, differentiable function of the parameters") from None


def _adjoint(f: Callable, x: Any, ps: tuple, g: Any, method: str, tol: float, create: bool,
             who: str) -> Any:
    """u with (∂f/∂x)ᵀ u = g at the solution x."""
    shape = np.shape(plain(x))
    n = int(np.prod(shape))
    if _dense(method, n, create):
        J = _jac_x(f, x, ps, who)
        return np.reshape(_solve(np.transpose(J), np.reshape(g, (n,)), who), shape)
    _, pull = vjp(lambda z: f(z, *ps), x)
    gv = np.reshape(plain(g), (n,))

    def jt(v: np.ndarray) -> np.ndarray:
        return np.reshape(as_plain_result(pull(np.reshape(v, shape))[0]), (n,))

    if method == "fixed_point":  # f = g - x: (Jg - I)ᵀu = ḡ  <=>  u = Jgᵀu - ḡ
        u = np.zeros(n)
        for _ in range(10 * n + 1000):
            un = jt(u) + u - gv
            if np.linalg.norm(un - u) <= tol * (1.0 + np.linalg.norm(un)):
                return np.reshape(un, shape)
            u = un
        raise ConvergenceError(f"{who}: the adjoint fixed-point iteration did not converge; "
                               f"use linear_solve='dense' or 'gmres'")
    return np.reshape(gmres(jt, gv, tol=tol, who=who), shape)


def _tangent(f: Callable, x: Any, ps: tuple, pairs: list, method: str, tol: float,
             create: bool, who: str) -> Any:
    """ẋ with (∂f/∂x) ẋ = -Σ (∂f/∂θ_j) θ̇_j at the solution x."""
    shape = np.shape(plain(x))
    n = int(np.prod(shape))
    idx = tuple(j for j, _ in pairs)
    if _dense(method, n, create):
        def h(x_: Any, *d: Any) -> Any:
            return f(x_, *_merge(ps, idx, d))

        Js = jacobian(h, argnums=tuple(range(len(idx) + 1)))(x, *[ps[j] for j in idx])
        b = 0.0
        for Jt, (_, t) in zip(Js[1:], pairs):
            b = b + np.reshape(np.tensordot(Jt, t, axes=np.ndim(plain(t))), (n,))
        J = np.reshape(Js[0], (n, n))
        return np.reshape(-_solve(J, b, who), shape)
    xt = x if isinstance(x, Tensor) else Tensor._make(np.asarray(x), None, None)
    _, b = jvp(lambda *d: f(xt, *_merge(ps, idx, d)), tuple(ps[j] for j in idx),
               tuple(t for _, t in pairs))

    def jx(v: np.ndarray) -> np.ndarray:
        return np.reshape(as_plain_result(jvp(lambda z: f(z, *ps), (x,),
                                              (np.reshape(v, shape),))[1]), (n,))

    if method == "fixed_point":  # (Jg - I) ẋ = -b  <=>  ẋ = Jg ẋ + b
        v = np.zeros(n)
        bv = np.reshape(as_plain_result(b), (n,))
        for _ in range(10 * n + 1000):
            vn = jx(v) + v + bv
            if np.linalg.norm(vn - v) <= tol * (1.0 + np.linalg.norm(vn)):
                return np.reshape(vn, shape)
            v = vn
        raise ConvergenceError(f"{who}: the tangent fixed-point iteration did not converge")
    return np.reshape(-gmres(jx, np.reshape(as_plain_result(b), (n,)), tol=tol, who=who), shape)
