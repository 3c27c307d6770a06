"""Checking derivatives: finite differences, gradcheck, locating wrong rules, anomalies.

    cr.numerical_derivative(f, x)         # the seed's central difference, for arrays too
    cr.gradcheck(f, *args)                # report: truthy when it holds, says where if not
    cr.check_derivative(f, df, x)         # your hand-written derivative against the truth
    cr.check_primitive(op, *examples)     # a custom primitive's rules, both modes, 2nd order
    with cr.detect_anomaly(): ...         # the first op that made a nan/inf, and its line
"""

from .anomaly import AnomalyError, AnomalyWarning, detect_anomaly
from .derivative import DerivativeReport, check_derivative
from .gradcheck import gradcheck
from .numerical import numerical_derivative
from .primcheck import PrimitiveReport, check_primitive
from .report import GradcheckError, GradcheckReport

__all__ = [
    "AnomalyError", "AnomalyWarning", "DerivativeReport", "GradcheckError", "GradcheckReport",
    "PrimitiveReport", "check_derivative", "check_primitive", "detect_anomaly", "gradcheck",
    "numerical_derivative",
]
