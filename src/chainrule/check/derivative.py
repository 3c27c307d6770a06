"""check_derivative: a hand-written derivative against chainrule's and the numerical one.

The seed's workflow, done thoroughly: ``df(x)`` (user code, run on plain numbers: it is
being checked, not differentiated) against chainrule's exact derivative of ``f`` and a
finite difference with an error estimate.  Several parameters are a tuple:
``check_derivative(loss, backward, (W1, b1, W2, b2))`` calls ``loss(W1, b1, W2, b2)`` and
expects ``backward(W1, b1, W2, b2)`` to return one gradient per parameter.

When they disagree it looks for the cause: a function that df evaluates at a point where f
does not (the seed's sigma'(x) for sigma'(w x)), confirmed by re-running df with that point
corrected; a constant factor; a sign; a transposed Jacobian; a forgotten ReLU mask; the true
derivative of another point.

Code written with ``math.*`` is traced with NumPy standing in for math in *copies* of the
user's functions (their globals and closures copied, the copies calling each other): the
user's modules are never modified, so other threads see nothing of it.
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import errors
from .gradcheck import RTOL_FLOOR, SAFETY, SCALE_FLOOR, Problem, _arg_names, _numerical_jacobian
from .numerical import plain
from .points import _MATH_NUMPY, _is_user, _MathShim, _wrap_math, compare, op_calls, python_calls
from .report import fmt, fmt_err
from .. import transforms as T
from ..core.tensor import Tensor

# ---------------------------------------------------------------------------------
# copies of user code that see other globals (never a change to the user's modules)

_KEEP = object()


class Rebound:
    """Copies of user functions in which some global (or closure) values are replaced.

    ``replace(value)`` returns the replacement of a value the code can reach, or ``_KEEP``.
    ``rb.value(f)`` is f itself when f is not user code, else a copy of f whose globals are
    a copy of f's module globals in which every value is passed through ``rb.value`` too
    (so the helpers f calls are copies as well), with the same for closure cells, bound
    methods, ``functools.partial`` and user modules reached as ``module.name``.  Nothing of
    the originals is modified: another thread calling them sees them as they were.
    """

    def __init__(self, replace: Callable[[Any], Any]) -> None:
        self._replace = replace
        self._fns: dict[int, Any] = {}
        self._globals: dict[int, dict] = {}
        self._mods: dict[int, Any] = {}
        self._alive: list[Any] = []     # keep the originals alive: their ids stay theirs
        self.changed = False

    def value(self, v: Any) -> Any:
        r = self._replace(v)
        if r is not _KEEP:
            self.changed = True
            return r
        if isinstance(v, types.FunctionType):
            return self.function(v) if _is_user(v.__code__.co_filename) else v
        if isinstance(v, types.MethodType) and isinstance(v.__func__, types.FunctionType):
            fn = self.function(v.__func__) if _is_user(v.__func__.__code__.co_filename) else None
            return v if fn is None or fn is v.__func__ else types.MethodType(fn, v.__self__)
        if isinstance(v, functools.partial):
            inner = self.value(v.func)
            return v if inner is v.func else functools.partial(inner, *v.args, **v.keywords)
        if isinstance(v, types.ModuleType):
            fname = getattr(v, "__file__", None)
            if fname and _is_user(fname):
                return self.module(v)
        return v

    def function(self, f: types.FunctionType) -> types.FunctionType:
        key = id(f)
        if key in self._fns:
            return self._fns[key]
        self._alive.append(f)
        g = self._globals_of(f.__globals__)
        cells = None
        if f.__closure__ is not None:
            cells = tuple(types.CellType() for _ in f.__closure__)
        new = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, cells)
        new.__kwdefaults__ = f.__kwdefaults__
        new.__qualname__ = f.__qualname__
        new.__module__ = f.__module__
        new.__dict__.update(f.__dict__)
        self._fns[key] = new
        self._fill_globals(f.__globals__, g)
        if cells is not None:
            for old, cell in zip(f.__closure__ or (), cells, strict=True):
                try:
                    cell.cell_contents = self.value(old.cell_contents)
                except ValueError:       # an empty cell (a name assigned later)
                    pass
        return new

    def _globals_of(self, g: dict) -> dict:
        ng = self._globals.get(id(g))
        if ng is None:
            ng = self._globals[id(g)] = {}
            self._alive.append(g)
        return ng

    def _fill_globals(self, g: dict, ng: dict) -> None:
        if ng or not g:
            return
        ng.update(g)                     # every name first (__builtins__, constants ...)
        for k, v in list(g.items()):
            if k.startswith("__") and k.endswith("__"):
                continue
            nv = self.value(v)
            if nv is not v:
                ng[k] = nv

    def module(self, m: types.ModuleType) -> types.ModuleType:
        view = self._mods.get(id(m))
        if view is None:
            self._alive.append(m)
            view = self._mods[id(m)] = _ModuleView(m, self)
        return view


class _ModuleView(types.ModuleType):
    """A user module as ``Rebound`` sees it: attributes passed through ``rb.value``."""

    def __init__(self, orig: types.ModuleType, rb: Rebound) -> None:
        super().__init__(orig.__name__, orig.__doc__)
        self.__dict__["_orig_"] = orig
        self.__dict__["_rb_"] = rb
        self.__dict__["_cache_"] = {}

    def __getattr__(self, name: str) -> Any:
        cache = self.__dict__["_cache_"]
        if name not in cache:
            cache[name] = self.__dict__["_rb_"].value(getattr(self.__dict__["_orig_"], name))
        return cache[name]


_MATH_IDS = {id(getattr(math, n)): n for n in [*_MATH_NUMPY, "log"]}


def numpy_math(*fns: Any) -> tuple[list[Any], bool]:
    """Copies of ``fns`` in which ``math`` (and math functions imported by name) dispatch to
    NumPy for Tensors, and whether anything was replaced.  The originals are untouched."""
    shim = _MathShim("math")
    wrappers: dict[str, Callable] = {}

    def replace(v: Any) -> Any:
        if v is math:
            return shim
        n = _MATH_IDS.get(id(v))
        if n is not None and v is getattr(math, n):
            if n not in wrappers:
                wrappers[n] = _wrap_math(n)
            return wrappers[n]
        return _KEEP

    rb = Rebound(replace)
    out = [rb.value(f) for f in fns]
    return out, rb.changed


# ---------------------------------------------------------------------------------
# the report


@dataclass
class ParamResult:
    """One parameter's comparison (check_derivative with a tuple of parameters)."""

    name: str
    shape: tuple
    ok: bool = False
    user: Any = None
    exact: Any = None
    numerical: Any = None
    num_err: Any = None
    worst: dict | None = None
    kinks: list[str] = field(default_factory=list)
    message: str = ""


class DerivativeReport:
    """What check_derivative found; truthy when df is right.

    ``status``: "ok", "wrong" (df returned something that is not the derivative), or
    "error" (the check could not be done: calling f or df raised; ``error`` says what).
    With a tuple of parameters ``parts`` holds one :class:`ParamResult` each and ``wrong``
    the names of those df gets wrong; ``user``, ``exact`` and ``numerical`` are tuples.
    """

    def __init__(self) -> None:
        self.ok = False
        self.x: Any = None
        self.user: Any = None          # df(x)
        self.exact: Any = None         # chainrule
        self.numerical: Any = None     # finite differences
        self.num_err: Any = None
        self.exact_note = ""
        self.worst: dict | None = None
        self.causes: list[str] = []
        self.notes: list[str] = []
        self.kinks: list[str] = []
        self.error = ""
        self.raised = False            # error: f or df raised (not a verdict on df)
        self.name = "df"
        self.fname = "f"
        self.params: list[str] = []
        self.parts: list[ParamResult] = []
        self.multi = False

    @property
    def status(self) -> str:
        return "ok" if self.ok else ("error" if self.raised else "wrong")

    @property
    def wrong(self) -> list[str]:
        return [p.name for p in self.parts if not p.ok]

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"<DerivativeReport {self.name}: {self.status}>"

    def _val(self, v: Any) -> str:
        if v is None:
            return "-"
        a = np.asarray(v)
        if a.size == 1:
            return fmt(a.reshape(-1)[0].item())
        return np.array2string(a, precision=6, separator=", ")

    def _status_text(self) -> str:
        if self.ok:
            return "OK"
        if self.raised:
            return "NOT CHECKED"
        if self.multi and self.parts and self.wrong and not self.error:
            return f"{self.name} is WRONG for {', '.join(self.wrong)}"
        return f"{self.name} is WRONG"

    def __str__(self) -> str:
        if self.multi:
            where = "(" + ", ".join(self.params) + ")"
            lines = [f"check_derivative({self.fname}, {self.name}) at {where}: "
                     f"{self._status_text()}"]
        else:
            lines = [f"check_derivative({self.fname}, {self.name}) at x = {self._val(self.x)}: "
                     f"{self._status_text()}"]
        if self.error:
            lines.append(f"  {self.error}")
            return "\n".join(lines)
        if self.multi:
            lines.extend(self._multi_rows())
        else:
            lines.extend(self._single_rows())
        for c in self.causes:
            lines.append(("cause: " if c is self.causes[0] else "  ") + c)
        for k in self.kinks:
            lines.append(f"  non-differentiable point (not checked): {k}")
        if self.exact_note and self.multi:
            lines.append(f"note: chainrule's derivative: {self.exact_note}")
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)

    def _single_rows(self) -> list[str]:
        lines = []
        scalar = np.size(self.user) == 1 if self.user is not None else True
        if scalar or self.worst is None:
            rows = [(f"{self.name} (yours)", self._val(self.user), ""),
                    ("chainrule", self._val(self.exact), self.exact_note or "exact"),
                    ("numerical", self._val(self.numerical),
                     f"finite differences, error estimate {fmt_err(self.num_err)}")]
        else:
            w = self.worst
            rows = [(f"{self.name} (yours)", fmt(w["user"]), f"worst element {w['index']}"),
                    ("chainrule", fmt(w["exact"]), self.exact_note or "exact"),
                    ("numerical", fmt(w["num"]), f"error estimate {fmt_err(w['err'])}")]
        wd = max(len(r[0]) for r in rows)
        vw = max(len(r[1]) for r in rows)
        for a, b, c in rows:
            lines.append(f"  {a.ljust(wd)}  {b.ljust(vw)}" + (f"  ({c})" if c else ""))
        if self.worst is not None and not self.ok:
            lines.append("  " + _err_line(self.name, self.worst))
        return lines

    def _multi_rows(self) -> list[str]:
        lines = []
        wd = max(len(p.name) for p in self.parts)
        sw = max(len(str(p.shape)) for p in self.parts)
        for p in self.parts:
            head = f"  {p.name.ljust(wd)} {str(p.shape).ljust(sw)}  "
            if p.ok:
                lines.append(head + "ok")
                continue
            if p.message:
                lines.append(head + f"WRONG: {p.message}")
                continue
            w = p.worst
            if w is None:
                lines.append(head + "WRONG")
                continue
            many = f", {w['n_bad']} of {w['n']} elements" if w["n"] > 1 else ""
            at = f" {w['index']}" if w["index"] else ""
            lines.append(head + f"WRONG{many}; worst{at}: yours {fmt(w['user'])}, chainrule "
                         f"{fmt(w['exact'])}, numerical {fmt(w['num'])} (abs err "
                         f"{fmt_err(w['abs'])}, tolerance {fmt_err(w['tol'])})")
        return lines


def _err_line(name: str, w: dict) -> str:
    return (f"{name} - truth: abs err {fmt_err(w['abs'])}, rel err {fmt_err(w['rel'])}, "
            f"tolerance {fmt_err(w['tol'])}"
            + (f"; {w['n_bad']} of {w['n']} elements wrong" if w["n"] > 1 else ""))


def _fname(f: Any) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def _as_input(x: Any, what: str) -> Any:
    """A float for a Python/NumPy scalar, a float64 array for an array."""
    scalar_in = np.ndim(plain(x)) == 0 and not isinstance(plain(x), np.ndarray)
    try:
        xa = np.asarray(plain(x))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"check_derivative: {what} must be a number or a float array "
                        f"({exc})") from None
    if xa.dtype.kind == "c":
        raise ValueError("check_derivative: complex x is not supported; use cr.gradcheck")
    if xa.dtype.kind not in "fiu":
        raise TypeError(f"check_derivative: {what} must be a number or a float array, got "
                        f"{xa.dtype} (several parameters: pass a tuple)")
    x64 = xa.astype(np.float64)
    return float(x64) if scalar_in else x64


def _describe_raise(who: str, args: str, exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    site = ""
    tb = exc.__traceback__
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if _is_user(fn):
            site = f" (at {fn}:{tb.tb_lineno})"
        tb = tb.tb_next
    return f"{who}({args}) raised {type(exc).__name__}" + (f": {msg}" if msg else "") + site


# ---------------------------------------------------------------------------------


def check_derivative(f: Callable, df: Callable, x: Any, *, rtol: float | None = None,
                     atol: float | None = None, explain: bool = True) -> DerivativeReport:
    """Check a hand-written derivative ``df`` of ``f`` at ``x``.

    ``df(x)`` must return what chainrule's derivative would be: a number for scalar ``x``
    and scalar ``f``, the gradient (x's shape) for a scalar ``f`` of an array, the Jacobian
    (``f(x).shape + x.shape``) otherwise.  Several parameters: ``x`` a tuple
    ``(W1, b1, W2, b2)``; then f and df are called as ``f(W1, b1, W2, b2)`` and df returns a
    tuple (or list) of the derivatives with respect to each, compared one by one (a list or
    an array ``x`` is one array parameter).

    ``df`` runs on plain numbers (math.* is fine); ``f`` is differentiated by chainrule
    (code written with ``math.*`` is traced in a copy of f in which NumPy stands in for
    math; the user's modules are not modified).  Returns a report: truthy when df agrees;
    ``str(report)`` shows df's, chainrule's and the numerical value, and the cause when it
    finds one.  ``report.status`` is "ok", "wrong", or "error" when f or df raised.
    """
    rep = DerivativeReport()
    rep.name, rep.fname = _fname(df), _fname(f)
    rep.name = "df" if rep.name == "<lambda>" else rep.name
    rep.fname = "f" if rep.fname == "<lambda>" else rep.fname
    multi = isinstance(x, tuple)
    if multi and not x:
        raise ValueError("check_derivative: an empty tuple of parameters")
    raw = list(x) if multi else [x]
    n = len(raw)
    names = _arg_names(f, n) if multi else ["x"]
    xins = [_as_input(v, f"parameter {i} ({names[i]})" if multi else "x")
            for i, v in enumerate(raw)]
    rep.multi = multi
    rep.params = names
    rep.x = tuple(xins) if multi else xins[0]
    shown = ", ".join(_short(v) for v in xins)
    try:
        P = Problem(f, xins, list(range(n)), names=names)
    except Exception as exc:
        rep.error = _describe_raise(rep.fname, shown, exc)
        rep.raised = True
        return rep
    out_shape = np.shape(plain(P.out0))
    if np.iscomplexobj(plain(P.out0)):
        raise ValueError("check_derivative: f returns complex values; use cr.gradcheck")
    jshapes = [out_shape + np.shape(v) for v in xins]
    parts = [ParamResult(nm, tuple(np.shape(v))) for nm, v in zip(names, xins, strict=True)]
    rep.parts = parts
    # numerical
    nums, errs, skips = [], [], []
    for k, js in enumerate(jshapes):
        D, E, K, U, L, R = _numerical_jacobian(P, k)
        num, err, skip = D.reshape(js), E.reshape(js), (K | U).reshape(js)
        nums.append(num)
        errs.append(err)
        skips.append(skip)
        pr = parts[k]
        pr.numerical = num.item() if num.size == 1 else num
        pr.num_err = float(np.max(err, initial=0.0))
        label = f"{names[k]} " if multi else ""
        for flat in np.flatnonzero(K):
            idx = np.unravel_index(int(flat), js) if js else ()
            ix = "[" + ", ".join(str(int(i)) for i in idx) + "] " if idx else ""
            rep.kinks.append(f"{label}{ix}one-sided slopes {fmt(L.reshape(-1)[flat])} and "
                             f"{fmt(R.reshape(-1)[flat])}")
    # exact
    exacts = _exact(f, xins, jshapes, rep, multi)
    for pr, J in zip(parts, exacts, strict=True):
        pr.exact = None if J is None else (J.item() if J.size == 1 else J)
    # yours
    try:
        user = df(*xins)
    except Exception as exc:
        rep.error = _describe_raise(rep.name, shown, exc)
        rep.raised = True
        _summarise(rep)
        return rep
    users = _user_parts(user, rep, n, names)
    if users is None:
        _summarise(rep)
        return rep
    uas: list[np.ndarray | None] = []
    for k, u in enumerate(users):
        ua = _user_array(u, jshapes[k], rep.name, names[k] if multi else None, parts[k])
        uas.append(ua)
    if not multi and parts[0].message:
        rep.error = parts[0].message
        _summarise(rep)
        return rep
    truths: list[np.ndarray] = []
    uses: list[np.ndarray] = []
    for k, ua in enumerate(uas):
        truth = exacts[k] if exacts[k] is not None else nums[k]
        truths.append(truth)
        uses.append(~skips[k])
        if ua is None:
            continue
        _compare(parts[k], ua, truth, nums[k], errs[k], skips[k], exacts[k], jshapes[k],
                 rtol, atol, rep)
    rep.ok = all(p.ok for p in parts)
    _summarise(rep)
    if not rep.ok and explain:
        try:
            rep.causes = _explain(f, df, xins, uas, truths, uses, [e is not None for e in exacts],
                                  rep.fname, rep.name, names if multi else None)
        except Exception as exc:
            rep.notes.append(f"could not look for the cause: {type(exc).__name__}: {exc}")
    return rep


def _summarise(rep: DerivativeReport) -> None:
    """The single-parameter fields (and tuples of them with several parameters)."""
    ps = rep.parts
    if not ps:
        return
    if rep.multi:
        rep.user = tuple(p.user for p in ps)
        rep.exact = None if all(p.exact is None for p in ps) else tuple(p.exact for p in ps)
        rep.numerical = tuple(p.numerical for p in ps)
        rep.num_err = max((p.num_err for p in ps if p.num_err is not None), default=None)
        bad = [p for p in ps if not p.ok and p.worst is not None]
        rep.worst = bad[0].worst if bad else None
    else:
        p = ps[0]
        rep.user, rep.exact, rep.numerical = p.user, p.exact, p.numerical
        rep.num_err, rep.worst = p.num_err, p.worst


def _user_parts(user: Any, rep: DerivativeReport, n: int, names: list[str]) -> list | None:
    if not rep.multi:
        return [user]
    if isinstance(user, tuple | list) and len(user) == n:
        return list(user)
    if isinstance(user, tuple | list):
        rep.error = (f"{rep.name} returned {len(user)} derivatives for {n} parameters "
                     f"({', '.join(names)}): it must return one per parameter, in order")
    else:
        rep.error = (f"{rep.name} returned one {type(user).__name__}; with {n} parameters "
                     f"({', '.join(names)}) it must return a tuple of {n} derivatives")
    return None


def _user_array(u: Any, jshape: tuple, dn: str, pname: str | None,
                pr: ParamResult) -> np.ndarray | None:
    what = f"{dn}'s derivative for {pname}" if pname else dn
    if u is None:
        pr.message = (f"{what} is None" if pname else f"{dn} returned None") + \
            " (a missing return?)"
        return None
    try:
        ua = np.asarray(plain(u), dtype=np.float64)
    except (TypeError, ValueError):
        pr.message = (f"{what} is a {type(u).__name__}, not a number or array" if pname else
                      f"{dn} returned {type(u).__name__}, not a number or array")
        return None
    pr.user = ua.item() if ua.size == 1 and ua.ndim == 0 else ua
    if ua.shape != jshape:
        if ua.size == int(np.prod(jshape)) and ua.size == 1:
            return ua.reshape(jshape)
        if pname:
            pr.message = (f"shape {ua.shape}, the derivative with respect to {pname} has shape "
                          f"{jshape} (f's shape + {pname}'s)")
        else:
            pr.message = (f"{dn} returned shape {ua.shape}; the derivative of f at x has "
                          f"shape {jshape} (f(x).shape + x.shape)")
        if ua.shape == jshape[::-1]:
            pr.message += ": it looks transposed"
        return None
    return ua


def _compare(pr: ParamResult, ua: np.ndarray, truth: np.ndarray, num: np.ndarray,
             err: np.ndarray, skip: np.ndarray, exact: np.ndarray | None, jshape: tuple,
             rtol: float | None, atol: float | None, rep: DerivativeReport) -> None:
    scale = float(np.max(np.abs(num[~skip]), initial=0.0))
    if rtol is None and atol is None:
        tol = SAFETY * err + RTOL_FLOOR * np.abs(truth) + SCALE_FLOOR * scale + 1e-300
    else:
        tol = SAFETY * err + (atol or 0.0) + (rtol or 0.0) * np.abs(truth)
    with np.errstate(all="ignore"):
        diff = np.abs(ua - truth)
        bad = ~skip & ~(diff <= tol)
        ratio = np.where(skip, -1.0, np.where(np.isfinite(diff), diff / tol, np.inf))
    pr.ok = not np.any(bad)
    if exact is not None:
        with np.errstate(all="ignore"):
            dis = ~skip & ~(np.abs(exact - num) <= tol)
        note = ("chainrule's derivative and the numerical one disagree here; run "
                "cr.gradcheck(f, x) to see why")
        if np.any(dis) and note not in rep.notes:
            rep.notes.append(note)
    if ua.size:
        j = np.unravel_index(int(np.argmax(ratio)), jshape) if jshape else ()
        ix = "[" + ", ".join(str(int(i)) for i in j) + "]" if jshape else ""
        with np.errstate(all="ignore"):
            rel = float(diff[j] / abs(truth[j])) if truth[j] != 0 else float("inf")
        pr.worst = {"index": ix, "user": float(ua[j]),
                    "exact": None if exact is None else float(exact[j]),
                    "num": float(num[j]), "err": float(err[j]), "abs": float(diff[j]),
                    "rel": rel, "tol": float(tol[j]), "n_bad": int(np.sum(bad)),
                    "n": int(np.sum(~skip))}


def _short(x: Any) -> str:
    a = np.asarray(x)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    return f"array of shape {a.shape}"


def _exact(f: Callable, xs: list, jshapes: list, rep: DerivativeReport,
           multi: bool) -> list[np.ndarray | None]:
    argnums: Any = tuple(range(len(xs))) if multi else 0
    args = [np.asarray(x, dtype=np.float64) for x in xs]

    def jac(fn: Callable) -> tuple:
        J = T.jacobian(fn, argnums=argnums)(*args)
        return tuple(J) if multi else (J,)

    try:
        try:
            Js = jac(f)
        except errors.LeftGraphError:
            (f2,), changed = numpy_math(f)
            Js = jac(f2)
            if changed:
                rep.exact_note = "exact; math.* traced as numpy"
        out = [np.asarray(plain(J), dtype=np.float64).reshape(js)
               for J, js in zip(Js, jshapes, strict=True)]
        return out
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        rep.exact_note = f"not available: {type(exc).__name__}: {msg}"
        return [None] * len(xs)


# ---------------------------------------------------------------------------------
# why


def _explain(f: Callable, df: Callable, xs: list, users: list, truths: list, uses: list,
             have_exact: list, fn: str = "f", dn: str = "df",
             names: list[str] | None = None) -> list[str]:
    out: list[str] = []
    # 1. points: what df evaluates that f does not (Python functions, then chainrule ops)
    fp = python_calls(f, *xs, skip=[f])
    dp = python_calls(df, *xs, skip=[df])
    mism = compare(fp, dp)
    if not mism:
        (f2, df2), _ = numpy_math(f, df)
        fo = op_calls(f2, *xs)
        do = op_calls(df2, *xs)
        mism = compare(fo, do)
    w = max(len(fn), len(dn))
    for m in mism[:2]:
        out.append(m.describe(dn, fn))
        r = m.ref[0]
        out.append(f"{fn.ljust(w)} calls {m.name}({_args(r.args)}) at {_site(r.site)}")
        seen = set()
        for c in m.other:
            key = (_args(c.args), c.site)
            if key in seen:
                continue
            seen.add(key)
            via = f" (in {c.caller})" if c.caller and c.caller not in ("<module>",) else ""
            out.append(f"{dn.ljust(w)} calls {m.name}({_args(c.args)}) at {_site(c.site)}{via}")
        conf = _confirm(m, df, xs, truths, uses, dn, names is not None)
        if conf:
            out.append(conf)
    if mism:
        m = mism[0]
        good = _args(m.ref[0].args)
        bad = _args(m.other[0].args)
        out.append(f"The chain rule takes each derivative where {fn} evaluates the function: "
                   f"{m.name}'({good}), at the value {fn} passes to {m.name}, not "
                   f"{m.name}'({bad}).")
        return out
    # 2. the shape of the error, parameter by parameter
    from .locate import ratio_hint

    relu = None
    masks: list[str] = []
    for k, (user, truth, use) in enumerate(zip(users, truths, uses, strict=True)):
        if user is None:
            continue
        if np.allclose(user[use], truth[use], rtol=1e-6, atol=1e-12):
            continue                      # this parameter is right
        what = f"{dn}'s d/d{names[k]}" if names else dn
        found = []
        h = ratio_hint(user, truth, use, what=what)
        if h:
            found.append(h)
        if user.ndim >= 2 and user.shape[-1] == user.shape[-2] and np.allclose(
                np.swapaxes(user, -1, -2), truth, rtol=1e-6, atol=1e-9):
            found.append(f"{what} returns the transposed Jacobian")
        if not found:
            hm = mask_hint(user, truth, use, what)
            if hm:
                found.append(hm)
                masks.append(hm)
        out.extend(found)
    if any(u is not None for u in users):
        try:
            relu = _relu_hint(f, df, xs, users, uses, fn, dn, names)
        except Exception:
            relu = None
    if relu:                               # says it all: the element patterns go
        out = [relu] + [h for h in out if h not in masks]
    if not out and not names and have_exact[0] and users[0] is not None:
        p = _other_point(f, xs[0], users[0], fn, dn)
        if p:
            out.append(p)
    return out


def mask_hint(user: np.ndarray, truth: np.ndarray, use: np.ndarray, what: str = "df") -> str:
    """Right on some elements, and nonzero exactly where the true derivative is zero (or zero
    where it is not): a missing (or too strict) mask, like a ReLU's ``z > 0``."""
    u, t, m = user.reshape(-1), truth.reshape(-1), use.reshape(-1)
    if u.size < 2:
        return ""
    sc = float(np.max(np.abs(np.concatenate([t[m], u[m]])), initial=0.0)) + 1e-300
    close = np.isclose(u, t, rtol=1e-6, atol=1e-9 * sc)
    wrong = m & ~close
    right = m & close
    if not np.any(wrong) or not np.any(right):
        return ""
    first = np.unravel_index(int(np.argmax(wrong)), user.shape)
    at = "[" + ", ".join(str(int(i)) for i in first) + "]"
    nw = int(np.sum(wrong))
    if np.all(np.abs(t[wrong]) <= 1e-9 * sc):
        return (f"{what} is nonzero where the true derivative is zero ({nw} of {int(np.sum(m))} "
                f"elements, first at {at}) and right elsewhere: a missing mask or branch, like "
                f"a ReLU's (z > 0) factor")
    if np.all(np.abs(u[wrong]) <= 1e-9 * sc):
        return (f"{what} is zero where the true derivative is not ({nw} of {int(np.sum(m))} "
                f"elements, first at {at}) and right elsewhere: a mask or branch that is too "
                f"strict")
    return ""


def _relu_hint(f: Callable, df: Callable, xs: list, users: list, uses: list, fn: str, dn: str,
               names: list[str] | None) -> str:
    """Does df equal the derivative of f with its ReLUs (np.maximum(z, 0)) taken as the
    identity?  Then df forgot the ReLU's mask: the chain rule's factor (z > 0)."""
    counts = {"relu": 0, "negative": 0}
    nmax = np.maximum

    def is_zero(a: Any) -> bool:
        if _is_tensor(a):
            return False
        try:
            arr = np.asarray(a)
        except Exception:
            return False
        return arr.dtype.kind in "biuf" and arr.size >= 1 and bool(np.all(arr == 0))

    def straight_through(a: Any, b: Any, *rest: Any, **kw: Any) -> Any:
        if not rest and not kw:
            z = b if is_zero(a) else a if is_zero(b) else None
            if z is not None and _is_tensor(z):
                counts["relu"] += 1
                counts["negative"] += int(np.sum(np.asarray(plain(z)) < 0))
                return z + (nmax(z, 0.0) - z).detach()
        return nmax(a, b, *rest, **kw)

    npview = _NumpyView(straight_through)

    def replace(v: Any) -> Any:
        if v is np:
            return npview
        if v is nmax:
            return straight_through
        return _KEEP

    rb = Rebound(replace)
    f2 = rb.value(f)
    if not rb.changed:
        return ""
    (f3,), _ = numpy_math(f2)
    multi = names is not None
    argnums: Any = tuple(range(len(xs))) if multi else 0
    args = [np.asarray(x, dtype=np.float64) for x in xs]
    J = T.jacobian(f3, argnums=argnums)(*args)
    Js = tuple(J) if multi else (J,)
    if not counts["relu"] or not counts["negative"]:
        return ""
    for u, Jk, use in zip(users, Js, uses, strict=True):
        if u is None:
            return ""
        a = np.asarray(plain(Jk), dtype=np.float64).reshape(u.shape)
        sc = float(np.max(np.abs(a), initial=0.0)) + 1e-300
        if not np.allclose(u[use], a[use], rtol=1e-6, atol=1e-9 * sc):
            return ""
    return (f"{dn} equals the derivative of {fn} with its ReLU (np.maximum(z, 0)) taken as the "
            f"identity: the ReLU's mask is missing. The chain rule multiplies by relu'(z) = "
            f"(z > 0), which is 0 at the {counts['negative']} element"
            f"{'' if counts['negative'] == 1 else 's'} where z < 0 here")


def _is_tensor(a: Any) -> bool:
    return isinstance(a, Tensor)


class _NumpyView(types.ModuleType):
    """numpy, with np.maximum replaced (for _relu_hint's copy of f)."""

    def __init__(self, maximum: Callable) -> None:
        super().__init__("numpy")
        self.__dict__["maximum"] = maximum

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


def _args(vals: tuple) -> str:
    from .points import _show

    return _show(vals)


def _site(site: Any) -> str:
    return errors.format_site(site)


def _confirm(m: Any, df: Callable, xs: list, truths: list, uses: list, dn: str = "df",
             multi: bool = False) -> str:
    """Re-run (a copy of) df with the mismatched function evaluated at f's point instead."""
    if not isinstance(m.key, types.CodeType):
        return ""
    refs = {tuple(np.asarray(v).tobytes() for v in c.args): c.args for c in m.ref}
    if len(refs) != 1:
        return ""
    good = next(iter(refs.values()))
    bad_args = [c.args for c in m.other]
    code = m.key
    found: list[Any] = []

    def replace(v: Any) -> Any:
        if isinstance(v, types.FunctionType) and v.__code__ is code:
            orig = v

            def fixed(*a: Any, **k: Any) -> Any:
                if any(_close_args(a[:len(b)], b) for b in bad_args):
                    a = tuple(good) + tuple(a[len(good):])
                return orig(*a, **k)

            found.append(fixed)
            return fixed
        return _KEEP

    rb = Rebound(replace)
    df2 = rb.value(df)
    if not found:
        return ""
    try:
        new = df2(*xs)
        parts = list(new) if multi else [new]
        arrs = [np.asarray(plain(p), dtype=np.float64) for p in parts]
    except Exception:
        return ""
    if len(arrs) != len(truths):
        return ""
    for a, t, use in zip(arrs, truths, uses, strict=True):
        if a.shape != t.shape or not np.allclose(a[use], t[use], rtol=1e-6, atol=1e-12):
            return ""
    v = fmt(arrs[0].item()) if not multi and arrs[0].size == 1 else "the true derivative"
    return (f"with {m.name} evaluated at {_args(good)} instead, {dn} gives {v}: the true "
            f"derivative")


def _close_args(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        try:
            if not np.allclose(np.asarray(plain(x), dtype=float), np.asarray(y, dtype=float)):
                return False
        except (TypeError, ValueError):
            return False
    return True


def _other_point(f: Callable, x: Any, user: np.ndarray, fn: str = "f", dn: str = "df") -> str:
    xa = np.asarray(x, dtype=np.float64)
    (f2,), _ = numpy_math(f)
    for desc, move in [("2x", lambda v: 2 * v), ("x/2", lambda v: v / 2), ("-x", lambda v: -v),
                       ("x+1", lambda v: v + 1), ("x-1", lambda v: v - 1),
                       ("x^2", lambda v: v * v), ("1", lambda v: np.ones_like(v)),
                       ("0", lambda v: np.zeros_like(v))]:
        p = move(xa)
        try:
            J = np.asarray(plain(T.jacobian(f2)(p)), dtype=np.float64).reshape(user.shape)
            if not np.all(np.isfinite(J)):
                continue
        except Exception:
            continue
        if np.allclose(J, user, rtol=1e-7, atol=1e-12) and not np.allclose(p, xa):
            return (f"{dn} equals {fn}'s true derivative at {desc} = {_short(p)}, not at x = "
                    f"{_short(xa)}: it is evaluated at the wrong point")
    return ""
