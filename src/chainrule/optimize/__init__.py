"""Gradients through solvers: implicit differentiation of roots, fixed points and minima.

``cr.custom_root(f, solve)`` and ``cr.fixed_point(g, x0, *params)`` differentiate a
solution by the implicit function theorem, never through the solver's iterations;
``minimize``, ``root`` and ``least_squares`` wrap SciPy's (imported when called) with exact
derivatives from chainrule, and their solutions are differentiable in ``args``.
See docs/science.md, "Gradients through solvers".
"""

from ._common import ConvergenceError
from .implicit import custom_root, fixed_point
from .scipy_solvers import least_squares, minimize, root

__all__ = ["ConvergenceError", "custom_root", "fixed_point", "least_squares", "minimize", "root"]
