"""Shape, joining and indexing: semantics the op table cannot show.

Item assignment gradients (to t and to v, both modes, higher order), views and version
counters, repeated indices, Tensors as indices, every name of the family through
np.NAME and cr.numpy.NAME, the non-differentiable and creation functions, and errors.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def leaf(a, dtype=np.float64):
    return cr.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))

# ---------------------------------------------------------------------------------
# every name of the family: through np.NAME and cr.numpy.NAME, same values as NumPy,
# a Tensor out, and a gradient equal to the one of the same function on a copy of
# the input made by NumPy (a gather/scatter check with a random cotangent)

FAMILY = {
    "reshape": lambda m, x: m.reshape(x, (4, 3)),
    "ravel": lambda m, x: m.ravel(x),
    "transpose": lambda m, x: m.transpose(x),
    "permute_dims": lambda m, x: m.permute_dims(x, (1, 0)),
    "moveaxis": lambda m, x: m.moveaxis(x, 0, -1),
    "rollaxis": lambda m, x: m.rollaxis(x, 1),
    "swapaxes": lambda m, x: m.swapaxes(x, 0, 1),
    "squeeze": lambda m, x: m.squeeze(m.reshape(x, (1, 3, 4, 1))),
    "expand_dims": lambda m, x: m.expand_dims(x, 1),
    "atleast_1d": lambda m, x: m.atleast_1d(x),
    "atleast_2d": lambda m, x: m.atleast_2d(x),
    "atleast_3d": lambda m, x: m.atleast_3d(x),
    "broadcast_to": lambda m, x: m.broadcast_to(x, (2, 3, 4)),
    "tile": lambda m, x: m.tile(x, (2, 1)),
    "repeat": lambda m, x: m.repeat(x, [1, 2, 0, 1], axis=1),
    "flip": lambda m, x: m.flip(x, 1),
    "fliplr": lambda m, x: m.fliplr(x),
    "flipud": lambda m, x: m.flipud(x),
    "rot90": lambda m, x: m.rot90(x),
    "roll": lambda m, x: m.roll(x, 1, axis=1),
    "pad": lambda m, x: m.pad(x, 1, mode="reflect"),
    "concatenate": lambda m, x: m.concatenate([x, x * 2]),
    "stack": lambda m, x: m.stack([x, x * 2], axis=1),
    "hstack": lambda m, x: m.hstack([x, x]),
    "vstack": lambda m, x: m.vstack([x, x]),
    "dstack": lambda m, x: m.dstack([x, x]),
    "column_stack": lambda m, x: m.column_stack([x, x]),
    "append": lambda m, x: m.append(x, x),
    "split": lambda m, x: m.split(x, 2, axis=1)[1],
    "array_split": lambda m, x: m.array_split(x, 3, axis=1)[0],
    "hsplit": lambda m, x: m.hsplit(x, [1])[1],
    "vsplit": lambda m, x: m.vsplit(x, [2])[0],
    "dsplit": lambda m, x: m.dsplit(m.reshape(x, (1, 3, 4)), 2)[1],
    "take": lambda m, x: m.take(x, [0, 2, 2], axis=1),
    "take_along_axis": lambda m, x: m.take_along_axis(x, np.argsort(A, axis=0), axis=0),
    "compress": lambda m, x: m.compress([True, False, True], x, axis=0),
    "diag": lambda m, x: m.diag(x, 1),
    "diagonal": lambda m, x: m.diagonal(x, -1),
    "tril": lambda m, x: m.tril(x),
    "triu": lambda m, x: m.triu(x, 1),
    "sort": lambda m, x: m.sort(x, axis=0),
    "partition": lambda m, x: m.partition(x, 1),
    "full": lambda m, x: m.full((2, 3, 4), x),
    "zeros_like": lambda m, x: m.zeros_like(x) + x,
    "ones_like": lambda m, x: m.ones_like(x) * x,
}


@pytest.mark.parametrize("name", sorted(FAMILY))
@pytest.mark.parametrize("ns", ["np", "cr.numpy"])
def test_family_through_numpy_and_cr_numpy(name: str, ns: str) -> None:
    f = FAMILY[name]
    m = np if ns == "np" else cnp
    if ns == "np" and name == "full":
        m = cnp  # np.full converts its fill value itself (see test_np_full_refuses_...)
    expect = f(np, A)
    x = leaf(A)
    y = f(m, x)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    np.testing.assert_array_equal(y.detach().numpy(), expect)
    u = RNG.standard_normal(expect.shape)
    (y * u).sum().backward()
    # the function is linear in x: its gradient is the Jacobian applied to u, which we
    # get column by column from NumPy on basis inputs
    if name in ("sort", "partition", "take_along_axis"):
        # gathers by a permutation that depends on A's values (all distinct): each input
        # gets the cotangent of the output positions holding its value
        g = np.array([u[expect == a].sum() for a in A.ravel()]).reshape(A.shape)
    else:
        # linear in x: the Jacobian column by column from NumPy on basis inputs
        jac = np.stack([f(np, e.reshape(A.shape)) for e in np.eye(A.size)], axis=-1)
        g = (jac * u[..., None]).reshape(-1, A.size).sum(0).reshape(A.shape)
    np.testing.assert_allclose(x.grad.numpy(), g, atol=1e-12)
    assert x.grad.dtype == np.float64


def test_sort_gradient_follows_the_permutation() -> None:
    x = leaf([3.0, 1.0, 2.0])
    y = np.sort(x)
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 2.0, 3.0])
    (y * np.array([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_sort_with_ties_sends_each_output_to_one_input() -> None:
    x = leaf([2.0, 1.0, 2.0])
    np.sort(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_partition_values_equal_numpy_partition() -> None:
    a = RNG.standard_normal((7, 9))
    for kth, axis in [(3, -1), ((0, 4), 0), (-1, None)]:
        y = np.partition(cr.tensor(a, requires_grad=True), kth, axis=axis)
        np.testing.assert_array_equal(y.detach().numpy(), np.partition(a, kth, axis=axis))
    x = leaf([5.0, 1.0, 4.0, 2.0])
    y = np.partition(x, 1)
    (y[1] * 10 + y[0]).backward()  # the two smallest: 1.0 then 2.0
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 10.0])


# ---------------------------------------------------------------------------------
# t[idx]


def test_repeated_advanced_indices_accumulate() -> None:
    x = leaf([1.0, 2.0, 3.0])
    y = x[[0, 2, 0, 0]]
    (y * np.array([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 0.0, 2.0])


def test_repeated_indices_accumulate_in_forward_mode_and_second_order() -> None:
    i = np.array([1, 1, 0])
    f = lambda x: np.sum(x[i] ** 3)
    x = np.array([2.0, 3.0])
    np.testing.assert_allclose(cr.grad(f)(x), [12.0, 54.0])
    np.testing.assert_allclose(cr.hessian(f)(x), np.diag([12.0, 36.0]))
    _, t = cr.jvp(lambda x: x[i], (x,), (np.array([1.0, 10.0]),))
    np.testing.assert_array_equal(t, [10.0, 10.0, 1.0])


def test_tensors_as_indices() -> None:
    x = leaf(np.arange(6.0).reshape(2, 3))
    i = cr.tensor([1, 1])
    j = cr.tensor([2, 0])
    m = cr.tensor([True, False])
    y = x[i, j].sum() + x[m].sum() * 10 + x[cr.tensor(1), ...].sum() * 100
    assert y.item() == 5.0 + 3.0 + 30.0 + 1200.0
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[10, 10, 10], [101, 100, 101]])
    # a 0-d integer Tensor as an index, and inside a list
    z = leaf([1.0, 2.0, 3.0])
    z[[cr.tensor(2), 0]].sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [1.0, 0.0, 1.0])


def test_mutating_the_index_array_after_use_does_not_change_the_gradient() -> None:
    x = leaf([1.0, 2.0, 3.0])
    i = np.array([0, 0])
    y = x[i]
    i[:] = 2  # the caller reuses its array
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 0.0])


def test_boolean_mask_from_values() -> None:
    x = leaf([-1.0, 2.0, -3.0, 4.0])
    (x[x > 0] ** 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 4.0, 0.0, 8.0])


def test_indexing_keeps_float32() -> None:
    x = leaf(np.ones((3, 2)), np.float32)
    y = (x[[0, 0]].sum() + x[1:, 1].sum() + np.pad(x, 1).sum() + np.sort(x, 0).sum()
         + np.tile(x, 2).sum() + np.diagonal(x).sum())
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_getitem_complex_gradient_convention() -> None:
    z = cr.tensor(np.array([1 + 2j, 3 - 1j]), requires_grad=True)
    y = z[[1, 1]]
    (np.abs(y) ** 2).sum().backward()  # d|z|^2 = 2z (PyTorch's convention), twice
    np.testing.assert_allclose(z.grad.numpy(), [0, 4 * (3 - 1j)])


# ---------------------------------------------------------------------------------
# t[idx] = v


def test_setitem_gradients_to_t_and_v() -> None:
    x = leaf(np.arange(6.0).reshape(3, 2))
    v = leaf([10.0, 20.0])
    w = leaf(7.0)
    y = x * 1.0
    y[1] = v * 2          # a row from a vector
    y[:, 0] = w           # a column from a broadcast scalar
    np.testing.assert_array_equal(y.detach().numpy(), [[7, 1], [7, 40], [7, 5]])
    u = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    (y * u).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2], [0, 0], [0, 6]])
    np.testing.assert_array_equal(v.grad.numpy(), [0.0, 8.0])  # v[0] was overwritten by w
    assert w.grad.item() == 1.0 + 3.0 + 5.0


def test_setitem_advanced_and_mask() -> None:
    x = leaf(np.zeros((2, 3)))
    v = leaf([1.0, 2.0])
    y = x + 0.0
    y[[0, 1], [2, 0]] = v
    y[np.array([[True, False, False], [False, False, False]])] = v[1] * 3
    u = np.arange(1.0, 7.0).reshape(2, 3)
    (y * u).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 0], [0, 5, 6]])
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 4.0 + 3.0])


def test_setitem_in_transforms_both_modes_and_second_order() -> None:
    def f(x, v):
        # a Tensor to write into (a Tensor cannot be written into an ndarray), which
        # holds x when x is traced, and a constant otherwise
        y = cr.tensor(np.zeros(3)) + x
        y[1:] = v * x[0]
        return y

    x = np.array([2.0, 3.0, 4.0])
    v = np.array([5.0, 7.0])
    jr = cr.jacobian(f, argnums=(0, 1))(x, v)
    jf = cr.jacfwd(f, argnums=(0, 1))(x, v)
    expect_x = np.array([[1, 0, 0], [5, 0, 0], [7, 0, 0]])
    expect_v = np.array([[0, 0], [2, 0], [0, 2]])
    for j in (jr, jf):
        np.testing.assert_array_equal(j[0], expect_x)
        np.testing.assert_array_equal(j[1], expect_v)
    # d2/dx0 dv of sum(y**2): y1 = v0 x0 -> 2 * (2 v0 x0) ... checked against differences
    g = lambda x, v: np.sum(f(x, v) ** 2)
    h = cr.jacobian(cr.grad(g, argnums=1), argnums=0)(x, v)
    expect = np.array([[4 * v[0] * x[0], 0, 0], [4 * v[1] * x[0], 0, 0]])
    np.testing.assert_allclose(h, expect)
    np.testing.assert_allclose(cr.jacfwd(cr.grad(g, argnums=1), argnums=0)(x, v), expect)


def test_setitem_with_repeated_advanced_indices_raises() -> None:
    x = leaf(np.zeros(3))
    v = leaf([1.0, 2.0])
    y = x + 0.0
    y[[1, 1]] = v  # NumPy keeps one of the two writes, unspecified which
    with pytest.raises(cr.GradientError, match="more than once"):
        y.sum().backward()
    # the gradient to x alone is well defined
    y = x + 0.0
    y[[1, 1]] = v.detach()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0])


def test_setitem_on_leaf_requiring_grad_raises_and_no_grad_allows() -> None:
    x = leaf([1.0, 2.0])
    with pytest.raises(cr.GradientError, match="leaf"):
        x[0] = 5.0
    with cr.no_grad():
        x[0] = 5.0
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 4.0])


def test_setitem_into_constant_tensor_makes_it_tracked() -> None:
    v = leaf(3.0)
    buf = cr.tensor(np.zeros(3))
    buf[1] = v
    assert buf.requires_grad
    (buf * np.array([1.0, 2.0, 3.0])).sum().backward()
    assert v.grad.item() == 2.0


def test_put_along_axis_writes_into_the_tensor() -> None:
    x = leaf(np.zeros((2, 3)))
    v = leaf([[1.0], [2.0]])
    y = x * 1.0
    assert np.put_along_axis(y, np.array([[2], [0]]), v, axis=1) is None
    np.testing.assert_array_equal(y.detach().numpy(), [[0, 0, 1], [2, 0, 0]])
    (y * np.arange(6.0).reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [[2.0], [3.0]])
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [0, 4, 5]])
    with pytest.raises(TypeError, match="put_along_axis"):
        np.put_along_axis(np.zeros((2, 3)), np.array([[2], [0]]), leaf([[1.0], [2.0]]), 1)


# ---------------------------------------------------------------------------------
# views and version counters


def test_view_results_share_the_version_counter() -> None:
    x = leaf(np.arange(6.0))
    y = x * 1.0
    for view in (y[1:3], y.reshape(2, 3), y[::-1], np.flip(y), np.split(y, 2)[1],
                 np.expand_dims(y, 0), np.atleast_2d(y), np.broadcast_to(y, (2, 6))):
        assert view._version is y._version
    for copy in (y[[1, 2]], y[y.detach().numpy() > 2], np.take(y, [0]), np.sort(y),
                 np.tile(y, 2), np.roll(y, 1), np.concatenate([y, y]), np.copy(y),
                 np.pad(y, 1)):
        assert copy._version is not y._version


def test_advanced_index_result_is_not_a_view() -> None:
    # x[:, [0, 1]] comes back from NumPy as a transposed buffer that does not own its
    # data; writing into it must not mark the base as modified
    y = leaf(np.arange(6.0).reshape(2, 3)) * 1.0
    z = y[:, [0, 1]]
    z *= 2
    np.testing.assert_array_equal(y.detach().numpy(), np.arange(6.0).reshape(2, 3))
    y.sum().backward()  # y is not stale


def test_inplace_through_a_slice_makes_base_stale() -> None:
    y = leaf([1.0, 2.0, 3.0]) * 2
    piece = np.split(y, 3)[0]
    piece[0] = leaf(5.0) * 1.0  # item assignment through a view
    assert y.detach().numpy()[0] == 5.0  # NumPy semantics: the base sees the write
    with pytest.raises(cr.GradientError, match="view"):
        y.sum()


def test_inplace_through_reshape_view_raises_at_backward_for_saved_values() -> None:
    x = leaf([1.0, 2.0, 3.0, 4.0])
    y = x * 1.0
    z = (y * y).sum()  # saves y
    v = y.reshape(2, 2)
    v += 1.0
    with pytest.raises(cr.GradientError, match="modified in place"):
        z.backward()


# ---------------------------------------------------------------------------------
# creation and non-differentiable functions


def test_full_is_differentiable_in_the_fill_value() -> None:
    c = leaf(2.0)
    y = cr.numpy.full((2, 3), c)
    assert y.shape == (2, 3) and y._value.flags.writeable  # a real array, not a broadcast view
    (y * np.arange(6.0).reshape(2, 3)).sum().backward()
    assert c.grad.item() == 15.0
    r = leaf([1.0, 2.0])
    y = cr.numpy.full((3, 2), r, dtype=np.float32)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(r.grad.numpy(), [3.0, 3.0])
    _, t = cr.jvp(lambda c: cr.numpy.full(3, c), (2.0,), (1.0,))
    np.testing.assert_array_equal(t, [1.0, 1.0, 1.0])
    # through NumPy's own np.full the value is converted before chainrule sees it
    with pytest.raises(cr.LeftGraphError):
        np.full(3, leaf(1.0))
    # with like= NumPy hands the call over
    y = np.full(3, leaf(1.0), like=c)
    assert isinstance(y, cr.Tensor) and y.requires_grad


def test_array_from_tensors() -> None:
    x, y = leaf(1.0), leaf(2.0)
    a = cr.numpy.array([[x, 3.0], [4.0, y * y]])
    np.testing.assert_array_equal(a.detach().numpy(), [[1, 3], [4, 4]])
    (a * np.array([[1.0, 0.0], [0.0, 10.0]])).sum().backward()
    assert x.grad.item() == 1.0 and y.grad.item() == 40.0
    b = np.array([x, y], like=x, ndmin=2)
    assert isinstance(b, cr.Tensor) and b.shape == (1, 2) and b.requires_grad
    c = np.asarray([1, 2], like=x)
    assert isinstance(c, cr.Tensor) and not c.requires_grad
    with pytest.raises(cr.LeftGraphError):
        np.array([x, y])


def test_arange_differentiable_in_start_and_step() -> None:
    f = lambda a, d: np.sum(cr.numpy.arange(a, 5.0, d) ** 2)
    ga, gd = cr.grad(f, argnums=(0, 1))(0.5, 1.5)  # values 0.5, 2.0, 3.5
    assert ga == pytest.approx(2 * (0.5 + 2.0 + 3.5))
    assert gd == pytest.approx(2 * (2.0 * 1 + 3.5 * 2))
    np.testing.assert_array_equal(cr.numpy.arange(2, 9, 3), np.arange(2, 9, 3))
    assert not isinstance(cr.numpy.arange(4), cr.Tensor)
    np.testing.assert_array_equal(cr.numpy.arange(cr.tensor(4)), np.arange(4))


def test_creation_functions_are_constants() -> None:
    t = leaf([1.0, 2.0])
    for name, args in [("zeros", (3,)), ("ones", ((2, 2),)), ("empty", (2,)), ("eye", (3,)),
                       ("identity", (2,)), ("tri", (3,)), ("arange", (4,))]:
        r = getattr(cnp, name)(*args)
        assert type(r) is np.ndarray
        np.testing.assert_array_equal(r, getattr(np, name)(*args) if name != "empty" else 0)
        r = getattr(np, name)(*args, like=t)
        assert isinstance(r, cr.Tensor) and not r.requires_grad
    z = np.zeros_like(t)
    o = np.ones_like(t)
    assert isinstance(z, cr.Tensor) and not z.requires_grad and z.dtype == t.dtype
    np.testing.assert_array_equal(o.detach().numpy(), [1.0, 1.0])
    assert np.shape(t) == (2,) and np.ndim(t) == 1 and np.size(t) == 2
    assert cnp.shape(t) == (2,) and cnp.size(leaf(np.ones((2, 3))), 1) == 3


NONDIFF = {
    "argmax": lambda m, x: m.argmax(x, axis=1),
    "argmin": lambda m, x: m.argmin(x),
    "argsort": lambda m, x: m.argsort(x, axis=0),
    "argpartition": lambda m, x: m.argpartition(x, 1),
    "nonzero": lambda m, x: m.nonzero(x > 0),
    "flatnonzero": lambda m, x: m.flatnonzero(x > 0),
    "argwhere": lambda m, x: m.argwhere(x > 0),
    "count_nonzero": lambda m, x: m.count_nonzero(x > 0),
    "searchsorted": lambda m, x: m.searchsorted(m.sort(x, axis=None), [0.0, 1.0]),
    "any": lambda m, x: m.any(x > 1, axis=0),
    "all": lambda m, x: m.all(x > -3),
    "isclose": lambda m, x: m.isclose(x, x),
    "allclose": lambda m, x: m.allclose(x, x + 1),
    "array_equal": lambda m, x: m.array_equal(x, x),
}


@pytest.mark.parametrize("name", sorted(NONDIFF))
def test_nondifferentiable_functions_return_plain_values(name: str) -> None:
    f = NONDIFF[name]
    x = leaf(A)
    for m in (np, cnp):
        r = f(m, x)
        assert not isinstance(r, cr.Tensor)
        assert not any(isinstance(p, cr.Tensor) for p in (r if isinstance(r, tuple) else ()))
        np.testing.assert_array_equal(r, f(np, A))


def test_tensor_methods() -> None:
    x = leaf(A)
    np.testing.assert_array_equal(x.flip(0).detach().numpy(), np.flip(A, 0))
    np.testing.assert_array_equal(x.roll(1, 1).detach().numpy(), np.roll(A, 1, 1))
    np.testing.assert_array_equal(x.tile((1, 2)).detach().numpy(), np.tile(A, (1, 2)))
    np.testing.assert_array_equal(x.tril().detach().numpy(), np.tril(A))
    np.testing.assert_array_equal(x.triu(1).detach().numpy(), np.triu(A, 1))
    np.testing.assert_array_equal(x.compress([1, 0, 1], axis=0).detach().numpy(),
                                  A.compress([1, 0, 1], axis=0))
    np.testing.assert_array_equal(x.argpartition(1), A.argpartition(1))
    np.testing.assert_array_equal(x.take([1, 1], axis=1).detach().numpy(),
                                  A.take([1, 1], axis=1))
    np.testing.assert_array_equal(x.diagonal(1).detach().numpy(), A.diagonal(1))
    np.testing.assert_array_equal(x.swapaxes(0, 1).detach().numpy(), A.swapaxes(0, 1))


# ---------------------------------------------------------------------------------
# errors: clear, and naming the function


def test_unsupported_pad_mode_raises_naming_pad() -> None:
    with pytest.raises(NotImplementedError, match="pad\\(mode='mean'\\)"):
        np.pad(leaf([1.0, 2.0]), 1, mode="mean")
    with pytest.raises(NotImplementedError, match="reflect_type"):
        np.pad(leaf([1.0, 2.0]), 1, mode="reflect", reflect_type="odd")


def test_bad_input_errors() -> None:
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match="equal division"):
        np.split(x, 4, axis=1)
    with pytest.raises(ValueError):
        np.squeeze(x, axis=0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        np.take_along_axis(x, np.array([0]), axis=1)
    with pytest.raises(IndexError, match="getitem"):
        x[5]
    with pytest.raises(IndexError, match="integers"):
        np.take(x, [0.5])
    with pytest.raises(cr.ShapeError, match="concatenate"):
        np.concatenate([x, np.ones((2, 2))])
    with pytest.raises(NotImplementedError, match="out="):
        np.concatenate([x, x], out=np.empty((4, 3)))
    with pytest.raises(np.exceptions.AxisError):
        np.moveaxis(x, 2, 0)
    with pytest.raises(ValueError, match="1- or 2-d"):
        np.diag(leaf(np.ones((2, 2, 2))))
    with pytest.raises(ValueError, match="single dimension"):
        np.take_along_axis(x, np.zeros((1, 1), dtype=int), axis=None)


def test_torch_agrees_on_setitem_and_sort_gradients() -> None:
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal((4, 3))
    v = RNG.standard_normal(3)
    u = RNG.standard_normal((4, 3))

    def ours(a, v):
        y = cr.numpy.sort(a, axis=0) * 1.0
        y[2] = v * y[0].copy()  # a copy: multiply saves it, and y is written next
        return np.sum(y * u)

    ga, gv = cr.grad(ours, argnums=(0, 1))(a, v)
    ta = torch.tensor(a, requires_grad=True)
    tv = torch.tensor(v, requires_grad=True)
    ty = torch.sort(ta, 0).values * 1.0
    ty[2] = tv * ty[0].clone()
    (ty * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(ga, ta.grad.numpy())
    np.testing.assert_allclose(gv, tv.grad.numpy())


def test_forward_mode_setitem_of_a_tangent_carrying_value_under_no_grad() -> None:
    # the written value carries a tangent while the target does not: the tangent must
    # flow into the result (it was once dropped silently)
    def f(v):
        y = cr.tensor(np.zeros(3))
        y[1:] = v
        return y

    with cr.no_grad():
        _, t = cr.jvp(f, (np.array([1.0, 2.0]),), (np.array([3.0, 4.0]),))
    np.testing.assert_array_equal(t, [0.0, 3.0, 4.0])


def test_writing_next_to_a_saved_view_raises_like_torch() -> None:
    # y[0] is a view of y saved by multiply; writing into y (anywhere) bumps the counter
    # it shares, so backward refuses (PyTorch does the same); a copy avoids it
    w = leaf(2.0)
    y = leaf([1.0, 2.0, 3.0]) * 1.0
    y[2:] = y[0:1] * w  # multiply saves the view y[0:1] for w's gradient
    with pytest.raises(cr.GradientError, match="modified in place"):
        y.sum().backward()
    x = leaf([1.0, 2.0, 3.0])
    y = x * 1.0
    y[2:] = y[0:1].copy() * w
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.0, 0.0])
    assert w.grad.item() == 1.0


def test_misc_variants() -> None:
    x = leaf([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(cr.numpy.asarray([1, 2]), [1, 2])
    y = np.pad(x, (1, 0), mode="empty")
    assert y.shape == (4,)
    r = np.repeat(x, cr.tensor([2, 0, 1]))
    np.testing.assert_array_equal(r.detach().numpy(), [1.0, 1.0, 3.0])
    r.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 1.0])
    np.testing.assert_array_equal(x.repeat(2).detach().numpy(), np.repeat([1.0, 2.0, 3.0], 2))
    np.testing.assert_array_equal(np.roll(x, 0).detach().numpy(), [1.0, 2.0, 3.0])
    assert np.roll(x, 0)._version is not x._version  # a copy, as NumPy's


# ---------------------------------------------------------------------------------
# Hypothesis: random shapes and mixed basic/advanced indices, against NumPy's own
# scatter (np.add.at) for t[idx] and the "unwritten elements" mask for t[idx] = v

try:
    import hypothesis as hyp
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    hyp = None

if hyp is not None:

    @st.composite
    def shape_and_index(draw):
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
        parts = []
        for n in shape:
            kind = draw(st.sampled_from(["int", "slice", "array", "full"]))
            if kind == "int":
                parts.append(draw(st.integers(-n, n - 1)))
            elif kind == "slice":
                a = draw(st.integers(-n, n))
                b = draw(st.integers(-n, n))
                parts.append(slice(a, b, draw(st.sampled_from([1, 2, -1]))))
            elif kind == "array":
                parts.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1,
                                                    max_size=4))))
            else:
                parts.append(slice(None))
        if draw(st.booleans()):
            parts.insert(draw(st.integers(0, len(parts))), None)
        if draw(st.booleans()) and len(parts) > 1:
            parts = parts[:-1] + [Ellipsis]
        return shape, tuple(parts), draw(st.integers(0, 2**31 - 1))


    @hyp.settings(max_examples=60, deadline=None, derandomize=True)
    @hyp.given(shape_and_index())
    def test_getitem_and_setitem_random_indices(case) -> None:
        shape, idx, seed = case
        rng = np.random.default_rng(seed)
        a = rng.standard_normal(shape)
        try:
            expect = a[idx]
        except IndexError:  # arrays that do not broadcast together: NumPy refuses, so do we
            with pytest.raises(IndexError):
                leaf(a)[idx]
            return
        u = rng.standard_normal(expect.shape)
        x = leaf(a)
        y = x[idx]
        np.testing.assert_array_equal(y.detach().numpy(), expect)
        (y * u).sum().backward()
        g = np.zeros(shape)
        np.add.at(g, idx, u)
        np.testing.assert_allclose(x.grad.numpy(), g, atol=1e-12)
        # forward mode: the tangent is the same gather
        _, t = cr.jvp(lambda z: z[idx], (a,), (a * 2,))
        np.testing.assert_allclose(t, (a * 2)[idx])
        # t[idx] = v: the gradient of t is u where nothing was written; v gets the gather
        hits = np.zeros(shape, dtype=int)
        np.add.at(hits, idx, 1)
        v = leaf(rng.standard_normal(expect.shape))
        x = leaf(a)
        z = x * 1.0
        z[idx] = v
        w = rng.standard_normal(shape)
        expect_z = a.copy()
        expect_z[idx] = v.detach().numpy()
        np.testing.assert_array_equal(z.detach().numpy(), expect_z)
        if hits.max(initial=0) > 1:
            with pytest.raises(cr.GradientError, match="more than once"):
                (z * w).sum().backward()
            return
        (z * w).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), np.where(hits > 0, 0.0, w))
        np.testing.assert_allclose(v.grad.numpy(), w[idx])
