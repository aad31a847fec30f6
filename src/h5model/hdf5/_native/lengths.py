"""The stored length of variable-length text, learned without reading the text.

HDF5 reads a variable-length text attribute whole, and copies it several times on the
way (a 200 MB text costs over 1 GB), before anyone can look at its size: a limit checked
afterwards comes too late. But a conversion HDF5 runs is handed each element in its
stored form, a 4-byte length followed by where the text lies in the file; so reading an
attribute with a memory type of our own, for which a conversion of ours is registered
(``_fastattrs.stored_lengths``, or its ctypes twin below), yields the lengths and reads
no text. The conversion is registered once, for text to an opaque type tagged with
``TAG`` only, so no other conversion of the process is touched.
"""

from __future__ import annotations

import atexit
import ctypes
from ctypes import c_int, c_size_t, c_void_p
from typing import Any

import numpy as np
from h5py import h5t

from h5model.hdf5._native import library as _library
from h5model.hdf5._native.library import HID, Library

TAG = b"h5model: stored lengths of variable-length text"
"""Must equal ``LENGTHS_TAG`` in ``_fastattrs.c``."""
_NAME = b"h5model stored text lengths"
_SOFT = 1  # H5T_PERS_SOFT: chosen by the classes of the two types (string -> opaque)
_INIT, _CONVERT = 0, 1  # H5T_cmd_t
LENGTH_FUNCTIONS = ("H5Tget_tag", "H5free_memory", "H5Tis_variable_str", "H5Tget_size")
"""What the conversion calls (the compiled one receives their addresses)."""

Conversion = ctypes.CFUNCTYPE(
    c_int, HID, HID, c_void_p, c_size_t, c_size_t, c_size_t, c_void_p, c_void_p, HID
)
"""``H5T_conv_t``."""


def _ctypes_conversion(lib: Library) -> Any:
    """The conversion through ctypes, for when ``_fastattrs`` is not built."""

    def convert(src: int, dst: int, cdata: int, count: int, stride: int, _bstride: int,
                buffer: int, _background: int, _transfer: int) -> int:
        command = ctypes.c_int.from_address(cdata).value
        if command == _INIT:
            tag = lib.H5Tget_tag(dst)
            ours = bool(tag) and ctypes.string_at(tag) == TAG
            if tag:
                lib.H5free_memory(tag)
            return 0 if ours and lib.H5Tis_variable_str(src) > 0 else -1
        if command == _CONVERT:
            size = stride or lib.H5Tget_size(src)
            if size < 4:
                return -1
            stored = ctypes.string_at(buffer, size * count)
            lengths = (ctypes.c_uint32 * count).from_address(buffer)
            for i in range(count):
                lengths[i] = int.from_bytes(stored[i * size : i * size + 4], "little")
        return 0

    return Conversion(convert)


class StoredLengths:
    """The registered conversion and its probe type, for one bound library."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        assert _library.LOCK is not None  # a bound library implies h5py's lock was found
        self.lock = _library.LOCK
        self.probe = h5t.create(h5t.OPAQUE, 4)
        self.probe.set_tag(TAG)
        self._callback: Any = None
        address = self._compiled(lib)
        if address is None:
            self._callback = _ctypes_conversion(lib)
            address = ctypes.cast(self._callback, c_void_p).value
        self.address = address
        text = h5t.C_S1.copy()
        text.set_size(h5t.VARIABLE)
        self._text = text
        with self.lock:
            if lib.H5Tregister(_SOFT, _NAME, text.id, self.probe.id, address) < 0:
                raise OSError("HDF5 refused the stored-lengths conversion")
        atexit.register(self.unregister)

    def _compiled(self, lib: Library) -> int | None:
        try:
            from h5model.hdf5._native import _fastattrs  # type: ignore[attr-defined]
        except ImportError:
            return None
        try:
            address: int = _fastattrs.lengths_conversion(
                lib.addresses(LENGTH_FUNCTIONS), self.probe.id
            )
        except (ValueError, TypeError):
            return None
        return address

    def unregister(self) -> None:
        """Take the conversion out before the interpreter goes: HDF5 calls every registered
        conversion once more when it shuts down, after Python has."""
        with self.lock:
            self.lib.H5Tunregister(_SOFT, _NAME, self._text.id, self.probe.id, self.address)

    def of(self, aid: Any, count: int) -> np.ndarray | None:
        """The stored byte lengths of the ``count`` texts of attribute ``aid`` (None when
        HDF5 declines the probe)."""
        out = np.zeros(max(count, 1), dtype=np.uint32)
        with self.lock:
            status = self.lib.H5Aread(aid.id, self.probe.id, out.ctypes.data)
        return out[:count] if status >= 0 else None


def _register(lib: Library | None) -> StoredLengths | None:
    if lib is None or not lib.has((*LENGTH_FUNCTIONS, "H5Tregister", "H5Tunregister", "H5Aread")):
        return None
    try:
        return StoredLengths(lib)
    except (OSError, ValueError, TypeError):
        return None


STORED_LENGTHS = _register(_library.LIBRARY)
"""The probe of stored text lengths; None where the library is not bound (the h5py path):
text is then measured after it is read."""
