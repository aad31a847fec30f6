"""Scalar attributes read through the HDF5 C library that h5py has already loaded.

Every h5py call creates Python ID objects (an attribute, its type, its
dataspace) and registers each in a weak dictionary; for the 20,000+ mostly
scalar text and number attributes of a typical NWB file that is most of the
time spent opening it. Here the common cases (scalar variable-length text,
scalar integers and floats) go straight to ``H5Aread`` through ctypes, on the
very library h5py uses; anything else returns ``None`` so the caller falls back
to h5py. Where the library cannot be found (no ``/proc/self/maps``), ``LIB``
is ``None`` and h5py does everything.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import byref, c_char_p, c_int, c_int64, c_size_t, c_ssize_t, c_uint64, c_void_p
from typing import Any

import h5py  # noqa: F401 - loads the library we bind to
import numpy as np

_HID = c_int64
_STRING, _FLOAT, _INTEGER = 3, 1, 0
_CSET_UTF8 = 1
_NAME_BUFFER = 1024


def _find_library() -> tuple[ctypes.CDLL, str] | None:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                name = path.rsplit("/", 1)[-1]
                if name.startswith("libhdf5") and ".so" in name and "hl" not in name:
                    return ctypes.CDLL(path), path
    except OSError:
        return None
    return None


def bind_function(lib: ctypes.CDLL, name: str, restype: Any, *argtypes: Any) -> Any:
    """A function of ``lib`` with its result and argument types declared."""
    function = getattr(lib, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


class _Lib:
    def __init__(self, lib: ctypes.CDLL) -> None:
        def bind(name: str, restype: Any, *argtypes: Any) -> Any:
            return bind_function(lib, name, restype, *argtypes)

        lib.H5open()
        self.open_by_idx = bind(
            "H5Aopen_by_idx", _HID, _HID, c_char_p, c_int, c_int, c_uint64, _HID, _HID
        )
        self.get_name = bind("H5Aget_name", c_ssize_t, _HID, c_size_t, c_char_p)
        self.get_type = bind("H5Aget_type", _HID, _HID)
        self.get_class = bind("H5Tget_class", c_int, _HID)
        self.is_variable_str = bind("H5Tis_variable_str", c_int, _HID)
        self.get_size = bind("H5Tget_size", c_size_t, _HID)
        self.get_sign = bind("H5Tget_sign", c_int, _HID)
        self.get_space = bind("H5Aget_space", _HID, _HID)
        self.ndims = bind("H5Sget_simple_extent_ndims", c_int, _HID)
        self.extent_type = bind("H5Sget_simple_extent_type", c_int, _HID)
        self.read = bind("H5Aread", c_int, _HID, _HID, c_void_p)
        self.close_type = bind("H5Tclose", c_int, _HID)
        self.close_space = bind("H5Sclose", c_int, _HID)
        self.close_attr = bind("H5Aclose", c_int, _HID)
        self.free = bind("H5free_memory", c_int, c_void_p)
        copy = bind("H5Tcopy", _HID, _HID)
        set_size = bind("H5Tset_size", c_int, _HID, c_size_t)
        set_cset = bind("H5Tset_cset", c_int, _HID, c_int)
        self.double = _HID.in_dll(lib, "H5T_NATIVE_DOUBLE_g").value
        self.int64 = _HID.in_dll(lib, "H5T_NATIVE_INT64_g").value
        self.uint64 = _HID.in_dll(lib, "H5T_NATIVE_UINT64_g").value
        self.text = copy(_HID.in_dll(lib, "H5T_C_S1_g").value)
        set_size(self.text, ctypes.c_size_t(-1).value)  # H5T_VARIABLE
        set_cset(self.text, _CSET_UTF8)
        self.name_buffer = ctypes.create_string_buffer(_NAME_BUFFER)
        self.pointer = c_char_p()
        self.double_value = ctypes.c_double()
        self.int_value = ctypes.c_int64()
        self.uint_value = ctypes.c_uint64()


_found = _find_library()
_raw = _found[0] if _found is not None else None
LIB: _Lib | None = _Lib(_raw) if _raw is not None else None

_INT_TYPES = {
    (1, 1): np.int8,
    (2, 1): np.int16,
    (4, 1): np.int32,
    (8, 1): np.int64,
    (1, 0): np.uint8,
    (2, 0): np.uint16,
    (4, 0): np.uint32,
    (8, 0): np.uint64,
}
_FLOAT_TYPES = {4: np.float32, 8: np.float64, 2: np.float16}
_FALLBACK = object()


def _load_extension() -> Any:
    """The compiled twin of ``read_scalar_attributes`` (optional; built with the package)."""
    if LIB is None or _found is None or os.environ.get("H5MODEL_NO_EXTENSION"):
        return None
    try:
        from h5model.hdf5._native import _fastattrs  # type: ignore[attr-defined]
    except ImportError:
        return None
    types: dict[tuple[int, int, int], Any] = {
        (_INTEGER, size, 1 if signed else 0): kind for (size, signed), kind in _INT_TYPES.items()
    }
    types.update({(_FLOAT, size, 1): kind for size, kind in _FLOAT_TYPES.items()})
    try:
        _fastattrs.init(_found[1], LIB.double, LIB.int64, LIB.uint64, LIB.text, types)
    except OSError:
        return None
    return _fastattrs


def read_scalar_attributes(object_id: int, count: int) -> tuple[dict[str, Any], list[str]]:
    """(values read here, names left for h5py) for the attributes of the object ``object_id``."""
    if EXTENSION is not None:
        result: tuple[dict[str, Any], list[str]] = EXTENSION.read_scalar_attributes(
            object_id, count
        )
        return result
    assert LIB is not None
    lib = LIB
    values: dict[str, Any] = {}
    rest: list[str] = []
    for i in range(count):
        aid = lib.open_by_idx(object_id, b".", 0, 0, i, 0, 0)
        if aid < 0:
            raise OSError(f"cannot open attribute {i}")
        try:
            if lib.get_name(aid, _NAME_BUFFER, lib.name_buffer) >= _NAME_BUFFER - 1:
                raise OSError("attribute name too long for the fast path")
            name = lib.name_buffer.value.decode("utf-8", "surrogateescape")
            value = _read_scalar(lib, aid)
        finally:
            lib.close_attr(aid)
        if value is _FALLBACK:
            rest.append(name)
        else:
            values[name] = value
    return values, rest


def _read_scalar(lib: _Lib, aid: int) -> Any:
    sid = lib.get_space(aid)
    try:
        if lib.extent_type(sid) != 0 or lib.ndims(sid) != 0:  # 0 = H5S_SCALAR
            return _FALLBACK
    finally:
        lib.close_space(sid)
    tid = lib.get_type(aid)
    try:
        klass = lib.get_class(tid)
        if klass == _STRING and lib.is_variable_str(tid) > 0:
            if lib.read(aid, lib.text, byref(lib.pointer)) < 0:
                return _FALLBACK
            raw = lib.pointer.value
            lib.free(lib.pointer)
            return raw.decode("utf-8", "surrogateescape") if raw is not None else ""
        kind: Any
        if klass == _FLOAT:
            kind = _FLOAT_TYPES.get(lib.get_size(tid))
            if kind is None or lib.read(aid, lib.double, byref(lib.double_value)) < 0:
                return _FALLBACK
            return kind(lib.double_value.value)
        if klass == _INTEGER:
            key = (lib.get_size(tid), lib.get_sign(tid))
            kind = _INT_TYPES.get(key)
            if kind is None:
                return _FALLBACK
            if key[1] == 0:
                if lib.read(aid, lib.uint64, byref(lib.uint_value)) < 0:
                    return _FALLBACK
                return kind(lib.uint_value.value)
            if lib.read(aid, lib.int64, byref(lib.int_value)) < 0:
                return _FALLBACK
            return kind(lib.int_value.value)
        return _FALLBACK
    finally:
        lib.close_type(tid)


EXTENSION = _load_extension()
