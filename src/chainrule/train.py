"""``chainrule train``: train a network on a dataset that ships offline.

    chainrule train --dataset digits --model mlp           # ~98% test accuracy, seconds
    chainrule train --dataset digits --model cnn           # ~99%
    chainrule train --dataset moons  --model mlp           # needs nothing but NumPy

Holds out a stratified 20% of the data as the test set (never used for training or model
selection), trains with :func:`chainrule.fit` (a progress bar per epoch), reports the test
accuracy, and writes into ``--out``: the weights (``cr.save``, .npz), the preprocessing and
results (.json) and the loss curves (``cr.viz.plot_history``, .png).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .io import atomic_write


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
    parser.add_argument("--dataset", choices=["digits", "moons"], default="digits",
                        help="digits: scikit-learn's 8x8 handwritten digits (needs "
                             "scikit-learn); moons: two noisy half circles (needs nothing)")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp",
                        help="mlp: one hidden layer of 256 (moons: 2x32); cnn: two conv "
                             "layers (digits only)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="passes over the training set (default: digits mlp 25, "
                             "digits cnn 20, moons 40)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the split, the initial weights, dropout and the batch order")
    parser.add_argument("--out", default="chainrule-out",
                        help="folder for the model, its settings and the loss plot "
                             "(default ./chainrule-out)")
    parser.add_argument("--lr", type=float, default=None, help="Adam's learning rate")
    parser.add_argument("--batch-size", type=int, default=None, help="mini-batch size")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="digits: add copies of the training images shifted by one pixel "
                             "(default: on for mlp, off for cnn)")
    parser.add_argument("--samples", type=int, default=1000,
                        help="moons: number of points (default 1000)")
    parser.add_argument("--noise", type=float, default=0.2,
                        help="moons: standard deviation of the noise (default 0.2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit NumPy's BLAS to this many threads (needs threadpoolctl, "
                             "which scikit-learn installs); 1 is often fastest for these "
                             "small networks")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar, only the summary")


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
    from . import data  # noqa: PLC0415

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
    from . import nn  # noqa: PLC0415

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
    if args.threads is not None:
        try:
            from threadpoolctl import threadpool_limits  # noqa: PLC0415
        except ImportError:
            print("chainrule train: --threads needs threadpoolctl (pip install threadpoolctl); "
                  "or set OMP_NUM_THREADS before starting", file=sys.stderr)
            return 2
        with threadpool_limits(limits=max(1, args.threads)):
            return _run(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    import chainrule as cr  # noqa: PLC0415
    from chainrule import nn, optim  # noqa: PLC0415

    key = (args.dataset, args.model)
    if key not in RECIPES:
        print(f"chainrule train: --model {args.model} needs images; use --dataset digits "
              f"(moons are points in the plane: --model mlp)", file=sys.stderr)
        return 2
    base = RECIPES[key]
    recipe = Recipe(
        epochs=base.epochs if args.epochs is None else args.epochs,
        lr=base.lr if args.lr is None else args.lr,
        batch_size=base.batch_size if args.batch_size is None else args.batch_size,
        augment=base.augment if args.augment is None else args.augment,
    )
    if recipe.epochs < 1 or recipe.batch_size < 1 or not recipe.lr > 0:
        print("chainrule train: --epochs and --batch-size must be at least 1 and --lr positive",
              file=sys.stderr)
        return 2
    try:
        d = load(args, recipe)
    except ImportError as exc:
        print(f"chainrule train: {exc}", file=sys.stderr)
        return 2

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
          f"{recipe.epochs} epochs", flush=True)
    if not args.quiet:
        print("  (val_loss and val_accuracy below are the held-out test set: watched, never "
              "used to choose)", flush=True)

    t0 = time.perf_counter()
    history = cr.fit(model, loss_fn, opt, loader, epochs=recipe.epochs,
                     val=(d["X_te"], d["y_te"]), metrics=["accuracy"],
                     verbose=0 if args.quiet else 1, scheduler=sched)
    seconds = time.perf_counter() - t0
    result = cr.evaluate(model, loss_fn, (d["X_te"], d["y_te"]), metrics=["accuracy"])
    acc = result["accuracy"]
    n_te = len(d["y_te"])
    print(f"\ntest accuracy: {100 * acc:.2f}% ({round(acc * n_te)}/{n_te}), "
          f"test loss {result['loss']:.4f}, trained in {seconds:.1f} s")

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{args.dataset}-{args.model}")
    cr.save(model, stem + ".npz")
    info = {
        "dataset": args.dataset, "model": args.model, "seed": args.seed, **asdict(recipe),
        "parameters": n_params, "test_accuracy": acc, "test_loss": result["loss"],
        "train_seconds": seconds, "input_mean": d["mean"], "input_std": d["std"],
        "architecture": repr(model), "history": history.to_dict(),
    }
    text = json.dumps(info, indent=1).encode("utf-8")
    atomic_write(stem + ".json", lambda fh: fh.write(text))
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
