"""Reports of ``inventory`` and of many-file ``truncate``: text, JSON, CSV, Parquet, JUnit.

A validation report is ``validation.Report``'s; these follow its shapes (a version
number, the exit code, a summary, then a row per file in discovery order) so a pipeline
reads them alike. ``interrupted`` marks a report written after Ctrl-C: it holds the
files finished by then.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from h5model.batch.rows import InventoryRow, TruncateRow
from h5model.errors import H5ModelError

INVENTORY_VERSION = 1

CSV_COLUMNS = ("path", "size", "namespaces", "objects", "types", "status", "errors",
               "warnings", "problem")


def _pairs(mapping: dict[str, Any]) -> str:
    return ";".join(f"{key}={value}" for key, value in mapping.items())


def inventory_text(row: InventoryRow) -> str:
    """One file's lines of the text report."""
    size = "?" if row.size is None else f"{row.size:,} bytes"
    objects = "?" if row.objects is None else f"{row.objects} objects"
    spaces = " ".join(f"{k} {v}" for k, v in row.namespaces.items()) or "no namespaces"
    lines = [f"{row.path}: {row.status}, {size}, {objects}, {spaces}"]
    if row.types:
        lines.append("  types: " + ", ".join(f"{k} {v}" for k, v in row.types.items()))
    if row.problem:
        lines.append(f"  {row.problem}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Inventory:
    """One row per file, in discovery order."""

    rows: tuple[InventoryRow, ...]
    interrupted: bool = False
    total: int = field(default=0)
    """Files the run was asked for (more than ``rows`` when interrupted)."""

    def exit_code(self) -> int:
        """The worst file's: 0 valid, 1 invalid, 2 unreadable (130 when interrupted)."""
        if self.interrupted:
            return 130
        return max((row.exit_code for row in self.rows), default=0)

    def to_json(self) -> dict[str, Any]:
        counts = {s: sum(1 for r in self.rows if r.status == s)
                  for s in ("valid", "invalid", "unreadable")}
        return {
            "inventory_version": INVENTORY_VERSION,
            "tool": "h5model",
            "exit_code": self.exit_code(),
            "interrupted": self.interrupted,
            "summary": {"files": len(self.rows), **counts},
            "files": [row.to_json() for row in self.rows],
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    def to_text(self) -> str:
        return "".join(inventory_text(row) for row in self.rows) + self.footer()

    def footer(self) -> str:
        if not self.interrupted:
            return ""
        return f"interrupted: {len(self.rows)} of {self.total} files done\n"

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in self.rows:
            writer.writerow([
                row.path, "" if row.size is None else row.size, _pairs(row.namespaces),
                "" if row.objects is None else row.objects, _pairs(row.types), row.status,
                row.errors, row.warnings, row.problem or "",
            ])
        return out.getvalue()

    def to_junit(self) -> str:
        """A test case per file: a failure when invalid, an error when unreadable."""
        suite = ElementTree.Element("testsuite", name="h5model inventory")
        for row in self.rows:
            case = ElementTree.SubElement(suite, "testcase", classname="inventory",
                                          name=row.path)
            if row.status != "valid":
                tag = "error" if row.status == "unreadable" else "failure"
                ElementTree.SubElement(case, tag, message=row.problem or row.status,
                                       type=row.status)
        suite.set("tests", str(len(self.rows)))
        suite.set("failures", str(sum(1 for r in self.rows if r.status == "invalid")))
        suite.set("errors", str(sum(1 for r in self.rows if r.status == "unreadable")))
        ElementTree.indent(suite)
        return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"

    def write_parquet(self, path: str | os.PathLike[str]) -> None:
        """A Parquet table of the rows (needs pyarrow); maps for namespaces and types."""
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise H5ModelError(
                "Parquet output needs pyarrow: pip install 'h5model[parquet]'", file=Path(path)
            ) from None
        schema = pa.schema([
            ("path", pa.string()), ("size", pa.int64()),
            ("namespaces", pa.map_(pa.string(), pa.string())), ("objects", pa.int64()),
            ("types", pa.map_(pa.string(), pa.int64())), ("status", pa.string()),
            ("errors", pa.int64()), ("warnings", pa.int64()), ("problem", pa.string()),
        ])
        columns: dict[str, list[Any]] = {name: [] for name in CSV_COLUMNS}
        for row in self.rows:
            for name, value in row.to_json().items():
                columns[name].append(list(value.items()) if isinstance(value, dict) else value)
        pq.write_table(pa.table(columns, schema=schema), os.fspath(path))


def truncate_text(row: TruncateRow) -> str:
    if row.problem is not None:
        return f"{row.problem}\n"
    return f"{row.dst}: {row.written:,} bytes (from {row.size:,} bytes)\n"


@dataclass(frozen=True)
class Truncations:
    """Every truncated copy of a many-file ``truncate``, in discovery order."""

    rows: tuple[TruncateRow, ...]
    interrupted: bool = False
    total: int = 0

    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return max((row.exit_code for row in self.rows), default=0)

    def to_text(self) -> str:
        text = "".join(truncate_text(row) for row in self.rows)
        if self.interrupted:
            text += f"interrupted: {len(self.rows)} of {self.total} files done\n"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"tool": "h5model", "exit_code": self.exit_code(),
                "interrupted": self.interrupted,
                "files": [row.to_json() for row in self.rows]}

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


