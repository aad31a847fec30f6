"""``h5model.open``: a file handle with its specs, graph and models, for reading or editing.

Modes follow h5py: ``r`` read-only, ``r+`` read/write (must exist), ``a`` read/write
(created if missing), ``w`` create (replacing an existing file, at save), ``w-``/``x``
create (refused if the file exists). Nothing is overwritten without being asked.
A new file given no specs is built with the committed ones (``new``).
The handle opens, gives the models and closes; a save is ``persist.save``'s, the HDF5
handle and lazy arrays are ``FileSource``'s, and edits go to the file's ``Tracker``.
``File`` is generic over its root's model class, and ``get(path, Type)`` checks at run
time what it tells a type checker.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, overload

import h5py
from typing_extensions import TypeVar

from h5model.codegen import registry
from h5model.errors import (
    H5ModelError,
    ModelError,
    NotFoundError,
    ReadOnlyError,
    WrongTypeError,
)
from h5model.hdf5 import index_lookup
from h5model.hdf5.binding import bind
from h5model.hdf5.graph import FileIndex, build_graph
from h5model.hdf5.index_file import StoredIndex
from h5model.hdf5.open import check_regular_file
from h5model.hdf5.partial import partial_graph
from h5model.models.arrays import H5Array
from h5model.models.declared import declare, module_of
from h5model.models.lazyclasses import type_keys
from h5model.models.nodes import ExternalLink, Group, Node, is_pending
from h5model.persist.save import SaveReport, save_changes, save_new
from h5model.persist.streaming import (
    BackgroundWriter,
    EventSink,
    RepairReport,
    Stream,
    StreamOptions,
    repair,
    storage_options,
)
from h5model.persist.streaming.stream import create_for_stream
from h5model.persist.tracker import Tracker
from h5model.persist.whole_file import specs_of
from h5model.rules.ruleset import RuleSet
from h5model.session.builders import Builders
from h5model.session.ondemand import OnDemand
from h5model.session.reader import Reader
from h5model.session.source import FileSource
from h5model.spec.declared import is_layout_class, resolve_layout
from h5model.spec.layout import Layout, LayoutLike, embedded_layout
from h5model.spec.loader import PathLike, SpecSet, combine, load_specs, supplied_specs
from h5model.storage.locking import WriterLock, reading, recover
from h5model.storage.remote import READ_ONLY, handle_of, is_url, read_only

if TYPE_CHECKING:
    import networkx as nx

MODES = ("r", "r+", "a", "w", "w-", "x")

RootT = TypeVar("RootT", bound=Node, default=Any)
"""The class of a file's root model (``File[NWBFile]``); unsaid, ``Any``."""
T = TypeVar("T")
TypeKey = str | tuple[str, str]
"""A type by name: ``"TimeSeries"``, ``"core.TimeSeries"`` or ``("core", "TimeSeries")``."""


Structure = Literal["on_demand", "at_open"]
"""When a file's object metadata is read (``open(..., structure=...)``)."""
STRUCTURES: tuple[Structure, ...] = ("on_demand", "at_open")


class File(Generic[RootT]):
    """An HDF5 file read as models. Use as a context manager, or call ``close()``.

    ``File[NWBFile]`` says what ``root`` is, for editors and type checkers."""

    def __init__(
        self,
        path: PathLike,
        mode: str = "r",
        *,
        spec: PathLike | Sequence[PathLike] | None = None,
        external_root: PathLike | None = None,
        namespace: str | Sequence[str] | None = None,
        layout: Layout | LayoutLike | type[Any] | None = None,
        index: PathLike | bool | None = None,
        stream: bool | StreamOptions = False,
        structure: Structure = "on_demand",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if structure not in STRUCTURES:
            raise ValueError(f"structure must be one of {', '.join(map(repr, STRUCTURES))}, "
                             f"not {structure!r}")
        self._structure = structure
        if stream and mode == "r":
            raise ValueError("a file is opened for streaming with a writable mode "
                             "('r+', 'a', 'w', 'w-')")
        self._stream_options: StreamOptions | None = (
            None if not stream else stream if isinstance(stream, StreamOptions)
            else StreamOptions())
        self._writers: list[BackgroundWriter] = []
        self.repaired: RepairReport | None = None
        """What opening for writing cut back after a streaming writer was killed."""
        if index not in (None, False, True) and mode != "r":
            raise ValueError("a metadata index is read only by read-only opens (mode 'r')")
        self._index_arg = index
        self.index_source: str | None = None
        """The metadata index the models were read from (None: from the file itself)."""
        self.url: str | None = str(path) if is_url(path) else None
        """The URL of a remote file (read-only, by byte ranges); None for a local one."""
        if self.url is not None and mode != "r":
            raise read_only(self.url)
        self.path = Path(path)
        self.label = str(path)
        self.mode = "w-" if mode == "x" else mode
        self.writable = self.mode != "r"
        self._lock: WriterLock | None = None
        self.last_save: SaveReport | None = None
        """How the last save of this handle reached the disk (``method``, ``reason``)."""
        self._externals: dict[Path, File] = {}
        self._models: MutableMapping[str, Any] = {}
        """hdf5_path -> model: an ``OnDemand`` mapping for a file read (models are built
        when reached), a plain dict for a new file."""
        self._tracker = Tracker(self.label, writable=self.writable, handle=self,
                                find=self._models_get,
                                **({"read_only": READ_ONLY} if self.url is not None else {}))
        self._source = FileSource(self.path, self.label, self._tracker, self._models_get,
                                  url=self.url)
        self._declared = declare(layout) if is_layout_class(layout) else None  # type: ignore[arg-type]
        """The layout written as model classes (``models.declared``): read as those classes."""
        self.layout: Layout | None = resolve_layout(layout) if layout is not None else None
        """The layout that types the file's objects without type attributes (or None)."""
        self._spec_arg = spec
        self._default_specs = False
        """True for a new file given no specs: the committed ones, unless the root comes
        from another file (whose specs it is written with)."""
        # realpath, unlike Path.resolve, does not raise on a loop of symbolic links
        self.external_root = (
            Path(external_root) if external_root else Path(os.path.realpath(self.path)).parent
        )
        self.modules: dict[str, ModuleType] = {}
        self._nx_graph: nx.MultiDiGraph[str] | None = None
        self._nx_source: FileIndex | None = None
        exists = self.url is not None or self.path.exists()
        if self.mode in ("r", "r+") and self.url is None:
            check_regular_file(self.path)  # no such file, a FIFO, a symbolic-link loop...
        if self.mode == "w-" and exists:
            raise H5ModelError("the file exists; use mode='w' to replace it", file=self.label)
        try:
            if self.writable:
                self._lock = WriterLock(self.path)
            if exists and self._lock is not None:
                # a writer holds the writer lock itself: no save of ours is under way, so
                # a journal left behind is a crash to roll back now. Readers never write:
                # ``reading`` waits out a save and reports a crashed one.
                recover(self.path)
                self.repaired = repair(self.path, own_only=True)
            self._fresh = self.mode == "w" or not exists
            self._source.streaming = self._stream_options is not None
            if self._fresh:
                if spec is not None or self.layout is not None:
                    self._tracker.specs = combine(None, {**supplied_specs(spec),
                                                         **self._layout_namespaces()},
                                                  self.label)
                else:
                    self._tracker.specs = registry.committed_specs(namespace, label=self.label)
                    self._default_specs = True
                self.modules = self._modules_for(self._tracker.specs)
            else:
                self._load()
                self._start_stream()
        except BaseException:
            self.close()
            raise

    def _start_stream(self, *, live: bool = True) -> None:
        if self._stream_options is not None and self._source.stream is None:
            self._source.stream = Stream(self._source.h5, self.path, self.label,
                                         self._stream_options, live=live)

    def _load(self) -> None:
        use_index = self.mode == "r" and self._index_arg is not False
        found = self._find_index() if use_index else None
        if found is not None:
            self._load_indexed(*found, h5=None)
            return
        with reading(self.path) if self.url is None else contextlib.nullcontext():
            h5 = self._source.attach()
            handle = handle_of(h5)
            if use_index and self._index_arg in (None, True) and handle is not None:
                found = index_lookup.find(self.url or self.path, None, registry.cache_dir(),
                                          identity=index_lookup.remote_identity(handle),
                                          beside=False)
                if found is not None:
                    self._load_indexed(*found, h5=h5)
                    return
            specs = self._tracker.specs = load_specs(h5, self.label, self._spec_arg,
                                                     self._layout_namespaces())
            if self.layout is None:  # a file made self-describing keeps its layout
                self.layout = embedded_layout(h5, self.label, specs)
            self.modules = self._modules_for(specs)
            partial = (self._structure == "on_demand" and self.mode == "r"
                       and self.layout is None and self._source.reads_on_demand)
            if partial:
                # read group by group as models reach it: the cost follows what is touched
                index = partial_graph(h5, self.label, self._source.lend)
            else:
                index = build_graph(h5, self.label)
            self._tracker.index = index
            self._bind(index)
            self._source.binder = self._bind
            self._models = Reader(
                h5, self.label, index, self.modules, self._open_external,
                source=self._source, owner=self._tracker,
            ).build()
            if partial:  # the root and its entries, read while no save can run
                self._models.get("/")

    def _modules_for(self, specs: SpecSet) -> dict[str, ModuleType]:
        """The model modules of ``specs``; a layout written as classes gives its own."""
        modules = registry.modules_for(specs)
        if self._declared is not None:
            modules[self._declared.namespace] = module_of(self._declared)
        return modules

    def _layout_namespaces(self) -> dict[str, Any]:
        return self.layout.namespaces() if self.layout is not None else {}

    def _bind(self, index: FileIndex) -> None:
        """Type the objects without type attributes by the layout; refuse what cannot be read."""
        assert self._tracker.specs is not None
        binding = bind(index, RuleSet(self._tracker.specs), self.layout)
        if binding.root_problem is not None:
            raise ModelError(binding.root_problem, file=self.label, hdf5_path="/",
                             rule="layout.root-unbound")
        for path, name, problem in binding.text_problems:
            raise ModelError(f"attribute {name!r}: {problem}", file=self.label, hdf5_path=path,
                             rule="attribute.text-literal")

    def _find_index(self) -> tuple[StoredIndex, str] | None:
        arg = self._index_arg
        explicit = None if arg is None or isinstance(arg, bool) else arg
        identity = None if self.url is not None else index_lookup.local_identity(self.path)
        return index_lookup.find(self.url or self.path, explicit, registry.cache_dir(),
                                 identity=identity)

    def _load_indexed(self, stored: StoredIndex, where: str, *, h5: h5py.File | None) -> None:
        """Models from a metadata index: the file is opened only when data is read."""
        specs = self._tracker.specs = index_lookup.specs_for(
            stored, self.label, self._spec_arg, self._layout_namespaces())
        self.modules = registry.modules_for(specs)
        index = self._tracker.index = stored.index
        self._bind(index)
        self._source.binder = self._bind
        self.index_source = where
        if h5 is None:
            verify = self.url is not None  # a local file's identity was compared already

            def check(opened: h5py.File) -> None:
                handle = handle_of(opened)
                if verify and handle is not None:
                    index_lookup.check_remote(stored, where, handle)

            self._source.attach_later(check)
        folder = (self.url.rsplit("/", 1)[0] if self.url is not None
                  else os.path.dirname(os.path.abspath(self.path)))
        self._models = Reader(
            h5, self.label, index, self.modules, self._open_external,
            source=self._source, owner=self._tracker, folder=folder,
        ).build()

    def _models_get(self, path: str) -> Any:
        return self._models.get(path)

    # -- access ------------------------------------------------------------------------------
    @property
    def h5(self) -> h5py.File:
        """The underlying h5py file (read-only)."""
        return self._source.h5

    @property
    def specs(self) -> SpecSet | None:
        """The specs the file is read (and its new objects checked) with."""
        return self._tracker.specs

    @property
    def index(self) -> FileIndex | None:
        """The object graph as last read (None for a new file before its first save)."""
        return self._tracker.index

    @property
    def graph(self) -> nx.MultiDiGraph[str]:
        """The object graph as a ``networkx.MultiDiGraph`` (built on first use): every child,
        link and reference is its own edge, keyed ``label:name`` between its two nodes."""
        if self.index is None:
            raise H5ModelError("the file has not been saved yet", file=self.label)
        if self._nx_graph is None or self._nx_source is not self.index:
            self._nx_graph = self.index.graph.to_networkx()
            self._nx_source = self.index
        return self._nx_graph

    @property
    def types(self) -> Builders:
        """Every type of the file's namespaces by name, built as pynwb builds it: required
        parts pynwb fills in itself are filled in unless given (``f.types.NWBFile(...)``;
        see ``session.builders``). ``f.modules`` has the classes themselves."""
        return Builders(self.modules)

    @property
    def root(self) -> RootT:
        """The model of the root group (``/``)."""
        root: RootT = self._models.get("/")  # type: ignore[assignment]
        return root

    @root.setter
    def root(self, model: RootT) -> None:
        if not self.writable or not self._fresh:
            raise H5ModelError("the root can only be set on a new file (mode 'w', 'w-' or 'a')",
                               file=self.label)
        if not isinstance(model, Group):
            raise TypeError("the root must be a group model")
        self._models = {"/": model}

    @overload
    def get(self, hdf5_path: str) -> Any: ...
    @overload
    def get(self, hdf5_path: str, kind: type[T]) -> T: ...
    def get(self, hdf5_path: str, kind: type[Any] | None = None) -> Any:
        """The model at ``hdf5_path`` (typed or not); soft links lead to their target's model.

        With ``kind`` (a model class), the model must be one (``WrongTypeError`` if not), and
        type checkers see it as one. A path with nothing there raises ``NotFoundError`` (a
        ``KeyError``)."""
        path = "/" + hdf5_path.strip("/") if hdf5_path != "/" else "/"
        model = self._models.get(path)
        if model is None:
            parts = [p for p in path.split("/") if p]
            current: Any = self.root
            for i, part in enumerate(parts):
                children = getattr(current, "children", None)
                if children is None or part not in children:
                    where = "/" + "/".join(parts[: i + 1])
                    raise NotFoundError("no object at this path", file=self.label,
                                        hdf5_path=where)
                current = children[part]
            model = current
        if kind is not None and not isinstance(model, kind):
            raise WrongTypeError(
                f"expected {_class_label(kind)}, found {_class_label(type(model))}",
                file=self.label, hdf5_path=path,
            )
        return model

    def models(self) -> Iterator[tuple[str, Node]]:
        """(hdf5_path, model) for every object, parents before children (each model is
        built as it is reached)."""
        return iter(self._models.items())

    def _classes(self) -> Iterator[tuple[str, type[Node]]]:
        """(hdf5_path, the class of its model) for every object, building no model."""
        models = self._models
        if isinstance(models, OnDemand):
            return models.classes()
        return ((path, type(model)) for path, model in models.items())

    @overload
    def find(self, kind: type[T]) -> list[T]: ...
    @overload
    def find(self, kind: TypeKey) -> list[Node]: ...
    def find(self, kind: type[Any] | TypeKey) -> list[Any]:
        """Every model of a type or one of its subtypes, in path order: ``kind`` is a model
        class, or a type's name (``"TimeSeries"``, ``"core.TimeSeries"``,
        ``("core", "TimeSeries")``)."""
        if isinstance(kind, type):
            return [self._models[path] for path, cls in sorted(self._classes())
                    if issubclass(cls, kind)]
        namespace, name = _type_key(kind)
        known = type_keys(self.modules)
        if not any(n == name and namespace in (None, ns) for ns, n in known):
            where = f"namespace {namespace!r}" if namespace else "the file's specs"
            raise H5ModelError(f"no type {name!r} in {where}", file=self.label)
        return [
            self._models[path] for path, model_class in sorted(self._classes())
            if any(cls.h5_type is not None and cls.h5_type[1] == name
                   and namespace in (None, cls.h5_type[0])
                   for cls in model_class.__mro__ if isinstance(cls, type)
                   and issubclass(cls, Node) and "h5_type" in vars(cls))
        ]

    def __contains__(self, hdf5_path: object) -> bool:
        if not isinstance(hdf5_path, str):
            return False
        try:
            self.get(hdf5_path)
        except H5ModelError:
            return False
        return True

    # -- saving ------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """True when there are edits not saved yet."""
        return bool(self._tracker.changes)

    def save(self, *, copy_limit: int | None = None) -> SaveReport | None:
        """Check every edit, then write exactly what changed, so that every reader sees the
        old file or the new one; returns how (also ``last_save``), None if nothing changed.

        ``copy_limit`` (bytes) overrides ``H5MODEL_SAVE_COPY_LIMIT``: the largest file
        copied when the file system cannot clone it (larger ones use the journal)."""
        if self.url is not None:
            raise read_only(self.url)
        if not self.writable:
            raise ReadOnlyError("the file is open read-only (mode 'r'); open it with mode "
                                "'r+' to save", file=self.label)
        if self._fresh:
            root = self._models.get("/")
            specs = self.specs
            if self._default_specs and root is not None and specs_of(root) is not None:
                specs = specs_of(root)  # a root read from another file keeps its specs
            report: SaveReport | None = save_new(
                root, specs, self.path, self.label,
                libver="latest" if self._stream_options is not None else None)
            self._fresh = False
            self._tracker.changes.clear()
            # the file's own models from now on (the ones given may belong to another file,
            # whose edit log would swallow later edits): f.root is the saved root
            self._load()
            self._start_stream()
        elif self._source.stream is not None:
            raise H5ModelError("a file open for streaming is written by appends, in place; "
                               "close it and open it with 'r+' (no stream) to save edits",
                               file=self.label)
        else:
            report = save_changes(self._tracker, self._source, self._models, self.path,
                                  copy_limit=copy_limit)
        if report is not None:
            self.last_save = report
        return report

    # -- streaming -----------------------------------------------------------------------------
    @property
    def stream(self) -> Stream:
        """Where appends go (``persist.streaming.Stream``): a file opened with
        ``stream=True`` only. A new file without a root is created empty here."""
        if self._stream_options is None:
            raise H5ModelError("the file is not open for streaming; open it with "
                               "h5model.open(path, 'r+', stream=True)", file=self.label)
        if self._source.stream is None:
            if not self._fresh or self._models.get("/") is not None:
                raise H5ModelError("save the new file's root first, then append",
                                   file=self.label)
            create_for_stream(self.path, self.label, replace=self.mode == "w")
            self._fresh = False
            self._source.attach()
            self._start_stream(live=False)  # live at the first flush, once its datasets exist
        assert self._source.stream is not None
        return self._source.stream

    def sink(self, group: str = "/events", *, count_attribute: str | None = None,
             compression: Any = None, compression_opts: Any = None, shuffle: bool = False,
             fletcher32: bool = False) -> EventSink:
        """An event sink on ``group``: every feature of a batch appended together. Under a
        layout whose event type counts its rows in a root attribute (RT-DC: ``experiment:
        event count``), that attribute follows the rows unless ``count_attribute`` names
        another. New features are stored with the filters given (``"gzip"``, ``"lzf"``,
        ``hdf5plugin.Zstd()``; ``fletcher32`` for checksums)."""
        if count_attribute is None and self.layout is not None:
            counts = {t.rows for t in self.layout.types.values() if t.rows}
            count_attribute = counts.pop() if len(counts) == 1 else None
        storage = storage_options(compression, compression_opts, shuffle=shuffle,
                                  fletcher32=fletcher32)
        return EventSink(self.stream, group, count_attribute=count_attribute, storage=storage)

    def writer(self, write: Callable[[Any], Any], *, queue_size: int = 256, block: bool = True,
               ordered: bool = False) -> BackgroundWriter:
        """A background writer calling ``write(batch)`` (``sink.append``,
        ``series.data.append``...) from its own thread: ``writer.append(batch)`` returns at
        once unless the queue is full (then waits, or raises ``QueueFull`` if not
        ``block``); ``ordered``: batches carry an index (``append(batch, index=i)``, from 0)
        and are written in index order. Closed with the file (errors raised then)."""
        stream = self.stream

        def whole(batch: Any) -> Any:
            with stream.holding():  # a batch is flushed whole or not at all
                return write(batch)

        made = BackgroundWriter(whole, flush=stream.flush, tick=stream.tick,
                                queue_size=queue_size, block=block,
                                first_index=0 if ordered else None, label=self.label)
        self._writers.append(made)
        return made

    def flush(self) -> None:
        """Make every row appended so far durable and visible to live readers."""
        for made in self._writers:
            made.flush()
        self.stream.flush()

    def refresh(self) -> None:
        """See the rows a streaming writer in another process flushed since the file was
        opened (every dataset's shape read again; objects made since are not seen)."""
        models = self._models
        built = models.refreshed() if isinstance(models, OnDemand) else dict(models)
        for model in built.values():
            if is_pending(model):
                continue  # reads its current shape when it is filled
            value = getattr(model, "value", None)
            if isinstance(value, H5Array):
                value.refresh()

    # -- external links ------------------------------------------------------------------------
    def _open_external(self, link: ExternalLink) -> Any:
        if self.url is not None:
            raise H5ModelError(f"external link to {link.filename!r}: links of a remote file "
                               "to other files are not followed", file=self.label,
                               hdf5_path=link.hdf5_path)
        target = Path(os.path.realpath(Path(os.path.realpath(self.path)).parent
                                       / link.filename))
        root = Path(os.path.realpath(self.external_root))
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

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (unsaved edits are dropped) and every external file it opened."""
        for other in self._externals.values():
            other.close()
        self._externals.clear()
        failure: BaseException | None = None
        for made in self._writers:
            try:
                made.close()
            except BaseException as exc:
                failure = failure or exc
        self._writers.clear()
        if self._source.stream is not None:
            try:
                self._source.stream.close()
            except BaseException as exc:
                failure = failure or exc
            self._source.stream = None
        self._source.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if failure is not None:
            raise failure

    def __enter__(self) -> File[RootT]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._source.is_open else "closed"
        return f"<h5model.File {self.label!r} ({self.mode}, {state}, {len(self._models)} objects)>"


@overload
def open(
    path: PathLike, mode: str = "r", *, spec: PathLike | Sequence[PathLike] | None = None,
    external_root: PathLike | None = None, root_type: None = None,
    layout: Layout | LayoutLike | type[Any] | None = None,
    index: PathLike | bool | None = None, stream: bool | StreamOptions = False,
    structure: Structure = "on_demand",
) -> File[Any]: ...
@overload
def open(
    path: PathLike, mode: str = "r", *, spec: PathLike | Sequence[PathLike] | None = None,
    external_root: PathLike | None = None, root_type: type[RootT],
    layout: Layout | LayoutLike | type[Any] | None = None,
    index: PathLike | bool | None = None, stream: bool | StreamOptions = False,
    structure: Structure = "on_demand",
) -> File[RootT]: ...
def open(
    path: PathLike,
    mode: str = "r",
    *,
    spec: PathLike | Sequence[PathLike] | None = None,
    external_root: PathLike | None = None,
    root_type: type[Any] | None = None,
    layout: Layout | LayoutLike | type[Any] | None = None,
    index: PathLike | bool | None = None,
    stream: bool | StreamOptions = False,
    structure: Structure = "on_demand",
) -> File[Any]:
    """Open ``path``; models are built as they are reached. ``mode`` as in h5py; ``spec``
    adds namespace files on disk; ``layout`` (a shipped layout's name, a layout folder or
    its ``layout.yaml``) types objects without type attributes by position; ``root_type``
    (a model class) is checked against the root's model and types the handle
    (``File[root_type]``). A new file (``w``, ``w-``/``x``, ``a`` of a missing file) given
    no ``spec`` gets the namespaces current pynwb writes, as ``new`` does. ``index``: a
    metadata index to read the models from (a path or URL, written by ``h5model
    index``); by default (None) a read-only open uses a matching one beside the file
    (``FILE.h5mindex``) or in the index cache, False never does. An index that does not
    match the file is warned about (``IndexWarning``) and the file is read instead.
    ``stream``: open for appending rows in place while live readers watch (True, or a
    ``StreamOptions`` saying when to flush; see ``h5model.persist.streaming``).
    ``structure``: ``"on_demand"`` (a read-only local file's groups are read as models
    reach them; if another process saves into the file meanwhile, reading on is refused)
    or ``"at_open"`` (every object's metadata is read now: models keep reading the state
    the file had when it was opened, whatever another process saves meanwhile)."""
    file: File[Any] = File(path, mode, spec=spec, external_root=external_root, layout=layout,
                           index=index, stream=stream, structure=structure)
    root = file.root
    if root_type is not None and root is not None and not isinstance(root, root_type):
        file.close()
        raise WrongTypeError(
            f"expected a root of {_class_label(root_type)}, found {_class_label(type(root))}",
            file=file.label, hdf5_path="/",
        )
    return file


def new(
    path: PathLike,
    namespace: str | Sequence[str] | None = None,
    *,
    overwrite: bool = False,
    spec: PathLike | Sequence[PathLike] | None = None,
) -> File[Any]:
    """A new file to build from scratch: ``f.types`` builds its models, ``f.root = ...``
    and ``f.save()`` write it with its specs embedded (``/specifications``, ``.specloc``).

    The specs are those the committed models were generated from (what current pynwb
    writes: core, hdmf-common, hdmf-experimental), no files on disk needed; ``namespace``
    keeps one of them (or several) with what it depends on; ``spec`` takes namespace
    files on disk instead. An existing file is refused unless ``overwrite`` (it is
    replaced at the save)."""
    if namespace is not None and spec is not None:
        raise ValueError("pass namespace= (committed specs) or spec= (files on disk), not both")
    return File(path, "w" if overwrite else "w-", spec=spec, namespace=namespace)


def write_index(path: PathLike, output: PathLike | None = None, *,
                chunks: Sequence[str] = ()) -> Path:
    """Write the metadata index of the file (or URL) ``path``: to ``output``, or by default
    into the index cache, where ``open`` finds it while the file stays as it is. Name
    ``output`` ``FILE.h5mindex`` beside the file (or upload it as ``URL.h5mindex``) to have
    every reader find it. ``chunks``: datasets whose chunk offsets to keep as well."""
    return index_lookup.write(path, output, registry.cache_dir(), chunks=chunks)


def _class_label(cls: type[Any]) -> str:
    """``TimeSeries (core)`` for a typed model class, else the class's name."""
    h5_type = getattr(cls, "h5_type", None)
    if isinstance(h5_type, tuple):
        return f"{h5_type[1]} ({h5_type[0]})"
    return cls.__name__


def _type_key(kind: TypeKey) -> tuple[str | None, str]:
    """(namespace or None, type name) from ``"Name"``, ``"ns.Name"`` or ``("ns", "Name")``."""
    if isinstance(kind, tuple):
        namespace, name = kind
        return namespace, name
    namespace_part, dot, name = kind.rpartition(".")
    return (namespace_part if dot else None), name
