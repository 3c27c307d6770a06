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
