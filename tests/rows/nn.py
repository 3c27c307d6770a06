"""Rows for the primitives of chainrule.nn (nn/primitives.py): erf, the conv2d trio and max pooling.

The conv rows cover stride, padding, dilation and groups; the conv gradient primitives and
the pooling scatter/gather are checked directly as well, because they are differentiated
again at second order.
"""

import numpy as np

from harness import Row
from chainrule.nn import functional as F
from chainrule.nn import primitives as ops

try:
    import torch
    import torch.nn.grad as tgrad
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = None

ROWS = []

for s in [(5,), ()]:
    ROWS.append(Row("erf", F.erf, [s], torch_fn=torch.special.erf if torch else None,
                    id=f"erf{list(s)}"))
ROWS.append(Row("erf", lambda x: F.gelu(x), [(6,)], torch_fn=TF.gelu if torch else None,
                id="gelu-exact"))

# (x shape, w shape, stride, padding, dilation, groups)
CONVS = [
    ((2, 2, 4, 4), (3, 2, 3, 3), 1, 1, 1, 1),
    ((1, 2, 6, 5), (2, 2, 2, 3), (2, 1), (1, 0), (2, 1), 1),
    ((1, 4, 4, 3), (4, 2, 2, 2), 1, 0, 1, 2),
]


def _pp(p):
    return (p, p) if isinstance(p, int) else p


def _kw(s, p, d, g):
    ph, pw = _pp(p)
    return dict(stride=_pp(s), padding=((ph, ph), (pw, pw)), dilation=_pp(d), groups=g)


for xs, ws, s, p, d, g in CONVS:
    tag = f"{list(xs)}{list(ws)}s{s}p{p}d{d}g{g}"
    ROWS.append(Row(
        "conv2d", lambda x, w, s=s, p=p, d=d, g=g: F.conv2d(x, w, None, s, p, d, g), [xs, ws],
        torch_fn=(lambda x, w, s=s, p=p, d=d, g=g: TF.conv2d(x, w, None, s, p, d, g))
        if torch else None, id="conv2d" + tag))
    ys = np.shape(F.conv2d(np.zeros(xs), np.zeros(ws), None, s, p, d, g))
    kw = _kw(s, p, d, g)
    ROWS.append(Row(
        "conv2d_input_grad",
        lambda gy, w, xs=xs, kw=kw: ops.conv2d_input_grad(gy, w, x_shape=xs, **kw), [ys, ws],
        torch_fn=(lambda gy, w, xs=xs, s=s, p=p, d=d, g=g:
                  tgrad.conv2d_input(xs, w, gy, _pp(s), _pp(p), _pp(d), g)) if torch else None,
        id="conv2d_input_grad" + tag))
    ROWS.append(Row(
        "conv2d_weight_grad",
        lambda x, gy, ws=ws, kw=kw: ops.conv2d_weight_grad(x, gy, w_shape=ws, **kw), [xs, ys],
        torch_fn=(lambda x, gy, ws=ws, s=s, p=p, d=d, g=g:
                  tgrad.conv2d_weight(x, ws, gy, _pp(s), _pp(p), _pp(d), g)) if torch else None,
        id="conv2d_weight_grad" + tag))

# (x shape, kernel, stride, padding, dilation, ceil_mode)
POOLS = [
    ((2, 2, 4, 4), 2, None, 0, 1, False),
    ((1, 2, 5, 5), 3, 2, 1, 1, True),
    ((1, 1, 6, 5), (2, 3), (1, 2), (1, 0), (2, 1), False),
]
for xs, k, s, p, d, c in POOLS:
    tag = f"{list(xs)}k{k}s{s}p{p}d{d}c{int(c)}"
    ROWS.append(Row(
        "max_pool2d", lambda x, k=k, s=s, p=p, d=d, c=c: F.max_pool2d(x, k, s, p, d, c), [xs],
        torch_fn=(lambda x, k=k, s=s, p=p, d=d, c=c: TF.max_pool2d(x, k, s, p, d, c))
        if torch else None, id="max_pool2d" + tag))
    kw = dict(kernel=_pp(k), stride=_pp(k if s is None else s), padding=_pp(p), dilation=_pp(d),
              ceil_mode=c)
    x0 = np.random.default_rng(3).uniform(-2, 2, xs)
    idx = ops._pool_argmax(x0, **kw)
    ROWS.append(Row(
        "max_pool2d_scatter",
        lambda gy, idx=idx, xs=xs, kw=kw: ops.max_pool2d_scatter(gy, idx=idx, x_shape=xs, **kw),
        [idx.shape], id="max_pool2d_scatter" + tag))
    ROWS.append(Row(
        "max_pool2d_gather",
        lambda gx, idx=idx, xs=xs, kw=kw: ops.max_pool2d_gather(gx, idx=idx, x_shape=xs, **kw),
        [xs], id="max_pool2d_gather" + tag))

for s in [(2, 3), ()]:
    ROWS.append(Row("relu", F.relu, [s], torch_fn=torch.relu if torch else None,
                    id=f"relu{list(s)}"))

for xs in [(4, 3), (3,), (2, 2, 3)]:
    ROWS.append(Row("linear", F.linear, [xs, (5, 3)], torch_fn=TF.linear if torch else None,
                    id=f"linear{list(xs)}"))

# the fused softmax cross-entropy (F.cross_entropy with integer targets): plain, weighted with
# an ignored target and label smoothing, every reduction, spatial (N, C, d) and unbatched
_CE_T = np.array([2, 0, 3, 1, -100])
_CE_W = np.array([0.5, 2.0, 1.0, 1.5])
_CE_CASES = [
    ("mean", dict(), (5, 4), np.array([2, 0, 3, 1, 1])),
    ("sum-weighted-ignore-smooth", dict(weight=_CE_W, reduction="sum", label_smoothing=0.2),
     (5, 4), _CE_T),
    ("mean-weighted-ignore-smooth", dict(weight=_CE_W, label_smoothing=0.1), (5, 4), _CE_T),
    ("none-smooth", dict(reduction="none", label_smoothing=0.3), (5, 4), np.array([2, 0, 3, 1, 1])),
    ("spatial", dict(), (2, 3, 2), np.array([[0, 2], [1, 1]])),
    ("unbatched", dict(), (4,), np.array(1)),
]
for tag, kw, xs, t in _CE_CASES:
    ROWS.append(Row(
        "softmax_cross_entropy", lambda x, t=t, kw=kw: F.cross_entropy(x, t, **kw), [xs],
        torch_fn=(lambda x, t=t, kw=kw: TF.cross_entropy(
            x, torch.tensor(t), **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                   for k, v in kw.items()})) if torch else None,
        id="softmax_cross_entropy-" + tag))

# --- special points (tests/test_special_points.py) ------------------------------------
from harness import Point


def _first_in_window(u, x):
    """max_pool2d (kernel 2, stride 2) of a constant input: each window's first element
    takes the window's cotangent (PyTorch's argmax), the tied others 0."""
    d = np.zeros(x.shape)
    d[..., ::2, ::2] = u
    return d


for _r in ROWS:
    if _r.name == "relu[2, 3]":
        _r.points.append(Point([np.array([0.0, 1.0, -1.0])], smooth=0, id="0",
                               expect={1: lambda u, x: u * (x > 0), 2: 0.0, 3: 0.0},
                               not_jax={1: "JAX runs relu's forward, np.maximum(x, 0): a tie "
                                           "at 0 shares 1/2; relu's slope at 0 is 0 (PyTorch)"}))
    if _r.name == "max_pool2d[2, 2, 4, 4]k2sNonep0d1c0":
        _r.points.append(Point([np.zeros((1, 1, 4, 4))], smooth=0, id="all-tied",
                               expect={1: _first_in_window, 2: 0.0, 3: 0.0}))
