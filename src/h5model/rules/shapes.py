"""Shapes a spec allows, and whether a stored shape is one of them.

A spec may allow several shapes (``shape: [[null], [null, 3]]``); an axis of length
None takes any length. Checked from the stored shape alone, so no data is read.
"""

from __future__ import annotations

from collections.abc import Sequence

Shape = tuple[int | None, ...]


def fits(shape: tuple[int, ...], allowed: Shape) -> bool:
    """True when ``shape`` has ``allowed``'s rank and every fixed length."""
    if len(shape) != len(allowed):
        return False
    return all(want is None or want == got for want, got in zip(allowed, shape, strict=True))


def shape_text(shape: Shape) -> str:
    """``(*, 3)``: a shape as a spec states it, ``*`` for any length."""
    return "(" + ", ".join("*" if n is None else str(n) for n in shape) + ")"


def shape_problem(shape: tuple[int, ...], options: Sequence[Shape]) -> str | None:
    """Why ``shape`` is none of ``options``; None when it fits one (or none is stated)."""
    if not options or any(fits(shape, allowed) for allowed in options):
        return None
    allowed_text = " or ".join(shape_text(s) for s in options)
    return f"expected shape {allowed_text}, found {shape_text(tuple(shape))}"
