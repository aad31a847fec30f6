"""Many files: files per second of ``h5model validate`` against nwbinspector and pynwb.

Usage::

    python benchmarks/bench_many.py OUTDIR [--files 500] [--json OUT]

Writes the pynwb test corpus (``tests/nwbfiles.py``, plus the committed files of an
older pynwb) once, then ``--files`` copies of it, cycling through the kinds, into
``OUTDIR/many`` (nested folders of 50). Every tool then reads the whole folder, in the
same run, as a command a user would type, timed from this process (start-up included):

* ``h5model validate DIR --jobs 2`` (two local worker processes);
* ``h5model validate DIR --scheduler ADDRESS`` on a Dask ``LocalCluster`` of 2 worker
  processes, started before the clock (a running cluster is what ``--scheduler`` is for);
* ``nwbinspector DIR --n-jobs 2`` (its checks and, by default, pynwb's validation);
* ``pynwb-validate FILE...`` (pynwb's validator, serial: it has no parallel mode).

The model cache of h5model is a fresh folder, so the first file of each kind
generates its models in each worker (as on a new machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {"hdmf_table", "external"}
"""Not NWB (peers refuse it), and a file whose external link needs a second file."""


def corpus(outdir: Path, count: int) -> Path:
    """``count`` copies of the pynwb test files in nested folders (written once)."""
    folder = outdir / "many"
    if folder.is_dir() and len(list(folder.rglob("*.nwb"))) == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    sys.path.insert(0, str(ROOT / "tests"))
    from nwbfiles import BUILDERS

    sources = outdir / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    kinds = [build(sources) for name, build in sorted(BUILDERS.items()) if name not in SKIPPED]
    kinds += sorted((ROOT / "tests" / "data").glob("old_pynwb_*.nwb"))
    for i in range(count):
        source = kinds[i % len(kinds)]
        target = folder / f"batch{i // 50:02d}" / f"{source.stem}_{i:04d}.nwb"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return folder


def _script(module: str, function: str) -> list[str]:
    """A peer's console script run by this interpreter (no PATH lookup)."""
    return [sys.executable, "-c",
            f"import sys; from {module} import {function} as m; sys.exit(m())"]


def timed(name: str, command: list[str], env: dict[str, str]) -> dict[str, object]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    print(f"  {name}: {seconds:.1f} s (exit {done.returncode})", file=sys.stderr)
    return {"name": name, "seconds": seconds, "exit": done.returncode,
            "stderr": done.stderr[-500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = corpus(args.outdir, args.files)
    files = sorted(str(p) for p in folder.rglob("*.nwb"))
    cache = tempfile.mkdtemp(prefix="h5model-cache-")
    env = {**os.environ, "H5MODEL_CACHE_DIR": cache,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                       os.environ.get("PYTHONPATH")]))}
    os.environ.update(env)
    h5model = [sys.executable, "-m", "h5model", "validate", str(folder)]
    results = [timed("h5model validate --jobs 2", [*h5model, "--jobs", "2"], env)]
    shutil.rmtree(cache)
    os.makedirs(cache)
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        results.append(timed("h5model validate --scheduler (LocalCluster, 2 workers)",
                             [*h5model, "--scheduler", cluster.scheduler_address], env))
    report = Path(tempfile.mkdtemp()) / "inspector.txt"
    results.append(timed("nwbinspector --n-jobs 2",
                         [*_script("nwbinspector._nwbinspector_cli", "_nwbinspector_cli"),
                          str(folder), "--n-jobs", "2", "--report-file-path", str(report),
                          "--overwrite"], env))
    results.append(timed("pynwb-validate (serial)",
                         [*_script("pynwb.validation_cli", "validation_cli"), *files], env))
    shutil.rmtree(cache, ignore_errors=True)
    inspector = next(r for r in results if str(r["name"]).startswith("nwbinspector"))
    print(f"{len(files)} files, {os.cpu_count()} cores\n")
    print(f"| {'tool':<55} | {'seconds':>8} | {'files/s':>8} | {'vs nwbinspector':>15} |")
    print(f"|{'-' * 57}|{'-' * 10}:|{'-' * 10}:|{'-' * 17}:|")
    for result in results:
        seconds = float(result["seconds"])  # type: ignore[arg-type]
        rate = len(files) / seconds
        ratio = float(inspector["seconds"]) / seconds  # type: ignore[arg-type]
        result["files_per_second"] = rate
        print(f"| {result['name']!s:<55} | {seconds:8.1f} | {rate:8.1f} | {ratio:14.1f}x |")
    if args.json is not None:
        args.json.write_text(json.dumps({"files": len(files), "results": results}, indent=2))


if __name__ == "__main__":
    main()
