"""Compression filters a dataset needs before its data can be read.

Files from other systems compress with filters HDF5 itself lacks (RT-DC images with
Zstd, from ``hdf5plugin``). Their metadata (shape, dtype, attributes) reads without the
filter; reading data does not. Before data is read, each filter of the dataset is
checked: a missing one makes h5model import ``hdf5plugin`` once (if installed, it
registers its filters), and if the filter is still missing the error names it and the
package that provides it, instead of HDF5's "can't open directory".
"""

from __future__ import annotations

import contextlib
from typing import Any

from h5py import h5z

from h5model.errors import H5ModelError

_PLUGIN_TRIED = False


def check_filters(dcpl: Any, label: str, hdf5_path: str) -> None:
    """Raise ``H5ModelError`` naming a filter of ``dcpl`` that this process cannot decode."""
    for i in range(dcpl.get_nfilters()):
        code, _flags, _values, name = dcpl.get_filter(i)
        if h5z.filter_avail(code):
            continue
        if _load_plugins() and h5z.filter_avail(code):
            continue
        text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        raise H5ModelError(
            f"the data is compressed with HDF5 filter {text or 'unnamed'!r} (id {code}), "
            "which is not available here; install hdf5plugin (pip install hdf5plugin) to "
            "read it (shape, dtype and attributes read without it)",
            file=label, hdf5_path=hdf5_path, rule="dataset.filter-missing",
        )


def _load_plugins() -> bool:
    """Import hdf5plugin once, which registers its filters; True if it was imported."""
    global _PLUGIN_TRIED
    if _PLUGIN_TRIED:
        return False
    _PLUGIN_TRIED = True
    with contextlib.suppress(ImportError):
        import hdf5plugin  # type: ignore[import-untyped]  # noqa: F401

        return True
    return False
