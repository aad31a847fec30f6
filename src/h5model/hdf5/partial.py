"""The object graph read group by group, as models reach it.

Opening a file of 65,000 objects to look at one TimeSeries must not read 65,000 object
headers (libhdf5 spends tens of microseconds on each). A partial graph starts with the
root and reads the entries of a group the first time something asks for them: a model's
children, the node at a path, the target of a soft link or a reference. What it holds is
exactly what the whole traversal (``hdf5.graph``) would hold for those groups: canonical
paths are unambiguous because every object it records has one hard link (the first
object met with several makes it read the whole file, whose breadth-first order decides
which path is canonical), and a reference whose target is not read yet does the same.
Whatever needs every object (saving, validation, iteration, the networkx graph) asks
for the whole index (``FileIndex.whole``), which is read then, once, in place.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import h5py
from h5py import h5g

from h5model.errors import H5ModelError
from h5model.hdf5.collector import collector_paused
from h5model.hdf5.graph import (
    FileIndex,
    SharedObject,
    _small_cache,
    _Walker,
    build_graph,
    target_address,
)
from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.storage.remote import RemoteReadError

Lend = Callable[[], AbstractContextManager[h5py.File]]
"""Gives the file to read from for the time of one read (the open handle, or one opened
for the read after the file was closed)."""


SMALL_GROUP = 64
"""Entries above which a group is read last while a reference's target is searched for."""


class Partial:
    """Reads the groups of one file's graph as they are asked for (see the module)."""

    def __init__(self, walker: _Walker, lend: Lend) -> None:
        self._walker: _Walker | None = walker
        self._lend = lend
        self.index = walker.index
        self.label = walker.label
        self.expanded: set[str] = set()
        self._refs: dict[str, list[tuple[str, Any]]] = {}
        """Source path -> (attribute, reference) not yet looked up, in element order."""
        self._lock = threading.RLock()
        self._current: h5py.File | None = None
        """The file lent for the read under way (a read inside it reuses it)."""
        walker.partial = True
        walker.named_hook = self.expand
        self._take_refs(walker)

    # -- asked by the reader -------------------------------------------------------------------
    def locate(self, path: str) -> None:
        if path in self.index.graph.nodes or self._walker is None:
            return
        parts = [part for part in path.split("/") if part]
        current = "/"
        for part in parts[:-1]:
            self.expand(current)
            current = current.rstrip("/") + "/" + part
        self.expand(current)

    def expand(self, path: str) -> None:
        if path in self.expanded:
            return
        with self._lock:
            walker = self._walker
            if walker is None or path in self.expanded:
                return
            data = self.index.graph.nodes.get(path)
            if data is None or data["kind"] is not NodeKind.GROUP:
                return
            try:
                with self._file() as h5, _small_cache(h5), collector_paused():
                    walker.file, walker.fid = h5, h5.id
                    gid = h5g.open(h5.id, path.encode("utf-8", "surrogateescape"))
                    mark = len(walker.soft)
                    self.index.children[path] = []  # a read that failed left part of it
                    try:
                        walker._group(path, gid)
                    except RemoteReadError as exc:
                        raise exc.located(path) from None
                    self.expanded.add(path)
                    soft = walker.soft[mark:]
                    del walker.soft[mark:]
                    self._take_refs(walker)
                    walker._resolve_soft_links(soft)
            except SharedObject:
                self.complete()
            except H5ModelError:
                raise
            except (OSError, RuntimeError, KeyError, ValueError) as exc:
                raise H5ModelError(f"cannot read the file's structure ({exc})",
                                   file=self.label, hdf5_path=path) from None

    def targets(self, path: str, name: str) -> list[str | None] | None:
        """The targets of the references attribute ``name`` of ``path`` holds."""
        if path in self._refs:
            with self._lock:
                pending = self._refs.get(path)
                if pending is not None and self._walker is not None:
                    self._look_up(path, pending)
        return self.index.attr_refs.get((path, name))

    def dereference(self, ref: Any) -> str | None:
        """The canonical path of a reference's target (read from a dataset)."""
        with self._lock:
            if self._walker is None:
                return self._whole_target(ref)
            with self._file() as h5:
                address = target_address(h5.id, ref)
                if address is None:
                    return None
                found = self._walker.addr_to_path.get(address) or self._search(address)
            return found if self._walker is not None else self._whole_target(ref)

    def complete(self) -> None:
        """Read the whole graph (once) into the same index, in place."""
        with self._lock:
            if self._walker is None:
                return
            with self._file() as h5:
                whole = build_graph(h5, self.label)
            index = self.index
            index.graph, index.children, index.attrs = whole.graph, whole.children, whole.attrs
            index.ref_paths, index.scalars = whole.ref_paths, whole.scalars
            index.attr_refs = whole.attr_refs
            index.partial = None
            self._walker = None
            self._refs.clear()

    # -- inside --------------------------------------------------------------------------------
    @contextmanager
    def _file(self) -> Iterator[h5py.File]:
        """The file, lent once for a read and whatever reads it leads to (called under the
        lock)."""
        if self._current is not None:
            yield self._current
            return
        with self._lend() as h5:
            self._current = h5
            try:
                yield h5
            finally:
                self._current = None

    def _take_refs(self, walker: _Walker) -> None:
        for source, name, ref, _region, in_attribute in walker.pending_refs:
            if in_attribute:
                self._refs.setdefault(source, []).append((name, ref))
        walker.pending_refs.clear()

    def _look_up(self, path: str, pending: list[tuple[str, Any]]) -> None:
        """Targets of the references of ``path``'s attributes, by address; one not read
        yet makes the whole graph be read (which records every attribute's targets)."""
        assert self._walker is not None
        addresses = self._walker.addr_to_path
        found: dict[tuple[str, str], list[str | None]] = {}
        with self._file() as h5:
            for name, ref in pending:
                address = target_address(h5.id, ref)
                target = None
                if address is not None:
                    target = addresses.get(address) or self._search(address)
                if self._walker is None:
                    return  # read whole meanwhile: every attribute's targets are known
                found.setdefault((path, name), []).append(target)
        self.index.attr_refs.update(found)
        del self._refs[path]

    def _search(self, address: int) -> str | None:
        """Read groups until the object at ``address`` is among them: breadth first, but a
        group of more than ``SMALL_GROUP`` entries only once no smaller one is left (what
        references name, tables and devices, sits in small groups; series by the thousand
        sit in big ones). None if no object of the file is there."""
        assert self._walker is not None
        addresses = self._walker.addr_to_path
        graph = self.index.graph
        waiting = deque(sorted(
            (path for path, data in graph.nodes(data=True)
             if data["kind"] is NodeKind.GROUP and path not in self.expanded),
            key=lambda path: (path.count("/"), path)))
        big: list[tuple[int, str]] = []
        with self._file() as h5:
            while waiting or big:
                if waiting:
                    path = waiting.popleft()
                    entries = len(h5g.open(h5.id, path.encode("utf-8", "surrogateescape")))
                    if entries > SMALL_GROUP:
                        heapq.heappush(big, (entries, path))
                        continue
                else:
                    path = heapq.heappop(big)[1]
                self.expand(path)
                if self._walker is None:
                    return None  # read whole meanwhile
                found = addresses.get(address)
                if found is not None:
                    return found
                waiting.extend(
                    child.target for child in self.index.children.get(path, ())
                    if child.kind is LinkKind.HARD and child.target not in self.expanded
                    and graph.nodes[child.target]["kind"] is NodeKind.GROUP)
        return None

    def _whole_target(self, ref: Any) -> str | None:
        with self._file() as h5:
            address = target_address(h5.id, ref)
        return self.index.ref_paths.get(address) if address is not None else None


def partial_graph(file: h5py.File, label: str, lend: Lend) -> FileIndex:
    """The graph of ``file`` with the root only; the rest is read as it is asked for."""
    walker = _Walker(file, label)
    try:
        walker._register("/", h5g.open(walker.fid, b"/"))
    except H5ModelError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise H5ModelError(f"cannot read the file's structure ({exc})", file=label) from None
    index = walker.index
    index.ref_paths = walker.addr_to_path
    index.partial = Partial(walker, lend)
    return index


__all__ = ["Lend", "Partial", "partial_graph"]
