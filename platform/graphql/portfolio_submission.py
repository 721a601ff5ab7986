"""GraphQL for submission batches (提交), receipts (收訖) and the school's policy overrides."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from licheng.errors import InvalidInput
from licheng.graphql.context import Info
from licheng.graphql.loaders import loader
from licheng.graphql.permissions import InSchool
from licheng.graphql.portfolio import PortfolioPolicy, Receipt, ReceiptStatusEnum
from licheng.graphql.relay import Connection, Node, connection, from_global_id, node_resolver, pk_of, to_global_id
from licheng.portfolio import models, receipts, submission
from licheng.portfolio.policy import policy_for, school_overrides, set_school_policy
from licheng.portfolio.submission_port import ReceiptLine

BatchStatus = strawberry.enum(models.BatchStatus, name="SubmissionBatchStatus")
BatchScope = strawberry.enum(models.BatchScope, name="SubmissionBatchScope")
_ITEM_TYPES = {"CourseOutcome": "outcome", "DiversePerformance": "performance", "CourseRecord": "course_record",
               "CadreRecord": "cadre", "EnrolmentRecord": "enrolment"}  # fmt: skip


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
    item_id: strawberry.ID = strawberry.field(description="The global ID of the outcome, performance or record.")
    status: str = strawberry.field(description="received or rejected")
    note: str = ""


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

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: record the central database's receipt list (imported).")
    async def record_receipts(self, info: Info, batch_id: strawberry.ID, lines: list[ReceiptLineInput]) -> SubmissionBatch:
        parsed = []
        for line in lines:
            type_name, item_pk = from_global_id(line.item_id)
            if type_name not in _ITEM_TYPES:
                raise InvalidInput("item_id", "不是可提交的項目", "Not a submitted item")
            parsed.append(ReceiptLine(pk_of(line.student_id, "Person"), _ITEM_TYPES[type_name], item_pk, line.status, line.note))
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
