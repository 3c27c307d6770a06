"""``cr.compile(model)``: an nn.Module whose forward and backward run as emitted NumPy.

The module's parameters and buffers are inputs of the compiled code (passed on every call,
so an optimizer's in-place update is seen), its ``training`` flags part of the signature.
Dropout draws its random numbers as inputs (see ``function._draw``).  A buffer updated in
place (BatchNorm's running statistics) is updated by the emitted code.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..core.tensor import Tensor
from ..nn.module import Module
from .function import Compiled
from .tracer import CompileError


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
        object.__setattr__(self, "_compiled",
                           Compiled(run, static_argnums=(1,), max_traces=max_traces, name=name))

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
        return self._compiled(self._state(), self._flags(), *args, **kwargs)

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
