"""CuPy arrays through the engine, on a GPU: gradients stay CuPy arrays on the device and
equal NumPy's.  CuPy implements NumPy's dispatch protocols, so the rules' NumPy calls run
in CuPy as they do in Dask.  Skipped where CuPy or a GPU is missing (CI has neither)."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import chainrule as cr

cp = pytest.importorskip("cupy")
try:
    if cp.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device", allow_module_level=True)
except Exception:  # (cupy installed without a driver)
    pytest.skip("no CUDA device", allow_module_level=True)

from harness import Row, library_outcome  # noqa: E402
import rows  # noqa: E402

ROWS: list[Row] = []
for _m in pkgutil.iter_modules(rows.__path__):
    ROWS.extend(importlib.import_module(f"rows.{_m.name}").ROWS)
DIFF = [r for r in ROWS if r.order >= 1]


def outcome(row: Row) -> str:
    return library_outcome(row, 1, cp.asarray, cp.asnumpy, cp.ndarray)


def test_every_row_gives_numpy_s_gradient_on_the_gpu_or_is_refused() -> None:
    counts: dict[str, list] = {}
    for row in DIFF:
        counts.setdefault(outcome(row), []).append(row.name)
    print({k: len(v) for k, v in counts.items()})  # (the note reports these counts)
    assert len(counts.get("equal", [])) >= 300, {k: len(v) for k, v in counts.items()}


def test_an_mlp_trains_on_the_gpu_as_on_numpy() -> None:
    from chainrule import nn
    r = np.random.default_rng(0)
    X, y = r.standard_normal((32, 8)), r.integers(0, 3, 32)
    make = lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).double()  # noqa: E731
    m1, m2 = make(), make()
    m2.load_state_dict(m1.state_dict())
    m2.to("cuda")
    assert all(isinstance(p._value, cp.ndarray) for p in m2.parameters())
    o1, o2 = cr.optim.Adam(m1.parameters(), lr=0.01), cr.optim.Adam(m2.parameters(), lr=0.01)
    lf = nn.CrossEntropyLoss()
    for _ in range(3):
        for m, o, a, b in ((m1, o1, X, y), (m2, o2, cp.asarray(X), cp.asarray(y))):
            o.zero_grad()
            lf(m(cr.tensor(a)), cr.tensor(b)).backward()
            o.step()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(cp.asnumpy(p2._value), p1.detach().numpy(), rtol=1e-9)
