"""docs/tutorial.md stays true: its ```python blocks run, in order, in one namespace.

Each block is compiled against the tutorial file's own line numbers, so a failure points at
the line of the tutorial that broke.  The blocks assert their own numbers; the printed
values in their comments are checked here too.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

import pytest

TUTORIAL = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "tutorial.md")


def python_blocks(path: str) -> list[tuple[int, str]]:
    """(first line number, source) of each ```python block."""
    blocks, cur, start = [], None, 0
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if cur is None and line.strip() == "```python":
                cur, start = [], n + 1
            elif cur is not None and line.strip() == "```":
                blocks.append((start, "".join(cur)))
                cur = None
            elif cur is not None:
                cur.append(line)
    assert cur is None, f"unclosed ```python block starting at line {start - 1}"
    return blocks


def test_blocks_found():
    blocks = python_blocks(TUTORIAL)
    assert len(blocks) >= 15
    text = open(TUTORIAL, encoding="utf-8").read()
    # the retelling covers the notebook's cells in order
    heads = [h for h in re.findall(r"^## (.+)$", text, re.M)]
    assert [h.split(".")[0] for h in heads] == ["0", "1", "2", "3", "4"]


def test_tutorial_runs(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")      # section 4 trains on scikit-learn's digits
    pytest.importorskip("matplotlib")   # and plots the history
    monkeypatch.chdir(tmp_path)         # the tutorial writes digits-cnn.npz and loss.png
    path = os.path.abspath(TUTORIAL)
    ns: dict = {"__name__": "tutorial"}
    printed = []
    try:  # one BLAS thread: these small matrices only lose time to thread hand-offs
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(limits=1)
    except ImportError:
        limit = contextlib.nullcontext()
    with limit:
        for start, src in python_blocks(path):
            code = compile("\n" * (start - 1) + src, path, "exec")
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                exec(code, ns)
            printed.append(buf.getvalue())
    out = "".join(printed)
    # the numbers the tutorial's comments promise
    for expected in ["300 300.000000", "300.0", "630.0", "tensor(300.)", "0.7311",
                     "Gradient (Chain Rule): 0.209987", "Gradient (Numerical) : 0.393224",
                     "would take it out of the", "[(3, 2), (3, 1), (1, 3), (1, 1)]",
                     "14.688845", "[14.689, 3.54, 2.983, 2.567] ... 0.578"]:
        assert expected in out, expected
    assert "evaluates sigmoid at 2.0 where check_function evaluates it at 1.0" in out
    assert re.search(r"test accuracy (\d+\.\d+)%", out)
    assert (tmp_path / "digits-cnn.npz").exists() and (tmp_path / "loss.png").exists()
