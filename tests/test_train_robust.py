"""``chainrule train`` when things go wrong: a full disk, Ctrl-C, a reader that leaves the
pipe, a diverging run; and its BLAS thread count (one by default)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli, optim, training
from chainrule.cli import train
from harness import interrupt_at_step

MOONS = ["train", "--dataset", "moons", "--samples", "200"]


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


# --- a full disk ---------------------------------------------------------------------------------

def _enospc_for(suffix, real):
    def write(path, *a, **k):
        if os.fspath(path).endswith(suffix):
            _enospc()
        return real(path, *a, **k)
    return write


@pytest.mark.parametrize("where", ["weights", "json", "plot"])
def test_full_disk_while_saving_is_one_line_exit_1(where, tmp_path, monkeypatch, capsys):
    import chainrule.io as cio

    if where == "weights":       # the final weights (the checkpoints went through)
        monkeypatch.setattr(cio, "atomic_write", _enospc_for("moons-mlp.npz", cio.atomic_write))
    elif where == "json":
        monkeypatch.setattr(train, "atomic_write", _enospc)
    else:
        monkeypatch.setattr(cr.viz, "plot_history", _enospc)
    rc = cli.main([*MOONS, "--epochs", "2", "-q", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    line = _one_line(err)
    assert line.startswith("chainrule train: error: cannot write into")
    assert "no space left on device" in line
    assert "test accuracy" in out                 # it trained; only the writing failed
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("suffix", ["-checkpoint.npz", "-checkpoint.json"])
def test_full_disk_at_the_checkpoint_is_one_line_exit_1(suffix, tmp_path, monkeypatch, capsys):
    import chainrule.io as cio

    monkeypatch.setattr(cio, "atomic_write", _enospc_for(suffix, cio.atomic_write))
    rc = cli.main([*MOONS, "--epochs", "2", "-q", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    line = _one_line(err)
    assert "no space left on device" in line.lower() and "test accuracy" not in out
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not (tmp_path / "moons-mlp-checkpoint.npz").exists()


def test_full_disk_before_training_is_found_by_the_probe(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train.os, "fsync", _enospc)
    started = []
    monkeypatch.setattr(cr, "fit", lambda *a, **k: started.append(1))
    rc = cli.main([*MOONS, "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert rc == 2 and not started and out == ""
    assert "no space left on device" in _one_line(err)
    assert not (tmp_path / "out").exists()


# --- Ctrl-C --------------------------------------------------------------------------------------



def _test_split(seed=0, samples=200):
    recipe = train.RECIPES[("moons", "mlp")]
    args = argparse.Namespace(dataset="moons", model="mlp", samples=samples, noise=0.2,
                              seed=seed)
    return train.load(args, recipe)


def test_ctrl_c_saves_the_last_completed_epoch(tmp_path, monkeypatch, capsys):
    per_epoch = 5                                  # 160 training points / batch 32
    interrupt_at_step(monkeypatch, 2 * per_epoch + 3)    # in epoch 3
    rc = cli.main([*MOONS, "--epochs", "10", "-q", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 130
    line = _one_line(err)
    assert "interrupted in epoch 3" in line and "saved epoch 2's weights" in line
    info = json.loads((tmp_path / "moons-mlp.json").read_text())
    assert info["interrupted"] is True and info["epochs_completed"] == 2
    assert info["history"]["epoch"] == [1, 2]
    # the weights saved are those of the end of epoch 2: they give epoch 2's val_loss
    model = train.build("moons", "mlp", 2)
    cr.load(tmp_path / "moons-mlp.npz", model)
    d = _test_split()
    res = cr.evaluate(model, cr.nn.CrossEntropyLoss(), (d["X_te"], d["y_te"]))
    assert res["loss"] == pytest.approx(info["history"]["val_loss"][-1], rel=1e-6)
    assert not (tmp_path / "moons-mlp-loss.png").exists()


def test_ctrl_c_in_the_first_epoch_saves_nothing(tmp_path, monkeypatch, capsys):
    interrupt_at_step(monkeypatch, 2)
    rc = cli.main([*MOONS, "--epochs", "10", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 130
    assert "before any epoch completed; nothing saved" in _one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_outside_training_is_one_line(tmp_path, monkeypatch, capsys):
    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "load", ctrl_c)
    assert cli.main([*MOONS, "--out", str(tmp_path)]) == 130
    assert _one_line(capsys.readouterr().err) == "chainrule train: interrupted"


def _wait_for(proc, prefix, limit=120):
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < limit:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix):
            return seen
    raise AssertionError(f"no line starting with {prefix!r}: {seen}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_real_sigint_to_the_process(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "chainrule", *MOONS, "--epochs", "100000", "--out",
         str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(proc, "epoch 3/")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    line = _one_line(err)
    assert line.startswith("chainrule train: interrupted in epoch ")
    info = json.loads((tmp_path / "moons-mlp.json").read_text())
    assert info["interrupted"] and info["epochs_completed"] >= 3
    assert len(info["history"]["loss"]) == info["epochs_completed"]
    assert (tmp_path / "moons-mlp.npz").exists()


def test_fit_raises_with_the_history_and_restores_the_epoch(monkeypatch):
    X, y = cr.data.make_moons(64, seed=0)
    loader = cr.data.DataLoader(cr.data.TensorDataset(X, y), batch_size=16)
    cr.manual_seed(0)
    model = train.build("moons", "mlp", 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    snaps = []

    def cb_epoch_end(self, logs, seconds):       # record the weights at each epoch's end
        snaps.append({k: np.array(v) for k, v in model.state_dict().items()})
        return real_close(self, logs, seconds)

    real_close = training._Progress.close
    monkeypatch.setattr(training._Progress, "close", cb_epoch_end)
    interrupt_at_step(monkeypatch, 4 * 3 + 2)     # 4 batches an epoch: in epoch 4
    with pytest.raises(training.TrainingInterrupted) as ei:
        cr.fit(model, cr.nn.CrossEntropyLoss(), opt, loader, epochs=50, verbose=0)
    stop = ei.value
    assert isinstance(stop, KeyboardInterrupt)
    assert stop.epoch == 4 and stop.completed == 3 and len(stop.history) == 3
    assert stop.history.interrupted and stop.history.epoch == [1, 2, 3]
    for k, v in model.state_dict().items():       # the model is back at the end of epoch 3
        np.testing.assert_array_equal(v, snaps[-1][k])
        np.testing.assert_array_equal(stop.state[k], snaps[-1][k])
    assert all(s["step"] == 12 for s in opt.state.values())   # and so is Adam


# --- a reader that leaves ---------------------------------------------------------------------

@pytest.mark.parametrize("quiet", [False, True])
def test_closed_stdout_stops_printing_not_training(tmp_path, quiet):
    argv = [sys.executable, "-m", "chainrule", *MOONS, "--epochs", "15", "--out", str(tmp_path)]
    proc = subprocess.Popen(argv + (["-q"] if quiet else []), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    first = proc.stdout.readline()                # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith(b"chainrule train: moons")
    assert proc.returncode == 0, err
    assert err == ""                               # no BrokenPipeError, no "Exception ignored"
    info = json.loads((tmp_path / "moons-mlp.json").read_text())
    assert len(info["history"]["loss"]) == 15
    assert (tmp_path / "moons-mlp.npz").exists()


def test_shell_pipe_into_head(tmp_path):
    cmd = (f"{sys.executable} -m chainrule train --dataset moons --samples 200 --epochs 10 "
           f"--out {tmp_path} | head -1; echo \"rc=${{PIPESTATUS[0]}}\"")
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert res.stdout.splitlines() == ["chainrule train: moons, mlp, seed 0", "rc=0"], res
    assert "Traceback" not in res.stderr and "Error" not in res.stderr
    assert (tmp_path / "moons-mlp.npz").exists()


def test_demo_into_head():
    res = subprocess.run(["bash", "-c", f"{sys.executable} -m chainrule demo | head -2"],
                         capture_output=True, text=True, timeout=120)
    assert len(res.stdout.splitlines()) == 2 and res.stderr == ""


# --- divergence ----------------------------------------------------------------------------------

def test_divergence_is_one_line(tmp_path, capsys):
    rc = cli.main([*MOONS, "--epochs", "3", "--lr", "1e300", "-q", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "training diverged" in _one_line(err)


# --- BLAS threads --------------------------------------------------------------------------------

def _blas_counts():
    tpc = pytest.importorskip("threadpoolctl")
    return [i["num_threads"] for i in tpc.threadpool_info() if i["user_api"] == "blas"]


def test_blas_threads_sets_and_restores():
    if not train._blas_pools():
        pytest.skip("no OpenBLAS/MKL found in this process")
    before = _blas_counts()
    with train.blas_threads(1) as how:
        assert how and all(n == 1 for n in _blas_counts())
        assert all(p.get() == 1 for p in train._blas_pools())
    assert _blas_counts() == before


def test_blas_threads_without_ctypes_route_uses_threadpoolctl(monkeypatch):
    pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(train, "_blas_pools", lambda: [])
    with train.blas_threads(1) as how:
        assert how == "threadpoolctl"
        assert all(n == 1 for n in _blas_counts())


def test_blas_threads_with_nothing_to_set(monkeypatch):
    monkeypatch.setattr(train, "_blas_pools", lambda: [])
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    with train.blas_threads(1) as how:
        assert how == ""


def test_train_defaults_to_one_blas_thread(tmp_path, monkeypatch, capsys):
    if not train._blas_pools():
        pytest.skip("no OpenBLAS/MKL found in this process")
    seen = []
    real_fit = cr.fit

    def fit(*a, **k):
        seen.append([p.get() for p in train._blas_pools()])
        return real_fit(*a, **k)

    monkeypatch.setattr(cr, "fit", fit)
    assert cli.main([*MOONS, "--epochs", "1", "-q", "--out", str(tmp_path)]) == 0
    assert seen and all(n == 1 for n in seen[0])
    info = json.loads((tmp_path / "moons-mlp.json").read_text())
    assert info["blas_threads"] == 1
    if os.cpu_count() and os.cpu_count() > 1:
        seen.clear()
        assert cli.main([*MOONS, "--epochs", "1", "-q", "--threads", "2", "--out",
                         str(tmp_path)]) == 0
        assert all(n == 2 for n in seen[0])
    assert "1 BLAS thread" in capsys.readouterr().out


def test_help_says_one_thread(capsys):
    assert cli.main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--threads" in text and "Default 1" in text and "busy machine" in text


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_on_a_full_disk_still_trains_and_says_so_once(tmp_path):
    with open("/dev/full", "w") as full:
        res = subprocess.run([sys.executable, "-m", "chainrule", *MOONS, "--epochs", "3",
                              "--out", str(tmp_path)], stdout=full, stderr=subprocess.PIPE,
                             text=True, timeout=120)
    assert res.returncode == 1
    assert _one_line(res.stderr) == ("chainrule train: error: could not write to stdout (no "
                                     "space left on device); the output was lost")
    assert (tmp_path / "moons-mlp.npz").exists() and (tmp_path / "moons-mlp.json").exists()


def test_stdout_closed_at_start(tmp_path):
    res = subprocess.run(["bash", "-c", f"{sys.executable} -m chainrule train --dataset moons "
                          f"--samples 100 --epochs 2 --out {tmp_path} >&-"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stderr == ""
    assert (tmp_path / "moons-mlp.npz").exists()
