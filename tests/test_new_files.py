"""Files from scratch, times written as ISO 8601 with ``T``, and unsaved slices in copies.

A file built from models alone (``h5model.new``) must be what pynwb would have written:
its specs embedded from the data committed beside the generated modules, the parts
pynwb fills in filled the same way, and pynwb, its validator and ``h5model validate``
accept it. Every ``isodatetime`` h5model writes reads back in pynwb as the datetime
written. A slice assigned and not yet saved travels into a file written elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pydantic
import pytest
from helpers import read_pynwb, sha256
from pynwb import validate
from pynwb_reference import reference_specs, write_reference_file

import h5model
from h5model.codegen import registry
from h5model.models.nodes import H5Field
from h5model.persist.writer import Writer, plain_value
from h5model.rules.model import Role
from h5model.rules.ruleset import RuleSet

ISO_WITH_T = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)?")
START = dt.datetime(2024, 3, 1, 9, 30, 15, 250000, tzinfo=dt.timezone(dt.timedelta(hours=-5)))




def pynwb_problems(path: Path) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(validate(path=str(path)))


def scratch_file(path: Path, **given: Any) -> tuple[str, str]:
    """An NWBFile with one TimeSeries, built from models alone; (root, series) object ids."""
    with h5model.new(path) as f:
        t = f.types
        nwb = t.NWBFile(session_description="from scratch", identifier="scratch-1",
                        session_start_time=START, **given)
        series = t.TimeSeries(
            data=t.TimeSeries__data(value=np.arange(12, dtype=np.float32), unit="mV"),
            starting_time=t.TimeSeries__starting_time(value=0.5, rate=100.0),
            description="a trace",
        )
        nwb.acquisition.add("trace", series)
        f.root = nwb
        f.save()
        return f.root.object_id, f.get("/acquisition/trace").object_id


def stored_text(h5: h5py.File, path: str) -> list[str]:
    value = h5[path][()]
    items = value.ravel().tolist() if isinstance(value, np.ndarray) else [value]
    return [v.decode() if isinstance(v, bytes) else str(v) for v in items]


# ---------------------------------------------------------------------------
# the committed specs
# ---------------------------------------------------------------------------


def test_committed_specs_are_the_ones_the_modules_were_generated_from() -> None:
    reference = reference_specs()
    committed = registry.committed_namespaces()
    assert set(committed) == set(reference.namespaces)
    for name, spec in committed.items():
        assert spec.content_hash == reference.namespaces[name].content_hash
        assert spec.origin.endswith(registry.SPEC_SUFFIX)  # read from the data, not from disk
    keys = registry.namespace_keys(registry.committed_specs())
    assert set(keys.values()) == set(registry.committed_index())


def test_new_files_use_the_committed_modules(tmp_path: Path) -> None:
    cache = Path(registry.cache_dir())
    before = set(cache.glob("*.py")) if cache.exists() else set()
    with h5model.new(tmp_path / "x.nwb") as f:
        assert set(f.modules) == {"core", "hdmf-common", "hdmf-experimental"}
        assert f.modules["core"].__name__ == "h5model._generated.core_2_11_0"
        assert type(f.types.NWBFile(session_description="d", identifier="i",
                                    session_start_time=START)) is f.modules["core"].NWBFile
    with h5model.new(tmp_path / "y.nwb", namespace="core") as f:
        assert set(f.modules) == {"core", "hdmf-common"}
    after = set(cache.glob("*.py")) if cache.exists() else set()
    assert after == before  # nothing generated


def test_an_unknown_namespace_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(h5model.SpecError, match=r"'ndx-lab'.*core"):
        h5model.new(tmp_path / "x.nwb", namespace="ndx-lab")


# ---------------------------------------------------------------------------
# files from scratch
# ---------------------------------------------------------------------------


def test_a_file_from_scratch_opens_in_pynwb_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "scratch.nwb"
    before = dt.datetime.now().astimezone()
    root_id, series_id = scratch_file(path)
    after = dt.datetime.now().astimezone()
    with read_pynwb(path) as nwbfile:
        assert nwbfile.identifier == "scratch-1"
        assert nwbfile.session_description == "from scratch"
        assert nwbfile.session_start_time == START
        assert nwbfile.timestamps_reference_time == START  # pynwb's default, the same
        (created,) = nwbfile.file_create_date
        assert created.tzinfo is not None and before <= created <= after
        assert nwbfile.object_id == root_id
        series = nwbfile.acquisition["trace"]
        assert series.object_id == series_id
        assert np.array_equal(series.data[:], np.arange(12, dtype=np.float32))
        assert (series.unit, series.rate, series.starting_time) == ("mV", 100.0, 0.5)
    assert pynwb_problems(path) == []
    report = h5model.validate(path)
    assert report.exit_code() == 0 and report.issues == []


def test_a_file_from_scratch_is_laid_out_as_pynwb_lays_out_its_own(tmp_path: Path) -> None:
    path = tmp_path / "scratch.nwb"
    scratch_file(path)
    reference = write_reference_file(tmp_path / "reference.nwb")

    def layout(file: Path) -> tuple[Any, ...]:
        with h5py.File(file) as h5:
            groups: set[str] = set()
            h5.visit(lambda name: groups.add(name) if not name.startswith(
                ("specifications", "acquisition/")) else None)
            specs = {(ns, v) for ns in h5["specifications"] for v in h5["specifications"][ns]}
            sources = {ns: set(h5["specifications"][ns][v]) for ns, v in specs}
            attrs = {k: v for k, v in h5.attrs.items() if k not in (".specloc", "object_id")}
            assert h5[h5.attrs[".specloc"]].name == "/specifications"
            uuid.UUID(h5.attrs["object_id"])
            return groups, specs, sources, attrs

    assert layout(path) == layout(reference)


def test_the_parts_filled_in_are_the_rule_sets_required_empty_groups(tmp_path: Path) -> None:
    rules = RuleSet(registry.committed_specs()).type_rule("core", "NWBFile")
    required_groups = {
        p.name for p in rules.parts if p.role is Role.GROUP and p.required
    }
    assert required_groups == {"acquisition", "analysis", "processing", "stimulus", "general"}
    with h5model.new(tmp_path / "x.nwb") as f:
        nwb = f.types.NWBFile(session_description="d", identifier="i", session_start_time=START)
        for name in required_groups:
            part = getattr(nwb, name)
            assert isinstance(part, h5model.Group)
        stimulus = next(p for p in rules.parts if p.name == "stimulus")
        assert stimulus.nested is not None
        assert {p.name for p in stimulus.nested.parts if p.required} == {
            "presentation", "templates"
        }
        assert nwb.stimulus.presentation is not None and nwb.stimulus.templates is not None
        assert nwb.scratch is None and nwb.units is None  # optional parts stay out


def test_given_values_win_over_the_filled_in_ones(tmp_path: Path) -> None:
    path = tmp_path / "given.nwb"
    reference_time = dt.datetime(2024, 3, 1, 0, 0, tzinfo=dt.UTC)
    created = [dt.datetime(2024, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))]
    scratch_file(path, timestamps_reference_time=reference_time, file_create_date=created)
    with read_pynwb(path) as nwbfile:
        assert nwbfile.timestamps_reference_time == reference_time
        assert list(nwbfile.file_create_date) == created
    assert pynwb_problems(path) == []


def test_one_creation_date_is_taken_as_pynwb_takes_it(tmp_path: Path) -> None:
    """pynwb wraps a single ``file_create_date`` in a list; so do the builders."""
    created = dt.datetime(2024, 3, 2, 8, 0, tzinfo=dt.UTC)
    path = tmp_path / "one.nwb"
    scratch_file(path, file_create_date=created)
    with read_pynwb(path) as nwbfile:
        assert list(nwbfile.file_create_date) == [created]
    assert pynwb_problems(path) == []


def test_times_without_a_zone_get_the_local_one_as_in_pynwb(tmp_path: Path) -> None:
    naive = dt.datetime(2024, 7, 1, 12, 0)
    with h5model.new(tmp_path / "x.nwb") as f:
        nwb = f.types.NWBFile(session_description="d", identifier="i", session_start_time=naive,
                              file_create_date=[naive])
        assert nwb.session_start_time == naive.astimezone()
        assert nwb.session_start_time.tzinfo is not None
        assert nwb.timestamps_reference_time == naive.astimezone()
        f.root = nwb
        f.save()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pynwb import NWBFile

        expected = NWBFile(session_description="d", identifier="i", session_start_time=naive)
    with read_pynwb(tmp_path / "x.nwb") as nwbfile:
        assert nwbfile.session_start_time == expected.session_start_time
        assert list(nwbfile.file_create_date) == [expected.session_start_time]
    assert pynwb_problems(tmp_path / "x.nwb") == []


def test_parts_that_need_data_are_not_filled(tmp_path: Path) -> None:
    with h5model.new(tmp_path / "x.nwb") as f:
        with pytest.raises(pydantic.ValidationError) as info:
            f.types.NWBFile(session_description="d", identifier="i")  # no start time
        missing = [e["loc"] for e in info.value.errors()]
        assert missing == [("session_start_time",), ("timestamps_reference_time",)]
        # its required tables need their own data (columns, ids): never built empty
        with pytest.raises(pydantic.ValidationError, match="electrodes"):
            f.types.IntracellularRecordingsTable()
        with pytest.raises(AttributeError, match="NoSuchType"):
            _ = f.types.NoSuchType


def test_open_w_without_a_donor_file_builds_from_scratch(tmp_path: Path) -> None:
    path = tmp_path / "w.nwb"
    with h5model.open(path, "w") as f:
        assert "core" in f.modules
        f.root = f.types.NWBFile(session_description="d", identifier="w",
                                 session_start_time=START)
        f.save()
        assert f.root.identifier == "w"
    with read_pynwb(path) as nwbfile:
        assert nwbfile.identifier == "w"
    assert pynwb_problems(path) == []


def test_new_never_overwrites_without_being_asked(tmp_path: Path) -> None:
    path = tmp_path / "x.nwb"
    scratch_file(path)
    before = sha256(path)
    with pytest.raises(h5model.H5ModelError, match="exists"):
        h5model.new(path)
    assert sha256(path) == before
    with h5model.new(path, overwrite=True) as f:
        f.root = f.types.NWBFile(session_description="again", identifier="second",
                                 session_start_time=START)
        f.save()
    with read_pynwb(path) as nwbfile:
        assert nwbfile.identifier == "second"


def test_a_root_from_another_file_keeps_that_files_specs(
    nwb_files: dict[str, Path], tmp_path: Path,
) -> None:
    source = nwb_files["old_ecephys"]  # an older core than the committed one
    with h5model.open(source) as src, h5model.new(tmp_path / "copy.nwb") as f:
        f.root = src.root
        f.save()
        with h5py.File(tmp_path / "copy.nwb") as h5, h5py.File(source) as old:
            assert set(h5["specifications/core"]) == set(old["specifications/core"])


# ---------------------------------------------------------------------------
# isodatetime values: ISO 8601 with T, timezone kept
# ---------------------------------------------------------------------------


def test_every_written_time_is_iso_8601_with_t_and_reads_back_in_pynwb(tmp_path: Path) -> None:
    path = tmp_path / "times.nwb"
    created = [
        dt.datetime(2024, 3, 2, 8, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        "2024-03-03 10:00:00+01:00",  # text a reader parses, written without T
    ]
    with h5model.new(path) as f:
        t = f.types
        nwb = t.NWBFile(session_description="d", identifier="i", session_start_time=START,
                        file_create_date=created)
        nwb.general.add("subject", t.Subject(subject_id="m1", date_of_birth=dt.date(2023, 1, 9)))
        f.root = nwb
        f.save()
    with h5py.File(path) as h5:
        for name in ("session_start_time", "timestamps_reference_time", "file_create_date",
                     "general/subject/date_of_birth"):
            for text in stored_text(h5, name):
                assert ISO_WITH_T.fullmatch(text), (name, text)
            assert h5py.check_string_dtype(h5[name].dtype).encoding == "ascii"  # as pynwb
    with read_pynwb(path) as nwbfile:
        assert nwbfile.session_start_time == START
        assert list(nwbfile.file_create_date) == [
            created[0], dt.datetime(2024, 3, 3, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        ]
        # a date alone is its midnight, given the local zone as pynwb gives it
        assert nwbfile.subject.date_of_birth == dt.datetime(2023, 1, 9).astimezone()
    assert pynwb_problems(path) == []


def test_edited_times_are_written_with_t(tmp_path: Path) -> None:
    path = tmp_path / "times.nwb"
    scratch_file(path)
    moved = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    later = dt.datetime(2025, 6, 7, 8, 9, 10, tzinfo=dt.UTC)
    with h5model.open(path, "r+") as f:
        f.root.session_start_time = moved  # a scalar dataset
        f.root.timestamps_reference_time = moved
        f.root.file_create_date[0] = later  # a slice of an array of times
        f.save()
    with h5py.File(path) as h5:
        for name in ("session_start_time", "file_create_date"):
            for text in stored_text(h5, name):
                assert ISO_WITH_T.fullmatch(text), (name, text)
    with read_pynwb(path) as nwbfile:
        assert nwbfile.session_start_time == moved
        assert list(nwbfile.file_create_date) == [later]
    assert pynwb_problems(path) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (START, "2024-03-01T09:30:15.250000-05:00"),
        # no zone: local time, as pynwb assumes (numpy's times are UTC)
        (dt.date(2020, 1, 2), dt.datetime(2020, 1, 2).astimezone().isoformat()),
        (np.datetime64("2020-01-02T03:04:05"), "2020-01-02T03:04:05+00:00"),
        (np.datetime64("2020-01-02"), "2020-01-02T00:00:00+00:00"),
        ("2020-01-02 03:04:05+02:00", "2020-01-02T03:04:05+02:00"),
        ("2020-01-02", dt.datetime(2020, 1, 2).astimezone().isoformat()),
        ("2020-01-02T03:04:05Z", "2020-01-02T03:04:05Z"),  # already ISO 8601: as given
    ],
)
def test_isodatetime_values_as_stored(value: Any, expected: str) -> None:
    assert plain_value(value, "isodatetime") == expected
    assert list(plain_value([value, value], "isodatetime")) == [expected, expected]
    array = np.empty(1, dtype=object)
    array[0] = value
    assert list(plain_value(array, "isodatetime")) == [expected]


def test_isodatetime_attributes_are_written_with_t(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "attrs.h5", "w") as h5:
        writer = Writer(h5, "data_type", "attrs.h5")
        spec = H5Field("attribute", name="when", dtype="isodatetime")
        writer.write_attribute(h5, "when", START, spec)
        writer.write_attribute(h5, "whens", [START, dt.date(2020, 1, 2)],
                               H5Field("attribute", name="whens", dtype="isodatetime"))
        writer.write_attribute(h5, "untyped", np.array([START], dtype=object), None)
        assert h5.attrs["when"] == START.isoformat()
        midnight = dt.datetime(2020, 1, 2).astimezone().isoformat()  # local, as in pynwb
        assert list(h5.attrs["whens"]) == [START.isoformat(), midnight]
        assert list(h5.attrs["untyped"]) == [START.isoformat()]


# ---------------------------------------------------------------------------
# slices assigned and not saved travel into h5model.write
# ---------------------------------------------------------------------------


def test_unsaved_slices_are_written_by_h5model_write(
    nwb_files: dict[str, Path], tmp_path: Path,
) -> None:
    path = tmp_path / "ecephys.nwb"
    shutil.copyfile(nwb_files["ecephys"], path)
    before = sha256(path)
    with h5model.open(path, "r+") as f:
        data = f.get("/acquisition/raw_voltage").data.value
        original = data.read()
        data[0:2] = np.full((2, original.shape[1]), 7, dtype=original.dtype)
        data[5, 1] = -3
        h5model.write(f.root, tmp_path / "copy.nwb")
        with h5model.open(tmp_path / "w.nwb", "w") as g:  # the first save of a new file too
            g.root = f.root
            g.save()
        assert f.dirty  # still to be saved in its own file
        assert sha256(path) == before
    expected = original.copy()
    expected[0:2] = 7
    expected[5, 1] = -3
    for target in (tmp_path / "copy.nwb", tmp_path / "w.nwb"):
        with read_pynwb(target) as nwbfile:
            assert np.array_equal(nwbfile.acquisition["raw_voltage"].data[:], expected)
        assert pynwb_problems(target) == []
    with read_pynwb(path) as nwbfile:  # never saved: the source is as it was
        assert np.array_equal(nwbfile.acquisition["raw_voltage"].data[:], original)
