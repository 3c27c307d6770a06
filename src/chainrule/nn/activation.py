"""Activation layers with PyTorch's names, arguments and parameters: ELU and PReLU."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import functional as F
from .layers import _as_input
from .init import constant_
from .module import Module
from .parameter import Parameter
from .primitives import count


class ELU(Module):
    """x for x > 0, alpha (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if inplace:
            raise NotImplementedError("ELU(inplace=True) is not supported: chainrule values "
                                      "are not modified in place")
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Any) -> Any:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class PReLU(Module):
    """x for x > 0, a x otherwise with a learnt slope a: one shared (num_parameters=1) or
    one per channel (dimension 1 of the input), each starting at ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_parameters = count(num_parameters, "PReLU: num_parameters", 1)
        self.init = init
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=np.dtype(dtype)))

    def reset_parameters(self) -> None:
        constant_(self.weight, self.init)

    def forward(self, input: Any) -> Any:
        return F.prelu(_as_input(input, self.weight.dtype), self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
