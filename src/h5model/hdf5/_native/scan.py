"""One object of a traversal read in one compiled call: kind, shape, datatype, attributes.

h5py opens an object as an identifier object, and its dataspace and datatype as two
more, each registered in its table of live identifiers; on a file of 65,000 objects that
costs more than the HDF5 work. ``_fastattrs.scan_object`` opens the object once, reads
what the graph keeps and its scalar attributes (as the compiled attribute reader does),
and closes it. Datatypes other than numbers and text come back as ``None``: h5py makes
those dtypes. It runs only where the attribute reader is the compiled one
(``H5MODEL_NATIVE`` unset or ``c``); elsewhere ``SCANNER`` is None and the traversal uses
h5py throughout. ``_fastattrs.scan_group`` does the same for every entry of a group in one
call, listing the links itself (h5py calls back into Python once per link) and reading
plain scalar datasets' values on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h5py
import numpy as np
from h5py import h5i, h5l, h5s, h5t

from h5model.hdf5._native import library as _library
from h5model.hdf5._native.library import (
    FLOAT,
    GROUP_WALK_FUNCTIONS,
    INTEGER,
    STRING,
    WALK_FUNCTIONS,
)
from h5model.hdf5._native.read_attrs import ACTIVE

Scanner = Callable[..., Any]
"""(group identifier, name, text limit, shared texts, most attributes) -> None (a committed
datatype) or (kind: "group" | "dataset", shape, signature, values, names left to h5py, hard
links to the object, -1 if unknown); values and names are None for an object with more than ``most``
attributes."""

_ORDERS = {int(h5t.ORDER_LE): "<", int(h5t.ORDER_BE): ">"}
_UTF8 = int(h5t.CSET_UTF8)
_FLOATS = {2: "f2", 4: "f4", 8: "f8"}
_DTYPES: dict[tuple[int, ...], np.dtype | None] = {}


def dtype_of(signature: tuple[int, ...]) -> np.dtype | None:
    """The dtype h5py gives a dataset of this datatype signature; None where h5py must be
    asked (a byte order or size numpy has no plain dtype for)."""
    known = _DTYPES.get(signature, False)
    if known is not False:
        return known  # type: ignore[return-value]
    kind, size, signed, order, variable, cset = signature
    dtype: np.dtype | None = None
    encoding = "utf-8" if cset == _UTF8 else "ascii"
    if kind == STRING:
        dtype = h5py.string_dtype(encoding, None if variable else size)
    elif order in _ORDERS and kind == INTEGER and size in (1, 2, 4, 8):
        dtype = np.dtype(f"{_ORDERS[order]}{'i' if signed else 'u'}{size}")
    elif order in _ORDERS and kind == FLOAT and size in _FLOATS:
        dtype = np.dtype(_ORDERS[order] + _FLOATS[size])
    if len(_DTYPES) < 1024:
        _DTYPES[signature] = dtype
    return dtype


def _compiled() -> Scanner | None:
    lib = _library.LIBRARY
    if ACTIVE != "c" or lib is None or not lib.has(WALK_FUNCTIONS):
        return None
    try:
        from h5model.hdf5._native import _fastattrs  # type: ignore[attr-defined]

        _fastattrs.init_walk(lib.addresses(WALK_FUNCTIONS), {
            "GROUP": int(h5i.GROUP), "DATASET": int(h5i.DATASET),
            "SPACE_SIMPLE": int(h5s.SIMPLE), "SPACE_NULL": int(h5s.NULL),
        })
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        return None  # an older build without the traversal step: h5py does it
    scanner: Scanner = _fastattrs.scan_object
    return scanner


SCANNER: Scanner | None = _compiled()
"""The compiled traversal step, or None where it cannot run."""

GroupScanner = Callable[..., list[tuple[str, int, int | None, Any]]]
"""(group identifier, text limit, shared texts, most attributes, known addresses) -> one
(name, link type, address, found) per entry, in increasing name order as h5py lists them;
found is None for soft and external links and for hard links to a known address, False
for a committed datatype, else ``Scanner``'s tuple plus a scalar dataset's value as
``(value,)`` (None where h5py must read it)."""


def _compiled_groups() -> GroupScanner | None:
    lib = _library.LIBRARY
    if SCANNER is None or lib is None or not lib.has(GROUP_WALK_FUNCTIONS):
        return None
    try:
        from h5model.hdf5._native import _fastattrs  # type: ignore[attr-defined]

        _fastattrs.init_group_walk(lib.addresses(GROUP_WALK_FUNCTIONS), {
            "LINK_HARD": int(h5l.TYPE_HARD),
        })
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        return None  # an older build without the group step: one object at a time
    scanner: GroupScanner = _fastattrs.scan_group
    return scanner


GROUP_SCANNER: GroupScanner | None = _compiled_groups()
"""The compiled step per group (every entry of a group in one call), or None."""
