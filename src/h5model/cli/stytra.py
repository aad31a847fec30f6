"""``h5model stytra import|export``: stytra's metadata JSON (and its CSV logs) into a new
session file and back, through ``layouts.stytra``; what cannot be held is an error naming
the key path, raised from there and reported as every ``H5ModelError`` is."""

from __future__ import annotations

import argparse
from pathlib import Path

from h5model.errors import H5ModelError
from h5model.layouts.stytra import export_session, import_session, log_names, write_log


def run_stytra(args: argparse.Namespace) -> int:
    """Run ``h5model stytra import`` or ``export``; 0 done."""
    if args.stytra_command == "import":
        logs: dict[str, Path] = {}
        for given in args.log:
            name, sep, path = given.partition("=")
            if not sep or not name or not path:
                raise H5ModelError(f"--log {given!r}: expected NAME=CSV", file=str(args.file))
            logs[name] = Path(path)
        written = import_session(args.file, args.output, logs=logs)
        print(f"{written}: stytra session from {args.file}"
              + (f" with log(s) {', '.join(sorted(logs))}" if logs else ""))
        return 0
    written = export_session(args.file, args.output, allow_nan=not args.strict_json)
    print(f"{written}: metadata of {args.file}")
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
        for name in log_names(args.file):
            print(write_log(args.file, name, args.logs / f"{name}.csv"))
    return 0
