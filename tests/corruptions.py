"""Kinds of damage done to files real peers wrote, and what validation must say of each.

Shared by the validator's acceptance tests and the property tests that hold validation
and the reader to one another. Every damaged file starts as a copy of a file pynwb (or
hdmf) wrote; one kind of damage is then done to it with h5py. Each case also records
whether pynwb's own validator notices the damage.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from h5model.validation import Severity

CORE_SPECS = "/specifications/core/2.11.0"
"""Where pynwb 4.2 caches the core namespace it writes."""

Damage = Callable[[Path], None]


def in_hdf5(change: Callable[[h5py.File], None]) -> Damage:
    """A damage done through h5py on the open file."""

    def damage(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            change(f)

    return damage


def replace_dataset(f: h5py.File, path: str, data: Any, dtype: Any = None) -> h5py.Dataset:
    """Swap the dataset at ``path`` for one holding ``data``, keeping its attributes.

    Only for datasets nothing refers to: the new dataset is a new object.
    """
    old = f[path]
    attrs = [(name, old.attrs[name], old.attrs.get_id(name).dtype) for name in old.attrs]
    del f[path]
    new = f.create_dataset(path, data=data, dtype=dtype)
    for name, value, attr_dtype in attrs:
        new.attrs.create(name, value, dtype=attr_dtype)
    return new


def dangling(f: h5py.File) -> h5py.Reference:
    """An object reference to an object that no longer exists."""
    doomed = f.create_group("doomed")
    ref = doomed.ref
    del f["doomed"]
    return ref


def path_in_file(f: h5py.File, hdf5_path: str) -> bool:
    """``hdf5_path`` is the root, an object or a link (possibly broken) in ``f``."""
    return hdf5_path == "/" or f.get(hdf5_path, getlink=True) is not None


def pynwb_outcome(path: Path) -> tuple[bool, bool]:
    """(detected, raised): whether pynwb's validator finds ``path`` damaged, and how.

    ``pynwb.validate`` returns a list of errors; on some damaged files it raises instead
    (it cannot open, parse or resolve what the damage broke).  A raise counts as
    "detected": the same call returns ``[]`` on every undamaged file (see
    ``test_pynwb_accepts_the_undamaged_files``), so the raise is caused by the damage.
    The table below records raises apart (``pynwb_raises``), so nobody mistakes them for
    an error report.
    """
    from pynwb import validate as pynwb_validate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. hdmf's BrokenLinkWarning
            errors = pynwb_validate(path=str(path))
    except Exception:  # any raise is pynwb refusing the damaged file
        return True, True
    return bool(errors), False


# ---------------------------------------------------------------------------
# the damages
# ---------------------------------------------------------------------------


def _delete(hdf5_path: str) -> Damage:
    def change(f: h5py.File) -> None:
        del f[hdf5_path]

    return in_hdf5(change)


def _delete_attribute(hdf5_path: str, name: str) -> Damage:
    def change(f: h5py.File) -> None:
        del f[hdf5_path].attrs[name]

    return in_hdf5(change)


def _set_attribute(hdf5_path: str, name: str, value: Any) -> Damage:
    def change(f: h5py.File) -> None:
        f[hdf5_path].attrs[name] = value

    return in_hdf5(change)


def _set_entry(hdf5_path: str, position: int, value: Any) -> Damage:
    def change(f: h5py.File) -> None:
        f[hdf5_path][position] = value

    return in_hdf5(change)


def _add_group(hdf5_path: str) -> Damage:
    def change(f: h5py.File) -> None:
        f.create_group(hdf5_path)

    return in_hdf5(change)


def _text_for_float(f: h5py.File) -> None:
    replace_dataset(
        f,
        "/general/extracellular_ephys/electrodes/x",
        np.array([f"x{i}" for i in range(6)], dtype=object),
        dtype=h5py.string_dtype(),
    )


def _one_d_for_two_d(f: h5py.File) -> None:
    path = "/processing/analysis/lfp_power/bands/band_limits"
    replace_dataset(f, path, f[path][:, 0])


def _wrong_fixed_length(f: h5py.File) -> None:
    replace_dataset(f, "/acquisition/two_photon/field_of_view", np.array([0.1, 0.1, 0.1, 0.1]))


def _dangling_index_target(f: h5py.File) -> None:
    f["/units/spike_times_index"].attrs["target"] = dangling(f)


def _dangling_region_table(f: h5py.File) -> None:
    f["/acquisition/raw_voltage/electrodes"].attrs["table"] = dangling(f)


def _region_table_is_a_device(f: h5py.File) -> None:
    device = f["/general/devices/probe_device"]
    f["/acquisition/raw_voltage/electrodes"].attrs["table"] = device.ref


def _group_column_holds_a_device(f: h5py.File) -> None:
    f["/general/extracellular_ephys/electrodes/group"][0] = f["/general/devices/probe_device"].ref


def _retarget_link(link: str, target: str) -> Damage:
    def change(f: h5py.File) -> None:
        del f[link]
        f[link] = h5py.SoftLink(target)

    return in_hdf5(change)


def _short_column(f: h5py.File) -> None:
    path = "/units/quality"
    replace_dataset(f, path, f[path][:3], dtype=h5py.string_dtype())


def _timeseries_reference_past_series(f: h5py.File) -> None:
    dataset = f["/general/intracellular_ephys/intracellular_recordings/responses/response"]
    row = dataset[0]
    row["count"] = 1000
    dataset[0] = row


def _group_for_dataset(f: h5py.File) -> None:
    del f["/session_description"]
    f.create_group("/session_description")


def _type_not_text(f: h5py.File) -> None:
    f["/acquisition/series"].attrs["neurodata_type"] = np.int32(5)


def _reference_not_a_reference(f: h5py.File) -> None:
    f["/units/electrodes"].attrs["table"] = np.int64(3)


def _index_as_text(f: h5py.File) -> None:
    path = "/units/obs_intervals_index"
    text = np.array([f"row {v}" for v in f[path][:]], dtype=object)
    replace_dataset(f, path, text, dtype=h5py.string_dtype())


def _references_as_integers(f: h5py.File) -> None:
    replace_dataset(f, "/general/extracellular_ephys/electrodes/group", np.zeros(6, np.int64))


def _compound_field_missing(f: h5py.File) -> None:
    path = "/general/intracellular_ephys/intracellular_recordings/responses/response"
    old = f[path][:]
    rows = np.zeros(old.shape, dtype=[("idx_start", "<i4"), ("count", "<i4")])
    rows["idx_start"], rows["count"] = old["idx_start"], old["count"]
    replace_dataset(f, path, rows)


def _malformed_spec(f: h5py.File) -> None:
    path = f"{CORE_SPECS}/nwb.base"
    del f[path]
    f.create_dataset(path, data="{this is not json", dtype=h5py.string_dtype())


def _no_specs(f: h5py.File) -> None:
    del f["/specifications"]
    del f.attrs[".specloc"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_hdf5(path: Path) -> None:
    path.write_text("identifier,session_start_time\nabc,2024-01-02\n")


def _remove(path: Path) -> None:
    path.unlink()


@dataclass(frozen=True)
class Case:
    """One kind of damage and what must be reported for it."""

    source: str
    """The builder whose file is copied and damaged."""
    damage: Damage
    rule: str
    hdf5_path: str
    exit_code: int
    pynwb_detects: bool
    """pynwb's validator notices the damage (returns errors, or raises)."""
    pynwb_raises: bool = False
    """... by raising rather than by returning errors."""
    severity: Severity = Severity.ERROR
    strict: bool = False


CASES: dict[str, Case] = {
    # -- parts of a type ---------------------------------------------------------------------
    "attribute_missing": Case(
        "ecephys",
        _delete_attribute("/general/extracellular_ephys/shank0", "location"),
        "attribute.missing",
        "/general/extracellular_ephys/shank0",
        1,
        pynwb_detects=True,
    ),
    "dataset_missing": Case(
        "minimal",
        _delete("/acquisition/series/data"),
        "dataset.missing",
        "/acquisition/series",
        1,
        pynwb_detects=True,
    ),
    "group_missing": Case(
        "minimal",
        _delete("/stimulus/templates"),
        "group.missing",
        "/stimulus",
        1,
        pynwb_detects=True,
    ),
    "link_missing": Case(
        "ecephys",
        _delete("/general/extracellular_ephys/shank0/device"),
        "link.missing",
        "/general/extracellular_ephys/shank0",
        1,
        pynwb_detects=True,
    ),
    # pynwb: TypeError, its dataset validator is handed a group
    "kind_mismatch": Case(
        "minimal",
        in_hdf5(_group_for_dataset),
        "kind.mismatch",
        "/session_description",
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    "quantity_count": Case(
        "behavior",
        _delete("/processing/behavior/Position/xy_position"),
        "quantity.count",
        "/processing/behavior/Position",
        1,
        pynwb_detects=True,
    ),
    # -- types -------------------------------------------------------------------------------
    "type_unknown": Case(
        "minimal",
        _set_attribute("/acquisition/series", "neurodata_type", "NoSuchSeries"),
        "type.unknown",
        "/acquisition/series",
        1,
        pynwb_detects=False,
    ),
    "type_mismatch": Case(
        "misc",
        _set_attribute("/general/subject", "neurodata_type", "LabMetaData"),
        "type.mismatch",
        "/general/subject",
        1,
        pynwb_detects=False,
    ),
    "type_attribute_not_text": Case(
        "minimal",
        in_hdf5(_type_not_text),
        "attribute.dtype",
        "/acquisition/series",
        1,
        pynwb_detects=False,
    ),
    # pynwb: ValueError, the root builder has no data type
    "type_attribute_removed_from_root": Case(
        "minimal",
        _delete_attribute("/", "neurodata_type"),
        "attribute.missing",
        "/",
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    # -- objects the spec does not define ----------------------------------------------------
    "extra_group": Case(
        "minimal",
        _add_group("/acquisition/series/stray_group"),
        "object.unexpected",
        "/acquisition/series/stray_group",
        0,
        pynwb_detects=False,
        severity=Severity.WARNING,
    ),
    "extra_group_strict": Case(
        "minimal",
        _add_group("/acquisition/series/stray_group"),
        "object.unexpected",
        "/acquisition/series/stray_group",
        1,
        pynwb_detects=False,
        strict=True,
    ),
    "extra_attribute": Case(
        "minimal",
        _set_attribute("/acquisition/series", "stray_attribute", 3),
        "object.unexpected",
        "/acquisition/series",
        0,
        pynwb_detects=False,
        severity=Severity.WARNING,
    ),
    # -- dtypes, shapes, values --------------------------------------------------------------
    "dataset_dtype_text_for_float": Case(
        "ecephys",
        in_hdf5(_text_for_float),
        "dataset.dtype",
        "/general/extracellular_ephys/electrodes/x",
        1,
        pynwb_detects=True,
    ),
    "attribute_dtype_text_for_int": Case(
        "icephys",
        _set_attribute("/acquisition/cc_response", "sweep_number", "first"),
        "attribute.dtype",
        "/acquisition/cc_response",
        1,
        pynwb_detects=True,
    ),
    "index_stored_as_text": Case(
        "ecephys",
        in_hdf5(_index_as_text),
        "dataset.dtype",
        "/units/obs_intervals_index",
        1,
        pynwb_detects=True,
    ),
    # pynwb: ValueError, compound type shorter than expected
    "compound_field_missing": Case(
        "icephys",
        in_hdf5(_compound_field_missing),
        "dataset.dtype",
        "/general/intracellular_ephys/intracellular_recordings/responses/response",
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    "dataset_shape_1d_for_2d": Case(
        "misc",
        in_hdf5(_one_d_for_two_d),
        "dataset.shape",
        "/processing/analysis/lfp_power/bands/band_limits",
        1,
        pynwb_detects=True,
    ),
    "dataset_shape_fixed_length": Case(
        "ophys",
        in_hdf5(_wrong_fixed_length),
        "dataset.shape",
        "/acquisition/two_photon/field_of_view",
        1,
        pynwb_detects=True,
    ),
    "attribute_shape": Case(
        "misc",
        _set_attribute("/intervals/trials", "colnames", "start_time"),
        "attribute.shape",
        "/intervals/trials",
        1,
        pynwb_detects=True,
    ),
    "attribute_value_fixed_unit": Case(
        "ecephys",
        _set_attribute("/processing/ecephys/spike_events/timestamps", "unit", "milliseconds"),
        "attribute.value",
        "/processing/ecephys/spike_events/timestamps",
        1,
        pynwb_detects=False,
    ),
    # -- references and links ----------------------------------------------------------------
    # pynwb: KeyError, unable to open object by token
    "reference_dangling_index_target": Case(
        "ecephys",
        in_hdf5(_dangling_index_target),
        "reference.dangling",
        "/units/spike_times_index",
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    # pynwb: KeyError, unable to open object by token
    "reference_dangling_region_table": Case(
        "ecephys",
        in_hdf5(_dangling_region_table),
        "reference.dangling",
        "/acquisition/raw_voltage/electrodes",
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    "reference_wrong_type_in_attribute": Case(
        "ecephys",
        in_hdf5(_region_table_is_a_device),
        "reference.target-type",
        "/acquisition/raw_voltage/electrodes",
        1,
        pynwb_detects=True,
    ),
    "reference_wrong_type_in_dataset": Case(
        "ecephys",
        in_hdf5(_group_column_holds_a_device),
        "reference.target-type",
        "/general/extracellular_ephys/electrodes/group",
        1,
        pynwb_detects=False,
    ),
    "reference_attribute_not_a_reference": Case(
        "ecephys",
        in_hdf5(_reference_not_a_reference),
        "attribute.dtype",
        "/units/electrodes",
        1,
        pynwb_detects=True,
    ),
    "reference_dataset_of_integers": Case(
        "ecephys",
        in_hdf5(_references_as_integers),
        "dataset.dtype",
        "/general/extracellular_ephys/electrodes/group",
        1,
        pynwb_detects=True,
    ),
    "link_broken": Case(
        "softlinks",
        _retarget_link("/acquisition/follower_data/data", "/acquisition/nowhere/data"),
        "link.broken",
        "/acquisition/follower_data/data",
        1,
        pynwb_detects=True,
    ),
    "link_wrong_type": Case(
        "ecephys",
        _retarget_link("/general/extracellular_ephys/shank0/device", "/acquisition/raw_voltage"),
        "link.target-type",
        "/general/extracellular_ephys/shank0/device",
        1,
        pynwb_detects=True,
    ),
    # -- table invariants ----------------------------------------------------------------------
    "index_past_data": Case(
        "ecephys",
        _set_entry("/units/spike_times_index", -1, 200),
        "table.index-out-of-range",
        "/units/spike_times_index",
        1,
        pynwb_detects=False,
    ),
    "index_decreasing": Case(
        "ecephys",
        _set_entry("/units/spike_times_index", 1, 3),
        "table.index-decreasing",
        "/units/spike_times_index",
        1,
        pynwb_detects=False,
    ),
    "region_past_table": Case(
        "ecephys",
        _set_entry("/units/electrodes", 0, 6),
        "table.region-out-of-range",
        "/units/electrodes",
        1,
        pynwb_detects=False,
    ),
    "region_negative": Case(
        "ecephys",
        _set_entry("/acquisition/raw_voltage/electrodes", 2, -1),
        "table.region-out-of-range",
        "/acquisition/raw_voltage/electrodes",
        1,
        pynwb_detects=False,
    ),
    "column_length": Case(
        "ecephys",
        in_hdf5(_short_column),
        "table.column-length",
        "/units/quality",
        1,
        pynwb_detects=False,
    ),
    "colnames_absent": Case(
        "ecephys",
        _delete("/units/quality"),
        "table.colnames",
        "/units",
        1,
        pynwb_detects=False,
    ),
    "timeseries_reference_past_series": Case(
        "icephys",
        in_hdf5(_timeseries_reference_past_series),
        "table.timeseries-reference-out-of-range",
        "/general/intracellular_ephys/intracellular_recordings/responses/response",
        1,
        pynwb_detects=False,
    ),
    # -- specs ---------------------------------------------------------------------------------
    # pynwb: JSONDecodeError reading the cached spec
    "spec_malformed": Case(
        "minimal",
        in_hdf5(_malformed_spec),
        "spec.malformed",
        f"{CORE_SPECS}/nwb.base",
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    # pynwb: KeyError, the cached source does not exist
    "spec_source_missing": Case(
        "minimal",
        _delete(f"{CORE_SPECS}/nwb.base"),
        "spec.malformed",
        CORE_SPECS,
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    # pynwb: ValueError, could not load namespace 'hdmf-common'
    "spec_namespace_missing": Case(
        "minimal",
        _delete("/specifications/hdmf-common"),
        "spec.namespace-missing",
        CORE_SPECS,
        1,
        pynwb_detects=True,
        pynwb_raises=True,
    ),
    # pynwb falls back to the core namespace it ships and finds nothing
    "spec_missing": Case("minimal", in_hdf5(_no_specs), "spec.missing", "/", 2, False),
    # -- the file itself -----------------------------------------------------------------------
    # pynwb: ValueError, no IO can read the file (the same for file_not_hdf5);
    # FileNotFoundError for file_not_found
    "file_truncated": Case(
        "ecephys", _truncate, "file.unreadable", "/", 2, True, pynwb_raises=True
    ),
    "file_not_hdf5": Case("minimal", _not_hdf5, "file.not-hdf5", "/", 2, True, pynwb_raises=True),
    "file_not_found": Case("minimal", _remove, "file.not-found", "/", 2, True, pynwb_raises=True),
}


def damaged(name: str, nwb_files: dict[str, Path], directory: Path) -> Path:
    """A copy of the case's source file in ``directory``, damaged as the case says."""
    case = CASES[name]
    path = directory / f"{name}{nwb_files[case.source].suffix}"
    shutil.copy(nwb_files[case.source], path)
    case.damage(path)
    return path


