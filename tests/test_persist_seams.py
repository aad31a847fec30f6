"""The seams between models, the change log and the session, each tested on its own.

A model reports edits to its ``Owner`` (the file's tracker), never to the ``File``
handle; a lazy array asks everything of its ``ArraySource``; an error carries the id of
the rule it breaks into the validation report; pydantic's complaints are formatted once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pydantic
import pytest

import h5model
from h5model.errors import (
    H5ModelError,
    NoSpecsError,
    ReadOnlyError,
    SpecError,
    validation_problems,
)
from h5model.models.arrays import H5Array
from h5model.models.nodes import Dataset, Group, H5Field, Node, adopt, owner_of
from h5model.models.problems import model_problems
from h5model.persist.tracker import Tracker
from h5model.validation import run

# -- the owner and its tracker ------------------------------------------------------------------


def test_a_model_built_outside_a_file_has_no_owner() -> None:
    group = Group()
    assert owner_of(group) is None
    group.object_id = "an-id"  # nothing to report to: no error, nothing recorded
    assert not Tracker("f.h5", writable=True).owns(group)


def test_the_tracker_records_what_its_models_report() -> None:
    tracker = Tracker("f.h5", writable=True)
    group = Group(hdf5_path="/acquisition")
    adopt(group, tracker)
    assert owner_of(group) is tracker and tracker.owns(group)

    group.object_id = "new-id"
    assert tracker.changes.fields == {id(group): (group, {"object_id"})}

    child = Dataset(value=np.arange(3))
    group.add("numbers", child)
    assert tracker.changes.added == [(group, "numbers", child)]
    assert list(tracker.changes.new_models()) == [child]

    group.remove("numbers")  # added and removed in one save: nothing to write for it
    assert tracker.changes.added == [] and tracker.changes.removed == []

    group.add("kept", Dataset(value=[1.0]))
    group._children["old"] = Dataset(hdf5_path="/acquisition/old")
    group.remove("old")
    assert tracker.changes.removed_paths() == ["/acquisition/old"]
    assert tracker.changes
    tracker.changes.clear()
    assert not tracker.changes


def test_models_of_another_file_are_not_owned() -> None:
    mine, theirs = Tracker("a.h5", writable=True), Tracker("b.h5", writable=True)
    model = Group(hdf5_path="/")
    adopt(model, theirs)
    assert theirs.owns(model) and not mine.owns(model)


def test_a_read_only_tracker_refuses_edits_slices_and_rows() -> None:
    tracker = Tracker("f.h5", writable=False)
    group = Group(hdf5_path="/g")
    adopt(group, tracker)
    with pytest.raises(ReadOnlyError, match="read-only") as refused:
        group.object_id = "x"
    assert group.object_id is None and not tracker.changes
    assert refused.value.file == "f.h5" and refused.value.hdf5_path == "/g"
    with pytest.raises(ReadOnlyError, match="read-only") as caught:
        tracker.row_added(group, {"id": 0})
    assert caught.value.file == "f.h5" and caught.value.hdf5_path == "/g"
    with pytest.raises(ReadOnlyError, match="read-only"):
        tracker.slice_written(H5Array(_MemorySource(), "/data", (3,), np.dtype("i4")), 0, 1)


def test_pending_rows_count_per_table() -> None:
    tracker = Tracker("f.h5", writable=True)
    units, trials = Group(hdf5_path="/units"), Group(hdf5_path="/trials")
    tracker.row_added(units, {"id": 0})
    tracker.row_added(units, {"id": 1})
    tracker.row_added(trials, {"id": 0})
    assert tracker.pending_rows(units) == 2 and tracker.pending_rows(trials) == 1


def test_models_of_an_open_file_report_to_its_tracker_not_to_the_handle(
    nwb_files: dict[str, Path], tmp_path: Path,
) -> None:
    path = tmp_path / "copy.nwb"
    path.write_bytes(nwb_files["ecephys"].read_bytes())
    with h5model.open(path, "r+") as f:
        owner = owner_of(f.root)
        assert owner is not None and owner is not f
        assert all(owner_of(model) is owner for _, model in f.models())
        for name in ("field_changed", "child_added", "child_removed", "row_added", "owns"):
            assert not hasattr(f, name)
        f.root.session_description = "edited"
        assert f.dirty


def test_a_dataset_of_references_saved_reads_back_as_the_models_it_refers_to(
    nwb_files: dict[str, Path], tmp_path: Path,
) -> None:
    """Its value after the save is a lazy array from the file's one array source."""
    path = tmp_path / "copy.nwb"
    path.write_bytes(nwb_files["ecephys"].read_bytes())
    with h5model.open(path, "r+") as f:
        series = f.get("/acquisition/raw_voltage")
        untyped = f.get("/specifications/core")  # a group outside any spec takes anything
        untyped.add("pointers", Dataset(value=[series, series]))
        f.save()
        value = untyped["pointers"].value
        assert isinstance(value, H5Array) and value.source.owner is owner_of(series)
        assert list(value[:]) == [series, series]


# -- the array source ----------------------------------------------------------------------------


class _MemorySource:
    """An ArraySource over an in-memory HDF5 file that notes what arrays ask of it."""

    def __init__(self) -> None:
        self.h5 = h5py.File(f"memory-{id(self)}.h5", "w", driver="core", backing_store=False)
        self.opened: list[str] = []
        self.reads = 0
        self.written: list[tuple[H5Array, Any, Any]] = []
        self.targets: dict[Any, Any] = {}

    @property
    def owner(self) -> object | None:
        return None

    def open(self, hdf5_path: str) -> h5py.Dataset:
        self.opened.append(hdf5_path)
        dataset = self.h5[hdf5_path]
        assert isinstance(dataset, h5py.Dataset)
        return dataset

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        self.reads += 1
        yield

    def resolve(self, ref: Any) -> Any:
        return self.targets.get(self.h5[ref].name)

    def write(self, array: H5Array, key: Any, value: Any) -> None:
        self.written.append((array, key, value))


def test_a_lazy_array_reads_through_its_source_under_its_guard() -> None:
    source = _MemorySource()
    source.h5["data"] = np.arange(10, dtype="i4")
    array = H5Array(source, "/data", (10,), np.dtype("i4"))
    assert array.source is source
    assert len(array) == 10 and source.opened == [] and source.reads == 0  # nothing read yet
    assert array[2:4].tolist() == [2, 3]
    assert source.opened == ["/data"] and source.reads == 1
    array[0] = 7  # handed to the source, the file is not touched
    assert [(key, value) for _, key, value in source.written] == [(0, 7)]
    assert source.h5["data"][0] == 0


def test_a_lazy_array_of_references_gives_the_models_its_source_resolves() -> None:
    source = _MemorySource()
    target = source.h5.create_group("target")
    source.h5.create_dataset("refs", data=[target.ref, target.ref], dtype=h5py.ref_dtype)
    model = Group(hdf5_path="/target")
    source.targets["/target"] = model
    array = H5Array(source, "/refs", (2,), source.h5["refs"].dtype)
    assert list(array[:]) == [model, model]


# -- errors --------------------------------------------------------------------------------------


def test_errors_carry_a_rule_id() -> None:
    assert SpecError("bad").rule == "spec.malformed"
    assert NoSpecsError("none").rule == "spec.missing"
    assert SpecError("gone", rule="spec.namespace-missing").rule == "spec.namespace-missing"
    assert H5ModelError("plain").rule is None


def test_the_rule_id_of_an_error_reaches_the_validation_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w"):
        pass

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise SpecError("a message that names no rule", hdf5_path="/", rule="type.unknown")

    monkeypatch.setattr(run, "load_specs", refuse)
    report = run.validate(path)
    assert [(i.rule, i.message) for i in report.files[0].issues] == [
        ("type.unknown", "a message that names no rule")
    ]


class _Probe(Node):
    h5_fields = {"unit": H5Field("attribute", name="unit")}

    unit: int | None = None


def test_pydantic_problems_are_named_once_for_every_caller() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _Probe.model_validate({"unit": "many", "hdf5_path": 3})
    problems = validation_problems(caught.value)
    assert sorted(where for where, _ in problems) == ["hdf5_path", "unit"]
    named = dict(model_problems(caught.value, _Probe))
    assert "attribute 'unit'" in named and "hdf5_path" in named
    assert all(isinstance(what, str) and what for what in named.values())
