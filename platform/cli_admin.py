"""Operator commands: bureaus, schools, staff invitations, platform admins, people imports.

The operator runs them on the server, so they act as the platform (or as the
school's staff for imports) through the same services GraphQL calls.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from licheng.settings import Settings
from licheng.tenants.actor import system_actor


def register(main: click.Group) -> None:
    main.add_command(bureau)
    main.add_command(school)
    main.add_command(admin)
    main.add_command(import_people)


@click.group()
def bureau() -> None:
    """Education bureaus (教育局)."""


@bureau.command("create")
@click.argument("code")
@click.argument("name")
def bureau_create(code: str, name: str) -> None:
    from licheng.cli import _run, _with_db
    from licheng.tenants import service

    settings = Settings()
    row = _run(lambda: _with_db(settings, lambda: service.create_bureau(system_actor(), code, name)))
    click.echo(f"bureau {row.code} created (id {row.id})")


@click.group()
def school() -> None:
    """Schools (the tenants)."""


@school.command("create")
@click.option("--bureau", "bureau_code", required=True, help="The bureau's code, e.g. taipei.")
@click.option("--code", required=True, help="The 6-character school code (學校代碼).")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(["general", "vocational", "comprehensive"]), default="general", show_default=True)
@click.option("--staff-login", help="Also invite a staff account with this login.")
@click.option("--staff-name", default="註冊組", show_default=True)
def school_create(bureau_code: str, code: str, name: str, kind: str, staff_login: str | None, staff_name: str) -> None:
    from licheng.cli import _run, _with_db
    from licheng.errors import NotFound
    from licheng.tenants import service
    from licheng.tenants.models import Bureau, SchoolKind

    settings = Settings()

    async def work() -> None:
        actor = system_actor()
        found = await Bureau.get_or_none(code=bureau_code)
        if found is None:
            raise NotFound("bureau", "教育局")
        row = await service.create_school(actor, found.id, code, name, SchoolKind(kind))
        click.echo(f"school {row.code} {row.name} created")
        if staff_login:
            _, initial = await service.invite_staff(settings, actor, row.id, staff_login, staff_name)
            click.echo(f"staff account {staff_login}, initial password (shown once): {initial or '(existing account)'}")

    _run(lambda: _with_db(settings, work))


@click.group()
def admin() -> None:
    """Platform administrators."""


@admin.command("create")
@click.argument("login")
@click.option("--name", default="Platform admin")
@click.password_option(help="At least 8 characters with a digit, a lower-case and an upper-case letter.")
def admin_create(login: str, name: str, password: str) -> None:
    from licheng.auth import passwords
    from licheng.auth.models import Account
    from licheng.cli import _run, _with_db

    settings = Settings()
    passwords.check_rule(password)

    async def work() -> None:
        await Account.update_or_create(
            login=login,
            defaults={"display_name": name, "password_hash": passwords.hash_password(password), "is_platform_admin": True},
        )

    _run(lambda: _with_db(settings, work))
    click.echo(f"platform admin {login} ready")


@click.command("import")
@click.argument("kind", type=click.Choice(["classes", "students", "teachers", "parents"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True, help="The school code (學校代碼).")
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
@click.option("--credentials-out", type=click.Path(dir_okay=False, path_type=Path), help="Write new accounts' initial passwords here (CSV).")
def import_people(kind: str, file: Path, school_code: str, dry_run: bool, credentials_out: Path | None) -> None:
    """Import people from a CSV file (UTF-8 or Big5)."""
    from licheng.cli import _run, _with_db
    from licheng.errors import NotFound
    from licheng.tenants import importer
    from licheng.tenants.models import School

    settings = Settings()
    data = file.read_bytes()

    async def work() -> importer.ImportReport:
        found = await School.get_or_none(code=school_code)
        if found is None:
            raise NotFound("school", "學校")
        rows = max(1, data.count(b"\n"))
        bar: Any
        with click.progressbar(length=rows, label="importing 匯入中", file=sys.stderr) as bar:  # type: ignore[operator]
            last = [0]

            def progress(done: int, total: int) -> None:
                bar.update(done - last[0])
                last[0] = done

            return await importer.import_people(settings, system_actor(found.id), importer.ImportKind(kind), data, dry_run=dry_run, progress=progress)

    report = _run(lambda: _with_db(settings, work))
    click.echo(
        f"{'dry run: ' if dry_run else ''}{report.rows} rows ({report.encoding}): "
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, {len(report.errors)} errors"
    )
    for error in report.errors:
        click.echo(f"  row {error.row}, {error.column}: {error.code} {error.message_zh} / {error.message_en}", err=True)
    if report.credentials:
        if credentials_out:
            credentials_out.write_text(
                "login,initial_password\n" + "".join(f"{c.login},{c.initial_password}\n" for c in report.credentials),
                encoding="utf-8",
            )
            credentials_out.chmod(0o600)
            click.echo(f"{len(report.credentials)} initial passwords written to {credentials_out}")
        else:
            click.echo(f"{len(report.credentials)} accounts created; rerun with --credentials-out to keep their initial passwords")
    if report.errors:
        raise SystemExit(1)
