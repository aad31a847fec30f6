"""Errors that say which file, which HDF5 path, what was expected, and which rule failed.

Every failure a user can cause (a bad file, a bad spec, a bad argument) is an
``H5ModelError``; the CLI prints its message and exits non-zero instead of
showing a traceback. An error may carry the id of the rule it breaks
(``spec.namespace-missing``, ``type.unknown``...), so that a report can name the
rule without reading the message.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pydantic


class H5ModelError(Exception):
    """Base error: carries the file and the HDF5 path it is about, and the rule it breaks."""

    rule: str | None = None
    """The id of the broken rule (as in validation reports); None when no rule applies."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        hdf5_path: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.hdf5_path = hdf5_path
        if rule is not None:
            self.rule = rule
        super().__init__(self._render())

    def located(self, hdf5_path: str) -> H5ModelError:
        """The same error said of ``hdf5_path`` (itself if it already names a path): for
        a failure met below the code that knows which object was being read."""
        if self.hdf5_path is not None:
            return self
        located = copy.copy(self)
        located.hdf5_path = hdf5_path
        located.args = (located._render(),)
        return located

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.hdf5_path is not None:
            where.append(self.hdf5_path)
        return f"{': '.join(where)}: {self.message}" if where else self.message


class NotHDF5Error(H5ModelError):
    """The path does not hold a readable HDF5 file."""


class FileMissingError(NotHDF5Error, FileNotFoundError):
    """There is no file at the path (also a ``FileNotFoundError``, as ``open()`` raises)."""

    rule = "file.not-found"


class NotFoundError(H5ModelError, KeyError):
    """No object at an HDF5 path (also a ``KeyError``, as a missing key of a mapping)."""

    def __str__(self) -> str:
        return self._render()  # KeyError would show the message's repr


class ReadOnlyError(H5ModelError, PermissionError):
    """An edit of a file opened read-only (also a ``PermissionError``)."""


class WrongTypeError(H5ModelError, TypeError):
    """The object at a path is not of the type asked for (also a ``TypeError``)."""


class NoSpecsError(H5ModelError):
    """The file embeds no specifications and none were supplied."""

    rule = "spec.missing"


class SpecError(H5ModelError):
    """A specification is malformed, incomplete or inconsistent."""

    rule = "spec.malformed"


class ModelError(H5ModelError):
    """An object in the file does not fit the model its spec defines."""


def plain(value: object) -> object:
    """``value`` as plain Python for a message: numpy scalars become ``5`` or ``2.5`` (never
    ``np.int64(5)``), inside tuples and lists too; anything else is returned as it is."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "shape", None) == ():
        return item()
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, slice):
        return slice(plain(value.start), plain(value.stop), plain(value.step))
    return value


Problem = tuple[str, str]
"""(where, what): where in the validated data (empty at its top level), and the complaint."""


def validation_problems(
    exc: pydantic.ValidationError,
    *,
    separator: str = ".",
    place: Callable[[str], str | None] | None = None,
) -> list[Problem]:
    """Every problem pydantic found, in order, as (where, what).

    ``where`` joins the location with ``separator``; ``place(first location part)`` may
    name it better (a model field as the attribute or dataset it stands for)."""
    problems: list[Problem] = []
    for error in exc.errors():
        loc = error["loc"]
        where = separator.join(str(part) for part in loc)
        better = place(str(loc[0])) if place is not None and loc else None
        problems.append((better or where, str(error["msg"])))
    return problems
