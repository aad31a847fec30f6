"""Which stored dtypes a spec dtype accepts: the spec language's widening rules.

A spec dtype is a minimum: ``float32`` accepts float32 and float64, ``int16``
accepts int16 up to int64 (and unsigned types narrow enough to fit), ``numeric``
accepts any number, ``text`` any string; ``float64`` accepts only float64.
"""

from __future__ import annotations

import functools

import numpy as np

from h5model.dtypes import FLOATS, SIGNED, TEXT, UNSIGNED, canonical, describe, is_text

_WIDTH = {
    "int8": 1,
    "int16": 2,
    "int32": 4,
    "int64": 8,
    "uint8": 1,
    "uint16": 2,
    "uint32": 4,
    "uint64": 8,
    "float16": 2,
    "float32": 4,
    "float64": 8,
}


def stored_kind(stored: np.dtype) -> str:
    """A short name for what a stored dtype is (text, float32, int64, bool, ...)."""
    if is_text(stored) or stored.kind == "O":
        return "text"
    if stored.kind == "b":
        return "bool"
    if stored.kind in "iuf":
        return f"{ {'i': 'int', 'u': 'uint', 'f': 'float'}[stored.kind] }{stored.itemsize * 8}"
    return describe(stored)


@functools.lru_cache(maxsize=4096)
def primitive_problem(spec_dtype: str, stored: np.dtype) -> str | None:
    """Why ``stored`` does not carry ``spec_dtype``; None when it does (cached: a file has
    thousands of attributes and a handful of distinct dtypes)."""
    want = canonical(spec_dtype)
    kind = stored.kind
    found = stored_kind(stored)
    ok: bool
    if want in TEXT:
        ok = is_text(stored) or kind == "O"
    elif want in FLOATS:
        ok = kind == "f" and stored.itemsize >= _WIDTH[want]
    elif want in SIGNED:
        ok = (kind == "i" and stored.itemsize >= _WIDTH[want]) or (
            kind == "u" and stored.itemsize < _WIDTH[want]
        )
    elif want in UNSIGNED:
        ok = kind == "u" and stored.itemsize >= _WIDTH[want]
    elif want == "numeric":
        ok = kind in "iuf" and not is_text(stored)
    elif want == "bool":
        ok = kind == "b"
    else:
        return f"the spec names an unknown dtype {spec_dtype!r}"
    if ok:
        return None
    return f"expected dtype {want} (or a wider one the spec language accepts), found {found}"
