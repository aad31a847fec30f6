"""Reading what a dataset stores, in blocks of bounded size, skipping what it does not.

A dataset's extent says nothing about its cost: ``(2**40,)`` references with nothing
written take a few hundred bytes of file, and a single row of ``(1, 2**30)`` is 2**30
elements. Elements never written are not stored (contiguous storage not allocated,
chunks never written) and read as the dataset's fill value, so they are read once, as
one element, not once each. What is stored is read in blocks of at most
``BLOCK_ELEMENTS`` elements, whatever the shape, and no more than the reference limit
of ``limits.py`` is read from one dataset.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
from h5py import h5d

from h5model.hdf5.limits import check_references

BLOCK_ELEMENTS = 1 << 16
"""Elements read at a time."""

Box = tuple[tuple[int, ...], tuple[int, ...]]
"""A block of a dataset: its offset and its shape."""


@dataclass(slots=True)
class Storage:
    """Where a dataset's stored elements are, as boxes in offset order."""

    boxes: list[Box]
    unstored: tuple[int, ...] | None
    """The coordinates of one element that is not stored (it reads as the fill value);
    None when every element is stored."""


def storage(dataset: h5py.Dataset, stop: int | None = None) -> Storage:
    """The stored parts of ``dataset`` (of its first ``stop`` rows, if given), as the
    library reports them: allocated contiguous storage, or each allocated chunk."""
    shape = dataset.shape
    if shape is None:
        return Storage([], None)
    if stop is not None and shape:
        shape = (min(stop, shape[0]), *shape[1:])
    if 0 in shape:
        return Storage([], None)
    whole: Box = ((0,) * len(shape), tuple(shape))
    dsid = dataset.id
    plist = dsid.get_create_plist()
    layout = plist.get_layout()
    if layout == h5d.CONTIGUOUS:
        if dsid.get_storage_size() == 0 and plist.get_external_count() == 0:
            return Storage([], whole[0])  # never written: all fill value
        return Storage([whole], None)
    if layout != h5d.CHUNKED or not shape:
        return Storage([whole], None)  # compact or virtual: read as it is
    chunk = tuple(plist.get_chunk())
    count = dsid.get_num_chunks()
    grid = math.prod(math.ceil(s / c) for s, c in zip(dataset.shape, chunk, strict=True))
    if count == 0:
        return Storage([], whole[0])
    if count >= grid:
        return Storage([whole], None)
    check_references(count, "stored chunks")  # each holds at least one element
    offsets = sorted(_chunk_offsets(dsid, count))
    boxes: list[Box] = []
    for offset in offsets:
        extent = tuple(min(c, s - o) for c, s, o in zip(chunk, shape, offset, strict=True))
        if all(e > 0 for e in extent):
            boxes.append((offset, extent))
    return Storage(boxes, _first_unstored(shape, chunk, set(offsets)))


def _chunk_offsets(dsid: Any, count: int) -> list[tuple[int, ...]]:
    found: list[tuple[int, ...]] = []
    if hasattr(dsid, "chunk_iter"):  # one pass over the chunk index
        dsid.chunk_iter(lambda info: found.append(tuple(info.chunk_offset)))
    else:  # older libraries: one lookup per chunk
        found = [tuple(dsid.get_chunk_info(i).chunk_offset) for i in range(count)]
    return found


def _first_unstored(
    shape: tuple[int, ...], chunk: tuple[int, ...], stored: set[tuple[int, ...]]
) -> tuple[int, ...] | None:
    """The offset of the first chunk, in row-major order, that is not stored (found
    within ``len(stored) + 1`` steps)."""
    counts = [math.ceil(s / c) for s, c in zip(shape, chunk, strict=True)]
    position = [0] * len(shape)
    for _ in range(len(stored) + 1):
        offset = tuple(p * c for p, c in zip(position, chunk, strict=True))
        if offset not in stored:
            return offset
        for axis in reversed(range(len(shape))):  # the next chunk in row-major order
            position[axis] += 1
            if position[axis] < counts[axis]:
                break
            position[axis] = 0
        else:
            return None
    return None


def stored_elements(found: Storage) -> int:
    """How many elements the stored parts hold."""
    return sum(math.prod(extent) for _, extent in found.boxes)


def blocks(
    dataset: h5py.Dataset,
    field: str | None = None,
    *,
    stop: int | None = None,
    fill: bool = True,
) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
    """(offset, values) for what ``dataset`` stores (its first ``stop`` rows), in blocks
    of at most ``BLOCK_ELEMENTS``, then (with ``fill``) one element of fill value if any
    element is not stored. Refuses (``LimitError``) to read more elements than the
    reference limit."""
    source = dataset.fields(field) if field else dataset
    if dataset.shape == ():
        yield (), np.asarray(source[()])
        return
    found = storage(dataset, stop)
    check_references(stored_elements(found), "stored elements")
    for offset, extent in found.boxes:
        for start, size in _split(offset, extent):
            yield start, np.asarray(source[_slices(start, size)])
    if fill and found.unstored is not None:
        one = (1,) * dataset.ndim
        yield found.unstored, np.asarray(source[_slices(found.unstored, one)])


def rows(
    dataset: h5py.Dataset, field: str | None = None, *, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, values) in row order for a one-dimensional dataset (its first ``stop``
    rows): stored rows in bounded blocks, and each run of rows that is not stored as one
    row of fill value at the run's start (so a check of order or range sees the same).
    Other shapes: as ``blocks``."""
    if dataset.ndim != 1:  # blocks of any shape, by their first row; unstored ones last
        for offset, values in blocks(dataset, field, stop=stop):
            yield (offset[0] if offset else 0), values
        return
    source = dataset.fields(field) if field else dataset
    length = min(dataset.shape[0], stop) if stop is not None else dataset.shape[0]
    found = storage(dataset, length)
    check_references(stored_elements(found), "stored elements")
    fill: np.ndarray | None = None
    cursor = 0
    for (first,), (size,) in [*found.boxes, ((length,), (0,))]:
        if first > cursor:  # rows never written: their fill value, once
            if fill is None:
                fill = np.asarray(source[cursor : cursor + 1])
            yield cursor, fill
        for start in range(first, first + size, BLOCK_ELEMENTS):
            yield start, np.asarray(source[start : min(first + size, start + BLOCK_ELEMENTS)])
        cursor = max(cursor, first + size)


def _split(offset: tuple[int, ...], extent: tuple[int, ...]) -> Iterator[Box]:
    """Sub-boxes of at most ``BLOCK_ELEMENTS`` covering one box, in row-major order: the
    last axes whole while they fit, a slice of the next one, single steps of the rest."""
    block = list(extent)
    size = 1
    for axis in reversed(range(len(extent))):
        if size * extent[axis] <= BLOCK_ELEMENTS:
            size *= extent[axis]
            continue
        block[axis] = max(1, BLOCK_ELEMENTS // size)
        for outer in range(axis):
            block[outer] = 1
        break
    counts = [math.ceil(e / b) for e, b in zip(extent, block, strict=True)]
    for index in np.ndindex(*counts):
        start = tuple(o + i * b for o, i, b in zip(offset, index, block, strict=True))
        size_here = tuple(
            min(b, o + e - s) for b, o, e, s in zip(block, offset, extent, start, strict=True)
        )
        yield start, size_here


def _slices(start: tuple[int, ...], size: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(s, s + n) for s, n in zip(start, size, strict=True))
