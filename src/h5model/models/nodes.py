"""Base classes of every generated model, the field metadata they carry, and their owner.

A model knows where it lives (``hdf5_path``) and, through ``h5_fields``, how
each of its fields maps onto the file: an attribute, a named dataset, group or
link, or a collection of unnamed children. A model read from (or saved into) an
open file belongs to that file's ``Owner``: it asks there before every edit (a
read-only file refuses), reports its edits there, and finds its parent and its
``File`` through it. Groups read as mappings of their children by name.
"""

import copy
import json
import sys
import threading
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, PrivateAttr
from pydantic_core import PydanticUndefined

from h5model.errors import H5ModelError, NotFoundError
from h5model.models import display
from h5model.models.arrays import H5Array

if TYPE_CHECKING:
    from h5model.hdf5.graph import FileIndex
    from h5model.spec.loader import SpecSet

Role = Literal["attribute", "dataset", "group", "link", "children", "value"]


@dataclass(frozen=True, slots=True)
class H5Field:
    """How one model field maps onto the file."""

    role: Role
    name: str | None = None
    """The HDF5 name (None for a collection of unnamed children)."""
    unwrap: bool = False
    """The field holds the dataset's value rather than its model."""
    required: bool = False
    min_items: int = 0
    max_items: int | None = None
    dtype: str | None = None
    reftype: str | None = None
    target_type: str | None = None


@dataclass(slots=True)
class ExternalLink:
    """A link into another file. Nothing is opened until ``resolve()`` is called."""

    filename: str
    path: str
    hdf5_path: str
    """Where the link itself sits in this file."""
    _opener: "Callable[[ExternalLink], Any] | None" = field(default=None, repr=False)
    folder: str | None = field(default=None, repr=False)
    """The folder of the file holding the link: a relative ``filename`` starts there."""

    def resolve(self) -> Any:
        """The model at ``path`` in ``filename`` (relative to this file's folder)."""
        if self._opener is None:
            raise RuntimeError(f"{self.hdf5_path}: external link has no file to resolve from")
        return self._opener(self)


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """A soft link whose target does not exist."""

    target: str
    hdf5_path: str


class Owner(Protocol):
    """What a model may ask of the open file it belongs to: may it be edited, report an
    edit, tell its own models from others', the model at a path, the file handle, and what
    the file stored (specs, object graph)."""

    @property
    def label(self) -> str:
        """The file's name, for errors."""
        ...

    @property
    def handle(self) -> Any:
        """The open ``File`` the models belong to (None when there is none)."""
        ...

    def model_at(self, hdf5_path: str) -> "Node | None":
        """The file's model at ``hdf5_path`` (its canonical path), None if there is none."""
        ...

    def check_editable(self, model: "Node") -> None:
        """Before any edit of ``model``: raises ``ReadOnlyError`` when the file is read-only."""
        ...

    @property
    def specs(self) -> "SpecSet | None":
        """The specs the file was read with."""
        ...

    @property
    def index(self) -> "FileIndex | None":
        """The file's object graph as last read, whole (None before the first save)."""
        ...

    @property
    def index_as_read(self) -> "FileIndex | None":
        """The object graph as read so far (a graph read group by group grows)."""
        ...

    def owns(self, model: "Node") -> bool:
        """True when ``model`` was read from (or saved into) this file."""
        ...

    def field_changed(self, model: "Node", name: str) -> None:
        """``model.name`` was assigned."""
        ...

    def child_added(self, group: "Group", name: str, child: Any) -> None:
        """``child`` was attached to ``group`` as ``name``."""
        ...

    def child_removed(self, group: "Group", name: str) -> None:
        """The child ``name`` of ``group`` was detached."""
        ...

    def slice_written(self, array: H5Array, key: Any, value: Any) -> None:
        """``array[key] = value``; refused (H5ModelError) when the file is read-only."""
        ...

    def row_added(self, table: "Node", row: dict[str, Any]) -> None:
        """A row for ``table``; refused (H5ModelError) when the file is read-only."""
        ...

    def pending_rows(self, table: "Node") -> int:
        """How many rows were added to ``table`` since the last save."""
        ...


def owner_of(model: Any) -> "Owner | None":
    """The file ``model`` belongs to (None for a model built outside any open file)."""
    private = getattr(model, "__pydantic_private__", None)
    return private.get("_owner") if private else None


def is_type(model: Any, name: str) -> bool:
    """True when ``model`` is of the spec type ``name`` or a type that extends it."""
    for cls in type(model).__mro__:
        h5_type = getattr(cls, "h5_type", None)
        if h5_type is not None and h5_type[1] == name:
            return True
    return False


FILL = "_h5_fill"
"""Key, in the private state of a model handed out before its fields were read, of what
reads them (``session.reader``): the model fills itself on first use."""


FILLING: dict[int, tuple[Any, int]] = {}
"""id of a model whose fields are being read -> (the lock its reader holds, the reading
thread): another thread that asks for a field meanwhile waits for the read to end."""


def _wait_for_fill(model: Any) -> bool:
    """Wait for another thread's read of ``model``'s fields; False when none is under way
    (or this thread is the one reading)."""
    found = FILLING.get(id(model))
    if found is None or found[1] == threading.get_ident():
        return False
    with found[0]:
        return True


def is_pending(model: Any) -> bool:
    """True for a model whose fields are not read yet (it reads them on first use)."""
    private = getattr(model, "__pydantic_private__", None)
    return private is not None and private.get(FILL) is not None


def materialize(model: Any) -> Any:
    """``model`` with its fields read (a no-op for a model that has them)."""
    private = getattr(model, "__pydantic_private__", None)
    if private:
        fill = private.get(FILL)
        if fill is not None:
            fill(model)
    return model


_SHARED_FIELD_SETS: dict[frozenset[str], set[str]] = {}
_SHARED_IDS: set[int] = set()


def share_fields_set(model: "Node") -> None:
    """Give ``model`` the one set object of its set fields' names that every model read with
    the same names shares (a set of six names takes 728 bytes, more than the rest of a
    model). An assignment gives the model its own set first (``Node.__setattr__``)."""
    names = model.__pydantic_fields_set__
    key = frozenset(names)
    shared = _SHARED_FIELD_SETS.get(key)
    if shared is None:
        if len(_SHARED_FIELD_SETS) >= 4096:
            return
        shared = _SHARED_FIELD_SETS[key] = set(names)
        _SHARED_IDS.add(id(shared))
    object.__setattr__(model, "__pydantic_fields_set__", shared)


def adopt(model: "Node", owner: Owner) -> None:
    """From now on ``model`` belongs to ``owner`` (and reports its edits there)."""
    model._owner = owner


def _check_editable(model: "Node") -> None:
    owner = owner_of(model)
    if owner is not None:
        owner.check_editable(model)


class _Unset:
    """``_parent`` not set: the parent is the model at the parent of ``hdf5_path``. One
    object: the copy pydantic makes of a private default is this object again."""

    def __deepcopy__(self, memo: Any) -> "_Unset":
        return self


_UNSET: Any = _Unset()


_IMMUTABLE = (type(None), bool, int, float, str, bytes, _Unset)


def _private_defaults(cls: type[BaseModel]) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """(name, maker of its default) of each private attribute of ``cls``: what pydantic's
    own initialiser computes per instance, decided once per class."""
    makers: list[tuple[str, Callable[[], Any]]] = []
    for name, attribute in cls.__private_attributes__.items():
        factory: Any = attribute.default_factory
        default: Any = attribute.default
        if factory is not None:
            makers.append((name, factory))
        elif default is not PydanticUndefined:
            immutable = type(default) in _IMMUTABLE
            makers.append((name, _constant(default) if immutable else _copied(default)))
    return tuple(makers)


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _copied(value: Any) -> Callable[[], Any]:
    return lambda: copy.deepcopy(value)


def _init_private(self: BaseModel, context: Any, /) -> None:
    """Pydantic's initialiser of private attributes, in one call per instance: pydantic
    wraps a base's initialiser once more at every level of subclassing, and a typed model
    sits five to ten levels down."""
    if getattr(self, "__pydantic_private__", None) is None:
        makers = type(self).__dict__.get("__h5_private__")
        if makers is None:
            makers = _private_defaults(type(self))
            type.__setattr__(type(self), "__h5_private__", makers)
        object.__setattr__(self, "__pydantic_private__",
                           {name: make() for name, make in makers})


def _one_private_init(cls: type[BaseModel]) -> None:
    """Give ``cls`` ``_init_private`` in place of pydantic's chain of wrappers around it,
    unless a class on the way adds a ``model_post_init`` of its own (then the chain stays,
    and calls it)."""
    hook = cls.__dict__.get("model_post_init")
    if hook is not None and getattr(hook, "__wrapped__", None) is _init_private and not any(
        getattr(field, "default_factory_takes_validated_data", False)
        for field in cls.__private_attributes__.values()
    ):
        cls.model_post_init = _init_private  # type: ignore[method-assign]


_BUILDING = threading.local()


def _parts_first(cls: type["Node"]) -> None:
    """Complete the model classes that the fields of ``cls`` hold before ``cls`` itself:
    pydantic copies the whole schema of a class not yet complete into each class naming
    it, so a root built first would build the schema of a part once per class on the
    way down (NWBFile's 94 classes about three times over)."""
    building: set[type] | None = getattr(_BUILDING, "classes", None)
    if building is None:
        building = _BUILDING.classes = set()
    if cls in building:
        return  # a cycle: pydantic closes it with a definition
    building.add(cls)
    try:
        for info in cls.__pydantic_fields__.values():
            for part in model_classes(info.annotation):
                if not part.__pydantic_complete__ and part not in building:
                    module = sys.modules.get(part.__module__)
                    part.model_rebuild(_types_namespace=vars(module) if module else None)
    finally:
        building.discard(cls)


def model_classes(annotation: Any) -> Iterator[type["Node"]]:
    """The Node classes an annotation names (through unions, containers, Annotated; of a
    union's members, the last first)."""
    stack = [annotation]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, Node):
            yield tp
        else:
            stack.extend(typing.get_args(tp))


def _parent_path(hdf5_path: str) -> str:
    head = hdf5_path.rstrip("/").rpartition("/")[0]
    return head or "/"


class Node(BaseModel):
    """Every object of the file: knows its ``hdf5_path`` and its raw attributes."""

    model_config = ConfigDict(
        arbitrary_types_allowed=True,
        extra="forbid",
        defer_build=True,
        validate_default=False,
        validate_assignment=True,
    )

    h5_type: ClassVar[tuple[str, str] | None] = None
    """(namespace, type name) for typed classes."""
    h5_kind: ClassVar[Literal["group", "dataset"]] = "group"
    h5_fields: ClassVar[Mapping[str, H5Field]] = {}
    h5_part_classes: ClassVar[Mapping[str, type["Node"]]] = {}
    """field -> the class of the object at that typed named part, where this type's spec
    adds attributes to the part's type (the reader gives the object that class)."""
    h5_docs: ClassVar[Mapping[str, str]] = {}
    """field -> its description in the spec (set on the class's own fields once it exists)."""
    h5_later: ClassVar[tuple[str, ...]] = ()
    """Classes of this class's module that its string annotations name (a cycle in the
    spec): built before pydantic resolves those annotations (``model_rebuild``)."""

    hdf5_path: str | None = None
    object_id: str | None = None

    _attrs: dict[str, Any] = PrivateAttr(default_factory=dict)
    _owner: Any = PrivateAttr(default=None)
    """The ``Owner`` (open file) this model belongs to: edits are reported to it. Read it
    with ``owner_of``, set it with ``adopt``."""
    _parent: Any = PrivateAttr(default=_UNSET)
    """The group this model was added to (None once removed from it); unset for a model
    read from the file, whose parent is found from its path."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _one_private_init(cls)
        fields = cls.__pydantic_fields__
        for name, doc in cls.__dict__.get("h5_docs", {}).items():
            info = fields.get(name)
            if info is not None:
                info.description = doc

    @classmethod
    def model_rebuild(
        cls,
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        """Build the classes the string annotations of this class and its bases name
        (generated modules build classes on first access), then let pydantic resolve."""
        for klass in cls.__mro__:
            later = klass.__dict__.get("h5_later", ())
            if later:
                module = sys.modules.get(klass.__module__)
                for name in later:
                    getattr(module, name, None)
        if not cls.__pydantic_complete__:
            _parts_first(cls)
        return super().model_rebuild(
            force=force,
            raise_errors=raise_errors,
            _parent_namespace_depth=_parent_namespace_depth + 1,
            _types_namespace=_types_namespace,
        )

    @property
    def attrs(self) -> Mapping[str, Any]:
        """Every attribute as stored in the file (references resolved)."""
        return self._attrs

    @property
    def parent(self) -> "Node | None":
        """The nearest model above this one whose class is a spec type, as pynwb's
        ``parent``: a series in ``/acquisition`` has the NWBFile, not the ``acquisition``
        group (that is ``parent_group``); a table's column has its table. None for the
        root and for a model that is not (or no longer) in a file."""
        above = self.parent_group
        while above is not None and type(above).h5_type is None:
            above = above.parent_group
        return above

    @property
    def parent_group(self) -> "Group | None":
        """The model of the group holding this one (for an object reached through several
        hard links, the group at its canonical path); None for the root and for a model
        that is not (or no longer) in a file."""
        if self._parent is not _UNSET:
            parent: Group | None = self._parent
            return parent
        owner = owner_of(self)
        path = self.hdf5_path
        if owner is None or path is None or path == "/":
            return None
        found = owner.model_at(_parent_path(path))
        return found if isinstance(found, Group) else None

    @property
    def file(self) -> Any:
        """The ``h5model.File`` this model belongs to; None for a model built outside any
        file, or removed from its group."""
        owner = owner_of(self)
        if owner is None or self._parent is None:
            return None
        return owner.handle

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # reached only for what the instance lacks: private state (pydantic keeps it
            # apart) and, on a model not filled yet, its fields
            private = self.__pydantic_private__
            if private is not None:
                try:
                    return private[name]
                except KeyError:
                    fill = private.get(FILL)
                    if fill is not None:
                        fill(self)
                        return getattr(self, name)
            # another thread is reading the fields right now, or has just read them
            if _wait_for_fill(self) or name in self.__dict__:
                return getattr(self, name)
            return super().__getattr__(name)

    def __eq__(self, other: object) -> bool:
        materialize(self)
        materialize(other)
        return super().__eq__(other)

    def __copy__(self) -> "Node":
        materialize(self)
        return super().__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> "Node":
        materialize(self)
        return super().__deepcopy__(memo)

    def __iter__(self) -> Any:
        materialize(self)
        return super().__iter__()

    def __getstate__(self) -> dict[Any, Any]:
        materialize(self)
        return super().__getstate__()

    def __setattr__(self, name: str, value: Any) -> None:
        if name[0] != "_":
            materialize(self)
            _check_editable(self)  # a read-only file refuses before anything changes
            names = self.__pydantic_fields_set__
            if id(names) in _SHARED_IDS:  # shared by models read alike: this one's own now
                object.__setattr__(self, "__pydantic_fields_set__", set(names))
        # pydantic validates the new value first (validate_assignment): a wrong dtype,
        # a missing required value or a reference to the wrong type fails right here
        super().__setattr__(name, value)
        if name[0] != "_":
            owner = owner_of(self)
            if owner is not None:
                owner.field_changed(self, name)

    @classmethod
    def type_name(cls) -> str | None:
        return cls.h5_type[1] if cls.h5_type else None

    def __repr__(self) -> str:
        return display.model_repr(self)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return display.model_html(self)

    def __rich__(self) -> Any:
        return display.model_rich(self)

    # model_dump and model_dump_json are replaced rather than given a serializer: pydantic
    # prepares a decorated serializer again for each of the hundreds of generated classes
    # (a tenth of a second at every first open), and these dumps are all h5model's own.
    def model_dump(
        self, *, mode: str = "python", context: Any = None, **_: Any
    ) -> dict[str, Any]:
        """Arrays as path, shape and dtype (``context={"arrays": "values"}``: their values),
        references and links as paths, contained children nested (``models.display``);
        ``mode="json"``: JSON-ready values (times as ISO 8601 text)."""
        return display.model_dump(self, json=mode == "json", context=context)

    def model_dump_json(
        self, *, indent: int | None = None, context: Any = None, **_: Any
    ) -> str:
        """``model_dump(mode="json")`` as JSON text."""
        return json.dumps(display.model_dump(self, json=True, context=context),
                          indent=indent, default=display.json_default)


Node.model_post_init = _init_private  # type: ignore[method-assign]


class Group(Node):
    """A group: fields from its spec, plus every child by name.

    It reads as a mapping of its children: ``group[name]``, ``name in group``,
    ``len(group)``, ``for name in group``, ``keys()``, ``values()``, ``items()``, in HDF5
    name order; a soft link gives the model it leads to, an external link its
    ``ExternalLink`` (resolved when asked). Tables count rows with ``len()`` instead."""

    _children: dict[str, Any] = PrivateAttr(default_factory=dict)
    _numeric_order: bool = PrivateAttr(default=False)
    """Children listed in numeric name order ("2" before "10"), as a layout may declare."""

    def __getitem__(self, name: str) -> Any:
        try:
            return self._children[name]
        except KeyError:
            raise self._missing(name) from None

    def _missing(self, name: str) -> NotFoundError:
        owner = owner_of(self)
        where = self.hdf5_path
        path = None if where is None else f"{where.rstrip('/')}/{name}"
        return NotFoundError(
            f"no child {name!r} in {type(self).type_name() or 'group'} {where or '(new)'}",
            file=owner.label if owner is not None else None,
            hdf5_path=path,
        )

    def __contains__(self, name: object) -> bool:
        return name in self._children

    def _names(self) -> list[str]:
        if self._numeric_order:
            return sorted(self._children, key=numeric_name)
        return sorted(self._children)  # HDF5's name order (code points, as UTF-8 bytes)

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        """The children's names (not pydantic's (field, value) pairs)."""
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._children)

    def __bool__(self) -> bool:
        return True  # a group is an object, even an empty one

    def keys(self) -> Iterator[str]:
        return iter(self._names())

    def values(self) -> Iterator[Any]:
        children = self._children
        return (children[name] for name in self._names())

    def items(self) -> Iterator[tuple[str, Any]]:
        children = self._children
        return ((name, children[name]) for name in self._names())

    @property
    def children(self) -> Mapping[str, Any]:
        """Every child (groups, datasets, links), typed or not, by HDF5 name."""
        return self._children

    def add(self, name: str, child: Any) -> Any:
        """Attach ``child`` under ``name``: a new model, or a model already in the file (a
        soft link is written), or a plain value (a dataset). Returns ``child``."""
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"{name!r} is not a valid HDF5 name")
        _check_editable(self)
        if name in self._children:
            raise KeyError(f"{self.hdf5_path}: {name!r} exists; remove it first")
        field = self._field_for(name, child)
        if field is not None:
            spec = type(self).h5_fields[field]
            if spec.role == "children":
                collection = dict(getattr(self, field) or {})
                collection[name] = child
                object.__setattr__(self, field, collection)
            else:
                super().__setattr__(field, child)
        self._children[name] = child
        if isinstance(child, Node) and (child.hdf5_path is None or child._parent is None):
            child._parent = self  # a new object: it is written here (a model already in
            # a file is linked, and keeps its own parent)
        owner = owner_of(self)
        if owner is not None:
            owner.child_added(self, name, child)
        return child

    def remove(self, name: str) -> Any:
        """Detach the child ``name`` (a required one cannot be removed)."""
        if name not in self._children:
            raise self._missing(name)
        _check_editable(self)
        child = self._children[name]
        for field_name, spec in type(self).h5_fields.items():
            if spec.role == "children":
                collection = getattr(self, field_name) or {}
                if name in collection:
                    remaining = {k: v for k, v in collection.items() if k != name}
                    object.__setattr__(self, field_name, remaining)
            elif spec.name == name:
                if spec.required:
                    raise ValueError(
                        f"{self.hdf5_path}: {name!r} is required by {type(self).type_name()}"
                    )
                super().__setattr__(field_name, None)
        del self._children[name]
        if isinstance(child, Node) and child.parent_group is self:
            child._parent = None  # detached (a link removed leaves its target in place)
        owner = owner_of(self)
        if owner is not None:
            owner.child_removed(self, name)
        return child

    def _field_for(self, name: str, child: Any) -> str | None:
        """The field a new child belongs in: its named field, else a matching collection."""
        for field_name, spec in type(self).h5_fields.items():
            if spec.name == name and spec.role in ("dataset", "group", "link"):
                return field_name
        for field_name, spec in type(self).h5_fields.items():
            if spec.role == "children" and spec.target_type is not None:
                annotation = type(self).model_fields[field_name].annotation
                if _accepts(annotation, child):
                    return field_name
        return None


def _accepts(annotation: Any, value: Any) -> bool:
    """True when a collection field's value type admits ``value``."""
    return any(isinstance(value, cls) for cls in model_classes(annotation))


class Dataset(Node):
    """A dataset: its (lazy) value, plus attribute fields from its spec."""

    h5_kind: ClassVar[Literal["group", "dataset"]] = "dataset"

    value: Any = None

    @property
    def shape(self) -> tuple[int, ...]:
        return (
            tuple(np.shape(self.value))
            if not isinstance(self.value, H5Array)
            else (self.value.shape)
        )

    @property
    def dtype(self) -> np.dtype | None:
        value = self.value
        if isinstance(value, (H5Array, np.ndarray)):
            return value.dtype
        return None

    def __len__(self) -> int:
        return len(self.value)

    def __getitem__(self, key: Any) -> Any:
        return self.value[key]

    def append(self, block: Any) -> None:
        """Rows added at the end of the stored dataset, in place, in a file opened with
        ``stream=True`` (``series.data.append(block)``)."""
        self._stored("append to").append(block)

    def refresh(self) -> None:
        """See rows another process appended since the file was opened (read live)."""
        self._stored("refresh").refresh()

    def _stored(self, doing: str) -> H5Array:
        if not isinstance(self.value, H5Array):
            raise H5ModelError(f"cannot {doing} a dataset that is not in a file yet; save "
                               "the file first", hdf5_path=self.hdf5_path)
        return self.value

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(
            self.value if not isinstance(self.value, H5Array) else self.value.read(), dtype=dtype
        )


def numeric_name(name: str) -> tuple[bool, int, str]:
    """Sort key of numeric name order: digit names by value first, then the rest by name."""
    digits = name.isdigit() and len(name) <= 30
    return (not digits, int(name) if digits else 0, name)
