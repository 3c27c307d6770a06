"""docs/architecture.md cannot drift from the code: every path it names exists, every dotted
name it puts in backticks resolves, its layer diagram is tests/test_layers.py's order, it
names every hook and every core and ops module, and the README links to it.

The page's conventions, which the parsing below relies on:

* a path is a word with a ``/`` in it (``core/primitive.py``, ``tests/rows/``) or a file
  name ending in ``.py`` or ``.md``; it is relative to the repository, to ``src/`` or to
  ``src/chainrule/``.  Paths are checked in backticks and inside the text diagrams.
* a name is a backticked word that starts with ``cr.``, ``np.``, ``chainrule.`` or a
  layer (``core.primitive.apply``, ``transforms._Traced``); a call's arguments are ignored
  (``np.sin(t)`` names ``np.sin``).  ``core.x`` is ``chainrule.core.x``.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import re

import numpy as np
import pytest

import chainrule

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "chainrule"
DOC = ROOT / "docs" / "architecture.md"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
TICK = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"^(?:[A-Za-z_][\w.-]*/)+(?:[\w.-]+)?$|^[A-Za-z_][\w.-]*\.(?:py|md)$")
LAYER_UNITS = ("core", "ops", "numpy", "transforms", "check", "nn", "optim", "data", "io",
               "training", "viz", "cli")
NAME = re.compile(r"^(?:cr|np|chainrule|" + "|".join(LAYER_UNITS) + r")(?:\.[A-Za-z_]\w*)+$")


def _doc() -> str:
    return DOC.read_text()


def _prose(text: str) -> str:
    return FENCE.sub("", text)


def _words(s: str) -> list[str]:
    return [w.strip("(),:;") for w in s.split()]


def doc_paths(text: str) -> list[str]:
    words = [w for t in TICK.findall(_prose(text)) for w in _words(t)]
    words += [w for block in FENCE.findall(text) for w in _words(block)]
    return sorted({w for w in words if PATH.match(w)})


def doc_names(text: str) -> list[str]:
    found = set()
    for tick in TICK.findall(_prose(text)):
        for word in [tick.split("(")[0], *_words(tick)]:
            word = word.split("(")[0]
            if NAME.match(word) and not PATH.match(word):  # io.py is a path
                found.add(word)
    return sorted(found)


def _resolves(path: str) -> bool:
    return any((base / path).exists() for base in (ROOT, ROOT / "src", PKG))


def _lookup(name: str) -> object:
    """The object a dotted name on the page stands for (raises if there is none)."""
    parts = name.split(".")
    if parts[0] == "np":
        obj: object = np
        rest = parts[1:]
    else:
        if parts[0] == "cr":
            parts[0] = "chainrule"
        elif parts[0] != "chainrule":
            parts.insert(0, "chainrule")
        for k in range(len(parts), 0, -1):  # the longest importable module prefix
            mod = ".".join(parts[:k])
            try:
                obj = importlib.import_module(mod)
            except ModuleNotFoundError as exc:
                if exc.name is None or not mod.startswith(exc.name):
                    raise
                continue
            rest = parts[k:]
            break
        else:  # pragma: no cover - "chainrule" itself always imports
            raise AssertionError(name)
    for attr in rest:
        obj = getattr(obj, attr)
    return obj


def test_the_page_is_one_page_and_the_parse_finds_its_names() -> None:
    text = _doc()
    assert 100 <= len(text.splitlines()) <= 260, "docs/architecture.md is meant to be one page"
    assert len(doc_paths(text)) >= 40
    assert len(doc_names(text)) >= 40
    # the parse itself: a path in a diagram, a call reduced to its name, prose words skipped
    assert "core/primitive.py" in doc_paths(text) and "tests/rows/" in doc_paths(text)
    assert "np.sin" in doc_names(text) and "core.primitive.apply" in doc_names(text)
    assert not [p for p in doc_paths(text) if p.startswith(("13", "18", "http"))]


def test_every_path_the_page_names_exists() -> None:
    missing = [p for p in doc_paths(_doc()) if not _resolves(p)]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


@pytest.mark.parametrize("name", doc_names(DOC.read_text()))
def test_every_name_the_page_names_exists(name: str) -> None:
    try:
        _lookup(name)
    except (AttributeError, ImportError) as exc:
        pytest.fail(f"docs/architecture.md names `{name}`, which does not exist: {exc}")


def test_links_point_at_files() -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", _doc()):
        assert (DOC.parent / target).exists(), target


def test_the_layer_diagram_is_the_enforced_order() -> None:
    """The first diagram lists the layers top to bottom, as tests/test_layers.py has them."""
    tree = ast.parse((ROOT / "tests" / "test_layers.py").read_text())
    layers = next(ast.literal_eval(node.value) for node in tree.body
                  if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "LAYERS" for t in node.targets))
    section = _doc().split("## The layers", 1)[1]
    diagram = FENCE.search(section).group(1)
    drawn = []
    for line in diagram.splitlines():
        units = set()
        for word in line.split():
            if not PATH.match(word):
                break  # the description starts
            unit = word.removesuffix("/").removesuffix(".py")
            units.add("chainrule" if unit == "chainrule/__init__" else unit)
        if units:
            drawn.append(units)
    assert drawn == list(reversed(layers))


def test_every_hook_and_every_core_and_ops_module_is_on_the_page() -> None:
    text = _doc()
    hooks = re.findall(r'^(\w+) = _missing\("', (PKG / "core" / "hooks.py").read_text(), re.M)
    assert len(hooks) >= 5
    names = doc_names(text)
    assert not [h for h in hooks if f"core.hooks.{h}" not in names], "a hook is not on the page"
    paths = doc_paths(text)
    for sub in ("core", "ops"):
        files = [f"{sub}/{p.name}" for p in sorted((PKG / sub).glob("*.py")) if p.name != "__init__.py"]
        assert not [f for f in files if f not in paths], f"{sub} modules missing from the page"


def test_the_readme_links_to_the_page() -> None:
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()


def test_the_checks_can_fail() -> None:
    assert not _resolves("core/nowhere.py")
    with pytest.raises(AttributeError):
        _lookup("core.primitive.no_such_function")
    with pytest.raises(AttributeError):
        _lookup("core.no_such_module.f")
    assert _lookup("cr.grad") is chainrule.grad and _lookup("np.sin") is np.sin
    assert doc_names("`core.primitive.apply(prim, args, kw)` and `t.grad`") == ["core.primitive.apply"]
    assert doc_paths("`ops/util.py`\n```\nx  core/graph.py: y\n```\n") == ["core/graph.py", "ops/util.py"]
