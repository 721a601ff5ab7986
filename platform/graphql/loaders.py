"""DataLoaders, one per relation a list can reach, created once per request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from licheng.graphql.context import Info

K = TypeVar("K")
V = TypeVar("V")


def loader(info: Info, name: str, batch: Callable[[list[K]], Awaitable[Sequence[V]]]) -> DataLoader[K, V]:
    """This request's loader called ``name``; ``batch`` maps a key list to values in the same order."""
    existing = info.context.loaders.get(name)
    if existing is None:
        existing = DataLoader(load_fn=batch)  # type: ignore[arg-type]
        info.context.loaders[name] = existing
    return existing


async def once(info: Info, key: Hashable, make: Callable[[], Awaitable[V]]) -> V:
    """``make()`` run once per request for ``key``; every caller shares its answer (or error).
    For what has nothing to batch (one school's year): no DataLoader queue and dispatch."""
    found = info.context.loaders.get(key)
    if found is None:
        found = info.context.loaders[key] = asyncio.ensure_future(make())
    return await found  # type: ignore[no-any-return]


def by_id(model: Any, **scope: Any) -> Callable[[list[int]], Awaitable[list[Any]]]:
    """A batch function loading rows by primary key within ``scope`` (e.g. school_id)."""

    async def batch(keys: list[int]) -> list[Any]:
        rows = {row.id: row for row in await model.filter(id__in=list(set(keys)), **scope)}
        return [rows.get(key) for key in keys]

    return batch


def grouped(model: Any, key_field: str, **scope: Any) -> Callable[[list[int]], Awaitable[list[list[Any]]]]:
    """A batch function loading lists of rows grouped by a foreign key."""

    async def batch(keys: list[int]) -> list[list[Any]]:
        groups: dict[int, list[Any]] = {key: [] for key in keys}
        for row in await model.filter(**{f"{key_field}__in": list(set(keys))}, **scope).order_by("id"):
            groups[getattr(row, key_field)].append(row)
        return [groups[key] for key in keys]

    return batch
