"""``chainrule`` command line: demo, train, check, bench.

Each subcommand lives in its own module with ``configure(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = [
    ("demo", "chainrule.demo", "walk the seed notebook with chainrule and catch its bug"),
    ("train", "chainrule.train", "train a network on a dataset that ships offline"),
    ("check", "chainrule.check.cli", "check a hand-written derivative in a Python file"),
    ("bench", "chainrule.bench", "print the benchmark table (hand NumPy, PyTorch, autograd)"),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chainrule", description="The chain rule, done by the machine.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod, help_ in COMMANDS:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(_module=mod)
        try:
            importlib.import_module(mod).configure(sp)
        except ImportError as exc:  # a subcommand whose optional dependency is missing
            sp.set_defaults(_import_error=str(exc))
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    err = getattr(args, "_import_error", None)
    if err:
        print(f"chainrule {args.command}: {err}", file=sys.stderr)
        return 2
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except BrokenPipeError:  # `chainrule demo | head`: the reader left; not an error of ours
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
