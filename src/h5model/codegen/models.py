"""The rule set -> pydantic source of one namespace's models.

Each ``TypeRule`` becomes a class: its base (parent type, or h5model's ``Group`` /
``Dataset``, table or time behaviour first where the rule set gives it), ``h5_type``, the
``h5_fields`` table that maps fields onto the file, and one annotated field per part.
Everything a field checks is read from the rule set, never re-derived. The source is
built from checked identifiers and literals only (``codegen.literals``): no name,
doc string or value from a spec can become anything but data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from h5model.codegen.emit import check_name, doc_literal, names_list
from h5model.codegen.literals import literal
from h5model.errors import SpecError
from h5model.rules.model import Part, Role, TypeRule, ValueRule
from h5model.rules.ruleset import MIXINS, NamespaceRules
from h5model.spec.dtypes import FLOATS, SIGNED, UNSIGNED

_PYTHON = {
    **dict.fromkeys(SIGNED | UNSIGNED, "int"),
    **dict.fromkeys(FLOATS | {"numeric"}, "float"),
    "text": "str",
    "ascii": "str",
    "bool": "bool",
    "isodatetime": "_r.IsoDatetime",
}
_ANY = "_t.Any"


@dataclass(frozen=True)
class ModuleRef:
    """A namespace whose classes this module may use: its rules, the name its module is
    bound to in the source, and the key its module is looked up by."""

    rules: NamespaceRules
    module_expr: str
    key: str


class _ModuleWriter:
    def __init__(
        self, rules: NamespaceRules, deps: Sequence[ModuleRef], *, lazy: bool = True
    ) -> None:
        self.rules = rules
        self.lazy = lazy
        """Classes built on first access (the module) or defined plainly (its stub)."""
        self.deps = list(deps)
        self.defined: set[str] = set()
        """Local classes already emitted: annotations naming only these need no quotes."""
        self.local_refs: set[str] = set()
        self.bare = False
        """Name local classes bare (inside a string annotation, resolved by pydantic from
        the module's namespace) rather than through the lazy ``_c`` namespace."""

    def class_ref(self, name: str) -> str:
        if name in self.rules.classes:
            self.local_refs.add(name)
            checked = check_name(name, "class name")
            return f"_c.{checked}" if self.lazy and not self.bare else checked
        for dep in self.deps:
            if name in dep.rules.classes:
                return f"{dep.module_expr}.{check_name(name, 'class name')}"
        raise SpecError(
            f"class {name!r} is not defined in namespace {self.rules.name!r} or its dependencies"
        )

    def ordered(self) -> list[TypeRule]:
        """Classes with their parent first and, where no cycle forbids it, the classes
        their fields name first, so annotations can be objects rather than strings."""
        ordered: list[TypeRule] = []
        done: set[str] = set()
        visiting: set[str] = set()
        classes = self.rules.classes
        stack: list[tuple[str, tuple[str, ...], bool]] = [
            (name, (), False) for name in reversed(classes)
        ]
        # iterative depth-first: (class, inheritance trail, children already pushed)
        while stack:
            name, trail, expanded = stack.pop()
            if name in done or name not in classes:
                continue
            rule = classes[name]
            if expanded:
                visiting.discard(name)
                if name not in done:
                    done.add(name)
                    ordered.append(rule)
                continue
            if name in trail:
                raise SpecError(f"class {name!r} inherits from itself")
            visiting.add(name)
            stack.append((name, trail, True))
            refined = self.rules.part_classes.get(name, {})
            named = [
                target
                for part in rule.parts
                for target in (_class_of(part), refined.get(part.field))
                if target in classes and target not in visiting
            ]
            for target in reversed(named):
                stack.append((target, (), False))
            if rule.parent:
                stack.append((rule.parent, (*trail, name), False))
        return ordered

    def source(self, header: str) -> str:
        lines = [doc_literal(header), "", "import typing as _t", "", "import numpy as _np", "",
                 "from h5model.models import runtime as _r", ""]
        for dep in self.deps:
            lines.append(f"{dep.module_expr} = _r.require({dep.key!r})")
        lines += ["_c = _r.LazyClasses(globals())", ""]
        ordered = self.ordered()
        for rule in ordered:
            # each class is built the first time it is reached (``_c.Name``, the module's
            # ``__getattr__``): a process pays for the classes its files use, not for all
            name = check_name(rule.class_name, "class name")
            lines.append(f"def _m_{name}():")
            lines += ["    " + line if line else line for line in self.class_source(rule)]
            lines += [f"    return {name}", ""]
            self.defined.add(rule.class_name)
        lines.append("")
        lines.append("__all__ = " + names_list([r.class_name for r in ordered]))
        lines.append("__h5_types__ = " + self.types_table())
        lines.append("__getattr__ = _c.__getattr__")
        lines.append("__dir__ = _c.__dir__")
        lines.append("")
        return "\n".join(lines)

    def stub(self, header: str) -> str:
        lines = [doc_literal(header), "", "import typing as _t", "", "import numpy as _np", "",
                 "from h5model.models import runtime as _r", ""]
        lines += [f"{dep.module_expr}: _t.Any" for dep in self.deps]
        lines.append("")
        ordered = self.ordered()
        for rule in ordered:
            lines += self.class_source(rule)
            lines.append("")
            self.defined.add(rule.class_name)
        lines.append("__all__ = " + names_list([r.class_name for r in ordered]))
        lines.append("")
        return "\n".join(lines)

    def types_table(self) -> str:
        """type name -> class name, for this namespace's own types (not the classes of
        what a part adds to a type, which share their type's name)."""
        parts = {t for targets in self.rules.part_classes.values() for t in targets.values()}
        rows = [
            f"    {rule.type_name!r}: {check_name(rule.class_name, 'class name')!r},"
            for rule in self.rules.classes.values()
            if rule.type_name is not None and str(rule.namespace) == self.rules.name
            and rule.class_name not in parts
        ]
        return "{\n" + "\n".join(rows) + "\n}" if rows else "{}"

    def class_source(self, rule: TypeRule) -> list[str]:
        name = check_name(rule.class_name, "class name")
        bases: list[str] = []
        if rule.mixin is not None:
            if rule.mixin not in MIXINS:
                raise SpecError(f"unknown behaviour {rule.mixin!r}")
            bases.append(f"_r.{rule.mixin}Mixin")  # first, so its item access wins
        if rule.parent:
            bases.append(self.class_ref(rule.parent))
        else:
            bases.append("_r.Dataset" if rule.kind == "dataset" else "_r.Group")
        out = [f"class {name}({', '.join(bases)}):", f"    {doc_literal(rule.doc)}"]
        if self.lazy:
            out.append(f"    __qualname__ = {name!r}")  # not the builder's <locals>
        if rule.type_name is not None:
            out.append(
                "    h5_type: _t.ClassVar[tuple[str, str] | None] = "
                f"({str(rule.namespace)!r}, {rule.type_name!r})"
            )
        elif rule.parent:
            out.append("    h5_type: _t.ClassVar[tuple[str, str] | None] = None")
        table = [f"        {part.field!r}: {self.h5_field(part)}," for part in rule.parts]
        if table or not rule.parent:
            out.append("    h5_fields: _t.ClassVar[_t.Mapping[str, _r.H5Field]] = {")
            if rule.parent:
                out.append(f"        **{self.class_ref(rule.parent)}.h5_fields,")
            out += table
            out.append("    }")
        refined = {
            field: target
            for field, target in self.rules.part_classes.get(rule.class_name, {}).items()
            if target in self.defined  # else (a cycle) the object keeps its type's class
        }
        if refined:
            out.append("    h5_part_classes: _t.ClassVar[_t.Mapping[str, type[_r.Node]]] = {")
            for field, target in refined.items():
                key, value = check_name(field, "field name"), check_name(target, "class name")
                out.append(f"        {key!r}: {'_c.' if self.lazy else ''}{value},")
            out.append("    }")
        docs = {
            check_name(part.field, "field name"): doc
            for part in rule.parts
            if (doc := part.doc or (rule.doc if part.role is Role.VALUE else None))
        }
        if docs:
            # descriptions as one table the base class hands to the fields once the class
            # exists: a ``Field(description=...)`` per field costs import time in every process
            out.append("    h5_docs: _t.ClassVar[_t.Mapping[str, str]] = {")
            out += [f"        {field!r}: {doc_literal(doc)}," for field, doc in docs.items()]
            out.append("    }")
        fields: list[str] = []
        later: set[str] = set()
        for part in rule.parts:
            field = check_name(part.field, "field name")
            self.local_refs = set()
            annotation_src, default = self.field_type(rule, part)
            if not self.local_refs <= self.defined:
                # names a class further down (a cycle): a string pydantic resolves from the
                # module's namespace once ``h5_later`` has built what it names
                later |= self.local_refs
                self.bare = True
                annotation_src = repr(self.field_type(rule, part)[0])
                self.bare = False
            fields.append(f"    {field}: {annotation_src}" + (f" = {default}" if default else ""))
        if later:
            out.append(f"    h5_later: _t.ClassVar[tuple[str, ...]] = {tuple(sorted(later))!r}")
        return out + fields

    def h5_field(self, part: Part) -> str:
        args = [repr(str(part.role))]
        if part.name is not None:
            args.append(f"name={part.name!r}")
        if part.unwrap:
            args.append("unwrap=True")
        if part.required:
            args.append("required=True")
        if part.role is Role.CHILDREN:
            if part.min_items:
                args.append(f"min_items={part.min_items!r}")
            if part.max_items is not None:
                args.append(f"max_items={part.max_items!r}")
        value = part.value
        if value is not None and value.primitive is not None:
            args.append(f"dtype={value.primitive!r}")
        if value is not None and value.reference is not None:
            args.append(f"reftype={value.reference.reftype!r}")
            args.append(f"target_type={value.reference.target_type!r}")
        elif part.target is not None:
            args.append(f"target_type={part.target!r}")
        return f"_r.H5Field({', '.join(args)})"

    def field_type(self, rule: TypeRule, part: Part) -> tuple[str, str]:
        where = f"{rule.class_name}.{part.field}"
        value = part.value or ValueRule()
        target = _class_of(part)
        metadata: list[str] = []
        if target is not None:
            # models arrive built: check the class only, never rebuild a nested schema
            base = f"_r.InstanceOf[{self.class_ref(target)}]"
        elif value.primitive is not None:
            base = _PYTHON[value.primitive]
        else:
            base = _ANY
        reference, compound = value.reference is not None, bool(value.compound)
        if value.shapes:
            base = "_np.ndarray" if part.role is Role.ATTRIBUTE and not reference else "_r.H5Array"
            fields = tuple(f.name for f in value.compound) if compound else None
            metadata.append(
                "_r.ArrayOf("
                f"dtype={(None if reference or compound else value.primitive)!r}, "
                f"shapes={value.lengths!r}" + (f", fields={fields!r}" if fields else "") + ")"
            )
        elif part.role in (Role.DATASET, Role.VALUE) and (compound or reference):
            base = "_r.H5Array"
        elif (part.role is Role.VALUE or part.unwrap) and base != _ANY:
            base = f"{base} | _r.H5Array"  # no shape in the spec: a scalar or an array
        if value.fixed is not None:
            metadata.append(f"_r.Fixed({literal(value.fixed, where=where)})")
        if part.role is Role.CHILDREN:
            base = f"dict[str, {base} | _r.InstanceOf[_r.ExternalLink]]"
        elif part.role in (Role.DATASET, Role.GROUP, Role.LINK):
            base = f"{base} | _r.InstanceOf[_r.ExternalLink]"
        default = value.fixed if value.fixed is not None else value.default
        if isinstance(default, str | int | float | bool):
            default_src = literal(default, where=where)
        elif part.role is Role.CHILDREN:
            default_src = "{}"
        elif not part.required:
            base = f"{base} | None"
            default_src = "None"
        else:
            default_src = ""
        if metadata:
            return f"_t.Annotated[{base}, {', '.join(metadata)}]", default_src
        return base, default_src


def _class_of(part: Part) -> str | None:
    """The class a field holds (a model, or the target of references), if any."""
    if part.value is not None:
        reference = part.value.reference
        return reference.target_type if reference is not None else None
    return part.target


def module_source(rules: NamespaceRules, deps: Sequence[ModuleRef], *, header: str) -> str:
    """Pydantic v2 module source for the models of one namespace."""
    return _ModuleWriter(rules, deps).source(header + " Do not edit.")


def module_stub(rules: NamespaceRules, deps: Sequence[ModuleRef], *, header: str) -> str:
    """The type stub of ``module_source``'s module: its classes defined plainly."""
    return _ModuleWriter(rules, deps, lazy=False).stub(header + " Type stub; do not edit.")
