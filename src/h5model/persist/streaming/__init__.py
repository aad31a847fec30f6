"""Streaming writes during acquisition: rows appended in place while readers watch.

``chunks`` (the chunk rule and filters of new extendable datasets), ``extendable``
(datasets that grow, and appending to them), ``stream`` (a file open for streaming:
SWMR mode, the flush policy), ``sidecar`` (what a writer made durable), ``sink``
(every feature of a batch of events together), ``background`` (the writer thread
with its bounded, ordering queue) and ``repair`` (a file a killed writer left, cut
back to whole batches). ``h5model.open(path, mode, stream=True)`` is the way in.
"""

from h5model.persist.streaming.background import (
    BackgroundWriter,
    MissingBatchesError,
    QueueFull,
)
from h5model.persist.streaming.chunks import chunk_rows, chunk_shape, storage_options
from h5model.persist.streaming.extendable import Extendable, NotExtendableError, extendable
from h5model.persist.streaming.repair import RepairReport, repair
from h5model.persist.streaming.sink import EventSink
from h5model.persist.streaming.stream import Stream, StreamOptions

__all__ = [
    "BackgroundWriter",
    "EventSink",
    "Extendable",
    "MissingBatchesError",
    "NotExtendableError",
    "QueueFull",
    "RepairReport",
    "Stream",
    "StreamOptions",
    "chunk_rows",
    "chunk_shape",
    "extendable",
    "repair",
    "storage_options",
]
