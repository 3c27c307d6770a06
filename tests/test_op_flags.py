"""One place per op: what the package derives from the flags on an op's defprim / register
call (ops/util.py) -- the Tensor methods (method=), the points check's nonlinear ops
(nonlinear=), the kinked ops of the gradcheck sweep (kinked=), the coverage page's notes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.check.points import nonlinear_primitives
from chainrule.core.registry import NAMES, PRIMITIVES
from chainrule.numpy.coverage import markdown
from chainrule.ops.util import METHODS, defprim, register


def test_every_flagged_method_is_the_numpy_function() -> None:
    assert {"exp", "abs", "clip", "conj", "ravel", "take", "argpartition"} <= set(METHODS)
    t = cr.tensor(np.array([[0.5, -1.5], [2.0, 0.25]]))
    for name in METHODS:
        assert name in NAMES, name
        assert getattr(cr.Tensor, name).__name__ == name
    np.testing.assert_array_equal(t.exp()._value, np.exp(t._value))
    np.testing.assert_array_equal(t.abs()._value, np.abs(t._value))
    np.testing.assert_array_equal(t.clip(0, 1)._value, np.clip(t._value, 0, 1))
    assert not hasattr(t, "absolute")  # np.absolute's other name is not asked for


def test_a_method_must_be_one_of_the_calls_numpy_names() -> None:
    before = (dict(PRIMITIVES), dict(NAMES), list(METHODS))
    with pytest.raises(ValueError, match="method="):
        defprim(np.negative, "neg_flag_test", np_names="negative", method="neg")
    with pytest.raises(ValueError, match="method="):
        defprim(np.negative, "neg_flag_test", method=True)  # no NumPy name to bind
    with pytest.raises(ValueError, match="method="):
        register("negative", np.negative, method="neg")
    assert (dict(PRIMITIVES), dict(NAMES), list(METHODS)) == before  # nothing registered


def test_nonlinear_flags() -> None:
    watched = set(nonlinear_primitives())
    assert {"exp", "log", "sin", "tanh", "sqrt", "square", "power", "float_power", "hypot",
            "arctan2", "logaddexp", "sinc"} <= watched
    # linear (or bilinear: their rules call them with the cotangent) ops are not watched
    assert not watched & {"add", "subtract", "multiply", "true_divide", "deg2rad", "sum",
                          "matmul", "absolute", "maximum"}
    assert PRIMITIVES["power"].nonlinear == PRIMITIVES["float_power"].nonlinear == (0,)
    assert PRIMITIVES["exp"].nonlinear is True and PRIMITIVES["add"].nonlinear is False


def test_kinked_flags_and_the_coverage_notes() -> None:
    kinked = {n for n, p in PRIMITIVES.items() if p.kinked}
    assert {"absolute", "maximum", "clip", "remainder", "max", "median", "relu"} <= kinked
    assert not kinked & {"exp", "add", "multiply", "power", "sum", "matmul"}
    page = markdown()
    assert "| `np.abs` | primitive `absolute`: reverse and forward mode, any order | " \
           "`t.abs()`, kinked |" in page
    assert "| `np.exp` | primitive `exp`: reverse and forward mode, any order | `t.exp()` |" \
           in page


def test_binary_rules_follow_the_complex_convention() -> None:
    """binary() derives each VJP from the stated tangent map (its adjoint): g * conj(df/dx),
    also for a real cotangent reaching a complex product (through np.real)."""
    w = np.array([1.0 + 2.0j, -0.5 + 0.25j])
    x = np.array([0.3 - 1.0j, 2.0 + 0.5j])
    gx = cr.grad(lambda x: np.sum(np.real(x * w)))(x)
    np.testing.assert_allclose(gx, np.conj(w))
    gx = cr.grad(lambda x: np.sum(np.real(w / x)))(x)
    np.testing.assert_allclose(gx, np.conj(-w / x ** 2))
    # forward mode: the tangent map itself
    _, t = cr.jvp(lambda x: x * w, (x,), (np.ones(2, dtype=complex),))
    np.testing.assert_allclose(t, w)
