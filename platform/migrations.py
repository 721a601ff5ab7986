"""Schema migrations: an ordered list of steps, each applied once, on SQLite and PostgreSQL.

Why not Tortoise's bundled migrations: in tortoise-orm 1.1 they are marked
experimental and failed here on composite unique constraints over foreign
keys (SQLite: "expressions prohibited", PostgreSQL: "column parent_id named
in key does not exist"). Tortoise's classic schema generator handles them, so
the baseline of every step list is "create the tables that are missing" and
later changes are explicit steps. A step is recorded in ``licheng_migration``
in the same transaction where the backend allows it (PostgreSQL), so a crash
mid-step leaves it unapplied rather than half-recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.utils import get_schema_sql


@dataclass(frozen=True)
class Step:
    name: str
    apply: Callable[[BaseDBAsyncClient], Awaitable[None]]


async def create_missing_tables(conn: BaseDBAsyncClient) -> None:
    """Create every model table (and index) that does not exist yet; existing ones are untouched."""
    sql = get_schema_sql(conn, safe=True)
    await conn.execute_script(sql)


async def index_actor_lookups(conn: BaseDBAsyncClient) -> None:
    """Every request reads its actor by account (``auth.service._ACTOR_SQL``): without these the
    person and bureau-admin rows are found by scanning a school's people and every bureau's admins."""
    await conn.execute_script(
        'CREATE INDEX IF NOT EXISTS "idx_person_account_school" ON "person" ("account_id", "school_id");\n'
        'CREATE INDEX IF NOT EXISTS "idx_bureau_admin_account" ON "bureau_admin" ("account_id");'
    )


async def add_item_reference(conn: BaseDBAsyncClient) -> None:
    """``portfolio_submission_item.reference``: the item's reference stored at freeze time. A database
    created after the column existed has it already (its tables came from the models), so look first."""
    if conn.capabilities.dialect == "postgres":
        _, rows = await conn.execute_query(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'portfolio_submission_item'"
            " AND column_name = 'reference' AND table_schema = current_schema()"
        )
    else:
        _, rows = await conn.execute_query("SELECT 1 FROM pragma_table_info('portfolio_submission_item') WHERE name = 'reference'")
    if not rows:
        await conn.execute_script("ALTER TABLE \"portfolio_submission_item\" ADD COLUMN \"reference\" VARCHAR(32) NOT NULL DEFAULT ''")


# Append only. A step's name never changes once released.
STEPS: list[Step] = [
    Step("0001_baseline", create_missing_tables),
    Step("0002_portfolio", create_missing_tables),
    Step("0003_storage", create_missing_tables),
    Step("0004_plugins", create_missing_tables),
    Step("0005_oauth", create_missing_tables),
    Step("0006_jobs", create_missing_tables),
    # Tables of plugins (the `licheng.models` entry points) and of features added since 0006.
    Step("0007_plugin_tables", create_missing_tables),
    # portfolio_receipt_comparison (receipts compared item by item with the snapshot): a new table, no ALTER.
    Step("0008_receipt_comparison", create_missing_tables),
    Step("0009_actor_indexes", index_actor_lookups),
    Step("0010_submission_item_reference", add_item_reference),
]


async def applied_steps(conn: BaseDBAsyncClient) -> set[str]:
    await conn.execute_script(
        "CREATE TABLE IF NOT EXISTS licheng_migration ("
        " name VARCHAR(100) NOT NULL PRIMARY KEY,"
        " applied_at VARCHAR(40) NOT NULL)"
    )
    _, rows = await conn.execute_query("SELECT name FROM licheng_migration")
    return {row["name"] for row in rows}


async def run_steps(progress: Callable[[str], object] | None = None) -> list[str]:
    """Apply every step not yet applied, in order. Returns the names applied now."""
    from datetime import datetime, timezone

    conn = connections.get("default")
    done = await applied_steps(conn)
    applied: list[str] = []
    for step in STEPS:
        if step.name in done:
            continue
        if progress:
            progress(step.name)
        async with conn._in_transaction() as tx:  # noqa: SLF001 - Tortoise's documented per-connection transaction
            await step.apply(tx)
            await tx.execute_query(
                "INSERT INTO licheng_migration (name, applied_at) VALUES ($1, $2)"
                if conn.capabilities.dialect == "postgres"
                else "INSERT INTO licheng_migration (name, applied_at) VALUES (?, ?)",
                [step.name, datetime.now(timezone.utc).isoformat()],
            )
        applied.append(step.name)
    return applied


__all__ = ["STEPS", "Step", "create_missing_tables", "run_steps", "Tortoise"]
