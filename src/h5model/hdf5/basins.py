"""Basins: features of an RT-DC file that live in another file (or another group), as
dcnum writes and reads them.

dcnum's ``HDF5Writer.store_basin`` keeps each basin as ``/basins/<md5>``, the lines of a
JSON document: ``name``, ``description``, ``type`` (``"file"``: features in other HDF5
files; ``"internal"``: in a group of this file, ``basin_events``), ``format``, ``paths``,
``features`` (optional for files: then every feature of the basin's ``/events``),
``identifier`` and ``mapping``: the name of a feature of this file's ``/events``
(``basinmap0`` ... ``basinmap9``) whose value at event i is the basin's row of event i.
Without a mapping, event i is row i of the basin.

Where a basin file is looked for is the one rule that keeps a hostile file from making
h5model read elsewhere: a path is resolved against the folder of the file that names it
(as dcnum's reader resolves relative paths) and followed only if it stays inside that
folder (symbolic links resolved) and is a regular file. Absolute paths, ``..`` leading
out, devices and URLs are never opened; they are reported as not followed.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.hdf5.filters import check_filters

BASINS = "basins"
EVENTS = "events"
MAX_DOCUMENT = 1 << 20
"""The longest basin document read (bytes); longer ones are refused unread."""
KINDS = ("file", "internal")
BLOCK_ROWS = 65536
"""Rows of a mapping read at once when checking its range."""


class BasinError(H5ModelError):
    """A basin document that cannot be read, or a basin feature that cannot be given."""

    rule = "basin.document"


@dataclass(frozen=True)
class Basin:
    """One basin document, checked for the fields dcnum relies on."""

    key: str
    """Its dataset's name under ``/basins``."""
    name: str
    kind: str
    paths: tuple[str, ...]
    features: tuple[str, ...] | None
    mapping: str | None
    description: str = ""
    identifier: str | None = None

    @property
    def where(self) -> str:
        return f"/{BASINS}/{self.key}"


def read_basins(h5: h5py.File, label: str) -> Iterator[Basin | BasinError]:
    """Every basin document of an open RT-DC file, or the error that says why one cannot
    be read (the others are still given)."""
    held = h5.get(BASINS)
    if not isinstance(held, h5py.Group):
        return
    for key in held:
        try:
            yield parse_basin(held[key], key, label)
        except BasinError as exc:
            yield exc


def parse_basin(dataset: Any, key: str, label: str) -> Basin:
    """A basin from its dataset (lines of JSON text)."""
    where = f"/{BASINS}/{key}"
    if not isinstance(dataset, h5py.Dataset) or dataset.ndim != 1:
        raise BasinError("expected a 1-D dataset of text lines", file=label, hdf5_path=where)
    if dataset.dtype.itemsize * dataset.shape[0] > MAX_DOCUMENT and dataset.dtype.kind == "S":
        raise BasinError(f"a basin document larger than {MAX_DOCUMENT} bytes", file=label,
                         hdf5_path=where)
    if dataset.shape[0] > MAX_DOCUMENT:
        raise BasinError("a basin document of too many lines", file=label, hdf5_path=where)
    readable(dataset, label)
    lines = [line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line)
             for line in dataset[()].tolist()]
    text = "\n".join(lines)
    if len(text) > MAX_DOCUMENT:
        raise BasinError(f"a basin document larger than {MAX_DOCUMENT} bytes", file=label,
                         hdf5_path=where)
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BasinError(f"not a JSON document ({exc})", file=label, hdf5_path=where) from None
    if not isinstance(body, dict):
        raise BasinError("expected a JSON object", file=label, hdf5_path=where)
    kind = body.get("type")
    paths = body.get("paths")
    features = body.get("features")
    mapping = body.get("mapping")
    if not isinstance(kind, str):
        raise BasinError("'type' must be text", file=label, hdf5_path=where)
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BasinError("'paths' must be a list of text", file=label, hdf5_path=where)
    if features is not None and (not isinstance(features, list)
                                 or not all(isinstance(f, str) for f in features)):
        raise BasinError("'features' must be a list of feature names", file=label,
                         hdf5_path=where)
    if mapping is not None and (not isinstance(mapping, str) or "/" in mapping):
        raise BasinError("'mapping' must name a feature of /events", file=label,
                         hdf5_path=where)
    name = body.get("name")
    identifier = body.get("identifier")
    return Basin(key=key, name=str(name) if name is not None else key, kind=kind,
                 paths=tuple(paths), features=tuple(features) if features is not None else None,
                 mapping=mapping, description=str(body.get("description") or ""),
                 identifier=identifier if isinstance(identifier, str) else None)


def locate(file_path: Path, paths: Sequence[str]) -> tuple[Path | None, list[str]]:
    """The first of a file basin's ``paths`` that may be followed and exists, resolved
    against the folder of ``file_path``; and, for each path not followed, why."""
    folder = file_path.resolve().parent
    reasons: list[str] = []
    for given in paths:
        candidate = Path(given)
        if "://" in given or candidate.is_absolute() or candidate.drive:
            reasons.append(f"{given!r} is not a path relative to the file's folder "
                           "(not followed)")
            continue
        try:
            resolved = (folder / candidate).resolve()
        except (OSError, RuntimeError, ValueError):
            reasons.append(f"{given!r} cannot be resolved")
            continue
        if not resolved.is_relative_to(folder):
            reasons.append(f"{given!r} leads outside the file's folder (not followed)")
        elif not resolved.exists():
            reasons.append(f"{given!r} does not exist")
        elif not resolved.is_file():
            reasons.append(f"{given!r} is not a regular file (not followed)")
        else:
            return resolved, reasons
    return None, reasons


def readable(dataset: Any, label: str) -> Any:
    """``dataset``, once the filters its data needs are known to be here (imported from
    ``hdf5plugin`` if need be); an ``H5ModelError`` naming the filter otherwise."""
    if isinstance(dataset, h5py.Dataset):
        check_filters(dataset.id.get_create_plist(), label, dataset.name or "")
    return dataset


def measurement_identifier(h5: h5py.File) -> str | None:
    """What identifies a measurement, as dcnum compares it with a basin's ``identifier``:
    ``experiment:run identifier``, or else a UUID from the MD5 of
    ``"<experiment:time>_<experiment:date>_<setup:identifier>"`` when all three are set."""
    given = h5.attrs.get("experiment:run identifier")
    if given:
        return given.decode() if isinstance(given, bytes) else str(given)
    parts = [h5.attrs.get(k) or None for k in ("experiment:time", "experiment:date",
                                                 "setup:identifier")]
    if any(p is None for p in parts):
        return None
    text = "_".join(p.decode() if isinstance(p, bytes) else str(p) for p in parts)
    return str(uuid.UUID(hex=hashlib.md5(text.encode("utf-8")).hexdigest()))


def identifier_problem(basin: Basin, other: h5py.File) -> str | None:
    """Why the file found for ``basin`` is not the measurement it names (None: it is, or
    the basin names none)."""
    if basin.identifier is None:
        return None
    found = measurement_identifier(other)
    if found == basin.identifier:
        return None
    return (f"basin {basin.name!r} names measurement {basin.identifier!r}, but "
            f"{Path(other.filename).name} is {found!r}")


def mapped_rows(index: np.ndarray, dataset: Any) -> np.ndarray:
    """Rows ``index`` (any order, repeats allowed) of ``dataset``, reading a contiguous
    slab where the rows lie close together and only the rows themselves otherwise."""
    index = np.asarray(index, dtype=np.int64)
    if index.size == 0:
        return np.empty((0, *dataset.shape[1:]), dtype=dataset.dtype)
    if index.min() < 0 or index.max() >= dataset.shape[0]:
        raise IndexError(f"rows {index.min()}..{index.max()} outside the basin's "
                         f"{dataset.shape[0]} rows")
    unique, inverse = np.unique(index, return_inverse=True)
    low, high = int(unique[0]), int(unique[-1]) + 1
    if high - low <= 4 * unique.size:
        slab = dataset[low:high]
        return np.asarray(np.asarray(slab)[unique - low][inverse])
    return np.asarray(dataset[unique.tolist()])[inverse]


class MappedFeature:
    """A basin feature seen through a mapping: row i is row ``mapping[i]`` of the basin's
    dataset. Nothing is read until sliced; a slice reads the mapping's rows it needs and
    the basin rows they name (``mapped_rows``)."""

    def __init__(self, dataset: Any, mapping: Any, name: str, keep: Sequence[Any] = ()) -> None:
        for held in (dataset, mapping):
            if isinstance(held, h5py.Dataset):
                readable(held, held.file.filename)
        self.dataset, self.mapping, self.name = dataset, mapping, name
        self._keep = tuple(keep)  # open files this view reads from

    @property
    def shape(self) -> tuple[int, ...]:
        rows = self.mapping.shape[0] if self.mapping is not None else self.dataset.shape[0]
        return (rows, *self.dataset.shape[1:])

    @property
    def dtype(self) -> np.dtype[Any]:
        found: np.dtype[Any] = np.dtype(self.dataset.dtype)
        return found

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if first is Ellipsis:
            first, rest = slice(None), (Ellipsis, *rest)
        if self.mapping is None:
            return self.dataset[(first, *rest)] if rest else self.dataset[first]
        scalar = isinstance(first, (int, np.integer))
        if isinstance(first, slice):
            rows = np.asarray(self.mapping[first])
        else:
            positions = np.atleast_1d(np.arange(len(self))[first])
            rows = mapped_rows(positions, self.mapping)
        data = mapped_rows(rows, self.dataset)
        if scalar:
            return data[0][rest] if rest else data[0]
        return data[(slice(None), *rest)] if rest else data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[:]
        return np.asarray(data, dtype=dtype) if dtype is not None else np.asarray(data)

    def __repr__(self) -> str:
        return f"<MappedFeature {self.name!r} shape={self.shape} dtype={self.dtype}>"


def mapping_range(dataset: Any, label: str) -> tuple[int, int] | None:
    """The smallest and largest row a mapping names (None: it is empty), read in blocks."""
    readable(dataset, label)
    low: int | None = None
    high: int | None = None
    for start in range(0, dataset.shape[0], BLOCK_ROWS):
        block = np.asarray(dataset[start:start + BLOCK_ROWS])
        if block.size:
            low = int(block.min()) if low is None else min(low, int(block.min()))
            high = int(block.max()) if high is None else max(high, int(block.max()))
    return None if low is None or high is None else (low, high)


def local_path(path: Any) -> Path | None:
    """The local file a label names (None for URLs and file objects)."""
    if isinstance(path, (str, os.PathLike)) and "://" not in str(path):
        return Path(path)
    return None
