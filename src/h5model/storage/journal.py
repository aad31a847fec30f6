"""Crash-safe saves: an undo journal of the bytes a save overwrites.

HDF5 has no transactions, and copying a 1 GB file to change one attribute is
not an option. So a save writes through ``JournaledFile``, a file object that
h5py's ``fileobj`` driver calls for every read and write: before any byte of the
original file is overwritten, its old content goes to a journal beside the file
(record by record, each checksummed and synced first). Bytes appended past the
old end need no record. When the save has been written and synced, a commit
record and then deleting the journal commit it. If the process dies before
that, ``h5model recover`` (or the next writer) puts every recorded byte back and
the old length: the old state, exactly. A torn last record is ignored, because
its write never started.

Only h5model knows the journal, so other readers (pynwb, h5py, MATLAB) must not read
the file while it may be half written: the save first journals the 8-byte HDF5
signature and overwrites it with ``MARKER`` (libhdf5 then refuses the file as not
HDF5), and puts it back as its last write before the commit record; a rollback puts
it back last too (its record is the first). Saves use this journal only where the
file cannot be replaced whole (see ``replace``).

A journal is applied only when it proves it belongs to the file as it is now,
because applying one writes into the file: it must be a regular file (never
followed through a symbolic link) owned by the file's owner (or by whoever
recovers), and its checksummed header must name the file's device and inode,
with the file's size inside the range the save recorded before every resize.
Anything else is reported and left alone. Reading never applies a journal.

Layout: a header ``magic, version, device, inode, size`` followed by a digest of
itself, then records ``kind, a, b, crc32`` (the crc covers the record and its
body): ``UNDO`` (offset, length; the old bytes follow), ``BOUNDS`` (the smallest
and largest size the file may have been given) and ``COMMIT`` (the final size).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from h5model.errors import H5ModelError
from h5model.storage.oslock import lock, unlock
from h5model.storage.replace import fsync_folder

MAGIC = b"H5MJOURN"
VERSION = 2
_OLD_MAGIC = b"H5MJRNL1"  # the unverifiable format of earlier releases
_HEADER = struct.Struct("<8sHHIQQQ")  # magic, version, 0, 0, device, inode, size
_DIGEST_SIZE = 16
HEADER_SIZE = _HEADER.size + _DIGEST_SIZE
_RECORD = struct.Struct("<BQQI")  # kind, a, b, crc32 of the packed (kind, a, b) and body
UNDO, BOUNDS, COMMIT = 1, 2, 3
_U64 = (1 << 64) - 1
_HEADROOM = 16 << 20
"""A save that grows the file records a new largest size with this much room to spare,
so that a save appending gigabytes syncs a bounds record now and then, not per write."""

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MARKER = b"\x89H5Msave"
"""Stands in for the HDF5 signature while a journaled save writes in place: no HDF5
reader opens the file then, so none can read half old, half new bytes."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class JournalError(H5ModelError):
    """A journal beside the file stops this command (see ``h5model recover``)."""

    def __init__(self, message: str, *, file: Path, journal: Path) -> None:
        self.journal = journal
        super().__init__(message, file=file)


class InterruptedSave(JournalError):
    """A save died part way: the file may be half old, half new until it is rolled back."""

    def __init__(self, file: Path, journal: Path) -> None:
        super().__init__(
            f"a save of this file was interrupted and left its journal {journal}; run "
            f"`h5model recover {file}` (or open the file for writing) to roll the file back "
            "to its state before that save. Read-only commands change nothing and stop here",
            file=file, journal=journal,
        )


class MarkedFile(JournalError):
    """The file's HDF5 signature is replaced by a save in place that did not finish."""

    def __init__(self, file: Path) -> None:
        super().__init__(
            "a save of this file in place was interrupted and left it marked unreadable (its "
            "HDF5 signature replaced, so that no reader sees half a save); run "
            f"`h5model recover {file}` to roll it back",
            file=file, journal=journal_path(file),
        )


class ForeignJournal(JournalError):
    """A journal that does not prove it belongs to the file: never applied."""

    def __init__(self, file: Path, journal: Path, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"{journal} does not prove that it belongs to this file ({reason}); h5model "
            "never applies such a journal and left it alone. If no save of this file was "
            "interrupted, delete it",
            file=file, journal=journal,
        )


def journal_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.h5model-journal")


def _header(device: int, inode: int, size: int) -> bytes:
    head = _HEADER.pack(MAGIC, VERSION, 0, 0, device & _U64, inode & _U64, size)
    return head + hashlib.blake2b(head, digest_size=_DIGEST_SIZE).digest()


def _record(kind: int, a: int, b: int, body: bytes = b"") -> bytes:
    crc = zlib.crc32(body, zlib.crc32(struct.pack("<BQQ", kind, a, b)))
    return _RECORD.pack(kind, a, b, crc) + body


# -- writing: the save side -------------------------------------------------------------------
class JournaledFile:
    """A read/write file object for h5py that journals overwritten bytes before writing.

    The journal is created exclusively (never through an existing name or link), locked
    for as long as the save runs (so that readers of any user can tell a live save from
    a crash), owned like the file and no more readable than it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._journal_path = journal_path(path)
        self._file: BinaryIO = open(path, "r+b")  # noqa: SIM115 - closed in close()
        info = os.fstat(self._file.fileno())
        self._position = 0
        self.original_size = info.st_size
        self._low = self._high = info.st_size
        try:
            fd = os.open(
                self._journal_path,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY, 0o600,
            )
        except FileExistsError:
            self._file.close()
            raise JournalError(
                f"a journal {self._journal_path} is already there; run `h5model recover "
                f"{path}` first",
                file=path, journal=self._journal_path,
            ) from None
        except BaseException:
            self._file.close()
            raise
        self._covered: list[tuple[int, int]] = []  # journaled [start, end) ranges, merged
        self._mark: tuple[int, bytearray] | None = None
        """(offset, the signature as HDF5 sees it) while the file on disk is marked."""
        try:
            with contextlib.suppress(OSError):
                lock(fd, shared=False, wait=False)
            _own_like(fd, info)
            self._journal: BinaryIO = os.fdopen(fd, "wb")
            self._journal.write(_header(info.st_dev, info.st_ino, info.st_size))
            self._sync_journal()
            fsync_folder(path.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            self._journal_path.unlink(missing_ok=True)  # created just now: nothing written
            self._file.close()
            raise
        self.closed = False
        try:
            self._mark_unreadable()
        except BaseException:
            self.abort()
            raise

    # -- the file-object protocol h5py's fileobj driver uses -------------------------------
    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = self._file.seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        self._file.seek(self._position)
        data = self._file.read(size)
        start = self._position
        self._position += len(data)
        if self._mark is None:
            return data
        buffer = bytearray(data)
        self._unmask(start, buffer)
        return bytes(buffer)

    def readinto(self, buffer: Any) -> int:
        self._file.seek(self._position)
        count: int = self._file.readinto(buffer)  # type: ignore[attr-defined]
        if self._mark is not None:
            self._unmask(self._position, memoryview(buffer).cast("B")[:count])
        self._position += count
        return count

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        start, end = self._position, self._position + len(view)
        self._protect(start, min(end, self.original_size))
        if end > self._high:
            self._bounds(self._low, max(end, self._high + max(self._high // 4, _HEADROOM)))
        if self._mark is None:
            self._file.seek(start)
            written = self._file.write(view)
        else:
            written = self._write_around_mark(start, view)
        self._position += written
        return written

    # -- the mark: other HDF5 readers refuse the file while it may be half written ---------
    def _mark_unreadable(self) -> None:
        """Journal the HDF5 signature, then overwrite it with ``MARKER`` (synced before
        any other byte changes): libhdf5, hence every other reader, refuses the file
        until the commit or a rollback puts the signature back. HDF5 still sees the
        signature through this object."""
        offset = signature_offset(self._file, self.original_size)
        if offset is None:
            return  # not an HDF5 file: nothing another reader could open anyway
        self._protect(offset, offset + len(SIGNATURE))
        self._file.seek(offset)
        self._file.write(MARKER)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._mark = (offset, bytearray(SIGNATURE))

    def _unmask(self, start: int, buffer: Any) -> None:
        """Show the bytes HDF5 wrote (or found) at the marked place."""
        assert self._mark is not None
        offset, true = self._mark
        low, high = max(start, offset), min(start + len(buffer), offset + len(true))
        if low < high:
            buffer[low - start : high - start] = true[low - offset : high - offset]

    def _write_around_mark(self, start: int, view: memoryview) -> int:
        """Write ``view`` at ``start``, keeping what falls on the marked bytes in memory."""
        assert self._mark is not None
        offset, true = self._mark
        end = start + len(view)
        low, high = max(start, offset), min(end, offset + len(true))
        if low >= high:
            self._file.seek(start)
            return self._file.write(view)
        true[low - offset : high - offset] = view[low - start : high - start]
        if start < low:
            self._file.seek(start)
            self._file.write(view[: low - start])
        if high < end:
            self._file.seek(high)
            self._file.write(view[high - start :])
        return len(view)

    def truncate(self, size: int | None = None) -> int:
        size = self._position if size is None else size
        self._protect(size, self.original_size)
        if size < self._low or size > self._high:
            self._bounds(min(self._low, size), max(self._high, size))
        return self._file.truncate(size)

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    # -- journaling -------------------------------------------------------------------------
    def _protect(self, start: int, end: int) -> None:
        """Journal the original bytes in [start, end) not journaled yet."""
        for gap_start, gap_end in self._gaps(start, end):
            self._file.seek(gap_start)
            old = self._file.read(gap_end - gap_start)
            self._journal.write(_record(UNDO, gap_start, len(old), old))
            self._sync_journal()
            self._cover(gap_start, gap_end)

    def _bounds(self, low: int, high: int) -> None:
        """Record, before the file is resized, the sizes it may take: a file found with
        another size after a crash is not the one this journal was made for."""
        self._journal.write(_record(BOUNDS, low, high))
        self._sync_journal()
        self._low, self._high = low, high

    def _gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        if start >= end:
            return []
        gaps = []
        cursor = start
        for a, b in self._covered:
            if b <= cursor:
                continue
            if a >= end:
                break
            if a > cursor:
                gaps.append((cursor, min(a, end)))
            cursor = max(cursor, b)
            if cursor >= end:
                break
        if cursor < end:
            gaps.append((cursor, end))
        return gaps

    def _cover(self, start: int, end: int) -> None:
        ranges = sorted([*self._covered, (start, end)])
        merged: list[tuple[int, int]] = []
        for a, b in ranges:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self._covered = merged

    def _sync_journal(self) -> None:
        self._journal.flush()
        os.fsync(self._journal.fileno())

    # -- commit / abort ------------------------------------------------------------------------
    def commit(self) -> None:
        """The save is complete: sync the file, mark the journal committed (from here on it
        is never applied), then drop it."""
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._mark is not None:  # the last write of the save: readable again
            offset, true = self._mark
            self._file.seek(offset)
            self._file.write(true)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._mark = None
        final_size = os.fstat(self._file.fileno()).st_size
        self._file.close()
        self._journal.write(_record(COMMIT, final_size, 0))
        self._sync_journal()
        if sys.platform == "win32":  # an open file cannot be deleted there
            self._journal.close()
            self._journal_path.unlink()
        else:  # deleted while still locked: no reader ever sees it unlocked
            self._journal_path.unlink()
            self._journal.close()
        fsync_folder(self.path.parent)
        self.closed = True

    def abort(self) -> None:
        """Something failed mid-save: put the old bytes back now."""
        self._file.flush()
        self._file.close()
        self._journal.close()
        roll_back(self.path)
        self.closed = True

    def close(self) -> None:
        """Called by h5py when it closes the file; commit/abort decide the journal's fate."""
        self._file.flush()


def signature_offset(handle: BinaryIO, size: int, signature: bytes = SIGNATURE) -> int | None:
    """Where ``signature`` starts: HDF5 looks at 0, 512, 1024, 2048... (after a user
    block), as libhdf5 does."""
    offset = 0
    while offset + len(signature) <= size:
        handle.seek(offset)
        if handle.read(len(signature)) == signature:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def marked_by_a_save(path: Path) -> bool:
    """True when a journaled save of ``path`` has replaced its HDF5 signature with
    ``MARKER`` (it died before putting it back, or is still running)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            return signature_offset(handle, size, MARKER) is not None
    except OSError:
        return False


def _own_like(fd: int, info: os.stat_result) -> None:
    """Give the journal just created the file's owner and group where we may, and no more
    read permission than the file has (it holds the file's old bytes)."""
    if sys.platform == "win32":
        return
    owner = info.st_uid if os.geteuid() == 0 else -1
    with contextlib.suppress(OSError):  # not everywhere allowed: then it stays ours
        os.fchown(fd, owner, info.st_gid)
    with contextlib.suppress(OSError):  # created 0600: never more open than that on failure
        os.fchmod(fd, (stat.S_IMODE(info.st_mode) & 0o444) | 0o200)


# -- reading a journal back ---------------------------------------------------------------------
@dataclass
class Journal:
    """A journal read back and checked against its own checksums."""

    path: Path
    torn: bool = False
    """The header never made it to disk: the save had not touched a byte of the file."""
    device: int = 0
    inode: int = 0
    size: int = 0
    low: int = 0
    high: int = 0
    committed: bool = False
    undo: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass
class Found:
    """A journal beside a file, as a reader sees it (nothing changed by looking)."""

    journal: Journal | None
    live: bool
    """A save holds it right now: wait for it instead of reading."""


class _Opened:
    """The journal opened without following links and checked to be a plain file of
    the file's owner."""

    def __init__(self, path: Path) -> None:
        self.file = path
        self.path = journal_path(path)
        if not _NOFOLLOW and self.path.is_symlink():
            raise ForeignJournal(path, self.path, "it is a symbolic link")
        try:
            self.fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _BINARY)
        except FileNotFoundError:
            raise
        except OSError as exc:
            reason = ("it is a symbolic link" if self.path.is_symlink()
                      else f"it cannot be opened: {exc.strerror or exc}")
            raise ForeignJournal(path, self.path, reason) from None
        try:
            self.info = os.fstat(self.fd)
            self._check(os.stat(path))
        except BaseException:
            self.close()
            raise

    def _check(self, file_info: os.stat_result) -> None:
        info = self.info
        if not stat.S_ISREG(info.st_mode):
            raise ForeignJournal(self.file, self.path, "it is not a regular file")
        if info.st_nlink != 1:
            raise ForeignJournal(self.file, self.path, "it has other names (hard links)")
        if sys.platform != "win32":
            owners = {file_info.st_uid, os.geteuid()}
            if info.st_uid not in owners:
                raise ForeignJournal(
                    self.file, self.path,
                    f"it is owned by user {info.st_uid}, the file by user {file_info.st_uid}",
                )

    def held_by_a_save(self, *, exclusive: bool) -> bool:
        """True when a live save holds the journal's lock. Otherwise the lock is ours now
        (shared or exclusive) until ``close``."""
        try:
            return not lock(self.fd, shared=not exclusive, wait=False)
        except OSError:
            return False  # no locks on this file system: a save holds the saving lock

    def read(self) -> Journal:
        chunks = []
        with os.fdopen(os.dup(self.fd), "rb") as handle:
            handle.seek(0)
            while chunk := handle.read(1 << 24):
                chunks.append(chunk)
        return _parse(self.file, self.path, b"".join(chunks))

    def remove(self) -> None:
        """Delete the journal (checked, and still the one at its name) and close it."""
        try:
            now = os.lstat(self.path)
        except FileNotFoundError:
            self.close()
            return
        if (now.st_dev, now.st_ino) != (self.info.st_dev, self.info.st_ino):
            self.close()
            raise ForeignJournal(self.file, self.path, "it was replaced while being read")
        if sys.platform == "win32":
            self.close()
        self.path.unlink()
        fsync_folder(self.path.parent)
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                unlock(self.fd)
            os.close(self.fd)
            self.fd = -1


def _parse(file: Path, path: Path, data: bytes) -> Journal:
    if len(data) < HEADER_SIZE:
        if data.startswith(_OLD_MAGIC):
            raise ForeignJournal(file, path, "it was written by an earlier h5model, in a "
                                 "format that does not record which file it belongs to")
        if MAGIC.startswith(data[: len(MAGIC)]):
            return Journal(path, torn=True)
        raise ForeignJournal(file, path, "it is not an h5model journal")
    head = data[: _HEADER.size]
    magic, version, _, _, device, inode, size = _HEADER.unpack(head)
    if magic != MAGIC:
        if magic == _OLD_MAGIC:
            raise ForeignJournal(file, path, "it was written by an earlier h5model, in a "
                                 "format that does not record which file it belongs to")
        raise ForeignJournal(file, path, "it is not an h5model journal")
    digest = hashlib.blake2b(head, digest_size=_DIGEST_SIZE).digest()
    if data[_HEADER.size : HEADER_SIZE] != digest:
        raise ForeignJournal(file, path, "its header fails its checksum")
    if version != VERSION:
        raise ForeignJournal(file, path, f"journal format {version}, this h5model reads "
                             f"{VERSION}")
    journal = Journal(path, device=device, inode=inode, size=size, low=size, high=size)
    offset = HEADER_SIZE
    while offset + _RECORD.size <= len(data):
        kind, a, b, crc = _RECORD.unpack_from(data, offset)
        body_size = b if kind == UNDO else 0
        end = offset + _RECORD.size + body_size
        body = data[offset + _RECORD.size : end]
        if end > len(data) or zlib.crc32(body, zlib.crc32(struct.pack("<BQQ", kind, a, b))) != crc:
            break  # torn record: the write it guarded never began
        if kind == UNDO:
            if a + b > size:
                raise ForeignJournal(file, path, "a record lies outside the recorded file")
            journal.undo.append((a, body))
        elif kind == BOUNDS:
            journal.low, journal.high = min(journal.low, a), max(journal.high, b)
        elif kind == COMMIT:
            journal.committed = True
        else:
            break
        offset = end
    return journal


def _check_file(journal: Journal, file: Path, info: os.stat_result) -> None:
    """The file is the one this journal was made for, in a state its save could leave."""
    if (info.st_dev & _U64, info.st_ino & _U64) != (journal.device, journal.inode):
        raise ForeignJournal(
            file, journal.path,
            f"it was made for device {journal.device}, inode {journal.inode}; the file is "
            f"device {info.st_dev & _U64}, inode {info.st_ino & _U64} (replaced since?)",
        )
    if not journal.low <= info.st_size <= journal.high:
        raise ForeignJournal(
            file, journal.path,
            f"the file is {info.st_size} bytes; the save it records left it between "
            f"{journal.low} and {journal.high} bytes (changed since?)",
        )


def examine(path: Path) -> Found:
    """What a journal beside ``path`` says, without changing anything (for readers).

    Raises ``ForeignJournal`` for one that does not prove it belongs to the file."""
    try:
        opened = _Opened(path)
    except FileNotFoundError:
        return Found(None, live=False)
    try:
        if opened.held_by_a_save(exclusive=False):
            return Found(None, live=True)
        journal = opened.read()
        if not journal.torn and not journal.committed:
            _check_file(journal, path, os.stat(path))
        return Found(journal, live=False)
    finally:
        opened.close()


@dataclass
class Recovery:
    """What rolling back did, in words for the user."""

    done: str


def roll_back(path: Path) -> Recovery | None:
    """Undo an interrupted save of ``path``; None if there was none.

    The caller holds the right to write the file. A journal that does not prove it belongs
    to the file raises ``ForeignJournal`` and stays as it is."""
    try:
        opened = _Opened(path)
    except FileNotFoundError:
        return None
    try:
        if opened.held_by_a_save(exclusive=True):
            raise H5ModelError(
                f"another process is saving this file right now (its journal {opened.path} "
                "is in use); try again when it is done",
                file=path,
            )
        journal = opened.read()
        if journal.torn:
            opened.remove()
            return Recovery("the interrupted save had not yet changed the file; removed "
                            f"its empty journal {journal.path}")
        if journal.committed:
            opened.remove()
            return Recovery("the interrupted save had completed; removed its leftover "
                            f"journal {journal.path}")
        with open(path, "r+b") as handle:
            _check_file(journal, path, os.fstat(handle.fileno()))
            for start, body in reversed(journal.undo):
                handle.seek(start)
                handle.write(body)
            handle.truncate(journal.size)
            handle.flush()
            os.fsync(handle.fileno())
        opened.remove()
        restored = sum(len(body) for _, body in journal.undo)
        return Recovery(
            f"rolled back an interrupted save: restored {restored} bytes in "
            f"{len(journal.undo)} places and the size of {journal.size} bytes"
        )
    finally:
        opened.close()
