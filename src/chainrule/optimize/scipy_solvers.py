"""SciPy's minimize, root and least_squares with chainrule's exact derivatives, and
solutions differentiable in ``args`` (implicit differentiation of the optimality
condition).  SciPy is imported when one of them is called."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..core import errors
from ..core.tensor import Tensor
from ..transforms import grad, hvp, jacobian, value_and_grad
from ._common import as_plain_result, float_array, name_of, plain, traced
from .implicit import implicit_root

# methods of scipy.optimize.minimize that use a gradient / a Hessian-vector product /
# only a full Hessian
_GRADIENT = {"cg", "bfgs", "l-bfgs-b", "tnc", "slsqp", "newton-cg", "trust-ncg",
             "trust-krylov", "trust-exact", "dogleg", "trust-constr"}
_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_HESS = {"trust-exact", "dogleg"}


def _scipy_optimize(who: str) -> Any:
    try:
        import scipy.optimize as so
    except ImportError:
        raise ImportError(f"cr.optimize.{who} wraps scipy.optimize, which is not installed; "
                          f"pip install scipy (or pip install -e \".[scipy]\")") from None
    return so


def _plain_args(args: Any) -> tuple[tuple, tuple]:
    args = args if isinstance(args, tuple) else (args,)
    return args, tuple(plain(a) if isinstance(a, Tensor) else a for a in args)


def minimize(fun: Callable, x0: Any, args: Any = (), method: str | None = "BFGS", *,
             bounds: Any = None, constraints: Any = (), tol: float | None = None,
             callback: Callable | None = None, options: dict | None = None) -> Any:
    """``scipy.optimize.minimize`` with the exact gradient (``jac``), Hessian-vector products
    (``hessp``, for Newton-CG, trust-ncg, trust-krylov, trust-constr) or Hessian (``hess``,
    for trust-exact and dogleg) computed by chainrule from ``fun(x, *args)`` (a scalar).

    ``x0`` keeps its shape: ``fun`` receives x shaped like ``x0`` and ``result.x`` has that
    shape.  When Tensors that require gradients are among ``args``, ``result.x`` (and
    ``result.fun``) are Tensors differentiable in them: x* is the root of ∇ₓfun(x, *args),
    differentiated implicitly (the optimizer's iterations are not).  That needs an
    unconstrained minimum: bounds active at the solution, or constraints, with traced args
    raise a GradientError.
    """
    so = _scipy_optimize("minimize")
    who = f"minimize({name_of(fun)})"
    x0v = float_array(x0, who, "x0")
    shape = x0v.shape
    args, pargs = _plain_args(args)
    m = (method or "BFGS").lower() if isinstance(method, str) else method
    diff = any(traced(a) for a in args)
    if diff and constraints:
        raise errors.GradientError(
            f"{who}: the solution of a constrained problem is not differentiated (its "
            f"optimality condition involves the multipliers); pass the parameters as "
            f"constants or fold the constraints into the objective")
    out: dict[str, Any] = {}

    def scalar(x: Any, *a: Any) -> Any:
        v = fun(x, *a)
        if np.size(plain(v)) != 1:
            raise errors.ShapeError(f"{who}: fun returned shape {np.shape(plain(v))}; "
                                    f"minimize needs a scalar")
        return np.reshape(v, ())

    vg = value_and_grad(scalar)

    def run(_f: Callable, x0_: np.ndarray, *a: Any) -> np.ndarray:
        kw: dict[str, Any] = {}

        def f_and_g(z: np.ndarray, *aa: Any) -> tuple[float, np.ndarray]:
            v, g = vg(z.reshape(shape), *aa)
            return float(as_plain_result(v)), as_plain_result(g).ravel()

        def f_only(z: np.ndarray, *aa: Any) -> float:
            return float(as_plain_result(scalar(z.reshape(shape), *aa)))

        if isinstance(m, str) and m in _GRADIENT:
            kw["jac"] = True
            f_use: Callable = f_and_g
        else:
            f_use = f_only
        if m in _HESSP:
            kw["hessp"] = lambda z, p, *aa: _hessp(scalar, z.reshape(shape), p.reshape(shape),
                                                   aa).ravel()
        elif m in _HESS:
            n = int(np.prod(shape))
            kw["hess"] = lambda z, *aa: as_plain_result(jacobian(
                lambda y: np.reshape(grad(scalar)(np.reshape(y, shape), *aa), (n,)))(z))
        res = so.minimize(f_use, x0_.ravel(), args=a, method=method, bounds=bounds,
                          constraints=constraints, tol=tol, callback=callback,
                          options=options, **kw)
        out["res"] = res
        return np.asarray(res.x).reshape(shape)

    def optimality(x: Any, *a: Any) -> Any:
        return grad(scalar)(x, *a)

    optimality.__name__ = f"grad({name_of(fun)})"
    x = implicit_root(optimality, run, x0v, args if diff else pargs, who=who)
    res = out["res"]
    if diff:
        if bounds is not None:
            _refuse_active_bounds(who, plain(x), bounds, pairs=True)
        res.x = x
        res.fun = scalar(x, *args)
    else:
        res.x = np.asarray(res.x).reshape(shape)
    return res


def _hessp(scalar: Callable, x: np.ndarray, p: np.ndarray, args: tuple) -> np.ndarray:
    """H(x) p by forward over reverse (``cr.hvp``); reverse over reverse, the gradient of
    ∇f(x)·p, where fun holds an operation without second-order forward mode (odeint's
    adjoint)."""
    try:
        return as_plain_result(hvp(lambda y: scalar(y, *args), x, p))
    except NotImplementedError:
        return as_plain_result(grad(lambda y: np.sum(grad(scalar)(y, *args) * p))(x))


def _refuse_active_bounds(who: str, x: np.ndarray, bounds: Any, pairs: bool = False) -> None:
    lo, hi = _bounds_arrays(bounds, x.size, pairs)
    xf = x.ravel()
    scale = 1e-8 * (1.0 + np.abs(xf))
    if np.any(np.abs(xf - lo) <= scale) or np.any(np.abs(hi - xf) <= scale):
        raise errors.GradientError(
            f"{who}: a bound is active at the solution, where the gradient of fun is not zero; "
            f"the solution's derivative in args would need the bound's multiplier (not done)")


def _bounds_arrays(bounds: Any, n: int, pairs: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds: a scipy Bounds, (min, max) pairs (minimize's form) or a
    (lower, upper) 2-tuple (least_squares' form)."""
    if hasattr(bounds, "lb"):
        lo, hi = bounds.lb, bounds.ub
    elif not pairs:
        lo, hi = bounds
    else:
        pairs = list(bounds)
        lo = [-np.inf if b[0] is None else b[0] for b in pairs]
        hi = [np.inf if b[1] is None else b[1] for b in pairs]
    lo = np.broadcast_to(np.asarray(lo, float), (n,))
    hi = np.broadcast_to(np.asarray(hi, float), (n,))
    return lo, hi


def root(fun: Callable, x0: Any, args: Any = (), method: str = "hybr", *,
         tol: float | None = None, callback: Callable | None = None,
         options: dict | None = None) -> Any:
    """``scipy.optimize.root`` with the exact Jacobian of ``fun(x, *args)`` (for the methods
    that use one: hybr, lm) and a solution differentiable w.r.t. the Tensors in ``args``
    (implicit function theorem).  ``fun``'s output has x's shape; x keeps x0's shape."""
    so = _scipy_optimize("root")
    who = f"root({name_of(fun)})"
    x0v = float_array(x0, who, "x0")
    shape = x0v.shape
    n = int(np.prod(shape))
    args, pargs = _plain_args(args)
    diff = any(traced(a) for a in args)
    out: dict[str, Any] = {}

    def flat(z: Any, *a: Any) -> Any:
        return np.reshape(fun(np.reshape(z, shape), *a), (-1,))

    def run(_f: Callable, x0_: np.ndarray, *a: Any) -> np.ndarray:
        def f_use(z: np.ndarray, *aa: Any) -> np.ndarray:
            r = as_plain_result(flat(z, *aa))
            if r.size != n:
                raise errors.ShapeError(f"{who}: fun returned {r.size} values for {n} "
                                        f"unknowns; root needs a square system")
            return r

        kw: dict[str, Any] = {}
        if method in ("hybr", "lm"):
            kw["jac"] = lambda z, *aa: as_plain_result(jacobian(flat)(z, *aa))
        res = so.root(f_use, x0_.ravel(), args=a, method=method, tol=tol, callback=callback,
                      options=options, **kw)
        out["res"] = res
        return np.asarray(res.x).reshape(shape)

    x = implicit_root(fun, run, x0v, args if diff else pargs, who=who)
    res = out["res"]
    res.x = x if diff else np.asarray(res.x).reshape(shape)
    return res


def least_squares(fun: Callable, x0: Any, args: Any = (), *, method: str = "trf",
                  bounds: Any = (-np.inf, np.inf), loss: str = "linear", f_scale: float = 1.0,
                  ftol: float = 1e-8, xtol: float = 1e-8, gtol: float = 1e-8,
                  x_scale: Any = 1.0, max_nfev: int | None = None, **kwargs: Any) -> Any:
    """``scipy.optimize.least_squares`` with the exact Jacobian of the residuals
    ``fun(x, *args)`` (an array of any shape; x is 1-D or keeps x0's shape).

    With Tensors that require gradients among ``args``, ``result.x`` is differentiable in
    them through the normal equations J(x)ᵀ r(x) = 0 (the gradient of ½|r|²), by implicit
    differentiation; that needs ``loss="linear"`` and no active bound (else GradientError).
    """
    so = _scipy_optimize("least_squares")
    who = f"least_squares({name_of(fun)})"
    x0v = float_array(x0, who, "x0")
    shape = x0v.shape
    args, pargs = _plain_args(args)
    diff = any(traced(a) for a in args)
    if diff and loss != "linear":
        raise errors.GradientError(f"{who}: a solution is differentiated for loss='linear' "
                                   f"only (got loss={loss!r})")
    out: dict[str, Any] = {}

    def flat(z: Any, *a: Any) -> Any:
        return np.reshape(fun(np.reshape(z, shape), *a), (-1,))

    def run(_f: Callable, x0_: np.ndarray, *a: Any) -> np.ndarray:
        res = so.least_squares(
            lambda z, *aa: as_plain_result(flat(z, *aa)), x0_.ravel(),
            jac=lambda z, *aa: np.atleast_2d(as_plain_result(jacobian(flat)(z, *aa))),
            args=a, method=method, bounds=bounds, loss=loss, f_scale=f_scale, ftol=ftol,
            xtol=xtol, gtol=gtol, x_scale=x_scale, max_nfev=max_nfev, **kwargs)
        out["res"] = res
        return np.asarray(res.x).reshape(shape)

    def normal_equations(x: Any, *a: Any) -> Any:
        return grad(lambda y: 0.5 * np.sum(flat(y, *a) ** 2))(x)

    normal_equations.__name__ = f"normal_equations({name_of(fun)})"
    x = implicit_root(normal_equations, run, x0v, args if diff else pargs, who=who)
    res = out["res"]
    if diff:
        if bounds is not None and not (np.all(np.isneginf(np.asarray(bounds[0], float))) and
                                       np.all(np.isposinf(np.asarray(bounds[1], float)))):
            _refuse_active_bounds(who, plain(x), bounds)
        res.x = x
    else:
        res.x = np.asarray(res.x).reshape(shape)
    return res
