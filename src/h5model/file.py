"""``h5model.open``: a file handle with its specs, graph and models."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import h5py
import networkx as nx

from h5model import registry
from h5model.errors import H5ModelError, NotHDF5Error
from h5model.graph import FileIndex, build_graph
from h5model.nodes import ExternalLink, Node
from h5model.read import Reader
from h5model.spec.loader import SpecSet, combine, read_embedded, read_namespace_files

PathLike = str | os.PathLike[str]


def open_hdf5(path: Path) -> h5py.File:
    """Open read-only, turning h5py's errors into one that names the file."""
    label = str(path)
    if not path.exists():
        raise NotHDF5Error("no such file", file=label)
    if path.is_dir():
        raise NotHDF5Error("is a folder, not an HDF5 file", file=label)
    try:
        if not h5py.is_hdf5(path):
            raise NotHDF5Error("not an HDF5 file (no HDF5 signature)", file=label)
        return h5py.File(path, "r")
    except NotHDF5Error:
        raise
    except (OSError, ValueError) as exc:
        raise NotHDF5Error(f"cannot be opened as HDF5 ({exc})", file=label) from None


def load_specs(file: h5py.File, label: str, spec: PathLike | Sequence[PathLike] | None) -> SpecSet:
    """The file's embedded specs, overridden or supplied by namespace files on disk."""
    supplied_paths: list[Path] = []
    if spec is not None:
        if isinstance(spec, (str, os.PathLike)):
            supplied_paths = [Path(spec)]
        else:
            supplied_paths = [Path(p) for p in spec]
    supplied = read_namespace_files(supplied_paths) if supplied_paths else {}
    try:
        embedded: SpecSet | None = read_embedded(file, label)
    except H5ModelError as exc:
        if not supplied or "embeds no specifications" not in exc.message:
            raise
        embedded = None
    return combine(embedded, supplied, label) if supplied else embedded  # type: ignore[return-value]


class File:
    """An open HDF5 file read as models. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        path: PathLike,
        *,
        spec: PathLike | Sequence[PathLike] | None = None,
        external_root: PathLike | None = None,
    ) -> None:
        self.path = Path(path)
        self.label = str(path)
        self._h5 = open_hdf5(self.path)
        self._externals: dict[Path, File] = {}
        self.external_root = Path(external_root) if external_root else self.path.resolve().parent
        try:
            self.specs = load_specs(self._h5, self.label, spec)
            self.modules: dict[str, ModuleType] = registry.modules_for(self.specs)
            self.index: FileIndex = build_graph(self._h5, self.label)
            self._models = Reader(
                self._h5, self.label, self.index, self.modules, self._open_external
            ).build()
        except BaseException:
            self._h5.close()
            raise

    # -- access ------------------------------------------------------------------------
    @property
    def h5(self) -> h5py.File:
        """The underlying h5py file (read-only)."""
        return self._h5

    @property
    def graph(self) -> nx.DiGraph[str]:
        return self.index.graph

    @property
    def root(self) -> Any:
        return self._models["/"]

    def get(self, hdf5_path: str) -> Any:
        """The model at ``hdf5_path`` (typed or not); soft links lead to their target's model."""
        path = "/" + hdf5_path.strip("/") if hdf5_path != "/" else "/"
        model = self._models.get(path)
        if model is not None:
            return model
        parts = [p for p in path.split("/") if p]
        current: Any = self.root
        for i, part in enumerate(parts):
            children = getattr(current, "children", None)
            if children is None or part not in children:
                where = "/" + "/".join(parts[: i + 1])
                raise H5ModelError("no object at this path", file=self.label, hdf5_path=where)
            current = children[part]
        return current

    def models(self) -> Iterator[tuple[str, Node]]:
        """(hdf5_path, model) for every object, in dependency order."""
        return iter(self._models.items())

    def __contains__(self, hdf5_path: object) -> bool:
        if not isinstance(hdf5_path, str):
            return False
        try:
            self.get(hdf5_path)
        except H5ModelError:
            return False
        return True

    # -- external links ------------------------------------------------------------------
    def _open_external(self, link: ExternalLink) -> Any:
        target = (self.path.resolve().parent / link.filename).resolve()
        root = self.external_root.resolve()
        if not target.is_relative_to(root):
            raise H5ModelError(
                f"external link to {link.filename!r} leads outside {root}; pass "
                "external_root= to allow it",
                file=self.label,
                hdf5_path=link.hdf5_path,
            )
        other = self._externals.get(target)
        if other is None:
            other = File(target, external_root=root)
            self._externals[target] = other
        return other.get(link.path)

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        for other in self._externals.values():
            other.close()
        self._externals.clear()
        if self._h5.id.valid:
            self._h5.close()

    def __enter__(self) -> File:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._h5.id.valid else "closed"
        return f"<h5model.File {self.label!r} ({state}, {len(self._models)} objects)>"


def open(
    path: PathLike,
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    external_root: PathLike | None = None,
) -> File:
    """Open ``path`` read-only and build every model. ``spec`` adds namespace files on disk."""
    return File(path, spec=spec, external_root=external_root)
