"""Crash safety and concurrency of saves through the journal (the path a save takes for a
large file without clones; forced here with a copy limit of 0, see test_safe_save.py for
the clone/copy path).

A process saving a large edit is killed (SIGKILL) at seeded random moments spread over
the save; afterwards h5py refuses the marked file, a read-only open refuses it and
changes nothing (it names ``h5model recover``), ``h5model recover`` or a writer rolls the
interrupted save back, pynwb must read the file, and its whole content must be exactly
the old state or exactly the new one.
A second writer is refused; a reader that opens during a save waits for it and sees the
complete new state.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from helpers import reflink_works
from pynwb import NWBHDF5IO, NWBFile, TimeSeries

import h5model
from h5model.cli.app import main
from h5model.storage.journal import InterruptedSave, journal_path, marked_by_a_save

N_SERIES = 40
BIG = 4  # series with about 8 MB of data each
BIG_ROWS = 1_000_000
KILL_RUNS = 20
SEED = 20240611
ROOT = Path(__file__).resolve().parents[1]

# The edit every saver makes: many attributes, big arrays replaced (new lengths, so they
# are recreated at the end of the file), one big array overwritten in place (so the
# journal holds megabytes of old bytes), a new object. Deterministic apart from the new
# object's object_id, which the fingerprint leaves out.
SAVER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import h5model

    path, hold = sys.argv[1], float(sys.argv[2])
    with h5model.open(path, "r+") as f:
        core = f.modules["core"]
        for i in range({n}):
            series = f.get(f"/acquisition/ts{{i:02d}}")
            series.description = f"edited {{i}}"
            series.comments = "c" * (20 + i)
            series.data.conversion = 0.5 + i
            series.starting_time.rate = 100.0 + i
        for i in range(1, {big}):
            f.get(f"/acquisition/ts{{i:02d}}").data.value = np.full({rows} + 1000 * i, float(i))
        f.get("/acquisition/ts00").data.value[:] = -np.arange({rows}, dtype=np.float64)
        f.get("/acquisition").add("added", core.TimeSeries(
            data=core.TimeSeries__data(value=np.arange(5.0), unit="m"),
            starting_time=core.TimeSeries__starting_time(value=0.0, rate=1.0, unit="seconds"),
        ))
        print("saving", flush=True)
        time.sleep(hold)
        f.save()
        print("saved", flush=True)
    """
).format(n=N_SERIES, big=BIG, rows=BIG_ROWS)

POLLER = textwrap.dedent(
    """
    import json, os, sys
    import h5model

    path, stop, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("polling", flush=True)
    while not os.path.exists(stop):
        # every object's metadata read at open: the state then, whatever is saved after
        with h5model.open(path, structure="at_open") as f:
            seen = sorted({{f.get(f"/acquisition/ts{{i:02d}}").description
                           for i in range(count)}})
        print(json.dumps(seen), flush=True)
    """
)

HOLDER = textwrap.dedent(
    """
    import sys
    import h5model

    with h5model.open(sys.argv[1], "r+"):
        print("open", flush=True)
        sys.stdin.read()
    """
)


def write_source(path: Path) -> Path:
    nwbfile = NWBFile(
        session_description="kill tests", identifier="h5model-kill",
        session_start_time=datetime(2024, 1, 2, tzinfo=UTC),
    )
    for i in range(N_SERIES):
        length = BIG_ROWS if i < BIG else 500
        nwbfile.add_acquisition(TimeSeries(
            name=f"ts{i:02d}", data=np.arange(length, dtype=np.float64), unit="m",
            rate=10.0, starting_time=0.0, description=f"series {i}",
        ))
    with NWBHDF5IO(str(path), mode="w") as io:
        io.write(nwbfile)
    return path


def fingerprint(path: Path) -> str:
    """The whole content: every link, every attribute value and dtype, every dataset's
    dtype, shape and bytes (object ids aside: the new object's is random)."""
    digest = hashlib.sha256()
    with h5py.File(path, "r") as h5:

        def add(*parts: Any) -> None:
            for part in parts:
                digest.update(part if isinstance(part, bytes) else repr(part).encode())

        def visit(name: str) -> None:
            link = h5.get(name, getlink=True) if name else None
            if isinstance(link, h5py.SoftLink | h5py.ExternalLink):
                add(name, repr(link))
                return
            obj = h5[name or "/"]
            add(name, type(obj).__name__)
            for key in sorted(obj.attrs):
                value = obj.attrs[key]
                if key == "object_id":
                    add(key)
                elif isinstance(value, h5py.Reference):
                    add(key, h5[value].name)
                else:
                    add(key, getattr(value, "dtype", None), value)
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                add(obj.dtype.str, obj.shape)
                if isinstance(data, np.ndarray) and data.dtype.kind not in "OV":
                    add(data.tobytes())
                else:
                    add(data)

        visit("")
        h5.visit_links(visit)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The source file, the fingerprints of the old and new states, the save's duration."""
    folder = tmp_path_factory.mktemp("kill")
    if reflink_works(folder):
        pytest.skip("this file system clones files: saves here never take the journal path")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = write_source(folder / "source.nwb")
    done = folder / "done.nwb"
    shutil.copyfile(source, done)
    env = {**os.environ, "H5MODEL_LOCK_DIR": str(tmp_path_factory.getbasetemp() / "locks"),
           "H5MODEL_SAVE_COPY_LIMIT": "0"}
    durations = []
    for _ in range(2):
        shutil.copyfile(source, done)
        child = start(SAVER, done, "0", env=env)
        wait_for(child, "saving")
        started = time.perf_counter()
        wait_for(child, "saved")
        durations.append(time.perf_counter() - started)
        assert child.wait(timeout=60) == 0
    return {
        "source": source,
        "old": fingerprint(source),
        "new": fingerprint(done),
        "duration": min(durations),
        "env": env,
    }


def start(script: str, path: Path, *args: str, env: dict[str, str] | None = None,
          stdin: Any = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(path), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, text=True, cwd=ROOT,
        env=env,
    )


def wait_for(child: subprocess.Popen[str], line: str) -> None:
    assert child.stdout is not None
    got = child.stdout.readline().strip()
    if got != line:
        _, err = child.communicate(timeout=60)
        raise AssertionError(f"expected {line!r} from the child, got {got!r}: {err}")


def disk_state(path: Path) -> tuple[str, int, int, int]:
    """The file's bytes and the stat fields a write or chmod would change."""
    info = path.stat()
    return (hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mode, info.st_size,
            info.st_mtime_ns)


def recover_if_needed(path: Path) -> bool:
    """A read-only open refuses an interrupted save and changes nothing; then
    ``h5model recover`` rolls it back. True if there was a save to roll back."""
    if not journal_path(path).exists():
        return False
    before = disk_state(path), disk_state(journal_path(path))
    try:  # other HDF5 readers refuse a marked file (unless the save got to its commit)
        h5py.File(path, "r").close()
    except OSError:
        assert marked_by_a_save(path)
    else:
        assert not marked_by_a_save(path)
    refused = False
    try:
        with h5model.open(path):
            pass  # a save killed after its commit record: the file is complete
    except InterruptedSave as exc:
        assert f"h5model recover {path}" in str(exc)
        refused = True
    assert (disk_state(path), disk_state(journal_path(path))) == before
    assert main(["recover", str(path)]) == 0
    return refused


def open_and_check(path: Path) -> str:
    """Open with h5model (after recovery), read with pynwb, and return the content's
    fingerprint."""
    with h5model.open(path) as f:
        assert f.root.identifier == "h5model-kill"
        assert not journal_path(path).exists()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), mode="r") as io:
            nwbfile = io.read()
            assert len(nwbfile.acquisition) in (N_SERIES, N_SERIES + 1)
            assert nwbfile.acquisition["ts00"].data[:3].shape == (3,)
    return fingerprint(path)


def test_kill_during_save_leaves_old_or_new_state(states: dict[str, Any],
                                                   tmp_path: Path) -> None:
    rng = random.Random(SEED)
    duration = states["duration"]
    outcomes = []
    interrupted = refused = 0
    for run in range(KILL_RUNS):
        path = tmp_path / f"run{run:02d}.nwb"
        shutil.copyfile(states["source"], path)
        # the kill lands anywhere from the save's first moment to a little after its end
        delay = rng.uniform(0.0, 1.1 * duration)
        child = start(SAVER, path, "0", env=states["env"])
        wait_for(child, "saving")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        interrupted += journal_path(path).exists()
        refused += recover_if_needed(path)
        state = open_and_check(path)
        assert state in (states["old"], states["new"]), f"run {run}: a mixed state"
        outcomes.append("old" if state == states["old"] else "new")
        path.unlink()
    assert interrupted >= KILL_RUNS // 4, (interrupted, outcomes)
    assert refused >= 1, (refused, outcomes)
    assert "old" in outcomes, outcomes


def test_second_writer_is_refused(states: dict[str, Any], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "held.nwb"
    shutil.copyfile(states["source"], path)
    before = fingerprint(path)
    holder = start(HOLDER, path, env=states["env"], stdin=subprocess.PIPE)
    try:
        wait_for(holder, "open")
        with pytest.raises(h5model.H5ModelError, match="another writer has this file open"):
            h5model.open(path, "r+")
        with pytest.raises(h5model.H5ModelError, match="another writer"), h5model.open(
            path
        ) as f:
            h5model.write(f.root, path, overwrite=True)
        from h5model.cli.app import main

        assert main(["set", str(path), "/acquisition/ts01/description", "x"]) == 1
        assert "another writer has this file open" in capsys.readouterr().err
        with h5model.open(path) as f:  # readers are fine
            assert f.get("/acquisition/ts01").description == "series 1"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    assert fingerprint(path) == before
    with h5model.open(path, "r+") as first:  # in one process too
        with pytest.raises(h5model.H5ModelError, match="another writer"):
            h5model.open(path, "r+")
        first.get("/acquisition/ts01").description = "after"
        first.save()
    with h5model.open(path) as f:
        assert f.get("/acquisition/ts01").description == "after"


def test_reader_waits_for_a_save_and_sees_the_new_state(states: dict[str, Any],
                                                        tmp_path: Path) -> None:
    """Readers in other processes, opening over and over before, during and after a save,
    see the old state or the new one, never a mix; one that opens while the save writes
    waits for it and sees the new state. (Within one process HDF5 shares one view of a
    file among the handles open at once, so the readers run in processes of their own.)"""
    path = tmp_path / "busy.nwb"
    shutil.copyfile(states["source"], path)
    journal = journal_path(path)
    stop = tmp_path / "stop"
    poller = start(POLLER.format(), path, str(stop), str(N_SERIES), env=states["env"])
    wait_for(poller, "polling")
    saver = start(SAVER, path, "0.3", env=states["env"])
    try:
        wait_for(saver, "saving")
        deadline = time.monotonic() + 30
        while not journal.exists():  # the save has begun writing
            assert saver.poll() is None and time.monotonic() < deadline
            time.sleep(0.001)
        opened = time.perf_counter()
        with h5model.open(path) as f:
            waited = time.perf_counter() - opened
            assert saver.poll() is not None or not journal.exists()
            assert f.get("/acquisition/ts05").description == "edited 5"
            assert f.get("/acquisition/ts01").data.value.shape == (BIG_ROWS + 1000,)
            assert "added" in f.get("/acquisition").children
        wait_for(saver, "saved")
        assert saver.wait(timeout=60) == 0
    finally:
        stop.touch()
        out, err = poller.communicate(timeout=120)
    assert poller.returncode == 0, err
    assert waited > 0.0
    assert fingerprint(path) == states["new"]
    seen = [set(json.loads(line)) for line in out.splitlines() if line.strip()]
    old = {f"series {i}" for i in range(N_SERIES)}
    new = {f"edited {i}" for i in range(N_SERIES)}
    assert seen and all(state in (old, new) for state in seen)


def kill_mid_save(path: Path, env: dict[str, str]) -> None:
    """Start a save of ``path`` and SIGKILL it once it has begun writing its journal."""
    child = start(SAVER, path, "0", env=env)
    wait_for(child, "saving")
    deadline = time.monotonic() + 30
    while not journal_path(path).exists():
        assert time.monotonic() < deadline
        time.sleep(0.001)
    time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)


def test_stale_journal_is_rolled_back_by_the_next_writer(states: dict[str, Any],
                                                         tmp_path: Path) -> None:
    path = tmp_path / "stale.nwb"
    shutil.copyfile(states["source"], path)
    kill_mid_save(path, states["env"])
    assert journal_path(path).exists()  # killed mid-save
    started = time.perf_counter()
    with h5model.open(path, "r+") as f:  # the writer rolls back at once, without waiting
        assert time.perf_counter() - started < 10
        assert f.get("/acquisition/ts03").description == "series 3"
    assert not journal_path(path).exists()
    assert fingerprint(path) == states["old"]


def test_read_only_commands_refuse_a_killed_save_and_recover_rolls_it_back(
        states: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "killed.nwb"
    shutil.copyfile(states["source"], path)
    kill_mid_save(path, states["env"])
    journal = journal_path(path)
    before = disk_state(path), disk_state(journal)
    for argv in (["validate", str(path)], ["show", str(path)],
                 ["graph", str(path), "-o", str(tmp_path / "g.json")],
                 ["generate", str(path), "-o", str(tmp_path / "models")],
                 ["truncate", str(path), str(tmp_path / "small.nwb")]):
        assert main(argv) == 2, argv
        out = capsys.readouterr()
        assert f"h5model recover {path}" in out.out + out.err, argv
        assert (disk_state(path), disk_state(journal)) == before, argv
    assert main(["recover", str(path)]) == 0
    assert "rolled back an interrupted save" in capsys.readouterr().out
    assert not journal.exists()
    assert fingerprint(path) == states["old"]
    assert main(["recover", str(path)]) == 0
    assert "nothing to recover" in capsys.readouterr().out
