"""The primitive table, one module per family.  Importing this module fills it."""

from . import elementwise, index, linalg, reduce, shape  # noqa: F401
from . import util  # noqa: F401
from . import norms, special  # noqa: F401  (reductions family: linalg.norm, logsumexp, i0)
from . import fft, linalg_ext  # noqa: F401  (linear algebra and FFT families)
from . import methods  # noqa: F401,E402  (binds the Tensor methods, once the table is full)
