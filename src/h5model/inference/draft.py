"""How a file's objects become the types of a drafted layout.

- Every object gets a structural signature, bottom-up: a dataset its dtype family
  (number, bool, text, compound with its fields, reference, other), its number of
  dimensions and its attributes; a group its attributes, its named children (name and
  signature) and its collections.
- In each group, at least two siblings of one kind sharing one signature become a
  collection: unnamed children of one type (``quantity: '+'``). A group gets at most
  one collection of groups and one of datasets (other siblings stay named), so binding
  never has to choose between two collection types.
- Objects sharing a signature anywhere in the file share one type, named after the
  first one met (from the root down).
- Dtypes are generalised over a type's objects (one dtype kept, several numeric ones
  ``numeric``); shapes keep the dimensions the objects agree on, except the first
  (rows grow), and make the others ``null``.
- Attributes are typed by their values (an object reference by its target's type;
  region references and arrays of references are left out); soft links are declared
  with their target's type. A text attribute
  holding a number, a boolean or a list of numbers in every object of its type is
  declared with that dtype and listed in the layout's ``text_attributes``.
- A collection whose members all have numeric names gets ``name_pattern: '[0-9]+'``,
  and its parent ``order: numeric``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import yaml

from h5model.errors import H5ModelError
from h5model.hdf5.graph import FileIndex, build_graph
from h5model.hdf5.kinds import EdgeLabel, LinkKind, NodeKind
from h5model.hdf5.open import open_hdf5
from h5model.rules.dtypes import holds_references, is_text
from h5model.rules.text import LiteralError, parse_literal
from h5model.spec.loader import find_spec_group

VERSION = "0.1.0"
_PASSES = 4
"""At most this many signature passes (each refines by the last's reference targets)."""
_SKIPPED_ATTRIBUTES = frozenset({".specloc"})
_NUMERIC = re.compile(r"[0-9]+")
Signature = tuple[Any, ...]


@dataclass
class _Object:
    path: str
    name: str
    kind: str  # "group" or "dataset"
    attrs: dict[str, Any]
    shape: tuple[int, ...] | None = None
    dtype: np.dtype | None = None
    signature: Signature = ()
    named: list[tuple[str, str]] = field(default_factory=list)
    """(name, path) of the children given by name."""
    links: list[tuple[str, str]] = field(default_factory=list)
    """(name, target path) of the soft links to objects of the file."""
    collections: dict[str, list[str]] = field(default_factory=dict)
    """kind -> the paths of the unnamed children of one type."""


@dataclass(frozen=True)
class Draft:
    """What ``infer`` wrote: the folder, its namespace, root type and types."""

    folder: Path
    namespace: str
    root_type: str
    types: dict[str, dict[str, Any]]
    layout_file: Path


def infer(path: str | Path, out: str | Path, *, name: str | None = None,
          overwrite: bool = False) -> Draft:
    """Draft a layout for the file at ``path`` into the folder ``out`` (created):
    ``<name>.namespace.yaml``, ``<name>.types.yaml`` and ``layout.yaml``. ``name``: the
    layout's and namespace's name (default: from the file's name)."""
    source, folder = Path(path), Path(out)
    label = str(source)
    namespace = _identifier(name or f"{source.stem}_layout").lower()
    files = {f"{namespace}.namespace.yaml", f"{namespace}.types.yaml", "layout.yaml"}
    taken = sorted(f for f in files if (folder / f).exists())
    if taken and not overwrite:
        raise H5ModelError(f"{', '.join(taken)} exist(s) in {folder}; pass overwrite=True "
                           "(--overwrite) to replace", file=label)
    with open_hdf5(source) as h5:
        index = build_graph(h5, label)
        found = find_spec_group(h5, label)
        skip = {found[1]} if found is not None else set()
    drafter = _Drafter(index, skip, f"{_camel(source.stem) or 'Root'}File", label)
    types, extras = drafter.run()
    root_type = drafter.names[drafter.objects["/"].signature]
    folder.mkdir(parents=True, exist_ok=True)
    doc = f"Drafted by h5model infer from {source.name}."
    _dump(folder / f"{namespace}.namespace.yaml", {"namespaces": [{
        "name": namespace, "version": VERSION, "doc": doc, "author": ["h5model infer"],
        "contact": ["h5model infer"], "schema": [{"source": f"{namespace}.types.yaml"}],
    }]})
    groups = [spec for spec in types.values() if spec.pop("_kind") == "group"]
    datasets = [spec for spec in types.values() if spec not in groups]
    body: dict[str, Any] = {}
    if groups:
        body["groups"] = groups
    if datasets:
        body["datasets"] = datasets
    _dump(folder / f"{namespace}.types.yaml", body)
    layout: dict[str, Any] = {"name": namespace, "version": VERSION,
                              "namespace": f"{namespace}.namespace.yaml",
                              "root_type": root_type, "doc": doc}
    if extras:
        layout["types"] = extras
    layout_file = folder / "layout.yaml"
    _dump(layout_file, {"layout": layout})
    return Draft(folder, namespace, root_type, types, layout_file)


def _dump(path: Path, document: Any) -> None:
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True,
                                   width=96), encoding="utf-8")


class _Drafter:
    def __init__(self, index: FileIndex, skip: set[str], root_name: str, label: str) -> None:
        self.index, self.skip, self.root_name, self.label = index, skip, root_name, label
        self.objects: dict[str, _Object] = {}
        self.names: dict[Signature, str] = {}
        self.members: dict[Signature, list[_Object]] = defaultdict(list)
        self.previous: dict[str, Signature] = {}

    def run(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        self._signatures()
        self._name_types()
        types: dict[str, dict[str, Any]] = {}
        extras: dict[str, dict[str, Any]] = defaultdict(dict)
        for signature, name in self.names.items():
            members = self.members[signature]
            spec, texts = self._type(name, members)
            types[name] = spec
            if texts:
                extras[name]["text_attributes"] = texts
        self._numeric_names(extras)
        return types, dict(extras)

    # -- signatures, bottom-up ----------------------------------------------------------------
    def _children(self, path: str) -> list[tuple[str, str, str]]:
        """(name, path, kind) of the objects stored under ``path`` at their own path."""
        out = []
        for child in self.index.children.get(path, ()):
            target = child.target
            if child.kind is not LinkKind.HARD or target in self.skip:
                continue
            if target != f"{path.rstrip('/')}/{child.name}":
                continue  # a second hard link to an object described where it lives
            kind = self.index.graph.nodes[target]["kind"]
            if kind is NodeKind.GROUP:
                out.append((child.name, target, "group"))
            elif kind is NodeKind.DATASET:
                out.append((child.name, target, "dataset"))
        return out

    def _signatures(self) -> None:
        """Signatures, refined until stable: a reference attribute's part of a signature
        is its target's signature of the pass before (targets lie anywhere in the file),
        so objects whose references lead to objects of different types get different
        types, and each reference attribute has one target type."""
        previous: dict[str, Signature] = {}
        for _ in range(_PASSES):
            self.objects, self.members = {}, defaultdict(list)
            self.previous = previous
            self._one_pass()
            current = {path: obj.signature for path, obj in self.objects.items()}
            if len(set(current.values())) == len(set(previous.values())):
                break
            previous = current

    def _one_pass(self) -> None:
        order: list[str] = []
        stack = ["/"]
        while stack:  # preorder; signatures are computed in reverse (children first)
            path = stack.pop()
            order.append(path)
            stack.extend(p for _, p, kind in self._children(path) if kind == "group")
        for path in reversed(order):
            for name, child, kind in self._children(path):
                if kind == "dataset":
                    self._dataset(name, child)
            self._group(path)

    def _soft_links(self, path: str) -> list[tuple[str, str]]:
        """(name, target) of the soft links of ``path`` to groups and datasets of the file."""
        out = []
        for child in self.index.children.get(path, ()):
            if child.kind is LinkKind.SOFT and child.target not in self.skip:
                node = self.index.graph.nodes.get(child.target)
                if node is not None and node["kind"] in (NodeKind.GROUP, NodeKind.DATASET):
                    out.append((child.name, child.target))
        return out

    def _attrs(self, path: str) -> dict[str, Any]:
        attrs = self.index.attrs.get(path, {})
        return {k: v for k, v in attrs.items()
                if k not in _SKIPPED_ATTRIBUTES and _attr_family(v) is not None}

    def _reference_target(self, path: str, attribute: str,
                          among: dict[str, Any] | None = None) -> str | None:
        """The path an object reference attribute points at (None: none in the file)."""
        known = self.objects if among is None else among
        for _, target, data in self.index.graph.out_edges(path, data=True):
            if data.get("label") is EdgeLabel.REFERENCE and data.get("name") == attribute:
                return target if target in known else None
        return None

    def _attr_signature(self, path: str, attrs: dict[str, Any]) -> frozenset[Any]:
        parts = []
        for name, value in attrs.items():
            family = _attr_family(value)
            target: Any = None
            if family == ("reference", 0):
                found = self._reference_target(path, name, self.previous)
                target = self.previous.get(found) if found is not None else None
            parts.append((name, family, target))
        return frozenset(parts)

    def _dataset(self, name: str, path: str) -> None:
        data = self.index.graph.nodes[path]
        shape = data.get("shape")
        dtype = data.get("dtype")
        attrs = self._attrs(path)
        rank = len(shape) if shape is not None else -1
        signature = ("dataset", _dtype_family(dtype), rank, self._attr_signature(path, attrs))
        obj = _Object(path, name, "dataset", attrs, shape, dtype, signature)
        self._add(obj)

    def _group(self, path: str) -> None:
        attrs = self._attrs(path)
        name = path.rstrip("/").rpartition("/")[2]
        obj = _Object(path, name, "group", attrs)
        children = self._children(path)
        by_signature: dict[tuple[str, Signature], list[tuple[str, str]]] = defaultdict(list)
        for child_name, child, kind in children:
            by_signature[(kind, self.objects[child].signature)].append((child_name, child))
        collected: set[str] = set()
        for kind in ("group", "dataset"):
            runs = [(key, items) for key, items in by_signature.items()
                    if key[0] == kind and len(items) >= 2]
            if runs:
                _, items = max(runs, key=lambda run: len(run[1]))
                obj.collections[kind] = [child for _, child in items]
                collected.update(child for _, child in items)
        obj.named = [(n, c) for n, c, _ in children if c not in collected]
        obj.links = self._soft_links(path)
        obj.signature = (
            "group", self._attr_signature(path, attrs),
            frozenset((n, self.objects[c].signature) for n, c in obj.named),
            frozenset(n for n, _ in obj.links),
            frozenset((kind, self.objects[paths[0]].signature)
                      for kind, paths in obj.collections.items()),
        )
        self._add(obj)

    def _add(self, obj: _Object) -> None:
        self.objects[obj.path] = obj
        self.members[obj.signature].append(obj)

    # -- names, top-down --------------------------------------------------------------------
    def _name_types(self) -> None:
        used: set[str] = set()
        queue = [("/", "")]
        while queue:
            path, parent_name = queue.pop(0)
            obj = self.objects[path]
            if obj.signature not in self.names:
                if path == "/":
                    base = self.root_name
                else:
                    base = _camel(obj.name) if re.search("[A-Za-z]", obj.name) else ""
                    base = base or f"{parent_name or 'Item'}Item"
                name, n = base, 1
                while name in used:
                    n += 1
                    name = f"{base}{n}"
                used.add(name)
                self.names[obj.signature] = name
            if obj.kind == "group":
                mine = self.names[obj.signature]
                queue.extend((c, mine) for _, c in obj.named)
                queue.extend((c, mine) for paths in obj.collections.values() for c in paths)

    # -- one type -----------------------------------------------------------------------------
    def _type(self, name: str, members: list[_Object]) -> tuple[dict[str, Any], list[str]]:
        first = members[0]
        where = ", ".join(m.path for m in members[:3]) + (", ..." if len(members) > 3 else "")
        spec: dict[str, Any] = {"_kind": first.kind, "data_type_def": name,
                                "doc": f"Drafted from {len(members)} object(s): {where}"}
        if first.kind == "dataset":
            dtype = _merge([_spec_dtype(m.dtype) for m in members])
            if dtype is not None:
                spec["dtype"] = dtype
            shape = _merge_shape([m.shape for m in members])
            if shape is not None:
                spec["shape"] = shape
        attributes, texts = self._attributes(members)
        if attributes:
            spec["attributes"] = attributes
        if first.kind == "group":
            groups: list[dict[str, Any]] = []
            datasets: list[dict[str, Any]] = []
            for child_name, child in sorted(first.named):
                target = self.objects[child]
                entry = {"name": child_name, "data_type_inc": self.names[target.signature],
                         "doc": f"{child_name}."}
                (groups if target.kind == "group" else datasets).append(entry)
            for kind, paths in sorted(first.collections.items()):
                target = self.objects[paths[0]]
                entry = {"data_type_inc": self.names[target.signature], "quantity": "+",
                         "doc": f"Objects like {target.name}."}
                (groups if kind == "group" else datasets).append(entry)
            if groups:
                spec["groups"] = groups
            if datasets:
                spec["datasets"] = datasets
            links = []
            for link_name, _ in sorted(first.links):
                targets = {self._type_of(dict(m.links)[link_name]) for m in members}
                if len(targets) == 1 and None not in targets:
                    links.append({"name": link_name, "target_type": targets.pop(),
                                  "doc": f"{link_name}."})
            if links:
                spec["links"] = links
        return spec, texts

    def _type_of(self, path: str) -> str | None:
        obj = self.objects.get(path)
        return self.names.get(obj.signature) if obj is not None else None

    def _attributes(self, members: list[_Object]) -> tuple[list[dict[str, Any]], list[str]]:
        out, texts = [], []
        for attr in sorted(members[0].attrs):
            values = [m.attrs[attr] for m in members]
            literal = _literal_dtype(values)
            entry: dict[str, Any] = {"name": attr}
            if _attr_family(values[0]) == ("reference", 0):
                targets = {self._type_of(self._reference_target(m.path, attr) or "")
                           for m in members}
                if len(targets) != 1 or None in targets:
                    continue
                entry["dtype"] = {"target_type": targets.pop(), "reftype": "object"}
                rank = 0
            elif literal is not None:
                entry["dtype"], rank = literal
                texts.append(attr)
            else:
                dtype = _merge([_value_dtype(v) for v in values])
                if dtype is None:
                    continue
                entry["dtype"] = dtype
                rank = np.ndim(values[0])
            if rank:
                entry["shape"] = [None] * rank
            entry["doc"] = f"{attr}."
            out.append(entry)
        return out, texts

    def _numeric_names(self, extras: dict[str, dict[str, Any]]) -> None:
        """Collections of numerically named members: a name pattern and numeric order."""
        member_names: dict[str, list[str]] = defaultdict(list)
        parents: dict[str, set[str]] = defaultdict(set)
        for obj in self.objects.values():
            for paths in obj.collections.values():
                for path in paths:
                    member = self.objects[path]
                    type_name = self.names[member.signature]
                    member_names[type_name].append(member.name)
                    parents[type_name].add(self.names[obj.signature])
        for type_name, names in member_names.items():
            if all(_NUMERIC.fullmatch(n) for n in names):
                extras[type_name]["name_pattern"] = "[0-9]+"
                for parent in parents[type_name]:
                    extras[parent]["order"] = "numeric"


# -- dtypes ---------------------------------------------------------------------------------
def _dtype_family(dtype: np.dtype | None) -> Any:
    if dtype is None:
        return None
    if is_text(dtype):
        return "text"
    if holds_references(dtype):
        return "reference"
    if dtype.names:
        return ("compound", tuple(dtype.names))
    if dtype.kind == "b":
        return "bool"
    if dtype.kind in "iuf":
        return "number"
    return str(dtype)


def _spec_dtype(dtype: np.dtype | None) -> str | None:
    """The spec dtype of a stored one; None where the spec should not name one."""
    if dtype is None or dtype.names or holds_references(dtype):
        return None
    if is_text(dtype) or dtype.kind == "O":
        return "text"
    if dtype.kind == "b":
        return "bool"
    bits = dtype.itemsize * 8
    if dtype.kind == "f":
        return f"float{bits}" if bits in (32, 64) else "numeric"
    if dtype.kind in "iu" and bits in (8, 16, 32, 64):
        return f"{'u' if dtype.kind == 'u' else ''}int{bits}"
    return None


def _merge(dtypes: list[str | None]) -> str | None:
    distinct = set(dtypes)
    if len(distinct) == 1:
        return dtypes[0]
    if None in distinct or "text" in distinct:
        return None
    return "numeric"


def _merge_shape(shapes: list[tuple[int, ...] | None]) -> list[int | None] | None:
    if any(s is None for s in shapes) or not shapes[0]:
        return None
    rank = len(shapes[0])
    merged: list[int | None] = [None]
    for i in range(1, rank):
        sizes = {s[i] for s in shapes}  # type: ignore[index]
        merged.append(sizes.pop() if len(sizes) == 1 else None)
    return merged


def _attr_family(value: Any) -> tuple[str, int] | None:
    """(family, number of dimensions) of an attribute value; None: not drafted."""
    if isinstance(value, h5py.RegionReference):
        return None
    if isinstance(value, h5py.Reference):
        return ("reference", 0)
    if isinstance(value, str | bytes):
        return ("text", 0)
    array = np.asarray(value)
    if array.dtype.kind == "O":
        flat = array.ravel()
        if flat.size and all(isinstance(v, str | bytes) for v in flat):
            return ("text", array.ndim)
        return None
    family = _dtype_family(array.dtype)
    if family in ("text", "bool", "number"):
        return (family, array.ndim)
    return None


def _value_dtype(value: Any) -> str | None:
    if isinstance(value, str | bytes):
        return "text"
    array = np.asarray(value)
    if array.dtype.kind == "O":
        return "text"
    return _spec_dtype(array.dtype)


def _literal_dtype(values: list[Any]) -> tuple[str, int] | None:
    """(dtype, rank) when every value is text holding a number, boolean or flat list of
    numbers; None otherwise (plain text stays text)."""
    kinds: set[tuple[str, int]] = set()
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            return None
        try:
            parsed = parse_literal(value, None)
        except LiteralError:
            return None
        kind = _literal_kind(parsed)
        if kind is None:
            return None
        kinds.add(kind)
    if len(kinds) == 1:
        return kinds.pop()
    ranks = {k[1] for k in kinds}
    if kinds and all(k[0] in ("int64", "float64") for k in kinds) and len(ranks) == 1:
        return ("float64", ranks.pop())
    return None


def _literal_kind(value: Any) -> tuple[str, int] | None:
    if isinstance(value, bool):
        return ("bool", 0)
    if isinstance(value, int):
        return ("int64", 0)
    if isinstance(value, float):
        return ("float64", 0)
    if isinstance(value, list) and value and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return ("int64" if all(isinstance(v, int) for v in value) else "float64", 1)
    return None


def _camel(name: str) -> str:
    parts = re.findall(r"[A-Za-z0-9]+", name)
    text = "".join(p[:1].upper() + p[1:] for p in parts)
    return text if text[:1].isalpha() else (f"T{text}" if text else "")


def _identifier(name: str) -> str:
    text = re.sub(r"\W+", "_", name).strip("_") or "layout"
    return text if text[0].isalpha() else f"l_{text}"
