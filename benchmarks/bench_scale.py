"""Cost as files grow: h5model against pynwb and raw h5py on a small and a large file.

    python benchmarks/make_files.py /tmp/h5model-small
    python benchmarks/make_files.py /tmp/h5model-large --timeseries 20000 --units 50000
    python benchmarks/bench_scale.py /tmp/h5model-small/many_objects.nwb \\
        /tmp/h5model-large/many_objects.nwb [--repeat 1] [--json out.json]

Every case runs in a fresh process (``_cases.py``); times exclude the imports, memory is
the peak resident set above the peak right after the imports; with ``--repeat`` the cases
of a file run in turns and the medians are reported. Per file:

- ``touch``: open + root + one TimeSeries' data slice (h5model; pynwb: ``read()`` + slice);
- ``models``: open + every model (h5model) / ``read()`` (pynwb) / every object and
  attribute (h5py);
- ``validate``: ``h5model.validate`` / ``pynwb.validate``;
- ``truncate``: ``h5model.truncate(n=5)`` / every object copied by ``H5Ocopy``.

Memory per object is the slope between the two files (the extra peak of the larger file
over its extra objects), the fixed cost what remains of the small file's peak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import h5py

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_read import CaseFailed, child_env, probe_h5model, run_child

CASES = [
    ("touch", "h5model-touch"), ("touch", "pynwb-touch"),
    ("models", "h5model-models"), ("models", "pynwb-read"), ("models", "h5py-visit"),
    ("validate", "h5model-validate"), ("validate", "pynwb-validate"),
    ("truncate", "h5model-truncate"), ("truncate", "h5py-copy"),
]
TARGETS = {
    ("touch", "pynwb-touch"): 50.0,
    ("models", "pynwb-read"): 8.0,
    ("models", "h5py-visit"): 1.5,
    ("validate", "pynwb-validate"): 8.0,
}
"""(operation, peer) -> how many times faster than the peer h5model should be."""


def count_objects(path: Path) -> int:
    with h5py.File(path, "r") as h5:
        counter = [1]
        h5.visit(lambda _name: counter.__setitem__(0, counter[0] + 1))
        return counter[0]


def measure(path: Path, cases: list[str], env: dict[str, str],
            repeat: int) -> dict[str, dict[str, Any]]:
    """Median time and peak memory of each case, the repeats taken in turns (every case
    once, then again), so that a machine slowing down or speeding up meets every case."""
    runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    failed: dict[str, str] = {}
    for _ in range(repeat):
        for case in cases:
            if case in failed:
                continue
            try:
                runs[case].append(run_child(case, str(path), None, env, timeout=3600))
            except CaseFailed as exc:
                failed[case] = str(exc)
    out: dict[str, dict[str, Any]] = {}
    for case in cases:
        if case in failed:
            out[case] = {"error": failed[case]}
            continue
        out[case] = {
            "seconds": statistics.median(r["run_s"] for r in runs[case]),
            "peak_mib": statistics.median((r["maxrss_kib"] - r["maxrss_import_kib"]) / 1024
                                          for r in runs[case]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small", type=Path)
    parser.add_argument("large", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", action="append", help="operations to run (default all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="h5model-bench-") as scratch:
        extra, _ = probe_h5model(scratch)
    env = child_env(extra)
    results: dict[str, Any] = {}
    for label, path in (("small", args.small), ("large", args.large)):
        objects = count_objects(path)
        results[label] = {"path": str(path), "objects": objects, "cases": {}}
        chosen = [case for operation, case in CASES if not args.only or operation in args.only]
        for case, found in measure(path, chosen, env, args.repeat).items():
            results[label]["cases"][case] = found
            print(f"{label:5} {objects:>7} objects  {case:18} "
                  + (found["error"] if "error" in found else
                     f"{found['seconds']:8.2f} s  {found['peak_mib']:7.0f} MiB"), flush=True)
    print()
    for label in ("small", "large"):
        cases = results[label]["cases"]
        for (operation, peer), target in TARGETS.items():
            mine = cases.get(f"h5model-{operation}" if operation != "models" else
                             "h5model-models")
            theirs = cases.get(peer)
            if not mine or not theirs or "error" in mine or "error" in theirs:
                continue
            ratio = theirs["seconds"] / mine["seconds"]
            print(f"{label:5} {operation:9} {peer:15} h5model {ratio:6.1f}x faster "
                  f"(target {target:g}x) {'met' if ratio >= target else 'NOT met'}")
        mine, copy = cases.get("h5model-truncate"), cases.get("h5py-copy")
        if mine and copy and "error" not in mine and "error" not in copy:
            ratio = mine["seconds"] / copy["seconds"]
            print(f"{label:5} truncate  h5py-copy       h5model takes {ratio:5.2f}x the "
                  f"whole-file object copy (target 3x) {'met' if ratio <= 3 else 'NOT met'}")
    small, large = results["small"], results["large"]
    a, b = small["cases"].get("h5model-models"), large["cases"].get("h5model-models")
    if a and b and "error" not in a and "error" not in b:
        slope = (b["peak_mib"] - a["peak_mib"]) * 1024 / (large["objects"] - small["objects"])
        fixed = a["peak_mib"] - slope * small["objects"] / 1024
        print(f"memory, every model built: {slope:.2f} KiB per object (target 2), fixed "
              f"cost {fixed:.0f} MiB above the imports")
        pynwb = large["cases"].get("pynwb-read")
        if pynwb and "error" not in pynwb:
            print(f"peak on the large file: {b['peak_mib'] / pynwb['peak_mib']:.2f}x pynwb's "
                  "(target 0.15x)")
        results["memory"] = {"kib_per_object": slope, "fixed_mib": fixed}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
