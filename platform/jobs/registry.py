"""Handlers by kind: ``@job_handler("storage.reap")`` registers an async function.

A handler is called as ``await handler(actor, payload, context)``: `actor` is
``system_actor(job.school_id)`` (staff rights in the job's school, or the
platform for kinds declared ``platform_level=True``), `payload` the job's JSON
object, `context` a `JobContext`. It must be idempotent: a worker that dies
after the work but before marking it done means the work runs again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from licheng.settings import Settings
from licheng.tenants.actor import Actor

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BACKOFF_BASE = 10.0  # seconds before the first retry
DEFAULT_BACKOFF_CAP = 3600.0  # no retry waits longer than this (before jitter)
DEFAULT_JITTER = 0.2  # +-20 %

_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


@dataclass(frozen=True)
class JobContext:
    """What a handler may need besides its actor and payload."""

    settings: Settings
    job_id: int
    kind: str
    attempt: int  # 1 on the first run


Handler = Callable[[Actor, dict[str, Any], JobContext], Awaitable[object]]


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter (see `licheng.jobs.queue.backoff_delay`)."""

    base: float = DEFAULT_BACKOFF_BASE
    cap: float = DEFAULT_BACKOFF_CAP
    jitter: float = DEFAULT_JITTER


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    func: Handler
    platform_level: bool
    max_attempts: int
    retry: RetryPolicy


HANDLERS: dict[str, HandlerSpec] = {}


def job_handler(
    kind: str,
    *,
    platform_level: bool = False,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    backoff_base: float = DEFAULT_BACKOFF_BASE,
    backoff_cap: float = DEFAULT_BACKOFF_CAP,
    jitter: float = DEFAULT_JITTER,
) -> Callable[[Handler], Handler]:
    """Register the decorated coroutine function as the handler of `kind` ("area.action").

    `platform_level=True` declares a kind that runs outside any school; every
    other kind is refused at enqueue without a school.
    """
    if not _KIND.match(kind) or len(kind) > 64:
        raise ValueError(f"job kind must look like 'area.action' (lowercase, at most 64): {kind!r}")
    if max_attempts < 1 or backoff_base < 0 or backoff_cap < backoff_base or not 0 <= jitter < 1:
        raise ValueError(f"bad retry policy for job kind {kind!r}")

    def register(func: Handler) -> Handler:
        known = HANDLERS.get(kind)
        if known is not None and known.func is not func:
            raise ValueError(f"job kind {kind!r} already has a handler ({known.func.__qualname__})")
        retry = RetryPolicy(backoff_base, backoff_cap, jitter)
        HANDLERS[kind] = HandlerSpec(kind, func, platform_level, max_attempts, retry)
        return func

    return register


def handler_for(kind: str) -> HandlerSpec | None:
    return HANDLERS.get(kind)
