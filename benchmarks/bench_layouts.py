"""RT-DC files under the ``rtdc`` layout against h5py (and dcnum's reader) doing the same.

    python benchmarks/bench_layouts.py /tmp/h5model-bench-layouts --events 100000 --repeat 5

Writes one RT-DC file with dcnum's own ``HDF5Writer`` (scalar features, an image feature,
a basin with its mapping, a log, a table; Zstd-compressed), then times in fresh processes
(medians; imports excluded):

- ``metadata``: open the file and read every feature's shape, dtype and attributes
  (h5model: ``open(..., layout="rtdc")`` and the typed models; h5py: ``File`` and each
  dataset's ``shape``/``dtype``/``attrs``; dcnum: ``HDF5Data`` and its feature list);
- ``feature``: the same open plus one scalar feature read whole.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import sys, time, json
case, path, feature = sys.argv[1], sys.argv[2], sys.argv[3]
import numpy as np
import h5py, hdf5plugin
if case.startswith("h5model"):
    import h5model
if case.startswith("dcnum"):
    from dcnum.read import HDF5Data
start = time.perf_counter()
if case == "h5model-metadata" or case == "h5model-feature":
    with h5model.open(path, layout="rtdc") as f:
        events = f.get("/events")
        meta = [(name, m.value.shape, m.value.dtype, dict(m.attrs)) for name, m in events.items()]
        if case.endswith("feature"):
            data = events[feature].value[:]
elif case == "h5py-metadata" or case == "h5py-feature":
    with h5py.File(path) as h5:
        root = dict(h5.attrs)
        events = h5["events"]
        meta = [(name, events[name].shape, events[name].dtype, dict(events[name].attrs))
                for name in events]
        if case.endswith("feature"):
            data = events[feature][:]
elif case == "dcnum-metadata" or case == "dcnum-feature":
    with HDF5Data(path) as hd:
        meta = [(name, hd.h5["events"][name].shape) for name in hd.features_scalar_frame]
        if case.endswith("feature"):
            data = hd[feature][:]
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def write_file(path: Path, events: int) -> None:
    import numpy as np
    from dcnum.write import HDF5Writer

    rng = np.random.default_rng(0)
    with HDF5Writer(path, mode="w") as hw:
        block = 10_000
        for start in range(0, events, block):
            n = min(block, events - start)
            for name in ("deform", "area_um", "bright_avg", "pos_x", "pos_y", "frame"):
                hw.store_feature_chunk(name, rng.random(n))
            hw.store_feature_chunk("image", rng.integers(0, 255, (n, 16, 24), dtype=np.uint8))
        hw.store_log("dcnum-log", ["started", "finished"])
        hw.store_basin(name="raw", paths=["raw.rtdc"], features=["image"],
                       mapping=np.arange(events), description="raw data")
        hw.h5.attrs["experiment:event count"] = events
        hw.h5.attrs["imaging:pixel size"] = 0.34
        hw.h5.attrs["setup:flow rate"] = 0.06
        hw.h5.attrs["pipeline:dcnum generation"] = "11"


def run(case: str, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat + 1):
        done = subprocess.run([sys.executable, "-c", CHILD, case, str(path), "deform"],
                              capture_output=True, text=True, check=True)
        times.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
    return statistics.median(times[1:])  # the first run warms the caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    path = args.folder / f"events_{args.events}.rtdc"
    if not path.exists():
        write_file(path, args.events)
    print(f"{path}: {path.stat().st_size / 2**20:.1f} MiB, {args.events:,} events")
    print(f"{'what':<10}{'h5model s':>12}{'h5py s':>12}{'dcnum s':>12}{'h5model/h5py':>15}")
    for what in ("metadata", "feature"):
        ours, h5py_s, dcnum_s = (run(f"{who}-{what}", path, args.repeat)
                                 for who in ("h5model", "h5py", "dcnum"))
        print(f"{what:<10}{ours:>12.4f}{h5py_s:>12.4f}{dcnum_s:>12.4f}{ours / h5py_s:>15.2f}")


if __name__ == "__main__":
    main()
