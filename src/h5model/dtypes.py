"""The spec language's dtypes, and which stored HDF5 dtypes may carry them.

Reading checks the category (text, number, bool, reference, compound); the
finer rules for acceptable widening belong to validation.
"""

from __future__ import annotations

from typing import Final

import h5py
import numpy as np

# Spec aliases -> canonical names (the spec language has several spellings).
ALIASES: Final[dict[str, str]] = {
    "float": "float32",
    "double": "float64",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "uint": "uint32",
    "utf": "text",
    "utf8": "text",
    "utf-8": "text",
    "str": "text",
    "datetime": "isodatetime",
    "bytes": "ascii",
}

FLOATS: Final = frozenset({"float32", "float64", "float16"})
SIGNED: Final = frozenset({"int8", "int16", "int32", "int64"})
UNSIGNED: Final = frozenset({"uint8", "uint16", "uint32", "uint64"})
TEXT: Final = frozenset({"text", "ascii", "isodatetime"})
KNOWN: Final = FLOATS | SIGNED | UNSIGNED | TEXT | {"bool", "numeric"}


def canonical(name: str) -> str:
    """Canonical spelling of a spec dtype name."""
    lowered = name.strip().lower()
    return ALIASES.get(lowered, lowered)


def python_base(name: str) -> str:
    """The LinkML base type a spec dtype maps to."""
    dtype = canonical(name)
    if dtype in FLOATS or dtype == "numeric":
        return "float"
    if dtype in SIGNED or dtype in UNSIGNED:
        return "integer"
    if dtype == "bool":
        return "boolean"
    if dtype == "isodatetime":
        return "datetime"
    return "string"


def is_text(dtype: np.dtype) -> bool:
    """True for variable- or fixed-length strings as h5py presents them."""
    return dtype.kind in "SU" or h5py.check_string_dtype(dtype) is not None


def is_reference(dtype: np.dtype) -> bool:
    return h5py.check_ref_dtype(dtype) is not None


def category_problem(spec_dtype: str, stored: np.dtype) -> str | None:
    """Describe why ``stored`` cannot carry ``spec_dtype``, or None when it can."""
    dtype = canonical(spec_dtype)
    kind = stored.kind
    if dtype in TEXT:
        ok = is_text(stored) or kind == "O"  # "O": text attributes decoded to str
    elif dtype in FLOATS:
        ok = kind in "fiu" and not is_text(stored)
    elif dtype in SIGNED or dtype in UNSIGNED:
        ok = kind in "iu"
    elif dtype == "numeric":
        ok = kind in "fiub" and not is_text(stored)
    elif dtype == "bool":
        ok = kind in "biu"
    else:
        return None  # an unknown name is a spec problem, reported by validation
    if ok:
        return None
    return f"expected dtype {dtype}, found {describe(stored)}"


def describe(stored: np.dtype) -> str:
    """A short human name for a stored dtype."""
    if is_text(stored):
        return "text"
    if is_reference(stored):
        return "object reference"
    if stored.names:
        return "compound(" + ", ".join(stored.names) + ")"
    return str(stored)
