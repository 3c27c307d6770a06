"""``chainrule check FILE.py:f [--grad FILE.py:df] --at VALUE``

With ``--grad``: check the hand-written derivative df of f (cr.check_derivative).
Without: check chainrule's own derivatives of f (cr.gradcheck).
Exit status: 0 when the check holds, 1 when it fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import os
import sys
from typing import Any

import numpy as np


class BadInput(Exception):
    """A one-line reason for exit status 2."""


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FILE.py:f", help="the function to check")
    p.add_argument("--grad", metavar="[FILE.py:]df",
                   help="a hand-written derivative of f to check (default file: f's)")
    p.add_argument("--at", metavar="VALUE", action="append", required=False,
                   help="the point: a number or a list like \"[1, 2]\" (repeat for several "
                        "arguments of f; only one with --grad)")
    p.add_argument("--order", type=int, default=1, help="gradcheck: derivative order (1 or 2)")
    p.add_argument("--modes", default="rev,fwd", help="gradcheck: rev, fwd or rev,fwd")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--float32", action="store_true", help="gradcheck at float32 inputs")


def _load(spec: str, default_file: str | None = None) -> tuple[Any, str]:
    path, sep, name = spec.rpartition(":")
    if not sep:
        if default_file is None:
            raise BadInput(f"expected FILE.py:NAME, got {spec!r}")
        path, name = default_file, spec
    if not name.isidentifier():
        raise BadInput(f"{name!r} is not a Python name (expected FILE.py:NAME)")
    if not os.path.isfile(path):
        raise BadInput(f"no such file: {path}")
    mod = _module(path)
    if not hasattr(mod, name):
        raise BadInput(f"{path} has no name {name!r}")
    fn = getattr(mod, name)
    if not callable(fn):
        raise BadInput(f"{path}:{name} is not callable (it is a {type(fn).__name__})")
    return fn, path


_MODULES: dict[str, Any] = {}


def _module(path: str) -> Any:
    key = os.path.abspath(path)
    if key in _MODULES:
        return _MODULES[key]
    modname = "_chainrule_check_" + "".join(c if c.isalnum() else "_" for c in
                                             os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(modname, key)
    if spec is None or spec.loader is None:
        raise BadInput(f"cannot load {path} as Python")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    sys.path.insert(0, os.path.dirname(key))
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            spec.loader.exec_module(mod)
    except SyntaxError as exc:
        raise BadInput(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"running {path} raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(os.path.dirname(key))
    _MODULES[key] = mod
    return mod


def parse_value(text: str) -> Any:
    """'0.5' -> 0.5; '[1, 2]' -> float64 array; 'nan' is refused."""
    try:
        v = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise BadInput(f"--at {text!r} is not a number or a list of numbers") from None
    if isinstance(v, bool) or not isinstance(v, int | float | list | tuple):
        raise BadInput(f"--at {text!r} is not a number or a list of numbers")
    if isinstance(v, int | float):
        return float(v)
    try:
        arr = np.array(v, dtype=np.float64)
    except (ValueError, TypeError):
        raise BadInput(f"--at {text!r} is not a rectangular list of numbers") from None
    return arr


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BadInput as exc:
        print(f"chainrule check: error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from . import check_derivative, gradcheck  # noqa: PLC0415

    f, path = _load(args.target)
    if not args.at:
        raise BadInput("give the point with --at VALUE (e.g. --at 0.5 or --at \"[1, 2]\")")
    xs = [parse_value(a) for a in args.at]
    if args.float32:
        xs = [np.float32(x) if np.ndim(x) == 0 else x.astype(np.float32) for x in xs]
    if args.grad:
        if len(xs) != 1:
            raise BadInput("--grad checks a function of one argument: give one --at")
        df, _ = _load(args.grad, default_file=path)
        rep = check_derivative(f, df, xs[0])
        print(rep)
        return 0 if rep.ok else 1
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    bad = [m for m in modes if m not in ("rev", "fwd")]
    if bad:
        raise BadInput(f"--modes: unknown mode {bad[0]!r} (use rev, fwd or rev,fwd)")
    if args.order not in (1, 2, 3):
        raise BadInput("--order must be 1, 2 or 3")
    try:
        rep = gradcheck(f, *xs, modes=modes, order=args.order, seed=args.seed)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{exc}") from None
    print(rep)
    return 0 if rep.ok else 1
