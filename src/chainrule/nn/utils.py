"""Gradient clipping (``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``) and
parameters as one vector (``parameters_to_vector``, ``vector_to_parameters``)."""

from __future__ import annotations

import math
from typing import Any
from collections.abc import Iterable

import numpy as np

from ..core import arrays as _arrays
from ..core.errors import GradientError
from ..core.tensor import Tensor


def _grads(parameters: Any) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> np.floating:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector; the scale is
    ``min(1, max_norm / (norm + 1e-6))`` as in PyTorch.  Returns the norm before clipping.
    """
    ps = _grads(parameters)
    if not ps:
        return np.float32(0.0)
    norm_type = float(norm_type)
    gs = [p.grad._value for p in ps]
    dt = np.result_type(*gs)
    if math.isinf(norm_type):
        norms = [np.max(np.abs(g)) if g.size else dt.type(0) for g in gs]
    else:
        norms = [np.linalg.norm(g.ravel(), ord=norm_type) for g in gs]
    if any(g.__class__ is not np.ndarray for g in gs):
        # gradients of another library: their norms read back as numbers (the clip needs
        # the total's value anyway), exactly (a float32 norm is a float64 exactly)
        norms = [dt.type(float(n)) for n in norms]
    if math.isinf(norm_type):
        total = np.max(norms)
    else:
        total = np.linalg.norm(np.asarray(norms, dtype=dt), ord=norm_type)
    total = dt.type(total)
    if error_if_nonfinite and not np.isfinite(total):
        raise GradientError(
            f"the total norm of order {norm_type} of the gradients is non-finite, so it cannot "
            f"be clipped. Set error_if_nonfinite=False to clip anyway."
        )
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    for p in ps:
        g = p.grad._value
        g *= g.dtype.type(coef)
    return total


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float,
                     foreach: Any = None) -> None:
    """Clip every gradient element into [-clip_value, clip_value] in place (parameters
    without a gradient are skipped; ``foreach`` is accepted and ignored)."""
    c = float(clip_value)
    for p in _grads(parameters):
        np.clip(p.grad._value, -c, c, out=p.grad._value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-d Tensor, in order (PyTorch's
    ``parameters_to_vector``): differentiable, so a function of the vector (a penalty on
    it) sends gradients to the parameters."""
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not ps:
        raise ValueError("parameters_to_vector: no parameters given")
    for p in ps:
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: expected Tensors, got {type(p).__name__}")
    out = np.concatenate([p.reshape(-1) for p in ps])
    return out if isinstance(out, Tensor) else Tensor._make(out, None, None)


def vector_to_parameters(vec: Any, parameters: Iterable[Tensor]) -> None:
    """Copy slices of the 1-d ``vec`` into the parameters in order (the inverse of
    ``parameters_to_vector``), in place and unrecorded, cast to each parameter's dtype.
    Unlike PyTorch, a vector longer than the parameters together is refused too."""
    v = _arrays.asarray(vec._value if isinstance(vec, Tensor) else vec)
    if v.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-d vector, got shape {v.shape}")
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = sum(p._value.size for p in ps)
    if v.size != total:
        raise ValueError(f"vector_to_parameters: the vector has {v.size} elements but the "
                         f"parameters have {total}")
    i = 0
    for p in ps:
        n = p._value.size
        p._value[...] = v[i:i + n].reshape(p._value.shape)
        p._version[0] += 1
        p._node_version = p._version[0]
        i += n
