"""After a streaming writer died: the file made whole again, and what was cut logged.

A writer killed at any moment leaves the file as HDF5's SWMR mode keeps it
(consistent as of its last flush, perhaps with part of a batch after it), its
superblock flags saying a writer still has it (every open but a SWMR read fails),
and its sidecar naming the rows it had made durable. Repair clears the flags, cuts
every dataset back to the rows its sidecar lists (so datasets appended together
keep one length, and a partly written batch is gone), sets count attributes to the
rows kept, and records what it did: in ``/logs/h5model-repair`` in an event file (RT-DC
keeps its logs there; an event sink says so), else in ``NAME.h5model-log`` beside the
file (so pynwb never meets an object its spec lacks). It runs on the next open for
writing (for a file an h5model writer left, its sidecar beside it), or when called
(for any file whose writer is known to be gone).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from h5model.hdf5 import superblock
from h5model.persist.streaming import sidecar
from h5model.persist.streaming.extendable import cut_rows

LOG_NAME = "h5model-repair"


@dataclass
class RepairReport:
    """What a repair did."""

    path: Path
    cleared_flags: bool = False
    cut: dict[str, int] = field(default_factory=dict)
    """hdf5 path -> rows removed."""
    log: str | None = None
    """Where the record went (``/logs/h5model-repair`` or the log file beside the file)."""

    def lines(self) -> list[str]:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        out = [f"{stamp} repaired after an interrupted streaming write"]
        if self.cleared_flags:
            out.append(f"{stamp} cleared the writer flags a killed writer left")
        out += [f"{stamp} cut {n} unflushed rows from {p}" for p, n in sorted(self.cut.items())]
        return out


def log_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.h5model-log")


def needs_repair(path: Path) -> bool:
    return sidecar.sidecar_path(path).exists() or bool(superblock.status_flags(path))


def repair(path: str | Path, *, own_only: bool = False) -> RepairReport | None:
    """Make a file a dead streaming writer left whole (call with no writer on it); None
    if there was nothing to do. ``own_only``: only if an h5model writer left its sidecar
    (what opening for writing does: flags without a sidecar may be another program's
    live SWMR writer, which nothing here can see)."""
    path = Path(path)
    committed = sidecar.read(path)
    if own_only and committed is None:
        return None
    flags = superblock.status_flags(path)
    if committed is None and not flags:
        return None
    report = RepairReport(path)
    report.cleared_flags = superblock.clear_status_flags(path) if flags else False
    if committed is not None:
        with h5py.File(path, "r+", libver=("v110", "latest")) as h5:
            keep = dict(committed.rows)
            for group in committed.groups:
                present = [p for p in group if isinstance(h5.get(p), h5py.Dataset)]
                if present:
                    shortest = min([keep.get(p, h5[p].shape[0]) for p in present]
                                   + [h5[p].shape[0] for p in present])
                    keep.update({p: shortest for p in present})
            for hdf5_path, rows in sorted(keep.items()):
                dataset = h5.get(hdf5_path)
                if isinstance(dataset, h5py.Dataset) and dataset.maxshape[0] is None:
                    removed = cut_rows(dataset, rows)
                    if removed:
                        report.cut[hdf5_path] = removed
            for first, (holder, attribute) in committed.counts.items():
                if first in keep and holder in h5:
                    h5[holder].attrs.modify(attribute, np.int64(keep[first]))
            report.log = _record(h5, path, report, committed.log_group)
    else:
        _append_text(log_path(path), report.lines())
        report.log = str(log_path(path))
    sidecar.remove(path)
    return report


def _record(h5: h5py.File, path: Path, report: RepairReport, group: str | None) -> str:
    logs = h5.get(group) if group is not None else None
    if group is not None and logs is None:
        logs = h5.create_group(group)
    if isinstance(logs, h5py.Group):
        old = [] if LOG_NAME not in logs else list(logs[LOG_NAME].asstr()[()])
        if LOG_NAME in logs:
            del logs[LOG_NAME]
        logs.create_dataset(LOG_NAME, data=old + report.lines(), dtype=h5py.string_dtype())
        return f"{logs.name}/{LOG_NAME}"
    _append_text(log_path(path), report.lines())
    return str(log_path(path))


def _append_text(where: Path, lines: list[str]) -> None:
    with open(where, "a", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))
