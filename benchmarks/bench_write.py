"""Write benchmarks: an in-place edit of a 1 GiB file, and writing a new file with a big array.

Usage::

    python benchmarks/bench_write.py FILES_DIR [--scratch DIR] [--repeat 3] [--mib 512]
        [--json OUT] [--keep]

``FILES_DIR`` holds ``big_dataset.nwb`` from ``benchmarks/make_files.py``. Every case
runs in a fresh interpreter (this script, ``--child CASE ...``), which times the work
after its imports; the median over ``--repeat`` runs is reported.

1. **Edit one attribute** of a scratch copy of ``big_dataset.nwb`` (copied once):
   h5model (``open(path, "r+")``, set ``description``, ``save()``: journaled, crash-safe)
   against raw h5py (``attrs[...] = ...`` in ``r+``). The file's inode and size are
   checked before and after every run: an edit must not copy the file.
2. **Write a new file** holding a ``--mib`` MiB float32 array (chunked like the big file,
   4 MiB chunks), once uncompressed and once with gzip level 1: ``h5model.write`` of
   the models read from a source file (the TimeSeries data is an ``H5Array``, so this is
   a round trip of the whole file) against raw h5py copying the same dataset, block by
   block, into a dataset with the same chunking and compression. Reported as MB/s of
   array data and as the h5model / h5py throughput ratio (target >= 0.8). h5py's own
   object copy (``H5Ocopy``, chunks copied without decompressing) is shown for reference.

The sources of case 2 are made once in the scratch folder from the big file's first rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_read import (  # noqa: E402 - the helpers live beside this script
    RESULT_MARKER,
    CaseFailed,
    _last_line,
    child_env,
    probe_h5model,
)

BIG_DATASET = "big_dataset.nwb"
DATA_PATH = "/acquisition/big_timeseries/data"
SERIES_PATH = "/acquisition/big_timeseries"
TARGET_WRITE_RATIO = 0.8
BLOCK_BYTES = 64 * 1024 * 1024
MB = 1e6


# ------------------------------------------------------------------------ child cases


def child_h5model_edit(path: str, value: str) -> dict[str, Any]:
    import h5model

    start = time.perf_counter()
    with h5model.open(path, "r+") as f:
        opened = time.perf_counter()
        f.get(SERIES_PATH).description = value
        f.save()
        saved = time.perf_counter()
    return {
        "run_s": time.perf_counter() - start,
        "open_s": opened - start,
        "save_s": saved - opened,
    }


def child_h5py_edit(path: str, value: str) -> dict[str, Any]:
    import h5py

    start = time.perf_counter()
    with h5py.File(path, "r+") as f:
        f[SERIES_PATH].attrs["description"] = value
    return {"run_s": time.perf_counter() - start}


def child_h5model_write(source: str, target: str) -> dict[str, Any]:
    import h5model

    start = time.perf_counter()
    with h5model.open(source) as f:
        opened = time.perf_counter()
        h5model.write(f.root, target, overwrite=True)
        written = time.perf_counter()
    return {
        "run_s": written - opened,
        "open_s": opened - start,
        "total_s": time.perf_counter() - start,
    }


def child_h5py_copy(source: str, target: str) -> dict[str, Any]:
    """The dataset copied block by block into one with the same chunks and filters."""
    import h5py
    import numpy as np

    start = time.perf_counter()
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        data = src[DATA_PATH]
        out = dst.create_dataset(
            "data",
            shape=data.shape,
            dtype=data.dtype,
            chunks=data.chunks,
            compression=data.compression,
            compression_opts=data.compression_opts,
            shuffle=data.shuffle,
        )
        rows = max(data.chunks[0], BLOCK_BYTES // (data.dtype.itemsize * data.shape[1]))
        rows -= rows % data.chunks[0]
        for first in range(0, data.shape[0], rows):
            last = min(data.shape[0], first + rows)
            out.write_direct(np.ascontiguousarray(data[first:last]), dest_sel=np.s_[first:last])
    return {"run_s": time.perf_counter() - start}


def child_h5py_ocopy(source: str, target: str) -> dict[str, Any]:
    """The dataset copied by HDF5 itself (H5Ocopy: chunks copied as stored)."""
    import h5py

    start = time.perf_counter()
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        src.copy(src[DATA_PATH], dst, "data")
    return {"run_s": time.perf_counter() - start}


CHILDREN = {
    "h5model-edit": child_h5model_edit,
    "h5py-edit": child_h5py_edit,
    "h5model-write": child_h5model_write,
    "h5py-copy": child_h5py_copy,
    "h5py-ocopy": child_h5py_ocopy,
}


def child_main(name: str, args: list[str]) -> int:
    result = CHILDREN[name](*args)
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


# ------------------------------------------------------------------------ parent side


def run_child(
    name: str, args: list[str], env: dict[str, str], timeout: float, drop: Path | None = None
) -> dict[str, Any]:
    """One case in a fresh interpreter (``drop``: a file removed first, outside the timing)."""
    import subprocess

    if drop is not None:
        drop.unlink(missing_ok=True)
    os.sync()  # no write-back of an earlier run's data competes with this one
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise CaseFailed(
            f"{name}: exit code {proc.returncode}: "
            f"{_last_line(proc.stderr) or _last_line(proc.stdout)}"
        )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise CaseFailed(f"{name}: the child printed no result")


def make_source(big: Path, target: Path, rows: int, gzip: bool) -> None:
    """A copy of the big file whose data holds its first ``rows`` rows, with the same
    chunks, uncompressed or gzip level 1 (written block by block)."""
    import h5py

    if target.exists():
        return
    partial = target.with_name(target.name + ".partial")
    with h5py.File(big, "r") as src, h5py.File(partial, "w") as dst:
        for key, value in src.attrs.items():
            if key != ".specloc":
                dst.attrs[key] = value
        for name in src:
            if name != "acquisition":
                src.copy(src[name], dst, name)
        series = dst.create_group(SERIES_PATH)
        source_series = src[SERIES_PATH]
        for key, value in source_series.attrs.items():
            series.attrs[key] = value
        for name in source_series:
            if name != "data":
                source_series.copy(source_series[name], series, name)
        data = src[DATA_PATH]
        out = series.create_dataset(
            "data",
            shape=(rows, data.shape[1]),
            dtype=data.dtype,
            chunks=data.chunks,
            compression="gzip" if gzip else None,
            compression_opts=1 if gzip else None,
        )
        for key, value in data.attrs.items():
            out.attrs[key] = value
        step = data.chunks[0] * 16
        for first in range(0, rows, step):
            out[first : first + step] = data[first : min(rows, first + step)]
        specloc = src.attrs.get(".specloc")
        if specloc is not None:
            dst.attrs[".specloc"] = dst[src[specloc].name].ref
    partial.rename(target)


def median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
    return statistics.median(values) if values else None


def bench_edit(
    big: Path, scratch: Path, env: dict[str, str], repeat: int, timeout: float
) -> dict[str, Any]:
    edited = scratch / "edit_big.nwb"
    copy_s = None
    if not edited.exists():
        started = time.perf_counter()
        shutil.copyfile(big, edited)
        copy_s = time.perf_counter() - started
    out: dict[str, Any] = {"file": str(edited), "copy_once_s": copy_s}
    names = ("h5model-edit", "h5py-edit")
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for i in range(repeat + 1):  # interleaved; the first round warms the caches
        for name in names:
            before = os.stat(edited)
            result = run_child(name, [str(edited), f"{name} run {i:03d}"], env, timeout)
            after = os.stat(edited)
            result["same_inode"] = before.st_ino == after.st_ino
            result["size_delta"] = after.st_size - before.st_size
            if i:
                rounds[name].append(result)
    for name in names:
        runs = rounds[name]
        out[name] = {
            "median_ms": 1000 * (median(runs, "run_s") or 0.0),
            "median_save_ms": None
            if median(runs, "save_s") is None
            else 1000 * (median(runs, "save_s") or 0.0),
            "same_inode": all(r["same_inode"] for r in runs),
            "max_size_delta": max(r["size_delta"] for r in runs),
            "runs": runs,
        }
    return out


def bench_write(
    big: Path, scratch: Path, env: dict[str, str], repeat: int, mib: int, timeout: float
) -> dict[str, Any]:
    import h5py

    with h5py.File(big, "r") as f:
        columns = f[DATA_PATH].shape[1]
        itemsize = f[DATA_PATH].dtype.itemsize
    rows = mib * 1024 * 1024 // (columns * itemsize)
    out: dict[str, Any] = {"mib": mib, "rows": rows}
    for label, gzip in (("uncompressed", False), ("gzip-1", True)):
        source = scratch / f"source_{mib}mib_{label}.nwb"
        make_source(big, source, rows, gzip)
        nbytes = rows * columns * itemsize
        target = scratch / f"written_{label}.nwb"
        names = ("h5model-write", "h5py-copy", "h5py-ocopy")
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for i in range(repeat + 1):  # interleaved; the first round warms the caches
            for name in names:
                result = run_child(name, [str(source), str(target)], env, timeout, drop=target)
                if i:
                    runs[name].append(result)
        cases: dict[str, Any] = {}
        for name in names:
            run_s = median(runs[name], "run_s")
            cases[name] = {
                "median_s": run_s,
                "median_open_s": median(runs[name], "open_s"),
                "mb_per_s": None if not run_s else nbytes / MB / run_s,
                "runs": runs[name],
            }
        target.unlink(missing_ok=True)
        h5m, raw = cases["h5model-write"]["mb_per_s"], cases["h5py-copy"]["mb_per_s"]
        out[label] = {
            "source": str(source),
            "source_bytes": source.stat().st_size,
            "cases": cases,
            "ratio": None if not (h5m and raw) else h5m / raw,
        }
    return out


def report(edit: dict[str, Any], write: dict[str, Any]) -> str:
    lines = [
        "## Edit one attribute of a 1 GiB file (open r+, set, save/close)",
        "",
        "| tool | median ms (open + edit + save) | of which save ms | inode unchanged | "
        "size change, bytes |",
        "|---|---:|---:|---|---:|",
    ]
    for name in ("h5model-edit", "h5py-edit"):
        case = edit[name]
        save = "-" if case["median_save_ms"] is None else f"{case['median_save_ms']:.1f}"
        lines.append(
            f"| {name} | {case['median_ms']:.1f} | {save} | {case['same_inode']} | "
            f"{case['max_size_delta']} |"
        )
    if edit.get("copy_once_s") is not None:
        lines.append(f"\n(copying the file once for scratch took {edit['copy_once_s']:.1f} s)")
    lines += [
        "",
        f"## Write a new file with a {write['mib']} MiB float32 array",
        "",
        "| storage | h5model.write MB/s | h5py block copy MB/s | ratio (target >= "
        f"{TARGET_WRITE_RATIO:g}) | h5py H5Ocopy MB/s | h5model.open s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label in ("uncompressed", "gzip-1"):
        case = write[label]["cases"]
        ratio = write[label]["ratio"]
        status = (
            "-"
            if ratio is None
            else (f"{ratio:.2f} {'PASS' if ratio >= TARGET_WRITE_RATIO else 'FAIL'}")
        )
        lines.append(
            f"| {label} | {case['h5model-write']['mb_per_s']:.0f} | "
            f"{case['h5py-copy']['mb_per_s']:.0f} | {status} | "
            f"{case['h5py-ocopy']['mb_per_s']:.0f} | "
            f"{case['h5model-write']['median_open_s']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        return child_main(args_in[1], args_in[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files_dir", type=Path, help="folder with big_dataset.nwb")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=None,
        help="folder for the copies (default FILES_DIR/write-bench)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case")
    parser.add_argument("--mib", type=int, default=512, help="array size of case 2, MiB")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write JSON results")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child")
    args = parser.parse_args(args_in)
    big = args.files_dir / BIG_DATASET
    if not big.exists():
        parser.error(f"{big} not found; write it with benchmarks/make_files.py")
    scratch = args.scratch or args.files_dir / "write-bench"
    scratch.mkdir(parents=True, exist_ok=True)
    cache = scratch / "model-cache"
    extra, info = probe_h5model(str(cache))
    if isinstance(info, str):
        print(f"h5model is not importable: {info}", file=sys.stderr)
        return 1
    env = child_env(extra, str(cache))
    env["H5MODEL_LOCK_DIR"] = str(scratch / "locks")
    try:
        edit = bench_edit(big, scratch, env, args.repeat, args.timeout)
        write = bench_write(big, scratch, env, args.repeat, args.mib, args.timeout)
    except CaseFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    print(report(edit, write))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"edit": edit, "write": write}, indent=2) + "\n")
    ok = all(
        write[label]["ratio"] and write[label]["ratio"] >= TARGET_WRITE_RATIO
        for label in ("uncompressed", "gzip-1")
    )
    ok = ok and edit["h5model-edit"]["same_inode"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
