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
