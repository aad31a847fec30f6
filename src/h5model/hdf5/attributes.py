"""Reading every attribute of an object once: straight through the HDF5 library where
it can, else through h5py's low-level API.

High-level ``obj.attrs[name]`` costs tens of microseconds per attribute; a file of
6,000 objects has 20,000+. This reads them by index with the same results (strings as
``str``, scalars as numpy scalars, references left as ``h5py.Reference`` for the graph
to resolve), whichever path reads them: the compiled or ctypes scalar reader of
``_native/read_attrs.py`` for the common scalars, h5py for everything else (see
``_native/library.py`` for choosing the path with ``H5MODEL_NATIVE``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import h5py
import numpy as np
from h5py import h5a, h5t

from h5model.hdf5 import limits as _limits
from h5model.hdf5._native import read_attrs as _native
from h5model.hdf5._native.lengths import STORED_LENGTHS
from h5model.hdf5._native.library import LOCK
from h5model.hdf5.limits import attribute_too_large

_VLEN_TEXT = h5t.py_create(h5py.string_dtype())
_OBJECT = np.dtype(object)

AttributeReader = Callable[[Any, bool, "dict[str, str] | None"], dict[str, Any]]
"""(an object's h5py identifier, guard, shared texts) -> name -> value for each of its
attributes, in name order. ``guard``: measure every text before reading it (where the
library lets us, see ``_native/lengths.py``), as in a file larger than the attribute
limit. Shared texts (a dict, or None): names and short texts equal to one there are that
one, so that a file's thousands of repeats are one object each (``_native.read_attrs``)."""


MANY_ATTRIBUTES = 32
"""Above this many attributes an object keeps them in dense storage, where opening one by
its index sorts them all again: such objects are read by one pass over their names."""


def read_through_h5py(oid: Any, guard: bool = False,
                      shared: dict[str, str] | None = None) -> dict[str, Any]:
    """name -> value for every attribute of the object ``oid``, in name order, all through h5py
    (every text is measured before it is read: ``guard`` changes nothing here)."""
    if h5a.get_num_attrs(oid) > MANY_ATTRIBUTES:
        return read_by_names(oid)
    out: dict[str, Any] = {}
    for i in range(h5a.get_num_attrs(oid)):
        aid = h5a.open(oid, index=i)
        out[aid.name.decode("utf-8", "surrogateescape")] = read_attribute(aid)
    return out


def read_by_names(oid: Any) -> dict[str, Any]:
    """name -> value in name order, for objects with many attributes: their names in one
    pass of the library's iteration, then each opened by name (a lookup in the name index),
    so the cost grows with the count, not with its square."""
    names: list[bytes] = []
    h5a.iterate(oid, lambda name, *_: names.append(name), index_type=h5py.h5.INDEX_NAME,
                order=h5py.h5.ITER_INC)
    return {
        name.decode("utf-8", "surrogateescape"): read_attribute(h5a.open(oid, name))
        for name in names
    }


def native_reader(scan: _native.ScalarReader) -> AttributeReader:
    """Read attributes with ``scan`` (one of ``_native.READERS``) for the scalars it knows,
    under h5py's lock, and through h5py for the rest."""
    assert LOCK is not None  # no native reader exists without the lock

    def read_attributes(oid: Any, guard: bool = False,
                        shared: dict[str, str] | None = None) -> dict[str, Any]:
        """name -> value for every attribute of the object ``oid``, in name order."""
        count = h5a.get_num_attrs(oid)
        if not count:
            return {}
        if count > MANY_ATTRIBUTES:
            return read_by_names(oid)
        with LOCK:
            values, rest = scan(oid.id, count, _limits.LIMITS.attribute_bytes if guard else 0,
                                shared)
        for name in rest:  # each keeps its place, held by None
            values[name] = read_attribute(h5a.open(oid, name.encode("utf-8", "surrogateescape")))
        return values

    return read_attributes


READERS: dict[str, AttributeReader] = {
    **{path: native_reader(scan) for path, scan in _native.READERS.items()},
    "h5py": read_through_h5py,
}
"""Every attribute path that can run here, by its ``H5MODEL_NATIVE`` name."""

read_attributes: AttributeReader = READERS[_native.ACTIVE]
"""name -> value for every attribute of an object, in name order, through the path chosen."""


def read_attribute(aid: Any) -> Any:
    """One attribute's value: ``str`` for text, numpy scalars unwrapped to numpy scalars.

    Refuses (``LimitError``) a value over the attribute limit: one of fixed size before it
    is read, from its element count and type size; text of variable length from its stored
    lengths, unread (``_native/lengths.py``), where the library is bound; other values of
    variable length (and all text on the h5py path) once the library has read them, before
    any copy is made here: each element lies in the file's global heap, whose collections
    HDF5 refuses to read past the file's end, so each is at most the file's size."""
    shape = aid.shape
    if shape is None:  # a null dataspace
        return None
    limit = _limits.LIMITS.attribute_bytes
    count = math.prod(shape)
    htype = aid.get_type()
    if count * htype.get_size() > limit:  # for variable length: the size of its handles
        raise attribute_too_large(_name(aid), count * htype.get_size())
    if htype.get_class() == h5t.STRING and htype.is_variable_str():
        # the common case (most NWB attributes): skip building a numpy dtype
        if count and STORED_LENGTHS is not None:  # measured before HDF5 reads them
            lengths = STORED_LENGTHS.of(aid, count)
            if lengths is not None and int(lengths.sum(dtype=np.uint64)) > limit:
                raise attribute_too_large(_name(aid), int(lengths.sum(dtype=np.uint64)))
        arr = np.empty(shape, dtype=_OBJECT)
        if count:
            aid.read(arr, mtype=_VLEN_TEXT)
        if arr.ndim == 0:
            item = arr[()]
            if isinstance(item, bytes) and len(item) > limit:
                raise attribute_too_large(_name(aid), len(item))
            return _text(item)
        if sum(len(item) for item in arr.flat if isinstance(item, bytes)) > limit:
            raise attribute_too_large(_name(aid))
        out = np.empty(arr.shape, dtype=object)
        for index, item in np.ndenumerate(arr):
            out[index] = _text(item)
        return out
    dtype = htype.dtype
    if dtype.subdtype is not None:
        base, sub = dtype.subdtype
        arr = np.empty(tuple(shape) + tuple(sub), dtype=base)
    else:
        arr = np.empty(shape, dtype=dtype)
    if 0 not in arr.shape:
        aid.read(arr, mtype=h5t.py_create(dtype))
    if arr.dtype.hasobject and _held_bytes(arr) > limit:
        raise attribute_too_large(_name(aid))
    string_info = h5py.check_string_dtype(dtype)
    if string_info is not None:  # fixed-length strings
        decoded = np.char.decode(arr, string_info.encoding, "surrogateescape")
        return str(decoded[()]) if decoded.ndim == 0 else decoded.astype(object)
    if arr.ndim == 0:
        return arr[()]
    return arr


def text_over_limit(attrs: dict[str, Any]) -> str | None:
    """The name of the first text value in ``attrs`` over the attribute limit, if any.

    For values read by the scalar readers of ``_native``, which cannot stop before reading:
    only called for files larger than the limit, as no text in a smaller file can exceed it.
    """
    limit = _limits.LIMITS.attribute_bytes
    for name, value in attrs.items():
        # a str of n characters is n to 4n bytes of UTF-8: count bytes only when unclear
        if (
            type(value) is str
            and len(value) * 4 > limit
            and len(value.encode("utf-8", "surrogateescape")) > limit
        ):
            return name
    return None


def _held_bytes(arr: np.ndarray) -> int:
    """Bytes held by the variable-length items of an object array (text, sequences)."""
    total = 0
    for item in arr.reshape(-1):
        total += _item_bytes(item)
    return total


def _item_bytes(item: Any) -> int:
    if isinstance(item, (bytes, str)):
        return len(item)
    if isinstance(item, np.ndarray):
        return _held_bytes(item) if item.dtype.hasobject else item.nbytes
    if isinstance(item, np.void):  # a compound's fields
        fields = tuple(item[name] for name in item.dtype.names or ())
        return sum(_item_bytes(value) for value in fields)
    return 0


def _name(aid: Any) -> str:
    return str(aid.name.decode("utf-8", "surrogateescape"))


def _text(item: Any) -> Any:
    return item.decode("utf-8", "surrogateescape") if isinstance(item, bytes) else item
