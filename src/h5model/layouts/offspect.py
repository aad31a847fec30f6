"""offspect trace caches: one group per origin file (its metadata as text attributes),
each with a group ``traces`` of 1-D datasets named by integer id, whose text attributes
are the trace's annotations. offspect addresses a trace by one running index across
origins (origins in the file's order, ids in numeric order); so do ``traces`` and
``trace`` here, on the typed models of the ``offspect`` layout, so that reading and
changing an annotation goes through the same typed, text-preserving save as any edit.
``merge`` joins caches into a new file, refusing what would mix incompatible traces."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.session.file import File
from h5model.session.file import open as open_file
from h5model.storage.replace import create_whole
from h5model.validation.run import validate

LAYOUT = "offspect"
REQUIRED = ("readout", "samplingrate", "samples_pre_event", "samples_post_event",
            "channel_labels")
"""The origin annotations every trace of a cache shares: its kind and its sample grid."""

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class TraceEntry:
    """One trace under its running index: which origin holds it, its id, its model."""

    index: int
    origin: str
    id: str
    trace: Any


def traces(f: File[Any]) -> Iterator[TraceEntry]:
    """Every trace of an open cache (``layout="offspect"``) under its running index."""
    index = 0
    for origin in f.root:
        held = f.root[origin].traces
        for name in held:  # numeric order, as the layout lists them
            yield TraceEntry(index, origin, name, held[name])
            index += 1


def trace(f: File[Any], index: int) -> Any:
    """The trace model at running ``index``; edit its annotations and ``f.save()``."""
    if index >= 0:
        for entry in traces(f):
            if entry.index == index:
                return entry.trace
    raise H5ModelError(f"no trace at running index {index} (the cache holds "
                       f"{sum(1 for _ in traces(f))})", file=str(f.path))


def merge(sources: Sequence[PathLike], destination: PathLike) -> Path:
    """Write a new cache at ``destination`` holding every origin of ``sources``, copied
    as stored. Refuses an existing destination, an invalid source, an origin named twice,
    and origins whose required annotations (``REQUIRED``) differ. Sources are only read;
    the new file appears whole or not at all."""
    target = Path(destination)
    if target.exists():
        raise H5ModelError("refusing to overwrite an existing file", file=str(target))
    if not sources:
        raise H5ModelError("nothing to merge: no source caches given", file=str(target))
    where: dict[str, Path] = {}
    first: tuple[str, Path, dict[str, Any]] | None = None
    for source in map(Path, sources):
        report = validate(source, layout=LAYOUT)
        errors = report.files[0].errors()
        if errors:
            raise H5ModelError(f"not a valid offspect cache: {errors[0].message} "
                               f"({errors[0].rule})", file=str(source),
                               hdf5_path=errors[0].hdf5_path)
        with open_file(source, layout=LAYOUT) as f:
            for origin, group in f.root.children.items():
                if origin in where:
                    raise H5ModelError(f"origin {origin!r} is also in {where[origin]}",
                                       file=str(source), hdf5_path=f"/{origin}")
                where[origin] = source
                annotations = {name: getattr(group, name) for name in REQUIRED}
                if first is None:
                    first = (origin, source, annotations)
                    continue
                for name in REQUIRED:
                    if not _same(annotations[name], first[2][name]):
                        raise H5ModelError(
                            f"origin {origin!r} has {name} {annotations[name]!r}, origin "
                            f"{first[0]!r} of {first[1]} has {first[2][name]!r}: their "
                            "traces cannot share a cache", file=str(source),
                            hdf5_path=f"/{origin}")
    _write(target, where)
    return target


def _same(a: Any, b: Any) -> bool:
    left, right = np.asarray(a), np.asarray(b)
    if left.shape != right.shape:
        return False
    if left.dtype.kind == "f" and right.dtype.kind == "f":
        return bool(np.array_equal(left, right, equal_nan=True))
    return bool(np.array_equal(left, right))


def _write(target: Path, where: dict[str, Path]) -> None:
    def write(partial: Path) -> None:
        with h5py.File(partial, "w") as out:
            for origin, source in where.items():
                with h5py.File(source, "r") as h5:
                    h5.copy(h5[origin], out, name=origin)

    create_whole(target, write)
