"""``cr.scipy.integrate``: SciPy's quadrature rules on samples, differentiable.

The implementation is in ``_integrate.py``; this module holds the public names only."""

from ._integrate import *  # noqa: F403
from ._integrate import __all__  # noqa: F401
