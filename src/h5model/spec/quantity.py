"""The spec language's ``quantity``: how many of a part a group may hold."""

from __future__ import annotations

from h5model.errors import SpecError


def quantity(text: str | None) -> tuple[int, int | None]:
    """(minimum, maximum) of a spec quantity; None means unbounded."""
    if text is None:
        return 1, 1
    value = text.strip()
    if value == "*":
        return 0, None
    if value == "+":
        return 1, None
    if value in ("?", "zero_or_one"):
        return 0, 1
    if value == "zero_or_many":
        return 0, None
    if value == "one_or_many":
        return 1, None
    shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}..."
    if not (value.isascii() and value.isdigit()) or len(value) > 20:
        raise SpecError(f"quantity {shown} is not '*', '+', '?' or an integer below 2**64")
    count = int(value)
    if count >= 2**64:
        raise SpecError(f"quantity {shown} is larger than HDF5 allows")
    return count, count
