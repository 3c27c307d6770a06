"""Every row of the op table, compiled: the same values, dtypes and gradients as eager.

Each row is compiled three ways — the function itself, its value_and_grad, and the compiled
function called on Tensors that require grad (one recorded operation whose VJP is the
emitted backward) — and each is run on the arguments it was traced with *and* on new ones of
the same signature, so a value baked into the trace (a stale constant) fails.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import chainrule as cr

from harness import Row, cotangent
import rows

ROWS: list[Row] = []
for _m in pkgutil.iter_modules(rows.__path__):
    ROWS.extend(importlib.import_module(f"rows.{_m.name}").ROWS)
DIFF = [r for r in ROWS if r.order >= 1]


def ids(rs: list) -> list:
    return [r.name for r in rs]


def _plain(v):
    return np.asarray(v._value if isinstance(v, cr.Tensor) else v)


def _same(a, b, what: str, exact: bool = True) -> None:
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b), what
        for x, y in zip(a, b):
            _same(x, y, what, exact)
        return
    assert type(a) is type(b), f"{what}: {type(a).__name__} vs {type(b).__name__}"
    av, bv = _plain(a), _plain(b)
    assert av.shape == bv.shape and av.dtype == bv.dtype, \
        f"{what}: {av.shape} {av.dtype} vs {bv.shape} {bv.dtype}"
    if exact:
        np.testing.assert_array_equal(av, bv, err_msg=what)
    else:
        np.testing.assert_allclose(av, bv, rtol=1e-12, atol=1e-14, err_msg=what)


def _args(row: Row, seed: int) -> list:
    return row.make_args(seed)


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_compiled_values_equal_eager(row: Row) -> None:
    f = cr.compile(row.fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in (0, 1, 0):
            a = _args(row, seed)
            want = row.fn(*[np.copy(x) if isinstance(x, np.ndarray) else x for x in a])
            got = f(*a)
            _same(got, want, f"{row.name} seed {seed}")
    info = f.cache_info()
    assert info["traces"] >= 1


def _wrt(row: Row, a: list) -> tuple:
    if row.wrt is not None:
        return tuple(row.wrt)
    return tuple(i for i, x in enumerate(a) if np.asarray(x).dtype.kind in "fc")


def _loss(row: Row, u):
    def s(*a):
        out = row.fn(*a)
        if np.iscomplexobj(u):
            return np.sum(np.real(np.conj(u) * out))
        return np.sum(u * out)
    return s


@pytest.mark.parametrize("row", DIFF, ids=ids(DIFF))
def test_compiled_value_and_grad_equals_eager(row: Row) -> None:
    a0 = _args(row, 0)
    u = cotangent(row.fn(*a0))
    wrt = _wrt(row, a0)
    vg = cr.value_and_grad(_loss(row, u), argnums=wrt)
    fast = cr.compile(vg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in (0, 1):
            a = _args(row, seed)
            want = vg(*a)
            got = fast(*a)
            _same(got, want, f"{row.name} seed {seed}", exact=False)
            got = fast(*a)
            _same(got, want, f"{row.name} seed {seed} (second call)", exact=False)


@pytest.mark.parametrize("row", DIFF, ids=ids(DIFF))
def test_compiled_call_on_tensors_is_one_differentiable_op(row: Row) -> None:
    a0 = _args(row, 0)
    u = cotangent(row.fn(*a0))
    wrt = _wrt(row, a0)
    fast = cr.compile(row.fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in (0, 1):
            a = _args(row, seed)
            ts = [cr.tensor(x, requires_grad=True) if i in wrt else x for i, x in enumerate(a)]
            loss = np.sum(np.real(np.conj(u) * fast(*ts))) if np.iscomplexobj(u) \
                else np.sum(u * fast(*ts))
            loss.backward()
            te = [cr.tensor(x, requires_grad=True) if i in wrt else x for i, x in enumerate(a)]
            le = _loss(row, u)(*te)
            le.backward()
            np.testing.assert_allclose(_plain(loss), _plain(le), rtol=1e-12, atol=1e-14)
            for i in wrt:
                if te[i].grad is None:  # the output does not depend on it: no gradient
                    assert ts[i].grad is None, f"{row.name} arg {i}"
                    continue
                np.testing.assert_allclose(_plain(ts[i].grad), _plain(te[i].grad), rtol=1e-11,
                                           atol=1e-13, err_msg=f"{row.name} arg {i}")
