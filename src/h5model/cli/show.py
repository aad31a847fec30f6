"""``h5model show``: the object tree as text, one line per entry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.hdf5.paths import join
from h5model.rules.dtypes import describe as describe_dtype
from h5model.session.file import File


def tree_lines(file: File, max_depth: int | None = None) -> Iterator[str]:
    """The object tree, one line per entry: name, type, shape and dtype; links with targets."""
    assert file.index is not None
    graph = file.index.graph  # the traversal's own graph: no networkx needed to print a tree

    def describe(path: str) -> str:
        data = graph.nodes[path]
        parts = []
        if "type" in data:
            parts.append(f"{data['type']} ({data['namespace']})")
        if data["kind"] is NodeKind.DATASET:
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
        for child in file.index.children.get(path, []):
            if child.kind is LinkKind.EXTERNAL:
                line = f"{indent}{child.name}  -> {child.filename}::{child.path} (external link)"
                pending.append((line, None, depth + 1))
            elif child.kind is LinkKind.SOFT:
                broken = " (broken)" if child.broken else ""
                line = f"{indent}{child.name}  -> {child.target} (soft link){broken}"
                pending.append((line, None, depth + 1))
            elif child.target != join(path, child.name):
                pending.append(
                    (f"{indent}{child.name}  = {child.target} (hard link)", None, depth + 1)
                )
            else:
                line = f"{indent}{child.name}  {describe(child.target)}".rstrip()
                pending.append((line, child.target, depth + 1))
        stack.extend(reversed(pending))


def _dtype_text(dtype: Any) -> str:
    return "" if dtype is None else describe_dtype(dtype)
