"""Layouts written in Python: model classes whose annotations derive the spec; the same
classes read (plain h5py files and self-describing ones), validate and write files that
hdmf's generic reader opens."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any, ClassVar

import h5py
import numpy as np
import pytest

import h5model
from h5model import ArrayOf, Attr, Children, Dataset, Group, H5Array
from h5model.spec.declared import derive


class Trace(Dataset):
    """One recorded trace."""

    value: Annotated[H5Array | np.ndarray, ArrayOf("float64", shapes=((None,),))]
    channel: int
    gain: Annotated[float | None, Attr("gain:value")] = None


class Info(Group):
    """Who was recorded."""

    subject: str
    age_days: int | None = None


class Session(Group):
    """A recording session."""

    h5_namespace: ClassVar[str] = "lab"
    h5_version: ClassVar[str] = "1.2.0"
    info: Info
    traces: Annotated[dict[str, Trace], Children(min_items=1)]


def _session() -> Session:
    return Session(info=Info(subject="mouse 1", age_days=40),
                   traces={"0": Trace(value=np.arange(5.0), channel=3, gain=2.5),
                           "1": Trace(value=np.ones(4), channel=4)})


def _dump(model: Any) -> Any:
    dumped = model.model_dump(context={"arrays": "values"})
    return _strip(dumped)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in ("object_id", "hdf5_path")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def test_the_spec_is_derived_from_the_classes() -> None:
    derived = derive(Session)
    assert (derived.namespace, derived.version) == ("lab", "1.2.0")
    types = derived.documents["lab.types"]
    session = next(g for g in types["groups"] if g["data_type_def"] == "Session")
    assert session["doc"] == "A recording session."
    assert {"name": "info", "data_type_inc": "Info", "doc": "info"} in session["groups"]
    assert session["datasets"] == [{"data_type_inc": "Trace", "quantity": "+",
                                    "doc": "traces"}]
    trace = next(d for d in types["datasets"] if d["data_type_def"] == "Trace")
    assert trace["dtype"] == "float64" and trace["shape"] == [None]
    assert {"name": "gain:value", "dtype": "float64", "doc": "gain",
            "required": False} in trace["attributes"]
    assert {"name": "channel", "dtype": "int64", "doc": "channel"} in trace["attributes"]
    assert derived.layout.root_type == "Session"


def test_write_then_read_with_the_classes_is_equal(tmp_path: Path) -> None:
    path = h5model.write(_session(), tmp_path / "session.h5")
    with h5model.open(path, layout=Session) as f:
        root = f.root
        assert isinstance(root, Session) and isinstance(root.traces["0"], Trace)
        assert _dump(root) == _dump(_session())
        assert root.traces["0"].gain == 2.5 and root.traces["1"].gain is None
    with h5model.open(path) as f:  # self-describing: no classes needed
        assert type(f.root).__name__ == "Session"  # generated from the embedded spec
        assert f.get("/info").subject == "mouse 1" and f.get("/info").age_days == 40
        assert f.get("/0").channel == 3 and f.get("/0").gain_value == 2.5
        assert np.array_equal(f.get("/1").value[:], np.ones(4))
    with h5py.File(path) as h5:
        assert h5["0"].attrs["data_type"] == "Trace" and h5["0"].attrs["namespace"] == "lab"
        assert h5["0"].attrs["gain:value"] == 2.5
    assert h5model.validate(path, strict=True).exit_code() == 0


def test_hdmf_reads_the_written_file(tmp_path: Path) -> None:
    from hdmf.backends.hdf5 import HDF5IO
    from hdmf.build import BuildManager
    from hdmf.common import get_type_map

    path = h5model.write(_session(), tmp_path / "session.h5")
    type_map = get_type_map()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "lab" in HDF5IO.load_namespaces(type_map, str(path))
        with HDF5IO(str(path), "r", manager=BuildManager(type_map)) as io:
            session = io.read()
            assert type(session).__name__ == "Session"
            assert session.fields["info"].fields["subject"] == "mouse 1"
            trace = session.fields["traces"]["0"]
            assert trace.fields["channel"] == 3
            assert np.array_equal(trace.data[:], np.arange(5.0))


def _plain(path: Path, channel: Any = 1) -> Path:
    """The same layout as hand-rolled h5py code writes it: no type attributes."""
    with h5py.File(path, "w") as h5:
        h5.create_group("info").attrs["subject"] = "m2"
        for name in ("2", "10"):
            h5.create_dataset(name, data=np.arange(3.0)).attrs["channel"] = channel
    return path


def test_the_classes_read_and_validate_a_plain_file(tmp_path: Path) -> None:
    path = _plain(tmp_path / "plain.h5")
    assert h5model.validate(path, layout=Session, strict=True).exit_code() == 0
    with h5model.open(path, layout=Session) as f:
        assert isinstance(f.root, Session)
        assert sorted(f.root.traces) == ["10", "2"]
        assert f.root.traces["10"].channel == 1
        assert f.root.info.subject == "m2"
    with h5py.File(path, "r+") as h5:
        del h5["info"].attrs["subject"]
    report = h5model.validate(path, layout=Session)
    assert report.exit_code() == 1
    assert any(i.hdf5_path == "/info" for i in report.issues), report.to_text()


def test_a_field_without_a_spec_dtype_is_refused() -> None:
    class Odd(Group):
        """No dtype for this."""

        thing: dict[str, int]

    with pytest.raises(h5model.SpecError, match=r"Odd\.thing"):
        derive(Odd)


def test_many_file_runs_take_a_layout_written_as_classes(tmp_path: Path) -> None:
    """The classes serve a many-file run read in this process; worker processes, which
    are told a layout as plain data, refuse them with a clear error."""
    paths = [_plain(tmp_path / "a.h5"), _plain(tmp_path / "b.h5", channel="x")]
    report = h5model.validate_many(paths, layout=Session)
    assert [bool(f.issues) for f in report.files] == [False, True]
    assert report.files[0].issues == h5model.validate(paths[0], layout=Session).issues
    rows = h5model.inventory(paths[:1], layout=Session).rows
    assert rows[0].types == {"lab.Info": 1, "lab.Session": 1, "lab.Trace": 2}
    with pytest.raises(h5model.H5ModelError, match="in this process only"):
        h5model.validate_many(paths, layout=Session, jobs=2)
