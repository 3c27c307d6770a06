"""Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict.

Updates work on the parameters' arrays in place (as PyTorch's do), outside the graph,
and bump each parameter's version so that a graph recorded before the step refuses to
go backward through the stale values.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Iterable

import numpy as np

from ..core import errors
from ..core.tensor import Tensor, enable_grad


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


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
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        group = dict(param_group)
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
        group["params"] = ps
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._value[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        site = errors.user_site(2)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._value
                if g.shape != p._value.shape:
                    raise errors.ShapeError(
                        f"{type(self).__name__}: a gradient of shape {g.shape} for a parameter "
                        f"of shape {p._value.shape}"
                    )
                v = p._value
                if v.dtype.kind == "c":
                    # complex parameters are updated as pairs of reals (PyTorch's view_as_real)
                    if not v.flags.c_contiguous:
                        raise ValueError(f"{type(self).__name__}: a non-contiguous complex "
                                         f"parameter cannot be updated in place")
                    v = _as_real(v)
                    g = _as_real(np.ascontiguousarray(g))
                self._update(v, g, self.state.setdefault(p, {}), group)
                vc = p._vc
                vc[0] += 1
                vc[1] = site
                p._nv = vc[0]
        return loss

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
            p = params[int(i)]
            entry = {}
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.shape == p._value.shape:
                    v = v.astype(p._value.dtype, copy=True)
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
