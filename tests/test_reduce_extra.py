"""Reductions, scans, quantiles, norms and the special functions beyond the op table.

* property tests (hypothesis, derandomized) that draw shapes, axes and options and
  check cr.grad / cr.jvp against central differences, one per group;
* tie conventions at wide ties against PyTorch (the table can only check two-way ties);
* exactness of cumprod / prod at zeros to third order, and scans long enough that the
  old O(n^2) rule could not have run;
* NumPy's values, dtypes and errors.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.ops import special as SP

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")
PROPS = settings(max_examples=25, deadline=None, derandomize=True)


def num_grad(f, x, h=1e-6):
    """Central-difference gradient of a scalar function of one array."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return g


def scalar(f, out_shape, seed=3):
    u = np.random.default_rng(seed).standard_normal(out_shape)
    return lambda x: np.sum(u * f(x))


def check_both_modes(f, x, rtol=1e-5, atol=1e-6):
    """cr.grad of <u, f(x)> and cr.jvp of f against central differences."""
    out = np.asarray(f(x))
    s = scalar(f, out.shape)
    np.testing.assert_allclose(cr.grad(s)(x), num_grad(s, x), rtol=rtol, atol=atol)
    v = np.random.default_rng(5).standard_normal(np.shape(x))
    _, t = cr.jvp(f, (x,), (v,))
    h = 1e-6
    tn = (np.asarray(f(x + h * v)) - np.asarray(f(x - h * v))) / (2 * h)
    np.testing.assert_allclose(t, tn, rtol=rtol, atol=atol)


@st.composite
def array_and_axis(draw, max_dims=3, allow_none=True):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=max_dims)))
    nd = len(shape)
    kinds = ["int", "tuple"] + (["none"] if allow_none else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        picked = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        axis = tuple(a - nd if draw(st.booleans()) else a for a in picked)
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).uniform(-2, 2, size=shape)
    return x, axis


# ---------------------------------------------------------------------------------
# property tests, one per group


REDUCERS = {
    "sum": lambda x, ax, kd: np.sum(x, axis=ax, keepdims=kd),
    "mean": lambda x, ax, kd: np.mean(x, axis=ax, keepdims=kd),
    "prod": lambda x, ax, kd: np.prod(x, axis=ax, keepdims=kd),
    "var": lambda x, ax, kd: np.var(x, axis=ax, keepdims=kd),
    "std-ddof1": lambda x, ax, kd: np.std(x, axis=ax, keepdims=kd, ddof=1),
    "max": lambda x, ax, kd: np.max(x, axis=ax, keepdims=kd),
    "amin": lambda x, ax, kd: np.amin(x, axis=ax, keepdims=kd),
    "ptp": lambda x, ax, kd: np.ptp(x, axis=ax, keepdims=kd),
    "nansum": lambda x, ax, kd: np.nansum(x, axis=ax, keepdims=kd),
    "nanmean": lambda x, ax, kd: np.nanmean(x, axis=ax, keepdims=kd),
    "average": lambda x, ax, kd: np.average(x, axis=ax, keepdims=kd),
    "median": lambda x, ax, kd: np.median(x, axis=ax, keepdims=kd),
    "logsumexp": lambda x, ax, kd: cr.numpy.logsumexp(x, axis=ax, keepdims=kd),
}


@PROPS
@given(array_and_axis(), st.booleans(), st.sampled_from(sorted(REDUCERS)))
def test_reductions_property(xa, keepdims, name):
    x, axis = xa
    f = REDUCERS[name]
    reduced = range(x.ndim) if axis is None else np.atleast_1d(axis)
    if name == "std-ddof1" and np.prod([x.shape[a] for a in reduced]) < 2:
        return  # ddof=1 of one element: NaN
    out = f(x, axis, keepdims)
    t = f(cr.tensor(x), axis, keepdims)
    np.testing.assert_allclose(np.asarray(t.detach()), out, rtol=1e-12, atol=1e-12)
    assert t.shape == np.shape(out)
    check_both_modes(lambda v: f(v, axis, keepdims), x)


@PROPS
@given(array_and_axis(allow_none=False), st.integers(0, 3))
def test_nan_reductions_property(xa, seed):
    x, axis = xa
    rng = np.random.default_rng(seed)
    x = np.where(rng.uniform(size=x.shape) < 0.25, np.nan, x)
    for f in (np.nansum, np.nanmean, np.nanmax, np.nanmin):
        with _quiet():
            g = cr.grad(lambda v, f=f: np.nansum(f(v, axis=axis) * 1.5))(x)
        assert np.all(g[np.isnan(x)] == 0), f.__name__
        assert not np.any(np.isnan(g)), f.__name__
        # away from the NaNs the gradient is that of the same reduction on the kept values
        s = lambda v, f=f: np.nansum(f(np.where(np.isnan(x), np.nan, v), axis=axis) * 1.5)
        with _quiet():
            gn = num_grad(s, np.nan_to_num(x))
        np.testing.assert_allclose(g[~np.isnan(x)], gn[~np.isnan(x)], rtol=1e-5, atol=1e-6)


class _quiet:
    def __enter__(self):
        import warnings

        self.w = warnings.catch_warnings()
        self.w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *a):
        self.w.__exit__(*a)


@st.composite
def scan_case(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    nd = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-nd, nd - 1)))
    seed = draw(st.integers(0, 2**16))
    zeros = draw(st.sampled_from([0.0, 0.2, 0.5]))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=shape)
    x[rng.uniform(size=shape) < zeros] = 0.0
    return x, axis


@PROPS
@given(scan_case())
def test_scans_property(case):
    x, axis = case
    check_both_modes(lambda v: np.cumsum(v, axis=axis), x)
    check_both_modes(lambda v: np.cumprod(v, axis=axis), x)
    check_both_modes(lambda v: np.prod(v, axis=axis), x)
    # second order through the zeros: the Hessian of <u, cumprod(x)> is a polynomial
    out_shape = np.cumprod(x, axis=axis).shape
    s = scalar(lambda v: np.cumprod(v, axis=axis), out_shape)
    H = cr.hessian(s)(x)
    if x.size <= 12:
        Hn = np.stack([num_grad(lambda v, i=i: cr.grad(s)(v).ravel()[i], x).ravel()
                       for i in range(x.size)]).reshape(x.shape + x.shape)
        np.testing.assert_allclose(H, Hn, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cr.jacfwd(cr.grad(s))(x), H, rtol=1e-12, atol=1e-12)
    if x.ndim >= 1 and axis is not None and x.shape[axis] >= 2:
        check_both_modes(lambda v: np.diff(v, axis=axis), x)
        check_both_modes(lambda v: np.trapezoid(v, axis=axis), x)


@PROPS
@given(array_and_axis(), st.sampled_from(["linear", "lower", "higher", "nearest", "midpoint",
                                          "hazen", "weibull", "inverted_cdf",
                                          "median_unbiased", "closest_observation"]),
       st.lists(st.floats(0, 1), min_size=1, max_size=3), st.booleans())
def test_quantile_property(xa, method, q, keepdims):
    x, axis = xa
    f = lambda v: np.quantile(v, q, axis=axis, method=method, keepdims=keepdims)
    np.testing.assert_array_equal(np.asarray(f(cr.tensor(x)).detach()), f(x))
    check_both_modes(f, x)
    p = lambda v: np.percentile(v, np.multiply(q, 100), axis=axis, method=method)
    np.testing.assert_array_equal(np.asarray(p(cr.tensor(x)).detach()), p(x))
    check_both_modes(p, x)


@st.composite
def norm_case(draw):
    matrix = draw(st.booleans())
    if matrix:
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=3)))
        nd = len(shape)
        a0 = draw(st.integers(0, nd - 1))
        a1 = draw(st.integers(0, nd - 1).filter(lambda a: a != a0))
        axis = (a0, a1) if nd > 2 or draw(st.booleans()) else None
        ord_ = draw(st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf, "nuc", 2, -2]))
    else:
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
        nd = len(shape)
        axis = draw(st.integers(-nd, nd - 1)) if nd > 1 or draw(st.booleans()) else None
        ord_ = draw(st.sampled_from([None, 1, 2, np.inf, -np.inf, 3, 0.5, 0]))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).uniform(-2, 2, size=shape)
    return x, ord_, axis, draw(st.booleans())


@PROPS
@given(norm_case())
def test_norm_property(case):
    x, ord_, axis, keepdims = case
    f = lambda v: np.linalg.norm(v, ord=ord_, axis=axis, keepdims=keepdims)
    if axis is None and x.ndim > 2 and ord_ is not None:
        with pytest.raises(ValueError):
            f(cr.tensor(x))
        return
    np.testing.assert_allclose(np.asarray(f(cr.tensor(x)).detach()), f(x), rtol=1e-13)
    check_both_modes(f, x)


@PROPS
@given(array_and_axis(), st.sampled_from(["softmax", "log_softmax", "logsumexp"]),
       st.floats(-500, 500))
def test_softmax_family_property(xa, name, shift):
    x, axis = xa
    fn = getattr(cr, name)
    f = lambda v: fn(v + shift, axis=axis)
    check_both_modes(f, x)
    if torch is not None and name != "logsumexp":
        dims = tuple(range(x.ndim)) if axis is None else axis
        if isinstance(dims, tuple) and len(dims) != 1:
            return  # torch's softmax takes one dim
        d = dims[0] if isinstance(dims, tuple) else dims
        tf = torch.softmax if name == "softmax" else torch.log_softmax
        ref = tf(torch.tensor(x + shift), d).numpy()
        np.testing.assert_allclose(np.asarray(f(cr.tensor(x)).detach()), ref, rtol=1e-12,
                                   atol=1e-12)


# ---------------------------------------------------------------------------------
# ties: PyTorch's conventions at ties wider than two


@needs_torch
@pytest.mark.parametrize("x, dim", [
    ([2.0, 2.0, 2.0, 2.0], None), ([[1.0, 3.0, 3.0, 3.0], [0.0, 0.0, -1.0, 0.0]], 1),
])
def test_amax_amin_wide_ties_match_torch(x, dim):
    for np_f, t_f in [(np.max, torch.amax), (np.min, torch.amin)]:
        g = cr.grad(lambda v: np.sum(np_f(v, axis=dim) * 2.0))(np.array(x))
        tx = torch.tensor(x, requires_grad=True, dtype=torch.float64)
        (t_f(tx, dim=() if dim is None else dim) * 2.0).sum().backward()
        np.testing.assert_allclose(g, tx.grad.numpy())


@needs_torch
@pytest.mark.parametrize("x", [[1.0, 2.0, 2.0, 2.0, 3.0], [2.0, 2.0, 2.0], [3.0, 1, 2, 2, 2, 0, 5]])
def test_median_ties_share_like_torch(x):
    g = cr.grad(np.median)(np.array(x))
    tx = torch.tensor(x, requires_grad=True, dtype=torch.float64)
    torch.median(tx).backward()
    np.testing.assert_allclose(g, tx.grad.numpy())


@needs_torch
@pytest.mark.parametrize("x, q", [
    ([1.0, 2, 2, 2, 3], 0.5), ([2.0, 1, 2, 2, 3, 2], 0.3), ([2.0, 1, 2, 2, 3, 2], 0.5),
    ([2.0, 2, 2], 0.3), ([3.0, 1, 2, 2, 2, 0, 5], 0.3),
])
def test_quantile_ties_follow_stable_sort_like_torch(x, q):
    g = cr.grad(lambda v: np.quantile(v, q))(np.array(x))
    tx = torch.tensor(x, requires_grad=True, dtype=torch.float64)
    torch.quantile(tx, q).backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), atol=1e-12)


def test_median_even_count_splits_the_two_middles():
    g = cr.grad(np.median)(np.array([4.0, 1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.5, 0.5])


def test_median_and_quantile_of_nan_slice_send_gradient_to_the_nan():
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    g = cr.grad(lambda v: np.sum(np.median(v, axis=1)))(x)
    np.testing.assert_array_equal(g, [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    g = cr.grad(lambda v: np.sum(np.quantile(v, 0.25, axis=1)))(x)
    np.testing.assert_array_equal(g, [[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])


# ---------------------------------------------------------------------------------
# cumprod / prod: exact with zeros, any order, long inputs


def _cumprod_brute(x):
    """cumprod written as products of slices: its derivatives are the reference."""
    return np.stack([np.prod(x[: j + 1]) for j in range(len(x))])


@pytest.mark.parametrize("x", [
    [0.0, 2.0, -1.5, 0.5], [1.5, 0.0, 0.0, 2.0, -0.7], [1.2, -0.4, 0.9, 0.0],
    [0.0, 0.0, 0.0], [2.0, 0.5, -1.0, 1.5],
])
def test_cumprod_third_order_at_zeros(x):
    x = np.array(x)
    u = np.random.default_rng(0).standard_normal(len(x))
    s = lambda v: np.sum(u * np.cumprod(v))
    ref = lambda v: np.sum(u * _cumprod_brute(v))
    np.testing.assert_allclose(cr.grad(s)(x), cr.grad(ref)(x), atol=1e-12)
    np.testing.assert_allclose(cr.hessian(s)(x), cr.hessian(ref)(x), atol=1e-12)
    d3 = cr.jacobian(cr.hessian(s))(x)
    d3_fwd = cr.jacfwd(cr.hessian(s))(x)
    np.testing.assert_allclose(d3, cr.jacobian(cr.hessian(ref))(x), atol=1e-12)
    np.testing.assert_allclose(d3_fwd, d3, atol=1e-12)


@pytest.mark.parametrize("x", [[0.0, 2.0, -1.5], [1.5, 0.0, 0.0, 2.0], [2.0, 0.5, -1.0]])
def test_prod_third_order_at_zeros(x):
    x = np.array(x)

    def ref(v):
        out = v[0]
        for i in range(1, len(x)):
            out = out * v[i]
        return out

    for order in (cr.grad, cr.hessian, lambda f: cr.jacobian(cr.hessian(f))):
        np.testing.assert_allclose(order(np.prod)(x), order(ref)(x), atol=1e-12)


def test_long_cumprod_with_zeros_is_exact():
    # 20000 elements: the old rule built O(n^2) terms in Python and could not finish
    rng = np.random.default_rng(1)
    x = rng.uniform(0.99, 1.01, 20000)
    x[[5, 7000, 15000]] = 0.0
    g = rng.standard_normal(x.shape)
    _, vjp = cr.vjp(np.cumprod, x)
    (gx,) = vjp(g)
    # reference: sum_{j>=i} g_j prod_{k<=j, k!=i} x_k, only i <= first zero... computed directly
    ref = np.zeros_like(x)
    for i in [0, 1, 4, 5, 6, 6999, 7000, 7001, 19999]:
        before = np.prod(x[:i])
        after = np.concatenate([[1.0], np.cumprod(x[i + 1:])])
        ref[i] = before * np.sum(g[i:] * after)
        np.testing.assert_allclose(gx[i], ref[i], rtol=1e-10, atol=1e-300)
    _, t = cr.jvp(np.cumprod, (x,), (g,))
    np.testing.assert_allclose(np.sum(t * g), np.sum(gx * g), rtol=1e-10)


@needs_torch
def test_cumprod_with_zeros_matches_torch_on_batches():
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, (4, 9))
    x[rng.uniform(size=x.shape) < 0.3] = 0.0
    u = rng.standard_normal(x.shape)
    g = cr.grad(lambda v: np.sum(u * np.cumprod(v, axis=1)))(x)
    tx = torch.tensor(x, requires_grad=True)
    (torch.tensor(u) * torch.cumprod(tx, 1)).sum().backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_infinite_entries_take_the_exact_path():
    x = np.array([np.inf, 2.0, 3.0])
    with np.errstate(invalid="ignore"):  # inf * 0 in the unused third entry
        g = cr.grad(lambda v: np.cumprod(v)[1])(x)  # d(x0 x1)/dx = (x1, x0, 0)
    np.testing.assert_array_equal(g[:2], [2.0, np.inf])  # (ans/x would give inf/inf = NaN)


# ---------------------------------------------------------------------------------
# kinks: zero gradients where the function has a corner, never NaN


def test_std_and_norm_at_zero_give_zero_not_nan():
    c = np.ones(4)
    assert np.all(cr.grad(np.std)(c) == 0)
    assert np.all(cr.grad(lambda v: np.std(v, ddof=1))(c) == 0)
    z = np.zeros((2, 3))
    N = np.linalg.norm
    for f in (N, lambda v: N(v, axis=1), lambda v: N(v, ord=3, axis=0),
              lambda v: N(v, ord=0.5, axis=1), lambda v: N(v, "fro")):
        s = lambda v, f=f: np.sum(f(v))
        g = cr.grad(s)(z)
        H = cr.hessian(s)(z)
        assert np.all(g == 0) and not np.any(np.isnan(H))


@needs_torch
def test_norm_at_zero_matches_torch():
    z = np.zeros(3)
    tx = torch.tensor(z, requires_grad=True)
    torch.linalg.norm(tx).backward()
    np.testing.assert_array_equal(cr.grad(np.linalg.norm)(z), tx.grad.numpy())


def test_logsumexp_stable_and_no_nan_at_minus_infinity():
    x = np.array([[1000.0, 1001.0], [-np.inf, -np.inf], [-np.inf, 0.5]])
    t = cr.logsumexp(cr.tensor(x), axis=1)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(np.asarray(t.detach()),
                                   [1001.0 + math.log1p(math.exp(-1)), -np.inf, 0.5])
    g = cr.grad(lambda v: np.sum(np.where(np.isfinite(cr.logsumexp(v, axis=1)),
                                          cr.logsumexp(v, axis=1), 0.0)))(x)
    assert not np.any(np.isnan(g))
    np.testing.assert_allclose(g[0], [1 / (1 + math.e), math.e / (1 + math.e)])
    np.testing.assert_array_equal(g[2], [0.0, 1.0])
    sm = cr.softmax(cr.tensor([1000.0, 1000.0]))
    np.testing.assert_array_equal(np.asarray(sm.detach()), [0.5, 0.5])


def test_logsumexp_b_and_return_sign_match_scipy():
    sp = pytest.importorskip("scipy.special")
    a = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, -3.0]])
    b = np.array([1.0, -2.0, 0.5])
    for kw in ({"axis": 1}, {"axis": None}, {"axis": 0, "keepdims": True}):
        r, sgn = cr.logsumexp(cr.tensor(a), b=b, return_sign=True, **kw)
        rr, ss = sp.logsumexp(a, b=b, return_sign=True, **kw)
        np.testing.assert_allclose(np.asarray(r.detach()), rr, rtol=1e-13)
        np.testing.assert_array_equal(sgn, ss)
    # gradient with respect to the weights too
    f = lambda v, w: cr.logsumexp(v, axis=1, b=w)
    a2, b2 = np.abs(a), np.array([1.0, 2.0, 0.5])
    gb = cr.grad(lambda w: np.sum(f(a2, w)))(b2)
    gn = num_grad(lambda w: np.sum(sp.logsumexp(a2, axis=1, b=w)), b2)
    np.testing.assert_allclose(gb, gn, rtol=1e-6)


def test_softmax_functions_exported_everywhere():
    # cr.numpy wraps composite functions to accept lists holding Tensors: the same function
    assert inspect.unwrap(cr.numpy.logsumexp) is cr.logsumexp
    assert inspect.unwrap(cr.numpy.softmax) is cr.softmax
    assert inspect.unwrap(cr.numpy.log_softmax) is cr.log_softmax
    x = np.random.default_rng(0).standard_normal((2, 3))
    sp = pytest.importorskip("scipy.special")
    for name in ("logsumexp", "softmax", "log_softmax"):
        for axis in (None, 0, -1):
            np.testing.assert_allclose(np.asarray(getattr(cr, name)(cr.tensor(x), axis=axis)),
                                       getattr(sp, name)(x, axis=axis), rtol=1e-13)


# ---------------------------------------------------------------------------------
# Bessel i0 / i1


def test_i1_values_against_scipy():
    sp = pytest.importorskip("scipy.special")
    xs = np.concatenate([np.linspace(-40, 40, 4001), np.geomspace(1e-6, 700, 500), [0.0]])
    np.testing.assert_allclose(SP.i1(xs), sp.i1(xs), rtol=5e-15, atol=1e-300)
    for nu in (2, 3, 4):
        ax = np.abs(xs[xs != 0])
        np.testing.assert_allclose(SP.inu_scaled(ax, nu=nu), sp.iv(nu, ax) / ax ** nu,
                                   rtol=5e-15)


def test_i0_derivatives_to_third_order():
    sp = pytest.importorskip("scipy.special")
    xs = np.array([0.0, 0.3, -1.7, 12.0, 30.0, -45.0])
    np.testing.assert_allclose(cr.elementwise_grad(np.i0)(xs), sp.i1(xs), rtol=1e-14)
    d2 = cr.elementwise_grad(cr.elementwise_grad(np.i0))(xs)
    np.testing.assert_allclose(d2, sp.ivp(0, xs, 2), rtol=1e-13)
    d3 = cr.elementwise_grad(cr.elementwise_grad(cr.elementwise_grad(np.i0)))(xs)
    np.testing.assert_allclose(d3, sp.ivp(0, xs, 3), rtol=1e-13, atol=1e-15)
    _, t = cr.jvp(np.i0, (xs,), (np.ones_like(xs),))
    np.testing.assert_allclose(t, sp.i1(xs), rtol=1e-14)


def test_i0_rejects_complex():
    with pytest.raises(TypeError, match="complex"):
        np.i0(cr.tensor([1.0 + 1j]))


# ---------------------------------------------------------------------------------
# NumPy's values, dtypes, signatures and errors


CASES = [
    (np.sum, {}), (np.sum, {"axis": (0, 2), "keepdims": True}), (np.mean, {"axis": -1}),
    (np.prod, {"axis": 1}), (np.var, {"ddof": 1}), (np.std, {"axis": 0}), (np.max, {"axis": 1}),
    (np.amin, {}), (np.ptp, {"axis": 2}), (np.cumsum, {"axis": 1}), (np.cumprod, {}),
    (np.nansum, {"axis": 0}), (np.nanmean, {}), (np.nanmax, {"axis": 1}), (np.nanmin, {}),
    (np.median, {"axis": (1, 2)}), (np.quantile, {"q": [0.2, 0.9], "axis": 0}),
    (np.percentile, {"q": 40, "axis": 1, "keepdims": True}), (np.trace, {}),
    (np.trace, {"offset": 1, "axis1": 1, "axis2": 2}), (np.diff, {"n": 2}),
    (np.trapezoid, {"dx": 0.5, "axis": 0}), (np.linalg.norm, {}),
    (np.linalg.norm, {"axis": (0, 2), "ord": np.inf}), (np.average, {"axis": 1}),
]


@pytest.mark.parametrize("f, kw", CASES, ids=[f"{f.__name__}{kw}" for f, kw in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_and_dtypes_match_numpy(f, kw, dtype):
    x = np.random.default_rng(4).uniform(-2, 2, (3, 4, 5)).astype(dtype)
    x[0, 0, 0] = np.nan if f.__name__.startswith("nan") else x[0, 0, 0]
    want = f(x, **kw)
    got = f(cr.tensor(x), **kw)
    np.testing.assert_array_equal(np.asarray(got.detach()), want)
    assert got.dtype == np.asarray(want).dtype
    g = cr.grad(lambda v: np.nansum(f(v, **kw)))(x)
    assert g.dtype == x.dtype and g.shape == x.shape


def test_methods_and_dispatch_routes():
    x = cr.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    y = x.ptp() + x.cumprod(axis=1).sum() + x[:, :2].trace() + np.multiply.reduce(x, axis=0).sum()
    y.backward()
    ref = cr.grad(lambda v: np.ptp(v) + np.cumprod(v, axis=1).sum() + np.trace(v[:, :2])
                  + np.prod(v, axis=0).sum())(np.arange(1.0, 7.0).reshape(2, 3))
    np.testing.assert_allclose(np.asarray(x.grad), ref)


def test_errors_are_clear():
    t = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="out="):
        np.sum(t, out=np.empty(()))
    with pytest.raises(NotImplementedError, match="gradient with respect to q"):
        np.quantile(t, cr.tensor(0.5, requires_grad=True))
    with pytest.raises(ValueError, match="q must be in the range"):
        np.quantile(t, 1.5)
    with pytest.raises(ValueError, match="initial"):
        np.max(t, where=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="Invalid norm order"):
        np.linalg.norm(t, ord="fro", axis=1)
    with pytest.raises(ValueError, match="Improper number of dimensions"):
        np.linalg.norm(cr.tensor(np.ones((2, 2, 2))), ord=1)
    with pytest.raises(ZeroDivisionError):
        np.average(t, axis=1, weights=np.array([1.0, -1.0, 0.0]))
    with pytest.raises(NotImplementedError, match="weights"):
        np.quantile(t, 0.5, method="inverted_cdf", weights=np.ones((2, 3)))


def test_nuclear_and_spectral_norms():
    from chainrule.core.registry import NAMES

    x = np.random.default_rng(6).standard_normal((3, 4))
    if "linalg.svd" not in NAMES and "linalg.svdvals" not in NAMES:
        with pytest.raises(NotImplementedError, match="svd"):
            np.linalg.norm(cr.tensor(x), "nuc")
        return
    for o in ("nuc", 2, -2):
        np.testing.assert_allclose(np.asarray(np.linalg.norm(cr.tensor(x), o).detach()),
                                   np.linalg.norm(x, o), rtol=1e-12)
        check_both_modes(lambda v, o=o: np.linalg.norm(v, o), x)


def test_average_weights_gradient_and_returned():
    x = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    w = np.array([0.5, 1.0, 2.0])
    avg, scl = np.average(cr.tensor(x), axis=1, weights=cr.tensor(w), returned=True)
    a2, s2 = np.average(x, axis=1, weights=w, returned=True)
    np.testing.assert_allclose(np.asarray(avg.detach()), a2)
    np.testing.assert_allclose(np.asarray(scl.detach()), s2)
    f = lambda v: np.sum(np.average(x, axis=1, weights=v) ** 2)
    np.testing.assert_allclose(cr.grad(f)(w), num_grad(f, w), rtol=1e-6)


_SMALL_INTS = np.array([[200, 100, 7], [1, 2, 3]], dtype=np.uint8)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "cumsum", "cumprod", "nansum",
                                  "nanprod", "nanmean", "nancumsum", "nancumprod", "var",
                                  "std", "nanvar", "nanstd"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.bool_, np.float32, np.complex128,
                                   None])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reduction_dtype_is_numpys(name, dtype, axis):
    # dtype= picks the dtype NumPy computes and returns in: uint8 products wrap, an integer
    # mean truncates, small integers are not widened, a complex var is complex
    f = getattr(np, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = f(_SMALL_INTS, axis=axis, dtype=dtype)
        except (TypeError, ValueError):
            return
        got = f(cr.tensor(_SMALL_INTS), axis=axis, dtype=dtype)
    got = np.asarray(got._value if isinstance(got, cr.Tensor) else got)
    assert got.dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got.astype(complex), np.asarray(want).astype(complex),
                               rtol=1e-6)
