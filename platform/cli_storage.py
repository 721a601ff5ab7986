"""`licheng storage verify | reap`: integrity checks and clean-up of the blob store.

`verify` reads every blob back and compares it with its row (size, SHA-256),
lists blobs no row names and quota ledgers that disagree with the blobs; it
exits 1 when anything is wrong, so a cron job or a Kubernetes CronJob alerts.
`reap` is what the jobs system runs on a schedule.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from licheng.settings import Settings


def register(main: click.Group) -> None:
    main.add_command(storage)


@click.group()
def storage() -> None:
    """Blob storage: integrity checks and clean-up (檔案儲存)."""


async def _school_id(code: str | None) -> int | None:
    from licheng.errors import NotFound
    from licheng.tenants.models import School

    if code is None:
        return None
    found = await School.get_or_none(code=code)
    if found is None:
        raise NotFound("school", "學校")
    return found.id


@storage.command("verify")
@click.option("--school", "school_code", help="Only this school's blobs (學校代碼).")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64), help="Blobs read at once.")
def verify(school_code: str | None, concurrency: int) -> None:
    """Read every blob back: report missing, corrupted and orphaned ones (exit 1 if any)."""
    from licheng.cli import _run, _with_db
    from licheng.storage.blobstore import make_blob_store
    from licheng.storage.integrity import VerifyReport, verify_store

    settings = Settings()
    store = make_blob_store(settings.resolved_storage_url)

    async def work() -> VerifyReport:
        school_id = await _school_id(school_code)
        with click.progressbar(length=1, label="verifying 檢查中", file=sys.stderr, show_pos=True) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            return await verify_store(store, school_id=school_id, progress=progress, concurrency=concurrency)

    report = _run(lambda: _with_db(settings, work))
    click.echo(f"checked    {report.checked} blob(s) in {store.name} store"
               + (f"; {report.in_progress} upload(s) in progress or awaiting the reaper" if report.in_progress else ""))
    click.echo(f"missing    {len(report.missing)}")
    for problem in report.missing:
        click.echo(f"  row {problem.blob_id}  {problem.key}")
    click.echo(f"corrupted  {len(report.corrupted)}")
    for problem in report.corrupted:
        click.echo(f"  row {problem.blob_id}  {problem.key}  {problem.detail}")
    click.echo(f"orphaned   {len(report.orphaned)}")
    for key in report.orphaned:
        click.echo(f"  {key}")
    click.echo(f"quota      {len(report.quota_mismatches)} ledger(s) differ from their blobs")
    for mismatch in report.quota_mismatches:
        click.echo(f"  person {mismatch.person_id}: ledger {mismatch.ledger_bytes} != blobs {mismatch.blob_bytes}")
    if not report.ok:
        click.echo("PROBLEMS FOUND 發現問題", err=True)
        raise SystemExit(1)
    click.echo("OK")


@storage.command("reap")
@click.option("--school", "school_code", help="Only this school's uploads (學校代碼).")
@click.option("--intents-hours", default=6.0, show_default=True, type=click.FloatRange(0), help="Remove uploads that never finished after this long.")
@click.option("--unclaimed-hours", default=24.0, show_default=True, type=click.FloatRange(0), help="Remove uploads never attached to an item after this long (quota refunded).")
@click.option("--orphans", is_flag=True, help="Also delete blobs no row names. Never after a database restore: they may be real files.")
def reap(school_code: str | None, intents_hours: float, unclaimed_hours: float, orphans: bool) -> None:
    """Remove failed and abandoned uploads and give their quota back."""
    from licheng.cli import _run, _with_db
    from licheng.storage import reaper
    from licheng.storage.blobstore import make_blob_store

    settings = Settings()
    store = make_blob_store(settings.resolved_storage_url)

    async def work() -> reaper.ReapReport:
        return await reaper.reap(
            store,
            school_id=await _school_id(school_code),
            intents_after=timedelta(hours=intents_hours),
            unclaimed_after=timedelta(hours=unclaimed_hours),
            orphans=orphans,
        )

    report = _run(lambda: _with_db(settings, work))
    click.echo(
        f"reaped: {report.intents} unfinished upload(s), {report.unclaimed} unattached upload(s) "
        f"({report.refunded_bytes} bytes refunded), {report.tombstones} interrupted removal(s), "
        f"{report.temporary} temporary file(s), {report.orphans} orphan(s)"
    )
