"""External links, checked without opening the files they name.

An external link is valid HDF5 wherever it points, so these are warnings: a link that
leads outside the file's folder (h5model resolves it only when the caller allows it with
``external_root=``, and a file from a stranger may point anywhere, e.g. at a system
file) and a link to a file that is not there. Neither file is read: only its path is
looked at.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from h5model.hdf5.graph import FileIndex
from h5model.hdf5.kinds import LinkKind
from h5model.hdf5.paths import join
from h5model.validation.report import Emit, Severity


def check_external_links(
    path: Path, index: FileIndex, emit: Emit, skip: Callable[[str], bool]
) -> None:
    """Warn about each external link of the file at ``path`` that leads outside its folder
    or to no file."""
    folder = Path(os.path.realpath(path)).parent
    for parent, children in index.children.items():
        if skip(parent):
            continue
        for child in children:
            if child.kind is not LinkKind.EXTERNAL or child.filename is None:
                continue
            where = join(parent, child.name)
            target = Path(os.path.realpath(folder / child.filename))
            if not target.is_relative_to(folder):
                emit(where, "link.external-outside",
                     f"external link leads outside the file's folder, to {child.filename!r} "
                     "(followed only when allowed with external_root=)", Severity.WARNING)
            elif not target.is_file():
                emit(where, "link.external-missing",
                     f"external link to {child.filename!r}, which is not a file beside this "
                     "one", Severity.WARNING)
