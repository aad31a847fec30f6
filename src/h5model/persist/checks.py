"""Every change checked before a save writes anything.

Models re-validated, every new child placed where its parent's spec has room for
it, every referenced object found in the file or among what is added (and of the
type the spec names), nothing removed that something kept still refers to,
slices and table rows fitting the datasets they go into. The first problem found
is raised as a ``ModelError`` naming the file and the path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
import pydantic

from h5model.errors import ModelError, plain
from h5model.hdf5.graph import FileIndex
from h5model.hdf5.kinds import EdgeLabel, NodeKind
from h5model.hdf5.paths import join as join_path
from h5model.models.arrays import H5Array, IsoDatetimeArray
from h5model.models.nodes import Dataset, Group, Node
from h5model.models.problems import model_problems
from h5model.models.tables import DynamicTableRegionMixin
from h5model.persist.changes import Changes
from h5model.persist.rows import spread_cell as _spread
from h5model.persist.writer import holds_models, object_array, plain_value
from h5model.rules.dtypes import is_reference, is_text
from h5model.rules.model import Role
from h5model.rules.ragged import ragged_chain as _chain
from h5model.rules.ruleset import RuleSet
from h5model.spec.loader import SpecSet


class Host(Protocol):
    """What checking needs from the file being saved."""

    @property
    def label(self) -> str: ...

    @property
    def specs(self) -> SpecSet | None: ...

    @property
    def index(self) -> FileIndex | None:
        """The file's object graph: what refers to what."""
        ...

    def owns(self, model: Node) -> bool:
        """True when ``model`` was read from (or saved into) this file."""
        ...


def check(changes: Changes, host: Host) -> None:
    """Raise ModelError, before anything is written, if an edit is invalid."""
    label = host.label
    rules = RuleSet(host.specs) if host.specs is not None else None
    new_models = list(changes.new_models())
    for model in [*changes.changed_models(), *new_models]:
        _revalidate(model, label)
    for model, names in changes.fields.values():
        _check_storable(model, names, label)
    for model in new_models:
        _check_storable(model, set(type(model).h5_fields), label)
    for group, name, child in changes.added:
        _check_placed(group, name, child, label)
    removed = changes.removed_paths()
    known = {id(m) for m in new_models}

    def findable(target: Node) -> bool:
        if id(target) in known:
            return True
        path = target.hdf5_path
        return path is not None and host.owns(target) and not _under(path, removed)

    for model in [*changes.changed_models(), *new_models]:
        for target in _referenced(model):
            if not findable(target):
                raise ModelError(
                    f"refers to {target!r}, which is neither in this file nor being added"
                    + (" (it is removed in this save)" if host.owns(target) else ""),
                    file=label, hdf5_path=model.hdf5_path or "(new object)",
                )
        if rules is not None:
            _check_reference_types(model, rules, label)
    _check_removals(changes, host, removed)
    for array, key, value in changes.slices:
        _check_slice(array, key, value, label)
    pending: dict[int, int] = {}
    for table, _ in changes.rows:
        pending[id(table)] = pending.get(id(table), 0) + 1
    for table, row in changes.rows:
        _check_row(table, row, host, rules, findable, pending)


def _check_removals(changes: Changes, host: Host, removed: list[str]) -> None:
    """Nothing kept may still refer (or link) to what is removed."""
    changed: dict[str, set[str]] = {}
    for model, names in changes.fields.values():
        if model.hdf5_path is not None:
            specs = type(model).h5_fields
            changed[model.hdf5_path] = {
                specs[n].name or n for n in names if n in specs
            }
    for path in removed:
        for source, name, kind in dependents(host.index, path):
            if _under(source, removed) or name in changed.get(source, set()):
                continue
            if kind == "link" and _under(join_path(source, name), removed):
                continue
            what = "links to" if kind == "link" else "refers to"
            raise ModelError(
                f"cannot remove it: {source} ({name or 'data'}) still {what} it; remove or "
                "re-point that first",
                file=host.label, hdf5_path=path,
            )


def _revalidate(model: Node, label: str) -> None:
    cls = type(model)
    data = {name: model.__dict__[name] for name in cls.model_fields if name in model.__dict__}
    try:
        cls.model_validate(data)
    except pydantic.ValidationError as exc:
        where, message = model_problems(exc, cls)[0]
        raise ModelError(f"invalid edit of a {cls.type_name() or cls.__name__}: {where}: "
                         f"{message}", file=label,
                         hdf5_path=model.hdf5_path or "(new object)") from None


def _check_storable(model: Node, names: set[str], label: str) -> None:
    """Attribute values convert to what the file stores (e.g. no negative unsigned)."""
    for name in names:
        spec = type(model).h5_fields.get(name)
        value = getattr(model, name, None)
        if spec is None or spec.role != "attribute" or value is None or holds_models(value):
            continue
        try:
            plain_value(value, spec.dtype)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"attribute {spec.name!r}: {exc}", file=label,
                             hdf5_path=model.hdf5_path or "(new object)") from None


def _check_placed(group: Group, name: str, child: Any, label: str) -> None:
    """A child added to a group its spec defines must have a place in that spec."""
    cls = type(group)
    if cls is Group or not cls.h5_fields:
        return  # an untyped group outside any spec takes anything
    for field_name, spec in cls.h5_fields.items():
        value = getattr(group, field_name, None)
        if spec.role == "children" and isinstance(value, dict) and value.get(name) is child:
            return
        if spec.name == name and spec.role in ("dataset", "group", "link"):
            return
    kind = type(child).type_name() if isinstance(child, Node) else None
    allowed = sorted(
        {s.target_type for s in cls.h5_fields.values() if s.role == "children" and s.target_type}
    )
    raise ModelError(
        f"{_a(cls.type_name() or cls.__name__)} has no place for "
        f"{_a(kind) if kind else 'an untyped object'} named {name!r}"
        + (f" (it holds {', '.join(allowed)})" if allowed else ""),
        file=label, hdf5_path=group.hdf5_path,
    )


def _is_a(rules: RuleSet, model: Any, wanted: str) -> bool:
    if not isinstance(model, Node) or type(model).h5_type is None:
        return False
    namespace, type_name = type(model).h5_type  # type: ignore[misc]
    return rules.has_type(namespace, type_name, wanted)


def _check_reference_types(model: Node, rules: RuleSet, label: str) -> None:
    """Datasets of references (e.g. ImageReferences) hold models of the type their spec
    names (attributes are checked by the model's own field types)."""
    spec = type(model).h5_fields.get("value")
    if not isinstance(model, Dataset) or spec is None or not spec.reftype:
        return
    if not spec.target_type or not isinstance(model.value, np.ndarray):
        return
    for item in model.value.flat:
        if item is not None and not _is_a(rules, item, spec.target_type):
            raise ModelError(
                f"expected references to {spec.target_type}, found one to {item!r}",
                file=label, hdf5_path=model.hdf5_path or "(new object)",
            )


def _check_slice(array: H5Array, key: Any, value: np.ndarray, label: str) -> None:
    where = array.hdf5_path
    try:
        target = np.empty(array.shape, dtype=np.int8)[key]
        np.broadcast_to(value, np.shape(target))
    except (IndexError, ValueError, TypeError) as exc:
        raise ModelError(f"slice {plain(key)!r} with values of shape {value.shape} does not fit "
                         f"shape {array.shape} ({exc})", file=label, hdf5_path=where) from None
    problem = _values_problem(array.dtype, value, dates=isinstance(array, IsoDatetimeArray))
    if problem is not None:
        raise ModelError(problem, file=label, hdf5_path=where)


def _values_problem(dtype: np.dtype, value: np.ndarray, *, dates: bool = False) -> str | None:
    """Why ``value`` cannot be written into a dataset of ``dtype`` (None when it can);
    ``dates``: an isodatetime dataset, which takes dates and times too (as ISO 8601)."""
    if is_text(dtype):
        if dates and value.dtype.kind == "M":
            return None  # times are written as ISO 8601 text
        text = (str, bytes, dt.date, np.datetime64) if dates else (str, bytes)
        if value.dtype.kind in "USO" and all(isinstance(v, text) for v in value.flat):
            return None
        return f"cannot write {value.dtype} values into a text dataset"
    if dtype.kind not in "biuf":
        return None
    if value.dtype.kind not in "biuf":
        return f"cannot write {value.dtype} values into a {dtype} dataset"
    if dtype.kind in "iu" and value.size:
        if value.dtype.kind == "f" and not np.all(np.mod(value, 1) == 0):
            return f"cannot write fractional values into a {dtype} dataset"
        low, high = float(value.min()), float(value.max())
        info = np.iinfo(dtype)
        if low < info.min or high > info.max:
            return f"values from {low:g} to {high:g} do not fit a {dtype} dataset"
    return None


def _column_reference(rules: RuleSet | None, table: Node, name: str) -> str | None:
    """The type the references of column ``name`` of ``table`` must point at, where the
    table's spec names the column and says (None otherwise)."""
    h5_type = type(table).h5_type
    if rules is None or h5_type is None or h5_type[0] not in rules.specs.namespaces:
        return None
    owner = rules.type_rule(*h5_type)
    part = owner.named(name)
    if part is None or part.role is not Role.DATASET:
        return None
    if part.type is not None:
        column = rules.refined(owner, owner.lookup_namespace or h5_type[0], part.type, part)
        value = column.value.value if column.value is not None else None
    else:
        value = part.value
    reference = value.reference if value is not None else None
    return reference.target_type if reference is not None else None


def _check_row(table: Node, row: dict[str, Any], host: Host, rules: RuleSet | None,
               findable: Callable[[Node], bool], pending: dict[int, int]) -> None:
    label = host.label
    where = table.hdf5_path
    children = table.children  # type: ignore[attr-defined]
    for name, value in row.items():
        chain = _chain(children, name)
        levels: list[list[Any]] = [[] for _ in chain]
        try:
            _spread(value, len(chain) - 1, levels, [0] * len(chain))
        except TypeError as exc:
            raise ModelError(f"column {name!r}: {exc}", file=label, hdf5_path=where) from None
        column = children.get(name)
        data = getattr(column, "value", None)
        if not isinstance(data, H5Array | np.ndarray):
            continue
        leaves = levels[0]

        def fail(message: str, name: str = name) -> ModelError:
            return ModelError(f"column {name!r}: {message}", file=label, hdf5_path=where)

        if isinstance(column, DynamicTableRegionMixin):
            target = column.table
            count = len(target) + pending.get(id(target), 0)
            numbers = np.asarray(leaves)
            if numbers.size and (numbers.dtype.kind not in "iu" or numbers.min() < 0
                                 or numbers.max() >= count):
                raise fail(f"row numbers {[int(n) for n in numbers.flat]} are not rows of "
                           f"{target.hdf5_path} ({count} rows)")
            continue
        dtype = data.dtype
        if is_reference(dtype):
            wanted = _column_reference(rules, table, name)
            for item in leaves:
                if item is None:
                    continue
                if not isinstance(item, Node) or not findable(item):
                    raise fail(f"{plain(item)!r} is not an object of this file (nor being added)")
                if wanted and rules is not None and not _is_a(rules, item, wanted):
                    raise fail(f"expected a reference to {_a(wanted)}, found {plain(item)!r}")
            continue
        if dtype.names:
            for item in leaves:
                items = [item.get(n) for n in dtype.names] if isinstance(item, dict) else item
                if not isinstance(items, list | tuple) or len(items) != len(dtype.names):
                    raise fail(f"expected ({', '.join(dtype.names)}) for each row, "
                               f"not {plain(item)!r}")
                for n, part in zip(dtype.names, items, strict=True):
                    if is_reference(dtype[n]):
                        if part is not None and (not isinstance(part, Node) or not findable(part)):
                            raise fail(f"{plain(part)!r} is not an object of this file")
                    elif _values_problem(dtype[n], np.asarray(part)) is not None:
                        raise fail(f"field {n!r}: {plain(part)!r} does not fit {dtype[n]}")
            continue
        values = np.asarray(leaves) if leaves else np.empty((0, *data.shape[1:]))
        problem = _values_problem(dtype, values)
        if problem is not None:
            raise fail(problem)
        if leaves and tuple(values.shape[1:]) != tuple(data.shape[1:]):
            raise fail(f"each value must have shape {tuple(data.shape[1:])}, "
                       f"not {tuple(values.shape[1:])}")
    if "id" in row and not isinstance(row["id"], int | np.integer):
        raise ModelError(f"row id must be an integer, not {plain(row['id'])!r}", file=label,
                         hdf5_path=where)


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def _referenced(model: Node) -> Iterator[Node]:
    for name, spec in type(model).h5_fields.items():
        value = getattr(model, name, None)
        if spec.role in ("attribute", "link") and isinstance(value, Node):
            yield value
        elif spec.role == "attribute" and holds_models(value):
            yield from (v for v in object_array(value).flat if isinstance(v, Node))
    if isinstance(model, Dataset) and isinstance(model.value, np.ndarray) and (
        model.value.dtype == object
    ):
        yield from (v for v in model.value.flat if isinstance(v, Node))


def dependents(index: FileIndex | None, path: str) -> list[tuple[str, str, str]]:
    """(source, name, label) of every reference or link into ``path`` or below it."""
    if index is None:
        return []
    graph = index.graph
    prefix = path.rstrip("/") + "/"
    out = []
    for node in [path, *(n for n in graph.nodes if n.startswith(prefix))]:
        if node not in graph or graph.nodes[node]["kind"] is NodeKind.MISSING:
            continue  # a broken link into the subtree stays as broken as it was
        for source, _, edge in graph.in_edges(node, data=True):
            if edge["label"] in (EdgeLabel.REFERENCE, EdgeLabel.LINK):
                out.append((source, str(edge["name"]), edge["label"].value))
    return out
