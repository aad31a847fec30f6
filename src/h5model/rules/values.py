"""Rules on values themselves: fixed values, and text that must hold an ISO 8601 time.

The models and validation both ask here, so a value the models refuse is never one
validation passes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from h5model.errors import plain


def same_value(value: Any, fixed: Any) -> bool:
    """True when a stored value equals the value a spec fixes (arrays element-wise)."""
    try:
        if isinstance(value, np.ndarray | list | tuple) or isinstance(fixed, list | tuple):
            return bool(np.array_equal(np.asarray(value), np.asarray(fixed)))
        if isinstance(value, np.generic):
            value = value.item()
        return bool(value == fixed)
    except (TypeError, ValueError):
        return False


_ISO_8601 = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"  # date
    r"(T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)?"  # time
)
"""ISO 8601 extended form, as the spec language's readers accept it: a date, optionally a
``T``, a time, fractional seconds and a zone."""


def parse_isodatetime(value: Any) -> dt.datetime:
    """An ``isodatetime`` value as a datetime, read leniently (as the models do, so that a
    file can be opened to be repaired): any date and time Python's ISO parser reads, a
    trailing ``Z`` as UTC. ValueError for anything else; numbers are refused, the spec
    stores text. ``isodatetime_problem`` is the strict rule validation applies."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, bytes | np.bytes_):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("expected ISO 8601 text, found bytes that are not UTF-8") from None
    if not isinstance(value, str):
        raise ValueError(f"expected ISO 8601 text, found {type(value).__name__}")
    text = value.strip()
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        raise ValueError(f"expected an ISO 8601 date and time, found {_short(value)}")
    try:
        return dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 date and time, found {_short(value)}") from None


def isodatetime_problem(value: Any) -> str | None:
    """Why a stored ``isodatetime`` is not ISO 8601 extended form with a timezone (the spec
    language's rule, as pynwb's validator applies it); None when it is."""
    if isinstance(value, bytes | np.bytes_):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and _ISO_8601.fullmatch(value) is None:
        return f"expected an ISO 8601 date and time (YYYY-MM-DDThh:mm:ss), found {_short(value)}"
    try:
        moment = parse_isodatetime(value)
    except ValueError as exc:
        return str(exc)
    if moment.tzinfo is None:  # pynwb's validator requires it, dates alone included
        return (
            "expected an ISO 8601 date and time with its timezone "
            f"(e.g. 2024-01-01T12:00:00+00:00), found {_short(value)}"
        )
    return None


def isodatetime_text(value: dt.datetime | dt.date | np.datetime64) -> str:
    """How an ``isodatetime`` is written: ISO 8601 with ``T`` and a timezone, as pynwb
    writes it (and its validator requires): the value's own zone, else local time as
    pynwb assumes; a date alone is its midnight, a numpy datetime64 its microsecond, UTC."""
    if isinstance(value, np.datetime64):
        moment = value.astype("datetime64[us]").item()
        if not isinstance(moment, dt.datetime):
            raise ValueError(f"{value!r} is not a date and time")
        value = moment.replace(tzinfo=dt.UTC)  # numpy's times are UTC by convention
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:  # as pynwb does: a time without a zone is local time
        value = value.astimezone()
    return value.isoformat()


def isodatetime_stored(value: Any) -> Any:
    """An ``isodatetime`` value as the text to store: dates and times in ISO 8601 with
    ``T``; text that a reader parses but written without ``T`` (``2020-01-01 10:00``)
    rewritten so; anything else (not a time at all) as it is, for validation to report."""
    if isinstance(value, dt.date | np.datetime64):
        return isodatetime_text(value)
    if isinstance(value, str) and (_ISO_8601.fullmatch(value) is None or "T" not in value):
        try:
            return isodatetime_text(parse_isodatetime(value))
        except ValueError:
            return value
    return value


def as_text(value: Any) -> str:
    """A value as the text stored for it: bytes decoded, dates and times in ISO 8601."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8")
    if isinstance(value, dt.date | np.datetime64):
        return isodatetime_text(value)
    return str(value)


def _short(value: Any) -> str:
    text = repr(plain(value))
    return text if len(text) <= 80 else text[:77] + "..."


def each_time(value: Any, convert: Callable[[Any], Any]) -> Any:
    """``convert`` applied to each item of an ``isodatetime`` value: one value, a list or
    tuple (a list back), or an array of objects, text or datetime64 (an object array)."""
    if isinstance(value, list | tuple):
        return [each_time(v, convert) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUM":
        out = np.empty(value.shape, dtype=object)
        for index, item in np.ndenumerate(value):
            out[index] = convert(item)
        return out
    return convert(value)
