"""Errors that say what to do, and graphs of any size."""

import gc
import math
import weakref

import numpy as np
import pytest

import chainrule as cr


def test_shape_mismatch_names_op_shapes_and_line():
    a = cr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(cr.ShapeError) as e:
        a + np.ones(4)  # the user's line
    msg = str(e.value)
    assert "add" in msg and "(3,)" in msg and "(4,)" in msg and "test_errors_scale.py" in msg


def test_matmul_mismatch_message():
    a = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(cr.ShapeError, match=r"(?s)matmul.*\(2, 3\).*\(2, 3\)"):
        a @ np.ones((2, 3))


def test_int_float_math_leave_graph():
    x = cr.tensor(1.5, requires_grad=True)
    for fn in (float, int, math.exp, math.sin, lambda v: np.asarray(v)):
        with pytest.raises(cr.LeftGraphError, match="instead|Use|Keep"):
            fn(x * 1.0)


def test_unsupported_numpy_function_raises_not_implemented():
    x = cr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"(?s)np\.\w+ has no chainrule rule.*cr\.primitive"):
        np.histogram(x)
    with pytest.raises(NotImplementedError, match="out="):
        np.sin(x, out=np.empty(3))


def test_no_numpy_traceback_for_non_tracked_bad_input():
    with pytest.raises(cr.GradientError, match="integer"):
        cr.grad(lambda x: x)(3)


def test_chain_of_100000_operations():
    def chain(x):
        for _ in range(100_000):
            x = x * 1.0000001
        return x

    g = cr.grad(chain)(1.0)
    assert g == pytest.approx(1.0000001 ** 100_000, rel=1e-9)
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = np.sin(y) * 0.5 + y * 0.5
    y.backward()
    assert np.isfinite(x.grad.item())


def test_graph_arrays_released_after_backward():
    gc.disable()  # reference counting alone must free the graph: no cycles
    try:
        x = cr.tensor(np.ones(10_000), requires_grad=True)
        h = np.tanh(x * 2.0)
        big = weakref.ref(h._value)
        node = weakref.ref(h._node)
        loss = (h * h).sum()
        del h
        assert big() is not None  # the graph keeps tanh's answer alive for backward
        loss.backward()
        assert big() is None, "the saved activation survived backward()"
        del loss
        assert node() is None, "the graph's nodes survived after the output was dropped"
    finally:
        gc.enable()


def test_dropped_graph_freed_without_backward():
    gc.disable()
    try:
        x = cr.tensor(np.ones(1000), requires_grad=True)
        y = np.exp(x) * x
        r = weakref.ref(y._node)
        del y
        assert r() is None
    finally:
        gc.enable()


def test_singular_matrix_is_a_linalg_error_with_the_line():
    a = cr.tensor(np.zeros((2, 2)), requires_grad=True)
    with pytest.raises(np.linalg.LinAlgError, match=r"(?s)linalg.inv.*test_errors_scale.py"):
        np.linalg.inv(a)


def test_tensor_activation_methods():
    t = cr.tensor([1.0, -1.0], requires_grad=True)
    (t.relu() * 3 + t.sigmoid()).sum().backward()
    s = 1 / (1 + np.exp(-np.array([1.0, -1.0])))
    np.testing.assert_allclose(t.grad.numpy(), [3.0, 0.0] + s * (1 - s))
