"""GraphQL for the school-system sync (校務行政系統同步): staff pull their school's roster now.

Thin: the service (``licheng.tenants.sync``) decides who may sync, reads the feed
through the plugin enabled for the school, and applies it in one transaction.
"""

from __future__ import annotations

import strawberry

from licheng.graphql.context import Info
from licheng.graphql.imports import ImportRowError
from licheng.graphql.permissions import InSchool
from licheng.tenants import sync


@strawberry.type(description="What a sync did to one kind of record.")
class SyncCounts:
    created: int
    updated: int
    unchanged: int
    deactivated: int = strawberry.field(description="No longer listed by the school system: deactivated, never deleted.")

    @staticmethod
    def of(counts: sync.Counts) -> SyncCounts:
        return SyncCounts(created=counts.created, updated=counts.updated, unchanged=counts.unchanged, deactivated=counts.deactivated)


@strawberry.type
class SyncReport:
    ok: bool
    dry_run: bool
    changed: bool = strawberry.field(description="False when the school already matched the school system.")
    source: str = strawberry.field(description="The plugin the records came from.")
    rows: int
    classes: SyncCounts
    teachers: SyncCounts
    students: SyncCounts
    errors: list[ImportRowError] = strawberry.field(description="Rows refused; when any, nothing was written.")

    @staticmethod
    def of(report: sync.SyncReport) -> SyncReport:
        return SyncReport(
            ok=report.ok, dry_run=report.dry_run, changed=report.changed, source=report.source, rows=report.rows,
            classes=SyncCounts.of(report.classes), teachers=SyncCounts.of(report.teachers), students=SyncCounts.of(report.students),
            errors=[ImportRowError(row=e.row, column=e.column, code=e.code, message_zh=e.message_zh, message_en=e.message_en) for e in report.errors],
        )  # fmt: skip


@strawberry.type
class SyncMutation:
    @strawberry.mutation(
        permission_classes=[InSchool],
        description="Staff sync classes, teachers and students from the school system of the plugin enabled for "
        "their school (e.g. Taipei's single sign-on). dryRun: report what would change, write nothing.",
    )
    async def sync_school_people(self, info: Info, dry_run: bool = False) -> SyncReport:
        report = await sync.sync_school_people(info.context.settings, info.context.actor, dry_run=dry_run)
        return SyncReport.of(report)
