"""Which stored HDF5 dtypes may carry a spec dtype: the one place that decides.

Two levels, so that a file can be opened to be repaired yet never pass validation
with a value its models would refuse:

* ``carry_problem`` — can the stored dtype hold the spec's kind of value at all (text,
  number, bool, reference, compound)? The models refuse anything else when built.
* ``widening_problem`` — does it follow the spec language's widening rules? A spec
  dtype is a minimum: ``float32`` accepts float32 and float64, ``int16`` accepts int16 up
  to int64 (and unsigned types narrow enough to fit), ``numeric`` any number, ``text``
  any string; ``float64`` only float64. Validation reports anything else.

Every dtype ``widening_problem`` accepts, ``carry_problem`` accepts too.
"""

from __future__ import annotations

import functools

import h5py
import numpy as np

from h5model.spec.dtypes import FLOATS, SIGNED, TEXT, UNSIGNED, WIDTH, canonical


def is_text(dtype: np.dtype) -> bool:
    """True for variable- or fixed-length strings as h5py presents them."""
    return dtype.kind in "SU" or h5py.check_string_dtype(dtype) is not None


def is_reference(dtype: np.dtype) -> bool:
    """True for object and region references."""
    return h5py.check_ref_dtype(dtype) is not None


def holds_references(dtype: np.dtype) -> bool:
    """True when values of ``dtype`` hold object or region references anywhere: itself,
    a compound field, a sub-array or a variable-length sequence."""
    if is_reference(dtype):
        return True
    if dtype.names:
        return any(holds_references(dtype.fields[n][0]) for n in dtype.names)  # type: ignore[index]
    if dtype.subdtype is not None:
        return holds_references(dtype.subdtype[0])
    vlen = h5py.check_vlen_dtype(dtype)
    return vlen is not None and isinstance(vlen, np.dtype) and holds_references(vlen)


def value_holds_references(value: object) -> bool:
    """True when an attribute's value, as h5py reads it, holds object or region references:
    a reference, or an array whose dtype holds them or whose items are references."""
    if isinstance(value, (h5py.Reference, h5py.RegionReference)):
        return True
    if not isinstance(value, np.ndarray):
        return False
    return holds_references(value.dtype) or (value.dtype == object and any(
        isinstance(item, (h5py.Reference, h5py.RegionReference)) for item in value.flat))


def describe(stored: np.dtype) -> str:
    """A short human name for a stored dtype."""
    if is_text(stored):
        return "text"
    if is_reference(stored):
        return "object reference"
    if stored.names:
        return "compound(" + ", ".join(stored.names) + ")"
    return str(stored)


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
def carry_problem(spec_dtype: str, stored: np.dtype) -> str | None:
    """Why ``stored`` cannot carry ``spec_dtype`` at all, or None when it can."""
    dtype = canonical(spec_dtype)
    kind = stored.kind
    if dtype in TEXT:
        ok = is_text(stored) or kind == "O"  # "O": text attributes decoded to str
    elif dtype in FLOATS:
        ok = kind in "fiu" and not is_text(stored)
    elif dtype in SIGNED or dtype in UNSIGNED:
        ok = kind in "iu"
    elif dtype == "numeric":
        ok = kind in "fiub" and not is_text(stored)
    elif dtype == "bool":
        ok = kind in "biu"
    else:
        return None  # an unknown name is a spec problem, reported by validation
    if ok:
        return None
    return f"expected dtype {dtype}, found {describe(stored)}"


@functools.lru_cache(maxsize=4096)
def widening_problem(spec_dtype: str, stored: np.dtype) -> str | None:
    """Why ``stored`` does not follow the widening rules for ``spec_dtype``; None when it
    does (cached: a file has thousands of attributes and a handful of distinct dtypes)."""
    want = canonical(spec_dtype)
    kind = stored.kind
    ok: bool
    if want in TEXT:
        ok = is_text(stored) or kind == "O"
    elif want in FLOATS:
        ok = kind == "f" and stored.itemsize >= WIDTH[want]
    elif want in SIGNED:
        ok = (kind == "i" and stored.itemsize >= WIDTH[want]) or (
            kind == "u" and stored.itemsize < WIDTH[want]
        )
    elif want in UNSIGNED:
        ok = kind == "u" and stored.itemsize >= WIDTH[want]
    elif want == "numeric":
        ok = kind in "iuf" and not is_text(stored)
    elif want == "bool":
        ok = kind == "b"
    else:
        return f"the spec names an unknown dtype {spec_dtype!r}"
    if ok:
        return None
    return (
        f"expected dtype {want} (or a wider one the spec language accepts), "
        f"found {stored_kind(stored)}"
    )
