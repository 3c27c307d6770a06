"""``chainrule train``: train a network on a dataset that ships offline or is generated.

    chainrule train --dataset digits --model mlp           # ~98% test accuracy, seconds
    chainrule train --dataset digits --model cnn           # ~99%
    chainrule train --dataset moons  --model mlp           # needs nothing but NumPy
    chainrule train --dataset addition                     # a transformer adds 4-digit numbers
    chainrule train --dataset sequences --model lstm       # or gru: noisy waves by frequency
    chainrule train --resume chainrule-out/addition-transformer-checkpoint.npz

Holds out a stratified 20% of the data as the test set (never used for training or model
selection; addition: problems whose sums never occur in training), trains with
:func:`chainrule.fit` (a progress bar and a summary line per epoch), reports the test accuracy
(addition: exact match of the whole sum, decoded greedily from the prompt alone), and writes
into ``--out``: the weights (``cr.save``, .npz), the preprocessing and results (.json), the
loss curves (``cr.viz.plot_history``, .png) and, at the end of every epoch, the training
state (``-checkpoint.npz``, with its settings in ``-checkpoint.json``) from which
``--resume`` continues the run bit for bit.

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
# addition and sequences: measured in docs/nn.md, "Models from the command line".
RECIPES = {
    ("digits", "mlp"): Recipe(epochs=25, lr=2e-3, batch_size=64, augment=True),
    ("digits", "cnn"): Recipe(epochs=20, lr=3e-3, batch_size=64, augment=False),
    ("moons", "mlp"): Recipe(epochs=40, lr=1e-2, batch_size=32),
    ("addition", "transformer"): Recipe(epochs=5, lr=3e-3, batch_size=128),
    ("sequences", "lstm"): Recipe(epochs=15, lr=3e-3, batch_size=32),
    ("sequences", "gru"): Recipe(epochs=15, lr=3e-3, batch_size=32),
}
DATASETS = ("digits", "moons", "addition", "sequences")
MODELS = ("mlp", "cnn", "transformer", "lstm", "gru")
DEFAULT_MODEL = {"digits": "mlp", "moons": "mlp", "addition": "transformer",
                 "sequences": "lstm"}
# --samples and --noise per dataset (None: the dataset has no such setting)
DATA_DEFAULTS = {"digits": (None, None), "moons": (1000, 0.2), "addition": (50_000, None),
                 "sequences": (4000, 0.5)}
ADD_DIGITS = 4               # addition: a + b with a, b < 10**4
ADD_TEST = 2000              # held-out problems, all with sums never seen in training
ADD_HELD_OUT = 0.1           # the fraction of the possible sums kept for the test
SEQ_LENGTH, SEQ_CLASSES = 32, 4
# the settings a checkpoint's run is defined by: --resume takes them from the checkpoint
SETTINGS = ("dataset", "model", "seed", "epochs", "lr", "batch_size", "augment", "samples",
            "noise")


def configure(parser: argparse.ArgumentParser) -> None:
    from . import integer, real

    parser.epilog = ("Ctrl-C stops cleanly: the weights and the history of the last completed "
                     "epoch are saved into --out, and --resume OUT/NAME-checkpoint.npz "
                     "continues the run. Exit status: 0 trained and saved; 1 training "
                     "diverged or a file could not be written (a full disk); 2 bad input (every "
                     "flag is checked before training starts); 130 interrupted.")

    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="digits (default): scikit-learn's 8x8 handwritten digits (needs "
                             "scikit-learn); moons: two noisy half circles (needs nothing); "
                             f"addition: {ADD_DIGITS}-digit sums a + b, generated, written "
                             "digit by digit; sequences: noisy sine waves classified by "
                             "frequency, generated")
    parser.add_argument("--model", choices=MODELS, default=None,
                        help="mlp: one hidden layer of 256 (moons: 2x32); cnn: two conv "
                             "layers (digits only); transformer: a small decoder-only "
                             "transformer (addition, the default there); lstm, gru: a "
                             "recurrent layer of 32 and a linear head (sequences; default lstm)")
    parser.add_argument("--epochs", type=integer(1, MAX_EPOCHS), default=None,
                        help="passes over the training set (default: digits mlp 25, "
                             "digits cnn 20, moons 40, addition 5, sequences 15)")
    parser.add_argument("--seed", type=integer(0, 2**32 - 1), default=None,
                        help="seeds the data (split or generation), the initial weights, "
                             "dropout and the batch order (0 to 2**32-1, default 0)")
    parser.add_argument("--out", default=None, type=_out_path, metavar="DIR",
                        help="folder for the model, its settings, the loss plot and the "
                             "checkpoint (default ./chainrule-out, or with --resume the "
                             "checkpoint's folder; created if needed, and checked to be "
                             "writable before training starts)")
    parser.add_argument("--resume", default=None, type=_resume_path, metavar="CHECKPOINT",
                        help="continue the run that wrote CHECKPOINT (OUT/NAME-checkpoint.npz, "
                             "written at the end of every epoch) from its last epoch; it ends "
                             "bit-identical to an uninterrupted run. The settings come from "
                             "the checkpoint: flags given must agree with them")
    parser.add_argument("--lr", type=real(0, lo_open=True), default=None,
                        help="Adam's learning rate (a finite number > 0)")
    parser.add_argument("--batch-size", type=integer(1, MAX_BATCH), default=None,
                        help="mini-batch size")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="digits: add copies of the training images shifted by one pixel "
                             "(default: on for mlp, off for cnn)")
    parser.add_argument("--samples", type=integer(MIN_SAMPLES, MAX_SAMPLES), default=None,
                        help=f"moons: number of points (default 1000); addition: training "
                             f"problems (default 50,000, plus {ADD_TEST} held out); sequences: "
                             f"number of sequences (default 4000); {MIN_SAMPLES} to "
                             f"{MAX_SAMPLES:,}")
    parser.add_argument("--noise", type=real(0, MAX_NOISE), default=None,
                        help=f"moons: standard deviation of the noise (the half circles have "
                             f"radius 1; default 0.2); sequences: of the noise added to the "
                             f"unit sine waves (default 0.5); 0 to {MAX_NOISE:g}")
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


def _resume_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a checkpoint file, got ''")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a file name cannot contain a NUL character")
    if not os.path.isfile(text):
        what = "is not a file" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"{text} {what} (a checkpoint is "
                                         f"OUT/NAME-checkpoint.npz, written by a run)")
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


def _setting(args: argparse.Namespace, name: str) -> Any:
    """--samples / --noise as given, or the dataset's default."""
    v = getattr(args, name, None)
    if v is None:
        v = DATA_DEFAULTS.get(args.dataset, (None, None))[("samples", "noise").index(name)]
    return v


def load(args: argparse.Namespace, recipe: Recipe) -> dict[str, Any]:
    from .. import data

    if args.dataset == "addition":
        return load_addition(args)
    if args.dataset == "sequences":
        return load_sequences(args)
    if args.dataset == "digits":
        X, y = data.load_digits()          # (1797, 64) in [0, 1], labels 0-9
        n_classes = 10
    else:
        X, y = data.make_moons(_setting(args, "samples"), noise=_setting(args, "noise"),
                               seed=args.seed)
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
    aug = " (with 4 one-pixel shifts of each image)" if n_train != len(X_tr) else ""
    return {"X_tr": X_tr, "y_tr": y_tr, "X_te": X_te, "y_te": y_te, "n_train": n_train,
            "n_classes": n_classes, "mean": np.asarray(mean).tolist(),
            "std": np.asarray(std).tolist(),
            "about": f"{n_train} training examples{aug}, {len(X_te)} held out for the test "
                     f"(stratified 20%)"}


def load_addition(args: argparse.Namespace) -> dict[str, Any]:
    """Generated problems a + b = s as tokens (chainrule.data.make_addition): the prompt
    "a+b=" and the sum's digits least significant first; the held-out problems' sums never
    occur in training."""
    from .. import data

    n = _setting(args, "samples")
    X_tr, y_tr, X_te, y_te = data.make_addition(ADD_DIGITS, n_train=n, n_test=ADD_TEST,
                                                held_out=ADD_HELD_OUT, seed=args.seed)
    n_sums = 2 * 10**ADD_DIGITS - 1
    return {"X_tr": X_tr, "y_tr": y_tr, "X_te": X_te, "y_te": y_te, "n_train": len(X_tr),
            "n_classes": data.sequences.ADDITION_VOCAB, "mean": None, "std": None,
            "prompt_len": 2 * ADD_DIGITS + 2,
            "about": f"{len(X_tr):,} generated problems a + b (a, b < 10**{ADD_DIGITS}; the "
                     f"sum written least significant digit first), {len(X_te)} held out "
                     f"whose sums (a random {ADD_HELD_OUT:.0%} of the {n_sums:,} possible) "
                     f"never occur in training"}


def load_sequences(args: argparse.Namespace) -> dict[str, Any]:
    """Noisy sine waves labelled by frequency band (chainrule.data.make_frequencies)."""
    from .. import data

    noise = _setting(args, "noise")
    X, y = data.make_frequencies(_setting(args, "samples"), length=SEQ_LENGTH,
                                 n_classes=SEQ_CLASSES, noise=noise, seed=args.seed)
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.2, seed=args.seed,
                                                   stratify=y)
    return {"X_tr": X_tr, "y_tr": y_tr, "X_te": X_te, "y_te": y_te, "n_train": len(X_tr),
            "n_classes": SEQ_CLASSES, "mean": None, "std": None,
            "about": f"{len(X_tr)} generated sequences (sin(2 pi f t + phase) + {noise:g} "
                     f"N(0, 1), {SEQ_LENGTH} steps; class k: f = k + 1 +- 0.25 cycles, "
                     f"{SEQ_CLASSES} classes), {len(X_te)} held out for the test "
                     f"(stratified 20%)"}


def build(dataset: str, model: str, n_classes: int) -> Any:
    from .. import nn

    if dataset == "addition":
        from .models import AdditionTransformer

        return AdditionTransformer(n_classes, 3 * ADD_DIGITS + 2, ADD_DIGITS + 1, d_model=48,
                                   nhead=4, num_layers=2, dim_feedforward=192)
    if dataset == "sequences":
        from .models import SequenceClassifier

        return SequenceClassifier(model, 1, 32, n_classes)
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


def exact_match(output: np.ndarray, target: np.ndarray) -> float:
    """The fraction of answers with every digit right ((N, C, d) logits, (N, d) targets)."""
    return float(np.mean((np.asarray(output).argmax(axis=1) == np.asarray(target)).all(axis=1)))


def digit_accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """The fraction of answer digits right."""
    return float(np.mean(np.asarray(output).argmax(axis=1) == np.asarray(target)))


# --- the command -----------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    from . import fail

    args = argparse.Namespace(**vars(args))
    if getattr(args, "out", None) is None:
        resume = getattr(args, "resume", None)
        args.out = (os.path.dirname(resume) or ".") if resume else "chainrule-out"
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


def _bad_combination(dataset: str, model: str) -> str:
    if model == "cnn":
        why = {"moons": "moons are points in the plane: --model mlp",
               "addition": "addition is token sequences: --model transformer",
               "sequences": "sequences are series: --model lstm or gru"}[dataset]
        return f"--model cnn needs images; use --dataset digits ({why})"
    if model == "mlp":
        return (f"--model mlp is for --dataset digits or moons; --dataset {dataset} trains "
                + ("--model transformer" if dataset == "addition" else "--model lstm or gru"))
    if model == "transformer":
        return (f"--model transformer is for --dataset addition (token sequences); "
                f"--dataset {dataset} trains " + ("--model lstm or gru" if dataset == "sequences"
                                                  else "--model mlp or cnn" if dataset ==
                                                  "digits" else "--model mlp"))
    return (f"--model {model} is for --dataset sequences (series); --dataset {dataset} trains "
            + ("--model transformer" if dataset == "addition" else "--model mlp or cnn"
               if dataset == "digits" else "--model mlp"))


def _recipe(args: argparse.Namespace) -> Recipe | str:
    key = (args.dataset, args.model)
    if key not in RECIPES:
        return _bad_combination(*key)
    base = RECIPES[key]
    return Recipe(
        epochs=base.epochs if args.epochs is None else args.epochs,
        lr=base.lr if args.lr is None else args.lr,
        batch_size=base.batch_size if args.batch_size is None else args.batch_size,
        augment=base.augment if args.augment is None else args.augment,
    )


def _flag(name: str, value: Any) -> str:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else "--no-" + flag[2:]
    return f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}"


def _settings_path(checkpoint: str) -> str:
    return os.path.splitext(checkpoint)[0] + ".json"


SETTINGS_FORMAT = "chainrule-train-settings/1"


def _resolve(args: argparse.Namespace) -> tuple[argparse.Namespace, Recipe] | str:
    """The run's settings: the flags, the checkpoint's settings under --resume (a flag given
    must agree), then the defaults.  A one-line reason when they do not fit together."""
    saved: dict[str, Any] = {}
    resume = getattr(args, "resume", None)
    if resume is not None:
        side = _settings_path(resume)
        try:
            with open(side, encoding="utf-8") as fh:
                meta = json.load(fh)
            if meta.get("format") != SETTINGS_FORMAT or set(meta["settings"]) != set(SETTINGS):
                raise ValueError("not the settings of a chainrule train run")
            saved = meta["settings"]
        except FileNotFoundError:
            return (f"--resume {resume}: its settings file {side} is missing (chainrule train "
                    f"writes NAME-checkpoint.json next to NAME-checkpoint.npz)")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            from . import os_error

            why = os_error(exc) if isinstance(exc, OSError) else str(exc)
            return f"--resume {resume}: cannot read its settings file {side} ({why})"
        differ = [f"{_flag(k, saved[k])} (here {_flag(k, getattr(args, k))})" for k in SETTINGS
                  if getattr(args, k, None) is not None and getattr(args, k) != saved[k]]
        if differ:
            return (f"--resume {resume}: the checkpoint's run has " + ", ".join(differ)
                    + "; resuming continues that run: leave those flags out or give the same")
    a = argparse.Namespace(**vars(args))
    for k in SETTINGS:
        if getattr(a, k, None) is None and k in saved:
            setattr(a, k, saved[k])
    if a.dataset is None:
        a.dataset = "digits"
    if a.model is None:
        a.model = DEFAULT_MODEL[a.dataset]
    if a.seed is None:
        a.seed = 0
    recipe = _recipe(a)
    if isinstance(recipe, str):
        return recipe
    a.epochs, a.lr, a.batch_size, a.augment = (recipe.epochs, recipe.lr, recipe.batch_size,
                                               recipe.augment)
    a.samples, a.noise = _setting(a, "samples"), _setting(a, "noise")
    return a, recipe


def _run(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.io import CheckpointError
    from chainrule.training import TrainingError, TrainingInterrupted, accuracy

    from . import EXIT_INTERRUPTED, fail

    resolved = _resolve(args)
    if isinstance(resolved, str):
        return fail("train", resolved)
    args, recipe = resolved
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
                                     stem_name + "-loss.png", stem_name + "-checkpoint.npz",
                                     stem_name + "-checkpoint.json"))   # now, not after training
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
    addition = args.dataset == "addition"
    metrics: Any = ({"digit_accuracy": digit_accuracy, "exact_match": exact_match} if addition
                    else {"accuracy": accuracy})

    print(f"chainrule train: {args.dataset}, {args.model}, seed {args.seed}")
    print(f"  data:  {d['about']}")
    print(f"  model: {n_params:,} parameters")
    print("  " + repr(model).replace("\n", "\n  "))
    print(f"  Adam lr {recipe.lr:g} with cosine decay, batch {recipe.batch_size}, "
          f"{recipe.epochs} epochs, {args.threads} BLAS thread{'s' if args.threads != 1 else ''}",
          flush=True)
    if not args.quiet:
        if addition:
            print("  (val_* below are the held-out sums with the true earlier digits fed in, "
                  "teacher forcing: watched, never used to choose; the test accuracy at the "
                  "end decodes from the prompt alone)", flush=True)
        else:
            print("  (val_loss and val_accuracy below are the held-out test set: watched, "
                  "never used to choose)", flush=True)

    stem = os.path.join(args.out, stem_name)
    ckpt = stem + "-checkpoint.npz"
    settings = {k: getattr(args, k) for k in SETTINGS}
    base_info = {"dataset": args.dataset, "model": args.model, "seed": args.seed,
                 **asdict(recipe), "samples": args.samples, "noise": args.noise,
                 "blas_threads": args.threads, "parameters": n_params,
                 "input_mean": d["mean"], "input_std": d["std"], "architecture": repr(model),
                 "checkpoint": ckpt, "resumed_from": args.resume}
    if addition:
        base_info["digits"] = ADD_DIGITS
    # a checkpoint left by an earlier run in --out is not this run's: gone before the
    # settings it would no longer match are written (for --resume, before the first epoch)
    if args.resume is None or os.path.abspath(args.resume) != os.path.abspath(ckpt):
        if os.path.isfile(ckpt):
            os.unlink(ckpt)
    from .. import io as cio

    text = json.dumps({"format": SETTINGS_FORMAT, "settings": settings}, indent=1)
    cio.atomic_write(_settings_path(ckpt), lambda fh: fh.write(text.encode("utf-8")))
    if args.resume is not None:
        print(f"  resuming from {args.resume}", flush=True)

    def forget_settings() -> None:          # no checkpoint came of this run
        if not os.path.exists(ckpt):
            try:
                os.unlink(_settings_path(ckpt))
            except OSError:
                pass

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore",
                                                    divide="ignore"):
            # overflow on the way to a diverging loss is reported once, as the divergence
            warnings.simplefilter("ignore", RuntimeWarning)
            history = cr.fit(model, loss_fn, opt, loader, epochs=recipe.epochs,
                             val=(d["X_te"], d["y_te"]), metrics=metrics,
                             verbose=0 if args.quiet else 1, scheduler=sched,
                             checkpoint=ckpt, resume=args.resume)
    except CheckpointError as exc:
        forget_settings()
        return fail("train", f"--resume {args.resume}: {exc}")
    except TrainingError as exc:
        forget_settings()
        return fail("train", str(exc), 1)
    except TrainingInterrupted as stop:
        seconds = time.perf_counter() - t0
        h = stop.history
        if not len(h):
            forget_settings()
            print(f"chainrule train: interrupted in epoch {stop.epoch}, before any epoch "
                  f"completed; nothing saved", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED
        # fit has put the model back to the end of the last completed epoch
        _save(cr, model, stem, {**base_info, "interrupted": True, "epochs_completed": len(h),
                                "train_seconds": seconds, "history": h.to_dict()})
        print(f"chainrule train: interrupted in epoch {stop.epoch}; saved epoch {len(h)}'s "
              f"weights and the history: {stem}.npz, {stem}.json; continue with --resume "
              f"{ckpt}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    seconds = time.perf_counter() - t0
    result = cr.evaluate(model, loss_fn, (d["X_te"], d["y_te"]), metrics=metrics)
    n_te = len(d["y_te"])
    extra: dict[str, Any] = {}
    if addition:
        from .models import greedy_answers

        model.eval()
        answers = greedy_answers(model, d["X_te"][:, :d["prompt_len"]])
        right = (answers == d["y_te"]).all(axis=1)
        acc = float(right.mean())
        extra = {"decoding": "greedy, from the prompt alone",
                 "test_digit_accuracy": float((answers == d["y_te"]).mean()),
                 "test_exact_match_teacher_forced": result["exact_match"]}
        print(f"\ntest accuracy: {100 * acc:.2f}% ({int(right.sum())}/{n_te}) of the held-out "
              f"sums exactly right, decoded greedily from the prompt alone (digits "
              f"{100 * extra['test_digit_accuracy']:.2f}%), test loss {result['loss']:.4f}, "
              f"trained in {seconds:.1f} s")
        for i in range(3):
            print("  " + _show_sum(d["X_te"][i], answers[i]))
    else:
        acc = result["accuracy"]
        print(f"\ntest accuracy: {100 * acc:.2f}% ({round(acc * n_te)}/{n_te}), "
              f"test loss {result['loss']:.4f}, trained in {seconds:.1f} s")

    _save(cr, model, stem, {**base_info, "test_accuracy": acc, "test_loss": result["loss"],
                            **extra, "train_seconds": seconds, "history": history.to_dict()})
    print(f"saved: {stem}.npz (weights: cr.load('{stem}.npz', model)), {stem}.json "
          f"(settings, input mean/std, history)")
    print(f"       {ckpt} (the training state: --resume continues from it)")
    # fit's "val_" series are the held-out test set here (watched, never used to choose)
    curves = {k.replace("val_", "test_"): v for k, v in history.items()}
    what = "exact-match" if addition else "test accuracy"
    try:
        cr.viz.plot_history(curves, stem + "-loss.png",
                            title=f"{args.dataset} {args.model}: {what} {100 * acc:.2f}%")
        print(f"       {stem}-loss.png (loss and accuracy per epoch)")
    except ImportError as exc:
        print(f"       (no loss plot: {exc})")
    return 0


def _show_sum(tokens: np.ndarray, answer: np.ndarray) -> str:
    """One held-out problem and the model's answer: '1234 + 6789 = 8023 (right)'."""
    digits = "".join(str(int(t)) for t in tokens[:ADD_DIGITS])
    other = "".join(str(int(t)) for t in tokens[ADD_DIGITS + 1:2 * ADD_DIGITS + 1])
    a, b = int(digits), int(other)
    got = int("".join(str(int(t)) for t in answer[::-1]))
    return f"{a} + {b} = {got} ({'right' if got == a + b else f'wrong: {a + b}'})"


def _save(cr: Any, model: Any, stem: str, info: dict) -> None:
    """The weights (.npz) and the settings and history (.json), each written atomically."""
    cr.save(model, stem + ".npz")
    text = json.dumps(info, indent=1).encode("utf-8")
    atomic_write(stem + ".json", lambda fh: fh.write(text))
