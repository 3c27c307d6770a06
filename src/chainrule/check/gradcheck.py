"""gradcheck: chainrule's derivatives of a function against finite differences.

Per differentiable input: the full Jacobian when the input is small, else random
projections (J v against a directional difference, u^T J v against u . (J v)) and the full
Jacobian only where a projection fails.  The tolerance of every element comes from the
finite-difference error estimate (two steps, extrapolated), not from a fixed atol.  The
numerical side always runs in float64; float32 inputs are checked in float64 and their
native-precision gradient is compared with the float64 one.  Points where f has a kink
(its one-sided slopes differ) are reported as non-differentiable, not as failures.
Backward must be deterministic (run twice) and give zero for a zero cotangent.
When something fails, locate.py names the recorded operation whose own rule is wrong.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .numerical import (
    EPS64, FD, directional, element_name, flat_output, from_real, output_eps, plain, to_real,
)
from .report import Check, Element, GradcheckError, GradcheckReport, Kink
from ..transforms import tree_flatten
from .. import transforms as T

SAFETY = 10.0       # tolerance = SAFETY x estimated finite-difference error + floors
RTOL_FLOOR = 1e-7   # relative floor (rounding in chainrule's own result)
SCALE_FLOOR = 1e-9  # floor relative to the largest entry of the compared block
MODES = ("rev", "fwd")


def _is_float_like(a: Any) -> bool:
    a = plain(a)
    if isinstance(a, bool):
        return False
    if isinstance(a, (float, complex)):
        return True
    if isinstance(a, np.ndarray | np.generic):
        return a.dtype.kind in "fc"
    return False


def _arg_names(f: Callable, n: int) -> list[str]:
    names = [f"arg{i}" for i in range(n)]
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return names
    k = 0
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and k < n:
            names[k] = p.name
            k += 1
        elif p.kind == p.VAR_POSITIONAL:
            break
    return names


def _fname(f: Callable) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


class Problem:
    """f with its differentiable inputs in float64, callable plainly and for chainrule."""

    def __init__(self, f: Callable, args: Sequence[Any], argnums: Sequence[int],
                 names: list[str] | None = None) -> None:
        self.f = f
        self.args = [plain(a) for a in args]
        self.argnums = tuple(argnums)
        self.names = names or _arg_names(f, len(args))
        self.scalar, self.cplx, self.shapes, self.x0, self.orig_dtype = [], [], [], [], []
        for i in self.argnums:
            a = self.args[i]
            arr = np.asarray(a)
            self.scalar.append(not isinstance(a, np.ndarray))
            c = arr.dtype.kind == "c"
            self.cplx.append(c)
            self.shapes.append(arr.shape)
            self.orig_dtype.append(arr.dtype)
            self.x0.append(np.array(arr, dtype=np.complex128 if c else np.float64))
        self.out0 = self.call(self.x0)
        self.F0 = flat_output(self.out0)
        self.eps = output_eps(self.out0)
        leaves, self.out_build = tree_flatten(self.out0)
        self.out_leaves = [(np.shape(plain(v)), np.asarray(plain(v)).dtype) for v in leaves]
        self.m = self.F0.size

    # plain evaluation (numbers in, numbers out: user code may use math.*)
    def call(self, xs: Sequence[Any]) -> Any:
        a = list(self.args)
        for k, (i, x) in enumerate(zip(self.argnums, xs, strict=True)):
            a[i] = x.item() if self.scalar[k] and isinstance(x, np.ndarray) else x
        return self.f(*a)

    def G(self, k: int) -> Callable[[np.ndarray], np.ndarray]:
        """Real coordinates of input k -> real coordinates of the output (others fixed)."""

        def g(xr: np.ndarray) -> np.ndarray:
            xs = list(self.x0)
            xs[k] = from_real(xr, self.shapes[k], self.cplx[k])
            with np.errstate(all="ignore"):  # perturbed points may leave f's domain
                return flat_output(self.call(xs))

        return g

    # chainrule's side
    def call_ad(self, xs: Sequence[Any]) -> Any:
        a = list(self.args)
        for i, x in zip(self.argnums, xs, strict=True):
            a[i] = x
        return self.f(*a)

    def cotangent(self, ur: np.ndarray) -> Any:
        """A real output vector as a cotangent in the output's structure and dtypes."""
        parts, off = [], 0
        for shape, dt in self.out_leaves:
            c = dt.kind == "c"
            n = int(np.prod(shape, dtype=int)) * (2 if c else 1)
            v = from_real(ur[off:off + n], shape, c)
            if dt.kind in "fc":
                v = v.astype(dt) if c else v.astype(dt if dt.itemsize <= 8 else np.float64)
            parts.append(v)
            off += n
        return self.out_build(parts)

    def out_index(self, k: int) -> str:
        off = 0
        multi = len(self.out_leaves) > 1
        for li, (shape, dt) in enumerate(self.out_leaves):
            c = dt.kind == "c"
            n = int(np.prod(shape, dtype=int)) * (2 if c else 1)
            if k < off + n:
                e = element_name(shape, c, k - off)
                return (f"out{li}" if multi else "out") + e if (e or multi) else ""
            off += n
        return f"out#{k}"

    def in_index(self, k: int, j: int) -> str:
        return self.names[self.argnums[k]] + element_name(self.shapes[k], self.cplx[k], j)


class AD:
    """chainrule's VJP and JVP of a Problem, in real coordinates."""

    def __init__(self, P: Problem, xs: Sequence[Any] | None = None) -> None:
        self.P = P
        self.T = T
        self.xs = list(P.x0 if xs is None else xs)
        self._vjp_fn: Any = None
        self.rev_error: BaseException | None = None
        try:
            _, self._vjp_fn = T.vjp(lambda *x: P.call_ad(x), *self.xs)
        except Exception as exc:
            self.rev_error = exc

    def vjp_raw(self, ct: Any) -> tuple:
        if self._vjp_fn is None:
            assert self.rev_error is not None
            raise self.rev_error
        return self._vjp_fn(ct)

    def vjp(self, ur: np.ndarray) -> list[np.ndarray]:
        gs = self.vjp_raw(self.P.cotangent(ur))
        return [to_real(g) for g in gs]

    def jvp(self, k: int, vr: np.ndarray) -> np.ndarray:
        P = self.P
        xs = list(self.xs)
        dt = np.asarray(xs[k]).dtype

        def fk(xk: Any) -> Any:
            ys = list(xs)
            ys[k] = xk
            return P.call_ad(ys)

        t = from_real(vr, P.shapes[k], P.cplx[k]).astype(dt)
        _, tout = self.T.jvp(fk, (np.asarray(xs[k]),), (t,))
        return flat_output(tout)


def _floors(d: np.ndarray, err: np.ndarray, scale: float, rtol: float | None,
            atol: float | None) -> np.ndarray:
    tol = SAFETY * err
    if rtol is None and atol is None:
        return tol + RTOL_FLOOR * np.abs(d) + SCALE_FLOOR * scale + 1e-300
    return tol + (atol or 0.0) + (rtol or 0.0) * np.abs(d)


def compare(auto: np.ndarray, num: np.ndarray, err: np.ndarray, skip: np.ndarray,
            rtol: float | None, atol: float | None, name: Callable[[int], str],
            check: Check) -> np.ndarray:
    """Fill ``check`` from an elementwise comparison; returns the bad mask."""
    auto = np.asarray(auto, dtype=np.float64).reshape(-1)
    num = np.asarray(num, dtype=np.float64).reshape(-1)
    err = np.asarray(err, dtype=np.float64).reshape(-1)
    skip = np.asarray(skip, dtype=bool).reshape(-1)
    use = ~skip
    scale = float(np.max(np.abs(num[use]), initial=0.0)) if np.any(use) else 0.0
    tol = _floors(num, err, scale, rtol, atol)
    with np.errstate(all="ignore"):
        diff = np.abs(auto - num)
        bad = use & ~(diff <= tol)  # nan in auto counts as bad
        ratio = np.where(use, np.where(np.isfinite(diff), diff / tol, np.inf), -1.0)
    check.n_total = int(np.sum(use))
    check.n_bad = int(np.sum(bad))
    check.passed = check.n_bad == 0
    if check.n_total:
        j = int(np.argmax(ratio))
        a, n_ = float(auto[j]), float(num[j])
        with np.errstate(all="ignore"):
            rel = abs(a - n_) / max(abs(n_), 1e-300) if n_ != 0 else (0.0 if a == 0 else np.inf)
        check.worst = Element(name(j), a, n_, float(diff[j]), float(rel), float(tol[j]))
    return bad


# ---------------------------------------------------------------------------------


class _Opts:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _numerical_jacobian(P: Problem, k: int) -> tuple:
    """Full numerical Jacobian of the real output w.r.t. input k: d, err, kink, undefined."""
    G = P.G(k)
    x = to_real(P.x0[k])
    n = x.size
    D = np.zeros((P.m, n))
    E = np.zeros((P.m, n))
    K = np.zeros((P.m, n), bool)
    U = np.zeros((P.m, n), bool)
    L = np.zeros((P.m, n))
    R = np.zeros((P.m, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        fd = directional(G, x, e, P.F0, P.eps)
        D[:, j], E[:, j], K[:, j], U[:, j] = fd.d, fd.err, fd.kink, fd.undefined
        L[:, j], R[:, j] = fd.left, fd.right
    return D, E, K, U, L, R


def _rev_rows(ad: AD, m: int) -> list[np.ndarray]:
    """Rows of the real Jacobian from m VJPs: one array (m x n_k) per input."""
    rows = [ad.vjp(np.eye(1, m, r).reshape(-1)) for r in range(m)]
    return [np.stack([row[k] for row in rows]) if rows else np.zeros((0, 0))
            for k in range(len(ad.P.argnums))]


def _check_input(P: Problem, ad: AD, k: int, o: _Opts, report: GradcheckReport,
                 rng: np.random.Generator, rev_rows: dict) -> None:
    name = P.names[P.argnums[k]]
    n = to_real(P.x0[k]).size
    m = P.m
    if n == 0 or m == 0:
        return
    modes = o.modes
    if n <= o.full_max:
        _full(P, ad, k, o, report, rng, rev_rows, name)
        return
    # projections first
    G = P.G(k)
    x = to_real(P.x0[k])
    failed = False
    pending: list[Check] = []
    for mode in modes:
        chk = Check(name, mode, o.order, True, how=f"{o.nproj} random projections")
        pending.append(chk)
        for p in range(o.nproj):
            v = rng.standard_normal(n)
            fd = directional(G, x, v, P.F0, P.eps)
            skip = fd.kink | fd.undefined
            if mode == "fwd":
                try:
                    t = ad.jvp(k, v)
                except Exception as exc:
                    chk.passed, chk.message = False, _exc_line("forward mode raised", exc)
                    break
                sub = Check(name, mode, o.order, True)
                compare(t, fd.d, fd.err, skip, o.rtol, o.atol,
                        lambda j: f"{P.out_index(j)} (J v, projection {p})", sub)
                if not sub.passed:
                    chk.passed, chk.worst, chk.n_bad, chk.n_total = False, sub.worst, sub.n_bad, m
                    break
            else:
                u = rng.standard_normal(m) * ~skip
                try:
                    g = ad.vjp(u)[k]
                except Exception as exc:
                    chk.passed, chk.message = False, _exc_line("the backward pass raised", exc)
                    break
                a = float(g @ v)
                num = float(u @ fd.d)
                e = float(np.abs(u) @ fd.err)
                sub = Check(name, mode, o.order, True)
                compare(np.array([a]), np.array([num]), np.array([e]), np.zeros(1, bool),
                        o.rtol, o.atol, lambda j: f"u^T J v (projection {p})", sub)
                if not sub.passed:
                    chk.passed, chk.worst, chk.n_bad, chk.n_total = False, sub.worst, 1, 1
                    break
        if not chk.passed:
            failed = True
    if failed and n <= o.fallback_max:
        _full(P, ad, k, o, report, rng, rev_rows, name, note="after a failed projection")
        return
    for chk in pending:
        report.add(chk)


def _full(P: Problem, ad: AD, k: int, o: _Opts, report: GradcheckReport,
          rng: np.random.Generator, rev_rows: dict, name: str, note: str = "") -> None:
    D, E, K, U, L, R = _numerical_jacobian(P, k)
    n = D.shape[1]
    m = P.m
    skip = K | U

    def ename(idx: int) -> str:
        r, j = divmod(idx, n)
        o_ = P.out_index(r)
        i_ = P.in_index(k, j)
        return f"{o_} <- {i_}" if o_ else i_

    how = f"full Jacobian {m}x{n}" + (f" ({note})" if note else "")
    capture = getattr(o, "capture", None)
    if capture is not None:
        capture[(k, "num")] = (D, skip)
    autos: dict[str, np.ndarray] = {}
    for mode in o.modes:
        chk = report.add(Check(name, mode, o.order, True, how=how))
        if mode == "fwd":
            try:
                J = np.stack([ad.jvp(k, np.eye(1, n, j).reshape(-1)) for j in range(n)], axis=1)
            except Exception as exc:
                chk.passed, chk.message = False, _exc_line("forward mode raised", exc)
                continue
            autos["fwd"] = J
            compare(J, D, E, skip, o.rtol, o.atol, ename, chk)
            if capture is not None:
                capture[(k, mode)] = (J, D, skip)
        else:
            if m <= o.full_max_out:
                try:
                    if "rows" not in rev_rows:
                        rev_rows["rows"] = _rev_rows(ad, m)
                    J = rev_rows["rows"][k]
                except Exception as exc:
                    chk.passed, chk.message = False, _exc_line("the backward pass raised", exc)
                    continue
                autos["rev"] = J
                compare(J, D, E, skip, o.rtol, o.atol, ename, chk)
                if capture is not None:
                    capture[(k, mode)] = (J, D, skip)
            else:
                chk.how = f"{o.nproj} random cotangents u against u^T J (J numerical {m}x{n})"
                for p in range(o.nproj):
                    u = rng.standard_normal(m)
                    try:
                        g = ad.vjp(u)[k]
                    except Exception as exc:
                        chk.passed, chk.message = False, _exc_line("the backward pass raised", exc)
                        break
                    uskip = np.any(skip & (u[:, None] != 0), axis=0)
                    compare(g, u @ np.where(skip, 0.0, D), np.abs(u) @ E, uskip, o.rtol, o.atol,
                            lambda j, p=p: f"(u^T J){P.in_index(k, j)} (cotangent {p})", chk)
                    if not chk.passed:
                        break
    if np.any(K):
        for r, j in zip(*np.nonzero(K), strict=True):
            a = None
            for mode in ("fwd", "rev"):
                if mode in autos:
                    a = float(autos[mode][r, j])
                    break
            o_ = P.out_index(int(r))
            report.kinks.append(Kink(name, (f"{element_name(P.shapes[k], P.cplx[k], int(j))}"
                                            + (f" -> {o_}" if o_ else "")),
                                     float(L[r, j]), float(R[r, j]), a))
    if np.any(U & np.isfinite(P.F0)[:, None]):
        report.notes.append(f"{name}: f is nan/inf near the point for "
                            f"{int(np.sum(U))} Jacobian entries; they were not checked")


def _exc_line(what: str, exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{what} {type(exc).__name__}: {msg[0] if msg else ''}" + (
        "\n    " + "\n    ".join(msg[1:4]) if len(msg) > 1 else "")


def _determinism(P: Problem, ad: AD, o: _Opts, report: GradcheckReport,
                 rng: np.random.Generator) -> None:
    if ad._vjp_fn is None or P.m == 0:
        return
    u = rng.standard_normal(P.m)
    chk = report.add(Check("backward", "determinism", o.order, True, how="backward run twice"))
    try:
        ct = P.cotangent(u)
        g1 = [np.array(plain(g), copy=True) for g in ad.vjp_raw(ct)]
        g2 = [np.array(plain(g), copy=True) for g in ad.vjp_raw(ct)]
    except Exception as exc:
        chk.passed, chk.message = False, _exc_line("the backward pass raised", exc)
        return
    for k, (a, b) in enumerate(zip(g1, g2, strict=True)):
        if not np.array_equal(a, b, equal_nan=True):
            diff = np.abs(to_real(a) - to_real(b))
            j = int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff)))
            chk.passed = False
            chk.message = (f"backward is not deterministic: two runs with the same cotangent "
                           f"differ at {P.in_index(k, j)} ({to_real(a)[j]:.6g} then "
                           f"{to_real(b)[j]:.6g}): a rule that mutates its input or keeps state")
            return
    chk2 = report.add(Check("backward", "zero-cotangent", o.order, True,
                            how="zero cotangent gives zero gradient"))
    try:
        gz = ad.vjp_raw(P.cotangent(np.zeros(P.m)))
    except Exception as exc:
        chk2.passed, chk2.message = False, _exc_line("the backward pass raised", exc)
        return
    for k, g in enumerate(gz):
        r = to_real(g)
        if not np.all(r == 0):
            j = int(np.argmax(np.where(np.isnan(r), np.inf, np.abs(r))))
            chk2.passed = False
            chk2.message = (f"a zero cotangent gives a nonzero gradient {r[j]:.6g} at "
                            f"{P.in_index(k, j)}: a rule that ignores its cotangent g, or "
                            "0 * inf = nan inside a rule")
            return


def _low_precision(P: Problem, o: _Opts, report: GradcheckReport,
                   rng: np.random.Generator, ad64: AD) -> None:
    """Inputs given in float32/float16: chainrule at that precision vs float64."""
    lows = [k for k, dt in enumerate(P.orig_dtype) if dt.kind in "fc" and dt.itemsize <
            (16 if dt.kind == "c" else 8)]
    if not lows:
        return
    xs = [np.asarray(P.x0[k]).astype(P.orig_dtype[k]) for k in range(len(P.x0))]
    ad = AD(P, xs)
    label = ",".join(sorted({str(P.orig_dtype[k]) for k in lows}))
    for mode in o.modes:
        chk = report.add(Check(", ".join(P.names[P.argnums[k]] for k in lows), f"{mode} {label}",
                               o.order, True, how=f"{label} result vs float64, normwise"))
        try:
            if mode == "rev":
                u = rng.standard_normal(P.m)
                ct = P.cotangent(u)
                ct_low = _cast_tree(ct, ad)
                g_low = ad.vjp_raw(ct_low)
                g64 = ad64.vjp(u)
                pairs = [(k, plain(g_low[k]), g64[k]) for k in lows]
            else:
                pairs = []
                for k in lows:
                    v = rng.standard_normal(to_real(P.x0[k]).size)
                    t64 = ad64.jvp(k, v)
                    tl = ad.jvp(k, v)
                    pairs.append((k, tl, t64))
        except Exception as exc:
            chk.passed, chk.message = False, _exc_line(f"at {label}, chainrule raised", exc)
            continue
        for k, low, hi in pairs:
            if mode == "rev" and np.asarray(low).dtype != P.orig_dtype[k]:
                chk.passed = False
                chk.message = (f"the gradient of {P.names[P.argnums[k]]} has dtype "
                               f"{np.asarray(low).dtype}, its input {P.orig_dtype[k]}")
                break
            lr = to_real(low)
            scale = float(np.max(np.abs(hi), initial=0.0))
            eps = float(np.finfo(P.orig_dtype[k]).eps)
            tol = max(1e-3, 30 * eps) * scale + 1e-30
            diff = np.abs(lr - hi)
            if not np.all(diff <= tol):
                j = int(np.argmax(np.where(np.isnan(diff), np.inf, diff)))
                chk.passed = False
                idx = P.in_index(k, j) if mode == "rev" else P.out_index(j)
                chk.worst = Element(idx, float(lr[j]), float(hi[j]), float(diff[j]),
                                    float(diff[j] / max(abs(hi[j]), 1e-300)), tol)
                chk.n_bad = int(np.sum(~(diff <= tol)))
                chk.n_total = diff.size
                break


def _cast_tree(ct: Any, ad: AD) -> Any:
    """Cast a float64 cotangent to the dtypes of the output at low precision."""
    out_low = ad.P.call([np.asarray(x) for x in ad.xs])
    leaves_o, _ = tree_flatten(out_low)
    leaves_c, build = tree_flatten(ct)
    res = []
    for c, o_ in zip(leaves_c, leaves_o, strict=False):
        dt = np.asarray(plain(o_)).dtype
        res.append(np.asarray(c).astype(dt) if dt.kind in "fc" else c)
    return build(res)


# ---------------------------------------------------------------------------------


def gradcheck(
    f: Callable,
    *args: Any,
    argnums: int | Sequence[int] | None = None,
    modes: Sequence[str] = MODES,
    order: int = 1,
    raise_on_fail: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    nproj: int = 3,
    full_max: int = 64,
    fallback_max: int = 1024,
    seed: int = 0,
    locate: bool = True,
    name: str | None = None,
) -> GradcheckReport:
    """Check chainrule's derivatives of ``f`` at ``args`` against finite differences.

    ``argnums``: the inputs to check (default: every floating-point argument).  ``modes``:
    ``"rev"`` (VJP, backward) and/or ``"fwd"`` (JVP, forward mode).  ``order=2`` also
    checks the derivative of the gradient (reverse-over-reverse, forward-over-reverse).
    ``rtol``/``atol`` (optional) replace the default floors; the tolerance of every
    element always includes 10x the estimated finite-difference error.

    Inputs of at most ``full_max`` real numbers get the full Jacobian; larger ones random
    projections, then the full Jacobian (up to ``fallback_max``) where one fails.

    Returns a report: truthy when every check holds; ``str(report)`` is a table of the
    worst element of each failing check and, when a recorded operation's own rule is
    wrong, that operation, the line that called it, and hints.  ``raise_on_fail=True``
    raises :class:`GradcheckError` carrying the report instead of returning a failing one.
    """
    modes = tuple(modes)
    for md in modes:
        if md not in MODES:
            raise ValueError(f"gradcheck: modes must be among {MODES}, got {md!r}")
    if order < 1:
        raise ValueError("gradcheck: order must be at least 1")
    if argnums is None:
        nums = tuple(i for i, a in enumerate(args) if _is_float_like(a))
        if not nums:
            raise ValueError(
                "gradcheck: no floating-point argument to differentiate (pass floats or float "
                "arrays, or name the arguments with argnums=...)")
    else:
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        nums = tuple(i % len(args) for i in nums)
    report = GradcheckReport(name or _fname(f))
    rng = np.random.default_rng(seed)
    o = _Opts(modes=modes, order=1, rtol=rtol, atol=atol, nproj=nproj, full_max=full_max,
              full_max_out=full_max, fallback_max=fallback_max)
    P = Problem(f, args, nums)
    failing: dict[int, tuple] = {}
    _run(P, o, report, rng)
    if not report.ok:
        failing[1] = (P.f, P)
    if order >= 2 and report.ok:
        if any(P.cplx):
            report.notes.append("second order is not checked for complex inputs")
        else:
            cur = P
            for level in range(2, order + 1):
                u = rng.standard_normal(cur.m)
                fg = _grad_fn(cur, u)
                nxt = Problem(fg, cur.x0, range(len(cur.x0)),
                              names=[cur.names[i] for i in cur.argnums])
                o2 = _Opts(**{**o.__dict__, "order": level})
                before = len(report.failures)
                _run(nxt, o2, report, rng, low_precision=False)
                if len(report.failures) > before:
                    failing[level] = (fg, nxt, P)
                    break
                cur = nxt
    if not report.ok and locate:
        from .locate import locate_failure

        locate_failure(report, P, failing, rng, rtol=rtol, atol=atol)
    if raise_on_fail and not report.ok:
        raise GradcheckError(report)
    return report


def _run(P: Problem, o: _Opts, report: GradcheckReport, rng: np.random.Generator,
         low_precision: bool = True) -> None:
    ad = AD(P)
    rev_rows: dict = {}
    for k in range(len(P.argnums)):
        _check_input(P, ad, k, o, report, rng, rev_rows)
    if "rev" in o.modes:
        _determinism(P, ad, o, report, rng)
    if low_precision:
        _low_precision(P, o, report, rng, ad)


def _grad_fn(P: Problem, u: np.ndarray) -> Callable:
    """x -> the gradient of <u, f(x)> w.r.t. the checked inputs (a tuple), by chainrule."""
    ct = P.cotangent(u)

    def grad_of_f(*xs: Any) -> Any:
        return T.vjp(lambda *ys: P.call_ad(ys), *xs)[1](ct)

    grad_of_f.__name__ = f"grad({_fname(P.f)})"
    return grad_of_f


__all__ = ["gradcheck", "GradcheckError", "GradcheckReport", "Problem", "AD", "FD", "EPS64"]
