"""Which recorded operation is wrong: replay each node's own rules against its forward.

gradcheck traces the failing function once with a recorder installed (``STATE.record``):
every node the engine records hands over its primitive, a copy of its inputs and output,
and the user's source line.  Each node is then checked on its own: its VJP and JVP rules,
called at the node's recorded inputs, against finite differences of that primitive's
forward function alone.  The first node (in creation order) whose rule disagrees is the
culprit; hints say how it disagrees (a constant factor, a sign, a transpose, a forgotten
cotangent, the derivative of another point, low precision ...).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import errors
from ..core.primitive import Meta, Primitive
from ..core.state import STATE
from .gradcheck import Problem, _check_input, _Opts
from .numerical import directional, flat_output, from_real, plain, to_real
from .report import Check, GradcheckReport, NodeFinding
from ..core.tensor import tensor
from ..core.registry import PRIMITIVES
from ..ops.util import fit_tangent
from .. import transforms as T


@dataclass
class Rec:
    """One recorded node: what its rules need, copied at record time."""

    prim: Primitive
    args: tuple
    kw: dict
    ans: Any
    seq: int
    site: tuple | None
    tracked: tuple


def _copy(a: Any) -> Any:
    return np.array(a, copy=True) if isinstance(a, np.ndarray) else a


class Recorder:
    """``with Recorder() as rec:`` records every node the engine creates in this thread."""

    def __init__(self) -> None:
        self.recs: list[Rec] = []
        self._saved: Any = None

    def __call__(self, node: Any, raw: Sequence[Any], ans: Any) -> None:
        site = errors.user_site(2)
        node.site = site
        self.recs.append(Rec(node.prim, tuple(_copy(a) for a in raw), dict(node.kw or {}),
                             _copy(ans), node.seq, site,
                             tuple(p is not None for p in node.parents)))

    def __enter__(self) -> Recorder:
        self._saved = STATE.record
        STATE.record = self
        return self

    def __exit__(self, *exc: Any) -> None:
        STATE.record = self._saved


def trace(f: Callable, xs: Sequence[Any]) -> tuple[list[Rec], Any, BaseException | None]:
    """Run f on fresh leaves for ``xs`` with the recorder on."""
    err = None
    out = None
    with Recorder() as rec:
        ts = [tensor(np.asarray(x), requires_grad=True) for x in xs]
        try:
            out = f(*ts)
        except Exception as exc:
            err = exc
    return sorted(rec.recs, key=lambda r: r.seq), out, err


# ---------------------------------------------------------------------------------
# one node's rules as an "AD" for gradcheck's comparison machinery


class RuleError(Exception):
    """A rule that is missing, raises, or returns the wrong shape."""

    def __init__(self, message: str, argnum: int | None = None) -> None:
        super().__init__(message)
        self.argnum = argnum


class RuleAD:
    """The node's VJP/JVP rules, called directly, in real coordinates (like gradcheck.AD)."""

    def __init__(self, rec: Rec, P: Problem) -> None:
        self.rec = rec
        self.P = P
        self.prim = rec.prim
        args = list(P.args)
        for i, x in zip(P.argnums, P.x0, strict=True):
            args[i] = x
        self.args = tuple(args)
        self.ans = np.asarray(plain(P.out0))
        self._vjp_fn = True
        self.rev_error = None
        self.last_raw_dtype: Any = None
        self.only: int | None = None   # compute the VJP of this input only (others zero)

    def vjp_raw(self, ct: Any) -> tuple:
        prim, saves = self.prim, self.prim.saves
        args_v = tuple(a if (saves is None or j in saves or not hasattr(a, "shape")) else Meta(a)
                       for j, a in enumerate(self.args))
        ans_v = self.ans if prim.saves_ans else Meta(self.ans)
        out = []
        for k, i in enumerate(self.P.argnums):
            if self.only is not None and k != self.only:
                out.append(np.zeros_like(np.asarray(self.args[i])))
                continue
            rule = prim.vjps.get(i)
            if rule is None:
                raise RuleError(f"{prim.name} has no VJP rule for argument {i}", i)
            try:
                gi = plain(rule(ct, ans_v, *args_v, **self.rec.kw))
            except Exception as exc:
                raise RuleError(f"the VJP rule raised {type(exc).__name__}: {exc}", i) from exc
            gi = np.asarray(gi)
            self.last_raw_dtype = gi.dtype
            want = np.shape(self.args[i])
            if gi.shape != want:
                raise RuleError(_shape_message("cotangent", gi.shape, want), i)
            if gi.dtype.kind == "c" and np.asarray(self.args[i]).dtype.kind != "c":
                gi = gi.real
            out.append(gi)
        return tuple(out)

    def vjp(self, ur: np.ndarray) -> list[np.ndarray]:
        return [to_real(g) for g in self.vjp_raw(self.P.cotangent(ur))]

    def jvp(self, k: int, vr: np.ndarray) -> np.ndarray:
        prim = self.prim
        i = self.P.argnums[k]
        x = np.asarray(self.args[i])
        dx = from_real(vr, x.shape, x.dtype.kind == "c").astype(x.dtype)
        try:
            if prim.jvp_all is not None:
                ts = [None] * len(self.args)
                ts[i] = dx
                t = prim.jvp_all(ts, self.ans, *self.args, **self.rec.kw)
            else:
                rule = prim.jvps.get(i)
                if rule is None:
                    raise RuleError(f"{prim.name} has no JVP rule for argument {i}")
                t = rule(dx, self.ans, *self.args, **self.rec.kw)
        except RuleError:
            raise
        except Exception as exc:
            raise RuleError(f"the JVP rule raised {type(exc).__name__}: {exc}") from exc
        t = plain(t)
        self.last_raw_dtype = np.asarray(t).dtype
        if np.shape(t) != self.ans.shape:
            try:
                np.broadcast_to(t, self.ans.shape)
            except ValueError:
                raise RuleError(_shape_message("tangent", np.shape(t), self.ans.shape)) from None
        return flat_output(plain(fit_tangent(t if hasattr(t, "shape") else np.asarray(t),
                                             self.ans)))


def _shape_message(what: str, got: tuple, want: tuple) -> str:
    msg = (f"the rule returned a {what} of shape {tuple(got)} for "
           f"{'an argument' if what == 'cotangent' else 'an output'} of shape {tuple(want)}")
    if what == "cotangent" and len(got) >= len(want):
        try:
            if np.broadcast_shapes(got, want) == tuple(got):
                return msg + ": a missing sum over the broadcast axes (use unbroadcast(x, g))"
        except ValueError:
            pass
    if tuple(got[::-1]) == tuple(want) or (len(got) >= 2 and tuple(got[:-2]) + (got[-1], got[-2])
                                          == tuple(want)):
        return msg + ": it is transposed"
    if int(np.prod(got)) == int(np.prod(want)):
        return msg + ": the right size in the wrong shape (a wrong axis or reshape)"
    return msg


# ---------------------------------------------------------------------------------


def _node_problem(rec: Rec) -> Problem | None:
    nums = [i for i, (a, t) in enumerate(zip(rec.args, rec.tracked, strict=True))
            if t and np.asarray(a).dtype.kind in "fc"]
    if not nums:
        return None
    prim, kw = rec.prim, rec.kw
    args = [np.asarray(a) if isinstance(a, np.ndarray | np.generic) else a for a in rec.args]
    from .gradcheck import _arg_names

    names = _arg_names(prim.fwd, len(args))
    if len(set(names)) != len(names):
        names = [f"arg{i}" for i in range(len(args))]
    P = Problem(lambda *a: prim.fwd(*a, **kw), args, nums, names=names)
    # arrays stay arrays (Problem marks 0-d arrays as arrays already)
    return P


def check_node(rec: Rec, modes: Sequence[str], rng: np.random.Generator,
               rtol: float | None = None, atol: float | None = None
               ) -> tuple[GradcheckReport, Problem, RuleAD, dict] | None:
    """Replay one node's rules; the report fails when a rule disagrees."""
    with np.errstate(all="ignore"):
        return _check_node(rec, modes, rng, rtol, atol)


def _check_node(rec: Rec, modes: Sequence[str], rng: np.random.Generator,
                rtol: float | None, atol: float | None
                ) -> tuple[GradcheckReport, Problem, RuleAD, dict] | None:
    P = _node_problem(rec)
    if P is None or P.m == 0:
        return None
    ad = RuleAD(rec, P)
    rep = GradcheckReport(rec.prim.name)
    capture: dict = {}
    o = _Opts(modes=tuple(modes), order=1, rtol=rtol, atol=atol, nproj=3, full_max=64,
              full_max_out=64, fallback_max=1024, capture=capture)
    for k in range(len(P.argnums)):
        ad.only = k
        try:
            _check_input(P, ad, k, o, rep, rng, {})
        except RuleError as exc:  # a missing rule outside the guarded calls
            rep.add(Check(P.names[P.argnums[k]], "rev", 1, False, message=str(exc)))
    ad.only = None
    return rep, P, ad, capture


def _finding(rec: Rec, rep: GradcheckReport, P: Problem, ad: RuleAD, capture: dict,
             rng: np.random.Generator, order: int = 1) -> NodeFinding:
    bad = rep.failures[0]
    argnum = P.names.index(bad.input) if bad.input in P.names else P.argnums[0]
    mode = "VJP" if bad.mode == "rev" else "JVP"
    in_shapes = [np.shape(a) for a in rec.args if hasattr(a, "shape")]
    custom = not any(p is rec.prim for p in PRIMITIVES.values())
    msg = bad.message
    for pfx in ("the backward pass raised RuleError: ", "forward mode raised RuleError: "):
        if msg.startswith(pfx):
            msg = msg[len(pfx):]
    fnd = NodeFinding(rec.prim.name, rec.seq, errors.format_site(rec.site), mode, argnum,
                      in_shapes, np.shape(rec.ans), bad.worst, msg, [], custom)
    rule = (rec.prim.vjps if mode == "VJP" else rec.prim.jvps).get(argnum)
    where = _defined_at(rule)
    if where:
        fnd.hints.append(f"the {mode} rule is defined at {where}")
    if order == 1:
        try:
            fnd.hints[:0] = hints(rec, P, ad, argnum, mode, capture, rng)
        except Exception as exc:
            fnd.hints.append(f"(no further hints: {type(exc).__name__}: {exc})")
    return fnd


def _defined_at(fn: Any) -> str:
    if fn is None:
        return ""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ""
    fn_file = code.co_filename
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if fn_file.startswith(here):
        return ""
    return errors.format_site((fn_file, code.co_firstlineno))


def first_wrong_node(recs: Sequence[Rec], modes: Sequence[str], rng: np.random.Generator,
                     limit: int = 2000, rtol: float | None = None,
                     atol: float | None = None) -> NodeFinding | None:
    for rec in recs[:limit]:
        res = check_node(rec, modes, rng, rtol, atol)
        if res is None:
            continue
        rep, P, ad, capture = res
        if not rep.ok:
            return _finding(rec, rep, P, ad, capture, rng)
    return None


def first_wrong_node_order2(recs: Sequence[Rec], modes: Sequence[str],
                            rng: np.random.Generator) -> NodeFinding | None:
    """A node whose rule is right but not differentiated right (its rule leaves the graph)."""
    from .gradcheck import gradcheck

    for rec in recs[:500]:
        P = _node_problem(rec)
        if P is None or P.m == 0 or any(P.cplx):
            continue
        if any(rec.prim.vjps.get(i) is None for i in P.argnums):
            continue
        u = rng.standard_normal(P.m)
        ct = P.cotangent(u)
        prim, kw, nums = rec.prim, rec.kw, P.argnums
        base = list(P.args)

        def h(*xs: Any, prim: Primitive = prim, kw: dict = kw, nums: tuple = nums,
              base: list = base, ct: Any = ct) -> Any:
            def fwd(*ys: Any) -> Any:
                a = list(base)
                for i, y in zip(nums, ys, strict=True):
                    a[i] = y
                return prim(*a, **kw)

            return T.vjp(fwd, *xs)[1](ct)

        xs = [P.x0[k] for k in range(len(nums))]
        rep = gradcheck(h, *xs, modes=modes, locate=False, name=f"VJP of {prim.name}")
        for c in rep.checks:  # h's inputs are the node's differentiable arguments
            if c.input.startswith("arg") and c.input[3:].isdigit() and int(c.input[3:]) < len(nums):
                c.input = P.names[nums[int(c.input[3:])]]
        if not rep.ok:
            bad = rep.failures[0]
            in_shapes = [np.shape(a) for a in rec.args if hasattr(a, "shape")]
            custom = not any(p is prim for p in PRIMITIVES.values())
            argnum = P.names.index(bad.input) if bad.input in P.names else nums[0]
            fnd = NodeFinding(
                prim.name, rec.seq, errors.format_site(rec.site),
                f"VJP ({'rev' if bad.mode.startswith('rev') else 'fwd'}-over-rev, 2nd order)",
                argnum, in_shapes, np.shape(rec.ans), bad.worst, bad.message, [], custom)
            fnd.hints.append(
                "its first-order rule is right, but chainrule's derivative of that rule is not: "
                "the rule is not differentiable as written (a value taken out of the graph "
                "inside it: value(), np.asarray, float(), .item(), or a NumPy call on a "
                "constant copy); write it with chainrule's operations on the rule's inputs")
            if bad.worst is not None and bad.worst.auto == 0 and bad.worst.num != 0:
                fnd.hints.append("chainrule's second derivative is 0 there: the rule treats "
                                 "the input as a constant")
            where = _defined_at(prim.vjps.get(argnum))
            if where:
                fnd.hints.append(f"the VJP rule is defined at {where}")
            return fnd
    return None


# ---------------------------------------------------------------------------------
# hints


_CONSTANTS = [(2.0, "2"), (3.0, "3"), (4.0, "4"), (0.5, "1/2"), (1 / 3, "1/3"), (0.25, "1/4"),
              (np.pi, "pi"), (1 / np.pi, "1/pi"), (2 * np.pi, "2 pi"), (np.log(2), "ln 2"),
              (1 / np.log(2), "1/ln 2"), (np.log(10), "ln 10"), (1 / np.log(10), "1/ln 10"),
              (np.e, "e"), (1 / np.e, "1/e")]


def _name_const(c: float) -> str:
    r = round(c)
    if r != 0 and abs(c - r) <= 1e-6 * abs(c):
        return "" if f"{c:.6g}" == str(r) else f" (= {r})"
    for v, s in _CONSTANTS:
        if abs(c - v) <= 1e-6 * abs(v):
            return f" (= {s})"
    if c != 0 and abs(1 / c - round(1 / c)) <= 1e-6 * abs(1 / c) and round(1 / c) != 0:
        return f" (= 1/{round(1 / c)})"
    return ""


def ratio_hint(A: np.ndarray, N: np.ndarray, use: np.ndarray, what: str = "the rule") -> str:
    A, N, use = A.reshape(-1), N.reshape(-1), use.reshape(-1)
    scale = float(np.max(np.abs(N[use]), initial=0.0))
    if scale == 0:
        if np.any(A[use] != 0):
            return f"{what} is nonzero where the true derivative is zero"
        return ""
    sel = use & (np.abs(N) > 1e-6 * scale)
    if not np.any(sel):
        return ""
    r = A[sel] / N[sel]
    c = float(np.median(r))
    rest = use & ~sel
    consistent = np.all(np.abs(r - c) <= 1e-4 * abs(c) + 1e-9) and np.all(
        np.abs(A[rest]) <= 1e-4 * scale + 1e-12)
    if not consistent:
        return ""
    many = int(np.sum(sel)) >= 2
    if not many and not _name_const(c) and abs(abs(c) - 1) > 1e-6 and abs(c) >= 1e-6:
        return ""  # one number: every value is "a ratio"; only a telling one is a hint
    const = "a constant ratio" if many else "ratio"
    if abs(c) < 1e-6:
        return f"{what} returns zero where the true derivative is not"
    if abs(c + 1) <= 1e-6:
        return f"sign flip: {what} is minus the true derivative" + (
            " at every element" if many else "")
    if abs(c - 1) <= 1e-6:
        return ""
    return (f"{const} {c:.6g}{_name_const(c)}: {what} is {c:.6g} times the true derivative "
            f"(a missing factor {1 / c:.6g}{_name_const(1 / c)}, or one too many)")


def hints(rec: Rec, P: Problem, ad: RuleAD, argnum: int, mode: str, capture: dict,
          rng: np.random.Generator) -> list[str]:
    """Why the node's rule for ``argnum`` disagrees (best effort, most specific first)."""
    out: list[str] = []
    k = P.argnums.index(argnum) if argnum in P.argnums else 0
    ad.only = k
    key = (k, "rev" if mode == "VJP" else "fwd")
    x = np.asarray(P.x0[k])
    n, m = to_real(x).size, P.m
    G = P.G(k)
    xr = to_real(x)

    # the vector forms at the recorded point: a = rule result, nv = numerical one
    def numerical_vec(Gc: Callable, x_r: np.ndarray, F0: np.ndarray, vec: np.ndarray) -> tuple:
        num = capture.get((k, "num"))
        if num is not None:  # the full numerical Jacobian gradcheck already built
            D, sk = num
            if mode == "JVP":
                return D @ vec, np.any(sk & (vec != 0)[None, :], axis=1)
            return vec @ np.where(sk, 0, D), np.any(sk & (vec != 0)[:, None], axis=0)
        if mode == "JVP":
            fd = directional(Gc, x_r, vec, F0, P.eps)
            return fd.d, fd.kink | fd.undefined
        cols = []
        bad = np.zeros(n, bool)
        for j in range(n):
            fd = directional(Gc, x_r, np.eye(1, n, j).reshape(-1), F0, P.eps)
            cols.append(vec @ np.where(fd.kink | fd.undefined, 0, fd.d))
            bad[j] = np.any((fd.kink | fd.undefined) & (vec != 0))
        return np.array(cols), bad

    if mode == "VJP" and n > 256 and (k, "num") not in capture:
        return out
    vec = rng.standard_normal(n if mode == "JVP" else m)

    def rule_vec(v: np.ndarray) -> np.ndarray:
        return ad.jvp(k, v) if mode == "JVP" else ad.vjp(v)[k]

    try:
        a = rule_vec(vec)
    except RuleError:
        return out
    nv, skip = numerical_vec(G, xr, P.F0, vec)
    use = ~skip
    # 1. linear in its cotangent / tangent?
    a2 = rule_vec(2 * vec)
    if not np.allclose(a2, 2 * a, rtol=1e-6, atol=1e-12 * (np.max(np.abs(a), initial=0) + 1)):
        what = "cotangent g" if mode == "VJP" else "tangent dx"
        out.append(f"the rule is not linear in its {what}: it ignores it (a forgotten "
                   f"'{what.split()[-1]} *') or adds a constant; a {mode} rule must scale with "
                   f"its {what}")
        return out
    # 2. constant ratio, sign flip (on the full Jacobian when gradcheck built one)
    cap = capture.get(key)
    if cap is not None:
        A_, D_, skip_ = cap
        h = ratio_hint(A_, D_, ~skip_)
    else:
        h = ratio_hint(a, nv, use)
    if h:
        out.append(h)
    # 3. transposed / right values in wrong places
    shape = np.shape(rec.args[argnum]) if mode == "VJP" else np.shape(rec.ans)
    cplx = x.dtype.kind == "c" if mode == "VJP" else np.iscomplexobj(ad.ans)
    if not h and not cplx and len(shape) >= 2 and shape[-1] == shape[-2] and np.all(use):
        A2 = a.reshape(shape)
        N2 = nv.reshape(shape)
        tol = 1e-8 * (np.max(np.abs(N2)) + 1)
        if np.allclose(np.swapaxes(A2, -1, -2), N2, rtol=1e-5, atol=tol):
            out.append("transposed: the rule's result is the transpose of the true one (a "
                       "missing .T, swapped operands of a matmul, or a wrong axis order)")
    if cap is not None and not out:
        A_, D_, skip_ = cap
        if A_.shape[0] == A_.shape[1] and A_.shape[0] > 1 and np.all(~skip_) and np.allclose(
                A_, D_.T, rtol=1e-5, atol=1e-8 * (np.max(np.abs(D_)) + 1)) and not np.allclose(
                A_, D_, rtol=1e-5, atol=1e-8 * (np.max(np.abs(D_)) + 1)):
            if np.iscomplexobj(x) or np.iscomplexobj(ad.ans):
                out.append("a missing complex conjugate: the rule's real Jacobian is the "
                           "transpose of the true one, which for a product z*w is conj(w) "
                           "where w is written (PyTorch's convention: g * conj(f'(z)))")
            else:
                out.append("the rule applies the transposed Jacobian (J^T where J belongs, or "
                           "the other way round: a scan, permutation or matrix not inverted)")
    if not out and np.all(use) and a.size > 1 and np.allclose(
            np.sort(a), np.sort(nv), rtol=1e-5, atol=1e-8 * (np.max(np.abs(nv)) + 1)):
        out.append("the right values in the wrong places: a wrong axis, a transpose, or an "
                   "index off by one")
    # 3b. a branch / mask: right on some elements, nonzero (or zero) where it should not be
    if not out and a.size > 1:
        sc = float(np.max(np.abs(nv[use]), initial=0.0)) + 1e-300
        wrong = use & (np.abs(a - nv) > 1e-6 * sc)
        if np.any(wrong) and np.any(use & ~wrong):
            j = int(np.argmax(wrong))
            at = ""
            if mode == "VJP" and not np.iscomplexobj(x):
                at = f" (first at {P.in_index(k, j)} = {float(xr[j]):.6g})"
            if np.all(np.abs(nv[wrong]) <= 1e-9 * sc):
                out.append(f"the rule is nonzero where the true derivative is zero{at}, and "
                           "right elsewhere: a missing mask or branch (like relu's x > 0)")
            elif np.all(np.abs(a[wrong]) <= 1e-9 * sc):
                out.append(f"the rule is zero where the true derivative is not{at}, and right "
                           "elsewhere: a mask or branch that is too strict")
    # 4. low precision
    rd = ad.last_raw_dtype
    if rd is not None and rd.kind in "fc" and rd.itemsize < (16 if rd.kind == "c" else 8):
        label = "float32 noise" if rd == np.float32 else "low precision"
        out.append(f"{label}: the rule computes in {rd} for float64 inputs, so its error is "
                   f"{rd} rounding rather than a wrong formula")
    else:
        with np.errstate(all="ignore"):
            rel = np.max(np.abs(a - nv)[use] / (np.abs(nv[use]) + np.max(np.abs(nv)) + 1e-300),
                         initial=0.0)
        low = [np.asarray(v).dtype for v in rec.args if hasattr(v, "dtype")]
        if rel < 1e-3 and any(d.kind == "f" and d.itemsize < 8 for d in low):
            out.append("float32 noise: the difference is at float32 rounding level and the node "
                       "ran in float32; check in float64")
    # 5. where the rule and the forward evaluate their nonlinear pieces (the seed's bug)
    try:
        from .points import rule_vs_forward

        pts = rule_vs_forward(rec, argnum, mode, ad)
    except Exception:
        pts = []
    # 6. the derivative of another point (a constant ratio over many elements says more)
    if not pts and n <= 64 and (not out or (h and h.startswith("ratio"))):
        pt = _other_point(rec, P, ad, k, argnum, mode, a, vec)
        if pt:
            out.insert(0, pt)
    return pts + out


def _other_point(rec: Rec, P: Problem, ad: RuleAD, k: int, argnum: int, mode: str,
                 a: np.ndarray, vec: np.ndarray) -> str:
    """Does the rule equal the true derivative at a different point?"""
    x = np.asarray(P.x0[k])
    if x.dtype.kind == "c":
        return ""
    ans = np.asarray(ad.ans)
    cands: list[tuple[str, dict]] = []
    if ans.shape == x.shape and ans.dtype.kind == "f":
        cands.append(("the output y = f(x)", {argnum: ans}))
    for j, other in enumerate(ad.args):
        if j == argnum or not isinstance(other, np.ndarray | float):
            continue
        o = np.asarray(other)
        if o.shape == x.shape and o.dtype.kind == "f":
            cands.append((f"argument {j}", {argnum: o}))
            cands.append((f"argument {argnum} and {j} swapped", {argnum: o, j: x}))
    nm = P.names[argnum]
    for desc, fn in [(f"2{nm}", lambda v: 2 * v), (f"{nm}/2", lambda v: v / 2),
                     (f"-{nm}", lambda v: -v), (f"{nm}+1", lambda v: v + 1),
                     (f"{nm}-1", lambda v: v - 1), (f"{nm}^2", lambda v: v * v),
                     ("1", lambda v: np.ones_like(v)), ("0", lambda v: np.zeros_like(v))]:
        cands.append((desc, {argnum: fn(x)}))
    scale = float(np.max(np.abs(a), initial=0.0))
    with np.errstate(all="ignore"):
        return _try_points(cands, P, ad, k, argnum, mode, a, vec, x, scale)


def _try_points(cands: list, P: Problem, ad: RuleAD, k: int, argnum: int, mode: str,
                a: np.ndarray, vec: np.ndarray, x: np.ndarray, scale: float) -> str:
    for desc, repl in cands:
        args = list(ad.args)
        for j, v in repl.items():
            args[j] = v
        try:
            Pc = Problem(P.f, args, P.argnums, names=P.names)
            if not np.all(np.isfinite(Pc.F0)):
                continue
            Gc = Pc.G(k)
            xr = to_real(Pc.x0[k])
            if mode == "JVP":
                fd = directional(Gc, xr, vec, Pc.F0, Pc.eps)
                nv, bad = fd.d, fd.kink | fd.undefined
            else:
                n = xr.size
                nv = np.empty(n)
                bad = np.zeros(n, bool)
                for jj in range(n):
                    fd = directional(Gc, xr, np.eye(1, n, jj).reshape(-1), Pc.F0, Pc.eps)
                    nv[jj] = vec @ fd.d
                    bad[jj] = np.any(fd.kink | fd.undefined)
        except Exception:
            continue
        if np.any(bad) or scale == 0:
            continue
        if np.allclose(a, nv, rtol=1e-5, atol=1e-7 * scale):
            nm = P.names[argnum]
            where = desc if desc.startswith(("the", "argument")) else (
                f"{nm} := {desc}" + ("" if desc in ("0", "1") and x.size == 1 else
                                     f" ({_short(np.asarray(repl[argnum]))})"))
            return (f"the rule matches the true derivative at another point: at {where} "
                    f"instead of at the recorded {nm} ({_short(x)}): it is evaluated at the "
                    f"wrong point")
    return ""


def _short(v: np.ndarray) -> str:
    v = np.asarray(v)
    if v.size == 1:
        return f"{float(v.reshape(-1)[0]):.6g}"
    return np.array2string(v.reshape(-1)[:4], precision=4, separator=", ") + (
        "..." if v.size > 4 else "")


# ---------------------------------------------------------------------------------


def locate_failure(report: GradcheckReport, P: Problem, failing: dict,
                   rng: np.random.Generator, rtol: float | None = None,
                   atol: float | None = None) -> None:
    """Fill ``report.located`` (or ``locate_note``) for the lowest failing order."""
    modes = ("rev", "fwd")
    if 1 in failing:
        recs, out, err = trace(lambda *xs: P.call_ad(xs), P.x0)
        fnd = first_wrong_node(recs, modes, rng, rtol=rtol, atol=atol)
        if fnd is not None:
            report.located = fnd
            return
        report.locate_note = _no_node_note(recs, err, P, report)
        return
    level = min(failing)
    fg, nxt, P1 = failing[level]
    recs, out, err = trace(fg, nxt.x0)
    fnd = first_wrong_node(recs, modes, rng, rtol=rtol, atol=atol)
    if fnd is None:
        recs1, _, _ = trace(lambda *xs: P1.call_ad(xs), P1.x0)
        fnd = first_wrong_node_order2(recs1, modes, rng)
    if fnd is not None:
        report.located = fnd
        return
    report.locate_note = _no_node_note(recs, err, nxt, report)


def _no_node_note(recs: list, err: BaseException | None, P: Problem,
                  report: GradcheckReport) -> str:
    if err is not None:
        return (f"not located: tracing f with chainrule raised {type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}")
    if not recs:
        return ("not located: chainrule recorded no operation on the inputs (f does not use "
                "chainrule operations on them, or takes them out of the graph)")
    only_numeric = all(c.message == "" or c.mode in ("determinism", "zero-cotangent")
                       for c in report.failures)
    base = (f"not located: each of the {len(recs)} recorded operations' rules agrees with "
            f"finite differences of that operation alone")
    if only_numeric:
        return base + (", so the error is in how they connect: a value that left the graph "
                       "(.detach(), .item(), np.asarray, value() inside a custom primitive's "
                       "forward) or state that changes between calls")
    return base


__all__ = ["Recorder", "trace", "check_node", "first_wrong_node", "locate_failure", "hints",
           "ratio_hint", "RuleAD", "Rec"]
