"""Where the HDF5 C library that h5py loaded sits in this process, on each platform.

The native paths must call the very library h5py uses: identifiers (files, objects,
types) are only valid in the library that issued them, and a second copy loaded from
elsewhere would hold other state. So nothing here loads a library; each platform branch
lists the files of libraries *already loaded* into the process whose names look like
HDF5's, and the caller (``library.py``) keeps the first one that proves to share h5py's
identifiers. Every branch returns an empty list when it cannot tell, never raises: then
h5py does all the work.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Callable, Iterable

_SUFFIXES = (".so", ".dylib", ".dll")
_NOT_CORE = re.compile(r"_(hl|cpp|fortran|tools)\b|hl_|plugin")
"""Companion libraries of HDF5 (high-level, C++, Fortran bindings), not the C library."""


def is_hdf5_library(path: str) -> bool:
    """Whether ``path`` names the HDF5 C library itself, whatever its packager called it:
    ``libhdf5.so.310``, ``libhdf5-9e18f0c6.so.320.0.0`` (wheels), ``libhdf5_serial.so.103``
    (Debian), ``libhdf5.320.dylib``, ``hdf5.dll``, ``hdf5-1a2b3c.dll``."""
    name = re.split(r"[\\/]", path)[-1].lower()
    if name.startswith("lib"):
        name = name[3:]
    if not name.startswith("hdf5") or _NOT_CORE.search(name):
        return False
    return any(f"{suffix}." in name or name.endswith(suffix) for suffix in _SUFFIXES)


def parse_maps_line(line: str) -> str | None:
    """The file a line of ``/proc/self/maps`` maps, or ``None`` for anonymous memory.

    A line reads ``address perms offset dev inode path``; the path may hold spaces and
    is marked `` (deleted)`` when the file was removed after loading."""
    fields = line.rstrip("\n").split(maxsplit=5)
    if len(fields) < 6 or not fields[5].startswith("/"):
        return None
    return fields[5].removesuffix(" (deleted)")


def linux_libraries(maps: str = "/proc/self/maps") -> list[str]:
    """Loaded HDF5 libraries on Linux (and other systems with a Linux-style procfs)."""
    try:
        with open(maps, encoding="utf-8", errors="surrogateescape") as lines:
            return unique(p for p in map(parse_maps_line, lines) if p and is_hdf5_library(p))
    except OSError:
        return []


def macos_libraries() -> list[str]:
    """Loaded HDF5 libraries on macOS: the images dyld has loaded, by index."""
    try:
        system = ctypes.CDLL("/usr/lib/libSystem.B.dylib")
        count = system._dyld_image_count
        count.restype, count.argtypes = ctypes.c_uint32, []
        name = system._dyld_get_image_name
        name.restype, name.argtypes = ctypes.c_char_p, [ctypes.c_uint32]
        images = (name(i) for i in range(count()))
        paths = (os.fsdecode(image) for image in images if image)
        return unique(p for p in paths if is_hdf5_library(p))
    except (OSError, AttributeError):
        return []


def windows_libraries() -> list[str]:
    """Loaded HDF5 libraries on Windows: the modules of this process (psapi)."""
    try:
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        enum = kernel32.K32EnumProcessModules
        enum.restype = wintypes.BOOL
        enum.argtypes = [
            wintypes.HANDLE,
            ctypes.POINTER(wintypes.HMODULE),
            wintypes.DWORD,
            ctypes.POINTER(wintypes.DWORD),
        ]
        file_name = kernel32.GetModuleFileNameW
        file_name.restype = wintypes.DWORD
        file_name.argtypes = [wintypes.HMODULE, wintypes.LPWSTR, wintypes.DWORD]
        process = kernel32.GetCurrentProcess()
        size = ctypes.sizeof(wintypes.HMODULE)
        needed = wintypes.DWORD(0)
        modules = (wintypes.HMODULE * 1024)()
        if not enum(process, modules, ctypes.sizeof(modules), ctypes.byref(needed)):
            return []
        buffer = ctypes.create_unicode_buffer(32768)
        paths = []
        for module in modules[: min(needed.value // size, len(modules))]:
            if module and file_name(module, buffer, len(buffer)):
                paths.append(buffer.value)
        return unique(p for p in paths if is_hdf5_library(p))
    except (OSError, AttributeError, ImportError, ValueError):
        return []


BRANCHES: dict[str, Callable[[], list[str]]] = {
    "linux": linux_libraries,
    "darwin": macos_libraries,
    "win32": windows_libraries,
    "cygwin": linux_libraries,
}
"""``sys.platform`` -> how to list the loaded libraries there."""


def loaded_libraries(platform: str = sys.platform) -> list[str]:
    """Paths of the HDF5 libraries loaded in this process (empty where unknown)."""
    branch = BRANCHES.get(platform)
    if branch is None and platform.startswith(("linux", "freebsd")):
        branch = linux_libraries
    return branch() if branch is not None else []


def unique(paths: Iterable[str]) -> list[str]:
    """``paths`` in first-seen order, each once (a library has one line per mapped segment)."""
    return list(dict.fromkeys(paths))
