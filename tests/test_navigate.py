"""Everyday use of models and the File handle, on files pynwb writes: read-only files
refuse edits, navigation (parent, file, a group's children, find, typed get), errors
that are also the Python errors users catch, and numbers in messages shown plainly."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from hdmf.common import DynamicTable
from nwbfiles import ALL_FILE_NAMES, HDMF_ONLY
from pynwb import NWBHDF5IO, TimeSeries
from pynwb.ecephys import ElectricalSeries

import h5model
from h5model.errors import NotFoundError, ReadOnlyError, WrongTypeError, plain

NWB_NAMES = [n for n in ALL_FILE_NAMES if n not in HDMF_ONLY]


@pytest.fixture
def ecephys(nwb_files: dict[str, Path]) -> Iterator[h5model.File]:
    with h5model.open(nwb_files["ecephys"]) as f:
        yield f


@pytest.fixture
def writable(nwb_files: dict[str, Path], tmp_path: Path) -> Iterator[h5model.File]:
    path = shutil.copyfile(nwb_files["ecephys"], tmp_path / "ecephys.nwb")
    with h5model.open(path, "r+") as f:
        yield f


def _pynwb_objects(path: Path) -> Iterator[list[object]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "r") as io:
            yield list(io.read().objects.values())


# -- read-only ---------------------------------------------------------------------------------
def _refused(f: h5model.File, where: str, attempt: object) -> None:
    assert callable(attempt)
    with pytest.raises(ReadOnlyError) as caught:
        attempt()
    error = caught.value
    assert isinstance(error, PermissionError) and isinstance(error, h5model.H5ModelError)
    assert error.file == f.label and error.hdf5_path == where
    assert f.label in str(error) and where in str(error) and "'r+'" in str(error)
    assert not f.dirty


def test_read_only_file_refuses_every_edit(ecephys: h5model.File) -> None:
    f = ecephys
    root = f.root
    series = f.get("/acquisition/raw_voltage")
    units = f.get("/units")
    acquisition = f.get("/acquisition")

    def assign() -> None:
        root.session_description = "new"

    def assign_attribute() -> None:
        series.data.conversion = 2.0

    _refused(f, "/", assign)
    assert root.session_description != "new"
    _refused(f, "/acquisition/raw_voltage/data", assign_attribute)
    assert series.data.conversion != 2.0
    _refused(f, "/acquisition", lambda: acquisition.remove("raw_voltage"))
    assert "raw_voltage" in acquisition
    _refused(f, "/acquisition", lambda: acquisition.add("copy", series))
    assert "copy" not in acquisition

    def write_slice() -> None:
        series.data.value[:2] = 0

    _refused(f, "/acquisition/raw_voltage/data", write_slice)
    row: dict[str, object] = {key: [] for key in units.columns}
    _refused(f, "/units", lambda: units.add_row(**row))
    with pytest.raises(ReadOnlyError, match="'r\\+'"):
        f.save()


def test_writable_file_still_takes_edits(writable: h5model.File) -> None:
    writable.root.session_description = "new"
    assert writable.dirty


# -- parent and file ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NWB_NAMES)
def test_parent_group_is_the_model_of_the_holding_group(
    nwb_files: dict[str, Path], name: str
) -> None:
    with h5model.open(nwb_files[name]) as f:
        assert f.root.parent_group is None and f.root.file is f
        for path, model in f.models():
            assert model.file is f
            if path == "/":
                continue
            parent = model.parent_group
            head = path.rpartition("/")[0] or "/"
            assert parent is f.get(head)
            assert model is parent.children[path.rpartition("/")[2]]


@pytest.mark.parametrize("name", NWB_NAMES)
def test_parent_is_pynwbs_parent(nwb_files: dict[str, Path], name: str) -> None:
    """``parent`` is the nearest model above whose class is a spec type: the object pynwb
    gives as ``parent`` (compared by object id, for every object pynwb reads)."""
    with NWBHDF5IO(str(nwb_files[name]), "r") as io, h5model.open(nwb_files[name]) as f:
        nwbfile = io.read()
        ours = {model.object_id: model for _, model in f.models() if model.object_id}
        checked = 0
        for object_id, container in nwbfile.objects.items():
            model = ours.get(object_id)
            if model is None or container.parent is None:
                continue
            assert model.parent is not None, model.hdf5_path
            assert model.parent.object_id == container.parent.object_id, model.hdf5_path
            checked += 1
        assert checked
        assert f.root.parent is None
        assert type(f.get("/acquisition")).h5_type is None  # an untyped group is skipped


def test_hard_linked_object_has_its_canonical_parent(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    path = shutil.copyfile(nwb_files["ecephys"], tmp_path / "hard.nwb")
    with h5py.File(path, "r+") as h5:
        h5["/analysis/alias"] = h5["/acquisition/raw_voltage"]  # a second hard link
    with h5model.open(path) as f:
        series = f.get("/acquisition/raw_voltage")
        assert f.get("/analysis/alias") is series
        canonical = series.hdf5_path
        assert canonical in ("/acquisition/raw_voltage", "/analysis/alias")
        assert series.parent_group is f.get(canonical.rpartition("/")[0])


def test_soft_linked_object_keeps_its_own_parent(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["softlinks"]) as f, h5py.File(nwb_files["softlinks"]) as h5:
        links = [(group, name, link.path) for group, name, link in _soft_links(h5)]
        assert links
        for group, name, target in links:
            model = f.get(group)[name]
            assert model is f.get(target)
            assert model.parent_group is f.get(target.rpartition("/")[0] or "/")


def _soft_links(h5: h5py.File) -> list[tuple[str, str, h5py.SoftLink]]:
    found: list[tuple[str, str, h5py.SoftLink]] = []

    def visit(name: str, link: object) -> None:
        if isinstance(link, h5py.SoftLink):
            group, _, child = ("/" + name).rpartition("/")
            found.append((group or "/", child, link))

    h5.visititems_links(visit)
    return found


def test_added_and_removed_children(writable: h5model.File) -> None:
    f = writable
    core = f.modules["core"]
    series = core.TimeSeries(
        data=core.TimeSeries__data(value=np.zeros(3), unit="m"),
        timestamps=core.TimeSeries__timestamps(value=np.arange(3.0)),
    )
    assert series.parent_group is None and series.file is None  # built outside any file
    acquisition = f.get("/acquisition")
    acquisition.add("new", series)
    assert series.parent_group is acquisition
    old = f.get("/acquisition/raw_voltage")
    analysis = f.get("/analysis")
    analysis.add("link", old)  # a link: the object keeps its place
    assert old.parent_group is acquisition
    analysis.remove("link")
    assert old.parent_group is acquisition and old.file is f
    acquisition.remove("raw_voltage")
    assert old.parent_group is None and old.file is None
    f.save()
    assert series.parent_group is acquisition and series.file is f
    assert series.data.parent_group is series  # created with it, found from its path


# -- a group's children ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NWB_NAMES)
def test_groups_read_as_mappings_in_hdf5_order(nwb_files: dict[str, Path], name: str) -> None:
    with h5model.open(nwb_files[name]) as f, h5py.File(nwb_files[name]) as h5:
        for path, model in f.models():
            if not isinstance(model, h5model.Group):
                continue
            names = list(h5[path].keys())  # HDF5's own order
            assert list(model) == list(model.keys()) == names
            assert [n for n, _ in model.items()] == names
            assert list(model.values()) == [model.children[n] for n in names]
            table = hasattr(model, "add_row")  # tables count rows, give columns by name
            if not table:
                assert len(model) == len(names)
            for child_name in names:
                assert child_name in model
                link = h5[path].get(child_name, getlink=True)
                child = model.children[child_name]
                if not table:
                    assert model[child_name] is child
                if isinstance(link, h5py.ExternalLink):
                    assert isinstance(child, h5model.ExternalLink)
                elif isinstance(link, h5py.SoftLink):
                    assert child is f.get(link.path)  # what the link leads to
            assert "no such child" not in model


def test_empty_group_is_still_true(writable: h5model.File) -> None:
    group = writable.get("/analysis")
    for name in list(group):
        group.remove(name)
    assert len(group) == 0 and bool(group)


# -- find --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NWB_NAMES)
def test_find_matches_pynwb_objects(nwb_files: dict[str, Path], name: str) -> None:
    path = nwb_files[name]
    theirs = next(_pynwb_objects(path))
    with h5model.open(path) as f:
        core = f.modules["core"]
        for kind, pynwb_class, ours_class in (
            ("TimeSeries", TimeSeries, core.TimeSeries),
            ("ElectricalSeries", ElectricalSeries, core.ElectricalSeries),
            ("DynamicTable", DynamicTable, f.modules["hdmf-common"].DynamicTable),
        ):
            expected = {o.object_id for o in theirs if isinstance(o, pynwb_class)}
            for key in (kind, ours_class):
                found = f.find(key)
                assert {m.object_id for m in found} == expected, (key, path)
                assert [m.hdf5_path for m in found] == sorted(m.hdf5_path for m in found)
        assert f.find("core.TimeSeries") == f.find(("core", "TimeSeries")) == f.find(
            "TimeSeries")
        with pytest.raises(h5model.H5ModelError, match="no type 'TimeSeries' in namespace"):
            f.find(("hdmf-common", "TimeSeries"))


def test_find_an_unknown_type(ecephys: h5model.File) -> None:
    with pytest.raises(h5model.H5ModelError, match="no type 'Nothing'"):
        ecephys.find("Nothing")


# -- typed get and errors ----------------------------------------------------------------------
def test_get_with_a_type(ecephys: h5model.File) -> None:
    core = ecephys.modules["core"]
    series = ecephys.get("/acquisition/raw_voltage", core.TimeSeries)
    assert series is ecephys.get("/acquisition/raw_voltage")
    with pytest.raises(WrongTypeError) as caught:
        ecephys.get("/general/extracellular_ephys/shank0", core.TimeSeries)
    assert isinstance(caught.value, TypeError)
    message = str(caught.value)
    assert ecephys.label in message and "/general/extracellular_ephys/shank0" in message
    assert "expected TimeSeries (core), found ElectrodeGroup (core)" in message


def test_missing_objects_are_key_errors(ecephys: h5model.File) -> None:
    for attempt in (lambda: ecephys.get("/missing"), lambda: ecephys.root["missing"],
                    lambda: ecephys.get("/acquisition")["missing"]):
        with pytest.raises(KeyError) as caught:
            attempt()
        assert isinstance(caught.value, NotFoundError)
        message = str(caught.value)
        assert message.startswith(f"{ecephys.label}: /")
        assert "missing" in message and not message.startswith("'")
    assert "/missing" not in ecephys


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        h5model.open(tmp_path / "absent.nwb")
    assert isinstance(caught.value, h5model.NotHDF5Error)
    assert str(tmp_path / "absent.nwb") in str(caught.value)


def test_open_with_a_root_type(nwb_files: dict[str, Path]) -> None:
    import h5model._generated.core_2_11_0 as core

    with h5model.open(nwb_files["minimal"], root_type=core.NWBFile) as f:
        assert isinstance(f.root, core.NWBFile)
    with pytest.raises(WrongTypeError, match="expected a root of TimeSeries"):
        h5model.open(nwb_files["minimal"], root_type=core.TimeSeries)


def test_numbers_in_messages_are_plain() -> None:
    assert repr(plain(np.int64(5))) == "5"
    assert repr(plain((np.int64(1), [np.float32(2.5)]))) == "(1, [2.5])"
    assert repr(plain(slice(np.int64(0), np.int64(3)))) == "slice(0, 3, None)"


def test_row_errors_show_plain_numbers(writable: h5model.File) -> None:
    units = writable.get("/units")
    row = {name: [] for name in units.columns}
    row.update(electrode_group=np.int64(5), electrodes=[0], spike_times=[0.1],
               obs_intervals=[[0.0, 1.0]], waveform_mean=np.zeros(4), quality="good")
    units.add_row(**row)
    with pytest.raises(h5model.ModelError) as caught:
        writable.save()
    assert "np.int64" not in str(caught.value)
    assert "'electrode_group': 5 is not an object" in str(caught.value)
