"""Spec-driven checks of every typed object: parts present, dtypes, shapes, values, links,
references, quantities, and objects the spec does not define.

Works on what the graph pass already read (attributes, shapes, dtypes), so only
datasets of references are read here, in bounded chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import h5py
import numpy as np

from h5model.errors import SpecError
from h5model.hdf5.graph import TYPE_KEYS, Child, FileIndex, dereference_path
from h5model.hdf5.kinds import LinkKind
from h5model.rules.dtypes import is_reference, stored_kind, widening_problem
from h5model.spec import language
from h5model.spec.loader import SpecSet
from h5model.spec.quantity import quantity
from h5model.spec.resolve import Resolver, merge
from h5model.validation.report import Severity

_BOOKKEEPING_ATTRS = frozenset({"namespace", "object_id", ".specloc", *TYPE_KEYS})
REF_CHUNK = 65536

Emit = Callable[[str, str, str, Severity], None]


class StructureChecker:
    """Checks one file's objects against the specs of their types."""

    def __init__(
        self,
        file: h5py.File,
        index: FileIndex,
        specs: SpecSet,
        emit: Emit,
        skip: Callable[[str], bool],
    ) -> None:
        self.file = file
        self.index = index
        self.graph = index.graph
        self.specs = specs
        self.resolver = Resolver(specs)
        self.emit = emit
        self.skip = skip
        self.done: set[str] = set()
        """Typed objects already checked with their parent's part spec (overrides merged)."""

    # -- entry ------------------------------------------------------------------------------
    def run(self) -> None:
        for path, data in self.graph.nodes(data=True):
            if data["kind"] not in ("group", "dataset") or self.skip(path):
                continue
            if "type" not in data:
                self.check_type_attributes(path)
                continue
            if path in self.done:
                continue
            try:
                self.check_typed(path, data)
            except (OSError, RuntimeError, KeyError, ValueError, TypeError, SpecError) as exc:
                self.emit(path, "check.failed", f"{type(exc).__name__}: {exc}", Severity.ERROR)

    def check_type_attributes(self, path: str) -> None:
        """An untyped object whose type attributes are present but unusable.

        The graph types an object only when both ``namespace`` and a type attribute are
        text; one of them alone, or either not text, is a damaged type.
        """
        attrs = self.index.attrs.get(path, {})
        present = [key for key in ("namespace", *TYPE_KEYS) if key in attrs]
        if not present:
            return
        for key in present:
            if not isinstance(attrs[key], str):
                self.emit(
                    path,
                    "attribute.dtype",
                    f"attribute {key!r}: expected text naming a "
                    f"{'namespace' if key == 'namespace' else 'type'}, found "
                    f"{_short(_plain(attrs[key]))}",
                    Severity.ERROR,
                )
                return
        if "namespace" not in attrs:
            self.emit(
                path,
                "attribute.missing",
                f"attribute 'namespace' is missing, so type {attrs[present[0]]!r} cannot be "
                "looked up",
                Severity.ERROR,
            )
        else:
            self.emit(
                path,
                "attribute.missing",
                f"the object has a 'namespace' ({attrs['namespace']!r}) but no type "
                f"attribute ({' or '.join(repr(k) for k in TYPE_KEYS)})",
                Severity.ERROR,
            )

    def check_typed(self, path: str, data: dict[str, Any]) -> None:
        """One typed object, against the spec of its own type."""
        namespace, type_name = data["namespace"], data["type"]
        if namespace not in self.specs.namespaces:
            self.emit(
                path,
                "type.unknown",
                f"namespace {namespace!r} of type {type_name!r} is not in the specs",
                Severity.ERROR,
            )
            return
        if self.specs.find_type(namespace, type_name) is None:
            self.emit(
                path,
                "type.unknown",
                f"type {type_name!r} is not defined in namespace {namespace!r}",
                Severity.ERROR,
            )
            return
        _, spec = self.resolver.type_spec(namespace, type_name)
        self.check_object(path, spec, namespace)

    # -- objects -------------------------------------------------------------------------------
    def check_object(self, path: str, spec: language.Group | language.Dataset, ns: str) -> None:
        kind = self.graph.nodes[path]["kind"]
        if isinstance(spec, language.Dataset):
            if kind != "dataset":
                self.emit(
                    path, "kind.mismatch", "expected a dataset, found a group", Severity.ERROR
                )
                return
            self.check_dataset(path, spec, ns)
        else:
            if kind != "group":
                self.emit(
                    path, "kind.mismatch", "expected a group, found a dataset", Severity.ERROR
                )
                return
            self.check_group(path, spec, ns)

    def check_attributes(self, path: str, specs: list[language.Attribute], ns: str) -> None:
        attrs = self.index.attrs.get(path, {})
        known = set()
        for spec in specs:
            known.add(spec.name)
            if spec.name not in attrs:
                if spec.required is not False and spec.default_value is None:
                    self.emit(
                        path,
                        "attribute.missing",
                        f"required attribute {spec.name!r} is missing",
                        Severity.ERROR,
                    )
                continue
            value = attrs[spec.name]
            self.check_value(
                path, f"attribute {spec.name!r}", value, spec.dtype, spec.shapes, spec.value, ns
            )
        for name in attrs:
            if name not in known and name not in _BOOKKEEPING_ATTRS:
                self.emit(
                    path,
                    "object.unexpected",
                    f"attribute {name!r} is not defined by the spec",
                    Severity.WARNING,
                )

    def check_value(
        self,
        path: str,
        label: str,
        value: Any,
        dtype: language.DtypeSpec | None,
        shapes: list[language.ShapeOption],
        fixed: Any,
        ns: str,
    ) -> None:
        """dtype, shape and fixed value of an attribute value read into memory."""
        if dtype is not None and dtype.reference is not None:
            refs = np.atleast_1d(np.asarray(value, dtype=object)).ravel()
            if all(isinstance(r, (h5py.Reference, h5py.RegionReference)) for r in refs):
                self.check_references(path, label, refs, dtype.reference)
            else:
                stored = _value_dtype(value)
                self.emit(
                    path,
                    "attribute.dtype",
                    f"{label}: expected object references to a {dtype.reference.target_type}, "
                    f"found {type(value).__name__ if stored is None else stored_kind(stored)}",
                    Severity.ERROR,
                )
        elif dtype is not None and dtype.primitive is not None and value is not None:
            stored = _value_dtype(value)
            if stored is not None and not (isinstance(value, np.ndarray) and value.size == 0):
                problem = widening_problem(dtype.primitive, stored)
                if problem:
                    self.emit(path, "attribute.dtype", f"{label}: {problem}", Severity.ERROR)
        if shapes:
            self.check_shape(path, "attribute", label, tuple(np.shape(value)), shapes)
        if fixed is not None and not _same(value, fixed):
            self.emit(
                path,
                "attribute.value",
                f"{label}: expected the fixed value {fixed!r}, found {_short(value)}",
                Severity.ERROR,
            )

    def check_shape(
        self,
        path: str,
        what: str,
        label: str,
        shape: tuple[int, ...],
        options: list[language.ShapeOption],
    ) -> None:
        for option in options:
            if len(option.dims) == len(shape) and all(
                d.length is None or d.length == n for d, n in zip(option.dims, shape, strict=True)
            ):
                return
        allowed = " or ".join(
            "(" + ", ".join("*" if d.length is None else str(d.length) for d in o.dims) + ")"
            for o in options
        )
        self.emit(
            path,
            f"{what}.shape",
            f"{label}: expected shape {allowed}, found {shape}",
            Severity.ERROR,
        )

    def check_dataset(self, path: str, spec: language.Dataset, ns: str) -> None:
        data = self.graph.nodes[path]
        stored: np.dtype = data["dtype"]
        shape = tuple(data["shape"] or ())
        dtype = spec.dtype
        if dtype is not None:
            if dtype.reference is not None:
                if not is_reference(stored):
                    self.emit(
                        path,
                        "dataset.dtype",
                        f"expected references to {dtype.reference.target_type}, found "
                        f"{stored_kind(stored)}",
                        Severity.ERROR,
                    )
                else:
                    self.check_references(
                        path, "dataset", self._dataset_refs(path, None), dtype.reference
                    )
            elif dtype.compound:
                self.check_compound(path, stored, dtype.compound, ns)
            elif dtype.primitive is not None:
                problem = widening_problem(dtype.primitive, stored)
                if problem:
                    self.emit(path, "dataset.dtype", problem, Severity.ERROR)
        if spec.shapes:
            self.check_shape(path, "dataset", "dataset", shape, spec.shapes)
        if spec.value is not None and path in self.index.scalars:
            value = self.index.scalars[path]
            if not _same(value, spec.value):
                self.emit(
                    path,
                    "dataset.value",
                    f"expected the fixed value {spec.value!r}, found {_short(value)}",
                    Severity.ERROR,
                )
        self.check_attributes(path, spec.attributes, ns)

    def check_compound(
        self, path: str, stored: np.dtype, fields: list[language.CompoundField], ns: str
    ) -> None:
        names = stored.names or ()
        missing = [f.name for f in fields if f.name not in names]
        if missing:
            self.emit(
                path,
                "dataset.dtype",
                f"expected a compound dtype with fields {[f.name for f in fields]}, "
                f"missing {missing}",
                Severity.ERROR,
            )
            return
        for field in fields:
            sub = stored[field.name]
            if field.dtype.reference is not None:
                if not is_reference(sub):
                    self.emit(
                        path,
                        "dataset.dtype",
                        f"compound field {field.name!r}: expected references, found "
                        f"{stored_kind(sub)}",
                        Severity.ERROR,
                    )
                else:
                    self.check_references(
                        path,
                        f"compound field {field.name!r}",
                        self._dataset_refs(path, field.name),
                        field.dtype.reference,
                    )
            elif field.dtype.primitive is not None:
                problem = widening_problem(field.dtype.primitive, sub)
                if problem:
                    self.emit(
                        path,
                        "dataset.dtype",
                        f"compound field {field.name!r}: {problem}",
                        Severity.ERROR,
                    )

    def _dataset_refs(self, path: str, field: str | None) -> Iterator[Any]:
        dataset = self.file[path]
        source = dataset.fields(field) if field else dataset
        if not dataset.shape:
            yield source[()]
            return
        for start in range(0, dataset.shape[0], REF_CHUNK):
            block = source[start : start + REF_CHUNK]
            yield from np.asarray(block, dtype=object).ravel()

    def check_references(
        self, path: str, label: str, refs: Any, target: language.ReferenceDtype
    ) -> None:
        """Every reference resolves, to an object of the wanted type (first problem reported)."""
        checked: set[str] = set()
        for ref in refs:
            if not isinstance(ref, (h5py.Reference, h5py.RegionReference)):
                continue
            if not ref:
                self.emit(
                    path, "reference.dangling", f"{label}: a null object reference", Severity.ERROR
                )
                return
            target_path = dereference_path(self.file, self.index, ref)
            if target_path is None:
                self.emit(
                    path,
                    "reference.dangling",
                    f"{label}: an object reference points at nothing (expected a "
                    f"{target.target_type})",
                    Severity.ERROR,
                )
                return
            if target_path in checked:
                continue
            checked.add(target_path)
            if not self.has_type(target_path, target.target_type):
                self.emit(
                    path,
                    "reference.target-type",
                    f"{label}: expected a reference to a {target.target_type}, found one "
                    f"to {self.describe(target_path)} at {target_path}",
                    Severity.ERROR,
                )
                return

    # -- groups ----------------------------------------------------------------------------------
    def check_group(self, path: str, spec: language.Group, ns: str) -> None:
        self.check_attributes(path, spec.attributes, ns)
        children = list(self.index.children.get(path, ()))
        by_name = {c.name: c for c in children}
        consumed: set[str] = set()
        all_parts: list[language.Group | language.Dataset] = [*spec.datasets, *spec.groups]
        named_parts = [p for p in all_parts if p.name]
        for part in named_parts:
            assert part.name is not None
            child = by_name.get(part.name)
            minimum, _ = quantity(part.quantity)
            is_dataset = isinstance(part, language.Dataset)
            if child is None:
                if minimum > 0:
                    kind = "dataset" if is_dataset else "group"
                    self.emit(
                        path,
                        f"{kind}.missing",
                        f"required {kind} {part.name!r} ({_join(path, part.name)}) is missing",
                        Severity.ERROR,
                    )
                continue
            consumed.add(part.name)
            self.check_named_child(path, child, part, ns)
        for link in spec.links:
            if link.name:
                child = by_name.get(link.name)
                minimum, _ = quantity(link.quantity)
                if child is None:
                    if minimum > 0:
                        self.emit(
                            path,
                            "link.missing",
                            f"required link {link.name!r} ({_join(path, link.name)}) to a "
                            f"{link.target_type} is missing",
                            Severity.ERROR,
                        )
                    continue
                consumed.add(link.name)
                self.check_link(path, child, link.target_type)
        self.check_unnamed(path, spec, ns, [c for c in children if c.name not in consumed])

    def check_named_child(
        self, path: str, child: Child, part: language.Group | language.Dataset, ns: str
    ) -> None:
        where = _join(path, child.name)
        if child.kind is LinkKind.EXTERNAL:
            return
        if self.broken(where, child):
            return
        target = child.target
        data = self.graph.nodes[target]
        want_kind = "dataset" if isinstance(part, language.Dataset) else "group"
        if data["kind"] != want_kind:
            self.emit(
                where,
                "kind.mismatch",
                f"expected a {want_kind}, found a {data['kind']}",
                Severity.ERROR,
            )
            return
        wanted_type = part.data_type_def or part.data_type_inc
        if wanted_type and not self.has_type(target, wanted_type):
            rule = "link.target-type" if child.kind is LinkKind.SOFT else "type.mismatch"
            self.emit(
                where,
                rule,
                f"expected a {wanted_type}, found {self.describe(target)}",
                Severity.ERROR,
            )
            return
        if child.kind is LinkKind.SOFT or target in self.done:
            return  # the target is checked where it lives
        if wanted_type:
            # the object's own type, with what this part adds or overrides laid over it
            data = self.graph.nodes[target]
            own_ns, own = self.resolver.type_spec(data["namespace"], data["type"])
            merged = merge(own, part.model_copy(update={"data_type_inc": None}))
            self.done.add(target)
            self.check_object(target, merged, own_ns)
            return
        merged = self.resolver.part(ns, part)
        self.check_object(target, merged, ns)

    def check_link(self, path: str, child: Child, target_type: str) -> None:
        where = _join(path, child.name)
        if child.kind is LinkKind.EXTERNAL:
            return
        if self.broken(where, child):
            return
        if not self.has_type(child.target, target_type):
            self.emit(
                where,
                "link.target-type",
                f"expected a link to a {target_type}, found {self.describe(child.target)}",
                Severity.ERROR,
            )

    def check_unnamed(
        self, path: str, spec: language.Group, ns: str, children: list[Child]
    ) -> None:
        parts: list[tuple[str, str, Any]] = []  # (kind, type, spec part or link)
        for part in [*spec.datasets, *spec.groups]:
            if not part.name:
                type_name = part.data_type_def or part.data_type_inc
                kind = "dataset" if isinstance(part, language.Dataset) else "group"
                parts.append((kind, type_name or "", part))
        for link in spec.links:
            if not link.name:
                parts.append(("link", link.target_type, link))
        counts = [0] * len(parts)
        for child in children:
            where = _join(path, child.name)
            if child.kind is LinkKind.EXTERNAL or self.skip(child.target):
                continue
            if self.broken(where, child):
                continue
            data = self.graph.nodes[child.target]
            matched = False
            for i, (kind, type_name, _) in enumerate(parts):
                if kind == "link":
                    if child.kind is not LinkKind.SOFT:
                        continue
                elif data["kind"] != kind:
                    continue
                if self.has_type(child.target, type_name):
                    counts[i] += 1
                    matched = True
                    break
            if not matched:
                what = "soft link" if child.kind is LinkKind.SOFT else data["kind"]
                self.emit(
                    where,
                    "object.unexpected",
                    f"{what} {child.name!r} ({self.describe(child.target)}) is not defined "
                    "by the spec",
                    Severity.WARNING,
                )
        for (kind, type_name, part), count in zip(parts, counts, strict=True):
            minimum, maximum = quantity(part.quantity)
            if count < minimum or (maximum is not None and count > maximum):
                bound = (
                    f"exactly {minimum}"
                    if minimum == maximum
                    else f"at least {minimum}"
                    if maximum is None
                    else f"{minimum} to {maximum}"
                )
                self.emit(
                    path,
                    "quantity.count",
                    f"expected {bound} {kind}(s) of type {type_name}, found {count}",
                    Severity.ERROR,
                )

    # -- helpers ---------------------------------------------------------------------------------
    def broken(self, where: str, child: Child) -> bool:
        """Report a soft link to nothing; True if ``child`` is one."""
        if not child.broken:
            return False
        self.emit(where, "link.broken",
                  f"soft link points at {child.target}, which does not exist", Severity.ERROR)
        return True

    def has_type(self, path: str, wanted: str) -> bool:
        data = self.graph.nodes.get(path, {})
        if "type" not in data:
            return False
        if data["namespace"] not in self.specs.namespaces:
            return bool(data["type"] == wanted)
        return bool(self.resolver.is_a(data["namespace"], data["type"], wanted))

    def describe(self, path: str) -> str:
        data = self.graph.nodes.get(path, {})
        if "type" in data:
            return f"a {data['type']}"
        return f"an untyped {data.get('kind', 'object')}"


def _join(path: str, name: str) -> str:
    return (path if path.endswith("/") else path + "/") + name


def _value_dtype(value: Any) -> np.dtype | None:
    if isinstance(value, str):
        return np.dtype(object)
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if isinstance(value, bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return np.dtype(np.int64)
    if isinstance(value, float):
        return np.dtype(np.float64)
    return None


def _same(value: Any, fixed: Any) -> bool:
    try:
        if isinstance(value, np.ndarray) or isinstance(fixed, list):
            return bool(np.array_equal(np.asarray(value), np.asarray(fixed)))
        if isinstance(value, np.generic):
            value = value.item()
        return bool(value == fixed)
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _short(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 80 else text[:77] + "..."
