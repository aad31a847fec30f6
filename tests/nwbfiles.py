"""Builders for small, deterministic HDF5 test files written by pynwb / hdmf.

Every builder has the signature ``write_<area>(directory) -> path``: it writes one
file (``external`` writes two) into ``directory`` and returns the path of the file
under test.  The content is fixed (seeded random numbers, fixed identifiers and
timestamps); only the ``object_id`` UUIDs that hdmf assigns differ between runs.

``BUILDERS`` maps the area name to its builder and ``ALL_FILE_NAMES`` lists the
area names in a stable order for ``pytest.mark.parametrize``.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
from hdmf.backends.hdf5 import HDF5IO
from hdmf.build import BuildManager
from hdmf.common import (
    DynamicTable,
    DynamicTableRegion,
    SimpleMultiContainer,
    VectorData,
    VectorIndex,
)
from hdmf.common import get_manager as get_hdmf_manager
from pynwb import NWBHDF5IO, NWBFile, TimeSeries, get_type_map
from pynwb.base import ImageReferences, Images
from pynwb.behavior import (
    BehavioralEpochs,
    BehavioralEvents,
    BehavioralTimeSeries,
    CompassDirection,
    EyeTracking,
    Position,
    PupilTracking,
    SpatialSeries,
)
from pynwb.ecephys import ElectricalSeries, SpikeEventSeries
from pynwb.file import Subject
from pynwb.icephys import (
    CurrentClampSeries,
    CurrentClampStimulusSeries,
    VoltageClampSeries,
    VoltageClampStimulusSeries,
)
from pynwb.image import GrayscaleImage, IndexSeries, RGBImage
from pynwb.misc import (
    AbstractFeatureSeries,
    AnnotationSeries,
    DecompositionSeries,
    IntervalSeries,
    Units,
)
from pynwb.ophys import (
    DfOverF,
    Fluorescence,
    ImageSegmentation,
    PlaneSegmentation,
    RoiResponseSeries,
)
from pynwb.spec import NWBAttributeSpec, NWBDatasetSpec, NWBGroupSpec, NWBNamespaceBuilder
from pynwb.testing.mock.device import mock_Device, mock_DeviceModel
from pynwb.testing.mock.ecephys import mock_ElectrodeGroup
from pynwb.testing.mock.file import mock_NWBFile
from pynwb.testing.mock.icephys import mock_IntracellularElectrode
from pynwb.testing.mock.ogen import mock_OptogeneticSeries, mock_OptogeneticStimulusSite
from pynwb.testing.mock.ophys import (
    mock_ImagingPlane,
    mock_OpticalChannel,
    mock_TwoPhotonSeries,
)

SESSION_START = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
FILE_CREATED = datetime(2024, 1, 2, 4, 0, 0, tzinfo=UTC)

# Number of spikes per unit in the ecephys file; unit 2 has none on purpose.
SPIKE_COUNTS = (5, 2, 0, 7)

# Pixel-mask sizes per ROI in the ophys file.
PIXEL_MASK_COUNTS = (3, 1, 6)

# Names used by the ``external`` builder.
EXTERNAL_TARGET_NAME = "external_target.nwb"
EXTERNAL_TARGET_PATH = "/acquisition/target_series/data"
EXTERNAL_LINK_PATH = "/acquisition/linked_series/data"
EXTERNAL_VALUES = np.arange(20, dtype=np.float64) * 0.5

# Paths of the soft links the ``softlinks`` builder creates (link path -> target path).
SOFTLINKS = {
    "/acquisition/follower_timestamps/timestamps": "/acquisition/leader_timestamps/timestamps",
    "/acquisition/follower_data/data": "/acquisition/leader_data/data",
}

EXTENSION_NAMESPACE = "ndx-test-ext"
EXTENSION_VERSION = "0.1.0"


def _new_file(identifier: str, **kwargs: object) -> NWBFile:
    """Return an NWBFile with a fixed identifier and fixed dates."""
    kwargs.setdefault("session_description", f"test file for {identifier}")
    return mock_NWBFile(
        identifier=f"h5model-test-{identifier}",
        session_start_time=SESSION_START,
        file_create_date=FILE_CREATED,
        **kwargs,
    )


def _write_nwb(nwbfile: NWBFile, path: Path, manager: BuildManager | None = None) -> Path:
    with NWBHDF5IO(str(path), mode="w", manager=manager) as io:
        io.write(nwbfile)
    return path


# ---------------------------------------------------------------------------
# extracellular electrophysiology
# ---------------------------------------------------------------------------


def write_ecephys(directory: Path) -> Path:
    rng = np.random.default_rng(1)
    nwbfile = _new_file("ecephys")

    probe_model = mock_DeviceModel(
        name="probe_model",
        manufacturer="Acme",
        model_number="P-64",
        description="a 64-channel silicon probe model",
        nwbfile=nwbfile,
    )
    device = mock_Device(
        name="probe_device",
        description="a silicon probe",
        serial_number="SN-0001",
        model=probe_model,
        nwbfile=nwbfile,
    )
    shank0 = mock_ElectrodeGroup(
        name="shank0", description="first shank", location="CA1", device=device, nwbfile=nwbfile
    )
    shank1 = mock_ElectrodeGroup(
        name="shank1", description="second shank", location="CA3", device=device, nwbfile=nwbfile
    )

    nwbfile.add_electrode_column(name="channel_label", description="label printed on the probe")
    for i in range(6):
        group = shank0 if i < 3 else shank1
        nwbfile.add_electrode(
            location=group.location,
            group=group,
            x=float(i),
            y=2.0 * i,
            z=-1.0,
            imp=1.5e6 + i,
            filtering="none",
            channel_label=f"ch{i:02d}",
        )

    all_channels = nwbfile.create_electrode_table_region(
        region=list(range(6)), description="all six channels"
    )
    raw = ElectricalSeries(
        name="raw_voltage",
        description="raw broadband voltage",
        data=rng.integers(-500, 500, size=(100, 6)).astype(np.int16),
        electrodes=all_channels,
        starting_time=0.0,
        rate=1000.0,
        conversion=1e-6,
        filtering="none",
        channel_conversion=np.linspace(0.9, 1.1, 6),
    )
    nwbfile.add_acquisition(raw)

    ecephys = nwbfile.create_processing_module(name="ecephys", description="processed ecephys")
    spike_channels = nwbfile.create_electrode_table_region(
        region=[0, 1, 2], description="channels of shank0"
    )
    spikes = SpikeEventSeries(
        name="spike_events",
        description="snippets around detected spikes",
        data=rng.normal(size=(4, 3, 8)),
        timestamps=np.array([0.01, 0.03, 0.055, 0.09]),
        electrodes=spike_channels,
    )
    ecephys.add(spikes)

    units = Units(
        name="units",
        description="sorted units",
        electrode_table=nwbfile.electrodes,
        waveform_rate=30000.0,
        waveform_unit="volts",
    )
    nwbfile.units = units
    units.add_column(name="quality", description="sorting quality label")
    unit_electrodes = ([0, 1], [2], [3, 4, 5], [1])
    n_samples = 4
    for unit_index, count in enumerate(SPIKE_COUNTS):
        times = np.round(np.sort(rng.uniform(0.0, 0.1, size=count)), 6)
        elecs = unit_electrodes[unit_index]
        waveforms = rng.normal(size=(count, len(elecs), n_samples))
        units.add_unit(
            spike_times=times,
            obs_intervals=[[0.0, 0.05], [0.06, 0.1]] if unit_index % 2 == 0 else [[0.0, 0.1]],
            electrodes=elecs,
            electrode_group=shank0 if elecs[0] < 3 else shank1,
            waveform_mean=rng.normal(size=n_samples),
            waveforms=waveforms if count else np.zeros((0, len(elecs), n_samples)),
            quality="good" if unit_index % 2 == 0 else "mua",
            id=100 + unit_index,
        )

    return _write_nwb(nwbfile, directory / "ecephys.nwb")


# ---------------------------------------------------------------------------
# intracellular electrophysiology
# ---------------------------------------------------------------------------


def write_icephys(directory: Path) -> Path:
    rng = np.random.default_rng(2)
    nwbfile = _new_file("icephys")
    amplifier = mock_Device(name="amplifier", description="patch amplifier", nwbfile=nwbfile)
    electrode = mock_IntracellularElectrode(
        name="patch_electrode", description="whole-cell pipette", device=amplifier, nwbfile=nwbfile
    )

    cc_stim = CurrentClampStimulusSeries(
        name="cc_stimulus",
        data=np.concatenate([np.zeros(10), np.full(20, 1e-10), np.zeros(10)]),
        starting_time=0.0,
        rate=10000.0,
        electrode=electrode,
        gain=1.0,
        sweep_number=np.uint32(0),
    )
    cc_resp = CurrentClampSeries(
        name="cc_response",
        data=-0.07 + 0.001 * rng.normal(size=40),
        starting_time=0.0,
        rate=10000.0,
        electrode=electrode,
        gain=1.0,
        bias_current=0.0,
        bridge_balance=1e7,
        capacitance_compensation=1e-12,
        sweep_number=np.uint32(0),
    )
    vc_stim = VoltageClampStimulusSeries(
        name="vc_stimulus",
        data=np.concatenate([np.full(10, -0.07), np.full(15, -0.05), np.full(5, -0.07)]),
        starting_time=1.0,
        rate=10000.0,
        electrode=electrode,
        gain=1.0,
        sweep_number=np.uint32(1),
    )
    vc_resp = VoltageClampSeries(
        name="vc_response",
        data=1e-10 * rng.normal(size=30),
        starting_time=1.0,
        rate=10000.0,
        electrode=electrode,
        gain=1.0,
        capacitance_fast=1e-12,
        capacitance_slow=2e-12,
        resistance_comp_bandwidth=1000.0,
        resistance_comp_correction=70.0,
        resistance_comp_prediction=70.0,
        whole_cell_capacitance_comp=1e-12,
        whole_cell_series_resistance_comp=1e7,
        sweep_number=np.uint32(1),
    )

    row_cc = nwbfile.add_intracellular_recording(
        electrode=electrode,
        stimulus=cc_stim,
        stimulus_start_index=0,
        stimulus_index_count=40,
        response=cc_resp,
        response_start_index=0,
        response_index_count=40,
    )
    row_vc = nwbfile.add_intracellular_recording(
        electrode=electrode,
        stimulus=vc_stim,
        response=vc_resp,
    )
    # A recording with a response only; its stimulus reference is the "missing" value.
    row_partial = nwbfile.add_intracellular_recording(
        electrode=electrode,
        response=vc_resp,
        response_start_index=10,
        response_index_count=15,
    )

    sim0 = nwbfile.add_icephys_simultaneous_recording(recordings=[row_cc])
    sim1 = nwbfile.add_icephys_simultaneous_recording(recordings=[row_vc, row_partial])
    seq0 = nwbfile.add_icephys_sequential_recording(
        simultaneous_recordings=[sim0, sim1], stimulus_type="step"
    )
    rep0 = nwbfile.add_icephys_repetition(sequential_recordings=[seq0])
    nwbfile.add_icephys_experimental_condition(repetitions=[rep0])

    return _write_nwb(nwbfile, directory / "icephys.nwb")


# ---------------------------------------------------------------------------
# optical physiology
# ---------------------------------------------------------------------------


def write_ophys(directory: Path) -> Path:
    rng = np.random.default_rng(3)
    nwbfile = _new_file("ophys")
    microscope = mock_Device(name="microscope", description="two-photon scope", nwbfile=nwbfile)
    channel = mock_OpticalChannel(
        name="green_channel", description="GCaMP emission", emission_lambda=525.0
    )
    plane = mock_ImagingPlane(
        name="imaging_plane",
        optical_channel=channel,
        description="layer 2/3",
        device=microscope,
        excitation_lambda=920.0,
        indicator="GCaMP6f",
        location="V1",
        imaging_rate=30.0,
        origin_coords=np.array([0.1, 0.2, 0.3]),
        grid_spacing=np.array([0.01, 0.01]),
        nwbfile=nwbfile,
    )
    two_photon = mock_TwoPhotonSeries(
        name="two_photon",
        imaging_plane=plane,
        data=rng.integers(0, 4096, size=(10, 8, 8)).astype(np.uint16),
        rate=30.0,
        unit="n.a.",
        field_of_view=np.array([0.08, 0.08]),
        dimension=np.array([8, 8]),
        nwbfile=nwbfile,
    )

    ophys = nwbfile.create_processing_module(name="ophys", description="processed ophys")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    ophys.add(segmentation)

    image_rois = PlaneSegmentation(
        name="image_rois",
        description="ROIs stored as image masks",
        imaging_plane=plane,
        reference_images=two_photon,
    )
    for roi in range(3):
        mask = np.zeros((8, 8), dtype=np.float32)
        mask[roi : roi + 3, roi : roi + 2] = 1.0
        image_rois.add_roi(image_mask=mask)
    segmentation.add_plane_segmentation(image_rois)

    pixel_rois = PlaneSegmentation(
        name="pixel_rois",
        description="ROIs stored as pixel masks",
        imaging_plane=plane,
    )
    for roi, count in enumerate(PIXEL_MASK_COUNTS):
        pixels = [(roi + k, 7 - k, round(1.0 / (k + 1), 3)) for k in range(count)]
        pixel_rois.add_roi(pixel_mask=pixels)
    segmentation.add_plane_segmentation(pixel_rois)

    fluo_region = image_rois.create_roi_table_region(
        region=[0, 1, 2], description="all image-mask ROIs"
    )
    fluorescence = Fluorescence(name="Fluorescence")
    ophys.add(fluorescence)
    fluorescence.create_roi_response_series(
        name="raw_fluorescence",
        data=rng.normal(size=(10, 3)).astype(np.float32),
        rois=fluo_region,
        unit="lumens",
        rate=30.0,
    )

    dff_region = pixel_rois.create_roi_table_region(region=[0, 2], description="two pixel ROIs")
    dff = DfOverF(name="DfOverF")
    ophys.add(dff)
    dff.add_roi_response_series(
        RoiResponseSeries(
            name="dff",
            data=rng.normal(size=(10, 2)),
            rois=dff_region,
            unit="n.a.",
            timestamps=np.arange(10) / 30.0,
        )
    )

    return _write_nwb(nwbfile, directory / "ophys.nwb")


# ---------------------------------------------------------------------------
# behavior
# ---------------------------------------------------------------------------


def write_behavior(directory: Path) -> Path:
    rng = np.random.default_rng(4)
    nwbfile = _new_file("behavior")
    behavior = nwbfile.create_processing_module(name="behavior", description="behavioral data")
    t = np.arange(20) / 10.0

    position = Position(name="Position")
    position.create_spatial_series(
        name="xy_position",
        data=np.cumsum(rng.normal(size=(20, 2)), axis=0),
        reference_frame="arena centre is (0, 0)",
        unit="meters",
        timestamps=t,
    )
    behavior.add(position)

    # BehavioralEvents is deprecated in recent pynwb but still part of the schema.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="BehavioralEvents is deprecated")
        events = BehavioralEvents(name="BehavioralEvents")
    events.add_timeseries(
        TimeSeries(
            name="licks",
            data=np.ones(5, dtype=np.uint8),
            unit="n.a.",
            timestamps=np.array([0.2, 0.45, 0.9, 1.3, 1.75]),
            description="lick detections",
        )
    )
    behavior.add(events)

    speed = BehavioralTimeSeries(name="BehavioralTimeSeries")
    speed.add_timeseries(
        TimeSeries(
            name="running_speed",
            data=np.abs(rng.normal(size=20)),
            unit="m/s",
            starting_time=0.0,
            rate=10.0,
        )
    )
    behavior.add(speed)

    compass = CompassDirection(name="CompassDirection")
    compass.add_spatial_series(
        SpatialSeries(
            name="heading",
            data=np.mod(np.cumsum(rng.normal(size=20)), 2 * np.pi),
            reference_frame="0 is north",
            unit="radians",
            starting_time=0.0,
            rate=10.0,
        )
    )
    behavior.add(compass)

    eyes = EyeTracking(name="EyeTracking")
    eyes.add_spatial_series(
        SpatialSeries(
            name="gaze",
            data=rng.normal(size=(20, 2)),
            reference_frame="screen centre is (0, 0)",
            unit="degrees",
            starting_time=0.0,
            rate=10.0,
        )
    )
    behavior.add(eyes)

    pupil = PupilTracking(name="PupilTracking")
    pupil.add_timeseries(
        TimeSeries(
            name="pupil_diameter",
            data=1.0 + 0.1 * rng.normal(size=20),
            unit="millimeters",
            starting_time=0.0,
            rate=10.0,
        )
    )
    behavior.add(pupil)

    epochs = BehavioralEpochs(name="BehavioralEpochs")
    epochs.add_interval_series(
        IntervalSeries(
            name="running_bouts",
            data=np.array([1, -1, 1, -1], dtype=np.int8),
            timestamps=np.array([0.1, 0.6, 1.0, 1.8]),
        )
    )
    behavior.add(epochs)

    return _write_nwb(nwbfile, directory / "behavior.nwb")


# ---------------------------------------------------------------------------
# optogenetics
# ---------------------------------------------------------------------------


def write_ogen(directory: Path) -> Path:
    nwbfile = _new_file("ogen")
    laser = mock_Device(name="laser", description="473 nm laser", nwbfile=nwbfile)
    site = mock_OptogeneticStimulusSite(
        name="ogen_site",
        device=laser,
        description="fibre above CA1",
        excitation_lambda=473.0,
        location="CA1",
        nwbfile=nwbfile,
    )
    mock_OptogeneticSeries(
        name="laser_power",
        data=np.tile(np.array([0.0, 0.01, 0.01, 0.0]), 5),
        site=site,
        rate=100.0,
        starting_time=0.5,
        description="laser power in watts",
        nwbfile=nwbfile,
    )
    return _write_nwb(nwbfile, directory / "ogen.nwb")


# ---------------------------------------------------------------------------
# miscellaneous types, intervals, images and metadata
# ---------------------------------------------------------------------------


def write_misc(directory: Path) -> Path:
    rng = np.random.default_rng(5)
    nwbfile = _new_file(
        "misc",
        session_description="misc types and metadata",
        experimenter=["Doe, Jane", "Roe, Richard"],
        experiment_description="an experiment used only to make test files",
        session_id="session-0001",
        institution="Example Institute",
        lab="Example Lab",
        keywords=["test", "hdf5"],
        notes="these are notes",
        pharmacology="none",
        protocol="protocol-42",
        related_publications=["doi:10.0000/example"],
        surgery="craniotomy",
        virus="none",
        stimulus_notes="gratings",
        data_collection="collected by a script",
        source_script="make_files.py",
        source_script_file_name="make_files.py",
    )
    nwbfile.subject = Subject(
        subject_id="mouse-001",
        age="P90D",
        description="a test mouse",
        genotype="wild type",
        sex="M",
        species="Mus musculus",
        strain="C57BL/6J",
        weight="0.025 kg",
        date_of_birth=datetime(2023, 10, 4, tzinfo=UTC),
    )

    signal = TimeSeries(
        name="signal",
        data=rng.normal(size=50),
        unit="volts",
        starting_time=0.0,
        rate=10.0,
        description="a plain signal",
    )
    nwbfile.add_acquisition(signal)

    # AnnotationSeries is deprecated in recent pynwb but still part of the schema.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="AnnotationSeries is deprecated")
        annotations = AnnotationSeries(
            name="annotations",
            data=["start", "reward", "stop"],
            timestamps=np.array([0.0, 1.5, 4.9]),
        )
    nwbfile.add_acquisition(annotations)
    nwbfile.add_acquisition(
        AbstractFeatureSeries(
            name="features",
            feature_units=["Hz", "degrees"],
            features=["frequency", "orientation"],
            data=rng.normal(size=(6, 2)),
            timestamps=np.arange(6) * 0.5,
        )
    )
    nwbfile.add_acquisition(
        IntervalSeries(
            name="stimulus_on",
            data=np.array([1, -1, 2, -2], dtype=np.int8),
            timestamps=np.array([0.5, 1.0, 2.0, 3.0]),
        )
    )

    decomposition = DecompositionSeries(
        name="lfp_power",
        data=rng.random(size=(5, 1, 3)),
        metric="power",
        unit="V**2/Hz",
        source_timeseries=signal,
        starting_time=0.0,
        rate=2.0,
        description="band power of the signal",
    )
    for band, low, high, stdev in (
        ("theta", 4.0, 8.0, 1.0),
        ("beta", 13.0, 30.0, 4.0),
        ("gamma", 30.0, 80.0, 10.0),
    ):
        decomposition.add_band(
            band_name=band, band_limits=(low, high), band_mean=(low + high) / 2, band_stdev=stdev
        )
    analysis = nwbfile.create_processing_module(name="analysis", description="derived data")
    analysis.add(decomposition)

    # Ragged tags: one, two and three per epoch.
    for start, stop, tags in (
        (0.0, 2.0, ["baseline"]),
        (2.0, 4.0, ["stim", "grating"]),
        (4.0, 5.0, ["rest", "dark", "quiet"]),
    ):
        nwbfile.add_epoch(start_time=start, stop_time=stop, tags=tags, timeseries=[signal])

    nwbfile.add_trial_column(name="correct", description="whether the trial was correct")
    nwbfile.add_trial_column(name="condition", description="stimulus condition")
    for i in range(4):
        nwbfile.add_trial(
            start_time=float(i),
            stop_time=i + 0.8,
            correct=bool(i % 2),
            condition=f"cond-{i % 2}",
        )

    gray = GrayscaleImage(
        name="gray",
        data=rng.integers(0, 255, size=(6, 5)).astype(np.uint8),
        resolution=10.0,
        description="a grayscale image",
    )
    color = RGBImage(
        name="color",
        data=rng.integers(0, 255, size=(6, 5, 3)).astype(np.uint8),
        resolution=10.0,
        description="an RGB image",
    )
    images = Images(
        name="stimulus_images",
        images=[gray, color],
        description="images shown to the subject",
        order_of_images=ImageReferences(name="order_of_images", data=[color, gray]),
    )
    nwbfile.add_acquisition(images)
    nwbfile.add_stimulus(
        IndexSeries(
            name="image_index",
            data=np.array([0, 1, 0], dtype=np.uint32),
            unit="N/A",
            indexed_images=images,
            timestamps=np.array([0.0, 1.0, 2.0]),
        )
    )

    nwbfile.add_invalid_time_interval(start_time=4.5, stop_time=4.6)

    return _write_nwb(nwbfile, directory / "misc.nwb")


# ---------------------------------------------------------------------------
# soft links
# ---------------------------------------------------------------------------


def write_softlinks(directory: Path) -> Path:
    nwbfile = _new_file("softlinks")
    leader_t = TimeSeries(
        name="leader_timestamps",
        data=np.arange(8, dtype=np.float64),
        unit="volts",
        timestamps=np.linspace(0.0, 0.7, 8),
    )
    follower_t = TimeSeries(
        name="follower_timestamps",
        data=np.arange(8, dtype=np.float64) * 2.0,
        unit="volts",
        timestamps=leader_t,
    )
    leader_d = TimeSeries(
        name="leader_data",
        data=np.arange(6, dtype=np.int32),
        unit="counts",
        starting_time=0.0,
        rate=5.0,
    )
    follower_d = TimeSeries(
        name="follower_data",
        data=leader_d,
        unit="counts",
        starting_time=10.0,
        rate=5.0,
    )
    for series in (leader_t, follower_t, leader_d, follower_d):
        nwbfile.add_acquisition(series)
    path = _write_nwb(nwbfile, directory / "softlinks.nwb")

    with h5py.File(path, "r") as f:
        for link_path, target in SOFTLINKS.items():
            link = f.get(link_path, getlink=True)
            if not isinstance(link, h5py.SoftLink) or link.path != target:
                raise RuntimeError(f"{link_path} is not a soft link to {target}: {link!r}")
    return path


# ---------------------------------------------------------------------------
# external links
# ---------------------------------------------------------------------------


def write_external(directory: Path) -> Path:
    target_file = _new_file("external-target")
    target_file.add_acquisition(
        TimeSeries(
            name="target_series",
            data=EXTERNAL_VALUES,
            unit="volts",
            starting_time=0.0,
            rate=100.0,
        )
    )
    _write_nwb(target_file, directory / EXTERNAL_TARGET_NAME)

    main_file = _new_file("external")
    main_file.add_acquisition(
        TimeSeries(
            name="linked_series",
            data=np.zeros_like(EXTERNAL_VALUES),
            unit="volts",
            starting_time=0.0,
            rate=100.0,
        )
    )
    path = _write_nwb(main_file, directory / "external.nwb")

    # Swap the placeholder dataset for a link into the target file.  The file name is
    # relative, so HDF5 resolves it next to external.nwb.
    with h5py.File(path, "r+") as f:
        del f[EXTERNAL_LINK_PATH]
        f[EXTERNAL_LINK_PATH] = h5py.ExternalLink(EXTERNAL_TARGET_NAME, EXTERNAL_TARGET_PATH)

    with NWBHDF5IO(str(path), mode="r") as io:
        values = io.read().acquisition["linked_series"].data[:]
    if not np.array_equal(values, EXTERNAL_VALUES):
        raise RuntimeError("external link does not resolve to the target data")
    return path


# ---------------------------------------------------------------------------
# extension namespace
# ---------------------------------------------------------------------------


def _extension_specs() -> tuple[NWBGroupSpec, NWBGroupSpec]:
    tetrode = NWBGroupSpec(
        neurodata_type_def="TetrodeSeries",
        neurodata_type_inc="ElectricalSeries",
        doc="An ElectricalSeries recorded from one tetrode.",
        attributes=[
            NWBAttributeSpec(name="trode_id", doc="identifier of the tetrode", dtype="int32"),
        ],
    )
    notes = NWBGroupSpec(
        neurodata_type_def="LabNotes",
        neurodata_type_inc="LabMetaData",
        doc="Free-text notes from the lab book.",
        datasets=[
            NWBDatasetSpec(name="notes", doc="the text of the notes", dtype="text"),
        ],
        attributes=[
            NWBAttributeSpec(name="temperature", doc="room temperature in Celsius", dtype="float"),
        ],
    )
    return tetrode, notes


def _extension_type_map():
    """Return a private copy of the NWB type map with the test extension loaded.

    The global pynwb type map is left alone: the writer caches every namespace of
    its type map into a file, so loading the extension globally would leak it into
    every file written later in the same process.
    """
    type_map = get_type_map()
    with tempfile.TemporaryDirectory() as spec_dir:
        builder = NWBNamespaceBuilder(
            doc="Extension used by the h5model tests.",
            name=EXTENSION_NAMESPACE,
            version=EXTENSION_VERSION,
            author=["h5model developers"],
            contact=["h5model@example.org"],
        )
        builder.include_namespace("core")
        source = f"{EXTENSION_NAMESPACE}.extensions.yaml"
        for spec in _extension_specs():
            builder.add_spec(source, spec)
        namespace_file = f"{EXTENSION_NAMESPACE}.namespace.yaml"
        builder.export(namespace_file, outdir=spec_dir)
        type_map.load_namespaces(str(Path(spec_dir) / namespace_file))
    return type_map


def write_extension(directory: Path) -> Path:
    type_map = _extension_type_map()
    tetrode_cls = type_map.get_dt_container_cls("TetrodeSeries", EXTENSION_NAMESPACE)
    notes_cls = type_map.get_dt_container_cls("LabNotes", EXTENSION_NAMESPACE)

    rng = np.random.default_rng(6)
    nwbfile = _new_file("extension")
    device = mock_Device(name="tetrode_drive", description="a tetrode drive", nwbfile=nwbfile)
    group = mock_ElectrodeGroup(
        name="tetrode1", description="tetrode 1", location="CA1", device=device, nwbfile=nwbfile
    )
    for _ in range(4):
        nwbfile.add_electrode(location="CA1", group=group)
    region = nwbfile.create_electrode_table_region(region=[0, 1, 2, 3], description="tetrode 1")
    nwbfile.add_acquisition(
        tetrode_cls(
            name="tetrode_series",
            data=rng.normal(size=(12, 4)),
            electrodes=region,
            rate=1000.0,
            starting_time=0.0,
            trode_id=np.int32(7),
        )
    )
    nwbfile.add_lab_meta_data(
        notes_cls(name="lab_notes", notes="The mouse was calm.", temperature=21.5)
    )
    return _write_nwb(nwbfile, directory / "extension.nwb", manager=BuildManager(type_map))


# ---------------------------------------------------------------------------
# plain HDMF file
# ---------------------------------------------------------------------------


def write_hdmf_table(directory: Path) -> Path:
    targets = DynamicTable(
        name="targets",
        description="the table referenced by the region column",
        columns=[
            VectorData(name="label", description="target label", data=["a", "b", "c"]),
            VectorData(name="weight", description="target weight", data=[0.5, 1.5, 2.5]),
        ],
    )

    tags = VectorData(
        name="tags",
        description="ragged string tags",
        data=["x", "y", "z", "x", "w", "v"],
    )
    tags_index = VectorIndex(name="tags_index", data=[2, 2, 3, 6], target=tags)
    samples = VectorData(
        name="samples",
        description="ragged numeric samples",
        data=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
    )
    samples_index = VectorIndex(name="samples_index", data=[1, 3, 3, 7], target=samples)
    target_ref = DynamicTableRegion(
        name="target",
        description="row of the targets table",
        data=[0, 2, 1, 2],
        table=targets,
    )
    main = DynamicTable(
        name="main",
        description="a table with plain, ragged and reference columns",
        id=[10, 11, 12, 13],
        columns=[
            VectorData(name="label", description="row label", data=["r0", "r1", "r2", "r3"]),
            VectorData(name="score", description="a score", data=np.array([1, 2, 3, 4], "int32")),
            VectorData(
                name="vector",
                description="fixed-width vector",
                data=np.arange(12, dtype=np.float64).reshape(4, 3),
            ),
            tags,
            tags_index,
            samples,
            samples_index,
            target_ref,
        ],
    )
    root = SimpleMultiContainer(name="root", containers=[targets, main])

    path = directory / "hdmf_table.h5"
    with HDF5IO(str(path), manager=get_hdmf_manager(), mode="w") as io:
        io.write(root, cache_spec=True)
    return path


# ---------------------------------------------------------------------------
# minimal file
# ---------------------------------------------------------------------------


def write_minimal(directory: Path) -> Path:
    nwbfile = _new_file("minimal")
    nwbfile.add_acquisition(
        TimeSeries(
            name="series",
            data=np.arange(10, dtype=np.float32),
            unit="volts",
            starting_time=0.0,
            rate=10.0,
        )
    )
    return _write_nwb(nwbfile, directory / "minimal.nwb")


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "ecephys": write_ecephys,
    "icephys": write_icephys,
    "ophys": write_ophys,
    "behavior": write_behavior,
    "ogen": write_ogen,
    "misc": write_misc,
    "softlinks": write_softlinks,
    "external": write_external,
    "extension": write_extension,
    "hdmf_table": write_hdmf_table,
    "minimal": write_minimal,
}

ALL_FILE_NAMES: list[str] = list(BUILDERS)

# Builders whose output is not an NWB file (read with hdmf, not pynwb).
HDMF_ONLY: frozenset[str] = frozenset({"hdmf_table"})
