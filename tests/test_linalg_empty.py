"""Every linear-algebra primitive on empty batches and zero-size matrices: NumPy's results
(shapes, dtypes, values) forward, and well-defined (empty or zero) derivatives in every mode.

The derivative of anything with respect to an empty array is an empty array, and nothing
that depends only on empty input can change: so no rule may raise (no "degenerate" spectrum,
no "orthonormal completion") when there is nothing to differentiate.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.linalg import adjugate

SQUARE = [(0, 1, 1), (0, 3, 3), (2, 0, 0), (0, 0), (3, 0, 0)]
RECT = [(0, 2, 3), (0, 3, 2), (2, 0, 3), (2, 3, 0)]


def _outputs(r):
    return list(r) if isinstance(r, tuple) else [r]


# (name, f, shapes): f returns NumPy's result (a tuple for several outputs)
CASES = [
    ("eigh", lambda a: np.linalg.eigh(a), SQUARE),
    ("eigvalsh", lambda a: np.linalg.eigvalsh(a), SQUARE),
    ("eig", lambda a: np.linalg.eig(a), SQUARE),
    ("eigvals", lambda a: np.linalg.eigvals(a), SQUARE),
    ("svd", lambda a: np.linalg.svd(a), SQUARE + RECT),
    ("svd-reduced", lambda a: np.linalg.svd(a, full_matrices=False), SQUARE + RECT),
    ("svdvals", lambda a: np.linalg.svd(a, compute_uv=False), SQUARE + RECT),
    ("qr", lambda a: np.linalg.qr(a), SQUARE + RECT),
    ("qr-complete", lambda a: np.linalg.qr(a, mode="complete"), SQUARE + RECT),
    ("qr-r", lambda a: np.linalg.qr(a, mode="r"), SQUARE + RECT),
    ("inv", lambda a: np.linalg.inv(a), SQUARE),
    ("det", lambda a: np.linalg.det(a), SQUARE),
    ("slogdet", lambda a: np.linalg.slogdet(a), SQUARE),
    ("solve", lambda a: np.linalg.solve(a, a), SQUARE),
    ("cholesky", lambda a: np.linalg.cholesky(a), SQUARE),
    ("pinv", lambda a: np.linalg.pinv(a), SQUARE + RECT),
    ("pinv-hermitian", lambda a: np.linalg.pinv(a, hermitian=True), SQUARE),
    ("matrix_power[3]", lambda a: np.linalg.matrix_power(a, 3), SQUARE),
    ("matrix_power[-2]", lambda a: np.linalg.matrix_power(a, -2), SQUARE),
    ("norm-fro", lambda a: np.linalg.norm(a, axis=(-2, -1)), SQUARE + RECT),
    ("norm-nuc", lambda a: np.linalg.norm(a, "nuc", axis=(-2, -1)), SQUARE + RECT),
    ("norm-2", lambda a: np.linalg.norm(a, 2, axis=(-2, -1)), SQUARE + RECT),
    ("norm-1", lambda a: np.linalg.norm(a, 1, axis=(-2, -1)), SQUARE + RECT),
    ("norm-inf", lambda a: np.linalg.norm(a, np.inf, axis=(-2, -1)), SQUARE + RECT),
    ("vector-norm-inf", lambda a: np.linalg.norm(a, np.inf, axis=-1), SQUARE + RECT),
    ("matrix_norm", lambda a: np.linalg.matrix_norm(a), SQUARE + RECT),
    ("adjugate", adjugate, SQUARE),
    ("matmul", lambda a: a @ np.swapaxes(a, -1, -2), SQUARE + RECT),
]
PARAMS = [(n, f, s) for n, f, shapes in CASES for s in shapes]


def _loss(f):
    """A real scalar of every (float) output, so every output's rule is exercised."""
    def loss(a):
        total = 0.0
        for o in _outputs(f(a)):
            if np.asarray(getattr(o, "_value", o)).dtype.kind == "c":
                o = np.abs(o)
            total = total + np.sum(o * o)
        return total
    return loss


@pytest.mark.parametrize("name,f,shape", PARAMS, ids=[f"{n}{list(s)}" for n, _, s in PARAMS])
def test_empty_forward_matches_numpy(name, f, shape) -> None:
    a = np.zeros(shape)
    want = _outputs(f(a)) if name != "adjugate" else [np.zeros(shape)]
    got = _outputs(f(cr.tensor(a, requires_grad=True)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        gv = np.asarray(getattr(g, "_value", g))
        assert gv.shape == np.shape(w), f"{name}: shape {gv.shape} vs NumPy {np.shape(w)}"
        assert gv.dtype == np.asarray(w).dtype, f"{name}: dtype {gv.dtype} vs {np.asarray(w).dtype}"
        np.testing.assert_array_equal(gv, w)


@pytest.mark.parametrize("name,f,shape", PARAMS, ids=[f"{n}{list(s)}" for n, _, s in PARAMS])
def test_empty_derivatives(name, f, shape) -> None:
    a = np.zeros(shape)
    loss = _loss(f)
    g = cr.grad(loss)(a)
    assert np.shape(g) == shape
    assert not np.any(np.asarray(g))
    _, t = cr.jvp(loss, (a,), (np.ones(shape),))
    assert np.asarray(t) == 0
    # second order, reverse-over-reverse and forward-over-reverse
    h = cr.grad(lambda x: np.sum(cr.grad(loss)(x)))(a)
    assert np.shape(h) == shape
    _, ht = cr.jvp(cr.grad(loss), (a,), (np.ones(shape),))
    assert np.shape(ht) == shape


def test_reported_eigh_qr_svd_on_an_empty_batch() -> None:
    """Trust issue 9: eigh/qr/svd of shape (0, 1, 1) raised ShapeError."""
    a = np.zeros((0, 1, 1))
    t = cr.tensor(a, requires_grad=True)
    w, v = np.linalg.eigh(t)
    assert w.shape == (0, 1) and v.shape == (0, 1, 1)
    q, r = np.linalg.qr(t)
    assert q.shape == (0, 1, 1) and r.shape == (0, 1, 1)
    u, s, vh = np.linalg.svd(t)
    assert u.shape == (0, 1, 1) and s.shape == (0, 1) and vh.shape == (0, 1, 1)
    loss = lambda x: np.sum(np.linalg.eigh(x)[0]) + np.sum(np.linalg.qr(x)[1]) \
        + np.sum(np.linalg.svd(x)[1])
    assert cr.grad(loss)(a).shape == (0, 1, 1)
