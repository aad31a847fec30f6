"""Checked changes, written into the open file at each model's ``hdf5_path``.

Removals first, then assigned fields (attributes rewritten, datasets replaced in place
or recreated, named parts placed), attached children, assigned slices, and table rows.
What refers to a recreated dataset is found in the file's graph and re-pointed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h5py
import numpy as np

from h5model.hdf5.graph import FileIndex
from h5model.hdf5.kinds import EdgeLabel, NodeKind
from h5model.hdf5.paths import join as join_path
from h5model.models.arrays import H5Array
from h5model.models.nodes import Node
from h5model.persist.changes import Changes
from h5model.persist.recreate import Referrer, recreate_dataset
from h5model.persist.rows import append_rows
from h5model.persist.writer import Writer, text_array
from h5model.rules.dtypes import is_text


def apply(changes: Changes, h5: h5py.File, writer: Writer,
          referrers: Callable[[str], list[Referrer]]) -> set[str]:
    """Write every change; return the paths of datasets whose shape or content changed.

    ``referrers(path)`` lists what refers to a dataset, so that a dataset recreated with
    a new shape keeps every reference to it."""
    touched: set[str] = set()
    for parent, name in changes.removed:
        if parent in h5 and name in h5[parent]:
            del h5[parent][name]
    for model, names in changes.fields.values():
        path = model.hdf5_path
        assert path is not None
        if path not in h5:
            continue  # removed in this save
        obj = h5[path]
        for name in sorted(names):
            spec = type(model).h5_fields.get(name)
            if spec is None:
                continue
            value = getattr(model, name)
            if spec.role == "attribute" and spec.name is not None:
                if spec.name in obj.attrs:
                    del obj.attrs[spec.name]
                if value is not None:
                    writer.write_attribute(obj, spec.name, value, spec)
            elif spec.role == "value":
                touched.add(_replace(h5, writer, path, value, spec.dtype, referrers))
            elif spec.role in ("dataset", "group", "link") and spec.name is not None:
                target = join_path(path, spec.name)
                if spec.unwrap and not isinstance(value, Node):
                    if value is None:
                        if spec.name in obj:
                            del obj[spec.name]
                    else:
                        touched.add(_replace(h5, writer, target, value, spec.dtype, referrers))
                    continue
                if spec.name in obj and (
                    value is None or h5.get(target, getlink=True) is not None
                ) and not (isinstance(value, Node) and value.hdf5_path == target):
                    del obj[spec.name]
                if value is not None and not (
                    isinstance(value, Node) and value.hdf5_path == target
                ):
                    writer.place(obj, spec.name, value, spec)
    for group, name, child in changes.added:
        parent_path = writer.path_of(group)
        assert parent_path is not None
        writer.place(h5[parent_path], name, child, None)
    for array, key, value in changes.slices:
        dataset = h5[array.hdf5_path]
        dataset[key] = text_array(value) if is_text(dataset.dtype) else value
        touched.add(array.hdf5_path)
    tables: dict[int, tuple[Node, list[dict[str, Any]]]] = {}
    for table, row in changes.rows:
        tables.setdefault(id(table), (table, []))[1].append(row)
    for table, rows in tables.values():
        touched |= append_rows(h5, writer, table, rows, referrers)
    return touched


def _replace(h5: h5py.File, writer: Writer, path: str, value: Any,
             dtype: str | None, referrers: Callable[[str], list[Referrer]]) -> str:
    """New content for the dataset at ``path``: in place when it fits, else recreated
    with the same attributes and layout, and every reference to it re-pointed."""
    if isinstance(value, H5Array) and value.hdf5_path == path and _home_array(value, writer):
        return path
    existing = h5.get(path)
    array = None if isinstance(value, H5Array) else np.asarray(value)
    if (
        isinstance(existing, h5py.Dataset) and array is not None
        and array.shape == existing.shape and array.dtype.kind == existing.dtype.kind
        and array.dtype.kind not in "OSU" and not existing.dtype.names
    ):
        existing[...] = array
        return path
    recreate_dataset(h5, writer, path, value, dtype, referrers(path))
    return path


def _home_array(array: H5Array, writer: Writer) -> bool:
    """True when ``array`` was read from the file being written (not from another file)."""
    owner = array.source.owner
    return owner is not None and owner is writer.home


def referrers(index: FileIndex | None, path: str) -> list[Referrer]:
    """(source, attribute or dataset field, kind) of every reference to ``path``."""
    if index is None or path not in index.graph:
        return []
    out: list[Referrer] = []
    for source, _, edge in index.graph.in_edges(path, data=True):
        if edge["label"] is not EdgeLabel.REFERENCE:
            continue
        name = str(edge["name"])
        if name in index.attrs.get(source, {}):
            out.append((source, name, "attribute"))
        elif index.graph.nodes[source]["kind"] is NodeKind.DATASET:
            out.append((source, name, "dataset"))
    return out
