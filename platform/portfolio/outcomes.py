"""Course outcomes (課程學習成果): a student uploads, revises and sends them for certification.

An outcome belongs to one of the student's course records of a term. Uploading
and sending happen in the term's upload window (the grade-12 term-2 window is
shorter); sending counts against the term's cap and the per-subject cap under
a per-student lock. A failed outcome may be revised (a new version, the old
files kept) and sent again.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import LichengError, NotFound
from licheng.portfolio import clock
from licheng.portfolio.access import ensure_counter, lock_student, require_student
from licheng.portfolio.errors import Immutable, InvalidState, brief_required, brief_too_long, outcome_cap, subject_cap
from licheng.portfolio.files import attach_file
from licheng.portfolio.models import CourseOutcome, CourseRecord, ItemVersion, OutcomeStatus
from licheng.portfolio.policy import Policy, policy_for
from licheng.portfolio.windows import calendar_for
from licheng.tenants import audit
from licheng.tenants.actor import Actor


def check_brief(brief: str | None, policy: Policy) -> str:
    """The 簡述: required, at most ``brief_max_chars`` characters (100 nationally)."""
    text = (brief or "").strip()
    if not text:
        raise brief_required()
    if len(text) > policy.brief_max_chars:
        raise brief_too_long(policy.brief_max_chars, len(text))
    return text


def file_required() -> LichengError:
    return LichengError("FILE_REQUIRED", "請至少上傳一個文件檔或影音檔", "Attach a document or a media file (or both)")


async def upload_window_of(record: CourseRecord, policy: Policy):  # noqa: ANN201 - a Window
    calendar = await calendar_for(record.school_id, record.academic_year)
    return calendar.upload(policy, record.term, record.grade)


async def _own_outcome(actor: Actor, outcome_id: int) -> CourseOutcome:
    school_id, student_id = require_student(actor)
    row = await CourseOutcome.get_or_none(id=outcome_id, school_id=school_id, student_id=student_id)
    if row is None:
        raise NotFound("course outcome", "課程學習成果")
    return row


async def _version(actor: Actor, row: CourseOutcome) -> None:
    await ItemVersion.create(
        school_id=row.school_id, student_id=row.student_id, item_type="outcome", item_id=row.id, number=row.version,
        brief=row.brief, document_id=row.document_id, media_id=row.media_id, created_by_account_id=actor.account_id,
    )  # fmt: skip


async def create_outcome(
    actor: Actor, *, course_record_id: int, brief: str, document_ref: str | None = None, media_ref: str | None = None
) -> CourseOutcome:
    """Upload an outcome for one of the student's own course records of the term (a draft)."""
    school_id, student_id = require_student(actor)
    record = await CourseRecord.get_or_none(id=course_record_id, school_id=school_id, student_id=student_id, superseded_at=None)
    if record is None:
        raise NotFound("course record", "修課紀錄")
    policy = await policy_for(school_id, record.academic_year)
    text = check_brief(brief, policy)
    if not document_ref and not media_ref:
        raise file_required()
    (await upload_window_of(record, policy)).require_open()
    async with in_transaction():
        files: dict[str, Any] = {}
        for category, ref in (("document", document_ref), ("media", media_ref)):
            if ref:
                files[f"{category}_id"] = (
                    await attach_file(actor, student_id=student_id, category=category, upload_ref=ref, academic_year=record.academic_year)
                ).id
        row = await CourseOutcome.create(
            school_id=school_id, student_id=student_id, course_record_id=record.id, academic_year=record.academic_year,
            term=record.term, brief=text, **files,
        )  # fmt: skip
        await _version(actor, row)
        await audit.record(actor, "create_outcome", "course_outcome", row.id, student_id=student_id,
                           changes={"course_record": record.id, "status": "draft"})  # fmt: skip
    return row


async def revise_outcome(
    actor: Actor, outcome_id: int, *, brief: str | None = None, document_ref: str | None = None, media_ref: str | None = None
) -> CourseOutcome:
    """A new version of a draft or of a failed outcome; earlier files stay as earlier versions."""
    row = await _own_outcome(actor, outcome_id)
    if row.frozen_at is not None:
        raise Immutable("course outcome", "課程學習成果", "submitted")
    if row.status not in (OutcomeStatus.DRAFT, OutcomeStatus.FAILED):
        raise InvalidState(row.status.value, "revise an outcome sent or passed", "修改已提交或已通過的成果")
    record = await CourseRecord.get(id=row.course_record_id)
    policy = await policy_for(row.school_id, row.academic_year)
    text = check_brief(brief if brief is not None else row.brief, policy)
    if row.status == OutcomeStatus.FAILED and not (document_ref or media_ref):
        raise file_required()  # a failed outcome is re-uploaded, not just re-worded
    (await upload_window_of(record, policy)).require_open()
    previous = row.status
    async with in_transaction():
        for category, ref in (("document", document_ref), ("media", media_ref)):
            if ref:
                new = await attach_file(actor, student_id=row.student_id, category=category, upload_ref=ref, academic_year=row.academic_year)
                setattr(row, f"{category}_id", new.id)
        row.brief, row.version, row.status = text, row.version + 1, OutcomeStatus.DRAFT
        for name in ("opened_at", "opened_by_id", "decision", "reason", "decided_at", "decided_by_id", "published_at", "sent_at"):
            setattr(row, name, None)  # a new version is certified afresh
        await row.save()
        await _version(actor, row)
        await audit.record(actor, "revise_outcome", "course_outcome", row.id, student_id=row.student_id,
                           changes={"from": previous.value, "to": "draft", "version": row.version})  # fmt: skip
    return row


async def delete_outcome(actor: Actor, outcome_id: int) -> None:
    """A draft never sent may be withdrawn while the upload window is open."""
    row = await _own_outcome(actor, outcome_id)
    if row.frozen_at is not None:
        raise Immutable("course outcome", "課程學習成果", "submitted")
    if row.status != OutcomeStatus.DRAFT or row.first_sent_at is not None:
        raise Immutable("course outcome", "課程學習成果", "sent for certification")
    record = await CourseRecord.get(id=row.course_record_id)
    (await upload_window_of(record, await policy_for(row.school_id, row.academic_year))).require_open()
    await row.delete()
    await audit.record(actor, "delete_outcome", "course_outcome", outcome_id, student_id=row.student_id)


async def send_for_certification(actor: Actor, outcome_id: int) -> CourseOutcome:
    """提交認證: within the upload window and the term's caps (per term, per subject)."""
    row = await _own_outcome(actor, outcome_id)
    if row.status != OutcomeStatus.DRAFT:
        raise InvalidState(row.status.value, "send it again", "重複提交")
    record = await CourseRecord.get(id=row.course_record_id)
    policy = await policy_for(row.school_id, row.academic_year)
    (await upload_window_of(record, policy)).require_open()
    await ensure_counter(row.school_id, row.student_id, row.academic_year)
    async with in_transaction():
        await lock_student(row.student_id, row.academic_year)
        sent = CourseOutcome.filter(
            student_id=row.student_id, academic_year=row.academic_year, term=row.term, first_sent_at__isnull=False
        ).exclude(id=row.id)
        if policy.outcomes_per_term is not None and row.first_sent_at is None:
            count = await sent.count()
            if count >= policy.outcomes_per_term:
                raise outcome_cap(policy.outcomes_per_term, count, row.term)
        if policy.outcomes_per_subject_per_term is not None and row.first_sent_at is None:
            count = await sent.filter(course_record_id=row.course_record_id).count()
            if count >= policy.outcomes_per_subject_per_term:
                raise subject_cap(policy.outcomes_per_subject_per_term, count, record.subject_name)
        now = clock.now()
        updated = await CourseOutcome.filter(id=row.id, status=OutcomeStatus.DRAFT).update(
            status=OutcomeStatus.SENT, sent_at=now, first_sent_at=row.first_sent_at or now
        )
        if updated != 1:
            raise InvalidState("sent", "send it again", "重複提交")
        await audit.record(actor, "send_outcome", "course_outcome", row.id, student_id=row.student_id,
                           changes={"from": "draft", "to": "sent", "version": row.version})  # fmt: skip
    return await CourseOutcome.get(id=row.id)
