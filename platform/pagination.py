"""Keyset pagination shared by every list: stable under inserts, cheap at any depth."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Generic, TypeVar

from tortoise.queryset import QuerySet

from licheng.errors import InvalidInput

T = TypeVar("T")
MAX_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next_page: bool
    has_previous_page: bool

    def cursor_of(self, item: object) -> str:
        return encode_cursor(item.id)  # type: ignore[attr-defined]


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"c:{row_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith("c:"):
            raise ValueError
        return int(text[2:])
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("after", "分頁游標無效", "The pagination cursor is invalid") from None


async def paginate(query: QuerySet, *, first: int | None, after: str | None) -> Page:
    size = MAX_PAGE if first is None else first
    if not 0 <= size <= MAX_PAGE:
        raise InvalidInput("first", f"first 必須介於 0 到 {MAX_PAGE}", f"first must be between 0 and {MAX_PAGE}")
    after_id = decode_cursor(after)
    if after_id is not None:
        query = query.filter(id__gt=after_id)
    rows = await query.order_by("id").limit(size + 1)
    return Page(items=list(rows[:size]), has_next_page=len(rows) > size, has_previous_page=after_id is not None)
