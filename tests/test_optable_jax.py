"""The op table against JAX (jax[cpu]; skipped when it is not installed), as against PyTorch.

For every differentiable row, the row's own NumPy function is run on jax.numpy
(tests/jaxshim.py; or the row's ``jax_fn``) and, in float64:

* first order: the VJP of <u, f> for a random cotangent u, in every differentiated argument;
* second order (rows with order >= 2, real arguments): the Hessian-vector product of
  <u, f> with a random v, against chainrule's reverse-over-reverse and forward-over-reverse.

A row is compared only where the translation is faithful: JAX must run it and give NumPy's
value.  Rows JAX cannot run (chainrule-only functions, in-place writes, NumPy options JAX
lacks) are skipped and counted; the coverage test keeps that count from creeping up.
Where JAX and chainrule disagree by design, the row is listed in KNOWN with the reason.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import chainrule as cr

jax = pytest.importorskip("jax")

from harness import Row, close, cotangent, scalarize
from jaxshim import run_traced, trace, vjp_and_hvp
import rows

ROWS: list[Row] = []
for _m in pkgutil.iter_modules(rows.__path__):
    ROWS.extend(importlib.import_module(f"rows.{_m.name}").ROWS)
DIFF = [r for r in ROWS if r.order >= 1]

# rows where chainrule and JAX differ by design (a convention at a kink, or JAX is wrong)
KNOWN = {
    "std-zero-variance": "std at zero variance: chainrule's gradient is 0 (a subgradient, as "
                         "for a norm at 0), JAX's is NaN (0/0)",
    "norm-zero-column": "2-norm of a zero column: chainrule 0 (PyTorch's subgradient), JAX NaN",
    "norm-at-zero": "2-norm at the zero vector: chainrule 0 (PyTorch's subgradient), JAX NaN",
    "norm-ord3-zeros": "3-norm of a zero column: chainrule 0, JAX NaN",
    "median-ties": "median of tied middle values: chainrule shares the gradient among the tied "
                   "elements, JAX gives it to the one its sort picks",
    "i0-near-zero": "i0'' at 0 is 1/2 (I0 = 1 + x^2/4 + ...); JAX 0.10.2 gives 0 (its i1 has "
                    "derivative 0 at 0); chainrule is right",
}

MIN_COMPARED = 700  # of the ~850 differentiable rows; see test_coverage


def ids(rs: list) -> list:
    return [r.name for r in rs]


def _setup(row: Row) -> tuple:
    args = row.make_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = np.asarray(row.fn(*args))
    u = cotangent(out)
    nums = row.argnums(args)
    rng = np.random.default_rng(7)
    vs = {i: rng.standard_normal(np.shape(args[i])) for i in nums
          if row.order >= 2 and np.asarray(args[i]).dtype.kind != "c"}
    return args, out, u, nums, vs


@functools.cache
def _all_results() -> list:
    """For each row of DIFF: (status, VJPs, HVPs, u, vs); status 'compared' or why not.
    Every row is traced once and the traces are compiled in batches (see run_traced)."""
    setups = [_setup(r) for r in DIFF]
    traced = [trace(lambda r=r, a=args, n=nums, u=u, v=vs: vjp_and_hvp(r, a, n, u, v))
              for r, (args, _, u, nums, vs) in zip(DIFF, setups)]
    ok = [k for k, t in enumerate(traced) if not isinstance(t, str)]
    ran = dict(zip(ok, run_traced([traced[k] for k in ok])))
    results = []
    for k, (_, out, u, _, vs) in enumerate(setups):
        r = ran.get(k, traced[k])
        if isinstance(r, str):
            results.append((r, None, None, u, vs))
            continue
        jout, grads, hvps = r
        if jout.shape != out.shape or not np.allclose(jout, out, rtol=1e-9, atol=1e-12,
                                                     equal_nan=True):
            results.append(("JAX's function gives another value", None, None, u, vs))
            continue
        results.append(("compared", grads, hvps, u, vs))
    return results


def _params() -> list:
    out = []
    for k, r in enumerate(DIFF):
        marks = [pytest.mark.xfail(reason=KNOWN[r.name], strict=True)] if r.name in KNOWN else []
        out.append(pytest.param(k, id=r.name, marks=marks))
    return out


@pytest.mark.parametrize("k", _params())
def test_matches_jax(k: int) -> None:
    row = DIFF[k]
    status, grads, hvps, u, vs = _all_results()[k]
    if status != "compared":
        pytest.skip(status)
    args = row.make_args()
    s = scalarize(row.fn, u)
    for i, gj in grads.items():
        g = cr.grad(s, argnums=i)(*args)
        if np.asarray(args[i]).dtype.kind == "c":
            gj = np.conj(gj)  # JAX's gradient is dL/dx - i dL/dy; chainrule's (PyTorch's) +
        close(g, gj, row, f"JAX VJP arg {i}")
    for i, hj in hvps.items():
        v = vs[i]

        def gi(xi, i=i):
            a = list(args)
            a[i] = xi
            return cr.grad(s, argnums=i)(*a)

        _, h_fwd = cr.jvp(gi, (args[i],), (v,))
        h_rev = cr.grad(lambda xi, i=i: np.sum(gi(xi) * v))(args[i])
        close(h_fwd, hj, row, f"2nd JAX HVP fwd-over-rev arg {i}")
        close(h_rev, hj, row, f"2nd JAX HVP rev-over-rev arg {i}")


def test_coverage() -> None:
    """How many rows JAX checks (reported in the skip summary with -rs as well)."""
    results = [r[0] for r in _all_results()]
    compared = sum(r == "compared" for r in results)
    second = sum(1 for r in _all_results() if r[0] == "compared" and r[2])
    print(f"\nJAX comparison: {compared} of {len(DIFF)} differentiable rows at first order, "
          f"{second} at second order; {len(KNOWN)} known differences")
    assert compared >= MIN_COMPARED, (
        f"only {compared} rows compared with JAX (expected >= {MIN_COMPARED}): "
        + "; ".join(sorted({r for r in results if r != "compared"}))[:2000])
    stale = sorted(set(KNOWN) - set(ids(DIFF)))
    assert not stale, f"KNOWN names rows that do not exist: {stale}"
