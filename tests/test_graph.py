"""The traversal's graph: kinds as enums, broken links and dangling references made explicit,
every edge kept (a multigraph), and networkx left unimported until ``File.graph``."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import networkx as nx
import numpy as np
import pytest

import h5model
from h5model.cli.show import tree_lines
from h5model.hdf5.graph import FileIndex, build_graph
from h5model.hdf5.kinds import DANGLING, EdgeLabel, LinkKind, NodeKind
from h5model.hdf5.objectgraph import ObjectGraph


def index_of(path: Path) -> FileIndex:
    with h5py.File(path, "r") as f:
        return build_graph(f, str(path))


def test_kinds_read_and_export_as_their_words() -> None:
    assert NodeKind.GROUP == "group" and f"{NodeKind.MISSING}" == "missing"
    assert json.dumps([LinkKind.SOFT, EdgeLabel.REFERENCE]) == '["soft", "reference"]'


def test_children_and_nodes_carry_kinds(tmp_path: Path) -> None:
    path = tmp_path / "kinds.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("group/data", data=np.arange(3))
        f["hard"] = f["group/data"]
        f["soft"] = h5py.SoftLink("/group/data")
        f["outside"] = h5py.ExternalLink("other.h5", "/x")
    index = index_of(path)
    # breadth first, /hard is met before /group/data: it is the dataset's canonical path
    kinds = {c.name: (c.kind, c.target, c.broken) for c in index.children["/"]}
    assert kinds == {
        "group": (LinkKind.HARD, "/group", False),
        "hard": (LinkKind.HARD, "/hard", False),
        "soft": (LinkKind.SOFT, "/hard", False),
        "outside": (LinkKind.EXTERNAL, "other.h5::/x", False),
    }
    assert [(c.kind, c.target) for c in index.children["/group"]] == [(LinkKind.HARD, "/hard")]
    nodes = index.graph.nodes
    assert nodes["/group"]["kind"] is NodeKind.GROUP
    assert nodes["/hard"]["kind"] is NodeKind.DATASET
    assert nodes["other.h5::/x"]["kind"] is NodeKind.EXTERNAL
    assert "/group/data" not in index.graph
    edges = index.graph.get_edge_data("/", "/hard")
    assert edges is not None
    assert {k: d["label"] for k, d in edges.items()} == {
        "child:hard": EdgeLabel.CHILD,
        "link:soft": EdgeLabel.LINK,
    }


def test_a_broken_soft_link_is_flagged_and_keeps_its_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.h5"
    with h5py.File(path, "w") as f:
        f.create_group("a")
        f["a/gone"] = h5py.SoftLink("../nowhere/x")
    index = index_of(path)
    (child,) = index.children["/a"]
    assert (child.kind, child.broken, child.target) == (LinkKind.SOFT, True, "/nowhere/x")
    assert index.graph.nodes["/nowhere/x"] == {"kind": NodeKind.MISSING, "path": "/nowhere/x"}
    assert index.graph.edges["/a", "/nowhere/x", "link:gone"]["label"] is EdgeLabel.LINK


def test_soft_links_are_followed_through_the_index_never_into_other_files(
    tmp_path: Path,
) -> None:
    """A soft link that passes through an external link is that external link; the file it
    names is never opened while the file is scanned (here a FIFO: opening it would hang)."""
    import os

    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    path = tmp_path / "links.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("group/data", data=np.arange(3))
        f["ext"] = h5py.ExternalLink(str(fifo), "/x")
        f["via_ext"] = h5py.SoftLink("/ext/inner")
        f["to_group"] = h5py.SoftLink("/group")
        f["through_soft"] = h5py.SoftLink("/to_group/data")
        f["loop_a"] = h5py.SoftLink("/loop_b")
        f["loop_b"] = h5py.SoftLink("/loop_a")
        f["into_dataset"] = h5py.SoftLink("/group/data/deeper")
    done = subprocess.run(
        [sys.executable, "-c", f"import h5py; from h5model.hdf5.graph import build_graph\n"
         f"with h5py.File({str(path)!r}, 'r') as f: build_graph(f, 'x')"],
        timeout=60, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    index = index_of(path)
    kinds = {c.name: (c.kind, c.target, c.broken) for c in index.children["/"]}
    assert kinds["via_ext"] == (LinkKind.EXTERNAL, f"{fifo}::/x/inner", False)
    (via,) = [c for c in index.children["/"] if c.name == "via_ext"]
    assert (via.filename, via.path) == (str(fifo), "/x/inner")
    assert kinds["through_soft"] == (LinkKind.SOFT, "/group/data", False)
    assert kinds["to_group"] == (LinkKind.SOFT, "/group", False)
    assert kinds["loop_a"][2] and kinds["loop_b"][2]
    assert kinds["into_dataset"][2]


def test_a_dangling_reference_points_at_the_missing_node(tmp_path: Path) -> None:
    path = tmp_path / "dangling.h5"
    with h5py.File(path, "w") as f:
        doomed = f.create_group("doomed")
        f.attrs["points_at"] = doomed.ref
        del f["doomed"]
    index = index_of(path)
    assert index.graph.nodes[DANGLING] == {"kind": NodeKind.MISSING, "path": None}
    edge = index.graph.edges["/", DANGLING, "reference:points_at"]
    assert (edge["label"], edge["name"]) == (EdgeLabel.REFERENCE, "points_at")
    assert not any(c.broken for c in index.children["/"])


def test_each_name_a_reference_is_held_under_is_an_edge(tmp_path: Path) -> None:
    """Two attributes referring to one object are two edges; every row of a column referring
    to it, and an attribute of the column's name, are one (the object is held under that
    name)."""
    path = tmp_path / "twice.h5"
    with h5py.File(path, "w") as f:
        target = f.create_group("target")
        pair = np.dtype([("ref", h5py.ref_dtype), ("n", "i4")])
        rows = f.create_dataset("rows", (2,), dtype=pair)
        rows[0] = (target.ref, 1)
        rows[1] = (target.ref, 2)
        rows.attrs["ref"] = target.ref
        rows.attrs["also"] = target.ref
    graph = index_of(path).graph
    edges = graph.get_edge_data("/rows", "/target")
    assert edges is not None
    assert {k: (d["label"], d["name"]) for k, d in edges.items()} == {
        "reference:ref": (EdgeLabel.REFERENCE, "ref"),
        "reference:also": (EdgeLabel.REFERENCE, "also"),
    }


def test_object_graph_keeps_parallel_edges_like_networkx() -> None:
    graph = ObjectGraph()
    graph.add_node("a", kind=NodeKind.GROUP)
    assert graph.add_edge("a", "b", label="x") == 0
    assert graph.add_edge("a", "b", label="y") == 1
    assert graph.add_edge("a", "b", "k", label="z") == "k"
    graph.add_edge("a", "b", "k", weight=2)  # same key: updated, not added
    assert graph.number_of_edges() == len(graph.edges) == 3
    assert graph.has_edge("a", "b") and graph.has_edge("a", "b", "k")
    assert not graph.has_edge("a", "b", 2) and not graph.has_edge("b", "a")
    assert graph.edges["a", "b", "k"] == {"label": "z", "weight": 2}
    assert [d["label"] for _, _, d in graph.out_edges("a", data=True)] == ["x", "y", "z"]
    assert list(graph.in_edges("b", keys=True)) == [("a", "b", 0), ("a", "b", 1), ("a", "b", "k")]
    nx_graph = graph.to_networkx()
    assert isinstance(nx_graph, nx.MultiDiGraph)
    assert sorted(nx_graph.edges(keys=True, data=True), key=str) == sorted(
        graph.edges(keys=True, data=True), key=str
    )
    assert nx_graph.nodes["a"] == {"kind": "group"}


def test_compact_object_graph_answers_as_networkx_does_in_any_order() -> None:
    """Single-entry maps, nodes without edges out, and a group's edge kept implicit when
    it came first: none of it shows. Random edges (paths and non-paths, groups before and
    after other sources, repeated and chosen keys) give networkx's answers, in its order."""
    rng = random.Random(7)
    names = ["/", "/a", "/a/b", "/a/b/c", "/d", "/d/e", "x::/y", "/a/f"]
    for _ in range(200):
        ours, theirs = ObjectGraph(), nx.MultiDiGraph()
        for node in rng.sample(names, 3):
            ours.add_node(node, kind="group")
            theirs.add_node(node, kind="group")
        for step in range(rng.randint(1, 25)):
            source, target = rng.choice(names), rng.choice(names)
            key = rng.choice([None, None, "k", "child:x", 0, 1])
            data = {"step": step}
            assert ours.add_edge(source, target, key, **data) == \
                theirs.add_edge(source, target, key, **data)
        assert list(ours.edges(data=True, keys=True)) == \
            list(theirs.edges(data=True, keys=True))
        for node in theirs.nodes:
            assert list(ours.in_edges(node, data=True, keys=True)) == \
                list(theirs.in_edges(node, data=True, keys=True)), node
            assert ours.predecessors_in_order(node) == list(theirs.predecessors(node))
            assert list(ours.out_edges(node, data=True)) == list(theirs.out_edges(node, data=True))
            assert (ours.get_edge_data(node, "/a") or None) == theirs.get_edge_data(node, "/a")
        for node in theirs.nodes:  # reordered predecessors (as a metadata index does)
            order = list(theirs.predecessors(node))[::-1]
            ours.order_predecessors(node, order)
            assert ours.predecessors_in_order(node) == order


def test_opening_a_file_leaves_networkx_unimported(nwb_files: dict[str, Path]) -> None:
    script = (
        "import sys, h5model\n"
        f"with h5model.open({str(nwb_files['ecephys'])!r}) as f:\n"
        "    f.root\n"
        "    assert 'networkx' not in sys.modules\n"
        "    assert f.graph.number_of_edges() > 0\n"
        "    assert 'networkx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_a_broken_link_reads_shows_and_does_not_hold_up_removals(
    nwb_files: dict[str, Path], tmp_path: Path
) -> None:
    """A soft link to nothing, naming a path inside a subtree that is then removed: it is a
    BrokenLink with that path, ``show`` says so, and removing the subtree is not refused
    (the link was broken before and stays so)."""
    path = tmp_path / "broken.nwb"
    shutil.copyfile(nwb_files["ecephys"], path)
    gone = "/processing/ecephys/spike_events/gone"
    with h5py.File(path, "r+") as h5:
        h5["/general/dangling"] = h5py.SoftLink(gone)
    with h5model.open(path, "r+") as f:
        link = f.get("/general")["dangling"]
        assert (type(link).__name__, link.target) == ("BrokenLink", gone)
        assert f"  dangling  -> {gone} (soft link) (broken)" in "\n".join(tree_lines(f))
        assert f.graph.nodes[gone]["kind"] == "missing"
        f.get("/processing/ecephys").remove("spike_events")
        f.save()
    with h5py.File(path, "r") as h5:
        assert "spike_events" not in h5["/processing/ecephys"]
        assert h5.get("/general/dangling", getlink=True).path == gone


@pytest.mark.parametrize("suffix", [".graphml", ".json"])
def test_export_keeps_parallel_edges_and_their_keys(
    nwb_files: dict[str, Path], tmp_path: Path, suffix: str
) -> None:
    from h5model.cli.graph import write_graph

    out = tmp_path / f"g{suffix}"
    with h5model.open(nwb_files["ecephys"]) as f:
        graph = f.graph
        write_graph(graph, out)
    if suffix == ".graphml":
        read = nx.read_graphml(out, force_multigraph=True)
    else:
        read = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
    assert isinstance(read, nx.MultiDiGraph)
    assert set(read.edges(keys=True)) == set(graph.edges(keys=True))
    assert set(read["/"]["/specifications"]) == {"child:specifications", "reference:.specloc"}
    assert read.nodes["/units"]["kind"] == "group"


def _everything(index: FileIndex) -> tuple[object, ...]:
    """What a traversal recorded, in comparable form (dtypes with their metadata)."""
    def node(data: dict[str, object]) -> dict[str, object]:
        return {k: (v.str, repr(v.metadata), v.names) if isinstance(v, np.dtype) else v
                for k, v in data.items()}

    return (
        {n: node(d) for n, d in index.graph.nodes(data=True)},
        sorted((u, v, k, sorted(d.items(), key=str))
               for u, v, k, d in index.graph.edges(keys=True, data=True)),
        {p: {k: repr(v) for k, v in a.items()} for p, a in index.attrs.items()},
        {p: [(c.name, c.kind, c.target, c.broken) for c in cs]
         for p, cs in index.children.items()},
        {p: repr(v) for p, v in index.scalars.items()},
        index.attr_refs,
    )


def test_the_compiled_traversal_steps_record_what_h5py_does(
    tmp_path: Path, nwb_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from h5model.hdf5 import graph

    if graph.SCANNER is None:
        pytest.skip("the compiled traversal step is not built here")
    odd = tmp_path / "odd.h5"
    with h5py.File(odd, "w") as f:  # dtypes, shapes and attributes h5py alone reads
        f.create_dataset("big_endian", data=np.arange(4, dtype=">i2"))
        f.create_dataset("flags", data=np.array([True, False]))
        f.create_dataset("fixed_text", data=np.array([b"ab", b"cd"]))
        f.create_dataset("utf8", data=["é", "x"], dtype=h5py.string_dtype())
        f.create_dataset("empty", data=h5py.Empty("f4"))
        f.create_dataset("scalar", data=3.5)
        f.create_dataset("compound", data=np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]))
        f.create_dataset("half", data=np.ones(3, dtype="<f2"))
        many = f.create_group("many")
        for i in range(40):  # more attributes than are read by position
            many.attrs[f"a{i:02d}"] = i
        many.attrs["array"] = [1, 2, 3]
        f["refs"] = [f["scalar"].ref, f["many"].ref]
        scalars = f.create_group("scalars")  # values the group step reads on the way
        scalars["text"] = "é text"
        scalars["ascii"] = np.array(b"plain", dtype=h5py.string_dtype("ascii"))
        scalars["empty_text"] = ""
        scalars["fixed"] = np.bytes_(b"fix\x00")
        scalars["int8"] = np.int8(-3)
        scalars["uint64"] = np.uint64(2**64 - 1)
        scalars["big_endian"] = np.array(7, dtype=">i4")
        scalars["half"] = np.float16(0.1)
        scalars["single"] = np.float32(0.1)
        scalars["flag"] = np.bool_(True)
        scalars["twice"] = scalars["single"]  # a second hard link, in the same group
        scalars["soft"] = h5py.SoftLink("/scalars/int8")
        scalars["outside"] = h5py.ExternalLink("elsewhere.h5", "/x")
        f["kind"] = np.dtype("<i4")  # a committed datatype
    paths = [odd, *(nwb_files[name] for name in sorted(nwb_files))]
    for path in paths:
        by_group = _everything(index_of(path))
        monkeypatch.setattr(graph, "GROUP_SCANNER", None)
        by_object = _everything(index_of(path))
        monkeypatch.setattr(graph, "SCANNER", None)
        plain = _everything(index_of(path))
        monkeypatch.undo()
        assert by_group == plain, path.name
        assert by_object == plain, path.name


def test_the_collector_is_paused_while_a_graph_is_built_and_restored_after(
    nwb_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from h5model.hdf5 import graph

    seen: list[bool] = []
    register = graph._Walker._record

    def spying(self: object, *args: object) -> None:
        seen.append(gc.isenabled())
        register(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(graph._Walker, "_record", spying)
    assert gc.isenabled()
    index_of(nwb_files["ecephys"])
    assert seen and not any(seen)  # off while the graph grows
    assert gc.isenabled()  # and on again
    gc.disable()
    try:
        index_of(nwb_files["ecephys"])
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
