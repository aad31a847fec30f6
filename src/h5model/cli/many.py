"""``validate``, ``inventory`` and many-file ``truncate`` on the command line.

The rows of a text report on standard output are printed as they are released (in
report order), so a long run shows its findings early; other formats, and a report to
``--output``, are written once at the end. Ctrl-C stops the run and still writes
the report of the files done (marked ``interrupted`` in JSON), exit 130.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from h5model.batch import Interrupted, Inventory, Truncations, truncate_many, validate_many
from h5model.batch import inventory as run_inventory
from h5model.batch.reports import inventory_text, truncate_text
from h5model.errors import H5ModelError
from h5model.validation import FileReport, Report


def run_many(args: argparse.Namespace) -> int:
    """Run the command over every file named; the exit code is the worst file's."""
    if args.command == "truncate":
        return _truncate(args)
    output: Path | None = args.output
    if args.format == "parquet" and output is None:
        print("h5model: error: --format parquet needs --output FILE", file=sys.stderr)
        return 2
    # text goes to standard output as rows come, unless the text report goes to a file
    stream = (args.format == "text") == (output is None)
    strict = args.strict
    runner = {"jobs": args.jobs, "scheduler": args.scheduler, "timeout": args.timeout}
    interrupted = False
    total = 0
    result: Report | Inventory
    try:
        if args.command == "validate":
            def show(row: FileReport) -> None:
                _out(Report([row], strict=strict).to_text())

            try:
                result = validate_many(args.files, spec=args.spec, strict=strict,
                                       layout=args.layout, index=args.index,
                                       on_row=show if stream else None, **runner)
            except Interrupted as exc:
                result, interrupted, total = exc.partial, True, exc.total
        else:
            def show_row(row: Any) -> None:
                _out(inventory_text(row))

            try:
                result = run_inventory(args.files, spec=args.spec, strict=strict,
                                       layout=args.layout,
                                       on_row=show_row if stream else None, **runner)
            except Interrupted as exc:
                result, interrupted, total = exc.partial, True, exc.total
    except H5ModelError as exc:  # bad usage: a --spec file, a scheduler out of reach
        print(f"h5model: error: {exc}", file=sys.stderr)
        return 2
    footer = f"interrupted: {_done(result)} of {total} files done\n"
    if stream and interrupted:
        _out(footer)
    if output is not None:
        try:
            _write(result, args.format, output, footer if interrupted else None)
        except (OSError, H5ModelError) as exc:
            message = exc if isinstance(exc, H5ModelError) else exc.strerror or exc
            print(f"h5model: error: {output}: {message}", file=sys.stderr)
            return 2
    elif not stream:
        _out(_render(result, args.format, footer if interrupted else None))
    if interrupted:
        return 130
    return result.exit_code()


def _done(result: Report | Inventory) -> int:
    return len(result.files) if isinstance(result, Report) else len(result.rows)


def _render(result: Report | Inventory, fmt: str, footer: str | None) -> str:
    """The whole report; ``footer``: the run was interrupted, and how far it came."""
    if fmt == "json":
        document = result.to_json()
        if footer is not None:  # validate's published shape gains the key only then
            document["interrupted"] = True
        return json.dumps(document, indent=2) + "\n"
    if fmt == "text":
        text = "".join(inventory_text(r) for r in result.rows) if isinstance(
            result, Inventory) else result.to_text()
        return text + (footer or "")
    renderers: dict[str, Callable[[], str]] = {"junit": result.to_junit}
    if isinstance(result, Inventory):
        renderers["csv"] = result.to_csv
    return renderers[fmt]()


def _write(result: Report | Inventory, fmt: str, output: Path, footer: str | None) -> None:
    if fmt == "parquet":
        assert isinstance(result, Inventory)
        result.write_parquet(output)
        return
    output.write_text(_render(result, fmt, footer), encoding="utf-8")


def _truncate(args: argparse.Namespace) -> int:
    try:
        result = truncate_many(args.src, args.dst, n=args.n, keep=args.keep,
                               overwrite=args.overwrite, layout=args.layout, jobs=args.jobs,
                               scheduler=args.scheduler, timeout=args.timeout,
                               on_row=lambda row: _out(truncate_text(row)))
    except Interrupted as exc:
        partial: Truncations = exc.partial
        _out(f"interrupted: {len(partial.rows)} of {partial.total} files done\n")
        return 130
    except H5ModelError as exc:
        print(f"h5model: error: {exc}", file=sys.stderr)
        return 2
    return result.exit_code()


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
