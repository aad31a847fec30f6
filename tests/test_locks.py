"""Lock files live in a folder private to the user and are never followed or chmod'ed.

Regression: lock files in a shared folder were opened following symbolic links and then
made world-writable, so one planted link turned a root-only file world-writable during
root's ``h5model show``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import NOBODY, in_child

import h5model
from h5model.cli.app import main
from h5model.errors import H5ModelError
from h5model.storage import locking
from h5model.storage.journal import JournaledFile, journal_path
from h5model.storage.oslock import lock, unlock

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user, or becoming one, needs root",
)


def state(path: Path) -> tuple[bytes, int, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mode, info.st_uid, info.st_gid


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(b"root only")
    path.chmod(0o600)
    return path


@pytest.fixture
def lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "locks"
    monkeypatch.setenv("H5MODEL_LOCK_DIR", str(folder))
    return folder


def test_lock_file_symlink_is_not_followed(nwb: Path, secret: Path, lock_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    before = state(secret)
    for kind, argv in (("saving", ["show", str(nwb)]),
                       ("writer", ["set", str(nwb), "/session_description", "x"])):
        link = locking._lock_path(nwb, kind)
        link.symlink_to(secret)
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert str(link) in err and "symbolic link" in err
        assert state(secret) == before
        link.unlink()


def test_default_lock_folder_is_private_to_the_user(
        nwb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("H5MODEL_LOCK_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = locking.lock_folder()
    assert folder == tmp_path / f"h5model-locks-{os.geteuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    existing = locking._lock_path(nwb, "saving")
    existing.touch(mode=0o640)
    existing.chmod(0o640)
    with h5model.open(nwb):
        pass
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640  # never chmod'ed
    writer = locking._lock_path(nwb, "writer")
    assert not writer.exists()
    with h5model.open(nwb, "r+"):
        pass
    assert stat.S_IMODE(writer.stat().st_mode) & 0o077 == 0  # created private


def test_lock_folder_others_can_write_is_refused(nwb: Path, lock_dir: Path) -> None:
    lock_dir.mkdir(mode=0o700)
    lock_dir.chmod(0o777)
    with pytest.raises(H5ModelError, match="can be written by other users"):
        h5model.open(nwb)


def test_lock_folder_that_is_a_symlink_is_refused(nwb: Path, lock_dir: Path,
                                                  tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    lock_dir.symlink_to(real)
    with pytest.raises(H5ModelError, match="is not a folder"):
        h5model.open(nwb)


@needs_root
def test_lock_folder_of_another_user_is_refused(nwb: Path, lock_dir: Path) -> None:
    lock_dir.mkdir(mode=0o700)
    os.chown(lock_dir, NOBODY, NOBODY)
    with pytest.raises(H5ModelError, match=f"belongs to user {NOBODY}"):
        h5model.open(nwb)


@needs_root
def test_lock_file_of_another_user_is_refused(nwb: Path, lock_dir: Path) -> None:
    path = locking._lock_path(nwb, "saving")
    path.touch(mode=0o600)
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(H5ModelError, match="not a plain file of yours"):
        h5model.open(nwb)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.fixture
def sticky_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="h5model-test-shared-"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@needs_root
def test_stranger_cannot_prepare_roots_lock_folder(
        nwb: Path, secret: Path, sticky_folder: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("H5MODEL_LOCK_DIR")
    monkeypatch.setattr(tempfile, "tempdir", str(sticky_folder))
    folder = sticky_folder / "h5model-locks-0"
    key = hashlib.sha256(os.fsencode(os.path.realpath(nwb))).hexdigest()[:32]

    def prepare() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        folder.mkdir()
        folder.chmod(0o777)
        (folder / f"{key}.saving").symlink_to(secret)

    in_child(prepare)
    before = state(secret)
    assert main(["show", str(nwb)]) == 1
    err = capsys.readouterr().err
    assert str(folder) in err and f"belongs to user {NOBODY}" in err
    assert state(secret) == before


# -- shared and exclusive locks ------------------------------------------------------------------
def test_shared_locks_share_and_exclude_an_exclusive_one(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    fds = [os.open(path, os.O_RDWR) for _ in range(3)]
    try:
        assert lock(fds[0], shared=True, wait=False)
        assert lock(fds[1], shared=True, wait=False)
        assert not lock(fds[2], shared=False, wait=False)
        unlock(fds[0])
        unlock(fds[1])
        assert lock(fds[2], shared=False, wait=False)
        assert not lock(fds[0], shared=True, wait=False)
    finally:
        for fd in fds:
            os.close(fd)


def test_reader_waits_for_a_save_that_does_not_share_its_locks(
        nwb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save by another user (another lock folder) is seen through its locked journal:
    a reader waits for it instead of taking it for a crash."""
    path = tmp_path / "f.nwb"
    shutil.copyfile(nwb, path)
    other_locks = tmp_path / "other-user-locks"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.environ["H5MODEL_LOCK_DIR"] = str(other_locks)
            journaled = JournaledFile(path)
            time.sleep(1.0)
            journaled.commit()
        finally:
            os._exit(0)
    try:
        deadline = time.monotonic() + 30
        while not journal_path(path).exists():
            assert time.monotonic() < deadline
            time.sleep(0.005)
        started = time.monotonic()
        with h5model.open(path) as f:
            assert f.root is not None
        assert time.monotonic() - started > 0.3
        assert not journal_path(path).exists()
    finally:
        os.waitpid(pid, 0)


# -- writers of different users ------------------------------------------------------------------
@needs_root
def test_writers_of_different_users_exclude_each_other(
        nwb: Path, sticky_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each user has a private lock folder; the writers' lock beside the file keeps a
    second user's writer out while the first one has the file open."""
    shared = sticky_folder / "shared.nwb"
    shutil.copyfile(nwb, shared)
    shared.chmod(0o666)
    own_locks = sticky_folder / "root-locks"
    own_locks.mkdir(mode=0o700)
    monkeypatch.setenv("H5MODEL_LOCK_DIR", str(own_locks))

    def second_writer() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        os.environ["H5MODEL_LOCK_DIR"] = str(sticky_folder / "nobody-locks")
        try:
            h5model.open(shared, "r+").close()
        except H5ModelError as exc:
            assert "another writer has this file open" in str(exc)
            return
        raise AssertionError("a second user's writer was let in")

    with h5model.open(shared, "r+"):
        in_child(second_writer)
    lock_file = locking.writer_lock_path(shared)
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o644 and lock_file.read_bytes() == b""
    with h5model.open(shared, "r+"):  # released with the handle: open again at once
        pass
