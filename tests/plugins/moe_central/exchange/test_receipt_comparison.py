"""Receipts compared with the frozen snapshot item by item, against the real simulator: every row of a
format-2 package carries its item reference and checksum, and the simulator echoes what it stored."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from licheng.auth.models import Account
from licheng.graphql.relay import to_global_id
from licheng.portfolio import receipts, submission
from licheng.portfolio.models import BatchStatus, Receipt, ReceiptComparison, SubmissionItem
from licheng.portfolio.submission_port import item_reference
from moe_central.models import CentralDelivery
from tests.plugins.moe_central.exchange.conftest import connect_school, drive, national_id, term_school

LINES = "{ myReceipts(academicYear: 115) { id lines } }"
RECEIPT_LINES = "query($id: ID!) { receiptLines(receiptId: $id) { itemId reference status verified messageZh messageEn } }"


@pytest.fixture
async def bureau(factory, manager, sim, exchange_keys) -> Any:
    bureau = await factory.bureau()
    await connect_school(manager, factory, sim, exchange_keys, bureau)
    return bureau


async def _delivered(factory: Any, sim: Any, keys: Any, settings: Any, bureau: Any, **fault: Any) -> Any:
    """A term school (2 students, an enrolment and 2 course records each) delivered with the fault armed."""
    school = await term_school(factory, sim, keys, settings, bureau)
    if fault:
        sim.fault(fault.pop("kind"), 1, "process", **fault)
    await submission.submit_batch(school.staff, school.batch.id)
    batch = await drive(settings, school.batch.id, (BatchStatus.RECEIPTS, BatchStatus.FAILED))
    assert batch.status == BatchStatus.RECEIPTS, batch.adapter_message
    return school


async def _statuses(school: Any) -> dict[tuple[str, int | None], str]:
    """(item type, item id) -> line status, over every receipt of the batch."""
    rows = await Receipt.filter(batch_id=school.batch.id)
    return {(line["item_type"], line["item_id"]): line["status"] for r in rows for line in r.lines}


async def _counts(school: Any) -> tuple[int, int, int, int, int]:
    row = await ReceiptComparison.get(batch_id=school.batch.id)
    return row.received, row.mismatch, row.missing, row.unexpected, row.unverified


async def _course_records(school: Any) -> list[SubmissionItem]:
    """The grades roster's rows in order: the course records of the snapshot."""
    return await SubmissionItem.filter(batch_id=school.batch.id, item_type="course_record").order_by("id")


async def test_a_clean_submission_gives_every_item_received_and_verified(factory, sim, exchange_keys, settings, bureau, fast_jobs) -> None:
    school = await _delivered(factory, sim, exchange_keys, settings, bureau)
    items = await SubmissionItem.filter(batch_id=school.batch.id)
    assert await _counts(school) == (len(items), 0, 0, 0, 0) == (6, 0, 0, 0, 0)
    rows = await Receipt.filter(batch_id=school.batch.id)
    lines = [line for r in rows for line in r.lines]
    assert {(ln["status"], ln["verified"], ln["central_status"]) for ln in lines} == {("received", True, "received")}
    assert {ln["reference"] for ln in lines} == {item_reference(school.school.code, i.item_type, i.item_id) for i in items}
    for person in school.students:  # the lines name items, never the student's national ID
        assert national_id(person.id) not in str(lines)


async def test_an_altered_row_gives_mismatch_for_exactly_that_item(factory, sim, exchange_keys, settings, bureau, fast_jobs) -> None:
    school = await _delivered(factory, sim, exchange_keys, settings, bureau, kind="alter_row", roster="grades", row=2)
    altered = (await _course_records(school))[1]
    statuses = await _statuses(school)
    assert statuses.pop(("course_record", altered.item_id)) == "mismatch"
    assert set(statuses.values()) == {"received"} and len(statuses) == 5
    assert await _counts(school) == (5, 1, 0, 0, 0)
    receipt = await Receipt.get(batch_id=school.batch.id, student_id=altered.student_id)
    [line] = [ln for ln in await receipts.receipt_lines(school.staff, receipt.id) if ln["status"] == "mismatch"]
    assert receipts.line_wording(line) == ("中央資料庫收到的內容與提交時不同",
                                           "The central database holds content that differs from what was submitted")  # fmt: skip


async def test_a_dropped_row_gives_missing_for_exactly_that_item(factory, sim, exchange_keys, settings, bureau, fast_jobs) -> None:
    school = await _delivered(factory, sim, exchange_keys, settings, bureau, kind="drop_row", roster="grades", row=3)
    dropped = (await _course_records(school))[2]
    statuses = await _statuses(school)
    assert statuses.pop(("course_record", dropped.item_id)) == "missing"
    assert set(statuses.values()) == {"received"}
    assert await _counts(school) == (5, 0, 1, 0, 0)
    [package] = sim.packages(school.school.code)
    assert package["receipt_lines"] == 5  # the central side really holds one row less


async def test_an_extra_line_of_a_student_is_kept_unexpected_in_his_receipt(factory, sim, exchange_keys, settings, bureau, fast_jobs) -> None:
    school = await _delivered(factory, sim, exchange_keys, settings, bureau, kind="extra_row", roster="students", row=1)
    first = school.students[0]
    mine = await Receipt.get(batch_id=school.batch.id, student_id=first.id)
    [extra] = [ln for ln in mine.lines if ln["status"] == "unexpected"]
    assert extra["item_id"] is None and extra["item_type"] == "enrolment" and extra["reference"].startswith("LX")
    assert [ln["status"] for ln in mine.lines].count("received") == school.items_per_student  # his items are all there
    other = await Receipt.get(batch_id=school.batch.id, student_id=school.students[1].id)
    assert {ln["status"] for ln in other.lines} == {"received"}
    assert await _counts(school) == (6, 0, 0, 1, 0)
    assert (await ReceiptComparison.get(batch_id=school.batch.id)).unplaced == []


async def test_a_line_naming_no_student_of_the_batch_is_reported_on_the_batch(factory, sim, exchange_keys, settings, bureau, fast_jobs) -> None:
    school = await _delivered(factory, sim, exchange_keys, settings, bureau, kind="extra_row", roster="grades", student_number="X999")
    comparison = await ReceiptComparison.get(batch_id=school.batch.id)
    [line] = comparison.unplaced
    assert (line["status"], line["item_type"], line["central_status"]) == ("unexpected", "course_record", "received")
    assert "X999" in line["where"] and "grades" in line["where"]
    assert await _counts(school) == (6, 0, 0, 1, 0)
    assert {ln["status"] for r in await Receipt.filter(batch_id=school.batch.id) for ln in r.lines} == {"received"}


async def test_the_student_reads_his_items_worded_and_only_his_receipt(
    factory, sim, exchange_keys, settings, bureau, fast_jobs, gql
) -> None:
    school = await _delivered(factory, sim, exchange_keys, settings, bureau, kind="alter_row", roster="students", row=1)
    first, second = school.students
    mine = await Receipt.get(batch_id=school.batch.id, student_id=first.id)
    theirs = await Receipt.get(batch_id=school.batch.id, student_id=second.id)

    await gql.sign_in_as(SimpleNamespace(account=await Account.get(id=first.account_id)))
    [receipt] = (await gql.ok(LINES))["myReceipts"]
    assert receipt["id"] == to_global_id("Receipt", mine.id)
    assert sorted(line["status"] for line in receipt["lines"]) == ["mismatch", "received", "received"]
    lines = (await gql.ok(RECEIPT_LINES, {"id": receipt["id"]}))["receiptLines"]
    assert [(ln["status"], ln["verified"]) for ln in lines] == [("MISMATCH", True), ("RECEIVED", True), ("RECEIVED", True)]
    assert lines[1]["messageZh"] == "中央資料庫已收到，內容與提交時相同"
    assert lines[1]["messageEn"] == "Received by the central database, identical to what was submitted"
    assert await gql.error_code(RECEIPT_LINES, {"id": to_global_id("Receipt", theirs.id)}) == "NOT_FOUND"


async def test_a_format_1_delivery_still_goes_through_with_its_rows_placed_by_position(
    factory, manager, sim, exchange_keys, settings, fast_jobs
) -> None:
    from licheng.plugins import configs

    bureau = await factory.bureau()
    await connect_school(manager, factory, sim, exchange_keys, bureau)
    admin = await (await factory.bureau_admin(bureau)).actor()
    await configs.update_settings(admin, manager, "moe_central", {"format_version": "licheng-central/1"}, bureau_id=bureau.id)
    school = await _delivered(factory, sim, exchange_keys, settings, bureau, kind="alter_row", roster="grades", row=1)
    assert (await CentralDelivery.get(batch_id=school.batch.id)).format_version == "licheng-central/1"
    altered = (await _course_records(school))[0]
    statuses = await _statuses(school)  # no references: the n-th row of a student is his n-th item there
    assert statuses.pop(("course_record", altered.item_id)) == "mismatch"  # the row's checksum still shows the change
    assert set(statuses.values()) == {"received"}
    assert {ln["reference"] for r in await Receipt.filter(batch_id=school.batch.id) for ln in r.lines} == {
        item_reference(school.school.code, i.item_type, i.item_id) for i in await SubmissionItem.filter(batch_id=school.batch.id)
    }


@pytest.mark.parametrize("body", [{"kind": "alter_row", "endpoint": "upload"}, {"kind": "slow", "endpoint": "process"},
                                  {"kind": "drop_row", "row": 0}, {"kind": "extra_row", "student_number": ""}])  # fmt: skip
async def test_a_row_fault_acts_only_when_a_package_is_processed(tmp_path, exchange_keys, body) -> None:
    import httpx

    from moe_central.simulator import create_app

    app = create_app(tmp_path, private_key_pem=exchange_keys.central_private)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as http:
        answer = await http.post("/_faults", json=body)
        assert (answer.status_code, answer.json()["reason"]["code"]) == (400, "FAULT_INVALID")
        armed = await http.post("/_faults", json={"kind": "drop_row", "roster": "grades", "row": 2})
        assert armed.json()["armed"] == [{"kind": "drop_row", "times": 1, "endpoint": "process", "seconds": 0.0, "roster": "grades", "row": 2}]
