"""The checker measured: a catalogue of deliberately wrong rules, each registered as a custom
primitive and called from a composite function.  gradcheck must flag every one AND locate
it: name the buggy primitive and the line of the composite function that called it.  The
same functions with the rules written correctly must pass (no false alarm).

Figures (printed by test_catalogue_figures): bugs flagged, bugs located, false alarms.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.util import unbroadcast, value


def sig(x):
    return 1 / (1 + np.exp(-x))


def dsig(x):
    return sig(x) * (1 - sig(x))


@dataclass
class Bug:
    name: str
    kind: str
    fwd: Callable
    good_vjp: tuple
    good_jvp: tuple
    bad_vjp: tuple | None = None     # None: the good VJP rules
    bad_jvp: tuple | None = None
    order: int = 1
    hint: str = ""                   # a word the hints must contain ("" : no requirement)
    ops: dict = field(default_factory=dict)

    def op(self, good: bool) -> Any:
        key = "good" if good else "bad"
        if key not in self.ops:
            p = cr.primitive(self.fwd, name=self.name)
            cr.defvjp(p, *(self.good_vjp if good or self.bad_vjp is None else self.bad_vjp))
            cr.defjvp(p, *(self.good_jvp if good or self.bad_jvp is None else self.bad_jvp))
            self.ops[key] = p
        return self.ops[key]


BUGS: list[Bug] = []
CASES: dict[str, tuple] = {}   # name -> (composite maker, args)


def add(bug: Bug, make: Callable, *args: Any) -> None:
    BUGS.append(bug)
    CASES[bug.name] = (make, args)


rng = np.random.default_rng(0)
V3 = np.array([0.3, 1.1, -0.6])
M3 = np.array([[0.5, -0.2, 0.8], [0.1, 0.9, -0.4], [-0.7, 0.3, 0.6]])
X2 = 2.0

# 1. the seed's bug: sigma'(x) where sigma'(w x) belongs
add(Bug("sig_wx", "wrong point (the seed's sigma'(x) for sigma'(w x))",
        lambda w, x: sig(w * x),
        (lambda g, ans, w, x: g * dsig(w * x) * x, lambda g, ans, w, x: g * dsig(w * x) * w),
        (lambda dw, ans, w, x: dw * dsig(w * x) * x, lambda dx, ans, w, x: dx * dsig(w * x) * w),
        bad_vjp=(lambda g, ans, w, x: g * dsig(x) * x, lambda g, ans, w, x: g * dsig(w * x) * w),
        hint="evaluates sig at [2., 2., 2.]"),
    lambda op: (lambda w: np.sum(np.sin(op(w * 1.0, np.full(3, X2))) * 2.0)), V3 * 0.5)
# 2. missing factor
add(Bug("sq_missing2", "missing factor", lambda x: x * x,
        (lambda g, ans, x: g * 2 * x,), (lambda dx, ans, x: dx * 2 * x,),
        bad_vjp=(lambda g, ans, x: g * x,), hint="ratio 0.5"),
    lambda op: (lambda x: np.sum(np.exp(op(np.sin(x))))), V3)
# 3. wrong sign
add(Bug("cos_sign", "wrong sign", np.cos,
        (lambda g, ans, x: -g * np.sin(x),), (lambda dx, ans, x: -dx * np.sin(x),),
        bad_vjp=(lambda g, ans, x: g * np.sin(x),), hint="sign flip"),
    lambda op: (lambda x: np.sum(op(x * 2.0) ** 2)), V3)
# 4. transpose: d(A x)/dA is g x^T, not x g^T
add(Bug("matvec_T", "transpose", lambda A, x: A @ x,
        (lambda g, ans, A, x: np.outer(g, x), lambda g, ans, A, x: A.T @ g),
        (lambda dA, ans, A, x: dA @ x, lambda dx, ans, A, x: A @ dx),
        bad_vjp=(lambda g, ans, A, x: np.outer(x, g), lambda g, ans, A, x: A.T @ g),
        hint="transpose"),
    lambda op: (lambda A: np.sum(np.tanh(op(A, V3)))), M3)
# 5. missing broadcast reduction
add(Bug("badd_nounbroadcast", "missing broadcast reduction", lambda x, y: x + y,
        (lambda g, ans, x, y: unbroadcast(x, g), lambda g, ans, x, y: unbroadcast(y, g)),
        (lambda dx, ans, x, y: dx + 0 * y, lambda dy, ans, x, y: dy + 0 * x),
        bad_vjp=(lambda g, ans, x, y: unbroadcast(x, g), lambda g, ans, x, y: g),
        hint="unbroadcast"),
    lambda op: (lambda x, y: np.sum(np.sin(op(x, y)))), M3[:2], V3)
# 6. forgotten cotangent
add(Bug("exp_nog", "forgotten cotangent", np.exp,
        (lambda g, ans, x: g * ans,), (lambda dx, ans, x: dx * ans,),
        bad_vjp=(lambda g, ans, x: ans,), hint="not linear"),
    lambda op: (lambda x: np.sum(np.sin(op(x)) * np.array([1.0, -2.0, 0.5]))), V3)
# 7. wrong axis: the cotangent of a column sum broadcast along rows, not columns
add(Bug("colsum_axis", "wrong axis", lambda x: np.sum(x, axis=0),
        (lambda g, ans, x: np.broadcast_to(g[None, :], x.shape),),
        (lambda dx, ans, x: np.sum(dx, axis=0),),
        bad_vjp=(lambda g, ans, x: np.broadcast_to(g[:, None], x.shape),)),
    lambda op: (lambda x: np.sum(np.sin(op(x * 1.5)))), M3)
# 8. JVP only: a stray factor
add(Bug("sin_jvp_half", "missing factor (JVP)", np.sin,
        (lambda g, ans, x: g * np.cos(x),), (lambda dx, ans, x: dx * np.cos(x),),
        bad_jvp=(lambda dx, ans, x: 0.5 * dx * np.cos(x),), hint="ratio 0.5"),
    lambda op: (lambda x: np.sum(op(x) * np.exp(x))), V3)
# 9. wrong formula
add(Bug("log_formula", "wrong formula", np.log,
        (lambda g, ans, x: g / x,), (lambda dx, ans, x: dx / x,),
        bad_vjp=(lambda g, ans, x: g / x ** 2,)),
    lambda op: (lambda x: np.sum(op(x * x + 1.0))), V3)
# 10. missing square
add(Bug("tanh_nosquare", "wrong formula", np.tanh,
        (lambda g, ans, x: g * (1 - ans * ans),), (lambda dx, ans, x: dx * (1 - ans * ans),),
        bad_vjp=(lambda g, ans, x: g * (1 - ans),)),
    lambda op: (lambda x: np.sum(op(x) * 3.0)), V3)
# 11. quotient rule: d(x/y)/dy = -x/y^2
add(Bug("div_y", "wrong formula (second argument)", lambda x, y: x / y,
        (lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * x / (y * y)),
        (lambda dx, ans, x, y: dx / y, lambda dy, ans, x, y: -dy * x / (y * y)),
        bad_vjp=(lambda g, ans, x, y: g / y, lambda g, ans, x, y: g / y)),
    lambda op: (lambda x, y: np.sum(op(x, y + 2.0) ** 2)), V3, V3 * 0.5)
# 12. JVP that ignores its tangent
add(Bug("sin_jvp_nodx", "forgotten tangent (JVP)", np.sin,
        (lambda g, ans, x: g * np.cos(x),), (lambda dx, ans, x: dx * np.cos(x),),
        bad_jvp=(lambda dx, ans, x: np.cos(x),), hint="not linear"),
    lambda op: (lambda x: np.sum(op(2.0 * x))), V3)
# 13. sqrt: a factor 1/2 lost
add(Bug("sqrt_half", "missing factor", np.sqrt,
        (lambda g, ans, x: g * 0.5 / ans,), (lambda dx, ans, x: dx * 0.5 / ans,),
        bad_vjp=(lambda g, ans, x: g / ans,), hint="ratio 2"),
    lambda op: (lambda x: np.sum(op(x * x + 0.5))), V3)
# 14. complex: a missing conjugate
Z = np.array([0.5 + 1.0j, -0.3 + 0.2j])
W = np.array([1.2 - 0.4j, 0.7 + 0.9j])
add(Bug("cmul_noconj", "missing conjugate (complex)", lambda z, w: z * w,
        (lambda g, ans, z, w: g * np.conj(w), lambda g, ans, z, w: g * np.conj(z)),
        (lambda dz, ans, z, w: dz * w, lambda dw, ans, z, w: z * dw),
        bad_vjp=(lambda g, ans, z, w: g * w, lambda g, ans, z, w: g * np.conj(z))),
    lambda op: (lambda z: np.sum(np.abs(op(z, W)) ** 2)), Z)
# 15. scan in the wrong direction
add(Bug("cumsum_dir", "wrong direction (scan)", lambda x: np.cumsum(x),
        (lambda g, ans, x: np.cumsum(g[::-1])[::-1],), (lambda dx, ans, x: np.cumsum(dx),),
        bad_vjp=(lambda g, ans, x: np.cumsum(g),)),
    lambda op: (lambda x: np.sum(np.sin(op(x)))), V3)
# 16. a permutation not inverted
P3 = (1, 2, 0)
T3 = np.arange(8.0).reshape(2, 2, 2) / 7 - 0.3
add(Bug("perm_noinv", "wrong axes (permutation not inverted)", lambda x: np.transpose(x, P3),
        (lambda g, ans, x: np.transpose(g, np.argsort(P3)),),
        (lambda dx, ans, x: np.transpose(dx, P3),),
        bad_vjp=(lambda g, ans, x: np.transpose(g, P3),), hint="wrong places"),
    lambda op: (lambda x: np.sum(np.sin(op(x)) * np.arange(8.0).reshape(2, 2, 2))), T3)
# 17. softplus: sigma(-x) for sigma(x)
add(Bug("softplus_sign", "sign inside", lambda x: np.log1p(np.exp(x)),
        (lambda g, ans, x: g * sig(x),), (lambda dx, ans, x: dx * sig(x),),
        bad_vjp=(lambda g, ans, x: g * sig(-x),), hint="-x"),
    lambda op: (lambda x: np.sum(op(x) ** 2)), V3)
# 18. right at first order, not differentiable as written (second order)
add(Bug("cube_const", "rule leaves the graph (2nd order)", lambda x: x ** 3,
        (lambda g, ans, x: g * 3 * x * x,), (lambda dx, ans, x: dx * 3 * x * x,),
        bad_vjp=(lambda g, ans, x: g * 3 * value(x) ** 2,), order=2, hint="not differentiable"),
    lambda op: (lambda x: np.sum(op(np.sin(x)))), V3)
# 19. the cotangent sent to the wrong element
add(Bug("max_argmin", "wrong index (argmin for argmax)", lambda x: np.max(x),
        (lambda g, ans, x: g * (value(x) == np.max(value(x))),),
        (lambda dx, ans, x: np.sum(dx * (value(x) == np.max(value(x)))),),
        bad_vjp=(lambda g, ans, x: g * (value(x) == np.min(value(x))),), hint="wrong places"),
    lambda op: (lambda x: np.exp(op(x * 2.0))), V3)
# 20. JVP with the arguments mixed up
add(Bug("mul_jvp_swap", "wrong argument (JVP)", lambda x, y: x * y,
        (lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x),
        (lambda dx, ans, x, y: dx * y, lambda dy, ans, x, y: x * dy),
        bad_jvp=(lambda dx, ans, x, y: dx * x, lambda dy, ans, x, y: x * dy), hint="swapped"),
    lambda op: (lambda x: np.sum(op(x, np.cos(V3)) ** 2)), V3)
# 21. a rule computed in half precision
add(Bug("sin_f16", "low precision (float16 rule)", np.sin,
        (lambda g, ans, x: g * np.cos(x),), (lambda dx, ans, x: dx * np.cos(x),),
        bad_vjp=(lambda g, ans, x: (g * np.cos(x)).astype(np.float16),), hint="float16"),
    lambda op: (lambda x: np.sum(op(x) * np.array([1.0, 2.0, 3.0]))), V3)
# 22. a mean that forgot its 1/n
add(Bug("mean_no_n", "missing factor 1/n", lambda x: np.mean(x, axis=0),
        (lambda g, ans, x: np.broadcast_to(g / x.shape[0], x.shape),),
        (lambda dx, ans, x: np.mean(dx, axis=0),),
        bad_vjp=(lambda g, ans, x: np.broadcast_to(g, x.shape),), hint="ratio 3"),
    lambda op: (lambda x: np.sum(np.sin(op(x)) * np.array([1.0, -1.0, 2.0]))), M3)
# 23. an index off by one
add(Bug("first_offbyone", "index off by one", lambda x: x[0],
        (lambda g, ans, x: np.eye(1, x.shape[0], 0).reshape(-1) * g,),
        (lambda dx, ans, x: dx[0],),
        bad_vjp=(lambda g, ans, x: np.eye(1, x.shape[0], 1).reshape(-1) * g,),
        hint="wrong places"),
    lambda op: (lambda x: np.exp(op(x * x))), V3)
# 24. power rule with the exponent not lowered
add(Bug("pow3_exp", "wrong formula (power rule)", lambda x: x ** 3,
        (lambda g, ans, x: g * 3 * x ** 2,), (lambda dx, ans, x: dx * 3 * x ** 2,),
        bad_vjp=(lambda g, ans, x: g * 3 * x ** 3,), bad_jvp=(lambda dx, ans, x: dx * 3 * x ** 3,)),
    lambda op: (lambda x: np.sum(op(x + 1.0))), V3)
# 25. logsumexp whose gradient is not normalised
add(Bug("lse_unnormalised", "missing normalisation", lambda x: np.log(np.sum(np.exp(x))),
        (lambda g, ans, x: g * np.exp(x - ans),),
        (lambda dx, ans, x: np.sum(dx * np.exp(x - ans)),),
        bad_vjp=(lambda g, ans, x: g * np.exp(x),)),
    lambda op: (lambda x: op(x) ** 2), V3)

# 26. relu without its mask
add(Bug("relu_nomask", "missing mask (branch)", lambda z: np.maximum(z, 0.0),
        (lambda g, ans, z: g * (value(z) > 0),), (lambda dz, ans, z: dz * (value(z) > 0),),
        bad_vjp=(lambda g, ans, z: g,), hint="missing mask"),
    lambda op: (lambda w: np.sum(np.tanh(op(w * 2.0 - 0.5)))), V3)


def composite(bug: Bug, good: bool) -> tuple[Callable, tuple]:
    make, args = CASES[bug.name]
    return make(bug.op(good)), args


@functools.cache
def run(name: str, good: bool) -> Any:
    bug = next(b for b in BUGS if b.name == name)
    f, args = composite(bug, good)
    return cr.gradcheck(f, *args, order=bug.order), f


def located(bug: Bug) -> bool:
    rep, f = run(bug.name, False)
    fnd = rep.located
    line = f.__code__.co_firstlineno
    return (fnd is not None and fnd.name == bug.name
            and f"test_check_catalogue.py:{line}:" in fnd.site)


NAMES = [b.name for b in BUGS]


def test_catalogue_has_at_least_20_kinds() -> None:
    assert len(BUGS) >= 20
    assert len({b.kind for b in BUGS}) >= 15


@pytest.mark.parametrize("name", NAMES)
def test_bug_is_flagged_and_located(name: str) -> None:
    bug = next(b for b in BUGS if b.name == name)
    rep, f = run(name, False)
    assert not rep, f"{name} ({bug.kind}) was not flagged:\n{rep}"
    assert located(bug), f"{name} was flagged but not located:\n{rep}"
    text = str(rep)
    assert f"wrong node: {name}" in text
    if bug.hint:
        assert bug.hint in text, f"{name}: expected a hint mentioning {bug.hint!r}:\n{text}"


@pytest.mark.parametrize("name", NAMES)
def test_correct_rule_passes(name: str) -> None:
    rep, _ = run(name, True)
    assert rep, f"false alarm on the correct {name}:\n{rep}"


def test_catalogue_figures() -> None:
    flagged = sum(not run(b.name, False)[0] for b in BUGS)
    loc = sum(located(b) for b in BUGS)
    false_alarms = sum(not run(b.name, True)[0] for b in BUGS)
    print(f"\ncatalogue: {len(BUGS)} wrong rules, {flagged} flagged, {loc} located, "
          f"{false_alarms} false alarms on the {len(BUGS)} correct versions")
    assert (flagged, loc, false_alarms) == (len(BUGS), len(BUGS), 0)


def test_seed_bug_report_reads_well() -> None:
    bug = BUGS[0]
    rep, f = run(bug.name, False)
    text = str(rep)
    assert "gradcheck(<lambda>): FAILED" in text
    assert "rev" in text and "automatic" in text and "numerical" in text
    fnd = rep.located
    assert fnd.mode == "VJP" and fnd.argnum == 0 and fnd.custom
    # the rule evaluates sigma at x = 2 where the forward evaluates it at w x
    assert "the rule evaluates sig at [2., 2., 2.] where the forward evaluates it at [ 0.3," in text


# ---------------------------------------------------------------------------------------------
# The same for hand-written derivatives: cr.check_derivative on a catalogue of wrong df's, each
# with its right version; every wrong one is flagged with the hint of its class, every right
# one passes.  Several parameters are passed as a tuple, like the seed's backward pass.


def _relu_net(x, w1, b1, w2, b2):
    z1 = w1 @ x + b1
    return w2 @ np.maximum(0, z1) + b2, z1


def _relu_loss(x, y):
    return lambda w1, b1, w2, b2: 0.5 * np.sum((_relu_net(x, w1, b1, w2, b2)[0] - y) ** 2)


def _relu_backward(x, y, mask=True, db1_scale=1.0):
    def backward(w1, b1, w2, b2):
        z2, z1 = _relu_net(x, w1, b1, w2, b2)
        d2 = z2 - y
        a1 = np.maximum(0, z1)
        d1 = (w2.T @ d2) * ((z1 > 0) if mask else 1.0)
        return d1 @ x.T, db1_scale * d1.sum(axis=1, keepdims=True), d2 @ a1.T, \
            d2.sum(axis=1, keepdims=True)
    return backward


_R = np.random.default_rng(0)
_W = (_R.standard_normal((3, 2)), _R.standard_normal((3, 1)), _R.standard_normal((1, 3)),
      _R.standard_normal((1, 1)))
_X1, _Y1 = np.array([[1.0], [2.0]]), np.array([[0.5]])
_XB = np.array([[1.0, -0.5, 2.0, 0.3], [2.0, 1.5, -1.0, -0.7]])
_YB = np.array([[0.5, -1.0, 0.2, 0.0]])
_A = np.array([[1.0, 2.0], [0.5, -1.0]])


def _seed_sig(x):
    return 1 / (1 + np.exp(-x))


DERIVATIVE_BUGS = {
    # name: (f, right df, wrong df, x, a phrase the report must contain)
    "wrong point (the seed's)": (
        lambda w: _seed_sig(w * 2.0), lambda w: _seed_sig(2 * w) * (1 - _seed_sig(2 * w)) * 2,
        lambda w: _seed_sig(2.0) * (1 - _seed_sig(2.0)) * 2, 0.5, "evaluates _seed_sig at 2.0"),
    "missing factor": (lambda x: x ** 3, lambda x: 3 * x ** 2, lambda x: x ** 2, 1.5, "1/3"),
    "sign flip": (np.cos, lambda x: -np.sin(x), np.sin, 0.4, "sign flip"),
    "derivative of another point": (lambda x: np.sin(2 * x), lambda x: 2 * np.cos(2 * x),
                                    lambda x: 2 * np.cos(4 * x), 0.3, "true derivative at 2x"),
    "transposed Jacobian": (lambda x: _A @ np.tanh(x), lambda x: _A * (1 - np.tanh(x) ** 2),
                            lambda x: (_A * (1 - np.tanh(x) ** 2)).T, np.array([0.3, -0.2]),
                            "transposed"),
    "forgotten ReLU mask (one example)": (
        _relu_loss(_X1, _Y1), _relu_backward(_X1, _Y1), _relu_backward(_X1, _Y1, mask=False),
        _W, "the ReLU's mask is missing"),
    "forgotten ReLU mask (a batch)": (
        _relu_loss(_XB, _YB), _relu_backward(_XB, _YB), _relu_backward(_XB, _YB, mask=False),
        _W, "the ReLU's mask is missing"),
    "one parameter's factor (a tuple)": (
        _relu_loss(_XB, _YB), _relu_backward(_XB, _YB), _relu_backward(_XB, _YB, db1_scale=0.5),
        _W, "backward's d/db1 is 0.5 times"),
    "forgotten mask, elementwise": (
        lambda z: np.sum(np.where(z > 0, z, 0.0) * 3.0), lambda z: 3.0 * (z > 0),
        lambda z: np.full(z.shape, 3.0), np.array([0.5, -1.0, 2.0, -0.3]), "missing mask"),
}


@pytest.mark.parametrize("name", list(DERIVATIVE_BUGS))
def test_hand_written_derivative_bug_is_flagged_with_its_hint(name: str) -> None:
    f, good, bad, x, hint = DERIVATIVE_BUGS[name]
    rep = cr.check_derivative(f, bad, x)
    assert not rep and rep.status == "wrong", f"{name} was not flagged:\n{rep}"
    assert hint in str(rep), f"{name}: expected {hint!r} in\n{rep}"
    assert cr.check_derivative(f, good, x), f"false alarm on the right {name}"


def test_derivative_catalogue_figures() -> None:
    flagged = sum(not cr.check_derivative(f, bad, x) for f, _, bad, x, _ in
                  DERIVATIVE_BUGS.values())
    hinted = sum(h in str(cr.check_derivative(f, bad, x)) for f, _, bad, x, h in
                 DERIVATIVE_BUGS.values())
    alarms = sum(not cr.check_derivative(f, good, x) for f, good, _, x, _ in
                 DERIVATIVE_BUGS.values())
    n = len(DERIVATIVE_BUGS)
    print(f"\nderivative catalogue: {n} wrong df's, {flagged} flagged, {hinted} with their "
          f"hint, {alarms} false alarms on the {n} right ones")
    assert (flagged, hinted, alarms) == (n, n, 0)
