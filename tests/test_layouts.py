"""Layouts: typing files without type attributes by position (the shipped RT-DC layout,
a layout written in a test), safe name patterns and text literals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

import h5model
from h5model.cli.app import main
from h5model.errors import SpecError
from h5model.rules.text import LiteralError, format_literal, parse_literal
from h5model.spec.patterns import compile_pattern

dcnum_write = pytest.importorskip("dcnum.write")  # a test dependency (pyproject: test)

N = 40


def write_rtdc(path: Path, n: int = N) -> Path:
    """An RT-DC file as dcnum's own writer makes it, its raw images in a basin beside it."""
    rng = np.random.default_rng(1)
    with dcnum_write.HDF5Writer(path.parent / "raw.rtdc", mode="w") as hw:
        hw.store_feature_chunk("image", rng.integers(0, 255, (2 * n, 8, 12), dtype=np.uint8))
        hw.h5.attrs["experiment:event count"] = 2 * n
    with dcnum_write.HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("deform", rng.random(n))
        hw.store_feature_chunk("area_um", (rng.random(n) * 100).astype(np.float32))
        hw.store_feature_chunk("image", rng.integers(0, 255, (n, 8, 12), dtype=np.uint8))
        hw.store_feature_chunk("mask", rng.random((n, 8, 12)) > 0.5)
        hw.store_log("dcnum-log", ["started", "finished"])
        hw.store_basin(name="raw", paths=["raw.rtdc"], features=["image"],
                       mapping=np.arange(n) * 2, description="the raw data")
        hw.h5.attrs["experiment:event count"] = n
        hw.h5.attrs["experiment:date"] = "2024-03-01"
        hw.h5.attrs["imaging:pixel size"] = 0.34
        hw.h5.attrs["setup:flow rate"] = 0.06
        hw.h5.attrs["pipeline:dcnum generation"] = "11"
        table = np.zeros(3, dtype=[("time", "f8"), ("temp", "f4")])
        hw.h5.require_group("tables").create_dataset("monitor", data=table)
    return path


@pytest.fixture
def rtdc(tmp_path: Path) -> Path:
    return write_rtdc(tmp_path / "data.rtdc")


def _issues(path: Path, **kwargs: object) -> list[tuple[str, str]]:
    report = h5model.validate(path, layout="rtdc", **kwargs)  # type: ignore[arg-type]
    return [(i.rule, i.hdf5_path) for i in report.issues]


# -- RT-DC ---------------------------------------------------------------------------------
def test_rtdc_models_hold_what_h5py_reads(rtdc: Path) -> None:
    with h5model.open(rtdc, layout="rtdc") as f, h5py.File(rtdc) as h5:
        root = f.root
        assert type(root).type_name() == "RTDCFile"
        for field, spec in type(root).h5_fields.items():
            if spec.role == "attribute" and spec.name in h5.attrs:
                stored = h5.attrs[spec.name]
                expected = int(stored) if spec.name == "pipeline:dcnum generation" else stored
                assert getattr(root, field) == expected, spec.name
        kinds = {name: type(f.get(f"/events/{name}")).type_name() for name in h5["events"]}
        assert kinds == {"deform": "ScalarFeature", "area_um": "ScalarFeature",
                         "image": "ImageFeature", "mask": "ImageFeature",
                         "basinmap0": "BasinMap"}
        for name in h5["events"]:
            model = f.get(f"/events/{name}")
            assert model.value.shape == h5["events"][name].shape
            assert model.value.dtype == h5["events"][name].dtype
            assert np.array_equal(model.value[:], h5["events"][name][:])
        image = f.get("/events/image")
        assert image.CLASS == "IMAGE" and image.IMAGE_SUBCLASS == "IMAGE_GRAYSCALE"
        assert type(f.get("/logs/dcnum-log")).type_name() == "Log"
        assert type(f.get("/tables/monitor")).type_name() == "Table"
        basin = next(iter(f.get("/basins").children.values()))
        assert type(basin).type_name() == "Basin"
        lines = [x.decode() if isinstance(x, bytes) else x for x in basin.value[:]]
        assert json.loads("\n".join(lines))["mapping"] == "basinmap0"


def test_rtdc_validates(rtdc: Path) -> None:
    report = h5model.validate(rtdc, layout="rtdc", strict=True)
    assert report.exit_code() == 0, [(i.rule, i.hdf5_path, i.message) for i in report.issues]
    assert main(["validate", str(rtdc), "--layout", "rtdc"]) == 0


def _damaged(rtdc: Path, damage: str) -> None:
    with h5py.File(rtdc, "r+") as h5:
        if damage == "missing-events":
            del h5["events"]
        elif damage == "length":
            del h5["events/deform"]
            h5["events"].create_dataset("deform", data=np.zeros(N - 3))
        elif damage == "dtype":
            del h5["events/area_um"]
            h5["events"].create_dataset("area_um", data=np.array(["x"] * N, dtype="S1"))
        elif damage == "unbound":
            h5["events"].create_dataset("Bad-Name", data=np.zeros(N))
        elif damage == "literal":
            h5.attrs["pipeline:dcnum generation"] = "eleven"
        elif damage == "image-attributes":
            del h5["events/image"].attrs["CLASS"]
        elif damage == "mapped-feature":
            del h5["events/basinmap0"]
    if damage == "basin-feature":
        with h5py.File(rtdc.parent / "raw.rtdc", "r+") as h5:
            del h5["events/image"]


@pytest.mark.parametrize(("damage", "rule", "where"), [
    ("missing-events", "layout.required", "/"),
    ("length", "layout.rows", "/events/deform"),
    ("dtype", "dataset.dtype", "/events/area_um"),
    ("unbound", "type.unbound", "/events/Bad-Name"),
    ("literal", "attribute.text-literal", "/"),
    ("image-attributes", "object.unexpected", "/events/image"),
])
def test_rtdc_damage_is_caught(rtdc: Path, damage: str, rule: str, where: str) -> None:
    _damaged(rtdc, damage)
    assert (rule, where) in _issues(rtdc)
    report = h5model.validate(rtdc, layout="rtdc", strict=True)
    assert report.exit_code() == 1


@pytest.mark.parametrize(("damage", "rule", "named"), [
    ("missing-events", "layout.required", "'events' is missing"),
    ("mapped-feature", "basin.mapping", "feature 'basinmap0' is missing from /events"),
    ("basin-feature", "basin.feature", "raw.rtdc has no feature 'image'"),
    ("length", "layout.rows", "37 rows, expected 40"),
    ("dtype", "dataset.dtype", "expected dtype numeric"),
    ("unbound", "type.unbound", "name 'Bad-Name' does not match"),
    ("literal", "attribute.text-literal", "'eleven' is not a literal"),
])
def test_each_rtdc_damage_has_its_own_message(rtdc: Path, damage: str, rule: str,
                                              named: str) -> None:
    """A missing feature is named, wherever it was required (the layout, a basin's
    mapping, a basin's feature list), not only reported as a missing events group."""
    _damaged(rtdc, damage)
    report = h5model.validate(rtdc, layout="rtdc", strict=True)
    messages = [i.message for i in report.issues if i.rule == rule]
    assert any(named in m for m in messages), [(i.rule, i.message) for i in report.issues]
    assert report.exit_code() == 1


def test_unbound_object_is_a_warning_unless_strict(rtdc: Path) -> None:
    _damaged(rtdc, "unbound")
    report = h5model.validate(rtdc, layout="rtdc")
    assert report.exit_code() == 0
    issue = next(i for i in report.issues if i.rule == "type.unbound")
    assert "does not match" in issue.message and issue.severity == "warning"
    assert h5model.validate(rtdc, layout="rtdc", strict=True).exit_code() == 1


def test_bad_literal_names_file_path_and_attribute(rtdc: Path) -> None:
    _damaged(rtdc, "literal")
    issue = next(i for i in h5model.validate(rtdc, layout="rtdc").issues
                 if i.rule == "attribute.text-literal")
    assert "'pipeline:dcnum generation'" in issue.message and "'eleven'" in issue.message
    with pytest.raises(h5model.ModelError, match="pipeline:dcnum generation") as caught:
        h5model.open(rtdc, layout="rtdc")
    assert str(rtdc) in str(caught.value)


def test_root_that_does_not_bind_is_an_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as h5:
        h5.create_dataset("x", data=[1, 2])
    report = h5model.validate(plain, layout="rtdc")
    assert report.exit_code() == 1
    assert [i.rule for i in report.issues] == ["layout.root-unbound"]
    assert "experiment:event count" in report.issues[0].message
    with pytest.raises(h5model.ModelError, match="does not fit layout 'rtdc'"):
        h5model.open(plain, layout="rtdc")


def test_spec_without_layout_on_a_plain_file_is_not_valid(rtdc: Path) -> None:
    from h5model.spec.layout import load_layout

    namespace = load_layout("rtdc").namespace_file
    report = h5model.validate(rtdc, spec=namespace)
    assert report.exit_code() == 1
    assert [i.rule for i in report.issues] == ["layout.none"]


def test_edit_lands_on_the_intended_object_only(rtdc: Path) -> None:
    with h5py.File(rtdc) as h5:
        before = {k: h5.attrs[k] for k in h5.attrs}
        deform = h5["events/deform"][:]
    with h5model.open(rtdc, "r+", layout="rtdc") as f:
        f.root.setup_flow_rate = 0.12
        f.root.pipeline_dcnum_generation = 12
        f.save()
    with h5py.File(rtdc) as h5:
        after = {k: h5.attrs[k] for k in h5.attrs}
        assert after.pop("setup:flow rate") == 0.12
        assert after.pop("pipeline:dcnum generation") == "12"  # written back as text
        before.pop("setup:flow rate"), before.pop("pipeline:dcnum generation")
        assert after == before
        assert np.array_equal(h5["events/deform"][:], deform)
    assert h5model.validate(rtdc, layout="rtdc", strict=True).exit_code() == 0


def test_truncate_keeps_rtdc_valid(rtdc: Path, tmp_path: Path) -> None:
    small = h5model.truncate(rtdc, tmp_path / "small.rtdc", n=7, layout="rtdc")
    assert h5model.validate(small, layout="rtdc", strict=True).exit_code() == 0
    with h5py.File(small) as h5, h5py.File(rtdc) as source:
        assert h5.attrs["experiment:event count"] == 7
        assert {h5["events"][k].shape[0] for k in h5["events"]} == {7}
        assert np.array_equal(h5["events/basinmap0"][:], source["events/basinmap0"][:7])
        basin = next(iter(h5["basins"]))
        assert h5["basins"][basin].shape == source["basins"][basin].shape  # kept whole


def test_missing_filter_is_named(rtdc: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.modules["hdf5plugin"] = None          # as if it were not installed
        import h5model
        with h5model.open({str(rtdc)!r}, layout="rtdc") as f:
            image = f.get("/events/image")
            print(image.value.shape, image.CLASS)  # metadata reads without the filter
            try:
                image.value[:2]
            except h5model.H5ModelError as exc:
                print("ERROR", exc)
    """)
    env = {"PATH": "/usr/bin:/bin", "HDF5_PLUGIN_PATH": str(rtdc.parent)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, check=True)
    assert f"({N}, 8, 12) IMAGE" in done.stdout
    assert "ERROR" in done.stdout and "zstd" in done.stdout.lower(), done.stdout


def test_cli_lists_layouts_and_takes_layout(rtdc: Path, capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    from h5model.spec.layout import shipped

    assert main(["layouts"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "rtdc\t0.1.0" in [line[:len("rtdc\t0.1.0")] for line in listed]
    assert [line.split("\t")[0] for line in listed] == sorted(shipped())
    assert main(["show", str(rtdc), "--layout", "rtdc"]) == 0
    assert "ScalarFeature" in capsys.readouterr().out
    assert main(["truncate", str(rtdc), str(tmp_path / "cut.rtdc"), "-n", "3",
                 "--layout", "rtdc"]) == 0
    assert main(["set", str(rtdc), "/setup:flow rate", "0.2", "--layout", "rtdc"]) == 0
    with h5py.File(rtdc) as h5:
        assert h5.attrs["setup:flow rate"] == 0.2


def test_typed_files_read_as_before_with_a_layout() -> None:
    plain = h5model.validate("examples/ecephys.nwb")
    with_layout = h5model.validate("examples/ecephys.nwb", layout="rtdc")
    assert [(i.rule, i.hdf5_path) for i in with_layout.issues] == [
        (i.rule, i.hdf5_path) for i in plain.issues]
    with h5model.open("examples/ecephys.nwb", layout="rtdc") as f:
        assert type(f.root).type_name() == "NWBFile"


# -- a layout of one's own: numeric order, patterns, ambiguity -------------------------------
LAYOUT = """
layout:
  name: traces
  version: 1.0.0
  namespace: traces.namespace.yaml
  root_type: Cache
  types:
    Traces: {{order: numeric}}
    Trace: {{name_pattern: '{pattern}', text_attributes: [gain, flags]}}
    Other: {{name_pattern: '{pattern}'}}
"""
NAMESPACE = """
namespaces:
- name: traces
  version: 1.0.0
  schema:
  - source: traces.types.yaml
"""
TYPES = """
groups:
- data_type_def: Cache
  groups:
  - {name: traces, data_type_inc: Traces}
- data_type_def: Traces
  datasets:
  - {data_type_inc: Trace, quantity: '*'}
  - {data_type_inc: Other, quantity: '*'}
datasets:
- data_type_def: Trace
  dtype: float64
  shape: [null]
  attributes:
  - {name: gain, dtype: float64}
  - {name: flags, dtype: bool, shape: [null], required: false}
- data_type_def: Other
  dtype: float64
  shape: [null]
  attributes:
  - {name: kind, dtype: text}
"""


def _own_layout(folder: Path, pattern: str = "[0-9]+") -> Path:
    folder.mkdir()
    (folder / "layout.yaml").write_text(LAYOUT.format(pattern=pattern))
    (folder / "traces.namespace.yaml").write_text(NAMESPACE)
    (folder / "traces.types.yaml").write_text(TYPES)
    return folder


def _traces_file(path: Path) -> Path:
    with h5py.File(path, "w") as h5:
        group = h5.create_group("traces")
        for i in (10, 2, 0, 1):
            data = group.create_dataset(str(i), data=np.arange(3.0) + i)
            data.attrs["gain"] = "nan" if i == 2 else f"{i}.5"
            data.attrs["flags"] = "[True, False]"
    return path


def test_numeric_order_and_text_literals(tmp_path: Path) -> None:
    layout = _own_layout(tmp_path / "layout")
    path = _traces_file(tmp_path / "t.h5")
    with h5model.open(path, "r+", layout=layout / "layout.yaml") as f:
        traces = f.root["traces"]
        assert list(traces) == ["0", "1", "2", "10"]
        assert traces["10"].gain == 10.5 and np.isnan(traces["2"].gain)
        assert list(traces["1"].flags) == [True, False]
        traces["1"].gain = float("inf")
        f.save()
    with h5py.File(path) as h5:
        assert h5["traces/1"].attrs["gain"] == "inf"
        assert h5["traces/0"].attrs["gain"] == "0.5"  # untouched


def test_a_name_outside_every_pattern_stays_unbound(tmp_path: Path) -> None:
    layout = _own_layout(tmp_path / "layout")
    path = _traces_file(tmp_path / "t.h5")
    with h5py.File(path, "r+") as h5:
        h5["traces"].create_dataset("x1", data=np.zeros(3))
    report = h5model.validate(path, layout=layout)
    unbound = [i for i in report.issues if i.rule == "type.unbound"]
    assert [i.hdf5_path for i in unbound] == ["/traces/x1"]


def test_ambiguous_candidates_stay_unbound(tmp_path: Path) -> None:
    layout = _own_layout(tmp_path / "layout", pattern=".*")
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("traces").create_dataset("a", data=np.zeros(3))
        h5["traces/a"].attrs["gain"] = "1.0"
        h5["traces/a"].attrs["kind"] = "x"  # both Trace and Other fit
    report = h5model.validate(path, layout=layout)
    issue = next(i for i in report.issues if i.rule == "type.unbound")
    assert "several types: Other, Trace" in issue.message


def test_hostile_patterns_are_refused_or_bounded(tmp_path: Path) -> None:
    for hostile in ("(a+)+$", "(a|aa)*b", "a**", "(?=a)", "\\1"):
        with pytest.raises(SpecError):
            compile_pattern(hostile)
    with pytest.raises(SpecError, match="groups are not allowed"):
        _own_layout(tmp_path / "bad", pattern="(a+)+$")
        h5model.validate(tmp_path / "x.h5", layout=tmp_path / "bad")
    # many stars in a row backtrack for ages in re; simulated here, linear in the name
    pattern = compile_pattern("a*" * 60 + "b")
    assert not pattern.matches("a" * 200)
    assert pattern.matches("a" * 200 + "b")
    assert compile_pattern("basinmap[0-9]").matches("basinmap3")
    assert not compile_pattern("basinmap[0-9]").matches("basinmap10")
    assert compile_pattern("^[a-z][a-z0-9_]{0,3}$").matches("ab_1")
    assert not compile_pattern("[a-z][a-z0-9_]{0,3}").matches("ab_12")


@pytest.mark.parametrize(("text", "dtype", "value"), [
    ("3", "int64", 3), ("-2.5", "float64", -2.5), ("True", "bool", True),
    ("inf", "float64", float("inf")), ("[1, 2.5]", "float64", [1.0, 2.5]),
    ("'a b'", "text", "a b"), ("-inf", "float32", float("-inf")),
])
def test_literals_parse(text: str, dtype: str, value: object) -> None:
    assert parse_literal(text, dtype) == value


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "open('x')", "1 + 1", "[1, x]", "eleven",
    "[" * 50 + "]" * 50, "1" * 70000, "True",
])
def test_literals_refuse_anything_else(text: str) -> None:
    with pytest.raises(LiteralError):
        parse_literal(text, "int64")


def test_literals_round_trip() -> None:
    for value in (3, 2.5, float("nan"), True, [1.0, 2.0], np.array([1.5, 2.5])):
        back = parse_literal(format_literal(value), None)
        assert repr(back) == repr(value.tolist() if isinstance(value, np.ndarray) else value)


def test_layout_copied_to_a_folder_is_found_by_path(tmp_path: Path, rtdc: Path) -> None:
    from h5model.spec.layout import shipped_folder

    folder = shipped_folder()
    assert folder is not None
    copy = shutil.copytree(folder / "rtdc", tmp_path / "mine")
    assert h5model.validate(rtdc, layout=copy).exit_code() == 0


def test_a_layout_from_elsewhere_is_parsed_without_aliases(tmp_path: Path) -> None:
    """Shipped layouts are parsed by libyaml (they are ours); a copy of one in a folder of
    the user's is untrusted input again: the loader that refuses YAML aliases reads it."""
    from h5model.errors import SpecError
    from h5model.spec.layout import load_layout, shipped_folder

    shipped = shipped_folder()
    assert shipped is not None
    assert load_layout("rtdc").name == "rtdc"
    copy = tmp_path / "rtdc"
    shutil.copytree(shipped / "rtdc", copy)
    assert load_layout(copy).name == "rtdc"  # the same text reads the same from anywhere
    manifest = copy / "layout.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("  doc: RT-DC", "  doc: &d RT-DC", 1)
                        + "    Basin2: *d\n")
    with pytest.raises(SpecError, match="aliases are not allowed"):
        load_layout(copy)


def test_many_files_under_a_layout_in_workers(tmp_path: Path) -> None:
    """A layout reaches every file of a many-file run, in worker processes as in this
    one: the same report, and the inventory counts the types the layout binds."""
    folder = tmp_path / "runs"
    folder.mkdir()
    good = write_rtdc(folder / "a.rtdc")
    bad = write_rtdc(folder / "b.rtdc")
    with h5py.File(bad, "a") as f:
        del f["events/area_um"]
        f.create_dataset("events/area_um", data=np.zeros(3))  # length != event count
    here = h5model.validate_many([good, bad], layout="rtdc")
    workers = h5model.validate_many([good, bad], layout="rtdc", jobs=2)
    assert here.to_json() == workers.to_json()
    assert [bool(r.issues) for r in here.files] == [False, True]
    assert here.exit_code() == 1
    rows = h5model.inventory([good], layout="rtdc").rows
    assert rows[0].types.get("rtdc.RTDCFile") == 1
    assert any(name.startswith("rtdc.") and name != "rtdc.RTDCFile" for name in rows[0].types)
