"""Scalar attributes read straight through the HDF5 library h5py has loaded.

Every h5py call creates Python ID objects (an attribute, its type, its dataspace) and
registers each in a weak dictionary; for the 20,000+ mostly scalar text and number
attributes of a typical NWB file that is most of the time spent opening it. Here the
common cases (scalar variable-length text, scalar integers and floats) go straight to
``H5Aread``; the rest are named for h5py to read. Two readers do the same work: the
compiled ``_fastattrs`` (no Python call per HDF5 function) and the ctypes one below;
``READERS`` holds those available, ``ACTIVE`` names the one ``H5MODEL_NATIVE`` picked
(see ``library.py``), or ``"h5py"`` when neither may run.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from ctypes import byref
from typing import Any

import numpy as np

from h5model.hdf5._native import lengths as _lengths
from h5model.hdf5._native import library as _library
from h5model.hdf5._native.library import (
    FLOAT,
    INDEX_NAME,
    INTEGER,
    ITER_INC,
    READER_FUNCTIONS,
    SPACE_SCALAR,
    STRING,
    UNSIGNED,
    Library,
)

ScalarReader = Callable[[int, int, int, "dict[str, str] | None"],
                        tuple[dict[str, Any], list[str]]]
"""(object identifier, attribute count, text limit, shared texts) -> (name -> value in name
order, with ``None`` standing for each attribute left to h5py; the names left to h5py). A
text limit above 0 leaves to h5py, unread, each text stored longer than that many bytes
(for ``attributes.read_attribute`` to refuse): see ``lengths.py``. With a dict of shared
texts, names and texts of up to ``SHARED_TEXT_LENGTH`` characters equal to one there are
that one (new ones are added): a file's objects repeat them by the thousand."""

SHARED_TEXT_LENGTH = 32
"""Longer texts (object ids, descriptions) rarely repeat; the compiled reader agrees."""

_NAME_BUFFER = 1024
_INT_TYPES: dict[tuple[int, bool], type[np.integer[Any]]] = {
    (1, True): np.int8,
    (2, True): np.int16,
    (4, True): np.int32,
    (8, True): np.int64,
    (1, False): np.uint8,
    (2, False): np.uint16,
    (4, False): np.uint32,
    (8, False): np.uint64,
}
_FLOAT_TYPES: dict[int, type[np.floating[Any]]] = {2: np.float16, 4: np.float32, 8: np.float64}
_FALLBACK = object()


def ctypes_reader(lib: Library) -> ScalarReader:
    """The scalar attribute reader on ``lib`` through ctypes (functions, memory types and
    buffers bound once, as locals, since this runs for every attribute of a file)."""
    open_by_idx, get_name, close = lib.H5Aopen_by_idx, lib.H5Aget_name, lib.H5Aclose
    get_space, extent_type, close_space = (
        lib.H5Aget_space,
        lib.H5Sget_simple_extent_type,
        lib.H5Sclose,
    )
    get_type, get_class, close_type = lib.H5Aget_type, lib.H5Tget_class, lib.H5Tclose
    is_variable_str, get_size, get_sign = lib.H5Tis_variable_str, lib.H5Tget_size, lib.H5Tget_sign
    read, free = lib.H5Aread, lib.H5free_memory
    text_type, double_type, int64_type, uint64_type = lib.text, lib.double, lib.int64, lib.uint64
    name_buffer = ctypes.create_string_buffer(_NAME_BUFFER)
    text, double = ctypes.c_char_p(), ctypes.c_double()
    int64, uint64 = ctypes.c_int64(), ctypes.c_uint64()
    probe = _lengths.STORED_LENGTHS.probe.id if _lengths.STORED_LENGTHS is not None else -1
    stored = ctypes.c_uint32()
    stored_ref = byref(stored)
    text_ref, double_ref, int64_ref, uint64_ref = (
        byref(text),
        byref(double),
        byref(int64),
        byref(uint64),
    )

    def read_scalar(aid: int, limit: int) -> Any:
        sid = get_space(aid)
        if sid < 0:
            return _FALLBACK
        scalar = extent_type(sid) == SPACE_SCALAR
        close_space(sid)
        if not scalar:
            return _FALLBACK
        tid = get_type(aid)
        if tid < 0:
            return _FALLBACK
        try:
            klass = get_class(tid)
            if klass == STRING and is_variable_str(tid) > 0:
                measured = limit > 0 and probe >= 0 and read(aid, probe, stored_ref) >= 0
                if measured and stored.value > limit:
                    return _FALLBACK  # for attributes.read_attribute to refuse, unread
                if read(aid, text_type, text_ref) < 0:
                    return _FALLBACK
                raw = text.value
                free(text)
                return raw.decode("utf-8", "surrogateescape") if raw is not None else ""
            if klass == FLOAT:
                kind: Any = _FLOAT_TYPES.get(get_size(tid))
                if kind is None or read(aid, double_type, double_ref) < 0:
                    return _FALLBACK
                return kind(double.value)
            if klass == INTEGER:
                if get_sign(tid) == UNSIGNED:
                    kind = _INT_TYPES.get((get_size(tid), False))
                    if kind is None or read(aid, uint64_type, uint64_ref) < 0:
                        return _FALLBACK
                    return kind(uint64.value)
                kind = _INT_TYPES.get((get_size(tid), True))
                if kind is None or read(aid, int64_type, int64_ref) < 0:
                    return _FALLBACK
                return kind(int64.value)
            return _FALLBACK
        finally:
            close_type(tid)

    def read_scalar_attributes(
        object_id: int, count: int, limit: int = 0, shared: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        values: dict[str, Any] = {}
        rest: list[str] = []
        for i in range(count):
            aid = open_by_idx(object_id, b".", INDEX_NAME, ITER_INC, i, 0, 0)
            if aid < 0:
                raise OSError(f"HDF5 could not open attribute {i} of object {object_id}")
            try:
                length = get_name(aid, _NAME_BUFFER, name_buffer)
                if length < 0:
                    raise OSError(f"HDF5 could not read the name of attribute {i}")
                raw = name_buffer.value if length < _NAME_BUFFER else _long_name(get_name, aid)
                value = read_scalar(aid, limit)
            finally:
                close(aid)
            name = raw.decode("utf-8", "surrogateescape")
            if shared is not None:
                name = shared.setdefault(name, name)
                if type(value) is str and len(value) <= SHARED_TEXT_LENGTH:
                    value = shared.setdefault(value, value)
            if value is _FALLBACK:
                values[name] = None  # keeps its place in name order until h5py reads it
                rest.append(name)
            else:
                values[name] = value
        return values, rest

    return read_scalar_attributes


def _long_name(get_name: Any, aid: int) -> bytes:
    """The name of an attribute too long for the reused buffer."""
    length = get_name(aid, 0, None)
    buffer = ctypes.create_string_buffer(length + 1)
    get_name(aid, length + 1, buffer)
    return bytes(buffer.value)


def compiled_reader(lib: Library) -> ScalarReader | None:
    """The compiled twin of the ctypes reader, bound to ``lib``; ``None`` if not built."""
    try:
        from h5model.hdf5._native import _fastattrs  # type: ignore[attr-defined]
    except ImportError:
        return None
    numpy_types: dict[tuple[int, int, int], Any] = {
        (INTEGER, size, int(signed)): kind for (size, signed), kind in _INT_TYPES.items()
    }
    numpy_types.update({(FLOAT, size, 1): kind for size, kind in _FLOAT_TYPES.items()})
    memory_types = {"double": lib.double, "int64": lib.int64, "uint64": lib.uint64}
    memory_types["text"] = lib.text
    constants = {
        "STRING": STRING,
        "FLOAT": FLOAT,
        "INTEGER": INTEGER,
        "UNSIGNED": UNSIGNED,
        "SPACE_SCALAR": SPACE_SCALAR,
        "INDEX_NAME": INDEX_NAME,
        "ITER_INC": ITER_INC,
    }
    try:
        _fastattrs.init(lib.addresses(READER_FUNCTIONS), memory_types, constants, numpy_types)
    except (OSError, ValueError, TypeError):
        return None
    reader: ScalarReader = _fastattrs.read_scalar_attributes
    return reader


def _readers(lib: Library | None) -> dict[str, ScalarReader]:
    if lib is None or not lib.has(READER_FUNCTIONS):
        return {}
    found: dict[str, ScalarReader] = {}
    compiled = compiled_reader(lib)
    if compiled is not None:
        found["c"] = compiled
    found["ctypes"] = ctypes_reader(lib)
    return found


READERS = _readers(_library.LIBRARY)
"""The scalar readers that can run here: ``"c"`` (if built), ``"ctypes"``."""
ACTIVE = next(
    (path for path in ("c", "ctypes") if path in READERS and _library.REQUESTED in ("c", path)),
    "h5py",
)
"""The path that reads attributes: the one asked for, or the next available after it."""
