"""Profile one benchmark case: where one library's step spends its time.

    python benchmarks/profile_case.py overhead            # cProfile of chainrule's step
    python benchmarks/profile_case.py mlp784_b64_f32 --lib numpy --steps 200
    python benchmarks/profile_case.py overhead --split    # forward / backward time per op

cProfile attributes NumPy's C kernels to the Python function that calls them, so
``apply`` (the engine's forward) and the rule lambdas include the NumPy work they start.
``--split`` times the chain case's forward and backward separately, per op type, without
the profiler's own overhead.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", default="overhead")
    ap.add_argument("--lib", default="chainrule")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--split", action="store_true")
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
