"""The README's examples run as written (from the repository root)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_python_examples_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "NWBFile" in out
    assert "True" in out  # the region's table is the electrodes model itself
    assert "NWBFile True\n0\n" in out  # a file from scratch, filled in as pynwb would, valid


@pytest.mark.parametrize(
    "command",
    [
        ["show", "examples/ecephys.nwb"],
        ["show", "examples/ecephys.nwb", "--depth", "2"],
    ],
)
def test_cli_examples_run(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "h5model", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ElectricalSeries (core)" in result.stdout


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["validate", "examples/", "--jobs", "2"], "examples/ecephys.nwb: valid"),
        (["inventory", "examples/*.nwb", "--format", "csv"], "core=2.11.0"),
        (["validate", "examples/", "--timeout", "120", "--format", "junit"], "<testsuites"),
    ],
)
def test_many_file_examples_run(command: list[str], expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "h5model", *command],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ}, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
