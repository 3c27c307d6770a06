"""Every second-order composition of the transforms, over every twice-differentiable row of
the op table: the value against central differences, and the type and dtype of the result.

A transform gives back its input's own kind at every nesting: a float for a float, a NumPy
scalar for a NumPy scalar, an ndarray for an ndarray (0-d included), never a Tensor."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

from harness import Row, close, cotangent, num_jacobian, scalarize
from test_optable import DIFF, SECOND, ids


def _real_args(row: Row) -> tuple[list, list[int]]:
    args = row.make_args()
    return args, [i for i in row.argnums(args) if np.asarray(args[i]).dtype.kind == "f"]


def _assert_kind(res, like, what: str, row: Row, shape=None) -> None:
    """``res`` has the kind of ``like``: an ndarray (same dtype) for an ndarray, else a
    scalar of like's own type."""
    assert not isinstance(res, cr.Tensor), f"{row.name} {what}: returned a Tensor {res!r}"
    if isinstance(like, np.ndarray):
        assert type(res) is np.ndarray, f"{row.name} {what}: {type(res).__name__}, want ndarray"
        assert res.dtype == like.dtype, f"{row.name} {what}: dtype {res.dtype}, want {like.dtype}"
        if shape is not None:
            assert res.shape == shape, f"{row.name} {what}: shape {res.shape}, want {shape}"
    else:
        assert type(res) is type(like), f"{row.name} {what}: {type(res).__name__}, want {type(like).__name__}"


@pytest.mark.parametrize("row", SECOND, ids=ids(SECOND))
def test_second_order_compositions(row: Row) -> None:
    args, nums = _real_args(row)
    if not nums:
        pytest.skip("no real argument")
    out = np.asarray(row.fn(*args))
    u = cotangent(out)
    s = scalarize(row.fn, u)
    rng = np.random.default_rng(3)
    for i in nums:
        x = np.asarray(args[i])

        def si(xi, i=i):
            a = list(args)
            a[i] = xi
            return s(*a)

        def fi(xi, i=i):
            a = list(args)
            a[i] = xi
            return row.fn(*a)

        gi = cr.grad(si)
        H = num_jacobian(gi, [x], 0)                           # central differences of grad
        w = rng.standard_normal(x.shape)
        w2 = rng.standard_normal(x.shape)
        Hw = (H.reshape(x.size, x.size) @ w.reshape(-1)).reshape(x.shape)
        w2Hw = float(w2.reshape(-1) @ Hw.reshape(-1))

        rr = cr.jacobian(gi)(x)                                 # reverse over reverse
        _assert_kind(rr, x, "jacobian(grad)", row, x.shape + x.shape)
        close(rr, H, row, f"2nd rev-over-rev arg {i}")
        fr = cr.jacfwd(gi)(x)                                   # forward over reverse
        _assert_kind(fr, x, "jacfwd(grad)", row, x.shape + x.shape)
        close(fr, H, row, f"2nd fwd-over-rev arg {i}")
        rf = cr.grad(lambda xi: cr.jvp(si, (xi,), (w,))[1])(x)  # reverse over forward
        _assert_kind(rf, x, "grad(jvp)", row, x.shape)
        close(rf, Hw, row, f"2nd rev-over-fwd arg {i}")
        p, ff = cr.jvp(lambda xi: cr.jvp(si, (xi,), (w,))[1], (x,), (w2,))  # forward over forward
        _assert_kind(p, x, "jvp(jvp) primal", row, ())
        _assert_kind(ff, x, "jvp(jvp) tangent", row, ())
        close(ff, np.asarray(w2Hw), row, f"2nd fwd-over-fwd arg {i}")
        hv = cr.hvp(si, x, w)
        _assert_kind(hv, x, "hvp", row, x.shape)
        close(hv, Hw, row, f"2nd hvp arg {i}")
        if out.size <= 12 and x.size <= 12:
            J2 = cr.jacfwd(cr.jacobian(fi))(x)                  # jacfwd over jacobian of f
            assert not isinstance(J2, cr.Tensor) and type(J2) is np.ndarray, row.name
            assert J2.shape == out.shape + x.shape + x.shape, row.name
            # <u, f> is Re(conj(u) . f) for a complex output
            close(np.real(np.tensordot(np.conj(u), J2, axes=u.ndim)), H, row,
                  f"2nd jacfwd(jacobian) arg {i}")


SCALAR_ROWS = [r for r in SECOND if any(len(s) == 0 for s in r.shapes) and r.args is None
               and np.dtype(r.dtype).kind == "f"]


@pytest.mark.parametrize("row", SCALAR_ROWS, ids=ids(SCALAR_ROWS))
def test_scalar_kinds_at_every_nesting(row: Row) -> None:
    """A 0-d argument passed as a Python float, a np.float64 and a np.float32: each composition
    gives back that same type (and dtype), with the value of the float64 computation."""
    args, nums = _real_args(row)
    nums = [i for i in nums if np.ndim(args[i]) == 0]
    if not nums:
        pytest.skip("no 0-d real argument")
    s = scalarize(row.fn, cotangent(np.asarray(row.fn(*args))))
    for i in nums:
        def si(xi, i=i):
            a = list(args)
            a[i] = xi
            return s(*a)

        ref = cr.grad(cr.grad(si))(np.asarray(args[i]))
        for make in (float, np.float64, np.float32):
            x = make(args[i])
            d1 = cr.grad(si)(x)
            combos = {
                "grad(grad)": cr.grad(cr.grad(si))(x),
                "jacfwd(grad)": cr.jacfwd(cr.grad(si))(x),
                "jacobian(grad)": cr.jacobian(cr.grad(si))(x),
                "hessian": cr.hessian(si)(x),
                "grad(jvp)": cr.grad(lambda xi: cr.jvp(si, (xi,), (1.0,))[1])(x),
                "jvp(jvp)": cr.jvp(lambda xi: cr.jvp(si, (xi,), (1.0,))[1], (x,), (1.0,))[1],
                "jvp(grad)": cr.jvp(cr.grad(si), (x,), (1.0,))[1],
                "hvp": cr.hvp(si, x, 1.0),
            }
            assert type(d1) is make, f"{row.name} grad of a {make.__name__}: {type(d1).__name__}"
            # jvp(jvp) gives the tangent of s's output: of s's own dtype, as a scalar of x's kind
            out_type = float if make is float else np.asarray(si(x)).dtype.type
            for what, v in combos.items():
                want = out_type if what == "jvp(jvp)" else make
                assert type(v) is want, f"{row.name} {what} of a {make.__name__}: {type(v).__name__} {v!r}"
                tol = dict(rtol=2e-3, atol=2e-3) if make is np.float32 else dict(rtol=1e-9, atol=1e-9)
                np.testing.assert_allclose(float(v), float(ref), err_msg=f"{row.name} {what}", **tol)


COMPLEX_OUT = [r for r in DIFF if np.asarray(r.fn(*r.make_args())).dtype.kind == "c"]


@pytest.mark.parametrize("row", COMPLEX_OUT, ids=ids(COMPLEX_OUT))
def test_jacobian_of_a_complex_output(row: Row) -> None:
    """Reverse and forward Jacobians of a complex-valued function agree with central
    differences along the real direction of each input element (d f / d Re x)."""
    args = row.make_args()
    for i in row.argnums(args):
        def fi(xi, i=i):
            a = list(args)
            a[i] = xi
            return row.fn(*a)

        x = np.asarray(args[i])
        Jn = num_jacobian(row.fn, args, i)
        if x.dtype.kind == "c":
            Jn = Jn[..., 0]
        close(cr.jacobian(fi)(x), Jn, row, f"jacobian arg {i}")
        close(cr.jacfwd(fi)(x), Jn, row, f"jacfwd arg {i}")


# --- the reported cases and the transforms' other entry points ----------------------


def test_grad_of_jvp_is_a_float() -> None:
    g = cr.grad(lambda x: cr.jvp(np.exp, (x,), (0.7,))[1])(0.3)
    assert type(g) is float and g == pytest.approx(0.7 * np.exp(0.3), rel=1e-15)


@pytest.mark.parametrize("make", [float, np.float64, np.float32, lambda v: np.array(v)])
def test_every_transform_keeps_the_input_kind(make) -> None:
    x = make(0.3)
    like = type(x)
    results = {
        "grad": cr.grad(np.tanh)(x),
        "value_and_grad value": cr.value_and_grad(np.tanh)(x)[0],
        "value_and_grad grad": cr.value_and_grad(np.tanh)(x)[1],
        "vjp out": cr.vjp(np.tanh, x)[0],
        "vjp cotangent": cr.vjp(np.tanh, x)[1](make(1.0))[0],
        "jvp out": cr.jvp(np.tanh, (x,), (make(1.0),))[0],
        "jvp tangent": cr.jvp(np.tanh, (x,), (make(1.0),))[1],
        "jacobian": cr.jacobian(np.tanh)(x),
        "jacfwd": cr.jacfwd(np.tanh)(x),
        "hessian": cr.hessian(np.tanh)(x),
        "elementwise_grad": cr.elementwise_grad(np.tanh)(x),
        "hvp": cr.hvp(np.tanh, x, make(1.0)),
        "linearize": cr.linearize(np.tanh, x)[1](make(1.0)),
    }
    dtype = np.float32 if like is np.float32 else np.float64
    for what, v in results.items():
        assert type(v) is like, f"{what}: {type(v).__name__} {v!r}"
        assert np.asarray(v).dtype == dtype, what


def test_aux_and_structures_are_plain() -> None:
    (v, aux), g = cr.value_and_grad(lambda x: (np.sin(x), {"c": np.cos(x)}), has_aux=True)(0.5)
    assert type(v) is float and type(aux["c"]) is float and type(g) is float
    out, t, aux = cr.jvp(lambda x: (np.sin(x), x * 2), (0.5,), (1.0,), has_aux=True)
    assert type(out) is float and type(t) is float and type(aux) is float


def test_vector_output_of_a_scalar_input_is_an_array() -> None:
    j = cr.jacobian(lambda x: np.stack([x, x * x]))(np.float32(2.0))
    assert type(j) is np.ndarray and j.dtype == np.float32 and j.shape == (2,)
    np.testing.assert_array_equal(j, [1.0, 4.0])
    j = cr.jacfwd(lambda x: np.stack([x, x * x]))(2.0)
    assert type(j) is np.ndarray and j.dtype == np.float64
    np.testing.assert_array_equal(j, [1.0, 4.0])


def test_gradient_of_a_captured_traced_tensor_stays_on_its_graph() -> None:
    """A result that is a function of a Tensor traced outside the transform keeps that graph
    (as torch.func does): its type is a Tensor on purpose, never a silently cut constant."""
    w = cr.tensor(3.0, requires_grad=True)
    g = cr.grad(lambda x: w * x * x)(2.0)
    assert isinstance(g, cr.Tensor) and g.requires_grad
    g.backward()
    assert w.grad.item() == 4.0
    # the same inside no_grad: the caller records nothing, so the result is a plain float
    with cr.no_grad():
        g = cr.grad(lambda x: w * x * x)(2.0)
    assert type(g) is float and g == 12.0


# --- item() / tolist() inside transforms ---------------------------------------------


@pytest.mark.parametrize("method", ["item", "tolist"])
@pytest.mark.parametrize("transform", ["grad", "jvp", "jacobian", "vjp"])
def test_item_and_tolist_of_a_traced_value_raise_inside_transforms(method, transform) -> None:
    def f(x):
        c = getattr(x, method)()
        return x * (c if method == "item" else c)

    with pytest.raises(cr.LeftGraphError, match=rf"{method}\(\)"):
        if transform == "grad":
            cr.grad(f)(3.0)
        elif transform == "jvp":
            cr.jvp(f, (3.0,), (1.0,))
        elif transform == "jacobian":
            cr.jacobian(f)(3.0)
        else:
            cr.vjp(f, 3.0)


def test_item_of_a_constant_inside_a_transform_and_tensor_style_exit() -> None:
    c = cr.tensor(2.0)
    assert cr.grad(lambda x: c.item() * x)(3.0) == 2.0
    assert cr.grad(lambda x: x.detach().item() * x)(3.0) == 3.0  # a constant, said so
    t = cr.tensor(3.0, requires_grad=True)
    assert (t * 2).item() == 6.0  # the tensor style's explicit exit, as in PyTorch
    assert (t * 2).tolist() == 6.0


# --- preallocate and fill -------------------------------------------------------------


def test_writing_a_traced_value_into_a_plain_array_names_the_fix() -> None:
    def f(x):
        out = np.zeros(3)
        out[0] = x
        return np.sum(out)

    with pytest.raises(cr.LeftGraphError, match=r"cr\.tensor\(np\.zeros") as e:
        cr.grad(f)(1.0)
    assert "out[0] = x" in str(e.value)

    def f2(x):
        out = np.zeros(3)
        out[0:2] = x
        return np.sum(out)

    with pytest.raises(cr.LeftGraphError, match=r"cr\.tensor\(np\.zeros"):
        cr.grad(f2)(np.ones(2))


def test_preallocate_a_tensor_works() -> None:
    def f(x):
        out = cr.tensor(np.zeros(3))
        out[0] = x
        out[1] = x * x
        return np.sum(out)

    assert cr.grad(f)(3.0) == 7.0


# --- transforms called anywhere compute their own derivative --------------------------


def test_transform_inside_a_custom_vjp_rule() -> None:
    """An adjoint-style rule that calls cr.vjp on its own function during backward."""
    def inner(x):
        return np.sin(x) * x

    @cr.primitive
    def f(x):
        return inner(x)

    cr.defvjp(f, lambda g, ans, x: cr.vjp(inner, x)[1](g)[0])
    cr.defjvp(f, lambda dx, ans, x: cr.jvp(inner, (x,), (dx,))[1])
    x = np.array([0.3, 1.2])
    expect = np.cos(x) * x + np.sin(x)
    np.testing.assert_allclose(cr.grad(lambda v: np.sum(f(v)))(x), expect, rtol=1e-14)
    t = cr.tensor(x, requires_grad=True)
    np.sum(f(t)).backward()
    np.testing.assert_allclose(t.grad.numpy(), expect, rtol=1e-14)
    cr.defvjp(f, lambda g, ans, x: g * cr.grad(lambda v: np.sum(inner(v)))(x))
    t.grad = None
    np.sum(f(t)).backward()
    np.testing.assert_allclose(t.grad.numpy(), expect, rtol=1e-14)
    # second order through the rule that calls a transform
    d2 = -np.sin(x) * x + 2 * np.cos(x)
    np.testing.assert_allclose(cr.elementwise_grad(cr.elementwise_grad(lambda v: f(v)))(x), d2,
                               rtol=1e-12)


def test_transforms_under_no_grad() -> None:
    with cr.no_grad():
        assert cr.grad(lambda x: x ** 3)(2.0) == 12.0
        np.testing.assert_allclose(cr.jacobian(np.sin)(np.array([0.5])), [[np.cos(0.5)]])
        assert cr.hessian(lambda x: x ** 3)(2.0) == 12.0
        assert cr.vjp(lambda x: x * x, 3.0)[1](1.0) == (6.0,)
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
