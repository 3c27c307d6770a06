"""check_primitive: a custom primitive's rules at random points near examples, both modes,
to second order."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.primitive import Primitive
from .gradcheck import gradcheck
from .numerical import plain
from .report import Check, GradcheckError, GradcheckReport


class PrimitiveReport:
    """One gradcheck report per point; truthy when all hold."""

    def __init__(self, op: Primitive) -> None:
        self.op = op
        self.points: list[tuple[list, GradcheckReport]] = []
        self.missing: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.missing and all(r.ok for _, r in self.points)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def reports(self) -> list[GradcheckReport]:
        return [r for _, r in self.points]

    @property
    def located(self) -> Any:
        for _, r in self.points:
            if r.located is not None:
                return r.located
        return None

    def __repr__(self) -> str:
        return f"<PrimitiveReport {self.op.name}: {'ok' if self.ok else 'FAILED'}>"

    def __str__(self) -> str:
        n = len(self.points)
        if self.ok:
            checks = sum(len(r.checks) for _, r in self.points)
            return (f"check_primitive({self.op.name}): OK at {n} points, {checks} checks "
                    f"(VJP and JVP rules, first and second order)")
        lines = [f"check_primitive({self.op.name}): FAILED"]
        for m in self.missing:
            lines.append(f"  {m}")
        for k, (pt, r) in enumerate(self.points):
            if r.ok:
                continue
            desc = ", ".join(_short(a) for a in pt)
            lines.append(f"at point {k} ({desc}):")
            lines.extend("  " + ln for ln in str(r).splitlines())
            break
        bad = sum(not r.ok for _, r in self.points)
        if bad > 1:
            lines.append(f"({bad} of {n} points fail)")
        return "\n".join(lines)


def _short(a: Any) -> str:
    v = np.asarray(plain(a))
    if v.size == 1:
        return f"{v.reshape(-1)[0].item():.4g}"
    return f"array{tuple(v.shape)}"


def _near(a: Any, rng: np.random.Generator, scale: float) -> Any:
    v = plain(a)
    if isinstance(v, bool) or not isinstance(v, float | complex | np.ndarray | np.floating):
        return a
    arr = np.asarray(v)
    if arr.dtype.kind not in "fc":
        return a
    noise = rng.uniform(-1, 1, arr.shape)
    new = arr * (1 + scale * noise) + scale * 0.1 * rng.uniform(-1, 1, arr.shape) * (arr == 0)
    if arr.dtype.kind == "c":
        new = new + 1j * scale * arr.imag * rng.uniform(-1, 1, arr.shape)
    new = new.astype(arr.dtype)
    return new.item() if not isinstance(v, np.ndarray) else new


def check_primitive(op: Primitive, *example_args: Any, order: int = 2, points: int = 3,
                    modes: tuple = ("rev", "fwd"), seed: int = 0, spread: float = 0.1,
                    raise_on_fail: bool = False, **kwargs: Any) -> PrimitiveReport:
    """Check ``op``'s VJP and JVP rules at ``points`` points: the examples themselves and
    random points within ``spread`` (relative) of them, to ``order`` (default 2).

    Keyword arguments are passed to ``op`` as its non-differentiable parameters.
    Returns a report, truthy when every rule holds at every point; a failure names the
    rule, the worst element and hints, like gradcheck.
    """
    if not isinstance(op, Primitive):
        raise TypeError(
            f"check_primitive expects a chainrule primitive (made with @cr.primitive), got "
            f"{type(op).__name__}")
    if not example_args:
        raise ValueError("check_primitive: give example arguments, e.g. "
                         "check_primitive(op, np.array([0.5, 1.5]))")
    rep = PrimitiveReport(op)
    floats = [i for i, a in enumerate(example_args)
              if np.asarray(plain(a)).dtype.kind in "fc" and not isinstance(plain(a), bool)]
    for i in floats:
        if "rev" in modes and i not in op.vjps:
            rep.missing.append(f"{op.name} has no VJP rule for argument {i}: "
                               f"cr.defvjp({op.name}, ...)")
        if "fwd" in modes and i not in op.jvps and op.jvp_all is None:
            rep.missing.append(f"{op.name} has no JVP rule for argument {i}: "
                               f"cr.defjvp({op.name}, ...)")
    rng = np.random.default_rng(seed)

    def call(*a: Any) -> Any:
        return op(*a, **kwargs)

    call.__name__ = op.name
    for k in range(points):
        pt = list(example_args) if k == 0 else [_near(a, rng, spread) for a in example_args]
        try:
            r = gradcheck(call, *pt, argnums=floats, modes=modes, order=order, seed=seed + k,
                          name=op.name)
        except Exception as exc:
            r = GradcheckReport(op.name)
            r.add(Check("-", "call", 1, False, message=f"{type(exc).__name__}: {exc}"))
        rep.points.append((pt, r))
        if not r.ok:
            break
    if raise_on_fail and not rep.ok:
        raise GradcheckError(rep)
    return rep
