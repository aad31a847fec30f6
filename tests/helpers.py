"""Small helpers shared by the test modules: the command line in a fresh interpreter, and
a file's bytes as a digest."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path


def run_h5model(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``h5model ARGS`` in a fresh interpreter, as CI and users run it."""
    return subprocess.run(
        [sys.executable, "-m", "h5model", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def sha256(path: Path) -> str:
    """The digest of a file's bytes (to prove a command left them alone)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
