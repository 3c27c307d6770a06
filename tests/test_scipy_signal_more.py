"""cr.scipy.signal.convolve2d / correlate2d (every mode and boundary) and
cr.scipy.integrate.trapezoid: values against SciPy, derivatives against central differences
in both modes, values and gradients against jax.scipy."""

from __future__ import annotations

import numpy as np
import pytest

ss = pytest.importorskip("scipy.signal")
si = pytest.importorskip("scipy.integrate")

import chainrule as cr  # noqa: E402
from chainrule.scipy import integrate, signal  # noqa: E402

RNG = np.random.default_rng(11)
A = RNG.standard_normal((5, 6))
SHAPES = [(2, 3), (3, 4), (1, 2), (4, 1), (5, 6), (6, 8)]
KERNELS = [RNG.standard_normal(s) for s in SHAPES]
MODES = ("full", "same", "valid")
BOUNDARIES = [("fill", 0), ("fill", 1.5), ("wrap", 0), ("symm", 0)]
FUNCS = ("convolve2d", "correlate2d")


def check(f, *args, **kw):
    """cr.gradcheck on random Jacobian projections (both modes)."""
    return cr.gradcheck(f, *args, full_max=0, **kw)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("mode", MODES)
def test_values_equal_scipys(name: str, mode: str) -> None:
    ours, ref = getattr(signal, name), getattr(ss, name)
    n = 0
    for k in KERNELS:
        for a, b in [(A, k), (k, A), (A[:2, :3], k)]:
            for boundary, fill in BOUNDARIES:
                try:
                    r = ref(a, b, mode, boundary, fill)
                except ValueError:  # 'valid' where neither contains the other
                    with pytest.raises(ValueError, match="valid"):
                        ours(a, b, mode, boundary, fill)
                    continue
                o = ours(a, b, mode, boundary, fill)
                assert isinstance(o, np.ndarray) and not isinstance(o, cr.Tensor)
                assert o.shape == r.shape
                np.testing.assert_allclose(o, r, rtol=1e-11, atol=1e-12,
                                           err_msg=f"{a.shape} {b.shape} {boundary} {fill}")
                n += 1
    assert n >= 40
    c1 = A + 1j * RNG.standard_normal(A.shape)
    c2 = KERNELS[1] - 0.5j * RNG.standard_normal(SHAPES[1])
    for boundary, fill in BOUNDARIES + [("fill", 0.5 - 1j)]:
        np.testing.assert_allclose(ours(c1, c2, mode, boundary, fill),
                                   ref(c1, c2, mode, boundary, fill), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("mode", MODES)
def test_derivatives_match_central_differences(name: str, mode: str) -> None:
    f = getattr(signal, name)
    for boundary, fill in BOUNDARIES:
        rep = check(lambda a, b: f(a, b, mode, boundary, fill), A, KERNELS[0],
                    order=2 if boundary == "wrap" else 1)
        assert rep, str(rep)
    rep = check(lambda a, b: f(a, b, mode), KERNELS[0], A)  # the second input the larger
    assert rep, str(rep)
    c1 = A[:3, :4] + 1j * RNG.standard_normal((3, 4))
    rep = check(lambda a, b: np.abs(f(a, b, mode, "symm")) ** 2, c1, KERNELS[0] + 0.3j)
    assert rep, str(rep)


def test_known_gradients_and_errors() -> None:
    """The cotangent of x in convolve2d(x, k) (zero fill) is correlate2d(g, k, 'valid');
    with wrap, every output sees every kernel entry once per input entry (the gradient of
    the sum in x is sum(k) everywhere)."""
    k = KERNELS[1]
    g = RNG.standard_normal(ss.convolve2d(A, k).shape)
    _, vjp = cr.vjp(lambda x: signal.convolve2d(x, k), A)
    np.testing.assert_allclose(vjp(g)[0], ss.correlate2d(g, k, "valid"), rtol=1e-12)
    gx = cr.grad(lambda x: np.sum(signal.convolve2d(x, k, "same", "wrap")))(A)
    np.testing.assert_allclose(gx, np.full(A.shape, np.sum(k)), rtol=1e-12)
    # the gradient in fillvalue-padded entries does not reach x: only the kernel sees them
    gx = cr.grad(lambda x: np.sum(signal.convolve2d(x, k, "full", "fill", 2.0)))(A)
    np.testing.assert_allclose(gx, np.full(A.shape, np.sum(k)), rtol=1e-12)
    with pytest.raises(ValueError, match="2-D"):
        signal.convolve2d(A[0], k)
    with pytest.raises(ValueError, match="boundary"):
        signal.correlate2d(A, k, boundary="reflect")
    with pytest.raises(ValueError, match="mode"):
        signal.convolve2d(A, k, "middle")
    with pytest.raises(ValueError, match="fillvalue"):
        signal.convolve2d(A, k, fillvalue=[1.0, 2.0])


# ---------------------------------------------------------------------------------
# integrate.trapezoid

Y = RNG.standard_normal((3, 5, 4))
XS = np.sort(RNG.standard_normal(5))
XN = np.sort(RNG.standard_normal((3, 5, 4)), axis=1)
TRAP = [((Y,), {}), ((Y,), {"dx": 0.3}), ((Y, XS), {"axis": 1}), ((Y, XN), {"axis": 1}),
        ((Y[0, 0],), {}), ((Y,), {"axis": 0, "dx": 2.0}), ((Y, np.arange(4.0) ** 2), {}),
        ((Y[0], XS[:4]), {"axis": -1}), ((Y, XS), {"axis": -2})]


def test_trapezoid_values_equal_scipys() -> None:
    for args, kw in TRAP:
        np.testing.assert_allclose(integrate.trapezoid(*args, **kw), si.trapezoid(*args, **kw),
                                   rtol=1e-13, atol=1e-15)
    v = integrate.trapezoid([1.0, 2.0, 4.0], [0.0, 1.0, 3.0])
    assert isinstance(v, np.floating) and v == 1.5 + 6.0
    assert isinstance(integrate.trapezoid(cr.tensor(Y)), cr.Tensor)
    with pytest.raises(ValueError, match="points"):
        integrate.trapezoid(Y, XS[:4], axis=1)


def test_trapezoid_derivatives() -> None:
    """In y, x (1-D and N-D) and dx, both modes, second order; the exact gradients."""
    assert check(lambda y, x: integrate.trapezoid(y, x, axis=1), Y, XS, order=2)
    assert check(lambda y, x: integrate.trapezoid(y, x, axis=1), Y, XN, order=2)
    assert check(lambda y, d: integrate.trapezoid(y, dx=d, axis=0), Y, 0.7, order=2)
    x = np.array([0.0, 0.5, 1.5, 3.0])
    gy = cr.grad(lambda y: integrate.trapezoid(y, x))(np.ones(4))
    np.testing.assert_allclose(gy, [0.25, 0.75, 1.25, 0.75], rtol=1e-15)  # the weights
    gx = cr.grad(lambda x: integrate.trapezoid(x**2, x))(x)  # d/dx_i of the rule
    y = x**2
    ref = np.zeros(4)
    for i in range(3):  # term (x[i+1] - x[i]) (y[i+1] + y[i]) / 2
        h, s = x[i + 1] - x[i], (y[i + 1] + y[i]) / 2
        ref[i] += -s + h * x[i]
        ref[i + 1] += s + h * x[i + 1]
    np.testing.assert_allclose(gx, ref, rtol=1e-14)


# ---------------------------------------------------------------------------------
# against jax.scipy


def test_against_jax_scipy() -> None:
    jax = pytest.importorskip("jax")
    pytest.importorskip("jaxshim")  # (double precision, compilation cache)
    import jax.numpy as jnp
    import jax.scipy.integrate as jsi
    import jax.scipy.signal as jss

    k = KERNELS[1]
    for name in FUNCS:
        for mode in MODES:
            f, fj = getattr(signal, name), getattr(jss, name)
            w = RNG.standard_normal(ss.convolve2d(A, k, mode).shape)
            v, g = cr.value_and_grad(lambda a, b: np.sum(f(a, b, mode) * w),
                                     argnums=(0, 1))(A, k)
            vj, gj = jax.jit(jax.value_and_grad(lambda a, b: jnp.sum(fj(a, b, mode) * w),
                                                argnums=(0, 1)))(A, k)
            np.testing.assert_allclose(v, vj, rtol=1e-11)
            for o, t in zip(g, gj):
                np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12,
                                           err_msg=f"{name} {mode}")
    for args, kw in TRAP[:4]:
        n = len(args)
        v, g = cr.value_and_grad(lambda *a: np.sum(integrate.trapezoid(*a, **kw)),
                                 argnums=tuple(range(n)))(*args)
        vj, gj = jax.value_and_grad(lambda *a: jnp.sum(jsi.trapezoid(*a, **kw)),
                                    argnums=tuple(range(n)))(*args)
        np.testing.assert_allclose(v, vj, rtol=1e-12)
        for o, t in zip(g, gj):
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14)
