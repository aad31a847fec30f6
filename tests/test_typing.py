"""What a type checker sees of h5model in a user's script: the package as pyproject
installs it (``py.typed`` included, so mypy reads its types at all), ``File`` generic
over its root, ``get(path, Type)`` and ``find(Type)`` returning that type, and the time
methods of a series class."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = '''
import h5model
from h5model._generated.core_2_11_0 import ElectrodeGroup, NWBFile, TimeSeries

with h5model.open("session.nwb", root_type=NWBFile) as f:
    reveal_type(f)
    reveal_type(f.root)
    series = f.get("/acquisition/raw_voltage", TimeSeries)
    reveal_type(series)
    reveal_type(series.get_timestamps())
    reveal_type(series.rate)
    reveal_type(f.find(ElectrodeGroup))
    reveal_type(f.get("/acquisition"))


def identifier(f: h5model.File[NWBFile]) -> str:
    root: NWBFile = f.root
    return str(root.identifier)


def wrong(series: TimeSeries) -> str:
    return series.rate.hex()  # None when the series has timestamps
'''


def _install(site: Path) -> None:
    """The packages and package data pyproject lists, laid out as an install lays them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs: dict[str, str] = config["package-dir"]
    data: dict[str, list[str]] = config.get("package-data", {})
    for package in config["packages"]:
        source = ROOT / dirs[package] if package in dirs else ROOT / dirs[""] / package.replace(
            ".", "/")
        target = site / package.replace(".", "/")
        target.mkdir(parents=True, exist_ok=True)
        for item in source.iterdir():
            patterns = ["*.py", *data.get(package, [])]
            if item.is_file() and any(fnmatch.fnmatch(item.name, p) for p in patterns):
                shutil.copy2(item, target / item.name)


def test_py_typed_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in config["package-data"]["h5model"]
    assert (ROOT / "src" / "h5model" / "py.typed").is_file()


@pytest.mark.skipif(shutil.which("mypy") is None and not any(
    (Path(p) / "mypy").is_dir() for p in sys.path), reason="mypy is not installed")
def test_mypy_sees_the_types(tmp_path: Path) -> None:
    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(env), "platbase": str(env)}))
    _install(site)
    # the dependencies (pydantic, numpy...) from this interpreter's site folders; this
    # copy of h5model comes first
    folders = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (site / "deps.pth").write_text("".join(f"{p}\n" for p in folders))
    (tmp_path / "user.py").write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--python-executable", str(env / "bin" / "python"),
         "--cache-dir", str(tmp_path / "cache"), "user.py"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    lines = [line.split(": ", 2)[1:] for line in result.stdout.splitlines()]
    notes = [text.replace("builtins.", "") for kind, text in lines if kind == "note"]
    errors = [text for kind, text in lines if kind == "error"]
    assert notes[3].startswith('Revealed type is "numpy.ndarray['), result.stdout
    assert notes[:3] + notes[4:] == [
        'Revealed type is "h5model.session.file.File[h5model._generated.core_2_11_0.NWBFile]"',
        'Revealed type is "h5model._generated.core_2_11_0.NWBFile"',
        'Revealed type is "h5model._generated.core_2_11_0.TimeSeries"',
        'Revealed type is "float | None"',
        'Revealed type is "list[h5model._generated.core_2_11_0.ElectrodeGroup]"',
        'Revealed type is "Any"',
    ], result.stdout + result.stderr
    # the one mistake is found: a rate may be None
    assert len(errors) == 1 and '"None" of "float | None" has no attribute "hex"' in errors[
        0].replace("Optional[float]", "float | None"), result.stdout
