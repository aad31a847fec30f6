"""Attributes per object: reading must cost the same per attribute at any count.

Usage::

    python benchmarks/bench_attributes.py OUTDIR [--counts 1000,2000,5000,10000]
        [--repeat 3] [--json OUT]

For each count a file is written into OUTDIR with one group holding that many attributes
(half integers, half text, as HDMF writes them). Each is then read, in a fresh
interpreter, by h5model's attribute reader (the path chosen as usual, see
``H5MODEL_NATIVE``) and by h5py (``dict(group.attrs.items())``). The report gives the
median time of each, microseconds per attribute, and h5model / h5py. Target: the time
per attribute stays flat as the count grows (before the fix, 5,000 attributes took 76 s
and 10,000 over 300 s: growth with the square of the count).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import h5py

CHILD = """
import sys, time
import h5py
path, who = sys.argv[1], sys.argv[2]
if who == "h5model":
    from h5model.hdf5.attributes import read_attributes
with h5py.File(path, "r") as f:
    group = f["g"]
    started = time.perf_counter()
    if who == "h5model":
        values = read_attributes(group.id)
    else:
        values = dict(group.attrs.items())
    print(time.perf_counter() - started, len(values))
"""


def write(path: Path, count: int) -> None:
    if path.exists():
        return
    with h5py.File(path, "w") as f:
        group = f.create_group("g")
        for i in range(count):
            group.attrs[f"attribute_{i:06d}"] = i if i % 2 else f"value {i}"


def measure(path: Path, who: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), who],
                              capture_output=True, text=True, check=True)
        seconds, _count = done.stdout.split()
        times.append(float(seconds))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--counts", default="1000,2000,5000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    print("| attributes | h5model s | h5py s | h5model us/attr | h5py us/attr | h5model / h5py |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count in (int(c) for c in args.counts.split(",")):
        path = args.outdir / f"attributes_{count}.h5"
        write(path, count)
        ours, peer = measure(path, "h5model", args.repeat), measure(path, "h5py", args.repeat)
        rows.append({"count": count, "h5model_s": ours, "h5py_s": peer})
        print(f"| {count:,} | {ours:.3f} | {peer:.3f} | {ours / count * 1e6:.1f} | "
              f"{peer / count * 1e6:.1f} | {ours / peer:.2f} |")
    first, last = rows[0], rows[-1]
    growth = (last["h5model_s"] / last["count"]) / (first["h5model_s"] / first["count"])
    print(f"\ntime per attribute, {last['count']:,} vs {first['count']:,}: x{growth:.2f} "
          "(flat: about 1)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "growth": growth}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
