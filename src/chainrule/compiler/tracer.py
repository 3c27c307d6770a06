"""The tracer: arrays that record every NumPy call made on them.

A ``Traced`` wraps the concrete array a call computes (the trace runs the function once,
for real, so every value, shape and dtype is exactly eager's) and the recording it belongs
to.  NumPy hands it every ufunc (NEP 13) and every array function (NEP 18); its operators,
methods, attributes and indexing are its own.  Each of those runs NumPy on the concrete
values and appends one ``Op`` to the ``Trace``: what was called, on which values.  The
emitter (``emit.py``) turns the list back into Python.

What cannot be followed is refused, never baked in silently:

* a Python value taken from a traced array (``bool``, ``float``, ``int``, ``.item()``, a
  data-dependent result such as ``np.array_equal``) becomes a *guard*: the emitted code
  checks that it is the same on every call and retraces when it is not;
* ``np.asarray(traced)`` and the C routines behind it (a traced array written into a plain
  ndarray, ``math.*``, a library outside NumPy's dispatch) raise ``CompileError``.
"""

from __future__ import annotations

import operator
import sys
import threading
from typing import Any, Callable

import numpy as np

from ..core import arrays, errors
from ..core.graph import backward as _backward

_BACKWARD = _backward.__code__

_ndarray = np.ndarray


class CompileError(errors.LeftGraphError):
    """The tracer cannot follow something the function does; the message says what to do."""


class Retrace(Exception):
    """Raised by emitted code when a guard's outcome differs from the trace's."""

    def __init__(self, k: int) -> None:
        super().__init__(k)
        self.k = k


class Op:
    """One recorded step.  ``kind``:

    * ``call``: ``outs = fn(*args, **kw)`` (a ufunc, a ufunc method, a NumPy function)
    * ``method``: ``outs = args[0].<fn>(*args[1:], **kw)``
    * ``attr``: ``outs = args[0].<fn>``
    * ``binop`` / ``unop``: a Python operator (``fn`` is its symbol)
    * ``inplace``: ``args[0] <fn>= args[1]``
    * ``getitem``: ``outs = args[0][args[1]]``; ``setitem``: ``args[0][args[1]] = args[2]``
    * ``copy``: ``outs = args[0].copy()`` of a constant that a later step writes into
    * ``guard``: ``fn`` is the conversion (bool, float, int, complex, item, tolist, value),
      ``args[0]`` the traced value, ``kw['expect']`` what the trace saw

    ``outs``: the Traced results (a list; several for ``a, b = np.divmod(x, y)``).
    ``mutates``: the Traced values it writes into.  ``line``: the user's line.
    """

    __slots__ = ("kind", "fn", "args", "kw", "outs", "mutates", "line", "unpack", "err")

    def __init__(self, kind: str, fn: Any, args: tuple, kw: dict, outs: list,
                 mutates: tuple = (), line: Any = None, unpack: bool = False,
                 err: dict | None = None) -> None:
        # err: the np.errstate settings the step ran under that differ from those of the
        # call being traced (a `with np.errstate(divide="raise"):` in the function, or in a
        # rule): the emitted code runs the step under them too
        self.err = err
        self.kind = kind
        self.fn = fn
        self.args = args
        self.kw = kw
        self.outs = outs
        self.mutates = mutates
        self.line = line
        self.unpack = unpack

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Op {self.kind} {getattr(self.fn, '__name__', self.fn)}>"


class _Local(threading.local):
    trace: Trace | None = None  # (a class default: no AttributeError raised per lookup)


_LOCAL = _Local()


def current() -> Trace | None:
    return _LOCAL.trace


class Trace:
    """The recording of one run: its inputs, its ops in order, the constants they read."""

    def __init__(self) -> None:
        self.inputs: list[Traced] = []
        self.ops: list[Op] = []
        self.active = True
        self.next_id = 0
        # constants (plain arrays read by a recorded step) by identity (a recorded step
        # never writes into one: see _plain_write)
        self.consts: dict[int, Any] = {}
        self.names: dict[int, str] = {}     # Traced id -> the user's variable name
        self.random: list = []              # (Traced, draw) of each random input
        self.const_names: dict[int, str] = {}  # id(constant) -> the user's name for it
        self.hints: dict[int, str] = {}        # id(Traced) -> a name for an unnamed output
        self.caller = None                     # the site of the call being traced
        self.guards = 0
        self.err0 = np.geterr()                # the floating-point settings of the call
        self.layout = False                    # did the user's code read a memory layout?
        self.entropy = False                   # did a generator draw fresh OS entropy?

    def __enter__(self) -> Trace:
        self.prev = current()
        _LOCAL.trace = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _LOCAL.trace = self.prev
        self.active = False

    def new(self, value: Any) -> Traced:
        t = object.__new__(Traced)
        t._v = value
        t._tr = self
        t._id = self.next_id
        self.next_id += 1
        return t

    def input(self, value: Any) -> Traced:
        t = self.new(value)
        self.inputs.append(t)
        return t

    # --- the recording ----------------------------------------------------------------
    def arg(self, a: Any) -> Any:
        """``a`` as the recording keeps it: a Traced or the constant itself (containers walked)."""
        c = a.__class__
        if c is Traced:
            if a._tr is not self:
                _foreign(a)
            return a
        if c is _ndarray:
            self.consts[id(a)] = a
            return a
        if c is tuple or c is list:
            return c(self.arg(x) for x in a)
        if c is dict:
            return {k: self.arg(v) for k, v in a.items()}
        return a

    def record(self, kind: str, fn: Any, args: tuple, kw: dict, result: Any,
               mutates: tuple = ()) -> Any:
        """Append one op whose concrete result is ``result``; give back its Traced form."""
        rec_args = self.arg(args)
        rec_kw = self.arg(kw) if kw else {}
        site = _where()
        n0 = len(self.ops)
        try:
            return self._record(kind, fn, rec_args, rec_kw, result, mutates, site)
        finally:
            err = self._err()
            if err:
                for op in self.ops[n0:]:
                    op.err = err

    def _err(self) -> dict | None:
        now = np.geterr()
        if now == self.err0:
            return None
        return {k: v for k, v in now.items() if self.err0.get(k) != v}

    def _record(self, kind: str, fn: Any, rec_args: Any, rec_kw: Any, result: Any,
                mutates: tuple, site: Any) -> Any:
        if result is None:
            self.ops.append(Op(kind, fn, rec_args, rec_kw, [], mutates, site))
            return None
        if mutates and any(result is m._v for m in mutates):
            # an in-place op (out=, a += b): the result is the written value itself
            for m in mutates:
                if result is m._v:
                    self.ops.append(Op(kind, fn, rec_args, rec_kw, [m], mutates, site))
                    return m
        rc = result.__class__
        if rc is _ndarray or isinstance(result, np.generic):
            t = self.new(result)
            self.ops.append(Op(kind, fn, rec_args, rec_kw, [t], mutates, site))
            return t
        if (rc is tuple or isinstance(result, tuple) or rc is list) and all(
                r.__class__ is _ndarray or isinstance(r, np.generic) for r in result):
            outs = [self.new(r) for r in result]
            self.ops.append(Op(kind, fn, rec_args, rec_kw, outs, mutates, site, unpack=True))
            if rc is tuple or rc is list:
                return rc(outs)
            return rc(*outs)  # a named tuple (np.linalg.eigh's EighResult ...)
        if isinstance(result, (bool, int, float, complex, str, type(None))) or rc is np.dtype:
            # a Python value computed from the data (np.array_equal ...): a guarded value
            t = self.new(result)
            self.ops.append(Op(kind, fn, rec_args, rec_kw, [t], mutates, site))
            self.guard("value", t, result, site)
            return result
        raise CompileError(
            f"{_fname(kind, fn)} returned a {type(result).__name__}, which the compiler "
            f"cannot follow.\n  at {errors.format_site(site)}\n  Compute it outside the "
            f"compiled function and pass the result in as an argument."
        )

    def guard(self, conv: str, t: Traced, expect: Any, site: Any = None,
              extra: tuple = ()) -> None:
        self.ops.append(Op("guard", conv, (t,) + tuple(extra),
                           {"expect": expect, "k": self.guards}, [],
                           line=site or _where(), err=self._err()))
        self.guards += 1


def _where() -> Any:
    """Where the op being recorded comes from: the user's (file, line), or ("backward",
    name) inside the engine's backward pass running a primitive's VJP rule."""
    f = sys._getframe(2)
    lib = errors._is_library
    while f is not None:
        code = f.f_code
        if code is _BACKWARD:
            prim = f.f_locals.get("prim")
            return ("backward", getattr(prim, "name", "?"))
        if not lib(code.co_filename):
            return (code.co_filename, f.f_lineno)
        f = f.f_back
    return None


def _fname(kind: str, fn: Any) -> str:
    if kind in ("method", "attr"):
        return f"ndarray.{fn}"
    return getattr(fn, "__name__", str(fn))


def _foreign(a: Traced) -> None:
    raise CompileError(
        "a traced value from another compiled function's trace (or one that has finished) "
        f"was used here.\n  at {errors.user_line()}\n  Values computed inside a compiled "
        "function are valid only while it traces; do not keep them in globals or lists."
    )


def unwrap(a: Any) -> Any:
    c = a.__class__
    if c is Traced:
        return a._v
    if c is tuple or c is list:
        return c(unwrap(x) for x in a)
    if c is dict:
        return {k: unwrap(v) for k, v in a.items()}
    return a


def _has_traced(a: Any) -> bool:
    c = a.__class__
    if c is Traced:
        return True
    if c is tuple or c is list:
        return any(_has_traced(x) for x in a)
    if c is dict:
        return any(_has_traced(x) for x in a.values())
    return False


def _trace_of(args: Any) -> Trace:
    for a in args:
        c = a.__class__
        if c is Traced:
            tr = a._tr
            if not tr.active:
                _foreign(a)
            return tr
        if c is tuple or c is list:
            for x in a:
                if x.__class__ is Traced:
                    return _trace_of((x,))
    tr = current()
    if tr is None:
        raise CompileError("a traced value was used outside its compiled function's trace")
    return tr


# functions whose result depends only on shapes, dtypes and memory layout: answered at
# trace time (the same on every call with the same signature), never recorded
STATIC_FUNCS = {np.shape, np.ndim, np.size, np.result_type, np.may_share_memory,
                np.shares_memory, np.iscomplexobj, np.isrealobj, np.min_scalar_type,
                np.can_cast, np.isscalar}

# what depends on the memory the inputs live in (their strides, whether they are views, which
# share memory), not on their shapes and dtypes: read by the user's code, the trace holds
# only for inputs laid out as the trace's were (function._layout)
_LAYOUT_ATTRS = frozenset(("strides", "flags", "base", "ctypes", "data"))
_LAYOUT_FUNCS = frozenset((np.may_share_memory, np.shares_memory))

# in-place methods of ndarray: they write into the array they are called on
_MUTATING = {"sort", "fill", "put", "partition", "resize", "itemset", "setfield", "byteswap"}

# attributes that are metadata: plain values, the same for every call with this signature
_STATIC_ATTRS = {"shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides", "flags",
                 "base", "ctypes", "data"}

_BINOPS = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "@": operator.matmul,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne, "&": operator.and_, "|": operator.or_,
    "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
}
_UNOPS = {"-": operator.neg, "+": operator.pos, "~": operator.invert, "abs": operator.abs}
_INPLACE = {
    "+": operator.iadd, "-": operator.isub, "*": operator.imul, "/": operator.itruediv,
    "//": operator.ifloordiv, "%": operator.imod, "**": operator.ipow, "&": operator.iand,
    "|": operator.ior, "^": operator.ixor, "<<": operator.ilshift, ">>": operator.irshift,
    "@": operator.imatmul,
}


def _defers(o: Any) -> bool:
    """Is ``o`` a type with its own NumPy overrides (a Tensor) that must handle the op?"""
    c = o.__class__
    return (c is not Traced and c is not _ndarray and not isinstance(o, np.generic)
            and hasattr(c, "__array_ufunc__") and c.__module__.startswith("chainrule"))


def _binop(sym: str, reflected: bool) -> Callable:
    op = _BINOPS[sym]

    def f(self: Traced, other: Any) -> Any:
        if _defers(other):
            return NotImplemented
        tr = self._tr
        if not tr.active:
            _foreign(self)
        ov = unwrap(other)
        if reflected:
            return tr.record("binop", sym, (other, self), {}, op(ov, self._v))
        return tr.record("binop", sym, (self, other), {}, op(self._v, ov))

    return f


def _unop(sym: str) -> Callable:
    op = _UNOPS[sym]

    def f(self: Traced) -> Any:
        return self._tr.record("unop", sym, (self,), {}, op(self._v))

    return f


def _inplace(sym: str) -> Callable:
    op = _INPLACE[sym]

    def f(self: Traced, other: Any) -> Any:
        if _defers(other):
            return NotImplemented
        res = op(self._v, unwrap(other))
        if res is not self._v:  # a NumPy scalar has no in-place form: a new value
            return self._tr.record("binop", sym, (self, other), {}, res)
        self._tr.record("inplace", sym, (self, other), {}, res, mutates=(self,))
        return self

    return f


_WRITES_FIRST = frozenset((np.copyto, np.put, np.place, np.putmask, np.put_along_axis,
                           np.fill_diagonal))


def _plain_write(what: str) -> None:
    """A traced value written into a plain ndarray: the array's later readers (its own
    methods, indexing) would not be recorded and would bake its trace-time value in."""
    raise CompileError(
        f"{what} writes a traced value into a plain NumPy array (one the function made "
        f"with np.zeros / np.empty or captured); the compiled code could not follow that "
        f"array afterwards.\n  at {errors.user_line()}\n  Use the returned value "
        f"(acc = acc + x), or allocate the array from the data: np.zeros_like(x, "
        f"shape=...) is traced.")


class Traced:
    """A value inside a trace: the concrete array (``_v``), its recording (``_tr``)."""

    __slots__ = ("_v", "_tr", "_id", "__weakref__")
    __array_priority__ = 500  # below Tensor's, above ndarray's

    # --- metadata: plain values -------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._v.shape

    @property
    def dtype(self) -> np.dtype:
        return self._v.dtype

    @property
    def ndim(self) -> int:
        return self._v.ndim

    @property
    def size(self) -> int:
        return self._v.size

    @property
    def _cr_generic(self) -> bool:
        return isinstance(self._v, np.generic)

    def _cr_same_view(self, other: Any) -> bool:
        """core.arrays.same_view: do the two name the same memory (shape, strides, first
        byte)?  Answered on the concrete arrays (a layout fact, not a value)."""
        w = self._v
        v = other._v if other.__class__ is Traced else other
        return (w.__class__ is _ndarray and v.__class__ is _ndarray and w.shape == v.shape
                and w.strides == v.strides and w.__array_interface__["data"][0]
                == v.__array_interface__["data"][0])

    def _cr_asarray(self, dtype: Any = None) -> Any:
        """core.arrays.asarray: np.asarray, recorded (a NumPy scalar becomes a 0-d array)."""
        v = self._v
        if v.__class__ is _ndarray and (dtype is None or v.dtype == np.dtype(dtype)):
            return self
        kw = {} if dtype is None else {"dtype": dtype}
        return self._tr.record("call", np.asarray, (self,), kw, np.asarray(v, **kw))

    def __len__(self) -> int:
        return len(self._v)

    def __iter__(self) -> Any:
        for i in range(len(self._v)):
            yield self[i]

    def __repr__(self) -> str:
        return f"traced({self._v!r})"

    __str__ = __repr__

    def __hash__(self) -> int:
        return id(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        v = object.__getattribute__(self, "_v")
        attr = getattr(v, name)  # AttributeError as NumPy gives it
        if name in _STATIC_ATTRS:
            if name in _LAYOUT_ATTRS and not errors._is_library(
                    sys._getframe(1).f_code.co_filename):
                self._tr.layout = True  # the user's code reads the memory layout
            return attr
        if callable(attr):
            return _Method(self, name)
        return self._tr.record("attr", name, (self,), {}, attr)

    # --- NumPy's dispatch -------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        for a in inputs:
            if _defers(a):
                return NotImplemented
        tr = _trace_of(inputs)
        out = kw.get("out")
        mutates: tuple = ()
        if method == "at":
            if inputs[0].__class__ is _ndarray:
                _plain_write(f"np.{ufunc.__name__}.at(a, ...)")
            mutates = (inputs[0],)
        if out is not None:
            outs = out if isinstance(out, tuple) else (out,)
            if any(o.__class__ is _ndarray for o in outs):
                _plain_write(f"np.{ufunc.__name__}(..., out=a)")
            mutates = tuple(o for o in outs if o is not None)
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        res = fn(*unwrap(inputs), **unwrap(kw))
        return tr.record("call", fn, inputs, kw, res, mutates)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kw: dict) -> Any:
        for t in types:
            if t is not Traced and not issubclass(t, _ndarray):
                return NotImplemented
        if func in STATIC_FUNCS:
            if func in _LAYOUT_FUNCS and not errors._is_library(
                    sys._getframe(1).f_code.co_filename):
                _trace_of(args).layout = True
            return func(*unwrap(args), **unwrap(kw))
        tr = _trace_of(args)
        mutates: tuple = ()
        if func in _WRITES_FIRST:
            # NumPy's writers into their first argument (np.copyto(dst, src), np.put ...)
            target = args[0] if args else next(iter(kw.values()))
            if target.__class__ is _ndarray:
                _plain_write(f"np.{func.__name__}(a, ...)")
            mutates = (target,)
        res = func(*unwrap(args), **unwrap(kw))
        out = kw.get("out")
        if out is not None:
            if out.__class__ is _ndarray:
                raise CompileError(
                    f"{func.__name__}(..., out=a plain array): the compiler cannot write a "
                    f"traced result into an array it does not trace.\n  at "
                    f"{errors.user_line()}\n  Drop out= (use the returned value).")
            mutates = (out,)
        return tr.record("call", func, args, kw, res, mutates)

    # --- leaving the trace ------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise CompileError(
            f"a traced array (shape {self._v.shape}, dtype {self._v.dtype}) was converted "
            f"to a plain NumPy array (np.asarray / np.array, written into a plain array with "
            f"a[i] = x, or handed to a routine outside NumPy's dispatch), so the compiled "
            f"code could not follow it.\n  at {errors.user_line()}\n  Keep it an array: use "
            f"NumPy functions on it (np.stack, np.concatenate, np.where, np.take instead of "
            f"building or indexing plain arrays), or compute it outside the compiled "
            f"function and pass it in as an argument.")

    def _guard(self, conv: str, value: Any) -> Any:
        tr = self._tr
        if not tr.active:
            _foreign(self)
        tr.guard(conv, self, value)
        return value

    def __bool__(self) -> bool:
        return self._guard("bool", bool(self._v))

    def __float__(self) -> float:
        return self._guard("float", float(self._v))

    def __int__(self) -> int:
        return self._guard("int", int(self._v))

    def __complex__(self) -> complex:
        return self._guard("complex", complex(self._v))

    def __index__(self) -> int:
        return self._guard("index", operator.index(self._v))

    def item(self, *args: Any) -> Any:
        tr = self._tr
        if not tr.active:
            _foreign(self)
        value = self._v.item(*args)
        tr.guard("item", self, value, extra=args)
        return value

    def tolist(self) -> Any:
        return self._guard("tolist", self._v.tolist())

    def __round__(self, *ndigits: Any) -> Any:
        # (a Python int from a NumPy scalar without ndigits: a guarded value)
        if self._v.__class__ is _ndarray:
            raise TypeError("type numpy.ndarray doesn't define __round__ method")
        return _Method(self, "__round__")(*ndigits)

    def __divmod__(self, other: Any) -> Any:
        if _defers(other):
            return NotImplemented
        return np.divmod(self, other)

    def __rdivmod__(self, other: Any) -> Any:
        if _defers(other):
            return NotImplemented
        return np.divmod(other, self)

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)  # (as print shows it: while tracing only)
        # f"{x:.2f}": text computed from the data, guarded like float(x)
        return self._tr.record("method", "__format__", (self, spec), {},
                               format(self._v, spec))

    # --- indexing ---------------------------------------------------------------------
    def __getitem__(self, idx: Any) -> Any:
        return self._tr.record("getitem", None, (self, idx), {}, self._v[unwrap(idx)])

    def __setitem__(self, idx: Any, value: Any) -> None:
        if _defers(value):
            value = value._value  # a Tensor written into a traced array: its value
        self._v[unwrap(idx)] = unwrap(value)
        self._tr.record("setitem", None, (self, idx, value), {}, None, mutates=(self,))

    def __copy__(self) -> Traced:
        return _Method(self, "copy")()

    def __deepcopy__(self, memo: dict) -> Traced:
        return _Method(self, "copy")()

    def __reduce__(self) -> Any:
        raise CompileError(f"a traced array cannot be pickled\n  at {errors.user_line()}")


class _Method:
    """``traced.name`` for a method of ndarray: calling it records the call."""

    __slots__ = ("t", "name")

    def __init__(self, t: Traced, name: str) -> None:
        self.t = t
        self.name = name

    def __call__(self, *args: Any, **kw: Any) -> Any:
        t = self.t
        tr = t._tr
        if not tr.active:
            _foreign(t)
        res = getattr(t._v, self.name)(*unwrap(args), **unwrap(kw))
        mut = (t,) if self.name in _MUTATING else ()
        return tr.record("method", self.name, (t,) + args, kw, res, mut)


for _s in _BINOPS:
    _n = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod",
          "**": "pow", "@": "matmul", "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
          "==": "eq", "!=": "ne", "&": "and", "|": "or", "^": "xor", "<<": "lshift",
          ">>": "rshift"}[_s]
    setattr(Traced, f"__{_n}__", _binop(_s, False))
    if _s not in ("<", "<=", ">", ">=", "==", "!="):
        setattr(Traced, f"__r{_n}__", _binop(_s, True))
    if _s in _INPLACE:
        setattr(Traced, f"__i{_n}__", _inplace(_s))
for _s, _n in (("-", "neg"), ("+", "pos"), ("~", "invert"), ("abs", "abs")):
    setattr(Traced, f"__{_n}__", _unop(_s))
Traced.__hash__ = lambda self: id(self)  # __eq__ above would otherwise unset it

arrays.register(Traced)
