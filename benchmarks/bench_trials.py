"""Trials appended one at a time: h5model's streaming table against axopy's TaskWriter.

Usage::

    python benchmarks/bench_trials.py SCRATCH_DIR [--trials 10000]

An experiment stores each trial as it ends: its attributes (block, trial, target) and
an EMG array of 2 samples x 4 channels. axopy's ``TaskWriter.write`` rewrites the whole
``trials.csv`` and adds one HDF5 dataset per trial; h5model appends one row to a table
of a file open for streaming (``table.append_rows``: three columns and a ragged EMG
column of 4-channel samples with its index, flushed every second). The time of every
trial's write is recorded; the report gives the mean of the first and of the last
1,000 trials (target: constant as trials grow) and the whole run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from pathlib import Path

import numpy as np


def h5model_trials(folder: Path, trials: int) -> list[float]:
    import h5model
    from h5model.persist.streaming import extendable

    path = folder / "trials.nwb"
    path.unlink(missing_ok=True)
    with h5model.open(path, "w-", stream=True) as f:
        t = f.types
        nwb = t.NWBFile(identifier="reach", session_description="trials",
                        session_start_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        emg = t.VectorData(value=extendable((4,), "float64"), description="EMG samples")
        nwb.analysis.add("trials", t.DynamicTable(
            description="trials", colnames=np.array(["block", "trial", "target", "emg"],
                                                    dtype=object),
            id=t.ElementIdentifiers(value=extendable((), "int64")),
            vector_data={
                "block": t.VectorData(value=extendable((), "int64"), description="block"),
                "trial": t.VectorData(value=extendable((), "int64"), description="trial"),
                "target": t.VectorData(value=extendable((), "int64"), description="target"),
                "emg": emg,
                "emg_index": t.VectorIndex(value=extendable((), "uint32"), target=emg,
                                           description="index"),
            }))
        f.root = nwb
        f.save()
        table = f.get("/analysis/trials")
        times = []
        for i in range(trials):
            samples = np.ones((2, 4)) * i
            t0 = time.perf_counter()
            table.append_rows({"block": [0], "trial": [i], "target": [i % 4],
                               "emg": [samples]})
            times.append(time.perf_counter() - t0)
    return times


def axopy_trials(folder: Path, trials: int) -> list[float]:
    from axopy.design import Design
    from axopy.storage import Storage

    root = folder / "axopy"
    shutil.rmtree(root, ignore_errors=True)
    storage = Storage(str(root))
    storage.subject_id = "p0"
    writer = storage.create_task("reach")
    design = Design()
    block = design.add_block()
    for i in range(trials):
        block.add_trial(attrs={"target": i % 4}).add_array("emg")
    times = []
    for trial in block:
        trial.arrays["emg"].stack(np.ones((2, 4)) * trial.attrs["trial"])
        t0 = time.perf_counter()
        writer.write(trial)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scratch", type=Path)
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    import axopy.storage  # noqa: F401 - imports outside the timing

    import h5model  # noqa: F401

    report = {}
    for name, run in (("h5model", h5model_trials), ("axopy", axopy_trials)):
        times = run(args.scratch, args.trials)
        window = min(1000, len(times))
        report[name] = {"first_ms": 1e3 * float(np.mean(times[:window])),
                        "last_ms": 1e3 * float(np.mean(times[-window:])),
                        "total_s": float(np.sum(times))}
    print(f"{args.trials:,} trials, one at a time (ms per trial, mean of the first and "
          f"last 1,000):")
    for name, row in report.items():
        print(f"  {name:8s} first {row['first_ms']:8.3f} ms  last {row['last_ms']:8.3f} ms  "
              f"(x{row['last_ms'] / row['first_ms']:.2f})  total {row['total_s']:7.2f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
