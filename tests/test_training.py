"""cr.fit / cr.evaluate: the loop trains, records, reports and stops early."""

from __future__ import annotations

import io

import numpy as np
import pytest

import chainrule as cr
from chainrule import data, nn, optim, training


def _moons(n=300, seed=0):
    X, y = data.make_moons(n, noise=0.1, seed=seed)
    return data.train_test_split(X, y, test_size=0.25, seed=seed)


def _mlp(seed=0):
    nn.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))


def test_fit_learns_moons_and_records_history():
    Xtr, Xte, ytr, yte = _moons()
    model = _mlp()
    loader = data.DataLoader(data.TensorDataset(Xtr, ytr), batch_size=32, shuffle=True, seed=0)
    h = cr.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), loader,
               epochs=25, val=(Xte, yte), metrics=["accuracy"], verbose=0)
    assert isinstance(h, cr.History) and len(h) == 25 and h.epoch == list(range(1, 26))
    assert set(h.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    assert h["val_accuracy"][-1] >= 0.95
    res = cr.evaluate(model, nn.CrossEntropyLoss(), (Xte, yte), metrics=["accuracy"])
    assert res["accuracy"] == pytest.approx(h["val_accuracy"][-1])
    assert res["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-5)
    assert len(h.times) == 25 and all(t > 0 for t in h.times)
    assert "val_accuracy=" in repr(h)


def test_fit_loss_is_the_sample_weighted_mean():
    # one epoch with lr=0: the recorded loss is the loss over the whole set
    X, y = data.make_moons(50, seed=1)
    model = _mlp()
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=16)
    h = cr.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.0), loader,
               epochs=1, metrics={"acc": training.accuracy}, verbose=0)
    full = nn.CrossEntropyLoss()(model(X), y).item()
    assert h["loss"][0] == pytest.approx(full, rel=1e-6)
    assert h["acc"][0] == pytest.approx(training.accuracy(model(X)._value, y))


def test_metric_accuracy_forms():
    acc = training.accuracy
    assert acc(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0])) == 0.5
    assert acc(np.array([[0.2, 0.8], [0.9, 0.1]]), np.array([[0.0, 1.0], [1.0, 0.0]])) == 1.0
    assert acc(np.array([[1.5], [-2.0], [0.3]]), np.array([[1.0], [0.0], [0.0]])) == 2 / 3
    assert acc(np.array([1.5, -2.0]), np.array([1.0, 1.0])) == 0.5


def test_binary_classification_with_bce():
    Xtr, Xte, ytr, yte = _moons(seed=2)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1), nn.Flatten(0))
    loader = data.DataLoader(data.TensorDataset(Xtr, ytr.astype(np.float32)), batch_size=32,
                             shuffle=True, seed=0)
    h = cr.fit(model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=0.05), loader,
               epochs=20, val=(Xte, yte.astype(np.float32)), metrics="accuracy", verbose=0)
    assert h["val_accuracy"][-1] >= 0.9


def test_progress_output(monkeypatch):
    X, y = data.make_moons(40, seed=0)
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=20)

    def run(verbose):
        model = _mlp()
        buf = io.StringIO()
        cr.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader,
               epochs=2, verbose=verbose, metrics=["accuracy"], file=buf)
        return buf.getvalue()

    assert run(0) == ""
    lines = run(2).strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 - loss ") and "accuracy" in lines[0]
    pytest.importorskip("tqdm")
    out = run(1)
    assert "epoch 1/2" in out and "epoch 2/2" in out and "2/2" in out and "loss" in out
    monkeypatch.setattr(training, "_have_tqdm", lambda: None)
    plain = run(1).strip().splitlines()
    assert len(plain) == 2 and plain[1].startswith("epoch 2/2 - loss")


def test_early_stopping_restores_the_best_weights():
    # maximize=True makes every step worse, so the best epoch is the first
    X, y = data.make_moons(64, seed=0)
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=64)

    def train(epochs, **kw):
        model = _mlp(seed=3)
        opt = optim.SGD(model.parameters(), lr=0.05, maximize=True)
        h = cr.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=epochs, verbose=0, **kw)
        return model, h

    model, h = train(20, val=(X, y), early_stopping=2)
    assert h.stopped_epoch == 3 and len(h) == 3 and h.best_epoch == 1
    after_one, _ = train(1)
    for k, v in after_one.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k], v)

    es = cr.EarlyStopping(monitor="loss", patience=1, restore_best=False)
    model2, h2 = train(20, early_stopping=es)
    assert h2.stopped_epoch == 2 and es.best_epoch == 1
    with pytest.raises(KeyError, match="val_accuracy"):
        train(3, early_stopping={"monitor": "val_accuracy"})


def test_early_stopping_mode_auto():
    assert cr.EarlyStopping("val_accuracy").mode == "max"
    assert cr.EarlyStopping("val_loss").mode == "min"
    es = cr.EarlyStopping("loss", patience=2, min_delta=0.1, restore_best=False)
    assert not es.update(1, {"loss": 1.0}, None)
    assert not es.update(2, {"loss": 0.95}, None)  # not better by min_delta
    assert es.update(3, {"loss": 0.92}, None)


def test_divergence_is_reported():
    X = np.array([[np.nan, 0.0], [1.0, 1.0]], dtype=np.float32)
    loader = data.DataLoader(data.TensorDataset(X, np.array([0, 1])), batch_size=2)
    model = _mlp()
    with pytest.raises(training.TrainingError, match="nan at epoch 1, batch 1"):
        cr.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader,
               verbose=0)


def test_bad_batches_and_scheduler():
    model = _mlp()
    with pytest.raises(training.TrainingError, match="pair"):
        cr.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
               [np.zeros((2, 2))], verbose=0)
    X, y = data.make_moons(20, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    cr.fit(model, nn.CrossEntropyLoss(), opt, data.DataLoader(data.TensorDataset(X, y), 10),
           epochs=3, scheduler=sched, verbose=0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / 8)


def test_evaluate_restores_the_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    X, y = data.make_moons(20, seed=0)
    cr.evaluate(model, None, (X, y), metrics=["accuracy"])
    assert model.training
    model.eval()
    cr.evaluate(model, nn.CrossEntropyLoss(), (X, y))
    assert not model.training
    with pytest.raises(ValueError, match="unknown metric"):
        cr.evaluate(model, None, (X, y), metrics=["f1"])


class _Terminal(io.StringIO):
    """A StringIO that says it is a terminal (of unknown width: no fileno)."""

    def isatty(self):
        return True


def _fit_output(file, epochs=3, **kw):
    X, y = data.make_moons(60, seed=0)
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=20)
    model = _mlp()
    long_name = lambda o, t: training.accuracy(o, t)
    long_name.__name__ = "a_metric_with_a_rather_long_name_to_push_past_eighty_columns"
    cr.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader,
           epochs=epochs, val=(X, y), metrics=["accuracy", long_name], file=file, **kw)
    return file.getvalue()


def _summaries(text):
    # what a reader sees: the last state of every carriage-returned line
    lines = [seg.split("\r")[-1] for seg in text.split("\n")]
    return [ln for ln in lines if ln.startswith("epoch ")]


@pytest.mark.parametrize("tqdm", [True, False], ids=["tqdm", "no-tqdm"])
@pytest.mark.parametrize("where", ["terminal", "file"])
def test_every_epoch_ends_with_a_full_summary_line(tqdm, where, monkeypatch):
    if tqdm:
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setattr(training, "_have_tqdm", lambda: None)
    text = _fit_output(_Terminal() if where == "terminal" else io.StringIO())
    lines = _summaries(text)
    assert len(lines) == 3, text
    for i, line in enumerate(lines, 1):
        assert line.startswith(f"epoch {i}/3 - loss ")
        for key in ("accuracy", "val_loss", "val_accuracy",
                    "val_a_metric_with_a_rather_long_name_to_push_past_eighty_columns"):
            assert f" {key} " in line, line
        assert line.endswith("s") and len(line) > 80       # never cut to the terminal width
    if tqdm and where == "terminal":
        assert "batch" in text and "\r" in text              # the live bar was drawn
    else:
        assert "\r" not in text                              # plain lines in a log file


def test_verbose_2_is_summary_lines_only(monkeypatch):
    pytest.importorskip("tqdm")
    text = _fit_output(_Terminal(), epochs=2, verbose=2)
    assert "\r" not in text and len(_summaries(text)) == 2


def test_interrupt_closes_the_bar(monkeypatch):
    pytest.importorskip("tqdm")
    X, y = data.make_moons(60, seed=0)
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=20)
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    n = {"k": 0}
    real = opt.step

    def step(*a, **k):
        n["k"] += 1
        if n["k"] == 5:
            raise KeyboardInterrupt
        return real(*a, **k)

    opt.step = step
    term = _Terminal()
    with pytest.raises(training.TrainingInterrupted) as ei:
        cr.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, file=term)
    assert len(ei.value.history) == 1 and ei.value.epoch == 2
    assert len(_summaries(term.getvalue())) >= 1
