"""Reading pynwb/hdmf-written files: every model agrees with what pynwb reads.

pynwb (or hdmf for the plain HDMF file) is the reference reader. Each test
opens the same file with both and compares them object by object, matched by
``object_id``, so the checks follow the content of the files rather than a
hand-picked list of paths.
"""

from __future__ import annotations

import math
import shutil
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
from hdmf.container import AbstractContainer
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
from h5model.models.compound import CompoundRow
from h5model.models.constraints import Fixed

OLD_FILE_NAMES = ["old_ecephys", "old_ophys"]
FILE_NAMES = [*ALL_FILE_NAMES, *OLD_FILE_NAMES]
NWB_FILE_NAMES = [name for name in FILE_NAMES if name not in HDMF_ONLY]

ELECTRODES_PATH = "/general/extracellular_ephys/electrodes"

# Files with soft links (devices of electrode groups, imaging planes, ... and the
# softlinks file itself).
FILES_WITH_SOFT_LINKS = frozenset(
    {
        "ecephys",
        "icephys",
        "ophys",
        "ogen",
        "misc",
        "softlinks",
        "extension",
        "old_ecephys",
        "old_ophys",
    }
)

# Files with datasets of object references (electrode group columns, image
# references, TimeSeriesReference columns).
FILES_WITH_REFERENCE_DATASETS = frozenset(
    {"ecephys", "icephys", "misc", "extension", "old_ecephys"}
)

# Fields pynwb does not expose (or exposes with other content) although the file
# holds them: (type name, HDF5 path below the typed object) -> why.  These are
# compared with what h5py reads instead.  Every other field the file holds must be
# found on the pynwb container (see ``_candidate_names`` and ``RENAMED``), or be a
# value the spec fixes, and must agree.
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

# Minimum number of comparisons per file (one per container for its type, one per
# field value), so the comparison test cannot pass by comparing nothing.  About 90%
# of the counts for the files the builders write today.
MIN_COMPARISONS: dict[str, int] = {
    "ecephys": 145,
    "icephys": 180,
    "ophys": 90,
    "behavior": 85,
    "ogen": 22,
    "misc": 190,
    "softlinks": 45,
    "external": 16,
    "extension": 46,
    "hdmf_table": 40,
    "minimal": 16,
    "old_ecephys": 85,
    "old_ophys": 72,
}


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
        if isinstance(value, CompoundRow):  # a compound element: its fields in order
            return tuple(self.model_side(v) for v in value)
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
        if isinstance(value, dict):
            return {k: recurse(v) for k, v in value.items()}
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
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
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
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
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
    # what Units adds to its columns (typed fields of Units__waveforms etc.): pynwb keeps
    # them on the Units container
    ("VectorData", "sampling_rate"): lambda c: c.parent.waveform_rate,
    ("VectorData", "unit"): lambda c: c.parent.waveform_unit,
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
    used: set[Any] = field(default_factory=set)
    """Entries of NOT_EXPOSED_BY_PYNWB, RENAMED and UPGRADED_BY_PYNWB that applied."""
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
    if model_type != read_type:
        if (model_type, read_type) in UPGRADED_BY_PYNWB and _file_type(pair, model) == model_type:
            result.used.add((model_type, read_type))
        else:
            result.problems.append(
                f"{where}: model {type(model).__name__} has type {model_type}, "
                f"pynwb reads {read_type}"
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
            held = model.attrs if spec.role == "attribute" else getattr(model, "children", {})
            if hdf5_name in held:
                result.problems.append(f"{where}: {label} is in the file but the field is unset")
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
            result.used.add(key)
            result.check(comparer.model_side(value), _raw_value(pair, model, spec), message)
            continue
        if key in RENAMED:
            result.used.add(key)
            found: str | None = "renamed"
            expected = RENAMED[key](container)
        else:
            names = (
                [prefix[-1] if prefix else "data"]
                if spec.role == "value"
                else (_candidate_names(prefix, hdf5_name))
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

    def plain(value: Any) -> Any:
        return Comparer._plain(value, plain)

    return plain(raw)


def _short(value: Any) -> str:
    text = repr(value).replace("\n", " ")
    return text if len(text) < 160 else text[:160] + "..."


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

    assert result.count >= max(MIN_COMPARISONS[name], 3 * len(containers)), (
        f"only {result.count} comparisons for {name} ({len(containers)} containers)"
    )


def test_mapping_exceptions_are_all_needed(pairs: Pairs) -> None:
    """Every entry of the exception lists above applies to at least one file."""
    used: set[Any] = set()
    for name in FILE_NAMES:
        pair = pairs[name]
        result = Comparison()
        for container in pair.containers():
            compare_container(pair, container, result)
        used |= result.used
    listed = {*NOT_EXPOSED_BY_PYNWB, *RENAMED, *UPGRADED_BY_PYNWB}
    assert listed - used == set()


# ---------------------------------------------------------------------------
# 3. array datasets of every TimeSeries
# ---------------------------------------------------------------------------


def _series_array(model: Any, field_name: str) -> Any:
    """The H5Array of a series' ``data`` or ``timestamps`` (following an external link)."""
    sub = getattr(model, field_name)
    if isinstance(sub, h5model.ExternalLink):
        sub = sub.resolve()
    assert isinstance(sub, h5model.Dataset), f"{model.hdf5_path}: {field_name} is {sub!r}"
    return sub.value


def _pynwb_series_array(series: TimeSeries, field_name: str) -> Any:
    value = getattr(series, field_name)
    if isinstance(value, TimeSeries):  # linked from another series
        value = getattr(value, field_name)
    return value


@pytest.mark.parametrize("name", NWB_FILE_NAMES)
def test_timeseries_arrays_match_pynwb(pairs: Pairs, name: str) -> None:
    pair = pairs[name]
    comparer = Comparer(pair)
    series_list = [c for c in pair.containers() if isinstance(c, TimeSeries)]
    assert series_list
    compared = 0
    for series in series_list:
        model = pair.model_of(series)
        for field_name in ("data", "timestamps"):
            expected = _pynwb_series_array(series, field_name)
            if expected is None:
                assert getattr(model, field_name) is None, (model.hdf5_path, field_name)
                continue
            array = _series_array(model, field_name)
            where = f"{model.hdf5_path}/{field_name}"
            assert isinstance(array, h5model.H5Array), where
            assert array.shape == expected.shape, where
            assert array.dtype == expected.dtype, where
            assert len(array) == len(expected), where
            full = np.asarray(array[()])
            assert full.shape == expected.shape, where
            assert same(comparer.model_side(full), comparer.reference_side(expected[:])), where
            assert same(comparer.model_side(array.read()), comparer.reference_side(expected)), where
            # a slice reads just that part
            assert same(comparer.model_side(array[1:3]), comparer.reference_side(expected[1:3])), (
                where
            )
            compared += 1
    assert compared >= len(series_list)


@pytest.mark.parametrize("name", FILE_NAMES)
def test_shape_and_dtype_known_without_reading(nwb_files: dict[str, Path], name: str) -> None:
    """Shape and dtype of every lazy array stay available once the file is closed."""
    path = nwb_files[name]
    f = h5model.open(path)
    arrays = {
        p: m.value for p, m in f.models() if isinstance(getattr(m, "value", None), h5model.H5Array)
    }
    f.close()
    assert arrays
    with h5py.File(path, "r") as h5:
        for hdf5_path, array in arrays.items():
            dataset = h5[hdf5_path]
            assert array.shape == dataset.shape, hdf5_path
            assert array.dtype == dataset.dtype, hdf5_path
            assert array.ndim == dataset.ndim, hdf5_path
            assert array.size == dataset.size, hdf5_path
    # the file is closed: reading is refused with an error naming the dataset,
    # so the above came from no read
    array = next(iter(arrays.values()))
    with pytest.raises(h5model.H5ModelError, match="closed") as info:
        array[()]
    assert array.hdf5_path in str(info.value)


# ---------------------------------------------------------------------------
# 4. soft links lead to the target model itself
# ---------------------------------------------------------------------------


def _h5_links(h5: h5py.File) -> Iterator[tuple[str, str, Any]]:
    """(parent path, name, link) for every link of every group reached by hard links."""
    groups = [h5["/"]]
    seen: set[int] = set()
    while groups:
        group = groups.pop()
        address = h5py.h5o.get_info(group.id).addr
        if address in seen:
            continue
        seen.add(address)
        for name in group:
            link = group.get(name, getlink=True)
            yield group.name, name, link
            if isinstance(link, h5py.HardLink) and isinstance(group[name], h5py.Group):
                groups.append(group[name])


def _join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


@pytest.mark.parametrize("name", FILE_NAMES)
def test_soft_links_lead_to_target_model(nwb_files: dict[str, Path], name: str) -> None:
    with h5model.open(nwb_files[name]) as f:
        links = [
            (parent, child, link)
            for parent, child, link in _h5_links(f.h5)
            if isinstance(link, h5py.SoftLink)
        ]
        for parent, child, link in links:
            target = f.get(link.path)
            assert f.get(_join(parent, child)) is target
            parent_model = f.get(parent)
            assert parent_model.children[child] is target
            assert parent_model[child] is target
            for field_name, spec in type(parent_model).h5_fields.items():
                if spec.name == child:
                    value = getattr(parent_model, field_name)
                    assert value is (target.value if spec.unwrap else target)
        if name in FILES_WITH_SOFT_LINKS:
            assert links


def test_softlinks_file_shares_models(pairs: Pairs) -> None:
    pair = pairs["softlinks"]
    f = pair.model_file
    for link_path, target_path in SOFTLINKS.items():
        assert f.get(link_path) is f.get(target_path)
        assert f.get(link_path).hdf5_path == target_path
    acquisition = f.root.acquisition
    leader_t = acquisition["leader_timestamps"]
    follower_t = acquisition["follower_timestamps"]
    assert follower_t.timestamps is leader_t.timestamps
    assert follower_t.children["timestamps"] is leader_t.timestamps
    leader_d = acquisition["leader_data"]
    follower_d = acquisition["follower_data"]
    assert follower_d.data is leader_d.data
    assert follower_d.data.hdf5_path == "/acquisition/leader_data/data"
    # the follower keeps its own attributes
    assert follower_d.starting_time.value == 10.0
    assert leader_d.starting_time.value == 0.0
    nwbfile = pair.container
    assert np.array_equal(
        follower_t.timestamps.value.read(), nwbfile.acquisition["leader_timestamps"].timestamps[:]
    )
    assert np.array_equal(follower_d.data.value.read(), nwbfile.acquisition["leader_data"].data[:])


# ---------------------------------------------------------------------------
# 5. references resolve to the target model itself
# ---------------------------------------------------------------------------


def _deref(f: h5model.File, ref: Any) -> Any:
    return f.get(f.h5[ref].name)


def _is_ref(value: Any) -> bool:
    return isinstance(value, h5py.Reference) and bool(value)


@pytest.mark.parametrize("name", FILE_NAMES)
def test_attribute_references_resolve_to_models(nwb_files: dict[str, Path], name: str) -> None:
    with h5model.open(nwb_files[name]) as f:
        checked = 0
        for path, model in f.models():
            for attr_name, raw in f.h5[path].attrs.items():
                if _is_ref(raw):
                    target = _deref(f, raw)
                    assert model.attrs[attr_name] is target, (path, attr_name)
                    fields = [
                        fn
                        for fn, spec in type(model).h5_fields.items()
                        if spec.role == "attribute" and spec.name == attr_name
                    ]
                    for field_name in fields:
                        assert getattr(model, field_name) is target, (path, field_name)
                    checked += 1
                elif (
                    isinstance(raw, np.ndarray)
                    and raw.dtype == object
                    and raw.size
                    and (all(_is_ref(v) for v in raw.flat))
                ):
                    got = model.attrs[attr_name]
                    for index, ref in np.ndenumerate(raw):
                        assert got[index] is _deref(f, ref), (path, attr_name, index)
                    checked += 1
        tables = [
            m for _, m in f.models() if type(m).type_name() in ("VectorIndex", "DynamicTableRegion")
        ]
        assert checked >= len(tables)


@pytest.mark.parametrize("name", FILE_NAMES)
def test_dataset_references_resolve_to_models(nwb_files: dict[str, Path], name: str) -> None:
    with h5model.open(nwb_files[name]) as f:
        checked = 0
        for path, model in f.models():
            array = getattr(model, "value", None)
            if not isinstance(array, h5model.H5Array):
                continue
            dtype = f.h5[path].dtype
            raw = f.h5[path][()]
            if h5py.check_ref_dtype(dtype) is not None:
                got = np.asarray(array[()], dtype=object)
                assert got.shape == raw.shape, path
                for index, ref in np.ndenumerate(raw):
                    assert got[index] is (_deref(f, ref) if ref else None), (path, index)
            elif dtype.names and any(
                h5py.check_ref_dtype(dtype[n]) is not None for n in dtype.names
            ):
                got = array[()]
                assert got.dtype.names == dtype.names, path
                assert got.shape == raw.shape, path
                for column in dtype.names:
                    if h5py.check_ref_dtype(dtype[column]) is None:
                        assert np.array_equal(got[column], raw[column]), (path, column)
                        continue
                    for index, ref in np.ndenumerate(raw[column]):
                        assert got[column][index] is (_deref(f, ref) if ref else None), (
                            path,
                            column,
                            index,
                        )
                # one row alone reads the same
                row = array[0]
                for column in dtype.names:
                    if h5py.check_ref_dtype(dtype[column]) is not None:
                        assert row[column] is got[column][0], (path, column)
            else:
                continue
            checked += 1
        if name in FILES_WITH_REFERENCE_DATASETS:
            assert checked


def _expect_identity(f: h5model.File, value: Any, target_path: str) -> None:
    target = f.get(target_path)
    assert value is target, f"{value!r} is not the model at {target_path}"


def test_references_in_ecephys(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        electrodes = f.get(ELECTRODES_PATH)
        _expect_identity(f, f.get("/acquisition/raw_voltage").electrodes.table, ELECTRODES_PATH)
        _expect_identity(
            f, f.get("/processing/ecephys/spike_events").electrodes.table, ELECTRODES_PATH
        )
        units = f.get("/units")
        _expect_identity(f, units.electrodes.table, ELECTRODES_PATH)
        _expect_identity(f, units["spike_times_index"].target, "/units/spike_times")
        _expect_identity(f, units["electrodes_index"].target, "/units/electrodes")
        _expect_identity(f, units["waveforms_index_index"].target, "/units/waveforms_index")
        _expect_identity(f, units["waveforms_index"].target, "/units/waveforms")
        groups = electrodes["group"].value[()]
        assert [g.hdf5_path for g in groups] == ["/general/extracellular_ephys/shank0"] * 3 + [
            "/general/extracellular_ephys/shank1"
        ] * 3
        for group in groups:
            _expect_identity(f, group, group.hdf5_path)
            _expect_identity(f, group.device, "/general/devices/probe_device")
        _expect_identity(
            f, f.get("/general/devices/probe_device").model, "/general/devices/models/probe_model"
        )


def test_references_in_misc(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["misc"]) as f:
        images = f.get("/acquisition/stimulus_images")
        order = images.order_of_images
        assert type(order).type_name() == "ImageReferences"
        _expect_identity(f, order, "/acquisition/stimulus_images/order_of_images")
        entries = list(order.value[()])
        assert entries[0] is images["color"] is f.get("/acquisition/stimulus_images/color")
        assert entries[1] is images["gray"] is f.get("/acquisition/stimulus_images/gray")
        assert order.value[1] is images["gray"]
        _expect_identity(
            f,
            f.get("/stimulus/presentation/image_index").indexed_images,
            "/acquisition/stimulus_images",
        )
        _expect_identity(
            f, f.get("/processing/analysis/lfp_power").source_timeseries, "/acquisition/signal"
        )
        refs = f.get("/intervals/epochs/timeseries").value[()]
        assert refs.dtype.names == ("idx_start", "count", "timeseries")
        for ref in refs["timeseries"]:
            _expect_identity(f, ref, "/acquisition/signal")
        _expect_identity(f, f.get("/intervals/epochs/tags_index").target, "/intervals/epochs/tags")


def test_references_in_icephys(pairs: Pairs) -> None:
    pair = pairs["icephys"]
    f = pair.model_file
    base = "/general/intracellular_ephys/intracellular_recordings"
    expected = {
        "stimuli/stimulus": [
            (0, 40, "/stimulus/presentation/cc_stimulus"),
            (0, 30, "/stimulus/presentation/vc_stimulus"),
            (-1, -1, "/acquisition/vc_response"),  # the "missing" stimulus
        ],
        "responses/response": [
            (0, 40, "/acquisition/cc_response"),
            (0, 30, "/acquisition/vc_response"),
            (10, 15, "/acquisition/vc_response"),
        ],
    }
    table = pair.container.intracellular_recordings
    for column, rows in expected.items():
        model = f.get(f"{base}/{column}")
        assert type(model).type_name() == "TimeSeriesReferenceVectorData"
        values = model.value[()]
        assert isinstance(values, np.ndarray)
        assert values.dtype.names == ("idx_start", "count", "timeseries")
        assert len(values) == len(rows)
        category, col = column.split("/")
        pynwb_column = table.category_tables[category][col]
        for i, (start, count, series_path) in enumerate(rows):
            assert int(values["idx_start"][i]) == start
            assert int(values["count"][i]) == count
            _expect_identity(f, values["timeseries"][i], series_path)
            raw = pynwb_column.data[i]
            assert (int(raw[0]), int(raw[1])) == (start, count)
            assert pair.model_of(raw[2]) is values["timeseries"][i]
            row = model.value[i]
            assert row["timeseries"] is values["timeseries"][i]
    _expect_identity(
        f,
        f.get(f"{base}/electrodes/electrode").value[0],
        "/general/intracellular_ephys/patch_electrode",
    )
    sim = f.get("/general/intracellular_ephys/simultaneous_recordings")
    _expect_identity(f, sim.children["recordings"].table, base)
    _expect_identity(
        f,
        sim["recordings_index"].target,
        "/general/intracellular_ephys/simultaneous_recordings/recordings",
    )
    seq = f.get("/general/intracellular_ephys/sequential_recordings")
    _expect_identity(
        f,
        seq.children["simultaneous_recordings"].table,
        "/general/intracellular_ephys/simultaneous_recordings",
    )


def test_references_in_ophys(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ophys"]) as f:
        segmentation = "/processing/ophys/ImageSegmentation"
        _expect_identity(
            f,
            f.get("/processing/ophys/Fluorescence/raw_fluorescence").rois.table,
            f"{segmentation}/image_rois",
        )
        _expect_identity(
            f, f.get("/processing/ophys/DfOverF/dff").rois.table, f"{segmentation}/pixel_rois"
        )
        _expect_identity(
            f,
            f.get(f"{segmentation}/pixel_rois/pixel_mask_index").target,
            f"{segmentation}/pixel_rois/pixel_mask",
        )
        _expect_identity(
            f,
            f.get("/acquisition/two_photon").imaging_plane,
            "/general/optophysiology/imaging_plane",
        )
        _expect_identity(
            f, f.get("/general/optophysiology/imaging_plane").device, "/general/devices/microscope"
        )


def test_references_in_hdmf_table(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["hdmf_table"]) as f:
        _expect_identity(f, f.get("/main/target").table, "/targets")
        _expect_identity(f, f.get("/main/tags_index").target, "/main/tags")
        _expect_identity(f, f.get("/main/samples_index").target, "/main/samples")
        assert f.get("/main").attrs["description"] == (
            "a table with plain, ragged and reference columns"
        )


# ---------------------------------------------------------------------------
# 6. tables
# ---------------------------------------------------------------------------


def _expected_cell(column: Any, i: int) -> Any:
    """Row ``i`` of a pynwb column, from the data pynwb reads."""
    if isinstance(column, VectorIndex):
        start = int(column.data[i - 1]) if i > 0 else 0
        end = int(column.data[i])
        target = column.target
        if isinstance(target, (VectorIndex, DynamicTableRegion)):
            return [_expected_cell(target, j) for j in range(start, end)]
        return target.data[start:end]
    if isinstance(column, DynamicTableRegion):
        return _expected_row(column.table, int(column.data[i]))
    return column.data[i]


def _expected_row(table: DynamicTable, i: int) -> dict[str, Any]:
    row: dict[str, Any] = {"id": int(table.id.data[i])}
    for name in table.colnames:
        row[name] = _expected_cell(table[name], i)
    return row


@pytest.mark.parametrize("name", FILE_NAMES)
def test_tables_match_pynwb(pairs: Pairs, name: str) -> None:
    pair = pairs[name]
    comparer = Comparer(pair)
    tables = [c for c in pair.containers() if isinstance(c, DynamicTable)]
    if name not in ("minimal", "external", "softlinks", "ogen", "behavior"):
        assert tables
    problems = []
    rows = 0
    for table in tables:
        model = pair.model_of(table)
        assert len(model) == len(table), model.hdf5_path
        assert list(model.columns) == list(table.colnames), model.hdf5_path
        for i in range(len(table)):
            want = comparer.reference_side(_expected_row(table, i))
            got = comparer.model_side(model[i])
            rows += 1
            if not same(got, want):
                problems.append(f"{model.hdf5_path} row {i}: {_short(got)} != {_short(want)}")
            for column in table.colnames:
                cell = comparer.model_side(model[column][i])
                if not same(cell, want[column]):
                    problems.append(f"{model.hdf5_path}[{column!r}][{i}]: {_short(cell)}")
    assert not problems, "\n".join(problems)
    assert rows == sum(len(t) for t in tables)


@pytest.mark.parametrize("name", ["ecephys", "old_ecephys"])
def test_units_spike_times(pairs: Pairs, name: str) -> None:
    pair = pairs[name]
    units = pair.model_of(pair.container.units)
    expected = pair.container.units
    assert len(units) == len(expected)
    if name == "ecephys":
        assert len(units) == len(SPIKE_COUNTS)
    for i in range(len(expected)):
        got = units["spike_times"][i]
        want = expected["spike_times"][i]
        assert isinstance(got, np.ndarray)
        assert np.array_equal(got, want), i
        if name == "ecephys":
            assert len(got) == SPIKE_COUNTS[i]
    # a unit without spikes (ecephys: SPIKE_COUNTS has one; old_ecephys: unit 1)
    empty = [i for i in range(len(expected)) if len(expected["spike_times"][i]) == 0]
    assert empty
    for i in empty:
        assert units["spike_times"][i].shape == (0,)
    ids = list(units["id"].value[()])
    assert ids == list(expected.id.data[:])


def test_doubly_ragged_waveforms(pairs: Pairs) -> None:
    """``units["waveforms"][i]`` is unit i's waveforms: one (electrodes x samples) per spike."""
    pair = pairs["ecephys"]
    units = pair.model_of(pair.container.units)
    expected = pair.container.units
    assert len(units["waveforms"]) == len(SPIKE_COUNTS)
    for i, count in enumerate(SPIKE_COUNTS):
        got = units["waveforms"][i]
        want = expected["waveforms"][i]
        assert len(got) == len(want) == count, i
        for spike_got, spike_want in zip(got, want, strict=True):
            assert np.array_equal(spike_got, spike_want), i


@pytest.mark.parametrize("name", ["ecephys", "old_ecephys", "extension"])
def test_electrode_region_rows(pairs: Pairs, name: str) -> None:
    pair = pairs[name]
    nwbfile = pair.container
    frame = nwbfile.electrodes.to_dataframe()
    series_list = [
        c
        for c in pair.containers()
        if isinstance(getattr(c, "electrodes", None), DynamicTableRegion)
    ]
    assert series_list
    for series in series_list:
        region = pair.model_of(series).electrodes
        assert type(region).type_name() == "DynamicTableRegion"
        assert region.table is pair.model_of(nwbfile.electrodes)
        numbers = list(series.electrodes.data[:])
        assert len(region) == len(numbers)
        for i, number in enumerate(numbers):
            row = region[i]
            assert row["id"] == frame.index[number]
            for column in frame.columns:
                want = frame.iloc[number][column]
                if isinstance(want, AbstractContainer):
                    assert row[column] is pair.model_of(want)
                else:
                    assert row[column] == want, (i, column)
        assert [r["id"] for r in region[:]] == [frame.index[n] for n in numbers]


@pytest.mark.parametrize("name", ["ophys", "old_ophys"])
def test_pixel_mask_rows(pairs: Pairs, name: str) -> None:
    pair = pairs[name]
    segmentations = [c for c in pair.containers() if "pixel_mask" in getattr(c, "colnames", ())]
    assert segmentations
    for plane in segmentations:
        model = pair.model_of(plane)
        for i in range(len(plane)):
            got = model["pixel_mask"][i]
            want = plane["pixel_mask"][i]
            assert got.dtype.names == ("x", "y", "weight")
            assert np.array_equal(got, np.asarray(want, dtype=got.dtype)), i
            if name == "ophys" and plane.name == "pixel_rois":
                assert len(got) == PIXEL_MASK_COUNTS[i]


def test_epochs_timeseries_rows(pairs: Pairs) -> None:
    pair = pairs["misc"]
    epochs = pair.container.epochs
    model = pair.model_file.get("/intervals/epochs")
    signal = pair.model_file.get("/acquisition/signal")
    assert len(model) == len(epochs) == 3
    for i in range(len(epochs)):
        got = model["timeseries"][i]
        want = epochs["timeseries"][i]
        assert len(got) == len(want) == 1
        for g, w in zip(got, want, strict=True):
            assert (int(g["idx_start"]), int(g["count"])) == (w.idx_start, w.count)
            assert g["timeseries"] is signal is pair.model_of(w.timeseries)
        assert list(model["tags"][i]) == list(epochs["tags"][i])
        assert model[i]["start_time"] == epochs["start_time"][i]


def test_decomposition_bands(pairs: Pairs) -> None:
    pair = pairs["misc"]
    series = pair.container.processing["analysis"]["lfp_power"]
    model = pair.model_of(series)
    bands = model.bands
    assert type(bands).type_name() == "FrequencyBandsTable"
    frame = series.bands.to_dataframe()
    assert len(bands) == len(frame) == 3
    for i in range(len(frame)):
        row = bands[i]
        assert row["id"] == frame.index[i]
        assert row["band_name"] == frame["band_name"].iloc[i]
        assert np.array_equal(row["band_limits"], frame["band_limits"].iloc[i])
        assert row["band_mean"] == frame["band_mean"].iloc[i]
        assert row["band_stdev"] == frame["band_stdev"].iloc[i]
        assert bands["band_name"][i] == row["band_name"]
    assert np.array_equal(bands.band_limits.value.read(), series.bands["band_limits"].data[:])


def test_hdmf_table_rows(pairs: Pairs) -> None:
    pair = pairs["hdmf_table"]
    f = pair.model_file
    main = f.get("/main")
    targets = f.get("/targets")
    assert len(main) == 4
    assert [main[i]["id"] for i in range(4)] == [10, 11, 12, 13]
    assert [list(main["tags"][i]) for i in range(4)] == [["x", "y"], [], ["z"], ["x", "w", "v"]]
    assert [list(main["samples"][i]) for i in range(4)] == [
        [1.0],
        [2.0, 3.0],
        [],
        [4.0, 5.0, 6.0, 7.0],
    ]
    assert [main["target"][i]["label"] for i in range(4)] == ["a", "c", "b", "c"]
    assert main["target"][1] == targets[2]
    assert np.array_equal(main[3]["vector"], [9.0, 10.0, 11.0])
    container = pair.container.containers["main"]
    for i in range(4):
        assert list(main["tags"][i]) == list(container["tags"][i])


# ---------------------------------------------------------------------------
# 7. external links
# ---------------------------------------------------------------------------


def test_external_link_opens_nothing_before_resolve(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    # a copy without the target file: opening must not need it
    alone = tmp_path / "external.nwb"
    alone.write_bytes(nwb_files["external"].read_bytes())
    with h5model.open(alone) as f:
        link = f.get("/acquisition/linked_series").data
        assert isinstance(link, h5model.ExternalLink)
        assert link.filename == EXTERNAL_TARGET_NAME
        assert link.path == EXTERNAL_TARGET_PATH
        assert link.hdf5_path == EXTERNAL_LINK_PATH
        assert f.get("/acquisition/linked_series").children["data"] is link
        with pytest.raises(h5model.H5ModelError):
            link.resolve()


def test_external_link_resolves(pairs: Pairs, nwb_files: dict[str, Path]) -> None:
    path = nwb_files["external"]
    with h5model.open(path) as f:
        series = f.get("/acquisition/linked_series")
        link = series.data
        assert isinstance(link, h5model.ExternalLink)
        assert (link.filename, link.path) == (EXTERNAL_TARGET_NAME, EXTERNAL_TARGET_PATH)
        target = link.resolve()
        assert isinstance(target, h5model.Dataset)
        assert target.hdf5_path == EXTERNAL_TARGET_PATH
        assert link.resolve() is target
        assert np.array_equal(target.value.read(), EXTERNAL_VALUES)
        assert target.value.shape == EXTERNAL_VALUES.shape
        assert target.unit == "volts"
        pynwb_data = pairs["external"].container.acquisition["linked_series"].data[:]
        assert np.array_equal(target.value.read(), pynwb_data)
        with h5model.open(path.parent / EXTERNAL_TARGET_NAME) as other:
            direct = other.get(EXTERNAL_TARGET_PATH)
            assert np.array_equal(direct.value.read(), target.value.read())
            assert type(direct) is type(target)
        node = f.graph.nodes[f"{EXTERNAL_TARGET_NAME}::{EXTERNAL_TARGET_PATH}"]
        assert node["kind"] == "external"


# ---------------------------------------------------------------------------
# 8. extension types
# ---------------------------------------------------------------------------


def test_extension_types(pairs: Pairs) -> None:
    pair = pairs["extension"]
    nwbfile = pair.container
    tetrode = pair.model_file.get("/acquisition/tetrode_series")
    pynwb_tetrode = nwbfile.acquisition["tetrode_series"]
    assert pair.model_of(pynwb_tetrode) is tetrode
    assert type(tetrode).type_name() == "TetrodeSeries"
    assert type(tetrode).h5_type == (EXTENSION_NAMESPACE, "TetrodeSeries")
    assert "ElectricalSeries" in [
        getattr(cls, "type_name", lambda: None)() for cls in type(tetrode).__mro__[1:]
    ]
    assert tetrode.trode_id == pynwb_tetrode.trode_id == 7
    assert tetrode.h5_fields["trode_id"].role == "attribute"
    assert tetrode.electrodes.table is pair.model_file.get(ELECTRODES_PATH)
    assert np.array_equal(tetrode.data.value.read(), pynwb_tetrode.data[:])

    notes = pair.model_file.get("/general/lab_notes")
    pynwb_notes = nwbfile.lab_meta_data["lab_notes"]
    assert pair.model_of(pynwb_notes) is notes
    assert type(notes).type_name() == "LabNotes"
    assert type(notes).h5_type == (EXTENSION_NAMESPACE, "LabNotes")
    assert notes.notes == pynwb_notes.notes == "The mouse was calm."
    assert notes.temperature == pynwb_notes.temperature == 21.5
    assert pair.model_file.root.general.lab_meta_data["lab_notes"] is notes


# ---------------------------------------------------------------------------
# 9. the graph
# ---------------------------------------------------------------------------


def _address(obj: Any) -> int:
    return int(h5py.h5o.get_info(obj.id).addr)


def _edge_entries(graph: Any) -> set[tuple[str, str, str, str]]:
    """(source, label, name, target) for every edge; parallel edges are each their own."""
    out = set()
    for source, target, key, data in graph.edges(keys=True, data=True):
        assert key == (f"{data['label']}:{data['name']}" if data["name"] else data["label"])
        out.add((source, data["label"], data["name"], target))
    assert len(out) == graph.number_of_edges()
    return out


@pytest.mark.parametrize("name", FILE_NAMES)
def test_graph_matches_file(nwb_files: dict[str, Path], name: str) -> None:
    path = nwb_files[name]
    with h5model.open(path) as f, h5py.File(path, "r") as h5:
        graph = f.graph
        objects: dict[int, Any] = {_address(h5["/"]): h5["/"]}
        h5.visititems(lambda _, obj: objects.setdefault(_address(obj), obj) and None)
        nodes = {n: d for n, d in graph.nodes(data=True) if d["kind"] in ("group", "dataset")}
        assert len(nodes) == len(objects)
        canonical: dict[int, str] = {}
        for node, data in nodes.items():
            obj = h5[node]
            canonical[_address(obj)] = node
            assert data["kind"] == ("group" if isinstance(obj, h5py.Group) else "dataset")
            type_name = obj.attrs.get("neurodata_type", obj.attrs.get("data_type"))
            assert data.get("type") == type_name, node
            if type_name is not None:
                assert data["namespace"] == obj.attrs["namespace"], node
            if isinstance(obj, h5py.Dataset):
                assert tuple(data["shape"]) == obj.shape, node
                assert data["dtype"] == obj.dtype, node
        assert set(canonical) == set(objects)
        # one model per object, and every model is a node
        assert {p for p, _ in f.models()} == set(nodes)

        expected: set[tuple[str, str, str, str]] = set()
        externals = set()
        for node in nodes:
            obj = h5[node]
            if isinstance(obj, h5py.Group):
                for child in obj:
                    link = obj.get(child, getlink=True)
                    if isinstance(link, h5py.HardLink):
                        target = canonical[_address(obj[child])]
                        expected.add((node, "child", child, target))
                    elif isinstance(link, h5py.SoftLink):
                        target = canonical[_address(h5[link.path])]
                        expected.add((node, "link", child, target))
                    else:
                        assert isinstance(link, h5py.ExternalLink)
                        key = f"{link.filename}::{link.path}"
                        externals.add(key)
                        expected.add((node, "link", child, key))
            for attr_name, raw in obj.attrs.items():
                refs = (
                    [raw]
                    if isinstance(raw, h5py.Reference)
                    else (
                        list(raw.flat)
                        if isinstance(raw, np.ndarray) and raw.dtype == object
                        else []
                    )
                )
                for ref in refs:
                    if _is_ref(ref):
                        expected.add((node, "reference", attr_name, canonical[_address(h5[ref])]))
            if isinstance(obj, h5py.Dataset):
                ref_fields: list[str | None] = []
                if h5py.check_ref_dtype(obj.dtype) is not None:
                    ref_fields = [None]
                elif obj.dtype.names:
                    ref_fields = [
                        n for n in obj.dtype.names if h5py.check_ref_dtype(obj.dtype[n]) is not None
                    ]
                for column in ref_fields:
                    values = obj.fields(column)[()] if column else obj[()]
                    for ref in np.asarray(values, dtype=object).flat:
                        if _is_ref(ref):
                            expected.add(
                                (node, "reference", column or "", canonical[_address(h5[ref])])
                            )
        assert {n for n, d in graph.nodes(data=True) if d["kind"] == "external"} == externals
        assert not [n for n, d in graph.nodes(data=True) if d["kind"] == "missing"]
        assert _edge_entries(graph) == expected
        if name == "external":
            assert externals == {f"{EXTERNAL_TARGET_NAME}::{EXTERNAL_TARGET_PATH}"}
        labels = {label for _, label, _, _ in expected}
        assert "child" in labels
        if name not in ("minimal", "external"):
            assert "reference" in labels or "link" in labels


def _edges_between(graph: Any, source: str, target: str) -> dict[str, tuple[str, str]]:
    return {
        key: (data["label"], data["name"])
        for key, data in (graph.get_edge_data(source, target) or {}).items()
    }


def test_graph_keeps_parallel_edges(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    """A child and a reference, or two references, joining the same two objects are each an
    edge of their own, with their own label and name."""
    import networkx as nx

    path = tmp_path / "parallel.nwb"
    shutil.copyfile(nwb_files["ecephys"], path)
    with h5py.File(path, "r+") as h5:
        h5["/units/electrodes"].attrs["source_table"] = h5[ELECTRODES_PATH].ref
    with h5model.open(path) as f:
        graph = f.graph
        assert isinstance(graph, nx.MultiDiGraph)
        # pynwb itself writes both: ``/specifications`` is a child of the root and the
        # target of the root's ``.specloc`` reference
        assert _edges_between(graph, "/", "/specifications") == {
            "child:specifications": ("child", "specifications"),
            "reference:.specloc": ("reference", ".specloc"),
        }
        assert _edges_between(graph, "/units/electrodes", ELECTRODES_PATH) == {
            "reference:table": ("reference", "table"),
            "reference:source_table": ("reference", "source_table"),
        }
        assert graph.number_of_edges("/units/electrodes", ELECTRODES_PATH) == 2
        assert f.get("/units/electrodes").table is f.get(ELECTRODES_PATH)
        assert f.index is not None
        assert f.index.graph.number_of_edges() == graph.number_of_edges()


def test_graph_reference_edges_of_tables(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        graph = f.graph
        edge = graph.edges["/units/spike_times_index", "/units/spike_times", "reference:target"]
        assert (edge["label"], edge["name"]) == ("reference", "target")
        edge = graph.edges["/units/electrodes", ELECTRODES_PATH, "reference:table"]
        assert (edge["label"], edge["name"]) == ("reference", "table")
        edge = graph.edges[
            "/general/extracellular_ephys/shank0", "/general/devices/probe_device", "link:device"
        ]
        assert (edge["label"], edge["name"]) == ("link", "device")
        edge = graph.edges["/units", "/units/spike_times", "child:spike_times"]
        assert (edge["label"], edge["name"]) == ("child", "spike_times")
        node = graph.nodes["/units/spike_times"]
        assert (node["namespace"], node["type"]) == ("hdmf-common", "VectorData")
        assert node["shape"] == (sum(SPIKE_COUNTS),)
    with h5model.open(nwb_files["softlinks"]) as f:
        for link_path, target in SOFTLINKS.items():
            parent, _, child = link_path.rpartition("/")
            edge = f.graph.edges[parent, target, f"link:{child}"]
            assert (edge["label"], edge["name"]) == ("link", child)
