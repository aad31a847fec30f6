"""Which files a many-file run reads: files, folders (recursive) and glob patterns.

Archives are folders of folders, and CI lines and Windows shells do not expand
patterns, so each argument may be any of the three. The result is in the order of
the arguments, each folder's and pattern's files sorted by path, and free of repeats:
the order every report lists files in, whatever order the workers finish them.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from h5model.storage.remote import is_url

SUFFIXES = frozenset({".nwb", ".h5", ".hdf5", ".hdf", ".he5"})
"""The files a folder contributes (a file named on its own is read whatever its name)."""

_PATTERN = frozenset("*?[")


@dataclass(frozen=True, order=True)
class Found:
    """One file to read, and its name relative to the argument it was found under."""

    path: Path | str
    """A local file, or a URL as given."""
    relative: Path
    """The file's name for a copy written elsewhere (``truncate``): its path below
    the folder or the pattern's fixed part, or its own name."""


def discover(inputs: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...]
             ) -> list[Found]:
    """Every file the inputs name, each once, in the order of the inputs (a folder's or
    a pattern's files sorted by path).

    A path that does not exist, a pattern that matches nothing and a folder without
    HDF5 files are kept as given: reading it then reports what it is, naming it,
    instead of dropping it unseen."""
    found: dict[Path | str, Found] = {}
    for given in inputs:
        text = os.fspath(given)
        if is_url(text):  # read where it is, by byte ranges: no folders, no patterns
            found.setdefault(text, Found(text, Path(text.rstrip("/").rsplit("/", 1)[-1])))
            continue
        path = Path(text)
        expanded: list[Found] = []
        if path.is_dir():
            expanded = [Found(file, file.relative_to(path)) for file in _walk(path)]
        elif not path.exists() and _PATTERN & set(text):
            base = _fixed_part(text)
            for match in (Path(m) for m in glob.glob(text, recursive=True)):
                files = _walk(match) if match.is_dir() else [match]
                expanded.extend(Found(file, _relative(file, base)) for file in files)
        for item in sorted(expanded) or [Found(path, Path(path.name))]:
            found.setdefault(item.path, item)
    return list(found.values())


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
