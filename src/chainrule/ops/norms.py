"""np.linalg.norm (and the array-API vector_norm / matrix_norm), differentiable.

The 2-norm / Frobenius norm is one primitive (NumPy's own value; gradient x / ||x||,
and 0 at x = 0, PyTorch's subgradient, never NaN).  The other orders are built from
abs, sum, max/min and power, so they inherit those rules (ties among maxima share the
gradient, |x| has slope 0 at 0).  'nuc', 2 and -2 of matrices use the singular values
from ``linalg.svd`` when the linear-algebra family provides it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import arrays as _arrays

from ..core.registry import NAMES, register
from . import elementwise as E
from . import reduce as R
from . import shape as S
from .util import defprim, value


def _norm2_fwd(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if axis is None:  # np.linalg.norm's own path for the whole array (a dot product)
        r = np.linalg.norm(x)
        return _arrays.asarray(r).reshape((1,) * x.ndim) if keepdims else _arrays.asarray(r)
    s = (x.conj() * x).real if np.iscomplexobj(x) else x * x
    return np.sqrt(np.add.reduce(s, axis=axis, keepdims=keepdims) if s.__class__ is np.ndarray
                   else np.sum(s, axis=axis, keepdims=keepdims))


def _inv_norm(ans: Any, x: Any, axis: Any, keepdims: bool) -> tuple[Any, np.ndarray]:
    a = R.expand_back(ans, x, axis, keepdims)
    zero = value(a) == 0
    if _arrays.maybe_any(zero):
        return E.where_prim(zero, 0.0, 1.0 / E.where_prim(zero, 1.0, a)), zero
    return 1.0 / a, zero


def _norm2_vjp(g: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    inv, _ = _inv_norm(ans, x, axis, keepdims)
    return R.expand_back(g, x, axis, keepdims) * inv * x


def _norm2_jvp(dx: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    inv, _ = _inv_norm(ans, x, axis, keepdims)
    d = E.real(E.conj(x) * dx) if E.is_complex(x) else x * dx
    return R.sum_prim(d * inv, axis=axis, keepdims=keepdims)


norm2 = defprim(_norm2_fwd, "norm", kinked=True, vjp=(_norm2_vjp,), jvp=(_norm2_jvp,))


def _as_float(x: Any) -> Any:
    if _arrays.asarray(value(x)).dtype.kind not in "fc":
        return E.astype(x, dtype=np.dtype(np.float64))
    return x


def _vector_norm(x: Any, ord: Any, axis: tuple, keepdims: bool) -> Any:
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord is None or ord == 2:
        return norm2(x, axis=axis, keepdims=keepdims)
    a = E.absolute(x)
    if ord == np.inf:
        return R.max(a, axis=axis, keepdims=keepdims, initial=_empty_initial(a, axis))
    if ord == -np.inf:
        return R.min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        # a count: piecewise constant, so its gradient is 0 (never a NaN from 0 * inf)
        nz = (value(x) != 0).astype(_arrays.asarray(value(a)).dtype)
        return R.sum_prim(E.where_prim(np.zeros(nz.shape, bool), a, nz), axis=axis,
                          keepdims=keepdims)
    if ord == 1:
        return R.sum_prim(a, axis=axis, keepdims=keepdims)
    p = float(ord)
    if p > 0:
        # |x|^p has slope 0 at 0 (p > 1) or none (p < 1): choose 0, never NaN
        zero = value(a) == 0
        if _arrays.maybe_any(zero):
            pw = E.where_prim(zero, 0.0, E.where_prim(zero, 1.0, a) ** p)
        else:
            pw = a ** p
        s = R.sum_prim(pw, axis=axis, keepdims=keepdims)
        return _safe_root(s, p)
    return R.sum_prim(a ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def _empty_initial(a: Any, axis: Any) -> Any:
    """0 where the reduced axes are empty (NumPy's ``initial=0`` for the max-based norms:
    an empty matrix has norm 0), else none: a max with an initial value would tie with it."""
    return 0.0 if R.count(a, axis) == 0 else None


def _safe_root(s: Any, p: float) -> Any:
    zero = value(s) == 0
    if _arrays.maybe_any(zero):
        return E.where_prim(zero, 0.0, E.where_prim(zero, 1.0, s) ** (1.0 / p))
    return s ** (1.0 / p)


def _svdvals(x: Any, name: str) -> Any:
    """Singular values over the last two axes, through the linalg family's svd."""
    svd = NAMES.get("linalg.svdvals")
    if svd is not None:
        return svd(x)
    svd = NAMES.get("linalg.svd")
    if svd is None:
        raise NotImplementedError(
            f"np.linalg.norm(ord={name!r}) of a Tensor needs singular values, and no "
            f"differentiable linalg.svd is registered yet; use ord='fro', 1 or inf, or "
            f"register linalg.svd")
    return svd(x, compute_uv=False)


def _matrix_norm(x: Any, ord: Any, axis: tuple, keepdims: bool) -> Any:
    nd = np.ndim(value(x))
    row, col = R.norm_axis(axis, nd)
    if row == col:
        raise ValueError("Duplicate axes given.")
    if ord is None or ord in ("fro", "f"):
        r = norm2(x, axis=(row, col), keepdims=False)
    elif ord in (2, -2, "nuc"):
        sv = _svdvals(S.moveaxis(x, (row, col), (-2, -1)), ord)
        if ord == 2:
            r = R.max(sv, axis=-1, initial=_empty_initial(sv, -1))
        elif ord == -2:
            r = R.min(sv, axis=-1)
        else:
            r = R.sum_prim(sv, axis=-1)
    elif ord in (1, -1):
        sums, ax = R.sum_prim(E.absolute(x), axis=row), col - 1 if col > row else col
        r = R.max(sums, axis=ax, initial=_empty_initial(sums, ax)) if ord == 1 else \
            R.min(sums, axis=ax)
    elif ord in (np.inf, -np.inf):
        sums, ax = R.sum_prim(E.absolute(x), axis=col), row - 1 if row > col else row
        r = R.max(sums, axis=ax, initial=_empty_initial(sums, ax)) if ord == np.inf else \
            R.min(sums, axis=ax)
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        shape = list(np.shape(value(x)))
        shape[row] = 1
        shape[col] = 1
        r = S.reshape(r, tuple(shape))
    return r


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """np.linalg.norm: vector orders None/2, 1, inf, -inf, 0 and any p; matrix orders
    None/'fro', 1, -1, inf, -inf ('nuc', 2, -2 through linalg.svd)."""
    x = _as_float(x)
    nd = np.ndim(value(x))
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            return norm2(x, axis=None, keepdims=keepdims)
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (int(axis),)
        except TypeError as exc:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from exc
    if len(axis) == 1:
        return _vector_norm(x, ord, R.norm_axis(axis, nd), keepdims)
    if len(axis) == 2:
        return _matrix_norm(x, ord, axis, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """np.linalg.vector_norm: the norm of the flattened array (or over ``axis``)."""
    x = _as_float(x)
    nd = np.ndim(value(x))
    if axis is None:
        if ord is None or ord == 2:
            return norm2(x, axis=None, keepdims=keepdims)
        r = _vector_norm(S.reshape(x, (-1,)), ord, (0,), False)
        return S.reshape(r, (1,) * nd) if keepdims else r
    ax = R.norm_axis(R._axis(axis), nd)
    if len(ax) == 1 or ord is None or ord == 2:
        return _vector_norm(x, ord, ax, keepdims)
    # several axes: move them last and flatten them into one
    kept = tuple(i for i in range(nd) if i not in ax)
    xt = S.transpose(x, kept + ax)
    flat = S.reshape(xt, tuple(np.shape(value(x))[i] for i in kept) + (-1,))
    r = _vector_norm(flat, ord, (len(kept),), False)
    if keepdims:
        r = S.reshape(r, tuple(1 if i in ax else n for i, n in enumerate(np.shape(value(x)))))
    return r


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """np.linalg.matrix_norm: the norm over the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


register("linalg.norm", norm)
register("linalg.vector_norm", vector_norm)
register("linalg.matrix_norm", matrix_norm)
