"""Building new models the way pynwb builds its objects: what the spec requires but pynwb
fills in itself is filled in unless given.

Two kinds of part are filled. A required named group (quantity 1) whose own required
parts can all be filled in turn, so that it holds no data of its own (an NWBFile's
``acquisition``, ``analysis``, ``processing``, ``general``, ``stimulus`` with its
``presentation`` and ``templates``): found from the generated classes' field metadata,
which is the rule set's, never listed per type. And the few values pynwb computes
(``COMPUTED``): an NWBFile's ``file_create_date`` (now, with the local timezone) and
``timestamps_reference_time`` (its ``session_start_time``). A time given without a
timezone gets the local one, as pynwb gives it. Object ids, the type and
namespace attributes and fixed values such as ``nwb_version`` are the writer's and the
generated defaults' business.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import numpy as np
import pydantic

from h5model.models.constraints import ArrayOf
from h5model.models.lazyclasses import module_classes
from h5model.models.nodes import Group, Node
from h5model.rules.values import each_time
from h5model.spec import dtypes

Computed = Callable[[Mapping[str, Any]], Any]
"""Given the values of a model being built, the value of one part (None: leave it out)."""


def _now(_: Mapping[str, Any]) -> list[dt.datetime]:
    return [dt.datetime.now().astimezone()]


def _session_start(given: Mapping[str, Any]) -> Any:
    return given.get("session_start_time")


COMPUTED: Mapping[tuple[str, str], Mapping[str, Computed]] = {
    ("core", "NWBFile"): {
        "file_create_date": _now,
        "timestamps_reference_time": _session_start,
    },
}
"""(namespace, type) -> field -> how pynwb computes it when it is not given. Applies to
subtypes too (an extension's NWBFile)."""


def build(cls: type[Node], /, **given: Any) -> Node:
    """``cls(**given)``, with the required parts pynwb fills in itself filled in the same
    way where ``given`` leaves them out. Anything else missing fails as ``cls`` would."""
    return _build(cls, given, depth=0)


MAX_DEPTH = 32
"""Deepest nesting of filled groups (a spec cannot require a group inside itself)."""


def _build(cls: type[Node], given: Mapping[str, Any], depth: int) -> Node:
    values = dict(given)
    computed = _computed(cls)
    for name, info in cls.model_fields.items():
        if name in values or not info.is_required():
            continue
        if name in computed:
            value = computed[name](values)
            if value is not None:
                values[name] = value
            continue
        empty = _empty_part(cls, name, depth)
        if empty is not None:
            values[name] = empty
    for name, spec in cls.h5_fields.items():
        if spec.dtype is not None and name in values and (
            dtypes.canonical(spec.dtype) == "isodatetime"
        ):
            value = values[name]
            if isinstance(value, dt.date | str) and _wants_array(cls, name):
                value = [value]  # one time given for a list of them, as pynwb takes it
            values[name] = _zoned(value)
    return cls(**values)


def _wants_array(cls: type[Node], name: str) -> bool:
    """Whether the field ``name`` holds an array only (every shape its spec allows has a
    dimension), as NWBFile's ``file_create_date``."""
    field = cls.model_fields.get(name)
    for check in field.metadata if field is not None else ():
        if isinstance(check, ArrayOf) and check.shapes:
            return all(len(shape) > 0 for shape in check.shapes)
    return False


def _zoned(value: Any) -> Any:
    """Dates and times without a timezone given the local one (for that date), as pynwb
    gives them (its validator requires one); a date alone is its midnight."""
    if isinstance(value, list | tuple) or (
        isinstance(value, np.ndarray) and value.dtype.kind in "OUM"
    ):
        return each_time(value, _zoned)
    if isinstance(value, np.datetime64):
        moment = value.astype("datetime64[us]").item()
        value = moment if isinstance(moment, dt.datetime) else value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.astimezone()
    return value


def _computed(cls: type[Node]) -> dict[str, Computed]:
    out: dict[str, Computed] = {}
    for klass in reversed(cls.__mro__):
        h5_type = klass.__dict__.get("h5_type")
        if isinstance(h5_type, tuple):
            out.update(COMPUTED.get(h5_type, {}))
    return out


def _empty_part(cls: type[Node], name: str, depth: int) -> Node | None:
    """The required named group ``name`` of ``cls``, built empty, when it can be (None
    when it needs data of its own, or is not a named group)."""
    spec = cls.h5_fields.get(name)
    if spec is None or spec.role != "group" or spec.name is None or depth >= MAX_DEPTH:
        return None
    target = next(_group_classes(cls.model_fields[name].annotation), None)
    if target is None:
        return None
    try:
        return _build(target, {}, depth + 1)
    except pydantic.ValidationError:
        return None  # it needs data: the model being built reports it as missing


def _group_classes(annotation: Any) -> Iterator[type[Group]]:
    """The group model classes a field's annotation admits (through unions and
    ``Annotated``/``InstanceOf`` wrappers)."""
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type):
            if issubclass(current, Group):
                yield current
            continue
        stack.extend(reversed(typing.get_args(current)))


class Builder:
    """Builds one type (``build``): call it as the class would be called."""

    def __init__(self, cls: type[Node]) -> None:
        self.cls = cls

    def __call__(self, **given: Any) -> Any:
        return build(self.cls, **given)

    def __repr__(self) -> str:
        return f"<builder of {self.cls.__module__}.{self.cls.__name__}>"


class Builders:
    """Every class of a file's generated modules by name, as a ``Builder``:
    ``f.types.NWBFile(...)``. A name defined by several namespaces is taken from the one
    that depends on the others (listed last)."""

    def __init__(self, modules: Mapping[str, ModuleType]) -> None:
        self._classes: dict[str, type[Node]] = {}
        for module in modules.values():
            self._classes.update(module_classes(module))

    def __getattr__(self, name: str) -> Builder:
        cls = self.__dict__.get("_classes", {}).get(name)
        if cls is None:
            raise AttributeError(f"no type {name!r} in this file's namespaces")
        return Builder(cls)

    def __dir__(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes
