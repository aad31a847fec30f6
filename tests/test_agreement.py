"""Validation, the reader and the writer hold one another to the same rules.

* whatever ``open`` refuses, ``validate`` reports as an error (so a clean report means
  every model builds), over every test file and every kind of damage;
* ``open`` stays lenient where a user must repair a file (a table whose columns
  disagree opens, is reported, can be fixed and saved);
* every file h5model writes passes ``h5model validate`` and pynwb's validator.
"""

from __future__ import annotations

import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
from corruptions import CASES, damaged
from nwbfiles import ALL_FILE_NAMES
from pynwb import validate as pynwb_validate

import h5model
from h5model.validation import Severity

VALID_FILES = [*ALL_FILE_NAMES, "old_ecephys", "old_ophys"]


def open_problem(path: Path) -> str | None:
    """Why ``h5model.open`` cannot build every model of ``path``; None when it can."""
    try:
        with h5model.open(path) as f:
            for _path, _model in f.models():
                pass
    except h5model.H5ModelError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def errors(path: Path) -> list[str]:
    report = h5model.validate(path)
    return [f"{i.rule} {i.hdf5_path}: {i.message}" for i in report.issues
            if i.severity is Severity.ERROR]


def pynwb_errors(path: Path) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = pynwb_validate(path=str(path))
    return [str(e) for e in found]


@pytest.mark.parametrize("name", VALID_FILES)
def test_valid_files_validate_clean_and_open(nwb_files: dict[str, Path], name: str) -> None:
    assert errors(nwb_files[name]) == []
    assert open_problem(nwb_files[name]) is None


@pytest.mark.parametrize("name", list(CASES))
def test_what_open_refuses_validate_reports(
    name: str, nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    path = damaged(name, nwb_files, tmp_path)
    problem = open_problem(path)
    found = errors(path)
    if problem is not None:
        assert found, f"open refuses ({problem}) but validate reports no error"
    if not found:
        assert problem is None


def _set_start_time(path: Path, text: str) -> None:
    with h5py.File(path, "r+") as f:
        del f["session_start_time"]
        f.create_dataset("session_start_time", data=text, dtype=h5py.string_dtype("ascii"))


@pytest.mark.parametrize(
    "text",
    ["yesterday", "2024-01-01 12:00:00+00:00", "2024-13-01", "1712345678",
     "2024-01-01T12:00:00", "2024-01-01"],
)
def test_a_time_that_is_not_iso_8601_is_an_error(
    nwb_files: dict[str, Path], tmp_path: Path, text: str
) -> None:
    path = Path(shutil.copy(nwb_files["minimal"], tmp_path / "when.nwb"))
    _set_start_time(path, text)
    found = errors(path)
    assert any(e.startswith("dataset.value /session_start_time") for e in found), found
    assert pynwb_errors(path), "pynwb's validator agrees that this is no isodatetime"
    problem = open_problem(path)
    # the reader is lenient with a space for the T and with a missing timezone (to let
    # such files be read and repaired)
    lenient = ("2024-01-01 12:00:00+00:00", "2024-01-01T12:00:00", "2024-01-01")
    assert (problem is None) == (text in lenient), problem


def test_times_are_written_in_iso_8601_with_a_t(nwb_files: dict[str, Path],
                                                tmp_path: Path) -> None:
    target = tmp_path / "written.nwb"
    when = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    source = shutil.copyfile(nwb_files["minimal"], tmp_path / "source.nwb")
    with h5model.open(source, "r+") as f:  # edits need a writable file, even unsaved
        root = f.root
        root.file_create_date = [when]
        root.session_start_time = when
        h5model.write(root, target)
    with h5py.File(target, "r") as f:
        assert f["file_create_date"].asstr()[0] == "2024-01-01T12:00:00+00:00"
        assert f["session_start_time"].asstr()[()] == "2024-01-01T12:00:00+00:00"
    assert errors(target) == []
    assert pynwb_errors(target) == []


@pytest.mark.parametrize("name", [n for n in ALL_FILE_NAMES if n != "external"])
def test_every_file_h5model_writes_passes_both_validators(
    nwb_files: dict[str, Path], tmp_path: Path, name: str
) -> None:
    target = tmp_path / f"{name}.nwb"
    with h5model.open(nwb_files[name]) as f:
        h5model.write(f.root, target)
    assert errors(target) == []
    if name != "hdmf_table":  # pynwb validates NWB files only
        assert pynwb_errors(target) == []


def test_a_table_whose_columns_disagree_opens_and_can_be_repaired(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    path = damaged("column_length", nwb_files, tmp_path)
    assert any(e.startswith("table.column-length /units/quality") for e in errors(path))
    with h5model.open(path, "r+") as f:
        units = f.get("/units")
        quality = units["quality"]
        assert len(quality.value) == 3 < len(units)
        quality.value = np.array(["good"] * len(units), dtype=object)
        f.save()
    assert errors(path) == []
