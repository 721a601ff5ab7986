"""Shared scenes for the receipt tests: a delivered term batch, and an adapter that can say which
row checksum it sent (as moe_central does), unlike the plain fake central side."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from licheng.jobs import run_pending
from licheng.portfolio import submission
from licheng.portfolio.models import SubmissionItem
from licheng.portfolio.submission_port import BatchSnapshot, register_adapter, unregister_adapter
from tests.portfolio.conftest import YEAR, FakeCentral
from tests.portfolio.ops import gid

RECORD = """mutation($id: ID!, $lines: [ReceiptLineInput!]!) {
  recordReceipts(batchId: $id, lines: $lines) {
    status receiptComparison { received mismatch missing unexpected unverified unplaced { reference note } }
  }
}"""
MY_RECEIPTS = "{ myReceipts(academicYear: 115) { id status lines } }"
LINES = "query($id: ID!) { receiptLines(receiptId: $id) { itemId reference status verified centralStatus note messageZh messageEn } }"


def row_sha(reference: str) -> str:
    """What RowCentral says it sent for an item: not our content_sha256, as with the real rosters."""
    return hashlib.sha256(f"row|{reference}".encode()).hexdigest()


class RowCentral(FakeCentral):
    """A fake central side whose rows carried a checksum of their own (like moe_central's row_sha256)."""

    name = "row-central"

    async def row_checksums(self, snapshot: BatchSnapshot) -> dict[str, str] | None:
        return {snapshot.reference(item): row_sha(snapshot.reference(item)) for item in snapshot.items}


@pytest.fixture
def row_central() -> Iterator[RowCentral]:
    adapter = RowCentral()
    register_adapter(adapter)
    yield adapter
    unregister_adapter(adapter.name)


async def submitted(scene: Any) -> tuple[Any, Any, dict[str, SubmissionItem]]:
    """A term-1 batch of two students (王小明: math and chinese records, 李小華: one), delivered."""
    staff = await scene.staff.actor()
    other = await scene.add_student("李小華")
    await scene.course_record(other, "09", subject="英文")
    batch = await submission.create_batch(staff, YEAR, 1)
    await submission.submit_batch(staff, batch.id)
    await run_pending()
    items = {i.content["subject_name"]: i for i in await SubmissionItem.filter(batch_id=batch.id)}
    assert set(items) == {"數學", "國語文", "英文"}
    return other, batch, items


def line(student: Any, **fields: Any) -> dict[str, Any]:
    return {"studentId": gid("Person", student.person.id), "status": "received", **fields}
