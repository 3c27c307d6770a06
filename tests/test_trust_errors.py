"""Values never leave the graph silently, and errors name what the user called."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_a_foreign_ufunc_is_named_by_its_own_module() -> None:
    sp = pytest.importorskip("scipy.special")
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    names = ["expit", "gammaln", "erfcx", "ndtri"]
    for name in names:
        f = getattr(sp, name)
        with pytest.raises(NotImplementedError, match=rf"^scipy\.special\.{name} has no chainrule rule"):
            f(t)


def test_a_numpy_ufunc_without_a_rule_is_named_np() -> None:
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"^np\.logaddexp\.reduce has no chainrule rule"):
        np.logaddexp.reduce(t)


@pytest.mark.parametrize("call", [
    lambda t, o: np.add.reduce(t, out=o),
    lambda t, o: np.multiply.reduce(t, axis=0, out=o),
    lambda t, o: np.add.accumulate(t, out=np.zeros(2)),
])
def test_reduce_into_out_is_refused_not_ignored(call) -> None:
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    o = np.zeros(())
    with pytest.raises(NotImplementedError, match="out="):
        call(t, o)
    assert o == 0.0


def test_errors_name_the_operation_once_over_the_op_table() -> None:
    """NumPy's own message often starts with the function's name ("matmul: Input operand 1
    ..."); the error names the operation once.  Every row is called with Tensors of
    mismatched shapes (and of too many dimensions) to provoke NumPy's errors."""
    import re

    from test_optable import ROWS

    twice = re.compile(r"^([\w.]+): (?:[\w.]+\.)?\1: ")
    provoked = 0
    for row in ROWS:
        args = row.make_args()
        for variant in range(2):
            bad = []
            for i, a in enumerate(args):
                if isinstance(a, np.ndarray) and a.dtype.kind in "fc":
                    shape = (i + 2, i + 3) if variant == 0 else (2,) * (a.ndim + 3)
                    a = cr.tensor(np.ones(shape, a.dtype), requires_grad=True)
                bad.append(a)
            try:
                row.fn(*bad)
            except Exception as exc:  # noqa: BLE001  (any error: its message is checked)
                provoked += 1
                msg = str(exc)
                assert not twice.match(msg), f"{row.name}: {msg}"
    assert provoked > 200  # the check ran on many errors, not on none


def test_matmul_shape_error_names_matmul_once() -> None:
    a = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(cr.ShapeError) as info:
        a @ np.ones((2, 3))
    msg = str(info.value)
    assert msg.startswith("matmul: Input operand 1 has a mismatch") and "matmul: matmul" not in msg
    assert "(2, 3), (2, 3)" in msg


def test_full_like_with_a_traced_fill_value_differentiates() -> None:
    g = cr.grad(lambda a: np.sum(cr.numpy.full_like(np.ones((2, 3)), a) * np.arange(6.0).reshape(2, 3)))
    assert g(1.0) == 15.0
    out = cr.numpy.full_like(np.ones(3, np.float32), cr.tensor(2.0))
    assert out.dtype == np.float32 and np.all(out.numpy() == 2.0)


def test_scatter_add_with_values_that_do_not_fit_is_an_error_not_a_crash() -> None:
    from chainrule.ops import index as I

    g = cr.tensor(np.ones((2, 2, 2, 2)), requires_grad=True)
    with pytest.raises(cr.ShapeError, match="do not fit"):
        I.scatter_add(g, shape=(2, 3), idx=(slice(None), np.array([0, 0])))
