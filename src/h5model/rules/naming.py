"""Names that may become code: checked class and field identifiers.

Type and field names come from specs that strangers wrote. Only names that are
plain Python identifiers, not keywords, not builtins and not reserved by
pydantic or by h5model's base classes may become code; everything else is
either refused (type names) or replaced by a safe name (field names, whose
HDF5 name is kept as data).
"""

from __future__ import annotations

import builtins
import keyword
import re

from pydantic import BaseModel

from h5model.errors import SpecError

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
"""Matched with ``fullmatch``: ``$`` would also match before a trailing newline."""
_BUILTINS = frozenset(dir(builtins))
# Builtins that generated annotations use: a field of that name would shadow them.
_ANNOTATION_BUILTINS = frozenset({"str", "int", "float", "bool", "dict", "list", "tuple", "type"})
# Names that a field must not shadow on a pydantic model or on h5model's nodes.
_RESERVED_FIELDS = frozenset(dir(BaseModel)) | frozenset(
    {
        "hdf5_path",
        "object_id",
        "h5_type",
        "h5_fields",
        "h5_kind",
        "h5_part_classes",
        "attrs",
        "children",
        "copy",
        "dict",
        "json",
        "schema",
        "schema_json",
        "construct",
        "validate",
        "get",
        "keys",
        "items",
        "values",
        "column",
        "row",
        "columns",
        "resolve",
        "register_field",
        # navigation and tables on every model
        "parent",
        "parent_group",
        "file",
        "to_dataframe",
        # the first parameter of the methods a generated class inherits (pydantic's
        # ``__init__(self, **data)``): a field of that name cannot be passed
        "self",
        "cls",
    }
)


def is_safe_identifier(name: str, *, field: bool = False) -> bool:
    """True when ``name`` may appear as code: a plain identifier, no keyword, no builtin
    (for fields, no builtin that annotations use)."""
    banned = _ANNOTATION_BUILTINS if field else _BUILTINS
    return (
        bool(_IDENTIFIER.fullmatch(name))
        and not keyword.iskeyword(name)
        and not keyword.issoftkeyword(name)
        and name not in banned
    )


def class_identifier(name: str, *, where: str, file: str | None = None) -> str:
    """Return ``name`` if it can be a class name in generated code, else raise SpecError."""
    if not is_safe_identifier(name) or name in _RESERVED_FIELDS:
        shown = repr(name) if len(name) <= 80 else f"{name[:80]!r}..."
        raise SpecError(
            f"type name {shown} is not a plain Python identifier (ASCII letters, digits, "
            "'_', not a keyword or builtin); h5model refuses to turn it into code",
            file=file,
            hdf5_path=where,
        )
    return name


def field_identifier(hdf5_name: str, taken: set[str]) -> str:
    """A safe, unique field name for an HDF5 name; the HDF5 name itself stays data."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", hdf5_name).lstrip("_") or "field"
    if base[0].isdigit():
        base = f"f_{base}"
    if (
        keyword.iskeyword(base)
        or keyword.issoftkeyword(base)
        or base in _ANNOTATION_BUILTINS
        or base in _RESERVED_FIELDS
        or base.startswith(("model_validate", "model_dump"))
    ):
        base = f"{base}_"
    name = base
    counter = 2
    while name in taken:
        name = f"{base}_{counter}"
        counter += 1
    taken.add(name)
    return name


def snake_case(type_name: str) -> str:
    """``TimeSeries`` -> ``time_series``, for collections of unnamed children."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", type_name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def is_reserved_field(name: str) -> bool:
    """True for names a generated field must not take (pydantic's and h5model's own)."""
    return name in _RESERVED_FIELDS or name.startswith(("model_validate", "model_dump"))
