"""Validation of files against their own specs: checks, reports, exit codes."""

from h5model.validation.report import FileReport, Issue, Report, Severity
from h5model.validation.run import check_supplied, validate, validate_file, validate_many

__all__ = [
    "FileReport",
    "Issue",
    "Report",
    "Severity",
    "check_supplied",
    "validate",
    "validate_file",
    "validate_many",
]
