"""Data-parallel training on a dask.distributed LocalCluster (two worker processes on
127.0.0.1) equals single-process training to rounding."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.distributed import DistributedError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _setup(seed=0, n=60, loss=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    y = rng.integers(0, 3, n)
    nn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8, dtype=np.float64), nn.Tanh(),
                          nn.Linear(8, 3, dtype=np.float64))
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=False)
    return model, loss or nn.CrossEntropyLoss(), loader


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_data_parallel_fit_equals_single_process(client, reduction) -> None:
    model, loss_fn, loader = _setup(loss=nn.CrossEntropyLoss(reduction=reduction))
    twin = copy.deepcopy(model)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    opt2 = optim.Adam(twin.parameters(), lr=1e-2)
    h1 = cr.fit(model, loss_fn, opt, loader, epochs=2, verbose=0, metrics=["accuracy"])
    h2 = cr.fit(twin, loss_fn, opt2, loader, epochs=2, verbose=0, metrics=["accuracy"],
                client=client)
    for (n, a), (_, b) in zip(model.named_parameters(), twin.named_parameters()):
        np.testing.assert_allclose(b._value, a._value, rtol=1e-11, atol=1e-13, err_msg=n)
    assert not np.array_equal(model[0].weight._value, _setup()[0][0].weight._value)  # trained
    np.testing.assert_allclose(h2["loss"], h1["loss"], rtol=1e-11)
    assert h2["accuracy"] == h1["accuracy"]


def test_a_plain_loss_function_needs_its_reduction(client) -> None:
    model, _, loader = _setup()

    def mse(out, y):
        return np.mean((out - 0.0) ** 2)

    opt = optim.SGD(model.parameters(), lr=0.1)
    before = [p._value.copy() for p in model.parameters()]
    with pytest.raises(DistributedError, match="reduction"):
        cr.fit(model, mse, opt, loader, epochs=1, verbose=0, client=client)
    mse.reduction = "mean"
    twin = copy.deepcopy(model)
    cr.fit(model, mse, opt, loader, epochs=1, verbose=0, client=client)
    cr.fit(twin, mse, optim.SGD(twin.parameters(), lr=0.1), loader, epochs=1, verbose=0)
    for a, b, c in zip(model.parameters(), twin.parameters(), before):
        np.testing.assert_allclose(a._value, b._value, rtol=1e-11, atol=1e-13)
        assert not np.array_equal(a._value, c)


@pytest.mark.parametrize("bad, match", [
    (lambda: nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3)), "BatchNorm1d"),
    (lambda: nn.Sequential(nn.Linear(5, 3), nn.Dropout(0.2)), "Dropout"),
])
def test_what_would_not_equal_single_process_is_refused_before_training(client, bad,
                                                                         match) -> None:
    _, loss_fn, loader = _setup()
    model = bad()
    before = [p._value.copy() for p in model.parameters()]
    with pytest.raises(DistributedError, match=match):
        cr.fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.1), loader, epochs=1,
               verbose=0, client=client)
    for a, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(a._value, b)


def test_weighted_means_are_refused(client) -> None:
    model, _, loader = _setup()
    with pytest.raises(DistributedError, match="weight"):
        cr.fit(model, nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 1.0])),
               optim.SGD(model.parameters(), lr=0.1), loader, epochs=1, verbose=0,
               client=client)
    y = np.zeros(60, dtype=np.int64)
    y[3] = -100
    ld = DataLoader(TensorDataset(np.ones((60, 5)), y), batch_size=16)
    with pytest.raises(DistributedError, match="ignore_index"):
        cr.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), ld,
               epochs=1, verbose=0, client=client)
