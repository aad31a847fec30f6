"""Every attribute path gives the same result: the compiled reader, the ctypes reader and
h5py alone read every attribute of every object of every test file identically (values,
dtypes, str vs bytes, numpy vs Python scalars, references, name order); the native and
the h5py attribute copiers of truncation write identical attributes."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from h5py import h5, h5a, h5p, h5s, h5t
from specfiles import write_simple

import h5model
from h5model.hdf5 import attributes
from h5model.hdf5._native import copy_attrs, library, read_attrs

NATIVE_PATHS = ["c", "ctypes"]
WHY_MISSING = {
    "c": "the compiled reader (_fastattrs) is not built here",
    "ctypes": "no HDF5 library found in this process",
}


def reader(path: str) -> attributes.AttributeReader:
    if path not in attributes.READERS:
        pytest.skip(WHY_MISSING["ctypes" if read_attrs.READERS == {} else path])
    return attributes.READERS[path]


# -- a file with one of every kind of attribute ------------------------------------------------
LONG_NAME = "a_very_long_attribute_name_" * 80


@pytest.fixture(scope="module")
def kinds_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One attribute of each kind the readers treat differently (scalar or not, text
    or number or neither, widths, signs, byte orders, encodings, odd names)."""
    path = tmp_path_factory.mktemp("kinds") / "kinds.h5"
    with h5py.File(path, "w") as f:
        data = f.create_dataset("data", data=np.arange(10.0))
        group = f.create_group("group", track_order=True)
        f["stored_type"] = np.dtype("<i2")
        attrs = group.attrs
        for kind in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"):
            info = np.iinfo(kind)
            attrs[f"{kind}_min"] = np.array(info.min, dtype=kind)
            attrs[f"{kind}_max"] = np.array(info.max, dtype=kind)
        attrs.create("big_endian_int", 258, dtype=">i4")
        attrs.create("big_endian_float", 2.5, dtype=">f8")
        attrs.create("committed_type", 7, dtype=f["stored_type"])
        for kind in ("f2", "f4", "f8"):
            attrs[f"{kind}"] = np.array(1.0 / 3.0, dtype=kind)
        attrs["nan"] = np.nan
        attrs["inf"] = -np.inf
        attrs["text"] = "hello"
        attrs["empty_text"] = ""
        attrs["non_ascii_text"] = "Zürich ✓"
        attrs.create("ascii_text", "plain", dtype=h5py.string_dtype("ascii"))
        attrs.create("bad_utf8", b"\xff\xfeok", dtype=h5py.string_dtype("ascii"))
        attrs.create("fixed_text", np.bytes_(b"fixed"), dtype="S5")
        attrs.create("fixed_utf8", "fïx".encode(), dtype=h5py.string_dtype("utf-8", 4))
        attrs["bool"] = np.True_
        attrs["complex"] = np.complex128(1 + 2j)
        attrs["compound"] = np.array((1, 2.0), dtype=[("a", "i4"), ("b", "f8")])
        attrs["enum"] = np.array(1, dtype=h5py.enum_dtype({"x": 0, "y": 1}, basetype="i1"))
        attrs["ints"] = np.arange(4, dtype="i2")
        attrs["one_item"] = np.array([5], dtype="u4")
        attrs["matrix"] = np.ones((2, 3))
        attrs["texts"] = ["a", "bé", ""]
        attrs["no_items"] = np.zeros((0,), dtype="f4")
        attrs["empty"] = h5py.Empty("f8")
        attrs["empty_text_space"] = h5py.Empty(h5py.string_dtype())
        attrs["ref"] = data.ref
        attrs["region"] = data.regionref[2:5]
        attrs["refs"] = np.array([data.ref, f["group"].ref], dtype=h5py.ref_dtype)
        attrs["ragged"] = np.array([np.arange(2), np.arange(3)], dtype=h5py.vlen_dtype(np.int64))[0]
        attrs[LONG_NAME] = "long"
        attrs[LONG_NAME + "_number"] = 3
        attrs["naïve"] = "non-ASCII name"
        scalar = h5py.h5s.create(h5py.h5s.SCALAR)
        h5a.create(group.id, b"\xff_raw_name", h5py.h5t.py_create("i4"), scalar)
        f.attrs["on_root"] = 1.5
        data.attrs["unit"] = "s"
        data.attrs["resolution"] = -1.0
    return path


@pytest.fixture(scope="module")
def spec_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files of tests/specfiles.py: embedded specs, references and typed roots."""
    folder = tmp_path_factory.mktemp("specfiles")
    return {
        "text": write_simple(folder / "text.h5"),
        "number": write_simple(folder / "number.h5", value=np.int16(-3)),
        "list": write_simple(folder / "list.h5", value=["a", "b"]),
        "float": write_simple(folder / "float.h5", value=np.float32(0.25)),
    }


# -- reading -------------------------------------------------------------------------------------
def objects(file: h5py.File) -> Iterator[tuple[str, Any]]:
    """(path, h5py object) for the root and everything below it, named types included."""
    yield "/", file
    found: list[tuple[str, Any]] = []
    file.visititems(lambda name, obj: found.append((f"/{name}", obj)))
    yield from found


def assert_same(x: Any, y: Any, file: h5py.File, where: str) -> None:
    """Equal values of the same type; references by what they point at."""
    assert type(x) is type(y), (where, type(x), type(y))
    if isinstance(x, h5py.RegionReference):
        assert file[x].name == file[y].name, where
        assert np.array_equal(file[x][x], file[y][y]), where
    elif isinstance(x, h5py.Reference):
        assert file[x].name == file[y].name, where
    elif isinstance(x, np.ndarray):
        assert (x.dtype, x.shape) == (y.dtype, y.shape), where
        if x.dtype == object:
            for index in np.ndindex(x.shape):
                assert_same(x[index], y[index], file, f"{where}[{index}]")
        else:
            assert np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"), where
    elif isinstance(x, np.generic):
        assert x.dtype == y.dtype, where
        assert x.tobytes() == y.tobytes(), where
    else:
        assert x == y, where


def assert_paths_agree(path: Path, native: str) -> int:
    """Every attribute of every object of ``path`` through ``native`` and through h5py."""
    read_native, read_h5py = reader(native), attributes.READERS["h5py"]
    seen = 0
    with h5py.File(path, "r") as file:
        for where, obj in objects(file):
            expected, got = read_h5py(obj.id), read_native(obj.id)
            assert list(got) == list(expected), where  # names, in name order
            for name, value in expected.items():
                assert_same(got[name], value, file, f"{path.name}:{where}@{name}")
                seen += 1
    return seen


@pytest.mark.parametrize("native", NATIVE_PATHS)
def test_every_kind_of_attribute_reads_the_same(kinds_file: Path, native: str) -> None:
    assert assert_paths_agree(kinds_file, native) > 50
    with h5py.File(kinds_file, "r") as file:  # and the values are the ones written
        values = reader(native)(file["group"].id)
    assert type(values["i1_min"]) is np.int8 and values["i1_min"] == -128
    assert type(values["u8_max"]) is np.uint64 and values["u8_max"] == 2**64 - 1
    assert type(values["big_endian_int"]) is np.int32 and values["big_endian_int"] == 258
    assert type(values["f2"]) is np.float16
    assert values["text"] == "hello" and values["empty_text"] == ""
    assert values["bad_utf8"] == b"\xff\xfeok".decode("utf-8", "surrogateescape")
    assert values[LONG_NAME] == "long"
    assert values["\udcff_raw_name"] == 0
    assert values["empty"] is None


@pytest.mark.parametrize("native", NATIVE_PATHS)
def test_spec_files_read_the_same(spec_files: dict[str, Path], native: str) -> None:
    for path in spec_files.values():
        assert assert_paths_agree(path, native) > 0


@pytest.mark.parametrize("native", NATIVE_PATHS)
def test_nwb_files_read_the_same(nwb_files: dict[str, Path], native: str) -> None:
    total = sum(assert_paths_agree(path, native) for path in nwb_files.values())
    assert total > 1000


# -- copying -------------------------------------------------------------------------------------
def stored_attributes(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Object path -> its attributes in stored order: name, name encoding, datatype,
    dataspace, and value (references as the paths they point at)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with h5py.File(path, "r") as file:
        for where, obj in objects(file):
            plist = obj.id.get_create_plist() if not isinstance(obj, h5py.Datatype) else None
            tracked = plist is not None and plist.get_attr_creation_order() & h5p.CRT_ORDER_TRACKED
            order = h5.INDEX_CRT_ORDER if tracked else h5.INDEX_NAME
            walk = h5.ITER_INC if tracked else h5.ITER_NATIVE
            rows = []
            for i in range(h5a.get_num_attrs(obj.id)):
                aid = h5a.open(obj.id, index=i, index_type=order, order=walk)
                info = h5a.get_info(obj.id, index=i, index_type=order, order=walk)
                value = attributes.read_attribute(aid)
                space = aid.get_space()
                rows.append(
                    (
                        aid.name,
                        info.cset,
                        aid.get_type().dtype.str,
                        aid.get_type().get_class(),
                        space.get_simple_extent_type(),
                        aid.shape,
                        describe(value, file),
                    )
                )
            out[where] = rows
    return out


def describe(value: Any, file: h5py.File) -> Any:
    """A comparable stand-in for an attribute value."""
    if isinstance(value, h5py.Reference):
        return ("reference", file[value].name if value else None)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, [describe(v, file) for v in value.ravel()])
    if isinstance(value, np.generic):
        return (value.dtype.str, value.tobytes())
    return (type(value).__name__, value)


def truncated_both_ways(source: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    if not copy_attrs.ENABLED:
        pytest.skip("the native attribute copier is off here (no HDF5 library found)")
    copies = []
    for enabled in (True, False):
        monkeypatch.setattr(copy_attrs, "ENABLED", enabled)
        copies.append(h5model.truncate(source, folder / f"{enabled}-{source.name}", n=2))
    return copies


def test_every_kind_of_attribute_copies_the_same(
    kinds_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    native, through_h5py = truncated_both_ways(kinds_file, tmp_path, monkeypatch)
    expected = stored_attributes(through_h5py)
    assert stored_attributes(native) == expected
    names = [row[0] for row in expected["/group"]]
    assert names[:2] == [b"i1_min", b"i1_max"]  # creation order kept
    assert LONG_NAME.encode() in names and b"\xff_raw_name" in names


@pytest.mark.parametrize("name", ["ecephys", "icephys", "ophys", "misc", "hdmf_table"])
def test_nwb_files_copy_the_same(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    native, through_h5py = truncated_both_ways(nwb_files[name], tmp_path, monkeypatch)
    assert stored_attributes(native) == stored_attributes(through_h5py)


def test_the_native_copier_keeps_a_utf8_name_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """h5py writes every attribute name as ASCII; other writers mark UTF-8 names as such,
    and the copy keeps the mark. (h5py's low-level API takes no attribute creation
    properties, so the h5py copier cannot: there the name is copied as ASCII.)"""
    lib = library.LIBRARY
    if lib is None or not copy_attrs.ENABLED:
        pytest.skip("the native attribute copier is off here (no HDF5 library found)")
    raw = ctypes.CDLL(lib.path, mode=os.RTLD_NOW | getattr(os, "RTLD_NOLOAD", 0))
    raw.H5Pcreate.restype, raw.H5Pcreate.argtypes = library.HID, [library.HID]
    raw.H5Pset_char_encoding.argtypes = [library.HID, ctypes.c_int]
    raw.H5Pclose.argtypes = [library.HID]
    source = tmp_path / "utf8.h5"
    with h5py.File(source, "w") as f:
        f.attrs["plain"] = 1
        plist = raw.H5Pcreate(library.HID.in_dll(raw, "H5P_CLS_ATTRIBUTE_CREATE_ID_g").value)
        raw.H5Pset_char_encoding(plist, h5t.CSET_UTF8)
        space = h5py.h5s.create(h5s.SCALAR)
        with library.LOCK or nullcontext():
            name = "größe".encode()
            created = lib.H5Acreate2(f.id.id, name, h5t.STD_I32LE.id, space.id, plist, 0)
            assert created >= 0
            lib.H5Aclose(created)
        raw.H5Pclose(plist)
    native, through_h5py = truncated_both_ways(source, tmp_path, monkeypatch)
    csets = {row[0]: row[1] for row in stored_attributes(native)["/"]}
    assert csets == {b"plain": h5t.CSET_ASCII, "größe".encode(): h5t.CSET_UTF8}

    def without_cset(path: Path) -> list[tuple[Any, ...]]:
        return [row[:1] + row[2:] for row in stored_attributes(path)["/"]]

    assert without_cset(native) == without_cset(through_h5py)


# -- many attributes on one object ----------------------------------------------------------------
def test_many_attributes_are_read_in_one_pass(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: opening each of n attributes by index in dense storage sorted all n
    every time (5,000 attributes took 76 s). Objects with many attributes are read by one
    pass over their names, with the same values on every path."""
    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as f:
        group = f.create_group("g")
        for i in range(3000):
            group.attrs[f"a{i:05d}"] = i if i % 2 else f"text {i}"
    one_pass: list[int] = []
    real_read = attributes.read_by_names

    def spy(oid: Any) -> dict[str, Any]:
        one_pass.append(1)
        return real_read(oid)

    monkeypatch.setattr(attributes, "read_by_names", spy)
    with h5py.File(path, "r") as f:
        expected = {k: f["g"].attrs[k] for k in sorted(f["g"].attrs)}
        for name, reader in attributes.READERS.items():
            found = reader(f["g"].id)
            assert list(found) == list(expected), name
            assert all(found[k] == expected[k] for k in expected), name
    assert len(one_pass) == len(attributes.READERS)
