"""Tables as DataFrames, compared with pynwb's ``to_dataframe()`` on files pynwb writes.

Representation choices compared here (the rest must be equal, dtypes included):
models stand where pynwb has containers (compared by ``object_id``); compound cells
that hold references are ``CompoundRow``s where pynwb has tuples (compared field by
field); a TimeSeriesReference pynwb reads as "no series" ``(None, None, None)`` is
ours as stored, ``(-1, -1, series)``, with ``isvalid()`` False.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pytest
from hdmf.backends.hdf5 import HDF5IO
from hdmf.common import (
    AlignedDynamicTable,
    DynamicTable,
    DynamicTableRegion,
    SimpleMultiContainer,
    VectorData,
    VectorIndex,
)
from hdmf.common import get_manager as get_hdmf_manager
from hdmf.container import AbstractContainer
from pynwb import NWBHDF5IO
from pynwb.base import TimeSeriesReference as PynwbReference

import h5model
from h5model.errors import H5ModelError
from h5model.models.arrays import H5Array
from h5model.models.compound import CompoundRow, TimeSeriesReference, TimeSeriesReferenceError
from h5model.models.frames import MissingExtraError

ICEPHYS = "/general/intracellular_ephys"

TABLES = [
    ("ecephys", "/units"),
    ("ecephys", "/general/extracellular_ephys/electrodes"),
    ("misc", "/intervals/trials"),
    ("misc", "/intervals/epochs"),
    ("misc", "/intervals/invalid_times"),
    ("ophys", "/processing/ophys/ImageSegmentation/image_rois"),
    ("ophys", "/processing/ophys/ImageSegmentation/pixel_rois"),
    ("icephys", f"{ICEPHYS}/intracellular_recordings"),
    ("icephys", f"{ICEPHYS}/simultaneous_recordings"),
    ("icephys", f"{ICEPHYS}/sequential_recordings"),
    ("icephys", f"{ICEPHYS}/repetitions"),
    ("icephys", f"{ICEPHYS}/experimental_conditions"),
    ("hdmf_table", "/main"),
    ("aligned", "/aligned"),
]
ALIGNED = {f"{ICEPHYS}/intracellular_recordings", "/aligned"}


def write_aligned(directory: Path) -> Path:
    """An AlignedDynamicTable written by hdmf: columns of its own, two categories, one
    with a ragged column and a ragged region into another table."""
    with warnings.catch_warnings():  # the region's table is a sibling: known once written
        warnings.filterwarnings("ignore", message="The linked table for DynamicTableRegion")
        root = _aligned_root()
    path = directory / "aligned.h5"
    with HDF5IO(str(path), manager=get_hdmf_manager(), mode="w") as io:
        io.write(root, cache_spec=True)
    return path


def _aligned_root() -> SimpleMultiContainer:
    targets = DynamicTable(
        name="targets",
        description="rows the region points at",
        columns=[VectorData(name="label", description="label", data=["a", "b", "c"])],
    )
    samples = VectorData(name="samples", description="ragged", data=[1.0, 2.0, 3.0, 4.0])
    hits = DynamicTableRegion(name="hits", description="rows", data=[2, 0, 1, 2], table=targets)
    response = DynamicTable(
        name="response",
        description="a category with ragged columns",
        columns=[
            VectorData(name="gain", description="gain", data=[0.5, 1.5, 2.5]),
            samples,
            VectorIndex(name="samples_index", data=[1, 1, 4], target=samples),
            hits,
            VectorIndex(name="hits_index", data=[1, 1, 4], target=hits),
        ],
    )
    stimulus = DynamicTable(
        name="stimulus",
        description="a plain category",
        columns=[VectorData(name="amplitude", description="amp", data=[1, 2, 3])],
    )
    aligned = AlignedDynamicTable(
        name="aligned",
        description="a table with categories",
        id=[7, 8, 9],
        columns=[VectorData(name="trial", description="trial", data=["t0", "t1", "t2"])],
        category_tables=[stimulus, response],
    )
    return SimpleMultiContainer(name="root", containers=[targets, aligned])


@pytest.fixture(scope="module")
def files(nwb_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {**nwb_files, "aligned": write_aligned(tmp_path_factory.mktemp("aligned"))}


def _reference(path: Path) -> Any:
    if path.suffix == ".nwb":
        return NWBHDF5IO(str(path), "r")
    return HDF5IO(str(path), manager=get_hdmf_manager(), mode="r")


def _container(root: Any, object_id: str) -> Any:
    return next(c for c in [root, *root.all_children()] if c.object_id == object_id)


# -- comparison -----------------------------------------------------------------------------


def assert_same_frame(ours: pd.DataFrame, theirs: pd.DataFrame, where: str) -> None:
    assert list(ours.columns) == list(theirs.columns), where
    assert ours.index.name == theirs.index.name, where
    assert ours.index.tolist() == theirs.index.tolist(), where
    for name in theirs.columns:
        at = f"{where}[{name!r}]"
        if theirs[name].dtype != object:
            assert ours[name].dtype == theirs[name].dtype, at
            assert ours[name].tolist() == theirs[name].tolist(), at
            continue
        assert len(ours[name]) == len(theirs[name]), at
        for i, (mine, reference) in enumerate(zip(ours[name], theirs[name], strict=True)):
            assert_same(mine, reference, f"{at}[{i}]")


def assert_same(ours: Any, theirs: Any, where: str) -> None:
    if isinstance(theirs, pd.DataFrame):
        assert isinstance(ours, pd.DataFrame), where
        assert_same_frame(ours, theirs, where)
    elif isinstance(theirs, PynwbReference):
        assert isinstance(ours, TimeSeriesReference), where
        if theirs.idx_start is None:  # pynwb's "no series"
            assert (ours.idx_start, ours.count, ours.isvalid()) == (-1, -1, False), where
        else:
            assert (ours.idx_start, ours.count) == (theirs.idx_start, theirs.count), where
            assert ours.timeseries.object_id == theirs.timeseries.object_id, where
    elif isinstance(theirs, AbstractContainer):
        assert ours.object_id == theirs.object_id, where
    elif isinstance(theirs, np.void) or (
        isinstance(theirs, tuple) and isinstance(ours, CompoundRow)
    ):
        assert isinstance(ours, CompoundRow), where
        assert len(ours) == len(theirs), where
        for i, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(mine, reference, f"{where}.{ours.fields[i]}")
    elif isinstance(theirs, np.ndarray) and theirs.dtype.kind in "biufV":
        assert isinstance(ours, np.ndarray), where
        assert ours.dtype == theirs.dtype, where
        assert np.array_equal(ours, theirs), where
    elif isinstance(theirs, (np.ndarray, list, tuple)):
        assert isinstance(ours, (np.ndarray, list)), where  # rows of references: a list
        assert len(ours) == len(theirs), where
        for i, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(mine, reference, f"{where}[{i}]")
    else:
        assert ours == theirs, where
        assert type(_plain(ours)) is type(_plain(theirs)), where


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# -- frames ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "path"), TABLES)
def test_frames_equal_pynwbs(files: dict[str, Path], name: str, path: str) -> None:
    with h5model.open(files[name]) as f, _reference(files[name]) as io:
        table = f.get(path)
        reference = _container(io.read(), table.object_id)
        ours = table.to_dataframe()
        assert_same_frame(ours, reference.to_dataframe(), path)
        if path not in ALIGNED:  # pynwb's index=True: region cells as row numbers
            assert_same_frame(
                table.to_dataframe(regions="index"), reference.to_dataframe(index=True), path
            )


def test_aligned_columns_and_index(files: dict[str, Path]) -> None:
    with h5model.open(files["aligned"]) as f:
        frame = f.get("/aligned").to_dataframe()
        assert frame.columns.tolist() == [
            ("aligned", "trial"),
            ("stimulus", "id"),
            ("stimulus", "amplitude"),
            ("response", "id"),
            ("response", "gain"),
            ("response", "samples"),
            ("response", "hits"),
        ]
        assert frame.index.name == ("aligned", "id")
        assert frame.index.tolist() == [7, 8, 9]
        assert [list(c) for c in frame[("response", "samples")]] == [[1.0], [], [2.0, 3.0, 4.0]]
        assert frame[("response", "hits")].iloc[0]["label"].tolist() == ["c"]
        bare = f.get("/aligned").to_dataframe(ignore_category_ids=True, regions="index")
        assert ("stimulus", "id") not in bare.columns
        assert [c.tolist() for c in bare[("response", "hits")]] == [[2], [], [0, 1, 2]]


def test_ragged_cells(files: dict[str, Path]) -> None:
    with h5model.open(files["ecephys"]) as f:
        units = f.get("/units").to_dataframe(regions="index")
        assert [len(c) for c in units["spike_times"]] == [5, 2, 0, 7]
        waveforms = units["waveforms"].iloc[0]  # doubly ragged: a list of arrays
        assert isinstance(waveforms, list)
        assert [w.shape for w in waveforms] == [(2, 4)] * 5
        assert units["electrodes"].iloc[2].tolist() == [3, 4, 5]
        group = units["electrode_group"].iloc[0]
        assert group is f.get("/general/extracellular_ephys/shank0")  # the model itself
        expanded = f.get("/units").to_dataframe()["electrodes"].iloc[2]
        assert expanded.index.tolist() == [3, 4, 5]
        assert expanded["location"].tolist() == ["CA3"] * 3


def test_regions_option_is_checked(files: dict[str, Path]) -> None:
    with h5model.open(files["ecephys"]) as f, pytest.raises(ValueError, match="regions must"):
        f.get("/units").to_dataframe(regions="rows")  # type: ignore[arg-type]


def test_each_dataset_is_read_once(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    reads: dict[str, int] = {}
    read = H5Array.__getitem__

    def counting(self: H5Array, key: Any) -> Any:
        reads[self.hdf5_path] = reads.get(self.hdf5_path, 0) + 1
        return read(self, key)

    monkeypatch.setattr(H5Array, "__getitem__", counting)
    with h5model.open(files["ecephys"]) as f:
        for regions in ("index", "expand"):
            reads.clear()
            f.get("/units").to_dataframe(regions=regions)
            assert "/units/spike_times" in reads and "/units/waveforms_index_index" in reads
            assert max(reads.values()) == 1, reads


def test_missing_pandas_names_the_extra(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with h5model.open(files["ecephys"]) as f, pytest.raises(MissingExtraError) as caught:
        f.get("/units").to_dataframe()
    assert "pip install 'h5model[pandas]'" in str(caught.value)
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, H5ModelError)


def test_import_never_imports_pandas(files: dict[str, Path]) -> None:
    code = (
        "import sys, h5model\n"
        f"with h5model.open({str(files['ecephys'])!r}) as f:\n"
        "    f.get('/units')[0]\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- compound rows --------------------------------------------------------------------------


def test_timeseries_reference_rows(files: dict[str, Path]) -> None:
    with h5model.open(files["misc"]) as f:
        epochs = f.get("/intervals/epochs")
        (first,) = epochs["timeseries"][0]
        assert first.timeseries is f.get("/acquisition/signal")  # identity kept
        assert (first.idx_start, first.count) == (0, 20)
        assert type(first.idx_start) is int and type(first.count) is int
        start, count, series = first  # unpacks like pynwb's tuple
        assert (start, count, series) == (0, 20, first.timeseries)
        assert first["count"] == first[1] == 20
        assert epochs.row(1)["timeseries"][0].idx_start == 20


def test_timeseries_reference_samples_match_pynwb(files: dict[str, Path]) -> None:
    with h5model.open(files["icephys"]) as f, _reference(files["icephys"]) as io:
        theirs = io.read().intracellular_recordings
        for category, column in (("stimuli", "stimulus"), ("responses", "response")):
            ours = f.get(f"{ICEPHYS}/intracellular_recordings")[category][column]
            for i in range(len(ours)):
                mine, reference = ours[i], theirs[category][column][i]
                assert isinstance(mine, TimeSeriesReference)
                if reference.idx_start is None:
                    assert mine.isvalid() is False
                    assert mine.data is None and mine.timestamps is None
                    continue
                assert np.array_equal(mine.data, reference.data)
                assert np.allclose(mine.timestamps, reference.timestamps)


def _corrupt_reference(source: Path, folder: Path, idx_start: int, count: int) -> Path:
    path = folder / "corrupt.nwb"
    shutil.copy(source, path)
    with h5py.File(path, "r+") as f:
        dataset = f[f"{ICEPHYS}/intracellular_recordings/responses/response"]
        row = dataset[0]
        row["idx_start"], row["count"] = idx_start, count
        dataset[0] = row
    return path


@pytest.mark.parametrize(("idx_start", "count"), [(0, 1000), (-3, 5), (2, -4)])
def test_reading_past_a_series_names_both_paths(
    files: dict[str, Path], tmp_path: Path, idx_start: int, count: int
) -> None:
    path = _corrupt_reference(files["icephys"], tmp_path, idx_start, count)
    column = f"{ICEPHYS}/intracellular_recordings/responses/response"
    with h5model.open(path) as f:
        frame = f.get(f"{ICEPHYS}/intracellular_recordings").to_dataframe()  # reads fine
        row = frame[("responses", "response")].iloc[0]
        with pytest.raises(TimeSeriesReferenceError) as caught:
            row.data  # noqa: B018
    error = caught.value
    assert isinstance(error, IndexError) and isinstance(error, H5ModelError)
    assert error.hdf5_path == column
    assert column in str(error) and "/acquisition/cc_response" in str(error)
    assert f"samples {idx_start} to {idx_start + count}" in str(error)
    if idx_start >= 0 and count >= 0:  # pynwb reads a negative field as None (TypeError)
        with NWBHDF5IO(str(path), "r") as io, pytest.raises(IndexError):  # pynwb refuses too
            io.read().intracellular_recordings["responses"]["response"][0].data  # noqa: B018


def test_compound_columns_of_references_give_rows(files: dict[str, Path]) -> None:
    with h5model.open(files["icephys"]) as f:
        stimulus = f.get(f"{ICEPHYS}/intracellular_recordings/stimuli/stimulus")
        rows = stimulus[0:2]
        assert [type(r) for r in rows] == [TimeSeriesReference] * 2
        assert rows[1].fields == ("idx_start", "count", "timeseries")
        assert rows[1].asdict()["timeseries"] is f.get("/stimulus/presentation/vc_stimulus")
        assert rows[1] == stimulus[1] == (0, 30, rows[1].timeseries)
        with pytest.raises(AttributeError, match="no field 'z'"):
            rows[0].z  # noqa: B018
    with h5model.open(files["ophys"]) as f:  # numbers only: numpy records, as pynwb
        pixels = f.get("/processing/ophys/ImageSegmentation/pixel_rois")["pixel_mask"][0]
        assert isinstance(pixels, np.ndarray) and pixels.dtype.names == ("x", "y", "weight")


# -- validation lists every bad row ---------------------------------------------------------


def _rows_table(directory: Path) -> Path:
    """30 rows: a ragged column and a region into a 3-row table, written by hdmf."""
    targets = DynamicTable(
        name="targets",
        description="three rows",
        columns=[VectorData(name="label", description="label", data=["a", "b", "c"])],
    )
    values = VectorData(name="values", description="ragged", data=np.arange(60.0))
    table = DynamicTable(
        name="rows",
        description="thirty rows",
        columns=[
            values,
            VectorIndex(name="values_index", data=np.arange(2, 62, 2), target=values),
            DynamicTableRegion(
                name="target", description="rows", data=np.zeros(30, dtype=int), table=targets
            ),
        ],
    )
    path = directory / "rows.h5"
    with HDF5IO(str(path), manager=get_hdmf_manager(), mode="w") as io:
        io.write(SimpleMultiContainer(name="root", containers=[targets, table]), cache_spec=True)
    return path


@pytest.fixture
def rows_table(tmp_path: Path) -> Iterator[Path]:
    yield _rows_table(tmp_path)


def _issues(path: Path, rule: str) -> list[h5model.validation.report.Issue]:
    return [i for i in h5model.validate(path).issues if i.rule == rule]


@pytest.mark.parametrize(
    ("dataset", "value", "rule"),
    [
        ("/rows/values_index", 250, "table.index-out-of-range"),
        ("/rows/target", 7, "table.region-out-of-range"),
    ],
)
def test_every_bad_row_is_listed_up_to_a_cap(
    rows_table: Path, dataset: str, value: int, rule: str
) -> None:
    from h5model.validation.table_checks import ROWS_PER_RULE

    assert h5model.validate(rows_table).exit_code() == 0
    with h5py.File(rows_table, "r+") as f:
        f[dataset][5:] = value  # 25 bad rows
    issues = _issues(rows_table, rule)
    assert {i.hdf5_path for i in issues} == {dataset}
    assert len(issues) == ROWS_PER_RULE + 1
    for row, issue in zip(range(5, 5 + ROWS_PER_RULE), issues, strict=False):
        assert f"entry {row}" in issue.message
    assert issues[-1].message == "... and 5 more rows with this problem (25 in all)"


def test_few_bad_rows_are_each_listed_without_a_count(rows_table: Path) -> None:
    with h5py.File(rows_table, "r+") as f:
        f["/rows/target"][[3, 17]] = [-1, 3]
        f["/rows/values_index"][10] = 1  # smaller than the entry before it
    regions = _issues(rows_table, "table.region-out-of-range")
    assert ["(entry 3)" in regions[0].message, "(entry 17)" in regions[1].message] == [True] * 2
    assert len(regions) == 2
    (decreasing,) = _issues(rows_table, "table.index-decreasing")
    assert "index entry 10 " in decreasing.message


def test_every_bad_timeseries_reference_is_listed(files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "icephys.nwb"
    shutil.copy(files["icephys"], path)
    column = f"{ICEPHYS}/intracellular_recordings/responses/response"
    with h5py.File(path, "r+") as f:
        dataset = f[column]
        rows = dataset[:]
        rows["count"] = 1000
        dataset[:] = rows
    issues = _issues(path, "table.timeseries-reference-out-of-range")
    assert [i.hdf5_path for i in issues] == [column] * 3
    assert [i.message.split(" covers")[0] for i in issues] == ["row 0", "row 1", "row 2"]


def _reference_to(**series: Any) -> TimeSeriesReference:
    fields = ("idx_start", "count", "timeseries")
    return TimeSeriesReference(fields, (1, 2, SimpleNamespace(hdf5_path="/s", **series)))


def test_timeseries_reference_times_from_timestamps_or_rate() -> None:
    data = SimpleNamespace(value=np.arange(5.0))
    stamped = _reference_to(data=data, timestamps=SimpleNamespace(value=np.arange(5.0) / 4))
    assert stamped.timestamps.tolist() == [0.25, 0.5]
    clocked = _reference_to(
        data=data, timestamps=None, starting_time=SimpleNamespace(value=10.0, rate=2.0)
    )
    assert clocked.timestamps.tolist() == [10.5, 11.0]
    assert clocked.data.tolist() == [1.0, 2.0]
    bare = _reference_to(data=data, timestamps=None, starting_time=None)
    with pytest.raises(H5ModelError, match="neither timestamps nor a starting time"):
        bare.timestamps  # noqa: B018
