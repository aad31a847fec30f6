"""The command line: show, generate, graph, and errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import networkx as nx
import pytest
from helpers import run_h5model
from specfiles import write_simple

from h5model.cli.app import main


def test_show_prints_types_shapes_and_links(nwb_files: dict[str, Path]) -> None:
    result = run_h5model("show", nwb_files["softlinks"])
    assert result.returncode == 0, result.stderr
    assert "NWBFile (core)" in result.stdout
    assert "(soft link)" in result.stdout
    assert "shape (8,)  float64" in result.stdout
    external = run_h5model("show", nwb_files["external"])
    assert "(external link)" in external.stdout
    assert "external_target.nwb::" in external.stdout


def test_generate_writes_linkml_and_pydantic(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "models"
    assert main(["generate", str(nwb_files["extension"]), "-o", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "core_2_11_0.py",
        "core_2_11_0.linkml.yaml",
        "ndx_test_ext_0_1_0.py",
        "ndx_test_ext_0_1_0.linkml.yaml",
    } <= names
    source = (out / "ndx_test_ext_0_1_0.py").read_text()
    compile(source, "ndx", "exec")
    assert "class TetrodeSeries(" in source


@pytest.mark.parametrize("suffix", [".graphml", ".json"])
def test_graph_export(nwb_files: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"g{suffix}"
    assert main(["graph", str(nwb_files["icephys"]), "-o", str(out)]) == 0
    if suffix == ".graphml":
        graph = nx.read_graphml(out)
    else:
        graph = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
    with h5py.File(nwb_files["icephys"]) as f:
        count = 1
        seen: set[int] = set()

        def visit(name: str, obj: h5py.HLObject) -> None:
            nonlocal count
            addr = h5py.h5o.get_info(obj.id).addr
            if addr not in seen:
                seen.add(addr)
                count += 1

        f.visititems(visit)
    h5_nodes = [n for n, d in graph.nodes(data=True) if d["kind"] in ("group", "dataset")]
    assert len(h5_nodes) == count
    labels = {d["label"] for _, _, d in graph.edges(data=True)}
    assert {"child", "reference"} <= labels


def test_unknown_graph_format_is_usage_error(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    result = run_h5model("graph", nwb_files["minimal"], "-o", tmp_path / "g.png")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def _truncated(tmp_path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path = tmp_path / "cut.nwb"
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.mark.parametrize("case", ["missing", "text", "truncated", "folder", "no_specs"])
def test_errors_name_the_file_and_exit_non_zero(
    case: str, tmp_path: Path, nwb_files: dict[str, Path]
) -> None:
    if case == "missing":
        path = tmp_path / "nope.nwb"
    elif case == "text":
        path = tmp_path / "notes.nwb"
        path.write_text("not hdf5")
    elif case == "truncated":
        path = _truncated(tmp_path, nwb_files["ecephys"])
    elif case == "folder":
        path = tmp_path
    else:
        path = tmp_path / "bare.h5"
        with h5py.File(path, "w") as f:
            f.attrs["namespace"] = "lab"
    for command in ("show", "graph", "generate"):
        extra = ["-o", str(tmp_path / "out.json")] if command != "show" else []
        result = run_h5model(command, path, *extra)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert str(path) in result.stderr
        assert result.stderr.startswith("h5model: error:")


def test_spec_option_supplies_a_namespace(tmp_path: Path) -> None:
    import yaml
    from specfiles import simple_namespace

    path = write_simple(tmp_path / "t.h5", doc="A thing from disk.")
    with h5py.File(path, "a") as f:
        del f["specifications"]
        del f.attrs[".specloc"]
    version = simple_namespace(doc="A thing from disk.")["1.0.0"]
    (tmp_path / "lab.namespace.yaml").write_text(yaml.safe_dump(version["namespace"]))
    (tmp_path / "lab.schema.yaml").write_text(yaml.safe_dump(version["lab.schema"]))
    without = run_h5model("show", path)
    assert without.returncode == 1
    assert "--spec" in without.stderr
    with_spec = run_h5model("show", path, "--spec", tmp_path / "lab.namespace.yaml")
    assert with_spec.returncode == 0, with_spec.stderr
    assert "Thing (lab)" in with_spec.stdout
