"""Every list is paginated the same way: ``?limit=&offset=`` in, ``Page`` out."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_LIMIT = 200
# Far beyond any real list, and inside PostgreSQL's bigint OFFSET: a larger number was a 500.
MAX_OFFSET = 1_000_000_000


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过的条数")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]  # async: no thread-pool hop


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Rows matching the query, all pages together.")
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[T], total: int, params: PageParams) -> Page[T]:
        return cls(items=items, total=total, limit=params.limit, offset=params.offset)
