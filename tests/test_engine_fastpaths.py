"""The engine's shortcuts give exactly what the general path gives."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.util import broadcast_view


def _shapes(nd: int) -> list[tuple[int, ...]]:
    return list(itertools.product([1, 2, 3], repeat=nd))


@pytest.mark.parametrize("nd", [0, 1, 2, 3])
def test_broadcast_view_is_np_broadcast_to(nd: int) -> None:
    rng = np.random.default_rng(nd)
    checked = refused = 0
    for ash in _shapes(nd):
        a = rng.standard_normal(ash)
        for extra in (0, 1):
            for tsh in itertools.product([1, 2, 3, 0], repeat=nd + extra):
                try:
                    want = np.broadcast_to(a, tsh)
                except ValueError:
                    with pytest.raises(ValueError):
                        broadcast_view(a, tsh)
                    refused += 1
                    continue
                got = broadcast_view(a, tsh)
                assert got.shape == want.shape and got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
                assert not got.flags.writeable  # as np.broadcast_to: nothing writes through it
                assert got.size == 0 or np.shares_memory(got, a)
                checked += 1
    assert checked > 0 and (nd == 0 or refused > 0)


def test_broadcast_view_of_other_layouts_and_types() -> None:
    a = np.arange(12.0).reshape(3, 4)[:, ::2]  # not contiguous: np.broadcast_to's own path
    np.testing.assert_array_equal(broadcast_view(a, (2, 3, 2)), np.broadcast_to(a, (2, 3, 2)))
    s = np.float32(2.5)  # a NumPy scalar
    v = broadcast_view(s, (2, 2))
    assert v.dtype == np.float32 and (v == 2.5).all()
    with pytest.raises(ValueError):
        broadcast_view(np.ones(()), (-1,))


def test_backward_of_a_full_sum_broadcasts_the_cotangent_read_only() -> None:
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (np.sum(x * x) * 0.5).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(2, 3))
    m = cr.tensor(np.ones((2, 3)), requires_grad=True)
    np.mean(m, axis=0).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), np.full((2, 3), 0.5))
