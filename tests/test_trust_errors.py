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
