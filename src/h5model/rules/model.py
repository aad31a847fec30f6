"""The resolved description of every spec type: what the file must hold, typed.

Specs list only what a type adds to its parent, in several spellings. The rule set
(``rules.ruleset``) resolves each type once into a ``TypeRule``: every part, inherited
ones included, with its role, HDF5 name, field name, quantity, dtype, shapes, fixed
and default value, reference target. Code generation, the models' own checks,
validation, truncation and edit checks all read these objects, so no rule is worked
out twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from h5model.rules.shapes import Shape

if TYPE_CHECKING:
    from h5model.spec import language


class Kind(StrEnum):
    """What an HDF5 object of a part or type is."""

    GROUP = "group"
    DATASET = "dataset"


class Role(StrEnum):
    """How a part sits in its owner: the model field's mapping onto the file."""

    ATTRIBUTE = "attribute"
    DATASET = "dataset"
    GROUP = "group"
    LINK = "link"
    CHILDREN = "children"
    """Unnamed children of one type, any number within the quantity."""
    VALUE = "value"
    """A dataset's own data."""


@dataclass(frozen=True, slots=True)
class Reference:
    """An object or region reference to an object of ``target_type``."""

    target_type: str
    reftype: str


@dataclass(frozen=True, slots=True)
class CompoundField:
    """One column of a compound dtype: a primitive or a reference."""

    name: str
    doc: str | None = None
    primitive: str | None = None
    reference: Reference | None = None


@dataclass(frozen=True, slots=True)
class Dtype:
    """Exactly one of: a canonical primitive name, a reference, compound fields."""

    primitive: str | None = None
    reference: Reference | None = None
    compound: tuple[CompoundField, ...] = ()


@dataclass(frozen=True, slots=True)
class Dim:
    """One axis of an allowed shape: its name and its fixed length, if any."""

    name: str | None
    length: int | None


@dataclass(frozen=True, slots=True)
class ValueRule:
    """What a stored value (an attribute, or a dataset's data) must be."""

    dtype: Dtype | None = None
    """None: the spec says nothing about the dtype."""
    shapes: tuple[tuple[Dim, ...], ...] = ()
    """Allowed shapes; empty: any shape."""
    fixed: Any = None
    """The value the spec fixes (``value:``), or None."""
    default: Any = None
    lengths: tuple[Shape, ...] = dataclasses.field(init=False, compare=False, repr=False)
    """The allowed shapes as axis lengths (None: any length); derived, kept for speed."""

    def __post_init__(self) -> None:
        lengths = tuple(tuple(d.length for d in option) for option in self.shapes)
        object.__setattr__(self, "lengths", lengths)

    @property
    def reference(self) -> Reference | None:
        return self.dtype.reference if self.dtype is not None else None

    @property
    def primitive(self) -> str | None:
        return self.dtype.primitive if self.dtype is not None else None

    @property
    def compound(self) -> tuple[CompoundField, ...]:
        return self.dtype.compound if self.dtype is not None else ()


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a type: an attribute, a named or unnamed child, a link, or the value."""

    field: str
    """The model field's name: a checked identifier, unique within its type."""
    role: Role
    name: str | None = None
    """The HDF5 name (None for unnamed children and unnamed links)."""
    doc: str | None = None
    kind: Kind | None = None
    """Group or dataset, for named parts and children."""
    type: str | None = None
    """The data type the part holds (typed parts, children), or a link's target type."""
    nested: TypeRule | None = None
    """An untyped named part with parts of its own gets a type of its own (``Owner__name``)."""
    value: ValueRule | None = None
    """Attributes, the value, and plain named datasets (``unwrap``)."""
    required: bool = False
    min_items: int = 0
    max_items: int | None = None
    unwrap: bool = False
    """A plain named dataset: its model field holds the dataset's value, not a model."""
    spec: language.Group | language.Dataset | None = dataclasses.field(
        default=None, compare=False, repr=False
    )
    """For typed named parts: what the part adds to its type (overrides), merged over the
    type of the object found there when that object is checked."""

    @property
    def target(self) -> str | None:
        """The class a field of this part holds: the nested type, or the data type."""
        if self.nested is not None:
            return self.nested.class_name
        return self.type

    @property
    def quantity_text(self) -> str:
        """``exactly 1``, ``at least 1``, ``0 to 2``: the quantity in words."""
        low, high = self.min_items, self.max_items
        if low == high:
            return f"exactly {low}"
        if high is None:
            return f"at least {low}"
        return f"{low} to {high}"


@dataclass(frozen=True, slots=True)
class TypeRule:
    """A group or dataset type, resolved: its own class and every part it must hold."""

    class_name: str
    kind: Kind
    parts: tuple[Part, ...]
    namespace: str | None = None
    """The namespace defining the type (for nested types: the owner's)."""
    type_name: str | None = None
    """The spec's type name; None for the nested type of an untyped named part."""
    parent: str | None = None
    """The class this one extends (its data type's parent, or the nested type it refines)."""
    doc: str | None = None
    mixin: str | None = None
    """Behaviour the models of this type get: hdmf-common's table types, and time for
    the first type of a line whose parts give its samples times (``ruleset.timed``)."""
    hdf5_name: str | None = None
    """For nested types: the HDF5 name of the part they describe."""
    nested_in: str | None = None
    scope: str | None = None
    """The namespace the type names of its parts are looked up from, when it is not
    ``namespace`` (a type refined by a part another namespace wrote)."""

    value: Part | None = dataclasses.field(init=False, compare=False, repr=False)
    """A dataset's own value (derived from ``parts``, kept: validation asks per object)."""
    attributes: tuple[Part, ...] = dataclasses.field(init=False, compare=False, repr=False)
    """Its attribute parts (derived from ``parts``)."""

    def __post_init__(self) -> None:
        value = next((p for p in self.parts if p.role is Role.VALUE), None)
        object.__setattr__(self, "value", value)
        object.__setattr__(
            self, "attributes", tuple(p for p in self.parts if p.role is Role.ATTRIBUTE)
        )

    @property
    def lookup_namespace(self) -> str | None:
        return self.scope or self.namespace

    def named(self, hdf5_name: str) -> Part | None:
        """The named dataset, group or link called ``hdf5_name``."""
        for part in self.parts:
            if part.name == hdf5_name and part.role in (Role.DATASET, Role.GROUP, Role.LINK):
                return part
        return None


def plain_dataset(part: Part) -> TypeRule:
    """The rules of the dataset at a plain named part (``unwrap``): its value alone."""
    return TypeRule(
        class_name=part.field,
        kind=Kind.DATASET,
        parts=(Part(field="value", role=Role.VALUE, value=part.value, required=True),),
        hdf5_name=part.name,
    )
