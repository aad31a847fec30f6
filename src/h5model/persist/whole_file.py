"""``h5model.write``: a model tree written as a new file, specs embedded, atomically.

The file is written beside its destination under a temporary name, synced, and moved
into place at the end: an interrupted write leaves no file (or the old one) behind.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py

from h5model.errors import H5ModelError
from h5model.models.declared import declare
from h5model.models.nodes import Node, owner_of
from h5model.persist.writer import Writer, embed_layout_document, embed_specs, type_key
from h5model.spec.declared import is_layout_class
from h5model.spec.layout import Layout, stored_documents
from h5model.spec.loader import PathLike, SpecSet, combine, supplied_specs
from h5model.storage.locking import WriterLock, recover
from h5model.storage.replace import fsync_folder


def specs_of(model: Node) -> SpecSet | None:
    """The specs of the file ``model`` was read from (None for a model built outside one)."""
    owner = owner_of(model)
    return owner.specs if owner is not None else None


def write_file(root: Node, path: Path, specs: SpecSet, *, overwrite: bool = False,
               layout: Layout | None = None, libver: str | None = None) -> Writer:
    """Write ``root`` and everything under it as a new file with ``specs`` embedded (and
    ``layout`` beside its namespace's specs, as ``h5model embed`` keeps it).

    Written to a temporary file beside ``path`` and moved into place at the end: an
    interrupted write leaves no file (or the old one) behind. ``libver="latest"`` writes
    HDF5's latest format, which a file streamed to with live readers needs."""
    if path.exists() and not overwrite:
        raise H5ModelError("the file exists; pass overwrite=True to replace it", file=path)
    tmp = _create_beside(path)
    try:
        bounds = None if libver is None else ("v110", libver)  # "latest": SWMR-ready
        with h5py.File(tmp, "w", libver=bounds) as h5:
            writer = Writer(h5, type_key(root, specs), str(path), home=owner_of(root),
                            folder=str(path.resolve().parent))
            writer.written[id(root)] = "/"
            writer.write_attributes(h5, root)
            writer.write_children(h5, root)
            writer.finish()
            documents: list[tuple[str, str, Any]] = []
            literals: dict[str, dict[str, Any]] = {}
            for ns in specs.namespaces.values():
                held = ns.embedded_documents()
                if layout is not None and ns.name == layout.namespace:
                    held, literals = stored_documents(held, layout)  # text as stored
                documents.append((ns.name, ns.version, held))
            embed_specs(h5, documents)
            if layout is not None:
                embed_layout_document(h5, layout, specs, literals)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            if path.exists():  # a replaced file keeps its permission bits
                os.fchmod(fd, stat.S_IMODE(path.stat().st_mode))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return writer


def _create_beside(path: Path) -> str:
    """A new empty file beside ``path`` (``.NAME.XXXXXXXX.tmp``), created as any file is
    (mode 0666 less the umask), never through a link planted at its name."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise H5ModelError("cannot find a free temporary name beside the file", file=path)


def write(root: Node, path: PathLike, *, overwrite: bool = False,
          spec: PathLike | Sequence[PathLike] | None = None) -> Path:
    """Write ``root`` (e.g. an NWBFile model) and everything under it to a new file, with
    its specs embedded so that pynwb and every HDMF reader can open it. A root of a layout
    written as classes (``models.declared``) embeds the spec derived from them, and the
    layout."""
    target = Path(path)
    specs = specs_of(root) if spec is None else combine(None, supplied_specs(spec), str(path))
    layout = None
    if specs is None and spec is None and is_layout_class(type(root)):
        layout = declare(type(root)).layout  # a layout written as classes: its derived spec
        specs = combine(None, layout.namespaces(), str(path))
    if specs is None:
        raise H5ModelError("no specs to embed: pass spec=... for models not read from a file",
                           file=target)
    if target.exists() and not overwrite:
        raise H5ModelError("the file exists; pass overwrite=True to replace it", file=target)
    lock = WriterLock(target)  # refused while another writer has the file open
    try:
        if target.exists():
            recover(target)  # a stale journal must not outlive its file
        write_file(root, target, specs, overwrite=overwrite, layout=layout)
    finally:
        lock.release()
    return target
