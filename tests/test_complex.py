"""Complex numbers in both modes, with PyTorch's convention for a real loss's gradient.

For a real loss L of z = x + iy, chainrule (like PyTorch) returns dL/dx + i dL/dy, the
conjugate Wirtinger derivative times 2, so that z -= lr * grad descends L.
"""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

rng = np.random.default_rng(3)
Z = rng.standard_normal(4) + 1j * rng.standard_normal(4)
W = rng.standard_normal(4) + 1j * rng.standard_normal(4)

LOSSES = {
    "abs2": (lambda z: np.sum(np.abs(z) ** 2), lambda z: torch.sum(torch.abs(z) ** 2)),
    "real_exp": (lambda z: np.sum(np.real(np.exp(z))), lambda z: torch.sum(torch.real(torch.exp(z)))),
    "imag_sin_mul": (lambda z: np.sum(np.imag(np.sin(z) * W)),
                     lambda z: torch.sum(torch.imag(torch.sin(z) * torch.tensor(W)))),
    "abs_log": (lambda z: np.sum(np.abs(np.log(z))), lambda z: torch.sum(torch.abs(torch.log(z)))),
    "angle": (lambda z: np.sum(np.angle(z * z)), lambda z: torch.sum(torch.angle(z * z))),
    "conj_div": (lambda z: np.sum(np.real(np.conj(z) / (z + 3))),
                 lambda z: torch.sum(torch.real(torch.conj(z) / (z + 3)))),
    "matmul": (lambda z: np.sum(np.abs(np.outer(z, W) @ z)),
               lambda z: torch.sum(torch.abs(torch.outer(z, torch.tensor(W)) @ z))),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_matches_torch(name):
    f, tf = LOSSES[name]
    g = cr.grad(f)(Z)
    tz = torch.tensor(Z, requires_grad=True)
    tf(tz).backward()
    np.testing.assert_allclose(g, tz.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_tensor_style_matches_functional(name):
    f, _ = LOSSES[name]
    z = cr.tensor(Z, requires_grad=True)
    f(z).backward()
    np.testing.assert_allclose(z.grad.numpy(), cr.grad(f)(Z), rtol=1e-12)


def test_gradient_descent_works_unchanged():
    target = np.array([1 + 2j, -1j])
    z = np.zeros(2, complex)
    loss = lambda z: np.sum(np.abs(z - target) ** 2)
    for _ in range(50):
        z = z - 0.1 * cr.grad(loss)(z)
    np.testing.assert_allclose(z, target, atol=1e-4)


def test_forward_mode_is_holomorphic_derivative():
    z = np.array([0.3 + 0.4j])
    dz = np.array([1.0 + 0.0j])
    out, t = cr.jvp(np.exp, (z,), (dz,))
    np.testing.assert_allclose(t, np.exp(z))
    out, t = cr.jvp(lambda z: z ** 3, (z,), (1j * dz,))
    np.testing.assert_allclose(t, 3 * z ** 2 * 1j)


def test_real_input_complex_intermediate_gives_real_gradient():
    f = lambda x: np.sum(np.abs(np.exp(1j * x) * (2 + x)) ** 2)
    x = np.array([0.5, -1.0])
    g = cr.grad(f)(x)
    assert g.dtype == np.float64
    tx = torch.tensor(x, requires_grad=True)
    torch.sum(torch.abs(torch.exp(1j * tx) * (2 + tx)) ** 2).backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12)


def test_vjp_with_complex_cotangent_matches_torch():
    out, fn = cr.vjp(lambda z: np.sin(z) * W, Z)
    ct = np.conj(W)
    (g,) = fn(ct)
    tz = torch.tensor(Z, requires_grad=True)
    (torch.sin(tz) * torch.tensor(W)).backward(torch.tensor(ct))
    np.testing.assert_allclose(g, tz.grad.numpy(), rtol=1e-12)
