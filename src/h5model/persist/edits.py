"""What changed since the last save, checked first and then applied to the file.

Edits are recorded as they happen (a field assigned, a child added or removed,
a slice assigned, a table row added) and applied in one save at each model's
``hdf5_path``. Nothing is written before every edit has been checked: models
re-validated, every new child placed where its parent's spec has room for it,
every referenced object found in the file or among what is added (and of the
type the spec names), nothing removed that something kept still refers to,
slices and table rows fitting the datasets they go into.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import h5py
import numpy as np
import pydantic

from h5model.errors import ModelError
from h5model.models.arrays import H5Array
from h5model.models.nodes import Dataset, Group, Node
from h5model.models.tables import DynamicTableRegionMixin
from h5model.persist.writer import (
    Writer,
    _holds_models,
    _join,
    _layout,
    _object_array,
    _plain_value,
    _text_array,
)
from h5model.rules.dtypes import is_reference, is_text
from h5model.rules.values import as_text
from h5model.spec import language
from h5model.spec.loader import SpecSet
from h5model.spec.resolve import Resolver

Referrer = tuple[str, str, str]
"""(object path, attribute name or dataset field ("" for a dataset of references), kind)
with kind ``attribute`` or ``dataset``."""


class Host(Protocol):
    """What checking needs from the file being saved."""

    label: str
    specs: SpecSet | None

    def owns(self, model: Node) -> bool:
        """True when ``model`` was read from (or saved into) this file."""
        ...

    def dependents(self, path: str) -> list[tuple[str, str, str]]:
        """(source path, name, label) of every reference or link into ``path`` or below."""
        ...


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
        if group.hdf5_path is None:
            return  # a new group is written whole, with its children, when it is attached
        self.added.append((group, name, child))

    def child_removed(self, group: Group, name: str) -> None:
        if group.hdf5_path is None:
            return
        pending = [(g, n, c) for g, n, c in self.added if g is group and n == name]
        self.added = [(g, n, c) for g, n, c in self.added if not (g is group and n == name)]
        if not pending:
            self.removed.append((group.hdf5_path, name))

    def removed_paths(self) -> list[str]:
        return [_join(parent, name) for parent, name in self.removed]

    # -- checking ----------------------------------------------------------------------------
    def check(self, host: Host) -> None:
        """Raise ModelError, before anything is written, if an edit is invalid."""
        label = host.label
        resolver = Resolver(host.specs) if host.specs is not None else None
        new_models = list(self._new_models())
        for model in [*self._changed_models(), *new_models]:
            _revalidate(model, label)
        for model, names in self.fields.values():
            _check_storable(model, names, label)
        for model in new_models:
            _check_storable(model, set(type(model).h5_fields), label)
        for group, name, child in self.added:
            _check_placed(group, name, child, label)
        removed = self.removed_paths()
        known = {id(m) for m in new_models}

        def findable(target: Node) -> bool:
            if id(target) in known:
                return True
            path = target.hdf5_path
            return path is not None and host.owns(target) and not _under(path, removed)

        for model in [*self._changed_models(), *new_models]:
            for target in _referenced(model):
                if not findable(target):
                    raise ModelError(
                        f"refers to {target!r}, which is neither in this file nor being added"
                        + (" (it is removed in this save)" if host.owns(target) else ""),
                        file=label, hdf5_path=model.hdf5_path or "(new object)",
                    )
            if resolver is not None:
                _check_reference_types(model, resolver, label)
        self._check_removals(host, removed)
        for array, key, value in self.slices:
            _check_slice(array, key, value, label)
        pending: dict[int, int] = {}
        for table, _ in self.rows:
            pending[id(table)] = pending.get(id(table), 0) + 1
        for table, row in self.rows:
            _check_row(table, row, host, resolver, findable, pending)

    def _check_removals(self, host: Host, removed: list[str]) -> None:
        """Nothing kept may still refer (or link) to what is removed."""
        changed: dict[str, set[str]] = {}
        for model, names in self.fields.values():
            if model.hdf5_path is not None:
                specs = type(model).h5_fields
                changed[model.hdf5_path] = {
                    specs[n].name or n for n in names if n in specs
                }
        for path in removed:
            for source, name, kind in host.dependents(path):
                if _under(source, removed) or name in changed.get(source, set()):
                    continue
                if kind == "link" and _under(_join(source, name), removed):
                    continue
                what = "links to" if kind == "link" else "refers to"
                raise ModelError(
                    f"cannot remove it: {source} ({name or 'data'}) still {what} it; remove or "
                    "re-point that first",
                    file=host.label, hdf5_path=path,
                )

    def _changed_models(self) -> Iterator[Node]:
        for model, _ in self.fields.values():
            yield model
        for group, _, _ in self.added:
            yield group

    def _new_models(self) -> Iterator[Node]:
        seen: set[int] = set()
        stack = [c for _, _, c in self.added if isinstance(c, Node) and c.hdf5_path is None]
        for model, names in self.fields.values():
            for name in names:
                value = getattr(model, name, None)
                if isinstance(value, Node) and value.hdf5_path is None:
                    stack.append(value)
                elif isinstance(value, dict):
                    stack.extend(
                        v for v in value.values() if isinstance(v, Node) and v.hdf5_path is None
                    )
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
        self, h5: h5py.File, writer: Writer, referrers: Callable[[str], list[Referrer]]
    ) -> set[str]:
        """Write every edit; return the paths of datasets whose shape or content changed.

        ``referrers(path)`` lists what refers to a dataset, so that a dataset recreated with
        a new shape keeps every reference to it."""
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
            parent_path = writer.path_of(group)
            assert parent_path is not None
            writer.place(h5[parent_path], name, child, None)
        for array, key, value in self.slices:
            dataset = h5[array.hdf5_path]
            dataset[key] = _text_array(value) if is_text(dataset.dtype) else value
            touched.add(array.hdf5_path)
        tables: dict[int, tuple[Node, list[dict[str, Any]]]] = {}
        for table, row in self.rows:
            tables.setdefault(id(table), (table, []))[1].append(row)
        for table, rows in tables.values():
            touched |= _append_rows(h5, writer, table, rows, referrers)
        return touched

    def _replace(self, h5: h5py.File, writer: Writer, path: str, value: Any,
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
    return getattr(array._opener, "__self__", None) is writer.home


# -- recreating datasets -----------------------------------------------------------------------
def recreate_dataset(h5: h5py.File, writer: Writer, path: str, value: Any,
                     dtype: str | None, referrers: list[Referrer], *,
                     exact: np.dtype | None = None) -> None:
    """Replace the dataset at ``path`` by ``value`` keeping its attributes and layout, and
    re-point every reference to it (``referrers``) to the new one. ``exact``: store the
    values with this dtype as they are (table columns)."""
    parent_path, _, name = path.rpartition("/")
    parent = h5[parent_path or "/"]
    old = parent.get(name)
    saved: dict[str, Any] = {}
    spots: list[Spot] = []
    like: Any = None
    if isinstance(old, h5py.Dataset):
        saved = {k: old.attrs[k] for k in old.attrs}
        spots = _reference_spots(h5, referrers, h5py.h5o.get_info(old.id).addr)
        like = old
        del parent[name]
    elif old is not None:
        del parent[name]
    if exact is not None:
        array = np.asarray(value)
        parent.create_dataset(name, data=array, dtype=exact, **_layout(like, array.shape))
    else:
        writer.write_dataset_value(parent, name, value, dtype, like=like)
    new = parent[name]
    for key, item in saved.items():
        _copy_attribute(new, key, item)
    for source, fieldname, kind, mask in spots:
        obj = h5[source]
        if kind == "attribute":
            current = obj.attrs[fieldname]
            if mask is None:
                obj.attrs.create(fieldname, new.ref, dtype=h5py.ref_dtype)
            else:
                current[mask] = new.ref
                obj.attrs.create(fieldname, current, dtype=h5py.ref_dtype)
            continue
        data = obj[()]
        column = data[fieldname] if fieldname else data
        column[mask] = new.ref
        if fieldname:
            data[fieldname] = column
        obj[...] = data if fieldname else column


Spot = tuple[str, str, str, "np.ndarray | None"]
"""(object path, attribute or dataset field, kind, which entries; None: the whole value)."""


def _copy_attribute(obj: Any, key: str, item: Any) -> None:
    refs = isinstance(item, h5py.Reference) or (
        isinstance(item, np.ndarray) and item.dtype == object
        and any(isinstance(v, h5py.Reference) for v in item.flat)
    )
    if refs:
        obj.attrs.create(key, item, dtype=h5py.ref_dtype)
    else:
        obj.attrs[key] = item


def _target_address(h5: h5py.File, ref: Any) -> int | None:
    if not isinstance(ref, h5py.Reference) or not ref:
        return None
    try:
        oid = h5py.h5r.dereference(ref, h5.id)
    except (ValueError, RuntimeError, OSError, KeyError):
        return None
    return None if oid is None else int(h5py.h5o.get_info(oid).addr)


def _matches(h5: h5py.File, values: np.ndarray, address: int) -> np.ndarray:
    mask = np.zeros(values.shape, dtype=bool)
    for index, item in np.ndenumerate(values):
        mask[index] = _target_address(h5, item) == address
    return mask


def _reference_spots(h5: h5py.File, referrers: list[Referrer], address: int) -> list[Spot]:
    """Where attributes and datasets of references point at the object at ``address``
    (found before it is deleted: afterwards a reference to it could not be told from one
    to whatever HDF5 puts at its address next)."""
    spots: list[Spot] = []
    for source, fieldname, kind in referrers:
        if source not in h5:
            continue
        obj = h5[source]
        if kind == "attribute":
            if fieldname not in obj.attrs:
                continue
            value = obj.attrs[fieldname]
            if isinstance(value, h5py.Reference):
                if _target_address(h5, value) == address:
                    spots.append((source, fieldname, kind, None))
            elif isinstance(value, np.ndarray) and value.dtype == object:
                mask = _matches(h5, value, address)
                if mask.any():
                    spots.append((source, fieldname, kind, mask))
            continue
        data = obj[()]
        column = np.asarray(data[fieldname] if fieldname else data, dtype=object)
        mask = _matches(h5, column, address)
        if mask.any():
            spots.append((source, fieldname, kind, mask))
    return spots


# -- table rows --------------------------------------------------------------------------------
def _chain(names: Any, name: str) -> list[str]:
    """``name`` and its indexes, innermost first (``x``, ``x_index``, ``x_index_index``)."""
    chain = [name]
    while f"{chain[-1]}_index" in names:
        chain.append(f"{chain[-1]}_index")
    return chain


def _spread(value: Any, depth: int, levels: list[list[Any]], base: Sequence[int]) -> None:
    """Put one cell into ``levels``: level 0 gets the values, level k > 0 the end offsets
    into level k - 1 (``base[k - 1]``: that dataset's length before this save)."""
    if depth == 0:
        levels[0].append(value)
        return
    for item in _items(value):
        _spread(item, depth - 1, levels, base)
    levels[depth].append(base[depth - 1] + len(levels[depth - 1]))


def _items(value: Any) -> list[Any]:
    if isinstance(value, str | bytes | Node | dict) or np.ndim(value) == 0:
        raise TypeError(f"a ragged column takes a list for each row, not {value!r}")
    return list(value)


def _append_rows(h5: h5py.File, writer: Writer, table: Node, rows: list[dict[str, Any]],
                 referrers: Callable[[str], list[Referrer]]) -> set[str]:
    """Append rows to a table: every column (ragged ones through their indexes) and ``id``,
    each dataset extended once."""
    assert table.hdf5_path is not None
    group = h5[table.hdf5_path]
    touched: set[str] = set()
    for name in rows[0]:
        chain = _chain(group, name)
        base = [len(group[n]) for n in chain]
        levels: list[list[Any]] = [[] for _ in chain]
        for row in rows:
            _spread(row[name], len(chain) - 1, levels, base)
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
        return _text_array(np.asarray(values, dtype=object)), dtype
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


# -- checks ------------------------------------------------------------------------------------
def _revalidate(model: Node, label: str) -> None:
    cls = type(model)
    data = {name: model.__dict__[name] for name in cls.model_fields if name in model.__dict__}
    try:
        cls.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        spec = cls.h5_fields.get(str(first["loc"][0])) if first["loc"] else None
        if spec is not None and spec.name:
            where = f"{spec.role} {spec.name!r}"
        raise ModelError(f"invalid edit of a {cls.type_name() or cls.__name__}: {where}: "
                         f"{first['msg']}", file=label,
                         hdf5_path=model.hdf5_path or "(new object)") from None


def _check_storable(model: Node, names: set[str], label: str) -> None:
    """Attribute values convert to what the file stores (e.g. no negative unsigned)."""
    for name in names:
        spec = type(model).h5_fields.get(name)
        value = getattr(model, name, None)
        if spec is None or spec.role != "attribute" or value is None or _holds_models(value):
            continue
        try:
            _plain_value(value, spec.dtype)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"attribute {spec.name!r}: {exc}", file=label,
                             hdf5_path=model.hdf5_path or "(new object)") from None


def _check_placed(group: Group, name: str, child: Any, label: str) -> None:
    """A child added to a group its spec defines must have a place in that spec."""
    cls = type(group)
    if cls is Group or not cls.h5_fields:
        return  # an untyped group outside any spec takes anything
    for field_name, spec in cls.h5_fields.items():
        value = getattr(group, field_name, None)
        if spec.role == "children" and isinstance(value, dict) and value.get(name) is child:
            return
        if spec.name == name and spec.role in ("dataset", "group", "link"):
            return
    kind = type(child).type_name() if isinstance(child, Node) else None
    allowed = sorted(
        {s.target_type for s in cls.h5_fields.values() if s.role == "children" and s.target_type}
    )
    raise ModelError(
        f"{_a(cls.type_name() or cls.__name__)} has no place for "
        f"{_a(kind) if kind else 'an untyped object'} named {name!r}"
        + (f" (it holds {', '.join(allowed)})" if allowed else ""),
        file=label, hdf5_path=group.hdf5_path,
    )


def _is_a(resolver: Resolver, model: Any, wanted: str) -> bool:
    if not isinstance(model, Node) or type(model).h5_type is None:
        return False
    namespace, type_name = type(model).h5_type  # type: ignore[misc]
    if namespace not in resolver.specs.namespaces:
        return type_name == wanted
    return resolver.is_a(namespace, type_name, wanted)


def _check_reference_types(model: Node, resolver: Resolver, label: str) -> None:
    """Datasets of references (e.g. ImageReferences) hold models of the type their spec
    names (attributes are checked by the model's own field types)."""
    spec = type(model).h5_fields.get("value")
    if not isinstance(model, Dataset) or spec is None or not spec.reftype:
        return
    if not spec.target_type or not isinstance(model.value, np.ndarray):
        return
    for item in model.value.flat:
        if item is not None and not _is_a(resolver, item, spec.target_type):
            raise ModelError(
                f"expected references to {spec.target_type}, found one to {item!r}",
                file=label, hdf5_path=model.hdf5_path or "(new object)",
            )


def _check_slice(array: H5Array, key: Any, value: np.ndarray, label: str) -> None:
    where = array.hdf5_path
    try:
        target = np.empty(array.shape, dtype=np.int8)[key]
        np.broadcast_to(value, np.shape(target))
    except (IndexError, ValueError, TypeError) as exc:
        raise ModelError(f"slice {key!r} with values of shape {value.shape} does not fit "
                         f"shape {array.shape} ({exc})", file=label, hdf5_path=where) from None
    problem = _values_problem(array.dtype, value)
    if problem is not None:
        raise ModelError(problem, file=label, hdf5_path=where)


def _values_problem(dtype: np.dtype, value: np.ndarray) -> str | None:
    """Why ``value`` cannot be written into a dataset of ``dtype`` (None when it can)."""
    if is_text(dtype):
        if value.dtype.kind in "USO" and all(isinstance(v, str | bytes) for v in value.flat):
            return None
        return f"cannot write {value.dtype} values into a text dataset"
    if dtype.kind not in "biuf":
        return None
    if value.dtype.kind not in "biuf":
        return f"cannot write {value.dtype} values into a {dtype} dataset"
    if dtype.kind in "iu" and value.size:
        if value.dtype.kind == "f" and not np.all(np.mod(value, 1) == 0):
            return f"cannot write fractional values into a {dtype} dataset"
        low, high = float(value.min()), float(value.max())
        info = np.iinfo(dtype)
        if low < info.min or high > info.max:
            return f"values from {low:g} to {high:g} do not fit a {dtype} dataset"
    return None


def _column_spec(host: Host, resolver: Resolver | None, table: Node,
                 name: str) -> language.Dataset | None:
    """The spec of column ``name`` of ``table``'s type (None for columns the spec lacks)."""
    h5_type = type(table).h5_type
    if resolver is None or h5_type is None or h5_type[0] not in resolver.specs.namespaces:
        return None
    _, spec = resolver.type_spec(*h5_type)
    for part in getattr(spec, "datasets", []):
        if part.name == name:
            return resolver.part(h5_type[0], part)  # type: ignore[return-value]
    return None


def _check_row(table: Node, row: dict[str, Any], host: Host, resolver: Resolver | None,
               findable: Callable[[Node], bool], pending: dict[int, int]) -> None:
    label = host.label
    where = table.hdf5_path
    children = table.children  # type: ignore[attr-defined]
    for name, value in row.items():
        chain = _chain(children, name)
        levels: list[list[Any]] = [[] for _ in chain]
        try:
            _spread(value, len(chain) - 1, levels, [0] * len(chain))
        except TypeError as exc:
            raise ModelError(f"column {name!r}: {exc}", file=label, hdf5_path=where) from None
        column = children.get(name)
        data = getattr(column, "value", None)
        if not isinstance(data, H5Array | np.ndarray):
            continue
        leaves = levels[0]

        def fail(message: str, name: str = name) -> ModelError:
            return ModelError(f"column {name!r}: {message}", file=label, hdf5_path=where)

        if isinstance(column, DynamicTableRegionMixin):
            target = column.table
            count = len(target) + pending.get(id(target), 0)
            numbers = np.asarray(leaves)
            if numbers.size and (numbers.dtype.kind not in "iu" or numbers.min() < 0
                                 or numbers.max() >= count):
                raise fail(f"row numbers {[int(n) for n in numbers.flat]} are not rows of "
                           f"{target.hdf5_path} ({count} rows)")
            continue
        dtype = data.dtype
        spec = _column_spec(host, resolver, table, name)
        if is_reference(dtype):
            wanted = spec.dtype.reference.target_type if (
                spec is not None and spec.dtype is not None and spec.dtype.reference
            ) else None
            for item in leaves:
                if item is None:
                    continue
                if not isinstance(item, Node) or not findable(item):
                    raise fail(f"{item!r} is not an object of this file (nor being added)")
                if wanted and resolver is not None and not _is_a(resolver, item, wanted):
                    raise fail(f"expected a reference to {_a(wanted)}, found {item!r}")
            continue
        if dtype.names:
            for item in leaves:
                items = [item.get(n) for n in dtype.names] if isinstance(item, dict) else item
                if not isinstance(items, list | tuple) or len(items) != len(dtype.names):
                    raise fail(f"expected ({', '.join(dtype.names)}) for each row, not {item!r}")
                for n, part in zip(dtype.names, items, strict=True):
                    if is_reference(dtype[n]):
                        if part is not None and (not isinstance(part, Node) or not findable(part)):
                            raise fail(f"{part!r} is not an object of this file")
                    elif _values_problem(dtype[n], np.asarray(part)) is not None:
                        raise fail(f"field {n!r}: {part!r} does not fit {dtype[n]}")
            continue
        values = np.asarray(leaves) if leaves else np.empty((0, *data.shape[1:]))
        problem = _values_problem(dtype, values)
        if problem is not None:
            raise fail(problem)
        if leaves and tuple(values.shape[1:]) != tuple(data.shape[1:]):
            raise fail(f"each value must have shape {tuple(data.shape[1:])}, "
                       f"not {tuple(values.shape[1:])}")
    if "id" in row and not isinstance(row["id"], int | np.integer):
        raise ModelError(f"row id must be an integer, not {row['id']!r}", file=label,
                         hdf5_path=where)


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


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
        elif spec.role == "attribute" and _holds_models(value):
            yield from (v for v in _object_array(value).flat if isinstance(v, Node))
    if isinstance(model, Dataset) and isinstance(model.value, np.ndarray) and (
        model.value.dtype == object
    ):
        yield from (v for v in model.value.flat if isinstance(v, Node))
