"""Validate files: open, read specs and structure, run the checks, never raise on bad input."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py

from h5model.errors import H5ModelError, NoSpecsError, NotHDF5Error, SpecError
from h5model.file import load_specs, open_hdf5
from h5model.graph import build_graph
from h5model.validation.report import FileReport, Issue, Report, Severity
from h5model.validation.structure import StructureChecker
from h5model.validation.table_checks import TableChecker

PathLike = str | os.PathLike[str]


def validate(
    path: PathLike, *, spec: PathLike | Sequence[PathLike] | None = None, strict: bool = False
) -> Report:
    """Validate one file against its own specs (or ``spec`` namespace files)."""
    return validate_many([path], spec=spec, strict=strict)


def validate_many(
    paths: Sequence[PathLike],
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    strict: bool = False,
) -> Report:
    """One report covering every file; each file's issues kept."""
    return Report([_validate_file(Path(p), spec) for p in paths], strict=strict)


def _spec_rule(exc: H5ModelError) -> str:
    if isinstance(exc, NoSpecsError):
        return "spec.missing"
    if "depends on namespace" in exc.message:
        return "spec.namespace-missing"
    if "is not defined" in exc.message and "type" in exc.message:
        return "type.unknown"
    return "spec.malformed"


def _validate_file(path: Path, spec: PathLike | Sequence[PathLike] | None) -> FileReport:
    report = FileReport(str(path))

    def emit(hdf5_path: str, rule: str, message: str, severity: Severity) -> None:
        report.issues.append(Issue(hdf5_path, rule, severity, message))

    if not path.exists():
        emit("/", "file.not-found", "no such file", Severity.ERROR)
        return report
    try:
        file = open_hdf5(path)
    except NotHDF5Error as exc:
        emit("/", "file.not-hdf5", exc.message, Severity.ERROR)
        return report
    with file:
        try:
            specs = load_specs(file, str(path), spec)
        except SpecError as exc:
            emit(exc.hdf5_path or "/", _spec_rule(exc), exc.message, Severity.ERROR)
            return report
        except NoSpecsError as exc:
            emit(exc.hdf5_path or "/", "spec.missing", exc.message, Severity.ERROR)
            return report
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            emit("/", "file.unreadable", f"the spec group cannot be read ({exc})", Severity.ERROR)
            return report
        try:
            index = build_graph(file, str(path))
        except H5ModelError as exc:
            emit("/", "file.unreadable", exc.message, Severity.ERROR)
            return report
        spec_paths = _spec_paths(file)

        def skip(hdf5_path: str) -> bool:
            return any(hdf5_path == p or hdf5_path.startswith(p + "/") for p in spec_paths)

        structure = StructureChecker(file, index, specs, emit, skip)
        tables = TableChecker(file, index, structure.resolver, emit, skip)
        for check in (structure.run, tables.run):
            try:
                check()
            except (OSError, RuntimeError, KeyError, ValueError, TypeError, SpecError) as exc:
                emit("/", "check.failed", f"{type(exc).__name__}: {exc}", Severity.ERROR)
    report.issues.sort(key=lambda i: (i.hdf5_path, i.rule))
    return report


def _spec_paths(file: h5py.File) -> list[str]:
    from h5model.spec.loader import find_spec_group

    try:
        found = find_spec_group(file, "")
    except H5ModelError:
        return []
    return [found[1]] if found else []
