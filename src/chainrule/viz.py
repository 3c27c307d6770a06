"""Pictures: the graph behind a value, and a training history.

    y = model(x).sum()
    print(cr.viz.to_dot(y, names=dict(model.named_parameters())))   # DOT text, no dependency
    cr.viz.render(y, "graph.svg")                                     # needs Graphviz ([viz] extra)
    cr.viz.plot_history(history, "loss.png")                          # needs matplotlib

``to_dot`` walks the recorded nodes back from the value: each operation shows its name, its
output shape and dtype, and -- for tensors of at most ``max_values`` elements -- its value and
gradient.  A leaf's gradient is its ``.grad``; an intermediate's only shows with
``retain_grad()``.

**The graph must still exist.**  ``backward()`` frees the graph as it goes (that is what makes it
cheap), so draw before calling it, or call ``backward(retain_graph=True)`` to draw afterwards with
the gradients filled in.  Nodes whose history was freed are marked "freed by backward()".
"""

import io as _io
import os as _os
import shutil as _shutil
import subprocess as _subprocess
from collections.abc import Mapping as _Mapping, Sequence as _Sequence
from typing import Any as _Any

import numpy as _np

from .core import primitive as _P
from .core.errors import ChainruleError as _ChainruleError
from .core.tensor import Tensor as _Tensor
from .core.state import STATE as _STATE
from .io import atomic_write as _io_atomic_write

__all__ = ["GraphvizError", "plot_history", "render", "to_dot"]


class GraphvizError(_ChainruleError, RuntimeError):
    """Graphviz (the ``dot`` program) is not installed or failed."""


# ---------------------------------------------------------------------------------------------
# DOT source


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _shape_str(shape: tuple, dtype: _Any) -> str:
    shp = "scalar" if tuple(shape) == () else "(" + ", ".join(str(n) for n in shape) + ")"
    return f"{shp} {_np.dtype(dtype).name}"


def _fmt_array(v: _Any, max_values: int) -> str | None:
    if isinstance(v, _Tensor):
        v = v._value
    if not isinstance(v, (_np.ndarray, _np.generic, int, float, complex)):
        return None
    a = _np.asarray(v)
    if a.size > max_values:
        return None
    if a.ndim == 0:
        x = a.item()
        if isinstance(x, float):
            t = f"{x:.6g}"
            return t if any(c in t for c in ".enai") else t + ".0"
        return str(x)
    return _np.array2string(a, precision=4, separator=", ", suppress_small=True,
                           max_line_width=60)


def _values(order: list[_P.Node], root: _P.Node, root_value: _Any) -> dict[_P.Node, _Any]:
    """Output value of each node where the graph holds it, or recomputes it cheaply.

    A node keeps its output only when its rules need it; otherwise the value is found among
    a child's saved arguments, or recomputed from the parents' values (one NumPy call).
    """
    vals: dict[_P.Node, _Any] = {root: root_value}
    for node in order:
        if node.ref is not None:
            t = node.ref()
            if t is not None:
                vals.setdefault(node, t._value)
        if isinstance(node.ans, _np.ndarray):
            vals.setdefault(node, node.ans)
        for p, a in zip(node.parents, node.args or (), strict=False):
            if p is not None and isinstance(a, _np.ndarray):
                vals.setdefault(p, a)
    for node in order:  # increasing seq: parents before children
        if node in vals or node.prim is None or node.args is None:
            continue
        raw = []
        for p, a in zip(node.parents, node.args, strict=True):
            if isinstance(a, _P.Meta):
                a = vals.get(p) if p is not None else None
                if a is None:
                    break
            raw.append(a)
        else:
            try:
                vals[node] = _np.asarray(node.prim.fwd(*raw, **(node.kw or {})))
            except Exception:
                pass
    return vals


def _grad_of(node: _P.Node) -> _Any:
    if node.ref is None:
        return None
    t = node.ref()
    return None if t is None else t.grad


def _node_grads(order: list[_P.Node], root: _P.Node) -> dict[_P.Node, _Any]:
    """d(root)/d(node) for every node of an intact graph with a scalar root, touching no .grad.

    The same rule calls as the backward pass, but nothing is freed or delivered.
    """
    grads: dict[_P.Node, _Any] = {root: _np.ones(root.shape, root.dtype)}
    saved = _STATE.grad_enabled
    _STATE.grad_enabled = False
    try:
        for node in reversed(order):  # decreasing seq: a topological order
            g = grads.get(node)
            if g is None or node.prim is None:
                continue
            for i, p in enumerate(node.parents):
                if p is None:
                    continue
                rule = node.prim.vjps.get(i)
                if rule is None:
                    return {}
                gi = _np.asarray(rule(g, node.ans, *node.args, **(node.kw or {})))
                prev = grads.get(p)
                grads[p] = gi if prev is None else prev + gi
    except Exception:
        return {}
    finally:
        _STATE.grad_enabled = saved
    return grads


def to_dot(
    tensor: _Tensor,
    *,
    names: _Mapping[str, _Tensor] | None = None,
    max_values: int = 16,
    grads: bool = True,
    constants: bool = True,
    rankdir: str = "TB",
    title: str | None = None,
) -> str:
    """DOT source (Graphviz's language) of the graph that computed ``tensor``.

    Each box is an operation (or a leaf) with its output shape and dtype, and -- when it has at
    most ``max_values`` elements -- its value and its gradient.

    ``names``: labels for leaves, e.g. ``{"w": w}`` or ``dict(model.named_parameters())``.
    ``grads``: for a scalar ``tensor`` whose graph is intact, show d(tensor)/d(node) at every
    node (computed here, no ``.grad`` is touched); otherwise, and with ``grads=False``, show
    the ``.grad`` of leaves (and of tensors that called ``retain_grad()``).
    ``constants``: also draw the non-tensor arguments (the 2.0 in ``w * 2.0``).
    Inputs are at the top, the value at the bottom (``rankdir="LR"``: left to right).

    ``backward()`` frees the graph: draw before it, or call ``backward(retain_graph=True)``.
    Needs no third-party package; paste the text into any Graphviz viewer or use :func:`render`.
    """
    if not isinstance(tensor, _Tensor):
        raise TypeError(
            f"cr.viz.to_dot expects a chainrule Tensor, got {type(tensor).__name__}; "
            f"compute the value from cr.tensor(..., requires_grad=True) inputs"
        )
    leaf_names = {}
    for k, v in (names or {}).items():
        if isinstance(v, _Tensor) and v._node is not None:
            leaf_names[v._node] = str(k)

    lines = [
        "digraph chainrule {",
        f"  rankdir={rankdir};",
        '  graph [fontname="Helvetica", fontsize=12];',
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]
    if title:
        lines.append(f'  labelloc="t"; label="{_esc(title)}";')

    root = tensor._node
    if root is None:
        label = f"constant\\n{_shape_str(tensor.shape, tensor.dtype)}"
        val = _fmt_array(tensor._value, max_values)
        if val is not None:
            label += f"\\n= {_esc(val)}"
        label += "\\n(no graph: requires_grad is False)"
        lines.append(f'  n0 [shape=box, style="rounded,bold", label="{label}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    # collect the nodes (iteratively: graphs may be very deep)
    seen: set[_P.Node] = {root}
    order: list[_P.Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        for p in node.parents:
            if p is not None and p not in seen:
                seen.add(p)
                stack.append(p)
    order.sort(key=lambda n: n.seq)
    ids = {n: f"n{i}" for i, n in enumerate(order)}
    intact = all(n.prim is None or n.args is not None for n in order)
    vals = _values(order, root, tensor._value)
    node_grads = _node_grads(order, root) if grads and intact and tensor.size == 1 else {}

    n_const = 0
    edges: list[str] = []
    for node in order:
        nid = ids[node]
        is_leaf = node.prim is None
        head = leaf_names.get(node, "leaf") if is_leaf else node.prim.name
        parts = [head, _shape_str(node.shape, node.dtype)]
        sval = _fmt_array(vals[node], max_values) if node in vals else None
        if sval is not None:
            parts.append(f"= {sval}")
        g = node_grads.get(node)
        if g is None:
            g = _grad_of(node)
        sgrad = _fmt_array(g, max_values) if g is not None else None
        if sgrad is not None:
            parts.append(f"grad {sgrad}")
        freed = not is_leaf and node.args is None
        if freed:
            parts.append("(history freed by backward();\nuse backward(retain_graph=True))")
        label = "\\n".join(_esc(p) for p in parts)
        if is_leaf:
            attrs = ['shape=box, style="filled", fillcolor="#dbe9f6"']
        elif freed:
            attrs = ['shape=box, style="rounded,dashed", color="#999999"']
        else:
            attrs = ['shape=box, style="rounded"']
        if node is root:
            attrs.append("penwidth=2")
        lines.append(f'  {nid} [{", ".join(attrs)}, label="{label}"];')

        nargs = len(node.parents)
        args = node.args or ()
        for i, p in enumerate(node.parents):
            eattrs = [f'label="{i}"'] if nargs > 1 else []
            if p is not None:
                edges.append(f"  {ids[p]} -> {nid}" + (f" [{eattrs[0]}]" if eattrs else "") + ";")
                continue
            if not constants or i >= len(args):
                continue
            a = args[i]
            s = None if isinstance(a, _P.Meta) else _fmt_array(a, max_values)
            if s is None:
                shp, dt = getattr(a, "shape", None), getattr(a, "dtype", None)
                if shp is None or dt is None:
                    continue
                s = f"const {_shape_str(shp, dt)}"
            cid = f"c{n_const}"
            n_const += 1
            lines.append(f'  {cid} [shape=plaintext, fontcolor="#555555", label="{_esc(s)}"];')
            edges.append(f"  {cid} -> {nid} [{', '.join(eattrs + ['style=dashed'])}];")
    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# rendering with Graphviz


_FORMATS = {"svg", "png", "pdf", "jpg", "jpeg", "gif", "ps", "eps", "dot", "gv", "json"}

_INSTALL = (
    "Install Graphviz: pip install 'chainrule[viz]' (the Python package) and the dot program "
    "(apt-get install graphviz, brew install graphviz, or conda install graphviz). "
    "Without it, cr.viz.to_dot(t) gives the DOT text to paste into any Graphviz viewer."
)


def _dot_bytes(src: str, fmt: str) -> bytes:
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            return graphviz.Source(src).pipe(format=fmt)
        except graphviz.ExecutableNotFound as exc:
            raise GraphvizError(f"cr.viz.render: the Graphviz dot program was not found. "
                                f"{_INSTALL}") from exc
        except graphviz.CalledProcessError as exc:
            raise GraphvizError(f"cr.viz.render: dot failed: {exc}") from exc
    exe = _shutil.which("dot")
    if exe is None:
        raise GraphvizError(f"cr.viz.render: Graphviz is not installed. {_INSTALL}")
    r = _subprocess.run([exe, f"-T{fmt}"], input=src.encode(), capture_output=True, check=False)
    if r.returncode != 0:
        raise GraphvizError(f"cr.viz.render: dot failed: {r.stderr.decode(errors='replace')}")
    return r.stdout


def _atomic_write(path: str, data: bytes) -> None:
    _os.makedirs(_os.path.dirname(_os.path.abspath(path)), exist_ok=True)
    _io_atomic_write(path, lambda f: f.write(data))


def render(tensor: _Tensor, path: str | _os.PathLike, *, format: str | None = None,
           **to_dot_kwargs: _Any) -> str:
    """Draw the graph behind ``tensor`` into ``path`` (format from the suffix: svg, png, pdf ...).

    Needs Graphviz (``pip install 'chainrule[viz]'`` and the ``dot`` program); raises
    :class:`GraphvizError` saying how to install it otherwise.  ``.dot``/``.gv`` paths just get
    the DOT text.  Keyword arguments go to :func:`to_dot`.  Returns the path written.
    """
    path = _os.fspath(path)
    fmt = (format or _os.path.splitext(path)[1].lstrip(".") or "svg").lower()
    if fmt not in _FORMATS:
        raise ValueError(
            f"cr.viz.render: unknown format {fmt!r} (from {path!r}); "
            f"use one of {', '.join(sorted(_FORMATS))}"
        )
    src = to_dot(tensor, **to_dot_kwargs)
    data = src.encode() if fmt in ("dot", "gv") else _dot_bytes(src, fmt)
    _atomic_write(path, data)
    return path


# ---------------------------------------------------------------------------------------------
# training history


def _series(history: _Any) -> dict[str, list[float]]:
    """Normalise a history to {name: per-epoch values}."""
    h = getattr(history, "history", history)
    if callable(h) and not isinstance(h, _Mapping):
        h = history
    if isinstance(h, _Mapping):
        items = dict(h)
    elif isinstance(h, _Sequence) and h and all(isinstance(r, _Mapping) for r in h):
        keys: list[str] = []
        for r in h:
            keys.extend(k for k in r if k not in keys)
        items = {k: [r.get(k, _np.nan) for r in h] for k in keys}
    elif isinstance(h, (_Sequence, _np.ndarray)):
        items = {"loss": list(h)}
    else:
        raise TypeError(
            "cr.viz.plot_history: expected a history (a dict of name -> list of numbers, an "
            f"object with a .history dict, a list of per-epoch dicts, or a list of losses), got "
            f"{type(history).__name__}"
        )
    out: dict[str, list[float]] = {}
    for k, v in items.items():
        if isinstance(v, (str, bytes)) or not isinstance(v, (_Sequence, _np.ndarray)):
            continue
        try:
            arr = _np.asarray([_np.nan if x is None else x for x in v], dtype=float)
        except (TypeError, ValueError):
            continue
        if arr.ndim == 1 and arr.size:
            out[str(k)] = arr.tolist()
    if not out:
        raise ValueError("cr.viz.plot_history: the history holds no numeric series to plot")
    return out


def plot_history(history: _Any, path: str | _os.PathLike, *, title: str | None = None) -> str:
    """Plot a training history (losses left, other metrics right) into ``path`` (png, svg, pdf).

    ``history`` is what :func:`chainrule.fit` returns, or any dict of name -> per-epoch values.
    Uses matplotlib's Agg canvas directly: no window, and pyplot's global state is untouched.
    Returns the path written.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:
        raise ImportError(
            "cr.viz.plot_history needs matplotlib: pip install 'chainrule[viz]' "
            "(or pip install matplotlib)"
        ) from exc
    series = _series(history)
    xs = series.pop("epoch", None)
    series.pop("step", None)
    losses = {k: v for k, v in series.items() if "loss" in k.lower()}
    metrics = {k: v for k, v in series.items() if k not in losses}
    panels = [p for p in (losses, metrics) if p]
    fig = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        for k, v in panel.items():
            x = xs if xs is not None and len(xs) == len(v) else list(range(1, len(v) + 1))
            ax.plot(x, v, marker="o" if len(v) <= 30 else None, markersize=3, label=k)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss" if panel is losses else "metric")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    path = _os.fspath(path)
    buf = _io.BytesIO()
    fmt = _os.path.splitext(path)[1].lstrip(".").lower() or "png"
    fig.savefig(buf, dpi=100, format=fmt)
    _atomic_write(path, buf.getvalue())
    return path
