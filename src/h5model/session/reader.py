"""Graph -> models, each built when it is first reached.

A model's class is found top down (a typed object's class comes from its type
attributes; an untyped one's from the field its parent's spec gives it, the
parent at the object's canonical path). A model is handed out unfilled: its
path and class only. Its fields are read the first time one is used
(``fill``): attributes (references become the models they name, themselves
unfilled), the dataset's lazy value, the children. So the same path always
gives the same object, a reference or link gives its target itself, and a
cycle needs no closing: every edge leads to an object that already exists.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import h5py
import numpy as np
import pydantic

from h5model.errors import ModelError, SpecError
from h5model.hdf5.graph import Child, FileIndex, dereference_path
from h5model.hdf5.indexed import IndexedReference, IndexedRegionReference, indexed_target
from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.hdf5.objectgraph import ObjectGraph
from h5model.models.arrays import ArraySource, H5Array, IsoDatetimeArray
from h5model.models.lazyclasses import type_class
from h5model.models.nodes import (
    _UNSET,
    FILL,
    FILLING,
    BrokenLink,
    Dataset,
    ExternalLink,
    Group,
    H5Field,
    Node,
    Owner,
    is_pending,
    model_classes,
    share_fields_set,
)
from h5model.models.problems import model_problems
from h5model.rules.dtypes import holds_references
from h5model.session.ondemand import OnDemand

_MAYBE_REFS = frozenset({h5py.Reference, h5py.RegionReference, np.ndarray,
                         IndexedReference, IndexedRegionReference})
_GENERIC = frozenset({Group, Dataset})
"""Untyped objects outside any spec: nothing to check, so no validation to pay for."""
# Bound once: on Python 3.11 reading an Enum class's attribute goes through its
# metaclass's ``__getattr__`` hook (six times a plain attribute), and the reader reads
# these per object.
_GROUP, _DATASET = NodeKind.GROUP, NodeKind.DATASET
_EXTERNAL = LinkKind.EXTERNAL


class _ClassInfo:
    """What the reader needs to know about a model class, computed once per class."""

    __slots__ = ("attributes", "collections", "named", "parts", "unwrap")

    def __init__(self, cls: type[Node]) -> None:
        if not cls.__pydantic_complete__:
            module = sys.modules.get(cls.__module__)
            cls.model_rebuild(_types_namespace=vars(module) if module else None)
        self.attributes: list[tuple[str, str]] = []
        self.named: dict[str, tuple[str, H5Field, type[Node] | None]] = {}
        self.collections: list[tuple[str, type[Node]]] = []
        self.parts: dict[str, type[Node]] = {}
        """HDF5 name -> the class for an object of the part's own type found there."""
        for field_name, spec in cls.h5_fields.items():
            if spec.role == "attribute" and spec.name is not None:
                self.attributes.append((field_name, spec.name))
            elif spec.role in ("dataset", "group", "link") and spec.name is not None:
                self.named[spec.name] = (field_name, spec, _node_class(cls, field_name))
                part_class = cls.h5_part_classes.get(field_name)
                if part_class is not None and spec.role != "link":
                    self.parts[spec.name] = part_class
            elif spec.role == "children":
                target = _node_class(cls, field_name)
                if target is not None:
                    self.collections.append((field_name, target))


def _node_class(cls: type[Node], field_name: str) -> type[Node] | None:
    """The Node subclass a field holds (looking through unions, dicts and Annotated)."""
    field = cls.model_fields.get(field_name)
    return None if field is None else next(model_classes(field.annotation), None)


class Reader:
    """The models of one file, each built the first time it is reached."""

    def __init__(
        self,
        file: h5py.File | None,
        label: str,
        index: FileIndex,
        modules: Mapping[str, ModuleType],
        external_opener: Callable[[ExternalLink], Any],
        *,
        source: ArraySource,
        owner: Owner | None = None,
        folder: str | None = None,
    ) -> None:
        self.file = file
        """The HDF5 file; None for models built from a metadata index (whose references
        name their targets)."""
        if folder is None:
            assert file is not None
            folder = os.path.dirname(os.path.abspath(file.filename))
        self.folder = folder
        self.source = source
        """Where every lazy array of the file reads from."""
        self.owner = owner
        """The file every model belongs to (None: models owned by no open file)."""
        self.label = label
        self._index = index
        self.external_opener = external_opener
        self.modules = modules
        self.types: dict[tuple[str, str], type[Node]] = {}
        """(namespace, type) -> its class, as the file's objects reach them."""
        self.classes: dict[str, type[Node]] = {}
        """Canonical path -> the class of its model, found as models are reached (until
        the model is made: then it is the model's own class)."""
        self.info: dict[type[Node], _ClassInfo] = {}
        self.models: dict[str, Any] = {}
        """Every model handed out so far (filled or not), by canonical path."""
        self.datetimes: set[str] = set()
        """Datasets whose spec dtype is isodatetime: arrays of them read as datetimes."""
        self.live = False
        """Set once the file was refreshed (``File.refresh``): arrays of models filled from
        then on read their current shape from the file, not the graph's."""
        self.lock = threading.RLock()
        """Held while a model is filled: two threads reaching one model fill it once."""

    @property
    def index(self) -> FileIndex:
        """The file's object graph as last read: after a save, the saved file's (models
        filled later read what the file holds then)."""
        # the index as read so far: a partial one grows as models reach it
        current = self.owner.index_as_read if self.owner is not None else None
        return current if current is not None else self._index

    @property
    def graph(self) -> ObjectGraph:
        return self.index.graph

    # -- public --------------------------------------------------------------------
    def build(self) -> OnDemand:
        """The file's models by path; the root's class is found now (a file whose root
        does not fit its spec fails here)."""
        self.class_of("/")
        return OnDemand(self)

    def paths(self) -> Iterator[str]:
        """Every object's canonical path, parents before children."""
        index = self.index.whole()
        return (path for path in index.children if self.class_of(path) is not None)

    # -- classes -------------------------------------------------------------------
    def class_info(self, cls: type[Node]) -> _ClassInfo:
        info = self.info.get(cls)
        if info is None:
            try:
                info = _ClassInfo(cls)
            except pydantic.PydanticUserError as exc:
                raise SpecError(
                    f"model {cls.__name__} cannot be built: {exc}", file=self.label
                ) from None
            self.info[cls] = info
        return info

    def _typed_class(self, path: str) -> type[Node] | None:
        data = self.graph.nodes[path]
        if "type" not in data:
            return None
        key = (data["namespace"], data["type"])
        cls = self.types.get(key)
        if cls is None:
            cls = type_class(self.modules, *key)
            if cls is not None:
                self.types[key] = cls
                return cls
            known = key[0] in self.modules
            raise SpecError(
                f"type {key[1]!r} of namespace {key[0]!r} is not defined in "
                + ("that namespace's spec" if known else "the file's specs")
                + " (supply the namespace with --spec)",
                file=self.label,
                hdf5_path=path,
                rule="type.unknown",
            )
        return cls

    def class_of(self, path: str) -> type[Node] | None:
        """The class of the model at canonical ``path`` (None: no object there). A typed
        object's class comes from its type attributes; an untyped one's from the field its
        parent's spec gives it (the parent at its canonical path)."""
        cls = self.classes.get(path)
        if cls is not None:
            return cls
        model = self.models.get(path)
        if model is not None:
            return type(model)
        index = self.index
        index.locate(path)
        data = index.graph.nodes.get(path)
        if data is None or data["kind"] not in (_GROUP, _DATASET):
            return None
        if path == "/":
            cls = self._typed_class("/") or Group
        else:
            parent, _, name = path.rpartition("/")
            owner = self.class_of(parent or "/")
            if owner is None:
                return None
            cls = self._child_class(owner, name, path, data["kind"])
        self.classes[path] = cls
        return cls

    def _child_class(self, owner: type[Node], name: str, path: str, kind: NodeKind
                     ) -> type[Node]:
        info = self.class_info(owner)
        typed = self._typed_class(path)
        if typed is not None:
            part_class = info.parts.get(name)
            if part_class is not None and typed in part_class.__bases__:
                return part_class  # the part's type, with what the owner adds
            return typed
        named = info.named.get(name)
        if named is not None and named[1].unwrap and named[1].dtype == "isodatetime":
            self.datetimes.add(path)
        nested = named[2] if named is not None else None
        if nested is not None and nested.h5_type is None and nested.h5_kind == kind:
            return nested
        return Dataset if kind is _DATASET else Group

    # -- models on demand ----------------------------------------------------------------
    def model_for(self, path: str) -> Any:
        """The model at ``path``: the one handed out before, or a new one not yet filled
        (it fills itself the first time one of its fields is read)."""
        model = self.models.get(path)
        if model is not None:
            return model
        with self.lock:  # two threads reaching one path get one object
            model = self.models.get(path)
            if model is not None:
                return model
            cls = self.class_of(path)
            if cls is None:
                return None
            model = cls.__new__(cls)
            object.__setattr__(model, "__dict__", {"hdf5_path": path})
            object.__setattr__(model, "__pydantic_fields_set__", set())
            object.__setattr__(model, "__pydantic_extra__", None)
            object.__setattr__(model, "__pydantic_private__",
                               {"_owner": self.owner, "_parent": _UNSET, FILL: self.fill})
            self.models[path] = model
            self.classes.pop(path, None)  # the model knows it now
        return model

    def filled(self, path: str) -> Any:
        """The model at ``path`` with its fields read."""
        model = self.model_for(path)
        if model is not None and is_pending(model):
            self.fill(model)
        return model

    def _resolve_attr(self, path: str, name: str, value: Any) -> Any:
        """An attribute's value with its references replaced by the models they name
        (unfilled until reached)."""
        recorded = self.index.targets(path, name)
        targets = iter(recorded) if recorded is not None else None

        def model(ref: Any) -> Any:
            known, target = indexed_target(ref)
            if not known:
                target = (next(targets, None) if targets is not None
                          else dereference_path(self.file, self.index, ref))
            found = self.model_for(target) if target is not None else None
            if found is None:
                raise ModelError(f"attribute {name!r} holds a dangling object reference",
                                 file=self.label, hdf5_path=path)
            return found

        if isinstance(value, (h5py.Reference, h5py.RegionReference)):
            return model(value)
        if (
            isinstance(value, np.ndarray)
            and value.dtype == object
            and value.size
            and any(isinstance(v, (h5py.Reference, h5py.RegionReference)) for v in value.flat)
        ):
            out = np.empty(value.shape, dtype=object)
            for i, v in np.ndenumerate(value):
                out[i] = model(v) if isinstance(v, (h5py.Reference, h5py.RegionReference)) else v
            return out
        return value

    def _dataset_value(self, path: str, cls: type[Node]) -> Any:
        scalars = self.index.scalars
        if path in scalars:
            return scalars[path]
        data = self.graph.nodes[path]
        shape = data["shape"]
        dtype = data["dtype"]
        if shape is None:
            return None
        needs_refs = holds_references(dtype)
        value_field = cls.h5_fields.get("value")
        datetimes = path in self.datetimes or (
            value_field is not None and value_field.dtype == "isodatetime")
        if datetimes and shape != ():
            return IsoDatetimeArray(self.source, path, tuple(shape), dtype)
        array = H5Array(self.source, path, tuple(shape), dtype)
        if self.live and shape:
            array.refresh()  # rows a streaming writer flushed since the graph was read
        if shape == () and not needs_refs and not dtype.names:
            value = array.read()
            if isinstance(value, bytes):
                return value.decode("utf-8", "surrogateescape")
            if isinstance(value, np.generic):
                return value.item() if value.dtype.kind in "biuf" else value
            return value
        return array

    def _child_value(self, path: str, child: Child) -> Any:
        if child.kind is _EXTERNAL:
            assert child.filename is not None and child.path is not None
            prefix = path if path.endswith("/") else path + "/"
            return ExternalLink(
                child.filename, child.path, prefix + child.name, self.external_opener, self.folder
            )
        if child.broken:
            prefix = path if path.endswith("/") else path + "/"
            return BrokenLink(child.target, prefix + child.name)
        return self.model_for(child.target)

    # -- filling -----------------------------------------------------------------------
    def fill(self, model: Node) -> None:
        """Read the fields of ``model`` (a model handed out unfilled): attributes, the
        dataset's value, the children (unfilled themselves) and what references name."""
        with self.lock:
            private = model.__pydantic_private__
            if not private or private.get(FILL) is None:
                return  # filled meanwhile (by another thread, or re-entered)
            path = model.__dict__["hdf5_path"]
            parent = private.get("_parent", _UNSET)
            FILLING[id(model)] = (self.lock, threading.get_ident())
            del private[FILL]
            try:
                self._fill(model, path)
            except BaseException:  # still unfilled: the next read tries again
                object.__setattr__(model, "__dict__", {"hdf5_path": path})
                object.__setattr__(model, "__pydantic_fields_set__", set())
                object.__setattr__(model, "__pydantic_private__",
                                   {"_owner": self.owner, "_parent": parent, FILL: self.fill})
                raise
            finally:
                FILLING.pop(id(model), None)
            if parent is not _UNSET:
                model._parent = parent

    def _fill(self, model: Node, path: str) -> None:
        cls = type(model)
        info = self.class_info(cls)
        index = self.index
        if not issubclass(cls, Dataset):
            index.expand(path)  # its entries, and the targets of references among them
        raw_attrs = index.attrs.get(path, {})
        attrs = raw_attrs
        if any(type(value) in _MAYBE_REFS for value in raw_attrs.values()):
            attrs = {
                name: self._resolve_attr(path, name, value)
                if type(value) in _MAYBE_REFS else value
                for name, value in raw_attrs.items()
            }
        kwargs: dict[str, Any] = {"hdf5_path": path}
        object_id = attrs.get("object_id")
        if isinstance(object_id, str):
            kwargs["object_id"] = object_id
        for field_name, hdf5_name in info.attributes:
            if hdf5_name in attrs:
                kwargs[field_name] = _plain(attrs[hdf5_name])
        children: dict[str, Any] = {}
        if issubclass(cls, Dataset):
            kwargs["value"] = self._dataset_value(path, cls)
        else:
            consumed: set[str] = set()
            for child in self.index.children.get(path, ()):
                value = self._child_value(path, child)
                children[child.name] = value
                named = info.named.get(child.name)
                if named is None:
                    continue
                field_name, spec, _ = named
                consumed.add(child.name)
                if isinstance(value, BrokenLink):
                    raise ModelError(
                        f"soft link {child.name!r} points at {value.target}, which does not exist",
                        file=self.label,
                        hdf5_path=value.hdf5_path,
                    )
                if spec.unwrap and isinstance(value, Dataset):
                    value = self.filled(child.target).value
                kwargs[field_name] = value
            if info.collections:
                buckets: dict[str, dict[str, Any]] = {f: {} for f, _ in info.collections}
                for name, value in children.items():
                    if name in consumed:
                        continue
                    for field_name, target in info.collections:
                        if isinstance(value, target):
                            buckets[field_name][name] = value
                            break
                for field_name, bucket in buckets.items():
                    if bucket:
                        kwargs[field_name] = bucket
        object.__setattr__(model, "__pydantic_private__", None)  # pydantic sets the defaults
        try:
            if cls in _GENERIC:
                _construct(model, kwargs)
            else:
                model.__pydantic_validator__.validate_python(kwargs, self_instance=model)
        except pydantic.ValidationError as exc:
            raise ModelError(_explain(exc, cls), file=self.label, hdf5_path=path) from None
        share_fields_set(model)
        private = model.__pydantic_private__
        assert private is not None
        private["_attrs"] = attrs
        private["_owner"] = self.owner
        if isinstance(model, Group):
            private["_children"] = children
            if self.index.binding is not None and path in self.index.binding.numeric:
                private["_numeric_order"] = True


def _construct(model: Node, values: dict[str, Any]) -> None:
    """``model_construct`` into an existing object: the untyped classes check nothing."""
    fields = type(model).__pydantic_fields__
    state = {name: info.get_default(call_default_factory=True)
             for name, info in fields.items() if name not in values}
    state.update(values)
    object.__setattr__(model, "__dict__", state)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    init = getattr(model, "model_post_init", None)
    if init is not None:
        init(None)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so pydantic's strict-ish checks see plain values."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _explain(exc: pydantic.ValidationError, cls: type[Node]) -> str:
    parts = [f"{where}: {message}" for where, message in model_problems(exc, cls)[:5]]
    more = f" (+{exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    type_name = cls.type_name() or cls.__name__
    return f"does not fit {type_name}: " + "; ".join(parts) + more
