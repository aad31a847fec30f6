"""Sample times of series, compared with pynwb: ``get_timestamps()``, ``rate``,
``start_time`` and ``time_slice`` on every TimeSeries pynwb writes, and a long series
whose time slices read only a bounded part of its timestamps."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nwbfiles import ALL_FILE_NAMES, HDMF_ONLY
from pynwb import NWBHDF5IO, NWBFile, TimeSeries

import h5model
from h5model.models import timeseries
from h5model.models.arrays import H5Array
from h5model.models.timeseries import TimeSeriesMixin
from h5model.rules.ruleset import TIMED_MIXIN, RuleSet

NWB_NAMES = [n for n in ALL_FILE_NAMES if n not in HDMF_ONLY]


def _text(values: Any) -> Any:
    array = np.asarray(values)
    if array.dtype.kind in "OS":
        return np.array([v.decode() if isinstance(v, bytes) else v for v in array.flat],
                        dtype=object).reshape(array.shape)
    return array


def _compare_with_pynwb(path: Path) -> int:
    """Every series of the file against pynwb; returns how many were compared."""
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with NWBHDF5IO(str(path), "r") as io, h5model.open(path) as f:
            nwb = io.read()
            for theirs in nwb.objects.values():
                if not isinstance(theirs, TimeSeries):
                    continue
                (ours,) = [m for m in f.find("TimeSeries") if m.object_id == theirs.object_id]
                assert isinstance(ours, TimeSeriesMixin)
                times = np.asarray(theirs.get_timestamps())
                assert np.array_equal(ours.get_timestamps(), times)
                assert ours.rate == theirs.rate
                if theirs.starting_time is not None:
                    assert ours.start_time == theirs.starting_time
                elif len(times):
                    assert ours.start_time == times[0]
                data = _text(theirs.data[:])
                if len(times) != len(data):
                    continue
                for t0, t1 in _windows(times):
                    rows = (times >= t0) & (times < t1)
                    assert np.array_equal(_text(ours.time_slice(t0, t1)), data[rows])
                compared += 1
    return compared


def _windows(times: np.ndarray) -> list[tuple[float, float]]:
    if not len(times):
        return [(0.0, 1.0)]
    first, last = float(times[0]), float(times[-1])
    middle = float(times[len(times) // 2])
    return [(first, last), (middle, last + 1), (first - 1, middle), (last + 1, last + 2),
            (middle, middle), (first - 2, first - 1), (first, np.nextafter(first, np.inf))]


@pytest.mark.parametrize("name", NWB_NAMES)
def test_times_match_pynwb(nwb_files: dict[str, Path], name: str) -> None:
    _compare_with_pynwb(nwb_files[name])


def test_rule_set_decides_which_types_are_timed(nwb_files: dict[str, Path]) -> None:
    """The first type of each line whose spec gives sample times has the behaviour (here
    TimeSeries, and the extension's series through it); no other type has its own."""
    with h5model.open(nwb_files["extension"]) as f:
        rules = RuleSet(f.specs)  # type: ignore[arg-type]
        timed = []
        for namespace in f.specs.namespaces:  # type: ignore[union-attr]
            for rule in rules.namespace(namespace).classes.values():
                if rule.mixin == TIMED_MIXIN:
                    timed.append((rule.namespace, rule.type_name))
        assert timed == [("core", "TimeSeries")]
        series = [m for _, m in f.models() if isinstance(m, f.modules["core"].TimeSeries)]
        assert series and all(isinstance(m, TimeSeriesMixin) for m in series)
        assert not any(isinstance(m, TimeSeriesMixin) for _, m in f.models()
                       if not isinstance(m, f.modules["core"].TimeSeries))


def _long_series(path: Path, count: int, *, rate: bool) -> Path:
    nwbfile = NWBFile("long series", "long", datetime(2024, 1, 1, tzinfo=UTC))
    rng = np.random.default_rng(7)
    data = np.arange(count, dtype=np.int32)
    if rate:
        series = TimeSeries(name="s", data=data, unit="m", starting_time=2.5, rate=30000.0)
    else:
        steps = rng.integers(0, 3, count).astype(np.float64) / 1000.0  # repeats too
        series = TimeSeries(name="s", data=data, unit="m", timestamps=np.cumsum(steps))
    nwbfile.add_acquisition(series)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


@pytest.mark.parametrize("rate", [False, True])
def test_long_series_reads_a_bounded_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rate: bool
) -> None:
    count = 300_000
    path = _long_series(tmp_path / "long.nwb", count, rate=rate)
    assert _compare_with_pynwb(path) == 1
    read: dict[str, int] = {}
    original = H5Array.__getitem__

    def counting(self: H5Array, key: Any) -> Any:
        out = original(self, key)
        read[self.hdf5_path] = read.get(self.hdf5_path, 0) + int(np.size(out))
        return out

    monkeypatch.setattr(H5Array, "__getitem__", counting)
    with h5model.open(path) as f:
        series = f.get("/acquisition/s")
        times = series.get_timestamps()
        t0, t1 = float(times[count // 3]), float(times[count // 3 + 1000])
        read.clear()
        rows = series.time_slice(t0, t1)
        assert np.array_equal(rows, np.arange(count)[(times >= t0) & (times < t1)])
    assert read["/acquisition/s/data"] == len(rows)  # only the rows asked for
    bound = 2 * (timeseries.BLOCK + 64)  # two searches: one block each, and single values
    assert read.get("/acquisition/s/timestamps", 0) <= bound < count


def test_a_series_without_times_says_so(nwb_files: dict[str, Path]) -> None:
    with h5model.open(nwb_files["minimal"]) as f:
        (series,) = f.find("TimeSeries")
        object.__setattr__(series, "timestamps", None)
        object.__setattr__(series, "starting_time", None)
        with pytest.raises(h5model.H5ModelError, match="neither timestamps nor starting_time"):
            series.get_timestamps()
