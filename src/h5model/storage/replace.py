"""Saves that never leave a half-written file: edit a clone, then swap it in.

Every reader (pynwb, h5py, MATLAB, HDFView) reads the file by its name, and none of
them knows h5model's journal. So a save writes its edits into a new file beside the
original, ``.NAME.h5model-new-XXXXXXXX``, and moves it over the original with one
atomic rename: at every instant the name holds the old state or the new one. The new
file starts as a copy-on-write clone of the original where the file system can make
one (``FICLONE`` on btrfs, XFS, bcachefs; ``clonefile`` on APFS): instant and without
using space for unchanged data. Elsewhere it starts as a plain copy, for files up to a
size limit (``H5MODEL_SAVE_COPY_LIMIT``, default 2 GiB) that fit the free space.

A rename gives the name a new inode, so it would split a file with other hard links
from them; such a file, and a large file with no clone, keep the journal (``journal``).

The new file is created exclusively (a symbolic link or anything else planted at its
name is never followed or reused) with no permissions for others; it gets the
original's mode and, where allowed, its owner and group before it is moved into place.
One left behind by a killed save is removed by the next writer of its owner, by name
and kind only (it is never read).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from h5model.errors import H5ModelError

SaveMethod = Literal["reflink", "copy", "journal"]
DEFAULT_COPY_LIMIT = 2 << 30
COPY_LIMIT_ENV = "H5MODEL_SAVE_COPY_LIMIT"
_FREE_MARGIN = 64 << 20
"""Room to leave free beyond a copy: the edits themselves may grow the file."""
_INFIX = ".h5model-new-"
_TOKEN = re.compile(r"[0-9a-f]{8}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS,
             errno.EPERM, errno.EBADF, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class NoReplace(Exception):
    """Neither a clone nor a copy is possible here; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def copy_limit(explicit: int | None = None) -> int:
    """The largest file a save copies when it cannot clone: ``explicit`` if given, else
    ``H5MODEL_SAVE_COPY_LIMIT`` (bytes, or with a K/M/G/T suffix in binary units),
    else 2 GiB."""
    if explicit is not None:
        if explicit < 0:
            raise ValueError("copy_limit must be 0 or more bytes")
        return explicit
    text = os.environ.get(COPY_LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_COPY_LIMIT
    match = re.fullmatch(r"(\d+)\s*([kmgt]?)(?:i?b)?", text.lower())
    if match is None:
        raise H5ModelError(f"{COPY_LIMIT_ENV}={text!r} is not a size: expected bytes, or a "
                           "number with K, M, G or T (e.g. 512M, 4G)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def temp_prefix(path: Path) -> str:
    return f".{path.name}{_INFIX}"


# -- cloning and copying -----------------------------------------------------------------------
def clone_into(source_fd: int, target_fd: int) -> bool:
    """Make the empty file ``target_fd`` a copy-on-write clone of ``source_fd`` (Linux
    ``FICLONE``); False where the file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import fcntl

    try:
        fcntl.ioctl(target_fd, _FICLONE, source_fd)
    except OSError as exc:
        if exc.errno in _NO_CLONE:
            return False
        raise
    return True


def clonefile(source: Path, target: Path) -> bool:
    """macOS ``clonefile(2)``: create ``target`` as a clone of ``source`` (the call
    refuses an existing ``target``, link or not); False where it is not available."""
    if sys.platform != "darwin":
        return False
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name, use_errno=True) if name else None
    function = getattr(libc, "clonefile", None)
    if function is None:
        return False
    clone_nofollow = 0x0001
    if function(os.fsencode(source), os.fsencode(target), clone_nofollow) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_CLONE:
        return False
    raise OSError(code, os.strerror(code), str(target))


def copy_into(source_fd: int, target_fd: int, size: int) -> None:
    """Copy ``size`` bytes from the start of ``source_fd`` into ``target_fd`` (in the
    kernel where it can: ``copy_file_range`` may itself share blocks)."""
    offset = 0
    fast = hasattr(os, "copy_file_range")
    while offset < size:
        if fast:
            try:
                count = os.copy_file_range(source_fd, target_fd, size - offset,
                                           offset, offset)
            except OSError as exc:
                if exc.errno not in _NO_CLONE:
                    raise
                fast = False
                continue
        else:
            os.lseek(source_fd, offset, os.SEEK_SET)
            os.lseek(target_fd, offset, os.SEEK_SET)
            chunk = os.read(source_fd, min(size - offset, 8 << 20))
            count = os.write(target_fd, chunk) if chunk else 0
        if count == 0:
            raise OSError(errno.EIO, "the file shrank while it was copied")
        offset += count


# -- the new file ------------------------------------------------------------------------------
@dataclass
class NewFile:
    """A clone or copy of ``original`` beside it, to be edited and moved over it."""

    original: Path
    """The file's real path (a symbolic link to it stays a link to the new file)."""
    path: Path
    method: SaveMethod
    reason: str
    _fd: int
    _source: os.stat_result

    @classmethod
    def beside(cls, original: Path, limit: int) -> NewFile:
        """Clone (or copy, up to ``limit`` bytes) ``original`` to a new file beside it.
        Raises ``NoReplace`` when the save must use the journal instead."""
        real = Path(os.path.realpath(original))
        try:
            source_fd = os.open(real, os.O_RDWR | _CLOEXEC | _BINARY)  # we may write it
        except OSError as exc:
            raise H5ModelError(f"cannot open the file for writing ({exc.strerror or exc})",
                               file=original) from None
        try:
            info = os.fstat(source_fd)
            if info.st_nlink > 1:
                raise NoReplace(f"the file has {info.st_nlink} hard links, which replacing "
                                "it would split")
            if sys.platform == "darwin":
                made = _clonefile_beside(real, info)
                if made is not None:
                    return made
            fd, path = _create_beside(real)
            try:
                if clone_into(source_fd, fd):
                    method: SaveMethod = "reflink"
                    reason = "the file system clones files (copy-on-write)"
                else:
                    method, reason = "copy", _may_copy(real, info.st_size, limit)
                    copy_into(source_fd, fd, info.st_size)
            except BaseException:
                os.close(fd)
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
            return cls(real, path, method, reason, fd, info)
        finally:
            os.close(source_fd)

    def is_opened_by(self, fd: int) -> bool:
        """True when ``fd`` (e.g. HDF5's own descriptor) is this very file: the name was
        not swapped between our creation and its opening."""
        mine, theirs = os.fstat(self._fd), os.fstat(fd)
        return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)

    def commit(self) -> None:
        """Give the new file the original's owner and mode, sync it, and move it over the
        original atomically; sync the folder so that the rename survives a power cut."""
        _own_like(self._fd, self._source)
        os.fsync(self._fd)
        now = os.lstat(self.path)
        if (now.st_dev, now.st_ino) != (os.fstat(self._fd).st_dev, os.fstat(self._fd).st_ino):
            raise H5ModelError(f"{self.path} was replaced during the save; the file is "
                               "unchanged", file=self.original)
        os.close(self._fd)
        self._fd = -1
        os.replace(self.path, self.original)
        fsync_folder(self.original.parent)

    def discard(self) -> None:
        """The save failed: remove the new file (the original was never touched)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            self.path.unlink()


def _may_copy(real: Path, size: int, limit: int) -> str:
    """Why a copy is fine here; raises ``NoReplace`` when it is not."""
    if size > limit:
        raise NoReplace(f"no copy-on-write clone on this file system and the file "
                        f"({_size(size)}) is over the copy limit ({_size(limit)}, "
                        f"{COPY_LIMIT_ENV})")
    free = shutil.disk_usage(real.parent).free
    if free < size + _FREE_MARGIN:
        raise NoReplace(f"no copy-on-write clone on this file system and too little free "
                        f"space for a copy ({_size(free)} free, the file is {_size(size)})")
    return f"no copy-on-write clone on this file system; the file ({_size(size)}) is " \
           f"within the copy limit ({_size(limit)})"


def _size(count: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= factor:
            return f"{count / factor:.1f} {unit}"
    return f"{count} bytes"


def _create_beside(real: Path) -> tuple[int, Path]:
    """A new, empty file next to ``real``, made exclusively: an existing name (a planted
    link included) is never opened, another random name is tried instead."""
    for _ in range(100):
        path = real.with_name(f"{temp_prefix(real)}{secrets.token_hex(4)}")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
                         | _BINARY, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise NoReplace(f"cannot create a file in {real.parent} "
                            f"({exc.strerror or exc})") from None
        return fd, path
    raise NoReplace(f"cannot find a free temporary name in {real.parent}")


def _clonefile_beside(real: Path, info: os.stat_result) -> NewFile | None:
    for _ in range(100):
        path = real.with_name(f"{temp_prefix(real)}{secrets.token_hex(4)}")
        try:
            if not clonefile(real, path):
                return None
        except FileExistsError:
            continue
        except OSError:
            return None
        fd = os.open(path, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
        return NewFile(real, path, "reflink", "the file system clones files (clonefile)",
                       fd, info)
    return None


def _own_like(fd: int, info: os.stat_result) -> None:
    """The original's owner and group where we may (root, or our own group), then its
    mode (after chown, which may clear set-id bits). Windows has neither."""
    if sys.platform == "win32":
        return
    owner = info.st_uid if os.geteuid() == 0 else -1
    with contextlib.suppress(OSError):
        os.fchown(fd, owner, info.st_gid)
    os.fchmod(fd, stat.S_IMODE(info.st_mode))


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- leftovers of killed saves -----------------------------------------------------------------
def remove_stale(original: Path) -> list[Path]:
    """Delete new files that killed saves of ``original`` left behind. The caller holds
    the writer lock, so no save of this file is under way. Only what is provably one
    of ours goes: our exact name pattern, a regular file (a link is never followed or
    removed), no other hard links, owned by us (or, for root, by the file's owner)."""
    real = Path(os.path.realpath(original))
    prefix = temp_prefix(real)
    try:
        owner = os.stat(real).st_uid
    except OSError:
        owner = None
    removed = []
    try:
        entries = list(os.scandir(real.parent))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix) or not _TOKEN.fullmatch(entry.name[len(prefix):]):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            continue
        if sys.platform != "win32":
            mine = {os.geteuid()} | ({owner} if os.geteuid() == 0 and owner is not None
                                     else set())
            if info.st_uid not in mine:
                continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def create_whole(target: Path, write: Callable[[Path], None],
                 error: type[H5ModelError] = H5ModelError) -> None:
    """A new file at ``target``, written by ``write`` into a temporary file beside it and
    then linked into place: nobody sees it half written, and a file that appeared at
    ``target`` meanwhile is never replaced (``error`` names it). The temporary file is
    removed whatever happens."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                    dir=target.parent)
    os.close(handle)
    partial = Path(name)
    try:
        write(partial)
        try:
            os.link(partial, target)  # fails if the destination appeared meanwhile
        except FileExistsError:
            raise error("refusing to overwrite an existing file", file=str(target)) from None
    finally:
        partial.unlink(missing_ok=True)
