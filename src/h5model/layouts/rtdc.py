"""RT-DC event files beyond one file: features held in basins, and copying features.

``feature(f, name)`` gives a feature of an open RT-DC file (``layout="rtdc"``): its own
``/events/<name>`` model's array, or, if the file does not hold it, the feature of the
first basin that gives it (internal basins first, as dcnum reads them), seen through the
basin's mapping: row i is row ``mapping[i]`` of the basin, read lazily
(``hdf5.basins.MappedFeature``). Basin files are looked for relative to the file's folder
only (``hdf5.basins.locate``). ``copy_features`` copies chosen features, optionally
through a mapping (a subset of events), into another file with the same chunking and
filters, refusing to overwrite a feature that is there.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.hdf5.basins import (
    EVENTS,
    Basin,
    MappedFeature,
    identifier_problem,
    locate,
    mapped_rows,
    read_basins,
)
from h5model.session.file import File
from h5model.storage.replace import create_whole

LAYOUT = "rtdc"
COUNT = "experiment:event count"
PathLike = str | os.PathLike[str]


class FeatureError(H5ModelError):
    """A feature that is not there, or cannot be copied where asked."""

    rule = "rtdc.feature"


def feature(f: File[Any], name: str) -> Any:
    """Feature ``name`` of an open RT-DC file: its own (the model's lazy array) or a
    basin's, mapped to this file's events (nothing read until sliced)."""
    if _has(f, name):
        return f.get(f"/{EVENTS}/{name}").value
    found = _from_basins(Path(f.path), name)
    if found is None:
        raise FeatureError(f"no feature {name!r} in the file or in a basin it can reach",
                           file=str(f.path), hdf5_path=f"/{EVENTS}")
    return found


def features(f: File[Any]) -> list[str]:
    """Every feature name the file gives: its own and its reachable basins', sorted."""
    path = Path(f.path)
    names: set[str] = set()
    with h5py.File(path, "r") as h5:
        events = h5.get(EVENTS)
        if isinstance(events, h5py.Group):
            names.update(events)
        for basin in _ordered(read_basins(h5, str(path))):
            names.update(_basin_features(path, h5, basin))
    return sorted(names)


def _has(f: File[Any], name: str) -> bool:
    with h5py.File(f.path, "r") as h5:
        return f"{EVENTS}/{name}" in h5


def _ordered(found: Any) -> list[Basin]:
    basins = [b for b in found if isinstance(b, Basin)]
    return sorted(basins, key=lambda b: b.kind != "internal")


def _basin_features(path: Path, h5: h5py.File, basin: Basin) -> list[str]:
    if basin.kind == "internal":
        return list(basin.features or ())
    if basin.kind != "file":
        return []
    if basin.features is not None:
        return list(basin.features)
    found, _ = locate(path, basin.paths)
    if found is None:
        return []
    with h5py.File(found, "r") as other:
        events = other.get(EVENTS)
        return list(events) if isinstance(events, h5py.Group) else []


def _from_basins(path: Path, name: str) -> MappedFeature | None:
    """The mapped view of ``name`` from the first basin giving it; the files it reads stay
    open as long as the view lives."""
    h5 = h5py.File(path, "r")
    try:
        for basin in _ordered(read_basins(h5, str(path))):
            if name not in _basin_features(path, h5, basin):
                continue
            mapping = h5[f"{EVENTS}/{basin.mapping}"] if basin.mapping is not None else None
            if basin.kind == "internal":
                source = h5[f"{basin.paths[0]}/{name}"]
                return MappedFeature(source, mapping, name, keep=(h5,))
            found, _ = locate(path, basin.paths)
            if found is None:
                continue
            other = h5py.File(found, "r")
            try:
                wrong = identifier_problem(basin, other)
                if wrong is not None:  # as dcnum, never read another measurement's rows
                    raise FeatureError(wrong, file=str(path), hdf5_path=basin.where)
                if f"{EVENTS}/{name}" not in other:
                    other.close()
                    continue
                return MappedFeature(other[f"{EVENTS}/{name}"], mapping, name, keep=(h5, other))
            except BaseException:
                other.close()
                raise
    except BaseException:  # a damaged document, a filter that is not here: nothing left open
        h5.close()
        raise
    h5.close()
    return None


# -- copying features ---------------------------------------------------------------------------
def copy_features(source: PathLike, destination: PathLike, names: Sequence[str], *,
                  mapping: Sequence[int] | np.ndarray | None = None,
                  block_rows: int = 10000) -> Path:
    """Copy features ``names`` of ``source`` (its own, or from its basins) into
    ``destination``'s ``/events``, each with its dataset's chunking and filters. With
    ``mapping``, event i of the copy is event ``mapping[i]`` of the source (a subset).
    A new destination gets the source's root attributes with the event count of the copy;
    an existing one must have that many events and must not hold any of the features
    (nothing is written then). A new file appears whole or not at all."""
    src, dst = Path(source), Path(destination)
    if not names:
        raise FeatureError("no features to copy", file=str(src))
    with File(src, layout=LAYOUT) as f, h5py.File(src, "r") as h5:
        views: dict[str, MappedFeature] = {}
        for name in names:
            own = h5.get(f"{EVENTS}/{name}")
            views[name] = (MappedFeature(own, None, name) if isinstance(own, h5py.Dataset)
                           else feature(f, name))
        count = len(next(iter(views.values())))
        rows = None if mapping is None else np.asarray(mapping, dtype=np.int64)
        if rows is not None and rows.ndim != 1:
            raise FeatureError("the mapping must be 1-D: one source event per event",
                               file=str(src))
        if rows is not None and rows.size and (rows.min() < 0 or rows.max() >= count):
            raise FeatureError(f"the mapping names events {rows.min()}..{rows.max()}, the "
                               f"source has {count}", file=str(src))
        total = count if rows is None else int(rows.size)
        if dst.exists():
            _into(dst, views, rows, total, block_rows)
        else:
            _new(src, dst, views, rows, total, block_rows)
    return dst


def _into(dst: Path, views: dict[str, MappedFeature], rows: np.ndarray | None, total: int,
          block_rows: int) -> None:
    with h5py.File(dst, "r+") as out:
        events = out.get(EVENTS)
        there = [n for n in views if isinstance(events, h5py.Group) and n in events]
        if there:
            raise FeatureError(f"refusing to overwrite feature(s) {', '.join(there)}",
                               file=str(dst), hdf5_path=f"/{EVENTS}/{there[0]}")
        stated = out.attrs.get(COUNT)
        if stated is not None and int(stated) != total:
            raise FeatureError(f"the copy has {total} events, the file {int(stated)} "
                               f"({COUNT!r})", file=str(dst), hdf5_path="/")
        group = out.require_group(EVENTS)
        for name, view in views.items():
            _copy_one(group, name, view, rows, total, block_rows)


def _new(src: Path, dst: Path, views: dict[str, MappedFeature], rows: np.ndarray | None, total: int,
         block_rows: int) -> None:
    def write(partial: Path) -> None:
        with h5py.File(src, "r") as h5, h5py.File(partial, "w") as out:
            for key, value in h5.attrs.items():
                out.attrs[key] = value
            out.attrs[COUNT] = total
            group = out.create_group(EVENTS)
            for feature_name, view in views.items():
                _copy_one(group, feature_name, view, rows, total, block_rows)

    create_whole(dst, write, FeatureError)


def _copy_one(group: h5py.Group, name: str, view: MappedFeature, rows: np.ndarray | None,
              total: int, block_rows: int) -> None:
    dataset, through = view.dataset, view.mapping
    dcpl = dataset.id.get_create_plist()
    shape = (total, *dataset.shape[1:])
    maxshape = (None, *dataset.shape[1:]) if dataset.chunks else shape
    space = h5py.h5s.create_simple(shape, tuple(h5py.h5s.UNLIMITED if m is None else m
                                                 for m in maxshape))
    made = h5py.h5d.create(group.id, name.encode(), dataset.id.get_type(), space, dcpl=dcpl)
    out = h5py.Dataset(made)
    for key, value in dataset.attrs.items():
        out.attrs[key] = value
    step = max(1, block_rows)
    for start in range(0, total, step):
        stop = min(total, start + step)
        wanted = np.arange(start, stop) if rows is None else rows[start:stop]
        if through is not None:
            wanted = mapped_rows(wanted, through)
        out[start:stop] = mapped_rows(wanted, dataset)
