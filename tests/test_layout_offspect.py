"""The offspect layout on trace caches written as offspect writes them (h5py, every
attribute ``str()`` of its value): typed traces, one running index across origins in
numeric order, an annotation edit reaching exactly one trace, damage caught, merging,
truncation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import h5model
from h5model.layouts.offspect import merge, trace, traces

META: dict[str, Any] = {
    "readout": "cmep", "samplingrate": 1000.0, "samples_pre_event": 5,
    "samples_post_event": 15, "channel_labels": ["EDC_L"], "subject": "S01",
    "filedate": "2020-01-01", "version": "0.1.0",
}


def annotations(i: int) -> dict[str, Any]:
    return {"id": i, "event_name": "S 1", "event_sample": 1000 + i, "event_time": 0.5 * i,
            "onset_shift": 0, "reject": False, "comment": "",
            "time_since_last_pulse_in_s": float("inf") if i == 0 else 2.5,
            "xyz_coords": [1.0, float("nan"), 3.0], "stimulation_intensity_mso": 66.0}


def write_cache(path: Path, origins: dict[str, tuple[dict[str, Any], list[int]]]) -> Path:
    """A cache as offspect writes one: every attribute the ``str()`` of its value."""
    with h5py.File(path, "w") as h5:
        for origin, (meta, ids) in origins.items():
            group = h5.create_group(origin)
            for key, value in meta.items():
                group.attrs.modify(key, str(value))
            held = group.create_group("traces")
            for i in ids:
                data = held.create_dataset(str(i), data=np.linspace(0, 1, 20) + i)
                for key, value in annotations(i).items():
                    data.attrs.modify(key, str(value))
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return write_cache(tmp_path / "cache.hdf5",
                       {"a.cnt": (META, [0, 1, 2, 10]), "b.cnt": (META, [3, 4])})


def test_traces_read_as_typed_models_equal_to_h5py(cache: Path) -> None:
    with h5model.open(cache, layout="offspect") as f, h5py.File(cache) as h5:
        assert type(f.root).type_name() == "TraceCache"
        for origin in h5:
            model = f.root[origin]
            assert type(model).type_name() == "Origin"
            assert model.readout == h5[origin].attrs["readout"] == "cmep"
            assert model.samplingrate == float(h5[origin].attrs["samplingrate"])
            assert model.samples_pre_event == 5 and list(model.channel_labels) == ["EDC_L"]
            for name, data in h5[origin]["traces"].items():
                t = model.traces[name]
                assert type(t).type_name() == "Trace"
                assert np.array_equal(t.value[:], data[:])
                assert t.id == int(data.attrs["id"]) and t.reject is False
                assert t.event_time == float(data.attrs["event_time"])
                assert t.event_name == data.attrs["event_name"] and t.comment == ""
                assert str(t.time_since_last_pulse_in_s) == data.attrs[
                    "time_since_last_pulse_in_s"]
                assert np.array_equal(t.xyz_coords, [1.0, np.nan, 3.0], equal_nan=True)


def test_one_running_index_in_numeric_order(cache: Path) -> None:
    with h5model.open(cache, layout="offspect") as f:
        entries = list(traces(f))
        assert [(e.index, e.origin, e.id) for e in entries] == [
            (0, "a.cnt", "0"), (1, "a.cnt", "1"), (2, "a.cnt", "2"), (3, "a.cnt", "10"),
            (4, "b.cnt", "3"), (5, "b.cnt", "4")]
        assert trace(f, 3).id == 10 and trace(f, 4).id == 3
        with pytest.raises(h5model.H5ModelError, match="no trace at running index 6"):
            trace(f, 6)


def test_an_annotation_edit_reaches_exactly_that_trace(cache: Path) -> None:
    def stored() -> dict[str, dict[str, Any]]:
        with h5py.File(cache) as h5:
            return {data.name: dict(data.attrs) for origin in h5.values()
                    for data in origin["traces"].values()} | {
                    origin.name: dict(origin.attrs) for origin in h5.values()}

    before = stored()
    with h5model.open(cache, "r+", layout="offspect") as f:
        chosen = trace(f, 3)
        chosen.reject = True
        chosen.onset_shift = chosen.onset_shift + 5
        chosen.comment = "noisy"
        f.save()
    after = stored()
    changed = after.pop("/a.cnt/traces/10")
    expected = before.pop("/a.cnt/traces/10")
    assert after == before
    expected.update(reject="True", onset_shift="5", comment="noisy")  # as offspect's encode
    assert changed == expected
    assert h5model.validate(cache, layout="offspect", strict=True).exit_code() == 0


def test_cache_validates(cache: Path) -> None:
    report = h5model.validate(cache, layout="offspect", strict=True)
    assert report.exit_code() == 0, [(i.rule, i.hdf5_path) for i in report.issues]


def _damage(cache: Path, damage: str) -> None:
    with h5py.File(cache, "r+") as h5:
        held = h5["a.cnt/traces"]
        if damage == "name":
            held.create_dataset("first", data=np.zeros(20)).attrs["id"] = "0"
        elif damage == "literal":
            held["1"].attrs["reject"] = "maybe"
        elif damage == "dtype":
            del held["2"]
            held.create_dataset("2", data=np.array([b"x"] * 20))
            held["2"].attrs["id"] = "2"
        elif damage == "rank":
            del held["2"]
            held.create_dataset("2", data=np.zeros((20, 2)))
            held["2"].attrs["id"] = "2"
        elif damage == "origin-literal":
            h5["b.cnt"].attrs["samplingrate"] = "1 kHz"
        elif damage == "no-traces":
            del h5["b.cnt/traces"]


@pytest.mark.parametrize(("damage", "rule", "where"), [
    ("name", "type.unbound", "/a.cnt/traces/first"),
    ("literal", "attribute.text-literal", "/a.cnt/traces/1"),
    ("dtype", "dataset.dtype", "/a.cnt/traces/2"),
    ("rank", "type.unbound", "/a.cnt/traces/2"),
    ("origin-literal", "attribute.text-literal", "/b.cnt"),
    ("no-traces", "type.unbound", "/b.cnt"),
])
def test_damage_is_caught(cache: Path, damage: str, rule: str, where: str) -> None:
    _damage(cache, damage)
    report = h5model.validate(cache, layout="offspect", strict=True)
    assert (rule, where) in [(i.rule, i.hdf5_path) for i in report.issues]
    assert report.exit_code() == 1


def test_merge_joins_caches_without_touching_them(cache: Path, tmp_path: Path) -> None:
    other = write_cache(tmp_path / "other.hdf5", {"c.cnt": (META, [7, 8])})
    sources = {p: p.read_bytes() for p in (cache, other)}
    merged = merge([cache, other], tmp_path / "merged.hdf5")
    assert all(p.read_bytes() == data for p, data in sources.items())
    assert h5model.validate(merged, layout="offspect", strict=True).exit_code() == 0
    with h5model.open(merged, layout="offspect") as f:
        assert [(e.index, e.origin, e.id) for e in traces(f)][-2:] == [
            (6, "c.cnt", "7"), (7, "c.cnt", "8")]
    with h5py.File(merged) as h5, h5py.File(cache) as h5_source:
        assert dict(h5["a.cnt/traces/10"].attrs) == dict(h5_source["a.cnt/traces/10"].attrs)
        assert np.array_equal(h5["a.cnt/traces/10"][:], h5_source["a.cnt/traces/10"][:])


def test_merge_refuses_to_overwrite(cache: Path, tmp_path: Path) -> None:
    existing = tmp_path / "merged.hdf5"
    existing.write_bytes(b"keep")
    with pytest.raises(h5model.H5ModelError, match="refusing to overwrite"):
        merge([cache], existing)
    assert existing.read_bytes() == b"keep"


@pytest.mark.parametrize(("key", "value"), [
    ("readout", "erp"), ("samplingrate", 5000.0), ("samples_post_event", 30),
    ("channel_labels", ["EDC_R"]),
])
def test_merge_refuses_origins_whose_required_annotations_differ(
        cache: Path, tmp_path: Path, key: str, value: Any) -> None:
    other = write_cache(tmp_path / "other.hdf5", {"c.cnt": (META | {key: value}, [7])})
    with pytest.raises(h5model.H5ModelError, match=f"has {key}") as caught:
        merge([cache, other], tmp_path / "merged.hdf5")
    assert str(other) in str(caught.value) and "/c.cnt" in str(caught.value)
    assert not (tmp_path / "merged.hdf5").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_merge_refuses_an_origin_twice_and_invalid_sources(cache: Path, tmp_path: Path) -> None:
    twice = write_cache(tmp_path / "twice.hdf5", {"a.cnt": (META, [0])})
    with pytest.raises(h5model.H5ModelError, match=r"origin 'a\.cnt' is also in"):
        merge([cache, twice], tmp_path / "merged.hdf5")
    with h5py.File(twice, "r+") as h5:
        h5["a.cnt"].attrs["samplingrate"] = "fast"
    with pytest.raises(h5model.H5ModelError, match="not a valid offspect cache"):
        merge([twice], tmp_path / "merged.hdf5")
    assert not (tmp_path / "merged.hdf5").exists()


def test_truncate_keeps_the_cache_valid(cache: Path, tmp_path: Path) -> None:
    small = h5model.truncate(cache, tmp_path / "small.hdf5", n=4, layout="offspect")
    assert h5model.validate(small, layout="offspect", strict=True).exit_code() == 0
    with h5model.open(small, layout="offspect") as f, h5model.open(cache, layout="offspect") as g:
        kept = [(e.origin, e.id, e.trace.id) for e in traces(f)]
        assert kept == [(e.origin, e.id, e.trace.id) for e in traces(g)]  # ids consistent
        assert {e.trace.value.shape for e in traces(f)} == {(4,)}
        assert trace(f, 3).reject is False and trace(f, 3).event_sample == 1010
