"""What changed since the last save, checked first and then applied to the file.

Edits are recorded as they happen (a field assigned, a child added or removed,
a slice assigned, a table row added) and applied in one save at each model's
``hdf5_path``. Nothing is written before every edit has been checked: models
re-validated, every referenced object found in the file or among what is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
import pydantic

from h5model.errors import ModelError
from h5model.lazy import H5Array
from h5model.nodes import Dataset, Group, Node
from h5model.write import Writer, _holds_models, _join


@dataclass
class Edits:
    """The change log of one writable file."""

    fields: dict[int, tuple[Node, set[str]]] = field(default_factory=dict)
    added: list[tuple[Group, str, Any]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    slices: list[tuple[H5Array, Any, np.ndarray]] = field(default_factory=list)
    rows: list[tuple[Node, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.added or self.removed or self.slices or self.rows)

    def clear(self) -> None:
        self.fields.clear()
        self.added.clear()
        self.removed.clear()
        self.slices.clear()
        self.rows.clear()

    # -- recording -------------------------------------------------------------------------
    def field_changed(self, model: Node, name: str) -> None:
        if model.hdf5_path is None:
            return  # a new model is written whole when it is attached
        entry = self.fields.setdefault(id(model), (model, set()))
        entry[1].add(name)

    def child_added(self, group: Group, name: str, child: Any) -> None:
        self.added.append((group, name, child))

    def child_removed(self, group: Group, name: str) -> None:
        if group.hdf5_path is None:
            return
        self.added = [(g, n, c) for g, n, c in self.added if not (g is group and n == name)]
        self.removed.append((group.hdf5_path, name))

    # -- checking ----------------------------------------------------------------------------
    def check(self, in_file: Any, label: str) -> None:
        """``in_file(model)`` says whether an existing model belongs to this file."""
        """Raise ModelError before anything is written if an edit is invalid."""
        for model in self._changed_models():
            _revalidate(model, label)
        known = {id(m) for m in self._new_models()}
        for model in [*self._changed_models(), *self._new_models()]:
            for target in _referenced(model):
                if id(target) in known:
                    continue
                if target.hdf5_path is None or not in_file(target):
                    raise ModelError(
                        f"refers to {target!r}, which is neither in this file nor being added",
                        file=label, hdf5_path=model.hdf5_path or "(new object)",
                    )
        for array, key, value in self.slices:
            try:
                np.empty(array.shape, dtype=np.int8)[key] = 0
            except (IndexError, ValueError, TypeError) as exc:
                raise ModelError(f"slice {key!r} does not fit shape {array.shape} ({exc})",
                                 file=label, hdf5_path=array.hdf5_path) from None
            if value.dtype.kind != array.dtype.kind and not (
                value.dtype.kind in "iuf" and array.dtype.kind in "iuf"
            ):
                raise ModelError(
                    f"cannot write {value.dtype} values into a {array.dtype} dataset",
                    file=label, hdf5_path=array.hdf5_path,
                )

    def _changed_models(self) -> Iterator[Node]:
        for model, _ in self.fields.values():
            yield model
        for group, _, _ in self.added:
            yield group

    def _new_models(self) -> Iterator[Node]:
        seen: set[int] = set()
        stack = [c for _, _, c in self.added if isinstance(c, Node) and c.hdf5_path is None]
        while stack:
            model = stack.pop()
            if id(model) in seen:
                continue
            seen.add(id(model))
            yield model
            for value in _contained(model):
                if value.hdf5_path is None:
                    stack.append(value)

    # -- applying ----------------------------------------------------------------------------
    def apply(
        self, h5: h5py.File, writer: Writer, referrers: Any
    ) -> set[str]:
        """Write every edit; return the paths of datasets whose shape or content changed.

        ``referrers(path)`` lists the (object path, attribute) references to a dataset, so
        that a dataset recreated with a new shape keeps every reference to it."""
        touched: set[str] = set()
        for parent, name in self.removed:
            if parent in h5 and name in h5[parent]:
                del h5[parent][name]
        for model, names in self.fields.values():
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
                    touched.add(self._replace(h5, writer, path, value, spec.dtype, referrers))
                elif spec.role in ("dataset", "group", "link") and spec.name is not None:
                    target = _join(path, spec.name)
                    if spec.unwrap and not isinstance(value, Node):
                        if value is None:
                            if spec.name in obj:
                                del obj[spec.name]
                        else:
                            touched.add(
                                self._replace(h5, writer, target, value, spec.dtype, referrers)
                            )
                        continue
                    if spec.name in obj and (
                        value is None or h5.get(target, getlink=True) is not None
                    ) and not (isinstance(value, Node) and value.hdf5_path == target):
                        del obj[spec.name]
                    if value is not None and not (
                        isinstance(value, Node) and value.hdf5_path == target
                    ):
                        writer.place(obj, spec.name, value, spec)
        for group, name, child in self.added:
            assert group.hdf5_path is not None or writer.path_of(group) is not None
            parent_path = writer.path_of(group)
            assert parent_path is not None
            writer.place(h5[parent_path], name, child, None)
        for array, key, value in self.slices:
            h5[array.hdf5_path][key] = value
            touched.add(array.hdf5_path)
        for table, row in self.rows:
            touched |= _append_row(h5, writer, table, row, referrers)
        return touched

    def _replace(self, h5: h5py.File, writer: Writer, path: str, value: Any,
                 dtype: str | None, referrers: Any) -> str:
        """New content for the dataset at ``path``: in place when it fits, else recreated
        with the same attributes, and every reference to it re-pointed."""
        if isinstance(value, H5Array) and value.hdf5_path == path:
            return path
        existing = h5.get(path)
        array = None if isinstance(value, H5Array) else np.asarray(value)
        if (
            isinstance(existing, h5py.Dataset) and array is not None
            and array.shape == existing.shape and array.dtype.kind == existing.dtype.kind
            and array.dtype.kind not in "OSU"
        ):
            existing[...] = array
            return path
        recreate_dataset(h5, writer, path, value, dtype, referrers(path))
        return path


def recreate_dataset(h5: h5py.File, writer: Writer, path: str, value: Any,
                     dtype: str | None, referrers: list[tuple[str, str]]) -> None:
    """Replace the dataset at ``path`` by ``value`` keeping its attributes, and re-point the
    attribute references (``referrers``: object path, attribute name) to the new one."""
    parent_path, _, name = path.rpartition("/")
    parent = h5[parent_path or "/"]
    old = parent.get(name)
    saved: dict[str, Any] = {}
    if isinstance(old, h5py.Dataset):
        saved = {k: old.attrs[k] for k in old.attrs}
        del parent[name]
    writer.write_dataset_value(parent, name, value, dtype)
    new = parent[name]
    for key, item in saved.items():
        if isinstance(item, h5py.Reference):
            new.attrs.create(key, item, dtype=h5py.ref_dtype)
        else:
            new.attrs[key] = item
    for source, attribute in referrers:
        if source in h5 and attribute in h5[source].attrs:
            h5[source].attrs.create(attribute, new.ref, dtype=h5py.ref_dtype)


def _append_row(h5: h5py.File, writer: Writer, table: Node, row: dict[str, Any],
                referrers: Any) -> set[str]:
    """Append one row: every column (ragged ones through their indexes) and ``id``."""
    assert table.hdf5_path is not None
    group = h5[table.hdf5_path]
    touched: set[str] = set()

    def extend(name: str, values: list[Any]) -> None:
        touched.add(_extend(h5, writer, group, name, values, referrers))

    def append(chain: list[str], value: Any) -> None:
        # chain[-1] gets one entry for this row; inner levels get what it spans
        if len(chain) == 1:
            extend(chain[0], [value])
            return
        if len(chain) == 2:
            extend(chain[0], list(value))
        else:
            for item in value:
                append(chain[:-1], item)
        extend(chain[-1], [len(group[chain[-2]])])

    for name, value in row.items():
        chain = [name]
        while f"{chain[-1]}_index" in group:
            chain.append(f"{chain[-1]}_index")
        append(chain, value)
    return touched


def _extend(h5: h5py.File, writer: Writer, group: h5py.Group, name: str, values: list[Any],
            referrers: Any) -> str:
    dataset = group[name]
    path = dataset.name
    text = h5py.check_string_dtype(dataset.dtype) is not None
    if _holds_models(values):
        new = np.empty(len(values), dtype=h5py.ref_dtype)
        for i, value in enumerate(values):
            new[i] = h5[writer.path_of(value) or ""].ref
    elif text:
        new = np.asarray([str(v) for v in values], dtype=object)
    else:
        new = np.asarray(values, dtype=dataset.dtype)
    if dataset.maxshape and dataset.maxshape[0] is None:
        start = dataset.shape[0]
        dataset.resize(start + len(new), axis=0)
        dataset[start:] = new
        return str(path)
    old = dataset.asstr()[()] if text else dataset[()]
    combined = np.concatenate([np.asarray(old, dtype=new.dtype), new]) if len(old) else new
    if text:
        combined = combined.astype(h5py.string_dtype())
    recreate_dataset(h5, writer, path, combined, None, referrers(path))
    return str(path)


def _revalidate(model: Node, label: str) -> None:
    cls = type(model)
    data = {name: getattr(model, name) for name in cls.model_fields}
    try:
        cls.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelError(f"invalid edit: {where}: {first['msg']}", file=label,
                         hdf5_path=model.hdf5_path) from None


def _contained(model: Node) -> Iterator[Node]:
    for name, spec in type(model).h5_fields.items():
        value = getattr(model, name, None)
        if spec.role == "children" and isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, Node))
        elif isinstance(value, Node) and spec.role != "attribute":
            yield value
    if isinstance(model, Group):
        yield from (v for v in model.children.values() if isinstance(v, Node))


def _referenced(model: Node) -> Iterator[Node]:
    for name, spec in type(model).h5_fields.items():
        value = getattr(model, name, None)
        if spec.role in ("attribute", "link") and isinstance(value, Node):
            yield value
    if isinstance(model, Dataset) and isinstance(model.value, np.ndarray) and (
        model.value.dtype == object
    ):
        yield from (v for v in model.value.flat if isinstance(v, Node))
