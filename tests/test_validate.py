"""Acceptance tests of the validator: valid files pass, damaged files fail with the right
rule at the right HDF5 path, and the reports keep their documented shapes.

Every damaged file starts as a copy of a file pynwb (or hdmf) wrote; one kind of damage
is then done to it with h5py.  Each case also records whether pynwb's own validator
notices the damage, and that record is checked against pynwb on every run.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import h5py
import numpy as np
import pytest
from corruptions import CASES, damaged, path_in_file, pynwb_outcome
from hdmf.backends.hdf5 import HDF5IO
from hdmf.common import DynamicTable, VectorData, VectorIndex
from hdmf.common import get_manager as get_hdmf_manager
from helpers import run_h5model
from nwbfiles import ALL_FILE_NAMES

from h5model.cli.app import main
from h5model.validation import Issue, Severity, validate, validate_many
from h5model.validation.report import RULES

VALID_FILES = [*ALL_FILE_NAMES, "old_ecephys", "old_ophys"]

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def cli_json(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    """``h5model validate ARGS --format json`` in this process: exit code and parsed report."""
    code = main(["validate", *map(str, args), "--format", "json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, json.loads(captured.out)


def assert_paths_are_real(path: Path, issues: list[Issue]) -> None:
    """Every issue names the root or an object (or link) that exists in the file."""
    for issue in issues:
        assert issue.hdf5_path.startswith("/"), issue
        assert issue.rule in RULES, issue
    if any(issue.hdf5_path != "/" for issue in issues):
        with h5py.File(path, "r") as f:
            for issue in issues:
                assert path_in_file(f, issue.hdf5_path), issue


# ---------------------------------------------------------------------------
# valid files
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALID_FILES)
def test_valid_file_has_no_errors(nwb_files: dict[str, Path], name: str) -> None:
    report = validate(nwb_files[name])
    assert [i for i in report.issues if i.severity is Severity.ERROR] == []
    assert report.exit_code() == 0
    assert report.valid


def test_all_valid_files_in_one_call_exit_zero(
    nwb_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = cli_json(capsys, *(nwb_files[name] for name in VALID_FILES))
    assert code == 0
    assert report["summary"] == {"files": len(VALID_FILES), "errors": 0, "warnings": 0}
    assert {f["status"] for f in report["files"]} == {"valid"}


def test_pynwb_accepts_the_undamaged_files(nwb_files: dict[str, Path]) -> None:
    """What makes a raise of pynwb's validator on a damaged copy count as detection."""
    for source in sorted({case.source for case in CASES.values()}):
        assert pynwb_outcome(nwb_files[source]) == (False, False), source


# ---------------------------------------------------------------------------
# damaged files
# ---------------------------------------------------------------------------


def test_the_suite_covers_the_required_kinds() -> None:
    assert len(CASES) >= 25
    required = {
        "attribute.missing",
        "dataset.missing",
        "group.missing",
        "dataset.dtype",
        "attribute.dtype",
        "dataset.shape",
        "attribute.value",
        "reference.dangling",
        "reference.target-type",
        "link.broken",
        "link.target-type",
        "table.index-out-of-range",
        "table.index-decreasing",
        "table.region-out-of-range",
        "table.column-length",
        "table.colnames",
        "table.timeseries-reference-out-of-range",
        "type.unknown",
        "object.unexpected",
        "spec.malformed",
        "spec.namespace-missing",
        "spec.missing",
        "file.unreadable",
        "file.not-hdf5",
        "file.not-found",
    }
    assert required <= {case.rule for case in CASES.values()}


@pytest.mark.parametrize("name", list(CASES))
def test_damage_is_reported(
    name: str, nwb_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    path = damaged(name, nwb_files, tmp_path)
    code, report = cli_json(capsys, path, *(["--strict"] if case.strict else []))
    assert code == case.exit_code == report["exit_code"]
    (entry,) = report["files"]
    found = [(i["rule"], i["hdf5_path"], i["severity"]) for i in entry["issues"]]
    assert (case.rule, case.hdf5_path, case.severity.value) in found, found
    expected = (case.rule, case.hdf5_path)
    # nothing else, apart from warnings about what a damaged type leaves undefined
    others = {(rule, severity) for rule, where, severity in found if (rule, where) != expected}
    assert others <= {("object.unexpected", "warning")}, found
    issues = validate(path, strict=case.strict).issues
    assert [(i.rule, i.hdf5_path, i.severity.value) for i in issues] == found
    if code == 2:
        assert entry["status"] == "unreadable"
    else:
        assert_paths_are_real(path, issues)


@pytest.mark.parametrize("name", list(CASES))
def test_pynwb_detection_is_recorded_truly(
    name: str, nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    """The table's ``pynwb_detects`` and ``pynwb_raises`` are what pynwb does today, and
    whatever pynwb detects, h5model detects too."""
    case = CASES[name]
    path = damaged(name, nwb_files, tmp_path)
    assert pynwb_outcome(path) == (case.pynwb_detects, case.pynwb_raises)
    if case.pynwb_detects:
        report = validate(path, strict=case.strict)
        assert report.exit_code() != 0
        assert case.rule in {i.rule for i in report.issues}


@pytest.mark.parametrize("name", ["index_past_data", "extra_group_strict", "file_truncated"])
def test_damage_through_a_real_process(
    name: str, nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    case = CASES[name]
    path = damaged(name, nwb_files, tmp_path)
    strict = ["--strict"] if case.strict else []
    result = run_h5model("validate", path, "--format", "json", *strict)
    assert result.returncode == case.exit_code, result.stderr
    assert "Traceback" not in result.stderr
    issues = json.loads(result.stdout)["files"][0]["issues"]
    assert {"hdf5_path": case.hdf5_path, "rule": case.rule} in [
        {"hdf5_path": i["hdf5_path"], "rule": i["rule"]} for i in issues
    ]
    text = run_h5model("validate", path, *strict)
    assert text.returncode == case.exit_code
    assert case.hdf5_path in text.stdout and case.rule in text.stdout


# ---------------------------------------------------------------------------
# many files, and inputs that must never give a traceback
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_damage(
    nwb_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("damaged")
    return {name: damaged(name, nwb_files, directory) for name in CASES}


def test_one_report_covers_every_file(
    every_damage: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    paths = list(every_damage.values())
    code, report = cli_json(capsys, *paths)
    assert code == 2
    assert report["summary"]["files"] == len(paths)
    assert [f["file"] for f in report["files"]] == [str(p) for p in paths]
    for path, entry in zip(paths, report["files"], strict=True):
        alone = validate(path).files[0]
        assert entry["issues"] == [i.to_json() for i in alone.issues]
        assert entry["status"] == alone.status()
    total = sum(len(f["issues"]) for f in report["files"])
    assert report["summary"]["errors"] + report["summary"]["warnings"] == total


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["extra_group"], 0),
        (["extra_group", "index_past_data"], 1),
        (["index_past_data", "file_not_hdf5", "extra_group"], 2),
        (["file_not_found", "colnames_absent"], 2),
    ],
)
def test_exit_code_is_the_worst(
    every_damage: dict[str, Path],
    nwb_files: dict[str, Path],
    names: list[str],
    expected: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paths = [nwb_files["minimal"], *(every_damage[n] for n in names)]
    assert validate_many(paths).exit_code() == expected
    assert validate_many(list(reversed(paths))).exit_code() == expected
    code, report = cli_json(capsys, *paths)
    assert code == expected == report["exit_code"]
    assert len(report["files"]) == len(paths)


def test_no_input_gives_a_traceback(every_damage: dict[str, Path], tmp_path: Path) -> None:
    everything = run_h5model("validate", *every_damage.values(), tmp_path)
    assert everything.returncode == 2
    assert "Traceback" not in everything.stderr
    assert f"{tmp_path}: unreadable" in everything.stdout
    for path in every_damage.values():
        assert str(path) in everything.stdout
    spec = every_damage["extra_group"]
    bad_yaml = tmp_path / "bad.namespace.yaml"
    bad_yaml.write_text("namespaces: [\n")
    for args in (
        [],  # no file at all
        [spec, "--format", "xml"],
        [spec, "--spec", tmp_path / "absent.namespace.yaml"],
        [spec, "--spec", bad_yaml],
        [spec, "--spec", spec],  # a namespace file that is binary
        [spec, "--output", tmp_path],  # cannot write the report there
    ):
        result = run_h5model("validate", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.strip(), args


# ---------------------------------------------------------------------------
# report formats
# ---------------------------------------------------------------------------


def test_json_report_shape(
    every_damage: dict[str, Path], nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    paths = [nwb_files["minimal"], every_damage["index_past_data"], every_damage["extra_group"]]
    out = tmp_path / "report.json"
    result = run_h5model("validate", *paths, "--format", "json", "--output", out)
    assert result.returncode == 1
    assert "index_past_data" in result.stdout  # the text summary still goes to stdout
    report = json.loads(out.read_text())
    assert set(report) == {
        "report_version",
        "tool",
        "strict",
        "valid",
        "exit_code",
        "summary",
        "files",
    }
    assert report["report_version"] == 1
    assert report["tool"] == "h5model"
    assert report["strict"] is False
    assert report["valid"] is False
    assert report["exit_code"] == 1
    assert report["summary"] == {"files": 3, "errors": 1, "warnings": 1}
    assert [f["status"] for f in report["files"]] == ["valid", "invalid", "valid"]
    for entry in report["files"]:
        assert set(entry) == {"file", "status", "issues"}
        for issue in entry["issues"]:
            assert set(issue) == {"hdf5_path", "rule", "severity", "message"}
            assert issue["severity"] in ("error", "warning")
            assert issue["rule"] in RULES
            assert issue["hdf5_path"].startswith("/")
            assert issue["message"]


def test_strict_json_counts_warnings_as_errors(
    every_damage: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = cli_json(capsys, every_damage["extra_group"], "--strict")
    assert code == 1
    assert report["strict"] is True and report["valid"] is False
    assert report["summary"] == {"files": 1, "errors": 1, "warnings": 0}
    assert report["files"][0]["issues"][0]["severity"] == "error"


def test_junit_report(
    every_damage: dict[str, Path], nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    paths = [
        nwb_files["minimal"],
        every_damage["index_past_data"],
        every_damage["extra_group"],
        every_damage["file_truncated"],
    ]
    out = tmp_path / "junit.xml"
    assert main(["validate", *map(str, paths), "--format", "junit", "--output", str(out)]) == 2
    root = ElementTree.parse(out).getroot()
    report = validate_many(paths)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(p) for p in paths]
    # the counts are the issues listed: a case per issue (one passing case for a clean
    # file), a failure per error, an error per issue that made a file unreadable
    for suite, file_report in zip(suites, report.files, strict=True):
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases)) == str(max(1, len(file_report.issues)))
        assert suite.get("failures") == str(len(suite.findall("testcase/failure")))
        assert suite.get("errors") == str(len(suite.findall("testcase/error")))
        assert [c.get("name") for c in cases] == (
            [f"{i.rule} {i.hdf5_path}" for i in file_report.issues] or ["valid"])
    assert root.get("tests") == str(len(root.findall(".//testcase")))
    assert root.get("failures") == str(len(root.findall(".//failure")))
    assert root.get("errors") == str(len(root.findall(".//error")))
    assert root.get("failures") == str(sum(
        1 for i in report.issues if i.severity == "error" and i.rule != "file.unreadable"))
    valid, invalid, warned, unreadable = suites
    assert valid.find(".//failure") is None and valid.find(".//error") is None
    failures = invalid.findall(".//failure")
    assert failures and failures[0].get("type") == "table.index-out-of-range"
    assert "/units/spike_times_index" in (failures[0].text or "")
    assert warned.find(".//failure") is None
    system_out = warned.find(".//system-out")
    assert system_out is not None and "object.unexpected" in (system_out.text or "")
    error = unreadable.find(".//error")
    assert error is not None and error.get("type") == "file.unreadable"


def test_junit_counts_every_error_of_a_file(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    """A file with several errors has as many failures (not one per file)."""
    path = tmp_path / "two_missing.nwb"
    shutil.copyfile(nwb_files["minimal"], path)
    with h5py.File(path, "r+") as h5:
        del h5["identifier"], h5["session_description"]
    out = tmp_path / "junit.xml"
    assert main(["validate", str(path), "--format", "junit", "--output", str(out)]) == 1
    errors = validate(path).files[0].errors()
    assert len(errors) >= 2
    root = ElementTree.parse(out).getroot()
    assert root.get("failures") == str(len(errors)) == str(len(root.findall(".//failure")))
    assert root.get("tests") == str(len(validate(path).issues))


def test_output_writes_the_text_report(every_damage: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    code = main(["validate", str(every_damage["colnames_absent"]), "--output", str(out)])
    assert code == 1
    text = out.read_text()
    assert "invalid" in text
    assert "table.colnames" in text and "/units" in text


# ---------------------------------------------------------------------------
# bounded memory: chunked reading covers the whole of a long ragged column
# ---------------------------------------------------------------------------

LONG = 3_000_000


def test_external_links_are_reported_without_opening_their_files(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    """A link to a system file (directly or through a soft link) and a link to a file that
    is not there are warnings; a link to a file beside this one is not; none is opened."""
    beside = tmp_path / "other.h5"
    with h5py.File(beside, "w") as f:
        f.create_group("x")
    path = tmp_path / "links.nwb"
    shutil.copyfile(nwb_files["minimal"], path)
    with h5py.File(path, "a") as f:
        f["acquisition/system"] = h5py.ExternalLink("/etc/passwd", "/")
        f["general/via"] = h5py.SoftLink("/acquisition/system")
        f["acquisition/gone"] = h5py.ExternalLink("gone.h5", "/x")
        f["acquisition/beside"] = h5py.ExternalLink("other.h5", "/x")
    (report,) = validate(path).files
    found = {(i.hdf5_path, i.rule, i.severity) for i in report.issues}
    assert found == {
        ("/acquisition/system", "link.external-outside", Severity.WARNING),
        ("/general/via", "link.external-outside", Severity.WARNING),
        ("/acquisition/gone", "link.external-missing", Severity.WARNING),
    }
    assert report.status() == "valid" and report.status(strict=True) == "invalid"


@pytest.fixture(scope="module")
def long_ragged_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DynamicTable, written by hdmf, whose ragged column has LONG index entries."""
    samples = VectorData(
        name="samples", description="one sample per row", data=np.arange(LONG, dtype=np.float32)
    )
    index = VectorIndex(
        name="samples_index", data=np.arange(1, LONG + 1, dtype=np.uint32), target=samples
    )
    table = DynamicTable(
        name="long_table",
        description="a long ragged column",
        id=np.arange(LONG, dtype=np.int32),
        columns=[samples, index],
    )
    path = tmp_path_factory.mktemp("long") / "long_table.h5"
    with HDF5IO(str(path), manager=get_hdmf_manager(), mode="w") as io:
        io.write(table, cache_spec=True)
    return path


@pytest.mark.parametrize(
    ("value", "rule"),
    [(LONG + 1, "table.index-out-of-range"), (LONG - 2, "table.index-decreasing")],
)
def test_last_entry_of_a_long_index_is_checked(
    long_ragged_table: Path, tmp_path: Path, value: int, rule: str
) -> None:
    from h5model.hdf5 import stored

    assert LONG > 2 * stored.BLOCK_ELEMENTS  # the last entry is in the third block read
    assert validate(long_ragged_table).exit_code() == 0
    path = tmp_path / "long_table.h5"
    shutil.copy(long_ragged_table, path)
    with h5py.File(path, "r+") as f:
        f["samples_index"][-1] = value
    started = time.perf_counter()
    report = validate(path)
    assert time.perf_counter() - started < 5
    assert [(i.rule, i.hdf5_path) for i in report.issues] == [(rule, "/samples_index")]
    assert f"index entry {LONG - 1}" in report.issues[0].message


def test_memory_does_not_grow_with_the_index(
    long_ragged_table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With blocks of 2^16 rows, the peak stays well below the index's own size."""
    import tracemalloc

    from h5model.hdf5 import stored

    monkeypatch.setattr(stored, "BLOCK_ELEMENTS", 1 << 16)
    path = tmp_path / "long_table.h5"
    shutil.copy(long_ragged_table, path)
    with h5py.File(path, "r+") as f:
        f["samples_index"][-1] = LONG + 1
        index_bytes = f["samples_index"].size * 8  # read as int64
    validate(path)  # imports and spec caches out of the measurement
    tracemalloc.start()
    try:
        report = validate(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [i.rule for i in report.issues] == ["table.index-out-of-range"]
    assert peak < index_bytes / 4, (peak, index_bytes)
