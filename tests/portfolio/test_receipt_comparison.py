"""Receipts imported by hand (recordReceipts) are compared with the frozen snapshot item by item, as the
adapter's are: received, mismatch, missing, unexpected; the student reads only his own, worded."""

from __future__ import annotations

from typing import Any

from licheng.jobs import run_pending
from licheng.portfolio import submission
from licheng.portfolio.models import SubmissionItem
from licheng.portfolio.submission_port import item_reference
from tests.portfolio.conftest import YEAR
from tests.portfolio.ops import gid

RECORD = """mutation($id: ID!, $lines: [ReceiptLineInput!]!) {
  recordReceipts(batchId: $id, lines: $lines) {
    status receiptComparison { received mismatch missing unexpected unverified unplaced { reference } }
  }
}"""
MY_RECEIPTS = "{ myReceipts(academicYear: 115) { id status lines } }"
LINES = "query($id: ID!) { receiptLines(receiptId: $id) { itemId reference status verified centralStatus messageZh messageEn } }"
COMPARISON = "query($id: ID!) { node(id: $id) { ... on SubmissionBatch { receiptComparison { received } } } }"


async def _submitted(scene: Any) -> tuple[Any, Any, dict[str, SubmissionItem]]:
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


def _line(scene: Any, student: Any, **fields: Any) -> dict[str, Any]:
    return {"studentId": gid("Person", student.person.id), "status": "received", **fields}


async def test_a_hand_imported_list_is_compared_item_by_item(scene, central, gql) -> None:
    other, batch, items = await _submitted(scene)
    math, chinese = items["數學"], items["國語文"]
    lines = [
        _line(scene, scene.student, reference=item_reference(scene.school.code, "course_record", math.item_id), checksum=math.content_sha256),
        _line(scene, scene.student, itemId=gid("CourseRecord", chinese.item_id), checksum="0" * 64),  # holds other content
        _line(scene, scene.student, reference="LI0000000000000000000000000000ff"),  # names nothing we sent
        _line(scene, other, itemId=gid("CourseRecord", math.item_id), checksum=math.content_sha256),  # another student's item
    ]  # 李小華's own record has no line: missing
    await gql.sign_in_as(scene.staff)
    recorded = (await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines}))["recordReceipts"]
    assert recorded["status"] == "RECEIPTS"
    assert recorded["receiptComparison"] == {"received": 1, "mismatch": 1, "missing": 1, "unexpected": 2, "unverified": 0, "unplaced": []}

    await gql.sign_in_as(scene.student)
    [mine] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    seen = (await gql.ok(LINES, {"id": mine["id"]}))["receiptLines"]
    by_item = {line["itemId"]: line for line in seen if line["itemId"]}
    assert (by_item[gid("CourseRecord", math.item_id)]["status"], by_item[gid("CourseRecord", math.item_id)]["verified"]) == ("RECEIVED", True)
    assert by_item[gid("CourseRecord", chinese.item_id)]["status"] == "MISMATCH"
    assert by_item[gid("CourseRecord", chinese.item_id)]["messageZh"] == "中央資料庫收到的內容與提交時不同"
    [unexpected] = [line for line in seen if line["status"] == "UNEXPECTED"]
    assert unexpected["reference"] == "LI0000000000000000000000000000ff" and unexpected["itemId"] is None
    assert unexpected["messageEn"] == "The central database lists a row that was not in this submission"

    await gql.sign_in_as(other)
    [theirs] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    statuses = sorted(line["status"] for line in (await gql.ok(LINES, {"id": theirs["id"]}))["receiptLines"])
    assert statuses == ["MISSING", "UNEXPECTED"]
    assert await gql.error_code(LINES, {"id": mine["id"]}) == "NOT_FOUND"  # a student reads only his receipt
    assert await gql.error_code(COMPARISON, {"id": gid("SubmissionBatch", batch.id)}) == "FORBIDDEN"  # counts are staff's


async def test_a_line_without_a_checksum_is_received_but_unverified(scene, central, gql) -> None:
    other, batch, items = await _submitted(scene)
    lines = [_line(scene, scene.student, itemId=gid("CourseRecord", items[s].item_id)) for s in ("數學", "國語文")]
    lines.append(_line(scene, other, itemId=gid("CourseRecord", items["英文"].item_id), status="rejected", note="格式錯誤"))
    await gql.sign_in_as(scene.staff)
    recorded = (await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines}))["recordReceipts"]
    assert recorded["receiptComparison"] == {"received": 2, "mismatch": 0, "missing": 1, "unexpected": 0, "unverified": 2, "unplaced": []}
    await gql.sign_in_as(scene.student)
    [mine] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    seen = (await gql.ok(LINES, {"id": mine["id"]}))["receiptLines"]
    assert {(line["status"], line["verified"], line["messageZh"]) for line in seen} == {
        ("RECEIVED", False, "中央資料庫已收到（未附檢查碼，內容未比對）")
    }
    await gql.sign_in_as(other)
    [theirs] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    [refused] = (await gql.ok(LINES, {"id": theirs["id"]}))["receiptLines"]
    assert (refused["status"], refused["centralStatus"], refused["messageEn"]) == ("MISSING", "rejected", "The central database refused this item")


async def test_a_line_must_name_its_item_and_a_student_of_the_batch(scene, central, gql) -> None:
    other, batch, items = await _submitted(scene)
    stranger = await scene.add_student("局外人")
    await gql.sign_in_as(scene.staff)
    nameless = [_line(scene, scene.student, checksum="0" * 64)]
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": nameless}) == "INVALID_INPUT"
    outsider = [_line(scene, stranger, itemId=gid("CourseRecord", items["英文"].item_id))]
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": outsider}) == "INVALID_INPUT"
