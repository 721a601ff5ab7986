"""收訖明細 in GraphQL: the receipt a student answers, and how its stored lines are shown."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from licheng.graphql.relay import Node, to_global_id
from licheng.portfolio import receipts
from licheng.portfolio.models import ReceiptStatus

ReceiptStatusEnum = strawberry.enum(ReceiptStatus, name="ReceiptStatus")


@strawberry.type(description="收訖明細: what the central database received for the student, and his answer.")
class Receipt(Node):
    academic_year: int
    term: int
    status: ReceiptStatusEnum  # type: ignore[valid-type]
    lines: JSON = strawberry.field(
        description="[{itemType, itemId, status, note}], status received | mismatch | missing | unexpected (compared with the frozen items).",
        deprecation_reason="Use receiptLines(receiptId): typed lines with the reference, checksum and zh/en wording.",
    )
    reason: str | None
    recorded_at: datetime
    review_closes_on: str
    responded_at: datetime | None

    @staticmethod
    def of(row) -> Receipt:  # noqa: ANN001 - a models.Receipt with its batch loaded
        return Receipt(
            id=to_global_id("Receipt", row.id), academic_year=row.batch.academic_year, term=row.batch.term,
            status=row.status, lines=[_line(line) for line in row.lines], reason=row.reason, recorded_at=row.recorded_at,  # type: ignore[arg-type]
            review_closes_on=row.review_closes_on.isoformat(), responded_at=row.responded_at,
        )  # fmt: skip


# Submitted item types and the GraphQL types naming them (receipt lines, recordReceipts' item ids).
ITEM_TYPE_NAMES = {"outcome": "CourseOutcome", "performance": "DiversePerformance", "course_record": "CourseRecord",
                   "cadre": "CadreRecord", "enrolment": "EnrolmentRecord"}  # fmt: skip


def _line(stored: dict) -> dict:
    """A receipt line with the item's global ID, as clients name items; lines recorded before the
    item-by-item comparison are read in today's statuses (receipts.normalized)."""
    line = receipts.normalized(stored)
    type_name = ITEM_TYPE_NAMES.get(str(line.get("item_type")))
    item = to_global_id(type_name, int(line["item_id"])) if type_name and line.get("item_id") is not None else None
    return {"itemType": line.get("item_type"), "itemId": item, "status": line.get("status"), "note": line.get("note", "")}
