"""docs/science.md's Gaussian-process example runs, and agrees with scikit-learn's
GaussianProcessRegressor (its own analytic gradient of the log marginal likelihood and its
own optimiser)."""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np
import pytest

pytest.importorskip("scipy")

DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "science.md")
HEAD = "## Worked example: a Gaussian process fitted with `cr.optimize.minimize`"


def _run_block() -> dict:
    path = os.path.abspath(DOC)
    lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == HEAD)
    start = next(i for i in range(at, len(lines)) if lines[i].strip() == "```python") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "```")
    code = compile("\n" * start + "".join(lines[start:end]), path, "exec")
    ns: dict = {"__name__": "science_gp"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, ns)
    return ns


def test_gaussian_process_example_matches_scikit_learn():
    ns = _run_block()
    kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    from sklearn.gaussian_process import GaussianProcessRegressor

    X, y, res, nlml = ns["X"], ns["y"], ns["res"], ns["nlml"]
    import chainrule as cr

    k = (kernels.ConstantKernel(1.0, (1e-5, 1e5)) * kernels.RBF(1.0, (1e-5, 1e5))
         + kernels.WhiteKernel(1.0, (1e-8, 1e5)))
    gp = GaussianProcessRegressor(k, alpha=0.0).fit(X, y)
    # scikit-learn's theta: log(signal variance), log(length scale), log(noise variance)
    to_sk = [1, 0, 2]
    assert -gp.log_marginal_likelihood_value_ == pytest.approx(res.fun, abs=1e-9)
    np.testing.assert_allclose(gp.kernel_.theta, res.x[to_sk], rtol=1e-3)
    for theta in (np.array([-0.2, 0.3, -1.0]), np.array([1.0, -0.5, -3.0]), res.x):
        lml, g_sk = gp.log_marginal_likelihood(theta[to_sk], eval_gradient=True)
        assert nlml(theta, X, y) == pytest.approx(-lml, rel=1e-12)
        np.testing.assert_allclose(cr.grad(nlml)(theta, X, y)[to_sk], -g_sk, rtol=1e-8,
                                   atol=1e-9)
