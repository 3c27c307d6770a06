"""Tensor methods: one convention (docs/nn.md#coming-from-pytorch).

NumPy names keep NumPy's meaning; PyTorch-only names work as in PyTorch; a PyTorch spelling
that NumPy would read differently raises ConventionError naming both spellings.  Values and
gradients are compared with PyTorch where it is installed; the NumPy-side checks run
without it.
"""

import copy
import json
import pathlib
import pickle
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.methods import HINTED, ConventionError, ValuesIndices
from chainrule.core.tensor import Tensor, TensorSize

RNG = np.random.default_rng(0)
# distinct values (no ties) unless a test wants ties
X23 = np.array([[0.3, -1.2, 2.5], [1.7, 0.9, -0.4]])
X234 = RNG.permutation(24).reshape(2, 3, 4) / 7.0 - 1.5


def leaf(v, dtype=None):
    return cr.tensor(np.asarray(v, dtype=dtype), requires_grad=True)


def tleaf(torch, v):
    return torch.tensor(np.asarray(v), requires_grad=True)


def both(f_cr, f_torch, x0, *, extra=None, grad=True, rtol=1e-12, atol=1e-12):
    """f on a chainrule leaf and on a torch leaf: values equal, and gradients of a random
    weighted sum equal (the weights make a wrong gradient visible in every element)."""
    torch = pytest.importorskip("torch")
    x0 = np.asarray(x0, dtype=np.float64)
    x, tx = leaf(x0), tleaf(torch, x0)
    y, ty = f_cr(x), f_torch(tx)
    yv, tyv = y.detach().numpy(), ty.detach().numpy()
    assert yv.shape == tyv.shape
    np.testing.assert_allclose(yv, tyv, rtol=rtol, atol=atol)
    if grad:
        w = RNG.standard_normal(yv.shape)
        (y * w).sum().backward()
        (ty * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    return y, ty


# ---------------------------------------------------------------------------------
# size: NumPy's int, PyTorch's call


def test_size_is_an_int_and_callable():
    t = cr.tensor(np.zeros((2, 3)))
    s = t.size
    assert isinstance(s, int) and isinstance(s, TensorSize)
    assert s == 6 and s != 5 and s > 5 and hash(s) == hash(6)
    assert s + 1 == 7 and type(s + 1) is int and s * 2 == 12 and 12 // s == 2
    assert repr(s) == "6" and str(s) == "6" and f"{s}" == "6" and json.dumps(s) == "6"
    assert list(range(s)) == list(range(6)) and np.zeros(s).shape == (6,)
    assert [10, 20, 30, 40, 50, 60, 70][s] == 70
    assert s() == (2, 3) and s(0) == 2 and s(1) == 3 and s(-1) == 3 and s(-2) == 2
    assert t.size(np.int64(1)) == 3
    assert type(pickle.loads(pickle.dumps(s))) is int and type(copy.deepcopy(s)) is int
    assert type(copy.copy(s)) is int
    assert t.numel() == 6 and t.dim() == 2 and t.ndim == 2


def test_size_bad_dim_names_the_shape():
    t = cr.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"(?s)t\.size\(2\).*shape \(2, 3\).*\[-2, 1\]"):
        t.size(2)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        t.size(-3)
    with pytest.raises(TypeError, match="dim must be an int"):
        t.size(1.0)
    z = cr.tensor(5.0)
    assert z.size == 1 and z.size() == ()
    with pytest.raises(IndexError, match="0-d"):
        z.size(0)


def test_size_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.zeros((2, 0, 5))
    t, tt = cr.tensor(x), torch.tensor(x)
    assert t.size() == tuple(tt.size()) and t.size == tt.numel() == 0
    assert [t.size(d) for d in range(-3, 3)] == [tt.size(d) for d in range(-3, 3)]


def test_parameter_size_and_num_parameters():
    lin = cr.nn.Linear(3, 2)
    assert lin.weight.size == 6 and lin.weight.size() == (2, 3) and lin.weight.size(0) == 2
    assert lin.num_parameters() == 8 and type(lin.num_parameters()) is int


# ---------------------------------------------------------------------------------
# dim= / keepdim= on reductions: the same as axis= / keepdims=

REDUCTIONS = ["sum", "mean", "prod", "amax", "amin"]
DIMS = [0, 1, -1, (0, 2), [2, 0], None]


@pytest.mark.parametrize("name", REDUCTIONS + ["argmax", "argmin", "any", "all"])
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keep", [False, True])
def test_dim_keepdim_is_axis_keepdims(name, dim, keep):
    if name in ("argmax", "argmin") and isinstance(dim, (tuple, list)):
        return  # one axis only, in both libraries
    x = X234 - 0.2 if name not in ("any", "all") else (X234 > 0)
    t = cr.tensor(x)
    axis = tuple(dim) if isinstance(dim, list) else dim
    got = getattr(t, name)(dim=dim, keepdim=keep)
    want = getattr(np, name)(x, axis=axis, keepdims=keep)
    gv = got.detach().numpy() if isinstance(got, Tensor) else np.asarray(got)
    assert gv.shape == np.shape(want)
    np.testing.assert_array_equal(gv, want)
    # mixing the two spellings of different parameters is fine (same meaning)
    mixed = getattr(t, name)(axis=axis, keepdim=keep)
    mv = mixed.detach().numpy() if isinstance(mixed, Tensor) else np.asarray(mixed)
    np.testing.assert_array_equal(mv, want)


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 2), None])
@pytest.mark.parametrize("keep", [False, True])
def test_dim_reductions_match_torch(name, dim, keep):
    torch = pytest.importorskip("torch")
    if name == "prod" and not isinstance(dim, int):
        return  # torch.prod takes one int dim
    if dim is None and name == "prod":
        return

    def tf(tx):
        if dim is None:
            r = getattr(tx, name)()
            return r.reshape((1,) * tx.ndim) if keep else r
        return getattr(tx, name)(dim=dim, keepdim=keep)

    def cf(x):
        return getattr(x, name)(dim=dim, keepdim=keep)

    both(cf, tf, X234)
    del torch


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_dim_arg_reductions_match_torch(name):
    torch = pytest.importorskip("torch")
    t, tt = cr.tensor(X234), torch.tensor(X234)
    for dim in (0, 1, -1):
        for keep in (False, True):
            np.testing.assert_array_equal(getattr(t, name)(dim=dim, keepdim=keep),
                                          getattr(tt, name)(dim=dim, keepdim=keep).numpy())
    np.testing.assert_array_equal(getattr(t, name)(), getattr(tt, name)().numpy())


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_dim_scans_match_torch(name):
    for dim in (0, 1, -1):
        both(lambda x: getattr(x, name)(dim=dim), lambda x: getattr(x, name)(dim=dim), X234)
    t = cr.tensor(X234)
    np.testing.assert_array_equal(getattr(t, name)(dim=1).detach().numpy(),
                                  getattr(np, name)(X234, axis=1))
    # NumPy's cumsum() with no axis flattens (PyTorch requires a dim)
    np.testing.assert_array_equal(getattr(t, name)().detach().numpy(), getattr(np, name)(X234))


def test_dim_reductions_gradient_numpy_side():
    x = leaf(X234)
    x.sum(dim=(0, 2), keepdim=True).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(X234))
    x.grad = None
    (x.mean(dim=1) * np.arange(8.0).reshape(2, 4)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(),
                               np.broadcast_to(np.arange(8.0).reshape(2, 1, 4) / 3, X234.shape))


def test_dim_with_axis_raises():
    t = cr.tensor(X23)
    for name in ["sum", "mean", "amax", "argmax", "cumsum", "any"]:
        with pytest.raises(ConventionError, match="(?s)dim= .* and axis= .*Pass one"):
            getattr(t, name)(dim=0, axis=0)
    with pytest.raises(ConventionError, match="(?s)keepdim= .* and keepdims="):
        t.sum(dim=0, keepdim=True, keepdims=True)


def test_empty_dim_raises():
    t = cr.tensor(X23)
    for name in ["sum", "amax", "mean"]:
        with pytest.raises(ConventionError, match=r"(?s)axis=\(\) as none.*dim=None"):
            getattr(t, name)(dim=())
        with pytest.raises(ConventionError, match="every dimension"):
            getattr(t, name)(dim=[])
    # NumPy's own axis=() is kept: no reduction
    np.testing.assert_array_equal(t.sum(axis=()).detach().numpy(), X23)


def test_bool_in_numpys_second_slot_raises():
    t = cr.tensor(X23)
    with pytest.raises(ConventionError, match=r"(?s)t\.sum\(0, True\).*dtype.*keepdim.*"
                                              r"keepdims=True"):
        t.sum(0, True)
    with pytest.raises(ConventionError, match="second argument is out"):
        t.amax(1, False)
    with pytest.raises(ConventionError, match="a bool where NumPy takes the axis"):
        t.mean(True)
    # NumPy's own positional forms still work
    np.testing.assert_array_equal(t.sum(1, np.float32).detach().numpy(),
                                  X23.sum(1, np.float32))
    assert t.sum(1, np.float32).dtype == np.float32


# ---------------------------------------------------------------------------------
# max / min: NumPy's positional axis (values); PyTorch's dim= (values, indices)

TIES = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.0, 5.0], [-1.0, -1.0, -1.0, -1.0]])


@pytest.mark.parametrize("name", ["max", "min"])
def test_positional_axis_is_numpys(name):
    t = cr.tensor(TIES)
    r = getattr(t, name)(1)
    assert isinstance(r, Tensor) and r.shape == (3,)
    np.testing.assert_array_equal(r.detach().numpy(), getattr(np, name)(TIES, axis=1))
    r = getattr(t, name)(axis=0, keepdims=True)
    np.testing.assert_array_equal(r.detach().numpy(), getattr(np, name)(TIES, 0, keepdims=True))
    assert getattr(t, name)().item() == getattr(np, name)(TIES)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1, -2])
@pytest.mark.parametrize("keep", [False, True])
def test_dim_gives_values_indices_like_torch(name, dim, keep):
    torch = pytest.importorskip("torch")
    x, tx = leaf(TIES), tleaf(torch, TIES)
    r, tr = getattr(x, name)(dim=dim, keepdim=keep), getattr(tx, name)(dim=dim, keepdim=keep)
    assert isinstance(r, ValuesIndices) and isinstance(r, tuple) and len(r) == 2
    v, i = r
    assert v is r.values and i is r.indices and r[0] is v and r[1] is i
    np.testing.assert_array_equal(v.detach().numpy(), tr.values.detach().numpy())
    np.testing.assert_array_equal(i, tr.indices.numpy())
    assert i.dtype == np.int64
    w = RNG.standard_normal(v.shape)
    (v * w).sum().backward()
    (tr.values * torch.tensor(w)).sum().backward()
    # the gradient goes to the element at the index (not shared among ties, as amax does)
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_dim_gradient_differs_from_amax_on_ties():
    x = leaf(TIES)
    x.max(dim=1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0], [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy()[2], [1.0, 0.0, 0.0, 0.0])
    x.grad = None
    x.amax(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0], [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(x.grad.numpy()[2], [0.25] * 4)


def test_max_dim_numpy_side_and_nan():
    t = cr.tensor(X234)
    v, i = t.max(dim=2)
    np.testing.assert_array_equal(v.detach().numpy(), X234.max(axis=2))
    np.testing.assert_array_equal(i, X234.argmax(axis=2))
    v, i = t.min(1, keepdim=True)  # keepdim= selects PyTorch's form, positional dim included
    np.testing.assert_array_equal(v.detach().numpy(), X234.min(axis=1, keepdims=True))
    np.testing.assert_array_equal(i, X234.argmin(axis=1, keepdims=True))
    n = cr.tensor([1.0, np.nan, np.nan, 0.0])
    for name in ("max", "min"):
        v, i = getattr(n, name)(dim=0)
        assert np.isnan(v.item()) and i == 1


def test_max_dim_nan_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, np.nan, 4.0, np.nan], [3.0, 2.0, 1.0, 0.0]])
    for name in ("max", "min"):
        r, tr = getattr(cr.tensor(a), name)(dim=1), getattr(torch.tensor(a), name)(dim=1)
        np.testing.assert_array_equal(r.values.detach().numpy(), tr.values.numpy())
        np.testing.assert_array_equal(r.indices, tr.indices.numpy())


def test_max_dim_zero_d_and_empty():
    torch = pytest.importorskip("torch")
    v, i = cr.tensor(5.0).max(dim=0)
    tv, ti = torch.tensor(5.0).max(dim=0)
    assert v.shape == () and i.shape == () and v.item() == tv.item() and int(i) == ti.item()
    with pytest.raises(cr.ShapeError, match=r"dimension 1 of a tensor of shape \(2, 0\)"):
        cr.tensor(np.zeros((2, 0))).max(dim=1)


def test_max_dim_in_transforms():
    def f(x):
        return (x.max(dim=1).values ** 2).sum()

    g = cr.grad(f)(X23)
    want = np.zeros_like(X23)
    want[0, 2], want[1, 0] = 2 * 2.5, 2 * 1.7
    np.testing.assert_allclose(g, want)
    h = cr.hessian(f)(X23)
    assert h.shape == (2, 3, 2, 3) and h[0, 2, 0, 2] == 2.0 and h[1, 0, 1, 0] == 2.0
    assert np.count_nonzero(h) == 2
    # forward mode: the tangent at the chosen elements
    dx = np.arange(6.0).reshape(2, 3)
    _, tan = cr.jvp(lambda x: x.max(dim=1).values, (X23,), (dx,))
    np.testing.assert_array_equal(tan, [2.0, 3.0])
    _, tan = cr.jvp(lambda x: x.sort(dim=1, descending=True).values, (X23,), (dx,))
    np.testing.assert_array_equal(tan, [[2.0, 0.0, 1.0], [3.0, 4.0, 5.0]])


def test_max_refusals_name_the_spelling():
    t = cr.tensor(TIES)
    with pytest.raises(ConventionError, match=r"(?s)elementwise maximum.*np\.maximum\(t, other\)"):
        t.max(cr.tensor(np.zeros((3, 4))))
    with pytest.raises(ConventionError, match=r"np\.minimum"):
        t.min(np.zeros(4))
    with pytest.raises(ConventionError, match=r"np\.maximum"):
        t.max(0.5)
    with pytest.raises(ConventionError, match=r"(?s)takes no axis=.*t\.max\(axis=\.\.\., "
                                              r"keepdims=\.\.\.\)"):
        t.max(axis=1, keepdim=True)
    with pytest.raises(ConventionError, match="takes no out="):
        t.max(dim=1, out=None)
    with pytest.raises(ConventionError, match=r"(?s)one int dim.*t\.amax\(dim=\.\.\.\)"):
        t.max(dim=(0, 1))
    with pytest.raises(ConventionError, match="keepdim= without dim="):
        t.max(keepdim=True)
    with pytest.raises(IndexError, match=r"shape \(3, 4\) has no dimension 2"):
        t.max(dim=2)


# ---------------------------------------------------------------------------------
# std / var: PyTorch's default correction=1 differs from NumPy's ddof=0


@pytest.mark.parametrize("name", ["std", "var"])
def test_std_var_dim_without_correction_raises(name):
    t = cr.tensor(X23)
    with pytest.raises(ConventionError) as e:
        getattr(t, name)(dim=0)
    msg = str(e.value)
    assert f"t.{name}(dim=0, correction=1)" in msg and f"t.{name}(axis=0)" in msg
    assert "ddof=1" in msg and "ddof=0" in msg and "test_tensor_convention.py" in msg
    with pytest.raises(ConventionError, match="correction=1"):
        getattr(t, name)(0, keepdim=True)
    with pytest.raises(ConventionError, match="Pass one of them"):
        getattr(t, name)(dim=0, unbiased=True, ddof=1)


@pytest.mark.parametrize("name", ["std", "var"])
def test_std_var_numpy_defaults_kept(name):
    t = cr.tensor(X23)
    f = getattr(np, name)
    assert getattr(t, name)().item() == pytest.approx(f(X23), rel=1e-14)  # ddof=0
    np.testing.assert_allclose(getattr(t, name)(0).detach().numpy(), f(X23, 0), rtol=1e-14)
    np.testing.assert_allclose(getattr(t, name)(axis=1, ddof=1).detach().numpy(),
                               f(X23, 1, ddof=1), rtol=1e-14)
    with pytest.raises(ConventionError, match=r"(?s)ddof=1.*unbiased"):
        getattr(t, name)(True)
    with pytest.raises(ConventionError, match=r"(?s)second argument is dtype.*ddof=1"):
        getattr(t, name)(0, True)


@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("spell", ["correction0", "correction1", "unbiasedT", "unbiasedF",
                                   "ddof1"])
@pytest.mark.parametrize("dim", [0, 1, (0, 1), None])
@pytest.mark.parametrize("keep", [False, True])
def test_std_var_with_correction_matches_torch(name, spell, dim, keep):
    if spell == "ddof1":
        ckw, tkw = {"ddof": 1}, {"correction": 1}
    elif spell.startswith("correction"):
        ckw = tkw = {"correction": int(spell[-1])}
    else:
        ckw = tkw = {"unbiased": spell.endswith("T")}
    both(lambda x: getattr(x, name)(dim=dim, keepdim=keep, **ckw),
         lambda x: getattr(x, name)(dim=dim, keepdim=keep, **tkw), X23, rtol=1e-12)


def test_std_unbiased_without_dim():
    t = cr.tensor(X23)
    assert t.std(unbiased=True).item() == pytest.approx(np.std(X23, ddof=1), rel=1e-14)
    assert t.var(unbiased=False).item() == pytest.approx(np.var(X23), rel=1e-14)


# ---------------------------------------------------------------------------------
# transpose: NumPy's permutation; PyTorch's swap where unambiguous, else an error


def test_transpose_two_ints_on_a_matrix():
    t = cr.tensor(X23)
    np.testing.assert_array_equal(t.transpose(1, 0).detach().numpy(), X23.T)
    np.testing.assert_array_equal(t.transpose(-1, -2).detach().numpy(), X23.T)
    np.testing.assert_array_equal(t.transpose(1, -2).detach().numpy(), X23.T)
    for a, b in [(0, 1), (-2, -1), (0, -1), (-2, 1)]:
        with pytest.raises(ConventionError) as e:
            t.transpose(a, b)
        msg = str(e.value)
        assert "identity" in msg and "t.T" in msg and "t.swapaxes(0, 1)" in msg
        assert "(2, 3)" in msg and "leave the call out" in msg
    for d in (0, 1, -1):
        with pytest.raises(ConventionError, match="repeated axis"):
            t.transpose(d, d)


def test_transpose_two_ints_not_a_matrix():
    t = cr.tensor(X234)
    with pytest.raises(ConventionError) as e:
        t.transpose(0, 2)
    msg = str(e.value)
    assert "t.swapaxes(0, 2)" in msg and "(2, 3, 4)" in msg and "all 3 axes" in msg
    with pytest.raises(ConventionError, match=r"t\.swapaxes\(0, 0\)"):
        cr.tensor([1.0, 2.0]).transpose(0, 0)


def test_transpose_numpy_forms_kept():
    t = cr.tensor(X234)
    np.testing.assert_array_equal(t.transpose().detach().numpy(), X234.transpose())
    np.testing.assert_array_equal(t.transpose(None).detach().numpy(), X234.transpose())
    np.testing.assert_array_equal(t.transpose(2, 0, 1).detach().numpy(),
                                  X234.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.transpose((1, 2, 0)).detach().numpy(),
                                  X234.transpose((1, 2, 0)))
    np.testing.assert_array_equal(t.transpose(axes=(1, 2, 0)).detach().numpy(),
                                  X234.transpose((1, 2, 0)))
    # a permutation passed as one tuple is NumPy's, even the identity on a matrix
    m = cr.tensor(X23)
    np.testing.assert_array_equal(m.transpose((0, 1)).detach().numpy(), X23)
    np.testing.assert_array_equal(m.T.detach().numpy(), X23.T)
    np.testing.assert_array_equal(t.T.detach().numpy(), X234.T)  # NumPy: reverse all axes


def test_transpose_and_friends_match_torch():
    both(lambda x: x.transpose(dim0=0, dim1=2), lambda x: x.transpose(0, 2), X234)
    both(lambda x: x.transpose(1, dim1=2), lambda x: x.transpose(1, 2), X234)
    both(lambda x: x.swapaxes(0, 2), lambda x: x.transpose(0, 2), X234)
    both(lambda x: x.transpose(1, 0), lambda x: x.transpose(0, 1), X23)
    both(lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), X234)
    both(lambda x: x.permute((1, 2, 0)), lambda x: x.permute((1, 2, 0)), X234)
    both(lambda x: x.permute(dims=(1, 0, 2)), lambda x: x.permute(dims=(1, 0, 2)), X234)
    both(lambda x: x.permute(0, 1), lambda x: x.permute(0, 1), X23)  # identity in both
    both(lambda x: x.mT, lambda x: x.mT, X234)
    both(lambda x: x.t(), lambda x: x.t(), X23)
    both(lambda x: x.t(), lambda x: x.t(), X23[0])
    with pytest.raises(ConventionError, match=r"t\.mT"):
        cr.tensor(X234).t()


# ---------------------------------------------------------------------------------
# sort / argsort


def test_sort_is_numpys_in_place():
    a = np.array([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]])
    t = cr.tensor(a)
    assert t.sort() is None
    np.testing.assert_array_equal(t.numpy(), np.sort(a))
    t = cr.tensor(a)
    assert t.sort(axis=0) is None
    np.testing.assert_array_equal(t.numpy(), np.sort(a, axis=0))
    t = cr.tensor(a)
    t.sort(0, kind="stable")
    np.testing.assert_array_equal(t.numpy(), np.sort(a, axis=0))
    b = a.copy()
    b.sort()  # the same NumPy code on an ndarray
    t = cr.tensor(a)
    t.sort()
    np.testing.assert_array_equal(t.numpy(), b)


def test_sort_in_place_is_recorded():
    torch = pytest.importorskip("torch")
    a = np.array([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]])
    w = RNG.standard_normal(a.shape)
    x = leaf(a)
    y = x * 2.0
    y.sort()
    (y * w).sum().backward()
    tx = tleaf(torch, a)
    (torch.sort(tx * 2.0).values * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_sort_in_place_on_a_leaf_refused():
    x = leaf([3.0, 1.0])
    with pytest.raises(cr.GradientError, match=r"(?s)sorts in place.*np\.sort\(t\).*dim=-1"):
        x.sort()
    np.testing.assert_array_equal(x.detach().numpy(), [3.0, 1.0])
    with cr.no_grad():
        x.sort()
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 3.0])


SORTME = np.array([[3.0, 1.0, np.nan, 1.0, 2.0], [0.5, 0.5, -1.0, 4.0, 0.5]])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("desc", [False, True])
def test_sort_dim_matches_torch(dim, desc):
    torch = pytest.importorskip("torch")
    x, tx = leaf(SORTME), tleaf(torch, SORTME)
    r = x.sort(dim=dim, descending=desc)
    tr = tx.sort(dim=dim, descending=desc, stable=True)
    assert isinstance(r, ValuesIndices)
    np.testing.assert_array_equal(r.values.detach().numpy(), tr.values.detach().numpy())
    np.testing.assert_array_equal(r.indices, tr.indices.numpy())
    np.testing.assert_array_equal(x.detach().numpy(), SORTME)  # t itself unchanged
    w = RNG.standard_normal(SORTME.shape)
    (r.values * w).sum().backward()
    (tr.values * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(cr.tensor(SORTME).argsort(dim=dim, descending=desc),
                                  torch.tensor(SORTME).argsort(dim=dim, descending=desc,
                                                               stable=True).numpy())


def test_sort_torch_form_numpy_side():
    t = cr.tensor(SORTME)
    v, i = t.sort(0, descending=True)  # descending= selects PyTorch's form
    np.testing.assert_array_equal(i, [[0, 0, 0, 1, 0], [1, 1, 1, 0, 1]])
    assert np.isnan(v.detach().numpy()[0, 2])
    v, i = t.sort(dim=-1)
    np.testing.assert_array_equal(v.detach().numpy(), np.sort(SORTME, axis=-1))
    np.testing.assert_array_equal(i, np.argsort(SORTME, axis=-1, kind="stable"))
    np.testing.assert_array_equal(t.detach().numpy(), SORTME)
    np.testing.assert_array_equal(t.argsort(), np.argsort(SORTME))  # NumPy's
    v, i = cr.tensor(2.0).sort(dim=0)
    assert v.item() == 2.0 and i == 0
    with pytest.raises(ConventionError, match=r"takes no kind="):
        t.sort(dim=0, kind="stable")


# ---------------------------------------------------------------------------------
# other NumPy names whose PyTorch meaning differs


def test_repeat_is_numpys_and_tile_is_torchs_repeat():
    torch = pytest.importorskip("torch")
    t = cr.tensor([1.0, 2.0])
    np.testing.assert_array_equal(t.repeat(2).detach().numpy(), [1.0, 1.0, 2.0, 2.0])
    m = cr.tensor(X23)
    np.testing.assert_array_equal(m.repeat(2, 1).detach().numpy(), X23.repeat(2, 1))
    np.testing.assert_array_equal(m.repeat([1, 2], axis=0).detach().numpy(),
                                  X23.repeat([1, 2], axis=0))
    both(lambda x: x.tile(2, 3), lambda x: x.repeat(2, 3), X23)
    both(lambda x: x.tile((2, 1, 1)), lambda x: x.repeat(2, 1, 1), X23)
    both(lambda x: x.repeat_interleave(2), lambda x: x.repeat_interleave(2), X23)
    both(lambda x: x.repeat_interleave(3, dim=1), lambda x: x.repeat_interleave(3, dim=1), X23)
    both(lambda x: x.repeat_interleave(np.array([1, 0, 2]), dim=1),
         lambda x: x.repeat_interleave(torch.tensor([1, 0, 2]), dim=1), X23)
    with pytest.raises(ConventionError, match=r"t\.tile\(\(2, 3\)\)"):
        m.repeat(2, 3)
    with pytest.raises(ConventionError, match=r"(?s)t\.tile\(\(2, 3, 4\)\).*repeat_interleave"):
        m.repeat(2, 3, 4)


def test_flatten_numpy_copy_and_torch_dims():
    t = cr.tensor(X234)
    f = t.flatten()
    f[0] = 100.0
    assert t[0, 0, 0].item() == X234[0, 0, 0]  # NumPy's flatten is a copy
    np.testing.assert_array_equal(t.flatten("F").detach().numpy(), X234.flatten("F"))
    for args, kw in [((1,), {}), ((0, 1), {}), ((), {"start_dim": 1}),
                     ((), {"end_dim": -2}), ((-2,), {}), ((1, 1), {})]:
        both(lambda x, a=args, k=kw: x.flatten(*a, **k),
             lambda x, a=args, k=kw: x.flatten(*a, **k), X234)
    both(lambda x: x.flatten(0), lambda x: x.flatten(0), np.array(3.0))
    with pytest.raises(IndexError, match=r"shape \(2, 3, 4\) has no dimension 3"):
        t.flatten(3)
    with pytest.raises(ValueError, match="start_dim comes after end_dim"):
        t.flatten(2, 1)


def test_view_reshapes_and_refuses_a_dtype():
    both(lambda x: x.view(3, 2), lambda x: x.view(3, 2), X23)
    both(lambda x: x.view(-1), lambda x: x.view(-1), X23)
    both(lambda x: x.view((1, 6)), lambda x: x.view((1, 6)), X23)
    t = cr.tensor(X23)
    v = t.view(6)
    v[0] = 9.0  # a view shares memory, as in PyTorch
    assert t[0, 0].item() == 9.0
    assert t.view().shape == (2, 3)
    with pytest.raises(ConventionError, match=r"(?s)reinterprets the bytes.*t\.astype"):
        t.view(np.float32)
    with pytest.raises(ConventionError, match="astype"):
        t.view("int64")
    with pytest.raises(ConventionError, match="astype"):
        t.view(dtype=np.int64)


def test_squeeze_numpy_positional_torch_dim():
    torch = pytest.importorskip("torch")
    x = np.arange(6.0).reshape(1, 2, 1, 3)
    t = cr.tensor(x)
    np.testing.assert_array_equal(t.squeeze(0).detach().numpy(), x.squeeze(0))
    with pytest.raises(ValueError):
        t.squeeze(1)  # NumPy: not of length 1
    for dim in [0, 1, 2, -1, (0, 1), (0, 2), None]:
        both(lambda a, d=dim: a.squeeze(dim=d),
             lambda a, d=dim: a.squeeze() if d is None else a.squeeze(dim=d), x)
    assert t.squeeze(dim=1).shape == (1, 2, 1, 3)  # PyTorch leaves it alone
    del torch


def test_nonzero_numpy_tuple_and_torch_as_tuple():
    torch = pytest.importorskip("torch")
    x = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    t = cr.tensor(x)
    r = t.nonzero()
    assert isinstance(r, tuple) and len(r) == 2
    for a, b in zip(r, np.nonzero(x)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(t.nonzero(as_tuple=False), torch.tensor(x).nonzero().numpy())
    for a, b in zip(t.nonzero(as_tuple=True), torch.tensor(x).nonzero(as_tuple=True)):
        np.testing.assert_array_equal(a, b.numpy())


def test_renamed_keywords_match_torch():
    both(lambda x: x.flip(0, 2), lambda x: x.flip(0, 2), X234)
    both(lambda x: x.flip(dims=(1,)), lambda x: x.flip(dims=(1,)), X234)
    both(lambda x: x.flip([0, 1]), lambda x: x.flip([0, 1]), X234)
    both(lambda x: x.flip(1), lambda x: x.flip(1), X234)
    both(lambda x: x.roll(shifts=2, dims=1), lambda x: x.roll(shifts=2, dims=1), X234)
    both(lambda x: x.roll((1, -1), (0, 2)), lambda x: x.roll((1, -1), (0, 2)), X234)
    both(lambda x: x.roll(3), lambda x: x.roll(3), X234)
    both(lambda x: x.tril(diagonal=1), lambda x: x.tril(diagonal=1), X23)
    both(lambda x: x.triu(diagonal=-1), lambda x: x.triu(diagonal=-1), X23)
    both(lambda x: x.triu(1), lambda x: x.triu(1), X23)
    both(lambda x: x.diagonal(0, dim1=1, dim2=2), lambda x: x.diagonal(0, dim1=1, dim2=2), X234)
    both(lambda x: x.diagonal(1), lambda x: x.diagonal(1), X23)
    t = cr.tensor(X234)
    np.testing.assert_array_equal(t.flip().detach().numpy(), np.flip(X234))  # NumPy: all axes
    with pytest.raises(ConventionError, match="Pass one"):
        t.roll(1, dims=0, axis=0)


def test_same_in_both_match_torch():
    torch = pytest.importorskip("torch")
    pos = np.abs(X23) + 0.1
    for name in ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "abs", "log1p", "expm1",
                 "square", "ravel", "conj"]:
        both(lambda x, n=name: getattr(x, n)(), lambda x, n=name: getattr(x, n)(), pos)
    both(lambda x: x.reshape(3, 2), lambda x: x.reshape(3, 2), X23)
    both(lambda x: x.reshape((-1,)), lambda x: x.reshape((-1,)), X23)
    both(lambda x: x.take(np.array([4, 0])), lambda x: x.take(torch.tensor([4, 0])), X23)
    both(lambda x: x.clip(-0.5, 1.0), lambda x: x.clip(-0.5, 1.0), X23)
    for kw in [{}, {"decimals": 1}]:  # piecewise constant: a plain array (no derivative)
        np.testing.assert_array_equal(cr.tensor(X23 * 3).round(**kw),
                                      torch.tensor(X23 * 3).round(**kw).numpy())
    both(lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1), X23)
    both(lambda x: x.unsqueeze(dim=-1), lambda x: x.unsqueeze(dim=-1), X23)
    both(lambda x: x.pow(3), lambda x: x.pow(3), X23)
    both(lambda x: x.dot(x), lambda x: x.dot(x), X23[0])
    both(lambda x: x.trace(), lambda x: x.trace(), X23)


# ---------------------------------------------------------------------------------
# PyTorch-only names, as in PyTorch (values and gradients)


def test_clamp_matches_torch():
    x = np.array([[-2.0, -0.5, 0.3], [0.7, 1.5, 3.0]])
    both(lambda t: t.clamp(-1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), x)
    both(lambda t: t.clamp(min=0.0), lambda t: t.clamp(min=0.0), x)
    both(lambda t: t.clamp(max=0.5), lambda t: t.clamp(max=0.5), x)
    with pytest.raises(ValueError, match="min=, max= or both"):
        cr.tensor(x).clamp()


def test_arithmetic_methods_match_torch():
    torch = pytest.importorskip("torch")
    u = RNG.standard_normal((2, 3))
    tu = torch.tensor(u)
    both(lambda t: t.add(u), lambda t: t.add(tu), X23)
    both(lambda t: t.add(u, alpha=2.5), lambda t: t.add(tu, alpha=2.5), X23)
    both(lambda t: t.sub(u, alpha=-3), lambda t: t.sub(tu, alpha=-3), X23)
    both(lambda t: t.mul(u), lambda t: t.mul(tu), X23)
    both(lambda t: t.div(u), lambda t: t.div(tu), X23)
    both(lambda t: t.add(2.0), lambda t: t.add(2.0), X23)
    both(lambda t: t.neg(), lambda t: t.neg(), X23)
    both(lambda t: t.matmul(u.T), lambda t: t.matmul(tu.T), X23)
    both(lambda t: t.mm(u.T), lambda t: t.mm(tu.T), X23)
    # both operands get gradients
    a, b = leaf(X23), leaf(u)
    (a.add(b, alpha=2.0) * a.mul(b)).sum().backward()
    ta, tb = tleaf(torch, X23), tleaf(torch, u)
    (ta.add(tb, alpha=2.0) * ta.mul(tb)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    with pytest.raises(cr.ShapeError, match=r"(?s)two matrices.*\(2, 3\) and \(3,\)"):
        cr.tensor(X23).mm(np.ones(3))
    with pytest.raises(ConventionError, match=r"np\.floor_divide"):
        cr.tensor(X23).div(u, rounding_mode="floor")


def test_expand_contiguous_chunk_match_torch():
    torch = pytest.importorskip("torch")
    col = np.array([[1.0], [2.0]])
    both(lambda t: t.expand(2, 3), lambda t: t.expand(2, 3), col)
    both(lambda t: t.expand(-1, 4), lambda t: t.expand(-1, 4), col)
    both(lambda t: t.expand((3, 2, 5)), lambda t: t.expand((3, 2, 5)), col)
    both(lambda t: t.expand_as(np.zeros((4, 2, 3))),
         lambda t: t.expand_as(torch.zeros(4, 2, 3)), col)
    with pytest.raises(cr.ShapeError, match="new leading dimension"):
        cr.tensor(col).expand(-1, 2, 3)
    both(lambda t: t.T.contiguous() * 1.0, lambda t: t.T.contiguous() * 1.0, X23)
    t = cr.tensor(X23)
    assert t.contiguous() is t
    c = t.T.contiguous()
    assert c._value.flags.c_contiguous
    c[0, 0] = 50.0  # a copy, as in PyTorch for a non-contiguous tensor
    assert t[0, 0].item() == X23[0, 0]
    x = np.arange(14.0).reshape(2, 7)
    for n, d in [(3, 1), (2, 0), (7, 1), (10, 1), (1, 1), (4, -1)]:
        cs = cr.tensor(x).chunk(n, dim=d)
        ts = torch.tensor(x).chunk(n, dim=d)
        assert len(cs) == len(ts)
        for a, b in zip(cs, ts):
            np.testing.assert_array_equal(a.detach().numpy(), b.numpy())
    xl, txl = leaf(x), tleaf(torch, x)
    w = [RNG.standard_normal(p.shape) for p in txl.chunk(3, dim=1)]
    sum((p * wi).sum() for p, wi in zip(xl.chunk(3, dim=1), w)).backward()
    sum((p * torch.tensor(wi)).sum() for p, wi in zip(txl.chunk(3, dim=1), w)).backward()
    np.testing.assert_array_equal(xl.grad.numpy(), txl.grad.numpy())
    assert len(cr.tensor(np.zeros(0)).chunk(3)) == len(torch.zeros(0).chunk(3)) == 3


def test_masked_fill_matches_torch():
    torch = pytest.importorskip("torch")
    mask = X23 > 0.5
    both(lambda t: t.masked_fill(mask, -7.0), lambda t: t.masked_fill(torch.tensor(mask), -7.0),
         X23)
    row = np.array([True, False, True])
    both(lambda t: t.masked_fill(row, 0.25), lambda t: t.masked_fill(torch.tensor(row), 0.25),
         X23)
    ints = np.arange(6).reshape(2, 3)
    r = cr.tensor(ints).masked_fill(mask, 2.7)
    tr = torch.tensor(ints).masked_fill(torch.tensor(mask), 2.7)
    assert r.dtype == np.int64
    np.testing.assert_array_equal(r.numpy(), tr.numpy())
    # a 0-d Tensor value gets its gradient too
    v, tv = leaf(1.5), tleaf(torch, 1.5)
    x, tx = leaf(X23), tleaf(torch, X23)
    (x.masked_fill(mask, v) ** 2).sum().backward()
    (tx.masked_fill(torch.tensor(mask), tv) ** 2).sum().backward()
    assert v.grad.item() == pytest.approx(tv.grad.item())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    with pytest.raises(TypeError, match="mask must be boolean"):
        cr.tensor(X23).masked_fill(mask.astype(int), 0.0)
    with pytest.raises(cr.ShapeError, match=r"shape \(2, 2, 3\) does not broadcast"):
        cr.tensor(X23).masked_fill(np.ones((2, 2, 3), bool), 0.0)


def test_norm_logsumexp_match_torch():
    torch = pytest.importorskip("torch")
    for kw in [{}, {"p": 2}, {"p": 1}, {"p": 3}, {"p": float("inf")}, {"p": "fro"},
               {"dim": 1}, {"dim": (0, 2), "keepdim": True}, {"p": 1, "dim": -1}]:
        both(lambda t, k=kw: t.norm(**k), lambda t, k=kw: t.norm(**k), X234)
    with pytest.raises(ConventionError, match=r"np\.linalg\.norm"):
        cr.tensor(X23).norm(p="nuc")
    for dim, keep in [(0, False), (1, True), ((0, 2), False), (-1, True)]:
        both(lambda t, d=dim, k=keep: t.logsumexp(d, keepdim=k),
             lambda t, d=dim, k=keep: t.logsumexp(d, keepdim=k), X234 * 50)
    del torch


def test_casts_match_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[-1.7, 0.0, 2.5], [3.2, -0.2, 1.0]])
    t, tt = cr.tensor(x), torch.tensor(x)
    for name, dt in [("float", np.float32), ("double", np.float64), ("half", np.float16),
                     ("long", np.int64), ("int", np.int32), ("bool", np.bool_)]:
        r, tr = getattr(t, name)(), getattr(tt, name)()
        assert r.dtype == dt and str(tr.dtype) == f"torch.{np.dtype(dt).name}"
        np.testing.assert_array_equal(r.numpy(), tr.numpy())
    both(lambda a: a.float().double(), lambda a: a.float().double(), x)
    assert t.to(np.float32).dtype == np.float32 and t.to(dtype="float16").dtype == np.float16
    assert t.to(np.float64) is t and t.to("cpu") is t and t.cpu() is t
    assert t.to("cpu", copy=True) is not t and t.device == "cpu"
    assert t.to(torch.device("cpu")) is t
    with pytest.raises(ConventionError, match=r"np\.float32"):
        t.to(torch.float32)
    with pytest.raises(ConventionError, match="CPU"):
        t.to("cuda")


def test_nn_methods_match_torch():
    for name in ["softmax", "log_softmax"]:
        for d in (0, 1, -1):
            both(lambda t, n=name, dd=d: getattr(t, n)(dd), lambda t, n=name, dd=d:
                 getattr(t, n)(dd), X234)
    for name in ["relu", "sigmoid"]:
        both(lambda t, n=name: getattr(t, n)(), lambda t, n=name: getattr(t, n)(), X23)


def test_torch_only_methods_numpy_side():
    t = cr.tensor(X23)
    np.testing.assert_array_equal(t.clamp(0.0, 1.0).detach().numpy(), np.clip(X23, 0.0, 1.0))
    np.testing.assert_array_equal(t.add(1.0, alpha=2).detach().numpy(), X23 + 2.0)
    np.testing.assert_array_equal(t.expand(3, 2, 3).detach().numpy(),
                                  np.broadcast_to(X23, (3, 2, 3)))
    assert [c.shape for c in cr.tensor(np.zeros((5, 2))).chunk(2)] == [(3, 2), (2, 2)]
    np.testing.assert_array_equal(t.masked_fill(X23 > 0, 0.0).detach().numpy(),
                                  np.where(X23 > 0, 0.0, X23))
    assert t.norm().item() == pytest.approx(np.linalg.norm(X23), rel=1e-14)
    assert t.t().shape == (3, 2) and t.long().dtype == np.int64


# ---------------------------------------------------------------------------------
# what PyTorch users type that does not exist: an AttributeError that says what to write


def test_missing_names_say_what_to_write():
    t = cr.tensor(X23)
    with pytest.raises(AttributeError, match=r"(?s)t\.cuda: .*CPU"):
        t.cuda()
    with pytest.raises(AttributeError, match=r"np\.take_along_axis"):
        t.gather(1, np.zeros((2, 1), int))
    with pytest.raises(AttributeError, match=r"(?s)in-place method add_\(\).*t\.add\(\.\.\.\).*"
                                             r"t \+= u"):
        t.add_(1.0)
    with pytest.raises(AttributeError, match=r"np\.sign\(t"):
        t.sign()
    with pytest.raises(AttributeError, match=r"(?s)np\.median.*lower one"):
        t.median()
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute 'frobnicate'$"):
        t.frobnicate  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute '__foo__'$"):
        t.__foo__  # noqa: B018
    assert not hasattr(t, "cuda") and not hasattr(t, "_nope")
    assert getattr(t, "gather", None) is None


# ---------------------------------------------------------------------------------
# the documentation and the code agree

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "nn.md"


def _section(text, heading):
    start = text.index(heading)
    m = re.compile(r"^## ", re.M).search(text, start + len(heading))
    return text[start:m.start() if m else len(text)]


def test_doc_table_names_exist_and_cover_every_method():
    text = DOC.read_text()
    sec = _section(text, "## Coming from PyTorch")
    missing_part = sec[sec.index("### Not provided"):]
    provided_part = sec[:sec.index("### Not provided")]
    named = set(re.findall(r"`t\.([A-Za-z_]\w*)", provided_part))
    not_provided = set(re.findall(r"`t\.([A-Za-z_]\w*)", missing_part))
    assert len(named) > 80 and len(not_provided) > 30
    # every name the table documents exists on Tensor ...
    t = cr.tensor(X23)
    assert sorted(n for n in named if not hasattr(t, n)) == []
    # ... every public attribute of Tensor is documented (the hint-only names are not
    # attributes: hasattr is False and dir() leaves them out) ...
    public = {n for n in dir(t) if not n.startswith("_")}
    assert not public & HINTED and "cuda" in HINTED
    assert sorted(public - named) == []
    # ... and every name listed as not provided raises an AttributeError that says what to do
    for n in sorted(not_provided):
        assert not hasattr(t, n), n
        with pytest.raises(AttributeError) as e:
            getattr(t, n)
        assert str(e.value).startswith(f"t.{n}: chainrule's Tensor has no such attribute; "), n


def test_doc_rows_with_raises_do_raise():
    """Every 'raises' row's first cell, run on a tensor, raises ConventionError (or the
    error the row names)."""
    t3, m, v = cr.tensor(X234), cr.tensor(X23), cr.tensor([1.0, 2.0])
    cases = {
        "t.transpose(0, 1)": lambda: m.transpose(0, 1),
        "t.transpose(d0, d1)": lambda: t3.transpose(0, 1),
        "t.max(other)": lambda: m.max(m),
        "t.max(dim=(0, 1))": lambda: m.max(dim=(0, 1)),
        "t.amax(dim=())": lambda: m.amax(dim=()),
        "t.std(dim=d)": lambda: m.std(dim=1),
        "t.var(dim=d)": lambda: m.var(dim=1),
        "t.repeat(a, b, ...)": lambda: v.repeat(2, 3),
        "t.view(dtype)": lambda: m.view(np.int64),
        "t.sum(d, True)": lambda: m.sum(0, True),
        "t.std(True)": lambda: m.std(True),
        "t.div(rounding_mode)": lambda: m.div(2.0, rounding_mode="trunc"),
        "t.norm(p='nuc')": lambda: m.norm(p="nuc"),
        "t.to(torch dtype)": lambda: m.to("torch.float32"),
    }
    for name, f in cases.items():
        with pytest.raises(ConventionError):
            f()
        del name


def test_convention_error_is_a_chainrule_type_error():
    assert issubclass(ConventionError, TypeError) and issubclass(ConventionError,
                                                                 cr.ChainruleError)
