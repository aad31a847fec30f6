"""The open file as its models see it: the ``Owner`` every model of the file reports to.

A model never holds the ``File`` handle; it holds this tracker, which refuses every
edit of a read-only file (``ReadOnlyError``) and records the others in the file's
change log, tells the file's own models from those of other files, finds the model at
a path (a model's parent), and keeps what the file stored (specs, object graph) for the
writer and the checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from h5model.errors import ReadOnlyError
from h5model.hdf5.graph import FileIndex
from h5model.models.arrays import H5Array
from h5model.models.nodes import Group, Node, owner_of
from h5model.persist.changes import Changes
from h5model.spec.loader import SpecSet

READ_ONLY = "the file is open read-only (mode 'r'); open it with mode 'r+' to edit it"


class Tracker:
    """Implements ``h5model.models.nodes.Owner`` for one open file."""

    def __init__(self, label: str, *, writable: bool, handle: Any = None,
                 find: Callable[[str], Any] | None = None, read_only: str = READ_ONLY) -> None:
        self.label = label
        self.writable = writable
        self.read_only = read_only
        """Why an edit is refused when the file is not writable."""
        self.handle = handle
        """The ``File`` the models belong to (``model.file``)."""
        self._find = find
        """hdf5_path -> the file's model there (None if there is none)."""
        self.changes = Changes()
        self.specs: SpecSet | None = None
        self._index: FileIndex | None = None

    @property
    def index(self) -> FileIndex | None:
        """The object graph as last read, whole (a graph read group by group is read to
        the end first); a save replaces it."""
        index = self._index
        return index.whole() if index is not None else None

    @index.setter
    def index(self, index: FileIndex | None) -> None:
        self._index = index

    @property
    def index_as_read(self) -> FileIndex | None:
        """The object graph as read so far (the models' reader grows a partial one)."""
        return self._index

    def owns(self, model: Node) -> bool:
        return owner_of(model) is self

    def model_at(self, hdf5_path: str) -> Node | None:
        found = self._find(hdf5_path) if self._find is not None else None
        return found if isinstance(found, Node) else None

    def check_editable(self, model: Node) -> None:
        if not self.writable:
            raise ReadOnlyError(self.read_only, file=self.label, hdf5_path=model.hdf5_path)

    def field_changed(self, model: Node, name: str) -> None:
        if self.writable:
            self.changes.field_changed(model, name)

    def child_added(self, group: Group, name: str, child: Any) -> None:
        if self.writable:
            self.changes.child_added(group, name, child)

    def child_removed(self, group: Group, name: str) -> None:
        if self.writable:
            self.changes.child_removed(group, name)

    def slice_written(self, array: H5Array, key: Any, value: Any) -> None:
        if not self.writable:
            raise ReadOnlyError(self.read_only, file=self.label, hdf5_path=array.hdf5_path)
        self.changes.slice_written(array, key, value)

    def row_added(self, table: Node, row: dict[str, Any]) -> None:
        if not self.writable:
            raise ReadOnlyError(self.read_only, file=self.label, hdf5_path=table.hdf5_path)
        self.changes.row_added(table, row)

    def pending_rows(self, table: Node) -> int:
        return self.changes.pending_rows(table)

    def pending_slices(self, array: H5Array) -> list[tuple[Any, Any]]:
        """Slices assigned to ``array`` and not saved yet: a copy of it must carry them."""
        return self.changes.pending_slices(array)

    def __repr__(self) -> str:
        mode = "writable" if self.writable else "read-only"
        return f"<Tracker {self.label!r} ({mode}, {'changed' if self.changes else 'unchanged'})>"
