"""Rows for ops/reduce.py and ops/norms.py: reductions, scans, quantiles, norms.

Every row calls NumPy as a user would (np.NAME on Tensors).  Rows with deliberately
tied inputs (max/min/median at two-way ties, norms at 0) are first-order only: the
function has a kink there, and the row checks the library's subgradient choice
(a two-way tie is where the shared gradient equals the central difference; wider
ties and quantile's tie rule are checked against PyTorch in test_reduce_extra.py).
"""

import numpy as np

from harness import Row

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

ROWS = []


def tf(f):
    """A torch reference, or None when torch is missing."""
    return f if torch is not None else None


def fixed(*arrays):
    return lambda rng: [np.array(a, dtype=float) for a in arrays]


def add(prim, fn, shapes, **kw):
    ROWS.append(Row(prim, fn, shapes, **kw))


# --- sum / mean / average -----------------------------------------------------------
add("sum", np.sum, [(3, 4)], torch_fn=tf(lambda x: torch.sum(x)), id="sum-all")
add("sum", lambda x: np.sum(x, axis=0), [(3, 4)], torch_fn=tf(lambda x: torch.sum(x, 0)),
    id="sum-axis0")
add("sum", lambda x: np.sum(x, axis=-1, keepdims=True), [(2, 3, 4)],
    torch_fn=tf(lambda x: torch.sum(x, -1, keepdim=True)), id="sum-neg-keepdims")
add("sum", lambda x: np.sum(x, axis=(0, 2)), [(2, 3, 4)],
    torch_fn=tf(lambda x: torch.sum(x, (0, 2))), id="sum-tuple")
add("sum", np.sum, [()], id="sum-0d")
add("sum", lambda x: np.add.reduce(x, axis=1), [(3, 4)], id="sum-add.reduce")
add("sum", lambda x: x.sum(axis=1) ** 2, [(3, 4)], id="sum-method")
add("sum", lambda x: np.sum(x, axis=1, where=np.array([True, False, True, True]), initial=2.0),
    [(3, 4)], id="sum-where-initial")
add("sum", lambda x: np.mean(x), [(3, 4)], torch_fn=tf(lambda x: torch.mean(x)), id="mean-all")
add("sum", lambda x: np.mean(x, axis=(0, -1), keepdims=True), [(2, 3, 4)],
    torch_fn=tf(lambda x: torch.mean(x, (0, -1), keepdim=True)), id="mean-tuple-keepdims")
add("sum", lambda x: np.mean(x, axis=1, where=np.array([[True, False, True]] * 2)), [(2, 3)],
    id="mean-where")
add("sum", np.mean, [()], id="mean-0d")
add("sum", lambda x, w: np.average(x, axis=1, weights=w), [(3, 4), (4,)], low=0.5, high=2.0,
    id="average-weights")
add("sum", lambda x, w: np.average(x, axis=(0, 2), weights=w), [(2, 3, 4), (2, 4)],
    low=0.5, high=2.0, id="average-weights-tuple")
add("sum", lambda x, w: np.average(x, weights=w, returned=True)[1] * np.average(x, weights=w),
    [(3, 2), (3, 2)], low=0.5, high=2.0, id="average-returned")
add("sum", lambda x: np.average(x, axis=0), [(3, 2)], id="average-plain")

# --- var / std ------------------------------------------------------------------------
add("sum", np.var, [(3, 4)], torch_fn=tf(lambda x: torch.var(x, correction=0)), id="var-all")
add("sum", lambda x: np.var(x, axis=0, ddof=1), [(3, 4)],
    torch_fn=tf(lambda x: torch.var(x, 0, correction=1)), id="var-ddof1")
add("sum", lambda x: np.var(x, axis=(0, 2), correction=1, keepdims=True), [(2, 3, 4)],
    torch_fn=tf(lambda x: torch.var(x, (0, 2), correction=1, keepdim=True)), id="var-correction")
add("sum", lambda x, m: np.var(x, axis=1, mean=m), [(3, 4), (3, 1)], id="var-mean-kwarg")
add("sum", np.std, [(3, 4)], torch_fn=tf(lambda x: torch.std(x, correction=0)), id="std-all")
add("sum", lambda x: np.std(x, axis=-1, ddof=1), [(3, 4)],
    torch_fn=tf(lambda x: torch.std(x, -1, correction=1)), id="std-ddof1")
add("sum", lambda x: np.var(x, axis=0), [(3,)], dtype=np.complex128, order=1,
    torch_fn=tf(lambda x: torch.var(x, 0, correction=0)), id="var-complex")
add("sum", lambda x: np.std(x, axis=1), [(2, 3)], order=1,
    args=fixed([[1.0, 1.0, 1.0], [0.0, 1.0, 3.0]]), id="std-zero-variance")

# --- max / min / ptp ---------------------------------------------------------------
add("max", np.max, [(3, 4)], torch_fn=tf(lambda x: torch.amax(x)), order=1, id="max-all")
add("max", lambda x: np.max(x, axis=0), [(3, 4)],
    torch_fn=tf(lambda x: torch.amax(x, 0)), id="max-axis0")
add("max", lambda x: np.amax(x, axis=(0, 2), keepdims=True), [(2, 3, 4)], order=1,
    torch_fn=tf(lambda x: torch.amax(x, (0, 2), keepdim=True)), id="amax-tuple-keepdims")
add("max", lambda x: np.min(x, axis=-1), [(3, 4)],
    torch_fn=tf(lambda x: torch.amin(x, -1)), id="min-neg")
add("max", lambda x: np.amin(x), [()], order=1, id="amin-0d")
add("max", lambda x: np.max(x, axis=1), [(2, 4)], order=1,
    args=fixed([[1.0, 3.0, 3.0, 0.5], [2.0, 2.0, 1.0, 0.0]]),
    torch_fn=tf(lambda x: torch.amax(x, 1)), id="max-ties")
add("max", lambda x: np.min(x, axis=0), [(3, 2)], order=1,
    args=fixed([[0.5, 1.0], [0.5, -1.0], [0.7, -1.0]]),
    torch_fn=tf(lambda x: torch.amin(x, 0)), id="min-ties")
add("max", lambda x: np.maximum.reduce(x, axis=0), [(3, 4)], order=1, id="max-maximum.reduce")
add("max", lambda x: np.max(x, axis=0, initial=0.0, where=np.array([True, False, True])),
    [(2, 3)], order=1, low=0.5, high=2.0, id="max-where-initial")
add("max", lambda x: np.ptp(x, axis=1), [(3, 4)], order=1, id="ptp-axis")
add("max", lambda x: np.ptp(x), [(3, 4)], order=1, id="ptp-all")
add("max", lambda x: np.ptp(x, axis=0, keepdims=True), [(2, 2)], order=1,
    args=fixed([[1.0, 2.0], [1.0, 3.0]]), id="ptp-constant-slice")

# --- prod -------------------------------------------------------------------------
add("prod", np.prod, [(3, 4)], low=0.5, high=1.5, torch_fn=tf(lambda x: torch.prod(x)),
    id="prod-all")
add("prod", lambda x: np.prod(x, axis=0), [(3, 4)], torch_fn=tf(lambda x: torch.prod(x, 0)),
    id="prod-axis0")
add("prod", lambda x: np.prod(x, axis=(0, 2), keepdims=True), [(2, 3, 2)], id="prod-tuple")
add("prod", np.prod, [()], id="prod-0d")
add("prod", lambda x: np.prod(x, axis=1), [(3, 4)],
    args=fixed([[0.0, 2.0, 3.0, -1.0], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, 0.5, 0.0]]),
    torch_fn=tf(lambda x: torch.prod(x, 1)), id="prod-zeros")
add("prod", lambda x: np.prod(x, axis=(0, 2)), [(3, 3, 2)],
    args=lambda rng: [np.where(np.arange(18).reshape(3, 3, 2) == 7, 0.0,
                               rng.uniform(0.5, 1.5, (3, 3, 2)))], id="prod-some-slices-zero")
add("prod", np.prod, [(4,)], args=fixed([1.5, 0.0, -2.0, 0.0]),
    torch_fn=tf(lambda x: torch.prod(x)), id="prod-two-zeros")
add("prod", lambda x: np.prod(x, axis=0), [(3,)], dtype=np.complex128, order=1, low=0.5,
    high=1.5, torch_fn=tf(lambda x: torch.prod(x, 0)), id="prod-complex")
add("prod", lambda x: np.nanprod(x, axis=0), [(3, 2)],
    args=fixed([[1.5, np.nan], [0.5, 2.0], [np.nan, -1.0]]), id="nanprod")

# --- cumsum / cumprod ---------------------------------------------------------------
add("cumsum", lambda x: np.cumsum(x, axis=0), [(3, 4)],
    torch_fn=tf(lambda x: torch.cumsum(x, 0)), id="cumsum-axis0")
add("cumsum", lambda x: np.cumsum(x, axis=-1), [(2, 3, 4)],
    torch_fn=tf(lambda x: torch.cumsum(x, -1)), id="cumsum-neg")
add("cumsum", np.cumsum, [(3, 4)], torch_fn=tf(lambda x: torch.cumsum(x.reshape(-1), 0)),
    id="cumsum-flat")
add("cumsum", np.cumsum, [()], id="cumsum-0d")
add("cumsum", lambda x: np.add.accumulate(x, axis=1), [(2, 3)], id="cumsum-add.accumulate")
add("cumsum", lambda x: np.cumulative_sum(x, axis=0, include_initial=True), [(3, 2)],
    id="cumulative_sum-initial")
add("cumsum", lambda x: np.nancumsum(x), [(4,)], args=fixed([1.0, np.nan, -2.0, 0.5]),
    id="nancumsum")
add("cumprod", lambda x: np.cumprod(x, axis=0), [(4, 3)], low=0.5, high=1.5,
    torch_fn=tf(lambda x: torch.cumprod(x, 0)), id="cumprod-axis0")
add("cumprod", lambda x: np.cumprod(x, axis=-1), [(2, 5)],
    torch_fn=tf(lambda x: torch.cumprod(x, -1)), id="cumprod-neg")
add("cumprod", np.cumprod, [(2, 3)], torch_fn=tf(lambda x: torch.cumprod(x.reshape(-1), 0)),
    id="cumprod-flat")
add("cumprod", np.cumprod, [()], id="cumprod-0d")
add("cumprod", lambda x: np.cumprod(x, axis=1), [(3, 6)],
    args=fixed([[0.0, 2.0, -1.5, 0.5, 3.0, 1.2], [1.5, -2.0, 0.0, 0.5, 0.0, 2.0],
                [1.1, 0.9, -1.3, 2.0, 0.7, 0.0]]),
    torch_fn=tf(lambda x: torch.cumprod(x, 1)), id="cumprod-zeros")
add("cumprod", lambda x: np.cumprod(x, axis=0), [(4, 3, 2)],
    args=lambda rng: [np.where(np.arange(24).reshape(4, 3, 2) % 10 == 3, 0.0,
                               rng.uniform(-1.5, 1.5, (4, 3, 2)))],
    torch_fn=tf(lambda x: torch.cumprod(x, 0)), id="cumprod-some-rows-zero")
add("cumprod", lambda x: np.cumprod(x), [(5,)], args=fixed([0.0, 0.0, 0.0, 0.0, 0.0]),
    torch_fn=tf(lambda x: torch.cumprod(x, 0)), id="cumprod-all-zeros")
add("cumprod", lambda x: np.cumprod(x, axis=0), [(3,)], dtype=np.complex128, order=1,
    torch_fn=tf(lambda x: torch.cumprod(x, 0)), id="cumprod-complex")
add("cumprod", lambda x: np.multiply.accumulate(x, axis=0), [(3, 2)], id="cumprod-accumulate")
add("cumprod", lambda x: np.cumulative_prod(x, axis=1, include_initial=True), [(2, 3)],
    id="cumulative_prod-initial")

# --- NaN-ignoring -----------------------------------------------------------------
NANS = [[1.5, np.nan, -0.5], [np.nan, 2.0, 0.25]]
add("sum", lambda x: np.nansum(x, axis=1), [(2, 3)], args=fixed(NANS),
    torch_fn=tf(lambda x: torch.nansum(x, 1)), id="nansum")
add("sum", lambda x: np.nanmean(x, axis=0), [(2, 3)], args=fixed(NANS),
    torch_fn=tf(lambda x: torch.nanmean(x, 0)), id="nanmean")
add("sum", np.nanmean, [(2, 3)], args=fixed(NANS), torch_fn=tf(lambda x: torch.nanmean(x)),
    id="nanmean-all")
add("sum", lambda x: np.nanvar(x, axis=1, ddof=1), [(2, 3)], args=fixed(NANS), id="nanvar")
add("sum", lambda x: np.nanstd(x), [(2, 3)], args=fixed(NANS), id="nanstd")
add("max", lambda x: np.nanmax(x, axis=1), [(2, 3)], args=fixed(NANS), order=1, id="nanmax")
add("max", lambda x: np.nanmin(x, axis=0, keepdims=True), [(2, 3)],
    args=fixed([[1.5, np.nan, -0.5], [1.5, 2.0, np.nan]]), order=1, id="nanmin-ties")

# --- median / quantile / percentile ------------------------------------------------
add("median", np.median, [(5,)], torch_fn=tf(lambda x: torch.median(x)), id="median-odd")
add("median", np.median, [(4,)], id="median-even")
add("median", lambda x: np.median(x, axis=0), [(5, 3)],
    torch_fn=tf(lambda x: torch.median(x, 0).values), id="median-axis")
add("median", lambda x: np.median(x, axis=(0, 2), keepdims=True), [(2, 3, 2)],
    id="median-tuple-keepdims")
add("median", lambda x: np.median(x, axis=-1), [(2, 3)], id="median-neg")
add("median", np.median, [()], id="median-0d")
add("median", np.median, [(5,)], args=fixed([1.0, 2.0, 2.0, 0.5, 3.0]), order=1,
    torch_fn=tf(lambda x: torch.median(x)), id="median-ties")
add("median", lambda x: np.median(x, axis=1), [(2, 4)], order=1,
    args=fixed([[2.0, 1.0, 2.0, 3.0], [1.0, 1.0, 3.0, 0.0]]), id="median-even-ties")
add("quantile", lambda x: np.quantile(x, 0.3), [(6,)],
    torch_fn=tf(lambda x: torch.quantile(x, 0.3)), id="quantile-scalar")
add("quantile", lambda x: np.quantile(x, [0.1, 0.5, 0.95], axis=0), [(5, 3)],
    torch_fn=tf(lambda x: torch.quantile(x, torch.tensor([0.1, 0.5, 0.95], dtype=x.dtype), 0)),
    id="quantile-vector-q")
add("quantile", lambda x: np.quantile(x, 0.7, axis=-1, keepdims=True), [(2, 5)],
    torch_fn=tf(lambda x: torch.quantile(x, 0.7, -1, keepdim=True)), id="quantile-keepdims")
add("quantile", lambda x: np.quantile(x, [0.2, 0.8], axis=(0, 2)), [(2, 3, 2)],
    id="quantile-tuple-axis")
add("quantile", lambda x: np.quantile(x, 0.5), [()], id="quantile-0d")
for _m in ["lower", "higher", "nearest", "midpoint"]:
    add("quantile", lambda x, m=_m: np.quantile(x, [0.25, 0.6], axis=1, method=m), [(2, 5)],
        torch_fn=tf(lambda x, m=_m: torch.quantile(
            x, torch.tensor([0.25, 0.6], dtype=x.dtype), 1, interpolation=m)),
        id=f"quantile-{_m}")
for _m in ["inverted_cdf", "averaged_inverted_cdf", "closest_observation",
           "interpolated_inverted_cdf", "hazen", "weibull", "median_unbiased", "normal_unbiased"]:
    add("quantile", lambda x, m=_m: np.quantile(x, [0.0, 0.3, 0.5, 1.0], method=m), [(7,)],
        id=f"quantile-{_m}")
add("quantile", lambda x: np.percentile(x, [30.0, 75.0], axis=1), [(2, 6)],
    torch_fn=tf(lambda x: torch.quantile(x, torch.tensor([0.3, 0.75], dtype=x.dtype), 1)),
    id="percentile")
add("quantile", lambda x: np.percentile(x, 50, method="lower"), [(4,)], id="percentile-lower")

# --- trace / diff / trapezoid -------------------------------------------------------
add("sum", np.trace, [(3, 3)], torch_fn=tf(lambda x: torch.trace(x)), id="trace")
add("sum", lambda x: np.trace(x, offset=1), [(3, 4)], id="trace-offset")
add("sum", lambda x: np.trace(x, offset=-2), [(4, 3)], id="trace-negative-offset")
add("sum", lambda x: np.trace(x, axis1=1, axis2=2), [(2, 3, 3)],
    torch_fn=tf(lambda x: torch.diagonal(x, 0, 1, 2).sum(-1)), id="trace-axes")
add("sum", lambda x: x.trace(), [(2, 2)], id="trace-method")
add("subtract", np.diff, [(5,)], torch_fn=tf(lambda x: torch.diff(x)), id="diff")
add("subtract", lambda x: np.diff(x, n=2, axis=0), [(4, 3)],
    torch_fn=tf(lambda x: torch.diff(x, 2, 0)), id="diff-n2-axis0")
add("subtract", lambda x, p, a: np.diff(x, axis=1, prepend=p, append=a),
    [(2, 3), (2, 1), (2, 2)],
    torch_fn=tf(lambda x, p, a: torch.diff(x, 1, 1, prepend=p, append=a)), id="diff-prepend")
add("subtract", lambda x, p: np.diff(x, prepend=p), [(4,), ()], id="diff-prepend-scalar")
add("add", np.trapezoid, [(5,)], torch_fn=tf(lambda y: torch.trapezoid(y)), id="trapezoid")
add("add", lambda y, x: np.trapezoid(y, x), [(5,), (5,)],
    torch_fn=tf(lambda y, x: torch.trapezoid(y, x)), id="trapezoid-x")
add("add", lambda y, x: np.trapezoid(y, x, axis=0), [(4, 3), (4,)],
    torch_fn=tf(lambda y, x: torch.trapezoid(y, x, dim=0)), id="trapezoid-x-axis0")
add("add", lambda y, x: np.trapezoid(y, x, axis=1), [(2, 4), (2, 4)],
    torch_fn=tf(lambda y, x: torch.trapezoid(y, x, dim=1)), id="trapezoid-x-2d")
add("add", lambda y, d: np.trapezoid(y, dx=d), [(4,), ()], id="trapezoid-dx")

# --- linalg.norm --------------------------------------------------------------------
N = np.linalg.norm
LN = (lambda: torch.linalg) if torch is not None else None
add("norm", N, [(4,)], torch_fn=tf(lambda x: torch.linalg.norm(x)), id="norm-vec")
add("norm", N, [(3, 4)], torch_fn=tf(lambda x: torch.linalg.norm(x)), id="norm-fro-default")
add("norm", N, [(2, 3, 2)], torch_fn=tf(lambda x: torch.linalg.norm(x.reshape(-1))),
    id="norm-3d-flat")
add("norm", lambda x: N(x, axis=1), [(3, 4)],
    torch_fn=tf(lambda x: torch.linalg.vector_norm(x, dim=1)), id="norm-axis")
add("norm", lambda x: N(x, axis=-1, keepdims=True), [(3, 4)],
    torch_fn=tf(lambda x: torch.linalg.vector_norm(x, dim=-1, keepdim=True)),
    id="norm-axis-keepdims")
add("norm", lambda x: N(x, keepdims=True), [(3, 4)], id="norm-keepdims-all")
add("norm", lambda x: N(x, axis=0), [(3, 2)], order=1,
    args=fixed([[0.0, 1.0], [0.0, -2.0], [0.0, 0.5]]),
    torch_fn=tf(lambda x: torch.linalg.vector_norm(x, dim=0)), id="norm-zero-column")
add("norm", N, [(3,)], order=1, args=fixed([0.0, 0.0, 0.0]),
    torch_fn=tf(lambda x: torch.linalg.norm(x)), id="norm-at-zero")
add("norm", lambda x: N(x, axis=0), [(3,)], dtype=np.complex128, order=1,
    torch_fn=tf(lambda x: torch.linalg.vector_norm(x, dim=0)), id="norm-complex")
add("norm", lambda x: N(x, "fro"), [(3, 4)],
    torch_fn=tf(lambda x: torch.linalg.matrix_norm(x, "fro")), id="norm-fro")
add("norm", lambda x: N(x, "fro", axis=(0, 2), keepdims=True), [(2, 3, 2)],
    torch_fn=tf(lambda x: torch.linalg.matrix_norm(x, "fro", dim=(0, 2), keepdim=True)),
    id="norm-fro-axes-keepdims")
for _o in [1, np.inf, -np.inf, 3, 0.5]:
    add("absolute", lambda x, o=_o: N(x, ord=o), [(5,)], order=1 if abs(_o) == np.inf else 2,
        low=0.3, high=2.0,
        torch_fn=tf(lambda x, o=_o: torch.linalg.vector_norm(x, ord=o)), id=f"norm-vec-ord{_o}")
add("absolute", lambda x: N(x, ord=3, axis=0), [(2, 3)], order=1,
    args=fixed([[0.0, 1.0, 0.0], [0.0, -2.0, 1.5]]),
    torch_fn=tf(lambda x: torch.linalg.vector_norm(x, ord=3, dim=0)), id="norm-ord3-zeros")
add("absolute", lambda x: N(x, ord=0) + N(x) * 0, [(4,)], order=1, id="norm-ord0")
for _o in [1, -1, np.inf, -np.inf]:
    add("absolute", lambda x, o=_o: N(x, ord=o), [(3, 4)], order=1,
        torch_fn=tf(lambda x, o=_o: torch.linalg.matrix_norm(x, ord=o)), id=f"norm-mat-ord{_o}")
add("absolute", lambda x: N(x, ord=1, axis=(2, 0)), [(3, 2, 4)], order=1,
    torch_fn=tf(lambda x: torch.linalg.matrix_norm(x, ord=1, dim=(2, 0))),
    id="norm-mat-ord1-axes")
add("absolute", lambda x: np.linalg.vector_norm(x, ord=np.inf, axis=(0, 1)), [(2, 3, 2)],
    order=1, torch_fn=tf(lambda x: torch.linalg.vector_norm(x, ord=float("inf"), dim=(0, 1))),
    id="vector_norm-inf-axes")
add("norm", lambda x: np.linalg.vector_norm(x), [(2, 3)],
    torch_fn=tf(lambda x: torch.linalg.vector_norm(x)), id="vector_norm")
add("norm", lambda x: np.linalg.matrix_norm(x), [(2, 3, 3)],
    torch_fn=tf(lambda x: torch.linalg.matrix_norm(x)), id="matrix_norm")
# singular-value norms go through the linalg family's svdvals
add("sum", lambda x: N(x, "nuc"), [(3, 4)],
    torch_fn=tf(lambda x: torch.linalg.matrix_norm(x, "nuc")), id="norm-nuc")
add("max", lambda x: N(x, 2), [(4, 3)], torch_fn=tf(lambda x: torch.linalg.matrix_norm(x, 2)),
    id="norm-spectral")
add("max", lambda x: N(x, -2, axis=(2, 0), keepdims=True), [(3, 2, 3)],
    torch_fn=tf(lambda x: torch.linalg.matrix_norm(x, -2, dim=(2, 0), keepdim=True)),
    id="norm-minus2-axes-keepdims")
add("cumprod", lambda x: np.cumprod(x, axis=0), [(4,)], dtype=np.complex128, order=1,
    args=lambda rng: [np.array([1.0 + 0.5j, 0.0, -0.5 + 1j, 2.0 - 1j])],
    torch_fn=tf(lambda x: torch.cumprod(x, 0)), id="cumprod-complex-zero")

# --- special points (tests/test_special_points.py): where rules branch on values -------
from harness import Point, attach_points

A = np.array
INF, NAN = np.inf, np.nan


def points(name, *pts):
    """Attach special points to this module's rows called ``name``."""
    attach_points(ROWS, name, *pts)


def tie_weights(mask_of):
    """D_1 of <u, max> for a full reduction: u shared among the tied extrema."""
    def w(u, x):
        m = mask_of(x)
        return u * m / m.sum()
    return w


# ties: a two-way tie is where the shared gradient equals the central difference (smooth=1)
points("max-ties", Point([A([[1.0, 3.0, 3.0, 0.5], [2.0, 2.0, 1.0, 0.0]])], smooth=1,
                         expect={2: 0.0, 3: 0.0}, id="two-way"))
points("min-ties", Point([A([[0.5, 1.0], [0.5, -1.0], [0.7, -1.0]])], smooth=1,
                         expect={2: 0.0, 3: 0.0}, id="two-way"))
points("max-all", Point([A([[2.0, 2.0, 2.0], [1.0, 0.0, 2.0]])], smooth=0, id="four-way",
                        expect={1: tie_weights(lambda x: x == x.max()), 2: 0.0, 3: 0.0}))
points("nanmin-ties", Point([A([[1.5, NAN, -0.5], [1.5, 2.0, NAN]])], smooth=0,
                            id="nan-and-tie", not_jax={1: "NaN", 2: "NaN", 3: "NaN"},
                            expect={1: lambda u, x: u * A([[0.5, 0, 1], [0.5, 1, 0]]),
                                    2: 0.0, 3: 0.0}))
points("median-ties", Point([A([1.0, 2.0, 2.0, 0.5, 3.0])], smooth=1, expect={2: 0.0, 3: 0.0},
                            not_jax={1: "JAX gives a tied median's gradient to one element"},
                            id="tie"))
add("quantile", lambda x: np.quantile(x, 0.5), [(4,)], id="quantile-ties",
    points=[Point([A([2.0, 1.0, 2.0, 3.0])], smooth=1, expect={2: 0.0, 3: 0.0},
                  id="interpolated-pair-tied")])
# zeros in products: the exact (cumprod-based) formulas, polynomials: smooth at every order
points("prod-zeros", Point([A([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]])], id="one-and-two-zeros"))
points("prod-two-zeros", Point([A([1.5, 0.0, -2.0, 0.0])], id="two"),
       Point([A([0.0, 0.0, 0.0, 0.0])], id="all"))
points("prod-0d", Point([A(0.0)], id="0"))
points("cumprod-zeros", Point([A([[0.0, 2.0, -1.5, 0.5], [1.5, 0.0, 0.5, 0.0]])], id="zeros"))
points("cumprod-all-zeros", Point([A([0.0, 0.0, 0.0, 0.0, 0.0])], id="all"))
# the 2-norm's cone at 0: gradient 0 (PyTorch's subgradient), and 0 above
points("norm-at-zero", Point([A([0.0, 0.0, 0.0])], smooth=1, expect={2: 0.0, 3: 0.0},
                             not_jax={1: "JAX: NaN at 0", 2: "NaN", 3: "NaN"}, id="0"))
points("norm-vec-ord3", Point([A([0.0, 1.0, -2.0, 0.5, 0.0])], id="zeros", not_jax={
    3: "JAX's |x| has slope 1 at 0, so its third derivative of |x|^3 at 0 is 6, not 0"}))
# std at zero variance: 0, like a norm at 0
points("std-zero-variance", Point([A([[1.0, 1.0, 1.0]])], smooth=1, expect={2: 0.0, 3: 0.0},
                                  not_jax={1: "JAX: NaN", 2: "NaN", 3: "NaN"}, id="constant"))
