"""``cr.scipy.signal``: convolution and correlation (scipy.signal), differentiable.

The implementation is in ``_signal.py``; this module holds the public names only."""

from ._signal import *  # noqa: F403
from ._signal import __all__  # noqa: F401
