"""Running one ``h5model`` command in a child process, under limits, to survive hostile files.

libhdf5 is C code: a damaged file can make it crash (a segfault takes the whole
interpreter with it), loop without end or allocate without bound, and no ``except``
can catch that. A child process can be watched from outside: it gets an address-space
and a CPU-time limit (``resource.setrlimit``, where the platform has it), a wall-clock
timeout, no core dump, and whatever way it ends becomes an exit code (0, 1 or 2) and a
message naming the file. ``h5model --isolate`` uses it for one command; the limits and
the words for an abnormal end are ``batch.isolate``'s, which the batch workers share.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from h5model.batch.isolate import (
    ANSWERED,
    DEFAULT_MEMORY_MIB,
    DEFAULT_SECONDS,
    Limits,
    abnormal_end,
    apply_limits,
    child_env,
)

__all__ = [
    "DEFAULT_MEMORY_MIB",
    "DEFAULT_SECONDS",
    "Limits",
    "Outcome",
    "apply_limits",
    "run_isolated",
]

_CHILD = (
    "import json, sys\n"
    "from h5model.batch.isolate import Limits, apply_limits\n"
    "apply_limits(Limits(**json.loads(sys.argv[1])))\n"
    "from h5model.cli.app import main\n"
    "raise SystemExit(main(sys.argv[2:]))\n"
)
"""The child: limits first, then the command (the file is opened only after both)."""


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
        return self.timed_out or self.returncode not in ANSWERED

    @property
    def exit_code(self) -> int:
        """The command's own exit code, or 2 when the child ended abnormally."""
        return 2 if self.failed_abnormally else self.returncode

    def problem(self) -> str | None:
        """Why the child ended abnormally, as a sentence (None when it answered)."""
        return abnormal_end(self.returncode, self.timed_out, self.limits)

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
            env=child_env(env),
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


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
