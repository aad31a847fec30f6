"""Attributes copied through the HDF5 C library that h5py has already loaded.

A file of 6,000 objects has 25,000 attributes; through h5py each one costs
several Python ID objects (about 100 microseconds), straight through the
library a few C calls (about 35). Values are copied as stored, in the
attribute's own datatype, so nothing is converted: variable-length data is
read into library-allocated memory, written back and reclaimed. Attributes
holding references are left to the caller, which points them at the copy's
objects. Where the library cannot be found, ``LIBRARY`` is ``None`` and the
caller copies everything through h5py.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char_p, c_int, c_int64, c_size_t, c_ssize_t, c_uint64, c_void_p
from typing import Any

from h5py._objects import phil

from h5model.hdf5._native.libhdf5 import _find_library, bind_function

_HID = c_int64
_DEFAULT = 0
_CLASS_STRING, _CLASS_REFERENCE, _CLASS_VLEN = 3, 7, 9
_SPACE_NULL = 2
_CSET_UTF8 = 1
_INCREASING, _NATIVE = 0, 2
"""H5_ITER_INC, H5_ITER_NATIVE (the order the attributes sit in the object header)."""
_BY_CREATION = 1


class _Library:
    def __init__(self, lib: ctypes.CDLL) -> None:
        def bind(name: str, restype: Any, *argtypes: Any) -> Any:
            return bind_function(lib, name, restype, *argtypes)

        self.open_by_idx = bind(
            "H5Aopen_by_idx", _HID, _HID, c_char_p, c_int, c_int, c_uint64, _HID, _HID
        )
        self.get_name = bind("H5Aget_name", c_ssize_t, _HID, c_size_t, c_char_p)
        self.get_type = bind("H5Aget_type", _HID, _HID)
        self.get_space = bind("H5Aget_space", _HID, _HID)
        self.create = bind("H5Acreate2", _HID, _HID, c_char_p, _HID, _HID, _HID, _HID)
        self.read = bind("H5Aread", c_int, _HID, _HID, c_void_p)
        self.write = bind("H5Awrite", c_int, _HID, _HID, c_void_p)
        self.points = bind("H5Sget_simple_extent_npoints", c_ssize_t, _HID)
        self.extent_type = bind("H5Sget_simple_extent_type", c_int, _HID)
        self.size = bind("H5Tget_size", c_size_t, _HID)
        self.detect = bind("H5Tdetect_class", c_int, _HID, c_int)
        self.reclaim = bind("H5Treclaim", c_int, _HID, _HID, _HID, c_void_p)
        self.close_attribute = bind("H5Aclose", c_int, _HID)
        self.close_type = bind("H5Tclose", c_int, _HID)
        self.close_space = bind("H5Sclose", c_int, _HID)
        create_plist = bind("H5Pcreate", _HID, _HID)
        set_encoding = bind("H5Pset_char_encoding", c_int, _HID, c_int)
        self.utf8 = create_plist(_HID.in_dll(lib, "H5P_CLS_ATTRIBUTE_CREATE_ID_g").value)
        set_encoding(self.utf8, _CSET_UTF8)


def _load() -> _Library | None:
    found = _find_library()
    if found is None:
        return None
    try:
        return _Library(found[0])
    except (AttributeError, ValueError, OSError):
        return None


LIBRARY = _load()


def copy_attributes(source: int, target: int, order: int, count: int) -> list[int]:
    """Copy the attributes of the object ``source`` to ``target`` (raw identifiers): in
    creation order where ``order`` (an HDF5 index type) says it is tracked, else in the
    order they are stored; return the positions of those holding references."""
    assert LIBRARY is not None
    lib = LIBRARY
    left: list[int] = []
    with phil:
        for position in range(count):
            if not _copy_one(lib, source, target, order, position):
                left.append(position)
    return left


def _check(status: int, what: str) -> int:
    if status < 0:
        raise OSError(f"HDF5 could not {what}")
    return status


def _copy_one(lib: _Library, source: int, target: int, order: int, position: int) -> bool:
    walk = _INCREASING if order == _BY_CREATION else _NATIVE
    attribute = _check(
        lib.open_by_idx(source, b".", order, walk, position, _DEFAULT, _DEFAULT),
        "open an attribute",
    )
    handles: list[tuple[Any, int]] = [(lib.close_attribute, attribute)]
    try:
        dtype = _check(lib.get_type(attribute), "read an attribute's datatype")
        handles.append((lib.close_type, dtype))
        if lib.detect(dtype, _CLASS_REFERENCE) > 0:
            return False
        length = _check(lib.get_name(attribute, 0, None), "read an attribute's name")
        name = ctypes.create_string_buffer(length + 1)
        lib.get_name(attribute, length + 1, name)
        space = _check(lib.get_space(attribute), "read an attribute's shape")
        handles.append((lib.close_space, space))
        plist = lib.utf8 if any(b > 127 for b in name.value) else _DEFAULT
        created = _check(
            lib.create(target, name.value, dtype, space, plist, _DEFAULT), "create an attribute"
        )
        handles.append((lib.close_attribute, created))
        if lib.extent_type(space) == _SPACE_NULL:
            return True
        size = lib.points(space) * lib.size(dtype)
        if size <= 0:
            return True
        buffer = ctypes.create_string_buffer(size)
        _check(lib.read(attribute, dtype, buffer), "read an attribute")
        try:
            _check(lib.write(created, dtype, buffer), "write an attribute")
        finally:
            if lib.detect(dtype, _CLASS_VLEN) > 0 or lib.detect(dtype, _CLASS_STRING) > 0:
                lib.reclaim(dtype, space, _DEFAULT, buffer)
        return True
    finally:
        for close, handle in reversed(handles):
            close(handle)
