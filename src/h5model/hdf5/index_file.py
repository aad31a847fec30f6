"""The metadata index (``.h5mindex``): what opening a file learns before it builds models,
kept in one compact file, so that a remote file's models are ready after one request.

An index holds the file's identity (size, and modification time or ETag), its embedded
specs (the documents they were read from), and the ``FileIndex`` the traversal builds:
every node with its kind, shape and dtype, every edge, child list, attribute and small
scalar value, and the address map that resolves references read later from datasets.
Dataset layouts (chunks, filters, and the byte offsets of the chunks of datasets named
when the index is written) ride along for tools that fetch chunks themselves. Reading an
index gives back the same ``FileIndex`` the file gives, so everything after it is the
same code: the reader cannot tell where its graph came from.

The format is a text header (``H5MINDEX <version>``) and zlib-compressed JSON; values
that JSON cannot hold exactly (numpy scalars and arrays, dtypes with h5py's metadata,
references) are tagged objects, arrays as their raw bytes in base64. An index is
untrusted input: its compressed and expanded sizes are bounded, every part is checked
against the schema while it is read (``IndexFormatError`` names the index and what was
wrong), and nothing in it is ever executed or unpickled.
"""

from __future__ import annotations

import base64
import json
import math
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError, NoSpecsError
from h5model.hdf5 import limits as _limits
from h5model.hdf5.collector import collector_paused
from h5model.hdf5.graph import NO_CHILDREN, Child, FileIndex, build_graph, edge_key
from h5model.hdf5.indexed import indexed_target, make_reference
from h5model.hdf5.kinds import EdgeLabel, LinkKind, NodeKind
from h5model.hdf5.objectgraph import ObjectGraph
from h5model.spec.loader import NamespaceSpec, SpecSet, namespace_from_documents, read_embedded

VERSION = 1
"""The format version written; an index of another version is stale."""
MAGIC = b"H5MINDEX "
SUFFIX = ".h5mindex"
MAX_INDEX_BYTES = 256 << 20
"""The largest index file read (compressed)."""
MAX_EXPANDED_BYTES = 1 << 30
"""The most bytes an index may expand to (a decompression bomb stops here)."""
MAX_CHUNKS = 1 << 22
"""Chunk offsets kept per dataset asked for."""


class IndexFormatError(H5ModelError):
    """An index file that cannot be used: damaged, hostile, or of another format version."""

    rule = "index.unusable"


LOCAL_STAMP = "mtime_ns:"
"""How a local file's stamp begins (a URL's is its size and ETag or Last-Modified): an
index written from a local copy and uploaded beside it can only be matched by size."""


@dataclass(frozen=True)
class Identity:
    """What changes when the file does: its size, and its modification time (local files)
    or ETag / Last-Modified (URLs)."""

    size: int
    stamp: str

    def differs(self, now: Identity) -> str | None:
        """Why ``now`` is another state of the file than this one (None: the same)."""
        if now.size != self.size:
            return f"the file's size changed (indexed {self.size:,} bytes, now {now.size:,})"
        if now.stamp.startswith(LOCAL_STAMP) != self.stamp.startswith(LOCAL_STAMP):
            return None  # indexed locally, read remotely (or back): the size is all to compare
        if now.stamp != self.stamp:
            return "the file changed since it was indexed (modification time or ETag differs)"
        return None


@dataclass
class Layout:
    """How a dataset's bytes are stored: for fetching its chunks without HDF5 metadata."""

    chunks: tuple[int, ...] | None
    filters: list[tuple[int, str, tuple[int, ...]]]
    """(filter id, name, client values) in pipeline order."""
    offset: int | None = None
    """A contiguous dataset's first byte (None: chunked, compact or not yet written)."""
    chunk_offsets: list[tuple[tuple[int, ...], int, int, int]] | None = None
    """(chunk's first element, byte offset, stored size, filter mask) for every stored
    chunk of a dataset asked for when indexing; None when not asked."""


@dataclass
class StoredIndex:
    """Everything an index holds."""

    identity: Identity
    source: str
    """The file or URL the index was written from."""
    index: FileIndex
    specs: dict[str, tuple[NamespaceSpec, list[str]]] | None
    """namespace -> (the spec chosen, every version the file holds); None: no specs."""
    layouts: dict[str, Layout] = field(default_factory=dict)

    def spec_set(self, label: str) -> SpecSet:
        """The file's embedded specs, as ``read_embedded`` gives them."""
        if self.specs is None:
            raise NoSpecsError(
                "the file embeds no specifications; supply a namespace file with --spec PATH "
                "(Python: spec=PATH)", file=label, hdf5_path="/")
        return SpecSet({name: spec for name, (spec, _) in self.specs.items()},
                       {name: list(v) for name, (_, v) in self.specs.items()}, label=label)


# -- writing ------------------------------------------------------------------------------------
def build_index(h5: h5py.File, label: str, identity: Identity, *,
                chunks: Iterable[str] = ()) -> StoredIndex:
    """Read ``h5`` once into a ``StoredIndex``; ``chunks``: datasets whose chunk offsets to keep."""
    try:
        specs: SpecSet | None = read_embedded(h5, label)
    except NoSpecsError:
        specs = None
    index = build_graph(h5, label)
    wanted = set(chunks)
    layouts: dict[str, Layout] = {}
    for path, data in index.graph.nodes(data=True):
        if data.get("kind") is NodeKind.DATASET:
            layouts[path] = _layout(h5[path], path in wanted)
    missing = wanted - {p for p, layout in layouts.items() if layout.chunk_offsets is not None}
    if missing:
        raise H5ModelError("--chunks names no chunked dataset", file=label,
                           hdf5_path=sorted(missing)[0])
    stored_specs = None
    if specs is not None:
        stored_specs = {name: (spec, list(specs.available.get(name, [spec.version])))
                        for name, spec in specs.namespaces.items()}
    return StoredIndex(identity, label, index, stored_specs, layouts)


def _layout(dataset: h5py.Dataset, with_chunks: bool) -> Layout:
    dcpl = dataset.id.get_create_plist()
    filters = []
    for i in range(dcpl.get_nfilters()):
        code, _, values, name = dcpl.get_filter(i)
        filters.append((int(code), name.decode("utf-8", "replace"), tuple(int(v) for v in values)))
    layout = Layout(tuple(dataset.chunks) if dataset.chunks else None, filters)
    if dataset.chunks is None:
        offset = dataset.id.get_offset()
        layout.offset = int(offset) if offset is not None else None
    elif with_chunks:
        count = dataset.id.get_num_chunks()
        if count > MAX_CHUNKS:
            raise H5ModelError(f"{count:,} chunks: more than the {MAX_CHUNKS:,} an index keeps",
                               hdf5_path=dataset.name)
        layout.chunk_offsets = []
        for i in range(count):
            info = dataset.id.get_chunk_info(i)
            layout.chunk_offsets.append((tuple(int(x) for x in info.chunk_offset),
                                         int(info.byte_offset), int(info.size),
                                         int(info.filter_mask)))
    return layout


def dumps(stored: StoredIndex, h5: h5py.File | None = None) -> bytes:
    """The index file's bytes; ``h5``: the file, to resolve references it holds (an index
    read back holds them resolved already)."""
    index = stored.index
    encode_value = _Values(h5, index).encode
    document = {
        "format": "h5mindex",
        "version": VERSION,
        "source": stored.source,
        "identity": {"size": stored.identity.size, "stamp": stored.identity.stamp},
        "specs": None if stored.specs is None else {
            name: {"origin": spec.origin, "available": available,
                   "documents": dict(spec.documents)}
            for name, (spec, available) in stored.specs.items()},
        "nodes": [[path, _encode_node(data)] for path, data in index.graph.nodes(data=True)],
        "edges": [_encode_edge(s, t, d) for s, t, d in index.graph.edges(data=True)],
        "predecessors": {node: order for node in index.graph.nodes
                         if len(order := index.graph.predecessors_in_order(node)) > 1},
        "children": {path: [_encode_child(c) for c in kids]
                     for path, kids in index.children.items()},
        "attrs": {path: {name: encode_value(v) for name, v in attrs.items()}
                  for path, attrs in index.attrs.items()},
        "scalars": {path: encode_value(v) for path, v in index.scalars.items()},
        "refs": [[address, path] for address, path in index.ref_paths.items()],
        "layouts": {path: _encode_layout(layout) for path, layout in stored.layouts.items()},
    }
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return MAGIC + str(VERSION).encode() + b"\n" + zlib.compress(text.encode("utf-8"), 6)


def _encode_node(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "kind":
            out[key] = str(value)
        elif key == "shape":
            out[key] = None if value is None else list(value)
        elif key == "dtype":
            out[key] = encode_dtype(value)
        else:
            out[key] = value  # namespace, type, path, filename: text (or None)
    return out


def _encode_edge(source: str, target: str, data: Mapping[str, Any]) -> list[Any]:
    edge = [source, target, str(data["label"]), data["name"]]
    if "region" in data:
        edge.append(bool(data["region"]))
    return edge


def _encode_child(child: Child) -> list[Any]:
    return [child.name, str(child.kind), child.target, child.filename, child.path, child.broken]


def _encode_layout(layout: Layout) -> dict[str, Any]:
    return {"chunks": None if layout.chunks is None else list(layout.chunks),
            "filters": [[c, n, list(v)] for c, n, v in layout.filters],
            "offset": layout.offset,
            "chunk_offsets": None if layout.chunk_offsets is None else
            [[list(o), b, s, m] for o, b, s, m in layout.chunk_offsets]}


def encode_dtype(dtype: np.dtype) -> Any:
    """A dtype as JSON, h5py's metadata (text, references, enums, sequences) included."""
    meta: Mapping[str, Any] = dtype.metadata or {}
    if "vlen" in meta:
        base = meta["vlen"]
        if base is str:
            return {"vlen": "str"}
        if base is bytes:
            return {"vlen": "bytes"}
        return {"vlen": encode_dtype(np.dtype(base))}
    if "ref" in meta:
        return {"ref": "region" if meta["ref"] is h5py.RegionReference else "object"}
    if "enum" in meta:
        return {"enum": {str(k): int(v) for k, v in meta["enum"].items()},
                "base": dtype.str}
    if "h5py_encoding" in meta:
        return {"text": dtype.itemsize, "encoding": meta["h5py_encoding"]}
    if "h5py_opaque" in meta:
        return {"opaque": dtype.itemsize}
    if meta:
        raise H5ModelError(f"a dtype with metadata {sorted(meta)!r} cannot be indexed")
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return {"sub": encode_dtype(base), "shape": list(shape)}
    if dtype.names is not None:
        fields: Mapping[str, Any] = dtype.fields or {}
        return {"fields": [[name, encode_dtype(fields[name][0]), fields[name][1]]
                           for name in dtype.names], "itemsize": dtype.itemsize}
    if dtype.kind == "O":  # an array of values of any kind (texts, references)
        return {"any": "object"}
    return dtype.str


class _Values:
    """Values to JSON; a reference becomes its target's path, looked up in the file."""

    def __init__(self, h5: h5py.File | None, index: FileIndex) -> None:
        self.h5, self.index = h5, index

    def encode(self, value: Any) -> Any:
        if value is None or type(value) in (str, bool, int, float):
            return value
        if isinstance(value, (h5py.Reference, h5py.RegionReference)):
            return self._reference(value)
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject and value.dtype.names is None:
                return {"objects": encode_dtype(value.dtype), "shape": list(value.shape),
                        "items": [self.encode(v) for v in value.reshape(-1)]}
            if value.dtype.hasobject:
                raise H5ModelError("a compound array of variable-length values cannot be "
                                   "indexed")
            return {"array": encode_dtype(value.dtype), "shape": list(value.shape),
                    "bytes": _b64(np.ascontiguousarray(value).tobytes())}
        if isinstance(value, np.generic):
            if value.dtype.hasobject:
                raise H5ModelError("a compound value of variable-length fields cannot be "
                                   "indexed")
            return {"scalar": encode_dtype(value.dtype), "bytes": _b64(np.asarray(value).tobytes())}
        raise H5ModelError(f"a value of type {type(value).__name__} cannot be indexed")

    def _reference(self, ref: Any) -> dict[str, Any]:
        region = isinstance(ref, h5py.RegionReference)
        known, target = indexed_target(ref)
        if not known and ref:
            if self.h5 is None:
                raise H5ModelError("a reference cannot be indexed without its file")
            from h5model.hdf5.graph import dereference_path

            target = dereference_path(self.h5, self.index, ref)
        return {"ref": target, "null": not ref, "region": region}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_index(h5: h5py.File, label: str, identity: Identity, *,
                chunks: Iterable[str] = ()) -> bytes:
    """The index of ``h5`` as the bytes of an index file."""
    return dumps(build_index(h5, label, identity, chunks=chunks), h5)


# -- reading ------------------------------------------------------------------------------------
class _Bad(Exception):
    """One thing wrong in an index (turned into an ``IndexFormatError`` naming the index)."""


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise _Bad(what)


_DTYPE_STR = re.compile(r"^[<>|=][biufcSUVb?]\d{1,9}$")
_PLAIN_DTYPES: dict[str, np.dtype] = {}
"""Plain dtypes met in indexes, by their text: an index names a handful thousands of
times."""
_KINDS = {str(k): k for k in NodeKind}
_LINKS = {str(k): k for k in LinkKind}
_LABELS = {str(k): k for k in EdgeLabel}


def version_of(data: bytes) -> int | None:
    """The format version an index's header says (None: not an index at all)."""
    if not data.startswith(MAGIC):
        return None
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + 12)
    digits = data[len(MAGIC):end] if end > 0 else b""
    return int(digits) if digits.isdigit() else None


def loads(data: bytes, label: str, file_label: str) -> StoredIndex:
    """An index from its bytes, checked part by part; ``label`` names the index in errors,
    ``file_label`` the HDF5 file it describes (in the specs' errors later)."""
    if len(data) > MAX_INDEX_BYTES:
        raise IndexFormatError(f"larger than {MAX_INDEX_BYTES:,} bytes", file=label)
    version = version_of(data)
    if version is None:
        raise IndexFormatError("not an h5model index (no H5MINDEX header)", file=label)
    if version != VERSION:
        raise IndexFormatError(f"format version {version}; this h5model reads version "
                               f"{VERSION} (write the index again)", file=label)
    body = data[data.index(b"\n") + 1:]
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(body, MAX_EXPANDED_BYTES + 1)
        if len(text) > MAX_EXPANDED_BYTES or inflater.unconsumed_tail:
            raise IndexFormatError(f"expands to more than {MAX_EXPANDED_BYTES:,} bytes",
                                   file=label)
        if not inflater.eof:
            raise IndexFormatError("cut short (the compressed data ends early)", file=label)
        with collector_paused():
            document = json.loads(text.decode("utf-8"))
    except IndexFormatError:
        raise
    except (zlib.error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IndexFormatError(f"damaged ({type(exc).__name__}: {exc})", file=label) from None
    try:
        with collector_paused():
            return _document(document, file_label)
    except _Bad as exc:
        raise IndexFormatError(f"does not fit the index format: {exc}", file=label) from None
    except RecursionError:
        raise IndexFormatError("does not fit the index format: nested too deeply",
                               file=label) from None
    except H5ModelError as exc:  # e.g. a spec document that does not validate
        raise IndexFormatError(f"holds unusable specs ({exc.message})", file=label) from None


def _document(doc: Any, file_label: str) -> StoredIndex:
    if not isinstance(doc, dict):
        raise _Bad("the top level is not an object")
    if not (doc.get("format") == "h5mindex" and doc.get("version") == VERSION):
        raise _Bad("the format name or version inside differs from the header's")
    identity = doc.get("identity")
    if not (isinstance(identity, dict) and _is_int(identity.get("size"))
            and isinstance(identity.get("stamp"), str)):
        raise _Bad("identity: expected size and stamp")
    source = doc.get("source")
    if not isinstance(source, str):
        raise _Bad("source: expected text")
    graph = ObjectGraph()
    index = FileIndex(graph)
    nodes = _list(doc.get("nodes"), "nodes")
    for entry in nodes:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise _Bad("nodes: expected [path, data] pairs")
        graph.add_node(entry[0], **_node(entry[1], entry[0]))
    for entry in _list(doc.get("edges"), "edges"):
        if not (isinstance(entry, list) and len(entry) in (4, 5)
                and all(isinstance(x, str) for x in entry[:4])):
            raise _Bad("edges: expected lists of text")
        source_node, target, label_text, name = entry[:4]
        if not (source_node in graph and target in graph):
            raise _Bad(f"edge {source_node} -> {target}: "
                      "a node that is not listed")
        label = _LABELS.get(label_text)
        if label is None:
            raise _Bad(f"edge label {label_text!r} unknown")
        assert label is not None
        extra: dict[str, Any] = {}
        if len(entry) == 5:
            if not isinstance(entry[4], bool):
                raise _Bad("edge region flag: expected true or false")
            extra["region"] = entry[4]
        graph.add_edge(source_node, target, edge_key(label, name), label=label, name=name,
                       **extra)
    for node, order in _dict(doc.get("predecessors"), "predecessors").items():
        if not (node in graph and isinstance(order, list)):
            raise _Bad(f"predecessors of {node}: a list")
        try:
            graph.order_predecessors(node, order)
        except (TypeError, ValueError):
            raise _Bad(f"predecessors of {node}: not the node's") from None
    children = _dict(doc.get("children"), "children")
    for path, kids in children.items():
        if path not in graph:
            raise _Bad(f"children of {path}: not a listed node")
        entries = [_child(c, path) for c in _list(kids, f"children of {path}")]
        if graph.nodes[path].get("kind") is NodeKind.DATASET:
            if entries:
                raise _Bad(f"children of {path}: a dataset has none")
            entries = NO_CHILDREN
        index.children[path] = entries
    for path, attrs in _dict(doc.get("attrs"), "attrs").items():
        if path not in graph:
            raise _Bad(f"attributes of {path}: not a listed node")
        try:
            index.attrs[path] = {name: _value(v, "")
                                 for name, v in _dict(attrs, f"attributes of {path}").items()}
        except _Bad as exc:  # name the attribute only now: most indexes have none bad
            bad = next(name for name, v in attrs.items() if not _decodes(v))
            raise _Bad(f"{path} attribute {bad}{exc}") from None
    for path, value in _dict(doc.get("scalars"), "scalars").items():
        if path not in graph:
            raise _Bad(f"scalar {path}: not a listed node")
        index.scalars[path] = _value(value, f"scalar {path}")
    for entry in _list(doc.get("refs"), "refs"):
        if not (isinstance(entry, list) and len(entry) == 2 and _is_int(entry[0])
                and isinstance(entry[1], str) and entry[1] in graph):
            raise _Bad("refs: expected [address, listed path] pairs")
        index.ref_paths[entry[0]] = entry[1]
    layouts = {path: _layout_of(v, path) for path, v in _dict(doc.get("layouts"),
                                                                "layouts").items()}
    specs = doc.get("specs")
    stored_specs: dict[str, tuple[NamespaceSpec, list[str]]] | None = None
    if specs is not None:
        stored_specs = {}
        for name, entry in _dict(specs, "specs").items():
            if not (isinstance(entry, dict) and isinstance(entry.get("origin"), str)
                    and isinstance(entry.get("documents"), dict)
                    and isinstance(entry.get("available"), list)
                    and all(isinstance(v, str) for v in entry["available"])):
                raise _Bad(f"specs of {name}: expected origin, documents and available versions")
            spec = namespace_from_documents(entry["documents"], entry["origin"])
            if not (spec.name == name):
                raise _Bad(f"specs of {name}: the documents define {spec.name!r}")
            stored_specs[name] = (spec, list(entry["available"]))
    return StoredIndex(Identity(identity["size"], identity["stamp"]), source, index,
                       stored_specs, layouts)


def _is_int(value: Any) -> bool:
    return type(value) is int and value >= 0


def _list(value: Any, what: str) -> list[Any]:
    _need(isinstance(value, list), f"{what}: expected a list")
    return value  # type: ignore[no-any-return]


def _dict(value: Any, what: str) -> dict[str, Any]:
    _need(isinstance(value, dict), f"{what}: expected an object")
    return value  # type: ignore[no-any-return]


def _node(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Bad(f"node {path}: expected an object")
    kind_text: Any = data.get("kind")
    kind = _KINDS.get(kind_text)
    if kind is None:
        raise _Bad(f"node {path}: unknown kind {data.get('kind')!r}")
    out: dict[str, Any] = {"kind": kind}
    for key, value in data.items():
        if key == "kind":
            continue
        if key == "shape":
            if not (value is None or (isinstance(value, list) and all(_is_int(n) for n in value))):
                raise _Bad(f"node {path}: shape: expected whole numbers")
            out[key] = None if value is None else tuple(value)
        elif key == "dtype":
            out[key] = decode_dtype(value, f"node {path}: dtype")
        elif key in ("namespace", "type", "filename", "path"):
            if not (value is None or isinstance(value, str)):
                raise _Bad(f"node {path}: {key}: expected text")
            out[key] = value
        else:
            raise _Bad(f"node {path}: unknown field {key!r}")
    if kind is NodeKind.DATASET and not ("shape" in out and "dtype" in out):
        raise _Bad(f"node {path}: a dataset without shape/dtype")
    return out


def _child(entry: Any, parent: str) -> Child:
    if not (isinstance(entry, list) and len(entry) == 6):
        raise _Bad(f"children of {parent}: expected "
                  "[name, kind, target, filename, path, broken]")
    name, kind_text, target, filename, path, broken = entry
    kind = _LINKS.get(kind_text)
    if not (isinstance(name, str) and kind is not None and isinstance(target, str)
            and (filename is None or isinstance(filename, str))
            and (path is None or isinstance(path, str)) and isinstance(broken, bool)):
        raise _Bad(f"children of {parent}: a malformed entry")
    assert kind is not None
    return Child(name, kind, target, filename, path, broken)


def _layout_of(data: Any, path: str) -> Layout:
    if not isinstance(data, dict):
        raise _Bad(f"layout of {path}: expected an object")
    chunks = data.get("chunks")
    if not (chunks is None or (isinstance(chunks, list) and all(_is_int(n) for n in chunks))):
        raise _Bad(f"layout of {path}: chunks")
    filters = _list(data.get("filters"), f"layout of {path}: filters")
    for f in filters:
        if not (isinstance(f, list) and len(f) == 3 and _is_int(f[0]) and isinstance(f[1], str)
                and isinstance(f[2], list) and all(_is_int(v) for v in f[2])):
            raise _Bad(f"layout of {path}: a malformed filter")
    offset = data.get("offset")
    if not (offset is None or _is_int(offset)):
        raise _Bad(f"layout of {path}: offset")
    offsets = data.get("chunk_offsets")
    chunk_offsets = None
    if offsets is not None:
        if not (isinstance(offsets, list) and len(offsets) <= MAX_CHUNKS):
            raise _Bad(f"layout of {path}: chunk offsets")
        chunk_offsets = []
        for o in offsets:
            if not (isinstance(o, list) and len(o) == 4 and isinstance(o[0], list)
                    and all(_is_int(x) for x in o[0]) and all(_is_int(x) for x in o[1:])):
                raise _Bad(f"layout of {path}: a malformed chunk offset")
            chunk_offsets.append((tuple(o[0]), o[1], o[2], o[3]))
    return Layout(None if chunks is None else tuple(chunks),
                  [(f[0], f[1], tuple(f[2])) for f in filters], offset, chunk_offsets)


def decode_dtype(data: Any, where: str) -> np.dtype:
    """A dtype from ``encode_dtype``'s JSON, checked (only plain numeric, text and byte
    types and h5py's own special ones can come out)."""
    try:
        return _dtype(data, where, 0)
    except (TypeError, ValueError) as exc:
        raise _Bad(f"{where}: {exc}") from None


def _dtype(data: Any, where: str, depth: int) -> np.dtype:
    dtype: np.dtype = _dtype_any(data, where, depth)
    return dtype


def _dtype_any(data: Any, where: str, depth: int) -> Any:
    if isinstance(data, str):
        known = _PLAIN_DTYPES.get(data)
        if known is not None:
            return known
        if _DTYPE_STR.match(data) is None:
            raise _Bad(f"{where}: {data!r} is not a plain dtype")
        dtype = np.dtype(data)
        if len(_PLAIN_DTYPES) < 256:
            _PLAIN_DTYPES[data] = dtype
        return dtype
    if depth >= 16:
        raise _Bad(f"{where}: nested too deeply")
    if not isinstance(data, dict):
        raise _Bad(f"{where}: expected a dtype")
    if "vlen" in data:
        base = data["vlen"]
        if base == "str":
            return h5py.string_dtype("utf-8")
        if base == "bytes":
            return h5py.string_dtype("ascii")
        return h5py.vlen_dtype(_dtype(base, where, depth + 1))
    if data.get("any") == "object" and len(data) == 1:
        return np.dtype(object)
    if "ref" in data:
        if data["ref"] not in ("object", "region"):
            raise _Bad(f"{where}: unknown reference kind")
        return h5py.regionref_dtype if data["ref"] == "region" else h5py.ref_dtype
    if "enum" in data:
        values = _dict(data["enum"], f"{where}: enum")
        if not all(type(v) is int for v in values.values()):
            raise _Bad(f"{where}: enum values")
        base = _dtype(data.get("base"), where, depth + 1)
        if base.kind not in "iub":
            raise _Bad(f"{where}: an enum of {base}")
        return h5py.enum_dtype(values, basetype=base)
    if "text" in data:
        size = data["text"]
        if not (_is_int(size) and 0 < size < 1 << 30
                and data.get("encoding") in ("ascii", "utf-8")):
            raise _Bad(f"{where}: fixed-length text")
        return h5py.string_dtype(data["encoding"], size)
    if "opaque" in data:
        size = data["opaque"]
        if not (_is_int(size) and 0 < size < 1 << 30):
            raise _Bad(f"{where}: opaque size")
        return h5py.opaque_dtype(np.dtype(f"V{size}"))
    if "sub" in data:
        shape = data.get("shape")
        if not (isinstance(shape, list) and all(_is_int(n) for n in shape)
                and math.prod(shape) < 1 << 30):
            raise _Bad(f"{where}: subarray shape")
        return np.dtype((_dtype(data["sub"], where, depth + 1), tuple(shape)))
    if "fields" in data:
        fields = _list(data["fields"], f"{where}: fields")
        itemsize: Any = data.get("itemsize")
        if not (_is_int(itemsize) and itemsize < 1 << 30):
            raise _Bad(f"{where}: itemsize")
        names: list[str] = []
        formats: list[np.dtype] = []
        offsets: list[int] = []
        for f in fields:
            if not (isinstance(f, list) and len(f) == 3 and isinstance(f[0], str)
                    and _is_int(f[2])):
                raise _Bad(f"{where}: a malformed field")
            names.append(f[0])
            formats.append(_dtype(f[1], where, depth + 1))
            offsets.append(f[2])
        return np.dtype({"names": names, "formats": formats, "offsets": offsets,
                         "itemsize": itemsize})
    raise _Bad(f"{where}: unknown dtype form")


def _value(data: Any, where: str, depth: int = 0) -> Any:
    if data is None or type(data) in (str, bool, int, float):
        return data
    if depth >= 16:
        raise _Bad(f"{where}: nested too deeply")
    if not isinstance(data, dict):
        raise _Bad(f"{where}: expected a value")
    if "ref" in data:
        target, null, region = data["ref"], data.get("null"), data.get("region")
        if not ((target is None or isinstance(target, str)) and isinstance(null, bool)
                and isinstance(region, bool)):
            raise _Bad(f"{where}: a malformed reference")
        return make_reference(target, null, region)
    if "objects" in data:
        dtype = decode_dtype(data["objects"], where)
        if not dtype.hasobject:
            raise _Bad(f"{where}: an object array of {dtype}")
        shape = _shape(data.get("shape"), where)
        items = _list(data.get("items"), f"{where}: items")
        if not (len(items) == math.prod(shape)):
            raise _Bad(f"{where}: {len(items)} items for shape {shape}")
        out = np.empty(shape, dtype=dtype)
        flat = out.reshape(-1)
        for i, item in enumerate(items):
            flat[i] = _value(item, where, depth + 1)
        return out
    if "array" in data or "scalar" in data:
        dtype = decode_dtype(data.get("array", data.get("scalar")), where)
        if dtype.hasobject:
            raise _Bad(f"{where}: raw bytes of an object dtype")
        shape = _shape(data.get("shape"), where) if "array" in data else ()
        raw = data.get("bytes")
        if not isinstance(raw, str):
            raise _Bad(f"{where}: bytes: expected base64 text")
        if not (len(raw) <= (_limits.LIMITS.attribute_bytes * 4) // 3 + 4):
            raise _Bad(f"{where}: larger than the attribute limit")
        try:
            blob = base64.b64decode(raw, validate=True)
        except ValueError:
            raise _Bad(f"{where}: bytes: not base64") from None
        if len(blob) != math.prod(shape) * dtype.itemsize:
            raise _Bad(f"{where}: {len(blob)} bytes for shape {shape} of {dtype}")
        if "array" not in data:
            return np.frombuffer(blob, dtype=dtype)[0]  # a scalar of its own (not a view)
        return np.frombuffer(blob, dtype=dtype).reshape(shape).copy()
    raise _Bad(f"{where}: unknown value form")


def _decodes(data: Any) -> bool:
    try:
        _value(data, "")
    except _Bad:
        return False
    return True


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not (isinstance(value, list) and len(value) <= 32 and all(_is_int(n) for n in value)
            and math.prod(value) <= _limits.LIMITS.attribute_bytes):
        raise _Bad(f"{where}: shape: expected a bounded list of whole numbers")
    return tuple(value)
