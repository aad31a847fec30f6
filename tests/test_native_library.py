"""Finding and binding the HDF5 library h5py loaded: the platform lookups, the check that
it is h5py's very copy, the lock, the constants and the choice of path by H5MODEL_NATIVE."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import h5py
import pytest
from h5py import h5, h5s, h5t

from h5model.hdf5._native import library, locate

LIBRARY = library.LIBRARY
needs_library = pytest.mark.skipif(
    LIBRARY is None, reason="no HDF5 library found in this process (h5py does everything)"
)


# -- the platform lookups --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "path"),
    [
        (
            "7f1c2a000000-7f1c2a100000 r-xp 00001000 08:01 1234 /opt/h5py.libs/libhdf5-9e.so.320\n",
            "/opt/h5py.libs/libhdf5-9e.so.320",
        ),
        (
            "7f1c2a000000-7f1c2a100000 r--p 00000000 08:01 99 /home/a user/lib/libhdf5.so.310\n",
            "/home/a user/lib/libhdf5.so.310",
        ),
        (
            "7f1c2a000000-7f1c2a100000 r--p 00000000 08:01 99 /tmp/libhdf5.so.310 (deleted)",
            "/tmp/libhdf5.so.310",
        ),
        ("7f1c2a000000-7f1c2a100000 rw-p 00000000 00:00 0 \n", None),
        ("7ffd3a000000-7ffd3a021000 rw-p 00000000 00:00 0                  [stack]\n", None),
        ("", None),
    ],
)
def test_maps_lines(line: str, path: str | None) -> None:
    assert locate.parse_maps_line(line) == path


@pytest.mark.parametrize(
    "name",
    [
        "/usr/lib/x86_64-linux-gnu/libhdf5.so.310",
        "/site-packages/h5py.libs/libhdf5-9e18f0c6.so.320.0.0",
        "/usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5_serial.so.103.0.0",
        "/opt/homebrew/lib/libhdf5.310.dylib",
        "/site-packages/h5py/.dylibs/libhdf5.320.dylib",
        r"C:\Python\Lib\site-packages\h5py\hdf5.dll",
        r"C:\Python\Lib\site-packages\h5py.libs\hdf5-1a2b3c4d.dll",
        r"C:\conda\Library\bin\libhdf5.dll",
    ],
)
def test_names_of_the_hdf5_library(name: str) -> None:
    assert locate.is_hdf5_library(name)


@pytest.mark.parametrize(
    "name",
    [
        "/site-packages/h5py.libs/libhdf5_hl-69da89c9.so.320.0.0",
        "/usr/lib/libhdf5_serial_hl.so.100",
        "/usr/lib/libhdf5_cpp.so.103",
        "/usr/lib/libhdf5_fortran.so.102",
        "/opt/homebrew/lib/libhdf5_hl.310.dylib",
        r"C:\h5py\hdf5_hl.dll",
        "/site-packages/hdf5plugin/plugins/libh5blosc.so",
        "/site-packages/h5py/h5a.cpython-311-x86_64-linux-gnu.so",
        "/usr/lib/libhdf5.a",
        "/data/hdf5_notes.txt",
    ],
)
def test_names_of_other_libraries(name: str) -> None:
    assert not locate.is_hdf5_library(name)


def test_each_library_listed_once_in_load_order(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text(
        "1000-2000 r--p 0 08:01 7 /lib/libhdf5.so.310\n"
        "2000-3000 r-xp 1000 08:01 7 /lib/libhdf5.so.310\n"
        "3000-4000 r--p 0 08:01 8 /lib/libhdf5_hl.so.310\n"
        "4000-5000 rw-p 0 00:00 0 \n"
        "5000-6000 r--p 0 08:01 9 /other/libhdf5.so.200\n",
        encoding="utf-8",
    )
    assert locate.linux_libraries(str(maps)) == ["/lib/libhdf5.so.310", "/other/libhdf5.so.200"]
    assert locate.linux_libraries(str(tmp_path / "absent")) == []


@pytest.mark.skipif(sys.platform != "linux", reason="the other branches are tried on Linux")
def test_other_platforms_branches_find_nothing_here_and_do_not_raise() -> None:
    assert locate.macos_libraries() == []
    assert locate.windows_libraries() == []
    assert locate.loaded_libraries("plan9") == []


@needs_library
def test_the_linux_branch_finds_the_library_h5py_loaded() -> None:
    assert LIBRARY is not None
    assert LIBRARY.path in locate.loaded_libraries()


def test_a_failing_lookup_means_no_library(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[str]:
        raise RuntimeError("lookup broke")

    monkeypatch.setitem(locate.BRANCHES, sys.platform, broken)
    assert library.load() is None


# -- the very library h5py loaded ------------------------------------------------------------
@needs_library
def test_only_an_already_loaded_library_is_opened(tmp_path: Path) -> None:
    assert LIBRARY is not None
    copy = tmp_path / Path(LIBRARY.path).name
    shutil.copy(LIBRARY.path, copy)
    with pytest.raises(OSError):
        library._open_loaded(str(copy))  # not loaded: refused rather than loaded
    assert library.load([str(copy), "/nowhere/libhdf5.so.1"]) is None
    loaded = library.load([LIBRARY.path])
    assert loaded is not None and loaded.shares_identifiers_with_h5py()


@needs_library
def test_a_second_copy_of_the_library_is_told_apart(tmp_path: Path) -> None:
    """A copy loaded from elsewhere has its own identifiers: it must not be taken for h5py's.
    (Run apart: two HDF5 libraries in one process should not outlive the check.)"""
    assert LIBRARY is not None
    copy = tmp_path / ("other-" + Path(LIBRARY.path).name)
    shutil.copy(LIBRARY.path, copy)
    script = (
        "import ctypes, sys\n"
        "from h5model.hdf5._native import library\n"
        "other = library.Library(ctypes.CDLL(sys.argv[1]), sys.argv[1])\n"
        "print(other.shares_identifiers_with_h5py(),"
        " library.LIBRARY.shares_identifiers_with_h5py())\n"
        "sys.stdout.flush()\n"
        "import os; os._exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(copy)], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_a_library_without_hdf5_functions_is_refused() -> None:
    libc = ctypes.util.find_library("c") if sys.platform != "win32" else None
    if libc is None:
        pytest.skip("no C library to try")
    with pytest.raises(OSError, match="lacks"):
        library.Library(ctypes.CDLL(libc), libc)


@needs_library
def test_the_compiled_reader_gets_real_function_addresses() -> None:
    assert LIBRARY is not None
    addresses = LIBRARY.addresses(library.READER_FUNCTIONS)
    assert set(addresses) == set(library.READER_FUNCTIONS)
    assert all(isinstance(a, int) and a > 0 for a in addresses.values())
    assert LIBRARY.has(library.READER_FUNCTIONS) and LIBRARY.has(library.COPIER_FUNCTIONS)


# -- constants and lock ------------------------------------------------------------------------
def test_constants_are_h5pys() -> None:
    assert (library.STRING, library.FLOAT, library.INTEGER) == (h5t.STRING, h5t.FLOAT, h5t.INTEGER)
    assert (library.REFERENCE, library.VLEN, library.UNSIGNED) == (
        h5t.REFERENCE,
        h5t.VLEN,
        h5t.SGN_NONE,
    )
    assert (library.SPACE_SCALAR, library.SPACE_NULL) == (h5s.SCALAR, h5s.NULL)
    assert (library.ITER_INC, library.ITER_NATIVE) == (h5.ITER_INC, h5.ITER_NATIVE)
    assert (library.INDEX_NAME, library.INDEX_CRT_ORDER) == (h5.INDEX_NAME, h5.INDEX_CRT_ORDER)


def test_the_lock_is_h5pys() -> None:
    from h5py._objects import phil

    assert library.h5py_lock() is phil
    assert library.LOCK is phil


def test_without_h5pys_lock_no_native_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h5py._objects", types.ModuleType("h5py._objects"))
    assert library.h5py_lock() is None
    assert library.load() is None


# -- H5MODEL_NATIVE ----------------------------------------------------------------------------
def test_requested_path() -> None:
    assert library.requested_path({}) == "c"
    assert library.requested_path({"H5MODEL_NATIVE": " CTypes "}) == "ctypes"
    assert library.requested_path({"H5MODEL_NATIVE": "h5py"}) == "h5py"
    with pytest.warns(RuntimeWarning, match="H5MODEL_NATIVE='fortran'"):
        assert library.requested_path({"H5MODEL_NATIVE": "fortran"}) == "c"


def _chosen(value: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "H5MODEL_NATIVE"}
    if value is not None:
        env["H5MODEL_NATIVE"] = value
    script = (
        "import json\n"
        "from h5model.hdf5 import attributes\n"
        "from h5model.hdf5._native import copy_attrs, library, read_attrs\n"
        "print(json.dumps({'active': read_attrs.ACTIVE, 'copier': copy_attrs.ENABLED,"
        " 'library': library.LIBRARY is not None,"
        " 'same': attributes.read_attributes is attributes.READERS[read_attrs.ACTIVE]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@needs_library
def test_h5model_native_picks_the_path_once_at_import() -> None:
    from h5model.hdf5._native import read_attrs

    fastest = "c" if "c" in read_attrs.READERS else "ctypes"
    assert _chosen(None) == {"active": fastest, "copier": True, "library": True, "same": True}
    assert _chosen("c")["active"] == fastest
    assert _chosen("ctypes") == {"active": "ctypes", "copier": True, "library": True, "same": True}
    assert _chosen("h5py") == {"active": "h5py", "copier": False, "library": False, "same": True}


def test_h5py_is_always_a_path() -> None:
    from h5model.hdf5 import attributes

    assert "h5py" in attributes.READERS
    assert h5py.version.hdf5_version  # the library every path ends up in
