"""Table rows added since the last save, appended column by column.

A row gives a value for every column of a table; a ragged column (``x`` with
``x_index``, perhaps ``x_index_index``) takes a list per row, spread over the
chain of datasets as values and end offsets. Each dataset is extended once per
save: in place when it can grow, else recreated (an index whose integer type is
outgrown is widened).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import h5py
import numpy as np

from h5model.errors import plain
from h5model.models.nodes import Node
from h5model.persist.recreate import Referrer, recreate_dataset
from h5model.persist.writer import Writer, text_array
from h5model.rules.dtypes import is_reference
from h5model.rules.ragged import ragged_chain
from h5model.rules.values import as_text


def spread_cell(value: Any, depth: int, levels: list[list[Any]], base: Sequence[int]) -> None:
    """Put one cell into ``levels``: level 0 gets the values, level k > 0 the end offsets
    into level k - 1 (``base[k - 1]``: that dataset's length before this save)."""
    if depth == 0:
        levels[0].append(value)
        return
    for item in _items(value):
        spread_cell(item, depth - 1, levels, base)
    levels[depth].append(base[depth - 1] + len(levels[depth - 1]))


def _items(value: Any) -> list[Any]:
    if isinstance(value, str | bytes | Node | dict) or np.ndim(value) == 0:
        raise TypeError(f"a ragged column takes a list for each row, not {plain(value)!r}")
    return list(value)


def append_rows(h5: h5py.File, writer: Writer, table: Node, rows: list[dict[str, Any]],
                referrers: Callable[[str], list[Referrer]]) -> set[str]:
    """Append rows to a table: every column (ragged ones through their indexes) and ``id``,
    each dataset extended once."""
    assert table.hdf5_path is not None
    group = h5[table.hdf5_path]
    touched: set[str] = set()
    for name in rows[0]:
        chain = ragged_chain(group, name)
        base = [len(group[n]) for n in chain]
        levels: list[list[Any]] = [[] for _ in chain]
        for row in rows:
            spread_cell(row[name], len(chain) - 1, levels, base)
        for dataset_name, values in zip(chain, levels, strict=True):
            if values:
                touched.add(_extend(h5, writer, group[dataset_name], values, referrers))
    return touched


def _extend(h5: h5py.File, writer: Writer, dataset: h5py.Dataset, values: list[Any],
            referrers: Callable[[str], list[Referrer]]) -> str:
    path = str(dataset.name)
    new, dtype = _column_values(h5, writer, dataset, values)
    if dtype == dataset.dtype and dataset.maxshape and dataset.maxshape[0] is None:
        start = dataset.shape[0]
        dataset.resize(start + len(new), axis=0)
        dataset[start:] = new
        return path
    text = h5py.check_string_dtype(dataset.dtype) is not None
    old = dataset.asstr()[()] if text else dataset[()]
    combined = np.concatenate([np.asarray(old, dtype=new.dtype), new]) if len(old) else new
    recreate_dataset(h5, writer, path, combined, None, referrers(path), exact=dtype)
    return path


def _column_values(h5: h5py.File, writer: Writer, dataset: h5py.Dataset,
                   values: list[Any]) -> tuple[np.ndarray, np.dtype]:
    """New entries of a column as an array, and the dtype the column needs to hold them
    (the column's own, or a wider integer type when an index outgrows it)."""
    dtype = dataset.dtype

    def ref(model: Any) -> Any:
        if model is None:
            return h5py.Reference()
        return h5[writer.path_of(model) or ""].ref

    if is_reference(dtype):
        refs = np.empty(len(values), dtype=h5py.ref_dtype)
        for i, value in enumerate(values):
            refs[i] = ref(value)
        return refs, dtype
    if dtype.names:
        out = np.empty(len(values), dtype=dtype)
        for i, value in enumerate(values):
            items = [value[n] for n in dtype.names] if isinstance(value, dict) else list(value)
            out[i] = tuple(
                ref(item) if is_reference(dtype[n]) else item
                for n, item in zip(dtype.names, items, strict=True)
            )
        return out, dtype
    if h5py.check_string_dtype(dtype) is not None and dtype.kind == "O":
        return text_array(np.asarray(values, dtype=object)), dtype
    if dtype.kind == "S":
        encoded = np.asarray([as_text(v).encode("utf-8") for v in values])
        width = max(dtype.itemsize, encoded.dtype.itemsize)
        return encoded.astype(f"S{width}"), np.dtype(f"S{width}")
    array = np.asarray(values)
    if dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        wider = _fitting(dtype, low, high)
        return array.astype(wider), wider
    return array.astype(dtype), dtype


def _fitting(dtype: np.dtype, low: int, high: int) -> np.dtype:
    """``dtype``, or the smallest integer type of its kind that holds [low, high]."""
    info = np.iinfo(dtype)
    if info.min <= low and high <= info.max:
        return dtype
    names = ("uint8", "uint16", "uint32", "uint64") if low >= 0 and dtype.kind == "u" else (
        "int16", "int32", "int64"
    )
    for name in names:
        wide = np.dtype(name)
        limits = np.iinfo(name)
        if wide.itemsize >= dtype.itemsize and limits.min <= low <= high <= limits.max:
            return wide
    return np.dtype("int64")
