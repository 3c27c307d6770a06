"""Cases found by running HIPS autograd's own test suite against chainrule (through a local
shim, see docs/autograd-reference.md), restated in chainrule's terms: each test asserts
values that were wrong, or raised, before the fix."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def num_grad(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# --- casts to integer / boolean dtypes cut the gradient ---------------------------------


@pytest.mark.parametrize("cast", [
    lambda x: x.astype(np.int64),
    lambda x: np.astype(x, np.int32),
    lambda x: cnp.array([x[0], x[1], x[2]], dtype=int),
    lambda x: x.astype(bool),
])
def test_integer_cast_is_a_constant(cast):
    # d/dx sum(c(x) * x) = c(x) where the cast c is piecewise constant; passing the
    # cotangent through the cast gave c(x) + x (before: [2, 4, 6] for the int64 cast)
    x = np.array([1.5, 2.25, 3.75])
    f = lambda x: np.sum(cast(x) * x)
    want = np.asarray(cast(x)).astype(float)
    np.testing.assert_array_equal(cr.grad(f)(x), want)
    np.testing.assert_allclose(cr.jvp(f, (x,), (np.ones(3),))[1], want.sum())


def test_integer_cast_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.array([-1.5, 0.25, 2.75])
    xt = torch.tensor(x, requires_grad=True)
    (xt.to(torch.int64) * xt ** 2).sum().backward()
    g = cr.grad(lambda x: np.sum(x.astype(np.int64) * x ** 2))(x)
    np.testing.assert_allclose(g, xt.grad.numpy())


def test_integer_cast_of_tensor_stays_a_tensor():
    t = cr.tensor([1.5, -2.5], requires_grad=True)
    i = t.astype(np.int64)
    assert isinstance(i, cr.Tensor) and not i.requires_grad and i.dtype == np.int64
    np.testing.assert_array_equal(i.numpy(), [1, -2])
    assert isinstance(cnp.astype(np.ones(2), np.int8), np.ndarray)


# --- cr.numpy functions take lists holding Tensors (as NumPy builds an array from them) ---


@pytest.mark.parametrize("fn, want", [
    (lambda x: cnp.mean([x, x + 2]), 1.0),
    (lambda x: cnp.mean((x, x + 2)), 1.0),
    (lambda x: cnp.std([x, x + 2]), 0.0),   # symmetric about the mean
    (lambda x: cnp.var((x, x + 2)), 0.0),
    (lambda x: cnp.linalg.norm([x, x + 2]), 1.0),  # d sqrt(x^2 + (x+2)^2) at 0 = 2/2
    (lambda x: cnp.sum(cnp.sin([x, 2 * x])), np.cos(0.0) + 2 * np.cos(0.0)),  # a primitive
    (lambda x: cnp.prod([[x, 2.0], [3.0, x + 1]]), 6.0),  # nested lists, constants mixed in
])
def test_list_of_tensors(fn, want):
    assert cr.grad(fn)(0.0) == pytest.approx(want, abs=1e-12)


def test_list_of_tensors_values_and_higher_order():
    f = lambda x: cnp.var([x, x ** 2, 1.0])
    x0 = 0.7
    expect = np.var([x0, x0 ** 2, 1.0])
    assert f(cr.tensor(x0)).item() == pytest.approx(expect)
    assert cr.grad(f)(x0) == pytest.approx(num_grad(lambda v: np.var([v, v ** 2, 1.0]), x0))
    assert cr.grad(cr.grad(f))(x0) == pytest.approx(
        num_grad(lambda v: num_grad(lambda w: np.var([w, w ** 2, 1.0]), v), x0, h=1e-4), rel=1e-5)


def test_append_list_of_tensors():
    def f(a, b):
        return cnp.sum(cnp.append(a, b) * np.array([1.0, 2.0, 3.0, 4.0]))

    ga, gb = cr.grad(f, argnums=(0, 1))([1.0, 2.0, 3.0], 4.0)
    assert ga == [1.0, 2.0, 3.0] and gb == 4.0
    g = cr.grad(lambda a: cnp.sum(cnp.append(a, [[7.0, 8.0]], axis=0) ** 2))([[1.0, 2.0], [3.0, 4.0]])
    assert g == [[2.0, 4.0], [6.0, 8.0]]


def test_list_with_a_tensor_operand_slow_path():
    # a Tensor argument beside a list holding Tensors (apply's recorded path)
    g = cr.grad(lambda x: cnp.dot(cnp.ones(2) * x, [x, 2 * x]))(3.0)
    assert g == pytest.approx(2 * 3.0 * 3)  # d/dx (3 x^2)


def test_list_without_tensors_still_numpy():
    assert cnp.mean([1.0, 2.0]) == 1.5
    assert isinstance(cnp.sin([0.0, 1.0]), np.ndarray)
    with pytest.raises(cr.LeftGraphError):  # a traced value that truly leaves the graph
        cr.grad(lambda x: float(x))(1.0)


def test_numpy_integer_constructors_of_a_tensor_are_constants():
    # np.int64(t) / np.asarray(t, dtype=bool) used to raise LeftGraphError; an integer view
    # of a traced value carries no derivative, so it is a constant (as t.astype(int))
    W = np.array([[0.5, 1.2], [-0.3, 0.7], [0.9, 0.1]])

    def f(W):
        rows = np.int64(np.abs(W[:, 1]) * 2)  # [2, 1, 0]
        assert rows.dtype == np.int64
        return np.sum(W[rows, 0] ** 3) + np.sum(np.asarray(W > 0, dtype=bool) * W)

    g = cr.grad(f)(W)
    want = np.array([[3 * 0.5 ** 2 + 1, 1], [3 * 0.3 ** 2, 1], [3 * 0.9 ** 2 + 1, 1]])
    np.testing.assert_allclose(g, want)
    with pytest.raises(cr.LeftGraphError):  # a float array of a traced value still leaves
        cr.grad(lambda x: np.sum(np.asarray(x, dtype=float)))(W)


def test_grad_of_a_boolean_or_integer_output_raises():
    x = np.array([1.0, 2.0])
    with pytest.raises(cr.GradientError, match="bool"):
        cr.grad(lambda x: np.allclose(x, x * 3.0 / 3.0))(x)
    with pytest.raises(cr.GradientError, match="int64"):
        cr.grad(lambda x: np.argmax(x))(x)
    assert cr.grad(lambda x: 0.0 * np.sum(x))(x).tolist() == [0.0, 0.0]  # a float constant is fine


def test_predicates_on_tensors_in_control_flow():
    # np.iscomplex & co. raised NotImplementedError on Tensors
    def f(x):
        return np.real(x ** 2 if np.iscomplex(x) else np.sum(x) * 3.0)

    assert cr.grad(f)(2.0) == 3.0
    assert cr.grad(f)(2.0 + 1j) == pytest.approx(2 * np.conj(2.0 + 1j))  # PyTorch convention
    t = cr.tensor([1.0, -np.inf, np.inf], requires_grad=True)
    assert np.iscomplexobj(t) is False and np.isrealobj(t) is True
    assert np.isneginf(t).tolist() == [False, True, False]
    assert np.isposinf(t).tolist() == [False, False, True]
    assert np.isreal(t).all() and np.result_type(t, np.float32) == np.float64


# --- functions autograd has and chainrule lacked: linspace, gradient, select, r_, c_ --------


@pytest.mark.parametrize("num", [0, 1, 2, 5])
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace_in_start_and_stop(num, endpoint):
    a, b = 1.2, -3.4
    out = cnp.linspace(cr.tensor(a), cr.tensor(b), num, endpoint=endpoint)
    np.testing.assert_array_equal(out.numpy(), np.linspace(a, b, num, endpoint=endpoint))
    ja, jb = cr.jacobian(lambda a, b: np.linspace(a, b, num, endpoint=endpoint),
                         argnums=(0, 1))(a, b)
    div = (num - 1 if endpoint else num) or 1
    w = np.arange(num) / div  # sample k = a (1 - k/div) + b k/div
    np.testing.assert_allclose(ja, 1 - w)
    np.testing.assert_allclose(jb, w)
    jf = cr.jacfwd(lambda a: np.linspace(a, b, num, endpoint=endpoint))(a)
    np.testing.assert_allclose(jf, 1 - w)


def test_linspace_arrays_retstep_and_dtype():
    a, b = np.array([0.0, 1.0]), np.array([[2.0], [4.0], [6.0]])
    out, step = cnp.linspace(cr.tensor(a), b, 5, axis=-1, retstep=True)
    want, wstep = np.linspace(a, b, 5, axis=-1, retstep=True)
    np.testing.assert_allclose(out.numpy(), want)
    np.testing.assert_allclose(step.numpy(), wstep)
    assert cr.gradcheck(lambda a, b: np.linspace(a, b, 5, axis=-1, retstep=True), a, b)
    i = cnp.linspace(cr.tensor(0.0, requires_grad=True), 9.5, 4, dtype=int)
    assert not isinstance(i, cr.Tensor) and i.tolist() == np.linspace(0.0, 9.5, 4, dtype=int).tolist()
    assert cr.gradcheck(lambda b: np.logspace(0.5, b, 4, base=2.0), np.array([1.0, 2.0]))
    np.testing.assert_allclose(cnp.logspace(cr.tensor(1.0), 2.0, 3).numpy(), np.logspace(1, 2, 3))


@pytest.mark.parametrize("args, kw", [
    ((), {}), ((0.5,), {}), ((), {"axis": 1}), ((2.0,), {"axis": (0, -1), "edge_order": 2}),
    (("coords",), {"axis": 1}), (("coords",), {"axis": 1, "edge_order": 2}),
    ((1.0, "coords", 0.25), {"edge_order": 2}),
])
def test_gradient_matches_numpy_and_is_linear(args, kw):
    rng = np.random.default_rng(0)
    f = rng.standard_normal((5, 6, 4))
    coords = np.cumsum(rng.uniform(0.5, 1.5, 6))
    args = tuple(coords if a == "coords" else a for a in args)
    want = np.gradient(f, *args, **kw)
    got = np.gradient(cr.tensor(f), *args, **kw)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert len(got) == len(want)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g.numpy(), w, atol=1e-12)
    u = [rng.standard_normal(w.shape) for w in want]
    # linear in f: the gradient of <u, gradient(f)> is the same at any f
    def s(f):
        out = np.gradient(f, *args, **kw)
        out = out if isinstance(out, tuple) else (out,)
        return sum(np.sum(ui * o) for ui, o in zip(u, out))
    g = cr.grad(s)(f)
    np.testing.assert_allclose(g, num_grad(s, np.zeros_like(f)), atol=1e-8)


def test_gradient_matches_torch_and_takes_integer_input():
    torch = pytest.importorskip("torch")
    f = np.random.default_rng(1).standard_normal((4, 5))
    ft = torch.tensor(f, requires_grad=True)
    sum(o.sum() * (k + 1) for k, o in enumerate(torch.gradient(ft, spacing=2.0, edge_order=2))
        ).backward()
    g = cr.grad(lambda f: sum(np.sum(o) * (k + 1) for k, o in
                              enumerate(np.gradient(f, 2.0, edge_order=2))))(f)
    np.testing.assert_allclose(g, ft.grad.numpy())
    np.testing.assert_array_equal(cnp.gradient(np.arange(5) ** 2), np.gradient(np.arange(5) ** 2))
    with pytest.raises(ValueError, match="too small"):
        np.gradient(cr.tensor([1.0, 2.0]), edge_order=2)


def test_gradient_in_coordinates():
    f = np.sin(np.linspace(0, 3, 7))
    x = np.cumsum(np.linspace(0.5, 1.0, 7))
    assert cr.gradcheck(lambda x: np.gradient(f, x, edge_order=2), x)


def test_select():
    x = np.linspace(-2, 2, 6)
    y = np.arange(6.0)
    f = lambda x, y: np.select([x > 1, x > -1], [x ** 2, x * y], default=-1.0)
    np.testing.assert_array_equal(f(cr.tensor(x), cr.tensor(y)).numpy(), f(x, y))
    gx, gy = cr.grad(lambda x, y: np.sum(f(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.select([x > 1, x > -1], [2 * x, y], 0.0))
    np.testing.assert_allclose(gy, np.select([x > 1, x > -1], [0 * x, x], 0.0))
    with pytest.raises(TypeError, match="boolean"):
        cnp.select([x], [x])


def test_r_and_c():
    x = np.arange(6.0).reshape(3, 2)
    c = np.full((3, 2), 7.0)
    W = np.arange(18.0).reshape(9, 2)
    out = cnp.r_[cr.tensor(x), c, cr.tensor(x)]
    np.testing.assert_array_equal(out.numpy(), np.r_[x, c, x])
    g = cr.grad(lambda x: np.sum(cnp.r_[x, c, x] * W))(x)
    np.testing.assert_array_equal(g, W[:3] + W[6:])
    v = np.arange(4.0)
    np.testing.assert_array_equal(cnp.r_[cr.tensor(v), 0.5, 1:4].numpy(), np.r_[v, 0.5, 1:4])
    np.testing.assert_array_equal(cr.grad(lambda v: np.sum(cnp.r_[v, 0.5, 1:4] ** 2))(v), 2 * v)
    cols = cnp.c_[cr.tensor(v), np.ones(4), 3 * cr.tensor(v)]
    np.testing.assert_array_equal(cols.numpy(), np.c_[v, np.ones(4), 3 * v])
    J = cr.jacobian(lambda v: cnp.c_[v, np.ones(4), 3 * v])(v)
    assert J.shape == (4, 3, 4)
    np.testing.assert_array_equal(J[:, 0], np.eye(4))
    np.testing.assert_array_equal(J[:, 2], 3 * np.eye(4))
    np.testing.assert_array_equal(J[:, 1], 0)
    assert cnp.r_[1:3, [5.0]].tolist() == [1.0, 2.0, 5.0]  # no Tensor: NumPy's own


# --- where chainrule differs from autograd on purpose, checked in chainrule's convention ---


def test_eigh_differentiates_the_symmetric_matrix():
    # autograd differentiates NumPy's read of the lower triangle; chainrule (like PyTorch and
    # JAX) treats the input as the symmetric matrix it stands for: exact for symmetric
    # perturbations, which is what central differences of f(sym(A)) see
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5))
    A = A + A.T
    u = rng.standard_normal(5)

    def f(A):
        w, v = np.linalg.eigh(0.5 * (A + A.T))
        return np.sum(w * u) + np.sum(np.abs(v[:, 0]))

    np.testing.assert_allclose(cr.grad(f)(A), num_grad(f, A), rtol=1e-6, atol=1e-8)


def test_rfftn_with_an_odd_last_axis():
    # autograd raises NotImplementedError here; chainrule's rule covers odd lengths
    x = np.random.default_rng(2).standard_normal((3, 5)) / 4
    f = lambda x: np.sum(np.abs(np.fft.rfftn(x)) ** 2 * np.arange(3)[:, None])
    np.testing.assert_allclose(cr.grad(f)(x), num_grad(f, x), rtol=1e-6, atol=1e-8)
    assert cr.gradcheck(lambda x: np.fft.rfftn(x), x)
