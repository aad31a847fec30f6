"""What a streaming writer has made durable, kept beside the file while it writes.

``.NAME.h5model-stream`` (JSON) lists every dataset the writer appends to with the
rows it held at the last flush, the groups of datasets that must keep one length
(the features of an event group, a table's columns) and the attributes counting
their rows. It is replaced whole (written beside, then renamed) after each flush
of the HDF5 file, so it never claims a row the file does not hold. A clean close
deletes it; one left behind means the writer died, and the next open for writing
cuts every dataset back to what it lists (``repair``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1


@dataclass
class Committed:
    """The state a writer last made durable."""

    rows: dict[str, int] = field(default_factory=dict)
    groups: list[list[str]] = field(default_factory=list)
    counts: dict[str, list[str]] = field(default_factory=dict)
    """group path -> [path of the object holding the count attribute, attribute name]."""
    log_group: str | None = None
    """The file's group of logs (RT-DC's ``/logs``), where a repair is recorded."""

    def document(self) -> dict[str, Any]:
        return {"format": FORMAT, "rows": self.rows, "groups": self.groups,
                "counts": self.counts, "log_group": self.log_group}


def sidecar_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.h5model-stream")


def write(path: Path, committed: Committed) -> None:
    target = sidecar_path(path)
    partial = target.with_name(target.name + ".part")
    with open(partial, "w", encoding="utf-8") as out:
        json.dump(committed.document(), out)
    os.replace(partial, target)


def read(path: Path) -> Committed | None:
    """The state a dead writer left, or None (no writer died on this file)."""
    target = sidecar_path(path)
    try:
        document = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return Committed()  # unreadable: nothing is known to be durable beyond the file
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return Committed()
    rows = {str(k): int(v) for k, v in dict(document.get("rows", {})).items()}
    groups = [[str(p) for p in g] for g in document.get("groups", [])]
    counts = {str(k): [str(v[0]), str(v[1])] for k, v in dict(document.get("counts", {})).items()}
    log_group = document.get("log_group")
    return Committed(rows, groups, counts, str(log_group) if log_group else None)


def remove(path: Path) -> None:
    for name in (sidecar_path(path), sidecar_path(path).with_name(
            sidecar_path(path).name + ".part")):
        name.unlink(missing_ok=True)
