"""Which files a many-file run reads: files, folders (recursive) and glob patterns.

Archives are folders of folders, and CI lines and Windows shells do not expand
patterns, so each argument may be any of the three. The result is sorted and free
of repeats, which is the order every report lists files in, whatever order the
workers finish them.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = frozenset({".nwb", ".h5", ".hdf5", ".hdf", ".he5"})
"""The files a folder contributes (a file named on its own is read whatever its name)."""

_PATTERN = frozenset("*?[")


@dataclass(frozen=True, order=True)
class Found:
    """One file to read, and its name relative to the argument it was found under."""

    path: Path
    relative: Path
    """The file's name for a copy written elsewhere (``truncate``): its path below
    the folder or the pattern's fixed part, or its own name."""


def discover(inputs: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...]
             ) -> list[Found]:
    """Every file the inputs name, sorted by path, each once.

    A path that does not exist, and a pattern that matches nothing, are kept as given:
    reading it then reports it as missing, naming it, instead of dropping it unseen."""
    found: dict[Path, Found] = {}
    for given in inputs:
        text = os.fspath(given)
        path = Path(text)
        if path.is_dir():
            for file in _walk(path):
                found.setdefault(file, Found(file, file.relative_to(path)))
        elif not path.exists() and _PATTERN & set(text):
            base = _fixed_part(text)
            matches = [Path(m) for m in glob.glob(text, recursive=True)]
            for match in matches:
                files = _walk(match) if match.is_dir() else [match]
                for file in files:
                    found.setdefault(file, Found(file, _relative(file, base)))
            if not matches:
                found.setdefault(path, Found(path, Path(path.name)))
        else:
            found.setdefault(path, Found(path, Path(path.name)))
    return sorted(found.values())


def _walk(folder: Path) -> list[Path]:
    """HDF5-named regular files below ``folder``, symbolic links to folders not followed."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            file = Path(root) / name
            if file.suffix.lower() in SUFFIXES and file.is_file():
                files.append(file)
    return files


def _fixed_part(pattern: str) -> Path:
    """The folders of a pattern before its first wildcard (``data/**/x*.nwb`` -> data)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if _PATTERN & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path()


def _relative(file: Path, base: Path) -> Path:
    try:
        return file.relative_to(base)
    except ValueError:
        return Path(file.name)
