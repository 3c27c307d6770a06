"""The report gradcheck returns: truthy when every check holds, readable when one does not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ChainruleError


def fmt(v: Any) -> str:
    """A number for a table: 6 significant digits, complex as a+bj."""
    if v is None:
        return "-"
    if isinstance(v, complex):
        return f"{v.real:.6g}{v.imag:+.6g}j"
    try:
        return f"{float(v):.6g}"
    except (TypeError, ValueError):
        return str(v)


def fmt_err(v: Any) -> str:
    return "-" if v is None else f"{float(v):.2e}"


@dataclass
class Element:
    """The worst element of a failing comparison."""

    index: str          # "out[0] <- x[1, 2]" style
    auto: Any           # chainrule's value (or the rule's / your df's)
    num: Any            # the finite-difference value
    abs_err: float
    rel_err: float
    tol: float


@dataclass
class Check:
    """One comparison: an input, a mode, an order."""

    input: str
    mode: str           # rev, fwd, determinism, zero-cotangent, float32 ...
    order: int
    passed: bool
    how: str = ""       # "full Jacobian 3x4", "3 projections u^T J v", ...
    worst: Element | None = None
    n_bad: int = 0
    n_total: int = 0
    message: str = ""   # an exception, or what a non-numeric check found


@dataclass
class Kink:
    """A point where f is not differentiable (one-sided slopes differ): not a failure."""

    input: str
    index: str
    left: float
    right: float
    auto: Any = None

    def __str__(self) -> str:
        a = "" if self.auto is None else f"; chainrule gives {fmt(self.auto)}"
        return (f"{self.input}{self.index}: one-sided slopes {fmt(self.left)} (left) and "
                f"{fmt(self.right)} (right){a}")


@dataclass
class NodeFinding:
    """The first recorded operation whose own rule disagrees with finite differences."""

    name: str
    seq: int
    site: str
    mode: str           # "VJP" / "JVP" / "VJP (2nd order)" ...
    argnum: int
    in_shapes: list
    out_shape: tuple
    worst: Element | None = None
    message: str = ""
    hints: list = field(default_factory=list)
    custom: bool = False

    def __str__(self) -> str:
        kind = "custom primitive" if self.custom else "primitive"
        lines = [f"wrong node: {self.name} ({kind}), its {self.mode} rule for argument "
                 f"{self.argnum}",
                 f"  called at {self.site}",
                 f"  input shapes {', '.join(str(tuple(s)) for s in self.in_shapes) or '()'}; "
                 f"output shape {tuple(self.out_shape)}"]
        if self.message:
            lines.append(f"  {self.message}")
        if self.worst is not None:
            w = self.worst
            lines.append(f"  worst element {w.index}: rule {fmt(w.auto)} vs numerical "
                         f"{fmt(w.num)} (abs err {fmt_err(w.abs_err)}, rel err "
                         f"{fmt_err(w.rel_err)}, tol {fmt_err(w.tol)})")
        for h in self.hints:
            lines.append(f"  hint: {h}")
        return "\n".join(lines)


class GradcheckReport:
    """What gradcheck found.  ``bool(report)`` is True when every check holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.checks: list[Check] = []
        self.kinks: list[Kink] = []
        self.notes: list[str] = []
        self.located: NodeFinding | None = None
        self.locate_note: str = ""

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def __repr__(self) -> str:
        status = "ok" if self.ok else f"{len(self.failures)} failing"
        return f"<GradcheckReport {self.name}: {status}, {len(self.checks)} checks>"

    def summary(self) -> str:
        n = len(self.checks)
        if self.ok:
            return f"gradcheck({self.name}): OK, {n} checks passed"
        return f"gradcheck({self.name}): FAILED, {len(self.failures)} of {n} checks failed"

    def __str__(self) -> str:
        lines = [self.summary()]
        fails = self.failures
        rows = [c for c in fails if c.worst is not None]
        if rows:
            head = ["input", "mode", "order", "element", "automatic", "numerical", "abs err",
                    "rel err", "tol"]
            table = [head]
            for c in rows:
                w = c.worst
                assert w is not None
                table.append([c.input, c.mode, str(c.order), w.index, fmt(w.auto), fmt(w.num),
                              fmt_err(w.abs_err), fmt_err(w.rel_err), fmt_err(w.tol)])
            widths = [max(len(r[i]) for r in table) for i in range(len(head))]
            for r in table:
                cells = [s.ljust(wd) for s, wd in zip(r, widths, strict=True)]
                lines.append(("  " + "  ".join(cells)).rstrip())
            for c in rows:
                if c.n_total > 1 or c.how:
                    lines.append(f"  ({c.input} {c.mode} order {c.order}: {c.n_bad} of "
                                 f"{c.n_total} elements outside tolerance; {c.how})")
        msgs: dict[str, list[str]] = {}
        for c in fails:
            if c.message:
                label = f"{c.input} {c.mode}" + (f" order {c.order}" if c.order > 1 else "")
                msgs.setdefault(c.message, []).append(label)
        for msg, labels in msgs.items():
            lines.append(f"  {', '.join(labels)}: {msg}")
        if self.ok:
            done = sorted({f"{c.mode}" + (f" order {c.order}" if c.order > 1 else "")
                           for c in self.checks})
            lines.append("  checked: " + ", ".join(done))
        if self.kinks:
            lines.append("non-differentiable points (reported, not failures):")
            for k in self.kinks[:10]:
                lines.append(f"  {k}")
            if len(self.kinks) > 10:
                lines.append(f"  ... and {len(self.kinks) - 10} more")
        if self.located is not None:
            lines.append(str(self.located))
        elif self.locate_note:
            lines.append(self.locate_note)
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)


class GradcheckError(ChainruleError, AssertionError):
    """gradcheck(..., raise_on_fail=True) found a wrong derivative; ``.report`` says where."""

    def __init__(self, report: Any) -> None:
        super().__init__(str(report))
        self.report = report
