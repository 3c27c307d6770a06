"""cr.scipy.linalg: the structured constructors (toeplitz, circulant, hankel, companion,
convolution_matrix) and eigh, svd, qr, lu, polar with SciPy's signatures: values against
SciPy, derivatives against central differences in both modes, values and gradients
against jax.scipy.linalg."""

from __future__ import annotations

import numpy as np
import pytest

sl = pytest.importorskip("scipy.linalg")

import chainrule as cr  # noqa: E402
from chainrule.scipy import linalg  # noqa: E402

RNG = np.random.default_rng(21)
C = RNG.standard_normal(4)
R = RNG.standard_normal(3)
CB = RNG.standard_normal((2, 3))
CC = C + 1j * RNG.standard_normal(4)
A = RNG.standard_normal((4, 4))
SPD = A @ A.T + np.eye(4)
HERM = A + A.T
RECT = RNG.standard_normal((5, 3))


def check(f, *args, **kw):
    """cr.gradcheck on random Jacobian projections (both modes)."""
    return cr.gradcheck(f, *args, full_max=0, **kw)


def _eq(ours, ref, what=""):
    assert not isinstance(ours, cr.Tensor)
    assert np.shape(ours) == np.shape(ref), what
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-13, err_msg=what)


def test_structured_values_equal_scipys() -> None:
    for args in [(C, R), (C,), (CC,), (CC, R), (CB, R), (CB,), (C[:1], R)]:
        _eq(linalg.toeplitz(*args), sl.toeplitz(*args), f"toeplitz {args}")
    for args in [(C, R), (C,), (CC,), (C[:1],)]:
        _eq(linalg.hankel(*args), sl.hankel(*args), "hankel")
    for c in (C, CC, CB, C[:1]):
        _eq(linalg.circulant(c), sl.circulant(c), "circulant")
    for a in (C, CB, C[:2], CC):
        _eq(linalg.companion(a), sl.companion(a), "companion")
    for a in (C, R, C[:1]):
        for n in (1, 2, 3, 4, 6):
            for mode in ("full", "same", "valid"):
                _eq(linalg.convolution_matrix(a, n, mode), sl.convolution_matrix(a, n, mode),
                    f"convolution_matrix {len(a)} {n} {mode}")
    # A @ v is the convolution
    v = RNG.standard_normal(6)
    for mode in ("full", "same", "valid"):
        np.testing.assert_allclose(linalg.convolution_matrix(C, 6, mode) @ v,
                                   np.convolve(C, v, mode), rtol=1e-13)
    with pytest.raises(ValueError, match="first coefficient"):
        linalg.companion([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2"):
        linalg.companion([1.0])
    with pytest.raises(ValueError, match="mode"):
        linalg.convolution_matrix(C, 3, "middle")


def test_structured_derivatives() -> None:
    """Linear in their inputs: central differences in both modes, and the exact gradient
    (each entry of c the sum of the cotangent over the places it fills)."""
    assert check(lambda c, r: linalg.toeplitz(c, r), C, R)
    assert check(lambda c: linalg.toeplitz(c), CB)
    assert check(lambda c, r: linalg.hankel(c, r), C, R)
    assert check(lambda c: linalg.circulant(c), C)
    assert check(lambda a: linalg.companion(a), C, order=2)  # -a[1:] / a[0]: not linear
    for mode in ("full", "same", "valid"):
        assert check(lambda a: linalg.convolution_matrix(a, 3, mode), C)
    W = RNG.standard_normal((4, 4))
    g = cr.grad(lambda c: np.sum(W * linalg.circulant(c)))(C)
    np.testing.assert_allclose(g, [sum(W[i, j] for i in range(4) for j in range(4)
                                       if (i - j) % 4 == k) for k in range(4)], rtol=1e-13)
    gc, gr = cr.grad(lambda c, r: np.sum(W[:, :3] * linalg.toeplitz(c, r)), argnums=(0, 1))(C, R)
    np.testing.assert_allclose(gc, [np.trace(W[:, :3], -k) for k in range(4)], rtol=1e-13)
    np.testing.assert_allclose(gr, [0.0] + [np.trace(W[:, :3], k) for k in (1, 2)], rtol=1e-13)


def _sym(b):
    return b + b.T


def test_eigh() -> None:
    w, v = linalg.eigh(HERM)
    w2, v2 = sl.eigh(HERM)
    _eq(w, w2)
    _eq(np.abs(v), np.abs(v2))
    _eq(linalg.eigh(np.triu(HERM), lower=False, eigvals_only=True), w2)  # the upper triangle
    _eq(linalg.eigh(HERM, subset_by_index=(1, 2))[0], sl.eigh(HERM, subset_by_index=(1, 2))[0])
    _eq(linalg.eigh(HERM, subset_by_value=(-1, 10), eigvals_only=True),
        sl.eigh(HERM, subset_by_value=(-1, 10), eigvals_only=True))
    # the generalized problem: values, and v^H b v = I as SciPy's
    w, v = linalg.eigh(HERM, SPD)
    w2, v2 = sl.eigh(HERM, SPD)
    _eq(w, w2)
    _eq(np.abs(v), np.abs(v2))
    np.testing.assert_allclose(v.T @ SPD @ v, np.eye(4), atol=1e-12)
    # derivatives (sign-invariant functions of the eigenvectors), both modes, second order
    assert check(lambda b: linalg.eigh(_sym(b))[0], A, order=2)
    assert check(lambda b: linalg.eigh(_sym(b))[1] ** 2, A)
    assert check(lambda b, s: linalg.eigh(_sym(b), s @ s.T + np.eye(4), eigvals_only=True),
                 A, A)
    assert check(lambda b, s: np.abs(linalg.eigh(_sym(b), s @ s.T + np.eye(4))[1]), A, A)
    # d w_i / dA = v_i v_i^T (the lower triangle read: the strict upper gets nothing)
    g = cr.grad(lambda a: linalg.eigh(a, eigvals_only=True)[0])(HERM)
    v0 = sl.eigh(HERM)[1][:, 0]
    np.testing.assert_allclose(g, np.tril(2 * np.outer(v0, v0), -1) + np.diag(v0**2),
                               atol=1e-12)


def test_svd_qr() -> None:
    for X in (RECT, RECT.T, A):
        for full in (True, False):
            ours, ref = linalg.svd(X, full), sl.svd(X, full)
            assert [np.shape(o) for o in ours] == [np.shape(r) for r in ref]
            k = min(X.shape)
            _eq(ours[1], ref[1])
            _eq(np.abs(ours[0][:, :k]), np.abs(ref[0][:, :k]))
        _eq(linalg.svd(X, compute_uv=False), sl.svd(X, compute_uv=False))
        for mode in ("full", "economic", "r"):
            ours, ref = linalg.qr(X, mode=mode), sl.qr(X, mode=mode)
            assert isinstance(ours, tuple) and len(ours) == len(ref)
            for o, r in zip(ours, ref):
                _eq(o, r, f"qr {mode} {X.shape}")
    assert check(lambda a: linalg.svd(a, compute_uv=False), RECT, order=2)

    def rank2(a):  # the sum of the first two rank-one terms: sign-invariant
        u, s, vh = linalg.svd(a, full_matrices=False)
        return (u[:, :2] * s[:2]) @ vh[:2]

    assert check(rank2, RECT)
    assert check(lambda a: linalg.svd(a)[0], A)  # square: the full U is unique
    for mode in ("economic", "r"):
        assert check(lambda a: linalg.qr(a, mode=mode), RECT)
    assert check(lambda a: linalg.qr(a)[0], A)
    with pytest.raises(NotImplementedError, match="pivoting"):
        linalg.qr(A, pivoting=True)
    with pytest.raises(NotImplementedError, match="raw"):
        linalg.qr(A, mode="raw")


def test_lu_and_polar() -> None:
    for X in (A, RECT, RECT.T, RECT[:, :1], RECT[:1]):
        for kw in ({}, {"permute_l": True}, {"p_indices": True}):
            ours, ref = linalg.lu(X, **kw), sl.lu(X, **kw)
            assert len(ours) == len(ref)
            for o, r in zip(ours, ref):
                _eq(o, r, f"lu {X.shape} {kw}")
        P, L, U = linalg.lu(X)
        np.testing.assert_allclose(P @ L @ U, X, atol=1e-14)
        assert check(lambda a: linalg.lu(a)[1:], X, order=2 if X is A else 1)
    assert check(lambda a: linalg.lu(a, permute_l=True), A)
    assert check(lambda a: linalg.lu(a, permute_l=True), RECT.T)
    with pytest.raises(NotImplementedError, match="2-D"):
        linalg.lu(np.ones((2, 3, 3)))
    for side in ("right", "left"):
        for X in (A, RECT) if side == "right" else (A, RECT.T):
            ours, ref = linalg.polar(X, side), sl.polar(X, side)
            for o, r in zip(ours, ref):
                _eq(o, r, f"polar {side} {X.shape}")
        assert check(lambda a: linalg.polar(a, side), A)
    assert check(lambda a: linalg.polar(a)[1], RECT, order=2)
    with pytest.raises(ValueError, match="side"):
        linalg.polar(A, "up")


def test_against_jax_scipy_linalg() -> None:
    jax = pytest.importorskip("jax")
    pytest.importorskip("jaxshim")  # (double precision, compilation cache)
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    def compare(f, fj, *args):
        out = f(*args)
        w = [RNG.standard_normal(np.shape(o)) for o in (out if isinstance(out, tuple) else (out,))]

        def loss(mod, func):
            def L(*a):
                o = func(*a)
                o = o if isinstance(o, tuple) else (o,)
                return sum(mod.sum(x * y) for x, y in zip(o, w))
            return L

        n = len(args)
        v, g = cr.value_and_grad(loss(np, f), argnums=tuple(range(n)))(*args)
        vj, gj = jax.jit(jax.value_and_grad(loss(jnp, fj), argnums=tuple(range(n))))(*args)
        np.testing.assert_allclose(v, vj, rtol=1e-11)
        for o, t in zip(g, gj):
            np.testing.assert_allclose(o, t, rtol=1e-9, atol=1e-11)

    compare(linalg.toeplitz, jsl.toeplitz, C, R)
    compare(linalg.hankel, jsl.hankel, C, R)
    compare(linalg.circulant, jsl.circulant, C)
    compare(linalg.companion, jsl.companion, C)
    for mode in ("full", "same", "valid"):
        compare(lambda a: linalg.convolution_matrix(a, 3, mode),
                lambda a: jsl.convolution_matrix(a, 3, mode), C)
    compare(lambda b: linalg.eigh(_sym(b))[0], lambda b: jsl.eigh(b + b.T)[0], A)
    compare(lambda b: linalg.eigh(_sym(b))[1] ** 2, lambda b: jsl.eigh(b + b.T)[1] ** 2, A)
    compare(lambda a: linalg.svd(a, compute_uv=False),
            lambda a: jsl.svd(a, compute_uv=False), RECT)
    compare(lambda a: linalg.qr(a, mode="economic"), lambda a: jsl.qr(a, mode="economic"), RECT)
    compare(lambda a: linalg.lu(a)[1:], lambda a: jsl.lu(a)[1:], A)
    compare(lambda a: linalg.lu(a, permute_l=True), lambda a: jsl.lu(a, permute_l=True), A)
    compare(lambda a: linalg.lu(a)[1:], lambda a: jsl.lu(a)[1:], RECT)
    compare(lambda a: linalg.lu(a)[1:], lambda a: jsl.lu(a)[1:], RECT.T)
    compare(lambda a: linalg.polar(a), lambda a: jsl.polar(a, method="svd"), A)


def test_compiled() -> None:
    """The constructors and the np.linalg-based decompositions trace under cr.compile."""
    def f(a):
        return (np.sum(linalg.toeplitz(a[0], a[1]) ** 2) + np.sum(linalg.hankel(a[2]) ** 3)
                + np.sum(linalg.companion(a[3]) ** 2) + np.sum(linalg.circulant(a[0]) * a)
                + np.sum(linalg.convolution_matrix(a[1], 3, "same") ** 2)
                + np.sum(linalg.eigh(a + a.T, eigvals_only=True) ** 3)
                + np.sum(linalg.polar(a)[1]) + np.sum(linalg.qr(a)[1] ** 2))

    g = cr.compile(cr.grad(f))
    for a in (A, A + 0.1 * RNG.standard_normal((4, 4))):
        np.testing.assert_allclose(g(a), cr.grad(f)(a), rtol=1e-11, atol=1e-12)
