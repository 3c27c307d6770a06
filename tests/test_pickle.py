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


# --- Tensors -------------------------------------------------------------------------------

@pytest.mark.parametrize("copier", [lambda t: pickle.loads(pickle.dumps(t)),
                                    lambda t: __import__("copy").deepcopy(t)])
def test_a_leaf_tensor_round_trips_as_a_fresh_leaf(copier):
    t = cr.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    (t * t).sum().backward()
    u = copier(t)
    assert type(u) is cr.Tensor and u is not t and u.is_leaf and u.requires_grad
    assert u.dtype == np.float32 and np.array_equal(u.numpy() if not u.requires_grad
                                                    else u.detach().numpy(), t.detach().numpy())
    np.testing.assert_array_equal(u.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
    # its own leaf: a gradient into the copy does not reach the original
    (u * 3).sum().backward()
    np.testing.assert_array_equal(u.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3) + 3)
    np.testing.assert_array_equal(t.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
    c = copier(cr.tensor([1, 2]))                      # a constant stays a constant
    assert not c.requires_grad and c.grad is None and c.dtype == np.int64


def test_a_parameter_and_a_module_round_trip():
    m = cr.nn.Linear(3, 2)
    m2 = pickle.loads(pickle.dumps(m))
    assert type(m2.weight) is cr.nn.Parameter
    np.testing.assert_array_equal(m2.weight.detach().numpy(), m.weight.detach().numpy())
    x = np.ones((1, 3), dtype=np.float32)
    np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())


def test_a_tensor_with_a_history_is_refused():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.exp(t)
    with pytest.raises(cr.LeftGraphError, match=r"(?s)history \(made by exp\).*t\.detach\(\)"):
        pickle.dumps(y)
    with pytest.raises(cr.LeftGraphError, match="deepcopy"):
        __import__("copy").deepcopy(y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(y.detach())).numpy(),
                                  np.exp([1.0, 2.0]))

    def inside(x):
        pickle.dumps(cr.tensor(1.0) * x)            # a traced value inside a transform
        return x
    with pytest.raises(cr.LeftGraphError, match="forward-mode"):
        cr.jvp(inside, (np.array(1.0),), (np.array(1.0),))
