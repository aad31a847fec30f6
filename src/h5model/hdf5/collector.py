"""Python's cycle collector paused while a file's graph or index is built.

Building tens of thousands of small containers (graph nodes, attribute dicts, edges)
sets the cycle collector off again and again, and each full pass walks every live
object of the process: after another library has left a large heap behind (pynwb's
containers, a previous file's models) that dominates the build. What is built here holds
no reference cycles, so nothing is left for the collector to find; it is switched back
on afterwards, as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cycle collection inside (re-entrant: only the outermost pause switches it back)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
