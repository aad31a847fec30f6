"""The stytra layout on session documents written as stytra's DataCollector writes them
(``json.dump(..., sort_keys=True)`` of the cleaned parameter tree, datetimes as
``isoformat()``) and logs as its accumulators save them (``to_csv(sep=";")``): lossless
round trips, typed models equal to h5py, refusals naming the key path, damage caught,
an edit reaching one object, truncation, infer and embed."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import h5model
from h5model.cli.app import main
from h5model.layouts.stytra import (
    StytraError,
    export_session,
    import_session,
    read_document,
    write_log,
)

pd = pytest.importorskip("pandas")  # a test dependency; stytra saves its logs with it


def _clean(value: Any) -> Any:
    """What stytra's ``prepare_json(convert_datetime=True)`` makes of a value."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def stytra_document(start: dt.datetime) -> dict[str, Any]:
    """A session's metadata as a stytra experiment with tracking collects it."""
    log = [{"name": name, "t_start": 5.0 * i, "t_stop": 5.0 * i + 4.0, "duration": 4.0,
            "color": [255, 255, 255], "clip_mask": 0.0,
            "real_time_start": start + dt.timedelta(seconds=5 * i),
            "real_time_stop": start + dt.timedelta(seconds=5 * i + 4, microseconds=1500)}
           for i, name in enumerate(["flash", "pause", "flash", "gratings"] * 3)]
    return {
        "general": {"fish_id": "190321_f3", "session_id": "153012", "db_index": -1,
                    "t_protocol_start": start, "t_protocol_end": start + dt.timedelta(
                        minutes=1, microseconds=7),
                    "basename": "/data/stytra/flashes/190321_f3",
                    "program_version": {"git_hash": None, "name": "run_exp.py",
                                        "version": "0.8.26",
                                        "arguments": {"dir_save": "/data/stytra",
                                                      "log_format": "csv",
                                                      "display": {"full_screen": False}},
                                        "dependencies": ["numpy:1.16.2", "pandas:0.24.2"]}},
        "animal": {"id": 3, "age": 7, "genotype": "TL", "comments": "", "embedded": True,
                   "dish_diameter": "60", "treatment": "", "screened": "not",
                   "species": "Danio rerio", "screening": {"age": 6, "passed": True}},
        "stimulus": {"log": log, "protocol": {"flashes": {"n_repeats": 3, "period_sec": 5.0,
                                                          "flash_duration": 4.0}},
                     "display_params": {"pos": [0, 0], "size": [800, 600],
                                        "framerate": 60.0, "gl_display": False},
                     "calibration_params": {"length_mm": 30.0, "length_px": 300,
                                            "cam_to_proj": [[1.0, 0.0, 0.5],
                                                            [0.0, 1.0, -0.25]]}},
        "behavior": {"tail": {"n_segments": 10, "tail_start": [0.47, 0.5],
                              "tail_length": [0.0, -0.3], "window_size": 7,
                              "color_invert": True, "display_processed": "raw"},
                     "fps": math.nan, "behavior_log": "153012_behavior_log.csv"},
        "camera": {"type": "ximea", "exposure": 1.0, "framerate": 150.0, "gain": 1.0,
                   "roi": [-1, -1, -1, -1], "rotation": 0},
        "imaging": {"type": "2P", "microscope_config": {"frame_rate": 2.5, "n_planes": 1,
                                                        "lasers": []}},
        "gui": {"geometry": "01d9d0cb00020000", "window_state": "000000ff00000000fd"},
    }


def write_session(folder: Path) -> tuple[Path, Path]:
    """The files stytra leaves for a session: the metadata JSON and the behaviour log."""
    start = dt.datetime(2019, 3, 21, 15, 30, 12, 123456)
    metadata = folder / "153012_metadata.json"
    with open(metadata, "w") as handle:
        json.dump(_clean(stytra_document(start)), handle, sort_keys=True)
    rng = np.random.default_rng(3)
    t = np.arange(200) / 300.0
    frame = pd.DataFrame(np.column_stack([t, rng.normal(size=200), rng.normal(size=200)]),
                         columns=["t", "tail_sum", "theta_00"])
    frame.iloc[5, 2] = np.nan  # tracking lost for a frame
    log = folder / "153012_behavior_log.csv"
    frame.to_csv(log, sep=";")
    return metadata, log


@pytest.fixture
def session(tmp_path: Path) -> tuple[Path, Path, Path]:
    metadata, log = write_session(tmp_path)
    path = import_session(metadata, tmp_path / "session.h5", logs={"behavior_log": log})
    return metadata, log, path


def _datasets(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with h5py.File(path) as h5:
        h5.visititems(lambda name, item: out.__setitem__(f"/{name}", item[()])
                      if isinstance(item, h5py.Dataset) else None)
    return out


# -- round trips ------------------------------------------------------------------------------
def test_import_then_export_gives_back_stytras_document(session: tuple[Path, Path, Path],
                                                        tmp_path: Path) -> None:
    metadata, log, path = session
    out = export_session(path, tmp_path / "again.json")
    assert out.read_text() == metadata.read_text()  # byte for byte, NaN included
    document = read_document(path)
    assert document["stimulus"] == json.loads(metadata.read_text())["stimulus"]
    assert document["general"]["program_version"]["git_hash"] is None
    assert document["animal"]["embedded"] is True and document["animal"]["age"] == 7
    again = write_log(path, "behavior_log", tmp_path / "again.csv")
    assert again.read_text() == log.read_text()
    pd.testing.assert_frame_equal(pd.read_csv(again, sep=";", index_col=0),
                                  pd.read_csv(log, sep=";", index_col=0))


def test_cli_import_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metadata, log = write_session(tmp_path)
    out = tmp_path / "s.h5"
    assert main(["stytra", "import", str(metadata), "-o", str(out),
                 "--log", f"behavior_log={log}"]) == 0
    assert main(["stytra", "export", str(out), "-o", str(tmp_path / "m.json"),
                 "--logs", str(tmp_path / "logs")]) == 0
    assert (tmp_path / "m.json").read_text() == metadata.read_text()
    assert (tmp_path / "logs" / "behavior_log.csv").read_text() == log.read_text()
    assert main(["stytra", "export", str(out), "-o", str(tmp_path / "strict.json"),
                 "--strict-json"]) == 1
    assert "behavior/fps" in capsys.readouterr().err
    assert not (tmp_path / "strict.json").exists()
    assert main(["stytra", "import", str(metadata), "-o", str(out)]) == 1  # exists


@pytest.mark.parametrize(("value", "where", "what"), [
    ({"log": [{"a": 1}, 2]}, "stimulus/log[0]", "a mapping"),
    ({"roi": [1, 2.5]}, "stimulus/roi", "mixing float and int"),
    ({"names": [1, "a"]}, "stimulus/names", "mixing int and text"),
    ({"pts": [[1, 2], [3]]}, "stimulus/pts", "ragged"),
    ({"pts": [None, 1]}, "stimulus/pts[0]", "a null"),
    ({"big": 2**70}, "stimulus/big", "int64"),
    ({"a/b": 1}, "stimulus/a/b", "cannot name"),
    ({"nul": "a\0b"}, "stimulus/nul", "NUL"),
])
def test_what_the_layout_cannot_hold_is_refused_with_its_key_path(
        tmp_path: Path, value: dict[str, Any], where: str, what: str) -> None:
    document = {"general": {}, "animal": {}, "stimulus": value}
    target = tmp_path / "bad.h5"
    with pytest.raises(StytraError, match=what) as caught:
        import_session(document, target)
    assert repr(where) in str(caught.value)
    assert not target.exists()


def test_non_finite_numbers_only_where_json_can_hold_them(session: tuple[Path, Path, Path],
                                                          tmp_path: Path) -> None:
    _, _, path = session
    assert math.isnan(read_document(path)["behavior"]["fps"])
    with pytest.raises(StytraError, match="'behavior/fps'"):
        export_session(path, tmp_path / "strict.json", allow_nan=False)
    assert not (tmp_path / "strict.json").exists()


# -- typed models ------------------------------------------------------------------------------
def test_models_are_typed_and_hold_what_h5py_reads(session: tuple[Path, Path, Path]) -> None:
    _, _, path = session
    stored = _datasets(path)
    with h5model.open(path, layout="stytra") as f:
        assert type(f.root).type_name() == "StytraSession"
        assert type(f.root.metadata).type_name() == "SessionMetadata"
        for category in ("general", "animal", "stimulus", "imaging", "behavior", "camera"):
            assert type(f.get(f"/metadata/{category}")).type_name() == "Category"
        kinds = {p: type(f.get(p)).type_name() for p in stored}
        assert kinds["/metadata/general/t_protocol_start"] == "Timestamp"
        assert kinds["/metadata/general/program_version/git_hash"] == "NullValue"
        assert kinds["/metadata/animal/screening/age"] == "Value"
        assert kinds["/logs/behavior_log/tail_sum"] == "Column"
        assert type(f.get("/metadata/stimulus/log")).type_name() == "Records"
        assert list(f.get("/metadata/stimulus/log"))[:3] == ["0", "1", "2"]  # numeric order
        assert list(f.get("/metadata/stimulus/log"))[-2:] == ["10", "11"]
        assert f.get("/metadata/general/t_protocol_start").format == "isoformat"
        assert list(f.get("/logs/behavior_log").column_order) == ["t", "tail_sum", "theta_00"]
        for p, value in stored.items():
            model = f.get(p).value
            read = model[()] if hasattr(model, "shape") and not isinstance(
                model, (np.ndarray, np.generic)) else model
            if isinstance(value, bytes):
                assert read in (value, value.decode()), p
            elif isinstance(value, np.ndarray) and value.dtype == object:
                assert [v.decode() for v in value.ravel()] == [
                    v.decode() if isinstance(v, bytes) else v for v in np.ravel(read)], p
            else:
                assert np.array_equal(read, value, equal_nan=value.dtype.kind == "f"), p
        assert f.get("/metadata/animal/age").value == 7
        assert f.get("/metadata/animal/embedded").value is True or bool(
            f.get("/metadata/animal/embedded").value) is True


def test_session_validates_strictly(session: tuple[Path, Path, Path]) -> None:
    _, _, path = session
    report = h5model.validate(path, layout="stytra", strict=True)
    assert report.exit_code() == 0, [(i.rule, i.hdf5_path, i.message) for i in report.issues]
    assert "stytra" in [line.split("\t")[0] for line in _layouts_listed()]


def _layouts_listed() -> list[str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["layouts"]) == 0
    return [line for line in out.getvalue().splitlines() if line.startswith("stytra\t0.1.0")]


def _damage(path: Path, damage: str) -> None:
    with h5py.File(path, "r+") as h5:
        if damage == "category":
            del h5["metadata/animal"]
        elif damage == "dtype":
            del h5["logs/behavior_log/tail_sum"]
            h5["logs/behavior_log"].create_dataset(
                "tail_sum", data=np.array(["x"] * 200, dtype=object),
                dtype=h5py.string_dtype())
        elif damage == "unbound":
            h5["logs"].create_group("stray").create_dataset("x", data=np.arange(3.0))
        elif damage == "fixed":
            h5["metadata/general/t_protocol_start"].attrs["format"] = "%Y-%m-%d"
        elif damage == "rows":
            del h5["logs/behavior_log/t"]
            h5["logs/behavior_log"].create_dataset("t", data=np.arange(150.0))
        elif damage == "root":
            h5.move("metadata", "meta")


@pytest.mark.parametrize(("damage", "rule", "where"), [
    ("category", "group.missing", "/metadata"),
    ("dtype", "dataset.dtype", "/logs/behavior_log/tail_sum"),
    ("unbound", "type.unbound", "/logs/stray"),
    ("fixed", "attribute.value", "/metadata/general/t_protocol_start"),
    ("rows", "layout.rows", "/logs/behavior_log/t"),
    ("root", "layout.root-unbound", "/"),
])
def test_damage_is_caught(session: tuple[Path, Path, Path], damage: str, rule: str,
                          where: str, tmp_path: Path) -> None:
    _, _, path = session
    _damage(path, damage)
    report = h5model.validate(path, layout="stytra", strict=True)
    found = [(i.rule, i.hdf5_path) for i in report.files[0].errors()]
    assert any(r.startswith(rule) and p == where for r, p in found), found
    with pytest.raises(StytraError, match="not a valid stytra session file"):
        export_session(path, tmp_path / "out.json")


# -- edits, truncation, infer, embed ----------------------------------------------------------
def test_an_edit_lands_on_exactly_one_object(session: tuple[Path, Path, Path]) -> None:
    _, _, path = session
    before = _datasets(path)
    with h5model.open(path, "r+", layout="stytra") as f:
        f.get("/metadata/animal/screening/age").value = 8
        f.save()
    after = _datasets(path)
    assert after.pop("/metadata/animal/screening/age") == 8
    del before["/metadata/animal/screening/age"]
    assert after.keys() == before.keys()
    for p, value in before.items():
        assert np.array_equal(after[p], value, equal_nan=getattr(value, "dtype", None) is not None
                              and value.dtype.kind == "f"), p
    assert read_document(path)["animal"]["screening"] == {"age": 8, "passed": True}
    assert read_document(path)["animal"]["age"] == 7


def test_truncate_cuts_the_logs_and_keeps_the_document(session: tuple[Path, Path, Path],
                                                       tmp_path: Path) -> None:
    _, _, path = session
    small = h5model.truncate(path, tmp_path / "small.h5", n=10, layout="stytra")
    assert h5model.validate(small, layout="stytra", strict=True).exit_code() == 0
    with h5py.File(small) as h5:
        assert {h5["logs/behavior_log"][c].shape for c in ("t", "tail_sum", "theta_00")} == {
            (10,)}
    assert read_document(small)["stimulus"] == read_document(path)["stimulus"]


def test_infer_then_validate_is_clean(session: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from h5model.inference import infer

    _, _, path = session
    infer(path, tmp_path / "drafted")
    report = h5model.validate(path, layout=tmp_path / "drafted", strict=True)
    assert report.exit_code() == 0, [(i.rule, i.hdf5_path) for i in report.issues]


def test_embed_then_open_without_layout_gives_the_same_models(
        session: tuple[Path, Path, Path], tmp_path: Path) -> None:
    metadata, _, path = session
    paths = list(_datasets(path))

    def models(f: Any) -> dict[str, tuple[str, Any]]:
        return {p: (type(f.get(p)).type_name(), f.get(p).value[()] if hasattr(
            f.get(p).value, "shape") else f.get(p).value) for p in paths}

    with h5model.open(path, layout="stytra") as f:
        before = models(f)
    h5model.embed(path, layout="stytra")
    with h5model.open(path) as f:
        assert type(f.root).type_name() == "StytraSession"
        after = models(f)
    assert after.keys() == before.keys()
    for p, (kind, value) in before.items():
        assert after[p][0] == kind, p
        assert np.array_equal(np.asarray(after[p][1]), np.asarray(value),
                              equal_nan=np.asarray(value).dtype.kind == "f"), p
    assert h5model.validate(path).exit_code() == 0
    out = export_session(path, tmp_path / "again.json")
    assert out.read_text() == metadata.read_text()


def test_nesting_beyond_the_bound_is_refused(tmp_path: Path) -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(80):
        inner["k"] = {}
        inner = inner["k"]
    with pytest.raises(StytraError, match="nested more than 64 deep"):
        import_session({"general": deep, "animal": {}, "stimulus": {}}, tmp_path / "deep.h5")
    assert not (tmp_path / "deep.h5").exists()
