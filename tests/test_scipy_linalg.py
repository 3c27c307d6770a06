"""cr.scipy.linalg: values against SciPy; derivatives against central differences in both
modes to second order (cr.gradcheck); known closed forms; JAX's and autograd's gradients."""

from __future__ import annotations

import numpy as np
import pytest

sl = pytest.importorskip("scipy.linalg")

import chainrule as cr  # noqa: E402
from chainrule.scipy import linalg  # noqa: E402

RNG = np.random.default_rng(3)
N = 4
A = RNG.standard_normal((N, N))
TRI = np.tril(RNG.standard_normal((N, N))) + 3.0 * np.eye(N)
BM = RNG.standard_normal((N, 2))
BV = RNG.standard_normal(N)
_S = RNG.standard_normal((N, N))
SPD = _S @ _S.T + N * np.eye(N)
C3 = RNG.standard_normal((3, 3)) + 3.0 * np.eye(3)
Q = RNG.standard_normal((N, 3))


def ok(rep) -> None:
    assert rep, str(rep)


def check(f, *args, **kw):
    """cr.gradcheck on random projections of the Jacobian (nproj of them, each against a
    central difference along it): full Jacobians to second order are too slow here."""
    return cr.gradcheck(f, *args, full_max=0, **kw)


# ---------------------------------------------------------------------------------
# solve_triangular

ST = [(lower, trans, unit) for lower, trans in ((True, 0), (True, 2), (False, 1), (False, "T"))
      for unit in (False, True)]
ORDER2 = {(True, 0, False), (False, 1, False)}  # second order for these (the rules are shared)


@pytest.mark.parametrize("lower,trans,unit", ST)
def test_solve_triangular_values_and_derivatives(lower, trans, unit) -> None:
    # a full matrix: only the triangle that is read matters (the other holds noise)
    a = TRI + np.triu(RNG.standard_normal((N, N)), 1) if lower else \
        TRI.T + np.tril(RNG.standard_normal((N, N)), -1)
    for b in (BM, BV):
        got = linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
        ref = sl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-14)
    f = lambda a, b: linalg.solve_triangular(a, b, trans=trans, lower=lower,  # noqa: E731
                                             unit_diagonal=unit)
    ok(check(f, a, BV if unit else BM, order=2 if (lower, trans, unit) in ORDER2 else 1))
    # entries that are not read get exactly zero
    g = cr.grad(lambda a: np.sum(f(a, BM) ** 2))(a)
    read = np.tri(N, N, -1 if unit else 0, dtype=bool)
    read = read if lower else read.T
    assert np.all(g[~read] == 0) and np.all(g[read] != 0)


def test_solve_triangular_batched_and_complex() -> None:
    a = np.stack([TRI, TRI + 0.5 * np.eye(N)])
    b = RNG.standard_normal((2, N, 3))
    np.testing.assert_allclose(linalg.solve_triangular(a, b, lower=True),
                               sl.solve_triangular(a, b, lower=True), rtol=1e-13)
    ok(check(lambda a, b: linalg.solve_triangular(a, b, lower=True, trans=1), a, b))
    ac = TRI + 1j * np.tril(RNG.standard_normal((N, N)))
    bc = BM + 1j * RNG.standard_normal((N, 2))
    for trans in (0, 1, 2):
        np.testing.assert_allclose(linalg.solve_triangular(ac, bc, lower=True, trans=trans),
                                   sl.solve_triangular(ac, bc, lower=True, trans=trans),
                                   rtol=1e-13)
        ok(check(lambda a, b: np.abs(linalg.solve_triangular(a, b, lower=True,
                                                                    trans=trans)) ** 2,
                        ac, bc))


# ---------------------------------------------------------------------------------
# cho_factor / cho_solve, lu_factor / lu_solve


@pytest.mark.parametrize("lower", [True, False])
def test_cho_factor_and_solve(lower) -> None:
    c, low = linalg.cho_factor(SPD, lower=lower)
    c_ref, low_ref = sl.cho_factor(SPD, lower=lower)
    assert low == low_ref
    np.testing.assert_allclose(c, c_ref, rtol=1e-13)
    np.testing.assert_allclose(linalg.cho_solve((c, low), BM), sl.cho_solve((c_ref, low), BM),
                               rtol=1e-12)
    # as a function of the whole matrix (SciPy reads one triangle): central differences
    # perturb every entry, so the gradient is that of the function SciPy computes
    f = lambda a, b: linalg.cho_solve(linalg.cho_factor(a, lower=lower), b)  # noqa: E731
    ok(check(f, SPD, BM, order=2))
    g = cr.grad(lambda a: np.sum(f(a, BM)))(SPD)
    unread = np.triu(np.ones((N, N), bool), 1) if lower else np.tril(np.ones((N, N), bool), -1)
    assert np.all(g[unread] == 0)
    # symmetric parametrisation: the gradient of b^T A^-1 b is -A^-1 b b^T A^-1
    h = lambda s: BV @ linalg.cho_solve(linalg.cho_factor(s @ s.T + N * np.eye(N),  # noqa: E731
                                                          lower=lower), BV)
    x = np.linalg.solve(SPD, BV)
    np.testing.assert_allclose(cr.grad(h)(_S), -2.0 * np.outer(x, x) @ _S, rtol=1e-11)


@pytest.mark.parametrize("lower", [False, True])
def test_cholesky_reads_one_triangle(lower) -> None:
    noisy = SPD + (np.tril(A, -1) if not lower else np.triu(A, 1))  # the unread triangle
    np.testing.assert_allclose(linalg.cholesky(noisy, lower=lower),
                               sl.cholesky(noisy, lower=lower), rtol=1e-13)
    ok(check(lambda a: linalg.cholesky(a, lower=lower), noisy, order=2))


@pytest.mark.parametrize("kw", [{}, {"transposed": True}, {"assume_a": "sym"},
                                {"assume_a": "pos"}, {"assume_a": "pos", "lower": True},
                                {"assume_a": "her", "lower": True}])
def test_solve(kw) -> None:
    m = A if "assume_a" not in kw else SPD + (np.triu(A, 1) if kw.get("lower") else
                                              np.tril(A, -1))  # noise where it is not read
    for b in (BV, BM):
        np.testing.assert_allclose(linalg.solve(m, b, **kw), sl.solve(m, b, **kw), rtol=1e-12)
    ok(check(lambda a, b: linalg.solve(a, b, **kw), m, BM))
    stack = np.stack([A, A.T + np.eye(N)])
    np.testing.assert_allclose(linalg.solve(stack, BV), sl.solve(stack, BV), rtol=1e-12)


def test_inv_det_block_diag() -> None:
    np.testing.assert_allclose(linalg.inv(A), sl.inv(A), rtol=1e-12)
    np.testing.assert_allclose(linalg.det(A), sl.det(A), rtol=1e-12)
    blocks = (A[:2, :3], 2.0, [1.0, 2.0], BM)
    np.testing.assert_array_equal(linalg.block_diag(*blocks), sl.block_diag(*blocks))
    ok(check(lambda a, b: linalg.block_diag(a, 3.0, b), A[:2, :3], BM, order=2))
    ok(check(lambda a: linalg.det(a) * linalg.inv(a), A))


@pytest.mark.parametrize("trans", [0, 1, 2])
def test_lu_factor_and_solve(trans) -> None:
    lu, piv = linalg.lu_factor(A)
    lu_ref, piv_ref = sl.lu_factor(A)
    np.testing.assert_allclose(lu, lu_ref, rtol=1e-13)
    np.testing.assert_array_equal(piv, piv_ref)
    for b in (BM, BV):
        np.testing.assert_allclose(linalg.lu_solve((lu, piv), b, trans=trans),
                                   sl.lu_solve((lu_ref, piv_ref), b, trans=trans), rtol=1e-12)
    ok(check(lambda a, b: linalg.lu_solve(linalg.lu_factor(a), b, trans=trans), A, BM,
             order=2 if trans == 1 else 1))
    if trans == 0:
        ok(check(lambda a: linalg.lu_factor(a)[0], A, order=2))


# ---------------------------------------------------------------------------------
# expm, expm_frechet, sqrtm, solve_sylvester


def test_expm() -> None:
    a = 0.6 * A
    np.testing.assert_allclose(linalg.expm(a), sl.expm(a), rtol=1e-13)
    stack = np.stack([a, -a, a.T])
    np.testing.assert_allclose(linalg.expm(stack), sl.expm(stack), rtol=1e-13)
    ok(check(linalg.expm, a, order=2))
    ok(check(linalg.expm, stack[:2]))
    # d tr(expm(A)) / dA = expm(A)^T
    np.testing.assert_allclose(cr.grad(lambda x: np.trace(linalg.expm(x)))(a), sl.expm(a).T,
                               rtol=1e-12)
    # the VJP is the Frechet derivative at A^T applied to the cotangent
    G = RNG.standard_normal((N, N))
    _, vjp = cr.vjp(linalg.expm, a)
    np.testing.assert_allclose(vjp(G)[0], sl.expm_frechet(a.T, G, compute_expm=False),
                               rtol=1e-11, atol=1e-13)
    # third order in forward mode: the derivative of exp(tA) in t, three times, is A^3 e^{tA}
    d3 = cr.jacfwd(cr.jacfwd(cr.jacfwd(lambda t: linalg.expm(t * a))))(0.7)
    np.testing.assert_allclose(d3, np.linalg.matrix_power(a, 3) @ sl.expm(0.7 * a),
                               rtol=1e-10)


def test_expm_frechet() -> None:
    a, e = 0.5 * A, RNG.standard_normal((N, N))
    E1, L1 = linalg.expm_frechet(a, e)
    E2, L2 = sl.expm_frechet(a, e)
    np.testing.assert_allclose(E1, E2, rtol=1e-12)
    np.testing.assert_allclose(L1, L2, rtol=1e-11, atol=1e-13)
    ok(check(lambda a, e: linalg.expm_frechet(a, e, compute_expm=False), a, e, order=2))


def test_sqrtm() -> None:
    np.testing.assert_allclose(linalg.sqrtm(SPD), sl.sqrtm(SPD), rtol=1e-12)
    ok(check(linalg.sqrtm, SPD, order=2))
    # a nonsymmetric matrix with a real square root
    m = SPD + 0.5 * A
    np.testing.assert_allclose(linalg.sqrtm(m), sl.sqrtm(m), rtol=1e-12)
    ok(check(linalg.sqrtm, m))
    # sqrtm(A)^2 = A: its derivative is the identity
    J = cr.jacobian(lambda x: linalg.sqrtm(x) @ linalg.sqrtm(x))(SPD)
    np.testing.assert_allclose(J.reshape(N * N, N * N), np.eye(N * N), atol=1e-10)


def test_complex_inputs_and_complex_roots() -> None:
    """Complex matrices, and a real matrix whose principal square root is complex."""
    neg = np.array([[-2.0, 0.5], [0.3, 1.0]])
    np.testing.assert_allclose(linalg.sqrtm(neg), sl.sqrtm(neg), rtol=1e-12)
    ok(check(lambda a: np.abs(linalg.sqrtm(a)) ** 2, neg))
    ok(check(lambda a: np.real(linalg.sqrtm(a)), neg))
    ac = SPD + 0.3j * A
    np.testing.assert_allclose(linalg.sqrtm(ac), sl.sqrtm(ac), rtol=1e-12)
    np.testing.assert_allclose(linalg.expm(0.3 * ac), sl.expm(0.3 * ac), rtol=1e-12)
    ok(check(lambda a: np.abs(linalg.sqrtm(a)) ** 2, ac))
    ok(check(lambda a: np.abs(linalg.expm(a)) ** 2, 0.3 * ac))
    ok(check(lambda a, q: np.abs(linalg.solve_sylvester(a, C3, q)) ** 2, ac, Q + 1j * Q[::-1]))
    # mixed real and complex arguments: the residual is zero (SciPy 1.17's own call is not)
    qc = Q + 1j * Q[::-1]
    X = linalg.solve_sylvester(SPD, C3, qc)
    np.testing.assert_allclose(SPD @ X + X @ C3, qc, atol=1e-12)


def test_solve_sylvester() -> None:
    a, b = SPD, C3
    np.testing.assert_allclose(linalg.solve_sylvester(a, b, Q), sl.solve_sylvester(a, b, Q),
                               rtol=1e-12)
    ok(check(linalg.solve_sylvester, a, b, Q, order=2))
    X = linalg.solve_sylvester(a, b, Q)
    np.testing.assert_allclose(a @ X + X @ b, Q, atol=1e-12)


def test_plain_arrays_give_plain_arrays() -> None:
    for out in (linalg.expm(A), linalg.sqrtm(SPD), linalg.solve_triangular(TRI, BV, lower=True),
                linalg.solve_sylvester(SPD, C3, Q), linalg.lu_factor(A)[0],
                linalg.cho_factor(SPD)[0]):
        assert isinstance(out, np.ndarray) and not isinstance(out, cr.Tensor)


# ---------------------------------------------------------------------------------
# against JAX and autograd


def test_against_jax_scipy_linalg() -> None:
    jax = pytest.importorskip("jax")
    pytest.importorskip("jaxshim")  # (double precision, compilation cache)
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    a = 0.6 * A
    W = RNG.standard_normal((N, N))
    ours = cr.grad(lambda x: np.sum(linalg.expm(x) * W))(a)
    theirs = jax.jit(jax.grad(lambda x: jnp.sum(jsl.expm(x) * W)))(a)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)

    def f(a, b, c, s):
        x = linalg.solve_triangular(a, b, lower=True, trans=1)
        y = linalg.cho_solve(linalg.cho_factor(s, lower=True), x)
        return np.sum(linalg.lu_solve(linalg.lu_factor(c), y) * W[:, :2])

    def fj(a, b, c, s):
        x = jsl.solve_triangular(a, b, lower=True, trans=1)
        y = jsl.cho_solve(jsl.cho_factor(s, lower=True), x)
        return jnp.sum(jsl.lu_solve(jsl.lu_factor(c), y) * W[:, :2])

    args = (TRI, BM, A, SPD)
    v, g = cr.value_and_grad(f, argnums=(0, 1, 2, 3))(*args)
    vj, gj = jax.jit(jax.value_and_grad(fj, argnums=(0, 1, 2, 3)))(*args)
    np.testing.assert_allclose(v, vj, rtol=1e-12)
    for i, (o, t) in enumerate(zip(g, gj)):
        if i == 3:  # JAX symmetrises the Cholesky input's gradient; compare symmetric parts
            o, t = o + np.tril(o, -1).T, np.asarray(t) + np.asarray(t).T - np.diag(np.diag(t))
            o, t = np.tril(o), np.tril(t)
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12, err_msg=f"argument {i}")


def test_against_autograd_scipy_linalg() -> None:
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    import autograd.scipy.linalg as asl

    W = RNG.standard_normal((N, 2))
    for lower, trans in [(True, 0), (True, 1), (False, 0)]:
        a = TRI if lower else TRI.T
        o = cr.grad(lambda a, b: np.sum(linalg.solve_triangular(a, b, trans=trans, lower=lower)
                                        * W), argnums=(0, 1))(a, BM)
        t = autograd.grad(lambda a, b: anp.sum(asl.solve_triangular(a, b, trans=trans,
                                                                     lower=lower) * W),
                          argnum=(0, 1))(a, BM)
        mask = np.tril(np.ones((N, N), bool)) if lower else np.triu(np.ones((N, N), bool))
        np.testing.assert_allclose(o[0], np.where(mask, t[0], 0.0), rtol=1e-11)  # read part
        np.testing.assert_allclose(o[1], t[1], rtol=1e-11)
    V = RNG.standard_normal((N, N))
    o = cr.grad(lambda x: np.sum(linalg.sqrtm(x) * V))(SPD)
    t = autograd.grad(lambda x: anp.sum(asl.sqrtm(x) * V))(SPD)
    np.testing.assert_allclose(o, t, rtol=1e-10)
    o = cr.grad(lambda a, b, q: np.sum(linalg.solve_sylvester(a, b, q) * Q),
                argnums=(0, 1, 2))(SPD, C3, Q)
    t = autograd.grad(lambda a, b, q: anp.sum(asl.solve_sylvester(a, b, q) * Q),
                      argnum=(0, 1, 2))(SPD, C3, Q)
    for x, y in zip(o, t):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13)
