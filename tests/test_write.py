"""Editing files in place and writing new ones: what pynwb, its validator and h5model read back.

Every edit is made on a copy (in ``tmp_path``) of a file pynwb wrote, saved, then checked
three ways: pynwb reads the new values, ``pynwb.validate`` accepts the file, and h5model
reads the same values after reopening. Invalid edits must fail before anything is
written: the file's bytes stay the same. Whole files written by ``h5model.write`` are
compared with their sources object by object, with h5py and with pynwb.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hdmf.backends.hdf5 import HDF5IO
from hdmf.common import get_manager as get_hdmf_manager
from hdmf.container import AbstractContainer
from helpers import read_pynwb, sha256
from nwbfiles import ALL_FILE_NAMES, EXTERNAL_TARGET_NAME, EXTERNAL_VALUES, HDMF_ONLY
from pynwb import NWBHDF5IO, validate

import h5model
from h5model.cli.app import main as cli_main

FILE_NAMES = [*ALL_FILE_NAMES, "old_ecephys", "old_ophys"]
ELECTRODES = "/general/extracellular_ephys/electrodes"
SHANK1 = "/general/extracellular_ephys/shank1"


@pytest.fixture
def copy(nwb_files: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of one test file (the external link's target comes along)."""

    def make(name: str) -> Path:
        source = nwb_files[name]
        target = tmp_path / source.name
        shutil.copyfile(source, target)
        if name == "external":
            shutil.copyfile(source.parent / EXTERNAL_TARGET_NAME, tmp_path / EXTERNAL_TARGET_NAME)
        return target

    return make


def assert_valid(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate(path=str(path)) == []




def edit(path: Path, change: Callable[[h5model.File], Any]) -> Any:
    """Open ``path`` for writing, apply ``change``, save; return what ``change`` returned."""
    with h5model.open(path, "r+") as f:
        out = change(f)
        f.save()
        assert not f.dirty
    return out


# ---------------------------------------------------------------------------
# attributes and scalar datasets
# ---------------------------------------------------------------------------


def test_attributes_text_float_int(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")

    def change(f: h5model.File) -> None:
        series = f.get("/acquisition/raw_voltage")
        series.description = "edited description"
        series.data.conversion = 2.5e-6
        series.starting_time.rate = 2000.0
        f.get("/units").description = "curated units"

    edit(path, change)
    with read_pynwb(path) as nwbfile:
        series = nwbfile.acquisition["raw_voltage"]
        assert series.description == "edited description"
        assert series.conversion == 2.5e-6  # stored as float64: no float32 rounding
        assert series.rate == 2000.0
        assert nwbfile.units.description == "curated units"
    assert_valid(path)
    with h5model.open(path) as f:
        series = f.get("/acquisition/raw_voltage")
        assert series.description == "edited description"
        assert series.data.conversion == 2.5e-6
        assert series.starting_time.rate == 2000.0
        assert series.attrs["description"] == "edited description"


def test_int_attribute_of_an_extension(copy: Callable[[str], Path]) -> None:
    path = copy("extension")
    edit(path, lambda f: setattr(f.get("/acquisition/tetrode_series"), "trode_id", 12))
    with read_pynwb(path) as nwbfile:
        assert nwbfile.acquisition["tetrode_series"].trode_id == 12
    assert_valid(path)
    with h5model.open(path) as f:
        assert f.get("/acquisition/tetrode_series").trode_id == 12
    with h5py.File(path) as h5:
        assert h5["/acquisition/tetrode_series"].attrs["trode_id"].dtype.kind == "i"


def test_scalar_datasets(copy: Callable[[str], Path]) -> None:
    path = copy("icephys")

    def change(f: h5model.File) -> None:
        f.root.session_description = "an edited session"
        f.get("/acquisition/vc_response").capacitance_slow.value = 3.5e-12
        f.root.session_start_time = datetime.fromisoformat("2024-02-03T04:05:06+00:00")

    edit(path, change)
    with read_pynwb(path) as nwbfile:
        assert nwbfile.session_description == "an edited session"
        assert nwbfile.acquisition["vc_response"].capacitance_slow == 3.5e-12
        assert nwbfile.session_start_time.isoformat() == "2024-02-03T04:05:06+00:00"
    assert_valid(path)
    with h5model.open(path) as f:
        assert f.root.session_description == "an edited session"
        assert f.get("/acquisition/vc_response/capacitance_slow").value == 3.5e-12


# ---------------------------------------------------------------------------
# arrays
# ---------------------------------------------------------------------------


def test_replace_arrays_same_and_different_length(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")
    same_shape = np.arange(600, dtype=np.int16).reshape(100, 6)
    longer = np.linspace(0.0, 1.0, 7)
    shorter = np.arange(3 * 3 * 8, dtype=np.float64).reshape(3, 3, 8)

    def change(f: h5model.File) -> None:
        f.get("/acquisition/raw_voltage").data.value = same_shape
        spikes = f.get("/processing/ecephys/spike_events")
        spikes.data.value = shorter
        spikes.timestamps.value = np.array([0.1, 0.2, 0.3])
        f.get("/acquisition/raw_voltage").channel_conversion.value = longer[:6]

    edit(path, change)
    with read_pynwb(path) as nwbfile:
        assert np.array_equal(nwbfile.acquisition["raw_voltage"].data[:], same_shape)
        spikes = nwbfile.processing["ecephys"]["spike_events"]
        assert np.array_equal(spikes.data[:], shorter)
        assert np.array_equal(spikes.timestamps[:], [0.1, 0.2, 0.3])
        assert np.array_equal(nwbfile.acquisition["raw_voltage"].channel_conversion[:],
                              longer[:6])
    assert_valid(path)
    with h5model.open(path) as f:
        spikes = f.get("/processing/ecephys/spike_events")
        assert spikes.data.value.shape == (3, 3, 8)
        assert np.array_equal(spikes.data.value[:], shorter)
        assert spikes.data.unit == "volts"  # attributes of a recreated dataset are kept


def test_replaced_array_is_read_from_the_file_after_save(copy: Callable[[str], Path]) -> None:
    path = copy("behavior")
    with h5model.open(path, "r+") as f:
        series = f.get("/processing/behavior/BehavioralTimeSeries/running_speed")
        series.data.value = np.arange(35.0)
        f.save()
        assert isinstance(series.data.value, h5model.H5Array)
        assert series.data.value.shape == (35,)
        series.data.value[:5] = -1.0  # slices of the new data are recorded like any other
        f.save()
    with read_pynwb(path) as nwbfile:
        data = nwbfile.processing["behavior"]["BehavioralTimeSeries"]["running_speed"].data[:]
        assert np.array_equal(data, np.r_[np.full(5, -1.0), np.arange(5.0, 35.0)])
    assert_valid(path)


def test_slice_assignment(copy: Callable[[str], Path]) -> None:
    path = copy("misc")
    with h5py.File(path) as h5:
        before = h5["/acquisition/signal/data"][:]

    def change(f: h5model.File) -> None:
        f.get("/acquisition/signal").data.value[10:13] = [7.0, 8.0, 9.0]
        f.get("/acquisition/signal").data.value[-1] = 0.5
        f.get("/acquisition/annotations").data.value[1] = "punishment"

    edit(path, change)
    expected = before.copy()
    expected[10:13] = [7.0, 8.0, 9.0]
    expected[-1] = 0.5
    with read_pynwb(path) as nwbfile:
        assert np.array_equal(nwbfile.acquisition["signal"].data[:], expected)
        assert list(nwbfile.acquisition["annotations"].data[:].astype(str)) == [
            "start", "punishment", "stop"
        ]
    assert_valid(path)
    with h5model.open(path) as f:
        assert np.array_equal(f.get("/acquisition/signal").data.value[:], expected)
        assert list(f.get("/acquisition/annotations").data.value[:]) == [
            "start", "punishment", "stop"
        ]


def test_image_replaced_with_a_new_shape_keeps_the_references_to_it(
    copy: Callable[[str], Path],
) -> None:
    path = copy("misc")
    edit(path, lambda f: setattr(f.get("/acquisition/stimulus_images/gray"), "value",
                                 np.full((3, 4), 9, dtype=np.uint8)))
    with read_pynwb(path) as nwbfile:
        images = nwbfile.acquisition["stimulus_images"]
        assert images.images["gray"].data.shape == (3, 4)
        assert [image.name for image in images.order_of_images.data] == ["color", "gray"]
    assert_valid(path)


# ---------------------------------------------------------------------------
# new objects, removed objects
# ---------------------------------------------------------------------------


def test_add_a_new_timeseries(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")

    def change(f: h5model.File) -> Any:
        core = f.modules["core"]
        series = core.TimeSeries(
            description="a new series",
            data=core.TimeSeries__data(value=np.arange(10.0), unit="m"),
            starting_time=core.TimeSeries__starting_time(value=0.5, rate=20.0, unit="seconds"),
        )
        f.get("/acquisition").add("position", series)
        module = core.ProcessingModule(description="a new module")
        module.add("speed", core.TimeSeries(
            data=core.TimeSeries__data(value=np.arange(4, dtype=np.float32), unit="m/s"),
            timestamps=core.TimeSeries__timestamps(value=np.array([0.0, 0.1, 0.2, 0.3])),
        ))
        f.root.processing.add("derived", module)
        return series

    series = edit(path, change)
    assert series.hdf5_path == "/acquisition/position"
    uuid.UUID(series.object_id)  # a fresh object_id, as HDMF readers expect
    with h5py.File(path) as h5:
        attrs = h5["/acquisition/position"].attrs
        assert (attrs["neurodata_type"], attrs["namespace"]) == ("TimeSeries", "core")
        assert attrs["object_id"] == series.object_id
    with read_pynwb(path) as nwbfile:
        new = nwbfile.acquisition["position"]
        assert new.object_id == series.object_id
        assert np.array_equal(new.data[:], np.arange(10.0))
        assert (new.unit, new.rate, new.starting_time) == ("m", 20.0, 0.5)
        assert new.description == "a new series"
        speed = nwbfile.processing["derived"]["speed"]
        assert np.array_equal(speed.timestamps[:], [0.0, 0.1, 0.2, 0.3])
        assert speed.data.dtype == np.float32
    assert_valid(path)
    with h5model.open(path) as f:
        new = f.get("/acquisition/position")
        assert type(new).type_name() == "TimeSeries" and new.object_id == series.object_id
        assert np.array_equal(new.data.value[:], np.arange(10.0))
        assert f.get("/processing/derived/speed").data.unit == "m/s"


def test_new_objects_referring_to_existing_ones(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")

    def change(f: h5model.File) -> None:
        core, common = f.modules["core"], f.modules["hdmf-common"]
        electrodes = f.get(ELECTRODES)
        region = common.DynamicTableRegion(
            value=np.array([0, 2, 4]), table=electrodes, description="every other channel"
        )
        series = core.ElectricalSeries(
            data=core.ElectricalSeries__data(value=np.zeros((5, 3), np.float32), unit="volts"),
            electrodes=region,
            timestamps=core.ElectricalSeries__timestamps(value=np.arange(5.0)),
        )
        f.get("/acquisition").add("subset", series)
        group = core.ElectrodeGroup(description="third shank", location="CA2",
                                    device=f.get("/general/devices/probe_device"))
        f.get("/general/extracellular_ephys").add("shank2", group)

    edit(path, change)
    with h5py.File(path) as h5:
        link = h5.get("/general/extracellular_ephys/shank2/device", getlink=True)
        assert isinstance(link, h5py.SoftLink) and link.path == "/general/devices/probe_device"
    with read_pynwb(path) as nwbfile:
        subset = nwbfile.acquisition["subset"]
        assert subset.electrodes.table is nwbfile.electrodes
        assert list(subset.electrodes.data[:]) == [0, 2, 4]
        assert nwbfile.electrode_groups["shank2"].device is nwbfile.devices["probe_device"]
    assert_valid(path)
    with h5model.open(path) as f:
        subset = f.get("/acquisition/subset")
        assert subset.electrodes.table is f.get(ELECTRODES)
        assert subset.electrodes[1]["channel_label"] == "ch02"
        assert f.get("/general/extracellular_ephys/shank2").device is f.get(
            "/general/devices/probe_device")


def test_remove_a_child(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")
    with h5model.open(path, "r+") as f:
        f.get("/processing/ecephys").remove("spike_events")
        f.save()
        assert "/processing/ecephys/spike_events" not in f
    with read_pynwb(path) as nwbfile:
        assert "spike_events" not in nwbfile.processing["ecephys"].data_interfaces
    assert_valid(path)
    with h5model.open(path) as f:
        assert "spike_events" not in f.get("/processing/ecephys").children


def test_remove_and_add_back_under_the_same_name(copy: Callable[[str], Path]) -> None:
    path = copy("minimal")

    def change(f: h5model.File) -> None:
        core = f.modules["core"]
        f.get("/acquisition").remove("series")
        f.get("/acquisition").add("series", core.TimeSeries(
            data=core.TimeSeries__data(value=np.ones(3), unit="volts"),
            timestamps=core.TimeSeries__timestamps(value=np.array([0.0, 1.0, 2.0])),
        ))

    edit(path, change)
    with read_pynwb(path) as nwbfile:
        assert np.array_equal(nwbfile.acquisition["series"].timestamps[:], [0.0, 1.0, 2.0])
    assert_valid(path)


# ---------------------------------------------------------------------------
# table rows
# ---------------------------------------------------------------------------


def test_add_rows_with_ragged_region_and_reference_columns(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")
    waveforms = [np.full((2, 4), float(k)) for k in range(3)]

    def change(f: h5model.File) -> None:
        shank1 = f.get(SHANK1)
        f.get(ELECTRODES).add_row(
            location="CA3", group=shank1, channel_label="ch06", group_name="shank1",
            x=6.0, y=12.0, z=-1.0, imp=1.6e6, filtering="none",
        )
        units = f.get("/units")
        units.add_row(
            id=200, quality="good", spike_times=[0.01, 0.02, 0.03],
            obs_intervals=[[0.0, 0.05], [0.06, 0.1]], electrodes=[4, 6],
            electrode_group=shank1, waveform_mean=np.ones(4), waveforms=waveforms,
        )
        units.add_row(
            id=201, quality="mua", spike_times=[], obs_intervals=[[0.0, 0.1]], electrodes=[0],
            electrode_group=f.get("/general/extracellular_ephys/shank0"),
            waveform_mean=np.zeros(4), waveforms=[],
        )

    edit(path, change)
    with read_pynwb(path) as nwbfile:
        electrodes = nwbfile.electrodes.to_dataframe()
        assert len(electrodes) == 7
        assert electrodes.iloc[6]["channel_label"] == "ch06"
        assert electrodes.iloc[6]["group"] is nwbfile.electrode_groups["shank1"]
        units = nwbfile.units.to_dataframe()
        assert list(units.index) == [100, 101, 102, 103, 200, 201]
        row = units.loc[200]
        assert list(row["spike_times"]) == [0.01, 0.02, 0.03]
        assert np.array_equal(row["obs_intervals"], [[0.0, 0.05], [0.06, 0.1]])
        assert list(row["electrodes"].index) == [4, 6]
        assert row["electrode_group"] is nwbfile.electrode_groups["shank1"]
        assert np.array_equal(np.asarray(row["waveforms"]), np.stack(waveforms))
        assert len(units.loc[201]["spike_times"]) == 0
    assert_valid(path)
    with h5model.open(path) as f:
        units = f.get("/units")
        assert len(units) == 6
        assert units[4]["id"] == 200
        assert [e["channel_label"] for e in units[4]["electrodes"]] == ["ch04", "ch06"]
        assert units[4]["electrode_group"] is f.get(SHANK1)
        assert [w.tolist() for w in units[4]["waveforms"]] == [w.tolist() for w in waveforms]
        assert f.get(ELECTRODES)[6]["group"] is f.get(SHANK1)


def test_rows_in_a_plain_hdmf_table(copy: Callable[[str], Path]) -> None:
    path = copy("hdmf_table")

    def change(f: h5model.File) -> None:
        main = next(m for p, m in f.models() if p.endswith("/main"))
        main.add_row(id=14, label="r4", score=5, vector=[1.0, 2.0, 3.0], tags=["q", "r"],
                     samples=[8.0], target=1)

    edit(path, change)
    with HDF5IO(str(path), mode="r", manager=get_hdmf_manager()) as io:
        root = io.read()
        main = root.containers["main"]
        frame = main.to_dataframe()
        assert list(frame.index) == [10, 11, 12, 13, 14]
        last = frame.loc[14]
        assert (last["label"], last["score"]) == ("r4", 5)
        assert list(last["tags"]) == ["q", "r"] and list(last["samples"]) == [8.0]
        assert list(last["vector"]) == [1.0, 2.0, 3.0]
        assert main["target"].data[4] == 1
    with h5model.open(path) as f:
        main = next(m for p, m in f.models() if p.endswith("/main"))
        assert main[4]["tags"].tolist() == ["q", "r"]
        assert main[4]["target"]["label"] == "b"


def test_rows_with_timeseries_references_in_an_aligned_table(copy: Callable[[str], Path]) -> None:
    path = copy("icephys")
    recordings = "/general/intracellular_ephys/intracellular_recordings"

    def change(f: h5model.File) -> None:
        response = f.get("/acquisition/cc_response")
        f.get(f"{recordings}/stimuli").add_row(stimulus=(0, 10, f.get(
            "/stimulus/presentation/cc_stimulus")))
        f.get(f"{recordings}/responses").add_row(response=(5, 10, response))
        f.get(f"{recordings}/electrodes").add_row(
            electrode=f.get("/general/intracellular_ephys/patch_electrode"))
        f.get(recordings).add_row()

    edit(path, change)
    with read_pynwb(path) as nwbfile:
        frame = nwbfile.intracellular_recordings.to_dataframe()
        assert len(frame) == 4
        start, count, series = frame.iloc[3][("responses", "response")]
        assert (start, count, series.name) == (5, 10, "cc_response")
    assert_valid(path)
    with h5model.open(path) as f:
        row = f.get(f"{recordings}/responses")[3]["response"]
        assert (int(row[0]), int(row[1])) == (5, 10)
        assert row[2] is f.get("/acquisition/cc_response")


def test_a_ragged_index_outgrowing_its_dtype_is_widened(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")
    with h5py.File(path) as h5:
        assert h5["/units/spike_times_index"].dtype == np.uint8

    def change(f: h5model.File) -> None:
        units = f.get("/units")
        for k in range(2):
            units.add_row(quality="many", spike_times=np.linspace(0, 1, 300), obs_intervals=[],
                          electrodes=[k], electrode_group=f.get(SHANK1),
                          waveform_mean=np.ones(4), waveforms=[])

    edit(path, change)
    with h5py.File(path) as h5:
        index = h5["/units/spike_times_index"]
        assert index.dtype == np.uint16 and index[-1] == 614
    with read_pynwb(path) as nwbfile:
        assert len(nwbfile.units["spike_times"][5]) == 300
    assert_valid(path)


# ---------------------------------------------------------------------------
# invalid edits: refused before anything is written
# ---------------------------------------------------------------------------


def _new_series(f: h5model.File, **fields: Any) -> Any:
    core = f.modules["core"]
    return core.TimeSeries(data=core.TimeSeries__data(value=np.arange(3.0), unit="m"), **fields)


INVALID: dict[str, Callable[[h5model.File], Any]] = {
    "text into a float attribute": lambda f: setattr(
        f.get("/acquisition/raw_voltage").data, "conversion", "large"),
    "text into a numeric array": lambda f: setattr(
        f.get("/acquisition/raw_voltage").data, "value", np.array(["a", "b"])),
    "None for a required attribute": lambda f: setattr(
        f.get("/acquisition/raw_voltage").data, "unit", None),
    "None for a required dataset": lambda f: setattr(
        f.get("/acquisition/raw_voltage"), "data", None),
    "removing a required child": lambda f: f.get("/acquisition/raw_voltage").remove("data"),
    "removing a required group": lambda f: f.root.remove("general"),
    "a reference to the wrong type": lambda f: setattr(
        f.get("/acquisition/raw_voltage").electrodes, "table",
        f.get("/general/devices/probe_device")),
    "a link to the wrong type": lambda f: setattr(
        f.get(SHANK1), "device", f.get("/general/extracellular_ephys/shank0")),
    "a new object of the wrong type in a collection": lambda f: f.get("/general/devices").add(
        "not_a_device", _new_series(f)),
    "an incomplete new object": lambda f: f.get("/acquisition").add(
        "incomplete", f.modules["core"].TimeSeries.model_construct(description="no data")),
    "a slice out of bounds": lambda f: f.get("/acquisition/raw_voltage").data.value.__setitem__(
        200, 1),
    "text into an int16 slice": lambda f: f.get(
        "/acquisition/raw_voltage").data.value.__setitem__(0, "x"),
    "a value too large for int16": lambda f: f.get(
        "/acquisition/raw_voltage").data.value.__setitem__(0, 70000),
    "text into a float column": lambda f: f.get(ELECTRODES).add_row(
        location="CA3", group=f.get(SHANK1), channel_label="c", group_name="shank1",
        x="left", y=1.0, z=1.0, imp=1.0, filtering="none"),
    "a reference column row to the wrong type": lambda f: f.get(ELECTRODES).add_row(
        location="CA3", group=f.get("/general/devices/probe_device"), channel_label="c",
        group_name="shank1", x=1.0, y=1.0, z=1.0, imp=1.0, filtering="none"),
    "a region row past the end of its table": lambda f: f.get("/units").add_row(
        quality="good", spike_times=[0.1], obs_intervals=[], electrodes=[6],
        electrode_group=f.get(SHANK1), waveform_mean=np.ones(4), waveforms=[]),
    "a scalar where a ragged column wants a list": lambda f: f.get("/units").add_row(
        quality="good", spike_times=0.1, obs_intervals=[], electrodes=[1],
        electrode_group=f.get(SHANK1), waveform_mean=np.ones(4), waveforms=[]),
    "a row of the wrong width": lambda f: f.get("/units").add_row(
        quality="good", spike_times=[0.1], obs_intervals=[], electrodes=[1],
        electrode_group=f.get(SHANK1), waveform_mean=np.ones(5), waveforms=[]),
    "removing an object others refer to": lambda f: f.get(
        "/general/extracellular_ephys").remove("shank0"),
    "removing an object others link to": lambda f: f.get("/general/devices").remove(
        "probe_device"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_edit_leaves_the_file_unchanged(copy: Callable[[str], Path], name: str) -> None:
    path = copy("ecephys")
    before = sha256(path)
    with h5model.open(path, "r+") as f, pytest.raises((h5model.H5ModelError, ValueError)) as exc:
        INVALID[name](f)
        f.save()
    assert str(exc.value)
    assert sha256(path) == before
    assert not list(path.parent.glob(".*h5model-journal"))


def test_negative_value_for_an_unsigned_attribute(copy: Callable[[str], Path]) -> None:
    path = copy("icephys")
    before = sha256(path)
    with h5model.open(path, "r+") as f:
        f.get("/acquisition/cc_response").sweep_number = -1
        with pytest.raises(h5model.ModelError, match="sweep_number"):
            f.save()
    assert sha256(path) == before


def test_a_model_of_another_file_cannot_be_referred_to(
    copy: Callable[[str], Path], nwb_files: dict[str, Path],
) -> None:
    path = copy("ecephys")
    before = sha256(path)
    with h5model.open(nwb_files["ecephys"]) as other, h5model.open(path, "r+") as f:
        f.get(ELECTRODES).add_row(
            location="CA3", group=other.get(SHANK1), channel_label="c", group_name="shank1",
            x=1.0, y=1.0, z=1.0, imp=1.0, filtering="none",
        )
        with pytest.raises(h5model.ModelError, match="not an object of this file"):
            f.save()
    assert sha256(path) == before


def test_read_only_files_refuse_edits(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        with pytest.raises(h5model.H5ModelError, match="read-only"):
            f.get("/acquisition/raw_voltage").data.value[0] = 1
        with pytest.raises(h5model.H5ModelError, match="read-only"):
            f.save()


# ---------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------


def test_modes_never_overwrite_without_being_asked(
    copy: Callable[[str], Path], tmp_path: Path,
) -> None:
    path = copy("minimal")
    before = sha256(path)
    with pytest.raises(h5model.H5ModelError, match="exists"):
        h5model.open(path, "w-")
    with pytest.raises(h5model.H5ModelError, match="exists"):
        h5model.open(path, "x")
    with pytest.raises(h5model.NotHDF5Error):
        h5model.open(tmp_path / "missing.nwb", "r+")
    with h5model.open(path) as f, pytest.raises(h5model.H5ModelError, match="exists"):
        h5model.write(f.root, path)
    assert sha256(path) == before
    with h5model.open(path, "a") as f:  # an existing file opens for editing
        assert f.root.identifier == "h5model-test-minimal"


def test_new_files_from_models_with_w_and_a(copy: Callable[[str], Path], tmp_path: Path) -> None:
    source = copy("minimal")
    with h5model.open(source) as src:
        for mode, name in (("w", "new_w.nwb"), ("a", "new_a.nwb"), ("w-", "new_x.nwb")):
            target = tmp_path / name
            with h5model.open(target, mode) as f:
                f.root = src.root
                f.save()
                assert f.get("/acquisition/series").data.value.shape == (10,)
                assert f.root is not src.root  # the saved file's own models from now on
                f.root.session_description = f"saved twice ({mode})"
                f.save()
            assert src.root.session_description == "test file for minimal"
            with read_pynwb(target) as nwbfile:
                assert nwbfile.identifier == "h5model-test-minimal"
                assert nwbfile.session_description == f"saved twice ({mode})"
                assert np.array_equal(nwbfile.acquisition["series"].data[:], np.arange(10))
            assert_valid(target)
        replaced = tmp_path / "new_w.nwb"
        with h5model.open(replaced, "w") as f:  # "w" replaces an existing file at save
            f.root = src.root
            assert replaced.exists()
            f.save()
    assert_valid(replaced)


# ---------------------------------------------------------------------------
# whole files: h5model.write round trip
# ---------------------------------------------------------------------------


def _plain(h5: h5py.File, folder: Path, value: Any) -> Any:
    """A value read with h5py, comparable between two files (references by target path)."""
    if isinstance(value, h5py.Reference):
        return ("ref", h5[value].name if value else None)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.void):
        return tuple(_plain(h5, folder, v) for v in value.tolist())
    if isinstance(value, np.generic):
        return (value.dtype.str, value.item())
    if isinstance(value, np.ndarray):
        if value.dtype.names:
            return [tuple(_plain(h5, folder, row[n]) for n in value.dtype.names) for row in value]
        if value.dtype == object:
            return [_plain(h5, folder, v) for v in value.flat], value.shape
        return value.dtype.str, value.shape, value.tobytes()
    return value


def content(path: Path) -> dict[str, Any]:
    """Every object of the file (specs aside): links, attributes with their dtypes, dataset
    contents, dtypes and storage (chunks, compression); external links by their target."""
    out: dict[str, Any] = {}
    folder = path.parent
    with h5py.File(path, "r") as h5:

        def visit(name: str) -> None:
            key = "/" + name
            if key.startswith("/specifications"):
                return
            link = h5.get(name, getlink=True) if name else None
            if isinstance(link, h5py.SoftLink):
                out[key] = ("soft", link.path)
                return
            if isinstance(link, h5py.ExternalLink):
                out[key] = ("external", (folder / link.filename).resolve(), link.path)
                return
            obj = h5[name or "/"]
            attrs = {
                k: _plain(h5, folder, obj.attrs[k])
                for k in obj.attrs if k != ".specloc"
            }
            if isinstance(obj, h5py.Dataset):
                out[key] = ("dataset", attrs, _plain(h5, folder, obj[()]), obj.dtype.str,
                            obj.chunks, obj.compression)
            else:
                out[key] = ("group", attrs)

        visit("")
        h5.visit_links(visit)
    return out


def _norm(value: Any) -> Any:
    """A pynwb field value, comparable between two reads (containers by object_id)."""
    if isinstance(value, AbstractContainer):
        return ("container", type(value).__name__, value.object_id)
    if isinstance(value, h5py.Dataset):
        value = value[()]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        if value.dtype.names:
            return [_norm(tuple(row)) for row in value]
        if value.dtype == object:
            return [_norm(v) for v in value.tolist()]
        return value.dtype.kind, value.shape, value.tobytes()
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, h5py.Reference):
        return "reference"
    return value


def containers(path: Path, hdmf_only: bool) -> dict[str, Any]:
    """object_id -> (type, name, every field) of every container pynwb (or hdmf) reads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io = (HDF5IO(str(path), mode="r", manager=get_hdmf_manager()) if hdmf_only
              else NWBHDF5IO(str(path), mode="r"))
        try:
            root = io.read()
            return {
                c.object_id: (type(c).__name__, c.name,
                              {k: _norm(v) for k, v in c.fields.items()})
                for c in [root, *root.all_children()] if isinstance(c, AbstractContainer)
            }
        finally:
            io.close()


@pytest.mark.parametrize("name", FILE_NAMES)
def test_round_trip(nwb_files: dict[str, Path], tmp_path: Path, name: str) -> None:
    source = nwb_files[name]
    target = tmp_path / "copy" / source.name
    target.parent.mkdir()
    with h5model.open(source) as f:
        written = h5model.write(f.root, target)
        n_models = sum(1 for _ in f.models())
    assert written == target
    expected, found = content(source), content(target)
    assert expected.keys() == found.keys()
    for key in expected:
        assert found[key] == expected[key], key
    with h5py.File(target) as h5:
        assert h5[h5.attrs[".specloc"]].name == "/specifications"
        assert set(h5["/specifications"]) >= {"hdmf-common"}
    hdmf_only = name in HDMF_ONLY
    before, after = containers(source, hdmf_only), containers(target, hdmf_only)
    assert len(after) == len(before) > 0
    for object_id, (type_name, obj_name, fields) in before.items():
        assert after[object_id][:2] == (type_name, obj_name)
        assert after[object_id][2] == fields, (type_name, obj_name)
    if not hdmf_only:
        assert_valid(target)
    with h5model.open(target) as f:
        assert sum(1 for _ in f.models()) == n_models
    if name == "external":
        with read_pynwb(target) as nwbfile:
            assert np.array_equal(nwbfile.acquisition["linked_series"].data[:], EXTERNAL_VALUES)


def test_round_trip_of_an_edited_file(copy: Callable[[str], Path], tmp_path: Path) -> None:
    """Models edited in memory (not saved) are written as they are now."""
    path = copy("ecephys")
    target = tmp_path / "edited_copy.nwb"
    with h5model.open(path, "r+") as f:
        f.get("/acquisition/raw_voltage").description = "only in the copy"
        f.get("/acquisition/raw_voltage").data.value = np.zeros((20, 6), np.int16)
        h5model.write(f.root, target)
    with read_pynwb(target) as nwbfile:
        assert nwbfile.acquisition["raw_voltage"].description == "only in the copy"
        assert nwbfile.acquisition["raw_voltage"].data.shape == (20, 6)
    assert_valid(target)
    with read_pynwb(path) as nwbfile:
        assert nwbfile.acquisition["raw_voltage"].description == "raw broadband voltage"


# ---------------------------------------------------------------------------
# h5model set
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target", "text", "expected"),
    [
        ("misc", "/session_description", "edited from the shell", "edited from the shell"),
        ("ecephys", "/acquisition/raw_voltage/data/conversion", "0.25", 0.25),
        ("extension", "/acquisition/tetrode_series/trode_id", "9", 9),
        ("misc", "/general/keywords", '["alpha", "beta", "gamma"]', ["alpha", "beta", "gamma"]),
        ("ecephys", "/units/description", "[not JSON] stays text", "[not JSON] stays text"),
    ],
)
def test_set_cli(copy: Callable[[str], Path], capsys: pytest.CaptureFixture[str], name: str,
                 target: str, text: str, expected: Any) -> None:
    path = copy(name)
    assert cli_main(["set", str(path), target, text]) == 0
    assert target in capsys.readouterr().out
    with read_pynwb(path) as nwbfile:
        value = {
            "/session_description": lambda: nwbfile.session_description,
            "/acquisition/raw_voltage/data/conversion":
                lambda: nwbfile.acquisition["raw_voltage"].conversion,
            "/acquisition/tetrode_series/trode_id":
                lambda: nwbfile.acquisition["tetrode_series"].trode_id,
            "/general/keywords": lambda: [str(k) for k in nwbfile.keywords[:]],
            "/units/description": lambda: nwbfile.units.description,
        }[target]()
    assert value == expected
    assert_valid(path)


@pytest.mark.parametrize(
    ("target", "text", "message"),
    [
        ("/acquisition/raw_voltage/data/conversion", "large", "not a valid float32 value"),
        ("/acquisition/raw_voltage/data/conversion", "true", "not a valid float32 value"),
        ("/acquisition/raw_voltage/starting_time/rate", "[1, 2]", "invalid value"),
        ("/acquisition/raw_voltage/nothing_here", "1", "no attribute or scalar dataset"),
        ("/no/such/object/attr", "1", "no object at this path"),
    ],
)
def test_set_cli_bad_values(copy: Callable[[str], Path], capsys: pytest.CaptureFixture[str],
                            target: str, text: str, message: str) -> None:
    path = copy("ecephys")
    before = sha256(path)
    assert cli_main(["set", str(path), target, text]) == 1
    err = capsys.readouterr().err
    assert err.startswith("h5model: error: ") and message in err
    assert "Traceback" not in err
    assert sha256(path) == before


def test_set_command_line(copy: Callable[[str], Path]) -> None:
    path = copy("ecephys")
    result = subprocess.run(
        [sys.executable, "-m", "h5model", "set", str(path), "/units/description",
         "from a script"], capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "'sorted units' -> 'from a script'" in result.stdout
    with read_pynwb(path) as nwbfile:
        assert nwbfile.units.description == "from a script"
    before = sha256(path)
    result = subprocess.run(
        [sys.executable, "-m", "h5model", "set", str(path),
         "/acquisition/raw_voltage/starting_time/rate", "fast"], capture_output=True,
        text=True, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("h5model: error: ")
    assert "'fast' is not a valid float32 value" in result.stderr
    assert sha256(path) == before


def test_set_cli_int_refuses_a_fraction(copy: Callable[[str], Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = copy("extension")
    before = sha256(path)
    assert cli_main(["set", str(path), "/acquisition/tetrode_series/trode_id", "1.5"]) == 1
    err = capsys.readouterr().err
    assert "h5model: error:" in err and "trode_id" in err and "integer" in err
    assert sha256(path) == before


def test_a_written_file_gets_the_mode_of_any_new_file_or_keeps_the_replaced_ones(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    """Not the 0600 of a private temporary file: a new file follows the umask, a replaced
    file keeps its permission bits; no temporary file is left beside it (the writers'
    lock beside it stays, by design)."""
    import os
    import stat

    mask = os.umask(0o022)
    try:
        with h5model.open(nwb_files["minimal"]) as f:
            h5model.write(f.root, tmp_path / "new.nwb")
            assert stat.S_IMODE((tmp_path / "new.nwb").stat().st_mode) == 0o644
            (tmp_path / "new.nwb").chmod(0o640)
            h5model.write(f.root, tmp_path / "new.nwb", overwrite=True)
            assert stat.S_IMODE((tmp_path / "new.nwb").stat().st_mode) == 0o640
    finally:
        os.umask(mask)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
