"""Checkpoints that cannot lie: every flipped or truncated byte of a file cr.save wrote is
refused with the model untouched, manifests are checked, hostile zips and safetensors
headers are refused before their data is read, and memory stays bounded."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import struct
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import io as crio
from chainrule import nn

SEED = 20240611


def _model(seed=0):
    nn.manual_seed(seed)
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    m(np.ones((3, 2)))  # running statistics and num_batches_tracked move
    return m


def _bytes_of(model):
    return {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in model.state_dict().items()}


def _refused(path, target=None, **kw):
    """cr.load refuses ``path`` on purpose (not through the safety net); returns the message."""
    with pytest.raises(crio.CheckpointError) as info:
        cr.load(path, target, **kw)
    msg = str(info.value)
    assert "uncaught" not in msg, msg
    assert str(path) in msg
    return msg


# ------------------------------------------------------------------------------------------
# the sweeps
# ------------------------------------------------------------------------------------------

def _sweep(tmp_path, fmt):
    """Every byte flipped twice (XOR a seeded non-zero byte, loading into a model; XOR a seeded
    single bit, loading without one), every truncation, and one byte appended: each variant
    must be refused, and the target model left bit for bit alone."""
    src = _model(0)
    good = tmp_path / f"good.{fmt}"
    cr.save(src, good)
    raw = good.read_bytes()
    target = _model(1)
    before = _bytes_of(target)
    rng = random.Random(SEED)
    bad = tmp_path / f"bad.{fmt}"
    bad.write_bytes(raw)
    flips = refused_flips = truncs = refused_truncs = 0
    t0 = time.perf_counter()
    fd = os.open(bad, os.O_WRONLY)
    try:
        for pos in range(len(raw)):  # flip one byte in place, load, put it back
            # a random byte into the model, then a single bit without a model
            for x, into in ((rng.randrange(1, 256), target), (1 << rng.randrange(8), None)):
                os.pwrite(fd, bytes([raw[pos] ^ x]), pos)
                flips += 1
                try:
                    cr.load(bad, into)
                except crio.CheckpointError as exc:
                    assert "uncaught" not in str(exc), (pos, str(exc))
                    refused_flips += 1
            os.pwrite(fd, raw[pos:pos + 1], pos)
        os.pwrite(fd, b"\0", len(raw))  # one byte too many, then every shorter length
        for n in range(len(raw) + 1, -1, -1):
            if n == len(raw):
                continue
            os.truncate(fd, n)
            truncs += 1
            try:
                cr.load(bad, target)
            except crio.CheckpointError as exc:
                assert "uncaught" not in str(exc), (n, str(exc))
                refused_truncs += 1
    finally:
        os.close(fd)
    seconds = time.perf_counter() - t0
    assert _bytes_of(target) == before
    print(f"\n{fmt}: {len(raw)} bytes; flips tried {flips}, refused {refused_flips}; "
          f"truncations/extensions tried {truncs}, refused {refused_truncs}; {seconds:.2f} s")
    assert (refused_flips, refused_truncs) == (flips, truncs) == (2 * len(raw), len(raw) + 1)
    cr.load(good, target)  # and the intact file still loads
    assert _bytes_of(target) == _bytes_of(src)


def test_every_flip_and_truncation_of_an_npz_is_refused(tmp_path):
    _sweep(tmp_path, "npz")


def test_every_flip_and_truncation_of_a_safetensors_file_is_refused(tmp_path):
    _sweep(tmp_path, "safetensors")


def test_reported_5000_safetensors_flips(tmp_path):
    # the report: 3,236 of 5,000 single-byte flips of a .safetensors file loaded corrupted weights
    nn.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    p = tmp_path / "m.safetensors"
    cr.save(m, p)
    raw = p.read_bytes()
    nn.manual_seed(1)
    target = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2))
    before = _bytes_of(target)
    rng = random.Random(SEED)
    q = tmp_path / "flipped.safetensors"
    q.write_bytes(raw)
    loaded = 0
    fd = os.open(q, os.O_WRONLY)
    try:
        for _ in range(5000):
            pos = rng.randrange(len(raw))
            os.pwrite(fd, bytes([raw[pos] ^ rng.randrange(1, 256)]), pos)
            try:
                cr.load(q, target)
                loaded += 1
            except crio.CheckpointError:
                pass
            os.pwrite(fd, raw[pos:pos + 1], pos)
    finally:
        os.close(fd)
    assert loaded == 0
    assert _bytes_of(target) == before


@pytest.mark.parametrize("writer", ["cr.save", "np.savez"])
def test_reported_directory_flip_that_hid_later_members(tmp_path, writer):
    # the report: one flipped byte in the zip directory (the high byte of the first entry's
    # comment length) made zipfile swallow the later entries, which then silently vanished
    sd = _model(0).state_dict()
    p = tmp_path / "m.npz"
    if writer == "cr.save":
        cr.save(sd, p)
    else:
        np.savez(p, **sd)
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as zf:
        cd = zf.start_dir
    raw[cd + 33] ^= 0xFF
    p.write_bytes(raw)
    msg = _refused(p)
    assert "directory" in msg
    target = _model(1)
    before = _bytes_of(target)
    _refused(p, target, strict=False)
    assert _bytes_of(target) == before


def test_foreign_npz_flips_are_refused_or_change_nothing(tmp_path):
    # a plain np.savez file has no manifest; its CRC-32s cover every array byte and .npy
    # header, the structure checks the rest: a flip is refused, or lands in a field that
    # nothing reads (a timestamp, a version) and every array loads bit for bit unchanged
    sd = {k: np.asarray(v) for k, v in _model(0).state_dict().items()}
    p = tmp_path / "plain.npz"
    np.savez(p, **sd)
    raw = p.read_bytes()
    q = tmp_path / "bad.npz"
    q.write_bytes(raw)
    refused = harmless = 0
    rng = random.Random(SEED)
    fd = os.open(q, os.O_WRONLY)
    try:
        for pos in range(len(raw)):
            os.pwrite(fd, bytes([raw[pos] ^ rng.randrange(1, 256)]), pos)
            try:
                got = cr.load(q)
            except crio.CheckpointError as exc:
                assert "uncaught" not in str(exc)
                refused += 1
            else:
                assert list(got) == list(sd), pos
                assert all(got[k].dtype == sd[k].dtype and got[k].tobytes() == sd[k].tobytes()
                           for k in sd), pos
                harmless += 1
            os.pwrite(fd, raw[pos:pos + 1], pos)
        for n in range(len(raw) - 1, -1, -1):
            os.truncate(fd, n)
            _refused(q)
    finally:
        os.close(fd)
    print(f"\nnp.savez file: {len(raw)} bytes; flips refused {refused}, harmless {harmless} "
          f"(fields nothing reads); {len(raw)} truncations refused")
    assert refused + harmless == len(raw) and refused > 0.8 * len(raw)
    with pytest.raises(crio.CheckpointError, match="no chainrule manifest"):
        cr.load(p, require_checksums=True)


def test_foreign_safetensors_has_no_checksums(tmp_path):
    # a safetensors file from elsewhere loads after structural checks only: its data carries
    # no checksum, so a flipped data byte cannot be noticed; require_checksums refuses it
    st = pytest.importorskip("safetensors.numpy")
    sd = {k: np.asarray(v) for k, v in _model(0).state_dict().items()}
    p = tmp_path / "plain.safetensors"
    st.save_file(sd, str(p))
    raw = p.read_bytes()
    assert {k: v.tobytes() for k, v in cr.load(p).items()} == {k: v.tobytes() for k, v in sd.items()}
    with pytest.raises(crio.CheckpointError, match="no chainrule manifest"):
        cr.load(p, require_checksums=True)
    b = bytearray(raw)
    b[-1] ^= 0x40  # the last data byte
    q = tmp_path / "flipped.safetensors"
    q.write_bytes(b)
    got = cr.load(q)  # (undetectable without a checksum)
    assert any(got[k].tobytes() != sd[k].tobytes() for k in sd)
    _refused(q, require_checksums=True)
    for n in range(len(raw)):  # every truncation is still refused
        q.write_bytes(raw[:n])
        _refused(q)


# ------------------------------------------------------------------------------------------
# manifests that are present but wrong
# ------------------------------------------------------------------------------------------

def _redigest_npz(raw: bytes) -> bytes:
    """Recompute the archive digest, as someone who edits a file on purpose would."""
    cut = raw.rindex(b"chainrule-checkpoint/1")
    comment = raw[cut:]
    digest = hashlib.sha256(raw[:cut]).hexdigest().encode()
    return raw[:cut] + comment[:-64] + digest


def _tamper_entry_comment(raw: bytes, key: str, change) -> bytes:
    """Edit the manifest entry (the zip comment) of ``key`` in place, then re-digest."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        old = zf.getinfo(key + ".npy").comment
    entry = json.loads(old)
    change(entry)
    new = json.dumps(entry, separators=(",", ":")).encode()
    assert len(new) == len(old), "keep the length so that the offsets stay valid"
    i = raw.index(old)
    return _redigest_npz(raw[:i] + new + raw[i + len(new):])


def test_npz_manifest_that_is_present_but_wrong_is_refused(tmp_path):
    m = _model(0)
    p = tmp_path / "m.npz"
    cr.save(m, p)
    raw = p.read_bytes()
    q = tmp_path / "edited.npz"
    q.write_bytes(_redigest_npz(raw))
    cr.load(q)  # the helper itself leaves a valid file

    def wrong_sha(e):
        e["sha256"] = ("0" if e["sha256"][0] != "0" else "1") + e["sha256"][1:]

    q.write_bytes(_tamper_entry_comment(raw, "0.weight", wrong_sha))
    assert "SHA-256" in _refused(q)

    def wrong_dtype(e):
        e["dtype"] = "<i4"  # (same length, same byte count)

    q.write_bytes(_tamper_entry_comment(raw, "0.weight", wrong_dtype))
    assert "disagrees with the manifest" in _refused(q)
    # the count in the archive comment
    q.write_bytes(_redigest_npz(raw.replace(b"n=7 ", b"n=6 ")))
    assert "lists 6 arrays" in _refused(q)
    # the manifest removed: the archive comment gone, the entry comments still there
    cut = raw.rindex(b"chainrule-checkpoint/1")
    stripped = raw[:cut - 2] + b"\0\0"
    q.write_bytes(stripped)
    assert "manifest" in _refused(q)


def test_safetensors_manifest_that_is_present_but_wrong_is_refused(tmp_path):
    m = _model(0)
    p = tmp_path / "m.safetensors"
    cr.save(m, p)
    raw = p.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])

    def rewrite(h):
        meta = h["__metadata__"]
        meta.pop("chainrule.digest")
        body = json.dumps(h, separators=(",", ":")).encode()
        meta["chainrule.digest"] = hashlib.sha256(body).hexdigest()
        body = json.dumps(h, separators=(",", ":")).encode()
        body += b" " * (-len(body) % 8)
        return struct.pack("<Q", len(body)) + body + raw[8 + n:]

    q = tmp_path / "edited.safetensors"
    q.write_bytes(rewrite(json.loads(json.dumps(header))))
    cr.load(q)  # the helper itself leaves a valid file
    h = json.loads(json.dumps(header))
    man = json.loads(h["__metadata__"]["chainrule.manifest"])
    man["arrays"][0]["sha256"] = "f" * 64
    h["__metadata__"]["chainrule.manifest"] = json.dumps(man, separators=(",", ":"))
    q.write_bytes(rewrite(h))
    assert "SHA-256" in _refused(q)
    h = json.loads(json.dumps(header))
    del h["__metadata__"]["chainrule.manifest"]
    q.write_bytes(rewrite(h))
    assert "manifest" in _refused(q)
    # a header that parses to the same content but is not byte for byte canonical
    body = raw[8:8 + n].replace(b'{"__metadata__"', b'{ "__metadata__"', 1)
    body = body[:-1] if body.endswith(b" ") else body + b" " * 7
    q.write_bytes(struct.pack("<Q", len(body)) + body + raw[8 + n:])
    assert "not the one chainrule wrote" in _refused(q)


# ------------------------------------------------------------------------------------------
# hostile zips: built here, by hand, tiny on disk
# ------------------------------------------------------------------------------------------

def _npy(shape, descr="<f4", fortran=False, version=1):
    h = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}).encode() + b"\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h
    return b"\x93NUMPY\x02\x00" + struct.pack("<L", len(h)) + h


def _zip(members, *, count=None, comment=b"", cd_offsets=None, gap=b""):
    """A zip from (name, body) pairs; body is the member's bytes (stored) or a tuple
    (payload, method, crc, declared uncompressed size).  ``count`` overrides the end record's
    entry count, ``cd_offsets`` the local-header offsets the directory points to; ``gap`` is
    put after every member's data."""
    out = bytearray()
    cd = bytearray()
    for i, (name, body) in enumerate(members):
        payload, method, crc, usize = body if isinstance(body, tuple) else (
            body, 0, zlib.crc32(body), len(body))
        nb = name.encode()
        off = len(out) if cd_offsets is None else cd_offsets[i]
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(payload), usize,
                           len(nb), 0) + nb + payload + gap
        cd += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(payload),
                          usize, len(nb), 0, 0, 0, 0, 0, off) + nb
    n = len(members) if count is None else count
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(cd), len(out), len(comment)) + comment
    return bytes(out + cd + eocd)


def _deflated(hdr, n_zero_mib):
    """(payload, crc, size): an .npy header followed by n MiB of zeros, deflated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bytearray(c.compress(hdr))
    crc = zlib.crc32(hdr)
    block = bytes(1 << 20)
    for _ in range(n_zero_mib):
        payload += c.compress(block)
        crc = zlib.crc32(block, crc)
    payload += c.flush()
    return bytes(payload), crc, len(hdr) + (n_zero_mib << 20)


def test_a_hand_built_zip_loads(tmp_path):
    p = tmp_path / "ok.npz"
    data = np.arange(6, dtype="<f4").tobytes()
    p.write_bytes(_zip([("w.npy", _npy((2, 3)) + data)]))
    np.testing.assert_array_equal(cr.load(p)["w"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_bomb_declared_huge_is_refused_before_inflating(tmp_path):
    # 256 MiB of zeros, deflated to ~250 KB: refused from the headers alone
    n = 256 << 20
    payload, crc, usize = _deflated(_npy((n // 4,)), n >> 20)
    p = tmp_path / "bomb.npz"
    p.write_bytes(_zip([("weight.npy", (payload, 8, crc, usize))]))
    q = tmp_path / "bomb-extra.npz"
    q.write_bytes(_zip([("extra.npy", (payload, 8, crc, usize))]))
    assert p.stat().st_size < 400_000
    lin = nn.Linear(2, 2)
    before = _bytes_of(lin)
    tracemalloc.start()
    t0 = time.perf_counter()
    assert "max_bytes" in _refused(p)                      # no model: over the default limit
    assert "size mismatch" in _refused(p, lin)              # a model: the wrong shape
    assert "size mismatch" in _refused(p, lin, strict=False)
    assert "Unexpected key" in _refused(q, lin)             # a key the model does not have
    cr.load(q, nn.Linear(2, 2), strict=False)                # ... skipped, never inflated
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 2 and peak < 8 << 20
    assert _bytes_of(lin) == before
    # and it does load, in bounded chunks, when explicitly allowed
    assert cr.load(p, max_bytes=n)["weight"].shape == (n // 4,)


def test_bomb_inflating_beyond_its_declared_size_is_cut_off(tmp_path):
    # the directory declares 8 floats, the deflate stream holds 64 MiB
    hdr = _npy((8,))
    payload, _, _ = _deflated(hdr, 64)
    good = hdr + bytes(32)
    p = tmp_path / "bomb2.npz"
    p.write_bytes(_zip([("w.npy", (payload, 8, zlib.crc32(good), len(good)))]))
    tracemalloc.start()
    msg = _refused(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "inflates beyond" in msg and peak < 8 << 20


def test_npy_header_declaring_more_than_the_member_holds(tmp_path):
    p = tmp_path / "h.npz"
    p.write_bytes(_zip([("w.npy", _npy((1 << 40,)) + bytes(16))]))
    assert "declares shape" in _refused(p)
    p.write_bytes(_zip([("w.npy", b"\x93NUMPY\x02\x00" + struct.pack("<L", 0xFFFFFFF0) + b"{")]))
    assert "header claims" in _refused(p)


def test_hostile_zip_layouts(tmp_path):
    data = _npy((2,)) + np.ones(2, "<f4").tobytes()
    p = tmp_path / "z.npz"
    cases = {
        "overlapping members (one local header, two directory entries)":
            _zip([("a.npy", data), ("b.npy", data)], cd_offsets=[0, 0]),
        "more entries declared than listed": _zip([("a.npy", data)], count=2),
        "a member that is not .npy": _zip([("a.npy", data), ("README", b"hi")]),
        "a duplicate name": _zip([("a.npy", data), ("a.npy", data)]),
        "a NUL in a name": _zip([("a\0b.npy", data)]),
        "a pickled object array": _zip([("a.npy", _npy((1,), "|O") + b"\x80\x04N.")]),
        "a structured dtype": _zip([("a.npy", _npy((1,), "[('x', '<f4')]").replace(b"'[(", b"[(")
                                     .replace(b")]'", b")]") + bytes(4))]),
        "a wrong CRC": _zip([("a.npy", (data, 0, zlib.crc32(data) ^ 1, len(data)))]),
        "bytes before the first member": b"junk" + _zip([("a.npy", data)]),
        "trailing bytes": _zip([("a.npy", data)]) + b"junk",
        "hidden bytes between members": _zip([("a.npy", data), ("b.npy", data)], gap=b"hidden"),
        "a non-tuple shape": _zip([("a.npy", data.replace(b"(2,)", b"(2) "))]),
        "bzip2 compression": _zip([("a.npy", (data, 12, zlib.crc32(data), len(data)))]),
    }
    for why, content in cases.items():
        p.write_bytes(content)
        with pytest.raises(crio.CheckpointError) as info:
            cr.load(p)
        assert "uncaught" not in str(info.value), why
    # an encrypted member
    raw = bytearray(_zip([("a.npy", data)]))
    raw[6] |= 1
    cd = raw.index(b"PK\x01\x02")
    raw[cd + 8] |= 1
    p.write_bytes(raw)
    assert "encrypted" in _refused(p)


def test_zip64_and_data_descriptors_load(tmp_path, monkeypatch):
    sd = {"a": np.arange(5.0), "b": np.ones((2, 3), np.float32), "c": np.array(3)}
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    cr.save(sd, tmp_path / "ours.npz")
    np.savez(tmp_path / "theirs.npz", **sd)
    monkeypatch.undo()
    raw = (tmp_path / "ours.npz").read_bytes()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw  # zip64 end record and locator
    for name in ("ours.npz", "theirs.npz"):
        got = cr.load(tmp_path / name)
        assert all(np.array_equal(got[k], sd[k]) and got[k].dtype == sd[k].dtype for k in sd)
    # data descriptors: what zipfile writes to a stream it cannot seek
    class Stream(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)

    s = Stream()
    with zipfile.ZipFile(s, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for k, v in sd.items():
            with zf.open(k + ".npy", "w") as fh:
                np.lib.format.write_array(fh, v)
    (tmp_path / "dd.npz").write_bytes(bytes(s.data))
    got = cr.load(tmp_path / "dd.npz")
    assert all(np.array_equal(got[k], sd[k]) for k in sd)
    for n in range(len(s.data)):
        (tmp_path / "dd.npz").write_bytes(bytes(s.data[:n]))
        _refused(tmp_path / "dd.npz")


# ------------------------------------------------------------------------------------------
# hostile safetensors headers
# ------------------------------------------------------------------------------------------

def _st(header, data=b"", n=None):
    body = json.dumps(header).encode() if isinstance(header, dict) else header
    return struct.pack("<Q", len(body) if n is None else n) + body + data


def test_hostile_safetensors_headers(tmp_path):
    p = tmp_path / "x.safetensors"
    four = np.ones(1, "<f4").tobytes()
    e = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    cases = {
        "length beyond the file": _st({"a": e}, four, n=1 << 40),
        "length 2**63": _st({"a": e}, four, n=1 << 63),
        "not JSON": _st(b"{not json}", four),
        "not an object": _st(b"[1, 2]   ", four),
        "duplicate keys": _st(b'{"a":' + json.dumps(e).encode() + b',"a":' + json.dumps(e).encode() + b"}",
                              four),
        "NaN": _st(b'{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}', four),
        "unknown dtype": _st({"a": {**e, "dtype": "F7"}}, four),
        "8-bit floats": _st({"a": {**e, "dtype": "F8_E4M3", "data_offsets": [0, 1]}}, b"x"),
        "bool as a size": _st(b'{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}', four),
        "negative size": _st({"a": {**e, "shape": [-1]}}, four),
        "shape and bytes disagree": _st({"a": {**e, "shape": [2]}}, four),
        "offsets past the end": _st({"a": {**e, "shape": [1 << 40], "data_offsets": [0, 1 << 42]}}, four),
        "overlapping tensors": _st({"a": e, "b": e}, four),
        "a gap": _st({"a": {**e, "data_offsets": [4, 8]}}, four + four),
        "trailing bytes": _st({"a": e}, four + b"junk"),
        "truncated data": _st({"a": e}, four[:3]),
        "metadata not strings": _st({"__metadata__": {"x": 1}, "a": e}, four),
        "an extra field": _st({"a": {**e, "x": 1}}, four),
        "deep nesting": _st(b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}", four),
        "not UTF-8": _st(b'{"\xff":1}', four),
    }
    for why, content in cases.items():
        p.write_bytes(content)
        with pytest.raises(crio.CheckpointError) as info:
            cr.load(p)
        assert "uncaught" not in str(info.value), (why, str(info.value))
    p.write_bytes(_st({"a": e}, four))
    np.testing.assert_array_equal(cr.load(p)["a"], np.ones(1, np.float32))


def test_non_regular_files_are_refused(tmp_path):
    _refused(tmp_path)  # a directory
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused(fifo)  # at once: opening it does not block
