"""The HDF5 superblock's file-consistency flags, read and cleared.

A file written in SWMR mode (superblock version 3) carries flags saying a writer
has it open; a writer killed before it closed the file leaves them set, and every
later open but a SWMR read then fails ("file is already open for write"). HDF5's
own remedy is the ``h5clear`` tool; h5py has no binding for it. Clearing needs
only the flags byte and the superblock's checksum (Jenkins' lookup3, as HDF5
computes it), so it is done here, after the checksum of the superblock as found has
been verified: a superblock this code does not read exactly is never written.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from h5model.errors import H5ModelError

SIGNATURE = b"\x89HDF\r\n\x1a\n"
WRITE_ACCESS = 0x01
SWMR_WRITE_ACCESS = 0x04
_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' ``hashlittle`` (lookup3), the checksum of HDF5's metadata."""
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & _MASK
    offset = 0
    while length - offset > 12:
        k0, k1, k2 = struct.unpack_from("<3I", data, offset)
        a = (a + k0) & _MASK
        b = (b + k1) & _MASK
        c = (c + k2) & _MASK
        a = (a - c) & _MASK; a ^= _rot(c, 4); c = (c + b) & _MASK  # noqa: E702
        b = (b - a) & _MASK; b ^= _rot(a, 6); a = (a + c) & _MASK  # noqa: E702
        c = (c - b) & _MASK; c ^= _rot(b, 8); b = (b + a) & _MASK  # noqa: E702
        a = (a - c) & _MASK; a ^= _rot(c, 16); c = (c + b) & _MASK  # noqa: E702
        b = (b - a) & _MASK; b ^= _rot(a, 19); a = (a + c) & _MASK  # noqa: E702
        c = (c - b) & _MASK; c ^= _rot(b, 4); b = (b + a) & _MASK  # noqa: E702
        offset += 12
    tail = data[offset:]
    if not tail:
        return int(c)
    k0, k1, k2 = struct.unpack("<3I", tail.ljust(12, b"\0"))
    a = (a + k0) & _MASK
    b = (b + k1) & _MASK
    c = (c + k2) & _MASK
    c ^= b; c = (c - _rot(b, 14)) & _MASK  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & _MASK  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & _MASK  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & _MASK  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & _MASK  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & _MASK  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & _MASK  # noqa: E702
    return int(c)


def _find(handle: int, size: int) -> int | None:
    """Offset of the superblock: 0, 512, 1024, 2048... (after a user block)."""
    offset = 0
    while offset + 8 <= size:
        if os.pread(handle, 8, offset) == SIGNATURE:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def _superblock(handle: int) -> tuple[int, bytes] | None:
    """(offset, bytes) of a version 2 or 3 superblock with its checksum; None otherwise."""
    size = os.fstat(handle).st_size
    offset = _find(handle, size)
    if offset is None:
        return None
    head = os.pread(handle, 12, offset)
    if len(head) < 12 or head[8] < 2:
        return None  # versions 0 and 1 keep no such flags
    total = 12 + 4 * head[9] + 4
    return offset, os.pread(handle, total, offset)


def version(path: str | Path) -> int | None:
    """The superblock's version (3 is the one SWMR needs); None if none is found."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        offset = _find(handle, os.fstat(handle).st_size)
        return None if offset is None else os.pread(handle, 9, offset)[8]
    finally:
        os.close(handle)


def status_flags(path: str | Path) -> int:
    """The file-consistency flags (0 for a closed file or an older superblock)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return 0
    try:
        found = _superblock(handle)
    finally:
        os.close(handle)
    return found[1][11] if found is not None else 0


def is_open_for_swmr_write(path: str | Path) -> bool:
    """True while a SWMR writer has the file (or a killed one left its flags)."""
    return bool(status_flags(path) & SWMR_WRITE_ACCESS)


def clear_status_flags(path: str | Path) -> bool:
    """Clear the flags a killed writer left (as ``h5clear -s``); True if there were any.
    Call only while no writer has the file open."""
    handle = os.open(path, os.O_RDWR)
    try:
        found = _superblock(handle)
        if found is None or found[1][11] == 0:
            return False
        offset, block = found
        stored = struct.unpack_from("<I", block, len(block) - 4)[0]
        if lookup3(block[:-4]) != stored:
            raise H5ModelError("the superblock's checksum does not match its bytes; its "
                               "writer flags were left as they are (try h5clear -s)",
                               file=path)
        fixed = block[:11] + b"\0" + block[12:-4]
        os.pwrite(handle, fixed + struct.pack("<I", lookup3(fixed)), offset)
        os.fsync(handle)
        return True
    finally:
        os.close(handle)
