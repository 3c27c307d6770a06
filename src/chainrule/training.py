"""``cr.fit``: the training loop everyone writes, with a progress bar, a history of
loss and metrics, validation and early stopping.

    history = cr.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()),
                     train_loader, epochs=10, val=(X_val, y_val), metrics=["accuracy"],
                     early_stopping=3)
    history["val_accuracy"]
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, TextIO
from collections.abc import Callable, Iterable

import numpy as np

from .compiler import compile as _compile
from .core import arrays as _arrays
from .core import xparray as _xparray
from .core.errors import ChainruleError
from .core.tensor import Tensor, no_grad
from .io import CheckpointError
from .io import load as _load
from .io import save as _save
from .nn import random as _nnrandom
from .nn.primitives import count
from .data import DataLoader, TensorDataset
from .optim.lr_scheduler import ReduceLROnPlateau as _Plateau

Metric = Callable[[np.ndarray, np.ndarray], float]


class TrainingError(ChainruleError, RuntimeError):
    """Training cannot go on (the loss became NaN or infinite, a batch has the wrong form)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fit`, with the training done so far.

    ``fit`` catches the KeyboardInterrupt, puts the model (and the optimizer's state) back to
    the end of the last completed epoch, so that they agree with the history, and raises this
    (a KeyboardInterrupt, so a script that does not catch it still stops) with:

    ``history``: a :class:`History` of the completed epochs (``history.interrupted`` is True);
    ``epoch``: the epoch that was interrupted (1-based); ``completed``: how many epochs
    completed (``len(history)``); ``state``: the model's state_dict at the end of the last
    completed epoch (its initial one when none completed), as copies.
    """

    def __init__(self, history: History, epoch: int, state: dict[str, np.ndarray] | None) -> None:
        done = len(history)
        super().__init__(f"training interrupted in epoch {epoch}; {done} epoch"
                         f"{'' if done == 1 else 's'} completed")
        self.history = history
        self.epoch = epoch
        self.completed = done
        self.state = state


# ---------------------------------------------------------------------------------
# metrics


def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Fraction of correct predictions from logits or probabilities.

    (N, C) outputs: argmax against integer labels (or against the argmax of one-hot /
    probability targets).  (N,) or (N, 1) outputs: binary, logit > 0 against target > 0.5.
    """
    out = _host(output)
    tgt = _host(target)
    if out.ndim >= 2 and out.shape[1] > 1:
        pred = out.argmax(axis=1)
        if tgt.shape == out.shape:
            tgt = tgt.argmax(axis=1)
        return float(np.mean(pred == tgt))
    pred = out.reshape(len(out), -1)[:, 0] > 0
    return float(np.mean(pred == (tgt.reshape(len(tgt), -1)[:, 0] > 0.5)))


METRICS: dict[str, Metric] = {"accuracy": accuracy, "acc": accuracy}


def _metrics(metrics: Any) -> dict[str, Metric]:
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        items = list(metrics.items())
    else:
        if isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        items = []
        for m in metrics:
            if isinstance(m, str):
                if m not in METRICS:
                    raise ValueError(f"unknown metric {m!r}; known: {sorted(METRICS)} "
                                     f"(or pass a function f(output, target) -> float)")
                items.append(("accuracy" if m == "acc" else m, METRICS[m]))
            elif callable(m):
                items.append((getattr(m, "__name__", "metric"), m))
            else:
                raise TypeError(f"a metric must be a name or a function, got {type(m).__name__}")
    out = {}
    for name, fn in items:
        out[name] = METRICS[fn] if isinstance(fn, str) else fn
    return out


# ---------------------------------------------------------------------------------
# history and early stopping


class History:
    """Per-epoch records: ``history["loss"]``, ``history["val_accuracy"]``, ... (lists of
    floats), ``history.epoch`` (1-based), ``history.times`` (seconds per epoch)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.times: list[float] = []
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.interrupted = False

    def record(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        self.epoch.append(epoch)
        self.times.append(seconds)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"no {key!r} in the history; recorded: {sorted(self.history)}") from None

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def keys(self) -> Any:
        return self.history.keys()

    def items(self) -> Any:
        return self.history.items()

    def last(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.history.items() if v}

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "times": list(self.times), **{
            k: list(v) for k, v in self.history.items()}}

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v:.4g}" for k, v in self.last().items())
        return f"History(epochs={len(self)}{', ' + last if last else ''})"


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best`` the model gets the weights of its best epoch back."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.endswith("score")) else "min"
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.mode = mode
        self.restore_best = restore_best
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.wait = 0

    def improved(self, v: float) -> bool:
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def update(self, epoch: int, logs: dict[str, float], model: Any) -> bool:
        """Record an epoch; True when training should stop."""
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which this run does not record "
                f"(recorded: {sorted(logs)}); pass val=... for val_* or set monitor="
            )
        v = float(logs[self.monitor])
        if self.improved(v):
            self.best, self.best_epoch, self.wait = v, epoch, 0
            if self.restore_best:
                self.best_state = {k: np.array(a, copy=True) for k, a in model.state_dict().items()}
            return False
        self.wait += 1
        return self.wait >= self.patience


def _early(early_stopping: Any, has_val: bool) -> EarlyStopping | None:
    if early_stopping is None or early_stopping is False:
        return None
    if isinstance(early_stopping, EarlyStopping):
        es = early_stopping
        es.reset()
        return es
    monitor = "val_loss" if has_val else "loss"
    if isinstance(early_stopping, bool):
        return EarlyStopping(monitor=monitor)
    if isinstance(early_stopping, int):
        return EarlyStopping(monitor=monitor, patience=early_stopping)
    if isinstance(early_stopping, dict):
        kw = {"monitor": monitor, **early_stopping}
        return EarlyStopping(**kw)
    raise TypeError("early_stopping must be None, a patience (int), a dict of EarlyStopping "
                    "options or an EarlyStopping")


# ---------------------------------------------------------------------------------
# progress display


def _have_tqdm() -> Any:
    try:
        from tqdm.auto import tqdm

        return tqdm
    except ImportError:
        return None


def _fmt(logs: dict[str, float]) -> str:
    return " - ".join(f"{k} {v:.4f}" for k, v in logs.items())


def _interactive(file: Any) -> bool:
    """A terminal (or a Jupyter kernel's output), where a live bar can redraw itself."""
    if "ipykernel" in sys.modules and file is sys.stdout:
        return True
    try:
        return bool(file.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class _Progress:
    """Per epoch: with verbose == 1, a live tqdm bar (when tqdm is installed and the output is
    a terminal) showing the batches and the running loss; then, always with verbose >= 1,
    one plain summary line with every metric (``epoch 3/10 - loss 0.2 - ... - 0.5s``).

    The metrics are never squeezed into the bar (tqdm cuts its postfix to the terminal's
    width, and draws nothing useful when the width is unknown): the bar is removed when the
    epoch ends and the summary line takes its place."""

    def __init__(self, verbose: int, epoch: int, epochs: int, total: int | None,
                 file: TextIO | None) -> None:
        self.verbose = verbose
        self.file = file if file is not None else sys.stdout
        self.desc = f"epoch {epoch}/{epochs}"
        self.bar = None
        tqdm = _have_tqdm() if verbose == 1 and _interactive(self.file) else None
        if tqdm is not None:
            self.bar = tqdm(total=total, desc=self.desc, unit="batch", leave=False,
                            file=self.file, dynamic_ncols=True)

    def update(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)

    def abort(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self, logs: dict[str, float], seconds: float) -> None:
        self.abort()
        if self.verbose >= 1:
            print(f"{self.desc} - {_fmt(logs)} - {seconds:.2f}s", file=self.file, flush=True)


# ---------------------------------------------------------------------------------
# the loop


def _split(batch: Any, where: str) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    size = f" of length {len(batch)}" if hasattr(batch, "__len__") else ""
    raise TrainingError(
        f"{where}: each batch must be a pair (inputs, targets), got {type(batch).__name__}{size}"
    )


def _plain(x: Any) -> Any:
    """A batch's values as its library's array (a metric function receives these)."""
    if isinstance(x, Tensor):
        return _xparray.unwrap(x._value)
    return x if _arrays.backend(x) not in (None, "numpy") else np.asarray(x)


def _host(x: Any) -> np.ndarray:
    """Values as a NumPy array, to report a number (a metric): another library's array is
    read back (Dask computes it, CuPy copies it from the device)."""
    if isinstance(x, Tensor):
        x = x._value
    if x.__class__ is np.ndarray:
        return x
    if _arrays.backend(x) not in (None, "numpy"):
        return _arrays.to_library(_arrays.asarray(x), np)
    return np.asarray(x)


def _scalar(loss: Any) -> float:
    v = _host(loss)
    if v.size != 1:
        raise TrainingError(f"the loss function returned shape {v.shape}, not a scalar "
                            f"(use reduction='mean' or 'sum')")
    return float(v.reshape(()))


def _count(x: Any) -> int:
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape else 1


def _as_loader(data: Any, batch_size: int) -> Iterable:
    if isinstance(data, (tuple, list)) and len(data) == 2 and hasattr(data[0], "shape"):
        # in order (never shuffled); seed=0 so its generator's state, saved in checkpoints,
        # is the same in every run rather than drawn from the OS
        return DataLoader(TensorDataset(*data), batch_size=batch_size, seed=0)
    return data


def evaluate(model: Any, loss_fn: Callable | None, data: Any, metrics: Any = None,
             batch_size: int = 256) -> dict[str, float]:
    """Loss and metrics of ``model`` on ``data`` (a loader or an ``(X, y)`` pair), in eval
    mode and without recording a graph; the model's mode is restored afterwards."""
    ms = _metrics(metrics)
    loader = _as_loader(data, batch_size)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    total_n = 0
    sums: dict[str, float] = {}
    try:
        with no_grad():
            for batch in loader:
                xb, yb = _split(batch, "evaluate")
                out = model(xb)
                n = _count(xb)
                total_n += n
                if loss_fn is not None:
                    sums["loss"] = sums.get("loss", 0.0) + _scalar(loss_fn(out, yb)) * n
                o, t = _plain(out), _plain(yb)
                for name, fn in ms.items():
                    sums[name] = sums.get(name, 0.0) + float(fn(o, t)) * n
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    if total_n == 0:
        raise TrainingError("evaluate: the data yielded no batches")
    return {k: v / total_n for k, v in sums.items()}


def _snapshot(obj: Any) -> Any:
    """A copy of a model's (or an optimizer's) state_dict, or None when it has none."""
    sd = getattr(obj, "state_dict", None)
    if sd is None:
        return None

    def copy(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return np.array(v, copy=True)
        if isinstance(v, dict):
            return {k: copy(x) for k, x in v.items()}
        if isinstance(v, list):
            return [copy(x) for x in v]
        return v

    try:
        return copy(sd())
    except Exception:
        return None


def fit(model: Any, loss_fn: Callable, optimizer: Any, train_loader: Iterable, epochs: int = 1,
        val: Any = None, metrics: Any = None, verbose: int = 1, early_stopping: Any = None,
        scheduler: Any = None, file: TextIO | None = None, compile: bool = False,
        checkpoint: str | os.PathLike | None = None,
        resume: str | os.PathLike | None = None, client: Any = None) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` and return a History.

    Each batch: ``loss = loss_fn(model(x), y); optimizer.zero_grad(); loss.backward();
    optimizer.step()``.  Per epoch: the mean training loss and metrics (weighted by batch
    size), then ``val`` (a loader or an ``(X, y)`` pair) in eval mode as ``val_loss`` and
    ``val_<metric>``, then ``scheduler.step()`` if given (``scheduler.step(val_loss)``, or
    the training loss without val, for a ReduceLROnPlateau).

    ``compile``: run the model through ``cr.compile`` (its forward and backward as emitted
    NumPy, traced once per batch shape and train/eval mode); the results are the same.

    ``metrics``: names ("accuracy") or functions ``f(output, target) -> float``.
    ``verbose``: 0 quiet, 1 a live progress bar per epoch (tqdm, when installed and the output
    is a terminal) followed by a summary line with every metric, 2 the summary lines only.
    ``early_stopping``: a patience (int), a dict of :class:`EarlyStopping` options, or an
    EarlyStopping; it monitors ``val_loss`` (``loss`` without val) and restores the best
    weights at the end by default.

    Ctrl-C (KeyboardInterrupt) stops training cleanly: the model and the optimizer are put
    back to the end of the last completed epoch (a copy is kept at each epoch's end) and
    :class:`TrainingInterrupted`, a KeyboardInterrupt, is raised carrying ``.history`` (the
    completed epochs) and ``.state``.

    ``client``: a ``dask.distributed.Client``: data-parallel training. Each batch is split
    into one shard per worker, each worker computes its shard's share of the loss gradient,
    the shares are summed and the optimizer takes one step: the result equals
    single-process training to rounding. Setups where it would not (BatchNorm in training
    mode, dropout with p > 0, a loss of unknown or weighted-mean reduction) raise
    :class:`~chainrule.distributed.DistributedError` before training (see docs/backends.md).

    ``checkpoint``: a path (``.npz``, or ``.safetensors``); at the end of every epoch the
    whole training state is written there atomically (a crash mid-write leaves the previous
    epoch's file): the model's and the optimizer's state_dicts, the scheduler's, the epoch,
    the random streams training draws from (nn's generator behind dropout, the training
    and validation loaders' shuffling generators, any module's own ``generator``), the
    early-stopping state and the history.  ``cr.load(path)`` reads it as a dict (see
    :data:`CHECKPOINT_FORMAT` and docs/nn.md, "Resuming training").

    ``resume``: a path written by ``checkpoint=``; training continues from the epoch after
    the saved one up to ``epochs`` (the total, not a number of further epochs), with the
    history of the saved epochs in front, and ends bit for bit where the run would have
    ended uninterrupted, given the same model, optimizer, scheduler, loaders, options and
    data.  The file is checked against the model (parameter names, shapes and dtypes), the
    optimizer (class, groups, state shapes), the scheduler (class and state), early
    stopping, the metrics and the random generators before anything is changed; a mismatch
    raises :class:`~chainrule.io.CheckpointError` and leaves everything as it was.
    ``checkpoint`` and ``resume`` may name the same file.  Random streams ``fit`` cannot
    see (a generator inside your own dataset or loss function) are not saved.
    """
    epochs = count(epochs, "fit: epochs", 0)  # 2.5 is refused, not run as 2 epochs
    ms = _metrics(metrics)
    bs = getattr(train_loader, "batch_size", None) or 256
    val_loader = _as_loader(val, bs) if val is not None else None
    es = _early(early_stopping, val is not None)
    history = History()
    out = file if file is not None else sys.stdout
    epoch = 0
    bar: _Progress | None = None
    if checkpoint is not None:
        folder = os.path.dirname(os.path.abspath(os.fspath(checkpoint)))
        if not os.path.isdir(folder):  # found now, not after the first epoch's work
            raise FileNotFoundError(f"fit(checkpoint={os.fspath(checkpoint)!r}): the folder "
                                    f"{folder!r} does not exist")
    streams = _Streams(model, train_loader, val_loader)
    done = 0
    if resume is not None:
        done = _resume(os.fspath(resume), model, optimizer, scheduler, es, history, streams,
                       _log_names(ms, val_loader is not None), epochs)
    stepper = None
    if client is not None:
        if compile:
            raise ValueError("fit: compile=True and client= together are not supported; "
                             "the workers run the model eagerly (drop compile=True)")
        from .distributed import Stepper
        stepper = Stepper(client, model, loss_fn)
    saved = (_snapshot(model), _snapshot(optimizer))
    run = _compile(model) if compile else model
    try:
        for epoch in range(done + 1, epochs + 1):
            if history.stopped_epoch is not None:
                break  # a resumed run that early stopping had ended
            t0 = time.perf_counter()
            if hasattr(model, "train"):
                model.train()
            total = len(train_loader) if hasattr(train_loader, "__len__") else None
            bar = _Progress(verbose, epoch, epochs, total, file)
            n_seen = 0
            loss_sum = 0.0
            msum = dict.fromkeys(ms, 0.0)
            for b, batch in enumerate(train_loader):
                xb, yb = _split(batch, "fit")
                if stepper is not None:
                    lv, out_b, grads = stepper.compute(xb, yb)
                else:
                    out_b = run(xb)
                    loss = loss_fn(out_b, yb)
                    lv = _scalar(loss)
                if not math.isfinite(lv):
                    bar.abort()
                    raise TrainingError(
                        f"the loss became {lv} at epoch {epoch}, batch {b + 1}; training "
                        f"diverged. Lower the learning rate, clip gradients "
                        f"(nn.utils.clip_grad_norm_) or check the data for NaN/inf."
                    )
                if stepper is not None:
                    stepper.apply(optimizer, grads)
                else:
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                n = _count(xb)
                n_seen += n
                loss_sum += lv * n
                if ms:
                    o, t = _plain(out_b), _plain(yb)
                    for name, fn in ms.items():
                        msum[name] += float(fn(o, t)) * n
                bar.update(loss_sum / n_seen)
            if n_seen == 0:
                bar.abort()
                raise TrainingError("fit: the training loader yielded no batches")
            logs = {"loss": loss_sum / n_seen, **{k: v / n_seen for k, v in msum.items()}}
            if val_loader is not None:
                vl = evaluate(run, loss_fn, val_loader, ms)
                logs.update({f"val_{k}": v for k, v in vl.items()})
            if isinstance(scheduler, _Plateau):
                scheduler.step(logs["val_loss" if "val_loss" in logs else "loss"])
            elif scheduler is not None:
                scheduler.step()
            seconds = time.perf_counter() - t0
            history.record(epoch, logs, seconds)
            saved = (_snapshot(model), _snapshot(optimizer))
            bar.close(logs, seconds)
            stop = es is not None and es.update(epoch, logs, model)
            if stop:
                history.stopped_epoch = epoch
            if checkpoint is not None:
                _save(_training_state(epoch, epochs, model, optimizer, scheduler, es, history,
                                      streams), os.fspath(checkpoint))
            if stop:
                assert es is not None
                if verbose:
                    print(f"early stopping at epoch {epoch}: {es.monitor} has not improved for "
                          f"{es.patience} epochs (best {es.best:.4f} at epoch {es.best_epoch})",
                          file=out, flush=True)
                break
    except KeyboardInterrupt as exc:
        if bar is not None:
            bar.abort()
        history.interrupted = True
        if es is not None:
            history.best_epoch = es.best_epoch
        model_state, opt_state = saved
        _restore(model, model_state)
        _restore(optimizer, opt_state)
        raise TrainingInterrupted(history, max(epoch, 1), model_state) from exc
    if es is not None:
        history.best_epoch = es.best_epoch
        if es.restore_best and es.best_state is not None:
            model.load_state_dict(es.best_state)
    return history


def _restore(obj: Any, state: Any) -> None:
    if state is None:
        return
    try:
        obj.load_state_dict(state)
    except Exception:
        pass


# ---------------------------------------------------------------------------------
# checkpoints: the training state at the end of an epoch, and resuming from it

#: the ``format`` entry of the file ``fit(checkpoint=...)`` writes.  ``cr.load(path)`` gives
#: a dict: ``format``; ``epoch`` (epochs completed); ``epochs`` (asked of the run that wrote
#: it); ``model`` (its state_dict); ``model_class``; ``optimizer`` (its state_dict);
#: ``optimizer_class``; ``scheduler`` (its state_dict, or None) and ``scheduler_class``;
#: ``rng``: ``{"nn": ..., "loader": ..., "val_loader": ..., "modules": {name: ...}}``,
#: NumPy ``bit_generator.state`` dicts (None where there is no generator);
#: ``early_stopping`` (None, or ``monitor``, ``mode``, ``best``, ``best_epoch``, ``wait``,
#: ``best_state``, ``stopped_epoch``); ``history`` (``History.to_dict()``).
CHECKPOINT_FORMAT = "chainrule-training/1"

_CHECKPOINT_KEYS = {"format", "epoch", "epochs", "model", "model_class", "optimizer",
                    "optimizer_class", "scheduler", "scheduler_class", "rng", "early_stopping",
                    "history"}


def _generator_of(obj: Any) -> np.random.Generator | None:
    if obj is None:
        return None
    for name in ("_gen", "generator"):
        g = getattr(obj, name, None)
        if isinstance(g, np.random.Generator):
            return g
    return None


class _Streams:
    """The random generators a run draws from: nn's (dropout, unless a module has its own),
    the loaders' (their shuffling) and those of modules with a ``generator``."""

    def __init__(self, model: Any, train_loader: Any, val_loader: Any) -> None:
        self.loader = _generator_of(train_loader)
        self.val_loader = _generator_of(val_loader)
        self.modules: dict[str, np.random.Generator] = {}
        named = getattr(model, "named_modules", None)
        if named is not None:
            for name, m in named():
                g = getattr(m, "generator", None)
                if isinstance(g, np.random.Generator):
                    self.modules[name] = g

    def gens(self) -> dict[str, np.random.Generator | None]:
        return {"nn": _nnrandom.default_generator(), "loader": self.loader,
                "val_loader": self.val_loader,
                **{f"modules/{k}": g for k, g in self.modules.items()}}

    def state(self) -> dict[str, Any]:
        def of(g: np.random.Generator | None) -> Any:
            return None if g is None else g.bit_generator.state

        return {"nn": of(_nnrandom.default_generator()), "loader": of(self.loader),
                "val_loader": of(self.val_loader),
                "modules": {k: of(g) for k, g in self.modules.items()}}


def _log_names(ms: dict[str, Metric], has_val: bool) -> set[str]:
    names = {"loss", *ms}
    return names | {f"val_{k}" for k in names} if has_val else names


def _es_state(es: EarlyStopping | None, history: History) -> dict[str, Any] | None:
    if es is None:
        return None
    best_state = None if es.best_state is None else dict(es.best_state)
    return {"monitor": es.monitor, "mode": es.mode, "best": float(es.best),
            "best_epoch": es.best_epoch, "wait": es.wait, "best_state": best_state,
            "stopped_epoch": history.stopped_epoch}


def _training_state(epoch: int, epochs: int, model: Any, optimizer: Any, scheduler: Any,
                    es: EarlyStopping | None, history: History, streams: _Streams) -> dict:
    return {
        "format": CHECKPOINT_FORMAT, "epoch": epoch, "epochs": epochs,
        "model": dict(model.state_dict()), "model_class": type(model).__name__,
        "optimizer": optimizer.state_dict(), "optimizer_class": type(optimizer).__name__,
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scheduler_class": None if scheduler is None else type(scheduler).__name__,
        "rng": streams.state(), "early_stopping": _es_state(es, history),
        "history": history.to_dict(),
    }


def _shapes(sd: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
    return {k: (np.asarray(v).dtype.str, np.shape(v)) for k, v in sd.items()}


def _check_fits(path: str, st: dict, model: Any, optimizer: Any, scheduler: Any,
                es: EarlyStopping | None, streams: _Streams, logs: set[str], epochs: int) -> None:
    """Every way the checkpoint may not fit this run, found before anything is changed."""
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"fit(resume={path!r}): {what}; nothing was changed")

    # the model: its class and every parameter's and buffer's name, shape and dtype
    if st["model_class"] != type(model).__name__:
        raise bad(f"the checkpoint is of a model {st['model_class']!r}, this model is a "
                  f"{type(model).__name__!r}")
    if not isinstance(st["model"], dict):
        raise bad("its model state is not a dict of arrays")
    mine, theirs = _shapes(model.state_dict()), _shapes(st["model"])
    if mine != theirs:
        diff = [f"{k}: checkpoint {theirs.get(k, 'missing')}, model {mine.get(k, 'missing')}"
                for k in list(dict.fromkeys([*theirs, *mine])) if theirs.get(k) != mine.get(k)]
        raise bad("the checkpoint's model state does not fit the model (another architecture?): "
                  + "; ".join(diff[:5]) + (f"; and {len(diff) - 5} more" if len(diff) > 5
                                           else ""))
    # the optimizer: class, groups and their options, the state's shapes
    if st["optimizer_class"] != type(optimizer).__name__:
        raise bad(f"the checkpoint is of an optimizer {st['optimizer_class']!r}, this one is "
                  f"a {type(optimizer).__name__!r}")
    # (a scheduler adds options to the optimizer's groups: its class is checked first)
    if st["scheduler_class"] != (None if scheduler is None else type(scheduler).__name__):
        raise bad(f"the checkpoint has scheduler {st['scheduler_class']!r}, this run "
                  f"{None if scheduler is None else type(scheduler).__name__!r}")
    osd = st["optimizer"]
    groups = getattr(optimizer, "param_groups", None)
    if groups is not None:
        saved_groups = osd.get("param_groups") if isinstance(osd, dict) else None
        if not isinstance(saved_groups, list) or len(saved_groups) != len(groups):
            raise bad(f"the checkpoint's optimizer has "
                      f"{len(saved_groups) if isinstance(saved_groups, list) else 'no'} "
                      f"parameter groups, this optimizer {len(groups)}")
        params = []
        for i, (g, sg) in enumerate(zip(groups, saved_groups, strict=True)):
            if not isinstance(sg, dict) or len(sg.get("params", ())) != len(g["params"]):
                raise bad(f"the checkpoint's optimizer parameter group {i} has "
                          f"{len(sg.get('params', ())) if isinstance(sg, dict) else 'no'} "
                          f"parameters, this optimizer's {len(g['params'])}")
            if set(sg) != set(g):
                raise bad(f"the checkpoint's optimizer parameter group {i} has the options "
                          f"{sorted(set(sg) - {'params'})}, this optimizer's "
                          f"{sorted(set(g) - {'params'})}")
            params += g["params"]
        state = osd.get("state")
        if not isinstance(state, dict):
            raise bad("the checkpoint's optimizer state is not a dict")
        for j, entry in state.items():
            if type(j) is not int or not 0 <= j < len(params) or not isinstance(entry, dict):
                raise bad(f"the checkpoint's optimizer has state for parameter {j!r}; this "
                          f"optimizer has parameters 0 to {len(params) - 1}")
            shape = tuple(params[j].shape)
            for k, v in entry.items():
                if isinstance(v, np.ndarray) and v.ndim and tuple(v.shape) != shape:
                    raise bad(f"the checkpoint's optimizer state {k!r} of parameter {j} has "
                              f"shape {tuple(v.shape)}, the parameter {shape}")
    # the scheduler, early stopping, the metrics, the random generators
    if scheduler is not None and set(st["scheduler"] or ()) != set(scheduler.state_dict()):
        raise bad(f"the checkpoint's {st['scheduler_class']} scheduler state does not match "
                  f"this scheduler's (other options?)")
    est = st["early_stopping"]
    if (est is None) != (es is None) or (es is not None and (
            est.get("monitor"), est.get("mode")) != (es.monitor, es.mode)):
        def desc(x: Any) -> str:
            return "none" if x is None else f"on {x['monitor']!r} ({x['mode']})"
        raise bad(f"the checkpoint has early stopping {desc(est)}, this run "
                  f"{desc(None if es is None else {'monitor': es.monitor, 'mode': es.mode})}")
    hist = st["history"]
    saved_logs = {k for k in hist if k not in ("epoch", "times")}
    if hist.get("epoch") and saved_logs != logs:
        raise bad(f"the checkpoint recorded {sorted(saved_logs)}, this run records "
                  f"{sorted(logs)} (other metrics or validation data)")
    if len(hist.get("epoch", ())) != st["epoch"]:
        raise bad("its history does not cover its epochs")
    if st["epoch"] > epochs:
        raise TrainingError(f"fit(resume={path!r}): the checkpoint already ran {st['epoch']} "
                            f"epochs; epochs={epochs} asks for fewer (epochs is the total)")
    rng = st["rng"]
    saved = {"nn": rng["nn"], "loader": rng["loader"], "val_loader": rng["val_loader"],
             **{f"modules/{k}": v for k, v in rng["modules"].items()}}
    gens = streams.gens()
    if set(saved) != set(gens):
        raise bad(f"the checkpoint has the random generators {sorted(saved)}, this run "
                  f"{sorted(gens)}")
    for k, g in gens.items():
        s = saved[k]
        if (s is None) != (g is None) or (g is not None and (
                not isinstance(s, dict) or s.get("bit_generator")
                != type(g.bit_generator).__name__)):
            raise bad(f"the random generator {k!r} is "
                      f"{None if g is None else type(g.bit_generator).__name__} here, "
                      f"{s.get('bit_generator') if isinstance(s, dict) else s} in the checkpoint")


def _resume(path: str, model: Any, optimizer: Any, scheduler: Any, es: EarlyStopping | None,
            history: History, streams: _Streams, logs: set[str], epochs: int) -> int:
    """Load the checkpoint at ``path`` into this run; returns the epochs it completed."""
    st = _load(path)
    if not (isinstance(st, dict) and st.get("format") == CHECKPOINT_FORMAT
            and set(st) == _CHECKPOINT_KEYS):
        raise CheckpointError(f"fit(resume={path!r}): the file is not a training checkpoint "
                              f"(one that fit(checkpoint=...) writes)")
    try:
        _check_fits(path, st, model, optimizer, scheduler, es, streams, logs, epochs)
    except (CheckpointError, TrainingError):
        raise
    except Exception as exc:  # a malformed entry (the file's bytes checked out)
        raise CheckpointError(f"fit(resume={path!r}): the checkpoint is malformed "
                              f"({type(exc).__name__}: {exc}); nothing was changed") from None
    gens = streams.gens()
    before = (_snapshot(model), _snapshot(optimizer),
              None if scheduler is None else scheduler.state_dict(),
              {k: g.bit_generator.state for k, g in gens.items() if g is not None})
    rng = st["rng"]
    saved_rng = {"nn": rng["nn"], "loader": rng["loader"], "val_loader": rng["val_loader"],
                 **{f"modules/{k}": v for k, v in rng["modules"].items()}}
    try:
        model.load_state_dict(st["model"])
        optimizer.load_state_dict(st["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(st["scheduler"])
        for k, g in gens.items():
            if g is not None:
                g.bit_generator.state = saved_rng[k]
    except Exception as exc:
        _restore(model, before[0])
        _restore(optimizer, before[1])
        if scheduler is not None:
            _restore(scheduler, before[2])
        for k, g in gens.items():
            if g is not None:
                g.bit_generator.state = before[3][k]
        raise CheckpointError(f"fit(resume={path!r}): the checkpoint could not be loaded "
                              f"({type(exc).__name__}: {exc}); nothing was changed") from None
    est = st["early_stopping"]
    if es is not None:
        es.best, es.best_epoch, es.wait = est["best"], est["best_epoch"], est["wait"]
        es.best_state = None if est["best_state"] is None else {
            k: np.array(v, copy=True) for k, v in est["best_state"].items()}
        history.stopped_epoch = est["stopped_epoch"]
    hist = st["history"]
    history.epoch = list(hist["epoch"])
    history.times = list(hist["times"])
    history.history = {k: list(v) for k, v in hist.items() if k not in ("epoch", "times")}
    return int(st["epoch"])


__all__ = ["CHECKPOINT_FORMAT", "EarlyStopping", "History", "TrainingError", "TrainingInterrupted", "accuracy",
           "evaluate", "fit"]
