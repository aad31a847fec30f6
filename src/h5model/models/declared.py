"""Model classes written by hand as a layout: what generated classes carry, given to them.

``spec.declared`` derives the namespace and each field's mapping from the classes'
annotations; here each class gets its ``h5_type`` and ``h5_fields`` from that, and the
reader gets a module holding the classes themselves, so a file read under such a layout
gives the user's own classes.
"""

from __future__ import annotations

import types

from h5model.models.nodes import H5Field, Node
from h5model.spec.declared import Derivation, derive


def declare(root: type[Node]) -> Derivation:
    """Give ``root`` and the classes it reaches their spec types and field mappings."""
    derived = derive(root)
    for type_name, cls in derived.classes.items():
        if cls.__dict__.get("h5_type") != (derived.namespace, type_name):
            cls.h5_type = (derived.namespace, type_name)
            cls.h5_fields = {name: H5Field(**mapping)
                             for name, mapping in derived.fields[type_name].items()}
    return derived


def module_of(derived: Derivation) -> types.ModuleType:
    """A module the reader takes the classes of the derived namespace from."""
    module = types.ModuleType(f"h5model_declared_{derived.namespace}")
    module.__dict__.update({cls.__name__: cls for cls in derived.classes.values()})
    module.__dict__["__h5_types__"] = {name: cls.__name__ for name, cls in derived.classes.items()}
    return module
