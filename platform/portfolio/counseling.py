"""Course-counseling records (課程諮詢紀錄), written by course counselors (課程諮詢教師).

They stay on the school platform and are never submitted (DOMAIN.md, "The four
categories"), so no window freezes them: the counselor who wrote a record may
correct or remove it, and every change is in the audit trail (which fields
changed, never their text: notes are personal). Earlier files stay stored.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import Forbidden, NotFound
from licheng.portfolio.access import student_in_school
from licheng.portfolio.files import attach_file
from licheng.portfolio.models import CounselingRecord
from licheng.portfolio.records import check_year_term, clean_text
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Role

TOPIC_MAX, NOTES_MAX = 100, 4000


async def write_counseling_record(
    actor: Actor, *, student_id: int, academic_year: int, term: int, held_on: date, topic: str, notes: str,
    file_ref: str | None = None,
) -> CounselingRecord:  # fmt: skip
    """A counselor records a course-counseling session, with an optional file (2 MB by default)."""
    school_id = actor.require_role(Role.COUNSELOR)
    await student_in_school(actor, student_id)
    check_year_term(academic_year, term)
    values: dict[str, Any] = {"topic": clean_text("topic", topic, TOPIC_MAX), "notes": clean_text("notes", notes, NOTES_MAX)}
    async with in_transaction():
        file_id = None
        if file_ref:
            ref = await attach_file(actor, student_id=student_id, category="counseling", upload_ref=file_ref, academic_year=academic_year)
            file_id = ref.id
        row = await CounselingRecord.create(
            school_id=school_id, student_id=student_id, counselor_id=actor.person_id, academic_year=academic_year,
            term=term, held_on=held_on, file_id=file_id, **values,
        )  # fmt: skip
        await audit.record(actor, "write_counseling", "counseling_record", row.id, student_id=student_id)
    return row


async def list_counseling_records(actor: Actor, student_id: int) -> list[CounselingRecord]:
    """Counselors and staff see a student's counseling records; the student sees his own."""
    school_id = actor.require_school()
    student = await student_in_school(actor, student_id)
    if not (actor.has(Role.COUNSELOR, Role.STAFF) or actor.person_id == student.id):
        raise Forbidden("read counseling records", "查看課程諮詢紀錄")
    return await CounselingRecord.filter(school_id=school_id, student_id=student_id).order_by("held_on", "id")


async def _authored(actor: Actor, record_id: int) -> CounselingRecord:
    school_id = actor.require_role(Role.COUNSELOR)
    row = await CounselingRecord.get_or_none(id=record_id, school_id=school_id)
    if row is None:
        raise NotFound("counseling record", "課程諮詢紀錄")
    if row.counselor_id != actor.person_id:
        raise Forbidden("change another counselor's record", "修改其他教師的課程諮詢紀錄")
    return row


async def update_counseling_record(
    actor: Actor, record_id: int, *, held_on: date | None = None, topic: str | None = None, notes: str | None = None,
    file_ref: str | None = None,
) -> CounselingRecord:  # fmt: skip
    """The counselor who wrote the record corrects it; a new file replaces the old one on the record."""
    row = await _authored(actor, record_id)
    changed: list[str] = []
    if held_on is not None and held_on != row.held_on:
        row.held_on = held_on
        changed.append("held_on")
    for name, value, limit in (("topic", topic, TOPIC_MAX), ("notes", notes, NOTES_MAX)):
        if value is not None:
            text = clean_text(name, value, limit)
            if text != getattr(row, name):
                setattr(row, name, text)
                changed.append(name)
    async with in_transaction():
        if file_ref:
            ref = await attach_file(actor, student_id=row.student_id, category="counseling", upload_ref=file_ref, academic_year=row.academic_year)
            row.file_id = ref.id
            changed.append("file")
        if changed:
            await row.save(update_fields=[{"file": "file_id"}.get(name, name) for name in changed])
            await audit.record(actor, "update_counseling", "counseling_record", row.id, student_id=row.student_id,
                               changes={"fields": changed})  # fmt: skip
    return row


async def delete_counseling_record(actor: Actor, record_id: int) -> None:
    """The counselor who wrote the record removes it (its file stays stored, as every version does)."""
    row = await _authored(actor, record_id)
    await row.delete()
    await audit.record(actor, "delete_counseling", "counseling_record", record_id, student_id=row.student_id)
