"""A progress line on a terminal, for runs long enough to need one.

Nothing is printed when the stream is not a terminal (logs, pipes, CI), nor
during the first half second, so short runs stay silent.
"""

from __future__ import annotations

import time
from typing import TextIO

DELAY = 0.5
"""Seconds before the first line appears."""
INTERVAL = 0.1
"""Seconds between two updates of the line."""


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError


class Progress:
    """Counts bytes written against an expected total; redraws one line in place."""

    def __init__(self, stream: TextIO | None, total: int, label: str) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self.started = time.monotonic()
        self.shown = 0.0
        self.visible = False

    def __call__(self, count: int) -> None:
        self.done += count
        if self.stream is None:
            return
        now = time.monotonic()
        if now - self.started < DELAY or now - self.shown < INTERVAL:
            return
        self.shown = now
        self._draw()

    def _draw(self) -> None:
        assert self.stream is not None
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(share * 30)
        line = (
            f"\r{self.label}: [{bar:<30}] {share:4.0%}  {_size(self.done)} of {_size(self.total)}"
        )
        self.stream.write(line)
        self.stream.flush()
        self.visible = True

    def finish(self) -> None:
        """Complete the line (if one was shown) so the next output starts on its own line."""
        if self.stream is not None and self.visible:
            self.done = max(self.done, self.total)
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
