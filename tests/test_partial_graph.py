"""Reading a file opens the graph group by group as models reach it: what is read equals
what the whole traversal reads for those groups, canonical paths and identity hold when
objects have several hard links, references and soft links reach groups not read yet,
and whatever needs every object gets the whole graph."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import h5py
import pytest

import h5model
from h5model.errors import H5ModelError
from h5model.hdf5.graph import FileIndex, build_graph

ELECTRODES = "/general/extracellular_ephys/electrodes"
FILES = ("ecephys", "ophys", "icephys", "behavior", "hdmf_table", "softlinks", "misc",
         "external", "extension")


def _as_read(f: h5model.File[Any]) -> FileIndex:
    index = f._tracker.index_as_read
    assert index is not None
    return index


def _whole(path: Path) -> FileIndex:
    with h5py.File(path, "r") as h5:
        return build_graph(h5, str(path))


def _same_as_whole(partial: FileIndex, whole: FileIndex) -> None:
    """Every object the partial graph holds is held alike by the whole one."""
    for path, data in partial.graph.nodes(data=True):
        assert whole.graph.nodes[path] == data, path
        assert partial.attrs.get(path, {}).keys() == whole.attrs.get(path, {}).keys(), path
    assert partial.partial is not None
    for path in partial.partial.expanded:
        mine = [(c.name, c.kind, c.target, c.broken) for c in partial.children[path]]
        theirs = [(c.name, c.kind, c.target, c.broken) for c in whole.children[path]]
        assert mine == theirs, path


def test_reaching_one_series_reads_only_the_groups_on_the_way(
        nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        index = _as_read(f)
        # opening reads the root and its entries only
        assert all(path.count("/") == 1 for path in index.graph.nodes)
        series = f.root.acquisition["raw_voltage"]
        assert series.data.shape[0] > 0
        assert index.partial is not None
        assert "/processing" not in index.partial.expanded
        assert "/general/extracellular_ephys" not in index.partial.expanded
        whole = _whole(nwb_files["ecephys"])
        assert len(index.graph.nodes) < len(whole.graph.nodes) // 2
        _same_as_whole(index, whole)


@pytest.mark.parametrize("name", FILES)
def test_models_read_through_a_partial_graph_equal_the_whole_read(
        nwb_files: dict[str, Path], name: str) -> None:
    whole = _whole(nwb_files[name])
    with h5model.open(nwb_files[name], index=False) as f, \
            h5model.open(nwb_files[name], index=False) as eager:
        everything = dict(eager.models())  # iterating reads the whole graph first
        assert _as_read(eager).partial is None
        index = _as_read(f)
        for path in sorted(everything, reverse=True):  # deepest first: most out of order
            model = f.get(path)
            assert model.model_dump() == everything[path].model_dump(), path
            if index.partial is not None:
                _same_as_whole(index, whole)
        assert f.index is index  # the whole graph, read in place
        assert index.partial is None
        assert set(index.graph.nodes) == set(whole.graph.nodes)
        assert index.attr_refs == whole.attr_refs


def test_references_and_soft_links_reach_groups_not_read_yet(
        nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        table = f.root.acquisition["raw_voltage"].electrodes.table
        assert table.hdf5_path == ELECTRODES
        assert table is f.get(ELECTRODES)
    with h5model.open(nwb_files["softlinks"]) as f:
        follower = f.get("/acquisition/follower_data")
        leader = f.get("/acquisition/leader_data")
        assert follower.children["data"] is leader.children["data"]


def _hard_linked(source: Path, tmp_path: Path) -> Path:
    """The ecephys file with a second hard link to the electrodes table, met before the
    table's own path in breadth-first name order."""
    path = tmp_path / "hard.nwb"
    shutil.copy(source, path)
    with h5py.File(path, "r+") as h5:
        h5["/acquisition/aaa_electrodes"] = h5[ELECTRODES]
    return path


def test_an_object_with_two_hard_links_keeps_the_canonical_path_of_the_whole_walk(
        nwb_files: dict[str, Path], tmp_path: Path) -> None:
    path = _hard_linked(nwb_files["ecephys"], tmp_path)
    whole = _whole(path)
    canonical = "/acquisition/aaa_electrodes"
    assert canonical in whole.graph.nodes and ELECTRODES not in whole.graph.nodes
    with h5model.open(path, index=False) as f:
        table = f.root.acquisition["raw_voltage"].electrodes.table
        assert table.hdf5_path == canonical
        assert f.get(ELECTRODES) is table
        assert f.get(canonical) is table
        assert _as_read(f).partial is None  # a shared object needs the whole walk
    with h5model.open(path, index=False) as f:  # reached the other way first
        table = f.get(ELECTRODES)
        assert table.hdf5_path == canonical
        assert f.root.acquisition["raw_voltage"].electrodes.table is table


def test_what_needs_every_object_gets_the_whole_graph(nwb_files: dict[str, Path]) -> None:
    whole = _whole(nwb_files["ecephys"])
    with h5model.open(nwb_files["ecephys"], index=False) as f:
        assert f.root.session_description
        assert len(f.graph) == len(whole.graph.to_networkx())
        assert _as_read(f).partial is None
    with h5model.open(nwb_files["ecephys"], index=False) as f:
        found = f.find("ElectricalSeries")
        # subtypes too: a SpikeEventSeries is an ElectricalSeries
        assert [m.hdf5_path for m in found] == ["/acquisition/raw_voltage",
                                                "/processing/ecephys/spike_events"]
        assert _as_read(f).partial is None


def test_groups_reached_after_close_are_read_from_the_unchanged_file(
        nwb_files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "closed.nwb"
    shutil.copy(nwb_files["ecephys"], path)
    with h5model.open(path, index=False) as f:
        root = f.root
    assert root.units.spike_times_index.target is root.units.spike_times
    with h5model.open(path, index=False) as f:
        root = f.root
    with h5py.File(path, "r+") as h5:  # another writer changes the file meanwhile
        h5.attrs["note"] = "changed"
    with pytest.raises(H5ModelError, match="changed by another writer") as caught:
        root.acquisition["raw_voltage"].electrodes  # noqa: B018
    assert str(path) in str(caught.value)


def test_files_open_for_editing_and_under_a_layout_read_the_whole_graph(
        nwb_files: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "edit.nwb"
    shutil.copy(nwb_files["minimal"], path)
    with h5model.open(path, "r+") as f:
        assert _as_read(f).partial is None


def test_without_the_compiled_step_shared_objects_are_found_alike(
        nwb_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from h5model.hdf5 import graph

    monkeypatch.setattr(graph, "SCANNER", None)  # h5py reads each object
    monkeypatch.setattr(graph, "GROUP_SCANNER", None)
    path = _hard_linked(nwb_files["ecephys"], tmp_path)
    with h5model.open(path, index=False) as f:
        table = f.get(ELECTRODES)
        assert table.hdf5_path == "/acquisition/aaa_electrodes"
        assert _as_read(f).partial is None


SAVE_ELSEWHERE = """
import sys, h5model
with h5model.open(sys.argv[1], "r+") as f:
    f.root.session_description = "saved by another process"
    f.save()
"""


def test_a_save_by_another_process_refuses_reading_on_never_mixes(
        nwb_files: dict[str, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "shared.nwb"
    shutil.copy(nwb_files["ecephys"], path)
    with h5model.open(path) as lazy, h5model.open(path, structure="at_open") as whole:
        before = lazy.root.session_description
        subprocess.run([sys.executable, "-c", SAVE_ELSEWHERE, str(path)], check=True)
        with pytest.raises(H5ModelError, match="changed by another writer"):
            lazy.root.acquisition["raw_voltage"].data  # noqa: B018
        # read at open: the models keep the state the file had then
        series = whole.root.acquisition["raw_voltage"]
        assert series.hdf5_path == "/acquisition/raw_voltage" and series.description
        assert whole.root.session_description == before
    with h5model.open(path) as f:
        assert f.root.session_description == "saved by another process"


def test_structure_takes_two_values(nwb_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="structure must be one of"):
        h5model.open(nwb_files["minimal"], structure="lazy")  # type: ignore[arg-type]


def _many_series(tmp_path: Path) -> Path:
    """A pynwb file whose stimulus group holds more series than a small group, and whose
    acquisition holds one ElectricalSeries referring to the electrodes table."""
    from pynwb import NWBHDF5IO
    from pynwb.testing.mock.base import mock_TimeSeries
    from pynwb.testing.mock.ecephys import mock_ElectricalSeries
    from pynwb.testing.mock.file import mock_NWBFile

    from h5model.hdf5.partial import SMALL_GROUP

    nwbfile = mock_NWBFile()
    for i in range(SMALL_GROUP + 10):
        nwbfile.add_stimulus(mock_TimeSeries(name=f"stim_{i:03d}", nwbfile=None))
    mock_ElectricalSeries(name="es", nwbfile=nwbfile)
    path = tmp_path / "many.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def test_a_reference_is_found_without_reading_big_groups(tmp_path: Path) -> None:
    path = _many_series(tmp_path)
    with h5model.open(path) as f:
        series = f.root.acquisition["es"]
        table = series.electrodes.table  # an attribute reference to a group not read yet
        index = _as_read(f)
        assert index.partial is not None  # found by reading groups, not the whole file
        assert "/stimulus/presentation" not in index.partial.expanded
        assert table.hdf5_path == ELECTRODES and table is f.get(ELECTRODES)
        # a reference read from a dataset: the electrodes' group column
        group = table.group.value[0]
        assert group is f.get(group.hdf5_path)
        assert group.hdf5_path.startswith("/general/extracellular_ephys/")
        assert "/stimulus/presentation" not in index.partial.expanded
    with h5model.open(path, structure="at_open") as f:
        assert f.root.acquisition["es"].electrodes.table.hdf5_path == ELECTRODES


def test_groups_are_read_with_a_small_metadata_cache(
        nwb_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from h5model.hdf5 import graph

    sizes: list[int] = []
    group = graph._Walker._group

    def measured(walker: Any, path: str, gid: Any) -> Any:
        sizes.append(walker.file.id.get_mdc_config().max_size)
        return group(walker, path, gid)

    monkeypatch.setattr(graph._Walker, "_group", measured)
    with h5model.open(nwb_files["ecephys"]) as f:
        assert f.root.acquisition["raw_voltage"].data.shape
        after = f.h5.id.get_mdc_config().max_size
    assert sizes and max(sizes) <= graph.WALK_CACHE_BYTES
    assert after > graph.WALK_CACHE_BYTES  # the file's own setting once the read is done


def test_a_group_whose_read_failed_is_read_whole_the_next_time(
        nwb_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from h5model.hdf5 import graph

    whole = _whole(nwb_files["ecephys"])
    if graph.SCANNER is None:
        pytest.skip("the compiled traversal step is not built here")
    take = graph._Walker._take
    failed: list[str] = []

    def flaky(walker: Any, gid: Any, raw_name: bytes, path: str, address: int,
              found: Any) -> Any:
        if path == "/acquisition/raw_voltage/data" and not failed:
            failed.append(path)
            raise OSError("a read that failed once")
        return take(walker, gid, raw_name, path, address, found)

    monkeypatch.setattr(graph._Walker, "_take", flaky)
    with h5model.open(nwb_files["ecephys"]) as f:
        series = f.root.acquisition["raw_voltage"]
        with pytest.raises(H5ModelError, match="a read that failed once") as caught:
            series.data  # noqa: B018
        assert caught.value.hdf5_path == "/acquisition/raw_voltage"
        assert series.data.shape == (100, 6)  # read again, whole
        index = _as_read(f)
        names = [c.name for c in index.children["/acquisition/raw_voltage"]]
        assert names == [c.name for c in whole.children["/acquisition/raw_voltage"]]
