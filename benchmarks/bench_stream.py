"""Streaming benchmark: writing event data as an acquisition pipeline does.

Usage::

    python benchmarks/bench_stream.py SCRATCH_DIR [--events 100000] [--batch 500]
        [--repeat 3] [--json OUT]

100,000 events of five scalar features and one 80x250 ``uint8`` image, in batches of
``--batch`` events, written three ways in the same run, each with the same filter
(Zstd level 5 from ``hdf5plugin`` plus the fletcher32 checksum, dcnum's default) and
the same chunks (h5model's rule: whole items, as many as fit in 1 MiB):

1. **h5model**: ``open(..., stream=True)`` (SWMR, flushed every second, or every
   ``--flush-seconds``), an event sink
   and its background writer; the acquisition loop only calls ``writer.append(batch)``.
2. **dcnum**: ``dcnum.write.HDF5Writer.store_feature_chunk`` per feature and batch
   (its chunk rule replaced by h5model's, so the chunks are the same).
3. **h5py**: raw resize-and-assign of each feature per batch, same chunks and filters.

Each repeat runs the three in turn (order rotated); times are wall clock from opening
the file to closing it, imports and the making of the batches excluded; the median and
the best run are reported, with h5model's ratios (on a machine shared with other work
the best run is the steadier figure). The time of each ``writer.append`` call in the
acquisition loop is reported too (median and 99th percentile, in microseconds): it is
what the loop pays while the writer thread keeps up (its queue holds 256 batches).
Targets: h5model at least as fast as dcnum, within 10% of raw h5py; ``append`` < 50 us.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin
import numpy as np

SCALARS = {"deform": "float32", "area_um": "float32", "pos_x": "float32", "bright_avg":
           "float64", "frame": "uint64"}
SHAPE = (80, 250)


def batches(events: int, size: int) -> list[dict[str, np.ndarray]]:
    """The batches, made before timing: images from a pool of 64 distinct frames (a
    camera's background plus noise and a bright cell), so that Zstd has realistic work."""
    rng = np.random.default_rng(0)
    background = rng.integers(90, 110, SHAPE, dtype=np.uint8)
    pool = np.repeat(background[None], 64, axis=0)
    pool += rng.integers(0, 4, pool.shape, dtype=np.uint8)
    for i in range(64):
        y, x = 20 + i % 40, 30 + (3 * i) % 190
        pool[i, y:y + 15, x:x + 15] = 200
    out = []
    for start in range(0, events, size):
        stop = min(events, start + size)
        index = np.arange(start, stop)
        batch: dict[str, np.ndarray] = {
            name: (index * 0.001).astype(dtype) if dtype != "uint64" else index.astype(dtype)
            for name, dtype in SCALARS.items()}
        batch["image"] = pool[index % 64]
        out.append(batch)
    return out


def filters() -> dict[str, Any]:
    return {**dict(hdf5plugin.Zstd(clevel=5)), "fletcher32": True}


FLUSH_SECONDS = 1.0


def run_h5model(path: Path, data: list[dict[str, np.ndarray]]) -> tuple[float, list[float]]:
    import h5model
    from h5model.persist.streaming import StreamOptions

    calls = []
    start = time.perf_counter()
    options = StreamOptions(flush_seconds=FLUSH_SECONDS)
    with h5model.open(path, "w-", layout="rtdc", stream=options) as f:
        sink = f.sink("/events", compression=hdf5plugin.Zstd(clevel=5), fletcher32=True)
        writer = f.writer(sink.append, queue_size=256)
        for batch in data:
            t0 = time.perf_counter()
            writer.append(batch)
            calls.append(time.perf_counter() - t0)
        writer.close()
    return time.perf_counter() - start, calls


def run_dcnum(path: Path, data: list[dict[str, np.ndarray]]) -> tuple[float, list[float]]:
    from dcnum.write import HDF5Writer

    from h5model.persist.streaming import chunk_shape

    class SameChunks(HDF5Writer):  # type: ignore[misc]
        @staticmethod
        def get_best_nd_chunks(item_shape: Any, feat_dtype: Any = np.float64) -> Any:
            return chunk_shape(tuple(item_shape), feat_dtype)

    start = time.perf_counter()
    with SameChunks(path, mode="w", ds_kwds=filters()) as writer:
        for batch in data:
            for name, rows in batch.items():
                writer.store_feature_chunk(name, rows)
        writer.h5.attrs["experiment:event count"] = sum(len(b["image"]) for b in data)
    return time.perf_counter() - start, []


def run_h5py(path: Path, data: list[dict[str, np.ndarray]]) -> tuple[float, list[float]]:
    from h5model.persist.streaming import chunk_shape

    start = time.perf_counter()
    with h5py.File(path, "w", libver="latest") as h5:
        group = h5.create_group("events")
        first = data[0]
        datasets = {name: group.create_dataset(
            name, shape=(0, *rows.shape[1:]), maxshape=(None, *rows.shape[1:]),
            dtype=rows.dtype, chunks=chunk_shape(rows.shape[1:], rows.dtype), **filters())
            for name, rows in first.items()}
        for batch in data:
            for name, rows in batch.items():
                dataset = datasets[name]
                n = dataset.shape[0]
                dataset.resize(n + len(rows), axis=0)
                dataset[n:] = rows
        h5.attrs["experiment:event count"] = datasets["image"].shape[0]
    return time.perf_counter() - start, []


CASES: dict[str, Callable[[Path, list[dict[str, np.ndarray]]], tuple[float, list[float]]]] = {
    "h5model": run_h5model, "dcnum": run_dcnum, "h5py": run_h5py}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scratch", type=Path)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flush-seconds", type=float, default=1.0,
                        help="how often h5model's writer flushes for live readers (default 1)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    global FLUSH_SECONDS
    FLUSH_SECONDS = args.flush_seconds
    args.scratch.mkdir(parents=True, exist_ok=True)
    data = batches(args.events, args.batch)
    import dcnum.write  # noqa: F401 - imports outside the timing

    import h5model  # noqa: F401

    times: dict[str, list[float]] = {name: [] for name in CASES}
    calls: list[float] = []
    sizes: dict[str, int] = {}
    names = list(CASES)
    for repeat in range(args.repeat):
        for name in names[repeat % 3:] + names[:repeat % 3]:
            path = args.scratch / f"{name}.rtdc"
            path.unlink(missing_ok=True)
            gc.collect()
            seconds, made = CASES[name](path, data)
            times[name].append(seconds)
            calls += made
            sizes[name] = path.stat().st_size
            with h5py.File(path) as h5:
                assert {len(d) for d in h5["events"].values()} == {args.events}, name
    median = {name: statistics.median(values) for name, values in times.items()}
    best = {name: min(values) for name, values in times.items()}
    per_call = sorted(calls)
    report = {
        "events": args.events, "batch": args.batch, "repeat": args.repeat,
        "flush_seconds": args.flush_seconds,
        "seconds": median, "best_seconds": best, "all_seconds": times, "bytes": sizes,
        "h5model_over_dcnum": median["h5model"] / median["dcnum"],
        "h5model_over_h5py": median["h5model"] / median["h5py"],
        "best_h5model_over_dcnum": best["h5model"] / best["dcnum"],
        "best_h5model_over_h5py": best["h5model"] / best["h5py"],
        "append_us_median": 1e6 * statistics.median(per_call),
        "append_us_p99": 1e6 * per_call[int(0.99 * (len(per_call) - 1))],
    }
    raw = args.events * (int(np.prod(SHAPE)) + 4 * 3 + 8 * 2)
    print(f"{args.events:,} events in batches of {args.batch} ({raw / 1e9:.2f} GB raw), "
          f"median (best) of {args.repeat}:")
    for name in CASES:
        print(f"  {name:8s} {median[name]:7.2f} s ({best[name]:6.2f} s)  "
              f"{raw / median[name] / 1e6:5.0f} MB/s  file {sizes[name] / 1e6:7.1f} MB")
    print(f"  h5model / dcnum  {report['h5model_over_dcnum']:.3f} "
          f"({report['best_h5model_over_dcnum']:.3f})  (target <= 1)")
    print(f"  h5model / h5py   {report['h5model_over_h5py']:.3f} "
          f"({report['best_h5model_over_h5py']:.3f})  (target <= 1.10)")
    print(f"  append() call    median {report['append_us_median']:.1f} us, "
          f"p99 {report['append_us_p99']:.1f} us  (target < 50 us)")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
