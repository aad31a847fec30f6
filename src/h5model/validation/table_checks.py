"""Table invariants, checked by reading only the stored index and region data, in bounded
blocks.

Every column as long as ``id`` (a ragged column counted by its outermost
index); every index non-decreasing, non-negative and within its data; every
``DynamicTableRegion`` row number inside its table; every TimeSeriesReference
row inside its series. Every bad row is reported, up to ``ROWS_PER_RULE`` per rule
and dataset, then one issue counting the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import h5py
import numpy as np

from h5model.hdf5 import stored
from h5model.hdf5.graph import FileIndex, dereference_path
from h5model.hdf5.kinds import NodeKind
from h5model.hdf5.limits import LimitError
from h5model.rules.dtypes import is_reference
from h5model.rules.ragged import ragged_chain
from h5model.rules.ruleset import RuleSet
from h5model.validation.report import Emit, Severity

ROWS_PER_RULE = 20
"""Bad rows reported one by one per rule and dataset; the rest are counted in one issue."""


class _Capped:
    """The bad rows of one dataset under one rule: the first ``ROWS_PER_RULE`` reported
    each, then one issue with how many more there are."""

    def __init__(self, emit: Emit, path: str, rule: str) -> None:
        self.emit = emit
        self.path = path
        self.rule = rule
        self.issues = 0
        self.rows = 0
        self.reported = 0

    def add(self, message: str, rows: int = 1) -> None:
        """A bad row (or a run of ``rows`` equal rows never written, told as one)."""
        self.rows += rows
        if self.issues < ROWS_PER_RULE:
            self.emit(self.path, self.rule, message, Severity.ERROR)
            self.issues += 1
            self.reported += rows

    def room(self, where: np.ndarray, weights: np.ndarray) -> list[int]:
        """Of the bad rows at positions ``where`` of a block (each standing for
        ``weights`` rows), those still to be reported one by one (``add`` each); the
        rest are counted here, at once."""
        room = max(ROWS_PER_RULE - self.issues, 0)
        self.rows += int(weights[where[room:]].sum())
        return [int(at) for at in where[:room]]

    def close(self) -> None:
        more = self.rows - self.reported
        if more > 0:
            self.emit(
                self.path,
                self.rule,
                f"... and {more} more rows with this problem ({self.rows} in all)",
                Severity.ERROR,
            )


def _blocks(dataset: h5py.Dataset) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, values) of a one-dimensional dataset, in row order: what it stores, in
    bounded blocks, and one row of fill value for each run of rows never written."""
    length = dataset.shape[0] if dataset.shape else 0
    if 0 < length <= stored.BLOCK_ELEMENTS and dataset.dtype.kind in "iuf":
        # most index and region datasets are small: one low-level read, no slicing machinery
        out = np.empty(dataset.shape, dtype=dataset.dtype)
        dataset.id.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
        yield 0, out
        return
    yield from stored.rows(dataset)


def _runs(dataset: h5py.Dataset) -> Iterator[tuple[int, np.ndarray, int]]:
    """(first row, values, rows covered) of a dataset, as ``_blocks``: a run of rows never
    written comes as one value covering the whole run (one-dimensional datasets)."""
    length = dataset.shape[0] if dataset.shape else 0
    pending: tuple[int, np.ndarray] | None = None
    for position, values in _blocks(dataset):
        if pending is not None:
            yield pending[0], pending[1], position - pending[0]
        pending = (position, values)
    if pending is not None:
        end = length if dataset.ndim == 1 else pending[0] + len(pending[1])
        yield pending[0], pending[1], max(end - pending[0], len(pending[1]))


def _covered(values: np.ndarray, span: int) -> np.ndarray:
    """How many rows each value stands for: one each, or the whole span for a lone value
    standing for a run of rows never written."""
    weights = np.ones(len(values), dtype=np.int64)
    if len(values) == 1 and span > 1:
        weights[0] = span
    return weights


def _integers(dataset: h5py.Dataset) -> bool:
    return dataset.dtype.kind in "iu"


def _length(index: FileIndex, path: str) -> int | None:
    data = index.graph.nodes.get(path, {})
    shape = data.get("shape")
    if not shape:
        return None
    return int(shape[0])


class TableChecker:
    def __init__(
        self,
        file: h5py.File | None,
        index: FileIndex,
        rules: RuleSet,
        emit: Emit,
        skip: Callable[[str], bool],
    ) -> None:
        self.file = file
        """None: checked from a metadata index, and no rule that reads data runs."""
        self.index = index
        self.rules = rules
        self.emit = emit
        self.skip = skip

    def is_a(self, path: str, wanted: str) -> bool:
        data = self.index.graph.nodes.get(path, {})
        if data.get("namespace") not in self.rules.specs.namespaces:
            return False  # a table type from specs the file lacks is not checked
        return self.rules.has_type(data.get("namespace"), data.get("type"), wanted)

    def run(self) -> None:
        for path, data in self.index.graph.nodes(data=True):
            if "type" not in data or self.skip(path):
                continue
            try:
                self.check(path, data["kind"])
            except LimitError as exc:
                self.emit(path, exc.rule or "file.limit-exceeded", exc.message, Severity.ERROR)
            except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
                self.emit(path, "check.failed", f"{type(exc).__name__}: {exc}", Severity.ERROR)

    def check(self, path: str, kind: NodeKind) -> None:
        if kind is NodeKind.GROUP and self.is_a(path, "DynamicTable"):
            self.check_table(path)
        elif kind is NodeKind.DATASET:
            if self.is_a(path, "DynamicTableRegion"):
                self.check_region(path)
            if self.is_a(path, "TimeSeriesReferenceVectorData"):
                self.check_timeseries_references(path)

    # -- tables ------------------------------------------------------------------------------
    def check_table(self, path: str) -> None:
        children = {c.name: c for c in self.index.children.get(path, ())}
        attrs = self.index.attrs.get(path, {})
        raw = attrs.get("colnames")
        colnames = (
            []
            if raw is None
            else [str(n) for n in np.atleast_1d(raw)]
            if not isinstance(raw, str)
            else [raw]
        )
        rows = _length(self.index, children["id"].target) if "id" in children else None
        for name in colnames:
            if name not in children:
                self.emit(
                    path,
                    "table.colnames",
                    f"column {name!r} is listed in colnames but absent",
                    Severity.ERROR,
                )
                continue
            chain = [children[key].target for key in ragged_chain(children, name)]
            for inner, outer in pairwise(chain):
                self.check_index(outer, inner)
            length = _length(self.index, chain[-1])
            if rows is not None and length is not None and length != rows:
                what = "ragged column" if len(chain) > 1 else "column"
                self.emit(
                    chain[-1],
                    "table.column-length",
                    f"{what} {name!r} has {length} rows, the table's id has {rows}",
                    Severity.ERROR,
                )

    def check_index(self, index_path: str, data_path: str) -> None:
        if self.file is None:  # checked from a metadata index: no data is read
            return
        dataset = self.file[index_path]
        if not isinstance(dataset, h5py.Dataset) or dataset.ndim != 1 or not _integers(dataset):
            return  # a wrong shape or dtype is reported by the structure checks
        target_length = _length(self.index, data_path) or 0
        outside = _Capped(self.emit, index_path, "table.index-out-of-range")
        decreasing = _Capped(self.emit, index_path, "table.index-decreasing")
        previous = 0
        for position, block, span in _runs(dataset):
            if block.size == 0:
                continue
            values = block.astype(np.int64, copy=False)
            weights = _covered(values, span)
            steps = np.diff(np.concatenate(([previous], values)))
            negative = values < 0
            past = ~negative & (values > target_length)
            down = ~negative & ~past & (steps < 0)
            for at in outside.room(np.flatnonzero(negative | past), weights):
                row, value, rows = position + at, int(values[at]), int(weights[at])
                if negative[at]:
                    message = f"index entry {row} is negative ({value})"
                else:
                    message = (
                        f"index entry {row} ({value}) points past the end of {data_path} "
                        f"({target_length} elements)"
                    )
                outside.add(message + _run_note(rows), rows)
            for at in decreasing.room(np.flatnonzero(down), weights):
                message = f"index entry {position + at} is smaller than the one before it"
                decreasing.add(message, int(weights[at]))
            previous = int(values[-1])
        outside.close()
        decreasing.close()

    # -- regions -------------------------------------------------------------------------------
    def _table_rows(self, region_path: str) -> tuple[str, int] | None:
        ref = self.index.attrs.get(region_path, {}).get("table")
        if not isinstance(ref, h5py.Reference):
            return None
        table = dereference_path(self.file, self.index, ref)
        if table is None or not self.is_a(table, "DynamicTable"):
            return None  # dangling, or not a table: reported by the structure checks
        ids = next((c.target for c in self.index.children.get(table, ()) if c.name == "id"), None)
        rows = _length(self.index, ids) if ids is not None else None
        return (table, rows) if rows is not None else (table, 0)

    def check_region(self, path: str) -> None:
        if self.file is None:  # checked from a metadata index: no data is read
            return
        found = self._table_rows(path)
        if found is None:
            return  # a missing/dangling table attribute is reported by the structure checks
        table, rows = found
        dataset = self.file[path]
        if not _integers(dataset):
            return  # a wrong dtype is reported by the structure checks
        outside = _Capped(self.emit, path, "table.region-out-of-range")
        for position, block, span in _runs(dataset):
            if block.size == 0:
                continue
            values = block.astype(np.int64, copy=False).ravel()
            weights = _covered(values, span if dataset.ndim == 1 else 1)
            for at in outside.room(np.flatnonzero((values < 0) | (values >= rows)), weights):
                covered = int(weights[at])
                outside.add(
                    f"row number {int(values[at])} (entry {position + at}) is outside "
                    f"{table}, which has {rows} rows{_run_note(covered)}",
                    covered,
                )
        outside.close()

    # -- TimeSeriesReference ------------------------------------------------------------------
    def check_timeseries_references(self, path: str) -> None:
        if self.file is None:  # checked from a metadata index: no data is read
            return
        dataset = self.file[path]
        names = dataset.dtype.names or ()
        if not {"idx_start", "count", "timeseries"} <= set(names) or not dataset.shape:
            return  # a wrong dtype or shape is reported by the structure checks
        if not all(dataset.dtype[n].kind in "iu" for n in ("idx_start", "count")):
            return
        if not is_reference(dataset.dtype["timeseries"]):
            return
        lengths: dict[Any, int | None] = {}
        outside = _Capped(self.emit, path, "table.timeseries-reference-out-of-range")
        for position, block in _blocks(dataset):
            for offset, row in enumerate(block):
                start, count, ref = int(row["idx_start"]), int(row["count"]), row["timeseries"]
                if start < 0 and count < 0:
                    continue  # the spec's way of saying "no series"
                at = position + offset
                series = dereference_path(self.file, self.index, ref) if ref else None
                if series is None:
                    continue  # dangling: reported by the structure checks
                if series not in lengths:
                    lengths[series] = self._series_length(series)
                length = lengths[series]
                if start < 0 or count < 0 or (length is not None and start + count > length):
                    outside.add(
                        f"row {at} covers samples {start} to {start + count} of {series}, "
                        f"which has {length} samples"
                    )
        outside.close()

    def _series_length(self, series: str) -> int | None:
        for child in self.index.children.get(series, ()):
            if child.name in ("timestamps", "data") and not child.broken:
                length = _length(self.index, child.target)
                if child.name == "timestamps" and length is not None:
                    return length
        for child in self.index.children.get(series, ()):
            if child.name == "data":
                return _length(self.index, child.target)
        return None


def _run_note(rows: int) -> str:
    if rows <= 1:
        return ""
    return f", as do the {rows - 1} entries after it (never written: the fill value)"
