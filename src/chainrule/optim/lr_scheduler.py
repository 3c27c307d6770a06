"""Learning-rate schedules (``torch.optim.lr_scheduler``): call ``scheduler.step()`` once
per epoch after ``optimizer.step()``.  The recurrences are PyTorch's, so the rates match
its step for step."""

import math as _math
from typing import Any as _Any
from collections.abc import Callable as _Callable

from ..nn.primitives import count as _count
from .optimizer import Optimizer as _Optimizer


def _finite(v: _Any, name: str, low: float | None = None) -> float:
    """A schedule's number: finite (a NaN gamma made every later rate NaN), >= ``low``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
        raise TypeError(f"{name} must be a number, got {v!r}")
    f = float(v)
    if not _math.isfinite(f) or (low is not None and f < low):
        raise ValueError(f"{name} must be a finite number{'' if low is None else f' >= {low:g}'}"
                         f", got {v!r}")
    return f


class LRScheduler:
    def __init__(self, optimizer: _Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, _Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   f"when resuming an optimizer")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def step(self) -> None:
        self._step_count += 1
        self.last_epoch += 1
        for g, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=False):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, _Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"
                and not callable(v)}

    def load_state_dict(self, state_dict: dict[str, _Any]) -> None:
        self.__dict__.update(state_dict)

    def _lrs(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: _Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = _count(step_size, "StepLR: step_size", 1)
        self.gamma = _finite(gamma, "StepLR: gamma", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class MultiStepLR(LRScheduler):
    """lr *= gamma at each epoch listed in ``milestones``."""

    def __init__(self, optimizer: _Optimizer, milestones: list[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = sorted(_count(m, "MultiStepLR: milestones", 0) for m in milestones)
        self.gamma = _finite(gamma, "MultiStepLR: gamma", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        k = self.milestones.count(self.last_epoch)
        if k == 0:
            return self._lrs()
        return [lr * self.gamma**k for lr in self._lrs()]


class ExponentialLR(LRScheduler):
    """lr *= gamma every epoch."""

    def __init__(self, optimizer: _Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _finite(gamma, "ExponentialLR: gamma", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch) (one function, or one per parameter group)."""

    def __init__(self, optimizer: _Optimizer, lr_lambda: _Callable[[int], float] | list,
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) \
            else [lr_lambda] * n
        if len(self.lr_lambdas) != n:
            raise ValueError(f"Expected {n} lr_lambdas, but got {len(self.lr_lambdas)}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [b * f(self.last_epoch)
                for b, f in zip(self.base_lrs, self.lr_lambdas, strict=True)]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial lr to ``eta_min`` over ``T_max`` epochs (then back
    up, as in PyTorch):  eta_min + (lr0 - eta_min) (1 + cos(pi t / T_max)) / 2."""

    def __init__(self, optimizer: _Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self.T_max = _count(T_max, "CosineAnnealingLR: T_max", 1)
        self.eta_min = _finite(eta_min, "CosineAnnealingLR: eta_min", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, lo = self.last_epoch, self.T_max, self.eta_min
        if t == 0:
            return self._lrs()
        if self._step_count == 1 and t > 0:
            return [lo + (b - lo) * (1 + _math.cos(t * _math.pi / T)) / 2 for b in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (b - lo) * (1 - _math.cos(_math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._lrs(), strict=False)]
        return [(1 + _math.cos(_math.pi * t / T)) / (1 + _math.cos(_math.pi * (t - 1) / T))
                * (lr - lo) + lo for lr in self._lrs()]


__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "MultiStepLR",
           "StepLR"]
