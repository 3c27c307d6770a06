"""Run an op-table row's NumPy function on JAX: a reference for its derivatives.

``J`` wraps a JAX array (or tracer) and takes part in NumPy's dispatch exactly as a chainrule
Tensor does (NEP 13 ``__array_ufunc__``, NEP 18 ``__array_function__``, operators, methods),
forwarding every call to the function of the same name in ``jax.numpy`` (``jax.numpy.linalg``,
``jax.numpy.fft``).  A row written as ``lambda x: np.sum(np.sinc(x) * x.T)`` thus becomes a
jax.numpy function with no second copy to maintain.  Anything that cannot be translated
(a NumPy function JAX lacks, a conversion to a plain array) raises, and the row is skipped
(the tests count those); a translation whose value differs from NumPy's is never used.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Any, Callable

import numpy as np

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core

jax.config.update("jax_enable_x64", True)
# compiled executables are cached on disk (CHAINRULE_JAX_CACHE=off disables, or names the
# folder): a second run of these tests skips XLA's compilations
_CACHE = os.environ.get("CHAINRULE_JAX_CACHE",
                        os.path.join(tempfile.gettempdir(), "chainrule-jax-cache"))
if _CACHE.lower() not in ("", "0", "off", "no"):
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

_MODULES = {"numpy.linalg": jnp.linalg, "numpy.fft": jnp.fft}


class Untranslatable(Exception):
    """The row's function uses something with no jax.numpy counterpart."""


def _jnp_function(func: Callable) -> Callable:
    mod = getattr(func, "__module__", "numpy") or "numpy"
    space = _MODULES.get(mod, jnp)
    f = getattr(space, func.__name__, None)
    if f is None:
        raise Untranslatable(f"{mod}.{func.__name__} has no jax.numpy counterpart")
    return f


def _as_array(a: Any) -> Any:
    if isinstance(a, list) and all(isinstance(e, (int, float, bool, np.number)) for e in a):
        return jnp.asarray(a)
    return a


def wrap(obj: Any) -> Any:
    if isinstance(obj, jax.Array):
        return J(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named result tuple
        return type(obj)(*[wrap(o) for o in obj])
    if isinstance(obj, (tuple, list)):
        return type(obj)(wrap(o) for o in obj)
    return obj


def unwrap(obj: Any) -> Any:
    if isinstance(obj, J):
        return obj.v
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*[unwrap(o) for o in obj])
    if isinstance(obj, (tuple, list)):
        return type(obj)(unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: unwrap(v) for k, v in obj.items()}
    return obj


class J:
    """A JAX value that NumPy calls dispatch to jax.numpy."""

    __slots__ = ("v",)
    __array_priority__ = 2000
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, v: Any) -> None:
        self.v = v

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        f = getattr(jnp, ufunc.__name__, None)
        if f is None:
            raise Untranslatable(f"np.{ufunc.__name__} has no jax.numpy counterpart")
        if method != "__call__":
            f = getattr(f, method, None)
            if f is None:
                raise Untranslatable(f"np.{ufunc.__name__}.{method}")
        if kw.get("out") is not None:
            raise Untranslatable("out=")
        kw.pop("out", None)
        return wrap(f(*unwrap(inputs), **unwrap(kw)))

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        f = _jnp_function(func)
        args, kwargs = unwrap(args), unwrap(kwargs)
        try:
            return wrap(f(*args, **kwargs))
        except TypeError as exc:
            # jax.numpy takes arrays where NumPy also takes lists of numbers (q, indices)
            if "requires ndarray or scalar arguments" not in str(exc):
                raise
            return wrap(f(*[_as_array(a) for a in args], **kwargs))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise Untranslatable("conversion of a traced JAX value to a NumPy array")

    # in-place writes become functional updates of the wrapped value
    def __setitem__(self, idx: Any, val: Any) -> None:
        self.v = self.v.at[unwrap(idx)].set(unwrap(val))

    def __getitem__(self, idx: Any) -> Any:
        idx = unwrap(idx)
        if isinstance(idx, list):  # NumPy reads a list index as an index array
            idx = jnp.asarray(idx)
        return wrap(self.v[idx])

    def __len__(self) -> int:
        return len(self.v)

    def __iter__(self) -> Any:
        return (wrap(self.v[i]) for i in range(len(self.v)))

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.v, name)
        if callable(attr):
            return lambda *a, **k: wrap(attr(*unwrap(a), **unwrap(k)))
        return wrap(attr)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"J({self.v!r})"


def _binary(name: str) -> None:
    def op(self: J, other: Any) -> Any:
        return wrap(getattr(self.v, name)(unwrap(other)))
    setattr(J, name, op)


for _n in ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
           "xor", "lshift", "rshift"]:
    _binary(f"__{_n}__")
    _binary(f"__r{_n}__")
for _n in ["eq", "ne", "lt", "le", "gt", "ge"]:
    _binary(f"__{_n}__")
for _n in ["neg", "pos", "abs", "invert"]:
    setattr(J, f"__{_n}__", lambda self, _n=_n: wrap(getattr(self.v, f"__{_n}__")()))


def jax_function(row: Any) -> Callable:
    """The row's function on JAX values: ``row.jax_fn`` if given, else ``row.fn`` run on
    ``J``-wrapped arguments (JAX arrays in, a JAX array out)."""
    if row.jax_fn is not None:
        return row.jax_fn

    def f(*args: Any) -> Any:
        out = row.fn(*[J(a) if isinstance(a, jax.Array) else a for a in args])
        out = unwrap(out)
        if not isinstance(out, jax.Array):
            raise Untranslatable(f"the result is a {type(out).__name__}, not a JAX array")
        return out

    return f


def real_loss(f: Callable, u: np.ndarray) -> Callable:
    """<u, f(x)> (the real part), as harness.scalarize, in jax.numpy."""
    def s(*a: Any) -> Any:
        return jnp.sum(jnp.real(jnp.conj(u) * f(*a)))
    return s


def vjp_and_hvp(row: Any, args: list, nums: tuple, u: np.ndarray, vs: dict) -> tuple:
    """(function, inputs) computing JAX's value of the row's function, its VJP with ``u`` in
    each argument of ``nums`` and, for the arguments in ``vs``, the Hessian-vector product of
    <u, f> with vs[i] (forward over reverse); for ``trace``."""
    nums = tuple(nums)
    xs0 = tuple(jnp.asarray(args[i]) for i in nums)

    def at(xs: tuple) -> list:
        a = list(args)
        for i, x in zip(nums, xs):
            a[i] = x
        return a

    f = _fast(lambda *xs: jax_function(row)(*at(xs)), xs0)

    def run(xs: tuple) -> tuple:
        out = f(*xs)
        s = real_loss(f, u)
        grads, hvps = {}, {}
        for k, i in enumerate(nums):
            def gk(x: Any, k: int = k) -> Any:
                return jax.grad(s, argnums=k)(*xs[:k], x, *xs[k + 1:])
            if i in vs:  # the gradient comes as the primal of its JVP
                grads[i], hvps[i] = jax.jvp(gk, (xs[k],), (jnp.asarray(vs[i]),))
            else:
                grads[i] = gk(xs[k])
        return out, grads, hvps

    return run, (xs0,)


def _fast(fn: Callable, xs: tuple) -> Callable:
    """fn traced once to a jaxpr: differentiating the jaxpr does not rerun the Python of
    fn (the shim, jax.numpy's wrappers) for every derivative taken."""
    with jax.disable_jit():  # jax.numpy's own jits inlined: a flat jaxpr, quick to differentiate
        closed = jax.make_jaxpr(fn)(*xs)
    run = jax_core.jaxpr_as_fun(closed)
    return lambda *ys: run(*ys)[0]


def derivative_tensors(row: Any, args: list, i: int, u: np.ndarray, order: int) -> tuple:
    """(function, inputs) computing [D_1, ..., D_order], JAX's derivative tensors of <u, f>
    in argument i (D_1 the gradient, D_k of shape x.shape * k), forward over reverse."""
    def fi(x: Any) -> Any:
        a = list(args)
        a[i] = x
        return jax_function(row)(*a)

    s = real_loss(_fast(fi, (jnp.asarray(args[i]),)), u)

    fns = [jax.grad(s)]
    for _ in range(order - 1):
        fns.append(jax.jacfwd(fns[-1]))
    return (lambda x: [g(x) for g in fns]), (jnp.asarray(args[i]),)


class Traced:
    """A JAX computation traced once (to a jaxpr); run many of them in one compilation."""

    def __init__(self, fn: Callable, inputs: tuple) -> None:
        self.flat, _ = jax.tree_util.tree_flatten(inputs)
        self.closed, shape = jax.make_jaxpr(fn, return_shape=True)(*inputs)
        self.out_tree = jax.tree_util.tree_structure(shape)


def trace(build: Callable[[], tuple]) -> Traced | str:
    """The computation ``build()`` returns as (function, inputs), traced; or why JAX cannot
    run it (a short message)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Traced(*build())
    except Exception as exc:
        return f"JAX cannot run it: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


def run_traced(items: list, batch: int = 48) -> list:
    """Evaluate Traced computations, ``batch`` per XLA compilation (compiling is what costs:
    ~50 ms per executable on CPU, nearly independent of its size); NumPy results in the
    traced output structure.  A batch that fails is rerun one computation at a time."""
    results: list = [None] * len(items)

    def run(chunk: list) -> list:
        def together(flats: list) -> list:
            return [jax_core.jaxpr_as_fun(t.closed)(*fl) for t, fl in zip(chunk, flats)]
        outs = jax.jit(together)([t.flat for t in chunk])
        return [jax.tree_util.tree_unflatten(t.out_tree, [np.asarray(o) for o in out])
                for t, out in zip(chunk, outs)]

    for k in range(0, len(items), batch):
        chunk = items[k:k + batch]
        try:
            results[k:k + len(chunk)] = run(chunk)
        except Exception:
            for j, t in enumerate(chunk):
                try:
                    results[k + j] = run([t])[0]
                except Exception as exc:
                    results[k + j] = f"JAX failed: {type(exc).__name__}: {str(exc)[:120]}"
    return results
