"""The command line never shows a traceback for bad input: every flag of ``chainrule train``,
``demo`` and ``check`` with bad values is refused before any work starts, with exit status
2, exactly one line on stderr, nothing on stdout and nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chainrule import cli

GOOD_FILE = "import numpy as np\n\ndef f(x):\n    return np.sin(x)\n\ndef df(x):\n    return np.cos(x)\n"

# (argv, a word the message must contain); {d} is the (empty) working folder
TRAIN = [
    # --lr: a finite number > 0
    (["--lr", "inf"], "--lr"), (["--lr", "-inf"], "--lr"), (["--lr", "nan"], "--lr"),
    (["--lr", "0"], "--lr"), (["--lr", "-0.1"], "--lr"), (["--lr", "abc"], "--lr"),
    (["--lr", ""], "--lr"), (["--lr", "1e999"], "--lr"), (["--lr"], "--lr"),
    # --noise: a finite number from 0 to 1000
    (["--noise", "nan"], "--noise"), (["--noise", "inf"], "--noise"),
    (["--noise", "-0.1"], "--noise"), (["--noise", "1e9"], "--noise"),
    (["--noise", "x"], "--noise"),
    # --samples: an integer from 10 to 1,000,000
    (["--samples", "0"], "--samples"), (["--samples", "-5"], "--samples"),
    (["--samples", "9"], "--samples"), (["--samples", "1.5"], "--samples"),
    (["--samples", "1e3"], "--samples"), (["--samples", "10000000"], "--samples"),
    (["--samples", "9" * 40], "--samples"), (["--samples", "lots"], "--samples"),
    # --seed: 0 to 2**32-1
    (["--seed", "-1"], "--seed"), (["--seed", str(2**32)], "--seed"),
    (["--seed", "1.5"], "--seed"), (["--seed", "nan"], "--seed"), (["--seed", "x"], "--seed"),
    # --epochs, --batch-size: integers >= 1
    (["--epochs", "0"], "--epochs"), (["--epochs", "-1"], "--epochs"),
    (["--epochs", "2.5"], "--epochs"), (["--epochs", "inf"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"), (["--batch-size", "-32"], "--batch-size"),
    (["--batch-size", "3.0"], "--batch-size"), (["--batch-size", "x"], "--batch-size"),
    # --threads: 1 to 1024
    (["--threads", "0"], "--threads"), (["--threads", "-1"], "--threads"),
    (["--threads", "100000"], "--threads"), (["--threads", "many"], "--threads"),
    # choices, combinations, unknown flags
    (["--dataset", "mnist"], "--dataset"), (["--dataset", ""], "--dataset"),
    (["--model", "rnn"], "--model"), (["--dataset", "moons", "--model", "cnn"], "digits"),
    (["--augment=yes"], "--augment"), (["--bogus"], "--bogus"), (["extra"], "extra"),
    # --out: a folder that can be written, checked before training
    (["--dataset", "moons", "--out", ""], "--out"),
    (["--dataset", "moons", "--out", "{d}/a-file"], "--out"),
    (["--dataset", "moons", "--out", "{d}/a-file/sub"], "--out"),
    (["--dataset", "moons", "--out", "/proc/chainrule-cannot-be-here"], "--out"),
    (["--dataset", "moons", "--out", "{d}/" + "x" * 300], "--out"),
    (["--dataset", "moons", "--out", "{d}/taken"], "not a regular file"),
    # --resume: a checkpoint file with its settings file beside it
    (["--resume", "{d}/nothing-checkpoint.npz"], "does not exist"),
    (["--resume", "{d}"], "is not a file"), (["--resume", ""], "--resume"),
    (["--resume", "a\0b"], "NUL"), (["--resume", "{d}/a-file"], "settings file"),
    (["--resume"], "--resume"),
]

DEMO = [
    (["--steps", "-1"], "--steps"), (["--steps", "x"], "--steps"), (["--steps", "1.5"], "--steps"),
    (["--steps", "1000000000"], "--steps"), (["--steps"], "--steps"),
    (["--seed", "-1"], "--seed"), (["--seed", "seed"], "--seed"),
    (["--graph", "x.jpgg"], "jpgg"), (["--graph", "{d}/neuron.svgz"], "svgz"),
    (["--graph", ""], "--graph"), (["--graph", "{d}"], "folder"),
    (["--graph", "{d}/no/such/folder/x.svg"], "does not exist"),
    (["--graph", "{d}/a-file/x.svg"], "--graph"), (["--graph"], "--graph"),
    (["--graph", "/dev/null"], "not a regular file"),
    (["--graph", "{d}/taken/moons-mlp.npz.svg"], "not a regular file"),
    (["--verbose"], "--verbose"),
]

CHECK = [
    (["{d}/good.py:f", "--grad", "df", "--at", "nan"], "--at"),
    (["{d}/good.py:f", "--grad", "df", "--at", "inf"], "--at"),
    (["{d}/good.py:f", "--grad", "df", "--at", "1e400"], "--at"),
    (["{d}/good.py:f", "--grad", "df", "--at", "[]"], "empty"),
    (["{d}/good.py:f", "--grad", "df", "--at", "[1, nan]"], "--at"),
    (["{d}/good.py:f", "--grad", "df", "--at", "[1, [2]]"], "rectangular"),
    (["{d}/good.py:f", "--grad", "df", "--at", "1+2j"], "--at"),
    (["{d}/good.py:f", "--grad", "df", "--at", "True"], "--at"),
    (["{d}/good.py:f", "--grad", "df", "--at", "[" * 3000], "--at"),
    (["{d}/good.py:f", "--grad", "df", "--at", "__import__('os')"], "--at"),
    (["{d}/good.py:f", "--grad", "df"], "--at"),
    (["{d}/good.py:f", "--at", "1", "--order", "0"], "--order"),
    (["{d}/good.py:f", "--at", "1", "--order", "4"], "--order"),
    (["{d}/good.py:f", "--at", "1", "--order", "x"], "--order"),
    (["{d}/good.py:f", "--at", "1", "--modes", "sideways"], "--modes"),
    (["{d}/good.py:f", "--at", "1", "--modes", ","], "--modes"),
    (["{d}/good.py:f", "--at", "1", "--seed", "-1"], "--seed"),
    (["{d}/good.py:f", "--at", "1", "--timeout", "0"], "--timeout"),
    (["{d}/good.py:f", "--at", "1", "--timeout", "-5"], "--timeout"),
    (["{d}/good.py:f", "--at", "1", "--timeout", "nan"], "--timeout"),
    (["{d}/good.py:f", "--at", "1", "--timeout", "inf"], "--timeout"),
    (["{d}/good.py:f", "--at", "1", "--timeout", "soon"], "--timeout"),
    (["{d}/missing.py:f", "--at", "1"], "no such file"),
    (["{d}:f", "--at", "1"], "no such file"),
    (["{d}/good.py", "--at", "1"], "FILE.py:NAME"),
    (["{d}/good.py:", "--at", "1"], "not a Python name"),
    (["{d}/good.py:1f", "--at", "1"], "not a Python name"),
    (["{d}/good.py:nope", "--grad", "df", "--at", "1"], "no name 'nope'"),
    (["{d}/good.py:f", "--grad", "nope", "--at", "1"], "no name 'nope'"),
    (["{d}/good.py:np", "--at", "1"], "not callable"),
    ([], "FILE.py:f"),
]

BENCH = [
    (["--threads", "0"], "--threads"), (["--threads", "-3"], "--threads"),
    (["--threads", "x"], "--threads"), (["--reps", "0"], "--reps"), (["--reps", "-1"], "--reps"),
    (["--reps", "1.5"], "--reps"), (["--cases", "nope"], "nope"), (["--cases", ","], "no case"),
    (["--libs", "jaxx"], "jaxx"),
    (["--json", ""], "--json"), (["--json", "{d}"], "folder"), (["--json", "/dev/null"],
                                                                 "not a regular file"),
    (["--json", "{d}/no/such/folder/b.json"], "does not exist"),
    (["--json", "{d}/a-file/b.json"], "--json"), (["--fast"], "--fast"),
]

CASES = ([("train", a, w) for a, w in TRAIN] + [("demo", a, w) for a, w in DEMO]
         + [("check", a, w) for a, w in CHECK] + [("bench", a, w) for a, w in BENCH])


def _ids() -> list[str]:
    return [f"{c}:{' '.join(a)[:60]}" for c, a, _ in CASES]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "good.py").write_text(GOOD_FILE)
    (tmp_path / "taken" / "moons-mlp.npz").mkdir(parents=True)   # a folder where a file goes
    (tmp_path / "taken" / "moons-mlp.npz.dot").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _tree(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


@pytest.mark.parametrize("command,argv,word", CASES, ids=_ids())
def test_bad_flag_exits_2_with_one_line(command: str, argv: list[str], word: str,
                                        workdir: Path, capsys: pytest.CaptureFixture) -> None:
    argv = [a.replace("{d}", str(workdir)) for a in argv]
    before = _tree(workdir)
    rc = cli.main([command, *argv])
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"chainrule {command}: error: ") or lines[0].startswith(
        "chainrule: error: "), err
    assert word in lines[0], err
    assert "Traceback" not in err and out == ""
    assert _tree(workdir) == before            # nothing written, no folder left behind


def test_every_flag_of_every_command_is_covered() -> None:
    # a new flag must come with bad values above
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    covered = {"train": TRAIN, "demo": DEMO, "check": CHECK, "bench": BENCH}
    for name, cases in covered.items():
        flags = {s for a in sub.choices[name]._actions for s in a.option_strings
                 if s.startswith("--") and s != "--help"}
        used = {a.split("=")[0] for argv, _ in cases for a in argv if a.startswith("--")}
        boolean = {"--quiet", "--float32", "--no-augment", "--quick", "--system-malloc"}
        assert flags - used - boolean == set(), f"{name}: flags without a bad-value case"


def test_subprocess_bad_flag_no_traceback(tmp_path: Path) -> None:
    # the installed entry point, as a shell runs it
    for argv in (["train", "--lr", "inf"], ["demo", "--steps", "-1"],
                 ["demo", "--graph", "x.jpgg"], ["train", "--noise", "nan"]):
        res = subprocess.run([sys.executable, "-m", "chainrule", *argv], capture_output=True,
                             text=True, cwd=tmp_path, timeout=120)
        assert res.returncode == 2, res
        assert len(res.stderr.splitlines()) == 1 and "Traceback" not in res.stderr
        assert res.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_help_exits_0(capsys: pytest.CaptureFixture) -> None:
    for cmd in ("train", "demo", "check"):
        assert cli.main([cmd, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--timeout" in out and "Default 1" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture) -> None:
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_nul_in_out_is_refused(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["train", "--dataset", "moons", "--out", "a\0b"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "NUL" in err


def test_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    from chainrule.cli import demo

    def broken(*a, **k):
        raise RuntimeError("something of ours\nover two lines")

    monkeypatch.setattr(demo, "part_chain_rule", broken)
    assert cli.main(["demo"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: something of ours over two lines" in err
    monkeypatch.setenv("CHAINRULE_TRACEBACK", "1")
    with pytest.raises(RuntimeError):
        cli.main(["demo"])


def test_keyboard_interrupt_is_one_line_130(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture) -> None:
    from chainrule.cli import demo

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "part_network", ctrl_c)
    assert cli.main(["demo"]) == 130
    err = capsys.readouterr().err
    assert err == "chainrule demo: interrupted\n"


def test_out_probe_is_a_real_write(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    # as root chmod does not stop writes: the probe is tested by making mkstemp fail
    import tempfile

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(workdir / "ro"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    rc = cli.main(["train", "--dataset", "moons", "--out", str(workdir / "ro")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and "Permission denied" in err and len(err.splitlines()) == 1
    assert not (workdir / "ro").exists()        # the folder it created is removed again
