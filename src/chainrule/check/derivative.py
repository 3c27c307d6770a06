"""check_derivative: a hand-written derivative against chainrule's and the numerical one.

The seed's workflow, done thoroughly: ``df(x)`` (user code, run on plain numbers: it is
being checked, not differentiated) against chainrule's exact derivative of ``f`` and a
finite difference with an error estimate.  When they disagree it looks for the cause:
a function that df evaluates at a point where f does not (the seed's sigma'(x) for
sigma'(w x)), confirmed by re-running df with that point corrected; a constant factor; a
sign; a transposed Jacobian; the true derivative of another point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import errors
from .gradcheck import RTOL_FLOOR, SAFETY, SCALE_FLOOR, Problem, _numerical_jacobian
from .numerical import plain
from .points import compare, function_binding, math_as_numpy, op_calls, python_calls
from .report import fmt, fmt_err


class DerivativeReport:
    """What check_derivative found; truthy when df is right."""

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
        self.name = "df"
        self.fname = "f"

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"<DerivativeReport {self.name}: {'ok' if self.ok else 'FAILED'}>"

    def _val(self, v: Any) -> str:
        if v is None:
            return "-"
        a = np.asarray(v)
        if a.size == 1:
            return fmt(a.reshape(-1)[0].item())
        return np.array2string(a, precision=6, separator=", ")

    def __str__(self) -> str:
        status = "OK" if self.ok else f"{self.name} is WRONG"
        xs = self._val(self.x)
        lines = [f"check_derivative({self.fname}, {self.name}) at x = {xs}: {status}"]
        if self.error:
            lines.append(f"  {self.error}")
            return "\n".join(lines)
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
            w = self.worst
            lines.append(f"  {self.name} - truth: abs err {fmt_err(w['abs'])}, rel err "
                         f"{fmt_err(w['rel'])}, tolerance {fmt_err(w['tol'])}"
                         + (f"; {w['n_bad']} of {w['n']} elements wrong" if w["n"] > 1 else ""))
        for c in self.causes:
            lines.append(("cause: " if c is self.causes[0] else "  ") + c)
        for k in self.kinks:
            lines.append(f"  non-differentiable point (not checked): {k}")
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


def _fname(f: Any) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def check_derivative(f: Callable, df: Callable, x: Any, *, rtol: float | None = None,
                     atol: float | None = None, explain: bool = True) -> DerivativeReport:
    """Check a hand-written derivative ``df`` of ``f`` at ``x``.

    ``df(x)`` must return what chainrule's derivative would be: a number for scalar ``x``
    and scalar ``f``, the gradient (x's shape) for a scalar ``f`` of an array, the Jacobian
    (``f(x).shape + x.shape``) otherwise.  ``df`` runs on plain numbers (math.* is fine);
    ``f`` is differentiated by chainrule (code written with ``math.*`` is traced with NumPy
    standing in for math).  Returns a report: truthy when df agrees; ``str(report)`` shows
    df's, chainrule's and the numerical value, and the cause when it finds one.
    """
    rep = DerivativeReport()
    rep.name, rep.fname = _fname(df), _fname(f)
    rep.name = "df" if rep.name == "<lambda>" else rep.name
    rep.fname = "f" if rep.fname == "<lambda>" else rep.fname
    scalar_in = np.ndim(plain(x)) == 0 and not isinstance(plain(x), np.ndarray)
    xa = np.asarray(plain(x))
    if xa.dtype.kind == "c":
        raise ValueError("check_derivative: complex x is not supported; use cr.gradcheck")
    if xa.dtype.kind not in "fiu":
        raise TypeError(f"check_derivative: x must be a number or a float array, got {xa.dtype}")
    x64 = xa.astype(np.float64)
    xin: Any = float(x64) if scalar_in else x64
    rep.x = xin
    try:
        P = Problem(f, [xin], [0], names=["x"])
    except Exception as exc:  # noqa: BLE001
        rep.error = f"f({_short(xin)}) raised {type(exc).__name__}: {exc}"
        return rep
    out_shape = np.shape(plain(P.out0))
    if np.iscomplexobj(plain(P.out0)):
        raise ValueError("check_derivative: f returns complex values; use cr.gradcheck")
    jshape = out_shape + x64.shape
    # numerical
    D, E, K, U, L, R = _numerical_jacobian(P, 0)
    num = D.reshape(jshape)
    err = E.reshape(jshape)
    skip = (K | U).reshape(jshape)
    rep.numerical = num.item() if num.size == 1 else num
    rep.num_err = float(np.max(err, initial=0.0))
    for flat in np.flatnonzero(K):
        idx = np.unravel_index(int(flat), jshape) if jshape else ()
        ix = "[" + ", ".join(str(int(i)) for i in idx) + "] " if idx else ""
        rep.kinks.append(f"{ix}one-sided slopes {fmt(L.reshape(-1)[flat])} and "
                         f"{fmt(R.reshape(-1)[flat])}")
    # exact
    exact = _exact(f, xin, jshape, rep)
    # yours
    try:
        user = df(xin)
    except Exception as exc:  # noqa: BLE001
        rep.error = f"{rep.name}({_short(xin)}) raised {type(exc).__name__}: {exc}"
        return rep
    try:
        ua = np.asarray(plain(user), dtype=np.float64)
    except (TypeError, ValueError):
        rep.error = f"{rep.name} returned {type(user).__name__}, not a number or array"
        return rep
    rep.user = ua.item() if ua.size == 1 and ua.ndim == 0 else ua
    if ua.shape != jshape:
        if ua.size == int(np.prod(jshape)) and ua.size == 1:
            ua = ua.reshape(jshape)
        else:
            rep.error = (f"{rep.name} returned shape {ua.shape}; the derivative of f at x has "
                         f"shape {jshape} (f(x).shape + x.shape)")
            if ua.shape == jshape[::-1]:
                rep.error += ": it looks transposed"
            return rep
    truth = exact if exact is not None else num
    scale = float(np.max(np.abs(num[~skip]), initial=0.0))
    if rtol is None and atol is None:
        tol = SAFETY * err + RTOL_FLOOR * np.abs(truth) + SCALE_FLOOR * scale + 1e-300
    else:
        tol = SAFETY * err + (atol or 0.0) + (rtol or 0.0) * np.abs(truth)
    with np.errstate(all="ignore"):
        diff = np.abs(ua - truth)
        bad = ~skip & ~(diff <= tol)
        ratio = np.where(skip, -1.0, np.where(np.isfinite(diff), diff / tol, np.inf))
    rep.ok = not np.any(bad)
    if exact is not None:
        with np.errstate(all="ignore"):
            dis = ~skip & ~(np.abs(exact - num) <= tol)
        if np.any(dis):
            rep.notes.append("chainrule's derivative and the numerical one disagree here; run "
                             "cr.gradcheck(f, x) to see why")
    if ua.size:
        j = np.unravel_index(int(np.argmax(ratio)), jshape) if jshape else ()
        ix = "[" + ", ".join(str(int(i)) for i in j) + "]" if jshape else ""
        with np.errstate(all="ignore"):
            rel = float(diff[j] / abs(truth[j])) if truth[j] != 0 else float("inf")
        rep.worst = {"index": ix, "user": float(ua[j]),
                     "exact": None if exact is None else float(exact[j]),
                     "num": float(num[j]), "err": float(err[j]), "abs": float(diff[j]),
                     "rel": rel, "tol": float(tol[j]), "n_bad": int(np.sum(bad)),
                     "n": int(np.sum(~skip))}
    if not rep.ok and explain:
        try:
            rep.causes = _explain(f, df, xin, ua, truth, ~skip, exact is not None,
                                  rep.fname, rep.name)
        except Exception as exc:  # noqa: BLE001  (best effort)
            rep.notes.append(f"could not look for the cause: {type(exc).__name__}: {exc}")
    return rep


def _short(x: Any) -> str:
    a = np.asarray(x)
    return f"{float(a):.6g}" if a.size == 1 else f"array of shape {a.shape}"


def _exact(f: Callable, x: Any, jshape: tuple, rep: DerivativeReport) -> Any:
    from .. import transforms as T  # noqa: PLC0415

    try:
        try:
            J = T.jacobian(f)(np.asarray(x, dtype=np.float64))
        except errors.LeftGraphError:
            with math_as_numpy(f) as patched:
                J = T.jacobian(f)(np.asarray(x, dtype=np.float64))
            if patched:
                rep.exact_note = "exact; math.* traced as numpy"
        J = np.asarray(plain(J), dtype=np.float64).reshape(jshape)
        rep.exact = J.item() if J.size == 1 else J
        return J
    except Exception as exc:  # noqa: BLE001
        msg = str(exc).splitlines()[0] if str(exc) else ""
        rep.exact_note = f"not available: {type(exc).__name__}: {msg}"
        return None


def _explain(f: Callable, df: Callable, x: Any, user: np.ndarray, truth: np.ndarray,
             use: np.ndarray, have_exact: bool, fn: str = "f", dn: str = "df") -> list[str]:
    out: list[str] = []
    # 1. points: what df evaluates that f does not (Python functions, then chainrule ops)
    fp = python_calls(f, x, skip=[f])
    dp = python_calls(df, x, skip=[df])
    mism = compare(fp, dp)
    if not mism:
        with math_as_numpy(f, df):
            fo = op_calls(f, x)
            do = op_calls(df, x)
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
        conf = _confirm(m, df, x, truth, use, dn)
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
    # 2. shape of the error
    from .locate import ratio_hint  # noqa: PLC0415

    h = ratio_hint(user, truth, use, what=dn)
    if h:
        out.append(h)
    if user.ndim >= 2 and user.shape[-1] == user.shape[-2] and np.allclose(
            np.swapaxes(user, -1, -2), truth, rtol=1e-6, atol=1e-9):
        out.append(f"{dn} returns the transposed Jacobian")
    if not out and have_exact:
        p = _other_point(f, x, user, fn, dn)
        if p:
            out.append(p)
    return out


def _args(vals: tuple) -> str:
    from .points import _show  # noqa: PLC0415

    return _show(vals)


def _site(site: Any) -> str:
    return errors.format_site(site)


def _confirm(m: Any, df: Callable, x: Any, truth: np.ndarray, use: np.ndarray,
             dn: str = "df") -> str:
    """Re-run df with the mismatched function evaluated at f's point instead."""
    if not isinstance(m.key, type((lambda: 0).__code__)):
        return ""
    refs = {tuple(np.asarray(v).tobytes() for v in c.args): c.args for c in m.ref}
    if len(refs) != 1:
        return ""
    good = next(iter(refs.values()))
    bind = function_binding(m.key, [df])
    if bind is None:
        return ""
    g, name, fn = bind
    bad_args = [c.args for c in m.other]

    def fixed(*a: Any, **k: Any) -> Any:
        if any(_close_args(a[:len(b)], b) for b in bad_args):
            a = tuple(good) + tuple(a[len(good):])
        return fn(*a, **k)

    g[name] = fixed
    try:
        new = np.asarray(plain(df(x)), dtype=np.float64)
    except Exception:  # noqa: BLE001
        return ""
    finally:
        g[name] = fn
    if new.shape == truth.shape and np.allclose(new[use], truth[use], rtol=1e-6, atol=1e-12):
        v = fmt(new.item()) if new.size == 1 else "the true derivative"
        return (f"with {m.name} evaluated at {_args(good)} instead, {dn} gives {v}: the true "
                f"derivative")
    return ""


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
    from .. import transforms as T  # noqa: PLC0415

    xa = np.asarray(x, dtype=np.float64)
    for desc, fn in [("2x", lambda v: 2 * v), ("x/2", lambda v: v / 2), ("-x", lambda v: -v),
                     ("x+1", lambda v: v + 1), ("x-1", lambda v: v - 1), ("x^2", lambda v: v * v),
                     ("1", lambda v: np.ones_like(v)), ("0", lambda v: np.zeros_like(v))]:
        p = fn(xa)
        try:
            with math_as_numpy(f):
                J = np.asarray(plain(T.jacobian(f)(p)), dtype=np.float64).reshape(user.shape)
            if not np.all(np.isfinite(J)):
                continue
        except Exception:  # noqa: BLE001
            continue
        if np.allclose(J, user, rtol=1e-7, atol=1e-12) and not np.allclose(p, xa):
            return (f"{dn} equals {fn}'s true derivative at {desc} = {_short(p)}, not at x = "
                    f"{_short(xa)}: it is evaluated at the wrong point")
    return ""
