"""How a new extendable dataset is stored: its chunk shape and its filters.

Event data are read and written a chunk at a time, so the chunk decides both the
cost of an append and the cost of reading one event. The rule people use for
event files: chunks between 10 KiB and 1 MiB, aiming near 1 MiB, whole items per
chunk (an item is one row: one number, one 80x250 image). Compression and
checksums are passed through to HDF5 as given (``gzip``, ``lzf``, ``fletcher32``,
an ``hdf5plugin`` filter such as ``hdf5plugin.Zstd()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

TARGET_BYTES = 1 << 20
"""A chunk holds as many whole items as fit in 1 MiB."""
MIN_BYTES = 10 << 10
"""The rule's lower bound: every chunk of items under 1 MiB holds at least 512 KiB, so
this is met by construction (asserted by the tests)."""
_VLEN_BYTES = 16
"""What one variable-length item (text, an object) occupies in a chunk: its heap id."""


def item_bytes(item_shape: tuple[int, ...], dtype: Any) -> int:
    """Bytes one item (one row) occupies in a chunk."""
    kind = np.dtype(dtype)
    size = _VLEN_BYTES if kind.kind == "O" else kind.itemsize
    return max(1, int(np.prod(item_shape, dtype=np.int64)) * size)


def chunk_rows(item_shape: tuple[int, ...], dtype: Any) -> int:
    """Whole items per chunk: as many as fit in 1 MiB, at least one (an item larger
    than 1 MiB is a chunk of its own)."""
    return max(1, TARGET_BYTES // item_bytes(item_shape, dtype))


def chunk_shape(item_shape: tuple[int, ...], dtype: Any) -> tuple[int, ...]:
    """The chunk shape of an extendable dataset of ``item_shape`` items: rows along the
    growing first axis, each item whole."""
    return (chunk_rows(item_shape, dtype), *item_shape)


def storage_options(
    compression: str | int | Mapping[str, Any] | None = None,
    compression_opts: Any = None,
    *,
    shuffle: bool = False,
    fletcher32: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for h5py's ``create_dataset``: ``compression`` is ``"gzip"``,
    ``"lzf"``, a filter id, or an ``hdf5plugin`` filter (a mapping that carries its own
    id and options); ``fletcher32`` adds HDF5's checksum."""
    options: dict[str, Any] = {}
    if isinstance(compression, Mapping):
        options.update(compression)
    elif compression is not None:
        options["compression"] = compression
        if compression_opts is not None:
            options["compression_opts"] = compression_opts
    if shuffle:
        options["shuffle"] = True
    if fletcher32:
        options["fletcher32"] = True
    return options
