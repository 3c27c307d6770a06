"""No alias escapes the version counters: a meta-test over every row of the op table.

Whenever a primitive's result shares memory with one of its inputs (a view, or the input
itself), an in-place write through either one must be seen: the backward pass then gives
the gradient of the program as NumPy ran it (checked against central differences of that
same program on plain arrays), or raises the version-counter error.  Never a silently
wrong gradient."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

from harness import Row
from test_optable import ROWS, ids

ALIAS_SEEN: set[str] = set()


def _leaves(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _diff_positions(args: list) -> list[int]:
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind in "fc"]


def _energy(v):
    """sum |v|^2: a real scalar that saves its input (multiply saves both operands)."""
    return np.sum(np.real(v * np.conj(v)))


def _program(row: Row, args: list, pos: list[int], xs: list, direction: str):
    """The program under test, on plain arrays (xs) or on Tensors: y = x * 1 (writable
    copies), o = row.fn(y), then a write through the alias, then a loss."""
    a = list(args)
    ys = []
    for i, x in zip(pos, xs):
        y = x * 1.0
        a[i] = y
        ys.append(y)
    z = sum(_energy(y) for y in ys)          # saves the y's before any write
    outs = _leaves(row.fn(*a))
    if direction == "through-output":
        for o in outs:
            if _aliases(o, ys) and _writable(o):
                o *= 2.0                          # writes into the y it aliases
        return z
    for y in ys:                              # "into-input": write the y's, then use o
        y *= 3.0
    return sum(_energy(o) for o in outs if _is_float(o))


def _value(v):
    return v._value if isinstance(v, cr.Tensor) else v


def _is_float(o) -> bool:
    return isinstance(o, (cr.Tensor, np.ndarray)) and np.asarray(_value(o)).dtype.kind in "fc"


def _writable(o) -> bool:
    return isinstance(o, (cr.Tensor, np.ndarray)) and np.asarray(_value(o)).flags.writeable


def _aliases(o, ys) -> bool:
    if not isinstance(o, (cr.Tensor, np.ndarray)):
        return False
    return any(np.shares_memory(_value(o), _value(y)) for y in ys)


def _numeric_grad(row: Row, args: list, pos: list[int], direction: str, h: float = 1e-6) -> list:
    xs = [np.array(args[i]) for i in pos]
    grads = []
    for k, x in enumerate(xs):
        g = np.zeros(x.shape, x.dtype)
        for j in range(x.size):
            for unit in ([1.0] if x.dtype.kind != "c" else [1.0, 1j]):
                xp = [v.copy() for v in xs]
                xm = [v.copy() for v in xs]
                xp[k].reshape(-1)[j] += unit * h
                xm[k].reshape(-1)[j] -= unit * h
                d = (float(_program(row, args, pos, xp, direction))
                     - float(_program(row, args, pos, xm, direction))) / (2 * h)
                g.reshape(-1)[j] += d * unit  # dL/dRe + i dL/dIm: PyTorch's convention
        grads.append(g)
    return grads


ALIAS_ROWS = [r for r in ROWS if r.order >= 1]


@pytest.mark.parametrize("direction", ["through-output", "into-input"])
@pytest.mark.parametrize("row", ALIAS_ROWS, ids=ids(ALIAS_ROWS))
def test_a_write_through_an_alias_is_seen(row: Row, direction: str) -> None:
    args = row.make_args()
    pos = _diff_positions(args)
    if not pos:
        pytest.skip("no floating-point argument")
    leaves = [cr.tensor(args[i], requires_grad=True) for i in pos]
    # does the result alias an input?  (the program itself decides what to write)
    probe = list(args)
    ys = [leaf * 1.0 for leaf in leaves]
    for i, y in zip(pos, ys):
        probe[i] = y
    outs = _leaves(row.fn(*probe))
    plain = [a for i, a in enumerate(probe) if isinstance(a, np.ndarray)]
    for o in outs:
        if isinstance(o, cr.Tensor):
            # an alias of a plain (constant) argument would let a write change a constant
            assert not any(np.shares_memory(o._value, p) for p in plain), \
                f"{row.name}: the result shares memory with a plain argument"
    if not any(_aliases(o, ys) for o in outs):
        return  # nothing shares memory: nothing to see
    ALIAS_SEEN.add(row.prim)
    try:
        loss = _program(row, args, pos, leaves, direction)
        loss.backward()
    except cr.GradientError as e:
        assert "modified in place" in str(e), e
        return
    except ValueError as e:
        # NumPy refuses the write itself (a read-only view such as broadcast_to's)
        assert "read-only" in str(e), e
        return
    expect = _numeric_grad(row, args, pos, direction)
    for leaf, g in zip(leaves, expect):
        got = leaf.grad.numpy() if leaf.grad is not None else np.zeros_like(g)
        np.testing.assert_allclose(got, g, rtol=1e-5, atol=1e-6, err_msg=f"{row.name} {direction}")


def test_the_aliasing_primitives_were_exercised() -> None:
    """The meta-test above met the primitives that return views (the table has such rows)."""
    if not ALIAS_SEEN:
        pytest.skip("run with the op-table rows")
    assert {"real", "reshape", "transpose", "getitem", "einsum", "broadcast_to"} <= ALIAS_SEEN


# --- the reported cases ------------------------------------------------------------


def _y():
    x = cr.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    return x, x * 1.0


@pytest.mark.parametrize("make_alias", [
    lambda y: np.real(y),
    lambda y: y.real,
    lambda y: np.real_if_close(y),
    lambda y: y.astype(np.float64),
    lambda y: np.einsum("i->i", y),
    lambda y: np.astype(y, y.dtype, copy=False),
])
def test_reported_aliases(make_alias) -> None:
    x, y = _y()
    z = np.sum(y * y)
    r = make_alias(y)
    r *= 2
    try:
        z.backward()
    except cr.GradientError as e:
        assert "modified in place" in str(e)
        return
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_imag_of_a_complex_tensor_is_a_tracked_view() -> None:
    x = cr.tensor(np.array([1.0 + 2j, 3.0 - 1j]), requires_grad=True)
    y = x * 1.0
    z = np.sum(np.abs(y) ** 2)
    im = np.imag(y)
    im *= 2  # NumPy semantics: writes into y's imaginary parts
    np.testing.assert_array_equal(y._value, [1.0 + 4j, 3.0 - 2j])
    with pytest.raises(cr.GradientError, match="modified in place"):
        z.backward()


def test_a_custom_primitive_that_returns_its_input() -> None:
    @cr.primitive
    def ident(x):
        return x

    cr.defvjp(ident, lambda g, ans, x: g)
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 1.0
    z = np.sum(y * y)
    r = ident(y)
    r *= 5
    with pytest.raises(cr.GradientError, match="modified in place"):
        z.backward()


def test_a_custom_primitive_that_returns_a_view_of_a_constant_is_copied() -> None:
    c = np.array([1.0, 2.0, 3.0])

    @cr.primitive
    def pick(x, c):
        return c[:2]

    cr.defvjp(pick, lambda g, ans, x, c: np.zeros_like(x))
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    r = pick(x, c)
    assert not np.shares_memory(r._value, c)
    with cr.no_grad():
        r *= 10
    np.testing.assert_array_equal(c, [1.0, 2.0, 3.0])


def test_functional_style_sees_the_alias_too() -> None:
    def f(x):
        y = x * 1.0
        z = np.sum(y * y)
        r = np.real(y)
        r *= 2
        return z

    with pytest.raises(cr.GradientError, match="modified in place"):
        cr.grad(f)(np.array([1.0, 2.0]))


# --- construction from the user's array ----------------------------------------------


@pytest.mark.parametrize("make", [cr.Tensor, cr.tensor,
                                  lambda a: cr.Tensor(a, requires_grad=True),
                                  lambda a: cr.tensor(a, requires_grad=True),
                                  lambda a: cr.Tensor(cr.Tensor(a)),
                                  lambda a: cr.nn.Parameter(a)])
def test_construction_copies_the_users_array(make) -> None:
    a = np.array([1.0, 2.0, 3.0])
    t = make(a)
    assert not np.shares_memory(t._value, a)
    x = t if t.requires_grad else t.requires_grad_()
    z = np.sum(x * x)
    a *= 100  # the user reuses their buffer after recording
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])


# --- what leaves a Tensor as an ndarray cannot be written behind the counters' back -----


def test_numpy_and_asarray_views_are_read_only() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    z = np.sum(y * y)
    for a in (y.detach().numpy(), np.asarray(y.detach()), y.data.numpy()):
        assert np.shares_memory(a, y._value)  # no copy ...
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 100.0                      # ... and no silent write into a saved value
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])  # was [200, 4, 6]
    # a copy is the user's own, and a write through the tensor is recorded
    c = y.detach().numpy().copy()
    c[0] = 5.0
    assert y.detach().numpy()[0] == 1.0
    assert np.array(y.detach(), copy=True).flags.writeable


def test_a_write_through_the_tensor_is_still_seen() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1.0
    z = np.sum(y * y)
    d = y.detach()
    d[0] = 100.0                              # recorded: the counter sees it
    with pytest.raises(cr.GradientError, match="modified in place"):
        z.backward()
