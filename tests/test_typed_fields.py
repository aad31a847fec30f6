"""Generated fields carry the spec's doc, what a type adds to a typed part is typed, and
arrays of ISO 8601 times read as datetimes: checked on files pynwb writes."""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pydantic
import pytest
from helpers import read_pynwb
from pynwb import get_type_map, validate

import h5model
from h5model.codegen.models import module_source
from h5model.rules.ruleset import RuleSet

WAVEFORM_COLUMNS = ("waveforms", "waveform_mean")




@pytest.fixture
def ecephys(nwb_files: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copyfile(nwb_files["ecephys"], tmp_path / "ecephys.nwb"))


def _spec_doc(type_name: str, name: str) -> str:
    """The doc pynwb's own copy of the core spec gives part ``name`` of ``type_name``."""
    spec = get_type_map().namespace_catalog.get_spec("core", type_name)
    part = spec.get_attribute(name) or spec.get_dataset(name) or spec.get_group(name)
    assert part is not None, (type_name, name)
    return str(part.doc)


# -- descriptions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "field"),
    [
        ("TimeSeries", "description"),
        ("TimeSeries", "data"),
        ("NWBFile", "session_start_time"),
        ("NWBFile", "file_create_date"),
        ("ElectricalSeries", "electrodes"),
        ("Units", "waveforms"),
        ("Subject", "age"),
    ],
)
def test_field_descriptions_are_the_spec_docs(
    nwb_files: dict[str, Path], type_name: str, field: str
) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        cls = getattr(f.modules["core"], type_name)
        assert cls.model_fields[field].description == _spec_doc(type_name, field)


def test_every_field_of_a_documented_part_has_a_description(
    nwb_files: dict[str, Path]
) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        core = f.modules["core"]
        undocumented = [
            f"{name}.{field}"
            for name in core.__all__
            for field, info in getattr(core, name).model_fields.items()
            if field not in ("hdf5_path", "object_id") and not info.description
        ]
    assert undocumented == []


def test_a_doc_cannot_become_code(nwb_files: dict[str, Path]) -> None:
    """A doc that reads like code stays a string of the generated source."""
    hostile = "x')\nraise SystemExit('owned')  # \"\"\" '''"
    with h5model.open(nwb_files["minimal"]) as f:
        assert f.specs is not None
        rules = RuleSet(f.specs).namespace("hdmf-common")
    data = rules.classes["Data"]
    value = dataclasses.replace(data.parts[0], doc=hostile)
    rules.classes["Data"] = dataclasses.replace(data, parts=(value, *data.parts[1:]))
    source = module_source(rules, [], header="test")
    namespace: dict[str, Any] = {}
    exec(compile(source, "generated", "exec"), namespace)  # runs no spec text
    data_class = namespace["__getattr__"]("Data")  # classes are built on first access
    assert data_class.model_fields["value"].description == hostile


# -- what a type adds to a typed part ----------------------------------------------------------


def test_what_units_adds_to_its_columns_is_typed(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    path = shutil.copyfile(nwb_files["ecephys"], tmp_path / "ecephys.nwb")
    with h5model.open(path, "r+") as f, read_pynwb(nwb_files["ecephys"]) as nwb:
        units = f.get("/units")
        common = f.modules["hdmf-common"]
        for name in WAVEFORM_COLUMNS:
            column = getattr(units, name)
            assert type(column).__name__ == f"Units__{name}"
            assert isinstance(column, common.VectorData)  # still a VectorData
            assert type(column).type_name() == "VectorData"
            assert column.sampling_rate == nwb.units.waveform_rate
            assert column.unit == nwb.units.waveform_unit
            info = type(column).model_fields["sampling_rate"]
            assert info.annotation == float | None
            assert info.description == "Sampling rate, in hertz."
        assert units.spike_times.resolution == nwb.units.resolution
        with pytest.raises(pydantic.ValidationError):
            units.waveforms.sampling_rate = "fast"
        # an object of the same type elsewhere keeps the plain class
        assert type(units.id).__name__ == "ElementIdentifiers"


def test_an_added_attribute_is_saved_and_pynwb_reads_it(ecephys: Path) -> None:
    with h5model.open(ecephys, "r+") as f:
        units = f.get("/units")
        for name in WAVEFORM_COLUMNS:
            getattr(units, name).sampling_rate = 20000.0
        units.spike_times.resolution = 0.5
        f.save()
    with h5model.open(ecephys) as f:
        assert f.get("/units").waveforms.sampling_rate == 20000.0
    with read_pynwb(ecephys) as nwb:
        assert nwb.units.waveform_rate == 20000.0
        assert nwb.units.resolution == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate(path=str(ecephys)) == []


# -- arrays of isodatetime ------------------------------------------------------------------------


def test_file_create_date_reads_as_datetimes_like_pynwb(nwb_files: dict[str, Path]) -> None:
    for name in ("ecephys", "minimal", "old_ecephys"):
        with h5model.open(nwb_files[name]) as f, read_pynwb(nwb_files[name]) as nwb:
            dates = f.root.file_create_date[:]
            assert list(dates) == list(nwb.file_create_date)
            assert all(isinstance(d, datetime) for d in dates)
            assert f.root.file_create_date[0] == nwb.file_create_date[0]
            # the dataset's own model reads the same
            assert f.get("/file_create_date").value[0] == nwb.file_create_date[0]


def test_file_create_date_round_trips(ecephys: Path, tmp_path: Path) -> None:
    later = datetime(2025, 6, 7, 8, 9, 10, 123456, tzinfo=UTC)
    with h5model.open(ecephys, "r+") as f:
        before = list(f.root.file_create_date[:])
        f.root.file_create_date[0] = later  # a slice of datetimes
        f.save()
    with h5model.open(ecephys) as f, read_pynwb(ecephys) as nwb:
        assert list(f.root.file_create_date[:]) == [later] == list(nwb.file_create_date)
    with h5model.open(ecephys, "r+") as f:
        f.root.file_create_date = [*before, later]  # a new, longer array
        f.save()
    with h5model.open(ecephys) as f, read_pynwb(ecephys) as nwb:
        assert list(f.root.file_create_date[:]) == [*before, later]
        assert list(nwb.file_create_date) == [*before, later]
        copy = h5model.write(f.root, tmp_path / "copy.nwb")
    with h5model.open(copy) as f:
        assert list(f.root.file_create_date[:]) == [*before, later]
    with h5py.File(copy, "r") as h5:  # still ISO 8601 text in the file
        stored = h5["file_create_date"].asstr()[:]
    assert list(stored) == [d.isoformat() for d in [*before, later]]


def test_private_state_is_set_once_per_model_and_never_shared() -> None:
    from h5model._generated import core_2_11_0 as core

    from h5model.models import nodes

    def series(cls: Any = core.TimeSeries, **fields: Any) -> Any:
        return cls(data=core.TimeSeries__data(value=np.arange(3.0), unit="m"), **fields)

    # one initialiser per instance, not pydantic's wrapper per level of subclassing
    assert core.ElectricalSeries.model_post_init is nodes._init_private
    one, two = series(), series()
    assert one._attrs == {} and one._attrs is not two._attrs
    assert one._children == {} and one._children is not two._children
    assert one._parent is nodes._UNSET and one._owner is None

    calls: list[str] = []

    class Annotated(core.TimeSeries):
        def model_post_init(self, context: Any, /) -> None:
            calls.append(str(self.description))

    made = series(Annotated, description="mine")
    assert calls == ["mine"]  # a class's own hook still runs, after the defaults are set
    assert made._attrs == {} and made._parent is nodes._UNSET
