"""Hypothesis draws broadcastable shapes and values; gradients must match central differences."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)

BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply,
    "divide": lambda a, b: a / (b * b + 1.0), "hypot": lambda a, b: np.hypot(a, b + 3.0),
    "arctan2": lambda a, b: np.arctan2(a, b * b + 0.5), "logaddexp": np.logaddexp,
    "power": lambda a, b: np.power(a * a + 0.5, b),
}


def numgrad(f, args, i, h=1e-6):
    x = args[i]
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        a_p, a_m = list(args), list(args)
        a_p[i], a_m[i] = x + e, x - e
        g[k] = (f(*a_p) - f(*a_m)) / (2 * h)
    return g


@SETTINGS
@given(st.sampled_from(sorted(BINARY)), hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
       max_side=3), st.integers(0, 2**31 - 1))
def test_binary_broadcasting_gradients(name, shapes, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1.5, 1.5, shapes.input_shapes[0])
    b = rng.uniform(-1.5, 1.5, shapes.input_shapes[1])
    w = rng.standard_normal(shapes.result_shape)
    op = BINARY[name]
    f = lambda a, b: np.sum(w * op(a, b))
    ga, gb = cr.grad(f, argnums=(0, 1))(a, b)
    assert ga.shape == a.shape and gb.shape == b.shape
    np.testing.assert_allclose(ga, numgrad(f, [a, b], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, numgrad(f, [a, b], 1), rtol=1e-5, atol=1e-6)
    # forward mode: directional derivative
    va, vb = rng.standard_normal(a.shape), rng.standard_normal(b.shape)
    _, t = cr.jvp(f, (a, b), (va, vb))
    np.testing.assert_allclose(t, np.sum(ga * va) + np.sum(gb * vb), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), st.integers(0, 2**31 - 1),
       st.sampled_from([np.float32, np.float64]))
def test_tensor_and_functional_agree_and_keep_dtype(shape, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape).astype(dtype)
    f = lambda x: np.sum(np.tanh(x) * np.exp(x * 0.5) + x ** 2)
    g = cr.grad(f)(x)
    t = cr.tensor(x, requires_grad=True)
    f(t).backward()
    assert g.dtype == dtype and t.grad.dtype == dtype and g.shape == x.shape
    np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-6)
    expect = (1 - np.tanh(x.astype(float)) ** 2) * np.exp(x * 0.5) + 0.5 * np.tanh(x.astype(float)) \
        * np.exp(x * 0.5) + 2 * x
    np.testing.assert_allclose(g, expect, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-5)
