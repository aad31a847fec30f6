"""A dataset replaced by one of a new shape or dtype, with every reference to it kept.

HDF5 cannot reshape a dataset that is not chunked with room to grow, nor change its
dtype: such a dataset is deleted and written again with its attributes and storage
settings, and every attribute or dataset of references that pointed at the old one
is re-pointed at the new one.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from h5model.persist.writer import Writer, layout

Referrer = tuple[str, str, str]
"""(object path, attribute name or dataset field ("" for a dataset of references), kind)
with kind ``attribute`` or ``dataset``."""


def recreate_dataset(h5: h5py.File, writer: Writer, path: str, value: Any,
                     dtype: str | None, referrers: list[Referrer], *,
                     exact: np.dtype | None = None) -> None:
    """Replace the dataset at ``path`` by ``value`` keeping its attributes and layout, and
    re-point every reference to it (``referrers``) to the new one. ``exact``: store the
    values with this dtype as they are (table columns)."""
    parent_path, _, name = path.rpartition("/")
    parent = h5[parent_path or "/"]
    old = parent.get(name)
    saved: dict[str, Any] = {}
    spots: list[Spot] = []
    like: Any = None
    if isinstance(old, h5py.Dataset):
        saved = {k: old.attrs[k] for k in old.attrs}
        spots = _reference_spots(h5, referrers, h5py.h5o.get_info(old.id).addr)
        like = old
        del parent[name]
    elif old is not None:
        del parent[name]
    if exact is not None:
        array = np.asarray(value)
        parent.create_dataset(name, data=array, dtype=exact, **layout(like, array.shape))
    else:
        writer.write_dataset_value(parent, name, value, dtype, like=like)
    new = parent[name]
    for key, item in saved.items():
        _copy_attribute(new, key, item)
    for source, fieldname, kind, mask in spots:
        obj = h5[source]
        if kind == "attribute":
            current = obj.attrs[fieldname]
            if mask is None:
                obj.attrs.create(fieldname, new.ref, dtype=h5py.ref_dtype)
            else:
                current[mask] = new.ref
                obj.attrs.create(fieldname, current, dtype=h5py.ref_dtype)
            continue
        data = obj[()]
        column = data[fieldname] if fieldname else data
        column[mask] = new.ref
        if fieldname:
            data[fieldname] = column
        obj[...] = data if fieldname else column


Spot = tuple[str, str, str, "np.ndarray | None"]
"""(object path, attribute or dataset field, kind, which entries; None: the whole value)."""


def _copy_attribute(obj: Any, key: str, item: Any) -> None:
    refs = isinstance(item, h5py.Reference) or (
        isinstance(item, np.ndarray) and item.dtype == object
        and any(isinstance(v, h5py.Reference) for v in item.flat)
    )
    if refs:
        obj.attrs.create(key, item, dtype=h5py.ref_dtype)
    else:
        obj.attrs[key] = item


def _target_address(h5: h5py.File, ref: Any) -> int | None:
    if not isinstance(ref, h5py.Reference) or not ref:
        return None
    try:
        oid = h5py.h5r.dereference(ref, h5.id)
    except (ValueError, RuntimeError, OSError, KeyError):
        return None
    return None if oid is None else int(h5py.h5o.get_info(oid).addr)


def _matches(h5: h5py.File, values: np.ndarray, address: int) -> np.ndarray:
    mask = np.zeros(values.shape, dtype=bool)
    for index, item in np.ndenumerate(values):
        mask[index] = _target_address(h5, item) == address
    return mask


def _reference_spots(h5: h5py.File, referrers: list[Referrer], address: int) -> list[Spot]:
    """Where attributes and datasets of references point at the object at ``address``
    (found before it is deleted: afterwards a reference to it could not be told from one
    to whatever HDF5 puts at its address next)."""
    spots: list[Spot] = []
    for source, fieldname, kind in referrers:
        if source not in h5:
            continue
        obj = h5[source]
        if kind == "attribute":
            if fieldname not in obj.attrs:
                continue
            value = obj.attrs[fieldname]
            if isinstance(value, h5py.Reference):
                if _target_address(h5, value) == address:
                    spots.append((source, fieldname, kind, None))
            elif isinstance(value, np.ndarray) and value.dtype == object:
                mask = _matches(h5, value, address)
                if mask.any():
                    spots.append((source, fieldname, kind, mask))
            continue
        data = obj[()]
        column = np.asarray(data[fieldname] if fieldname else data, dtype=object)
        mask = _matches(h5, column, address)
        if mask.any():
            spots.append((source, fieldname, kind, mask))
    return spots

