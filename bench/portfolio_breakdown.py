"""The instrumented pass of ``portfolio_query.py``: where one 'my portfolio' request spends its time.

Wraps the database client's ``execute_query`` and the app's ``actor_for_token``
with timers for a few seconds of requests, then prints per request: statements
and the time with one in flight (the database's share: an upper bound, since
the loop goes on shaping rows while queued statements wait), the token -> actor
step (auth), ``schema.execute`` without its SQL, and HTTP with the middlewares.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Breakdown:
    """Per request, from an instrumented pass over ours (timers add a little of their own)."""

    requests: int = 0
    total: float = 0.0
    statements: int = 0
    sql: float = 0.0  # time with a statement in flight, the actor's included
    auth: float = 0.0  # token -> actor, its statement included
    auth_sql: float = 0.0


async def breakdown(client: Any, headers: dict[str, str], body: dict[str, Any], seconds: float) -> Breakdown:
    """Wraps the database client's ``execute_query`` and the app's ``actor_for_token`` with timers."""
    from tortoise import connections

    import licheng.app as app_module

    out = Breakdown()
    conn = connections.get("default")
    execute_query, actor_for_token = conn.execute_query, app_module.actor_for_token
    in_auth = False

    in_flight, since = 0, 0.0

    async def timed_query(*args: Any, **kwargs: Any) -> Any:
        # Loaders run statements concurrently: count the time with at least one in flight.
        nonlocal in_flight, since
        if in_flight == 0:
            since = time.perf_counter()
        in_flight += 1
        try:
            return await execute_query(*args, **kwargs)
        finally:
            in_flight -= 1
            out.statements += 1
            if in_flight == 0:
                spent = time.perf_counter() - since
                out.sql += spent
                out.auth_sql += spent if in_auth else 0.0

    async def timed_actor(*args: Any, **kwargs: Any) -> Any:
        nonlocal in_auth
        started, in_auth = time.perf_counter(), True
        try:
            return await actor_for_token(*args, **kwargs)
        finally:
            in_auth = False
            out.auth += time.perf_counter() - started

    conn.execute_query, app_module.actor_for_token = timed_query, timed_actor  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            await client.post("/graphql", json=body, headers=headers)
            out.requests += 1
        out.total = time.perf_counter() - start
    finally:
        conn.execute_query, app_module.actor_for_token = execute_query, actor_for_token  # type: ignore[method-assign]
    return out


def print_breakdown(parts: Breakdown, direct: float) -> None:
    n = parts.requests
    per = lambda seconds: 1000 * seconds / n  # noqa: E731 - ms per request
    total, sql, auth, auth_sql = per(parts.total), per(parts.sql), per(parts.auth), per(parts.auth_sql)
    execute = 1000 / direct  # measured apart, without the timers
    print(f"  breakdown of ours (instrumented pass, {n} requests, {total:.2f} ms/req):")
    print(f"    SQL statements        {parts.statements / n:5.1f}/req  {sql:6.2f} ms  {sql / total:5.0%}  (the database's share, at most)")
    print(f"    token -> actor                 {auth:6.2f} ms  {auth / total:5.0%}  (auth, {auth_sql:.2f} ms of it SQL)")
    print(f"    database + auth                {sql + auth - auth_sql:6.2f} ms  {(sql + auth - auth_sql) / total:5.0%}")
    print(f"    schema.execute, no SQL         {max(execute - (sql - auth_sql), 0):6.2f} ms  (GraphQL, permissions, tenancy, loaders)")
    print(f"    HTTP + middlewares             {max(total - execute - auth, 0):6.2f} ms  (the rest)")


