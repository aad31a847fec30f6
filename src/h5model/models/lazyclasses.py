"""The classes of a generated module, built the first time they are reached.

A namespace such as NWB core defines hundreds of types, and building a pydantic class
costs about a millisecond; a file uses a few dozen of them. A generated module therefore
defines one builder per class (``_m_<Name>``) and names its classes through a
``LazyClasses`` (``_c.Name``), which is also the module's ``__getattr__``: the first access
builds the class (its bases and the classes its annotations name first, in the module's
definition order, so no cycle can arise) and stores it in the module, where every later
access finds it directly. ``from module import Name``, ``getattr`` and pickling all go
through the same hook, so a class is built once per process and is always the same object.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, MutableMapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from h5model.models.nodes import Node

_LOCK = threading.RLock()
"""One lock for every module: a class's build may build classes of the modules it
depends on, and one lock cannot be taken in two orders."""


class LazyClasses:
    """Attribute access to the classes of one generated module (see the module doc)."""

    __slots__ = ("_namespace",)

    def __init__(self, namespace: MutableMapping[str, Any]) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        namespace = self._namespace
        built = namespace.get(name)
        if built is not None:
            return built
        builder: Callable[[], type] | None = namespace.get(f"_m_{name}")
        if builder is None or name.startswith("_"):
            raise AttributeError(f"module {namespace.get('__name__')!r} has no attribute {name!r}")
        with _LOCK:
            built = namespace.get(name)
            if built is None:
                built = builder()
                namespace[name] = built
        return built

    def __dir__(self) -> list[str]:
        return sorted(set(self._namespace) | set(self._namespace.get("__all__", ())))



def type_class(
    modules: Mapping[str, ModuleType], namespace: str, type_name: str
) -> type[Node] | None:
    """The class of type ``type_name`` of ``namespace`` (built now if it was not yet), or
    None when that namespace's module defines no such type."""
    module = modules.get(namespace)
    if module is None:
        return None
    class_name = getattr(module, "__h5_types__", {}).get(type_name)
    if class_name is None:
        return None
    cls: type[Node] = getattr(module, class_name)
    return cls


def type_keys(modules: Mapping[str, ModuleType]) -> set[tuple[str, str]]:
    """(namespace, type name) of every type the modules define, without building them."""
    return {
        (namespace, type_name)
        for namespace, module in modules.items()
        for type_name in getattr(module, "__h5_types__", {})
    }


def module_classes(module: ModuleType) -> dict[str, Any]:
    """name -> class of every class ``module`` defines, built."""
    return {name: getattr(module, name) for name in getattr(module, "__all__", ())}
