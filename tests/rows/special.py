"""Rows for ops/special.py: logsumexp, softmax, log_softmax (cr.numpy / top level), i0, i1."""

import numpy as np

import chainrule as cr
from chainrule.ops import special as SP
from harness import Row

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

ROWS = []


def tf(f):
    return f if torch is not None else None


def add(prim, fn, shapes, **kw):
    ROWS.append(Row(prim, fn, shapes, **kw))


LSE = cr.numpy.logsumexp
add("logsumexp", LSE, [(3, 4)], torch_fn=tf(lambda x: torch.logsumexp(x, (0, 1))),
    id="logsumexp-all")
add("logsumexp", lambda x: LSE(x, axis=1), [(3, 4)],
    torch_fn=tf(lambda x: torch.logsumexp(x, 1)), id="logsumexp-axis")
add("logsumexp", lambda x: cr.logsumexp(x, axis=(0, -1), keepdims=True), [(2, 3, 2)],
    torch_fn=tf(lambda x: torch.logsumexp(x, (0, -1), keepdim=True)), id="logsumexp-tuple")
add("logsumexp", LSE, [()], id="logsumexp-0d")
add("logsumexp", lambda x: LSE(x, axis=0), [(3, 2)], low=700.0, high=705.0,
    torch_fn=tf(lambda x: torch.logsumexp(x, 0)), id="logsumexp-large")
add("logsumexp", lambda x: LSE(x, axis=0), [(3,)], dtype=np.complex128, order=1,
    id="logsumexp-complex")
add("exp", lambda x, b: LSE(x, axis=1, b=b), [(2, 3), (3,)], low=0.5, high=2.0,
    id="logsumexp-b")
add("exp", lambda x, b: LSE(x, b=b, return_sign=True)[0], [(4,), (4,)],
    args=lambda rng: [rng.uniform(-1, 1, 4), np.array([1.0, -2.0, 0.5, -0.25])],
    id="logsumexp-return-sign")
add("softmax", lambda x: cr.numpy.softmax(x, axis=-1), [(3, 4)],
    torch_fn=tf(lambda x: torch.softmax(x, -1)), id="softmax-last")
add("softmax", lambda x: cr.softmax(x, axis=0), [(3, 4)],
    torch_fn=tf(lambda x: torch.softmax(x, 0)), id="softmax-axis0")
add("softmax", cr.softmax, [(2, 3)], torch_fn=tf(lambda x: torch.softmax(x.reshape(-1), 0)
                                                   .reshape(2, 3)), id="softmax-all")
add("softmax", lambda x: cr.softmax(x, axis=1), [(2, 3)], low=-800.0, high=-795.0,
    torch_fn=tf(lambda x: torch.softmax(x, 1)), id="softmax-shifted")
add("log_softmax", lambda x: cr.numpy.log_softmax(x, axis=-1), [(3, 4)],
    torch_fn=tf(lambda x: torch.log_softmax(x, -1)), id="log_softmax-last")
add("log_softmax", lambda x: cr.log_softmax(x, axis=(0, 1)), [(2, 3, 2)],
    id="log_softmax-tuple")
add("log_softmax", cr.log_softmax, [(4,)], low=500.0, high=510.0,
    torch_fn=tf(lambda x: torch.log_softmax(x, 0)), id="log_softmax-large")

# Bessel: i0 through np.i0 (dispatch), i1 from chainrule.ops.special
add("i0", np.i0, [(5,)], low=-4.0, high=4.0, torch_fn=tf(lambda x: torch.special.i0(x)),
    id="i0")
add("i0", np.i0, [()], id="i0-0d")
add("i0", np.i0, [(3,)], args=lambda rng: [np.array([0.0, -1e-3, 0.5])],
    torch_fn=tf(lambda x: torch.special.i0(x)), id="i0-near-zero")
add("i0", np.i0, [(2,)], args=lambda rng: [np.array([26.5, -28.0])],
    torch_fn=tf(lambda x: torch.special.i0(x)), id="i0-large")
add("inu_scaled", SP.i1, [(5,)], low=-4.0, high=4.0, torch_fn=tf(lambda x: torch.special.i1(x)),
    id="i1")
add("inu_scaled", SP.i1, [(3,)], args=lambda rng: [np.array([0.0, 1e-3, -0.5])],
    torch_fn=tf(lambda x: torch.special.i1(x)), id="i1-near-zero")
add("inu_scaled", SP.i1, [(2,)], args=lambda rng: [np.array([28.0, -31.0])],
    torch_fn=tf(lambda x: torch.special.i1(x)), id="i1-large")
add("inu_scaled", lambda x: SP.inu_scaled(x, nu=3), [(4,)], low=-3.0, high=3.0,
    id="inu_scaled-nu3")

# --- special points (tests/test_special_points.py): infinities in logsumexp -------------
from harness import Point

INF = np.inf


def _lse_inf_weights(u, x):
    """logsumexp's weights where the maximum of a row is +-inf: the +inf entries share."""
    pos = np.isposinf(x)
    return u[:, None] * pos / np.maximum(pos.sum(axis=1, keepdims=True), 1)


add("logsumexp", lambda x: LSE(x, axis=1), [(3, 3)], id="logsumexp-infinities", points=[
    # -inf entries beside finite ones: weight 0, a smooth function of the finite ones
    Point([np.array([[-INF, 1.0, 0.5], [0.2, -INF, -INF]])], id="-inf-entries"),
    # a row holding +inf gives its weight to its +inf entries; all -inf: 0
    Point([np.array([[INF, 1.0, -INF], [INF, INF, 2.0], [-INF, -INF, -INF]])], smooth=0,
          expect={1: _lse_inf_weights, 2: 0.0, 3: 0.0}, id="infinite-rows",
          not_jax={1: "JAX: NaN (inf - inf)", 2: "NaN", 3: "NaN"})])
for _r in ROWS:
    if _r.name == "i0-near-zero":
        _r.points.append(Point([np.array([0.0, 1e-3, -0.5])], id="0", not_jax={
            2: "JAX 0.10.2: i0''(0) = 0, the truth 1/2 (I0 = 1 + x^2/4 + ...)",
            3: "the same i1'(0) = 0"}))
