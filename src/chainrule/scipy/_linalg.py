"""``cr.scipy.linalg``: SciPy's linear algebra that NumPy lacks, differentiable.

    from chainrule.scipy import linalg
    x = linalg.solve_triangular(L, b, lower=True)
    E = linalg.expm(A)

The forward passes are SciPy's own (``scipy.linalg`` is imported with this module, which
loads only when ``cr.scipy`` is used).  Each function is a primitive with VJP and JVP
rules, or a composition of primitives; every rule is itself written with these
primitives, so derivatives of every order hold (grad of grad, forward over reverse):

* ``solve_triangular(a, b, trans, lower, unit_diagonal)``: x = op(A)^-1 b; the rule for
  ``a`` is restricted to the triangle that is read (off the diagonal with
  ``unit_diagonal``): entries the function does not read get a zero gradient.
* ``cho_factor`` / ``cho_solve``: the factor from the triangle SciPy reads (so the
  gradient is that of the function SciPy computes, the triangle that is not read gets
  zero), ``cho_solve`` two triangular solves.  As SciPy's, ``c``'s other triangle holds
  ``a``'s entries.
* ``lu_factor`` / ``lu_solve``: the packed LU factor (its derivative: with
  F = L^-1 P^T dA U^-1, dL = L strictly_lower(F), dU = upper(F) U); the pivots are
  integers (no derivative).  2-D matrices only.
* ``expm``: the VJP is the Frechet derivative at A^H applied to the cotangent, the JVP
  the Frechet derivative at A; both read from exp([[X, E], [0, X]]) (upper right block),
  which is expm itself, so every order holds.  ``expm_frechet`` the same, as a function.
* ``sqrtm``: X X = A, so X dX + dX X = dA: a Sylvester equation for the JVP, its adjoint
  (X^H Z + Z X^H = G) for the VJP (complex inputs, and a real input whose principal root
  is complex, follow chainrule's convention: a real input's cotangent is the real part).
* ``solve_sylvester(a, b, q)``: AX + XB = Q; the adjoint equation A^H Z + Z B^H = G gives
  the cotangents (Q: Z; A: -Z X^H; B: -X^H Z).
* ``cholesky``, ``solve`` (``assume_a``, ``transposed``), ``inv``, ``det``, ``block_diag``:
  SciPy's signatures over chainrule's own NumPy rules (a symmetric ``assume_a`` reads one
  triangle, as SciPy does).
* ``toeplitz``, ``circulant``, ``hankel``, ``companion``, ``convolution_matrix``: built by
  indexing (and, for ``companion``, one division), so differentiable in their vectors.
* ``eigh`` (``lower``, ``eigvals_only``, the generalized problem with ``b`` through b's
  Cholesky factor, ``subset_by_index``/``subset_by_value``), ``svd``, ``qr`` (modes 'full',
  'economic', 'r' -- a 1-tuple, as SciPy's) over chainrule's ``np.linalg`` rules; ``lu``
  (P, L, U; ``permute_l``, ``p_indices``; rectangular too) unpacks ``lu_factor``'s
  primitive on the square block, whose VJP is two triangular solves, and completes a tall
  L or a wide U by triangular solves; ``polar`` from the SVD.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as _sl

from ..core.primitive import Primitive
from ..ops.util import set_rules as _set_rules
from ..ops.util import unbroadcast, value

__all__ = ["solve_triangular", "cholesky", "cho_factor", "cho_solve", "lu_factor", "lu_solve",
           "solve", "inv", "det", "block_diag", "expm", "expm_frechet", "sqrtm",
           "solve_sylvester", "toeplitz", "circulant", "hankel", "companion",
           "convolution_matrix", "eigh", "svd", "qr", "lu", "polar"]


def _prim(fwd: Any, name: str, vjps: tuple = (), jvps: tuple = ()) -> Primitive:
    p = Primitive(fwd, name, broadcast_tangents=True)
    _set_rules(p, vjps, jvps)
    return p


def _asarray(x: Any) -> Any:
    return x if hasattr(x, "shape") else np.asarray(x)


def _cplx(x: Any) -> bool:
    return np.asarray(value(x)).dtype.kind == "c" if not hasattr(x, "dtype") else \
        x.dtype.kind == "c"


def _conj(x: Any) -> Any:
    return np.conj(x) if _cplx(x) else x


def _mT(x: Any) -> Any:
    return np.swapaxes(x, -1, -2)


def _mH(x: Any) -> Any:
    return _conj(np.swapaxes(x, -1, -2))


def _real_like(g: Any, like: Any) -> Any:
    """A cotangent for a real argument: the real part of a complex one."""
    return np.real(g) if _cplx(g) and not _cplx(like) else g


# ---------------------------------------------------------------------------------
# solve_triangular


_TRANS = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2, "n": 0, "t": 1, "c": 2}


def _tri_mask(n: int, lower: bool, unit: bool) -> np.ndarray:
    m = np.tri(n, n, -1 if unit else 0, dtype=bool)
    return m if lower else m.T


def _op(m: Any, trans: int) -> Any:
    return m if trans == 0 else _mT(m) if trans == 1 else _mH(m)


def _st_fwd(a: Any, b: Any, trans: int = 0, lower: bool = False,
            unit_diagonal: bool = False) -> Any:
    return _sl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def _st_adjoint(a: Any, g: Any, trans: int, lower: bool, unit: bool) -> Any:
    """op(A)^-H g."""
    if trans == 0:
        return _st(a, g, trans=2, lower=lower, unit_diagonal=unit)
    if trans == 2:
        return _st(a, g, trans=0, lower=lower, unit_diagonal=unit)
    return _conj(_st(a, _conj(g), trans=0, lower=lower, unit_diagonal=unit))


def _st_vjp_a(g: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
              unit_diagonal: bool = False) -> Any:
    gb = _st_adjoint(a, g, trans, lower, unit_diagonal)
    if len(b.shape) == 1:
        gM = -np.expand_dims(gb, -1) * np.expand_dims(_conj(ans), -2)
    else:
        gM = -(gb @ _mH(ans))
    gA = gM if trans == 0 else _mT(gM) if trans == 1 else _mH(gM)
    gA = gA * _tri_mask(a.shape[-1], lower, unit_diagonal)
    return _real_like(unbroadcast(a, gA), a)


def _st_vjp_b(g: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
              unit_diagonal: bool = False) -> Any:
    return _real_like(unbroadcast(b, _st_adjoint(a, g, trans, lower, unit_diagonal)), b)


def _st_jvp_a(da: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
              unit_diagonal: bool = False) -> Any:
    dM = _op(da * _tri_mask(a.shape[-1], lower, unit_diagonal), trans)
    return -_st(a, dM @ ans, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def _st_jvp_b(db: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
              unit_diagonal: bool = False) -> Any:
    return _st(a, db, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


_st = _prim(_st_fwd, "scipy.linalg.solve_triangular", vjps=(_st_vjp_a, _st_vjp_b),
            jvps=(_st_jvp_a, _st_jvp_b))


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     check_finite: bool = True) -> Any:
    """x with op(A) x = b for a triangular A (scipy.linalg.solve_triangular), op(A) = A,
    A^T (trans=1, 'T') or A^H (trans=2, 'C'); only the ``lower`` (or upper) triangle of
    ``a`` is read, and its diagonal is taken as ones with ``unit_diagonal``.  A 1-D ``b``
    is a vector; batches of matrices broadcast.  Differentiable in ``a`` and ``b``, to
    every order.  (``overwrite_b`` and ``check_finite`` are accepted and ignored.)"""
    if trans not in _TRANS:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got "
                         f"{trans!r}")
    return _st(_asarray(a), _asarray(b), trans=_TRANS[trans], lower=bool(lower),
               unit_diagonal=bool(unit_diagonal))


# ---------------------------------------------------------------------------------
# cho_factor / cho_solve


def _from_triangle(a: Any, lower: bool) -> Any:
    """The Hermitian matrix that ``a``'s lower (or upper) triangle defines: what LAPACK's
    symmetric routines read."""
    n = a.shape[-1]
    strict = np.tri(n, n, -1, dtype=bool)
    part = a * (strict if lower else strict.T)
    return part + np.diagonal(a, axis1=-2, axis2=-1)[..., None] * np.eye(n) + _mH(part)


def _factor(a: Any, lower: bool) -> Any:
    L = np.linalg.cholesky(_from_triangle(a, lower))
    return L if lower else _mH(L)


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Any:
    """The Cholesky factor of the Hermitian positive-definite ``a`` (scipy.linalg.cholesky):
    upper (A = U^H U) by default, lower with ``lower=True``, read from that triangle of
    ``a``; differentiable in ``a`` (the gradient lies in the triangle that is read)."""
    return _factor(_asarray(a), bool(lower))


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple:
    """(c, lower): the Cholesky factor of the Hermitian positive-definite ``a`` read from
    its lower (``lower=True``) or upper triangle, in that triangle of ``c``; the other
    triangle of ``c`` holds ``a``'s entries, as SciPy's.  Differentiable in ``a``
    (the gradient lies in the triangle that is read)."""
    a = _asarray(a)
    strict = np.tri(a.shape[-1], a.shape[-1], -1, dtype=bool)
    c = _factor(a, bool(lower)) + a * (strict.T if lower else strict)
    return c, bool(lower)


_SYMMETRIC = {"sym", "her", "pos", "symmetric", "hermitian", "positive definite"}


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, check_finite: bool = True, assume_a: str | None = None,
          transposed: bool = False) -> Any:
    """x with A x = b (scipy.linalg.solve; A^T x = b with ``transposed``): a 1-D ``b`` is a
    vector.  With ``assume_a`` 'sym', 'her' or 'pos' only the ``lower`` (default upper)
    triangle of ``a`` is read, as SciPy's; 'pos' solves through the Cholesky factor.
    Differentiable in ``a`` and ``b`` (NumPy's solve and Cholesky rules)."""
    a, b = _asarray(a), _asarray(b)
    kind = (assume_a or "gen").lower()
    if kind in _SYMMETRIC:
        a = _from_triangle(a, bool(lower))
    if transposed:
        a = _mT(a)
    if kind in ("pos", "positive definite"):
        return cho_solve((np.linalg.cholesky(a), True), b)
    if len(b.shape) == 1:  # a vector (a stack of matrices: one vector for each)
        return np.linalg.solve(a, b[:, None])[..., 0]
    return np.linalg.solve(a, b)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The inverse (scipy.linalg.inv: numpy.linalg.inv's rules)."""
    return np.linalg.inv(_asarray(a))


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The determinant (scipy.linalg.det: numpy.linalg.det's rules, exact at singular
    matrices too)."""
    return np.linalg.det(_asarray(a))


def block_diag(*arrs: Any) -> Any:
    """The block-diagonal matrix of the given blocks (scipy.linalg.block_diag): scalars and
    1-D inputs are 1 x n blocks; differentiable in every block."""
    if not arrs:
        return np.empty((1, 0))
    blocks = []
    for x in arrs:
        x = _asarray(x)
        if len(x.shape) < 2:
            x = np.reshape(x, (1, -1))
        blocks.append(x)
    cols = sum(x.shape[1] for x in blocks)
    dtype = np.result_type(*[np.asarray(value(x)).dtype for x in blocks])
    rows, start = [], 0
    for x in blocks:
        m, k = x.shape
        parts = [np.zeros((m, start), dtype), x, np.zeros((m, cols - start - k), dtype)]
        rows.append(np.concatenate(parts, axis=1))
        start += k
    return np.concatenate(rows, axis=0)


def cho_solve(c_and_lower: tuple, b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Any:
    """x with A x = b, from ``cho_factor``'s (c, lower): two triangular solves.
    Differentiable in ``c`` (its factor triangle) and ``b``."""
    c, lower = c_and_lower
    c, b = _asarray(c), _asarray(b)
    if lower:  # A = L L^H
        y = solve_triangular(c, b, lower=True)
        return solve_triangular(c, y, lower=True, trans=2)
    y = solve_triangular(c, b, lower=False, trans=2)  # A = U^H U
    return solve_triangular(c, y, lower=False)


# ---------------------------------------------------------------------------------
# lu_factor / lu_solve


def _perm(piv: np.ndarray) -> np.ndarray:
    """The row order p of LAPACK's pivots (row i swapped with piv[i], in turn): A[p] = L U."""
    p = np.arange(len(piv))
    for i, j in enumerate(np.asarray(piv, dtype=np.intp)):
        p[i], p[j] = p[j], p[i]
    return p


def _lu_fwd(a: Any) -> Any:
    lu, piv = _sl.lu_factor(a)
    return np.concatenate([lu, piv[:, None].astype(lu.dtype)], axis=1)


def _lu_parts(ans: Any) -> tuple:
    n = ans.shape[-2]
    piv = np.real(np.asarray(value(ans))[:, n]).astype(np.intp)
    return ans[:, :n], _perm(piv), n


def _lu_vjp(g: Any, ans: Any, a: Any) -> Any:
    lu, p, n = _lu_parts(ans)
    glu = g[:, :n]
    sl_ = np.tri(n, n, -1, dtype=bool)
    up = ~sl_
    L = lu * sl_ + np.eye(n)
    U = lu * up
    inner = (_mH(L) @ (glu * sl_)) * sl_ + ((glu * up) @ _mH(U)) * up
    y = solve_triangular(lu, inner, lower=True, unit_diagonal=True, trans=2)  # L^-H inner
    x = _mH(solve_triangular(lu, _mH(y), lower=False))  # y U^-H
    ga = x[np.argsort(p)]
    return _real_like(ga, a)


def _lu_jvp(da: Any, ans: Any, a: Any) -> Any:
    lu, p, n = _lu_parts(ans)
    sl_ = np.tri(n, n, -1, dtype=bool)
    up = ~sl_
    y = solve_triangular(lu, da[p], lower=True, unit_diagonal=True)  # L^-1 P^T dA
    f = _mT(solve_triangular(lu, _mT(y), lower=False, trans=1))  # (...) U^-1
    L = lu * sl_ + np.eye(n)
    U = lu * up
    dlu = L @ (f * sl_) + (f * up) @ U
    return np.concatenate([dlu, np.zeros_like(value(dlu)[:, :1])], axis=1)


_lu = _prim(_lu_fwd, "scipy.linalg.lu_factor", vjps=(_lu_vjp,), jvps=(_lu_jvp,))


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> tuple:
    """(lu, piv): the pivoted LU factorization of a square 2-D ``a`` (SciPy's packing: L's
    strictly lower part, unit diagonal implied, and U in ``lu``; ``piv`` LAPACK's row
    interchanges, an integer array).  ``lu`` is differentiable in ``a``."""
    a = _asarray(a)
    if len(a.shape) != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"lu_factor: a square 2-D matrix is supported, got shape "
                         f"{tuple(a.shape)}")
    packed = _lu(a)
    n = a.shape[0]
    piv = np.real(np.asarray(value(packed))[:, n]).astype(np.int32)
    return packed[:, :n], piv


def lu_solve(lu_and_piv: tuple, b: Any, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Any:
    """x with op(A) x = b from ``lu_factor``'s (lu, piv), op as in solve_triangular:
    triangular solves and the row permutation, differentiable in ``lu`` and ``b``."""
    lu, piv = lu_and_piv
    lu, b = _asarray(lu), _asarray(b)
    t = _TRANS[trans]
    p = _perm(np.asarray(value(piv)))
    if t == 0:  # A = P L U
        y = solve_triangular(lu, b[p], lower=True, unit_diagonal=True)
        return solve_triangular(lu, y, lower=False)
    w = solve_triangular(lu, b, lower=False, trans=t)  # op(U)^-1 b
    v = solve_triangular(lu, w, lower=True, unit_diagonal=True, trans=t)
    return v[np.argsort(p)]


# ---------------------------------------------------------------------------------
# expm, its Frechet derivative


def _block(x: Any, e: Any) -> Any:
    """[[x, e], [0, x]] (batched over leading axes)."""
    z = np.zeros_like(value(x)) if not _cplx(e) or _cplx(x) else \
        np.zeros(np.shape(value(x)), dtype=np.result_type(value(x), value(e)))
    top = np.concatenate([x, e], axis=-1)
    bottom = np.concatenate([z, x], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


def _frechet(x: Any, e: Any) -> Any:
    """L(x, e), the Frechet derivative of expm at x in the direction e."""
    n = x.shape[-1]
    return _expm(_block(x, e))[..., :n, n:]


def _expm_vjp(g: Any, ans: Any, a: Any) -> Any:
    return _real_like(_frechet(_mH(a), g), a)


def _expm_jvp(da: Any, ans: Any, a: Any) -> Any:
    return _frechet(a, da)


_expm = _prim(lambda a: _sl.expm(a), "scipy.linalg.expm", vjps=(_expm_vjp,),
              jvps=(_expm_jvp,))


def expm(A: Any) -> Any:
    """The matrix exponential (scipy.linalg.expm; batched over leading axes),
    differentiable to every order through its Frechet derivative."""
    A = _asarray(A)
    if len(A.shape) < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"expm: expected a square matrix (or a stack), got shape "
                         f"{tuple(A.shape)}")
    return _expm(A)


def expm_frechet(A: Any, E: Any, method: Any = None, compute_expm: bool = True,
                 check_finite: bool = True) -> Any:
    """(expm(A), L(A, E)) -- or L(A, E) alone with ``compute_expm=False`` -- where L is
    the Frechet derivative of expm at A in the direction E (scipy.linalg.expm_frechet),
    read from exp([[A, E], [0, A]]); differentiable in A and E."""
    A, E = _asarray(A), _asarray(E)
    n = A.shape[-1]
    M = _expm(_block(A, E))
    L = M[..., :n, n:]
    return (M[..., :n, :n], L) if compute_expm else L


# ---------------------------------------------------------------------------------
# solve_sylvester, sqrtm


def _syl_fwd(a: Any, b: Any, q: Any) -> Any:
    # one dtype for all three: SciPy 1.17's solve_sylvester is wrong when some are complex
    # and others real (a real a, b with a complex q: the residual is O(1))
    dt = np.result_type(a, b, q)
    return _sl.solve_sylvester(np.asarray(a, dt), np.asarray(b, dt), np.asarray(q, dt))


def _syl_adj(g: Any, a: Any, b: Any) -> Any:
    return _syl(_mH(a), _mH(b), g)


def _syl_vjp_a(g: Any, ans: Any, a: Any, b: Any, q: Any) -> Any:
    return _real_like(unbroadcast(a, -(_syl_adj(g, a, b) @ _mH(ans))), a)


def _syl_vjp_b(g: Any, ans: Any, a: Any, b: Any, q: Any) -> Any:
    return _real_like(unbroadcast(b, -(_mH(ans) @ _syl_adj(g, a, b))), b)


def _syl_vjp_q(g: Any, ans: Any, a: Any, b: Any, q: Any) -> Any:
    return _real_like(unbroadcast(q, _syl_adj(g, a, b)), q)


_syl = _prim(
    _syl_fwd, "scipy.linalg.solve_sylvester",
    vjps=(_syl_vjp_a, _syl_vjp_b, _syl_vjp_q),
    jvps=(lambda da, ans, a, b, q: _syl(a, b, -(da @ ans)),
          lambda db, ans, a, b, q: _syl(a, b, -(ans @ db)),
          lambda dq, ans, a, b, q: _syl(a, b, dq)),
)


def solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """X with AX + XB = Q (scipy.linalg.solve_sylvester, Bartels-Stewart), differentiable
    in a, b and q to every order.  Mixed real and complex arguments are solved in the
    complex dtype (SciPy's own call gets those wrong)."""
    return _syl(_asarray(a), _asarray(b), _asarray(q))


def _sqrtm_fwd(a: Any) -> Any:
    return _sl.sqrtm(a)


def _sqrtm_vjp(g: Any, ans: Any, a: Any) -> Any:
    return _real_like(_syl(_mH(ans), _mH(ans), g), a)


def _sqrtm_jvp(da: Any, ans: Any, a: Any) -> Any:
    return _syl(ans, ans, da)


_sqrtm = _prim(_sqrtm_fwd, "scipy.linalg.sqrtm", vjps=(_sqrtm_vjp,), jvps=(_sqrtm_jvp,))


def sqrtm(A: Any) -> Any:
    """The principal matrix square root (scipy.linalg.sqrtm), differentiable to every
    order through the Sylvester equation X dX + dX X = dA."""
    return _sqrtm(_asarray(A))


# ---------------------------------------------------------------------------------
# structured matrices: built by indexing a vector (differentiable: the gradient of an entry
# of the vector is the sum over the places it fills)


def _1d(x: Any) -> Any:
    x = _asarray(x)
    if len(x.shape) == 0:
        x = np.reshape(x, (1,))
    return x


def _batch(*xs: Any) -> tuple:
    """Leading (batch) axes broadcast, the last axis kept: SciPy 1.17's batching."""
    shapes = [tuple(x.shape[:-1]) for x in xs]
    lead = np.broadcast_shapes(*shapes)
    return tuple(x if tuple(x.shape[:-1]) == lead else
                 np.broadcast_to(x, lead + (x.shape[-1],)) for x in xs)


def toeplitz(c: Any, r: Any = None) -> Any:
    """The Toeplitz matrix with first column ``c`` and first row ``r`` (scipy.linalg.toeplitz;
    ``r[0]`` is ignored; ``r`` defaults to ``conj(c)``): T[i, j] = c[i - j] for i >= j,
    r[j - i] above.  Leading axes are batches.  Differentiable in c and r."""
    c = _1d(c)
    r = _conj(c) if r is None else _1d(r)
    c, r = _batch(c, r)
    m, n = c.shape[-1], r.shape[-1]
    vals = np.concatenate([np.flip(c, axis=-1), r[..., 1:]], axis=-1)
    idx = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return vals[..., idx]


def circulant(c: Any) -> Any:
    """The circulant matrix with first column ``c`` (scipy.linalg.circulant):
    C[i, j] = c[(i - j) mod n].  Leading axes are batches.  Differentiable in c."""
    c = _1d(c)
    n = c.shape[-1]
    idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
    return c[..., idx]


def hankel(c: Any, r: Any = None) -> Any:
    """The Hankel matrix with first column ``c`` and last row ``r`` (scipy.linalg.hankel;
    ``r[0]`` is ignored; zeros by default): H[i, j] = c[i + j] while i + j < len(c), then
    r[i + j - len(c) + 1].  N-D inputs are flattened, as SciPy 1.17's hankel does.
    Differentiable in c and r."""
    c = np.reshape(_1d(c), (-1,))
    if r is None:
        r = np.zeros(tuple(c.shape), dtype=c.dtype)
    r = np.reshape(_1d(r), (-1,))
    m, n = c.shape[-1], r.shape[-1]
    vals = np.concatenate([c, r[..., 1:]], axis=-1)
    idx = np.arange(m)[:, None] + np.arange(n)[None, :]
    return vals[..., idx]


def companion(a: Any) -> Any:
    """The companion matrix of the polynomial with coefficients ``a`` (highest degree first;
    scipy.linalg.companion): first row -a[1:] / a[0], ones below the diagonal.  Leading
    axes are batches.  Differentiable in a."""
    a = _asarray(a)
    if len(a.shape) < 1 or a.shape[-1] < 2:
        raise ValueError("companion: the length of a must be at least 2")
    zero = a[..., 0] == 0
    if isinstance(zero, (np.ndarray, np.generic, bool)) and np.any(zero):  # (not traced)
        raise ValueError("companion: the first coefficient in a must not be zero")
    n = a.shape[-1] - 1
    first = -a[..., 1:] / a[..., :1]
    lead = tuple(a.shape[:-1])
    dt = first.dtype
    below = np.broadcast_to(np.eye(n - 1, n, dtype=dt), lead + (n - 1, n))
    return np.concatenate([first[..., None, :], below], axis=-2)


def convolution_matrix(a: Any, n: int, mode: str = "full") -> Any:
    """The matrix A with A @ v == np.convolve(a, v, mode) for a v of length ``n``
    (scipy.linalg.convolution_matrix): 'full' (m + n - 1 rows), 'same' (max(m, n)),
    'valid' (max(m, n) - min(m, n) + 1).  Leading axes of ``a`` are batches.
    Differentiable in a."""
    a = _asarray(a)
    if len(a.shape) < 1 or a.shape[-1] == 0:
        raise ValueError("convolution_matrix: len(a) must be at least 1")
    if int(n) != n or n < 1:
        raise ValueError("convolution_matrix: n must be a positive integer")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"convolution_matrix: mode must be 'full', 'valid' or 'same', got "
                         f"{mode!r}")
    n, m = int(n), a.shape[-1]
    lead = tuple(a.shape[:-1])
    z = np.zeros(lead + (n - 1,), dtype=a.dtype)
    padded = np.concatenate([z, a, z], axis=-1)
    rows = np.arange(m + n - 1)
    if mode == "same":
        start = (min(m, n) - 1) // 2
        rows = rows[start:start + max(m, n)]
    elif mode == "valid":
        rows = rows[min(m, n) - 1:max(m, n)]
    idx = rows[:, None] - np.arange(n)[None, :] + (n - 1)
    return padded[..., idx]


# ---------------------------------------------------------------------------------
# decompositions with SciPy's signatures over chainrule's np.linalg rules


def eigh(a: Any, b: Any = None, *, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, type: int = 1,
         check_finite: bool = True, subset_by_index: Any = None, subset_by_value: Any = None,
         driver: Any = None) -> Any:
    """The eigenvalues (ascending) and eigenvectors of a Hermitian ``a``, read from its
    ``lower`` (default) or upper triangle (scipy.linalg.eigh); with ``b`` (Hermitian
    positive definite) the generalized problem a v = w b v (type 1), through b's Cholesky
    factor L: eigh(L^-1 a L^-H), v = L^-H u (so v^H b v = I, as SciPy's).
    ``subset_by_index`` (lo, hi), inclusive, and ``subset_by_value`` (lo, hi], select.
    Differentiable in a and b (numpy.linalg.eigh's rules: distinct eigenvalues)."""
    if type != 1:
        raise NotImplementedError("scipy.linalg.eigh: only type=1 (a v = w b v) is supported")
    a = _from_triangle(_asarray(a), bool(lower))
    L = None
    if b is not None:
        L = np.linalg.cholesky(_from_triangle(_asarray(b), bool(lower)))
        y = solve_triangular(L, a, lower=True)                      # L^-1 a
        a = _mH(solve_triangular(L, _mH(y), lower=True))             # L^-1 a L^-H
    w, v = np.linalg.eigh(a)
    if L is not None:
        v = solve_triangular(L, v, lower=True, trans=2)              # L^-H u
    if subset_by_index is not None:
        lo, hi = (int(i) for i in subset_by_index)
        w, v = w[..., lo:hi + 1], v[..., :, lo:hi + 1]
    elif subset_by_value is not None:
        lo, hi = subset_by_value
        wv = np.asarray(value(w))
        if wv.ndim != 1:
            raise ValueError("scipy.linalg.eigh: subset_by_value takes one matrix, not a "
                             "stack")
        keep = np.nonzero((wv > lo) & (wv <= hi))[0]
        w, v = w[keep], v[:, keep]
    return w if eigvals_only else (w, v)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd") -> Any:
    """(U, s, Vh) with a = U diag(s) Vh (scipy.linalg.svd), or s with ``compute_uv=False``;
    numpy.linalg.svd's rules (distinct singular values; with ``full_matrices`` the columns
    of U or rows of Vh beyond min(M, N) are not unique, and not differentiated)."""
    a = _asarray(a)
    if lapack_driver not in ("gesdd", "gesvd"):
        raise ValueError(f"scipy.linalg.svd: lapack_driver must be 'gesdd' or 'gesvd', got "
                         f"{lapack_driver!r}")
    if not compute_uv:
        return np.linalg.svd(a, compute_uv=False)
    return tuple(np.linalg.svd(a, full_matrices=bool(full_matrices)))


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> Any:
    """(Q, R) with a = Q R (scipy.linalg.qr): ``mode`` 'full' (Q is M x M), 'economic' (Q is
    M x K), 'r' (the tuple (R,), as SciPy's); numpy.linalg.qr's rules.  ``pivoting`` and
    mode 'raw' are not supported (they raise)."""
    if pivoting:
        raise NotImplementedError("scipy.linalg.qr(pivoting=True) is not supported (the "
                                  "column permutation is not differentiable)")
    if mode not in ("full", "economic", "r"):
        raise (NotImplementedError("scipy.linalg.qr(mode='raw') is not supported")
               if mode == "raw" else
               ValueError(f"scipy.linalg.qr: mode must be 'full', 'r', 'economic' or 'raw', "
                          f"got {mode!r}"))
    a = _asarray(a)
    if mode == "r":
        m, n = a.shape[-2], a.shape[-1]
        R = np.linalg.qr(a, mode="r")
        if m > n:  # SciPy's full R is M x N (zero rows below)
            z = np.zeros(tuple(a.shape[:-2]) + (m - n, n), dtype=np.asarray(value(R)).dtype)
            R = np.concatenate([R, z], axis=-2)
        return (R,)
    return tuple(np.linalg.qr(a, mode="complete" if mode == "full" else "reduced"))


def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True,
       p_indices: bool = False) -> tuple:
    """(P, L, U) with a = P L U (scipy.linalg.lu): for an M x N ``a``, L is M x K (unit
    lower trapezoidal), U is K x N (upper trapezoidal), K = min(M, N); (P L, U) with
    ``permute_l``; the permutation as row indices with ``p_indices`` (a = L[p] U).  The
    square block is lu_factor's primitive (its VJP two triangular solves); the rest of a tall
    L is A2 U^-1, of a wide U L^-1 A2 (triangular solves).  P (or p) is a constant."""
    a = _asarray(a)
    if len(a.shape) != 2:
        raise NotImplementedError(f"scipy.linalg.lu: a 2-D matrix is supported, got shape "
                                  f"{tuple(a.shape)}")
    m, n = a.shape
    k = min(m, n)
    if m == n:
        r = np.arange(m)
        block = a
    else:  # the row order of the whole matrix's pivoting (SciPy's own), then the block's
        pl_idx = _sl.lu(np.asarray(value(a)), p_indices=True)[0]
        r = np.argsort(pl_idx)
        block = a[r][:k] if m > n else a[r][:, :k]
    packed, piv = lu_factor(block)
    r = r[np.concatenate([_perm(piv), np.arange(k, m)])]  # a[r][:k, :k] = L1 U1
    strict = np.tri(k, k, -1, dtype=bool)
    L = packed * strict + np.eye(k)
    U = packed * ~strict
    if m > n:  # L2 U = A2
        L = np.concatenate([L, _mT(solve_triangular(packed, _mT(a[r][k:]), trans=1))], axis=0)
    elif m < n:  # L U2 = A2
        U = np.concatenate([U, solve_triangular(packed, a[r][:, k:], lower=True,
                                                unit_diagonal=True)], axis=1)
    inv = np.argsort(r)       # a = L[inv] U
    if permute_l:
        return L[inv], U
    if p_indices:
        return inv, L, U
    dt = np.asarray(value(packed)).dtype
    return np.eye(m, dtype=dt)[r].T, L, U


def polar(a: Any, side: str = "right") -> tuple:
    """(u, p): a = u p (``side='right'``) or a = p u ('left') with u unitary (orthonormal
    columns) and p Hermitian positive semi-definite (scipy.linalg.polar), from the SVD
    a = W diag(s) Vh: u = W Vh, p = Vh^H diag(s) Vh (right) or W diag(s) W^H (left).
    Differentiable through numpy.linalg.svd's rules (distinct singular values)."""
    if side not in ("right", "left"):
        raise ValueError("scipy.linalg.polar: side must be either 'right' or 'left'")
    a = _asarray(a)
    if len(a.shape) != 2:
        raise ValueError("scipy.linalg.polar: a must be a 2-D array")
    w, s, vh = np.linalg.svd(a, full_matrices=False)
    u = w @ vh
    if side == "right":
        p = (_mH(vh) * s) @ vh
    else:
        p = (w * s) @ _mH(w)
    return u, p
