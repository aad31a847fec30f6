"""How much of truncation is the HDF5 library's own work, against its whole-file copy.

    python benchmarks/bench_copy_floor.py /tmp/h5model-bench/many_objects.nwb [--repeat 3]

Times, in one process, ``h5model.truncate(n=5)`` and HDF5's copy of every object
(``Group.copy``, i.e. ``H5Ocopy``), and within the truncation the time spent inside its
two compiled steps: reading the structure group by group (``scan_group``) and making a
group's members (``copy_members``, less the attributes holding references that it hands
back to Python). Those two are library calls made object by object: their sum over the
whole-file copy is the least a truncation made that way can take, whatever runs around
them.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py

import h5model
from h5model.hdf5 import graph
from h5model.truncation import copy as copier


def _timed(totals: dict[str, float], key: str, call: Callable[..., Any],
           counts: Callable[[], bool] = lambda: True) -> Callable[..., Any]:
    """``call``, its time added to ``totals[key]`` whenever ``counts()`` says so."""
    def wrapper(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(*args)
        finally:
            if counts():
                totals[key] += time.perf_counter() - start
    return wrapper


def _flagged(call: Callable[..., Any], inside: list[bool]) -> Callable[..., Any]:
    """``call``, with ``inside[0]`` true while it runs."""
    def wrapper(*args: Any) -> Any:
        inside[0] = True
        try:
            return call(*args)
        finally:
            inside[0] = False
    return wrapper


def measure(path: Path) -> dict[str, float]:
    if graph.GROUP_SCANNER is None or copier._members.COPIER is None:
        raise SystemExit("the compiled module (_fastattrs) is not built here")
    totals = {"structure": 0.0, "members": 0.0, "handed_back": 0.0}
    inside = [False]
    scan, members, attribute = (graph.GROUP_SCANNER, copier._members.COPIER,
                                copier.Copier._attribute)
    graph.GROUP_SCANNER = _timed(totals, "structure", scan)
    copier._members.COPIER = _timed(totals, "members", _flagged(members, inside))
    # attributes holding references, handed back to Python from inside the member step
    copier.Copier._attribute = _timed(totals, "handed_back", attribute, lambda: inside[0])
    try:
        with tempfile.TemporaryDirectory(prefix="h5model-bench-") as folder:
            start = time.perf_counter()
            h5model.truncate(path, f"{folder}/cut.nwb", n=5, progress=False)
            totals["truncate"] = time.perf_counter() - start
            start = time.perf_counter()
            with h5py.File(path, "r") as src, h5py.File(f"{folder}/copy.h5", "w") as dst:
                for name in src:
                    src.copy(src[name], dst, name=name)
                for key, value in src.attrs.items():
                    dst.attrs[key] = value
            totals["h5ocopy"] = time.perf_counter() - start
    finally:
        graph.GROUP_SCANNER, copier._members.COPIER = scan, members
        copier.Copier._attribute = attribute
    totals["library"] = totals["structure"] + totals["members"] - totals["handed_back"]
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs = [measure(args.file) for _ in range(args.repeat)]
    for key in ("truncate", "structure", "members", "handed_back", "library", "h5ocopy"):
        print(f"{key:12} {statistics.median(r[key] for r in runs):7.3f} s")
    library = statistics.median(r["library"] / r["h5ocopy"] for r in runs)
    whole = statistics.median(r["truncate"] / r["h5ocopy"] for r in runs)
    print(f"library calls alone: {library:.2f}x the whole-file copy; truncate: {whole:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
