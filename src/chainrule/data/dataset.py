"""Datasets, a batching loader and splits (``torch.utils.data``'s shapes, NumPy inside)."""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..core import arrays as _arrays
from ..core import xparray as _xparray
from ..core.tensor import Tensor
from ..nn.primitives import count
from ..numpy import stack


def _rng(seed: Any = None, generator: np.random.Generator | None = None) -> np.random.Generator:
    if generator is not None:
        return generator
    return np.random.default_rng(seed)


class Dataset:
    """Anything with ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


def _as_data(a: Any) -> Any:
    if isinstance(a, (np.ndarray, Tensor)):
        return a
    if _arrays.backend(a) not in (None, "numpy"):
        # another library's array (Dask, CuPy, array-api-strict) stays one: batches are
        # sliced in its library (an Array API array through the engine's holder)
        return _arrays.asarray(a)
    return np.asarray(a)


def _length(a: Any) -> int:
    shape = a.shape
    if not shape:
        raise ValueError("TensorDataset: arrays must have a first (sample) axis, got a 0-d one")
    return shape[0]


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: ``ds[i] == (X[i], y[i])``."""

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_data(a) for a in arrays)
        n = {_length(a) for a in self.arrays}
        if len(n) != 1:
            raise ValueError(
                "TensorDataset: size mismatch between arrays (first dimensions "
                f"{[_length(a) for a in self.arrays]})"
            )
        self._n = n.pop()

    # older name used by torch
    @property
    def tensors(self) -> tuple:
        return self.arrays

    def __getitem__(self, index: Any) -> tuple:
        return tuple(_xparray.unwrap(a[index]) for a in self.arrays)

    def __len__(self) -> int:
        return self._n


class Subset(Dataset):
    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (int, np.integer)):
            return self.dataset[int(self.indices[index])]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def _batchable(ds: Dataset) -> bool:
    """Datasets that can be indexed by an array of indices in one go."""
    if isinstance(ds, TensorDataset):
        return True
    return isinstance(ds, Subset) and _batchable(ds.dataset)


def default_collate(samples: list) -> Any:
    """Stack a list of samples: tuples field by field, arrays along a new first axis."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, Tensor):
        return stack(samples)
    if _arrays.backend(first) not in (None, "numpy"):  # stacked in the samples' library
        return _xparray.unwrap(np.stack([_arrays.asarray(s) for s in samples]))
    return np.stack([np.asarray(s) for s in samples])


class DataLoader:
    """Mini-batches of a dataset.

    ``shuffle=True`` draws a new order every epoch from a generator seeded by ``seed``
    (reproducible runs) or given as ``generator``.  A TensorDataset is sliced in one NumPy
    indexing per batch, not sample by sample.
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool = False,
                 seed: int | None = None, drop_last: bool = False,
                 collate_fn: Callable[[list], Any] | None = None,
                 generator: np.random.Generator | None = None) -> None:
        self.dataset = dataset
        # an integer >= 1 (2.5 is refused, not truncated to 2), as PyTorch's DataLoader does
        self.batch_size = None if batch_size is None else count(batch_size, "DataLoader: batch_size", 1)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.seed = seed
        self._gen = _rng(seed, generator)

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = self._gen.permutation(n) if self.shuffle else np.arange(n)
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        bs = self.batch_size
        stop = (n // bs) * bs if self.drop_last else n
        fast = self.collate_fn is None and _batchable(self.dataset)
        for start in range(0, stop, bs):
            idx = order[start:start + bs]
            if fast:
                yield self.dataset[idx]
            else:
                batch = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(batch)


def random_split(dataset: Dataset, lengths: Sequence[float], seed: int | None = None,
                 generator: np.random.Generator | None = None) -> list[Subset]:
    """Split into non-overlapping random subsets of the given lengths (or fractions that sum
    to 1, the remainder given round-robin as PyTorch does)."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1 and any(
            isinstance(x, float) for x in lengths):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    perm = _rng(seed, generator).permutation(n)
    out, start = [], 0
    for k in lengths:
        out.append(Subset(dataset, perm[start:start + int(k)]))
        start += int(k)
    return out


def train_test_split(*arrays: Any, test_size: float | int = 0.25, seed: int | None = 0,
                     shuffle: bool = True, stratify: Any = None) -> list:
    """Split arrays into train and test parts: ``X_tr, X_te, y_tr, y_te = ...`` (scikit-learn's
    order).  ``test_size``: a fraction or a count; ``stratify``: labels whose proportions each
    part keeps."""
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    data = [_as_data(a) for a in arrays]
    n = _length(data[0])
    if any(_length(a) != n for a in data):
        raise ValueError(f"train_test_split: arrays of different lengths "
                         f"{[_length(a) for a in data]}")
    n_test = int(math.ceil(test_size * n)) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(f"test_size={test_size} leaves an empty train or test set of {n} samples")
    rng = np.random.default_rng(seed)
    if stratify is not None:
        labels = np.asarray(getattr(stratify, "_value", stratify))
        test_idx = []
        classes = np.unique(labels)
        # each class contributes its share, rounded so that the total is n_test
        members = [np.flatnonzero(labels == c) for c in classes]
        share = np.array([len(m) for m in members]) * n_test / n
        take = np.floor(share).astype(int)
        for i in np.argsort(-(share - take), kind="stable")[: n_test - take.sum()]:
            take[i] += 1
        for m, k in zip(members, take, strict=False):
            test_idx.append(rng.permutation(m)[:k] if shuffle else m[:k])
        test = np.sort(np.concatenate(test_idx))
        train = np.setdiff1d(np.arange(n), test)
        if shuffle:
            test, train = rng.permutation(test), rng.permutation(train)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        test, train = order[:n_test], order[n_test:]
    out = []
    for a in data:
        out.extend([a[train], a[test]])
    return out
