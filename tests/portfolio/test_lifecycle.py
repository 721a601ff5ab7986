"""The whole life of an outcome and a performance, through the services:
upload, certification, selection, a submission batch, receipts."""

from __future__ import annotations

from licheng.jobs import run_pending
from licheng.portfolio import certification, outcomes, performances, receipts, selection, submission
from licheng.portfolio.models import (
    BatchStatus,
    CourseOutcome,
    DiversePerformance,
    ItemVersion,
    OutcomeStatus,
    PerformanceKind,
    ReceiptComparison,
    ReceiptStatus,
    SubmissionItem,
)
from licheng.tenants.audit import AuditEntry
from tests.portfolio.conftest import IN_SELECTION, IN_SUBMISSION, IN_TERM_1, YEAR


async def test_an_outcome_and_a_performance_go_from_upload_to_a_confirmed_receipt(scene, clock, central):
    student, teacher, staff = await scene.student.actor(), await scene.teacher.actor(), await scene.staff.actor()
    clock.set(IN_TERM_1)
    outcome = await outcomes.create_outcome(
        student, course_record_id=scene.records["math"].id, brief="函數圖形的觀察報告", document_ref=await scene.file(scene.student)
    )
    assert outcome.status == OutcomeStatus.DRAFT
    outcome = await outcomes.send_for_certification(student, outcome.id)
    assert outcome.status == OutcomeStatus.SENT
    performance = await performances.create_performance(
        student, academic_year=YEAR, kind=PerformanceKind.COMPETITION, title="全國科展", brief="物理組佳作",
        details={"competition_name": "全國中小學科學展覽會", "level": "national", "award": "佳作", "announced_on": "2026-11-02"},
        external_url="https://example.org/science-fair",
    )  # fmt: skip

    await certification.open_outcome_file(teacher, outcome.id)
    await certification.certify_outcome(teacher, outcome.id, True, "確為本課程作品")
    assert (await CourseOutcome.get(id=outcome.id)).status == OutcomeStatus.SENT  # not published yet
    published = await certification.publish_certifications(teacher)
    assert [o.id for o in published] == [outcome.id]
    assert (await CourseOutcome.get(id=outcome.id)).status == OutcomeStatus.PASSED

    clock.set(IN_SELECTION)
    chosen = await selection.select_items(student, YEAR, outcome_ids=[outcome.id], performance_ids=[performance.id])
    assert chosen.outcome_ids == [outcome.id] and chosen.performance_ids == [performance.id]

    clock.set(IN_SUBMISSION)
    batch = await submission.create_batch(staff, YEAR, 0)
    assert batch.item_count == 2
    items = await SubmissionItem.filter(batch_id=batch.id).order_by("item_type")
    assert [i.item_type for i in items] == ["outcome", "performance"]
    assert items[0].content["course_code"] == scene.records["math"].course_code
    assert items[0].file_checksums == [f"{50_000:064x}"]
    assert (await CourseOutcome.get(id=outcome.id)).frozen_at is not None
    assert (await DiversePerformance.get(id=performance.id)).frozen_at is not None

    assert (await submission.submit_batch(staff, batch.id)).status == BatchStatus.QUEUED
    await run_pending()  # the delivery is a durable job (submission.deliver)
    batch = await submission.get_batch(staff, batch.id)
    assert batch.status == BatchStatus.SUBMITTED and central.received[0].items[0].content_sha256 == items[0].content_sha256
    recorded = await receipts.collect_receipts(staff, batch.id)
    assert recorded is not None and len(recorded) == 1
    # The fake central side reports no checksums: both items are received, compared by name only.
    assert [(ln["item_id"], ln["status"], ln["verified"]) for ln in recorded[0].lines] == [
        (outcome.id, "received", False), (performance.id, "received", False),
    ]  # fmt: skip
    comparison = await ReceiptComparison.get(batch_id=batch.id)
    assert (comparison.received, comparison.unverified, comparison.missing, comparison.mismatch, comparison.unexpected) == (2, 2, 0, 0, 0)
    receipt = await receipts.confirm_receipt(student, recorded[0].id)
    assert receipt.status == ReceiptStatus.CONFIRMED

    assert await ItemVersion.filter(item_type="outcome", item_id=outcome.id, result="passed").exists()
    actions = await AuditEntry.filter(school_id=scene.school.id, record_type="course_outcome", record_id=str(outcome.id)).values_list("action", flat=True)
    assert {"create_outcome", "send_outcome", "open_outcome_file", "certify_outcome", "publish_certification"} <= set(actions)
