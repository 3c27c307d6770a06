"""cr.compile on programs written to break it: every compiled call must give eager's values,
dtypes and structure, retrace, or refuse clearly; never a stale or wrong value."""

from __future__ import annotations


import numpy as np

import chainrule as cr

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
