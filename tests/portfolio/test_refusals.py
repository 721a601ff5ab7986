"""Each refusal, through GraphQL, with its stable error code and the numbers that explain it."""

from __future__ import annotations

from typing import Any

from licheng.portfolio import certification, outcomes, performances, selection, submission
from licheng.portfolio.models import CourseOutcome, OutcomeStatus, PerformanceKind
from licheng.portfolio.policy import set_school_policy
from tests.portfolio import ops
from tests.portfolio.conftest import IN_SELECTION, IN_SUBMISSION, IN_TERM_1, YEAR, at


async def _error(gql: Any, query: str, variables: dict | None = None) -> dict:
    result = await gql.execute(query, variables)
    assert result.get("errors"), result
    return result["errors"][0]["extensions"]


async def _outcome(scene, *, send: bool = True, record=None) -> CourseOutcome:  # noqa: ANN001
    student = await scene.student.actor()
    row = await outcomes.create_outcome(student, course_record_id=(record or scene.records["math"]).id, brief="作品",
                                        document_ref=await scene.file(scene.student))  # fmt: skip
    return await outcomes.send_for_certification(student, row.id) if send else row


async def test_sending_beyond_the_terms_cap_is_outcome_cap_reached(scene, gql):
    await set_school_policy(await scene.staff.actor(), YEAR, {"outcomes_per_term": 2})
    await _outcome(scene)
    await _outcome(scene, record=scene.records["chinese"])
    third = await _outcome(scene, send=False)
    await gql.sign_in_as(scene.student)
    error = await _error(gql, ops.SEND, {"id": ops.gid("CourseOutcome", third.id)})
    assert (error["code"], error["details"]["cap"], error["details"]["count"]) == ("OUTCOME_CAP_REACHED", 2, 2)
    assert error["message_zh"] and error["message_en"]


async def test_sending_beyond_the_subjects_cap_is_outcome_subject_cap_reached(scene, gql):
    await set_school_policy(await scene.staff.actor(), YEAR, {"outcomes_per_subject_per_term": 1})
    await _outcome(scene)
    second = await _outcome(scene, send=False)
    await gql.sign_in_as(scene.student)
    error = await _error(gql, ops.SEND, {"id": ops.gid("CourseOutcome", second.id)})
    assert (error["code"], error["details"]["subject"]) == ("OUTCOME_SUBJECT_CAP_REACHED", "數學")


async def test_acting_outside_a_window_is_window_closed_with_its_name_and_dates(scene, gql, clock):
    clock.set(at(2027, 3, 1))  # term 1's upload window closed on 2027-02-03
    await gql.sign_in_as(scene.student)
    error = await _error(gql, ops.CREATE_OUTCOME, {"r": ops.gid("CourseRecord", scene.records["math"].id), "b": "作品",
                                                   "d": await scene.file(scene.student), "m": None})  # fmt: skip
    assert error["code"] == "WINDOW_CLOSED"
    assert {k: error["details"][k] for k in ("window", "window_zh", "opens_on", "closes_on")} == {
        "window": "upload", "window_zh": "課程學習成果上傳及提交認證", "opens_on": "2026-08-31", "closes_on": "2027-02-03",
    }  # fmt: skip
    assert "2027-02-03" in error["message_zh"]


async def test_another_teacher_is_not_the_teacher(scene, gql):
    row = await _outcome(scene)
    await gql.sign_in_as(scene.other_teacher)
    assert (await _error(gql, ops.OPEN, {"id": ops.gid("CourseOutcome", row.id)}))["code"] == "NOT_THE_TEACHER"
    assert (await _error(gql, ops.CERTIFY, {"id": ops.gid("CourseOutcome", row.id), "p": True}))["code"] == "NOT_THE_TEACHER"
    assert (await _error(gql, ops.PUBLISH, {"ids": [ops.gid("CourseOutcome", row.id)]}))["code"] == "NOT_THE_TEACHER"


async def test_certifying_an_unopened_outcome_is_outcome_not_opened(scene, gql):
    row = await _outcome(scene)
    await gql.sign_in_as(scene.teacher)
    assert (await _error(gql, ops.CERTIFY, {"id": ops.gid("CourseOutcome", row.id), "p": True}))["code"] == "OUTCOME_NOT_OPENED"


async def test_selecting_an_outcome_not_passed_is_not_certified(scene, gql, clock):
    sent = await _outcome(scene)
    teacher = await scene.teacher.actor()
    failed = await _outcome(scene, record=scene.records["chinese"])
    await certification.open_outcome_file(teacher, failed.id)
    await certification.certify_outcome(teacher, failed.id, False, "非本人作品")
    await certification.publish_certifications(teacher)
    clock.set(IN_SELECTION)
    await gql.sign_in_as(scene.student)
    for row in (sent, failed):
        assert (await _error(gql, ops.SELECT, {"o": [ops.gid("CourseOutcome", row.id)], "p": None}))["code"] == "NOT_CERTIFIED"


async def test_selecting_an_eleventh_performance_is_selection_cap_reached(scene, gql, clock):
    student = await scene.student.actor()
    ids = [
        (await performances.create_performance(student, academic_year=YEAR, kind=PerformanceKind.OTHER, title=f"表現{i}",
                                                brief="表現", details={"starts_on": "2026-09-01"})).id
        for i in range(11)
    ]  # fmt: skip
    clock.set(IN_SELECTION)
    await gql.sign_in_as(scene.student)
    await gql.ok(ops.SELECT, {"o": None, "p": [ops.gid("DiversePerformance", i) for i in ids[:10]]})
    error = await _error(gql, ops.SELECT, {"o": None, "p": [ops.gid("DiversePerformance", ids[10])]})
    assert (error["code"], error["details"]["cap"], error["details"]["item"]) == ("SELECTION_CAP_REACHED", 10, "performance")


async def test_changing_a_submitted_item_is_immutable(scene, gql, clock, central):
    row = await _outcome(scene)
    teacher = await scene.teacher.actor()
    await certification.open_outcome_file(teacher, row.id)
    await certification.certify_outcome(teacher, row.id, True)
    await certification.publish_certifications(teacher)
    clock.set(IN_SELECTION)
    await selection.select_items(await scene.student.actor(), YEAR, outcome_ids=[row.id])
    clock.set(IN_SUBMISSION)
    await submission.create_batch(await scene.staff.actor(), YEAR, 0)
    clock.set(at(2027, 9, 20))  # a school whose selection window overlaps: still frozen
    await set_school_policy(await scene.staff.actor(), YEAR, {"selection_closes": "10-31"})
    clock.set(IN_SUBMISSION)
    await gql.sign_in_as(scene.student)
    unselect = "mutation($o: [ID!]) { unselectPortfolioItems(academicYear: 115, outcomeIds: $o) { outcomeIds } }"
    assert (await _error(gql, unselect, {"o": [ops.gid("CourseOutcome", row.id)]}))["code"] == "IMMUTABLE"
    await gql.sign_in_as(scene.staff)
    delete = "mutation($id: ID!) { deleteSchoolRecord(id: $id) }"
    await submission.create_batch(await scene.staff.actor(), YEAR, 1)
    assert (await _error(gql, delete, {"id": ops.gid("CourseRecord", scene.records["math"].id)}))["code"] == "IMMUTABLE"
    assert (await CourseOutcome.get(id=row.id)).status == OutcomeStatus.PASSED


async def test_a_brief_over_100_characters_is_brief_too_long(scene, gql):
    await gql.sign_in_as(scene.student)
    error = await _error(gql, ops.CREATE_OUTCOME, {"r": ops.gid("CourseRecord", scene.records["math"].id), "b": "長" * 101,
                                                   "d": await scene.file(scene.student), "m": None})  # fmt: skip
    assert (error["code"], error["details"]["limit"]) == ("BRIEF_TOO_LONG", 100)


async def test_a_bad_external_link_is_invalid_url(scene, gql, clock):
    clock.set(IN_TERM_1)
    await gql.sign_in_as(scene.student)
    variables = {**ops.competition(), "u": "javascript:alert(1)"}
    assert (await _error(gql, ops.CREATE_PERFORMANCE, variables))["code"] == "INVALID_URL"
