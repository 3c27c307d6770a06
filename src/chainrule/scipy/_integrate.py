"""``cr.scipy.integrate``: SciPy's quadrature rules on samples, differentiable.

    from chainrule.scipy import integrate
    area = integrate.trapezoid(y, x)

``trapezoid`` is a composition of differentiable operations (slices, ``np.diff``, a sum), so
it differentiates in ``y``, in the sample points ``x`` and in the spacing ``dx``, to every
order, in both modes.  (The ODE solvers are ``cr.integrate``'s.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.primitive import Tensor
from ..ops.util import value

__all__ = ["trapezoid"]


def _asarray(x: Any) -> Any:
    return x if hasattr(x, "shape") else np.asarray(x)


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """The trapezoidal rule along ``axis`` (scipy.integrate.trapezoid): sum of
    (x[i+1] - x[i]) (y[i+1] + y[i]) / 2, with the spacing ``dx`` when ``x`` is None.  A 1-D
    ``x`` runs along ``axis``; otherwise ``x`` broadcasts with ``y``.  Differentiable in
    ``y``, ``x`` and ``dx``."""
    y = _asarray(y)
    nd = len(y.shape)
    if nd == 0:
        raise ValueError("trapezoid: y must have at least one dimension")
    if not -nd <= int(axis) < nd:
        raise np.exceptions.AxisError(f"trapezoid: axis {axis} is out of bounds for an array "
                                      f"of dimension {nd}")
    ax = int(axis) % nd
    if x is None:
        d = dx
    else:
        x = _asarray(x)
        if len(x.shape) == 1:
            if x.shape[0] != y.shape[ax]:
                raise ValueError(f"trapezoid: x has {x.shape[0]} points, y has {y.shape[ax]} "
                                 f"along axis {axis}")
            d = np.reshape(np.diff(x), (-1,) + (1,) * (nd - 1 - ax))
        else:
            d = np.diff(x, axis=axis)
    lo = [slice(None)] * nd
    hi = [slice(None)] * nd
    lo[ax], hi[ax] = slice(None, -1), slice(1, None)
    avg = (y[tuple(hi)] + y[tuple(lo)]) / 2.0
    out = np.sum(d * avg, axis=ax)
    if not isinstance(out, Tensor) and np.ndim(value(out)) == 0:
        return np.asarray(out)[()]
    return out
