"""Attributes copied through the HDF5 C library that h5py has already loaded.

A file of 6,000 objects has 25,000 attributes; through h5py each one costs
several Python ID objects (about 100 microseconds), straight through the
library a few C calls (about 35). Values are copied as stored, in the
attribute's own datatype, so nothing is converted: variable-length data is
read into library-allocated memory, written back and reclaimed. Attributes
holding references are handed back to the caller in their turn, which points
them at the copy's objects. Names keep their character set: each attribute is
created with the source attribute's own creation properties. Where the library
cannot be bound, or ``H5MODEL_NATIVE=h5py`` asks for h5py only, ``ENABLED`` is
false and the caller copies everything through h5py. Where the compiled module is
built and chosen (``H5MODEL_NATIVE`` unset or ``c``), its ``copy_attributes`` makes
the same calls without a Python-level call per HDF5 function (``COMPILED``).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from h5model.hdf5._native import read_attrs
from h5model.hdf5._native.library import (
    COPIER_FUNCTIONS,
    DEFAULT,
    INDEX_CRT_ORDER,
    ITER_INC,
    ITER_NATIVE,
    LIBRARY,
    LOCK,
    REFERENCE,
    SPACE_NULL,
    STRING,
    VLEN,
    Library,
)

ENABLED = LIBRARY is not None and LOCK is not None and LIBRARY.has(COPIER_FUNCTIONS)
"""Whether ``copy_attributes`` may run (else the caller copies through h5py)."""

Copier = Callable[[int, int, int, int, int, Callable[[int], None]], None]
"""(source, target, index type, iteration order, count, through_h5py) -> None."""


def _compiled() -> Copier | None:
    if not ENABLED or read_attrs.ACTIVE != "c":
        return None
    assert LIBRARY is not None
    try:
        from h5model.hdf5._native import _fastattrs  # type: ignore[attr-defined]

        _fastattrs.init_copy(LIBRARY.addresses(COPIER_FUNCTIONS), {
            "REFERENCE": REFERENCE, "VLEN": VLEN, "STRING": STRING, "SPACE_NULL": SPACE_NULL,
        })
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        return None  # an older build without the copier: the ctypes path does it
    copier: Copier = _fastattrs.copy_attributes
    return copier


COMPILED: Copier | None = _compiled()
"""The compiled copier, or None where the ctypes path copies."""


def copy_attributes(
    source: int, target: int, order: int, count: int, through_h5py: Callable[[int], None]
) -> None:
    """Copy the attributes of the object ``source`` to ``target`` (raw identifiers), one
    after the other: in creation order where ``order`` (an HDF5 index type) says it is
    tracked, else in the order they are stored. Those holding references go, in their
    turn, to ``through_h5py`` (their position), so the copy keeps the source's order."""
    assert LIBRARY is not None and LOCK is not None
    lib = LIBRARY
    with LOCK:  # re-entrant: h5py takes it again inside ``through_h5py``
        if COMPILED is not None:
            walk = ITER_INC if order == INDEX_CRT_ORDER else ITER_NATIVE
            COMPILED(source, target, order, walk, count, through_h5py)
            return
        for position in range(count):
            if not _copy_one(lib, source, target, order, position):
                through_h5py(position)


def _check(status: int, what: str) -> int:
    if status < 0:
        raise OSError(f"HDF5 could not {what}")
    return status


def _copy_one(lib: Library, source: int, target: int, order: int, position: int) -> bool:
    walk = ITER_INC if order == INDEX_CRT_ORDER else ITER_NATIVE
    attribute = _check(
        lib.H5Aopen_by_idx(source, b".", order, walk, position, DEFAULT, DEFAULT),
        "open an attribute",
    )
    handles: list[tuple[Any, int]] = [(lib.H5Aclose, attribute)]
    try:
        dtype = _check(lib.H5Aget_type(attribute), "read an attribute's datatype")
        handles.append((lib.H5Tclose, dtype))
        if lib.H5Tdetect_class(dtype, REFERENCE) > 0:
            return False
        length = _check(lib.H5Aget_name(attribute, 0, None), "read an attribute's name")
        name = ctypes.create_string_buffer(length + 1)
        lib.H5Aget_name(attribute, length + 1, name)
        space = _check(lib.H5Aget_space(attribute), "read an attribute's shape")
        handles.append((lib.H5Sclose, space))
        plist = _check(lib.H5Aget_create_plist(attribute), "read an attribute's properties")
        handles.append((lib.H5Pclose, plist))
        created = _check(
            lib.H5Acreate2(target, name.value, dtype, space, plist, DEFAULT), "create an attribute"
        )
        handles.append((lib.H5Aclose, created))
        if lib.H5Sget_simple_extent_type(space) == SPACE_NULL:
            return True
        size = lib.H5Sget_simple_extent_npoints(space) * lib.H5Tget_size(dtype)
        if size <= 0:
            return True
        buffer = ctypes.create_string_buffer(size)
        _check(lib.H5Aread(attribute, dtype, buffer), "read an attribute")
        try:
            _check(lib.H5Awrite(created, dtype, buffer), "write an attribute")
        finally:
            if lib.H5Tdetect_class(dtype, VLEN) > 0 or lib.H5Tdetect_class(dtype, STRING) > 0:
                lib.H5Treclaim(dtype, space, DEFAULT, buffer)
        return True
    finally:
        for close, handle in reversed(handles):
            close(handle)
