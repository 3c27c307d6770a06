"""Derivatives at special points, at orders 1-3: where a rule branches on values.

A rule that special-cases a point (x == 0, a tie, an infinity, a zero in a product) must
stay right at every order there: ``where(x == 0, 0, ...)`` in a first-order rule makes
every higher derivative at 0 silently 0 (it did: d^2 sinc / dx^2 at 0 was 0, not -pi^2/3).
So the op table's rows carry ``points`` (harness.Point), and each is checked here:

* the derivative tensors D_1, D_2, D_3 of <u, f> in each differentiated argument, by
  reverse mode (grad, jacobian of it ...), forward mode (jacfwd nested; to order 2 for
  inputs of more than 4 entries) and forward over reverse, must agree with each other
  and with every reference the point has: central differences of the order below (where
  f is smooth enough there), the values chainrule promises (its convention at a kink),
  and JAX (when installed, where it is right);
* meta-tests: every primitive whose rules read values (derived from their source by
  tests/branchscan.py) has special points or an exemption with its reason; every point has
  a reference that is not JAX, so the checks run without JAX too.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.registry import PRIMITIVES

from branchscan import value_reading_primitives
from harness import Point, Row, cotangent, scalarize
import rows

ROWS: list[Row] = []
for _m in pkgutil.iter_modules(rows.__path__):
    ROWS.extend(importlib.import_module(f"rows.{_m.name}").ROWS)

# Primitives whose rules branch on values: each needs rows with special points.  A new rule
# that reads values (value(x) == 0, np.isinf, a tie mask ...) must be listed here (or in
# EXEMPT with the reason) -- test_value_reading_rules_are_listed derives the list from the
# rules' source and fails until it is.
BRANCHED = {
    "absolute", "fabs", "angle",           # |x|, |z| and angle(z) at 0: slope 0
    "arctan2", "hypot",                    # the origin: 0 (atan2 jumps; the 2-norm's cone)
    "clip",                                # at a bound: slope 1 (PyTorch)
    "copysign",                            # x = 0 and the sign of y = -0.0
    "maximum", "minimum", "fmax", "fmin",  # ties share equally; NaN for fmax/fmin
    "power", "float_power",                # x = 0, integer exponents, y = 0
    "remainder", "fmod",                   # at the jumps
    "nan_to_num",                          # NaN and infinities: slope 0
    "logaddexp", "logaddexp2",             # infinities
    "logsumexp",                           # -inf and +inf entries
    "max", "median",                       # ties (and NaN)
    "prod", "cumprod",                     # zeros: the exact formula
    "norm",                                # the zero vector
    "linalg.adjugate",                     # singular matrices: the SVD formula
    "relu", "max_pool2d",                  # 0; ties in a window (the first wins)
    "quantile",                            # ties (its selection is made by the wrapper,
                                           # so the source scan cannot see it)
}
EXEMPT = {
    "transpose": "np.argsort of the axes permutation, not of data",
    "linalg.eigh": "degeneracy checks only: raises GradientError where the loss depends on "
                   "a non-unique eigenvector (tests/test_linalg_extra.py)",
    "linalg.eig": "degeneracy and phase checks only: raises GradientError (test_linalg_extra)",
    "linalg.svd": "degeneracy, zero-singular-value and phase checks only: raises GradientError "
                  "(test_linalg_extra)",
    "linalg.qr": "rank check only: raises GradientError at rank deficiency (test_linalg_extra)",
    "linalg.slogdet": "singular matrix: raises GradientError (logabsdet = -inf)",
}

H = 1e-6


def _cases() -> list:
    out = []
    for r in ROWS:
        for j, p in enumerate(r.points):
            out.append((r, j, p))
    return out


CASES = _cases()


def _case_id(r: Row, j: int, p: Point) -> str:
    return f"{r.name}@{p.id or j}"


def _nums(row: Row, p: Point) -> tuple:
    return tuple(p.wrt) if p.wrt is not None else row.argnums(list(p.args))


def _args(p: Point) -> list:
    return [np.array(a) if isinstance(a, np.ndarray) else a for a in p.args]


def _loss(row: Row, p: Point) -> tuple:
    args = _args(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = np.asarray(row.fn(*args))
    u = cotangent(out)
    return args, u, scalarize(row.fn, u)


def _in(s, args: list, i: int):
    def si(x):
        a = list(args)
        a[i] = x
        return s(*a)
    return si


def _nest(f, outer, k: int):
    for _ in range(k):
        f = outer(f)
    return f


@functools.cache
def _chainrule(c: int) -> dict:
    """{(arg, mode): [D_1, ..., D_order]} at CASES[c]; modes rev, fwd and fwd-over-rev."""
    row, _, p = CASES[c]
    args, _, s = _loss(row, p)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in _nums(row, p):
            si = _in(s, args, i)
            x = args[i]
            order = 1 if np.asarray(x).dtype.kind == "c" else p.order
            g = cr.grad(si)
            out[i, "rev"] = [np.asarray(_nest(g, cr.jacobian, k)(x)) for k in range(order)]
            if order == 1 and np.asarray(x).dtype.kind == "c":
                continue
            # pure forward mode costs size**k passes: to order 2, or 3 for small inputs
            top = order if np.size(x) <= 4 else min(order, 2)
            out[i, "fwd"] = [np.asarray(_nest(si, cr.jacfwd, k + 1)(x)) for k in range(top)]
            out[i, "fwd-over-rev"] = [np.asarray(cr.jacfwd(_nest(g, cr.jacobian, k - 1))(x))
                                      for k in range(1, order)]
    return out


def _central(f, x: np.ndarray) -> np.ndarray:
    """Central differences of f (an array-valued function) at x: f's shape + x's shape."""
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = H
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * H))
    base = np.shape(f(x))
    return np.moveaxis(np.array(cols).reshape((x.size,) + base), 0, -1).reshape(base + x.shape)


def _expected(p: Point, k: int, i: int, u: np.ndarray, args: list, shape: tuple):
    e = p.expect.get(k)
    if isinstance(e, dict):
        e = e.get(i)
    if e is None:
        return None
    e = e(u, *args) if callable(e) else e
    e = np.asarray(e)
    if e.shape != shape:
        e = np.broadcast_to(e, shape) if e.ndim == 0 else e.reshape(shape)
    return e


@functools.cache
def _jax_all() -> dict:
    """{(case, arg): [D_1 ... D_order] by JAX, or why not}, traced and compiled in batches."""
    from jaxshim import derivative_tensors, run_traced, trace

    keys, traced = [], []
    for c, (row, _, p) in enumerate(CASES):
        args, u, _ = _loss(row, p)
        for i in _nums(row, p):
            if np.asarray(args[i]).dtype.kind == "c":
                continue  # JAX's complex gradient convention differs (conj); checked elsewhere
            keys.append((c, i))
            traced.append(trace(lambda r=row, a=args, i=i, u=u, o=p.order:
                                derivative_tensors(r, a, i, u, o)))
    ok = [n for n, t in enumerate(traced) if not isinstance(t, str)]
    ran = dict(zip(ok, run_traced([traced[n] for n in ok])))
    return {key: ran.get(n, traced[n]) for n, key in enumerate(keys)}


def _has_jax() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


PARAMS = [pytest.param(c, k, id=f"{_case_id(r, j, p)}-order{k}")
          for c, (r, j, p) in enumerate(CASES) for k in range(1, p.order + 1)]


@pytest.mark.parametrize("c,k", PARAMS)
def test_special_point(c: int, k: int) -> None:
    row, j, p = CASES[c]
    args, u, s = _loss(row, p)
    name = _case_id(row, j, p)
    got = _chainrule(c)
    tol = dict(rtol=1e-5 * 10 ** (k - 1), atol=1e-6 * 10 ** (k - 1))
    checked = 0
    for i in _nums(row, p):
        if (i, "rev") not in got or len(got[i, "rev"]) < k:
            continue  # a complex argument above first order
        modes = {"rev": got[i, "rev"][k - 1]}
        if (i, "fwd") in got and len(got[i, "fwd"]) >= k:
            modes["fwd"] = got[i, "fwd"][k - 1]
        if k >= 2 and (i, "fwd-over-rev") in got:
            modes["fwd-over-rev"] = got[i, "fwd-over-rev"][k - 2]
        ref_rev = modes["rev"]
        for m, d in modes.items():
            np.testing.assert_allclose(d, ref_rev, **tol, err_msg=f"{name} D{k} arg {i}: {m} "
                                       "vs rev")
        assert np.all(np.isfinite(ref_rev)), f"{name} D{k} arg {i}: not finite: {ref_rev}"
        want = _expected(p, k, i, u, args, ref_rev.shape)
        if want is not None:
            np.testing.assert_allclose(ref_rev, want, **tol,
                                       err_msg=f"{name} D{k} arg {i}: chainrule's convention")
            checked += 1
        if k <= p.smooth:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if k == 1:
                    fd = _central(_in(s, args, i), np.asarray(args[i], dtype=float))
                else:
                    lower = _nest(cr.grad(_in(s, args, i)), cr.jacobian, k - 2)
                    fd = _central(lambda x: np.asarray(lower(x)), np.asarray(args[i]))
            np.testing.assert_allclose(ref_rev, fd, rtol=1e-4, atol=1e-4 * 10 ** (k - 1),
                                       err_msg=f"{name} D{k} arg {i}: central differences")
            checked += 1
        if _has_jax() and k not in p.not_jax:
            res = _jax_all().get((c, i))
            if res is not None and not isinstance(res, str):
                np.testing.assert_allclose(ref_rev, res[k - 1], **tol,
                                           err_msg=f"{name} D{k} arg {i}: JAX")
                checked += 1
    assert checked or not _nums(row, p), f"{name} D{k}: no reference checked"


# --- meta-tests -----------------------------------------------------------------------


def test_value_reading_rules_are_listed() -> None:
    """Every primitive whose rules read values is in BRANCHED or EXEMPT (derived)."""
    found = value_reading_primitives()
    unlisted = {n: sorted(v)[:3] for n, v in found.items() if n not in BRANCHED | set(EXEMPT)}
    assert not unlisted, ("rules that branch on values, without special points: add the "
                          f"primitive to BRANCHED and points to its rows: {unlisted}")
    unknown = sorted((BRANCHED | set(EXEMPT)) - set(PRIMITIVES))
    assert not unknown, f"not primitives: {unknown}"
    assert not BRANCHED & set(EXEMPT)


def test_branched_primitives_have_special_points() -> None:
    with_points = {}
    for r in ROWS:
        for p in r.points:
            with_points[r.prim] = max(with_points.get(r.prim, 0), p.order)
    missing = sorted(n for n in BRANCHED if with_points.get(n, 0) < 3)
    assert not missing, f"branched primitives without special points to order 3: {missing}"


def test_every_point_has_a_reference_without_jax() -> None:
    bad = []
    for r, j, p in CASES:
        for k in range(1, p.order + 1):
            if k > p.smooth and k not in p.expect:
                bad.append(f"{_case_id(r, j, p)} order {k}")
        if set(p.not_jax) - set(range(1, p.order + 1)):
            bad.append(f"{_case_id(r, j, p)}: not_jax names orders it does not check")
    assert not bad, f"orders checked against JAX only: {bad}"


def test_point_counts() -> None:
    n_orders = len(PARAMS)
    prims = {r.prim for r, _, _ in CASES}
    print(f"\nspecial points: {len(CASES)} points in {len({id(r) for r, _, _ in CASES})} rows "
          f"({len(prims)} primitives), {n_orders} (point, order) checks")
    assert len(CASES) >= len(BRANCHED)


# --- the reported cases ------------------------------------------------------------------


def test_sinc_second_derivative_at_zero() -> None:
    """Trust issue 10: cr.grad(cr.grad(np.sinc))(0.0) returned 0.0; the truth is -pi^2/3."""
    f = np.sinc
    want = [0.0, -np.pi ** 2 / 3, 0.0, np.pi ** 4 / 5, 0.0, -np.pi ** 6 / 7]  # (-pi^2)^k / (2k+1)
    for d in want:
        f = cr.grad(f)
        np.testing.assert_allclose(f(0.0), d, atol=1e-9, rtol=1e-12)
    _, t = cr.jvp(lambda x: cr.grad(np.sinc)(x), (0.0,), (1.0,))
    np.testing.assert_allclose(t, -np.pi ** 2 / 3, rtol=1e-12)


def test_power_mixed_derivative_at_zero_exponent() -> None:
    """d/dy of d(x**y)/dx = x**(y-1) (1 + y log x): 1/x at y = 0 (was 0: a where() on y == 0)."""
    mixed = cr.grad(lambda y: cr.grad(np.power, 0)(np.array(2.0), y))(np.array(0.0))
    np.testing.assert_allclose(mixed, 0.5)


def test_logaddexp_at_infinities() -> None:
    inf = np.inf
    g = lambda a, b: [float(v) for v in cr.grad(np.logaddexp, (0, 1))(a, b)]
    assert g(inf, 1.0) == [1.0, 0.0] and g(1.0, inf) == [0.0, 1.0]
    assert g(inf, inf) == [0.5, 0.5] and g(-inf, -inf) == [0.0, 0.0]
    from chainrule.nn import functional as F

    assert float(cr.grad(F.logsigmoid)(-inf)) == 1.0  # was NaN


def test_norm_like_rules_at_the_origin() -> None:
    assert [float(v) for v in cr.grad(np.hypot, (0, 1))(0.0, 0.0)] == [0.0, 0.0]
    assert [float(v) for v in cr.grad(np.arctan2, (0, 1))(0.0, 0.0)] == [0.0, 0.0]  # PyTorch
    # no underflow of x^2 + y^2 near the origin
    np.testing.assert_allclose(cr.grad(np.arctan2, 0)(1e-200, 1e-200), 5e199)
