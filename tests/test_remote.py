"""Remote files: the test files served over HTTP on 127.0.0.1 (``rangeserver``) read as
their local copies are, by byte ranges, with the requests and bytes counted; a network
that fails gives an error naming the URL and the HDF5 path after a bounded number of
tries."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import run_h5model
from rangeserver import RangeServer

import h5model
from h5model.hdf5 import graph
from h5model.hdf5.attributes import READERS
from h5model.models.arrays import H5Array
from h5model.storage import remote
from h5model.storage.remote import BLOCK_SIZE, RemoteReadError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import make_files

READ_FILES = ["ecephys", "icephys", "ophys", "behavior", "misc", "softlinks", "extension",
              "hdmf_table", "old_ecephys"]
"""A representative set: every kind of table, region, reference and link the reader knows,
an extension, a plain HDMF file and one written by an older pynwb."""


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files of the benchmarks' two shapes, smaller: many small objects, and one chunked
    series of 48 MiB (4 MiB chunks)."""
    folder = tmp_path_factory.mktemp("remote-big")
    many = folder / "many.nwb"
    make_files._write(make_files.build_many_objects(600, 1000), many)
    big = folder / "big.nwb"
    make_files.write_big_dataset(big, 0.047)
    return {"many.nwb": many, "big.nwb": big}


@pytest.fixture(scope="module")
def server(nwb_files: dict[str, Path], big_files: dict[str, Path]) -> Iterator[RangeServer]:
    files = {f"{name}.nwb": path for name, path in nwb_files.items()} | big_files
    with RangeServer(files) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(server: RangeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.faults.clear()
    server.reset()
    monkeypatch.setattr(remote, "RETRY_WAIT", 0.001)


def _view(file: h5model.File[Any]) -> dict[str, Any]:
    """Every model as plain data (class, dump) and every array's values."""
    out: dict[str, Any] = {}
    for path, model in file.models():
        out[path] = (type(model).__name__, model.model_dump(mode="json"))
        value = getattr(model, "value", None)
        if isinstance(value, H5Array):
            out[path + "#value"] = _plain(value[()])
    return out


def _plain(value: Any) -> Any:
    """Values to compare across files: a model read from a reference as its path."""
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.names:
            return [_plain(v) for v in value]
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, h5model.Node):
        return ("model", value.hdf5_path)
    if isinstance(value, np.void):
        return [_plain(v) for v in value.tolist()]
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes, dict)):
        return [type(value).__name__, *(_plain(v) for v in value)]  # a compound row
    return value


def _attributes(attrs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Attributes as comparable data: references (of one file or the other) as a word."""
    import h5py

    def plain(value: Any) -> Any:
        if isinstance(value, (h5py.Reference, h5py.RegionReference)):
            return "reference"
        if isinstance(value, np.ndarray):
            return [plain(v) for v in value] if value.dtype == object else value.tolist()
        return value

    return {path: {name: plain(v) for name, v in values.items()}
            for path, values in attrs.items()}


# -- the same models, arrays and reports -------------------------------------------------------
@pytest.mark.parametrize("name", READ_FILES)
def test_remote_file_reads_as_the_local_one(
    name: str, nwb_files: dict[str, Path], server: RangeServer
) -> None:
    with h5model.open(nwb_files[name]) as local, h5model.open(server.url(f"{name}.nwb")) as far:
        assert far.url == server.url(f"{name}.nwb")
        assert _view(far) == _view(local)
        assert far.graph.number_of_edges() == local.graph.number_of_edges()
        assert sorted(far.graph.nodes) == sorted(local.graph.nodes)


@pytest.mark.parametrize("name", [*READ_FILES, "minimal"])
def test_remote_validation_reports_as_the_local_one(
    name: str, nwb_files: dict[str, Path], server: RangeServer
) -> None:
    local = h5model.validate(nwb_files[name]).to_json()
    far = h5model.validate(server.url(f"{name}.nwb")).to_json()
    far["files"][0]["file"] = local["files"][0]["file"]
    assert far == local


def test_show_and_validate_take_a_url(nwb_files: dict[str, Path], server: RangeServer) -> None:
    local = run_h5model("show", nwb_files["ecephys"])
    far = run_h5model("show", server.url("ecephys.nwb"))
    assert far.returncode == 0, far.stderr
    assert far.stdout.replace(server.url("ecephys.nwb"), str(nwb_files["ecephys"])) \
        == local.stdout
    checked = run_h5model("validate", server.url("ecephys.nwb"), "--format", "json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["files"][0]["file"] == server.url("ecephys.nwb")


def test_pynwb_reads_the_same_series(nwb_files: dict[str, Path], server: RangeServer) -> None:
    """pynwb's values of a series, read locally, are what the remote file gives."""
    from helpers import read_pynwb

    with read_pynwb(nwb_files["ecephys"]) as nwbfile, \
            h5model.open(server.url("ecephys.nwb")) as far:
        expected = nwbfile.acquisition["raw_voltage"].data[:]
        np.testing.assert_array_equal(far.get("/acquisition/raw_voltage").data.value[:],
                                      expected)


def test_spec_texts_are_measured_before_they_are_read(
    big_files: dict[str, Path], server: RangeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a file larger than the spec limit a spec text's stored length is read first;
    for a remote file through its block cache (there is no file descriptor)."""
    from h5model.spec import limits

    monkeypatch.setattr(limits, "MAX_SPEC_BYTES", 1 << 20)
    with h5model.open(server.url("big.nwb")) as f:
        assert f.specs is not None and "core" in f.specs.namespaces


# -- what is fetched ---------------------------------------------------------------------------
def test_opening_a_large_file_reads_a_small_part_of_it(
    big_files: dict[str, Path], server: RangeServer
) -> None:
    size = big_files["big.nwb"].stat().st_size
    with h5model.open(server.url("big.nwb")) as f:
        assert f.get("/acquisition/big_timeseries").data.value.shape[1] == make_files.BIG_COLUMNS
        counts = server.reset()
    assert counts.bytes < size / 10
    assert counts.data_requests <= 3


def test_metadata_is_fetched_in_blocks(big_files: dict[str, Path], server: RangeServer) -> None:
    """HDF5 reads thousands of small pieces of metadata; they cost one request per block
    at most, and no block is fetched twice."""
    size = big_files["many.nwb"].stat().st_size
    with h5model.open(server.url("many.nwb")) as f:
        assert len(f.find("TimeSeries")) == 600
        counts = server.reset()
    assert counts.data_requests <= -(-size // BLOCK_SIZE)
    assert len(set(counts.ranges)) == len(counts.ranges)
    # and one to learn the size, one asking for its index (URL.h5mindex: none here)
    assert counts.requests == counts.data_requests + 2


def test_a_slice_fetches_only_the_chunks_it_needs(
    big_files: dict[str, Path], server: RangeServer
) -> None:
    import h5py

    path = "/acquisition/big_timeseries/data"
    with h5py.File(big_files["big.nwb"]) as h5:
        dataset = h5[path]
        rows = dataset.chunks[0]
        chunks = [dataset.id.get_chunk_info(i) for i in range(dataset.id.get_num_chunks())]
        expected = dataset[rows - 2: rows + 3]
    spans = {info.chunk_offset[0] // rows: (info.byte_offset, info.byte_offset + info.size)
             for info in chunks}
    with h5model.open(server.url("big.nwb")) as f:
        data = f.get("/acquisition/big_timeseries").data.value
        server.reset()
        got = data[rows - 2: rows + 3]  # the last rows of chunk 0, the first of chunk 1
        counts = server.reset()
    np.testing.assert_array_equal(got, expected)
    touched = {number for _, start, end in counts.ranges for number, (first, last)
               in spans.items() if start < last and first < end}
    assert touched == {0, 1}
    fetched_chunks = [(start, end) for _, start, end in counts.ranges
                      if (start, end) in spans.values()]
    assert sorted(fetched_chunks) == [spans[0], spans[1]]  # each exactly, once
    assert counts.bytes < spans[0][1] - spans[0][0] + spans[1][1] - spans[1][0] + BLOCK_SIZE


# -- a network that fails ----------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["truncate", "drop"])
def test_a_failed_fetch_is_tried_again(fault: str, server: RangeServer) -> None:
    server.faults = [fault] * (remote.ATTEMPTS - 1)
    with h5model.open(server.url("ecephys.nwb")) as f:
        assert f.root.identifier
    assert server.reset().data_requests == remote.ATTEMPTS


@pytest.mark.parametrize("fault", ["truncate", "drop"])
def test_a_fetch_failing_every_time_names_the_url_and_the_array(
    fault: str, big_files: dict[str, Path], server: RangeServer
) -> None:
    url = server.url("big.nwb")
    with h5model.open(url) as f:
        data = f.get("/acquisition/big_timeseries").data.value
        server.faults = [fault] * 50
        with pytest.raises(RemoteReadError) as caught:
            data[:10]
        # tried a bounded number of times (aiohttp itself tries a request again once when
        # a connection it reused is dropped)
        assert remote.ATTEMPTS <= 50 - len(server.faults) <= 2 * remote.ATTEMPTS
    assert caught.value.file == url
    assert caught.value.hdf5_path == "/acquisition/big_timeseries/data"
    assert f"failed {remote.ATTEMPTS} times" in str(caught.value)


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_failure_while_opening_names_the_url_and_the_group(
    reader: str, server: RangeServer, big_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whichever path reads the attributes (libhdf5 called from C, from ctypes, or h5py),
    an error of the file object HDF5 reads through comes out as it was raised."""
    monkeypatch.setattr(graph, "read_attributes", READERS[reader])
    url = server.url("many.nwb")
    with h5model.open(url) as far, h5model.open(big_files["many.nwb"]) as local:
        assert far.index is not None and local.index is not None
        assert _attributes(far.index.attrs) == _attributes(local.index.attrs)
    server.faults = [None] * 2 + ["truncate"] * 50
    with pytest.raises(RemoteReadError) as caught:
        h5model.open(url)
    assert caught.value.file == url
    assert caught.value.hdf5_path == "/processing"  # the group whose objects were being read


@pytest.mark.parametrize("command", ["show", "validate"])
def test_the_command_line_says_what_failed_without_a_traceback(
    command: str, server: RangeServer
) -> None:
    url = server.url("many.nwb")
    server.faults = [None] * 2 + ["drop"] * 50
    result = run_h5model(command, url)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2)
    assert "Traceback" not in output
    assert url in output and "failed 3 times" in output
    assert "/" in output.split(url, 1)[1]


def test_a_missing_url_and_a_file_that_is_not_hdf5(server: RangeServer, tmp_path: Path) -> None:
    with pytest.raises(h5model.FileMissingError, match="no such file"):
        h5model.open(server.url("absent.nwb"))
    text = tmp_path / "notes.txt"
    text.write_text("not HDF5 " * 100)
    server.files["notes.txt"] = text
    with pytest.raises(h5model.NotHDF5Error, match="no HDF5 signature"):
        h5model.open(server.url("notes.txt"))
    report = h5model.validate(server.url("notes.txt"))
    assert [i.rule for i in report.files[0].issues] == ["file.not-hdf5"]


# -- read-only ---------------------------------------------------------------------------------
def test_remote_files_are_read_only(server: RangeServer) -> None:
    url = server.url("ecephys.nwb")
    for mode in ("r+", "a", "w"):
        with pytest.raises(h5model.ReadOnlyError, match="remote file is read-only"):
            h5model.open(url, mode)
    with h5model.open(url) as f:
        with pytest.raises(h5model.ReadOnlyError, match="remote file is read-only"):
            f.root.session_description = "new"
        with pytest.raises(h5model.ReadOnlyError, match="remote file is read-only"):
            f.get("/acquisition/raw_voltage").data.value[:2] = 0
        with pytest.raises(h5model.ReadOnlyError, match="remote file is read-only"):
            f.save()
        assert not f.dirty
    result = run_h5model("set", url, "/session_description", "new")
    assert result.returncode == 1 and "remote file is read-only" in result.stderr


def test_truncate_asks_for_a_local_copy(server: RangeServer, tmp_path: Path) -> None:
    result = run_h5model("truncate", server.url("ecephys.nwb"), tmp_path / "small.nwb")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{server.url('ecephys.nwb')}: truncate copies a local file" in result.stderr


def test_without_fsspec_a_url_asks_for_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(h5model.H5ModelError, match=r"pip install 'h5model\[remote\]'"):
        h5model.open("https://example.org/file.nwb")


def test_a_stalled_transfer_fails_in_bounded_time(
    server: RangeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that stops sending mid-answer is given up on after the stall bound
    (``H5MODEL_REMOTE_TIMEOUT``), tried again a bounded number of times, then reported
    naming the URL: never the five minutes aiohttp waits by default."""
    monkeypatch.setenv("H5MODEL_REMOTE_TIMEOUT", "0.5")
    url = server.url("many.nwb")
    server.faults = [None] * 2 + ["stall"] * 50
    server.stall = 20.0  # far longer than the bound: waiting it out would fail the test
    started = time.monotonic()
    with pytest.raises(RemoteReadError) as caught:
        h5model.open(url)
    assert time.monotonic() - started < 10  # three tries of about half a second each
    assert caught.value.file == url
    assert f"failed {remote.ATTEMPTS} times" in str(caught.value)


def test_many_file_runs_take_urls(server: RangeServer, nwb_files: dict[str, Path]) -> None:
    """A URL among the inputs of a many-file run is read where it is, as one row: the same
    inventory and the same issues as its local file."""
    url = server.url("ecephys.nwb")
    local = nwb_files["ecephys"]
    far, near = h5model.inventory([url]).rows[0], h5model.inventory([local]).rows[0]
    assert far.path == url
    assert (far.namespaces, far.objects, far.types) == (near.namespaces, near.objects,
                                                         near.types)
    report = h5model.validate_many([url, local])
    assert [f.file for f in report.files] == [url, str(local)]
    assert report.files[0].issues == report.files[1].issues
