"""How big and how deep a spec may be: the bounds every reader of specs enforces.

Specs come from files strangers wrote. Real specs are kilobytes, a few types deep and
a few parts nested; these limits sit far above that and far below what would exhaust
memory or Python's stack. They are module constants so that a deployment with unusual
specs can raise them (``h5model.spec.limits.MAX_INHERITANCE_DEPTH = 500``).
"""

from __future__ import annotations

MAX_SPEC_BYTES = 64 * 1024 * 1024
"""A spec text larger than this is refused, whatever its storage form (specs are kilobytes)."""

MAX_DOCUMENT_DEPTH = 256
"""Containers (mappings, lists) nested deeper than this in one spec document are refused."""

MAX_NESTING_DEPTH = 20
"""Groups and datasets nested deeper than this inside one type's spec are refused."""

MAX_INHERITANCE_DEPTH = 200
"""A type with more ancestors than this is refused (core NWB types have fewer than 10)."""

MAX_BUILD_DEPTH = 40
"""How deep resolving one type may reach through the types its parts hold and its nested
parts, before it is refused (keeps the rule builder well inside Python's stack)."""

MAX_INTEGER_DIGITS = 40
"""An integer in a spec with more digits than this is refused (int64 needs 19)."""
