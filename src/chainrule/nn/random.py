"""The random stream behind initialisers and dropout (one NumPy Generator, seedable)."""

from __future__ import annotations

import numpy as np

_GEN = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the generator that ``nn`` initialisers and dropout draw from (torch.manual_seed)."""
    global _GEN
    _GEN = np.random.default_rng(seed)
    return _GEN


def default_generator() -> np.random.Generator:
    return _GEN


def get(generator: np.random.Generator | None) -> np.random.Generator:
    return _GEN if generator is None else generator
