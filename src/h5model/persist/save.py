"""One save of an open file: check every change, write them where every reader sees
the old file or the new one, and let the models see what the save did.

The edits go into a clone or copy of the file that then replaces it with one rename
(``storage.replace``); where neither is possible (a large file without clones, a file
with hard links) into the file itself through the undo journal, which marks the file
unreadable to other HDF5 readers meanwhile (``storage.journal``). The file's own HDF5
handle is let go while the save's handle writes (its lazy arrays read through that
one meanwhile) and opened again afterwards, also when the save fails. Nothing is
written when a check fails.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import h5py

from h5model.errors import H5ModelError
from h5model.models.arrays import ArraySource, H5Array
from h5model.models.nodes import Dataset, Node, adopt
from h5model.persist.apply import apply, referrers
from h5model.persist.checks import check
from h5model.persist.tracker import Tracker
from h5model.persist.whole_file import specs_of, write_file
from h5model.persist.writer import Writer, type_key
from h5model.spec.loader import SpecSet
from h5model.storage import replace
from h5model.storage.journal import JournaledFile
from h5model.storage.locking import saving
from h5model.storage.replace import SaveMethod


class SaveTarget(ArraySource, Protocol):
    """The open file a save rewrites, as the source of its lazy arrays."""

    @property
    def h5(self) -> h5py.File:
        """The current HDF5 handle."""
        ...

    def release(self) -> None:
        """Close the HDF5 handle: the save is about to rewrite the file under it."""
        ...

    def reopen(self) -> None:
        """Open the saved file again and read its graph (the caller holds the saving lock)."""
        ...

    def through(self, h5: h5py.File) -> AbstractContextManager[None]:
        """While held, the file's lazy arrays read through ``h5`` (the journaled handle)."""
        ...


@dataclass(frozen=True)
class SaveReport:
    """How a save reached the disk, and why that way (``File.last_save``)."""

    method: SaveMethod | Literal["new"]
    """``reflink`` or ``copy``: a new file edited and moved over the old one; ``journal``:
    edited in place through the undo journal; ``new``: a new file written whole."""
    reason: str


def save_changes(tracker: Tracker, target: SaveTarget, models: MutableMapping[str, Any], path: Path,
                 *, copy_limit: int | None = None) -> SaveReport | None:
    """Check every change recorded by ``tracker``, then write exactly those, atomically;
    None when there was nothing to save.

    ``models`` (hdf5_path -> model) learns what the save did: new models their paths,
    removed ones are forgotten. ``copy_limit`` (bytes) overrides the largest file copied
    when the file system cannot clone it (see ``storage.replace``)."""
    changes = tracker.changes
    if not changes:
        return None
    check(changes, tracker)
    key = type_key(models.get("/"), tracker.specs)
    before = tracker.index  # what refers to what, as the file holds it now
    limit = replace.copy_limit(copy_limit)

    def write(h5: h5py.File) -> tuple[Writer, set[str]]:
        with target.through(h5):
            binding = before.binding if before is not None else None
            writer = Writer(h5, key, tracker.label, home=tracker,
                            folder=str(path.resolve().parent),
                            texts=binding.texts if binding is not None else None)
            touched = apply(changes, h5, writer, lambda p: referrers(before, p))
            writer.finish()
        return writer, touched

    with saving(path):
        replace.remove_stale(path)
        target.release()
        try:
            report, (writer, touched) = rewrite(path, write, limit)
        except BaseException:
            target.reopen()
            raise
        target.reopen()
    _settle(tracker, target, models, writer, touched)
    return report


T = TypeVar("T")


def rewrite(path: Path, write: Callable[[h5py.File], T], limit: int) -> tuple[SaveReport, T]:
    """Run ``write`` on the file's clone or copy and move it over the file, or on the file
    itself through the undo journal: afterwards the file holds all of it or none of it.
    The caller holds the saving lock."""
    try:
        new = replace.NewFile.beside(path, limit)
    except replace.NoReplace as why:
        return SaveReport("journal", why.reason), _in_place(path, write)
    return SaveReport(new.method, new.reason), _replacing(new, write)


def _replacing(new: replace.NewFile, write: Callable[[h5py.File], T]) -> T:
    """Edit the clone or copy, then move it over the file: readers of every kind see the
    old file or the new one."""
    try:
        with h5py.File(new.path, "r+") as h5:
            handle = h5.id.get_vfd_handle()
            if not isinstance(handle, int) or not new.is_opened_by(handle):
                raise H5ModelError(f"{new.path} is not the file this save created; nothing "
                                   "was changed", file=new.original)
            done = write(h5)
        new.commit()
    except BaseException:
        new.discard()
        raise
    return done


def _in_place(path: Path, write: Callable[[h5py.File], T]) -> T:
    """Edit the file itself through the undo journal (other readers refuse it meanwhile)."""
    journal = JournaledFile(path)
    try:
        with h5py.File(journal, "r+") as h5:
            done = write(h5)
        journal.commit()
    except BaseException:
        if not journal.closed:
            journal.abort()
        raise
    return done


def save_new(root: Node | None, specs: SpecSet | None, path: Path, label: str, *,
             libver: str | None = None) -> SaveReport:
    """The first save of a new file: ``root`` written whole, with its specs embedded."""
    if root is None:
        raise H5ModelError("nothing to save: set f.root first", file=label)
    specs = specs or specs_of(root)
    if specs is None:
        raise H5ModelError("no specs to embed: open with spec=... or use models read from "
                           "a file", file=label)
    write_file(root, path, specs, overwrite=True, libver=libver)
    return SaveReport("new", "a new file, written whole and moved into place")


def _settle(tracker: Tracker, target: SaveTarget, models: MutableMapping[str, Any], writer: Writer,
            touched: set[str]) -> None:
    """New models learn their paths, removed ones are forgotten, changed attributes and
    datasets show their new values and shapes."""
    changes = tracker.changes
    h5 = target.h5
    for removed in changes.removed_paths():
        prefix = removed + "/"
        for path in [p for p in models if p == removed or p.startswith(prefix)]:
            del models[path]
    for model, names in changes.fields.values():
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
        adopt(model, tracker)
        models[path] = model
        if isinstance(model, Dataset) and not isinstance(model.value, H5Array):
            dataset = h5[path]
            if dataset.shape:
                array = H5Array(target, path, dataset.shape, dataset.dtype)
                object.__setattr__(model, "value", array)
    for path in touched:
        owner = models.get(path)
        value = getattr(owner, "value", None) if owner is not None else None
        if path not in h5:
            continue
        if isinstance(value, H5Array) and value.hdf5_path == path:
            value.refresh(h5[path].shape, h5[path].dtype)
        elif isinstance(owner, Dataset) and h5[path].shape:
            # new data written: read it from the file from now on (and record slices)
            array = H5Array(target, path, h5[path].shape, h5[path].dtype)
            object.__setattr__(owner, "value", array)
    changes.clear()
