"""The HDF5 C library h5py has loaded, bound once for every native path of h5model.

h5py wraps each HDF5 call in Python ID objects; for the tens of thousands of small
attributes of an NWB file that costs more than the HDF5 work itself. The attribute
reader (``read_attrs.py`` and its compiled twin ``_fastattrs.c``) and the attribute
copier of truncation (``copy_attrs.py``) therefore call the library directly, through
this one table of functions with their C signatures. It binds the very library h5py
uses (found by ``locate.py``, checked to share h5py's identifiers), so identifiers made
by h5py are valid here and the other way round.

Which path reads attributes is chosen once, at import, from ``H5MODEL_NATIVE``:

- ``c``: the compiled reader, if it was built (else as ``ctypes``);
- ``ctypes``: the same calls through ctypes (also the attribute copier);
- ``h5py``: no direct calls at all, h5py does everything.

Unset, the fastest available path is used. Where the library cannot be found or
bound, ``LIBRARY`` is ``None`` and h5py does everything.
"""

from __future__ import annotations

import ctypes
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from ctypes import c_char_p, c_int, c_int64, c_size_t, c_ssize_t, c_uint64, c_void_p
from typing import TYPE_CHECKING, Any

from h5py import h5, h5i, h5p, h5s, h5t

from h5model.hdf5._native.locate import loaded_libraries

# -- HDF5 constants, as h5py exports them -------------------------------------------------------
HID = c_int64
"""``hid_t``: 64-bit since HDF5 1.10, the oldest HDF5 h5py>=3.10 supports."""
STRING, FLOAT, INTEGER = int(h5t.STRING), int(h5t.FLOAT), int(h5t.INTEGER)
REFERENCE, VLEN = int(h5t.REFERENCE), int(h5t.VLEN)
UNSIGNED = int(h5t.SGN_NONE)
SPACE_SCALAR, SPACE_NULL = int(h5s.SCALAR), int(h5s.NULL)
ITER_INC, ITER_NATIVE = int(h5.ITER_INC), int(h5.ITER_NATIVE)
INDEX_NAME, INDEX_CRT_ORDER = int(h5.INDEX_NAME), int(h5.INDEX_CRT_ORDER)
DEFAULT = 0
"""``H5P_DEFAULT``: h5py exposes it as ``None`` (its Python stand-in), the C value is 0."""

NATIVE_PATHS = ("c", "ctypes", "h5py")
"""The values ``H5MODEL_NATIVE`` accepts, fastest first."""

class Token(ctypes.Structure):
    """``H5O_token_t``: an object's identity in its file, 16 bytes passed by value."""

    _fields_ = [("data", ctypes.c_ubyte * 16)]


# -- the functions, with their C signatures -----------------------------------------------------
SIGNATURES: dict[str, tuple[Any, ...]] = {
    # name: (result, *arguments)
    "H5open": (c_int,),
    "H5Iis_valid": (c_int, HID),
    "H5Iinc_ref": (c_int, HID),
    "H5Idec_ref": (c_int, HID),
    "H5Aopen_by_idx": (HID, HID, c_char_p, c_int, c_int, c_uint64, HID, HID),
    "H5Aget_name": (c_ssize_t, HID, c_size_t, c_char_p),
    "H5Aget_type": (HID, HID),
    "H5Aget_space": (HID, HID),
    "H5Acreate2": (HID, HID, c_char_p, HID, HID, HID, HID),
    "H5Aread": (c_int, HID, HID, c_void_p),
    "H5Awrite": (c_int, HID, HID, c_void_p),
    "H5Aclose": (c_int, HID),
    "H5Tget_class": (c_int, HID),
    "H5Tis_variable_str": (c_int, HID),
    "H5Tget_size": (c_size_t, HID),
    "H5Tget_sign": (c_int, HID),
    "H5Tdetect_class": (c_int, HID, c_int),
    "H5Treclaim": (c_int, HID, HID, HID, c_void_p),
    "H5Tclose": (c_int, HID),
    "H5Sget_simple_extent_type": (c_int, HID),
    "H5Sget_simple_extent_npoints": (c_ssize_t, HID),
    "H5Sclose": (c_int, HID),
    "H5Aget_create_plist": (HID, HID),
    "H5Pclose": (c_int, HID),
    "H5free_memory": (c_int, c_void_p),
    "H5Tget_tag": (c_void_p, HID),
    "H5Tregister": (c_int, c_int, c_char_p, HID, HID, c_void_p),
    "H5Tunregister": (c_int, c_int, c_char_p, HID, HID, c_void_p),
    "H5Oopen": (HID, HID, c_char_p, HID),
    "H5Oclose": (c_int, HID),
    "H5Iget_type": (c_int, HID),
    "H5Dget_space": (HID, HID),
    "H5Dget_type": (HID, HID),
    "H5Sget_simple_extent_ndims": (c_int, HID),
    "H5Sget_simple_extent_dims": (c_int, HID, c_void_p, c_void_p),
    "H5Tget_order": (c_int, HID),
    "H5Tget_cset": (c_int, HID),
    "H5Aget_num_attrs": (c_int, HID),
    "H5Oget_info3": (c_int, HID, c_void_p, ctypes.c_uint),
    "H5Literate2": (c_int, HID, c_int, c_int, c_void_p, c_void_p, c_void_p),
    "H5VLnative_token_to_addr": (c_int, HID, Token, ctypes.POINTER(c_uint64)),
    "H5Dread": (c_int, HID, HID, HID, HID, HID, c_void_p),
    "H5Dwrite": (c_int, HID, HID, HID, HID, HID, c_void_p),
    "H5Gopen2": (HID, HID, c_char_p, HID),
    "H5Gcreate2": (HID, HID, c_char_p, HID, HID, HID),
    "H5Gclose": (c_int, HID),
    "H5Gget_create_plist": (HID, HID),
    "H5Dopen2": (HID, HID, c_char_p, HID),
    "H5Dcreate2": (HID, HID, c_char_p, HID, HID, HID, HID, HID),
    "H5Dclose": (c_int, HID),
    "H5Dget_create_plist": (HID, HID),
    "H5Pget_layout": (c_int, HID),
    "H5Pget_chunk": (c_int, HID, c_int, c_void_p),
    "H5Pset_chunk": (c_int, HID, c_int, c_void_p),
    "H5Pget_external_count": (c_int, HID),
    "H5Pget_nfilters": (c_int, HID),
    "H5Pget_filter2": (c_int, HID, ctypes.c_uint, c_void_p, c_void_p, c_void_p, c_size_t,
                       c_void_p, c_void_p),
    "H5Zfilter_avail": (c_int, c_int),
    "H5Pget_attr_creation_order": (c_int, HID, c_void_p),
    "H5Pset_obj_track_times": (c_int, HID, ctypes.c_bool),
    "H5Ocopy": (c_int, HID, c_char_p, HID, c_char_p, HID, HID),
    "H5Screate_simple": (HID, c_int, c_void_p, c_void_p),
    "H5Sselect_hyperslab": (c_int, HID, c_int, c_void_p, c_void_p, c_void_p, c_void_p),
    "H5Tcopy": (HID, HID),
    "H5Lget_info2": (c_int, HID, c_char_p, c_void_p, HID),
}

READER_FUNCTIONS = (
    "H5Aopen_by_idx",
    "H5Aget_name",
    "H5Aget_type",
    "H5Aget_space",
    "H5Aread",
    "H5Aclose",
    "H5Tget_class",
    "H5Tis_variable_str",
    "H5Tget_size",
    "H5Tget_sign",
    "H5Tclose",
    "H5Sget_simple_extent_type",
    "H5Sclose",
    "H5free_memory",
)
"""What the attribute reader calls (the compiled one receives their addresses)."""

COPIER_FUNCTIONS = (
    "H5Aopen_by_idx",
    "H5Aget_name",
    "H5Aget_type",
    "H5Aget_space",
    "H5Acreate2",
    "H5Aread",
    "H5Awrite",
    "H5Aclose",
    "H5Tget_size",
    "H5Tdetect_class",
    "H5Treclaim",  # HDF5 >= 1.12: on 1.10 the copier leaves everything to h5py
    "H5Tclose",
    "H5Sget_simple_extent_type",
    "H5Sget_simple_extent_npoints",
    "H5Sclose",
    "H5Aget_create_plist",
    "H5Pclose",
)
"""What the attribute copier calls."""

WALK_FUNCTIONS = (
    "H5Oopen",
    "H5Oclose",
    "H5Iget_type",
    "H5Dget_space",
    "H5Dget_type",
    "H5Sget_simple_extent_ndims",
    "H5Sget_simple_extent_dims",
    "H5Tget_order",
    "H5Tget_cset",
    "H5Aget_num_attrs",
    "H5Oget_info3",
)
"""What the compiled traversal step (``scan_object``) calls besides the attribute reader."""

GROUP_WALK_FUNCTIONS = ("H5Literate2", "H5VLnative_token_to_addr", "H5Dread")
"""What the compiled group step (``scan_group``) calls besides ``WALK_FUNCTIONS``."""

MEMBER_COPY_FUNCTIONS = (
    "H5Gopen2", "H5Gcreate2", "H5Gclose", "H5Gget_create_plist",
    "H5Dopen2", "H5Dcreate2", "H5Dclose", "H5Dget_create_plist", "H5Dwrite",
    "H5Pget_layout", "H5Pget_chunk", "H5Pset_chunk", "H5Pget_external_count",
    "H5Pget_nfilters", "H5Pget_filter2", "H5Zfilter_avail", "H5Pget_attr_creation_order",
    "H5Pset_obj_track_times", "H5Ocopy", "H5Screate_simple", "H5Sselect_hyperslab",
    "H5Tcopy", "H5Lget_info2",
)
"""What truncation's compiled step per group (``copy_members``) calls besides the walk's,
the group walk's and the attribute copier's functions."""


def h5py_lock() -> AbstractContextManager[Any] | None:
    """h5py's global lock (``phil``), which a direct call into the library must hold.

    HDF5 as h5py ships it is not thread-safe, so h5py serialises its own calls with this
    lock; a direct call made while another thread is inside h5py would corrupt the
    library's state, so the native paths take the same lock. It is private to h5py: if a
    future h5py moves it, this returns ``None`` and the native paths stay off (h5py then
    does everything, slower but safe). This is the only place that reaches for it."""
    try:
        from h5py._objects import phil
    except ImportError:
        return None
    return phil if hasattr(phil, "__enter__") and hasattr(phil, "__exit__") else None


class Library:
    """The functions of one loaded HDF5 library, as attributes named after them, plus
    the identifiers the attribute reader passes as memory types."""

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self.path = path
        self.missing: set[str] = set()
        for name, (result, *arguments) in SIGNATURES.items():
            try:
                function = getattr(lib, name)
            except AttributeError:
                self.missing.add(name)
                continue
            function.restype, function.argtypes = result, arguments
            setattr(self, name, function)
        if self.missing & {"H5open", "H5Iis_valid", "H5Iinc_ref", "H5Idec_ref"}:
            raise OSError(f"{path} lacks {sorted(self.missing)}")
        self.H5open()
        # h5py's own identifiers for the memory types: valid here because the library is
        # shared, and kept alive by these Python objects.
        self.double = h5t.NATIVE_DOUBLE.id
        self.int64 = h5t.NATIVE_INT64.id
        self.uint64 = h5t.NATIVE_UINT64.id
        self._text = h5t.C_S1.copy()
        self._text.set_size(h5t.VARIABLE)
        self._text.set_cset(h5t.CSET_UTF8)
        self.text = self._text.id
        """Variable-length UTF-8 text, the memory type of text attributes read here."""

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            """The bound function ``name`` (set in ``__init__`` from ``SIGNATURES``)."""

    def has(self, names: Iterable[str]) -> bool:
        """Whether every function in ``names`` is bound."""
        return not self.missing.intersection(names)

    def addresses(self, names: Iterable[str]) -> dict[str, int]:
        """name -> address of each function, for the compiled reader to call directly."""
        return {name: ctypes.cast(getattr(self, name), c_void_p).value or 0 for name in names}

    def shares_identifiers_with_h5py(self) -> bool:
        """Whether this is the library h5py uses: a reference taken here on an identifier
        h5py made shows in h5py's count (another copy of HDF5 has its own identifiers)."""
        probe = h5p.create(h5p.FILE_ACCESS)
        before = h5i.get_ref(probe)
        if self.H5Iis_valid(probe.id) <= 0 or self.H5Iinc_ref(probe.id) < 0:
            return False
        try:
            return bool(h5i.get_ref(probe) == before + 1)
        finally:
            self.H5Idec_ref(probe.id)


def _open_loaded(path: str) -> ctypes.CDLL:
    """A handle on the already-loaded library at ``path``, never a fresh copy: POSIX
    ``RTLD_NOLOAD`` fails rather than load; on Windows the path is a module of this
    process, which ``LoadLibrary`` returns as is."""
    if sys.platform == "win32":
        return ctypes.CDLL(path)
    return ctypes.CDLL(path, mode=os.RTLD_NOW | getattr(os, "RTLD_NOLOAD", 0))


def load(paths: Iterable[str] | None = None) -> Library | None:
    """The bound library h5py uses, from the loaded ``paths`` (default: all found)."""
    lock = h5py_lock()
    if lock is None:
        return None
    for path in _loaded() if paths is None else paths:
        try:
            with lock:
                library = Library(_open_loaded(path), path)
                if library.shares_identifiers_with_h5py():
                    return library
        except (OSError, AttributeError, ValueError, TypeError):
            continue
    return None


def _loaded() -> list[str]:
    try:
        return loaded_libraries()
    except Exception:  # a platform's lookup failing must not break the import
        return []


def requested_path(environ: Mapping[str, str] = os.environ) -> str:
    """The attribute path ``H5MODEL_NATIVE`` asks for; unset or unknown (with a warning)
    means the fastest, ``c``."""
    value = environ.get("H5MODEL_NATIVE", "").strip().lower()
    if not value:
        return NATIVE_PATHS[0]
    if value not in NATIVE_PATHS:
        warnings.warn(
            f"H5MODEL_NATIVE={value!r} is not one of {', '.join(NATIVE_PATHS)}; using the fastest",
            RuntimeWarning,
            stacklevel=2,
        )
        return NATIVE_PATHS[0]
    return value


REQUESTED = requested_path()
"""``H5MODEL_NATIVE``, read once."""
LOCK = h5py_lock()
LIBRARY: Library | None = load() if REQUESTED != "h5py" else None
"""The library h5py loaded, bound; ``None`` when it cannot be, or h5py is asked for."""
