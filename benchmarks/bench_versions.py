"""One version of h5model against another: read, validate, write and truncate, A/B.

Usage::

    python benchmarks/bench_versions.py FILES_DIR --base-python PATH [--rounds 5] [--json OUT]
    python benchmarks/bench_versions.py FILES_DIR --base-python PATH --instructions

``PATH`` is the interpreter of an environment where the other version is installed
(e.g. a virtualenv with ``pip install -e`` of an earlier checkout); this interpreter
runs the current one. Each round runs every operation once with each interpreter, in
fresh processes and alternating, so that a busy machine slows both alike; the report
gives the median wall and CPU time of each and current / base (below 1: the current
version is faster). CPU time is the steadier figure on a shared machine.

``--instructions`` counts instead the machine instructions each operation executes, under
valgrind's cachegrind (``valgrind`` must be installed; about 50 times slower, one run
each): the count of a child that only imports is subtracted. On a virtual machine, where
CPU time of the same run varies by a third, this is the figure that can tell a change of a
few percent; it counts work, not cache misses or waits on disk.
FILES_DIR is written by ``make_files.py`` (``many_objects.nwb`` and ``big_dataset.nwb``).

Operations (time inside the child, imports excluded):

* read: ``h5model.open`` of many_objects.nwb and every model built;
* validate: ``h5model.validate`` of many_objects.nwb;
* write: ``h5model.write`` of the models of many_objects.nwb into a new file;
* truncate: ``h5model.truncate(..., n=5)`` of many_objects.nwb;
* open big: ``h5model.open`` of big_dataset.nwb and its data's shape (no data read).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import os, sys, time, tempfile
t0 = time.perf_counter()
import h5model
op, path, scratch = sys.argv[1], sys.argv[2], sys.argv[3]
t1 = time.perf_counter()
c1 = time.process_time()
if op == "read":
    with h5model.open(path) as f:
        count = sum(1 for _ in f.models())
elif op == "validate":
    h5model.validate(path)
elif op == "write":
    with h5model.open(path) as f:
        h5model.write(f.root, os.path.join(scratch, "written.nwb"), overwrite=True)
elif op == "truncate":
    h5model.truncate(path, os.path.join(scratch, "cut.nwb"), n=5, overwrite=True)
elif op == "open big":
    with h5model.open(path) as f:
        f.get("/acquisition/big_timeseries/data").value.shape
elif op != "import":
    raise SystemExit(f"unknown operation {op}")
print(time.perf_counter() - t1, time.process_time() - c1)
"""

OPERATIONS = {
    "read": "many_objects.nwb",
    "validate": "many_objects.nwb",
    "write": "many_objects.nwb",
    "truncate": "many_objects.nwb",
    "open big": "big_dataset.nwb",
}


def run(python: str, op: str, path: Path, scratch: Path, cache: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one operation in a fresh interpreter."""
    env = {"H5MODEL_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([python, "-c", CHILD, op, str(path), str(scratch)],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{python} {op}: {done.stderr.strip().splitlines()[-1:]}")
    wall, cpu = done.stdout.split()[-2:]
    return float(wall), float(cpu)


def instructions(python: str, op: str, path: Path, scratch: Path, cache: Path) -> int:
    """Instructions one fresh interpreter executes for ``op``, imports included."""
    env = {"H5MODEL_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         python, "-c", CHILD, op, str(path), str(scratch)],
        capture_output=True, text=True, env=env, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} {op}: {done.stderr.strip().splitlines()[-1:]}")
    match = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if match is None:
        raise RuntimeError(f"valgrind printed no instruction count for {op}")
    return int(match.group(1).replace(",", ""))


def count_instructions(args: argparse.Namespace, pythons: dict[str, str]) -> int:
    """Print current / base instruction counts of every operation, imports subtracted."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        counts: dict[str, dict[str, int]] = {}
        if args.base_counts:  # counts are deterministic: an earlier run's base stands
            counts["base"] = json.loads(args.base_counts.read_text())["base"]
        for version, python in pythons.items():
            if version in counts:
                continue
            cache = scratch / f"cache-{version}"
            for op, name in OPERATIONS.items():  # fill the model cache first
                run(python, op, args.files_dir / name, scratch, cache)
            imports = instructions(python, "import", args.files_dir / "many_objects.nwb",
                                   scratch, cache)
            counts[version] = {
                op: instructions(python, op, args.files_dir / name, scratch, cache) - imports
                for op, name in OPERATIONS.items()
            }
    print("| operation | base instructions | current instructions | ratio |")
    print("|---|---:|---:|---:|")
    for op in OPERATIONS:
        base, current = counts["base"][op], counts["current"][op]
        print(f"| {op} | {base:,} | {current:,} | {current / base:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(counts, indent=2) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files_dir", type=Path)
    parser.add_argument("--base-python", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions under valgrind instead of timing")
    parser.add_argument("--base-counts", type=Path, default=None,
                        help="with --instructions: the base counts of an earlier --json")
    parser.add_argument("--only", action="append", choices=sorted(OPERATIONS), default=None,
                        help="measure only this operation (repeatable)")
    args = parser.parse_args()
    if args.only:
        for op in set(OPERATIONS) - set(args.only):
            del OPERATIONS[op]
    pythons = {"base": args.base_python, "current": sys.executable}
    if args.instructions:
        return count_instructions(args, pythons)
    times: dict[str, dict[str, list[tuple[float, float]]]] = {
        op: {v: [] for v in pythons} for op in OPERATIONS
    }
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        caches = {v: scratch / f"cache-{v}" for v in pythons}
        for op, name in OPERATIONS.items():  # warm-up: page cache and model caches
            for version, python in pythons.items():
                run(python, op, args.files_dir / name, scratch, caches[version])
        for _ in range(args.rounds):
            for op, name in OPERATIONS.items():
                for version, python in pythons.items():
                    times[op][version].append(
                        run(python, op, args.files_dir / name, scratch, caches[version])
                    )
    print("| operation | base wall s | current wall s | wall ratio | base CPU s | current CPU s "
          "| CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    result = {}
    for op in OPERATIONS:
        wall = {v: statistics.median(r[0] for r in times[op][v]) for v in pythons}
        cpu = {v: statistics.median(r[1] for r in times[op][v]) for v in pythons}
        result[op] = {"wall": wall, "cpu": cpu, "wall_ratio": wall["current"] / wall["base"],
                      "cpu_ratio": cpu["current"] / cpu["base"], "runs": times[op]}
        print(f"| {op} | {wall['base']:.3f} | {wall['current']:.3f} | "
              f"{wall['current'] / wall['base']:.3f} | {cpu['base']:.3f} | {cpu['current']:.3f} | "
              f"{cpu['current'] / cpu['base']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
