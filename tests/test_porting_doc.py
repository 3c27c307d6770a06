"""docs/porting.md stays true: its ```python blocks run in order in one namespace, against
PyTorch (skipped without it); the blocks assert their own numbers."""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from test_tutorial import python_blocks

DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "porting.md")


def test_porting_walkthrough_runs():
    pytest.importorskip("torch")
    path = os.path.abspath(DOC)
    blocks = python_blocks(path)
    assert len(blocks) == 6
    ns: dict = {"__name__": "porting"}
    out = io.StringIO()
    for start, src in blocks:
        code = compile("\n" * (start - 1) + src, path, "exec")
        with contextlib.redirect_stdout(out):
            exec(code, ns)
    text = out.getvalue()
    assert "largest output difference" in text and "training accuracy" in text
    assert ns["acc"] > 0.9 and ns["diff"] < 1e-5 and ns["worst"] < 1e-5
