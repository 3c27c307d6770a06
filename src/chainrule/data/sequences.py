"""Generated sequence datasets (no download; deterministic from the seed).

``make_addition``: multi-digit addition as token sequences for a decoder-only transformer,
with the held-out sums disjoint from the training sums.  ``make_frequencies``: noisy sine
waves labelled by their frequency band, for recurrent classifiers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PLUS, EQUALS = 10, 11
ADDITION_VOCAB = 12          # the digits 0-9, "+", "="


def addition_tokens(a: np.ndarray, b: np.ndarray, n_digits: int) -> np.ndarray:
    """The sequences ``a + b = s`` as tokens: a's and b's n_digits digits most significant
    first (zero padded), then the sum's n_digits + 1 digits least significant first (the
    order in which carries are computed).  Shape (N, 3 * n_digits + 3)."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    p = 10 ** np.arange(n_digits + 1, dtype=np.int64)
    da = (a[:, None] // p[:n_digits]) % 10
    db = (b[:, None] // p[:n_digits]) % 10
    ds = ((a + b)[:, None] // p) % 10
    n = len(a)
    return np.concatenate([da[:, ::-1], np.full((n, 1), PLUS), db[:, ::-1],
                           np.full((n, 1), EQUALS), ds], axis=1).astype(np.int64)


def make_addition(n_digits: int = 3, n_train: int = 200_000, n_test: int = 2000,
                  held_out: float = 0.1, seed: int | None = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Addition problems ``a + b`` with 0 <= a, b < 10**n_digits.

    A random ``held_out`` fraction of the possible sums (0 .. 2 * (10**n_digits - 1)) is set
    aside: every test problem has one of those sums and no training problem does, so the
    test asks for answers never seen in training.  Returns ``(X_tr, y_tr, X_te, y_te)``:
    X the prompt (``2 * n_digits + 2`` tokens: a, "+", b, "=") plus the answer but its last
    digit (teacher forcing), shape (N, 3 * n_digits + 2), int64 tokens; y the answer's
    n_digits + 1 digits, least significant first (what X's last n_digits + 1 positions
    predict).  Problems are drawn with replacement when there are fewer than asked.
    """
    if not 1 <= int(n_digits) <= 9:
        raise ValueError(f"make_addition: n_digits must be 1 to 9, got {n_digits}")
    if not 0 < held_out < 1:
        raise ValueError(f"make_addition: held_out must be in (0, 1), got {held_out}")
    top = 10 ** int(n_digits)
    rng = np.random.default_rng(seed)
    n_sums = 2 * top - 1
    test_sum = np.zeros(n_sums, dtype=bool)
    test_sum[rng.permutation(n_sums)[:max(1, round(held_out * n_sums))]] = True

    def draw(n: int, want_test: bool) -> tuple[np.ndarray, np.ndarray]:
        if top * top <= 4 * (n_train + n_test):     # few problems: enumerate them all
            a, b = np.divmod(np.arange(top * top, dtype=np.int64), top)
            keep = test_sum[a + b] == want_test
            a, b = a[keep], b[keep]
            idx = rng.permutation(len(a))
            if len(a) < n:
                idx = rng.integers(0, len(a), n)
            return a[idx[:n]], b[idx[:n]]
        out_a, out_b, have = [], [], 0
        while have < n:                              # rejection sampling
            a = rng.integers(0, top, 2 * n)
            b = rng.integers(0, top, 2 * n)
            keep = test_sum[a + b] == want_test
            out_a.append(a[keep])
            out_b.append(b[keep])
            have += int(keep.sum())
        return np.concatenate(out_a)[:n], np.concatenate(out_b)[:n]

    tr = addition_tokens(*draw(int(n_train), False), int(n_digits))
    te = addition_tokens(*draw(int(n_test), True), int(n_digits))
    k = int(n_digits) + 1
    return tr[:, :-1], tr[:, -k:], te[:, :-1], te[:, -k:]


def make_frequencies(n_samples: int = 1000, length: int = 32, n_classes: int = 4,
                     noise: float = 0.5, seed: int | None = 0, dtype: Any = np.float32
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine waves ``sin(2 pi f t + phase) + noise * N(0, 1)``, t = 0, 1/length, ...;
    class k has f drawn uniformly from k + 1 +- 0.25 cycles per sequence, the phase is
    random.  Returns X of shape (n_samples, length, 1) (batch_first) and int64 labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, int(n_samples))
    f = 1.0 + y + rng.uniform(-0.25, 0.25, len(y))
    phase = rng.uniform(0, 2 * np.pi, len(y))
    t = np.arange(int(length)) / int(length)
    x = np.sin(2 * np.pi * f[:, None] * t + phase[:, None])
    x = x + float(noise) * rng.standard_normal(x.shape)
    return x[:, :, None].astype(dtype), y.astype(np.int64)
