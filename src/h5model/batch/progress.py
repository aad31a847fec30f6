"""A progress bar for many-file runs on a terminal; nothing in logs and pipes.

rich draws it on standard error when both standard streams are terminals (``rich``
is an optional extra: without it there is no bar). Lines printed meanwhile through
``sys.stdout`` appear above the bar.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class FileProgress:
    """Counts finished files against the total; a no-op unless shown."""

    def __init__(self, total: int, label: str, show: bool | None = None) -> None:
        if show is None:
            show = sys.stderr.isatty() and sys.stdout.isatty()
        self.bar: Any = None
        self.task: Any = None
        if show and total > 1:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )
            except ImportError:
                return
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self) -> FileProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()
