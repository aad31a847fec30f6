"""Checks that the test-file builders write what the rest of the suite relies on."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import OLD_FILES
from hdmf.backends.hdf5 import HDF5IO
from hdmf.common import get_manager as get_hdmf_manager
from nwbfiles import (
    ALL_FILE_NAMES,
    EXTENSION_NAMESPACE,
    EXTENSION_VERSION,
    EXTERNAL_LINK_PATH,
    EXTERNAL_TARGET_NAME,
    EXTERNAL_TARGET_PATH,
    EXTERNAL_VALUES,
    HDMF_ONLY,
    PIXEL_MASK_COUNTS,
    SOFTLINKS,
    SPIKE_COUNTS,
    write_extension,
)
from pynwb import NWBHDF5IO, validate

NWB_NAMES = [name for name in ALL_FILE_NAMES if name not in HDMF_ONLY]
ICEPHYS_TABLE = "general/intracellular_ephys/intracellular_recordings"

# HDF5 objects (path -> neurodata_type) that must be present in each file.
EXPECTED_TYPES: dict[str, dict[str, str]] = {
    "ecephys": {
        "general/extracellular_ephys/electrodes": "ElectrodesTable",
        "general/extracellular_ephys/shank0": "ElectrodeGroup",
        "general/devices/probe_device": "Device",
        "acquisition/raw_voltage": "ElectricalSeries",
        "acquisition/raw_voltage/electrodes": "DynamicTableRegion",
        "processing/ecephys/spike_events": "SpikeEventSeries",
        "units": "Units",
        "units/spike_times_index": "VectorIndex",
        "units/electrodes": "DynamicTableRegion",
        "units/obs_intervals_index": "VectorIndex",
        "units/waveforms_index_index": "VectorIndex",
    },
    "icephys": {
        "general/intracellular_ephys/patch_electrode": "IntracellularElectrode",
        "stimulus/presentation/cc_stimulus": "CurrentClampStimulusSeries",
        "acquisition/cc_response": "CurrentClampSeries",
        "stimulus/presentation/vc_stimulus": "VoltageClampStimulusSeries",
        "acquisition/vc_response": "VoltageClampSeries",
        ICEPHYS_TABLE: "IntracellularRecordingsTable",
        f"{ICEPHYS_TABLE}/stimuli/stimulus": "TimeSeriesReferenceVectorData",
        f"{ICEPHYS_TABLE}/responses/response": "TimeSeriesReferenceVectorData",
        "general/intracellular_ephys/simultaneous_recordings": "SimultaneousRecordingsTable",
        "general/intracellular_ephys/sequential_recordings": "SequentialRecordingsTable",
    },
    "ophys": {
        "general/optophysiology/imaging_plane": "ImagingPlane",
        "general/optophysiology/imaging_plane/green_channel": "OpticalChannel",
        "acquisition/two_photon": "TwoPhotonSeries",
        "processing/ophys/ImageSegmentation": "ImageSegmentation",
        "processing/ophys/ImageSegmentation/image_rois": "PlaneSegmentation",
        "processing/ophys/ImageSegmentation/pixel_rois/pixel_mask_index": "VectorIndex",
        "processing/ophys/Fluorescence/raw_fluorescence": "RoiResponseSeries",
        "processing/ophys/Fluorescence/raw_fluorescence/rois": "DynamicTableRegion",
    },
    "behavior": {
        "processing/behavior/Position/xy_position": "SpatialSeries",
        "processing/behavior/BehavioralEvents/licks": "TimeSeries",
        "processing/behavior/BehavioralTimeSeries/running_speed": "TimeSeries",
        "processing/behavior/CompassDirection/heading": "SpatialSeries",
        "processing/behavior/EyeTracking/gaze": "SpatialSeries",
        "processing/behavior/PupilTracking/pupil_diameter": "TimeSeries",
        "processing/behavior/BehavioralEpochs/running_bouts": "IntervalSeries",
    },
    "ogen": {
        "general/optogenetics/ogen_site": "OptogeneticStimulusSite",
        "general/devices/laser": "Device",
        "acquisition/laser_power": "OptogeneticSeries",
    },
    "misc": {
        "acquisition/annotations": "AnnotationSeries",
        "acquisition/features": "AbstractFeatureSeries",
        "acquisition/stimulus_on": "IntervalSeries",
        "processing/analysis/lfp_power": "DecompositionSeries",
        "processing/analysis/lfp_power/bands": "FrequencyBandsTable",
        "intervals/epochs": "TimeIntervals",
        "intervals/epochs/timeseries": "TimeSeriesReferenceVectorData",
        "intervals/epochs/tags_index": "VectorIndex",
        "intervals/trials": "TimeIntervals",
        "acquisition/stimulus_images": "Images",
        "acquisition/stimulus_images/gray": "GrayscaleImage",
        "acquisition/stimulus_images/color": "RGBImage",
        "acquisition/stimulus_images/order_of_images": "ImageReferences",
        "general/subject": "Subject",
    },
    "softlinks": {
        "acquisition/leader_timestamps": "TimeSeries",
        "acquisition/follower_timestamps": "TimeSeries",
    },
    "extension": {
        "acquisition/tetrode_series": "TetrodeSeries",
        "general/lab_notes": "LabNotes",
    },
    "minimal": {"acquisition/series": "TimeSeries"},
}


def _errors(result: object) -> list[object]:
    """Normalise the result of pynwb.validate (a list, or (errors, status) in old releases)."""
    if isinstance(result, tuple):
        result = result[0]
    assert isinstance(result, list)
    return result


def test_builder_names(nwb_files: dict[str, Path]) -> None:
    assert set(ALL_FILE_NAMES) | set(OLD_FILES) == set(nwb_files)
    for path in nwb_files.values():
        assert path.is_file()
        assert path.stat().st_size < 400_000


@pytest.mark.parametrize("name", NWB_NAMES + list(OLD_FILES))
def test_pynwb_reads_and_validates(nwb_files: dict[str, Path], name: str) -> None:
    path = nwb_files[name]
    with NWBHDF5IO(str(path), mode="r") as io:
        nwbfile = io.read()
        assert nwbfile.identifier
        assert nwbfile.session_start_time.tzinfo is not None
    assert _errors(validate(path=path)) == []


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_expected_neurodata_types(nwb_files: dict[str, Path], name: str) -> None:
    with h5py.File(nwb_files[name], "r") as f:
        assert f.attrs["neurodata_type"] == "NWBFile"
        assert "core" in f["specifications"]
        for obj_path, neurodata_type in EXPECTED_TYPES[name].items():
            assert obj_path in f, obj_path
            assert f[obj_path].attrs.get("neurodata_type") == neurodata_type, obj_path


def test_ecephys_contents(nwb_files: dict[str, Path]) -> None:
    with NWBHDF5IO(str(nwb_files["ecephys"]), mode="r") as io:
        nwbfile = io.read()
        assert "channel_label" in nwbfile.electrodes.colnames
        units = nwbfile.units
        counts = tuple(len(units["spike_times"][i]) for i in range(len(units)))
        assert counts == SPIKE_COUNTS
        assert 0 in counts
        assert units["electrodes"].target.table is nwbfile.electrodes
        assert len(units["obs_intervals"][0]) == 2
        raw = nwbfile.acquisition["raw_voltage"]
        assert raw.electrodes.table is nwbfile.electrodes
        assert raw.data.shape == (100, 6)


def test_ophys_ragged_pixel_mask(nwb_files: dict[str, Path]) -> None:
    with h5py.File(nwb_files["ophys"], "r") as f:
        seg = f["processing/ophys/ImageSegmentation/pixel_rois"]
        assert seg["pixel_mask"].dtype.names == ("x", "y", "weight")
        assert list(seg["pixel_mask_index"][:]) == list(np.cumsum(PIXEL_MASK_COUNTS))
        assert f["processing/ophys/ImageSegmentation/image_rois/image_mask"].shape == (3, 8, 8)


def test_icephys_table(nwb_files: dict[str, Path]) -> None:
    with NWBHDF5IO(str(nwb_files["icephys"]), mode="r") as io:
        nwbfile = io.read()
        recordings = nwbfile.intracellular_recordings
        assert len(recordings) == 3
        stimuli = recordings["stimuli"]["stimulus"]
        assert stimuli[0].timeseries.name == "cc_stimulus"
        assert stimuli[2].timeseries is None  # the response-only row
        assert len(nwbfile.icephys_sequential_recordings) == 1
    # On disk the missing stimulus is (-1, -1, reference to the response).
    with h5py.File(nwb_files["icephys"], "r") as f:
        stored = f[f"{ICEPHYS_TABLE}/stimuli/stimulus"][:]
        assert (int(stored[2]["idx_start"]), int(stored[2]["count"])) == (-1, -1)
        assert f[stored[2]["timeseries"]].name == "/acquisition/vc_response"


def test_softlinks_are_soft(nwb_files: dict[str, Path]) -> None:
    with h5py.File(nwb_files["softlinks"], "r") as f:
        for link_path, target in SOFTLINKS.items():
            link = f.get(link_path, getlink=True)
            assert isinstance(link, h5py.SoftLink)
            assert link.path == target
    with NWBHDF5IO(str(nwb_files["softlinks"]), mode="r") as io:
        acq = io.read().acquisition
        assert np.array_equal(acq["follower_timestamps"].timestamps[:], np.linspace(0, 0.7, 8))
        assert np.array_equal(acq["follower_data"].data[:], np.arange(6))


def test_external_link(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = nwb_files["external"]
    assert path.name == "external.nwb"
    assert (path.parent / EXTERNAL_TARGET_NAME).is_file()
    with h5py.File(path, "r") as f:
        link = f.get(EXTERNAL_LINK_PATH, getlink=True)
        assert isinstance(link, h5py.ExternalLink)
        assert link.filename == EXTERNAL_TARGET_NAME
        assert link.path == EXTERNAL_TARGET_PATH

    # The pair can be moved together and read from any working directory.
    moved = tmp_path / "moved"
    moved.mkdir()
    for file_name in (path.name, EXTERNAL_TARGET_NAME):
        shutil.copy(path.parent / file_name, moved / file_name)
    monkeypatch.chdir(tmp_path)
    with NWBHDF5IO(str(moved / path.name), mode="r") as io:
        data = io.read().acquisition["linked_series"].data[:]
    assert np.array_equal(data, EXTERNAL_VALUES)


def test_extension_cached_and_repeatable(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    path = nwb_files["extension"]
    with h5py.File(path, "r") as f:
        assert list(f[f"specifications/{EXTENSION_NAMESPACE}"]) == [EXTENSION_VERSION]
        assert f["acquisition/tetrode_series"].attrs["trode_id"] == 7
        assert f["general/lab_notes"].attrs["temperature"] == 21.5
    with NWBHDF5IO(str(path), mode="r") as io:
        nwbfile = io.read()
        assert nwbfile.acquisition["tetrode_series"].trode_id == 7
        assert nwbfile.lab_meta_data["lab_notes"].notes == "The mouse was calm."
    # A second call in the same process works and does not leak the namespace.
    second = write_extension(tmp_path)
    assert second.is_file()
    with h5py.File(nwb_files["minimal"], "r") as f:
        assert EXTENSION_NAMESPACE not in f["specifications"]


def test_hdmf_table(nwb_files: dict[str, Path]) -> None:
    path = nwb_files["hdmf_table"]
    with h5py.File(path, "r") as f:
        assert f.attrs["data_type"] == "SimpleMultiContainer"
        assert f.attrs["namespace"] == "hdmf-common"
        assert "hdmf-common" in f["specifications"]
        assert "core" not in f["specifications"]
    with HDF5IO(str(path), manager=get_hdmf_manager(), mode="r") as io:
        root = io.read()
        main = root["main"]
        assert list(main["tags"][0]) == ["x", "y"]
        assert list(main["tags"][1]) == []
        assert list(main["samples"][3]) == [4.0, 5.0, 6.0, 7.0]
        assert main["target"].table is root["targets"]
        assert list(main.id[:]) == [10, 11, 12, 13]


@pytest.mark.parametrize("name", sorted(OLD_FILES))
def test_old_files_versions(nwb_files: dict[str, Path], name: str) -> None:
    with h5py.File(nwb_files[name], "r") as f:
        assert f.attrs["nwb_version"] == "2.7.0"
        assert list(f["specifications/core"]) == ["2.7.0"]
        assert list(f["specifications/hdmf-common"]) == ["1.8.0"]
