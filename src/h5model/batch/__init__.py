"""Many files at once: discovery, local and Dask runners, rows and their reports.

``validate_many``, ``inventory`` and ``truncate_many`` take files, folders and glob
patterns and give one report with a row per file in a stable order, whichever runner read
them: this process, ``jobs`` local worker processes (each file isolated: a crash or a
hang costs that file's row, not the run), or a Dask cluster. It sits beside
``validation`` and ``truncation`` and uses them, never the session.
"""

from h5model.batch.api import Interrupted, inventory, truncate_many, validate_many
from h5model.batch.discover import Found, discover
from h5model.batch.reports import Inventory, Truncations
from h5model.batch.rows import InventoryRow, TruncateRow

__all__ = [
    "Found",
    "Interrupted",
    "Inventory",
    "InventoryRow",
    "TruncateRow",
    "Truncations",
    "discover",
    "inventory",
    "truncate_many",
    "validate_many",
]
