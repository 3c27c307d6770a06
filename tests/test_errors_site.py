"""Errors name the user's line, however chainrule was put on the path."""

from __future__ import annotations

import os
import subprocess
import sys

import chainrule as cr
from chainrule.core import errors

_SRC = os.path.dirname(os.path.dirname(os.path.abspath(cr.__file__)))


def test_library_files_are_recognised_through_unnormalised_paths() -> None:
    tensor_py = os.path.join(_SRC, "chainrule", "core", "tensor.py")
    detour = os.path.join(_SRC, os.pardir, os.path.basename(_SRC), "chainrule", "core",
                          "tensor.py")  # .../src/../src/chainrule/core/tensor.py
    assert errors._is_library(tensor_py) and errors._is_library(detour)
    assert not errors._is_library(os.path.join(_SRC + "_examples", "chainrule", "x.py"))
    assert not errors._is_library(os.path.join(os.path.dirname(_SRC), "my_script.py"))


def test_the_error_names_the_users_line_when_imported_through_dot_dot(tmp_path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {os.path.join(_SRC, os.pardir, os.path.basename(_SRC))!r})\n"
        "import numpy as np, chainrule as cr\n"
        "t = cr.tensor(np.ones(3), requires_grad=True)\n"
        "try:\n"
        "    t.numpy()  # the user's line\n"
        "except TypeError as e:  # (LeftGraphError is a TypeError)\n"
        "    print(e)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": ""}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "user_script.py:6" in out.stdout and "tensor.py" not in out.stdout, out.stdout
