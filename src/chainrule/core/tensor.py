"""Tensor: an ndarray with a place in the graph: PyTorch's autograd, NumPy's names and dtypes."""

from __future__ import annotations

import dis
import functools
import itertools
import sys
import weakref
from typing import Any, Callable, Iterator

import numpy as np

from . import arrays, errors, hooks, xparray
from . import primitive as P
from .primitive import Primitive as _Primitive
from .primitive import apply as _apply
from .registry import UFUNCS as _UFUNCS
from .state import STATE




def _read_only(v: np.ndarray) -> np.ndarray:
    """A read-only view of ``v``: what leaves a Tensor as an ndarray cannot be written
    behind the version counters' back.  An Array API array (held in an XPArray) leaves as
    a copy in its own library: it has no read-only views."""
    if isinstance(v, xparray.XPArray):
        return v.xp.asarray(v.a, copy=True)
    if not v.flags.writeable:
        return v
    out = v.view()
    out.flags.writeable = False
    return out


class TensorSize(int):
    """``t.size``: the number of elements, as NumPy's ``a.size`` is, and callable as
    PyTorch's ``t.size()`` (the shape, a tuple) and ``t.size(d)`` (the length of axis d).

    It is an ``int`` in every other respect (comparisons, arithmetic, ``range``, indexing,
    JSON); arithmetic gives plain ints, and it pickles and copies as a plain int."""

    def __new__(cls, n: int, shape: tuple[int, ...]) -> TensorSize:
        obj = super().__new__(cls, n)
        obj._shape = shape
        return obj

    def __call__(self, dim: int | None = None) -> Any:
        shape = self._shape
        if dim is None:
            return shape
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(
                f"t.size(dim): dim must be an int, got {dim!r} (shape {shape})\n"
                f"  at {errors.user_line()}\n  Write t.size(0), or t.shape for the whole shape."
            )
        nd = len(shape)
        if not -nd <= dim < nd:
            raise IndexError(
                f"t.size({dim}): a tensor of shape {shape} has {nd} dimension"
                f"{'' if nd == 1 else 's'}, so dim must be in [{-nd}, {nd - 1}]"
                f"\n  at {errors.user_line()}"
                if nd else
                f"t.size({dim}): a 0-d tensor (shape ()) has no dimensions\n"
                f"  at {errors.user_line()}\n  t.size (without a call) is its number of "
                f"elements, 1."
            )
        return shape[dim]

    def __repr__(self) -> str:
        return int.__repr__(self)

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        return (int, (int(self),))

    def __copy__(self) -> int:
        return int(self)

    def __deepcopy__(self, memo: dict) -> int:
        return int(self)


class Tensor:
    """A NumPy array that records the operations applied to it.

    ``Tensor(data)`` (like ``cr.tensor(data)``) holds a copy of ``data``, as
    ``torch.tensor`` does: a later write into the caller's array cannot change a value the
    graph recorded.  ``requires_grad=True`` makes it a leaf whose ``.grad`` receives
    gradients from ``backward()``.  Every NumPy function and operator applied to it returns
    a Tensor (NEP 13 / NEP 18 dispatch onto chainrule's primitive table).

    Its state: ``_value``, the ndarray; ``_node``, the Node that made it (None: a
    constant); ``_tangents``, {forward-mode level: tangent} (None: none); ``_version``, the
    version counter ``[version, where last written]`` it shares with every view of the
    same memory; ``_node_version``, the version its ``_node`` describes (a write through a
    view since then makes the history stale); ``grad``.
    """

    __slots__ = ("_value", "_node", "_tangents", "_version", "_node_version", "_grad",
                 "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            if data._node is not None or data._tangents is not None:
                raise errors.LeftGraphError(
                    "cr.tensor(t) of a tensor that is part of a graph would cut its history; "
                    "use t.detach() (a constant) or t.clone() (keeps the history)"
                )
            data = data._value
        value = arrays.copy(data, dtype)
        if value.dtype == object:
            raise TypeError(
                "cr.tensor: could not make a numeric array from the data (got dtype object); "
                "to build from Tensors use cr.numpy.stack or cr.numpy.array"
            )
        if value.dtype.kind not in "biufc":
            # text, bytes, dates, structured records: nothing a Tensor computes with
            raise TypeError(
                f"cr.tensor: a Tensor holds numbers (bool, integer, float or complex); the "
                f"data gave dtype {value.dtype}. Convert it first (np.asarray(data, "
                f"dtype=float)), or keep it as a NumPy array."
            )
        self._value = value
        self._node = None
        self._tangents = None
        self._version = [0, None]
        self._node_version = 0
        self._grad = None
        if requires_grad:
            self.requires_grad_(True)

    def __reduce_ex__(self, protocol: Any) -> tuple:
        """Pickling (and ``copy.deepcopy``) a leaf: its values, ``requires_grad`` and
        ``.grad``; it comes back a fresh leaf.  A tensor with a history (or inside a
        forward-mode transform) is refused: the copy would be cut off its graph, and
        gradients that should reach the original would silently stop at the copy."""
        if self._tangents is not None or not self.is_leaf:
            what = ("carries forward-mode tangents (it is inside cr.jvp / cr.jacfwd)"
                    if self._tangents is not None else
                    f"has a history (made by {self.grad_fn})")
            raise errors.LeftGraphError(
                f"cannot pickle or deepcopy a Tensor of shape {self.shape} that {what}: "
                f"the copy would be cut off the graph.\n  at {errors.user_line()}\n  "
                f"Pickle t.detach() for its values (a constant), or the leaves it was "
                f"computed from.")
        grad = None if self._grad is None else self._grad._value
        return (_rebuild_tensor, (type(self), self._value, self.requires_grad, grad))

    @classmethod
    def _make(cls, value: Any, node: P.Node | None, fw: dict | None) -> Tensor:
        t = cls.__new__(cls)
        t._value = value if isinstance(value, arrays.TYPES) else np.asarray(value)
        t._node = node
        t._tangents = fw
        t._version = [0, None]
        t._node_version = 0
        t._grad = None
        return t

    # --- graph bookkeeping -------------------------------------------------------
    @property
    def grad(self) -> Tensor | None:
        """The gradient ``backward()`` accumulated here (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, g: Any) -> None:
        # as PyTorch: a Tensor (or ndarray) of this tensor's shape and dtype, or None; a
        # wrong one would be added to later gradients or stepped on by an optimizer
        if g is not None:
            if isinstance(g, np.ndarray):
                g = Tensor._make(np.array(g, copy=True), None, None)
            if not isinstance(g, Tensor):
                raise TypeError(f"t.grad = ...: expected a Tensor or None, got "
                                f"{type(g).__name__}\n  at {errors.user_line()}")
            if g.shape != self.shape or g.dtype != self.dtype:
                raise errors.ShapeError(
                    f"t.grad = ...: a gradient of shape {g.shape} and dtype {g.dtype} for a "
                    f"tensor of shape {self.shape} and dtype {self.dtype}; it must match both."
                    f"\n  at {errors.user_line()}"
                )
        self._grad = g

    @property
    def requires_grad(self) -> bool:
        return self._node is not None

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag:
            if self._node is None:
                k = self._value.dtype.kind
                if k not in "fc":
                    raise errors.GradientError(
                        f"only floating-point and complex tensors can require gradients; this one "
                        f"has dtype {self._value.dtype}. Convert it first: "
                        f"cr.tensor(data, dtype=np.float64, requires_grad=True)"
                    )
                self._node = P.leaf_node(self._value.shape, self._value.dtype, weakref.ref(self))
                self._node_version = self._version[0]
        else:
            if self._node is not None and self._node.prim is not None:
                raise errors.GradientError(
                    "requires_grad_(False) on a tensor computed from others; use .detach()"
                )
            self._node = None
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None or self._node.prim is None

    @property
    def grad_fn(self) -> str | None:
        n = self._node
        if n is not None and n.prim is _HOOK:
            return n.kw["fn"]
        return None if n is None or n.prim is None else n.prim.name

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward() (after
        its hooks, as in PyTorch)."""
        if self._node is None:
            raise errors.GradientError("retain_grad() on a tensor that does not require grad")
        node = self._node
        if node.prim is _HOOK and node.parents:
            node = node.parents[0]  # the gradient arrives there after the hooks
        if node.ref is None:
            node.ref = weakref.ref(self)

    def register_hook(self, hook: Callable[[Tensor], Any]) -> RemovableHandle:
        """Call ``hook(grad)`` with the gradient with respect to this tensor when a backward
        pass computes it; a non-None return value replaces that gradient (PyTorch's
        ``Tensor.register_hook``).  Returns a handle whose ``.remove()`` unregisters it.

        Hooks run in registration order, each on the previous one's result, once per
        backward pass, with the gradient summed over all uses of the tensor.  On a non-leaf
        tensor the replacement is what flows on to its inputs (and what ``retain_grad()``
        keeps); on a leaf it is what ``.grad`` accumulates.  Under ``cr.grad`` and the other
        transforms, hooks on intermediate tensors run and may replace the gradient; a hook
        on the transform's own input is not called (the transform returns the gradient it
        reaches there).  The hook must not modify its argument in place; return a new
        gradient instead, of the same shape and dtype (otherwise the backward pass raises).
        A tensor that does not require grad refuses hooks, as in PyTorch."""
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}"
                            f"\n  at {errors.user_line()}")
        node = self._node
        if node is None:
            raise errors.GradientError(
                f"register_hook: cannot register a hook on a tensor that does not require "
                f"grad (shape {self.shape}).\n  at {errors.user_line()}\n  Create it with "
                f"requires_grad=True, or register the hook on a tensor computed from one."
            )
        if node.prim is None:
            hooks = _leaf_hooks(node)
        else:
            hooks = _hook_node(node)
        return RemovableHandle(hooks, hook)

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (PyTorch semantics)."""
        if self._node is None:
            raise errors.GradientError(
                f"backward() on a tensor of shape {self.shape} that does not depend on any "
                f"tensor with requires_grad=True.\n  at {errors.user_line()}\n  Create the inputs "
                f"with cr.tensor(..., requires_grad=True) (and not inside cr.no_grad())."
            )
        if gradient is None:
            if self._value.size != 1:
                raise errors.GradientError(
                    f"backward() of an output of shape {self.shape} needs gradient=... (an array "
                    f"of that shape), because only a scalar has an implicit gradient of 1.\n"
                    f"  at {errors.user_line()}\n  Reduce it first (y.sum().backward()) or pass "
                    f"y.backward(gradient=np.ones({self.shape}))."
                )
            g = np.empty(self._value.shape, self._value.dtype)
            g.fill(1)  # np.ones, without its Python-level wrapper
            if isinstance(self._value, xparray.XPArray):
                g = arrays.on_backend_of(g, self._value)  # (an Array API array's library)
        else:
            g = gradient
            raw = g._value if isinstance(g, Tensor) else arrays.asarray(g)
            want = self._value.dtype
            if raw.dtype.kind not in "biufc" or (raw.dtype.kind == "c" and want.kind != "c"):
                # text or None would become NaN or a NumPy error; a complex gradient for a
                # real output would lose its imaginary part
                raise errors.GradientError(
                    f"backward(gradient=...): a gradient of dtype {raw.dtype} for an output of "
                    f"dtype {want}; pass numbers{' (real ones)' if want.kind != 'c' else ''} "
                    f"of the output's shape {self.shape}.\n  at {errors.user_line()}"
                )
            if isinstance(g, Tensor):
                g = g if create_graph else g._value
            else:
                g = arrays.asarray(raw, dtype=want)
            if tuple(g.shape) != self.shape:
                raise errors.ShapeError(
                    f"backward(gradient=...): gradient has shape {tuple(g.shape)} but the output "
                    f"has shape {self.shape}\n  at {errors.user_line()}"
                )
        retain = create_graph if retain_graph is None else retain_graph
        _graph.backward([self._node], [g], create_graph=create_graph, retain_graph=retain)

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares memory, like PyTorch)."""
        t = Tensor._make(self._value, None, None)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self._node = None
        self._tangents = None
        return self

    def zero_(self) -> Tensor:
        with no_grad():
            self._value[...] = 0
            self._bump()
        return self

    # --- values ------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The value as a read-only ndarray view (no copy).  Refuses a tensor that requires
        grad, like PyTorch: call .detach().numpy() to say you mean to leave the graph.

        Unlike PyTorch's, the view cannot be written: a write through it would change values
        that a recorded graph saved without any version counter seeing it (a silently wrong
        gradient).  Write through the tensor (``t[...] = v``, recorded) or take a copy
        (``t.numpy().copy()``)."""
        if self._node is not None or self._tangents is not None:
            raise errors.LeftGraphError(
                f"numpy() on a tensor of shape {self.shape} that requires grad would drop its "
                f"gradient.\n  at {errors.user_line()}\n  Use t.detach().numpy() if you mean to "
                f"leave the graph."
            )
        return _read_only(self._value)

    def item(self) -> Any:
        """The single value as a Python number: PyTorch's explicit way out of the graph.

        Inside a functional transform (``cr.grad`` & co.) a traced value's ``item()`` would
        become a constant in the middle of a derivative, so it raises LeftGraphError there,
        as ``float()`` does; ``t.detach().item()`` says a constant is meant."""
        if STATE.depth > 0:
            self._leaving("item() inside cr.grad/cr.jvp/...",
                          "Keep the value as a tensor, or write t.detach().item() if you mean "
                          "a constant.")
        if self._value.size != 1:
            raise ValueError(f"item(): only a tensor of one element has an item; shape {self.shape}")
        return self._value.item()

    def tolist(self) -> Any:
        """The values as nested Python lists (leaves the graph; raises inside a transform on
        a traced value, like ``item()``)."""
        if STATE.depth > 0:
            self._leaving("tolist() inside cr.grad/cr.jvp/...",
                          "Keep the value as a tensor, or write t.detach().tolist() if you mean "
                          "constants.")
        return self._value.tolist()

    @property
    def data(self) -> Tensor:
        return self.detach()

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> TensorSize:
        """NumPy's ``a.size`` (the number of elements, an ``int``), also callable as
        PyTorch's ``t.size()`` (the shape) and ``t.size(d)`` (one dimension)."""
        v = self._value
        return TensorSize(v.size, v.shape)

    def dim(self) -> int:
        """The number of dimensions (PyTorch's name for ``ndim``)."""
        return self._value.ndim

    def numel(self) -> int:
        """The number of elements (PyTorch's name for ``size``)."""
        return self._value.size

    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._value)

    def __iter__(self) -> Iterator[Tensor]:
        if self._value.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self._value)):
            yield self[i]

    def __repr__(self) -> str:
        body = np.array2string(self._value, separator=", ", prefix="tensor(")
        extra = ""
        n = self._node
        if n is not None:
            extra = ", requires_grad=True" if n.prim is None else f", grad_fn={self.grad_fn}"
        if self._value.dtype not in (np.float64, np.int64, np.bool_):
            extra = f", dtype={self._value.dtype}" + extra
        if isinstance(self._value, xparray.XPArray):
            extra = f", library={self._value.lib}" + extra
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    def _bump(self) -> None:
        vc = self._version
        vc[0] += 1
        vc[1] = errors.user_site(3)

    def _leaving(self, how: str, instead: str) -> None:
        if self._node is not None or self._tangents is not None:
            if _storing_into_array():
                raise errors.LeftGraphError(
                    f"writing a traced value of shape {self.shape} into a plain NumPy array "
                    f"(a[i] = t) would store a constant and make the gradient silently wrong.\n"
                    f"  at {errors.user_line()}\n  Preallocate a Tensor instead (out = "
                    f"cr.tensor(np.zeros(n)): item assignment into it is recorded), or collect "
                    f"the values in a list and build the array with cr.numpy.stack(...)."
                )
            raise errors.LeftGraphError(
                f"{how} on a traced value of shape {self.shape} would take it out of the graph "
                f"and make the gradient silently wrong.\n  at {errors.user_line()}\n  {instead}"
            )

    def __float__(self) -> float:
        self._leaving(
            "float() (or a math.* function)",
            "Use NumPy functions instead of math.* (np.exp, not math.exp), keep the value as a "
            "tensor, or call t.item() / t.detach() if you mean a constant.",
        )
        return float(self._value)

    def __int__(self) -> int:
        self._leaving("int()", "Keep the value as a tensor, or call int(t.item()) for a constant.")
        return int(self._value)

    def __complex__(self) -> complex:
        self._leaving("complex()", "Keep the value as a tensor, or use t.item().")
        return complex(self._value)

    def __index__(self) -> int:
        if self._value.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, not {self.dtype}")
        return int(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype).kind in "biu":
            # np.int64(t), np.asarray(t, dtype=bool): piecewise constant, so a constant
            # (as t.astype(int)); no derivative is lost
            return self._value.astype(dtype)
        self._leaving(
            "np.asarray / np.array (or a NumPy function without a chainrule rule)",
            "Use NumPy functions on the tensor directly (they dispatch to chainrule), "
            "cr.numpy.array([...]) to build an array from tensors, or t.detach() for a constant.",
        )
        v = self._value
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        # a view NumPy may hand on to the user (np.asarray(t)): read-only, as numpy() is
        return v.copy() if copy else _read_only(v)

    # --- NumPy dispatch (NEP 13 / NEP 18) ---------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # the common case, np.sin(t) / t_array * t: one dict lookup to the primitive
        if not kwargs and method == "__call__":
            prim = _UFUNCS.get(ufunc)
            if prim is not None and prim.__class__ is _Primitive:
                return _apply(prim, inputs, {})
        return hooks.ufunc_dispatch(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        return hooks.function_dispatch(func, args, kwargs)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Any:
        """The Python Array API standard's namespace for Tensors: ``chainrule.xp``
        (``api_version``: one of the standard's versions it implements, or None)."""
        return hooks.array_namespace(api_version)

    # In-place writes: NumPy semantics on the storage (views see them), a version bump
    # that saved values are checked against, and the tensor rebased onto the new node.
    def _inplace(self, prim: Any, other: Any, kw: dict | None = None) -> Tensor:
        kw = kw or {}
        st = STATE
        if isinstance(other, Tensor):
            ov, onode, ofw = other._value, other._node, other._tangents
        else:
            ov, onode, ofw = other, None, None
        if self._tangents is None and ofw is None and not (
                st.grad_enabled and (self._node is not None or onode is not None)):
            # nothing to record (an optimizer step under no_grad, or untracked values)
            f = prim.fwd
            if f.__class__ is np.ufunc and f.signature is None and not kw and (
                    self._value.__class__ is not np.ndarray
                    or ov.__class__ is np.ndarray or ov.__class__ not in arrays.CLASSES):
                # an elementwise ufunc writes straight into the storage, as NumPy's own
                # `x -= y` does (same casting rule as _write); on an error, the slow path
                # below explains it
                try:
                    f(self._value, ov, out=self._value)
                except (TypeError, ValueError):
                    f = None
            else:
                f = None
            if f is None:
                self._write(prim.fwd(self._value, ov, **kw), prim.name)
            vc = self._version
            vc[0] += 1
            vc[1] = errors.user_site(2)
            node = self._node
            if node is not None and node.prim is None:
                self._node_version = vc[0]  # a leaf's history is itself: still valid
            return self
        if self._node is not None and self._node.prim is None and st.grad_enabled:
            raise errors.GradientError(
                f"{prim.name} in place on a leaf tensor of shape {self.shape} that requires grad: "
                f"its gradient would be lost.\n  at {errors.user_line()}\n  Write x = x {_sym(prim)} y "
                f"instead, or do the update inside `with cr.no_grad():` (as an optimizer step does)."
            )
        r = prim(self, other, **kw)
        node = r._node
        if node is not None and node.args is not None:
            # the new node may have saved our old storage: keep a snapshot of it
            node.args = tuple(a.copy() if a is self._value else a for a in node.args)
        self._write(r._value, prim.name)
        self._bump()
        self._node = node
        self._tangents = r._tangents
        self._node_version = self._version[0]
        if node is not None and node.saved_versions:
            flat, keep = node.saved_versions, ()
            for j in range(0, len(flat), 2):
                if flat[j] is not self._version and flat[j] is not r._version:
                    keep += flat[j:j + 2]
            node.saved_versions = keep
        return self

    def _write(self, res: Any, name: str) -> None:
        res = arrays.asarray(res)
        if res.shape != self._value.shape:
            raise errors.ShapeError(
                f"{name} in place: the result has shape {res.shape} but the tensor has shape "
                f"{self.shape}\n  at {errors.user_line()}"
            )
        if not np.can_cast(res.dtype, self._value.dtype, casting="same_kind"):
            raise TypeError(
                f"{name} in place: cannot store a {res.dtype} result in a {self.dtype} tensor\n"
                f"  at {errors.user_line()}"
            )
        self._value[...] = res


_STORE_SUBSCR = dis.opmap["STORE_SUBSCR"]


def _storing_into_array() -> bool:
    """Is NumPy converting a Tensor because the user's line is storing into an ndarray
    (``a[i] = t``)?  The innermost frame outside chainrule is then at a STORE_SUBSCR."""
    f = sys._getframe(1)
    while f is not None and errors._is_library(f.f_code.co_filename):
        f = f.f_back
    if f is None or f.f_lasti < 0:
        return False
    code = f.f_code.co_code
    return f.f_lasti < len(code) and code[f.f_lasti] == _STORE_SUBSCR


def _sym(prim: Any) -> str:
    return {"add": "+", "subtract": "-", "multiply": "*", "true_divide": "/", "divide": "/",
            "power": "**", "matmul": "@", "floor_divide": "//"}.get(prim.name, prim.name)


P.Tensor = Tensor

from . import graph as _graph


# --- tensor hooks ------------------------------------------------------------------------
# No cost anywhere while no hook is registered: the backward pass (core/graph.py) knows
# nothing of hooks.  A hook on a non-leaf tensor turns its node into an identity node
# (primitive _HOOK, whose VJP runs the hooks) in front of a copy of the original node, so
# every consumer, recorded before or after, sends its gradient through the hooks; the copy
# sits half a step below in creation order (``seq``), between the node and its inputs.  A
# hook on a leaf wraps the node's ``ref`` (what the backward pass delivers ``.grad``
# through), so the hooks see the summed gradient before it is accumulated.


class RemovableHandle:
    """What ``register_hook`` (and the Module hook registrations) return: ``remove()``
    unregisters the hook (a second call does nothing); usable as a context manager that
    removes it on exit, as PyTorch's ``torch.utils.hooks.RemovableHandle``."""

    _ids = itertools.count()

    def __init__(self, hooks: dict, hook: Any = None, *extra: dict) -> None:
        self.id = next(RemovableHandle._ids)
        self._dicts = (hooks, *extra)
        if hook is not None:
            hooks[self.id] = hook

    def remove(self) -> None:
        for d in self._dicts:
            d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _checked(r: Any, like: Any, who: str) -> Any:
    """A hook's replacement gradient: a Tensor or array of the gradient's shape and dtype."""
    if not isinstance(r, Tensor):
        if not hasattr(r, "shape") or not hasattr(r, "dtype"):
            raise TypeError(
                f"{who}: a tensor hook returned {type(r).__name__}; it must return None (keep "
                f"the gradient) or a Tensor of the gradient's shape {tuple(like.shape)} and "
                f"dtype {like.dtype}"
            )
        r = Tensor._make(arrays.asarray(r), None, None)
    if tuple(r.shape) != tuple(like.shape):
        raise errors.ShapeError(
            f"{who}: a tensor hook changed the shape of the gradient from "
            f"{tuple(like.shape)} to {tuple(r.shape)}; it must return one of the same shape"
        )
    if r.dtype != like.dtype:
        raise errors.GradientError(
            f"{who}: a tensor hook changed the dtype of the gradient from {like.dtype} to "
            f"{r.dtype}; cast it back (g.astype(...)) before returning it"
        )
    return r


def _run_hooks(hooks: dict, g: Tensor, who: str) -> Tensor:
    for h in list(hooks.values()):
        r = h(g)
        if r is not None:
            g = _checked(r, g, who)
    return g


def _hook_fwd(x: Any, hooks: Any = None, fn: Any = None) -> Any:
    return x


def _hook_vjp(g: Any, ans: Any, x: Any, hooks: Any = None, fn: Any = None) -> Any:
    r = _run_hooks(hooks, g if isinstance(g, Tensor) else Tensor._make(g, None, None),
                   "backward")
    if r._node is not None or r._tangents is not None:
        return r  # create_graph: the hooks' work is recorded (and differentiated again)
    return r._value


def _hook_jvp(dx: Any, ans: Any, x: Any, hooks: Any = None, fn: Any = None) -> Any:
    return dx


_HOOK = _Primitive(_hook_fwd, "tensor_hook", saves=(), saves_ans=False)
_HOOK.vjps[0] = _hook_vjp
_HOOK.jvps[0] = _hook_jvp


def _hook_node(node: P.Node) -> dict:
    """The hooks of non-leaf ``node``: made a _HOOK node on the first registration."""
    if node.prim is _HOOK:
        return node.kw["hooks"]
    name = node.prim.name
    inner = P.new_node(node.prim, node.parents, node.args, node.kw, node.ans, node.shape,
                       node.dtype, node.saved_versions, node.ref)
    inner.tangents = node.tangents
    inner.site = node.site
    inner.seq = node.seq - 0.5  # after node, before all of its inputs
    hooks: dict = {}
    meta = P.Meta(np.empty(0, node.dtype))
    meta.shape = node.shape
    node.prim = _HOOK
    node.parents = (inner,)
    node.args = (meta,)
    node.kw = {"hooks": hooks, "fn": name}  # fn: grad_fn's name (parents go when freed)
    node.ans = meta
    node.saved_versions = None
    node.tangents = None
    node.ref = None
    return hooks


class _HookedRef:
    """A leaf node's ``ref`` once it has hooks: called by the backward pass, it gives a
    stand-in for the tensor whose ``._grad`` reads None and, when written, runs the hooks
    and accumulates into the tensor itself."""

    __slots__ = ("ref", "hooks")

    def __init__(self, ref: Any, hooks: dict) -> None:
        self.ref = ref
        self.hooks = hooks

    def __call__(self) -> Any:
        t = self.ref() if self.ref is not None else None
        return None if t is None else _HookedLeaf(t, self.hooks)


class _HookedLeaf:
    __slots__ = ("_t", "_hooks")

    def __init__(self, t: Tensor, hooks: dict) -> None:
        self._t = t
        self._hooks = hooks

    def __getattr__(self, name: str) -> Any:  # (viz reads _value and grad)
        return getattr(self._t, name)

    @property
    def _grad(self) -> None:
        return None  # the backward pass then hands over the new gradient alone

    @_grad.setter
    def _grad(self, g: Tensor) -> None:
        t = self._t
        h = _run_hooks(self._hooks, g, "backward")
        if h is not g and h._node is None:
            h = Tensor._make(arrays.copy(h._value), None, None)  # not the hook's own array
        prev = t._grad
        if prev is None:
            t._grad = h
        elif h._node is not None or prev._node is not None:
            t._grad = prev + h
        else:
            prev._value = prev._value + h._value


def _leaf_hooks(node: P.Node) -> dict:
    ref = node.ref
    if isinstance(ref, _HookedRef):
        return ref.hooks
    hooks: dict = {}
    node.ref = _HookedRef(ref, hooks)
    return hooks


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (keeps NumPy's dtype; float64 for Python floats)."""
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        raise TypeError(
            "cr.tensor() of a list that holds Tensors would cut their gradients; "
            "use cr.numpy.stack(...) or cr.numpy.array([...]) instead"
        )
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _flat(x: Any) -> Iterator[Any]:
    stack = [x]
    while stack:
        y = stack.pop()
        if isinstance(y, (list, tuple)):
            stack.extend(y)
        else:
            yield y


class _GradMode:
    """Context manager and decorator that sets grad recording for the current thread.

    Usable as ``with cr.no_grad():``, ``@cr.no_grad()`` and ``@cr.no_grad``.
    """

    enabled = True

    def __init__(self, fn: Callable | None = None) -> None:
        self._saved: list[bool] = []
        self._fn = fn
        if fn is not None:
            functools.update_wrapper(self, fn)

    def __enter__(self) -> None:
        self._saved.append(STATE.grad_enabled)
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._saved.pop()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._fn is not None:  # used as @no_grad (no parentheses)
            with type(self)():
                return self._fn(*args, **kwargs)
        fn = args[0]
        cls = type(self)

        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with cls():
                return fn(*a, **k)

        return wrapper


class no_grad(_GradMode):
    """``with cr.no_grad():`` or ``@cr.no_grad()``: record nothing (inference, optimizer steps)."""

    enabled = False


class enable_grad(_GradMode):
    """``with cr.enable_grad():`` record again inside a no_grad block."""

    enabled = True


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


class set_grad_enabled:
    """``cr.set_grad_enabled(False)`` sets the mode now; as a context it restores it on exit."""

    def __init__(self, mode: bool) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._prev


def _rebuild_tensor(cls: type, value: Any, requires_grad: bool, grad: Any) -> Tensor:
    """A pickled leaf Tensor, rebuilt (``Tensor.__reduce_ex__``)."""
    t = cls.__new__(cls)
    Tensor.__init__(t, value, requires_grad=requires_grad)
    if grad is not None:
        t._grad = Tensor(grad)
    return t
