"""cr.compile: values, caching, guards, refusals, composition with the engine, nn modules."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

R = np.random.default_rng(1)
W1, B1, W2, B2 = (R.standard_normal((3, 2)), R.standard_normal((3, 1)),
                  R.standard_normal((1, 3)), R.standard_normal((1, 1)))
X = np.array([[1.0], [2.0]])
Y = np.array([[0.5]])


def seed_loss(w1, b1, w2, b2):
    z1 = w1 @ X + b1
    a1 = np.maximum(0, z1)
    z2 = w2 @ a1 + b2
    return 0.5 * np.sum((z2 - Y) ** 2)


def test_seed_network_value_and_grad_is_bit_identical_and_readable() -> None:
    vg = cr.value_and_grad(seed_loss, argnums=(0, 1, 2, 3))
    fast = cr.compile(vg)
    for _ in range(2):
        want, got = vg(W1, B1, W2, B2), fast(W1, B1, W2, B2)
        assert type(got[0]) is type(want[0]) and got[0] == want[0]
        for g, e in zip(got[1], want[1]):
            assert g.dtype == e.dtype and np.array_equal(g, e)
    src = fast.source(W1, B1, W2, B2)
    assert src.startswith("def value_and_grad_seed_loss(w1, b1, w2, b2):")
    assert "t1 = w1 @ X" in src and "z1 = t1 + b1" in src and "t7 = a1.T" in src
    assert "a1 = np.maximum(0.0, z1)" in src  # (the int literal next to a float array)
    assert "d_b2 = t3 if t5 < inf else c2 * (2 * t3)" in src  # 0.5 * (2 * t3), exactly
    assert "count_nonzero(z1)" in src and ".any()" not in src  # the tie check
    assert "#   X: a constant float64 array of shape (2, 1) = [1., 2.]" in src
    assert src.rstrip().endswith("return value, (d_w1, d_b1, d_w2, d_b2)")
    assert "# backward of maximum" in src and "# backward of matmul" in src
    assert "del " not in src  # values under 1 KiB are freed at the return, not one by one
    assert fast.cache_info() == {"signatures": 1, "traces": 1, "hits": 1, "eager": 0}


def test_new_values_same_signature_are_not_stale() -> None:
    f = cr.compile(lambda x, y: np.tanh(x) * y + np.exp(-x).sum())
    for s in range(4):
        r = np.random.default_rng(s)
        x, y = r.standard_normal(5), r.standard_normal(5)
        np.testing.assert_array_equal(f(x, y), np.tanh(x) * y + np.exp(-x).sum())
    assert f.cache_info()["traces"] == 1


def test_retrace_on_shape_dtype_and_structure() -> None:
    f = cr.compile(lambda x: (x * 2).sum(axis=0))
    f(np.ones((2, 3)))
    f(np.ones((2, 3)))
    f(np.ones((4, 3)))
    r = f(np.ones((4, 3), np.float32))
    assert r.dtype == np.float32
    assert f.cache_info()["signatures"] == 3


def test_static_argnums_key_the_cache() -> None:
    @cr.compile(static_argnums=(1,))
    def f(x, n):
        for _ in range(n):
            x = np.sin(x)
        return x

    x = np.array([0.5, 1.0])
    for n in (1, 3, 1):
        want = x
        for _ in range(n):
            want = np.sin(want)
        np.testing.assert_array_equal(f(x, n), want)
    assert f.cache_info()["signatures"] == 2


def test_branch_on_a_traced_value_is_a_guard() -> None:
    @cr.compile
    def f(x):
        if (x > 0).all():
            return x * 2
        return -x

    a, b = np.array([1.0, 2.0]), np.array([1.0, -2.0])
    np.testing.assert_array_equal(f(a), a * 2)
    np.testing.assert_array_equal(f(b), -b)
    np.testing.assert_array_equal(f(a), a * 2)
    assert "_retrace(" in f.source(a)
    assert f.cache_info()["traces"] == 2


def test_float_of_a_traced_value_guards_and_falls_back_to_eager() -> None:
    f = cr.compile(lambda x: x * float(x.sum()), max_traces=3)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for s in range(6):
            x = np.full(3, float(s))
            np.testing.assert_array_equal(f(x), x * float(x.sum()))
    assert any("running it eagerly" in str(m.message) for m in w)
    assert f.cache_info()["eager"] == 1


def test_random_numbers_inside_are_refused() -> None:
    with pytest.raises(cr.CompileError, match="random"):
        cr.compile(lambda x: x + np.random.rand(*x.shape))(np.ones(3))
    gen = np.random.default_rng(0)
    with pytest.raises(cr.CompileError, match="Generator"):
        cr.compile(lambda x: x + gen.standard_normal(x.shape))(np.ones(3))


def test_a_captured_tensor_that_requires_grad_is_refused() -> None:
    w = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(cr.CompileError, match="requires grad"):
        cr.compile(lambda x: x * w)(np.ones(2))
    with pytest.raises(cr.CompileError, match="requires grad"):
        cr.compile(lambda x: x * w)(cr.tensor(np.ones(2), requires_grad=True))


def test_leaving_numpy_is_refused_with_the_line() -> None:
    def f(x):
        return np.asarray(x) + 1  # np.asarray of a traced array

    with pytest.raises(cr.CompileError, match="np.asarray"):
        cr.compile(f)(np.ones(2))


def test_a_captured_array_changed_in_place_traces_again() -> None:
    w = np.array([1.0, 2.0])
    f = cr.compile(lambda x: x * np.exp(w))
    x = np.array([3.0, 4.0])
    np.testing.assert_array_equal(f(x), x * np.exp(w))
    w[0] = 5.0
    np.testing.assert_array_equal(f(x), x * np.exp(w))
    assert f.cache_info()["traces"] == 2


def test_output_structure_and_constants() -> None:
    f = cr.compile(lambda x: {"a": x + 1, "b": (x.sum(), 3, "s"), "c": np.zeros(2)})
    f(np.ones(2))
    out2 = f(np.ones(2))
    assert set(out2) == {"a", "b", "c"} and out2["b"][1:] == (3, "s")
    np.testing.assert_array_equal(out2["a"], [2.0, 2.0])
    out2["c"][0] = 7.0  # a fresh array each call: writing into it changes nothing later
    assert f(np.ones(2))["c"][0] == 0.0


def test_compiled_function_on_tensors_is_one_recorded_op() -> None:
    f = cr.compile(lambda x, y: np.sum(np.tanh(x @ y) ** 2))
    x0, y0 = R.standard_normal((3, 4)), R.standard_normal((4, 2))
    for _ in range(2):
        xt, yt = cr.tensor(x0, requires_grad=True), cr.tensor(y0, requires_grad=True)
        out = f(xt, yt)
        assert out.grad_fn.startswith("compiled")
        (out * 3).backward()
        xe, ye = cr.tensor(x0, requires_grad=True), cr.tensor(y0, requires_grad=True)
        (np.sum(np.tanh(xe @ ye) ** 2) * 3).backward()
        np.testing.assert_allclose(xt.grad._value, xe.grad._value, rtol=1e-13)
        np.testing.assert_allclose(yt.grad._value, ye.grad._value, rtol=1e-13)
    assert "def compiled_lambda_backward" in f.source(xt, yt)


def test_higher_derivatives_through_compiled_code_are_exact() -> None:
    f = cr.compile(lambda x: np.sum(np.sin(x) ** 3))
    g = lambda x: np.sum(np.sin(x) ** 3)  # noqa: E731
    x = np.array([0.3, 1.1, -0.7])
    np.testing.assert_allclose(cr.grad(f)(x), cr.grad(g)(x), rtol=1e-13)
    np.testing.assert_allclose(cr.hessian(f)(x), cr.hessian(g)(x), rtol=1e-12)
    np.testing.assert_allclose(cr.grad(lambda x: np.sum(cr.grad(f)(x) ** 2))(x),
                               cr.grad(lambda x: np.sum(cr.grad(g)(x) ** 2))(x), rtol=1e-12)


def _mlp(seed: int = 0, bn: bool = False, drop: float = 0.0) -> nn.Module:
    cr.manual_seed(seed)
    layers = [nn.Linear(20, 32)]
    if bn:
        layers.append(nn.BatchNorm1d(32))
    layers += [nn.ReLU()]
    if drop:
        layers.append(nn.Dropout(drop))
    layers += [nn.Linear(32, 5)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("bn,drop", [(False, 0.0), (True, 0.0), (False, 0.3)])
def test_compiled_module_trains_bit_identically(bn: bool, drop: float) -> None:
    r = np.random.default_rng(0)
    x = r.standard_normal((16, 20)).astype(np.float32)
    y = r.integers(0, 5, 16)
    runs = []
    for compiled in (False, True):
        model = _mlp(0, bn, drop)
        run = cr.compile(model) if compiled else model
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)
        cr.manual_seed(7)
        losses = []
        for _ in range(4):
            opt.zero_grad()
            loss = nn.CrossEntropyLoss()(run(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        ev = run(x)._value.copy()
        runs.append((losses, [p._value.copy() for p in model.parameters()],
                     [b._value.copy() for b in model.buffers()], ev))
        if compiled:
            assert run.cache_info()["traces"] == 2  # train and eval
    (l0, p0, b0, e0), (l1, p1, b1, e1) = runs
    assert l0 == l1
    for a, b in zip(p0 + b0, p1 + b1):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(e0, e1)


def test_compiled_module_sees_every_change_to_where_its_state_lives() -> None:
    # the compiled module caches where its parameters live; every way of moving them must
    # reach the emitted code (never the old weights, silently)
    r = np.random.default_rng(4)
    x = r.standard_normal((3, 4))
    model = nn.Sequential(nn.Linear(4, 5, dtype=np.float64), nn.Tanh(),
                          nn.Linear(5, 2, dtype=np.float64))
    run = cr.compile(model)

    def agree() -> None:
        for _ in range(2):  # the first call after a change learns, the second runs fast
            np.testing.assert_array_equal(run(x)._value, model(x)._value)

    agree()
    with cr.no_grad():
        model[0].weight *= 2.0  # in place: the same object, new values
    agree()
    model[0].weight = nn.Parameter(r.standard_normal((5, 4)))  # a new parameter object
    agree()
    model[2] = nn.Linear(5, 3, dtype=np.float64)  # a new submodule, another output shape
    assert run(x).shape == (3, 3)
    agree()
    model[0].bias = None  # a parameter removed
    agree()
    model[2]._parameters["bias"] = nn.Parameter(np.ones(3))  # the dict itself written
    agree()
    model.eval()
    agree()
    # gradients reach the current parameters
    out = run(x)
    out.sum().backward()
    g = model[0].weight.grad._value.copy()
    model[0].weight.grad = None
    model(x).sum().backward()
    np.testing.assert_array_equal(g, model[0].weight.grad._value)


def test_fit_compile_gives_the_same_history() -> None:
    r = np.random.default_rng(0)
    x = r.standard_normal((64, 20)).astype(np.float32)
    y = r.integers(0, 5, 64)
    hist = []
    for c in (False, True):
        model = _mlp(3)
        loader = cr.data.DataLoader(cr.data.TensorDataset(x, y), batch_size=16)
        h = cr.fit(model, nn.CrossEntropyLoss(), cr.optim.SGD(model.parameters(), lr=0.1),
                   loader, epochs=2, val=(x, y), verbose=0, compile=c)
        hist.append(h)
    assert hist[0].history == hist[1].history
    assert set(hist[0].history) == {"loss", "val_loss"}


def test_deep_network_peak_memory_close_to_eager() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(128, 128), nn.Tanh())])
    x = np.random.default_rng(0).standard_normal((256, 128)).astype(np.float32)
    cm = cr.compile(model)

    def step(m):
        for p in model.parameters():
            p.grad = None
        np.sum(m(x) ** 2).backward()

    step(cm)  # trace
    peaks = {}
    for name, m in (("eager", model), ("compiled", cm)):
        step(m)
        tracemalloc.start()
        step(m)
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks["compiled"] <= 1.2 * peaks["eager"], peaks


OPS1 = [np.sin, np.cos, np.tanh, np.exp, lambda a: a * a, lambda a: a * 0.5 + 1.0,
        lambda a: np.maximum(a, 0.1), np.abs, lambda a: a.T.T, lambda a: a[::-1],
        lambda a: np.cumsum(a, axis=-1), lambda a: a / (1.0 + a * a)]
OPS2 = [np.add, np.subtract, np.multiply, lambda a, b: a * np.sin(b),
        lambda a, b: np.where(a > b, a, b * 2.0), np.hypot]


@pytest.mark.parametrize("seed", range(40))
def test_fuzzed_programs_compile_to_eager_values_and_gradients(seed: int) -> None:
    r = np.random.default_rng(seed)
    prog = []
    for _ in range(int(r.integers(3, 9))):
        if r.random() < 0.6:
            prog.append((1, int(r.integers(len(OPS1))), int(r.integers(3))))
        else:
            prog.append((2, int(r.integers(len(OPS2))), int(r.integers(3)),
                         int(r.integers(3))))

    def f(x, y, z):
        vals = [x, y, z]
        for step in prog:
            if step[0] == 1:
                vals.append(OPS1[step[1]](vals[-1 - step[2]]))
            else:
                vals.append(OPS2[step[1]](vals[-1 - step[2]], vals[-1 - step[3]]))
        return np.sum(vals[-1] * vals[-2]) + np.mean(vals[-3])

    vg = cr.value_and_grad(f, argnums=(0, 1, 2))
    fast = cr.compile(vg)
    for s in range(3):
        q = np.random.default_rng(100 + s)
        a = [q.standard_normal((2, 3)) for _ in range(3)]
        want, got = vg(*a), fast(*a)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
        for g, e in zip(got[1], want[1]):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(cr.compile(f)(*a), f(*a))


def test_writes_into_plain_arrays_are_refused_not_baked_in() -> None:
    # np.add(acc, x, out=acc) / np.add.at(acc, ...) / np.copyto(acc, x) into an array the
    # function made: the array's later readers would not be recorded
    def out_kw(x):
        acc = np.zeros(3)
        np.add(acc, x, out=acc)
        return acc.sum()

    def at(x):
        acc = np.zeros(3)
        np.add.at(acc, [0, 0], x[:2])
        return acc * 2

    def copyto(x):
        acc = np.zeros(3)
        np.copyto(acc, x)
        return acc

    for f, what in ((out_kw, r"np.add\(\.\.\., out=a\)"), (at, r"np.add.at"),
                    (copyto, r"np.copyto")):
        with pytest.raises(cr.CompileError, match=what + ".*plain NumPy array"):
            cr.compile(f)(np.ones(3))


def test_numpy_writers_into_traced_arrays_are_recorded() -> None:
    def f(x):
        y = x * 1.0
        np.copyto(y, x * 2)
        np.put(y, [0], x[1:2] * 5)
        np.fill_diagonal(y.reshape(1, 3), 7.0)
        np.putmask(y, y > 6.5, x)
        return y + 1

    fast = cr.compile(f)
    for x in (np.ones(3), np.array([2.0, 3.0, 4.0])):
        np.testing.assert_array_equal(fast(x), f(x))
    assert "np.copyto(y" in fast.source(np.ones(3))


def test_an_argument_the_output_does_not_use_gets_no_gradient_as_eagerly() -> None:
    fast = cr.compile(lambda a, b: a * 2.0)
    for _ in range(2):
        a, b = cr.tensor(np.ones(3), requires_grad=True), cr.tensor(np.ones(2), requires_grad=True)
        np.sum(fast(a, b)).backward()
        assert b.grad is None
        np.testing.assert_array_equal(a.grad._value, np.full(3, 2.0))


def test_small_arrays_are_not_updated_in_place_and_complex_products_keep_their_order() -> None:
    # a += b is slower than a = a + b below about a thousand elements; and for complex
    # arrays b * a is not bitwise a * b (NumPy's loops use FMA)
    small = cr.compile(lambda x: (x * 2.0) + x)
    assert "+=" not in small.source(np.ones(4))
    big = cr.compile(lambda x: (x * 2.0) + x)
    assert "+=" in big.source(np.ones(4096))
    rng = np.random.default_rng(3)
    c = rng.standard_normal(2048) + 1j * rng.standard_normal(2048)
    d = rng.standard_normal(2048) + 1j * rng.standard_normal(2048)

    def f(c, d):
        return d * np.exp(c)

    np.testing.assert_array_equal(cr.compile(f)(c, d), f(c, d))


def test_the_backward_of_a_sum_reads_the_cotangent_without_broadcasting_it() -> None:
    # g = broadcast_to(gs, x.shape) then g * e: the ufunc broadcasts gs itself
    def f(z):
        e = np.exp(z)
        return np.sum(np.log(e.sum(axis=1, keepdims=True)))

    vg = cr.value_and_grad(f)
    fast = cr.compile(vg)
    z = np.random.default_rng(5).standard_normal((4, 3))
    for _ in range(2):
        v, g = fast(z)
        ve, ge = vg(z)
        assert v == ve and np.array_equal(g, ge)
    src = fast.source(z)
    assert "broadcast_to" not in src and "np.exp(z)" in src
    # a broadcast whose result is handed back, or read by a non-elementwise step, stays
    keep = cr.compile(lambda a: np.broadcast_to(a, (3, 2)) @ np.ones((2, 2)))
    assert "broadcast_to" in keep.source(np.ones((3, 1)))


@pytest.mark.parametrize("argnums, names", [((0, 2), "(d_w, d_b)"), (0, "d_w"),
                                            ((2, 0), "(d_b, d_w)"), (-1, "d_b")])
def test_gradients_are_named_after_the_arguments_in_argnums(argnums, names) -> None:
    def loss(w, x, b):
        return np.sum(np.tanh(w @ x + b) ** 2)

    w, x, b = np.full((2, 3), 0.1), np.arange(3.0), np.zeros(2)
    vg = cr.value_and_grad(loss, argnums=argnums)
    fast = cr.compile(vg)
    v, g = fast(w, x, b)
    ve, ge = vg(w, x, b)
    assert v == ve
    for a, e in zip(g if isinstance(g, tuple) else (g,), ge if isinstance(ge, tuple) else (ge,)):
        np.testing.assert_array_equal(a, e)
    src = fast.source(w, x, b)
    assert src.rstrip().endswith(f"return value, {names}")
    # x**2 of a float array is emitted as np.square (x*x either way), sums without defaults
    assert "np.square(" in src and "np.power" not in src and "keepdims=False" not in src
    assert cr.compile(cr.grad(loss, argnums=argnums)).source(w, x, b).rstrip().endswith(
        f"return {names.strip('()')}")


_GLOBAL_DATA = np.array([1.0, 2.0, 3.0])


def _reads_global(w):
    return np.sum((w * _GLOBAL_DATA) ** 2)


def test_global_read_through_a_transform_is_not_baked_in() -> None:
    # cr.grad(f) is an object, not a function: the compiler must still see what f reads
    global _GLOBAL_DATA
    fast = cr.compile(cr.grad(_reads_global))
    w = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(fast(w), 2 * w * _GLOBAL_DATA ** 2)
    saved = _GLOBAL_DATA
    try:
        _GLOBAL_DATA[:] = [4.0, 5.0, 6.0]              # written in place: still the user's
        np.testing.assert_allclose(fast(w), 2 * w * np.array([4.0, 5.0, 6.0]) ** 2)
        _GLOBAL_DATA = np.array([7.0, 8.0, 9.0])       # rebound
        np.testing.assert_allclose(fast(w), 2 * w * np.array([7.0, 8.0, 9.0]) ** 2)
    finally:
        _GLOBAL_DATA = saved
