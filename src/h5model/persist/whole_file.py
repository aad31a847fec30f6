"""``h5model.write``: a model tree written as a new file, specs embedded, atomically.

The file is written beside its destination under a temporary name, synced, and moved
into place at the end: an interrupted write leaves no file (or the old one) behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import h5py

from h5model.errors import H5ModelError
from h5model.models.nodes import Node, owner_of
from h5model.persist.writer import Writer, embed_specs, type_key
from h5model.spec.loader import PathLike, SpecSet, combine, supplied_specs
from h5model.storage.locking import WriterLock, recover


def specs_of(model: Node) -> SpecSet | None:
    """The specs of the file ``model`` was read from (None for a model built outside one)."""
    owner = owner_of(model)
    return owner.specs if owner is not None else None


def write_file(root: Node, path: Path, specs: SpecSet, *, overwrite: bool = False) -> Writer:
    """Write ``root`` and everything under it as a new file with ``specs`` embedded.

    Written to a temporary file beside ``path`` and moved into place at the end: an
    interrupted write leaves no file (or the old one) behind."""
    if path.exists() and not overwrite:
        raise H5ModelError("the file exists; pass overwrite=True to replace it", file=path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as h5:
            writer = Writer(h5, type_key(root, specs), str(path), home=owner_of(root),
                            folder=str(path.resolve().parent))
            writer.written[id(root)] = "/"
            writer.write_attributes(h5, root)
            writer.write_children(h5, root)
            writer.finish()
            documents = [
                (ns.name, ns.version, ns.embedded_documents()) for ns in specs.namespaces.values()
            ]
            embed_specs(h5, documents)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return writer


def write(root: Node, path: PathLike, *, overwrite: bool = False,
          spec: PathLike | Sequence[PathLike] | None = None) -> Path:
    """Write ``root`` (e.g. an NWBFile model) and everything under it to a new file, with
    its specs embedded so that pynwb and every HDMF reader can open it."""
    target = Path(path)
    specs = specs_of(root) if spec is None else combine(None, supplied_specs(spec), str(path))
    if specs is None:
        raise H5ModelError("no specs to embed: pass spec=... for models not read from a file",
                           file=target)
    if target.exists() and not overwrite:
        raise H5ModelError("the file exists; pass overwrite=True to replace it", file=target)
    lock = WriterLock(target)  # refused while another writer has the file open
    try:
        if target.exists():
            recover(target)  # a stale journal must not outlive its file
        write_file(root, target, specs, overwrite=overwrite)
    finally:
        lock.release()
    return target
