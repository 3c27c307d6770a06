"""SGD, Adam, AdamW and RMSprop: PyTorch's update rules, step for step."""

from __future__ import annotations

import math
import numbers
from typing import Any
from collections.abc import Iterable

import numpy as np

from ..core import arrays as _arrays
from .optimizer import Optimizer, lerp_, required


def _check(name: str, v: float, low: float = 0.0) -> None:
    """A finite real number >= low (PyTorch's messages: "Invalid learning rate: -1")."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"Invalid {name}: {v!r} (a number is needed, got {type(v).__name__})")
    if not (math.isfinite(v) and v >= low):
        raise ValueError(f"Invalid {name}: {v} (a finite number >= {low:g} is needed)")


def _betas(betas: Any) -> tuple[float, float]:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"Invalid beta parameters: {betas!r} (a pair of numbers in [0, 1) is "
                         f"needed)") from None
    for b in (b1, b2):
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameters: {betas!r} (a pair of numbers in [0, 1) "
                             f"is needed)")
    return float(b1), float(b2)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2
    weight decay (``torch.optim.SGD``)::

        g = grad + weight_decay * p
        buf = g (first step), else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
        p -= lr * g
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        if lr is not required:
            _check("learning rate", lr)
        _check("momentum value", momentum)
        _check("dampening value", dampening)
        _check("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, v: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        if group["maximize"]:
            g = -g
        wd, mom = group["weight_decay"], group["momentum"]
        if wd != 0:
            g = g + wd * v
        if mom != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = _arrays.copy(g)  # (in g's library)
            else:
                buf *= mom
                buf += (1 - group["dampening"]) * g
            g = g + mom * buf if group["nesterov"] else buf
        v -= group["lr"] * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, L2 ``weight_decay`` added to the gradient
    and optional AMSGrad (``torch.optim.Adam``)."""

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        betas = _betas(betas)
        _check("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _update(self, v: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        if group["maximize"]:
            g = -g
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(v)
            state["exp_avg_sq"] = np.zeros_like(v)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(v)
        beta1, beta2 = group["betas"]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if self._decoupled:
                v *= 1 - lr * wd
            else:
                g = g + wd * v
        m, s = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, g, 1 - beta1)
        s *= beta2
        s += (1 - beta2) * g * g
        bc1 = 1 - beta1**step
        bc2_sqrt = (1 - beta2**step) ** 0.5
        if group["amsgrad"]:
            mx = state.setdefault("max_exp_avg_sq", np.zeros_like(v))
            np.maximum(mx, s, out=mx)
            denom = np.sqrt(mx) / bc2_sqrt + eps
        else:
            denom = np.sqrt(s) / bc2_sqrt + eps
        v += (-(lr / bc1)) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * weight_decay
    before the Adam step (``torch.optim.AdamW``; default weight_decay 0.01)."""

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


class RMSprop(Optimizer):
    """RMSprop (Hinton) with optional momentum and centring (``torch.optim.RMSprop``)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        _check("learning rate", lr)
        _check("epsilon value", eps)
        _check("momentum value", momentum)
        _check("weight_decay value", weight_decay)
        _check("alpha value", alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update(self, v: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        if group["maximize"]:
            g = -g
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(v)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(v)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(v)
        state["step"] += 1
        alpha, eps, lr = group["alpha"], group["eps"], group["lr"]
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * v
        sq = state["square_avg"]
        sq *= alpha
        sq += (1 - alpha) * g * g
        if group["centered"]:
            ga = state.setdefault("grad_avg", np.zeros_like(v))
            lerp_(ga, g, 1 - alpha)
            avg = np.sqrt(sq - ga * ga)
        else:
            avg = np.sqrt(sq)
        avg += eps
        if group["momentum"] > 0:
            buf = state.setdefault("momentum_buffer", np.zeros_like(v))
            buf *= group["momentum"]
            buf += g / avg
            v -= lr * buf
        else:
            v -= lr * (g / avg)


__all__ = ["SGD", "Adam", "AdamW", "RMSprop"]
