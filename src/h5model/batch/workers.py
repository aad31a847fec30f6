"""Worker processes that read one file at a time for a many-file run, and survive it.

A worker is a child process (limits from ``batch.isolate``) that reads jobs, one JSON
line each, on its standard input and answers each with one JSON line. It lives for
many files, so the interpreter, h5model and the generated models are loaded once per
worker, not once per file. It says ``ready`` once loaded, so its start-up never counts
against a file's timeout. Its parent watches it: a worker that dies (a segfault in
libhdf5, ``os._exit``, the kernel's OOM killer) or overruns the per-file timeout is
killed and replaced, and that one file gets an answer that says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
from dataclasses import asdict
from typing import Any

from h5model.batch.isolate import Limits, abnormal_end, child_env
from h5model.batch.tasks import Answer, failure, run_task

_CHILD = (
    "import json, sys\n"
    "from h5model.batch.isolate import Limits, apply_limits\n"
    "apply_limits(Limits(**json.loads(sys.argv[1])), cpu=False)\n"
    "from h5model.batch.workers import serve\n"
    "serve()\n"
)
"""The worker: limits first, then the loop (no file is opened before both)."""


STARTUP_SECONDS = 120.0
"""How long a worker may take to load before it counts as dead."""


class Worker:
    """One worker process, as its parent sees it: send a job, receive the answer."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.ready = False
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(asdict(limits))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child_env(),
            text=True,
            encoding="utf-8",
            errors="replace",
        )

    def fileno(self) -> int:
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def send(self, task: str, path: str, options: dict[str, Any]) -> bool:
        """Hand the worker one file; False when it is already gone."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps([task, path, options]) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def receive(self) -> Answer | None:
        """The answer to the job sent (blocks until it comes); None when the worker died."""
        assert self.process.stdout is not None
        try:
            line = self.process.stdout.readline()
        except OSError:
            line = ""
        if not line.endswith("\n"):
            return None
        answer: Answer = json.loads(line)
        if answer.get("ready"):
            self.ready = True
        return answer

    def died(self) -> Answer:
        """The answer for the file of a worker that ended without answering."""
        returncode = self.process.wait()
        why = abnormal_end(returncode, False, self.limits)
        return failure("file.crashed", why or f"its worker ended (exit status {returncode})")

    def timed_out(self) -> Answer:
        """Kill an overrunning worker; the answer for its file."""
        self.kill()
        return failure("file.timeout", abnormal_end(0, True, self.limits) or "timed out")

    def run(self, task: str, path: str, options: dict[str, Any]) -> Answer:
        """Send one job and wait for its answer or the limit (a worker of its own)."""
        if not self.ready:
            loaded, _, _ = select.select([self], [], [], STARTUP_SECONDS)
            if not loaded:
                return self.timed_out()
            if self.receive() is None:
                return self.died()
        if not self.send(task, path, options):
            return self.died()
        ready, _, _ = select.select([self], [], [], self.limits.seconds)
        if not ready:
            return self.timed_out()
        answer = self.receive()
        return self.died() if answer is None else answer

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.close()

    def close(self) -> None:
        """Ask an idle worker to end (end of input), and reap it."""
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve() -> None:
    """The worker's loop: a job per line in, an answer per line out, until end of input.

    Ctrl-C reaches every process of the terminal's group; the parent decides what it
    means, so the worker ignores it. Whatever a library prints goes to standard error,
    so that standard output carries answers only."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        task, path, options = json.loads(line)
        answer = run_task(task, path, options)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
