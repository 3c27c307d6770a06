"""``chainrule demo``: the seed notebook walked through, its numbers and its caught bug."""

from __future__ import annotations

import re
import shutil

import pytest

import chainrule as cr
from chainrule import cli
from chainrule.cli import demo


@pytest.fixture(scope="module")
def demo_output():
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["demo"])
    return rc, buf.getvalue()


def test_exits_zero_and_all_checks_pass(demo_output):
    rc, text = demo_output
    assert rc == 0
    assert "FAILED: " not in text and "Some checks FAILED" not in text
    assert text.rstrip().endswith("All checks passed.")
    assert text.count("ok: ") >= 6


def test_chain_rule_300_exact_vs_central_difference(demo_output):
    _, text = demo_output
    assert "dz/dx = 3(x^2 + 1)^2 * 2x = 3 * 25 * 4 = 300\n" in text
    assert "cr.grad(z)(2.0)            = 300.0   (exact)" in text
    m = re.search(r"central difference: .* = (\d+\.\d+) .*off by ([\d.e+-]+)\)", text)
    assert m and m.group(1) == "300.000000" and 0 < float(m.group(2)) < 1e-5


def test_sigmoid_bug_caught_and_explained(demo_output):
    _, text = demo_output
    assert "forward output:                       0.7311" in text
    assert "cr.grad(f)(0.5):           0.393224" in text
    assert "central difference:                   0.393224" in text
    assert "(by hand):  0.209987   <- disagrees" in text
    assert "ok: the hand-written derivative is caught as wrong" in text
    # the explanation: sigmoid' evaluated at x = 2 instead of k = w*x = 1
    assert "sigmoid'(2.0) = 0.104994, sigmoid'(1.0) = 0.196612" in text
    assert "correct:  sigmoid'(k) * x = 0.196612 * 2 = 0.393224" in text
    # the notebook's math.exp is refused rather than silently differentiated wrong
    assert "math.exp" in text and "silently wrong" in text
    if hasattr(cr, "check_derivative"):
        assert "cr.check_derivative(check_function, d_output_dw, 0.5) says:" in text
        assert "check_derivative(check_function, d_output_dw) at x = 0.5:" in text
        # the checker finds the bug itself, in the notebook's own code
        assert re.search(r"evaluates sigmoid at 2\.0 where \w+ evaluates it at 1\.0", text)
        assert "<seed notebook>:20: return sigmoid(x) * (1 - sigmoid(x))" in text
        assert "ok: with sigmoid_derivative(w * x) the hand-written derivative passes" in text
    else:
        assert "comparing the numbers here" in text


def test_network_gradients_equal_hand_backward_pass(demo_output):
    _, text = demo_output
    for name, shape in [("dW1", "(3, 2)"), ("dB1", "(3, 1)"), ("dW2", "(1, 3)"),
                        ("dB2", "(1, 1)")]:
        m = re.search(rf"{name}\s+{re.escape(shape)}\s+([\d.e+-]+)", text)
        assert m, name
        assert float(m.group(1)) < 1e-12
    assert "hidden units active (z1 > 0): [1, 1, 0]" in text   # seed 0: ReLU masks one unit


def test_compiled_backward_pass_is_shown_and_exact(demo_output):
    _, text = demo_output
    part = text[text.index("4. The backward pass as code"):text.index("5. Gradient descent")]
    assert "def value_and_grad_loss_of(w1, b1, w2, b2):" in part
    assert "# backward of maximum" in part and "# backward of matmul" in part
    assert "return value, (d_w1, d_b1, d_w2, d_b2)" in part
    assert "def backward_pass(x, y_true, w1, b1, w2, b2):" in part  # the hand-written one
    assert "ok: the compiled code gives the eager gradients exactly (bit for bit)" in part
    assert "FAILED" not in part


def test_loss_falls(demo_output):
    _, text = demo_output
    losses = [float(v) for v in re.findall(r"step\s+\d+\s+loss (\d+\.\d+)", text)]
    assert len(losses) >= 4
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[0] == pytest.approx(14.688845, abs=1e-6)
    assert losses[-1] < 0.1 * losses[0]


def test_deterministic(demo_output, capsys):
    _, text = demo_output
    assert cli.main(["demo"]) == 0
    assert capsys.readouterr().out == text


def test_graph_option(tmp_path, capsys, monkeypatch):
    out = tmp_path / "sigmoid.svg"
    if shutil.which("dot") is not None:
        assert cli.main(["demo", "--graph", str(out)]) == 0
        assert "<svg" in out.read_text() and "true_divide" in out.read_text()
        assert "drawn with Graphviz" in capsys.readouterr().out

    def missing(src, fmt):
        raise cr.viz.GraphvizError("cr.viz.render: Graphviz is not installed.")

    monkeypatch.setattr(cr.viz, "_dot_bytes", missing)
    out2 = tmp_path / "neuron.svg"
    assert cli.main(["demo", "--graph", str(out2)]) == 0
    text = capsys.readouterr().out
    assert "written as DOT text" in text and not out2.exists()
    dot = (tmp_path / "neuron.dot").read_text()
    assert dot.startswith("digraph") and "true_divide" in dot and "grad 0.393224" in dot


def test_seed_notebook_code_as_in_the_seed():
    # the demo runs the notebook's own code, buggy derivative included
    nb = demo.notebook()
    assert nb["dz_dx"](2) == 300
    assert nb["numerical_derivative"](nb["z"], 2) == pytest.approx(300, abs=1e-6)
    assert f"{nb['d_output_dw'](0.5):.6f}" == "0.209987"
    assert f"{nb['numerical_derivative'](nb['check_function'], 0.5):.6f}" == "0.393224"
    assert [g.shape for g in nb["backward_pass"](*[__import__("numpy").ones(s) for s in
            [(2, 1), (1, 1), (3, 2), (3, 1), (1, 3), (1, 1)]])] == [(3, 2), (3, 1), (1, 3), (1, 1)]


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 4, 5, 7, 25])
def test_any_number_of_steps(steps, capsys):
    # `chainrule demo --steps 1` (and 0, 2) used to crash with IndexError in part 4
    rc = cli.main(["demo", "--steps", str(steps)])
    out, err = capsys.readouterr()
    assert rc == 0 and err == "", err
    assert f"5. Gradient descent on the same network: {steps} steps" in out
    shown = [int(s) for s in re.findall(r"step\s+(\d+)\s+loss", out)]
    assert shown == sorted({0, 1, 2, 3, steps // 2, steps} & set(range(steps + 1)))
    if steps == 0:
        assert "--steps 0: no step taken" in out
    else:
        assert "ok: the loss falls at every step" in out
    assert out.rstrip().endswith("All checks passed.")


@pytest.mark.parametrize("steps", ["-1", "-100", "x", "1.5", str(demo.MAX_STEPS + 1)])
def test_bad_steps_exit_2_before_the_demo(steps, capsys):
    rc = cli.main(["demo", "--steps", steps])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "--steps" in err


def test_bad_graph_is_refused_before_the_demo_runs(tmp_path, capsys):
    for path in ["x.jpgg", str(tmp_path / "missing" / "g.svg"), str(tmp_path)]:
        rc = cli.main(["demo", "--graph", path])
        out, err = capsys.readouterr()
        assert rc == 2 and out == "", out           # nothing of the demo printed
        assert len(err.splitlines()) == 1 and "--graph" in err
    assert list(tmp_path.iterdir()) == []


def test_run_by_hand_with_bad_steps(capsys):
    import argparse

    rc = demo.run(argparse.Namespace(steps=-3, graph=None, seed=0))
    assert rc == 2 and "--steps" in capsys.readouterr().err
