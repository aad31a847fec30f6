"""Rows of compound datasets that hold references, with their fields as attributes.

A compound element reads from h5py as a numpy record, which has no attribute
access and keeps numpy scalars. When the compound holds a reference (the models
it points to are Python objects anyway), a ``CompoundRow`` gives ``row.x``,
``row["x"]`` and ``row[0]`` with Python numbers and the models; a row of a
``TimeSeriesReferenceVectorData`` is a ``TimeSeriesReference`` that can also give
its samples, and says so (an IndexError naming both paths) when it lies outside
its series.
"""

from collections.abc import Iterator
from typing import Any

import numpy as np

from h5model.errors import H5ModelError
from h5model.models.nodes import is_type, owner_of
from h5model.rules.dtypes import is_reference


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


class CompoundRow:
    """One element of a compound dataset: each field as an attribute (``row.x``), as an
    item by name or position (``row["x"]``, ``row[0]``), and in order when unpacked.
    Numbers are Python numbers, references the models they point to."""

    __slots__ = ("_column", "_fields", "_row", "_values")

    def __init__(
        self,
        fields: tuple[str, ...],
        values: tuple[Any, ...],
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self._fields = fields
        self._values = values
        self._column = column
        self._row = row

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names, in stored order."""
        return self._fields

    def __getattr__(self, name: str) -> Any:
        if name in CompoundRow.__slots__:  # not set yet (a copy being made)
            raise AttributeError(name)
        try:
            return self._values[self._fields.index(name)]
        except ValueError:
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r} (fields: {list(self._fields)})"
            ) from None

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self.__getattr__(key)
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CompoundRow):
            return self._fields == other._fields and self._values == other._values
        if isinstance(other, tuple):
            return self._values == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # references are models, which do not hash

    def asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self._values, strict=True))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self._values, strict=True))
        return f"{type(self).__name__}({inner})"


class TimeSeriesReferenceError(H5ModelError, IndexError):
    """A TimeSeriesReference selects samples its series does not have."""

    rule = "table.timeseries-reference-out-of-range"


class TimeSeriesReference(CompoundRow):
    """A row of a ``TimeSeriesReferenceVectorData``: ``count`` samples of ``timeseries``
    from ``idx_start``. (-1, -1) is the spec's "no series" (``isvalid()`` is False)."""

    __slots__ = ()

    idx_start: int
    count: int
    timeseries: Any

    def num_samples(self) -> int | None:
        """The series' sample count: its timestamps, else its data (None if unknown)."""
        series = self.timeseries
        for name in ("timestamps", "data"):
            part = getattr(series, name, None)
            value = getattr(part, "value", None)
            shape = getattr(value, "shape", None)
            if shape:
                return int(shape[0])
        return None

    def isvalid(self) -> bool:
        """False for the "no series" row; raises ``TimeSeriesReferenceError`` (an
        IndexError) when the selection lies outside the series."""
        start, count = self.idx_start, self.count
        if start < 0 and count < 0:
            return False
        samples = self.num_samples()
        if start < 0 or count < 0 or (samples is not None and start + count > samples):
            series = getattr(self.timeseries, "hdf5_path", None) or repr(self.timeseries)
            owner = owner_of(self.timeseries)
            raise TimeSeriesReferenceError(
                f"row {self._row} selects samples {start} to {start + count} of {series}, "
                f"which has {samples} samples",
                file=owner.label if owner is not None else None,
                hdf5_path=self._column,
            )
        return True

    @property
    def data(self) -> Any:
        """The selected samples of the series' data (None for the "no series" row)."""
        if not self.isvalid():
            return None
        return self.timeseries.data.value[self.idx_start : self.idx_start + self.count]

    @property
    def timestamps(self) -> Any:
        """The selected samples' times: from the series' timestamps, else from its
        starting time and rate (None for the "no series" row)."""
        if not self.isvalid():
            return None
        series = self.timeseries
        if getattr(series, "timestamps", None) is not None:
            return series.timestamps.value[self.idx_start : self.idx_start + self.count]
        start = getattr(series, "starting_time", None)
        if start is None:
            raise H5ModelError(
                "the series has neither timestamps nor a starting time",
                hdf5_path=getattr(series, "hdf5_path", None),
            )
        return (self.idx_start + np.arange(self.count)) / start.rate + start.value


def _plain_list(values: np.ndarray) -> list[Any]:
    """A field's values as Python objects, in one conversion (text decoded)."""
    out: list[Any] = values.tolist()
    if values.dtype.kind in "SO" and any(isinstance(v, bytes) for v in out):
        out = [_plain(v) for v in out]
    return out


def compound_rows(column: Any, values: Any, first: int = 0) -> list[CompoundRow]:
    """The elements of a compound column's ``values`` (rows ``first``...) as rows with
    attribute access, each field converted once for the whole block."""
    array = np.asarray(values)
    names = tuple(array.dtype.names or ())
    kind = TimeSeriesReference if is_type(column, "TimeSeriesReferenceVectorData") else CompoundRow
    where = getattr(column, "hdf5_path", None)
    fields = [_plain_list(array[name].ravel()) for name in names]
    return [
        kind(names, tuple(values_), where, first + i)
        for i, values_ in enumerate(zip(*fields, strict=True))
    ]


def references_rows(value: Any) -> bool:
    """True for an array (on disk or in memory) of a compound dtype with a reference field
    (an object field in memory): its elements are given as rows. Compounds of plain
    numbers and text stay numpy records, as pynwb gives them."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype.names is None:
        return False
    return any(is_reference(dtype[n]) or dtype[n].kind == "O" for n in dtype.names)
