"""A reader that keeps a file open never reads through a save by another writer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import h5model


def test_reader_refuses_to_read_a_file_changed_under_it(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "shared.nwb"
    shutil.copy(nwb_files["ecephys"], path)
    with h5model.open(path) as reader:
        data = reader.get("/acquisition/raw_voltage").data.value
        before = np.asarray(data[:2])
        with h5model.open(path, "r+") as writer:
            writer.root.session_description = "changed by another writer"
            writer.save()
        with pytest.raises(h5model.H5ModelError, match="changed by another writer") as info:
            data[:2]
        assert str(path) in str(info.value)
    with h5model.open(path) as again:
        assert again.root.session_description == "changed by another writer"
        assert np.array_equal(again.get("/acquisition/raw_voltage").data.value[:2], before)


def test_a_writer_reads_its_own_saved_file(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "own.nwb"
    shutil.copy(nwb_files["ecephys"], path)
    with h5model.open(path, "r+") as writer:
        data = writer.get("/acquisition/raw_voltage").data.value
        first = np.asarray(data[:3])
        writer.root.session_description = "saved"
        writer.save()
        assert np.array_equal(data[:3], first)
