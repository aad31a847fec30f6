"""Crash-safe saves: an undo journal of the bytes a save overwrites.

HDF5 has no transactions, and copying a 1 GB file to change one attribute is
not an option. So a save writes through ``JournaledFile``, a file object that
h5py's ``fileobj`` driver calls for every read and write: before any byte of the
original file is overwritten, its old content goes to a journal beside the file
(record by record, each checksummed and synced first). Bytes appended past the
old end need no record. When the save has been written and synced, deleting the
journal commits it. If the process dies before that, the next open finds the
journal and puts every recorded byte back and the old length: the old state,
exactly. A torn last record is ignored, because its write never started.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"H5MJRNL1"
_HEADER = struct.Struct("<8sQ")  # magic, original file size
_RECORD = struct.Struct("<QQI")  # offset, length, crc32 of the old bytes


def journal_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.h5model-journal")


def _fsync_dir(folder: Path) -> None:
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


class JournaledFile:
    """A read/write file object for h5py that journals overwritten bytes before writing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO = open(path, "r+b")  # noqa: SIM115 - closed in close()
        self._position = 0
        self.original_size = os.fstat(self._file.fileno()).st_size
        self._journal_path = journal_path(path)
        self._journal: BinaryIO = open(self._journal_path, "xb")  # noqa: SIM115
        self._journal.write(_HEADER.pack(MAGIC, self.original_size))
        self._sync_journal()
        _fsync_dir(path.parent)
        self._covered: list[tuple[int, int]] = []  # journaled [start, end) ranges, merged
        self.closed = False

    # -- the file-object protocol h5py's fileobj driver uses -------------------------------
    def seek(self, offset: int, whence: int = 0) -> int:
        self._position = self._file.seek(offset, whence)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        self._file.seek(self._position)
        data = self._file.read(size)
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        self._file.seek(self._position)
        count: int = self._file.readinto(buffer)  # type: ignore[attr-defined]
        self._position += count
        return count

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        start, end = self._position, self._position + len(view)
        self._protect(start, min(end, self.original_size))
        self._file.seek(start)
        written = self._file.write(view)
        self._position += written
        return written

    def truncate(self, size: int | None = None) -> int:
        size = self._position if size is None else size
        self._protect(size, self.original_size)
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
            self._journal.write(_RECORD.pack(gap_start, len(old), zlib.crc32(old)))
            self._journal.write(old)
            self._sync_journal()
            self._cover(gap_start, gap_end)

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
        """The save is complete: sync the file, then drop the journal (the commit point)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._journal.close()
        self._journal_path.unlink()
        _fsync_dir(self.path.parent)
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


def roll_back(path: Path) -> bool:
    """Undo an interrupted save of ``path``; True if there was one to undo."""
    journal = journal_path(path)
    if not journal.exists():
        return False
    data = journal.read_bytes()
    if len(data) < _HEADER.size:
        # the journal header never made it: no byte of the file was touched yet
        journal.unlink()
        _fsync_dir(path.parent)
        return True
    magic, original_size = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise OSError(f"{journal}: not an h5model journal; refusing to touch {path}")
    records = []
    offset = _HEADER.size
    while offset + _RECORD.size <= len(data):
        start, length, crc = _RECORD.unpack_from(data, offset)
        body = data[offset + _RECORD.size : offset + _RECORD.size + length]
        if len(body) != length or zlib.crc32(body) != crc:
            break  # torn record: the write it guarded never began
        records.append((start, body))
        offset += _RECORD.size + length
    with open(path, "r+b") as handle:
        for start, body in reversed(records):
            handle.seek(start)
            handle.write(body)
        handle.truncate(original_size)
        handle.flush()
        os.fsync(handle.fileno())
    journal.unlink()
    _fsync_dir(path.parent)
    return True
