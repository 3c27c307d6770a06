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


# set by chainrule.compile: while a compiled function is traced, a draw made through draw()
# becomes an input of the compiled code (drawn afresh, from the same generator, each call)
TRACE_DRAW = None


def draw(generator: np.random.Generator | None, method: str, *args: object) -> object:
    """``get(generator).<method>(*args)``: the random numbers dropout uses, drawn so that a
    compiled module draws them again on every call rather than baking them into its code."""
    if TRACE_DRAW is not None:
        return TRACE_DRAW(generator, method, *args)
    return getattr(get(generator), method)(*args)
