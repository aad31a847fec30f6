"""The change log of one writable file: what was edited since the last save.

Edits are recorded as they happen (a field assigned, a child added or removed, a
slice assigned, a table row added); a save checks them all, then applies them at
each model's ``hdf5_path``. A new model is not logged field by field: it is
written whole when it is attached, with everything under it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from h5model.hdf5.paths import join as join_path
from h5model.models.arrays import H5Array
from h5model.models.nodes import Group, Node


@dataclass
class Changes:
    """The change log of one writable file."""

    fields: dict[int, tuple[Node, set[str]]] = field(default_factory=dict)
    added: list[tuple[Group, str, Any]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    slices: list[tuple[H5Array, Any, np.ndarray]] = field(default_factory=list)
    rows: list[tuple[Node, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.added or self.removed or self.slices or self.rows)

    def clear(self) -> None:
        self.fields.clear()
        self.added.clear()
        self.removed.clear()
        self.slices.clear()
        self.rows.clear()

    # -- recording -------------------------------------------------------------------------
    def field_changed(self, model: Node, name: str) -> None:
        if model.hdf5_path is None:
            return  # a new model is written whole when it is attached
        entry = self.fields.setdefault(id(model), (model, set()))
        entry[1].add(name)

    def child_added(self, group: Group, name: str, child: Any) -> None:
        if group.hdf5_path is None:
            return  # a new group is written whole, with its children, when it is attached
        self.added.append((group, name, child))

    def child_removed(self, group: Group, name: str) -> None:
        if group.hdf5_path is None:
            return
        pending = [(g, n, c) for g, n, c in self.added if g is group and n == name]
        self.added = [(g, n, c) for g, n, c in self.added if not (g is group and n == name)]
        if not pending:
            self.removed.append((group.hdf5_path, name))

    def slice_written(self, array: H5Array, key: Any, value: Any) -> None:
        self.slices.append((array, key, np.asarray(value)))

    def row_added(self, table: Node, row: dict[str, Any]) -> None:
        self.rows.append((table, row))

    # -- reading -----------------------------------------------------------------------------
    def pending_rows(self, table: Node) -> int:
        """Rows added to ``table`` and not saved yet."""
        return sum(1 for t, _ in self.rows if t is table)

    def pending_slices(self, array: H5Array) -> list[tuple[Any, np.ndarray]]:
        """(key, value) of every slice assigned to ``array`` and not saved yet, in order."""
        return [(key, value) for a, key, value in self.slices if a is array]

    def removed_paths(self) -> list[str]:
        return [join_path(parent, name) for parent, name in self.removed]

    def changed_models(self) -> Iterator[Node]:
        """Models of the file with a field assigned, and groups that got a child."""
        for model, _ in self.fields.values():
            yield model
        for group, _, _ in self.added:
            yield group

    def new_models(self) -> Iterator[Node]:
        """Every model not in the file yet that a save writes: those attached or assigned,
        and everything they contain."""
        seen: set[int] = set()
        stack = [c for _, _, c in self.added if isinstance(c, Node) and c.hdf5_path is None]
        for model, names in self.fields.values():
            for name in names:
                value = getattr(model, name, None)
                if isinstance(value, Node) and value.hdf5_path is None:
                    stack.append(value)
                elif isinstance(value, dict):
                    stack.extend(
                        v for v in value.values() if isinstance(v, Node) and v.hdf5_path is None
                    )
        while stack:
            model = stack.pop()
            if id(model) in seen:
                continue
            seen.add(id(model))
            yield model
            for value in contained(model):
                if value.hdf5_path is None:
                    stack.append(value)


def contained(model: Node) -> Iterator[Node]:
    """The models ``model`` holds (its children and named parts, not what it refers to)."""
    for name, spec in type(model).h5_fields.items():
        value = getattr(model, name, None)
        if spec.role == "children" and isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, Node))
        elif isinstance(value, Node) and spec.role != "attribute":
            yield value
    if isinstance(model, Group):
        yield from (v for v in model.children.values() if isinstance(v, Node))
