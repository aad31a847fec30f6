"""A killed save leaves a file that every reader reads, not only h5model.

Saves edit a copy-on-write clone or a copy of the file and move it over the original
(``storage.replace``): a save killed (SIGKILL) at seeded moments leaves the old file or
the new one, and h5py and pynwb, opening it before any h5model open, read one of the
two states. Where the journal is used (forced here with a copy limit of 0), the file is
marked while the save writes: h5py and pynwb refuse it (an error, not a mix) until
``h5model recover`` or a writer open rolls it back. The new file is created without
following a planted link, removed on failure, and one left by a killed save is removed by
the next writer.

Set ``H5MODEL_TEST_REFLINK_DIR`` to a folder on a file system with clones (btrfs, XFS
made with reflink=1) to test the clone path where the temporary folder has none.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
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
from h5model.errors import H5ModelError
from h5model.storage import replace
from h5model.storage.journal import MARKER, journal_path, marked_by_a_save

N_SERIES = 30
UNITS = 20
ADDED_UNITS = 5
BIG_ROWS = 1_000_000
KILLS = 12
JOURNAL_KILLS = 6
SEED = 20240612
ROOT = Path(__file__).resolve().parents[1]

SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import h5model

    with h5model.open(sys.argv[1], "r+") as f:
        for i in range({n}):
            f.get(f"/acquisition/ts{{i:02d}}").description = f"edited {{i}}"
        f.get("/acquisition/big").data.value = np.full({rows} + 500, 2.0)
        units = f.get("/units")
        for i in range({added}):
            units.add_row(spike_times=[0.5 * i, 0.5 * i + 0.1])
        print("saving", flush=True)
        report = f.save()
        print("saved", report.method, flush=True)
    """
).format(n=N_SERIES, rows=BIG_ROWS, added=ADDED_UNITS)


def write_source(path: Path) -> Path:
    nwbfile = NWBFile(session_description="safe saves", identifier="h5model-safe",
                      session_start_time=datetime(2024, 1, 2, tzinfo=UTC))
    for i in range(N_SERIES):
        nwbfile.add_acquisition(TimeSeries(
            name=f"ts{i:02d}", data=np.arange(50.0), unit="m", rate=10.0,
            starting_time=0.0, description=f"series {i}"))
    nwbfile.add_acquisition(TimeSeries(name="big", data=np.arange(float(BIG_ROWS)),
                                       unit="m", rate=10.0, description="big"))
    for i in range(UNITS):
        nwbfile.add_unit(spike_times=[float(i), i + 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), mode="w") as io:
            io.write(nwbfile)
    return path


OLD = ("series 5", UNITS, BIG_ROWS)
NEW = ("edited 5", UNITS + ADDED_UNITS, BIG_ROWS + 500)


def read_with_h5py(path: Path) -> tuple[str, int, int]:
    with h5py.File(path, "r") as h5:
        description = h5["/acquisition/ts05"].attrs["description"]
        return (description.decode() if isinstance(description, bytes) else str(description),
                len(h5["/units/id"]), len(h5["/acquisition/big/data"]))


def read_with_pynwb(path: Path) -> tuple[str, int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), mode="r") as io:
            nwbfile = io.read()
            return (nwbfile.acquisition["ts05"].description, len(nwbfile.units),
                    len(nwbfile.acquisition["big"].data))


def leftovers(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.h5model-new-*"))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_source(tmp_path_factory.mktemp("safe") / "source.nwb")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {**os.environ, "H5MODEL_LOCK_DIR": str(tmp_path_factory.getbasetemp() / "locks")}


def start(path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != "saving":
        raise AssertionError(f"the saver said {line!r}: {child.communicate(timeout=60)[1]}")
    return child


def timed_save(source: Path, path: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run the saver to the end: how long its save took, and how it saved."""
    shutil.copyfile(source, path)
    child = start(path, env)
    began = time.perf_counter()
    assert child.stdout is not None
    done = child.stdout.readline().split()
    took = time.perf_counter() - began
    assert child.wait(timeout=120) == 0 and done[0] == "saved", child.communicate()
    return took, done[1]


def kill_at(source: Path, path: Path, env: dict[str, str], delay: float) -> None:
    shutil.copyfile(source, path)
    child = start(path, env)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)


# -- kills: the clone/copy path ----------------------------------------------------------------
@pytest.mark.slow
def test_killed_save_leaves_a_file_every_reader_reads(source: Path, env: dict[str, str],
                                                      tmp_path: Path) -> None:
    duration, method = timed_save(source, tmp_path / "timed.nwb", env)
    assert method in ("copy", "reflink")
    assert read_with_h5py(tmp_path / "timed.nwb") == NEW
    rng = random.Random(SEED)
    outcomes, stale = [], 0
    for run in range(KILLS):
        path = tmp_path / f"run{run:02d}.nwb"
        kill_at(source, path, env, rng.uniform(0.0, 1.1 * duration))
        stale += bool(leftovers(path))
        assert not journal_path(path).exists()
        seen = read_with_h5py(path)  # first: before any h5model open
        assert seen in (OLD, NEW), f"run {run}: h5py read a mix {seen}"
        assert read_with_pynwb(path) == seen, f"run {run}"
        outcomes.append("old" if seen == OLD else "new")
        with h5model.open(path, "r+") as f:  # a writer removes what the killed save left
            assert f.get("/acquisition/ts05").description == seen[0]
        assert not leftovers(path)
        path.unlink()
    assert "old" in outcomes, outcomes
    assert stale >= 1, (stale, outcomes)  # some kills landed while the new file was written


# -- kills: the journal path -------------------------------------------------------------------
@pytest.fixture
def journal_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    if reflink_works(tmp_path):
        pytest.skip("this file system clones files: saves here never take the journal path")
    return {**env, "H5MODEL_SAVE_COPY_LIMIT": "0"}


def refused_by_other_readers(path: Path) -> bool:
    """h5py and pynwb both refuse the file (True), or both read one whole state (False)."""
    try:
        seen = read_with_h5py(path)
    except OSError:
        assert marked_by_a_save(path)
        with pytest.raises(OSError, match="signature"):
            read_with_pynwb(path)
        return True
    assert seen in (OLD, NEW) and read_with_pynwb(path) == seen
    return False


@pytest.mark.slow
def test_killed_journal_save_is_refused_by_other_readers_until_rolled_back(
        source: Path, journal_env: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    duration, method = timed_save(source, tmp_path / "timed.nwb", journal_env)
    assert method == "journal"
    rng = random.Random(SEED)
    refused = 0
    for run in range(JOURNAL_KILLS):
        path = tmp_path / f"run{run}.nwb"
        kill_at(source, path, journal_env, rng.uniform(0.1, 0.9) * duration)
        if not refused_by_other_readers(path):
            continue
        refused += 1
        if run % 2:
            assert main(["recover", str(path)]) == 0
            assert "rolled back an interrupted save" in capsys.readouterr().out
        else:
            with h5model.open(path, "r+"):
                pass
        assert not marked_by_a_save(path) and not journal_path(path).exists()
        assert read_with_h5py(path) == OLD and read_with_pynwb(path) == OLD
    assert refused >= 1


def test_file_marked_without_its_journal_names_recover(source: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "marked.nwb"
    shutil.copyfile(source, path)
    with open(path, "r+b") as handle:
        handle.write(MARKER)
    with pytest.raises(OSError):
        h5py.File(path, "r")
    assert main(["show", str(path)]) == 2
    assert f"run `h5model recover {path}`" in capsys.readouterr().err
    assert main(["recover", str(path)]) == 1
    assert "journal" in capsys.readouterr().err and marked_by_a_save(path)


# -- which path a save takes -------------------------------------------------------------------
def edit(path: Path, text: str, **save: Any) -> h5model.File:
    with h5model.open(path, "r+") as f:
        f.get("/acquisition/ts05").description = text
        f.save(**save)
    return f


@pytest.fixture
def nwb_copy(source: Path, tmp_path: Path) -> Path:
    path = tmp_path / "f.nwb"
    shutil.copyfile(source, path)
    return path


def test_save_copies_and_replaces_keeping_mode(nwb_copy: Path, tmp_path: Path) -> None:
    if reflink_works(tmp_path):
        pytest.skip("this file system clones files: a save here never copies")
    nwb_copy.chmod(0o640)
    inode = nwb_copy.stat().st_ino
    f = edit(nwb_copy, "copied")
    assert f.last_save is not None and f.last_save.method == "copy"
    assert "copy limit" in f.last_save.reason
    assert nwb_copy.stat().st_ino != inode  # a new file moved into place
    assert stat.S_IMODE(nwb_copy.stat().st_mode) == 0o640
    assert read_with_pynwb(nwb_copy)[0] == "copied"
    assert not leftovers(nwb_copy)


def test_save_through_a_symbolic_link_replaces_its_target(nwb_copy: Path,
                                                          tmp_path: Path) -> None:
    link = tmp_path / "link.nwb"
    link.symlink_to(nwb_copy)
    edit(link, "through the link")
    assert link.is_symlink() and link.resolve() == nwb_copy
    assert read_with_h5py(nwb_copy)[0] == "through the link"


def test_file_with_hard_links_is_saved_in_place(nwb_copy: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-name.nwb"
    os.link(nwb_copy, other)
    f = edit(nwb_copy, "both names")
    assert f.last_save is not None and f.last_save.method == "journal"
    assert "2 hard links" in f.last_save.reason
    assert os.path.samefile(nwb_copy, other) and read_with_h5py(other)[0] == "both names"


def test_copy_limit_keyword_and_environment(nwb_copy: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if reflink_works(tmp_path):
        pytest.skip("this file system clones files: the copy limit does not apply")
    f = edit(nwb_copy, "journaled", copy_limit=0)
    assert f.last_save is not None and f.last_save.method == "journal"
    assert "over the copy limit (0 bytes, H5MODEL_SAVE_COPY_LIMIT)" in f.last_save.reason
    assert not marked_by_a_save(nwb_copy) and read_with_pynwb(nwb_copy)[0] == "journaled"
    monkeypatch.setenv("H5MODEL_SAVE_COPY_LIMIT", "1K")
    assert replace.copy_limit() == 1024
    f = edit(nwb_copy, "env")
    assert f.last_save is not None and f.last_save.method == "journal"
    f = edit(nwb_copy, "keyword wins", copy_limit=1 << 30)
    assert f.last_save is not None and f.last_save.method == "copy"
    monkeypatch.setenv("H5MODEL_SAVE_COPY_LIMIT", "4G")
    assert replace.copy_limit() == 4 << 30
    monkeypatch.setenv("H5MODEL_SAVE_COPY_LIMIT", "lots")
    with pytest.raises(H5ModelError, match="H5MODEL_SAVE_COPY_LIMIT='lots' is not a size"):
        replace.copy_limit()


def test_cli_set_verbose_says_how_it_saved(nwb_copy: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["set", "-v", str(nwb_copy), "/acquisition/ts05/description", "cli"]) == 0
    out = capsys.readouterr().out
    method = "reflink" if reflink_works(tmp_path) else "copy"
    assert f"saved by {method}:" in out
    assert main(["set", str(nwb_copy), "/acquisition/ts05/description", "quiet"]) == 0
    assert "saved by" not in capsys.readouterr().out


def reflink_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("H5MODEL_TEST_REFLINK_DIR", tmp_path))
    if not reflink_works(folder):
        pytest.skip(f"{folder} has no copy-on-write clones (FICLONE); set "
                    "H5MODEL_TEST_REFLINK_DIR to a folder on btrfs or XFS with reflink")
    return folder


def test_save_clones_where_the_file_system_can(source: Path, tmp_path: Path) -> None:
    folder = reflink_folder(tmp_path) / f"clone-{os.getpid()}"
    folder.mkdir()
    try:
        path = shutil.copy(source, folder / "f.nwb")
        f = edit(path, "cloned", copy_limit=0)  # the copy limit does not apply to clones
        assert f.last_save is not None and f.last_save.method == "reflink"
        assert read_with_h5py(path)[0] == "cloned" and read_with_pynwb(path)[0] == "cloned"
        assert not leftovers(path)
    finally:
        shutil.rmtree(folder)


# -- the new file's hygiene --------------------------------------------------------------------
@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The random parts of the next new-file names, in order."""
    queue: list[str] = []
    real = replace.secrets.token_hex
    monkeypatch.setattr(replace.secrets, "token_hex",
                        lambda n: queue.pop(0) if queue else real(n))
    yield queue


def test_planted_link_at_the_new_file_name_is_not_followed(
        nwb_copy: Path, tmp_path: Path, tokens: list[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    planted = nwb_copy.with_name(f".{nwb_copy.name}.h5model-new-0badc0de")
    planted.symlink_to(victim)
    tokens.append("0badc0de")
    edit(nwb_copy, "safe")
    assert victim.read_text() == "precious"
    assert planted.is_symlink()  # not ours: neither followed nor removed
    assert read_with_h5py(nwb_copy)[0] == "safe"
    assert leftovers(nwb_copy) == [planted]


def test_stale_new_file_is_removed_only_when_provably_ours(nwb_copy: Path,
                                                           tmp_path: Path) -> None:
    prefix = f".{nwb_copy.name}.h5model-new-"
    stale = nwb_copy.with_name(prefix + "1234abcd")
    stale.write_bytes(b"half a save")
    other_name = nwb_copy.with_name(prefix + "not-ours")
    other_name.write_bytes(b"someone's")
    linked = nwb_copy.with_name(prefix + "5678abcd")
    keep = tmp_path / "keep.bin"
    keep.write_bytes(b"hard-linked")
    os.link(keep, linked)
    with h5model.open(nwb_copy):
        pass  # reading never removes anything
    assert stale.exists()
    with h5model.open(nwb_copy, "r+"):
        pass
    assert not stale.exists()
    assert other_name.exists() and linked.exists()


def test_recover_removes_a_stale_new_file(nwb_copy: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    stale = nwb_copy.with_name(f".{nwb_copy.name}.h5model-new-00ff00ff")
    stale.write_bytes(b"")
    assert main(["recover", str(nwb_copy)]) == 0
    assert stale.name in capsys.readouterr().out and not stale.exists()


def test_failed_save_removes_its_new_file(nwb_copy: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from h5model.persist.writer import Writer

    def fail(self: Writer) -> None:
        raise RuntimeError("disk full")

    before = read_with_h5py(nwb_copy)
    monkeypatch.setattr(Writer, "finish", fail)
    with h5model.open(nwb_copy, "r+") as f:
        f.get("/acquisition/ts05").description = "never"
        with pytest.raises(RuntimeError, match="disk full"):
            f.save()
        assert f.get("/acquisition/ts01").data.value[:2].tolist() == [0.0, 1.0]
    assert not leftovers(nwb_copy)
    assert read_with_h5py(nwb_copy) == before


# -- the clone helpers -------------------------------------------------------------------------
def test_clone_into_clones_or_says_it_cannot(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(os.urandom(100_000))
    with open(a, "rb") as source, open(b, "wb") as target:
        cloned = replace.clone_into(source.fileno(), target.fileno())
    assert cloned in (True, False)
    assert b.read_bytes() == (a.read_bytes() if cloned else b"")


def test_copy_into_falls_back_to_reading_and_writing(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(os.urandom(300_000))

    def cross_device(*_: object) -> int:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(os, "copy_file_range", cross_device, raising=False)
    with open(a, "rb") as source, open(b, "wb") as target:
        replace.copy_into(source.fileno(), target.fileno(), a.stat().st_size)
    assert b.read_bytes() == a.read_bytes()


def test_clonefile_is_reached_only_on_macos(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"data")
    if sys.platform != "darwin":
        assert replace.clonefile(a, b) is False and not b.exists()
    import ctypes.util

    calls = []

    class Libc:
        def clonefile(self, source: bytes, target: bytes, flags: int) -> int:
            calls.append((source, target, flags))
            return 0

    monkeypatch.setattr(replace.sys, "platform", "darwin")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libc")
    monkeypatch.setattr(ctypes, "CDLL", lambda name, use_errno: Libc())
    assert replace.clonefile(a, b) is True
    assert calls == [(os.fsencode(a), os.fsencode(b), 1)]
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert replace.clonefile(a, b) is False
