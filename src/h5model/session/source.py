"""The HDF5 handle behind an open ``File``, and the source of its lazy arrays.

Every lazy array of the file reads through this object: it opens datasets through
the current handle (or, while a save writes, through the journaled one), waits out
another process's save before each read and refuses to read on through metadata that
save made stale, resolves references to the file's models, and hands slices assigned
to an array to the file's tracker. A save lets the handle go and opens it again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py

from h5model.errors import H5ModelError
from h5model.hdf5.filters import check_filters
from h5model.hdf5.graph import FileIndex, build_graph, dereference_path
from h5model.hdf5.open import open_hdf5
from h5model.models.arrays import H5Array
from h5model.persist.streaming.stream import Stream, open_for_stream
from h5model.persist.tracker import Tracker
from h5model.storage.locking import reading
from h5model.storage.remote import handle_of


class FileSource:
    """Implements ``ArraySource`` (and the save's ``SaveTarget``) for one open file."""

    def __init__(self, path: Path, label: str, tracker: Tracker,
                 find: Callable[[str], Any], *, url: str | None = None) -> None:
        self.path = path
        self.url = url
        """A remote file's URL: read by byte ranges, without locks or stamps."""
        self.label = label
        self._tracker = tracker
        self._find = find
        """hdf5_path -> the file's model there (None if there is none)."""
        self._h5: h5py.File | None = None
        self._stamp: tuple[int, int, int] | None = None
        """(inode, size, mtime) when this handle last saw the file: a change means another
        writer saved, and reading on through stale HDF5 metadata is refused."""
        self._saving: h5py.File | None = None
        """The journaled handle while a save writes (arrays of this file read through it)."""
        self.binder: Callable[[FileIndex], object] | None = None
        """Types the graph of the file as reopened after a save (under a layout)."""
        self._filters_checked: set[str] = set()
        """Datasets whose compression filters are known to be available."""
        self.streaming = False
        """Opened in place for appending (``stream=True``): see ``persist.streaming``."""
        self.stream: Stream | None = None
        """The stream appends go to, once the file is open for streaming."""
        self._later: Callable[[h5py.File], None] | None = None
        """Models built from a metadata index: the file is opened when first read, and this
        checks it is still the state the index describes."""

    # -- the handle ----------------------------------------------------------------------------
    @property
    def h5(self) -> h5py.File:
        if self._h5 is None and self._later is not None:
            self._attach_now()
        if self._h5 is None:
            raise H5ModelError("the file has not been saved yet", file=self.label)
        return self._h5

    @property
    def is_open(self) -> bool:
        return self._later is not None or (self._h5 is not None and bool(self._h5.id.valid))

    def attach_later(self, check: Callable[[h5py.File], None]) -> None:
        """Open the file only when something is read from it (models came from an index);
        ``check`` refuses a file that changed since. A local file's state is noted now, so
        that a later change is refused as another writer's."""
        self._later = check
        self._stamp = file_stamp(self.path) if self.url is None else None

    def _attach_now(self) -> None:
        check, self._later = self._later, None
        assert check is not None
        stamp = self._stamp
        if self.url is None:
            with reading(self.path):
                h5 = open_hdf5(self.path)
        else:
            h5 = open_hdf5(self.url)
        try:
            check(h5)
        except BaseException:
            h5.close()
            raise
        self._h5, self._stamp = h5, stamp

    def attach(self) -> h5py.File:
        """Open the file (the caller holds the readers' lock) and note its state. A file a
        streaming writer has open is read live (SWMR): it grows under this handle by
        design, so its state is not noted (``refresh()`` sees the new rows)."""
        if self.streaming:
            self._h5 = open_for_stream(self.path, self.label)
            self._stamp = None
            return self._h5
        self._h5 = open_hdf5(self.url if self.url is not None else self.path)
        live = self.url is None and self._h5.swmr_mode
        self._stamp = file_stamp(self.path) if self.url is None and not live else None
        return self._h5

    def release(self) -> None:
        if self._h5 is not None:
            self._h5.close()
        self._h5 = None

    def reopen(self) -> None:
        index = self._tracker.index = build_graph(self.attach(), self.label)
        if self.binder is not None:
            self.binder(index)

    @contextlib.contextmanager
    def through(self, h5: h5py.File) -> Iterator[None]:
        self._saving = h5
        try:
            yield
        finally:
            self._saving = None

    @property
    def reads_on_demand(self) -> bool:
        """The file's structure can be read group by group as models reach it: a local
        file, not growing under a streaming writer (whose new objects a partial graph
        would see half of)."""
        return (self.url is None and self._stamp is not None and not self.streaming
                and self._saving is None)

    @contextlib.contextmanager
    def lend(self) -> Iterator[h5py.File]:
        """The file for one read of its structure: the open handle, or, once it is closed,
        one opened for the read (refused if another writer changed the file since)."""
        if self._h5 is not None and self._h5.id.valid:
            with self.reading():
                yield self._h5
            return
        with reading(self.path):
            if file_stamp(self.path) != self._stamp:
                raise H5ModelError(
                    "the file was changed by another writer since it was closed; open it "
                    "again to read the objects not reached before", file=self.label)
            h5 = open_hdf5(self.path)
            try:
                yield h5
            finally:
                h5.close()

    def close(self) -> None:
        self._later = None
        if self.is_open:
            assert self._h5 is not None
            self._h5.close()

    # -- what lazy arrays ask ------------------------------------------------------------------
    @property
    def owner(self) -> Tracker:
        return self._tracker

    def open(self, hdf5_path: str) -> h5py.Dataset:
        dataset = (self._saving if self._saving is not None else self.h5)[hdf5_path]
        assert isinstance(dataset, h5py.Dataset)
        if hdf5_path not in self._filters_checked:
            check_filters(dataset.id.get_create_plist(), self.label, hdf5_path)
            self._filters_checked.add(hdf5_path)
        return dataset

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Around every lazy read: wait out another process's save, then refuse to read
        through this handle if that save changed the file (open it again instead)."""
        if self._saving is not None:
            yield  # our own save reads through its journaled handle
            return
        if self.url is not None:
            handle = handle_of(self.h5)
            with handle.reading_data() if handle is not None else contextlib.nullcontext():
                yield
            return
        with reading(self.path):
            if self._stamp is not None and file_stamp(self.path) != self._stamp:
                raise H5ModelError(
                    "the file was changed by another writer since it was opened; open it "
                    "again to read the new state",
                    file=self.label,
                )
            yield

    def resolve(self, ref: Any) -> Any:
        """A reference read from a dataset -> its model (the current handle, even after a save)."""
        index = self._tracker.index_as_read
        if index is None:
            return None
        path = dereference_path(self.h5, index, ref)
        return self._find(path) if path is not None else None

    def write(self, array: H5Array, key: Any, value: Any) -> None:
        self._tracker.slice_written(array, key, value)

    def append(self, blocks: list[tuple[H5Array, Any]], *, together: bool = False) -> None:
        if self.stream is None:
            where = blocks[0][0].hdf5_path if blocks else None
            raise H5ModelError(
                "rows are appended only to a file opened for streaming: "
                "h5model.open(path, 'r+', stream=True)"
                + ("" if self._tracker.writable else " (this one is open read-only)"),
                file=self.label, hdf5_path=where)
        if together and blocks:
            count = len(blocks[0][1])
            self.stream.keep_together([a.hdf5_path for a, b in blocks if len(b) == count])
        shapes = self.stream.append({a.hdf5_path: b for a, b in blocks})
        for array, _ in blocks:
            array.shape = shapes[array.hdf5_path]


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)
