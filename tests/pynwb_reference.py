"""The specs that the installed pynwb writes, read back from a file it writes.

Used to regenerate the committed modules and, in tests, to check they have not
drifted. pynwb is a test dependency only: this module imports it lazily.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import h5py

from h5model.spec.loader import SpecSet, read_embedded


def write_reference_file(path: Path) -> Path:
    from pynwb import NWBHDF5IO, NWBFile

    nwbfile = NWBFile(
        session_description="reference",
        identifier="reference",
        session_start_time=datetime(2020, 1, 1, tzinfo=UTC),
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def reference_specs() -> SpecSet:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_reference_file(Path(tmp) / "reference.nwb")
        with h5py.File(path, "r") as file:
            return read_embedded(file, str(path))
