"""Rows for ops/products.py and ops/linalg.py: products (matmul, einsum and everything built
on them) and the linear-algebra functions, batched and complex.

Inputs are chosen well-conditioned (a random matrix plus n*I; SPD matrices for cholesky;
distinct eigen/singular values).  Decompositions that are unique only up to a sign or phase
per vector are tested through gauge-invariant functions of their outputs (|V|^2,
U @ diag(f(S)) @ Vh ...), so central differences and PyTorch see the same function.
"""

import numpy as np

from harness import Point, Table

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

C = np.complex128
ROWS = Table()


row = ROWS.row


def rand(rng, shape, cplx=False):
    a = rng.uniform(-1, 1, shape)
    if cplx:
        a = a + 1j * rng.uniform(-1, 1, shape)
    return a


def wellcond(shape, cplx=False):
    """A random matrix (stack) plus n*I: far from singular."""
    def make(rng):
        return rand(rng, shape, cplx) + shape[-1] * np.eye(shape[-1])
    return make


def spectrum(shape, values, cplx=False):
    """Hermitian matrices Q diag(values) Q^H with a random unitary Q (distinct spectrum)."""
    def make(rng):
        q, _ = np.linalg.qr(rand(rng, shape, cplx) + np.eye(shape[-1]))
        return (q * np.asarray(values)) @ np.conj(np.swapaxes(q, -1, -2))
    return make


def args(*makers):
    return lambda rng: [m(rng) for m in makers]


def sym(x):  # Hermitian part, as both NumPy and torch code
    return (x + np.conj(np.swapaxes(x, -1, -2))) / 2


def tsym(x):
    return (x + x.transpose(-1, -2).conj()) / 2


def tf(f):
    return f if torch is not None else None


# --- matmul --------------------------------------------------------------------------
for sa, sb in [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
               ((2, 2, 3), (3, 4)), ((2, 1, 2, 3), (3, 3, 2)), ((3,), (2, 3, 4)),
               ((2, 3, 4), (4,))]:
    row("matmul", np.matmul, [sa, sb], tf(lambda a, b: torch.matmul(a, b)))
row("matmul", lambda a, b: a @ b, [(2, 3), (3, 2)], id="matmul-operator")
row("matmul", np.matmul, [(2, 3), (3, 2)], tf(lambda a, b: torch.matmul(a, b)), dtype=C,
    order=1, id="matmul-complex")
row("matmul", lambda a, b: np.linalg.matmul(a, b), [(2, 3), (3, 2)], id="linalg.matmul")

# --- einsum --------------------------------------------------------------------------


def ein(spec, shapes, tspec=None, **kw):
    row("einsum", lambda *a: np.einsum(spec, *a), shapes,
        tf(lambda *a: torch.einsum(tspec or spec, *a)), id=f"einsum[{spec}]{shapes}", **kw)


ein("ij,jk->ik", [(2, 3), (3, 4)])
ein("ij,jk", [(2, 3), (3, 4)])
ein("ii->", [(3, 3)])
ein("ii", [(3, 3)])
ein("ii->i", [(3, 3)])
ein("ij->ji", [(2, 3)])
ein("ij->i", [(2, 3)])
ein("ij->", [(2, 3)])
ein("i,i", [(3,), (3,)])
ein("i,j->ij", [(2,), (3,)])
ein("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)])
ein("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)])
ein("...ij,jk", [(2, 2, 3), (3, 2)])
ein("ij...,j->i...", [(2, 3, 2), (3,)])
ein("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)])
ein("iij,jk->ik", [(3, 3, 2), (2, 4)])
ein("ij,ij->ij", [(1, 3), (4, 3)])
ein("Ab,bc", [(2, 3), (3, 2)])
ein("ij,jk->ik", [(2, 3), (3, 2)], dtype=C, order=1)
ein("i,i", [(3,), (3,)], dtype=C, order=1)
row("einsum", lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(2, 3), (3, 2)],
    tf(lambda a, b: torch.einsum("ij,jk->ik", a, b)), id="einsum-sublists")
row("einsum", lambda a: np.einsum(a, [Ellipsis, 0, 0]), [(2, 3, 3)],
    tf(lambda a: torch.einsum("...ii", a)), id="einsum-sublists-ellipsis")
row("einsum", lambda a, b: np.einsum("ij,jk->ik", a, b, optimize=True), [(2, 3), (3, 2)],
    id="einsum-optimize")

# --- composites on einsum / matmul ---------------------------------------------------
row("einsum", lambda a, b: np.tensordot(a, b), [(2, 3, 4), (3, 4, 2)],
    tf(lambda a, b: torch.tensordot(a, b)), id="tensordot[axes=2]")
row("einsum", lambda a, b: np.tensordot(a, b, axes=1), [(2, 3), (3, 4)],
    tf(lambda a, b: torch.tensordot(a, b, dims=1)), id="tensordot[axes=1]")
row("einsum", lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 1])), [(3, 4, 2), (4, 3, 2)],
    tf(lambda a, b: torch.tensordot(a, b, dims=([1, 0], [0, 1]))), id="tensordot[lists]")
row("einsum", lambda a, b: np.tensordot(a, b, axes=0), [(2,), (3,)],
    tf(lambda a, b: torch.tensordot(a, b, dims=0)), id="tensordot[axes=0]")
row("einsum", lambda a, b: np.linalg.tensordot(a, b, axes=1), [(2, 3), (3,)],
    id="linalg.tensordot")
row("matmul", np.dot, [(3,), (3,)], tf(lambda a, b: torch.dot(a, b)), id="dot[1d]")
row("matmul", np.dot, [(2, 3), (3, 4)], tf(lambda a, b: torch.matmul(a, b)), id="dot[2d]")
row("matmul", np.dot, [(2, 2, 3), (3,)], tf(lambda a, b: torch.matmul(a, b)), id="dot[3d,1d]")
row("einsum", np.dot, [(2, 3), (2, 3, 2)],
    tf(lambda a, b: torch.tensordot(a, b, dims=([1], [1]))), id="dot[nd]")
row("multiply", np.dot, [(), (3,)], id="dot[0d]")
row("matmul", lambda a, b: a.dot(b), [(2, 3), (3,)], wrt=(0,), id="dot-method")
row("einsum", np.vdot, [(3,), (3,)], tf(lambda a, b: torch.vdot(a, b)), id="vdot")
row("einsum", np.vdot, [(2, 3), (2, 3)],
    tf(lambda a, b: torch.vdot(a.reshape(-1), b.reshape(-1))), id="vdot[2d]")
row("einsum", np.vdot, [(3,), (3,)], tf(lambda a, b: torch.vdot(a, b)), dtype=C, order=1,
    id="vdot-complex")
row("einsum", np.inner, [(3,), (3,)], tf(lambda a, b: torch.inner(a, b)), id="inner")
row("einsum", np.inner, [(2, 3), (4, 3)], tf(lambda a, b: torch.inner(a, b)), id="inner[2d]")
row("einsum", np.inner, [(2, 3), (3,)], tf(lambda a, b: torch.inner(a, b)), dtype=C, order=1,
    id="inner-complex")
row("multiply", np.inner, [(), (3,)], id="inner[0d]")
row("einsum", np.outer, [(3,), (2,)], tf(lambda a, b: torch.outer(a, b)), id="outer")
row("einsum", np.outer, [(2, 2), (3,)],
    tf(lambda a, b: torch.outer(a.reshape(-1), b)), id="outer[2d-flattened]")
row("einsum", np.linalg.outer, [(3,), (2,)], id="linalg.outer")
row("einsum", np.kron, [(2, 2), (2, 3)], tf(lambda a, b: torch.kron(a, b)), id="kron")
row("einsum", np.kron, [(2,), (3,)], tf(lambda a, b: torch.kron(a, b)), id="kron[1d]")
row("einsum", np.kron, [(2, 3), (2,)], tf(lambda a, b: torch.kron(a, b)), id="kron[2d,1d]")
row("einsum", np.kron, [(2, 2), (2, 2)], tf(lambda a, b: torch.kron(a, b)), dtype=C, order=1,
    id="kron-complex")
row("multiply", np.cross, [(3,), (3,)], tf(lambda a, b: torch.linalg.cross(a, b)), id="cross")
row("multiply", np.cross, [(4, 3), (3,)],
    tf(lambda a, b: torch.linalg.cross(a, b.expand(4, 3))),
    id="cross[broadcast]")
row("multiply", lambda a, b: np.cross(a, b, axis=0), [(3, 2), (3, 2)],
    tf(lambda a, b: torch.linalg.cross(a, b, dim=0)), id="cross[axis=0]")
row("multiply", lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0), [(3, 2), (2, 3)],
    tf(lambda a, b: torch.linalg.cross(a.T, b).T), id="cross[axisa,axisb,axisc]")
row("multiply", lambda a, b: np.linalg.cross(a, b), [(2, 3), (2, 3)],
    tf(lambda a, b: torch.linalg.cross(a, b)), id="linalg.cross")
row("multiply", np.cross, [(3,), (3,)], tf(lambda a, b: torch.linalg.cross(a, b)), dtype=C,
    order=1, id="cross-complex")
row("matmul", lambda a, b, c: np.linalg.multi_dot([a, b, c]), [(2, 3), (3, 4), (4,)],
    tf(lambda a, b, c: torch.linalg.multi_dot([a, b, c])), id="multi_dot")
row("multiply", np.vecdot, [(2, 3), (3,)], tf(lambda a, b: torch.linalg.vecdot(a, b)),
    id="vecdot")
row("multiply", lambda a, b: np.linalg.vecdot(a, b, axis=0), [(3, 2), (3, 2)],
    tf(lambda a, b: (torch.conj_physical(a) * b).sum(0)), dtype=C, order=1, id="vecdot-complex")
row("matmul", np.matvec, [(2, 2, 3), (3,)], tf(lambda a, b: a @ b), id="matvec")
row("matmul", np.vecmat, [(3,), (3, 2)], tf(lambda a, b: b.T @ a), id="vecmat")

# --- inv, det, adjugate, slogdet, solve, matrix_power --------------------------------
for shape in [(3, 3), (2, 3, 3)]:
    row("linalg.inv", np.linalg.inv, [shape], tf(lambda a: torch.linalg.inv(a)),
        args=args(wellcond(shape)))
    row("linalg.det", np.linalg.det, [shape], tf(lambda a: torch.linalg.det(a)),
        args=args(wellcond(shape)))
row("linalg.inv", np.linalg.inv, [(3, 3)], tf(lambda a: torch.linalg.inv(a)),
    args=args(wellcond((3, 3), True)), dtype=C, order=1, id="linalg.inv-complex")
row("linalg.det", np.linalg.det, [(1, 1)], tf(lambda a: torch.linalg.det(a)),
    args=args(wellcond((1, 1))), id="linalg.det[1x1]")
row("linalg.det", np.linalg.det, [(3, 3)], tf(lambda a: torch.linalg.det(a)),
    args=args(wellcond((3, 3), True)), dtype=C, order=1, id="linalg.det-complex")
# singular: rank 2 (the gradient is the adjugate, not det * inv)
_SING = lambda rng: [np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 1.0]])]
# (torch 2.13 returns a zero gradient here; the adjugate is what central differences give)
row("linalg.det", np.linalg.det, [(3, 3)], args=_SING, id="linalg.det[singular]")


def adjugate(a):
    from chainrule.ops.linalg import adjugate as adj
    return adj(a)


row("linalg.adjugate", adjugate, [(3, 3)],
    tf(lambda a: torch.linalg.det(a)[..., None, None] * torch.linalg.inv(a)),
    args=args(wellcond((3, 3))))
row("linalg.adjugate", adjugate, [(2, 3, 3)], args=lambda rng: [np.stack(
    [_SING(rng)[0], wellcond((3, 3))(rng)])], id="linalg.adjugate[singular,batched]")
row("linalg.adjugate", adjugate, [(3, 3)], args=args(wellcond((3, 3), True)), dtype=C, order=1,
    id="linalg.adjugate-complex")
# a singular matrix, where the adjugate's rules switch to the SVD formulas: the adjugate is
# a polynomial, so every order is smooth there (special points, tests/test_special_points.py)
row("linalg.adjugate", adjugate, [(3, 3)], args=_SING, id="linalg.adjugate[singular]",
    points=[Point(_SING(None), id="rank-2")])
row("linalg.det", np.linalg.det, [(3, 3)], args=_SING, id="linalg.det[singular,points]",
    points=[Point(_SING(None), id="rank-2"),
            Point([np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [-1.0, -2.0, -3.0]])],
                  id="rank-1"),
            Point([np.zeros((3, 3))], id="zero")])


def _neg_det(rng):
    a = wellcond((2, 3, 3))(rng)
    a[0, 0] *= -1  # one determinant negative
    return [a]


row("linalg.slogdet", lambda a: np.linalg.slogdet(a)[1], [(2, 3, 3)],
    tf(lambda a: torch.linalg.slogdet(a)[1]), args=_neg_det, id="slogdet-logabsdet")
row("linalg.slogdet", lambda a: np.linalg.slogdet(a).sign * np.linalg.slogdet(a).logabsdet,
    [(2, 3, 3)], tf(lambda a: torch.linalg.slogdet(a)[0] * torch.linalg.slogdet(a)[1]),
    args=_neg_det, id="slogdet-sign*logabsdet")
row("linalg.slogdet", lambda a: np.linalg.slogdet(a)[0] * np.exp(np.linalg.slogdet(a)[1]),
    [(3, 3)], tf(lambda a: torch.linalg.slogdet(a)[0] * torch.exp(torch.linalg.slogdet(a)[1])),
    args=args(wellcond((3, 3), True)), dtype=C, order=1, id="slogdet-complex")
row("linalg.slogdet", lambda a: np.linalg.slogdet(a)[0], [(3, 3)],
    tf(lambda a: torch.linalg.slogdet(a)[0]), args=args(wellcond((3, 3), True)), dtype=C,
    order=1, id="slogdet-complex-sign")


def tsolve(a, b):
    if b.ndim == 1:
        return torch.linalg.solve(a, b.unsqueeze(-1)).squeeze(-1)
    return torch.linalg.solve(a, b)


for sa, sb in [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 2)),
               ((3, 3), (2, 3, 2)), ((2, 1, 3, 3), (2, 3, 1))]:
    row("linalg.solve", np.linalg.solve, [sa, sb], tf(tsolve),
        args=lambda rng, sa=sa, sb=sb: [wellcond(sa)(rng), rand(rng, sb)])
row("linalg.solve", np.linalg.solve, [(3, 3), (3,)], tf(tsolve), dtype=C, order=1,
    args=lambda rng: [wellcond((3, 3), True)(rng), rand(rng, (3,), True)], id="solve-complex")

for n in [3, -2, 1]:
    row("matmul" if n > 0 else "linalg.inv", lambda a, n=n: np.linalg.matrix_power(a, n),
        [(2, 3, 3)], tf(lambda a, n=n: torch.linalg.matrix_power(a, n)),
        args=args(wellcond((2, 3, 3))), id=f"matrix_power[{n}]")
row("matmul", lambda a: np.linalg.matrix_power(a, 0) * a, [(3, 3)], id="matrix_power[0]")

# --- cholesky --------------------------------------------------------------------------
for shape, cplx in [((3, 3), False), ((2, 3, 3), False), ((3, 3), True)]:
    row("linalg.cholesky", lambda a: np.linalg.cholesky(sym(a)), [shape],
        tf(lambda a: torch.linalg.cholesky(tsym(a))),
        args=args(spectrum(shape, [1.0, 2.0, 3.5], cplx)), dtype=C if cplx else np.float64,
        order=1 if cplx else 2, id=f"cholesky{list(shape)}{'-complex' if cplx else ''}")
row("linalg.cholesky", lambda a: np.linalg.cholesky(sym(a), upper=True), [(3, 3)],
    tf(lambda a: torch.linalg.cholesky(tsym(a), upper=True)),
    args=args(spectrum((3, 3), [1.0, 2.0, 3.5])), id="cholesky-upper")

# --- eigh --------------------------------------------------------------------------------


def eigh_all(a):  # eigenvalues and sign-invariant eigenvector weights
    w, v = np.linalg.eigh(sym(a))
    return np.real(v * np.conj(v)) * w[..., None, :] + w[..., None, :]


def teigh_all(a):
    w, v = torch.linalg.eigh(tsym(a))
    return (v * v.conj()).real * w[..., None, :] + w[..., None, :]


for shape, cplx in [((3, 3), False), ((2, 3, 3), False), ((3, 3), True)]:
    row("linalg.eigh", eigh_all, [shape], tf(teigh_all),
        args=args(spectrum(shape, [-1.0, 0.5, 2.0], cplx)), dtype=C if cplx else np.float64,
        order=1 if cplx else 2, id=f"eigh{list(shape)}{'-complex' if cplx else ''}")
row("linalg.eigh", lambda a: np.linalg.eigh(sym(a))[0], [(3, 3)],
    tf(lambda a: torch.linalg.eigh(tsym(a))[0]), args=args(spectrum((3, 3), [-1.0, 0.5, 2.0])),
    id="eigh-values")
row("linalg.eigh", lambda a: np.linalg.eigvalsh(sym(a)), [(2, 3, 3)],
    tf(lambda a: torch.linalg.eigvalsh(tsym(a))),
    args=args(spectrum((2, 3, 3), [-1.0, 0.5, 2.0])), id="eigvalsh")
row("linalg.eigh", lambda a: np.linalg.eigh(sym(a), UPLO="U").eigenvectors ** 2, [(3, 3)],
    tf(lambda a: torch.linalg.eigh(tsym(a), UPLO="U")[1] ** 2),
    args=args(spectrum((3, 3), [-1.0, 0.5, 2.0])), id="eigh-UPLO=U-vectors")

# --- eig -------------------------------------------------------------------------------


def eig_all(a):
    w, v = np.linalg.eig(a)
    return w[..., None, :] * (np.abs(v) ** 2 + 1)


def teig_all(a):
    w, v = torch.linalg.eig(a)
    return w[..., None, :] * (v.abs() ** 2 + 1)


_ROT = lambda rng: [np.array([[0.5, -1.2, 0.3], [1.1, 0.2, -0.4], [0.1, 0.3, 1.5]])]
row("linalg.eig", eig_all, [(3, 3)], tf(teig_all), args=_ROT, id="eig-complex-spectrum")
row("linalg.eig", eig_all, [(3, 3)], tf(lambda a: teig_all(a).real),
    args=lambda rng: [np.array([[2.0, 0.3, 0.1], [0.2, -1.0, 0.4], [0.5, 0.1, 0.5]])],
    id="eig-real-spectrum")
row("linalg.eig", eig_all, [(3, 3)], tf(teig_all), args=args(wellcond((3, 3), True)),
    dtype=C, order=1, id="eig-complex-input")
row("linalg.eig", lambda a: np.linalg.eigvals(a), [(2, 3, 3)],
    tf(lambda a: torch.linalg.eigvals(a)),
    args=lambda rng: [np.stack([_ROT(rng)[0], _ROT(rng)[0].T + np.eye(3)])], id="eigvals")

# --- svd --------------------------------------------------------------------------------


def svd_all(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return np.concatenate([np.reshape(s, (-1,)), np.reshape(np.abs(u) ** 2, (-1,)),
                           np.reshape(np.abs(vh) ** 2, (-1,)),
                           np.reshape(np.real((u * s[..., None, :] ** 2) @ vh), (-1,))])


def tsvd_all(a):
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    return torch.cat([s.reshape(-1), (u.abs() ** 2).reshape(-1), (vh.abs() ** 2).reshape(-1),
                      ((u * s[..., None, :] ** 2) @ vh).real.reshape(-1)])


for shape, cplx in [((3, 3), False), ((4, 3), False), ((3, 4), False), ((2, 4, 3), False),
                    ((3, 2), True), ((2, 3), True)]:
    row("linalg.svd", svd_all, [shape], tf(tsvd_all), dtype=C if cplx else np.float64,
        args=lambda rng, shape=shape, cplx=cplx: [rand(rng, shape, cplx)],
        order=1 if cplx else 2, id=f"svd{list(shape)}{'-complex' if cplx else ''}")
row("linalg.svd", lambda a: np.linalg.svd(a, compute_uv=False), [(2, 4, 3)],
    tf(lambda a: torch.linalg.svdvals(a)), id="svd-values")
row("linalg.svd", lambda a: np.linalg.svdvals(a), [(3, 2)], tf(lambda a: torch.linalg.svdvals(a)),
    dtype=C, order=1, id="svdvals-complex")
row("linalg.svd", lambda a: np.abs(np.linalg.svd(a).U) ** 2, [(3, 3)],
    tf(lambda a: torch.linalg.svd(a).U.abs() ** 2), id="svd-full_matrices-square")

# --- qr ---------------------------------------------------------------------------------


def qr_all(a, mode="reduced"):
    q, r = np.linalg.qr(a, mode=mode)
    return np.concatenate([np.reshape(q, (-1,)), np.reshape(r, (-1,))])


def tqr_all(a, mode="reduced"):
    q, r = torch.linalg.qr(a, mode=mode)
    return torch.cat([q.reshape(-1), r.reshape(-1)])


for shape, cplx in [((4, 3), False), ((3, 3), False), ((3, 4), False), ((2, 4, 3), False),
                    ((3, 3), True), ((2, 3), True), ((3, 2), True)]:
    row("linalg.qr", qr_all, [shape], tf(tqr_all), dtype=C if cplx else np.float64,
        args=lambda rng, shape=shape, cplx=cplx: [rand(rng, shape, cplx) + np.eye(*shape[-2:])],
        order=1 if cplx else 2, id=f"qr{list(shape)}{'-complex' if cplx else ''}")
row("linalg.qr", lambda a: np.linalg.qr(a, mode="r"), [(4, 3)],
    args=lambda rng: [rand(rng, (4, 3)) + np.eye(4, 3)], id="qr-mode=r")
row("linalg.qr", lambda a: qr_all(a, "complete"), [(3, 4)],
    tf(lambda a: tqr_all(a, "complete")), args=lambda rng: [rand(rng, (3, 4)) + np.eye(3, 4)],
    id="qr-complete[3,4]")

# --- pinv, lstsq ------------------------------------------------------------------------
for shape, cplx in [((3, 2), False), ((2, 3), False), ((3, 3), False), ((2, 3, 2), False),
                    ((3, 2), True)]:
    row("linalg.pinv", np.linalg.pinv, [shape], tf(lambda a: torch.linalg.pinv(a)),
        args=lambda rng, shape=shape, cplx=cplx: [rand(rng, shape, cplx) + np.eye(*shape[-2:])],
        dtype=C if cplx else np.float64, order=1 if cplx else 2,
        id=f"pinv{list(shape)}{'-complex' if cplx else ''}")
row("linalg.pinv", lambda a: np.linalg.pinv(sym(a), hermitian=True), [(3, 3)],
    tf(lambda a: torch.linalg.pinv(tsym(a), hermitian=True)),
    args=args(spectrum((3, 3), [-1.0, 0.5, 2.0])), id="pinv-hermitian")


def tlstsq(a, b):
    if b.ndim == 1:
        return torch.linalg.lstsq(a, b.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
    return torch.linalg.lstsq(a, b, driver="gelsd").solution


for sa, sb, cplx in [((4, 3), (4,), False), ((4, 3), (4, 2), False), ((2, 3), (2,), False),
                     ((3, 2), (3,), True)]:
    row("linalg.lstsq", lambda a, b: np.linalg.lstsq(a, b)[0], [sa, sb], tf(tlstsq),
        args=lambda rng, sa=sa, sb=sb, cplx=cplx: [rand(rng, sa, cplx) + np.eye(*sa),
                                                  rand(rng, sb, cplx)],
        dtype=C if cplx else np.float64, order=1 if cplx else 2,
        id=f"lstsq{[sa, sb]}{'-complex' if cplx else ''}")
row("linalg.lstsq", lambda a, b: np.linalg.lstsq(a, b)[1], [(4, 3), (4, 2)],
    args=lambda rng: [rand(rng, (4, 3)) + np.eye(4, 3), rand(rng, (4, 2))], id="lstsq-residuals")
row("linalg.svd", lambda a, b: np.linalg.lstsq(a, b)[3], [(4, 3), (4,)],
    args=lambda rng: [rand(rng, (4, 3)) + np.eye(4, 3), rand(rng, (4,))], id="lstsq-s")
