"""Read benchmarks of h5model against pynwb and h5py.

Usage::

    python benchmarks/bench_read.py FILES_DIR [--repeat 3] [--json OUT]

``FILES_DIR`` must contain the files written by ``benchmarks/make_files.py``.
Every measurement runs in a fresh Python process (``benchmarks/_cases.py``),
which times its imports and its work separately and reports its peak RSS.  The
median over ``--repeat`` runs is reported, after ``--warmup`` untimed runs of
each case (these also fill the h5model model cache, which lives in a temporary
directory passed to the children through ``H5MODEL_CACHE_DIR``).

When h5model cannot be imported its cases are reported as unavailable; when a
case fails, its error is reported and the other cases still run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNNER = HERE / "_cases.py"
RESULT_MARKER = "@@h5model-bench-result@@"  # must match _cases.RESULT_MARKER

MANY_OBJECTS = "many_objects.nwb"
BIG_DATASET = "big_dataset.nwb"
DEFAULT_BIG_DATASET_PATH = "/acquisition/big_timeseries/data"
CACHE_ENV = "H5MODEL_CACHE_DIR"

TARGET_PYNWB_RATIO = 4.0
TARGET_H5PY_RATIO = 1.0
TARGET_RSS_RATIO = 1.2


@dataclass(frozen=True)
class Case:
    key: str  # unique key in the report
    runner_case: str  # case name in _cases.py
    file: str  # MANY_OBJECTS, BIG_DATASET or "" (no file)
    description: str
    h5model: bool = False
    cold_cache: bool = False  # fresh, empty model cache for every run


CASES: list[Case] = [
    Case("baseline", "baseline", "", "bare interpreter, nothing imported"),
    Case("import h5py", "import-h5py", "", "`import h5py`"),
    Case("import pynwb", "import-pynwb", "", "`import pynwb`"),
    Case("import h5model", "import-h5model", "", "`import h5model`", h5model=True),
    Case(
        "(a) pynwb",
        "pynwb-read",
        MANY_OBJECTS,
        "`NWBHDF5IO(path, 'r').read()`",
    ),
    Case(
        "(b) h5py",
        "h5py-visit",
        MANY_OBJECTS,
        "`visititems` + every attribute value",
    ),
    Case(
        "(c) h5model",
        "h5model-models",
        MANY_OBJECTS,
        "`h5model.open` + iterate `f.models()`, warm model cache",
        h5model=True,
    ),
    Case(
        "(c') h5model cold",
        "h5model-models",
        MANY_OBJECTS,
        "as (c) with an empty model cache",
        h5model=True,
        cold_cache=True,
    ),
    Case("(d) h5py big", "h5py-big", BIG_DATASET, "open + big dataset `.shape`"),
    Case(
        "(e) h5model big",
        "h5model-big",
        BIG_DATASET,
        "`h5model.open` + `f.get(<big dataset>)`",
        h5model=True,
    ),
]


@dataclass
class CaseResult:
    case: Case
    status: str = "ok"  # ok | unavailable | error | skipped
    reason: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if isinstance(r.get(key), int | float)]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        keys = ["import_s", "run_s", "maxrss_import_kib", "maxrss_kib", "open_s", "iterate_s"]
        medians = {k: self.median(k) for k in keys}
        return {
            "key": self.case.key,
            "runner_case": self.case.runner_case,
            "file": self.case.file or None,
            "description": self.case.description,
            "status": self.status,
            "reason": self.reason or None,
            "median": {k: v for k, v in medians.items() if v is not None},
            "runs": self.runs,
        }


class CaseFailed(Exception):
    pass


# ------------------------------------------------------------------ child processes


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_child(
    runner_case: str,
    path: str,
    dataset: str | None,
    env: dict[str, str],
    timeout: float,
) -> dict[str, Any]:
    cmd = [sys.executable, str(RUNNER), runner_case, path]
    if dataset:
        cmd.append(dataset)
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CaseFailed(f"timed out after {timeout:g} s") from exc
    if proc.returncode != 0:
        detail = _last_line(proc.stderr) or _last_line(proc.stdout)
        raise CaseFailed(f"exit code {proc.returncode}: {detail}")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARKER) :])
            return result
    raise CaseFailed("the child printed no result")


def child_env(extra_pythonpath: str | None = None, cache_dir: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if extra_pythonpath:
        parts = [extra_pythonpath]
        if env.get("PYTHONPATH"):
            parts.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(parts)
    if cache_dir is not None:
        env[CACHE_ENV] = cache_dir
    return env


_PROBE = (
    "import compileall, json, os, h5model; "
    "folders = [os.path.dirname(h5model.__file__)]; "
    "import h5model._generated as g; folders.append(os.path.dirname(g.__file__)); "
    "[compileall.compile_dir(f, quiet=2) for f in folders]; "
    "print(json.dumps({'file': getattr(h5model, '__file__', None), "
    "'version': getattr(h5model, '__version__', None), "
    "'open': callable(getattr(h5model, 'open', None))}))"
)
"""Also compiles h5model's modules and the committed models to bytecode, as installing a
wheel does: modules imported while a file is opened (the generated models) would
otherwise be compiled from source in every measured run where bytecode is not written
(``PYTHONDONTWRITEBYTECODE``, read-only checkouts)."""


def probe_h5model(scratch_cache: str) -> tuple[str | None, dict[str, Any] | str]:
    """Find how children can import h5model.

    Returns ``(extra_pythonpath, info)`` when it imports, with ``extra_pythonpath``
    set when the repository's ``src`` directory had to be added; otherwise
    ``(None, reason)``.
    """
    candidates: list[str | None] = [None]
    if (REPO / "src" / "h5model" / "__init__.py").is_file():
        candidates.append(str(REPO / "src"))
    reason = "not importable"
    for extra in candidates:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE],
            env=child_env(extra, scratch_cache),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0:
            info: dict[str, Any] = json.loads(_last_line(proc.stdout))
            if not info.get("open"):
                return None, "h5model imports but has no open()"
            info["source"] = "repository src/" if extra else "sys.path"
            return extra, info
        reason = _last_line(proc.stderr) or reason
    return None, reason


# ---------------------------------------------------------------------- benchmark


def run_case(
    case: Case,
    files_dir: Path,
    big_dataset: str,
    env: dict[str, str],
    repeat: int,
    warmup: int,
    timeout: float,
) -> CaseResult:
    result = CaseResult(case)
    path = str(files_dir / case.file) if case.file else ""
    dataset = big_dataset if case.file == BIG_DATASET else None
    for i in range(warmup + repeat):
        run_env = env
        cold_dir = None
        if case.cold_cache:
            cold_dir = tempfile.mkdtemp(prefix="h5model-bench-cold-")
            run_env = {**env, CACHE_ENV: cold_dir}
        try:
            measured = run_child(case.runner_case, path, dataset, run_env, timeout)
        except CaseFailed as exc:
            result.status = "error"
            result.reason = str(exc)
            return result
        finally:
            if cold_dir is not None:
                shutil.rmtree(cold_dir, ignore_errors=True)
        if i >= warmup:
            result.runs.append(measured)
    return result


def _mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def _sec(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def compute_ratios(results: dict[str, CaseResult]) -> list[dict[str, Any]]:
    def med(key: str, field_name: str) -> float | None:
        res = results.get(key)
        return res.median(field_name) if res and res.status == "ok" else None

    def total(key: str) -> float | None:
        imp, run = med(key, "import_s"), med(key, "run_s")
        return None if imp is None or run is None else imp + run

    def rss_above_imports(key: str) -> float | None:
        peak, imp = med(key, "maxrss_kib"), med(key, "maxrss_import_kib")
        return None if peak is None or imp is None else peak - imp

    rows: list[dict[str, Any]] = [
        {
            "name": "pynwb / h5model read time (a/c)",
            "value": _ratio(med("(a) pynwb", "run_s"), med("(c) h5model", "run_s")),
            "target": f">= {TARGET_PYNWB_RATIO:g}",
            "ok_if": ("ge", TARGET_PYNWB_RATIO),
        },
        {
            "name": "h5py / h5model read time (b/c)",
            "value": _ratio(med("(b) h5py", "run_s"), med("(c) h5model", "run_s")),
            "target": f">= {TARGET_H5PY_RATIO:g}",
            "ok_if": ("ge", TARGET_H5PY_RATIO),
        },
        {
            "name": "h5model / h5py peak RSS, big file (e/d)",
            "value": _ratio(
                med("(e) h5model big", "maxrss_kib"), med("(d) h5py big", "maxrss_kib")
            ),
            "target": f"<= {TARGET_RSS_RATIO:g}",
            "ok_if": ("le", TARGET_RSS_RATIO),
        },
        {
            "name": "pynwb / h5model incl. imports (a/c)",
            "value": _ratio(total("(a) pynwb"), total("(c) h5model")),
            "target": "info",
        },
        {
            "name": "h5py / h5model incl. imports (b/c)",
            "value": _ratio(total("(b) h5py"), total("(c) h5model")),
            "target": "info",
        },
        {
            "name": "h5model cold / warm cache read time (c'/c)",
            "value": _ratio(med("(c') h5model cold", "run_s"), med("(c) h5model", "run_s")),
            "target": "info",
        },
        {
            "name": "big file RSS above imports, MiB (d)",
            "value": _mib_value(rss_above_imports("(d) h5py big")),
            "target": "info",
        },
        {
            "name": "big file RSS above imports, MiB (e)",
            "value": _mib_value(rss_above_imports("(e) h5model big")),
            "target": "info",
        },
    ]
    for row in rows:
        check = row.pop("ok_if", None)
        value = row["value"]
        if check is None:
            row["status"] = "info" if value is not None else "n/a"
        elif value is None:
            row["status"] = "n/a"
        else:
            op, bound = check
            ok = value >= bound if op == "ge" else value <= bound
            row["status"] = "PASS" if ok else "FAIL"
    return rows


def _mib_value(kib: float | None) -> float | None:
    return None if kib is None else kib / 1024


def format_report(results: list[CaseResult], ratios: list[dict[str, Any]]) -> str:
    lines = [
        "| case | file | measures | import s | median run s | peak RSS MiB | notes |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for res in results:
        case = res.case
        if res.status == "ok":
            notes = []
            open_s = res.median("open_s")
            if open_s is not None:
                notes.append(f"open {open_s:.3f} s")
            last = res.runs[-1] if res.runs else {}
            for key in ("n_objects", "n_attributes", "n_models", "shape"):
                if key in last:
                    notes.append(f"{key}={last[key]}")
            cells = [
                _sec(res.median("import_s")),
                _sec(res.median("run_s")) if case.file else "-",
                _mib(res.median("maxrss_kib")),
                ", ".join(notes),
            ]
        else:
            cells = ["-", "-", "-", f"{res.status}: {res.reason}".replace("|", "\\|")]
        lines.append(
            f"| {case.key} | {case.file or '-'} | {case.description} | " + " | ".join(cells) + " |"
        )
    lines += ["", "| ratio | value | target | status |", "|---|---:|---|---|"]
    for row in ratios:
        value = "-" if row["value"] is None else f"{row['value']:.2f}"
        lines.append(f"| {row['name']} | {value} | {row['target']} | {row['status']} |")
    return "\n".join(lines)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files_dir", type=Path, help="directory written by make_files.py")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (default 3)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs per case before timing (default 1)"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    parser.add_argument(
        "--big-dataset",
        default=DEFAULT_BIG_DATASET_PATH,
        help=f"HDF5 path of the big dataset (default {DEFAULT_BIG_DATASET_PATH})",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds allowed per child (default 900)"
    )
    parser.add_argument(
        "--cases",
        help="comma-separated substrings; run only the cases whose name contains one of them",
    )
    args = parser.parse_args(argv)

    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    files_dir: Path = args.files_dir.resolve()
    missing = [name for name in (MANY_OBJECTS, BIG_DATASET) if not (files_dir / name).is_file()]
    if missing:
        parser.error(
            f"missing {', '.join(missing)} in {files_dir}; "
            f"write them with: python benchmarks/make_files.py {args.files_dir}"
        )

    selected = CASES
    if args.cases:
        wanted = [w.strip() for w in args.cases.split(",") if w.strip()]
        selected = [c for c in CASES if any(w in c.key for w in wanted)]
        if not selected:
            parser.error(f"no case matches {args.cases!r}")

    cache_dir = tempfile.mkdtemp(prefix="h5model-bench-cache-")
    try:
        extra_path, probe = probe_h5model(cache_dir)
        h5model_ok = isinstance(probe, dict)
        if isinstance(probe, dict):
            print(f"h5model: {probe.get('file')} ({probe.get('source')})", file=sys.stderr)
        else:
            print(f"h5model: unavailable ({probe})", file=sys.stderr)
        # Only the scratch import above has touched the cache; start from empty.
        shutil.rmtree(cache_dir, ignore_errors=True)
        os.mkdir(cache_dir)
        env = child_env(extra_path, cache_dir)

        results: list[CaseResult] = []
        for case in selected:
            if case.h5model and not h5model_ok:
                res = CaseResult(case, status="unavailable", reason=str(probe))
            else:
                print(
                    f"running {case.key} ({args.warmup} warm-up + {args.repeat} timed)...",
                    file=sys.stderr,
                    flush=True,
                )
                res = run_case(
                    case,
                    files_dir,
                    args.big_dataset,
                    env,
                    args.repeat,
                    args.warmup,
                    args.timeout,
                )
            if res.status == "error":
                print(f"  {case.key}: {res.reason}", file=sys.stderr)
            results.append(res)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    ratios = compute_ratios({r.case.key: r for r in results})
    print(format_report(results, ratios))

    if args.json:
        payload = {
            "meta": {
                "python": sys.version.split()[0],
                "implementation": platform.python_implementation(),
                "platform": platform.platform(),
                "machine": platform.machine(),
                "cpu_count": os.cpu_count(),
                "versions": {
                    **{name: _version(name) for name in ("pynwb", "hdmf", "h5py", "numpy")},
                    "h5model": _version("h5model")
                    or (probe.get("version") if isinstance(probe, dict) else None),
                },
                "h5model": probe if h5model_ok else {"unavailable": probe},
                "repeat": args.repeat,
                "warmup": args.warmup,
                "big_dataset": args.big_dataset,
                "files": {
                    name: (files_dir / name).stat().st_size for name in (MANY_OBJECTS, BIG_DATASET)
                },
                "peak_rss_unit": "KiB (ru_maxrss)",
            },
            "cases": [r.to_json() for r in results],
            "ratios": ratios,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
