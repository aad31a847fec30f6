"""The rule set -> LinkML: one ``SchemaDefinition`` per namespace, the published schema.

One class per type (``is_a`` its parent), nested types for untyped named parts, one
slot per part: quantities as required/multivalued/cardinalities, dtypes as LinkML
types (references as the class they point to, compound dtypes as a row class),
shapes as LinkML arrays (several allowed shapes as ``any_of``), fixed values as
``equals_*``, defaults as ``ifabsent``. HDF5 words LinkML has none for (role, HDF5
name) are plain annotations for readers of the schema; nothing reads them back: the
models are generated from the rule set itself.
"""

from __future__ import annotations

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

from h5model.rules.model import Dim, Part, Role, TypeRule
from h5model.rules.ruleset import NamespaceRules
from h5model.spec.dtypes import FLOATS, SIGNED, UNSIGNED

_TYPES = {
    **{name: "integer" for name in sorted(SIGNED | UNSIGNED)},
    **{name: "float" for name in sorted(FLOATS)},
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
ANY = "Any"


def schema_name(namespace: str) -> str:
    """A namespace name folded to ASCII letters, digits and ``_`` (not unique: ``a-b``
    and ``a_b`` fold alike; module variables and file names are told apart where used)."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in namespace)


def linkml_schema(rules: NamespaceRules, key: str, dep_keys: dict[str, str]) -> SchemaDefinition:
    """The LinkML schema of one namespace; ``key`` and ``dep_keys`` name it and its imports."""
    classes: dict[str, ClassDefinition] = {
        ANY: ClassDefinition(name=ANY, class_uri="linkml:Any", description="A value of any type.")
    }
    for rule in rules.classes.values():
        classes[rule.class_name] = ClassDefinition(
            name=rule.class_name,
            is_a=rule.parent,
            description=rule.doc,
            annotations=_class_annotations(rule),
            attributes={part.field: _slot(rule, part, classes) for part in rule.parts},
        )
    return SchemaDefinition(
        id=f"urn:h5model:{key}",
        name=schema_name(rules.name),
        title=rules.name,
        version=rules.version or None,
        description=rules.doc,
        imports=[f"urn:h5model:{dep_keys[d]}" for d in rules.depends],
        default_prefix=f"urn:h5model:{key}/",
        types=_types(),
        classes=classes,
        annotations={
            "namespace": rules.name,
            "namespace_version": rules.version,
            "module_key": key,
            "content_hash": rules.content_hash,
        },
    )


def _class_annotations(rule: TypeRule) -> dict[str, str]:
    out = {"hdf5_kind": str(rule.kind)}
    if rule.type_name is not None:
        out["namespace"] = str(rule.namespace)
        out["type_name"] = rule.type_name
    if rule.nested_in is not None and rule.hdf5_name is not None:
        out["nested_in"] = rule.nested_in
        out["hdf5_name"] = rule.hdf5_name
    return out


def _slot(rule: TypeRule, part: Part, classes: dict[str, ClassDefinition]) -> SlotDefinition:
    annotations = {"hdf5_role": str(part.role)}
    if part.name is not None:
        annotations["hdf5_name"] = part.name
    slot = SlotDefinition(
        name=part.field,
        description=part.doc,
        required=part.required,
        annotations=annotations,
    )
    if part.role is Role.CHILDREN:
        slot.multivalued = True
        slot.inlined = True
        slot.minimum_cardinality = part.min_items or None
        slot.maximum_cardinality = part.max_items
    value = part.value
    if value is None:
        slot.range = part.target or ANY
        return slot
    if value.reference is not None:
        slot.range = value.reference.target_type
        annotations["reftype"] = value.reference.reftype
    elif value.compound:
        row = f"{rule.class_name}__{part.field}__row"
        classes[row] = ClassDefinition(
            name=row,
            description=f"One row of the compound dtype of {rule.class_name}.{part.field}.",
            attributes={
                f.name: SlotDefinition(
                    name=f.name,
                    description=f.doc,
                    range=f.reference.target_type if f.reference else f.primitive or ANY,
                )
                for f in value.compound
            },
        )
        slot.range = row
    elif value.primitive is not None:
        slot.range = value.primitive
    else:
        slot.range = ANY
    arrays = [_array(option) for option in value.shapes]
    if len(arrays) == 1:
        slot.array = arrays[0]
    elif len(arrays) > 1:
        slot.any_of = [AnonymousSlotExpression(array=a) for a in arrays]
    _fixed(slot, value.fixed)
    if value.default is not None:
        slot.ifabsent = _ifabsent(value.default)
    return slot


def _fixed(slot: SlotDefinition, fixed: Any) -> None:
    if fixed is None:
        return
    if isinstance(fixed, str):
        slot.equals_string = fixed
    elif isinstance(fixed, int | float) and not isinstance(fixed, bool):
        slot.equals_number = fixed
    else:  # booleans and arrays: LinkML's expression form
        slot.equals_expression = repr(fixed)


def _array(option: tuple[Dim, ...]) -> ArrayExpression:
    dims = [
        DimensionExpression(alias=d.name or f"dim{i}", exact_cardinality=d.length)
        for i, d in enumerate(option)
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
