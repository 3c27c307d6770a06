"""Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict.

Updates work on the parameters' arrays in place (as PyTorch's do), outside the graph,
and bump each parameter's version so that a graph recorded before the step refuses to
go backward through the stale values.
"""

from __future__ import annotations

import math
import numbers
from itertools import repeat as _repeat
from operator import is_ as _is
from typing import Any
from collections.abc import Callable, Iterable

import numpy as np

from ..core import arrays, errors
from ..core.tensor import Tensor, enable_grad


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()
_MISSING = object()  # (an option a group lacks)
_ndarray = np.ndarray


def _immutable(v: Any) -> bool:
    """Can ``v`` not change in place (so that the same object means the same value)?"""
    if v.__class__ is tuple:
        return all(map(_immutable, v))
    return isinstance(v, (float, int, str, np.generic, _Required)) or v is None or \
        v is _MISSING


class Optimizer:
    """Base class.  ``params``: an iterable of Parameters, or of dicts (parameter groups)
    each with a ``params`` list and per-group options overriding ``defaults``."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a single Tensor")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        kinds = {isinstance(g, dict) for g in groups}
        if len(kinds) > 1:
            raise TypeError("optimizer params must be all Tensors or all parameter-group dicts, "
                            "not a mix")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError("a parameter group needs a 'params' entry (a list of Tensors)")
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
            if p._value.dtype.kind not in "fc":
                raise TypeError(
                    f"optimizer can only optimize floating-point tensors, got {p.dtype}")
        where = f"parameter group {len(self.param_groups)}"
        first: dict[int, int] = {}
        for i, p in enumerate(ps):
            if id(p) in first:
                raise ValueError(
                    f"{type(self).__name__}: {where} lists the same parameter twice (positions "
                    f"{first[id(p)]} and {i}, shape {tuple(p.shape)}); each parameter may appear "
                    f"once, or it would be updated twice per step")
            first[id(p)] = i
        group["params"] = ps
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p): j for j, g in enumerate(self.param_groups) for p in g["params"]}
        for i, p in enumerate(ps):
            if id(p) in seen:
                raise ValueError(
                    f"{type(self).__name__}: some parameters appear in more than one parameter "
                    f"group (position {i} of {where}, shape {tuple(p.shape)}, is already in "
                    f"parameter group {seen[id(p)]})")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif isinstance(p.grad, Tensor):
                    p.grad._value[...] = 0
                else:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient.  All of them are checked first (a
        gradient of the parameter's shape and a numeric dtype, a writable array, the state
        arrays' shapes, the group's options): if one cannot be updated, the step raises
        before any parameter has changed."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        site = errors.user_site(2)
        todo = self._prepare()
        for p, v, g, state, group in todo:
            self._update(v, g, state, group)
            vc = p._version
            vc[0] += 1
            vc[1] = site
            p._node_version = vc[0]
        return loss

    def _prepare(self) -> list[tuple[Tensor, np.ndarray, np.ndarray, dict, dict]]:
        """(parameter, array to update, gradient, state, group) for every parameter with a
        gradient, after checking that each of them can be updated."""
        todo = []
        index = 0
        states = self.state
        new = False
        for gi, group in enumerate(self.param_groups):
            self._check_group(gi, group)
            for p in group["params"]:
                index += 1
                g = p.grad
                if g is None:
                    continue
                if g.__class__ is not _ndarray and isinstance(g, Tensor):
                    g = g._value
                v = p._value
                if g.__class__ is _ndarray and v.__class__ is _ndarray and \
                        v.dtype.kind == "f" and g.shape == v.shape and \
                        g.dtype.kind in "iuf" and v.flags.writeable:
                    pass  # NumPy's arrays, real: every check below passes
                else:
                    v, g = self._checked(index - 1, gi, p, g)
                state = states.get(p)
                if state:
                    for k, s in state.items():
                        if isinstance(s, np.ndarray) and s.ndim and s.shape != v.shape:
                            raise errors.ShapeError(
                                f"{type(self).__name__}.step: the optimizer state {k!r} of "
                                f"{_Where(index - 1, gi, p)} has shape {s.shape}, not the "
                                f"parameter's {v.shape}; nothing was updated")
                else:
                    new = new or state is None
                todo.append((p, v, g, state, group))
        if not new:
            return todo
        return [(p, v, g, states.setdefault(p, {}) if st is None else st, grp)
                for p, v, g, st, grp in todo]

    def _checked(self, index: int, gi: int, p: Tensor, g: Any) -> tuple[Any, Any]:
        """(array to update, gradient) of parameter ``index`` (of group ``gi``) with gradient
        ``g``, or the error that says why it cannot be updated."""
        name = type(self).__name__
        where = _Where(index, gi, p)  # (the text is made only for an error)
        if isinstance(g, Tensor):
            g = g._value
        if not isinstance(g, arrays.TYPES):
            raise TypeError(f"{name}.step: {where} has a .grad of type "
                            f"{type(g).__name__}, not a Tensor; nothing was updated")
        v = p._value
        if g.shape != v.shape:
            raise errors.ShapeError(
                f"{name}.step: a gradient of shape {g.shape} for {where}; nothing was "
                f"updated"
            )
        if g.dtype.kind not in ("iufc" if v.dtype.kind == "c" else "iuf"):
            raise TypeError(
                f"{name}.step: {where} of dtype {v.dtype} has a gradient of dtype "
                f"{g.dtype}; nothing was updated")
        if not v.flags.writeable:
            raise ValueError(
                f"{name}.step: {where} is read-only (its array is not writeable), so it "
                f"cannot be updated in place; nothing was updated. Give the optimizer "
                f"parameters that own writable arrays (nn.Parameter(np.array(a)))")
        if v.dtype.kind == "c":
            # complex parameters are updated as pairs of reals (PyTorch's view_as_real)
            if not v.flags.c_contiguous:
                raise ValueError(f"{name}.step: {where} is a non-contiguous complex "
                                 f"array and cannot be updated in place; nothing was "
                                 f"updated")
            v = _as_real(v)
            g = _as_real(np.ascontiguousarray(g, dtype=p._value.dtype))
        return v, g

    def _check_group(self, gi: int, group: dict) -> None:
        """The group's options have the types of the defaults (a scheduler or a user may have
        written them): a number for a number, a flag for a flag, a pair for a pair.  Checked
        again only when the group, the defaults or one of the values is another object than
        at the last check that passed (values that can change in place are always checked)."""
        d = self.defaults
        seen = (*d, *d.values(), *map(group.get, d, _repeat(_MISSING)))
        checked = self.__dict__.get("_checked_groups")
        if checked is None:
            checked = self._checked_groups = {}
        last = checked.get(gi)
        if last is not None and last[0] is group and len(last[1]) == len(seen) and \
                all(map(_is, last[1], seen)):
            return
        name = type(self).__name__
        for k, d in self.defaults.items():
            if d is required or k not in group:
                continue
            v = group[k]
            if isinstance(d, bool):
                ok = isinstance(v, bool | np.bool_) or (isinstance(v, numbers.Integral)
                                                        and v in (0, 1))
            elif isinstance(d, numbers.Real):
                ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)
            elif isinstance(d, tuple):
                ok = isinstance(v, tuple | list) and len(v) == len(d) and all(
                    isinstance(e, numbers.Real) and not math.isnan(e) for e in v)
            else:
                ok = True
            if not ok:
                raise TypeError(f"{name}.step: parameter group {gi} has {k} = {v!r}, which is "
                                f"not a {type(d).__name__} like the default {d!r}; nothing was "
                                f"updated")
        if all(map(_immutable, seen)):
            checked[gi] = (group, seen)
        else:
            checked.pop(gi, None)

    def _update(self, v: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """Update the parameter's array ``v`` in place from its gradient ``g``."""
        raise NotImplementedError

    # --- checkpoints ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: value}}, 'param_groups': [...]} with parameters by index."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params = [p for g in self.param_groups for p in g["params"]]
        for g, saved in zip(self.param_groups, groups, strict=False):
            if len(g["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        new_state: dict[Tensor, dict[str, Any]] = {}
        for i, st in state_dict["state"].items():
            try:
                j = int(i)
                if not 0 <= j < len(params):
                    raise IndexError
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"loaded state dict has state for parameter {i!r}; the "
                                 f"optimizer has parameters 0 to {len(params) - 1}") from None
            p = params[j]
            shape = p._value.shape
            real = shape + (2,) if p._value.dtype.kind == "c" else shape
            entry = {}
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.ndim:
                    if v.shape == shape:
                        v = v.astype(p._value.dtype, copy=True)
                    elif v.shape == real:
                        v = v.astype(p._value.real.dtype, copy=True)
                    else:
                        raise ValueError(f"loaded state dict: {k!r} of parameter {j} has shape "
                                         f"{v.shape}, the parameter has shape {shape}")
                entry[k] = v
            new_state[p] = entry
        for g, saved in zip(self.param_groups, groups, strict=False):
            for k, v in saved.items():
                if k != "params":
                    g[k] = v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


def _as_real(a: np.ndarray) -> np.ndarray:
    return a.view(a.real.dtype).reshape(a.shape + (2,))


def lerp_(a: np.ndarray, b: np.ndarray, w: float) -> None:
    """a <- a + w (b - a) in place, in PyTorch's two-branch form (exact at w = 0 and 1)."""
    if w < 0.5:
        a += w * (b - a)
    else:
        np.subtract(b, (b - a) * (1 - w), out=a)


class _Where:
    """'parameter 3 (group 0, shape (256,))', formatted when an error message needs it."""

    __slots__ = ("index", "group", "p")

    def __init__(self, index: int, group: int, p: Tensor) -> None:
        self.index, self.group, self.p = index, group, p

    def __str__(self) -> str:
        return f"parameter {self.index} (group {self.group}, shape {tuple(self.p._value.shape)})"
