"""How much one read of an untrusted file may take: bytes per attribute value, and
elements of references (or of region and index data) read from one dataset or selected
by one region reference.

A file of a few hundred kilobytes can declare an attribute of gigabytes or a dataset of
``2**40`` references; without limits, reading it exhausts memory or time. The limits
have safe defaults, are read from the environment (``H5MODEL_MAX_ATTRIBUTE_BYTES``,
``H5MODEL_MAX_REFERENCES``) when h5model is imported, and can be changed from Python
with ``set_limits``. Going over one is a ``LimitError`` naming the file, the HDF5 path
and what was too large.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace

from h5model.errors import H5ModelError

DEFAULT_ATTRIBUTE_BYTES = 64 << 20
DEFAULT_REFERENCES = 1 << 27

ATTRIBUTE_BYTES_VARIABLE = "H5MODEL_MAX_ATTRIBUTE_BYTES"
REFERENCES_VARIABLE = "H5MODEL_MAX_REFERENCES"


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force."""

    attribute_bytes: int = DEFAULT_ATTRIBUTE_BYTES
    """Bytes one attribute's value may hold (text counted in UTF-8 bytes)."""
    references: int = DEFAULT_REFERENCES
    """Elements read from one dataset of references, region rows or index values, and
    elements one region reference may select."""


class LimitError(H5ModelError):
    """A value of the file is larger than a limit allows."""

    rule = "file.limit-exceeded"

    def at(self, file: str | None, hdf5_path: str | None) -> LimitError:
        """The same error, naming where it happened when it did not know."""
        return LimitError(
            self.message,
            file=self.file if self.file is not None else file,
            hdf5_path=self.hdf5_path if self.hdf5_path is not None else hdf5_path,
        )


def _from_environment(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        warnings.warn(
            f"{variable}={raw!r} is not a positive whole number; using {default}",
            stacklevel=2,
        )
        return default
    return value


LIMITS = Limits(
    attribute_bytes=_from_environment(ATTRIBUTE_BYTES_VARIABLE, DEFAULT_ATTRIBUTE_BYTES),
    references=_from_environment(REFERENCES_VARIABLE, DEFAULT_REFERENCES),
)
"""The limits in force (read through this module: ``set_limits`` replaces it)."""


def set_limits(
    *, attribute_bytes: int | None = None, references: int | None = None
) -> Limits:
    """Change the limits for every later read; returns the limits they replace, so that
    ``set_limits(**asdict(previous))`` restores them."""
    global LIMITS
    previous = LIMITS
    changes = {"attribute_bytes": attribute_bytes, "references": references}
    for name, value in changes.items():
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise ValueError(f"the {name} limit must be a positive int, not {value!r}")
    LIMITS = replace(previous, **{k: v for k, v in changes.items() if v is not None})
    return previous


def check_references(count: int, what: str) -> None:
    """Refuse reading ``count`` ``what`` (elements, chunks, ...) from one dataset or
    selection over the reference limit."""
    limit = LIMITS.references
    if count > limit:
        raise LimitError(
            f"{count} {what} to read, more than the limit of {limit} elements per dataset "
            f"(raise it with {REFERENCES_VARIABLE} or h5model.set_limits(references=...))"
        )


def attribute_too_large(name: str, size: int | None = None) -> LimitError:
    """The error for attribute ``name`` holding ``size`` bytes (or more than the limit)."""
    limit = LIMITS.attribute_bytes
    amount = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return LimitError(
        f"attribute {name!r} holds {amount}, over the limit of {limit} bytes per attribute "
        f"(raise it with {ATTRIBUTE_BYTES_VARIABLE} or "
        f"h5model.set_limits(attribute_bytes=...))"
    )
