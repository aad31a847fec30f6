"""Tables as pandas DataFrames, the way pynwb's ``to_dataframe()`` gives them.

pandas is an optional extra: this module is imported only when a table is asked for
its DataFrame, and says which extra to install when pandas is missing. Every column
is read once, whole, and cut into rows in memory:

- the index is ``id``; a plain column keeps its dtype; a column of several
  dimensions gives each row its sub-array;
- a ragged column gives each row its values as an array (doubly ragged: a list of
  arrays), as pynwb does;
- a ``DynamicTableRegion`` gives the referenced rows as a DataFrame
  (``regions="expand"``, one row for a plain region, as pynwb's default) or their row
  numbers (``regions="index"``);
- a reference column gives the models referred to; a compound column that holds
  references gives rows with attribute access (``TimeSeriesReference`` rows for
  ``TimeSeriesReferenceVectorData``), other compounds numpy records, as pynwb does;
- an ``AlignedDynamicTable`` gives ``(category, column)`` columns: its own columns
  under its name, then each category's ``id`` and columns; its index is
  ``(name, "id")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from h5model.errors import H5ModelError
from h5model.models.arrays import H5Array
from h5model.models.compound import compound_rows, references_rows
from h5model.models.nodes import is_type, owner_of

if TYPE_CHECKING:
    import pandas

Regions = Literal["expand", "index"]


class MissingExtraError(H5ModelError, ImportError):
    """An optional dependency is not installed."""


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingExtraError(
            "tables as DataFrames need pandas: pip install 'h5model[pandas]'"
        ) from None
    return pandas


def to_dataframe(
    table: Any, *, regions: Regions = "expand", ignore_category_ids: bool = False
) -> pandas.DataFrame:
    """``table`` (any DynamicTable model, AlignedDynamicTable included) as a DataFrame."""
    if regions not in ("expand", "index"):
        raise ValueError(f"regions must be 'expand' or 'index', not {regions!r}")
    return _Framer(_pandas(), regions, ignore_category_ids).frame(table)


def _where(model: Any) -> dict[str, Any]:
    owner = owner_of(model)
    return {"file": owner.label if owner is not None else None, "hdf5_path": model.hdf5_path}


def _name(model: Any) -> str:
    path = getattr(model, "hdf5_path", None)
    return path.rsplit("/", 1)[-1] if path else (type(model).type_name() or type(model).__name__)


def _read(model: Any) -> np.ndarray:
    """A dataset model's whole value, in one read."""
    value = getattr(model, "value", None)
    if value is None:
        raise H5ModelError(
            f"expected a dataset, found {type(model).__name__} (an external link is "
            "resolved with resolve())",
            **_where(model),
        )
    return np.asarray(value.read() if isinstance(value, H5Array) else value)


def _objects(cells: list[Any]) -> np.ndarray:
    """Cells (arrays, lists, DataFrames, rows) as one object array, one cell per row:
    numpy would otherwise stack equal-length arrays into more dimensions."""
    out = np.empty(len(cells), dtype=object)
    for i, cell in enumerate(cells):
        out[i] = cell
    return out


class _Framer:
    """One conversion: options, and each region target's frame made once."""

    def __init__(self, pd: Any, regions: Regions, ignore_category_ids: bool) -> None:
        self.pd = pd
        self.regions = regions
        self.ignore_category_ids = ignore_category_ids
        self.made: dict[int, pandas.DataFrame] = {}
        self.making: set[int] = set()

    def frame(self, table: Any) -> pandas.DataFrame:
        key = id(table)
        if key not in self.made:
            self.making.add(key)
            try:
                aligned = is_type(table, "AlignedDynamicTable")
                self.made[key] = self.aligned(table) if aligned else self.plain(table)
            finally:
                self.making.discard(key)
        return self.made[key]

    def plain(self, table: Any) -> pandas.DataFrame:
        ids = _read(table.id)
        data: dict[str, Any] = {}
        for name in table.columns:
            column = self.column(table, name)
            if len(column) != len(ids):
                raise H5ModelError(
                    f"column {name!r} has {len(column)} rows, the table's id has {len(ids)}",
                    **_where(table),
                )
            data[name] = column
        index = self.pd.Index(ids, name="id")
        return self.pd.DataFrame(data, index=index, columns=list(data))

    def aligned(self, table: Any) -> pandas.DataFrame:
        pd = self.pd
        main = self.plain(table)
        parts = [main.reset_index()]
        names = [_name(table)]
        for category in _categories(table):
            sub = table.children.get(category)
            if not is_type(sub, "DynamicTable"):
                raise H5ModelError(
                    f"category {category!r} is not a DynamicTable in this table", **_where(table)
                )
            part = self.frame(sub)
            if len(part) != len(main):
                raise H5ModelError(
                    f"category {category!r} has {len(part)} rows, the table has {len(main)}",
                    **_where(table),
                )
            parts.append(part.reset_index(drop=self.ignore_category_ids))
            names.append(category)
        for part in parts:
            part.index = pd.RangeIndex(len(main))  # rows are aligned by position
        out = pd.concat(parts, axis=1, keys=names)
        return out.set_index((names[0], "id"))

    def column(self, table: Any, name: str) -> Any:
        """Every row's cell of one column, each level of the column read once."""
        model = table.column(name)
        levels: list[np.ndarray] = []
        while is_type(model, "VectorIndex"):
            levels.append(self.offsets(model))
            model = model.target
        if is_type(model, "DynamicTableRegion"):
            rows = _read(model).astype(np.int64, copy=False)
            target = model.table
            if self.regions == "index" or id(target) in self.making:
                if not levels:
                    return rows if rows.ndim == 1 else _objects(list(rows))
                leaf: Any = rows
            else:
                frame = self.frame(target)
                if rows.size and (rows.min() < 0 or rows.max() >= len(frame)):
                    bad = rows[(rows < 0) | (rows >= len(frame))][0]
                    raise H5ModelError(
                        f"row number {int(bad)} is outside {target.hdf5_path}, which has "
                        f"{len(frame)} rows",
                        rule="table.region-out-of-range",
                        **_where(model),
                    )
                if not levels:
                    return _objects([frame.iloc[[int(r)]] for r in rows])
                leaf = _Rows(frame, rows)
        else:
            values = _read(model)
            if references_rows(model.value):
                leaf = compound_rows(model, values)
                if not levels:
                    return _objects(leaf)
            else:
                leaf = values
                if not levels:
                    return values if values.ndim == 1 else _objects(list(values))
        # innermost index first: each level groups the cells of the one below it
        cells: Any = leaf
        for depth, ends in enumerate(reversed(levels)):
            if len(ends) and ends[-1] > len(cells):
                raise H5ModelError(
                    f"index points past the end of its data ({int(ends[-1])} > {len(cells)})",
                    rule="table.index-out-of-range",
                    **_where(_index_at(table.column(name), len(levels) - 1 - depth)),
                )
            starts = np.concatenate(([0], ends[:-1])) if len(ends) else ends
            inner = cells
            cells = [inner[int(s) : int(e)] for s, e in zip(starts, ends, strict=True)]
        return _objects(cells)

    def offsets(self, index: Any) -> np.ndarray:
        ends = _read(index).astype(np.int64, copy=False)
        if ends.size and (ends.min() < 0 or (np.diff(ends) < 0).any()):
            raise H5ModelError(
                "index entries must be non-negative and non-decreasing",
                rule="table.index-decreasing",
                **_where(index),
            )
        return ends


class _Rows:
    """Row numbers into a frame, sliced into the frames of those rows."""

    def __init__(self, frame: pandas.DataFrame, rows: np.ndarray) -> None:
        self.frame = frame
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: slice) -> pandas.DataFrame:
        return self.frame.iloc[self.rows[key]]


def _index_at(outer: Any, depth: int) -> Any:
    """The index ``depth`` levels in from the outermost one."""
    for _ in range(depth):
        outer = outer.target
    return outer


def _categories(table: Any) -> list[str]:
    raw = getattr(table, "categories", None)
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    return [str(n) for n in np.atleast_1d(raw)]
