"""Receipts (收訖明細): the central database's list of what it received, answered by each student.

Staff record the receipt list (imported by hand or collected through the
submission adapter). It is compared with the frozen snapshot item by item
(``compare``): each item is received, mismatch (the central side holds other
content) or missing, and a line naming no item is kept as unexpected, never
dropped. Every student of the batch gets a receipt and, within the
receipt review window (at least 3 days from recording), confirms it (收訖) or
disputes it with a reason. Staff see the disputes, fix them (補件) and resubmit.

One list per batch: while every receipt is still pending a new list replaces
the last one whole (lines, counts, review window); once a student has answered
(or staff resubmitted him) a further list is refused (RECEIPTS_ALREADY_ANSWERED),
since mixing two lists would show a student lines nobody compared together.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.portfolio import clock
from licheng.portfolio.access import require_student, viewable_student
from licheng.portfolio.models import BatchStatus, Receipt, ReceiptComparison, ReceiptStatus, SubmissionBatch, SubmissionItem
from licheng.portfolio.policy import policy_for
from licheng.portfolio.submission import adapter_of, get_batch, no_adapter, snapshot_of
from licheng.portfolio.submission_port import ReceiptLine, RowChecksums, SubmissionTicket, item_reference
from licheng.portfolio.windows import calendar_for
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Role, School

REASON_MAX = 300
NOTE_MAX = 200  # a receipt line's note, as stored


LINE_STATUSES = ("received", "mismatch", "missing", "unexpected")

# What the student reads per line (zh-TW, English): the central side's answer about one item.
_WORDING: dict[str, tuple[str, str]] = {
    "received": ("中央資料庫已收到，內容與提交時相同", "Received by the central database, identical to what was submitted"),
    "unverified": ("中央資料庫已收到（未附檢查碼，內容未比對）", "Received by the central database (no checksum given: content not compared)"),
    "mismatch": ("中央資料庫收到的內容與提交時不同", "The central database holds content that differs from what was submitted"),
    "missing": ("中央資料庫未列出此項目", "The central database does not list this item"),
    "refused": ("中央資料庫退回此項目", "The central database refused this item"),
    "unexpected": ("中央資料庫列出一筆不在此次提交中的資料", "The central database lists a row that was not in this submission"),
}  # fmt: skip


# Shaped like a national ID (身分證 / 居留證 number): masked in the central side's notes, which
# parents and teachers read (A123456789 -> A123456****).
_NATIONAL_ID = re.compile(r"(?<![0-9A-Za-z])([A-Z][A-D1289][0-9]{5})[0-9]{3}(?![0-9])")


def masked(note: str) -> str:
    return _NATIONAL_ID.sub(r"\1****", note)


def normalized(line: dict[str, Any]) -> dict[str, Any]:
    """A stored line in today's shape: lines recorded before the item-by-item comparison held only
    the central side's word (received | rejected) and no checksum."""
    if "central_status" in line:
        return line
    said = line.get("status")
    return {**line, "central_status": said, "status": "received" if said == "received" else "missing",
            "verified": False, "reference": "", "checksum": "", "where": ""}  # fmt: skip


def line_wording(line: dict[str, Any]) -> tuple[str, str]:
    """The zh-TW and English sentence for a stored receipt line."""
    status = str(line.get("status"))
    if status == "received" and not line.get("verified"):
        return _WORDING["unverified"]
    if status == "missing" and line.get("central_status") == "rejected":
        return _WORDING["refused"]
    return _WORDING.get(status, _WORDING["unexpected"])


@dataclass(frozen=True)
class _Frozen:
    student_id: int
    item_type: str
    item_id: int
    content_sha256: str
    reference: str


def _unexpected(line: ReceiptLine, why: str = "") -> dict[str, Any]:
    return {"item_type": line.item_type, "item_id": line.item_id, "reference": line.reference[:64], "status": "unexpected",
            "central_status": line.status, "checksum": line.checksum[:64], "verified": False,
            "note": masked(why or line.note)[:NOTE_MAX], "where": masked(line.where)[:100]}  # fmt: skip


def _judged(item: _Frozen, line: ReceiptLine | None, sent: dict[str, str] | None = None) -> dict[str, Any]:
    """One frozen item against the line that names it (if any). A checksum the adapter did not judge
    itself is compared with the row checksum as sent (``sent``, from the adapter), never with our
    own ``content_sha256``: the central side never saw that one."""
    entry: dict[str, Any] = {"item_type": item.item_type, "item_id": item.item_id, "reference": item.reference,
                             "central_status": None, "checksum": "", "verified": False, "note": "", "where": ""}  # fmt: skip
    if line is None:
        return {**entry, "status": "missing"}
    entry.update(central_status=line.status, checksum=line.checksum[:64], note=masked(line.note)[:NOTE_MAX], where=masked(line.where)[:100])
    if line.status != "received":
        return {**entry, "status": "missing"}  # the central side refused the row: it does not hold it
    verdict = line.checksum_ok
    if verdict is None and line.checksum:
        verdict = sent is not None and line.checksum == sent.get(item.reference)
    if verdict is None:
        return {**entry, "status": "received"}
    return {**entry, "status": "received" if verdict else "mismatch", "verified": True}


def compare(items: list[_Frozen], lines: Iterable[ReceiptLine],
            sent: dict[str, str] | None = None) -> tuple[dict[int, list[dict[str, Any]]], list[dict[str, Any]]]:  # fmt: skip
    """The receipt list against the snapshot, item by item: each student's lines, and the unplaced ones.

    A line names its item by reference, else by type and id; the first line
    naming an item judges it, a second one is unexpected (a duplicate). A line
    naming no item of the batch (or another student's) is unexpected, in its
    student's receipt when the student is in the batch, else unplaced.
    """
    by_ref = {item.reference: item for item in items}
    by_key = {(item.item_type, item.item_id): item for item in items}
    taken: dict[str, ReceiptLine] = {}
    extra: dict[int, list[dict[str, Any]]] = defaultdict(list)
    unplaced: list[dict[str, Any]] = []
    students = {item.student_id for item in items}
    for line in lines:
        item = by_ref.get(line.reference) if line.reference else by_key.get((line.item_type, line.item_id or 0))
        if item is not None and line.student_id is not None and line.student_id != item.student_id:
            item = None
        if item is None or item.reference in taken:
            entry = _unexpected(line, "" if item is None else "duplicate line / 重複列出")
            owner = line.student_id if line.student_id is not None else (item.student_id if item is not None else None)
            (extra[owner] if owner in students and owner is not None else unplaced).append(entry)
            continue
        taken[item.reference] = line
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        out[item.student_id].append(_judged(item, taken.get(item.reference), sent))
    for student_id, entries in extra.items():
        out[student_id].extend(entries)
    return out, unplaced


def tally(lines: Iterable[dict[str, Any]]) -> Counter[str]:
    """Lines per status, and ``unverified`` for those received without a checksum."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts[str(line.get("status"))] += 1
        if line.get("status") == "received" and not line.get("verified"):
            counts["unverified"] += 1
    return counts


async def _frozen_items(batch: SubmissionBatch) -> list[_Frozen]:
    """The snapshot's items with the references stored at freeze time (computed only for items frozen
    before references were stored: the school code may have changed since)."""
    rows: list[Any] = await SubmissionItem.filter(batch_id=batch.id).order_by("id").values_list(
        "student_id", "item_type", "item_id", "content_sha256", "reference"
    )
    code = (await School.get(id=batch.school_id)).code if any(not r for *_, r in rows) else ""
    return [_Frozen(int(s), str(t), int(i), str(c), str(r) or item_reference(code, str(t), int(i))) for s, t, i, c, r in rows]


async def _sent_checksums(batch: SubmissionBatch) -> dict[str, str]:
    """Item reference -> row checksum as the batch's adapter sent it, for checksums typed in by hand.
    Refused when the adapter cannot say: comparing with another digest would call every row altered."""
    adapter = await adapter_of(batch.school_id, batch.adapter)
    sent = await adapter.row_checksums(await snapshot_of(batch)) if isinstance(adapter, RowChecksums) else None
    if sent is None:
        raise LichengError(
            "RECEIPT_CHECKSUM_UNCHECKABLE", "此批次的提交方式無法得知各列送出時的檢查碼：手動登錄請勿填寫檢查碼",
            "This batch's adapter cannot tell what checksum each row was sent with: leave checksums out of hand-imported lines",
            adapter=batch.adapter,
        )  # fmt: skip
    return sent


def _already_answered(answered: int) -> LichengError:
    return LichengError(
        "RECEIPTS_ALREADY_ANSWERED", "已有學生確認、申訴或已重新提交，不能再登錄另一份收訖明細",
        "Students have answered (or were resubmitted): another receipt list cannot be recorded", answered=answered,
    )  # fmt: skip


async def record_receipts(actor: Actor, batch_id: int, lines: Iterable[ReceiptLine]) -> list[Receipt]:
    """Record the receipt list of a submitted batch, compared with the snapshot: one receipt per student.

    Every frozen item gets a line (received, mismatch or missing), lines naming
    no item are kept as unexpected; the batch's counts are kept for staff
    (``ReceiptComparison``). A list recorded while every receipt is pending
    replaces the last one whole; after an answer: RECEIPTS_ALREADY_ANSWERED.
    """
    batch = await get_batch(actor, batch_id)
    if batch.status not in (BatchStatus.SUBMITTED, BatchStatus.RECEIPTS):
        raise LichengError("BATCH_NOT_SUBMITTED", "批次尚未提交，不能登錄收訖明細", "Record receipts of a submitted batch only")
    items = await _frozen_items(batch)
    students = {item.student_id for item in items}
    lines = list(lines)
    if any(line.student_id is not None and line.student_id not in students for line in lines):
        raise InvalidInput("receipts", "收訖明細含有不在此批次的學生", "A receipt line names a student not in this batch")
    typed = any(line.checksum and line.checksum_ok is None for line in lines)  # checksums nobody judged yet (hand-imported)
    by_student, unplaced = compare(items, lines, await _sent_checksums(batch) if typed else None)
    now = clock.now()
    policy = await policy_for(batch.school_id, batch.academic_year)
    window = (await calendar_for(batch.school_id, batch.academic_year)).receipt_review(policy, now)
    out: list[Receipt] = []
    async with in_transaction():
        # Two lists at once (a poll and collectReceipts, two imports) queue here on PostgreSQL; SQLite serialises writers.
        await SubmissionBatch.filter(id=batch.id).select_for_update().first()
        rows = {r.student_id: r for r in await Receipt.filter(batch_id=batch.id)}
        answered = sum(1 for r in rows.values() if r.status != ReceiptStatus.PENDING)
        if answered:
            raise _already_answered(answered)
        for student_id in sorted(students):
            values: dict[str, Any] = {"lines": by_student.get(student_id, []), "recorded_at": now, "review_closes_on": window.closes_on}
            row = rows.get(student_id)
            if row is None:
                row = await Receipt.create(school_id=batch.school_id, batch_id=batch.id, student_id=student_id, **values)
            else:
                await Receipt.filter(id=row.id, status=ReceiptStatus.PENDING).update(**values)
                row.update_from_dict(values)
            out.append(row)
        counts = tally([*(line for r in out for line in r.lines), *unplaced])  # all just written in today's shape
        summary: dict[str, Any] = {name: counts[name] for name in (*LINE_STATUSES, "unverified")}
        await ReceiptComparison.filter(batch_id=batch.id).delete()
        await ReceiptComparison.create(school_id=batch.school_id, batch_id=batch.id, unplaced=unplaced, compared_at=now, **summary)
        batch.status, batch.receipts_recorded_at = BatchStatus.RECEIPTS, now
        await batch.save(update_fields=["status", "receipts_recorded_at"])
        await audit.record(actor, "record_receipts", "submission_batch", batch.id,
                           changes={"students": len(students), "review_closes_on": str(window.closes_on), **summary})  # fmt: skip
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

    Done: the receipts are recorded (once: a receipt per student; a batch past
    ``submitted`` is left alone). Refused: the batch is failed with the central side's reason. Not yet:
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


async def receipt_lines(actor: Actor, receipt_id: int) -> list[dict[str, Any]]:
    """A receipt's lines (``line_wording`` words each one): for the student himself and those who
    may read his portfolio (parents, his homeroom teacher, counselors, staff). Anyone else: NotFound."""
    row = await Receipt.get_or_none(id=receipt_id, school_id=actor.require_school())
    if row is None:
        raise NotFound("receipt", "收訖明細")
    await viewable_student(actor, row.student_id)
    return [normalized(line) for line in row.lines]


async def receipt_comparisons(actor: Actor, batch_ids: list[int]) -> dict[int, ReceiptComparison | None]:
    """Staff: the comparison of several batches (counts, unplaced lines) in one query; None before receipts."""
    school_id = actor.require_role(Role.STAFF)
    out: dict[int, ReceiptComparison | None] = {batch_id: None for batch_id in batch_ids}
    for row in await ReceiptComparison.filter(school_id=school_id, batch_id__in=batch_ids):
        out[row.batch_id] = row
    return out
