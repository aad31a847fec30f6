"""LinkML schema -> pydantic v2 model source.

The source is built from checked identifiers and ``repr``'d literals only: no
name, doc string or value from a spec can become anything but data. Classes
marked with the annotation ``hdf5_kind`` become h5model nodes (with their
``h5_fields`` table); other classes become plain pydantic models, which is how
the spec language's own module is made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from linkml_runtime.linkml_model.meta import (
    ClassDefinition,
    SchemaDefinition,
    SlotDefinition,
)

from h5model.codegen.identifiers import is_reserved_field, is_safe_identifier
from h5model.errors import SpecError

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
_MIXINS = {"DynamicTable", "VectorData", "VectorIndex", "DynamicTableRegion"}
_IFABSENT = re.compile(r"^(string|int|float)\((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class Dependency:
    """A schema whose classes this one may use, and the expression naming its module."""

    schema: SchemaDefinition
    module_expr: str


def annotation(element: Any, tag: str) -> Any:
    """The value of a LinkML annotation, or None."""
    annotations = getattr(element, "annotations", None) or {}
    found = annotations.get(tag)
    if found is None:
        return None
    return getattr(found, "value", found)


def _check_name(name: str, what: str) -> str:
    field = what == "field name"
    if not is_safe_identifier(name, field=field) or (field and is_reserved_field(name)):
        raise SpecError(f"{what} {name!r} is not a safe Python identifier; refusing to generate")
    return name


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
            return _check_name(name, "class name")
        for dep in self.deps:
            if name in dep.schema.classes:
                return f"{dep.module_expr}.{_check_name(name, 'class name')}"
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
            _doc_literal(header),
            "",
            "import datetime as _dt",
            "import typing as _t",
            "",
        ]
        node_schema = any(annotation(c, "hdf5_kind") for c in self.schema.classes.values())
        if node_schema:
            lines += ["import numpy as _np", "", "from h5model.models import runtime as _r", ""]
            for dep in self.deps:
                key = annotation(dep.schema, "module_key")
                lines.append(f"{dep.module_expr} = _r.require({key!r})")
        else:
            lines += ["import pydantic as _p", ""]
        lines.append("")
        for cls in self.ordered_classes():
            if self.is_any(str(cls.name)):
                continue
            lines += self.class_source(cls, node_schema)
            lines.append("")
            self.defined.add(str(cls.name))
        lines.append("")
        names = [str(c.name) for c in self.ordered_classes() if not self.is_any(str(c.name))]
        lines.append("__all__ = " + _wrap_list(names))
        lines.append("")
        return "\n".join(lines)

    def class_source(self, cls: ClassDefinition, node_schema: bool) -> list[str]:
        name = _check_name(str(cls.name), "class name")
        kind = annotation(cls, "hdf5_kind")
        bases: list[str] = []
        mixin = annotation(cls, "runtime_mixin")
        if mixin is not None:
            if mixin not in _MIXINS:
                raise SpecError(f"unknown runtime mixin {mixin!r}")
            bases.append(f"_r.{mixin}Mixin")  # first, so its item access wins over Group's
        if cls.is_a:
            bases.append(self.class_ref(str(cls.is_a)))
        elif node_schema:
            bases.append("_r.Dataset" if kind == "dataset" else "_r.Group")
        else:
            bases.append("_p.BaseModel")
        out = [f"class {name}({', '.join(bases)}):"]
        out.append(f"    {_doc_literal(cls.description)}")
        if not node_schema and not cls.is_a:
            out.append('    model_config = _p.ConfigDict(extra="forbid", populate_by_name=True)')
        if node_schema:
            type_name = annotation(cls, "type_name")
            namespace = annotation(cls, "namespace")
            if type_name is not None:
                out.append(
                    "    h5_type: _t.ClassVar[tuple[str, str] | None] = "
                    f"({str(namespace)!r}, {str(type_name)!r})"
                )
            elif cls.is_a:
                out.append("    h5_type: _t.ClassVar[tuple[str, str] | None] = None")
            table = []
            for slot_name, slot in cls.attributes.items():
                table.append(f"        {str(slot_name)!r}: {self.h5_field(slot)},")
            parent = f"**{self.class_ref(str(cls.is_a))}.h5_fields, " if cls.is_a else ""
            if table or not cls.is_a:
                out.append("    h5_fields: _t.ClassVar[_t.Mapping[str, _r.H5Field]] = {")
                if parent:
                    out.append(f"        {parent.strip()}")
                out += table
                out.append("    }")
        for slot_name, slot in cls.attributes.items():
            field = str(slot_name)
            if node_schema or not is_safe_identifier(field, field=True):
                _check_name(field, "field name")
            self.local_refs = set()
            annotation_src, default = self.slot_type(slot, node_schema)
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

    def h5_field(self, slot: SlotDefinition) -> str:
        role = annotation(slot, "hdf5_role")
        args = [repr(str(role))]
        kwargs: dict[str, Any] = {}
        hdf5_name = annotation(slot, "hdf5_name")
        if hdf5_name is not None:
            kwargs["name"] = str(hdf5_name)
        if annotation(slot, "unwrap") == "true":
            kwargs["unwrap"] = True
        if slot.required:
            kwargs["required"] = True
        if slot.minimum_cardinality:
            kwargs["min_items"] = int(slot.minimum_cardinality)
        if slot.maximum_cardinality is not None:
            kwargs["max_items"] = int(slot.maximum_cardinality)
        dtype = annotation(slot, "dtype")
        if dtype is not None:
            kwargs["dtype"] = str(dtype)
        reftype = annotation(slot, "reftype")
        if reftype is not None:
            kwargs["reftype"] = str(reftype)
            kwargs["target_type"] = str(slot.range)
        elif (
            role in ("link", "children", "group", "dataset")
            and slot.range
            and self.lookup_class(str(slot.range))
        ):
            kwargs["target_type"] = str(slot.range)
        args += [f"{key}={value!r}" for key, value in kwargs.items()]
        return f"_r.H5Field({', '.join(args)})"

    def shapes(self, slot: SlotDefinition) -> list[tuple[int | None, ...]] | None:
        arrays = []
        if slot.array is not None:
            arrays.append(slot.array)
        for option in slot.any_of or []:
            if option.array is not None:
                arrays.append(option.array)
        if not arrays:
            return None
        shapes = []
        for array in arrays:
            dims = array.dimensions or []
            shapes.append(
                tuple(
                    int(d.exact_cardinality) if d.exact_cardinality is not None else None
                    for d in dims
                )
            )
        return shapes

    def slot_type(self, slot: SlotDefinition, node_schema: bool) -> tuple[str, str]:
        range_name = str(slot.range) if slot.range else "string"
        role = annotation(slot, "hdf5_role")
        shapes = self.shapes(slot)
        metadata: list[str] = []
        if self.is_any(range_name):
            base = "_t.Any"
        elif self.lookup_class(range_name) is not None:
            base = self.class_ref(range_name)
            if node_schema:
                # models arrive built: check the class only, never rebuild a nested schema
                base = f"_r.InstanceOf[{base}]"
        else:
            python = self.type_base(range_name)
            if python is None:
                raise SpecError(f"slot {slot.name!r}: unknown range {range_name!r}")
            base = python
        reftype = annotation(slot, "reftype")
        if node_schema and shapes is not None:
            dtype = annotation(slot, "dtype")
            base = "_np.ndarray" if role == "attribute" and reftype is None else "_r.H5Array"
            fields = annotation(slot, "compound_fields")
            metadata.append(
                "_r.ArrayOf("
                + f"dtype={(None if reftype or fields else dtype)!r}, "
                + f"shapes={tuple(shapes)!r}"
                + (f", fields={tuple(json.loads(fields))!r}" if fields else "")
                + ")"
            )
        elif (
            node_schema
            and role in ("dataset", "value")
            and base != "_t.Any"
            and (annotation(slot, "unwrap") == "true" or role == "value")
            and not annotation(slot, "compound_fields")
            and reftype is None
        ):
            # no shape in the spec: HDMF accepts a scalar or an array
            base = f"{base} | _r.H5Array"
        elif (
            node_schema and role in ("dataset", "value") and annotation(slot, "compound_fields")
        ) or (node_schema and role in ("dataset", "value") and reftype is not None):
            base = "_r.H5Array"
        fixed = annotation(slot, "fixed_value")
        if fixed is not None:
            metadata.append(f"_r.Fixed({json.loads(fixed)!r})")
        if role == "children":
            base = f"dict[str, {base} | _r.InstanceOf[_r.ExternalLink]]"
        elif node_schema and role in ("dataset", "group", "link"):
            base = f"{base} | _r.InstanceOf[_r.ExternalLink]"
        elif slot.multivalued and shapes is None:
            base = f"list[{base}]"
        default = self.default(slot, fixed)
        if default is None:
            optional = not slot.required
            if role == "children":
                default_src = " = {}"
            elif slot.multivalued and shapes is None:
                default_src = " = []"
            elif optional:
                base = f"{base} | None"
                default_src = " = None"
            else:
                default_src = ""
        else:
            default_src = f" = {default!r}"
        if metadata:
            return f"_t.Annotated[{base}, {', '.join(metadata)}]", default_src
        return base, default_src

    def default(self, slot: SlotDefinition, fixed: str | None) -> Any:
        if fixed is not None:
            value = json.loads(fixed)
            return value if isinstance(value, (str, int, float, bool)) else None
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


def _doc_literal(text: Any) -> str:
    return repr(str(text)) if text else repr("")


def _wrap_list(names: list[str]) -> str:
    if not names:
        return "[]"
    return "[\n" + "".join(f"    {n!r},\n" for n in names) + "]"


def pydantic_source(
    schema: SchemaDefinition, deps: Sequence[Dependency] = (), *, header: str | None = None
) -> str:
    """Pydantic v2 module source for ``schema``; ``deps`` are the schemas it imports."""
    title = header or f"Pydantic models for {schema.name}, generated by h5model from LinkML."
    return _Generator(schema, deps).source(title + " Do not edit.")


def literal_mapping(mapping: Mapping[str, Any]) -> str:
    """A mapping as a Python literal (keys and values through repr only)."""
    return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in sorted(mapping.items())) + "}"
