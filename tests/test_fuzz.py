"""Damaged and hostile files: every command answers 0, 1 or 2, names the file, never shows a
traceback, ends within its limits, and a read-only command changes nothing.

The suite (seeded, reproducible; ``fuzzing.py`` builds the cases and runs them) is run
once per session; the tests below read its results. Then come the regression tests of
the defects it found.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import fuzzing
import h5py
import pytest
from hypothesis import HealthCheck, given, settings

from h5model.cli.app import main
from h5model.cli.isolate import Limits, run_isolated

SECONDS = 8.0
"""Time limit of one command (in-process; a generate of new specs takes a few seconds)."""
MEMORY_MIB = 3072
MINIMAL_SEEDS = range(0, 160)
ECEPHYS_SEEDS = range(1000, 1050)
PLANS = 16


def _plans() -> list[fuzzing.Plan]:
    """Hostile structures, drawn by hypothesis with a fixed seed."""
    plans: list[fuzzing.Plan] = []

    @settings(max_examples=PLANS, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(fuzzing.strategies())
    def collect(plan: fuzzing.Plan) -> None:
        if repr(plan) not in {repr(p) for p in plans}:
            plans.append(plan)

    collect()
    return plans


class Suite:
    def __init__(self, results: list[fuzzing.Result], before: dict[str, Any],
                 after: dict[str, Any], cases: dict[str, Path], seconds: float) -> None:
        self.results = results
        self.before = before
        self.after = after
        self.cases = cases
        self.seconds = seconds


@pytest.fixture(scope="module")
def suite(nwb_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Suite:
    folder = tmp_path_factory.mktemp("fuzz")
    cases: dict[str, Path] = {}
    cases.update(fuzzing.write_mutants(nwb_files["minimal"], folder, MINIMAL_SEEDS))
    cases.update(fuzzing.write_mutants(nwb_files["ecephys"], folder, ECEPHYS_SEEDS))
    for i, plan in enumerate(_plans()):
        path = fuzzing.build(plan, nwb_files["minimal"], folder / f"hostile-{i}.nwb")
        cases[f"hostile {plan!r}"] = path
    (folder / "special").mkdir()
    for what, path in fuzzing.special_files(folder / "special", nwb_files["minimal"]).items():
        cases[what] = path
    inputs = [*cases.values(), nwb_files["minimal"], nwb_files["ecephys"]]
    before = {str(p): fuzzing.snapshot(p) for p in inputs}
    jobs = list(fuzzing.cases_iter(cases, folder / "scratch"))
    started = time.monotonic()
    results = fuzzing.run_all(jobs, seconds=SECONDS, memory_mib=MEMORY_MIB)
    after = {str(p): fuzzing.snapshot(p) for p in inputs}
    print(fuzzing.summary(results))  # shown with -s: where the time went, what was contained
    return Suite(results, before, after, cases, time.monotonic() - started)


def test_every_command_ran_on_every_case(suite: Suite) -> None:
    ran = {(r.job.case, r.job.command) for r in suite.results}
    assert len(ran) == len(suite.results) == 6 * len(suite.cases)


def test_no_traceback_exit_codes_0_1_2_and_the_file_named(suite: Suite) -> None:
    defects = [d for r in suite.results for d in r.defects(SECONDS)]
    assert not defects, "\n\n".join(defects[:20])


def test_read_only_commands_change_no_byte_and_no_permission(suite: Suite) -> None:
    changed = {p: (suite.before[p], suite.after[p]) for p in suite.before
               if suite.before[p] != suite.after[p]}
    assert not changed


def test_set_writes_only_its_own_copy(suite: Suite) -> None:
    """``set`` ran on a copy; where it succeeded, the copy changed and the input did not."""
    done = [r for r in suite.results if r.job.command == "set" and r.exit_code == 0]
    assert done  # some damaged files still take an edit
    for result in done:
        assert result.job.file != result.job.argv[0]
        assert "edit-" in result.job.file


def test_crashes_and_hangs_are_contained(suite: Suite) -> None:
    """A command the worker died on (libhdf5 crashed, or a limit stopped it) is exit 2 under
    ``--isolate``, with the file named and the reason given."""
    for result in (r for r in suite.results if r.isolated and r.exit_code == 2):
        if result.stderr.strip():
            assert result.job.file in result.stderr
    crashed = [r for r in suite.results if r.died and "SEGV" in r.died]
    for result in crashed:
        assert "crashed the HDF5 library" in result.stderr, result.stderr


def test_the_suite_stays_lean(suite: Suite) -> None:
    # about 90 s of CPU over every command; counted in CPU time, which a loaded machine
    # does not stretch as it stretches the wall clock
    used = sum(r.cpu_seconds for r in suite.results)
    assert used < 240, f"the fuzz commands used {used:.0f} s of CPU"


# -- regression tests ------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err


def _damaged_copy(source: Path, folder: Path, change: Any) -> Path:
    path = folder / "damaged.nwb"
    path.write_bytes(source.read_bytes())
    change(path)
    return path


def test_a_damaged_spec_object_is_an_error_naming_file_and_path(
    nwb_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was a KeyError traceback in show, graph, generate, truncate and set."""

    def damage(path: Path) -> None:
        with h5py.File(path, "r") as f:
            address = h5py.h5o.get_info(f["/specifications/hdmf-common/1.10.0/table"].id).addr
        data = bytearray(path.read_bytes())
        data[address + 16 : address + 80] = bytes(64)
        path.write_bytes(bytes(data))

    path = _damaged_copy(nwb_files["minimal"], tmp_path, damage)
    for argv in (["show", str(path)], ["graph", str(path), "-o", str(tmp_path / "g.json")],
                 ["generate", str(path), "-o", str(tmp_path / "gen")],
                 ["truncate", str(path), str(tmp_path / "t.nwb")]):
        code, text = _run(capsys, *argv)
        assert code == 1, text
        assert f"{path}: /specifications/hdmf-common" in text


def test_a_spec_error_without_a_file_still_names_it(
    nwb_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown dtype in an embedded spec said only "unknown dtype 'float#2'"."""

    def damage(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            dataset = f["/specifications/core/2.11.0/nwb.base"]
            text = dataset[()].decode()
            assert '"dtype":"float32"' in text
            dataset[()] = text.replace('"dtype":"float32"', '"dtype":"float#2"', 1)

    path = _damaged_copy(nwb_files["minimal"], tmp_path, damage)
    code, text = _run(capsys, "show", str(path))
    assert code == 1
    assert text.startswith(f"h5model: error: {path}")
    assert "float#2" in text


def test_a_symlink_loop_is_refused_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was a RuntimeError traceback (pathlib's "Symlink loop") in show, graph and set."""
    loop = tmp_path / "loop.nwb"
    loop.symlink_to(loop.name)
    for argv in (["show", str(loop)], ["graph", str(loop), "-o", str(tmp_path / "g.json")],
                 ["set", str(loop), "/session_description", "x"],
                 ["generate", str(loop), "-o", str(tmp_path / "gen")],
                 ["truncate", str(loop), str(tmp_path / "t.nwb")]):
        code, text = _run(capsys, *argv)
        assert code == 1
        assert f"{loop}: a loop of symbolic links" in text
    code, text = _run(capsys, "validate", str(loop))
    assert code == 2
    assert "loop of symbolic links" in text


def test_a_soft_link_cycle_inside_the_file_is_read(
    nwb_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def damage(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            f["/acquisition/a"] = h5py.SoftLink("/acquisition/b")
            f["/acquisition/b"] = h5py.SoftLink("/acquisition/a")
            f["/acquisition/c"] = h5py.SoftLink("/acquisition/a/x/y")

    path = _damaged_copy(nwb_files["minimal"], tmp_path, damage)
    code, text = _run(capsys, "show", str(path))
    assert code == 0
    assert "a  -> /acquisition/b (soft link) (broken)" in text
    code, _ = _run(capsys, "graph", str(path), "-o", str(tmp_path / "g.json"))
    assert code == 0
    code, text = _run(capsys, "set", str(path), "/session_description", "edited")
    assert code == 0, text
    code, text = _run(capsys, "validate", str(path))
    assert code == 1
    assert "link.broken" in text


def test_a_spec_file_of_invalid_utf8_is_an_error(
    nwb_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.namespace.yaml"
    bad.write_bytes(b"namespaces:\n- name: \xff\xfe\n")
    code, text = _run(capsys, "show", str(nwb_files["minimal"]), "--spec", str(bad))
    assert code == 1
    assert f"{bad}: not UTF-8 text" in text
    code, text = _run(capsys, "validate", str(nwb_files["minimal"]), "--spec", str(bad))
    assert code == 2
    assert f"{bad}: not UTF-8 text" in text


def _cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "h5model", *argv], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize("command", ["show", "validate"])
def test_a_fifo_as_spec_or_file_is_refused_without_blocking(
    nwb_files: dict[str, Path], tmp_path: Path, command: str
) -> None:
    """Reading a FIFO with no writer blocks for ever: it is refused before it is opened."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    done = _cli(command, str(nwb_files["minimal"]), "--spec", str(fifo), timeout=60)
    assert done.returncode in (1, 2)
    assert f"{fifo}: not a regular file" in done.stderr
    done = _cli(command, str(fifo), timeout=60)
    assert done.returncode in (1, 2)
    assert str(fifo) in done.stdout + done.stderr
    assert "not a regular file" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def _crashing_child(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python child dies of SIGSEGV as it starts (as libhdf5 makes it
    die on some damaged files), to hold the isolation to its word on every machine."""
    folder = tmp_path / "crash"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n", encoding="utf-8"
    )
    source = str(Path(fuzzing.__file__).resolve().parents[1] / "src")
    return {"PYTHONPATH": os.pathsep.join([str(folder), source])}


def test_run_isolated_turns_a_crash_into_exit_2_naming_the_file(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    path = str(nwb_files["minimal"])
    outcome = run_isolated(["show", path], env=_crashing_child(tmp_path))
    assert outcome.signal == signal.SIGSEGV
    assert outcome.exit_code == 2
    assert outcome.message([path]) == (
        f"h5model: error: {path}: reading the file crashed the HDF5 library "
        "(signal 11, SIGSEGV)"
    )


def test_isolate_option_turns_a_crash_into_exit_2_naming_the_file(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in _crashing_child(tmp_path).items():
        monkeypatch.setenv(key, value)
    path = str(nwb_files["minimal"])
    code, text = _run(capsys, "--isolate", "show", path)
    assert code == 2
    assert f"h5model: error: {path}: reading the file crashed the HDF5 library" in text


def test_isolate_answers_as_the_command_does(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    done = _cli("--isolate", "show", str(nwb_files["minimal"]))
    assert done.returncode == 0
    assert done.stdout.startswith("/  NWBFile (core)")
    done = _cli("--isolate", "show", str(tmp_path / "missing.nwb"))
    assert done.returncode == 1
    assert "missing.nwb: no such file" in done.stderr


def test_a_time_limit_stops_a_hang_as_exit_2(nwb_files: dict[str, Path]) -> None:
    outcome = run_isolated(["show", str(nwb_files["minimal"])],
                           limits=Limits(seconds=0.05))
    assert outcome.timed_out
    assert outcome.exit_code == 2
    assert "took longer than 0.05 s" in (outcome.message(["f"]) or "")


def test_a_memory_limit_ends_as_exit_2_naming_the_file(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    """A text attribute of 160 MB is read whole by libhdf5 (several times its size) before
    h5model can measure it: under ``--isolate`` a memory limit below that makes the run
    end with an error naming the file (exit 2 when Python runs out, 1 when libhdf5 reports
    its allocation failed), instead of taking the machine's memory."""

    def damage(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            f.attrs["essay"] = "x" * (160 << 20)

    path = _damaged_copy(nwb_files["minimal"], tmp_path, damage)
    done = _cli("--isolate", "--memory-limit", "700", "--time-limit", "60",
                "graph", str(path), "-o", str(tmp_path / "g.json"), timeout=120)
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"h5model: error: {path}: ")
    assert "memory" in done.stderr


def test_limits_imply_isolation_and_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--time-limit", "0", "show", "x.nwb"])
    assert exc.value.code == 2
    assert "expected a number > 0" in capsys.readouterr().err


def _bytes_changed(source: Path, folder: Path, change: Any) -> Path:
    data = bytearray(source.read_bytes())
    change(data)
    path = folder / "damaged.nwb"
    path.write_bytes(bytes(data))
    return path


def test_a_mutant_that_once_crashed_libhdf5_ends_without_a_traceback(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    """Two flipped bits of the minimal file (found by the suite, seed 6) made libhdf5 crash
    in truncate while it held every object open to the end: under --isolate such a crash is
    exit 2 naming the file. Truncation now closes each object once copied and makes a
    copy that validates; whichever happens, no traceback and no hang."""

    def damage(data: bytearray) -> None:
        data[5738] ^= 0x80
        data[9652] ^= 0x04

    path = _bytes_changed(nwb_files["minimal"], tmp_path, damage)
    started = time.monotonic()
    done = _cli("--isolate", "--time-limit", "30", "truncate", str(path),
                str(tmp_path / "small.nwb"))
    assert time.monotonic() - started < 60
    assert done.returncode in (0, 1, 2)
    assert "Traceback" not in done.stderr
    if done.returncode == 0:
        assert _cli("validate", str(tmp_path / "small.nwb")).returncode == 0
        return
    assert str(path) in done.stderr
    if done.returncode == 2:
        assert "crashed the HDF5 library (signal 11, SIGSEGV)" in done.stderr


def test_a_damaged_heap_that_makes_libhdf5_loop_is_stopped(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    """512 zeroed bytes of a global heap make libhdf5 loop for ever reading spec text:
    --time-limit stops it, as exit 2 naming the file."""

    def damage(data: bytearray) -> None:
        data[59429 : 59429 + 512] = bytes(512)

    path = _bytes_changed(nwb_files["minimal"], tmp_path, damage)
    started = time.monotonic()
    done = _cli("--isolate", "--time-limit", "3", "show", str(path))
    assert time.monotonic() - started < 3 + 10
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert str(path) in done.stderr
    if done.returncode == 2:
        assert "took longer than 3 s" in done.stderr
