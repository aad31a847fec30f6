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

from collections.abc import Hashable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

EdgeData = dict[str, Any]
KeyDict = Mapping[Hashable, EdgeData]
"""key -> data of the edges joining one ordered pair of nodes."""
_EMPTY: Mapping[Any, Any] = {}


class _One(Mapping[Any, Any]):
    """A mapping of one entry, a sixth of a dict's size: most pairs of nodes are joined
    by one edge, and most nodes have one predecessor (their group); a second entry turns
    it into a dict. Read-only, as every map of the graph is to its readers."""

    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any) -> None:
        self.key, self.value = key, value

    def __getitem__(self, key: Any) -> Any:
        if key == self.key:
            return self.value
        raise KeyError(key)

    def get(self, key: Any, default: Any = None) -> Any:
        return self.value if key == self.key else default

    def __contains__(self, key: object) -> bool:
        return bool(key == self.key)

    def __iter__(self) -> Iterator[Any]:
        yield self.key

    def __len__(self) -> int:
        return 1

    def items(self) -> Any:
        return ((self.key, self.value),)

    def values(self) -> Any:
        return (self.value,)

    def __repr__(self) -> str:
        return repr({self.key: self.value})


def _parent(node: str) -> str:
    """The path ``node`` would have as a member of a group (``/a`` for ``/a/b``)."""
    head = node.rpartition("/")[0]
    return head or "/"


def _with(mapping: Mapping[Any, Any] | None, key: Any, value: Any) -> Mapping[Any, Any]:
    """``mapping`` with ``key`` set to ``value``: the same dict changed, or a new map."""
    if mapping is None or mapping is _EMPTY:
        return _One(key, value)
    if isinstance(mapping, _One):
        if mapping.key == key:
            return _One(key, value)
        return {mapping.key: mapping.value, key: value}
    assert isinstance(mapping, dict)
    mapping[key] = value
    return mapping


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

    __slots__ = ("_nodes", "_succ")

    def __init__(self, nodes: dict[str, Any], succ: dict[str, Mapping[str, KeyDict]]) -> None:
        self._nodes, self._succ = nodes, succ

    def __getitem__(self, edge: tuple[str, str, Hashable]) -> EdgeData:
        return self._succ[edge[0]][edge[1]][edge[2]]

    def __call__(self, data: bool = False, keys: bool = False) -> Iterator[Any]:
        succ = self._succ
        for source in self._nodes:  # in the order the nodes came, as networkx gives them
            for target, keydict in succ.get(source, _EMPTY).items():
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
        self._succ: dict[str, Mapping[str, KeyDict]] = {}
        """source -> target -> key -> data; nodes with no edge out are absent."""
        self._pred: dict[str, Mapping[str, KeyDict]] = {}
        """target -> source -> the same key maps, in the order the first edge came; a
        node's group (the source whose path is the node's path less its last name), when
        its edge came first, is left out and found through ``_succ`` (``_parent_first``):
        nearly every node has that one predecessor, and a map per node would double the
        graph's size."""

    @property
    def nodes(self) -> NodeView:
        return NodeView(self._nodes)

    @property
    def edges(self) -> EdgeView:
        return EdgeView(self._nodes, self._succ)

    def add_node(self, node: str, data: dict[str, Any] | None = None, /, **attrs: Any) -> None:
        """Add ``node`` (or give it new data); ``data`` is kept as the node's dict, not
        copied, and may be shared by many nodes (the traversal gives objects that read
        alike one dict): a node's data is replaced, never changed in place."""
        if data is not None:
            attrs = {**data, **attrs} if attrs else data
        old = self._nodes.get(node)
        self._nodes[node] = attrs if old is None else {**old, **attrs}

    def set_node_data(self, node: str, **attrs: Any) -> None:
        """Give the existing ``node`` these data besides its own (in a dict of its own)."""
        self._nodes[node] = {**self._nodes[node], **attrs}

    def add_edge(self, source: str, target: str, key: Hashable = None,
                 data: EdgeData | None = None, /, **attrs: Any) -> Hashable:
        """Add an edge (or update the one with ``key``); without a key, the lowest free
        integer, as networkx does. Returns the key. ``data`` is kept, not copied, and may be
        shared by many edges (the traversal gives every child edge of one name one dict):
        an edge's data is replaced, never changed in place."""
        if data is not None:
            attrs = {**data, **attrs} if attrs else data
        if source not in self._nodes:
            self.add_node(source, {})
        if target not in self._nodes:
            self.add_node(target, {})
        targets = self._succ.get(source)
        keydict = targets.get(target) if targets is not None else None
        if key is None:  # networkx's choice: the count, or the next one free after it
            key = len(keydict) if keydict is not None else 0
            while keydict is not None and key in keydict:
                key += 1
        existing = keydict.get(key) if keydict is not None else None
        value = attrs if existing is None else {**existing, **attrs}
        changed = _with(keydict, key, value)
        if changed is not keydict:  # a new map: both sides point at it
            self._succ[source] = _with(targets, target, changed)
            pred = self._pred.get(target)
            # a group's first edge to its member stays implicit; a new pair, or one kept
            # in _pred, is recorded there
            implicit = pred is None and keydict is None and source == _parent(target)
            if not implicit and (keydict is None or source in (pred or _EMPTY)):
                self._pred[target] = _with(pred, source, changed)
        return key

    def _parent_first(self, node: str) -> str | None:
        """The node's group, if its edge to the node came first (and is not in ``_pred``)."""
        parent = _parent(node)
        if node in self._succ.get(parent, _EMPTY) and parent not in self._pred.get(node, _EMPTY):
            return parent
        return None

    def _predecessors(self, node: str) -> Iterator[tuple[str, KeyDict]]:
        parent = self._parent_first(node)
        if parent is not None:
            yield parent, self._succ[parent][node]
        yield from self._pred.get(node, _EMPTY).items()

    def has_edge(self, source: str, target: str, key: Hashable = None) -> bool:
        keydict = self._succ.get(source, _EMPTY).get(target)
        return keydict is not None and (key is None or key in keydict)

    def get_edge_data(self, source: str, target: str) -> KeyDict | None:
        """key -> data of every edge from ``source`` to ``target`` (None if there is none)."""
        found: KeyDict | None = self._succ.get(source, _EMPTY).get(target)
        return found

    def out_edges(self, node: str, data: bool = False, keys: bool = False) -> Iterator[Any]:
        if data and not keys:  # what the reader asks of every node while opening: kept lean
            for target, keydict in self._succ.get(node, _EMPTY).items():
                for attrs in keydict.values():
                    yield node, target, attrs
            return
        for target, keydict in self._succ.get(node, _EMPTY).items():
            for key, attrs in keydict.items():
                yield _edge_tuple(node, target, key, attrs, data, keys)

    def in_edges(self, node: str, data: bool = False, keys: bool = False) -> Iterator[Any]:
        for source, keydict in self._predecessors(node):
            for key, attrs in keydict.items():
                yield _edge_tuple(source, node, key, attrs, data, keys)

    def predecessors_in_order(self, node: str) -> list[str]:
        """The nodes with an edge to ``node``, in the order their first edge was added."""
        return [source for source, _ in self._predecessors(node)]

    def order_predecessors(self, node: str, sources: list[str]) -> None:
        """Put ``node``'s predecessors in the order ``sources`` gives (a graph rebuilt edge
        by edge from another order, e.g. from a metadata index, then iterates the same)."""
        pred = dict(self._predecessors(node))
        if sorted(sources) != sorted(pred):
            raise ValueError(f"{node}: the predecessors given are not the node's")
        if len(sources) > 1:  # every one kept in _pred: the group is not first any more
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
