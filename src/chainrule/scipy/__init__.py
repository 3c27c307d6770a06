"""``cr.scipy``: SciPy's functions, differentiable (SciPy is optional: this package imports it).

* ``cr.scipy.special``: rules for ``scipy.special``'s ufuncs (``expit``, ``erf``, ``gammaln``,
  the Bessel functions ...), registered so that the plain SciPy call on a Tensor
  differentiates (``scipy.special.expit(t)``; the dispatch loads them on first sight of a
  SciPy ufunc), plus ``logsumexp``, ``softmax`` and ``log_softmax``, which are Python
  functions in SciPy, not ufuncs, and so are called from here.
"""

from . import special  # noqa: F401
from . import linalg, signal, stats  # noqa: F401
from . import integrate  # noqa: F401
