"""Writing what h5model knows about a file: the graph (GraphML / JSON), the tree as text,
and the LinkML + pydantic translation of its specs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from h5model import registry
from h5model.file import File
from h5model.nodes import BrokenLink, ExternalLink, Node
from h5model.spec.loader import SpecSet


def _plain(value: Any) -> Any:
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def portable_graph(graph: nx.DiGraph[str]) -> nx.DiGraph[str]:
    """A copy whose node and edge data are plain strings and numbers."""
    out: nx.DiGraph[str] = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        clean = {k: _plain(v) for k, v in data.items() if v is not None}
        if "shape" in clean:
            clean["shape"] = json.dumps(clean["shape"])
        out.add_node(node, **clean)
    for source, target, data in graph.edges(data=True):
        clean = {k: _plain(v) for k, v in data.items() if k != "also"}
        if "also" in data:
            clean["also"] = json.dumps(data["also"])
        out.add_edge(source, target, **clean)
    return out


def write_graph(graph: nx.DiGraph[str], out: Path) -> None:
    """GraphML for ``.graphml``/``.xml``, JSON (node-link) for ``.json``."""
    portable = portable_graph(graph)
    suffix = out.suffix.lower()
    if suffix in (".graphml", ".xml"):
        nx.write_graphml(portable, out)
    elif suffix == ".json":
        data = nx.node_link_data(portable, edges="edges")
        out.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    else:
        raise ValueError(f"unknown graph format {out.suffix!r}: use .graphml or .json")


def write_models(specs: SpecSet, folder: Path) -> list[Path]:
    """LinkML YAML and pydantic source for every namespace of ``specs``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for namespace, (schema, source) in sorted(registry.generate_sources(specs).items()):
        stem = registry.module_file_stem(namespace, specs.namespaces[namespace].version)
        yaml_path = folder / f"{stem}.linkml.yaml"
        py_path = folder / f"{stem}.py"
        yaml_path.write_text(registry.linkml_yaml(schema), encoding="utf-8")
        py_path.write_text(source, encoding="utf-8")
        written += [yaml_path, py_path]
    return written


def tree_lines(file: File, max_depth: int | None = None) -> Iterator[str]:
    """The object tree, one line per entry: name, type, shape and dtype; links with targets."""
    graph = file.graph

    def describe(path: str) -> str:
        data = graph.nodes[path]
        parts = []
        if "type" in data:
            parts.append(f"{data['type']} ({data['namespace']})")
        if data["kind"] == "dataset":
            shape = data.get("shape")
            parts.append("scalar" if shape == () else f"shape {tuple(shape or ())}")
            parts.append(_dtype_text(data.get("dtype")))
        return "  ".join(parts)

    yield f"/  {describe('/')}"
    # iterative depth-first walk; each stack entry is a line to print and what to expand
    stack: list[tuple[str | None, str | None, int]] = [(None, "/", 0)]
    while stack:
        text, path, depth = stack.pop()
        if text is not None:
            yield text
        if path is None or (max_depth is not None and depth >= max_depth):
            continue
        pending: list[tuple[str | None, str | None, int]] = []
        indent = "  " * (depth + 1)
        assert file.index is not None
        for child in file.index.children.get(path, []):
            if child.kind == "external":
                line = f"{indent}{child.name}  -> {child.filename}::{child.path} (external link)"
                pending.append((line, None, depth + 1))
            elif child.kind == "soft":
                target = child.target.removeprefix("missing::")
                broken = " (broken)" if child.target.startswith("missing::") else ""
                pending.append(
                    (f"{indent}{child.name}  -> {target} (soft link){broken}", None, depth + 1)
                )
            elif child.target != _join(path, child.name):
                pending.append(
                    (f"{indent}{child.name}  = {child.target} (hard link)", None, depth + 1)
                )
            else:
                line = f"{indent}{child.name}  {describe(child.target)}".rstrip()
                pending.append((line, child.target, depth + 1))
        stack.extend(reversed(pending))


def _join(path: str, name: str) -> str:
    return (path if path.endswith("/") else path + "/") + name


def _dtype_text(dtype: Any) -> str:
    if dtype is None:
        return ""
    from h5model.dtypes import describe

    return describe(dtype)


def describe_model(model: Any) -> str:
    if isinstance(model, ExternalLink):
        return f"external link to {model.filename}::{model.path}"
    if isinstance(model, BrokenLink):
        return f"broken link to {model.target}"
    if isinstance(model, Node):
        return repr(model)
    return type(model).__name__
