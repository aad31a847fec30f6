"""Models -> HDF5: new objects, attributes and datasets, written where they belong.

Used for whole new files (``h5model.write``) and for the new parts of an edited
file (``File.save``). A model already written (or already in the file) met again
becomes a soft link, so shared objects stay shared; object references are
written last, once every target has its path.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.hdf5.paths import join as join_path
from h5model.models.arrays import H5Array
from h5model.models.nodes import (
    BrokenLink,
    Dataset,
    ExternalLink,
    Group,
    H5Field,
    Node,
    Owner,
    owner_of,
)
from h5model.persist.streaming.extendable import Extendable, append_rows, create_extendable
from h5model.persist.tracker import Tracker
from h5model.rules.dtypes import holds_references, is_text
from h5model.rules.text import format_literal
from h5model.rules.values import as_text, each_time, isodatetime_stored
from h5model.spec import dtypes
from h5model.spec.layout import EMBEDDED, Layout, layout_document
from h5model.spec.loader import SpecSet
from h5model.spec.storage import BOOKKEEPING_ATTRIBUTES, TYPE_KEYS

COPY_BLOCK_BYTES = 64 * 1024 * 1024
"""Datasets are copied from their source in blocks of about this size (bounded memory)."""



def spec_dtype(name: str | None) -> Any:
    """The numpy/h5py dtype to store a spec dtype with (None: let the value decide)."""
    if name is None:
        return None
    canonical = dtypes.canonical(name)
    if canonical in dtypes.TEXT:
        return h5py.string_dtype()
    if canonical == "bool":
        return np.dtype(bool)
    if canonical == "numeric":
        return None
    try:
        return np.dtype(canonical)
    except TypeError:
        return None


def plain_value(value: Any, dtype_name: str | None) -> Any:
    """A Python/numpy value as something h5py stores with the spec's dtype.

    A spec dtype is a minimum (HDMF's rule): Python floats stay float64 even where the
    spec says ``float32``, and a Python int too large for the spec's integer type is
    stored wider; numpy values keep the dtype they have."""
    if dtypes.canonical(dtype_name or "") == "isodatetime":
        value = _isodatetimes(value)
    if isinstance(value, _dt.date | np.datetime64):
        return as_text(value)
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.kind == "M" or (value.dtype.kind in "OU" and (
            value.dtype.kind == "U" or dtypes.canonical(dtype_name or "") in dtypes.TEXT
            or _all_text(value)
        )):
            return text_array(value)
        return value  # the dtype it was read with, or one the user chose
    if isinstance(value, list | tuple):
        array = np.asarray(
            [as_text(v) if isinstance(v, _dt.date | np.datetime64) else v for v in value]
        )
        if array.dtype.kind in "OU":
            return text_array(array)
        wanted = spec_dtype(dtype_name)
        return array.astype(_numeric_dtype(array, wanted)) if wanted is not None else array
    wanted = spec_dtype(dtype_name)
    if isinstance(value, str):
        return value
    if wanted is not None and isinstance(value, bool | int | float):
        array = np.asarray(value)
        return array.astype(_numeric_dtype(array, wanted))[()]
    return value


def _isodatetimes(value: Any) -> Any:
    """Every time in an ``isodatetime`` value (one, a list, an array) as ISO 8601 text
    with ``T`` (``isodatetime_stored``); other values as they are."""
    return each_time(value, isodatetime_stored)


def _text_dtype(dtype_name: str | None, text: str) -> Any:
    """Variable-length text: ASCII where the spec says ascii or isodatetime (as HDMF
    stores them) and the text is ASCII, else UTF-8."""
    if dtypes.canonical(dtype_name or "") in ("ascii", "isodatetime") and text.isascii():
        return h5py.string_dtype("ascii")
    return h5py.string_dtype()


def _array_text_dtype(dtype_name: str | None, array: np.ndarray) -> Any:
    """An array of text is stored as ASCII where a scalar would be (``_text_dtype``);
    None (the array's own dtype) for anything else."""
    if array.dtype.kind != "O" or h5py.check_string_dtype(array.dtype) is None:
        return None
    if dtypes.canonical(dtype_name or "") in ("ascii", "isodatetime") and all(
        isinstance(v, str) and v.isascii() for v in array.flat
    ):
        return h5py.string_dtype("ascii")
    return None


def _all_text(array: Any) -> bool:
    """True for a non-empty array of text, dates and times (all stored as text)."""
    return array.size > 0 and all(
        isinstance(v, str | _dt.date | np.datetime64) for v in np.asarray(array).flat
    )


def text_array(array: Any) -> np.ndarray:
    """Text (str or UTF-8 bytes) as an array h5py stores as variable-length UTF-8."""
    out = np.empty(np.shape(array), dtype=h5py.string_dtype())
    for index, item in np.ndenumerate(np.asarray(array)):
        out[index] = as_text(item)
    return out


def _numeric_dtype(array: np.ndarray, wanted: np.dtype) -> np.dtype:
    """The dtype to store ``array`` (Python numbers) with, given the spec's ``wanted``."""
    kind = array.dtype.kind
    if wanted.kind == "b" or kind not in "biuf":
        return wanted
    if wanted.kind == "f":
        return np.promote_types(array.dtype, wanted) if kind == "f" else wanted
    if wanted.kind in "iu" and kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        info = np.iinfo(wanted)
        if low < info.min or high > info.max:
            if wanted.kind == "u" and low < 0:
                raise ValueError(f"{low} does not fit the unsigned dtype {wanted}")
            return np.dtype(np.uint64 if wanted.kind == "u" else np.int64)
    return wanted


def type_key(root: Node | None, specs: SpecSet | None) -> str:
    """The attribute that names an object's type: the one the root already uses, else
    pynwb's (``neurodata_type``) for NWB files and hdmf's (``data_type``) for others."""
    if root is not None:
        for key in TYPE_KEYS:
            if key in root.attrs:
                return key
    if specs is not None and "core" in specs.namespaces:
        return "neurodata_type"
    return "data_type" if specs is not None else "neurodata_type"


class Writer:
    """Writes models into one open h5py file (new file or an existing one opened r+)."""

    def __init__(self, h5: h5py.File, type_key: str, label: str,
                 home: Owner | None = None, folder: str | None = None,
                 texts: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.h5 = h5
        self.texts = texts or {}
        """Path -> attributes a layout stores as text holding a literal (written so)."""
        self.home = home
        """The file whose models' paths hold in ``h5`` (models of other files are copied)."""
        self.folder = folder
        """Folder of the file being written, for re-pointing relative external links."""
        self.type_key = type_key
        self.label = label
        self.written: dict[int, str] = {}
        """id(model) -> path it was written at in this file."""
        self.pending_refs: list[tuple[str, str | None, str, Any]] = []
        """(object path, attribute name or None for the dataset itself, field, value)."""
        self.created: list[tuple[Node, str]] = []

    # -- paths ----------------------------------------------------------------------------------
    def path_of(self, model: Any) -> str | None:
        path = self.written.get(id(model))
        if path is not None:
            return path
        if isinstance(model, Node) and model.hdf5_path is not None:
            return model.hdf5_path
        return None

    def _at_home(self, model: Node) -> bool:
        if id(model) in self.written:
            return True
        owner = owner_of(model)
        return owner is not None and owner is self.home

    def _relink(self, link: ExternalLink) -> str:
        import os

        if self.folder is None or link.folder is None or os.path.isabs(link.filename):
            return link.filename
        return os.path.relpath(os.path.join(link.folder, link.filename), self.folder)

    # -- objects --------------------------------------------------------------------------------
    def place(self, parent: h5py.Group, name: str, item: Any, field: H5Field | None) -> None:
        """Put ``item`` at ``parent/name``: a new object, a soft link, or a plain dataset."""
        location = join_path(parent.name, name)
        if isinstance(item, ExternalLink):
            parent[name] = h5py.ExternalLink(self._relink(item), item.path)
            return
        if isinstance(item, BrokenLink):
            parent[name] = h5py.SoftLink(item.target)
            return
        if isinstance(item, Node):
            existing = self.path_of(item)
            if existing is not None and existing != location and self._at_home(item):
                # the object lives (or will be written) at its own path: link to it
                parent[name] = h5py.SoftLink(existing)
                return
            if id(item) in self.written:
                if self.written[id(item)] != location:
                    parent[name] = h5py.SoftLink(self.written[id(item)])
                return
            if isinstance(item, Dataset):
                self.create_dataset(parent, name, item, field)
            else:
                self.create_group(parent, name, item)
            return
        if item is None:
            return
        # a plain value held by an unwrapped field
        self.write_dataset_value(parent, name, item, field.dtype if field else None)

    def create_group(self, parent: h5py.Group, name: str, model: Node) -> h5py.Group:
        group = parent.create_group(name) if name else parent
        self._register(model, group.name)
        self.write_attributes(group, model)
        self.write_children(group, model)
        return group

    def create_dataset(self, parent: h5py.Group, name: str, model: Dataset,
                       slot: H5Field | None = None) -> None:
        """``slot``: the parent's field holding the dataset (its dtype, for untyped models)."""
        value = model.value
        field = type(model).h5_fields.get("value")
        dtype_name = field.dtype if field and field.dtype else (slot.dtype if slot else None)
        dataset = self.write_dataset_value(parent, name, value, dtype_name,
                                           reference=bool(field and field.reftype),
                                           like=_stored_scalar_dtype(model))
        self._register(model, dataset.name)
        self.write_attributes(dataset, model)

    def _register(self, model: Node, path: str) -> None:
        self.written[id(model)] = path
        if model.hdf5_path != path:
            self.created.append((model, path))

    # -- attributes -----------------------------------------------------------------------------
    def write_attributes(self, obj: h5py.Group | h5py.Dataset, model: Node) -> None:
        cls = type(model)
        covered: set[str] = set()
        if cls.h5_type is not None:
            namespace, type_name = cls.h5_type
            obj.attrs["namespace"] = namespace
            key = next((k for k in TYPE_KEYS if k in model.attrs), self.type_key)
            obj.attrs[key] = type_name
            if model.object_id is None:
                model.__dict__["object_id"] = str(uuid.uuid4())
            obj.attrs["object_id"] = model.object_id
        elif model.object_id is not None:
            obj.attrs["object_id"] = model.object_id
        stored = model.attrs
        for field_name, spec in cls.h5_fields.items():
            if spec.role != "attribute" or spec.name is None:
                continue
            covered.add(spec.name)
            value = getattr(model, field_name, None)
            if value is None:
                continue
            if _unset_default(model, field_name, spec) and spec.name not in stored:
                continue  # a default its file never held: copied as it was
            raw = stored.get(spec.name)
            if raw is not None and raw is not value and _same_number(raw, value):
                value = raw  # unchanged: keep the dtype it was stored with
            self.write_attribute(obj, spec.name, value, spec)
        for name, value in model.attrs.items():
            if name in covered or name in BOOKKEEPING_ATTRIBUTES:
                continue
            self.write_attribute(obj, name, value, None)

    def write_attribute(self, obj: Any, name: str, value: Any, spec: H5Field | None) -> None:
        if holds_models(value) or (spec is not None and spec.reftype):
            self.pending_refs.append((obj.name, name, "attribute", value))
            return
        if name in self.texts.get(obj.name, ()):
            value, spec = format_literal(value), None  # back in the spelling it was read from
        stored = plain_value(value, spec.dtype if spec else None)
        try:
            if isinstance(stored, str):
                obj.attrs.create(name, stored, dtype=_text_dtype(spec.dtype if spec else None,
                                                                 stored))
            else:
                obj.attrs[name] = stored
        except (TypeError, ValueError) as exc:
            raise H5ModelError(f"attribute {name!r} cannot be stored ({exc})", file=self.label,
                               hdf5_path=obj.name) from None

    # -- children -------------------------------------------------------------------------------
    def write_children(self, group: h5py.Group, model: Node) -> None:
        cls = type(model)
        done: set[str] = set()
        children = model.children if isinstance(model, Group) else {}
        for field_name, spec in cls.h5_fields.items():
            if spec.role in ("dataset", "group", "link") and spec.name is not None:
                value = getattr(model, field_name, None)
                if value is None or (
                    _unset_default(model, field_name, spec) and spec.name not in children
                ):
                    continue
                done.add(spec.name)
                original = children.get(spec.name)
                if spec.unwrap and isinstance(original, Dataset) and original.value is value:
                    value = original  # keep the dataset's own attributes
                self.place(group, spec.name, value, spec)
            elif spec.role == "children":
                for name, child in (getattr(model, field_name) or {}).items():
                    if name not in done:
                        done.add(name)
                        self.place(group, name, child, spec)
        for name, child in children.items():
            if name not in done and not _is_spec_group(group, name):
                done.add(name)
                self.place(group, name, child, None)

    # -- datasets -------------------------------------------------------------------------------
    def write_dataset_value(
        self, parent: h5py.Group, name: str, value: Any, dtype_name: str | None,
        *, reference: bool = False, like: Any = None,
    ) -> h5py.Dataset:
        """A new dataset holding ``value``. ``like``: the dtype a scalar was stored with, or
        the creation properties (chunks, filters, max shape) of a dataset being replaced."""
        if isinstance(value, H5Array):
            return self.copy_array(parent, name, value)
        if reference or holds_models(value):
            array = object_array(value)
            dataset = parent.create_dataset(name, shape=array.shape, dtype=h5py.ref_dtype,
                                            **layout(like, array.shape))
            self.pending_refs.append((dataset.name, None, "dataset", array))
            return dataset
        if isinstance(value, Extendable):  # made to grow: rows are appended while streaming
            dataset = create_extendable(parent, name, value.shape[1:], value.dtype,
                                        value.storage)
            append_rows(dataset, np.asarray(value))
            return dataset
        if isinstance(like, np.dtype) and isinstance(value, bool | int | float) and (
            like.kind in "biuf"
        ):
            return parent.create_dataset(name, data=np.asarray(value, dtype=like))
        try:
            stored = plain_value(value, dtype_name)
            if isinstance(stored, str):
                return parent.create_dataset(name, data=stored,
                                             dtype=_text_dtype(dtype_name, stored))
            stored = np.asarray(stored)
            return parent.create_dataset(name, data=stored, dtype=_array_text_dtype(
                dtype_name, stored), **layout(like, stored.shape))
        except (TypeError, ValueError) as exc:
            raise H5ModelError(f"dataset {name!r} cannot be stored ({exc})", file=self.label,
                               hdf5_path=join_path(parent.name, name)) from None

    def copy_array(self, parent: h5py.Group, name: str, array: H5Array) -> h5py.Dataset:
        """Copy a dataset from its source with the same creation properties.

        HDF5 copies it (``H5Ocopy``: chunks as stored, compressed ones never decompressed;
        its attributes are left behind, the model writes its own). Datasets of references
        are created here and filled last, re-pointed; block by block if HDF5 cannot copy."""
        dataset = self._copy_stored(parent, name, array)
        if not holds_references(dataset.dtype):
            self.write_slices(dataset, array)
        return dataset

    def write_slices(self, dataset: h5py.Dataset, array: H5Array) -> None:
        """Slices assigned to ``array`` and not saved yet, written into its copy: a model
        written elsewhere carries its pending edits (its own file stays as it was until
        it is saved)."""
        owner = array.source.owner
        if not isinstance(owner, Tracker):
            return
        for key, value in owner.pending_slices(array):
            try:
                if holds_references(dataset.dtype):
                    dataset[key] = self._refs(object_array(value), dataset.name)
                else:
                    dataset[key] = text_array(value) if is_text(dataset.dtype) else value
            except (TypeError, ValueError, OSError) as exc:
                raise H5ModelError(f"an assigned slice cannot be written ({exc})",
                                   file=self.label, hdf5_path=dataset.name) from None

    def _copy_stored(self, parent: h5py.Group, name: str, array: H5Array) -> h5py.Dataset:
        source = array.dataset
        refs = holds_references(source.dtype)
        if not refs:
            copypl = h5py.h5p.create(h5py.h5p.OBJECT_COPY)
            copypl.set_copy_object(h5py.h5o.COPY_WITHOUT_ATTR_FLAG)
            try:
                h5py.h5o.copy(source.id, b".", parent.id, name.encode(), copypl=copypl)
            except (RuntimeError, ValueError, OSError, KeyError):
                if name in parent:
                    del parent[name]
            else:
                copied = parent[name]
                assert isinstance(copied, h5py.Dataset)
                return copied
        plist = source.id.get_create_plist()
        if source.shape:
            maxshape = tuple(
                h5py.h5s.UNLIMITED if m is None else m for m in (source.maxshape or source.shape)
            )
            space = h5py.h5s.create_simple(source.shape, maxshape)
        else:
            space = h5py.h5s.create(h5py.h5s.SCALAR)
        dtype = source.id.get_type()
        dsid = h5py.h5d.create(parent.id, name.encode(), dtype, space, dcpl=plist)
        dataset = h5py.Dataset(dsid)
        if refs:
            self.pending_refs.append((dataset.name, None, "copy", array))
            return dataset
        if not source.shape:
            dataset[()] = source[()]
            return dataset
        row_bytes = max(1, source.dtype.itemsize * int(np.prod(source.shape[1:], dtype=np.int64)))
        block = max(1, COPY_BLOCK_BYTES // row_bytes)
        if source.chunks:
            block = max(source.chunks[0], block - block % source.chunks[0])
        for start in range(0, source.shape[0], block):
            stop = min(source.shape[0], start + block)
            dataset.write_direct(np.ascontiguousarray(source[start:stop]),
                                 dest_sel=np.s_[start:stop])
        return dataset

    # -- references -----------------------------------------------------------------------------
    def finish(self) -> None:
        """Write every reference, now that all targets exist."""
        for path, attr, kind, value in self.pending_refs:
            obj = self.h5[path]
            if kind == "attribute":
                assert attr is not None
                obj.attrs.create(attr, self._refs(value, path), dtype=h5py.ref_dtype)
            elif kind == "dataset":
                obj[...] = self._refs(value, path)
            else:
                self._copy_refs(obj, value, path)
                self.write_slices(obj, value)
        self.pending_refs.clear()

    def _ref(self, model: Any, where: str) -> Any:
        if model is None:
            return h5py.Reference()
        target = self.path_of(model)
        if target is None or target not in self.h5:
            raise H5ModelError(
                f"a reference points at {model!r}, which is not in this file", file=self.label,
                hdf5_path=where,
            )
        return self.h5[target].ref

    def _refs(self, value: Any, where: str) -> Any:
        if isinstance(value, np.ndarray):
            out = np.empty(value.shape, dtype=h5py.ref_dtype)
            for index, item in np.ndenumerate(value):
                out[index] = self._ref(item, where)
            return out
        if isinstance(value, list | tuple):
            return self._refs(np.asarray(value, dtype=object), where)
        return self._ref(value, where)

    def _copy_refs(self, dataset: h5py.Dataset, array: H5Array, where: str) -> None:
        """A dataset of references (or a compound with reference columns), re-pointed."""
        data = array.read()  # references come back resolved to models
        if dataset.dtype.names:
            out = np.empty(data.shape, dtype=dataset.dtype)
            for name in dataset.dtype.names:
                column = data[name]
                if h5py.check_ref_dtype(dataset.dtype[name]) is not None:
                    refs = np.empty(column.shape, dtype=h5py.ref_dtype)
                    for index, item in np.ndenumerate(column):
                        refs[index] = self._ref(item, where)
                    out[name] = refs
                else:
                    out[name] = column
            dataset[...] = out
        else:
            dataset[...] = self._refs(np.asarray(data, dtype=object), where)


def _unset_default(model: Node, field_name: str, spec: H5Field) -> bool:
    """True for an optional field left at its default on a model read from a file."""
    return (
        model.hdf5_path is not None and not spec.required
        and field_name not in model.model_fields_set
    )


def _same_number(raw: Any, value: Any) -> bool:
    """True when ``value`` is the numeric ``raw`` value read from the file, unchanged."""
    if isinstance(raw, np.generic) and raw.dtype.kind in "biuf":
        return isinstance(value, bool | int | float | np.generic) and bool(raw == value)
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "biuf":
        return (
            isinstance(value, np.ndarray) and value.shape == raw.shape
            and bool(np.array_equal(value, raw))
        )
    return False


def _stored_scalar_dtype(model: Node) -> np.dtype | None:
    """The dtype a scalar dataset's unchanged value was read with (None if unknown)."""
    owner = owner_of(model)
    index = owner.index if owner is not None else None
    path = model.hdf5_path
    if index is None or path is None or path not in index.scalars:
        return None
    value = getattr(model, "value", None)
    if not isinstance(value, bool | int | float) or value != index.scalars[path]:
        return None
    dtype = index.graph.nodes[path].get("dtype") if path in index.graph else None
    return dtype if isinstance(dtype, np.dtype) else None


def layout(like: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    """Creation keywords that give a new dataset of ``shape`` the storage settings of
    ``like`` (a dataset being replaced): chunks (clipped), filters, unlimited axes."""
    if not isinstance(like, h5py.Dataset) or not shape or like.chunks is None:
        return {}
    out: dict[str, Any] = {}
    if len(like.shape) == len(shape):
        out["chunks"] = tuple(max(1, min(c, n)) for c, n in zip(like.chunks, shape, strict=True))
        out["maxshape"] = tuple(
            None if m is None else max(m, n) for m, n in zip(like.maxshape, shape, strict=True)
        )
    else:
        out["chunks"] = True
        if like.maxshape and like.maxshape[0] is None:
            out["maxshape"] = (None, *shape[1:])
    if like.compression is not None:
        out["compression"] = like.compression
        out["compression_opts"] = like.compression_opts
    if like.shuffle:
        out["shuffle"] = True
    if like.fletcher32:
        out["fletcher32"] = True
    return out


def object_array(value: Any) -> np.ndarray:
    """Models (or None) in an object array of the value's shape, never unpacked by numpy."""
    if isinstance(value, np.ndarray):
        return value.astype(object)
    if isinstance(value, list | tuple):
        out = np.empty(len(value), dtype=object)
        for i, item in enumerate(value):
            out[i] = item
        return out
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def holds_models(value: Any) -> bool:
    """True when ``value`` is a model or holds models: written as object references."""
    if isinstance(value, Node):
        return True
    if isinstance(value, np.ndarray) and value.dtype == object and value.size:
        return any(isinstance(v, Node) for v in value.flat)
    if isinstance(value, list | tuple) and value:
        return any(isinstance(v, Node) for v in value)
    return False


def _is_spec_group(group: h5py.Group, name: str) -> bool:
    return group.name == "/" and name == "specifications"


def embed_specs(h5: h5py.File, namespaces: Iterable[tuple[str, str, Mapping[str, Any]]]) -> None:
    """``/specifications/<ns>/<version>/<source>`` as JSON text, and ``.specloc`` to it."""
    import json

    group = h5.require_group("specifications")
    for name, version, documents in namespaces:
        target = group.require_group(f"{name}/{version or 'unversioned'}")
        for source, document in documents.items():
            if source in target:
                del target[source]
            target.create_dataset(source, data=json.dumps(document), dtype=h5py.string_dtype())
    h5.attrs[".specloc"] = group.ref


def embed_layout_document(h5: h5py.File, layout: Layout, specs: SpecSet,
                          literals: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """The layout beside its namespace's embedded sources (``spec.layout.EMBEDDED``), with
    the declared specs of attributes embedded as text (``spec.layout.stored_documents``)."""
    import json

    own = specs.namespaces[layout.namespace]
    group = h5["specifications"][f"{own.name}/{own.version or 'unversioned'}"]
    if EMBEDDED in group:
        del group[EMBEDDED]
    group.create_dataset(EMBEDDED, data=json.dumps(layout_document(layout, literals)),
                         dtype=h5py.string_dtype())
