"""``chainrule`` command line: demo, train, check, bench.

Each subcommand lives in its own module with ``configure(parser)`` and ``run(args) -> int``.

Bad input never ends in a traceback: a flag that does not parse or is out of range is one
line on stderr and exit status 2 (checked before any work starts); Ctrl-C is one line and
exit status 130; a reader that closes the pipe (``chainrule train | head -1``) stops the
printing, not the work.  ``CHAINRULE_TRACEBACK=1`` shows the traceback of an unexpected
error instead of its one-line summary.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TextIO

COMMANDS = [
    ("demo", "chainrule.cli.demo", "walk the seed notebook with chainrule and catch its bug"),
    ("train", "chainrule.cli.train", "train a network on a dataset that ships offline"),
    ("check", "chainrule.cli.check", "check a hand-written derivative in a Python file"),
    ("bench", "chainrule.cli.bench", "print the benchmark table (hand NumPy, PyTorch, autograd)"),
]

EXIT_INTERRUPTED = 130      # 128 + SIGINT, what a shell reports for Ctrl-C


class Parser(argparse.ArgumentParser):
    """argparse, with errors as one line (``chainrule train: error: ...``) and exit 2."""

    def error(self, message: str) -> NoReturn:
        one = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {one} (see '{self.prog} --help')\n")


# --- flag types: each rejects what it cannot use, with the reason ----------------------------

def _show(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
         what: str = "number") -> Callable[[str], float]:
    """An argparse type: a finite float in [lo, hi] (or (lo, hi] with ``lo_open``)."""
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    want = f"a finite {what}" + (" " + " and ".join(parts) if parts else "")

    def conv(text: str) -> float:
        try:
            v = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {want}, got {_show(text)}") from None
        if not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or (
                hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {want}, got {_show(text)}")
        return v

    conv.__name__ = what
    return conv


def integer(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi] (decimal digits, an optional sign)."""
    if lo is not None and hi is not None:
        want = f"an integer from {lo} to {hi}"
    elif lo is not None:
        want = f"an integer >= {lo}"
    else:
        want = "an integer"

    def conv(text: str) -> int:
        t = text.strip().replace("_", "")
        if not t.lstrip("+-").isdigit() or len(t) > 30:
            raise argparse.ArgumentTypeError(f"must be {want}, got {_show(text)}")
        v = int(t)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {want}, got {_show(text)}")
        return v

    conv.__name__ = "integer"
    return conv


def output_file(text: str) -> str:
    """An argparse type: a path a file can be written to (a name, not a folder, and not an
    existing device or fifo: files are replaced by a rename)."""
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(f"needs a file name, got {text!r}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
    if os.path.lexists(text) and not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a regular file")
    return text


def file_problem(flag: str, path: str) -> str | None:
    """None when a file can be created at ``path`` (its folder exists and is writable: a
    probe file is made and removed); else the one-line reason, naming ``flag``."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"{flag} {path}: the folder {folder} does not exist"
    try:
        fd, probe = tempfile.mkstemp(prefix=".chainrule-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"{flag} {path}: cannot write in {folder} ({os_error(exc)})"
    return None


def fail(command: str, message: str, status: int = 2) -> int:
    """Print ``chainrule COMMAND: error: MESSAGE`` as one line on stderr; return ``status``."""
    one = " ".join(str(message).split())
    print(f"chainrule {command}: error: {one}", file=sys.stderr, flush=True)
    return status


def os_error(exc: BaseException) -> str:
    """An OSError as a short phrase: 'No space left on device' (not a traceback)."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return "no space left on device"
        reason = exc.strerror or str(exc)
        return f"{reason}: {exc.filename}" if exc.filename else reason
    return f"{type(exc).__name__}: {exc}"


# --- a stdout whose reader may leave ------------------------------------------------------------

class _PipeGuard:
    """A text stream that stops writing when its reader has gone (EPIPE) instead of raising.

    After the first broken pipe the file descriptor is pointed at /dev/null (the Python
    docs' recipe, so that the flush at interpreter exit succeeds too) and later writes are
    dropped: ``chainrule train | head -1`` still trains and saves."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_pipe = False
        self.error: OSError | None = None     # a failure other than a closed pipe (ENOSPC)

    def _gone(self) -> None:
        self.closed_pipe = True
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        except OSError:
            pass

    def write(self, s: str) -> int:
        if not self.closed_pipe:
            try:
                return self._stream.write(s)
            except OSError as exc:
                self._failed(exc)
        return len(s)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except OSError as exc:
                self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        # EPIPE: the reader left, nothing to say; anything else (stdout on a full disk) is
        # said once, at the end, and the work goes on without its printing
        if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EPIPE:
            self.error = exc
        self._gone()

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# --- the dispatcher ----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="chainrule", description="The chain rule, done by the machine.")
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
    out, err = sys.stdout, sys.stderr
    if out is not None:                  # None: started with stdout closed (>&-)
        sys.stdout = _PipeGuard(out)
    if err is not None:
        sys.stderr = _PipeGuard(err)
    guard = sys.stdout if isinstance(sys.stdout, _PipeGuard) else None
    try:
        rc = _main(argv)
        if guard is not None:
            guard.flush()
            if guard.error is not None:
                name = f"chainrule {argv[0]}" if argv else "chainrule"
                if argv is None and len(sys.argv) > 1:
                    name = f"chainrule {sys.argv[1]}"
                print(f"{name}: error: could not write to stdout ({os_error(guard.error)}); "
                      f"the output was lost", file=sys.stderr, flush=True)
                rc = rc or 1
        return rc
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None) -> int:
    command = "chainrule"
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:       # --help (0) or a flag argparse refused (2)
            return exc.code if isinstance(exc.code, int) else 2
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        command = f"chainrule {args.command}"
        err = getattr(args, "_import_error", None)
        if err:
            return fail(args.command, err)
        return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # written to the descriptor directly: the reader left
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.__stdout__.fileno())
        except (OSError, AttributeError, ValueError):
            pass
        return 0
    except MemoryError:
        print(f"{command}: error: out of memory", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:
        if os.environ.get("CHAINRULE_TRACEBACK"):
            raise
        msg = " ".join(str(exc).split())[:300]
        print(f"{command}: error: {type(exc).__name__}: {msg} (CHAINRULE_TRACEBACK=1 shows "
              f"where)", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
