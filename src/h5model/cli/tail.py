"""``h5model tail FILE HDF5_PATH``: follow a growing dataset, table or event group.

Prints the last rows, then every row a streaming writer flushes after them, like
``tail -f``: the file is read live (SWMR) and its shapes read again every
``--interval`` seconds. A dataset prints ``row<TAB>value``; a table or an event
group (datasets of one row per event) prints ``row<TAB>{column: value, ...}``, an
image or other array cell as its shape. A path that does not grow prints its last
rows and is followed anyway; Ctrl-C stops it cleanly (exit 0). Rows cut back by a
repair are said, not printed again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from h5model.batch.interrupts import ctrl_c_as_flag
from h5model.errors import H5ModelError
from h5model.models.arrays import H5Array
from h5model.models.nodes import Dataset, Group, Node
from h5model.models.tables import DynamicTableMixin
from h5model.session.file import File, open


class _Rows:
    """How many rows the followed object has, and row ``i`` as text."""

    def __init__(self, model: Any, label: str, hdf5_path: str) -> None:
        self.model = model
        if isinstance(model, DynamicTableMixin):
            self.kind = "table"
        elif isinstance(model, Dataset) and isinstance(model.value, H5Array) and model.shape:
            self.kind = "dataset"
        elif isinstance(model, Group) and self._features():
            self.kind = "events"
        else:
            raise H5ModelError("tail follows a dataset of rows, a table or a group of "
                               "datasets of one row per event", file=label, hdf5_path=hdf5_path)

    def _features(self) -> dict[str, H5Array]:
        return {name: child.value for name, child in self.model.items()
                if isinstance(child, Dataset) and isinstance(child.value, H5Array)
                and child.value.shape}

    def __len__(self) -> int:
        if self.kind == "table":
            return len(self.model)
        if self.kind == "dataset":
            return len(self.model.value)
        return min(len(a) for a in self._features().values())

    def lines(self, start: int, stop: int) -> list[str]:
        if self.kind == "dataset":
            return [f"{start + i}\t{_cell(v)}" for i, v in
                    enumerate(self.model.value[start:stop])]
        if self.kind == "table":
            return [f"{i}\t{_record(self.model.row(i))}" for i in range(start, stop)]
        columns = {n: a[start:stop] for n, a in sorted(self._features().items())}
        return [f"{start + i}\t{_record({n: c[i] for n, c in columns.items()})}"
                for i in range(stop - start)]


def _cell(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.ndim > 1 or value.size > 8:
            return f"<{value.dtype} {'x'.join(str(n) for n in value.shape)}>"
        return np.array2string(value, separator=", ")
    if isinstance(value, dict):
        return _record(value)
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    if isinstance(value, Node):
        return f"-> {value.hdf5_path}"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _record(row: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_cell(v)}" for k, v in row.items()) + "}"


def tail(path: Path, hdf5_path: str, *, lines: int = 10, interval: float = 1.0,
         layout: Any = None, out: TextIO, keep_going: Callable[[], bool] = lambda: True) -> int:
    """Print the last ``lines`` rows of ``hdf5_path``, then new rows as they come, until
    Ctrl-C (or ``keep_going()`` is false); exit code 0."""
    try:
        with open(path, layout=layout, index=False) as f:
            rows = _Rows(f.get(hdf5_path), f.label, hdf5_path)
            shown = len(rows)
            _print(out, rows.lines(max(0, shown - lines), shown))
            with ctrl_c_as_flag() as stop:
                while keep_going() and not stop.wait(interval):
                    shown = _more(f, rows, shown, out)
    except KeyboardInterrupt:
        pass
    return 0


def _more(f: File[Any], rows: _Rows, shown: int, out: TextIO) -> int:
    f.refresh()
    now = len(rows)
    if now < shown:
        print(f"-- cut back to {now} rows", file=out, flush=True)
    elif now > shown:
        _print(out, rows.lines(shown, now))
    return now


def _print(out: TextIO, text: list[str]) -> None:
    if text:
        out.write("".join(line + "\n" for line in text))
        out.flush()
