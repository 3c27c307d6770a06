"""The benchmark suite itself: it runs, its table and JSON are well formed, and each
library's derivatives agree with the hand-written NumPy ones (so the timings compare
programs that compute the same thing).  No timing is asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli
from chainrule.cli.bench import CASES, check_case, format_table, run_suite
from chainrule.cli.bench.cases import COMPILED_TARGETS, LIBS, TARGETS, Case, available

# the cases without a compiled column, each with the reason in cases.py
NO_COMPILED: set = set()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict]:
    """`chainrule bench --quick --json PATH`, once for the whole module."""
    import contextlib
    import io

    path = tmp_path_factory.mktemp("bench") / "bench.json"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(["bench", "--quick", "--json", str(path)])
    return rc, out.getvalue(), json.loads(path.read_text())


def test_quick_run_exits_zero_and_prints_the_table(quick_run: tuple) -> None:
    rc, text, report = quick_run
    assert rc == 0
    assert "hand NumPy" in text and "chainrule" in text
    for case in CASES:
        assert case.label in text
    assert "derivatives checked against hand NumPy before timing: all agree" in text
    assert "targets (chainrule)" in text
    assert "targets (chainrule compiled)" in text
    # one line per target, plus the torch/autograd comparisons
    assert sum(line.lstrip().startswith("[") for line in text.splitlines()) == len(
        report["targets"])


def test_json_holds_raw_numbers_for_every_case_and_library(quick_run: tuple) -> None:
    _, _, report = quick_run
    libs = report["config"]["libs"]
    assert libs[:3] == ["numpy", "chainrule", "compiled"]
    assert [c["key"] for c in report["cases"]] == [c.key for c in CASES]
    case_libs = {c.key: c.libs for c in CASES}
    for c in report["cases"]:
        assert set(c["samples"]) == set(libs) & set(case_libs[c["key"]])
        assert ("compiled" in c["samples"]) == (c["key"] not in NO_COMPILED), c["key"]
        for lib in c["samples"]:
            xs = c["samples"][lib]
            assert len(xs) >= 3 and all(x > 0 for x in xs)
            st = c["stats"][lib]
            assert st["median"] == pytest.approx(float(np.median(xs)))
            assert c["ratio"][lib] == pytest.approx(st["median"] / c["stats"]["numpy"]["median"])
        assert c["ratio"]["numpy"] == pytest.approx(1.0)
    mem = next(c for c in report["cases"] if c["key"] == "deep200")["memory"]
    assert mem["numpy"] > 0 and mem["chainrule"] > 0 and mem["compiled"] > 0
    assert report["machine"]["numpy"] == np.__version__
    assert {(t["lib"], t["case"]) for t in report["targets"]} >= (
        {("chainrule", k) for k, _, _ in TARGETS}
        | {("compiled", k) for k, _, _ in COMPILED_TARGETS})


def test_every_library_agrees_with_hand_numpy(quick_run: tuple) -> None:
    _, _, report = quick_run
    for c in report["cases"]:
        chk = c["check"]
        assert chk["ok"], (c["key"], chk)
        for lib, err in chk["rel_error"].items():
            assert err <= chk["rtol"], (c["key"], lib, err)
        # float32 in, float32 out: chainrule's derivatives keep the inputs' dtype
        assert chk["dtypes"]["chainrule"] == chk["dtypes"]["numpy"], c["key"]
        if c["key"] not in NO_COMPILED:
            assert chk["dtypes"]["compiled"] == chk["dtypes"]["numpy"], c["key"]
    f32 = [c for c in report["cases"] if "float32" in c["label"]]
    assert f32 and all(set(c["check"]["dtypes"]["chainrule"]) == {"float32"} for c in f32)
    assert all(set(c["check"]["dtypes"]["compiled"]) == {"float32"} for c in f32)


def test_compiled_column_is_in_the_table(quick_run: tuple) -> None:
    _, text, report = quick_run
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("case "))
    assert "chainrule compiled" in lines[head]
    width = lines[head].index("chainrule compiled")
    for c in report["cases"]:
        row = next(line for line in lines[head + 2:] if line.startswith(c["label"]))
        cell = row[width:].split("  ")[0]
        if c["key"] in NO_COMPILED:
            assert cell == "-", (c["key"], row)
        else:
            assert f"({c['ratio']['compiled']:.2f}x)" in cell, (c["key"], row)
    shown = lines[lines.index(next(x for x in lines if x.startswith(
        "targets (chainrule compiled)"))) + 1:]
    for key, _, limit in COMPILED_TARGETS:
        assert any(key in x and f"<= {limit}x" in x for x in shown), key


def test_compiled_steps_run_emitted_code() -> None:
    """The compiled step traced when it was built: the step checked and timed is the emitted
    code (its cache holds one trace and counts hits), not the eager run that traces."""
    import gc

    for case in CASES:
        if case.key in NO_COMPILED:
            continue
        step = case.build("compiled", case.quick)
        step()
        step()
        fast = next(v for v in (c.cell_contents for c in step.__closure__ or ())
                    if isinstance(v, (cr.compiler.function.Compiled,
                                      cr.compiler.module.CompiledModule)))
        info = fast.cache_info()
        assert info["traces"] == 1 and info["hits"] >= 2 and info["eager"] == 0, case.key
        del step, fast
        gc.collect()


def test_hvp_compiled_agrees_with_hand_numpy() -> None:
    case = next(c for c in CASES if c.key == "hvp")
    assert check_case(case, case.quick, ["numpy", "compiled"])["ok"]


def test_check_catches_a_wrong_derivative() -> None:
    """The agreement check is not vacuous: a builder with a wrong gradient fails it."""
    case = next(c for c in CASES if c.key == "mlp231")

    def wrong(lib: str, size: dict):
        step = case.build(lib, size)
        if lib != "chainrule":
            return step
        return lambda: [np.asarray(g.detach().numpy()) * 1.001 for g in step()]

    bad = Case("bad", "bad", "step", wrong, full={}, quick={})
    res = check_case(bad, {}, ["numpy", "chainrule"])
    assert not res["ok"]
    assert res["rel_error"]["chainrule"] == pytest.approx(1e-3, rel=1e-6)
    assert res["rel_error"]["numpy"] == 0.0


def test_run_suite_without_optional_libraries_and_table() -> None:
    cases = [c for c in CASES if c.key in ("overhead", "jac_rev")]
    report = run_suite(cases, ["numpy", "chainrule"], quick=True, reps=3)
    assert report["config"]["libs"] == ["numpy", "chainrule"]
    assert all(set(c["samples"]) == {"numpy", "chainrule"} for c in report["cases"])
    text = format_table(report)
    assert "PyTorch" not in text.splitlines()[3]  # no column for a library not run
    assert "compiled" not in text.splitlines()[3]
    assert "targets (chainrule compiled)" not in text
    # targets only for the cases that ran, and no comparison with absent libraries
    assert {t["case"] for t in report["targets"]} == {"overhead"}


def test_library_list_is_known() -> None:
    assert LIBS == ("numpy", "chainrule", "compiled", "torch", "autograd")
    assert available("numpy") and available("chainrule")
