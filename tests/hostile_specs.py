"""Files whose embedded specs a stranger crafted to break the reader, one builder each.

Each builder writes one small file (HDMF layout, see ``specfiles.py``) under a folder
and returns its path. The cases are the hostile specs seen in the wild or in attacks:
deep or cyclic inheritance, deep nesting, names that collide or are not identifiers,
values no literal can spell, numbers too long to convert, spec datasets that lead
out of the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
from specfiles import TEXT, namespace_doc, simple_namespace, write_simple, write_spec_file


def _schema_file(
    path: Path, groups: list[dict[str, Any]], root_type: str, *, name: str = "lab",
    root: dict[str, Any] | None = None,
) -> Path:
    namespaces = {
        name: {
            "1.0.0": {
                "namespace": namespace_doc(name, "1.0.0", ["lab.schema"]),
                "lab.schema": {"groups": groups},
            }
        }
    }
    attrs = {"namespace": name, "data_type": root_type, "object_id": "0000-root"}
    return write_spec_file(path, namespaces, {**attrs, **(root or {})})


def deep_inheritance(folder: Path, depth: int = 3000) -> Path:
    groups = [{"data_type_def": "T0", "doc": "base"}] + [
        {"data_type_def": f"T{i}", "data_type_inc": f"T{i - 1}", "doc": "more"}
        for i in range(1, depth)
    ]
    return _schema_file(folder / "deep_inheritance.h5", groups, f"T{depth - 1}")


def nested_groups(folder: Path, depth: int = 100) -> Path:
    inner: dict[str, Any] = {"name": f"g{depth}", "doc": "leaf", "quantity": "?",
                             "attributes": [{"name": "a", "dtype": "text", "doc": "a"}]}
    for i in reversed(range(depth)):
        inner = {"name": f"g{i}", "doc": "level", "quantity": "?", "groups": [inner]}
    groups = [{"data_type_def": "Deep", "doc": "deep", "groups": [inner]}]
    return _schema_file(folder / "nested_groups.h5", groups, "Deep")


def part_chain(folder: Path, depth: int = 1000) -> Path:
    """Each type holds the next one as a named part."""
    groups = [
        {"data_type_def": f"P{i}", "doc": "p",
         "groups": [{"name": "next", "data_type_inc": f"P{i + 1}", "doc": "n", "quantity": "?"}]}
        for i in range(depth)
    ] + [{"data_type_def": f"P{depth}", "doc": "end"}]
    return _schema_file(folder / "part_chain.h5", groups, "P0")


def inheritance_cycle(folder: Path) -> Path:
    groups = [
        {"data_type_def": "A", "data_type_inc": "B", "doc": "a"},
        {"data_type_def": "B", "data_type_inc": "A", "doc": "b"},
    ]
    return _schema_file(folder / "inheritance_cycle.h5", groups, "A")


def self_inheritance(folder: Path) -> Path:
    groups = [{"data_type_def": "A", "data_type_inc": "A", "doc": "a"}]
    return _schema_file(folder / "self_inheritance.h5", groups, "A")


def namespace_cycle(folder: Path) -> Path:
    schema = simple_namespace()["1.0.0"]["lab.schema"]
    other = {"groups": [{"data_type_def": "Other", "doc": "other"}]}
    return write_spec_file(
        folder / "namespace_cycle.h5",
        {
            "lab": {"1.0.0": {"namespace": namespace_doc("lab", "1.0.0", ["lab.schema"],
                                                         ("other",)),
                              "lab.schema": schema}},
            "other": {"1.0.0": {"namespace": namespace_doc("other", "1.0.0", ["lab.schema"],
                                                           ("lab",)),
                                "lab.schema": other}},
        },
        {"namespace": "lab", "data_type": "Thing", "object_id": "0000-root", "label": "x"},
    )


def nan_fixed_value(folder: Path) -> Path:
    groups = [{"data_type_def": "Thing", "doc": "t", "attributes": [
        {"name": "rate", "dtype": "float64", "doc": "r", "value": float("nan")},
        {"name": "gain", "dtype": "float64", "doc": "g", "default_value": float("inf"),
         "required": False},
    ]}]
    return _schema_file(folder / "nan_fixed_value.h5", groups, "Thing")


def newline_type_name(folder: Path) -> Path:
    return write_simple(folder / "newline_type_name.h5", type_name="Evil\n")


def colliding_namespaces(folder: Path) -> Path:
    first = simple_namespace("a-b", type_name="First")["1.0.0"]
    second = simple_namespace("a_b", type_name="Second")["1.0.0"]
    second["namespace"] = namespace_doc("a_b", "1.0.0", ["lab.schema"], ("a-b",))
    return write_spec_file(
        folder / "colliding_namespaces.h5",
        {"a-b": {"1.0.0": first}, "a_b": {"1.0.0": second}},
        {"namespace": "a_b", "data_type": "Second", "object_id": "0000-root", "label": "x"},
    )


def non_ascii_namespace(folder: Path) -> Path:
    return write_simple(folder / "non_ascii_namespace.h5", name="läb_λ")


def attribute_named_self(folder: Path) -> Path:
    return write_simple(folder / "attribute_named_self.h5", attr_name="self", value="me")


HUGE = "1" * 5000
"""A 5,000-digit integer, spelled in JSON (Python refuses to convert it to text)."""


def _raw_schema_file(path: Path, schema_text: str, *, version: str = "1.0.0") -> Path:
    with h5py.File(path, "w") as f:
        group = f.create_group(f"specifications/lab/{version}")
        group.create_dataset(
            "namespace", data=json.dumps(namespace_doc("lab", "1.0.0", ["lab.schema"])),
            dtype=TEXT,
        )
        group.create_dataset("lab.schema", data=schema_text, dtype=TEXT)
        f.attrs[".specloc"] = f["specifications"].ref
        f.attrs.update({"namespace": "lab", "data_type": "Thing", "object_id": "0000-root"})
    return path


def _huge_in(folder: Path, name: str, placeholder: str, schema: dict[str, Any]) -> Path:
    text = json.dumps(schema).replace(json.dumps(placeholder), HUGE)
    return _raw_schema_file(folder / f"{name}.h5", text)


def huge_fixed_value(folder: Path) -> Path:
    return _huge_in(folder, "huge_fixed_value", "@", {"groups": [
        {"data_type_def": "Thing", "doc": "t",
         "attributes": [{"name": "n", "dtype": "int64", "doc": "n", "value": "@"}]}]})


def huge_quantity(folder: Path) -> Path:
    return _huge_in(folder, "huge_quantity", "@", {"groups": [
        {"data_type_def": "Thing", "doc": "t",
         "groups": [{"name": "g", "doc": "g", "quantity": "@"}]}]})


def huge_shape(folder: Path) -> Path:
    return _huge_in(folder, "huge_shape", "@", {"groups": [
        {"data_type_def": "Thing", "doc": "t",
         "datasets": [{"name": "d", "doc": "d", "dtype": "int8", "shape": ["@"],
                       "quantity": "?"}]}]})


def huge_version(folder: Path) -> Path:
    schema = simple_namespace()["1.0.0"]
    path = folder / "huge_version.h5"
    write_spec_file(path, {"lab": {"1.0.0": schema}},
                    {"namespace": "lab", "data_type": "Thing", "object_id": "0000-root"})
    with h5py.File(path, "r+") as f:
        f.copy(f["specifications/lab/1.0.0"], f["specifications/lab"], name=f"{HUGE}.0.0")
    return path


def self_linked_source(folder: Path) -> Path:
    path = write_simple(folder / "self_linked_source.h5")
    with h5py.File(path, "r+") as f:
        where = "/specifications/lab/1.0.0/lab.schema"
        del f[where]
        f[where] = h5py.SoftLink(where)
    return path


def external_source(folder: Path) -> Path:
    path = write_simple(folder / "external_source.h5")
    with h5py.File(path, "r+") as f:
        where = "/specifications/lab/1.0.0/lab.schema"
        del f[where]
        f[where] = h5py.ExternalLink("/etc/passwd", "/")
    return path


def external_spec_group(folder: Path) -> Path:
    """The spec group itself is an external link into another (valid) HDF5 file."""
    elsewhere = write_simple(folder / "elsewhere.h5")
    path = folder / "external_spec_group.h5"
    with h5py.File(path, "w") as f:
        f["specifications"] = h5py.ExternalLink(str(elsewhere), "/specifications")
        f.attrs.update({"namespace": "lab", "data_type": "Thing", "object_id": "0000-root",
                        "label": "x"})
    return path


def empty_compound(folder: Path) -> Path:
    groups = [{"data_type_def": "Thing", "doc": "t", "datasets": [
        {"name": "table", "doc": "t", "dtype": [], "quantity": "?"}]}]
    return _schema_file(folder / "empty_compound.h5", groups, "Thing")


def unknown_dtype(folder: Path) -> Path:
    groups = [{"data_type_def": "Thing", "doc": "t", "attributes": [
        {"name": "n", "dtype": "int128", "doc": "n"}]}]
    return _schema_file(folder / "unknown_dtype.h5", groups, "Thing", root={"n": 1})


CASES: dict[str, Callable[[Path], Path]] = {
    build.__name__: build
    for build in (
        deep_inheritance, nested_groups, part_chain, inheritance_cycle, self_inheritance,
        namespace_cycle, nan_fixed_value, newline_type_name, colliding_namespaces,
        non_ascii_namespace, attribute_named_self, huge_fixed_value, huge_quantity,
        huge_shape, huge_version, self_linked_source, external_source, external_spec_group,
        empty_compound, unknown_dtype,
    )
}
"""Every hostile spec file, by name."""
