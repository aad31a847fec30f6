"""The distribution ships every package of the source tree (a plain ``pip install .``
installs only what pyproject lists)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    source = ROOT / "src"
    found = {
        ".".join(init.parent.relative_to(source).parts)
        for init in source.rglob("__init__.py")
    }
    # packages mapped to folders outside src/: the committed models, the shipped layouts
    mapped = {name for name in config["tool"]["setuptools"]["package-dir"] if name}
    assert mapped == {"h5model._generated", "h5model._layouts"}
    assert found | mapped == listed


def test_shipped_layouts_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folder = ROOT / config["tool"]["setuptools"]["package-dir"]["h5model._layouts"]
    patterns = config["tool"]["setuptools"]["package-data"]["h5model._layouts"]
    shipped = {p for p in folder.rglob("*") if p.is_file() and p.suffix != ".py"
               and "__pycache__" not in p.parts}
    covered = {p for pattern in patterns for p in folder.glob(pattern)}
    assert shipped and shipped <= covered
