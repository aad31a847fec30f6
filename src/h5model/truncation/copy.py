"""Writing a truncated copy: every object with the source's own creation properties.

Groups and datasets are created through h5py's low-level API with the source's
property lists, so layout, chunking, filters, fill values, attribute order
tracking and the exact stored datatypes survive. A dataset kept whole whose
values hold no references is copied by HDF5 itself (``H5Ocopy``, its attributes
left out), one call instead of a dozen identifiers and a read and a write.

The copy streams: group after group, each member is created, its attributes
and its data (whole chunks of kept rows copied as stored, compressed, without a
decode/encode round trip) are copied, and it is closed, so memory does not grow
with the number of objects (an open HDF5 object holds about 16 KiB). What
holds references waits until every object exists: an attribute is created in
its turn, keeping the source's order, and written at the end, as are datasets
of references; each reference points at the object at the same canonical path
in the copy. Datasets of variable-length values are written at the end too,
which keeps their heap packed, so the copy is no larger than the source.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
from h5py import h5, h5a, h5d, h5g, h5o, h5p, h5r, h5s, h5t

from h5model.hdf5 import stored
from h5model.hdf5._native import copy_attrs as _native
from h5model.hdf5._native import copy_members as _members
from h5model.hdf5._native.library import LOCK
from h5model.hdf5.filters import check_filters
from h5model.hdf5.graph import FileIndex, dereference_path
from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.hdf5.limits import LimitError, check_references
from h5model.hdf5.paths import join
from h5model.rules.dtypes import holds_references, value_holds_references
from h5model.truncation.plan import Plan

BLOCK_BYTES = 64 << 20
"""Bytes read and written at a time for datasets that are not copied chunk by chunk."""

_UNLIMITED = h5s.UNLIMITED
_NULL_REF = h5py.Reference()
_NULL_REGION = h5py.RegionReference()

Report = Callable[[int], None]
"""Told how many bytes of dataset content were just written."""


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.empty(shape, dtype=dtype)


def _memory_type(dtype: np.dtype) -> Any:
    return h5t.py_create(dtype)


class _NotYet(Exception):
    """A reference to an object the copy does not have yet."""


@dataclass
class _Job:
    """One dataset's content to copy."""

    path: str
    source: Any
    target: Any
    dtype: np.dtype
    shape: tuple[int, ...]
    """The source's shape; ``()`` for a scalar."""
    rows: int
    """Rows kept along the first axis."""
    chunk: tuple[int, ...] | None
    """The source's chunk shape, if chunked."""
    same_chunks: bool
    """The copy is chunked exactly like the source: whole chunks can be copied as stored."""


class Copier:
    """Copies one source file into an empty destination file, as the plan says."""

    def __init__(
        self,
        src: h5py.File,
        index: FileIndex,
        plan: Plan,
        dst_fid: Any,
        src_dir: str,
        dst_dir: str,
        report: Report,
    ) -> None:
        self.src = src
        self.index = index
        self.graph = index.graph
        self.plan = plan
        self.dst_fid = dst_fid
        self.dst_root = h5g.open(dst_fid, b"/")
        self.src_dir = src_dir
        self.dst_dir = dst_dir
        self.report = report
        self.where = "/"
        """The object being copied, for error messages."""
        self._src_root = h5g.open(src.id, b"/")
        self._shapes: dict[str, tuple[int, ...]] = {}
        """The copy's shape of each dataset with dimensions: regions are clipped to it."""
        self._later: list[_Job] = []
        """Datasets holding references or variable-length values (closed until then), written
        once every object exists: written among the objects, the variable-length values
        would spread over more heap collections, and the copy could outgrow its source."""
        self._deferred: list[tuple[str, bytes]] = []
        """Attributes holding references to objects not made yet (object path, name):
        created in their turn, written once every object exists."""
        self._created: set[str] | None = {"/"}
        """Objects made so far, while the structure is being made (None after)."""
        self._hard_links: list[tuple[str, str, str, int]] = []
        self._refs: dict[str, Any] = {}
        self._lcpls: dict[int, Any] = {}
        self._label = src.filename
        self._memory_types: dict[np.dtype, Any] = {}
        self._whole = h5p.create(h5p.OBJECT_COPY)
        self._whole.set_copy_object(h5o.COPY_WITHOUT_ATTR_FLAG)
        """Datasets copied by HDF5 whole: their attributes are copied with every other's."""

    # -- entry ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except LimitError as exc:
            raise exc.at(self.src.filename, self.where) from None

    def _run(self) -> None:
        root_order = _order(self._src_root.get_create_plist())
        self._attributes("/", self._src_root, self.dst_root, root_order)
        for path, children in self.index.children.items():
            if self.graph.nodes[path]["kind"] is NodeKind.GROUP:
                self.where = path
                source = _open(self._src_root, path)
                self._group_members(
                    path, _in_creation_order(source, children), source,
                    _open(self.dst_root, path),
                )
        self._created = None
        for parent, name, target, cset in self._hard_links:
            self.where = join(parent, name)
            self.dst_root.links.create_hard(
                _bytes(self.where), self.dst_root, _bytes(target), lcpl=self._lcpl(cset)
            )
        for job in self._later:
            where = _bytes(job.path)
            job.source = h5d.open(self._src_root, where)
            job.target = h5d.open(self.dst_root, where)
            self._copy_data(job)
            job.source = job.target = None
        for path, attribute in self._deferred:
            self.where = path
            self._write_references(path, attribute)

    # -- structure --------------------------------------------------------------------------
    def _group_members(
        self, path: str, children: list[Any], src_group: Any, dst_group: Any
    ) -> None:
        """Create, fill and close each member of one group (groups stay empty until their
        own turn), in the source's order: runs of plain members in one compiled call
        (``_native.copy_members``), the others one by one."""
        batch: list[tuple[bytes, int, int]] = []
        for child in children:
            child_path = join(path, child.name)
            name = _bytes(child.name)
            if (_members.COPIER is not None and child.kind is LinkKind.HARD
                    and child.target == child_path):
                what = self._what(child_path)
                if what is not None:
                    batch.append((name, *what))
                    continue
            self._compiled_members(path, batch, src_group, dst_group)
            self._member(path, child, child_path, name, src_group, dst_group)
        self._compiled_members(path, batch, src_group, dst_group)

    def _member(self, path: str, child: Any, child_path: str, name: bytes, src_group: Any,
                dst_group: Any) -> None:
        """Make one member of a group through h5py."""
        self.where = child_path
        links = src_group.links
        cset = links.get_info(name).cset
        if child.kind is LinkKind.HARD and child.target != child_path:
            self._hard_links.append((path, child.name, child.target, cset))
        elif child.kind is LinkKind.HARD:
            if self.graph.nodes[child_path]["kind"] is NodeKind.GROUP:
                source = h5g.open(src_group, name)
                gcpl = creation_properties(source)
                created = h5g.create(dst_group, name, lcpl=self._lcpl(cset), gcpl=gcpl)
                self._made(child_path)
                self._attributes(child_path, source, created, _order(gcpl))
            else:
                source = h5d.open(src_group, name)
                self._dataset(child_path, source, src_group, dst_group, name, cset)
        elif child.kind is LinkKind.SOFT:
            dst_group.links.create_soft(name, links.get_val(name), lcpl=self._lcpl(cset))
        elif child.kind is LinkKind.EXTERNAL:
            filename, object_path = links.get_val(name)
            dst_group.links.create_external(
                name, self._external_name(filename), object_path, lcpl=self._lcpl(cset)
            )

    def _what(self, path: str) -> tuple[int, int] | None:
        """What the compiled step makes of the object at ``path`` (and the rows it keeps),
        or None where values must be re-pointed or kept packed (h5py makes it)."""
        data = self.graph.nodes[path]
        if data["kind"] is NodeKind.GROUP:
            return _members.GROUP, 0
        dtype: np.dtype = data["dtype"]
        shape: tuple[int, ...] | None = data["shape"]
        if holds_references(dtype):
            return None
        if shape:
            kept = self.plan.kept(path, shape[0])
            if kept < shape[0]:
                return None if dtype.hasobject else (_members.CUT, kept)
        attrs = self.index.attrs.get(path, {})
        if any(value_holds_references(value) for value in attrs.values()):
            return _members.WHOLE, -1
        return _members.WHOLE_WITH_ATTRIBUTES, -1

    def _compiled_members(
        self, path: str, batch: list[tuple[bytes, int, int]], src_group: Any, dst_group: Any
    ) -> None:
        """Make the members in ``batch`` (emptied) through the compiled step; what it
        declines or leaves undone through h5py."""
        if not batch:
            return
        assert _members.COPIER is not None and LOCK is not None
        lcpls = (self._lcpl(h5t.CSET_ASCII).id, self._lcpl(h5t.CSET_UTF8).id)

        def refs(name: bytes, order: int, position: int) -> None:
            source, target = h5o.open(src_group, name), h5o.open(dst_group, name)
            self._attribute(join(path, _text(name)), source, target, order, position)

        while batch:
            where = [0]
            try:
                with LOCK:
                    results = _members.COPIER(src_group.id, dst_group.id, batch, lcpls,
                                              self._whole.id, stored.BLOCK_ELEMENTS, refs, where)
            except OSError:
                self.where = join(path, _text(batch[where[0]][0]))
                raise
            for (name, what, rows), (status, written) in zip(batch, results, strict=False):
                child_path = join(path, _text(name))
                self.where = child_path
                if status == _members.DECLINED:
                    cset = src_group.links.get_info(name).cset
                    source = h5d.open(src_group, name)
                    self._dataset(child_path, source, src_group, dst_group, name, cset)
                    continue
                self._made(child_path)
                if what == _members.GROUP:
                    continue
                data = self.graph.nodes[child_path]
                shape, dtype = data["shape"], data["dtype"]
                if what in (_members.WHOLE, _members.WHOLE_WITH_ATTRIBUTES):
                    if shape:
                        self._shapes[child_path] = shape
                    if shape is not None:
                        self.report(dtype.itemsize * math.prod(shape))
                    continue
                self._shapes[child_path] = (rows, *shape[1:])
                if status == _members.ROWS_LEFT:
                    self._rows_left(child_path, name, src_group, dst_group, dtype, shape, rows)
                else:
                    self.report(written)
            del batch[:len(results)]

    def _rows_left(self, path: str, name: bytes, src_group: Any, dst_group: Any,
                   dtype: np.dtype, shape: tuple[int, ...], rows: int) -> None:
        """Copy the kept rows of a dataset the compiled step made without them."""
        source, target = h5d.open(src_group, name), h5d.open(dst_group, name)
        chunk = _chunk(source.get_create_plist())
        same = chunk is not None and chunk == _chunk(target.get_create_plist())
        self._copy_data(_Job(path, source, target, dtype, shape, rows, chunk, same))

    def _made(self, path: str) -> None:
        if self._created is not None:
            self._created.add(path)

    def _external_name(self, filename: bytes) -> bytes:
        """A relative file name rewritten to reach, from the copy's folder, the same file."""
        text = filename.decode("utf-8", "surrogateescape")
        if os.path.isabs(text) or self.src_dir == self.dst_dir:
            return filename
        target = os.path.normpath(os.path.join(self.src_dir, text))
        return _bytes(os.path.relpath(target, self.dst_dir))

    def _lcpl(self, cset: int) -> Any:
        if cset not in self._lcpls:
            lcpl = h5p.create(h5p.LINK_CREATE)
            lcpl.set_char_encoding(cset)
            self._lcpls[cset] = lcpl
        return self._lcpls[cset]

    # -- datasets ---------------------------------------------------------------------------
    def _dataset(
        self, path: str, source: Any, src_group: Any, dst_group: Any, name: bytes, cset: int
    ) -> None:
        dcpl = source.get_create_plist()
        check_filters(dcpl, self._label, path)
        layout = dcpl.get_layout()
        order = _order(dcpl)
        whole = self._copy_whole(path, dcpl, layout, src_group, dst_group, name, cset)
        if whole is not None:
            self._attributes(path, source, whole, order)
            return
        space = source.get_space()
        creation_properties(source, dcpl)
        chunk = tuple(dcpl.get_chunk()) if layout == h5d.CHUNKED else None
        same_chunks = chunk is not None
        extent = space.get_simple_extent_type()
        shape: tuple[int, ...] | None = None
        rows = 0
        if extent == h5s.NULL:
            new_space = h5s.create(h5s.NULL)
        elif extent == h5s.SCALAR:
            new_space = h5s.create(h5s.SCALAR)
            shape = ()
        else:
            shape = tuple(space.shape)
            dims = list(shape)
            maxdims = list(space.get_simple_extent_dims(True))
            kept = rows = dims[0] if layout == h5d.VIRTUAL else self.plan.kept(path, dims[0])
            if kept < dims[0]:
                dims[0] = kept
                # a fixed first axis shrinks with the data (an empty chunked dataset keeps
                # the source's limit: a chunk may not exceed a fixed maximum)
                if maxdims[0] != _UNLIMITED and not (chunk is not None and kept == 0):
                    maxdims[0] = kept
                # a chunk is stored whole: one longer than the kept rows would only hold
                # fill values, so it shrinks to them; the other axes keep their chunking
                if chunk is not None and 0 < kept < chunk[0]:
                    dcpl.set_chunk((kept, *chunk[1:]))
                    same_chunks = False
            new_space = h5s.create_simple(tuple(dims), tuple(maxdims))
            self._shapes[path] = tuple(dims)
        if dcpl.get_external_count() > 0:
            # raw data kept in separate files: the copy holds its rows itself rather than
            # writing into the source's external files
            dcpl = h5p.create(h5p.DATASET_CREATE)
            same_chunks = False
        created = h5d.create(
            dst_group, name, source.get_type().copy(), new_space, dcpl=dcpl, lcpl=self._lcpl(cset)
        )
        self._made(path)
        self._attributes(path, source, created, order)
        dtype: np.dtype = self.graph.nodes[path]["dtype"]
        if layout == h5d.VIRTUAL or shape is None:
            return  # mapped onto other datasets, or no data at all
        if dtype.hasobject:  # references, or variable-length values kept packed in the heap
            self._later.append(_Job(path, None, None, dtype, shape, rows, chunk, same_chunks))
        else:
            self._copy_data(_Job(path, source, created, dtype, shape, rows, chunk, same_chunks))

    def _copy_whole(
        self, path: str, dcpl: Any, layout: int, src_group: Any, dst_group: Any, name: bytes,
        cset: int,
    ) -> Any:
        """Let HDF5 copy a dataset kept whole, when nothing in its values is re-pointed and
        its storage is its own, and return the copy; None (nothing done) otherwise."""
        data = self.graph.nodes[path]
        dtype: np.dtype = data["dtype"]
        shape: tuple[int, ...] | None = data["shape"]
        if (
            layout == h5d.VIRTUAL
            or dcpl.get_external_count() > 0
            or holds_references(dtype)
            or (shape and self.plan.kept(path, shape[0]) < shape[0])
        ):
            return None
        h5o.copy(src_group, name, dst_group, name,
                 copypl=self._whole, lcpl=self._lcpl(cset))
        self._made(path)
        if shape:
            self._shapes[path] = shape
        if shape is not None:
            self.report(dtype.itemsize * math.prod(shape))
        return h5d.open(dst_group, name)

    def _memory_type(self, dtype: np.dtype) -> Any:
        """The memory type of ``dtype``, made once for dtypes without Python objects (those
        carry what they hold in their metadata, which a dtype's hash leaves out)."""
        if dtype.hasobject:
            return _memory_type(dtype)
        found = self._memory_types.get(dtype)
        if found is None:
            found = self._memory_types[dtype] = _memory_type(dtype)
        return found

    def _copy_data(self, job: _Job) -> None:
        self.where = job.path
        dtype, shape = job.dtype, job.shape
        memory = self._memory_type(dtype)
        clamp = job.path in self.plan.series_references
        if not shape:
            value = _empty((), dtype)
            job.source.read(h5s.ALL, h5s.ALL, value, mtype=memory)
            job.target.write(h5s.ALL, h5s.ALL, self._remap(value, clamp), mtype=memory)
            self.report(value.nbytes)
            return
        rows = job.rows
        references = holds_references(dtype)
        if references or rows * math.prod(shape[1:]) > stored.BLOCK_ELEMENTS:
            # large or referring: ask the library what is stored (small plain datasets are
            # read at once, cheaper than asking)
            found = stored.storage(h5py.Dataset(job.source), rows)
            if not found.boxes:
                return  # nothing of the kept rows was ever written: the fill value holds
        if references:
            self._copy_references(job, memory, clamp)
            return
        start = 0
        if job.same_chunks and job.chunk is not None and not dtype.hasobject:
            start = self._copy_chunks(job.source, job.target, shape, rows, job.chunk)
        row_bytes = max(1, dtype.itemsize * math.prod(shape[1:]))
        step = max(1, BLOCK_BYTES // row_bytes)
        if job.chunk is not None:
            step = max(job.chunk[0], step // job.chunk[0] * job.chunk[0])
        if start == 0 and rows == shape[0] and rows <= step:
            if rows and 0 not in shape:  # small and whole: one read, no selections
                block = _empty(shape, dtype)
                job.source.read(h5s.ALL, h5s.ALL, block, mtype=memory)
                job.target.write(h5s.ALL, h5s.ALL, self._remap(block, clamp), mtype=memory)
                self.report(block.nbytes)
            return
        for first in range(start, rows, step):
            count = (min(rows, first + step) - first, *shape[1:])
            if 0 in count:
                continue
            offset = (first,) + (0,) * (len(shape) - 1)
            block = _empty(count, dtype)
            selection = job.source.get_space()
            selection.select_hyperslab(offset, count)
            job.source.read(h5s.create_simple(count), selection, block, mtype=memory)
            block = self._remap(block, clamp)
            selection = job.target.get_space()
            selection.select_hyperslab(offset, count)
            job.target.write(h5s.create_simple(count), selection, block, mtype=memory)
            self.report(block.nbytes)

    def _copy_references(self, job: _Job, memory: Any, clamp: bool) -> None:
        """Copy what a dataset holding references stores of its kept rows, in bounded
        blocks, each reference pointed at the copy's object (unwritten elements keep the
        copy's fill value)."""
        dataset = h5py.Dataset(job.source)
        for offset, block in stored.blocks(dataset, stop=job.rows, fill=False):
            values = self._remap(np.ascontiguousarray(block, dtype=job.dtype), clamp)
            selection = job.target.get_space()
            selection.select_hyperslab(offset, values.shape)
            job.target.write(h5s.create_simple(values.shape), selection, values, mtype=memory)
            self.report(values.nbytes)

    def _copy_chunks(
        self, source: Any, target: Any, shape: tuple[int, ...], rows: int, chunk: tuple[int, ...]
    ) -> int:
        """Copy, as stored, the stored chunks that lie wholly within the kept rows; return the
        first row left to copy by value (the rows of a partly kept chunk)."""
        full = rows if rows == shape[0] else rows // chunk[0] * chunk[0]
        offsets: list[tuple[int, ...]] = []
        source.chunk_iter(lambda info: offsets.append(tuple(info.chunk_offset)))
        for offset in offsets:
            if offset[0] < full:
                self._copy_chunk(source, target, offset, shape, chunk)
        return full

    def _copy_chunk(
        self,
        source: Any,
        target: Any,
        offset: tuple[int, ...],
        shape: tuple[int, ...],
        chunk: tuple[int, ...],
    ) -> None:
        mask, data = source.read_direct_chunk(offset)
        target.write_direct_chunk(offset, data, mask)
        cells = math.prod(
            max(0, min(c, e - o)) for c, e, o in zip(chunk, shape, offset, strict=True)
        )
        self.report(cells * source.get_type().get_size())

    # -- references ---------------------------------------------------------------------------
    def _remap(self, block: np.ndarray, clamp: bool) -> np.ndarray:
        """References in ``block`` pointed at the copy's objects; TimeSeriesReference rows
        clamped to the samples their series keeps."""
        dtype = block.dtype
        if not dtype.hasobject:
            return block
        if dtype.names:
            if clamp:
                self._clamp(block)
            for name in dtype.names:
                if holds_references(dtype.fields[name][0]):  # type: ignore[index]
                    block[name] = self._remap(block[name], False)
            return block
        if h5py.check_ref_dtype(dtype) is not None:
            return self._remap_refs(block)
        inner = h5py.check_vlen_dtype(dtype)
        if isinstance(inner, np.dtype) and holds_references(inner):
            out = np.empty(block.shape, dtype=dtype)
            for position, item in np.ndenumerate(block):
                out[position] = self._remap(np.asarray(item, dtype=inner), False)
            return out
        return block

    def _remap_refs(self, refs: np.ndarray) -> np.ndarray:
        out = np.empty(refs.shape, dtype=refs.dtype)
        for position, ref in np.ndenumerate(refs):
            out[position] = self.reference(ref)
        return out

    def reference(self, ref: Any) -> Any:
        """The copy's reference to what ``ref`` points at in the source (null if nothing)."""
        region = isinstance(ref, h5py.RegionReference)
        if ref is None or not ref:
            return _NULL_REGION if region else _NULL_REF
        path = dereference_path(self.src, self.index, ref)
        if path is None:
            return _NULL_REGION if region else _NULL_REF
        if self._created is not None and path not in self._created:
            raise _NotYet(path)
        if region:
            return self._region(ref, path)
        if path not in self._refs:
            self._refs[path] = h5r.create(self.dst_root, _bytes(path), h5r.OBJECT)
        return self._refs[path]

    def _region(self, ref: Any, path: str) -> Any:
        """The same selection, clipped to the rows the copy keeps."""
        selection = h5r.get_region(ref, self.src.id)
        shape = self._shapes.get(path)
        if not shape:
            return h5r.create(self.dst_root, _bytes(path), h5r.DATASET_REGION, selection)
        space = h5s.create_simple(shape)
        kind = selection.get_select_type()
        if kind == h5s.SEL_POINTS:
            check_references(selection.get_select_elem_npoints(), "points of a region reference")
        elif kind == h5s.SEL_HYPERSLABS:
            check_references(selection.get_select_hyper_nblocks(), "blocks of a region reference")
        if kind == h5s.SEL_ALL:
            space.select_all()
        elif kind == h5s.SEL_POINTS:
            points = np.asarray(selection.get_select_elem_pointlist())
            inside = points[(points < np.asarray(shape)).all(axis=1)] if points.size else points
            if len(inside):
                space.select_elements(inside)
            else:
                space.select_none()
        elif kind == h5s.SEL_HYPERSLABS:
            space.select_none()
            for start, end in np.asarray(selection.get_select_hyper_blocklist()):
                stop = np.minimum(end, np.asarray(shape) - 1)
                if (start <= stop).all():
                    space.select_hyperslab(
                        tuple(int(s) for s in start),
                        (1,) * len(shape),
                        block=tuple(int(b) for b in stop - start + 1),
                        op=h5s.SELECT_OR,
                    )
        else:
            space.select_none()
        return h5r.create(self.dst_root, _bytes(path), h5r.DATASET_REGION, space)

    def _clamp(self, block: np.ndarray) -> None:
        """Keep each row inside its series: ``idx_start`` within the kept samples and
        ``count`` at least 1 where there is a sample. (-1, -1) means "no series" and stays."""
        for row in block.reshape(-1):
            start, count = int(row["idx_start"]), int(row["count"])
            if start < 0 and count < 0:
                continue
            ref = row["timeseries"]
            series = dereference_path(self.src, self.index, ref) if ref else None
            kept = self.plan.series_rows.get(series) if series is not None else None
            if kept is None or kept <= 0:
                continue
            start = min(max(start, 0), kept - 1)
            count = min(max(count, 1), kept - start)
            row["idx_start"], row["count"] = start, count

    # -- attributes ----------------------------------------------------------------------------
    def _attributes(self, path: str, source: Any, target: Any, order: int) -> None:
        count = h5a.get_num_attrs(source)
        if not count:
            return

        def through_h5py(position: int) -> None:
            self._attribute(path, source, target, order, position)

        if _native.ENABLED:
            _native.copy_attributes(source.id, target.id, order, count, through_h5py)
        else:
            for position in range(count):
                through_h5py(position)

    def _attribute(self, path: str, source: Any, target: Any, order: int, position: int) -> None:
        """Copy one attribute through h5py, references pointed at the copy's objects; one
        referring to an object not made yet is created now, in its turn, and written once
        every object exists."""
        walk = h5.ITER_INC if order == h5.INDEX_CRT_ORDER else h5.ITER_NATIVE
        attribute = h5a.open(source, index=position, index_type=order, order=walk)
        dtype_id = attribute.get_type()
        created = h5a.create(target, attribute.name, dtype_id.copy(), attribute.get_space())
        shape = attribute.shape
        if shape is None or 0 in shape:
            return
        dtype = dtype_id.dtype
        value = _empty(shape, dtype)
        memory = _memory_type(dtype)
        attribute.read(value, mtype=memory)
        if holds_references(dtype):
            try:
                value = self._remap(value, False)
            except _NotYet:
                self._deferred.append((path, attribute.name))
                return
        created.write(value, mtype=memory)

    def _write_references(self, path: str, name: bytes) -> None:
        """Write an attribute holding references, pointed at the copy's objects."""
        source = h5a.open(_open(self._src_root, path, h5o.open), name)
        dtype = source.dtype
        value = _empty(source.shape, dtype)
        memory = _memory_type(dtype)
        source.read(value, mtype=memory)
        target = h5a.open(_open(self.dst_root, path, h5o.open), name)
        target.write(self._remap(value, False), mtype=memory)


def _in_creation_order(group: Any, children: list[Any]) -> list[Any]:
    """A group's entries (listed by name) in the order they were made, where the group
    tracks it: the copy makes them in that order, so its links list alike."""
    if not group.get_create_plist().get_link_creation_order() & h5p.CRT_ORDER_TRACKED:
        return children
    made: dict[bytes, int] = {}

    def note(name: bytes) -> None:  # returning a value would end the iteration
        made.setdefault(name, len(made))

    group.links.iterate(note, idx_type=h5.INDEX_CRT_ORDER)
    return sorted(children, key=lambda child: made.get(_bytes(child.name), len(made)))


def _text(name: bytes) -> str:
    return name.decode("utf-8", "surrogateescape")


def _chunk(plist: Any) -> tuple[int, ...] | None:
    return tuple(plist.get_chunk()) if plist.get_layout() == h5d.CHUNKED else None


def _open(root: Any, path: str, how: Callable[[Any, bytes], Any] = h5g.open) -> Any:
    """The object at ``path`` below the root group ``root`` (the root itself for "/")."""
    return root if path == "/" else how(root, _bytes(path))


def creation_properties(source: Any, plist: Any = None) -> Any:
    """The source object's creation property list (``plist``, if already read), with time
    tracking as the object has it (HDF5 reports tracking on whether or not the object
    stores times)."""
    plist = source.get_create_plist() if plist is None else plist
    info = h5o.get_info(source)
    plist.set_obj_track_times(bool(info.ctime or info.mtime))
    return plist


def _order(plist: Any) -> int:
    """Attributes in creation order where the source tracks it, else in name order."""
    tracked = plist.get_attr_creation_order()
    return int(h5.INDEX_CRT_ORDER if tracked & h5p.CRT_ORDER_TRACKED else h5.INDEX_NAME)
