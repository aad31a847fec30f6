"""``h5model.truncate``: a small, valid copy of a file, with the first rows of everything.

Useful to share a sample of a large recording, to make test fixtures, or to
reproduce a problem without moving gigabytes. The copy has the same specs,
objects, attributes, links and references as the source, and the same storage
settings (chunking, compression) where the shapes allow; datasets are cut to
their first ``n`` rows in a way that keeps tables, ragged columns, regions and
time series consistent (see :mod:`h5model.truncation.plan`).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
from h5py import h5f, h5g, h5p

from h5model.errors import H5ModelError, NoSpecsError
from h5model.hdf5.binding import bind
from h5model.hdf5.graph import FileIndex, build_graph
from h5model.hdf5.open import open_hdf5
from h5model.rules.ruleset import RuleSet
from h5model.spec.declared import resolve_layout
from h5model.spec.layout import Layout, LayoutLike, embedded_layout
from h5model.spec.loader import SpecSet, find_spec_group, load_specs
from h5model.storage.remote import is_url
from h5model.truncation.copy import Copier, creation_properties
from h5model.truncation.plan import Plan, Planner
from h5model.truncation.progress import Progress

PathLike = str | os.PathLike[str]

__all__ = ["Plan", "truncate"]

_HDF5_ERRORS = (OSError, RuntimeError, ValueError, KeyError, TypeError)
CACHE_BYTES = 2 * 2**20
"""The metadata cache each file keeps while the copy is written."""
META_BLOCK = 512
"""Bytes HDF5 sets aside at a time for the copy's metadata (its default is 2048)."""


def truncate(
    src: PathLike,
    dst: PathLike,
    n: int = 10,
    keep: Sequence[str] = (),
    overwrite: bool = False,
    *,
    progress: bool | None = None,
    layout: Layout | LayoutLike | type[Any] | None = None,
) -> Path:
    """Write ``dst``: ``src`` with every dataset longer than ``n`` rows cut to ``n`` rows,
    tables, ragged columns, regions and time series cut consistently. ``keep`` names
    HDF5 paths copied whole. ``dst`` is written to a temporary file beside it and moved
    into place at the end. ``progress``: a progress line on standard error (default:
    when standard error is a terminal). ``layout`` types objects without type attributes
    (``spec.layout``): its types kept whole are copied whole, and a row count it keeps
    in a root attribute is set to the rows kept. Returns the path of the copy."""
    if is_url(src):
        raise H5ModelError("truncate copies a local file: download it first", file=str(src))
    src_path, dst_path = Path(src), Path(dst)
    keep = (keep,) if isinstance(keep, str) else tuple(keep)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise H5ModelError(f"the number of rows to keep must be a whole number >= 1, not {n!r}")
    label = str(src_path)
    file = open_hdf5(src_path)
    with file:
        _check_destination(src_path, dst_path, overwrite)
        chosen = resolve_layout(layout) if layout is not None else None
        specs = (load_specs(file, label, None, chosen.namespaces()) if chosen is not None
                 else _specs(file, label))
        if chosen is None and specs is not None:  # a file made self-describing keeps its layout
            chosen = embedded_layout(file, label, specs)
        index = build_graph(file, label)
        counts: dict[str, str] = {}
        if chosen is not None and specs is not None:
            binding = bind(index, RuleSet(specs), chosen)
            if binding.root_problem is not None:
                raise H5ModelError(binding.root_problem, file=label, hdf5_path="/")
            keep = (*keep, *sorted(binding.whole))
            counts = binding.rows
        planner = Planner(file, index, specs, n, keep, label, _spec_path(file, index, label))
        try:
            plan = planner.plan()
        except _HDF5_ERRORS as exc:
            raise H5ModelError(f"cannot read what to keep ({exc})", file=label) from None
        for group, attribute in counts.items():
            if attribute in index.attrs.get("/", {}):
                rows = [plan.kept(c.target, 0) for c in index.children.get(group, ())
                        if c.target in plan.rows]
                if rows:
                    plan.root_attributes[attribute] = max(rows)
        _write(file, index, plan, src_path, dst_path, progress)
    return dst_path


def _check_destination(src: Path, dst: Path, overwrite: bool) -> None:
    if dst.is_dir():
        raise H5ModelError("is a folder; give the name of the file to write", file=dst)
    if not dst.parent.is_dir():
        raise H5ModelError("cannot be written: its folder does not exist", file=dst)
    if dst.exists():
        if os.path.samefile(src, dst):
            raise H5ModelError(
                "is the source file itself; write the truncated copy to another file",
                file=dst,
            )
        if not overwrite:
            raise H5ModelError(
                "already exists; pass overwrite=True (--overwrite) to replace it", file=dst
            )


def _specs(file: h5py.File, label: str) -> SpecSet | None:
    """The embedded specs; a file without any is cut by the generic rule alone."""
    try:
        return load_specs(file, label, None)
    except NoSpecsError:
        return None


def _spec_path(file: h5py.File, index: FileIndex, label: str) -> str | None:
    try:
        found = find_spec_group(file, label)
    except H5ModelError:
        return None
    if found is None:
        return None
    path = found[1]
    return path if path in index.children else None


def _small_cache(fid: Any) -> None:
    """Hold a file's metadata cache to ``CACHE_BYTES`` (libhdf5 lets it grow to 32 MiB, as
    stored: several times that decoded, about 350 MiB on 65,000 objects). The copy visits
    each object once, so a larger cache would only hold what is done with."""
    try:
        config = fid.get_mdc_config()
        if config.max_size > CACHE_BYTES:
            config.set_initial_size = True
            config.initial_size = CACHE_BYTES
            config.max_size = CACHE_BYTES
            config.min_size = min(config.min_size, CACHE_BYTES)
            fid.set_mdc_config(config)
    except (AttributeError, RuntimeError, ValueError):
        return  # a file driver without a metadata cache to size


def _low_bound(fcpl: object) -> int:
    """Library version bound matching the source's superblock, so the copy uses the same
    generation of file structures (no larger metadata than the source)."""
    superblock = fcpl.get_version()[0]  # type: ignore[attr-defined]
    if superblock < 2:
        return int(h5f.LIBVER_EARLIEST)
    return int({2: h5f.LIBVER_V18, 3: h5f.LIBVER_V110}.get(superblock, h5f.LIBVER_LATEST))


def _write(
    file: h5py.File,
    index: FileIndex,
    plan: Plan,
    src: Path,
    dst: Path,
    progress: bool | None,
) -> None:
    show = sys.stderr.isatty() if progress is None else progress
    total = 0
    for path, rows in plan.rows.items():
        data = index.graph.nodes[path]
        total += rows * data["dtype"].itemsize * math.prod(data["shape"][1:])
    meter = Progress(sys.stderr if show else None, total, f"truncate {dst.name}")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    except OSError as exc:
        raise H5ModelError(f"cannot be written ({exc.strerror or exc})", file=dst) from None
    os.close(handle)
    try:
        fcpl = file.id.get_create_plist()
        root = creation_properties(h5g.open(file.id, b"/"))
        fcpl.set_obj_track_times(root.get_obj_track_times())
        fapl = h5p.create(h5p.FILE_ACCESS)
        fapl.set_fclose_degree(h5f.CLOSE_STRONG)
        fapl.set_libver_bounds(_low_bound(fcpl), h5f.LIBVER_LATEST)
        # metadata in small blocks: the copy streams, objects and their attributes' heap
        # values interleave, and HDF5's default 2 KiB blocks would leave gaps between them
        fapl.set_meta_block_size(META_BLOCK)
        try:
            fid = h5f.create(os.fsencode(name), h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
        except _HDF5_ERRORS as exc:
            raise H5ModelError(f"cannot be written ({exc})", file=dst) from None
        _small_cache(file.id)
        _small_cache(fid)
        copier = Copier(
            file,
            index,
            plan,
            fid,
            str(src.resolve().parent),
            str(dst.resolve().parent),
            meter,
        )
        try:
            copier.run()
        except _HDF5_ERRORS as exc:
            raise H5ModelError(
                f"cannot write the truncated copy {dst} ({exc})",
                file=src,
                hdf5_path=copier.where,
            ) from None
        finally:
            del copier
            fid.close()
        if plan.root_attributes:
            with h5py.File(name, "r+") as copy:
                for attribute, value in plan.root_attributes.items():
                    stored = file.attrs[attribute]
                    copy.attrs.create(attribute, value, dtype=getattr(stored, "dtype", None))
        userblock = fcpl.get_userblock()
        if userblock:
            with open(src, "rb") as source, open(name, "r+b") as target:
                target.write(source.read(userblock))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(name, 0o666 & ~mask)
        os.replace(name, dst)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    finally:
        meter.finish()
