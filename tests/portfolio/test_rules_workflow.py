"""One test per rule of DOMAIN.md's actors, categories and roster notes, each citing its line and source."""

from __future__ import annotations

from datetime import date

import pytest

from licheng.errors import LichengError
from licheng.portfolio import certification, counseling, kinds, outcomes, performances, records, selection, submission
from licheng.portfolio.models import CadreLevel, OutcomeStatus, PerformanceKind, SubmissionItem
from licheng.tenants.audit import AuditEntry
from tests.portfolio import ops
from tests.portfolio.conftest import CERTIFYING_AFTER_UPLOAD, IN_SELECTION, IN_SUBMISSION, YEAR


async def _code(work) -> str:  # noqa: ANN001
    with pytest.raises(LichengError) as caught:
        await work
    return caught.value.code


async def _sent(scene, record=None) -> int:  # noqa: ANN001
    student = await scene.student.actor()
    row = await outcomes.create_outcome(student, course_record_id=(record or scene.records["math"]).id, brief="作品",
                                        document_ref=await scene.file(scene.student))  # fmt: skip
    return (await outcomes.send_for_certification(student, row.id)).id


async def test_the_teacher_must_open_the_file_before_certifying(scene):
    """DOMAIN.md l.14-16: the subject teacher must have opened (read) the file first [seed: Taipei system]."""
    teacher = await scene.teacher.actor()
    outcome_id = await _sent(scene)
    assert await _code(certification.certify_outcome(teacher, outcome_id, True)) == "OUTCOME_NOT_OPENED"
    await certification.open_outcome_file(teacher, outcome_id)
    assert (await certification.certify_outcome(teacher, outcome_id, True)).decision.value == "passed"


async def test_the_student_sees_the_result_and_its_reason_only_once_published(scene, gql):
    """DOMAIN.md l.14-16: pass or fail with a reason the student sees; then publishes the result [seed]."""
    teacher = await scene.teacher.actor()
    outcome_id = await _sent(scene)
    await certification.open_outcome_file(teacher, outcome_id)
    assert await _code(certification.certify_outcome(teacher, outcome_id, False)) == "REASON_REQUIRED"
    await certification.certify_outcome(teacher, outcome_id, False, "非本課程作品")
    await gql.sign_in_as(scene.student)
    [seen] = (await gql.ok(ops.MY_PORTFOLIO, {"y": YEAR}))["myPortfolio"]["outcomes"]
    assert (seen["status"], seen["resultReason"], seen["decision"]) == ("SENT", None, None)
    await certification.publish_certifications(teacher)
    [seen] = (await gql.ok(ops.MY_PORTFOLIO, {"y": YEAR}))["myPortfolio"]["outcomes"]
    assert (seen["status"], seen["resultReason"]) == ("FAILED", "非本課程作品")


async def test_a_failed_outcome_may_be_reuploaded_and_recertified(scene):
    """DOMAIN.md l.17-18: a failed item may be re-uploaded and re-certified [pub]."""
    student, teacher = await scene.student.actor(), await scene.teacher.actor()
    outcome_id = await _sent(scene)
    await certification.open_outcome_file(teacher, outcome_id)
    await certification.certify_outcome(teacher, outcome_id, False, "檔案不完整")
    await certification.publish_certifications(teacher)
    assert await _code(outcomes.revise_outcome(student, outcome_id, brief="補上")) == "FILE_REQUIRED"
    revised = await outcomes.revise_outcome(student, outcome_id, document_ref=await scene.file(scene.student, size=80_000))
    assert (revised.status, revised.version, revised.opened_at) == (OutcomeStatus.DRAFT, 2, None)
    await outcomes.send_for_certification(student, outcome_id)
    await certification.open_outcome_file(teacher, outcome_id)
    await certification.certify_outcome(teacher, outcome_id, True)
    [published] = await certification.publish_certifications(teacher)
    assert published.status == OutcomeStatus.PASSED


async def test_a_substitute_certifies_for_an_absent_teacher(scene):
    """DOMAIN.md l.18-19: schools need a substitute (代理人) when a teacher is absent [pub]."""
    outcome_id = await _sent(scene)
    substitute = await scene.other_teacher.actor()
    assert await _code(certification.open_outcome_file(substitute, outcome_id)) == "NOT_THE_TEACHER"
    await certification.assign_substitute(await scene.staff.actor(), scene.teacher.person.id, scene.other_teacher.person.id, YEAR, 1)
    substitute = await scene.other_teacher.actor()
    await certification.open_outcome_file(substitute, outcome_id)
    await certification.certify_outcome(substitute, outcome_id, True)
    assert [o.id for o in await certification.publish_certifications(substitute)] == [outcome_id]


async def test_the_homeroom_overview_counts_what_each_student_sent_and_who_has_none(scene, gql):
    """DOMAIN.md l.20-21 and l.124: how many items each student sent for certification, how many
    performances, who has none ("32 students sent 1 outcome, 6 sent none") [seed]."""
    other = await scene.add_student("李小華")
    await _sent(scene)
    await performances.create_performance(await scene.student.actor(), academic_year=YEAR, kind=PerformanceKind.OTHER,
                                          title="表現", brief="表現", details={"starts_on": "2026-09-01"})  # fmt: skip
    await gql.sign_in_as(scene.homeroom)
    overview = (await gql.ok(ops.CLASS_OVERVIEW, {"c": ops.gid("SchoolClass", scene.school_class.id)}))["classOverview"]
    rows = {s["name"]: s for s in overview["students"]}
    assert (rows["王小明"]["sentForCertification"], rows["王小明"]["performances"], rows["王小明"]["hasNone"]) == (1, 1, False)
    assert [s["name"] for s in overview["studentsWithNone"]] == [other.person.name]


async def test_counselors_write_course_counseling_records(scene):
    """DOMAIN.md l.22: the course counselor (課程諮詢教師) writes course-counseling records [seed]."""
    common = {"student_id": scene.student.person.id, "academic_year": YEAR, "term": 1, "held_on": date(2026, 10, 1),
              "topic": "選修規劃", "notes": "建議選修物理"}  # fmt: skip
    assert await _code(counseling.write_counseling_record(await scene.teacher.actor(), **common)) == "FORBIDDEN"
    row = await counseling.write_counseling_record(await scene.counselor.actor(), **common)
    assert row.counselor_id == scene.counselor.person.id
    assert [r.id for r in await counseling.list_counseling_records(await scene.student.actor(), scene.student.person.id)] == [row.id]
    assert await _code(counseling.list_counseling_records(await scene.parent.actor(), scene.student.person.id)) == "FORBIDDEN"


async def test_staff_register_basic_data_and_course_records_each_term(scene):
    """DOMAIN.md l.23-25 and l.33-34: staff register basic data (enrolment, cadre) and course
    records each term; they go to the central database each term [seed]."""
    staff, sid = await scene.staff.actor(), scene.student.person.id
    assert await _code(records.save_enrolment(await scene.student.actor(), student_id=sid, academic_year=YEAR, term=1,
                                              grade=10, class_code="101")) == "FORBIDDEN"  # fmt: skip
    await records.save_enrolment(staff, student_id=sid, academic_year=YEAR, term=1, grade=10, class_code="101", seat=1)
    await records.save_cadre_record(staff, student_id=sid, academic_year=YEAR, term=1, level=CadreLevel.CLASS, unit="101班",
                                    position="班長", starts_on=date(2026, 9, 1))  # fmt: skip
    batch = await submission.create_batch(staff, YEAR, 1)
    kinds_sent = sorted(await SubmissionItem.filter(batch_id=batch.id).values_list("item_type", flat=True))
    assert kinds_sent == ["cadre", "course_record", "course_record", "enrolment"]


async def test_parents_see_their_childs_portfolio_and_change_nothing(scene, gql):
    """DOMAIN.md l.26: the parent sees the child's portfolio; changes nothing [seed]."""
    await _sent(scene)
    await gql.sign_in_as(scene.parent)
    data = await gql.ok("{ myChildrenPortfolios(academicYear: 115) { student { name } outcomes { brief status } } }")
    assert data["myChildrenPortfolios"] == [{"student": {"name": "王小明"}, "outcomes": [{"brief": "作品", "status": "SENT"}]}]
    code = await gql.error_code(ops.CREATE_OUTCOME, {"r": ops.gid("CourseRecord", scene.records["math"].id), "b": "家長代傳", "d": None, "m": None})
    assert code == "FORBIDDEN"


async def test_school_registered_cadre_records_do_not_count_toward_the_ten(scene, clock):
    """DOMAIN.md l.38-39: cadre records registered by the school are submitted with basic data and
    do not count toward the 10 [seed Q4]."""
    staff, student = await scene.staff.actor(), await scene.student.actor()
    await records.save_cadre_record(staff, student_id=scene.student.person.id, academic_year=YEAR, term=1,
                                    level=CadreLevel.SCHOOL, unit="學生會", position="會長", starts_on=date(2026, 9, 1))  # fmt: skip
    ids = [
        (await performances.create_performance(student, academic_year=YEAR, kind=PerformanceKind.CADRE, title=f"幹部{i}", brief="社區",
                                                details={"unit": "社區", "starts_on": "2026-09-01", "position": "幹部", "level": "other"})).id
        for i in range(10)
    ]  # fmt: skip
    clock.set(IN_SELECTION)
    assert len((await selection.select_items(student, YEAR, performance_ids=ids)).performance_ids) == 10
    clock.set(IN_SUBMISSION)
    batch = await submission.create_batch(staff, YEAR, 0)
    assert await SubmissionItem.filter(batch_id=batch.id, item_type="performance").count() == 10
    assert not await SubmissionItem.filter(batch_id=batch.id, item_type="cadre").exists()


async def test_counseling_records_stay_on_the_school_platform(scene, clock):
    """DOMAIN.md l.34 and l.39-40: course-counseling records are never sent to the central database [seed]."""
    await counseling.write_counseling_record(await scene.counselor.actor(), student_id=scene.student.person.id, academic_year=YEAR,
                                          term=1, held_on=date(2026, 10, 1), topic="選課", notes="討論")  # fmt: skip
    staff = await scene.staff.actor()
    term_batch = await submission.create_batch(staff, YEAR, 1)
    clock.set(IN_SUBMISSION)
    year_batch = await submission.create_batch(staff, YEAR, 0)
    types = set(await SubmissionItem.filter(batch_id__in=[term_batch.id, year_batch.id]).values_list("item_type", flat=True))
    assert "counseling" not in types and types <= {"enrolment", "cadre", "course_record", "outcome", "performance"}


async def test_course_codes_have_23_characters(scene):
    """DOMAIN.md l.85-86: course outcomes carry the 23-character course code (課程代碼) [pub]."""
    staff = await scene.staff.actor()
    common = {"student_id": scene.student.person.id, "academic_year": YEAR, "term": 1, "subject_name": "物理", "grade": 10, "credits": 2}
    for bad in ("1", "1" * 22, "1" * 24, "1" * 22 + "-"):
        assert await _code(records.save_course_record(staff, course_code=bad, **common)) == "INVALID_INPUT"
    assert len((await records.save_course_record(staff, course_code="1" * 23, **common)).course_code) == 23


async def test_each_performance_kind_has_its_roster_columns(scene):
    """DOMAIN.md l.36 and l.87-89: all kinds of performance, one sheet per kind with kind-specific
    columns (competition name/level/award/date; certificate code/score/date/number; cadre
    unit/dates/position/level) [pub]."""
    assert set(kinds.KIND_FIELDS) == set(PerformanceKind) and len(PerformanceKind) == 12
    names = {kind: {f.name for f in specs} for kind, specs in kinds.KIND_FIELDS.items()}
    assert {"competition_name", "level", "award", "announced_on"} <= names[PerformanceKind.COMPETITION]
    assert {"certificate_code", "score", "obtained_on", "certificate_number"} <= names[PerformanceKind.CERTIFICATE]
    assert {"unit", "starts_on", "ends_on", "position", "level"} <= names[PerformanceKind.CADRE]
    student = await scene.student.actor()
    common = {"academic_year": YEAR, "kind": PerformanceKind.COMPETITION, "title": "科展", "brief": "佳作"}
    with pytest.raises(LichengError) as missing:
        await performances.create_performance(student, **common, details={"competition_name": "科展", "level": "national"})
    assert missing.value.details["field"] == "details.award"
    with pytest.raises(LichengError) as bad_level:
        await performances.create_performance(student, **common, details={"competition_name": "x", "level": "galactic", "award": "x", "announced_on": "2026-10-01"})
    assert bad_level.value.details["field"] == "details.level"


async def test_reading_a_students_portfolio_is_audited(scene, gql):
    """DOMAIN.md l.140: keep an audit trail of who viewed which student's data [pub]."""
    await gql.sign_in_as(scene.homeroom)
    query = "query($s: ID!) { portfolio(studentId: $s, academicYear: 115) { outcomes { id } } }"
    await gql.ok(query, {"s": ops.gid("Person", scene.student.person.id)})
    assert await AuditEntry.filter(action="read_portfolio", student_id=scene.student.person.id, account_id=scene.homeroom.account.id).exists()


async def test_the_portfolio_cabinet_shows_storage_of_150_mb_and_uncertified_outcomes(scene, gql, clock):
    """DOMAIN.md l.115-116: "My portfolio cabinet" shows storage used of 150 MB and the count of
    uncertified outcomes [seed]."""
    await _sent(scene)
    await _sent(scene, scene.records["chinese"])
    clock.set(CERTIFYING_AFTER_UPLOAD)
    await gql.sign_in_as(scene.student)
    portfolio = (await gql.ok(ops.MY_PORTFOLIO, {"y": YEAR}))["myPortfolio"]
    assert portfolio["caps"]["quotaBytes"] == 150 * 1024 * 1024
    assert portfolio["caps"]["storageUsedBytes"] == 2 * 50_000
    assert portfolio["terms"][0]["awaitingResult"] == 2
