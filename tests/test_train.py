"""``chainrule train``: trains, reports test accuracy, saves the model and a loss plot."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli
from chainrule.cli import train


def run_train(capsys, tmp_path, *argv):
    rc = cli.main(["train", *argv, "--out", str(tmp_path), "-q", "--threads", "1"])
    out = capsys.readouterr()
    m = re.search(r"test accuracy: (\d+\.\d+)% \((\d+)/(\d+)\)", out.out)
    return rc, out, (float(m.group(1)) / 100 if m else None)


def test_moons_quick_run_saves_model_settings_and_plot(capsys, tmp_path):
    rc, out, acc = run_train(capsys, tmp_path, "--dataset", "moons", "--epochs", "10",
                             "--seed", "3")
    assert rc == 0, out.err
    assert acc is not None and acc >= 0.95
    assert "800 training examples" in out.out and "200 held out" in out.out
    stem = tmp_path / "moons-mlp"
    info = json.loads((stem.with_suffix(".json")).read_text())
    assert info["test_accuracy"] == pytest.approx(acc, abs=5e-5)
    assert info["epochs"] == 10 and info["seed"] == 3 and len(info["history"]["loss"]) == 10
    assert info["history"]["loss"][-1] < info["history"]["loss"][0]
    assert (tmp_path / "moons-mlp-loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the saved weights reproduce the reported accuracy in a fresh model
    model = train.build("moons", "mlp", 2)
    cr.load(str(stem) + ".npz", model)
    X, y = cr.data.make_moons(1000, noise=0.2, seed=3)
    _, X_te, _, y_te = cr.data.train_test_split(X, y, test_size=0.2, seed=3, stratify=y)
    X_te = ((X_te - np.array(info["input_mean"])) / np.array(info["input_std"]))
    model.eval()
    with cr.no_grad():
        pred = np.argmax(np.asarray(model(X_te.astype(np.float32)).detach()), axis=1)
    assert np.mean(pred == y_te) == pytest.approx(acc, abs=5e-5)


def test_deterministic_for_a_seed(capsys, tmp_path):
    a = run_train(capsys, tmp_path / "a", "--dataset", "moons", "--epochs", "3")
    b = run_train(capsys, tmp_path / "b", "--dataset", "moons", "--epochs", "3")
    ha = json.loads((tmp_path / "a" / "moons-mlp.json").read_text())["history"]
    hb = json.loads((tmp_path / "b" / "moons-mlp.json").read_text())["history"]
    assert a[2] == b[2] and ha["loss"] == hb["loss"]


def test_moons_needs_no_scikit_learn(capsys, tmp_path, monkeypatch):
    for name in ("sklearn", "sklearn.datasets"):
        monkeypatch.setitem(sys.modules, name, None)   # import sklearn -> ImportError
    rc, out, acc = run_train(capsys, tmp_path, "--dataset", "moons", "--epochs", "5")
    assert rc == 0 and acc is not None and acc > 0.85
    rc, out, _ = run_train(capsys, tmp_path, "--dataset", "digits")
    assert rc == 2 and "scikit-learn" in out.err and "make_moons" in out.err


def test_bad_combinations_exit_2(capsys, tmp_path):
    rc, out, _ = run_train(capsys, tmp_path, "--dataset", "moons", "--model", "cnn")
    assert rc == 2 and "--dataset digits" in out.err
    rc, out, _ = run_train(capsys, tmp_path, "--dataset", "moons", "--epochs", "0")
    assert rc == 2 and "--epochs" in out.err


def test_digits_mlp_few_epochs(capsys, tmp_path):
    pytest.importorskip("sklearn")
    rc, out, acc = run_train(capsys, tmp_path, "--dataset", "digits", "--model", "mlp",
                             "--epochs", "3")
    assert rc == 0
    assert acc >= 0.92                       # 3 of the default 25 epochs
    assert "1437 training examples (with 4 one-pixel shifts" in out.out
    assert "360 held out" in out.out
    assert (tmp_path / "digits-mlp.npz").exists()


def test_digits_cnn_two_epochs(capsys, tmp_path):
    pytest.importorskip("sklearn")
    rc, out, acc = run_train(capsys, tmp_path, "--dataset", "digits", "--model", "cnn",
                             "--epochs", "2")
    assert rc == 0 and acc >= 0.85
    state = dict(np.load(tmp_path / "digits-cnn.npz"))
    assert state["0.weight"].shape == (32, 1, 3, 3) and state["8.weight"].shape == (10, 256)


def test_shift_augment():
    X = np.arange(2 * 64, dtype=np.float32).reshape(2, 64)
    Xa, ya = train.shift_augment(X, np.array([3, 7]))
    assert Xa.shape == (10, 64) and ya.tolist() == [3, 7] * 5
    img = X[0].reshape(8, 8)
    down = Xa[2].reshape(8, 8)                     # first shifted copy of image 0: down by one
    assert np.all(down[0] == 0) and np.array_equal(down[1:], img[:-1])
    left = Xa[8].reshape(8, 8)                     # last: left by one
    assert np.all(left[:, -1] == 0) and np.array_equal(left[:, :-1], img[:, 1:])


# The targets of the issue, with the default epochs: MLP >= 97%, CNN >= 98% on the held-out
# 20% of scikit-learn's digits, each in under a minute on one core.  About 2 s and 5 s here.
@pytest.mark.parametrize("model,target", [("mlp", 0.97), ("cnn", 0.98)])
def test_digits_full_accuracy(capsys, tmp_path, model, target):
    pytest.importorskip("sklearn")
    rc, out, acc = run_train(capsys, tmp_path, "--dataset", "digits", "--model", model)
    assert rc == 0
    assert acc >= target, out.out
    info = json.loads((tmp_path / f"digits-{model}.json").read_text())
    assert info["train_seconds"] < 60
