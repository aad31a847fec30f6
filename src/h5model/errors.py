"""Errors that say which file, which HDF5 path, and what was expected.

Every failure a user can cause (a bad file, a bad spec, a bad argument) is an
``H5ModelError``; the CLI prints its message and exits non-zero instead of
showing a traceback.
"""

from __future__ import annotations

from pathlib import Path


class H5ModelError(Exception):
    """Base error: carries the file and the HDF5 path it is about."""

    def __init__(
        self, message: str, *, file: str | Path | None = None, hdf5_path: str | None = None
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.hdf5_path = hdf5_path
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.hdf5_path is not None:
            where.append(self.hdf5_path)
        return f"{': '.join(where)}: {self.message}" if where else self.message


class NotHDF5Error(H5ModelError):
    """The path does not hold a readable HDF5 file."""


class NoSpecsError(H5ModelError):
    """The file embeds no specifications and none were supplied."""


class SpecError(H5ModelError):
    """A specification is malformed, incomplete or inconsistent."""


class ModelError(H5ModelError):
    """An object in the file does not fit the model its spec defines."""
