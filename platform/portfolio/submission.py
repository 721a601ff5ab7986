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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
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
from licheng.portfolio.submission_port import BatchSnapshot, SnapshotItem, SubmissionAdapter, adapter_for, item_reference
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
    code = (await School.get(id=school_id)).code
    async with in_transaction():
        batch = await SubmissionBatch.create(
            school_id=school_id, academic_year=year, term=term, scope=scope, resubmission_of_id=resubmission_of,
            student_ids=students, created_by_account_id=actor.account_id,
        )  # fmt: skip
        rows = [
            SubmissionItem(school_id=school_id, batch_id=batch.id, student_id=row.student_id, item_type=kind,
                           item_id=row.id, content={"academic_year": year, **content}, file_checksums=checksums,
                           content_sha256=digest({"academic_year": year, **content, "files": checksums}),
                           reference=item_reference(code, kind, row.id))  # fmt: skip
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
        SnapshotItem(r.student_id, numbers.get(r.student_id), r.item_type, r.item_id, r.content, tuple(r.file_checksums),
                     r.content_sha256, r.reference)  # fmt: skip
        for r in rows
    )
    return BatchSnapshot(batch.id, school.code, batch.academic_year, batch.term, batch.scope.value, items,
                         batch.content_sha256, batch.resubmission_of_id, school_id=batch.school_id)  # fmt: skip


def no_adapter() -> LichengError:
    return LichengError("NO_SUBMISSION_ADAPTER", "尚未設定中央資料庫的提交方式", "No submission adapter is configured for this school")


async def adapter_of(school_id: int, name: str | None) -> SubmissionAdapter | None:
    """The adapter a batch went through: registered under its name, or the school's plugin adapter of that name."""
    found = await adapter_for(school_id, name)
    if found is None and name is not None:
        found = await adapter_for(school_id)
        if found is not None and found.name != name:
            return None
    return found


DELIVER_KIND = "submission.deliver"
POLL_KIND = "submission.poll"
POLL_SECONDS = 15.0  # first look at the central side's status after delivery; doubles up to POLL_CAP
POLL_CAP = 600.0


def _already_submitted(status: BatchStatus) -> LichengError:
    return LichengError("BATCH_ALREADY_SUBMITTED", "此批次已提交", "This batch was already submitted", status=status.value)


async def _queue_delivery(actor: Actor, batch: SubmissionBatch, adapter_name: str, poll_seconds: float) -> None:
    """Mark the batch queued and enqueue its delivery, in one transaction (inside the caller's, if any).

    The job's idempotency key is the batch id (and the round: a failed batch may be sent again).
    """
    from licheng.jobs import Job, enqueue

    rounds = await Job.filter(school_id=batch.school_id, kind=DELIVER_KIND,
                              idempotency_key__startswith=f"{batch.school_id}:{DELIVER_KIND}:batch-{batch.id}:").count()  # fmt: skip
    async with in_transaction():
        moved = await SubmissionBatch.filter(id=batch.id, status=batch.status).update(
            status=BatchStatus.QUEUED, adapter=adapter_name, adapter_message=None, external_ref=None
        )
        if not moved:  # another request queued it a moment ago
            raise _already_submitted(BatchStatus.QUEUED)
        await enqueue(DELIVER_KIND, {"batch_id": batch.id, "poll_seconds": poll_seconds},
                      school_id=batch.school_id, idempotency_key=f"batch-{batch.id}:{rounds}")  # fmt: skip
        await audit.record(actor, "submit_batch", "submission_batch", batch.id, changes={"adapter": adapter_name, "queued": True})


async def _delivery_buried(batch: SubmissionBatch) -> bool:
    """A queued batch whose latest delivery job is dead (its worker died in every try): it may be sent again."""
    from licheng.jobs import Job, JobStatus

    if batch.status != BatchStatus.QUEUED:
        return False
    latest = await Job.filter(school_id=batch.school_id, kind=DELIVER_KIND,
                              idempotency_key__startswith=f"{batch.school_id}:{DELIVER_KIND}:batch-{batch.id}:").order_by("-id").first()  # fmt: skip
    return latest is not None and latest.status == JobStatus.DEAD


async def submit_batch(actor: Actor, batch_id: int, adapter_name: str | None = None, *, poll_seconds: float | None = None) -> SubmissionBatch:
    """Queue the frozen snapshot for the school's submission adapter (the moe_central plugin).

    The delivery runs as a durable job (``submission.deliver``), so a crash or a
    timeout never loses it; the batch shows ``queued``, then ``submitted``,
    ``receipts`` or ``failed`` with the adapter's message.
    """
    batch = await get_batch(actor, batch_id)
    if batch.status not in (BatchStatus.FROZEN, BatchStatus.FAILED) and not await _delivery_buried(batch):
        raise _already_submitted(batch.status)
    adapter = await adapter_for(batch.school_id, adapter_name)
    if adapter is None:
        raise no_adapter()
    wait = POLL_SECONDS if poll_seconds is None else poll_seconds
    if not 0 <= wait <= POLL_CAP:
        raise InvalidInput("poll_seconds", f"查詢間隔須介於 0 到 {POLL_CAP:.0f} 秒", f"poll_seconds must be between 0 and {POLL_CAP:.0f}")
    await _queue_delivery(actor, batch, adapter.name, wait)
    return await get_batch(actor, batch_id)


async def _set_failed(actor: Actor, batch: SubmissionBatch, message: str, *, from_status: BatchStatus) -> None:
    await SubmissionBatch.filter(id=batch.id, status=from_status).update(status=BatchStatus.FAILED, adapter_message=message[:500])
    await audit.record(actor, "submit_batch_failed", "submission_batch", batch.id, changes={"adapter": batch.adapter, "message": message[:500]})


async def deliver_batch(actor: Actor, batch_id: int, *, attempt: int, final: bool, poll_seconds: float = POLL_SECONDS) -> None:
    """The ``submission.deliver`` job: hand the snapshot to the adapter, then queue the status polls.

    Idempotent: a batch no longer ``queued`` (a duplicate job, a run after a
    crash that had finished) is left alone, and the adapter itself resumes a
    half-done delivery. An adapter's refusal (``LichengError``) fails the batch
    with its reason; any other error is retried with backoff, and fails the
    batch only when the last attempt is spent.
    """
    from licheng.jobs import enqueue
    from licheng.jobs.queue import describe_error

    batch = await get_batch(actor, batch_id)
    if batch.status != BatchStatus.QUEUED:
        return
    adapter = await adapter_of(batch.school_id, batch.adapter)
    if adapter is None:
        await _set_failed(actor, batch, f"{no_adapter().code}: {no_adapter().message_en}", from_status=BatchStatus.QUEUED)
        return
    try:
        ticket = await adapter.submit(await snapshot_of(batch))
    except LichengError as refusal:
        await _set_failed(actor, batch, f"{refusal.code}: {refusal.message_zh} / {refusal.message_en}", from_status=BatchStatus.QUEUED)
        return
    except Exception as error:
        problem = describe_error(error)
        if final:
            await _set_failed(actor, batch, f"delivery gave up after {attempt} attempts: {problem}", from_status=BatchStatus.QUEUED)
        else:
            await SubmissionBatch.filter(id=batch.id, status=BatchStatus.QUEUED).update(
                adapter_message=f"attempt {attempt} failed, retrying: {problem}"[:500]
            )
        raise
    async with in_transaction():
        moved = await SubmissionBatch.filter(id=batch.id, status=BatchStatus.QUEUED).update(
            status=BatchStatus.SUBMITTED, external_ref=ticket.external_ref[:200],
            adapter_message=ticket.message[:500] or None, submitted_at=clock.now(),
        )  # fmt: skip
        if moved:
            await enqueue(POLL_KIND, {"batch_id": batch.id, "poll_seconds": poll_seconds, "polls": 0},
                          school_id=batch.school_id, delay=timedelta(seconds=poll_seconds),
                          idempotency_key=f"batch-{batch.id}:{ticket.external_ref[:100]}:0")  # fmt: skip
            await audit.record(actor, "batch_delivered", "submission_batch", batch.id, changes={"adapter": adapter.name, "ref": ticket.external_ref})


@dataclass(frozen=True)
class DeliveryView:
    """How a batch's delivery is going, from its jobs: tries of the latest delivery, the last error seen."""

    attempts: int = 0
    last_error: str | None = None
    job_status: str | None = None


async def delivery_views(actor: Actor, batch_ids: list[int]) -> dict[int, DeliveryView]:
    """Staff: the delivery state of several batches in one query (their deliver and poll jobs)."""
    from tortoise.expressions import Q

    from licheng.jobs import Job

    school_id = actor.require_role(Role.STAFF)
    out = {batch_id: DeliveryView() for batch_id in batch_ids}
    if not batch_ids:
        return out
    prefixes = {f"{school_id}:{kind}:batch-{batch_id}:": batch_id for batch_id in batch_ids for kind in (DELIVER_KIND, POLL_KIND)}
    condition = Q(*(Q(idempotency_key__startswith=prefix) for prefix in prefixes), join_type=Q.OR)
    jobs = await Job.filter(condition, school_id=school_id, kind__in=[DELIVER_KIND, POLL_KIND]).order_by("id")
    for job in jobs:
        key = job.idempotency_key or ""
        batch_id = next(b for prefix, b in prefixes.items() if key.startswith(prefix))
        seen = out[batch_id]
        attempts = job.attempts if job.kind == DELIVER_KIND else seen.attempts
        out[batch_id] = DeliveryView(attempts, job.last_error or seen.last_error, job.status.value if job.kind == DELIVER_KIND else seen.job_status)
    return out


async def resubmit(actor: Actor, batch_id: int, student_ids: list[int] | None = None, *, poll_seconds: float | None = None) -> SubmissionBatch:
    """After fixing disputes (補件), snapshot again for the disputed students (or those named).

    When the batch went through an adapter, the correction is queued for the same adapter at once.
    """
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
    if batch.adapter is not None and await adapter_of(batch.school_id, batch.adapter) is not None:
        # The correction goes the way the batch went: the same adapter, through the same durable job.
        await _queue_delivery(actor, new, batch.adapter, POLL_SECONDS if poll_seconds is None else poll_seconds)
        return await get_batch(actor, new.id)
    return new
