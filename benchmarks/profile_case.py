"""Profile one benchmark case: where one library's step spends its time.

    python benchmarks/profile_case.py overhead            # cProfile of chainrule's step
    python benchmarks/profile_case.py mlp784_b64_f32 --lib numpy --steps 200
    python benchmarks/profile_case.py overhead --split    # forward / backward time per op

cProfile attributes NumPy's C kernels to the Python function that calls them, so
``apply`` (the engine's forward) and the rule lambdas include the NumPy work they start.
``--split`` times the chain case's forward and backward separately, per op type, without
the profiler's own overhead.  ``--budget`` splits the three cases whose targets are missed
(one op, the seed network, nn784 compiled) into the layers their time goes to, each beside
the hand-written NumPy it replaces (medians of interleaved timings, microseconds).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, os.pardir, "src"))


def split() -> None:
    import numpy as np

    import chainrule as cr

    x0 = np.array([0.3])
    ops = {"y * c": lambda y: y * 1.0001, "np.sin": np.sin, "y + c": lambda y: y + 0.5,
           "np.tanh": np.tanh}
    hand = {"y * c": (lambda x: x * 1.0001, lambda g, x, y: g * 1.0001),
            "np.sin": (np.sin, lambda g, x, y: g * np.cos(x)),
            "y + c": (lambda x: x + 0.5, lambda g, x, y: g),
            "np.tanh": (np.tanh, lambda g, x, y: g * (1 - y * y))}
    clock = time.process_time
    n = 1000
    print(f"{'op':8s} {'hand fwd':>9s} {'hand bwd':>9s} {'cr fwd':>9s} {'cr bwd':>9s}  (ns per op)")
    for name, fn in ops.items():
        f_h, b_h = hand[name]
        tf, tb, hf, hb = [], [], [], []
        for _ in range(30):
            x = cr.tensor(x0, requires_grad=True)
            t0 = clock()
            y = x
            for _ in range(n):
                y = fn(y)
            t1 = clock()
            y.backward(np.ones(1))
            t2 = clock()
            tf.append(t1 - t0)
            tb.append(t2 - t1)
            t0 = clock()
            xs, v = [], x0
            for _ in range(n):
                w = f_h(v)
                xs.append((v, w))
                v = w
            t1 = clock()
            g = np.ones(1)
            for a, b in reversed(xs):
                g = b_h(g, a, b)
            t2 = clock()
            hf.append(t1 - t0)
            hb.append(t2 - t1)
        med = [float(np.median(v)) / n * 1e9 for v in (hf, hb, tf, tb)]
        print(f"{name:8s} " + " ".join(f"{m:9.0f}" for m in med))


def _med(fn: object, budget: float = 0.3) -> float:
    """Median time of ``fn()`` in microseconds over ``budget`` seconds of calls."""
    ts = []
    end = time.perf_counter() + budget
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1e6


def _rounds(fns: dict, rounds: int = 5) -> dict:
    """{name: median over ``rounds`` interleaved rounds of each fn's median time}."""
    got: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            got[k].append(_med(f))
    return {k: sorted(v)[len(v) // 2] for k, v in got.items()}


def _per_call(stmt: object, n: int = 20000) -> float:
    """Microseconds per call of ``stmt()``, the best of 5 blocks of ``n``."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            stmt()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def budget() -> None:
    import gc

    import numpy as np

    import chainrule as cr
    import chainrule.nn.functional as F
    from chainrule.cli.bench import cases as C
    from chainrule.core import primitive as P
    from chainrule.core.registry import UFUNCS

    print("1. one elementwise op on shape (1,): where a Tensor's np.sin(t) spends its time")
    x0 = np.array([0.3])
    t = cr.tensor(x0, requires_grad=True) * 1.0
    sin = UFUNCS[np.sin]
    raw = _per_call(lambda: np.sin(x0))
    direct = _per_call(lambda: t.__array_ufunc__(np.sin, "__call__", t))
    full = _per_call(lambda: np.sin(t))
    rec = _per_call(lambda: P.apply(sin, (t,), {}))
    with cr.no_grad():
        norec = _per_call(lambda: P.apply(sin, (t,), {}))
    rows = [("NumPy's np.sin on the array itself", raw),
            ("NumPy's dispatch to Tensor.__array_ufunc__", full - direct),
            ("Tensor.__array_ufunc__ to the primitive", direct - rec),
            ("apply: unwrap, call, wrap the result (no recording)", norec - raw),
            ("apply: record the Node", rec - norec)]
    for what, us in rows:
        print(f"   {what:56s} {us:6.2f} us")
    print(f"   {'np.sin(t), forward, in all':56s} {full:6.2f} us  ({full / raw:.1f}x NumPy's call)")
    size = {"ops": 1000}
    hand, eager = C._chain("numpy", size), C._chain("chainrule", size)
    r = _rounds({"hand": hand, "eager": eager})
    gc.disable()
    try:
        r_nogc = _rounds({"eager": eager})
    finally:
        gc.enable()
    n = size["ops"]
    print(f"   the chain of {n} ops, forward + backward, per op: hand {r['hand'] / n:.2f} us, "
          f"chainrule {r['eager'] / n:.2f} us ({r['eager'] / r['hand']:.2f}x); with the "
          f"cyclic garbage collector off {r_nogc['eager'] / n:.2f} us "
          f"({r_nogc['eager'] / r['hand']:.2f}x)")

    print("\n2. the seed network (2-3-1, batch 1), one SGD step, by phase")
    x = np.array([[1.0], [2.0]])
    y = np.array([[0.5]])
    lr = 0.01
    w1, b1, w2, b2 = (p.copy() for p in C._mlp_seed_params())
    ps = [cr.tensor(p, requires_grad=True) for p in (w1, b1, w2, b2)]
    hold: dict = {}

    def h_fwd() -> None:
        z1 = w1 @ x + b1
        a1 = np.maximum(0, z1)
        z2 = w2 @ a1 + b2
        hold.update(z1=z1, a1=a1, z2=z2)

    def h_bwd() -> None:
        z1, a1, z2 = hold["z1"], hold["a1"], hold["z2"]
        dz2 = z2 - y
        dz1 = (w2.T @ dz2) * (z1 > 0)
        hold["g"] = [dz1 @ x.T, dz1, dz2 @ a1.T, dz2]

    def h_upd() -> None:
        for p, g in zip((w1, b1, w2, b2), hold["g"], strict=True):
            p -= lr * g

    def c_fwd() -> None:
        for p in ps:
            p.grad = None
        z2 = ps[2] @ F.relu(ps[0] @ x + ps[1]) + ps[3]
        hold["loss"] = 0.5 * np.sum((z2 - y) ** 2)

    def c_bwd() -> None:
        hold["loss"].backward()

    def c_upd() -> None:
        with cr.no_grad():
            for p in ps:
                p -= lr * p.grad

    def phases(fs: list) -> list:
        # blocks of whole prefixes (forward; forward + backward; ...), interleaved, the
        # best of 7 rounds; a phase's time is the difference of two prefixes
        def prefix(k: int) -> object:
            return lambda: [f() for f in fs[:k]]
        best = [float("inf")] * len(fs)
        for _ in range(7):
            for k in range(len(fs)):
                best[k] = min(best[k], _per_call(prefix(k + 1), 500))
        return [best[0]] + [best[k] - best[k - 1] for k in range(1, len(fs))]

    h = phases([h_fwd, h_bwd, h_upd])
    c = phases([c_fwd, c_bwd, c_upd])
    for name, a, b in zip(("forward (9 ops)", "backward (9 nodes, 4 leaves)",
                           "SGD update (4 parameters)"), h, c, strict=True):
        print(f"   {name:32s} hand {a:6.1f} us   chainrule {b:6.1f} us  ({b / a:.1f}x)")
    print(f"   {'the step':32s} hand {sum(h):6.1f} us   chainrule {sum(c):6.1f} us  "
          f"({sum(c) / sum(h):.1f}x)")

    print("\n3. nn MLP 784-256-10 + CrossEntropyLoss, batch 64, float32: compiled module, by part")
    size = dict(n_in=784, n_hid=256, n_out=10, batch=64, dtype="float32")
    dt = np.dtype(np.float32)
    rng = np.random.default_rng(2)
    xb = rng.standard_normal((64, 784)).astype(dt)
    labels = rng.integers(0, 10, 64)
    rows_ = np.arange(64)
    model = cr.nn.Sequential(cr.nn.Linear(784, 256, dtype=dt), cr.nn.ReLU(),
                             cr.nn.Linear(256, 10, dtype=dt))
    loss_fn = cr.nn.CrossEntropyLoss()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    run = cr.compile(model)
    loss_fn(run(xb), labels).backward()
    opt.zero_grad()
    W1, B1 = (model[0].weight.detach().numpy().copy(), model[0].bias.detach().numpy().copy())
    W2, B2 = (model[2].weight.detach().numpy().copy(), model[2].bias.detach().numpy().copy())

    def n_fwd() -> None:
        opt.zero_grad()
        hold["out"] = run(xb)

    def n_loss() -> None:
        hold["l"] = loss_fn(hold["out"], labels)

    def n_bwd() -> None:
        hold["l"].backward()

    def n_step() -> None:
        opt.step()

    def m_fwd() -> None:
        h1 = xb @ W1.T
        h1 += B1
        a = np.maximum(h1, 0)
        hold.update(h1=h1, a=a, z=a @ W2.T + B2)

    def m_loss() -> None:
        z = hold["z"]
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows_, labels])
        dz = e / s
        dz[rows_, labels] -= 1
        dz /= 64
        hold["dz"] = dz

    def m_bwd() -> None:
        dz, a, h1 = hold["dz"], hold["a"], hold["h1"]
        db2 = np.add.reduce(dz, (0,))
        dh = dz @ W2
        dw2 = dz.T @ a
        dh *= h1 > 0
        hold["gs"] = [dh.T @ xb, np.add.reduce(dh, (0,)), dw2, db2]

    def m_step() -> None:
        for p, g in zip((W1, B1, W2, B2), hold["gs"], strict=True):
            p -= 0.1 * g

    h = phases([m_fwd, m_loss, m_bwd, m_step])
    c = phases([n_fwd, n_loss, n_bwd, n_step])
    for name, a, b in zip(("forward (compiled module call)", "loss (CrossEntropyLoss)",
                           "backward (loss.backward())", "SGD step (opt.step())"), h, c,
                          strict=True):
        print(f"   {name:32s} hand {a:6.1f} us   chainrule {b:6.1f} us  ({b - a:+6.1f} us)")
    print(f"   {'the step':32s} hand {sum(h):6.1f} us   chainrule {sum(c):6.1f} us  "
          f"({sum(c) / sum(h):.2f}x)")
    print("   (the hand loss computes the logits' gradient too; chainrule does that in backward)")
    del size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", default="overhead")
    ap.add_argument("--lib", default="chainrule")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--budget", action="store_true")
    args = ap.parse_args()
    from chainrule.cli.bench import steady_malloc

    steady_malloc()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    if args.split:
        split()
        return
    if args.budget:
        budget()
        return
    from chainrule.cli.bench.cases import CASES

    case = next(c for c in CASES if c.key == args.case)
    step = case.build(args.lib, case.full)
    step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.steps):
        step()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
