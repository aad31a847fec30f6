"""Reading pynwb/hdmf-written files: every model agrees with what pynwb reads.

pynwb (or hdmf for the plain HDMF file) is the reference reader. Each test
opens the same file with both and compares them object by object, matched by
``object_id``, so the checks follow the content of the files rather than a
hand-picked list of paths.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hdmf.backends.hdf5 import HDF5IO
from hdmf.common import DynamicTable, DynamicTableRegion, VectorIndex
from hdmf.common import get_manager as get_hdmf_manager
from hdmf.container import AbstractContainer, Data
from hdmf.data_utils import DataIO
from nwbfiles import (
    ALL_FILE_NAMES,
    EXTENSION_NAMESPACE,
    EXTERNAL_LINK_PATH,
    EXTERNAL_TARGET_NAME,
    EXTERNAL_TARGET_PATH,
    EXTERNAL_VALUES,
    HDMF_ONLY,
    PIXEL_MASK_COUNTS,
    SOFTLINKS,
    SPIKE_COUNTS,
)
from pynwb import NWBHDF5IO
from pynwb.base import TimeSeries

import h5model
from h5model.nodes import Fixed

OLD_FILE_NAMES = ["old_ecephys", "old_ophys"]
FILE_NAMES = [*ALL_FILE_NAMES, *OLD_FILE_NAMES]
NWB_FILE_NAMES = [name for name in FILE_NAMES if name not in HDMF_ONLY]

ELECTRODES_PATH = "/general/extracellular_ephys/electrodes"

# Fields of a model that pynwb does not expose under the HDF5 name (or a derived
# name, see ``_candidate_names``), as (type name, field name) -> why.  A field
# listed here is not compared; every other field with a value must be found on
# the pynwb container and must agree.
NOT_EXPOSED_BY_PYNWB: dict[tuple[str, str], str] = {
    ("NWBFile", "nwb_version"): "pynwb keeps the version on the IO object, not on NWBFile",
    ("ElectricalSeries", "channel_conversion/axis"): "pynwb fixes the axis and drops it",
    **{
        (table, "description"): "pynwb replaces the stored description with its own constant"
        for table in (
            "IntracellularElectrodesTable",
            "IntracellularStimuliTable",
            "IntracellularResponsesTable",
        )
    },
}

# Minimum number of value comparisons per file, so the comparison test cannot pass
# by comparing nothing.  Set well below the counts observed for the current files.
MIN_COMPARISONS: dict[str, int] = {}


# ---------------------------------------------------------------------------
# opening each file once with both readers
# ---------------------------------------------------------------------------


@dataclass
class Pair:
    """One file opened by h5model and by the reference reader (pynwb, or hdmf)."""

    name: str
    path: Path
    model_file: h5model.File
    io: Any
    container: Any
    type_map: Any
    by_object_id: dict[str, Any] = field(default_factory=dict)

    def model_of(self, container: AbstractContainer) -> Any:
        return self.by_object_id.get(container.object_id)

    def containers(self) -> list[AbstractContainer]:
        """The root container and every container below it, each once."""
        out: dict[int, AbstractContainer] = {id(self.container): self.container}
        for child in self.container.all_children():
            out.setdefault(id(child), child)
        return list(out.values())


def _open_reference(name: str, path: Path) -> Any:
    if name in HDMF_ONLY:
        return HDF5IO(str(path), mode="r", manager=get_hdmf_manager())
    return NWBHDF5IO(str(path), mode="r")


class Pairs:
    """Opens each file on first use and keeps it open for the module."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files
        self.opened: dict[str, Pair] = {}

    def __getitem__(self, name: str) -> Pair:
        pair = self.opened.get(name)
        if pair is None:
            path = self.files[name]
            model_file = h5model.open(path)
            io = _open_reference(name, path)
            pair = Pair(name, path, model_file, io, io.read(), io.manager.type_map)
            self.opened[name] = pair
            for hdf5_path, model in model_file.models():
                if model.object_id is not None:
                    assert model.object_id not in pair.by_object_id, hdf5_path
                    pair.by_object_id[model.object_id] = model
        return pair

    def close(self) -> None:
        for pair in self.opened.values():
            pair.model_file.close()
            pair.io.close()
        self.opened.clear()


@pytest.fixture(scope="module")
def pairs(nwb_files: dict[str, Path]) -> Iterator[Pairs]:
    opened = Pairs(nwb_files)
    try:
        yield opened
    finally:
        opened.close()


# ---------------------------------------------------------------------------
# comparing values read by both
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A reference, by the identity of the model it leads to."""

    model_id: int
    label: str


class Comparer:
    """Turns values of both readers into comparable plain values."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair

    def model_side(self, value: Any) -> Any:
        if isinstance(value, h5model.Node):
            return Ref(id(value), str(value.hdf5_path))
        if isinstance(value, h5model.H5Array):
            return self.model_side(value.read())
        return self._plain(value, self.model_side)

    def reference_side(self, value: Any) -> Any:
        if isinstance(value, AbstractContainer):
            model = self.pair.model_of(value)
            if model is None:
                return Ref(-1, f"<no model with object_id {value.object_id}>")
            return Ref(id(model), str(model.hdf5_path))
        if isinstance(value, DataIO):
            return self.reference_side(value.data)
        if isinstance(value, h5py.Dataset) or hasattr(value, "dataset"):
            return self.reference_side(value[()] if value.shape == () else value[:])
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return tuple(self.reference_side(v) for v in value)
        return self._plain(value, self.reference_side)

    @staticmethod
    def _plain(value: Any, recurse: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, np.void):
            return tuple(recurse(v) for v in value.tolist())
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            if value.dtype.names:
                return [tuple(recurse(row[n]) for n in value.dtype.names) for row in value]
            if value.dtype.kind in "biufc" and value.ndim:
                return value
            return [recurse(v) for v in value] if value.ndim else recurse(value[()])
        if isinstance(value, (list, tuple)):
            return [recurse(v) for v in value]
        return value


def same(a: Any, b: Any) -> bool:
    """Equality of plain values: arrays by content, datetimes as datetimes, NaN == NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if isinstance(a, list) or isinstance(b, list):
            a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
            if a.shape != b.shape:
                return False
            return all(same(x, y) for x, y in zip(a.flat, b.flat, strict=True))
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (datetime, date)) or isinstance(b, (datetime, date)):
        return _as_datetime(a) == _as_datetime(b)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return bool(a == b)


def _as_datetime(value: Any) -> Any:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


# Untyped sub-objects whose fields pynwb flattens into the typed parent under the
# bare HDF5 name (``data/@unit`` -> ``TimeSeries.unit``, ``general/experimenter``
# -> ``NWBFile.experimenter``).  Other sub-objects are only looked up under the
# prefixed names (``origin_coords/@unit`` -> ``origin_coords_unit``).
FLATTENED_BARE = frozenset({"data", "starting_time", "timestamps", "general", "intervals"})


def _candidate_names(prefix: tuple[str, ...], name: str) -> list[str]:
    """pynwb attribute names that may hold the HDF5 field ``prefix/name``.

    pynwb flattens untyped sub-objects into their typed parent: ``data/@unit`` is
    ``TimeSeries.unit``, ``starting_time/@unit`` is ``starting_time_unit``,
    ``general/source_script/@file_name`` is ``source_script_file_name`` and
    ``age/@reference`` is ``age__reference``.
    """
    if not prefix:
        return [name]
    last = prefix[-1]
    names = [f"{last}_{name}", f"{last}__{name}"]
    if prefix[0] in FLATTENED_BARE:
        names.append(name)
    return names


def _category(name: str) -> Any:
    return lambda container: container.category_tables[name]


# Fields pynwb exposes under another name: (type name, HDF5 path below the typed
# object) -> how to get the pynwb value from the container.
RENAMED: dict[tuple[str, str], Any] = {
    ("NWBFile", "general/stimulus"): lambda c: c.stimulus_notes,
    **{
        ("NWBFile", f"general/intracellular_ephys/{table}"): (
            lambda c, table=table: getattr(c, f"icephys_{table}")
        )
        for table in (
            "simultaneous_recordings",
            "sequential_recordings",
            "repetitions",
            "experimental_conditions",
        )
    },
    **{
        ("IntracellularRecordingsTable", name): _category(name)
        for name in ("electrodes", "stimuli", "responses")
    },
}

# Types pynwb upgrades on read: (type in the file, type pynwb reports).  The model
# must keep the file's type.
UPGRADED_BY_PYNWB: frozenset[tuple[tuple[str, str], tuple[str, str]]] = frozenset(
    {(("hdmf-common", "DynamicTable"), ("core", "ElectrodesTable"))}
)

_MISSING = object()


def _pynwb_value(container: Any, names: list[str]) -> tuple[str | None, Any]:
    for name in names:
        try:
            value = getattr(container, name)
        except AttributeError:
            continue
        return name, value
    return None, _MISSING


def _fixed_value(model: Any, field_name: str) -> Any:
    """The value the spec fixes for a field (``value:``), if it fixes one."""
    info = type(model).model_fields.get(field_name)
    for item in getattr(info, "metadata", ()):
        if isinstance(item, Fixed):
            return item.value
    return _MISSING


@dataclass
class Comparison:
    count: int = 0
    absent: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: set[tuple[str, str]] = field(default_factory=set)
    fixed: set[tuple[str, str]] = field(default_factory=set)

    def check(self, got: Any, want: Any, message: str) -> None:
        self.count += 1
        if not same(got, want):
            self.problems.append(f"{message}: model {_short(got)} != {_short(want)}")


def _file_type(pair: Pair, model: Any) -> tuple[str, str] | None:
    attrs = pair.model_file.h5[model.hdf5_path].attrs
    type_name = attrs.get("neurodata_type", attrs.get("data_type"))
    if type_name is None:
        return None
    return str(attrs["namespace"]), str(type_name)


def compare_container(pair: Pair, container: AbstractContainer, result: Comparison) -> None:
    model = pair.model_of(container)
    where = f"{pair.name}: {type(container).__name__} {container.name!r}"
    if model is None:
        result.problems.append(f"{where}: no model with object_id {container.object_id}")
        return
    read_type = tuple(pair.type_map.get_container_ns_dt(container))
    model_type = type(model).h5_type
    result.count += 1
    if model_type != read_type and not (
        (model_type, read_type) in UPGRADED_BY_PYNWB and _file_type(pair, model) == model_type
    ):
        result.problems.append(
            f"{where}: model {type(model).__name__} has type {model_type}, pynwb reads {read_type}"
        )
    if type(model).type_name() != model_type[1]:
        result.problems.append(f"{where}: type_name() disagrees with h5_type")
    compare_fields(pair, container, model, read_type[1], (), result, where)


def compare_fields(
    pair: Pair,
    container: Any,
    model: Any,
    type_name: str,
    prefix: tuple[str, ...],
    result: Comparison,
    where: str,
) -> None:
    """Compare every attribute, unwrapped dataset and value field of ``model``.

    Named untyped sub-objects are compared recursively against the same container;
    named typed objects and links are compared by identity.
    """
    comparer = Comparer(pair)
    for field_name, spec in type(model).h5_fields.items():
        if spec.role == "children":
            continue
        hdf5_name = spec.name or field_name
        label = "/".join([*prefix, hdf5_name])
        if field_name not in model.model_fields_set:
            # not in the file: the model must not have missed anything that is
            if spec.role == "attribute":
                assert hdf5_name not in model.attrs, f"{where}: {label} present but unset"
            elif spec.role != "value":
                assert hdf5_name not in model.children, f"{where}: {label} present but unset"
            result.absent += 1
            continue
        value = getattr(model, field_name)
        if isinstance(value, h5model.ExternalLink):
            value = value.resolve()
        if (
            spec.role in ("dataset", "group")
            and not spec.unwrap
            and isinstance(value, h5model.Node)
            and type(value).type_name() is None
        ):
            # an untyped sub-object: pynwb flattens its fields into the container
            compare_fields(pair, container, value, type_name, (*prefix, hdf5_name), result, where)
            continue
        key = (type_name, label)
        message = f"{where}: {label}"
        if key in NOT_EXPOSED_BY_PYNWB:
            result.skipped.add(key)
            result.check(comparer.model_side(value), _raw_value(pair, model, spec), message)
            continue
        if key in RENAMED:
            found: str | None = "renamed"
            expected = RENAMED[key](container)
        else:
            names = [prefix[-1] if prefix else "data"] if spec.role == "value" else (
                _candidate_names(prefix, hdf5_name)
            )
            found, expected = _pynwb_value(container, names)
        if found is None:
            fixed = _fixed_value(model, field_name)
            if fixed is _MISSING:
                result.problems.append(f"{message}: pynwb exposes no field for it")
            else:
                result.fixed.add(key)
                result.check(comparer.model_side(value), fixed, f"{message} (fixed value)")
            continue
        if spec.role == "value" and prefix and isinstance(expected, TimeSeries):
            # linked data/timestamps: pynwb gives the series they are linked from
            expected = getattr(expected, prefix[-1])
        result.check(
            comparer.model_side(value), comparer.reference_side(expected), f"{message} ({found})"
        )


def _raw_value(pair: Pair, model: Any, spec: Any) -> Any:
    """The field's value as h5py reads it (for fields pynwb does not expose)."""
    obj = pair.model_file.h5[model.hdf5_path]
    if spec.role == "attribute":
        raw = obj.attrs[spec.name]
    else:
        raw = obj[spec.name][()] if spec.name else obj[()]
    return Comparer._plain(raw, lambda v: Comparer._plain(v, lambda w: w))


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) < 160 else text[:160] + "..."


def _empty(value: Any) -> bool:
    try:
        return len(value) == 0
    except TypeError:
        return False


# ---------------------------------------------------------------------------
# 1. every file opens
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILE_NAMES)
def test_file_opens(nwb_files: dict[str, Path], name: str) -> None:
    with h5model.open(nwb_files[name]) as f:
        expected_root = "SimpleMultiContainer" if name in HDMF_ONLY else "NWBFile"
        assert type(f.root).type_name() == expected_root
        assert f.root.hdf5_path == "/"
        assert f.get("/") is f.root
        paths = [path for path, _ in f.models()]
        assert len(paths) == len(set(paths)) > 10
        for path, model in f.models():
            assert model.hdf5_path == path
            assert f.get(path) is model


# ---------------------------------------------------------------------------
# 2. every typed object agrees with pynwb
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILE_NAMES)
def test_typed_objects_match_pynwb(pairs: Pairs, name: str) -> None:
    pair = pairs[name]
    containers = pair.containers()
    result = Comparison()
    for container in containers:
        compare_container(pair, container, result)
    assert not result.problems, "\n".join(result.problems)

    # the other way round: every object with an object_id is one pynwb reads
    read_ids = {c.object_id for c in containers}
    unread = sorted(m.hdf5_path for oid, m in pair.by_object_id.items() if oid not in read_ids)
    assert not unread, f"models pynwb does not read: {unread}"
    assert len(pair.by_object_id) == len(containers)

    # every fields the spec fixes but pynwb does not expose is listed as fixed, and
    # the skips are exactly the expected ones for this file
    assert result.skipped <= set(NOT_EXPOSED_BY_PYNWB)
    assert result.count >= MIN_COMPARISONS[name], (
        f"only {result.count} comparisons for {name} ({len(containers)} containers)"
    )
