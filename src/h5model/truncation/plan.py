"""How many leading rows of each dataset a truncated copy keeps.

The plan is computed before anything is written, from the object graph and the
file's own specs, so that every cut is consistent: a table keeps the same rows
in all of its columns, ragged columns keep whole rows, region columns only
point at kept rows, a TimeSeries keeps as many timestamps as data. Only index
values at the cut points and the kept rows of region datasets are read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError, SpecError
from h5model.hdf5 import stored
from h5model.hdf5.graph import FileIndex, dereference_path
from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.hdf5.limits import LimitError
from h5model.hdf5.paths import name_of, parent_of
from h5model.rules.model import Dim, Kind, Part, Role, TypeRule, plain_dataset
from h5model.rules.ragged import indexed_name
from h5model.rules.ruleset import RuleSet
from h5model.spec.loader import SpecSet

SERIES_MEMBERS = ("data", "timestamps", "control")
"""Datasets of a TimeSeries that run along its time axis."""


@dataclass
class Plan:
    """Rows kept along the first axis, per canonical dataset path."""

    rows: dict[str, int] = field(default_factory=dict)
    """Every dataset with at least one dimension; a dataset kept whole has its full length."""
    series_rows: dict[str, int | None] = field(default_factory=dict)
    """Kept samples of each TimeSeries (timestamps if it has them, else data)."""
    series_references: set[str] = field(default_factory=set)
    """Compound datasets of TimeSeriesReference rows, whose rows are clamped to their series."""
    root_attributes: dict[str, int] = field(default_factory=dict)
    """Root attributes written with a new value: row counts a layout keeps there."""

    def kept(self, path: str, length: int) -> int:
        return self.rows.get(path, length)


@dataclass
class _Table:
    path: str
    length: int
    members: list[str]
    """``id`` plus the outermost dataset of every column: each keeps exactly the table's rows."""
    chains: list[list[str]]
    """Each ragged column from its outermost index down to its data."""

    def member_paths(self) -> list[str]:
        return [*self.members, *(p for chain in self.chains for p in chain)]


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in np.atleast_1d(value)]


class Planner:
    """Builds a :class:`Plan` for one source file."""

    def __init__(
        self,
        file: h5py.File,
        index: FileIndex,
        specs: SpecSet | None,
        n: int,
        keep: Sequence[str],
        label: str,
        spec_path: str | None,
    ) -> None:
        self.file = file
        self.index = index
        self.graph = index.graph
        self.rules = RuleSet(specs) if specs is not None else None
        self.n = n
        self.keep = list(keep)
        self.label = label
        self.spec_path = spec_path
        self.length: dict[str, int] = {}
        for path, data in self.graph.nodes(data=True):
            if data["kind"] is NodeKind.DATASET and data.get("shape"):
                self.length[path] = int(data["shape"][0])
        self._values: dict[tuple[str, int], int] = {}
        self._region_max: dict[str, tuple[int, int]] = {}
        self._rule_cache: dict[str, TypeRule | None] = {}

    # -- types -----------------------------------------------------------------------------
    def is_a(self, path: str, wanted: str) -> bool:
        data = self.graph.nodes.get(path, {})
        if self.rules is None or data.get("namespace") not in self.rules.specs.namespaces:
            return False
        return self.rules.has_type(data.get("namespace"), data.get("type"), wanted)

    def children(self, path: str) -> dict[str, str]:
        """name -> canonical path of the objects a group holds in this file (links followed)."""
        out: dict[str, str] = {}
        for child in self.index.children.get(path, ()):
            if (
                child.kind in (LinkKind.HARD, LinkKind.SOFT)
                and not child.broken
                and self.graph.nodes[child.target]["kind"] in (NodeKind.GROUP, NodeKind.DATASET)
            ):
                out[child.name] = child.target
        return out

    def reference(self, path: str, name: str) -> str | None:
        ref = self.index.attrs.get(path, {}).get(name)
        if not isinstance(ref, h5py.Reference) or not ref:
            return None
        return dereference_path(self.file, self.index, ref)

    # -- entry ----------------------------------------------------------------------------
    def plan(self) -> Plan:
        """Whole objects first; then tables, grown until every region's rows are kept; then
        time series; then every other dataset by the generic rule."""
        plan = Plan()
        whole = self._datasets_below(self._resolve(p) for p in self.keep)
        if self.spec_path is not None:
            whole |= self._datasets_below([self.spec_path])
        tables = self._tables()
        member_of = {p: t.path for t in tables.values() for p in t.member_paths()}
        self._cut_tables(tables, member_of, whole, plan)
        self._cut_series(member_of, whole, plan)
        for path in self.length:
            elements = self.reference(path, "elements") if self.is_a(path, "EnumData") else None
            if elements is not None:
                whole.add(elements)  # its values are row numbers into ``elements``
        for path, rows in self.length.items():
            if path in plan.rows and path not in whole:
                continue
            if path in whole or rows <= self.n or self._axis_bound(path):
                plan.rows[path] = rows
            else:
                plan.rows[path] = self.n
        fields = {"idx_start", "count", "timeseries"}
        for path in self.length:
            names = set(self.graph.nodes[path]["dtype"].names or ())
            if fields <= names and self.is_a(path, "TimeSeriesReferenceVectorData"):
                plan.series_references.add(path)
        return plan

    def _cut_tables(
        self, tables: dict[str, _Table], member_of: dict[str, str], whole: set[str], plan: Plan
    ) -> None:
        """Rows per table: ``n`` (or all, when kept or inside a TimeSeries, like the bands
        of a DecompositionSeries), then raised until every kept region row has its target
        row; aligned tables share one count."""
        rows: dict[str, int] = {}
        whole_tables = {member_of[p] for p in whole if p in member_of}
        for path, table in tables.items():
            full = path in whole_tables or any(
                self.is_a(a, "TimeSeries") for a in self._ancestors(path)
            )
            rows[path] = table.length if full else min(self.n, table.length)
        regions = [p for p in self.length if self.is_a(p, "DynamicTableRegion")]
        for region in regions:
            if region not in member_of:
                whole.add(region)  # not a column: it runs along another axis of its owner
        ties = self._ties(tables)
        changed = True
        while changed:
            for group in ties:
                top = max(rows[t] for t in group)
                for t in group:
                    rows[t] = top
            for table in tables.values():
                self._cut_table(table, rows[table.path], plan.rows)
            changed = False
            for region in regions:
                target = self.reference(region, "table")
                if target not in tables:
                    continue
                kept = plan.rows[region] if region in member_of else self.length[region]
                needed = min(self._max_value(region, kept) + 1, tables[target].length)
                if needed > rows[target]:
                    rows[target] = needed
                    changed = True

    def _cut_series(self, member_of: dict[str, str], whole: set[str], plan: Plan) -> None:
        """``data``, ``timestamps`` and ``control`` of a TimeSeries keep the same ``n`` rows
        (all of them if one is kept); a linked one is cut once, where it lives."""
        for path, data in self.graph.nodes(data=True):
            if data["kind"] is not NodeKind.GROUP or not self.is_a(path, "TimeSeries"):
                continue
            children = self.children(path)
            members = {n: children[n] for n in SERIES_MEMBERS if children.get(n) in self.length}
            full = any(m in whole for m in members.values())
            for member in members.values():
                if member not in member_of:
                    rows = self.length[member]
                    kept = rows if full else min(self.n, rows)
                    plan.rows[member] = max(plan.rows.get(member, 0), kept)
            counted = members.get("timestamps") or members.get("data")
            plan.series_rows[path] = plan.rows.get(counted) if counted else None

    # -- what --keep asks for ------------------------------------------------------------------
    def _resolve(self, hdf5_path: str) -> str:
        """Canonical path of a user-given path, following soft links; an error if absent."""
        current = "/"
        parts = [p for p in hdf5_path.split("/") if p]
        for i, part in enumerate(parts):
            child = next((c for c in self.index.children.get(current, ()) if c.name == part), None)
            where = "/" + "/".join(parts[: i + 1])
            if child is None or child.broken:
                raise H5ModelError(
                    "cannot keep this path: no such object", file=self.label, hdf5_path=where
                )
            if child.kind is LinkKind.EXTERNAL:
                raise H5ModelError(
                    "cannot keep this path: it is an external link into another file",
                    file=self.label,
                    hdf5_path=where,
                )
            current = child.target
        return current

    def _walk(self, roots: Iterable[str]) -> list[str]:
        seen: list[str] = []
        done: set[str] = set()
        stack = list(roots)
        while stack:
            path = stack.pop()
            if path in done or path not in self.graph:
                continue
            done.add(path)
            seen.append(path)
            stack.extend(self.children(path).values())
        return seen

    def _datasets_below(self, roots: Iterable[str]) -> set[str]:
        return {
            p for p in self._walk(roots) if self.graph.nodes[p]["kind"] is NodeKind.DATASET
        }

    def _ancestors(self, path: str) -> list[str]:
        out = []
        parent = parent_of(path)
        while parent is not None:
            out.append(parent)
            parent = parent_of(parent)
        return out

    # -- tables -----------------------------------------------------------------------------
    def _tables(self) -> dict[str, _Table]:
        tables: dict[str, _Table] = {}
        for path, data in self.graph.nodes(data=True):
            if data["kind"] is not NodeKind.GROUP or not self.is_a(path, "DynamicTable"):
                continue
            children = self.children(path)
            datasets = {n: p for n, p in children.items() if p in self.length}
            indexes: dict[str, str] = {}
            for name, child in datasets.items():
                if self.is_a(child, "VectorIndex"):
                    target = self.reference(child, "target")
                    indexed = indexed_name(name)
                    if target is None and indexed is not None:
                        target = datasets.get(indexed)
                    if target is not None:
                        indexes[target] = child
            chains: list[list[str]] = []
            members: list[str] = []
            for column in _texts(self.index.attrs.get(path, {}).get("colnames")):
                data_path = datasets.get(column)
                if data_path is None:
                    continue
                chain = [data_path]
                while chain[-1] in indexes and indexes[chain[-1]] not in chain:
                    chain.append(indexes[chain[-1]])
                chain.reverse()
                chains.append(chain)
                members.append(chain[0])
            ids = datasets.get("id")
            if ids is not None:
                members.append(ids)
                length = self.length[ids]
            else:
                length = max((self.length[m] for m in members), default=0)
            tables[path] = _Table(path, length, members, chains)
        return tables

    def _ties(self, tables: dict[str, _Table]) -> list[list[str]]:
        """AlignedDynamicTables and their category tables: one row count for all of them."""
        ties = []
        for path in tables:
            if not self.is_a(path, "AlignedDynamicTable"):
                continue
            children = self.children(path)
            names = _texts(self.index.attrs.get(path, {}).get("categories"))
            group = [path, *(children[n] for n in names if children.get(n) in tables)]
            if len(group) > 1:
                ties.append(group)
        return ties

    def _cut_table(self, table: _Table, rows: int, out: dict[str, int]) -> None:
        for path in table.members:
            out[path] = min(rows, self.length[path])
        for chain in table.chains:
            kept = min(rows, self.length[chain[0]])
            out[chain[0]] = kept
            for outer, inner in pairwise(chain):
                end = self._value(outer, kept - 1) if kept > 0 else 0
                kept = max(0, min(end, self.length[inner]))
                out[inner] = kept

    def _value(self, path: str, position: int) -> int:
        key = (path, position)
        if key not in self._values:
            self._values[key] = int(np.asarray(self.file[path][position]).ravel()[0])
        return self._values[key]

    def _max_value(self, path: str, rows: int) -> int:
        """Largest row number among the first ``rows`` entries of a region (read once each)."""
        done, best = self._region_max.get(path, (0, -1))
        if rows > done:
            dataset = self.file[path]
            shape = self.graph.nodes[path]["shape"]
            if (rows - done) * math.prod(shape[1:]) <= stored.BLOCK_ELEMENTS:
                # small: read at once (rows never written read as their fill, as below)
                block = np.asarray(dataset[done:rows])
                if block.size:
                    best = max(best, int(block.max()))
                self._region_max[path] = (rows, best)
                return best
            try:
                # what is stored, in bounded blocks; rows never written count as their fill
                for start, block in stored.rows(dataset, stop=rows):
                    if block.size and start + len(block) > done:
                        best = max(best, int(block[max(0, done - start) :].max()))
            except LimitError as exc:
                raise exc.at(self.file.filename, path) from None
            self._region_max[path] = (rows, best)
        return best

    # -- datasets whose first axis is not a row axis ----------------------------------------------
    def _axis_bound(self, path: str) -> bool:
        """True when the spec fixes the first axis' length, or names it as another axis of a
        sibling (``channel_conversion`` runs along the channels of ``data``): cutting it
        would break the file."""
        if self.rules is None:
            return False
        rule = self._rule(path)
        if rule is not None and rule.kind is Kind.DATASET:
            ndim = len(self.graph.nodes[path]["shape"])
            options = [o for o in _shapes(rule) if len(o) == ndim]
            if options and all(o[0].length is not None for o in options):
                return True
        parent = parent_of(path)
        owner = self._rule(parent) if parent is not None else None
        if owner is None or owner.kind is not Kind.GROUP:
            return False
        firsts: set[str | None] = set()
        later: set[str | None] = set()
        for part in owner.parts:
            if part.role is not Role.DATASET:
                continue
            for option in _shapes(self._part_rule(owner, part, None)):
                if part.name == name_of(path):
                    if option:
                        firsts.add(option[0].name)
                else:
                    later.update(d.name for d in option[1:])
        return bool(firsts) and None not in firsts and firsts <= later

    def _part_rule(
        self, owner: TypeRule, part: Part, data: dict[str, Any] | None
    ) -> TypeRule | None:
        """The rules of the object at a named part (its own type, if it has one, refined
        by what the part says)."""
        assert self.rules is not None
        if part.nested is not None:
            return part.nested
        if part.unwrap:
            return plain_dataset(part)
        if part.type is None:
            return None
        typed = data is not None and data.get("namespace") in self.rules.specs.namespaces
        namespace = data["namespace"] if typed and data else owner.lookup_namespace
        type_name = data["type"] if typed and data else part.type
        try:
            return self.rules.refined(owner, str(namespace), type_name, part)
        except SpecError:
            return None

    def _rule(self, path: str) -> TypeRule | None:
        """The rules of an object: its parent's named part, else its own type."""
        if path in self._rule_cache:
            return self._rule_cache[path]
        self._rule_cache[path] = None
        assert self.rules is not None
        data = self.graph.nodes.get(path, {})
        found: TypeRule | None = None
        parent = parent_of(path)
        owner = self._rule(parent) if parent is not None else None
        if owner is not None and owner.kind is Kind.GROUP:
            part = owner.named(name_of(path))
            if part is not None and part.role is not Role.LINK:
                found = self._part_rule(owner, part, data if "type" in data else None)
        known = data.get("namespace") in self.rules.specs.namespaces
        if found is None and "type" in data and known:
            try:
                found = self.rules.type_rule(data["namespace"], data["type"])
            except SpecError:
                found = None
        self._rule_cache[path] = found
        return found


def _shapes(rule: TypeRule | None) -> tuple[tuple[Dim, ...], ...]:
    """The shapes a dataset's rules allow (none when it has no value rule)."""
    value = rule.value if rule is not None else None
    return value.value.shapes if value is not None and value.value is not None else ()
