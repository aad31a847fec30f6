"""Table behaviour for hdmf-common's table types, mixed into their generated models.

``table["col"][i]`` gives row i of a column the way pynwb users expect: a
ragged column (``VectorIndex`` over ``VectorData``) gives that row's values, a
``DynamicTableRegion`` gives the referenced rows, a compound column of references
gives a row with its fields as attributes (``ref.timeseries``, ``ref.count``); ``table[i]``
gives a row as a dict. Data are read only for the rows asked for.
``table.to_dataframe()`` gives the whole table as a pandas DataFrame
(``h5model.models.frames``, imported only when asked).
"""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from h5model.models.arrays import H5Array
from h5model.models.compound import compound_rows, references_rows
from h5model.models.nodes import Node, owner_of
from h5model.rules.ragged import ragged_chain

if TYPE_CHECKING:
    import pandas


def _offsets(index: Any) -> Any:
    return index.value


class VectorDataMixin:
    """A column: ``col[i]`` is its row i (a row with attribute access for a compound
    column that holds references)."""

    value: Any

    def row(self, i: int) -> Any:
        if references_rows(self.value):
            count = len(self.value)
            at = i + count if i < 0 else i
            if not 0 <= at < count:
                raise IndexError(f"row {i} out of range for a column of {count} rows")
            return compound_rows(self, self.value[at : at + 1], at)[0]
        return self.value[i]

    def slice_rows(self, start: int, stop: int) -> Any:
        """Rows ``start`` to ``stop`` (a list of rows for a compound column that holds
        references)."""
        if references_rows(self.value):
            return compound_rows(self, self.value[start:stop], start)
        return self.value[start:stop]

    def __getitem__(self, key: Any) -> Any:
        if references_rows(self.value):
            if isinstance(key, (int, np.integer)):
                return self.row(int(key))
            if isinstance(key, slice):
                start, stop, step = key.indices(len(self.value))
                if step == 1:
                    return self.slice_rows(start, stop)
        return self.value[key]


class VectorIndexMixin:
    """A ragged column's index: ``index[i]`` is row i of the target, ``[start:end]``."""

    value: Any
    target: Any

    def bounds(self, i: int) -> tuple[int, int]:
        count = len(self.value)
        if i < 0:
            i += count
        if not 0 <= i < count:
            raise IndexError(f"row {i} out of range for a column of {count} rows")
        end = int(self.value[i])
        start = int(self.value[i - 1]) if i > 0 else 0
        return start, end

    def row(self, i: int) -> Any:
        start, end = self.bounds(i)
        target = self.target
        if isinstance(target, VectorIndexMixin):
            return [target.row(j) for j in range(start, end)]
        if isinstance(target, DynamicTableRegionMixin):
            return target.rows(np.asarray(target.value[start:end]))
        if isinstance(target, VectorDataMixin):
            return target.slice_rows(start, end)
        return target.value[start:end]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return self.row(int(key))
        if isinstance(key, slice):
            return [self.row(i) for i in range(*key.indices(len(self.value)))]
        raise TypeError(f"ragged columns take an integer or a slice, not {type(key).__name__}")

    def __len__(self) -> int:
        return len(self.value)


class DynamicTableRegionMixin:
    """Row numbers into another table: ``region[i]`` is the referenced row."""

    value: Any
    table: Any

    def rows(self, numbers: Any) -> list[dict[str, Any]]:
        return [self.table.row(int(n)) for n in np.atleast_1d(numbers)]

    def row(self, i: int) -> Any:
        return self.table.row(int(self.value[i]))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return self.row(int(key))
        return self.rows(self.value[key])

    def __len__(self) -> int:
        return len(self.value)


class DynamicTableMixin:
    """A table: columns by name, rows by number."""

    colnames: Any
    id: Any

    @property
    def columns(self) -> list[str]:
        names = self.colnames
        if names is None:
            return []
        if isinstance(names, str):
            return [names]
        return [str(n) for n in np.atleast_1d(names)]

    def column(self, name: str) -> Any:
        """The column as read per row: the index of a ragged column, else the data."""
        children = self.children  # type: ignore[attr-defined]
        if name not in children:
            raise KeyError(f"{self.hdf5_path}: no column {name!r}")  # type: ignore[attr-defined]
        # a ragged column may be indexed more than once (x, x_index, x_index_index):
        # rows are counted by the outermost index
        key = name
        for outer in ragged_chain(children, name)[1:]:
            index = children.get(outer)
            if not isinstance(index, VectorIndexMixin) or index.target is not children.get(key):
                break
            key = outer
        return children[key]

    def row(self, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"id": int(self.id.value[i])}
        for name in self.columns:
            column = self.column(name)
            out[name] = column[i] if hasattr(column, "__getitem__") else column
        return out

    def __len__(self) -> int:
        return len(self.id.value)

    def to_dataframe(
        self,
        *,
        regions: Literal["expand", "index"] = "expand",
        ignore_category_ids: bool = False,
    ) -> "pandas.DataFrame":
        """The table as stored, as a pandas DataFrame indexed by ``id`` (needs the
        ``pandas`` extra). ``regions="expand"`` gives each region cell the referenced rows
        as a DataFrame (as pynwb does), ``"index"`` their row numbers. An
        AlignedDynamicTable gives ``(category, column)`` columns, each category's ``id``
        among them unless ``ignore_category_ids``."""
        from h5model.models import frames

        return frames.to_dataframe(self, regions=regions, ignore_category_ids=ignore_category_ids)

    def add_row(self, id: int | None = None, **values: Any) -> None:
        """Add a row at the next ``save()``: a value for every column (a list for a ragged
        column, row numbers for a region, models for a reference column)."""
        columns = self.columns
        missing = [c for c in columns if c not in values]
        unknown = [c for c in values if c not in columns]
        where = self.hdf5_path  # type: ignore[attr-defined]
        if missing or unknown:
            raise ValueError(
                f"{where}: a row needs exactly the columns {columns}; "
                + (f"missing {missing}" if missing else "")
                + ("; " if missing and unknown else "")
                + (f"unknown {unknown}" if unknown else "")
            )
        owner = owner_of(self)
        if owner is None:
            raise ValueError(f"{where}: rows can be added to tables of an open file only")
        assert isinstance(self, Node)  # mixed into the generated table models only
        row = {name: values[name] for name in columns}
        row["id"] = len(self) + owner.pending_rows(self) if id is None else int(id)
        owner.row_added(self, row)

    def append_rows(self, columns: Mapping[str, Sequence[Any]]) -> int:
        """Rows appended in place to a table of a file opened with ``stream=True``: a
        sequence per column, one item per row (a sequence per row for a ragged column,
        row numbers for a region column); ``"id"`` optional (numbered on). Every column,
        its index and ``id`` grow together; the table's new length."""
        where = self.hdf5_path  # type: ignore[attr-defined]
        names = self.columns
        given = {k: v for k, v in columns.items() if k != "id"}
        missing = [c for c in names if c not in given]
        unknown = [c for c in given if c not in names]
        if missing or unknown:
            raise ValueError(f"{where}: rows need exactly the columns {names}"
                             + (f"; missing {missing}" if missing else "")
                             + (f"; unknown {unknown}" if unknown else ""))
        lengths = {c: len(v) for c, v in given.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{where}: every column needs the same number of rows; got "
                             f"{lengths}")
        count = next(iter(lengths.values()), len(columns.get("id", ())))
        start = len(self)
        ids = columns.get("id")
        id_rows = np.arange(start, start + count) if ids is None else np.asarray(ids)
        blocks: list[tuple[H5Array, Any]] = [(_stored(self.id, where), id_rows)]
        for name in names:
            blocks += _column_blocks(self.column(name), list(given[name]), where)
        source = blocks[0][0].source
        source.append(blocks, together=True)
        return len(self)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            if key in self.columns or key == "id":
                return self.column(key)
            return self.children[key]  # type: ignore[attr-defined]
        if isinstance(key, (int, np.integer)):
            return self.row(int(key))
        raise TypeError(f"tables take a column name or a row number, not {type(key).__name__}")


def _stored(column: Any, where: str) -> H5Array:
    value = getattr(column, "value", None)
    if not isinstance(value, H5Array):
        raise ValueError(f"{where}: rows are appended to a table stored in a file; save "
                         "it first")
    return value


def _column_blocks(column: Any, rows: list[Any], where: str) -> list[tuple[H5Array, Any]]:
    """The blocks that append ``rows`` to one column: a ragged column's index gets the
    new ends and its target the rows' items (recursively); a region's row numbers are
    checked against its table."""
    if isinstance(column, VectorIndexMixin):
        index = _stored(column, where)
        end = int(index[-1]) if len(index) else 0
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        ends = end + np.cumsum(lengths)
        items = [item for r in rows for item in r]
        return [(index, ends), *_column_blocks(column.target, items, where)]
    if isinstance(column, DynamicTableRegionMixin):
        numbers = np.asarray(rows, dtype=np.int64)
        size = len(column.table)
        bad = numbers[(numbers < 0) | (numbers >= size)]
        if bad.size:
            raise ValueError(f"{where}: region rows {bad.tolist()} are not rows of "
                             f"{column.table.hdf5_path} ({size} rows)")
        return [(_stored(column, where), numbers)]
    stored = _stored(column, where)
    if stored.dtype.names or (stored.dtype.kind == "O" and not rows_are_text(rows)):
        raise ValueError(f"{where}: column {stored.hdf5_path} holds references or "
                         "compounds, which are not appended by streaming")
    return [(stored, rows)]


def rows_are_text(rows: list[Any]) -> bool:
    return all(isinstance(r, str | bytes) for r in rows)
