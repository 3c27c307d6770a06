"""``cr.scipy.linalg``: SciPy's linear algebra that NumPy lacks, differentiable.

The implementation is in ``_linalg.py``; this module holds the public names only."""

from ._linalg import *  # noqa: F403
from ._linalg import __all__  # noqa: F401
