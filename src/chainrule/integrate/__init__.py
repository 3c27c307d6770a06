"""ODEs with gradients from the continuous adjoint, and ``checkpoint``.

``odeint(func, y0, t, *params)`` (SciPy's argument order) and ``solve_ivp(fun, t_span,
y0, ...)`` (SciPy's signature) solve with chainrule's own adaptive Dormand–Prince 5(4),
Bogacki–Shampine 3(2) or Rosenbrock 2(3) (stiff) methods in NumPy; gradients w.r.t. the
initial state, the times and the parameters come from the adjoint system integrated
backwards, in memory that does not grow with the number of steps.  ``checkpoint(f)``
recomputes a function's graph in the backward pass.  See docs/science.md, "ODEs and the
adjoint".
"""

from .checkpoint import checkpoint
from .odeint import OdeResult, odeint, solve_ivp

__all__ = ["OdeResult", "checkpoint", "odeint", "solve_ivp"]
