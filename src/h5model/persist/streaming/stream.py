"""A file open for streaming: rows appended in place, flushed for live readers.

The writer holds the file with HDF5's latest format and switches to SWMR mode at
its first flush, after which readers in other processes open it and see every
flushed row. A flush happens every ``flush_rows`` rows or ``flush_seconds`` seconds
(whichever comes first, checked at each append and by a background writer while
idle), then records what is durable in the sidecar (``sidecar``), so that after a
crash the file is cut back to whole, flushed batches (``repair``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.hdf5 import superblock
from h5model.hdf5.paths import join as join_path
from h5model.persist.streaming import sidecar
from h5model.persist.streaming.extendable import (
    append_rows,
    as_block,
    check_extendable,
    create_extendable,
)


@dataclass(frozen=True)
class StreamOptions:
    """When a streaming writer flushes: every ``flush_rows`` rows appended to any dataset
    (None: by time only) or ``flush_seconds`` after the first row not yet flushed."""

    flush_rows: int | None = None
    flush_seconds: float = 1.0


def open_for_stream(path: Path, label: str) -> h5py.File:
    """The file opened in place for appending (HDF5's latest format, which SWMR needs)."""
    found = superblock.version(path)
    if found is not None and found < 3:
        raise H5ModelError(
            f"cannot be streamed to: live readers (SWMR) need a file written with HDF5's "
            f"latest format (superblock version 3, this file has version {found}). Write "
            "the file with h5model (a new file opened with stream=True) or with "
            "h5py.File(..., libver='latest')", file=label)
    try:
        return h5py.File(path, "r+", libver=("v110", "latest"))
    except OSError as exc:
        raise H5ModelError(f"cannot be opened for streaming ({exc})", file=label) from None


def create_for_stream(path: Path, label: str, *, replace: bool) -> None:
    """An empty file in HDF5's latest format, ready to stream into."""
    try:
        h5py.File(path, "w" if replace else "w-", libver=("v110", "latest")).close()
    except OSError as exc:
        raise H5ModelError(f"cannot be created ({exc})", file=label) from None


class Stream:
    """Appends to the datasets of one file open for streaming (``h5model.open(...,
    stream=True)``); used from one thread at a time (a ``BackgroundWriter`` is that
    thread)."""

    def __init__(self, h5: h5py.File, path: Path, label: str,
                 options: StreamOptions | None = None, *, live: bool = True) -> None:
        self.h5 = h5
        self.path = path
        self.label = label
        self.options = options or StreamOptions()
        self._datasets: dict[str, h5py.Dataset] = {}
        self._committed = sidecar.Committed()
        self._unflushed_rows = 0
        self._first_unflushed: float | None = None
        self.rows_flushed: dict[str, int] = {}
        """Rows of each dataset as of the last flush (what a crash keeps)."""
        self.closed = False
        self._hold = 0
        sidecar.write(path, self._committed)
        if live:
            self.go_live()

    def go_live(self) -> None:
        """Switch to SWMR mode: from now on readers in other processes may open the file
        and see every flushed row (no new objects are made after this on older HDF5)."""
        if not self.h5.swmr_mode:
            try:
                self.h5.swmr_mode = True
            except (ValueError, OSError) as exc:
                raise H5ModelError(f"cannot start writing for live readers (SWMR; {exc})",
                                   file=self.label) from None

    # -- datasets --------------------------------------------------------------------------------
    def dataset(self, hdf5_path: str) -> h5py.Dataset:
        """The extendable dataset at ``hdf5_path`` (refused if it cannot grow)."""
        found = self._datasets.get(hdf5_path)
        if found is not None:
            return found
        self._check_open()
        obj = self.h5.get(hdf5_path)
        if not isinstance(obj, h5py.Dataset):
            raise H5ModelError("no dataset at this path to append to", file=self.label,
                               hdf5_path=hdf5_path)
        check_extendable(obj, self.label)
        self._datasets[hdf5_path] = obj
        self._committed.rows[hdf5_path] = obj.shape[0]
        self.rows_flushed[hdf5_path] = obj.shape[0]
        sidecar.write(self.path, self._committed)
        return obj

    def create(self, hdf5_path: str, item_shape: tuple[int, ...], dtype: Any,
               storage: dict[str, Any] | None = None) -> h5py.Dataset:
        """A new empty extendable dataset (its parent groups made as needed)."""
        self._check_open()
        parent_path, _, name = hdf5_path.rpartition("/")
        if hdf5_path in self.h5:
            raise H5ModelError("an object exists at this path already", file=self.label,
                               hdf5_path=hdf5_path)
        parent = self.h5.require_group(parent_path or "/")
        created = create_extendable(parent, name, item_shape, dtype, storage)
        self._committed.rows[created.name] = 0
        sidecar.write(self.path, self._committed)
        return self.dataset(created.name)

    def log_to(self, group: str) -> None:
        """Record a repair of this file in ``group`` (made then if missing)."""
        self._committed.log_group = group
        sidecar.write(self.path, self._committed)

    def keep_together(self, paths: Sequence[str], count: tuple[str, str] | None = None) -> None:
        """Datasets that must keep one length (a crash cuts them to the shortest);
        ``count``: (object path, attribute) holding their number of rows."""
        group = sorted(paths)
        if group not in self._committed.groups:
            self._committed.groups.append(group)
        if count is not None:
            self._committed.counts[group[0]] = [count[0], count[1]]
        sidecar.write(self.path, self._committed)

    # -- appending --------------------------------------------------------------------------------
    def append(self, blocks: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Append each block to its dataset (all checked before any is written); the new
        shapes."""
        self._check_open()
        prepared = []
        for hdf5_path, block in blocks.items():
            dataset = self.dataset(hdf5_path)
            prepared.append((dataset, as_block(dataset, block, self.label)))
        shapes = {}
        most = 0
        for dataset, rows in prepared:
            append_rows(dataset, rows)
            shapes[dataset.name] = dataset.shape
            most = max(most, len(rows))
        self._appended(most)
        return shapes

    def append_together(self, blocks: Mapping[str, Any]) -> int:
        """Append one batch to datasets that keep one length: every block has the same
        number of rows; the new length."""
        lengths = {p: len(np.asarray(b)) if not isinstance(b, list) else len(b)
                   for p, b in blocks.items()}
        if len(set(lengths.values())) > 1:
            raise H5ModelError(f"a batch must give every dataset the same number of rows; "
                               f"got {lengths}", file=self.label)
        shapes = self.append(blocks)
        return next(iter(shapes.values()))[0] if shapes else 0

    def _appended(self, rows: int) -> None:
        if rows <= 0:
            return
        self._unflushed_rows += rows
        if self._first_unflushed is None:
            self._first_unflushed = time.monotonic()
        self.tick()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """No flush inside: appends made in it reach a reader, and survive a crash, all
        or none (``series.data.append`` and ``series.timestamps.append`` together)."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
        self.tick()

    def tick(self) -> None:
        """Flush if the policy says so (called after appends and by an idle writer)."""
        if self._first_unflushed is None or self._hold:
            return
        limit = self.options.flush_rows
        if (limit is not None and self._unflushed_rows >= limit) or (
            time.monotonic() - self._first_unflushed >= self.options.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Make every row appended so far durable and visible to readers."""
        self._check_open()
        for key, (holder, attribute) in self._committed.counts.items():
            group = next((g for g in self._committed.groups if g[0] == key), None)
            if group is not None:
                rows = min(self._datasets[p].shape[0] for p in group if p in self._datasets)
                self.h5[holder].attrs.modify(attribute, np.int64(rows))
        self.go_live()
        self.h5.flush()
        self._committed.rows = {p: d.shape[0] for p, d in self._datasets.items()}
        sidecar.write(self.path, self._committed)
        self.rows_flushed = dict(self._committed.rows)
        self._unflushed_rows = 0
        self._first_unflushed = None

    def close(self) -> None:
        """Flush what remains and mark the stream ended cleanly (the sidecar goes)."""
        if self.closed:
            return
        if self.h5.id.valid:
            self.flush()
        self.closed = True
        sidecar.remove(self.path)

    def _check_open(self) -> None:
        if self.closed or not self.h5.id.valid:
            raise H5ModelError("the file is closed; open it again with stream=True to append",
                               file=self.label)


def feature_path(group: str, name: str) -> str:
    return join_path(group, name)
