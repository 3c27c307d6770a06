"""The public namespaces export what they document and nothing else."""

from __future__ import annotations

import importlib
import pathlib
import types

import pytest

import chainrule as cr

PUBLIC = ["chainrule", "chainrule.nn", "chainrule.nn.functional", "chainrule.nn.init",
          "chainrule.optim", "chainrule.optim.lr_scheduler", "chainrule.data", "chainrule.numpy",
          "chainrule.viz", "chainrule.check"]
try:  # cr.scipy imports SciPy (optional)
    import scipy  # noqa: F401
    PUBLIC += ["chainrule.scipy.stats", "chainrule.scipy.linalg", "chainrule.scipy.signal",
               "chainrule.scipy.integrate"]
except ImportError:  # pragma: no cover
    pass


@pytest.mark.parametrize("name", PUBLIC)
def test_no_stray_public_names(name: str) -> None:
    mod = importlib.import_module(name)
    assert hasattr(mod, "__all__"), f"{name} has no __all__"
    listed = set(mod.__all__)
    stray = []
    for n, v in vars(mod).items():
        if n.startswith("_") or n in listed:
            continue
        if isinstance(v, types.ModuleType) and v.__name__.startswith(name + "."):
            continue  # a subpackage or submodule of this one
        if name == "chainrule.numpy" and n in cr.numpy.__dir__():
            continue  # a NumPy name looked up and cached (cr.numpy mirrors NumPy)
        stray.append(n)
    assert not stray, f"{name} exposes names it does not export: {sorted(stray)}"
    # the names the issue found
    for n in ("annotations",) + (("np",) if name != "chainrule.numpy" else ()):
        assert not hasattr(mod, n), f"{name}.{n}"


@pytest.mark.parametrize("name", PUBLIC)
def test_everything_exported_exists_and_star_import_works(name: str) -> None:
    mod = importlib.import_module(name)
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing
    ns: dict = {}
    exec(f"from {name} import *", ns)
    assert set(mod.__all__) <= set(ns)
    assert all(n.isidentifier() for n in dir(mod)), [n for n in dir(mod) if not n.isidentifier()]


def test_typed_package_marker_ships() -> None:
    assert (pathlib.Path(cr.__file__).parent / "py.typed").is_file()
