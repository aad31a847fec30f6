"""Where the files of a many-file run are read: here, in local workers, or on Dask.

Each runner yields ``(index, answer)`` as files finish, in whatever order they finish;
the caller puts them back in file order (``batch.ordered``). Stopping early (Ctrl-C,
or closing the generator) ends every worker the runner started.
"""

from __future__ import annotations

import contextlib
import importlib
import selectors
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from h5model.batch.interrupts import ctrl_c_as_flag
from h5model.batch.isolate import Limits
from h5model.batch.tasks import Answer, failure, run_task
from h5model.batch.workers import STARTUP_SECONDS, Worker
from h5model.errors import H5ModelError


@dataclass(frozen=True)
class Job:
    """One file's work: which task, on which path, with which options."""

    index: int
    task: str
    path: str
    options: dict[str, Any]


def run_here(jobs: Sequence[Job]) -> Iterator[tuple[int, Answer]]:
    """In this process, one after the other: no isolation (a crash is this process's)."""
    for job in jobs:
        yield job.index, run_task(job.task, job.path, job.options)


LOOK_SECONDS = 0.25
"""How long the runner waits on its workers before it looks whether Ctrl-C was pressed."""


def run_processes(jobs: Sequence[Job], workers: int, limits: Limits
                  ) -> Iterator[tuple[int, Answer]]:
    """In ``workers`` local worker processes, a file at a time each, under ``limits``.

    A new worker gets its first file once it says it is ready, so that one line at most
    is ever in flight from a worker, and start-up never counts against a file."""
    pending = deque(jobs)
    idle: list[Worker] = []
    starting: dict[Worker, float] = {}
    busy: dict[Worker, tuple[Job, float]] = {}
    selector = selectors.DefaultSelector()
    with ctrl_c_as_flag() as pressed:  # looked at every LOOK_SECONDS
        try:
            while pending or busy:
                if pressed.is_set():
                    raise KeyboardInterrupt
                while pending and idle:
                    worker = idle.pop()
                    job = pending.popleft()
                    if not worker.send(job.task, job.path, job.options):
                        yield job.index, worker.died()
                        continue
                    busy[worker] = (job, time.monotonic() + limits.seconds)
                    selector.register(worker, selectors.EVENT_READ)
                while len(pending) > len(starting) and len(busy) + len(starting) < workers:
                    worker = Worker(limits)
                    starting[worker] = time.monotonic() + STARTUP_SECONDS
                    selector.register(worker, selectors.EVENT_READ)
                deadlines = [d for _, d in busy.values()] + list(starting.values())
                if not deadlines:
                    continue
                wait = min(max(min(deadlines) - time.monotonic(), 0.0), LOOK_SECONDS)
                for key, _ in selector.select(wait):
                    worker = key.fileobj  # type: ignore[assignment]
                    selector.unregister(worker)
                    answer = worker.receive()
                    if worker in starting:
                        del starting[worker]
                        if answer is None:  # it cannot even start: say so on a file
                            job = pending.popleft()
                            yield job.index, worker.died()
                        else:
                            idle.append(worker)
                        continue
                    job, _ = busy.pop(worker)
                    if answer is None:
                        yield job.index, worker.died()
                    else:
                        idle.append(worker)
                        yield job.index, answer
                now = time.monotonic()
                for worker, (job, deadline) in list(busy.items()):
                    if deadline <= now:
                        selector.unregister(worker)
                        del busy[worker]
                        yield job.index, worker.timed_out()
                for worker, deadline in list(starting.items()):
                    if deadline <= now:
                        selector.unregister(worker)
                        del starting[worker]
                        yield pending.popleft().index, worker.timed_out()
        finally:
            selector.close()
            for worker in [*busy, *starting]:
                worker.kill()
            for worker in idle:
                worker.close()


def run_on_scheduler(jobs: Sequence[Job], address: str, limits: Limits
                     ) -> Iterator[tuple[int, Answer]]:
    """On the Dask cluster at ``address``: a task per file, each read by a worker process
    that the Dask worker keeps (so a crash or a hang costs a file, not the Dask worker)."""
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise H5ModelError(
            "--scheduler needs the Dask 'distributed' package: "
            "pip install 'h5model[distributed]'"
        ) from None
    try:
        client = distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise H5ModelError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    futures: dict[Any, Job] = {}
    try:
        for job in jobs:
            future = client.submit(_on_dask_worker, job.task, job.path, job.options,
                                   asdict(limits), pure=False)
            futures[future] = job
        for future in distributed.as_completed(list(futures)):
            job = futures[future]
            try:
                answer = future.result()
            except Exception as exc:  # the Dask worker itself was lost
                answer = failure("file.crashed",
                                 f"its Dask worker failed ({type(exc).__name__}: {exc})")
            yield job.index, answer
    finally:
        with contextlib.suppress(Exception):
            client.cancel([f for f in futures if not f.done()])
        client.close()


_LOCAL = threading.local()


def _on_dask_worker(task: str, path: str, options: dict[str, Any],
                    limits: dict[str, Any]) -> Answer:
    """Runs inside a Dask worker: the file goes to this thread's own worker process."""
    wanted = Limits(**limits)
    worker: Worker | None = getattr(_LOCAL, "worker", None)
    if worker is None or not worker.alive or worker.limits != wanted:
        if worker is not None:
            worker.close()
        worker = Worker(wanted)
        _LOCAL.worker = worker
    answer = worker.run(task, path, options)
    if "failure" in answer:
        _LOCAL.worker = None  # killed or dead: the next file gets a new one
        if worker.alive:
            worker.kill()
    return answer
