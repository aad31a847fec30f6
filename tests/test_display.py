"""Models show their data: field listings (repr), collapsible trees (HTML, rich) with every
text from the file escaped, and dumps to plain data and JSON that never walk the graph."""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from helpers import read_pynwb

import h5model
from h5model.models import display

HOSTILE = "<script>alert('x')</script>[bold]&amp;"
HOSTILE_NAME = "<script>alert('x')<\\script>[bold]&amp;"  # HDF5 names hold no '/'
SERIES = "/acquisition/raw_voltage"
ELECTRODES = "/general/extracellular_ephys/electrodes"




@pytest.fixture(scope="module")
def hostile(nwb_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ecephys file with a series whose name and description are markup."""
    path = tmp_path_factory.mktemp("hostile") / "hostile.nwb"
    shutil.copyfile(nwb_files["ecephys"], path)
    with h5model.open(path, "r+") as f:
        core = f.modules["core"]
        series = core.TimeSeries(
            data=core.TimeSeries__data(value=np.zeros(3), unit=HOSTILE),
            starting_time=core.TimeSeries__starting_time(value=0.0, rate=1.0),
            description=HOSTILE,
        )
        f.get("/acquisition").add(HOSTILE_NAME, series)
        f.save()
    return path


# -- repr ------------------------------------------------------------------------------------


def test_repr_lists_fields(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f, read_pynwb(nwb_files["ecephys"]) as nwb:
        series = f.get(SERIES)
        text = repr(series)
        assert text.splitlines()[0] == f"<ElectricalSeries {SERIES!r}>"
        assert f"description: {nwb.acquisition['raw_voltage'].description!r}" in text
        assert f"data: ElectricalSeries__data '{SERIES}/data'" in text  # a contained child
        shape = nwb.acquisition["raw_voltage"].data.shape
        assert f"value: array shape={shape} dtype=int16" in repr(series.data)  # not read
        assert f"table: -> ElectrodesTable {ELECTRODES!r}" in repr(series.electrodes)
        units = f.get("/units")
        assert "sampling_rate: 30000.0" in repr(units.waveforms)
        assert "vector_data: 1 item (quality)" in repr(units)
        assert "session_start_time: 2024-01-02T03:04:05+00:00" in repr(f.root)
        assert str(series) == repr(series)


def test_repr_is_bounded(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    path = shutil.copyfile(nwb_files["ecephys"], tmp_path / "ecephys.nwb")
    with h5model.open(path, "r+") as f:  # edited in memory, never saved
        units = f.get("/units")
        long = "x" * 100_000
        units.description = long
        text = repr(units)
        assert len(text) <= display.MAX_REPR
        assert long[: display.MAX_TEXT] not in text
        for _, model in f.models():
            assert len(repr(model)) <= display.MAX_REPR


# -- trees -----------------------------------------------------------------------------------


def test_html_is_a_tree_of_details(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f:
        page = f.root._repr_html_()
        assert page.startswith('<div class="h5model"><details open><summary>')
        assert page.count("<details") == page.count("</details>") > 10
        assert "sampling_rate</b>: 30000.0" in page
        assert "-&gt; ElectrodesTable" in page  # a reference shown by its path


def test_html_escapes_every_text_from_the_file(hostile: Path) -> None:
    with h5model.open(hostile) as f:
        for model in (f.root, f.get("/acquisition"), f.get("/acquisition")[HOSTILE_NAME]):
            page = model._repr_html_()
            assert "<script" not in page
            assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # the value
            assert html.escape(repr(HOSTILE_NAME)[1:-1]) in page  # the name, in its path
            assert "&amp;amp;" in page


def test_rich_shows_a_tree_with_markup_as_text(hostile: Path) -> None:
    rich_console = pytest.importorskip("rich.console")
    with h5model.open(hostile) as f:
        console = rich_console.Console(record=True, width=200, color_system=None)
        console.print(f.get("/acquisition"))
        out = console.export_text()
    assert out.splitlines()[0] == "NWBFile__acquisition '/acquisition'"
    assert HOSTILE in out and repr(HOSTILE_NAME)[1:-1] in out  # markup shown as written
    assert "value: array shape=(100, 6) dtype=int16" in out


# -- dumps -----------------------------------------------------------------------------------


def test_dump_summarises_arrays_and_gives_references_as_paths(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f, read_pynwb(nwb_files["ecephys"]) as nwb:
        dump = f.get(SERIES).model_dump()
        expected = nwb.acquisition["raw_voltage"]
        assert dump["data"]["value"] == {
            "path": f"{SERIES}/data", "shape": list(expected.data.shape), "dtype": "int16",
        }
        assert dump["electrodes"]["table"] == ELECTRODES  # a reference: its path
        assert dump["starting_time"]["value"] == expected.starting_time
        assert dump["object_id"] == expected.object_id
        root = f.root.model_dump()
        assert root["session_start_time"] == nwb.session_start_time  # python mode: datetime
        assert root["acquisition"]["nwb_data_interface"]["raw_voltage"] == dump


def test_dump_with_values(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["ecephys"]) as f, read_pynwb(nwb_files["ecephys"]) as nwb:
        units = f.get("/units").model_dump(context={"arrays": "values"})
        assert units["spike_times"]["value"] == list(nwb.units.spike_times.data[:])
        groups = units["electrode_group"]["value"]
        assert groups == [f"/general/extracellular_ephys/{g.name}"
                          for g in nwb.units.electrode_group.data[:]]
        dates = f.root.model_dump(mode="json", context={"arrays": "values"})["file_create_date"]
        assert dates == [d.isoformat() for d in nwb.file_create_date]


@pytest.mark.parametrize("name", ["ecephys", "icephys", "ophys", "behavior", "misc",
                                  "softlinks", "external", "extension", "hdmf_table"])
def test_dump_json_of_every_file(nwb_files: dict[str, Path], name: str) -> None:
    with h5model.open(nwb_files[name]) as f:
        for values in (None, {"arrays": "values"}):
            data = json.loads(f.root.model_dump_json(context=values))
            assert data["hdf5_path"] == "/"
        with read_pynwb(nwb_files[name]) if name != "hdmf_table" else _nothing() as nwb:
            if nwb is not None:
                assert data["session_start_time"] == nwb.session_start_time.isoformat()
        for path, model in f.models():
            assert json.loads(model.model_dump_json())["hdf5_path"] == path


@contextmanager
def _nothing() -> Iterator[None]:
    yield None
