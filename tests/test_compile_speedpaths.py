"""cr.compile's faster spellings of the same NumPy calls: each gives eager's bits.

The emitter writes some calls more cheaply (a whole-array sum of one number as ``x[0] +
0.0``, ``t.sum(axis)`` as ``np.add.reduce``, ``2 * x`` as ``2.0 * x`` next to a float array,
the ReLU tie check as one ``count_nonzero``), and the call path skips the full signature
for plain arrays.  Every test here compares bytes (so -0.0, NaN and the dtype count) and
checks that the fast spelling is the one in the emitted source.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def _bits(v: object) -> tuple:
    a = np.asarray(v)
    return type(v), a.dtype, a.shape, a.tobytes()


def _same(a: object, b: object) -> None:
    la = a if isinstance(a, (tuple, list)) else [a]
    lb = b if isinstance(b, (tuple, list)) else [b]
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        if isinstance(x, (tuple, list)):
            _same(x, y)
        else:
            assert _bits(x) == _bits(y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("v", [-0.0, 0.0, 1.5, -2.25e-310, np.inf, np.nan])
def test_sum_of_one_number_is_eager_bits(dtype: type, v: float) -> None:
    def f(x):
        return np.sum(x * x.dtype.type(1)) * 1.0, (-x).sum()

    fast = cr.compile(f)
    x = np.array([[v]], dtype=dtype)
    fast(x)  # traced
    assert "[0, 0] + 0.0" in fast.source(x)
    for w in (v, -0.0, 3.0, np.nan):
        x = np.array([[w]], dtype=dtype)
        _same(fast(x), f(x))
    assert fast.cache_info()["traces"] == 1


def test_sum_with_axis_is_add_reduce_with_eager_bits() -> None:
    def f(x):
        return (x.sum(axis=1, keepdims=True), np.sum(x, axis=0), x.sum(),
                np.sum(x, dtype=np.float64), x.sum(1))

    r = np.random.default_rng(0)
    x = r.standard_normal((5, 7)).astype(np.float32)
    fast = cr.compile(f)
    fast(x)
    assert "np.add.reduce" in fast.source(x)
    for _ in range(3):
        x = r.standard_normal((5, 7)).astype(np.float32) * 1e3
        _same(fast(x), f(x))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
def test_int_scalars_next_to_arrays_are_eager_bits(dtype: type) -> None:
    def f(x):
        return 2 * x, np.maximum(0, x), x < 0, 3 - x, x / 2, np.minimum(x, -1), x == 0

    r = np.random.default_rng(1)
    x = (r.standard_normal(6) * 4).astype(dtype)
    fast = cr.compile(f)
    fast(x)
    src = fast.source(x)
    if np.dtype(dtype).kind == "f":
        assert "2.0 * x" in src and "np.maximum(0.0, x)" in src
    else:  # an int array keeps its int literals (2.0 would make the product float)
        assert "2 * x" in src and "np.maximum(0, x)" in src
    for _ in range(3):
        x = (r.standard_normal(6) * 4).astype(dtype)
        if np.dtype(dtype).kind == "f":
            x[0] = -0.0
        _same(fast(x), f(x))


def _relu_loss(w, x):
    return np.sum(np.maximum(0, w * x) ** 2) * 0.5


def test_relu_tie_check_is_one_count_and_still_retraces() -> None:
    vg = cr.value_and_grad(_relu_loss)
    fast = cr.compile(vg)
    x = np.array([1.0, -2.0, 3.0])
    w = np.array([0.5, 0.25, -1.0])
    _same(fast(w, x), vg(w, x))
    src = fast.source(w, x)
    assert "count_nonzero" in src and ".any()" not in src
    assert fast.cache_info()["traces"] == 1
    for w2 in (np.array([0.0, 1.0, 2.0]), np.array([-0.0, 1.0, 2.0])):  # ties: w * x == 0
        _same(fast(w2, x), vg(w2, x))
    assert fast.cache_info()["traces"] == 2  # the tie traced again (once: then it is known)
    # NaN is no tie: it runs the first trace's code, with eager's values
    w3 = np.array([np.nan, 1.0, 2.0])
    hits = fast.cache_info()["hits"]
    _same(fast(w3, x), vg(w3, x))
    assert fast.cache_info()["hits"] == hits + 1
    assert fast.cache_info()["traces"] == 2


def test_seed_network_equals_eager_bits() -> None:
    x = np.array([[1.0], [2.0]])
    y = np.array([[0.5]])

    def loss(w1, b1, w2, b2):
        z1 = w1 @ x + b1
        a1 = np.maximum(0, z1)
        z2 = w2 @ a1 + b2
        return 0.5 * np.sum((z2 - y) ** 2)

    vg = cr.value_and_grad(loss, argnums=(0, 1, 2, 3))
    fast = cr.compile(vg)
    r = np.random.default_rng(1)
    ps = [r.standard_normal(s) for s in ((3, 2), (3, 1), (1, 3), (1, 1))]
    _same(fast(*ps), vg(*ps))
    for _ in range(5):
        ps = [r.standard_normal(s) for s in ((3, 2), (3, 1), (1, 3), (1, 1))]
        _same(fast(*ps), vg(*ps))
    assert fast.cache_info()["traces"] == 1
    ps[0][0] = [-2.0, 0.0]  # z1[0] = b1[0] - 2: a tie at z1 == 0 when b1[0] == 2
    ps[1][0, 0] = 2.0
    _same(fast(*ps), vg(*ps))
    assert fast.cache_info()["traces"] == 2


# --- the call path for plain arrays ------------------------------------------------------

SCALE = np.array([2.0, 3.0])


def test_fast_path_sees_a_changed_global_and_closure() -> None:
    c = np.array([1.0, -1.0])

    def f(x):
        return x * SCALE + c

    fast = cr.compile(f)
    x = np.array([0.5, 0.25])
    for _ in range(3):  # the last two run the fast path
        _same(fast(x), f(x))
    assert fast.cache_info() == {"signatures": 1, "traces": 1, "hits": 2, "eager": 0}
    c[0] = 3.0  # written in place: the user's array stays writable; the change retraces
    _same(fast(x), f(x))
    assert fast.cache_info()["traces"] == 2
    c = np.array([4.0, 4.0])  # the closure's name rebound
    _same(fast(x), f(x))
    assert fast.cache_info()["traces"] == 3
    global SCALE
    saved = SCALE
    try:
        SCALE = np.array([-5.0, 0.5])  # the module global rebound
        _same(fast(x), f(x))
        assert fast.cache_info()["traces"] == 4
    finally:
        SCALE = saved
    _same(fast(x), f(x))
    assert fast.cache_info()["traces"] == 5


def test_fast_path_checks_shape_dtype_class_and_grad_mode() -> None:
    def f(x):
        return np.tanh(x) * 2

    fast = cr.compile(f)
    x = np.linspace(-1, 1, 4)
    fast(x)
    fast(x)
    _same(fast(x.astype(np.float32)), f(x.astype(np.float32)))
    _same(fast(x[:3]), f(x[:3]))
    _same(fast(x.reshape(2, 2)), f(x.reshape(2, 2)))
    assert fast.cache_info()["traces"] == 4
    t = cr.tensor(x, requires_grad=True)
    out = fast(t)  # a Tensor of the hot signature's shape: one recorded operation
    assert isinstance(out, cr.Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(np.asarray(t.grad), 2 * (1 - np.tanh(x) ** 2))
    with cr.no_grad():
        _same(fast(x), f(x))
    assert fast.cache_info()["traces"] == 6


def test_fast_path_guard_fails_and_retraces() -> None:
    def f(x):
        if x.sum() > 0:
            return x * 2
        return x - 1

    fast = cr.compile(f)
    pos, neg = np.array([1.0, 2.0]), np.array([-1.0, -2.0])
    _same(fast(pos), f(pos))
    _same(fast(pos), f(pos))
    _same(fast(neg), f(neg))  # the hot code's guard fails: traced the other way
    assert fast.cache_info()["traces"] == 2
    _same(fast(pos), f(pos))
    _same(fast(neg), f(neg))
    assert fast.cache_info()["traces"] == 2


def test_compiled_inside_compiled_is_traced_inline() -> None:
    inner = cr.compile(lambda x: np.sin(x) * 3)
    x = np.array([0.1, 0.2])
    inner(x)
    inner(x)  # hot
    outer = cr.compile(lambda x: inner(x) + 1)
    _same(outer(x), np.sin(x) * 3 + 1)
    assert "np.sin" in outer.source(x)
    assert inner.cache_info()["hits"] == 1  # not run as compiled code inside the trace


# --- the backward of 0.5 * sum(t ** 2) -------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_half_square_grad_folds_where_exact_and_not_on_overflow(dtype: type) -> None:
    def loss(p, y):
        return 0.5 * np.sum((p - y) ** 2)

    vg = cr.value_and_grad(loss)
    fast = cr.compile(vg)
    y = np.array([0.5, -1.0, 0.0], dtype)
    p = np.array([1.0, 2.0, -3.0], dtype)
    _same(fast(p, y), vg(p, y))
    src = fast.source(p, y)
    assert " if " in src and " < inf else " in src
    big = np.finfo(dtype).max
    cases = [np.array([big, 1.0, 0.0], dtype),        # 2 * t overflows: eager's inf
             np.array([big / 3, -big / 2, 1.0], dtype),  # the loss overflows, 2 * t does not
             np.array([-0.0, 5e-324 if dtype == np.float64 else 1e-45, 1.0], dtype),
             np.array([np.nan, 1.0, np.inf], dtype),
             np.array([0.5, -1.0, 0.0], dtype) * -1]
    with np.errstate(over="ignore", invalid="ignore"):
        for p in cases:
            _same(fast(p, y * 0), vg(p, y * 0))
        g = fast(cases[0], y * 0)[1]
    assert np.isinf(g[0])  # 0.5 * (2 * max) as eager computes it, not max
    assert fast.cache_info()["traces"] == 1


def test_half_square_fold_needs_the_exact_pattern() -> None:
    def loss(p):  # 0.25: the gradient is 0.25 * (2 * p), not p
        return 0.25 * np.sum(p ** 2)

    vg = cr.value_and_grad(loss)
    fast = cr.compile(vg)
    p = np.array([1.0, 3.0])
    _same(fast(p), vg(p))
    assert " < inf else " not in fast.source(p)


def test_where_scalar_as_python_float_keeps_dtype() -> None:
    def f(x):
        return np.where(x < 0, np.float32(0.0), x), np.where(x > 1, x, np.float32(-0.0))

    fast = cr.compile(f)
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    fast(x)
    assert "np.where(" in fast.source(x) and "0.0, x)" in fast.source(x)
    for x in (np.array([-1.0, 0.5, 2.0], np.float32), np.array([3.0, -0.0, np.nan], np.float32)):
        _same(fast(x), f(x))


def test_large_relu_tie_check_counts_the_comparison() -> None:
    vg = cr.value_and_grad(_relu_loss)
    fast = cr.compile(vg)
    r = np.random.default_rng(3)
    w, x = r.standard_normal(5000), r.standard_normal(5000)
    _same(fast(w, x), vg(w, x))
    src = fast.source(w, x)
    assert "count_nonzero(" in src and "== 0.0" in src and "!= 0: _retrace" in src
    w[17] = 0.0
    _same(fast(w, x), vg(w, x))
    assert fast.cache_info()["traces"] == 2


def test_alternating_signatures_stay_correct_and_compiled() -> None:
    f = cr.compile(lambda x: np.cos(x) + x.sum())
    xs = [np.linspace(0, 1, 3), np.linspace(0, 1, 4), np.linspace(0, 1, 3).astype(np.float32)]
    for _ in range(4):
        for x in xs:
            _same(f(x), np.cos(x) + x.sum())
    assert f.cache_info() == {"signatures": 3, "traces": 3, "hits": 9, "eager": 0}
    assert len(f._hots) == 3  # one fast path per signature, made once
    f.clear_cache()
    _same(f(xs[0]), np.cos(xs[0]) + xs[0].sum())
    assert f.cache_info()["traces"] == 4  # traced again: the fast paths went with the cache


# --- the backward of x[rows, labels]: zeros and a scatter --------------------------------------

def _ce(rows):
    def loss(z, labels):
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.mean(logp[rows, labels])
    return loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_of_distinct_rows_is_an_assignment_with_eager_bits(dtype: type) -> None:
    vg = cr.value_and_grad(_ce(np.arange(6)))
    fast = cr.compile(vg)
    r = np.random.default_rng(4)
    z = r.standard_normal((6, 4)).astype(dtype)
    labels = r.integers(0, 4, 6)
    _same(fast(z, labels), vg(z, labels))
    src = fast.source(z, labels)
    assert "np.add.at" not in src and "] = " in src and "np.zeros((6, 4)" in src
    for labels in (np.array([0, 0, 0, 0, 0, 0]), np.array([3, -1, 2, -4, 0, 1]),
                   r.integers(0, 4, 6)):
        z = r.standard_normal((6, 4)).astype(dtype)
        _same(fast(z, labels), vg(z, labels))
    with pytest.raises(IndexError):
        fast(z, np.array([0, 1, 2, 3, 4, 5]))
    assert fast.cache_info()["traces"] == 1


def test_scatter_with_repeated_rows_keeps_add_at() -> None:
    vg = cr.value_and_grad(_ce(np.array([0, 1, 1, -3, 2, 5])))  # row 1 twice, -3 is row 3
    fast = cr.compile(vg)
    r = np.random.default_rng(5)
    z = r.standard_normal((6, 4))
    labels = np.array([1, 2, 2, 0, 3, 3])
    _same(fast(z, labels), vg(z, labels))
    assert "np.add.at" in fast.source(z, labels)
    labels = np.array([1, 2, 1, 0, 3, 3])
    _same(fast(z, labels), vg(z, labels))


def test_zeros_like_is_np_zeros_with_the_same_layout() -> None:
    def f(x):
        return (np.zeros_like(x, shape=(3, 2), dtype=np.float32, order="C") + x[0, 0],
                np.zeros_like(x) - x, np.zeros_like(x.T) + 1.0)

    fast = cr.compile(f)
    x = np.arange(6.0).reshape(2, 3)
    fast(x)
    src = fast.source(x)
    assert "np.zeros((3, 2), np.float32)" in src and "np.zeros((2, 3), np.float64)" in src
    assert "zeros_like(" in src  # x.T is not C-contiguous: kept
    x = np.arange(6.0).reshape(2, 3) - 7
    got, want = fast(x), f(x)
    _same(got, want)
    for g, w in zip(got, want):
        assert g.flags.c_contiguous == w.flags.c_contiguous
        assert g.flags.f_contiguous == w.flags.f_contiguous


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_backward_without_ties_or_nan_is_eager_bits(dtype: type) -> None:
    vg = cr.value_and_grad(_ce(np.arange(5)))
    fast = cr.compile(vg)
    r = np.random.default_rng(6)
    z = r.standard_normal((5, 4)).astype(dtype)
    labels = np.array([0, 1, 2, 3, 0])
    _same(fast(z, labels), vg(z, labels))
    src = fast.source(z, labels)
    assert "if count_nonzero(" in src and ".sum(axis=(1,), keepdims=True)" in src
    tie = z.copy()
    tie[0] = [2.0, 2.0, 0.5, -1.0]  # two maxima in a row: the cotangent shared
    tie[3] = [1.0, 1.0, 1.0, 1.0]
    nan = z.copy()
    nan[2, 1] = np.nan
    inf = z.copy()
    inf[1] = [np.inf, 0.0, np.inf, -np.inf]
    with np.errstate(invalid="ignore"):
        for zz in (tie, nan, inf, z * 3):
            _same(fast(zz, labels), vg(zz, labels))
        assert np.isnan(fast(nan, labels)[0])
    # (a test of the shared gradient itself: differs from the no-tie formula)
    g_tie = fast(tie, labels)[1]
    assert g_tie.shape == z.shape
    assert fast.cache_info()["traces"] == 1


def test_del_only_for_values_of_a_kilobyte_or_more() -> None:
    def f(x, y):
        a = np.sin(x)
        b = np.cos(y)
        return a * 2 + b.sum()

    fast = cr.compile(f)
    small = fast.source(np.ones(8), np.ones(8))  # 64 bytes each: freed at the return
    assert "del " not in small
    big = fast.source(np.ones(1000), np.ones(8))  # 8000 bytes: dropped at its last use
    assert "del a" in big or "del x" in big
    _same(fast(np.ones(1000) * 0.3, np.ones(8)), f(np.ones(1000) * 0.3, np.ones(8)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_of_one_square_is_scalar_arithmetic_with_eager_bits(dtype: type) -> None:
    def f(x):
        return np.sum(x ** 2), np.sum(np.square(x - 1)), np.sum(x * x) * 0.5

    fast = cr.compile(f)
    x = np.array([[1.5]], dtype)
    _same(fast(x), f(x))
    code = [ln.split("#")[0] for ln in fast.source(x).splitlines()]
    assert not any("np.square" in ln or "**" in ln for ln in code)
    assert any(ln.strip() == "t2 = t1 * t1" for ln in code)
    big = np.finfo(dtype).max
    tiny = np.finfo(dtype).smallest_subnormal
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for v in (-0.0, 0.0, 3.0, -7.25, big, -big, tiny, 1e-30, np.nan, -np.inf, 1 / 3):
            x = np.array([[v]], dtype)
            _same(fast(x), f(x))
    assert fast.cache_info()["traces"] == 1


def test_fast_path_with_an_emptied_closure_cell_is_not_an_error() -> None:
    def make():
        def f(x):
            return x * c  # noqa: F821 (deleted below, on purpose)

        c = np.array([2.0, 3.0])
        fast = cr.compile(f)
        x = np.array([1.0, 1.0])
        fast(x)
        fast(x)
        del c  # the cell is empty: the general path runs f, which raises NameError
        return fast, x

    fast, x = make()
    with pytest.raises(NameError):
        fast(x)


# --- compiled modules: the cheap key -------------------------------------------------------------

def test_module_fast_key_tells_inputs_apart() -> None:
    nn = cr.nn
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    cm = cr.compile(model)
    x = np.random.default_rng(7).standard_normal((5, 3))
    for xx in (x, x, x.astype(np.float32), x[:2], cr.tensor(x), cr.tensor(x, requires_grad=True)):
        got, want = cm(xx), model(xx)
        np.testing.assert_array_equal(np.asarray(got._value), np.asarray(want._value))
        assert got.dtype == want.dtype
    traces = cm.cache_info()["traces"]
    for xx in (x, x.astype(np.float32), x[:2], cr.tensor(x), cr.tensor(x, requires_grad=True)):
        cm(xx)
    assert cm.cache_info()["traces"] == traces  # each one found its own code again
    model.eval()  # a training flag: a new signature
    np.testing.assert_array_equal(np.asarray(cm(x)._value), np.asarray(model(x)._value))
    assert cm.cache_info()["traces"] == traces + 1
    with cr.no_grad():  # grad mode: a new signature (no recorded operation)
        out = cm(x)
    assert out._node is None
    np.testing.assert_array_equal(np.asarray(out._value), np.asarray(model(x)._value))
