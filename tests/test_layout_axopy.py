"""The axopy layout on task storage written by axopy itself: array files typed, a task
read whole (trials in order, stacked, beside the CSV's attributes), damage caught, edits
and truncation."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas
import pytest
from axopy.design import Design
from axopy.storage import Storage

import h5model
from h5model.layouts.axopy import read_task, validate_task

TRIALS = 12


def write_task(root: Path) -> Path:
    """A task as axopy's own TaskWriter stores it: two array types, twelve trials."""
    rng = np.random.default_rng(3)
    storage = Storage(str(root))
    storage.subject_id = "p0"
    writer = storage.create_task("reach")
    design = Design()
    block = design.add_block()
    for i in range(TRIALS):
        trial = block.add_trial(attrs={"target": i % 3, "label": f"t{i % 2}"})
        trial.add_array("emg", stack_axis=1)
        trial.add_array("cursor", stack_axis=0)
    for block in design:
        for trial in block:
            trial.arrays["emg"].stack(rng.random((4, 5)))
            trial.arrays["emg"].stack(rng.random((4, 5)))
            trial.arrays["cursor"].stack(rng.random((3, 2)))
            trial.attrs["success"] = bool(trial.attrs["trial"] % 2)
            trial.attrs["score"] = 0.5 * trial.attrs["trial"]
            writer.write(trial)
    return root / "p0" / "reach"


@pytest.fixture
def task(tmp_path: Path) -> Path:
    return write_task(tmp_path / "data")


def test_array_files_read_as_typed_models_equal_to_h5py(task: Path) -> None:
    with h5model.open(task / "emg.hdf5", layout="axopy") as f, h5py.File(task / "emg.hdf5") as h5:
        assert type(f.root).type_name() == "ArrayFile"
        assert list(f.root) == [str(i) for i in range(TRIALS)]  # numeric, not "0", "1", "10"
        for name in h5:
            assert type(f.root[name]).type_name() == "TrialArray"
            assert np.array_equal(f.root[name].value[:], h5[name][:])
            assert f.root[name].value.dtype == h5[name].dtype


def test_task_reads_in_trial_order_stacked_and_joined_with_the_trials(task: Path) -> None:
    from axopy.storage import TaskReader

    reader = TaskReader(str(task))
    with pytest.raises(TypeError):
        reader.array("emg")  # axopy's own stacking fails on current numpy
    read = read_task(task)
    assert len(read) == TRIALS and sorted(read.arrays) == ["cursor", "emg"]
    for name in ("emg", "cursor"):
        expected = list(reader.iterarray(name))  # axopy's reader, trial by trial
        assert all(np.array_equal(a, b) for a, b in zip(read.array(name), expected, strict=True))
        assert np.array_equal(read.stacked(name), np.vstack(expected))
    frame = pandas.read_csv(task / "trials.csv")
    assert read.trials == frame.to_dict("records")
    assert [type(v) for v in read.trials[1].values()] == [int, str, int, int, bool, float]
    attrs, arrays = list(read)[5]
    assert attrs["trial"] == 5 and arrays["cursor"].shape == (3, 2)


def test_task_validates(task: Path) -> None:
    report = validate_task(task, strict=True)
    assert report.exit_code() == 0, [(i.rule, i.hdf5_path) for i in report.issues]
    assert h5model.validate(task / "emg.hdf5", layout="axopy", strict=True).exit_code() == 0


def _damage(task: Path, damage: str) -> None:
    if damage == "no-trials":
        (task / "trials.csv").unlink()
        return
    with h5py.File(task / "emg.hdf5", "r+") as h5:
        if damage == "name":
            h5.create_dataset("last", data=np.zeros((4, 10)))
        elif damage == "dtype":
            del h5["3"]
            h5.create_dataset("3", data=np.array([b"x"] * 4))
        elif damage == "scalar":
            del h5["3"]
            h5.create_dataset("3", data=1.0)
        elif damage == "empty":
            for name in list(h5):
                del h5[name]
        elif damage == "missing":
            del h5["7"]
        elif damage == "extra":
            h5.create_dataset(str(TRIALS), data=np.zeros((4, 10)))
        elif damage == "group":
            h5.create_group("sub")


@pytest.mark.parametrize(("damage", "rule", "where"), [
    ("name", "type.unbound", "/last"),
    ("dtype", "dataset.dtype", "/3"),
    ("scalar", "dataset.shape", "/3"),
    ("empty", "quantity.count", "/"),
    ("missing", "axopy.trial-missing", "/7"),
    ("extra", "axopy.trial-extra", f"/{TRIALS}"),
    ("group", "object.unexpected", "/sub"),
    ("no-trials", "axopy.trials", "/"),
])
def test_damage_is_caught(task: Path, damage: str, rule: str, where: str) -> None:
    _damage(task, damage)
    report = validate_task(task, strict=True)
    assert (rule, where) in [(i.rule, i.hdf5_path) for i in report.issues]
    assert report.exit_code() == 1
    if damage in ("name", "group"):  # warnings: an object no type fits, the trials intact
        assert validate_task(task).exit_code() == 0
        assert len(read_task(task)) == TRIALS
    else:
        with pytest.raises(h5model.H5ModelError):
            read_task(task)


def test_read_task_names_the_file_and_the_trial(task: Path) -> None:
    _damage(task, "missing")
    with pytest.raises(h5model.H5ModelError, match="trial 7") as caught:
        read_task(task)
    assert str(task / "emg.hdf5") in str(caught.value) and "/7" in str(caught.value)


def test_an_edit_lands_on_one_trial_only(task: Path) -> None:
    path = task / "emg.hdf5"
    with h5py.File(path) as h5:
        before = {name: h5[name][:] for name in h5}
    with h5model.open(path, "r+", layout="axopy") as f:
        f.root["10"].value[0, :] = -1.0
        f.save()
    with h5py.File(path) as h5:
        for name, values in before.items():
            if name == "10":
                assert np.all(h5[name][0] == -1.0)
                assert np.array_equal(h5[name][1:], values[1:])
            else:
                assert np.array_equal(h5[name][:], values), name
    assert validate_task(task, strict=True).exit_code() == 0


def test_truncate_keeps_the_task_valid(task: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    shutil.copytree(task, small)
    for path in sorted(task.glob("*.hdf5")):
        h5model.truncate(path, small / path.name, n=2, layout="axopy", overwrite=True)
    assert validate_task(small, strict=True).exit_code() == 0
    read = read_task(small)
    assert len(read) == TRIALS  # every trial kept, each cut to its first rows
    assert {a.shape for a in read.array("emg")} == {(2, 10)}
    assert np.array_equal(read.array("emg")[11], read_task(task).array("emg")[11][:2])
