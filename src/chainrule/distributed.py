"""Data-parallel training steps on a dask.distributed cluster (``cr.fit(..., client=)``).

Each batch is split into one shard per worker; each worker rebuilds the model from its
current parameters, computes its shard's share of the loss and its gradient, and sends the
gradients back; the driver sums them into the parameters' ``.grad`` and the optimizer takes
one step, as in single-process training.  The shares are weighted so that the sum equals
the whole batch's loss (``n_shard / n_batch`` for a mean, 1 for a sum): the result equals
single-process training to rounding.

What would make the sum differ from the whole batch's gradient is refused before any work:
BatchNorm in training mode (statistics per shard, running statistics lost on the workers),
dropout with p > 0 (masks drawn on the workers), a loss whose reduction is not known or is
a weighted mean (class weights, ``ignore_index`` present in the targets).
"""

from __future__ import annotations

import pickle
from typing import Any, Callable

import numpy as np

from .core.errors import ChainruleError
from .core.tensor import Tensor


class DistributedError(ChainruleError, ValueError):
    """Data-parallel training cannot give the single-process result for this setup."""


def check(model: Any, loss_fn: Callable) -> str:
    """The loss's reduction ("mean" or "sum"), after refusing what would not sum to the
    single-process gradient."""
    for name, m in model.named_modules():
        kind = type(m).__name__
        if kind.startswith(("BatchNorm", "SyncBatchNorm")):
            raise DistributedError(
                f"fit(client=): {name or 'the model'} is a {kind}; in training mode its batch "
                f"statistics would be computed per shard and its running statistics updated "
                f"on the workers only, so the result would not equal single-process "
                f"training. Use LayerNorm or GroupNorm, or train without client=.")
        p = getattr(m, "p", None)
        if kind.startswith(("Dropout", "AlphaDropout")) and p:
            raise DistributedError(
                f"fit(client=): {name or 'the model'} is {kind}(p={p}); its masks would be "
                f"drawn on the workers, not from chainrule.nn's generator, so training "
                f"would not be reproducible. Set p=0 for data-parallel training.")
    red = getattr(loss_fn, "reduction", None)
    if red not in ("mean", "sum"):
        raise DistributedError(
            f"fit(client=): cannot tell how the loss function reduces over the batch "
            f"(reduction={red!r}); each worker's share must be weighted by it. Use an nn loss "
            f"with reduction='mean' or 'sum', or give your function the attribute "
            f"loss_fn.reduction = 'mean' (a mean over the batch's first axis) or 'sum'.")
    if red == "mean" and getattr(loss_fn, "weight", None) is not None:
        raise DistributedError(
            f"fit(client=): {type(loss_fn).__name__}(weight=...) with reduction='mean' is a "
            f"weighted mean; shards' means cannot be combined by their sizes. Use "
            f"reduction='sum' and scale the learning rate, or train without client=.")
    return red


def _shard_grad(skeleton: bytes, state: dict, loss_fn: Callable, x: Any, y: Any,
                share: float) -> tuple:
    """On a worker: the shard's loss share, its gradients by parameter name, its output."""
    model = pickle.loads(skeleton)  # a private copy: tasks on one worker may run at once
    model.load_state_dict(state)
    model.train()
    out = model(x)
    loss = loss_fn(out, y)
    (loss * share).backward()
    grads = {n: (None if p.grad is None else p.grad._value)
             for n, p in model.named_parameters()}
    lv = loss._value if isinstance(loss, Tensor) else np.asarray(loss)
    return float(np.asarray(lv).reshape(())), grads, (out._value if isinstance(out, Tensor)
                                                       else np.asarray(out))


class Stepper:
    """One data-parallel step per batch on ``client``'s workers."""

    def __init__(self, client: Any, model: Any, loss_fn: Callable) -> None:
        self.client = client
        self.model = model
        self.loss_fn = loss_fn
        self.reduction = check(model, loss_fn)
        self.n_workers = max(1, len(client.scheduler_info()["workers"]))
        self.skeleton = pickle.dumps(model)
        self.ignore = getattr(loss_fn, "ignore_index", None)

    def compute(self, xb: Any, yb: Any) -> tuple[float, np.ndarray, dict]:
        """The whole batch's loss, its output and its gradients by parameter name, summed
        over the workers' shards."""
        x = xb._value if isinstance(xb, Tensor) else np.asarray(xb)
        y = yb._value if isinstance(yb, Tensor) else np.asarray(yb)
        n = int(x.shape[0])
        if self.reduction == "mean" and self.ignore is not None and y.dtype.kind in "iu" \
                and np.any(y == self.ignore):
            raise DistributedError(
                f"fit(client=): the targets hold ignore_index={self.ignore}, so the loss is "
                f"a mean over the other targets only and shards cannot be weighted by size. "
                f"Use reduction='sum', or train without client=.")
        k = min(self.n_workers, n)
        bounds = np.linspace(0, n, k + 1).round().astype(int)
        state = {name: v._value if isinstance(v, Tensor) else v
                 for name, v in self.model.state_dict().items()}
        futures = []
        for i in range(k):
            lo, hi = bounds[i], bounds[i + 1]
            share = (hi - lo) / n if self.reduction == "mean" else 1.0
            futures.append(self.client.submit(
                _shard_grad, self.skeleton, state, self.loss_fn, x[lo:hi], y[lo:hi], share,
                pure=False))
        results = self.client.gather(futures)
        total = 0.0
        grads: dict[str, Any] = {}
        for (lv, g, _), lo, hi in zip(results, bounds[:-1], bounds[1:]):
            total += lv * ((hi - lo) / n if self.reduction == "mean" else 1.0)
            for name, gi in g.items():
                if gi is not None:
                    grads[name] = gi if name not in grads else grads[name] + gi
        return total, np.concatenate([r[2] for r in results], axis=0), grads

    def apply(self, optimizer: Any, grads: dict) -> None:
        """``zero_grad``, the summed gradients into ``.grad``, one ``optimizer.step()``."""
        optimizer.zero_grad()
        for name, p in self.model.named_parameters():
            if name in grads:
                p.grad = Tensor._make(np.asarray(grads[name], dtype=p.dtype), None, None)
        optimizer.step()
