"""What the models check of a value as it is built or assigned, from the rule set.

Generated fields carry these as annotations; each asks ``h5model.rules`` (the same
functions validation uses), so a value the models refuse is one validation reports.
Arrays are checked from their dtype and shape alone: no data is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import GetCoreSchemaHandler, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError, core_schema

from h5model.models.arrays import H5Array
from h5model.rules.dtypes import carry_problem
from h5model.rules.shapes import Shape, shape_problem
from h5model.rules.values import isodatetime_text, parse_isodatetime, same_value


@dataclass(frozen=True, slots=True)
class ArrayOf:
    """An array's dtype family and shape, checked against the spec without reading data."""

    dtype: str | None = None
    shapes: tuple[Shape, ...] | None = None
    fields: tuple[str, ...] | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def check(self, value: Any) -> Any:
        if not isinstance(value, (H5Array, np.ndarray)):
            return value
        # an empty attribute array carries no dtype worth checking (HDMF writes float64)
        if self.dtype is not None and not (isinstance(value, np.ndarray) and value.size == 0):
            problem = carry_problem(self.dtype, value.dtype)
            if problem is not None:
                raise PydanticCustomError("h5_dtype", problem)
        if self.fields:
            missing = [f for f in self.fields if f not in (value.dtype.names or ())]
            if missing:
                raise PydanticCustomError(
                    "h5_dtype",
                    "expected a compound dtype with fields {fields}, missing {missing}",
                    {"fields": ", ".join(self.fields), "missing": ", ".join(missing)},
                )
        if self.shapes:
            problem = shape_problem(tuple(value.shape), self.shapes)
            if problem is not None:
                raise PydanticCustomError("h5_shape", problem)
        return value


@dataclass(frozen=True, slots=True)
class Fixed:
    """A value the spec fixes (``value:``): the file must hold exactly it."""

    value: Any

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def check(self, value: Any) -> Any:
        if not same_value(value, self.value):
            raise PydanticCustomError(
                "h5_fixed", "expected the fixed value {expected}", {"expected": repr(self.value)}
            )
        return value


def _isodatetime(value: Any) -> dt.datetime:
    try:
        return parse_isodatetime(value)
    except ValueError as exc:
        raise PydanticCustomError("h5_isodatetime", str(exc)) from None


IsoDatetime = Annotated[
    dt.datetime,
    PlainValidator(_isodatetime),
    PlainSerializer(isodatetime_text, return_type=str, when_used="json"),
]
"""An ``isodatetime``: read from ISO 8601 text (the rule set's parser), written back as
ISO 8601 with ``T``."""
