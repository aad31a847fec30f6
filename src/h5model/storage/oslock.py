"""Shared and exclusive locks on an open file, on POSIX and on Windows.

Readers hold a lock shared while a save holds it exclusively, so plain exclusive
locks (``msvcrt.locking``, most "file lock" packages) are not enough. POSIX has
``flock``; Windows has ``LockFileEx``, reached through ctypes in ``_windows_lock``,
the only place that knows about Windows. Locks belong to the open file (not the
path) and vanish with the process that held them, so a crash never leaves one
behind.
"""

from __future__ import annotations

import os
import sys

if sys.platform != "win32":
    import fcntl


def lock(fd: int, *, shared: bool, wait: bool) -> bool:
    """Lock the open file ``fd``; False when ``wait`` is off and someone else holds it."""
    if sys.platform == "win32":
        return _windows_lock(fd, shared=shared, wait=wait, release=False)
    flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    if not wait:
        flags |= fcntl.LOCK_NB
    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        return False
    return True


def unlock(fd: int) -> None:
    if sys.platform == "win32":
        _windows_lock(fd, shared=False, wait=False, release=True)
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def _windows_lock(fd: int, *, shared: bool, wait: bool, release: bool) -> bool:
    """``LockFileEx`` / ``UnlockFileEx`` on the first byte of ``fd`` (a lock that Windows
    enforces only against other lockers of that byte, which nobody reads)."""
    if sys.platform == "win32":
        import ctypes
        import msvcrt
        from ctypes import wintypes

        class Overlapped(ctypes.Structure):
            _fields_ = (
                ("Internal", ctypes.c_void_p),
                ("InternalHigh", ctypes.c_void_p),
                ("Offset", wintypes.DWORD),
                ("OffsetHigh", wintypes.DWORD),
                ("hEvent", wintypes.HANDLE),
            )

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = wintypes.HANDLE(msvcrt.get_osfhandle(fd))
        overlapped = Overlapped()
        if release:
            if not kernel32.UnlockFileEx(handle, 0, 1, 0, ctypes.byref(overlapped)):
                raise ctypes.WinError(ctypes.get_last_error())
            return True
        lockfile_exclusive, lockfile_fail_immediately, error_lock_violation = 0x2, 0x1, 33
        flags = 0 if shared else lockfile_exclusive
        if not wait:
            flags |= lockfile_fail_immediately
        if kernel32.LockFileEx(handle, flags, 0, 1, 0, ctypes.byref(overlapped)):
            return True
        error = ctypes.get_last_error()
        if error == error_lock_violation:
            return False
        raise OSError(error, os.strerror(error))
    raise OSError("LockFileEx exists only on Windows")
