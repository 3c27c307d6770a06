"""Tensor hooks (t.register_hook) and Module hooks (forward pre-hooks, forward hooks, full
backward hooks) against PyTorch 2.13: when they are called, in which order, with what, and
what a replacement changes; and the Module utilities of issue 12 (to, requires_grad_,
named_modules, apply, clip_grad_value_, parameters_to_vector) against PyTorch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")


def _t(x, grad=False):
    t = torch.from_numpy(np.array(x, dtype=np.float64))
    return t.requires_grad_(True) if grad else t


def _np(x):
    if x is None:
        return None
    if isinstance(x, cr.Tensor):
        return x.detach().numpy()
    return x.detach().numpy()


X = np.array([0.3, -1.2, 2.0])


# --- tensor hooks --------------------------------------------------------------------------
@needs_torch
def test_nonleaf_hook_sees_and_replaces_the_gradient_like_torch():
    seen, tseen = [], []
    x = cr.tensor(X, requires_grad=True)
    y = np.sin(x) * x
    y.register_hook(lambda g: seen.append(_np(g)))
    y.register_hook(lambda g: g * 10)
    y.register_hook(lambda g: seen.append(_np(g)))
    (y ** 2).sum().backward()

    tx = _t(X, True)
    ty = torch.sin(tx) * tx
    ty.register_hook(lambda g: tseen.append(g.numpy().copy()))
    ty.register_hook(lambda g: g * 10)
    ty.register_hook(lambda g: tseen.append(g.numpy().copy()))
    (ty ** 2).sum().backward()
    assert len(seen) == len(tseen) == 2
    for a, b in zip(seen, tseen):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)


@needs_torch
def test_leaf_hook_runs_once_on_the_summed_gradient_before_accumulation():
    calls = []
    x = cr.tensor(X, requires_grad=True)
    x.register_hook(lambda g: calls.append(_np(g)) or g * 3)
    (x * x + np.exp(x)).sum().backward()
    (x * 2).sum().backward()  # accumulates: the hook sees only this pass's gradient

    tcalls = []
    tx = _t(X, True)
    tx.register_hook(lambda g: tcalls.append(g.numpy().copy()) or g * 3)
    (tx * tx + torch.exp(tx)).sum().backward()
    (tx * 2).sum().backward()
    assert len(calls) == len(tcalls) == 2
    for a, b in zip(calls, tcalls):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)


@needs_torch
@pytest.mark.parametrize("retain_first", [True, False])
def test_retain_grad_keeps_the_gradient_after_the_hooks(retain_first):
    x = cr.tensor(X, requires_grad=True)
    tx = _t(X, True)
    y, ty = x * 2, tx * 2
    for t in (y, ty):
        if retain_first:
            t.retain_grad()
        t.register_hook(lambda g: g * 10)
        if not retain_first:
            t.retain_grad()
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@needs_torch
def test_hook_registered_after_the_consumers_were_recorded():
    x, tx = cr.tensor(X, requires_grad=True), _t(X, True)
    y, ty = np.tanh(x), torch.tanh(tx)
    z, tz = y * y + y, ty * ty + ty        # consumers recorded first
    y.register_hook(lambda g: -g)
    ty.register_hook(lambda g: -g)
    z.sum().backward()
    tz.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)
    assert y.grad_fn == "tanh" and not y.is_leaf and "grad_fn=tanh" in repr(y)


@needs_torch
def test_hook_on_the_root_and_with_retain_graph():
    n = [0]
    x = cr.tensor(X, requires_grad=True)
    loss = np.sum(x ** 3)

    def h(g):
        n[0] += 1
        return g * 2

    loss.register_hook(h)
    loss.backward(retain_graph=True)
    loss.backward()
    tx = _t(X, True)
    tl = (tx ** 3).sum()
    tl.register_hook(lambda g: g * 2)
    tl.backward(retain_graph=True)
    tl.backward()
    assert n[0] == 2
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)


def test_handle_remove_and_context_manager():
    x = cr.tensor(X, requires_grad=True)
    y = x * 1.0
    h1 = y.register_hook(lambda g: g * 2)
    h2 = y.register_hook(lambda g: g * 5)
    h1.remove()
    h1.remove()  # a second remove does nothing
    y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 5.0))
    h2.remove()
    x.grad = None
    y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))
    x.grad = None
    with x.register_hook(lambda g: g * 7):
        y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 7.0))
    x.grad = None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


@needs_torch
def test_hooks_under_create_graph_are_differentiated():
    x = cr.tensor(X, requires_grad=True)
    y = x ** 3
    y.register_hook(lambda g: g * y)       # the hook's own work is recorded
    y.sum().backward(create_graph=True)
    gx = x.grad
    x.grad = None
    np.sum(gx).backward()

    tx = _t(X, True)
    ty = tx ** 3
    ty.register_hook(lambda g: g * ty)
    (tgx,) = torch.autograd.grad(ty.sum(), tx, create_graph=True)
    tgx.sum().backward()
    np.testing.assert_allclose(gx.detach().numpy(), tgx.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-14)


def test_hooks_under_cr_grad():
    # an intermediate's hook runs and its replacement is what cr.grad returns ...
    def f(v):
        y = np.sin(v)
        y.register_hook(lambda g: g * 0 + 1)
        return np.sum(y ** 2)

    np.testing.assert_allclose(cr.grad(f)(X), np.cos(X))
    # ... a hook on the transform's own input is not called
    called = []

    def g(v):
        v.register_hook(lambda gr: called.append(1))
        return np.sum(v ** 2)

    np.testing.assert_allclose(cr.grad(g)(X), 2 * X)
    assert called == []


def test_tensor_hook_errors():
    with pytest.raises(cr.GradientError, match="cannot register a hook on a tensor that does "
                                               "not require grad"):
        cr.tensor(X).register_hook(lambda g: g)
    x = cr.tensor(X, requires_grad=True)
    with pytest.raises(TypeError, match="register_hook: expected a callable"):
        x.register_hook(3)
    y = x * 2
    y.register_hook(lambda g: np.ones(2))
    with pytest.raises(cr.ShapeError, match="changed the shape of the gradient from"):
        y.sum().backward()
    z = x * 2
    z.register_hook(lambda g: g.astype(np.float32))
    with pytest.raises(cr.GradientError, match="changed the dtype of the gradient"):
        z.sum().backward()
    w = x * 2
    w.register_hook(lambda g: "no")
    with pytest.raises(TypeError, match="a tensor hook returned str"):
        w.sum().backward()
    x.register_hook(lambda g: np.ones(4))
    with pytest.raises(cr.ShapeError, match="changed the shape"):
        (x * 2).sum().backward()


def test_hook_may_return_an_ndarray_and_a_leaf_grad_is_its_own_copy():
    keep = np.full(3, 4.0)
    x = cr.tensor(X, requires_grad=True)
    x.register_hook(lambda g: keep)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), keep)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * keep)
    np.testing.assert_array_equal(keep, np.full(3, 4.0))  # not accumulated into


def test_no_hooks_leave_the_graph_as_it_was():
    x = cr.tensor(X, requires_grad=True)
    y = x * 2
    node = y._node
    z = y + 1
    assert z._node.parents[0] is node and node.prim.name == "multiply"
    assert x._node.ref() is x


def test_module_to_keeps_parameter_hooks():
    lin = nn.Linear(2, 1)
    lin.weight.register_hook(lambda g: g * 0)
    lin.to(np.float64)
    assert lin.weight.dtype == np.float64
    lin(cr.tensor(np.ones((3, 2)))).sum().backward()
    np.testing.assert_array_equal(lin.weight.grad.numpy(), np.zeros((1, 2)))
    assert lin.bias.grad.numpy()[0] == 3.0


# --- module hooks ------------------------------------------------------------------------
class _Add(nn.Module):
    def forward(self, a, b=0.0):
        return a + b


def test_forward_pre_hook_and_forward_hook_semantics():
    m = _Add()
    log = []
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre1", args)))
    h = m.register_forward_pre_hook(lambda mod, args: args[0] * 2)        # one value: (v,)
    m.register_forward_hook(lambda mod, args, out: log.append(("fwd", args, out)))
    m.register_forward_hook(lambda mod, args, out: out + 100)
    m.register_forward_pre_hook(lambda mod, args: log.append(("pre0",)), prepend=True)
    out = m(np.float64(1.0), b=5.0)
    assert out == 1.0 * 2 + 5.0 + 100
    assert [e[0] for e in log] == ["pre0", "pre1", "fwd"]
    assert log[2][1] == (2.0,) and log[2][2] == 7.0
    h.remove()
    assert m(np.float64(1.0)) == 101.0
    # with_kwargs
    m2 = _Add()
    m2.register_forward_pre_hook(lambda mod, args, kw: (args, {"b": kw["b"] * 10}),
                                 with_kwargs=True)
    m2.register_forward_hook(lambda mod, args, kw, out: out + kw["b"], with_kwargs=True)
    assert m2(np.float64(1.0), b=1.0) == 1.0 + 10.0 + 10.0
    m3 = _Add()
    m3.register_forward_pre_hook(lambda mod, args, kw: 3, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args"):
        m3(1.0)
    with pytest.raises(TypeError, match="register_forward_hook: expected a callable"):
        m3.register_forward_hook(None)


def _pair_models(seed=0):
    rng = np.random.default_rng(seed)
    ours = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(),
                         nn.Linear(4, 2, dtype=np.float64))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                                 torch.nn.Linear(4, 2)).double()
    sd = {k: rng.standard_normal(v.shape) for k, v in ours.state_dict().items()}
    ours.load_state_dict(sd)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    return ours, theirs


@needs_torch
def test_forward_hooks_on_a_model_match_torch():
    ours, theirs = _pair_models()
    log, tlog = [], []
    for logs, model in ((log, ours), (tlog, theirs)):
        for name, mod in model.named_modules():
            mod.register_forward_pre_hook(lambda m, a, n=name, L=logs: L.append(("pre", n)))
            mod.register_forward_hook(
                lambda m, a, o, n=name, L=logs: L.append(("fwd", n, _np(o).copy())))
    x = np.random.default_rng(1).standard_normal((5, 3))
    ours(cr.tensor(x))
    theirs(_t(x))
    assert [e[:2] for e in log] == [e[:2] for e in tlog]
    assert len(log) == 8
    for a, b in zip(log, tlog):
        if a[0] == "fwd":
            np.testing.assert_allclose(a[2], b[2], rtol=1e-13)


@needs_torch
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("input_grad", [True, False])
def test_full_backward_hooks_match_torch(input_grad):
    ours, theirs = _pair_models()
    log, tlog = [], []

    def make(logs, name, scale):
        def hook(m, gi, go):
            logs.append((name, [_np(g) for g in gi], [_np(g) for g in go]))
            if scale is not None and gi[0] is not None:
                return (gi[0] * scale,)
        return hook

    for logs, model in ((log, ours), (tlog, theirs)):
        for name, mod in model.named_modules():
            if name:
                mod.register_full_backward_hook(make(logs, name, 0.5 if name == "1" else None))
    x = np.random.default_rng(2).standard_normal((5, 3))
    cx, tx = cr.tensor(x, requires_grad=input_grad), _t(x, input_grad)
    w = np.random.default_rng(3).standard_normal((5, 2))
    (ours(cx) * w).sum().backward()
    (theirs(tx) * _t(w)).sum().backward()
    assert [e[0] for e in log] == [e[0] for e in tlog] == ["2", "1", "0"]
    for a, b in zip(log, tlog):
        for side in (1, 2):
            assert len(a[side]) == len(b[side])
            for u, v in zip(a[side], b[side]):
                assert (u is None) == (v is None), (a[0], side)
                if u is not None:
                    np.testing.assert_allclose(u, v, rtol=1e-13)
    for (n, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-13, err_msg=n)
    if input_grad:
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-13)


class _Multi(nn.Module):
    def forward(self, a, b, c=None):
        return a * b, 5, (a + b,), a * 2


@needs_torch
def test_full_backward_hook_entries_like_torch():
    class TMulti(torch.nn.Module):
        def forward(self, a, b, c=None):
            return a * b, 5, (a + b,), a * 2

    res = {}
    for key, m, mk in (("ours", _Multi(), lambda v, g: cr.tensor(v, requires_grad=g)),
                       ("torch", TMulti(), _t)):
        got = []
        m.register_full_backward_hook(
            lambda mod, gi, go, got=got: got.append(([_np(g) for g in gi],
                                                     [_np(g) for g in go])))
        a, b = mk(X, True), mk(2 * X, False)
        out = m(a, b, c=mk(X, True))
        (out[0].sum() + (out[3] * 7).sum()).backward()
        a2, b2 = mk(X, False), mk(X, True)
        m(a2, b2)[0].sum().backward()
        res[key] = got
    assert len(res["ours"]) == len(res["torch"]) == 2
    for (gi, go), (tgi, tgo) in zip(res["ours"], res["torch"]):
        for u, v in list(zip(gi, tgi)) + list(zip(go, tgo)):
            assert (u is None) == (v is None)
            if u is not None:
                np.testing.assert_allclose(u, v, rtol=1e-14)
        assert len(gi) == len(tgi) == 2 and len(go) == len(tgo) == 4


def test_full_backward_hook_replacement_and_errors():
    class Mul(nn.Module):
        def forward(self, x, y):
            return x * y

    m = Mul()
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0, None))
    x = cr.tensor(X, requires_grad=True)
    y = cr.tensor(2 * X, requires_grad=True)
    m(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))
    np.testing.assert_array_equal(y.grad.numpy(), np.zeros(3))  # None: no gradient on
    bad = Mul()
    bad.register_full_backward_hook(lambda mod, gi, go: (gi[0],))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 1, but expected 2"):
        bad(cr.tensor(X, requires_grad=True), cr.tensor(X, requires_grad=True)).sum().backward()
    # removed, and not set up where nothing is recorded
    calls = []
    m2 = Mul()
    h = m2.register_full_backward_hook(lambda *a: calls.append(1))
    with cr.no_grad():
        m2(cr.tensor(X, requires_grad=True), cr.tensor(X))
    m2(cr.tensor(X, requires_grad=True), cr.tensor(X)).sum().backward()
    assert calls == [1]
    h.remove()
    m2(cr.tensor(X, requires_grad=True), cr.tensor(X)).sum().backward()
    assert calls == [1]


def test_backward_hook_with_retain_graph_and_cr_grad():
    calls = []
    lin = nn.Linear(3, 1, dtype=np.float64)
    lin.register_full_backward_hook(lambda m, gi, go: calls.append(_np(go[0])))
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    out = lin(x).sum()
    out.backward(retain_graph=True)
    out.backward()
    assert len(calls) == 2
    g = cr.grad(lambda v: np.sum(lin(v) ** 2))(np.ones((2, 3)))
    assert len(calls) == 3 and g.shape == (2, 3)


def test_module_hooks_refused_under_compile():
    lin = nn.Linear(3, 2)
    h = lin.register_forward_hook(lambda m, a, o: None)
    cm = cr.compile(lin)
    with pytest.raises(cr.CompileError, match="has forward or backward hooks"):
        cm(np.ones((4, 3), np.float32))
    h.remove()
    assert cr.compile(lin)(np.ones((4, 3), np.float32)).shape == (4, 2)


def test_modules_without_hooks_call_forward_directly():
    lin = nn.Linear(2, 2)
    assert lin._module_hooks is None and "_module_hooks" not in lin.__dict__
    h = lin.register_forward_hook(lambda *a: None)
    assert "_module_hooks" in lin.__dict__
    h.remove()
    c = copy.deepcopy(lin)
    assert c(np.ones((1, 2), np.float32)).shape == (1, 2)


# --- Module utilities against torch ------------------------------------------------------
@needs_torch
def test_module_to_like_torch():
    ours = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    w = ours[0].weight
    ours(np.ones((3, 2), np.float32)).sum().backward()
    assert ours.to(np.float64) is ours and ours[0].weight is w   # in place, same objects
    theirs.to(torch.float64)
    for (k, v), (tk, tv) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert k == tk and v.dtype == tv.numpy().dtype, k
    assert w.grad.dtype == np.float64 and w.requires_grad
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        ours.to(np.int64)
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        theirs.to(torch.int64)
    assert ours.to("cpu") is ours and ours.to("cpu", np.float32)[0].weight.dtype == np.float32
    assert ours.to(dtype=np.float64)[0].bias.dtype == np.float64
    assert ours.to(cr.zeros(1, dtype=np.float32))[0].bias.dtype == np.float32
    with pytest.raises(ValueError, match="device 'mps' is not available"):
        ours.to("mps")
    try:
        import cupy  # noqa: F401
    except ImportError:  # (CuPy is the 'cuda' device; without it the message says so)
        with pytest.raises(ValueError, match="CuPy, which is not installed"):
            ours.to("cuda")
    with pytest.raises(TypeError, match="not a NumPy dtype"):
        ours.to(torch.float64)
    # a converted model still trains
    opt = cr.optim.SGD(ours.parameters(), lr=0.1)
    ours(np.ones((3, 2))).sum().backward()
    opt.step()


@needs_torch
def test_requires_grad_named_modules_apply_like_torch():
    def build(lib):
        s = lib.Linear(1, 1)
        return lib.Sequential(lib.Sequential(lib.ReLU(), s), lib.Tanh(), s)

    ours, theirs = build(nn), build(torch.nn)
    assert ours.requires_grad_(False) is ours
    theirs.requires_grad_(False)
    assert [p.requires_grad for p in ours.parameters()] == \
        [p.requires_grad for p in theirs.parameters()] == [False, False]
    ours.requires_grad_()
    assert all(p.requires_grad for p in ours.parameters())
    for kw in ({}, {"prefix": "m"}, {"remove_duplicate": False}):
        assert [n for n, _ in ours.named_modules(**kw)] == \
            [n for n, _ in theirs.named_modules(**kw)], kw
    order, torder = [], []
    ours.apply(lambda m: order.append(type(m).__name__))
    theirs.apply(lambda m: torder.append(type(m).__name__))
    assert order == torder
    assert ours.apply(lambda m: None) is ours


@needs_torch
def test_clip_grad_value_like_torch():
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal((3, 2)) * 3, rng.standard_normal(4)]
    ps = [cr.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = cr.tensor(g)
        tp.grad = torch.from_numpy(g.copy())
    none = cr.tensor(np.zeros(2), requires_grad=True)      # no gradient: skipped
    assert nn.utils.clip_grad_value_(ps + [none], 1.25) is None
    torch.nn.utils.clip_grad_value_(tps, 1.25)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    assert none.grad is None
    nn.utils.clip_grad_value_(ps[0], 0.5)                  # one tensor
    torch.nn.utils.clip_grad_value_(tps[0], 0.5)
    np.testing.assert_array_equal(ps[0].grad.numpy(), tps[0].grad.numpy())
    assert cr.optim.clip_grad_value_ is nn.utils.clip_grad_value_


@needs_torch
def test_parameters_to_vector_like_torch():
    ours, theirs = _pair_models(4)
    v = nn.utils.parameters_to_vector(ours.parameters())
    tv = torch.nn.utils.parameters_to_vector(theirs.parameters())
    assert isinstance(v, cr.Tensor) and v.requires_grad
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    # differentiable, as PyTorch's: a penalty on the vector reaches the parameters
    (v ** 2).sum().backward()
    (tv ** 2).sum().backward()
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-15)
    # and back
    new = np.arange(v.size, dtype=np.float64)
    nn.utils.vector_to_parameters(new, ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), theirs.parameters())
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), tp.detach().numpy())
    nn.utils.vector_to_parameters(cr.tensor(new * 2), ours.parameters())
    assert ours[0].weight.detach().numpy()[0, 0] == 0 and ours[2].bias.numpy is not None
    with pytest.raises(ValueError, match="the vector has 3 elements but the parameters have"):
        nn.utils.vector_to_parameters(np.zeros(3), ours.parameters())
    with pytest.raises(ValueError, match="expected a 1-d vector"):
        nn.utils.vector_to_parameters(np.zeros((2, 2)), ours.parameters())
    with pytest.raises(ValueError, match="no parameters given"):
        nn.utils.parameters_to_vector([])
