"""Who may write, and when readers may look.

Two lock files per data file live in a shared lock folder (``h5model-locks`` in
the system's temporary folder, named by a hash of the file's real path), so that
reading a file never leaves anything beside it; they are never deleted
(deleting a lock file races with the next locker):

* ``<hash>.writer``: held exclusively for the whole time a file is open for
  writing, so a second writer is refused at once with a clear error.
* ``<hash>.saving``: held exclusively while a save writes; readers hold it
  shared while they open the file or read from it, so they wait out a save
  instead of seeing half of it.

An interrupted save leaves its journal behind; whoever opens the file next
rolls it back (see ``journal``) before reading anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from h5model.errors import H5ModelError
from h5model.storage.journal import journal_path, roll_back

WAIT_SECONDS = 60.0


def lock_folder() -> Path:
    folder = Path(os.environ.get("H5MODEL_LOCK_DIR") or tempfile.gettempdir()) / "h5model-locks"
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            folder.chmod(0o1777)  # shared by every user, like /tmp itself
    return folder


def _lock_path(path: Path, kind: str) -> Path:
    key = hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()[:32]
    return lock_folder() / f"{key}.{kind}"


def _open_lock(path: Path, kind: str) -> IO[bytes] | None:
    try:
        fd = os.open(_lock_path(path, kind), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None  # no lock folder to be had: locking is best effort for readers
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)
    return os.fdopen(fd, "r+b")


class WriterLock:
    """Exclusive right to write ``path``, for as long as the handle is open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        handle = _open_lock(path, "writer")
        if handle is None:
            raise H5ModelError("cannot create a lock beside the file (is the folder writable?)",
                               file=path)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise H5ModelError(
                "another writer has this file open; close it first (readers are fine)",
                file=path,
            ) from None
        self._handle: IO[bytes] | None = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


@contextlib.contextmanager
def saving(path: Path) -> Iterator[None]:
    """Held exclusively while a save writes (waits for readers mid-read to finish)."""
    handle = _open_lock(path, "saving")
    if handle is None:
        raise H5ModelError("cannot create a lock beside the file", file=path)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


@contextlib.contextmanager
def _shared(path: Path) -> Iterator[None]:
    """The saving lock held shared: no save writes meanwhile."""
    handle = _open_lock(path, "saving")
    if handle is None:
        yield
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Held shared while reading: never overlaps a save.

    A save holds the lock until its journal is gone, so a journal seen while holding it
    is a save whose process died: it is rolled back before anything is read."""
    while True:
        handle = _open_lock(path, "saving")
        if handle is None:
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        if journal_path(path).exists():
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
            recover(path)
            continue
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
        return


def recover(path: Path, *, writer: bool = False) -> None:
    """Roll back an interrupted save of ``path``, if one was left behind.

    A journal with a live writer means a save is under way: wait for it (readers take
    the saving lock next, which also waits). A journal without a writer is a crash.
    ``writer``: the caller holds the writer lock itself, so the journal is a crash.
    """
    journal = journal_path(path)
    if not journal.exists():
        return
    if writer:
        with saving(path):
            roll_back(path)
        return
    handle = _open_lock(path, "writer")
    if handle is None:
        raise H5ModelError(
            "an interrupted save left a journal, and the folder is not writable to undo it",
            file=path,
        )
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # a writer is alive; if it is saving, its journal goes away when done
                with _shared(path):
                    if not journal.exists():
                        return
                if time.monotonic() > deadline:
                    raise H5ModelError(
                        "a save by another process has not finished in time", file=path
                    ) from None
                time.sleep(0.05)
                continue
            try:
                if not os.access(path, os.W_OK):
                    raise H5ModelError(
                        "an interrupted save left a journal; open the file once with write "
                        "permission to undo it",
                        file=path,
                    )
                with saving(path):  # readers wait until the old state is back
                    roll_back(path)
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return
    finally:
        handle.close()
