"""cr.save / cr.load: .npz without pickle, atomic writes, and loads that check everything
before they touch the model."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import io as crio
from chainrule import nn


def _model(seed=0):
    nn.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(
        np.array_equal(sa[k], sb[k]) and sa[k].dtype == sb[k].dtype for k in sa)


def test_roundtrip_npz(tmp_path):
    m = _model(0)
    m(np.ones((5, 3)))  # move the running statistics
    path = tmp_path / "m.npz"
    assert cr.save(m, path) == str(path)
    other = _model(1)
    assert not _same(m, other)
    assert cr.load(path, other) is other
    assert _same(m, other)
    with np.load(path, allow_pickle=False) as z:  # a plain .npz that NumPy reads
        assert list(z.files) == list(m.state_dict())
        np.testing.assert_array_equal(z["0.weight"], m[0].weight._value)
        assert z["2.num_batches_tracked"].dtype == np.int64
    sd = cr.load(path)
    assert list(sd) == list(m.state_dict()) and sd["0.weight"].dtype == np.float32
    x = np.random.default_rng(0).standard_normal((4, 3))
    m.eval()
    other.eval()
    np.testing.assert_array_equal(m(x)._value, other(x)._value)


def test_save_a_state_dict_and_odd_keys(tmp_path):
    sd = {"file": np.arange(3.0), "allow_pickle": np.zeros((2, 2), np.float32),
          "a.b/c": np.array(1.5)}
    path = tmp_path / "d.npz"
    cr.save(sd, path)
    back = cr.load(path)
    assert list(back) == list(sd)
    for k in sd:
        np.testing.assert_array_equal(back[k], sd[k])
        assert back[k].dtype == sd[k].dtype
    with pytest.raises(crio.CheckpointError, match="only numeric"):
        cr.save({"x": np.array(["a"], dtype=object)}, tmp_path / "o.npz")


def test_save_is_atomic(tmp_path, monkeypatch):
    m = _model(0)
    path = tmp_path / "m.npz"
    cr.save(m, path)
    before = path.read_bytes()

    def crash(f, arrays):
        f.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(crio, "_write_npz", crash)
    with pytest.raises(KeyboardInterrupt):
        cr.save(_model(1), path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]  # no temporary file left behind
    monkeypatch.undo()
    cr.load(path, _model(2))


def test_corrupted_and_truncated_files_leave_the_model_alone(tmp_path):
    m = _model(0)
    path = tmp_path / "m.npz"
    cr.save(m, path)
    raw = bytearray(path.read_bytes())
    target = _model(1)
    snapshot = {k: v.copy() for k, v in target.state_dict().items()}

    # a flipped byte in the middle of an array's data: the zip CRC catches it
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("0.weight.npy")
    flipped = bytearray(raw)
    flipped[info.header_offset + 30 + len(info.filename) + info.file_size - 3] ^= 0xFF
    cases = {
        "flipped.npz": bytes(flipped),
        "truncated.npz": bytes(raw[: len(raw) // 2]),
        "empty.npz": b"",
        "garbage.npz": b"this is not a checkpoint at all" * 10,
    }
    for name, content in cases.items():
        p = tmp_path / name
        p.write_bytes(content)
        with pytest.raises(crio.CheckpointError, match="cannot read"):
            cr.load(p, target)
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v, snapshot[k])
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path / "missing.npz")


def test_pickled_objects_are_refused(tmp_path):
    p = tmp_path / "evil.npz"
    np.savez(p, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(crio.CheckpointError, match="cannot read"):
        cr.load(p)


def test_mismatched_checkpoint(tmp_path):
    m = _model(0)
    small = nn.Sequential(nn.Linear(3, 4))
    p = tmp_path / "small.npz"
    cr.save(small, p)
    snapshot = {k: v.copy() for k, v in m.state_dict().items()}
    with pytest.raises(crio.CheckpointError, match='(?s)does not fit.*Missing key.*"2.weight"'):
        cr.load(p, m)
    wrong = {k: v for k, v in m.state_dict().items()}
    wrong["3.weight"] = np.zeros((3, 4), np.float32)
    cr.save(wrong, p)
    with pytest.raises(crio.CheckpointError, match=r"size mismatch for 3.weight"):
        cr.load(p, m)
    wrong = dict(m.state_dict())
    wrong["2.num_batches_tracked"] = np.array(1.5)
    cr.save(wrong, p)
    with pytest.raises(crio.CheckpointError, match="dtype mismatch for 2.num_batches_tracked"):
        cr.load(p, m)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, snapshot[k])
    # strict=False loads what fits
    cr.save(small, p)
    cr.load(p, m, strict=False)
    np.testing.assert_array_equal(m[0].weight._value, small[0].weight._value)


def test_float64_checkpoint_is_cast(tmp_path):
    m = nn.Linear(2, 2)
    p = tmp_path / "w.npz"
    cr.save({"weight": np.eye(2), "bias": np.ones(2)}, p)
    cr.load(p, m)
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight._value, np.eye(2))


def test_torch_state_dict_through_save(tmp_path):
    torch = pytest.importorskip("torch")
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.BatchNorm1d(4),
                            torch.nn.Linear(4, 2))
    p = tmp_path / "t.npz"
    cr.save(t.state_dict(), p)
    m = cr.load(p, _model(5))
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k], v.numpy())


def test_safetensors_roundtrip(tmp_path):
    pytest.importorskip("safetensors")
    m = _model(0)
    p = tmp_path / "m.safetensors"
    cr.save(m, p)
    with open(p, "rb") as f:
        assert f.read(9)[8:9] == b"{"
    other = cr.load(p, _model(1))
    assert _same(m, other)
    q = tmp_path / "weights.bin"
    cr.save(m, q, format="safetensors")
    assert _same(m, cr.load(q, _model(2)))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(p.read_bytes()[:-7])
    target = _model(3)
    snapshot = {k: v.copy() for k, v in target.state_dict().items()}
    with pytest.raises(crio.CheckpointError, match="cannot read"):
        cr.load(bad, target)
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v, snapshot[k])


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="Module or a dict"):
        cr.save([1, 2], tmp_path / "x.npz")
    with pytest.raises(ValueError, match="format"):
        cr.save({"a": np.ones(1)}, tmp_path / "x.npz", format="pickle")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cr.save({"a": np.ones(1)}, tmp_path / "no" / "x.npz")


# --- keys ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_odd_keys_round_trip(tmp_path, fmt):
    keys = ["a.b/c", "ünïcødé.权重", "with space", "x.npy", "/lead", "tab\tnew\nline", "'quote\"",
            "k" * crio.MAX_KEY_BYTES, "é" * (crio.MAX_KEY_BYTES // 2), "__chainrule_manifest__.json"]
    sd = {k: np.full(2, i, np.float32) for i, k in enumerate(keys)}
    p = tmp_path / f"k.{fmt}"
    cr.save(sd, p)
    back = cr.load(p)
    assert list(back) == keys
    assert all(np.array_equal(back[k], sd[k]) for k in keys)


@pytest.mark.parametrize("key, why", [
    ("", "non-empty"), (3, "strings"), (None, "strings"), ("a\0b", "NUL"), ("a\\b", "backslash"),
    ("k" * (crio.MAX_KEY_BYTES + 1), "limit"), ("é" * (crio.MAX_KEY_BYTES // 2 + 1), "limit"),
    ("\ud800", "surrogate"), ("__metadata__", "reserved"),
])
@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_keys_are_validated_before_anything_is_written(tmp_path, key, why, fmt):
    p = tmp_path / f"k.{fmt}"
    with pytest.raises(crio.CheckpointError, match=why):
        cr.save({"fine": np.ones(1), key: np.ones(1)}, p)
    assert os.listdir(tmp_path) == []


def test_dtypes_that_cannot_be_saved(tmp_path):
    with pytest.raises(crio.CheckpointError, match="only numeric"):
        cr.save({"t": np.array(["2020-01-01"], "datetime64[D]")}, tmp_path / "d.npz")
    with pytest.raises(crio.CheckpointError, match="float16/32/64"):
        cr.save({"t": np.ones(2, np.longdouble)}, tmp_path / "d.npz")
    with pytest.raises(crio.CheckpointError, match="safetensors cannot hold"):
        cr.save({"t": np.ones(2, np.complex128)}, tmp_path / "d.safetensors")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_layouts_and_byte_orders_round_trip(tmp_path, fmt):
    sd = {"f": np.asfortranarray(np.arange(12.0).reshape(3, 4)), "big": np.arange(5, dtype=">i4"),
          "strided": np.arange(20.0)[::3], "empty": np.zeros((0, 3), np.float16), "scalar": np.array(True),
          "c": np.array([1 + 2j], np.complex64), "u": np.array([2**64 - 1], np.uint64)}
    p = tmp_path / f"l.{fmt}"
    cr.save(sd, p)
    back = cr.load(p)
    for k, v in sd.items():
        assert back[k].shape == v.shape and np.array_equal(back[k], v), k
        assert back[k].dtype == (v.dtype if fmt == "npz" else v.dtype.newbyteorder("<")), k


# --- casting ------------------------------------------------------------------------------

def _snapshot(m):
    return {k: v.tobytes() for k, v in m.state_dict().items()}


def test_a_cast_that_would_overflow_is_refused(tmp_path):
    m = nn.Linear(2, 2)
    before = _snapshot(m)
    p = tmp_path / "w.npz"
    cr.save({"weight": np.array([[1.0, 2.0], [1e39, 3.0]]), "bias": np.zeros(2)}, p)
    with pytest.raises(crio.CheckpointError, match=r"(?s)'weight'.*1e\+39.*float32"):
        cr.load(p, m)
    assert _snapshot(m) == before
    # inf and nan stay what they are, and rounding is not an overflow
    cr.save({"weight": np.array([[np.inf, np.nan], [3.4e38, 0.1]]), "bias": np.zeros(2)}, p)
    cr.load(p, m)
    assert np.isinf(m.weight._value[0, 0]) and np.isnan(m.weight._value[0, 1])
    # float16 targets: ints and floats beyond 65504
    h = nn.Linear(2, 2).to(np.float16)
    before = _snapshot(h)
    cr.save({"weight": np.array([[1, 2], [70000, 3]]), "bias": np.zeros(2, np.float16)}, p)
    with pytest.raises(crio.CheckpointError, match="'weight'.*70000"):
        cr.load(p, h)
    assert _snapshot(h) == before


def test_an_integer_overflow_is_refused(tmp_path):
    bn = nn.BatchNorm1d(2)
    before = _snapshot(bn)
    sd = dict(bn.state_dict())
    p = tmp_path / "bn.safetensors"
    sd["num_batches_tracked"] = np.array(2**63, np.uint64)
    cr.save(sd, p)
    with pytest.raises(crio.CheckpointError, match="'num_batches_tracked'.*9223372036854775808.*int64"):
        cr.load(p, bn)
    assert _snapshot(bn) == before
    sd["num_batches_tracked"] = np.array(7, np.uint8)  # fits: loads
    cr.save(sd, p)
    cr.load(p, bn)
    assert bn.num_batches_tracked._value == 7 and bn.num_batches_tracked._value.dtype == np.int64

    class Flags(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("small", np.zeros(2, np.int8))
            self.register_buffer("mask", np.zeros(2, bool))

    f = Flags()
    before = _snapshot(f)
    cr.save({"small": np.array([1, 300]), "mask": np.array([0, 1])}, p)
    with pytest.raises(crio.CheckpointError, match="'small'.*300.*int8"):
        cr.load(p, f)
    cr.save({"small": np.array([1, -3]), "mask": np.array([0, 2])}, p)
    with pytest.raises(crio.CheckpointError, match="'mask'.*2.*bool"):
        cr.load(p, f)
    assert _snapshot(f) == before
    cr.save({"small": np.array([1, -3]), "mask": np.array([0, 1])}, p)
    cr.load(p, f)
    assert f.small._value.tolist() == [1, -3] and f.mask._value.tolist() == [False, True]


# --- files from elsewhere, and ours elsewhere ---------------------------------------------

def test_plain_numpy_archives_load(tmp_path):
    m = _model(0)
    for name, save in (("plain.npz", np.savez), ("compressed.npz", np.savez_compressed)):
        p = tmp_path / name
        save(p, **m.state_dict())
        other = _model(1)
        cr.load(p, other)
        assert _same(m, other)
        with pytest.raises(crio.CheckpointError, match="no chainrule manifest"):
            cr.load(p, _model(2), require_checksums=True)
    cr.save(m, tmp_path / "ours.npz")  # ours carry checksums
    cr.load(tmp_path / "ours.npz", _model(3), require_checksums=True)


def test_max_bytes(tmp_path):
    p = tmp_path / "m.npz"
    cr.save({"a": np.zeros(1000)}, p)
    with pytest.raises(crio.CheckpointError, match="max_bytes"):
        cr.load(p, max_bytes=7999)
    assert cr.load(p, max_bytes=8000)["a"].shape == (1000,)


def test_torch_saved_then_exported_safetensors_file_loads(tmp_path):
    torch = pytest.importorskip("torch")
    stt = pytest.importorskip("safetensors.torch")
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.BatchNorm1d(4),
                            torch.nn.Linear(4, 2))
    t(torch.randn(5, 3))
    pt = tmp_path / "t.pt"
    torch.save(t.state_dict(), pt)
    p = tmp_path / "t.safetensors"
    stt.save_file(torch.load(pt, weights_only=True), str(p), metadata={"format": "pt"})
    m = cr.load(p, _model(5))
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[k], v.numpy())
    # bfloat16 tensors come back as float32, exactly
    half = {k: v.to(torch.bfloat16) for k, v in t.state_dict().items() if v.is_floating_point()}
    stt.save_file(half, str(tmp_path / "bf16.safetensors"))
    back = cr.load(tmp_path / "bf16.safetensors")
    for k, v in half.items():
        assert back[k].dtype == np.float32
        np.testing.assert_array_equal(back[k], v.float().numpy())
    m2 = _model(6)
    cr.load(tmp_path / "bf16.safetensors", m2, strict=False)
    np.testing.assert_array_equal(m2[0].weight._value, half["0.weight"].float().numpy())


def test_our_safetensors_files_load_elsewhere(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    m = _model(0)
    p = tmp_path / "m.safetensors"
    cr.save(m, p)
    back = stn.load_file(str(p))
    assert set(back) == set(m.state_dict())
    assert all(np.array_equal(back[k], v) for k, v in m.state_dict().items())
    try:
        import safetensors.torch as stt
    except ImportError:
        return
    t = stt.load_file(str(p))
    np.testing.assert_array_equal(t["0.weight"].numpy(), m[0].weight._value)
    from safetensors import safe_open

    with safe_open(str(p), "np") as f:
        meta = f.metadata()
    assert meta["format"] == "pt" and "chainrule.manifest" in meta
