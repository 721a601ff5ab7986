"""Relay-style global IDs and cursor connections.

A global ID is base64("Type:pk"): opaque to clients, and it names the type so
that ``node(id:)`` can route it. Connections carry keyset cursors from
``licheng.pagination``.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import strawberry

from licheng.errors import InvalidInput
from licheng.pagination import Page, encode_cursor

T = TypeVar("T")


# A portfolio page names ~200 objects; their global IDs repeat from request to request, so they
# are remembered rather than encoded again each time.
@functools.lru_cache(maxsize=1 << 16)
def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.b64encode(f"{type_name}:{pk}".encode()).decode())


def from_global_id(global_id: str, expected: str | None = None) -> tuple[str, int]:
    try:
        type_name, pk = base64.b64decode(global_id.encode(), validate=True).decode().split(":", 1)
        value = int(pk)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("id", "識別碼無效", "The ID is invalid") from None
    if expected is not None and type_name != expected:
        raise InvalidInput("id", f"識別碼不是{expected}", f"The ID is not a {expected}", expected=expected)
    return type_name, value


def pk_of(global_id: str, expected: str) -> int:
    return from_global_id(global_id, expected)[1]


@strawberry.interface(description="An object with a global ID (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def connection(page: Page[Any], convert: Callable[[Any], T]) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(row.id), node=convert(row)) for row in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


# type name -> async resolver(info, pk) used by Query.node; feature modules register theirs.
NODE_RESOLVERS: dict[str, Callable[[Any, int], Awaitable[Any]]] = {}


def node_resolver(type_name: str) -> Callable[[Callable[[Any, int], Awaitable[Any]]], Callable[[Any, int], Awaitable[Any]]]:
    def register(func: Callable[[Any, int], Awaitable[Any]]) -> Callable[[Any, int], Awaitable[Any]]:
        NODE_RESOLVERS[type_name] = func
        return func

    return register


def ids(rows: Iterable[Any]) -> list[int]:
    return [row.id for row in rows]
