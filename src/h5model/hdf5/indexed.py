"""References read from a metadata index: they carry their target's path, so resolving
one needs no HDF5 read. They are ``h5py.Reference`` (and ``RegionReference``) subclasses,
so every check that asks "is this a reference?" says yes, as for the file's own."""

from __future__ import annotations

from typing import Any

import h5py


class IndexedReference(h5py.Reference):  # type: ignore[misc]
    """An object reference read from an index: it knows its target's path (None when it
    pointed at nothing), so resolving it needs no HDF5 read. ``bool`` is False for a null
    reference, as for h5py's."""

    target: str | None
    null: bool

    def __bool__(self) -> bool:
        return not self.null

    def __repr__(self) -> str:
        return f"<indexed object reference to {self.target}>"


class IndexedRegionReference(h5py.RegionReference):  # type: ignore[misc]
    """A region reference read from an index (its target only: no selection is kept)."""

    target: str | None
    null: bool

    def __bool__(self) -> bool:
        return not self.null

    def __repr__(self) -> str:
        return f"<indexed region reference to {self.target}>"


def indexed_target(ref: Any) -> tuple[bool, str | None]:
    """(True, target path or None) for a reference read from an index; (False, None) else."""
    if isinstance(ref, (IndexedReference, IndexedRegionReference)):
        return True, ref.target
    return False, None


def make_reference(target: str | None, null: bool, region: bool) -> Any:
    """A reference standing for one read from an index."""
    cls: Any = IndexedRegionReference if region else IndexedReference
    ref = cls.__new__(cls)
    ref.target = target
    ref.null = null
    return ref
