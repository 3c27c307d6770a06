"""cr.fit(..., checkpoint=PATH, resume=PATH): a run interrupted after epoch k and resumed
from its checkpoint ends bit for bit where the uninterrupted run ends (parameters,
optimizer and scheduler state, RNG streams, history), and a checkpoint that does not fit
the model, the optimizer or the scheduler is refused before anything changes."""

from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.io import CheckpointError
from chainrule.optim import lr_scheduler as lrs
from chainrule.training import EarlyStopping, TrainingError

N = 6


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _run(sched="onecycle", width=8, opt_kind="adam", loader_seed=3, val=True):
    """A fresh run: model (with dropout), optimizer, scheduler, shuffling loader."""
    nn.manual_seed(11)
    model = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Dropout(0.3), nn.Linear(width, 2))
    if opt_kind == "adam":
        opt = optim.Adam(model.parameters(), lr=1e-2)
    else:
        opt = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    if sched == "onecycle":
        s = lrs.OneCycleLR(opt, max_lr=0.05, total_steps=N)
    elif sched == "step":
        s = lrs.StepLR(opt, step_size=2, gamma=0.5)
    elif sched == "plateau":
        s = lrs.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    else:
        s = None
    X, y = _data()
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, seed=loader_seed)
    return model, opt, s, loader, (X[:16], y[:16]) if val else None


def _fit(run, epochs, **kw):
    model, opt, s, loader, val = run
    return cr.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=epochs, val=val,
                  metrics=["accuracy"], scheduler=s, verbose=0, **kw)


def _bits(x):
    """Everything in a state as (type, bits), so that == means bit-identical."""
    if isinstance(x, dict):
        return {k: _bits(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_bits(v) for v in x)
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, float):
        return ("float", np.float64(x).tobytes())
    return x


def _end_state(run, history):
    model, opt, s, loader, _ = run
    return {
        "model": _bits(dict(model.state_dict())),
        "opt": _bits(opt.state_dict()),
        "sched": _bits(s.state_dict()) if s is not None else None,
        "history": _bits({k: v for k, v in history.to_dict().items() if k != "times"}),
        # the streams the rest of a run would draw from
        "loader_next": loader._gen.random(4).tobytes(),
        "nn_next": nn.random.default_generator().random(4).tobytes(),
    }


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("sched", ["onecycle", "step", "plateau"])
def test_resumed_run_is_bit_identical_to_the_uninterrupted_one(tmp_path, fmt, k, sched):
    ref = _run(sched)
    ref_hist = _fit(ref, N)
    expected = _end_state(ref, ref_hist)

    ck = str(tmp_path / f"ck.{fmt}")
    first = _run(sched)
    h1 = _fit(first, k, checkpoint=ck)
    assert len(h1) == k and os.path.exists(ck)
    assert [f for f in os.listdir(tmp_path) if f != f"ck.{fmt}"] == []  # no temporary left

    # a fresh process's worth of objects: the RNGs are moved on on purpose, so only the
    # checkpoint can bring them back
    second = _run(sched)
    nn.manual_seed(999)
    second[3]._gen.random(17)
    h2 = _fit(second, N, checkpoint=ck, resume=ck)
    assert len(h2) == N and h2.epoch == list(range(1, N + 1))
    got = _end_state(second, h2)
    for part in expected:
        assert got[part] == expected[part], part
    assert h2.times[:k] == h1.times  # the first epochs' records are the saved ones


def test_resume_with_compile_is_bit_identical(tmp_path):
    ref = _run("step")
    expected = _end_state(ref, _fit(ref, 4, compile=True))
    ck = str(tmp_path / "ck.npz")
    _fit(_run("step"), 2, checkpoint=ck, compile=True)
    second = _run("step")
    got = _end_state(second, _fit(second, 4, resume=ck, compile=True))
    assert got == expected


def test_a_checkpoint_folder_that_does_not_exist_is_refused_before_training(tmp_path):
    run = _run("step")
    before = _unchanged(run)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _fit(run, 2, checkpoint=str(tmp_path / "no" / "ck.npz"))
    assert _unchanged(run) == before


def test_without_the_rng_state_the_run_would_differ(tmp_path):
    """What the bit-identical test relies on: restoring everything but the random streams
    gives another result (so the test above would catch a checkpoint without them)."""
    ref = _run("step")
    ref_hist = _fit(ref, N)
    ck = str(tmp_path / "ck.npz")
    _fit(_run("step"), 2, checkpoint=ck)
    state = cr.load(ck)
    second = _run("step")
    model, opt, s, loader, val = second
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    s.load_state_dict(state["scheduler"])
    h = cr.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=N - 2, val=val,
               metrics=["accuracy"], scheduler=s, verbose=0)
    assert h["loss"] != ref_hist["loss"][2:]


def test_checkpoint_layout(tmp_path):
    ck = str(tmp_path / "ck.npz")
    run = _run("step")
    hist = _fit(run, 2, checkpoint=ck)
    state = cr.load(ck)
    assert state["format"] == "chainrule-training/1"
    assert state["epoch"] == 2 and state["epochs"] == 2
    assert sorted(state) == sorted(["format", "epoch", "epochs", "model", "model_class",
                                    "optimizer", "optimizer_class", "scheduler",
                                    "scheduler_class", "rng", "early_stopping", "history"])
    assert state["model_class"] == "Sequential" and state["optimizer_class"] == "Adam"
    assert state["scheduler_class"] == "StepLR"
    model, opt, s, loader, _ = run
    assert _bits(state["model"]) == _bits(dict(model.state_dict()))
    assert _bits(state["optimizer"]) == _bits(opt.state_dict())
    assert state["history"]["loss"] == hist["loss"]
    assert state["rng"]["loader"] == loader._gen.bit_generator.state
    assert state["rng"]["nn"] == nn.random.default_generator().bit_generator.state
    assert state["early_stopping"] is None


def test_checkpoint_is_written_every_epoch(tmp_path, monkeypatch):
    ck = str(tmp_path / "ck.npz")
    seen = []
    real = cr.save

    def spy(obj, path, *a, **kw):
        seen.append((obj["epoch"], path))
        return real(obj, path, *a, **kw)

    monkeypatch.setattr("chainrule.training._save", spy)
    _fit(_run("step"), 3, checkpoint=ck)
    assert seen == [(1, ck), (2, ck), (3, ck)]


def test_generators_of_modules_are_saved(tmp_path):
    """A Dropout with its own generator draws from it, not from nn's stream: it is in the
    checkpoint too, and a resumed run with one ends where the uninterrupted one does."""
    def run():
        nn.manual_seed(1)
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5, generator=np.random.default_rng(5)),
                              nn.Linear(8, 2))
        opt = optim.Adam(model.parameters(), lr=1e-2)
        X, y = _data()
        return model, opt, None, DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True,
                                            seed=2), None
    ref = run()
    _fit(ref, 4)
    ck = str(tmp_path / "ck.npz")
    _fit(run(), 2, checkpoint=ck)
    assert "1" in cr.load(ck)["rng"]["modules"]
    second = run()
    second[0][1].generator.random(3)
    _fit(second, 4, resume=ck)
    for a, b in zip(ref[0].parameters(), second[0].parameters(), strict=True):
        assert np.array_equal(a._value, b._value)


def test_early_stopping_resumes_where_it_was(tmp_path):
    def go(run, epochs, **kw):
        es = EarlyStopping(monitor="val_loss", patience=2, min_delta=10.0)  # stops at epoch 3
        return _fit(run, epochs, early_stopping=es, **kw)

    ref = _run("step")
    h_ref = go(ref, N)
    assert h_ref.stopped_epoch == 3 and h_ref.best_epoch == 1
    for k in (1, 2, 3):
        ck = str(tmp_path / f"ck{k}.npz")
        go(_run("step"), k, checkpoint=ck)
        second = _run("step")
        h = go(second, N, resume=ck)
        assert (h.stopped_epoch, h.best_epoch, h["loss"]) == (3, 1, h_ref["loss"])
        for a, b in zip(ref[0].parameters(), second[0].parameters(), strict=True):
            assert np.array_equal(a._value, b._value)  # the best weights restored


def test_resume_of_a_finished_run_trains_no_more(tmp_path):
    ck = str(tmp_path / "ck.npz")
    run = _run("step")
    _fit(run, 3, checkpoint=ck)
    second = _run("step")
    h = _fit(second, 3, resume=ck)
    assert len(h) == 3
    assert _bits(dict(second[0].state_dict())) == _bits(dict(run[0].state_dict()))
    with pytest.raises(TrainingError, match="already ran 3 epochs"):
        _fit(_run("step"), 2, resume=ck)


def _unchanged(run):
    model, opt, s, loader, _ = run
    return (_bits(dict(model.state_dict())), _bits(opt.state_dict()),
            _bits(s.state_dict()) if s is not None else None, loader._gen.bit_generator.state,
            nn.random.default_generator().bit_generator.state)


@pytest.mark.parametrize("change, why", [
    (dict(width=9), "model"),
    (dict(opt_kind="sgd"), "optimizer"),
    (dict(sched="onecycle"), "scheduler"),
    (dict(sched=None), "scheduler"),
])
def test_a_checkpoint_that_does_not_fit_is_refused_before_anything_changes(tmp_path, change,
                                                                             why):
    ck = str(tmp_path / "ck.npz")
    _fit(_run("step"), 2, checkpoint=ck)
    kw = {"sched": "step", **change}
    other = _run(**kw)
    before = _unchanged(other)
    with pytest.raises(CheckpointError, match=why) as info:
        _fit(other, N, resume=ck)
    assert ck in str(info.value)
    assert _unchanged(other) == before


def test_other_mismatches_are_refused(tmp_path):
    ck = str(tmp_path / "ck.npz")
    _fit(_run("step"), 2, checkpoint=ck)
    with pytest.raises(CheckpointError, match="early stopping"):
        _fit(_run("step"), N, resume=ck, early_stopping=3)
    with pytest.raises(CheckpointError, match="metrics"):
        model, opt, s, loader, val = _run("step")
        cr.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=N, val=val, scheduler=s,
               verbose=0, resume=ck)


def test_resume_refuses_files_that_are_not_training_checkpoints(tmp_path):
    model, *_ = run = _run("step")
    p = str(tmp_path / "weights.npz")
    cr.save(model, p)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        _fit(run, N, resume=p)
    p2 = str(tmp_path / "opt.npz")
    cr.save(run[1].state_dict(), p2)
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        _fit(run, N, resume=p2)
    with pytest.raises(FileNotFoundError):
        _fit(run, N, resume=str(tmp_path / "missing.npz"))


def test_a_damaged_checkpoint_is_refused(tmp_path):
    ck = tmp_path / "ck.npz"
    _fit(_run("step"), 2, checkpoint=str(ck))
    raw = ck.read_bytes()
    ck.write_bytes(raw[: len(raw) // 2])
    run = _run("step")
    before = _unchanged(run)
    with pytest.raises(CheckpointError):
        _fit(run, N, resume=str(ck))
    assert _unchanged(run) == before


def test_a_failed_checkpoint_write_leaves_the_last_good_one(tmp_path, monkeypatch):
    ck = str(tmp_path / "ck.npz")
    _fit(_run("step"), 2, checkpoint=ck)
    good = open(ck, "rb").read()

    def boom(f):
        f.write(b"partial")
        raise OSError("disk full")

    import chainrule.io as crio
    real = crio.atomic_write
    monkeypatch.setattr(crio, "atomic_write", lambda path, write: real(path, boom))
    with pytest.raises(OSError, match="disk full"):
        _fit(_run("step"), 3, checkpoint=ck)
    assert open(ck, "rb").read() == good
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_fit_steps_reduce_lr_on_plateau_with_the_monitored_loss():
    model, opt, _, loader, val = _run(None)
    s = lrs.ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=10.0,
                              threshold_mode="abs")  # only the first epoch counts as better
    h = cr.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, val=val, scheduler=s,
               verbose=0)
    assert opt.param_groups[0]["lr"] == 1e-2 * 0.25
    assert s.best == h["val_loss"][0] != h["loss"][0] and s.last_epoch == 3
