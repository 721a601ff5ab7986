"""Receipts imported by hand (recordReceipts) are compared with the frozen snapshot item by item, as the
adapter's are: received, mismatch, missing, unexpected; the student reads only his own, worded. A typed-in
checksum is the central side's row checksum, judged against the row as the adapter sent it."""

from __future__ import annotations

from datetime import date

from licheng.portfolio import clock
from licheng.portfolio.models import Receipt, ReceiptComparison, SubmissionItem
from licheng.portfolio.submission_port import item_reference
from licheng.tenants.models import School
from tests.portfolio.ops import gid
from tests.portfolio.receipts.scenes import LINES, MY_RECEIPTS, RECORD, line, row_central, row_sha, submitted

__all__ = ["row_central"]  # the fixture, imported for the tests below

COMPARISON = "query($id: ID!) { node(id: $id) { ... on SubmissionBatch { receiptComparison { received } } } }"


async def test_a_hand_imported_list_is_compared_item_by_item(scene, row_central, gql) -> None:
    other, batch, items = await submitted(scene)
    math, chinese = items["數學"], items["國語文"]
    lines = [
        line(scene.student, reference=math.reference, checksum=row_sha(math.reference)),
        line(scene.student, itemId=gid("CourseRecord", chinese.item_id), checksum="0" * 64),  # holds other content
        line(scene.student, reference="LI0000000000000000000000000000ff"),  # names nothing we sent
        line(other, itemId=gid("CourseRecord", math.item_id), checksum=row_sha(math.reference)),  # another student's item
    ]  # 李小華's own record has no line: missing
    await gql.sign_in_as(scene.staff)
    recorded = (await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines}))["recordReceipts"]
    assert recorded["status"] == "RECEIPTS"
    assert recorded["receiptComparison"] == {"received": 1, "mismatch": 1, "missing": 1, "unexpected": 2, "unverified": 0, "unplaced": []}

    await gql.sign_in_as(scene.student)
    [mine] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    seen = (await gql.ok(LINES, {"id": mine["id"]}))["receiptLines"]
    by_item = {ln["itemId"]: ln for ln in seen if ln["itemId"]}
    assert (by_item[gid("CourseRecord", math.item_id)]["status"], by_item[gid("CourseRecord", math.item_id)]["verified"]) == ("RECEIVED", True)
    assert by_item[gid("CourseRecord", chinese.item_id)]["status"] == "MISMATCH"
    assert by_item[gid("CourseRecord", chinese.item_id)]["messageZh"] == "中央資料庫收到的內容與提交時不同"
    [unexpected] = [ln for ln in seen if ln["status"] == "UNEXPECTED"]
    assert unexpected["reference"] == "LI0000000000000000000000000000ff" and unexpected["itemId"] is None
    assert unexpected["messageEn"] == "The central database lists a row that was not in this submission"

    await gql.sign_in_as(other)
    [theirs] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    statuses = sorted(ln["status"] for ln in (await gql.ok(LINES, {"id": theirs["id"]}))["receiptLines"])
    assert statuses == ["MISSING", "UNEXPECTED"]
    assert await gql.error_code(LINES, {"id": mine["id"]}) == "NOT_FOUND"  # a student reads only his receipt
    assert await gql.error_code(COMPARISON, {"id": gid("SubmissionBatch", batch.id)}) == "FORBIDDEN"  # counts are staff's


async def test_our_own_content_digest_typed_in_is_not_what_the_central_side_holds(scene, row_central, gql) -> None:
    """The central side never sees content_sha256: pasting it is no proof, the row checksum is."""
    other, batch, items = await submitted(scene)
    lines = [line(scene.student, reference=items[s].reference, checksum=items[s].content_sha256) for s in ("數學", "國語文")]
    lines.append(line(other, reference=items["英文"].reference, checksum=row_sha(items["英文"].reference)))
    await gql.sign_in_as(scene.staff)
    recorded = (await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines}))["recordReceipts"]
    assert recorded["receiptComparison"] == {"received": 1, "mismatch": 2, "missing": 0, "unexpected": 0, "unverified": 0, "unplaced": []}


async def test_a_checksum_is_refused_when_the_adapter_cannot_say_what_it_sent(scene, central, gql) -> None:
    other, batch, items = await submitted(scene)
    math = items["數學"]
    await gql.sign_in_as(scene.staff)
    lines = [line(scene.student, reference=math.reference, checksum=math.content_sha256)]
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines}) == "RECEIPT_CHECKSUM_UNCHECKABLE"
    assert not await Receipt.filter(batch_id=batch.id).exists()
    assert not await ReceiptComparison.filter(batch_id=batch.id).exists()


async def test_a_line_without_a_checksum_is_received_but_unverified(scene, central, gql) -> None:
    other, batch, items = await submitted(scene)
    lines = [line(scene.student, itemId=gid("CourseRecord", items[s].item_id)) for s in ("數學", "國語文")]
    lines.append(line(other, itemId=gid("CourseRecord", items["英文"].item_id), status="rejected", note="格式錯誤"))
    await gql.sign_in_as(scene.staff)
    recorded = (await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines}))["recordReceipts"]
    assert recorded["receiptComparison"] == {"received": 2, "mismatch": 0, "missing": 1, "unexpected": 0, "unverified": 2, "unplaced": []}
    await gql.sign_in_as(scene.student)
    [mine] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    seen = (await gql.ok(LINES, {"id": mine["id"]}))["receiptLines"]
    assert {(ln["status"], ln["verified"], ln["messageZh"]) for ln in seen} == {("RECEIVED", False, "中央資料庫已收到（未附檢查碼，內容未比對）")}
    await gql.sign_in_as(other)
    [theirs] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    [refused] = (await gql.ok(LINES, {"id": theirs["id"]}))["receiptLines"]
    assert (refused["status"], refused["centralStatus"], refused["messageEn"]) == ("MISSING", "rejected", "The central database refused this item")


async def test_a_line_must_name_its_item_and_a_student_of_the_batch(scene, central, gql) -> None:
    other, batch, items = await submitted(scene)
    stranger = await scene.add_student("局外人")
    await gql.sign_in_as(scene.staff)
    nameless = [line(scene.student, checksum="0" * 64)]
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": nameless}) == "INVALID_INPUT"
    outsider = [line(stranger, itemId=gid("CourseRecord", items["英文"].item_id))]
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": outsider}) == "INVALID_INPUT"


async def test_the_reference_is_the_one_frozen_even_when_the_school_code_changes(scene, central, gql) -> None:
    other, batch, items = await submitted(scene)
    math = items["數學"]
    assert math.reference == item_reference(scene.school.code, "course_record", math.item_id)
    await School.filter(id=scene.school.id).update(code="654321")
    await gql.sign_in_as(scene.staff)
    recorded = (await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": [line(scene.student, reference=math.reference)]}))
    assert recorded["recordReceipts"]["receiptComparison"]["received"] == 1
    assert (await SubmissionItem.get(id=math.id)).reference == math.reference


async def test_a_national_id_in_the_central_note_is_masked_before_it_is_stored(scene, central, gql) -> None:
    other, batch, items = await submitted(scene)
    note = "身分證 A123456789 與學號不符"
    lines = [line(scene.student, reference=items["數學"].reference, note=note), line(other, reference="LI" + "e" * 30, note=note)]
    await gql.sign_in_as(scene.staff)
    await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines})
    stored = [ln["note"] for r in await Receipt.filter(batch_id=batch.id) for ln in r.lines if ln["note"]]
    assert stored == ["身分證 A123456**** 與學號不符"] * 2
    assert "A123456789" not in str(await Receipt.filter(batch_id=batch.id).values_list("lines", flat=True))


async def test_the_deprecated_lines_field_reads_old_lines_in_todays_statuses(scene, gql) -> None:
    """Receipt.lines of a receipt recorded before the item-by-item comparison: 'rejected' reads missing."""
    from licheng.portfolio.models import BatchScope, BatchStatus, SubmissionBatch

    batch = await SubmissionBatch.create(school=scene.school, academic_year=115, term=1, scope=BatchScope.TERM, status=BatchStatus.RECEIPTS)
    old = [{"item_type": "course_record", "item_id": 1, "status": "rejected", "note": "格式錯誤"},
           {"item_type": "course_record", "item_id": 2, "status": "received", "note": ""}]  # fmt: skip
    await Receipt.create(school=scene.school, batch=batch, student_id=scene.student.person.id, lines=old,
                         recorded_at=clock.now(), review_closes_on=date(2099, 1, 1))  # fmt: skip
    await gql.sign_in_as(scene.student)
    [mine] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    assert [ln["status"] for ln in mine["lines"]] == ["missing", "received"]
