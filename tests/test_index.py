"""The metadata index: written from every test file, read back as the same ``FileIndex``,
the same models and arrays, locally and over the loopback server (where opening costs the
one request for the index); refused with a warning and a fallback to the file when it is
stale, of another version, damaged or hostile; and enough to validate without HDF5 reads."""

from __future__ import annotations

import json
import os
import shutil
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from helpers import run_h5model
from rangeserver import RangeServer
from test_remote import _attributes, _view

import h5model
from h5model.hdf5 import index_file
from h5model.hdf5.graph import FileIndex, build_graph
from h5model.hdf5.index_file import IndexFormatError, encode_dtype
from h5model.hdf5.index_lookup import IndexWarning, read_index, sidecar
from h5model.storage import remote

NAMES = ["ecephys", "icephys", "ophys", "behavior", "ogen", "misc", "softlinks", "external",
         "extension", "hdmf_table", "minimal", "old_ecephys", "old_ophys"]
"""Every file of the test corpus."""


@pytest.fixture(scope="module")
def indexed(nwb_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
            ) -> dict[str, Path]:
    """A copy of every test file with its index beside it (``FILE.h5mindex``)."""
    folder = tmp_path_factory.mktemp("indexed")
    copies = {}
    for name in NAMES:
        copy = folder / f"{name}.nwb"
        shutil.copy2(nwb_files[name], copy)
        h5model.write_index(copy, sidecar(copy))
        copies[name] = copy
    return copies


def _same_index(got: FileIndex, want: FileIndex) -> None:
    assert list(got.graph.nodes) == list(want.graph.nodes)
    for node, data in want.graph.nodes(data=True):
        mine = got.graph.nodes[node]
        assert {k: v for k, v in mine.items() if k != "dtype"} == \
            {k: v for k, v in data.items() if k != "dtype"}
        if "dtype" in data:  # h5py's metadata too (np.dtype equality ignores it)
            assert encode_dtype(mine["dtype"]) == encode_dtype(data["dtype"])
    assert list(got.graph.edges(data=True, keys=True)) == \
        list(want.graph.edges(data=True, keys=True))
    for node in want.graph.nodes:
        assert list(got.graph.in_edges(node, keys=True)) == \
            list(want.graph.in_edges(node, keys=True))
    assert got.children == want.children
    assert got.ref_paths == want.ref_paths
    assert _attributes(got.attrs) == _attributes(want.attrs)
    for path, attrs in want.attrs.items():
        for name, value in attrs.items():
            assert type(got.attrs[path][name]).__mro__[-2:] == type(value).__mro__[-2:]
            if isinstance(value, np.ndarray | np.generic):
                assert got.attrs[path][name].dtype == value.dtype
    assert list(got.scalars) == list(want.scalars)
    for path, value in want.scalars.items():
        assert type(got.scalars[path]) is type(value)
        assert got.scalars[path] == value or (value != value and got.scalars[path] != 0)


# -- round trip ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_index_round_trip(name: str, indexed: dict[str, Path]) -> None:
    path = indexed[name]
    stored = read_index(sidecar(path), str(path))
    assert stored is not None
    with h5py.File(path, "r") as h5:
        _same_index(stored.index, build_graph(h5, str(path)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with h5model.open(path, index=False) as plain, h5model.open(path) as fast:
            assert plain.index_source is None
            assert fast.index_source == str(sidecar(path))
            assert fast._source._h5 is None  # nothing read from the HDF5 file yet
            assert fast.specs is not None and plain.specs is not None
            assert {n: s.content_hash for n, s in fast.specs.namespaces.items()} == \
                {n: s.content_hash for n, s in plain.specs.namespaces.items()}
            assert _view(fast) == _view(plain)
            assert sorted(fast.graph.edges(keys=True)) == sorted(plain.graph.edges(keys=True))


def test_index_goes_to_the_cache_by_default(indexed: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "cached.nwb"
    shutil.copy2(indexed["ecephys"], path)
    written = h5model.write_index(path)
    assert written.parent.parent == Path(os.environ["H5MODEL_CACHE_DIR"])
    with h5model.open(path) as f:
        assert f.index_source == str(written)


def test_cli_index_then_show_and_validate(indexed: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "cli.nwb"
    shutil.copy2(indexed["ophys"], path)
    out = run_h5model("index", path, "-o", tmp_path / "cli.h5mindex")
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == tmp_path / "cli.h5mindex"
    show = run_h5model("show", path, "--index", tmp_path / "cli.h5mindex")
    assert show.returncode == 0 and show.stdout == run_h5model("show", path).stdout
    check = run_h5model("validate", "--index", tmp_path / "cli.h5mindex", path)
    assert check.returncode == 0 and check.stderr == ""


def test_chunk_offsets_and_layouts(tmp_path: Path) -> None:
    path = tmp_path / "chunked.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("series", data=np.arange(1000), chunks=(100,), compression="gzip")
        h5.create_dataset("plain", data=np.arange(10))
    out = run_h5model("index", path, "-o", tmp_path / "c.h5mindex", "--chunks", "/series")
    assert out.returncode == 0, out.stderr
    stored = read_index(tmp_path / "c.h5mindex", str(path))
    assert stored is not None and stored.specs is None
    series = stored.layouts["/series"]
    assert series.chunks == (100,) and series.filters[0][0] == 1  # deflate
    assert series.chunk_offsets is not None and len(series.chunk_offsets) == 10
    with h5py.File(path, "r") as h5:
        info = h5["series"].id.get_chunk_info(3)
        assert series.chunk_offsets[3] == ((300,), info.byte_offset, info.size, 0)
        assert stored.layouts["/plain"].offset == h5["plain"].id.get_offset()


# -- metadata-only validation -------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_validate_from_the_index_reads_no_hdf5(
    name: str, indexed: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = indexed[name]
    full = h5model.validate(path)
    monkeypatch.setattr(h5py, "File", _no_hdf5)
    quick = h5model.validate(path, index=True)
    data_rules = {"reference.dangling", "table.index-out-of-range", "table.region-out-of-range"}
    want = {(i.hdf5_path, i.rule, i.message) for i in full.files[0].issues
            if i.rule not in data_rules}
    assert {(i.hdf5_path, i.rule, i.message) for i in quick.files[0].issues} == want


def _no_hdf5(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the HDF5 file was opened")


# -- remote ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(indexed: dict[str, Path]) -> Iterator[RangeServer]:
    files = {}
    for path in indexed.values():
        files[path.name] = path
        files[path.name + ".h5mindex"] = Path(sidecar(path))
    with RangeServer(files) as running:
        yield running


@pytest.mark.parametrize("name", ["ecephys", "icephys", "misc", "extension", "old_ecephys"])
def test_remote_open_costs_one_request(name: str, indexed: dict[str, Path],
                                       server: RangeServer) -> None:
    url = server.url(f"{name}.nwb")
    with h5model.open(indexed[name], index=False) as local:
        want = _view(local)
    server.reset()
    with h5model.open(url) as far:
        counts = server.reset()
        assert counts.requests == 1
        assert [r[0] for r in counts.ranges] == [f"{name}.nwb.h5mindex"]
        assert far.index_source == url + ".h5mindex"
        assert _view(far) == want  # every array sliced: now the file is read
        read = server.reset()
        assert read.requests > 0 and {r[0] for r in read.ranges} == {f"{name}.nwb"}


def test_remote_without_an_index_asks_once_then_reads_the_file(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    with RangeServer({"bare.nwb": nwb_files["minimal"]}) as bare:
        bare.reset()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with h5model.open(bare.url("bare.nwb")) as f:
                assert f.index_source is None and f.root is not None
        names = [r[0] for r in bare.counts.ranges]
        assert names.count("bare.nwb.h5mindex") == 0  # a 404 sends no data
        assert "bare.nwb" in names


def test_remote_file_changed_after_indexing_is_refused_at_first_read(
    indexed: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "moving.nwb"
    shutil.copy2(indexed["ecephys"], path)
    h5model.write_index(path, sidecar(path))
    files = {"moving.nwb": path, "moving.nwb.h5mindex": Path(sidecar(path))}
    with RangeServer(files) as moving, h5model.open(moving.url("moving.nwb")) as f:
        shutil.copy2(indexed["misc"], path)  # another size
        array = next(m.value for _, m in f.models()
                     if isinstance(getattr(m, "value", None), h5model.H5Array))
        with pytest.raises(h5model.H5ModelError, match=r"stale.*size changed"):
            array[()]


# -- stale, damaged and hostile indexes ------------------------------------------------------------
def _copy_with_index(source: Path, folder: Path) -> Path:
    path = folder / "file.nwb"
    shutil.copy2(source, path)
    h5model.write_index(path, sidecar(path))
    return path


def _falls_back(path: Path, why: str) -> None:
    """Opening warns once, naming the index and ``why``, and reads the file instead."""
    with h5model.open(path, index=False) as plain:
        want = _view(plain)
    with pytest.warns(IndexWarning) as caught:
        f = h5model.open(path)
    with f:
        assert f.index_source is None
        assert _view(f) == want
    messages = [str(w.message) for w in caught if issubclass(w.category, IndexWarning)]
    assert len(messages) == 1
    assert messages[0].startswith(str(sidecar(path)))
    assert why in messages[0]
    out = run_h5model("show", "--depth", "1", path)
    assert out.returncode == 0
    assert "Traceback" not in out.stderr and f"h5model: warning: {sidecar(path)}" in out.stderr


def test_touched_file_makes_the_index_stale(indexed: dict[str, Path], tmp_path: Path) -> None:
    path = _copy_with_index(indexed["ophys"], tmp_path)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    _falls_back(path, "stale: the file changed since it was indexed")


def test_resized_file_makes_the_index_stale(indexed: dict[str, Path], tmp_path: Path) -> None:
    path = _copy_with_index(indexed["ophys"], tmp_path)
    mtime = path.stat().st_mtime_ns
    shutil.copy2(indexed["behavior"], path)
    os.utime(path, ns=(mtime, mtime))  # the same time: only the size tells
    _falls_back(path, "the file's size changed")


def _rewrite(path: Path, change: Any) -> None:
    """Replace the index's JSON by ``change(document)`` (a dict, or bytes to store as is)."""
    index = Path(sidecar(path))
    data = index.read_bytes()
    head, body = data.split(b"\n", 1)
    document = json.loads(zlib.decompress(body))
    new = change(document)
    text = new if isinstance(new, bytes) else json.dumps(new).encode()
    index.write_bytes(head + b"\n" + zlib.compress(text))


HOSTILE = {
    "bad JSON": (lambda d: b"{not json", "damaged (JSONDecodeError"),
    "wrong schema": (lambda d: {**d, "nodes": {"/": "group"}}, "nodes: expected a list"),
    "unknown node kind": (lambda d: {**d, "nodes": [["/", {"kind": "exec"}]]},
                          "unknown kind 'exec'"),
    "edge to nowhere": (lambda d: {**d, "edges": [["/", "/nowhere", "child", "x"]]},
                        "a node that is not listed"),
    "huge declared shape": (
        lambda d: {**d, "scalars": {"/": {"objects": {"any": "object"}, "shape": [10**12],
                                          "items": []}}},
        "shape: expected a bounded list"),
    "bytes short of the shape": (
        lambda d: {**d, "scalars": {"/": {"array": "<f8", "shape": [1000], "bytes": "AAAA"}}},
        "3 bytes for shape (1000,)"),
    "object dtype smuggled": (
        lambda d: {**d, "scalars": {"/": {"array": "|O", "shape": [1], "bytes": "AAAA"}}},
        "is not a plain dtype"),
    "inner version": (lambda d: {**d, "version": 99}, "version inside differs"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_index_is_refused(case: str, indexed: dict[str, Path], tmp_path: Path) -> None:
    change, why = HOSTILE[case]
    path = _copy_with_index(indexed["ecephys"], tmp_path)
    _rewrite(path, change)
    _falls_back(path, why)


def test_truncated_index(indexed: dict[str, Path], tmp_path: Path) -> None:
    path = _copy_with_index(indexed["ecephys"], tmp_path)
    index = Path(sidecar(path))
    index.write_bytes(index.read_bytes()[:2000])
    _falls_back(path, "cut short")


def test_other_format_version(indexed: dict[str, Path], tmp_path: Path) -> None:
    path = _copy_with_index(indexed["ecephys"], tmp_path)
    index = Path(sidecar(path))
    data = index.read_bytes()
    index.write_bytes(data.replace(b"H5MINDEX 1\n", b"H5MINDEX 2\n", 1))
    _falls_back(path, "format version 2; this h5model reads version 1")


def test_not_an_index(indexed: dict[str, Path], tmp_path: Path) -> None:
    path = _copy_with_index(indexed["ecephys"], tmp_path)
    Path(sidecar(path)).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    _falls_back(path, "not an h5model index")


def test_decompression_bomb(indexed: dict[str, Path], tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = _copy_with_index(indexed["ecephys"], tmp_path)
    monkeypatch.setattr(index_file, "MAX_EXPANDED_BYTES", 1 << 20)
    _rewrite(path, lambda d: b" " * (8 << 20))  # 8 MiB of blanks: a few KiB compressed
    assert Path(sidecar(path)).stat().st_size < 64 << 10
    with pytest.raises(IndexFormatError, match="expands to more than 1,048,576 bytes"):
        read_index(sidecar(path), str(path))
    with pytest.warns(IndexWarning, match="expands to more than"), h5model.open(path) as f:
        assert f.index_source is None


def test_index_larger_than_allowed(indexed: dict[str, Path], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = _copy_with_index(indexed["ecephys"], tmp_path)
    monkeypatch.setattr(index_file, "MAX_INDEX_BYTES", 1000)
    with pytest.warns(IndexWarning, match="larger than 1,000 bytes"), h5model.open(path) as f:
        assert f.index_source is None


def test_explicit_index_missing_is_warned(indexed: dict[str, Path], tmp_path: Path) -> None:
    with pytest.warns(IndexWarning, match="no such index"), \
            h5model.open(indexed["minimal"], index=tmp_path / "none.h5mindex") as f:
        assert f.index_source is None and f.root is not None


def test_index_only_for_reading(indexed: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="read-only opens"):
        h5model.open(indexed["minimal"], "r+", index=sidecar(indexed["minimal"]))


def test_remote_index_fetch_failure_falls_back(indexed: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "RETRY_WAIT", 0.001)
    files = {"f.nwb": indexed["minimal"], "f.nwb.h5mindex": Path(sidecar(indexed["minimal"]))}
    with RangeServer(files) as flaky:
        flaky.faults.extend(["truncate", "drop", "truncate"])
        with pytest.warns(IndexWarning, match="f.nwb.h5mindex: index not used"), \
                h5model.open(flaky.url("f.nwb")) as f:
            assert f.index_source is None and f.root is not None


