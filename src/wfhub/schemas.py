"""Field types and envelopes shared by every domain's schemas.

Strings refuse NUL and other C0 control characters (PostgreSQL cannot store NUL, and no title
needs a bell); integers are bounded to what both databases store, so no input reaches the
database in a shape it would reject with a 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Generic, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

INT32_MAX = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _single_line(value: str) -> str:
    value = value.strip()
    if _LINE_CONTROL.search(value):
        raise ValueError("must be a single line without control characters")
    if not value:
        raise ValueError("must not be blank")
    return value


LongText = Annotated[str, Field(max_length=100_000), AfterValidator(_no_control)]
Title = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_single_line)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_single_line)]
BoundedInt = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
Position = Annotated[int, Field(ge=0, le=1_000_000)]
RefId = Annotated[int, Field(ge=1, le=INT32_MAX)]

IdPath = Annotated[int, Path(ge=1, le=INT32_MAX)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX, description="Items to skip.")]
SearchText = Annotated[
    str | None,
    Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$", description="Text to search for."),
]


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StrictModel(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
