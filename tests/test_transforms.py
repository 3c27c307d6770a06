"""Functional transforms: structures, nesting to any order, no perturbation confusion."""

import numpy as np
import pytest

import chainrule as cr


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_hess(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
        H[i + 1, i + 1] += 200
    return H


def test_issue_examples():
    assert cr.grad(lambda x: (x ** 2 + 1) ** 3)(2.0) == 300.0
    g = cr.grad(lambda w: 1 / (1 + np.exp(-w * 2.0)))(0.5)
    assert g == pytest.approx(0.39322386648296376, rel=1e-15)
    H = cr.hessian(lambda x: np.sum(np.sin(x) * x ** 3))(np.ones(4))
    d2 = -np.sin(1.0) + 6 * np.cos(1.0) + 6 * np.sin(1.0)
    np.testing.assert_allclose(H, np.eye(4) * d2, rtol=1e-12)


def test_float_in_float_out_and_structures():
    g = cr.grad(lambda x: x * x)(3.0)
    assert type(g) is float and g == 6.0

    def f(p):
        return p["w"] * p["b"][0] + np.sum(p["b"][1] ** 2)

    params = {"w": 2.0, "b": [3.0, np.array([1.0, 2.0])]}
    g = cr.grad(f)(params)
    assert set(g) == {"w", "b"} and isinstance(g["b"], list)
    assert g["w"] == 3.0 and g["b"][0] == 2.0
    np.testing.assert_array_equal(g["b"][1], [2.0, 4.0])
    t = cr.grad(lambda a: a[0] * a[1])((2.0, 5.0))
    assert t == (5.0, 2.0) and type(t) is tuple


def test_argnums_tuple_and_has_aux():
    f = lambda x, y: (x * y ** 2, {"note": x})
    (gx, gy), aux = cr.grad(f, argnums=(0, 1), has_aux=True)(2.0, 3.0)
    assert (gx, gy) == (9.0, 12.0) and aux == {"note": 2.0}
    (val, aux), g = cr.value_and_grad(f, has_aux=True)(2.0, 3.0)
    assert val == 18.0 and g == 9.0


def test_perturbation_confusion_examples():
    assert cr.grad(lambda x: x * cr.grad(lambda y: x * y)(1.0))(3.0) == 6.0
    # Siskind & Pearlmutter's forward-mode case: d/dx (x * d/dy (x + y)) = 1
    inner = lambda x: cr.jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    assert cr.jvp(lambda x: x * inner(x), (1.0,), (1.0,))[1] == 1.0
    assert cr.grad(lambda x: x * inner(x))(1.0) == 1.0
    # a closure over the outer argument in both modes
    assert cr.grad(lambda x: cr.grad(lambda y: x * y * y)(x))(3.0) == 12.0


def test_any_order_by_nesting():
    f = lambda x: x ** 5
    d = f
    expect = [5 * 2.0 ** 4, 20 * 2.0 ** 3, 60 * 2.0 ** 2, 120 * 2.0, 120.0]
    for k in range(5):
        d = cr.grad(d)
        assert d(2.0) == pytest.approx(expect[k])


def test_hessian_modes_agree_on_rosenbrock():
    x = np.array([1.2, 0.8, -0.5, 2.0])
    H = rosen_hess(x)
    np.testing.assert_allclose(cr.hessian(rosen)(x), H, rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(cr.jacobian(rosen))(x), H, rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(cr.jacfwd(rosen))(x), H, rtol=1e-12)
    np.testing.assert_allclose(cr.jacobian(cr.jacfwd(rosen))(x), H, rtol=1e-12)
    v = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(cr.hvp(rosen, x, v), H @ v, rtol=1e-12)


def test_vjp_jvp_jacobians():
    A = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    f = lambda x: np.tanh(A @ x)
    x = np.array([0.1, -0.2, 0.3])
    J = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    out, fn = cr.vjp(f, x)
    np.testing.assert_allclose(out, np.tanh(A @ x))
    (g,) = fn(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, np.array([1.0, 2.0]) @ J)
    out, t = cr.jvp(f, (x,), (np.array([1.0, 0.0, 0.0]),))
    np.testing.assert_allclose(t, J[:, 0])
    np.testing.assert_allclose(cr.jacobian(f)(x), J)
    np.testing.assert_allclose(cr.jacfwd(f)(x), J)
    np.testing.assert_allclose(cr.elementwise_grad(np.sin)(x), np.cos(x))


def test_jacobian_argnums_tuple():
    f = lambda x, y: x * y
    jx, jy = cr.jacobian(f, argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(jx, np.diag([3.0, 4.0]))
    np.testing.assert_array_equal(jy, np.diag([1.0, 2.0]))


def test_constant_function_gives_zero_gradient():
    g = cr.grad(lambda x: 3.0)(np.ones(2))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_notebook_network_equals_hand_backprop():
    rng = np.random.default_rng(0)
    x = np.array([[1.0], [2.0]])
    y = np.array([[0.5]])
    w1, b1 = rng.standard_normal((3, 2)), rng.standard_normal((3, 1))
    w2, b2 = rng.standard_normal((1, 3)), rng.standard_normal((1, 1))

    def loss(w1, b1, w2, b2):
        a1 = np.maximum(0, w1 @ x + b1)
        return 0.5 * np.sum((w2 @ a1 + b2 - y) ** 2)

    z1 = w1 @ x + b1
    a1 = np.maximum(0, z1)
    d2 = w2 @ a1 + b2 - y
    dz1 = (w2.T @ d2) * (z1 > 0)
    hand = (dz1 @ x.T, dz1, d2 @ a1.T, d2)
    auto = cr.grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
    for a, h in zip(auto, hand):
        assert a.shape == h.shape
        np.testing.assert_allclose(a, h, rtol=1e-14)


def test_tensor_style_and_functional_mix():
    w = cr.tensor([2.0], requires_grad=True)
    g = cr.grad(lambda x: np.sum(w * x * x))(np.array([3.0]))
    # the gradient 2*w*x depends on w: it must stay on w's graph
    assert isinstance(g, cr.Tensor) and g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), [12.0])
    np.sum(g * 1.0).backward()
    np.testing.assert_allclose(w.grad.numpy(), [6.0])


def test_integer_and_nonscalar_errors():
    with pytest.raises(cr.GradientError, match="integer"):
        cr.grad(lambda x: x * 1.0)(2)
    with pytest.raises(cr.GradientError, match="integer"):
        cr.grad(lambda x: np.sum(x))(np.array([1, 2]))
    with pytest.raises(cr.GradientError, match=r"shape \(2,\)"):
        cr.grad(lambda x: x * 2)(np.ones(2))
    with pytest.raises(cr.GradientError, match="complex"):
        cr.grad(lambda z: z * z)(1.0 + 1j)
    with pytest.raises(cr.ShapeError):
        cr.jvp(np.sin, (np.ones(2),), (np.ones(3),))


def test_math_exp_in_seed_sigmoid_is_caught():
    import math

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    with pytest.raises(cr.LeftGraphError, match=r"(?s)math.*np\.exp"):
        cr.grad(lambda w: sigmoid(w * 2.0))(0.5)
