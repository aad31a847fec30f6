"""The spec language's dtype names: their spellings and their families.

The language spells one dtype several ways (``float``/``float32``, ``utf8``/``text``);
specs are normalised to one canonical name here, once, when they are read.
"""

from __future__ import annotations

from typing import Final

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

WIDTH: Final[dict[str, int]] = {
    "int8": 1,
    "int16": 2,
    "int32": 4,
    "int64": 8,
    "uint8": 1,
    "uint16": 2,
    "uint32": 4,
    "uint64": 8,
    "float16": 2,
    "float32": 4,
    "float64": 8,
}
"""Bytes per value of the fixed-width numeric dtypes."""


def canonical(name: str) -> str:
    """Canonical spelling of a spec dtype name."""
    lowered = name.strip().lower()
    return ALIASES.get(lowered, lowered)
