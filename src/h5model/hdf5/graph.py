"""One pass over the file -> a graph of objects, links and references (networkx on demand).

Nodes are keyed by canonical path (the first path a hard link is met under, in
name order, breadth first), so two hard links to one object make one node; each
node's ``kind`` is a ``NodeKind``. Edges carry ``label`` (an ``EdgeLabel``):
``child`` (membership), ``link`` (soft or external, kept as links) or
``reference`` (object references in attributes, in datasets of references and
in reference columns of compound datasets; region references are marked
``region=True``), and ``name`` (the link, attribute or column). Every edge is
kept, keyed ``label:name`` per pair of nodes (see ``edge_key``). A soft link
to nothing is a child flagged ``broken`` whose edge leads to a ``MISSING`` node
keyed by the path it names; dangling references lead to the ``DANGLING`` node. Object
addresses are mapped to paths during the traversal, so a reference is looked
up, never asked for its name.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, cast

import h5py
import numpy as np
from h5py import h5a, h5g, h5l, h5o, h5r, h5s, h5t

from h5model.errors import H5ModelError
from h5model.hdf5 import limits as _limits
from h5model.hdf5 import stored
from h5model.hdf5._native.library import LOCK
from h5model.hdf5._native.scan import GROUP_SCANNER, SCANNER, dtype_of
from h5model.hdf5.attributes import (
    MANY_ATTRIBUTES,
    read_attribute,
    read_attributes,
    text_over_limit,
)
from h5model.hdf5.collector import collector_paused
from h5model.hdf5.indexed import indexed_target
from h5model.hdf5.kinds import DANGLING, EdgeLabel, LinkKind, NodeKind
from h5model.hdf5.limits import LimitError, attribute_too_large
from h5model.hdf5.objectgraph import ObjectGraph
from h5model.hdf5.paths import join, normalise
from h5model.rules.dtypes import is_reference
from h5model.spec.storage import TYPE_KEYS
from h5model.storage.remote import RemoteReadError

# Bound once: on Python 3.11 an Enum class's attributes are read through its metaclass's
# ``__getattr__`` hook, six times slower than a plain class's, and these are read for
# every object of the file while it opens.
_GROUP, _DATASET = NodeKind.GROUP, NodeKind.DATASET
_HARD, _CHILD = LinkKind.HARD, EdgeLabel.CHILD
_LINK_HARD = int(h5l.TYPE_HARD)


MAX_SOFT_HOPS = 16
"""Soft links followed in a row before a path counts as leading nowhere (libhdf5's own
default limit on link traversals)."""


@dataclass(slots=True)
class Child:
    """One entry of a group: a name and what it leads to."""

    name: str
    kind: LinkKind
    target: str
    """The target's node: its canonical path (hard, soft), ``file::path`` (external), or
    for a broken soft link the path it names (a ``NodeKind.MISSING`` node)."""
    filename: str | None = None
    """External links: the other file, as stored."""
    path: str | None = None
    """External links: the object's path in the other file."""
    broken: bool = False
    """A soft link whose path leads to no object."""
    # A soft link whose path passes through an external link is kept as the external
    # link it amounts to (kind EXTERNAL, filename and path of the object it reaches).


@dataclass
class FileIndex:
    """What the traversal learned: the graph plus each object's children and attributes."""

    graph: ObjectGraph
    children: dict[str, list[Child]] = field(default_factory=dict)
    attrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    ref_paths: dict[int, str] = field(default_factory=dict)
    """object address -> canonical path."""
    scalars: dict[str, Any] = field(default_factory=dict)
    """Values of scalar datasets of plain dtypes, read during the traversal (they are tiny)."""
    attr_refs: dict[tuple[str, str], list[str | None]] = field(default_factory=dict)
    """(path, attribute) -> the canonical paths its object references lead to, in the
    order of its elements (None: dangling), so models read later need no dereferencing."""
    binding: Any = None
    """What ``hdf5.binding.bind`` found (a ``Binding``), once it has run."""
    partial: Any = None
    """While the graph is read group by group as models reach it (``hdf5.partial``): what
    reads the rest; None once the graph is whole."""

    def locate(self, path: str) -> None:
        """Make sure the object at canonical ``path`` is in the graph, if it exists."""
        if self.partial is not None:
            self.partial.locate(path)

    def expand(self, path: str) -> None:
        """Make sure the entries of the group at canonical ``path`` are in the graph."""
        if self.partial is not None:
            self.partial.expand(path)

    def targets(self, path: str, name: str) -> list[str | None] | None:
        """The canonical paths the object references of attribute ``name`` of ``path``
        lead to, in element order (None: dangling)."""
        if self.partial is not None:
            return self.partial.targets(path, name)  # type: ignore[no-any-return]
        return self.attr_refs.get((path, name))

    def whole(self) -> FileIndex:
        """This index with every object of the file in it (read now if it was partial)."""
        if self.partial is not None:
            self.partial.complete()
        return self


class _Walker:
    def __init__(self, file: h5py.File, label: str) -> None:
        self.file = file
        self.fid = file.id
        self.label = label
        self.graph = ObjectGraph()
        self.index = FileIndex(self.graph)
        self.addr_to_path: dict[int, str] = {}
        self.pending_refs: list[tuple[str, str, Any, bool, bool]] = []
        """(source, name, reference, is a region reference, is held by an attribute)."""
        self.soft: list[tuple[str, Child]] = []
        self.by_name: dict[str, dict[str, Child]] = {}
        self.shared: dict[str, str] = {}
        """Attribute names, short texts, link names and edge keys met so far: each repeat
        is the same object (a file repeats them by the thousand)."""
        self.shapes: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.dtypes: dict[tuple[str, str], np.dtype] = {}
        self.node_data: dict[tuple[Any, ...], dict[str, Any]] = {}
        """What a node holds -> the one dict of every node holding it (shared)."""
        self.edge_data: dict[str, dict[str, Any]] = {}
        """Edge key -> the data of every edge with that key and no more (shared)."""
        # a text attribute is stored in the file: in a file no larger than the attribute
        # limit, none can exceed it, and the texts read by the scalar readers (which cannot
        # stop before reading) need no measuring
        self.texts_unbounded = file.id.get_filesize() > _limits.LIMITS.attribute_bytes
        self.partial = False
        """Read group by group (``hdf5.partial``): an object with more than one hard link
        raises ``SharedObject`` (its canonical path needs the whole traversal), and
        references in datasets, which only make edges, are left to the whole walk."""
        self.named_hook: Callable[[str], None] | None = None
        """Called with a group's path before its entries are looked up by name."""

    def walk(self) -> FileIndex:
        root = h5g.open(self.fid, b"/")
        self._register("/", root)
        # groups wait by name, not open: an open group holds its object header in memory,
        # and a level of a big file holds tens of thousands of groups
        queue: deque[tuple[str, bytes]] = deque([("/", b"/")])
        while queue:
            path, name = queue.popleft()
            try:
                gid = root if path == "/" else h5g.open(self.fid, name)
                children = self._group(path, gid)
            except RemoteReadError as exc:  # the network failed: say where the walk was
                raise exc.located(path) from None
            queue.extend(children)
        self._resolve_soft_links(self.soft)
        self._resolve_references()
        self.index.ref_paths = self.addr_to_path
        return self.index

    def _register(self, path: str, oid: Any, address: int | None = None) -> None:
        """Record the object ``oid`` (opened by h5py) at ``path``."""
        if address is None:
            address = h5o.get_info(oid).addr
        try:
            attrs = read_attributes(oid, self.texts_unbounded, self.shared)
        except LimitError as exc:
            raise exc.at(self.label, path) from None
        if isinstance(oid, h5g.GroupID):
            self._record(path, address, attrs, _GROUP, None, None, lambda: oid)
        else:
            self._record(path, address, attrs, _DATASET, oid.shape, oid.dtype, lambda: oid)

    def _scan(self, gid: Any, raw_name: bytes, path: str, address: int) -> NodeKind | None:
        """Record the object ``raw_name`` of the group ``gid`` through the compiled step;
        its kind, or None for a committed datatype."""
        assert SCANNER is not None and LOCK is not None
        limit = _limits.LIMITS.attribute_bytes if self.texts_unbounded else 0
        with LOCK:
            found = SCANNER(gid.id, raw_name, limit, self.shared, MANY_ATTRIBUTES)
        if found is None:
            return None
        return self._take(gid, raw_name, path, address, found)

    def _take(self, gid: Any, raw_name: bytes, path: str, address: int,
              found: tuple[Any, ...]) -> NodeKind:
        """Record what the compiled step read of one object, asking h5py only for what it
        leaves (other dtypes, array attributes, scalar values, references); its kind."""
        kind_text, shape, signature, attrs, rest, links = found[:6]
        if self.partial and links != 1:
            raise SharedObject(path)
        opened: list[Any] = []

        def oid() -> Any:
            if not opened:
                opened.append(h5o.open(gid, raw_name))
            return opened[0]

        try:
            if attrs is None:  # many attributes: read by name (see attributes.py)
                attrs = read_attributes(oid(), self.texts_unbounded, self.shared)
            for name in rest or ():
                attrs[name] = read_attribute(
                    h5a.open(oid(), name.encode("utf-8", "surrogateescape")))
        except LimitError as exc:
            raise exc.at(self.label, path) from None
        if kind_text == "group":
            self._record(path, address, attrs, _GROUP, None, None, oid)
            return _GROUP
        dtype = dtype_of(signature) if signature is not None else None
        if dtype is None:
            dtype = oid().dtype
        scalar = found[6] if len(found) > 6 else None
        self._record(path, address, attrs, _DATASET, shape, dtype, oid, scalar)
        return _DATASET

    def _record(self, path: str, address: int, attrs: dict[str, Any], kind: NodeKind,
                shape: tuple[int, ...] | None, dtype: np.dtype | None,
                oid: Callable[[], Any], scalar: tuple[Any] | None = None) -> None:
        """What the graph keeps of one object; ``oid`` opens it with h5py when a scalar
        value or references must be read; ``scalar``: a scalar dataset's value, read."""
        self.addr_to_path[address] = path
        if self.texts_unbounded:
            name = text_over_limit(attrs)
            if name is not None:
                raise attribute_too_large(name).at(self.label, path)
        self.index.attrs[path] = attrs
        self.index.children[path] = [] if kind is _GROUP else NO_CHILDREN
        data: dict[str, Any] = {"kind": kind}
        if kind is _DATASET:
            assert dtype is not None
            data["shape"] = shape = (self.shapes.setdefault(shape, shape) if shape is not None
                                     else None)
            data["dtype"] = dtype = self._shared_dtype(dtype)
            if shape == ():
                value = scalar[0] if scalar is not None else _read_scalar(oid(), dtype)
                if value is not _NOT_READ:
                    self.index.scalars[path] = value
        namespace = attrs.get("namespace")
        type_name = next((attrs[k] for k in TYPE_KEYS if k in attrs), None)
        if isinstance(namespace, str) and isinstance(type_name, str):
            data["namespace"] = namespace
            data["type"] = type_name
        else:
            namespace = type_name = None
        # objects that read alike share one dict (a graph's node data is never changed
        # in place): thousands of series, columns and their datasets read alike
        # (a dtype is known by its identity: the dicts kept here keep it alive)
        key = (kind, shape, id(dtype) if dtype is not None else None, namespace, type_name)
        self.graph.add_node(path, self.node_data.setdefault(key, data))
        for name, value in attrs.items():
            if type(value) in _MAYBE_REFS:  # most attributes are text or numbers: skip fast
                self._collect_refs(path, name, value)
        if dtype is not None and (dtype.names or is_reference(dtype)) and not self.partial:
            self._dataset_refs(path, oid(), dtype)

    def _group(self, path: str, gid: Any) -> list[tuple[str, bytes]]:
        """Register the entries of the group at ``path``; its subgroups, to walk next."""
        if GROUP_SCANNER is not None:
            return self._group_compiled(path, gid)
        entries: list[tuple[bytes, int, int]] = []

        def collect(name: bytes, info: Any) -> None:
            # h5py reuses the info object between calls: copy what is needed now
            entries.append((name, info.type, info.u))

        gid.links.iterate(collect, info=True)
        out: list[tuple[str, bytes]] = []
        prefix = path if path.endswith("/") else path + "/"
        raw_prefix = prefix.encode("utf-8", "surrogateescape")
        for raw_name, link_type, address in entries:
            name = raw_name.decode("utf-8", "surrogateescape")
            name = self.shared.setdefault(name, name)  # "data", "timestamps"... by thousands
            child_path = prefix + name
            if link_type == h5l.TYPE_HARD:
                if self._known(path, name, address):
                    continue
                if SCANNER is not None:
                    kind = self._scan(gid, raw_name, child_path, address)
                    if kind is None:
                        continue  # committed datatypes are not objects of the data model
                else:
                    oid = h5o.open(gid, raw_name)
                    if not isinstance(oid, (h5g.GroupID, h5py.h5d.DatasetID)):
                        continue
                    if self.partial and h5o.get_info(oid).rc != 1:
                        raise SharedObject(child_path)
                    self._register(child_path, oid, address)
                    kind = _GROUP if isinstance(oid, h5g.GroupID) else _DATASET
                self._member(path, name, child_path, kind, raw_prefix + raw_name, out)
            else:
                self._link(path, prefix, gid, name, raw_name, link_type)
        return out

    def _group_compiled(self, path: str, gid: Any) -> list[tuple[str, bytes]]:
        """``_group`` with the links listed and the new members read in one compiled
        call."""
        assert GROUP_SCANNER is not None and LOCK is not None
        limit = _limits.LIMITS.attribute_bytes if self.texts_unbounded else 0
        with LOCK:
            entries = GROUP_SCANNER(gid.id, limit, self.shared, MANY_ATTRIBUTES,
                                    self.addr_to_path)
        out: list[tuple[str, bytes]] = []
        prefix = path if path.endswith("/") else path + "/"
        raw_prefix = prefix.encode("utf-8", "surrogateescape")
        for name, link_type, address, found in entries:
            raw_name = name.encode("utf-8", "surrogateescape")
            if link_type == _LINK_HARD:
                assert address is not None
                # known before the call, or a second link in this group to a new object
                if self._known(path, name, address):
                    continue
                if found is None:  # the step skipped an address this walk does not know
                    raise RuntimeError(f"{prefix + name}: an object the traversal skipped")
                if found is False:
                    continue  # committed datatypes are not objects of the data model
                child_path = prefix + name
                kind = self._take(gid, raw_name, child_path, address, found)
                self._member(path, name, child_path, kind, raw_prefix + raw_name, out)
            else:
                self._link(path, prefix, gid, name, raw_name, link_type)
        return out

    def _known(self, path: str, name: str, address: int) -> bool:
        """Whether the entry ``name`` of ``path`` leads to an object already met (another
        hard link to it): then it is recorded as an edge to that object's path."""
        existing = self.addr_to_path.get(address)
        if existing is None:
            return False
        self._edge(path, existing, _CHILD, name)
        self.index.children[path].append(Child(name, _HARD, existing))
        return True

    def _member(self, path: str, name: str, child_path: str, kind: NodeKind,
                raw_path: bytes, subgroups: list[tuple[str, bytes]]) -> None:
        self._edge(path, child_path, _CHILD, name)
        self.index.children[path].append(Child(name, _HARD, child_path))
        if kind is _GROUP:
            subgroups.append((child_path, raw_path))

    def _link(self, path: str, prefix: str, gid: Any, name: str, raw_name: bytes,
              link_type: int) -> None:
        """Record a soft or external link (soft targets are resolved after the walk)."""
        if link_type == h5l.TYPE_SOFT:
            target = gid.links.get_val(raw_name).decode("utf-8", "surrogateescape")
            if not target.startswith("/"):
                target = prefix + target
            child = Child(name, LinkKind.SOFT, target)
            self.index.children[path].append(child)
            self.soft.append((path, child))
        elif link_type == h5l.TYPE_EXTERNAL:
            filename, objpath = gid.links.get_val(raw_name)
            fname = filename.decode("utf-8", "surrogateescape")
            opath = objpath.decode("utf-8", "surrogateescape")
            key = self._external_node(fname, opath)
            self._edge(path, key, EdgeLabel.LINK, name)
            self.index.children[path].append(
                Child(name, LinkKind.EXTERNAL, key, fname, opath)
            )

    def _shared_dtype(self, dtype: np.dtype) -> np.dtype:
        """One object per distinct plain dtype (h5py makes a new one per dataset). Equal
        dtypes with different metadata (text, references) stay apart: numpy's equality
        ignores metadata."""
        if dtype.names is not None or dtype.subdtype is not None:
            return dtype
        key = (dtype.str, repr(dtype.metadata))
        return self.dtypes.setdefault(key, dtype)

    def _edge(
        self, source: str, target: str, label: EdgeLabel, name: str, **extra: Any
    ) -> None:
        key = edge_key(label, name)
        key = self.shared.setdefault(key, key)
        if extra:
            self.graph.add_edge(source, target, key, label=label, name=name, **extra)
            return
        data = self.edge_data.get(key)
        if data is None:
            data = self.edge_data[key] = {"label": label, "name": name}
        self.graph.add_edge(source, target, key, data)

    def _resolve_soft_links(self, soft: list[tuple[str, Child]]) -> None:
        for parent, child in soft:
            target = normalise(child.target)
            found = self._lookup(target)
            if isinstance(found, tuple):
                # a soft link that passes through an external link amounts to that
                # external link (and is resolved, like it, only when asked, confined)
                child.kind = LinkKind.EXTERNAL
                child.filename, child.path = found
                child.target = self._external_node(*found)
            elif found is None:
                if target not in self.graph:
                    self.graph.add_node(target, kind=NodeKind.MISSING, path=target)
                child.target = target
                child.broken = True
            else:
                child.target = found
            self._edge(parent, child.target, EdgeLabel.LINK, child.name)

    def _external_node(self, filename: str, path: str) -> str:
        key = f"{filename}::{path}"
        if key not in self.graph:
            self.graph.add_node(key, kind=NodeKind.EXTERNAL, filename=filename, path=path)
        return key

    def _lookup(self, path: str, hops: int = 0) -> str | tuple[str, str] | None:
        """Where ``path`` leads, found in what the traversal saw: a canonical path, the
        (file, path) an external link on the way leads to, or None for nothing there
        (or more than ``MAX_SOFT_HOPS`` soft links in a row). The library is not asked:
        it would follow external links on the way into other files."""
        current = "/"
        parts = [part for part in path.split("/") if part]
        for i, name in enumerate(parts):
            child = self._named(current).get(name)
            if child is None:
                return None
            rest = "/".join(parts[i + 1 :])
            if child.kind is LinkKind.EXTERNAL:
                assert child.filename is not None and child.path is not None
                return child.filename, join(child.path, rest) if rest else child.path
            if child.kind is LinkKind.SOFT:
                if child.broken or hops >= MAX_SOFT_HOPS:
                    return None
                found = self._lookup(normalise(child.target), hops + 1)
                if isinstance(found, str):
                    current = found
                    continue
                if found is None:
                    return None
                filename, inner = found
                return filename, join(inner, rest) if rest else inner
            current = child.target
        return current

    def _named(self, path: str) -> dict[str, Child]:
        """The entries of the group at ``path`` by name (empty for anything else)."""
        named = self.by_name.get(path)
        if named is None:
            if self.named_hook is not None:
                self.named_hook(path)
            named = {child.name: child for child in self.index.children.get(path, ())}
            self.by_name[path] = named
        return named

    def _collect_refs(self, path: str, name: str, value: Any) -> None:
        if isinstance(value, (h5py.Reference, h5py.RegionReference)):
            self.pending_refs.append(
                (path, name, value, isinstance(value, h5py.RegionReference), True))
        elif isinstance(value, np.ndarray) and value.dtype == object and value.size:
            for item in value.flat:
                if isinstance(item, (h5py.Reference, h5py.RegionReference)):
                    self.pending_refs.append(
                        (path, name, item, isinstance(item, h5py.RegionReference), True)
                    )

    def _dataset_refs(self, path: str, oid: Any, dtype: np.dtype) -> None:
        if is_reference(dtype):
            fields: list[str | None] = [None]
        elif dtype.names:
            fields = [n for n in dtype.names if is_reference(dtype[n])]
        else:
            return
        if not fields or oid.shape is None:
            return
        dataset = h5py.Dataset(oid)
        for name in fields:
            try:
                # stored elements only, in bounded blocks: unwritten ones are the fill value
                for _, block in stored.blocks(dataset, name):
                    for ref in np.asarray(block, dtype=object).flat:
                        if ref:
                            region = isinstance(ref, h5py.RegionReference)
                            self.pending_refs.append((path, name or "", ref, region, False))
            except LimitError as exc:
                raise exc.at(self.label, path) from None

    def _resolve_references(self) -> None:
        done: set[tuple[str, str, str]] = set()
        attr_refs = self.index.attr_refs
        for source, name, ref, region, in_attribute in self.pending_refs:
            target = self.dereference(ref)
            if in_attribute:
                attr_refs.setdefault((source, name), []).append(target)
            if target is None:
                if DANGLING not in self.graph:
                    self.graph.add_node(DANGLING, kind=NodeKind.MISSING, path=None)
                target = DANGLING
            if (source, name, target) in done:
                continue
            done.add((source, name, target))
            self._edge(source, target, EdgeLabel.REFERENCE, name, region=region)

    def dereference(self, ref: Any) -> str | None:
        return _target_path(self.fid, self.addr_to_path, ref)


class SharedObject(Exception):
    """An object with several hard links met while the graph is read group by group."""


_MAYBE_REFS = frozenset({h5py.Reference, h5py.RegionReference, np.ndarray})
NO_CHILDREN = cast(list[Child], ())
"""A dataset's entries: one empty sequence for all (a list each would cost 56 bytes per
dataset); immutable, so that nothing can add to it by mistake."""
_NOT_READ: Any = object()
_TEXT = h5t.py_create(h5py.string_dtype())


def _read_scalar(oid: Any, dtype: np.dtype) -> Any:
    """A scalar dataset's value (text decoded), or _NOT_READ for references and compounds."""
    if dtype.names or is_reference(dtype) or dtype.subdtype is not None:
        return _NOT_READ
    string_info = h5py.check_string_dtype(dtype)
    if string_info is not None and string_info.length is None:
        arr = np.empty((), dtype=object)
        oid.read(h5s.ALL, h5s.ALL, arr, mtype=_TEXT)
        item = arr[()]
        return item.decode("utf-8", "surrogateescape") if isinstance(item, bytes) else item
    arr = np.empty((), dtype=dtype)
    oid.read(h5s.ALL, h5s.ALL, arr, mtype=h5t.py_create(dtype))
    value = arr[()]
    if string_info is not None:
        return bytes(value).decode(string_info.encoding, "surrogateescape").rstrip("\x00")
    return value.item() if value.dtype.kind in "biuf" else value


def edge_key(label: EdgeLabel, name: str) -> str:
    """An edge's key among those joining the same two nodes: ``label:name`` (``label`` when
    the name is empty, as for a dataset of references), stable from run to run and readable
    (``g.edges[u, v, "reference:table"]``). Unique: names in a group are unique, and a
    source holding one target under one name (in an attribute, in every row of a column,
    or both) is one reference edge."""
    # ``label + ...`` rather than ``label.value``: an enum's value is a slow property, and
    # this runs once per edge of the traversal
    return label + ":" + name if name else label.value


WALK_CACHE_BYTES = 2 * 2**20
"""The metadata cache a traversal keeps (libhdf5's default lets it grow to 32 MiB). It
counts bytes as stored; decoded object headers and B-tree nodes take several times that
in memory (about 400 MiB at 32 MiB on a file of 65,000 objects), and a traversal that
visits each object once gains nothing from keeping them."""


def build_graph(file: h5py.File, label: str) -> FileIndex:
    """Traverse ``file`` once; raise H5ModelError naming the path on unreadable objects."""
    walker = _Walker(file, label)
    try:
        with _small_cache(file), collector_paused():
            return walker.walk()
    except H5ModelError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise H5ModelError(f"cannot read the file's structure ({exc})", file=label) from None


@contextmanager
def _small_cache(file: h5py.File) -> Iterator[None]:
    """The file's metadata cache held to ``WALK_CACHE_BYTES`` while it is traversed."""
    try:
        before = file.id.get_mdc_config()
        small = file.id.get_mdc_config()
        if small.max_size > WALK_CACHE_BYTES:
            small.set_initial_size = True
            small.initial_size = WALK_CACHE_BYTES
            small.max_size = WALK_CACHE_BYTES
            small.min_size = min(small.min_size, WALK_CACHE_BYTES)
            file.id.set_mdc_config(small)
    except (AttributeError, RuntimeError, ValueError):
        yield  # a file driver without a metadata cache to size
        return
    try:
        yield
    finally:
        before.set_initial_size = False
        with suppress(RuntimeError, ValueError):
            file.id.set_mdc_config(before)


def dereference_path(file: h5py.File | None, index: FileIndex, ref: Any) -> str | None:
    """Canonical path of a reference's target, via the address map (no ``.name`` calls);
    a reference read from a metadata index names its target itself (no file needed)."""
    known, target = indexed_target(ref)
    if known or file is None:
        return target
    if index.partial is not None:
        return index.partial.dereference(ref)  # type: ignore[no-any-return]
    return _target_path(file.id, index.ref_paths, ref)


def _target_path(fid: Any, addresses: dict[int, str], ref: Any) -> str | None:
    """The path a reference points at, looked up by object address; None if dangling."""
    address = target_address(fid, ref)
    return addresses.get(address) if address is not None else None


def target_address(fid: Any, ref: Any) -> int | None:
    """The address of the object a reference points at; None if dangling."""
    if not ref:
        return None
    try:
        oid = h5r.dereference(ref, fid)
    except (ValueError, RuntimeError, OSError, KeyError):
        return None
    if oid is None:
        return None
    return int(h5o.get_info(oid).addr)
