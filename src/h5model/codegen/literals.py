"""Values from a spec written into generated source: as literals, and only as literals.

A fixed or default value comes from a spec a stranger wrote. It becomes source text
through ``repr`` of plain data only (numbers, text, booleans, lists, mappings);
non-finite floats are spelled as calls that rebuild them, and anything else is refused.
"""

from __future__ import annotations

import math
from typing import Any

from h5model.errors import SpecError


def literal(value: Any, *, where: str = "") -> str:
    """Python source that evaluates to ``value``; SpecError for anything but plain data."""
    if value is None or isinstance(value, bool | str):
        return repr(value)
    if isinstance(value, int):
        try:
            return repr(value)
        except ValueError:  # more digits than Python converts to text
            raise SpecError(f"{where}: an integer of more than 4,300 digits") from None
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, list | tuple):
        items = ", ".join(literal(v, where=where) for v in value)
        if isinstance(value, tuple):
            return f"({items},)" if len(value) == 1 else f"({items})"
        return f"[{items}]"
    if isinstance(value, dict):
        pairs = ", ".join(
            f"{literal(k, where=where)}: {literal(v, where=where)}" for k, v in value.items()
        )
        return "{" + pairs + "}"
    raise SpecError(f"{where}: a value of type {type(value).__name__} cannot be written as data")
