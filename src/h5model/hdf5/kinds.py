"""What a graph node is, what a group entry is, and what an edge means: three string enums.

They are ``StrEnum``s so that a value compares equal to, prints as and exports as its
plain word (``"group"``, ``"soft"``, ``"reference"``): GraphML, JSON and the CLI show
the words users know, while code names the member and a typo fails at import, not
silently at a comparison.
"""

from __future__ import annotations

from enum import StrEnum


class NodeKind(StrEnum):
    """What a node of the file's graph stands for."""

    GROUP = "group"
    DATASET = "dataset"
    EXTERNAL = "external"
    """An object in another file, reached by an external link (keyed ``file::path``)."""
    MISSING = "missing"
    """Nothing: what a broken soft link names (keyed by that path) or a dangling
    reference points at (keyed ``DANGLING``, with ``path`` None)."""


class LinkKind(StrEnum):
    """How a group holds one of its entries (HDF5's own link types)."""

    HARD = "hard"
    SOFT = "soft"
    EXTERNAL = "external"


class EdgeLabel(StrEnum):
    """Why one node points at another."""

    CHILD = "child"
    """A hard link: membership."""
    LINK = "link"
    """A soft or external link, kept as a link rather than a copy."""
    REFERENCE = "reference"
    """An object or region reference in an attribute, a dataset or a compound column."""


DANGLING = "<dangling reference>"
"""Key of the one MISSING node every dangling reference points at; not a path, so it
never meets an object's key."""
