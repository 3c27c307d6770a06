"""Dask arrays through the engine: gradients stay lazy Dask arrays, equal to NumPy's.

The rules' NumPy calls reach Dask through NumPy's own dispatch (NEP 13 / NEP 18), so a
Tensor holds the Dask array as it is.  Every check runs under a Dask scheduler that refuses
to compute: building a gradient must not compute anything (a hidden ``np.asarray`` would
pull a larger-than-memory array into NumPy).  What Dask cannot do raises
``cr.BackendError`` naming the operation; a row may also stop because one of its rules
branches on a value (``if np.any(x == 0)``), which would compute a reduction: those are
counted, never silently converted.
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings

import numpy as np
import pytest

import chainrule as cr

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from harness import Row, reference_point  # noqa: E402
import rows  # noqa: E402

ROWS: list[Row] = []
for _m in pkgutil.iter_modules(rows.__path__):
    ROWS.extend(importlib.import_module(f"rows.{_m.name}").ROWS)
DIFF = [r for r in ROWS if r.order >= 1]


class Computed(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise Computed("Dask computed while chainrule was building the gradient")


def _lazy(x: np.ndarray):
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return x
    return da.from_array(x, chunks=tuple(max(1, s // 2) for s in x.shape))


def _outcome(row: Row) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        point = reference_point(row, lambda x: x.ndim > 0)
        if point is None:
            return "skip"
        a, u, wrt = point

        def loss(*xs):
            out = row.fn(*xs)
            if np.iscomplexobj(u):
                return np.sum(np.real(np.conj(u) * out))
            return np.sum(u * out)

        try:
            want = cr.grad(loss, argnums=wrt)(*a)
        except Exception:
            return "skip"
        ad = [_lazy(x) for x in a]
        try:
            with dask.config.set(scheduler=_refuse):
                got = cr.grad(loss, argnums=wrt)(*ad)
        except Computed:
            return "branches on a value"
        except cr.ChainruleError:
            return "refused"
        except Exception as exc:  # dask's own error, passed through
            if "Computed" in repr(exc.__cause__) or isinstance(exc.__context__, Computed):
                return "branches on a value"
            return f"error {type(exc).__name__}"
        for i, g in zip(wrt, got):
            if isinstance(ad[i], da.Array):
                assert isinstance(g, da.Array), f"{row.name}: gradient {i} is {type(g)}"
        try:
            vals = [g.compute(scheduler="sync") if isinstance(g, da.Array) else g for g in got]
        except Exception as exc:  # dask's own limits, met when the graph runs
            return f"error at compute {type(exc).__name__}"
        for gv, w in zip(vals, want):
            np.testing.assert_allclose(np.asarray(gv), np.asarray(w), rtol=1e-9, atol=1e-12,
                                       err_msg=row.name)
        return "lazy"


def test_every_row_is_lazy_and_right_or_refused() -> None:
    """No row gives a wrong gradient or a NumPy one; each is lazy and equal to NumPy's, or
    stops with a chainrule error (or at a rule's value branch, counted)."""
    counts: dict[str, list] = {}
    for row in DIFF:
        counts.setdefault(_outcome(row), []).append(row.name)
    others = {k: v for k, v in counts.items() if k.startswith("error")}
    # dask's own exceptions (chunking limits, unknown shapes) may pass through unnamed: few
    # (measured: 12 of 864, all named by chainrule: lstsq, mixed advanced indexing, cholesky)
    assert sum(map(len, others.values())) <= 15, {k: v[:5] for k, v in others.items()}
    # the families that must work lazily: elementwise, reductions, products, shapes, FFTs,
    # gathers (measured: 610)
    assert len(counts.get("lazy", [])) >= 600, len(counts.get("lazy", []))


# (rows are grouped by the primitive that runs: np.mean, np.var, np.dot, np.stack ... are
# rows of sum, multiply, matmul, concatenate ...)
FAMILIES = ["exp", "log1p", "tanh", "sin", "add", "multiply", "true_divide", "maximum",
            "sum", "matmul", "einsum", "transpose", "reshape", "concatenate", "where",
            "broadcast_to", "logsumexp", "softmax", "cumsum", "sqrt", "clip", "conv2d",
            "prod", "cumprod", "logaddexp", "power", "hypot", "norm", "i0", "inu_scaled",
            "sph_scaled", "sinc"]


@pytest.mark.parametrize("prim", FAMILIES)
def test_core_families_differentiate_lazily(prim: str) -> None:
    rs = [r for r in DIFF if r.prim == prim]
    assert rs, prim
    outcomes = {r.name: _outcome(r) for r in rs}
    done = [n for n, o in outcomes.items() if o in ("lazy", "skip")]
    assert len(done) >= max(1, len(rs) // 2), outcomes


def test_the_issue_example_stays_lazy_and_equals_numpy() -> None:
    r = np.random.default_rng(0)
    Xn = r.standard_normal((2000, 8))
    yn = (r.random(2000) < 0.5).astype(float)
    w = r.standard_normal(8) * 0.1
    X = da.from_array(Xn, chunks=(500, 8))
    y = da.from_array(yn, chunks=500)

    def loss(w, X, y):
        z = X @ w
        return np.mean(np.logaddexp(0, z) - y * z)

    with dask.config.set(scheduler=_refuse):
        v, g = cr.value_and_grad(loss)(w, X, y)
        gX = cr.grad(loss, argnums=1)(w, X, y)
    assert isinstance(g, da.Array) and isinstance(v, da.Array) and isinstance(gX, da.Array)
    assert gX.chunks == X.chunks  # the data's own chunking
    ve, ge = cr.value_and_grad(loss)(w, Xn, yn)
    np.testing.assert_allclose(g.compute(), ge, rtol=1e-12)
    np.testing.assert_allclose(v.compute(), ve, rtol=1e-12)


def test_a_constant_gradient_comes_back_as_a_dask_array() -> None:
    x = da.from_array(np.arange(6.0), chunks=3)
    with dask.config.set(scheduler=_refuse):
        g = cr.grad(lambda x: np.sum(2.0 * x))(x)
        z = cr.grad(lambda x, c: np.sum(c), argnums=0)(x, np.ones(3))
    assert isinstance(g, da.Array) and isinstance(z, da.Array)
    np.testing.assert_array_equal(g.compute(), np.full(6, 2.0))
    np.testing.assert_array_equal(z.compute(), np.zeros(6))


def test_a_tensor_keeps_its_dask_array_and_backward_fills_a_lazy_grad() -> None:
    x = da.from_array(np.linspace(-1, 1, 8), chunks=4)
    with dask.config.set(scheduler=_refuse):
        t = cr.tensor(x, requires_grad=True)
        assert isinstance(t._value, da.Array)
        loss = np.sum(np.tanh(t) ** 2)
        loss.backward()
    g = t.grad._value
    assert isinstance(g, da.Array)
    xn = np.linspace(-1, 1, 8)
    np.testing.assert_allclose(g.compute(), 2 * np.tanh(xn) * (1 - np.tanh(xn) ** 2),
                               rtol=1e-13)


def test_what_dask_lacks_raises_naming_the_operation_and_converts_nothing() -> None:
    x = cr.tensor(da.from_array(np.eye(3) + 0.1, chunks=2), requires_grad=True)
    with dask.config.set(scheduler=_refuse):
        with pytest.raises(cr.BackendError, match=r"linalg\.det is not available on dask"):
            np.linalg.det(x)


def test_rules_with_keyword_arguments_named_like_the_guard_still_run() -> None:
    # once Dask arrays have been seen every rule runs under the fallback guard; a rule
    # keyword called fn (the tensor-hook node's) must reach the rule, not the guard
    cr.grad(lambda x: np.sum(x * x))(da.ones(3, chunks=3))
    from chainrule.core import arrays
    assert arrays.GUARDED[0]
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [30.0, 30.0])


def _nn_models():
    from test_backends_strict import _models
    return _models()


@pytest.mark.parametrize("name", ["mlp", "conv", "lstm", "gru", "transformer", "embedding",
                                  "batchnorm"])
def test_nn_models_on_lazy_data_give_lazy_parameter_gradients_equal_to_numpy(name: str) -> None:
    """An nn model's loss on Dask inputs and targets: backward() computes nothing and fills
    every parameter's .grad with a Dask array equal to the NumPy gradient."""
    pytest.importorskip("array_api_strict")  # (the model table lives in that test file)
    make, X, y, lf = _nn_models()[name]
    m = make().double()
    loss = lf(m(cr.tensor(X)), cr.tensor(y))
    loss.backward()
    want = [p.grad.numpy().copy() for p in m.parameters()]
    m.zero_grad()
    Xd = da.from_array(X, chunks=tuple(max(1, s // 2) for s in X.shape))
    yd = da.from_array(y, chunks=tuple(max(1, s // 2) for s in y.shape))
    with dask.config.set(scheduler=_refuse):
        loss = lf(m(cr.tensor(Xd)), cr.tensor(yd))
        loss.backward()
    for (n, p), w in zip(m.named_parameters(), want):
        g = p.grad._value
        assert isinstance(g, da.Array), (n, type(g))
        np.testing.assert_allclose(g.compute(scheduler="sync"), w, rtol=1e-12, atol=1e-15,
                                   err_msg=n)


def test_lazy_targets_out_of_range_raise_when_computed() -> None:
    from chainrule import nn
    x = cr.tensor(da.from_array(np.zeros((4, 3)), chunks=2), requires_grad=True)
    t = cr.tensor(da.from_array(np.array([0, 1, 5, 2]), chunks=2))
    loss = nn.CrossEntropyLoss()(x, t)
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        loss._value.compute(scheduler="sync")


_LOSS_KW = [dict(), dict(reduction="sum"), dict(reduction="none"), dict(ignore_index=1),
            dict(label_smoothing=0.2),
            dict(weight=np.array([0.5, 2.0, 1.0]), ignore_index=0, label_smoothing=0.1),
            dict(weight=np.array([0.5, 2.0, 1.0]), ignore_index=0)]


@pytest.mark.parametrize("loss,kw", [(f, kw) for f in ("cross_entropy", "nll_loss")
                                     for kw in _LOSS_KW
                                     if f == "cross_entropy" or "label_smoothing" not in kw])
def test_losses_of_lazy_targets_equal_numpy_s(loss: str, kw: dict) -> None:
    from chainrule.nn import functional as F
    r = np.random.default_rng(3)
    x = r.standard_normal((6, 3))
    t = np.array([0, 1, 2, 1, 0, 2])  # (every class, so ignored targets occur)
    kw = {k: (cr.tensor(v) if k == "weight" else v) for k, v in kw.items()}
    fn = getattr(F, loss)
    xt = cr.tensor(x, requires_grad=True)
    want = fn(xt, cr.tensor(t), **kw)
    np.sum(want).backward()
    xl = cr.tensor(da.from_array(x, chunks=3), requires_grad=True)
    with dask.config.set(scheduler=_refuse):
        got = fn(xl, cr.tensor(da.from_array(t, chunks=3)), **kw)
        np.sum(got).backward()
    np.testing.assert_allclose(got._value.compute(scheduler="sync"), want.detach().numpy(),
                               rtol=1e-13)
    np.testing.assert_allclose(xl.grad._value.compute(scheduler="sync"), xt.grad.numpy(),
                               rtol=1e-13, atol=1e-16)
