"""Files read where they live: ``http(s)://``, ``s3://`` or any fsspec URL, by byte ranges.

h5py reads a Python file object through its own HDF5 driver; ``RemoteFile`` is that
object. HDF5 asks for metadata in many small reads scattered over the file, so those go
through fsspec's block cache: a miss fetches one whole block (``BLOCK_SIZE``), and the
next reads nearby are served from memory. Bulk data is read only when an array is
sliced, inside ``reading_data()``: then a read that the cache does not already hold is
fetched as exactly the bytes HDF5 asked for (one chunk, or the contiguous rows), so a
slice costs the chunks it needs and never drags neighbouring blocks along. The whole
file is never downloaded.

A fetch that fails (a dropped connection, a response cut short) is tried again, at most
``ATTEMPTS`` times in all, then raises ``RemoteReadError`` naming the URL and the bytes.
fsspec (and aiohttp for HTTP) are the optional extra ``h5model[remote]``.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import re
import time
import weakref
from collections.abc import Iterator
from typing import Any

import h5py

from h5model.errors import H5ModelError, NotHDF5Error, ReadOnlyError

BLOCK_SIZE = 1 << 20
"""Bytes per block of metadata fetched. Measured on the 6,500-object benchmark file
(9 MiB, most of it metadata) and on a 0.5 GiB file of one chunked series: 1 MiB blocks
take 9 and 2 range requests to build the graph, 256 KiB ones 34 and 2, 64 KiB ones 132
and 4 (see benchmarks/README.md)."""
MAX_BLOCKS = 128
"""Blocks kept (least recently used dropped first): at most 128 MiB of cached metadata."""
ATTEMPTS = 3
"""Tries of one fetch before it fails: the first and two retries."""
RETRY_WAIT = 0.05
"""Seconds before the first retry, doubled before each next."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
SIGNATURE = b"\x89HDF\r\n\x1a\n"
_handles: weakref.WeakKeyDictionary[h5py.File, RemoteFile] = weakref.WeakKeyDictionary()


class RemoteReadError(NotHDF5Error):
    """Bytes of a remote file could not be fetched (after the retries)."""

    rule = "file.unreadable"


def is_url(path: object) -> bool:
    """True for ``scheme://...`` text (a URL fsspec reads), False for a local path."""
    return isinstance(path, str) and _SCHEME.match(path) is not None


READ_ONLY = "a remote file is read-only: copy it to a local file to edit it"


def read_only(url: str) -> ReadOnlyError:
    """The error for opening a remote file to write, or saving one."""
    return ReadOnlyError(READ_ONLY, file=url)


def _fsspec() -> Any:
    try:
        import fsspec
        import fsspec.caching
    except ImportError:
        raise H5ModelError(
            "reading a URL needs fsspec (and aiohttp for http/https): "
            "pip install 'h5model[remote]'"
        ) from None
    return fsspec


class RemoteFile(io.RawIOBase):
    """A read-only, seekable file object over one URL, for ``h5py.File``."""

    def __init__(self, url: str) -> None:
        super().__init__()
        fsspec = _fsspec()
        self.url = url
        try:
            self._fs, self._path = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:  # e.g. s3:// without s3fs installed
            raise H5ModelError(f"cannot read this URL ({exc})", file=url) from None
        info = self._retried(lambda: self._fs.info(self._path), "asking for the file's size")
        if info.get("type", "file") != "file" or not isinstance(info.get("size"), int):
            raise NotHDF5Error("not a file (no size known)", file=url)
        self.size: int = info["size"]
        self.identity = _identity(info)
        """What changes when the file does (ETag, else modification time), with its size."""
        self._pos = 0
        self._bulk = 0
        self._cached_blocks: set[int] = set()
        self._blocks = fsspec.caching.BlockCache(
            BLOCK_SIZE, self._fetch_block, self.size, maxblocks=MAX_BLOCKS
        )

    # -- what h5py asks ------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        start = self._pos
        end = min(start + len(view), self.size)
        if start >= end:
            return 0
        if self._bulk and not self._held(start, end):
            data = self._fetch(start, end)
        else:
            data = self._blocks._fetch(start, end)
        view[: len(data)] = data
        self._pos = start + len(data)
        return len(data)

    def writable(self) -> bool:
        return False

    def pread(self, size: int, offset: int) -> bytes:
        """``size`` bytes at ``offset`` (fewer at the end), through the block cache, without
        moving the position HDF5 reads from."""
        return bytes(self._blocks._fetch(offset, min(offset + size, self.size)))

    # -- reading data --------------------------------------------------------------------------
    @contextlib.contextmanager
    def reading_data(self) -> Iterator[None]:
        """Around a slice of an array: fetch what the cache lacks as exactly the bytes asked."""
        self._bulk += 1
        try:
            yield
        finally:
            self._bulk -= 1

    def _held(self, start: int, end: int) -> bool:
        first, last = start // BLOCK_SIZE, (end - 1) // BLOCK_SIZE
        return all(block in self._cached_blocks for block in range(first, last + 1))

    def _fetch_block(self, start: int, end: int) -> bytes:
        data = self._fetch(start, min(end, self.size))
        self._cached_blocks.add(start // BLOCK_SIZE)
        return data

    def _fetch(self, start: int, end: int) -> bytes:
        """Bytes [start, end) in one range request, retried; never fewer than asked."""

        def once() -> bytes:
            data = self._fs.cat_file(self._path, start=start, end=end)
            if len(data) != end - start:
                raise OSError(f"the response held {len(data)} of {end - start} bytes")
            return bytes(data)

        data: bytes = self._retried(once, f"reading bytes {start}-{end - 1}")
        return data

    def _retried(self, work: Any, what: str) -> Any:
        wait = RETRY_WAIT
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return work()
            except FileNotFoundError:
                from h5model.errors import FileMissingError

                raise FileMissingError("no such file at this URL", file=self.url) from None
            except PermissionError as exc:
                raise NotHDF5Error(f"access refused ({exc})", file=self.url) from None
            except Exception as exc:  # the network's errors have no common base class
                if attempt == ATTEMPTS:
                    raise RemoteReadError(
                        f"{what} failed {ATTEMPTS} times ({type(exc).__name__}: "
                        f"{str(exc) or 'no detail'})", file=self.url) from None
                time.sleep(wait)
                wait *= 2
        raise AssertionError("unreachable")


def _identity(info: dict[str, Any]) -> str:
    tag = info.get("ETag") or info.get("etag") or info.get("LastModified") \
        or info.get("Last-Modified") or info.get("mtime") or info.get("last_modified") or ""
    return f"{info['size']}:{str(tag).strip(chr(34))}"


def open_url(url: str) -> h5py.File:
    """The remote file at ``url`` opened read-only through h5py (``RemoteFile`` behind it)."""
    handle = RemoteFile(url)
    try:
        h5 = h5py.File(handle, "r")
    except RemoteReadError as exc:
        raise exc.located("/") from None
    except H5ModelError:
        raise
    except (OSError, ValueError) as exc:
        if handle.pread(len(SIGNATURE), 0) != SIGNATURE:
            raise NotHDF5Error("not an HDF5 file (no HDF5 signature)", file=url,
                               rule="file.not-hdf5") from None
        raise NotHDF5Error(f"cannot be opened as HDF5 ({exc})", file=url,
                           rule="file.unreadable") from None
    _handles[h5] = handle
    return h5


def handle_of(h5: h5py.File) -> RemoteFile | None:
    """The ``RemoteFile`` an h5py file opened by ``open_url`` reads through, else None."""
    return _handles.get(h5)


@atexit.register
def _close_open_files() -> None:
    """Close remote files left open before the interpreter takes their file objects apart
    (HDF5 closing a file object driver after that crashes the process)."""
    for h5 in list(_handles):
        with contextlib.suppress(Exception):
            h5.close()


def fetch_small(url: str, limit: int) -> bytes | None:
    """The whole of a small remote file in one request (None if there is none at ``url``);
    at most ``limit`` + 1 bytes are asked for, so that a larger one shows as too large."""
    fsspec = _fsspec()
    try:
        fs, path = fsspec.core.url_to_fs(url)
        return bytes(fs.cat_file(path, start=0, end=limit + 1))
    except FileNotFoundError:
        return None
    except Exception as exc:  # the network's errors have no common base class
        raise RemoteReadError(f"cannot be fetched ({type(exc).__name__}: "
                              f"{str(exc) or 'no detail'})", file=url) from None
