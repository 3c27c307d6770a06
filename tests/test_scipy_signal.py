"""cr.scipy.signal: convolve, correlate and fftconvolve against SciPy's values, their
derivatives against central differences in both modes (second order too), the VJP as a
correlation, and JAX's and autograd's gradients."""

from __future__ import annotations

import numpy as np
import pytest

ss = pytest.importorskip("scipy.signal")

import chainrule as cr  # noqa: E402
from chainrule.scipy import signal  # noqa: E402

RNG = np.random.default_rng(5)
X1, K1 = RNG.standard_normal(7), RNG.standard_normal(3)
X2, K2 = RNG.standard_normal((5, 4)), RNG.standard_normal((2, 3))
MODES = ("full", "same", "valid")
FUNCS = ("convolve", "correlate", "fftconvolve")


def check(f, *args, **kw):
    """cr.gradcheck on random Jacobian projections (both modes)."""
    return cr.gradcheck(f, *args, full_max=0, **kw)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("mode", MODES)
def test_values_equal_scipys(name: str, mode: str) -> None:
    ours, ref = getattr(signal, name), getattr(ss, name)
    cases = [(X1, K1), (K1, X1), (X2, K2), (X2, X2[:3, :2] + 1.0)]
    if mode != "valid":
        cases.append((X2, RNG.standard_normal((2, 6))))  # neither contains the other
    for a, b in cases:
        np.testing.assert_allclose(ours(a, b, mode), ref(a, b, mode), rtol=1e-11, atol=1e-13,
                                   err_msg=f"{name} {mode} {a.shape} {b.shape}")
    c1 = X1 + 1j * RNG.standard_normal(7)
    c2 = K1 - 0.5j * RNG.standard_normal(3)
    np.testing.assert_allclose(ours(c1, c2, mode), ref(c1, c2, mode), rtol=1e-11, atol=1e-13)
    out = ours(X1, K1, mode)
    assert isinstance(out, np.ndarray) and not isinstance(out, cr.Tensor)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("mode", MODES)
def test_derivatives_match_central_differences(name: str, mode: str) -> None:
    f = getattr(signal, name)
    rep = check(lambda a, b: f(a, b, mode), X1, K1, order=2)
    assert rep, str(rep)
    rep = check(lambda a, b: f(a, b, mode), K1, X1)  # the second input the larger
    assert rep, str(rep)
    rep = check(lambda a, b: f(a, b, mode), X2, K2)
    assert rep, str(rep)


def test_vjp_is_a_correlation() -> None:
    """The cotangent of x in convolve(x, k) is correlate(g, k, 'valid'); of k,
    correlate(g, x, 'valid')."""
    g = RNG.standard_normal(len(X1) + len(K1) - 1)
    _, vjp = cr.vjp(lambda x, k: signal.convolve(x, k), X1, K1)
    gx, gk = vjp(g)
    np.testing.assert_allclose(gx, ss.correlate(g, K1, "valid"), rtol=1e-12)
    np.testing.assert_allclose(gk, ss.correlate(g, X1, "valid"), rtol=1e-12)
    # and the Jacobian of a full convolution in x is the convolution matrix of k
    J = cr.jacobian(lambda x: signal.convolve(x, K1))(X1)
    M = np.array([np.convolve(e, K1) for e in np.eye(len(X1))]).T
    np.testing.assert_allclose(J, M, atol=1e-15)


def test_complex_and_nd() -> None:
    c1 = X1 + 1j * RNG.standard_normal(7)
    c2 = K1 - 0.5j * RNG.standard_normal(3)
    assert check(lambda a, b: np.abs(signal.correlate(a, b, "same")) ** 2, c1, c2)
    x3 = RNG.standard_normal((3, 4, 2))
    k3 = RNG.standard_normal((2, 2, 2))
    np.testing.assert_allclose(signal.convolve(x3, k3, "valid"), ss.convolve(x3, k3, "valid"),
                               rtol=1e-12)
    assert check(lambda a, b: signal.fftconvolve(a, b, "same"), x3, k3)


def test_fftconvolve_axes_broadcast() -> None:
    x = RNG.standard_normal((3, 8))
    k = RNG.standard_normal((1, 4))
    for mode in MODES:
        np.testing.assert_allclose(signal.fftconvolve(x, k, mode, axes=1),
                                   ss.fftconvolve(x, k, mode, axes=1), rtol=1e-11, atol=1e-13)
        assert check(lambda a, b: signal.fftconvolve(a, b, mode, axes=[-1]), x, k)


def test_methods_and_errors() -> None:
    for method in ("direct", "fft"):
        np.testing.assert_allclose(signal.convolve(X2, K2, "same", method=method),
                                   ss.convolve(X2, K2, "same", method=method), rtol=1e-11)
        assert check(lambda a, b: signal.convolve(a, b, "same", method=method), X2, K2)
    with pytest.raises(ValueError, match="valid"):
        signal.convolve(X2, RNG.standard_normal((2, 6)), "valid")
    with pytest.raises(ValueError, match="mode"):
        signal.correlate(X1, K1, "middle")
    with pytest.raises(ValueError, match="dimensionality"):
        signal.convolve(X1, K2)


def test_against_jax_scipy_signal() -> None:
    jax = pytest.importorskip("jax")
    pytest.importorskip("jaxshim")  # (double precision, compilation cache)
    import jax.numpy as jnp
    import jax.scipy.signal as jss

    for name, mode in [("convolve", "full"), ("convolve", "same"), ("convolve", "valid"),
                       ("correlate", "same"), ("fftconvolve", "valid")]:
        f, fj = getattr(signal, name), getattr(jss, name)
        w = RNG.standard_normal(np.shape(ss.convolve(X2, K2, mode)))
        v, g = cr.value_and_grad(lambda a, b: np.sum(f(a, b, mode) * w),
                                 argnums=(0, 1))(X2, K2)
        vj, gj = jax.jit(jax.value_and_grad(lambda a, b: jnp.sum(fj(a, b, mode) * w),
                                            argnums=(0, 1)))(X2, K2)
        np.testing.assert_allclose(v, vj, rtol=1e-11)
        for o, t in zip(g, gj):
            np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name} {mode}")


def test_against_autograd_scipy_signal() -> None:
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    import autograd.scipy.signal as asg

    for mode in ("full", "valid"):
        for a, b in [(X1, K1), (X2, K2)]:
            np.testing.assert_allclose(signal.convolve(a, b, mode), asg.convolve(a, b, mode=mode),
                                       rtol=1e-12)
            w = RNG.standard_normal(np.shape(ss.convolve(a, b, mode)))
            o = cr.grad(lambda a, b: np.sum(signal.convolve(a, b, mode) * w),
                        argnums=(0, 1))(a, b)
            t = autograd.grad(lambda a, b: anp.sum(asg.convolve(a, b, mode=mode) * w),
                              argnum=(0, 1))(a, b)
            for x, y in zip(o, t):
                np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-13)
