"""Values a layout stores as text: ``"3"``, ``"nan"``, ``"True"``, ``"[1.0, 2.5]"``.

Hand-written files often keep numbers, booleans and lists as strings (``str(value)``).
A layout may say that an attribute holds such a literal; it is read as the typed value
and written back in the same spelling. The text is parsed by walking the syntax tree of
a Python expression and accepting only literals: numbers, ``True``/``False``, ``nan``,
``inf`` (signed), quoted text, and lists or tuples of these. Nothing is ever evaluated,
and the text's size and nesting are bounded.
"""

from __future__ import annotations

import ast
import math
from typing import Any

MAX_TEXT = 1 << 16
"""The longest literal text parsed (longer is refused, never parsed)."""
MAX_DEPTH = 8
"""The deepest nesting of lists accepted."""

_NAMES: dict[str, Any] = {
    "True": True, "False": False, "true": True, "false": False,
    "nan": math.nan, "NaN": math.nan, "inf": math.inf, "Infinity": math.inf,
}
_INTS = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
_FLOATS = frozenset({"float32", "float64", "numeric"})


class LiteralError(ValueError):
    """The text is not a literal of the expected dtype; the message says what was found."""


def parse_literal(text: Any, dtype: str | None) -> Any:
    """The value ``text`` spells, checked against ``dtype`` (a canonical primitive name;
    list items each). Raises ``LiteralError``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    if not isinstance(text, str):
        raise LiteralError(f"expected text holding a {dtype or 'literal'}, found "
                           f"{type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise LiteralError(f"text longer than {MAX_TEXT} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise LiteralError(f"{_short(text)} is not a literal") from None
    value = _literal(tree.body, 0, text)
    return _typed(value, dtype, text)


def format_literal(value: Any) -> str:
    """The text a value is stored as: what ``str()`` of the plain value gives."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    return str(value)


def _literal(node: ast.AST, depth: int, text: str) -> Any:
    if depth > MAX_DEPTH:
        raise LiteralError(f"{_short(text)} is nested more than {MAX_DEPTH} deep")
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand, depth + 1, text)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(item, depth + 1, text) for item in node.elts]
    raise LiteralError(f"{_short(text)} is not a literal")


def _typed(value: Any, dtype: str | None, text: str) -> Any:
    if isinstance(value, list):
        return [_typed(item, dtype, text) for item in value]
    if dtype is None:
        return value
    if dtype == "bool":
        if isinstance(value, bool):
            return value
    elif dtype in _INTS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif dtype in _FLOATS:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) if dtype != "numeric" else value
    elif dtype in ("text", "utf8", "ascii"):
        if isinstance(value, str):
            return value
    else:
        return value
    raise LiteralError(f"{_short(text)} is not a literal of {dtype}")


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
