"""cr.viz: the graph behind a value as DOT text, rendering, and training-history plots."""

from __future__ import annotations

import re
import shutil
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import viz


def sigmoid(k):
    return 1 / (1 + np.exp(-k))


def neuron():
    """The seed notebook's sigmoid neuron: output = sigmoid(w * x), x = 2.0, w = 0.5."""
    w = cr.tensor(0.5, requires_grad=True)
    return w, sigmoid(w * 2.0)


def labels(dot: str) -> dict[str, str]:
    """node id -> label text (with the DOT line breaks turned back into newlines)."""
    out = {}
    for nid, lab in re.findall(r'^\s*(\w+) \[.*label="((?:[^"\\]|\\.)*)"\];$', dot, re.M):
        out[nid] = lab.replace("\\n", "\n").replace('\\"', '"')
    return out


def edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", dot, re.M)


def test_sigmoid_neuron_ops_values_and_grads():
    w, y = neuron()
    dot = cr.viz.to_dot(y, names={"w": w})
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    labs = labels(dot)
    ops = [lab.split("\n")[0] for nid, lab in labs.items() if nid.startswith("n")]
    # the nodes in creation order: the neuron's forward pass, op by op
    assert ops == ["w", "multiply", "negative", "exp", "add", "true_divide"]
    by_op = {lab.split("\n")[0]: lab for nid, lab in labs.items() if nid.startswith("n")}
    assert "= 0.5" in by_op["w"] and "scalar float64" in by_op["w"]
    assert "= 1.0" in by_op["multiply"]          # k = w * x
    assert "= -1.0" in by_op["negative"]         # recomputed: negative saves nothing
    assert "= 0.367879" in by_op["exp"]          # exp(-1)
    assert "= 0.731059" in by_op["true_divide"]  # the notebook's forward output 0.7311
    # d output / d node at every node (computed by to_dot, .grad untouched)
    assert "grad 0.393224" in by_op["w"]         # the notebook's numerical gradient
    assert "grad 0.196612" in by_op["multiply"]  # sigmoid'(1): the local derivative at k = 1
    assert "grad 1.0" in by_op["true_divide"]
    assert w.grad is None
    # the data flow: w -> multiply -> negative -> exp -> add -> true_divide, constants dashed
    ids = {lab.split("\n")[0]: nid for nid, lab in labs.items()}
    chain = ["w", "multiply", "negative", "exp", "add", "true_divide"]
    for a, b in zip(chain, chain[1:], strict=False):
        assert (ids[a], ids[b]) in edges(dot)
    consts = [lab for nid, lab in labs.items() if nid.startswith("c")]
    assert sorted(consts) == ["1", "1", "2.0"]


def test_graph_freed_by_backward_unless_retained():
    w, y = neuron()
    y.backward()
    dot = cr.viz.to_dot(y)
    assert "freed by backward()" in dot and "retain_graph=True" in dot
    assert "multiply" not in dot

    w, y = neuron()
    y.backward(retain_graph=True)
    dot = cr.viz.to_dot(y, names={"w": w}, grads=False)
    by_op = {lab.split("\n")[0]: lab for lab in labels(dot).values()}
    assert "freed" not in dot and "multiply" in by_op
    assert "grad 0.393224" in by_op["w"]          # the leaf's .grad from backward()
    assert "grad" not in by_op["multiply"]        # intermediates keep no .grad ...


def test_retain_grad_shows_on_intermediate():
    w = cr.tensor(0.5, requires_grad=True)
    k = w * 2.0
    k.retain_grad()
    y = sigmoid(k)
    y.backward(retain_graph=True)
    dot = cr.viz.to_dot(y, grads=False)
    by_op = {lab.split("\n")[0]: lab for lab in labels(dot).values()}
    assert "grad 0.196612" in by_op["multiply"]   # ... unless they ask with retain_grad()


def test_matrix_network_shapes_and_big_tensors_elided():
    rng = np.random.default_rng(0)
    W1 = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    W2 = cr.tensor(rng.standard_normal((1, 3)), requires_grad=True)
    big = cr.tensor(rng.standard_normal((40, 2)), requires_grad=True)
    x = np.array([[1.0], [2.0]])
    z2 = W2 @ np.maximum(0, W1 @ x)
    loss = 0.5 * np.sum((z2 - 0.5) ** 2) + np.sum(big * big)
    dot = cr.viz.to_dot(loss, names={"W1": W1, "W2": W2, "big": big}, max_values=8)
    by_op = {}
    for lab in labels(dot).values():
        by_op.setdefault(lab.split("\n")[0], lab)
    assert "(3, 2) float64" in by_op["W1"] and "(40, 2) float64" in by_op["big"]
    assert "(3, 1) float64" in by_op["matmul"] or "(1, 1) float64" in by_op["matmul"]
    assert "maximum" in by_op and "sum" in by_op and "power" in by_op
    assert "=" not in by_op["big"] and "grad" not in by_op["big"]   # 80 values > max_values
    # W1's gradient shown equals the true gradient
    g = cr.grad(lambda a: 0.5 * np.sum((W2.detach() @ np.maximum(0, a @ x) - 0.5) ** 2))(
        W1.detach())
    shown = by_op["W1"].split("grad ")[1]
    vals = np.array([float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", shown)])
    np.testing.assert_allclose(vals, np.asarray(g).ravel(), atol=1e-4)


def test_constant_and_bad_input():
    dot = cr.viz.to_dot(cr.tensor([1.0, 2.0]))
    assert "no graph" in dot and "[1., 2.]" in dot
    with pytest.raises(TypeError, match="chainrule Tensor"):
        cr.viz.to_dot(np.ones(3))


def test_deep_graph_no_recursion():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    dot = cr.viz.to_dot(y, grads=False, constants=False)
    assert dot.count("multiply") == 3000
    assert len(edges(dot)) == 3000


def test_render_dot_without_graphviz(tmp_path):
    w, y = neuron()
    p = cr.viz.render(y, tmp_path / "g.dot", names={"w": w})
    text = open(p).read()
    assert text == cr.viz.to_dot(y, names={"w": w})
    with pytest.raises(ValueError, match="unknown format"):
        cr.viz.render(y, tmp_path / "g.xyz")


def test_render_missing_graphviz_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    monkeypatch.setattr(shutil, "which", lambda name: None)
    w, y = neuron()
    with pytest.raises(cr.viz.GraphvizError, match=r"chainrule\[viz\].*apt-get install graphviz"):
        cr.viz.render(y, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot program not installed")
def test_render_svg(tmp_path):
    w, y = neuron()
    p = cr.viz.render(y, tmp_path / "sub" / "g.svg", names={"w": w})
    svg = open(p).read()
    assert "<svg" in svg and "true_divide" in svg and "0.393224" in svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot program not installed")
def test_render_png_through_dot_binary(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # the Python package is optional
    w, y = neuron()
    p = cr.viz.render(y, tmp_path / "g.png")
    assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_history_forms(tmp_path):
    pytest.importorskip("matplotlib")
    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.5], "val_acc": [0.5, 0.8, 0.9]}
    p = cr.viz.plot_history(hist, tmp_path / "loss.png", title="digits")
    assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    class History:  # Keras-like object with a .history dict
        history = {"loss": [3.0, 2.0]}

    assert cr.viz.plot_history(History(), tmp_path / "h.svg").endswith("h.svg")
    assert "<svg" in open(tmp_path / "h.svg").read()
    records = [{"epoch": 1, "loss": 1.0, "acc": 0.5}, {"epoch": 2, "loss": 0.5, "acc": 0.7}]
    assert viz._series(records) == {"epoch": [1.0, 2.0], "loss": [1.0, 0.5], "acc": [0.5, 0.7]}
    assert viz._series([0.9, 0.4]) == {"loss": [0.9, 0.4]}
    cr.viz.plot_history(records, tmp_path / "r.png")
    cr.viz.plot_history([0.9, 0.4], tmp_path / "l.png")
    with pytest.raises(ValueError, match="no numeric series"):
        cr.viz.plot_history({"name": "x"}, tmp_path / "bad.png")
    with pytest.raises(TypeError, match="expected a history"):
        cr.viz.plot_history(3, tmp_path / "bad.png")
