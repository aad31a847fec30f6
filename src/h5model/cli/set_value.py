"""``h5model set FILE HDF5_PATH/ATTR VALUE``: one-line edits for scripts.

The value is parsed by the spec dtype of what it sets (text stays text; numbers,
booleans and JSON lists are parsed), validated like any edit, and saved with the
same crash safety as ``File.save``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

from h5model.errors import H5ModelError, ModelError, validation_problems
from h5model.models.arrays import H5Array
from h5model.models.nodes import H5Field, Node
from h5model.persist.save import SaveReport
from h5model.session.file import File
from h5model.spec import dtypes


def parse_value(text: str, spec: H5Field, where: str) -> Any:
    """``text`` as the spec's dtype wants it."""
    dtype = dtypes.canonical(spec.dtype) if spec.dtype else None
    if dtype in dtypes.TEXT and not text.lstrip().startswith("["):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        if dtype is None or dtype in dtypes.TEXT:
            return text
        raise ModelError(f"{text!r} is not a valid {dtype} value", hdf5_path=where) from None
    if dtype == "bool" and not isinstance(value, bool):
        raise ModelError(f"{text!r} is not true or false", hdf5_path=where)
    if dtype is not None and dtype not in dtypes.TEXT and dtype != "bool":
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, bool | str | dict | type(None)) for v in items):
            raise ModelError(f"{text!r} is not a valid {dtype} value", hdf5_path=where)
    return value


def _locate(file: File, target: str) -> tuple[Node, str, H5Field]:
    path, _, name = target.rstrip("/").rpartition("/")
    if not name:
        raise H5ModelError("expected HDF5_PATH/ATTR, e.g. /units/description", file=file.label)
    owner = file.get(path or "/")
    if not isinstance(owner, Node):
        raise H5ModelError("not an object that has attributes", file=file.label,
                           hdf5_path=path or "/")
    for field_name, spec in type(owner).h5_fields.items():
        if spec.name == name and (spec.role == "attribute" or spec.unwrap):
            return owner, field_name, spec
    raise H5ModelError(
        f"{type(owner).type_name() or 'this object'} has no attribute or scalar dataset "
        f"{name!r} in its spec",
        file=file.label, hdf5_path=path or "/",
    )


def set_value(path: Path, target: str, text: str, *, layout: str | None = None,
              ) -> tuple[Any, Any, SaveReport | None]:
    """Set one value and save; returns (old, new, how the save reached the disk)."""
    with File(path, "r+", layout=layout) as file:
        owner, field_name, spec = _locate(file, target)
        old = getattr(owner, field_name)
        try:
            value = parse_value(text, spec, target)
        except ModelError as exc:
            raise ModelError(exc.message, file=file.label, hdf5_path=target) from None
        try:
            setattr(owner, field_name, value)
        except pydantic.ValidationError as exc:
            problems = validation_problems(exc)
            reason = problems[0][1] if problems else str(exc)
            raise ModelError(f"invalid value {text!r}: {reason}",
                             file=file.label, hdf5_path=target) from None
        except ValueError as exc:
            raise ModelError(f"invalid value {text!r}: {exc}", file=file.label,
                             hdf5_path=target) from None
        report = file.save()
        return _shown(old), _shown(getattr(owner, field_name)), report


def _shown(value: Any) -> Any:
    """A value as a person reads it (arrays as lists, not as lazy handles)."""
    if isinstance(value, H5Array):
        value = value.read()
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value
