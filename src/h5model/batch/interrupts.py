"""Ctrl-C as a flag for loops that wait: the many-file runner, ``h5model tail``.

Python raises KeyboardInterrupt wherever the main thread happens to be; one raised inside
a finalizer is printed and lost, and a loop waiting on workers or on a growing file would
then never stop (or wait out a file's time limit). Inside ``ctrl_c_as_flag`` Ctrl-C sets
an event the loop looks at instead.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def ctrl_c_as_flag() -> Iterator[threading.Event]:
    """An event Ctrl-C sets while inside (only the main thread receives signals: elsewhere
    the event is never set); the previous handler is back afterwards."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.set())
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
