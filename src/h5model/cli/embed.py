"""``h5model embed`` / ``h5model.embed``: check a file against a layout, then make it
self-describing.

The check comes first and decides: a file the layout does not fit (exit 1 with the
validation report) is left untouched; one it fits gets the specs, ``.specloc`` and type
attributes in one crash-safe save (``persist.embed``). The check reads the file through
``validation`` and the write goes through ``persist``: the command layer is where the
two meet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from h5model.errors import H5ModelError
from h5model.persist.embed import Embedded, embed_layout, with_root_type
from h5model.spec.declared import resolve_layout
from h5model.spec.layout import Layout, LayoutLike
from h5model.spec.loader import PathLike
from h5model.validation import Report, validate


class EmbedRefused(H5ModelError):
    """The file does not fit the layout; nothing was written. ``report`` says why."""

    rule = "embed.invalid"

    def __init__(self, report: Report, path: PathLike) -> None:
        self.report = report
        super().__init__("the file does not fit the layout, nothing was written:\n"
                         + report.to_text().rstrip(), file=str(path))


def embed(path: PathLike, layout: Layout | LayoutLike | type[Any], *, root_type: str | None = None,
          strict: bool = False, copy_limit: int | None = None) -> Embedded:
    """Validate ``path`` against ``layout`` (its root as ``root_type`` if given), then write
    the layout's specs, ``.specloc`` and type attributes into it: afterwards it opens, reads
    and validates the same with no ``layout``. Raises ``EmbedRefused`` (with the report)
    when the file does not fit; ``strict``: objects no type binds count against it too."""
    chosen = with_root_type(resolve_layout(layout), root_type)
    report = validate(path, layout=chosen, strict=strict)
    if report.exit_code() != 0:
        raise EmbedRefused(report, path)
    return embed_layout(Path(path), chosen, copy_limit=copy_limit)
