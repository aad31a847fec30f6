"""Validate files: open, read specs and structure, run the checks, never raise on a bad file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import h5py

from h5model.codegen.registry import cache_dir, generated
from h5model.errors import H5ModelError, NoSpecsError, NotHDF5Error, SpecError
from h5model.hdf5 import index_lookup
from h5model.hdf5.binding import bind
from h5model.hdf5.graph import FileIndex, build_graph
from h5model.hdf5.index_file import StoredIndex
from h5model.hdf5.limits import LimitError
from h5model.hdf5.open import open_hdf5
from h5model.rules.ruleset import RuleSet
from h5model.spec.declared import resolve_layout
from h5model.spec.layout import Layout, LayoutLike, embedded_layout
from h5model.spec.loader import load_specs, read_namespace_files
from h5model.storage.journal import JournalError
from h5model.storage.remote import RemoteFile, RemoteReadError, is_url
from h5model.validation.basins import check_basins
from h5model.validation.external import check_external_links
from h5model.validation.layout_checks import check_binding
from h5model.validation.report import Emit, FileReport, Issue, Report, Severity
from h5model.validation.structure import StructureChecker
from h5model.validation.table_checks import TableChecker

PathLike = str | os.PathLike[str]


def validate(
    path: PathLike, *, spec: PathLike | Sequence[PathLike] | None = None, strict: bool = False,
    layout: Layout | LayoutLike | type[Any] | None = None,
    index: PathLike | bool = False,
) -> Report:
    """Validate one file against its own specs (or ``spec`` namespace files); ``layout``
    types the objects without type attributes by position (``spec.layout``)."""
    return validate_many([path], spec=spec, strict=strict, layout=layout, index=index)


def validate_many(
    paths: Sequence[PathLike],
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    strict: bool = False,
    layout: Layout | LayoutLike | type[Any] | None = None,
    index: PathLike | bool = False,
) -> Report:
    """One report covering every file; each file's issues kept.

    What is wrong with a file is an issue in the report, never an exception; a ``spec``
    namespace file that cannot be read is a usage error and raises ``SpecError``. With
    ``strict``, warnings are reported as errors. ``index``: True checks each file whose
    metadata index matches (beside it, or in the index cache) from that index alone, with
    no HDF5 read: the rules on structure, types, attributes, shapes, dtypes and small
    values, not those that read a dataset's data (references in datasets, ragged indexes,
    regions); a path or URL names the index of the one file given.
    """
    if spec is not None:
        check_supplied(spec)
    chosen = resolve_layout(layout) if layout is not None else None
    if not isinstance(index, bool) and len(paths) != 1:
        raise H5ModelError("an index path is for one file; pass index=True for many")
    return Report([validate_file(p, spec=spec, strict=strict, layout=chosen, index=index)
                   for p in paths], strict=strict)


def validate_file(
    path: PathLike,
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    strict: bool = False,
    layout: Layout | LayoutLike | type[Any] | None = None,
    index: PathLike | bool = False,
) -> FileReport:
    """The issues of one file or URL (``spec`` files already checked by the caller);
    ``layout`` and ``index`` as for ``validate_many``."""
    chosen = resolve_layout(layout) if layout is not None else None
    report = _validate_file(str(path) if is_url(path) else Path(path), spec, index, chosen)
    if strict:
        report.issues = [replace(i, severity=Severity.ERROR) for i in report.issues]
    return report


def check_supplied(spec: PathLike | Sequence[PathLike]) -> None:
    """Read the supplied namespace files once, so that a bad one fails the whole run."""
    paths = [Path(spec)] if isinstance(spec, (str, os.PathLike)) else [Path(p) for p in spec]
    for path in paths:
        try:
            read_namespace_files([path])
        except SpecError as exc:
            if exc.file is not None:
                raise
            where = None if exc.hdf5_path == str(path) else exc.hdf5_path
            raise SpecError(exc.message, file=path, hdf5_path=where, rule=exc.rule) from None
        except (OSError, ValueError) as exc:  # e.g. a binary file: not UTF-8 text
            raise SpecError(f"cannot read namespace file ({exc})", file=path) from None


def _validate_file(path: Path | str, spec: PathLike | Sequence[PathLike] | None,
                   index: PathLike | bool = False, layout: Layout | None = None) -> FileReport:
    report = FileReport(str(path))
    try:
        stored = _matching_index(path, index) if index is not False else None
        if stored is not None:
            _check_indexed(path, spec, report, stored, layout)
        else:
            _check_file(path, spec, report, layout)
    except RemoteReadError as exc:  # the network failed mid-way: where, and what was lost
        report.issues.append(Issue(exc.hdf5_path or "/", "file.unreadable", Severity.ERROR,
                                   exc.message))
    report.issues.sort(key=lambda i: (i.hdf5_path, i.rule))
    return report


def _check_file(path: Path | str, spec: PathLike | Sequence[PathLike] | None,
                report: FileReport, layout: Layout | None) -> None:
    def emit(hdf5_path: str, rule: str, message: str, severity: Severity) -> None:
        report.issues.append(Issue(hdf5_path, rule, severity, message))

    if isinstance(path, Path) and not os.path.lexists(path):  # a link loop exists, and
        emit("/", "file.not-found", "no such file", Severity.ERROR)  # open_hdf5 says what
        return
    try:
        file = open_hdf5(path)
    except NotHDF5Error as exc:
        # an HDF5 signature that cannot be opened: damaged (e.g. cut short), not foreign
        if isinstance(path, str):  # a URL: the error says which (no file to look at)
            rule = exc.rule or "file.not-hdf5"
        else:
            rule = "file.unreadable" if _has_hdf5_signature(path) else "file.not-hdf5"
        emit("/", rule, exc.message, Severity.ERROR)
        return
    except JournalError as exc:  # an interrupted save: reported, never undone here
        emit("/", "file.unreadable", exc.message, Severity.ERROR)
        return
    with file:
        try:
            specs = load_specs(file, str(path), spec,
                               layout.namespaces() if layout is not None else None)
            if layout is None:  # a file made self-describing keeps its layout
                layout = embedded_layout(file, str(path), specs)
            rules = RuleSet(specs)
            if not generated(specs):  # what opening the file refuses, reported here
                rules.build_all()
        except SpecError as exc:
            where, message = _spec_where(file, exc)
            emit(where, exc.rule or "spec.malformed", message, Severity.ERROR)
            return
        except NoSpecsError as exc:
            emit(exc.hdf5_path or "/", exc.rule or "spec.missing", exc.message, Severity.ERROR)
            return
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            emit("/", "file.unreadable", f"the spec group cannot be read ({exc})", Severity.ERROR)
            return
        try:
            index = build_graph(file, str(path))
        except LimitError as exc:  # a value too large to read: where it is, what limit
            emit(exc.hdf5_path or "/", exc.rule or "file.limit-exceeded", exc.message,
                 Severity.ERROR)
            return
        except H5ModelError as exc:
            emit(exc.hdf5_path or "/", "file.unreadable", exc.message, Severity.ERROR)
            return
        if not _bound(index, rules, layout, emit):
            return
        spec_paths = _spec_paths(file)

        def skip(hdf5_path: str) -> bool:
            return any(hdf5_path == p or hdf5_path.startswith(p + "/") for p in spec_paths)

        if isinstance(path, Path):  # a remote file's links (and basins) are not followed
            check_external_links(path, index, emit, skip)
            check_basins(path, file, index, emit)
        structure = StructureChecker(file, index, rules, emit, skip)
        tables = TableChecker(file, index, structure.rules, emit, skip)
        for check in (structure.run, tables.run):
            try:
                check()
            except (OSError, RuntimeError, KeyError, ValueError, TypeError, SpecError) as exc:
                emit("/", "check.failed", f"{type(exc).__name__}: {exc}", Severity.ERROR)


def _matching_index(path: Path | str, index: PathLike | bool) -> StoredIndex | None:
    """The file's index if one matches it now (a URL's identity is asked for: one request,
    no HDF5 read); one that does not is warned about, and the file is read instead."""
    if isinstance(path, str):
        identity = index_lookup.remote_identity(RemoteFile(path))
    elif os.path.isfile(path):
        identity = index_lookup.local_identity(path)
    else:
        return None  # the file's own check says what is wrong with it
    explicit = None if isinstance(index, bool) else index
    found = index_lookup.find(path, explicit, cache_dir(), identity=identity)
    return found[0] if found is not None else None


def _check_indexed(path: Path | str, spec: PathLike | Sequence[PathLike] | None,
                   report: FileReport, stored: StoredIndex, layout: Layout | None) -> None:
    """The checks that need no data, run on an index: the HDF5 file is not opened."""

    def emit(hdf5_path: str, rule: str, message: str, severity: Severity) -> None:
        report.issues.append(Issue(hdf5_path, rule, severity, message))

    label = str(path)
    try:
        specs = index_lookup.specs_for(stored, label, spec,
                                       layout.namespaces() if layout is not None else None)
        rules = RuleSet(specs)
        if not generated(specs):
            rules.build_all()
    except (SpecError, NoSpecsError) as exc:
        emit(exc.hdf5_path or "/", exc.rule or "spec.malformed", exc.message, Severity.ERROR)
        return
    if not _bound(stored.index, rules, layout, emit):
        return
    spec_paths = sorted({spec.origin.rsplit("/", 2)[0] for spec, _ in (stored.specs or {})
                         .values()})

    def skip(hdf5_path: str) -> bool:
        return any(hdf5_path == p or hdf5_path.startswith(p + "/") for p in spec_paths)

    if isinstance(path, Path):
        check_external_links(path, stored.index, emit, skip)
    structure = StructureChecker(None, stored.index, rules, emit, skip)
    tables = TableChecker(None, stored.index, structure.rules, emit, skip)
    for check in (structure.run, tables.run):
        try:
            check()
        except (RuntimeError, KeyError, ValueError, TypeError, SpecError) as exc:
            emit("/", "check.failed", f"{type(exc).__name__}: {exc}", Severity.ERROR)


def _bound(index: FileIndex, rules: RuleSet, layout: Layout | None, emit: Emit) -> bool:
    """Type the objects without type attributes by the layout and report what did not
    bind; False when the root did not, and nothing more can be checked."""
    try:
        binding = bind(index, rules, layout)
    except (H5ModelError, SpecError) as exc:
        emit("/", "spec.malformed", exc.message, Severity.ERROR)
        return False
    check_binding(index, binding, emit)
    return binding.root_problem is None


def _spec_where(file: h5py.File, exc: SpecError) -> tuple[str, str]:
    """The nearest object of the file a spec problem is about, and the message.

    A problem in a namespace file on disk, or in a part of the file that does not
    exist, is reported at the nearest existing path with the place named in the text.
    """
    where = exc.hdf5_path
    if not where:
        return "/", exc.message
    probe = where if where.startswith("/") else "/"
    while probe != "/":
        try:
            if file.get(probe, getlink=True) is not None:
                break
        except (KeyError, ValueError, RuntimeError, OSError):
            pass
        probe = probe.rsplit("/", 1)[0] or "/"
    return probe, exc.message if probe == where else f"{where}: {exc.message}"


def _has_hdf5_signature(path: Path) -> bool:
    try:
        return path.is_file() and bool(h5py.is_hdf5(path))
    except (OSError, ValueError):
        return False


def _spec_paths(file: h5py.File) -> list[str]:
    from h5model.spec.loader import find_spec_group

    try:
        found = find_spec_group(file, "")
    except H5ModelError:
        return []
    return [found[1]] if found else []
