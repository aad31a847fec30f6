"""Answers put back in file order, released as soon as every file before them is done.

Workers finish in any order; a report lists files sorted by path, every time, so two
runs over the same files (serial, local workers, Dask) print the same report, and a
streamed report is never reordered after it was printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class InOrder(Generic[T]):
    """Collects ``(index, item)`` in any order; ``add`` returns what can be released now."""

    def __init__(self) -> None:
        self.waiting: dict[int, T] = {}
        self.next = 0

    def add(self, index: int, item: T) -> list[T]:
        self.waiting[index] = item
        released = []
        while self.next in self.waiting:
            released.append(self.waiting.pop(self.next))
            self.next += 1
        return released

    def held(self) -> Iterator[tuple[int, T]]:
        """Finished items still held behind an unfinished one (for a partial report)."""
        return iter(sorted(self.waiting.items()))
