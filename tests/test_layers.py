"""The package's layers point down: every import of chainrule's own modules (at the top of a
file or inside a function) goes to the same layer or one below, and no subpackages import
each other in a circle.  Read from the source with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "src" / "chainrule"

# bottom to top; a module may import its own layer and the ones below it
LAYERS = [
    {"core"},                  # Tensor, Node and apply, backward, registry, hooks: stdlib + NumPy
    {"ops"},                   # the primitives (defprim) and the Tensor methods
    {"numpy", "scipy", "xp"},  # NEP 13/18 dispatch, cr.numpy; cr.scipy; cr.xp (Array API)
    {"transforms"},            # grad, jvp, jacobian, hessian ...
    {"check"},                 # gradcheck, check_derivative, anomaly mode
    {"optimize", "integrate"},  # implicit differentiation, solvers, ODE adjoints
    {"nn"},
    {"optim", "data", "factories"},  # factories: cr.zeros, cr.randn ... (nn.random streams)
    {"compiler"},              # cr.compile: tracing, emitted NumPy, compiled modules
    {"io"},                    # checkpoints (loads into nn modules)
    {"distributed"},           # data-parallel steps on a Dask cluster
    {"training"},              # cr.fit
    {"viz"},
    {"chainrule"},             # the package's __init__: the public namespace
    {"cli", "__main__"},       # the command line: demo, train, check, bench
]
LEVEL = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _module(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "chainrule"


def _exists(module: str) -> bool:
    rel = pathlib.Path(*module.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every import of a chainrule module."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        mod = _module(path)
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out += [(mod, a.name, node.lineno) for a in node.names
                        if a.name.split(".")[0] == "chainrule"]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "chainrule":
                    continue
                for a in node.names:  # `from .. import transforms` imports a submodule
                    sub = f"{target}.{a.name}"
                    out.append((mod, sub if _exists(sub) else target, node.lineno))
    return out


def test_every_import_points_down() -> None:
    edges = _imports()
    assert len(edges) > 150  # the parse found the package's imports
    units = {_unit(m) for m, _, _ in edges} | {_unit(t) for _, t, _ in edges}
    assert units <= set(LEVEL), f"units without a layer: {sorted(units - set(LEVEL))}"
    upward = [f"{m}:{line} imports {t}" for m, t, line in edges
              if LEVEL[_unit(t)] > LEVEL[_unit(m)]]
    assert not upward, "imports that point up:\n  " + "\n  ".join(upward)


def test_core_imports_only_the_standard_library_numpy_and_itself() -> None:
    for path in sorted((ROOT / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1 or not node.module, f"{path.name}:{node.lineno}"
                if node.level == 0:
                    assert (node.module or "").split(".")[0] in _STDLIB_OR_NUMPY, \
                        f"{path.name}:{node.lineno} imports {node.module}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    assert a.name.split(".")[0] in _STDLIB_OR_NUMPY, \
                        f"{path.name}:{node.lineno} imports {a.name}"


_STDLIB_OR_NUMPY = {"__future__", "numpy", "dis", "functools", "sys", "weakref", "typing",
                    "collections", "heapq", "itertools", "threading", "inspect", "math", "os",
                    "dataclasses", "contextlib", "warnings", "linecache", "traceback", "types", "importlib",
                    "builtins", "operator"}


def test_no_circles_between_subpackages() -> None:
    graph: dict[str, set[str]] = {}
    for m, t, _ in _imports():
        a, b = _unit(m), _unit(t)
        if a != b:
            graph.setdefault(a, set()).add(b)
    # depth-first search for a cycle
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(u: str) -> None:
        state[u] = 1
        path.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(v):] + [v]))
            if v not in state:
                visit(v)
        path.pop()
        state[u] = 2

    for u in sorted(graph):
        if u not in state:
            visit(u)
    assert graph["chainrule"] and "cli" not in graph["chainrule"]


def test_the_check_finds_an_upward_import(tmp_path, monkeypatch) -> None:
    """The test itself can fail: a core module that imports ops is reported."""
    fake = tmp_path / "chainrule"
    (fake / "core").mkdir(parents=True)
    (fake / "ops").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "core" / "__init__.py").write_text("")
    (fake / "ops" / "__init__.py").write_text("")
    (fake / "core" / "bad.py").write_text("def f():\n    from ..ops import shape\n")
    (fake / "ops" / "shape.py").write_text("from ..core import bad\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", fake)
    edges = _imports()
    assert ("chainrule.core.bad", "chainrule.ops.shape", 2) in edges
    assert [e for e in edges if LEVEL[_unit(e[1])] > LEVEL[_unit(e[0])]]
