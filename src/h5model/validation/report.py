"""Validation results and their stable shapes: text, JSON and JUnit XML.

The JSON shape is documented in README ("Validation report") and versioned by
``REPORT_VERSION``; rule ids are stable names, never renamed once published.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree

REPORT_VERSION = 1

# rule id -> one-line meaning (documented; the set only grows)
RULES: dict[str, str] = {
    "file.not-found": "the path does not exist",
    "file.not-hdf5": "the file is not HDF5 (no signature, or not openable)",
    "file.unreadable": "the file's structure cannot be read (e.g. truncated)",
    "file.crashed": "reading the file crashed or exhausted the process reading it (batch runs)",
    "file.timeout": "reading the file took longer than the time allowed (batch runs)",
    "spec.missing": "the file embeds no specifications and none were supplied",
    "spec.malformed": "a spec is not valid JSON/YAML or breaks the specification language",
    "spec.namespace-missing": "a namespace another depends on is absent",
    "type.unknown": "an object's type is not defined by its namespace",
    "kind.mismatch": "a group where the spec wants a dataset, or the reverse",
    "type.mismatch": "an object is not of the type (or a subtype) the spec wants there",
    "attribute.missing": "a required attribute is absent",
    "attribute.dtype": "an attribute's dtype is not one the spec allows",
    "attribute.shape": "an attribute's shape is not one the spec allows",
    "attribute.value": "an attribute differs from the value the spec fixes",
    "dataset.missing": "a required dataset is absent",
    "dataset.dtype": "a dataset's dtype is not one the spec allows",
    "dataset.shape": "a dataset's shape is not one the spec allows",
    "dataset.value": "a dataset differs from the value the spec fixes",
    "group.missing": "a required group is absent",
    "link.missing": "a required link is absent",
    "link.broken": "a soft link points at nothing",
    "link.external-outside": "an external link leads outside the file's folder (warning)",
    "link.external-missing": "an external link names a file that is not there (warning)",
    "link.target-type": "a link or linked object is not of the type the spec wants",
    "quantity.count": "fewer or more objects of a type than the spec's quantity",
    "object.unexpected": "an object or attribute the spec does not define (error with --strict)",
    "reference.dangling": "an object reference points at nothing",
    "reference.target-type": "a reference points at an object of the wrong type",
    "table.column-length": "a table column's length differs from the table's id",
    "table.colnames": "a column named in colnames is absent",
    "table.index-decreasing": "a ragged column's index decreases",
    "table.index-out-of-range": "a ragged column's index points past its data",
    "table.region-out-of-range": "a DynamicTableRegion row number is outside its table",
    "table.timeseries-reference-out-of-range": "a TimeSeriesReference row lies outside its series",
    "check.failed": "a check could not run on this object (reported, never a traceback)",
}

UNREADABLE_RULES = frozenset({
    "file.not-found", "file.not-hdf5", "file.unreadable", "file.crashed", "file.timeout",
    "spec.missing",
})


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


Emit = Callable[[str, str, str, Severity], None]
"""What a checker calls for each issue: (hdf5 path, rule id, message, severity)."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding: where (file, HDF5 path), which rule, how bad, and what was expected."""

    hdf5_path: str
    rule: str
    severity: Severity
    message: str

    def to_json(self) -> dict[str, str]:
        return {
            "hdf5_path": self.hdf5_path,
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
        }


@dataclass
class FileReport:
    """Every issue found in one file."""

    file: str
    issues: list[Issue] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return not any(i.rule in UNREADABLE_RULES for i in self.issues)

    def errors(self, strict: bool = False) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR or strict]

    def status(self, strict: bool = False) -> str:
        if not self.readable:
            return "unreadable"
        return "invalid" if self.errors(strict) else "valid"


@dataclass
class Report:
    """The result of validating one or more files."""

    files: list[FileReport]
    strict: bool = False

    @property
    def issues(self) -> list[Issue]:
        return [issue for report in self.files for issue in report.issues]

    @property
    def valid(self) -> bool:
        return all(r.status(self.strict) == "valid" for r in self.files)

    def exit_code(self) -> int:
        """0 valid, 1 invalid, 2 a file could not be read."""
        statuses = {r.status(self.strict) for r in self.files}
        if "unreadable" in statuses:
            return 2
        return 1 if "invalid" in statuses else 0

    # -- formats ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        errors = sum(1 for i in self.issues if i.severity is Severity.ERROR)
        return {
            "report_version": REPORT_VERSION,
            "tool": "h5model",
            "strict": self.strict,
            "valid": self.valid,
            "exit_code": self.exit_code(),
            "summary": {
                "files": len(self.files),
                "errors": errors,
                "warnings": len(self.issues) - errors,
            },
            "files": [
                {
                    "file": r.file,
                    "status": r.status(self.strict),
                    "issues": [i.to_json() for i in r.issues],
                }
                for r in self.files
            ],
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    def to_text(self) -> str:
        lines = []
        for report in self.files:
            status = report.status(self.strict)
            lines.append(f"{report.file}: {status} ({len(report.issues)} issue(s))")
            for issue in report.issues:
                lines.append(
                    f"  {issue.severity.value:7} {issue.rule:40} {issue.hdf5_path}: {issue.message}"
                )
        return "\n".join(lines) + "\n"

    def to_junit(self) -> str:
        """JUnit XML: a test suite per file and a test case per issue, so that the counts
        are the issues listed: ``tests`` every issue (a file without any has one passing
        case), ``failures`` the errors (warnings too with --strict; other warnings pass,
        their text in ``system-out``), ``errors`` the issues that made a file unreadable."""
        suites = ElementTree.Element("testsuites", name="h5model validate")
        totals = {"tests": 0, "failures": 0, "errors": 0}
        for report in self.files:
            suite = ElementTree.SubElement(suites, "testsuite", name=report.file)
            counts = {"tests": 0, "failures": 0, "errors": 0}
            failing = set(map(id, report.errors(self.strict)))
            for issue in report.issues:
                case = ElementTree.SubElement(
                    suite, "testcase", classname=report.file,
                    name=f"{issue.rule} {issue.hdf5_path}",
                )
                counts["tests"] += 1
                if issue.rule in UNREADABLE_RULES:
                    tag = "error"
                elif id(issue) in failing:
                    tag = "failure"
                else:
                    out = ElementTree.SubElement(case, "system-out")
                    out.text = _lines([issue])
                    continue
                counts["errors" if tag == "error" else "failures"] += 1
                element = ElementTree.SubElement(case, tag, message=issue.message,
                                                 type=issue.rule)
                element.text = _lines([issue])
            if not report.issues:
                ElementTree.SubElement(suite, "testcase", classname=report.file, name="valid")
                counts["tests"] += 1
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
        for key, value in totals.items():
            suites.set(key, str(value))
        ElementTree.indent(suites)
        return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _lines(issues: Iterable[Issue]) -> str:
    return "\n".join(f"{i.severity.value} {i.rule} {i.hdf5_path}: {i.message}" for i in issues)
