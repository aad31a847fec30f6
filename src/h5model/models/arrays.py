"""Lazy arrays: shape and dtype known up front, data read from disk on slicing.

Strings come back as ``str`` and object references come back as the models
they point to, so a slice of a dataset reads the way pynwb users expect.
An array asks everything else of its ``ArraySource``: the file it reads from
opens the dataset, guards each read, resolves references and receives the
slices assigned to it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import h5py
import numpy as np
from pydantic import BaseModel

from h5model.errors import H5ModelError
from h5model.rules.dtypes import is_reference, is_text
from h5model.rules.values import each_time, parse_isodatetime


class ArraySource(Protocol):
    """What a lazy array asks of the file it reads from."""

    @property
    def owner(self) -> object | None:
        """The file the array belongs to (its models' ``Owner``), to tell an array of the
        file being written from one of another file; None outside any open file."""
        ...

    def open(self, hdf5_path: str) -> h5py.Dataset:
        """The dataset at ``hdf5_path``, through the file's current handle."""
        ...

    def reading(self) -> AbstractContextManager[None]:
        """Held around every read: waits out another process's save, and refuses to read
        a file that changed under this handle."""
        ...

    def resolve(self, ref: Any) -> Any:
        """The model an object reference read from the dataset points to."""
        ...

    def write(self, array: H5Array, key: Any, value: Any) -> None:
        """``array[key] = value``: recorded for the next save, or refused when read-only."""
        ...

    def append(self, blocks: list[tuple[H5Array, Any]], *, together: bool = False) -> None:
        """Rows appended in place to each array (a file open for streaming), the arrays'
        shapes updated; ``together``: the arrays keep one length (a crash cuts them to
        the shortest)."""
        ...


class H5Array:
    """A dataset left on disk. ``a[...]`` reads; ``len(a)``, ``a.shape``, ``a.dtype`` do not."""

    __slots__ = ("_dataset", "_source", "dtype", "hdf5_path", "shape")

    def __init__(
        self, source: ArraySource, hdf5_path: str, shape: tuple[int, ...], dtype: np.dtype
    ) -> None:
        self._source = source
        self._dataset: h5py.Dataset | None = None
        self.hdf5_path = hdf5_path
        self.shape = shape
        self.dtype = dtype

    @property
    def source(self) -> ArraySource:
        """The file this array reads from."""
        return self._source

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a scalar dataset")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"H5Array({self.hdf5_path!r}, shape={self.shape}, dtype={self.dtype})"

    @property
    def dataset(self) -> h5py.Dataset:
        """The underlying h5py dataset (opened on first use)."""
        if self._dataset is None or not self._dataset.id.valid:
            try:
                self._dataset = self._source.open(self.hdf5_path)
            except (KeyError, ValueError, OSError) as exc:
                raise H5ModelError(
                    f"cannot read the dataset: its file is closed or unreadable ({exc})",
                    hdf5_path=self.hdf5_path,
                ) from None
        return self._dataset

    def __getitem__(self, key: Any) -> Any:
        with self._source.reading():
            try:
                return self._read(key)
            except H5ModelError as exc:  # e.g. a remote file's fetch failed: say which array
                raise exc.located(self.hdf5_path) from None

    def _read(self, key: Any) -> Any:
        dataset = self.dataset
        if is_text(self.dtype):
            if self.dtype.kind == "S" and h5py.check_string_dtype(self.dtype) is None:
                raw = dataset[key]
                return np.char.decode(raw, "utf-8") if isinstance(raw, np.ndarray) else raw
            return dataset.asstr()[key]
        return self._resolve_refs(dataset[key])

    def __setitem__(self, key: Any, value: Any) -> None:
        """Slice assignment, written at the next ``save()`` of a file opened for writing."""
        self._source.write(self, key, value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """A dataset value: an ``H5Array`` (on disk) or new data in memory (a numpy array;
        a list or tuple becomes one). Anything else is refused, so a scalar assigned where
        an array belongs still fails validation."""
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(_array_value)

    def refresh(self, shape: tuple[int, ...] | None = None, dtype: np.dtype | None = None) -> None:
        """See the dataset as it is now: after a save changed it (new shape/dtype, reopened
        on next read), or, with no arguments, rows another process appended since (a
        file being streamed to, read live)."""
        if shape is None:
            with self._source.reading():
                dataset = self.dataset
                if dataset.file.swmr_mode:
                    dataset.refresh()
                self.shape = tuple(dataset.shape)
            return
        self.shape = shape
        self.dtype = dtype if dtype is not None else self.dtype
        self._dataset = None

    def append(self, block: Any) -> None:
        """Rows added at the end, in place (a file opened with ``stream=True``): ``block``
        holds one or more items of this dataset's item shape."""
        self._source.append([(self, block)])

    def read(self) -> Any:
        """The whole dataset in memory."""
        return self[()]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = np.asarray(self.read())
        return data.astype(dtype) if dtype is not None else data

    def _resolve_refs(self, data: Any) -> Any:
        """References in ``data`` as the models they point to (other data as read)."""
        resolve = self._source.resolve
        if is_reference(self.dtype):
            if isinstance(data, np.ndarray):
                out = np.empty(data.shape, dtype=object)
                for index, ref in np.ndenumerate(data):
                    out[index] = resolve(ref)
                return out
            return resolve(data)
        if self.dtype.names:
            ref_fields = [n for n in self.dtype.names if is_reference(self.dtype[n])]
            if not ref_fields:
                return data
            fields = [(n, object if n in ref_fields else self.dtype[n]) for n in self.dtype.names]
            arr = np.asarray(data)
            out = np.empty(arr.shape, dtype=fields)
            for name in self.dtype.names:
                if name in ref_fields:
                    column = np.empty(arr.shape, dtype=object)
                    for index, ref in np.ndenumerate(arr[name]):
                        column[index] = resolve(ref)
                    out[name] = column
                else:
                    out[name] = arr[name]
            return out if isinstance(data, np.ndarray) else out[()]
        return data


class IsoDatetimeArray(H5Array):
    """An array the spec types ``isodatetime``: stored as ISO 8601 text, read as datetimes
    (as scalar ones are); slices assigned may be datetimes (written back as ISO 8601)."""

    __slots__ = ()

    def _read(self, key: Any) -> Any:
        data = super()._read(key)
        try:
            if isinstance(data, np.ndarray) and data.dtype.kind == "S":  # fixed-length text
                data = data.astype(object)
            return each_time(data, parse_isodatetime)
        except ValueError as exc:
            raise H5ModelError(f"an isodatetime dataset holds a value that is not a date and "
                               f"time: {exc}", hdf5_path=self.hdf5_path) from None


def _array_value(value: Any) -> Any:
    if isinstance(value, H5Array | np.ndarray):
        return value
    if isinstance(value, list | tuple):
        if any(isinstance(v, BaseModel) for v in value):
            out = np.empty(len(value), dtype=object)  # references: models stay models
            for i, v in enumerate(value):
                out[i] = v
            return out
        return np.asarray(value)
    raise ValueError(f"expected an array (an H5Array or a numpy array), not {type(value).__name__}")
