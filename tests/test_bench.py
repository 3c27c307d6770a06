"""The benchmark suite itself: it runs, its table and JSON are well formed, and each
library's derivatives agree with the hand-written NumPy ones (so the timings compare
programs that compute the same thing).  No timing is asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chainrule import cli
from chainrule.cli.bench import CASES, check_case, format_table, run_suite
from chainrule.cli.bench.cases import LIBS, TARGETS, Case, available


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
    # one line per target, plus the torch/autograd comparisons
    assert sum(line.lstrip().startswith("[") for line in text.splitlines()) == len(
        report["targets"])


def test_json_holds_raw_numbers_for_every_case_and_library(quick_run: tuple) -> None:
    _, _, report = quick_run
    libs = report["config"]["libs"]
    assert libs[:2] == ["numpy", "chainrule"]
    assert [c["key"] for c in report["cases"]] == [c.key for c in CASES]
    for c in report["cases"]:
        assert set(c["samples"]) == set(libs)
        for lib in libs:
            xs = c["samples"][lib]
            assert len(xs) >= 3 and all(x > 0 for x in xs)
            st = c["stats"][lib]
            assert st["median"] == pytest.approx(float(np.median(xs)))
            assert c["ratio"][lib] == pytest.approx(st["median"] / c["stats"]["numpy"]["median"])
        assert c["ratio"]["numpy"] == pytest.approx(1.0)
    mem = next(c for c in report["cases"] if c["key"] == "deep200")["memory"]
    assert mem["numpy"] > 0 and mem["chainrule"] > 0
    assert report["machine"]["numpy"] == np.__version__
    assert {t["case"] for t in report["targets"]} >= {k for k, _, _ in TARGETS}


def test_every_library_agrees_with_hand_numpy(quick_run: tuple) -> None:
    _, _, report = quick_run
    for c in report["cases"]:
        chk = c["check"]
        assert chk["ok"], (c["key"], chk)
        for lib, err in chk["rel_error"].items():
            assert err <= chk["rtol"], (c["key"], lib, err)
        # float32 in, float32 out: chainrule's derivatives keep the inputs' dtype
        assert chk["dtypes"]["chainrule"] == chk["dtypes"]["numpy"], c["key"]
    f32 = [c for c in report["cases"] if "float32" in c["label"]]
    assert f32 and all(set(c["check"]["dtypes"]["chainrule"]) == {"float32"} for c in f32)


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
    # targets only for the cases that ran, and no comparison with absent libraries
    assert {t["case"] for t in report["targets"]} == {"overhead"}


def test_library_list_is_known() -> None:
    assert LIBS == ("numpy", "chainrule", "torch", "autograd")
    assert available("numpy") and available("chainrule")
