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
    f = lambda x: np.sum(cast(x) * x)  # noqa: E731
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
    f = lambda x: cnp.var([x, x ** 2, 1.0])  # noqa: E731
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
