"""Make a file that follows a layout self-describing, in one crash-safe save.

``h5model embed`` adds what HDMF readers look for: the layout's namespace and its
dependencies under ``/specifications/<ns>/<version>/`` (as HDMF caches them), the root
attribute ``.specloc`` pointing there, and on every object the layout binds the type
attributes ``namespace``, ``data_type`` and ``object_id``. The layout itself is kept
beside its namespace's sources (``spec.layout.EMBEDDED``), so the file then reads
exactly as it did under ``--layout`` (text literals, order, row counts) with no
``--layout`` given. All of it is written through the same clone-or-journal machinery
as any save (``persist.save.rewrite``): a crash leaves the file as it was or embedded.
Checking the file against the layout first is the caller's part (``h5model.embed``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import h5py

from h5model.errors import H5ModelError, SpecError
from h5model.hdf5.binding import bind
from h5model.hdf5.graph import build_graph
from h5model.persist.save import SaveReport, rewrite
from h5model.persist.writer import embed_layout_document, embed_specs, type_key
from h5model.rules.ruleset import RuleSet
from h5model.spec.layout import Layout, stored_documents
from h5model.spec.loader import combine, find_spec_group
from h5model.storage import replace as replacing
from h5model.storage.locking import WriterLock, recover, saving


@dataclass(frozen=True)
class Embedded:
    """What ``embed`` wrote: how the save reached the disk and the objects it typed."""

    save: SaveReport
    typed: dict[str, str]
    """HDF5 path -> type name given to it."""


def with_root_type(layout: Layout, root_type: str | None) -> Layout:
    """``layout`` with another type of its namespace for the root (``--root-type``)."""
    if root_type is None or root_type == layout.root_type:
        return layout
    if root_type not in dict(layout.namespaces()[layout.namespace].types()):
        raise SpecError(f"root type {root_type!r} is not defined in namespace "
                        f"{layout.namespace!r}", file=str(layout.folder))
    return replace(layout, root_type=root_type)


def embed_layout(path: Path, layout: Layout, *, copy_limit: int | None = None) -> Embedded:
    """Write the specs, ``.specloc`` and type attributes of ``layout`` into ``path``."""
    label = str(path)
    limit = replacing.copy_limit(copy_limit)
    lock = WriterLock(path)  # refused while another writer has the file open
    try:
        recover(path)  # a journal left by a crashed save is rolled back first
        with saving(path):
            replacing.remove_stale(path)
            report, typed = rewrite(path, lambda h5: _embed(h5, layout, label), limit)
    finally:
        lock.release()
    return Embedded(report, typed)


def _embed(h5: h5py.File, layout: Layout, label: str) -> dict[str, str]:
    if find_spec_group(h5, label) is not None:
        raise H5ModelError("the file already embeds specifications; embed adds them to a "
                           "file that has none", file=label, hdf5_path="/specifications")
    specs = combine(None, layout.namespaces(), label)
    index = build_graph(h5, label)
    binding = bind(index, RuleSet(specs), layout)
    if binding.root_problem is not None:
        raise H5ModelError(binding.root_problem, file=label, hdf5_path="/",
                           rule="layout.root-unbound")
    key = type_key(None, specs)
    typed: dict[str, str] = {}
    for path in sorted(binding.bound):
        data = index.graph.nodes[path]
        attrs = h5[path].attrs
        attrs["namespace"] = data["namespace"]
        attrs[key] = data["type"]
        attrs["object_id"] = str(uuid.uuid4())
        typed[path] = data["type"]
    names = specs.dependency_closure(layout.namespace)
    documents: list[tuple[str, str, Any]] = []
    literals: dict[str, dict[str, Any]] = {}
    for n in names:
        held = specs.namespaces[n].embedded_documents()
        if n == layout.namespace:  # text attributes declared as the text they store
            held, literals = stored_documents(held, layout)
        documents.append((specs.namespaces[n].name, specs.namespaces[n].version, held))
    embed_specs(h5, documents)
    embed_layout_document(h5, layout, specs, literals)
    return typed
