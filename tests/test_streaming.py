"""Streaming writes: the chunk rule, appends that equal what was appended (read back by
pynwb and dcnum), ordered background writing from worker processes, live readers in
another process, and files a killed writer left."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import h5py
import numpy as np
import pytest
from stream_writer import NEVER, events, new_series_file, samples

import h5model
from h5model.hdf5 import superblock
from h5model.persist.streaming import (
    MissingBatchesError,
    NotExtendableError,
    QueueFull,
    StreamOptions,
    chunk_shape,
    repair,
    storage_options,
)
from h5model.persist.streaming.chunks import MIN_BYTES, TARGET_BYTES

TESTS = Path(__file__).resolve().parent
WRITER = TESTS / "stream_writer.py"


# -- the chunk rule -------------------------------------------------------------------------------
@pytest.mark.parametrize(("item", "dtype", "chunks"), [
    ((), "float64", (131072,)),
    ((), "float32", (262144,)),
    ((), "uint8", (1048576,)),
    ((), "int16", (524288,)),
    ((3,), "float32", (87381, 3)),
    ((64,), "float64", (2048, 64)),
    ((80, 250), "uint8", (52, 80, 250)),
    ((80, 250), "bool", (52, 80, 250)),
    ((80, 250), "float32", (13, 80, 250)),
    ((512, 512), "uint16", (2, 512, 512)),
    ((1024, 1024), "float64", (1, 1024, 1024)),   # an item above 1 MiB: one per chunk
])
def test_chunk_rule(item: tuple[int, ...], dtype: str, chunks: tuple[int, ...]) -> None:
    assert chunk_shape(item, dtype) == chunks
    size = int(np.prod(chunks)) * np.dtype(dtype).itemsize
    whole_item = int(np.prod(item)) * np.dtype(dtype).itemsize
    assert size <= max(TARGET_BYTES, whole_item)
    assert size >= MIN_BYTES
    assert size > TARGET_BYTES - whole_item  # as near 1 MiB as whole items allow


def test_filters_pass_through(tmp_path: Path) -> None:
    hdf5plugin = pytest.importorskip("hdf5plugin")  # an optional extra
    assert storage_options("gzip", 4, shuffle=True, fletcher32=True) == {
        "compression": "gzip", "compression_opts": 4, "shuffle": True, "fletcher32": True}
    path = tmp_path / "filters.rtdc"
    with h5model.open(path, "w-", layout="rtdc", stream=True) as f:
        f.sink("/events", compression=hdf5plugin.Zstd(clevel=3), fletcher32=True).append(
            events(0, 10))
    with h5model.open(path, "r+", layout="rtdc", stream=True) as f:
        f.sink("/events", compression="lzf").append(events(10, 20))  # features exist: kept
    with h5py.File(path) as h5:
        image = h5["events/image"]
        assert image.chunks == chunk_shape((8, 12), "uint8") == (10922, 8, 12)
        assert image.fletcher32
        plist = image.id.get_create_plist()
        ids = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        assert 32015 in ids  # Zstandard
        assert np.array_equal(h5["events/index"][:], np.arange(20.0))


# -- appending: what was appended, read back ------------------------------------------------
def _batches(total: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    out, done = [], 0
    while done < total:
        size = int(min(total - done, rng.choice([1, 7, 100, 4096, 65536, 250000])))
        out.append((done, done + size))
        done += size
    return out


@pytest.mark.parametrize("total", [1, 1000, 1_000_000])
def test_nwb_series_holds_what_was_appended(tmp_path: Path, total: int) -> None:
    from pynwb import NWBHDF5IO, validate

    path = tmp_path / "series.nwb"
    with new_series_file(path, StreamOptions(flush_rows=300_000)) as f:
        series = f.get("/acquisition/series")
        for start, stop in _batches(total, total):
            series.append(*samples(start, stop))
        assert len(series.data) == total
    data, times = samples(0, total)
    with NWBHDF5IO(str(path), "r") as io:
        read = io.read().acquisition["series"]
        assert np.array_equal(read.data[:], data)
        assert np.array_equal(read.timestamps[:], times)
    assert list(validate(path=str(path))) == []
    with h5model.open(path) as f:
        assert np.array_equal(f.get("/acquisition/series").data.value[:], data)
    assert h5model.validate(path).exit_code() == 0


@pytest.mark.parametrize("total", [1, 1000, 1_000_000])
def test_rtdc_events_hold_what_was_appended(tmp_path: Path, total: int) -> None:
    from dcnum.read import HDF5Data

    path = tmp_path / "events.rtdc"
    with h5model.open(path, "w-", layout="rtdc", stream=True) as f:
        sink = f.sink("/events")
        for start, stop in _batches(total, total + 1):
            sink.append({"index": np.arange(start, stop, dtype=np.float64),
                         "deform": np.arange(start, stop, dtype=np.float32) / 2})
        assert len(sink) == total
    with HDF5Data(path) as data:
        assert len(data) == total
        assert np.array_equal(data["index"][:], np.arange(total, dtype=np.float64))
        assert np.array_equal(data["deform"][:], np.arange(total, dtype=np.float32) / 2)
    with h5model.open(path, layout="rtdc") as f:
        assert f.root.experiment_event_count == total
    assert h5model.validate(path, layout="rtdc", strict=True).exit_code() == 0


def test_images_are_read_by_dcnum(tmp_path: Path) -> None:
    from dcnum.read import HDF5Data

    path = tmp_path / "images.rtdc"
    with h5model.open(path, "w-", layout="rtdc", stream=True) as f:
        sink = f.sink("/events", compression="gzip")
        for start, stop in _batches(300, 3):
            sink.append(events(start, stop))
    with HDF5Data(path) as data:
        assert np.array_equal(data["image"][:], events(0, 300)["image"])
    with h5model.open(path, layout="rtdc") as f:
        assert type(f.get("/events/image")).__name__ == "ImageFeature"


def test_a_batch_that_does_not_fit_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.rtdc"
    with h5model.open(path, "w-", layout="rtdc", stream=True) as f:
        sink = f.sink("/events")
        sink.append(events(0, 5))
        with pytest.raises(h5model.H5ModelError, match="same number of events"):
            sink.append({**events(5, 8), "deform": np.zeros(2, np.float32)})
        with pytest.raises(h5model.H5ModelError, match=r"missing \['image'\]"):
            sink.append({k: v for k, v in events(5, 8).items() if k != "image"})
        with pytest.raises(h5model.H5ModelError, match=r"not in the file \['area'\]"):
            sink.append({**events(5, 8), "area": np.zeros(3)})
        assert len(sink) == 5
    with h5py.File(path) as h5:
        assert {len(d) for d in h5["events"].values()} == {5}


def test_a_fixed_size_dataset_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "fixed.h5"
    with h5py.File(path, "w", libver="latest") as h5:
        h5.create_dataset("events/deform", data=np.zeros(4))
        h5.attrs["experiment:event count"] = 4
    with h5model.open(path, "r+", layout="rtdc", stream=True) as f, pytest.raises(
            NotExtendableError) as caught:
        f.sink("/events").append({"deform": np.zeros(2)})
    message = str(caught.value)
    assert str(path) in message and "/events/deform" in message
    assert "create it extendable" in message


def test_appending_needs_a_stream(tmp_path: Path, nwb_files: dict[str, Path]) -> None:
    path = tmp_path / "series.nwb"
    with new_series_file(path, NEVER):
        pass
    with h5model.open(path, "r+") as f, pytest.raises(h5model.H5ModelError, match="stream=True"):
        f.get("/acquisition/series").data.append(np.zeros((1, 2)))
    old = nwb_files["ecephys"]  # pynwb's files use HDF5's earliest format
    copy = tmp_path / "old.nwb"
    copy.write_bytes(old.read_bytes())
    with pytest.raises(h5model.H5ModelError, match="superblock version 3"):
        h5model.open(copy, "r+", stream=True)


def test_data_and_timestamps_alone_and_in_one_flush(tmp_path: Path) -> None:
    path = tmp_path / "series.nwb"
    with new_series_file(path, StreamOptions(flush_rows=1)) as f:
        series = f.get("/acquisition/series")
        with f.stream.holding():  # no flush between the two appends
            series.data.append(np.ones((3, 2)))
            assert f.stream.rows_flushed["/acquisition/series/data"] == 0
            series.timestamps.append([0.0, 0.1, 0.2])
        assert f.stream.rows_flushed["/acquisition/series/data"] == 3
        with pytest.raises(h5model.H5ModelError, match="3 rows of data need as many"):
            series.append(np.ones((3, 2)), [1.0])
        with pytest.raises(h5model.H5ModelError, match=r"each row must have shape \(2,\)"):
            series.data.append(np.ones((3, 4)))


# -- the background writer -------------------------------------------------------------------
def _produce(index: int) -> tuple[int, dict[str, np.ndarray]]:
    """A worker's batch: events of frame ``index`` (10 per frame), after a random delay."""
    time.sleep(random.Random(index).random() * 0.02)
    return index, events(index * 10, index * 10 + 10)


def test_batches_from_four_workers_end_in_index_order(tmp_path: Path) -> None:
    path = tmp_path / "events.rtdc"
    arrivals = []
    with h5model.open(path, "w-", layout="rtdc", stream=True) as f:
        sink = f.sink("/events")
        writer = f.writer(sink.append, ordered=True, queue_size=8)
        with ProcessPoolExecutor(4) as pool:
            for done in as_completed([pool.submit(_produce, i) for i in range(60)]):
                index, batch = done.result()
                arrivals.append(index)
                writer.append(batch, index=index)
        writer.close()
    assert arrivals != sorted(arrivals)  # they did arrive out of order
    with h5py.File(path) as h5:
        assert np.array_equal(h5["events/index"][:], np.arange(600.0))
        assert np.array_equal(h5["events/image"][:], events(0, 600)["image"])


def test_a_missing_index_is_reported_at_close(tmp_path: Path) -> None:
    path = tmp_path / "events.rtdc"
    f = h5model.open(path, "w-", layout="rtdc", stream=True)
    sink = f.sink("/events")
    writer = f.writer(sink.append, ordered=True)
    for i in (0, 1, 3, 4, 7):
        writer.append(events(i * 10, i * 10 + 10), index=i)
    with pytest.raises(MissingBatchesError, match="batches 2, 5-6 never arrived") as caught:
        writer.close()
    assert caught.value.missing == [2, 5, 6]
    f.close()
    with h5py.File(path) as h5:  # what came is kept, in index order, nothing dropped
        expected = np.concatenate([np.arange(i * 10, i * 10 + 10) for i in (0, 1, 3, 4, 7)])
        assert np.array_equal(h5["events/index"][:], expected)


def test_writer_errors_reach_the_caller(tmp_path: Path) -> None:
    path = tmp_path / "events.rtdc"
    gate = threading.Event()
    with h5model.open(path, "w-", layout="rtdc", stream=True) as f:
        sink = f.sink("/events")

        def write(batch: dict[str, np.ndarray]) -> None:
            gate.wait()  # the three batches are queued before the thread writes one
            sink.append(batch)

        writer = f.writer(write)
        writer.append(events(0, 5))
        writer.append({"index": np.zeros(3)})  # lacks features: refused in the thread
        writer.append(events(5, 6))            # queued behind it: kept, not written
        gate.set()
        with pytest.raises(h5model.H5ModelError, match="missing") as caught:
            writer.flush()
        assert caught.value.__notes__ == [
            "1 batch(es) queued after it were not written; they are kept in writer.unwritten"]
        writer.append(writer.unwritten.pop())  # the caller decides: here, written after all
        writer.close()
    with h5py.File(path) as h5:
        assert np.array_equal(h5["events/index"][:], np.arange(6.0))


def test_a_full_queue_blocks_or_raises(tmp_path: Path) -> None:
    gate = threading.Event()
    written: list[int] = []

    def slow(batch: int) -> None:
        gate.wait()
        written.append(batch)

    path = tmp_path / "events.rtdc"
    with h5model.open(path, "w-", layout="rtdc", stream=True) as f:
        writer = f.writer(slow, queue_size=2, block=False)
        writer.append(0)
        time.sleep(0.2)  # the thread has taken batch 0 and waits at the gate
        writer.append(1)
        writer.append(2)
        with pytest.raises(QueueFull, match="queue is full"):
            writer.append(3)
        blocked = threading.Thread(target=lambda: writer.append(3, block=True))
        blocked.start()
        time.sleep(0.1)
        assert blocked.is_alive()  # waits for room, never drops
        gate.set()
        blocked.join(5)
        writer.close()
    assert written == [0, 1, 2, 3]


# -- live readers ----------------------------------------------------------------------------------
def test_a_reader_process_sees_flushed_rows_while_the_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "live.rtdc"
    total = 6000
    writer = subprocess.Popen([sys.executable, str(WRITER), "rtdc", str(path), "5", str(total),
                               "0.002"], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    while writer.stdout.readline().split()[0] != "flushed":
        pass
    seen = []
    with h5model.open(path, layout="rtdc") as f:
        feature = f.get("/events/index")
        while writer.poll() is None or len(seen) < 2:
            feature.refresh()
            count = len(feature.value)
            seen.append(count)
            rows = feature.value[:count]
            assert np.array_equal(rows, np.arange(count, dtype=np.float64))
            time.sleep(0.01)
        f.refresh()
        assert len(f.get("/events/index").value) == total
        # a model first reached after the refresh reads the shape the file has now
        other = next(name for name in f.get("/events").children if name != "index")
        assert len(f.get(f"/events/{other}").value) == total
    assert writer.wait(30) == 0
    assert seen == sorted(seen) and seen[0] < total
    assert len(set(seen)) > 2  # it saw the file grow


# -- crash safety ----------------------------------------------------------------------------------
def _check_after_kill(kind: str, path: Path, flushed: int) -> None:
    if kind == "rtdc":
        with h5py.File(path) as h5:
            lengths = {len(d) for d in h5["events"].values()}
            assert len(lengths) == 1, lengths
            (count,) = lengths
            assert count >= flushed
            assert h5.attrs["experiment:event count"] == count
            expected = events(0, count)
            for name, rows in expected.items():
                assert np.array_equal(h5["events"][name][:], rows), name
        with h5model.open(path, layout="rtdc") as f:
            assert f.root.experiment_event_count == count
    else:
        from pynwb import NWBHDF5IO

        data, times = samples(0, flushed)
        with NWBHDF5IO(str(path), "r") as io:
            series = io.read().acquisition["series"]
            assert len(series.data) == len(series.timestamps) >= flushed
            assert np.array_equal(series.data[:flushed], data)
            assert np.array_equal(series.timestamps[:flushed], times)
        with h5model.open(path) as f:
            assert len(f.get("/acquisition/series").data) >= flushed


@pytest.mark.slow
def test_killed_writers_leave_files_that_open_whole(tmp_path: Path) -> None:
    rng = random.Random(20)
    cut = flushed_any = 0
    for seed in range(20):
        kind = "rtdc" if seed % 2 == 0 else "nwb"
        path = tmp_path / f"killed{seed}.{kind}"
        writer = subprocess.Popen([sys.executable, str(WRITER), kind, str(path), str(seed),
                                   "100000", "0.001"], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        lines: list[str] = []
        reader = threading.Thread(target=_follow, args=(writer, lines))
        reader.start()
        time.sleep(rng.uniform(0.0, 0.6))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        reader.join()
        flushed = max([int(line.split()[1]) for line in lines if line.startswith("flushed")],
                      default=0)
        if seed % 4 == 1:
            report = repair(path)  # explicitly
        else:
            with h5model.open(path, "r+", layout="rtdc" if kind == "rtdc" else None) as f:
                report = f.repaired  # on the next open for writing
        assert report is not None and report.cleared_flags
        assert superblock.status_flags(path) == 0
        _check_after_kill(kind, path, flushed)
        cut += bool(report.cut)
        flushed_any += flushed > 0
        if kind == "rtdc" and report.cut:
            with h5py.File(path) as h5:
                assert "cut" in h5["logs/h5model-repair"].asstr()[-1]


    assert flushed_any >= 10  # kills landed mid-stream, not before the first flush


DIES_MID_BATCH = """
import os, sys
import numpy as np
import h5model
from stream_writer import NEVER, events
f = h5model.open(sys.argv[1], "w-", layout="rtdc", stream=NEVER)
sink = f.sink("/events")
sink.append(events(0, 50))
f.flush()
h5 = f.stream.h5
for name, rows in events(50, 80).items():   # half a batch reaches the disk: one feature
    if name == "index":
        h5["events/index"].resize((80,))
        h5["events/index"][50:] = rows
h5.flush()                                   # as HDF5 may write before the writer's flush
os._exit(0)                                  # dies before the rest of the batch
"""


def test_repair_cuts_a_partly_written_batch_and_logs_it(tmp_path: Path) -> None:
    path = tmp_path / "torn.rtdc"
    subprocess.run([sys.executable, "-c", DIES_MID_BATCH, str(path)], check=True, cwd=TESTS)
    with h5model.open(path, layout="rtdc") as f:  # read live, as the dead writer left it
        assert len(f.get("/events/index")) == 80 and len(f.get("/events/deform")) == 50
    with h5model.open(path, "r+", layout="rtdc") as f:
        assert f.repaired is not None and f.repaired.cut == {"/events/index": 30}
        assert f.repaired.log == "/logs/h5model-repair"
    _check_after_kill("rtdc", path, 50)
    with h5py.File(path) as h5:
        assert h5["logs/h5model-repair"].asstr()[-1].endswith(
            "cut 30 unflushed rows from /events/index")
    assert h5model.validate(path, layout="rtdc").exit_code() == 0
    assert repair(path) is None  # nothing left to do


SERIES_DIES_MID_BATCH = """
import os, sys
import numpy as np
from pathlib import Path
from stream_writer import NEVER, new_series_file, samples
f = new_series_file(Path(sys.argv[1]), NEVER)
f.get("/acquisition/series").append(*samples(0, 50))
f.flush()
data = f.stream.h5["acquisition/series/data"]
data.resize((80, 2))
data[50:] = samples(50, 80)[0]               # the data of a batch, not its timestamps
f.stream.h5.flush()
os._exit(0)
"""


def test_repair_of_an_nwb_file_logs_beside_it(tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO, validate

    path = tmp_path / "torn.nwb"
    subprocess.run([sys.executable, "-c", SERIES_DIES_MID_BATCH, str(path)], check=True,
                   cwd=TESTS)
    report = repair(path)
    assert report is not None and report.cut == {"/acquisition/series/data": 30}
    log = Path(str(path) + ".h5model-log")
    assert report.log == str(log) and "cut 30 unflushed rows" in log.read_text()
    _check_after_kill("nwb", path, 50)
    with NWBHDF5IO(str(path), "r") as io:
        assert len(io.read().acquisition["series"].data) == 50
    assert list(validate(path=str(path))) == []


def _follow(writer: subprocess.Popen[str], lines: list[str]) -> None:
    """The writer's whole lines (a kill can cut the last one short: it is left out)."""
    assert writer.stdout is not None
    lines.extend(line for line in writer.stdout if line.endswith("\n"))


def test_a_file_read_before_its_repair_opens_in_h5model(tmp_path: Path) -> None:
    path = tmp_path / "killed.rtdc"
    writer = subprocess.Popen([sys.executable, str(WRITER), "rtdc", str(path), "1", "100000",
                               "0.001"], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    while not writer.stdout.readline().startswith("flushed"):
        pass
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert superblock.is_open_for_swmr_write(path)
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(path, "r")
    with h5model.open(path, layout="rtdc") as f:  # read as SWMR allows, nothing changed
        assert len(f.get("/events/index")) > 0
    assert superblock.is_open_for_swmr_write(path)


# -- tables ----------------------------------------------------------------------------------------
def _table_file(path: Path) -> h5model.File:
    import datetime as dt

    from h5model.persist.streaming import extendable

    f = h5model.open(path, "w-", stream=True)
    t = f.types
    nwb = t.NWBFile(identifier="t", session_description="trials",
                    session_start_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    targets = t.DynamicTable(description="targets", colnames=np.array(["w"], dtype=object),
                             id=t.ElementIdentifiers(value=np.arange(3)),
                             vector_data={"w": t.VectorData(value=np.arange(3.0),
                                                            description="w")})
    spikes = t.VectorData(value=extendable((), "float64"), description="spike times")
    nwb.analysis.add("targets", targets)
    nwb.analysis.add("trials", t.DynamicTable(
        description="trials", colnames=np.array(["x", "label", "spikes", "target"], dtype=object),
        id=t.ElementIdentifiers(value=extendable((), "int64")),
        vector_data={
            "x": t.VectorData(value=extendable((), "float32"), description="x"),
            "label": t.VectorData(value=extendable((), "str"), description="label"),
            "spikes": spikes,
            "spikes_index": t.VectorIndex(value=extendable((), "uint32"), target=spikes,
                                          description="index"),
            "target": t.DynamicTableRegion(value=extendable((), "int64"), table=targets,
                                           description="a target"),
        }))
    f.root = nwb
    f.save()
    return f


def test_table_rows_append_with_ragged_and_region_columns(tmp_path: Path) -> None:
    from pynwb import NWBHDF5IO, validate

    path = tmp_path / "trials.nwb"
    with _table_file(path) as f:
        trials = f.get("/analysis/trials")
        assert trials.append_rows({"x": [1.0, 2.0], "label": ["a", "b"],
                                   "spikes": [[0.1, 0.2], []], "target": [2, 0]}) == 2
        assert trials.append_rows({"x": [3.0], "label": ["c"], "spikes": [[0.5]],
                                   "target": [1]}) == 3
        assert trials[2]["spikes"].tolist() == [0.5]
        with pytest.raises(ValueError, match=r"region rows \[7\] are not rows"):
            trials.append_rows({"x": [4.0], "label": ["d"], "spikes": [[]], "target": [7]})
        with pytest.raises(ValueError, match=r"missing \['label'\]"):
            trials.append_rows({"x": [4.0], "spikes": [[]], "target": [0]})
        assert len(trials) == 3
    with NWBHDF5IO(str(path), "r") as io:
        frame = io.read().analysis["trials"].to_dataframe(index=True)
        assert frame["x"].tolist() == [1.0, 2.0, 3.0]
        assert frame["label"].tolist() == ["a", "b", "c"]
        assert [list(s) for s in frame["spikes"]] == [[0.1, 0.2], [], [0.5]]
        assert frame["target"].tolist() == [2, 0, 1]
    assert list(validate(path=str(path))) == []
    assert h5model.validate(path).exit_code() == 0


# -- h5model tail ----------------------------------------------------------------------------------
def _tail(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "h5model", "tail", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_tail_follows_a_growing_dataset_and_event_group(tmp_path: Path) -> None:
    path = tmp_path / "live.rtdc"
    total = 3000
    writer = subprocess.Popen([sys.executable, str(WRITER), "rtdc", str(path), "9", str(total),
                               "0.003"], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    while not writer.stdout.readline().startswith("flushed"):
        pass
    dataset = _tail(str(path), "/events/index", "--layout", "rtdc", "--interval", "0.05")
    group = _tail(str(path), "/events", "--layout", "rtdc", "-n", "1", "--interval", "0.05")
    assert writer.wait(60) == 0
    time.sleep(1.0)  # the followers poll the closed file once more
    code, out, err = _stop(dataset)
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    numbers = [int(r[0]) for r in rows]
    assert numbers == list(range(numbers[0], total)) and numbers[0] > 0
    assert all(float(value) == n for n, value in zip(numbers, (r[1] for r in rows), strict=True))
    code, out, err = _stop(group)
    assert code == 0, err
    last = out.splitlines()[-1]
    assert last.startswith(f"{total - 1}\t{{deform: {(total - 1) / 2}, image: <uint8 8x12>, "
                           f"index: {float(total - 1)}}}")


def test_tail_of_a_path_that_does_not_grow_prints_its_last_rows(tmp_path: Path) -> None:
    follower = _tail("examples/ecephys.nwb", "/units", "-n", "2", "--interval", "0.05")
    time.sleep(3)
    code, out, err = _stop(follower)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["2", "3"]  # units has 4 rows
    assert lines[0].startswith("2\t{id: 102, quality: good, spike_times: [], ")
    assert "electrode_group: -> /general/extracellular_ephys/shank1" in lines[0]
    code = subprocess.run([sys.executable, "-m", "h5model", "tail", "examples/ecephys.nwb",
                           "/general"], capture_output=True, text=True).returncode
    assert code == 1


DIES_BEFORE_ITS_FIRST_FLUSH = """
import os, sys
import h5model
from stream_writer import NEVER, events
f = h5model.open(sys.argv[1], "w-", layout="rtdc", stream=NEVER)
sink = f.sink("/events")
sink.append(events(0, 40))
sink.append(events(40, 50))
os._exit(0)
"""

PLAIN_WRITER_DIES = """
import os, sys
import h5py
import numpy as np
h5 = h5py.File(sys.argv[1], "w", libver="latest")
h5.attrs["experiment:event count"] = 3
h5.create_dataset("events/deform", data=np.zeros(3))
h5.flush()
os._exit(0)
"""


def test_a_writer_killed_before_its_first_flush_leaves_its_empty_features(
        tmp_path: Path) -> None:
    path = tmp_path / "early.rtdc"
    subprocess.run([sys.executable, "-c", DIES_BEFORE_ITS_FIRST_FLUSH, str(path)], check=True,
                   cwd=TESTS)
    with h5model.open(path, layout="rtdc") as f:  # the features were flushed when made
        assert set(f.get("/events")) == {"deform", "image", "index"}
    with h5model.open(path, "r+", layout="rtdc") as f:  # no row was flushed: none is kept
        assert f.repaired is not None and f.repaired.cleared_flags
        assert len(f.get("/events/index")) == 0
    _check_after_kill("rtdc", path, 0)


def test_a_plain_writer_killed_is_said_and_cleared(tmp_path: Path) -> None:
    path = tmp_path / "plain.rtdc"
    subprocess.run([sys.executable, "-c", PLAIN_WRITER_DIES, str(path)], check=True)
    with pytest.raises(h5model.NotHDF5Error, match="writer was killed before") as caught:
        h5model.open(path, layout="rtdc")
    assert str(path) in str(caught.value)
    with pytest.raises(h5model.NotHDF5Error, match="writer was killed before"):
        h5model.open(path, "r+", layout="rtdc")  # not h5model's writer: never cleared unasked
    report = repair(path)
    assert report is not None and report.cleared_flags and not report.cut
    with h5model.open(path, layout="rtdc") as f:
        assert len(f.get("/events/deform")) == 3


def test_a_file_dcnum_wrote_is_streamed_on(tmp_path: Path) -> None:
    from dcnum.read import HDF5Data
    from dcnum.write import HDF5Writer

    path = tmp_path / "dcnum.rtdc"
    first = events(0, 30)
    with HDF5Writer(path, mode="w") as hw:  # HDF5's latest format, extendable features
        for name, rows in first.items():
            hw.store_feature_chunk(name, np.ascontiguousarray(rows))
        hw.h5.attrs["experiment:event count"] = 30
    with h5model.open(path, "r+", layout="rtdc", stream=True) as f:
        sink = f.sink("/events")
        assert sink.features == ["deform", "image", "index"] and len(sink) == 30
        sink.append(events(30, 75))
    with HDF5Data(path) as data:
        assert len(data) == 75
        assert np.array_equal(data["index"][:], np.arange(75.0))
        assert np.array_equal(data["image"][:], events(0, 75)["image"])


def test_tail_stops_on_ctrl_c_even_when_it_lands_in_a_finalizer() -> None:
    """An interrupt raised inside a finalizer is lost (Python prints it and goes on); the
    follower takes Ctrl-C as a flag instead, so it stops whatever it was running."""
    import io
    import os

    from h5model.cli.tail import tail

    class Interrupts:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs here, inside the finalizer
                pass

    calls = []

    def keep_going() -> bool:
        calls.append(1)
        if len(calls) == 1:
            Interrupts()  # made and finalized at once
        return len(calls) < 20

    out = io.StringIO()
    assert tail(Path("examples/ecephys.nwb"), "/units", lines=1, interval=0.01, out=out,
                keep_going=keep_going) == 0
    assert len(calls) <= 2  # stopped at the next look, not after 20
    assert out.getvalue().startswith("3\t")
