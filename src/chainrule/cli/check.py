"""``chainrule check FILE.py:f [--grad FILE.py:df] --at VALUE``

With ``--grad``: check the hand-written derivative df of f (cr.check_derivative); several
``--at`` are several parameters (f(a, b) and df returning a tuple of two derivatives).
Without: check chainrule's own derivatives of f (cr.gradcheck).
Exit status: 0 when the check holds, 1 when it fails, 2 on bad input.

The user's file runs in a child process with a time limit (``--timeout``): a file that
calls ``sys.exit`` or ``os._exit``, raises, crashes or loops forever is reported as bad
input (exit 2, one line on stderr), never as a wrong derivative.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from typing import Any

import numpy as np

DEFAULT_TIMEOUT = 60.0


class BadInput(Exception):
    """A one-line reason for exit status 2."""


def configure(p: argparse.ArgumentParser) -> None:
    from . import integer, real

    p.add_argument("target", metavar="FILE.py:f", help="the function to check")
    p.add_argument("--grad", metavar="[FILE.py:]df",
                   help="a hand-written derivative of f to check (default file: f's)")
    p.add_argument("--at", metavar="VALUE", action="append", required=False,
                   help="the point: a finite number or a list like \"[1, 2]\" (repeat for "
                        "several arguments of f; with --grad, df then returns one derivative "
                        "per argument)")
    p.add_argument("--order", type=integer(1, 3), default=1,
                   help="gradcheck: derivative order (1, 2 or 3)")
    p.add_argument("--modes", default="rev,fwd", help="gradcheck: rev, fwd or rev,fwd")
    p.add_argument("--seed", type=integer(0, 2**32 - 1), default=0,
                   help="gradcheck: seed of the random projections (default 0)")
    p.add_argument("--float32", action="store_true", help="gradcheck at float32 inputs")
    p.add_argument("--timeout", type=real(0, 86400, lo_open=True), default=DEFAULT_TIMEOUT,
                   metavar="SECONDS",
                   help=f"stop the check after this long: the file runs in a separate process, "
                        f"and one that does not finish (an endless loop) is bad input "
                        f"(default {DEFAULT_TIMEOUT:g})")


# --- the parent: parse, then run the check in a child process ----------------------------------

def _spec(spec: str, default_file: str | None = None) -> tuple[str, str]:
    path, sep, name = spec.rpartition(":")
    if not sep:
        if default_file is None:
            raise BadInput(f"expected FILE.py:NAME, got {spec!r}")
        path, name = default_file, spec
    if not name.isidentifier():
        raise BadInput(f"{name!r} is not a Python name (expected FILE.py:NAME)")
    if not path or "\0" in path:
        raise BadInput(f"expected FILE.py:NAME, got {spec!r}")
    if not os.path.isfile(path):
        raise BadInput(f"no such file: {path}")
    if not os.access(path, os.R_OK):
        raise BadInput(f"cannot read {path}")
    return os.path.abspath(path), name


def parse_value(text: str) -> Any:
    """'0.5' -> 0.5; '[1, 2]' -> float64 array; nan, inf, empty lists and ragged lists are
    refused."""
    if len(text) > 1_000_000:
        raise BadInput(f"--at value of {len(text):,} characters is too long")
    try:
        v = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise BadInput(f"--at {_short(text)} is not a number or a list of numbers") from None
    if isinstance(v, bool) or not isinstance(v, int | float | list | tuple):
        raise BadInput(f"--at {_short(text)} is not a number or a list of numbers")
    if isinstance(v, int | float):
        try:
            x = float(v)
        except OverflowError:
            raise BadInput(f"--at {_short(text)} is too large for a float") from None
        if not np.isfinite(x):
            raise BadInput(f"--at {_short(text)} is not a finite number")
        return x
    try:
        arr = np.array(v, dtype=np.float64)
    except OverflowError:
        raise BadInput(f"--at {_short(text)} holds a number too large for a float") from None
    except (ValueError, TypeError, RecursionError):
        raise BadInput(f"--at {_short(text)} is not a rectangular list of numbers") from None
    if arr.size == 0:
        raise BadInput(f"--at {_short(text)} is empty")
    if not np.all(np.isfinite(arr)):
        raise BadInput(f"--at {_short(text)} holds a number that is not finite")
    return arr


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BadInput as exc:
        msg = " ".join(str(exc).split())
        print(f"chainrule check: error: {msg}", file=sys.stderr, flush=True)
        return 2


def _run(args: argparse.Namespace) -> int:
    path, fname = _spec(args.target)
    if not args.at:
        raise BadInput("give the point with --at VALUE (e.g. --at 0.5 or --at \"[1, 2]\")")
    xs = [parse_value(a) for a in args.at]
    job: dict[str, Any] = {"file": path, "f": fname, "at": [_jsonable(x) for x in xs],
                           "float32": bool(args.float32)}
    if args.grad:
        job["grad"] = list(_spec(args.grad, default_file=path))
    else:
        modes = [m.strip() for m in str(args.modes).split(",") if m.strip()]
        bad = [m for m in modes if m not in ("rev", "fwd")]
        if bad or not modes:
            raise BadInput(f"--modes: unknown mode {bad[0] if bad else ''!r} (use rev, fwd or "
                           f"rev,fwd)")
        if args.order not in (1, 2, 3):
            raise BadInput("--order must be 1, 2 or 3")
        job.update(modes=modes, order=int(args.order), seed=int(args.seed))
    timeout = float(getattr(args, "timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT)
    res = _in_child(job, timeout, args.target)
    if res.get("out"):
        print(res["out"], flush=True)
    if res["rc"] == 2:
        raise BadInput(res.get("error") or "the check failed")
    return int(res["rc"])


def _jsonable(x: Any) -> Any:
    return x.tolist() if isinstance(x, np.ndarray) else x


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    import chainrule

    root = os.path.dirname(os.path.dirname(os.path.abspath(chainrule.__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("CHAINRULE_CHECK_CHILD", None)
    return env


def _in_child(job: dict, timeout: float, target: str) -> dict:
    """Run the check in a fresh Python process; its answer comes back as a JSON file."""
    with tempfile.TemporaryDirectory(prefix="chainrule-check-") as tmp:
        result = os.path.join(tmp, "result.json")
        err_path = os.path.join(tmp, "stderr.txt")
        job = {**job, "result": result}
        code = "from chainrule.cli.check import child_main; child_main()"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-P", "-c", code], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=err, env=_child_env(),
                start_new_session=True)
            try:
                assert proc.stdin is not None
                try:
                    proc.stdin.write(json.dumps(job).encode("utf-8"))
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
                try:
                    rc = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    raise BadInput(
                        f"checking {target} did not finish within {timeout:g} s (an endless "
                        f"loop?); if it is only slow, give more time with --timeout") from None
            finally:
                if proc.poll() is None:
                    _kill(proc)
        try:
            with open(result, encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            pass
        last = ""
        try:
            with open(err_path, "rb") as fh:
                lines = [ln.strip() for ln in fh.read()[-4000:].decode("utf-8", "replace")
                         .splitlines() if ln.strip()]
            last = lines[-1] if lines else ""
        except OSError:
            pass
        if rc < 0:
            try:
                sig = signal.Signals(-rc).name
            except ValueError:
                sig = f"signal {-rc}"
            why = f"crashed ({sig})"
        else:
            why = (f"ended its process with exit status {rc} (os._exit?) before the check "
                   f"finished")
        raise BadInput(f"checking {target}: the file {why}" + (f": {last[:200]}" if last and
                                                                rc < 0 else ""))


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


# --- the child: load the file, check, write the answer -----------------------------------------

def child_main() -> None:
    """Entry point of the child process (reads the job as JSON on stdin)."""
    job = json.loads(sys.stdin.read())
    os.environ["CHAINRULE_CHECK_CHILD"] = "1"
    try:
        res = _child_check(job)
    except BadInput as exc:
        res = {"rc": 2, "error": str(exc)}
    except SystemExit as exc:
        res = {"rc": 2, "error": f"{_where(job)} calls sys.exit({exc.code!r}){_site(exc)}"}
    except KeyboardInterrupt as exc:
        res = {"rc": 2, "error": f"{_where(job)} raised KeyboardInterrupt{_site(exc)}"}
    except RecursionError as exc:
        res = {"rc": 2, "error": f"{_where(job)} raised RecursionError (an endless recursion?)"
                                 f"{_site(exc)}"}
    except MemoryError as exc:
        res = {"rc": 2, "error": f"{_where(job)} raised MemoryError{_site(exc)}"}
    except BaseException as exc:
        msg = " ".join(str(exc).split())[:300]
        res = {"rc": 2, "error": f"{_where(job)} raised {type(exc).__name__}"
                                 + (f": {msg}" if msg else "") + _site(exc)}
    tmp = job["result"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(res, fh)
    os.replace(tmp, job["result"])
    sys.stdout.flush()
    os._exit(0)         # not the user's atexit handlers or threads: the answer is written


def _where(job: dict) -> str:
    stage = job.get("_stage", "check")
    name = os.path.basename(job["file"])
    if stage == "load":
        return f"{name} (while it was loaded)"
    grad = job.get("grad")
    return f"checking {name}:{job['f']}" + (f" with --grad {grad[1]}" if grad else "")


def _site(exc: BaseException) -> str:
    from ..check.points import _is_user

    site = ""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if _is_user(code.co_filename):
            inside = f"in {code.co_name}, " if code.co_name != "<module>" else ""
            site = f" ({inside}at {os.path.basename(code.co_filename)}:{tb.tb_lineno})"
        tb = tb.tb_next
    return site


def _child_check(job: dict) -> dict:
    from ..check import check_derivative, gradcheck

    job["_stage"] = "load"
    f = _load(job["file"], job["f"])
    df = _load(*job["grad"]) if job.get("grad") else None
    job["_stage"] = "check"
    xs = [np.array(x, dtype=np.float64) if isinstance(x, list) else float(x) for x in job["at"]]
    if job.get("float32"):
        xs = [np.float32(x) if np.ndim(x) == 0 else x.astype(np.float32) for x in xs]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        if df is not None:
            rep = check_derivative(f, df, tuple(xs) if len(xs) > 1 else xs[0])
            if rep.status == "error":
                return {"rc": 2, "error": rep.error}
            return {"rc": 0 if rep.ok else 1, "out": str(rep)}
        try:
            rep = gradcheck(f, *xs, modes=tuple(job["modes"]), order=job["order"],
                            seed=job["seed"])
        except (TypeError, ValueError) as exc:
            if _site(exc):           # raised in the user's code: f does not run at x
                raise
            raise BadInput(" ".join(str(exc).split())) from None
    return {"rc": 0 if rep.ok else 1, "out": str(rep)}


def _load(path: str, name: str) -> Any:
    mod = _module(path)
    if not hasattr(mod, name):
        raise BadInput(f"{path} has no name {name!r}")
    fn = getattr(mod, name)
    if not callable(fn):
        raise BadInput(f"{path}:{name} is not callable (it is a {type(fn).__name__})")
    return fn


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
    sys.path.insert(0, os.path.dirname(key))    # its own imports (a throwaway process)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            spec.loader.exec_module(mod)
    except SyntaxError as exc:
        raise BadInput(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except ValueError as exc:
        if "null bytes" in str(exc):
            raise BadInput(f"{path} is not a Python source file") from None
        raise
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not a Python source file (not UTF-8 text)") from None
    _MODULES[key] = mod
    return mod
