"""The rule set, stage by stage: dtypes, shapes, values, resolved types, safe literals."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from specfiles import write_simple

from h5model.codegen.literals import literal
from h5model.errors import SpecError
from h5model.rules.dtypes import carry_problem, holds_references, widening_problem
from h5model.rules.model import Kind, Role
from h5model.rules.ruleset import RuleSet
from h5model.rules.shapes import shape_problem
from h5model.rules.values import isodatetime_problem, parse_isodatetime, same_value
from h5model.spec.dtypes import KNOWN
from h5model.spec.loader import read_embedded

STORED = [
    np.dtype(name)
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "bool")
] + [h5py.string_dtype(), h5py.string_dtype("ascii"), np.dtype("S4"), np.dtype(object),
     h5py.ref_dtype]


@pytest.mark.parametrize("spec_dtype", sorted(KNOWN))
def test_widening_is_never_looser_than_what_the_models_accept(spec_dtype: str) -> None:
    """Validation's rule accepts a subset of what the models accept: a file that passes
    validation never has a value the models refuse."""
    for stored in STORED:
        if widening_problem(spec_dtype, stored) is None:
            assert carry_problem(spec_dtype, stored) is None, (spec_dtype, stored)


def test_widening_follows_the_spec_language() -> None:
    assert widening_problem("float32", np.dtype("float64")) is None
    assert widening_problem("float64", np.dtype("float32")) is not None
    assert widening_problem("int16", np.dtype("uint8")) is None
    assert widening_problem("int16", np.dtype("uint16")) is not None
    assert widening_problem("numeric", np.dtype("bool")) is not None
    assert widening_problem("text", h5py.string_dtype()) is None
    assert "unknown dtype" in str(widening_problem("quaternion", np.dtype("float64")))


def test_reference_dtypes_are_recognised_in_compounds() -> None:
    compound = np.dtype([("idx", "i4"), ("target", h5py.ref_dtype)])
    assert holds_references(compound)
    assert not holds_references(np.dtype([("idx", "i4")]))


def test_shapes() -> None:
    assert shape_problem((5, 3), [(None, 3)]) is None
    assert shape_problem((5,), [(None,), (None, 3)]) is None
    assert shape_problem((5, 2), [(None, 3)]) == "expected shape (*, 3), found (5, 2)"
    assert shape_problem((5, 2), []) is None


def test_fixed_values() -> None:
    assert same_value(np.array([1, 2]), [1, 2])
    assert same_value(np.int64(3), 3)
    assert not same_value("a", "b")
    assert not same_value(np.array([1]), [1, 2])


@given(st.datetimes(timezones=st.just(dt.UTC)))
def test_written_times_read_back_strictly(when: dt.datetime) -> None:
    text = when.isoformat()
    assert isodatetime_problem(text) is None
    assert parse_isodatetime(text) == when


@given(st.text(max_size=40))
def test_what_validation_accepts_the_reader_reads(text: str) -> None:
    if isodatetime_problem(text) is None:
        parse_isodatetime(text)  # never raises where validation passed


def test_times_that_are_not_iso_8601() -> None:
    for bad in ("yesterday", "2020-13-01", "1712345678", "2020-01-01 12:00:00", b"\xff\xfe"):
        assert isodatetime_problem(bad) is not None, bad
    assert isodatetime_problem("2020-01-01T12:00:00.5-07:00") is None
    assert isodatetime_problem("2020-01-01T12:00:00Z") is None
    for naive in ("2020-01-01", "2020-01-01T12:00:00"):  # pynwb's validator refuses them
        assert "timezone" in (isodatetime_problem(naive) or ""), naive
    assert parse_isodatetime("2020-01-01 12:00:00") == dt.datetime(2020, 1, 1, 12)
    with pytest.raises(ValueError):
        parse_isodatetime(1712345678)


def test_literals_are_data_only() -> None:
    assert eval(literal(math.inf)) == math.inf
    assert math.isnan(eval(literal(math.nan)))
    assert eval(literal([1, "a", None, True, 2.5])) == [1, "a", None, True, 2.5]
    with pytest.raises(SpecError):
        literal(10**5000, where="Thing.value")
    with pytest.raises(SpecError):
        literal(object())


def test_a_type_resolves_with_its_parts(tmp_path: Path) -> None:
    path = write_simple(tmp_path / "simple.h5", attr_dtype="int32", value=7)
    with h5py.File(path, "r") as f:
        specs = read_embedded(f, str(path))
    rules = RuleSet(specs)
    thing = rules.type_rule("lab", "Thing")
    assert thing.kind is Kind.GROUP and thing.type_name == "Thing"
    label = thing.attributes[0]
    assert (label.field, label.name, label.required) == ("label", "label", True)
    assert label.value is not None and label.value.primitive == "int32"
    values = thing.named("values")
    assert values is not None and values.role is Role.DATASET and values.unwrap
    assert values.value is not None and values.value.lengths == ((None,),)
    assert (values.min_items, values.max_items, values.required) == (0, 1, False)
    assert rules.has_type("lab", "Thing", "Thing")
    assert not rules.has_type(None, None, "Thing")
    assert rules.has_type("elsewhere", "Thing", "Thing")  # specs it lacks: by name


def test_core_types_resolve_like_pynwb_describes_them(nwb_files: dict[str, Path]) -> None:
    with h5py.File(nwb_files["ecephys"], "r") as f:
        specs = read_embedded(f, "ecephys")
    rules = RuleSet(specs)
    series = rules.type_rule("core", "ElectricalSeries")
    assert series.parent == "TimeSeries"
    data = series.named("data")
    assert data is not None and data.nested is not None
    assert data.nested.parent == "TimeSeries__data"  # refines its parent's nested type
    value = data.nested.value
    assert value is not None and value.value is not None
    assert value.value.lengths == ((None,), (None, None), (None, None, None))
    electrodes = series.named("electrodes")
    assert electrodes is not None and electrodes.type == "DynamicTableRegion"
    units = rules.type_rule("core", "Units")
    assert units.mixin is None and rules.type_rule("hdmf-common", "DynamicTable").mixin
    assert rules.is_a("core", "Units", "DynamicTable")
