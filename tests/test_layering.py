"""The package is layered: every import points downward (a back-edge fails here).

Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SOURCE = Path(__file__).resolve().parents[1] / "src" / "h5model"

BELOW_SESSION = {"errors", "storage", "spec", "rules", "codegen", "hdf5", "models", "persist"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "storage": {"errors"},
    "spec": {"errors"},
    "rules": {"errors", "spec"},
    "codegen": {"errors", "spec", "rules"},
    "hdf5": {"errors", "storage", "spec", "rules"},
    "models": {"errors", "spec", "rules", "codegen", "hdf5"},
    "persist": {"errors", "storage", "spec", "rules", "codegen", "hdf5", "models"},
    "session": BELOW_SESSION,
    # validation and truncation read the file and the rules, never the session or its edits;
    # validation asks the model registry whether these very specs were already resolved
    "validation": {"errors", "storage", "spec", "rules", "codegen", "hdf5"},
    "truncation": {"errors", "storage", "spec", "rules", "hdf5"},
    # drafting a layout reads the object graph, as validation does
    "inference": {"errors", "storage", "spec", "rules", "hdf5"},
    # many files at once: runs validation and truncation per file, never the session
    "batch": {"errors", "storage", "spec", "rules", "codegen", "hdf5", "validation",
              "truncation"},
    "cli": BELOW_SESSION | {"session", "validation", "truncation", "batch", "inference",
                             "layouts"},
    # what a shipped layout's system does beyond one file reads through the session
    "layouts": BELOW_SESSION | {"session", "validation", "truncation"},
}
TOP = {"__init__", "__main__", "_models"}
"""The public surface and the package of cached models may import any layer."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("h5model"):
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("h5model"))
    return found


def _modules() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in SOURCE.rglob("*.py")}
    return {
        name: {i for i in _imports(path) if i in paths and i != name}
        for name, path in paths.items()
    }


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_layer() -> None:
    layers = {_layer(m) for m in _modules()}
    assert layers <= set(ALLOWED) | TOP, layers - set(ALLOWED) - TOP


def test_imports_point_downward_only() -> None:
    back_edges = []
    for module, imported in _modules().items():
        layer = _layer(module)
        if layer in TOP:
            continue
        for target in imported:
            other = _layer(target)
            if other != layer and other not in ALLOWED[layer]:
                back_edges.append(f"{module} -> {target}")
    assert not back_edges, "imports against the layering:\n" + "\n".join(sorted(back_edges))


def test_no_import_cycles_between_modules() -> None:
    graph: nx.DiGraph[str] = nx.DiGraph()
    for module, imported in _modules().items():
        graph.add_node(module)
        for target in imported:
            # a package's __init__ re-exporting its own modules is not a cycle of concern
            if not module.startswith(target + ".") and not target.startswith(module + "."):
                graph.add_edge(module, target)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles


def test_layers_are_a_dag() -> None:
    graph = nx.DiGraph([(a, b) for a, deps in ALLOWED.items() for b in deps])
    assert nx.is_directed_acyclic_graph(graph)


def test_every_module_says_what_it_owns() -> None:
    """Each module opens with a docstring: what it owns and why."""
    missing = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not missing, missing
