"""Initialisers, in place, with PyTorch's formulas (names end in ``_`` as there).

Each takes ``generator=`` (a NumPy Generator); by default they draw from the stream that
``chainrule.nn.manual_seed`` seeds.
"""

import math as _math
from typing import Any as _Any

import numpy as _np

from ..core.tensor import Tensor as _Tensor
from . import random as _random


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d"]
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return _math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return _math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _arr(t: _Any) -> _np.ndarray:
    if isinstance(t, _Tensor):
        return t._value
    if isinstance(t, _np.ndarray):
        return t
    raise TypeError(f"init: expected a Parameter, Tensor or ndarray, got {type(t).__name__}")


def _calculate_fan_in_and_fan_out(tensor: _Any) -> tuple[int, int]:
    shape = _np.shape(_arr(tensor))
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive = int(_np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: _Any, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: _Any, values: _np.ndarray) -> _Any:
    a = _arr(tensor)
    a[...] = values
    if isinstance(tensor, _Tensor):
        vc = tensor._version
        vc[0] += 1
        tensor._node_version = vc[0]
    return tensor


def uniform_(tensor: _Any, a: float = 0.0, b: float = 1.0,
             generator: _np.random.Generator | None = None) -> _Any:
    shape = _np.shape(_arr(tensor))
    return _fill(tensor, _random.get(generator).uniform(a, b, size=shape))


def normal_(tensor: _Any, mean: float = 0.0, std: float = 1.0,
            generator: _np.random.Generator | None = None) -> _Any:
    shape = _np.shape(_arr(tensor))
    return _fill(tensor, _random.get(generator).normal(mean, std, size=shape))


def trunc_normal_(tensor: _Any, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: _np.random.Generator | None = None) -> _Any:
    """Normal(mean, std) truncated to [a, b] (by redrawing the values outside)."""
    rng = _random.get(generator)
    shape = _np.shape(_arr(tensor))
    v = rng.normal(mean, std, size=shape)
    bad = (v < a) | (v > b)
    while bad.any():
        v[bad] = rng.normal(mean, std, size=int(bad.sum()))
        bad = (v < a) | (v > b)
    return _fill(tensor, v)


def constant_(tensor: _Any, val: float) -> _Any:
    return _fill(tensor, val)


def zeros_(tensor: _Any) -> _Any:
    return _fill(tensor, 0)


def ones_(tensor: _Any) -> _Any:
    return _fill(tensor, 1)


def eye_(tensor: _Any) -> _Any:
    shape = _np.shape(_arr(tensor))
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, _np.eye(*shape))


def xavier_uniform_(tensor: _Any, gain: float = 1.0,
                    generator: _np.random.Generator | None = None) -> _Any:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * _math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: _Any, gain: float = 1.0,
                   generator: _np.random.Generator | None = None) -> _Any:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * _math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: _Any, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: _np.random.Generator | None = None) -> _Any:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al. 2015)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / _math.sqrt(fan)
    bound = _math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: _Any, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: _np.random.Generator | None = None) -> _Any:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / _math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


__all__ = [
    "calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_",
    "ones_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]
