"""The layers, functionals and losses of nn/spatial.py, nn/activation.py, nn/loss.py and
nn/functional_extra.py (and the existing activations and losses they complete) against
PyTorch in float64: values and the gradients of inputs and parameters (PyTorch's
state_dict loaded unchanged) agree to ~1e-10 relative, over grids of the arguments."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
tnn = torch.nn

TOL = 1e-10
WORST = [0.0]  # the largest relative disagreement seen (printed by the last test)


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _close(ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
    scale = scale if np.isfinite(scale) and scale > 0 else 1.0
    fin = np.isfinite(theirs)
    np.testing.assert_array_equal(np.isfinite(ours), fin, err_msg=what)
    err = float(np.max(np.abs(ours[fin] - theirs[fin]))) / scale if fin.any() else 0.0
    WORST[0] = max(WORST[0], err)
    assert err <= TOL, f"{what}: relative disagreement {err:.3g}"


def _compare_fn(cfn, tfn, arrays: list, diff: tuple | None = None, seed: int = 1) -> None:
    """cfn(*arrays) vs tfn(*arrays): value, and the gradient of <u, f> for each input in
    ``diff`` (default: every float input)."""
    if diff is None:
        diff = tuple(i for i, a in enumerate(arrays)
                     if isinstance(a, np.ndarray) and a.dtype.kind == "f")
    cs = [cr.tensor(a, requires_grad=True) if i in diff else a for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i in diff) if isinstance(a, np.ndarray) else a
          for i, a in enumerate(arrays)]
    y, ty = cfn(*cs), tfn(*ts)
    _close(y._value if isinstance(y, cr.Tensor) else y, ty.detach().numpy(), "value")
    if not diff:
        return
    u = _rng(seed).standard_normal(tuple(ty.shape))
    (y * u).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    for i in diff:
        assert cs[i].grad is not None, f"no gradient for argument {i}"
        _close(cs[i].grad._value, ts[i].grad.numpy(), f"gradient of argument {i}")


def _compare_module(ours: nn.Module, theirs, x: np.ndarray, *extra, seed: int = 1) -> None:
    """A torch module (float64) and ours, loaded from its state_dict: output, the input's
    gradient and every parameter's gradient."""
    theirs = theirs.double()
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    for k, v in ours.state_dict().items():
        assert tuple(np.shape(v._value if isinstance(v, cr.Tensor) else v)) == tuple(sd[k].shape)
    res = ours.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    y, ty = ours(xc, *extra), theirs(xt, *extra)
    _close(y._value, ty.detach().numpy(), "value")
    u = _rng(seed).standard_normal(tuple(ty.shape))
    (y * u).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    _close(xc.grad._value, xt.grad.numpy(), "input gradient")
    tp = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tp)
    for name, p in ours.named_parameters():
        _close(p.grad._value, tp[name].grad.numpy(), f"gradient of {name}")


def _arr(v) -> np.ndarray:
    return np.asarray(v._value if isinstance(v, cr.Tensor) else v)


def _randomise(m) -> None:
    """Give a torch module's parameters random values (GroupNorm / PReLU start constant)."""
    with torch.no_grad():
        for p in m.parameters():
            p.normal_()


# ---------------------------------------------------------------------------------
# conv1d / Conv1d

CONV1D = [  # (x shape, out, k, stride, padding, dilation, groups, bias)
    ((2, 4, 9), 6, 3, 1, 0, 1, 1, True),
    ((2, 4, 9), 6, 3, 2, 1, 1, 2, True),
    ((1, 3, 10), 3, 2, 3, 2, 2, 3, False),
    ((2, 2, 7), 4, 3, 1, "same", 2, 1, True),
    ((2, 2, 7), 4, 4, 1, "same", 1, 1, True),
    ((2, 2, 7), 4, 3, 1, "valid", 1, 1, True),
    ((4, 9), 2, 3, 2, 1, 1, 2, True),  # unbatched
]


@pytest.mark.parametrize("xs,o,k,s,p,d,g,b", CONV1D)
def test_conv1d_functional(xs, o, k, s, p, d, g, b):
    r = _rng()
    x = r.standard_normal(xs)
    w = r.standard_normal((o, xs[-2] // g, k))
    args = [x, w] + ([r.standard_normal(o)] if b else [])

    def ours(x, w, bias=None):
        return F.conv1d(x, w, bias, stride=s, padding=p, dilation=d, groups=g)

    def theirs(x, w, bias=None):
        return TF.conv1d(x, w, bias, stride=s, padding=p, dilation=d, groups=g)

    _compare_fn(ours, theirs, args)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding,stride,groups", [(1, 1, 1), (2, 2, 2), ("same", 1, 1)])
def test_conv1d_module(mode, padding, stride, groups):
    t = tnn.Conv1d(4, 6, 3, stride=stride, padding=padding, groups=groups, padding_mode=mode)
    o = nn.Conv1d(4, 6, 3, stride=stride, padding=padding, groups=groups, padding_mode=mode,
                  dtype=np.float64)
    _compare_module(o, t, _rng().standard_normal((2, 4, 8)))


# ---------------------------------------------------------------------------------
# conv_transpose2d / ConvTranspose2d

CONVT = [  # (x shape, c_out, k, stride, padding, output_padding, groups, dilation)
    ((2, 4, 5, 5), 6, 3, 1, 0, 0, 1, 1),
    ((2, 4, 4, 5), 6, (3, 2), 2, 1, 1, 2, 1),
    ((1, 3, 4, 4), 3, 3, (2, 3), (1, 2), (1, 2), 3, 1),
    ((2, 2, 3, 4), 4, 2, 2, 0, 1, 1, 1),  # output_padding beyond the padding
    ((1, 2, 4, 3), 2, 3, 1, 1, 1, 1, 2),  # output_padding < dilation, stride 1
    ((1, 2, 4, 3), 2, 3, 1, 0, 1, 1, 2),
    ((1, 2, 3, 3), 4, 3, 3, 2, 2, 2, 2),
    ((4, 3, 3), 2, 2, 2, 0, 0, 2, 1),  # unbatched
]


@pytest.mark.parametrize("xs,co,k,s,p,op,g,d", CONVT)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_functional(xs, co, k, s, p, op, g, d, bias):
    r = _rng()
    kk = (k, k) if isinstance(k, int) else k
    x = r.standard_normal(xs)
    w = r.standard_normal((xs[-3], co // g) + kk)
    args = [x, w] + ([r.standard_normal(co)] if bias else [])

    def ours(x, w, b=None):
        return F.conv_transpose2d(x, w, b, s, p, op, g, d)

    def theirs(x, w, b=None):
        return TF.conv_transpose2d(x, w, b, s, p, op, g, d)

    _compare_fn(ours, theirs, args)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 1), groups=2, dilation=(1, 2), bias=False)])
def test_conv_transpose2d_module(kw):
    t = tnn.ConvTranspose2d(4, 6, 3, **kw)
    o = nn.ConvTranspose2d(4, 6, 3, dtype=np.float64, **kw)
    _compare_module(o, t, _rng().standard_normal((2, 4, 5, 4)))


def test_conv_transpose2d_output_size():
    t = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    o = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, dtype=np.float64)
    x = _rng().standard_normal((1, 2, 4, 4))
    for size in ([7, 7], [8, 7], [8, 8]):
        _compare_module(o, t, x, size)
        o.zero_grad()
        t.zero_grad()
    with pytest.raises(ValueError, match="output size"):
        o(x, [9, 9])


def test_conv_transpose2d_second_order():
    r = _rng()
    x, w = r.standard_normal((1, 2, 3, 3)), r.standard_normal((2, 2, 2, 2))
    rep = cr.gradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1,
                                                       output_padding=1), x, w, order=2)
    assert rep, str(rep)


# ---------------------------------------------------------------------------------
# average pooling

POOL2D = [  # (kernel, stride, padding)
    (2, None, 0), (3, 2, 1), ((3, 2), (2, 1), (1, 0)), (3, 3, 1), (2, 1, 1), ((2, 3), 2, (1, 1)),
]


@pytest.mark.parametrize("k,s,p", POOL2D)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
def test_avg_pool2d(k, s, p, ceil_mode, count_include_pad, divisor_override):
    x = _rng().standard_normal((2, 3, 7, 6))
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode,
              count_include_pad=count_include_pad, divisor_override=divisor_override)
    _compare_fn(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), [x])
    _compare_module(nn.AvgPool2d(**kw), tnn.AvgPool2d(**kw), x)


@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (3, 3, 1), (4, 1, 2), (2, 3, 0)])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool1d(k, s, p, ceil_mode, count_include_pad):
    x = _rng().standard_normal((2, 3, 8))
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil_mode,
              count_include_pad=count_include_pad)
    _compare_fn(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw), [x])
    _compare_module(nn.AvgPool1d(**kw), tnn.AvgPool1d(**kw), x)
    _compare_fn(lambda x: F.avg_pool1d(x, **kw), lambda x: TF.avg_pool1d(x, **kw),
                [x[0]])  # unbatched


def test_avg_pool_unbatched_and_refusals():
    x = _rng().standard_normal((3, 7, 6))
    _compare_fn(lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), [x])
    with pytest.raises(ValueError, match="half"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError):
        nn.AvgPool2d(2, divisor_override=0)


@pytest.mark.parametrize("n,o", [(7, 3), (5, 5), (4, 7), (9, 1), (6, 4)])
def test_adaptive_avg_pool1d(n, o):
    x = _rng().standard_normal((2, 3, n))
    _compare_fn(lambda x: F.adaptive_avg_pool1d(x, o),
                lambda x: TF.adaptive_avg_pool1d(x, o), [x])
    _compare_module(nn.AdaptiveAvgPool1d(o), tnn.AdaptiveAvgPool1d(o), x)


@pytest.mark.parametrize("hw,o", [((7, 6), (3, 2)), ((5, 5), 5), ((4, 3), (7, 5)),
                                  ((7, 6), (3, None)), ((6, 9), 1), ((8, 8), (None, 3))])
@pytest.mark.parametrize("batched", [True, False])
def test_adaptive_avg_pool2d(hw, o, batched):
    x = _rng().standard_normal(((2,) if batched else ()) + (3,) + hw)
    _compare_fn(lambda x: F.adaptive_avg_pool2d(x, o),
                lambda x: TF.adaptive_avg_pool2d(x, o), [x])
    _compare_module(nn.AdaptiveAvgPool2d(o), tnn.AdaptiveAvgPool2d(o), x)


# ---------------------------------------------------------------------------------
# interpolate / Upsample

INTERP = [  # (input shape, mode, size, scale_factor, recompute_scale_factor)
    ((2, 3, 4, 3), "nearest", (5, 7), None, None),
    ((2, 3, 4, 3), "nearest", None, 2, None),
    ((2, 3, 4, 5), "nearest", None, 1.5, None),
    ((2, 3, 6, 5), "nearest", None, (0.5, 2.3), None),
    ((2, 3, 6, 5), "nearest", (3, 2), None, None),
    ((1, 2, 7), "nearest", 10, None, None),
    ((2, 3, 4, 5), "nearest-exact", None, 1.7, None),
    ((2, 3, 6, 5), "nearest-exact", (4, 9), None, None),
    ((2, 3, 4, 3), "bilinear", (7, 5), None, None),
    ((2, 3, 4, 3), "bilinear", None, 2, None),
    ((2, 3, 5, 4), "bilinear", None, 1.7, None),
    ((2, 3, 5, 4), "bilinear", None, 1.7, True),
    ((2, 3, 6, 5), "bilinear", (2, 2), None, None),
    ((2, 3, 6, 5), "bilinear", (1, 3), None, None),
    ((2, 3, 6, 5), "bilinear", None, (0.4, 0.75), None),
    ((1, 2, 7), "linear", 12, None, None),
    ((1, 2, 7), "linear", None, 0.6, None),
    ((1, 2, 3, 4, 3), "trilinear", (4, 5, 6), None, None),
    ((1, 2, 3, 4, 3), "nearest", (5, 3, 6), None, None),
    ((2, 3, 7, 6), "area", (3, 4), None, None),
    ((2, 3, 7), "area", None, 0.5, None),
]


@pytest.mark.parametrize("xs,mode,size,sf,rsf", INTERP)
@pytest.mark.parametrize("align_corners", [None, False, True])
def test_interpolate(xs, mode, size, sf, rsf, align_corners):
    if align_corners is not None and mode not in ("linear", "bilinear", "trilinear"):
        with pytest.raises(ValueError, match="align_corners"):
            F.interpolate(np.zeros(xs), size, sf, mode, align_corners)
        return
    x = _rng().standard_normal(xs)
    kw = dict(size=size, scale_factor=sf, mode=mode, align_corners=align_corners,
              recompute_scale_factor=rsf)
    _compare_fn(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [x])
    if mode != "area":
        _compare_module(nn.Upsample(**kw), tnn.Upsample(**kw), x)


def test_interpolate_refusals():
    x = np.zeros((1, 1, 4, 4))
    for kw, match in ((dict(size=3, mode="bicubic"), "bicubic"),
                      (dict(size=3, mode="bilinear", antialias=True), "antialias"),
                      (dict(size=3, mode="linear"), "linear"),
                      (dict(mode="nearest"), "size or scale_factor"),
                      (dict(size=3, scale_factor=2), "size or scale_factor")):
        with pytest.raises((ValueError, NotImplementedError), match=match):
            F.interpolate(x, **kw)


# ---------------------------------------------------------------------------------
# pad

PADS = [  # (input shape, pad, mode, value)
    ((2, 3, 5), (1, 2), "constant", None),
    ((2, 3, 4, 5), (1, 1, 2, 0), "constant", 0.5),
    ((2, 3, 4, 5), (-1, 2, 0, -2), "constant", 1.5),
    ((2, 3, 4, 5), (1, 0, 2, 1, 1, 1), "constant", None),
    ((2, 3, 5), (2, 1), "reflect", None),
    ((2, 3, 4, 5), (1, 2, 3, 1), "reflect", None),
    ((3, 4, 5), (4, 0, 0, 3), "reflect", None),
    ((2, 3, 5), (3, 1), "replicate", None),
    ((2, 3, 4, 5), (1, 2, 4, 1), "replicate", None),
    ((2, 3, 5), (2, 3), "circular", None),
    ((2, 3, 4, 5), (1, 5, 4, 2), "circular", None),
    ((1, 2, 3, 4, 3), (1, 1, 2, 0, 1, 2), "replicate", None),
]


@pytest.mark.parametrize("xs,p,mode,value", PADS)
def test_pad(xs, p, mode, value):
    x = _rng().standard_normal(xs)
    _compare_fn(lambda x: F.pad(x, p, mode, value), lambda x: TF.pad(x, p, mode, value), [x])


def test_pad_refusals():
    x = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match="smaller"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="at most"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(NotImplementedError, match="mode"):
        F.pad(x, (1, 0), mode="symmetric")
    with pytest.raises(ValueError, match="even"):
        F.pad(x, (1,))


# ---------------------------------------------------------------------------------
# group_norm / GroupNorm

GN = [((2, 6, 5), 3), ((2, 4, 3, 3), 2), ((3, 4, 5), 1), ((2, 4, 2, 3), 4), ((4, 6), 2),
      ((2, 4, 2, 2, 3), 2)]


@pytest.mark.parametrize("xs,g", GN)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(xs, g, affine):
    x = _rng().standard_normal(xs) * 3 + 1
    t = tnn.GroupNorm(g, xs[1], eps=1e-4, affine=affine)
    _randomise(t)
    _compare_module(nn.GroupNorm(g, xs[1], eps=1e-4, affine=affine, dtype=np.float64), t, x)
    if affine:
        r = _rng(3)
        w, b = r.standard_normal(xs[1]), r.standard_normal(xs[1])
        _compare_fn(lambda x, w, b: F.group_norm(x, g, w, b),
                    lambda x, w, b: TF.group_norm(x, g, w, b), [x, w, b])


def test_group_norm_bias_false_keys():
    assert list(nn.GroupNorm(2, 4, bias=False).state_dict()) == \
        list(tnn.GroupNorm(2, 4, bias=False).state_dict())
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 4)


# ---------------------------------------------------------------------------------
# activations, new and existing

EDGE = np.array([-30.0, -2.5, -1.0, -1e-3, 0.0, 1e-3, 0.7, 3.0, 25.0])


def _act_input(shape=(2, 3, 4)) -> np.ndarray:
    x = _rng().standard_normal(shape) * 2
    x.flat[: EDGE.size] = EDGE
    return x


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_elu(alpha):
    x = _act_input()
    _compare_fn(lambda x: F.elu(x, alpha), lambda x: TF.elu(x, alpha), [x])
    _compare_module(nn.ELU(alpha), tnn.ELU(alpha), x)


def test_elu_large_input_has_a_finite_gradient():
    x = cr.tensor(np.array([800.0, -800.0, 0.0]), requires_grad=True)
    F.elu(x).sum().backward()
    np.testing.assert_array_equal(x.grad._value, [1.0, 0.0, 1.0])


@pytest.mark.parametrize("num,init,xs", [(1, 0.25, (2, 3, 4)), (3, 0.1, (2, 3, 4)),
                                         (3, -0.5, (2, 3, 2, 2)), (1, 0.3, (5,)),
                                         (4, 0.2, (3, 4))])
def test_prelu(num, init, xs):
    x = _act_input(xs) if int(np.prod(xs)) >= EDGE.size else _rng().standard_normal(xs)
    t = tnn.PReLU(num, init)
    o = nn.PReLU(num, init, dtype=np.float64)
    np.testing.assert_array_equal(nn.PReLU(num, init).weight._value, t.weight.detach().numpy())
    _randomise(t)
    _compare_module(o, t, x)
    w = _rng(2).standard_normal(num)
    _compare_fn(F.prelu, TF.prelu, [x, w])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    x = _act_input()
    _compare_fn(lambda x: F.gelu(x, approximate), lambda x: TF.gelu(x, approximate=approximate),
                [x])
    _compare_module(nn.GELU(approximate), tnn.GELU(approximate), x)


@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 5.0), (3.0, 1.0)])
def test_softplus(beta, threshold):
    x = _act_input()
    _compare_fn(lambda x: F.softplus(x, beta, threshold),
                lambda x: TF.softplus(x, beta, threshold), [x])
    _compare_module(nn.Softplus(beta, threshold), tnn.Softplus(beta, threshold), x)


@pytest.mark.parametrize("slope", [0.01, 0.2, -0.1, 1.5])
def test_leaky_relu(slope):
    x = _act_input()
    _compare_fn(lambda x: F.leaky_relu(x, slope), lambda x: TF.leaky_relu(x, slope), [x])
    _compare_module(nn.LeakyReLU(slope), tnn.LeakyReLU(slope), x)


def test_silu_and_identity():
    x = _act_input()
    _compare_fn(F.silu, TF.silu, [x])
    _compare_module(nn.SiLU(), tnn.SiLU(), x)
    _compare_module(nn.Identity(3, k=4), tnn.Identity(3, k=4), x)


# ---------------------------------------------------------------------------------
# channel dropout


@pytest.mark.parametrize("cls,fn,xs", [(nn.Dropout1d, F.dropout1d, (6, 40, 5)),
                                       (nn.Dropout1d, F.dropout1d, (40, 5)),
                                       (nn.Dropout2d, F.dropout2d, (6, 40, 3, 2)),
                                       (nn.Dropout2d, F.dropout2d, (40, 3, 2))])
def test_channel_dropout(cls, fn, xs):
    x = _rng().standard_normal(xs) + 5.0
    p = 0.3
    m = cls(p, generator=np.random.default_rng(0))
    xt = cr.tensor(x, requires_grad=True)
    y = m(xt)
    spatial = 1 if cls is nn.Dropout1d else 2
    ratio = y._value / x
    per_channel = ratio.reshape(ratio.shape[: ratio.ndim - spatial] + (-1,))
    assert np.allclose(per_channel, per_channel[..., :1])  # one decision per channel
    vals = np.unique(np.round(per_channel[..., 0], 12))
    assert set(vals) <= {0.0, round(1 / (1 - p), 12)}
    dropped = float(np.mean(per_channel[..., 0] == 0))
    assert 0.1 < dropped < 0.5
    y.sum().backward()
    np.testing.assert_allclose(xt.grad._value, ratio)  # the gradient is the same mask
    m.eval()
    assert m(x) is x or np.array_equal(np.asarray(m(x)), x)
    assert fn(x, 0.0) is x
    np.testing.assert_array_equal(np.asarray(fn(x, 1.0)), np.zeros_like(x))
    with pytest.raises(NotImplementedError, match="inplace"):
        cls(p, inplace=True)
    with pytest.raises(NotImplementedError, match="inplace"):
        fn(x, p, inplace=True)
    with pytest.raises(cr.ShapeError):
        fn(x[..., 0, None, None, None], p) if x.ndim == spatial + 2 else fn(x[0, 0], p)


# ---------------------------------------------------------------------------------
# losses, new

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction, weighted):
    r = _rng()
    x = r.uniform(0.02, 0.98, (4, 5))
    t = r.uniform(0, 1, (4, 5))
    t[0] = r.integers(0, 2, 5)
    w = r.uniform(0.5, 2.0, (5,)) if weighted else None
    _compare_fn(lambda x, t: F.binary_cross_entropy(x, t, w, reduction=reduction),
                lambda x, t: TF.binary_cross_entropy(
                    x, t, None if w is None else torch.tensor(w), reduction=reduction), [x, t])
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    lo = nn.BCELoss(w, reduction=reduction)(xc, t)
    lt = tnn.BCELoss(None if w is None else torch.tensor(w), reduction=reduction)(
        xt, torch.tensor(t))
    _close(lo._value, lt.detach().numpy(), "BCELoss")


def test_binary_cross_entropy_boundaries():
    x = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    _close(np.asarray(F.binary_cross_entropy(x, t, reduction="none")),
           TF.binary_cross_entropy(torch.tensor(x), torch.tensor(t), reduction="none").numpy(),
           "clamped logs")
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(np.array([1.5]), np.array([1.0]))
    with pytest.raises(NotImplementedError, match="size_average"):
        nn.BCELoss(size_average=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
def test_huber_loss(reduction, delta):
    r = _rng()
    x, t = r.standard_normal((4, 6)) * 2, r.standard_normal((4, 6))
    _compare_fn(lambda x, t: F.huber_loss(x, t, reduction, delta),
                lambda x, t: TF.huber_loss(x, t, reduction, delta), [x, t])
    w = r.uniform(0.2, 2.0, (4, 6))
    _compare_fn(lambda x, t: F.huber_loss(x, t, reduction, delta, w),
                lambda x, t: TF.huber_loss(x, t, reduction, delta, torch.tensor(w)), [x, t])
    _compare_fn(lambda x, t: nn.HuberLoss(reduction, delta)(x, t),
                lambda x, t: tnn.HuberLoss(reduction, delta)(x, t), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
def test_smooth_l1_loss(reduction, beta):
    r = _rng()
    x, t = r.standard_normal((4, 6)) * 2, r.standard_normal((4, 6))
    _compare_fn(lambda x, t: F.smooth_l1_loss(x, t, reduction=reduction, beta=beta),
                lambda x, t: TF.smooth_l1_loss(x, t, reduction=reduction, beta=beta), [x, t])
    _compare_fn(lambda x, t: nn.SmoothL1Loss(reduction=reduction, beta=beta)(x, t),
                lambda x, t: tnn.SmoothL1Loss(reduction=reduction, beta=beta)(x, t), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    r = _rng()
    inp = np.log(r.dirichlet(np.ones(5), size=(3, 4)))
    p = r.dirichlet(np.ones(5), size=(3, 4))
    tgt = np.log(p) if log_target else p
    _compare_fn(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                [inp, tgt])
    _compare_fn(lambda a, b: nn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b),
                lambda a, b: tnn.KLDivLoss(reduction=reduction, log_target=log_target)(a, b),
                [inp, tgt])


def test_kl_div_zero_target():
    inp = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))
    tgt = np.array([[0.0, 0.4, 0.6], [0.5, 0.0, 0.5]])
    _compare_fn(lambda a, b: F.kl_div(a, b, reduction="batchmean"),
                lambda a, b: TF.kl_div(a, b, reduction="batchmean"), [inp, tgt], diff=(0,))
    with pytest.raises(ValueError, match="batchmean"):
        nn.KLDivLoss(reduction="avg")


# ---------------------------------------------------------------------------------
# losses, existing (completed here)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight,weight", [(None, None), ("vec", None), (None, "vec"),
                                               ("vec", "mat"), ("scalar", None)])
def test_bce_with_logits(reduction, pos_weight, weight):
    r = _rng()
    x, t = r.standard_normal((4, 5)) * 3, r.uniform(0, 1, (4, 5))
    x[0, :3] = [-40.0, 0.0, 40.0]
    shapes = {"vec": (5,), "mat": (4, 5), "scalar": (1,)}
    pw = None if pos_weight is None else r.uniform(0.5, 3, shapes[pos_weight])
    w = None if weight is None else r.uniform(0.5, 3, shapes[weight])

    def tt(a):
        return None if a is None else torch.tensor(a)

    _compare_fn(lambda x, t: F.binary_cross_entropy_with_logits(x, t, w, reduction, pw),
                lambda x, t: TF.binary_cross_entropy_with_logits(
                    x, t, tt(w), reduction=reduction, pos_weight=tt(pw)), [x, t])
    _compare_fn(lambda x, t: nn.BCEWithLogitsLoss(w, reduction, pw)(x, t),
                lambda x, t: tnn.BCEWithLogitsLoss(tt(w), reduction=reduction,
                                                   pos_weight=tt(pw))(x, t), [x, t])


CLASS_SHAPES = [((6, 4), (6,)), ((3, 4, 5), (3, 5)), ((2, 3, 2, 2), (2, 2, 2)), ((4,), ())]


@pytest.mark.parametrize("xs,ts", CLASS_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1])
def test_nll_loss(xs, ts, reduction, weighted, ignore_index):
    r = _rng()
    c = xs[0] if len(xs) == 1 else xs[1]
    x = np.log(r.dirichlet(np.ones(c), size=int(np.prod(xs)) // c)).reshape(
        (xs[0],) + xs[2:] + (c,)) if len(xs) > 1 else np.log(r.dirichlet(np.ones(c)))
    if len(xs) > 1:
        x = np.moveaxis(x, -1, 1).copy()
    t = r.integers(0, c, ts)
    if ts:
        t.flat[0] = 1  # at least one target is the ignored class where ignore_index = 1
        t.flat[-1] = 0  # and at least one is not
    w = r.uniform(0.5, 2, c) if weighted else None
    tw = None if w is None else torch.tensor(w)
    _compare_fn(lambda x: F.nll_loss(x, t, w, ignore_index, reduction),
                lambda x: TF.nll_loss(x, torch.tensor(t), tw, ignore_index=ignore_index,
                                      reduction=reduction), [x])
    _compare_fn(lambda x: nn.NLLLoss(w, ignore_index, reduction)(x, t),
                lambda x: tnn.NLLLoss(tw, ignore_index=ignore_index, reduction=reduction)(
                    x, torch.tensor(t)), [x])


@pytest.mark.parametrize("xs,ts", CLASS_SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_targets(xs, ts, reduction, weighted, ignore_index, smoothing):
    r = _rng()
    c = xs[0] if len(xs) == 1 else xs[1]
    x = r.standard_normal(xs) * 2
    t = r.integers(0, c, ts)
    if ts:
        t.flat[0] = 2
        t.flat[-1] = 0
    w = r.uniform(0.5, 2, c) if weighted else None
    tw = None if w is None else torch.tensor(w)
    _compare_fn(lambda x: F.cross_entropy(x, t, w, ignore_index, reduction, smoothing),
                lambda x: TF.cross_entropy(x, torch.tensor(t), tw, ignore_index=ignore_index,
                                           reduction=reduction, label_smoothing=smoothing), [x])
    _compare_fn(lambda x: nn.CrossEntropyLoss(w, ignore_index, reduction, smoothing)(x, t),
                lambda x: tnn.CrossEntropyLoss(tw, ignore_index=ignore_index, reduction=reduction,
                                               label_smoothing=smoothing)(x, torch.tensor(t)), [x])


@pytest.mark.parametrize("xs", [(6, 4), (3, 4, 5), (4,)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets(xs, reduction, weighted, smoothing):
    r = _rng()
    c = xs[0] if len(xs) == 1 else xs[1]
    x = r.standard_normal(xs) * 2
    p = r.dirichlet(np.ones(c), size=int(np.prod(xs)) // c)
    p = p.reshape(c) if len(xs) == 1 else np.moveaxis(p.reshape((xs[0],) + xs[2:] + (c,)),
                                                      -1, 1).copy()
    w = r.uniform(0.5, 2, c) if weighted else None
    tw = None if w is None else torch.tensor(w)
    _compare_fn(lambda x, p: F.cross_entropy(x, p, w, reduction=reduction,
                                             label_smoothing=smoothing),
                lambda x, p: TF.cross_entropy(x, p, tw, reduction=reduction,
                                              label_smoothing=smoothing), [x, p])


def test_all_ignored_mean_is_nan_like_torch():
    x = _rng().standard_normal((3, 4))
    t = np.array([1, 1, 1])
    _compare_fn(lambda x: F.cross_entropy(x, t, ignore_index=1),
                lambda x: TF.cross_entropy(x, torch.tensor(t), ignore_index=1), [x], diff=())


@pytest.mark.parametrize("shape,n", [((5,), -1), ((2, 3), 6), ((4,), 4)])
def test_one_hot(shape, n):
    t = _rng().integers(0, 4, shape)
    ours = F.one_hot(t, n)
    theirs = TF.one_hot(torch.tensor(t), n).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------------
# state_dict layouts, initialisation, dtypes, refusals

LAYERS = [
    ("Conv1d", (4, 6, 3), dict(groups=2)),
    ("Conv1d", (3, 5, (2,)), dict(bias=False, padding="same")),
    ("ConvTranspose2d", (4, 6, 3), dict(groups=2)),
    ("ConvTranspose2d", (3, 5, (2, 3)), dict(bias=False, output_padding=1, stride=2)),
    ("GroupNorm", (2, 6), dict()),
    ("GroupNorm", (3, 6), dict(affine=False)),
    ("PReLU", (), dict()),
    ("PReLU", (5, 0.1), dict()),
]


@pytest.mark.parametrize("name,args,kw", LAYERS)
def test_state_dict_layout_matches_torch(name, args, kw):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(tnn, name)(*args, **kw)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert tuple(sd[k].shape) == tuple(tsd[k].shape), k
    ours.load_state_dict(tsd)  # loads unchanged
    for k in sd:
        np.testing.assert_array_equal(_arr(ours.state_dict()[k]), tsd[k].numpy())


@pytest.mark.parametrize("name,args,kw", [row for row in LAYERS if row[0].startswith("Conv")])
def test_conv_init_bounds_match_torch(name, args, kw):
    """kaiming_uniform_(a=sqrt(5)) and the bias in ±1/sqrt(fan_in): the largest weights of
    a big layer reach the same bound as PyTorch's."""
    big = (args[0] * 4, args[1] * 4) + args[2:]
    ours = getattr(nn, name)(*big, **kw, generator=np.random.default_rng(0))
    theirs = getattr(tnn, name)(*big, **kw)
    w = theirs.weight
    bound = 1 / np.sqrt(w.shape[1] * int(np.prod(w.shape[2:])))  # the bias bound, and
    for k, v in theirs.state_dict().items():  # the weight's: sqrt(6 / ((1 + 5) fan_in))
        a, b = np.abs(_arr(ours.state_dict()[k])).max(), v.abs().max().item()
        assert a <= bound * (1 + 1e-6) and b <= bound * (1 + 1e-6), (k, a, b, bound)
        if k == "weight":  # thousands of draws: both reach the bound
            assert a > 0.98 * bound and b > 0.98 * bound, (k, a, b, bound)


FLOAT32 = [
    (lambda: nn.Conv1d(2, 4, 3), (2, 2, 7)),
    (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=1), (2, 2, 3, 3)),
    (lambda: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 2, 7)),
    (lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True), (2, 2, 7, 6)),
    (lambda: nn.AdaptiveAvgPool1d(3), (2, 2, 7)),
    (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 6)),
    (lambda: nn.Upsample(scale_factor=2, mode="nearest"), (2, 2, 3, 3)),
    (lambda: nn.Upsample(size=(5, 4), mode="bilinear", align_corners=True), (2, 2, 3, 3)),
    (lambda: nn.Upsample(size=(5, 4), mode="bilinear"), (2, 2, 3, 3)),
    (lambda: nn.GroupNorm(2, 4), (2, 4, 3)),
    (lambda: nn.Dropout1d(0.3), (2, 4, 3)),
    (lambda: nn.Dropout2d(0.3), (2, 4, 3, 3)),
    (lambda: nn.ELU(0.5), (2, 4)),
    (lambda: nn.PReLU(4), (2, 4, 3)),
]


@pytest.mark.parametrize("make,xs", FLOAT32)
def test_float32_stays_float32(make, xs):
    m = make()
    x = cr.tensor(_rng().standard_normal(xs).astype(np.float32), requires_grad=True)
    y = m(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    for name, p in m.named_parameters():
        assert p.grad.dtype == np.float32, name


@pytest.mark.parametrize("fn,args", [
    (F.pad, ((1, 1, 2, 0), "reflect")),
    (F.interpolate, (None, 2.0, "bilinear")),
    (F.avg_pool2d, (2,)),
    (F.adaptive_avg_pool2d, (2,)),
    (F.elu, ()),
])
def test_float32_functional(fn, args):
    x = cr.tensor(_rng().standard_normal((1, 2, 4, 4)).astype(np.float32), requires_grad=True)
    y = fn(x, *args)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    losses = [F.huber_loss(x, x * 0.5), F.smooth_l1_loss(x, x * 0.5), F.kl_div(x, x * 0.0 + 0.25),
              F.binary_cross_entropy(F.sigmoid(x), x * 0.0 + 0.5)]
    for loss in losses:
        assert loss.dtype == np.float32


def test_refusals_name_the_argument():
    with pytest.raises(ValueError, match="padding_mode"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv1d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(np.zeros((1, 2, 3, 3)), np.zeros((2, 2, 3, 3)), output_padding=1)
    with pytest.raises(NotImplementedError, match="inplace"):
        nn.ELU(inplace=True)
    with pytest.raises(NotImplementedError, match="size_average"):
        F.smooth_l1_loss(np.zeros(2), np.zeros(2), size_average=True)
    with pytest.raises(NotImplementedError, match="reduce"):
        nn.KLDivLoss(reduce=False)
    with pytest.raises(ValueError, match="delta"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(ValueError, match="beta"):
        nn.SmoothL1Loss(beta=-1.0)
    with pytest.raises(ValueError, match="strided"):
        F.conv1d(np.zeros((1, 2, 5)), np.zeros((2, 2, 3)), stride=2, padding="same")
    with pytest.raises(cr.ShapeError, match="channels"):
        F.conv1d(np.zeros((1, 3, 5)), np.zeros((2, 2, 3)))
    with pytest.raises(cr.ShapeError, match="channels"):
        F.prelu(np.zeros((2, 3, 4)), np.zeros(4))


def test_worst_disagreement_is_reported():
    """Not a check of its own: prints the largest relative disagreement seen by the tests
    that ran before it in this module (pytest -s shows it)."""
    print(f"\nlargest relative disagreement with torch: {WORST[0]:.3g}")
    assert WORST[0] <= TOL
