"""What the core calls but does not define, installed by the layers above it.

The core (``Node`` and ``apply``, the backward pass, ``Tensor``) knows no particular
operation, no NumPy dispatch table and no checker, and imports nothing of chainrule's
outside ``core/``.  Where it must call into them it calls a hook here, and the layer that
owns the behaviour installs it when it is imported, the way the checker sets
``STATE.record``:

================  ==========================================  ======================
hook              what the core needs                         installed by
================  ==========================================  ======================
fit_tangent       a JVP rule's result given the output's      ``ops.util``
                  shape and dtype (library rules)
cast_like         a cotangent cast to its input's dtype       ``ops.util``
stack_lists       an argument list holding Tensors built      ``chainrule.numpy``
                  into one (``np.sum([t, u])``)
ufunc_dispatch    ``np.exp(t)`` and friends (NEP 13)          ``numpy.dispatch``
function_dispatch ``np.concatenate([t, u])`` ... (NEP 18)     ``numpy.dispatch``
check_forward     anomaly mode's check of each result         ``check.anomaly``
check_backward    anomaly mode's check of each cotangent      ``check.anomaly``
array_namespace   ``t.__array_namespace__()``: the Array API  ``chainrule.xp``
                  namespace on Tensors
================  ==========================================  ======================

``import chainrule`` installs every hook; a core used on its own raises the error below
when it reaches one that is missing.
"""

from __future__ import annotations

from typing import Any


def _missing(name: str) -> Any:
    def hook(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"chainrule's core needs the {name} hook, which the layer above it installs: "
            f"import chainrule (not chainrule.core alone)"
        )

    hook.__name__ = name
    return hook


fit_tangent = _missing("fit_tangent")
cast_like = _missing("cast_like")
stack_lists = _missing("stack_lists")
ufunc_dispatch = _missing("ufunc_dispatch")
function_dispatch = _missing("function_dispatch")
check_forward = _missing("check_forward")
check_backward = _missing("check_backward")
array_namespace = _missing("array_namespace")
