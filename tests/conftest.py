"""Shared fixtures: test files written once per session by the builders in nwbfiles.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from nwbfiles import BUILDERS

DATA_DIR = Path(__file__).resolve().parent / "data"

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
