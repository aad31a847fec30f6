"""Finding the metadata index that matches a file: one given, the sidecar beside the file
(``FILE.h5mindex``, ``URL.h5mindex``), or the entry of the index cache keyed by the file's
identity; and refusing, with a warning that names the index and why, one that is stale
(the file's size or modification time / ETag changed), of another format version, or
damaged. A refused index is never fatal: the file itself is read instead.

A URL's sidecar is fetched in one request and trusted at once, so that its models are
ready without asking for the HDF5 file at all; the file's identity is compared when its
bytes are first needed (``check_remote``), and a file changed since is then an error.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from h5model.errors import H5ModelError, NoSpecsError
from h5model.hdf5 import index_file
from h5model.hdf5.index_file import Identity, IndexFormatError, StoredIndex
from h5model.spec.loader import NamespaceSpec, PathLike, SpecSet, combine, supplied_specs
from h5model.storage.remote import RemoteFile, RemoteReadError, fetch_small, is_url


class IndexWarning(UserWarning):
    """An index was found but not used (stale, damaged, of another version)."""


def local_identity(path: Path) -> Identity:
    info = path.stat()
    return Identity(info.st_size, f"{index_file.LOCAL_STAMP}{info.st_mtime_ns}")


def remote_identity(handle: RemoteFile) -> Identity:
    return Identity(handle.size, handle.identity)


def sidecar(source: Path | str) -> Path | str:
    """Where a file's own index lies: beside it, named after it."""
    return source + index_file.SUFFIX if isinstance(source, str) else \
        source.with_name(source.name + index_file.SUFFIX)


def cache_entry(cache_root: Path, source: Path | str, identity: Identity) -> Path:
    """The cache's file for this state of this file (another state has another entry)."""
    where = source if isinstance(source, str) else os.path.realpath(source)
    key = hashlib.sha256(f"{where}\n{identity.size}\n{identity.stamp}".encode(
        "utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_root / "index" / f"{key}{index_file.SUFFIX}"


def read_index(location: Path | str, file_label: str) -> StoredIndex | None:
    """The index at ``location`` (None if there is none); raises ``IndexFormatError``."""
    label = str(location)
    if isinstance(location, str) and is_url(location):
        try:
            data = fetch_small(location, index_file.MAX_INDEX_BYTES)
        except RemoteReadError as exc:
            raise IndexFormatError(exc.message, file=label) from None
    else:
        path = Path(location)
        try:
            if not path.is_file():
                return None
            if path.stat().st_size > index_file.MAX_INDEX_BYTES:
                raise IndexFormatError(f"larger than {index_file.MAX_INDEX_BYTES:,} bytes",
                                       file=label)
            data = path.read_bytes()
        except OSError as exc:
            raise IndexFormatError(f"cannot be read ({exc.strerror or exc})",
                                   file=label) from None
    if data is None:
        return None
    return index_file.loads(data, label, file_label)


def find(source: Path | str, explicit: PathLike | None, cache_root: Path, *,
         identity: Identity | None, beside: bool = True) -> tuple[StoredIndex, str] | None:
    """The usable index of ``source`` and where it was found, or None (each one found but
    refused is warned about). ``identity``: the file's now (None for a URL not asked yet:
    its identity is checked later, see ``check_remote``); ``beside``: look for the sidecar
    (else the cache only)."""
    label = str(source)
    if explicit is not None:
        candidates: list[Path | str] = [str(explicit) if is_url(explicit) else Path(explicit)]
    else:
        candidates = [sidecar(source)] if beside else []
        if identity is not None:
            candidates.append(cache_entry(cache_root, source, identity))
    for location in candidates:
        try:
            stored = read_index(location, label)
        except IndexFormatError as exc:
            _refused(str(location), exc.message)
            continue
        if stored is None:
            if explicit is not None:
                _refused(str(location), "no such index")
            continue
        if identity is not None:
            why = stored.identity.differs(identity)
            if why is not None:
                _refused(str(location), f"stale: {why}")
                continue
        return stored, str(location)
    return None


def check_remote(stored: StoredIndex, where: str, handle: RemoteFile) -> None:
    """Refuse to read on through a remote file that changed since ``stored`` was written."""
    why = stored.identity.differs(remote_identity(handle))
    if why is not None:
        raise H5ModelError(f"the models were read from the index {where}, which is stale "
                           f"({why}); open the file again", file=handle.url)


def _refused(location: str, why: str) -> None:
    warnings.warn(IndexWarning(f"{location}: index not used ({why}); reading the file "
                               "instead"), stacklevel=4)


def specs_for(stored: StoredIndex, label: str,
              spec: PathLike | Sequence[PathLike] | None,
              read: Mapping[str, NamespaceSpec] | None = None) -> SpecSet:
    """The specs a file is read with, its embedded ones taken from its index (as
    ``load_specs`` takes them from the file; ``read``: namespaces already read, e.g. a
    layout's)."""
    supplied = {**supplied_specs(spec), **(read or {})}
    try:
        embedded: SpecSet | None = stored.spec_set(label)
    except NoSpecsError:
        if not supplied:
            raise
        embedded = None
    return combine(embedded, supplied, label) if supplied else embedded  # type: ignore[return-value]


def write(source: PathLike, output: PathLike | None, cache_root: Path, *,
          chunks: Sequence[str] = ()) -> Path:
    """Index the file (or URL) ``source`` into ``output`` (by default its cache entry);
    ``chunks``: datasets whose chunk offsets to keep. Returns where it was written."""
    from h5model.hdf5.open import open_hdf5
    from h5model.storage.remote import handle_of

    where: Path | str = str(source) if is_url(source) else Path(source)
    h5 = open_hdf5(where)
    try:
        handle = handle_of(h5)
        identity = remote_identity(handle) if handle is not None else \
            local_identity(Path(where))
        data = index_file.write_index(h5, str(where), identity, chunks=chunks)
    finally:
        h5.close()
    target = Path(output) if output is not None else cache_entry(cache_root, where, identity)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise H5ModelError(f"cannot write the index ({exc.strerror or exc})",
                           file=str(target)) from None
    return target
