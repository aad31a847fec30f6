"""What generated modules import: base classes, field metadata, checks, table behaviour.

Generated source names everything it uses as ``_r.<name>``: this module is the whole
surface between generated code and h5model, so it changes only with the generator.
"""

from __future__ import annotations

from pydantic import Field, InstanceOf

from h5model.codegen.registry import require
from h5model.models.arrays import H5Array
from h5model.models.constraints import ArrayOf, Fixed, IsoDatetime
from h5model.models.lazyclasses import LazyClasses
from h5model.models.nodes import Dataset, ExternalLink, Group, H5Field, Node
from h5model.models.tables import (
    DynamicTableMixin,
    DynamicTableRegionMixin,
    VectorDataMixin,
    VectorIndexMixin,
)
from h5model.models.timeseries import TimeSeriesMixin

__all__ = [
    "ArrayOf",
    "Dataset",
    "DynamicTableMixin",
    "DynamicTableRegionMixin",
    "ExternalLink",
    "Field",
    "Fixed",
    "Group",
    "H5Array",
    "H5Field",
    "InstanceOf",
    "IsoDatetime",
    "LazyClasses",
    "Node",
    "TimeSeriesMixin",
    "VectorDataMixin",
    "VectorIndexMixin",
    "require",
]
