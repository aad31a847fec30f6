"""Specs -> LinkML: one ``SchemaDefinition`` per namespace.

One class per group or dataset type (``is_a`` its ``data_type_inc``), with
every part, inherited ones included, as a slot: attributes, named datasets,
groups and links, and collections of unnamed children. HDF5 specifics the
LinkML metamodel has no word for (role, HDF5 name, precise dtype, fixed value)
ride along as slot annotations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from linkml_runtime.linkml_model.meta import (
    AnonymousSlotExpression,
    ArrayExpression,
    ClassDefinition,
    DimensionExpression,
    SchemaDefinition,
    SlotDefinition,
    TypeDefinition,
)

from h5model.codegen.identifiers import class_identifier, field_identifier, snake_case
from h5model.codegen.keys import module_key
from h5model.errors import SpecError
from h5model.spec import dtypes, language
from h5model.spec.loader import SpecSet
from h5model.spec.quantity import quantity
from h5model.spec.resolve import Resolver

# hdmf-common types whose models get table behaviour (rows, ragged columns, regions).
RUNTIME_MIXINS = {
    "DynamicTable": "DynamicTable",
    "VectorData": "VectorData",
    "VectorIndex": "VectorIndex",
    "DynamicTableRegion": "DynamicTableRegion",
}

_TYPES = {
    **{name: "integer" for name in sorted(dtypes.SIGNED | dtypes.UNSIGNED)},
    **{name: "float" for name in sorted(dtypes.FLOATS)},
    "numeric": "float",
    "text": "string",
    "ascii": "string",
    "isodatetime": "datetime",
    "bool": "boolean",
}
_BASES = {
    "string": ("str", "xsd:string"),
    "integer": ("int", "xsd:integer"),
    "float": ("float", "xsd:float"),
    "boolean": ("Bool", "xsd:boolean"),
    "datetime": ("XSDDateTime", "xsd:dateTime"),
}


_PENDING: Any = object()


@dataclass
class _Context:
    namespace: str
    specs: SpecSet
    resolver: Resolver
    classes: dict[str, ClassDefinition] = field(default_factory=dict)
    used_types: set[str] = field(default_factory=set)
    nested: dict[tuple[str, str], str] = field(default_factory=dict)
    """(owner class, part name) -> nested class name, so subtypes can inherit it."""
    imported: dict[str, str] = field(default_factory=dict)
    """class name -> namespace defining it, for classes of other namespaces."""


class Translator:
    """Translates every namespace of a spec set, dependencies first."""

    def __init__(self, specs: SpecSet) -> None:
        self.specs = specs
        self.resolver = Resolver(specs)
        self.schemas: dict[str, SchemaDefinition] = {}
        self.keys: dict[str, str] = {}
        self.nested: dict[tuple[str, str], str] = {}

    def all(self) -> dict[str, SchemaDefinition]:
        for name in self.specs.namespaces:
            for ns in self.specs.dependency_closure(name):
                self.schema(ns)
        return self.schemas

    def schema(self, namespace: str) -> SchemaDefinition:
        if namespace in self.schemas:
            return self.schemas[namespace]
        spec = self.specs.namespaces[namespace]
        deps = [d for d in self.specs.dependency_closure(namespace) if d != namespace]
        for dep in deps:
            self.schema(dep)
        key = module_key(spec.content_hash, [self.keys[d] for d in deps])
        self.keys[namespace] = key
        ctx = _Context(namespace, self.specs, self.resolver)
        ctx.nested = self.nested
        ctx.classes["Any"] = ClassDefinition(
            name="Any", class_uri="linkml:Any", description="A value of any type."
        )
        for type_name, _ in spec.types():
            self._type_class(ctx, type_name)
        schema = SchemaDefinition(
            id=f"urn:h5model:{key}",
            name=_schema_name(namespace),
            title=namespace,
            version=spec.version or None,
            description=spec.namespace.doc,
            imports=[f"urn:h5model:{self.keys[d]}" for d in deps],
            default_prefix=f"urn:h5model:{key}/",
            types=_types(),
            classes=ctx.classes,
            annotations={
                "namespace": namespace,
                "namespace_version": spec.version,
                "module_key": key,
                "content_hash": spec.content_hash,
                "depends": json.dumps(deps),
            },
        )
        self.schemas[namespace] = schema
        return schema

    # -- classes -------------------------------------------------------------
    def _type_class(self, ctx: _Context, type_name: str) -> None:
        if type_name in ctx.classes:
            return
        where = f"{self.specs.namespaces[ctx.namespace].origin} type {type_name}"
        name = class_identifier(type_name, where=where)
        _, spec = self.resolver.type_spec(ctx.namespace, type_name)
        own = self.specs.defined(ctx.namespace)[type_name]
        parent = own.data_type_inc
        if parent is not None:
            found = self.specs.find_type(ctx.namespace, parent)
            if found is None:
                raise SpecError(
                    f"type {type_name!r} extends unknown type {parent!r}", hdf5_path=where
                )
            self._class_for_type(ctx, parent)  # parents first: nested parts inherit theirs
        annotations: dict[str, Any] = {
            "hdf5_kind": "dataset" if isinstance(spec, language.Dataset) else "group",
            "namespace": ctx.namespace,
            "type_name": type_name,
        }
        if ctx.namespace == "hdmf-common" and type_name in RUNTIME_MIXINS:
            annotations["runtime_mixin"] = RUNTIME_MIXINS[type_name]
        ctx.classes[name] = _PENDING  # before slots: parts may refer back to this type
        ctx.classes[name] = ClassDefinition(
            name=name,
            is_a=parent,
            description=spec.doc,
            annotations=annotations,
            attributes=self._slots(ctx, name, spec, parent),
        )

    def _slots(
        self,
        ctx: _Context,
        owner: str,
        spec: language.Group | language.Dataset,
        parent_class: str | None,
    ) -> dict[str, SlotDefinition]:
        slots: dict[str, SlotDefinition] = {}
        taken: set[str] = {"value"} if isinstance(spec, language.Dataset) else set()
        if isinstance(spec, language.Dataset):
            slots["value"] = self._value_slot(ctx, spec)
        for attr in spec.attributes:
            ident = field_identifier(attr.name, taken)
            slots[ident] = self._attribute_slot(ctx, ident, attr)
        if isinstance(spec, language.Group):
            parts: list[language.Group | language.Dataset] = [*spec.datasets, *spec.groups]
            for part in parts:
                if part.name:
                    ident = field_identifier(part.name, taken)
                    slots[ident] = self._named_part(ctx, owner, ident, part, parent_class)
            for link in spec.links:
                ident = field_identifier(link.name or snake_case(link.target_type), taken)
                slots[ident] = self._link_slot(ctx, ident, link)
            for part in parts:
                if not part.name:
                    type_name = part.data_type_def or part.data_type_inc
                    if type_name is None:
                        raise SpecError(f"{owner}: an unnamed part has no type")
                    ident = field_identifier(snake_case(type_name), taken)
                    slots[ident] = self._children_slot(ctx, ident, part)
        return slots

    def _class_for_type(self, ctx: _Context, type_name: str) -> str:
        found = self.specs.find_type(ctx.namespace, type_name)
        if found is None:
            raise SpecError(f"unknown type {type_name!r} (namespace {ctx.namespace!r})")
        defining, _ = found
        if defining == ctx.namespace:
            self._type_class(ctx, type_name)
        return type_name

    def _value_slot(self, ctx: _Context, spec: language.Dataset) -> SlotDefinition:
        slot = SlotDefinition(name="value", annotations={"hdf5_role": "value"})
        self._dtype_shape(ctx, slot, spec.dtype, spec.shapes, spec.value, spec.default_value)
        slot.required = True
        return slot

    def _attribute_slot(
        self, ctx: _Context, ident: str, attr: language.Attribute
    ) -> SlotDefinition:
        slot = SlotDefinition(
            name=ident,
            description=attr.doc,
            annotations={"hdf5_role": "attribute", "hdf5_name": attr.name},
        )
        self._dtype_shape(ctx, slot, attr.dtype, attr.shapes, attr.value, attr.default_value)
        slot.required = attr.required is not False and attr.default_value is None
        return slot

    def _dtype_shape(
        self,
        ctx: _Context,
        slot: SlotDefinition,
        dtype: language.DtypeSpec | None,
        shapes: list[language.ShapeOption],
        value: Any,
        default: Any,
    ) -> None:
        if dtype is None:
            slot.range = "Any"
        elif dtype.reference is not None:
            slot.range = self._class_for_type(ctx, dtype.reference.target_type)
            slot.annotations["reftype"] = dtype.reference.reftype
        elif dtype.compound:
            slot.range = "Any"
            slot.annotations["compound_fields"] = json.dumps([f.name for f in dtype.compound])
            slot.annotations["compound"] = json.dumps(
                [
                    {
                        "name": f.name,
                        "dtype": f.dtype.primitive
                        or (f.dtype.reference.target_type if f.dtype.reference else None),
                        "reference": bool(f.dtype.reference),
                    }
                    for f in dtype.compound
                ]
            )
        else:
            primitive = dtypes.canonical(dtype.primitive or "")
            if primitive not in _TYPES:
                raise SpecError(f"unknown dtype {dtype.primitive!r} for {slot.name!r}")
            slot.range = primitive
            slot.annotations["dtype"] = primitive
        arrays = [_array(option) for option in shapes]
        if len(arrays) == 1:
            slot.array = arrays[0]
        elif len(arrays) > 1:
            slot.any_of = [AnonymousSlotExpression(array=a) for a in arrays]
        if value is not None:
            slot.annotations["fixed_value"] = json.dumps(value)
        elif default is not None:
            slot.ifabsent = _ifabsent(default)
            slot.annotations["default_value"] = json.dumps(default)

    def _named_part(
        self,
        ctx: _Context,
        owner: str,
        ident: str,
        part: language.Group | language.Dataset,
        parent_class: str | None,
    ) -> SlotDefinition:
        is_dataset = isinstance(part, language.Dataset)
        minimum, _maximum = quantity(part.quantity)
        slot = SlotDefinition(
            name=ident,
            description=part.doc,
            required=minimum > 0,
            annotations={"hdf5_role": "dataset" if is_dataset else "group", "hdf5_name": part.name},
        )
        if part.data_type_def:
            slot.range = self._class_for_type(ctx, part.data_type_def)
        elif part.data_type_inc:
            slot.range = self._class_for_type(ctx, part.data_type_inc)
        elif isinstance(part, language.Dataset) and not part.attributes:
            # a plain named dataset: the field holds its value
            slot.annotations["unwrap"] = "true"
            self._dtype_shape(ctx, slot, part.dtype, part.shapes, part.value, part.default_value)
            if part.value is not None or part.default_value is not None:
                slot.required = False
            if not part.shapes and part.dtype is not None and part.dtype.primitive:
                slot.annotations["maybe_array"] = "true"
        else:
            slot.range = self._nested_class(ctx, owner, part, parent_class)
        return slot

    def _nested_class(
        self,
        ctx: _Context,
        owner: str,
        part: language.Group | language.Dataset,
        parent_class: str | None,
    ) -> str:
        assert part.name is not None
        ident = field_identifier(part.name, set())
        name = f"{owner}__{ident}"
        if name in ctx.classes:
            return name
        inherited = ctx.nested.get((parent_class, part.name)) if parent_class else None
        kind = "dataset" if isinstance(part, language.Dataset) else "group"
        ctx.classes[name] = _PENDING
        ctx.nested[(owner, part.name)] = name
        ctx.classes[name] = ClassDefinition(
            name=name,
            is_a=inherited,
            description=part.doc,
            annotations={"hdf5_kind": kind, "nested_in": owner, "hdf5_name": part.name},
            attributes=self._slots(ctx, name, part, inherited),
        )
        return name

    def _link_slot(self, ctx: _Context, ident: str, link: language.Link) -> SlotDefinition:
        minimum, _maximum = quantity(link.quantity)
        return SlotDefinition(
            name=ident,
            description=link.doc,
            range=self._class_for_type(ctx, link.target_type),
            required=minimum > 0 and link.name is not None,
            annotations={"hdf5_role": "link", "hdf5_name": link.name}
            if link.name
            else {"hdf5_role": "link"},
        )

    def _children_slot(
        self, ctx: _Context, ident: str, part: language.Group | language.Dataset
    ) -> SlotDefinition:
        type_name = part.data_type_def or part.data_type_inc
        assert type_name is not None
        minimum, maximum = quantity(part.quantity)
        return SlotDefinition(
            name=ident,
            description=part.doc,
            range=self._class_for_type(ctx, type_name),
            multivalued=True,
            inlined=True,
            minimum_cardinality=minimum or None,
            maximum_cardinality=maximum,
            annotations={
                "hdf5_role": "children",
                "hdf5_kind": "dataset" if isinstance(part, language.Dataset) else "group",
            },
        )


def _array(option: language.ShapeOption) -> ArrayExpression:
    dims = [
        DimensionExpression(
            alias=d.name or f"dim{i}",
            exact_cardinality=d.length,
        )
        for i, d in enumerate(option.dims)
    ]
    return ArrayExpression(dimensions=dims, exact_number_dimensions=len(dims))


def _ifabsent(default: Any) -> str | None:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, int):
        return f"int({default})"
    if isinstance(default, float):
        return f"float({default!r})"
    if isinstance(default, str):
        return f"string({default})"
    return None


def _types() -> dict[str, TypeDefinition]:
    out = {
        base: TypeDefinition(name=base, base=python, uri=uri)
        for base, (python, uri) in _BASES.items()
    }
    for name, base in _TYPES.items():
        out[name] = TypeDefinition(name=name, typeof=base, uri=_BASES[base][1])
    return out


def _schema_name(namespace: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in namespace)


def translate(specs: SpecSet) -> Mapping[str, SchemaDefinition]:
    """Every namespace of ``specs`` as a LinkML schema, keyed by namespace name."""
    return Translator(specs).all()
