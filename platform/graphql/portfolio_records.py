"""GraphQL for school-entered records: enrolment, cadre and course records (staff), their CSV
import and corrections (補件), and course-counseling records (課程諮詢教師)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.imports import ImportRowError, decode_file
from licheng.graphql.permissions import InSchool
from licheng.graphql.portfolio_types import CadreLevel, CadreRecord, CourseRecord, EnrolmentRecord, EnrolmentStatus, PortfolioFile
from licheng.graphql.relay import Node, from_global_id, pk_of, to_global_id
from licheng.portfolio import counseling, files, records, records_import
from licheng.portfolio.models import CadreLevel as CadreLevelRow
from licheng.portfolio.models import EnrolmentStatus as EnrolmentStatusRow

RecordImportKind = strawberry.enum(records_import.RecordImportKind, name="RecordImportKind")
_KINDS = {"CourseRecord": "course_record", "CadreRecord": "cadre", "EnrolmentRecord": "enrolment"}
_TYPES = {"course_record": CourseRecord, "cadre": CadreRecord, "enrolment": EnrolmentRecord}


@strawberry.input
class CourseRecordInput:
    student_id: strawberry.ID
    academic_year: int
    term: int
    course_code: str = strawberry.field(description="23 characters (課程代碼).")
    subject_name: str
    grade: int
    credits: int
    score: Decimal | None = None
    passed: bool | None = None
    teacher_id: strawberry.ID | None = None


@strawberry.input
class CadreRecordInput:
    student_id: strawberry.ID
    academic_year: int
    term: int
    level: CadreLevel  # type: ignore[valid-type]
    unit: str
    position: str
    starts_on: date
    ends_on: date | None = None


@strawberry.input
class EnrolmentRecordInput:
    student_id: strawberry.ID
    academic_year: int
    term: int
    grade: int
    class_code: str
    seat: int | None = None
    department: str | None = None
    status: EnrolmentStatus = EnrolmentStatusRow.ENROLLED  # type: ignore[valid-type]


@strawberry.input
class CounselingRecordInput:
    student_id: strawberry.ID
    academic_year: int
    term: int
    held_on: date
    topic: str
    notes: str
    file_upload: strawberry.ID | None = None


@strawberry.input
class UpdateCounselingRecordInput:
    id: strawberry.ID
    held_on: date | None = None
    topic: str | None = None
    notes: str | None = None
    file_upload: strawberry.ID | None = strawberry.field(default=None, description="A new file replaces the old one on the record.")


@strawberry.type(description="課程諮詢紀錄: stays on the school platform, never submitted.")
class CounselingRecord(Node):
    academic_year: int
    term: int
    held_on: date
    topic: str
    notes: str
    file: PortfolioFile | None
    created_at: datetime


@strawberry.type
class RecordImportReport:
    kind: RecordImportKind  # type: ignore[valid-type]
    dry_run: bool
    ok: bool
    encoding: str
    rows: int
    written: int
    errors: list[ImportRowError]


SchoolRecord = Annotated[CourseRecord | CadreRecord | EnrolmentRecord, strawberry.union("SchoolRecord")]


def _kind(global_id: str) -> tuple[str, int]:
    type_name, pk = from_global_id(global_id)
    if type_name not in _KINDS:
        raise InvalidInput("id", "不是學校登錄的紀錄", "Not a school record", expected=sorted(_KINDS))
    return _KINDS[type_name], pk


async def _counseling(row: Any) -> CounselingRecord:
    attached = (await files.file_rows([row.file_id]))[0] if row.file_id else None
    return CounselingRecord(id=to_global_id("CounselingRecord", row.id), academic_year=row.academic_year, term=row.term,
                            held_on=row.held_on, topic=row.topic, notes=row.notes, file=PortfolioFile.of(attached),
                            created_at=row.created_at)  # fmt: skip


@strawberry.type
class RecordQuery:
    @strawberry.field(permission_classes=[InSchool], description="課程諮詢紀錄 of a student: counselors, staff, the student.")
    async def counseling_records(self, info: Info, student_id: strawberry.ID) -> list[CounselingRecord]:
        rows = await counseling.list_counseling_records(info.context.actor, pk_of(student_id, "Person"))
        attached = {f.id: f for f in await files.file_rows([r.file_id for r in rows if r.file_id])}
        return [
            CounselingRecord(id=to_global_id("CounselingRecord", r.id), academic_year=r.academic_year, term=r.term,
                             held_on=r.held_on, topic=r.topic, notes=r.notes,
                             file=PortfolioFile.of(attached.get(r.file_id)) if r.file_id else None, created_at=r.created_at)  # fmt: skip
            for r in rows
        ]


@strawberry.type
class RecordMutation:
    @strawberry.mutation(permission_classes=[InSchool], description="Staff: register or update a course record (修課紀錄).")
    async def save_course_record(self, info: Info, input: CourseRecordInput) -> CourseRecord:
        row = await records.save_course_record(
            info.context.actor, student_id=pk_of(input.student_id, "Person"), academic_year=input.academic_year,
            term=input.term, course_code=input.course_code, subject_name=input.subject_name, grade=input.grade,
            credits=input.credits, score=input.score, passed=input.passed,
            teacher_id=pk_of(input.teacher_id, "Person") if input.teacher_id else None,
        )  # fmt: skip
        return CourseRecord.of(row)

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: register a cadre post (校級/班級/社團幹部).")
    async def save_cadre_record(self, info: Info, input: CadreRecordInput) -> CadreRecord:
        row = await records.save_cadre_record(
            info.context.actor, student_id=pk_of(input.student_id, "Person"), academic_year=input.academic_year,
            term=input.term, level=CadreLevelRow(input.level), unit=input.unit, position=input.position,
            starts_on=input.starts_on, ends_on=input.ends_on,
        )  # fmt: skip
        return CadreRecord.of(row)

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: register enrolment data (學籍資料) for a term.")
    async def save_enrolment_record(self, info: Info, input: EnrolmentRecordInput) -> EnrolmentRecord:
        row = await records.save_enrolment(
            info.context.actor, student_id=pk_of(input.student_id, "Person"), academic_year=input.academic_year,
            term=input.term, grade=input.grade, class_code=input.class_code, seat=input.seat,
            department=input.department, status=EnrolmentStatusRow(input.status),
        )  # fmt: skip
        return EnrolmentRecord.of(row)

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: remove a wrongly entered record not yet submitted.")
    async def delete_school_record(self, info: Info, id: strawberry.ID) -> bool:
        await records.delete_record(info.context.actor, *_kind(id))
        return True

    @strawberry.mutation(
        permission_classes=[InSchool],
        description="Staff: 補件, correct a final record (submitted, or its records window closed). A new record replaces it; the old one is kept. changes: field -> value.",
    )
    async def correct_school_record(self, info: Info, id: strawberry.ID, reason: str, changes: JSON) -> SchoolRecord:
        kind, pk = _kind(id)
        if not isinstance(changes, dict):
            raise InvalidInput("changes", "更正內容須為「欄位: 值」", "changes is an object of field: value")
        values: dict[str, Any] = dict(changes)
        if values.get("teacher_id") is not None:  # the service checks every other value (dates, enums, ranges)
            values["teacher_id"] = pk_of(str(values["teacher_id"]), "Person")
        row = await records.correct_record(info.context.actor, kind, pk, reason, values)
        return _TYPES[kind].of(row)  # type: ignore[attr-defined]

    @strawberry.mutation(
        permission_classes=[InSchool],
        description="Staff: import enrolment, cadre or course records from CSV (UTF-8 or Big5). fileBase64: the file's bytes.",
    )
    async def import_portfolio_records(self, info: Info, kind: RecordImportKind, file_base64: str, dry_run: bool = False) -> RecordImportReport:  # type: ignore[valid-type]
        report = await records_import.import_records(info.context.actor, kind, decode_file(file_base64), dry_run=dry_run)
        return RecordImportReport(
            kind=report.kind, dry_run=report.dry_run, ok=report.ok, encoding=report.encoding, rows=report.rows,
            written=report.written,
            errors=[ImportRowError(row=e.row, column=e.column, code=e.code, message_zh=e.message_zh, message_en=e.message_en) for e in report.errors],
        )  # fmt: skip

    @strawberry.mutation(permission_classes=[InSchool], description="課程諮詢教師: record a counseling session (optional file, 2 MB).")
    async def write_counseling_record(self, info: Info, input: CounselingRecordInput) -> CounselingRecord:
        row = await counseling.write_counseling_record(
            info.context.actor, student_id=pk_of(input.student_id, "Person"), academic_year=input.academic_year,
            term=input.term, held_on=input.held_on, topic=input.topic, notes=input.notes,
            file_ref=str(input.file_upload) if input.file_upload else None,
        )  # fmt: skip
        return await _counseling(row)

    @strawberry.mutation(permission_classes=[InSchool], description="課程諮詢教師: correct his own counseling record (audited).")
    async def update_counseling_record(self, info: Info, input: UpdateCounselingRecordInput) -> CounselingRecord:
        row = await counseling.update_counseling_record(
            info.context.actor, pk_of(input.id, "CounselingRecord"), held_on=input.held_on, topic=input.topic,
            notes=input.notes, file_ref=str(input.file_upload) if input.file_upload else None,
        )  # fmt: skip
        return await _counseling(row)

    @strawberry.mutation(permission_classes=[InSchool], description="課程諮詢教師: remove his own counseling record (audited).")
    async def delete_counseling_record(self, info: Info, id: strawberry.ID) -> bool:
        await counseling.delete_counseling_record(info.context.actor, pk_of(id, "CounselingRecord"))
        return True
