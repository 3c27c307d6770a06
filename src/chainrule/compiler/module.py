"""``cr.compile(model)``: an nn.Module whose forward and backward run as emitted NumPy.

The module's parameters and buffers are inputs of the compiled code (passed on every call,
so an optimizer's in-place update is seen), its ``training`` flags part of the signature.
Dropout draws its random numbers as inputs (see ``function._draw``).  A buffer updated in
place (BatchNorm's running statistics) is updated by the emitted code.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..core.graph import STATE
from ..core.tensor import Tensor
from ..nn import module as _nnmodule
from ..nn.module import Module
from .function import EAGER, MISS, Compiled
from .tracer import CompileError, current

_ndarray = np.ndarray


def is_module(f: Any) -> bool:
    return isinstance(f, Module)


class CompiledModule:
    """Calls like the module; everything else (parameters(), train(), state_dict() ...) is
    the module's own, so the training loop is unchanged."""

    def __init__(self, module: Module, max_traces: int = 8) -> None:
        object.__setattr__(self, "module", module)
        name = type(module).__name__

        def run(state: dict, flags: tuple, *args: Any, **kwargs: Any) -> Any:
            slots = self._slots()
            saved = []
            for full, new in state.items():
                d, key = slots[full]
                saved.append((d, key, d[key]))
                d[key] = new
            try:
                out = module(*args, **kwargs)
                for full, new in state.items():
                    d, key = slots[full]
                    if d[key] is not new:
                        raise CompileError(
                            f"cr.compile({name}): the forward assigned a new value to the "
                            f"parameter or buffer {key!r}; a compiled module may update a "
                            f"buffer in place (buf[...] = value) but not rebind it.")
            finally:
                for d, key, old in saved:
                    d[key] = old
            return out

        run.__name__ = name
        comp = Compiled(run, static_argnums=(1,), max_traces=max_traces, name=name)
        # the parameters and buffers are inputs, not captured values; the rest of each
        # module (Dropout's p, BatchNorm's momentum, a user's attributes) is checked
        comp.capture_skip = lambda: [id(m.__dict__[s]) for m in module.modules()
                                     for s in ("_parameters", "_buffers")]
        object.__setattr__(self, "_compiled", comp)
        # where the state lives, as of nn's STRUCTURE version _ver: [(full name, dict, key)]
        # in the order of _slots (the order the signature flattens the state dict in), and
        # the modules (their flags)
        object.__setattr__(self, "_ver", None)
        object.__setattr__(self, "_where", [])
        object.__setattr__(self, "_mods", [])
        object.__setattr__(self, "_keys", {})  # cheap key -> the signature's full key

    def _slots(self) -> dict:
        """{'fc1.weight': (the dict it lives in, its key)} for every parameter and buffer."""
        out = {}
        for prefix, mod in self.module.named_modules():
            for store in ("_parameters", "_buffers"):
                d = mod.__dict__[store]
                for key, t in d.items():
                    if isinstance(t, Tensor):
                        out[(prefix + "." if prefix else "") + key] = (d, key)
        return out

    def _state(self) -> dict:
        return {full: d[key] for full, (d, key) in self._slots().items()}

    def _flags(self) -> tuple:
        return tuple(m.training for m in self.module.modules())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and current() is None:
            out = self._call_fast(args)
            if out is not MISS:
                return out
        return self._compiled(self._state(), self._flags(), *args, **kwargs)

    def _call_fast(self, args: tuple) -> Any:
        """The common call, every input an array or a Tensor: the state read from where it
        was found last (while no module's parameters, buffers or submodules changed), the
        signature's key from a cheap one; MISS when the general path must run."""
        ver = _nnmodule.STRUCTURE[0]
        if ver != self._ver:
            slots = self._slots()
            object.__setattr__(self, "_where",
                               [(full, *slots[full]) for full in slots])
            object.__setattr__(self, "_mods", list(self.module.modules()))
            self._keys.clear()
            object.__setattr__(self, "_ver", ver)
        dyn = [d[key] for _, d, key in self._where]
        dyn.extend(args)
        # each input's class, shape and dtype (and a Tensor's array class and whether it
        # requires grad): as fine as its part of the full key, and cheaper to build
        kinds = []
        grad = STATE.grad_enabled
        diff = False
        for x in dyn:
            if isinstance(x, Tensor):
                if x._tangents is not None:
                    return MISS  # (forward-mode tangents: eager)
                v = x._value
                node = x._node is not None
                diff = diff or node
                kinds.append((x.__class__, v.__class__, v.shape, v.dtype, node))
            elif isinstance(x, _ndarray):
                kinds.append((x.__class__, x.shape, x.dtype))
            elif isinstance(x, np.generic):
                kinds.append((x.__class__,))
            else:
                return MISS
        flags = tuple([m.training for m in self._mods])
        cheap = (flags, grad, tuple(kinds))
        comp = self._compiled
        key = self._keys.get(cheap)
        if key is None:
            # learn the full key once (the general path then runs this call)
            state = {full: d[k] for full, d, k in self._where}
            key, _, _, dyn2 = comp._split((state, flags, *args), {})
            if len(dyn2) == len(dyn) and all(a is b for a, b in zip(dyn, dyn2)):
                self._keys[cheap] = key
            return MISS
        if key in comp._eager:
            return MISS
        diff = grad and diff
        out = comp._run_cached(key, dyn, diff)
        if out is EAGER:  # (the compiled code raised: eagerly, see Compiled._run_cached)
            return comp.f({full: d[k] for full, d, k in self._where}, flags, *args)
        if out is MISS:  # no trace yet, or every trace's guards failed: trace (once) now
            state = {full: d[k] for full, d, k in self._where}
            cargs = (state, flags, *args)
            key, leaves, tree, dyn = comp._split(cargs, {})
            return comp._trace_and_run(key, cargs, {}, leaves, tree, dyn, diff)
        return out

    def source(self, *args: Any, **kwargs: Any) -> str:
        """The code run for a call with these inputs (forward, and backward when the
        parameters require grad)."""
        return self._compiled.source(self._state(), self._flags(), *args, **kwargs)

    def cache_info(self) -> dict:
        return self._compiled.cache_info()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.module, name, value)

    def __iter__(self) -> Iterator:
        return iter(self.module)

    def __repr__(self) -> str:
        return f"compiled({self.module!r})"
