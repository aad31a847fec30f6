"""axopy task storage: ``root/<subject>/<task>/`` holds ``trials.csv`` (one row per trial)
and ``<array>.hdf5`` per array type, whose root has one dataset per trial named by the
trial's row (``"0"``, ``"1"``, ...). The ``axopy`` layout types the array files; here a
task is read whole: each array type's trials in trial order (and stacked, as axopy's
``TaskReader.array`` means to but fails to on current numpy), beside the trial
attributes from the CSV. A trial row without its array, or an array without its row, is
an error: a task read here never pairs a trial with another trial's samples."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.session.file import open as open_file
from h5model.validation.report import FileReport, Issue, Report, Severity
from h5model.validation.run import validate_many

LAYOUT = "axopy"
TRIALS = "trials.csv"
ARRAY_SUFFIX = ".hdf5"


@dataclass
class Task:
    """One task of one subject: the trials' attributes and every array type's trials."""

    folder: Path
    trials: list[dict[str, Any]]
    """One mapping per row of ``trials.csv``, values typed by column (int, float, bool, text)."""
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """Array type -> the array of each trial, in trial order."""

    def __len__(self) -> int:
        return len(self.trials)

    def array(self, name: str) -> list[np.ndarray]:
        """The arrays of type ``name``, one per trial, in trial order."""
        try:
            return self.arrays[name]
        except KeyError:
            raise H5ModelError(f"the task has no array {name!r} (it has: "
                               f"{', '.join(sorted(self.arrays)) or 'none'})",
                               file=str(self.folder)) from None

    def stacked(self, name: str) -> np.ndarray:
        """The trials of ``name`` stacked along the first axis (``numpy.vstack``)."""
        return np.vstack(self.array(name))

    def __iter__(self) -> Iterator[tuple[dict[str, Any], dict[str, np.ndarray]]]:
        """Each trial: its attributes and its arrays by type."""
        for index, attrs in enumerate(self.trials):
            yield attrs, {name: arrays[index] for name, arrays in self.arrays.items()}


def read_task(folder: str | os.PathLike[str]) -> Task:
    """Read the task in ``folder``; raises ``H5ModelError`` naming the first problem
    (``validate_task`` reports them all)."""
    root = Path(folder)
    report = validate_task(root)
    for file_report in report.files:
        errors = file_report.errors()
        if errors:
            first = errors[0]
            raise H5ModelError(f"not a valid axopy task: {first.message} ({first.rule})",
                               file=file_report.file, hdf5_path=first.hdf5_path)
    task = Task(root, read_trials(root / TRIALS))
    for path in array_files(root):
        with open_file(path, layout=LAYOUT) as f:
            task.arrays[path.stem] = [np.asarray(f.root[str(i)].value[()])
                                      for i in range(len(task.trials))]
    return task


def validate_task(folder: str | os.PathLike[str], *, strict: bool = False) -> Report:
    """Every array file under the ``axopy`` layout, and its trials against ``trials.csv``:
    a row without its array (``axopy.trial-missing``), an array named past the last row
    (``axopy.trial-extra``), no ``trials.csv`` (``axopy.trials``)."""
    root = Path(folder)
    files = array_files(root)
    report = validate_many(files, layout=LAYOUT, strict=strict) if files else Report([])
    trials = root / TRIALS
    if not trials.is_file():
        issue = Issue("/", "axopy.trials", Severity.ERROR,
                      f"no {TRIALS} beside the array files: the trials are unknown")
        report.files.append(FileReport(str(trials), [issue]))
        return report
    rows = len(read_trials(trials))
    severity = Severity.ERROR
    for path, file_report in zip(files, report.files, strict=True):
        if not file_report.readable:
            continue
        with h5py.File(path, "r") as h5:
            names = set(h5.keys())
        for index in range(rows):
            if str(index) not in names:
                file_report.issues.append(Issue(
                    f"/{index}", "axopy.trial-missing", severity,
                    f"trial {index} (row {index} of {TRIALS}) has no array here"))
        for name in sorted(names):
            if name.isdigit() and int(name) >= rows:
                file_report.issues.append(Issue(
                    f"/{name}", "axopy.trial-extra", severity,
                    f"an array for trial {name}, but {TRIALS} has {rows} row(s)"))
    return report


def array_files(folder: Path) -> list[Path]:
    """The task's array files, by array name."""
    return sorted(p for p in folder.glob(f"*{ARRAY_SUFFIX}") if p.is_file())


def read_trials(path: Path) -> list[dict[str, Any]]:
    """The rows of ``trials.csv``; each column typed as a whole: int, float (an empty
    cell is nan), bool, or text."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            cells = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise H5ModelError(f"cannot read the trials: {exc}", file=str(path)) from None
    if header is None:
        raise H5ModelError("expected a header row", file=str(path))
    columns = {name: [_cell(row, i) for row in cells] for i, name in enumerate(header)}
    typed = {name: _typed(values) for name, values in columns.items()}
    return [{name: typed[name][row] for name in header} for row in range(len(cells))]


def _cell(row: list[str], index: int) -> str:
    return row[index] if index < len(row) else ""


def _typed(values: list[str]) -> list[Any]:
    for convert in (_ints, _floats, _bools):
        try:
            return convert(values)
        except ValueError:
            continue
    return list(values)


def _ints(values: list[str]) -> list[Any]:
    return [int(v) for v in values]


def _floats(values: list[str]) -> list[Any]:
    return [float(v) if v != "" else math.nan for v in values]


def _bools(values: list[str]) -> list[Any]:
    known = {"True": True, "False": False}
    if not all(v in known for v in values):
        raise ValueError("not booleans")
    return [known[v] for v in values]
