"""The op test table: one Row per primitive (or composite), checked in every mode.

A row names the primitive it covers (``prim``), a function of arrays that calls NumPy
exactly as a user would (so dispatch is tested too), and example argument shapes with
a valid input range.  Each row is checked in float64 against central differences:

* reverse mode (cr.jacobian) and forward mode (cr.jacfwd) against the numerical Jacobian;
* second order (if ``order >= 2``): the Jacobian of the gradient of <u, f(x)> by
  reverse-over-reverse and forward-over-reverse, against central differences of it;
* PyTorch (``torch_fn``), when torch is installed: the VJP for a random cotangent.

A row may also carry special ``points`` (see ``Point``): arguments where a rule branches on
values (x == 0, ties, infinities, zeros in a product).  tests/test_special_points.py checks
them at orders 1-3; tests/test_optable_jax.py compares every row with JAX (``jax_fn``, or
the row's own function run on jax.numpy through tests/jaxshim.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np


@dataclasses.dataclass
class Point:
    """A special point of a row's function, checked at orders 1..``order`` in reverse,
    forward and mixed mode (the derivative tensors of <u, f> in each differentiated argument,
    u = cotangent(f(*args))), against every reference that applies:

    * central differences of the order below, for orders k <= ``smooth`` (the function's
      derivative of order k - 1 is differentiable there: sinc at 0, a product with zeros);
    * ``expect``: {order: value}, what chainrule promises where the function has a kink or
      the limit is a convention (ties share equally, |x| has slope 0 at 0 ...); a value is a
      number (every entry) or a callable (u, *args) -> the derivative tensor;
    * JAX, when installed, except at the orders in ``not_jax`` (order -> why JAX differs).

    Every order needs a reference that is not JAX (``smooth`` or ``expect``).
    """

    args: list
    order: int = 3
    smooth: int = 3
    expect: dict = dataclasses.field(default_factory=dict)
    not_jax: dict = dataclasses.field(default_factory=dict)
    wrt: tuple | None = None  # the arguments differentiated (default: the row's)
    id: str = ""


@dataclasses.dataclass
class Row:
    prim: str                      # the primitive (registry name) this row covers
    fn: Callable[..., Any]         # f(*arrays) written with NumPy calls
    shapes: list                   # one shape per argument
    low: float = -2.0              # input range (uniform)
    high: float = 2.0
    order: int = 2                 # 0: not differentiable; 1: first only; 2: second too
    torch_fn: Callable | None = None
    dtype: Any = np.float64        # complex128 for complex rows
    args: Callable | None = None   # custom argument maker rng -> list of arrays
    wrt: tuple | None = None       # which arguments to differentiate (default: all)
    id: str = ""
    rtol: float = 1e-5
    atol: float = 1e-6
    points: list = dataclasses.field(default_factory=list)  # special points (Point)
    jax_fn: Callable | None = None  # a jax.numpy version of fn (default: fn on jaxshim)

    def make_args(self, seed: int = 0) -> list:
        rng = np.random.default_rng(seed)
        if self.args is not None:
            return [np.array(a) if isinstance(a, np.ndarray) else a for a in self.args(rng)]
        out = []
        for s in self.shapes:
            a = rng.uniform(self.low, self.high, size=s)
            if np.dtype(self.dtype).kind == "c":
                a = a + 1j * rng.uniform(self.low, self.high, size=s)
            out.append(np.asarray(a, dtype=self.dtype))
        return out

    @property
    def name(self) -> str:
        return self.id or f"{self.prim}{list(self.shapes)}"

    def argnums(self, args: list) -> tuple:
        if self.wrt is not None:
            return tuple(self.wrt)
        return tuple(i for i, a in enumerate(args)
                     if isinstance(a, np.ndarray) and a.dtype.kind in "fc")


def attach_points(rows: list, name: str, *pts: Point) -> None:
    """Attach special points to the rows called ``name`` (there must be one)."""
    found = [r for r in rows if r.name == name]
    assert found, name
    for r in found:
        r.points.extend(pts)


def num_jacobian(f: Callable, args: list, i: int, h: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of f w.r.t. args[i]: shape out.shape + in.shape.

    Complex inputs: columns for the real and imaginary directions, combined into the
    PyTorch-convention derivative (see jac_to_torch_convention)."""
    x = np.asarray(args[i])
    base = np.asarray(f(*args))
    cols = []
    for k in range(x.size):
        cols_k = []
        for direction in ([1.0] if x.dtype.kind != "c" else [1.0, 1j]):
            e = np.zeros(x.size, x.dtype)
            e[k] = direction * h
            a_p = list(args)
            a_m = list(args)
            a_p[i] = x + e.reshape(x.shape)
            a_m[i] = x - e.reshape(x.shape)
            cols_k.append((np.asarray(f(*a_p)) - np.asarray(f(*a_m))) / (2 * h))
        cols.append(cols_k)
    if x.dtype.kind != "c":
        J = np.stack([c[0] for c in cols], axis=-1).reshape(base.shape + x.shape)
        return J
    return np.stack([np.stack(c, axis=-1) for c in cols], axis=-2).reshape(
        base.shape + x.shape + (2,))


def cotangent(out: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(np.shape(out))
    if np.asarray(out).dtype.kind == "c":
        u = u + 1j * rng.standard_normal(np.shape(out))
    return u


def scalarize(f: Callable, u: np.ndarray) -> Callable:
    """x -> <u, f(x)> (real part), a real scalar whose gradient is the VJP with u."""
    def s(*a: Any) -> Any:
        out = f(*a)
        if np.iscomplexobj(u) or np.iscomplexobj(np.asarray(getattr(out, "_value", out))):
            return np.sum(np.real(np.conj(u) * out))
        return np.sum(u * out)
    return s


def close(a: Any, b: Any, row: Row, what: str) -> None:
    a = np.asarray(getattr(a, "_value", a))
    b = np.asarray(getattr(b, "_value", b))
    assert a.shape == b.shape, f"{row.name} {what}: shape {a.shape} vs {b.shape}"
    np.testing.assert_allclose(a, b, rtol=row.rtol * 100 if "2nd" in what else row.rtol,
                               atol=row.atol * 100 if "2nd" in what else row.atol,
                               err_msg=f"{row.name}: {what}")


class Table(list):
    """A family's rows; ``ROWS.row(...)`` appends one (torch references dropped without torch)."""

    def row(self, prim: str, fn: Callable, shapes: list, torch_fn: Callable | None = None,
            id: str = "", **kw: Any) -> None:
        self.append(Row(prim, fn, shapes, torch_fn=torch_fn if _has_torch() else None, id=id, **kw))


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


def interrupt_at_step(monkeypatch: Any, n: int) -> None:
    """Make the n-th optim.Adam.step raise KeyboardInterrupt (a Ctrl-C mid-training)."""
    from chainrule import optim

    calls = {"n": 0}
    real = optim.Adam.step

    def step(self: Any, *a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(optim.Adam, "step", step)


def reference_point(row: Row, wanted: Callable) -> tuple | None:
    """(arguments, a cotangent of the output, the positions differentiated) for ``row``, or
    None when there is nothing to differentiate: the function raises on its arguments, or
    no differentiated argument is an ndarray for which ``wanted`` holds."""
    a = row.make_args(0)
    try:
        u = cotangent(row.fn(*a))
    except Exception:
        return None
    wrt = row.argnums(a)
    if not any(isinstance(a[i], np.ndarray) and wanted(a[i]) for i in wrt):
        return None
    return a, u, wrt


def library_outcome(row: Row, order: int, to: Callable, back: Callable, kind: type) -> str:
    """How ``row``'s gradient (order 1, or the gradient of <v, gradient> for order 2) ends
    when its NumPy arguments are given as another library's arrays: ``to`` makes one,
    ``back`` reads one into NumPy, ``kind`` is its type.  'equal' (the NumPy gradient, as
    that library's arrays), 'refused' (cr.BackendError), 'skip' (nothing to differentiate)
    or 'error ...'; a wrong gradient fails the assertion here."""
    import math
    import warnings

    import chainrule as cr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        point = reference_point(row, lambda x: x.dtype.kind in "fc")
        if point is None:
            return "skip"
        a, u, wrt = point
        cu = np.conj(u) if np.iscomplexobj(u) else u

        def grad(xs: list, lib: bool) -> Any:
            c = to(cu) if lib else cu  # (the Tensor first: some libraries refuse a Tensor)

            def loss(*ys: Any) -> Any:
                return np.sum(np.real(row.fn(*ys) * c))

            g = cr.grad(loss, argnums=wrt)
            if order == 2:
                v = [np.cos(np.arange(math.prod(np.shape(xs[i])))).reshape(np.shape(xs[i]))
                     for i in wrt]
                v = [to(x) if lib and isinstance(xs[i], kind) else x for x, i in zip(v, wrt)]

                def inner(*ys: Any) -> Any:
                    return sum(np.sum(np.real(gi * vi)) for vi, gi in zip(v, g(*ys)))
                return cr.grad(inner, argnums=wrt)(*xs)
            return g(*xs)

        try:
            want = grad(a, False)
        except Exception:
            return "skip"
        la = [to(x) if isinstance(x, np.ndarray) and x.dtype.kind in "biufc" else x for x in a]
        try:
            got = grad(la, True)
        except cr.BackendError:
            return "refused"
        except Exception as exc:
            return f"error {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        for i, g in zip(wrt, got):
            if isinstance(la[i], kind):
                assert isinstance(g, kind), f"{row.name}: gradient {i} is {type(g)}"
        for gv, w in zip(got, want):
            np.testing.assert_allclose(back(gv), np.asarray(w), rtol=1e-9, atol=1e-12,
                                       err_msg=row.name)
        return "equal"
