"""``chainrule demo``: the seed notebook, computed and checked by chainrule.

The notebook does the chain rule by hand in three cells and checks one of them with a central
difference.  This walkthrough redoes each cell with chainrule: the derivatives come out exact,
the notebook's wrong sigmoid derivative is caught and explained, the hand-written backward pass
of the 2-3-1 ReLU network is confirmed to the last bit, and a few steps of gradient descent
finish the story.  Deterministic (fixed seed); exits 0 when every check holds.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

RULE = "-" * 72


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--graph", metavar="FILE", default=None,
        help="draw the sigmoid neuron's graph into FILE (svg, png, pdf; needs Graphviz, "
             "otherwise the DOT text is written next to it)",
    )
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the 2-3-1 network's weights (default 0)")
    parser.add_argument("--steps", type=int, default=10,
                        help="gradient-descent steps in part 4 (default 10)")


# --- the notebook's own code, verbatim apart from names ----------------------------------------

def nb_sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def nb_sigmoid_derivative(x: float) -> float:
    return nb_sigmoid(x) * (1 - nb_sigmoid(x))


def nb_forward_pass(x, w1, b1, w2, b2):  # noqa: ANN001, ANN201 - the notebook's code
    z1 = w1 @ x + b1
    a1 = np.maximum(0, z1)
    z2 = w2 @ a1 + b2
    return z2, a1, z1


def nb_backward_pass(x, y_true, w1, b1, w2, b2):  # noqa: ANN001, ANN201
    z2, a1, z1 = nb_forward_pass(x, w1, b1, w2, b2)
    dL_dz2 = z2 - y_true
    dL_dw2 = dL_dz2 @ a1.T
    dL_db2 = dL_dz2
    dL_da1 = w2.T @ dL_dz2
    dL_dz1 = dL_da1 * (z1 > 0)
    dL_dw1 = dL_dz1 @ x.T
    dL_db1 = dL_dz1
    return dL_dw1, dL_db1, dL_dw2, dL_db2


# --- helpers -------------------------------------------------------------------------------------

def central_difference(f: Callable[[float], Any], x: float, h: float = 1e-5) -> float:
    """The notebook's numerical_derivative (used when cr.numerical_derivative is absent)."""
    return float((f(x + h) - f(x - h)) / (2 * h))


def _numerical(cr: Any, f: Callable, x: float) -> float:
    nd = getattr(cr, "numerical_derivative", None)
    if nd is not None:
        return float(np.asarray(nd(f, x, h=1e-5)))
    return central_difference(f, x)


def _indent(text: str, pad: str = "     | ") -> str:
    return "\n".join(pad + line for line in str(text).rstrip().splitlines())


class _Out:
    def __init__(self) -> None:
        self.ok = True

    def __call__(self, *parts: Any) -> None:
        print(*parts, flush=True)

    def check(self, cond: bool, what: str) -> None:
        self("     " + ("ok: " if cond else "FAILED: ") + what)
        self.ok = self.ok and bool(cond)


# --- the four parts ----------------------------------------------------------------------------

def part_chain_rule(cr: Any, out: _Out) -> None:
    out("1. The chain rule: z = (x^2 + 1)^3 at x = 2")
    out(RULE)

    def z(x):  # noqa: ANN001, ANN202 - ordinary NumPy code, as in the notebook
        return (x**2 + 1) ** 3

    hand = 3 * (2**2 + 1) ** 2 * 2 * 2
    exact = float(cr.grad(z)(2.0))
    approx = _numerical(cr, z, 2.0)
    out("   by hand:            dz/dx = 3(x^2 + 1)^2 * 2x = 3 * 25 * 4 = " + str(hand))
    out(f"   chainrule:          cr.grad(z)(2.0)           = {exact!r}   (exact)")
    out(f"   central difference: (z(x+h) - z(x-h)) / 2h    = {approx:.6f}  "
        f"(h = 1e-5, off by {abs(approx - hand):.1e})")
    out.check(exact == 300.0, "chainrule's derivative is exactly 300, no step size involved")
    out()


def _sigmoid(k):  # noqa: ANN001, ANN202
    """The notebook's sigmoid written with np.exp, so that chainrule can trace it."""
    return 1 / (1 + np.exp(-k))


def part_sigmoid(cr: Any, out: _Out) -> None:
    out("2. A sigmoid neuron: output = sigmoid(w * x) with x = 2.0, w = 0.5")
    out(RULE)
    x_input, weight = 2.0, 0.5
    k = weight * x_input

    # chainrule refuses the notebook's math.exp: a float leaves the graph silently otherwise
    try:
        cr.grad(lambda w: nb_sigmoid(w * x_input))(weight)
        refused = None
    except cr.LeftGraphError as exc:
        refused = str(exc).splitlines()[0]
    if refused:
        out("   The notebook's sigmoid uses math.exp, which takes its argument out of the graph;")
        out("   chainrule refuses it instead of returning a silently wrong gradient:")
        out(_indent(refused))
        out("   So the neuron is written with np.exp:  sigmoid(k) = 1 / (1 + np.exp(-k)).")
        out()

    def f(w):  # noqa: ANN001, ANN202
        return _sigmoid(w * x_input)

    def df_notebook(w):  # noqa: ANN001, ANN202 - the notebook's chain rule, bug included
        d_output_d_k = nb_sigmoid_derivative(x_input)   # <- evaluated at x, not at k = w*x
        d_k_d_w = x_input
        return d_output_d_k * d_k_d_w

    output = float(f(weight))
    exact = float(cr.grad(f)(weight))
    numeric = _numerical(cr, f, weight)
    hand = df_notebook(weight)
    out(f"   forward output:                       {output:.4f}")
    out(f"   chainrule, cr.grad(f)(0.5):           {exact:.6f}")
    out(f"   central difference:                   {numeric:.6f}")
    out(f"   the notebook's chain rule (by hand):  {hand:.6f}   <- disagrees")
    out()

    check = getattr(cr, "check_derivative", None)
    if check is not None:
        out("   cr.check_derivative(f, df_notebook, 0.5) says:")
        report = check(f, df_notebook, weight)
        caught = not bool(report)
        out(_indent(str(report)))
    else:
        out("   (cr.check_derivative is not available in this build: comparing the numbers here)")
        rel = abs(hand - exact) / max(abs(exact), 1e-300)
        caught = rel > 1e-6
        out(f"     hand-written {hand:.6f} vs exact {exact:.6f}: relative error {rel:.2f}")
    out.check(caught, "the hand-written derivative is caught as wrong")
    out()

    # where the bug is: the local derivative sigmoid'(k), taken at the wrong point
    dsig = cr.grad(_sigmoid)
    at_x, at_k = float(dsig(x_input)), float(dsig(k))
    out("   Why: the chain rule is d output/dw = sigmoid'(k) * dk/dw with k = w*x = 1.0.")
    out("   The notebook computes d_output_d_k = sigmoid_derivative(x): sigmoid' taken at")
    out(f"   x = 2.0 instead of at k = 1.0.   sigmoid'(2.0) = {at_x:.6f}, "
        f"sigmoid'(1.0) = {at_k:.6f}.")
    out(f"     notebook: sigmoid'(x) * x = {at_x:.6f} * 2 = {at_x * x_input:.6f}")
    out(f"     correct:  sigmoid'(k) * x = {at_k:.6f} * 2 = {at_k * x_input:.6f}"
        f"  (= chainrule's {exact:.6f})")
    fixed = nb_sigmoid_derivative(weight * x_input) * x_input
    out.check(abs(fixed - exact) < 1e-12,
              "with sigmoid_derivative(w * x) the hand-written derivative matches chainrule")
    out()


def part_network(cr: Any, out: _Out, seed: int) -> tuple:
    out("3. Backpropagation through the 2-3-1 ReLU network (MSE loss)")
    out(RULE)
    rng = np.random.default_rng(seed)
    x = np.array([[1.0], [2.0]])
    y_true = np.array([[0.5]])
    w1 = rng.standard_normal((3, 2))
    b1 = rng.standard_normal((3, 1))
    w2 = rng.standard_normal((1, 3))
    b2 = rng.standard_normal((1, 1))

    def loss(w1, b1, w2, b2):  # noqa: ANN001, ANN202 - the notebook's forward pass and loss
        z2 = nb_forward_pass(x, w1, b1, w2, b2)[0]
        return 0.5 * np.sum((z2 - y_true) ** 2)

    out(f"   weights drawn with np.random.default_rng({seed}); x = [[1], [2]], y = [[0.5]]")
    out(f"   loss = {float(loss(w1, b1, w2, b2)):.6f}; hidden units active (z1 > 0): "
        f"{(w1 @ x + b1 > 0).ravel().astype(int).tolist()}")
    auto = cr.grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
    hand = nb_backward_pass(x, y_true, w1, b1, w2, b2)
    out("   cr.grad(loss, argnums=(0, 1, 2, 3)) against the notebook's backward_pass:")
    out("     grad   shape    max |chainrule - by hand|")
    worst = 0.0
    for name, a, h in zip(("dW1", "dB1", "dW2", "dB2"), auto, hand, strict=True):
        d = float(np.max(np.abs(np.asarray(a) - h)))
        worst = max(worst, d)
        out(f"     {name:5}  {str(tuple(a.shape)):7}  {d:.1e}")
    out.check(all(np.shape(a) == h.shape for a, h in zip(auto, hand, strict=True)),
              "each gradient has its parameter's shape")
    out.check(worst < 1e-12, f"chainrule equals the hand-written backward pass "
                             f"(max abs difference {worst:.1e})")
    out()
    return (x, y_true, w1, b1, w2, b2)


def part_descent(cr: Any, out: _Out, data: tuple, steps: int, lr: float = 0.05) -> None:
    out(f"4. Gradient descent on the same network: {steps} steps, learning rate {lr}")
    out(RULE)
    x, y_true, *weights = data
    params = [cr.tensor(w, requires_grad=True) for w in weights]
    w1, b1, w2, b2 = params
    losses = []
    for step in range(steps + 1):
        z2 = w2 @ np.maximum(0, w1 @ x + b1) + b2
        loss = 0.5 * np.sum((z2 - y_true) ** 2)
        losses.append(loss.item())
        if step == steps:
            break
        loss.backward()
        with cr.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    show = sorted({0, 1, 2, 3, steps // 2, steps})
    out("   Tensor style, PyTorch's way: loss.backward(), then p -= lr * p.grad under no_grad()")
    for s in show:
        out(f"     step {s:3d}   loss {losses[s]:.6f}")
    falling = all(b < a for a, b in zip(losses, losses[1:], strict=False))
    out.check(falling and losses[-1] < losses[0],
              f"the loss falls at every step ({losses[0]:.4f} -> {losses[-1]:.4f})")
    out()


def draw_graph(cr: Any, out: _Out, path: str) -> None:
    out(f"The sigmoid neuron's graph -> {path}")
    w = cr.tensor(0.5, requires_grad=True)
    y = _sigmoid(w * 2.0)
    try:
        written = cr.viz.render(y, path, names={"w": w}, title="output = sigmoid(w * 2.0)")
        out(f"   drawn with Graphviz: {written}")
    except cr.viz.GraphvizError as exc:
        dot_path = os.path.splitext(path)[0] + ".dot"
        with open(dot_path, "w", encoding="utf-8") as fh:
            fh.write(cr.viz.to_dot(y, names={"w": w}, title="output = sigmoid(w * 2.0)"))
        out(f"   Graphviz is not installed, so the graph was written as DOT text: {dot_path}")
        out(_indent(str(exc).splitlines()[0]))
        out(f"   Render it later with: dot -T{os.path.splitext(path)[1].lstrip('.') or 'svg'} "
            f"{dot_path} -o {path}")
    out()


def run(args: argparse.Namespace) -> int:
    import chainrule as cr  # noqa: PLC0415

    out = _Out()
    out("chainrule demo: the seed notebook, computed and checked by chainrule")
    out("=" * 72)
    out()
    part_chain_rule(cr, out)
    part_sigmoid(cr, out)
    data = part_network(cr, out, args.seed)
    part_descent(cr, out, data, max(1, args.steps))
    if args.graph:
        draw_graph(cr, out, args.graph)
    out("All checks passed." if out.ok else "Some checks FAILED (see above).")
    return 0 if out.ok else 1
