"""Linear algebra: inverses, determinants, solves and decompositions, batched over (..., m, n).

Multi-output functions (eigh, eig, svd, qr, slogdet) are each ONE primitive whose result
packs all outputs along a last axis (each output flattened over its matrix dims, batch
dims kept); ``np.linalg.eigh(t)`` then returns NumPy's own result tuple of unpacked
views (getitem + reshape, themselves primitives).  Why one packed primitive rather than
one primitive per output sharing a cached decomposition:

* the rule sees the cotangents of all outputs at once (the eigenvalue and eigenvector
  parts of an eigh gradient combine in one formula), and an output the loss does not
  use arrives as exact zeros -- which is how the rule knows that the eigenvectors do not
  matter and a degenerate spectrum is harmless;
* under higher-order differentiation the rule receives ``ans`` as a Tensor on the graph,
  so the decomposition it unpacks (V, U, Q ...) is itself differentiable: no cache that
  could hand a rule a constant where a function of the input is needed.

Conventions (PyTorch's): eigh and cholesky read one triangle of a Hermitian input, and
their derivatives are those of the Hermitian matrix: gradients come out Hermitian and
tangents are Hermitian-projected.  Complex inputs follow grad = dL/dx + i dL/dy.
Decomposition gradients exist only where the decomposition is locally unique; where it is
not (degenerate eigen/singular values, a phase-dependent loss of complex eigenvectors,
full_matrices=True extra columns, rank deficiency) the rule checks whether the loss
actually depends on the ambiguous part, and raises GradientError if it does instead of
returning inf/NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import arrays as _arrays

from ..core.errors import GradientError, user_line
from ..core.registry import register
from . import elementwise as E
from . import reduce as R
from . import shape as S
from .products import einsum, matmul
from .util import defprim, is_complex, unbroadcast, value

try:  # NumPy's named result tuples
    from numpy.linalg._linalg import EighResult, EigResult, QRResult, SlogdetResult, SVDResult
except ImportError:  # pragma: no cover
    from collections import namedtuple

    EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")
    EigResult = namedtuple("EigResult", "eigenvalues eigenvectors")
    QRResult = namedtuple("QRResult", "Q R")
    SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")
    SVDResult = namedtuple("SVDResult", "U S Vh")

# relative tolerances: a gap below _GAP * scale is a degeneracy; a numerator below
# _NUM * (size of the cotangent) counts as zero (the loss does not depend on it)
_GAP = 1e-10
_NUM = 1e-8

# ---------------------------------------------------------------------------------
# helpers (all work on plain arrays and on Tensors, and are differentiable)


def _mT(x: Any) -> Any:
    return S.swapaxes(x, -1, -2)


def _mH(x: Any) -> Any:
    return E.conj(S.swapaxes(x, -1, -2))


def _herm(x: Any) -> Any:
    return (x + _mH(x)) * 0.5


def _skew(x: Any) -> Any:
    return (x - _mH(x)) * 0.5


def _diag(x: Any) -> Any:
    return einsum("...ii->...i", x)


def _diag_embed(v: Any) -> Any:
    n = v.shape[-1]
    return S.expand_dims(v, -1) * np.eye(n)


def _col(v: Any) -> Any:
    return S.expand_dims(v, -1)


def _row(v: Any) -> Any:
    return S.expand_dims(v, -2)


def _tril_mask(n: int, k: int = 0, m: int | None = None) -> np.ndarray:
    return np.tri(n, n if m is None else m, k, dtype=bool)


def _nonzero(x: Any) -> bool:
    return x is not None and bool(np.any(value(x) != 0))


def _amax(x: Any) -> float:
    v = np.abs(value(x))
    return float(np.max(v, initial=0.0))


def _trace_prod(a: Any, b: Any) -> Any:
    """tr(a @ b) over the last two axes."""
    return einsum("...ij,...ji->...", a, b)


def _batch(x: Any, k: int = 2) -> tuple:
    return tuple(x.shape[:len(x.shape) - k])


def _flat_shape(p: Any, batch: tuple) -> tuple:
    """``batch + (size of one output per batch element,)``: spelled out, not -1, because
    NumPy cannot infer -1 for an empty batch (a (0, 3, 3) stack)."""
    return batch + (math.prod(p.shape[len(batch):]),)


def _pack_np(parts: list, batch: tuple) -> np.ndarray:
    return np.concatenate([np.reshape(p, _flat_shape(p, batch)) for p in parts], axis=-1)


def _pack(parts: list, batch: tuple) -> Any:
    return S.concatenate([S.reshape(p, _flat_shape(p, batch)) for p in parts], axis=-1)


def _unpack(p: Any, batch: tuple, layout: list) -> list:
    """Split a packed value into its outputs; layout: [(shape, real), ...]."""
    out, start = [], 0
    cplx = is_complex(p)
    for shape, real in layout:
        size = math.prod(shape)
        piece = S.reshape(p[..., start:start + size], batch + tuple(shape))
        if real and cplx:
            piece = E.real(piece)
        out.append(piece)
        start += size
    return out


def _check_square(a: Any, what: str) -> None:
    sh = np.shape(value(a))
    if len(sh) < 2 or sh[-1] != sh[-2]:
        raise np.linalg.LinAlgError(
            f"{what}: last 2 dimensions of the array must be square (got shape {sh})")


def _degenerate(what: str, detail: str, advice: str) -> GradientError:
    return GradientError(
        f"{what}: the derivative is undefined here: {detail}, and the function being "
        f"differentiated depends on that choice.\n  at {user_line()}\n  {advice}"
    )


def _recip(den: Any, deg: np.ndarray) -> Any:
    """1/den where not deg, 0 where deg (differentiable in den)."""
    return E.where(deg, 0.0, 1.0 / E.where(deg, 1.0, den))


def _used(x: Any, axis: int) -> np.ndarray:
    """Which vectors (columns: axis=-2 reduces rows; rows: axis=-1) of a cotangent or
    tangent are non-negligible, relative to the largest entry."""
    v = np.abs(value(x))
    ref = float(np.max(v, initial=0.0))
    return np.any(v > _NUM * ref, axis=axis) if ref > 0 else np.zeros(
        np.delete(v.shape, len(v.shape) + axis), dtype=bool)


def _moved(dP: Any) -> np.ndarray:
    """Indices i whose row or column of dP (= V^-1 dA V) has an off-diagonal entry: the
    tangent rotates vector i towards another one."""
    v = np.abs(value(dP))
    ref = float(np.max(v, initial=0.0))
    off = (v > _NUM * ref) & ~np.eye(v.shape[-1], dtype=bool) if ref > 0 else np.zeros(
        v.shape, dtype=bool)
    return off.any(axis=-1) | off.any(axis=-2)


def _pair_recip(w: Any, used: Any, what: str, plus: bool = False, advice: str = "") -> Any:
    """F_ij = 1/(w_j - w_i) (plus: 1/(w_i + w_j)) off the diagonal, 0 on it.

    Where the denominator vanishes (a repeated value) the vectors of both values are not
    unique, and not differentiable: the term's limit depends on second-order information
    that a first-order rule does not have (for a matrix function V f(w) V^H it is the
    divided difference f'(w)).  So the rule may use 0 there only when neither vector is
    ``used`` (a bool per index: the loss depends on it / the tangent rotates it);
    otherwise it raises.
    """
    wv = value(w)
    n = wv.shape[-1]
    a, b = wv[..., None, :], wv[..., :, None]
    den_v = a + b if plus else a - b
    scale = float(np.max(np.abs(wv), initial=0.0))
    eye = np.eye(n, dtype=bool)
    deg = (np.abs(den_v) <= _GAP * scale) | eye
    if used is not None:
        bad = deg & ~eye & (used[..., :, None] | used[..., None, :])
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            i, j = idx[-2], idx[-1]
            wi, wj = wv[idx[:-2] + (i,)], wv[idx[:-2] + (j,)]
            what_eq = "both (nearly) zero" if plus else "(nearly) equal"
            raise _degenerate(
                what, f"the values {wi:.6g} and {wj:.6g} (positions {i}, {j}) are {what_eq}, "
                f"so the vectors that belong to them are not unique (nor differentiable)",
                advice)
    wa, wb = S.expand_dims(w, -2), S.expand_dims(w, -1)
    return _recip(wa + wb if plus else wa - wb, deg)


def _check_phase(m: Any, what: str) -> None:
    """Complex eigen/singular vectors are unique up to a phase: the loss must not see it."""
    d = np.imag(np.diagonal(value(m), axis1=-2, axis2=-1))
    ref = _amax(m)
    if np.any(np.abs(d) > 1e-6 * max(ref, 1e-300) + 1e-12):
        raise _degenerate(
            what, "complex eigen/singular vectors are determined only up to a phase "
            "factor e^{i phi} per vector", "Use a function of the vectors that does not "
            "depend on their phase (|v|, v v^H, U @ diag(S) @ Vh ...).")


# ---------------------------------------------------------------------------------
# inv, det (via the adjugate), slogdet, solve


def _inv_fwd(a: Any) -> Any:
    return np.linalg.inv(a)


inv = defprim(
    _inv_fwd, "linalg.inv", np_names="linalg.inv", saves=(),
    vjp=(lambda g, ans, a: -matmul(_mH(ans), matmul(g, _mH(ans))),),
    jvp=(lambda da, ans, a: -matmul(ans, matmul(da, ans)),),
)


def _prod_except(s: np.ndarray) -> np.ndarray:
    """p_i = prod_{j != i} s_j along the last axis, without dividing (exact with zeros)."""
    ones = np.ones(s.shape[:-1] + (1,), s.dtype)
    left = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(s, -1)[..., :-1]], axis=-1),
                               axis=-1), -1)
    return left * right


def _adjugate_fwd(a: Any) -> Any:
    # adj(U S Vh) = adj(Vh) adj(S) adj(U) = det(U) det(Vh) Vh^H diag(prod_{j!=i} s_j) U^H,
    # exact for singular matrices too (where det(A) inv(A) is not)
    a = _arrays.asarray(a)
    if a.shape[-1] == 0:
        return np.zeros_like(a)
    u, s, vh = np.linalg.svd(a)
    c = np.linalg.det(u) * np.linalg.det(vh)
    p = _prod_except(s)
    vh_h = np.conj(np.swapaxes(vh, -1, -2))
    return c[..., None, None] * np.matmul(vh_h * p[..., None, :], np.conj(np.swapaxes(u, -1, -2)))


def _well_conditioned(a: Any) -> bool:
    # the det * inv formulas lose cond(A) * eps; beyond cond 1e3 the rules average over
    # well-conditioned shifts (exact also at singular A, see _shift_average)
    av = value(a)
    if av.size == 0:  # an empty batch or 0x0 matrices: nothing to be ill-conditioned
        return True
    s = np.linalg.svd(av, compute_uv=False)
    return bool(np.all(s[..., -1] > 1e-3 * s[..., 0]))


def _shifts(a: Any) -> list:
    """A + t_k I for the n-th roots of unity t_k = r e^(2 pi i k / n), r = 2 ||A||_2 (per
    matrix): every shift is well conditioned (its singular values are >= ||A||_2)."""
    av = _arrays.asarray(value(a))
    n = av.shape[-1]
    r = 2.0 * np.linalg.norm(av, 2, axis=(-2, -1), keepdims=True)
    r = np.where(r > 0, r, 1.0)
    eye = np.eye(n)
    return [a + (r * np.exp(2j * np.pi * k / n)) * eye for k in range(n)]


def _shift_average(a: Any, rule: Any) -> Any:
    """(1/n) sum_k rule(A + t_k I): for a linear map of a polynomial of degree < n in A, as
    adj(A + tI) and its derivatives (degree n - 1 and below in t), exactly its value at
    t = 0.  So at a singular A the adjugate's derivatives come from well-conditioned
    matrices through inv and det, whose rules hold to every order (the SVD of a singular
    matrix is not smooth in its zero singular value's vectors beyond first order)."""
    total = None
    for b in _shifts(a):
        t = rule(b)
        total = t if total is None else total + t
    total = total * (1.0 / np.shape(value(a))[-1])
    return total if is_complex(a) else E.real(total)  # a real A: the imaginary parts cancel


def _adj_jvp_at(b: Any, da: Any) -> Any:
    # adj = det * inv:  d adj = tr(inv dA) adj - inv dA adj
    bi = inv(b)
    adj = _col(_col(det(b))) * bi
    return _col(_col(_trace_prod(bi, da))) * adj - matmul(bi, matmul(da, adj))


def _adj_vjp_at(b: Any, g: Any) -> Any:
    bi_h = _mH(inv(b))
    adj = _col(_col(det(b))) * inv(b)
    gam = R.sum(g * E.conj(adj), axis=(-2, -1), keepdims=True)
    return gam * bi_h - matmul(bi_h, matmul(g, _mH(adj)))


def _adjugate_jvp(da: Any, ans: Any, a: Any) -> Any:
    if _well_conditioned(a):
        # adj = det * inv:  d adj = tr(inv dA) adj - inv dA adj
        ai = inv(a)
        return _col(_col(_trace_prod(ai, da))) * ans - matmul(ai, matmul(da, ans))
    return _shift_average(a, lambda b: _adj_jvp_at(b, da))


def _adjugate_vjp(g: Any, ans: Any, a: Any) -> Any:
    if _well_conditioned(a):
        ai_h = _mH(inv(a))
        gam = R.sum(g * E.conj(ans), axis=(-2, -1), keepdims=True)
        return gam * ai_h - matmul(ai_h, matmul(g, _mH(ans)))
    return _shift_average(a, lambda b: _adj_vjp_at(b, g))


adjugate = defprim(_adjugate_fwd, "linalg.adjugate", vjp=(_adjugate_vjp,), jvp=(_adjugate_jvp,))


def _det_fwd(a: Any) -> Any:
    return np.linalg.det(a)


# d det / dA_ij = adj(A)_ji: exact for singular A too (the adjugate is a polynomial)
det = defprim(
    _det_fwd, "linalg.det", np_names="linalg.det", saves_ans=False,
    vjp=(lambda g, ans, a: _col(_col(g)) * _mH(adjugate(a)),),
    jvp=(lambda da, ans, a: _trace_prod(adjugate(a), da),),
)


def _slogdet_fwd(a: Any) -> Any:
    sign, lad = np.linalg.slogdet(a)
    return np.stack([sign, lad.astype(sign.dtype)], axis=-1)


def _check_nonsingular(ans: Any, what: str) -> None:
    if np.any(np.isneginf(np.real(value(ans)[..., 1]))):
        raise GradientError(
            f"{what}: the matrix is singular (logabsdet = -inf), so the derivative of "
            f"logabsdet is infinite.\n  at {user_line()}\n  Differentiate det itself (its "
            f"gradient, the adjugate, is finite everywhere) or regularise the matrix.")


def _slogdet_vjp(g: Any, ans: Any, a: Any) -> Any:
    # t = tr(A^-1 dA): d logabsdet = Re t, d sign = i sign Im t (0 for real A)
    _check_nonsingular(ans, "linalg.slogdet")
    gs, gl = g[..., 0], E.real(g[..., 1])
    sign = ans[..., 0]
    c = E.real(1j * E.conj(gs) * sign) if is_complex(ans) else 0.0
    coef = gl + 1j * c if is_complex(ans) else gl
    return _col(_col(coef)) * _mH(inv(a))


def _slogdet_jvp(da: Any, ans: Any, a: Any) -> Any:
    _check_nonsingular(ans, "linalg.slogdet (forward mode)")
    t = _trace_prod(inv(a), da)
    if not is_complex(ans):
        return S.stack([E.zeros_like(E.real(t)), E.real(t)], axis=-1)
    return S.stack([1j * ans[..., 0] * E.imag(t), E.real(t) * (1 + 0j)], axis=-1)


slogdet_prim = defprim(_slogdet_fwd, "linalg.slogdet", vjp=(_slogdet_vjp,), jvp=(_slogdet_jvp,))


def slogdet(a: Any) -> Any:
    p = slogdet_prim(a)
    sign = p[..., 0]
    lad = p[..., 1]
    if is_complex(lad):
        lad = E.real(lad)
    return SlogdetResult(sign, lad)


register("linalg.slogdet", slogdet)


def _solve_fwd(a: Any, b: Any) -> Any:
    return np.linalg.solve(a, b)


def _solve_cols(a: Any, b: Any, vec: bool) -> Any:
    """a^-1 b, with b a stack of vectors when vec (NumPy 2 treats only 1-D b as a vector)."""
    if vec:
        return solve_prim(a, _col(b))[..., 0]
    return solve_prim(a, b)


def _solve_gb(g: Any, a: Any, b: Any) -> Any:
    vec = len(b.shape) == 1
    return _solve_cols(_mH(a), g, vec)


def _solve_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    gb = _solve_gb(g, a, b)
    if len(b.shape) == 1:
        ga = -_col(gb) * _row(E.conj(ans))
    else:
        ga = -matmul(gb, _mH(ans))
    return unbroadcast(a, ga)


def _solve_jvp_a(da: Any, ans: Any, a: Any, b: Any) -> Any:
    vec = len(b.shape) == 1
    rhs = matmul(da, _col(ans))[..., 0] if vec else matmul(da, ans)
    return -_solve_cols(a, rhs, vec)


solve_prim = defprim(
    _solve_fwd, "linalg.solve",
    vjp=(_solve_vjp_a, lambda g, ans, a, b: unbroadcast(b, _solve_gb(g, a, b))),
    jvp=(_solve_jvp_a, lambda db, ans, a, b: _solve_cols(a, db, len(b.shape) == 1)),
)



def solve(a: Any, b: Any) -> Any:
    return solve_prim(a if hasattr(a, "shape") else _arrays.asarray(a),
                      b if hasattr(b, "shape") else _arrays.asarray(b))


register("linalg.solve", solve)

# ---------------------------------------------------------------------------------
# cholesky


def _chol_fwd(a: Any, upper: bool = False) -> Any:
    return np.linalg.cholesky(a, upper=upper) if upper else np.linalg.cholesky(a)


def _phi(x: Any, n: int) -> Any:
    """Lower triangle with the diagonal halved (real)."""
    return x * _tril_mask(n, -1) + _diag_embed(E.real(_diag(x)) * 0.5)


def _chol_vjp(g: Any, ans: Any, a: Any, upper: bool = False) -> Any:
    L = _mH(ans) if upper else ans
    gL = _mH(g) if upper else g
    n = L.shape[-1]
    Li = inv(L)
    ga = matmul(_mH(Li), matmul(_phi(matmul(_mH(L), gL), n), Li))
    return _herm(ga)


def _chol_jvp(da: Any, ans: Any, a: Any, upper: bool = False) -> Any:
    L = _mH(ans) if upper else ans
    n = L.shape[-1]
    Li = inv(L)
    dL = matmul(L, _phi(matmul(Li, matmul(_herm(da), _mH(Li))), n))
    return _mH(dL) if upper else dL


cholesky_prim = defprim(_chol_fwd, "linalg.cholesky", saves=(), vjp=(_chol_vjp,),
                        jvp=(_chol_jvp,))


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    return cholesky_prim(a, upper=bool(upper))


register("linalg.cholesky", cholesky)

# ---------------------------------------------------------------------------------
# eigh


def _eigh_layout(n: int) -> list:
    return [((n,), True), ((n, n), False)]


def _eigh_fwd(a: Any, UPLO: str = "L", vectors: bool = True) -> Any:
    if not vectors:
        return np.linalg.eigvalsh(a, UPLO=UPLO)
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return _pack_np([w, v], w.shape[:-1])


def _eigh_parts(ans: Any, a: Any, UPLO: str, vectors: bool) -> tuple:
    if not vectors:
        ans = eigh_prim(a, UPLO=UPLO, vectors=True)
    n = a.shape[-1]
    return tuple(_unpack(ans, _batch(a), _eigh_layout(n)))


_EIG_ADVICE = ("Differentiate only the eigenvalues there (np.linalg.eigvalsh / eigvals), "
               "or the eigenvectors of distinct eigenvalues; for a matrix function "
               "V @ diag(f(w)) @ V^H write it without the eigenvectors if you can.")


def _eigh_vjp(g: Any, ans: Any, a: Any, UPLO: str = "L", vectors: bool = True) -> Any:
    w, V = _eigh_parts(ans, a, UPLO, vectors)
    n = a.shape[-1]
    if vectors:
        gw, gV = _unpack(g, _batch(a), _eigh_layout(n))
    else:
        gw, gV = g, None
    Z = _diag_embed(gw)
    if _nonzero(gV):
        M = matmul(_mH(V), gV)
        if is_complex(M):
            _check_phase(M, "linalg.eigh")
        Z = Z + _pair_recip(w, _used(gV, -2), "linalg.eigh", advice=_EIG_ADVICE) * _skew(M)
    return matmul(V, matmul(Z, _mH(V)))


def _eigh_jvp(da: Any, ans: Any, a: Any, UPLO: str = "L", vectors: bool = True) -> Any:
    w, V = _eigh_parts(ans, a, UPLO, vectors)
    dP = matmul(_mH(V), matmul(_herm(da), V))
    dw = E.real(_diag(dP))
    if not vectors:
        return dw
    F = _pair_recip(w, _moved(dP), "linalg.eigh (forward mode)", advice=_EIG_ADVICE)
    dV = matmul(V, F * dP)
    return _pack([dw, dV], _batch(a))


eigh_prim = defprim(_eigh_fwd, "linalg.eigh", vjp=(_eigh_vjp,), jvp=(_eigh_jvp,))


def eigh(a: Any, UPLO: str = "L") -> Any:
    _check_square(a, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise ValueError("linalg.eigh: UPLO argument must be 'L' or 'U'")
    n = np.shape(value(a))[-1]
    p = eigh_prim(a, UPLO=UPLO, vectors=True)
    w, V = _unpack(p, _batch(p, 1), _eigh_layout(n))
    return EighResult(w, V)


def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    return eigh_prim(a, UPLO=UPLO, vectors=False)


register("linalg.eigh", eigh)
register("linalg.eigvalsh", eigvalsh)

# ---------------------------------------------------------------------------------
# eig (general square matrices: complex eigenvalues/vectors, unit-norm vectors)


def _eig_fwd(a: Any, vectors: bool = True) -> Any:
    if not vectors:
        return np.linalg.eigvals(a)
    w, v = np.linalg.eig(a)
    return _pack_np([w, v], w.shape[:-1])


def _eig_parts(ans: Any, a: Any, vectors: bool) -> tuple:
    if not vectors:
        ans = eig_prim(a, vectors=True)
    n = a.shape[-1]
    return tuple(_unpack(ans, _batch(a), [((n,), False), ((n, n), False)]))


def _eig_vjp(g: Any, ans: Any, a: Any, vectors: bool = True) -> Any:
    w, V = _eig_parts(ans, a, vectors)
    n = a.shape[-1]
    if vectors:
        gw, gV = _unpack(g, _batch(a), [((n,), False), ((n, n), False)])
    else:
        gw, gV = g, None
    Z = _diag_embed(gw)
    VH = _mH(V)
    if _nonzero(gV):
        M = matmul(VH, gV)
        if is_complex(M):
            _check_phase(M, "linalg.eig")
        # project out the normalisation |v_i| = 1
        N = M - matmul(matmul(VH, V), _diag_embed(E.real(_diag(M))))
        F = _pair_recip(w, _used(gV, -2), "linalg.eig", advice=_EIG_ADVICE)
        Z = Z + E.conj(F) * N
    return matmul(_mH(inv(V)), matmul(Z, VH))


def _eig_jvp(da: Any, ans: Any, a: Any, vectors: bool = True) -> Any:
    w, V = _eig_parts(ans, a, vectors)
    dP = matmul(inv(V), matmul(da, V))
    dw = _diag(dP)
    if not vectors:
        return dw
    F = _pair_recip(w, _moved(dP), "linalg.eig (forward mode)", advice=_EIG_ADVICE)
    dV = matmul(V, F * dP)
    dV = dV - V * _row(E.real(_diag(matmul(_mH(V), dV))))
    return _pack([dw, dV], _batch(a))


eig_prim = defprim(_eig_fwd, "linalg.eig", vjp=(_eig_vjp,), jvp=(_eig_jvp,))


def eig(a: Any) -> Any:
    _check_square(a, "linalg.eig")
    n = np.shape(value(a))[-1]
    p = eig_prim(a, vectors=True)
    w, V = _unpack(p, _batch(p, 1), [((n,), False), ((n, n), False)])
    return EigResult(w, V)


def eigvals(a: Any) -> Any:
    return eig_prim(a, vectors=False)


register("linalg.eig", eig)
register("linalg.eigvals", eigvals)

# ---------------------------------------------------------------------------------
# svd


def _svd_layout(m: int, n: int, full: bool) -> list:
    k = min(m, n)
    return [((m, m if full else k), False), ((k,), True), ((n if full else k, n), False)]


def _svd_fwd(a: Any, full_matrices: bool = True, vectors: bool = True,
             hermitian: bool = False) -> Any:
    if not vectors:
        return np.linalg.svd(a, compute_uv=False, hermitian=hermitian)
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices, hermitian=hermitian)
    return _pack_np([u, s, vh], s.shape[:-1])


def svd_parts(a: Any, hermitian: bool = False) -> list:
    """U, S, Vh of the reduced SVD, differentiable."""
    m, n = a.shape[-2:]
    p = svd_prim(a, full_matrices=False, vectors=True, hermitian=hermitian)
    return _unpack(p, _batch(a), _svd_layout(m, n, False))


_SVD_ADVICE = ("Differentiate only the singular values there (np.linalg.svd(a, "
               "compute_uv=False)), or the singular vectors of distinct nonzero singular "
               "values.")


def _svd_reduced(ans: Any, g: Any, a: Any, full: bool, vectors: bool, herm: bool) -> tuple:
    m, n = a.shape[-2:]
    k = min(m, n)
    if not vectors:
        U, s, Vh = svd_parts(a, herm)
        return U, s, Vh, None, g, None
    U, s, Vh = _unpack(ans, _batch(a), _svd_layout(m, n, full))
    gU, gs, gVh = _unpack(g, _batch(a), _svd_layout(m, n, full)) if g is not None else (None,) * 3
    if full and m != n:
        if g is not None and (_nonzero(gU[..., :, k:]) or _nonzero(gVh[..., k:, :])):
            raise _degenerate(
                "linalg.svd(full_matrices=True)", f"for a {m}x{n} matrix the last "
                f"{max(m, n) - k} columns of {'U' if m > n else 'Vh^H'} are any orthonormal "
                "completion", "Call np.linalg.svd(a, full_matrices=False), or use only the "
                "first min(m, n) singular vectors.")
        U, Vh = U[..., :, :k], Vh[..., :k, :]
        if g is not None:
            gU, gVh = gU[..., :, :k], gVh[..., :k, :]
    return U, s, Vh, gU, gs, gVh


def _inv_s(s: Any, used: np.ndarray, what: str) -> Any:
    """1/s, 0 where s vanishes; there the vector must not be ``used`` (else raise)."""
    sv = value(s)
    deg = sv <= _GAP * float(np.max(sv, initial=0.0))
    if np.any(deg & used):
        raise _degenerate(what, "a singular value is zero, so its singular vectors are not "
                          "unique (nor differentiable)", _SVD_ADVICE)
    return _recip(s, deg)


def _svd_vjp(g: Any, ans: Any, a: Any, full_matrices: bool = True, vectors: bool = True,
             hermitian: bool = False) -> Any:
    if value(a).size == 0:  # an empty stack or 0-size matrices: an empty gradient
        return E.zeros_like(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    U, s, Vh, gU, gs, gVh = _svd_reduced(ans, g, a, full_matrices, vectors, hermitian)
    V = _mH(Vh)
    Z = _diag_embed(gs)
    useU, useV = _nonzero(gU), _nonzero(gVh)
    if useU or useV:
        used = np.zeros(np.shape(value(s)), dtype=bool)
        if useU:
            used = used | _used(gU, -2)
        if useV:
            used = used | _used(gVh, -1)
        Mu = matmul(_mH(U), gU) if useU else None
        Mv = matmul(Vh, _mH(gVh)) if useV else None
        A1 = Mu + Mv if useU and useV else (Mu if useU else Mv)
        A2 = Mu - Mv if useU and useV else (Mu if useU else -Mv)
        if is_complex(A1):
            _check_phase(A1, "linalg.svd")
        K1, K2 = _skew(A1), _skew(A2)
        Z = Z + _pair_recip(s, used, "linalg.svd", advice=_SVD_ADVICE) * K1
        Z = Z + _pair_recip(s, used, "linalg.svd", plus=True, advice=_SVD_ADVICE) * K2
        if useU and is_complex(Mu):
            Z = Z + 1j * _diag_embed(E.imag(_diag(Mu)) * _inv_s(s, used, "linalg.svd"))
    ga = matmul(U, matmul(Z, Vh))
    if useU and m > k:
        perp = gU - matmul(U, matmul(_mH(U), gU))
        ga = ga + matmul(perp * _row(_inv_s(s, _used(gU, -2), "linalg.svd")), Vh)
    if useV and n > k:
        perp = gVh - matmul(matmul(gVh, V), Vh)
        ga = ga + matmul(U, _col(_inv_s(s, _used(gVh, -1), "linalg.svd")) * perp)
    return _herm(ga) if hermitian else ga


def _svd_jvp(da: Any, ans: Any, a: Any, full_matrices: bool = True, vectors: bool = True,
             hermitian: bool = False) -> Any:
    m, n = a.shape[-2:]
    k = min(m, n)
    if value(a).size == 0:  # nothing can move: the derivative of an empty stack is 0
        return E.zeros_like(ans)
    if vectors and full_matrices and m != n:
        raise _degenerate(
            "linalg.svd(full_matrices=True) (forward mode)", f"for a {m}x{n} matrix the last "
            f"{max(m, n) - k} singular vectors are any orthonormal completion",
            "Call np.linalg.svd(a, full_matrices=False).")
    if hermitian:
        da = _herm(da)
    U, s, Vh, _, _, _ = _svd_reduced(ans, None, a, full_matrices, vectors, hermitian)
    V = _mH(Vh)
    dP = matmul(_mH(U), matmul(da, V))
    ds = E.real(_diag(dP))
    if not vectors:
        return ds
    what = "linalg.svd (forward mode)"
    moved = _moved(dP)
    sym, sk = _herm(dP), _skew(dP)
    Fm = _pair_recip(s, moved, what, advice=_SVD_ADVICE)
    Fp = _pair_recip(s, moved, what, plus=True, advice=_SVD_ADVICE)
    Wu = Fm * sym + Fp * sk
    Wv = Fm * sym - Fp * sk
    if is_complex(dP):
        im = E.imag(_diag(dP))
        Wu = Wu + 1j * _diag_embed(im * _inv_s(s, _used(np.expand_dims(value(im), -2), -2),
                                                what))
    dU = matmul(U, Wu)
    dV = matmul(V, Wv)
    if m > k:
        rest = matmul(da, V) - matmul(U, dP)
        dU = dU + rest * _row(_inv_s(s, _used(rest, -2), what))
    if n > k:
        rest = matmul(_mH(da), U) - matmul(V, _mH(dP))
        dV = dV + rest * _row(_inv_s(s, _used(rest, -2), what))
    return _pack([dU, ds, _mH(dV)], _batch(a))


svd_prim = defprim(_svd_fwd, "linalg.svd", vjp=(_svd_vjp,), jvp=(_svd_jvp,))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    sh = np.shape(value(a))
    if len(sh) < 2:
        raise np.linalg.LinAlgError(
            f"linalg.svd: {len(sh)}-dimensional array given. Array must be at least "
            "two-dimensional")
    if not compute_uv:
        return svd_prim(a, full_matrices=bool(full_matrices), vectors=False,
                        hermitian=bool(hermitian))
    m, n = sh[-2:]
    p = svd_prim(a, full_matrices=bool(full_matrices), vectors=True, hermitian=bool(hermitian))
    return SVDResult(*_unpack(p, _batch(p, 1), _svd_layout(m, n, bool(full_matrices))))


def svdvals(x: Any, /) -> Any:
    return svd(x, compute_uv=False)


register("linalg.svd", svd)
register("linalg.svdvals", svdvals)

# ---------------------------------------------------------------------------------
# qr (modes 'reduced', 'complete', 'r')


def _qr_layout(m: int, n: int, mode: str) -> list:
    k = min(m, n)
    if mode == "complete":
        return [((m, m), False), ((m, n), False)]
    return [((m, k), False), ((k, n), False)]


def _qr_fwd(a: Any, mode: str = "reduced") -> Any:
    if mode == "r":
        return np.linalg.qr(a, mode="r")
    q, r = np.linalg.qr(a, mode=mode)
    return _pack_np([q, r], q.shape[:-2])


def _check_rank(R_: Any, what: str) -> None:
    d = np.abs(np.diagonal(value(R_), axis1=-2, axis2=-1))
    if np.any(d <= _GAP * np.max(d, initial=0.0)):
        raise GradientError(
            f"{what}: the derivative of QR needs a matrix of full rank (a diagonal entry of R "
            f"is zero, so Q is not unique there).\n  at {user_line()}")


def _qr_parts(ans: Any, g: Any, a: Any, mode: str) -> tuple:
    m, n = a.shape[-2:]
    k = min(m, n)
    if mode == "r":
        Q, R_ = _unpack(qr_prim(a, mode="reduced"), _batch(a), _qr_layout(m, n, "reduced"))
        return Q, R_, None, g
    Q, R_ = _unpack(ans, _batch(a), _qr_layout(m, n, mode))
    gQ, gR = _unpack(g, _batch(a), _qr_layout(m, n, mode)) if g is not None else (None, None)
    if mode == "complete" and m > n:
        if g is not None and _nonzero(gQ[..., :, n:]):
            raise _degenerate(
                "linalg.qr(mode='complete')", f"for a {m}x{n} matrix the last {m - n} columns "
                "of Q are any orthonormal completion", "Use mode='reduced'.")
        Q, R_ = Q[..., :, :k], R_[..., :k, :]
        if g is not None:
            gQ, gR = gQ[..., :, :k], gR[..., :k, :]
    return Q, R_, gQ, gR


def _rinv_right(X: Any, R_: Any) -> Any:
    """X R^-1 for square R."""
    return _mH(solve_prim(_mH(R_), _mH(X)))


def _rinvH_right(X: Any, R_: Any) -> Any:
    """X R^-H for square R."""
    return _mH(solve_prim(R_, _mH(X)))


def _qr_square_vjp(Q: Any, R_: Any, gQ: Any, gR: Any) -> Any:
    k = R_.shape[-1]
    M = 0.0
    if gR is not None:
        M = matmul(gR, _mH(R_))
    if gQ is not None:
        M = M - matmul(_mH(Q), gQ)
    up = ~_tril_mask(k, 0)
    lo = _tril_mask(k, -1)
    N = M * up + _diag_embed(E.real(_diag(M))) + _mH(M) * lo
    top = matmul(Q, N) if gQ is None else gQ + matmul(Q, N)
    return _rinvH_right(top, R_)


def _qr_vjp(g: Any, ans: Any, a: Any, mode: str = "reduced") -> Any:
    if value(a).size == 0:  # an empty stack or 0-size matrices: an empty gradient
        return E.zeros_like(a)
    m, n = a.shape[-2:]
    Q, R_, gQ, gR = _qr_parts(ans, g, a, mode)
    _check_rank(R_[..., :, :min(m, n)], "linalg.qr")
    if m >= n:
        return _qr_square_vjp(Q, R_, gQ, gR)
    # A = [X | Y] = Q [U | V]: X = Q U is a square QR and V = Q^H Y
    Y = a[..., :, m:]
    U, gU, gV = R_[..., :, :m], gR[..., :, :m], gR[..., :, m:]
    gQ2 = matmul(Y, _mH(gV)) if gQ is None else gQ + matmul(Y, _mH(gV))
    gX = _qr_square_vjp(Q, U, gQ2, gU)
    return S.concatenate([gX, matmul(Q, gV)], axis=-1)


def _qr_square_jvp(Q: Any, R_: Any, da: Any) -> tuple:
    k = R_.shape[-1]
    daRi = _rinv_right(da, R_)
    X = matmul(_mH(Q), daRi)
    L = X * _tril_mask(k, -1)
    C = L - _mH(L)
    if is_complex(X):
        C = C + 1j * _diag_embed(E.imag(_diag(X)))
    Ud = X - C
    return daRi - matmul(Q, Ud), matmul(Ud, R_)


def _qr_jvp(da: Any, ans: Any, a: Any, mode: str = "reduced") -> Any:
    m, n = a.shape[-2:]
    if value(a).size == 0:  # nothing can move: the derivative of an empty stack is 0
        return E.zeros_like(ans)
    if mode == "complete" and m > n:
        raise _degenerate(
            "linalg.qr(mode='complete') (forward mode)", f"for a {m}x{n} matrix the last "
            f"{m - n} columns of Q are any orthonormal completion", "Use mode='reduced'.")
    Q, R_, _, _ = _qr_parts(ans, None, a, mode)
    _check_rank(R_[..., :, :min(m, n)], "linalg.qr (forward mode)")
    if m >= n:
        dQ, dR = _qr_square_jvp(Q, R_, da)
    else:
        dQ, dU = _qr_square_jvp(Q, R_[..., :, :m], da[..., :, :m])
        Y = a[..., :, m:]
        dV = matmul(_mH(dQ), Y) + matmul(_mH(Q), da[..., :, m:])
        dR = S.concatenate([dU, dV], axis=-1)
    if mode == "r":
        return dR
    return _pack([dQ, dR], _batch(a))


qr_prim = defprim(_qr_fwd, "linalg.qr", vjp=(_qr_vjp,), jvp=(_qr_jvp,))


def qr(a: Any, mode: str = "reduced") -> Any:
    sh = np.shape(value(a))
    if len(sh) < 2:
        raise np.linalg.LinAlgError(
            f"linalg.qr: {len(sh)}-dimensional array given. Array must be at least two-dimensional")
    if mode not in ("reduced", "complete", "r"):
        raise NotImplementedError(
            f"linalg.qr(mode={mode!r}) is not differentiable in chainrule; use mode='reduced', "
            "'complete' or 'r' (or call it on t.detach() for a constant)")
    p = qr_prim(a, mode=mode)
    if mode == "r":
        return p
    m, n = sh[-2:]
    return QRResult(*_unpack(p, _batch(p, 1), _qr_layout(m, n, mode)))


register("linalg.qr", qr)

# ---------------------------------------------------------------------------------
# pinv and lstsq (derivatives valid where the rank is locally constant)


def _pinv_fwd(a: Any, rcond: Any = None, hermitian: bool = False, rtol: Any = None) -> Any:
    kw: dict = {"hermitian": hermitian}
    if rtol is not None:
        kw["rtol"] = rtol
    elif rcond is not None:
        kw["rcond"] = rcond
    return np.linalg.pinv(a, **kw)


def _pinv_tangent(P: Any, a: Any, da: Any) -> Any:
    # d(A+) = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P
    daH = _mH(da)
    PPh = matmul(P, _mH(P))
    t2 = matmul(PPh, daH)
    t2 = t2 - matmul(matmul(t2, a), P)
    t3 = matmul(daH, matmul(_mH(P), P))
    t3 = t3 - matmul(P, matmul(a, t3))
    return -matmul(P, matmul(da, P)) + t2 + t3


def _pinv_cotangent(P: Any, a: Any, G: Any) -> Any:
    # the adjoint of _pinv_tangent
    Ph = _mH(P)
    GH = _mH(G)
    t2 = matmul(GH, matmul(P, Ph))
    t2 = t2 - matmul(a, matmul(P, t2))
    t3 = matmul(matmul(Ph, P), GH)
    t3 = t3 - matmul(matmul(t3, P), a)
    return -matmul(Ph, matmul(G, Ph)) + t2 + t3


pinv_prim = defprim(
    _pinv_fwd, "linalg.pinv",
    vjp=(lambda g, ans, a, rcond=None, hermitian=False, rtol=None:
         (_herm if hermitian else (lambda x: x))(_pinv_cotangent(ans, a, g)),),
    jvp=(lambda da, ans, a, rcond=None, hermitian=False, rtol=None:
         _pinv_tangent(ans, a, _herm(da) if hermitian else da),),
)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    return pinv_prim(a, rcond=rcond, hermitian=bool(hermitian), rtol=rtol)


register("linalg.pinv", pinv)


def _lstsq_rc(a: Any, rcond: Any) -> float:
    m, n = a.shape[-2:]
    eps = np.finfo(np.result_type(value(a).dtype, np.float64)).eps
    if rcond is None:
        return eps * max(m, n)
    return eps if rcond < 0 else rcond


def _lstsq_fwd(a: Any, b: Any, rcond: Any = None) -> Any:
    return np.linalg.lstsq(a, b, rcond=rcond)[0]


def _lstsq_vjp_a(g: Any, ans: Any, a: Any, b: Any, rcond: Any = None) -> Any:
    P = pinv_prim(a, rcond=_lstsq_rc(a, rcond))
    G = _col(g) * _row(E.conj(b)) if len(b.shape) == 1 else matmul(g, _mH(b))
    return _pinv_cotangent(P, a, G)


def _lstsq_jvp_a(da: Any, ans: Any, a: Any, b: Any, rcond: Any = None) -> Any:
    P = pinv_prim(a, rcond=_lstsq_rc(a, rcond))
    return matmul(_pinv_tangent(P, a, da), b)


lstsq_prim = defprim(
    _lstsq_fwd, "linalg.lstsq",
    vjp=(_lstsq_vjp_a, lambda g, ans, a, b, rcond=None:
         matmul(_mH(pinv_prim(a, rcond=_lstsq_rc(a, rcond))), g)),
    jvp=(_lstsq_jvp_a, lambda db, ans, a, b, rcond=None:
         matmul(pinv_prim(a, rcond=_lstsq_rc(a, rcond)), db)),
)


def lstsq(a: Any, b: Any, rcond: Any = None) -> Any:
    """(x, residuals, rank, s): x, residuals and s are differentiable, rank is an int."""
    av, bv = _arrays.asarray(value(a)), _arrays.asarray(value(b))
    _, _, rank, _ = np.linalg.lstsq(av, bv, rcond=rcond)
    a = a if hasattr(a, "shape") else av
    b = b if hasattr(b, "shape") else bv
    x = lstsq_prim(a, b, rcond=rcond)
    m, n = av.shape
    if rank == n and m > n:
        r = b - matmul(a, x)
        res = R.sum(E.real(r * E.conj(r)) if is_complex(r) else r * r, axis=0)
        if bv.ndim == 1:
            res = S.reshape(res, (1,))
    else:
        res = np.empty((0,), dtype=np.real(np.empty(0, np.result_type(av, bv))).dtype)
    s = svd(a, compute_uv=False)
    return x, res, rank, s


register("linalg.lstsq", lstsq)

# ---------------------------------------------------------------------------------
# matrix_power


def matrix_power(a: Any, n: int) -> Any:
    try:
        n = int(n) if not isinstance(n, bool) and float(n) == int(n) else None
    except (TypeError, ValueError):
        n = None
    if n is None:
        raise TypeError("linalg.matrix_power: exponent must be an integer")
    _check_square(a, "linalg.matrix_power")
    if n == 0:
        # a constant: the identity has no derivative
        return E.zeros_like(a) + np.eye(np.shape(value(a))[-1], dtype=value(a).dtype)
    if n < 0:
        a, n = inv(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


register("linalg.matrix_power", matrix_power)
