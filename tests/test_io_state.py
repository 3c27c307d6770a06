"""States through cr.save / cr.load: every optimizer's and scheduler's state_dict() comes
back with the same types and bit-identical values from .npz and .safetensors, a loaded
optimizer continues exactly as the one that was saved, hostile or damaged files are refused
with a CheckpointError that says why, and values a state cannot hold are refused before a
byte is written."""

from __future__ import annotations

import collections
import enum
import inspect
import json
import math
import os
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import io as crio
from chainrule import nn, optim
from chainrule.optim import lr_scheduler as lrs

FORMATS = ["npz", "safetensors"]


def same(a, b, where="state"):
    """a and b have the same types all the way down and the same bits in every value."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for (ka, va), kb in zip(a.items(), b, strict=True):
            assert type(ka) is type(kb), f"{where}: key {ka!r} type"
            same(va, b[kb], f"{where}/{ka}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}/{i}")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape}"
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), where
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def round_trip(obj, tmp_path, fmt, name="s"):
    p = tmp_path / f"{name}.{fmt}"
    cr.save(obj, p)
    return cr.load(p)


def refused(path, *words):
    """cr.load refuses ``path`` on purpose with a message naming the file and ``words``."""
    with pytest.raises(crio.CheckpointError) as info:
        cr.load(path)
    msg = str(info.value)
    assert str(path) in msg and "uncaught" not in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


# --- optimizers ---------------------------------------------------------------------------

OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1),
    "SGD-momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1,
                                          weight_decay=1e-3),
    "SGD-nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                          maximize=True),
    "Adam": lambda ps: optim.Adam(ps, lr=1e-2, betas=(0.8, 0.99)),
    "Adam-amsgrad": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=1e-2),
    "AdamW": lambda ps: optim.AdamW(ps, lr=1e-2),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=1e-2),
    "RMSprop-centered": lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.5, centered=True),
}


def test_every_optimizer_is_covered():
    classes = {n for n in optim.__all__ if inspect.isclass(getattr(optim, n))
               and issubclass(getattr(optim, n), optim.Optimizer) and n != "Optimizer"}
    assert classes and classes <= {k.split("-")[0] for k in OPTIMIZERS}


def _model(seed=0):
    nn.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _groups(model):
    ps = list(model.parameters())
    return [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.03}]


def _steps(model, opt, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x = rng.standard_normal((5, 3))
        loss = (model(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_round_trips_and_continues_exactly(tmp_path, fmt, name):
    model = _model()
    opt = OPTIMIZERS[name](_groups(model))
    _steps(model, opt, 3, seed=1)
    sd = opt.state_dict()
    if name != "SGD":  # plain SGD keeps no per-parameter state
        assert sorted(sd["state"]) == [0, 1, 2, 3]
    back = round_trip(sd, tmp_path, fmt)
    same(sd, back)
    assert all(type(k) is int for k in back["state"])
    if "betas" in sd["param_groups"][0]:
        assert type(back["param_groups"][0]["betas"]) is tuple

    # a fresh model and optimizer, given the saved weights and the loaded state, go on
    # exactly as the original
    twin = _model(seed=5)
    twin.load_state_dict(model.state_dict())
    opt2 = OPTIMIZERS[name](_groups(twin))
    opt2.load_state_dict(back)
    _steps(model, opt, 3, seed=2)
    _steps(twin, opt2, 3, seed=2)
    for (k, a), b in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        assert a.tobytes() == b.tobytes(), k
    same(opt.state_dict(), opt2.state_dict())


def test_loaded_state_is_what_makes_the_difference(tmp_path):
    """The continuation test above would fail if the state were lost: an optimizer that
    starts afresh from the same weights ends elsewhere."""
    model = _model()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    _steps(model, opt, 3, seed=1)
    twin = _model(seed=5)
    twin.load_state_dict(model.state_dict())
    fresh = optim.Adam(twin.parameters(), lr=1e-2)
    _steps(model, opt, 1, seed=2)
    _steps(twin, fresh, 1, seed=2)
    assert not np.array_equal(model[0].weight._value, twin[0].weight._value)


# --- schedulers ---------------------------------------------------------------------------

class _Warm:
    """A callable lr_lambda with state (LambdaLR saves its attributes)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, epoch: int) -> float:
        self.calls += 1
        return 0.9 ** epoch


def _sgd():
    return optim.SGD(_groups(_model()), lr=0.1, momentum=0.9)


def _adam():
    return optim.Adam(_groups(_model()), lr=0.1)


SCHEDULERS = {
    "StepLR": (_sgd, lambda o: lrs.StepLR(o, step_size=2, gamma=0.5)),
    "MultiStepLR": (_sgd, lambda o: lrs.MultiStepLR(o, milestones=[1, 3], gamma=0.3)),
    "ExponentialLR": (_sgd, lambda o: lrs.ExponentialLR(o, gamma=0.9)),
    "LambdaLR": (_sgd, lambda o: lrs.LambdaLR(o, [lambda e: 1 / (e + 1), _Warm()])),
    "CosineAnnealingLR": (_sgd, lambda o: lrs.CosineAnnealingLR(o, T_max=4, eta_min=1e-3)),
    "LinearLR": (_sgd, lambda o: lrs.LinearLR(o, start_factor=0.25, total_iters=3)),
    "PolynomialLR": (_sgd, lambda o: lrs.PolynomialLR(o, total_iters=5, power=2.0)),
    "SequentialLR": (_sgd, lambda o: lrs.SequentialLR(
        o, [lrs.LinearLR(o, start_factor=0.5, total_iters=2), lrs.ExponentialLR(o, gamma=0.8)],
        milestones=[2])),
    "ChainedScheduler": (_sgd, lambda o: lrs.ChainedScheduler(
        [lrs.StepLR(o, step_size=2, gamma=0.5), lrs.ExponentialLR(o, gamma=0.95)])),
    "ReduceLROnPlateau": (_sgd, lambda o: lrs.ReduceLROnPlateau(o, patience=0, factor=0.5)),
    "OneCycleLR": (_adam, lambda o: lrs.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=10)),
    "OneCycleLR-sgd": (_sgd, lambda o: lrs.OneCycleLR(o, max_lr=0.1, total_steps=10,
                                                       three_phase=True,
                                                       anneal_strategy="linear")),
}

METRIC = [1.0, 1.0, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4]


def _step(s, i):
    if isinstance(s, lrs.ReduceLROnPlateau):
        s.step(METRIC[i])
    else:
        s.step()


def test_every_scheduler_is_covered():
    classes = {n for n in lrs.__all__ if inspect.isclass(getattr(lrs, n))
               and issubclass(getattr(lrs, n), lrs.LRScheduler) and n != "LRScheduler"}
    assert classes and classes <= {k.split("-")[0] for k in SCHEDULERS}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_state_round_trips_and_continues_exactly(tmp_path, fmt, name):
    make_opt, make = SCHEDULERS[name]
    opt = make_opt()
    s = make(opt)
    for i in range(4):
        opt.step()
        _step(s, i)
    sd = s.state_dict()
    back = round_trip(sd, tmp_path, fmt)
    same(sd, back)
    if name == "ReduceLROnPlateau":
        assert back["mode_worse"] == math.inf and type(back["mode_worse"]) is float

    opt2 = make_opt()
    s2 = make(opt2)
    opt2.load_state_dict(round_trip(opt.state_dict(), tmp_path, fmt, "o"))
    s2.load_state_dict(back)
    for i in range(4, 9):  # (OneCycleLR's 10 steps are not exceeded)
        _step(s, i)
        _step(s2, i)
        same(s.get_last_lr(), s2.get_last_lr(), f"{name} lr at step {i}")
        same(opt.state_dict()["param_groups"], opt2.state_dict()["param_groups"])
    same(s.state_dict(), s2.state_dict())


def test_lambda_lr_keeps_the_callable_objects_attributes(tmp_path):
    opt = _sgd()
    s = lrs.LambdaLR(opt, [lambda e: 1.0, _Warm()])
    s.step()
    back = round_trip(s.state_dict(), tmp_path, "npz")
    assert back["lr_lambdas"] == [None, {"calls": 2}]
    s2 = lrs.LambdaLR(_sgd(), [lambda e: 1.0, _Warm()])
    s2.load_state_dict(back)
    assert s2.lr_lambdas[1].calls == 2


# --- the values a state holds ---------------------------------------------------------------

def _odd_state():
    neg_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_0000_0001))[0]
    return {
        "floats": [0.1, -0.0, 1e308, 5e-324, math.nan, math.inf, -math.inf, neg_nan],
        "ints": [0, -1, 2**70, -(2**63)],
        "tuple": (1, (2, ()), [3, ()]),
        "empty": {"d": {}, "l": [], "t": ()},
        "int keys": {0: "zero", 7: None, -3: True, "7": False},
        "scalars": [np.float32(1.5), np.float64(math.nan), np.int8(-3), np.uint64(2**64 - 1),
                    np.bool_(True), np.complex128(1 - 2j), np.float16(np.inf)],
        "arrays": [np.arange(6, dtype=np.int32).reshape(2, 3), np.array(2.5), np.zeros((0, 3)),
                   np.array([True, False]), np.asfortranarray(np.arange(6.0).reshape(2, 3))],
        "tensor": cr.Tensor(np.ones(3, np.float32)),
        "strings": ["", "ünïcødé 权重", "a/b\\c\0d", "__chainrule_tree__"],
        "keys like paths": {"a/b": np.ones(1), "a": {"b": np.zeros(1)}, "": np.full(1, 2.0),
                            "__metadata__": np.full(1, 3.0), "#0": np.full(1, 4.0)},
        "ordered": collections.OrderedDict(w=np.ones(2)),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_odd_values_come_back_with_their_types_and_bits(tmp_path, fmt):
    st = _odd_state()
    if fmt == "safetensors":  # safetensors has no complex dtype
        st["scalars"].remove(np.complex128(1 - 2j))
    back = round_trip(st, tmp_path, fmt)
    expected = dict(st)
    expected["tensor"] = np.ones(3, np.float32)           # Tensors come back as arrays
    expected["ordered"] = {"w": np.ones(2)}                # and an OrderedDict as a dict
    same(expected, back)
    bits = struct.pack("<d", back["floats"][-1])
    assert bits == struct.pack("<Q", 0xFFF8_0000_0000_0001)  # the NaN kept sign and payload


def test_a_state_is_not_loaded_into_a_model(tmp_path):
    p = tmp_path / "o.npz"
    cr.save(_adam().state_dict(), p)
    model = _model()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(crio.CheckpointError, match="holds a state"):
        cr.load(p, model)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_a_dict_of_arrays_is_still_a_plain_checkpoint(tmp_path):
    p = tmp_path / "m.npz"
    cr.save({"w": np.ones(2), "n": 3}, p)
    with np.load(p) as z:
        assert sorted(z.files) == ["n", "w"]  # no layout array
    back = cr.load(p)
    assert type(back["n"]) is np.ndarray and back["n"].shape == ()


class Color(enum.IntEnum):
    RED = 1


Pair = collections.namedtuple("Pair", "a b")


@pytest.mark.parametrize("bad, why", [
    (lambda: 1, "function"),
    (object(), "object"),
    (Color.RED, "Color"),
    (Pair(1, 2), "Pair"),
    ({1, 2}, "set"),
    (b"bytes", "bytes"),
    (1 + 2j, "complex"),
    (np.array(["x"]), "dtype"),
    (np.array([1, None], dtype=object), "dtype"),
    (collections.defaultdict(list), "defaultdict"),
    ({1.5: np.ones(1)}, "keys must be strings or ints"),
    ({True: 1}, "keys must be strings or ints"),
    ({np.int64(1): 1}, "keys must be strings or ints"),
])
@pytest.mark.parametrize("fmt", FORMATS)
def test_unsupported_values_are_refused_before_a_byte_is_written(tmp_path, bad, why, fmt):
    p = tmp_path / f"s.{fmt}"
    state = {"state": {0: {"step": 1, "exp_avg": np.ones(3)}}, "param_groups": [{"x": bad}]}
    with pytest.raises(crio.CheckpointError, match=why) as info:
        cr.save(state, p)
    assert "param_groups/0/x" in str(info.value) or "keys" in why
    assert not p.exists() and os.listdir(tmp_path) == []


def test_too_deep_a_state_is_refused(tmp_path):
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(crio.CheckpointError, match="deeper than 64"):
        cr.save({"d": deep}, tmp_path / "d.npz")
    assert os.listdir(tmp_path) == []


def test_the_layout_name_is_reserved_for_plain_dicts(tmp_path):
    with pytest.raises(crio.CheckpointError, match="reserved"):
        cr.save({crio.TREE_KEY: np.ones(1)}, tmp_path / "r.npz")
    assert os.listdir(tmp_path) == []


# --- hostile and damaged files ---------------------------------------------------------------

def _write(path, arrays, fmt):
    """A file with a valid chainrule manifest around arbitrary arrays (as a forger with the
    writer would make it): only the layout's own checks can refuse it."""
    writer = crio._write_npz if fmt == "npz" else crio._write_safetensors
    crio.atomic_write(path, lambda f: writer(f, arrays))
    return path


def _layout(doc):
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return np.frombuffer(raw, np.uint8).copy()


def _ok_doc(tree):
    return {"chainrule-state": 1, "tree": tree}


HOSTILE = {
    "not json": (b"{\"chainrule-state\": 1, ", {}, "not valid JSON"),
    "not utf-8": (b"\xff\xfe", {}, "not valid JSON"),
    "not ours": ({"tree": {"$a": "w"}}, {"w": np.ones(1)}, "not one chainrule wrote"),
    "other version": ({"chainrule-state": 2, "tree": 1}, {}, "not one chainrule wrote"),
    "extra field": ({"chainrule-state": 1, "tree": 1, "x": 0}, {}, "not one chainrule wrote"),
    "missing array": (_ok_doc({"$d": [["w", {"$a": "gone"}]]}), {}, "'gone', which the file does not hold"),
    "array named twice": (_ok_doc([{"$a": "w"}, {"$a": "w"}]), {"w": np.ones(1)},
                          "more than once"),
    "layout names itself": (_ok_doc({"$a": crio.TREE_KEY}), {}, "does not hold"),
    "extra array": (_ok_doc({"$d": [["w", {"$a": "w"}]]}), {"w": np.ones(1), "x": np.ones(1)},
                    "does not place: ['x']"),
    "duplicate json key": (b'{"chainrule-state": 1, "chainrule-state": 1, "tree": 0}', {},
                           "duplicate key"),
    "duplicate dict entry": (_ok_doc({"$d": [["a", 1], ["a", 2]]}), {}, "repeated dict entry"),
    "bool dict key": (_ok_doc({"$d": [[True, 1]]}), {}, "malformed"),
    "unknown entry": (_ok_doc({"$x": 1}), {}, "unknown entry"),
    "scalar of an array": (_ok_doc({"$a": "w", "s": 1}), {"w": np.ones(2)}, "as a scalar"),
    "finite float as bits": (_ok_doc({"$f": struct.pack(">d", 1.0).hex()}), {}, "finite float"),
    "float bits not hex": (_ok_doc({"$f": "nan"}), {}, "unknown entry"),
    "NaN token": (b'{"chainrule-state": 1, "tree": NaN}', {}, "holds NaN"),
    "too deep": (_ok_doc(json.loads("[" * 200 + "]" * 200)), {}, "too deep"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_layout_that_does_not_check_out_is_refused(tmp_path, fmt, case):
    doc, arrays, why = HOSTILE[case]
    p = _write(tmp_path / f"h.{fmt}", {**arrays, crio.TREE_KEY: _layout(doc)}, fmt)
    refused(p, why)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_layout_of_the_wrong_dtype_is_refused(tmp_path, fmt):
    p = _write(tmp_path / f"h.{fmt}", {crio.TREE_KEY: np.zeros(3)}, fmt)
    refused(p, "not a byte string")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_forger_path_is_sound(tmp_path, fmt):
    """_write with a good layout gives a file cr.load reads (so the refusals above are the
    layout checks at work, not the writer failing)."""
    doc = _ok_doc({"$d": [["w", {"$a": "w"}], [3, {"$t": [None]}]]})
    p = _write(tmp_path / f"h.{fmt}", {"w": np.ones(2), crio.TREE_KEY: _layout(doc)}, fmt)
    same(cr.load(p), {"w": np.ones(2), 3: (None,)})


@pytest.mark.parametrize("fmt", FORMATS)
def test_tampering_with_a_saved_layout_is_caught(tmp_path, fmt):
    """Changing the layout inside a file cr.save wrote (a step count, here) breaks its
    checksums: the file is refused rather than loaded with the new value."""
    model = _model()
    opt = optim.Adam(model.parameters())
    _steps(model, opt, 2, seed=0)
    p = tmp_path / f"o.{fmt}"
    cr.save(opt.state_dict(), p)
    raw = p.read_bytes()
    i = raw.index(b'["step",2]')
    p.write_bytes(raw[:i] + b'["step",7]' + raw[i + 10:])
    msg = refused(p)
    assert "sha" in msg.lower() or "crc" in msg.lower() or "digest" in msg.lower(), msg


def test_a_state_without_a_manifest_is_refused_npz(tmp_path):
    p = tmp_path / "plain.npz"
    doc = _ok_doc({"$d": [["w", {"$a": "w"}]]})
    np.savez(p, w=np.ones(2), **{crio.TREE_KEY: _layout(doc)})
    refused(p, "no chainrule manifest")


def test_a_state_without_a_manifest_is_refused_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    p = tmp_path / "plain.safetensors"
    doc = _ok_doc({"$d": [["w", {"$a": "w"}]]})
    st.save_file({"w": np.ones(2), crio.TREE_KEY: _layout(doc)}, str(p))
    refused(p, "no chainrule manifest")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_truncated_state_is_refused(tmp_path, fmt):
    model = _model()
    opt = optim.Adam(model.parameters())
    _steps(model, opt, 2, seed=0)
    p = tmp_path / f"o.{fmt}"
    cr.save(opt.state_dict(), p)
    raw = p.read_bytes()
    for n in sorted({0, 1, 8, 9, 100, len(raw) // 3, len(raw) // 2, len(raw) - 65, len(raw) - 1}):
        p.write_bytes(raw[:n])
        refused(p)
    p.write_bytes(raw)
    same(cr.load(p), opt.state_dict())
