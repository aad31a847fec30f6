"""Running one ``h5model`` command in a child process, under limits, to survive hostile files.

libhdf5 is C code: a damaged file can make it crash (a segfault takes the whole
interpreter with it), loop without end or allocate without bound, and no ``except``
can catch that. A child process can be watched from outside: it gets an address-space
and a CPU-time limit (``resource.setrlimit``, where the platform has it), a wall-clock
timeout, no core dump, and whatever way it ends becomes an exit code (0, 1 or 2) and a
message naming the file. ``h5model --isolate`` uses it for one command; a batch runner
uses ``run_isolated`` for every file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_SECONDS = 600.0
"""Wall-clock limit of one isolated command (the CPU-time limit follows it)."""

DEFAULT_MEMORY_MIB = 4096
"""Address-space limit of the child, in MiB (the interpreter and libraries take ~1 GiB)."""

_CHILD = (
    "import json, sys\n"
    "from h5model.cli.isolate import Limits, apply_limits\n"
    "apply_limits(Limits(**json.loads(sys.argv[1])))\n"
    "from h5model.cli.app import main\n"
    "raise SystemExit(main(sys.argv[2:]))\n"
)
"""The child: limits first, then the command (the file is opened only after both)."""


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


@dataclass(frozen=True)
class Outcome:
    """How an isolated command ended."""

    argv: tuple[str, ...]
    returncode: int
    """The child's exit status (negative: the signal that ended it, as in ``subprocess``)."""
    timed_out: bool
    seconds: float
    limits: Limits
    stdout: str | None = None
    """What the child printed (None when it wrote to this process's streams directly)."""
    stderr: str | None = None

    @property
    def signal(self) -> int | None:
        return -self.returncode if self.returncode < 0 else None

    @property
    def failed_abnormally(self) -> bool:
        """The child did not end by answering: it crashed, hit a limit or was stopped."""
        return self.timed_out or self.returncode not in (0, 1, 2, 130)

    @property
    def exit_code(self) -> int:
        """The command's own exit code, or 2 when the child ended abnormally."""
        return 2 if self.failed_abnormally else self.returncode

    def problem(self) -> str | None:
        """Why the child ended abnormally, as a sentence (None when it answered)."""
        if self.timed_out:
            return f"reading the file took longer than {self.limits.seconds:g} s; stopped"
        number = self.signal
        if number is None:
            if self.failed_abnormally:
                return f"reading the file ended abnormally (exit status {self.returncode})"
            return None
        name = _signal_name(number)
        if number == getattr(signal, "SIGXCPU", None):
            return f"reading the file used more than {self.limits.cpu()} s of CPU time; stopped"
        if number == signal.SIGKILL:
            limit = self.limits.memory_mib
            within = f" (limit {limit} MiB)" if limit is not None else ""
            return f"reading the file was killed ({name}), e.g. for running out of memory{within}"
        return f"reading the file crashed the HDF5 library ({name})"

    def message(self, files: Sequence[str | os.PathLike[str]]) -> str | None:
        """``h5model: error: FILE: why`` for an abnormal end, naming the files worked on."""
        problem = self.problem()
        if problem is None:
            return None
        named = ", ".join(str(f) for f in files) or " ".join(self.argv)
        return f"h5model: error: {named}: {problem}"


def run_isolated(
    argv: Sequence[str],
    *,
    limits: Limits | None = None,
    capture: bool = True,
    env: dict[str, str] | None = None,
) -> Outcome:
    """Run ``h5model ARGV`` in a child process under ``limits`` and say how it ended.

    With ``capture`` the child's output is returned in the outcome; without it the child
    writes to this process's standard output and error. Never raises for what the
    child does: a crash, a limit or a timeout is in the outcome."""
    limits = limits or Limits()
    command = [sys.executable, "-c", _CHILD, json.dumps(asdict(limits)), *argv]
    started = time.monotonic()
    timed_out = False
    stdout: str | None = None
    stderr: str | None = None
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=capture,
            text=True,
            errors="replace",
            env=_child_env(env),
            timeout=limits.seconds,
            check=False,
        )
        returncode = done.returncode
        stdout, stderr = done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:  # subprocess.run has killed the child
        timed_out = True
        returncode = -signal.SIGKILL
        stdout, stderr = _text(exc.stdout), _text(exc.stderr)
    return Outcome(
        tuple(argv), returncode, timed_out, time.monotonic() - started, limits,
        stdout if capture else None, stderr if capture else None,
    )


def apply_limits(limits: Limits) -> None:
    """Limit this process (called in the child, before it touches the file)."""
    try:
        import resource
    except ImportError:  # not on this platform: the wall-clock timeout still holds
        return
    wanted = [("RLIMIT_CORE", 0), ("RLIMIT_CPU", limits.cpu())]
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


def _child_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # the child must import this very h5model, installed or not
    here = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    # thread pools reserve address space per core; the child reads, it does not compute
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    env.update(extra or {})
    return env


def _signal_name(number: int) -> str:
    try:
        return f"signal {number}, {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
