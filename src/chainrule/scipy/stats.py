"""``cr.scipy.stats``: SciPy's distributions as differentiable functions of chainrule Tensors.

The implementation is in ``_stats.py``; this module holds the public names only."""

from ._stats import *  # noqa: F403
from ._stats import __all__  # noqa: F401
