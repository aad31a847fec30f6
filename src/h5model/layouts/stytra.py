"""stytra sessions: the metadata document (``<session>_metadata.json``) and the logs kept as
a typed group in an HDF5 file, in and out without loss.

stytra's ``DataCollector`` writes one JSON document per session (``json.dump`` with sorted
keys): top-level categories (``general``, ``animal``, ``stimulus``, ``imaging``,
``behavior``, ``camera``, and others its parameter tree holds, such as ``gui``), nested
mappings under them (``animal/screening/age``), and values that are numbers, text,
booleans, lists, nulls and datetimes (written as ``isoformat()`` text); the stimulus log
is a list of mappings. Its logs (``behavior_log``, ``stimulus_log``, ``estimator_log``)
are tables saved beside it, by default as CSV with ``;`` and the row index first.

In the file (layout ``stytra``): ``/metadata`` holds the document, a group per mapping
and a dataset per value (int64, float64, bool, UTF-8 text; a rectangular list as an array
of one of those); text that ``isoformat()`` spells exactly is a ``Timestamp``
(``format="isoformat"``), a null a ``NullValue`` (empty text, ``json="null"``), a list of
mappings a ``Records`` group of items ``0``, ``1``, ... (``list_of="mappings"``).
``/logs/<name>`` holds a log's columns, their order in ``column_order``.

What the layout cannot hold is refused with the key path, never stored approximately: a
mapping in a list of other values, a list mixing kinds (``[1, 2.5]``, ``[1, "a"]``), a
ragged list, a null in a list, an integer outside int64, a key that is no HDF5 name. With
``allow_nan=False`` export refuses non-finite numbers, which standard JSON cannot hold
(stytra itself writes them as ``NaN``/``Infinity``, as ``json.dump`` does by default).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.storage.replace import create_whole
from h5model.validation.run import validate

LAYOUT = "stytra"
CATEGORIES = ("general", "animal", "stimulus", "imaging", "behavior", "camera")
"""The categories stytra sorts its metadata into; the first three are always written."""
METADATA = "metadata"
LOGS = "logs"
_INT64 = (-(2**63), 2**63 - 1)
MAX_DEPTH = 64
"""The deepest nesting of mappings imported (deeper is refused, never recursed into)."""
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d)?\Z")
_TEXT = h5py.string_dtype("utf-8")

PathLike = str | os.PathLike[str]


class StytraError(H5ModelError):
    """A document, log or file stytra's layout cannot hold or give back as it was."""

    rule = "stytra.value"


# -- import -----------------------------------------------------------------------------------
def import_session(document: PathLike | Mapping[str, Any], destination: PathLike, *,
                   logs: Mapping[str, PathLike] | None = None) -> Path:
    """Write a new file at ``destination`` holding stytra's metadata ``document`` (its
    JSON file, or the mapping) and the ``logs`` given (name -> stytra's CSV). Refuses an
    existing destination and anything the layout cannot hold (naming the key path); the
    file appears whole or not at all."""
    target = Path(destination)
    label = str(document) if not isinstance(document, Mapping) else str(target)
    if isinstance(document, Mapping):
        body: Any = document
    else:
        with open(document, encoding="utf-8") as handle:
            body = json.load(handle)
    if not isinstance(body, dict):
        raise StytraError("expected a mapping of categories at the top of the document",
                          file=label)
    tables = {name: _read_log(Path(path), name) for name, path in (logs or {}).items()}
    _refuse_existing(target)

    def fill(h5: h5py.File) -> None:
        _store_mapping(h5.create_group(METADATA), body, "", label)
        if tables:
            held = h5.create_group(LOGS)
            for name, (columns, table) in tables.items():
                _store_log(held, name, columns, table, label)

    _write_new(target, fill)
    return target


def _store_mapping(group: h5py.Group, mapping: Mapping[Any, Any], where: str,
                   label: str) -> None:
    if where.count("/") >= MAX_DEPTH:
        raise StytraError(f"key path {where!r}: mappings nested more than {MAX_DEPTH} deep",
                          file=label, hdf5_path=_hdf5(where))
    for key, value in mapping.items():
        at = f"{where}/{key}" if where else str(key)
        _check_key(key, at, label)
        _store(group, key, value, at, label)


def _store(group: h5py.Group, key: str, value: Any, at: str, label: str) -> None:
    if isinstance(value, Mapping):
        _store_mapping(group.create_group(key), value, at, label)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        records = group.create_group(key)
        records.attrs["list_of"] = "mappings"
        for i, item in enumerate(value):
            _store_mapping(records.create_group(str(i)), item, f"{at}/{i}", label)
    elif value is None:
        group.create_dataset(key, data="", dtype=_TEXT).attrs["json"] = "null"
    elif isinstance(value, str) and _is_timestamp(value):
        group.create_dataset(key, data=value, dtype=_TEXT).attrs["format"] = "isoformat"
    else:
        data, dtype = _array(value, at, label)
        group.create_dataset(key, data=data, dtype=dtype)


def _check_key(key: Any, at: str, label: str) -> None:
    if not isinstance(key, str) or not key or "/" in key or key == "." or "\0" in key:
        raise StytraError(f"key path {at!r}: the key {key!r} cannot name an HDF5 object "
                          "(empty, '.', or holding '/')", file=label, hdf5_path=_hdf5(at))


def _hdf5(at: str) -> str:
    """The HDF5 path of a key path of the document (a path already absolute as it is)."""
    return at if at.startswith("/") else f"/{METADATA}/{at}"


def _is_timestamp(text: str) -> bool:
    """Text that ``datetime.isoformat()`` spells exactly (so it reads back the same)."""
    if not _ISO.match(text):
        return False
    try:
        return dt.datetime.fromisoformat(text).isoformat(sep=text[10]) == text
    except ValueError:
        return False


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "text"
    return None


def _array(value: Any, at: str, label: str) -> tuple[Any, Any]:
    """A value or a rectangular list of one kind, as data and dtype for h5py."""
    shape: list[int] = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    kinds: set[str] = set()
    for index, leaf in _leaves(value, shape, (), at, label):
        kind = _kind(leaf)
        if kind is None:
            what = ("a mapping" if isinstance(leaf, Mapping) else "a null" if leaf is None
                    else f"a {type(leaf).__name__}")
            place = f"{at}{''.join(f'[{i}]' for i in index)}"
            raise StytraError(f"key path {place!r}: {what} cannot be stored "
                              + ("in a list of other values" if index else "as a value"),
                              file=label, hdf5_path=_hdf5(at))
        if kind == "int" and not _INT64[0] <= leaf <= _INT64[1]:
            raise StytraError(f"key path {at!r}: the integer {leaf} does not fit in int64",
                              file=label, hdf5_path=_hdf5(at))
        if kind == "text" and not _storable_text(leaf):
            raise StytraError(f"key path {at!r}: text holding a NUL character or a lone "
                              "surrogate cannot be stored as HDF5 text", file=label,
                              hdf5_path=_hdf5(at))
        kinds.add(kind)
    if len(kinds) > 1:
        raise StytraError(f"key path {at!r}: a list mixing {' and '.join(sorted(kinds))} "
                          "values cannot be stored without changing some of them",
                          file=label, hdf5_path=_hdf5(at))
    kind = kinds.pop() if kinds else "float"
    dtype = {"bool": np.bool_, "int": np.int64, "float": np.float64, "text": _TEXT}[kind]
    if kind == "text":
        return np.array(value, dtype=object).reshape(shape), dtype
    return np.array(value, dtype=dtype).reshape(shape), dtype


def _storable_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\0" not in text


def _leaves(value: Any, shape: list[int], index: tuple[int, ...], at: str,
            label: str) -> Iterator[tuple[tuple[int, ...], Any]]:
    depth = len(index)
    if depth == len(shape) and not isinstance(value, list):
        yield index, value
        return
    if depth == len(shape) or not isinstance(value, list) or len(value) != shape[depth]:
        raise StytraError(f"key path {at!r}: a ragged list (items of different lengths or "
                          "nesting) cannot be stored as an array", file=label, hdf5_path=_hdf5(at))
    for i, item in enumerate(value):
        yield from _leaves(item, shape, (*index, i), at, label)


# -- logs -------------------------------------------------------------------------------------
def _read_log(path: Path, name: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """A log as stytra saves it (``DataFrame.to_csv(sep=";")``: the row index first, a
    column per quantity; an empty field is NaN)."""
    label = str(path)
    _check_key(name, f"/{LOGS}/{name}", label)
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    if not rows:
        raise StytraError("an empty log: expected a header row", file=label)
    header = rows[0][1:]
    values: list[list[float]] = [[] for _ in header]
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header) + 1:
            raise StytraError(f"line {number}: {len(row)} fields, expected {len(header) + 1}",
                              file=label)
        for column, field in enumerate(row[1:]):
            try:
                values[column].append(float(field) if field else math.nan)
            except ValueError:
                raise StytraError(f"line {number}, column {header[column]!r}: {field!r} is "
                                  "not a number", file=label) from None
    for title in header:
        _check_key(title, f"/{LOGS}/{name}/{title}", label)
    if len(set(header)) != len(header):
        raise StytraError("a column name appears twice in the header", file=label)
    return header, {c: np.asarray(v, dtype=np.float64) for c, v in zip(header, values,
                                                                          strict=True)}


def _store_log(held: h5py.Group, name: str, columns: list[str],
               table: dict[str, np.ndarray], label: str) -> None:
    group = held.create_group(name)
    group.attrs["column_order"] = np.array(columns, dtype=object)
    for column in columns:
        group.create_dataset(column, data=table[column])


def write_log(source: PathLike, name: str, destination: PathLike) -> Path:
    """Write log ``name`` of a session file as stytra's CSV (``;``, the row index first,
    NaN as an empty field); refuses an existing destination."""
    target = Path(destination)
    _refuse_existing(target)
    path = Path(source)
    _check_valid(path)
    with h5py.File(path, "r") as h5:
        group = h5.get(f"{LOGS}/{name}")
        if not isinstance(group, h5py.Group):
            raise StytraError(f"no log {name!r}", file=str(path), hdf5_path=f"/{LOGS}")
        columns = [_text(c) for c in group.attrs["column_order"]]
        data = [group[c][()] for c in columns]
    rows = len(data[0]) if data else 0
    with open(target, "x", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, delimiter=";", lineterminator="\n")
        out.writerow(["", *columns])
        for i in range(rows):
            out.writerow([i, *("" if math.isnan(v) else repr(float(v)) for v in
                               (column[i] for column in data))])
    return target


# -- export -----------------------------------------------------------------------------------
def read_document(source: PathLike, *, allow_nan: bool = True) -> dict[str, Any]:
    """The metadata document a session file holds, as stytra wrote it. The file is
    validated against the layout first (strictly: an object no type binds is refused).
    ``allow_nan=False``: a non-finite number is refused with its key path."""
    path = Path(source)
    _check_valid(path)
    with h5py.File(path, "r") as h5:
        document = _mapping(h5[METADATA], "", str(path))
    if not allow_nan:
        _finite(document, "", str(path))
    return document


def export_session(source: PathLike, destination: PathLike, *,
                   allow_nan: bool = True) -> Path:
    """Write the metadata document of a session file as stytra writes it (``json.dump``,
    sorted keys); refuses an existing destination. See ``read_document``."""
    target = Path(destination)
    _refuse_existing(target)
    document = read_document(source, allow_nan=allow_nan)
    with open(target, "x", encoding="utf-8") as handle:
        json.dump(document, handle, sort_keys=True, allow_nan=allow_nan)
    return target


def log_names(source: PathLike) -> list[str]:
    """The logs a session file holds."""
    with h5py.File(source, "r") as h5:
        held = h5.get(LOGS)
        return sorted(held) if isinstance(held, h5py.Group) else []


def _check_valid(path: Path) -> None:
    report = validate(path, layout=LAYOUT, strict=True)
    errors = report.files[0].errors()
    if errors:
        raise StytraError(f"not a valid stytra session file: {errors[0].message} "
                          f"({errors[0].rule})", file=str(path), hdf5_path=errors[0].hdf5_path)


def _mapping(group: h5py.Group, where: str, label: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in group.items():
        at = f"{where}/{key}" if where else key
        if isinstance(item, h5py.Group):
            if _text(item.attrs.get("list_of", "")) == "mappings":
                out[key] = _records(item, at, label)
            else:
                out[key] = _mapping(item, at, label)
        else:
            out[key] = _value(item)
    return out


def _records(group: h5py.Group, at: str, label: str) -> list[dict[str, Any]]:
    names = sorted(group, key=lambda n: int(n) if n.isdigit() else -1)
    if names != [str(i) for i in range(len(names))]:
        raise StytraError(f"key path {at!r}: the items of a list must be named 0, 1, ... "
                          f"without gaps, found {names[:5]}", file=label, hdf5_path=_hdf5(at))
    return [_mapping(group[n], f"{at}/{n}", label) for n in names]


def _value(dataset: h5py.Dataset) -> Any:
    if _text(dataset.attrs.get("json", "")) == "null":
        return None
    if h5py.check_string_dtype(dataset.dtype) is not None:
        data = dataset.asstr()[()]
        return data.tolist() if isinstance(data, np.ndarray) else data
    data = dataset[()]
    if isinstance(data, np.ndarray):
        return data.tolist()
    return data.item()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _finite(value: Any, at: str, label: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise StytraError(f"key path {at!r}: {value} is not a number standard JSON can hold",
                          file=label, hdf5_path=f"/{METADATA}/{at}")
    items: Any = (value.items() if isinstance(value, dict)
                  else enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        _finite(item, f"{at}/{key}" if at else str(key), label)


# -- files appear whole -----------------------------------------------------------------------
def _refuse_existing(target: Path) -> None:
    if target.exists():
        raise StytraError("refusing to overwrite an existing file", file=str(target))


def _write_new(target: Path, fill: Callable[[h5py.File], None]) -> None:
    def write(partial: Path) -> None:
        with h5py.File(partial, "w") as h5:
            fill(h5)

    create_whole(target, write, StytraError)
