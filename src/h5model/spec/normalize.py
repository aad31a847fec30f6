"""Raw spec dicts (JSON or YAML) -> the normalised form the spec-language models describe.

The language has several spellings of one thing: ``neurodata_type_*`` and
``data_type_*`` keys, ``dims``/``shape`` as one list or a list of lists,
``dtype`` as a name, a reference dict or a list of compound fields. This
module folds them into one shape, and nothing else.
"""

from __future__ import annotations

from typing import Any

from h5model.errors import SpecError
from h5model.spec import limits
from h5model.spec.dtypes import canonical

MAX_LENGTH = 2**64 - 1
"""The largest axis length or quantity HDF5 can express (``hsize_t``)."""

_TYPE_KEYS: dict[str, str] = {
    "neurodata_type_def": "data_type_def",
    "neurodata_type_inc": "data_type_inc",
    "neurodata_type": "data_type_def",
}
_REFTYPES = {"object": "object", "ref": "object", "reference": "object", "region": "region"}


def namespaces(raw: Any, where: str) -> dict[str, Any]:
    """Normalise the content of a namespace file."""
    if not isinstance(raw, dict) or not isinstance(raw.get("namespaces"), list):
        raise SpecError("expected a mapping with a 'namespaces' list", hdf5_path=where)
    out = []
    for entry in raw["namespaces"]:
        if not isinstance(entry, dict):
            raise SpecError("a namespace entry is not a mapping", hdf5_path=where)
        item = dict(entry)
        for key in ("author", "contact"):
            if isinstance(item.get(key), str):
                item[key] = [item[key]]
        if "version" in item and item["version"] is not None:
            item["version"] = str(item["version"])
        out.append(item)
    return {"namespaces": out}


def schema(raw: Any, where: str) -> dict[str, Any]:
    """Normalise the content of a schema source file."""
    if raw is None:
        return {"groups": [], "datasets": []}
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping with 'groups' and/or 'datasets'", hdf5_path=where)
    unknown = set(raw) - {"groups", "datasets"}
    if unknown:
        raise SpecError(f"unexpected keys {sorted(unknown)} in a schema source", hdf5_path=where)
    return {
        "groups": [group(g, where, 0) for g in _as_list(raw.get("groups"), where)],
        "datasets": [dataset(d, where) for d in _as_list(raw.get("datasets"), where)],
    }


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(f"expected a list, found {type(value).__name__}", hdf5_path=where)
    return value


def _typed(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SpecError(f"expected a spec mapping, found {type(raw).__name__}", hdf5_path=where)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        out[_TYPE_KEYS.get(str(key), str(key))] = value
    _quantity(out, where)
    if "attributes" in out:
        out["attributes"] = [attribute(a, where) for a in _as_list(out["attributes"], where)]
    return out


def group(raw: Any, where: str, depth: int = 0) -> dict[str, Any]:
    """A group spec; its nested groups at most ``MAX_NESTING_DEPTH`` levels deep."""
    out = _typed(raw, where)
    here = f"{where}/{out.get('data_type_def') or out.get('name') or out.get('data_type_inc')}"
    if depth >= limits.MAX_NESTING_DEPTH:
        raise SpecError(
            f"groups are nested more than {limits.MAX_NESTING_DEPTH} levels deep",
            hdf5_path=here,
        )
    if "groups" in out:
        out["groups"] = [group(g, here, depth + 1) for g in _as_list(out["groups"], here)]
    if "datasets" in out:
        out["datasets"] = [dataset(d, here) for d in _as_list(out["datasets"], here)]
    if "links" in out:
        out["links"] = [link(x, here) for x in _as_list(out["links"], here)]
    return out


def dataset(raw: Any, where: str) -> dict[str, Any]:
    out = _typed(raw, where)
    _shape_and_dtype(out, where)
    return out


def attribute(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SpecError("an attribute spec is not a mapping", hdf5_path=where)
    out = dict(raw)
    _shape_and_dtype(out, where)
    return out


def link(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise SpecError("a link spec is not a mapping", hdf5_path=where)
    out = dict(raw)
    _quantity(out, where)
    return out


def _quantity(out: dict[str, Any], where: str) -> None:
    """Integer quantities become text like the symbolic ones; anything else stays as is
    (and fails validation against the language)."""
    value = out.get("quantity")
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_LENGTH:
            raise SpecError(f"quantity {_short(value)} is negative or larger than HDF5 allows",
                            hdf5_path=where)
        out["quantity"] = str(value)


def _shape_and_dtype(out: dict[str, Any], where: str) -> None:
    dims = out.pop("dims", None)
    shape = out.pop("shape", None)
    out["shapes"] = shape_options(dims, shape, where)
    if "dtype" in out:
        out["dtype"] = dtype(out["dtype"], where)


def shape_options(dims: Any, shape: Any, where: str) -> list[dict[str, Any]]:
    """``dims``/``shape`` (one list or a list of lists) -> a list of allowed shapes."""
    if dims is None and shape is None:
        return []
    nested = _is_nested(shape) if shape is not None else _is_nested(dims)
    shape_list = (shape if nested else [shape]) if shape is not None else None
    dims_list = (dims if nested else [dims]) if dims is not None else None
    count = len(shape_list) if shape_list is not None else len(dims_list or [])
    options = []
    for i in range(count):
        lengths = shape_list[i] if shape_list is not None else None
        names = dims_list[i] if dims_list is not None and i < len(dims_list) else None
        ndim = len(lengths) if lengths is not None else len(names or [])
        axis = []
        for j in range(ndim):
            length = lengths[j] if lengths is not None else None
            if length is not None and (
                not isinstance(length, int) or isinstance(length, bool)
                or not 0 <= length <= MAX_LENGTH
            ):
                raise SpecError(
                    f"shape entry {_short(length)} is not null or a length from 0 to "
                    f"{MAX_LENGTH}",
                    hdf5_path=where,
                )
            name = names[j] if names is not None and j < len(names) else None
            axis.append({"name": None if name is None else str(name), "length": length})
        options.append({"dims": axis})
    return options


def _is_nested(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, list) for v in value)


def dtype(raw: Any, where: str) -> dict[str, Any] | None:
    """A dtype as one of: primitive name, reference, compound fields."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return {"primitive": canonical(raw)}
    if isinstance(raw, dict):
        target = raw.get("target_type") or raw.get("data_type") or raw.get("neurodata_type")
        reftype = _REFTYPES.get(str(raw.get("reftype", "object")).lower())
        if target is None or reftype is None:
            raise SpecError(f"malformed reference dtype {_short(raw)}", hdf5_path=where)
        return {"reference": {"target_type": str(target), "reftype": reftype}}
    if isinstance(raw, list):
        if not raw:
            raise SpecError("a compound dtype has no fields", hdf5_path=where)
        fields = []
        for entry in raw:
            if not isinstance(entry, dict) or "name" not in entry:
                raise SpecError("a compound dtype field needs a name", hdf5_path=where)
            inner = dtype(entry.get("dtype"), where)
            if inner is None or inner.get("compound"):
                raise SpecError(
                    f"compound field {entry['name']!r} needs a primitive or reference dtype",
                    hdf5_path=where,
                )
            fields.append({"name": str(entry["name"]), "doc": entry.get("doc"), "dtype": inner})
        return {"compound": fields}
    raise SpecError(f"unrecognised dtype {_short(raw)}", hdf5_path=where)


def _short(value: Any, limit: int = 80) -> str:
    """``repr`` of a spec value, cut short: a message must not carry a whole spec."""
    if isinstance(value, int) and abs(value).bit_length() > 256:
        return f"<an integer of about {int(abs(value).bit_length() * 0.30103)} digits>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."
