"""atomic_write (behind cr.save, and train/demo/viz's .json/.dot/.png files): no umask
toggling, modes kept, read-only destinations refused, errors that name the destination, and
no temporary file left behind by an exception, a signal or a killed process."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import io as crio

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def umask():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def _sd():
    return {"w": np.arange(6.0).reshape(2, 3), "b": np.ones(3, np.float32)}


def _temps(folder):
    return [n for n in os.listdir(folder) if ".chainrule-tmp-" in n]


def test_new_files_get_0666_less_the_umask(tmp_path, umask):
    for name in ("m.npz", "m.safetensors"):
        cr.save(_sd(), tmp_path / name)
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o666 & ~umask
    crio.atomic_write(tmp_path / "a.json", lambda f: f.write(b"{}"))
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o640
    assert (tmp_path / "a.json").read_bytes() == b"{}"


def test_the_umask_is_never_touched(tmp_path, monkeypatch):
    def no(*a):
        raise AssertionError("os.umask called")

    monkeypatch.setattr(os, "umask", no)
    cr.save(_sd(), tmp_path / "m.npz")
    cr.save(_sd(), tmp_path / "m.npz")
    cr.save(_sd(), tmp_path / "m.safetensors")


def test_a_thread_creating_files_during_saves_sees_its_umask(tmp_path, umask):
    # the old atomic_write set the umask to 0 for a moment: files other threads created in
    # that moment came out world-writable
    stop = threading.Event()
    wrong = []
    other = tmp_path / "other"
    other.mkdir()

    def create():
        i = 0
        while not stop.is_set():
            p = other / f"f{i % 50}"
            fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666)
            os.close(fd)
            mode = stat.S_IMODE(os.stat(p).st_mode)
            os.unlink(p)
            if mode != 0o640:
                wrong.append(oct(mode))
            i += 1

    t = threading.Thread(target=create)
    t.start()
    try:
        for i in range(150):
            cr.save(_sd(), tmp_path / f"m{i % 3}.npz")
    finally:
        stop.set()
        t.join()
    assert wrong == []


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o660])
def test_a_replaced_file_keeps_its_mode(tmp_path, umask, mode):
    p = tmp_path / "m.npz"
    cr.save(_sd(), p)
    os.chmod(p, mode)
    cr.save({"x": np.zeros(2)}, p)
    assert stat.S_IMODE(os.stat(p).st_mode) == mode
    assert list(cr.load(p)) == ["x"]


def test_a_read_only_destination_is_refused(tmp_path):
    p = tmp_path / "m.npz"
    cr.save(_sd(), p)
    before = p.read_bytes()
    os.chmod(p, 0o444)
    with pytest.raises(PermissionError, match="read-only") as info:
        cr.save({"x": np.zeros(2)}, p)
    assert str(p) in str(info.value)
    with pytest.raises(PermissionError, match="read-only"):
        crio.atomic_write(p, lambda f: f.write(b"x"))
    assert p.read_bytes() == before and _temps(tmp_path) == []


@pytest.mark.skipif(ROOT or os.name != "posix", reason="root may write into any directory")
def test_a_directory_that_cannot_be_written_is_refused(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    os.chmod(d, 0o555)
    try:
        with pytest.raises(PermissionError, match="not writable") as info:
            cr.save(_sd(), d / "m.npz")
        assert str(d / "m.npz") in str(info.value)
    finally:
        os.chmod(d, 0o755)


def test_other_destinations_that_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        cr.save(_sd(), tmp_path / "missing" / "m.npz")
    assert str(tmp_path / "missing" / "m.npz") in str(info.value)
    with pytest.raises(IsADirectoryError):
        cr.save(_sd(), tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(OSError, match="not a regular file"):
            cr.save(_sd(), tmp_path / "pipe")
    assert _temps(tmp_path) == []


def test_errors_name_the_destination_not_the_temporary_file(tmp_path, monkeypatch):
    p = tmp_path / "m.npz"

    def broken_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError) as info:
        cr.save(_sd(), p)
    assert info.value.errno == errno.EIO and info.value.filename == str(p)
    assert "chainrule-tmp" not in str(info.value) and str(p) in str(info.value)
    monkeypatch.undo()

    def broken_replace(src, dst):
        raise PermissionError(errno.EPERM, "Operation not permitted", src, dst)

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PermissionError) as info:
        cr.save(_sd(), p)
    assert "chainrule-tmp" not in str(info.value) and info.value.filename == str(p)
    assert not p.exists() and _temps(tmp_path) == []


@pytest.mark.parametrize("exc", [ValueError("bad data"), KeyboardInterrupt(), SystemExit(3)])
def test_an_exception_inside_the_writer_leaves_no_temporary_file(tmp_path, exc):
    p = tmp_path / "plot.png"
    p.write_bytes(b"old picture")

    def writer(f):
        f.write(b"half a new pic")
        raise exc

    with pytest.raises(type(exc)):
        crio.atomic_write(p, writer)
    assert p.read_bytes() == b"old picture" and sorted(os.listdir(tmp_path)) == ["plot.png"]


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_a_killed_process_are_removed_by_the_next_save(tmp_path):
    p = tmp_path / "m.npz"
    dead = _dead_pid()
    stale = tmp_path / f".m.npz.chainrule-tmp-{dead}-0123456789ab"
    mine_old = tmp_path / f".m.npz.chainrule-tmp-{os.getpid()}-00000000cafe"  # pid reused
    live = tmp_path / f".m.npz.chainrule-tmp-{os.getppid()}-aaaaaaaaaaaa"    # still writing
    other = tmp_path / f".other.npz.chainrule-tmp-{dead}-0123456789ab"       # another file's
    unrelated = tmp_path / ".m.npz.chainrule-tmp-notes.txt"
    for f in (stale, mine_old, live, other, unrelated):
        f.write_bytes(b"partial")
    cr.save(_sd(), p)
    left = sorted(os.listdir(tmp_path))
    assert stale.name not in left and mine_old.name not in left
    assert {live.name, other.name, unrelated.name, "m.npz"} == set(left)


_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from chainrule import io as crio
    path = sys.argv[1]

    def slow(f):
        f.write(b"x" * 1000)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)

    crio.atomic_write(path, slow)
""")


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL])
def test_a_signal_during_a_save(tmp_path, sig):
    p = tmp_path / "m.npz"
    cr.save(_sd(), p)
    before = p.read_bytes()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(p)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
    assert child.stdout.readline() == b"writing\n"
    assert len(_temps(tmp_path)) == 1
    child.send_signal(sig)
    child.wait(timeout=30)
    assert p.read_bytes() == before
    if sig == signal.SIGKILL:  # nothing can clean up after SIGKILL: the next save does
        assert len(_temps(tmp_path)) == 1
        cr.save(_sd(), p)
    else:
        # the process ends as the signal says (SIGINT through KeyboardInterrupt, which
        # Python turns back into the signal at exit)
        assert child.returncode == -sig, child.stderr.read()
    assert _temps(tmp_path) == [] and cr.load(p)


def test_signal_handlers_are_restored(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    cr.save(_sd(), tmp_path / "m.npz")
    with pytest.raises(RuntimeError):
        crio.atomic_write(tmp_path / "x", lambda f: (_ for _ in ()).throw(RuntimeError("x")))
    assert signal.getsignal(signal.SIGTERM) is before


def test_concurrent_saves_to_one_path(tmp_path):
    p = tmp_path / "m.npz"
    errors = []

    def saver(seed):
        try:
            for _ in range(20):
                cr.save({"x": np.full(100, seed, np.float64)}, p)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=saver, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and _temps(tmp_path) == []
    x = cr.load(p)["x"]
    assert len(set(x.tolist())) == 1  # one save's content, whole


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")
def test_a_symlink_is_followed(tmp_path):
    real = tmp_path / "runs" / "ckpt.npz"
    real.parent.mkdir()
    cr.save(_sd(), real)
    link = tmp_path / "latest.npz"
    os.symlink(real, link)
    cr.save({"x": np.zeros(1)}, link)
    assert os.path.islink(link) and list(cr.load(real)) == ["x"]


def test_a_long_file_name(tmp_path):
    p = tmp_path / ("n" * 250 + ".npz")
    cr.save(_sd(), p)
    cr.save(_sd(), p)
    assert list(cr.load(p)) == ["w", "b"] and _temps(tmp_path) == []


def test_save_is_deterministic(tmp_path):
    cr.save(_sd(), tmp_path / "a.npz")
    time.sleep(1.1)  # zip timestamps have 2-second resolution; they are fixed anyway
    cr.save(_sd(), tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
