"""Who may write, and when readers may look.

Two lock files per data file live in the user's private lock folder
(``h5model-locks-<uid>`` in the system's temporary folder, mode 0700, its owner and
mode checked before use; ``H5MODEL_LOCK_DIR`` names another), named by a hash of
the file's real path, so that reading a file never leaves anything beside it.
They are never deleted (deleting a lock file races with the next locker), never
followed through a symbolic link, and never have their permissions changed:

* ``<hash>.writer``: held exclusively for the whole time a file is open for
  writing, so a second writer is refused at once with a clear error.
* ``<hash>.saving``: held exclusively while a save writes; readers hold it
  shared while they open the file or read from it, so they wait out a save
  instead of seeing half of it.

A save of another user does not share these locks; it holds its own journal
locked instead, which readers check (see ``journal``). An interrupted save
leaves its journal behind: readers refuse to read (they never write), and a
writer or ``h5model recover`` rolls it back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from h5model.errors import H5ModelError
from h5model.storage.journal import (
    Found,
    InterruptedSave,
    Recovery,
    examine,
    journal_path,
    marked_by_a_save,
    roll_back,
)
from h5model.storage.oslock import lock, unlock
from h5model.storage.replace import remove_stale

WAIT_SECONDS = 60.0
_TORN_GRACE = 1.0
"""How long a journal without its header may be a save that is creating it right now."""
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def lock_folder() -> Path:
    """The user's private lock folder, created on first use and checked every time."""
    override = os.environ.get("H5MODEL_LOCK_DIR")
    if override:
        folder = Path(override)
    elif sys.platform == "win32":
        folder = Path(tempfile.gettempdir()) / "h5model-locks"  # the temp folder is per user
    else:
        folder = Path(tempfile.gettempdir()) / f"h5model-locks-{os.geteuid()}"
    try:
        folder.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise H5ModelError(f"cannot create the lock folder ({exc.strerror or exc}); set "
                           "H5MODEL_LOCK_DIR to a folder of your own", file=folder) from None
    _check_private(folder)
    return folder


def _check_private(folder: Path) -> None:
    info = os.lstat(folder)
    problem = None
    if not stat.S_ISDIR(info.st_mode):
        problem = "is not a folder (a symbolic link?)"
    elif sys.platform != "win32":
        if info.st_uid != os.geteuid():
            problem = f"belongs to user {info.st_uid}, not to you (user {os.geteuid()})"
        elif stat.S_IMODE(info.st_mode) & 0o022:
            problem = f"can be written by other users (mode {stat.S_IMODE(info.st_mode):o})"
    if problem:
        raise H5ModelError(
            f"the lock folder {problem}; h5model uses only a folder private to the user: "
            "remove it, or set H5MODEL_LOCK_DIR to a folder of your own",
            file=folder,
        )


def _lock_path(path: Path, kind: str) -> Path:
    key = hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()[:32]
    return lock_folder() / f"{key}.{kind}"


def _open_lock(path: Path, kind: str) -> int:
    """The lock file's descriptor: created exclusively, or an existing one opened without
    following links and checked to be a plain file of ours."""
    where = _lock_path(path, kind)
    try:
        return os.open(where, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise H5ModelError(f"cannot create the lock file {where} ({exc.strerror or exc})",
                           file=path) from None
    try:
        fd = os.open(where, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
    except OSError as exc:
        raise H5ModelError(f"cannot open the lock file {where} ({exc.strerror or exc}; a "
                           "symbolic link?)", file=path) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or (
        sys.platform != "win32" and info.st_uid != os.geteuid()
    ):
        os.close(fd)
        raise H5ModelError(f"the lock file {where} is not a plain file of yours; remove it",
                           file=path)
    return fd


def writer_lock_path(path: Path) -> Path:
    """The lock writers of every user share, beside the file (only writers make it: they
    write their journal there too)."""
    return path.parent / f".{path.name}.h5model-writer"


def _open_shared_lock(path: Path) -> int | None:
    """The writers' lock beside ``path``: created (mode 0644, nothing is ever written to
    it) or opened read-only without following links, and checked to be a plain file.
    None where the folder does not allow it: this user cannot save there anyway."""
    where = writer_lock_path(path)
    flags = os.O_RDONLY | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(where, flags | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            fd = os.open(where, flags)
        except OSError:
            return None
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise H5ModelError(f"{where} is not a plain file; remove it", file=path)
    return fd


class WriterLock:
    """Exclusive right to write ``path``, for as long as the handle is open.

    Held twice: in the user's private lock folder, and beside the file, so that writers
    running as different users exclude each other too."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fds: list[int] = []
        try:
            fds.append(_open_lock(path, "writer"))
            beside = _open_shared_lock(path)
            if beside is not None:
                fds.append(beside)
            for fd in fds:
                if not lock(fd, shared=False, wait=False):
                    raise H5ModelError(
                        "another writer has this file open; close it first (readers are "
                        "fine)",
                        file=path,
                    )
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        self._fds: list[int] = fds

    def release(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                unlock(fd)
            os.close(fd)
        self._fds = []


@contextlib.contextmanager
def _held(path: Path, *, shared: bool) -> Iterator[None]:
    fd = _open_lock(path, "saving")
    try:
        lock(fd, shared=shared, wait=True)
        yield
    finally:
        with contextlib.suppress(OSError):
            unlock(fd)
        os.close(fd)


def saving(path: Path) -> contextlib.AbstractContextManager[None]:
    """Held exclusively while a save writes (waits for readers mid-read to finish)."""
    return _held(path, shared=False)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Held shared while reading: never overlaps a save of this user.

    A journal seen meanwhile is a save of another user (its journal is locked: wait for
    it), a completed save that died before deleting its journal (read on), or an
    interrupted save: ``InterruptedSave`` (reading never writes; see ``recover``)."""
    started = time.monotonic()
    while True:
        with _held(path, shared=True):
            found = examine(path) if _journal_there(path) else Found(None, live=False)
            journal = found.journal
            if not found.live and (journal is None or journal.committed):
                yield
                return
            if journal is not None and not journal.torn:
                raise InterruptedSave(path, journal_path(path))
        # a save under way, or a journal with no header yet: being created, or left by a
        # save that died at once; wait for it outside our lock
        waited = time.monotonic() - started
        if found.live and waited > WAIT_SECONDS:
            raise H5ModelError("a save by another process has not finished in time",
                               file=path)
        if not found.live and waited > _TORN_GRACE:
            raise InterruptedSave(path, journal_path(path))
        time.sleep(0.05)


def _journal_there(path: Path) -> bool:
    return os.path.lexists(journal_path(path))


def recover(path: Path) -> Recovery | None:
    """Roll back an interrupted save of ``path``, if one was left behind, and remove the
    new files that killed saves left beside it; None if there was nothing to do.

    The caller holds the ``WriterLock``: no save of this user is under way, so a journal
    is a crash (or a save of another user, which ``roll_back`` refuses to disturb)."""
    with _held(path, shared=False):
        removed = remove_stale(path)
        outcome = roll_back(path) if _journal_there(path) else None
        if outcome is None and marked_by_a_save(path):
            raise H5ModelError(
                f"the file is marked as being saved in place (its HDF5 signature is "
                f"replaced), but the journal {journal_path(path)} that rolls that save back "
                "is gone: the file may mix two states, and h5model does not unmark it",
                file=path,
            )
    if removed:
        names = ", ".join(p.name for p in removed)
        left = f"removed what an interrupted save left beside the file: {names}"
        return Recovery(f"{outcome.done}; {left}" if outcome else left)
    return outcome
