"""Submission batches (提交): an immutable snapshot of what the school sends to the central database.

A term batch carries the basic data (enrolment, school-registered cadre
records) and course records of a term; a year batch (term 0) carries each
student's selected outcomes and performances and is created in the submission
window. Creating a batch freezes every item it took (content and file
checksums copied into ``SubmissionItem``): from then on those items refuse
changes, and corrections go through 補件 and a resubmission.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import LichengError, NotFound
from licheng.pagination import Page, paginate
from licheng.portfolio import clock
from licheng.portfolio.files import file_refs
from licheng.portfolio.models import (
    BatchScope,
    BatchStatus,
    CadreRecord,
    CourseOutcome,
    CourseRecord,
    DiversePerformance,
    EnrolmentRecord,
    OutcomeStatus,
    Receipt,
    ReceiptStatus,
    SubmissionBatch,
    SubmissionItem,
)
from licheng.portfolio.policy import policy_for
from licheng.portfolio.records import check_year_term
from licheng.portfolio.submission_port import BatchSnapshot, SnapshotItem, adapter_for
from licheng.portfolio.windows import calendar_for
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Person, Role, School


def digest(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _file(ref: Any) -> dict[str, Any]:
    return {"kind": ref.kind, "size": ref.size, "sha256": ref.sha256, "filename": ref.display_filename}


Items = list[tuple[str, Any, dict[str, Any], list[str]]]  # (item type, row, content, file checksums)


async def _term_items(school_id: int, year: int, term: int, students: list[int] | None) -> Items:
    scope: dict[str, Any] = {"school_id": school_id, "academic_year": year, "term": term, "superseded_at": None}
    if students is not None:
        scope["student_id__in"] = students
    out: Items = []
    row: Any
    for row in await EnrolmentRecord.filter(**scope).order_by("student_id", "id"):
        out.append(("enrolment", row, {"grade": row.grade, "class_code": row.class_code, "seat": row.seat,
                                       "department": row.department, "status": row.status.value}, []))  # fmt: skip
    for row in await CadreRecord.filter(**scope).order_by("student_id", "id"):
        out.append(("cadre", row, {"level": row.level.value, "unit": row.unit, "position": row.position,
                                   "starts_on": str(row.starts_on), "ends_on": str(row.ends_on) if row.ends_on else None}, []))  # fmt: skip
    for row in await CourseRecord.filter(**scope).order_by("student_id", "id"):
        out.append(("course_record", row, {
            "course_code": row.course_code, "subject_name": row.subject_name, "grade": row.grade, "credits": row.credits,
            "score": str(row.score) if row.score is not None else None, "passed": row.passed,
        }, []))  # fmt: skip
    return out


async def _year_items(school_id: int, year: int, students: list[int] | None) -> Items:
    scope: dict[str, Any] = {"school_id": school_id, "academic_year": year, "selected_at__isnull": False}
    if students is not None:
        scope["student_id__in"] = students
    outcomes = await CourseOutcome.filter(**scope, status=OutcomeStatus.PASSED).select_related("course_record").order_by("student_id", "id")
    performances = await DiversePerformance.filter(**scope).order_by("student_id", "id")
    items: list[Any] = [*outcomes, *performances]
    refs = await file_refs([i for item in items for i in (item.document_id, item.media_id) if i])
    out: Items = []
    row: Any
    for row in outcomes:
        files = [refs[i] for i in (row.document_id, row.media_id) if i]
        record = row.course_record
        out.append(("outcome", row, {
            "term": row.term, "course_code": record.course_code, "subject_name": record.subject_name,
            "grade": record.grade, "credits": record.credits, "brief": row.brief, "version": row.version,
            "certified_at": row.published_at.isoformat() if row.published_at else None, "files": [_file(f) for f in files],
        }, [f.sha256 for f in files]))  # fmt: skip
    for row in performances:
        files = [refs[i] for i in (row.document_id, row.media_id) if i]
        out.append(("performance", row, {
            "kind": row.kind.value, "title": row.title, "brief": row.brief, "details": row.details,
            "external_url": row.external_url, "late_addition": row.late_addition, "version": row.version,
            "files": [_file(f) for f in files],
        }, [f.sha256 for f in files]))  # fmt: skip
    return out


_MODELS = {"enrolment": EnrolmentRecord, "cadre": CadreRecord, "course_record": CourseRecord,
           "outcome": CourseOutcome, "performance": DiversePerformance}  # fmt: skip


async def _snapshot(actor: Actor, school_id: int, year: int, term: int, *, students: list[int] | None,
                    resubmission_of: int | None) -> SubmissionBatch:  # fmt: skip
    scope = BatchScope.YEAR if term == 0 else BatchScope.TERM
    items = await (_year_items(school_id, year, students) if term == 0 else _term_items(school_id, year, term, students))
    now = clock.now()
    async with in_transaction():
        batch = await SubmissionBatch.create(
            school_id=school_id, academic_year=year, term=term, scope=scope, resubmission_of_id=resubmission_of,
            student_ids=students, created_by_account_id=actor.account_id,
        )  # fmt: skip
        rows = [
            SubmissionItem(school_id=school_id, batch_id=batch.id, student_id=row.student_id, item_type=kind,
                           item_id=row.id, content={"academic_year": year, **content}, file_checksums=checksums,
                           content_sha256=digest({"academic_year": year, **content, "files": checksums}))  # fmt: skip
            for kind, row, content, checksums in items
        ]
        if rows:
            await SubmissionItem.bulk_create(rows, batch_size=500)
        for kind, model in _MODELS.items():
            ids = [row.id for k, row, _, _ in items if k == kind]
            for start in range(0, len(ids), 500):
                await model.filter(id__in=ids[start : start + 500], frozen_at__isnull=True).update(frozen_at=now)
        batch.item_count = len(rows)
        batch.content_sha256 = digest(sorted(r.content_sha256 for r in rows))
        await batch.save(update_fields=["item_count", "content_sha256"])
        await audit.record(actor, "create_submission_batch", "submission_batch", batch.id,
                           changes={"year": year, "term": term, "items": len(rows), "resubmission_of": resubmission_of})  # fmt: skip
    return batch


async def create_batch(actor: Actor, academic_year: int, term: int) -> SubmissionBatch:
    """Freeze a term's basic data and course records (term 1 or 2), or a year's selections (term 0)."""
    school_id = actor.require_role(Role.STAFF)
    check_year_term(academic_year, term, yearly=True)
    if term == 0:
        policy = await policy_for(school_id, academic_year)
        (await calendar_for(school_id, academic_year)).submission(policy).require_open()
    if await SubmissionBatch.exists(school_id=school_id, academic_year=academic_year, term=term, resubmission_of_id=None):
        raise LichengError(
            "BATCH_EXISTS", "此學年度學期已建立提交批次，更正請以補件後重新提交",
            "A batch for this year and term exists: correct with late additions and resubmit",
        )  # fmt: skip
    return await _snapshot(actor, school_id, academic_year, term, students=None, resubmission_of=None)


async def get_batch(actor: Actor, batch_id: int) -> SubmissionBatch:
    school_id = actor.require_role(Role.STAFF)
    batch = await SubmissionBatch.get_or_none(id=batch_id, school_id=school_id)
    if batch is None:
        raise NotFound("submission batch", "提交批次")
    return batch


async def list_batches(actor: Actor, academic_year: int | None = None, *, first: int | None = None, after: str | None = None) -> Page[SubmissionBatch]:
    school_id = actor.require_role(Role.STAFF)
    query = SubmissionBatch.filter(school_id=school_id)
    if academic_year is not None:
        query = query.filter(academic_year=academic_year)
    return await paginate(query, first=first, after=after)


async def snapshot_of(batch: SubmissionBatch) -> BatchSnapshot:
    """The frozen items as the adapter sees them (from the snapshot rows, never the live ones)."""
    school = await School.get(id=batch.school_id)
    rows = await SubmissionItem.filter(batch_id=batch.id).order_by("id")
    numbers = dict(await Person.filter(id__in=list({r.student_id for r in rows})).values_list("id", "student_number"))
    items = tuple(
        SnapshotItem(r.student_id, numbers.get(r.student_id), r.item_type, r.item_id, r.content, tuple(r.file_checksums), r.content_sha256)
        for r in rows
    )
    return BatchSnapshot(batch.id, school.code, batch.academic_year, batch.term, batch.scope.value, items,
                         batch.content_sha256, batch.resubmission_of_id)  # fmt: skip


def no_adapter() -> LichengError:
    return LichengError("NO_SUBMISSION_ADAPTER", "尚未設定中央資料庫的提交方式", "No submission adapter is configured for this school")


async def submit_batch(actor: Actor, batch_id: int, adapter_name: str | None = None) -> SubmissionBatch:
    """Hand the frozen snapshot to the school's submission adapter (the moe_central plugin)."""
    batch = await get_batch(actor, batch_id)
    if batch.status not in (BatchStatus.FROZEN, BatchStatus.FAILED):
        raise LichengError("BATCH_ALREADY_SUBMITTED", "此批次已提交", "This batch was already submitted", status=batch.status.value)
    adapter = await adapter_for(batch.school_id, adapter_name)
    if adapter is None:
        raise no_adapter()
    try:
        ticket = await adapter.submit(await snapshot_of(batch))
    except LichengError:
        raise
    except Exception as exc:  # noqa: BLE001 - any adapter failure marks the batch, then refuses
        batch.status, batch.adapter, batch.adapter_message = BatchStatus.FAILED, adapter.name, type(exc).__name__
        await batch.save(update_fields=["status", "adapter", "adapter_message"])
        await audit.record(actor, "submit_batch_failed", "submission_batch", batch.id, changes={"adapter": adapter.name})
        raise LichengError("SUBMISSION_FAILED", "提交失敗，請稍後重試", "The submission failed; try again later", adapter=adapter.name) from exc
    batch.status, batch.adapter, batch.external_ref = BatchStatus.SUBMITTED, adapter.name, ticket.external_ref
    batch.adapter_message, batch.submitted_at = ticket.message[:500] or None, clock.now()
    await batch.save(update_fields=["status", "adapter", "external_ref", "adapter_message", "submitted_at"])
    await audit.record(actor, "submit_batch", "submission_batch", batch.id, changes={"adapter": adapter.name, "ref": ticket.external_ref})
    return batch


async def resubmit(actor: Actor, batch_id: int, student_ids: list[int] | None = None) -> SubmissionBatch:
    """After fixing disputes (補件), snapshot again for the disputed students (or those named)."""
    batch = await get_batch(actor, batch_id)
    if student_ids is None:
        disputed: list[Any] = await Receipt.filter(batch_id=batch.id, status=ReceiptStatus.DISPUTED).values_list("student_id", flat=True)
        student_ids = [int(s) for s in disputed]
    if not student_ids:
        raise LichengError("NOTHING_TO_RESUBMIT", "沒有需要重新提交的學生", "No student needs resubmitting")
    known = set(await SubmissionItem.filter(batch_id=batch.id).values_list("student_id", flat=True))
    known |= set(await Receipt.filter(batch_id=batch.id).values_list("student_id", flat=True))
    if set(student_ids) - known:
        raise NotFound("student", "學生")
    new = await _snapshot(actor, batch.school_id, batch.academic_year, batch.term, students=sorted(set(student_ids)), resubmission_of=batch.id)
    await Receipt.filter(batch_id=batch.id, student_id__in=student_ids).update(status=ReceiptStatus.RESUBMITTED)
    return new
