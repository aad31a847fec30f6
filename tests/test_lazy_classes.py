"""Generated classes are built the first time they are reached: a process pays for the
types its files use. Whatever the path to a class (the reader, attribute access, ``from
... import``, pickling, a string annotation of a cycle), it is built once and is always
the same object."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from h5model._generated import core_2_11_0 as core

import h5model

_COUNT_BUILT = """
import sys
import h5model
from h5model._generated import core_2_11_0 as core
before = sum(name in vars(core) for name in core.__all__)
with h5model.open(sys.argv[1]) as f:
    kinds = {type(m).__name__ for _, m in f.models()}
after = sum(name in vars(core) for name in core.__all__)
print(before, after, len(core.__all__), "NWBFile" in kinds)
"""


def test_opening_a_file_builds_only_the_classes_it_reaches(nwb_files: dict[str, Path]) -> None:
    done = subprocess.run([sys.executable, "-c", _COUNT_BUILT, str(nwb_files["ecephys"])],
                          capture_output=True, text=True, check=True)
    before, after, total, typed = done.stdout.split()
    assert int(before) == 0  # importing the module builds nothing
    assert 0 < int(after) < int(total) // 2
    assert typed == "True"


def test_every_path_to_a_class_gives_the_same_object(nwb_files: dict[str, Path]) -> None:
    from h5model._generated.core_2_11_0 import TimeSeries

    name = "TimeSeries"
    assert core.TimeSeries is TimeSeries is getattr(core, name)
    assert TimeSeries.__qualname__ == "TimeSeries"
    assert TimeSeries.__module__ == core.__name__
    assert "TimeSeries" in dir(core)
    with h5model.open(nwb_files["ecephys"]) as f:
        assert f.modules["core"].ElectricalSeries is core.ElectricalSeries
        series = f.get("/acquisition/raw_voltage")
        assert type(series) is core.ElectricalSeries
        assert isinstance(series, TimeSeries)
    assert pickle.loads(pickle.dumps(core.ElectricalSeries)) is core.ElectricalSeries


def test_threads_racing_for_a_class_get_one_class() -> None:
    code = """
import threading
from h5model._generated import core_2_11_0 as core
seen = []
threads = [threading.Thread(target=lambda: seen.append(core.ImagingRetinotopy))
           for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(len({id(c) for c in seen}), len(seen))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["1", "8"]


def test_a_class_in_a_spec_cycle_resolves_its_string_annotations() -> None:
    """hdmf-common's meanings tables name MeaningsTable, defined after them: the string
    annotation resolves once the class it names is built, on first use, in a fresh
    process where nothing else built it."""
    code = """
from h5model._generated import hdmf_common_1_10_0 as common
group = common.DynamicTable__meanings_tables
print("MeaningsTable" in vars(common), group.__pydantic_complete__)
made = group(hdf5_path="/t/meanings_tables")
print("MeaningsTable" in vars(common), group.__pydantic_complete__, made.meanings_table)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split("\n")[:2] == ["False False", "True True {}"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        core.NoSuchType  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchType" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
    assert not hasattr(core, "_m_")


_PARTS_FIRST = """
import sys
from pydantic._internal import _config
from h5model._generated import core_2_11_0 as core
built = []
core_config = _config.ConfigWrapper.core_config
def counting(self, title=None):
    if sys._getframe(1).f_code.co_name == "_model_schema":
        built.append(title)  # a class's schema generated (not its validator's settings)
    return core_config(self, title)
_config.ConfigWrapper.core_config = counting
core.NWBFile.model_rebuild()
core.NWBFile__general.model_rebuild()  # as the reader does when it meets these
core.Device.model_rebuild()
print(built.count("NWBFile__general"), built.count("Device"))
"""


def test_a_class_is_completed_after_the_classes_its_fields_hold() -> None:
    # pydantic copies an incomplete class's schema into each class naming it: a root built
    # first would build each part's schema once per class on the way down
    done = subprocess.run([sys.executable, "-c", _PARTS_FIRST], capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["1", "1"]
