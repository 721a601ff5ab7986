"""The PostgreSQL pool: connections go back without a reset round trip, and that stays safe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from licheng import db

ROOT = Path(__file__).resolve().parent.parent


async def _pool():  # noqa: ANN202 - asyncpg's Pool
    conn = connections.get("default")
    if conn.capabilities.dialect != "postgres":
        pytest.skip("asyncpg's pool exists on PostgreSQL only (the PostgreSQL pass runs this)")
    await conn.execute_query("SELECT 0")  # Tortoise opens the pool on first use
    return conn._pool  # noqa: SLF001 - the pool itself is what is under test


async def test_a_statement_outside_a_transaction_costs_one_round_trip_not_two() -> None:
    pool = await _pool()
    seen: list[str] = []
    watched = [h._con for h in pool._holders if h._con is not None]  # noqa: SLF001 - every open connection
    for raw in watched:
        raw.add_query_logger(lambda record: seen.append(record.query))
    try:
        await connections.get("default").execute_query("SELECT 1")
        await connections.get("default").execute_query("SELECT 2")
    finally:
        for raw in watched:
            raw._query_loggers.clear()  # noqa: SLF001 - the loggers this test added
    # asyncpg's default release would add its reset query (pg_advisory_unlock_all(); CLOSE ALL; ...) after each.
    assert seen == ["SELECT 1", "SELECT 2"], f"more than the statements reached the server: {seen}"


async def test_a_transaction_left_open_is_rolled_back_when_its_connection_returns() -> None:
    pool = await _pool()
    async with pool.acquire() as raw:
        await raw.execute("BEGIN")
        await raw.execute("CREATE TEMP TABLE IF NOT EXISTS pool_probe (n int)")
    async with pool.acquire() as raw:
        assert not raw.is_in_transaction()
    async with in_transaction() as tx:  # the next user of the pool starts clean
        _, rows = await tx.execute_query("SELECT to_regclass('pg_temp.pool_probe') IS NULL AS gone")
    assert rows[0]["gone"]


# What a skipped reset would leak to the next user of a connection: the code must hold none of it.
_SESSION_STATE = re.compile(
    r"\b(SET\s+(SESSION\s+)?[a-z_.]+\s*(=|TO)\b|LISTEN\s|pg_advisory_lock|pg_try_advisory_lock\(|DECLARE\s+\w+\s+CURSOR\s+WITH\s+HOLD)",
    re.IGNORECASE,
)


def test_no_code_keeps_session_state_on_a_pooled_connection() -> None:
    found = []
    for folder in ("platform", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _SESSION_STATE.search(line) and "SET LOCAL" not in line.upper():
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "session state on a pooled connection needs db.keep_session to reset it:\n" + "\n".join(found)


def test_the_pool_is_configured_with_the_light_release_hook(settings) -> None:  # noqa: ANN001
    from licheng.settings import Settings

    config = db.tortoise_config(Settings(database_url="postgres://u@127.0.0.1:5432/x", secret_key=settings.secret_key))
    assert config["connections"]["default"]["credentials"]["reset"] is db.keep_session
