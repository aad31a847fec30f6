"""Extendable datasets: made with room to grow along their first axis, and appended to.

A dataset grows only if it was created with ``maxshape`` None on its first axis
(and so is chunked). Appending resizes it and writes the block at its end; a block
whose items do not have the dataset's item shape, or a dataset that cannot grow,
is refused naming the file, the HDF5 path and what to do.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.persist.streaming.chunks import chunk_shape


class NotExtendableError(H5ModelError):
    """The dataset was created with a fixed size: it cannot be appended to."""


def create_extendable(group: h5py.Group, name: str, item_shape: tuple[int, ...], dtype: Any,
                      storage: dict[str, Any] | None = None) -> h5py.Dataset:
    """An empty dataset of ``item_shape`` items that grows along its first axis, chunked by
    the rule in ``chunks`` and stored with ``storage`` (``chunks.storage_options``)."""
    kind = np.dtype(dtype)
    stored = h5py.string_dtype() if kind.kind in "OUS" and kind.kind != "S" else kind
    return group.create_dataset(name, shape=(0, *item_shape), maxshape=(None, *item_shape),
                                dtype=stored, chunks=chunk_shape(item_shape, stored),
                                **(storage or {}))


def check_extendable(dataset: h5py.Dataset, label: str) -> None:
    """Refuse a dataset that cannot grow along its first axis."""
    maxshape = dataset.maxshape
    if not maxshape or maxshape[0] is not None:
        raise NotExtendableError(
            f"the dataset has a fixed size (shape {dataset.shape}, max shape {maxshape}), so "
            "rows cannot be appended; create it extendable (max shape None on the first "
            "axis), e.g. with h5model.persist.streaming.extendable(...) when writing it, or "
            "copy its rows into a new extendable dataset",
            file=label, hdf5_path=dataset.name)


def as_block(dataset: h5py.Dataset, block: Any, label: str) -> Any:
    """``block`` as rows of ``dataset``: items of its item shape, in its dtype."""
    item = dataset.shape[1:]
    if h5py.check_string_dtype(dataset.dtype) is not None:
        rows = np.asarray(block, dtype=object)
    else:
        try:
            rows = np.asarray(block, dtype=dataset.dtype)
        except (TypeError, ValueError) as exc:
            raise H5ModelError(f"the rows cannot be stored as {dataset.dtype} ({exc})",
                               file=label, hdf5_path=dataset.name) from None
    if rows.shape[1:] != item or rows.ndim != dataset.ndim:
        if rows.shape == item:  # one item given alone
            rows = rows.reshape((1, *item))
        else:
            raise H5ModelError(f"each row must have shape {item}; got a block of shape "
                               f"{rows.shape}", file=label, hdf5_path=dataset.name)
    return rows


def append_rows(dataset: h5py.Dataset, rows: Any) -> int:
    """Write ``rows`` (checked by ``as_block``) at the end of ``dataset``; its new length."""
    start = int(dataset.shape[0])
    stop = start + len(rows)
    if stop != start:
        dataset.resize(stop, axis=0)
        dataset[start:stop] = rows
    return stop


def cut_rows(dataset: h5py.Dataset, rows: int) -> int:
    """Cut ``dataset`` back to its first ``rows`` rows; how many rows were removed."""
    have = int(dataset.shape[0])
    if have <= rows:
        return 0
    dataset.resize(rows, axis=0)
    return have - rows


class Extendable(np.ndarray):
    """Rows to write as a new extendable dataset (``maxshape`` None on the first axis,
    chunked by the rule): ``extendable(item_shape, dtype)`` gives an empty one, and
    ``extendable(item_shape, dtype, data=rows)`` one that starts with rows."""

    storage: dict[str, Any]

    def __array_finalize__(self, obj: Any) -> None:
        self.storage = getattr(obj, "storage", {})


def extendable(item_shape: tuple[int, ...] = (), dtype: Any = "float64", *, data: Any = None,
               **storage: Any) -> Extendable:
    """A value for a model's dataset that is written extendable; ``storage``: filters as
    in ``chunks.storage_options`` (``compression="gzip"``, ``fletcher32=True``...)."""
    from h5model.persist.streaming.chunks import storage_options

    rows = (np.zeros((0, *item_shape), dtype=dtype) if data is None
            else np.asarray(data, dtype=dtype))
    out = rows.view(Extendable)
    out.storage = storage_options(**storage)
    return out
