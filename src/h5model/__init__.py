"""h5model: self-describing HDF5 files (NWB, HDMF) as typed pydantic models.

>>> import h5model
>>> with h5model.open("session.nwb") as f:          # doctest: +SKIP
...     f.root.acquisition["ElectricalSeries"].data[:10]
"""

from __future__ import annotations

from h5model.batch import inventory, truncate_many, validate_many
from h5model.cli.embed import EmbedRefused, embed
from h5model.errors import (
    FileMissingError,
    H5ModelError,
    ModelError,
    NoSpecsError,
    NotFoundError,
    NotHDF5Error,
    ReadOnlyError,
    SpecError,
    WrongTypeError,
)
from h5model.hdf5.index_lookup import IndexWarning
from h5model.hdf5.limits import LimitError, Limits, set_limits
from h5model.models.arrays import H5Array
from h5model.models.constraints import ArrayOf
from h5model.models.nodes import Dataset, ExternalLink, Group, Node
from h5model.persist.whole_file import write
from h5model.session.file import File, new, open, write_index
from h5model.spec.declared import Attr, Children
from h5model.truncation import truncate
from h5model.validation import Issue, Report, validate

__version__ = "0.1.0"

__all__ = [
    "ArrayOf",
    "Attr",
    "Children",
    "Dataset",
    "EmbedRefused",
    "ExternalLink",
    "File",
    "FileMissingError",
    "Group",
    "H5Array",
    "H5ModelError",
    "IndexWarning",
    "Issue",
    "LimitError",
    "Limits",
    "ModelError",
    "NoSpecsError",
    "Node",
    "NotFoundError",
    "NotHDF5Error",
    "ReadOnlyError",
    "Report",
    "SpecError",
    "WrongTypeError",
    "__version__",
    "embed",
    "inventory",
    "new",
    "open",
    "set_limits",
    "truncate",
    "truncate_many",
    "validate",
    "validate_many",
    "write",
    "write_index",
]
