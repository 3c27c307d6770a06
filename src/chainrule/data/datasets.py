"""Datasets that need no network: scikit-learn's bundled digits, and generated moons."""

from __future__ import annotations

from typing import Any

import numpy as np


def load_digits(images: bool = False, scale: bool = True,
                dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 handwritten digits bundled with scikit-learn (no download).

    Returns ``(X, y)``: X of shape (1797, 64), or (1797, 1, 8, 8) with ``images=True``
    (the layout Conv2d expects), pixel values scaled from 0..16 to [0, 1] unless
    ``scale=False``; y the int64 labels 0-9.  Needs scikit-learn (``pip install
    chainrule[data]``).
    """
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError:
        raise ImportError(
            "chainrule.data.load_digits needs scikit-learn, which is not installed. Install it "
            "with `pip install scikit-learn` (or `pip install chainrule[data]`), or use "
            "chainrule.data.make_moons, which needs nothing."
        ) from None
    d = _load()
    X = np.asarray(d.data, dtype=np.float64)
    if scale:
        X = X / 16.0
    X = X.astype(dtype)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return X, np.asarray(d.target, dtype=np.int64)


def make_moons(n_samples: int | tuple[int, int] = 100, noise: float | None = None,
               seed: int | None = None, shuffle: bool = True,
               dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons`` construction), labels 0/1.

    ``n_samples``: a total (split as evenly as possible, the outer moon gets the smaller
    half) or a pair (outer, inner).  ``noise``: std of Gaussian noise added to the points.
    """
    if isinstance(n_samples, (tuple, list)):
        n_out, n_in = (int(n) for n in n_samples)
    else:
        n_out = int(n_samples) // 2
        n_in = int(n_samples) - n_out
    if n_out < 0 or n_in < 0:
        raise ValueError(f"make_moons: n_samples must be non-negative, got {n_samples}")
    rng = np.random.default_rng(seed)
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.vstack([
        np.append(np.cos(t_out), 1 - np.cos(t_in)),
        np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5),
    ]).T
    y = np.hstack([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    if shuffle:
        p = rng.permutation(len(y))
        X, y = X[p], y[p]
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X.astype(dtype), y
