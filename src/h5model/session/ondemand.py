"""A file's models by path, each built the first time it is reached.

Opening a file with tens of thousands of objects must not cost what touching all of
them costs. The mapping hands out a model when its path is asked for (filled: its
fields read); a model's children, link targets and referenced objects are handed out
unfilled and fill themselves on first use (``models.nodes``), so the same path always
gives the same object. Iterating the mapping reaches, and fills, every model.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, Protocol


class ModelSource(Protocol):
    """What builds the models (``session.reader.Reader``)."""

    def filled(self, path: str) -> Any:
        """The model at canonical ``path``, its fields read (None: no object there)."""
        ...

    def paths(self) -> Iterator[str]:
        """Every object's canonical path, parents before children."""
        ...

    def class_of(self, path: str) -> type[Any] | None:
        """The class of the model at canonical ``path`` (None: no object there)."""
        ...

    @property
    def models(self) -> dict[str, Any]:
        """The models handed out so far, by canonical path."""
        ...

    live: bool
    """Models filled from now on read their arrays' shapes from the file (it grows)."""


class OnDemand(MutableMapping[str, Any]):
    """hdf5_path -> model, for every object of the file; models are built when asked for.

    Models saved into the file are set here; paths removed by a save are deleted (and are
    then never built from what the file held before)."""

    def __init__(self, source: ModelSource) -> None:
        self._source = source
        self._added: dict[str, Any] = {}
        self._removed: set[str] = set()

    def get(self, path: str, default: Any = None) -> Any:
        found = self._added.get(path)
        if found is not None:
            return found
        if path in self._removed:
            return default
        model = self._source.filled(path)
        return default if model is None else model

    def __getitem__(self, path: str) -> Any:
        model = self.get(path)
        if model is None:
            raise KeyError(path)
        return model

    def __setitem__(self, path: str, model: Any) -> None:
        self._removed.discard(path)
        self._added[path] = model

    def __delitem__(self, path: str) -> None:
        if not self._known(path):
            raise KeyError(path)
        self._added.pop(path, None)
        self._source.models.pop(path, None)
        self._removed.add(path)

    def _known(self, path: str) -> bool:
        """``path`` holds a model, found without building one."""
        if path in self._added:
            return True
        if path in self._removed:
            return False
        return path in self._source.models or self._source.class_of(path) is not None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._known(path)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for path in self._source.paths():
            if path not in self._removed:
                seen.add(path)
                yield path
        # models handed out that the file no longer holds at their path (a save removed
        # them), and models saved since
        for path in [*self._source.models, *self._added]:
            if path not in seen and path not in self._removed:
                seen.add(path)
                yield path

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def classes(self) -> Iterator[tuple[str, type[Any]]]:
        """(path, the class of its model) for every object, building no model."""
        for path in self:
            added = self._added.get(path)
            cls = type(added) if added is not None else self._source.class_of(path)
            if cls is not None:
                yield path, cls

    def refreshed(self) -> dict[str, Any]:
        """The file grew (rows a streaming writer flushed): models filled from now on see
        its current shapes. Returns the models handed out so far, for the caller to
        refresh."""
        self._source.live = True
        return self.built()

    def built(self) -> dict[str, Any]:
        """The models handed out so far (filled or not), by path, without building more."""
        out = {p: m for p, m in self._source.models.items() if p not in self._removed}
        out.update(self._added)
        return out
