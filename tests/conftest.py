"""Shared fixtures: test files written once per session by the builders in nwbfiles.py."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS.parent / "tools"))  # development tooling (regen.py), not installed

from nwbfiles import BUILDERS  # noqa: E402

DATA_DIR = TESTS / "data"


@pytest.fixture(scope="session", autouse=True)
def _private_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the model cache and the lock folder of the whole run (child processes included)
    out of the user's real ones."""
    keys = ("H5MODEL_CACHE_DIR", "H5MODEL_LOCK_DIR", "H5MODEL_REMOTE_TIMEOUT")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ["H5MODEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("model-cache"))
    os.environ["H5MODEL_LOCK_DIR"] = str(tmp_path_factory.mktemp("locks"))
    # the loopback server answers at once or not at all: a stall is a fault under test
    os.environ["H5MODEL_REMOTE_TIMEOUT"] = "5"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

# Files written by an older pynwb release (see data/make_old_files.py), committed as fixtures.
OLD_FILES: dict[str, Path] = {
    "old_ecephys": DATA_DIR / "old_pynwb_ecephys.nwb",
    "old_ophys": DATA_DIR / "old_pynwb_ophys.nwb",
}


@pytest.fixture(scope="session")
def nwb_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every BUILDERS entry written once, plus the committed old-pynwb files."""
    directory = tmp_path_factory.mktemp("nwb_files")
    files = {name: build(directory) for name, build in BUILDERS.items()}
    for name, path in OLD_FILES.items():
        if not path.exists():
            raise FileNotFoundError(f"missing committed fixture {path}")
        files[name] = path
    return files


@pytest.fixture(scope="module")
def nwb(nwb_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the minimal pynwb file for one test module to open, lock and edit."""
    path = tmp_path_factory.mktemp("minimal") / "minimal.nwb"
    shutil.copyfile(nwb_files["minimal"], path)
    return path
