"""Many files at once: discovery, the three runners, isolation of crashes and hangs,
reports in path order, Ctrl-C, and inventory rows checked against pynwb.

The folder of 40 files is written once per session from the pynwb test corpus; three
are damaged (``corruptions.py``), and one of those makes the process that reads it
crash. The crash is simulated from outside the library: the test puts a
``sitecustomize`` module on ``PYTHONPATH``, which every child Python loads at start, and
it makes opening that one file segfault (or sleep, for the hang). h5model's code path
is the real one.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from corruptions import CASES
from pynwb import NWBHDF5IO

import h5model
from h5model.batch import discover
from h5model.batch.progress import FileProgress
from h5model.validation import Report

FILES = 40
CRASH = "zz_crashes_its_worker.nwb"
DAMAGED = {"d_attribute_missing.nwb": "attribute_missing", "d_truncated.nwb": "file_truncated",
           CRASH: "dataset_missing"}

_SITE = '''
import os, signal, time
import h5py
_init = h5py.File.__init__
def _open(self, name, *args, **kwargs):
    if isinstance(name, (str, bytes, os.PathLike)):
        base = os.path.basename(os.fsdecode(name))
        if base == {crash!r}:
            os.kill(os.getpid(), signal.SIGSEGV)
        if base == {hang!r}:
            time.sleep(3600)
    _init(self, name, *args, **kwargs)
h5py.File.__init__ = _open
'''


def _site(folder: Path, crash: str = CRASH, hang: str = "") -> dict[str, str]:
    """An environment whose Python children crash (or hang) opening the named file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITE.format(crash=crash, hang=hang))
    paths = [str(folder), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


@pytest.fixture(scope="session")
def corpus(nwb_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 files in nested folders: copies of the pynwb corpus, three damaged."""
    root = tmp_path_factory.mktemp("corpus")
    sources = sorted(nwb_files.items())
    kept = [(n, p) for n, p in sources if n != "external"]  # its target is another file
    for i in range(FILES - len(DAMAGED)):
        name, path = kept[i % len(kept)]
        folder = root / f"set{i % 3}"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(path, folder / f"{name}_{i:02d}.nwb")
    for filename, case_name in DAMAGED.items():
        case = CASES[case_name]
        target = root / "damaged" / filename
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(nwb_files[case.source], target)
        case.damage(target)
    (root / "damaged" / "notes.txt").write_text("not read: a folder gives its HDF5 files")
    return root


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "h5model", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, check=False)


def _rows(report: dict[str, object]) -> dict[str, tuple[str, list[str]]]:
    files = report["files"]
    assert isinstance(files, list)
    return {Path(f["file"]).name: (f["status"], [i["rule"] for i in f["issues"]])
            for f in files}


def test_discovery_takes_files_folders_and_patterns(corpus: Path) -> None:
    found = discover([corpus])
    assert len(found) == FILES
    assert [f.path for f in found] == sorted(f.path for f in found)
    assert all(f.path.suffix == ".nwb" for f in found)  # notes.txt is not taken
    pattern = discover([str(corpus / "set*" / "minimal_*.nwb")])
    assert len(pattern) == 3 and all(f.path.name.startswith("minimal_") for f in pattern)
    assert pattern[0].relative.parts[0].startswith("set")  # below the fixed part
    deep = discover([str(corpus / "**" / "d_*.nwb")])
    assert {f.path.name for f in deep} == {"d_attribute_missing.nwb", "d_truncated.nwb"}
    one = corpus / "damaged" / "notes.txt"
    repeated = discover([one, one, corpus / "missing.nwb", str(corpus / "none*.nwb")])
    assert [f.path for f in repeated] == [one, corpus / "missing.nwb", corpus / "none*.nwb"]
    # the order of the arguments, each folder's files sorted; an empty folder is kept
    empty = corpus / "empty"
    empty.mkdir(exist_ok=True)
    both = discover([corpus / "set1", corpus / "damaged", empty])
    assert both[0].path.parent.name == "set1" and both[-1].path == empty
    assert [f.path for f in both[:-1]] == [f.path for f in discover([corpus / "set1"])] + [
        f.path for f in discover([corpus / "damaged"])]


def test_serial_local_workers_and_dask_give_one_report(corpus: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("distributed")
    env = _site(tmp_path / "site")
    reports = {}
    for name, extra in (("serial", ["--jobs", "1"]), ("jobs2", ["--jobs", "2"])):
        out = tmp_path / f"{name}.json"
        done = _cli("validate", str(corpus), "--format", "json", "-o", str(out), *extra,
                    env=env)
        assert done.returncode == 2, done.stderr
        reports[name] = json.loads(out.read_text())
    # the Dask workers are children of this process: they take the environment from here
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        out = tmp_path / "dask.json"
        done = _cli("validate", str(corpus), "--format", "json", "-o", str(out),
                    "--scheduler", cluster.scheduler_address, env=env)
        assert done.returncode == 2, done.stderr
        reports["dask"] = json.loads(out.read_text())
    assert reports["serial"] == reports["jobs2"] == reports["dask"]
    report = reports["serial"]
    assert [f["file"] for f in report["files"]] == sorted(str(f.path) for f in discover([corpus]))
    rows = _rows(report)
    assert rows[CRASH] == ("unreadable", ["file.crashed"])
    crashed = next(f for f in report["files"] if f["file"].endswith(CRASH))
    assert "SIGSEGV" in crashed["issues"][0]["message"]
    assert rows["d_attribute_missing.nwb"] == ("invalid", ["attribute.missing"])
    assert rows["d_truncated.nwb"] == ("unreadable", ["file.unreadable"])
    assert report["summary"]["files"] == FILES and report["exit_code"] == 2
    assert sum(1 for status, _ in rows.values() if status == "valid") == FILES - 3
    # the same files read here, one by one, give the same rows for all but the crash
    here = h5model.validate_many(corpus).to_json()
    assert {k: v for k, v in _rows(here).items() if k != CRASH} == {
        k: v for k, v in rows.items() if k != CRASH}
    assert _rows(here)[CRASH] == ("invalid", ["dataset.missing"])


def test_exit_code_is_the_worst_file(corpus: Path) -> None:
    valid = str(corpus / "set0" / "*_0[0-9].nwb")
    invalid = str(corpus / "damaged" / "d_attribute_missing.nwb")
    unreadable = str(corpus / "damaged" / "d_truncated.nwb")
    assert _cli("validate", valid, "--jobs", "2").returncode == 0
    assert _cli("validate", valid, invalid, "--jobs", "2").returncode == 1
    assert _cli("validate", unreadable, valid, invalid, "--jobs", "2").returncode == 2


def test_a_file_that_hangs_is_stopped_at_the_timeout(corpus: Path, tmp_path: Path) -> None:
    files = sorted((corpus / "set1").glob("*_0*.nwb"))
    hang = files[1]
    env = _site(tmp_path / "site", hang=hang.name)
    done = _cli("validate", *map(str, files), "--jobs", "2", "--timeout", "15", env=env)
    assert done.returncode == 2, done.stderr
    assert f"{hang}: unreadable" in done.stdout
    assert "file.timeout" in done.stdout and "longer than 15 s; stopped" in done.stdout
    others = [f for f in files if f != hang]
    assert all(f"{f}: valid" in done.stdout for f in others)


def test_ctrl_c_writes_the_report_of_the_files_done(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    shutil.copytree(corpus / "set0", folder)
    last = folder / "zzz_hangs.nwb"  # sorted last, never finishes: the run is mid-way
    shutil.copyfile(sorted(folder.glob("*.nwb"))[0], last)
    env = _site(tmp_path / "site", hang=last.name)
    out = tmp_path / "report.json"
    child = subprocess.Popen(
        [sys.executable, "-m", "h5model", "validate", str(folder), "--jobs", "2",
         "--format", "json", "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert child.stdout is not None
    streamed = []
    while len(streamed) < 3:  # text rows stream to stdout as files finish
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else ""
        if not line.startswith(" "):
            streamed.append(line.split(":")[0])
    child.send_signal(signal.SIGINT)
    rest, errors = child.communicate(timeout=60)
    assert child.returncode == 130, errors
    report = json.loads(out.read_text())
    assert report["interrupted"] is True
    names = [f["file"] for f in report["files"]]
    assert names == sorted(names) and set(streamed) <= set(names)
    assert str(last) not in names and len(names) < len(list(folder.glob("*.nwb")))
    assert all(f["status"] == "valid" for f in report["files"])
    assert "interrupted:" in rest


def test_inventory_rows_agree_with_pynwb(corpus: Path, nwb_files: dict[str, Path],
                                         tmp_path: Path) -> None:
    inventory = h5model.inventory([corpus / "set0", corpus / "damaged"], jobs=2)
    rows = {Path(r.path).name: r for r in inventory.rows}
    expected_order = discover([corpus / "set0", corpus / "damaged"])
    assert [r.path for r in inventory.rows] == [str(f.path) for f in expected_order]
    for name, row in rows.items():
        if name in DAMAGED:
            continue
        path = Path(row.path)
        assert row.size == path.stat().st_size and row.status == "valid"
        if "hdmf_table" in name:
            continue
        with NWBHDF5IO(str(path), "r") as io:
            nwbfile = io.read()
            types = io.manager.type_map  # the namespace and type pynwb writes for each
            expected = collections.Counter(
                ".".join(types.get_container_ns_dt(o)) for o in nwbfile.objects.values())
        assert row.namespaces == NWBHDF5IO.get_namespaces(str(path))
        assert row.types == dict(expected)
        assert row.objects == _objects(path)
    cut = rows["d_truncated.nwb"]
    assert cut.status == "unreadable" and cut.objects is None
    assert rows["d_attribute_missing.nwb"].status == "invalid"
    assert rows[CRASH].errors == 1 and inventory.exit_code() == 2
    # the formats say the same
    done = _cli("inventory", str(corpus / "set0"), str(corpus / "damaged"), "--format", "csv",
                "--jobs", "2")
    assert done.returncode == 2
    assert done.stdout == inventory.to_csv()
    parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "inventory.parquet"
    done = _cli("inventory", str(corpus / "set0"), str(corpus / "damaged"), "--format",
                "parquet", "-o", str(out))
    assert done.returncode == 2, done.stderr
    table = parquet.read_table(out).to_pylist()
    assert [r["path"] for r in table] == [r.path for r in inventory.rows]
    assert [dict(r["types"]) for r in table] == [r.types for r in inventory.rows]
    as_json = json.loads(_cli("inventory", str(corpus / "damaged"), "--format", "json").stdout)
    assert as_json["summary"] == {"files": 3, "valid": 0, "invalid": 2, "unreadable": 1}


def _objects(path: Path) -> int:
    """Every group and dataset once (hard links counted once), the root too."""
    with h5py.File(path, "r") as f:
        addresses = {h5py.h5o.get_info(f.id).addr}
        f.visititems(lambda _, obj: addresses.add(h5py.h5o.get_info(obj.id).addr))
    return len(addresses)


def test_truncate_many_copies_into_a_folder(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "small"
    done = _cli("truncate", str(corpus / "set2"), str(corpus / "damaged" / "d_truncated.nwb"),
                str(out), "-n", "2", "--jobs", "2")
    assert done.returncode == 1, done.stderr  # the truncated file cannot be read
    copies = sorted(p.relative_to(out) for p in out.rglob("*.nwb"))
    assert copies == sorted(p.relative_to(corpus / "set2") for p in (corpus / "set2").glob("*.nwb"))
    assert "d_truncated.nwb" in done.stdout
    assert h5model.validate_many(out, jobs=2).exit_code() == 0


def test_scheduler_needs_distributed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['distributed'] = None\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = _cli("validate", "examples/ecephys.nwb", "--scheduler", "tcp://127.0.0.1:1",
                env=env, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2
    assert "pip install 'h5model[distributed]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_progress_bar_outside_a_terminal(corpus: Path) -> None:
    done = _cli("validate", str(corpus / "set0"), "--jobs", "2")
    assert done.returncode == 0 and done.stderr == ""
    assert FileProgress(10, "validate").bar is None  # pytest captures both streams
    assert FileProgress(10, "validate", show=True).bar is not None


def test_python_api_returns_typed_rows(corpus: Path) -> None:
    report = h5model.validate_many(str(corpus / "damaged" / "*.nwb"), jobs=1, timeout=60)
    assert isinstance(report, Report) and report.exit_code() == 2
    inventory = h5model.inventory(corpus / "damaged" / "d_attribute_missing.nwb")
    row = inventory.rows[0]
    with pytest.raises(AttributeError):
        row.status = "valid"  # type: ignore[misc]
    assert row.problem is not None and row.problem.startswith("attribute.missing")
    with pytest.raises(h5model.H5ModelError, match="either jobs"):
        h5model.validate_many(corpus, jobs=2, scheduler="tcp://127.0.0.1:1")


def test_ctrl_c_landing_in_a_finalizer_still_stops_the_run(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python loses a KeyboardInterrupt raised inside a finalizer; the runner takes Ctrl-C
    as a flag instead, so the run stops rather than waiting out a hanging file's limit."""
    from h5model.batch.isolate import Limits
    from h5model.batch.runners import Job, run_processes

    files = sorted((corpus / "set0").glob("*.nwb"))[:2]
    env = _site(tmp_path / "site", hang=files[1].name)
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    options = {"spec": None, "strict": False, "layout": None, "index": False}
    jobs = [Job(i, "validate", str(path), options) for i, path in enumerate(files)]

    class Interrupts:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs here, inside the finalizer
                pass

    started = time.monotonic()
    answers = run_processes(jobs, 2, Limits(seconds=120))
    with pytest.raises(KeyboardInterrupt):
        for _index, _answer in answers:
            Interrupts()  # made and finalized at once: Ctrl-C lands in its finalizer
    assert time.monotonic() - started < 60  # not the hanging file's 120 s
