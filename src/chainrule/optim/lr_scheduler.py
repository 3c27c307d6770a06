"""Learning-rate schedules (``torch.optim.lr_scheduler``): call ``scheduler.step()`` once
per epoch after ``optimizer.step()``.  The recurrences are PyTorch's, so the rates match
its step for step."""

import bisect as _bisect
import math as _math
import types as _types
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


def _plain_copy(v: _Any) -> _Any:
    """A deep copy of a state value (dicts, lists, tuples, numbers, strings)."""
    if isinstance(v, dict):
        return {k: _plain_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain_copy(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_plain_copy(x) for x in v)
    return v


# attributes that are transient (set only while a step runs), never part of a state
_TRANSIENT = ("optimizer", "_is_initial")


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and writes ``get_lr()`` into the
    optimizer's groups.  ``state_dict()`` holds every attribute but the optimizer (plain
    numbers, strings, lists and dicts, so ``cr.save`` can write it); ``load_state_dict``
    refuses a state whose keys are not this scheduler's."""

    _is_initial: bool = False

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
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def step(self) -> None:
        self._step_count += 1
        self._update_lr(None)

    def _update_lr(self, epoch: int | None) -> None:
        """Advance one epoch (``epoch`` None) or jump to ``epoch`` (the closed form where the
        schedule has one, as SequentialLR does at a milestone)."""
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_closed_form", None)
            lrs = closed() if closed is not None else self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, _Any]:
        return {k: _plain_copy(v) for k, v in self.__dict__.items() if k not in _TRANSIENT}

    def load_state_dict(self, state_dict: dict[str, _Any]) -> None:
        self._check_state(state_dict)
        self._assign(state_dict)

    def _check_state(self, state_dict: _Any) -> None:
        """The state is a dict with exactly this scheduler's keys (another schedule's state
        would load without error and then compute other rates)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"{type(self).__name__}.load_state_dict expects a dict, got "
                            f"{type(state_dict).__name__}")
        mine = set(self.state_dict())
        theirs = {k for k in state_dict if k not in _TRANSIENT}
        if mine != theirs:
            parts = []
            if theirs - mine:
                parts.append(f"unexpected {sorted(theirs - mine)}")
            if mine - theirs:
                parts.append(f"missing {sorted(mine - theirs)}")
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state is not one of a "
                             f"{type(self).__name__} ({'; '.join(parts)})")

    def _assign(self, state_dict: dict[str, _Any], skip: tuple[str, ...] = ()) -> None:
        for k, v in state_dict.items():
            if k not in _TRANSIENT and k not in skip:
                self.__dict__[k] = _plain_copy(v)

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

    def _closed_form(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


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

    def _closed_form(self) -> list[float]:
        k = _bisect.bisect_right(self.milestones, self.last_epoch)
        return [b * self.gamma**k for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr *= gamma every epoch."""

    def __init__(self, optimizer: _Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _finite(gamma, "ExponentialLR: gamma", 0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self) -> list[float]:
        return [b * self.gamma**self.last_epoch for b in self.base_lrs]


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

    def state_dict(self) -> dict[str, _Any]:
        """The functions themselves are not state: a plain function or lambda is saved as
        None, a callable object as a copy of its attributes (restored into the object the
        loading scheduler holds)."""
        state = {k: _plain_copy(v) for k, v in self.__dict__.items()
                 if k not in _TRANSIENT and k != "lr_lambdas"}
        state["lr_lambdas"] = [None if isinstance(f, _types.FunctionType)
                               else _plain_copy(dict(vars(f))) if hasattr(f, "__dict__") else None
                               for f in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, _Any]) -> None:
        self._check_state(state_dict)
        fns = state_dict["lr_lambdas"]
        if not isinstance(fns, list) or len(fns) != len(self.lr_lambdas):
            raise ValueError(f"LambdaLR.load_state_dict: the state has lr_lambdas {fns!r}, this "
                             f"scheduler has {len(self.lr_lambdas)} functions")
        self._assign(state_dict, skip=("lr_lambdas",))
        for f, saved in zip(self.lr_lambdas, fns, strict=True):
            if saved is not None:
                f.__dict__.update(_plain_copy(saved))


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
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and t > 0:
            return [lo + (b - lo) * (1 + _math.cos(t * _math.pi / T)) / 2 for b in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (b - lo) * (1 - _math.cos(_math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._lrs(), strict=False)]
        return [(1 + _math.cos(_math.pi * t / T)) / (1 + _math.cos(_math.pi * (t - 1) / T))
                * (lr - lo) + lo for lr in self._lrs()]

    def _closed_form(self) -> list[float]:
        lo = self.eta_min
        return [lo + (b - lo) * (1 + _math.cos(_math.pi * self.last_epoch / self.T_max)) / 2
                for b in self.base_lrs]


class LinearLR(LRScheduler):
    """The lr multiplied by a factor going linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, then kept (PyTorch's recursive form)."""

    def __init__(self, optimizer: _Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        start_factor = _finite(start_factor, "LinearLR: start_factor")
        end_factor = _finite(end_factor, "LinearLR: end_factor")
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = _count(total_iters, "LinearLR: total_iters", 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, a, z = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * a for lr in self._lrs()]
        if self._is_initial or t > self.total_iters:
            return self._lrs()
        f = 1.0 + (z - a) / (self.total_iters * a + (t - 1) * (z - a))
        return [lr * f for lr in self._lrs()]

    def _closed_form(self) -> list[float]:
        a, z, n = self.start_factor, self.end_factor, self.total_iters
        return [b * (a + (z - a) * min(n, self.last_epoch) / n) for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = initial_lr * (1 - t / total_iters) ** power for t <= total_iters, then kept (0
    with the defaults), in PyTorch's recursive form."""

    def __init__(self, optimizer: _Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = _count(total_iters, "PolynomialLR: total_iters", 1)
        self.power = _finite(power, "PolynomialLR: power")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, n = self.last_epoch, self.total_iters
        if self._is_initial or t > n:
            return self._lrs()
        f = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [lr * f for lr in self._lrs()]

    def _closed_form(self) -> list[float]:
        n = self.total_iters
        return [b * (1.0 - min(n, self.last_epoch) / n) ** self.power for b in self.base_lrs]


def _of_optimizer(name: str, optimizer: _Optimizer, schedulers: _Any) -> list[LRScheduler]:
    out = list(schedulers)
    if not out:
        raise ValueError(f"{name} expects at least one scheduler, got none")
    for i, s in enumerate(out):
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{name} does not support ReduceLROnPlateau (its step needs the "
                             f"metric), found at index {i}")
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{name}: the scheduler at index {i} is a {type(s).__name__}, not "
                            f"an LRScheduler")
        if s.optimizer is not optimizer:
            raise ValueError(f"{name} expects all schedulers to belong to the same optimizer; "
                             f"the {type(s).__name__} at index {i} has another one")
    return out


def _undo_one(s: _Any) -> None:
    """Take back the step a scheduler's construction made (recursively through wrappers)."""
    if hasattr(s, "_schedulers"):
        for c in s._schedulers:
            _undo_one(c)
    elif hasattr(s, "last_epoch"):
        s.last_epoch -= 1


class _Wrapper(LRScheduler):
    """Shared by SequentialLR and ChainedScheduler: the state holds each scheduler's state."""

    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, _Any]:
        state = {k: _plain_copy(v) for k, v in self.__dict__.items()
                 if k not in _TRANSIENT and k != "_schedulers"}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, _Any]) -> None:
        self._check_state(state_dict)
        inner = state_dict["_schedulers"]
        if not isinstance(inner, list) or len(inner) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state holds "
                             f"{len(inner) if isinstance(inner, list) else inner!r} schedulers, "
                             f"this one {len(self._schedulers)}")
        for s, st in zip(self._schedulers, inner, strict=True):
            s.load_state_dict(st)
        self._assign(state_dict, skip=("_schedulers",))


class SequentialLR(_Wrapper):
    """``schedulers[i]`` runs from ``milestones[i - 1]`` on (each restarted at its epoch 0
    when its milestone is reached), as ``torch.optim.lr_scheduler.SequentialLR``."""

    def __init__(self, optimizer: _Optimizer, schedulers: list[LRScheduler],
                 milestones: list[int], last_epoch: int = -1) -> None:
        if not isinstance(optimizer, _Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        scheds = _of_optimizer("SequentialLR", optimizer, schedulers)
        ms = [_count(m, "SequentialLR: milestones", 0) for m in milestones]
        if len(ms) != len(scheds) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, got "
                             f"{len(scheds)} schedulers and {len(ms)} milestones")
        self._schedulers = scheds
        self._milestones = ms
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"]
        for s in scheds:  # each was stepped once when it was made
            _undo_one(s)
        first = scheds[_bisect.bisect_right(ms, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        i = _bisect.bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            s._update_lr(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()


class ChainedScheduler(_Wrapper):
    """Steps every scheduler in turn at each ``step()``, so that their factors compound."""

    def __init__(self, schedulers: list[LRScheduler], optimizer: _Optimizer | None = None) -> None:
        first = list(schedulers)
        if not first:
            raise ValueError("ChainedScheduler expects at least one scheduler, got none")
        opt = optimizer if optimizer is not None else getattr(first[0], "optimizer", None)
        if not isinstance(opt, _Optimizer):
            raise TypeError(f"{type(opt).__name__} is not an Optimizer")
        self._schedulers = _of_optimizer("ChainedScheduler", opt, first)
        self.optimizer = opt
        self._last_lr = self._lrs()

    def step(self) -> None:
        for s in self._schedulers:
            s.step()
        self._last_lr = self._lrs()


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when ``step(metric)`` has not improved for more than
    ``patience`` epochs; ``threshold``/``threshold_mode`` say what counts as better
    (``rel``: below best * (1 - threshold) in min mode; ``abs``: below best - threshold),
    ``cooldown`` epochs are ignored after each reduction, no group goes below its
    ``min_lr``, and a change smaller than ``eps`` is not made."""

    def __init__(self, optimizer: _Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        if not isinstance(optimizer, _Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        factor = _finite(factor, "ReduceLROnPlateau: factor")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        n = len(optimizer.param_groups)
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"ReduceLROnPlateau: expected {n} min_lrs, got {len(min_lr)}")
            self.default_min_lr: float | None = None
            self.min_lrs = [_finite(m, "ReduceLROnPlateau: min_lr", 0.0) for m in min_lr]
        else:
            self.default_min_lr = _finite(min_lr, "ReduceLROnPlateau: min_lr", 0.0)
            self.min_lrs = [self.default_min_lr] * n
        self.patience = _count(patience, "ReduceLROnPlateau: patience", 0)
        self.cooldown = _count(cooldown, "ReduceLROnPlateau: cooldown", 0)
        self.eps = _finite(eps, "ReduceLROnPlateau: eps", 0.0)
        self.threshold = _finite(threshold, "ReduceLROnPlateau: threshold")
        self.mode = mode
        self.threshold_mode = threshold_mode
        self.mode_worse = _math.inf if mode == "min" else -_math.inf
        self.last_epoch = 0
        self._last_lr = self._lrs()
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _better(self, a: float, best: float) -> bool:
        th = self.threshold
        if self.mode == "min":
            return a < best * (1.0 - th) if self.threshold_mode == "rel" else a < best - th
        return a > best * (th + 1.0) if self.threshold_mode == "rel" else a > best + th

    def step(self, metrics: float, epoch: int | None = None) -> None:  # type: ignore[override]
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        if self._better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._lrs()

    def _reduce(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter "
                                   f"groups but {len(self.min_lrs)} min_lrs were given; set "
                                   f"min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for g, lo in zip(groups, self.min_lrs, strict=True):
            old = float(g["lr"])
            new = max(old * self.factor, lo)
            if old - new > self.eps:
                g["lr"] = new


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topor): per batch, the lr rises from max_lr / div_factor
    to ``max_lr`` over the first ``pct_start`` of ``total_steps`` and anneals ('cos' or
    'linear') to initial_lr / final_div_factor; ``three_phase`` comes back down to the
    initial lr symmetrically first.  With ``cycle_momentum`` the momentum (SGD) or beta1
    (Adam, AdamW) moves inversely between ``max_momentum`` and ``base_momentum``.  Call
    ``step()`` after every batch; stepping past ``total_steps`` raises."""

    def __init__(self, optimizer: _Optimizer, max_lr: float | list[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        if not isinstance(optimizer, _Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if total_steps is not None:
            self.total_steps = _count(total_steps, "OneCycleLR: total_steps", 1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_count(epochs, "OneCycleLR: epochs", 1)
                                * _count(steps_per_epoch, "OneCycleLR: steps_per_epoch", 1))
        else:
            raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
        if isinstance(pct_start, bool) or not isinstance(pct_start, float) \
                or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        n = self.total_steps
        up = float(pct_start * n) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * n) - 2, "start_lr": "max_lr",
                 "end_lr": "initial_lr", "start_momentum": "base_momentum",
                 "end_momentum": "max_momentum"},
                {"end_step": n - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
                 "start_momentum": "max_momentum", "end_momentum": "max_momentum"}]
        else:
            self._schedule_phases = [
                {"end_step": up, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": n - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"}]
        groups = optimizer.param_groups
        max_lrs = _per_group("OneCycleLR: max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for g, m in zip(groups, max_lrs, strict=True):
                g["initial_lr"] = m / div_factor
                g["max_lr"] = m
                g["min_lr"] = g["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("OneCycleLR: optimizer must support momentum or beta1 with "
                                 "cycle_momentum enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            hi = _per_group("OneCycleLR: max_momentum", optimizer, max_momentum)
            lo = _per_group("OneCycleLR: base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for g, m_hi, m_lo in zip(groups, hi, lo, strict=True):
                    if self.use_beta1:
                        g["betas"] = (m_hi, *g["betas"][1:])
                    else:
                        g["momentum"] = m_hi
                    g["max_momentum"] = m_hi
                    g["base_momentum"] = m_lo
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (_math.cos(_math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times, more than the "
                             f"total_steps = {self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for g in self.optimizer.param_groups:
            begin = 0.0
            for i, ph in enumerate(self._schedule_phases):
                stop = ph["end_step"]
                if t <= stop or i == last:
                    pct = (t - begin) / (stop - begin)
                    lrs.append(self._anneal(g[ph["start_lr"]], g[ph["end_lr"]], pct))
                    if self.cycle_momentum:
                        mom = self._anneal(g[ph["start_momentum"]], g[ph["end_momentum"]], pct)
                        if self.use_beta1:
                            g["betas"] = (mom, *g["betas"][1:])
                        else:
                            g["momentum"] = mom
                    break
                begin = stop
        return lrs


def _per_group(name: str, optimizer: _Optimizer, v: _Any) -> list[float]:
    n = len(optimizer.param_groups)
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ValueError(f"{name} must have one value per parameter group ({n}), got {len(v)}")
        return [_finite(x, name) for x in v]
    return [_finite(v, name)] * n


__all__ = ["ChainedScheduler", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR",
           "LinearLR", "MultiStepLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau",
           "SequentialLR", "StepLR"]
