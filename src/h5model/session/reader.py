"""Graph -> models, in dependency order.

First every node gets its class, top down (a typed object's class comes from
its type attributes; an untyped one's from the field its parent's spec gives
it). Then the graph is flattened into a queue where every object comes after
what it needs (its children, link targets, referenced objects) and each node
is instantiated once. A reference or soft link to an object yields that very
model. An edge that would close a cycle is left out of the queue and the field
is set after construction.
"""

from __future__ import annotations

import os
import sys
import typing
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import h5py
import numpy as np
import pydantic

from h5model.errors import ModelError, SpecError
from h5model.hdf5.graph import Child, FileIndex
from h5model.hdf5.indexed import IndexedReference, IndexedRegionReference
from h5model.hdf5.kinds import EdgeLabel, LinkKind, NodeKind
from h5model.models.arrays import ArraySource, H5Array, IsoDatetimeArray
from h5model.models.lazyclasses import type_class
from h5model.models.nodes import (
    BrokenLink,
    Dataset,
    ExternalLink,
    Group,
    H5Field,
    Node,
    Owner,
    adopt,
)
from h5model.models.problems import model_problems
from h5model.rules.dtypes import holds_references

_PENDING = object()
_MAYBE_REFS = frozenset({h5py.Reference, h5py.RegionReference, np.ndarray,
                         IndexedReference, IndexedRegionReference})
_GENERIC = frozenset({Group, Dataset})
"""Untyped objects outside any spec: nothing to check, so no validation to pay for."""
# Bound once: on Python 3.11 reading an Enum class's attribute goes through its
# metaclass's ``__getattr__`` hook (six times a plain attribute), and the reader reads
# these per object.
_GROUP, _DATASET = NodeKind.GROUP, NodeKind.DATASET
_HARD, _EXTERNAL, _REFERENCE = LinkKind.HARD, LinkKind.EXTERNAL, EdgeLabel.REFERENCE
_IN_FILE = (LinkKind.HARD, LinkKind.SOFT)
"""Links to objects of this file (external ones are resolved only when asked)."""


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
    if field is None:
        return None
    stack = [field.annotation]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, Node):
            return tp
        stack.extend(typing.get_args(tp))
    return None


class Reader:
    """Builds every model of one file."""

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
        self.index = index
        self.graph = index.graph
        self.external_opener = external_opener
        self.modules = modules
        self.types: dict[tuple[str, str], type[Node]] = {}
        """(namespace, type) -> its class, as the file's objects reach them."""
        self.classes: dict[str, type[Node]] = {}
        self.info: dict[type[Node], _ClassInfo] = {}
        self.models: dict[str, Any] = {}
        self.datetimes: set[str] = set()
        """Datasets whose spec dtype is isodatetime: arrays of them read as datetimes."""
        self.deferred: list[tuple[str, Callable[[], None]]] = []

    # -- public --------------------------------------------------------------------
    def build(self) -> dict[str, Any]:
        self._assign_classes()
        for path in self._order():
            self._instantiate(path)
        for _, patch in self.deferred:
            patch()
        return self.models

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

    def _assign_classes(self) -> None:
        queue = ["/"]
        self.classes["/"] = self._typed_class("/") or Group
        while queue:
            path = queue.pop()
            cls = self.classes[path]
            info = self.class_info(cls)
            for child in self.index.children.get(path, ()):
                if child.kind is not _HARD or child.target in self.classes:
                    continue
                typed = self._typed_class(child.target)
                if typed is not None:
                    chosen: type[Node] = typed
                    part_class = info.parts.get(child.name)
                    if part_class is not None and typed in part_class.__bases__:
                        chosen = part_class  # the part's type, with what the owner adds
                else:
                    named = info.named.get(child.name)
                    if named is not None and named[1].unwrap and named[1].dtype == "isodatetime":
                        self.datetimes.add(child.target)
                    kind = self.graph.nodes[child.target]["kind"]
                    fallback: type[Node] = Dataset if kind is _DATASET else Group
                    chosen = fallback
                    nested = named[2] if named is not None else None
                    if nested is not None and nested.h5_type is None and nested.h5_kind == kind:
                        chosen = nested
                self.classes[child.target] = chosen
                if self.graph.nodes[child.target]["kind"] is _GROUP:
                    queue.append(child.target)

    # -- order -----------------------------------------------------------------------
    def _dependencies(self, path: str) -> list[str]:
        deps = []
        for child in self.index.children.get(path, ()):
            if child.kind in _IN_FILE and child.target in self.classes:
                deps.append(child.target)
        for _, target, data in self.graph.out_edges(path, data=True):
            if (
                data["label"] is _REFERENCE
                and target in self.classes
                and data["name"] in (self.index.attrs.get(path, {}))
            ):
                deps.append(target)
        return deps

    def _order(self) -> list[str]:
        """Post-order DFS: each node after its dependencies; back edges are noted."""
        order: list[str] = []
        state: dict[str, int] = {}
        self.back_edges: set[tuple[str, str]] = set()
        for start in ["/", *self.classes]:
            if start in state:
                continue
            stack: list[tuple[str, list[str]]] = [(start, self._dependencies(start))]
            state[start] = 1
            while stack:
                path, deps = stack[-1]
                if deps:
                    dep = deps.pop()
                    seen = state.get(dep)
                    if seen is None:
                        state[dep] = 1
                        stack.append((dep, self._dependencies(dep)))
                    elif seen == 1:
                        self.back_edges.add((path, dep))
                    continue
                stack.pop()
                state[path] = 2
                order.append(path)
        return order

    # -- values ------------------------------------------------------------------------
    def _value_of(self, source: str, target: str) -> Any:
        model = self.models.get(target, _PENDING)
        if model is _PENDING and (source, target) not in self.back_edges:
            raise AssertionError(f"{target} needed by {source} before it was built")
        return model

    def _resolve_attr(self, path: str, value: Any) -> Any:
        if isinstance(value, (h5py.Reference, h5py.RegionReference)):
            target = self._ref_target(value)
            if target is None:
                raise ModelError(
                    "attribute holds a dangling object reference", file=self.label, hdf5_path=path
                )
            return self._value_of(path, target)
        if (
            isinstance(value, np.ndarray)
            and value.dtype == object
            and value.size
            and any(isinstance(v, (h5py.Reference, h5py.RegionReference)) for v in value.flat)
        ):
            out = np.empty(value.shape, dtype=object)
            for i, v in np.ndenumerate(value):
                out[i] = self._resolve_attr(path, v)
            return out
        return value

    def _ref_target(self, ref: Any) -> str | None:
        from h5model.hdf5.graph import dereference_path

        return dereference_path(self.file, self.index, ref)

    def _dataset_value(self, path: str) -> Any:
        scalars = self.index.scalars
        if path in scalars:
            return scalars[path]
        data = self.graph.nodes[path]
        shape = data["shape"]
        dtype = data["dtype"]
        if shape is None:
            return None
        needs_refs = holds_references(dtype)
        value_field = self.classes[path].h5_fields.get("value")
        datetimes = path in self.datetimes or (
            value_field is not None and value_field.dtype == "isodatetime")
        if datetimes and shape != ():
            return IsoDatetimeArray(self.source, path, tuple(shape), dtype)
        array = H5Array(self.source, path, tuple(shape), dtype)
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
        return self._value_of(path, child.target)

    # -- instantiation -------------------------------------------------------------------
    def _instantiate(self, path: str) -> None:
        cls = self.classes[path]
        info = self.class_info(cls)
        raw_attrs = self.index.attrs.get(path, {})
        attrs = {
            name: self._resolve_attr(path, value) if type(value) in _MAYBE_REFS else value
            for name, value in raw_attrs.items()
        }
        kwargs: dict[str, Any] = {"hdf5_path": path}
        object_id = attrs.get("object_id")
        if isinstance(object_id, str):
            kwargs["object_id"] = object_id
        deferred: list[tuple[str, Any]] = []
        for field_name, hdf5_name in info.attributes:
            if hdf5_name in attrs:
                value = _plain(attrs[hdf5_name])
                if value is _PENDING:
                    deferred.append((field_name, hdf5_name))
                else:
                    kwargs[field_name] = value
        children: dict[str, Any] = {}
        if issubclass(cls, Dataset):
            kwargs["value"] = self._dataset_value(path)
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
                if value is _PENDING:
                    deferred.append((field_name, child.name))
                    continue
                if spec.unwrap and isinstance(value, Dataset):
                    value = value.value
                kwargs[field_name] = value
            if info.collections:
                buckets: dict[str, dict[str, Any]] = {f: {} for f, _ in info.collections}
                for name, value in children.items():
                    if name in consumed or value is _PENDING:
                        continue
                    for field_name, target in info.collections:
                        if isinstance(value, target):
                            buckets[field_name][name] = value
                            break
                for field_name, bucket in buckets.items():
                    if bucket:
                        kwargs[field_name] = bucket
        try:
            generic = deferred or cls in _GENERIC
            model = cls.model_construct(**kwargs) if generic else cls(**kwargs)
        except pydantic.ValidationError as exc:
            raise ModelError(_explain(exc, cls), file=self.label, hdf5_path=path) from None
        model._attrs = attrs
        if self.owner is not None:
            adopt(model, self.owner)
        if isinstance(model, Group):
            model._children = children
            if self.index.binding is not None and path in self.index.binding.numeric:
                model._numeric_order = True
        self.models[path] = model
        if deferred:
            self.deferred.append((path, self._closer(path, model, deferred)))

    def _closer(
        self, path: str, model: Node, deferred: list[tuple[str, Any]]
    ) -> Callable[[], None]:
        def close() -> None:
            for field_name, name in deferred:
                if name in model._attrs:
                    value = self._resolve_attr(path, self.index.attrs[path][name])
                    model._attrs[name] = value
                else:
                    child = next(c for c in self.index.children[path] if c.name == name)
                    value = self.models[child.target]
                    model._children[name] = value  # type: ignore[attr-defined]
                    spec = type(model).h5_fields[field_name]
                    if spec.unwrap and isinstance(value, Dataset):
                        value = value.value
                object.__setattr__(model, field_name, value)
                model.__pydantic_fields_set__.add(field_name)
            for name, value in list(getattr(model, "_children", {}).items()):
                if value is _PENDING:
                    child = next(c for c in self.index.children[path] if c.name == name)
                    model._children[name] = self.models[child.target]  # type: ignore[attr-defined]

        return close


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
