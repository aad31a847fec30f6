"""Truncation speed: the time should depend on what is kept, not on the size of the source.

Usage::

    python benchmarks/bench_truncate.py OUTDIR [--small-mb 100] [--large-mb 2048] [-n 10]
        [--repeat 3] [--json OUT] [--force] [--warm]

Two NWB files of the same structure are written into OUTDIR (left alone when present,
unless ``--force``): a TimeSeries whose ``data`` is a chunked float32 (rows, 64) dataset
with float64 ``timestamps``, and a Units table with ragged ``spike_times`` (30 per unit
on average) and a ragged ``electrodes`` region column into a 64-row electrodes table.
Every dataset of the large file has about ``large / small`` times the rows of the small
one. The files are written by pynwb as small skeletons, then grown block by block with
h5py, so no array of the final size is ever held in memory.

Each file is then truncated to ``-n`` rows, ``--repeat`` times, each run in a fresh
interpreter, with the source first dropped from the OS page cache (``--warm`` skips
that); the output is written next to the sources and removed afterwards. The report
gives the median time of ``h5model.truncate`` inside the child (import excluded), the
child's wall time, both output sizes and the large/small time ratio (target < 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

COLUMNS = 64
ELECTRODES = 64
SPIKES_PER_UNIT = 30
CHUNK_ROWS = 16384
COLUMN_CHUNK = 65536
BLOCK_ROWS = 1 << 18
SEED = 20240102
ROW_BYTES = COLUMNS * 4 + 8
UNIT_BYTES = SPIKES_PER_UNIT * 8 + 4 * 8
TABLE_SHARE = 0.05
"""Share of the file taken by the Units table."""

CHILD = """
import sys, time
t0 = time.perf_counter()
import h5model
t1 = time.perf_counter()
h5model.truncate(sys.argv[1], sys.argv[2], n=int(sys.argv[3]), overwrite=True)
t2 = time.perf_counter()
print(f"{t1 - t0} {t2 - t1}")
"""


def sizes(megabytes: float) -> tuple[int, int]:
    """(TimeSeries rows, units) for a file of about ``megabytes`` MiB."""
    total = megabytes * 2**20
    return int(total * (1 - TABLE_SHARE) / ROW_BYTES), int(total * TABLE_SHARE / UNIT_BYTES)


def write_skeleton(path: Path) -> None:
    """One sample and one unit, every growing dataset chunked with an unlimited first axis."""
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import DynamicTableRegion, ElementIdentifiers, VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.misc import Units

    def column(values: np.ndarray) -> H5DataIO:
        return H5DataIO(values, chunks=(COLUMN_CHUNK,), maxshape=(None,))

    nwbfile = NWBFile(
        session_description="truncation benchmark",
        identifier=f"h5model-bench-truncate-{path.stem}",
        session_start_time=datetime(2024, 1, 2, tzinfo=UTC),
    )
    device = nwbfile.create_device(name="probe", description="a synthetic probe")
    group = nwbfile.create_electrode_group(
        name="shank", description="a synthetic shank", location="CA1", device=device
    )
    for i in range(ELECTRODES):
        nwbfile.add_electrode(group=group, location="CA1", x=0.0, y=float(20 * i), z=0.0)
    spikes = VectorData(name="spike_times", description="spike times", data=column(np.zeros(1)))
    channels = DynamicTableRegion(
        name="electrodes",
        description="electrode of each unit",
        data=column(np.zeros(1, dtype=np.int64)),
        table=nwbfile.electrodes,
    )
    one = np.ones(1, dtype=np.uint64)
    nwbfile.units = Units(
        name="units",
        description="synthetic units",
        id=ElementIdentifiers(name="id", data=column(np.zeros(1, dtype=np.int64))),
        columns=[
            spikes,
            VectorIndex(name="spike_times_index", data=column(one), target=spikes),
            channels,
            VectorIndex(name="electrodes_index", data=column(one), target=channels),
        ],
        colnames=["spike_times", "electrodes"],
    )
    nwbfile.add_acquisition(
        TimeSeries(
            name="signal",
            data=H5DataIO(
                np.zeros((1, COLUMNS), np.float32),
                chunks=(CHUNK_ROWS, COLUMNS),
                maxshape=(None, COLUMNS),
            ),
            timestamps=column(np.zeros(1)),
            unit="V",
        )
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)


def grow(path: Path, rows: int, units: int) -> None:
    """Fill the skeleton to ``rows`` samples and ``units`` units, block by block."""
    with h5py.File(path, "r+") as f:
        data, stamps = f["acquisition/signal/data"], f["acquisition/signal/timestamps"]
        data.resize((rows, COLUMNS))
        stamps.resize((rows,))
        for start in range(0, rows, BLOCK_ROWS):
            stop = min(rows, start + BLOCK_ROWS)
            rng = np.random.default_rng([SEED, 0, start])
            data[start:stop] = rng.standard_normal((stop - start, COLUMNS), dtype=np.float32)
            stamps[start:stop] = np.arange(start, stop) / 30000.0
        table = f["units"]
        for name in ("id", "spike_times_index", "electrodes", "electrodes_index"):
            table[name].resize((units,))
        total = 0
        for start in range(0, units, BLOCK_ROWS):
            stop = min(units, start + BLOCK_ROWS)
            rng = np.random.default_rng([SEED, 1, start])
            counts = rng.poisson(SPIKES_PER_UNIT, size=stop - start)
            ends = total + np.cumsum(counts)
            table["spike_times"].resize((int(ends[-1]),))
            table["spike_times"][total : int(ends[-1])] = np.sort(
                rng.uniform(0, rows / 30000.0, size=int(counts.sum()))
            )
            table["id"][start:stop] = np.arange(start, stop)
            table["spike_times_index"][start:stop] = ends
            table["electrodes"][start:stop] = np.arange(start, stop) % ELECTRODES
            table["electrodes_index"][start:stop] = np.arange(start + 1, stop + 1)
            total = int(ends[-1])


def make(path: Path, megabytes: float, force: bool) -> None:
    if path.exists() and not force:
        print(f"{path.name}: exists, skipped (--force rewrites it)")
        return
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    rows, units = sizes(megabytes)
    started = time.perf_counter()
    write_skeleton(partial)
    grow(partial, rows, units)
    os.replace(partial, path)
    print(
        f"{path.name}: wrote {rows:,} samples x {COLUMNS} and {units:,} units "
        f"in {time.perf_counter() - started:.1f} s"
    )


def drop_from_cache(path: Path) -> None:
    """Ask the OS to forget the file's cached pages, so the run reads from disk (Linux)."""
    if not hasattr(os, "posix_fadvise"):
        return
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def run_once(source: Path, target: Path, n: int, cold: bool) -> tuple[float, float, float]:
    """(import s, truncate s, wall s) of one child process."""
    if cold:
        drop_from_cache(source)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(source), str(target), str(n)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"truncating {source} failed:\n{done.stderr}")
    imported, truncated = (float(x) for x in done.stdout.split())
    return imported, truncated, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the benchmark files")
    parser.add_argument("--small-mb", type=float, default=100.0, help="MiB (default 100)")
    parser.add_argument("--large-mb", type=float, default=2048.0, help="MiB (default 2048)")
    parser.add_argument("-n", type=int, default=10, help="rows to keep (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per file (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--force", action="store_true", help="rewrite existing files")
    parser.add_argument(
        "--warm", action="store_true", help="leave the sources in the OS page cache"
    )
    args = parser.parse_args(argv)
    if min(args.small_mb, args.large_mb) <= 0 or args.repeat < 1 or args.n < 1:
        parser.error("sizes, --repeat and -n must be positive")

    args.outdir.mkdir(parents=True, exist_ok=True)
    files = {
        "small": args.outdir / "truncate_small.nwb",
        "large": args.outdir / "truncate_large.nwb",
    }
    make(files["small"], args.small_mb, args.force)
    make(files["large"], args.large_mb, args.force)

    results = {}
    for label, source in files.items():
        target = args.outdir / f"{source.stem}.cut{source.suffix}"
        runs = [run_once(source, target, args.n, not args.warm) for _ in range(args.repeat)]
        results[label] = {
            "source": str(source),
            "source_bytes": source.stat().st_size,
            "output_bytes": target.stat().st_size,
            "import_s": statistics.median(r[0] for r in runs),
            "truncate_s": statistics.median(r[1] for r in runs),
            "process_s": statistics.median(r[2] for r in runs),
            "runs": runs,
        }
        target.unlink()

    cache = "page cache warm" if args.warm else "sources dropped from the page cache first"
    print(f"\nh5model truncate -n {args.n}, median of {args.repeat} fresh processes, {cache}\n")
    print(f"{'file':<22}{'source':>12}{'output':>12}{'truncate s':>12}{'process s':>12}")
    for result in results.values():
        print(
            f"{Path(result['source']).name:<22}"
            f"{result['source_bytes'] / 2**20:>8.1f} MiB"
            f"{result['output_bytes'] / 2**10:>8.1f} KiB"
            f"{result['truncate_s']:>12.3f}{result['process_s']:>12.3f}"
        )
    ratio = results["large"]["truncate_s"] / results["small"]["truncate_s"]
    verdict = "PASS" if ratio < 1.5 else "FAIL"
    print(f"\nlarge / small truncate time: {ratio:.2f} (target < 1.5) {verdict}")
    if args.json is not None:
        args.json.write_text(json.dumps({"n": args.n, "ratio": ratio, **results}, indent=2))
    return 0 if ratio < 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
