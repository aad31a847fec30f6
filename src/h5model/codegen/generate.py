"""LinkML schema -> plain pydantic v2 model source: how the spec language's own module
(``spec/language.py``, from ``schemas/nwb_schema_language.yaml``) is made.

The source is built from checked identifiers and ``repr``'d literals only. The models
of HDF5 types are generated from the rule set instead (``codegen.models``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from linkml_runtime.linkml_model.meta import (
    ClassDefinition,
    SchemaDefinition,
    SlotDefinition,
)

from h5model.codegen.emit import check_name, doc_literal, names_list
from h5model.errors import SpecError
from h5model.rules.naming import is_reserved_field, is_safe_identifier

_BUILTIN_TYPES = {
    "string": "str",
    "str": "str",
    "integer": "int",
    "int": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "Bool": "bool",
    "datetime": "_dt.datetime",
    "date": "_dt.date",
}
_IFABSENT = re.compile(r"^(string|int|float)\((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Dependency:
    """A schema whose classes this one may use, and the expression naming its module."""

    schema: SchemaDefinition
    module_expr: str


class _Generator:
    def __init__(self, schema: SchemaDefinition, deps: Sequence[Dependency]) -> None:
        self.schema = schema
        self.deps = list(deps)
        self.deps_by_id = {id(d.schema): d for d in self.deps}
        self.defined: set[str] = set()
        """Local classes already emitted: annotations naming only these need no quotes."""
        self.local_refs: set[str] = set()

    # -- name resolution ---------------------------------------------------
    def class_ref(self, name: str) -> str:
        if name in self.schema.classes:
            self.local_refs.add(name)
            return check_name(name, "class name")
        for dep in self.deps:
            if name in dep.schema.classes:
                return f"{dep.module_expr}.{check_name(name, 'class name')}"
        raise SpecError(
            f"class {name!r} is not defined in schema {self.schema.name!r} or its imports"
        )

    def lookup_class(self, name: str) -> ClassDefinition | None:
        if name in self.schema.classes:
            found: ClassDefinition = self.schema.classes[name]
            return found
        for dep in self.deps:
            if name in dep.schema.classes:
                found = dep.schema.classes[name]
                return found
        return None

    def type_base(self, range_name: str) -> str | None:
        """The Python type of a LinkML type name, following ``typeof``."""
        seen = set()
        name = range_name
        while name not in _BUILTIN_TYPES:
            if name in seen:
                return None
            seen.add(name)
            typedef = self.schema.types.get(name)
            if typedef is None:
                for dep in self.deps:
                    typedef = dep.schema.types.get(name)
                    if typedef is not None:
                        break
            if typedef is None:
                return None
            parent = typedef.typeof or typedef.base
            if parent is None:
                return None
            name = str(parent)
        return _BUILTIN_TYPES[name]

    def is_any(self, range_name: str) -> bool:
        cls = self.lookup_class(range_name)
        return cls is not None and str(cls.class_uri or "") == "linkml:Any"

    # -- source --------------------------------------------------------------
    def ordered_classes(self) -> list[ClassDefinition]:
        ordered: list[ClassDefinition] = []
        done: set[str] = set()

        visiting: set[str] = set()

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in done or name not in self.schema.classes:
                return
            if name in trail:
                raise SpecError(f"class {name!r} inherits from itself")
            cls = self.schema.classes[name]
            visiting.add(name)
            if cls.is_a:
                visit(str(cls.is_a), (*trail, name))
            for mixin in cls.mixins or []:
                visit(str(mixin), (*trail, name))
            # classes its fields name come first where no cycle forbids it, so that
            # annotations can be plain objects rather than strings resolved later
            for slot in cls.attributes.values():
                ranged = str(slot.range) if slot.range else ""
                if ranged in self.schema.classes and ranged not in visiting:
                    visit(ranged, ())
            visiting.discard(name)
            if name not in done:
                done.add(name)
                ordered.append(cls)

        for name in self.schema.classes:
            visit(str(name), ())
        return ordered

    def source(self, header: str) -> str:
        lines = [
            doc_literal(header),
            "",
            "import datetime as _dt",
            "import typing as _t",
            "",
            "import pydantic as _p",
            "",
            "",
        ]
        for cls in self.ordered_classes():
            if self.is_any(str(cls.name)):
                continue
            lines += self.class_source(cls)
            lines.append("")
            self.defined.add(str(cls.name))
        lines.append("")
        names = [str(c.name) for c in self.ordered_classes() if not self.is_any(str(c.name))]
        lines.append("__all__ = " + names_list(names))
        lines.append("")
        return "\n".join(lines)

    def class_source(self, cls: ClassDefinition) -> list[str]:
        name = check_name(str(cls.name), "class name")
        base = self.class_ref(str(cls.is_a)) if cls.is_a else "_p.BaseModel"
        out = [f"class {name}({base}):", f"    {doc_literal(cls.description)}"]
        if not cls.is_a:
            out.append('    model_config = _p.ConfigDict(extra="forbid", populate_by_name=True)')
        for slot_name, slot in cls.attributes.items():
            field = str(slot_name)
            if not is_safe_identifier(field, field=True):
                check_name(field, "field name")
            self.local_refs = set()
            annotation_src, default = self.slot_type(slot)
            if not self.local_refs <= self.defined:
                # names a class defined further down: leave it for pydantic to resolve
                annotation_src = repr(annotation_src)
            if is_reserved_field(field):
                # keep the spec's key on the wire, give Python a name that shadows nothing
                value = default.removeprefix(" = ") if default else "..."
                default = f" = _p.Field({value}, alias={field!r})"
                field = f"{field}_"
            out.append(f"    {field}: {annotation_src}{default}")
        return out

    def slot_type(self, slot: SlotDefinition) -> tuple[str, str]:
        range_name = str(slot.range) if slot.range else "string"
        if self.is_any(range_name):
            base = "_t.Any"
        elif self.lookup_class(range_name) is not None:
            base = self.class_ref(range_name)
        else:
            python = self.type_base(range_name)
            if python is None:
                raise SpecError(f"slot {slot.name!r}: unknown range {range_name!r}")
            base = python
        if slot.multivalued:
            base = f"list[{base}]"
        default = self.default(slot)
        if default is not None:
            return base, f" = {default!r}"
        if slot.multivalued:
            return base, " = []"
        if not slot.required:
            return f"{base} | None", " = None"
        return base, ""

    def default(self, slot: SlotDefinition) -> Any:
        if not slot.ifabsent:
            return None
        text = str(slot.ifabsent)
        if text in ("true", "True"):
            return True
        if text in ("false", "False"):
            return False
        match = _IFABSENT.match(text)
        if match is None:
            return None
        kind, raw = match.groups()
        try:
            if kind == "int":
                return int(raw)
            if kind == "float":
                return float(raw)
        except ValueError:
            return None
        return raw


def pydantic_source(
    schema: SchemaDefinition, deps: Sequence[Dependency] = (), *, header: str | None = None
) -> str:
    """Pydantic v2 module source for ``schema``; ``deps`` are the schemas it imports."""
    title = header or f"Pydantic models for {schema.name}, generated by h5model from LinkML."
    return _Generator(schema, deps).source(title + " Do not edit.")
