"""Typed results of a many-file run: one row per file, made from a worker's answer.

Answers travel as JSON between processes; these frozen rows are what callers get.
A file whose work did not finish (its worker crashed, it ran past the timeout) still
gets its row, saying why, so a report always has every file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from h5model.batch.tasks import Answer
from h5model.validation import FileReport, Issue, Severity

STATUSES = ("valid", "invalid", "unreadable")
"""A file's validation status, best first (an exit code is its position)."""


def file_report(path: str, answer: Answer, strict: bool = False) -> FileReport:
    """The validation report of one file from its worker's answer."""
    report = FileReport(path)
    broken = answer.get("failure")
    if broken is not None:
        report.issues.append(Issue("/", broken["rule"], Severity.ERROR, broken["message"]))
        return report
    for item in answer["issues"]:
        report.issues.append(
            Issue(item["hdf5_path"], item["rule"], Severity(item["severity"]), item["message"])
        )
    return report


@dataclass(frozen=True)
class InventoryRow:
    """What one file holds, and whether it is valid."""

    path: str
    size: int | None
    """Bytes on disk (None: the file cannot be stat'ed)."""
    namespaces: dict[str, str] = field(default_factory=dict)
    """Namespace -> the version in force (the newest the file embeds)."""
    objects: int | None = None
    """Groups and datasets, the root and the spec group included (None: unreadable)."""
    types: dict[str, int] = field(default_factory=dict)
    """``namespace.Type`` -> how many objects are of exactly that type."""
    status: str = "unreadable"
    """``valid``, ``invalid`` or ``unreadable``, as ``h5model validate`` says."""
    errors: int = 0
    warnings: int = 0
    problem: str | None = None
    """Why the file is unreadable, or its first error (None when valid)."""

    @property
    def exit_code(self) -> int:
        return STATUSES.index(self.status)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "namespaces": self.namespaces,
            "objects": self.objects,
            "types": self.types,
            "status": self.status,
            "errors": self.errors,
            "warnings": self.warnings,
            "problem": self.problem,
        }


def inventory_row(path: str, answer: Answer, strict: bool = False) -> InventoryRow:
    report = file_report(path, answer, strict)
    first = next(iter(report.errors(strict)), None)
    problem = f"{first.rule} {first.hdf5_path}: {first.message}" if first else None
    if "failure" in answer:
        return InventoryRow(path, None, status=report.status(strict),
                            errors=1, problem=problem)
    return InventoryRow(
        path=path,
        size=answer["size"],
        namespaces=dict(answer["namespaces"]),
        objects=answer["objects"],
        types=dict(answer["types"]),
        status=report.status(strict),
        errors=len(report.errors(strict)),
        warnings=len(report.issues) - len(report.errors(strict)),
        problem=problem,
    )


@dataclass(frozen=True)
class TruncateRow:
    """One truncated copy: where it went and its size, or why it was not written."""

    src: str
    dst: str
    size: int | None
    written: int | None
    """Bytes of the copy (None: not written)."""
    problem: str | None = None
    exit_code: int = 0
    """0 written, 1 the file could not be read or written, 2 its worker crashed or
    ran past the timeout."""

    def to_json(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "size": self.size, "written": self.written,
                "problem": self.problem, "exit_code": self.exit_code}


def truncate_row(path: str, dst: str, answer: Answer) -> TruncateRow:
    broken = answer.get("failure")
    if broken is not None:
        return TruncateRow(path, dst, None, None, f"{path}: {broken['message']}", 2)
    problem = answer["problem"]
    return TruncateRow(path, dst, answer["size"], answer["written"], problem,
                       0 if problem is None else 1)
