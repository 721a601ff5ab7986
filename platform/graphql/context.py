"""The per-request GraphQL context: the actor, the settings, and this request's DataLoaders."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from strawberry.types import Info as StrawberryInfo

from licheng.settings import Settings
from licheng.tenants.actor import Actor


@dataclass
class Context:
    request: Request | None
    settings: Settings
    actor: Actor
    # DataLoaders (``licheng.graphql.loaders.loader``, by name) and shared answers
    # (``loaders.once``, by key), created lazily, for this request only.
    loaders: dict[Hashable, Any] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)


Info = StrawberryInfo[Context, None]
