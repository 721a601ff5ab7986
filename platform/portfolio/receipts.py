"""Receipts (收訖明細): the central database's list of what it received, answered by each student.

Staff record the receipt list (imported by hand or collected through the
submission adapter); every student of the batch gets a receipt and, within the
receipt review window (at least 3 days from recording), confirms it (收訖) or
disputes it with a reason. Staff see the disputes, fix them (補件) and resubmit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.portfolio import clock
from licheng.portfolio.access import require_student
from licheng.portfolio.models import BatchStatus, Receipt, ReceiptStatus, SubmissionBatch, SubmissionItem
from licheng.portfolio.policy import policy_for
from licheng.portfolio.submission import adapter_of, get_batch, no_adapter
from licheng.portfolio.submission_port import ReceiptLine, SubmissionTicket
from licheng.portfolio.windows import calendar_for
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Role

REASON_MAX = 300


async def record_receipts(actor: Actor, batch_id: int, lines: Iterable[ReceiptLine]) -> list[Receipt]:
    """Record the receipt list of a submitted batch: one receipt per student of the batch."""
    batch = await get_batch(actor, batch_id)
    if batch.status not in (BatchStatus.SUBMITTED, BatchStatus.RECEIPTS):
        raise LichengError("BATCH_NOT_SUBMITTED", "批次尚未提交，不能登錄收訖明細", "Record receipts of a submitted batch only")
    student_rows: list[Any] = await SubmissionItem.filter(batch_id=batch.id).values_list("student_id", flat=True)
    students = {int(s) for s in student_rows}
    by_student: dict[int, list[dict[str, object]]] = defaultdict(list)
    for line in lines:
        if line.student_id not in students:
            raise InvalidInput("receipts", "收訖明細含有不在此批次的學生", "A receipt line names a student not in this batch")
        by_student[line.student_id].append(
            {"item_type": line.item_type, "item_id": line.item_id, "status": line.status, "note": line.note[:200]}
        )
    now = clock.now()
    policy = await policy_for(batch.school_id, batch.academic_year)
    window = (await calendar_for(batch.school_id, batch.academic_year)).receipt_review(policy, now)
    out: list[Receipt] = []
    async with in_transaction():
        for student_id in sorted(students):
            row = await Receipt.get_or_none(batch_id=batch.id, student_id=student_id)
            if row is not None and row.status != ReceiptStatus.PENDING:
                out.append(row)  # answered receipts are not overwritten
                continue
            values: dict[str, Any] = {"lines": by_student.get(student_id, []), "recorded_at": now, "review_closes_on": window.closes_on}
            if row is None:
                row = await Receipt.create(school_id=batch.school_id, batch_id=batch.id, student_id=student_id, **values)
            else:
                await Receipt.filter(id=row.id).update(**values)
            out.append(row)
        batch.status, batch.receipts_recorded_at = BatchStatus.RECEIPTS, now
        await batch.save(update_fields=["status", "receipts_recorded_at"])
        await audit.record(actor, "record_receipts", "submission_batch", batch.id,
                           changes={"students": len(students), "review_closes_on": str(window.closes_on)})  # fmt: skip
    return out


async def collect_receipts(actor: Actor, batch_id: int) -> list[Receipt] | None:
    """Ask the adapter for the batch's status; record the receipts once it is done (None if not yet)."""
    batch = await get_batch(actor, batch_id)
    adapter = await adapter_of(batch.school_id, batch.adapter)
    if adapter is None or batch.external_ref is None:
        raise no_adapter()
    status = await adapter.poll(SubmissionTicket(batch.external_ref))
    if status.failed:
        await SubmissionBatch.filter(id=batch.id).update(status=BatchStatus.FAILED, adapter_message=status.message[:500])
        raise LichengError("SUBMISSION_FAILED", "中央資料庫退回此批次", "The central database refused this batch", message=status.message)
    if not status.done:
        return None
    return await record_receipts(actor, batch_id, status.receipts)


async def poll_batch(actor: Actor, batch_id: int, *, polls: int, poll_seconds: float, job_id: int, final: bool = False) -> None:
    """The ``submission.poll`` job: ask the adapter for the batch's status by its file id.

    Done: the receipts are recorded (once: a receipt per student, answered ones
    kept). Refused: the batch is failed with the central side's reason. Not yet:
    the next poll is queued, later each time; its idempotency key names this
    job, so a poll that runs twice queues one successor.
    """
    from licheng.jobs import enqueue
    from licheng.portfolio.submission import POLL_CAP, POLL_KIND

    batch = await get_batch(actor, batch_id)
    if batch.status != BatchStatus.SUBMITTED or batch.external_ref is None:
        return  # recorded already, or failed: a duplicate or late poll
    adapter = await adapter_of(batch.school_id, batch.adapter)
    if adapter is None:
        raise no_adapter()
    try:
        status = await adapter.poll(SubmissionTicket(batch.external_ref))
    except Exception as error:
        if final:  # the job is about to be buried: say so on the batch, and how to go on
            from licheng.jobs.queue import describe_error

            note = f"status polling gave up: {describe_error(error)}; collect the receipts by hand (collectReceipts)"
            await SubmissionBatch.filter(id=batch.id, status=BatchStatus.SUBMITTED).update(adapter_message=note[:500])
        raise
    if status.failed:
        message = (status.message or "refused")[:500]
        if await SubmissionBatch.filter(id=batch.id, status=BatchStatus.SUBMITTED).update(status=BatchStatus.FAILED, adapter_message=message):
            await audit.record(actor, "submission_refused", "submission_batch", batch.id, changes={"message": message})
        return
    if status.done:
        await record_receipts(actor, batch_id, status.receipts)
        return
    wait = min(max(poll_seconds, 0.05) * 2 ** min(polls, 12), POLL_CAP)
    if status.message:
        await SubmissionBatch.filter(id=batch.id, status=BatchStatus.SUBMITTED).update(adapter_message=status.message[:500])
    await enqueue(POLL_KIND, {"batch_id": batch.id, "poll_seconds": poll_seconds, "polls": polls + 1},
                  school_id=batch.school_id, delay=timedelta(seconds=wait), idempotency_key=f"batch-{batch.id}:after-{job_id}")  # fmt: skip


async def _own_receipt(actor: Actor, receipt_id: int) -> Receipt:
    school_id, student_id = require_student(actor)
    row = await Receipt.get_or_none(id=receipt_id, school_id=school_id, student_id=student_id)
    if row is None:
        raise NotFound("receipt", "收訖明細")
    return row


async def _answer(actor: Actor, receipt_id: int, status: ReceiptStatus, reason: str | None) -> Receipt:
    row = await _own_receipt(actor, receipt_id)
    if row.status != ReceiptStatus.PENDING:
        raise LichengError("RECEIPT_ALREADY_ANSWERED", "此收訖明細已確認或申訴", "This receipt was already answered", status=row.status.value)
    batch = await SubmissionBatch.get(id=row.batch_id)
    policy = await policy_for(row.school_id, batch.academic_year)
    (await calendar_for(row.school_id, batch.academic_year)).receipt_review(policy, row.recorded_at).require_open()
    now = clock.now()
    done = await Receipt.filter(id=row.id, status=ReceiptStatus.PENDING).update(
        status=status, reason=reason, responded_at=now, responded_by_account_id=actor.account_id
    )
    if done != 1:
        raise LichengError("RECEIPT_ALREADY_ANSWERED", "此收訖明細已確認或申訴", "This receipt was already answered")
    await audit.record(actor, f"{status.value}_receipt", "receipt", row.id, student_id=row.student_id,
                       changes={"to": status.value, "reason": reason})  # fmt: skip
    return await Receipt.get(id=row.id)


async def confirm_receipt(actor: Actor, receipt_id: int) -> Receipt:
    """收訖: the student agrees the central database received his items correctly."""
    return await _answer(actor, receipt_id, ReceiptStatus.CONFIRMED, None)


async def dispute_receipt(actor: Actor, receipt_id: int, reason: str) -> Receipt:
    """The student reports an error, with a reason the staff will read."""
    text = (reason or "").strip()
    if not text:
        raise LichengError("REASON_REQUIRED", "請說明有誤之處", "Say what is wrong")
    if len(text) > REASON_MAX:
        raise InvalidInput("reason", f"說明不可超過 {REASON_MAX} 字", f"The reason is at most {REASON_MAX} characters")
    return await _answer(actor, receipt_id, ReceiptStatus.DISPUTED, text)


async def my_receipts(actor: Actor, academic_year: int | None = None) -> list[Receipt]:
    school_id, student_id = require_student(actor)
    query = Receipt.filter(school_id=school_id, student_id=student_id)
    if academic_year is not None:
        query = query.filter(batch__academic_year=academic_year)
    return await query.order_by("id")


async def batch_receipts(actor: Actor, batch_id: int, status: ReceiptStatus | None = None) -> list[Receipt]:
    """Staff: a batch's receipts, e.g. the disputes to fix."""
    actor.require_role(Role.STAFF)
    batch = await get_batch(actor, batch_id)
    query = Receipt.filter(batch_id=batch.id)
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("student_id")


async def receipts_of_batches(actor: Actor, batch_ids: list[int]) -> dict[int, list[Receipt]]:
    """Staff: receipts of several batches in one query (for lists of batches)."""
    school_id = actor.require_role(Role.STAFF)
    out: dict[int, list[Receipt]] = {batch_id: [] for batch_id in batch_ids}
    for row in await Receipt.filter(school_id=school_id, batch_id__in=batch_ids).select_related("batch").order_by("student_id"):
        out[row.batch_id].append(row)
    return out
