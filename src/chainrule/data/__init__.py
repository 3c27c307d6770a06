"""``chainrule.data``: datasets, a mini-batch loader, splits and offline datasets.

    X, y = data.load_digits()
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.2, seed=0)
    loader = data.DataLoader(data.TensorDataset(X_tr, y_tr), batch_size=64, shuffle=True, seed=0)
"""

from .dataset import (
    DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split, train_test_split,
)
from .datasets import load_digits, make_moons
from .sequences import addition_tokens, make_addition, make_frequencies

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "addition_tokens",
           "default_collate", "load_digits", "make_addition", "make_frequencies", "make_moons",
           "random_split", "train_test_split"]
