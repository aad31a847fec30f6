"""Write the NWB fixtures produced by an older pynwb release.

The committed files ``old_pynwb_ecephys.nwb`` and ``old_pynwb_ophys.nwb`` were written
by this script with pynwb 2.8.3 and hdmf 3.14.6, so they carry NWB core schema 2.7.0
and hdmf-common 1.8.0 in ``/specifications``.  The test suite only reads the committed
files; it never runs this script.

To regenerate them, use a separate virtual environment outside the repository::

    venv="$(mktemp -d)/old-pynwb"
    python3.11 -m venv "$venv"
    "$venv/bin/pip" install "pynwb==2.8.3" "hdmf==3.14.6"
    "$venv/bin/python" tests/data/make_old_files.py

Pin hdmf as shown: a newer hdmf would cache a newer hdmf-common version.  If pynwb
was imported once with a different hdmf installed, delete the stale
``site-packages/pynwb/core_typemap.pkl`` of that environment before running.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import h5py
import hdmf
import numpy as np
import pynwb
from pynwb import NWBHDF5IO, NWBFile
from pynwb.ecephys import ElectricalSeries
from pynwb.ophys import (
    Fluorescence,
    ImageSegmentation,
    OpticalChannel,
    PlaneSegmentation,
    TwoPhotonSeries,
)

EXPECTED_SPECS = {"core": "2.7.0", "hdmf-common": "1.8.0"}
HERE = Path(__file__).resolve().parent
SESSION_START = datetime(2023, 6, 7, 8, 9, 10, tzinfo=UTC)
FILE_CREATED = datetime(2023, 6, 7, 9, 0, 0, tzinfo=UTC)
SPIKE_COUNTS = (4, 0, 6, 1)
PIXEL_MASK_COUNTS = (2, 5, 1)


def _new_file(name: str) -> NWBFile:
    return NWBFile(
        session_description=f"{name} file written by pynwb {pynwb.__version__}",
        identifier=f"h5model-old-{name}",
        session_start_time=SESSION_START,
        file_create_date=FILE_CREATED,
        experimenter=["Doe, Jane"],
        institution="Example Institute",
    )


def write_ecephys(path: Path) -> None:
    rng = np.random.default_rng(11)
    nwbfile = _new_file("ecephys")
    device = nwbfile.create_device(name="probe", description="silicon probe")
    group = nwbfile.create_electrode_group(
        name="shank0", description="the only shank", location="CA1", device=device
    )
    nwbfile.add_electrode_column(name="label", description="channel label")
    for i in range(4):
        nwbfile.add_electrode(
            x=float(i),
            y=0.0,
            z=0.0,
            imp=1e6,
            location="CA1",
            filtering="none",
            group=group,
            label=f"ch{i}",
        )
    region = nwbfile.create_electrode_table_region(region=[0, 1, 2, 3], description="all")
    nwbfile.add_acquisition(
        ElectricalSeries(
            name="raw_voltage",
            data=rng.integers(-300, 300, size=(50, 4)).astype(np.int16),
            electrodes=region,
            starting_time=0.0,
            rate=1000.0,
            conversion=1e-6,
        )
    )
    nwbfile.add_unit_column(name="quality", description="sorting quality")
    for unit_index, count in enumerate(SPIKE_COUNTS):
        nwbfile.add_unit(
            spike_times=np.round(np.sort(rng.uniform(0.0, 0.05, size=count)), 6),
            electrodes=[unit_index],
            quality="good" if unit_index % 2 == 0 else "mua",
        )
    with NWBHDF5IO(str(path), mode="w") as io:
        io.write(nwbfile)


def write_ophys(path: Path) -> None:
    rng = np.random.default_rng(12)
    nwbfile = _new_file("ophys")
    device = nwbfile.create_device(name="microscope", description="two-photon scope")
    channel = OpticalChannel(name="green", description="GCaMP", emission_lambda=525.0)
    plane = nwbfile.create_imaging_plane(
        name="imaging_plane",
        optical_channel=channel,
        description="layer 2/3",
        device=device,
        excitation_lambda=920.0,
        imaging_rate=30.0,
        indicator="GCaMP6f",
        location="V1",
    )
    nwbfile.add_acquisition(
        TwoPhotonSeries(
            name="two_photon",
            data=rng.integers(0, 4096, size=(8, 6, 6)).astype(np.uint16),
            imaging_plane=plane,
            rate=30.0,
            unit="n.a.",
        )
    )
    ophys = nwbfile.create_processing_module(name="ophys", description="processed ophys")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    ophys.add(segmentation)

    image_rois = PlaneSegmentation(
        name="image_rois", description="image masks", imaging_plane=plane
    )
    for roi in range(3):
        mask = np.zeros((6, 6), dtype=np.float32)
        mask[roi : roi + 2, roi : roi + 3] = 1.0
        image_rois.add_roi(image_mask=mask)
    segmentation.add_plane_segmentation(image_rois)

    pixel_rois = PlaneSegmentation(
        name="pixel_rois", description="pixel masks", imaging_plane=plane
    )
    for roi, count in enumerate(PIXEL_MASK_COUNTS):
        pixel_rois.add_roi(pixel_mask=[(roi + k, 5 - k, 0.5 + 0.1 * k) for k in range(count)])
    segmentation.add_plane_segmentation(pixel_rois)

    fluorescence = Fluorescence(name="Fluorescence")
    ophys.add(fluorescence)
    fluorescence.create_roi_response_series(
        name="raw_fluorescence",
        data=rng.normal(size=(8, 3)).astype(np.float32),
        rois=image_rois.create_roi_table_region(region=[0, 1, 2], description="all ROIs"),
        unit="lumens",
        rate=30.0,
    )
    with NWBHDF5IO(str(path), mode="w") as io:
        io.write(nwbfile)


def _check_specs(path: Path) -> None:
    with h5py.File(path, "r") as f:
        cached = {name: sorted(f["specifications"][name]) for name in f["specifications"]}
    for name, version in EXPECTED_SPECS.items():
        if cached.get(name) != [version]:
            raise SystemExit(f"{path.name}: expected {name} {version}, found {cached.get(name)}")
    print(f"{path.name}: {path.stat().st_size} bytes, specifications {cached}")


def main() -> None:
    print(f"pynwb {pynwb.__version__}, hdmf {hdmf.__version__}, h5py {h5py.__version__}")
    if not pynwb.__version__.startswith("2.8."):
        sys.exit("run this script with pynwb 2.8.x (see the module docstring)")
    for name, writer in (("ecephys", write_ecephys), ("ophys", write_ophys)):
        path = HERE / f"old_pynwb_{name}.nwb"
        writer(path)
        _check_specs(path)


if __name__ == "__main__":
    main()
