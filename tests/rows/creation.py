"""Rows for ops/creation.py's differentiable creators (linspace, logspace), and for the
composites found missing by autograd's test suite (np.gradient, np.select, cr.numpy.r_ /
c_), each under the primitive it is built on."""

import numpy as np

import chainrule.numpy as cnp
from harness import Table

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None

ROWS = Table()


row = ROWS.row


def tf(make):
    return (lambda *a: make()(*a)) if torch is not None else None


# --- linspace / logspace --------------------------------------------------------------
row("linspace", lambda a, b: np.linspace(a, b, 5), [(), ()], id="linspace[0d]")
row("linspace", lambda a, b: np.linspace(a, b, 4, endpoint=False), [(3,), (2, 1)],
    id="linspace[broadcast, no endpoint]")
row("linspace", lambda a, b: np.linspace(a, b, 3, axis=-1), [(2,), (2,)], id="linspace[axis -1]")
row("linspace", lambda a, b: np.linspace(a, b, 3, axis=1), [(2, 3), ()], id="linspace[axis 1]")
row("linspace", lambda a, b: np.linspace(a, b, 1), [(2,), (2,)], id="linspace[num 1]")
row("linspace", lambda a, b: np.linspace(a, b, 4), [(2,), ()], dtype=np.complex128,
    id="linspace[complex]")
row("linspace", lambda a, b: np.linspace(a, b, 4, retstep=True)[1] * np.linspace(a, b, 4),
    [(), ()], id="linspace[retstep]")
row("power", lambda a, b: np.logspace(a, b, 4), [(2,), ()], low=-1, high=1, id="logspace")
row("power", lambda a, b, c: cnp.logspace(a, b, 3, base=c, axis=-1), [(2,), (2,), (2,)],
    low=0.5, high=2, id="logspace[base]")

# --- np.gradient (slices and a concatenation) -------------------------------------------
row("concatenate", lambda f: np.gradient(f), [(5,)],
    tf(lambda: lambda f: torch.gradient(f)[0]), "gradient[1d]")
row("concatenate", lambda f: np.gradient(f, 0.5, axis=1, edge_order=2), [(3, 4)],
    tf(lambda: lambda f: torch.gradient(f, spacing=0.5, dim=1, edge_order=2)[0]),
    "gradient[axis 1, edge 2]")
row("concatenate", lambda f: np.stack(np.gradient(f, 2.0)), [(3, 3)],
    tf(lambda: lambda f: torch.stack(torch.gradient(f, spacing=2.0))), "gradient[all axes]")
row("concatenate", lambda f, x: np.gradient(f, np.cumsum(x) + 3 * np.arange(4), axis=0,
                                            edge_order=2),
    [(4, 2), (4,)], low=0.5, high=1.5, id="gradient[coordinates]")

# --- np.select (nested where) ------------------------------------------------------------
row("where", lambda x, y: np.select([x > 0.5, x < -0.5], [x * y, y], default=0.25),
    [(3, 2), (2,)], id="select")

# --- cr.numpy.r_ / c_ (a gather) --------------------------------------------------------
row("getitem", lambda x, y: cnp.r_[x, np.ones(2), y, 0:3], [(2,), (3,)], id="r_[1d, slice]")
row("getitem", lambda x, y: cnp.r_["0,2", x, y], [(3,), (3,)], id="r_[directive]")
row("getitem", lambda x, y: cnp.c_[x, 2.0 * np.ones(3), y], [(3,), (3, 2)], id="c_")
