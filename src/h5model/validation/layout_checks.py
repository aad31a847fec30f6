"""What a layout adds to validation: objects that did not bind, text literals, row counts.

Under a layout (``hdf5.binding``), a root that does not fit the layout's root type is
an error: nothing else could be checked. Every unnamed child that fits none of the
types its parent may hold, or several, is reported with the reason (a warning, an
error with ``--strict``), as is an attribute whose text is not the literal the layout
declares. A collection whose layout gives it a row count (``rows``) must hold datasets
of that many rows, the count read from the root attribute named. A file read with
specs but no layout in which no object carries a type is reported too: nothing in it
was checked. A member a layout ``requires`` (e.g. an RT-DC file's ``events``) is
reported by name when missing, while the rest of the file is still checked.
"""

from __future__ import annotations

from h5model.hdf5.binding import Binding
from h5model.hdf5.graph import FileIndex
from h5model.hdf5.kinds import LinkKind, NodeKind
from h5model.validation.report import Emit, Severity


def check_binding(index: FileIndex, binding: Binding, emit: Emit) -> None:
    """Report what binding found; checks nothing else."""
    graph = index.graph
    if binding.layout is None:
        if not any("type" in data for _, data in graph.nodes(data=True)):
            emit("/", "layout.none", "no object of the file carries type attributes, so "
                 "nothing was checked against the specs; give the layout the file follows "
                 "(--layout)", Severity.ERROR)
        return
    if binding.root_problem is not None:
        emit("/", "layout.root-unbound", binding.root_problem, Severity.ERROR)
        return
    for path, why in sorted(binding.unbound.items()):
        emit(path, "type.unbound", f"no type of layout {binding.layout.name!r} binds this "
             f"object: {why}", Severity.WARNING)
    for path, name, problem in binding.text_problems:
        emit(path, "attribute.text-literal", f"attribute {name!r}: {problem}", Severity.ERROR)
    for path, attribute in sorted(binding.rows.items()):
        _check_rows(index, path, attribute, emit)
    for path, members in sorted(binding.requires.items()):
        for member in members:
            if not _holds(index, path, member):
                emit(path, "layout.required", f"{member!r} is missing: layout "
                     f"{binding.layout.name!r} requires it here", Severity.ERROR)


def _holds(index: FileIndex, path: str, member: str) -> bool:
    """Whether the object at ``path`` holds ``member`` (a relative path, hard links)."""
    current = path
    for part in member.split("/"):
        found = next((c.target for c in index.children.get(current, ())
                      if c.name == part), None)
        if found is None:
            return False
        current = found
    return True


def _check_rows(index: FileIndex, path: str, attribute: str, emit: Emit) -> None:
    expected = index.attrs.get("/", {}).get(attribute)
    counts: dict[str, int] = {}
    for child in index.children.get(path, ()):
        if child.kind is not LinkKind.HARD:
            continue
        data = index.graph.nodes[child.target]
        if data["kind"] is NodeKind.DATASET and data.get("shape"):
            counts[child.name] = data["shape"][0]
    if isinstance(expected, (int,)) or hasattr(expected, "__index__"):
        want = int(expected)  # type: ignore[arg-type]
        source = f"root attribute {attribute!r}"
    elif counts:
        want = max(set(counts.values()), key=list(counts.values()).count)
        source = "most datasets here"
    else:
        return
    for name, count in sorted(counts.items()):
        if count != want:
            emit(f"{path.rstrip('/')}/{name}", "layout.rows",
                 f"{count} rows, expected {want} ({source})", Severity.ERROR)
