"""Small helpers shared by the test modules: the command line in a fresh interpreter, and
a file's bytes as a digest."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def run_h5model(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``h5model ARGS`` in a fresh interpreter, as CI and users run it."""
    return subprocess.run(
        [sys.executable, "-m", "h5model", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def sha256(path: Path) -> str:
    """The digest of a file's bytes (to prove a command left them alone)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


NOBODY = 65534
"""The uid (and gid) of the unprivileged user tests become, where they run as root."""


def in_child(work: Callable[[], None]) -> None:
    """Run ``work`` in a forked process that then dies at once (no cleanup, no atexit:
    a crash, as far as a journal can tell); it must not raise."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            work()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def reflink_works(folder: Path) -> bool:
    """Whether ``folder``'s file system makes copy-on-write clones (then a save never
    takes the journal path only because of the copy limit)."""
    from h5model.storage.replace import clone_into

    source, target = folder / ".reflink-probe-a", folder / ".reflink-probe-b"
    source.write_bytes(b"probe" * 1000)
    try:
        with open(source, "rb") as a, open(target, "wb") as b:
            return clone_into(a.fileno(), b.fileno())
    finally:
        source.unlink()
        target.unlink(missing_ok=True)


@contextmanager
def read_pynwb(path: Path) -> Iterator[Any]:
    """The file as pynwb reads it (warnings about cached schema versions muted)."""
    from pynwb import NWBHDF5IO

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io = NWBHDF5IO(str(path), mode="r")
        try:
            yield io.read()
        finally:
            io.close()
