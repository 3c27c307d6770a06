"""Products: matmul and einsum are the two primitives; dot, vdot, inner, outer, tensordot,
kron, cross, multi_dot, vecdot, matvec and vecmat are built from them.

einsum is multilinear, so its rules are einsums too: the cotangent of operand k is the
einsum of the output cotangent with the (conjugated) other operands, contracted back
to operand k's subscripts.  Two details make that work for every subscripts string:

* a label repeated inside operand k ('ii->i', a diagonal) cannot be an output label
  of an einsum, so the rule writes a fresh label for the repeat and multiplies by a
  constant identity matrix that ties the two (the cotangent lives on the diagonal);
* a label that appears only in operand k (summed out: 'ij->i') gets a constant vector
  of ones, which broadcasts the cotangent along it.

The public ``einsum`` normalises every form (implicit output, '...', the interleaved
operand/sublist form) to explicit letters and broadcasts size-1 dimensions up front,
so the primitive only ever sees consistent shapes and its rules need no special cases.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..core import arrays as _arrays

from . import elementwise as E
from . import reduce as R
from . import shape as S
from .util import LazyRules, defprim, is_complex, register, unbroadcast, value


def _reshape(a: Any, shape: tuple) -> Any:
    if a.__class__ is np.ndarray:  # a constant (first-order backward): no dispatch
        return a.reshape(shape)
    return S.reshape(a, shape)


def _mT(a: Any) -> Any:
    if a.__class__ is np.ndarray:  # a constant (first-order backward): a view, no dispatch
        return a.swapaxes(-1, -2)
    return S.swapaxes(a, -1, -2)


_real_kinds = frozenset("fiub")


def _matmul_grads(g: Any, x: Any, y: Any, which: int) -> Any:
    if (g.__class__ is np.ndarray and g.ndim == 2 and x.__class__ is np.ndarray
            and y.__class__ is np.ndarray and x.ndim == 2 and y.ndim == 2
            and x.dtype.kind in _real_kinds and y.dtype.kind in _real_kinds):
        # first order, real matrices: the two BLAS calls, nothing to unbroadcast
        return np.matmul(g, y.T) if which == 0 else np.matmul(x.T, g)
    x = x if hasattr(x, "shape") else _arrays.asarray(x)  # a list operand (np.matmul(t, [[...]]))
    y = y if hasattr(y, "shape") else _arrays.asarray(y)
    xs, ys = x.shape, y.shape
    x2 = _reshape(x, (1,) + tuple(xs)) if len(xs) == 1 else x
    y2 = _reshape(y, tuple(ys) + (1,)) if len(ys) == 1 else y
    gs = list(g.shape)
    if len(xs) == 1:
        gs.insert(len(gs) - (0 if len(ys) == 1 else 1), 1)
    if len(ys) == 1:
        gs.append(1)
    g2 = _reshape(g, tuple(gs)) if len(xs) == 1 or len(ys) == 1 else g
    if which == 0:
        r = matmul(g2, E.conj(_mT(y2)))
        if len(xs) == 1:
            r = _reshape(unbroadcast(np.empty((1,) + tuple(xs)), r) if r.ndim > 2 else r, xs)
            return r
        return unbroadcast(x, r)
    r = matmul(E.conj(_mT(x2)), g2)
    if len(ys) == 1:
        r = unbroadcast(np.empty(tuple(ys) + (1,)), r) if r.ndim > 2 else r
        return _reshape(r, ys)
    return unbroadcast(y, r)


matmul = defprim(
    np.matmul, "matmul", np_names=["matmul", "linalg.matmul"], saves_ans=False,
    vjp=(lambda g, ans, x, y: _matmul_grads(g, x, y, 0),
         lambda g, ans, x, y: _matmul_grads(g, x, y, 1)),
    jvp=(lambda dx, ans, x, y: matmul(dx, y), lambda dy, ans, x, y: matmul(x, dy)),
)

# ---------------------------------------------------------------------------------
# einsum

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's 52 labels, sorted


def _split(spec: str) -> tuple[list[str], str]:
    ins, out = spec.split("->")
    return ins.split(","), out


def _einsum_fwd(*ops: Any, spec: str = "", optimize: Any = False) -> Any:
    return np.einsum(spec, *ops, optimize=optimize)




def _einsum_vjp(i: int) -> Any:
    def rule(g: Any, ans: Any, *ops: Any, spec: str = "", optimize: Any = False) -> Any:
        ins, out = _split(spec)
        operands = [g] + [E.conj(op) for j, op in enumerate(ops) if j != i]
        terms = [out] + [t for j, t in enumerate(ins) if j != i]
        have = set("".join(terms))
        fresh = iter(c for c in _LETTERS if c not in set(spec))
        target, seen = [], set()
        for c, n in zip(ins[i], ops[i].shape, strict=False):
            if c in seen:  # a repeated label: its cotangent sits on the diagonal
                f = next(fresh)
                operands.append(np.eye(n))
                terms.append(c + f)
                target.append(f)
                continue
            seen.add(c)
            target.append(c)
            if c not in have:  # summed out inside operand i only: broadcast back along it
                operands.append(np.ones(n))
                terms.append(c)
                have.add(c)
        return einsum_prim(*operands, spec=",".join(terms) + "->" + "".join(target),
                           optimize="greedy" if len(operands) > 2 else False)

    return rule


def _einsum_jvp(i: int) -> Any:
    def rule(dx: Any, ans: Any, *ops: Any, spec: str = "", optimize: Any = False) -> Any:
        return einsum_prim(*[dx if j == i else op for j, op in enumerate(ops)], spec=spec,
                           optimize=optimize)

    return rule


einsum_prim = defprim(_einsum_fwd, "einsum", saves_ans=False)
einsum_prim.vjps = LazyRules(_einsum_vjp)
einsum_prim.jvps = LazyRules(_einsum_jvp)


def _sublist_to_str(sub: Any) -> str:
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
        elif isinstance(s, (int, np.integer)) and 0 <= int(s) < len(_LETTERS):
            out.append(_LETTERS[int(s)])
        else:
            raise ValueError(f"einsum: subscript {s!r} in a sublist must be an int in [0, 52) "
                             "or ...")
    return "".join(out)


def parse_einsum(args: tuple) -> tuple[list, str]:
    """(operands, explicit spec) for any einsum call form; '...' becomes letters."""
    if not args:
        raise ValueError("einsum: no subscripts given")
    if isinstance(args[0], str):
        subs, ops = args[0].replace(" ", ""), list(args[1:])
    else:
        rest, ops, subl = list(args), [], []
        while len(rest) >= 2:
            ops.append(rest.pop(0))
            subl.append(_sublist_to_str(rest.pop(0)))
        subs = ",".join(subl) + ("->" + _sublist_to_str(rest[0]) if rest else "")
    ops = [o if hasattr(o, "shape") else _arrays.asarray(o) for o in ops]
    if "->" in subs:
        lhs, out = subs.split("->")
    else:
        lhs, out = subs, None
    terms = lhs.split(",")
    if len(terms) != len(ops):
        raise ValueError(f"einsum: {len(terms)} subscript terms for {len(ops)} operands")
    used = {c for c in subs if c.isalpha()}
    for c in subs:
        if not (c.isalpha() or c in ".,->"):
            raise ValueError(f"einsum: invalid subscript character {c!r} in {subs!r}")
    free = [c for c in _LETTERS if c not in used]
    nell = []
    for t, o in zip(terms, ops, strict=False):
        nd = len(o.shape)
        if "..." in t:
            k = nd - (len(t) - 3)
            if k < 0:
                raise ValueError(f"einsum: subscripts {t!r} have more labels than the operand "
                                 f"has dimensions ({tuple(o.shape)})")
            nell.append(k)
        else:
            if len(t) != nd:
                raise ValueError(
                    f"einsum: subscripts {t!r} name {len(t)} dimensions but the operand has shape "
                    f"{tuple(o.shape)}")
            nell.append(0)
    ne = max(nell, default=0)
    ell = "".join(free[:ne])
    terms = [t.replace("...", ell[ne - k:]) for t, k in zip(terms, nell, strict=False)]
    if out is None:
        counts: dict[str, int] = {}
        for t in terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    else:
        if "..." in out:
            out = out.replace("...", ell)
        elif ne and any(nell):
            raise ValueError("einsum: the operands have '...' dimensions but the output "
                             "names no '...'")
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscript {out!r} repeats a label")
        missing = set(out) - set("".join(terms))
        if missing:
            raise ValueError(f"einsum: output labels {sorted(missing)} appear in no input")
    return ops, ",".join(terms) + "->" + out


def einsum(*operands: Any, out: Any = None, optimize: Any = False, dtype: Any = None,
           order: str = "K", casting: str = "safe") -> Any:
    if out is not None:
        raise NotImplementedError("einsum(out=...) is not supported on Tensors; "
                                  "use the return value")
    ops, spec = parse_einsum(operands)
    ins, _ = _split(spec)
    sizes: dict[str, int] = {}
    for t, o in zip(ins, ops, strict=False):
        for c, n in zip(t, o.shape, strict=False):
            if n != 1:
                if sizes.get(c, n) != n:
                    raise ValueError(
                        f"einsum: label {c!r} has sizes {sizes[c]} and {n} in {spec!r} "
                        f"(shapes {[tuple(x.shape) for x in ops]})")
                sizes[c] = n
    # broadcast size-1 dimensions up front: then every rule sees matching sizes
    ops = [S.broadcast_to(o, tuple(sizes.get(c, 1) for c in t)) if any(
        n == 1 and sizes.get(c, 1) != 1 for c, n in zip(t, o.shape, strict=False)) else o
        for t, o in zip(ins, ops, strict=False)]
    if dtype is not None:
        ops = [E.astype(o, dtype=np.dtype(dtype)) for o in ops]
    opt = optimize if len(ops) > 2 else False
    return einsum_prim(*ops, spec=spec, optimize=opt)


register("einsum", einsum)

# ---------------------------------------------------------------------------------
# composites


def _nd(x: Any) -> int:
    return np.ndim(value(x))


def _arr(x: Any) -> Any:
    return x if hasattr(x, "shape") else _arrays.asarray(x)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    a, b = _arr(a), _arr(b)
    na, nb = _nd(a), _nd(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(na, nb):
            raise ValueError(f"tensordot: axes={n} does not fit shapes {a.shape} and {b.shape}")
        ax_a, ax_b = list(range(na - n, na)), list(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError("tensordot: axes lists of different lengths")
        ax_a = [x % na for x in ax_a]
        ax_b = [x % nb for x in ax_b]
    la = list(_LETTERS[:na])
    lb = list(_LETTERS[na:na + nb])
    for i, j in zip(ax_a, ax_b, strict=False):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"tensordot: shape mismatch for sum ({a.shape} and {b.shape})")
        lb[j] = la[i]
    out = [c for k, c in enumerate(la) if k not in ax_a] + [c for k, c in enumerate(lb)
                                                            if k not in ax_b]
    return einsum_prim(a, b, spec="".join(la) + "," + "".join(lb) + "->" + "".join(out))


register(["tensordot", "linalg.tensordot"], tensordot)


def dot(a: Any, b: Any, out: Any = None) -> Any:
    if out is not None:
        raise NotImplementedError("dot(out=...) is not supported on Tensors; use the return value")
    a, b = _arr(a), _arr(b)
    na, nb = _nd(a), _nd(b)
    if na == 0 or nb == 0:
        return E.multiply(a, b)
    if nb <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([-1], [-2]))


register("dot", dot, method=True)


def vdot(a: Any, b: Any) -> Any:
    a, b = S.reshape(_arr(a), (-1,)), S.reshape(_arr(b), (-1,))
    return einsum_prim(E.conj(a), b, spec="i,i->")


register("vdot", vdot)


def inner(a: Any, b: Any) -> Any:
    a, b = _arr(a), _arr(b)
    if _nd(a) == 0 or _nd(b) == 0:
        return E.multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


register("inner", inner)


def outer(a: Any, b: Any, out: Any = None) -> Any:
    if out is not None:
        raise NotImplementedError("outer(out=...) is not supported on Tensors; "
                                  "use the return value")
    a, b = S.reshape(_arr(a), (-1,)), S.reshape(_arr(b), (-1,))
    return einsum_prim(a, b, spec="i,j->ij")


def _linalg_outer(x1: Any, x2: Any) -> Any:
    if _nd(x1) != 1 or _nd(x2) != 1:
        raise ValueError("linalg.outer: both arguments must be 1-dimensional")
    return outer(x1, x2)


register("outer", outer)
register("linalg.outer", _linalg_outer)


def kron(a: Any, b: Any) -> Any:
    a, b = _arr(a), _arr(b)
    nd = max(_nd(a), _nd(b))
    if nd == 0:
        return E.multiply(a, b)
    a = S.reshape(a, (1,) * (nd - _nd(a)) + tuple(a.shape))
    b = S.reshape(b, (1,) * (nd - _nd(b)) + tuple(b.shape))
    la, lb = _LETTERS[:nd], _LETTERS[nd:2 * nd]
    spec = la + "," + lb + "->" + "".join(x + y for x, y in zip(la, lb, strict=False))
    return S.reshape(einsum_prim(a, b, spec=spec),
                     tuple(m * n for m, n in zip(a.shape, b.shape, strict=False)))


register("kron", kron)


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: Any = None) -> Any:
    if axis is not None:
        axisa = axisb = axisc = axis
    a = S.moveaxis(_arr(a), axisa, -1)
    b = S.moveaxis(_arr(b), axisb, -1)
    na, nb = a.shape[-1], b.shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("cross: incompatible dimensions for cross product "
                         "(dimension must be 2 or 3)")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    z = a0 * b1 - a1 * b0
    if na == 2 and nb == 2:
        return z
    zero = 0.0
    a2 = a[..., 2] if na == 3 else zero
    b2 = b[..., 2] if nb == 3 else zero
    x = a1 * b2 - a2 * b1
    y = a2 * b0 - a0 * b2
    c = S.stack([S.broadcast_to(t, np.shape(value(z))) for t in (x, y, z)], axis=-1)
    return S.moveaxis(c, -1, axisc)


def _linalg_cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    if np.shape(value(x1))[axis] != 3 or np.shape(value(x2))[axis] != 3:
        raise ValueError("linalg.cross: both input arrays must be (arrays of) "
                         "3-dimensional vectors")
    return cross(x1, x2, axis=axis)


register("cross", cross)
register("linalg.cross", _linalg_cross)


def multi_dot(arrays: Any, *, out: Any = None) -> Any:
    if out is not None:
        raise NotImplementedError("multi_dot(out=...) is not supported on Tensors")
    arrays = [_arr(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    r = arrays[0]
    for a in arrays[1:]:
        r = matmul(r, a)
    return r


register("linalg.multi_dot", multi_dot)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, **kw: Any) -> Any:
    if kw.get("out") is not None:
        raise NotImplementedError("vecdot(out=...) is not supported on Tensors")
    x1, x2 = _arr(x1), _arr(x2)
    return R.sum(E.conj(x1) * x2 if is_complex(x1) else x1 * x2, axis=axis)


def matvec(x1: Any, x2: Any, /, **kw: Any) -> Any:
    x2 = _arr(x2)
    return matmul(x1, S.expand_dims(x2, -1))[..., 0]


def vecmat(x1: Any, x2: Any, /, **kw: Any) -> Any:
    x1 = _arr(x1)
    return matmul(S.expand_dims(E.conj(x1), -2), x2)[..., 0, :]


register(["vecdot", "linalg.vecdot"], vecdot)
register("matvec", matvec)
register("vecmat", vecmat)
