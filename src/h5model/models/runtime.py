"""What generated modules import: base classes, field metadata, table behaviour."""

from __future__ import annotations

from pydantic import InstanceOf

from h5model.codegen.registry import require
from h5model.models.arrays import H5Array
from h5model.models.nodes import ArrayOf, Dataset, ExternalLink, Fixed, Group, H5Field, Node
from h5model.models.tables import (
    DynamicTableMixin,
    DynamicTableRegionMixin,
    VectorDataMixin,
    VectorIndexMixin,
)

__all__ = [
    "ArrayOf",
    "Dataset",
    "DynamicTableMixin",
    "DynamicTableRegionMixin",
    "ExternalLink",
    "Fixed",
    "Group",
    "H5Array",
    "H5Field",
    "InstanceOf",
    "Node",
    "VectorDataMixin",
    "VectorIndexMixin",
    "require",
]
