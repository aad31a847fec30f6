"""Validation benchmarks of h5model against pynwb.

Usage::

    python benchmarks/bench_validate.py FILES_DIR [--repeat 3] [--json OUT]

``FILES_DIR`` must contain ``many_objects.nwb`` and ``big_dataset.nwb`` written
by ``benchmarks/make_files.py``.  A third file, ``big_small.nwb``, with the
structure of ``big_dataset.nwb`` but a dataset of only ``--small-gb`` GiB, is
written there with the same code when it is absent.

Both validators run on each file in a fresh Python process
(``benchmarks/_cases.py``): ``h5model.validate(path)`` and
``pynwb.validate(path=path)``.  The child times its imports and the validation
separately and reports its peak RSS; the median over ``--repeat`` runs is
reported, after ``--warmup`` untimed runs.  Then the command-line tools
(``h5model validate FILE`` and ``pynwb-validate FILE``) run ``--cli-repeat``
times per file; for them only the wall time seen by this process is reported,
since the peak RSS of a child cannot be read reliably from the parent.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_read import (  # noqa: E402
    BIG_DATASET,
    CACHE_ENV,
    DEFAULT_BIG_DATASET_PATH,
    MANY_OBJECTS,
    CaseFailed,
    _mib,
    _ratio,
    _sec,
    child_env,
    probe_h5model,
    run_child,
)

SMALL_BIG = "big_small.nwb"
DEFAULT_SMALL_GB = 0.05
FILES = (MANY_OBJECTS, BIG_DATASET, SMALL_BIG)

TARGET_TIME_RATIO = 5.0
DEFAULT_RSS_TOLERANCE_MIB = 4.0

TOOLS = ("h5model", "pynwb")
RUNNER_CASE = {"h5model": "h5model-validate", "pynwb": "pynwb-validate"}
CALL = {"h5model": "`h5model.validate(path)`", "pynwb": "`pynwb.validate(path=path)`"}
COMMAND = {"h5model": ("h5model", ["validate"]), "pynwb": ("pynwb-validate", [])}


@dataclass
class CaseResult:
    tool: str
    file: str
    status: str = "ok"  # ok | unavailable | error
    reason: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.tool} validate"

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.runs if isinstance(r.get(key), int | float)]
        return statistics.median(values) if values else None

    def outcome(self) -> str:
        """What the validator found, from the last run."""
        last = self.runs[-1] if self.runs else {}
        parts = []
        if "exit_code" in last:
            parts.append(f"exit {last['exit_code']}")
        if "n_issues" in last:
            parts.append(f"{last['n_issues']} issue(s)")
        if "n_errors" in last:
            parts.append(f"{last['n_errors']} error(s)")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        keys = ["import_s", "run_s", "maxrss_import_kib", "maxrss_kib"]
        medians = {k: self.median(k) for k in keys}
        return {
            "key": self.key,
            "runner_case": RUNNER_CASE[self.tool],
            "file": self.file,
            "status": self.status,
            "reason": self.reason or None,
            "median": {k: v for k, v in medians.items() if v is not None},
            "runs": self.runs,
        }


@dataclass
class CliResult:
    tool: str
    file: str
    command: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | unavailable | error
    reason: str = ""
    wall_s: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        name, args = COMMAND[self.tool]
        return " ".join([name, *args, "FILE"])

    def median(self) -> float | None:
        return statistics.median(self.wall_s) if self.wall_s else None

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.label,
            "argv": self.command or None,
            "file": self.file,
            "status": self.status,
            "reason": self.reason or None,
            "median_wall_s": self.median(),
            "wall_s": self.wall_s,
            "exit_codes": self.exit_codes,
        }


# ---------------------------------------------------------------------- the files


def ensure_small_file(files_dir: Path, small_gb: float, timeout: float) -> None:
    """Write ``big_small.nwb`` with make_files' big-file writer unless it exists.

    The writer runs in a child process: on Linux a child's ``ru_maxrss`` starts
    from the peak resident size of the process that spawned it, so this
    process must never grow (no pynwb import, no data buffers).
    """
    path = files_dir / SMALL_BIG
    if path.is_file():
        return
    print(f"writing {path} ({small_gb:g} GiB)...", file=sys.stderr, flush=True)
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "import make_files; "
        "print(make_files.write_big_dataset(Path(sys.argv[2]), float(sys.argv[3])))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(HERE), str(path), repr(small_gb)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0 or not path.is_file():
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise SystemExit(f"could not write {path}: {lines[-1] if lines else proc.returncode}")
    print(f"  data shape {proc.stdout.strip()}", file=sys.stderr)


def _maxrss_kib() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss


# ----------------------------------------------------------------------- running


def run_case(
    tool: str,
    path: Path,
    env: dict[str, str],
    repeat: int,
    warmup: int,
    timeout: float,
) -> CaseResult:
    result = CaseResult(tool, path.name)
    for i in range(warmup + repeat):
        try:
            measured = run_child(RUNNER_CASE[tool], str(path), None, env, timeout)
        except CaseFailed as exc:
            result.status = "error"
            result.reason = str(exc)
            return result
        if i >= warmup:
            result.runs.append(measured)
    return result


def find_command(name: str) -> list[str] | None:
    """The console script ``name``: next to this interpreter, on PATH, or its entry point."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return [str(local)]
    found = shutil.which(name)
    if found:
        return [found]
    for ep in importlib.metadata.entry_points(group="console_scripts", name=name):
        module, _, attr = ep.value.partition(":")
        call = attr.strip() or "main"
        code = f"import sys; from {module.strip()} import {call}; sys.exit({call}())"
        return [sys.executable, "-c", code]
    if name == "h5model":
        return [sys.executable, "-m", "h5model"]
    return None


def run_cli(tool: str, path: Path, env: dict[str, str], repeat: int, timeout: float) -> CliResult:
    name, args = COMMAND[tool]
    result = CliResult(tool, path.name)
    prefix = find_command(name)
    if prefix is None:
        result.status = "unavailable"
        result.reason = f"command {name!r} not found"
        return result
    result.command = [*prefix, *args, str(path)]
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                result.command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            result.status = "error"
            result.reason = f"timed out after {timeout:g} s"
            return result
        result.wall_s.append(time.perf_counter() - t0)
        result.exit_codes.append(proc.returncode)
        if proc.returncode not in (0, 1):  # 1 means "invalid" for both tools
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            result.status = "error"
            result.reason = f"exit code {proc.returncode}: {lines[-1] if lines else ''}"
            return result
    return result


# ----------------------------------------------------------------------- report


def compute_ratios(
    cases: list[CaseResult], clis: list[CliResult], rss_tolerance_mib: float
) -> list[dict[str, Any]]:
    by_key = {(c.tool, c.file): c for c in cases if c.status == "ok"}
    cli_by_key = {(c.tool, c.file): c for c in clis if c.status == "ok"}

    def med(tool: str, file: str, key: str) -> float | None:
        res = by_key.get((tool, file))
        return res.median(key) if res else None

    def total(tool: str, file: str) -> float | None:
        imp, run = med(tool, file, "import_s"), med(tool, file, "run_s")
        return None if imp is None or run is None else imp + run

    def cli(tool: str, file: str) -> float | None:
        res = cli_by_key.get((tool, file))
        return res.median() if res else None

    def rss_delta_mib(tool: str) -> float | None:
        big, small = med(tool, BIG_DATASET, "maxrss_kib"), med(tool, SMALL_BIG, "maxrss_kib")
        return None if big is None or small is None else (big - small) / 1024

    def above_imports_mib(tool: str, file: str) -> float | None:
        peak, imp = med(tool, file, "maxrss_kib"), med(tool, file, "maxrss_import_kib")
        return None if peak is None or imp is None else (peak - imp) / 1024

    rows: list[dict[str, Any]] = []
    for file in FILES:
        rows.append(
            {
                "name": f"pynwb / h5model validation time, {file}",
                "value": _ratio(med("pynwb", file, "run_s"), med("h5model", file, "run_s")),
                "target": f">= {TARGET_TIME_RATIO:g}",
                "ok_if": ("ge", TARGET_TIME_RATIO),
            }
        )
    rows.append(
        {
            "name": f"h5model peak RSS, {BIG_DATASET} - {SMALL_BIG} (MiB)",
            "value": rss_delta_mib("h5model"),
            "target": f"abs <= {rss_tolerance_mib:g}",
            "ok_if": ("abs_le", rss_tolerance_mib),
        }
    )
    rows.append(
        {
            "name": f"pynwb peak RSS, {BIG_DATASET} - {SMALL_BIG} (MiB)",
            "value": rss_delta_mib("pynwb"),
            "target": "info",
        }
    )
    for file in FILES:
        rows.append(
            {
                "name": f"pynwb / h5model incl. imports, {file}",
                "value": _ratio(total("pynwb", file), total("h5model", file)),
                "target": "info",
            }
        )
    for file in FILES:
        rows.append(
            {
                "name": f"pynwb-validate / h5model validate CLI wall time, {file}",
                "value": _ratio(cli("pynwb", file), cli("h5model", file)),
                "target": "info",
            }
        )
    for tool in TOOLS:
        for file in (BIG_DATASET, SMALL_BIG):
            rows.append(
                {
                    "name": f"{tool} peak RSS above imports, {file} (MiB)",
                    "value": above_imports_mib(tool, file),
                    "target": "info",
                }
            )
    for row in rows:
        check = row.pop("ok_if", None)
        value = row["value"]
        if check is None:
            row["status"] = "info" if value is not None else "n/a"
        elif value is None:
            row["status"] = "n/a"
        else:
            op, bound = check
            ok = value >= bound if op == "ge" else abs(value) <= bound
            row["status"] = "PASS" if ok else "FAIL"
    return rows


def format_report(
    cases: list[CaseResult], clis: list[CliResult], ratios: list[dict[str, Any]]
) -> str:
    lines = [
        "| case | file | measures | import s | median run s | peak RSS MiB "
        "| RSS above imports MiB | result |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for res in cases:
        if res.status == "ok":
            peak, imp = res.median("maxrss_kib"), res.median("maxrss_import_kib")
            cells = [
                _sec(res.median("import_s")),
                _sec(res.median("run_s")),
                _mib(peak),
                "-" if peak is None or imp is None else _mib(peak - imp),
                res.outcome(),
            ]
        else:
            cells = ["-", "-", "-", "-", f"{res.status}: {res.reason}".replace("|", "\\|")]
        lines.append(f"| {res.key} | {res.file} | {CALL[res.tool]} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "| command | file | runs | median wall s | exit code |",
        "|---|---|---:|---:|---|",
    ]
    for cli in clis:
        if cli.status == "ok":
            codes = sorted(set(cli.exit_codes))
            cells = [str(len(cli.wall_s)), _sec(cli.median()), ", ".join(map(str, codes))]
        else:
            cells = ["-", "-", f"{cli.status}: {cli.reason}".replace("|", "\\|")]
        lines.append(f"| `{cli.label}` | {cli.file} | " + " | ".join(cells) + " |")

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


def _big_shape(path: Path) -> dict[str, Any]:
    """Size, shape and chunk shape of the big dataset, for the JSON metadata."""
    info: dict[str, Any] = {"bytes": path.stat().st_size}
    try:
        import h5py

        with h5py.File(path, "r") as f:
            data = f[DEFAULT_BIG_DATASET_PATH]
            info["shape"] = list(data.shape)
            info["chunks"] = list(data.chunks) if data.chunks else None
    except Exception as exc:  # metadata only; never fail the benchmark for it
        info["error"] = str(exc)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files_dir", type=Path, help="directory written by make_files.py")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (default 3)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed runs per case before timing (default 1)"
    )
    parser.add_argument(
        "--cli-repeat",
        type=int,
        default=1,
        help="runs of each command-line tool per file (default 1; 0 skips them)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    parser.add_argument(
        "--small-gb",
        type=float,
        default=DEFAULT_SMALL_GB,
        help=f"size in GiB of {SMALL_BIG} when it has to be written (default {DEFAULT_SMALL_GB})",
    )
    parser.add_argument(
        "--rss-tolerance-mib",
        type=float,
        default=DEFAULT_RSS_TOLERANCE_MIB,
        help="allowed peak-RSS difference of h5model between the big and the small file "
        f"(default {DEFAULT_RSS_TOLERANCE_MIB:g} MiB)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds allowed per child (default 900)"
    )
    args = parser.parse_args(argv)

    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.cli_repeat < 0:
        parser.error("--cli-repeat must not be negative")
    if args.small_gb <= 0:
        parser.error("--small-gb must be positive")
    files_dir: Path = args.files_dir.resolve()
    missing = [name for name in (MANY_OBJECTS, BIG_DATASET) if not (files_dir / name).is_file()]
    if missing:
        parser.error(
            f"missing {', '.join(missing)} in {files_dir}; "
            f"write them with: python benchmarks/make_files.py {args.files_dir}"
        )
    ensure_small_file(files_dir, args.small_gb, args.timeout)

    cache_dir = tempfile.mkdtemp(prefix="h5model-bench-cache-")
    try:
        extra_path, probe = probe_h5model(cache_dir)
        h5model_ok = isinstance(probe, dict)
        if isinstance(probe, dict):
            print(f"h5model: {probe.get('file')} ({probe.get('source')})", file=sys.stderr)
        else:
            print(f"h5model: unavailable ({probe})", file=sys.stderr)
        shutil.rmtree(cache_dir, ignore_errors=True)
        os.mkdir(cache_dir)
        env = child_env(extra_path, cache_dir)

        cases: list[CaseResult] = []
        for file in FILES:
            for tool in TOOLS:
                path = files_dir / file
                if tool == "h5model" and not h5model_ok:
                    res = CaseResult(tool, file, status="unavailable", reason=str(probe))
                else:
                    print(
                        f"running {tool} validate on {file} "
                        f"({args.warmup} warm-up + {args.repeat} timed)...",
                        file=sys.stderr,
                        flush=True,
                    )
                    res = run_case(tool, path, env, args.repeat, args.warmup, args.timeout)
                if res.status == "error":
                    print(f"  {res.key} on {file}: {res.reason}", file=sys.stderr)
                cases.append(res)

        clis: list[CliResult] = []
        if args.cli_repeat:
            for file in FILES:
                for tool in TOOLS:
                    if tool == "h5model" and not h5model_ok:
                        clis.append(CliResult(tool, file, status="unavailable", reason=str(probe)))
                        continue
                    print(
                        f"running the {tool} command on {file} ({args.cli_repeat}x)...",
                        file=sys.stderr,
                        flush=True,
                    )
                    cli = run_cli(tool, files_dir / file, env, args.cli_repeat, args.timeout)
                    if cli.status == "error":
                        print(f"  {cli.label} on {file}: {cli.reason}", file=sys.stderr)
                    clis.append(cli)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    # A child's peak RSS can never be below this process's (see ensure_small_file).
    parent_kib = _maxrss_kib()
    for res in cases:
        after_imports = res.median("maxrss_import_kib")
        if after_imports is None or after_imports > parent_kib:
            continue
        print(
            f"warning: {res.key} on {res.file}: peak RSS after imports is not above this "
            f"process's own ({parent_kib / 1024:.1f} MiB); it may be inherited, not measured",
            file=sys.stderr,
        )

    ratios = compute_ratios(cases, clis, args.rss_tolerance_mib)
    print(format_report(cases, clis, ratios))

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
                "cli_repeat": args.cli_repeat,
                "rss_tolerance_mib": args.rss_tolerance_mib,
                "cache_env": CACHE_ENV,
                "files": {
                    MANY_OBJECTS: {"bytes": (files_dir / MANY_OBJECTS).stat().st_size},
                    BIG_DATASET: _big_shape(files_dir / BIG_DATASET),
                    SMALL_BIG: _big_shape(files_dir / SMALL_BIG),
                },
                "peak_rss_unit": "KiB (ru_maxrss)",
                "parent_maxrss_kib": parent_kib,
            },
            "cases": [r.to_json() for r in cases],
            "cli": [c.to_json() for c in clis],
            "ratios": ratios,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
