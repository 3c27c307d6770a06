"""``cr.save`` / ``cr.load``: model weights as ``.npz`` (never pickle) or ``.safetensors``.

Saving is atomic: the data goes to a temporary file in the target's directory, is flushed
to disk, and only then renamed over the target (``os.replace``), so a crash mid-save
leaves the previous file intact.  Loading reads and checks the whole file (zip CRCs,
array headers, no pickled objects) before it touches the model, and a model is changed
only if every key, shape and dtype fits.
"""

from __future__ import annotations

import io as _io
import os
import tempfile
import zipfile
from typing import Any, Callable

import numpy as np

from .core.errors import ChainruleError

__all__ = ["CheckpointError", "load", "save"]


class CheckpointError(ChainruleError, ValueError):
    """A checkpoint that cannot be written, read, or loaded into the given model."""


def _state_of(obj: Any) -> dict[str, np.ndarray]:
    from .nn.module import Module, as_array  # noqa: PLC0415

    if isinstance(obj, Module):
        items = obj.state_dict().items()
    elif hasattr(obj, "items"):
        items = obj.items()
    else:
        raise TypeError(f"cr.save expects a Module or a dict of arrays, got {type(obj).__name__}")
    out: dict[str, np.ndarray] = {}
    for k, v in items:
        if not isinstance(k, str) or not k:
            raise CheckpointError(f"cr.save: keys must be non-empty strings, got {k!r}")
        a = np.asarray(as_array(v))
        if a.dtype.kind not in "biufc":
            raise CheckpointError(
                f"cr.save: {k!r} has dtype {a.dtype}; only numeric arrays can be saved "
                f"(chainrule never writes pickled objects)"
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


def _safetensors() -> Any:
    try:
        import safetensors.numpy as st  # noqa: PLC0415

        return st
    except ImportError:
        raise ImportError(
            "the safetensors format needs the safetensors package: `pip install safetensors` "
            "(or save as .npz, which needs nothing)"
        ) from None


def _write_npz(f: Any, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for k, a in arrays.items():
            with zf.open(k + ".npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(a), allow_pickle=False)


def save(obj: Any, path: str | os.PathLike, format: str | None = None) -> str:
    """Write a Module's state_dict (or a dict of arrays) to ``path`` atomically.

    Format: ``.safetensors`` paths (or ``format='safetensors'``) use safetensors when it is
    installed; anything else is a NumPy ``.npz`` that ``np.load(path)`` reads directly.
    Returns the path.
    """
    path = os.fspath(path)
    fmt = _format(path, format)
    arrays = _state_of(obj)
    st = _safetensors() if fmt == "safetensors" else None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cr.save: the directory {folder!r} does not exist")
    def write(f: Any) -> None:
        if st is not None:
            # (np.ascontiguousarray would turn 0-d arrays into 1-d ones)
            f.write(st.save({k: a if a.flags.c_contiguous else a.copy(order="C")
                             for k, a in arrays.items()}))
        else:
            _write_npz(f, arrays)

    atomic_write(path, write)
    return path


def _read_npz(path: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.endswith(".npy"):
                raise CheckpointError(f"unexpected member {name!r} (an .npz holds .npy arrays)")
            data = zf.read(name)  # checks the CRC
            a = np.lib.format.read_array(_io.BytesIO(data), allow_pickle=False)
            out[name[:-4]] = a
    return out


def _sniff(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return "npz"
    if len(head) == 9 and head[8:9] == b"{":
        return "safetensors"
    return "unknown"


def load(path: str | os.PathLike, model: Any = None, strict: bool = True,
         format: str | None = None) -> Any:
    """Read a checkpoint written by :func:`save` (or ``np.savez`` / safetensors).

    Without ``model``: returns the dict of arrays.  With ``model``: loads it with
    ``model.load_state_dict(..., strict)`` and returns the model.  A corrupted, truncated
    or foreign file, or one whose keys, shapes or dtypes do not fit the model, raises
    :class:`CheckpointError` and leaves the model unchanged.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"cr.load: no such file: {path!r}")
    kind = _sniff(path)
    fmt = _format(path, format) if format is not None else (
        kind if kind != "unknown" else _format(path, None))
    try:
        if fmt == "safetensors":
            st = _safetensors()
            arrays = dict(st.load_file(path))
        else:
            if kind != "npz":
                raise CheckpointError("it is not an .npz (zip) file")
            arrays = _read_npz(path)
    except CheckpointError as exc:
        raise CheckpointError(f"cr.load: cannot read {path!r}: {exc}") from None
    except ImportError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, EOFError, SafetensorError ...
        raise CheckpointError(
            f"cr.load: cannot read {path!r}: the file is corrupted or truncated "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if model is None:
        return arrays
    from .nn.module import StateDictError  # noqa: PLC0415

    try:
        model.load_state_dict(arrays, strict=strict)
    except StateDictError as exc:
        raise CheckpointError(f"cr.load: {path!r} does not fit the model:\n{exc}") from None
    return model


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Write a file atomically: ``write(f)`` fills a temporary file in the same folder, which
    is synced and then renamed over ``path``; a crash or an error leaves the old file as it was.
    The new file gets the usual permissions (0666 less the umask), not mkstemp's 0600."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
