"""`chainrule check FILE.py:f --grad FILE.py:df --at 0.5`: report, exit 0 / 1 / 2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chainrule.cli import main

SEED = textwrap.dedent("""
    import math
    import numpy as np

    print("this module prints when loaded")


    def sigmoid(x):
        return 1 / (1 + math.exp(-x))


    def sigmoid_derivative(x):
        return sigmoid(x) * (1 - sigmoid(x))


    x_input = 2.0


    def f(w):
        return sigmoid(w * x_input)


    def df(w):
        return sigmoid_derivative(x_input) * x_input


    def df_fixed(w):
        return sigmoid_derivative(w * x_input) * x_input


    def g(v):
        return np.sum(np.tanh(v) ** 2)


    def dg(v):
        return 2 * np.tanh(v) * (1 - np.tanh(v) ** 2)
    """)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    p = tmp_path / "seed_cell.py"
    p.write_text(SEED)
    return p


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_bug_exits_1_with_the_report(seed: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, f"{seed}:f", "--grad", f"{seed}:df", "--at", "0.5")
    assert code == 1
    assert "0.209987" in out and "0.393224" in out
    assert "df evaluates sigmoid at 2.0 where f evaluates it at 1.0" in out
    assert "this module prints" not in out


def test_right_derivative_exits_0(seed: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, f"{seed}:f", "--grad", "df_fixed", "--at", "0.5")
    assert code == 0 and "OK" in out


def test_arrays_and_gradcheck_mode(seed: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, f"{seed}:g", "--grad", f"{seed}:dg", "--at", "[1, 2]")
    assert code == 0, out
    code, out, _ = run(capsys, f"{seed}:g", "--at", "[0.5, -1.5, 2.0]", "--order", "2")
    assert code == 0 and "gradcheck(g): OK" in out
    code, out, _ = run(capsys, f"{seed}:f", "--at", "0.5")  # math.exp cannot be traced
    assert code == 1 and "LeftGraphError" in out


@pytest.mark.parametrize("argv,expect", [
    (["{d}/missing.py:f", "--at", "1"], "no such file"),
    (["{seed}:nope", "--grad", "df", "--at", "1"], "has no name 'nope'"),
    (["{seed}:f", "--grad", "{seed}:df", "--at", "one half"], "is not a number"),
    (["{seed}:f", "--grad", "{seed}:df", "--at", "[1, [2]]"], "rectangular"),
    (["{seed}:f", "--grad", "df"], "--at"),
    (["{seed}", "--at", "1"], "expected FILE.py:NAME"),
    (["{seed}:x_input", "--at", "1"], "not callable"),
])
def test_bad_input_exits_2_with_one_line(seed: Path, capsys: pytest.CaptureFixture,
                                         argv: list, expect: str) -> None:
    argv = [a.format(seed=seed, d=seed.parent) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert expect in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("chainrule check: error:")


def test_syntax_error_in_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "broken.py"
    p.write_text("def f(x):\n    return x +\n")
    code, _, err = run(capsys, f"{p}:f", "--at", "1")
    assert code == 2 and "syntax error" in err


def test_installed_command(seed: Path) -> None:
    env = dict(os.environ)
    res = subprocess.run([sys.executable, "-m", "chainrule", "check", f"{seed}:f", "--grad",
                          f"{seed}:df", "--at", "0.5"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 1
    assert "0.393224" in res.stdout


# --- a file that misbehaves is bad input, never "df is WRONG" ----------------------------------

HOSTILE = {
    "sys.exit(0)": "sys.exit(0)",
    "sys.exit(3)": "sys.exit(3)",
    "sys.exit('bye')": "sys.exit('bye')",
    "os._exit(0)": "os._exit(0)",
    "os._exit(7)": "os._exit(7)",
    "raise": "raise RuntimeError('boom')",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "BaseException": "raise BaseException('odd')",
    "recursion": "return _recurse(x)",
    "endless loop": "while True: pass",
    "sleep": "time.sleep(3600)",
    "segfault": "import ctypes; ctypes.string_at(0)",
    "MemoryError": "raise MemoryError",
    "closes stdout": "os.close(1); raise ValueError('no stdout')",
}

EXPECT = {
    "sys.exit(0)": "sys.exit(0)", "sys.exit(3)": "sys.exit(3)", "sys.exit('bye')": "sys.exit",
    "os._exit(0)": "exit status 0", "os._exit(7)": "exit status 7", "raise": "boom",
    "KeyboardInterrupt": "KeyboardInterrupt", "BaseException": "odd",
    "recursion": "Recursion", "endless loop": "did not finish within 1.5 s",
    "sleep": "did not finish within 1.5 s", "segfault": "SIGSEGV", "MemoryError": "MemoryError",
    "closes stdout": "no stdout",
}


def _hostile_file(tmp_path: Path, stmt: str, where: str) -> Path:
    body = textwrap.indent(stmt, "    ")
    src = textwrap.dedent("""
        import os, sys, time
        import numpy as np

        def _recurse(x):
            return _recurse(x)

        def good(x):
            return np.sin(x)

        def dgood(x):
            return np.cos(x)
        """)
    if where == "load":
        src += stmt.replace("return ", "") + "\n"
    src += f"\ndef bad(x):\n{body}\n    return x\n"
    p = tmp_path / "hostile.py"
    p.write_text(src)
    return p


@pytest.mark.parametrize("where", ["f", "df", "gradcheck", "load"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_misbehaving_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture,
                                       name: str, where: str) -> None:
    if where == "load" and name == "recursion":
        pytest.skip("module-level 'return' is not Python")
    p = _hostile_file(tmp_path, HOSTILE[name], where)
    argv = {"f": [f"{p}:bad", "--grad", "dgood"], "df": [f"{p}:good", "--grad", "bad"],
            "gradcheck": [f"{p}:bad"], "load": [f"{p}:good", "--grad", "dgood"]}[where]
    timeout = "1.5" if name in ("endless loop", "sleep") else "60"
    code, out, err = run(capsys, *argv, "--at", "0.5", "--timeout", timeout)
    assert code == 2, (out, err)
    assert out == "" and "WRONG" not in out + err and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule check: error: "), err
    assert EXPECT[name] in lines[0], lines[0]


def test_raising_f_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "zz.py"
    p.write_text("def f(x):\n    return 1 / 0\n\ndef df(x):\n    return 0.0\n")
    for argv in ([f"{p}:f", "--grad", "df"], [f"{p}:f"]):
        code, out, err = run(capsys, *argv, "--at", "0.5")
        assert code == 2 and out == ""
        assert "ZeroDivisionError" in err and "zz.py:2" in err
        assert len(err.splitlines()) == 1


def test_default_timeout_is_sensible() -> None:
    from chainrule.cli import check as ccli
    from chainrule.cli import build_parser

    args = build_parser().parse_args(["check", "x.py:f", "--at", "1"])
    assert args.timeout == ccli.DEFAULT_TIMEOUT == 60


def test_user_prints_and_atexit_do_not_leak(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "noisy.py"
    p.write_text(textwrap.dedent("""
        import atexit, sys, threading, time
        import numpy as np
        atexit.register(lambda: print("atexit ran"))
        threading.Thread(target=lambda: time.sleep(3600)).start()   # not a daemon
        def f(x):
            print("f prints"); print("to stderr", file=sys.stderr)
            return np.sin(x)
        def df(x):
            print("df prints")
            return np.cos(x)
        """))
    code, out, err = run(capsys, f"{p}:f", "--grad", "df", "--at", "0.5")
    assert code == 0 and "OK" in out and "prints" not in out and "atexit" not in out
    assert err == ""


def test_several_parameters_from_the_command_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "two.py"
    p.write_text(textwrap.dedent("""
        import numpy as np
        def f(a, b):
            return np.sum(a * np.sin(b))
        def df(a, b):
            return np.sin(b), a * np.cos(b)
        def df_bad(a, b):
            return np.sin(b), np.cos(b)
        """))
    code, out, _ = run(capsys, f"{p}:f", "--grad", "df", "--at", "[1, 2]", "--at", "[0.5, 0.1]")
    assert code == 0 and "a (2,)  ok" in out and "b (2,)  ok" in out
    code, out, _ = run(capsys, f"{p}:f", "--grad", "df_bad", "--at", "[1, 2]", "--at",
                       "[0.5, 0.1]")
    assert code == 1 and "df_bad is WRONG for b" in out


def test_check_does_not_import_the_file_in_the_calling_process(seed: Path,
                                                               capsys: pytest.CaptureFixture):
    before = set(sys.modules)
    code, _, _ = run(capsys, f"{seed}:f", "--grad", "df_fixed", "--at", "0.5")
    assert code == 0
    assert not [m for m in set(sys.modules) - before if m.startswith("_chainrule_check_")]
