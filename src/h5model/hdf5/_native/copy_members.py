"""Truncation's step per group, compiled: the members of one group made in the copy.

Through h5py, making one member of the copy (open it, read its creation properties,
create it alike, copy its attributes and its kept rows, close both) costs a dozen
identifier objects, each registered and released by Python: on a file of 6,500 objects
more than the HDF5 work itself. ``_fastattrs.copy_members`` does the same calls for a
group's plain members in one call: groups, datasets kept whole (copied by HDF5 itself,
``H5Ocopy``), and datasets cut to their kept rows whose values need nothing re-pointed.
It declines (before making anything) what needs more care: virtual datasets, storage
outside the file, filters not available here, datasets without a first axis. It leaves
the rows of a dataset it made to the caller where whole chunks can be copied as stored
or the rows are many. Attributes holding references go back to the caller in their turn,
so that the copy keeps the source's order. It runs where the compiled attribute copier
and traversal step run; elsewhere ``COPIER`` is None and the caller makes each member.
"""

from __future__ import annotations

from collections.abc import Callable

from h5py import h5, h5d, h5p, h5s

from h5model.hdf5._native import library as _library
from h5model.hdf5._native.copy_attrs import COMPILED
from h5model.hdf5._native.library import ITER_NATIVE, MEMBER_COPY_FUNCTIONS
from h5model.hdf5._native.scan import GROUP_SCANNER, SCANNER

OBJECT_INFO_TIME = 0x0002
"""``H5O_INFO_TIME``: the object's times in ``H5Oget_info3`` (h5py does not export it)."""

GROUP, WHOLE, CUT, WHOLE_WITH_ATTRIBUTES = 0, 1, 2, 3
"""What to make of a member: a group, a dataset kept whole (its attributes copied one by
one, some holding references), a dataset cut to its rows, a dataset kept whole with
attributes that hold no references (HDF5 copies them with it)."""
DONE, ROWS_LEFT, DECLINED = 0, 1, 2
"""What was made: everything, the dataset without its rows, nothing."""

MemberCopier = Callable[..., list[tuple[int, int]]]
"""(source group, copy's group, [(name, what, rows kept)], (ASCII, UTF-8 link creation
properties), whole-copy properties, most elements copied here, refs(name, index type,
position), [position]) -> [(what was made, bytes of values copied)] per member, up to
the first one declined (the caller makes it, then passes the rest again); on an error,
position[0] is the member that failed."""


def _compiled() -> MemberCopier | None:
    lib = _library.LIBRARY
    if COMPILED is None or SCANNER is None or GROUP_SCANNER is None or lib is None:
        return None
    if not lib.has(MEMBER_COPY_FUNCTIONS):
        return None
    try:
        from h5model.hdf5._native import _fastattrs  # type: ignore[attr-defined]

        _fastattrs.init_members(lib.addresses(MEMBER_COPY_FUNCTIONS), {
            "CHUNKED": int(h5d.CHUNKED), "VIRTUAL": int(h5d.VIRTUAL),
            "SELECT_SET": int(h5s.SELECT_SET), "INFO_TIME": OBJECT_INFO_TIME,
            "CRT_ORDER_TRACKED": int(h5p.CRT_ORDER_TRACKED),
            "INDEX_CRT_ORDER": int(h5.INDEX_CRT_ORDER), "SIMPLE": int(h5s.SIMPLE),
            "ITER_NATIVE": ITER_NATIVE,
            "UNLIMITED": int(h5s.UNLIMITED) - 2**64,  # as a signed 64-bit number
        })
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        return None  # an older build without this step: the caller makes each member
    copier: MemberCopier = _fastattrs.copy_members
    return copier


COPIER: MemberCopier | None = _compiled()
"""The compiled member copier, or None."""
