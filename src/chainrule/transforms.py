"""Functional transforms (JAX / HIPS autograd style) on the one engine.

Reverse mode records on the tape and runs ``graph.backward`` towards fresh leaves made
for the arguments; forward mode gives the arguments tangents at a fresh level.  Inside
another transform (``STATE.depth > 0``) backward passes record themselves
(create_graph), so transforms nest to any order, and fresh leaves/levels keep nested
derivatives apart (no perturbation confusion).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .core import arrays, errors, xparray
from .core.graph import backward
from .core.primitive import leaf_node
from .core.state import STATE, next_seq
from .core.tensor import Tensor
from .ops import shape as S
from .ops.shape import reshape, stack
from .ops.util import cast_like

# ---------------------------------------------------------------------------------
# pytrees: tuples, lists and dicts of numbers / arrays / Tensors


def tree_flatten(x: Any) -> tuple[list, Callable[[list], Any]]:
    if isinstance(x, (list, tuple)):
        parts = [tree_flatten(y) for y in x]
        sizes = [len(p[0]) for p in parts]
        kind = type(x)
        named = hasattr(x, "_fields")  # namedtuples (np.linalg.eigh's EighResult ...)

        def build(leaves: list) -> Any:
            out, i = [], 0
            for (_, b), n in zip(parts, sizes):
                out.append(b(leaves[i:i + n]))
                i += n
            return kind(*out) if named else kind(out)

        return [leaf for p in parts for leaf in p[0]], build
    if isinstance(x, dict):
        keys = list(x)
        parts = [tree_flatten(x[k]) for k in keys]
        sizes = [len(p[0]) for p in parts]

        def build_d(leaves: list) -> Any:
            out, i = {}, 0
            for k, (_, b), n in zip(keys, parts, sizes):
                out[k] = b(leaves[i:i + n])
                i += n
            return out

        return [leaf for p in parts for leaf in p[0]], build_d
    return [x], lambda leaves: leaves[0]


def _value(x: Any) -> Any:
    return x._value if isinstance(x, Tensor) else x


def _check_float(x: Any, who: str, pos: int) -> None:
    v = _value(x)
    if isinstance(v, bool) or isinstance(v, (int, np.integer)) or (
        isinstance(v, arrays.TYPES) and v.dtype.kind in "biu"
    ):
        raise errors.GradientError(
            f"{who}: argument {pos} is an integer ({type(v).__name__}"
            f"{'' if not isinstance(v, arrays.TYPES) else ' of dtype ' + str(v.dtype)}); "
            f"derivatives need floating-point inputs.\n  at {errors.user_line()}\n"
            f"  Pass a float (2.0 rather than 2) or convert: np.asarray(x, dtype=float)."
        )
    if isinstance(v, arrays.TYPES) and v.dtype.kind not in "fc":
        raise errors.GradientError(
            f"{who}: argument {pos} has dtype {v.dtype}, not a float type.\n"
            f"  at {errors.user_line()}\n  Pass floating-point (or complex) values.")
    if not isinstance(v, (float, complex, np.ndarray, np.floating, np.complexfloating)):
        # str, None, bytes, dates, arbitrary objects: nothing to differentiate (NumPy would
        # make a text or object array of them, and the "derivative" would be made up)
        if _dtype_kind(v) not in "fc":
            raise errors.GradientError(
                f"{who}: argument {pos} is {_a(type(v).__name__)} ({_short(v)}), not a number "
                f"or array of floats; there is nothing to differentiate.\n"
                f"  at {errors.user_line()}\n  Pass floats, complex numbers or float arrays "
                f"(in lists, tuples or dicts), and pass other values through argnums or a "
                f"closure instead."
            )


def _check_numeric(v: Any, who: str, what: str) -> None:
    """A tangent or cotangent must be numbers (an integer one is cast; text, None or an
    object would become NaN or an error deep inside NumPy)."""
    if isinstance(v, Tensor):
        return
    if _dtype_kind(v) not in "biufc":
        raise errors.GradientError(
            f"{who}: the {what} is {_a(type(v).__name__)} ({_short(v)}), not numbers.\n"
            f"  at {errors.user_line()}\n  Pass a float array of the matching shape (e.g. "
            f"np.ones_like(x))."
        )


def _check_not_complex_for_real(v: Any, dtype: np.dtype, who: str, what: str,
                                of: str) -> None:
    """A complex tangent or cotangent for a real value would lose its imaginary part
    (a silently wrong derivative): refused, as JAX refuses mismatched dtypes."""
    if np.dtype(dtype).kind != "c" and _dtype_kind(_value(v)) == "c":
        raise errors.GradientError(
            f"{who}: the {what} is complex but the {of} is real ({np.dtype(dtype)}); its "
            f"imaginary part would be dropped.\n  at {errors.user_line()}\n  Make the {of} "
            f"complex (x + 0j) to differentiate along complex directions, or pass a real "
            f"{what.split(' ')[0]}."
        )


def _dtype_kind(v: Any) -> str:
    """The kind of the array NumPy would make of ``v`` ('f', 'U', 'O' ...); 'O' when it
    cannot make one."""
    try:
        return arrays.asarray(v).dtype.kind
    except errors.BackendError:
        raise  # (an array chainrule will not hold: its own message)
    except Exception:
        return "O"


def _a(name: str) -> str:
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def _lift(x: Any, outer_mode: bool) -> Tensor:
    """A fresh leaf for ``x`` (connected to x's own graph when x is already traced and the
    caller records)."""
    if isinstance(x, Tensor):
        if x._node is not None and outer_mode:
            return S.copy_prim(x)
        # a constant, or a value carrying only forward-mode tangents: a new leaf keeps them
        t = Tensor._make(x._value, None, x._tangents)
    else:
        t = Tensor._make(arrays.asarray(x), None, None)
    t._node = leaf_node(t._value.shape, t._value.dtype)
    return t


def _traced(x: Any) -> bool:
    return isinstance(x, Tensor) and (x._node is not None or x._tangents is not None)


def _kind_of(x: Any) -> str:
    """How a value like ``x`` is given back: 'tensor', 'array', 'numpy' (a NumPy scalar) or
    'python' (a Python number)."""
    if isinstance(x, Tensor):
        return "tensor"
    if isinstance(x, np.generic) or getattr(x, "_cr_generic", False):
        return "numpy"  # (_cr_generic: a registered array type standing for a NumPy scalar)
    if isinstance(x, arrays.TYPES) or arrays.backend(x) not in (None, "numpy"):
        return "array"
    return "python"


_RANK = {"python": 0, "numpy": 1, "array": 2, "tensor": 3}


def _kind(xs: Any) -> str:
    """The kind of a transform's outputs: the strongest kind among its inputs' leaves
    (a float for floats, a NumPy scalar for NumPy scalars, an ndarray when any input is an
    ndarray, a constant Tensor when any input is a Tensor)."""
    kind = "python"
    for x in tree_flatten(xs)[0]:
        k = _kind_of(x)
        if _RANK[k] > _RANK[kind]:
            kind = k
    return kind


def _as_kind(v: Any, kind: str) -> Any:
    """A plain value ``v`` (array, scalar or untraced Tensor) given back as ``kind``.

    Only a 0-d value becomes a scalar; anything else is an ndarray (or a constant Tensor)."""
    if isinstance(v, Tensor):
        v = v._value
    v = arrays.asarray(v)
    if kind == "tensor":
        return Tensor._make(v, None, None)
    if v.__class__ is not np.ndarray and arrays.backend(v) not in (None, "numpy"):
        # a Dask or CuPy array, 0-d too (a scalar would compute it or copy it to host); an
        # Array API array as its library's own (the engine's XPArray holder stays inside)
        return xparray.unwrap(v)
    if v.ndim == 0 and kind != "array":
        return v.item() if kind == "python" else v[()]
    return v


def _restore(g: Any, like: Any, keep_graph: bool) -> Any:
    """Give a result the type of the argument it belongs to (a float for a float ...).

    A result that is still traced is returned as a Tensor when ``keep_graph`` (an outer
    transform differentiates it, or it depends on an outer traced value)."""
    if keep_graph and _traced(g):
        return g
    return _as_kind(g, _kind_of(like))


def _restore_jac(j: Any, like: Any, out_shape: tuple, keep_graph: bool) -> Any:
    """A Jacobian of shape ``out_shape + like.shape``: the argument's type when the output is
    a scalar (then the Jacobian is a gradient), else an ndarray (a Tensor for a Tensor)."""
    if keep_graph and _traced(j):
        return j
    if tuple(out_shape) == ():
        return _as_kind(j, _kind_of(like))
    return _as_kind(j, "tensor" if isinstance(like, Tensor) else "array")


def _plain_leaf(o: Any, kind: str, keep_graph: bool) -> Any:
    return o if keep_graph and _traced(o) else _as_kind(o, kind)


def _plain_out(x: Any, kind: str, keep_graph: bool) -> Any:
    """A transform's output structure with every Tensor leaf given back as ``kind`` (kept as
    a Tensor when it is still traced and ``keep_graph``); other leaves unchanged."""
    leaves, build = tree_flatten(x)
    return build([_plain_leaf(o, kind, keep_graph) if isinstance(o, Tensor) else o
                  for o in leaves])


def _zeros(like: Any) -> np.ndarray:
    v = arrays.asarray(_value(like))
    if v.__class__ is not np.ndarray and arrays.backend(v) not in (None, "numpy"):
        return np.zeros_like(v)  # (Dask, CuPy: of the argument's library)
    return np.zeros(v.shape, v.dtype)


def _outer_dependence(roots: list, min_seq: int) -> bool:
    """Does the graph below ``roots`` reach values traced outside this transform: a node made
    before our leaves, or a forward-mode tangent of a jvp that is still running?

    Then the gradient we return is itself a function of them, and must be recorded."""
    active = STATE.fw_active
    seen = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        tangents = n.tangents
        if tangents is not None and active:
            for fw in (*tangents[0], tangents[1]):
                if fw is not None and not active.isdisjoint(fw):
                    return True
        for p in n.parents:
            if p is None:
                continue
            if p.seq < min_seq:
                return True
            stack.append(p)
    return False


def _argnums_tuple(argnums: int | Sequence[int], n: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for a function called with {n} arguments")
    return tuple(a % n for a in nums)


class _Traced:
    """f run on fresh leaves for the chosen arguments; gives the VJP towards them.

    Recording is switched on for f's own trace wherever the transform is called (inside a
    rule during a backward pass, under ``no_grad``): a transform always computes its own
    derivative.  Whether the trace may connect to values recorded outside it follows the
    caller's grad mode."""

    def __init__(self, f: Callable, args: tuple, kwargs: dict, argnums: tuple[int, ...],
                 has_aux: bool, who: str) -> None:
        st = STATE
        outer_mode = st.grad_enabled
        self.args = args
        self.argnums = argnums
        self.in_trees = []
        self.in_leaves: list[list[Tensor]] = []
        self.kind = _kind([args[i] for i in argnums])
        call = list(args)
        for i in argnums:
            leaves, build = tree_flatten(args[i])
            for leaf in leaves:
                _check_float(leaf, who, i)
            lifted = [_lift(leaf, outer_mode) for leaf in leaves]
            self.in_leaves.append(lifted)
            self.in_trees.append((leaves, build))
            call[i] = build(lifted)
        held = None
        for i, a in enumerate(args):
            # an Array API array without NumPy's protocols among the other arguments: a
            # constant Tensor, so that NumPy code (``X @ w``) runs on it with NumPy's meaning
            if a.__class__ not in arrays.CLASSES and not isinstance(a, Tensor) and \
                    xparray.held(a):
                held = a
                if i not in argnums:
                    call[i] = Tensor._make(xparray.wrap(a), None, None)
        if held is not None:
            _one_library(args, held, who)
        if not arrays.GUARDED[0]:  # a Dask or CuPy array among the other arguments: seen now
            for a in args:
                if a.__class__ is not np.ndarray and hasattr(a, "__array_function__"):
                    arrays.backend(a)
        self.first_seq = min((t._node.seq for ls in self.in_leaves for t in ls), default=0)
        st.depth += 1
        st.grad_enabled = True
        try:
            out = _call(f, call, kwargs)
        finally:
            st.depth -= 1
            st.grad_enabled = outer_mode
        self.aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError(f"{who}(has_aux=True): the function must return (output, aux)")
            out, self.aux = out
        self.out = out
        # does the result depend on values traced outside this transform?  Then gradients
        # are recorded (create_graph) and given back as Tensors on that outer graph
        roots = [o._node for o in tree_flatten(out)[0] if isinstance(o, Tensor) and o._node is not None]
        self.outer = outer_mode and bool(roots) and _outer_dependence(roots, self.first_seq)

    def keep_graph(self) -> bool:
        return STATE.depth > 0 or self.outer

    def pull(self, cts: list, out_leaves: list, retain: bool) -> list:
        roots, seeds = [], []
        for o, c in zip(out_leaves, cts):
            if isinstance(o, Tensor) and o._node is not None:
                roots.append(o._node)
                if isinstance(o._value, xparray.XPArray) and not isinstance(c, Tensor):
                    c = arrays.on_backend_of(c, o._value)  # (a NumPy seed: the output's kind)
                seeds.append(c)
        targets = [t._node for ls in self.in_leaves for t in ls]
        create = self.keep_graph()
        if not create:
            seeds = [s._value if isinstance(s, Tensor) else s for s in seeds]
        res = backward(roots, seeds, targets=targets, create_graph=create,
                       retain_graph=retain or create) if roots else {}
        grads = []
        for (orig, build), lifted in zip(self.in_trees, self.in_leaves):
            gl = []
            for o, t in zip(orig, lifted):
                g = res.get(t._node)
                g = _zeros(t) if g is None else g
                ov = _value(o)
                if ov.__class__ is not np.ndarray and not isinstance(g, Tensor) and not \
                        isinstance(ov, (int, float, complex)):
                    g = arrays.on_backend_of(g, arrays.asarray(ov))
                gl.append(_restore(g, o, create))
            grads.append(build(gl))
        return grads


def _one_library(args: tuple, held: Any, who: str) -> None:
    """Arguments of two array libraries (a NumPy array beside an array-api-strict one) are
    refused, as the Array API standard does: nothing is moved between libraries unasked."""
    lib = arrays.backend(held)
    for i, a in enumerate(args):
        for leaf in tree_flatten(a)[0]:
            v = _value(leaf)
            if isinstance(v, np.ndarray) or (v.__class__ not in arrays.CLASSES and
                                             arrays.backend(v) not in (None, lib)):
                other = "numpy" if isinstance(v, np.ndarray) else arrays.backend(v)
                raise errors.BackendError(
                    f"{who}: argument {i} is an array of {other}, shape {np.shape(v)}, and "
                    f"another argument an array of {lib}; arrays of two libraries do not "
                    f"mix.\n"
                    f"  at {errors.user_line()}\n  Make them one library's (for "
                    f"example {lib}.asarray(x)) before the call.")


def _call(f: Callable, args: Any, kwargs: dict) -> Any:
    """f(*args, **kwargs); a traced value written into a plain NumPy array (NumPy reports
    that as a ValueError caused by our LeftGraphError) raises the LeftGraphError itself."""
    try:
        return f(*args, **kwargs)
    except ValueError as exc:
        cause = exc.__cause__
        if isinstance(cause, errors.LeftGraphError):
            raise cause.with_traceback(exc.__traceback__) from None
        raise


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """``f(*args) -> (value, gradient)``; f must return a real scalar."""

    def vg(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args))
        tr = _Traced(f, args, kwargs, nums, has_aux, "grad")
        out = tr.out
        if isinstance(out, (list, tuple, dict)):
            raise errors.GradientError(
                f"grad: the function returned a {type(out).__name__}, not a scalar.\n"
                f"  at {errors.user_line()}\n  Return the scalar loss (use has_aux=True to return "
                f"extra values beside it), or use cr.jacobian / cr.vjp for several outputs."
            )
        v = _value(out)
        shape = np.shape(v)
        if math.prod(shape) != 1:
            raise errors.GradientError(
                f"grad: the function returned an output of shape {shape}; grad needs a scalar "
                f"(one value).\n  at {errors.user_line()}\n  Reduce it (np.sum(...), np.mean(...)), "
                f"or use cr.elementwise_grad, cr.jacobian or cr.vjp for array outputs."
            )
        dt = arrays.asarray(v).dtype
        if dt.kind == "c":
            raise errors.GradientError(
                "grad: the function returned a complex value; a gradient needs a real scalar "
                "(take np.abs(...)**2 or .real of it), or use cr.vjp with a complex cotangent."
            )
        if dt.kind in "biu":
            # a bool/int output is piecewise constant (np.allclose, argmax, a comparison):
            # returning zeros would be a silent non-gradient (JAX and autograd refuse too)
            raise errors.GradientError(
                f"grad: the function returned a {dt} value, which has no derivative; a "
                f"gradient needs a real floating-point scalar.\n  at {errors.user_line()}\n"
                f"  Return the float quantity the boolean/integer result was computed from."
            )
        if dt.kind not in "f":
            dt = np.dtype(np.float64)
        grads = tr.pull([np.ones(shape, dt)], [out], retain=False)
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        keep = tr.keep_graph()
        val = _plain_out(out, tr.kind, keep)
        if has_aux:
            return (val, _plain_out(tr.aux, tr.kind, keep)), g
        return val, g

    vg.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    vg.__wrapped__ = f  # inspect.signature: f's parameters
    # (cr.compile names its outputs d_<argument>)
    vg._cr_gradient = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    return Transformed(vg, value_and_grad, (f, argnums, has_aux))


class Transformed:
    """A function a transform made (``cr.grad(f)``): calls it; pickles as the transform
    applied to ``f`` again (so it travels to another process, a dask.distributed worker,
    whenever ``f`` does), holding no thread's state."""

    __slots__ = ("_fn", "_recipe", "__name__", "__qualname__", "__wrapped__",
                 "_cr_gradient", "__dict__")

    def __init__(self, fn: Callable, transform: Callable, args: tuple) -> None:
        self._fn = fn
        self._recipe = (transform, args)
        self.__name__ = self.__qualname__ = fn.__name__
        self.__wrapped__ = fn.__wrapped__
        self._cr_gradient = fn._cr_gradient
        self.__doc__ = getattr(fn.__wrapped__, "__doc__", None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)

    def __reduce__(self) -> tuple:
        return self._recipe

    def __get__(self, obj: Any, objtype: Any = None) -> Any:  # a method, as a function is
        if obj is None:
            return self
        import functools
        return functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<chainrule {self.__name__}>"


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function, with each argument's structure, shape and dtype."""
    vg = value_and_grad(f, argnums, has_aux)

    def g(*args: Any, **kwargs: Any) -> Any:
        (val, g_) = vg(*args, **kwargs)
        if has_aux:
            return g_, val[1]
        return g_

    g.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    g.__wrapped__ = f  # inspect.signature: f's parameters
    g._cr_gradient = vg._cr_gradient
    return Transformed(g, grad, (f, argnums, has_aux))


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> Any:
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one cotangent per primal."""
    tr = _Traced(f, primals, {}, tuple(range(len(primals))), has_aux, "vjp")
    out_leaves, _ = tree_flatten(tr.out)
    keep = tr.keep_graph()

    def vjp_fn(ct: Any) -> tuple:
        cts, _ = tree_flatten(ct)
        if len(cts) != len(out_leaves):
            raise errors.ShapeError(
                f"vjp_fn: the cotangent has {len(cts)} parts but the output has {len(out_leaves)}"
            )
        fixed = []
        for o, c in zip(out_leaves, cts):
            ov = arrays.asarray(_value(o))
            _check_numeric(c, "vjp_fn", "cotangent")
            _check_not_complex_for_real(c, ov.dtype, "vjp_fn", "cotangent", "output")
            cv = c if isinstance(c, Tensor) else arrays.asarray(
                c, dtype=ov.dtype if ov.dtype.kind in "fc" else None)
            if tuple(np.shape(_value(cv))) != ov.shape:
                raise errors.ShapeError(
                    f"vjp_fn: cotangent of shape {np.shape(_value(cv))} for an output of shape "
                    f"{ov.shape}\n  at {errors.user_line()}"
                )
            fixed.append(cv)
        return tuple(tr.pull(fixed, out_leaves, retain=True))

    out = _plain_out(tr.out, tr.kind, keep)
    if has_aux:
        return out, vjp_fn, _plain_out(tr.aux, tr.kind, keep)
    return out, vjp_fn


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> Any:
    """True forward mode: ``(f(*primals), J @ tangents)`` in one pass of f."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    st = STATE
    level = st.fw_next_level
    st.fw_next_level += 1
    mark = next_seq()  # nodes recorded before this one are outside this jvp
    call = []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        pl, build = tree_flatten(p)
        tl, _ = tree_flatten(t)
        if len(pl) != len(tl):
            raise ValueError(f"jvp: tangent {i} does not have the structure of primal {i}")
        lifted = []
        for pv, tv in zip(pl, tl):
            _check_float(pv, "jvp", i)
            if isinstance(pv, Tensor) and (pv._node is not None or pv._tangents is not None):
                x = S.copy_prim(pv)
            else:
                x = Tensor._make(arrays.asarray(_value(pv)), None, None)
            _check_numeric(tv, "jvp", f"tangent of argument {i}")
            tv = tv if isinstance(tv, Tensor) else arrays.asarray(tv)
            if tuple(tv.shape) != x.shape:
                raise errors.ShapeError(
                    f"jvp: tangent of shape {tuple(tv.shape)} for a primal of shape {x.shape}"
                )
            _check_not_complex_for_real(tv, x.dtype, "jvp", f"tangent of argument {i}",
                                        "primal")
            if tv.dtype != x.dtype:
                tv = cast_like(tv, x.dtype)
            x._tangents = dict(x._tangents or {})
            x._tangents[level] = tv
            lifted.append(x)
        call.append(build(lifted))
    kind = _kind(primals)
    st.depth += 1
    st.fw_active.add(level)
    try:
        out = _call(f, call, {})
    finally:
        st.depth -= 1
        st.fw_active.discard(level)
    aux = None
    if has_aux:
        out, aux = out
    leaves, build = tree_flatten(out)
    prim_out, tan_out = [], []
    for o in leaves:
        if isinstance(o, Tensor):
            fw = o._tangents or {}
            t = fw.get(level)
            if t is None:
                t = _zeros(o)
            rest = {k: v for k, v in fw.items() if k != level} or None
            prim_out.append(Tensor._make(o._value, o._node, rest))
            tan_out.append(t)
        else:
            prim_out.append(o)
            tan_out.append(_zeros(o))
    # inside another transform the results stay Tensors (it differentiates them); at the
    # top they are plain values of the primals' kind, unless they depend on a Tensor traced
    # outside (recorded by the caller): then they stay Tensors on that graph
    roots = [x._node for x in prim_out + tan_out if isinstance(x, Tensor) and x._node is not None]
    keep = st.depth > 0 or (st.grad_enabled and bool(roots) and _outer_dependence(roots, mark))
    res = (build([_plain_leaf(x, kind, keep) for x in prim_out]),
           build([_plain_leaf(x, kind, keep) for x in tan_out]))
    if has_aux:
        return res + (_plain_out(aux, kind, keep),)
    return res


def linearize(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``(f(*primals), jvp_fn)``: jvp_fn(*tangents) re-runs forward mode at the primals."""
    out = jvp(f, primals, [np.zeros_like(_value(p)) for p in primals])[0]
    return out, lambda *tangents: jvp(f, primals, tangents)[1]


def _stack_last(parts: list, out_shape: tuple, in_shape: tuple) -> Any:
    if not parts:
        return np.zeros(out_shape + in_shape)
    st = stack(parts, axis=-1)
    return reshape(st, out_shape + in_shape)


def jacobian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Reverse mode: one forward pass, one backward pass per output element."""

    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args))
        for i in nums:
            if isinstance(args[i], (list, tuple, dict)):
                raise TypeError("jacobian: arguments must be arrays (not lists/dicts of them)")
        tr = _Traced(f, args, kwargs, nums, False, "jacobian")
        out = tr.out
        ov = arrays.asarray(_value(out))
        if not isinstance(out, (Tensor, np.ndarray, float, int, complex, np.number)):
            raise TypeError("jacobian: the function must return one array")
        rows: list[list] = [[] for _ in nums]
        dt = ov.dtype if ov.dtype.kind in "fc" else np.dtype(np.float64)
        for k in range(ov.size):
            e = np.zeros(ov.size, dt)
            e[k] = 1
            gs = tr.pull([e.reshape(ov.shape)], [out], retain=True)
            if dt.kind == "c":
                # a cotangent e_k gives d Re(f_k), i e_k gives d Im(f_k) (each as d/dRe(x) in
                # its real part): row k is d f_k / d Re(x), the same column jacfwd builds
                gi = tr.pull([1j * e.reshape(ov.shape)], [out], retain=True)
                gs = [np.real(a) + 1j * np.real(b) for a, b in zip(gs, gi)]
            for r, g in zip(rows, gs):
                r.append(g)
        res = []
        for r, i in zip(rows, nums):
            in_shape = np.shape(_value(args[i]))
            if not r:
                res.append(xparray.unwrap(arrays.on_backend_of(
                    np.zeros(ov.shape + in_shape), arrays.asarray(_value(args[i])))))
                continue
            # (gradients as the engine holds them: an Array API array in its XPArray, which
            # NumPy's stack would otherwise convert through __array__)
            j = reshape(stack([x if isinstance(x, Tensor) else arrays.asarray(x) for x in r],
                              axis=0), ov.shape + in_shape)
            res.append(_restore_jac(j, args[i], ov.shape, tr.keep_graph()))
        return res[0] if isinstance(argnums, int) else tuple(res)

    return jac


jacrev = jacobian


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Forward mode: one pass of f per input element."""

    def jac(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args))
        res = []
        for i in nums:
            x = args[i]
            xv = arrays.asarray(_value(x))
            cols = []
            out_shape: tuple = ()
            for k in range(xv.size):
                e = np.zeros(xv.size, xv.dtype)
                e[k] = 1

                def fi(xi: Any, i: int = i) -> Any:
                    a = list(args)
                    a[i] = xi
                    return f(*a, **kwargs)

                out, t = jvp(fi, (x,), (arrays.on_backend_of(e.reshape(xv.shape), xv),))
                out_shape = np.shape(_value(out))
                cols.append(t if isinstance(t, Tensor) else arrays.asarray(t))
            j = _stack_last(cols, out_shape, xv.shape)
            # jvp gives Tensors at the top only when they depend on values traced outside
            res.append(_restore_jac(j, x, out_shape, STATE.depth > 0 or _traced(j)))
        return res[0] if isinstance(argnums, int) else tuple(res)

    return jac


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Second derivatives: reverse over reverse (nest grad/jacfwd for other orders)."""
    return jacobian(jacobian(f, argnums), argnums)


def elementwise_grad(f: Callable, argnums: int = 0) -> Callable:
    """The VJP with a cotangent of ones: for elementwise f, the derivative at each element."""

    def eg(*args: Any, **kwargs: Any) -> Any:
        tr = _Traced(f, args, kwargs, (argnums % len(args),), False, "elementwise_grad")
        ov = arrays.asarray(_value(tr.out))
        dt = ov.dtype if ov.dtype.kind in "fc" else np.dtype(np.float64)
        return tr.pull([np.ones(ov.shape, dt)], [tr.out], retain=False)[0]

    return eg


def hvp(f: Callable, x: Any, v: Any) -> Any:
    """Hessian-vector product by forward over reverse: one pass, no Hessian built."""
    return jvp(grad(f), (x,), (v,))[1]


__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacobian", "jacrev", "jacfwd",
    "hessian", "elementwise_grad", "hvp", "tree_flatten",
]
