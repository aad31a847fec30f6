"""Pieces of generated source that both generators share: checked names, doc strings,
``__all__`` lists."""

from __future__ import annotations

from h5model.errors import SpecError
from h5model.rules.naming import is_reserved_field, is_safe_identifier


def check_name(name: str, what: str) -> str:
    """``name`` if it may appear as code, else SpecError (defence in depth: the rule set
    already made every name safe)."""
    field = what == "field name"
    if not is_safe_identifier(name, field=field) or (field and is_reserved_field(name)):
        raise SpecError(f"{what} {name!r} is not a safe Python identifier; refusing to generate")
    return name


def doc_literal(text: str | None) -> str:
    return repr(str(text)) if text else repr("")


def names_list(names: list[str]) -> str:
    if not names:
        return "[]"
    return "[\n" + "".join(f"    {n!r},\n" for n in names) + "]"
