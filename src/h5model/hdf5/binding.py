"""Types for objects without type attributes, bound by their position under a layout.

Files written by hand-rolled h5py code carry no ``namespace``/``neurodata_type``
attributes. Under a layout (``spec.layout``) the graph's nodes get their types here,
once, so that the reader, validation and truncation all see the same typed graph:

- the root gets the layout's root type, if its required parts are present;
- a child held by a typed named part of its parent gets that part's type;
- an unnamed child gets a type from its parent's ``*_type_inc`` entries (``quantity``
  ``'*'``/``'+'``) or their subtypes in the layout's namespace: the candidates whose
  name pattern, required attributes and named children, and number of dimensions fit.
  Of those that fit, a type any other fitting one extends is dropped (the most
  specific wins); none left, or several, leaves the child untyped, with the reason.

Objects with type attributes keep their types (and get what the layout says of their
type, as a file made self-describing by ``h5model embed`` keeps its layout). Bound nodes
are marked ``bound=True``.
Attributes a layout stores as text holding literals are parsed into typed values in the
index (``rules.text``), and where they are is kept so that edits are written back as
text. Children of a type with numeric order are listed in numeric name order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from h5model.errors import H5ModelError
from h5model.hdf5.graph import FileIndex
from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.rules.model import Kind, Part, Role, TypeRule
from h5model.rules.ruleset import RuleSet
from h5model.rules.text import LiteralError, parse_literal
from h5model.spec.layout import Layout, TypeLayout

_KINDS = {NodeKind.GROUP: Kind.GROUP, NodeKind.DATASET: Kind.DATASET}


@dataclass
class Binding:
    """What binding found: the types given, what stayed untyped and why, bad text values."""

    layout: Layout | None
    root_problem: str | None = None
    """Why the root did not bind to the layout's root type (None: it did, or no layout)."""
    bound: set[str] = field(default_factory=set)
    unbound: dict[str, str] = field(default_factory=dict)
    """Path -> why no type fits it (an unnamed child of a typed group)."""
    text_problems: list[tuple[str, str, str]] = field(default_factory=list)
    """(path, attribute, what is wrong) for attributes whose text is not the literal declared."""
    texts: dict[str, dict[str, str | None]] = field(default_factory=dict)
    """Path -> attribute -> its spec dtype: attributes stored as text holding a literal."""
    rows: dict[str, str] = field(default_factory=dict)
    """Group path -> the root attribute giving the row count every dataset in it has."""
    whole: set[str] = field(default_factory=set)
    """Datasets that truncation copies whole (their type's layout says ``keep_whole``)."""
    numeric: set[str] = field(default_factory=set)
    """Groups whose children are listed in numeric name order."""
    basins: set[str] = field(default_factory=set)
    """Datasets that are basin documents (their type's layout says ``basin``)."""
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Path -> members it must hold (its type's layout ``requires``)."""


def bind(index: FileIndex, rules: RuleSet, layout: Layout | None) -> Binding:
    """Type the untyped objects of ``index`` under ``layout`` (in place); say what did not bind."""
    binding = Binding(layout)
    index.binding = binding
    if layout is None:
        return binding
    if layout.namespace not in rules.specs.namespaces:
        raise H5ModelError(f"the layout's namespace {layout.namespace!r} is not among the "
                           "specs the file is read with", file=rules.specs.label)
    _Binder(index, rules, layout, binding).run()
    return binding


class _Binder:
    def __init__(self, index: FileIndex, rules: RuleSet, layout: Layout,
                 binding: Binding) -> None:
        self.index, self.graph, self.rules = index, index.graph, rules
        self.layout, self.binding = layout, binding
        self.subtypes: dict[tuple[str, str], list[tuple[str, str]]] = {}

    def run(self) -> None:
        root = self.graph.nodes["/"]
        if "type" in root:
            rule = self._rule_of("/")
            if rule is not None:
                self._layout_extras("/", rule)
        else:
            ns, name = self.layout.namespace, self.layout.root_type
            rule = self.rules.type_rule(ns, name)
            problems = self._misfits("/", "", rule)
            if problems:
                self.binding.root_problem = (
                    f"the root does not fit layout {self.layout.name!r} (type {name}): "
                    + "; ".join(problems))
                return
            self._mark("/", ns, name)
        if rule is None:
            return
        queue: list[tuple[str, TypeRule]] = [("/", rule)]
        # the specs a file embeds (``h5model embed``) are no part of what the layout types
        specs = "/specifications" if ".specloc" in self.index.attrs.get("/", {}) else None
        while queue:
            path, rule = queue.pop()
            self._order(path, rule)
            for child in self.index.children.get(path, ()):
                if child.kind is not LinkKind.HARD or child.target == specs:
                    continue
                found = self._child(path, child.name, child.target, rule)
                if found is not None and self.graph.nodes[child.target]["kind"] is NodeKind.GROUP:
                    queue.append((child.target, found))

    # -- one child --------------------------------------------------------------------------
    def _child(self, parent: str, name: str, target: str, rule: TypeRule) -> TypeRule | None:
        data = self.graph.nodes[target]
        if "type" in data:
            if target in self.binding.bound:
                return None
            typed = self._rule_of(target)
            if typed is not None:
                self._layout_extras(target, typed)
            return typed
        part = rule.named(name)
        if part is not None:
            if part.nested is not None:
                return part.nested
            if part.type is None or part.role is Role.LINK or _KINDS.get(data["kind"]) != part.kind:
                return None
            found = self.rules.specs.find_type(rule.lookup_namespace or "", part.type)
            if found is None:
                return None
            self._mark(target, found[0], part.type)
            return self.rules.type_rule(found[0], part.type)
        parts = [p for p in rule.parts if p.role is Role.CHILDREN
                 and p.kind == _KINDS.get(data["kind"]) and p.type]
        if not parts:
            return None
        fitting: list[tuple[str, str]] = []
        reasons: list[str] = []
        for candidate in self._candidates(rule, parts):
            misfits = self._misfits(target, name, self.rules.type_rule(*candidate))
            if misfits:
                reasons.append(f"{candidate[1]}: {misfits[0]}")
            else:
                fitting.append(candidate)
        specific = [c for c in fitting if not any(
            o != c and self.rules.is_a(o[0], o[1], c[1]) for o in fitting)]
        if len(specific) == 1:
            self._mark(target, *specific[0])
            return self.rules.type_rule(*specific[0])
        if specific:
            why = "it fits several types: " + ", ".join(sorted(c[1] for c in specific))
        else:
            why = "it fits none of the types its parent may hold (" + "; ".join(reasons) + ")"
        self.binding.unbound[target] = why
        return None

    def _candidates(self, rule: TypeRule, parts: list[Part]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for part in parts:
            assert part.type is not None
            found = self.rules.specs.find_type(rule.lookup_namespace or "", part.type)
            if found is None:
                continue
            key = (found[0], part.type)
            subtypes = self.subtypes.get(key)
            if subtypes is None:
                subtypes = [key]
                for ns in {found[0], self.layout.namespace}:
                    for name in self.rules.specs.defined(ns):
                        if name != part.type and self.rules.is_a(ns, name, part.type):
                            subtypes.append((ns, name))
                self.subtypes[key] = subtypes
            out.extend(c for c in subtypes if c not in out)
        return out

    def _misfits(self, path: str, name: str, rule: TypeRule) -> list[str]:
        """Why the object at ``path`` cannot be of ``rule``'s type (empty: it can)."""
        data = self.graph.nodes[path]
        if _KINDS.get(data["kind"]) != rule.kind:
            return [f"expected a {rule.kind}"]
        problems = []
        pattern = self._type_layout(rule).name_pattern
        if pattern is not None and path != "/" and not pattern.matches(name):
            problems.append(f"name {name!r} does not match {pattern.text!r}")
        attrs = self.index.attrs.get(path, {})
        missing = [p.name for p in rule.attributes if p.required and p.name not in attrs]
        if missing:
            problems.append("missing attribute(s) " + ", ".join(repr(m) for m in missing))
        names = {c.name for c in self.index.children.get(path, ())}
        absent = [p.name for p in rule.parts if p.required and p.name is not None
                  and p.role in (Role.DATASET, Role.GROUP, Role.LINK) and p.name not in names]
        if absent:
            problems.append("missing " + ", ".join(repr(a) for a in absent))
        value = rule.value
        shape = data.get("shape")
        if value is not None and value.value is not None and value.value.lengths and shape:
            ranks = sorted({len(s) for s in value.value.lengths})
            if len(shape) not in ranks:
                problems.append(f"{len(shape)} dimension(s), expected "
                                + " or ".join(map(str, ranks)))
        return problems

    # -- what a bound object gets -------------------------------------------------------------
    def _mark(self, path: str, namespace: str, type_name: str) -> None:
        self.graph.set_node_data(path, namespace=namespace, type=type_name, bound=True)
        self.binding.bound.add(path)
        self._layout_extras(path, self.rules.type_rule(namespace, type_name))

    def _layout_extras(self, path: str, rule: TypeRule) -> None:
        """What the layout says of the object's type, for bound objects and for those
        whose type attributes name a type of the layout (a file ``h5model embed`` wrote)."""
        says = self._type_layout(rule)
        if says.text_attributes:
            self._parse_texts(path, rule, says.text_attributes)
        if says.rows is not None:
            self.binding.rows[path] = says.rows
        if says.keep_whole:
            self.binding.whole.add(path)
        if says.basin:
            self.binding.basins.add(path)
        if says.requires:
            self.binding.requires[path] = says.requires

    def _parse_texts(self, path: str, rule: TypeRule, names: frozenset[str]) -> None:
        attrs = self.index.attrs.get(path, {})
        dtypes = {p.name: p.value.primitive if p.value else None for p in rule.attributes}
        for name in sorted(names):
            dtype = dtypes.get(name)
            self.binding.texts.setdefault(path, {})[name] = dtype
            if name not in attrs:
                continue
            try:
                attrs[name] = _as_array(parse_literal(attrs[name], dtype))
            except LiteralError as exc:
                self.binding.text_problems.append((path, name, str(exc)))

    def _order(self, path: str, rule: TypeRule) -> None:
        if self._type_layout(rule).order == "numeric":
            self.binding.numeric.add(path)

    def _type_layout(self, rule: TypeRule) -> TypeLayout:
        """What the layout says of the type, or of the nearest ancestor it says anything of."""
        if rule.type_name is None or rule.namespace is None:
            return self.layout.of(None)
        for name in self.rules.lineage(rule.namespace, rule.type_name):
            if name in self.layout.types:
                return self.layout.of(name)
        return self.layout.of(None)

    def _rule_of(self, path: str) -> TypeRule | None:
        data = self.graph.nodes[path]
        if self.rules.specs.find_type(data["namespace"], data["type"]) is None:
            return None
        return self.rules.type_rule(data["namespace"], data["type"])


def _as_array(value: Any) -> Any:
    """Lists read from text become numpy arrays, as stored arrays read."""
    if isinstance(value, list):
        import numpy as np

        return np.asarray(value)
    return value
