"""A streaming writer run as its own process by the streaming tests (to be read live, or
killed): ``python stream_writer.py KIND PATH SEED ROWS [PAUSE]``.

KIND is ``rtdc`` (events: ``index`` = event number, ``deform`` = half of it, an 8x12
``image`` of it modulo 256) or ``nwb`` (a TimeSeries: data rows ``[i, -i]``, timestamps
``i / 100``). Batches of seeded random sizes; after each explicit flush it prints
``flushed N`` (every row below N is durable), having printed ``ready`` once the file is
open for streaming.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

import h5model
from h5model.persist.streaming import StreamOptions, extendable

NEVER = StreamOptions(flush_rows=None, flush_seconds=1e9)
"""Flushes only when the writer says so, so that it knows exactly what is durable."""


def events(start: int, stop: int) -> dict[str, np.ndarray]:
    index = np.arange(start, stop, dtype=np.float64)
    image = np.broadcast_to((np.arange(start, stop) % 256).astype(np.uint8)[:, None, None],
                            (stop - start, 8, 12))
    return {"index": index, "deform": (index / 2).astype(np.float32), "image": image}


def samples(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(start, stop, dtype=np.float32)
    return np.stack([i, -i], axis=1), np.arange(start, stop) / 100.0


def new_series_file(path: Path, options: StreamOptions) -> h5model.File:
    f = h5model.open(path, "w-", stream=options)
    t = f.types
    nwb = t.NWBFile(identifier="stream", session_description="streamed",
                    session_start_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    nwb.acquisition.add("series", t.TimeSeries(
        data=t.TimeSeries__data(value=extendable((2,), "float32"), unit="V"),
        timestamps=t.TimeSeries__timestamps(value=extendable((), "float64"))))
    f.root = nwb
    f.save()
    return f


def main(kind: str, path: Path, seed: int, rows: int, pause: float) -> None:
    rng = np.random.default_rng(seed)
    if kind == "rtdc":
        f = h5model.open(path, "w-", layout="rtdc", stream=NEVER)
        sink = f.sink("/events", compression="gzip")

        def put(start: int, stop: int) -> None:
            sink.append(events(start, stop))
    else:
        f = new_series_file(path, NEVER)
        series = f.get("/acquisition/series")

        def put(start: int, stop: int) -> None:
            series.append(*samples(start, stop))
    print("ready", flush=True)
    done = 0
    while done < rows:
        size = int(min(rows - done, rng.integers(1, 200)))
        put(done, done + size)
        done += size
        if rng.random() < 0.5:
            f.flush()
            print("flushed", done, flush=True)
        time.sleep(pause)
    f.close()
    print("closed", done, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
         float(sys.argv[5]) if len(sys.argv) > 5 else 0.0)
