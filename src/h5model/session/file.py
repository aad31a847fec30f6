"""``h5model.open``: a file handle with its specs, graph and models, for reading or editing.

Modes follow h5py: ``r`` read-only, ``r+`` read/write (must exist), ``a`` read/write
(created if missing), ``w`` create (replacing an existing file, at save), ``w-``/``x``
create (refused if the file exists). Nothing is overwritten without being asked.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from h5model.codegen import registry
from h5model.errors import H5ModelError, NotHDF5Error
from h5model.hdf5.graph import TYPE_KEYS, FileIndex, build_graph
from h5model.hdf5.kinds import EdgeLabel, NodeKind
from h5model.hdf5.open import open_hdf5
from h5model.models.arrays import H5Array
from h5model.models.nodes import Dataset, ExternalLink, Group, Node
from h5model.persist.edits import Edits
from h5model.persist.writer import Writer, embed_specs
from h5model.session.reader import Reader
from h5model.spec.loader import PathLike, SpecSet, combine, load_specs, supplied_specs
from h5model.storage.journal import JournaledFile, roll_back
from h5model.storage.locking import WriterLock, reading, recover, saving

if TYPE_CHECKING:
    import networkx as nx

MODES = ("r", "r+", "a", "w", "w-", "x")


class File:
    """An HDF5 file read as models. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        path: PathLike,
        mode: str = "r",
        *,
        spec: PathLike | Sequence[PathLike] | None = None,
        external_root: PathLike | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.path = Path(path)
        self.label = str(path)
        self.mode = "w-" if mode == "x" else mode
        self.writable = self.mode != "r"
        self._h5: h5py.File | None = None
        self._lock: WriterLock | None = None
        self._externals: dict[Path, File] = {}
        self._models: dict[str, Any] = {}
        self._edits = Edits()
        self._stamp: tuple[int, int, int] | None = None
        """(inode, size, mtime) when this handle last saw the file: a change means another
        writer saved, and reading on through stale HDF5 metadata is refused."""
        self._saving: h5py.File | None = None
        """The journaled handle while a save writes (arrays of this file read through it)."""
        self._spec_arg = spec
        self.external_root = Path(external_root) if external_root else self.path.resolve().parent
        self.specs: SpecSet | None = None
        self.modules: dict[str, ModuleType] = {}
        self.index: FileIndex | None = None
        self._nx_graph: nx.MultiDiGraph[str] | None = None
        self._nx_source: FileIndex | None = None
        exists = self.path.exists()
        if self.mode in ("r", "r+") and not exists:
            raise NotHDF5Error("no such file", file=self.label)
        if self.mode == "w-" and exists:
            raise H5ModelError("the file exists; use mode='w' to replace it", file=self.label)
        try:
            if self.writable:
                self._lock = WriterLock(self.path)
            if exists:
                # a writer holds the writer lock itself: nobody else can be saving, so a
                # journal left behind is a crash to roll back now (not a save to wait for)
                recover(self.path, writer=self._lock is not None)
            self._fresh = self.mode == "w" or not exists
            if self._fresh:
                if spec is not None:
                    self.specs = combine(None, supplied_specs(spec), self.label)
            else:
                self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        with reading(self.path):
            self._h5 = open_hdf5(self.path)
            self._stamp = _file_stamp(self.path)
            self.specs = load_specs(self._h5, self.label, self._spec_arg)
            self.modules = registry.modules_for(self.specs)
            self.index = build_graph(self._h5, self.label)
            self._models = Reader(
                self._h5, self.label, self.index, self.modules, self._open_external,
                opener=self._open_dataset,
                owner=self,
                on_write=self._slice_written if self.writable else None,
                resolve=self._resolve_reference,
                guard=self._read_guard,
            ).build()

    # -- access ------------------------------------------------------------------------------
    @property
    def h5(self) -> h5py.File:
        """The underlying h5py file (read-only)."""
        if self._h5 is None:
            raise H5ModelError("the file has not been saved yet", file=self.label)
        return self._h5

    @property
    def graph(self) -> nx.MultiDiGraph[str]:
        """The object graph as a ``networkx.MultiDiGraph`` (built on first use): every child,
        link and reference is its own edge, keyed ``label:name`` between its two nodes."""
        if self.index is None:
            raise H5ModelError("the file has not been saved yet", file=self.label)
        if self._nx_graph is None or self._nx_source is not self.index:
            self._nx_graph = self.index.graph.to_networkx()
            self._nx_source = self.index
        return self._nx_graph

    @property
    def root(self) -> Any:
        return self._models.get("/")

    @root.setter
    def root(self, model: Node) -> None:
        if not self.writable or not self._fresh:
            raise H5ModelError("the root can only be set on a new file (mode 'w', 'w-' or 'a')",
                               file=self.label)
        if not isinstance(model, Group):
            raise TypeError("the root must be a group model")
        self._models = {"/": model}

    def get(self, hdf5_path: str) -> Any:
        """The model at ``hdf5_path`` (typed or not); soft links lead to their target's model."""
        path = "/" + hdf5_path.strip("/") if hdf5_path != "/" else "/"
        model = self._models.get(path)
        if model is not None:
            return model
        parts = [p for p in path.split("/") if p]
        current: Any = self.root
        for i, part in enumerate(parts):
            children = getattr(current, "children", None)
            if children is None or part not in children:
                where = "/" + "/".join(parts[: i + 1])
                raise H5ModelError("no object at this path", file=self.label, hdf5_path=where)
            current = children[part]
        return current

    def models(self) -> Iterator[tuple[str, Node]]:
        """(hdf5_path, model) for every object, in dependency order."""
        return iter(self._models.items())

    def __contains__(self, hdf5_path: object) -> bool:
        if not isinstance(hdf5_path, str):
            return False
        try:
            self.get(hdf5_path)
        except H5ModelError:
            return False
        return True

    def _resolve_reference(self, ref: Any) -> Any:
        """A reference read from a dataset -> its model (the current handle, even after a save)."""
        from h5model.hdf5.graph import dereference_path

        if self.index is None:
            return None
        path = dereference_path(self.h5, self.index, ref)
        return self._models.get(path) if path is not None else None

    @contextlib.contextmanager
    def _read_guard(self) -> Iterator[None]:
        """Around every lazy read: wait out another process's save, then refuse to read
        through this handle if that save changed the file (open it again instead)."""
        if self._saving is not None:
            yield  # our own save reads through its journaled handle
            return
        with reading(self.path):
            if self._stamp is not None and _file_stamp(self.path) != self._stamp:
                raise H5ModelError(
                    "the file was changed by another writer since it was opened; open it "
                    "again to read the new state",
                    file=self.label,
                )
            yield

    def _open_dataset(self, path: str) -> h5py.Dataset:
        dataset = (self._saving if self._saving is not None else self.h5)[path]
        assert isinstance(dataset, h5py.Dataset)
        return dataset

    # -- edits ---------------------------------------------------------------------------------
    def field_changed(self, model: Node, name: str) -> None:
        if self.writable:
            self._edits.field_changed(model, name)

    def child_added(self, group: Group, name: str, child: Any) -> None:
        if self.writable:
            self._edits.child_added(group, name, child)

    def child_removed(self, group: Group, name: str) -> None:
        if self.writable:
            self._edits.child_removed(group, name)

    def _slice_written(self, array: H5Array, key: Any, value: Any) -> None:
        self._edits.slices.append((array, key, np.asarray(value)))

    def row_added(self, table: Node, row: dict[str, Any]) -> None:
        if not self.writable:
            raise H5ModelError("the file is open read-only; open it with mode='r+' to edit",
                               file=self.label, hdf5_path=table.hdf5_path)
        self._edits.rows.append((table, row))

    def pending_rows(self, table: Node) -> int:
        return sum(1 for t, _ in self._edits.rows if t is table)

    @property
    def dirty(self) -> bool:
        """True when there are edits not saved yet."""
        return bool(self._edits)

    def owns(self, model: Node) -> bool:
        """True when ``model`` was read from (or saved into) this file."""
        return model.__pydantic_private__ is not None and (
            model.__pydantic_private__.get("_owner") is self
        )

    def dependents(self, path: str) -> list[tuple[str, str, str]]:
        """(source, name, label) of every reference or link into ``path`` or below it."""
        if self.index is None:
            return []
        graph = self.index.graph
        prefix = path.rstrip("/") + "/"
        out = []
        for node in [path, *(n for n in graph.nodes if n.startswith(prefix))]:
            if node not in graph or graph.nodes[node]["kind"] is NodeKind.MISSING:
                continue  # a broken link into the subtree stays as broken as it was
            for source, _, edge in graph.in_edges(node, data=True):
                if edge["label"] in (EdgeLabel.REFERENCE, EdgeLabel.LINK):
                    out.append((source, str(edge["name"]), edge["label"].value))
        return out

    def _type_key(self) -> str:
        root = self._models.get("/")
        if root is not None:
            for key in TYPE_KEYS:
                if key in root.attrs:
                    return key
        if self.specs is not None and "core" in self.specs.namespaces:
            return "neurodata_type"
        return "data_type" if self.specs is not None else "neurodata_type"

    def _referrers(self, path: str) -> list[tuple[str, str, str]]:
        """(source, attribute or dataset field, kind) of every reference to ``path``."""
        if self.index is None or path not in self.index.graph:
            return []
        out = []
        for source, _, edge in self.index.graph.in_edges(path, data=True):
            if edge["label"] is not EdgeLabel.REFERENCE:
                continue
            name = str(edge["name"])
            if name in self.index.attrs.get(source, {}):
                out.append((source, name, "attribute"))
            elif self.index.graph.nodes[source]["kind"] is NodeKind.DATASET:
                out.append((source, name, "dataset"))
        return out

    def save(self) -> None:
        """Check every edit, then write exactly what changed; atomically (see ``journal``)."""
        if not self.writable:
            raise H5ModelError("the file is open read-only; open it with mode='r+' to save",
                               file=self.label)
        if self._fresh:
            self._save_new()
            return
        if not self._edits:
            return
        self._edits.check(self)
        assert self._h5 is not None
        type_key = self._type_key()
        with saving(self.path):
            self._h5.close()
            self._h5 = None
            try:
                journal = JournaledFile(self.path)
            except BaseException:
                roll_back(self.path)  # a journal half made: nothing of the file was touched
                self._reopen(locked=True)
                raise
            try:
                with h5py.File(journal, "r+") as h5:
                    self._saving = h5
                    writer = Writer(h5, type_key, self.label, home=self,
                                    folder=str(self.path.resolve().parent))
                    touched = self._edits.apply(h5, writer, self._referrers)
                    writer.finish()
                    self._saving = None
                journal.commit()
            except BaseException:
                self._saving = None
                if not journal.closed:
                    journal.abort()
                self._reopen(locked=True)
                raise
            self._reopen(locked=True)
        self._after_save(writer, touched)

    def _save_new(self) -> None:
        root = self._models.get("/")
        if root is None:
            raise H5ModelError("nothing to save: set f.root first", file=self.label)
        specs = self.specs or _specs_of(root)
        if specs is None:
            raise H5ModelError("no specs to embed: open with spec=... or use models read from "
                               "a file", file=self.label)
        write_file(root, self.path, specs, overwrite=True)
        self._fresh = False
        self._edits.clear()
        # the file's own models from now on (the ones given may belong to another file,
        # whose edit log would swallow later edits): f.root is the saved root
        self._load()

    def _reopen(self, *, locked: bool) -> None:
        """Open the saved file again (``locked``: this process holds the saving lock, and
        taking the readers' lock on top of it would wait for ourselves)."""
        if not locked:
            with reading(self.path):
                self._reopen(locked=True)
            return
        self._h5 = open_hdf5(self.path)
        self._stamp = _file_stamp(self.path)
        self.index = build_graph(self._h5, self.label)

    def _after_save(self, writer: Writer, touched: set[str]) -> None:
        """New models learn their paths, removed ones are forgotten, changed attributes and
        datasets show their new values and shapes."""
        h5 = self.h5
        for removed in self._edits.removed_paths():
            prefix = removed + "/"
            for path in [p for p in self._models if p == removed or p.startswith(prefix)]:
                del self._models[path]
        for model, names in self._edits.fields.values():
            for name in names:
                spec = type(model).h5_fields.get(name)
                if spec is not None and spec.role == "attribute" and spec.name is not None:
                    value = getattr(model, name, None)
                    if value is None:
                        model._attrs.pop(spec.name, None)
                    else:
                        model._attrs[spec.name] = value
        for model, path in writer.created:
            object.__setattr__(model, "hdf5_path", path)
            model._owner = self
            self._models[path] = model
            if isinstance(model, Dataset) and not isinstance(model.value, H5Array):
                dataset = h5[path]
                if dataset.shape:
                    array = H5Array(self._open_dataset, path, dataset.shape, dataset.dtype)
                    array._on_write = self._slice_written
                    array._guard = self._read_guard
                    object.__setattr__(model, "value", array)
        for path in touched:
            owner = self._models.get(path)
            value = getattr(owner, "value", None) if owner is not None else None
            if path not in h5:
                continue
            if isinstance(value, H5Array) and value.hdf5_path == path:
                value.refresh(h5[path].shape, h5[path].dtype)
            elif isinstance(owner, Dataset) and h5[path].shape:
                # new data written: read it from the file from now on (and record slices)
                array = H5Array(self._open_dataset, path, h5[path].shape, h5[path].dtype)
                array._on_write = self._slice_written
                array._guard = self._read_guard
                object.__setattr__(owner, "value", array)
        self._edits.clear()

    # -- external links ------------------------------------------------------------------------
    def _open_external(self, link: ExternalLink) -> Any:
        target = (self.path.resolve().parent / link.filename).resolve()
        root = self.external_root.resolve()
        if not target.is_relative_to(root):
            raise H5ModelError(
                f"external link to {link.filename!r} leads outside {root}; pass "
                "external_root= to allow it",
                file=self.label,
                hdf5_path=link.hdf5_path,
            )
        other = self._externals.get(target)
        if other is None:
            other = File(target, external_root=root)
            self._externals[target] = other
        return other.get(link.path)

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (unsaved edits are dropped) and every external file it opened."""
        for other in self._externals.values():
            other.close()
        self._externals.clear()
        if self._h5 is not None and self._h5.id.valid:
            self._h5.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> File:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._h5 is not None and self._h5.id.valid else "closed"
        return f"<h5model.File {self.label!r} ({self.mode}, {state}, {len(self._models)} objects)>"


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _specs_of(model: Node) -> SpecSet | None:
    owner = model.__pydantic_private__.get("_owner") if model.__pydantic_private__ else None
    return getattr(owner, "specs", None)


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
            type_key = next((k for k in TYPE_KEYS if k in root.attrs), None) or (
                "neurodata_type" if "core" in specs.namespaces else "data_type"
            )
            owner = root.__pydantic_private__.get("_owner") if root.__pydantic_private__ else None
            writer = Writer(h5, type_key, str(path), home=owner,
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
    specs = _specs_of(root) if spec is None else combine(None, supplied_specs(spec), str(path))
    if specs is None:
        raise H5ModelError("no specs to embed: pass spec=... for models not read from a file",
                           file=target)
    if target.exists() and not overwrite:
        raise H5ModelError("the file exists; pass overwrite=True to replace it", file=target)
    lock = WriterLock(target)  # refused while another writer has the file open
    try:
        if target.exists():
            recover(target, writer=True)  # a stale journal must not outlive its file
        write_file(root, target, specs, overwrite=overwrite)
    finally:
        lock.release()
    return target


def open(
    path: PathLike,
    mode: str = "r",
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    external_root: PathLike | None = None,
) -> File:
    """Open ``path`` and build every model. ``mode`` as in h5py; ``spec`` adds namespace
    files on disk."""
    return File(path, mode, spec=spec, external_root=external_root)
