"""Tensor operators and methods, bound once the primitive table exists.

NumPy names keep NumPy's meaning; PyTorch-only names work as in PyTorch; a PyTorch spelling
that NumPy would read differently raises :class:`ConventionError` naming both spellings.
Every difference is listed in docs/nn.md#coming-from-pytorch.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ..core import arrays as _arrays

from ..core import errors
from ..core.primitive import apply
from ..core.registry import NAMES
from ..core.state import STATE
from ..core.tensor import Tensor
from . import elementwise as E
from . import index as I
from . import products as L
from . import shape as S
from .util import METHODS


def _v(x: Any) -> Any:
    return x._value if isinstance(x, Tensor) else x


def _binary(prim: Any) -> tuple:
    # straight to the engine: no generic dispatch between an operator and its primitive
    def op(self: Tensor, other: Any) -> Any:
        return apply(prim, (self, other), {})

    def rop(self: Tensor, other: Any) -> Any:
        return apply(prim, (other, self), {})

    def iop(self: Tensor, other: Any) -> Tensor:
        return self._inplace(prim, other)

    return op, rop, iop


for _name, _prim in [("add", E.add), ("sub", E.subtract), ("mul", E.multiply),
                     ("truediv", E.true_divide), ("pow", E.power), ("matmul", L.matmul),
                     ("mod", E.remainder)]:
    _op, _rop, _iop = _binary(_prim)
    setattr(Tensor, f"__{_name}__", _op)
    setattr(Tensor, f"__r{_name}__", _rop)
    setattr(Tensor, f"__i{_name}__", _iop)

Tensor.__neg__ = lambda self: apply(E.negative, (self,), {})
Tensor.__pos__ = lambda self: E.positive(self)
Tensor.__abs__ = lambda self: E.absolute(self)
Tensor.__floordiv__ = lambda self, o: np.floor_divide(self._value, _v(o))
Tensor.__rfloordiv__ = lambda self, o: np.floor_divide(_v(o), self._value)
Tensor.__lt__ = lambda self, o: self._value < _v(o)
Tensor.__le__ = lambda self, o: self._value <= _v(o)
Tensor.__gt__ = lambda self, o: self._value > _v(o)
Tensor.__ge__ = lambda self, o: self._value >= _v(o)
Tensor.__eq__ = lambda self, o: self._value == _v(o)  # type: ignore[assignment]
Tensor.__ne__ = lambda self, o: self._value != _v(o)  # type: ignore[assignment]
Tensor.__invert__ = lambda self: ~self._value
Tensor.__and__ = lambda self, o: self._value & _v(o)
Tensor.__or__ = lambda self, o: self._value | _v(o)
Tensor.__xor__ = lambda self, o: self._value ^ _v(o)


def _getitem(self: Tensor, idx: Any) -> Tensor:
    return I.getitem(self, idx=I.raw_index(idx))


Tensor.__getitem__ = _getitem


def _same_view(base: np.ndarray, idx: Any, v: np.ndarray) -> bool:
    """Is ``v`` exactly the storage ``base[idx]`` names (a basic-index view)?"""
    try:
        w = base[idx]
    except (IndexError, TypeError, ValueError):
        return False
    return _arrays.same_view(w, v)


def _setitem(self: Tensor, idx: Any, v: Any) -> None:
    """``t[idx] = v``: NumPy's write on the storage (views see it), a version bump, and,
    when something is traced, the tensor rebased onto a recorded ``setitem``."""
    idx = I.raw_index(idx)
    tracked = (self._node is not None or self._tangents is not None) or (
        isinstance(v, Tensor) and (v._node is not None or v._tangents is not None)
    )
    if not tracked or not (STATE.grad_enabled or self._tangents is not None or (
        isinstance(v, Tensor) and v._tangents is not None
    )):
        self._value[idx] = v._value if isinstance(v, Tensor) else v
        self._bump()
        if self._node is not None and self._node.prim is None:
            self._node_version = self._version[0]
        return
    if self._node is not None and self._node.prim is None and STATE.grad_enabled:
        raise errors.GradientError(
            f"item assignment on a leaf tensor of shape {self.shape} that requires grad: its "
            f"gradient would be lost.\n  at {errors.user_line()}\n  Assign into a copy "
            f"(y = x.clone(); y[i] = v) or build the result with np.where / concatenation."
        )
    vc = self._version
    if (vc[0] == self._node_version + 1 and isinstance(v, Tensor) and v._version is vc
            and v._node_version == vc[0] and _same_view(self._value, idx, v._value)):
        # `t[idx] += u`: Python wrote through the view t[idx] (one tracked write, on v
        # itself) and now stores it back at idx.  Only the elements being assigned
        # changed, and setitem's rule needs no values of t, so t's history still holds.
        self._node_version = vc[0]
    r = I.setitem(self, v, idx=idx)
    self._value[idx] = r._value[idx]
    self._bump()
    self._node = r._node
    self._tangents = r._tangents
    self._node_version = self._version[0]


Tensor.__setitem__ = _setitem


def _clone(self: Tensor) -> Tensor:
    """A copy that keeps the history (PyTorch's ``clone``): writes into it leave ``self``
    alone."""
    return S.copy(self)


Tensor.clone = _clone
Tensor.T = property(lambda self: S.transpose_prim(self, axes=None))
Tensor.mT = property(lambda self: S.swapaxes(self, -1, -2))
Tensor.real = property(lambda self: E.real(self))
Tensor.imag = property(lambda self: E.imag(self))


# ---------------------------------------------------------------------------------
# Methods.  The convention (written down, row by row, in docs/nn.md#coming-from-pytorch):
#
# * a NumPy name keeps NumPy's meaning: NumPy code runs unchanged (t.repeat, t.flatten,
#   t.sort, t.transpose, t.max(1), t.std() all do what they do on an ndarray);
# * a PyTorch-only name (no such ndarray method or NumPy function) works as in PyTorch;
# * a PyTorch spelling on a NumPy name either means the same in both libraries (dim= for
#   axis= on sum, keepdim= for keepdims=), or selects PyTorch's form where NumPy could not
#   have meant anything (a keyword NumPy lacks: t.max(dim=1) -> (values, indices)), or, where
#   the two readings give different results, raises ConventionError naming both spellings.


class ConventionError(errors.ChainruleError, TypeError):
    """A call whose PyTorch reading and NumPy reading differ (``t.transpose(0, 1)`` on a
    matrix, ``t.std(dim=0)``), or a PyTorch spelling chainrule does not take (``t.to(
    torch.float32)``); the message names the spelling to write for each meaning."""


class ValuesIndices(NamedTuple):
    """PyTorch's ``(values, indices)`` result of ``t.max(dim=d)``, ``t.min(dim=d)`` and
    ``t.sort(dim=d)``: ``values`` is a Tensor (its gradient goes to the elements at
    ``indices``, as in PyTorch); ``indices`` is an int64 ndarray, as chainrule's ``argmax``."""

    values: Any
    indices: np.ndarray


def _fmt_call(name: str, args: tuple, kw: dict, shape: tuple | None = None) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kw.items()]
    on = "" if shape is None else f" on a tensor of shape {shape}"
    return f"t.{name}({', '.join(parts)}){on}"


def _refuse(call: str, why: str, instead: str) -> ConventionError:
    return ConventionError(f"{call}: {why}\n  at {errors.user_line()}\n  {instead}")


def _is_int(a: Any) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _norm_dim(call: str, shape: tuple, dim: Any) -> int:
    """A PyTorch dim (one int, negative allowed) as an axis of ``shape`` (0 for a 0-d one)."""
    if not _is_int(dim):
        raise TypeError(f"{call}: dim must be one int, got {dim!r} (shape {shape})\n"
                        f"  at {errors.user_line()}")
    nd = len(shape)
    n = max(nd, 1)  # a 0-d tensor takes dim 0 or -1, as in PyTorch
    if not -n <= dim < n:
        raise IndexError(f"{call}: a tensor of shape {shape} has no dimension {dim} (dim must be "
                         f"in [{-n}, {n - 1}])\n  at {errors.user_line()}")
    return int(dim) % n


def _numpy_kw(name: str, kw: dict, shape: tuple | None = None) -> dict:
    """PyTorch's dim= / keepdim= as NumPy's axis= / keepdims= (where both mean the same)."""
    if "dim" in kw:
        if "axis" in kw:
            raise _refuse(_fmt_call(name, (), kw, shape), "dim= (PyTorch) and axis= (NumPy) name the "
                          "same thing", "Pass one of them.")
        d = kw.pop("dim")
        if isinstance(d, (tuple, list)) and len(d) == 0:
            raise _refuse(_fmt_call(name, (), {"dim": d}, shape), "PyTorch reads an empty dim as every "
                          "dimension, NumPy's axis=() as none", "Write dim=None (or leave it "
                          "out) to reduce over every dimension.")
        kw["axis"] = tuple(d) if isinstance(d, list) else d
    if "keepdim" in kw:
        if "keepdims" in kw:
            raise _refuse(_fmt_call(name, (), kw, shape), "keepdim= (PyTorch) and keepdims= (NumPy) "
                          "name the same thing", "Pass one of them.")
        kw["keepdims"] = kw.pop("keepdim")
    return kw


def _check_positional(name: str, args: tuple, second: str, shape: tuple | None = None) -> None:
    """A bool where NumPy takes the axis, or in NumPy's second slot (dtype / out), is
    PyTorch's positional keepdim (or unbiased): NumPy would fail with a puzzling message."""
    moment = name in ("std", "var")
    if isinstance(args[0], (bool, np.bool_)):
        if moment:
            raise _refuse(_fmt_call(name, args, {}, shape), "a bool where NumPy takes the axis "
                          "(PyTorch's old positional unbiased)",
                          f"Write t.{name}(ddof=1) for the unbiased estimate (PyTorch's "
                          f"unbiased=True) or t.{name}() (ddof=0, NumPy's default).")
        raise _refuse(_fmt_call(name, args, {}, shape), "a bool where NumPy takes the axis",
                      f"Write t.{name}(axis=..., keepdims=True) (or dim=..., keepdim=True).")
    if len(args) > 1 and isinstance(args[1], (bool, np.bool_)):
        extra = (f"t.{name}(axis={args[0]!r}, ddof=1) for the unbiased estimate (PyTorch's "
                 f"unbiased=True), " if moment else "")
        raise _refuse(_fmt_call(name, args, {}, shape),
                      f"NumPy's second argument is {second}; PyTorch's is "
                      f"{'unbiased' if moment else 'keepdim'}",
                      f"Write {extra}t.{name}(axis={args[0]!r}, keepdims=True) to keep the "
                      f"reduced axis.")


def _method(name: str) -> Callable[..., Any]:
    """A NumPy function as a method: ``t.name(*a, **k)`` is ``np.name(t, *a, **k)``."""
    def m(self: Tensor, *args: Any, **kw: Any) -> Any:
        return NAMES[name](self, *args, **kw)

    m.__name__ = name
    return m


def _reduction(name: str, second: str) -> Callable[..., Any]:
    """A reduction or scan whose PyTorch form means the same: dim= -> axis=, keepdim= ->
    keepdims=; ``second`` is NumPy's second positional parameter (for the error message)."""
    def m(self: Tensor, *args: Any, **kw: Any) -> Any:
        if args:
            _check_positional(name, args, second, self.shape)
        if kw:
            kw = _numpy_kw(name, kw, self.shape)
        return NAMES[name](self, *args, **kw)

    m.__name__ = name
    m.__doc__ = (f"NumPy's ``{name}``; PyTorch's ``dim=`` / ``keepdim=`` are accepted for "
                 f"``axis=`` / ``keepdims=`` (the same result).")
    return m


def _along(call: str, self: Tensor, dim: Any, keepdim: bool,
           index: Callable[[np.ndarray, int], np.ndarray]) -> ValuesIndices:
    """values = t gathered at ``index(value, axis)`` (keepdims-shaped int array) along dim."""
    shape = self.shape
    d = _norm_dim(call, shape, dim)
    x = S.reshape(self, (1,)) if not shape else self
    if x.shape[d] == 0:
        raise errors.ShapeError(f"{call}: dimension {dim} of a tensor of shape {shape} is "
                                f"empty, so there is nothing to return\n  at {errors.user_line()}")
    idx = index(x._value, d)
    values = NAMES["take_along_axis"](x, idx, axis=d)
    if not shape:
        return ValuesIndices(S.reshape(values, ()), idx.reshape(()))
    if not keepdim and idx.shape[d] == 1:
        values, idx = S.squeeze(values, d), np.squeeze(idx, d)
    return ValuesIndices(values, idx)


def _extremum(name: str) -> Callable[..., Any]:
    arg = np.argmax if name == "max" else np.argmin

    def m(self: Tensor, *args: Any, **kw: Any) -> Any:
        if args and (isinstance(args[0], float) or (
                isinstance(args[0], (Tensor, *_arrays.TYPES))
                and not (args[0].ndim == 0 and args[0].dtype.kind in "iu"))):
            raise _refuse(f"t.{name}(other) on a tensor of shape {self.shape}",
                          f"PyTorch's elementwise {name}imum of two tensors; NumPy's {name} "
                          f"takes an axis there",
                          f"Write np.{name}imum(t, other).")
        if kw and ("dim" in kw or "keepdim" in kw):
            call = _fmt_call(name, args, kw, self.shape)
            bad = sorted(set(kw) - {"dim", "keepdim"})
            if bad:
                raise _refuse(call, f"dim=/keepdim= select PyTorch's {name}(dim), which "
                              f"returns (values, indices) and takes no "
                              f"{', '.join(k + '=' for k in bad)}",
                              f"Write t.{name}(axis=..., keepdims=...) for NumPy's {name} "
                              f"(values only), or t.{name}(dim=d, keepdim=...) alone.")
            params = _torch_params(call, name, ("dim", "keepdim"), args, kw)
            if "dim" not in params:
                raise _refuse(call, f"keepdim= without dim= is neither PyTorch's "
                              f"{name}(dim, keepdim) nor NumPy's {name}",
                              f"Write t.{name}(dim=d, keepdim=True) for PyTorch's (values, "
                              f"indices), or t.{name}(axis=None, keepdims=True) for NumPy's.")
            if not _is_int(params["dim"]):
                raise _refuse(call, f"PyTorch's {name}(dim) takes one int dim",
                              f"For several axes write t.a{name}(dim=...) or "
                              f"t.{name}(axis=...) (values only).")
            return _along(call, self, params["dim"], bool(params.get("keepdim", False)),
                          lambda v, d: arg(v, axis=d, keepdims=True))
        if args:
            _check_positional(name, args, "out", self.shape)
        return NAMES[name](self, *args, **kw)

    m.__name__ = name
    m.__doc__ = (f"NumPy's ``{name}`` (values only; ``t.{name}(1)`` is NumPy's axis 1).  "
                 f"With ``dim=`` (or ``keepdim=``) it is PyTorch's ``{name}(dim)``: a "
                 f":class:`ValuesIndices` (values, indices), the gradient going to the "
                 f"elements at the indices.")
    return m


def _moment(name: str) -> Callable[..., Any]:
    def m(self: Tensor, *args: Any, **kw: Any) -> Any:
        if args:
            _check_positional(name, args, "dtype", self.shape)
        if kw:
            if "unbiased" in kw:
                if "ddof" in kw or "correction" in kw:
                    raise _refuse(_fmt_call(name, args, kw, self.shape), "unbiased= (PyTorch) with "
                                  "ddof=/correction=", "Pass one of them.")
                kw["ddof"] = 1 if kw.pop("unbiased") else 0
            elif ("dim" in kw or "keepdim" in kw) and "ddof" not in kw and "correction" not in kw:
                d = kw.get("dim", args[0] if args else "d")
                raise _refuse(
                    _fmt_call(name, args, kw, self.shape),
                    f"PyTorch's {name} divides by N - 1 by default (correction=1), NumPy's "
                    f"by N (ddof=0), so the spelling does not say which is meant",
                    f"Write t.{name}(dim={d}, correction=1) (or axis={d}, ddof=1) for "
                    f"PyTorch's default, or t.{name}(axis={d}) for NumPy's ddof=0.")
            kw = _numpy_kw(name, kw, self.shape)
        return NAMES[name](self, *args, **kw)

    m.__name__ = name
    m.__doc__ = (f"NumPy's ``{name}`` (``ddof=0`` by default, where PyTorch's ``{name}()`` "
                 f"uses correction=1).  PyTorch's ``unbiased=`` is accepted; ``dim=`` needs "
                 f"an explicit ``correction=`` / ``unbiased=`` / ``ddof=``.")
    return m


def _sort_index(v: np.ndarray, d: int, descending: bool) -> np.ndarray:
    """Stable sort indices; descending keeps equal elements in their order and puts NaN
    first, as torch.sort(descending=True, stable=True) does."""
    if not descending:
        return np.argsort(v, axis=d, kind="stable")
    j = np.argsort(np.flip(v, axis=d), axis=d, kind="stable")
    return v.shape[d] - 1 - np.flip(j, axis=d)


def _torch_params(call: str, name: str, names: tuple[str, ...], args: tuple, kw: dict) -> dict:
    """PyTorch's positional ``args`` and keywords ``kw`` as one dict by parameter name."""
    if len(args) > len(names):
        raise TypeError(f"{call}: PyTorch's {name} takes ({', '.join(names)})")
    params = dict(zip(names, args))
    for k in kw:
        if k in params:
            raise TypeError(f"{call}: {k} given twice")
    params.update(kw)
    return params


def _torch_sort(name: str, self: Tensor, args: tuple, kw: dict) -> ValuesIndices:
    call = _fmt_call(name, args, kw, self.shape)
    bad = sorted(set(kw) - {"dim", "descending", "stable"})
    if bad:
        raise _refuse(call, f"dim=/descending= select PyTorch's {name}, which takes no "
                      f"{', '.join(k + '=' for k in bad)}",
                      f"Write np.{name}(t, axis=..., kind=...) for NumPy's.")
    params = _torch_params(call, name, ("dim", "descending"), args, kw)
    desc = bool(params.get("descending", False))
    return _along(call, self, params.get("dim", -1), True,
                  lambda v, d: _sort_index(v, d, desc))


def _sort(self: Tensor, *args: Any, **kw: Any) -> ValuesIndices | None:
    """NumPy's ``ndarray.sort``: sorts in place and returns None.  With ``dim=`` or
    ``descending=`` it is PyTorch's ``sort``: a new (values, indices), ``t`` unchanged."""
    if "dim" in kw or "descending" in kw:
        return _torch_sort("sort", self, args, kw)
    node = self._node
    if node is not None and node.prim is None and STATE.grad_enabled:
        raise errors.GradientError(
            f"t.sort() sorts in place, as NumPy's ndarray.sort does (and returns None); on a "
            f"leaf tensor of shape {self.shape} that requires grad its gradient would be "
            f"lost.\n  at {errors.user_line()}\n  Write s = np.sort(t) for a sorted copy, or "
            f"values, indices = t.sort(dim=-1) (PyTorch's form).")
    self[...] = NAMES["sort"](self, *args, **kw)
    return None


def _argsort(self: Tensor, *args: Any, **kw: Any) -> np.ndarray:
    """NumPy's ``argsort``; with ``dim=`` or ``descending=`` PyTorch's (stable) argsort."""
    if "dim" in kw or "descending" in kw:
        return _torch_sort("argsort", self, args, kw).indices
    return NAMES["argsort"](self, *args, **kw)


def _squeeze(self: Tensor, *args: Any, **kw: Any) -> Tensor:
    """NumPy's ``squeeze`` (an axis that is not of length 1 is an error); with ``dim=``
    PyTorch's, which leaves such an axis alone."""
    if "dim" not in kw:
        return NAMES["squeeze"](self, *args, **kw)
    call = _fmt_call("squeeze", args, kw, self.shape)
    if args or len(kw) > 1:
        raise _refuse(call, "dim= (PyTorch) takes no other argument", "Pass dim= alone, or "
                      "NumPy's axis=.")
    dim = kw["dim"]
    shape = self.shape
    if dim is None:
        return S.squeeze(self, None)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    keep = sorted({_norm_dim(call, shape, d) for d in dims})
    drop = tuple(d for d in keep if shape and shape[d] == 1)
    return S.squeeze(self, drop) if drop else S.reshape(self, shape)


def _reshape(self: Tensor, *shape: Any, **kw: Any) -> Tensor:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return S.reshape(self, shape, **kw)


def _view(self: Tensor, *shape: Any, **kw: Any) -> Tensor:
    """PyTorch's ``view(*shape)`` (a reshape that shares memory); ``view()`` is NumPy's new
    view of the same data.  ``view(dtype)`` (reinterpret the bytes) is refused."""
    if kw:
        if set(kw) != {"dtype"} or shape:
            raise TypeError(f"{_fmt_call('view', shape, kw)}: view takes the shape")
        shape = (kw["dtype"],)
    if not shape:
        return S.reshape(self, self.shape)
    if len(shape) == 1 and not _is_int(shape[0]):
        s = shape[0]
        if not isinstance(s, (tuple, list)):
            raise _refuse(f"t.view({s!r})", "a view as another dtype reinterprets the bytes "
                          "(in NumPy and PyTorch), which has no derivative",
                          f"Write t.astype({s!r}) to convert the values, or t.view(*shape) / "
                          f"t.reshape(shape) to reshape.")
        shape = tuple(s)
    return S.reshape(self, shape)


def _transpose(self: Tensor, *axes: Any, **kw: Any) -> Tensor:
    """NumPy's ``transpose``: ``t.transpose()`` reverses the axes, ``t.transpose(p)`` /
    ``t.transpose(*p)`` applies the permutation p of all axes.  PyTorch's two-axis swap is
    ``t.swapaxes(d0, d1)`` (also ``t.transpose(dim0=d0, dim1=d1)``); two ints that NumPy
    would read otherwise, or not at all, raise ConventionError."""
    if kw:
        call = _fmt_call("transpose", axes, kw)
        if set(kw) <= {"dim0", "dim1"}:
            params = dict(zip(("dim0", "dim1"), axes))
            if len(axes) + len(kw) != 2 or set(params) & set(kw):
                raise TypeError(f"{call}: PyTorch's transpose takes two dims, dim0 and dim1")
            params.update(kw)
            return S.swapaxes(self, params["dim0"], params["dim1"])
        if set(kw) == {"axes"} and not axes:
            axes = (kw["axes"],)
        else:
            raise TypeError(f"{call}: unexpected keyword; NumPy's transpose takes the axes, "
                            f"PyTorch's dim0= and dim1=")
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        # one sequence: NumPy's permutation, which a PyTorch user never writes
        return S.transpose(self, tuple(axes[0]) if axes[0] is not None else None)
    if len(axes) == 2 and all(_is_int(a) for a in axes):
        nd = self.ndim
        a, b = (int(x) for x in axes)
        call = f"t.transpose({a}, {b})"
        if nd != 2:
            raise _refuse(f"{call} on a tensor of shape {self.shape}",
                          f"NumPy's transpose takes a permutation of all {nd} axes, "
                          f"PyTorch's swaps two",
                          f"Write t.swapaxes({a}, {b}) to swap the two axes (PyTorch's "
                          f"transpose), or t.transpose(p) with p a permutation of all axes.")
        if -2 <= a < 2 and -2 <= b < 2:
            a, b = a % 2, b % 2
            if (a, b) == (0, 1):
                raise _refuse(f"{call} on a matrix of shape {self.shape}",
                              "NumPy reads it as the identity permutation (the tensor "
                              "unchanged), PyTorch as swapping the two axes",
                              "Write t.T or t.swapaxes(0, 1) for the swap; leave the call out "
                              "for the tensor unchanged.")
            if a == b:
                raise _refuse(f"{call} on a matrix of shape {self.shape}",
                              "NumPy rejects a repeated axis, PyTorch swaps the axis with "
                              "itself (the tensor unchanged)",
                              "Leave the call out for the tensor unchanged, or write t.T for "
                              "the swap.")
    return S.transpose(self, axes or None)


def _permute(self: Tensor, *dims: Any, **kw: Any) -> Tensor:
    """PyTorch's ``permute(*dims)``: NumPy's ``transpose`` with the permutation of all axes."""
    if kw:
        if set(kw) != {"dims"} or dims:
            raise TypeError(f"{_fmt_call('permute', dims, kw)}: permute takes the dims")
        dims = (kw["dims"],)
    if len(dims) == 1 and not _is_int(dims[0]):
        dims = tuple(dims[0])
    return S.transpose(self, tuple(dims))


def _flatten(self: Tensor, *args: Any, **kw: Any) -> Tensor:
    """NumPy's ``flatten(order='C')``: a one-dimensional copy.  With an int argument or
    ``start_dim=`` / ``end_dim=`` (spellings NumPy lacks) PyTorch's: dims start_dim..end_dim
    merged into one, sharing memory where the layout allows."""
    if not (set(kw) & {"start_dim", "end_dim"} or (args and _is_int(args[0]))):
        order = args[0] if args else kw.pop("order", "C")
        if kw or len(args) > 1:
            raise TypeError(f"{_fmt_call('flatten', args, kw)}: NumPy's flatten takes order=, "
                            f"PyTorch's start_dim= and end_dim=")
        return S.reshape(self, (-1,), order=order, copy=True)
    call = _fmt_call("flatten", args, kw)
    if len(args) > 2 or set(kw) - {"start_dim", "end_dim"}:
        raise TypeError(f"{call}: PyTorch's flatten takes start_dim and end_dim")
    params = dict(zip(("start_dim", "end_dim"), args))
    for k in kw:
        if k in params:
            raise TypeError(f"{call}: {k} given twice")
    params.update(kw)
    shape = self.shape
    if not shape:
        _norm_dim(call, shape, params.get("start_dim", 0))
        _norm_dim(call, shape, params.get("end_dim", -1))
        return S.reshape(self, (1,))
    s = _norm_dim(call, shape, params.get("start_dim", 0))
    e = _norm_dim(call, shape, params.get("end_dim", -1))
    if s > e:
        raise ValueError(f"{call}: start_dim comes after end_dim for a tensor of shape {shape}"
                         f"\n  at {errors.user_line()}")
    n = 1
    for k in shape[s:e + 1]:
        n *= k
    return S.reshape(self, shape[:s] + (n,) + shape[e + 1:])


def _repeat(self: Tensor, *args: Any, **kw: Any) -> Tensor:
    """NumPy's ``repeat(repeats, axis=None)``: each element repeated (PyTorch's name for
    that is ``repeat_interleave``; PyTorch's ``repeat`` is NumPy's ``tile``)."""
    nd = self.ndim
    if len(args) > 2 or (len(args) == 2 and _is_int(args[1]) and not -nd <= args[1] < max(nd, 1)):
        raise _refuse(f"{_fmt_call('repeat', args, kw)} on a tensor of shape {self.shape}",
                      "NumPy's repeat(repeats, axis) repeats each element; PyTorch's "
                      "repeat(*sizes) tiles the whole tensor",
                      f"Write t.tile({tuple(args)!r}) for PyTorch's repeat, or t.repeat(r, "
                      f"axis=a) / t.repeat_interleave(r, dim=a) to repeat elements.")
    return NAMES["repeat"](self, *args, **kw)


def _renamed(name: str, renames: dict[str, str]) -> Callable[..., Any]:
    """A NumPy function as a method that also takes PyTorch's keyword names for the same
    parameters (``renames``: PyTorch keyword -> NumPy keyword)."""
    def m(self: Tensor, *args: Any, **kw: Any) -> Any:
        for t, n in renames.items():
            if t in kw:
                if n in kw:
                    raise _refuse(_fmt_call(name, args, kw, self.shape),
                                  f"{t}= (PyTorch) and {n}= (NumPy) "
                                  f"name the same thing", "Pass one of them.")
                v = kw.pop(t)
                kw[n] = tuple(v) if isinstance(v, list) else v
        return NAMES[name](self, *args, **kw)

    m.__name__ = name
    m.__doc__ = (f"NumPy's ``np.{name}(t, ...)``; PyTorch's keyword"
                 f"{'s' if len(renames) > 1 else ''} "
                 + ", ".join(f"``{t}=``" for t in renames) + " accepted.")
    return m


def _flip(self: Tensor, *dims: Any, **kw: Any) -> Tensor:
    """``np.flip(t, axis)``; also PyTorch's ``flip(*dims)`` and ``flip(dims=...)``."""
    if "dims" in kw:
        if dims or "axis" in kw or len(kw) > 1:
            raise TypeError(f"{_fmt_call('flip', dims, kw)}: pass the dims once")
        axis = kw["dims"]
    elif len(dims) > 1:
        axis = tuple(dims)
    elif dims:
        if kw:
            raise TypeError(f"{_fmt_call('flip', dims, kw)}: pass the axis once")
        axis = dims[0]
    else:
        axis = kw.pop("axis", None)
        if kw:
            raise TypeError(f"{_fmt_call('flip', dims, kw)}: flip takes the axes")
    return NAMES["flip"](self, tuple(axis) if isinstance(axis, list) else axis)


def _tile(self: Tensor, *reps: Any) -> Tensor:
    """``np.tile(t, reps)``; also PyTorch's ``tile(*reps)``."""
    return NAMES["tile"](self, reps[0] if len(reps) == 1 else tuple(reps))


def _nonzero(self: Tensor, *, as_tuple: bool | None = None) -> Any:
    """NumPy's ``nonzero``: a tuple of index arrays, one per axis (PyTorch's
    ``nonzero(as_tuple=True)``).  ``as_tuple=False`` is PyTorch's default: an (n, ndim)
    array of indices, NumPy's ``np.argwhere(t)``."""
    if as_tuple is False:
        return NAMES["argwhere"](self)
    return NAMES["nonzero"](self)


# the same meaning in both libraries: NumPy functions as methods, named by method= on their
# defprim / register calls (t.exp, t.abs, t.clip, t.ravel ...).  Bound first, so that a
# method below that also takes PyTorch's spellings would replace a plain one.
for _n in METHODS:
    setattr(Tensor, _n, _method(_n))

Tensor.sum = _reduction("sum", "dtype")
Tensor.mean = _reduction("mean", "dtype")
Tensor.prod = _reduction("prod", "dtype")
Tensor.cumsum = _reduction("cumsum", "dtype")
Tensor.cumprod = _reduction("cumprod", "dtype")
for _n in ["amax", "amin", "argmax", "argmin", "any", "all"]:
    setattr(Tensor, _n, _reduction(_n, "out"))
Tensor.max = _extremum("max")
Tensor.min = _extremum("min")
Tensor.std = _moment("std")
Tensor.var = _moment("var")
Tensor.sort = _sort
Tensor.argsort = _argsort
Tensor.squeeze = _squeeze
Tensor.reshape = _reshape
Tensor.view = _view
Tensor.transpose = _transpose
Tensor.permute = _permute
Tensor.flatten = _flatten
Tensor.repeat = _repeat
Tensor.nonzero = _nonzero
Tensor.flip = _flip
Tensor.tile = _tile
Tensor.roll = _renamed("roll", {"shifts": "shift", "dims": "axis"})
Tensor.tril = _renamed("tril", {"diagonal": "k"})
Tensor.triu = _renamed("triu", {"diagonal": "k"})
Tensor.diagonal = _renamed("diagonal", {"dim1": "axis1", "dim2": "axis2"})

def _astype(self: Tensor, dtype: Any, copy: bool = True) -> Tensor:
    return E.astype(self, dtype=np.dtype(dtype), copy=copy)


def _compress(self: Tensor, condition: Any, axis: int | None = None) -> Tensor:
    return NAMES["compress"](condition, self, axis)


def _device(self: Tensor) -> str:
    """``'cpu'``, as NumPy's ``ndarray.device`` (PyTorch's is a ``torch.device``)."""
    return "cpu"


Tensor.astype = _astype
Tensor.compress = _compress
Tensor.device = property(_device)


# ---------------------------------------------------------------------------------
# PyTorch-only names (no ndarray method and no NumPy function of that name), as in PyTorch


def _cast(dtype: Any) -> Callable[[Tensor], Tensor]:
    def m(self: Tensor) -> Tensor:
        return E.astype(self, dtype=np.dtype(dtype))

    return m


Tensor.float = _cast(np.float32)
Tensor.double = _cast(np.float64)
Tensor.half = _cast(np.float16)
Tensor.long = _cast(np.int64)
Tensor.int = _cast(np.int32)
Tensor.bool = _cast(np.bool_)


def _to(self: Tensor, *args: Any, **kw: Any) -> Tensor:
    """``t.to(dtype)`` (a cast; ``t`` itself when the dtype is already right) and
    ``t.to('cpu')`` (``t``: chainrule computes on the CPU)."""
    kw.pop("non_blocking", None)
    copy = bool(kw.pop("copy", False))
    target = kw.pop("dtype", None) if not args else args[0]
    if kw or len(args) > 1 or target is None:
        raise TypeError(f"{_fmt_call('to', args, kw)}: chainrule's to() takes a dtype or "
                        f"'cpu'")
    name = str(target)
    if name.startswith("torch."):
        raise _refuse(f"t.to({name})", "chainrule's dtypes are NumPy's",
                      f"Write t.to(np.{name[6:]}) or t.astype(np.{name[6:]}).")
    if isinstance(target, str) and name.split(":")[0] in ("cpu", "cuda", "mps", "xla", "meta"):
        if name.split(":")[0] != "cpu":
            raise _refuse(f"t.to({target!r})", "chainrule computes with NumPy on the CPU",
                          "Leave the call out (t.to('cpu') is the tensor itself).")
        return S.copy(self) if copy else self
    if type(target).__name__ == "device":  # a torch.device
        return _to(self, name, copy=copy)
    dt = np.dtype(target)
    if dt == self.dtype:
        return S.copy(self) if copy else self
    return E.astype(self, dtype=dt)


def _cpu(self: Tensor) -> Tensor:
    """``t`` itself: chainrule computes on the CPU."""
    return self


def _unsqueeze(self: Tensor, dim: int) -> Tensor:
    """``np.expand_dims(t, dim)``"""
    return S.expand_dims(self, dim)


def _pow(self: Tensor, exponent: Any) -> Tensor:
    """``t ** exponent``"""
    return E.power(self, exponent)


def _copy(self: Tensor) -> Tensor:
    """NumPy's ``copy``: the same values in new memory, keeping the history."""
    return S.copy(self)


Tensor.to = _to
Tensor.cpu = _cpu
Tensor.unsqueeze = _unsqueeze
Tensor.pow = _pow
Tensor.copy = _copy


def _t(self: Tensor) -> Tensor:
    """PyTorch's ``t()``: a matrix transposed; a 0-d or 1-d tensor as it is."""
    if self.ndim > 2:
        raise _refuse(f"t.t() on a tensor of shape {self.shape}", "t() transposes a matrix "
                      "(at most 2 dimensions)", "Write t.swapaxes(d0, d1), t.mT (the last two "
                      "axes) or t.permute(...).")
    return S.transpose(self, None)


def _add(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``t + alpha * other``"""
    return self + (other if alpha == 1 else alpha * other)


def _sub(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """``t - alpha * other``"""
    return self - (other if alpha == 1 else alpha * other)


def _div(self: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``t / other`` (true division)."""
    if rounding_mode is not None:
        raise _refuse(f"t.div(other, rounding_mode={rounding_mode!r})", "rounded division "
                      "has derivative 0 almost everywhere and is not provided as a method",
                      "Write np.floor_divide(t, other) ('floor') or np.trunc(t / other) "
                      "('trunc').")
    return self / other


def _mm(self: Tensor, other: Any) -> Tensor:
    """PyTorch's ``mm``: the product of two matrices."""
    if self.ndim != 2 or np.ndim(other) != 2:
        raise errors.ShapeError(f"t.mm(other): mm multiplies two matrices; got shapes "
                                f"{self.shape} and {np.shape(other)}\n  at {errors.user_line()}"
                                f"\n  Write t @ other (np.matmul) for stacks and vectors.")
    return self @ other


def _expand(self: Tensor, *sizes: Any) -> Tensor:
    """PyTorch's ``expand(*sizes)``: ``np.broadcast_to`` where -1 keeps a dimension."""
    if len(sizes) == 1 and not _is_int(sizes[0]):
        sizes = tuple(sizes[0])
    shape = self.shape
    new = len(sizes) - len(shape)
    if new < 0:
        raise errors.ShapeError(f"t.expand{tuple(sizes)}: fewer sizes than the {len(shape)} "
                                f"dimensions of shape {shape}\n  at {errors.user_line()}")
    target = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < new:
                raise errors.ShapeError(f"t.expand{tuple(sizes)}: -1 is not allowed for a new "
                                        f"leading dimension (shape {shape})\n"
                                        f"  at {errors.user_line()}")
            s = shape[i - new]
        target.append(int(s))
    return S.broadcast_to(self, tuple(target))


def _contiguous(self: Tensor) -> Tensor:
    """``t`` itself when its memory is C-contiguous, else a C-contiguous copy (PyTorch's)."""
    if self._value.flags.c_contiguous:
        return self
    return S.reshape(S.reshape(self, (-1,), copy=True), self.shape)


def _chunk(self: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """PyTorch's ``chunk``: pieces of ceil(n / chunks) along dim (the last may be smaller,
    and there may be fewer than ``chunks``).  NumPy's ``np.array_split`` makes exactly
    ``chunks`` pieces of sizes that differ by at most one."""
    call = f"t.chunk({chunks!r}, dim={dim!r})"
    if not _is_int(chunks) or chunks < 1:
        raise ValueError(f"{call}: chunks must be a positive int\n  at {errors.user_line()}")
    d = _norm_dim(call, self.shape, dim)
    if not self.shape:
        raise errors.ShapeError(f"{call}: a 0-d tensor cannot be chunked\n"
                                f"  at {errors.user_line()}")
    n = self.shape[d]
    step = -(-n // chunks)
    lead = (slice(None),) * d
    if step == 0:
        return tuple(self[lead + (slice(0, 0),)] for _ in range(chunks))
    return tuple(self[lead + (slice(i, i + step),)] for i in range(0, n, step))


def _masked_fill(self: Tensor, mask: Any, value: Any) -> Tensor:
    """PyTorch's ``masked_fill``: ``value`` where the boolean ``mask`` (broadcast to t's
    shape) is True, ``t`` elsewhere; the result keeps t's dtype and shape."""
    m = _arrays.asarray(mask._value if isinstance(mask, Tensor) else mask)
    if m.dtype != np.bool_:
        raise TypeError(f"t.masked_fill(mask, value): mask must be boolean, got {m.dtype}\n"
                        f"  at {errors.user_line()}\n  Write mask.astype(bool) (or a "
                        f"comparison such as t > 0).")
    if np.broadcast_shapes(m.shape, self.shape) != self.shape:
        raise errors.ShapeError(f"t.masked_fill(mask, value): a mask of shape {m.shape} does "
                                f"not broadcast to the tensor's shape {self.shape}\n"
                                f"  at {errors.user_line()}")
    if np.ndim(value) != 0:
        raise errors.ShapeError(f"t.masked_fill(mask, value): value must be a number or a "
                                f"0-d tensor, got shape {np.shape(value)}\n"
                                f"  at {errors.user_line()}\n  Write np.where(mask, values, t)"
                                f" for an array of values.")
    if isinstance(value, Tensor):
        if value.dtype != self.dtype:
            value = E.astype(value, dtype=self.dtype)
    else:
        value = _arrays.asarray(value).astype(self.dtype)
    return NAMES["where"](np.broadcast_to(m, self.shape), value, self)


def _repeat_interleave(self: Tensor, repeats: Any, dim: int | None = None, *,
                       output_size: int | None = None) -> Tensor:
    """PyTorch's ``repeat_interleave``: NumPy's ``np.repeat(t, repeats, axis=dim)``."""
    r = NAMES["repeat"](self, repeats._value if isinstance(repeats, Tensor) else repeats,
                        axis=dim)
    if output_size is not None and r.shape[0 if dim is None else dim] != output_size:
        raise errors.ShapeError(f"t.repeat_interleave(..., output_size={output_size}): the "
                                f"result has shape {r.shape}\n  at {errors.user_line()}")
    return r


def _norm(self: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
          dtype: Any = None) -> Tensor:
    """PyTorch's ``norm``: the vector p-norm over ``dim`` (all elements by default;
    'fro' is p = 2).  ``np.linalg.vector_norm(t, ord=p, axis=dim, keepdims=keepdim)``."""
    if p == "nuc":
        raise _refuse("t.norm(p='nuc')", "the nuclear norm is a matrix norm",
                      "Write np.linalg.norm(t, 'nuc') (or with axis= for a stack).")
    if p == "fro":
        p = 2
    x = self if dtype is None else E.astype(self, dtype=np.dtype(dtype))
    return NAMES["linalg.vector_norm"](x, axis=tuple(dim) if isinstance(dim, list) else dim,
                                       keepdims=keepdim, ord=p)


def _logsumexp(self: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """PyTorch's ``logsumexp(dim, keepdim=False)`` (stable for any finite values)."""
    return NAMES["logsumexp"](self, axis=tuple(dim) if isinstance(dim, list) else dim,
                              keepdims=keepdim)


def _clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """PyTorch's ``clamp``: ``np.clip(t, min, max)``, either bound may be None."""
    if min is None and max is None:
        raise ValueError(f"t.clamp(): give min=, max= or both\n  at {errors.user_line()}")
    return NAMES["clip"](self, min, max)


def _mul(self: Tensor, other: Any) -> Tensor:
    """``t * other``"""
    return self * other


def _neg(self: Tensor) -> Tensor:
    """``-t``"""
    return -self


def _matmul(self: Tensor, other: Any) -> Tensor:
    """``t @ other``"""
    return self @ other


def _expand_as(self: Tensor, other: Any) -> Tensor:
    """``t.expand(other.shape)``"""
    return _expand(self, tuple(np.shape(other)))


Tensor.t = _t
Tensor.add = _add
Tensor.sub = _sub
Tensor.mul = _mul
Tensor.div = _div
Tensor.neg = _neg
Tensor.matmul = _matmul
Tensor.mm = _mm
Tensor.expand = _expand
Tensor.expand_as = _expand_as
Tensor.contiguous = _contiguous
Tensor.chunk = _chunk
Tensor.masked_fill = _masked_fill
Tensor.repeat_interleave = _repeat_interleave
Tensor.norm = _norm
Tensor.logsumexp = _logsumexp
Tensor.clamp = _clamp


# ---------------------------------------------------------------------------------
# What a PyTorch user may type that chainrule does not provide: an AttributeError that says
# what to write instead (ordinary attribute lookup never reaches here for existing names)

_HINTS = {
    "cuda": "chainrule computes with NumPy on the CPU: leave .cuda() out (t.cpu() and "
            "t.to('cpu') are the tensor itself)",
    "is_cuda": "chainrule computes with NumPy on the CPU (t.device is 'cpu')",
    "gather": "write np.take_along_axis(t, index, axis=dim)",
    "index_select": "write np.take(t, index, axis=dim)",
    "scatter": "build the result by item assignment on a copy: y = t.clone(); y[idx] = v",
    "scatter_add": "accumulate into a copy with item assignment (y = t.clone(); y[idx] += v) "
                   "for distinct indices, or np.add.at on a plain array",
    "index_add": "accumulate into a copy with item assignment (y = t.clone(); y[idx] += v)",
    "median": "write np.median(t, axis=...) (NumPy's median of an even count is the mean of "
              "the two middle values; torch.median returns the lower one)",
    "topk": "write values, indices = t.sort(dim=d, descending=True) and slice [..., :k]",
    "kthvalue": "write np.partition / t.sort(dim=d) and index the k-th entry",
    "split": "write np.split(t, sections_or_indices, axis=d) (NumPy's split takes a number "
             "of sections or split points; PyTorch's split(size) is t.chunk or np.split at "
             "multiples of the size)",
    "type": "t.dtype is the dtype; t.astype(np.float32) converts",
    "type_as": "write t.astype(other.dtype)",
    "view_as": "write t.reshape(other.shape)",
    "reshape_as": "write t.reshape(other.shape)",
    "new_zeros": "write cr.tensor(np.zeros(shape, dtype=t.dtype))",
    "new_ones": "write cr.tensor(np.ones(shape, dtype=t.dtype))",
    "new_full": "write cr.tensor(np.full(shape, value, dtype=t.dtype))",
    "new_empty": "write cr.tensor(np.empty(shape, dtype=t.dtype))",
    "new_tensor": "write cr.tensor(data, dtype=t.dtype)",
    "nelement": "write t.numel() (or t.size)",
    "element_size": "write t.dtype.itemsize",
    "maximum": "write np.maximum(t, other)",
    "minimum": "write np.minimum(t, other)",
    "bmm": "write t @ other (np.matmul multiplies stacks of matrices)",
    "rsqrt": "write 1 / np.sqrt(t)",
    "erf": "write cr.nn.functional.erf(t)",
    "asin": "write np.arcsin(t)", "acos": "write np.arccos(t)", "atan": "write np.arctan(t)",
    "asinh": "write np.arcsinh(t)", "acosh": "write np.arccosh(t)",
    "atanh": "write np.arctanh(t)", "atan2": "write np.arctan2(t, other)",
    "swapdims": "write t.swapaxes(d0, d1)",
    "movedim": "write np.moveaxis(t, source, destination)",
    "unbind": "write tuple(t) (the first axis) or tuple(np.moveaxis(t, d, 0))",
    "std_mean": "write t.std(axis=d, ddof=1), t.mean(axis=d) (ddof=1 is PyTorch's default)",
    "var_mean": "write t.var(axis=d, ddof=1), t.mean(axis=d) (ddof=1 is PyTorch's default)",
}
_KEEP_INPLACE = ("zero_", "requires_grad_", "detach_")


def _hint_for(name: str) -> str | None:
    hint = _HINTS.get(name)
    if hint is None and name.endswith("_") and name not in _KEEP_INPLACE:
        base = name[:-1]
        hint = (f"chainrule Tensors have no in-place method {name}(); write the result to a "
                f"new name (y = {'t.' + base + '(...)' if hasattr(Tensor, base) else '...'}), "
                f"or use an in-place operator (t += u, t *= u) or item assignment "
                f"(t[...] = v), which are recorded")
    if hint is None and name in NAMES:
        hint = f"write np.{name}(t, ...): NumPy's functions take Tensors"
    return hint


def _missing(name: str, hint: str) -> property:
    """An attribute Tensor does not have, whose AttributeError says what to write instead.

    A property per such name rather than ``Tensor.__getattr__``: a class-level
    ``__getattr__`` slows every attribute read on every Tensor (the engine's hot path)."""
    msg = f"t.{name}: chainrule's Tensor has no such attribute; {hint}"

    def get(self: Tensor) -> Any:
        raise AttributeError(msg, name=name, obj=self)

    return property(get, doc=msg)


HINTED: set[str] = set()  # the names above: absent from dir(t), hasattr(t, name) is False


def _install_hints() -> None:
    names = set(_HINTS) | {n for n in NAMES if "." not in n and n.isidentifier()}
    methods = [n for n in dir(Tensor) if not n.startswith("_") and callable(getattr(Tensor, n))]
    names |= {n + "_" for n in methods} | {n + "_" for n in NAMES if "." not in n}
    for name in sorted(names):
        if name.startswith("_") or hasattr(Tensor, name) or name in _KEEP_INPLACE:
            continue
        hint = _hint_for(name)
        if hint is not None:
            setattr(Tensor, name, _missing(name, hint))
            HINTED.add(name)


_install_hints()
Tensor.__dir__ = lambda self: sorted(n for n in object.__dir__(self) if n not in HINTED)


