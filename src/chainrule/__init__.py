"""chainrule: the chain rule done by the machine, for NumPy code.

    import numpy as np, chainrule as cr
    cr.grad(lambda x: (x**2 + 1)**3)(2.0)          # 300.0
"""

from . import ops as _ops  # noqa: F401  (fills the primitive table)
from .ops.methods import ConventionError
from .core.errors import (
    BackendError, ChainruleError, GradientError, LeftGraphError, ShapeError,
)
from .core.primitive import Primitive, defjvp, defvjp, primitive
from .core.tensor import Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled, tensor
from .check import (
    AnomalyError, GradcheckError, check_derivative, check_primitive, detect_anomaly, gradcheck,
    numerical_derivative,
)
from . import numpy
from . import xp
from . import viz
from .ops.special import log_softmax, logsumexp, softmax
from .transforms import (
    elementwise_grad, grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, linearize,
    value_and_grad, vjp,
)
from . import data, nn, optim
from .compiler import CompileError, compile
from .io import load, save
from .nn.random import manual_seed
from .factories import (
    arange, cat, empty, empty_like, eye, full, full_like, linspace, ones, ones_like, rand,
    rand_like, randint, randn, randn_like, stack, where, zeros, zeros_like,
)
from .training import EarlyStopping, History, evaluate, fit

__version__ = "0.1.0"

# loaded on first use: cr.scipy imports SciPy (optional), the others are for scientists
_LAZY = {"scipy": ("scipy", None), "optimize": ("optimize", None),
         "integrate": ("integrate", None), "custom_root": ("optimize", "custom_root"),
         "fixed_point": ("optimize", "fixed_point"), "checkpoint": ("integrate", "checkpoint")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        m = importlib.import_module(f"{__name__}.{mod}")
        return m if attr is None else getattr(m, attr)
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")

__all__ = [
    "AnomalyError", "GradcheckError", "check_derivative", "check_primitive", "detect_anomaly",
    "gradcheck", "numerical_derivative",
    "ChainruleError", "CompileError", "compile", "ConventionError", "GradientError",
    "LeftGraphError", "ShapeError", "BackendError", "Primitive", "Tensor",
    "defjvp", "defvjp", "elementwise_grad", "enable_grad", "grad", "hessian", "hvp",
    "is_grad_enabled", "jacfwd", "jacobian", "jacrev", "jvp", "linearize", "log_softmax",
    "logsumexp", "no_grad", "numpy", "primitive", "set_grad_enabled", "softmax", "tensor",
    "value_and_grad", "viz", "vjp", "xp",
    "EarlyStopping", "History", "data", "evaluate", "fit", "load", "manual_seed", "nn", "optim",
    "save",
    "arange", "cat", "empty", "empty_like", "eye", "full", "full_like", "linspace", "ones",
    "ones_like", "rand", "rand_like", "randint", "randn", "randn_like", "stack", "where",
    "zeros", "zeros_like",
]
