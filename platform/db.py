"""The database: which model modules form which app, and how to connect and migrate.

One migration history serves SQLite and PostgreSQL (see ``licheng.migrations``).
Feature packages add their model modules to ``MODEL_APPS``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url

from licheng.settings import Settings

# app label -> model modules. Order matters only for humans; Tortoise resolves references.
MODEL_APPS: dict[str, list[str]] = {
    "auth": ["licheng.auth.models"],
    "tenants": ["licheng.tenants.models", "licheng.tenants.audit"],
    "oauth": ["licheng.auth.oauth.models"],
    "storage": ["licheng.storage.models"],
    "portfolio": ["licheng.portfolio.models"],
    "plugins": ["licheng.plugins.models"],
    "jobs": ["licheng.jobs.models"],
}


# Plugins declare their tables through this entry-point group: ``<plugin id> = "<module>"``.
# Their tables are created whether or not a bureau enables the plugin (they stay empty).
PLUGIN_MODELS_GROUP = "licheng.models"


def model_apps() -> dict[str, list[str]]:
    """The core's apps plus one app per installed plugin that declares models."""
    apps = {label: list(modules) for label, modules in MODEL_APPS.items()}
    for ep in importlib.metadata.entry_points(group=PLUGIN_MODELS_GROUP):
        if ep.name in apps:
            raise RuntimeError(f"plugin models {ep.name!r} would replace the core's app of that name")
        apps[ep.name] = [ep.value]
    return apps


def _db_url(settings: Settings) -> str:
    url = settings.resolved_database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return url


async def keep_session(connection: Any) -> None:
    """asyncpg's hook when a connection goes back to the pool: nothing beyond asyncpg's own step.

    By default asyncpg sends a reset query (advisory unlock, CLOSE ALL, UNLISTEN *, RESET ALL) on
    every release: a second round trip for every statement run outside a transaction, which
    doubled the latency of a plain SELECT here. Licheng keeps no session state to reset: no SET,
    no LISTEN, no cursors held open, advisory locks only per transaction (pg_advisory_xact_lock),
    and tests/test_db_pool.py keeps it so. asyncpg still rolls back a transaction left open
    before it calls this hook.
    """


def tortoise_config(settings: Settings) -> dict[str, Any]:
    url = _db_url(settings)
    connection: Any = url
    if url.startswith("postgres://"):
        connection = expand_db_url(url)
        connection["credentials"]["reset"] = keep_session
    if url.startswith("sqlite://"):
        # WAL lets readers proceed while a writer commits; foreign keys are off by default in SQLite.
        connection = {
            "engine": "tortoise.backends.sqlite",
            "credentials": {
                "file_path": url.removeprefix("sqlite://"),
                "journal_mode": "WAL",
                "foreign_keys": "ON",
            },
        }
    return {
        "connections": {"default": connection},
        "apps": {
            label: {
                "models": modules,
                "default_connection": "default",
            }
            for label, modules in model_apps().items()
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(settings: Settings) -> None:
    # The global fallback: Starlette's lifespan runs in another task than the requests,
    # and Tortoise 1.x otherwise keeps its context per task.
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(settings: Settings, progress: Callable[[str], object] | None = None) -> list[str]:
    """Create or upgrade the schema; running it twice changes nothing."""
    from licheng.migrations import run_steps

    await init_db(settings)
    try:
        return await run_steps(progress)
    finally:
        await close_db()
