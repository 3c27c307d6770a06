"""``chainrule demo``: the seed notebook, computed and checked by chainrule.

The notebook does the chain rule by hand in three cells and checks one of them with a central
difference.  This walkthrough redoes each cell with chainrule: the derivatives come out exact,
the notebook's wrong sigmoid derivative is caught and explained, the hand-written backward pass
of the 2-3-1 ReLU network is confirmed to the last bit, and a few steps of gradient descent
finish the story.  Deterministic (fixed seed); exits 0 when every check holds.
"""

from __future__ import annotations

import argparse
import linecache
import os
from typing import Any

import numpy as np

from . import file_problem, output_file
from ..io import atomic_write

RULE = "-" * 72


MAX_STEPS = 100_000


def configure(parser: argparse.ArgumentParser) -> None:
    from . import integer

    parser.add_argument(
        "--graph", metavar="FILE", default=None, type=_graph_path,
        help="draw the sigmoid neuron's graph into FILE (svg, png, pdf, ...; needs Graphviz, "
             "otherwise the DOT text is written next to it). The format and the folder are "
             "checked before the demo runs",
    )
    parser.add_argument("--seed", type=integer(0, 2**32 - 1), default=0,
                        help="seed of the 2-3-1 network's weights (0 to 2**32-1, default 0)")
    parser.add_argument("--steps", type=integer(0, MAX_STEPS), default=10,
                        help=f"gradient-descent steps in part 4 (0 to {MAX_STEPS:,}; 0 shows "
                             f"the starting loss only; default 10)")


def _graph_path(text: str) -> str:
    from ..viz import _FORMATS

    output_file(text)
    ext = os.path.splitext(text)[1].lstrip(".").lower()
    if ext and ext not in _FORMATS:
        raise argparse.ArgumentTypeError(
            f"unknown format {ext!r} (from {text!r}); use one of {', '.join(sorted(_FORMATS))}")
    dot = os.path.splitext(text)[0] + ".dot"  # the DOT fallback next to it
    if os.path.lexists(dot) and not os.path.isfile(dot):
        raise argparse.ArgumentTypeError(f"{dot!r} exists and is not a regular file")
    return text


def graph_problem(path: str) -> str | None:
    """None when the graph (and the DOT fallback next to it) can be written at ``path``."""
    return file_problem("--graph", path)


# --- the notebook's own code ----------------------------------------------------------------------
# Its cells, verbatim (the print calls left out), run as code of their own: chainrule's checker
# looks inside user code (never inside the library) to say where a derivative went wrong.

SEED_SOURCE = """\
import math
import numpy as np

# In [3]: the chain rule
def z(x):
    return (x**2 + 1)**3

def dz_dx(x):
    return 3 * (x**2 + 1)**2 * 2*x

def numerical_derivative(f, x, h=1e-5):
    return (f(x + h) - f(x - h)) / (2 * h)

# In [4]: the sigmoid neuron
def sigmoid(x):
    return 1 / (1 + math.exp(-x))

# formula -> sigma'(x) = sigma(x) * (1 - sigma(x))
def sigmoid_derivative(x):
    return sigmoid(x) * (1 - sigmoid(x))

def forward_and_backward(x, w):
    k = w * x
    output = sigmoid(k)
    d_output_d_k = sigmoid_derivative(x)
    d_k_d_w = x
    d_output_dw = d_output_d_k * d_k_d_w
    return output, d_output_dw

x_input = 2.0
weight = 0.5

def check_function(w):
    return sigmoid(w * x_input)

# In [13]: backpropagation
def forward_pass(x, w1, b1, w2, b2):
    z1 = w1 @ x + b1
    a1 = np.maximum(0, z1)
    z2 = w2 @ a1 + b2
    return z2, a1, z1

def loss(y_pred, y_true):
    return 0.5 * np.sum((y_pred - y_true)**2)

def backward_pass(x, y_true, w1, b1, w2, b2):
    z2, a1, z1 = forward_pass(x, w1, b1, w2, b2)
    dL_dz2 = z2 - y_true
    dL_dw2 = dL_dz2 @ a1.T
    dL_db2 = dL_dz2
    dL_da1 = w2.T @ dL_dz2
    dL_dz1 = dL_da1 * (z1 > 0)
    dL_dw1 = dL_dz1 @ x.T
    dL_db1 = dL_dz1
    return dL_dw1, dL_db1, dL_dw2, dL_db2

# glue (not in the notebook): its gradient of the neuron as a function of w alone
def d_output_dw(w):
    return forward_and_backward(x_input, w)[1]
"""

SEED_FILE = "<seed notebook>"


def notebook() -> dict[str, Any]:
    """The seed notebook's functions, defined in a fresh namespace."""
    linecache.cache[SEED_FILE] = (len(SEED_SOURCE), None, SEED_SOURCE.splitlines(True), SEED_FILE)
    ns: dict[str, Any] = {"__name__": "seed_notebook"}
    exec(compile(SEED_SOURCE, SEED_FILE, "exec"), ns)
    return ns


# --- helpers -------------------------------------------------------------------------------------

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

def part_chain_rule(cr: Any, nb: dict, out: _Out) -> None:
    out("1. The chain rule: z = (x^2 + 1)^3 at x = 2")
    out(RULE)
    z = nb["z"]
    hand = nb["dz_dx"](2)
    exact = float(cr.grad(z)(2.0))
    approx = float(nb["numerical_derivative"](z, 2))
    out("   the notebook, by hand:  dz/dx = 3(x^2 + 1)^2 * 2x = 3 * 25 * 4 = " + str(hand))
    out(f"   chainrule:              cr.grad(z)(2.0)            = {exact!r}   (exact)")
    out(f"   central difference:     (z(x+h) - z(x-h)) / 2h     = {approx:.6f}  "
        f"(h = 1e-5, off by {abs(approx - hand):.1e})")
    out.check(exact == 300.0 == hand,
              "chainrule's derivative is exactly 300, no step size involved")
    out()


def sigmoid_np(k):
    """The notebook's sigmoid written with np.exp, so that cr.grad can trace it."""
    return 1 / (1 + np.exp(-k))


def part_sigmoid(cr: Any, nb: dict, out: _Out) -> None:
    out("2. A sigmoid neuron: output = sigmoid(w * x) with x = 2.0, w = 0.5")
    out(RULE)
    x_input, weight = nb["x_input"], nb["weight"]
    k = weight * x_input
    f = nb["check_function"]            # sigmoid(w * x_input), with math.exp
    df_notebook = nb["d_output_dw"]     # the notebook's chain rule, bug included

    # cr.grad refuses math.exp: the float it returns would leave the graph silently
    try:
        cr.grad(f)(weight)
        refused = None
    except cr.LeftGraphError as exc:
        refused = str(exc).splitlines()[0]
    if refused:
        out("   The notebook's sigmoid uses math.exp, which takes its argument out of the graph;")
        out("   cr.grad refuses it instead of returning a silently wrong gradient:")
        out(_indent(refused))
        out("   For cr.grad the neuron is written with np.exp: sigmoid(k) = 1 / (1 + np.exp(-k)).")
        out()

    def f_np(w):
        return sigmoid_np(w * x_input)

    output = float(f_np(weight))
    exact = float(cr.grad(f_np)(weight))
    numeric = float(nb["numerical_derivative"](f, weight))
    hand = df_notebook(weight)
    out(f"   forward output:                       {output:.4f}")
    out(f"   chainrule, cr.grad(f)(0.5):           {exact:.6f}")
    out(f"   central difference:                   {numeric:.6f}")
    out(f"   the notebook's chain rule (by hand):  {hand:.6f}   <- disagrees")
    out()

    check = getattr(cr, "check_derivative", None)
    if check is not None:
        out("   The checker takes the notebook's own code, math.exp included:")
        out("   cr.check_derivative(check_function, d_output_dw, 0.5) says:")
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
    dsig = cr.grad(sigmoid_np)
    at_x, at_k = float(dsig(x_input)), float(dsig(k))
    out("   Why: the chain rule is d output/dw = sigmoid'(k) * dk/dw with k = w*x = 1.0.")
    out("   forward_and_backward computes d_output_d_k = sigmoid_derivative(x): sigmoid'")
    out(f"   taken at x = 2.0 instead of at k = 1.0.  sigmoid'(2.0) = {at_x:.6f}, "
        f"sigmoid'(1.0) = {at_k:.6f}.")
    out(f"     notebook: sigmoid'(x) * x = {at_x:.6f} * 2 = {at_x * x_input:.6f}")
    out(f"     correct:  sigmoid'(k) * x = {at_k:.6f} * 2 = {at_k * x_input:.6f}"
        f"  (= chainrule's {exact:.6f})")

    sigmoid_derivative = nb["sigmoid_derivative"]

    def df_fixed(w):
        return sigmoid_derivative(w * x_input) * x_input

    fixed_ok = abs(df_fixed(weight) - exact) < 1e-12
    if check is not None:
        fixed_ok = fixed_ok and bool(check(f, df_fixed, weight))
    out.check(fixed_ok, "with sigmoid_derivative(w * x) the hand-written derivative passes")
    out()


def part_network(cr: Any, nb: dict, out: _Out, seed: int) -> tuple:
    out("3. Backpropagation through the 2-3-1 ReLU network (MSE loss)")
    out(RULE)
    rng = np.random.default_rng(seed)
    x = np.array([[1.0], [2.0]])
    y_true = np.array([[0.5]])
    w1 = rng.standard_normal((3, 2))
    b1 = rng.standard_normal((3, 1))
    w2 = rng.standard_normal((1, 3))
    b2 = rng.standard_normal((1, 1))
    forward_pass, loss = nb["forward_pass"], nb["loss"]

    def loss_of(w1, b1, w2, b2):
        return loss(forward_pass(x, w1, b1, w2, b2)[0], y_true)

    out(f"   weights drawn with np.random.default_rng({seed}); x = [[1], [2]], y = [[0.5]]")
    out(f"   loss = {float(loss_of(w1, b1, w2, b2)):.6f}; hidden units active (z1 > 0): "
        f"{(w1 @ x + b1 > 0).ravel().astype(int).tolist()}")
    auto = cr.grad(loss_of, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
    hand = nb["backward_pass"](x, y_true, w1, b1, w2, b2)
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


def part_compiled(cr: Any, nb: dict, out: _Out, data: tuple) -> None:
    out("4. The backward pass as code: cr.compile writes it out")
    out(RULE)
    x, y_true, w1, b1, w2, b2 = data
    forward_pass, loss = nb["forward_pass"], nb["loss"]

    def loss_of(w1, b1, w2, b2):
        return loss(forward_pass(x, w1, b1, w2, b2)[0], y_true)

    vg = cr.value_and_grad(loss_of, argnums=(0, 1, 2, 3))
    fast = cr.compile(vg)
    got = fast(w1, b1, w2, b2)
    src = fast.source(w1, b1, w2, b2)
    out("   fast = cr.compile(cr.value_and_grad(loss, argnums=(0, 1, 2, 3)))")
    out("   print(fast.source(w1, b1, w2, b2)) shows the NumPy it runs on every later call —")
    out("   the notebook's forward pass, then the chain rule, one line per NumPy call:")
    out(_indent(src))
    out("   The notebook's backward_pass, written by hand, for comparison:")
    hand_src = SEED_SOURCE[SEED_SOURCE.index("def backward_pass"):]
    out(_indent(hand_src[:hand_src.index("\n\n")]))
    again = fast(w1, b1, w2, b2)
    want = vg(w1, b1, w2, b2)
    same = all(np.array_equal(a, b) for a, b in zip(again[1], want[1], strict=True)) \
        and float(again[0]) == float(want[0])
    out.check(same and all(np.array_equal(a, b) for a, b in zip(got[1], want[1], strict=True)),
              "the compiled code gives the eager gradients exactly (bit for bit)")
    hand = nb["backward_pass"](x, y_true, w1, b1, w2, b2)
    worst = max(float(np.max(np.abs(a - h))) for a, h in zip(again[1], hand, strict=True))
    out.check(worst < 1e-12, f"and the hand-written ones (max abs difference {worst:.1e})")
    out()


def part_descent(cr: Any, out: _Out, data: tuple, steps: int, lr: float = 0.05) -> None:
    out(f"5. Gradient descent on the same network: {steps} steps, learning rate {lr}")
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
    show = sorted(s for s in {0, 1, 2, 3, steps // 2, steps} if s < len(losses))
    out("   Tensor style, PyTorch's way: loss.backward(), then p -= lr * p.grad under no_grad()")
    for s in show:
        out(f"     step {s:3d}   loss {losses[s]:.6f}")
    if steps == 0:
        out("     (--steps 0: no step taken, nothing to check)")
        out()
        return
    falling = all(b < a for a, b in zip(losses, losses[1:], strict=False))
    out.check(falling and losses[-1] < losses[0],
              f"the loss falls at every step ({losses[0]:.4f} -> {losses[-1]:.4f})")
    out()


def draw_graph(cr: Any, out: _Out, path: str) -> None:
    out(f"The sigmoid neuron's graph -> {path}")
    w = cr.tensor(0.5, requires_grad=True)
    y = sigmoid_np(w * 2.0)
    try:
        written = cr.viz.render(y, path, names={"w": w}, title="output = sigmoid(w * 2.0)")
        out(f"   drawn with Graphviz: {written}")
    except cr.viz.GraphvizError as exc:
        dot_path = os.path.splitext(path)[0] + ".dot"
        dot = cr.viz.to_dot(y, names={"w": w}, title="output = sigmoid(w * 2.0)").encode("utf-8")
        atomic_write(dot_path, lambda fh: fh.write(dot))
        out(f"   Graphviz is not installed, so the graph was written as DOT text: {dot_path}")
        out(_indent(str(exc).splitlines()[0]))
        out(f"   Render it later with: dot -T{os.path.splitext(path)[1].lstrip('.') or 'svg'} "
            f"{dot_path} -o {path}")
    out()


def run(args: argparse.Namespace) -> int:
    import chainrule as cr

    from . import fail

    steps = int(args.steps)
    if not 0 <= steps <= MAX_STEPS:          # argparse checks this; callers by hand too
        return fail("demo", f"--steps must be an integer from 0 to {MAX_STEPS}, got {steps}")
    if args.graph:
        problem = graph_problem(args.graph)  # before the demo runs, not after
        if problem:
            return fail("demo", problem)
    out = _Out()
    out("chainrule demo: the seed notebook, computed and checked by chainrule")
    out("=" * 72)
    out()
    nb = notebook()
    part_chain_rule(cr, nb, out)
    part_sigmoid(cr, nb, out)
    data = part_network(cr, nb, out, args.seed)
    part_compiled(cr, nb, out, data)
    part_descent(cr, out, data, steps)
    if args.graph:
        try:
            draw_graph(cr, out, args.graph)
        except OSError as exc:               # a full disk, a folder that went away
            from . import os_error

            return fail("demo", f"--graph {args.graph}: cannot write it ({os_error(exc)})", 1)
    out("All checks passed." if out.ok else "Some checks FAILED (see above).")
    return 0 if out.ok else 1
