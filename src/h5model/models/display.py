"""How a model shows itself: a field listing (``repr``), a collapsible tree (rich, Jupyter
HTML) and plain data (``model_dump``).

Everything here reads only what the models already hold: arrays show their path, shape
and dtype (never their data, unless a dump asks for values), references and links show
the path they lead to, collections their size. Only children an object contains (its
own path plus their name) are shown or dumped inside it, so neither walks the graph or
meets a cycle, and listings are cut at fixed sizes. Names and values come from files
strangers wrote: HTML escapes every text, rich gets them as plain ``Text``.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel

from h5model.models.arrays import H5Array
from h5model.rules.dtypes import is_reference, is_text
from h5model.rules.values import isodatetime_text

MAX_FIELDS = 60
"""Fields listed per model (repr, tree); the rest are counted."""
MAX_TEXT = 80
"""Characters of one value shown in a listing."""
MAX_REPR = 4000
"""Characters of a whole repr."""
MAX_TREE = 400
"""Models shown in one tree (rich, HTML); deeper ones are summarised on one line."""
MAX_DEPTH = 200
"""Containment levels a dump descends; deeper children are given by path."""
SHOWN_NAMES = 5
"""Names listed for a collection of children."""


# -- what a model holds ------------------------------------------------------------------------


def label(model: Any) -> str:
    """``TypeName '/path'``: how a model is named in a listing."""
    cls = type(model)
    type_name = cls.type_name() if hasattr(cls, "type_name") else None
    path = getattr(model, "hdf5_path", None)
    name = type_name or cls.__name__
    return f"{name} {path!r}" if path is not None else f"{name} (not saved)"


def _is_model(value: Any) -> bool:
    return isinstance(value, BaseModel) and hasattr(value, "h5_fields")


def _child_path(owner: Any, name: str) -> str | None:
    path = getattr(owner, "hdf5_path", None)
    if path is None:
        return None
    return f"{path.rstrip('/')}/{name}"


def contained(owner: Any, name: str | None, value: Any) -> bool:
    """True when ``value`` is the object ``owner`` holds as its child ``name`` (not one it
    refers or links to). A model not saved yet counts as contained."""
    if not _is_model(value):
        return False
    path = getattr(value, "hdf5_path", None)
    if path is None:
        return True
    return name is not None and path == _child_path(owner, name)


def fields(model: Any) -> Iterator[tuple[str, str | None, Any]]:
    """(field, HDF5 name, value) of every field that holds something, in spec order."""
    h5_fields: Mapping[str, Any] = type(model).h5_fields
    for field in type(model).model_fields:
        if field in ("hdf5_path", "object_id"):
            continue
        value = getattr(model, field, None)
        if value is None or (isinstance(value, dict) and not value):
            continue
        spec = h5_fields.get(field)
        yield field, (spec.name if spec is not None else None), value


def _short(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dtype_name(dtype: np.dtype) -> str:
    if is_reference(dtype):
        return "reference"
    if is_text(dtype):
        return "text"
    return str(dtype)


def summary(owner: Any, name: str | None, value: Any) -> str:
    """One line for a field's value: scalars as values, arrays by shape and dtype,
    models by type and path (``->`` for a reference or link), collections by size."""
    if _is_model(value):
        text = label(value)
        return text if contained(owner, name, value) else f"-> {text}"
    if isinstance(value, H5Array | np.ndarray):
        if isinstance(value, np.ndarray) and value.size <= 8 and all(
            isinstance(v, str | bytes | int | float | np.number | np.bool_) for v in value.flat
        ):
            return _short(repr(value.tolist()))
        return f"array shape={tuple(value.shape)} dtype={_dtype_name(value.dtype)}"
    if isinstance(value, dict):
        names = list(value)
        shown = ", ".join(_short(str(n), 30) for n in names[:SHOWN_NAMES])
        more = ", ..." if len(names) > SHOWN_NAMES else ""
        return f"{len(names)} item{'s' if len(names) != 1 else ''} ({shown}{more})"
    if isinstance(value, dt.date):
        return isodatetime_text(value)
    link = _link_text(value)
    if link is not None:
        return f"-> {link}"
    return _short(repr(value))


def _link_text(value: Any) -> str | None:
    """An external or broken link as the place it names (None for anything else)."""
    filename, path = getattr(value, "filename", None), getattr(value, "path", None)
    if isinstance(filename, str) and isinstance(path, str):
        return f"{filename}::{path}"
    target = getattr(value, "target", None)
    if isinstance(target, str) and type(value).__name__ == "BrokenLink":
        return f"{target} (broken link)"
    return None


def _other_children(model: Any) -> dict[str, Any]:
    """Children of a group that no field holds (untyped groups, undefined objects)."""
    children: Mapping[str, Any] = getattr(model, "children", {}) or {}
    held = {name for _, name, _ in fields(model) if name is not None}
    for _, name, value in fields(model):
        if name is None and isinstance(value, dict):
            held.update(value)
    return {n: v for n, v in children.items() if n not in held}


# -- repr -------------------------------------------------------------------------------------


def model_repr(model: Any) -> str:
    """``<Type '/path'>`` and one line per field that holds something, bounded."""
    lines = [f"<{label(model)}>"]
    items = list(fields(model))
    for field, name, value in items[:MAX_FIELDS]:
        lines.append(f"  {field}: {summary(model, name, value)}")
    if len(items) > MAX_FIELDS:
        lines.append(f"  ... {len(items) - MAX_FIELDS} more fields")
    others = _other_children(model)
    if others:
        lines.append(f"  children: {summary(model, None, others)}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_REPR else text[: MAX_REPR - 4] + "\n..."


# -- trees (HTML, rich) --------------------------------------------------------------------------


def _tree_items(model: Any) -> Iterator[tuple[str, str, Any | None]]:
    """(field, one-line summary, contained model to expand or None) per field; a
    collection gives one item per contained child."""
    for field, name, value in list(fields(model))[:MAX_FIELDS]:
        if isinstance(value, dict) and name is None:
            yield field, summary(model, None, value), None
            for child_name, child in list(value.items())[:MAX_FIELDS]:
                inner = child if contained(model, str(child_name), child) else None
                yield f"{field}[{child_name!r}]", summary(model, str(child_name), child), inner
            continue
        inner = value if contained(model, name, value) else None
        yield field, summary(model, name, value), inner
    for child_name, child in list(_other_children(model).items())[:MAX_FIELDS]:
        inner = child if contained(model, str(child_name), child) else None
        yield str(child_name), summary(model, str(child_name), child), inner


def model_html(model: Any) -> str:
    """Nested ``<details>`` elements, every text escaped (names and values are data)."""
    budget = [MAX_TREE]

    def node(current: Any, title: str, seen: frozenset[int], is_open: bool) -> str:
        budget[0] -= 1
        rows = []
        for field, text, inner in _tree_items(current):
            head = f"<b>{html.escape(field)}</b>: {html.escape(text)}"
            if inner is not None and id(inner) not in seen and budget[0] > 0:
                rows.append(f"<li>{node(inner, head, seen | {id(inner)}, False)}</li>")
            else:
                rows.append(f"<li>{head}</li>")
        body = "".join(rows) or "<li><i>no fields</i></li>"
        return (f"<details{' open' if is_open else ''}><summary>{title}</summary>"
                f"<ul style=\"list-style: none; margin: 0; padding-left: 1.2em\">{body}</ul>"
                "</details>")

    title = f"<b>{html.escape(label(model))}</b>"
    return f"<div class=\"h5model\">{node(model, title, frozenset({id(model)}), True)}</div>"


def model_rich(model: Any) -> Any:
    """A ``rich.tree.Tree`` of the model and the children it contains."""
    from rich.text import Text
    from rich.tree import Tree

    budget = [MAX_TREE]

    def grow(tree: Tree, current: Any, seen: frozenset[int]) -> None:
        budget[0] -= 1
        for field, text, inner in _tree_items(current):
            line = Text(field, style="bold")
            line.append(f": {text}", style="")
            branch = tree.add(line)
            if inner is not None and id(inner) not in seen and budget[0] > 0:
                grow(branch, inner, seen | {id(inner)})

    tree = Tree(Text(label(model), style="bold"))
    grow(tree, model, frozenset({id(model)}))
    return tree


# -- dumps ------------------------------------------------------------------------------------


def model_dump(model: Any, *, json: bool, context: Any) -> dict[str, Any]:
    """A model as plain data: arrays as a summary ``{"path", "shape", "dtype"}`` (their
    values with ``context={"arrays": "values"}``), references and links as paths,
    contained children nested, datetimes as ISO 8601 text in JSON."""
    values = isinstance(context, Mapping) and context.get("arrays") == "values"
    return _Dumper(json=json, values=values).model(model, 0, frozenset())


class _Dumper:
    def __init__(self, *, json: bool, values: bool) -> None:
        self.json = json
        self.values = values

    def model(self, model: Any, depth: int, seen: frozenset[int]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hdf5_path": getattr(model, "hdf5_path", None),
            "object_id": getattr(model, "object_id", None),
        }
        seen = seen | {id(model)}
        for field, name, value in fields(model):
            out[field] = self.value(model, name, value, depth, seen)
        return out

    def value(self, owner: Any, name: str | None, value: Any, depth: int,
              seen: frozenset[int]) -> Any:
        if _is_model(value):
            path = getattr(value, "hdf5_path", None)
            inside = contained(owner, name, value) and id(value) not in seen
            if inside and depth < MAX_DEPTH:
                return self.model(value, depth + 1, seen)
            return path
        if isinstance(value, dict):
            return {str(k): self.value(owner, str(k), v, depth, seen) for k, v in value.items()}
        if isinstance(value, H5Array | np.ndarray):
            if self.values:
                data = value.read() if isinstance(value, H5Array) else value
                return self.item(data, seen)
            return {
                "path": value.hdf5_path if isinstance(value, H5Array) else None,
                "shape": list(value.shape),
                "dtype": _dtype_name(value.dtype),
            }
        link = _link_text(value)
        if link is not None:
            return link
        return self.item(value, seen)

    def item(self, value: Any, seen: frozenset[int]) -> Any:
        """Plain data for one value or array of values (read from the file already)."""
        if isinstance(value, np.ndarray):
            if value.dtype.names:
                return [
                    {n: self.item(row[n], seen) for n in value.dtype.names}
                    for row in value.reshape(-1)
                ] if value.ndim <= 1 else [self.item(v, seen) for v in value]
            if value.dtype.kind in "biuf" and value.ndim:
                return value.tolist()
            return [self.item(v, seen) for v in value] if value.ndim else self.item(value[()], seen)
        if isinstance(value, np.void) and value.dtype.names:
            return {n: self.item(value[n], seen) for n in value.dtype.names}
        if isinstance(value, np.generic):
            return self.item(value.item(), seen)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if isinstance(value, dt.date):
            return isodatetime_text(value) if self.json else value
        if _is_model(value):
            return getattr(value, "hdf5_path", None)
        if isinstance(value, list | tuple):
            return [self.item(v, seen) for v in value]
        link = _link_text(value)
        if link is not None:
            return link
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return repr(value)


def json_default(value: Any) -> Any:
    """JSON for what a dump may still hold that ``json`` does not know: numbers and
    arrays of numpy as Python's, times as ISO 8601, anything else as its text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)
