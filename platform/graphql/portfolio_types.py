"""GraphQL types of portfolio items, built from rows with plain attributes.

Item fields are plain values filled at conversion (no per-field resolvers), so a
list of 60 outcomes costs what strawberry's default resolvers cost; relations a
list reaches are either loaded with the list (``select_related``) or resolved
through a per-request DataLoader.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from licheng.graphql.context import Info
from licheng.graphql.loaders import by_id, loader
from licheng.graphql.relay import Node
from licheng.graphql.relay import to_global_id
from licheng.graphql.tenants import Person
from licheng.portfolio import models
from licheng.portfolio.windows import Window
from licheng.portfolio import views

OutcomeStatus = strawberry.enum(models.OutcomeStatus, name="OutcomeStatus")
Decision = strawberry.enum(models.Decision, name="CertificationDecision")
PerformanceKind = strawberry.enum(models.PerformanceKind, name="PerformanceKind")
CadreLevel = strawberry.enum(models.CadreLevel, name="CadreLevel")
EnrolmentStatus = strawberry.enum(models.EnrolmentStatus, name="EnrolmentStatus")
FileCategory = strawberry.enum(models.FileCategory, name="FileCategory")


@strawberry.type(name="PortfolioFile", description="A stored file: its SHA-256 and size are kept for integrity checks.")
class PortfolioFile(Node):
    display_filename: str
    category: FileCategory  # type: ignore[valid-type]
    kind: str = strawberry.field(description="pdf, jpeg, png, mp3 or mp4 (detected from the content).")
    size: int
    sha256: str
    uploaded_at: datetime
    download_path: str | None = strawberry.field(description="GET it with the bearer token (storage's /files/{id}); reads are audited.")

    @staticmethod
    def of(row: models.PortfolioFile | None) -> PortfolioFile | None:
        if row is None:
            return None
        return PortfolioFile(
            id=to_global_id("PortfolioFile", row.id), display_filename=row.display_filename, category=row.category,
            kind=row.kind, size=row.size, sha256=row.sha256, uploaded_at=row.created_at,
            download_path=f"/files/{row.stored_blob_id}" if row.stored_blob_id else None,
        )  # fmt: skip


@strawberry.type(name="PortfolioWindow", description="A window (時程): school-local dates, both inclusive.")
class PortfolioWindow:
    name: str = strawberry.field(description="upload, certification, performance, selection, submission, receipt_review")
    name_zh: str
    name_en: str
    academic_year: int
    term: int = strawberry.field(description="0 for yearly windows.")
    opens_on: date
    closes_on: date
    opens_at: datetime
    closes_at: datetime = strawberry.field(description="The first instant after the window.")
    is_open: bool

    @staticmethod
    def of(window: Window) -> PortfolioWindow:
        return PortfolioWindow(
            name=window.name, name_zh=window.name_zh, name_en=window.name_en, academic_year=window.academic_year,
            term=window.term, opens_on=window.opens_on, closes_on=window.closes_on, opens_at=window.opens_at,
            closes_at=window.closes_at, is_open=window.is_open(),
        )  # fmt: skip


@strawberry.type(description="修課紀錄: one subject of a term, registered by the school.")
class CourseRecord(Node):
    pk: strawberry.Private[int]
    teacher_pk: strawberry.Private[int | None]
    academic_year: int
    term: int
    course_code: str = strawberry.field(description="The 23-character course code (課程代碼).")
    subject_name: str
    grade: int
    credits: int
    score: Decimal | None
    passed: bool | None
    frozen: bool
    late_reason: str | None = strawberry.field(description="Set on a correction (補件).")

    @staticmethod
    def of(row: models.CourseRecord) -> CourseRecord:
        return CourseRecord(
            id=to_global_id("CourseRecord", row.id), pk=row.id, teacher_pk=row.teacher_id, academic_year=row.academic_year,
            term=row.term, course_code=row.course_code, subject_name=row.subject_name, grade=row.grade,
            credits=row.credits, score=row.score, passed=row.passed, frozen=row.frozen_at is not None,
            late_reason=row.late_reason,
        )  # fmt: skip

    @strawberry.field(description="The subject teacher (任課教師).")
    async def teacher(self, info: Info) -> Person | None:
        if self.teacher_pk is None:
            return None
        row = await loader(info, "portfolio.person", views.people_by_id(info.context.actor.school_id)).load(self.teacher_pk)
        return Person.of(row) if row else None


@strawberry.type(description="校級/班級/社團幹部 registered by the school: basic data, not among the 10 selected.")
class CadreRecord(Node):
    academic_year: int
    term: int
    level: CadreLevel  # type: ignore[valid-type]
    unit: str
    position: str
    starts_on: date
    ends_on: date | None
    frozen: bool

    @staticmethod
    def of(row: models.CadreRecord) -> CadreRecord:
        return CadreRecord(
            id=to_global_id("CadreRecord", row.id), academic_year=row.academic_year, term=row.term, level=row.level,
            unit=row.unit, position=row.position, starts_on=row.starts_on, ends_on=row.ends_on, frozen=row.frozen_at is not None,
        )  # fmt: skip


@strawberry.type(description="學籍資料 of one term.")
class EnrolmentRecord(Node):
    academic_year: int
    term: int
    grade: int
    class_code: str
    seat: int | None
    department: str | None
    status: EnrolmentStatus  # type: ignore[valid-type]
    frozen: bool

    @staticmethod
    def of(row: models.EnrolmentRecord) -> EnrolmentRecord:
        return EnrolmentRecord(
            id=to_global_id("EnrolmentRecord", row.id), academic_year=row.academic_year, term=row.term, grade=row.grade,
            class_code=row.class_code, seat=row.seat, department=row.department, status=row.status,
            frozen=row.frozen_at is not None,
        )  # fmt: skip


@strawberry.type(description="An earlier or current version of an item, kept forever.")
class ItemVersion:
    number: int
    brief: str
    document_pk: strawberry.Private[int | None]
    media_pk: strawberry.Private[int | None]
    result: str | None = strawberry.field(description="The published certification of this version (outcomes).")
    reason: str | None
    created_at: datetime

    @strawberry.field
    async def document(self, info: Info) -> PortfolioFile | None:
        return await _file(info, self.document_pk)

    @strawberry.field
    async def media(self, info: Info) -> PortfolioFile | None:
        return await _file(info, self.media_pk)


async def _file(info: Info, pk: int | None) -> PortfolioFile | None:
    if pk is None:
        return None
    return PortfolioFile.of(await loader(info, "portfolio.file", by_id(models.PortfolioFile, school_id=info.context.actor.school_id)).load(pk))


async def _versions(info: Info, item_type: str, pk: int) -> list[ItemVersion]:
    async def batch(keys: list[tuple[str, int]]) -> list[list[ItemVersion]]:
        groups: dict[tuple[str, int], list[ItemVersion]] = {key: [] for key in keys}
        rows = await models.ItemVersion.filter(
            school_id=info.context.actor.school_id, item_id__in=[k[1] for k in keys], item_type__in=list({k[0] for k in keys})
        ).order_by("number")
        for row in rows:
            if (row.item_type, row.item_id) in groups:
                groups[(row.item_type, row.item_id)].append(ItemVersion(
                    number=row.number, brief=row.brief, document_pk=row.document_id, media_pk=row.media_id,
                    result=row.result, reason=row.reason, created_at=row.created_at,
                ))  # fmt: skip
        return [groups[key] for key in keys]

    return await loader(info, "portfolio.versions", batch).load((item_type, pk))


@strawberry.type(description="課程學習成果: a student's work for a course, certified by its teacher.")
class CourseOutcome(Node):
    pk: strawberry.Private[int]
    student_pk: strawberry.Private[int]
    academic_year: int
    term: int
    brief: str
    version: int
    status: OutcomeStatus = strawberry.field(description="Students see passed/failed only once the teacher publishes.")  # type: ignore[valid-type]
    result_reason: str | None = strawberry.field(description="The teacher's reason, once published.")
    decision: Decision | None = strawberry.field(description="The teacher's unpublished decision (teachers and staff only).")  # type: ignore[valid-type]
    decision_reason: str | None
    sent_at: datetime | None
    opened_at: datetime | None = strawberry.field(description="When the teacher first opened this version's files.")
    published_at: datetime | None
    selected: bool = strawberry.field(description="Selected (勾選) for the central database.")
    frozen: bool = strawberry.field(description="Taken by a submission batch: immutable.")
    course_record: CourseRecord
    document: PortfolioFile | None
    media: PortfolioFile | None
    created_at: datetime

    @staticmethod
    def of(row: models.CourseOutcome, *, teacher_view: bool = False) -> CourseOutcome:
        published = row.published_at is not None
        return CourseOutcome(
            id=to_global_id("CourseOutcome", row.id), pk=row.id, student_pk=row.student_id,
            academic_year=row.academic_year, term=row.term, brief=row.brief, version=row.version, status=row.status,
            result_reason=row.reason if published else None,
            decision=row.decision if teacher_view else None, decision_reason=row.reason if teacher_view else None,
            sent_at=row.sent_at, opened_at=row.opened_at, published_at=row.published_at,
            selected=row.selected_at is not None, frozen=row.frozen_at is not None,
            course_record=CourseRecord.of(row.course_record), document=PortfolioFile.of(row.document),
            media=PortfolioFile.of(row.media), created_at=row.created_at,
        )  # fmt: skip

    @strawberry.field(description="Every uploaded version, oldest first.")
    async def versions(self, info: Info) -> list[ItemVersion]:
        return await _versions(info, "outcome", self.pk)

    @strawberry.field
    async def student(self, info: Info) -> Person | None:
        row = await loader(info, "portfolio.person", views.people_by_id(info.context.actor.school_id)).load(self.student_pk)
        return Person.of(row) if row else None


@strawberry.type(description="多元表現: entered by the student; details holds the kind's roster fields.")
class DiversePerformance(Node):
    pk: strawberry.Private[int]
    academic_year: int
    kind: PerformanceKind  # type: ignore[valid-type]
    title: str
    brief: str
    details: JSON
    external_url: str | None
    version: int
    selected: bool
    frozen: bool
    late_addition: bool = strawberry.field(description="Added by staff after the window (補件).")
    document: PortfolioFile | None
    media: PortfolioFile | None
    created_at: datetime

    @staticmethod
    def of(row: models.DiversePerformance) -> DiversePerformance:
        return DiversePerformance(
            id=to_global_id("DiversePerformance", row.id), pk=row.id, academic_year=row.academic_year, kind=row.kind,
            title=row.title, brief=row.brief, details=row.details,  # type: ignore[arg-type]
            external_url=row.external_url, version=row.version,
            selected=row.selected_at is not None, frozen=row.frozen_at is not None, late_addition=row.late_addition,
            document=PortfolioFile.of(row.document), media=PortfolioFile.of(row.media), created_at=row.created_at,
        )  # fmt: skip

    @strawberry.field(description="Every uploaded version, oldest first.")
    async def versions(self, info: Info) -> list[ItemVersion]:
        return await _versions(info, "performance", self.pk)
