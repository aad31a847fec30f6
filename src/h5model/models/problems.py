"""pydantic's complaints about a model, named the way the file names its parts.

A field stands for an attribute or a dataset of the file: a problem with field
``unit`` reads ``attribute 'unit'``, the name a user finds in the file and the spec.
"""

from __future__ import annotations

import pydantic

from h5model.errors import Problem, validation_problems
from h5model.models.nodes import Node


def model_problems(exc: pydantic.ValidationError, cls: type[Node]) -> list[Problem]:
    """(where, what) of every problem, fields named as the attribute or dataset they hold."""

    def place(field_name: str) -> str | None:
        spec = cls.h5_fields.get(field_name)
        return f"{spec.role} {spec.name!r}" if spec is not None and spec.name else None

    return validation_problems(exc, place=place)
