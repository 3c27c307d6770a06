"""``chainrule train``: train a network on a dataset that ships offline.

    chainrule train --dataset digits --model mlp           # ~98% test accuracy, seconds
    chainrule train --dataset digits --model cnn           # ~99%
    chainrule train --dataset moons  --model mlp           # needs nothing but NumPy

Holds out a stratified 20% of the data as the test set (never used for training or model
selection), trains with :func:`chainrule.fit` (a progress bar and a summary line per epoch),
reports the test accuracy, and writes into ``--out``: the weights (``cr.save``, .npz), the
preprocessing and results (.json) and the loss curves (``cr.viz.plot_history``, .png).

Every flag is range-checked by argparse and ``--out`` is created and probed with a real write
before training starts (bad input: one line, exit 2).  NumPy's BLAS runs one thread by default
(``--threads``): for networks this small more threads are slower, and on a busy machine many
times slower.  Ctrl-C saves the last completed epoch's weights and history and exits 130; a
reader that closes the pipe (``| head -1``) stops the printing, not the training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..io import atomic_write


@dataclass
class Recipe:
    """The defaults for one (dataset, model) pair; each flag overrides its field."""

    epochs: int
    lr: float
    batch_size: int
    augment: bool = False


# Measured on scikit-learn's digits, held-out stratified 20%, one core, seeds 0-7:
#   mlp: test accuracy 98.06-99.72% (mean 98.65%), about 2 s
#   cnn: test accuracy 98.61-99.17% (mean 98.89%), about 8 s
# The one-pixel shifts (5x the training images) lift the MLP by about half a point; the CNN,
# shift-tolerant by construction (convolutions and pooling), does as well without them.
RECIPES = {
    ("digits", "mlp"): Recipe(epochs=25, lr=2e-3, batch_size=64, augment=True),
    ("digits", "cnn"): Recipe(epochs=20, lr=3e-3, batch_size=64, augment=False),
    ("moons", "mlp"): Recipe(epochs=40, lr=1e-2, batch_size=32),
}


def configure(parser: argparse.ArgumentParser) -> None:
    from . import integer, real

    parser.epilog = ("Ctrl-C stops cleanly: the weights and the history of the last completed "
                     "epoch are saved into --out. Exit status: 0 trained and saved; 1 training "
                     "diverged or a file could not be written (a full disk); 2 bad input (every "
                     "flag is checked before training starts); 130 interrupted.")

    parser.add_argument("--dataset", choices=["digits", "moons"], default="digits",
                        help="digits: scikit-learn's 8x8 handwritten digits (needs "
                             "scikit-learn); moons: two noisy half circles (needs nothing)")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp",
                        help="mlp: one hidden layer of 256 (moons: 2x32); cnn: two conv "
                             "layers (digits only)")
    parser.add_argument("--epochs", type=integer(1, MAX_EPOCHS), default=None,
                        help="passes over the training set (default: digits mlp 25, "
                             "digits cnn 20, moons 40)")
    parser.add_argument("--seed", type=integer(0, 2**32 - 1), default=0,
                        help="seeds the split, the initial weights, dropout and the batch order "
                             "(0 to 2**32-1, default 0)")
    parser.add_argument("--out", default="chainrule-out", type=_out_path, metavar="DIR",
                        help="folder for the model, its settings and the loss plot "
                             "(default ./chainrule-out; created if needed, and checked to be "
                             "writable before training starts)")
    parser.add_argument("--lr", type=real(0, lo_open=True), default=None,
                        help="Adam's learning rate (a finite number > 0)")
    parser.add_argument("--batch-size", type=integer(1, MAX_BATCH), default=None,
                        help="mini-batch size")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="digits: add copies of the training images shifted by one pixel "
                             "(default: on for mlp, off for cnn)")
    parser.add_argument("--samples", type=integer(MIN_SAMPLES, MAX_SAMPLES), default=1000,
                        help=f"moons: number of points ({MIN_SAMPLES} to {MAX_SAMPLES:,}; "
                             f"default 1000)")
    parser.add_argument("--noise", type=real(0, MAX_NOISE), default=0.2,
                        help=f"moons: standard deviation of the noise (0 to {MAX_NOISE:g}; the "
                             f"half circles have radius 1; default 0.2)")
    parser.add_argument("--threads", type=integer(1, MAX_THREADS), default=1,
                        help="threads for NumPy's BLAS (matrix products). Default 1: these "
                             "networks are small, and more threads make them slower, many "
                             "times slower on a busy machine; give more to experiment")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no per-epoch progress, only the summary")


MAX_EPOCHS = 1_000_000
MAX_BATCH = 10**9
MIN_SAMPLES, MAX_SAMPLES = 10, 1_000_000
MAX_NOISE = 1000.0
MAX_THREADS = 1024


def _out_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a folder name, got ''")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a folder name cannot contain a NUL character")
    return text


def prepare_out(path: str, files: tuple[str, ...] = ()) -> str | None:
    """Create ``path`` if needed and prove it writable by writing (and removing) a probe
    file in it; ``files`` (names in it) must be regular files if they exist.  Returns None
    when all is well, else a one-line reason."""
    for name in files:
        target = os.path.join(path, name)
        if os.path.lexists(target) and not os.path.isfile(target):
            return f"--out {path}: {target} exists and is not a regular file"
    created = []
    try:
        head = os.path.abspath(path)
        while not os.path.exists(head):
            created.append(head)
            head = os.path.dirname(head)
        if not os.path.isdir(head) and not created:
            return f"--out {path}: it exists and is not a folder"
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".chainrule-probe-", dir=path)
        try:
            os.write(fd, b"chainrule: checking that this folder is writable\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except (OSError, ValueError) as exc:
        for d in created:            # leave nothing behind (deepest first)
            try:
                os.rmdir(d)
            except OSError:
                pass
        from . import os_error

        return f"--out {path}: cannot write there ({os_error(exc)})"
    return None


# --- BLAS threads ------------------------------------------------------------------------------
# NumPy's BLAS reads OPENBLAS_NUM_THREADS / OMP_NUM_THREADS only when it is loaded, and
# `chainrule` has imported NumPy before any flag is parsed; so the pool is resized through
# the library's own call (openblas_set_num_threads, MKL_Set_Num_Threads), found among the
# shared libraries this process has loaded.  threadpoolctl does the same and is used when
# no library is found that way.


def _loaded_libraries() -> list[str]:
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].strip().startswith("/"):
                    p = parts[5].strip()
                    if p not in paths:
                        paths.append(p)
    except OSError:
        pass
    if not paths and sys.platform == "darwin":
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            libc._dyld_get_image_name.restype = ctypes.c_char_p
            for i in range(libc._dyld_image_count()):
                name = libc._dyld_get_image_name(i)
                if name:
                    paths.append(name.decode("utf-8", "replace"))
        except (OSError, AttributeError):
            pass
    if not paths:                     # elsewhere: the libraries NumPy ships with
        import glob

        root = os.path.dirname(os.path.dirname(np.__file__))
        for pat in ("numpy.libs/*", "numpy/.dylibs/*", "scipy_openblas*/lib/*"):
            paths.extend(glob.glob(os.path.join(root, pat)))
    return paths


class _Pool:
    """One BLAS library's thread-count calls."""

    def __init__(self, get: Any, set_: Any, name: str) -> None:
        self.get, self.set, self.name = get, set_, name


def _blas_pools() -> list[_Pool]:
    import ctypes

    pools = []
    for path in _loaded_libraries():
        base = os.path.basename(path).lower()
        if "openblas" not in base and "mkl_rt" not in base:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if "mkl_rt" in base:
            names = [("MKL_Get_Max_Threads", "MKL_Set_Num_Threads")]
        else:
            names = [(f"{pre}_get_num_threads{suf}", f"{pre}_set_num_threads{suf}")
                     for pre in ("scipy_openblas", "openblas") for suf in ("64_", "_64_", "")]
        for g, st in names:
            get, set_ = getattr(lib, g, None), getattr(lib, st, None)
            if get is not None and set_ is not None:
                get.restype = ctypes.c_int
                get.argtypes = []
                set_.restype = None
                set_.argtypes = [ctypes.c_int]
                pools.append(_Pool(get, set_, os.path.basename(path)))
                break
    return pools


@contextmanager
def blas_threads(n: int) -> Iterator[str]:
    """Within the block, NumPy's BLAS uses ``n`` threads; the previous count is restored
    after.  Yields how it was done ("" when no BLAS library could be reached)."""
    pools = []
    try:
        pools = _blas_pools()
    except Exception:
        pools = []
    if pools:
        before = [p.get() for p in pools]
        for p in pools:
            p.set(int(n))
        try:
            yield ", ".join(p.name for p in pools)
        finally:
            for p, b in zip(pools, before, strict=True):
                p.set(int(b))
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield ""
        return
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield "threadpoolctl"


# --- data ------------------------------------------------------------------------------------

def shift_augment(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images plus four copies shifted by one pixel (up, down, left, right; zeros in)."""
    imgs = X.reshape(len(X), 8, 8)
    out = [imgs]
    for axis, step in ((0, 1), (0, -1), (1, 1), (1, -1)):
        s = np.zeros_like(imgs)
        src = [slice(None)] * 3
        dst = [slice(None)] * 3
        src[axis + 1] = slice(0, -1) if step == 1 else slice(1, None)
        dst[axis + 1] = slice(1, None) if step == 1 else slice(0, -1)
        s[tuple(dst)] = imgs[tuple(src)]
        out.append(s)
    return np.concatenate(out).reshape((-1,) + X.shape[1:]), np.tile(y, len(out))


def load(args: argparse.Namespace, recipe: Recipe) -> dict[str, Any]:
    from .. import data

    if args.dataset == "digits":
        X, y = data.load_digits()          # (1797, 64) in [0, 1], labels 0-9
        n_classes = 10
    else:
        X, y = data.make_moons(args.samples, noise=args.noise, seed=args.seed)
        n_classes = 2
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.2, seed=args.seed,
                                                   stratify=y)
    # standardise with the training set's statistics only
    if args.dataset == "digits":
        mean, std = float(X_tr.mean()), float(X_tr.std())
    else:
        mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    n_train = len(X_tr)
    if args.dataset == "digits" and recipe.augment:
        X_tr, y_tr = shift_augment(X_tr, y_tr)
    X_tr = ((X_tr - mean) / std).astype(np.float32)
    X_te = ((X_te - mean) / std).astype(np.float32)
    if args.model == "cnn":
        X_tr, X_te = X_tr.reshape(-1, 1, 8, 8), X_te.reshape(-1, 1, 8, 8)
    return {"X_tr": X_tr, "y_tr": y_tr, "X_te": X_te, "y_te": y_te, "n_train": n_train,
            "n_classes": n_classes, "mean": np.asarray(mean).tolist(),
            "std": np.asarray(std).tolist()}


def build(dataset: str, model: str, n_classes: int) -> Any:
    from .. import nn

    if dataset == "moons":
        return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                             nn.Linear(32, n_classes))
    if model == "mlp":
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, n_classes))
    return nn.Sequential(                               # 1x8x8
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),      # 32x8x8
        nn.MaxPool2d(2),                                # 32x4x4
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),     # 64x4x4
        nn.MaxPool2d(2),                                # 64x2x2
        nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(256, n_classes),
    )


# --- the command -----------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    from . import fail

    threads = getattr(args, "threads", None) or 1
    with blas_threads(threads) as how:
        if not how and args.threads not in (None, 1):
            print(f"chainrule train: note: could not reach NumPy's BLAS to set --threads "
                  f"{args.threads}; set OMP_NUM_THREADS={args.threads} before starting instead",
                  file=sys.stderr)
        try:
            return _run(args)
        except OSError as exc:           # a write that failed after the probe (a full disk)
            from . import os_error

            return fail("train", f"cannot write into {args.out}: {os_error(exc)}", 1)


def _recipe(args: argparse.Namespace) -> Recipe | str:
    key = (args.dataset, args.model)
    if key not in RECIPES:
        return (f"--model {args.model} needs images; use --dataset digits (moons are points in "
                f"the plane: --model mlp)")
    base = RECIPES[key]
    return Recipe(
        epochs=base.epochs if args.epochs is None else args.epochs,
        lr=base.lr if args.lr is None else args.lr,
        batch_size=base.batch_size if args.batch_size is None else args.batch_size,
        augment=base.augment if args.augment is None else args.augment,
    )


def _run(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.training import TrainingError, TrainingInterrupted

    from . import EXIT_INTERRUPTED, fail

    recipe = _recipe(args)
    if isinstance(recipe, str):
        return fail("train", recipe)
    # (argparse has range-checked every flag; these guard callers that build args by hand)
    if recipe.epochs < 1 or recipe.batch_size < 1 or not 0 < recipe.lr < float("inf"):
        return fail("train", "--epochs and --batch-size must be at least 1 and --lr a finite "
                             "number > 0")
    try:
        d = load(args, recipe)
    except ImportError as exc:
        return fail("train", str(exc))
    stem_name = f"{args.dataset}-{args.model}"
    problem = prepare_out(args.out, (stem_name + ".npz", stem_name + ".json",
                                     stem_name + "-loss.png"))   # now, not after training
    if problem:
        return fail("train", problem)

    cr.manual_seed(args.seed)                # initial weights and dropout
    model = build(args.dataset, args.model, d["n_classes"])
    n_params = sum(int(p.size) for p in model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=recipe.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs)
    loader = cr.data.DataLoader(cr.data.TensorDataset(d["X_tr"], d["y_tr"]),
                                batch_size=recipe.batch_size, shuffle=True, seed=args.seed)

    aug = " (with 4 one-pixel shifts of each image)" if d["n_train"] != len(d["X_tr"]) else ""
    print(f"chainrule train: {args.dataset}, {args.model}, seed {args.seed}")
    print(f"  data:  {d['n_train']} training examples{aug}, {len(d['X_te'])} held out "
          f"for the test (stratified 20%)")
    print(f"  model: {n_params:,} parameters")
    print("  " + repr(model).replace("\n", "\n  "))
    print(f"  Adam lr {recipe.lr:g} with cosine decay, batch {recipe.batch_size}, "
          f"{recipe.epochs} epochs, {args.threads} BLAS thread{'s' if args.threads != 1 else ''}",
          flush=True)
    if not args.quiet:
        print("  (val_loss and val_accuracy below are the held-out test set: watched, never "
              "used to choose)", flush=True)

    stem = os.path.join(args.out, f"{args.dataset}-{args.model}")
    base_info = {"dataset": args.dataset, "model": args.model, "seed": args.seed,
                 **asdict(recipe), "blas_threads": args.threads, "parameters": n_params,
                 "input_mean": d["mean"], "input_std": d["std"], "architecture": repr(model)}
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore",
                                                    divide="ignore"):
            # overflow on the way to a diverging loss is reported once, as the divergence
            warnings.simplefilter("ignore", RuntimeWarning)
            history = cr.fit(model, loss_fn, opt, loader, epochs=recipe.epochs,
                             val=(d["X_te"], d["y_te"]), metrics=["accuracy"],
                             verbose=0 if args.quiet else 1, scheduler=sched)
    except TrainingError as exc:
        return fail("train", str(exc), 1)
    except TrainingInterrupted as stop:
        seconds = time.perf_counter() - t0
        h = stop.history
        if not len(h):
            print(f"chainrule train: interrupted in epoch {stop.epoch}, before any epoch "
                  f"completed; nothing saved", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
        # fit has put the model back to the end of the last completed epoch
        _save(cr, model, stem, {**base_info, "interrupted": True, "epochs_completed": len(h),
                                "train_seconds": seconds, "history": h.to_dict()})
        print(f"chainrule train: interrupted in epoch {stop.epoch}; saved epoch {len(h)}'s "
              f"weights and the history: {stem}.npz, {stem}.json", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    seconds = time.perf_counter() - t0
    result = cr.evaluate(model, loss_fn, (d["X_te"], d["y_te"]), metrics=["accuracy"])
    acc = result["accuracy"]
    n_te = len(d["y_te"])
    print(f"\ntest accuracy: {100 * acc:.2f}% ({round(acc * n_te)}/{n_te}), "
          f"test loss {result['loss']:.4f}, trained in {seconds:.1f} s")

    _save(cr, model, stem, {**base_info, "test_accuracy": acc, "test_loss": result["loss"],
                            "train_seconds": seconds, "history": history.to_dict()})
    print(f"saved: {stem}.npz (weights: cr.load('{stem}.npz', model)), {stem}.json "
          f"(settings, input mean/std, history)")
    # fit's "val_" series are the held-out test set here (watched, never used to choose)
    curves = {k.replace("val_", "test_"): v for k, v in history.items()}
    try:
        cr.viz.plot_history(curves, stem + "-loss.png",
                            title=f"{args.dataset} {args.model}: test accuracy {100 * acc:.2f}%")
        print(f"       {stem}-loss.png (loss and accuracy per epoch)")
    except ImportError as exc:
        print(f"       (no loss plot: {exc})")
    return 0


def _save(cr: Any, model: Any, stem: str, info: dict) -> None:
    """The weights (.npz) and the settings and history (.json), each written atomically."""
    cr.save(model, stem + ".npz")
    text = json.dumps(info, indent=1).encode("utf-8")
    atomic_write(stem + ".json", lambda fh: fh.write(text))
