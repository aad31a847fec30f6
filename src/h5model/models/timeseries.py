"""Time behaviour for series types, mixed into the models of every type whose spec gives
it sample times: stored ``timestamps``, or a ``starting_time`` with its ``rate``.

The rule set decides which types these are (``rules.ruleset.timed``), from the parts
their specs define, so NWB's TimeSeries and every subtype (in any namespace) get it
without a list of class names. ``get_timestamps()`` matches pynwb's: stored timestamps,
else ``arange(n) / rate + starting_time``. ``time_slice(t0, t1)`` gives the data rows
whose times fall in ``[t0, t1)`` and reads only those: the bounds come from a binary
search on the timestamps (single values read until a block of at most ``BLOCK`` is
left, then that block), or are computed from the rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

import numpy as np

from h5model.errors import H5ModelError, plain
from h5model.models.arrays import H5Array
from h5model.models.nodes import ExternalLink, owner_of

BLOCK = 1 << 16
"""Timestamps read at once by the search: at most this many values."""

V = TypeVar("V")


class _Derived(Generic[V]):
    """A read-only value computed from the model. A non-data descriptor: a field of the
    same name that a subtype's spec defines still wins over it."""

    def __init__(self, compute: Callable[[Any], V]) -> None:
        self._compute = compute
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> _Derived[V]: ...
    @overload
    def __get__(self, instance: object, owner: type[Any]) -> V: ...
    def __get__(self, instance: object | None, owner: type[Any]) -> V | _Derived[V]:
        if instance is None:
            return self
        return self._compute(instance)


def _model(value: Any) -> Any:
    """A part's model (an external link followed)."""
    return value.resolve() if isinstance(value, ExternalLink) else value


def _rate(series: Any) -> float | None:
    """Samples per second, from ``starting_time``'s ``rate`` (None when the series has
    timestamps instead)."""
    starting = _model(getattr(series, "starting_time", None))
    rate = getattr(starting, "rate", None)
    return None if rate is None else float(rate)


def _start_time(series: Any) -> float | None:
    """The time of the first sample: ``starting_time``'s value, else the first stored
    timestamp (None for a series without samples or times)."""
    starting = _model(getattr(series, "starting_time", None))
    if starting is not None:
        return float(np.asarray(starting.value))
    timestamps = _model(getattr(series, "timestamps", None))
    if timestamps is None or not len(timestamps.value):
        return None
    return float(timestamps.value[0])


class TimeSeriesMixin:
    """Sample times of a series: ``get_timestamps()``, ``rate``, ``start_time``,
    ``time_slice(t0, t1)``."""

    hdf5_path: str | None

    rate = _Derived(_rate)
    start_time = _Derived(_start_time)

    # -- parts ----------------------------------------------------------------------------
    def _problem(self, message: str) -> H5ModelError:
        owner = owner_of(self)
        return H5ModelError(message, file=owner.label if owner is not None else None,
                            hdf5_path=self.hdf5_path)

    def _data(self) -> Any:
        data = _model(getattr(self, "data", None))
        if data is None:
            raise self._problem("the series has no data")
        return data.value if hasattr(data, "value") else data

    def _stored_timestamps(self) -> Any:
        timestamps = _model(getattr(self, "timestamps", None))
        return None if timestamps is None else timestamps.value

    def append(self, data: Any, timestamps: Any = None) -> None:
        """Samples appended in place (a file opened with ``stream=True``): ``data`` rows and,
        for a series with stored timestamps, their times, written together (a crash
        keeps both at one length)."""
        stored = self._data()
        times = self._stored_timestamps()
        if (times is None) != (timestamps is None):
            raise self._problem("give timestamps exactly when the series stores them"
                                if times is not None or timestamps is None else
                                "the series is timed by its rate: give no timestamps")
        if not isinstance(stored, H5Array) or (times is not None
                                               and not isinstance(times, H5Array)):
            raise self._problem("samples are appended to a series stored in a file; save it "
                                "first")
        blocks: list[tuple[H5Array, Any]] = [(stored, data)]
        if times is not None:
            rows = np.shape(data)[0] if np.ndim(data) else 1
            if np.shape(timestamps)[0] != rows:
                raise self._problem(f"{rows} rows of data need as many timestamps, not "
                                    f"{np.shape(timestamps)[0]}")
            blocks.append((times, timestamps))
        stored.source.append(blocks, together=True)

    def _clock(self) -> tuple[float, float]:
        """(starting time, rate) of a series timed by its rate."""
        starting = _model(getattr(self, "starting_time", None))
        if starting is None:
            raise self._problem("the series has neither timestamps nor starting_time")
        rate = float(starting.rate)
        if not rate > 0 or math.isinf(rate):
            raise self._problem(f"starting_time has rate {plain(rate)}; a positive rate is "
                                "needed to compute sample times")
        return float(np.asarray(starting.value)), rate

    # -- times ----------------------------------------------------------------------------
    def get_timestamps(self) -> np.ndarray:
        """The time of every sample, in seconds: the stored timestamps, else
        ``arange(len(data)) / rate + starting_time`` (as pynwb computes them)."""
        stored = self._stored_timestamps()
        if stored is not None:
            return np.asarray(stored[()] if isinstance(stored, H5Array) else stored)
        start, rate = self._clock()
        return np.arange(len(self._data())) / rate + start

    def time_range(self, t0: float | None = None, t1: float | None = None) -> slice:
        """The rows whose times fall in ``[t0, t1)`` (None: no bound), as a slice; the
        timestamps are taken to be non-decreasing, as NWB asks."""
        stored = self._stored_timestamps()
        if stored is not None:
            count = len(stored)
            def time_at(i: int) -> float:
                return float(stored[i])
            block = _block_reader(stored)
        else:
            start, rate = self._clock()
            count = len(self._data())
            def time_at(i: int) -> float:
                return float(np.float64(i) / rate + start)
            block = None
        lo = 0 if t0 is None else _first_at_or_after(t0, count, time_at, block)
        hi = count if t1 is None else _first_at_or_after(t1, count, time_at, block)
        return slice(lo, max(lo, hi))

    def time_slice(self, t0: float | None = None, t1: float | None = None) -> Any:
        """The data rows whose times fall in ``[t0, t1)``, read from disk (only those)."""
        return self._data()[self.time_range(t0, t1)]


def _block_reader(stored: Any) -> Callable[[int, int], np.ndarray]:
    def read(lo: int, hi: int) -> np.ndarray:
        return np.asarray(stored[lo:hi], dtype=np.float64)
    return read


def _first_at_or_after(
    t: float, count: int, time_at: Callable[[int], float],
    block: Callable[[int, int], np.ndarray] | None,
) -> int:
    """The first row whose time is ``>= t`` (``count`` if none): a binary search reading
    single values until at most ``BLOCK`` rows are left, then those rows at once."""
    lo, hi = 0, count
    while hi - lo > (BLOCK if block is not None else 0):
        mid = (lo + hi) // 2
        if time_at(mid) >= t:
            hi = mid
        else:
            lo = mid + 1
    if block is not None and hi > lo:
        lo += int(np.searchsorted(block(lo, hi), t, side="left"))
    return lo
