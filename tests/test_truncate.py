"""h5model.truncate and ``h5model truncate`` on real files: the copy is valid, consistent,
smaller, stored like the source, and the source is left alone."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from conftest import OLD_FILES
from hdmf.backends.hdf5 import HDF5IO, H5DataIO
from hdmf.common import get_manager as get_hdmf_manager
from helpers import run_h5model, sha256
from nwbfiles import ALL_FILE_NAMES, EXTERNAL_LINK_PATH, EXTERNAL_VALUES, HDMF_ONLY, SOFTLINKS
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb import validate as pynwb_validate
from pynwb.ecephys import ElectricalSeries

import h5model
from h5model import truncation
from h5model.errors import H5ModelError
from h5model.hdf5._native import copy_attrs as native_module
from h5model.hdf5.graph import FileIndex, build_graph, dereference_path
from h5model.truncation import copy as copy_module
from h5model.truncation import progress as progress_module

FILE_NAMES = [*ALL_FILE_NAMES, *OLD_FILES]
CASES = [(name, 3) for name in FILE_NAMES] + [
    ("ecephys", 1),
    ("icephys", 1),
    ("hdmf_table", 1),
    ("misc", 1),
    ("misc", 10),
    ("ophys", 1),
    ("ecephys", 10**6),
    ("misc", 10**6),
]
BIG_SERIES = "/acquisition/raw"
BIG_ROWS = 40_000
BIG_CHUNK = 1000
BIG_UNITS = 1500


# -- helpers ----------------------------------------------------------------------------------
def index_of(file: h5py.File) -> FileIndex:
    return build_graph(file, file.filename)


def read_back(path: Path, hdmf_only: bool) -> None:
    """The copy opens in the reference API and passes its validator."""
    if hdmf_only:
        with HDF5IO(str(path), manager=get_hdmf_manager(), mode="r") as io:
            io.read()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "r") as io:
            io.read()
        assert pynwb_validate(path=str(path)) == []


def graph_summary(path: Path) -> tuple[dict[str, Any], set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Nodes (kind, namespace, type), child/link edges and reference edges; external nodes
    named by the file they resolve to, so copies in other folders compare equal."""
    with h5py.File(path, "r") as f:
        graph = index_of(f).graph

    def key(node: str) -> str:
        data = graph.nodes[node]
        if data["kind"] == "external":
            return f"{(path.parent / data['filename']).resolve()}::{data['path']}"
        return node

    nodes = {
        key(n): (d["kind"], d.get("namespace"), d.get("type")) for n, d in graph.nodes(data=True)
    }
    structure: set[tuple[Any, ...]] = set()
    references: set[tuple[Any, ...]] = set()
    for u, v, d in graph.edges(data=True):
        item = (key(u), key(v), d["label"], d["name"])
        (references if d["label"] == "reference" else structure).add(item)
    return nodes, structure, references


def as_paths(values: Any, file: h5py.File, index: FileIndex) -> list[str | None]:
    return [dereference_path(file, index, r) for r in np.asarray(values, dtype=object).ravel()]


def compare_rows(src: Path, dst: Path) -> None:
    """Every dataset keeps rows [0:k] of the source exactly (references by target path;
    TimeSeriesReference counts are clamped, so only their targets are compared)."""
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        ia, ib = index_of(a), index_of(b)
        for path, data in ia.graph.nodes(data=True):
            if data["kind"] != "dataset":
                continue
            x, y = a[path], b[path]
            assert x.dtype == y.dtype, path
            if x.shape is None or x.shape == ():
                assert x.shape == y.shape, path
                values = [x[()], y[()]]
                if h5py.check_ref_dtype(x.dtype) is not None:
                    values = [as_paths(values[0], a, ia), as_paths(values[1], b, ib)]
                if x.dtype.names is None:
                    assert np.array_equal(*values), path
                continue
            assert y.shape[1:] == x.shape[1:] and y.shape[0] <= x.shape[0], path
            k = y.shape[0]
            left, right = x[:k], y[:k]
            fields = x.dtype.names or (None,)
            for name in fields:
                one = left[name] if name else left
                two = right[name] if name else right
                sub = x.dtype[name] if name else x.dtype
                if name in ("idx_start", "count") and "timeseries" in fields:
                    continue
                if h5py.check_ref_dtype(sub) is not None:
                    assert as_paths(one, a, ia) == as_paths(two, b, ib), (path, name)
                elif h5py.check_vlen_dtype(sub) is not None and not h5py.check_string_dtype(sub):
                    if h5py.check_ref_dtype(h5py.check_vlen_dtype(sub)) is not None:
                        one = [as_paths(p, a, ia) for p in one]
                        two = [as_paths(q, b, ib) for q in two]
                    assert all(np.array_equal(p, q) for p, q in zip(one, two, strict=True)), path
                else:
                    assert np.array_equal(one, two), (path, name)


def compare_attributes(src: Path, dst: Path) -> None:
    """Every attribute of every object: same stored type and shape, same value (references
    by target path)."""
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        ia, ib = index_of(a), index_of(b)
        for path, values in ia.attrs.items():
            assert set(ib.attrs[path]) == set(values), path
            for name, value in values.items():
                x, y = a[path].attrs.get_id(name), b[path].attrs.get_id(name)
                assert (x.dtype, x.shape) == (y.dtype, y.shape), (path, name)
                other = ib.attrs[path][name]
                if h5py.check_ref_dtype(x.dtype) is not None:
                    assert as_paths(value, a, ia) == as_paths(other, b, ib), (path, name)
                elif isinstance(value, np.ndarray):
                    assert value.dtype == other.dtype and np.array_equal(value, other), path
                else:
                    assert type(value) is type(other) and value == other, (path, name)


def compare_storage(src: Path, dst: Path) -> None:
    """Same layout, filters and fill value; a chunk shape only shrinks to fit a cut axis."""
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        for path, data in index_of(a).graph.nodes(data=True):
            if data["kind"] != "dataset":
                continue
            x, y = a[path], b[path]
            for attribute in ("compression", "compression_opts", "shuffle", "fletcher32"):
                assert getattr(x, attribute) == getattr(y, attribute), (path, attribute)
            if x.chunks is None:
                assert y.chunks is None, path
            else:
                assert y.chunks is not None, path
                assert y.chunks[1:] == x.chunks[1:], path
                assert y.chunks[0] == x.chunks[0] or y.chunks[0] == y.shape[0], path
                if x.maxshape[0] is None:
                    assert y.maxshape[0] is None, path
            if x.dtype.kind in "biuf":
                assert y.fillvalue == x.fillvalue, path


def soft_links(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with h5py.File(path, "r") as f:

        def visit(name: str, link: Any) -> None:
            if isinstance(link, h5py.SoftLink):
                out[name] = link.path

        f.visititems_links(visit)
    return out


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


# -- every test file ----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "n"), CASES, ids=[f"{c[0]}-n{c[1]}" for c in CASES])
def test_truncated_copy_is_valid_consistent_and_smaller(
    nwb_files: dict[str, Path], tmp_path: Path, name: str, n: int
) -> None:
    src = nwb_files[name]
    before = sha256(src)
    dst = tmp_path / src.name
    assert h5model.truncate(src, dst, n=n) == dst
    assert sha256(src) == before
    assert dst.stat().st_size <= src.stat().st_size
    assert not leftovers(tmp_path)
    read_back(dst, name in HDMF_ONLY)
    report = h5model.validate(dst)
    assert report.exit_code() == 0, [(i.rule, i.hdf5_path, i.message) for i in report.issues]
    nodes_a, structure_a, references_a = graph_summary(src)
    nodes_b, structure_b, references_b = graph_summary(dst)
    assert nodes_b == nodes_a
    assert structure_b == structure_a
    assert references_b <= references_a
    assert soft_links(dst) == soft_links(src)
    compare_rows(src, dst)
    compare_attributes(src, dst)
    compare_storage(src, dst)


def test_tables_keep_whole_rows_in_every_column(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    src, dst = nwb_files["ecephys"], tmp_path / "ecephys.nwb"
    h5model.truncate(src, dst, n=2)
    with NWBHDF5IO(str(src), "r") as io_a, NWBHDF5IO(str(dst), "r") as io_b:
        units_a, units_b = io_a.read().units, io_b.read().units
        assert len(units_b) == 2
        assert list(units_b.id[:]) == list(units_a.id[:2])
        for column in ("spike_times", "obs_intervals", "waveforms", "quality", "waveform_mean"):
            for row in range(2):
                assert np.array_equal(units_b[column][row], units_a[column][row]), column
        for row in range(2):
            assert np.array_equal(
                units_b["electrodes"][row].index, units_a["electrodes"][row].index
            )
    with h5py.File(dst, "r") as f:
        # the series' region covers all six channels: the electrodes table keeps them all
        assert f["general/extracellular_ephys/electrodes/id"].shape == (6,)
        assert f["acquisition/raw_voltage/data"].shape == (2, 6)
        assert f["acquisition/raw_voltage/electrodes"].shape == (6,)
        assert f["acquisition/raw_voltage/channel_conversion"].shape == (6,)
        # doubly ragged: units 0 and 1 have 5 and 2 spikes of 2 and 1 channels
        assert f["units/waveforms_index_index"][:].tolist() == [5, 7]
        assert f["units/waveforms_index"].shape == (7,)
        assert f["units/waveforms"].shape == (f["units/waveforms_index"][-1], 4)


def test_regions_pull_in_the_rows_they_point_at(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "t.h5"
    h5model.truncate(nwb_files["hdmf_table"], dst, n=2)
    with h5py.File(dst, "r") as f:
        assert f["main/id"][:].tolist() == [10, 11]
        assert f["main/target"][:].tolist() == [0, 2]
        assert f["targets/id"].shape == (3,)  # row 2 is pointed at, so rows 0..2 stay
        assert f["main/tags_index"][:].tolist() == [2, 2]
        assert f["main/tags"].shape == (2,)
        assert f["main/samples"][:].tolist() == [1.0, 2.0, 3.0]
    h5model.truncate(nwb_files["hdmf_table"], dst, n=1, overwrite=True)
    with h5py.File(dst, "r") as f:
        assert f["targets/id"].shape == (1,)
    dst = tmp_path / "ophys.nwb"
    h5model.truncate(nwb_files["ophys"], dst, n=1)
    with h5py.File(dst, "r") as f:
        segmentation = "processing/ophys/ImageSegmentation"
        assert f[f"{segmentation}/image_rois/id"].shape == (3,)
        assert f[f"{segmentation}/pixel_rois/id"].shape == (3,)
        assert f["processing/ophys/DfOverF/dff/data"].shape == (1, 2)
        assert f["processing/ophys/DfOverF/dff/timestamps"].shape == (1,)


def test_axes_that_are_not_rows_are_not_cut(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "ophys.nwb"
    h5model.truncate(nwb_files["ophys"], dst, n=1)
    with h5py.File(dst, "r") as f:
        # the spec fixes these lengths (x, y[, z])
        assert f["acquisition/two_photon/field_of_view"].shape == (2,)
        assert f["general/optophysiology/imaging_plane/origin_coords"].shape == (3,)
        assert f["acquisition/two_photon/data"].shape == (1, 8, 8)
    dst = tmp_path / "misc.nwb"
    h5model.truncate(nwb_files["misc"], dst, n=1)
    with h5py.File(dst, "r") as f:
        # the bands table describes the third axis of the series' data
        assert f["processing/analysis/lfp_power/bands/id"].shape == (3,)
        assert f["processing/analysis/lfp_power/data"].shape == (1, 1, 3)
        # features and their units run along the second axis of data
        assert f["acquisition/features/features"].shape == (2,)
        assert f["acquisition/features/data"].shape == (1, 2)


def test_aligned_tables_keep_one_row_count(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "icephys.nwb"
    h5model.truncate(nwb_files["icephys"], dst, n=1)
    base = "general/intracellular_ephys"
    with h5py.File(dst, "r") as f:
        # condition 0 -> repetition 0 -> sequence 0 -> simultaneous 0, 1 -> recordings 0..2
        assert f[f"{base}/experimental_conditions/id"].shape == (1,)
        assert f[f"{base}/simultaneous_recordings/id"].shape == (2,)
        # the recordings table is pulled to 3 rows by a region; its categories follow
        for table in ("", "/electrodes", "/stimuli", "/responses"):
            assert f[f"{base}/intracellular_recordings{table}/id"].shape == (3,), table


def test_timeseries_references_stay_within_their_series(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    dst = tmp_path / "misc.nwb"
    h5model.truncate(nwb_files["misc"], dst, n=3)
    with h5py.File(dst, "r") as f:
        rows = f["intervals/epochs/timeseries"][:]
        assert f["acquisition/signal/data"].shape == (3,)
        # (0, 20), (20, 20), (40, 10) into a series cut to 3 samples
        assert [(int(r["idx_start"]), int(r["count"])) for r in rows] == [(0, 3), (2, 1), (2, 1)]
        assert {f[r["timeseries"]].name for r in rows} == {"/acquisition/signal"}
    dst = tmp_path / "icephys.nwb"
    h5model.truncate(nwb_files["icephys"], dst, n=3)
    with h5py.File(dst, "r") as f:
        stimuli = f["general/intracellular_ephys/intracellular_recordings/stimuli/stimulus"][:]
        # row 2 has no stimulus: (-1, -1) is kept as it is
        assert (int(stimuli[2]["idx_start"]), int(stimuli[2]["count"])) == (-1, -1)
        assert (int(stimuli[0]["idx_start"]), int(stimuli[0]["count"])) == (0, 3)


def test_soft_and_external_links(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    dst = tmp_path / "softlinks.nwb"
    h5model.truncate(nwb_files["softlinks"], dst, n=3)
    with h5py.File(dst, "r") as f:
        for link, target in SOFTLINKS.items():
            assert f.get(link, getlink=True).path == target
            assert f[link].shape == (3,)
    # the copy lives in another folder: the relative external file name is rewritten
    dst = tmp_path / "deeper" / "external.nwb"
    dst.parent.mkdir()
    h5model.truncate(nwb_files["external"], dst, n=3)
    with h5py.File(dst, "r") as f:
        link = f.get(EXTERNAL_LINK_PATH, getlink=True)
        assert isinstance(link, h5py.ExternalLink)
        assert link.path == "/acquisition/target_series/data"
    with NWBHDF5IO(str(dst), "r") as io:
        values = io.read().acquisition["linked_series"].data[:]
    assert np.array_equal(values, EXTERNAL_VALUES)


def test_keep_copies_whole(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    src = nwb_files["ecephys"]
    for keep in (["/units"], ["units/spike_times"]):
        dst = tmp_path / "kept.nwb"
        h5model.truncate(src, dst, n=1, keep=keep, overwrite=True)
        with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
            for name in a["units"]:
                assert b["units"][name].shape == a["units"][name].shape, (keep, name)
            assert b["acquisition/raw_voltage/data"].shape == (1, 6)
        assert h5model.validate(dst).exit_code() == 0
    h5model.truncate(src, dst, n=1, keep=["/acquisition/raw_voltage/data"], overwrite=True)
    with h5py.File(dst, "r") as f:
        assert f["acquisition/raw_voltage/data"].shape == (100, 6)
    with pytest.raises(H5ModelError, match="no such object") as error:
        h5model.truncate(src, dst, n=1, keep=["/units/nope"], overwrite=True)
    assert error.value.file == str(src)


# -- a file with large chunked, compressed datasets and a large table ---------------------------
@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few MB: a gzip-compressed ElectricalSeries (fixed shape), a series with unlimited
    chunked data and timestamps, and a Units table with ragged spike times and electrodes."""
    rng = np.random.default_rng(7)
    nwbfile = NWBFile(
        session_description="truncation test",
        identifier="h5model-truncate-big",
        session_start_time=datetime(2024, 1, 2, tzinfo=UTC),
    )
    device = nwbfile.create_device(name="probe", description="a probe")
    group = nwbfile.create_electrode_group(
        name="shank", description="a shank", location="CA1", device=device
    )
    for i in range(64):
        nwbfile.add_electrode(group=group, location="CA1", x=float(i), y=0.0, z=0.0)
    region = nwbfile.create_electrode_table_region(region=list(range(32)), description="half")
    samples = np.sin(np.arange(BIG_ROWS, dtype=np.float32) / 50.0)[:, None]
    data = (samples * 100 + rng.normal(size=(BIG_ROWS, 32))).astype(np.float32)
    nwbfile.add_acquisition(
        ElectricalSeries(
            name="raw",
            data=H5DataIO(data, chunks=(BIG_CHUNK, 32), compression="gzip"),
            electrodes=region,
            rate=30000.0,
        )
    )
    nwbfile.add_acquisition(
        TimeSeries(
            name="growing",
            data=H5DataIO(
                np.arange(BIG_ROWS, dtype=np.int32), chunks=(4096,), maxshape=(None,), shuffle=True
            ),
            timestamps=H5DataIO(
                np.arange(BIG_ROWS) / 100.0, chunks=(4096,), maxshape=(None,), compression="gzip"
            ),
            unit="n.a.",
        )
    )
    for i in range(BIG_UNITS):
        nwbfile.add_unit(
            spike_times=np.sort(rng.uniform(0, 100, size=int(rng.integers(0, 30)))),
            electrodes=[i % 64, (i + 1) % 64],
        )
    path = tmp_path_factory.mktemp("big") / "big.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def test_big_file_cut_reads_and_stays_stored_alike(big_file: Path, tmp_path: Path) -> None:
    before = sha256(big_file)
    dst = tmp_path / "small.nwb"
    h5model.truncate(big_file, dst, n=3)
    assert sha256(big_file) == before
    assert dst.stat().st_size < big_file.stat().st_size / 20
    read_back(dst, False)
    assert h5model.validate(dst).exit_code() == 0
    compare_rows(big_file, dst)
    compare_storage(big_file, dst)
    with h5py.File(dst, "r") as f:
        data = f[f"{BIG_SERIES}/data"]
        assert data.shape == (3, 32) and data.chunks == (3, 32) and data.compression == "gzip"
        assert f["acquisition/growing/data"].chunks == (3,)
        assert f["acquisition/growing/data"].maxshape == (None,)
        assert f["acquisition/growing/timestamps"].shape == (3,)
        assert f["units/id"].shape == (3,)
        # units 0..2 use electrodes 0..3; the series' region uses 0..31
        assert f["general/extracellular_ephys/electrodes/id"].shape == (32,)


def test_big_file_whole_chunks_are_copied_as_stored(big_file: Path, tmp_path: Path) -> None:
    dst = tmp_path / "chunks.nwb"
    h5model.truncate(big_file, dst, n=2500)
    with h5py.File(big_file, "r") as a, h5py.File(dst, "r") as b:
        x, y = a[f"{BIG_SERIES}/data"], b[f"{BIG_SERIES}/data"]
        assert y.shape == (2500, 32) and y.chunks == x.chunks
        assert np.array_equal(y[:], x[:2500])
        for offset in ((0, 0), (1000, 0)):
            assert y.id.read_direct_chunk(offset) == x.id.read_direct_chunk(offset)
        assert b["units/id"].shape == (BIG_UNITS,)
    assert h5model.validate(dst).exit_code() == 0
    dst = tmp_path / "kept.nwb"
    h5model.truncate(big_file, dst, n=3, keep=[BIG_SERIES, "/units"])
    with h5py.File(big_file, "r") as a, h5py.File(dst, "r") as b:
        assert np.array_equal(b[f"{BIG_SERIES}/data"][:], a[f"{BIG_SERIES}/data"][:])
        assert b[f"{BIG_SERIES}/data"].id.get_storage_size() == (
            a[f"{BIG_SERIES}/data"].id.get_storage_size()
        )
        assert b["units/spike_times"].shape == a["units/spike_times"].shape
        assert b["acquisition/growing/data"].shape == (3,)
    assert h5model.validate(dst).exit_code() == 0


# -- plain HDF5: references, regions, hard links, storage oddities --------------------------------
@pytest.fixture
def plain_file(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A file without specs, with one of most things HDF5 can hold."""
    source = tmp_path / "src"
    source.mkdir()
    path = source / "plain.h5"
    raw = source / "plain.raw"
    with h5py.File(path, "w", userblock_size=512) as f:
        x = f.create_dataset(
            "x", data=np.arange(100.0), chunks=(16,), compression="gzip", fillvalue=-1.0
        )
        f["group/y"] = x  # a second hard link
        f["soft"] = h5py.SoftLink("/x")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f.attrs["ref"] = x.ref
        f.attrs["region"] = x.regionref[5:20]
        f.attrs["empty"] = h5py.Empty("f")
        f.create_dataset("refs", data=[x.ref, f["group"].ref], dtype=h5py.ref_dtype)
        regions = f.create_dataset("regions", (2,), dtype=h5py.regionref_dtype)
        regions[0] = x.regionref[2:4]
        regions[1] = x.regionref[50:60]
        f.create_dataset("fixed", data=np.array([b"abc%d" % i for i in range(50)], dtype="S8"))
        f.create_dataset(
            "enum", data=np.arange(50) % 3, dtype=h5py.enum_dtype({"a": 0, "b": 1, "c": 2})
        )
        ragged = f.create_dataset("ragged", (30,), dtype=h5py.vlen_dtype(np.int32))
        for i in range(30):
            ragged[i] = np.arange(i % 4, dtype=np.int32)
        f.create_dataset("compound", data=np.zeros(40, dtype=[("a", "i4"), ("b", "f8", (2,))]))
        lists = f.create_dataset("ref_lists", (12,), dtype=h5py.vlen_dtype(h5py.ref_dtype))
        for i in range(12):
            lists[i] = np.array([x.ref] * (i % 3), dtype=h5py.ref_dtype)
        f.create_dataset("scalar", data=3.5)
        f.create_dataset("stored_elsewhere", data=np.arange(50), external=[(str(raw), 0, 400)])
        f["group"].attrs["names"] = ["x", "y"]
        ordered = f.create_group("ordered", track_order=True)
        for name in ("zeta", "alpha", "mid"):
            ordered.attrs[name] = name
    with open(path, "r+b") as handle:
        handle.write(b"user block")
    yield path, raw


def test_the_compiled_member_step_on_storage_oddities(
    plain_file: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the compiled step declines (virtual, external storage) or leaves to h5py (whole
    chunks, many rows, re-pointed or packed values) comes out as h5py alone makes it."""
    if copy_module._members.COPIER is None:
        pytest.skip("the compiled module (_fastattrs) is not built here")
    src, _ = plain_file
    with h5py.File(src, "r+") as f:
        f.create_dataset("chunks", data=np.arange(4000.0).reshape(1000, 4), chunks=(10, 4))
        f.create_dataset("fixed_max", data=np.arange(300), chunks=(100,), maxshape=(500,))
        f.create_dataset("many_rows", data=np.arange(200_000, dtype="i2"))
        f.create_dataset("text", data=[f"t{i}" for i in range(40)],
                         dtype=h5py.string_dtype())
        f.create_dataset("null", data=h5py.Empty("i4"))
        f.create_dataset("nothing", shape=(0, 3), dtype="f4")
        f.create_dataset("untracked", data=np.arange(30), track_times=False)
        f.create_dataset("short", data=np.arange(10.0))  # not cut: the mapping still holds
        layout = h5py.VirtualLayout(shape=(10,), dtype="f8")
        layout[:] = h5py.VirtualSource(f["short"])
        f.create_virtual_dataset("virtual", layout)
        ordered = f.create_group("ordered_links", track_order=True)
        for name in ("d", "b", "a", "c"):
            ordered[name] = np.arange(30)
    monkeypatch.setattr(copy_module.stored, "BLOCK_ELEMENTS", 50_000)
    h5model.truncate(src, tmp_path / "compiled.h5", n=20)
    with monkeypatch.context() as patched:
        patched.setattr(copy_module._members, "COPIER", None)
        h5model.truncate(src, tmp_path / "h5py.h5", n=20)
    same_copies(tmp_path / "h5py.h5", tmp_path / "compiled.h5")
    with h5py.File(tmp_path / "compiled.h5", "r") as f:
        assert f["chunks"].shape == (20, 4) and f["chunks"].chunks == (10, 4)
        assert f["many_rows"].shape == (20,) and f["fixed_max"].maxshape == (20,)
        assert list(f["ordered_links"]) == ["d", "b", "a", "c"]  # made in that order
        assert h5py.h5o.get_info(f["untracked"].id).ctime == 0


def test_plain_file_references_links_and_storage(
    plain_file: tuple[Path, Path], tmp_path: Path
) -> None:
    src, raw = plain_file
    raw_before, before = sha256(raw), sha256(src)
    dst = tmp_path / "plain-copy.h5"
    h5model.truncate(src, dst, n=10)
    assert (sha256(src), sha256(raw)) == (before, raw_before)
    assert dst.read_bytes()[:10] == b"user block"
    assert graph_summary(dst)[:2] == graph_summary(src)[:2]
    compare_rows(src, dst)
    compare_attributes(src, dst)
    compare_storage(src, dst)
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        assert b["x"].shape == (10,) and b["x"].chunks == (10,) and b["x"].fillvalue == -1.0
        assert h5py.h5o.get_info(b["group/y"].id).addr == h5py.h5o.get_info(b["x"].id).addr
        assert b.get("soft", getlink=True).path == "/x"
        assert b.get("dangling", getlink=True).path == "/nowhere"
        assert b[b.attrs["ref"]] == b["x"]
        assert b["x"][b.attrs["region"]].tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
        assert b.attrs["empty"] == a.attrs["empty"]
        assert [b[r] for r in b["refs"][:]] == [b["x"], b["group"]]
        assert b["x"][b["regions"][0]].tolist() == [2.0, 3.0]
        assert b["x"][b["regions"][1]].size == 0
        for name in ("fixed", "enum", "compound"):
            assert b[name].dtype == a[name].dtype
            assert np.array_equal(b[name][:], a[name][:10])
        assert [r.tolist() for r in b["ragged"][:]] == [r.tolist() for r in a["ragged"][:10]]
        assert [[b[r] for r in row] for row in b["ref_lists"][:]] == [
            [b["x"]] * (i % 3) for i in range(10)
        ]
        assert b["scalar"][()] == 3.5
        assert b["stored_elsewhere"].external is None
        assert b["stored_elsewhere"][:].tolist() == list(range(10))
        assert list(b["group"].attrs["names"]) == ["x", "y"]
        assert list(b["ordered"].attrs) == ["zeta", "alpha", "mid"]


def test_objects_are_closed_as_the_copy_streams(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each object is closed once copied (an open one holds HDF5 memory), so the number
    open in either file stays small however many objects the file has; both files' metadata
    caches are held small (libhdf5's default grows to 32 MiB of headers each)."""
    src = nwb_files["ecephys"]
    open_counts: list[int] = []
    caches: list[int] = []
    members = copy_module.Copier._group_members

    def counted(self: Any, *args: Any) -> None:
        members(self, *args)
        for fid in (self.dst_fid, self.src.id):
            open_counts.append(h5py.h5f.get_obj_count(fid, h5py.h5f.OBJ_ALL))
            caches.append(fid.get_mdc_config().max_size)

    monkeypatch.setattr(copy_module.Copier, "_group_members", counted)
    h5model.truncate(src, tmp_path / "copy.nwb", n=2)
    with h5py.File(src, "r") as f:
        objects = len(index_of(f).graph)
    assert len(open_counts) > 10 and objects > 60
    assert max(open_counts) <= 12
    assert max(caches) <= truncation.CACHE_BYTES < 32 * 2**20
    compare_attributes(src, tmp_path / "copy.nwb")


def test_datasets_kept_whole_are_copied_by_hdf5(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """H5Ocopy copies what needs neither cutting nor re-pointing, in one call each, and the
    copy is the same as one made dataset by dataset (made through h5py here, to count the
    calls; the compiled member step makes the same copy, see below)."""
    src = nwb_files["ecephys"]
    copied: list[str] = []
    whole_copy = copy_module.h5o.copy

    def counted(*args: Any, **kwargs: Any) -> None:
        group = h5py.h5i.get_name(args[0]).decode().rstrip("/")
        copied.append(f"{group}/{args[1].decode()}")
        whole_copy(*args, **kwargs)

    monkeypatch.setattr(copy_module._members, "COPIER", None)
    monkeypatch.setattr(copy_module.h5o, "copy", counted)
    dst = tmp_path / "copy.nwb"
    h5model.truncate(src, dst, n=2)
    assert len(copied) > 5
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        cut = [p for p, d in index_of(a).graph.nodes(data=True)
               if d["kind"] == "dataset" and d["shape"] and b[p].shape != d["shape"]]
        assert cut and not set(cut) & set(copied)
        for path in copied:
            assert h5py.check_ref_dtype(a[path].dtype) is None, path
            assert b[path].shape == a[path].shape and b[path].dtype == a[path].dtype, path
            assert np.array_equal(b[path][()], a[path][()]), path
    compare_attributes(src, dst)
    compare_storage(src, dst)
    read_back(dst, hdmf_only=False)


def same_copies(one: Path, other: Path) -> None:
    """Two copies hold the same objects alike: links in order, kinds, shapes, stored types,
    storage, time tracking, attributes in order, values (references by target path)."""
    compare_attributes(one, other)
    compare_storage(one, other)
    with h5py.File(one, "r") as a, h5py.File(other, "r") as b:
        ia, ib = index_of(a), index_of(b)
        assert [(p, [c.name for c in cs]) for p, cs in ia.children.items()] == [
            (p, [c.name for c in cs]) for p, cs in ib.children.items()]
        for path, data in ia.graph.nodes(data=True):
            if data["kind"] not in ("group", "dataset"):
                continue
            x, y = a[path], b[path]
            assert list(x.attrs) == list(y.attrs), path
            assert bool(h5py.h5o.get_info(x.id).ctime) == bool(h5py.h5o.get_info(y.id).ctime)
            if isinstance(x, h5py.Group):
                order = x.id.get_create_plist().get_link_creation_order()
                assert order == y.id.get_create_plist().get_link_creation_order(), path
                continue
            assert (x.shape, x.maxshape, x.chunks, x.fillvalue if x.dtype.kind in "biuf" else 0
                    ) == (y.shape, y.maxshape, y.chunks, y.fillvalue if y.dtype.kind in "biuf"
                          else 0), path
            assert x.id.get_type() == y.id.get_type(), path
            if x.shape is None or h5py.check_ref_dtype(x.dtype) is not None or x.dtype.names:
                continue
            if x.dtype.kind == "O" and h5py.check_vlen_dtype(x.dtype) not in (str, bytes):
                continue
            assert np.array_equal(x[()], y[()]), path


@pytest.mark.parametrize("name", FILE_NAMES)
def test_the_compiled_member_step_makes_the_copy_h5py_makes(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    if copy_module._members.COPIER is None:
        pytest.skip("the compiled module (_fastattrs) is not built here")
    src = nwb_files[name]
    h5model.truncate(src, tmp_path / "compiled.nwb", n=2)
    monkeypatch.setattr(copy_module._members, "COPIER", None)
    h5model.truncate(src, tmp_path / "h5py.nwb", n=2)
    same_copies(tmp_path / "h5py.nwb", tmp_path / "compiled.nwb")


@pytest.mark.parametrize("name", ["ecephys", "icephys"])
def test_compiled_and_ctypes_attribute_copies_agree(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The compiled copier (one call per object) writes what the ctypes one does, in the same
    order, references included; the ctypes one stays as the fallback."""
    if native_module.COMPILED is None:
        pytest.skip("the compiled module (_fastattrs) is not built here")
    src = nwb_files[name]
    calls: list[int] = []
    compiled = native_module.COMPILED

    def counted(*args: Any) -> None:
        calls.append(args[4])
        compiled(*args)

    monkeypatch.setattr(native_module, "COMPILED", counted)
    h5model.truncate(src, tmp_path / "c.nwb", n=2)
    assert sum(calls) > 0
    monkeypatch.setattr(native_module, "COMPILED", None)
    monkeypatch.setattr(copy_module._members, "COPIER", None)  # it copies attributes too
    h5model.truncate(src, tmp_path / "ctypes.nwb", n=2)
    compare_attributes(src, tmp_path / "c.nwb")
    compare_attributes(tmp_path / "ctypes.nwb", tmp_path / "c.nwb")
    with h5py.File(tmp_path / "c.nwb", "r") as a, h5py.File(tmp_path / "ctypes.nwb", "r") as b:
        a.visititems(lambda path, obj: assert_same_order(path, obj, b))


def assert_same_order(path: str, obj: Any, other: h5py.File) -> None:
    assert list(obj.attrs) == list(other[path].attrs), path


@pytest.mark.parametrize("name", ["ecephys", "icephys"])
def test_without_the_fast_attribute_path(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(native_module, "ENABLED", False)
    monkeypatch.setattr(copy_module._members, "COPIER", None)
    src, dst = nwb_files[name], tmp_path / f"{name}.nwb"
    h5model.truncate(src, dst, n=2)
    assert h5model.validate(dst).exit_code() == 0
    compare_attributes(src, dst)
    compare_rows(src, dst)


# -- refusals, cleanup, progress ---------------------------------------------------------------
def test_refusals(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    src = nwb_files["minimal"]
    dst = tmp_path / "copy.nwb"
    dst.write_bytes(b"keep me")
    with pytest.raises(H5ModelError, match="already exists") as error:
        h5model.truncate(src, dst)
    assert error.value.file == str(dst)
    assert dst.read_bytes() == b"keep me"
    h5model.truncate(src, dst, overwrite=True)
    assert h5py.is_hdf5(dst)
    for same in (src, src.parent / "." / src.name):
        with pytest.raises(H5ModelError, match="source file itself"):
            h5model.truncate(src, same, overwrite=True)
    with pytest.raises(H5ModelError, match="folder does not exist"):
        h5model.truncate(src, tmp_path / "missing" / "copy.nwb")
    with pytest.raises(H5ModelError, match="is a folder"):
        h5model.truncate(src, tmp_path)
    with pytest.raises(H5ModelError, match=">= 1"):
        h5model.truncate(src, tmp_path / "zero.nwb", n=0)
    with pytest.raises(H5ModelError, match="no such file"):
        h5model.truncate(tmp_path / "absent.nwb", tmp_path / "x.nwb")
    assert not leftovers(tmp_path)


def test_failure_leaves_no_partial_file(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from h5model.truncation.copy import Copier

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Copier, "_copy_data", broken)
    dst = tmp_path / "copy.nwb"
    with pytest.raises(H5ModelError, match="disk full") as error:
        h5model.truncate(nwb_files["ecephys"], dst)
    assert error.value.hdf5_path is not None
    assert not dst.exists() and not leftovers(tmp_path)


def test_progress_only_when_asked_or_on_a_terminal(
    nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    h5model.truncate(nwb_files["ecephys"], tmp_path / "quiet.nwb")
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)
    h5model.truncate(nwb_files["ecephys"], tmp_path / "loud.nwb", progress=True)
    err = capsys.readouterr().err
    assert "truncate loud.nwb" in err and "100%" in err and err.endswith("\n")


# -- command line -----------------------------------------------------------------------------
def test_cli(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    src, dst = nwb_files["ecephys"], tmp_path / "cut.nwb"
    done = run_h5model(
        "truncate", src, dst, "-n", "2", "--keep", "/units", "/acquisition/raw_voltage"
    )
    assert done.returncode == 0, done.stderr
    assert str(dst) in done.stdout and done.stderr == ""
    with h5py.File(dst, "r") as f:
        assert f["units/id"].shape == (4,) and f["acquisition/raw_voltage/data"].shape == (100, 6)
    again = run_h5model("truncate", src, dst)
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert run_h5model("truncate", src, dst, "--overwrite").returncode == 0
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5")
    for bad in (tmp_path / "absent.nwb", text):
        result = run_h5model("truncate", bad, tmp_path / "out.nwb")
        assert result.returncode == 1
        assert result.stderr.startswith("h5model: error:") and str(bad) in result.stderr
        assert "Traceback" not in result.stderr
    usage = run_h5model("truncate", src, tmp_path / "out.nwb", "-n", "0")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_a_failure_in_the_compiled_member_step_names_the_member(tmp_path: Path) -> None:
    if copy_module._members.COPIER is None:
        pytest.skip("the compiled module (_fastattrs) is not built here")
    with h5py.File(tmp_path / "a.h5", "w") as a, h5py.File(tmp_path / "b.h5", "w") as b:
        a["kept"] = np.arange(3)
        where = [0]
        lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)
        whole = h5py.h5p.create(h5py.h5p.OBJECT_COPY)
        batch = [(b"kept", copy_module._members.WHOLE, -1),
                 (b"absent", copy_module._members.WHOLE, -1)]
        with pytest.raises(OSError, match="absent"):
            copy_module._members.COPIER(a.id.id, b.id.id, batch, (lcpl.id, lcpl.id),
                                        whole.id, 1000, print, where)
        assert where == [1] and list(b) == ["kept"]
