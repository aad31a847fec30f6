"""Models are built the first time they are reached: opening a file costs the graph, not
every model. Whatever the path to a model (``root`` and fields, ``get``, a group's
children, a reference, a link), it is one object, filled once, with the values an eager
read gives; models reached late are edited and saved like any other."""

from __future__ import annotations

import copy
import pickle
import shutil
import threading
from pathlib import Path

import h5py
import pytest
from pynwb import NWBHDF5IO

import h5model
from h5model.models.nodes import is_pending

ELECTRODES = "/general/extracellular_ephys/electrodes"


def test_opening_builds_only_what_is_reached(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        total = len(f._models)
        root = f.root
        built = f._models.built()
        assert len(built) < total // 4
        series = root.acquisition["raw_voltage"]
        assert is_pending(series)  # handed out, not read
        assert series.hdf5_path == "/acquisition/raw_voltage"  # known without reading
        assert is_pending(series)
        assert series.data.shape[0] > 0  # the first field read fills it
        assert not is_pending(series)
        assert ELECTRODES not in built
        assert len(f._models.built()) < total


def test_every_path_to_a_model_gives_the_same_object(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        series = f.root.acquisition["raw_voltage"]
        table = f.get(ELECTRODES)
        assert f.get("/acquisition/raw_voltage") is series
        assert series.electrodes.table is table  # a reference attribute
        units = f.root.units
        assert units.spike_times_index.target is units.spike_times
        found = {m.hdf5_path: m for m in f.find("ElectricalSeries")}
        assert found["/acquisition/raw_voltage"] is series
    with h5model.open(nwb_files["softlinks"]) as f:
        follower = f.get("/acquisition/follower_data")
        leader = f.get("/acquisition/leader_data")
        assert follower.children["data"] is leader.children["data"]  # a soft link


def test_late_models_equal_an_eager_read(nwb_files: dict[str, Path]) -> None:
    for name in ("ecephys", "ophys", "icephys", "behavior", "hdmf_table"):
        with h5model.open(nwb_files[name]) as lazy, h5model.open(nwb_files[name]) as eager:
            everything = dict(eager.models())  # every model filled, parents first
            for path in sorted(everything, reverse=True):  # children first this time
                assert lazy.get(path).model_dump() == everything[path].model_dump(), path


def test_models_reached_after_close_read_what_the_file_held(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        root = f.root
    units = root.units  # reached after the file closed: its groups read from the file
    assert units.spike_times_index.target is units.spike_times
    assert root.acquisition["raw_voltage"].electrodes.table.hdf5_path == ELECTRODES


def test_copies_and_states_fill_first(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        first = f.root.acquisition["raw_voltage"]
        copied = copy.copy(first)
        assert not is_pending(first)
        assert copied.description == first.description
    with h5model.open(nwb_files["ecephys"]) as f:
        group = f.get("/general/extracellular_ephys").children["shank0"]
        assert is_pending(group)
        state = group.__getstate__()
        assert state["__dict__"]["description"] == "first shank"
        assert pickle.loads(pickle.dumps(state["__dict__"]["location"])) == "CA1"


def test_threads_reaching_one_model_fill_it_once(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        series = f.root.acquisition["raw_voltage"]
        reader = series.__pydantic_private__["_h5_fill"].__self__
        calls: list[str] = []
        fill = reader._fill

        def counting(model: object, path: str) -> None:
            calls.append(path)
            fill(model, path)

        reader._fill = counting
        seen: list[object] = []
        barrier = threading.Barrier(8)

        def reach() -> None:
            barrier.wait()
            seen.append(series.data)

        threads = [threading.Thread(target=reach) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert calls.count("/acquisition/raw_voltage") == 1
        assert len(seen) == 8 and all(item is seen[0] for item in seen)


def test_a_model_that_does_not_fit_fails_when_reached(tmp_path: Path,
                                                      nwb_files: dict[str, Path]) -> None:
    damaged = tmp_path / "damaged.nwb"
    shutil.copy(nwb_files["ecephys"], damaged)
    with h5py.File(damaged, "r+") as h5:
        del h5["acquisition/raw_voltage"].attrs["description"]
        h5["acquisition/raw_voltage"].attrs["description"] = [1, 2, 3]
    with h5model.open(damaged) as f:
        series = f.root.acquisition["raw_voltage"]  # handed out: nothing read yet
        for _ in range(2):  # still unread after the failure: the next read fails alike
            with pytest.raises(h5model.ModelError) as caught:
                _ = series.description
            assert caught.value.hdf5_path == "/acquisition/raw_voltage"
            assert str(damaged) in str(caught.value) and "description" in str(caught.value)
    assert h5model.validate(damaged).exit_code() == 1  # validation reads no model


def test_models_reached_late_are_saved_and_pynwb_reads_them(
    tmp_path: Path, nwb_files: dict[str, Path]
) -> None:
    path = tmp_path / "edited.nwb"
    shutil.copy(nwb_files["ecephys"], path)
    with h5model.open(path, "r+") as f:
        f.get("/general/extracellular_ephys/shank0").description = "edited late"
        f.save()
        # reached only after the save: read from the file as the save left it
        shank1 = f.get("/general/extracellular_ephys/shank1")
        assert shank1.description == "second shank"
        module = f.get("/processing/ecephys")
        module.remove("spike_events")
        f.save()
        assert "/processing/ecephys/spike_events" not in f
        with pytest.raises(h5model.NotFoundError):
            f.get("/processing/ecephys/spike_events")
    with NWBHDF5IO(str(path), "r") as io:
        nwbfile = io.read()
        assert nwbfile.electrode_groups["shank0"].description == "edited late"
        assert "spike_events" not in nwbfile.processing["ecephys"].data_interfaces


def test_models_read_alike_share_their_set_fields_until_one_is_assigned(
    tmp_path: Path, nwb_files: dict[str, Path]
) -> None:
    path = tmp_path / "shared.nwb"
    shutil.copy(nwb_files["ecephys"], path)
    with h5model.open(path, "r+") as f:
        first = f.get("/general/extracellular_ephys/shank0")
        second = f.get("/general/extracellular_ephys/shank1")
        assert first.model_fields_set == second.model_fields_set
        assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__  # one object
        before = set(second.model_fields_set)
        first.position = None  # an optional field not in the file
        assert "position" in first.model_fields_set
        assert second.model_fields_set == before  # untouched


def test_threads_reaching_one_path_get_one_model(nwb_files: dict[str, Path]) -> None:
    import time

    with h5model.open(nwb_files["ecephys"]) as f:
        reader = f._models._source
        class_of = reader.class_of

        def slow(path: str) -> object:  # a thread switch while the class is found
            time.sleep(0.01)
            return class_of(path)

        reader.class_of = slow
        seen: list[object] = []
        barrier = threading.Barrier(8)

        def reach() -> None:
            barrier.wait()
            seen.append(f.get("/general/extracellular_ephys/shank1"))

        threads = [threading.Thread(target=reach) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 8 and all(model is seen[0] for model in seen)
