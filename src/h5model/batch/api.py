"""``validate_many``, ``inventory`` and ``truncate_many``: many files, one report.

Each takes files, folders and glob patterns (``batch.discover``), runs one task per
file on the runner asked for (``batch.runners``: here, ``jobs`` local worker
processes, or the Dask ``scheduler``), and gathers the answers in discovery order. Rows are
handed to ``on_row`` as soon as every file before them is done, so a report can be
streamed. Ctrl-C raises ``Interrupted``, which carries the report of the files done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from h5model.batch.discover import Found, discover
from h5model.batch.isolate import DEFAULT_MEMORY_MIB, DEFAULT_SECONDS, Limits
from h5model.batch.ordered import InOrder
from h5model.batch.progress import FileProgress
from h5model.batch.reports import Inventory, Truncations
from h5model.batch.rows import InventoryRow, TruncateRow, file_report, inventory_row, truncate_row
from h5model.batch.runners import Job, run_here, run_on_scheduler, run_processes
from h5model.batch.tasks import Answer
from h5model.errors import H5ModelError
from h5model.spec.declared import is_layout_class
from h5model.spec.layout import Layout, LayoutLike
from h5model.storage.remote import is_url
from h5model.validation import FileReport, Report, check_supplied

PathLike = str | os.PathLike[str]
Inputs = PathLike | Sequence[PathLike]
R = TypeVar("R")
Row = TypeVar("Row")


class Interrupted(KeyboardInterrupt, Generic[R]):
    """Ctrl-C during a many-file run; ``partial`` is the report of the files done, of
    ``total`` asked for."""

    def __init__(self, partial: R, total: int) -> None:
        super().__init__("interrupted")
        self.partial = partial
        self.total = total


def validate_many(
    paths: Inputs,
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    strict: bool = False,
    layout: Layout | LayoutLike | type[Any] | None = None,
    index: PathLike | bool = False,
    jobs: int | None = None,
    scheduler: str | None = None,
    timeout: float | None = None,
    on_row: Callable[[FileReport], None] | None = None,
    progress: bool | None = None,
) -> Report:
    """Validate every file the inputs name; one report, files in discovery order
    (``batch.discover``: argument order, a folder's files sorted).

    ``jobs``: that many local worker processes; ``scheduler``: the address of a running
    Dask scheduler; ``timeout``: seconds per file (a run with a timeout, or with
    ``jobs``, reads each file in a worker process, so a file that crashes it or hangs
    is an issue of its own, ``file.crashed`` or ``file.timeout``); with none of them
    files are read here, one by one. ``progress``: a bar on a terminal (default: when
    standard output and error are terminals). ``layout`` and ``index`` as for
    ``h5model.validation.validate_many``."""
    if spec is not None:
        check_supplied(spec)
    found = discover(_listed(paths))
    options = {"spec": _spec_list(spec), "strict": strict, "layout": _layout_arg(layout),
               "index": _index_arg(index, found)}

    def row(item: Found, answer: Answer) -> FileReport:
        return file_report(str(item.path), answer, strict)

    done, interrupted = _run("validate", found, lambda _: options, row, jobs, scheduler,
                             timeout, on_row, progress)
    report = Report(done, strict=strict)
    if interrupted:
        raise Interrupted(report, len(found))
    return report


def inventory(
    paths: Inputs,
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    strict: bool = False,
    layout: Layout | LayoutLike | type[Any] | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    timeout: float | None = None,
    on_row: Callable[[InventoryRow], None] | None = None,
    progress: bool | None = None,
) -> Inventory:
    """A row per file: size, namespaces and versions, object count, types present,
    validation status. Runs as ``validate_many`` does."""
    if spec is not None:
        check_supplied(spec)
    options = {"spec": _spec_list(spec), "strict": strict, "layout": _layout_arg(layout)}
    found = discover(_listed(paths))

    def row(item: Found, answer: Answer) -> InventoryRow:
        return inventory_row(str(item.path), answer, strict)

    done, interrupted = _run("inventory", found, lambda _: options, row, jobs, scheduler,
                             timeout, on_row, progress)
    result = Inventory(tuple(done), interrupted, len(found))
    if interrupted:
        raise Interrupted(result, len(found))
    return result


def truncate_many(
    paths: Inputs,
    folder: PathLike,
    *,
    n: int = 10,
    keep: Sequence[str] = (),
    overwrite: bool = False,
    layout: Layout | LayoutLike | type[Any] | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    timeout: float | None = None,
    on_row: Callable[[TruncateRow], None] | None = None,
    progress: bool | None = None,
) -> Truncations:
    """A truncated copy of every file in ``folder``, at its path below the folder or
    pattern it was found under (a file named directly: its own name)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise H5ModelError(f"the number of rows to keep must be a whole number >= 1, not {n!r}")
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise H5ModelError("is not a folder; several files are copied into a folder",
                           file=target)
    found = discover(_listed(paths))
    base = {"n": n, "keep": list(keep), "overwrite": overwrite, "layout": _layout_arg(layout)}

    def options(item: Found) -> dict[str, Any]:
        return {**base, "dst": os.path.abspath(target / item.relative)}

    def row(item: Found, answer: Answer) -> TruncateRow:
        return truncate_row(str(item.path), str(target / item.relative), answer)

    done, interrupted = _run("truncate", found, options, row, jobs, scheduler, timeout,
                             on_row, progress)
    result = Truncations(tuple(done), interrupted, len(found))
    if interrupted:
        raise Interrupted(result, len(found))
    return result


def _run(
    task: str,
    found: list[Found],
    options: Callable[[Found], dict[str, Any]],
    make_row: Callable[[Found, Answer], Row],
    jobs: int | None,
    scheduler: str | None,
    timeout: float | None,
    on_row: Callable[[Row], None] | None,
    progress: bool | None,
) -> tuple[list[Row], bool]:
    """Every file's row in discovery order, and whether Ctrl-C stopped the run."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise H5ModelError(f"jobs must be a whole number >= 1, not {jobs!r}")
    if jobs is not None and scheduler is not None:
        raise H5ModelError("give either jobs (local processes) or a Dask scheduler, not both")
    if timeout is not None and not timeout > 0:
        raise H5ModelError(f"the timeout must be a number of seconds > 0, not {timeout!r}")
    if (jobs is not None or scheduler is not None or timeout is not None) and found and \
            is_layout_class(options(found[0]).get("layout")):
        raise H5ModelError("a layout written as classes is read in this process only: run "
                           "without jobs, scheduler or timeout, or give its YAML folder")
    absolute = scheduler is not None  # a cluster's workers need not share our folder
    work = [
        Job(i, task, os.path.abspath(item.path) if absolute and not is_url(item.path)
            else str(item.path), options(item))
        for i, item in enumerate(found)
    ]
    limits = Limits(seconds=timeout or DEFAULT_SECONDS, memory_mib=DEFAULT_MEMORY_MIB)
    answers: Iterator[tuple[int, Answer]]
    if scheduler is not None:
        answers = run_on_scheduler(work, scheduler, limits)
    elif jobs is None and timeout is None:
        answers = run_here(work)
    else:
        answers = run_processes(work, jobs or 1, limits)
    order: InOrder[Row] = InOrder()
    released: list[Row] = []
    try:
        with FileProgress(len(work), task, progress) as bar:
            for index, answer in answers:
                bar.advance()
                for row in order.add(index, make_row(found[index], answer)):
                    released.append(row)
                    if on_row is not None:
                        on_row(row)
    except KeyboardInterrupt:
        close = getattr(answers, "close", None)
        if close is not None:
            close()
        return released + [row for _, row in order.held()], True
    return released, False


def _listed(paths: Inputs) -> list[PathLike]:
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def _layout_arg(layout: Layout | LayoutLike | type[Any] | None) -> Any:
    """A layout as workers are told it: its name or folder (plain data); a layout
    written as classes is handed on as it is (it is read in this process only)."""
    if layout is None or is_layout_class(layout):
        return layout
    if isinstance(layout, Layout):
        return str(layout.folder)
    if isinstance(layout, type):
        raise H5ModelError(f"{layout.__name__} is not a layout: subclass h5model.Group")
    return os.fspath(layout)


def _index_arg(index: PathLike | bool, found: list[Found]) -> str | bool:
    if isinstance(index, bool):
        return index
    if len(found) != 1:
        raise H5ModelError("an index path is for one file; pass index=True for many")
    return os.fspath(index)


def _spec_list(spec: PathLike | Sequence[PathLike] | None) -> list[str] | None:
    if spec is None:
        return None
    return [os.fspath(spec)] if isinstance(spec, (str, os.PathLike)) else [
        os.fspath(s) for s in spec]
