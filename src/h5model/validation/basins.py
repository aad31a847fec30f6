"""Checks of the basins an RT-DC file names (``hdf5.basins``): each document readable,
its mapping present and in range of every feature the basin gives, internal basin
features present, and a file basin's file found where it may be looked for.

A basin file that is not there (or not followed: outside the file's folder) is a
warning, ``basin.missing``: the file itself is fine, and the basin may be elsewhere on
another machine. What the file says that cannot hold is an error: an unreadable
document (``basin.document``), a mapping feature that is absent (``basin.mapping``),
a mapping naming rows the basin does not have (``basin.range``), a basin without a
mapping shorter than the events (``basin.rows``), a feature it lists that it lacks
(``basin.feature``), a basin file that is another measurement than the one the basin
names (``basin.identifier``; dcnum refuses to read it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py

from h5model.errors import H5ModelError
from h5model.hdf5.basins import (
    EVENTS,
    Basin,
    identifier_problem,
    locate,
    mapping_range,
    parse_basin,
)
from h5model.hdf5.graph import FileIndex
from h5model.validation.report import Emit, Severity


def check_basins(path: Path, file: h5py.File, index: FileIndex, emit: Emit) -> None:
    """Check every dataset the layout says is a basin document."""
    binding = index.binding
    documents = sorted(getattr(binding, "basins", ()) or ())
    for where in documents:
        try:
            basin = parse_basin(file[where], where.rsplit("/", 1)[-1], str(path))
            _check(path, file, basin, emit)
        except H5ModelError as exc:  # an unreadable document, a filter that is not here
            emit(exc.hdf5_path or where, exc.rule or "basin.document", exc.message,
                 Severity.ERROR)
        except (OSError, KeyError, ValueError) as exc:
            emit(where, "basin.unreadable", f"{type(exc).__name__}: {exc}", Severity.ERROR)


def _check(path: Path, file: h5py.File, basin: Basin, emit: Emit) -> None:
    events = file.get(EVENTS)
    count = _event_count(file, events)
    mapping = None
    if basin.mapping is not None:
        mapping = events.get(basin.mapping) if isinstance(events, h5py.Group) else None
        if not isinstance(mapping, h5py.Dataset):
            emit(basin.where, "basin.mapping", f"feature {basin.mapping!r} is missing from "
                 f"/{EVENTS}: basin {basin.name!r} maps the events through it",
                 Severity.ERROR)
            return
    if basin.kind == "internal":
        group = file.get(basin.paths[0]) if basin.paths else None
        if not isinstance(group, h5py.Group):
            emit(basin.where, "basin.feature", f"internal basin {basin.name!r}: no group "
                 f"{basin.paths[0] if basin.paths else '(none given)'!r}", Severity.ERROR)
            return
        _check_features(basin, group, basin.features or (), mapping, count, emit,
                        f"group /{group.name.strip('/')}")
        return
    if basin.kind != "file":
        emit(basin.where, "basin.kind", f"basin {basin.name!r} is of type {basin.kind!r}, "
             "which dcnum does not read (only 'file' and 'internal')", Severity.WARNING)
        return
    found, reasons = locate(path, basin.paths)
    if found is None:
        emit(basin.where, "basin.missing", f"basin {basin.name!r}: no basin file found "
             f"relative to the file's folder ({'; '.join(reasons) or 'no paths given'})",
             Severity.WARNING)
        return
    with h5py.File(found, "r") as other:
        wrong = identifier_problem(basin, other)
        if wrong is not None:  # dcnum refuses to read such a basin
            emit(basin.where, "basin.identifier", wrong, Severity.ERROR)
            return
        group = other.get(EVENTS)
        if not isinstance(group, h5py.Group):
            emit(basin.where, "basin.feature", f"basin {basin.name!r}: {found.name} has no "
                 f"/{EVENTS} group", Severity.ERROR)
            return
        listed = basin.features if basin.features is not None else tuple(group)
        _check_features(basin, group, listed, mapping, count, emit, found.name)


def _check_features(basin: Basin, group: h5py.Group, features: Any, mapping: Any,
                    count: int | None, emit: Emit, source: str) -> None:
    lengths: dict[str, int] = {}
    for name in features:
        item = group.get(name)
        if not isinstance(item, h5py.Dataset) or not item.shape:
            emit(basin.where, "basin.feature", f"basin {basin.name!r}: {source} has no "
                 f"feature {name!r}", Severity.ERROR)
            continue
        lengths[name] = item.shape[0]
    if not lengths:
        return
    shortest = min(lengths, key=lengths.__getitem__)
    if mapping is not None:
        span = mapping_range(mapping, str(mapping.file.filename))
        if span is None:
            return
        low, high = span
        if low < 0 or high >= lengths[shortest]:
            emit(basin.where, "basin.range", f"basin {basin.name!r}: mapping "
                 f"/{EVENTS}/{basin.mapping} names rows {low}..{high}, but feature "
                 f"{shortest!r} of {source} has {lengths[shortest]} rows", Severity.ERROR)
    elif count is not None and lengths[shortest] < count:
        emit(basin.where, "basin.rows", f"basin {basin.name!r} has no mapping, so it must "
             f"hold a row per event ({count}), but feature {shortest!r} of {source} has "
             f"{lengths[shortest]}", Severity.ERROR)


def _event_count(file: h5py.File, events: Any) -> int | None:
    stated = file.attrs.get("experiment:event count")
    try:
        return int(stated) if stated is not None else None
    except (TypeError, ValueError):
        return None
