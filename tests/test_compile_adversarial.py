"""cr.compile on programs written to break it: every compiled call must give eager's values,
dtypes and structure, retrace, or refuse clearly; never a stale or wrong value."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

R = np.random.default_rng(11)
A = R.standard_normal((4, 5))
A2 = R.standard_normal((4, 5))


def _same(a, b) -> None:
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    if isinstance(a, cr.Tensor):
        assert type(b) is type(a)
        a, b = a._value, b._value
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert a.tobytes() == b.tobytes(), (a, b)
    else:
        assert a == b


def _agree(f, *calls, **opts):
    fast = cr.compile(f, **opts)
    for args in calls:
        for _ in range(2):  # the call that traces, then the compiled code
            _same(fast(*args), f(*args))
    return fast


# --- the emitter's rewriting passes ---------------------------------------------------------

def test_add_at_into_zeros_made_after_other_steps_compiles() -> None:
    # scatter_into_zeros compared the previous step's outputs with == (a traced comparison
    # after the trace had finished): CompileError about "another trace"
    def f(x):
        y = np.zeros_like(x)
        np.add.at(y, ([0, 0, 1], [1, 1, 2]), x[0, :3])
        return y

    fast = _agree(f, (A,), (A2,))
    ns: dict = {}
    exec(fast.source(A), ns)


def test_max_backward_rewrite_does_not_compare_traced_values() -> None:
    def f(x):
        return np.sum(np.max(x * 2.0, axis=1, keepdims=True) * np.isnan(x + 1.0))

    vg = cr.value_and_grad(f)
    _agree(vg, (A,), (A2,))


# --- Python scalars in the signature --------------------------------------------------------

def test_negative_zero_python_float_is_its_own_signature() -> None:
    x = np.array([1.0, 2.0])
    f = lambda x, s: 1.0 / (x * s)  # noqa: E731
    with np.errstate(divide="ignore"):
        fast = cr.compile(f)
        assert (fast(x, 0.0) == np.inf).all()
        assert (fast(x, -0.0) == -np.inf).all()
        stat = cr.compile(f, static_argnums=(1,))
        assert (stat(x, 0.0) == np.inf).all()
        assert (stat(x, -0.0) == -np.inf).all()


def test_nan_python_float_hits_the_cache() -> None:
    fast = cr.compile(lambda x, s: x * s)
    for _ in range(3):
        assert np.isnan(fast(A, float("nan"))).all()
    assert fast.cache_info()["signatures"] == 1


# --- what the function reads from outside its arguments -------------------------------------

SCALE = 2.0
TABLE = np.ones(5)


def _reads_globals(x):
    return x * SCALE + TABLE * 2.0  # (TABLE * 2.0 is computed once: a constant of the trace)


def test_a_global_python_scalar_rebound_traces_again() -> None:
    global SCALE, TABLE
    fast = cr.compile(_reads_globals)
    try:
        _same(fast(A), _reads_globals(A))
        SCALE = -0.0
        _same(fast(A), _reads_globals(A))
        SCALE = 3
        _same(fast(A), _reads_globals(A))
        TABLE[:] = 4.0  # folded into a constant: the captured array's bytes are compared
        _same(fast(A), _reads_globals(A))
    finally:
        SCALE, TABLE = 2.0, np.ones(5)


def test_closure_scalars_containers_and_objects_are_not_baked_in() -> None:
    class Cfg:
        pass

    cfg = Cfg()
    cfg.w, cfg.k = np.ones(5), 2.0
    box = [1.5, {"b": np.zeros(5)}]
    k = 2.0

    def f(x):
        return x * k * cfg.k * box[0] + cfg.w * 2.0 + box[1]["b"] * 3.0

    def set_k(v):
        nonlocal k
        k = v

    fast = cr.compile(f)
    changes = [lambda: set_k(-1.0), lambda: setattr(cfg, "k", 5.0),
               lambda: cfg.w.__setitem__(slice(None), 7.0),
               lambda: setattr(cfg, "w", np.full(5, 9.0)),
               lambda: box.__setitem__(0, 0.25), lambda: box[1].__setitem__("b", np.ones(5))]
    _same(fast(A), f(A))
    for change in changes:
        change()
        _same(fast(A), f(A))
        _same(fast(A), f(A))


def test_a_bound_method_reads_its_object_afresh() -> None:
    class Scaler:
        def __init__(self):
            self.w, self.k = np.ones(5), 2.0

        def __call__(self, x):
            return x * (self.w * self.k)

        def apply(self, x):
            return x * (self.w * self.k)

    s = Scaler()
    for fast, eager in ((cr.compile(s.apply), s.apply), (cr.compile(s), s)):
        s.w, s.k = np.ones(5), 2.0
        _same(fast(A), eager(A))
        s.w[:] = 3.0
        _same(fast(A), eager(A))
        s.k = 0.5
        _same(fast(A), eager(A))
        s.w = np.arange(5.0)
        _same(fast(A), eager(A))


def test_a_generator_reached_through_an_object_is_refused() -> None:
    class Holder:
        pass

    h = Holder()
    h.rng = np.random.default_rng(0)
    with pytest.raises(cr.CompileError, match="random numbers"):
        cr.compile(lambda x: x * h.rng.random())(A)


def test_side_effects_while_tracing_do_not_retrace() -> None:
    log = []
    count = [0]

    def f(x):
        count[0] += 1
        log.append(x.shape)
        return x * 2.0

    fast = cr.compile(f)
    for _ in range(3):
        _same(fast(A), A * 2.0)
    assert fast.cache_info()["traces"] == 1 and count[0] == 1


# --- compiled modules: their hyperparameters --------------------------------------------------

def _module_agrees(model, change) -> None:
    x = R.standard_normal((6, 4))
    twin = copy.deepcopy(model)
    run = cr.compile(model)
    for step in range(3):
        if step == 1:
            change(model)
            change(twin)
        for _ in range(2):
            cr.manual_seed(step)
            got = run(x)
            cr.manual_seed(step)
            want = twin(x)
            _same(got, want)
    for a, b in zip(model.buffers(), twin.buffers()):
        _same(a, b)


@pytest.mark.parametrize("make,change", [
    (lambda: nn.Sequential(nn.Linear(4, 3, dtype=np.float64), nn.Dropout(0.5)),
     lambda m: setattr(m[1], "p", 0.1)),
    (lambda: nn.Sequential(nn.Linear(4, 3, dtype=np.float64), nn.LeakyReLU(0.1)),
     lambda m: setattr(m[1], "negative_slope", 0.5)),
    (lambda: nn.BatchNorm1d(4, dtype=np.float64), lambda m: setattr(m, "momentum", 0.5)),
    (lambda: nn.BatchNorm1d(4, dtype=np.float64), lambda m: setattr(m, "eps", 1.0)),
])
def test_a_compiled_modules_hyperparameters_are_not_baked_in(make, change) -> None:
    _module_agrees(make(), change)


MASK = np.ones(3)


class _Masked(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3, dtype=np.float64)
        self.scale = 1.0

    def forward(self, x):
        return self.lin(x) * (MASK * self.scale)


def test_a_compiled_modules_forward_reads_its_globals_afresh() -> None:
    global MASK

    def change(m):
        MASK[:] = 0.5
        m.scale = -2.0

    try:
        _module_agrees(_Masked(), change)
    finally:
        MASK = np.ones(3)


# --- in-place writes under differentiation ----------------------------------------------------

def test_augmented_assignment_into_a_slice_differentiates_as_eagerly() -> None:
    def f(x):
        y = x * 1.0
        y[1:, ::-1] *= 2.0
        return np.sum(y ** 2)

    _agree(cr.value_and_grad(f), (A,), (A2,))


def test_writes_into_an_input_happen_on_every_call() -> None:
    def f(x):
        x[0] = -1.0
        x[1:] *= 2.0
        return x.sum()

    fast = cr.compile(f)
    for src in (A, A2, A):
        a, b = src.copy(), src.copy()
        _same(fast(a), f(b))
        _same(a, b)


# --- floating-point settings: np.errstate inside the function ---------------------------------

def test_errstate_raise_inside_the_function_raises_on_later_calls() -> None:
    def f(x):
        with np.errstate(divide="raise"):
            return 1.0 / x

    fast = cr.compile(f)
    _same(fast(np.array([1.0, 2.0])), f(np.array([1.0, 2.0])))
    with pytest.raises(FloatingPointError):
        f(np.array([1.0, 0.0]))
    with pytest.raises(FloatingPointError):
        fast(np.array([1.0, 0.0]))
    assert "with np.errstate(divide='raise'):" in fast.source(np.array([1.0, 2.0]))


def test_errstate_ignore_inside_the_function_does_not_warn_later() -> None:
    import warnings

    def f(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.log(x)
        return y * 2.0

    fast = cr.compile(f)
    fast(np.array([1.0, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(fast(np.array([-1.0, 0.0])), f(np.array([-1.0, 0.0])))


def test_a_caught_floating_point_error_takes_eagers_branch() -> None:
    def f(x):
        try:
            with np.errstate(divide="raise"):
                return 1.0 / x
        except FloatingPointError:
            return x * 0.0

    fast = cr.compile(f)
    vg = cr.value_and_grad(lambda x: np.sum(f(x) ** 2))
    fvg = cr.compile(vg)
    for x in (np.array([1.0, 2.0]), np.array([1.0, 0.0]), np.array([4.0, 2.0])):
        _same(fast(x), f(x))
        _same(fast(x), f(x))
        _same(fvg(x), vg(x))


def test_static_values_equal_across_types_are_different_signatures() -> None:
    a = np.arange(6, dtype=np.int8).reshape(2, 3)
    index = cr.compile(lambda x, i: x[i], static_argnums=1)
    assert index(a, 1).shape == (3,)
    assert index(a, True).shape == (1, 2, 3)
    power = cr.compile(lambda x, p: x * p[0], static_argnums=1)
    assert power(a, (1,)).dtype == np.int8
    assert power(a, (np.int64(1),)).dtype == np.int64
    assert power(a, (1.0,)).dtype == np.float64


def test_a_slice_argument_keys_the_cache() -> None:
    fast = cr.compile(lambda x, s: x[s] * 2.0)
    for s in (slice(1, None), slice(None, None, -1), slice(1, None)):
        _same(fast(A, s), A[s] * 2.0)
    assert fast.cache_info()["signatures"] == 2


# --- writes into inputs: aliasing and retracing ------------------------------------------------

def test_a_copy_of_an_input_survives_a_write_into_an_aliased_input() -> None:
    def f(x, y):
        z = x.copy()
        y[...] = 0.0
        return z * 1.0

    fast = cr.compile(f)
    fast(np.ones(3), np.ones(3))  # traced with two arrays
    a, b = np.ones(3), np.ones(3)
    _same(fast(a, a), f(b, b))  # called with one array twice: z keeps x's old values
    _same(a, b)


def test_a_guard_failing_after_a_write_into_an_input_does_not_write_twice() -> None:
    def f(x):
        x += 1.0
        if (x > 0).all():
            return x * 2.0
        return x * 3.0

    fast = cr.compile(f)
    for start in (1.0, -5.0, 1.0, -5.0, 3.0):
        a, b = np.full(3, start), np.full(3, start)
        _same(fast(a), f(b))
        _same(a, b)


FLAG = True


def test_captured_bools_ints_and_strings_hit_the_cache() -> None:
    def f(x):
        return x * 2.0 if FLAG else x

    fast = cr.compile(f)
    for _ in range(3):
        _same(fast(A), A * 2.0)
    assert fast.cache_info()["traces"] == 1


# --- the inputs' memory layout ------------------------------------------------------------------

def test_a_branch_on_the_memory_layout_traces_again_for_another_layout() -> None:
    def f(x, y):
        s = 2.0 if x.flags.c_contiguous else 3.0
        if np.shares_memory(x, y):
            s += 10.0
        return x * s + x.strides[0]

    fast = cr.compile(f)
    c, fo, other = np.ones((3, 4)), np.ones((4, 3)).T, np.ones((3, 4))
    for x, y in ((c, other), (fo, other), (c, c), (c, other), (fo, fo)):
        _same(fast(x, y), f(x, y))


def test_an_exception_the_function_catches_takes_eagers_branch() -> None:
    def solve(a, b):
        try:
            return np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            return b * 0.0

    def pick(x, i):
        try:
            return x[i]
        except IndexError:
            return x[:1] * -1.0

    fast = cr.compile(solve)
    vg = cr.value_and_grad(lambda a, b: np.sum(solve(a, b) ** 2), argnums=(0, 1))
    fvg = cr.compile(vg)
    b = np.ones(2)
    for a in (np.eye(2) * 2.0, np.zeros((2, 2)), np.eye(2)):
        _same(fast(a, b), solve(a, b))
        _same(fvg(a, b), vg(a, b))
    fpick = cr.compile(pick)
    x = np.arange(3.0)
    for i in ([1], [5], [2]):
        _same(fpick(x, np.array(i)), pick(x, np.array(i)))
    take = cr.compile(lambda x, i: x[i])
    take(x, np.array([1]))
    with pytest.raises(IndexError):  # not caught: eager's own error, from the user's line
        take(x, np.array([7]))


# --- output structure, and what cannot be compiled ------------------------------------------------

def test_dicts_keep_their_order_in_and_out() -> None:
    def f(d):
        first = next(iter(d.values()))
        return {"z": first * 2.0, "a": sum(d.values())}

    fast = cr.compile(f)
    for d in ({"b": A, "a": A2}, {"a": A2, "b": A}, {"b": A, "a": A2}):
        got, want = fast(d), f(d)
        assert list(got) == list(want) == ["z", "a"]
        for k in want:
            _same(got[k], want[k])


def test_a_generator_function_is_refused_clearly_and_the_users_error_surfaces() -> None:
    def gen(x):
        yield x * 2.0

    fast = cr.compile(gen)
    with pytest.raises(cr.CompileError, match="returned a generator"):
        fast(A)

    class Boom(Exception):
        pass

    def bad(x):
        if x.shape[0] == 4:
            raise Boom("mine")
        return x * 2.0

    fbad = cr.compile(bad)
    with pytest.raises(Boom, match="mine"):
        fbad(A)
    assert fbad.cache_info() == {"signatures": 0, "traces": 0, "hits": 0, "eager": 0}
    _same(fbad(A[:3]), A[:3] * 2.0)


def test_an_object_argument_is_read_afresh() -> None:
    class Cfg:
        def __init__(self):
            self.scale, self.w = 2.0, np.ones(5)

    cfg = Cfg()

    def f(x, c):
        return x * c.scale + c.w * 2.0

    for fast in (cr.compile(f), cr.compile(f, static_argnums=1)):
        cfg.scale, cfg.w = 2.0, np.ones(5)
        _same(fast(A, cfg), f(A, cfg))
        cfg.scale = 5.0
        _same(fast(A, cfg), f(A, cfg))
        cfg.w[:] = -1.0
        _same(fast(A, cfg), f(A, cfg))


def test_a_function_argument_reads_its_closure_afresh() -> None:
    k = [2.0]

    def act(x):
        return x * k[0]

    fast = cr.compile(lambda x, g: g(x) + 1.0)
    _same(fast(A, act), act(A) + 1.0)
    k[0] = -3.0
    _same(fast(A, act), act(A) + 1.0)


def test_no_write_in_place_into_what_may_be_a_view_of_an_input() -> None:
    # x.ravel() copies a transposed array but is a view of a contiguous one: the emitted
    # `t += 1.0` wrote into the caller's array on the later call
    y = np.ones((64, 32))
    for f in (lambda x: x.ravel() + 1.0, lambda x: np.ravel(x) * 3.0,
              lambda x: x.astype(np.float64, copy=False).reshape(-1) - 2.0):
        fast = cr.compile(f)
        fast(y.T)
        x = np.zeros((32, 64))
        _same(fast(x), f(np.zeros((32, 64))))
        assert not x.any()


def test_a_test_for_ndarray_in_the_function_is_warned_about() -> None:
    def f(x):
        return x * 2.0 if isinstance(x, np.ndarray) else x * 3.0

    with pytest.warns(RuntimeWarning, match="tests for np.ndarray"):
        cr.compile(f)(A)


def test_a_generator_made_inside_without_a_seed_is_refused() -> None:
    with pytest.raises(cr.CompileError, match="without a seed"):
        cr.compile(lambda x: x * np.random.default_rng().random())(A)
    seeded = cr.compile(lambda x: x * np.random.default_rng(3).random())
    _same(seeded(A), A * np.random.default_rng(3).random())
    _same(seeded(A), A * np.random.default_rng(3).random())


def test_a_traced_value_stored_while_tracing_is_warned_about_and_not_a_crash() -> None:
    class Keeps(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(5, 2, dtype=np.float64)
            self.last = None

        def forward(self, x):
            y = self.lin(x)
            self.last = y
            return y * 2.0

    m = Keeps()
    run = cr.compile(m)
    with pytest.warns(RuntimeWarning, match="stored a value it computed"):
        run(A)
    for _ in range(2):  # (it used to crash on the next call, copying the stored value)
        _same(run(A), m.lin(A) * 2.0)
    assert run.cache_info()["traces"] == 1


def test_a_static_argnum_passed_by_keyword_is_static() -> None:
    def f(x, n):
        for _ in range(n):
            x = np.sin(x)
        return x

    fast = cr.compile(f, static_argnums=1)
    _same(fast(A, n=2), np.sin(np.sin(A)))
    _same(fast(A, 2), np.sin(np.sin(A)))
    _same(fast(A, n=1), np.sin(A))


def test_structured_dtypes_of_one_size_are_different_signatures() -> None:
    f = lambda x: x["a"] * 2  # noqa: E731
    fast = cr.compile(f)
    for dt in ([("a", "f8")], [("a", "i8")], [("a", "f8")]):
        x = np.ones(3, np.dtype(dt))
        _same(fast(x), f(x))


ACT = np.tanh


def _helper(x):
    return x * 2.0


def _uses_act(x):
    return ACT(x) + _helper(x)


def test_a_rebound_global_function_or_ufunc_traces_again() -> None:
    global ACT, _helper
    fast = cr.compile(_uses_act)
    old = (ACT, _helper)
    try:
        _same(fast(A), _uses_act(A))
        ACT = np.sin
        _same(fast(A), _uses_act(A))
        _helper = lambda x: x * 5.0  # noqa: E731
        _same(fast(A), _uses_act(A))
    finally:
        ACT, _helper = old


def test_a_guard_on_a_float_tells_negative_zero_apart() -> None:
    def f(x):
        return x / float(x[0])

    fast = cr.compile(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        for v in (0.0, -0.0, 0.0, 2.0, -0.0):
            x = np.array([v, 1.0])
            _same(fast(x), f(x))


@pytest.mark.parametrize("c", [complex(-0.0, -0.0), complex(0.0, -0.0), complex(-0.0, 0.0),
                               complex(-1.5, -0.0), complex(float("inf"), float("nan"))])
def test_complex_constants_keep_the_signs_of_their_zeros(c) -> None:
    f = lambda x: x * c  # noqa: E731
    fast = cr.compile(f)
    x = np.array([1.0, -2.0])
    with np.errstate(invalid="ignore"):
        fast(x)
        _same(fast(x), f(x))


def test_a_negative_nan_constant_keeps_its_sign() -> None:
    neg = -float("nan")
    f = lambda x: x + neg  # noqa: E731
    fast = cr.compile(f)
    fast(A)
    _same(fast(A), f(A))


def test_builtins_on_traced_values_work_as_eagerly() -> None:
    x = np.array([1.55, -2.5, 3.25])
    progs = [lambda x: round(x[0], 1) * x, lambda x: round(x[1]) * x,
             lambda x: divmod(x, 2.0), lambda x: divmod(7.0, x),
             lambda x: (lambda y: (y.__imatmul__(np.eye(3) * 2.0), y)[1])(x * 1.0),
             lambda x: f"{x[0]:.1f}|{x[2]:+.3e}"]
    for f in progs:
        fast = cr.compile(f)
        for v in (x, -x, x):
            _same(fast(v), f(v))


_PAIR = (1.0, (2.0, "two"))


def test_a_captured_tuple_of_scalars_rebound_traces_again() -> None:
    global _PAIR

    def f(x):
        return x * _PAIR[1][0]

    fast = cr.compile(f)
    try:
        np.testing.assert_array_equal(fast(np.ones(2)), np.full(2, 2.0))
        _PAIR = (1.0, (5.0, "five"))  # a new tuple under the same name: not baked in
        np.testing.assert_array_equal(fast(np.ones(2)), np.full(2, 5.0))
        box = [(3.0,)]

        def g(x):
            return x * box[0][0]

        fast_g = cr.compile(g)
        np.testing.assert_array_equal(fast_g(np.ones(2)), np.full(2, 3.0))
        box[0] = (4.0,)  # a tuple replaced inside a list
        np.testing.assert_array_equal(fast_g(np.ones(2)), np.full(2, 4.0))
    finally:
        _PAIR = (1.0, (2.0, "two"))
