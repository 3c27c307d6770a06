"""Functions made by transforms pickle (they travel to other processes: dask.distributed
workers, multiprocessing pools) as the transform applied again, holding no thread's state."""

from __future__ import annotations

import inspect
import pickle
import threading

import numpy as np
import pytest

import chainrule as cr


def loss(w, x, scale=2.0):
    return scale * np.sum(np.tanh(x @ w) ** 2)


def loss_and_aux(w, x):
    return loss(w, x), np.sum(w)


W = np.linspace(-1.0, 1.0, 6).reshape(3, 2)
X = np.arange(12.0).reshape(4, 3) / 10


@pytest.mark.parametrize("make", [
    lambda: cr.grad(loss),
    lambda: cr.grad(loss, argnums=(0, 1)),
    lambda: cr.value_and_grad(loss),
    lambda: cr.value_and_grad(loss, argnums=1),
    lambda: cr.grad(loss_and_aux, has_aux=True),
])
def test_a_gradient_function_round_trips_and_gives_the_same_values(make) -> None:
    g = make()
    h = pickle.loads(pickle.dumps(g))
    a, b = g(W, X), h(W, X)
    for u, v in zip(np.atleast_1d(np.asarray(a, dtype=object)),
                    np.atleast_1d(np.asarray(b, dtype=object))):
        np.testing.assert_array_equal(np.asarray(u, dtype=float), np.asarray(v, dtype=float))
    assert h.__name__ == g.__name__ and inspect.signature(h) == inspect.signature(g)
    assert list(inspect.signature(h).parameters)[:2] == ["w", "x"]


def test_nested_transforms_pickle() -> None:
    hess_diag = cr.grad(lambda x: cr.grad(lambda y: np.sum(y ** 3))(x).sum())
    h = pickle.loads(pickle.dumps(cr.grad(cr.grad(np.sin))))
    assert h(0.3) == pytest.approx(-np.sin(0.3), rel=1e-15)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(hess_diag)  # a lambda is not picklable by pickle itself (cloudpickle is)


def test_a_gradient_function_made_in_one_thread_runs_in_another() -> None:
    g = cr.grad(loss)
    want = g(W, X)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("g", g(W, X)))
    t.start()
    t.join()
    np.testing.assert_array_equal(out["g"], want)


def test_a_gradient_function_is_still_a_method_when_assigned_to_a_class() -> None:
    class Model:
        def energy(self, w):
            return np.sum(w ** 2)
        force = cr.grad(energy, argnums=1)

    np.testing.assert_array_equal(Model().force(np.array([1.0, -2.0])), [2.0, -4.0])
