"""A small directed graph for the traversal, with networkx's reading interface.

Importing networkx costs about 17 MiB and a tenth of a second, and a file's
graph has one node per object: opening a file should pay for neither. The
traversal fills this graph; ``to_networkx()`` builds the ``networkx.DiGraph``
that ``File.graph`` returns, on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx


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


class EdgeView:
    """``g.edges[u, v]`` (data) and ``g.edges(data=True)``."""

    __slots__ = ("_succ",)

    def __init__(self, succ: dict[str, dict[str, dict[str, Any]]]) -> None:
        self._succ = succ

    def __getitem__(self, edge: tuple[str, str]) -> dict[str, Any]:
        return self._succ[edge[0]][edge[1]]

    def __call__(self, data: bool = False) -> Iterator[Any]:
        for source, targets in self._succ.items():
            for target, attrs in targets.items():
                yield (source, target, attrs) if data else (source, target)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return self(data=False)

    def __len__(self) -> int:
        return sum(len(t) for t in self._succ.values())


class ObjectGraph:
    """Nodes keyed by path, at most one edge per ordered pair (as in a DiGraph)."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}
        self._succ: dict[str, dict[str, dict[str, Any]]] = {}
        self._pred: dict[str, dict[str, dict[str, Any]]] = {}

    @property
    def nodes(self) -> NodeView:
        return NodeView(self._nodes)

    @property
    def edges(self) -> EdgeView:
        return EdgeView(self._succ)

    def add_node(self, node: str, **attrs: Any) -> None:
        if node in self._nodes:
            self._nodes[node].update(attrs)
            return
        self._nodes[node] = attrs
        self._succ[node] = {}
        self._pred[node] = {}

    def add_edge(self, source: str, target: str, **attrs: Any) -> None:
        for node in (source, target):
            if node not in self._nodes:
                self.add_node(node)
        existing = self._succ[source].get(target)
        if existing is not None:
            existing.update(attrs)
            return
        self._succ[source][target] = attrs
        self._pred[target][source] = attrs

    def has_edge(self, source: str, target: str) -> bool:
        return target in self._succ.get(source, {})

    def out_edges(self, node: str, data: bool = False) -> Iterator[Any]:
        for target, attrs in self._succ.get(node, {}).items():
            yield (node, target, attrs) if data else (node, target)

    def in_edges(self, node: str, data: bool = False) -> Iterator[Any]:
        for source, attrs in self._pred.get(node, {}).items():
            yield (source, node, attrs) if data else (source, node)

    def number_of_nodes(self) -> int:
        return len(self._nodes)

    def number_of_edges(self) -> int:
        return sum(len(t) for t in self._succ.values())

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def to_networkx(self) -> nx.DiGraph[str]:
        """The same nodes, edges and data as a ``networkx.DiGraph``."""
        import networkx as nx

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self._nodes.items())
        graph.add_edges_from(
            (source, target, attrs)
            for source, targets in self._succ.items()
            for target, attrs in targets.items()
        )
        return graph
