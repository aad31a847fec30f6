"""Layouts: a namespace in the spec language plus what binds files without type attributes.

A layout is a folder (shipped ones under ``schemas/layouts/<name>/``) holding a
namespace file with its sources, as any extension has, and ``layout.yaml``, which
says what the spec language cannot:

.. code-block:: yaml

    layout:
      name: rtdc                       # what ``--layout rtdc`` finds
      version: 0.1.0
      namespace: rtdc.namespace.yaml   # beside this file
      root_type: RTDCFile              # the type of ``/``
      types:                           # per type of the namespace, all optional
        ScalarFeature:
          name_pattern: '[a-z][a-z0-9_]*'   # names its objects must have (safe subset)
        Traces:
          order: numeric               # children in numeric name order ("2" before "10")
        RTDCFile:
          text_attributes: ['pipeline:dcnum generation']  # text holding a literal
        Events:
          rows: experiment:event count # every dataset child has this many rows
        Basin:
          keep_whole: true             # never cut by truncate
          basin: true                  # a dcnum basin document: features held elsewhere
        RTDCFile:
          requires: [events]           # reported by name if missing; the rest still checked

Patterns are compiled by ``spec.patterns`` (no backtracking); text attributes are
parsed by ``rules.text``. ``--layout`` takes a shipped name, the folder or its
``layout.yaml``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from h5model.errors import SpecError
from h5model.spec.loader import (
    NamespaceSpec,
    SpecSet,
    _parse_text,
    _read_text,
    _spec_file_text,
    _stored_member,
    find_spec_group,
    namespace_from_documents,
    read_namespace_files,
)
from h5model.spec.patterns import NamePattern, compile_pattern

MANIFEST = "layout.yaml"
ORDERS = ("name", "numeric")
"""How a group's children are listed: HDF5 name order (the default), or numeric."""


@dataclass(frozen=True)
class TypeLayout:
    """What a layout adds to one type."""

    name_pattern: NamePattern | None = None
    order: str = "name"
    text_attributes: frozenset[str] = frozenset()
    rows: str | None = None
    """A collection whose datasets all have one row count, the root attribute named here."""
    keep_whole: bool = False
    """Objects of the type are copied whole by ``truncate`` (e.g. lines of a document; a
    group with everything in it)."""
    basin: bool = False
    """Datasets of the type are dcnum basin documents (``hdf5.basins``): ``validate``
    checks the basin they describe and its mapping."""
    requires: tuple[str, ...] = ()
    """Members (paths relative to the object, e.g. ``events``) the object must hold, each
    reported by name when missing (``layout.required``), even where the spec lets them
    be absent so that the rest of the file is still checked."""
    literals: Mapping[str, Any] = field(default_factory=dict)
    """Only in a layout kept in a file (``h5model embed``): text attribute -> the
    attribute's spec as the layout declared it (dtype of the literal), while the embedded
    spec declares the text that is stored (``stored_documents``)."""


@dataclass(frozen=True)
class Layout:
    """A loaded layout: its namespace and root type, and what each type adds."""

    name: str
    version: str
    namespace: str
    root_type: str
    folder: Path
    namespace_file: Path
    doc: str = ""
    types: dict[str, TypeLayout] = field(default_factory=dict)
    read: dict[str, NamespaceSpec] = field(default_factory=dict, repr=False)
    """The namespaces of the namespace file, as read with the layout (parsed once)."""

    def of(self, type_name: str | None) -> TypeLayout:
        return self.types.get(type_name or "", _NOTHING)

    def namespaces(self) -> dict[str, NamespaceSpec]:
        """The layout's namespace (and any others its namespace file holds), read."""
        return dict(self.read) if self.read else read_namespace_files([self.namespace_file])


_NOTHING = TypeLayout()


def shipped_folder() -> Path | None:
    """Where the shipped layouts are: the installed package data, or the source tree."""
    import importlib.resources  # only when asked: it costs import time

    try:
        found = importlib.resources.files("h5model._layouts")
        path = Path(str(found))
        if path.is_dir():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    here = Path(__file__).resolve().parents[3] / "schemas" / "layouts"
    return here if here.is_dir() else None


def shipped() -> dict[str, Layout]:
    """Every shipped layout by name."""
    folder = shipped_folder()
    if folder is None:
        return {}
    out = {}
    for manifest in sorted(folder.glob(f"*/{MANIFEST}")):
        layout = read_layout(manifest)
        out[layout.name] = layout
    return out


LayoutLike = str | os.PathLike[str]


def load_layout(layout: Layout | LayoutLike) -> Layout:
    """A layout by shipped name, folder or ``layout.yaml`` path."""
    if isinstance(layout, Layout):
        return layout
    path = Path(layout)
    if path.is_dir():
        return read_layout(path / MANIFEST)
    if path.is_file():
        return read_layout(path)
    folder = shipped_folder()
    if isinstance(layout, str) and folder is not None and layout.isidentifier():
        candidate = folder / layout / MANIFEST
        if candidate.is_file():
            return read_layout(candidate)
    names = ", ".join(sorted(shipped())) or "none"
    raise SpecError(f"no layout {str(layout)!r}: neither a shipped layout ({names}) nor a "
                    f"folder or {MANIFEST} file", file=str(layout))


def read_layout(manifest: Path) -> Layout:
    """Read and check one ``layout.yaml``."""
    label = str(manifest)
    shipped_at = shipped_folder()
    trusted = shipped_at is not None and manifest.resolve().is_relative_to(shipped_at.resolve())
    document = _parse_text(_spec_file_text(manifest, label), label, yaml_ok=True,
                           trusted=trusted)
    body = document.get("layout") if isinstance(document, dict) else None
    if not isinstance(body, dict):
        raise SpecError(f"expected a mapping with a 'layout' entry in {MANIFEST}", file=label)
    namespace_file = _text(body, "namespace", label)
    folder = manifest.resolve().parent
    namespace_path = (folder / namespace_file).resolve()
    if not namespace_path.is_relative_to(folder):
        raise SpecError("the namespace file lies outside the layout's folder", file=label)
    namespaces = read_namespace_files([namespace_path], trusted=trusted)
    if not namespaces:
        raise SpecError("the namespace file defines no namespace", file=label)
    return _from_body(body, next(iter(namespaces)), namespaces, folder, namespace_path, label)


def _from_body(body: dict[str, Any], namespace: str, namespaces: dict[str, NamespaceSpec],
               folder: Path, namespace_path: Path, label: str) -> Layout:
    """A layout from the body of its manifest, its namespace already read."""
    known = {"name", "version", "namespace", "root_type", "doc", "types"}
    unknown = set(body) - known
    if unknown:
        raise SpecError(f"unexpected keys {sorted(map(str, unknown))}", file=label,
                        hdf5_path="layout")
    name = _text(body, "name", label)
    root_type = _text(body, "root_type", label)
    if not name.isidentifier():
        raise SpecError(f"layout name {name!r} must be an identifier", file=label)
    types_raw = body.get("types") or {}
    if not isinstance(types_raw, dict):
        raise SpecError("'types' must be a mapping", file=label, hdf5_path="layout/types")
    defined = dict(namespaces[namespace].types())
    if root_type not in defined:
        raise SpecError(f"root_type {root_type!r} is not defined in namespace {namespace!r}",
                        file=label)
    types = {}
    for type_name, entry in types_raw.items():
        where = f"layout/types/{type_name}"
        if type_name not in defined:
            raise SpecError(f"type {type_name!r} is not defined in namespace {namespace!r}",
                            file=label, hdf5_path=where)
        types[str(type_name)] = _type_layout(entry, label, where)
    version = body.get("version")
    return Layout(name=name, version=str(version or namespaces[namespace].version),
                  namespace=namespace, root_type=root_type, folder=folder,
                  namespace_file=namespace_path, doc=str(body.get("doc") or ""), types=types,
                  read=namespaces)


def layout_from_documents(documents: dict[str, Any], body: dict[str, Any],
                          label: str) -> Layout:
    """A layout whose namespace is given as documents (``namespace`` plus each source by
    name) rather than files: one derived from model classes (``models.declared``)."""
    namespace = namespace_from_documents(documents, label)
    namespaces = {namespace.name: namespace}
    return _from_body(body, namespace.name, namespaces, Path("."), Path(label), label)


# -- a layout kept in the file it describes (``h5model embed``) ---------------------------------
EMBEDDED = "layout"
"""The member of the layout namespace's spec group (``/specifications/<ns>/<version>/``)
holding the layout, beside the namespace's sources: HDMF readers read only the sources
their namespace document names, and pass it by."""


def layout_document(layout: Layout,
                    literals: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The layout as a JSON-able document, to embed beside its namespace's specs;
    ``literals`` (type -> attribute -> its declared spec) as ``stored_documents`` gives."""
    types: dict[str, Any] = {}
    for type_name, says in sorted(layout.types.items()):
        entry: dict[str, Any] = {}
        if says.name_pattern is not None:
            entry["name_pattern"] = says.name_pattern.text
        if says.order != "name":
            entry["order"] = says.order
        if says.text_attributes:
            entry["text_attributes"] = sorted(says.text_attributes)
        if says.rows is not None:
            entry["rows"] = says.rows
        if says.keep_whole:
            entry["keep_whole"] = True
        if says.basin:
            entry["basin"] = True
        if says.requires:
            entry["requires"] = list(says.requires)
        declared = (literals or {}).get(type_name) or says.literals
        if declared:
            entry["literals"] = {k: dict(v) for k, v in sorted(declared.items())}
        types[type_name] = entry
    body = {"name": layout.name, "version": layout.version, "root_type": layout.root_type,
            "doc": layout.doc, "types": types}
    return {"layout": body}


_TEXT_DTYPES = frozenset({"text", "utf", "utf8", "utf-8", "ascii", "str", "bytes"})
_TYPE_KEYS = ("data_type_def", "neurodata_type_def")


def stored_documents(documents: Mapping[str, Any], layout: Layout
                     ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A layout namespace's documents as a file embeds them, and what they no longer say.

    An attribute the layout keeps as text holding a literal is declared as the scalar
    text the file stores, so that readers of the embedded spec alone (hdmf) read what is
    there; its declared spec (the literal's dtype, shape) is returned, type -> attribute
    -> spec, to keep in the embedded layout, where ``embedded_layout`` takes it back."""
    out: dict[str, Any] = json.loads(json.dumps(dict(documents), default=str))
    literals: dict[str, dict[str, Any]] = {}
    for name, document in out.items():
        if name == "namespace":
            continue
        for definition in _definitions_in(document):
            type_name = next((definition[k] for k in _TYPE_KEYS if definition.get(k)), None)
            says = layout.types.get(str(type_name)) if type_name else None
            if says is None or not says.text_attributes:
                continue
            for attribute in definition.get("attributes") or []:
                if not isinstance(attribute, dict) or attribute.get(
                        "name") not in says.text_attributes:
                    continue
                if str(attribute.get("dtype", "text")) in _TEXT_DTYPES and not attribute.get(
                        "shape"):
                    continue  # already what is stored
                literals.setdefault(str(type_name), {})[attribute["name"]] = dict(attribute)
                for key in ("shape", "dims", "value", "default_value"):
                    attribute.pop(key, None)
                attribute["dtype"] = "text"
    return out, literals


def _definitions_in(document: Any) -> Iterator[dict[str, Any]]:
    """Every group and dataset definition of a source document, nested ones too."""
    stack = [document] if isinstance(document, dict) else []
    while stack:
        current = stack.pop()
        yield current
        for key in ("groups", "datasets"):
            stack.extend(d for d in current.get(key) or [] if isinstance(d, dict))


def _restore_literals(specs: SpecSet, layout: Layout) -> None:
    """Put back in ``specs`` (in place) the attribute specs ``stored_documents`` took out,
    so that text attributes read as their literals' types, as under the layout itself."""
    declared = {t: says.literals for t, says in layout.types.items() if says.literals}
    namespace = specs.namespaces.get(layout.namespace)
    if not declared or namespace is None:
        return
    documents: dict[str, Any] = json.loads(json.dumps(dict(namespace.documents), default=str))
    for name, document in documents.items():
        if name == "namespace":
            continue
        for definition in _definitions_in(document):
            type_name = next((definition[k] for k in _TYPE_KEYS if definition.get(k)), None)
            wanted = declared.get(str(type_name)) if type_name else None
            if not wanted:
                continue
            definition["attributes"] = [
                dict(wanted[a["name"]]) if isinstance(a, dict) and a.get("name") in wanted
                else a for a in definition.get("attributes") or []]
    restored = namespace_from_documents(documents, namespace.origin)
    specs.namespaces[layout.namespace] = restored
    specs._types[layout.namespace] = dict(restored.types())


def embedded_layout(file: Any, label: str, specs: SpecSet) -> Layout | None:
    """The layout a file keeps beside the specs it embeds (``h5model embed``), or None.

    ``file`` is the open h5py file, ``specs`` the specs read from it; attributes the
    embedded spec declares as the text they store get back the literal types the layout
    declared (``stored_documents``), in ``specs`` itself."""
    found = find_spec_group(file, label)
    if found is None:
        return None
    spec_group, base = found
    for namespace in specs.namespaces.values():
        where = f"{base.rstrip('/')}/{namespace.name}"
        ns_group = _stored_member(spec_group, namespace.name, where, label)
        if ns_group is None or not hasattr(ns_group, "keys"):
            continue
        version = namespace.version or "unversioned"
        group = _stored_member(ns_group, version, f"{where}/{version}", label)
        if group is None or not hasattr(group, "keys"):
            continue
        layout = _layout_in(group, label, f"{where}/{version}", namespace,
                            dict(specs.namespaces))
        if layout is not None:
            _restore_literals(specs, layout)
            return layout
    return None


def _layout_in(group: Any, label: str, where: str, namespace: NamespaceSpec,
               namespaces: dict[str, NamespaceSpec]) -> Layout | None:
    member = _stored_member(group, EMBEDDED, f"{where}/{EMBEDDED}", label)
    if member is None:
        return None
    at = f"{where}/{EMBEDDED}"
    document = _parse_text(_read_text(member, at), at, yaml_ok=False)
    body = document.get("layout") if isinstance(document, dict) else None
    if not isinstance(body, dict) or "namespace" in body:
        raise SpecError("expected a mapping with a 'layout' entry", file=label, hdf5_path=at)
    try:
        return _from_body(body, namespace.name, namespaces, Path(label).parent, Path(label),
                          f"{label}:{at}")
    except SpecError as exc:
        raise SpecError(exc.message, file=label, hdf5_path=at) from None


def _type_layout(entry: Any, label: str, where: str) -> TypeLayout:
    if not isinstance(entry, dict):
        raise SpecError("expected a mapping", file=label, hdf5_path=where)
    unknown = set(entry) - {"name_pattern", "order", "text_attributes", "rows", "keep_whole",
                            "basin", "literals", "requires"}
    if unknown:
        raise SpecError(f"unexpected keys {sorted(map(str, unknown))}", file=label,
                        hdf5_path=where)
    pattern = entry.get("name_pattern")
    compiled = None
    if pattern is not None:
        try:
            compiled = compile_pattern(pattern, where)
        except SpecError as exc:
            raise SpecError(exc.message, file=label, hdf5_path=where) from None
    order = entry.get("order", "name")
    if order not in ORDERS:
        raise SpecError(f"order must be one of {', '.join(ORDERS)}, not {order!r}",
                        file=label, hdf5_path=where)
    texts = entry.get("text_attributes") or []
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise SpecError("text_attributes must be a list of attribute names", file=label,
                        hdf5_path=where)
    rows = entry.get("rows")
    if rows is not None and not isinstance(rows, str):
        raise SpecError("rows must name a root attribute", file=label, hdf5_path=where)
    literals = entry.get("literals") or {}
    if not isinstance(literals, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and v.get("name") == k
            for k, v in literals.items()):
        raise SpecError("literals must map attribute names to their specs", file=label,
                        hdf5_path=where)
    requires = entry.get("requires") or []
    if not isinstance(requires, list) or not all(
            isinstance(r, str) and r and not r.startswith("/") and ".." not in r.split("/")
            for r in requires):
        raise SpecError("requires must be a list of member paths relative to the object",
                        file=label, hdf5_path=where)
    return TypeLayout(compiled, order, frozenset(texts), rows, bool(entry.get("keep_whole")),
                      bool(entry.get("basin")), tuple(requires), literals)


def _text(body: dict[str, Any], key: str, label: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise SpecError(f"'{key}' must be given as text", file=label, hdf5_path="layout")
    return value
