"""An event sink: every feature of a batch of events appended together.

An event group (``/events`` of an RT-DC file) holds one dataset per feature, one
row per event, all of one length. A batch gives every feature's rows for the same
events; a batch whose features differ in length, lack one the group has, or add
one it does not, is refused before anything is written. The first batch of an
empty group makes its features (extendable, chunked by the rule, with the sink's
filters) and flushes them, empty, so that a crash from then on leaves them; images
(3-D ``uint8``/``bool`` features) get the HDF5 image attributes dcnum writes. The
count attribute (``experiment:event count``) follows the rows, and a repair after a
crash is logged in the file's ``/logs``, as event files keep logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from h5model.errors import H5ModelError
from h5model.persist.streaming.stream import Stream, feature_path

_IMAGE_ATTRIBUTES = {"CLASS": np.bytes_("IMAGE"), "IMAGE_VERSION": np.bytes_("1.2"),
                     "IMAGE_SUBCLASS": np.bytes_("IMAGE_GRAYSCALE")}


class EventSink:
    """Appends batches of events to one event group of a file open for streaming."""

    def __init__(self, stream: Stream, group: str, *, count_attribute: str | None = None,
                 storage: dict[str, Any] | None = None, log_group: str | None = "/logs") -> None:
        self.stream = stream
        self.group = "/" + group.strip("/")
        self.count_attribute = count_attribute
        self.storage = storage or {}
        if log_group is not None:
            stream.log_to(log_group)  # an event file keeps its logs (RT-DC: /logs/<name>)
        found = stream.h5.get(self.group)
        if found is not None and not isinstance(found, h5py.Group):
            raise H5ModelError("an event sink needs a group here, not a dataset",
                               file=stream.label, hdf5_path=self.group)
        names = sorted(k for k, v in found.items() if isinstance(v, h5py.Dataset)) if found \
            else []
        self.features: list[str] = names
        if names:
            lengths = {n: stream.dataset(feature_path(self.group, n)).shape[0] for n in names}
            if len(set(lengths.values())) > 1:
                raise H5ModelError(f"the features differ in length ({lengths}); repair the "
                                   "file first (h5model.persist.streaming.repair)",
                                   file=stream.label, hdf5_path=self.group)
            self._together()
        else:
            stream.h5.require_group(self.group)
            if count_attribute is not None and count_attribute not in stream.h5.attrs:
                stream.h5.attrs[count_attribute] = np.int64(0)

    def __len__(self) -> int:
        if not self.features:
            return 0
        return int(self.stream.dataset(feature_path(self.group, self.features[0])).shape[0])

    def _together(self) -> None:
        count = ("/", self.count_attribute) if self.count_attribute else None
        self.stream.keep_together([feature_path(self.group, n) for n in self.features], count)

    def check(self, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The batch as arrays, refused if its features or their lengths do not fit."""
        arrays = {str(k): np.asarray(v) for k, v in batch.items()}
        lengths = {k: (v.shape[0] if v.ndim else -1) for k, v in arrays.items()}
        where = {"file": self.stream.label, "hdf5_path": self.group}
        if not arrays:
            raise H5ModelError("an empty batch: give every feature's rows", **where)
        if any(n < 0 for n in lengths.values()) or len(set(lengths.values())) > 1:
            raise H5ModelError(f"every feature of a batch needs the same number of events; "
                               f"got {lengths}", **where)
        if self.features:
            missing = sorted(set(self.features) - set(arrays))
            extra = sorted(set(arrays) - set(self.features))
            if missing or extra:
                said = "; ".join(part for part in (
                    f"missing {missing}" if missing else "",
                    f"not in the file {extra}" if extra else "") if part)
                raise H5ModelError(f"a batch must give exactly the features "
                                   f"{self.features}: {said}", **where)
        return arrays

    def append(self, batch: Mapping[str, Any]) -> int:
        """Append one batch (feature name -> rows); the number of events after it."""
        arrays = self.check(batch)
        if not self.features:
            self._make(arrays)
        return self.stream.append_together(
            {feature_path(self.group, n): a for n, a in arrays.items()})

    def _make(self, arrays: Mapping[str, np.ndarray]) -> None:
        for name, rows in sorted(arrays.items()):
            created = self.stream.create(feature_path(self.group, name), rows.shape[1:],
                                         rows.dtype, self.storage)
            if rows.ndim == 3 and rows.dtype in (np.uint8, np.bool_):
                for key, value in _IMAGE_ATTRIBUTES.items():
                    created.attrs[key] = value
        self.features = sorted(arrays)
        self._together()
        self.stream.flush()  # the features exist on disk, empty, before any row: readers may come
