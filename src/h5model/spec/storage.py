"""How HDMF stores typed objects in HDF5: the attributes that say what an object is.

Every typed object carries its namespace, its type name (``neurodata_type`` when
pynwb wrote it, ``data_type`` when plain hdmf did) and an ``object_id``; the root
may point at its specs through ``.specloc``. These are bookkeeping, not parts of a
type: readers, writers and validation all set them apart the same way.
"""

from __future__ import annotations

from typing import Final

TYPE_KEYS: Final = ("neurodata_type", "data_type")
"""Attributes naming an object's type, in the order they are looked for."""

BOOKKEEPING_ATTRIBUTES: Final = frozenset({"namespace", "object_id", ".specloc", *TYPE_KEYS})
"""Attributes HDMF writes on typed objects beside those their spec defines."""
