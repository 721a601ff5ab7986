"""``licheng``: serve, migrate, demo, school and people administration, schema export."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from licheng import db
from licheng.errors import LichengError
from licheng.settings import Settings

T = TypeVar("T")


def _run(make: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(make())  # type: ignore[arg-type]
    except LichengError as error:
        click.echo(f"錯誤 {error.code}: {error.message_zh}\nError {error.code}: {error.message_en}", err=True)
        if error.details:
            click.echo(f"  {error.details}", err=True)
        sys.exit(2)


async def _with_db(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    await db.init_db(settings)
    try:
        return await work()
    finally:
        await db.close_db()


@click.group()
def main() -> None:
    """Licheng (歷程): the Student Learning Portfolio platform."""


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    settings = Settings()
    applied = _run(lambda: db.migrate(settings, progress=lambda name: click.echo(f"applying {name}")))
    click.echo(f"migrated: {len(applied)} step(s) applied" if applied else "schema is up to date")


def _serve(settings: Settings, host: str, port: int) -> None:
    import signal

    import uvicorn

    from licheng.app import create_app
    from licheng.observability import configure_logging

    configure_logging(settings.log_level)
    app = create_app(settings)
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal into the handler it
    # found at start: a no-op one makes that re-raise a clean exit 0 for Kubernetes.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        app, host=host, port=port, log_level=settings.log_level.lower(), timeout_graceful_shutdown=30,
        log_config=None, access_log=False,  # our middleware writes JSON access lines with route templates
    )  # fmt: skip


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the API (run `licheng migrate` first)."""
    settings = Settings()
    try:
        settings.check_production()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    _serve(settings, host, port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed and print the accounts, then exit.")
def demo(host: str, port: int, no_serve: bool) -> None:
    """Migrate the embedded database, seed a demo school, print the accounts, and serve."""
    from licheng import demo as demo_data

    settings = Settings(debug=True)
    click.echo(f"data directory: {settings.data_dir.resolve()}")
    _run(lambda: db.migrate(settings))
    accounts = _run(lambda: _with_db(settings, lambda: demo_data.seed(settings)))
    click.echo("\nDemo accounts (password for all: %s)" % demo_data.DEMO_PASSWORD)
    for account in accounts:
        click.echo(f"  {account.login:<16} {account.role}")
    click.echo(f"\nGraphQL: http://{host}:{port}/graphql  (GraphiQL in the browser)")
    click.echo(f"Console: http://{host}:{port}/console  (plugin admin, onboarding, imports)")
    click.echo(
        "Try:  mutation { signIn(login: \"s10101\", password: \"%s\") { accessToken } }" % demo_data.DEMO_PASSWORD
    )
    if not no_serve:
        for line in _prepare_plugins_for_demo(settings, [demo_data.DEMO_SCHOOL_CODE]):
            click.echo(line)
        _serve(settings, host, port)


def _prepare_plugins_for_demo(settings: Settings, school_codes: list[str]) -> list[str]:
    """Each installed plugin's ``licheng_demo`` hook (e.g. moe_central starts its simulator)."""
    from licheng.plugins.manager import configure

    manager = configure(settings)
    lines: list[str] = []
    for plugin in manager.plugins():
        if not manager.implements(plugin.id, "licheng_demo"):
            continue
        try:
            line = plugin.licheng_demo(settings=settings, school_codes=school_codes)  # type: ignore[attr-defined]
        except Exception as error:  # noqa: BLE001 - the demo goes on without that plugin
            line = f"{plugin.id}: not prepared for the demo ({type(error).__name__})"
        if line:
            lines.append(str(line))
    return lines


@main.command()
@click.option("--once", is_flag=True, help="Run every job that is due, then exit.")
def worker(once: bool) -> None:
    """Run background jobs until SIGTERM (run `licheng migrate` first)."""
    from licheng.jobs import run_worker

    settings = Settings()
    try:
        settings.check_production()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    run_worker(settings, once=once)


@main.command()
@click.option("--output", type=click.Path(path_type=Path), default=Path("schema.graphql"), show_default=True)
def schema(output: Path) -> None:
    """Write the GraphQL SDL (checked in as schema.graphql)."""
    from licheng.graphql.schema import export_sdl

    output.write_text(export_sdl(), encoding="utf-8")
    click.echo(f"wrote {output}")


from licheng.cli_admin import register as _register_admin  # noqa: E402 - admin commands live apart

_register_admin(main)
from licheng.cli_storage import register as _register_storage  # noqa: E402 - storage verify | reap

_register_storage(main)

# Plugins add commands through the `licheng.commands` entry points (e.g. `licheng central-sim`):
# the entry point names a click command; one that fails to load is reported, not fatal.
PLUGIN_COMMANDS_GROUP = "licheng.commands"


def _register_plugin_commands(group: click.Group) -> None:
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group=PLUGIN_COMMANDS_GROUP):
        if ep.name in group.commands:
            continue
        try:
            command = ep.load()
        except Exception as error:  # noqa: BLE001 - a broken plugin must not break the CLI
            click.echo(f"plugin command {ep.name} could not be loaded: {type(error).__name__}", err=True)
            continue
        if isinstance(command, click.Command):
            group.add_command(command, name=ep.name)


_register_plugin_commands(main)

__all__ = ["main"]


if __name__ == "__main__":
    main()
