"""One test per rule of DOMAIN.md's "Calendar and windows" (lines 60-79), each citing its line and source
(and the records window, from "The four categories", lines 33-34)."""

from __future__ import annotations

from datetime import date

import pytest

from licheng.errors import LichengError
from licheng.jobs import run_pending
from licheng.portfolio import certification, clock as portfolio_clock, counseling, outcomes, performances, receipts, records, submission
from licheng.portfolio.models import CadreLevel, CourseOutcome, CourseRecord, ItemVersion, LateAddition, PerformanceKind, SubmissionItem
from licheng.portfolio.policy import set_school_policy
from tests.portfolio.conftest import IN_SUBMISSION, IN_TERM_1, YEAR, at


async def _code(work) -> LichengError:  # noqa: ANN001
    with pytest.raises(LichengError) as caught:
        await work
    return caught.value


async def _draft(scene, record=None) -> CourseOutcome:  # noqa: ANN001
    student = await scene.student.actor()
    return await outcomes.create_outcome(student, course_record_id=(record or scene.records["math"]).id, brief="作品",
                                         document_ref=await scene.file(scene.student))  # fmt: skip


async def test_academic_year_115_runs_from_august_2026_to_july_2027_with_a_yearly_term_0(scene, clock, central):
    """DOMAIN.md l.61-62: 學年度 115 = August 2026 to July 2027; terms 1 and 2; the yearly roster is term 0 [pub]."""
    assert portfolio_clock.academic_year_of(date(2026, 8, 1)) == 115
    assert portfolio_clock.academic_year_of(date(2027, 7, 31)) == 115
    assert portfolio_clock.academic_year_of(date(2026, 7, 31)) == 114
    clock.set(IN_SUBMISSION)
    batch = await submission.create_batch(await scene.staff.actor(), YEAR, 0)
    assert (batch.term, batch.scope.value) == (0, "year")


async def test_outcomes_are_uploaded_from_the_term_start_until_two_weeks_after_the_ceremony(scene, clock):
    """DOMAIN.md l.63-66: upload and sending from the term's start until 2 weeks after 休業式 [seed, pub]."""
    clock.set(at(2026, 8, 30, 23))
    error = await _code(_draft(scene))
    assert error.code == "WINDOW_CLOSED"
    assert error.details == {
        "window": "upload", "window_zh": "課程學習成果上傳及提交認證", "window_en": "course-outcome upload and certification request",
        "opens_on": "2026-08-31", "closes_on": "2027-02-03", "academic_year": 115, "term": 1,
    }  # fmt: skip
    clock.set(at(2027, 2, 3, 23))  # the last evening (休業式 2027-01-20 + 14 days)
    row = await _draft(scene)
    clock.set(at(2027, 2, 4, 0))
    assert (await _code(outcomes.send_for_certification(await scene.student.actor(), row.id))).code == "WINDOW_CLOSED"


async def test_grade_12_uploads_end_at_the_ceremony_in_term_2(scene, clock):
    """DOMAIN.md l.65-66: nationally at least until 2 weeks after 休業式, except grade 12 term 2 [seed, pub]."""
    senior = await scene.course_record(scene.student, "12", term=2, subject="物理", grade=12)
    junior = scene.records["math2"]
    clock.set(at(2027, 7, 1))  # the day after the ceremony of 2027-06-30
    assert (await _code(_draft(scene, senior))).details["closes_on"] == "2027-06-30"
    assert (await _draft(scene, junior)).term == 2  # grade 10 still has two weeks


async def test_teachers_certify_until_seven_days_after_the_student_deadline(scene, clock):
    """DOMAIN.md l.67-68: teacher certification until 3 to 7 days after the student deadline [seed, pub]."""
    row = await _draft(scene)
    await outcomes.send_for_certification(await scene.student.actor(), row.id)
    teacher = await scene.teacher.actor()
    clock.set(at(2027, 2, 10, 23))  # upload closed 02-03; 7 days later is the last day
    await certification.open_outcome_file(teacher, row.id)
    clock.set(at(2027, 2, 11, 0))
    error = await _code(certification.certify_outcome(teacher, row.id, True))
    assert (error.code, error.details["window"], error.details["closes_on"]) == ("WINDOW_CLOSED", "certification", "2027-02-10")


async def test_performances_are_uploaded_all_year_until_31_july(scene, clock):
    """DOMAIN.md l.69: performances uploaded all year; yearly deadline (one Taipei school: 31 July) [seed]."""
    student = await scene.student.actor()
    common = {"academic_year": YEAR, "kind": PerformanceKind.OTHER, "title": "表現", "brief": "表現", "details": {"starts_on": "2027-07-01"}}
    clock.set(at(2027, 7, 31, 23))
    await performances.create_performance(student, **common)
    clock.set(at(2027, 8, 1, 0))
    error = await _code(performances.create_performance(student, **common))
    assert (error.code, error.details["window"], error.details["closes_on"]) == ("WINDOW_CLOSED", "performance", "2027-07-31")


async def test_selection_opens_in_september_of_the_next_year_and_submission_is_in_october(scene, clock):
    """DOMAIN.md l.70-71: selection opens in September of the next academic year; submission and
    receipt confirmation in October [seed]."""
    from licheng.portfolio import selection

    student, staff = await scene.student.actor(), await scene.staff.actor()
    clock.set(at(2027, 8, 31, 23))
    assert (await _code(selection.select_items(student, YEAR))).details["opens_on"] == "2027-09-01"
    clock.set(at(2027, 9, 1, 0))
    await selection.select_items(student, YEAR)
    assert (await _code(submission.create_batch(staff, YEAR, 0))).details["window"] == "submission"
    clock.set(at(2027, 10, 31, 23))
    assert (await submission.create_batch(staff, YEAR, 0)).term == 0


async def test_schools_spread_their_deadlines_between_30_september_and_31_october(scene, clock):
    """DOMAIN.md l.72-73: schools were told to spread deadlines over 30 Sept to 31 Oct [pub]:
    the dates are school policy settings."""
    staff = await scene.staff.actor()
    await set_school_policy(staff, YEAR, {"submission_opens": "10-10", "submission_closes": "10-20"})
    clock.set(at(2027, 10, 5))
    assert (await _code(submission.create_batch(staff, YEAR, 0))).details["opens_on"] == "2027-10-10"
    error = await _code(set_school_policy(staff, YEAR, {"submission_opens": "10-20", "submission_closes": "10-10"}))
    assert error.code == "INVALID_INPUT"


async def test_students_review_receipts_in_a_window_of_at_least_three_days(scene, clock, central):
    """DOMAIN.md l.74-76: each student marks the receipt correct or reports an error within a window
    of at least 3 days; the school fixes and resubmits [pub]."""
    staff, student = await scene.staff.actor(), await scene.student.actor()
    assert (await _code(set_school_policy(staff, YEAR, {"receipt_review_days": 2}))).code == "INVALID_INPUT"
    await set_school_policy(staff, YEAR, {"receipt_review_days": 3})
    await records.save_enrolment(staff, student_id=scene.student.person.id, academic_year=YEAR, term=1, grade=10, class_code="101")
    batch = await submission.create_batch(staff, YEAR, 1)
    await submission.submit_batch(staff, batch.id)
    await run_pending()  # the delivery is a durable job (submission.deliver)
    clock.set(at(2027, 2, 1, 9))
    [receipt] = await receipts.collect_receipts(staff, batch.id)
    assert receipt.review_closes_on == date(2027, 2, 4)
    clock.set(at(2027, 2, 4, 23))
    disputed = await receipts.dispute_receipt(student, receipt.id, "缺少一筆修課紀錄")
    assert disputed.status.value == "disputed"
    again = await submission.resubmit(staff, batch.id)
    assert again.resubmission_of_id == batch.id and again.student_ids == [scene.student.person.id]
    clock.set(at(2027, 2, 5, 0))
    # One list per batch: once a receipt is answered (here resubmitted), another list is refused.
    assert (await _code(receipts.record_receipts(staff, batch.id, []))).code == "RECEIPTS_ALREADY_ANSWERED"
    assert [r.status.value for r in await receipts.batch_receipts(staff, batch.id)] == ["resubmitted"]


async def test_uploaded_data_cannot_be_changed_after_its_window(scene, clock):
    """DOMAIN.md l.77-78: regularly uploaded data cannot be modified or overwritten later, to show
    each stage truthfully [seed Q1]."""
    row = await _draft(scene)
    clock.set(at(2027, 2, 4))
    student = await scene.student.actor()
    assert (await _code(outcomes.revise_outcome(student, row.id, brief="改寫"))).code == "WINDOW_CLOSED"
    assert (await _code(outcomes.delete_outcome(student, row.id))).code == "WINDOW_CLOSED"
    assert (await CourseOutcome.get(id=row.id)).brief == "作品"


async def test_performances_cannot_be_added_retroactively_but_staff_add_flagged_late_additions(scene, clock):
    """DOMAIN.md l.78-79: performances cannot be added retroactively [seed Q2]; Taipei flags late
    additions (補件) [pub]."""
    clock.set(at(2027, 8, 15))
    student, staff = await scene.student.actor(), await scene.staff.actor()
    common = {"academic_year": YEAR, "kind": PerformanceKind.VOLUNTEER, "title": "淨灘", "brief": "海灘清潔",
              "details": {"service_name": "淨灘", "unit": "環保署", "starts_on": "2027-07-01", "hours": 4}}  # fmt: skip
    assert (await _code(performances.create_performance(student, **common))).code == "WINDOW_CLOSED"
    late = await performances.add_late_performance(staff, student_id=scene.student.person.id, reason="證明文件延後核發", **common)
    assert late.late_addition is True
    entry = await LateAddition.get(item_type="performance", item_id=late.id)
    assert entry.reason == "證明文件延後核發"


async def test_earlier_versions_of_a_file_are_kept(scene, clock):
    """DOMAIN.md l.79: Taipei keeps earlier versions of a file [pub]."""
    student, teacher = await scene.student.actor(), await scene.teacher.actor()
    row = await _draft(scene)
    await outcomes.send_for_certification(student, row.id)
    await certification.open_outcome_file(teacher, row.id)
    await certification.certify_outcome(teacher, row.id, False, "請附上完整報告")
    await certification.publish_certifications(teacher)
    first = (await CourseOutcome.get(id=row.id)).document_id
    await outcomes.revise_outcome(student, row.id, document_ref=await scene.file(scene.student, size=70_000))
    versions = await ItemVersion.filter(item_type="outcome", item_id=row.id).order_by("number")
    assert [(v.number, v.document_id == first, v.result, v.reason) for v in versions] == [
        (1, True, "failed", "請附上完整報告"), (2, False, None, None),
    ]  # fmt: skip


async def test_what_a_submission_covered_is_immutable_and_corrected_only_by_late_additions(scene, clock, central):
    """DOMAIN.md l.77-79: nothing is overwritten; staff corrections are 補件 records."""
    staff = await scene.staff.actor()
    batch = await submission.create_batch(staff, YEAR, 1)
    assert await SubmissionItem.filter(batch_id=batch.id, item_type="course_record").count() == 2
    record = scene.records["math"]
    error = await _code(records.save_course_record(staff, student_id=scene.student.person.id, academic_year=YEAR, term=1,
                                                   course_code=record.course_code, subject_name="數學", grade=10, credits=3))  # fmt: skip
    assert error.code == "IMMUTABLE"
    assert (await _code(records.delete_record(staff, "course_record", record.id))).code == "IMMUTABLE"
    fixed = await records.correct_record(staff, "course_record", record.id, "學分數登錄錯誤", {"credits": 3})
    assert (fixed.credits, fixed.supersedes_id, fixed.late_reason) == (3, record.id, "學分數登錄錯誤")
    assert (await type(record).get(id=record.id)).credits == 4  # the submitted row is kept as it was


async def test_school_records_of_a_term_are_entered_from_30_days_before_its_start_until_30_days_after_the_ceremony(scene, clock):
    """DOMAIN.md l.33-34: basic data (enrolment, cadre) and course records go to the central database
    each term [seed]; entered from 30 days before the term's start until 休業式 + 30 days [inferred], then final."""
    staff, sid = await scene.staff.actor(), scene.student.person.id
    cadre = {"student_id": sid, "academic_year": YEAR, "term": 1, "level": CadreLevel.CLUB, "unit": "熱舞社", "position": "社長",
             "starts_on": date(2026, 9, 1)}  # fmt: skip
    clock.set(at(2026, 7, 31, 23))
    error = await _code(records.save_cadre_record(staff, **cadre))
    assert (error.code, error.details["window"], error.details["opens_on"], error.details["closes_on"]) == (
        "WINDOW_CLOSED", "records", "2026-08-01", "2027-02-19",
    )  # fmt: skip
    clock.set(at(2027, 2, 19, 23))  # the last evening (休業式 2027-01-20 + 30 days)
    await records.save_cadre_record(staff, **cadre)
    clock.set(at(2027, 2, 20, 0))
    enrolment = records.save_enrolment(staff, student_id=sid, academic_year=YEAR, term=1, grade=10, class_code="101")
    assert (await _code(enrolment)).code == "WINDOW_CLOSED"


async def test_school_records_cannot_be_changed_or_deleted_after_their_window_only_corrected_by_late_additions(scene, clock):
    """DOMAIN.md l.77-79: regularly uploaded data cannot be modified or overwritten later [seed Q1];
    corrections are flagged late additions (補件) [pub]."""
    staff, record = await scene.staff.actor(), scene.records["chinese"]
    clock.set(at(2027, 2, 20, 0))
    changed = records.save_course_record(staff, student_id=scene.student.person.id, academic_year=YEAR, term=1,
                                         course_code=record.course_code, subject_name="國語文", grade=10, credits=3)  # fmt: skip
    assert (await _code(changed)).code == "WINDOW_CLOSED"
    assert (await _code(records.delete_record(staff, "course_record", record.id))).code == "WINDOW_CLOSED"
    fixed = await records.correct_record(staff, "course_record", record.id, "學分數登錄錯誤", {"credits": 3})
    assert (fixed.credits, fixed.late_reason, (await CourseRecord.get(id=record.id)).credits) == (3, "學分數登錄錯誤", 4)
    assert (await LateAddition.get(item_type="course_record", item_id=fixed.id)).created_by_account_id == scene.staff.account.id


async def test_course_counseling_records_never_go_to_the_central_database_so_no_records_window_binds_them(scene, clock):
    """DOMAIN.md l.34 and l.39-40: course-counseling records never go to the central database; they
    stay on the school platform [seed]: the counselor keeps writing and correcting them."""
    clock.set(at(2027, 9, 1))  # both terms' records windows long closed
    counselor = await scene.counselor.actor()
    row = await counseling.write_counseling_record(counselor, student_id=scene.student.person.id, academic_year=YEAR, term=1,
                                                   held_on=date(2026, 11, 1), topic="選修規劃", notes="建議選修物理")  # fmt: skip
    assert (await counseling.update_counseling_record(counselor, row.id, topic="選修規劃（補記）")).topic == "選修規劃（補記）"
