"""No false alarm: gradcheck passes on every row of the op test table (whatever rows exist
when the tests run), in float64 and with float32 inputs, and at random points for the
kinked ops (abs, relu, max, min, clip ...), where it may report non-differentiable points
but never a failure."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import chainrule as cr
import rows
from chainrule.core.registry import PRIMITIVES
from harness import Row

ROWS: list[Row] = []
for _m in pkgutil.iter_modules(rows.__path__):
    ROWS.extend(importlib.import_module(f"rows.{_m.name}").ROWS)

DIFF = [r for r in ROWS if r.order >= 1]
REAL = [r for r in DIFF if np.dtype(r.dtype).kind == "f" and r.args is None]
LOW = {np.dtype(np.float64): np.float32, np.dtype(np.complex128): np.complex64}
# the primitives flagged kinked= on their defprim (|x|, max, clip, remainder ...)
KINKED = {n for n, p in PRIMITIVES.items() if p.kinked}
KINK_ROWS = [r for r in REAL if r.prim in KINKED]


def ids(rs: list) -> list:
    return [r.name for r in rs]


def _check(row: Row, args: list, order: int = 1) -> cr.GradcheckReport:
    nums = row.argnums(args)
    if not nums:
        pytest.skip("no differentiable argument")
    return cr.gradcheck(row.fn, *args, argnums=nums, order=order, locate=False)


@pytest.mark.parametrize("row", DIFF, ids=ids(DIFF))
def test_no_false_alarm_float64(row: Row) -> None:
    rep = _check(row, row.make_args(), order=min(row.order, 2) if row.order >= 2 and
                 sum(np.size(a) for a in row.make_args()) <= 8 else 1)
    assert rep, f"false alarm on {row.name}:\n{rep}"


@pytest.mark.parametrize("row", DIFF, ids=ids(DIFF))
def test_no_false_alarm_float32(row: Row) -> None:
    args = [a.astype(LOW[a.dtype]) if isinstance(a, np.ndarray) and a.dtype in LOW else a
            for a in row.make_args()]
    rep = _check(row, args)
    assert rep, f"false alarm on {row.name} at single precision:\n{rep}"
    assert any(c.mode.endswith(("float32", "complex64")) for c in rep.checks), \
        "single precision was not checked"


@pytest.mark.parametrize("row", KINK_ROWS, ids=ids(KINK_ROWS))
def test_no_false_alarm_at_random_points(row: Row) -> None:
    for seed in range(1, 4):
        rep = _check(row, row.make_args(seed))
        assert rep, f"false alarm on {row.name} (seed {seed}):\n{rep}"


def test_rows_were_found() -> None:
    assert len(DIFF) >= 50
    print(f"\ngradcheck false-alarm sweep: {len(DIFF)} differentiable rows in float64 and in "
          f"float32/complex64, {len(KINK_ROWS)} kinked rows at 3 random points")
