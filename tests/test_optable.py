"""Every row of the op table, in every mode; and the meta-test that every primitive has a row."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.registry import PRIMITIVES

from harness import Row, close, cotangent, num_jacobian, scalarize
import rows

ROWS: list[Row] = []
for _m in pkgutil.iter_modules(rows.__path__):
    ROWS.extend(importlib.import_module(f"rows.{_m.name}").ROWS)

DIFF = [r for r in ROWS if r.order >= 1]
SECOND = [r for r in ROWS if r.order >= 2]
TORCH = [r for r in ROWS if r.torch_fn is not None and r.order >= 1]

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def ids(rs: list) -> list:
    return [r.name for r in rs]


def test_every_primitive_has_a_row() -> None:
    covered = {r.prim for r in ROWS}
    missing = sorted(set(PRIMITIVES) - covered)
    assert not missing, f"primitives without a test-table row: {missing}"


def test_rows_name_real_primitives() -> None:
    unknown = sorted({r.prim for r in ROWS} - set(PRIMITIVES))
    assert not unknown, f"rows naming no registered primitive: {unknown}"


def _real_jac(J: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return J


@pytest.mark.parametrize("row", DIFF, ids=ids(DIFF))
def test_reverse_matches_central_differences(row: Row) -> None:
    args = row.make_args()
    out = np.asarray(row.fn(*args))
    u = cotangent(out)
    s = scalarize(row.fn, u)
    for i in row.argnums(args):
        g = cr.grad(s, argnums=i)(*args)
        Jn = num_jacobian(s, args, i)
        if np.asarray(args[i]).dtype.kind == "c":
            Jn = Jn[..., 0] + 1j * Jn[..., 1]  # dL/dx + i dL/dy: PyTorch's convention
        close(g, Jn, row, f"VJP arg {i}")
        assert np.asarray(g).dtype == np.asarray(args[i]).dtype


@pytest.mark.parametrize("row", DIFF, ids=ids(DIFF))
def test_forward_matches_central_differences(row: Row) -> None:
    args = row.make_args()
    rng = np.random.default_rng(7)
    for i in row.argnums(args):
        x = np.asarray(args[i])
        v = rng.standard_normal(x.shape).astype(x.dtype)
        if x.dtype.kind == "c":
            v = v + 1j * rng.standard_normal(x.shape)

        def fi(xi, i=i):
            a = list(args)
            a[i] = xi
            return row.fn(*a)

        out, t = cr.jvp(fi, (x,), (v,))
        h = 1e-6
        tn = (np.asarray(fi(x + h * v)) - np.asarray(fi(x - h * v))) / (2 * h)
        close(out, np.asarray(row.fn(*args)), row, "jvp primal")
        close(t, tn.astype(np.asarray(out).dtype) if np.isrealobj(out) else tn, row, f"JVP arg {i}")


@pytest.mark.parametrize("row", SECOND, ids=ids(SECOND))
def test_second_order(row: Row) -> None:
    args = row.make_args()
    out = np.asarray(row.fn(*args))
    s = scalarize(row.fn, cotangent(out))
    for i in row.argnums(args):
        if np.asarray(args[i]).dtype.kind == "c":
            continue  # second order of complex rows: first order is checked in both modes

        def gi(xi, i=i):
            a = list(args)
            a[i] = xi
            return cr.grad(s, argnums=i)(*a)

        Hn = num_jacobian(gi, args[i:i + 1] if False else [args[i]], 0)
        close(cr.jacobian(gi)(args[i]), Hn, row, f"2nd rev-over-rev arg {i}")
        close(cr.jacfwd(gi)(args[i]), Hn, row, f"2nd fwd-over-rev arg {i}")


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("row", TORCH, ids=ids(TORCH))
def test_matches_torch(row: Row) -> None:
    args = row.make_args()
    out = np.asarray(row.fn(*args))
    u = cotangent(out)
    nums = row.argnums(args)
    targs = [torch.tensor(a, requires_grad=(i in nums)) if isinstance(a, np.ndarray) else a
             for i, a in enumerate(args)]
    tout = row.torch_fn(*targs)
    close(out, tout.detach().numpy(), row, "torch value")
    tu = torch.tensor(u)
    tout.backward(tu)
    s = scalarize(row.fn, u)
    for i in nums:
        g = cr.grad(s, argnums=i)(*args)
        close(g, targs[i].grad.numpy(), row, f"torch VJP arg {i}")


@pytest.mark.parametrize("row", [r for r in ROWS if r.order == 0], ids=ids([r for r in ROWS if r.order == 0]))
def test_nondifferentiable_returns_plain_arrays(row: Row) -> None:
    args = row.make_args()
    t = [cr.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
         else a for a in args]
    res = row.fn(*t)
    assert not isinstance(res, cr.Tensor), f"{row.name} should cut the gradient"
    np.testing.assert_array_equal(res, row.fn(*args))
