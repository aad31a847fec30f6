"""``h5model graph``: the file's graph as GraphML or node-link JSON, with plain values only."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def portable_graph(graph: nx.MultiDiGraph[str]) -> nx.MultiDiGraph[str]:
    """A copy whose node and edge data are plain strings and numbers; edge keys kept."""
    out: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        clean = {k: _plain(v) for k, v in data.items() if v is not None}
        if "shape" in clean:
            clean["shape"] = json.dumps(clean["shape"])
        out.add_node(node, **clean)
    for source, target, key, data in graph.edges(keys=True, data=True):
        out.add_edge(source, target, key, **{k: _plain(v) for k, v in data.items()})
    return out


def write_graph(graph: nx.MultiDiGraph[str], out: Path) -> None:
    """GraphML for ``.graphml``/``.xml`` (edge keys as edge ids), JSON (node-link, edge keys
    under ``key``) for ``.json``."""
    portable = portable_graph(graph)
    suffix = out.suffix.lower()
    if suffix in (".graphml", ".xml"):
        nx.write_graphml(portable, out)
    elif suffix == ".json":
        data = nx.node_link_data(portable, edges="edges")
        out.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    else:
        raise ValueError(f"unknown graph format {out.suffix!r}: use .graphml or .json")
