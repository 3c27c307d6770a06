"""docs/coverage.md is what the dispatch tables say, and the docs point at it."""

from __future__ import annotations

import pathlib
import re

import chainrule as cr
from chainrule.numpy.coverage import markdown
from chainrule.core.registry import NAMES

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_coverage_page_is_current() -> None:
    page = (ROOT / "docs" / "coverage.md").read_text()
    assert page == markdown(), (
        "docs/coverage.md is stale: run python -m chainrule.numpy.coverage > docs/coverage.md")


def test_coverage_page_lists_every_name_and_says_which_differentiate() -> None:
    page = markdown()
    listed = re.findall(r"^\| `np\.([\w.]+)` \| (.*) \|$", page, flags=re.M)
    assert sorted(n for n, _ in listed) == sorted(NAMES)
    how = dict(listed)
    assert "not differentiable" in how["argmax"] and "not differentiable" in how["floor"]
    assert how["exp"].startswith("primitive `exp`: reverse and forward")
    assert "not differentiable" not in how["linalg.inv"]
    # a name the page calls differentiable differentiates
    assert cr.grad(lambda x: cr.numpy.exp(x))(0.0) == 1.0


def test_docs_cite_only_files_in_the_repository() -> None:
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for path in texts:
        text = path.read_text()
        assert "ops-coverage" not in text and "DESIGN.md" not in text, path
        assert "coverage list" not in text, f"{path}: point at docs/coverage.md instead"
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"
