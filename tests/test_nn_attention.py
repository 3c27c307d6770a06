"""Attention and transformer layers against PyTorch in float64: a seeded torch module's
state_dict loads into ours; outputs, attention weights and the gradients with respect to the
inputs and every parameter agree to ~1e-10 relative."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
tnn = torch.nn
TF = torch.nn.functional

RTOL = 1e-10


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)


def _close(ours, theirs, what: str) -> None:
    a = np.asarray(ours._value if isinstance(ours, cr.Tensor) else ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert a.dtype == np.float64, (what, a.dtype)
    scale = max(1.0, float(np.nanmax(np.abs(b)))) if b.size and not np.isnan(b).all() else 1.0
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def _load(ours: nn.Module, theirs: torch.nn.Module) -> None:
    assert list(ours.state_dict()) == list(theirs.state_dict())
    res = ours.load_state_dict(theirs.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []


def _leaves(arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    ours = {k: cr.Tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    return ours, theirs


def _backward_and_compare(outs, touts, ours_leaves, their_leaves, ours=None, theirs=None,
                          seed: int = 0) -> None:
    """Compare the outputs, then pull the same random cotangent back through both and compare
    the gradients of the inputs and of every parameter (names as torch's, same order)."""
    r = np.random.default_rng(seed)
    loss = tloss = None
    for i, (o, t) in enumerate(zip(outs, touts)):
        if t is None:
            assert o is None, f"output {i}: torch gives None"
            continue
        _close(o, t, f"output {i}")
        u = r.standard_normal(tuple(t.shape))
        term, tterm = (o * u).sum(), (t * torch.tensor(u)).sum()
        loss = term if loss is None else loss + term
        tloss = tterm if tloss is None else tloss + tterm
    loss.backward()
    tloss.backward()
    for k in ours_leaves:
        if their_leaves[k].grad is None:
            assert ours_leaves[k].grad is None, k
        else:
            _close(ours_leaves[k].grad, their_leaves[k].grad, f"d/d {k}")
    if ours is not None:
        tp = dict(theirs.named_parameters())
        names = [n for n, _ in ours.named_parameters()]
        assert names == list(tp)
        for n, p in ours.named_parameters():
            if tp[n].grad is None:
                assert p.grad is None, n
            else:
                assert p.grad is not None, n
                _close(p.grad, tp[n].grad, f"d/d {n}")


def _mha_pair(E=8, H=2, **kw):
    t = tnn.MultiheadAttention(E, H, **kw).double()
    with torch.no_grad():  # non-zero biases, so that their gradients and use are checked
        for n, p in t.named_parameters():
            if "bias" in n:
                p.normal_()
    o = nn.MultiheadAttention(E, H, dtype=np.float64, **kw)
    _load(o, t)
    return o, t


R = np.random.default_rng(0)


def _rand(*shape):
    return R.standard_normal(shape)


def _tmask(m):
    return None if m is None else torch.tensor(m)


# --------------------------------------------------------------------------------------
# scaled_dot_product_attention


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
def test_sdpa_matches_torch(lead, mask):
    L, S, Ed, Ev = 4, 6, 5, 3
    ours, theirs = _leaves({"q": _rand(*lead, L, Ed), "k": _rand(*lead, S, Ed),
                            "v": _rand(*lead, S, Ev)})
    kw, tkw = {}, {}
    if mask == "bool":
        m = R.random((L, S)) > 0.4
        m[:, 0] = True
        kw["attn_mask"], tkw["attn_mask"] = m, torch.tensor(m)
    elif mask == "float":
        m = _rand(*lead[-1:], L, S)
        kw["attn_mask"], tkw["attn_mask"] = m, torch.tensor(m)
    elif mask == "causal":
        kw["is_causal"] = tkw["is_causal"] = True
    out = F.scaled_dot_product_attention(ours["q"], ours["k"], ours["v"], **kw)
    tout = TF.scaled_dot_product_attention(theirs["q"], theirs["k"], theirs["v"], **tkw)
    _backward_and_compare([out], [tout], ours, theirs)


def test_sdpa_scale_gqa_and_differentiable_float_mask():
    ours, theirs = _leaves({"q": _rand(2, 4, 3, 5), "k": _rand(2, 2, 6, 5),
                            "v": _rand(2, 2, 6, 4), "m": _rand(3, 6)})
    out = F.scaled_dot_product_attention(ours["q"], ours["k"], ours["v"], attn_mask=ours["m"],
                                         scale=0.3, enable_gqa=True)
    tout = TF.scaled_dot_product_attention(theirs["q"], theirs["k"], theirs["v"],
                                           attn_mask=theirs["m"], scale=0.3, enable_gqa=True)
    _backward_and_compare([out], [tout], ours, theirs)


def test_sdpa_fully_masked_rows_give_zeros_like_torch():
    ours, theirs = _leaves({"q": _rand(2, 3, 4), "k": _rand(2, 5, 4), "v": _rand(2, 5, 4)})
    m = R.random((3, 5)) > 0.5
    m[0] = True
    m[1] = False
    out = F.scaled_dot_product_attention(ours["q"], ours["k"], ours["v"], attn_mask=m)
    tout = TF.scaled_dot_product_attention(theirs["q"], theirs["k"], theirs["v"],
                                           attn_mask=torch.tensor(m))
    assert np.all(out._value[:, 1] == 0)
    _backward_and_compare([out], [tout], ours, theirs)


def test_sdpa_refusals():
    q = _rand(3, 4)
    with pytest.raises(ValueError, match="is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(cr.ShapeError if hasattr(cr, "ShapeError") else Exception):
        F.scaled_dot_product_attention(q, _rand(3, 5), _rand(3, 5))
    with pytest.raises(TypeError, match="bool and floating"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), int))
    with pytest.raises(ValueError, match="dropout"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.5)


def test_sdpa_dropout_is_reproducible_with_manual_seed():
    q, k, v = _rand(2, 5, 4), _rand(2, 7, 4), _rand(2, 7, 3)
    cr.manual_seed(11)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    cr.manual_seed(11)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    c = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    clean = F.scaled_dot_product_attention(q, k, v)
    a, b, c, clean = (np.asarray(getattr(x, "_value", x)) for x in (a, b, c, clean))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.allclose(a, clean)
    # the dropout acts on the weights: dropping every weight gives zeros
    full = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    np.testing.assert_array_equal(np.asarray(getattr(full, "_value", full)), np.zeros_like(clean))


# --------------------------------------------------------------------------------------
# MultiheadAttention


def _mha_run(o, t, q, k=None, v=None, self_attn=False, **kw):
    """Run both on the same inputs; masks in kw are numpy (converted for torch)."""
    arrays = {"q": q} if self_attn else {"q": q, "k": k, "v": v}
    ours, theirs = _leaves(arrays)
    tkw = {n: (torch.tensor(a) if isinstance(a, np.ndarray) else a) for n, a in kw.items()}
    if self_attn:
        out = o(ours["q"], ours["q"], ours["q"], **kw)
        tout = t(theirs["q"], theirs["q"], theirs["q"], **tkw)
    else:
        out = o(ours["q"], ours["k"], ours["v"], **kw)
        tout = t(theirs["q"], theirs["k"], theirs["v"], **tkw)
    _backward_and_compare(list(out), list(tout), ours, theirs, o, t)
    return out


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_self_attention_matches_torch(batch_first, need_weights, average):
    o, t = _mha_pair(8, 2, batch_first=batch_first)
    x = _rand(3, 5, 8) if batch_first else _rand(5, 3, 8)
    out, w = _mha_run(o, t, x, self_attn=True, need_weights=need_weights,
                      average_attn_weights=average)
    N, L = 3, 5
    assert out.shape == x.shape
    if need_weights:
        assert w.shape == ((N, L, L) if average else (N, 2, L, L))
    else:
        assert w is None


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_cross_attention_kdim_vdim(batch_first):
    o, t = _mha_pair(6, 3, kdim=4, vdim=7, batch_first=batch_first)
    assert o.in_proj_weight is None and o.q_proj_weight.shape == (6, 6)
    assert o.k_proj_weight.shape == (6, 4) and o.v_proj_weight.shape == (6, 7)
    lead = (lambda n, s: (n, s)) if batch_first else (lambda n, s: (s, n))
    q, k, v = _rand(*lead(2, 3), 6), _rand(*lead(2, 5), 4), _rand(*lead(2, 5), 7)
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    for nw in (True, False):
        torch.manual_seed(0)
        _mha_run(o, t, q, k, v, key_padding_mask=kpm, need_weights=nw)
        o.zero_grad()
        t.zero_grad()


@pytest.mark.parametrize("opts", [dict(bias=False), dict(add_bias_kv=True),
                                  dict(add_zero_attn=True),
                                  dict(add_bias_kv=True, add_zero_attn=True)])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_bias_options(opts, need_weights):
    o, t = _mha_pair(8, 4, **opts)
    q, kv = _rand(3, 2, 8), _rand(5, 2, 8)
    kpm = np.zeros((2, 5), bool)
    kpm[0, -1] = True
    am = R.random((3, 5)) > 0.7
    _mha_run(o, t, q, kv, kv, key_padding_mask=kpm, attn_mask=am, need_weights=need_weights,
             average_attn_weights=False)


def _mask(kind, shape):
    if kind == "bool":
        m = R.random(shape) > 0.6
        m[..., 0] = False  # every query keeps one key
        return m
    return _rand(*shape)


@pytest.mark.parametrize("attn", [None, "bool", "float", "bool3", "float3"])
@pytest.mark.parametrize("kpm", [None, "bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.filterwarnings("ignore:Support for mismatched")  # torch, on mixed mask types
def test_mha_masks(attn, kpm, need_weights):
    E, H, N, L, S = 6, 2, 3, 4, 5
    o, t = _mha_pair(E, H)
    kw = {"need_weights": need_weights}
    if attn is not None:
        kw["attn_mask"] = _mask(attn[:-1] if attn.endswith("3") else attn,
                                (N * H, L, S) if attn.endswith("3") else (L, S))
    if kpm is not None:
        kw["key_padding_mask"] = _mask(kpm, (N, S))
    _mha_run(o, t, _rand(L, N, E), _rand(S, N, E), _rand(S, N, E), **kw)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("with_kpm", [False, True])
def test_mha_is_causal_hint(need_weights, with_kpm):
    o, t = _mha_pair(8, 2, batch_first=True)
    causal = np.triu(np.ones((4, 4), bool), 1)
    kw = dict(attn_mask=causal, is_causal=True, need_weights=need_weights)
    if with_kpm:
        kpm = np.zeros((3, 4), bool)
        kpm[2, -1] = True
        kw["key_padding_mask"] = kpm
    _mha_run(o, t, _rand(3, 4, 8), self_attn=True, **kw)
    with pytest.raises(ValueError, match="Need attn_mask"):
        o(_rand(3, 4, 8), _rand(3, 4, 8), _rand(3, 4, 8), is_causal=True)


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # torch: bool kpm, float mask
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched(need_weights):
    o, t = _mha_pair(8, 2, batch_first=True)
    kpm = np.array([False, False, True, False, False])
    am = _rand(2, 3, 5)  # (num_heads, L, S)
    out, w = _mha_run(o, t, _rand(3, 8), _rand(5, 8), _rand(5, 8), key_padding_mask=kpm,
                      attn_mask=am, need_weights=need_weights)
    assert out.shape == (3, 8)
    assert w is None or w.shape == (3, 5)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the NaN row, as torch's
def test_mha_float_mask_gradient_and_fully_masked_rows():
    o, t = _mha_pair(4, 2)
    x = _rand(3, 2, 4)
    ours, theirs = _leaves({"x": x, "m": _rand(3, 3)})
    out = o(ours["x"], ours["x"], ours["x"], attn_mask=ours["m"])
    tout = t(theirs["x"], theirs["x"], theirs["x"], attn_mask=theirs["m"])
    _backward_and_compare(list(out), list(tout), ours, theirs, o, t)
    # a query whose every key is masked: NaN with the weights (plain softmax), zeros
    # without them (scaled_dot_product_attention), as in torch
    m = np.zeros((3, 3), bool)
    m[1] = True
    tx = torch.tensor(x)
    for nw in (True, False):
        ot, wt = o(x, x, x, attn_mask=m, need_weights=nw)
        tt, twt = t(tx, tx, tx, attn_mask=torch.tensor(m), need_weights=nw)
        np.testing.assert_array_equal(np.isnan(ot._value), np.isnan(tt.detach().numpy()))
        _close(np.nan_to_num(ot._value), np.nan_to_num(tt.detach().numpy()), "masked row")
        assert nw == bool(np.isnan(ot._value).any())


def test_mha_parameters_init_and_state_dict_like_torch():
    for kw in (dict(), dict(bias=False), dict(add_bias_kv=True), dict(kdim=3, vdim=5),
               dict(kdim=3, vdim=5, bias=False, add_bias_kv=True)):
        t = tnn.MultiheadAttention(8, 2, **kw)
        cr.manual_seed(0)
        o = nn.MultiheadAttention(8, 2, **kw)
        assert [(n, tuple(p.shape)) for n, p in o.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in t.named_parameters()]
        assert list(o.state_dict()) == list(t.state_dict())
        assert o.out_proj.weight.dtype == np.float32
        if o.in_proj_bias is not None:
            assert not o.in_proj_bias._value.any() and not o.out_proj.bias._value.any()
        w = o.in_proj_weight if o.in_proj_weight is not None else o.q_proj_weight
        fan_in, fan_out = w.shape[1], w.shape[0]
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        assert np.abs(w._value).max() <= bound and np.abs(w._value).max() > 0.5 * bound
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)


def test_mha_refusals():
    o = nn.MultiheadAttention(4, 2, dtype=np.float64)
    x = _rand(3, 2, 4)
    with pytest.raises(cr.ShapeError if hasattr(cr, "ShapeError") else Exception,
                       match="2D attn_mask"):
        o(x, x, x, attn_mask=np.zeros((2, 3), bool))
    with pytest.raises(Exception, match="3D attn_mask"):
        o(x, x, x, attn_mask=np.zeros((2, 3, 3), bool))
    with pytest.raises(Exception, match="key_padding_mask"):
        o(x, x, x, key_padding_mask=np.zeros((3, 2), bool))
    with pytest.raises(TypeError, match="bool and floating"):
        o(x, x, x, attn_mask=np.zeros((3, 3), np.int64))
    with pytest.raises(Exception, match="embedding dimension"):
        o(_rand(3, 2, 6), _rand(3, 2, 6), _rand(3, 2, 6))


def test_mha_dropout_train_mode_reproducible_and_eval_is_clean():
    o = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=np.float64)
    x = _rand(4, 2, 8)
    cr.manual_seed(5)
    a, wa = o(x, x, x)
    cr.manual_seed(5)
    b, wb = o(x, x, x)
    np.testing.assert_array_equal(a._value, b._value)
    np.testing.assert_array_equal(wa._value, wb._value)
    cr.manual_seed(5)
    c, _ = o(x, x, x, need_weights=False)  # the sdpa path draws its own mask, reproducibly
    cr.manual_seed(5)
    d, _ = o(x, x, x, need_weights=False)
    np.testing.assert_array_equal(c._value, d._value)
    o.eval()
    e1, _ = o(x, x, x)
    e2, _ = o(x, x, x)
    np.testing.assert_array_equal(e1._value, e2._value)
    assert not np.allclose(a._value, e1._value)


# --------------------------------------------------------------------------------------
# transformer layers


def _enc_pair(norm_first, activation, batch_first, d=8, h=2, ff=16, bias=True):
    t = tnn.TransformerEncoderLayer(d, h, ff, dropout=0.1, activation=activation,
                                    batch_first=batch_first, norm_first=norm_first,
                                    bias=bias).double()
    o = nn.TransformerEncoderLayer(d, h, ff, dropout=0.1, activation=activation,
                                   batch_first=batch_first, norm_first=norm_first, bias=bias,
                                   dtype=np.float64)
    with torch.no_grad():
        for n, p in t.named_parameters():
            if "norm" in n or "bias" in n:
                p.normal_()  # LayerNorm weights off 1 and biases off 0
    _load(o, t)
    t.eval()
    o.eval()
    return o, t


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    o, t = _enc_pair(norm_first, activation, batch_first)
    N, S, d = 3, 5, 8
    src = _rand(N, S, d) if batch_first else _rand(S, N, d)
    kpm = np.zeros((N, S), bool)
    kpm[1, -2:] = True
    causal = np.triu(np.ones((S, S), bool), 1)
    for kw in ({}, {"src_key_padding_mask": kpm}, {"src_mask": causal, "is_causal": True},
               {"src_mask": _rand(S, S), "src_key_padding_mask": _rand(N, S)}):
        o.zero_grad()
        t.zero_grad()
        ours, theirs = _leaves({"src": src})
        tkw = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kw.items()}
        _backward_and_compare([o(ours["src"], **kw)], [t(theirs["src"], **tkw)], ours, theirs,
                              o, t)


def test_encoder_layer_unbatched_no_bias_and_module_activation():
    t = tnn.TransformerEncoderLayer(8, 4, 12, activation=tnn.GELU(), bias=False).double()
    o = nn.TransformerEncoderLayer(8, 4, 12, activation=nn.GELU(), bias=False, dtype=np.float64)
    assert [n for n, _ in o.named_modules()] == [n for n, _ in t.named_modules()]
    _load(o, t)
    t.eval()
    o.eval()
    ours, theirs = _leaves({"src": _rand(5, 8)})
    _backward_and_compare([o(ours["src"])], [t(theirs["src"])], ours, theirs, o, t)


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # torch: bool kpm, float mask
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_stack_matches_torch(norm_first, activation):
    layer_t = tnn.TransformerEncoderLayer(8, 2, 16, activation=activation, norm_first=norm_first,
                                          batch_first=True)
    t = tnn.TransformerEncoder(layer_t, 2, norm=tnn.LayerNorm(8), enable_nested_tensor=False)
    t.double().eval()
    layer_o = nn.TransformerEncoderLayer(8, 2, 16, activation=activation, norm_first=norm_first,
                                         batch_first=True, dtype=np.float64)
    o = nn.TransformerEncoder(layer_o, 2, norm=nn.LayerNorm(8, dtype=np.float64))
    assert o.layers[0] is not layer_o and o.layers[0] is not o.layers[1]
    _load(o, t)
    o.eval()
    src = _rand(2, 6, 8)
    causal = np.triu(np.full((6, 6), -np.inf), 1)  # recognised as causal (is_causal=None)
    kpm = np.zeros((2, 6), bool)
    kpm[0, -1] = True
    for kw in ({}, {"mask": causal}, {"mask": causal, "src_key_padding_mask": kpm}):
        o.zero_grad()
        t.zero_grad()
        ours, theirs = _leaves({"src": src})
        tkw = {n: torch.tensor(a) for n, a in kw.items()}
        _backward_and_compare([o(ours["src"], **kw)], [t(theirs["src"], **tkw)], ours, theirs,
                              o, t)


def _dec_pair(norm_first, activation, batch_first, d=8, h=2, ff=16):
    t = tnn.TransformerDecoderLayer(d, h, ff, activation=activation, batch_first=batch_first,
                                    norm_first=norm_first).double()
    o = nn.TransformerDecoderLayer(d, h, ff, activation=activation, batch_first=batch_first,
                                   norm_first=norm_first, dtype=np.float64)
    with torch.no_grad():
        for n, p in t.named_parameters():
            if "norm" in n or "bias" in n:
                p.normal_()
    _load(o, t)
    t.eval()
    o.eval()
    return o, t


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, activation, batch_first):
    o, t = _dec_pair(norm_first, activation, batch_first)
    N, T, S, d = 2, 4, 5, 8
    tgt = _rand(N, T, d) if batch_first else _rand(T, N, d)
    mem = _rand(N, S, d) if batch_first else _rand(S, N, d)
    causal = np.triu(np.ones((T, T), bool), 1)
    mkpm = np.zeros((N, S), bool)
    mkpm[1, -2:] = True
    tkpm = np.zeros((N, T), bool)
    tkpm[0, -1] = True
    for kw in ({}, {"tgt_mask": causal, "tgt_is_causal": True},
               {"tgt_mask": causal, "memory_key_padding_mask": mkpm,
                "tgt_key_padding_mask": tkpm},
               {"memory_mask": _rand(T, S), "tgt_mask": _rand(T, T)}):
        o.zero_grad()
        t.zero_grad()
        ours, theirs = _leaves({"tgt": tgt, "mem": mem})
        tkw = {n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kw.items()}
        _backward_and_compare([o(ours["tgt"], ours["mem"], **kw)],
                              [t(theirs["tgt"], theirs["mem"], **tkw)], ours, theirs, o, t)


def test_decoder_stack_and_full_transformer_match_torch():
    t = tnn.Transformer(8, 2, 2, 2, 16, batch_first=True).double().eval()
    o = nn.Transformer(8, 2, 2, 2, 16, batch_first=True, dtype=np.float64)
    assert list(o.state_dict()) == list(t.state_dict())
    _load(o, t)
    o.eval()
    src, tgt = _rand(2, 5, 8), _rand(2, 4, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(4, np.float64)
    np.testing.assert_array_equal(
        mask, tnn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64).numpy())
    ours, theirs = _leaves({"src": src, "tgt": tgt})
    _backward_and_compare([o(ours["src"], ours["tgt"], tgt_mask=mask)],
                          [t(theirs["src"], theirs["tgt"], tgt_mask=torch.tensor(mask))],
                          ours, theirs, o, t)
    # the decoder stack alone, with tgt_is_causal detected from the mask
    td = tnn.TransformerDecoder(tnn.TransformerDecoderLayer(8, 2, 16), 3).double().eval()
    od = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dtype=np.float64), 3)
    _load(od, td)
    od.eval()
    ours, theirs = _leaves({"tgt": _rand(4, 2, 8), "mem": _rand(5, 2, 8)})
    _backward_and_compare([od(ours["tgt"], ours["mem"], tgt_mask=mask)],
                          [td(theirs["tgt"], theirs["mem"], tgt_mask=torch.tensor(mask))],
                          ours, theirs, od, td)


def test_state_dict_keys_identical_to_torch():
    pairs = [
        (tnn.TransformerEncoderLayer(8, 2, 16), nn.TransformerEncoderLayer(8, 2, 16)),
        (tnn.TransformerEncoderLayer(8, 2, 16, bias=False),
         nn.TransformerEncoderLayer(8, 2, 16, bias=False)),
        (tnn.TransformerDecoderLayer(8, 2, 16), nn.TransformerDecoderLayer(8, 2, 16)),
        (tnn.TransformerEncoder(tnn.TransformerEncoderLayer(8, 2, 16), 3, tnn.LayerNorm(8),
                                enable_nested_tensor=False),
         nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 3, nn.LayerNorm(8))),
        (tnn.TransformerDecoder(tnn.TransformerDecoderLayer(8, 2, 16), 2),
         nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2)),
    ]
    for t, o in pairs:
        ts, os_ = t.state_dict(), o.state_dict()
        assert list(os_) == list(ts)
        assert all(os_[k].shape == tuple(ts[k].shape) for k in ts)
        assert [n for n, _ in o.named_modules()] == [n for n, _ in t.named_modules()]


def test_transformer_refusals():
    with pytest.raises(ValueError, match="relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(TypeError):
        nn.TransformerDecoderLayer(8, 2, activation=3)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dtype=np.float64)
    with pytest.raises(ValueError, match="Need attn_mask"):
        layer(_rand(3, 2, 8), is_causal=True)
    with pytest.raises(Exception, match="batch number"):
        nn.Transformer(8, 2, 1, 1, 16)(_rand(3, 2, 8), _rand(3, 4, 8))


def test_train_mode_dropout_reproducible_with_manual_seed():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, dtype=np.float64)
    dec = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.3, dtype=np.float64)
    x, m = _rand(5, 2, 8), _rand(4, 2, 8)
    runs = []
    for _ in range(2):
        cr.manual_seed(123)
        y = layer(x)
        z = dec(x, m)
        y.sum().backward()
        runs.append((y._value.copy(), z._value.copy(), layer.linear1.weight.grad._value.copy()))
        layer.zero_grad()
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    cr.manual_seed(124)
    assert not np.array_equal(layer(x)._value, runs[0][0])
    layer.eval()
    assert not np.allclose(layer(x)._value, runs[0][0])
    np.testing.assert_array_equal(layer(x)._value, layer(x)._value)


@pytest.mark.parametrize("train", [False, True])
def test_compiled_encoder_layer_matches_eager(train):
    def make():
        cr.manual_seed(0)
        return nn.TransformerEncoderLayer(8, 2, 16, dropout=0.2, batch_first=True,
                                          dtype=np.float64)
    x = _rand(3, 5, 8)
    u = _rand(3, 5, 8)
    results = []
    for compiled in (False, True):
        model = make().train(train)
        run = cr.compile(model) if compiled else model
        outs = []
        for step in range(3):
            cr.manual_seed(40 + step)
            y = run(x)
            (y * u).sum().backward()
            outs.append((y._value.copy(),
                         [p.grad._value.copy() for p in model.parameters()]))
            model.zero_grad()
        results.append(outs)
    for (y0, g0), (y1, g1) in zip(*results):
        np.testing.assert_allclose(y1, y0, rtol=1e-12, atol=1e-12)
        for a, b in zip(g0, g1):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
