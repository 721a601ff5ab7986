"""One receipt list per batch: a new list replaces the last one whole while every receipt is pending, and
is refused once a student answered; typed-in lines are validated, never cut; a receipt's lines are read
only by those who may read the student's portfolio."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from licheng.errors import LichengError
from licheng.graphql import portfolio_submission
from licheng.portfolio import receipts
from licheng.portfolio.models import Receipt, ReceiptComparison
from licheng.portfolio.submission_port import ReceiptLine
from licheng.tenants.models import Guardianship, Role
from tests.portfolio.ops import gid
from tests.portfolio.receipts.scenes import LINES, MY_RECEIPTS, RECORD, line, row_central, row_sha, submitted

__all__ = ["row_central"]


def _counts(recorded: dict[str, Any]) -> tuple[int, int, int, int]:
    c = recorded["recordReceipts"]["receiptComparison"]
    return c["received"], c["mismatch"], c["missing"], c["unexpected"]


async def test_a_second_list_replaces_the_first_whole_while_every_receipt_is_pending(scene, row_central, gql) -> None:
    other, batch, items = await submitted(scene)
    math, chinese, english = items["數學"], items["國語文"], items["英文"]
    await gql.sign_in_as(scene.staff)
    first = [line(scene.student, reference=math.reference, checksum="0" * 64), line(other, reference="LI" + "a" * 30)]
    await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": first})
    second = [line(scene.student, reference=i.reference, checksum=row_sha(i.reference)) for i in (math, chinese)]
    second.append(line(other, reference=english.reference, checksum=row_sha(english.reference)))
    recorded = await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": second})
    assert _counts(recorded) == (3, 0, 0, 0)  # nothing of the first list is counted or kept
    lines = [ln for r in await Receipt.filter(batch_id=batch.id) for ln in r.lines]
    assert sorted(ln["status"] for ln in lines) == ["received"] * 3
    assert await ReceiptComparison.filter(batch_id=batch.id).count() == 1


async def test_a_further_list_is_refused_once_a_student_answered(scene, row_central, gql) -> None:
    other, batch, items = await submitted(scene)
    await gql.sign_in_as(scene.staff)
    await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": [line(scene.student, reference=items["數學"].reference)]})
    before = {r.student_id: (r.lines, r.review_closes_on) for r in await Receipt.filter(batch_id=batch.id)}
    comparison = await ReceiptComparison.get(batch_id=batch.id)
    mine = await Receipt.get(batch_id=batch.id, student_id=scene.student.person.id)
    await receipts.confirm_receipt(await scene.student.actor(), mine.id)

    again = [line(other, reference=items["英文"].reference)]
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": again}) == "RECEIPTS_ALREADY_ANSWERED"
    with pytest.raises(LichengError) as refused:
        await receipts.collect_receipts(await scene.staff.actor(), batch.id)
    assert (refused.value.code, refused.value.details["answered"]) == ("RECEIPTS_ALREADY_ANSWERED", 1)
    after = {r.student_id: (r.lines, r.review_closes_on) for r in await Receipt.filter(batch_id=batch.id)}
    assert after == before  # the pending student's lines and window are untouched too
    kept = await ReceiptComparison.get(batch_id=batch.id)
    assert (kept.id, kept.unplaced, kept.missing) == (comparison.id, comparison.unplaced, comparison.missing)


async def test_two_lists_recorded_at_once_leave_one_receipt_per_student(scene, central) -> None:
    other, batch, items = await submitted(scene)
    staff = await scene.staff.actor()
    lists = [[ReceiptLine(scene.student.person.id, "course_record", items[s].item_id, "received") for s in ("數學", "國語文")],
             [ReceiptLine(other.person.id, "course_record", items["英文"].item_id, "received")]]  # fmt: skip
    results = await asyncio.gather(*(receipts.record_receipts(staff, batch.id, lines) for lines in lists), return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert await Receipt.filter(batch_id=batch.id).count() == 2
    assert await ReceiptComparison.filter(batch_id=batch.id).count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "x" * 10_000),
        ("status", "accepted"),
        ("checksum", "0" * 64 + "junk"),
        ("checksum", "z" * 64),
        ("reference", "LI" + "0" * 30 + "junk"),
        ("reference", "item-7"),
        ("note", "備" * 201),
    ],
)
async def test_a_typed_in_line_of_the_wrong_shape_is_refused_not_cut(scene, row_central, gql, field: str, value: str) -> None:
    other, batch, items = await submitted(scene)
    await gql.sign_in_as(scene.staff)
    bad = line(scene.student, **{"reference": items["數學"].reference, field: value})
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": [bad]}) == "INVALID_INPUT"
    assert not await Receipt.filter(batch_id=batch.id).exists()


async def test_the_central_word_is_read_whatever_its_case(scene, central, gql) -> None:
    other, batch, items = await submitted(scene)
    await gql.sign_in_as(scene.staff)
    lines = [line(scene.student, reference=items["數學"].reference, status="Received"),
             line(other, reference=items["英文"].reference, status=" REJECTED ")]  # fmt: skip
    recorded = await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines})
    assert _counts(recorded) == (1, 0, 2, 0)  # 國語文 has no line; 英文 was refused


async def test_a_list_longer_than_the_cap_is_refused(scene, central, gql, monkeypatch) -> None:
    other, batch, items = await submitted(scene)
    monkeypatch.setattr(portfolio_submission, "RECEIPT_LINES_MAX", 2)
    await gql.sign_in_as(scene.staff)
    lines = [line(scene.student, reference=i.reference) for i in items.values()]
    assert await gql.error_code(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": lines}) == "INVALID_INPUT"
    assert not await Receipt.filter(batch_id=batch.id).exists()


async def test_only_those_who_read_the_portfolio_read_a_receipts_lines(scene, central, gql) -> None:
    other, batch, items = await submitted(scene)
    await gql.sign_in_as(scene.staff)
    await gql.ok(RECORD, {"id": gid("SubmissionBatch", batch.id), "lines": [line(scene.student, reference=items["數學"].reference)]})
    await gql.sign_in_as(scene.student)
    [mine] = (await gql.ok(MY_RECEIPTS))["myReceipts"]
    other_parent = await scene.factory.member(scene.school, Role.PARENT, name="李媽媽")
    await Guardianship.create(school=scene.school, parent=other_parent.person, student=other.person)
    other_class = await scene.factory.school_class(scene.school, code="102", grade=10)
    other_homeroom = await scene.factory.member(scene.school, Role.TEACHER, Role.HOMEROOM, homeroom_of=other_class, name="吳導師")
    for outsider in (scene.teacher, other_parent, other_homeroom):  # his subject teacher too: not a portfolio reader
        await gql.sign_in_as(outsider)
        assert await gql.error_code(LINES, {"id": mine["id"]}) == "NOT_FOUND"
    for reader in (scene.parent, scene.homeroom):
        await gql.sign_in_as(reader)
        assert [ln["status"] for ln in (await gql.ok(LINES, {"id": mine["id"]}))["receiptLines"]] == ["RECEIVED", "MISSING"]
