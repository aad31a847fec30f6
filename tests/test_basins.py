"""Basins of RT-DC files written by dcnum's own HDF5Writer (``store_basin``: a file basin
with a mapping, an internal basin): features read through the mapping lazily and equal to
what ``dcnum.read.HDF5Data`` reads, validation of basin files and mapping ranges (and the
rule for where basin files are looked for), truncation, copying features."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import h5model
from h5model.hdf5.basins import MappedFeature, locate
from h5model.layouts.rtdc import FeatureError, copy_features, feature, features

dcnum_write = pytest.importorskip("dcnum.write")  # test dependencies (pyproject: test)
dcnum_read = pytest.importorskip("dcnum.read")

RAW = 120


def write_raw(path: Path) -> Path:
    rng = np.random.default_rng(5)
    with dcnum_write.HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("image", rng.integers(0, 255, (RAW, 16, 24), dtype=np.uint8))
        hw.store_feature_chunk("bright_avg", rng.random(RAW))
        hw.h5.attrs["experiment:event count"] = RAW
    return path


def write_with_basins(folder: Path, paths: list[str] | None = None) -> tuple[Path, np.ndarray]:
    """A file of every third raw event, in reverse, its images and brightness in the raw
    file (a mapped file basin) and its background in an internal basin."""
    write_raw(folder / "raw.rtdc")
    mapping = np.arange(0, RAW, 3)[::-1].copy()
    rng = np.random.default_rng(6)
    path = folder / "data.rtdc"
    with dcnum_write.HDF5Writer(path, mode="w") as hw:
        hw.store_feature_chunk("deform", rng.random(mapping.size))
        hw.store_basin(name="raw", paths=paths or ["raw.rtdc"], features=["image", "bright_avg"],
                       mapping=mapping, description="the raw data")
        hw.store_basin(name="background", mapping=mapping % 4, internal_data={
            "image_bg": rng.integers(0, 255, (4, 16, 24), dtype=np.uint8)})
        hw.h5.attrs["experiment:event count"] = mapping.size
    return path, mapping


@pytest.fixture
def with_basins(tmp_path: Path) -> tuple[Path, np.ndarray]:
    return write_with_basins(tmp_path)


def _issues(path: Path) -> list[tuple[str, str, str]]:
    report = h5model.validate(path, layout="rtdc")
    return [(i.rule, i.severity.name, i.message) for i in report.issues]


def test_basin_features_read_through_the_mapping_as_dcnum_reads_them(
        with_basins: tuple[Path, np.ndarray]) -> None:
    path, mapping = with_basins
    dcnum = dcnum_read.HDF5Data(path)
    with h5model.open(path, layout="rtdc") as f:
        assert features(f) == ["basinmap0", "basinmap1", "bright_avg", "deform", "image",
                               "image_bg"]
        image = feature(f, "image")
        assert isinstance(image, MappedFeature)
        assert image.shape == (mapping.size, 16, 24) and image.dtype == np.uint8
        assert np.array_equal(image[:], dcnum["image"][:])
        assert np.array_equal(image[7], dcnum["image"][7])
        assert np.array_equal(image[3:9, 2], dcnum["image"][3:9][:, 2])
        assert np.array_equal(image[[5, 1, 5]], np.asarray(dcnum["image"][:])[[5, 1, 5]])
        assert np.array_equal(feature(f, "bright_avg")[2:20], dcnum["bright_avg"][2:20])
        assert np.array_equal(np.asarray(feature(f, "image_bg")), dcnum["image_bg"][:])
        assert np.array_equal(feature(f, "deform")[:], dcnum["deform"])
        with pytest.raises(FeatureError, match="'volume'"):
            feature(f, "volume")


def test_a_slice_reads_only_the_rows_it_needs(with_basins: tuple[Path, np.ndarray]) -> None:
    path, mapping = with_basins

    class Counting:
        """A dataset that records the rows asked of it."""

        def __init__(self, dataset: h5py.Dataset) -> None:
            self.dataset, self.asked = dataset, 0
            self.shape, self.dtype = dataset.shape, dataset.dtype

        def __getitem__(self, key: object) -> np.ndarray:
            data = np.asarray(self.dataset[key])
            self.asked += len(data)
            return data

    with h5py.File(path.parent / "raw.rtdc") as raw, h5py.File(path) as h5:
        images, rows = Counting(raw["events/image"]), Counting(h5["events/basinmap0"])
        view = MappedFeature(images, rows, "image")
        assert np.array_equal(view[10:12], raw["events/image"][()][mapping[10:12]])
        assert rows.asked == 2 and images.asked <= 4  # two mapped rows (a slab of at most 4)


def test_basins_validate(with_basins: tuple[Path, np.ndarray]) -> None:
    path, _ = with_basins
    assert _issues(path) == []


def test_a_missing_basin_file_is_a_warning(with_basins: tuple[Path, np.ndarray]) -> None:
    path, _ = with_basins
    (path.parent / "raw.rtdc").unlink()
    issues = _issues(path)
    assert [(r, s) for r, s, _ in issues] == [("basin.missing", "WARNING")]
    assert "'raw.rtdc' does not exist" in issues[0][2]
    assert h5model.validate(path, layout="rtdc").exit_code() == 0


@pytest.mark.parametrize("given", ["../raw.rtdc", "/etc/passwd", "sub/../../raw.rtdc",
                                   "https://example.org/raw.rtdc", "/dev/zero", "."])
def test_basin_paths_outside_the_files_folder_are_never_followed(
        tmp_path: Path, given: str) -> None:
    folder = tmp_path / "inner"
    folder.mkdir()
    write_raw(tmp_path / "raw.rtdc")  # there, but outside the file's folder
    path, _ = write_with_basins(folder, paths=[given])
    (folder / "raw.rtdc").unlink()
    issues = _issues(path)
    assert [(r, s) for r, s, _ in issues] == [("basin.missing", "WARNING")], issues
    with h5model.open(path, layout="rtdc") as f, pytest.raises(FeatureError):
        feature(f, "image")
    assert locate(path, [given])[0] is None


def test_a_symlink_leading_out_is_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "inner"
    folder.mkdir()
    path, _ = write_with_basins(folder)
    (folder / "raw.rtdc").rename(tmp_path / "raw.rtdc")
    (folder / "raw.rtdc").symlink_to(tmp_path / "raw.rtdc")
    found, reasons = locate(path, ["raw.rtdc"])
    assert found is None and "outside" in reasons[0]


def test_a_mapping_beyond_the_basin_is_an_error(with_basins: tuple[Path, np.ndarray]) -> None:
    path, _ = with_basins
    with h5py.File(path, "r+") as h5:
        h5["events/basinmap0"][0] = RAW  # one past the raw file's last event
    issues = _issues(path)
    assert [(r, s) for r, s, _ in issues] == [("basin.range", "ERROR")]
    assert f"names rows 0..{RAW}" in issues[0][2] and f"has {RAW} rows" in issues[0][2]


def test_a_basin_shorter_than_the_mapping_reaches_is_an_error(
        with_basins: tuple[Path, np.ndarray]) -> None:
    path, _ = with_basins
    with h5py.File(path.parent / "raw.rtdc", "r+") as h5:
        h5["events/image"].resize(50, axis=0)
    rules = [r for r, _, _ in _issues(path)]
    assert rules == ["basin.range"]


def test_damaged_basin_documents_are_errors(with_basins: tuple[Path, np.ndarray]) -> None:
    path, _ = with_basins
    with h5py.File(path, "r+") as h5:
        keys = list(h5["basins"])
        document = "\n".join(s.decode() for s in h5["basins"][keys[0]][()])
        body = json.loads(document)
        del h5["basins"][keys[0]]
        body["mapping"] = "basinmap7"
        h5["basins"].create_dataset(keys[0], data=[json.dumps(body).encode()])
        del h5["basins"][keys[1]]
        h5["basins"].create_dataset(keys[1], data=[b"{not json"])
    rules = sorted(r for r, _, _ in _issues(path))
    assert rules == ["basin.document", "basin.mapping"]


def test_truncate_keeps_mappings_in_range(with_basins: tuple[Path, np.ndarray]) -> None:
    path, _ = with_basins
    small = h5model.truncate(path, path.parent / "small.rtdc", n=5, layout="rtdc")
    assert _issues(small) == []
    with h5py.File(small) as h5:
        assert h5["events/basinmap0"].shape == (5,)
        assert h5["basin_events/image_bg"].shape == (4, 16, 24)  # a basin's rows stay whole
    dcnum = dcnum_read.HDF5Data(small)
    assert np.array_equal(dcnum["image"][:], dcnum_read.HDF5Data(path)["image"][:5])


def test_copy_features_through_a_mapping_keeps_chunks_and_filters(
        with_basins: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = with_basins
    subset = np.array([0, 2, 4, 6, 30, 33])
    out = copy_features(path, tmp_path / "subset.rtdc", ["image", "deform"], mapping=subset,
                        block_rows=4)
    whole = dcnum_read.HDF5Data(path)
    copied = dcnum_read.HDF5Data(out)
    assert len(copied) == subset.size
    assert np.array_equal(copied["image"][:], np.asarray(whole["image"][:])[subset])
    assert np.array_equal(copied["deform"], whole["deform"][subset])
    with h5py.File(out) as h5, h5py.File(path.parent / "raw.rtdc") as raw, \
            h5py.File(path) as src:
        for name, source in (("image", raw["events/image"]), ("deform", src["events/deform"])):
            made = h5[f"events/{name}"]
            assert made.chunks == source.chunks
            assert made.compression == source.compression
            plist, plist_src = made.id.get_create_plist(), source.id.get_create_plist()
            assert [plist.get_filter(i)[0] for i in range(plist.get_nfilters())] == [
                plist_src.get_filter(i)[0] for i in range(plist_src.get_nfilters())]
            assert dict(made.attrs) == dict(source.attrs)
        assert h5.attrs["experiment:event count"] == subset.size
    assert h5model.validate(out, layout="rtdc").exit_code() == 0


def test_copy_features_refuses_to_overwrite_a_feature(
        with_basins: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, mapping = with_basins
    out = copy_features(path, tmp_path / "copy.rtdc", ["deform"])
    before = out.read_bytes()
    with pytest.raises(FeatureError, match="refusing to overwrite feature"):
        copy_features(path, out, ["image", "deform"])
    assert out.read_bytes() == before
    copy_features(path, out, ["image"])  # a new feature joins those there
    with h5py.File(out) as h5:
        assert sorted(h5["events"]) == ["deform", "image"]
        assert h5["events/image"].shape == (mapping.size, 16, 24)
    with pytest.raises(FeatureError, match="names events"):
        copy_features(path, tmp_path / "bad.rtdc", ["deform"], mapping=[0, mapping.size])
    assert not (tmp_path / "bad.rtdc").exists()


def test_a_basin_of_another_measurement_is_refused_as_dcnum_refuses_it(tmp_path: Path) -> None:
    write_raw(tmp_path / "raw.rtdc")
    with h5py.File(tmp_path / "raw.rtdc", "r+") as h5:
        h5.attrs["experiment:date"] = "2024-03-01"
        h5.attrs["experiment:time"] = "10:00:00"
        h5.attrs["setup:identifier"] = "RC-1"
    with h5py.File(tmp_path / "raw.rtdc") as h5:
        right = dcnum_read.get_measurement_identifier(h5)
    for name, identifier in (("right.rtdc", right), ("wrong.rtdc", "another-run")):
        with dcnum_write.HDF5Writer(tmp_path / name, mode="w") as hw:
            hw.store_feature_chunk("deform", np.zeros(4))
            hw.store_basin(name="raw", paths=["raw.rtdc"], features=["image"],
                           mapping=np.arange(4), identifier=identifier)
            hw.h5.attrs["experiment:event count"] = 4
    assert _issues(tmp_path / "right.rtdc") == []
    with h5model.open(tmp_path / "right.rtdc", layout="rtdc") as f:
        assert np.array_equal(feature(f, "image")[:],
                              dcnum_read.HDF5Data(tmp_path / "right.rtdc")["image"][:])
    issues = _issues(tmp_path / "wrong.rtdc")
    assert [(r, s) for r, s, _ in issues] == [("basin.identifier", "ERROR")]
    assert repr(right) in issues[0][2] and "'another-run'" in issues[0][2]
    with pytest.raises(dcnum_read.hdf5_data.BasinIdentifierMismatchError):
        dcnum_read.HDF5Data(tmp_path / "wrong.rtdc")["image"]
    with h5model.open(tmp_path / "wrong.rtdc", layout="rtdc") as f, \
            pytest.raises(FeatureError, match="another-run"):
        feature(f, "image")
