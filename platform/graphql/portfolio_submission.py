"""GraphQL for submission batches (提交), receipts (收訖) and the school's policy overrides."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.loaders import loader
from licheng.graphql.permissions import InSchool
from licheng.graphql.portfolio import PortfolioPolicy
from licheng.graphql.portfolio_receipts import ITEM_TYPE_NAMES, Receipt, ReceiptStatusEnum
from licheng.graphql.relay import Connection, Node, connection, from_global_id, node_resolver, pk_of, to_global_id
from licheng.portfolio import models, receipts, submission
from licheng.portfolio.policy import policy_for, school_overrides, set_school_policy
from licheng.portfolio.submission_port import ReceiptLine

BatchStatus = strawberry.enum(models.BatchStatus, name="SubmissionBatchStatus")
BatchScope = strawberry.enum(models.BatchScope, name="SubmissionBatchScope")
_ITEM_TYPES = {type_name: item_type for item_type, type_name in ITEM_TYPE_NAMES.items()}
RECEIPT_LINES_MAX = 20_000  # a school's yearly list is a few thousand rows: more is a mistake, not a list
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REFERENCE = re.compile(r"^LI[0-9a-f]{30}$")  # submission_port.item_reference


@strawberry.enum(description="What the central database's receipt list says of one submitted item.")
class ReceiptLineStatus(Enum):
    RECEIVED = "received"  # reference and checksum match what was frozen (or no checksum was given: see verified)
    MISMATCH = "mismatch"  # received, but the content it holds differs from what was frozen
    MISSING = "missing"  # no line for the item, or the central side refused it
    UNEXPECTED = "unexpected"  # a line naming no item of the batch (or a second line for one)


@strawberry.type(description="One line of a receipt (收訖明細) compared with the frozen item, worded for the student.")
class ReceiptItemLine:
    item_type: str | None
    item_id: strawberry.ID | None = strawberry.field(description="The item's global ID; null for a line naming no item.")
    reference: str = strawberry.field(description="The item's stable reference, as the rosters and the central side name it.")
    status: ReceiptLineStatus
    verified: bool = strawberry.field(description="The central side's checksum was compared (false: none was given).")
    central_status: str | None = strawberry.field(description="The central side's own word: received or rejected; null when it said nothing.")
    checksum: str = strawberry.field(description="The checksum the central side reported for what it holds.")
    note: str
    where: str = strawberry.field(description="The central side's position of the line (roster and row), when it gave one.")
    message_zh: str
    message_en: str

    @staticmethod
    def of(line: dict[str, Any]) -> ReceiptItemLine:
        type_name = ITEM_TYPE_NAMES.get(str(line.get("item_type")))
        item_id = line.get("item_id")
        zh, en = receipts.line_wording(line)
        return ReceiptItemLine(
            item_type=line.get("item_type") or None, item_id=to_global_id(type_name, int(item_id)) if type_name and item_id is not None else None,
            reference=str(line.get("reference") or ""), status=ReceiptLineStatus(line.get("status", "unexpected")),
            verified=bool(line.get("verified")), central_status=line.get("central_status"), checksum=str(line.get("checksum") or ""),
            note=str(line.get("note") or ""), where=str(line.get("where") or ""), message_zh=zh, message_en=en,
        )  # fmt: skip


@strawberry.type(description="Staff: a batch's receipt list compared with its snapshot, item by item.")
class ReceiptComparison:
    received: int
    mismatch: int
    missing: int
    unexpected: int = strawberry.field(description="Lines naming no item of the batch: in students' receipts and unplaced.")
    unverified: int = strawberry.field(description="Of the received, those the central side gave no checksum for.")
    unplaced: list[ReceiptItemLine] = strawberry.field(description="Unexpected lines naming no student of the batch.")
    compared_at: datetime


@strawberry.type(description="An immutable snapshot sent to the central database (學習歷程中央資料庫).")
class SubmissionBatch(Node):
    pk: strawberry.Private[int]
    academic_year: int
    term: int = strawberry.field(description="0: the yearly roster of selected items.")
    scope: BatchScope  # type: ignore[valid-type]
    status: BatchStatus  # type: ignore[valid-type]
    item_count: int
    content_sha256: str
    adapter: str | None
    external_ref: str | None
    resubmission_of: strawberry.ID | None
    created_at: datetime
    submitted_at: datetime | None
    receipts_recorded_at: datetime | None

    @staticmethod
    def of(row: models.SubmissionBatch) -> SubmissionBatch:
        return SubmissionBatch(
            id=to_global_id("SubmissionBatch", row.id), pk=row.id, academic_year=row.academic_year, term=row.term,
            scope=row.scope, status=row.status, item_count=row.item_count, content_sha256=row.content_sha256,
            adapter=row.adapter, external_ref=row.external_ref,
            resubmission_of=to_global_id("SubmissionBatch", row.resubmission_of_id) if row.resubmission_of_id else None,
            created_at=row.created_at, submitted_at=row.submitted_at, receipts_recorded_at=row.receipts_recorded_at,
            adapter_message=row.adapter_message,
        )  # fmt: skip

    adapter_message: str | None = strawberry.field(
        default=None, description="The adapter's last word: a file id, a retry note, or the central database's refusal reason."
    )

    async def _delivery(self, info: Info) -> submission.DeliveryView:
        actor = info.context.actor

        async def batch(keys: list[int]) -> list[submission.DeliveryView]:
            found = await submission.delivery_views(actor, keys)
            return [found[key] for key in keys]

        view: submission.DeliveryView = await loader(info, "portfolio.batch_delivery", batch).load(self.pk)
        return view

    @strawberry.field(description="Tries of the latest delivery job (submission.deliver); 0 before the batch is queued.")
    async def delivery_attempts(self, info: Info) -> int:
        return (await self._delivery(info)).attempts

    @strawberry.field(description="The last error of the batch's delivery or status jobs (error class and a safe message).")
    async def last_error(self, info: Info) -> str | None:
        return (await self._delivery(info)).last_error

    @strawberry.field(description="Staff: how many items the central database received, holds altered, lacks, or lists unexpectedly; null before receipts.")
    async def receipt_comparison(self, info: Info) -> ReceiptComparison | None:
        actor = info.context.actor

        async def batch(keys: list[int]) -> list[models.ReceiptComparison | None]:
            found = await receipts.receipt_comparisons(actor, keys)
            return [found[key] for key in keys]

        row = await loader(info, "portfolio.batch_receipt_comparison", batch).load(self.pk)
        if row is None:
            return None
        return ReceiptComparison(received=row.received, mismatch=row.mismatch, missing=row.missing, unexpected=row.unexpected,
                                 unverified=row.unverified, unplaced=[ReceiptItemLine.of(line) for line in row.unplaced],
                                 compared_at=row.compared_at)  # fmt: skip

    @strawberry.field(description="Receipts per student; filter by status, e.g. DISPUTED to fix.")
    async def receipts(self, info: Info, status: ReceiptStatusEnum | None = None) -> list[Receipt]:  # type: ignore[valid-type]
        actor = info.context.actor

        async def batch(keys: list[int]) -> list[list[models.Receipt]]:
            found = await receipts.receipts_of_batches(actor, keys)
            return [found[key] for key in keys]

        rows = await loader(info, "portfolio.batch_receipts", batch).load(self.pk)
        return [Receipt.of(r) for r in rows if status is None or r.status == status]


async def _with_batch(rows: list[models.Receipt]) -> list[models.Receipt]:
    if rows:
        batches = {b.id: b for b in await models.SubmissionBatch.filter(id__in={r.batch_id for r in rows})}
        for row in rows:
            row.batch = batches[row.batch_id]
    return rows


@node_resolver("SubmissionBatch")
async def _batch_node(info: Info, pk: int) -> SubmissionBatch:
    return SubmissionBatch.of(await submission.get_batch(info.context.actor, pk))


@strawberry.input
class ReceiptLineInput:
    student_id: strawberry.ID
    item_id: strawberry.ID | None = strawberry.field(default=None, description="The global ID of the outcome, performance or record (or give reference).")
    status: str = strawberry.field(description="received or rejected (either case); anything else is INVALID_INPUT.")
    note: str = strawberry.field(default="", description="The central side's note, at most 200 characters.")
    reference: str | None = strawberry.field(default=None, description="The item's reference as the central side echoed it (LI + 30 hex digits).")
    checksum: str | None = strawberry.field(
        default=None,
        description="The row checksum (row_sha256, 64 hex digits) the central side reports: compared with the row as the adapter sent it. "
        "Refused (RECEIPT_CHECKSUM_UNCHECKABLE) when the batch's adapter cannot say what it sent.",
    )


def _parsed(line: ReceiptLineInput) -> ReceiptLine:
    """A typed-in line, validated rather than cut: a wrong shape is INVALID_INPUT, never stored."""
    status = line.status.strip().lower()
    if status not in ("received", "rejected"):
        raise InvalidInput("status", "狀態須為 received 或 rejected", "status is received or rejected")
    checksum = (line.checksum or "").strip().lower()
    if checksum and not _SHA256.match(checksum):
        raise InvalidInput("checksum", "檢查碼須為 64 位十六進位數字", "checksum is 64 hexadecimal digits")
    reference = (line.reference or "").strip()
    if reference and not _REFERENCE.match(reference):
        raise InvalidInput("reference", "項目參照碼格式錯誤（LI 加 30 位十六進位數字）", "reference is LI and 30 hexadecimal digits")
    if len(line.note) > receipts.NOTE_MAX:
        raise InvalidInput("note", f"備註不可超過 {receipts.NOTE_MAX} 字", f"note is at most {receipts.NOTE_MAX} characters")
    item_type, item_pk = "", None
    if line.item_id is not None:
        type_name, item_pk = from_global_id(line.item_id)
        if type_name not in _ITEM_TYPES:
            raise InvalidInput("item_id", "不是可提交的項目", "Not a submitted item")
        item_type = _ITEM_TYPES[type_name]
    elif not reference:
        raise InvalidInput("item_id", "每一列須指明項目（itemId 或 reference）", "Each line names its item (itemId or reference)")
    return ReceiptLine(pk_of(line.student_id, "Person"), item_type, item_pk, status, line.note, reference=reference, checksum=checksum)


@strawberry.type(description="The school's policy layer from an academic year on.")
class SchoolPolicyOverride:
    from_year: int
    values: JSON
    updated_at: datetime


@strawberry.type
class SubmissionQuery:
    @strawberry.field(permission_classes=[InSchool], description="Staff: the school's submission batches.")
    async def submission_batches(
        self, info: Info, academic_year: int | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[SubmissionBatch]:
        return connection(await submission.list_batches(info.context.actor, academic_year, first=first, after=after), SubmissionBatch.of)

    @strawberry.field(permission_classes=[InSchool], description="學生: his receipts (收訖明細) to confirm or dispute.")
    async def my_receipts(self, info: Info, academic_year: int | None = None) -> list[Receipt]:
        return [Receipt.of(r) for r in await _with_batch(await receipts.my_receipts(info.context.actor, academic_year))]

    @strawberry.field(
        permission_classes=[InSchool],
        description="A receipt's lines compared with the frozen items, with zh/en wording: the student himself, his parents, homeroom teacher, counselors, staff.",
    )
    async def receipt_lines(self, info: Info, receipt_id: strawberry.ID) -> list[ReceiptItemLine]:
        return [ReceiptItemLine.of(line) for line in await receipts.receipt_lines(info.context.actor, pk_of(receipt_id, "Receipt"))]

    @strawberry.field(permission_classes=[InSchool], description="The school's own policy layers (overrides by year).")
    async def school_policy_overrides(self, info: Info) -> list[SchoolPolicyOverride]:
        rows = await school_overrides(info.context.actor)
        return [SchoolPolicyOverride(from_year=r.from_year, values=r.values, updated_at=r.updated_at) for r in rows]


@strawberry.type
class SubmissionMutation:
    @strawberry.mutation(permission_classes=[InSchool], description="Staff: freeze a term's records (term 1/2) or a year's selections (term 0).")
    async def create_submission_batch(self, info: Info, academic_year: int, term: int) -> SubmissionBatch:
        return SubmissionBatch.of(await submission.create_batch(info.context.actor, academic_year, term))

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: queue a frozen (or failed) batch for delivery through the submission adapter (a durable job).")
    async def submit_batch(self, info: Info, id: strawberry.ID, adapter: str | None = None) -> SubmissionBatch:
        return SubmissionBatch.of(await submission.submit_batch(info.context.actor, pk_of(id, "SubmissionBatch"), adapter))

    @strawberry.mutation(
        permission_classes=[InSchool],
        description=f"Staff: record the central database's receipt list (imported; at most {RECEIPT_LINES_MAX} lines). "
        "Replaces the last list while every receipt is pending; RECEIPTS_ALREADY_ANSWERED once a student answered.",
    )
    async def record_receipts(self, info: Info, batch_id: strawberry.ID, lines: list[ReceiptLineInput]) -> SubmissionBatch:
        if len(lines) > RECEIPT_LINES_MAX:
            raise InvalidInput("lines", f"收訖明細至多 {RECEIPT_LINES_MAX} 列", f"A receipt list has at most {RECEIPT_LINES_MAX} lines")
        parsed = [_parsed(line) for line in lines]
        pk = pk_of(batch_id, "SubmissionBatch")
        await receipts.record_receipts(info.context.actor, pk, parsed)
        return SubmissionBatch.of(await submission.get_batch(info.context.actor, pk))

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: ask the adapter for receipts; records them when ready.")
    async def collect_receipts(self, info: Info, batch_id: strawberry.ID) -> SubmissionBatch:
        pk = pk_of(batch_id, "SubmissionBatch")
        await receipts.collect_receipts(info.context.actor, pk)
        return SubmissionBatch.of(await submission.get_batch(info.context.actor, pk))

    @strawberry.mutation(permission_classes=[InSchool], description="學生: 收訖, the receipt is correct (within the review window).")
    async def confirm_receipt(self, info: Info, id: strawberry.ID) -> Receipt:
        row = await receipts.confirm_receipt(info.context.actor, pk_of(id, "Receipt"))
        return Receipt.of((await _with_batch([row]))[0])

    @strawberry.mutation(permission_classes=[InSchool], description="學生: report an error in the receipt, with a reason.")
    async def dispute_receipt(self, info: Info, id: strawberry.ID, reason: str) -> Receipt:
        row = await receipts.dispute_receipt(info.context.actor, pk_of(id, "Receipt"), reason)
        return Receipt.of((await _with_batch([row]))[0])

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: after fixing disputes, a new batch for those students (queued for the same adapter).")
    async def resubmit_batch(self, info: Info, id: strawberry.ID, student_ids: list[strawberry.ID] | None = None) -> SubmissionBatch:
        students = [pk_of(s, "Person") for s in student_ids] if student_ids is not None else None
        return SubmissionBatch.of(await submission.resubmit(info.context.actor, pk_of(id, "SubmissionBatch"), students))

    @strawberry.mutation(
        permission_classes=[InSchool],
        description="Staff: the school's policy layer from an academic year on (only fields schools may change). values: field -> value.",
    )
    async def set_school_policy(self, info: Info, from_year: int, values: JSON) -> PortfolioPolicy:
        if not isinstance(values, dict):
            raise InvalidInput("values", "須為物件", "values must be an object")
        await set_school_policy(info.context.actor, from_year, values)
        return PortfolioPolicy.of(await policy_for(info.context.actor.require_school(), from_year))
