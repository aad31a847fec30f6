"""HDF5 paths as text: joining, splitting and normalising, the one way every layer does it.

Paths are absolute (``/a/b``); the root is ``/``. Nothing here touches a file.
"""

from __future__ import annotations


def join(parent: str, name: str) -> str:
    """``parent/name`` (``/name`` under the root)."""
    return (parent if parent.endswith("/") else parent + "/") + name


def parent_of(path: str) -> str | None:
    """The group holding ``path``; None for the root."""
    if path == "/":
        return None
    head = path.rsplit("/", 1)[0]
    return head or "/"


def name_of(path: str) -> str:
    """The last component of ``path`` (empty for the root)."""
    return path.rsplit("/", 1)[-1]


def normalise(path: str) -> str:
    """An absolute path without empty, ``.`` or ``..`` components (``..`` stops at root)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)
