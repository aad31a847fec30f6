"""A writer thread between an acquisition loop and the disk.

The loop hands batches to ``append`` and goes on: a bounded queue holds them
until the thread writes them, so the loop waits on disk only when the queue is
full (then ``append`` blocks, or raises ``QueueFull`` if asked not to block;
nothing is ever dropped). Batches tagged with an index (a frame or trial number,
as from a pool of worker processes finishing out of order) are held until every
earlier index has arrived, then written in index order. An error in the thread is
raised to the caller at its next ``append``, ``flush`` or ``close`` (batches queued
behind it meanwhile are kept in ``unwritten``, never dropped unsaid); indices that
never arrived are named at ``close`` (``MissingBatchesError``), after the batches
held behind them were written in order, so that no batch is lost or silently
skipped.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from typing import Any

from h5model.errors import H5ModelError

_STOP = object()
_IDLE_SECONDS = 0.05
"""How often an idle writer thread asks whether a flush is due."""


class QueueFull(H5ModelError):
    """The queue is full and the caller asked not to wait."""


class MissingBatchesError(H5ModelError):
    """Indices that never arrived before ``close``."""

    def __init__(self, message: str, missing: list[int], **where: Any) -> None:
        self.missing = missing
        super().__init__(message, **where)


class BackgroundWriter:
    """``write(batch)`` called from one background thread, in order; ``tick()`` (the
    flush policy) after writes and while idle; ``flush()`` on request and at close."""

    def __init__(self, write: Callable[[Any], Any], *, flush: Callable[[], None] | None = None,
                 tick: Callable[[], None] | None = None, queue_size: int = 256,
                 block: bool = True, first_index: int | None = None,
                 label: str | None = None) -> None:
        self._write = write
        self._flush = flush
        self._tick = tick
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self.block = block
        """True: ``append`` waits while the queue is full; False: it raises ``QueueFull``."""
        self.label = label
        self._next = first_index
        self._held: dict[int, Any] = {}
        self._gaps: list[int] = []
        self._lock = threading.Lock()
        self._skipped: list[Any] = []
        self.unwritten: list[Any] = []
        """Batches queued after an error and not written (the error's note says so)."""
        self._error: BaseException | None = None
        self._closed = False
        self.written = 0
        """Batches written so far."""
        self._thread = threading.Thread(target=self._run, name="h5model-writer", daemon=True)
        self._thread.start()

    # -- the caller's side -----------------------------------------------------------------------
    def append(self, batch: Any, index: int | None = None, *, block: bool | None = None,
               timeout: float | None = None) -> None:
        """Queue one batch (tagged with ``index`` to be written in index order)."""
        self._raise_error()
        if self._closed:
            raise H5ModelError("the writer is closed", file=self.label)
        wait = self.block if block is None else block
        try:
            self._queue.put((index, batch), block=wait, timeout=timeout)
        except queue.Full:
            raise QueueFull(f"the writer's queue is full ({self._queue.maxsize} batches): the "
                            "disk is behind the acquisition", file=self.label) from None

    def flush(self) -> None:
        """Wait until every batch queued so far is written and flushed."""
        self._raise_error()
        done = threading.Event()
        self._queue.put(("flush", done))
        while not done.wait(0.1):
            if not self._thread.is_alive():
                break
        self._raise_error()

    def close(self) -> None:
        """Write everything queued, flush, stop the thread; raise what went wrong."""
        if self._closed:
            self._raise_error()
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._raise_error()
        if self._gaps:
            missing = self._gaps
            raise MissingBatchesError(
                f"batches {_ranges(missing)} never arrived; the {len(self._held)} batches "
                "after them were written in index order once the writer closed",
                missing, file=self.label)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _raise_error(self) -> None:
        error = self._error
        if error is None:
            return
        with self._lock:
            skipped, self._skipped = self._skipped, []
            self._error = None
        if skipped:
            self.unwritten.extend(skipped)
            error.add_note(f"{len(skipped)} batch(es) queued after it were not written; "
                           "they are kept in writer.unwritten")
        raise error

    # -- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                self._guard(self._tick)
                continue
            if item is _STOP:
                self._drain_held()
                self._guard(self._flush)
                return
            index, batch = item
            if index == "flush":
                self._guard(self._flush)
                batch.set()
                continue
            with self._lock:
                if self._error is not None:  # kept, not written, until the caller has seen it
                    self._skipped.append(batch)
                    continue
            self._guard(functools.partial(self._take, index, batch))
            self._guard(self._tick)

    def _take(self, index: int | None, batch: Any) -> None:
        if index is None:
            self._write(batch)
            self.written += 1
            return
        if self._next is None:
            self._next = 0
        if index < self._next or index in self._held:
            raise H5ModelError(f"batch {index} arrived twice", file=self.label)
        self._held[index] = batch
        while self._next in self._held:
            self._write(self._held.pop(self._next))
            self.written += 1
            self._next += 1

    def _drain_held(self) -> None:
        """At close: write what waits behind indices that never came, in order, and note
        the indices missing."""
        if not self._held or self._error is not None:
            return
        expected = self._next if self._next is not None else 0
        for index in sorted(self._held):
            self._gaps.extend(range(expected, index))
            expected = index + 1
        held = [self._held[i] for i in sorted(self._held)]
        for batch in held:
            self._guard(functools.partial(self._write, batch))
        self.written += len(held)

    def _guard(self, call: Callable[[], Any] | None) -> None:
        if call is None or self._error is not None:
            return
        try:
            call()
        except BaseException as exc:  # reaches the caller at its next call
            self._error = exc


def _ranges(numbers: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``3-5, 9``."""
    parts: list[str] = []
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif prev is not None and n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}-{prev}" if start != prev else f"{start}")
            start = prev = n
    if start is not None:
        parts.append(f"{start}-{prev}" if start != prev else f"{start}")
    return ", ".join(parts)
