"""chainrule.data: datasets, the loader, splits, and the offline datasets."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

import chainrule as cr
from chainrule import data


def _ds(n=10):
    X = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return data.TensorDataset(X, y), X, y


def test_tensor_dataset():
    ds, X, y = _ds()
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, X[3])
    assert yi == 3
    with pytest.raises(ValueError, match="size mismatch"):
        data.TensorDataset(X, y[:5])
    t = data.TensorDataset(cr.tensor(X), y)
    assert isinstance(t[0][0], cr.Tensor)


def test_loader_batches_in_order():
    ds, X, y = _ds(10)
    dl = data.DataLoader(ds, batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 == len(batches)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(batches[0][0], X[:4])
    batches[0][0][...] = -1  # a batch is a copy: the dataset is untouched
    assert X.min() >= 0
    dl = data.DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dl) == 2 and [len(b[1]) for b in dl] == [4, 4]


def test_loader_shuffle_is_seeded_and_covers_everything():
    ds, _, _ = _ds(23)
    a = data.DataLoader(ds, batch_size=5, shuffle=True, seed=7)
    b = data.DataLoader(ds, batch_size=5, shuffle=True, seed=7)
    ea1 = np.concatenate([yb for _, yb in a])
    ea2 = np.concatenate([yb for _, yb in a])
    eb1 = np.concatenate([yb for _, yb in b])
    np.testing.assert_array_equal(ea1, eb1)  # same seed, same order
    assert not np.array_equal(ea1, ea2)  # a new order every epoch
    assert sorted(ea1) == list(range(23)) and sorted(ea2) == list(range(23))
    assert not np.array_equal(ea1, np.arange(23))
    c = data.DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in c]), ea1)


def test_loader_generic_dataset_and_collate():
    class Squares(data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=float), i % 2

    batches = list(data.DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    np.testing.assert_array_equal(batches[1][0], [[2, 4], [3, 9]])
    np.testing.assert_array_equal(batches[1][1], [0, 1])
    dl = data.DataLoader(Squares(), batch_size=5, collate_fn=lambda s: len(s))
    assert list(dl) == [5]
    assert len(list(data.DataLoader(Squares(), batch_size=None))) == 5
    with pytest.raises(ValueError, match="positive integer"):
        data.DataLoader(Squares(), batch_size=0)


def test_random_split():
    ds, _, _ = _ds(10)
    a, b = data.random_split(ds, [7, 3], seed=0)
    assert len(a) == 7 and len(b) == 3
    got = sorted([int(a[i][1]) for i in range(7)] + [int(b[i][1]) for i in range(3)])
    assert got == list(range(10))
    c, d, e = data.random_split(ds, [0.5, 0.3, 0.2], seed=0)
    assert (len(c), len(d), len(e)) == (5, 3, 2)
    with pytest.raises(ValueError, match="Sum of input lengths"):
        data.random_split(ds, [3, 3])
    # a Subset goes through the loader's fast path too
    xb, yb = next(iter(data.DataLoader(a, batch_size=7)))
    assert xb.shape == (7, 2) and sorted(yb) == sorted(int(a[i][1]) for i in range(7))


def test_train_test_split():
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50) % 5
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_size=0.2, seed=0)
    assert Xtr.shape == (40, 2) and Xte.shape == (10, 2)
    np.testing.assert_array_equal(Xtr[:, 0] // 2 % 5, ytr)  # rows stay paired
    assert sorted(np.concatenate([ytr, yte]).tolist()) == sorted(y.tolist())
    again = data.train_test_split(X, y, test_size=0.2, seed=0)
    np.testing.assert_array_equal(again[1], Xte)
    _, _, _, yte_s = data.train_test_split(X, y, test_size=0.2, seed=1, stratify=y)
    assert np.bincount(yte_s).tolist() == [2, 2, 2, 2, 2]
    _, te = data.train_test_split(np.arange(10), test_size=3, shuffle=False)
    np.testing.assert_array_equal(te, [0, 1, 2])
    with pytest.raises(ValueError, match="empty"):
        data.train_test_split(X, test_size=0.0)


def test_make_moons_matches_sklearn_construction():
    sk = pytest.importorskip("sklearn.datasets")
    for n in [(100,), (7,), ((3, 5),)]:
        X, y = data.make_moons(*n, shuffle=False, dtype=np.float64)
        Xs, ys = sk.make_moons(*n, shuffle=False)
        np.testing.assert_allclose(X, Xs, atol=1e-15)
        np.testing.assert_array_equal(y, ys)


def test_make_moons_noise_and_seed():
    X, y = data.make_moons(200, noise=0.1, seed=0)
    assert X.shape == (200, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100]
    X2, y2 = data.make_moons(200, noise=0.1, seed=0)
    np.testing.assert_array_equal(X, X2)
    X3, _ = data.make_moons(200, noise=0.1, seed=1)
    assert not np.array_equal(X, X3)
    clean, yc = data.make_moons(200, seed=0)
    np.testing.assert_array_equal(y, yc)  # the same order: the difference is the noise
    assert 0.08 < np.std(X - clean) < 0.12


def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    assert sorted(np.unique(y).tolist()) == list(range(10))
    Xi, _ = data.load_digits(images=True, scale=False, dtype=np.float64)
    assert Xi.shape == (1797, 1, 8, 8) and Xi.max() == 16
    np.testing.assert_array_equal(Xi.reshape(1797, 64) / 16, X)


def test_load_digits_without_sklearn(monkeypatch):
    real = builtins.__import__

    def no_sklearn(name, *a, **k):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match="pip install scikit-learn.*make_moons"):
        data.load_digits()
