"""Jobs fixtures: handlers registered under kinds unique to one test, removed after it.

Each test claims only its own kinds (``kinds=[...]``), so jobs other tests
left in the session database never interfere.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from licheng.jobs import HANDLERS, job_handler
from licheng.jobs.registry import Handler

_kinds = itertools.count(1)


@pytest.fixture
def register() -> Iterator[Callable[..., str]]:
    """``kind = register(handler, **policy)``: a fresh kind whose handler is `handler`."""
    added: list[str] = []

    def add(func: Handler, **policy: Any) -> str:
        kind = f"test.kind{next(_kinds)}"
        job_handler(kind, **policy)(func)
        added.append(kind)
        return kind

    yield add
    for kind in added:
        HANDLERS.pop(kind, None)


async def noop(*_: Any) -> None:
    return None
