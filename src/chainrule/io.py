"""``cr.save`` / ``cr.load``: model weights as ``.npz`` (never pickle) or ``.safetensors``,
written atomically and verified completely before anything reaches a model.

Every file :func:`save` writes carries a *manifest* inside it:

* ``.npz`` (a zip of ``<key>.npy`` members, stored uncompressed): each member's zip comment
  records its dtype, shape, Fortran order, byte length and the SHA-256 of its data, and the
  archive comment records the number of arrays and the SHA-256 of every byte of the file
  before that comment.  ``np.load`` reads the file as a plain archive.
* ``.safetensors``: the ``__metadata__`` header field holds ``chainrule.manifest`` (the same
  per-array record) and ``chainrule.digest`` (the SHA-256 of the header without the digest);
  the header is the canonical JSON that :func:`save` writes.  No package is needed to write
  or read it, and the safetensors package (and PyTorch through it) reads it unchanged.

:func:`load` parses both formats itself, refuses anything it cannot account for, and with a
manifest present checks every byte, so a flipped or truncated checkpoint is always refused.
Files without a manifest (``np.savez``, PyTorch's safetensors) load after the same
structural checks, which bound memory and catch most damage but not all of it (see
:func:`load`).  Saving never toggles the process umask, keeps the mode of a replaced file,
and never leaves a temporary file behind.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import io as _io
import json
import math
import os
import re
import secrets
import signal
import stat
import struct
import threading
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from .core import arrays as _arrays
from .core.errors import ChainruleError
from .core.tensor import Tensor
from .nn.module import Module, as_array
from .nn.module import cast_problem, key_problems
from .nn.module import StateDictError

__all__ = ["MAX_KEY_BYTES", "TREE_KEY", "CheckpointError", "atomic_write", "load", "save"]

#: the array that holds a saved state's layout (see :func:`save`)
TREE_KEY = "__chainrule_tree__"

#: the longest key :func:`save` accepts, in bytes of UTF-8
MAX_KEY_BYTES = 1024

_CHUNK = 1 << 20           # bytes read, hashed or inflated at a time
_ZCHUNK = 1 << 16          # compressed bytes fed to zlib at a time
_NPY_MAX_HEADER = 10_000   # NumPy's own limit for an .npy header read without allow_pickle
_ST_MAX_HEADER = 100_000_000  # the safetensors reference implementation's limit
_MAX_DIMS = 64
_NO_MODEL_RATIO = 64       # without a model, a compressed .npz may inflate to 64x its size ...
_NO_MODEL_SLACK = 64 << 20  # ... plus 64 MiB, unless max_bytes says otherwise
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip timestamps: the same model always gives the same bytes

_NPZ_COMMENT = re.compile(rb"chainrule-checkpoint/1 n=(0|[1-9][0-9]{0,17}) sha256=([0-9a-f]{64})\Z")
_NPZ_OURS = re.compile(rb"\Achainrule|sha256=[0-9a-f]{64}\Z")  # survives any single damaged byte
_ENTRY_PREFIX = b'{"chainrule":1,'
# the header NumPy writes: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" + padding
_NPY_PLAIN = re.compile(r"\{'descr': '([<>|=]?[a-zA-Z][0-9]{0,2})', 'fortran_order': (True|False), "
                        r"'shape': \(((?:[0-9]{1,19}, ?)*(?:[0-9]{1,19})?)\), \} *\n\Z")
_ENTRY_KEYS = ("chainrule", "dtype", "shape", "fortran_order", "nbytes", "sha256")
_ST_MANIFEST = "chainrule.manifest"
_ST_DIGEST = "chainrule.digest"
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")

_KINDS = {("b", 1), ("i", 1), ("i", 2), ("i", 4), ("i", 8), ("u", 1), ("u", 2), ("u", 4), ("u", 8),
          ("f", 2), ("f", 4), ("f", 8), ("c", 8), ("c", 16)}
_ST_CODES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "U32": "<u4",
             "I32": "<i4", "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8",
             "C64": "<c8"}
_ST_OF = {(np.dtype(v).kind, np.dtype(v).itemsize): k for k, v in _ST_CODES.items()}


class CheckpointError(ChainruleError, ValueError):
    """A checkpoint that cannot be written, read, or loaded into the given model."""


class _Bad(Exception):
    """Internal: why a file cannot be read (becomes a CheckpointError naming the file)."""


# ----------------------------------------------------------------------------------------
# saving
# ----------------------------------------------------------------------------------------

def _plain_dtype(dt: np.dtype) -> bool:
    return dt.fields is None and dt.subdtype is None and (dt.kind, dt.itemsize) in _KINDS


def _check_key(k: Any) -> str:
    if not isinstance(k, str) or not k:
        raise CheckpointError(f"cr.save: keys must be non-empty strings, got {k!r}")
    if "\x00" in k:
        raise CheckpointError(f"cr.save: the key {k!r} contains a NUL character")
    if "\\" in k:
        raise CheckpointError(f"cr.save: the key {k!r} contains a backslash, which zip readers on "
                              f"Windows turn into '/'")
    try:
        n = len(k.encode("utf-8"))
    except UnicodeEncodeError:
        raise CheckpointError(f"cr.save: the key {k!r} is not valid Unicode (a lone surrogate)") from None
    if n > MAX_KEY_BYTES:
        raise CheckpointError(f"cr.save: the key {k[:40]!r}... is {n} bytes long; the limit is "
                              f"{MAX_KEY_BYTES} (chainrule.io.MAX_KEY_BYTES)")
    if k == "__metadata__":
        raise CheckpointError("cr.save: '__metadata__' is reserved (safetensors' header field)")
    if k == TREE_KEY:
        raise CheckpointError(f"cr.save: {TREE_KEY!r} is reserved (the layout of a saved state)")
    return k


def _state_of(obj: Any) -> dict[str, np.ndarray]:
    if isinstance(obj, Module):
        items = obj.state_dict().items()
    elif hasattr(obj, "items"):
        items = obj.items()
    else:
        raise TypeError(f"cr.save expects a Module or a dict of arrays, got {type(obj).__name__}")
    out: dict[str, np.ndarray] = {}
    for k, v in items:
        _check_key(k)
        a = as_array(v)
        if a.__class__ is not np.ndarray and _arrays.backend(a) not in (None, "numpy"):
            a = _arrays.to_library(a, np)  # (saving is the asked-for move to the host)
        a = np.asarray(a)
        if a.dtype.kind not in "biufc":
            raise CheckpointError(
                f"cr.save: {k!r} has dtype {a.dtype}; only numeric arrays can be saved "
                f"(chainrule never writes pickled objects)"
            )
        if not _plain_dtype(a.dtype):
            raise CheckpointError(
                f"cr.save: {k!r} has dtype {a.dtype}; only numeric arrays can be saved as bool, "
                f"(u)int8-64, float16/32/64 or complex64/128"
            )
        out[k] = a
    return out


def _format(path: str, format: str | None) -> str:
    if format is not None:
        f = format.lower().lstrip(".")
        if f not in ("npz", "safetensors"):
            raise ValueError(f"format must be 'npz' or 'safetensors', got {format!r}")
        return f
    return "safetensors" if path.endswith(".safetensors") else "npz"


def _data_bytes(a: np.ndarray, fortran: bool) -> memoryview:
    b = np.ascontiguousarray(a.T if fortran else a)
    return memoryview(b.reshape(-1).view(np.uint8))


def _npy_header(dt: np.dtype, shape: tuple[int, ...], fortran: bool) -> bytes:
    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(dt), "fortran_order": fortran, "shape": shape})
    return buf.getvalue()


def _entry_comment(descr: Any, shape: Any, fortran: Any, nbytes: Any, sha: Any) -> bytes:
    return json.dumps({"chainrule": 1, "dtype": descr, "shape": list(shape), "fortran_order": fortran,
                       "nbytes": nbytes, "sha256": sha}, separators=(",", ":")).encode("ascii")


def _npz_comment(n: int, digest: str) -> bytes:
    return f"chainrule-checkpoint/1 n={n} sha256={digest}".encode("ascii")


def _write_npz(f: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for k, a in arrays.items():
            fortran = bool(a.flags.f_contiguous and not a.flags.c_contiguous)
            header = _npy_header(a.dtype, a.shape, fortran)
            data = _data_bytes(a, fortran)
            info = zipfile.ZipInfo(k + ".npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.file_size = len(header) + data.nbytes  # decides on zip64 up front
            info.comment = _entry_comment(np.lib.format.dtype_to_descr(a.dtype), a.shape, fortran,
                                          data.nbytes, hashlib.sha256(data).hexdigest())
            with zf.open(info, "w") as fh:
                fh.write(header)
                for i in range(0, data.nbytes, _CHUNK):
                    fh.write(data[i:i + _CHUNK])
        zf.comment = _npz_comment(len(arrays), "0" * 64)
    # the archive comment ends the file: fill in the digest of everything before it
    end = f.tell()
    start = end - len(_npz_comment(len(arrays), "0" * 64))
    f.seek(0)
    digest = hashlib.sha256()
    left = start
    while left:
        b = f.read(min(left, _CHUNK))
        if not b:
            raise OSError(errno.EIO, "the temporary file could not be read back")
        digest.update(b)
        left -= len(b)
    f.seek(end - 64)
    f.write(digest.hexdigest().encode("ascii"))


def _st_json(header: dict) -> bytes:
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _write_safetensors(f: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    datas: dict[str, memoryview] = {}
    codes: dict[str, str] = {}
    for k, a in arrays.items():
        codes[k] = _ST_OF[(a.dtype.kind, a.dtype.itemsize)]
        le = a if a.dtype.byteorder in "<|" or (a.dtype.byteorder == "=" and np.little_endian) \
            else a.astype(a.dtype.newbyteorder("<"))
        datas[k] = _data_bytes(le, False)
    # data ordered by item size, largest first, so that every tensor is aligned (the header
    # is padded to 8 bytes); the header keeps the model's order
    order = sorted(arrays, key=lambda k: -arrays[k].dtype.itemsize)
    offsets: dict[str, list[int]] = {}
    pos = 0
    for k in order:
        offsets[k] = [pos, pos + datas[k].nbytes]
        pos += datas[k].nbytes
    manifest = {"chainrule": 1, "hash": "sha256", "arrays": [
        {"name": k, "dtype": codes[k], "shape": list(arrays[k].shape), "nbytes": datas[k].nbytes,
         "sha256": hashlib.sha256(datas[k]).hexdigest()} for k in arrays]}
    meta = {"format": "pt", _ST_MANIFEST: json.dumps(manifest, separators=(",", ":"))}
    header: dict[str, Any] = {"__metadata__": meta}
    for k in arrays:
        header[k] = {"dtype": codes[k], "shape": list(arrays[k].shape), "data_offsets": offsets[k]}
    meta[_ST_DIGEST] = hashlib.sha256(_st_json(header)).hexdigest()
    raw = _st_json(header)
    raw += b" " * (-len(raw) % 8)
    f.write(struct.pack("<Q", len(raw)))
    f.write(raw)
    for k in order:
        d = datas[k]
        for i in range(0, d.nbytes, _CHUNK):
            f.write(d[i:i + _CHUNK])


def save(obj: Any, path: str | os.PathLike, format: str | None = None) -> str:
    """Write a Module's state_dict (or a dict of arrays) to ``path`` atomically, with a manifest.

    Format: ``.safetensors`` paths (or ``format='safetensors'``) get safetensors (no package
    needed); anything else is a NumPy ``.npz`` that ``np.load(path)`` reads directly.  Keys
    must be non-empty strings of at most :data:`MAX_KEY_BYTES` UTF-8 bytes, without NUL or
    backslash, and not ``'__metadata__'``; values numeric arrays.  Anything else raises
    :class:`CheckpointError` before a byte is written, so a save never writes a file that
    :func:`load` refuses.  See :func:`atomic_write` for how the file is written.  Returns the
    path.

    A *state* (an optimizer's or a scheduler's ``state_dict()``, a training checkpoint: a
    dict in which some value is a dict, list, tuple, string, None or bool) is saved as its
    arrays, each named after its place (``state/0/exp_avg``), plus one more, ``TREE_KEY``,
    a uint8 array holding the layout as JSON.  A state holds dicts (string or int keys;
    an OrderedDict comes back as a dict), lists, tuples, strings, None, bools, ints, floats
    (NaN and infinities bit for bit), NumPy arrays and scalars and Tensors (which come back
    as arrays).  :func:`load` gives it back with the same types and bit-identical values,
    and only from a file whose manifest checks out byte for byte.  Anything else in a state
    (a function, an object, an IntEnum, a namedtuple, a non-numeric array) raises
    :class:`CheckpointError` before a byte is written.
    """
    path = os.fspath(path)
    fmt = _format(path, format)
    arrays = _tree_arrays(obj) if _is_tree(obj) else _state_of(obj)
    if fmt == "safetensors":
        for k, a in arrays.items():
            if (a.dtype.kind, a.dtype.itemsize) not in _ST_OF:
                raise CheckpointError(f"cr.save: {k!r} has dtype {a.dtype}, which safetensors cannot "
                                      f"hold; save it as .npz")
        atomic_write(path, lambda f: _write_safetensors(f, arrays))
    else:
        atomic_write(path, lambda f: _write_npz(f, arrays))
    return path


# ----------------------------------------------------------------------------------------
# states: nested dicts and lists around the arrays
# ----------------------------------------------------------------------------------------

def _is_tree(obj: Any) -> bool:
    """A dict that :func:`save` writes as a state: some value is a dict, list, tuple, string,
    None or bool (a dict of arrays and numbers stays a plain dict of arrays)."""
    if isinstance(obj, Module) or not isinstance(obj, dict):
        return False
    return any(v is None or isinstance(v, (dict, list, tuple, str, bool)) for v in obj.values())


def _float_layout(f: float) -> Any:
    """A float as JSON: itself when finite (Python's repr round-trips exactly), else its
    64 bits in hex (so that a NaN keeps its sign and payload)."""
    if math.isfinite(f):
        return f
    return {"$f": struct.pack(">d", f).hex()}


def _tree_arrays(obj: dict) -> dict[str, np.ndarray]:
    """The arrays of a state, named after their place in it, and its layout under TREE_KEY.

    Refuses (CheckpointError, nothing written) any value that would not come back as it
    went in: objects, functions, subclasses of the built-in types other than OrderedDict
    (an IntEnum or a namedtuple would come back as a plain int or tuple), non-numeric
    arrays."""
    arrays: dict[str, np.ndarray] = {}

    def name_for(where: list[str]) -> str:
        k = "/".join(where)
        try:
            if k not in arrays and _check_key(k) == k:
                return k
        except CheckpointError:
            pass
        i = len(arrays)
        while f"#{i}" in arrays:
            i += 1
        return f"#{i}"

    def at(where: list[str]) -> str:
        return repr("/".join(where)) if where else "the top level"

    def enc(v: Any, where: list[str], depth: int) -> Any:
        if depth > 64:
            raise CheckpointError(f"cr.save: the state nests deeper than 64 levels at {at(where)}")
        t = type(v)
        if v is None or t in (bool, str, int):
            return v
        if t is float:
            return _float_layout(v)
        if t is dict or t is OrderedDict:
            items = []
            for k, x in v.items():
                if type(k) not in (str, int):
                    raise CheckpointError(f"cr.save: the state has a key {k!r} "
                                          f"({type(k).__name__}) at {at(where)}; keys must be "
                                          f"strings or ints")
                items.append([k, enc(x, [*where, str(k)], depth + 1)])
            return {"$d": items}
        if t is list:
            return [enc(x, [*where, str(i)], depth + 1) for i, x in enumerate(v)]
        if t is tuple:
            return {"$t": [enc(x, [*where, str(i)], depth + 1) for i, x in enumerate(v)]}
        scalar = isinstance(v, np.generic)
        if not (scalar or isinstance(v, np.ndarray) or isinstance(v, Tensor)):
            raise CheckpointError(f"cr.save: {at(where)} is a {t.__name__}; a state holds dicts, "
                                  f"lists, tuples, strings, None, bools, ints, floats and "
                                  f"arrays (chainrule never writes pickled objects)")
        k = name_for(where)
        try:
            arrays[k] = _state_of({k: v})[k]
        except CheckpointError as exc:
            raise CheckpointError(f"cr.save: {at(where)}: {exc}") from None
        return {"$a": k, "s": 1} if scalar else {"$a": k}

    layout = enc(obj, [], 0)
    raw = json.dumps({"chainrule-state": 1, "tree": layout}, separators=(",", ":"),
                     ensure_ascii=True, allow_nan=False).encode("ascii")
    arrays[TREE_KEY] = np.frombuffer(raw, np.uint8).copy()
    return arrays


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Bad("its state layout has a duplicate key")
    return out


def _refuse_constant(name: str) -> Any:
    raise _Bad(f"its state layout holds {name}")


def _tree_of(arrays: dict[str, np.ndarray]) -> Any:
    """The state :func:`_tree_arrays` laid out, checked entry by entry: every array it
    names is in the file, used once, and nothing else is."""
    raw = arrays[TREE_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Bad(f"its {TREE_KEY!r} is not a byte string")
    try:
        doc = json.loads(raw.tobytes().decode("ascii"), object_pairs_hook=_no_duplicates,
                         parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _Bad("its state layout is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("chainrule-state") != 1 or set(doc) != {
            "chainrule-state", "tree"}:
        raise _Bad("its state layout is not one chainrule wrote")
    used: set[str] = set()

    def dec(v: Any, depth: int) -> Any:
        if depth > 66:
            raise _Bad("its state layout nests too deep")
        if v is None or isinstance(v, (bool, str, int, float)):
            return v
        if isinstance(v, list):
            return [dec(x, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) not in (1, 2):
            raise _Bad("its state layout holds an unknown entry")
        if "$d" in v and len(v) == 1 and isinstance(v["$d"], list):
            out: dict = {}
            for item in v["$d"]:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                        and not isinstance(item[0], bool)) or item[0] in out:
                    raise _Bad("its state layout holds a malformed or repeated dict entry")
                out[item[0]] = dec(item[1], depth + 1)
            return out
        if "$t" in v and len(v) == 1 and isinstance(v["$t"], list):
            return tuple(dec(x, depth + 1) for x in v["$t"])
        if "$f" in v and len(v) == 1 and isinstance(v["$f"], str) \
                and re.fullmatch("[0-9a-f]{16}", v["$f"]):
            f = struct.unpack(">d", bytes.fromhex(v["$f"]))[0]
            if math.isfinite(f):
                raise _Bad("its state layout writes a finite float as bits")
            return f
        if "$a" in v and isinstance(v["$a"], str) and (len(v) == 1 or v.get("s") == 1):
            k = v["$a"]
            if k == TREE_KEY or k not in arrays or k in used:
                raise _Bad(f"its state layout names the array {k!r}, which the file "
                           f"{'holds more than once' if k in used else 'does not hold'}")
            used.add(k)
            a = arrays[k]
            if len(v) == 2:
                if a.ndim:
                    raise _Bad(f"its state layout takes {k!r} as a scalar; it has shape {a.shape}")
                return a[()]
            return a
        raise _Bad("its state layout holds an unknown entry")

    tree = dec(doc["tree"], 0)
    extra = set(arrays) - used - {TREE_KEY}
    if extra:
        raise _Bad(f"it holds arrays its state layout does not place: {sorted(extra)[:5]}")
    return tree


# ----------------------------------------------------------------------------------------
# reading: shared pieces
# ----------------------------------------------------------------------------------------

def _rd(f: BinaryIO, off: int, n: int) -> bytes:
    f.seek(off)
    b = f.read(n)
    if len(b) != n:
        raise _Bad("the file ends early (truncated)")
    return b


class _Reader:
    """Reads the file front to back, optionally hashing every byte it passes."""

    def __init__(self, f: BinaryIO, digest: Any) -> None:
        self.f, self.digest, self.pos = f, digest, 0
        f.seek(0)

    def advance(self, target: int) -> None:
        if self.digest is None:
            self.f.seek(target)
            self.pos = target
            return
        if target < self.pos:
            raise _Bad("its records overlap")
        for _ in self.chunks(target - self.pos):
            pass

    def chunks(self, n: int) -> Iterator[bytes]:
        while n > 0:
            b = self.f.read(min(n, _CHUNK))
            if not b:
                raise _Bad("the file ends early (truncated, or changed while being read)")
            if self.digest is not None:
                self.digest.update(b)
            self.pos += len(b)
            n -= len(b)
            yield b


@dataclass
class _Array:
    """One array as the file describes it, checked before its data is read."""

    key: str
    dtype: np.dtype             # what the file holds
    shape: tuple[int, ...]
    nbytes: int                 # bytes of data in the file
    out_dtype: np.dtype         # what load returns (differs only for bfloat16)
    fortran: bool = False
    sha256: str | None = None   # from the manifest
    # npz
    offset: int = 0
    data_start: int = 0
    method: int = 0
    csize: int = 0
    usize: int = 0
    crc: int = 0
    comment: bytes = b""
    hdr: bytes = b""
    extra: dict = field(default_factory=dict)


def _dims(shape: Any, what: str) -> tuple[int, ...]:
    if not isinstance(shape, (list, tuple)) or len(shape) > _MAX_DIMS or \
            not all(type(d) is int and d >= 0 for d in shape):
        raise _Bad(f"{what}: its shape {shape!r} is not a list of at most {_MAX_DIMS} sizes")
    return tuple(shape)


def _fill(chunks: Iterator[bytes], buf: np.ndarray | None, sha: Any, n: int, what: str) -> None:
    pos = 0
    for b in chunks:
        if pos + len(b) > n:
            raise _Bad(f"{what}: more data than its header declares")
        if sha is not None:
            sha.update(b)
        if buf is not None:
            buf[pos:pos + len(b)] = np.frombuffer(b, np.uint8)
        pos += len(b)
    if pos != n:
        raise _Bad(f"{what}: less data than its header declares")


def _finish(buf: np.ndarray, a: _Array) -> np.ndarray:
    if a.dtype.str == "<u2" and a.out_dtype == np.float32:  # bfloat16: exact in float32
        return (buf.view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(a.shape)
    return buf.view(a.dtype).reshape(a.shape, order="F" if a.fortran else "C")


def _targets(model: Any) -> dict[str, np.ndarray] | None:
    if model is None or not hasattr(model, "state_dict"):
        return None
    return {k: as_array(v) for k, v in model.state_dict().items()}


def _plan(path: str, arrays: list[_Array], model: Any, targets: dict[str, np.ndarray] | None,
          strict: bool, max_bytes: int | None, file_size: int, compressed: bool) -> set[str]:
    """Which arrays to read: decided from the headers alone, before any data is read."""
    if model is not None and any(a.key == TREE_KEY for a in arrays):
        raise CheckpointError(f"cr.load: {path!r} holds a state (nested dicts and lists, as "
                              f"an optimizer's state_dict), not a model's state_dict; load it "
                              f"without a model")
    if targets is None:
        keep = list(arrays)
    else:
        have = {a.key: a for a in arrays}
        problems: list[str] = []
        if strict:
            problems = key_problems([a.key for a in arrays if a.key not in targets],
                                    [k for k in targets if k not in have])
        keep = []
        for k, t in targets.items():
            a = have.get(k)
            if a is None:
                continue
            if a.shape != t.shape:
                problems.append(
                    f"size mismatch for {k}: copying a param with shape {a.shape} from "
                    f"checkpoint, the shape in current model is {tuple(t.shape)}.")
                continue
            why = cast_problem(a.out_dtype, t.dtype)
            if why:
                problems.append(f"dtype mismatch for {k}: {why}.")
                continue
            keep.append(a)
        if problems:
            raise CheckpointError(
                f"cr.load: {path!r} does not fit the model:\nError(s) in loading state_dict for "
                f"{type(model).__name__}:\n\t" + "\n\t".join(problems))
    total = sum(a.nbytes * a.out_dtype.itemsize // a.dtype.itemsize for a in keep)
    limit = max_bytes
    if limit is None and targets is None and compressed:
        limit = _NO_MODEL_RATIO * file_size + _NO_MODEL_SLACK
    if limit is not None and total > limit:
        raise CheckpointError(
            f"cr.load: {path!r} declares {total} bytes of arrays, more than the {limit} allowed "
            f"({'max_bytes' if max_bytes is not None else 'a compressed file without a model'}); "
            f"pass max_bytes= to allow more")
    return {a.key for a in keep}


def _cast_checked(path: str, key: str, a: np.ndarray, dt: np.dtype) -> np.ndarray:
    """``a`` cast to ``dt``, refused if that changes a value beyond rounding."""
    if a.dtype == dt:
        return a
    with np.errstate(all="ignore"):
        out = a.astype(dt)
    bad: Any = None
    if a.size and dt.kind in "fc":
        lost = ~np.isfinite(out) & (np.isfinite(a) if a.dtype.kind in "fc" else True)
        if lost.any():
            bad = a.reshape(-1)[int(np.argmax(lost.reshape(-1)))]
    elif a.size and dt.kind in "iu" and a.dtype.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = int(a.min()), int(a.max())
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
    elif a.size and dt.kind == "b" and a.dtype.kind in "iu":
        wrong = (a != 0) & (a != 1)
        if wrong.any():
            bad = a.reshape(-1)[int(np.argmax(wrong.reshape(-1)))]
    if bad is not None:
        bad = bad.item() if hasattr(bad, "item") else bad
        raise CheckpointError(
            f"cr.load: {path!r}: loading {key!r} would change its values: the checkpoint holds "
            f"{a.dtype} {bad!r}, which {dt} cannot represent")
    return out


# ----------------------------------------------------------------------------------------
# reading .npz
# ----------------------------------------------------------------------------------------

def _extras(b: bytes, what: str) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    p = 0
    while p < len(b):
        if p + 4 > len(b):
            raise _Bad(f"{what}: malformed extra field")
        hid, ln = struct.unpack_from("<2H", b, p)
        p += 4
        if p + ln > len(b) or hid in out:
            raise _Bad(f"{what}: malformed extra field")
        out[hid] = b[p:p + ln]
        p += ln
    return out


def _zip64(extras: dict[int, bytes], vals: list[int], what: str) -> list[int]:
    """Replace the 0xFFFFFFFF (0xFFFF for the disk) fields by their zip64 values."""
    sentinels = (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFF)
    need = [i for i, v in enumerate(vals) if v == sentinels[i]]
    if not need:
        return vals
    z = extras.get(1)
    widths = [4 if i == 3 else 8 for i in need]
    if z is None or len(z) < sum(widths):
        raise _Bad(f"{what}: a zip64 size or offset is missing")
    vals = list(vals)
    p = 0
    for i, w in zip(need, widths):
        vals[i] = int.from_bytes(z[p:p + w], "little")
        p += w
    return vals


def _eocd(f: BinaryIO, size: int) -> tuple[int, int, int, int, bytes]:
    """(entries, cd_offset, cd_size, where the central directory must end, archive comment)."""
    if size < 22:
        raise _Bad("it is too short to be a zip file (truncated)")
    tail_len = min(size, 22 + 0xFFFF)
    tail = _rd(f, size - tail_len, tail_len)
    end = len(tail)
    while True:
        i = tail.rfind(b"PK\x05\x06", 0, end)
        if i < 0:
            raise _Bad("no zip end record at its end (truncated, or not an .npz)")
        if i + 22 <= len(tail) and i + 22 + struct.unpack_from("<H", tail, i + 20)[0] == len(tail):
            break
        end = i + 3
    pos = size - tail_len + i
    _, disk, cd_disk, n_disk, n, cd_size, cd_off, _clen = struct.unpack_from("<4s4H2LH", tail, i)
    comment = tail[i + 22:]
    cd_end = pos
    if pos >= 20 and _rd(f, pos - 20, 4) == b"PK\x06\x07":
        _, z_disk, z_off, disks = struct.unpack("<4sLQL", _rd(f, pos - 20, 20))
        if z_disk != 0 or disks != 1 or z_off + 56 > pos - 20:
            raise _Bad("malformed zip64 end locator")
        rec = _rd(f, z_off, 56)
        (sig, rec_size, _vm, _vn, disk64, cd_disk64, n_disk64, n64, cd_size64,
         cd_off64) = struct.unpack("<4sQ2H2L4Q", rec)
        if sig != b"PK\x06\x06" or rec_size < 44 or z_off + 12 + rec_size != pos - 20:
            raise _Bad("malformed zip64 end record")
        for small, big, top in ((disk, disk64, 0xFFFF), (cd_disk, cd_disk64, 0xFFFF),
                                (n_disk, n_disk64, 0xFFFF), (n, n64, 0xFFFF),
                                (cd_size, cd_size64, 0xFFFFFFFF), (cd_off, cd_off64, 0xFFFFFFFF)):
            if small != top and small != big:
                raise _Bad("its zip end records disagree")
        disk, cd_disk, n_disk, n, cd_size, cd_off = disk64, cd_disk64, n_disk64, n64, cd_size64, cd_off64
        cd_end = z_off
    if disk != 0 or cd_disk != 0 or n_disk != n:
        raise _Bad("multi-disk zip archives are not supported")
    if cd_off + cd_size != cd_end:
        raise _Bad("its central directory does not end where the end record says")
    return n, cd_off, cd_size, cd_end, comment


def _zip_entries(f: BinaryIO, size: int) -> tuple[list[_Array], int, bytes]:
    """Every member, checked against its local header, contiguous from offset 0 to the
    central directory; returns (members in directory order, cd_offset, archive comment)."""
    n, cd_off, cd_size, _cd_end, comment = _eocd(f, size)
    cd = _rd(f, cd_off, cd_size)
    members: list[_Array] = []
    names: set[str] = set()
    p = 0
    while p < len(cd):
        if p + 46 > len(cd) or cd[p:p + 4] != b"PK\x01\x02":
            raise _Bad(f"central directory entry {len(members)} is malformed")
        (_vm, _vn, flags, method, _t, _d, crc, csize, usize, nlen, elen, clen, disk, _ia, _ea,
         off) = struct.unpack_from("<6H3L5H2L", cd, p + 4)
        q = p + 46
        p = q + nlen + elen + clen
        if p > len(cd):
            raise _Bad(f"central directory entry {len(members)} overruns the directory")
        raw_name, extra, ecomment = cd[q:q + nlen], cd[q + nlen:q + nlen + elen], cd[q + nlen + elen:p]
        try:
            name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        except UnicodeDecodeError:
            raise _Bad(f"member name {raw_name!r} is not valid UTF-8") from None
        what = f"member {name!r}"
        if "\x00" in name:
            raise _Bad(f"{what}: the name contains a NUL byte")
        if name in names:
            raise _Bad(f"{what} appears twice")
        names.add(name)
        if not name.endswith(".npy"):
            raise _Bad(f"unexpected {what} (an .npz holds .npy arrays only)")
        if flags & 0x2041:
            raise _Bad(f"{what} is encrypted")
        if method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Bad(f"{what} uses compression method {method} (only stored and deflated are read)")
        usize, csize, off, disk = _zip64(_extras(extra, what), [usize, csize, off, disk], what)
        if disk != 0:
            raise _Bad(f"{what} is on another disk")
        if method == zipfile.ZIP_STORED and csize != usize:
            raise _Bad(f"{what}: stored with {csize} bytes but declares {usize}")
        members.append(_Array(key=name[:-4], dtype=np.dtype(np.uint8), shape=(), nbytes=0,
                              out_dtype=np.dtype(np.uint8), offset=off, method=method, csize=csize,
                              usize=usize, crc=crc, comment=ecomment,
                              extra={"flags": flags, "raw_name": raw_name}))
    if len(members) != n:
        raise _Bad(f"its central directory lists {len(members)} members but its end record says {n} "
                   f"(a damaged directory would hide members)")
    # local headers, and the layout: member after member from 0, then the directory
    order = sorted(members, key=lambda m: m.offset)
    for j, m in enumerate(order):
        what = f"member {m.key + '.npy'!r}"
        if m.offset != (0 if j == 0 else order[j - 1].extra["end"]) or m.offset + 30 > cd_off:
            raise _Bad(f"{what}: its local header is not where the previous member ends "
                       f"(a gap, an overlap or a damaged offset)")
        (sig, _v, lflags, lmethod, _t, _d, lcrc, lcsize, lusize, lnlen,
         lelen) = struct.unpack("<4s5H3L2H", _rd(f, m.offset, 30))
        if sig != b"PK\x03\x04":
            raise _Bad(f"{what}: no local header at its offset")
        lname = _rd(f, m.offset + 30, lnlen)
        lextra = _extras(_rd(f, m.offset + 30 + lnlen, lelen), what)
        if lname != m.extra["raw_name"] or lflags != m.extra["flags"] or lmethod != m.method:
            raise _Bad(f"{what}: its local header disagrees with the central directory")
        descriptor = bool(m.extra["flags"] & 0x8)
        if not descriptor:
            lusize, lcsize = _zip64(lextra, [lusize, lcsize], what)[:2]
            if (lcrc, lcsize, lusize) != (m.crc, m.csize, m.usize):
                raise _Bad(f"{what}: its local header disagrees with the central directory")
        m.data_start = m.offset + 30 + lnlen + lelen
        data_end = m.data_start + m.csize
        nxt = order[j + 1].offset if j + 1 < len(order) else cd_off
        if data_end > nxt:
            raise _Bad(f"{what}: its data runs into the next record")
        if descriptor:
            d = _rd(f, data_end, nxt - data_end) if nxt - data_end <= 24 else b""
            body = d[4:] if d[:4] == b"PK\x07\x08" else d
            forms = {struct.pack("<3L", m.crc, m.csize, m.usize) if max(m.csize, m.usize) < 2**32 else None,
                     struct.pack("<L2Q", m.crc, m.csize, m.usize)}
            if body not in forms:
                raise _Bad(f"{what}: its data descriptor is missing or disagrees")
        elif data_end != nxt:
            raise _Bad(f"{what}: unaccounted bytes after its data")
        m.extra["end"] = nxt
    if not order and cd_off != 0:
        raise _Bad("unaccounted bytes before its central directory")
    return members, cd_off, comment


def _member_prefix(f: BinaryIO, m: _Array, n: int) -> bytes:
    """The first ``n`` uncompressed bytes of a member (fewer if it is shorter)."""
    want = min(n, m.usize)
    if m.method == zipfile.ZIP_STORED:
        return _rd(f, m.data_start, want)
    d = zlib.decompressobj(-15)
    out = b""
    pos, end = m.data_start, m.data_start + m.csize
    pending = b""
    try:
        while len(out) < want:
            if not pending:
                if pos >= end or d.eof:
                    break
                pending = _rd(f, pos, min(end - pos, _ZCHUNK))
                pos += len(pending)
            out += d.decompress(pending, want - len(out))
            pending = d.unconsumed_tail
    except zlib.error as exc:
        raise _Bad(f"array {m.key!r}: its compressed data is corrupted ({exc})") from None
    return out


def _npy_header_of(f: BinaryIO, m: _Array) -> None:
    what = f"array {m.key!r}"
    pre = _member_prefix(f, m, 12)
    if len(pre) < 10 or pre[:6] != b"\x93NUMPY":
        raise _Bad(f"{what}: not an .npy array")
    version = (pre[6], pre[7])
    if version == (1, 0):
        start, hlen = 10, struct.unpack_from("<H", pre, 8)[0]
    elif version in ((2, 0), (3, 0)) and len(pre) == 12:
        start, hlen = 12, struct.unpack_from("<L", pre, 8)[0]
    else:
        raise _Bad(f"{what}: unsupported .npy version {version}")
    if hlen > _NPY_MAX_HEADER or start + hlen > m.usize:
        raise _Bad(f"{what}: its .npy header claims {hlen} bytes")
    hdr = _member_prefix(f, m, start + hlen)
    if len(hdr) != start + hlen:
        raise _Bad(f"{what}: its .npy header is cut short")
    text = hdr[start:].decode("utf-8" if version == (3, 0) else "latin1")
    fast = _NPY_PLAIN.match(text)
    if fast is not None:  # the form NumPy writes, without the cost of a parse
        dims = [x.strip() for x in fast.group(3).split(",")]
        if dims[-1] == "":      # "()", "(3,)", "(3, 4,)"
            dims.pop()
        elif len(dims) == 1:    # "(3)" is not a tuple
            raise _Bad(f"{what}: its .npy header is malformed")
        d = {"descr": fast.group(1), "fortran_order": fast.group(2) == "True",
             "shape": tuple(int(x) for x in dims)}
    elif "\\" in text:  # never in a header NumPy writes for a plain dtype
        raise _Bad(f"{what}: its .npy header is malformed")
    else:
        try:
            d = ast.literal_eval(text)
        except Exception:
            raise _Bad(f"{what}: its .npy header is not readable") from None
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        raise _Bad(f"{what}: its .npy header is malformed")
    if not isinstance(d["descr"], str):
        raise _Bad(f"{what}: structured dtypes are not loaded")
    try:
        dt = np.dtype(d["descr"])
    except Exception:
        raise _Bad(f"{what}: unknown dtype {d['descr']!r}") from None
    if not _plain_dtype(dt):
        raise _Bad(f"{what}: dtype {dt} is not loaded (pickled objects never are)")
    if type(d["fortran_order"]) is not bool:
        raise _Bad(f"{what}: its .npy header is malformed")
    shape = _dims(d["shape"], what)
    if not isinstance(d["shape"], tuple):
        raise _Bad(f"{what}: its .npy header is malformed")
    nbytes = math.prod(shape) * dt.itemsize
    if start + hlen + nbytes != m.usize:
        raise _Bad(f"{what}: its header declares shape {shape} of {dt} ({nbytes} bytes), but the "
                   f"member holds {m.usize - start - hlen} bytes of data")
    m.dtype, m.out_dtype, m.shape, m.fortran, m.nbytes, m.hdr = dt, dt, shape, d["fortran_order"], nbytes, hdr
    m.extra["descr"] = d["descr"]


def _npz_manifest(m: _Array) -> None:
    what = f"array {m.key!r}"
    try:
        e = json.loads(m.comment.decode("ascii"))
        ok = isinstance(e, dict) and tuple(e) == _ENTRY_KEYS and e["chainrule"] == 1 \
            and isinstance(e["shape"], list) and type(e["fortran_order"]) is bool
    except Exception:
        ok = False
    if not ok or not isinstance(e["sha256"], str) or not _HEX64.match(e["sha256"]):
        raise _Bad(f"{what}: its manifest entry is damaged")
    if (e["dtype"], tuple(e["shape"]), e["fortran_order"], e["nbytes"]) != \
            (m.extra["descr"], m.shape, m.fortran, m.nbytes):
        raise _Bad(f"{what}: its .npy header (shape {m.shape}, {m.dtype}) disagrees with the manifest "
                   f"(shape {tuple(e['shape'])}, {e['dtype']})")
    m.sha256 = e["sha256"]


def _inflate(raw: Iterator[bytes], usize: int, what: str) -> Iterator[bytes]:
    """Decompress, never producing more than ``usize`` + 1 bytes, nor more than _CHUNK at once."""
    d = zlib.decompressobj(-15)
    produced = 0
    try:
        for chunk in raw:
            data = chunk
            while data:
                if d.eof:
                    raise _Bad(f"{what}: bytes after the end of its compressed stream")
                out = d.decompress(data, min(_CHUNK, usize - produced + 1))
                data = d.unconsumed_tail
                if d.eof and d.unused_data:
                    raise _Bad(f"{what}: bytes after the end of its compressed stream")
                produced += len(out)
                if produced > usize:
                    raise _Bad(f"{what}: it inflates beyond the {usize} bytes it declares (a zip bomb?)")
                if out:
                    yield out
    except zlib.error as exc:
        raise _Bad(f"{what}: its compressed data is corrupted ({exc})") from None
    if not d.eof:
        raise _Bad(f"{what}: its compressed data is cut short")


def _split(stream: Iterator[bytes], n_hdr: int, hdr_out: bytearray, crc: list[int]) -> Iterator[bytes]:
    for b in stream:
        crc[0] = zlib.crc32(b, crc[0])
        if len(hdr_out) < n_hdr:
            take = n_hdr - len(hdr_out)
            hdr_out += b[:take]
            b = b[take:]
        if b:
            yield b


def _load_npz(f: BinaryIO, path: str, size: int, model: Any, targets: Any, strict: bool,
              max_bytes: int | None, require: bool) -> dict[str, np.ndarray]:
    members, _cd_off, comment = _zip_entries(f, size)
    ours = bool(_NPZ_OURS.search(comment)) or any(m.comment.startswith(_ENTRY_PREFIX) for m in members)
    if ours:
        c = _NPZ_COMMENT.match(comment)
        if c is None:
            raise _Bad("its chainrule manifest (the archive comment) is damaged")
        if int(c.group(1)) != len(members):
            raise _Bad(f"its manifest lists {int(c.group(1))} arrays, the archive holds {len(members)}")
    elif require:
        raise _Bad("it has no chainrule manifest (require_checksums=True)")
    if not ours and any(m.key == TREE_KEY for m in members):
        raise _Bad("it holds a state tree but no chainrule manifest (a state is only loaded "
                   "with every byte checked)")
    for m in members:
        _npy_header_of(f, m)
        if ours:
            _npz_manifest(m)
    keep = _plan(path, members, model, targets, strict, max_bytes, size,
                 any(m.method != zipfile.ZIP_STORED for m in members))
    digest = hashlib.sha256() if ours else None
    rd = _Reader(f, digest)
    out: dict[str, np.ndarray] = {}
    for m in sorted(members, key=lambda m: m.offset):
        if m.key not in keep and not ours:
            continue
        what = f"array {m.key!r}"
        rd.advance(m.data_start)
        raw = rd.chunks(m.csize)
        stream = raw if m.method == zipfile.ZIP_STORED else _inflate(raw, m.usize, what)
        hdr, crc = bytearray(), [0]
        buf = np.empty(m.nbytes, np.uint8) if m.key in keep else None
        sha = hashlib.sha256() if ours else None
        _fill(_split(stream, len(m.hdr), hdr, crc), buf, sha, m.nbytes, what)
        if bytes(hdr) != m.hdr:
            raise _Bad(f"{what}: the file changed while being read")
        if crc[0] != m.crc:
            raise _Bad(f"{what}: its CRC-32 does not match (corrupted data)")
        if sha is not None and sha.hexdigest() != m.sha256:
            raise _Bad(f"{what}: its SHA-256 does not match the manifest (corrupted data)")
        if buf is not None:
            out[m.key] = _finish(buf, m)
    if digest is not None:
        rd.advance(size - len(comment))
        if digest.hexdigest() != _NPZ_COMMENT.match(comment).group(2).decode():
            raise _Bad("its SHA-256 does not match the manifest (a damaged zip structure)")
    return {m.key: out[m.key] for m in members if m.key in out}


# ----------------------------------------------------------------------------------------
# reading .safetensors
# ----------------------------------------------------------------------------------------

def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise _Bad(f"its header has the key {k!r} twice")
        d[k] = v
    return d


def _no_constant(s: str) -> Any:
    raise _Bad(f"its header holds {s}, which is not JSON")


def _st_manifest(meta: dict, header: dict, tensors: list[_Array]) -> None:
    dig = meta.get(_ST_DIGEST)
    man = meta.get(_ST_MANIFEST)
    if not isinstance(dig, str) or not isinstance(man, str) or not _HEX64.match(dig):
        raise _Bad("its chainrule manifest is damaged (a manifest field is missing)")
    rest = {k: v for k, v in meta.items() if k != _ST_DIGEST}
    if hashlib.sha256(_st_json({**header, "__metadata__": rest})).hexdigest() != dig:
        raise _Bad("its header does not match its digest (a damaged header)")
    try:
        e = json.loads(man)
        entries = e["arrays"]
        ok = isinstance(e, dict) and e.get("chainrule") == 1 and e.get("hash") == "sha256" \
            and isinstance(entries, list) and len(entries) == len(tensors)
    except Exception:
        ok = False
    if not ok:
        raise _Bad("its chainrule manifest is damaged")
    for t, x in zip(tensors, entries):
        if not isinstance(x, dict) or x.get("name") != t.key or x.get("dtype") != t.extra["code"] \
                or x.get("shape") != list(t.shape) or x.get("nbytes") != t.nbytes \
                or not isinstance(x.get("sha256"), str) or not _HEX64.match(x["sha256"]):
            raise _Bad(f"tensor {t.key!r}: its header disagrees with the manifest")
        t.sha256 = x["sha256"]


def _load_safetensors(f: BinaryIO, path: str, size: int, model: Any, targets: Any, strict: bool,
                      max_bytes: int | None, require: bool) -> dict[str, np.ndarray]:
    if size < 10:
        raise _Bad("it is too short to be a safetensors file (truncated)")
    n = struct.unpack("<Q", _rd(f, 0, 8))[0]
    if n < 2 or n > _ST_MAX_HEADER:
        raise _Bad(f"its header length {n} is out of bounds")
    if 8 + n > size:
        raise _Bad(f"its header length {n} runs past the end of the file (truncated)")
    raw = _rd(f, 8, n)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Bad("its header is not UTF-8") from None
    if not text.startswith("{"):
        raise _Bad("its header is not a JSON object")
    try:
        header = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except _Bad:
        raise
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"its header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _Bad("its header is not a JSON object")
    meta = header.get("__metadata__")
    if meta is not None and (not isinstance(meta, dict)
                             or not all(isinstance(v, str) for v in meta.values())):
        raise _Bad("its __metadata__ is not a map of strings")
    tensors: list[_Array] = []
    for k, v in header.items():
        if k == "__metadata__":
            continue
        what = f"tensor {k!r}"
        if not isinstance(v, dict) or set(v) != {"dtype", "shape", "data_offsets"}:
            raise _Bad(f"{what}: malformed header entry")
        code = v["dtype"]
        if code == "BF16":
            dt, out_dt = np.dtype("<u2"), np.dtype(np.float32)
        elif isinstance(code, str) and code in _ST_CODES:
            dt = out_dt = np.dtype(_ST_CODES[code])
        else:
            raise _Bad(f"{what}: dtype {code!r} is not supported"
                       + (" (NumPy has no 8-bit floats)" if str(code).startswith("F8") else ""))
        shape = _dims(v["shape"], what)
        offs = v["data_offsets"]
        if not isinstance(offs, list) or len(offs) != 2 or not all(type(o) is int for o in offs) \
                or not 0 <= offs[0] <= offs[1]:
            raise _Bad(f"{what}: malformed data_offsets {offs!r}")
        nbytes = math.prod(shape) * dt.itemsize
        if offs[1] - offs[0] != nbytes:
            raise _Bad(f"{what}: shape {shape} of {code} needs {nbytes} bytes, its offsets span "
                       f"{offs[1] - offs[0]}")
        tensors.append(_Array(key=k, dtype=dt, shape=shape, nbytes=nbytes, out_dtype=out_dt,
                              offset=offs[0], extra={"code": code}))
    pos = 0
    for t in sorted(tensors, key=lambda t: (t.offset, t.nbytes)):
        if t.offset != pos:
            raise _Bad(f"tensor {t.key!r}: its data does not start where the previous one ends "
                       f"(a gap or an overlap)")
        pos += t.nbytes
    if 8 + n + pos != size:
        raise _Bad(f"its tensors take {pos} bytes but {size - 8 - n} follow the header "
                   + ("(truncated)" if 8 + n + pos > size else "(trailing bytes)"))
    ours = meta is not None and (_ST_MANIFEST in meta or _ST_DIGEST in meta)
    if ours:
        canon = _st_json(header)
        if raw != canon + b" " * (-len(canon) % 8):
            raise _Bad("its header is not the one chainrule wrote (a damaged header)")
        _st_manifest(meta, header, tensors)
    elif require:
        raise _Bad("it has no chainrule manifest (require_checksums=True)")
    if not ours and any(t.key == TREE_KEY for t in tensors):
        raise _Bad("it holds a state tree but no chainrule manifest (a state is only loaded "
                   "with every byte checked)")
    keep = _plan(path, tensors, model, targets, strict, max_bytes, size, False)
    rd = _Reader(f, None)
    out: dict[str, np.ndarray] = {}
    for t in sorted(tensors, key=lambda t: t.offset):
        if t.key not in keep and not ours:
            continue
        rd.advance(8 + n + t.offset)
        buf = np.empty(t.nbytes, np.uint8) if t.key in keep else None
        sha = hashlib.sha256() if ours else None
        _fill(rd.chunks(t.nbytes), buf, sha, t.nbytes, f"tensor {t.key!r}")
        if sha is not None and sha.hexdigest() != t.sha256:
            raise _Bad(f"tensor {t.key!r}: its SHA-256 does not match the manifest (corrupted data)")
        if buf is not None:
            out[t.key] = _finish(buf, t)
    return {t.key: out[t.key] for t in tensors if t.key in out}


# ----------------------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------------------

def _open_regular(path: str) -> tuple[BinaryIO, int]:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"cr.load: no such file: {path!r}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise CheckpointError(f"cr.load: cannot read {path!r}: it is not a regular file")
    return os.fdopen(fd, "rb"), st.st_size


def load(path: str | os.PathLike, model: Any = None, strict: bool = True,
         format: str | None = None, *, max_bytes: int | None = None,
         require_checksums: bool = False) -> Any:
    """Read a checkpoint written by :func:`save` (or ``np.savez`` / safetensors), verifying it.

    Without ``model``: returns the dict of arrays.  With ``model``: loads it with
    ``model.load_state_dict(..., strict)`` and returns the model.  The format is taken from
    the file's first bytes (then ``format``, then the suffix).

    Checked before any array data is read: the structure (zip: the end record, every
    central-directory entry against its local header, members laid end to end with no gap,
    overlap or extra byte, nothing but uncompressed or deflated ``.npy`` members, each .npy
    header parsed and its shape and dtype matching the member's size; safetensors: header
    length bounds, strict JSON without duplicate keys, dtypes, shapes, offsets contiguous from
    0 to exactly the end of the file), the manifest against all of that, and with ``model``
    every key, shape and dtype against the model (``strict`` as in ``load_state_dict``).
    Then the data is read in bounded chunks, never inflating a member beyond its declared
    size, and checked: zip CRC-32s, the manifest's SHA-256 of every array and (``.npz``) of
    the whole file.  Only then is the model changed, all at once; a value that casting to the
    model's dtype would change (an integer overflow, a float64 that overflows float32 to inf)
    is refused.  Any failure raises :class:`CheckpointError` naming the file (and the key)
    and leaves the model bit for bit as it was.

    Memory: with ``model``, only arrays the model takes are read (at most its size, in the
    file's dtype); without, a compressed .npz may declare at most 64x its size on disk plus
    64 MiB.  ``max_bytes`` sets the limit explicitly.

    A file without a chainrule manifest (``np.savez``, PyTorch-exported safetensors) gets
    every structural check but no SHA-256: an .npz's CRC-32s still catch damaged data, a
    safetensors file's data has no checksum at all.  ``require_checksums=True`` refuses such
    files.
    """
    path = os.fspath(path)
    f, size = _open_regular(path)
    with f:
        head = f.read(9)
        if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            kind = "npz"
        elif len(head) == 9 and head[8:9] == b"{":
            kind = "safetensors"
        else:
            kind = "unknown"
        fmt = _format(path, format) if format is not None else (
            kind if kind != "unknown" else _format(path, None))
        targets = _targets(model)
        try:
            if fmt == "safetensors":
                arrays = _load_safetensors(f, path, size, model, targets, strict, max_bytes,
                                           require_checksums)
            else:
                if kind != "npz":
                    raise _Bad("it is not an .npz (zip) file")
                arrays = _load_npz(f, path, size, model, targets, strict, max_bytes, require_checksums)
        except _Bad as exc:
            raise CheckpointError(f"cr.load: cannot read {path!r}: {exc}") from None
        except (CheckpointError, OSError, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise CheckpointError(
                f"cr.load: cannot read {path!r}: the file is damaged (uncaught "
                f"{type(exc).__name__}: {exc})") from exc
    if TREE_KEY in arrays:
        try:
            tree = _tree_of(arrays)
        except _Bad as exc:
            raise CheckpointError(f"cr.load: cannot read {path!r}: {exc}") from None
        return tree
    if model is None:
        return arrays
    if targets is not None:
        arrays = {k: _cast_checked(path, k, a, targets[k].dtype) for k, a in arrays.items()}
    try:
        model.load_state_dict(arrays, strict=strict)
    except StateDictError as exc:
        raise CheckpointError(f"cr.load: {path!r} does not fit the model:\n{exc}") from None
    return model


# ----------------------------------------------------------------------------------------
# atomic writes
# ----------------------------------------------------------------------------------------

_TMP_MARK = ".chainrule-tmp-"
_TMP_TAIL = re.compile(r"([0-9]+)-[0-9a-f]{12}\Z")
_STALE_AGE = 24 * 3600
_live_lock = threading.Lock()
_live: set[str] = set()      # temporary files this process is writing now


class _Terminated(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum} during a save")
        self.signum = signum


def _on_signal(signum: int, frame: Any) -> None:
    raise _Terminated(signum)


def _guard_signals() -> dict[int, Any]:
    """In the main thread, turn SIGTERM/SIGHUP (when they would kill the process outright)
    into an exception for the duration of a write, so that the temporary file is removed."""
    saved: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return saved
    for name in ("SIGTERM", "SIGHUP"):
        s = getattr(signal, name, None)
        if s is None:
            continue
        try:
            if signal.getsignal(s) is signal.SIG_DFL:
                signal.signal(s, _on_signal)
                saved[s] = signal.SIG_DFL
        except (ValueError, OSError):
            pass
    return saved


def _restore_signals(saved: dict[int, Any]) -> None:
    for s, h in saved.items():
        try:
            signal.signal(s, h)
        except (ValueError, OSError):
            pass


def _tmp_prefix(base: str) -> str:
    if len(base.encode("utf-8", "surrogateescape")) > 160:
        base = base[:40] + "~" + hashlib.sha256(base.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return "." + base + _TMP_MARK


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale(folder: str, base: str) -> None:
    """Remove the temporary files of earlier saves to the same path whose process is gone."""
    prefix = _tmp_prefix(base)
    try:
        names = [e.name for e in os.scandir(folder) if e.name.startswith(prefix)]
    except OSError:
        return
    now = time.time()
    for name in names:
        m = _TMP_TAIL.match(name[len(prefix):])
        if m is None:
            continue
        full = os.path.join(folder, name)
        pid = int(m.group(1))
        with _live_lock:
            mine = full in _live
        if mine:
            continue
        try:
            old = now - os.lstat(full).st_mtime > _STALE_AGE
        except OSError:
            continue
        if pid == os.getpid() or not _pid_alive(pid) or old:
            try:
                os.unlink(full)
            except OSError:
                pass


def _create_tmp(folder: str, base: str) -> tuple[int, str]:
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(16):
        tmp = os.path.join(folder, f"{_tmp_prefix(base)}{os.getpid()}-{secrets.token_hex(6)}")
        with _live_lock:  # before it exists, so that no other thread's cleanup takes it
            _live.add(tmp)
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
        except BaseException as exc:
            with _live_lock:
                _live.discard(tmp)
            if isinstance(exc, FileExistsError):
                continue
            raise
        return fd, tmp
    raise FileExistsError(errno.EEXIST, "could not create a temporary file")


def _fsync_dir(folder: str) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> None:
    """Write a file atomically: ``write(f)`` fills a new temporary file in the same folder,
    which is flushed and fsynced, renamed over ``path`` (``os.replace``), and the folder is
    fsynced; a crash or an error leaves the old file as it was.

    * A symlink at ``path`` is followed: its target is replaced and the link stays.
    * A new file gets 0666 less the umask, as ``open()`` gives (the umask is never touched);
      a replaced file keeps its mode (not its owner).
    * Refused before anything is written, naming ``path``: a missing folder
      (FileNotFoundError), a read-only file or a folder that cannot be written
      (PermissionError), a directory or another non-regular file.
    * The temporary file, ``.<name>.chainrule-tmp-<pid>-<random>``, is removed on any exception
      (KeyboardInterrupt included) and, in the main thread, on SIGTERM/SIGHUP, which then end
      the process as they would have; one left by a killed process is removed by the next
      write to the same path.
    * OS errors name ``path``, never the temporary file.
    """
    path = os.fspath(path)
    target = os.path.realpath(path) if os.path.islink(path) else path
    folder = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    if not base:
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path!r}: it names a directory")
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"cannot write {path!r}: the directory {folder!r} "
                                              f"does not exist")
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    if old is not None:
        if stat.S_ISDIR(old.st_mode):
            raise IsADirectoryError(errno.EISDIR, f"cannot write {path!r}: it is a directory")
        if not stat.S_ISREG(old.st_mode):
            raise OSError(errno.EINVAL, f"cannot write {path!r}: it exists and is not a regular file")
        if not old.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, f"cannot write {path!r}: the file is read-only")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"cannot write {path!r}: its directory {folder!r} is "
                                            f"not writable")
    _remove_stale(folder, base)
    saved = _guard_signals()
    tmp: str | None = None
    try:
        try:
            fd, tmp = _create_tmp(folder, base)
            with os.fdopen(fd, "w+b") as f:
                if old is not None:
                    if hasattr(os, "fchmod"):
                        os.fchmod(f.fileno(), stat.S_IMODE(old.st_mode))
                    else:  # pragma: no cover - Windows
                        os.chmod(tmp, stat.S_IMODE(old.st_mode))
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            with _live_lock:
                _live.discard(tmp)
            tmp = None
            _fsync_dir(folder)
        except BaseException as exc:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                with _live_lock:
                    _live.discard(tmp)
            if isinstance(exc, OSError) and exc.errno is not None:
                err = OSError(exc.errno, exc.strerror or str(exc), path)
                raise err.with_traceback(exc.__traceback__) from None
            raise
    except _Terminated as exc:
        _restore_signals(saved)
        saved = {}
        signal.raise_signal(exc.signum)  # the default action: the process ends here
        raise SystemExit(128 + exc.signum) from None
    finally:
        _restore_signals(saved)
