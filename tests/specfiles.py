"""Small HDF5 files with hand-written embedded specs, for spec-reader and generator tests.

They follow the layout HDMF writes (``/specifications/<ns>/<version>/<source>``
as JSON text, ``.specloc`` on the root), so h5model reads them like any
HDMF file, but their content is whatever a test needs, hostile included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py

TEXT = h5py.string_dtype()


def namespace_doc(name: str, version: str, sources: list[str], deps: tuple[str, ...] = ()) -> dict:
    return {
        "namespaces": [
            {
                "name": name,
                "version": version,
                "doc": f"test namespace {name}",
                "author": ["h5model tests"],
                "contact": ["nobody@example.org"],
                "schema": [{"namespace": d} for d in deps] + [{"source": s} for s in sources],
            }
        ]
    }


def write_spec_file(
    path: Path,
    namespaces: dict[str, dict[str, dict[str, Any]]],
    root: dict[str, Any] | None = None,
    *,
    specloc: bool = True,
) -> Path:
    """Write ``namespaces`` = {name: {version: {source: content}}} and a typed root.

    ``content`` of the ``namespace`` source is the namespace document; the others are
    schema documents. ``root`` gives the root's attributes.
    """
    with h5py.File(path, "w") as f:
        specs = f.create_group("specifications")
        for name, versions in namespaces.items():
            for version, sources in versions.items():
                group = specs.create_group(f"{name}/{version}")
                for source, content in sources.items():
                    text = content if isinstance(content, str) else json.dumps(content)
                    group.create_dataset(source, data=text, dtype=TEXT)
        if specloc:
            f.attrs[".specloc"] = specs.ref
        for key, value in (root or {}).items():
            f.attrs[key] = value
    return path


def simple_namespace(
    name: str = "lab",
    version: str = "1.0.0",
    *,
    attr_dtype: str = "text",
    doc: str = "A thing.",
    type_name: str = "Thing",
    attr_name: str = "label",
    attr_doc: str = "A label.",
    default: Any = None,
) -> dict[str, dict[str, Any]]:
    """One namespace with one group type ``Thing`` holding one attribute and one dataset."""
    attribute: dict[str, Any] = {"name": attr_name, "dtype": attr_dtype, "doc": attr_doc}
    if default is not None:
        attribute["default_value"] = default
        attribute["required"] = False
    schema = {
        "groups": [
            {
                "data_type_def": type_name,
                "doc": doc,
                "attributes": [attribute],
                "datasets": [
                    {
                        "name": "values",
                        "dtype": "float64",
                        "shape": [None],
                        "dims": ["n"],
                        "doc": "Some values.",
                        "quantity": "?",
                    }
                ],
            }
        ]
    }
    return {
        version: {
            "namespace": namespace_doc(name, version, ["lab.schema"]),
            "lab.schema": schema,
        }
    }


def write_simple(path: Path, *, value: Any = "hello", **options: Any) -> Path:
    name = options.get("name", "lab")
    type_name = options.get("type_name", "Thing")
    attr_name = options.get("attr_name", "label")
    root = {"namespace": name, "data_type": type_name, "object_id": "0000-root"}
    if value is not None:
        root[attr_name] = value
    return write_spec_file(path, {name: simple_namespace(**options)}, root)
