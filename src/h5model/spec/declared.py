"""Layouts written in Python: model classes whose annotations say what the file holds.

A user subclasses ``Group``/``Dataset`` and annotates fields; ``derive(Root)`` walks the
classes reachable from the root and derives the namespace in the spec language that
describes them, the layout it makes, and per class how each field maps onto the file
(``models.declared`` turns that into what generated classes carry), so that the same
classes read files (binding by position under the derived layout), validate them, and
write self-describing ones. The classes are only inspected here (their pydantic fields
and annotations), never imported from ``models``: validation sees the same layout.

- a field holding a ``Group``/``Dataset`` subclass is a named subgroup/dataset;
- a ``dict[str, SomeClass]`` field holds the unnamed children of that type
  (``Children(min_items=...)`` bounds how many);
- ``value`` of a ``Dataset`` is its data: ``Annotated[..., ArrayOf(dtype, shapes)]``;
- every other field is an attribute: its dtype from the annotation (``int``: int64,
  ``float``: float64, ``str``: text, ``bool``), or ``ArrayOf``, or ``Attr(dtype=...)``;
  ``Attr(name=...)`` stores it under another name (``"imaging:pixel size"``);
- a field without a default is required; the class docstring is the type's doc.

Each class becomes the type of its own name; a class extending another declared class
extends that type. The namespace is ``h5_namespace`` of the root (default: the root's
class name in lower case) at ``h5_version`` (default ``0.1.0``).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from typing import Any

from h5model.errors import SpecError
from h5model.spec.layout import Layout, layout_from_documents, load_layout


@dataclass(frozen=True)
class Attr:
    """An attribute's HDF5 name (when it is not the field's) and spec dtype."""

    name: str | None = None
    dtype: str | None = None


@dataclass(frozen=True)
class Children:
    """How many unnamed children a ``dict[str, SomeClass]`` field holds."""

    min_items: int = 0
    max_items: int | None = None


_SCALARS: dict[Any, str] = {bool: "bool", int: "int64", float: "float64", str: "text",
                            bytes: "ascii", dt.datetime: "isodatetime", dt.date: "isodatetime"}


def _is_node(x: Any) -> bool:
    return isinstance(x, type) and hasattr(x, "h5_kind") and hasattr(x, "model_fields")


def _is_base(x: Any) -> bool:
    """h5model's own ``Node``/``Group``/``Dataset`` (and generated classes' bases)."""
    return getattr(x, "__module__", "").startswith("h5model.")


def _is_dataset(x: Any) -> bool:
    return getattr(x, "h5_kind", None) == "dataset"


FieldMap = dict[str, Any]
"""How one field maps onto the file: ``models.nodes.H5Field``'s arguments."""


@dataclass(frozen=True)
class Derivation:
    """What ``derive`` found from a root class: the namespace, its documents, the layout
    it makes, the classes by type name, and each class's field mapping."""

    namespace: str
    version: str
    documents: dict[str, Any]
    layout: Layout
    classes: dict[str, type[Any]]
    fields: dict[str, dict[str, FieldMap]]


_DERIVED: dict[type[Any], Derivation] = {}


def is_layout_class(x: Any) -> bool:
    """True for a model class a layout can be derived from (a user's Group subclass)."""
    return _is_node(x) and not _is_base(x) and not _is_dataset(x)


def derive(root: type[Any]) -> Derivation:
    """Derive types and a layout from ``root`` and the classes its annotations reach."""
    done = _DERIVED.get(root)
    if done is not None:
        return done
    if not is_layout_class(root):
        raise SpecError(f"a layout's root class must subclass h5model.Group, not {root!r}")
    namespace = str(root.__dict__.get("h5_namespace") or root.__name__.lower())
    version = str(root.__dict__.get("h5_version") or "0.1.0")
    classes: dict[str, type[Any]] = {}
    queue: list[type[Any]] = [root]
    specs: dict[str, dict[str, Any]] = {}
    fields: dict[str, dict[str, FieldMap]] = {}
    while queue:
        cls = queue.pop(0)
        if cls.__name__ in classes:
            if classes[cls.__name__] is not cls:
                raise SpecError(f"two classes named {cls.__name__!r} in one layout")
            continue
        classes[cls.__name__] = cls
        spec, fields[cls.__name__], reached = _derive(cls)
        specs[cls.__name__] = spec
        queue.extend(reached)
    documents = _documents(namespace, version, root, specs)
    layout = layout_from_documents(documents, {"name": namespace, "version": version,
                                               "root_type": root.__name__},
                                   f"{root.__module__}.{root.__qualname__}")
    derived = Derivation(namespace, version, documents, layout, classes, fields)
    _DERIVED[root] = derived
    return derived


def _documents(namespace: str, version: str, root: type[Any],
               specs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    source = f"{namespace}.types"
    groups = [s for s in specs.values() if s.pop("_kind") == "group"]
    datasets = [s for s in specs.values() if s not in groups]
    return {
        "namespace": {"namespaces": [{
            "name": namespace, "version": version, "doc": _doc(root),
            "author": ["h5model"], "contact": ["h5model"],
            "schema": [{"source": source}],
        }]},
        source: {"groups": groups, "datasets": datasets},
    }


def _doc(cls: type[Any]) -> str:
    own = cls.__dict__.get("__doc__")
    return " ".join(own.split()) if isinstance(own, str) and own.strip() else cls.__name__


def _derive(cls: type[Any]) -> tuple[dict[str, Any], dict[str, FieldMap], list[type[Any]]]:
    """The spec of ``cls``'s type, its ``h5_fields``, and the classes it reaches."""
    kind = "dataset" if _is_dataset(cls) else "group"
    spec: dict[str, Any] = {"_kind": kind, "data_type_def": cls.__name__, "doc": _doc(cls)}
    reached: list[type[Any]] = []
    parent = next((b for b in cls.__mro__[1:] if _is_node(b) and not _is_base(b)), None)
    if parent is not None:
        spec["data_type_inc"] = parent.__name__
        reached.append(parent)
    inherited = set(getattr(parent, "model_fields", {})) if parent is not None else set()
    fields: dict[str, FieldMap] = {}
    attributes: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    datasets: list[dict[str, Any]] = []
    for field_name, info in cls.model_fields.items():
        if field_name in ("hdf5_path", "object_id"):
            continue
        hint = info.annotation  # pydantic's, resolved; Annotated metadata kept apart
        base, extras = _unwrap(hint)
        extras = [*info.metadata, *extras]
        required = info.is_required()
        own = field_name not in inherited
        doc = info.description or field_name.replace("_", " ")
        target = _node_class(base)
        if field_name == "value" and kind == "dataset":
            dtype, shapes = _array(base, extras)
            fields[field_name] = {"role": "value", "required": True, "dtype": dtype}
            if own:
                if dtype is not None:
                    spec["dtype"] = dtype
                if shapes:
                    spec["shape"] = [list(s) for s in shapes] if len(shapes) > 1 \
                        else list(shapes[0])
            continue
        if target is not None and _is_mapping(base):
            bounds = next((e for e in extras if isinstance(e, Children)), Children())
            fields[field_name] = {"role": "children", "min_items": bounds.min_items,
                                  "max_items": bounds.max_items,
                                  "target_type": target.__name__}
            quantity: Any = "+" if bounds.min_items >= 1 else "*"
            entry = {"data_type_inc": target.__name__, "quantity": quantity, "doc": doc}
            if own:
                (datasets if _is_dataset(target) else groups).append(entry)
            reached.append(target)
        elif target is not None:
            role = "dataset" if _is_dataset(target) else "group"
            fields[field_name] = {"role": role, "name": field_name, "required": required,
                                  "target_type": target.__name__}
            entry = {"name": field_name, "data_type_inc": target.__name__, "doc": doc}
            if not required:
                entry["quantity"] = "?"
            if own:
                (datasets if role == "dataset" else groups).append(entry)
            reached.append(target)
        else:
            attr = next((e for e in extras if isinstance(e, Attr)), Attr())
            dtype, shapes = _array(base, extras)
            dtype = attr.dtype or dtype
            if dtype is None:
                raise SpecError(f"{cls.__name__}.{field_name}: no spec dtype for "
                                f"{hint!r}; annotate it with Attr(dtype=...) or ArrayOf")
            name = attr.name or field_name
            fields[field_name] = {"role": "attribute", "name": name, "required": required,
                                  "dtype": dtype}
            entry = {"name": name, "dtype": dtype, "doc": doc}
            if shapes:
                entry["shape"] = list(shapes[0])
            if not required:
                entry["required"] = False
            if own:
                attributes.append(entry)
    for key, bucket in (("attributes", attributes), ("groups", groups), ("datasets", datasets)):
        if bucket:
            spec[key] = bucket
    return spec, fields, reached


def _unwrap(hint: Any) -> tuple[Any, list[Any]]:
    """(the type without ``Annotated`` and ``None``, the ``Annotated`` metadata)."""
    extras: list[Any] = []
    while typing.get_origin(hint) is typing.Annotated:
        args = typing.get_args(hint)
        hint, extras = args[0], [*extras, *args[1:]]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) == 1:
            inner, more = _unwrap(members[0])
            return inner, extras + more
    return hint, extras


def _is_mapping(hint: Any) -> bool:
    return typing.get_origin(hint) in (dict, typing.Mapping, typing.get_origin(typing.Mapping))


def _node_class(hint: Any) -> type[Any] | None:
    """The declared Node subclass a field holds (directly or as a dict's values)."""
    candidates = [hint]
    if _is_mapping(hint):
        candidates = list(typing.get_args(hint)[1:])
    for candidate in candidates:
        candidate = _unwrap(candidate)[0]
        if _is_node(candidate) and not _is_base(candidate):
            return candidate  # type: ignore[no-any-return]
    return None


def _array(hint: Any, extras: list[Any]) -> tuple[str | None, tuple[Any, ...] | None]:
    """(spec dtype, allowed shapes) from ``ArrayOf`` or a scalar annotation."""
    for extra in extras:
        if type(extra).__name__ == "ArrayOf" and hasattr(extra, "shapes"):  # models.constraints
            return extra.dtype, extra.shapes
    return _SCALARS.get(hint), None


def resolve_layout(layout: Any) -> Layout:
    """A layout by shipped name, folder, ``layout.yaml``, ``Layout``, or root model class."""
    if is_layout_class(layout):
        return derive(layout).layout
    return load_layout(layout)
