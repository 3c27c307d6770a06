"""Which primitives have rules that branch on values (x == 0, ties, infinities ...)?

Derived from the source: a primitive's VJP/JVP rules, and every chainrule helper function
they call (transitively, through module globals and closures), are parsed, and a rule
"reads values" where it

* calls ``value(...)`` on data (not only for its shape or dtype: ``np.shape(value(x))``),
* calls a NumPy function that looks at values (np.isnan, np.sign, np.partition ...), or
* calls a non-differentiable chainrule primitive (sign, floor ...).

Reading values is what a rule needs to special-case a point, so each such primitive must
have special-point rows in the op table (tests/test_special_points.py), or an exemption
with its reason.  Calls of other primitives are not followed: their rules are their own.
"""

from __future__ import annotations

import ast
import functools
import types
from typing import Any

from chainrule.core.primitive import Primitive
from chainrule.core.registry import PRIMITIVES
from chainrule.ops import elementwise
from chainrule.ops.util import value as _VALUE

_SHAPE_CALLS = {"shape", "ndim", "iscomplexobj", "isrealobj", "result_type", "size", "len",
                "count", "is_complex", "norm_axis", "_float_dtype", "cast_like"}
_SHAPE_ATTRS = {"shape", "ndim", "dtype", "size"}
_VALUE_NUMPY = {"isnan", "isinf", "isfinite", "isneginf", "isposinf", "signbit", "sign",
                "trunc", "floor", "ceil", "rint", "round", "floor_divide", "argmax",
                "argmin", "argsort", "partition", "sort", "nonzero", "flatnonzero",
                "argwhere"}
# helpers that read a value only to unwrap it (the branch, if any, is in their caller)
_TRANSPARENT = {elementwise.where}


@functools.cache
def _module_ast(path: str) -> tuple:
    tree = ast.parse(open(path).read())
    parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
    by_line: dict = {}
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.Lambda)):
            by_line.setdefault(n.lineno, []).append(n)
    return parents, by_line


def _nodes(fn: types.FunctionType) -> tuple:
    """The AST nodes of fn (every lambda that starts on its line, for a lambda)."""
    code = fn.__code__
    try:
        parents, by_line = _module_ast(code.co_filename)
    except (OSError, SyntaxError):  # pragma: no cover - no source
        return [], {}
    nodes = [n for n in by_line.get(code.co_firstlineno, [])
             if (isinstance(n, ast.Lambda) and code.co_name == "<lambda>")
             or (isinstance(n, ast.FunctionDef) and n.name == code.co_name)]
    return nodes, parents


def _shape_only(call: ast.AST, parents: dict) -> bool:
    n = call
    while True:  # through np.asarray / np.array
        p = parents.get(n)
        if (isinstance(p, ast.Call) and isinstance(p.func, ast.Attribute)
                and p.func.attr in ("asarray", "array") and n in p.args):
            n = p
            continue
        break
    p = parents.get(n)
    if isinstance(p, ast.Attribute) and p.attr in _SHAPE_ATTRS:
        return True
    if isinstance(p, ast.Call) and n in p.args:
        f = p.func
        return (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)) in _SHAPE_CALLS
    return False


def _resolve(expr: ast.AST, env: dict) -> Any:
    if isinstance(expr, ast.Name):
        return env.get(expr.id)
    if isinstance(expr, ast.Attribute):
        base = _resolve(expr.value, env)
        if isinstance(base, types.ModuleType):
            return getattr(base, expr.attr, None)
    return None


def _reads(fn: types.FunctionType, seen: set) -> set:
    if fn in seen or fn in _TRANSPARENT:
        return set()
    seen.add(fn)
    env = dict(fn.__globals__)
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            env[name] = cell.cell_contents
        except ValueError:  # an empty cell
            pass
    nodes, parents = _nodes(fn)
    out: set = set()
    where = f"{fn.__module__}.{fn.__code__.co_name}"
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                tgt = _resolve(sub.func, env)
                if tgt is _VALUE and not _shape_only(sub, parents):
                    out.add(f"{where}:{sub.lineno} value()")
                elif (isinstance(sub.func, ast.Attribute) and isinstance(sub.func.value, ast.Name)
                      and sub.func.value.id == "np" and sub.func.attr in _VALUE_NUMPY):
                    out.add(f"{where}:{sub.lineno} np.{sub.func.attr}")
                elif isinstance(tgt, Primitive) and tgt.nondiff:
                    out.add(f"{where}:{sub.lineno} {tgt.name}")
            if isinstance(sub, (ast.Name, ast.Attribute)) and isinstance(sub.ctx, ast.Load):
                tgt = _resolve(sub, env)
                if (isinstance(tgt, types.FunctionType) and tgt is not _VALUE
                        and (tgt.__module__ or "").startswith("chainrule")):
                    out |= _reads(tgt, seen)
    return out


def rules(p: Primitive) -> list:
    fs = list(p.vjps.values()) + list(p.jvps.values())
    if p.jvp_all is not None:
        fs.append(p.jvp_all)
    return [f for f in fs if isinstance(f, types.FunctionType)]


def value_reading_primitives() -> dict:
    """{primitive name: the places where its rules read values} (differentiable ones)."""
    found = {}
    for name, p in sorted(PRIMITIVES.items()):
        if p.nondiff:
            continue
        seen: set = set()
        reads = set().union(*[_reads(f, seen) for f in rules(p)])
        if reads:
            found[name] = reads
    return found
