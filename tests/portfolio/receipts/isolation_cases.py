"""Isolation case for reading a receipt's compared lines (see tests/graphql/test_isolation.py):
school A's intruder names school B's receipt; B's note and item reference never come back."""

from __future__ import annotations

from datetime import date
from typing import Any

from licheng.graphql.relay import to_global_id
from licheng.portfolio import clock
from licheng.portfolio.models import BatchScope, BatchStatus, Receipt, SubmissionBatch
from tests.graphql.isolation import Case, World

NOTE_B = "乙校收訖備註"
REFERENCE_B = "LI" + "b" * 30


async def _receipt_of_b(w: World) -> dict[str, Any]:
    batch = await SubmissionBatch.create(school=w.school_b, academic_year=114, term=0, scope=BatchScope.YEAR,
                                         status=BatchStatus.RECEIPTS, adapter="fake-central")  # fmt: skip
    line = {"item_type": "performance", "item_id": 1, "reference": REFERENCE_B, "status": "mismatch", "central_status": "received",
            "checksum": "c" * 64, "verified": True, "note": NOTE_B, "where": "perf-other row 1"}  # fmt: skip
    receipt = await Receipt.create(school=w.school_b, batch=batch, student_id=w.student_b.person.id, lines=[line],
                                   recorded_at=clock.now(), review_closes_on=date(2099, 1, 1))  # fmt: skip
    return {"id": to_global_id("Receipt", receipt.id)}


CASES = {
    "Query.receiptLines": Case(
        "query($id: ID!) { receiptLines(receiptId: $id) { reference status note messageZh } }", _receipt_of_b,
        secrets=lambda w: [w.school_b.name, w.student_b.person.name, NOTE_B, REFERENCE_B],
    ),
}
