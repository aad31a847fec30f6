"""Limits and endings of child processes that read files from strangers.

libhdf5 is C code: a damaged file can make it crash (a segfault takes the whole
interpreter with it), loop without end or allocate without bound, and no ``except``
can catch that. A child process can be watched from outside: it gets an address-space
and a CPU-time limit (``resource.setrlimit``, where the platform has it), a wall-clock
timeout and no core dump, and however it ends is put in words naming the cause. Both
``h5model --isolate`` (one command, ``cli.isolate``) and the batch workers (many files,
``batch.workers``) start their children with these.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SECONDS = 600.0
"""Wall-clock limit of one isolated command or file (the CPU-time limit follows it)."""

DEFAULT_MEMORY_MIB = 4096
"""Address-space limit of the child, in MiB (the interpreter and libraries take ~1 GiB)."""

ANSWERED = frozenset({0, 1, 2, 130})
"""Exit statuses of a child that ended by answering (not by a crash or a limit)."""


@dataclass(frozen=True)
class Limits:
    """What an isolated command may use before it is stopped."""

    seconds: float = DEFAULT_SECONDS
    """Wall-clock time; the child is killed after it."""
    memory_mib: int | None = DEFAULT_MEMORY_MIB
    """Address space (``RLIMIT_AS``); None for no limit."""
    cpu_seconds: int | None = None
    """CPU time (``RLIMIT_CPU``); None: the wall-clock limit, rounded up."""

    def cpu(self) -> int:
        return self.cpu_seconds if self.cpu_seconds is not None else math.ceil(self.seconds)


def apply_limits(limits: Limits, *, cpu: bool = True) -> None:
    """Limit this process (called in the child, before it touches a file).

    ``cpu=False`` for a child that reads many files one after the other: CPU time adds
    up over its life, so its parent's per-file wall-clock timeout bounds it instead."""
    try:
        import resource
    except ImportError:  # not on this platform: the wall-clock timeout still holds
        return
    wanted = [("RLIMIT_CORE", 0)]
    if cpu:
        wanted.append(("RLIMIT_CPU", limits.cpu()))
    if limits.memory_mib is not None:
        wanted.append(("RLIMIT_AS", limits.memory_mib * 1024 * 1024))
    for name, soft in wanted:
        which = getattr(resource, name, None)
        if which is None:
            continue
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY and soft > hard:
            soft = hard
        # CPU: the soft limit sends SIGXCPU; a second later the hard one kills
        new_hard = soft + 1 if name == "RLIMIT_CPU" and hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):  # e.g. RLIMIT_AS on macOS
            resource.setrlimit(which, (soft, new_hard))


def abnormal_end(returncode: int, timed_out: bool, limits: Limits) -> str | None:
    """Why a child reading a file ended abnormally, as a sentence (None: it answered).

    ``returncode`` as ``subprocess`` gives it (negative: the signal that ended it)."""
    if timed_out:
        return f"reading the file took longer than {limits.seconds:g} s; stopped"
    if returncode >= 0:
        if returncode in ANSWERED:
            return None
        return f"reading the file ended abnormally (exit status {returncode})"
    number = -returncode
    name = signal_name(number)
    if number == getattr(signal, "SIGXCPU", None):
        return f"reading the file used more than {limits.cpu()} s of CPU time; stopped"
    if number == signal.SIGKILL:
        limit = limits.memory_mib
        within = f" (limit {limit} MiB)" if limit is not None else ""
        return f"reading the file was killed ({name}), e.g. for running out of memory{within}"
    return f"reading the file crashed the HDF5 library ({name})"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: this one, able to import this very h5model."""
    env = dict(os.environ)
    # the child must import this very h5model, installed or not
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    # thread pools reserve address space per core; the child reads, it does not compute
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    env.update(extra or {})
    return env


def signal_name(number: int) -> str:
    try:
        return f"signal {number}, {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"
