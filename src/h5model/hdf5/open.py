"""Opening a file read-only: h5py's errors turned into one that names the file, and a
save by another process waited out first. Opening never writes: a save that a crash
interrupted is reported (``h5model recover`` rolls it back), not undone here. A file a
streaming writer has open (or left, killed) is read in SWMR mode. A URL
(``https://``, ``s3://``...) is read by byte ranges (``remote``); no lock or journal
applies to it."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import h5py

from h5model.errors import FileMissingError, NotHDF5Error
from h5model.hdf5 import superblock
from h5model.spec.loader import BYTE_READERS
from h5model.storage.journal import MarkedFile, journal_path, marked_by_a_save
from h5model.storage.locking import reading
from h5model.storage.remote import handle_of, is_url, open_url


def _remote_bytes(h5: h5py.File) -> Callable[[int, int], bytes] | None:
    handle = handle_of(h5)
    return handle.pread if handle is not None else None


BYTE_READERS.append(_remote_bytes)


def open_hdf5(path: Path | str) -> h5py.File:
    """Open read-only, turning h5py's errors into one that names the file.

    A save under way is waited for first, and one a crash interrupted raises
    ``InterruptedSave`` (so that ``validate``, ``truncate``, ``generate`` never read half a
    save, and never change the file)."""
    if is_url(path):
        assert isinstance(path, str)
        return open_url(path)
    path = Path(path)
    label = str(path)
    check_regular_file(path)
    if os.path.lexists(journal_path(path)):
        with reading(path):
            pass
    try:
        if not h5py.is_hdf5(path):
            if marked_by_a_save(path):
                raise MarkedFile(path)
            raise NotHDF5Error("not an HDF5 file (no HDF5 signature)", file=label)
        if superblock.is_open_for_swmr_write(path):
            # a streaming writer has it (or one was killed): read it as SWMR allows
            return h5py.File(path, "r", swmr=True)
        return h5py.File(path, "r")
    except (NotHDF5Error, MarkedFile):
        raise
    except (OSError, ValueError) as exc:
        if "already open for write" in str(exc):
            raise NotHDF5Error(
                "another program has the file open for writing (HDF5's writer flags are "
                "set); if none has, its writer was killed before it let readers in: "
                "h5model.persist.streaming.repair(path) clears them (a file an h5model "
                "writer left is repaired by opening it with mode 'r+')", file=label) from None
        raise NotHDF5Error(f"cannot be opened as HDF5 ({exc})", file=label) from None


def check_regular_file(path: Path) -> None:
    """Refuse, before opening, what is not a regular file: reading a FIFO or a device
    blocks or never ends, and a symbolic-link loop has no file behind it."""
    label = str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotHDF5Error("a loop of symbolic links, not a file", file=label) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileMissingError("no such file", file=label) from None
        raise NotHDF5Error(f"cannot be read ({exc.strerror})", file=label) from None
    if stat.S_ISDIR(info.st_mode):
        raise NotHDF5Error("is a folder, not an HDF5 file", file=label)
    if not stat.S_ISREG(info.st_mode):
        raise NotHDF5Error("not a regular file (a FIFO, socket or device is never read)",
                           file=label)
