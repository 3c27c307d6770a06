"""The primitive table, one module per family.  Importing this module fills it."""

from . import elementwise, index, products, reduce, shape  # noqa: F401
from . import util  # noqa: F401
from . import norms, special  # noqa: F401  (reductions family: linalg.norm, logsumexp, i0)
from . import fft, linalg  # noqa: F401  (np.linalg and np.fft)
from . import methods  # noqa: F401  (binds the Tensor methods, once the table is full)
