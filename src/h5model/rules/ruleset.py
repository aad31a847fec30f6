"""Specs -> the rule set: every type of every namespace resolved once into a ``TypeRule``.

A type's rules hold its inherited parts with overrides merged (``spec.resolve``), each
part's field name checked (``rules.naming``), quantities as numbers, dtypes in their
canonical spelling. Untyped named parts that carry parts of their own get a nested
type (``Owner__name``) that refines the one its owner's parent gave the same part,
so a subtype's models stay instances of their parent's.

Types are resolved on first use and kept: validation asks for the few types a file
holds, code generation for all of them (``NamespaceRules``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from h5model.errors import SpecError
from h5model.rules.model import (
    CompoundField,
    Dim,
    Dtype,
    Kind,
    Part,
    Reference,
    Role,
    TypeRule,
    ValueRule,
)
from h5model.rules.naming import class_identifier, field_identifier, snake_case
from h5model.spec import language, limits
from h5model.spec.dtypes import KNOWN, canonical
from h5model.spec.loader import SpecSet
from h5model.spec.quantity import quantity
from h5model.spec.resolve import Resolver, merge

TABLE_MIXINS = {
    "DynamicTable": "DynamicTable",
    "VectorData": "VectorData",
    "VectorIndex": "VectorIndex",
    "DynamicTableRegion": "DynamicTableRegion",
}
"""hdmf-common types whose models get table behaviour (rows, ragged columns, regions)."""
TABLE_NAMESPACE = "hdmf-common"
TIMED_MIXIN = "TimeSeries"
"""Time behaviour (``get_timestamps``, ``time_slice``...) for the types ``timed`` accepts."""
MIXINS = frozenset({*TABLE_MIXINS.values(), TIMED_MIXIN})
"""Every behaviour a type's models may get."""

Spec = language.Group | language.Dataset


@dataclass
class NamespaceRules:
    """Every class one namespace's models need, in the order they were resolved."""

    name: str
    version: str
    doc: str | None
    content_hash: str
    depends: tuple[str, ...]
    """Every namespace it depends on, directly or not, each after its own dependencies."""
    classes: dict[str, TypeRule] = field(default_factory=dict)
    part_classes: dict[str, dict[str, str]] = field(default_factory=dict)
    """owner class -> field -> the class (in ``classes``) of the object at that typed named
    part, where the owner's spec adds attributes to the part's type (``Units__waveforms``)."""


class RuleSet:
    """The resolved rules of every type of a spec set, built on demand and kept."""

    def __init__(self, specs: SpecSet) -> None:
        self.specs = specs
        self.resolver = Resolver(specs)
        self._types: dict[tuple[str, str], TypeRule] = {}
        self._nested: dict[tuple[str, str], str] = {}
        """(owner class, part name) -> nested class, so subtypes refine their parent's (set
        before the nested type is built: its parts may reach a subtype of its owner)."""
        self._order: dict[str, dict[str, TypeRule]] = {}
        """namespace -> classes in the order they were resolved (nested ones included)."""
        self._building: set[tuple[str, str]] = set()
        self._refined: dict[tuple[str, str, str, int], tuple[object, TypeRule]] = {}
        """Refined rules by (lookup namespace, namespace, type, the part's spec)."""
        self._depth = 0
        self._visible: dict[str, set[str]] = {}
        """How deep the build of the current type reaches (types held by parts, nested
        parts): bounded by ``MAX_BUILD_DEPTH`` so that no spec can exhaust the stack."""

    def _error(self, message: str, namespace: str | None = None, *,
               rule: str | None = None) -> SpecError:
        """A SpecError naming the file and the namespace's place in it."""
        origin = self.specs.namespaces[namespace].origin if namespace else None
        return SpecError(message, file=self.specs.label, hdf5_path=origin, rule=rule)

    # -- types ------------------------------------------------------------------------------
    def type_rule(self, namespace: str, type_name: str) -> TypeRule:
        """The rules of ``type_name`` as seen from ``namespace`` (dependencies searched)."""
        found = self.specs.find_type(namespace, type_name)
        if found is None:
            raise self._error(
                f"type {type_name!r} is not defined in namespace {namespace!r} "
                "or the namespaces it depends on",
                namespace,
                rule="type.unknown",
            )
        defining, _ = found
        key = (defining, type_name)
        rule = self._types.get(key)
        if rule is None:
            # ancestors first, root down, without recursion (resolving checks the chain
            # for cycles and depth): a long chain costs no stack
            self.resolver.type_spec(defining, type_name)
            for ancestor in reversed(self.resolver.lineage(defining, type_name)[1:]):
                found_ancestor = self.specs.find_type(defining, ancestor)
                if found_ancestor is None:
                    break
                ancestor_key = (found_ancestor[0], ancestor)
                if ancestor_key not in self._types and ancestor_key not in self._building:
                    self._build_type(*ancestor_key)
            rule = self._types.get(key) or self._build_type(defining, type_name)
        return rule

    def lineage(self, namespace: str, type_name: str) -> list[str]:
        """``type_name`` and every type it inherits from, nearest first."""
        return self.resolver.lineage(namespace, type_name)

    def is_a(self, namespace: str, type_name: str, wanted: str) -> bool:
        """True when ``type_name`` (seen from ``namespace``) is ``wanted`` or a subtype."""
        return self.resolver.is_a(namespace, type_name, wanted)

    def has_type(self, namespace: str | None, type_name: str | None, wanted: str) -> bool:
        """True when an object typed ``namespace``/``type_name`` (both None: untyped) is a
        ``wanted`` or a subtype of one; a namespace the specs lack matches by name alone."""
        if namespace is None or type_name is None:
            return False
        if namespace not in self.specs.namespaces:
            return type_name == wanted
        return self.resolver.is_a(namespace, type_name, wanted)

    def refined(self, owner: TypeRule, namespace: str, type_name: str, part: Part) -> TypeRule:
        """The rules of an object of ``type_name`` found at a typed named ``part`` of
        ``owner``: its own type with what the part adds or overrides laid over it (the
        part's type names are looked up from the owner's namespace)."""
        base = self.type_rule(namespace, type_name)
        if part.spec is None or not _adds_anything(part.spec):
            return base
        lookup = owner.lookup_namespace or namespace
        key = (lookup, namespace, type_name, id(part.spec))
        cached = self._refined.get(key)
        if cached is not None:
            return cached[1]
        _, own = self.resolver.type_spec(namespace, type_name)
        merged = merge(own, part.spec.model_copy(update={"data_type_inc": None}))
        rule = self._compile(lookup, base.class_name, merged, base.parent, register=False,
                             type_name=type_name)
        rule = dataclasses.replace(rule, namespace=base.namespace, mixin=base.mixin, scope=lookup)
        self._refined[key] = (part.spec, rule)  # the spec kept alive: its id stays its own
        return rule

    # -- namespaces ---------------------------------------------------------------------------
    def namespace(self, name: str) -> NamespaceRules:
        """Every type of namespace ``name``, resolved (for code generation)."""
        spec = self.specs.namespaces[name]
        for type_name, _ in spec.types():
            self.type_rule(name, type_name)
        classes = dict(self._order.get(name, {}))
        part_classes = self._part_classes(name, classes)
        return NamespaceRules(
            name=name,
            version=spec.version,
            doc=spec.namespace.doc,
            content_hash=spec.content_hash,
            depends=tuple(d for d in self.specs.dependency_closure(name) if d != name),
            classes=classes,
            part_classes=part_classes,
        )

    def _part_classes(
        self, namespace: str, classes: dict[str, TypeRule]
    ) -> dict[str, dict[str, str]]:
        """Add to ``classes`` a class for each typed named part whose owner adds attributes
        to the part's type (its rules: ``refined``), named ``Owner__name`` and extending
        the part's type; returns owner -> field -> that class. Parts of those classes are
        refined in turn, as deep as ``MAX_BUILD_DEPTH`` allows."""
        out: dict[str, dict[str, str]] = {}
        queue = [(rule, 0) for rule in classes.values()]
        while queue:
            owner, depth = queue.pop(0)
            for part in owner.parts:
                if (part.type is None or part.spec is None or part.name is None
                        or part.role not in (Role.DATASET, Role.GROUP)):
                    continue
                lookup = owner.lookup_namespace or namespace
                base = self.type_rule(lookup, part.type)
                refined = self.refined(owner, lookup, part.type, part)
                if refined.attributes == base.attributes:
                    continue  # only a narrower value: validation checks it, no class needed
                class_name = f"{owner.class_name}__{field_identifier(part.name, set())}"
                if class_name in classes or class_name in self._visible_types(namespace):
                    continue
                if depth >= limits.MAX_BUILD_DEPTH:
                    raise self._error(f"parts of {owner.class_name!r} nest more than "
                                      f"{limits.MAX_BUILD_DEPTH} deep", namespace,
                                      rule="type.too-deep")
                rule = dataclasses.replace(refined, class_name=class_name, parent=base.class_name,
                                           mixin=None, nested_in=owner.class_name,
                                           hdf5_name=part.name)
                classes[class_name] = rule
                out.setdefault(owner.class_name, {})[part.field] = class_name
                queue.append((rule, depth + 1))
        return out

    def build_all(self) -> None:
        """Resolve every type of every namespace, as code generation does when a file is
        opened: a spec that cannot become models fails here, whichever types a file uses."""
        for name in self.specs.namespaces:
            self.namespace(name)

    # -- building -----------------------------------------------------------------------------
    def _build_type(self, namespace: str, type_name: str) -> TypeRule:
        key = (namespace, type_name)
        where = self.specs.namespaces[namespace].origin
        if key in self._building:
            raise self._error(f"type {type_name!r} of namespace {namespace!r} inherits "
                              "from itself", namespace, rule="type.inheritance-cycle")
        try:
            class_name = class_identifier(type_name, where=where, file=self.specs.label)
        except SpecError as exc:
            raise self._error(f"namespace {namespace!r}: {exc.message}", namespace,
                              rule=exc.rule) from None
        own = self.specs.defined(namespace)[type_name]
        parent = own.data_type_inc
        self._building.add(key)
        self._enter(namespace, type_name)
        try:
            if parent is not None:
                found = self.specs.find_type(namespace, parent)
                if found is None:
                    raise self._error(
                        f"type {type_name!r} of namespace {namespace!r} extends unknown "
                        f"type {parent!r}",
                        namespace,
                        rule="type.unknown",
                    )
                if (found[0], parent) not in self._building:
                    self.type_rule(namespace, parent)  # first: nested parts refine theirs
            _, spec = self.resolver.type_spec(namespace, type_name)
            order = self._order.setdefault(namespace, {})
            order.setdefault(class_name, _PLACEHOLDER)  # its place comes before its parts'
            try:
                rule = self._compile(namespace, class_name, spec, parent, register=True,
                                     type_name=type_name)
            except SpecError as exc:
                if exc.file is not None:
                    raise
                raise self._error(f"type {type_name!r} of namespace {namespace!r}: "
                                  f"{exc.message}", namespace, rule=exc.rule) from None
        finally:
            self._building.discard(key)
            self._depth -= 1
        self._types[key] = rule
        self._order[namespace][class_name] = rule
        return rule

    def _enter(self, namespace: str, name: str) -> None:
        """One level deeper into a build; refused beyond ``MAX_BUILD_DEPTH``."""
        if self._depth >= limits.MAX_BUILD_DEPTH:
            raise self._error(
                f"resolving {name!r} of namespace {namespace!r} reaches more than "
                f"{limits.MAX_BUILD_DEPTH} types and nested parts deep",
                namespace,
                rule="type.too-deep",
            )
        self._depth += 1

    def _compile(
        self,
        namespace: str,
        class_name: str,
        spec: Spec,
        parent: str | None,
        *,
        register: bool,
        type_name: str | None = None,
        hdf5_name: str | None = None,
        nested_in: str | None = None,
    ) -> TypeRule:
        mixin = (
            TABLE_MIXINS.get(type_name)
            if namespace == TABLE_NAMESPACE and type_name is not None
            else None
        )
        if mixin is None and type_name is not None and timed(spec):
            # the first type of its line (subtypes inherit the behaviour with the class)
            above = self.resolver.type_spec(namespace, parent)[1] if parent else None
            if above is None or not timed(above):
                mixin = TIMED_MIXIN
        parts = self._parts(namespace, class_name, spec, parent, register=register)
        return TypeRule(
            class_name=class_name,
            kind=Kind.DATASET if isinstance(spec, language.Dataset) else Kind.GROUP,
            parts=parts,
            namespace=namespace,
            type_name=type_name,
            parent=parent,
            doc=spec.doc,
            mixin=mixin,
            hdf5_name=hdf5_name,
            nested_in=nested_in,
        )

    def _parts(
        self, namespace: str, owner: str, spec: Spec, parent: str | None, *, register: bool
    ) -> tuple[Part, ...]:
        parts: list[Part] = []
        # a field must not take the name of a class its siblings' annotations may name
        taken: set[str] = set(self._visible_types(namespace))
        if isinstance(spec, language.Dataset):
            taken.add("value")
            value = self._value(namespace, "value", spec.dtype, spec.shapes, spec.value,
                                spec.default_value)
            parts.append(Part(field="value", role=Role.VALUE, value=value, required=True))
        for attr in spec.attributes:
            ident = field_identifier(attr.name, taken)
            value = self._value(namespace, ident, attr.dtype, attr.shapes, attr.value,
                                attr.default_value)
            parts.append(
                Part(
                    field=ident,
                    role=Role.ATTRIBUTE,
                    name=attr.name,
                    doc=attr.doc,
                    value=value,
                    required=attr.required is not False and attr.default_value is None,
                    min_items=0 if attr.required is False else 1,
                    max_items=1,
                )
            )
        if not isinstance(spec, language.Group):
            return tuple(parts)
        members: list[Spec] = [*spec.datasets, *spec.groups]
        for member in members:
            if member.name:
                ident = field_identifier(member.name, taken)
                parts.append(self._named(namespace, owner, ident, member, parent,
                                         register=register))
        for link in spec.links:
            ident = field_identifier(link.name or snake_case(link.target_type), taken)
            minimum, maximum = quantity(link.quantity)
            self._require_type(namespace, link.target_type)
            parts.append(
                Part(
                    field=ident,
                    role=Role.LINK,
                    name=link.name,
                    doc=link.doc,
                    type=link.target_type,
                    required=minimum > 0 and link.name is not None,
                    min_items=minimum,
                    max_items=maximum,
                )
            )
        for member in members:
            if member.name:
                continue
            type_name = member.data_type_def or member.data_type_inc
            if type_name is None:
                raise SpecError(f"{owner}: an unnamed part has no type")
            ident = field_identifier(snake_case(type_name), taken)
            minimum, maximum = quantity(member.quantity)
            self._require_type(namespace, type_name)
            parts.append(
                Part(
                    field=ident,
                    role=Role.CHILDREN,
                    doc=member.doc,
                    kind=_kind(member),
                    type=type_name,
                    min_items=minimum,
                    max_items=maximum,
                    spec=member,
                )
            )
        return tuple(parts)

    def _named(
        self,
        namespace: str,
        owner: str,
        ident: str,
        member: Spec,
        parent: str | None,
        *,
        register: bool,
    ) -> Part:
        assert member.name is not None
        minimum, maximum = quantity(member.quantity)
        kind = _kind(member)
        role = Role.DATASET if kind is Kind.DATASET else Role.GROUP
        common: dict[str, Any] = {
            "field": ident,
            "role": role,
            "name": member.name,
            "doc": member.doc,
            "kind": kind,
            "min_items": minimum,
            "max_items": maximum,
            "required": minimum > 0,
        }
        type_name = member.data_type_def or member.data_type_inc
        if type_name is not None:
            self._require_type(namespace, type_name)
            return Part(type=type_name, spec=member, **common)
        if isinstance(member, language.Dataset) and not member.attributes:
            value = self._value(namespace, ident, member.dtype, member.shapes, member.value,
                                member.default_value)
            if member.value is not None or member.default_value is not None:
                common["required"] = False
            return Part(value=value, unwrap=True, **common)
        nested = self._nested_type(namespace, owner, member, parent, register=register)
        return Part(nested=nested, **common)

    def _nested_type(
        self, namespace: str, owner: str, member: Spec, parent: str | None, *, register: bool
    ) -> TypeRule:
        assert member.name is not None
        class_name = f"{owner}__{field_identifier(member.name, set())}"
        inherited = self._nested.get((parent, member.name)) if parent else None
        order = self._order.setdefault(namespace, {})
        if register:
            existing = order.get(class_name)
            if existing is not None and existing is not _PLACEHOLDER:
                return existing
            order[class_name] = _PLACEHOLDER
            self._nested[(owner, member.name)] = class_name
        self._enter(namespace, class_name)
        try:
            rule = self._compile(
                namespace,
                class_name,
                member,
                inherited,
                register=register,
                hdf5_name=member.name,
                nested_in=owner,
            )
        finally:
            self._depth -= 1
        if register:
            order[class_name] = rule
        return rule

    def _value(
        self,
        namespace: str,
        label: str,
        dtype: language.DtypeSpec | None,
        shapes: list[language.ShapeOption],
        fixed: Any,
        default: Any,
    ) -> ValueRule:
        return ValueRule(
            dtype=self._dtype(namespace, label, dtype),
            shapes=tuple(tuple(Dim(d.name, d.length) for d in o.dims) for o in shapes),
            fixed=fixed,
            default=None if fixed is not None else default,
        )

    def _dtype(
        self, namespace: str, label: str, dtype: language.DtypeSpec | None
    ) -> Dtype | None:
        if dtype is None:
            return None
        if dtype.reference is not None:
            self._require_type(namespace, dtype.reference.target_type)
            return Dtype(reference=Reference(dtype.reference.target_type,
                                             dtype.reference.reftype))
        if dtype.compound:
            fields = []
            for item in dtype.compound:
                reference = item.dtype.reference
                if reference is not None:
                    self._require_type(namespace, reference.target_type)
                fields.append(
                    CompoundField(
                        name=item.name,
                        doc=item.doc,
                        primitive=canonical(item.dtype.primitive)
                        if item.dtype.primitive
                        else None,
                        reference=Reference(reference.target_type, reference.reftype)
                        if reference
                        else None,
                    )
                )
            return Dtype(compound=tuple(fields))
        primitive = canonical(dtype.primitive or "")
        if primitive not in KNOWN:
            shown = dtype.primitive if dtype.primitive is None else dtype.primitive[:80]
            raise SpecError(f"unknown dtype {shown!r} for {label!r}")
        return Dtype(primitive=primitive)

    def _require_type(self, namespace: str, type_name: str) -> None:
        """A type a part names must exist; one of this namespace is resolved now (so the
        namespace's classes keep the order code generation has always used)."""
        found = self.specs.find_type(namespace, type_name)
        if found is None:
            raise SpecError(f"a part names unknown type {type_name!r}")
        defining, _ = found
        if defining == namespace and (defining, type_name) not in self._building:
            self.type_rule(namespace, type_name)


    def _visible_types(self, namespace: str) -> set[str]:
        """Every type name ``namespace`` sees (its own and its dependencies')."""
        cached = self._visible.get(namespace)
        if cached is None:
            cached = set()
            for name in self.specs.search_order(namespace):
                cached.update(self.specs.defined(name))
            self._visible[namespace] = cached
        return cached


_PLACEHOLDER: Any = TypeRule(class_name="", kind=Kind.GROUP, parts=())


def timed(spec: Spec) -> bool:
    """True when a type's resolved spec gives its samples times as NWB's TimeSeries does:
    a ``data`` dataset, and a ``timestamps`` dataset or a ``starting_time`` dataset with a
    ``rate`` attribute."""
    if not isinstance(spec, language.Group):
        return False
    named = {d.name: d for d in spec.datasets if d.name}
    if "data" not in named:
        return False
    starting = named.get("starting_time")
    has_rate = starting is not None and any(a.name == "rate" for a in starting.attributes)
    return "timestamps" in named or has_rate


def _kind(spec: Spec) -> Kind:
    return Kind.DATASET if isinstance(spec, language.Dataset) else Kind.GROUP


def _adds_anything(spec: Spec) -> bool:
    """True when a typed part restates more than its type and quantity."""
    keep = {"data_type_inc", "data_type_def", "name", "doc", "quantity", "default_name",
            "linkable"}
    return bool(set(spec.model_fields_set) - keep)
