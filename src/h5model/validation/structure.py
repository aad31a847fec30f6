"""Spec-driven checks of every typed object: parts present, dtypes, shapes, values, links,
references, quantities, and objects the spec does not define.

Works on what the graph pass already read (attributes, shapes, dtypes), so only
datasets of references are read here: what they store, in bounded blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import h5py
import numpy as np

from h5model.errors import SpecError, plain
from h5model.hdf5 import stored
from h5model.hdf5.graph import Child, FileIndex, dereference_path
from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.hdf5.limits import LimitError
from h5model.hdf5.paths import join
from h5model.rules.dtypes import is_reference, stored_kind, widening_problem
from h5model.rules.model import (
    CompoundField,
    Kind,
    Part,
    Reference,
    Role,
    TypeRule,
    ValueRule,
    plain_dataset,
)
from h5model.rules.ruleset import RuleSet
from h5model.rules.shapes import shape_problem
from h5model.rules.values import isodatetime_problem, same_value
from h5model.spec.storage import BOOKKEEPING_ATTRIBUTES, TYPE_KEYS
from h5model.validation.report import Emit, Severity


class StructureChecker:
    """Checks one file's objects against the specs of their types."""

    def __init__(
        self,
        file: h5py.File | None,
        index: FileIndex,
        rules: RuleSet,
        emit: Emit,
        skip: Callable[[str], bool],
    ) -> None:
        self.file = file
        """None: checked from a metadata index, and no rule that reads data runs."""
        self.index = index
        self.graph = index.graph
        self.specs = rules.specs
        self.rules = rules
        self.emit = emit
        self.skip = skip
        self.done: set[str] = set()
        """Typed objects already checked with their parent's part spec (overrides merged)."""

    # -- entry ------------------------------------------------------------------------------
    def run(self) -> None:
        for path, data in self.graph.nodes(data=True):
            if data["kind"] not in (NodeKind.GROUP, NodeKind.DATASET) or self.skip(path):
                continue
            if "type" not in data:
                self.check_type_attributes(path)
                continue
            if path in self.done:
                continue
            try:
                self.check_typed(path, data)
            except LimitError as exc:
                self.emit(path, exc.rule or "file.limit-exceeded", exc.message, Severity.ERROR)
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
                f"attribute 'namespace' is missing, so type {plain(attrs[present[0]])!r} cannot be "
                "looked up",
                Severity.ERROR,
            )
        else:
            self.emit(
                path,
                "attribute.missing",
                f"the object has a 'namespace' ({plain(attrs['namespace'])!r}) but no type "
                f"attribute ({' or '.join(repr(k) for k in TYPE_KEYS)})",
                Severity.ERROR,
            )

    def check_typed(self, path: str, data: dict[str, Any]) -> None:
        """One typed object, against the rules of its own type."""
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
        self.check_object(path, self.rules.type_rule(namespace, type_name))

    # -- objects -------------------------------------------------------------------------------
    def check_object(self, path: str, rule: TypeRule) -> None:
        kind = self.graph.nodes[path]["kind"]
        if kind != rule.kind:
            self.emit(
                path, "kind.mismatch", f"expected a {rule.kind}, found a {kind}", Severity.ERROR
            )
            return
        if rule.kind is Kind.DATASET:
            self.check_dataset(path, rule)
        else:
            self.check_group(path, rule)

    def check_attributes(self, path: str, rule: TypeRule) -> None:
        attrs = self.index.attrs.get(path, {})
        known = set()
        for part in rule.attributes:
            assert part.name is not None and part.value is not None
            known.add(part.name)
            if part.name not in attrs:
                if part.required:
                    self.emit(
                        path,
                        "attribute.missing",
                        f"required attribute {part.name!r} is missing",
                        Severity.ERROR,
                    )
                continue
            self.check_value(path, f"attribute {part.name!r}", attrs[part.name], part.value)
        for name in attrs:
            if name not in known and name not in BOOKKEEPING_ATTRIBUTES:
                self.emit(
                    path,
                    "object.unexpected",
                    f"attribute {name!r} is not defined by the spec",
                    Severity.WARNING,
                )

    def check_value(self, path: str, label: str, value: Any, rule: ValueRule) -> None:
        """dtype, shape and fixed value of an attribute value read into memory."""
        reference = rule.reference
        if reference is not None:
            refs = np.atleast_1d(np.asarray(value, dtype=object)).ravel()
            if all(isinstance(r, (h5py.Reference, h5py.RegionReference)) for r in refs):
                self.check_references(path, label, refs, reference)
            else:
                stored = _value_dtype(value)
                self.emit(
                    path,
                    "attribute.dtype",
                    f"{label}: expected object references to a {reference.target_type}, "
                    f"found {type(value).__name__ if stored is None else stored_kind(stored)}",
                    Severity.ERROR,
                )
        elif rule.primitive is not None and value is not None:
            stored = _value_dtype(value)
            if stored is not None and not (isinstance(value, np.ndarray) and value.size == 0):
                problem = widening_problem(rule.primitive, stored)
                if problem:
                    self.emit(path, "attribute.dtype", f"{label}: {problem}", Severity.ERROR)
                elif rule.primitive == "isodatetime":
                    items = np.asarray(value, dtype=object).ravel()
                    self.check_isodatetimes(path, "attribute.value", label, items)
        if rule.lengths:
            problem = shape_problem(tuple(np.shape(value)), rule.lengths)
            if problem is not None:
                self.emit(path, "attribute.shape", f"{label}: {problem}", Severity.ERROR)
        if rule.fixed is not None and not same_value(value, rule.fixed):
            self.emit(
                path,
                "attribute.value",
                f"{label}: expected the fixed value {rule.fixed!r}, found {_short(value)}",
                Severity.ERROR,
            )

    def check_isodatetimes(
        self, path: str, rule_id: str, label: str, values: Iterable[Any]
    ) -> None:
        """Every value is ISO 8601 text (the first that is not is reported)."""
        for item in values:
            problem = isodatetime_problem(item)
            if problem is not None:
                self.emit(path, rule_id, f"{label}: {problem}", Severity.ERROR)
                return

    def check_dataset(self, path: str, rule: TypeRule) -> None:
        data = self.graph.nodes[path]
        stored: np.dtype = data["dtype"]
        shape = tuple(data["shape"] or ())
        value = rule.value.value if rule.value is not None else None
        if value is not None:
            self.check_dataset_value(path, stored, shape, value)
        self.check_attributes(path, rule)

    def check_dataset_value(
        self, path: str, stored: np.dtype, shape: tuple[int, ...], rule: ValueRule
    ) -> None:
        reference = rule.reference
        if reference is not None:
            if not is_reference(stored):
                self.emit(
                    path,
                    "dataset.dtype",
                    f"expected references to {reference.target_type}, found "
                    f"{stored_kind(stored)}",
                    Severity.ERROR,
                )
            else:
                self.check_references(path, "dataset", self._dataset_refs(path, None), reference)
        elif rule.compound:
            self.check_compound(path, stored, rule.compound)
        elif rule.primitive is not None:
            problem = widening_problem(rule.primitive, stored)
            if problem:
                self.emit(path, "dataset.dtype", problem, Severity.ERROR)
            elif rule.primitive == "isodatetime":
                self.check_isodatetimes(path, "dataset.value", "dataset",
                                        self._dataset_text(path))
        problem = shape_problem(shape, rule.lengths)
        if problem is not None:
            self.emit(path, "dataset.shape", f"dataset: {problem}", Severity.ERROR)
        if rule.fixed is not None and path in self.index.scalars:
            found = self.index.scalars[path]
            if not same_value(found, rule.fixed):
                self.emit(
                    path,
                    "dataset.value",
                    f"expected the fixed value {rule.fixed!r}, found {_short(found)}",
                    Severity.ERROR,
                )

    def check_compound(
        self, path: str, stored: np.dtype, fields: tuple[CompoundField, ...]
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
            if field.reference is not None:
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
                        field.reference,
                    )
            elif field.primitive is not None:
                problem = widening_problem(field.primitive, sub)
                if problem:
                    self.emit(
                        path,
                        "dataset.dtype",
                        f"compound field {field.name!r}: {problem}",
                        Severity.ERROR,
                    )

    def _dataset_text(self, path: str) -> Iterator[Any]:
        """A text dataset's values as ``str``: what it stores, in bounded blocks."""
        if self.file is None:  # checked from a metadata index: scalars only, no data read
            if path in self.index.scalars:
                yield self.index.scalars[path]
            return
        dataset = self.file[path]
        if not dataset.shape:
            yield self.index.scalars.get(path, dataset.asstr()[()])
            return
        for _, block in stored.blocks(dataset):
            for item in np.asarray(block, dtype=object).ravel():
                yield item.decode("utf-8", "surrogateescape") if isinstance(item, bytes) else item

    def _dataset_refs(self, path: str, field: str | None) -> Iterator[Any]:
        """A dataset's references: what it stores, in bounded blocks (unwritten elements
        are its fill value, a null reference unless the file says otherwise). None when
        checked from a metadata index (no data is read)."""
        if self.file is None:
            return
        for _, block in stored.blocks(self.file[path], field):
            yield from np.asarray(block, dtype=object).ravel()

    def check_references(self, path: str, label: str, refs: Any, target: Reference) -> None:
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
    def check_group(self, path: str, rule: TypeRule) -> None:
        self.check_attributes(path, rule)
        children = list(self.index.children.get(path, ()))
        by_name = {c.name: c for c in children}
        consumed: set[str] = set()
        for part in rule.parts:
            if part.name is None or part.role not in (Role.DATASET, Role.GROUP, Role.LINK):
                continue
            child = by_name.get(part.name)
            if child is None:
                if part.min_items > 0:
                    what = str(part.role)
                    target = f" to a {part.type}" if part.role is Role.LINK else ""
                    self.emit(
                        path,
                        f"{what}.missing",
                        f"required {what} {part.name!r} ({join(path, part.name)}){target} "
                        "is missing",
                        Severity.ERROR,
                    )
                continue
            consumed.add(part.name)
            if part.role is Role.LINK:
                assert part.type is not None
                self.check_link(path, child, part.type)
            else:
                self.check_named_child(path, child, part, rule)
        self.check_unnamed(path, rule, [c for c in children if c.name not in consumed])

    def check_named_child(self, path: str, child: Child, part: Part, owner: TypeRule) -> None:
        where = join(path, child.name)
        if child.kind is LinkKind.EXTERNAL:
            return
        if self.broken(where, child):
            return
        target = child.target
        data = self.graph.nodes[target]
        if data["kind"] != part.kind:
            self.emit(
                where,
                "kind.mismatch",
                f"expected a {part.kind}, found a {data['kind']}",
                Severity.ERROR,
            )
            return
        if part.type and not self.has_type(target, part.type):
            rule = "link.target-type" if child.kind is LinkKind.SOFT else "type.mismatch"
            self.emit(
                where, rule, f"expected a {part.type}, found {self.describe(target)}",
                Severity.ERROR,
            )
            return
        if child.kind is LinkKind.SOFT or target in self.done:
            return  # the target is checked where it lives
        if part.type:
            # the object's own type, with what this part adds or overrides laid over it
            self.done.add(target)
            self.check_object(
                target, self.rules.refined(owner, data["namespace"], data["type"], part)
            )
        elif part.nested is not None:
            self.check_object(target, part.nested)
        elif part.value is not None:
            self.check_object(target, plain_dataset(part))

    def check_link(self, path: str, child: Child, target_type: str) -> None:
        where = join(path, child.name)
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

    def check_unnamed(self, path: str, rule: TypeRule, children: list[Child]) -> None:
        parts = [
            p
            for p in rule.parts
            if p.role is Role.CHILDREN or (p.role is Role.LINK and p.name is None)
        ]
        counts = [0] * len(parts)
        for child in children:
            where = join(path, child.name)
            if child.kind is LinkKind.EXTERNAL or self.skip(child.target):
                continue
            if self.broken(where, child):
                continue
            data = self.graph.nodes[child.target]
            matched = False
            for i, part in enumerate(parts):
                if part.role is Role.LINK:
                    if child.kind is not LinkKind.SOFT:
                        continue
                elif data["kind"] != part.kind:
                    continue
                if part.type is not None and self.has_type(child.target, part.type):
                    counts[i] += 1
                    matched = True
                    break
            binding = self.index.binding
            if not matched and binding is not None and child.target in binding.unbound:
                continue  # reported by the layout checks, with the reason
            if not matched:
                what = "soft link" if child.kind is LinkKind.SOFT else data["kind"]
                self.emit(
                    where,
                    "object.unexpected",
                    f"{what} {child.name!r} ({self.describe(child.target)}) is not defined "
                    "by the spec",
                    Severity.WARNING,
                )
        for part, count in zip(parts, counts, strict=True):
            if count < part.min_items or (part.max_items is not None and count > part.max_items):
                what = "link" if part.role is Role.LINK else str(part.kind)
                self.emit(
                    path,
                    "quantity.count",
                    f"expected {part.quantity_text} {what}(s) of type {part.type}, found {count}",
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
        return self.rules.has_type(data.get("namespace"), data.get("type"), wanted)

    def describe(self, path: str) -> str:
        data = self.graph.nodes.get(path, {})
        if "type" in data:
            return f"a {data['type']}"
        return f"an untyped {data.get('kind', 'object')}"


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


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _short(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else plain(value))
    return text if len(text) <= 80 else text[:77] + "..."
