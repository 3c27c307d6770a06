"""Time per training step of cr.fit on one process and with client= on 1 and 2 local
dask.distributed workers (processes on 127.0.0.1, one thread each): an MLP 784-256-10
(float32, Adam) at batch 256 and 4096.

    python benchmarks/data_parallel.py [--steps N]

Prints seconds per step and the ratio to the single process.  On a machine with two cores
the two workers share them with the driver, so this shows the overhead of shipping the
parameters and gradients, not the speed-up a cluster of real machines gives."""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim


def run(batch: int, steps: int, client) -> float:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch * steps, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch * steps)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    loader = cr.data.DataLoader(cr.data.TensorDataset(X, y), batch_size=batch)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    # one warm-up epoch of a single batch (imports, worker start-up)
    warm = cr.data.DataLoader(cr.data.TensorDataset(X[:batch], y[:batch]), batch_size=batch)
    cr.fit(model, nn.CrossEntropyLoss(), opt, warm, epochs=1, verbose=0, client=client)
    t = time.perf_counter()
    cr.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1, verbose=0, client=client)
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    import distributed

    for batch in (256, 4096):
        base = run(batch, args.steps, None)
        print(f"batch {batch}: one process {1e3 * base:.1f} ms/step", flush=True)
        for workers in (1, 2):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, host="127.0.0.1",
                                               dashboard_address=None, silence_logs=50)
            with distributed.Client(cluster) as client:
                t = run(batch, args.steps, client)
            cluster.close()
            print(f"batch {batch}: {workers} worker{'s' if workers > 1 else ''} "
                  f"{1e3 * t:.1f} ms/step ({t / base:.2f}x one process)", flush=True)


if __name__ == "__main__":
    main()
