"""Linear algebra and FFT beyond the op table: result tuples, degenerate and singular inputs
(clear errors instead of inf/NaN, exact answers where the derivative exists), full_matrices
and QR modes, higher order, dtypes, random einsum specs against torch."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.core.errors import GradientError

from harness import num_jacobian


def rotate(values, seed=0, cplx=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((len(values), len(values)))
    if cplx:
        a = a + 1j * rng.standard_normal(a.shape)
    q, _ = np.linalg.qr(a)
    return (q * np.asarray(values)) @ q.conj().T


def numgrad(f, x):
    return num_jacobian(f, [x], 0)


# --- API: tuples, namespaces ----------------------------------------------------------


def test_result_tuples_and_namespaces():
    a = cr.tensor(rotate([1.0, 2.0, 3.0]), requires_grad=True)
    res = np.linalg.eigh(a)
    assert type(res).__name__ == "EighResult"
    assert isinstance(res.eigenvalues, cr.Tensor) and isinstance(res.eigenvectors, cr.Tensor)
    np.testing.assert_allclose(res.eigenvalues._value, [1.0, 2.0, 3.0])
    u, s, vh = np.linalg.svd(a)
    assert type(np.linalg.svd(a)).__name__ == "SVDResult"
    np.testing.assert_allclose(((u * s) @ vh)._value, a._value, atol=1e-12)
    q, r = np.linalg.qr(a)
    assert type(np.linalg.qr(a)).__name__ == "QRResult"
    sign, lad = np.linalg.slogdet(a)
    assert float(sign._value) == 1.0 and np.isclose(lad._value, np.log(6.0))
    # cr.numpy mirrors: linalg.*, fft.*, einsum
    assert cr.numpy.linalg.inv is not np.linalg.inv
    np.testing.assert_allclose(cr.numpy.linalg.inv(a)._value, np.linalg.inv(a._value))
    np.testing.assert_allclose(cr.numpy.fft.rfft(a)._value, np.fft.rfft(a._value))
    np.testing.assert_allclose(cr.numpy.einsum("ii", a)._value, 6.0)
    # plain arrays through cr.numpy stay plain
    assert isinstance(cr.numpy.linalg.det(np.eye(2)), float | np.floating | np.ndarray)


def test_tensor_backward_through_eigh():
    a0 = rotate([1.0, 2.0, 4.0], seed=3)
    a = cr.tensor(a0, requires_grad=True)
    w, v = np.linalg.eigh(a)
    (w[2] + (v[:, 0] ** 2).sum() * 0 + v[0, 1] ** 2).backward()
    g = numgrad(lambda x: np.linalg.eigh((x + x.T) / 2)[0][2]
                + np.linalg.eigh((x + x.T) / 2)[1][0, 1] ** 2, a0)
    np.testing.assert_allclose(a.grad._value, g, atol=1e-6)
    np.testing.assert_allclose(a.grad._value, a.grad._value.T, atol=1e-12)  # Hermitian


def test_lstsq_tuple():
    rng = np.random.default_rng(0)
    a0, b0 = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    x, res, rank, s = np.linalg.lstsq(cr.tensor(a0), cr.tensor(b0))
    xr, resr, rankr, sr = np.linalg.lstsq(a0, b0)
    np.testing.assert_allclose(x._value, xr)
    np.testing.assert_allclose(res._value, resr)
    np.testing.assert_allclose(s._value, sr)
    assert rank == rankr == 3
    # under-determined: no residuals (an empty plain array, like NumPy)
    x, res, rank, s = np.linalg.lstsq(cr.tensor(a0.T), cr.tensor(b0[:3]))
    assert res.shape == (0,) and rank == 3
    g = cr.grad(lambda a: np.sum(np.linalg.lstsq(a, b0)[1]))(a0)
    np.testing.assert_allclose(g, numgrad(lambda a: np.sum(np.linalg.lstsq(a, b0)[1]), a0),
                               atol=1e-6)


# --- eigh / eig: degenerate spectra and phases ------------------------------------------


def test_eigh_degenerate_vectors_raise():
    a0 = rotate([1.0, 1.0, 3.0])
    with pytest.raises(GradientError, match="eigh.*not unique"):
        cr.grad(lambda a: np.sum(np.linalg.eigh(a)[1] ** 3))(a0)


def test_eigh_degenerate_what_is_defined():
    a0 = rotate([1.0, 1.0, 3.0])
    c = np.arange(9.0).reshape(3, 3)

    # a matrix function V f(w) V^T is smooth, but its gradient through the eigenvectors of
    # a repeated eigenvalue needs f' (a limit no first-order rule sees): an error, not a
    # silently wrong or NaN gradient (torch 2.13 returns NaN here)
    def matfun(a):
        w, v = np.linalg.eigh((a + a.T) / 2)
        return np.sum(((v * np.exp(w)) @ v.T) * c)

    with pytest.raises(GradientError, match="eigh"):
        cr.grad(matfun)(a0)
    # away from the degeneracy the same function is exact
    a1 = rotate([1.0, 1.2, 3.0])
    np.testing.assert_allclose(cr.grad(matfun)(a1), numgrad(matfun, a1), atol=1e-6)

    # eigenvalues alone: gradient V diag(g) V^T (the projector onto each eigenspace)
    g = cr.grad(lambda a: np.sum(np.linalg.eigvalsh(a) * [1.0, 1.0, 2.0]))(a0)
    np.testing.assert_allclose(g, np.eye(3) + rotate([0.0, 0.0, 1.0]), atol=1e-12)

    # the eigenvector of the simple eigenvalue: well defined and exact
    def top(a):
        v = np.linalg.eigh((a + a.T) / 2)[1][:, 2]
        return np.sum(v * v * [1.0, 2.0, 3.0])

    np.testing.assert_allclose(cr.grad(top)(a0), numgrad(top, a0), atol=1e-6)


def test_eigh_forward_mode_degenerate():
    a0 = rotate([2.0, 2.0, 5.0])
    t = np.zeros((3, 3))
    t[0, 0] = 1.0  # splits the repeated eigenvalue: eigenvectors jump
    with pytest.raises(GradientError, match="forward mode"):
        cr.jvp(lambda a: np.linalg.eigh(a)[1], (a0,), (t,))
    # eigenvalues only: fine
    _, dw = cr.jvp(np.linalg.eigvalsh, (a0,), (t,))
    assert np.all(np.isfinite(dw))
    # a tangent that keeps the eigenspace (a multiple of A): fine, and exact
    _, dv = cr.jvp(lambda a: np.linalg.eigh(a)[1], (a0,), (a0,))
    np.testing.assert_allclose(dv, 0.0, atol=1e-12)


def test_eig_phase_dependent_loss_raises():
    a0 = rotate([1.0, 2.0, 3.0], cplx=True) + np.triu(np.ones((3, 3)), 1)
    with pytest.raises(GradientError, match="phase"):
        cr.grad(lambda a: np.real(np.linalg.eig(a)[1][0, 0] * (1 + 2j)))(a0)
    # |V|^2 is phase-invariant: fine
    g = cr.grad(lambda a: np.sum(np.abs(np.linalg.eig(a)[1]) ** 2 * np.arange(9).reshape(3, 3)))(a0)
    assert np.all(np.isfinite(g))


def test_eigh_complex_phase_dependent_loss_raises():
    a0 = rotate([1.0, 2.0, 3.0], cplx=True)
    with pytest.raises(GradientError, match="phase"):
        cr.grad(lambda a: np.real(np.linalg.eigh(a)[1][0, 1] * (1 + 2j)))(a0)


# --- svd ----------------------------------------------------------------------------------


def test_svd_full_matrices_extra_columns():
    rng = np.random.default_rng(1)
    a0 = rng.standard_normal((4, 3))
    with pytest.raises(GradientError, match="full_matrices"):
        cr.grad(lambda a: np.sum(np.linalg.svd(a)[0]))(a0)
    with pytest.raises(GradientError, match="full_matrices=False"):
        cr.jvp(lambda a: np.linalg.svd(a)[1], (a0,), (np.ones((4, 3)),))
    # the first min(m, n) columns are fine, and so are the singular values
    g1 = cr.grad(lambda a: np.sum(np.linalg.svd(a)[1]) + np.sum(np.linalg.svd(a)[0][:, :3] ** 2 *
                                                                np.arange(12).reshape(4, 3)))(a0)
    g2 = cr.grad(lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[1])
                 + np.sum(np.linalg.svd(a, full_matrices=False)[0] ** 2
                          * np.arange(12).reshape(4, 3)))(a0)
    np.testing.assert_allclose(g1, g2, atol=1e-12)
    with pytest.raises(GradientError, match="Vh"):
        cr.grad(lambda a: np.sum(np.linalg.svd(a)[2] ** 2 * np.arange(16).reshape(4, 4)))(a0.T)


def test_svd_repeated_singular_values():
    q1, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((3, 3)))
    q2, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))
    a0 = (q1 * [2.0, 2.0, 1.0]) @ q2.T

    def cube(a):  # U diag(S^3) Vh = A A^T A: smooth, but not through a repeated S
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.sum(((u * s ** 3) @ vh) * np.arange(9.0).reshape(3, 3))

    with pytest.raises(GradientError, match="svd"):
        cr.grad(cube)(a0)
    a1 = (q1 * [2.0, 1.5, 1.0]) @ q2.T
    np.testing.assert_allclose(cr.grad(cube)(a1), numgrad(cube, a1), atol=1e-5)
    g = cr.grad(lambda a: np.sum(np.linalg.svd(a, compute_uv=False) ** 2))(a0)
    np.testing.assert_allclose(g, 2 * a0, atol=1e-12)  # d ||A||_F^2

    def last(a):  # the singular vectors of the simple singular value
        u, s, vh = np.linalg.svd(a)
        return np.sum(u[:, 2] ** 2 * [1.0, 2.0, 3.0]) + np.sum(vh[2] ** 2 * [3.0, 1.0, 2.0])

    np.testing.assert_allclose(cr.grad(last)(a0), numgrad(last, a0), atol=1e-6)


def test_svd_rank_deficient_rectangular():
    a0 = np.zeros((4, 2))
    a0[0, 0], a0[1, 1] = 1.0, 2.0
    a0[:, 1] = a0[:, 0]  # rank 1: one zero singular value
    with pytest.raises(GradientError, match="zero"):
        cr.grad(lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[0] ** 3))(a0)
    g = cr.grad(lambda a: np.sum(np.linalg.svd(a, compute_uv=False)))(a0)
    assert np.all(np.isfinite(g))


# --- det at singular matrices ----------------------------------------------------------


@pytest.mark.parametrize("a0", [
    np.array([[1.0, 2.0], [2.0, 4.0]]),
    np.zeros((3, 3)),
    np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 1.0]]),
    np.diag([3.0, 0.0, 0.0]),
])
def test_det_gradient_at_singular_matrices(a0):
    g = cr.grad(np.linalg.det)(a0)
    np.testing.assert_allclose(g, numgrad(np.linalg.det, a0), atol=1e-7)
    if a0.shape == (2, 2):  # the adjugate's transpose (torch 2.13 returns 0 here)
        np.testing.assert_allclose(g, [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    H = cr.hessian(np.linalg.det)(a0)
    Hn = num_jacobian(cr.grad(np.linalg.det), [a0], 0)
    np.testing.assert_allclose(H, Hn, atol=1e-5)


def test_slogdet_at_singular_matrix():
    a0 = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(GradientError, match="singular"):
        cr.grad(lambda a: np.linalg.slogdet(a)[1])(a0)
    with pytest.raises(GradientError, match="singular"):
        cr.jvp(lambda a: np.linalg.slogdet(a)[1], (a0,), (a0,))


def test_det_inv_solve_hessians():
    rng = np.random.default_rng(4)
    a0 = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    b0 = rng.standard_normal(3)
    for f in [np.linalg.det, lambda a: np.sum(np.linalg.inv(a) ** 2),
              lambda a: np.sum(np.linalg.solve(a, b0) ** 3), lambda a: np.linalg.slogdet(a)[1]]:
        H = cr.hessian(f)(a0)
        Hn = num_jacobian(cr.grad(f), [a0], 0)
        np.testing.assert_allclose(H, Hn, atol=1e-5, rtol=1e-5)
    # third order of det through the adjugate's own rules
    f = lambda a: np.linalg.det(a)
    d3 = cr.jacobian(cr.hessian(f))(a0)
    d3n = num_jacobian(cr.hessian(f), [a0], 0)
    np.testing.assert_allclose(d3, d3n, atol=1e-4)


# --- qr ----------------------------------------------------------------------------------


def test_qr_modes_and_errors():
    rng = np.random.default_rng(5)
    a0 = rng.standard_normal((4, 3))
    with pytest.raises(NotImplementedError, match="raw"):
        np.linalg.qr(cr.tensor(a0, requires_grad=True), mode="raw")
    with pytest.raises(GradientError, match="complete"):
        cr.grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0]))(a0)
    # complete mode with only the first n columns of Q used: same as reduced
    g1 = cr.grad(lambda a: np.sum(np.linalg.qr(a, mode="complete")[0][:, :3] ** 3))(a0)
    g2 = cr.grad(lambda a: np.sum(np.linalg.qr(a)[0] ** 3))(a0)
    np.testing.assert_allclose(g1, g2, atol=1e-12)
    low = a0.copy()
    low[:, 2] = low[:, 0]
    with pytest.raises(GradientError, match="full rank"):
        cr.grad(lambda a: np.sum(np.linalg.qr(a)[0]))(low)


# --- dtypes -------------------------------------------------------------------------------


def test_float32_gradients_keep_dtype():
    a = cr.tensor(np.eye(3, dtype=np.float32) * 2 + 0.1, requires_grad=True)
    np.sum(np.linalg.inv(a)).backward()
    assert a.grad.dtype == np.float32
    x = cr.tensor(np.arange(6, dtype=np.float32), requires_grad=True)
    np.sum(np.abs(np.fft.rfft(x)) ** 2).backward()
    assert x.grad.dtype == np.float32
    # Parseval for rfft (bins 1..2 count twice): d/dx sum |X_k|^2 weighted
    ref = cr.grad(lambda v: np.sum(np.abs(np.fft.fft(v)) ** 2))(np.arange(6.0))
    np.testing.assert_allclose(ref, 2 * 6 * np.arange(6.0), rtol=1e-12)


# --- FFT specifics -------------------------------------------------------------------------


def test_irfft_ignores_imaginary_dc_and_nyquist():
    z0 = np.array([1 + 2j, 0.5 - 1j, 0.3 + 0.2j, -1 + 3j])
    g = cr.grad(lambda z: np.sum(np.fft.irfft(z) * np.arange(6)))(z0)
    assert g[0].imag == 0 and g[-1].imag == 0  # n = 6: bins 0 and 3 are real
    g = cr.grad(lambda z: np.sum(np.fft.irfft(z, n=7) * np.arange(7)))(z0)
    assert g[0].imag == 0 and g[-1].imag != 0  # n = 7: bin 3 is an interior bin


def test_fft_values_match_numpy_exactly_and_errors():
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((3, 5))
    x = cr.tensor(x0, requires_grad=True)
    for name, kw in [("fftn", {}), ("rfftn", {"s": (4, 7), "axes": (0, 1)}),
                     ("irfftn", {"axes": (1, 0)}), ("hfft", {"n": 9}), ("fftshift", {})]:
        assert np.array_equal(getattr(np.fft, name)(x, **kw)._value,
                              getattr(np.fft, name)(x0, **kw))
    with pytest.raises(NotImplementedError, match="out"):
        np.fft.fft(x, out=np.empty((3, 5), complex))
    with pytest.raises(ValueError, match="norm"):
        np.fft.fft(x, norm="bogus")
    with pytest.raises(ValueError, match="data points"):
        np.fft.rfft(x, n=0)


# --- einsum ---------------------------------------------------------------------------------


def test_einsum_errors():
    a = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="operand"):
        np.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="dimensions"):
        np.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="repeats"):
        np.einsum("ij->ii", a)
    with pytest.raises(ValueError, match="sizes"):
        np.einsum("ij,ij->i", a, cr.tensor(np.ones((2, 4))))


def test_random_einsums_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    letters = "abcd"
    size = {"a": 2, "b": 3, "c": 2, "d": 4}
    for _ in range(25):
        nops = int(rng.integers(1, 4))
        terms = ["".join(rng.choice(list(letters), size=int(rng.integers(1, 4))))
                 for _ in range(nops)]
        used = sorted(set("".join(terms)))
        out = "".join(c for c in used if rng.random() < 0.5)
        spec = ",".join(terms) + "->" + out
        ops = [rng.standard_normal([size[c] for c in t]) for t in terms]
        u = rng.standard_normal([size[c] for c in out])
        val = np.einsum(spec, *[cr.tensor(o) for o in ops])
        np.testing.assert_allclose(val._value, np.einsum(spec, *ops), err_msg=spec)
        tops = [torch.tensor(o, requires_grad=True) for o in ops]
        torch.einsum(spec, *tops).backward(torch.tensor(u))
        gs = cr.grad(lambda *xs: np.sum(np.einsum(spec, *xs) * u), argnums=tuple(range(nops)))(*ops)
        for g, t in zip(gs, tops, strict=True):
            np.testing.assert_allclose(g, t.grad.numpy(), atol=1e-12, err_msg=spec)


def test_matrix_power_checks():
    a = cr.tensor(np.eye(2) * 2.0, requires_grad=True)
    with pytest.raises(TypeError, match="integer"):
        np.linalg.matrix_power(a, 1.5)
    np.testing.assert_allclose(np.linalg.matrix_power(a, -3)._value, np.eye(2) / 8)
    np.testing.assert_allclose(np.linalg.matrix_power(a, 0)._value, np.eye(2))


def test_transforms_accept_result_tuples():
    a0 = np.diag([1.0, 2.0, 3.0]) + 0.1
    out, vjp_fn = cr.vjp(np.linalg.eigh, a0)
    assert type(out).__name__ == "EighResult"
    (g,) = vjp_fn((np.ones(3), np.zeros((3, 3))))
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)  # d trace / dA
    o, t = cr.jvp(np.linalg.svd, (a0,), (np.eye(3),))
    assert type(t).__name__ == "SVDResult"
    np.testing.assert_allclose(t.S, np.ones(3), atol=1e-12)  # d s_i along I (A is SPD)


def test_list_operands():
    a0 = np.array([[2.0, 1.0], [0.5, 3.0]])
    g = cr.grad(lambda a: np.sum(np.matmul([[1.0, 2.0], [3.0, 4.0]], a)))(a0)
    np.testing.assert_allclose(g, [[4.0, 4.0], [6.0, 6.0]])
    g = cr.grad(lambda a: np.sum(np.linalg.solve(a, [1.0, 2.0])))(a0)
    np.testing.assert_allclose(g, numgrad(lambda a: np.sum(np.linalg.solve(a, [1.0, 2.0])), a0),
                               atol=1e-7)
