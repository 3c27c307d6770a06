"""The benchmark cases.  Each one is written five times, the way a user of each library
would write it: NumPy with the backward pass by hand (the floor), chainrule, chainrule
compiled (``cr.compile`` of the same function: traced once, then emitted NumPy), PyTorch
eager and HIPS autograd.  ``build(lib, size)`` returns a zero-argument ``step`` that does the
whole unit of work once (forward, backward and, for networks, the SGD update) and returns
the derivatives it computed, so that every library's numbers can be checked against the
hand-written ones before any of them is timed.

A compiled step is traced when it is built (on copies of the parameters, so the start is the
same as everyone's): the check then compares the emitted code, not the tracing call (which
is an eager run), and no timed step traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr

Step = Callable[[], list]

LIBS = ("numpy", "chainrule", "compiled", "torch", "autograd")
LABELS = {"numpy": "hand NumPy", "chainrule": "chainrule", "compiled": "chainrule compiled",
          "torch": "PyTorch", "autograd": "autograd"}


def available(lib: str) -> bool:
    try:
        if lib == "torch":
            import torch  # noqa: F401
        elif lib == "autograd":
            import autograd  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Case:
    key: str
    label: str
    unit: str  # what one reported time is for
    build: Callable[[str, dict], Step]
    full: dict
    quick: dict
    per: Callable[[dict], int] = lambda s: 1  # time of one step / per(size) = one unit
    memory: bool = False  # also measure peak memory of one step (tracemalloc)
    rtol: float = 1e-6
    libs: tuple = LIBS
    reps: int = 15  # interleaved repetitions of the full suite
    min_block: float = 0.05  # seconds per timed block (the step is repeated to fill it)
    notes: dict = field(default_factory=dict)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _traced(fast: Callable, *args: Any) -> Callable:
    """Call the compiled ``fast`` once on copies of ``args`` (it traces for their signature)
    and return it: later calls with the same shapes and dtypes run the emitted code."""
    fast(*[[a.copy() for a in x] if isinstance(x, list) else x.copy() for x in args])
    return fast


# ------------------------------------------------------------------------------------------
# overhead: a chain of elementwise operations on shape (1,), forward + backward


def _chain(lib: str, size: dict) -> Step:
    blocks = size["ops"] // 4  # each block: x * c, sin, + c, tanh
    x0 = np.array([0.3])
    c1, c2 = 1.0001, 0.5

    if lib == "numpy":

        def step() -> list:
            saved = []
            x = x0
            for _ in range(blocks):
                u = x * c1
                saved.append(u)
                x = np.tanh(np.sin(u) + c2)
                saved.append(x)
            g = np.ones_like(x)
            for i in range(blocks - 1, -1, -1):
                t = saved[2 * i + 1]
                g = g * (1 - t * t)
                g = g * np.cos(saved[2 * i])
                g = g * c1
            return [g]

    elif lib == "chainrule":

        def step() -> list:
            x = cr.tensor(x0, requires_grad=True)
            y = x
            for _ in range(blocks):
                y = np.tanh(np.sin(y * c1) + c2)
            y.sum().backward()
            return [x.grad]

    elif lib == "compiled":

        def chain(x: Any) -> Any:
            y = x
            for _ in range(blocks):
                y = np.tanh(np.sin(y * c1) + c2)
            return np.sum(y)

        fast = _traced(cr.compile(cr.value_and_grad(chain)), x0)

        def step() -> list:
            _, g = fast(x0)
            return [g]

    elif lib == "torch":
        import torch

        def step() -> list:
            x = torch.tensor(x0, requires_grad=True)
            y = x
            for _ in range(blocks):
                y = torch.tanh(torch.sin(y * c1) + c2)
            y.sum().backward()
            return [x.grad]

    else:
        import autograd
        import autograd.numpy as anp

        def f(x: Any) -> Any:
            y = x
            for _ in range(blocks):
                y = anp.tanh(anp.sin(y * c1) + c2)
            return anp.sum(y)

        df = autograd.grad(f)

        def step() -> list:
            return [df(x0)]

    return step


# ------------------------------------------------------------------------------------------
# the seed notebook's network: 2-3-1 ReLU, MSE, column vectors, one SGD step


def _mlp_seed_params() -> list:
    r = _rng(1)
    return [r.standard_normal((3, 2)), r.standard_normal((3, 1)),
            r.standard_normal((1, 3)), r.standard_normal((1, 1))]


def _mlp_seed(lib: str, size: dict) -> Step:
    x = np.array([[1.0], [2.0]])
    y = np.array([[0.5]])
    lr = 0.01
    params = [p.copy() for p in _mlp_seed_params()]

    if lib == "numpy":
        w1, b1, w2, b2 = params

        def step() -> list:
            z1 = w1 @ x + b1
            a1 = np.maximum(0, z1)
            z2 = w2 @ a1 + b2
            dz2 = z2 - y  # loss = 0.5 * sum((z2 - y)**2)
            dw2 = dz2 @ a1.T
            db2 = dz2
            dz1 = (w2.T @ dz2) * (z1 > 0)
            dw1 = dz1 @ x.T
            db1 = dz1
            grads = [dw1, db1, dw2, db2]
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return grads

    elif lib == "chainrule":
        import chainrule.nn.functional as F

        ps = [cr.tensor(p, requires_grad=True) for p in params]
        w1, b1, w2, b2 = ps

        def step() -> list:
            for p in ps:
                p.grad = None
            a1 = F.relu(w1 @ x + b1)
            z2 = w2 @ a1 + b2
            loss = 0.5 * np.sum((z2 - y) ** 2)
            loss.backward()
            with cr.no_grad():
                for p in ps:
                    p -= lr * p.grad
            return [p.grad for p in ps]

    elif lib == "compiled":

        def loss(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
            z1 = w1 @ x + b1
            a1 = np.maximum(0, z1)
            z2 = w2 @ a1 + b2
            return 0.5 * np.sum((z2 - y) ** 2)

        fast = _traced(cr.compile(cr.value_and_grad(loss, argnums=(0, 1, 2, 3))), *params)

        def step() -> list:
            _, grads = fast(*params)
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return list(grads)

    elif lib == "torch":
        import torch

        ps = [torch.tensor(p, requires_grad=True) for p in params]
        w1, b1, w2, b2 = ps
        xt, yt = torch.tensor(x), torch.tensor(y)

        def step() -> list:
            for p in ps:
                p.grad = None
            z1 = w1 @ xt + b1
            a1 = torch.relu(z1)
            z2 = w2 @ a1 + b2
            loss = 0.5 * torch.sum((z2 - yt) ** 2)
            loss.backward()
            with torch.no_grad():
                for p in ps:
                    p -= lr * p.grad
            return [p.grad for p in ps]

    else:
        import autograd
        import autograd.numpy as anp

        def loss(ps: list) -> Any:
            w1, b1, w2, b2 = ps
            z1 = w1 @ x + b1
            a1 = anp.maximum(0, z1)
            z2 = w2 @ a1 + b2
            return 0.5 * anp.sum((z2 - y) ** 2)

        dloss = autograd.grad(loss)

        def step() -> list:
            grads = dloss(params)
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return grads

    return step


# ------------------------------------------------------------------------------------------
# MLP 784-256-10, ReLU, softmax cross-entropy, one SGD step


def _mlp(lib: str, size: dict) -> Step:
    n_in, n_hid, n_out, batch = size["n_in"], size["n_hid"], size["n_out"], size["batch"]
    dt = np.dtype(size["dtype"])
    r = _rng(2)
    x = r.standard_normal((batch, n_in)).astype(dt)
    labels = r.integers(0, n_out, batch)
    rows = np.arange(batch)
    params = [(r.standard_normal((n_in, n_hid)) / np.sqrt(n_in)).astype(dt),
              np.zeros(n_hid, dt),
              (r.standard_normal((n_hid, n_out)) / np.sqrt(n_hid)).astype(dt),
              np.zeros(n_out, dt)]
    lr = 0.1

    if lib == "numpy":
        w1, b1, w2, b2 = params

        def step() -> list:
            h = x @ w1 + b1
            a = np.maximum(h, 0)
            z = a @ w2 + b2
            m = z.max(axis=1, keepdims=True)
            e = np.exp(z - m)
            s = e.sum(axis=1, keepdims=True)
            loss = np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, labels])  # noqa: F841
            # loss = -mean(log softmax(z)[rows, labels]); its gradient wrt z:
            dz = e / s
            dz[rows, labels] -= 1
            dz /= batch
            dw2 = a.T @ dz
            db2 = dz.sum(axis=0)
            dh = (dz @ w2.T) * (h > 0)
            dw1 = x.T @ dh
            db1 = dh.sum(axis=0)
            grads = [dw1, db1, dw2, db2]
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return grads

    elif lib == "chainrule":
        import chainrule.nn.functional as F

        ps = [cr.tensor(p, requires_grad=True) for p in params]
        w1, b1, w2, b2 = ps

        def step() -> list:
            for p in ps:
                p.grad = None
            a = F.relu(x @ w1 + b1)
            loss = F.cross_entropy(a @ w2 + b2, labels)
            loss.backward()
            with cr.no_grad():
                for p in ps:
                    p -= lr * p.grad
            return [p.grad for p in ps]

    elif lib == "compiled":
        # the loss in plain NumPy; the batch and the labels are arguments (a captured array
        # is compared with its traced copy on every call)

        def loss(w1: Any, b1: Any, w2: Any, b2: Any, x: Any, labels: Any) -> Any:
            a = np.maximum(x @ w1 + b1, 0)
            z = a @ w2 + b2
            z = z - z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            return -np.mean(logp[rows, labels])

        fast = _traced(cr.compile(cr.value_and_grad(loss, argnums=(0, 1, 2, 3))), *params, x,
                       labels)

        def step() -> list:
            _, grads = fast(*params, x, labels)
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return list(grads)

    elif lib == "torch":
        import torch
        import torch.nn.functional as F

        ps = [torch.tensor(p, requires_grad=True) for p in params]
        w1, b1, w2, b2 = ps
        xt, yt = torch.tensor(x), torch.tensor(labels)

        def step() -> list:
            for p in ps:
                p.grad = None
            a = torch.relu(xt @ w1 + b1)
            loss = F.cross_entropy(a @ w2 + b2, yt)
            loss.backward()
            with torch.no_grad():
                for p in ps:
                    p -= lr * p.grad
            return [p.grad for p in ps]

    else:
        import autograd
        import autograd.numpy as anp

        def loss(ps: list) -> Any:
            w1, b1, w2, b2 = ps
            a = anp.maximum(x @ w1 + b1, 0)
            z = a @ w2 + b2
            z = z - anp.max(z, axis=1, keepdims=True)
            logp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
            return -anp.mean(logp[rows, labels])

        dloss = autograd.grad(loss)

        def step() -> list:
            grads = dloss(params)
            for p, g in zip(params, grads, strict=True):
                p -= lr * g
            return grads

    return step


# ------------------------------------------------------------------------------------------
# a deep network: layers of tanh(x @ W), loss = sum of the output, gradients of every W


def _deep(lib: str, size: dict) -> Step:
    depth, width, batch = size["depth"], size["width"], size["batch"]
    dt = np.dtype(size["dtype"])
    r = _rng(3)
    x = r.standard_normal((batch, width)).astype(dt)
    ws = [(r.standard_normal((width, width)) / np.sqrt(width)).astype(dt) for _ in range(depth)]

    if lib == "numpy":

        def step() -> list:
            hs = [x]
            h = x
            for w in ws:
                h = np.tanh(h @ w)
                hs.append(h)
            g = np.ones_like(h)
            grads: list = [None] * depth
            for i in range(depth - 1, -1, -1):
                t = hs.pop()  # the layer's output, dropped once used
                g = g * (1 - t * t)
                grads[i] = hs[-1].T @ g
                if i:
                    g = g @ ws[i].T
            return grads

    elif lib == "chainrule":
        ps = [cr.tensor(w, requires_grad=True) for w in ws]

        def step() -> list:
            for p in ps:
                p.grad = None
            h = x
            for w in ps:
                h = np.tanh(h @ w)
            h.sum().backward()
            return [p.grad for p in ps]

    elif lib == "compiled":

        def loss(ws: list, x: Any) -> Any:
            h = x
            for w in ws:
                h = np.tanh(h @ w)
            return np.sum(h)

        fast = _traced(cr.compile(cr.value_and_grad(loss)), ws, x)

        def step() -> list:
            _, grads = fast(ws, x)
            return list(grads)

    elif lib == "torch":
        import torch

        ps = [torch.tensor(w, requires_grad=True) for w in ws]
        xt = torch.tensor(x)

        def step() -> list:
            for p in ps:
                p.grad = None
            h = xt
            for w in ps:
                h = torch.tanh(h @ w)
            h.sum().backward()
            return [p.grad for p in ps]

    else:
        import autograd
        import autograd.numpy as anp

        def loss(ps: list) -> Any:
            h = x
            for w in ps:
                h = anp.tanh(h @ w)
            return anp.sum(h)

        dloss = autograd.grad(loss)

        def step() -> list:
            return dloss(ws)

    return step


# ------------------------------------------------------------------------------------------
# Hessian-vector product of the Rosenbrock function


def _hvp(lib: str, size: dict) -> Step:
    n = size["n"]
    r = _rng(4)
    x0 = r.uniform(-1.5, 1.5, n)
    v0 = r.standard_normal(n)

    if lib == "numpy":

        def step() -> list:
            a, b = x0[:-1], x0[1:]
            va, vb = v0[:-1], v0[1:]
            d = b - a * a
            dd = vb - 2 * a * va  # directional derivative of d
            hv = np.zeros(n)
            hv[:-1] = -400 * (dd * a + d * va) + 2 * va
            hv[1:] += 200 * dd
            return [hv]

    elif lib == "chainrule":

        def rosen(x: Any) -> Any:
            a, b = x[:-1], x[1:]
            return np.sum(100.0 * (b - a**2) ** 2 + (1 - a) ** 2)

        def step() -> list:
            return [cr.hvp(rosen, x0, v0)]

    elif lib == "compiled":

        def rosen_c(x: Any) -> Any:
            a, b = x[:-1], x[1:]
            return np.sum(100.0 * (b - a**2) ** 2 + (1 - a) ** 2)

        fast = _traced(cr.compile(lambda x, v: cr.hvp(rosen_c, x, v)), x0, v0)

        def step() -> list:
            return [fast(x0, v0)]

    elif lib == "torch":
        import torch

        xt0, vt = torch.tensor(x0), torch.tensor(v0)

        def step() -> list:
            x = xt0.clone().requires_grad_(True)
            a, b = x[:-1], x[1:]
            f = torch.sum(100.0 * (b - a**2) ** 2 + (1 - a) ** 2)
            (g,) = torch.autograd.grad(f, x, create_graph=True)
            (hv,) = torch.autograd.grad(g, x, grad_outputs=vt)
            return [hv]

    else:
        import autograd
        import autograd.numpy as anp

        def rosen(x: Any) -> Any:
            a, b = x[:-1], x[1:]
            return anp.sum(100.0 * (b - a**2) ** 2 + (1 - a) ** 2)

        hvp = autograd.hessian_vector_product(rosen)

        def step() -> list:
            return [hvp(x0, v0)]

    return step


# ------------------------------------------------------------------------------------------
# the Jacobian of f(x) = tanh(A x) + x**2 / 2, R^n -> R^n, in reverse and forward mode


def _jac_data(n: int) -> tuple:
    r = _rng(5)
    return r.standard_normal((n, n)) / np.sqrt(n), r.standard_normal(n)


def _jacobian(mode: str) -> Callable[[str, dict], Step]:
    def build(lib: str, size: dict) -> Step:
        A, x0 = _jac_data(size["n"])

        if lib == "numpy":

            def step() -> list:
                t = np.tanh(A @ x0)
                J = (1 - t * t)[:, None] * A
                J[np.diag_indices_from(J)] += x0
                return [J]

        elif lib == "chainrule":

            def f(x: Any) -> Any:
                return np.tanh(A @ x) + 0.5 * x**2

            jac = cr.jacobian(f) if mode == "rev" else cr.jacfwd(f)

            def step() -> list:
                return [jac(x0)]

        elif lib == "compiled":

            def f(x: Any) -> Any:
                return np.tanh(A @ x) + 0.5 * x**2

            fast = _traced(cr.compile(cr.jacobian(f) if mode == "rev" else cr.jacfwd(f)), x0)

            def step() -> list:
                return [fast(x0)]

        elif lib == "torch":
            import torch

            At, xt = torch.tensor(A), torch.tensor(x0)

            def f(x: Any) -> Any:
                return torch.tanh(At @ x) + 0.5 * x**2

            if mode == "rev":

                def step() -> list:
                    return [torch.autograd.functional.jacobian(f, xt)]
            else:
                # eager forward mode: one dual-number pass per input direction (the
                # vmap-batched torch.func.jacfwd is a different, compiled-style transform)
                import torch.autograd.forward_ad as fwAD

                eye = torch.eye(len(x0), dtype=xt.dtype)

                def step() -> list:
                    cols = []
                    with fwAD.dual_level():
                        for e in eye:
                            y = f(fwAD.make_dual(xt, e))
                            cols.append(fwAD.unpack_dual(y).tangent)
                    return [torch.stack(cols, dim=1)]

        else:
            import autograd
            import autograd.numpy as anp

            def f(x: Any) -> Any:
                return anp.tanh(A @ x) + 0.5 * x**2

            if mode == "rev":
                jac = autograd.jacobian(f)

                def step() -> list:
                    return [jac(x0)]
            else:
                jvp = autograd.make_jvp(f)
                eye = np.eye(len(x0))

                def step() -> list:
                    push = jvp(x0)
                    return [np.stack([push(e)[1] for e in eye], axis=1)]

        return step

    return build


# ------------------------------------------------------------------------------------------

OPS = 1000


def _mlp_case(batch: int, dtype: str) -> Case:
    bits = "64" if dtype == "float64" else "32"
    return Case(
        f"mlp784_b{batch}_f{bits}",
        f"MLP 784-256-10 softmax CE, batch {batch}, {dtype}, SGD step",
        "step",
        _mlp,
        full=dict(n_in=784, n_hid=256, n_out=10, batch=batch, dtype=dtype),
        quick=dict(n_in=12, n_hid=8, n_out=5, batch=4, dtype=dtype),
        rtol=1e-9 if dtype == "float64" else 2e-4,
    )

# ------------------------------------------------------------------------------------------
# the same MLP as an nn model: Sequential(Linear, ReLU, Linear), CrossEntropyLoss, optim.SGD


def _nn_mlp(lib: str, size: dict) -> Step:
    if lib == "numpy":
        return _mlp("numpy", size)  # the same weights, the same step, written by hand
    n_in, n_hid, n_out, batch = size["n_in"], size["n_hid"], size["n_out"], size["batch"]
    dt = np.dtype(size["dtype"])
    r = _rng(2)
    x = r.standard_normal((batch, n_in)).astype(dt)
    labels = r.integers(0, n_out, batch)
    params = [(r.standard_normal((n_in, n_hid)) / np.sqrt(n_in)).astype(dt),
              np.zeros(n_hid, dt),
              (r.standard_normal((n_hid, n_out)) / np.sqrt(n_hid)).astype(dt),
              np.zeros(n_out, dt)]
    # nn.Linear keeps weight as (out, in): the hand step's matrices transposed
    state = {"0.weight": params[0].T.copy(), "0.bias": params[1],
             "2.weight": params[2].T.copy(), "2.bias": params[3]}
    lr = 0.1

    if lib in ("chainrule", "compiled"):
        nn, optim = cr.nn, cr.optim
        model = nn.Sequential(nn.Linear(n_in, n_hid, dtype=dt), nn.ReLU(),
                              nn.Linear(n_hid, n_out, dtype=dt))
        model.load_state_dict({k: cr.tensor(v) for k, v in state.items()})
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=lr)
        run = model
        if lib == "compiled":
            run = cr.compile(model)
            xc = x.copy()
            run(xc)  # traced here, at build time (the forward and its backward)
            loss_fn(run(xc), labels).backward()
            opt.zero_grad()
        ps = list(model.parameters())

        def step() -> list:
            opt.zero_grad()
            loss = loss_fn(run(x), labels)
            loss.backward()
            opt.step()
            return [np.asarray(ps[0].grad).T, np.asarray(ps[1].grad),
                    np.asarray(ps[2].grad).T, np.asarray(ps[3].grad)]

    else:
        import torch

        model = torch.nn.Sequential(torch.nn.Linear(n_in, n_hid), torch.nn.ReLU(),
                                    torch.nn.Linear(n_hid, n_out)).to(
            torch.float64 if dt == np.float64 else torch.float32)
        model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        loss_fn = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        xt, yt = torch.tensor(x), torch.tensor(labels)
        ps = list(model.parameters())

        def step() -> list:
            opt.zero_grad()
            loss = loss_fn(model(xt), yt)
            loss.backward()
            opt.step()
            return [ps[0].grad.numpy().T, ps[1].grad.numpy(), ps[2].grad.numpy().T,
                    ps[3].grad.numpy()]

    return step


CASES: list[Case] = [
    Case("overhead", f"one elementwise op, shape (1,), fwd+bwd (chain of {OPS})", "op", _chain,
         full=dict(ops=OPS), quick=dict(ops=16), per=lambda s: s["ops"]),
    Case("mlp231", "MLP 2-3-1 (the seed's network), batch 1, SGD step", "step", _mlp_seed,
         full={}, quick={}),
    _mlp_case(64, "float64"),
    _mlp_case(64, "float32"),
    _mlp_case(512, "float64"),
    _mlp_case(512, "float32"),
    Case("nn784", "nn MLP 784-256-10 + CrossEntropyLoss, module + SGD step, batch 64, float32",
         "step", _nn_mlp, full=dict(n_in=784, n_hid=256, n_out=10, batch=64, dtype="float32"),
         quick=dict(n_in=12, n_hid=8, n_out=5, batch=4, dtype="float32"), rtol=2e-4,
         libs=("numpy", "chainrule", "compiled", "torch")),
    Case("deep200", "deep net, 200 x tanh(x W), width 512, batch 256, float32", "step",
         _deep, full=dict(depth=200, width=512, batch=256, dtype="float32"),
         quick=dict(depth=6, width=16, batch=4, dtype="float32"), memory=True, rtol=2e-4,
         reps=3, min_block=0.0),
    Case("hvp", "Hessian-vector product of Rosenbrock, n = 10^6", "call", _hvp,
         full=dict(n=10**6), quick=dict(n=50), rtol=1e-9, reps=7, min_block=0.2),
    Case("jac_rev", "Jacobian R^100 -> R^100, reverse mode", "call", _jacobian("rev"),
         full=dict(n=100), quick=dict(n=6), rtol=1e-9),
    Case("jac_fwd", "Jacobian R^100 -> R^100, forward mode", "call", _jacobian("fwd"),
         full=dict(n=100), quick=dict(n=6), rtol=1e-9),
]

# targets for chainrule, as ratios to hand NumPy (medians); besides these, no case may be
# slower than PyTorch eager or autograd
TARGETS: list[tuple[str, str, float]] = [
    ("overhead", "time", 1.6),
    ("mlp231", "time", 2.0),
    ("mlp784_b64_f64", "time", 1.10),
    ("mlp784_b64_f32", "time", 1.10),
    ("mlp784_b512_f64", "time", 1.10),
    ("mlp784_b512_f32", "time", 1.10),
    ("deep200", "memory", 1.2),
]

# targets for chainrule compiled (the "compiled" column), ratios to hand NumPy (medians);
# the MLP 784 one is for the plain-NumPy loss under cr.compile(cr.value_and_grad(...))
COMPILED_TARGETS: list[tuple[str, str, float]] = [
    ("overhead", "time", 1.1),
    ("mlp231", "time", 1.3),
    ("mlp784_b64_f32", "time", 1.05),
    ("nn784", "time", 1.10),
]
