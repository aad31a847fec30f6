"""A loopback HTTP server with byte-range support, for reading files as remote ones.

It serves the files it is given (by name) on 127.0.0.1, answers ``HEAD`` and ``GET`` with
or without a ``Range`` header (206 and ``Content-Range``, ``ETag`` and ``Last-Modified``
as object stores send them), and counts what it was asked for: requests, and bytes of
file data sent. It can wait before each answer (``latency``, to stand for a network) and
misbehave on purpose for the next few data requests (``faults``): ``"truncate"`` sends a
full ``Content-Length`` and half of the bytes then closes, ``"drop"`` closes the
connection without an answer. Used by the tests, the README examples and
``benchmarks/bench_remote.py``.
"""

from __future__ import annotations

import email.utils
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass
class Counts:
    """What the server was asked for since the last ``reset``."""

    requests: int = 0
    data_requests: int = 0
    """GETs (a HEAD asks for no data)."""
    bytes: int = 0
    """Bytes of file data sent (what a client that hung up early did not take is not)."""
    ranges: list[tuple[str, int, int]] = field(default_factory=list)
    """(file name, first byte, end) asked for by every GET, in order."""


class RangeServer:
    """``with RangeServer({"a.nwb": path}) as server: server.url("a.nwb")``."""

    def __init__(self, files: dict[str, Path], *, latency: float = 0.0) -> None:
        self.files = {name: Path(path) for name, path in files.items()}
        self.latency = latency
        self.faults: list[str | None] = []
        """Faults for the next data requests, one each, in order (None: answer well)."""
        self.counts = Counts()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{name}"

    def reset(self) -> Counts:
        """The counts so far; counting starts again from zero."""
        with self._lock:
            counts, self.counts = self.counts, Counts()
        return counts

    def start(self) -> RangeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- bookkeeping the handler calls ----------------------------------------------------------
    def _count(self, name: str, start: int, end: int, data: bool) -> str | None:
        """Count a request; the fault to play on it, if any."""
        with self._lock:
            self.counts.requests += 1
            if not data:
                return None
            self.counts.data_requests += 1
            self.counts.ranges.append((name, start, end))
            return self.faults.pop(0) if self.faults else None

    def _sent(self, size: int) -> None:
        with self._lock:
            self.counts.bytes += size


def _handler(server: RangeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: tests read their own output

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            if server.latency:
                time.sleep(server.latency)
            name = self.path.lstrip("/").split("?", 1)[0]
            path = server.files.get(name)
            if path is None or not path.is_file():
                server._count(name, 0, 0, data=False)
                self.send_error(404)
                return
            info = path.stat()
            size = info.st_size
            start, end, partial = 0, size, False
            wanted = self.headers.get("Range")
            if wanted is not None:
                match = _RANGE.match(wanted.strip())
                if match is None or int(match[1]) >= size:
                    server._count(name, 0, 0, data=False)
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(match[1])
                end = min(int(match[2]) + 1, size) if match[2] else size
                partial = True
            fault = server._count(name, start, end, data=body)
            if fault == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(206 if partial else 200)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start))
            self.send_header("ETag", f'"{info.st_ino:x}-{size:x}-{info.st_mtime_ns:x}"')
            self.send_header("Last-Modified", email.utils.formatdate(info.st_mtime, usegmt=True))
            if partial:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.end_headers()
            if not body:
                return
            if fault == "truncate":
                end = start + (end - start) // 2
            with path.open("rb") as handle:
                handle.seek(start)
                while start < end:  # counted as sent, piece by piece
                    piece = handle.read(min(end - start, 1 << 20))
                    try:
                        self.wfile.write(piece)
                    except OSError:  # the client went away (it had what it wanted)
                        self.close_connection = True
                        return
                    server._sent(len(piece))
                    start += len(piece)
            if fault == "truncate":
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler


@contextmanager
def serving(files: dict[str, Path], *, latency: float = 0.0) -> Iterator[RangeServer]:
    """A running server for ``files``, stopped on leaving."""
    with RangeServer(files, latency=latency) as server:
        yield server


def serve_folder(folder: Path) -> dict[str, Path]:
    """Every file directly in ``folder``, by name."""
    return {entry.name: folder / entry.name for entry in os.scandir(folder) if entry.is_file()}
