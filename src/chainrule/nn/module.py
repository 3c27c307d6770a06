"""Module: parameters, buffers and submodules registered on assignment (PyTorch's model).

``state_dict()`` keys are PyTorch's (``0.weight``, ``fc.bias``, ``bn.running_mean`` ...),
so the arrays of a PyTorch ``state_dict()`` load unchanged.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Any, NamedTuple
from collections.abc import Callable, Iterator

import numpy as np

from ..core import arrays as _arrays
from ..core import xparray as _xparray
from ..core import primitive as _P
from ..core.errors import ChainruleError
from ..core.state import STATE as _STATE
from ..core.tensor import RemovableHandle, Tensor
from .parameter import Parameter


class StateDictError(ChainruleError, RuntimeError):
    """A state dict that does not fit the model (missing or unexpected keys, wrong shapes)."""


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def as_array(v: Any) -> np.ndarray:
    """A state-dict value as an ndarray: chainrule Tensors, PyTorch tensors, arrays, lists."""
    if isinstance(v, Tensor):
        return v._value
    if isinstance(v, np.ndarray):
        return v
    if hasattr(v, "detach") and hasattr(v, "cpu") and hasattr(v, "numpy"):  # a torch tensor
        return v.detach().cpu().numpy()
    if _arrays.backend(v) not in (None, "numpy"):  # Dask, CuPy, an Array API library: kept
        return _arrays.asarray(v)
    return np.asarray(v)


# bumped on every change to any module's parameters, buffers or submodules (which object
# sits under which name): cr.compile(model) caches where a model's state lives until it moves
STRUCTURE = [0]


class _Store(OrderedDict):
    """A module's ``_parameters`` / ``_buffers`` / ``_modules``: an OrderedDict whose writes
    bump ``STRUCTURE`` (reads cost what a dict's do)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        STRUCTURE[0] += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        STRUCTURE[0] += 1
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        STRUCTURE[0] += 1
        return super().pop(*args)

    def popitem(self, last: bool = True) -> Any:
        STRUCTURE[0] += 1
        return super().popitem(last)

    def clear(self) -> None:
        STRUCTURE[0] += 1
        super().clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        STRUCTURE[0] += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kw: Any) -> None:
        STRUCTURE[0] += 1
        super().update(*args, **kw)

    def move_to_end(self, key: Any, last: bool = True) -> None:
        STRUCTURE[0] += 1
        super().move_to_end(key, last)

    def __ior__(self, other: Any) -> Any:
        STRUCTURE[0] += 1
        return super().__ior__(other)


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


class Module:
    """Base class of every layer and model.  Subclasses call ``super().__init__()`` and
    define ``forward``; ``model(x)`` calls it."""

    training: bool
    _module_hooks: dict | None = None  # {"pre", "fwd", "bwd": hooks, "kw": ids}, once any

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", _Store())
        object.__setattr__(self, "_buffers", _Store())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", _Store())
        object.__setattr__(self, "training", True)

    # --- registration ------------------------------------------------------------
    def _dicts(self) -> tuple[dict, dict, dict]:
        d = self.__dict__
        try:
            return d["_parameters"], d["_buffers"], d["_modules"]
        except KeyError:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() is called "
                f"(call super().__init__() first in your __init__)"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            params, bufs, mods = self._dicts()
            self.__dict__.pop(name, None)
            bufs.pop(name, None)
            mods.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params, bufs, mods = self._dicts()
            self.__dict__.pop(name, None)
            params.pop(name, None)
            bufs.pop(name, None)
            mods[name] = value
        else:
            d = self.__dict__
            params = d.get("_parameters")
            if params is not None and name in params:
                if value is not None:
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as parameter {name!r} of "
                        f"{type(self).__name__} (nn.Parameter or None expected)"
                    )
                params[name] = None
            elif d.get("_modules") is not None and name in d["_modules"]:
                if value is not None:
                    raise TypeError(
                        f"cannot assign {type(value).__name__} as child module {name!r} "
                        f"(nn.Module or None expected)"
                    )
                d["_modules"][name] = None
            elif d.get("_buffers") is not None and name in d["_buffers"]:
                d["_buffers"][name] = _as_buffer(value)
            else:
                object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            s = self.__dict__.get(store)
            if s is not None and name in s:
                del s[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        extra = list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(super().__dir__()) | set(extra))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        _check_name(name, self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} "
                            f"(nn.Parameter or None expected)")
        self._dicts()[0][name] = param

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """A non-trainable state array (e.g. BatchNorm's running mean), saved in the state
        dict unless ``persistent=False``."""
        _check_name(name, self)
        self._dicts()[1][name] = _as_buffer(tensor)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        _check_name(name, self, allow_digits=True)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._dicts()[2][name] = module

    register_module = add_module

    # --- calling -----------------------------------------------------------------
    def forward(self, *args: Any, **kw: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args: Any, **kw: Any) -> Any:
        if self._module_hooks is None:  # (no hook was ever registered: no other cost)
            return self.forward(*args, **kw)
        return _call_hooked(self, args, kw)

    # --- hooks (PyTorch's) -----------------------------------------------------------
    def _hook_dict(self, kind: str) -> dict:
        d = self.__dict__.get("_module_hooks")
        if d is None:
            d = {"pre": OrderedDict(), "fwd": OrderedDict(), "bwd": OrderedDict(),
                 "kw": set()}
            object.__setattr__(self, "_module_hooks", d)
        return d[kind]

    def _add_hook(self, kind: str, hook: Any, prepend: bool, with_kwargs: bool,
                  who: str) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}.{who}: expected a callable, got "
                            f"{type(hook).__name__}")
        hooks = self._hook_dict(kind)
        kwset = self.__dict__["_module_hooks"]["kw"]
        handle = RemovableHandle(hooks, hook)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        if with_kwargs:
            kwset.add(handle.id)
        return handle

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``; a non-None result replaces the
        positional arguments (a tuple, or one value that becomes a 1-tuple).  With
        ``with_kwargs=True``: ``hook(module, args, kwargs)`` returning None or
        ``(args, kwargs)``.  Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook("pre", hook, prepend, with_kwargs, "register_forward_pre_hook")

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward`` (``args``: the positional
        arguments forward received); a non-None result replaces the output.  With
        ``with_kwargs=True``: ``hook(module, args, kwargs, output)``."""
        return self._add_hook("fwd", hook, prepend, with_kwargs, "register_forward_hook")

    def register_full_backward_hook(self, hook: Callable, *,
                                    prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to
        the module's positional Tensor inputs have been computed, as in PyTorch:
        ``grad_input`` has one entry per positional argument (None for one that is not a
        floating-point Tensor, zeros for one that does not require grad, and all None when
        none of them requires grad: the hook then runs once the output gradients are
        known), ``grad_output`` one per output (the
        output, or the elements of an output tuple; None for a non-Tensor or one that
        received no gradient).  A non-None result (a tuple as long as ``grad_input``)
        replaces ``grad_input``; a None entry there sends no gradient on.  Keyword
        arguments are not seen.  Set up only where the call is recorded (not under
        ``cr.no_grad()``)."""
        return self._add_hook("bwd", hook, prepend, False, "register_full_backward_hook")

    # --- traversal ---------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                       remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, v in getattr(m, store).items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield mprefix + ("." if mprefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of parameter elements."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- modes and gradients -----------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._make(np.zeros_like(p.grad._value), None, None)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast the floating-point parameters, their gradients and the floating-point buffers
        to a dtype, in place (the same Parameter objects, as in PyTorch): ``to(dtype)``,
        ``to(dtype=...)``, ``to(tensor)`` (its dtype), ``to('cpu', dtype)``.  A device other
        than the CPU raises; ``to('cpu')`` alone changes nothing."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"Module.to() got an unexpected keyword argument "
                            f"{next(iter(kwargs))!r}")
        lib = None
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu"):
                device = a
            elif hasattr(a, "asarray") and hasattr(a, "__name__"):  # an array library
                lib = a
            elif a is not None:
                dtype = a
        if device is not None:
            lib = _library_for(str(device), lib)
        if lib is not None:
            self._to_library(lib)
        if dtype is None:
            return self
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"Module.to: {dtype!r} is not a NumPy dtype (write np.float64, "
                            f"not torch.float64)") from None
        if dt.kind not in "fc":
            raise TypeError(f"Module.to only accepts floating point or complex dtypes, but got "
                            f"desired dtype={dt}")
        for t in list(self.parameters()) + list(self.buffers()):
            if t._value.dtype.kind in "fc" and t._value.dtype != dt:
                _recast(t, dt)
        return self

    def _to_library(self, lib: Any) -> None:
        from ..core import arrays
        for t in list(self.parameters()) + list(self.buffers()):
            if arrays.library_of(t._value) is lib:
                continue  # (already there: nothing moves, nothing is reset)
            needs = t.requires_grad
            if needs:
                ref = t._node.ref
                t.requires_grad_(False)
            t._value = arrays.to_library(t._value, lib)
            t._version = [0, None]
            t._node_version = 0
            if t._grad is not None:
                t._grad = Tensor._make(arrays.to_library(t._grad._value, lib), None, None)
            if needs:
                t.requires_grad_(True)
                if ref is not None:
                    t._node.ref = ref

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # --- state -------------------------------------------------------------------
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict[str, Any]:
        """Parameters and persistent buffers by dotted name, as ndarrays sharing memory with
        the model (like PyTorch's detached tensors); ``keep_vars=True`` gives the Tensors."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else _xparray.unwrap(p._value)
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else _xparray.unwrap(b._value)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def _state_targets(self) -> dict[str, Tensor]:
        return self.state_dict(keep_vars=True)

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers, cast to their dtypes (PyTorch's
        ``copy_``).  Everything is checked first: on any error nothing is changed.

        Raises StateDictError on a wrong shape, a value that cannot be cast, or (with
        ``strict=True``) a missing or unexpected key.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(
                f"load_state_dict expects a dict of arrays, got {type(state_dict).__name__}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        problems = key_problems(unexpected, missing) if strict else []
        staged: list[tuple[Tensor, np.ndarray]] = []
        for k, t in targets.items():
            if k not in state_dict:
                continue
            try:
                arr = as_array(state_dict[k])
            except Exception as exc:
                problems.append(f"could not read {k}: {exc}")
                continue
            if arr.shape != t._value.shape:
                problems.append(
                    f"size mismatch for {k}: copying a param with shape {tuple(arr.shape)} from "
                    f"checkpoint, the shape in current model is {tuple(t._value.shape)}."
                )
                continue
            why = cast_problem(arr.dtype, t._value.dtype)
            if why:
                problems.append(f"dtype mismatch for {k}: {why}.")
                continue
            staged.append((t, arr))
        if problems:
            raise StateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(problems)
            )
        for t, arr in staged:
            if arr is t._value:
                continue
            if _arrays.backend(arr) != _arrays.backend(t._value):
                # another library's array (a NumPy checkpoint into a model on CuPy or
                # array-api-strict, or back): loading is the asked-for move
                arr = _arrays.to_library(arr, _arrays.library_of(t._value))
            t._value[...] = arr
            vc = t._version
            vc[0] += 1
            t._node_version = vc[0]
        return IncompatibleKeys(missing, unexpected)

    # --- printing ----------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(m), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def key_problems(unexpected: list[str], missing: list[str]) -> list[str]:
    """PyTorch's wording for keys a state dict has too many of / lacks (strict loading)."""
    problems = []
    if unexpected:
        problems.append("Unexpected key(s) in state_dict: "
                        + ", ".join(f'"{k}"' for k in unexpected) + ".")
    if missing:
        problems.append("Missing key(s) in state_dict: "
                        + ", ".join(f'"{k}"' for k in missing) + ".")
    return problems


def cast_problem(src: np.dtype, dst: np.dtype) -> str | None:
    """Why an array of dtype ``src`` cannot be loaded into one of dtype ``dst`` (or None)."""
    if src.kind not in "biufc":
        return f"the checkpoint holds {src}, not numbers"
    if src.kind == "c" and dst.kind != "c":
        return f"the checkpoint holds complex values ({src}) but the model expects {dst}"
    if src.kind == "f" and dst.kind in "biu":
        return f"the checkpoint holds {src} values but the model expects {dst}"
    return None


def _check_name(name: Any, owner: Module, allow_digits: bool = False) -> None:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f'name "{name}" must be non-empty and may not contain "."')
    if name in owner.__dict__ and name not in ("_parameters",):
        raise KeyError(f'attribute "{name}" already exists')


def _as_buffer(v: Any) -> Tensor | None:
    if v is None:
        return None
    if isinstance(v, Tensor):
        if v.requires_grad:
            return v.detach()
        return v
    return Tensor(as_array(v))  # a copy


def _library_for(device: str, lib: Any) -> Any:
    """The array library of ``to(device)``: "cpu" is NumPy, "cuda" CuPy (which must be
    installed, with a GPU); any other device raises."""
    kind = device.split(":")[0]
    if kind == "cpu":
        return lib if lib is not None else np
    if kind == "cuda":
        try:
            import cupy
        except ImportError:
            raise ValueError("Module.to('cuda') runs the model on CuPy, which is not installed "
                             "(pip install cupy-cuda12x, on a machine with an NVIDIA GPU)") from None
        return cupy
    raise ValueError(f"Module.to: device {device!r} is not available (chainrule runs on "
                     f"NumPy, 'cpu', on CuPy, 'cuda', or on an array library given as "
                     f"model.to(array_api_strict))")


def _recast(t: Tensor, dt: np.dtype) -> None:
    needs = t.requires_grad
    if needs:
        ref = t._node.ref  # (a leaf's: it carries the tensor's hooks, kept)
        t.requires_grad_(False)
    t._value = t._value.astype(dt)
    t._version = [0, None]
    t._node_version = 0
    if t.grad is not None:
        t._grad = Tensor._make(t.grad._value.astype(dt), None, None)
    if needs:
        t.requires_grad_(True)
        if ref is not None:
            t._node.ref = ref


def _tracer() -> Any:
    """cr.compile's tracer module while it is tracing, else None (only asked of a module that
    has hooks).  Looked up, not imported: nn sits below the compiler."""
    tracer = sys.modules.get("chainrule.compiler.tracer")
    return tracer if tracer is not None and tracer.current() is not None else None


def _call_hooked(module: Module, args: tuple, kw: dict) -> Any:
    """``module(*args, **kw)`` with its hooks, in PyTorch's order: forward pre-hooks, the
    backward hook's input taps, forward, forward hooks, the backward hook's output taps."""
    hooks = module.__dict__["_module_hooks"]
    kwset = hooks["kw"]
    tracer = _tracer() if hooks["pre"] or hooks["fwd"] or hooks["bwd"] else None
    if tracer is not None:
        raise tracer.CompileError(
            f"cr.compile: {type(module).__name__} has forward or backward hooks; compiled code "
            f"runs the recorded operations only, so the hooks would run once, while tracing, "
            f"and never again. Remove them (handle.remove()) before compiling, or call the "
            f"module uncompiled.")
    for hid, h in list(hooks["pre"].items()):
        if hid in kwset:
            r = h(module, args, kw)
            if r is not None:
                if not (isinstance(r, tuple) and len(r) == 2):
                    raise RuntimeError(
                        f"forward pre-hook must return None or a tuple of (new_args, "
                        f"new_kwargs), but got {r!r}.")
                args, kw = r
                args = args if isinstance(args, tuple) else (args,)
        else:
            r = h(module, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
    bwd = hooks["bwd"]
    state = None
    if bwd and _STATE.grad_enabled:
        state = _BackwardState(module, bwd)
        args = state.tap_inputs(args)
    out = module.forward(*args, **kw)
    for hid, h in list(hooks["fwd"].items()):
        r = h(module, args, kw, out) if hid in kwset else h(module, args, out)
        if r is not None:
            out = r
    if state is not None:
        out = state.tap_outputs(out)
    return out


# --- the full backward hook ------------------------------------------------------------
# Each call of a module with a backward hook puts two "gates" into the graph.  The gradient
# w.r.t. every input arrives at a tap (an identity whose only parent is the gate), which
# stores it; the gate, recorded just before the taps and so processed right after all of
# them, calls the hook with them all and sends the (possibly replaced) gradients on to the
# inputs.  The outputs get the same (their gate stores grad_output for the input gate).
# The gate's value is a dummy 0-d array; it only orders the backward pass.

def _gate_fwd(*xs: Any, state: Any = None, side: int = 0) -> np.ndarray:
    return np.zeros(())


def _gate_vjp(i: int) -> Callable:
    def rule(g: Any, ans: Any, *args: Any, state: Any = None, side: int = 0) -> Any:
        return state.release(side, i)
    return rule


def _tap_fwd(gate: Any, x: Any, state: Any = None, side: int = 0, k: int = 0) -> Any:
    return x


def _tap_vjp_gate(g: Any, ans: Any, gate: Any, x: Any, state: Any = None, side: int = 0,
                  k: int = 0) -> Any:
    state.collect(side, k, g)
    return np.zeros(())


def _tap_jvp(dx: Any, ans: Any, gate: Any, x: Any, **kw: Any) -> Any:
    return dx


_GATE = _P.Primitive(_gate_fwd, "backward_hook", saves=(), saves_ans=False)
_TAP = _P.Primitive(_tap_fwd, "backward_hook_tap", saves=(), saves_ans=False)
_TAP.vjps[0] = _tap_vjp_gate
_TAP.jvps[1] = _tap_jvp


def _wants_tap(x: Any) -> bool:
    return isinstance(x, Tensor) and x._value.dtype.kind in "fc"


class _BackwardState:
    """One call's gradients: side 0 the inputs, side 1 the outputs."""

    def __init__(self, module: Module, hooks: dict) -> None:
        self.module = module
        self.hooks = hooks
        self.n_in = 0
        self.in_slots: list[int] = []   # tapped input k -> its position in args
        self.has_in_gate = False
        self.got: list[list] = [[], []]
        self.metas: list[list] = [[], []]
        self.out_of: list = [None, None]
        self.grad_output: tuple | None = None
        self.out_len = 1
        self.out_slots: list[int] = []
        self.zero_slots: list[tuple] = []

    def _gate(self, side: int, tensors: list[Tensor]) -> list[Tensor]:
        for i in range(len(tensors)):
            _GATE.vjps.setdefault(i, _gate_vjp(i))
        gate = _GATE(*tensors, state=self, side=side)
        self.got[side] = [None] * len(tensors)
        self.metas[side] = [(t.shape, t.dtype) for t in tensors]
        out = []
        for k, t in enumerate(tensors):
            d = Tensor._make(t._value, None, t._tangents)
            d._version = t._version  # the tap aliases t: same storage, same counter
            out.append(_TAP(gate, d, state=self, side=side, k=k))
        return out

    def tap_inputs(self, args: tuple) -> tuple:
        self.n_in = len(args)
        floats = [i for i, a in enumerate(args) if _wants_tap(a)]
        slots = [i for i in floats if args[i]._node is not None]
        if not slots:
            return args  # nothing to differentiate: the hook runs at the outputs' gate
        self.in_slots = slots
        # a floating-point input that does not require grad: zeros in grad_input (PyTorch)
        self.zero_slots = [(i, args[i].shape, args[i].dtype) for i in floats
                           if args[i]._node is None]
        self.has_in_gate = True
        tapped = self._gate(0, [args[i] for i in slots])
        new = list(args)
        for i, t in zip(slots, tapped):
            new[i] = t
        return tuple(new)

    def tap_outputs(self, out: Any) -> Any:
        items = list(out) if isinstance(out, tuple) else [out]
        slots = [i for i, o in enumerate(items) if _wants_tap(o) and o._node is not None]
        self.out_len = len(items)
        self.out_slots = slots
        if not slots:
            return out
        tapped = self._gate(1, [items[i] for i in slots])
        for i, t in zip(slots, tapped):
            items[i] = t
        return tuple(items) if isinstance(out, tuple) else items[0]

    def collect(self, side: int, k: int, g: Any) -> None:
        self.out_of[side] = None  # a new backward pass has reached this gate's taps
        self.got[side][k] = g

    def _wrap(self, g: Any) -> Any:
        if g is None or isinstance(g, Tensor):
            return g
        return Tensor._make(g, None, None)

    def _compute(self, side: int) -> list:
        got = self.got[side]
        self.got[side] = [None] * len(got)
        if side == 1:
            go = [None] * self.out_len
            for i, g in zip(self.out_slots, got):
                go[i] = self._wrap(g)
            self.grad_output = tuple(go)
            if not self.has_in_gate:
                self._call_hook(tuple([None] * self.n_in))
            return got
        gi = [None] * self.n_in
        for i, g in zip(self.in_slots, got):
            gi[i] = self._wrap(g)
        for i, shape, dtype in self.zero_slots:
            gi[i] = Tensor._make(np.zeros(shape, dtype), None, None)
        gi = self._call_hook(tuple(gi))
        return [gi[i] for i in self.in_slots]

    def _call_hook(self, grad_input: tuple) -> tuple:
        grad_output = self.grad_output
        if grad_output is None:
            grad_output = tuple([None] * self.out_len)
        for h in list(self.hooks.values()):
            r = h(self.module, grad_input, grad_output)
            if r is None:
                continue
            r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
            if len(r) != len(grad_input):
                raise RuntimeError(
                    f"Backward hook returned an invalid number of grad_input, got {len(r)}, "
                    f"but expected {len(grad_input)}")
            grad_input = r
        return grad_input

    def release(self, side: int, i: int) -> Any:
        res = self.out_of[side]
        if res is None:
            res = self.out_of[side] = self._compute(side)
        g = res[i]
        shape, dtype = self.metas[side][i]
        if g is None:
            return np.zeros(shape, dtype)
        if isinstance(g, Tensor) and g._node is None:
            g = g._value
        g = g if isinstance(g, Tensor) else np.asarray(g)
        if tuple(g.shape) != tuple(shape):
            raise RuntimeError(
                f"backward hook of {type(self.module).__name__}: a gradient of shape "
                f"{tuple(g.shape)} returned for an input of shape {tuple(shape)}")
        return g


class Sequential(Module):
    """Modules applied in order; keys ``0``, ``1``, ... (or the names of an OrderedDict)."""

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (dict, OrderedDict)):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, "
                                    f"not a Module")
                self.add_module(str(i), m)

    def forward(self, input: Any) -> Any:
        for m in self._modules.values():
            input = m(input)
        return input

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Any) -> Any:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        n = len(items)
        i = int(idx)
        if not -n <= i < n:
            raise IndexError(f"index {idx} is out of range for a Sequential of {n} modules")
        return items[i % n][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[int(idx)]
        self.add_module(key, module)

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (keys ``0``, ``1``, ...)."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        for m in modules or []:
            self.append(m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: Any) -> Any:
        vals = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(vals[idx])
        return vals[int(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(list(self._modules)[int(idx)], module)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Any) -> ModuleList:
        for m in modules:
            self.append(m)
        return self


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        for k, m in (modules or {}).items():
            self.add_module(k, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self) -> Any:
        return self._modules.keys()

    def items(self) -> Any:
        return self._modules.items()

    def values(self) -> Any:
        return self._modules.values()
