"""A small directed multigraph for the traversal, with networkx's reading interface.

Importing networkx costs about 17 MiB and a tenth of a second, and a file's
graph has one node per object: opening a file should pay for neither. The
traversal fills this graph; ``to_networkx()`` builds the ``networkx.MultiDiGraph``
that ``File.graph`` returns, on first use.

Every edge is kept: one object may point at another several times (two
reference attributes, a child and a reference), so edges are keyed per
ordered pair, as in a ``MultiDiGraph``, and each keeps its own data.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

EdgeData = dict[str, Any]
KeyDict = dict[Hashable, EdgeData]
"""key -> data of the edges joining one ordered pair of nodes."""


class NodeView:
    """``g.nodes[n]`` (data), ``g.nodes.get(n)``, ``g.nodes(data=True)``, like networkx."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data

    def __getitem__(self, node: str) -> dict[str, Any]:
        return self._data[node]

    def get(self, node: str, default: Any = None) -> Any:
        return self._data.get(node, default)

    def __call__(self, data: bool = False) -> Iterator[Any]:
        return iter(self._data.items()) if data else iter(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, node: object) -> bool:
        return node in self._data


def _edge_tuple(
    source: str, target: str, key: Hashable, attrs: EdgeData, data: bool, keys: bool
) -> tuple[Any, ...]:
    """An edge as networkx reports it: (u, v), with the key and/or the data if asked."""
    if keys:
        return (source, target, key, attrs) if data else (source, target, key)
    return (source, target, attrs) if data else (source, target)


class EdgeView:
    """``g.edges[u, v, key]`` (data) and ``g.edges(data=True, keys=True)``, like networkx."""

    __slots__ = ("_succ",)

    def __init__(self, succ: dict[str, dict[str, KeyDict]]) -> None:
        self._succ = succ

    def __getitem__(self, edge: tuple[str, str, Hashable]) -> EdgeData:
        return self._succ[edge[0]][edge[1]][edge[2]]

    def __call__(self, data: bool = False, keys: bool = False) -> Iterator[Any]:
        for source, targets in self._succ.items():
            for target, keydict in targets.items():
                for key, attrs in keydict.items():
                    yield _edge_tuple(source, target, key, attrs, data, keys)

    def __iter__(self) -> Iterator[tuple[str, str, Hashable]]:
        return self(keys=True)

    def __len__(self) -> int:
        return sum(len(k) for t in self._succ.values() for k in t.values())


class ObjectGraph:
    """Nodes keyed by path; any number of keyed edges per ordered pair (a MultiDiGraph)."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self._succ: dict[str, dict[str, KeyDict]] = {}
        self._pred: dict[str, dict[str, KeyDict]] = {}

    @property
    def nodes(self) -> NodeView:
        return NodeView(self._nodes)

    @property
    def edges(self) -> EdgeView:
        return EdgeView(self._succ)

    def add_node(self, node: str, data: dict[str, Any] | None = None, /, **attrs: Any) -> None:
        """Add ``node`` (or update its data); ``data`` is kept as the node's own dict, not
        copied (the traversal builds one per object and hands it over)."""
        if data is not None:
            data.update(attrs)
            attrs = data
        if node in self._nodes:
            self._nodes[node].update(attrs)
            return
        self._nodes[node] = attrs
        self._succ[node] = {}
        self._pred[node] = {}

    def add_edge(self, source: str, target: str, key: Hashable = None,
                 data: EdgeData | None = None, /, **attrs: Any) -> Hashable:
        """Add an edge (or update the one with ``key``); without a key, the lowest free
        integer, as networkx does. Returns the key. ``data`` is kept, not copied, and may be
        shared by many edges (the traversal gives every child edge of one name one dict):
        an edge's data is replaced, never changed in place."""
        if data is not None:
            attrs = {**data, **attrs} if attrs else data
        if source not in self._nodes:
            self.add_node(source)
        if target not in self._nodes:
            self.add_node(target)
        targets = self._succ[source]
        keydict = targets.get(target)
        if keydict is None:
            keydict = targets[target] = self._pred[target][source] = {}
        if key is None:
            key = len(keydict)
            while key in keydict:
                key += 1
        existing = keydict.get(key)
        keydict[key] = attrs if existing is None else {**existing, **attrs}
        return key

    def has_edge(self, source: str, target: str, key: Hashable = None) -> bool:
        keydict = self._succ.get(source, {}).get(target)
        return keydict is not None and (key is None or key in keydict)

    def get_edge_data(self, source: str, target: str) -> KeyDict | None:
        """key -> data of every edge from ``source`` to ``target`` (None if there is none)."""
        return self._succ.get(source, {}).get(target)

    def out_edges(self, node: str, data: bool = False, keys: bool = False) -> Iterator[Any]:
        if data and not keys:  # what the reader asks of every node while opening: kept lean
            for target, keydict in self._succ.get(node, {}).items():
                for attrs in keydict.values():
                    yield node, target, attrs
            return
        for target, keydict in self._succ.get(node, {}).items():
            for key, attrs in keydict.items():
                yield _edge_tuple(node, target, key, attrs, data, keys)

    def in_edges(self, node: str, data: bool = False, keys: bool = False) -> Iterator[Any]:
        for source, keydict in self._pred.get(node, {}).items():
            for key, attrs in keydict.items():
                yield _edge_tuple(source, node, key, attrs, data, keys)

    def predecessors_in_order(self, node: str) -> list[str]:
        """The nodes with an edge to ``node``, in the order their first edge was added."""
        return list(self._pred.get(node, {}))

    def order_predecessors(self, node: str, sources: list[str]) -> None:
        """Put ``node``'s predecessors in the order ``sources`` gives (a graph rebuilt edge
        by edge from another order, e.g. from a metadata index, then iterates the same)."""
        pred = self._pred[node]
        if sorted(sources) != sorted(pred):
            raise ValueError(f"{node}: the predecessors given are not the node's")
        self._pred[node] = {source: pred[source] for source in sources}

    def number_of_nodes(self) -> int:
        return len(self._nodes)

    def number_of_edges(self) -> int:
        return len(self.edges)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def to_networkx(self) -> nx.MultiDiGraph[str]:
        """The same nodes, edges, keys and data as a ``networkx.MultiDiGraph``."""
        import networkx as nx

        graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
        graph.add_nodes_from(self._nodes.items())
        graph.add_edges_from(self.edges(data=True, keys=True))
        return graph
