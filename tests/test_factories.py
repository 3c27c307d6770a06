"""cr.zeros/ones/full/empty/arange/linspace/eye, the *_like factories, cr.randn/rand/randint
and the differentiable joins cr.cat/stack/where: shapes, dtypes and values (against
PyTorch 2.13 where it is installed), the random streams, gradients, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


# --- shapes, dtypes, values ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "randn", "rand"])
def test_shape_spellings(name):
    f = getattr(cr, name)
    for args, shape in [((2, 3), (2, 3)), (((2, 3),), (2, 3)), (([2, 3],), (2, 3)),
                        ((), ()), (((),), ()), ((0,), (0,)), ((np.int64(4),), (4,))]:
        t = f(*args)
        assert isinstance(t, cr.Tensor) and t.shape == shape, (name, args)
        assert t.dtype == np.float64 and not t.requires_grad
    assert f(size=(2, 1)).shape == (2, 1)


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "randn", "rand"])
def test_dtype_and_requires_grad(name):
    f = getattr(cr, name)
    t = f(2, 2, dtype=np.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad and t.is_leaf
    assert f(3, dtype="float32").dtype == np.float32
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.full((2, 2), 2, np.float32))


@needs_torch
def test_constant_factories_match_torch():
    D = torch.float64
    cases = [
        (cr.zeros(2, 3), torch.zeros(2, 3, dtype=D)),
        (cr.ones((4,)), torch.ones((4,), dtype=D)),
        (cr.full((2, 2), 1.5), torch.full((2, 2), 1.5, dtype=D)),
        (cr.full((3,), 7), torch.full((3,), 7)),
        (cr.full([2], True), torch.full([2], True)),
        (cr.full((2,), 1 + 2j), torch.full((2,), 1 + 2j, dtype=torch.complex128)),
        (cr.arange(5), torch.arange(5)),
        (cr.arange(2, 9, 3), torch.arange(2, 9, 3)),
        (cr.arange(5, 0, -2), torch.arange(5, 0, -2)),
        (cr.arange(0, 1, 0.1), torch.arange(0, 1, 0.1, dtype=D)),
        (cr.arange(1, 2.5, 0.5), torch.arange(1, 2.5, 0.5, dtype=D)),
        (cr.arange(5, dtype=np.float32), torch.arange(5, dtype=torch.float32)),
        (cr.arange(0, 0), torch.arange(0, 0)),
        (cr.linspace(0, 1, 5), torch.linspace(0, 1, 5, dtype=D)),
        (cr.linspace(-3, 7, 11), torch.linspace(-3, 7, 11, dtype=D)),
        (cr.linspace(0, 1, 1), torch.linspace(0, 1, 1, dtype=D)),
        (cr.linspace(0, 1, 0), torch.linspace(0, 1, 0, dtype=D)),
        (cr.linspace(2, 10, 5, dtype=np.int64), torch.linspace(2, 10, 5, dtype=torch.int64)),
        (cr.eye(3), torch.eye(3, dtype=D)),
        (cr.eye(2, 4), torch.eye(2, 4, dtype=D)),
        (cr.eye(0), torch.eye(0, dtype=D)),
    ]
    for ours, theirs in cases:
        want = theirs.numpy()
        assert isinstance(ours, cr.Tensor)
        assert ours.shape == want.shape and ours.dtype == want.dtype, (ours, theirs)
        np.testing.assert_allclose(ours.numpy(), want, rtol=1e-15, atol=1e-15)


def test_default_dtype_is_float64_like_cr_tensor():
    # float64 (cr.tensor's, NumPy's), not PyTorch's float32; integer ones stay int64
    assert cr.tensor([1.0]).dtype == cr.zeros(1).dtype == np.float64
    for t in (cr.ones(1), cr.full((1,), 2.0), cr.arange(0.0, 1.0), cr.linspace(0, 1, 3),
              cr.eye(2), cr.randn(1), cr.rand(1)):
        assert t.dtype == np.float64
    assert cr.arange(3).dtype == cr.randint(3, (2,)).dtype == cr.full((1,), 2).dtype == np.int64


def test_like_factories():
    x = cr.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    i = cr.tensor(np.arange(4, dtype=np.int32))
    for f in (cr.zeros_like, cr.ones_like, cr.empty_like, cr.randn_like, cr.rand_like):
        t = f(x)
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
        assert f(x, dtype=np.float64).dtype == np.float64
        assert f(x, requires_grad=True).requires_grad
        assert f(np.zeros((5,))).shape == (5,)
    np.testing.assert_array_equal(cr.zeros_like(i).numpy(), np.zeros(4, np.int32))
    np.testing.assert_array_equal(cr.ones_like(i).numpy(), np.ones(4, np.int32))
    np.testing.assert_array_equal(cr.full_like(i, 7).numpy(), np.full(4, 7, np.int32))
    assert cr.full_like(x, 2.5).dtype == np.float32
    assert np.all(cr.full_like(x, 2.5).numpy() == 2.5)
    with pytest.raises(TypeError, match=r"cr\.randn_like: random values need a floating"):
        cr.randn_like(i)
    with pytest.raises(TypeError, match=r"cr\.zeros_like: input must be a Tensor"):
        cr.zeros_like([1, 2])


@needs_torch
def test_like_dtypes_match_torch():
    for np_dt in (np.float32, np.int32, np.float64, np.bool_):
        a = np.zeros((2,), np_dt)
        for name in ("zeros_like", "ones_like", "empty_like"):
            assert getattr(cr, name)(a).dtype == getattr(torch, name)(_t(a)).numpy().dtype
        assert cr.full_like(a, 1).dtype == torch.full_like(_t(a), 1).numpy().dtype
    assert cr.full_like(np.zeros(2, np.int64), 2.7).numpy().tolist() == \
        torch.full_like(torch.zeros(2, dtype=torch.int64), 2.7).tolist()


# --- random ------------------------------------------------------------------------------
def test_random_streams_are_numpy_generators():
    np.testing.assert_array_equal(cr.randn(2, 3, seed=5).numpy(),
                                  np.random.default_rng(5).standard_normal((2, 3)))
    np.testing.assert_array_equal(cr.rand(4, seed=5).numpy(),
                                  np.random.default_rng(5).random((4,)))
    np.testing.assert_array_equal(cr.randint(-3, 9, (10,), seed=5).numpy(),
                                  np.random.default_rng(5).integers(-3, 9, (10,), np.int64))
    # the same seed: the same numbers; float32 is the float64 draw rounded
    np.testing.assert_array_equal(cr.randn(3, seed=1).numpy(), cr.randn(3, seed=1).numpy())
    np.testing.assert_array_equal(cr.randn(3, seed=1, dtype=np.float32).numpy(),
                                  cr.randn(3, seed=1).numpy().astype(np.float32))
    # a generator advances
    g = np.random.default_rng(3)
    a, b = cr.randn(3, generator=g), cr.randn(3, generator=g)
    ref = np.random.default_rng(3)
    np.testing.assert_array_equal(a.numpy(), ref.standard_normal(3))
    np.testing.assert_array_equal(b.numpy(), ref.standard_normal(3))
    # without either: the generator cr.manual_seed seeds
    cr.manual_seed(11)
    u = cr.rand(5)
    cr.manual_seed(11)
    np.testing.assert_array_equal(u.numpy(), cr.rand(5).numpy())
    # the *_like ones take seed= and generator= too
    np.testing.assert_array_equal(cr.randn_like(np.zeros(3), seed=2).numpy(),
                                  cr.randn(3, seed=2).numpy())


def test_randint():
    t = cr.randint(10, (1000,), seed=0)
    assert t.dtype == np.int64 and t.shape == (1000,)
    v = t.numpy()
    assert v.min() == 0 and v.max() == 9
    v = cr.randint(3, 6, (2, 50), seed=1).numpy()
    assert v.shape == (2, 50) and set(np.unique(v)) == {3, 4, 5}
    assert cr.randint(3, 6, size=(4,), seed=1).shape == (4,)
    f = cr.randint(0, 4, (3,), seed=1, dtype=np.float32)
    assert f.dtype == np.float32
    with pytest.raises(ValueError, match=r"cr\.randint: low must be less than high"):
        cr.randint(5, 2, (2,))
    with pytest.raises(TypeError, match=r"cr\.randint: size must be a tuple"):
        cr.randint(0, 5, 3)
    with pytest.raises(TypeError, match=r"cr\.randint: expected randint\(high, size\)"):
        cr.randint(5)
    with pytest.raises(TypeError, match=r"cr\.randint: high must be an int"):
        cr.randint(0, 2.5, (2,))


def test_random_distributions():
    z = cr.randn(200000, seed=0).numpy()
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    u = cr.rand(200000, seed=0).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01


def test_random_argument_errors():
    with pytest.raises(TypeError, match=r"cr\.randn: give seed= or generator=, not both"):
        cr.randn(2, seed=0, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"cr\.rand: generator= must be a np\.random\.Generator"):
        cr.rand(2, generator=0)
    with pytest.raises(TypeError, match=r"cr\.randn: seed= must be a non-negative int"):
        cr.randn(2, seed=1.5)
    with pytest.raises(TypeError, match=r"cr\.randn: random values need a floating"):
        cr.randn(2, dtype=np.int64)


# --- errors that name the function -------------------------------------------------------
@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "randn", "rand"])
def test_bad_sizes(name):
    f = getattr(cr, name)
    with pytest.raises(ValueError, match=rf"cr\.{name}: sizes must be non-negative"):
        f(2, -1)
    with pytest.raises(TypeError, match=rf"cr\.{name}: sizes must be ints, got float"):
        f(2.0, 3)
    with pytest.raises(TypeError, match=rf"cr\.{name}: sizes must be ints, got bool"):
        f(True)
    with pytest.raises(TypeError, match=rf"cr\.{name}: sizes must be ints, got str"):
        f("3")
    with pytest.raises(TypeError, match=rf"cr\.{name}: dtype='nope' is not a NumPy dtype"):
        f(2, dtype="nope")
    with pytest.raises(ValueError, match=rf"cr\.{name}: .*device='cuda' is not available"):
        f(2, device="cuda")
    assert f(2, device="cpu").shape == (2,)
    with pytest.raises(TypeError, match=rf"cr\.{name}: the shape was given both"):
        f(2, size=(2,))


def test_other_errors():
    with pytest.raises(TypeError, match=r"cr\.zeros: only floating-point and complex tensors"):
        cr.zeros(2, dtype=np.int64, requires_grad=True)
    with pytest.raises(ValueError, match=r"cr\.full: sizes must be non-negative"):
        cr.full((-2,), 1.0)
    with pytest.raises(TypeError, match=r"cr\.full: fill_value must be a number"):
        cr.full((2,), "a")
    with pytest.raises(TypeError, match=r"cr\.full: fill_value must be a number, not a Tensor"):
        cr.full((2,), cr.tensor(1.0, requires_grad=True))
    with pytest.raises(ValueError, match=r"cr\.arange: step must be nonzero"):
        cr.arange(0, 5, 0)
    with pytest.raises(ValueError, match=r"cr\.arange: upper bound and lower bound inconsistent"):
        cr.arange(0, 5, -1)
    with pytest.raises(ValueError, match=r"cr\.arange: end must be finite"):
        cr.arange(0, np.inf)
    with pytest.raises(ValueError, match=r"cr\.linspace: number of steps must be non-negative"):
        cr.linspace(0, 1, -1)
    with pytest.raises(TypeError, match=r"cr\.linspace: steps must be an int"):
        cr.linspace(0, 1, 2.0)
    with pytest.raises(ValueError, match=r"cr\.eye: sizes must be non-negative"):
        cr.eye(-1)
    with pytest.raises(TypeError, match=r"cr\.eye: sizes must be ints"):
        cr.eye(2, 2.5)
    with pytest.raises(TypeError, match=r"cr\.zeros\(\) got an unexpected keyword"):
        cr.zeros(2, dtyp=np.float32)
    with pytest.raises(TypeError, match=r"cr\.zeros: out= is not supported"):
        cr.zeros(2, out=np.zeros(2))


@needs_torch
def test_torch_dtype_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"cr\.ones: dtype=torch\.float32 is not a NumPy dtype"):
        cr.ones(2, dtype=torch.float32)


# --- cat, stack, where -------------------------------------------------------------------
def _pair(seed=0, shapes=((2, 3), (4, 3))):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@needs_torch
@pytest.mark.parametrize("dim", [0, -2])
def test_cat_values_and_gradients_match_torch(dim):
    a, b = _pair()
    ta, tb = (cr.tensor(v, requires_grad=True) for v in (a, b))
    pa, pb = (_t(v).requires_grad_(True) for v in (a, b))
    w = np.random.default_rng(1).standard_normal((6, 3))
    out = cr.cat([ta, tb], dim=dim)
    ref = torch.cat([pa, pb], dim=dim)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    (np.sin(out) * w).sum().backward()
    (torch.sin(ref) * _t(w)).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), pa.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(tb.grad.numpy(), pb.grad.numpy(), rtol=1e-14)


def test_cat_spellings_and_errors():
    a, b = _pair(shapes=((2, 3), (2, 1)))
    t = cr.cat((cr.tensor(a), b), axis=1)
    assert isinstance(t, cr.Tensor) and t.shape == (2, 4)
    assert cr.cat([a, b], 1).shape == (2, 4)  # plain arrays: still a Tensor
    assert isinstance(cr.cat([a, b], 1), cr.Tensor)
    assert cr.cat(x for x in [a, a]).shape == (4, 3)  # any iterable
    with pytest.raises(ValueError, match=r"cr\.cat: expected a non-empty list"):
        cr.cat([])
    with pytest.raises(TypeError, match=r"cr\.cat: expected a sequence"):
        cr.cat(cr.tensor(a))
    with pytest.raises(ValueError, match=r"cr\.cat: zero-dimensional tensors"):
        cr.cat([cr.tensor(1.0), cr.tensor(2.0)])
    with pytest.raises(ValueError, match=r"cr\.cat: tensors must have the same number"):
        cr.cat([a, np.ones(3)])
    with pytest.raises(IndexError, match=r"cr\.cat: dim 2 is out of range"):
        cr.cat([a, a], dim=2)
    with pytest.raises(TypeError, match=r"cr\.cat: give dim= or axis=, not both"):
        cr.cat([a, a], dim=0, axis=1)


@needs_torch
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack_values_and_gradients_match_torch(dim):
    a, b = _pair(shapes=((2, 3), (2, 3)))
    ta, tb = (cr.tensor(v, requires_grad=True) for v in (a, b))
    pa, pb = (_t(v).requires_grad_(True) for v in (a, b))
    out = cr.stack([ta, tb], dim=dim)
    ref = torch.stack([pa, pb], dim=dim)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    w = np.random.default_rng(2).standard_normal(out.shape)
    ((out ** 3) * w).sum().backward()
    ((ref ** 3) * _t(w)).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), pa.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(tb.grad.numpy(), pb.grad.numpy(), rtol=1e-14)


def test_stack_errors():
    a, b = _pair(shapes=((2, 3), (3, 2)))
    with pytest.raises(ValueError, match=r"cr\.stack: expects each tensor to be of equal size"):
        cr.stack([a, b])
    with pytest.raises(IndexError, match=r"cr\.stack: dim 3 is out of range"):
        cr.stack([a, a], dim=3)
    assert cr.stack([a, a], axis=-1).shape == (2, 3, 2)
    assert cr.stack([cr.tensor(1.0), cr.tensor(2.0)]).shape == (2,)


@needs_torch
def test_where_values_and_gradients_match_torch():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    c = rng.standard_normal((3, 4)) > 0
    tx, ty = cr.tensor(x, requires_grad=True), cr.tensor(y, requires_grad=True)
    px, py = _t(x).requires_grad_(True), _t(y).requires_grad_(True)
    out = cr.where(c, tx, ty)
    ref = torch.where(_t(c), px, py)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), px.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(ty.grad.numpy(), py.grad.numpy(), rtol=1e-14)
    # a number for other keeps the tensor's dtype, as PyTorch's
    f32 = cr.tensor(x.astype(np.float32))
    assert cr.where(cr.tensor(c), f32, 0.0).dtype == np.float32 == \
        torch.where(_t(c), _t(x.astype(np.float32)), 0.0).numpy().dtype
    # where(condition) alone: nonzero as a tuple of int64 index tensors
    ours = cr.where(c)
    theirs = torch.where(_t(c))
    assert len(ours) == len(theirs) == 2
    for o, t in zip(ours, theirs):
        assert isinstance(o, cr.Tensor) and o.dtype == np.int64
        np.testing.assert_array_equal(o.numpy(), t.numpy())


def test_where_errors():
    with pytest.raises(TypeError, match=r"cr\.where: expected condition to be a boolean"):
        cr.where(np.ones(3), np.ones(3), np.zeros(3))
    with pytest.raises(TypeError, match=r"cr\.where: give both input and other"):
        cr.where(np.ones(3) > 0, np.ones(3))
    assert isinstance(cr.where(np.ones(2) > 0, 1.0, 0.0), cr.Tensor)


def test_joins_differentiate_in_every_mode():
    x = np.random.default_rng(4).standard_normal(3)

    def f(v):
        s = cr.stack([v, v ** 2], dim=1)          # (3, 2)
        c = cr.cat([s, cr.ones(3, 1)], dim=1)      # (3, 3)
        return np.sum(cr.where(c > 0.5, c * v[:, None], -c) ** 2)

    cr.gradcheck(f, x)  # reverse and forward mode against central differences, order 2
    g = cr.grad(f)(x)
    eps = 1e-6
    num = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(g, num, rtol=1e-6)
