"""GraphQL for importing people from CSV (UTF-8 or Big5), with a dry run and per-row errors."""

from __future__ import annotations

import base64
import binascii

import strawberry

from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.permissions import InSchool
from licheng.tenants import importer

ImportKind = strawberry.enum(importer.ImportKind, name="ImportKind")


@strawberry.type
class ImportRowError:
    row: int = strawberry.field(description="Line number in the file; the header is line 1.")
    column: str
    code: str
    message_zh: str
    message_en: str


@strawberry.type
class ImportCredential:
    login: str
    initial_password: str


@strawberry.type
class ImportReport:
    kind: ImportKind  # type: ignore[valid-type]
    dry_run: bool
    ok: bool
    encoding: str
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: list[ImportRowError]
    credentials: list[ImportCredential] = strawberry.field(
        description="Initial passwords of accounts created now, shown once; empty on a dry run or on errors."
    )

    @staticmethod
    def of(report: importer.ImportReport) -> ImportReport:
        return ImportReport(
            kind=report.kind, dry_run=report.dry_run, ok=report.ok, encoding=report.encoding, rows=report.rows,
            created=report.created, updated=report.updated, unchanged=report.unchanged,
            errors=[ImportRowError(row=e.row, column=e.column, code=e.code, message_zh=e.message_zh, message_en=e.message_en) for e in report.errors],
            credentials=[ImportCredential(login=c.login, initial_password=c.initial_password) for c in report.credentials],
        )  # fmt: skip


MAX_FILE_BASE64 = 20 * 1024 * 1024  # about 15 MB of file


def decode_file(file_base64: str) -> bytes:
    """The bytes of a CSV sent as base64 in a mutation; the size is bounded before decoding."""
    if len(file_base64) > MAX_FILE_BASE64:
        raise InvalidInput("file_base64", "檔案過大（上限 15 MB）", "The file is too large (15 MB at most)")
    try:
        return base64.b64decode(file_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("file_base64", "檔案內容不是有效的 base64", "The file is not valid base64") from None


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        permission_classes=[InSchool],
        description="Staff import classes, students, teachers or parents. fileBase64: the CSV file's bytes, base64.",
    )
    async def import_people(self, info: Info, kind: ImportKind, file_base64: str, dry_run: bool = False) -> ImportReport:  # type: ignore[valid-type]
        report = await importer.import_people(
            info.context.settings, info.context.actor, kind, decode_file(file_base64), dry_run=dry_run
        )
        return ImportReport.of(report)
