"""Who may do what, through GraphQL: each role tried where it does not belong."""

from __future__ import annotations

from licheng.portfolio import outcomes
from licheng.portfolio.models import CourseOutcome
from tests.portfolio import ops
from tests.portfolio.conftest import CERTIFYING_AFTER_UPLOAD, YEAR, pdf_bytes, upload

PORTFOLIO_OF = "query($s: ID!) { portfolio(studentId: $s, academicYear: 115) { student { name } outcomes { id } } }"
PROGRESS = "{ portfolioProgress(academicYear: 115) { classes { students } } }"
SAVE_RECORD = """mutation($s: ID!) { saveCourseRecord(input: {studentId: $s, academicYear: 115, term: 1,
  courseCode: "11500000000000000000001", subjectName: "x", grade: 10, credits: 1}) { id } }"""


async def _sent(scene) -> CourseOutcome:  # noqa: ANN001
    student = await scene.student.actor()
    row = await outcomes.create_outcome(student, course_record_id=scene.records["math"].id, brief="作品",
                                        document_ref=await scene.file(scene.student))  # fmt: skip
    return await outcomes.send_for_certification(student, row.id)


async def test_a_student_neither_certifies_nor_sees_a_queue_nor_registers_records(scene, gql):
    row = await _sent(scene)
    await gql.sign_in_as(scene.student)
    assert await gql.error_code(ops.CERTIFY, {"id": ops.gid("CourseOutcome", row.id), "p": True}) == "NOT_THE_TEACHER"
    assert await gql.error_code(ops.QUEUE, {"pending": True}) == "FORBIDDEN"
    assert await gql.error_code(SAVE_RECORD, {"s": ops.gid("Person", scene.student.person.id)}) == "FORBIDDEN"
    assert await gql.error_code(PROGRESS) == "FORBIDDEN"
    assert await gql.error_code(ops.CREATE_BATCH, {"t": 1}) == "FORBIDDEN"


async def test_a_student_cannot_touch_another_students_items(scene, gql):
    row = await _sent(scene)
    other = await scene.add_student("李小華")
    await gql.sign_in_as(other)
    assert await gql.error_code(ops.REVISE_OUTCOME, {"id": ops.gid("CourseOutcome", row.id), "b": "x"}) == "NOT_FOUND"
    assert await gql.error_code(PORTFOLIO_OF, {"s": ops.gid("Person", scene.student.person.id)}) == "NOT_FOUND"
    record = ops.gid("CourseRecord", scene.records["chinese"].id)
    assert await gql.error_code(ops.CREATE_OUTCOME, {"r": record, "b": "x", "d": await scene.file(other), "m": None}) == "NOT_FOUND"


async def test_a_parent_reads_only_his_childs_portfolio_and_changes_nothing(scene, gql):
    row = await _sent(scene)
    other = await scene.add_student("李小華")
    await gql.sign_in_as(scene.parent)
    assert (await gql.ok(PORTFOLIO_OF, {"s": ops.gid("Person", scene.student.person.id)}))["portfolio"]["outcomes"] == [
        {"id": ops.gid("CourseOutcome", row.id)}
    ]
    assert await gql.error_code(PORTFOLIO_OF, {"s": ops.gid("Person", other.person.id)}) == "NOT_FOUND"
    assert await gql.error_code(ops.SEND, {"id": ops.gid("CourseOutcome", row.id)}) == "FORBIDDEN"
    assert await gql.error_code(ops.CREATE_PERFORMANCE, ops.competition()) == "FORBIDDEN"


async def test_a_subject_teacher_sees_the_queue_but_not_the_whole_portfolio(scene, gql):
    await _sent(scene)
    await gql.sign_in_as(scene.teacher)
    assert len((await gql.ok(ops.QUEUE, {"pending": True}))["certificationQueue"]["edges"]) == 1
    assert await gql.error_code(PORTFOLIO_OF, {"s": ops.gid("Person", scene.student.person.id)}) == "NOT_FOUND"
    await gql.sign_in_as(scene.other_teacher)
    assert (await gql.ok(ops.QUEUE, {"pending": True}))["certificationQueue"]["edges"] == []


async def test_a_homeroom_teacher_sees_his_class_only(scene, factory, gql):
    await gql.sign_in_as(scene.homeroom)
    assert (await gql.ok(PORTFOLIO_OF, {"s": ops.gid("Person", scene.student.person.id)}))["portfolio"]["student"]["name"] == "王小明"
    other_class = await factory.school_class(scene.school, code="102")
    assert await gql.error_code(ops.CLASS_OVERVIEW, {"c": ops.gid("SchoolClass", other_class.id)}) == "NOT_FOUND"
    assert await gql.error_code(PROGRESS) == "FORBIDDEN"


async def test_staff_see_progress_but_do_not_certify(scene, gql):
    row = await _sent(scene)
    await gql.sign_in_as(scene.staff)
    progress = (await gql.ok("{ portfolioProgress(academicYear: 115) { classes { class { code } students sentForCertification } windows { name } } }"))
    assert progress["portfolioProgress"]["classes"] == [{"class": {"code": "101"}, "students": 1, "sentForCertification": 1}]
    assert {w["name"] for w in progress["portfolioProgress"]["windows"]} >= {"upload", "certification", "selection", "submission"}
    assert await gql.error_code(ops.OPEN, {"id": ops.gid("CourseOutcome", row.id)}) == "NOT_THE_TEACHER"


async def test_only_counselors_and_staff_write_or_read_counseling_records(scene, gql):
    write = """mutation($s: ID!) { writeCounselingRecord(input: {studentId: $s, academicYear: 115, term: 1, heldOn: "2026-10-01",
               topic: "選課", notes: "討論"}) { topic } }"""
    read = "query($s: ID!) { counselingRecords(studentId: $s) { topic } }"
    student = {"s": ops.gid("Person", scene.student.person.id)}
    await gql.sign_in_as(scene.teacher)
    assert await gql.error_code(write, student) == "FORBIDDEN"
    assert await gql.error_code(read, student) == "FORBIDDEN"
    await gql.sign_in_as(scene.counselor)
    assert (await gql.ok(write, student))["writeCounselingRecord"] == {"topic": "選課"}
    assert (await gql.ok(read, student))["counselingRecords"] == [{"topic": "選課"}]


async def test_downloading_the_file_through_storage_counts_as_opening_it(scene, gql, clock):
    """The teacher may open the file with storage's GET /files/{id} (audited there) instead of openOutcomeFile."""
    await gql.sign_in_as(scene.student)
    document = await upload(gql, pdf_bytes())
    created = await gql.ok(ops.CREATE_OUTCOME, {"r": ops.gid("CourseRecord", scene.records["math"].id), "b": "報告", "d": document, "m": None})
    outcome_id = created["createCourseOutcome"]["id"]
    await gql.ok(ops.SEND, {"id": outcome_id})
    clock.set(CERTIFYING_AFTER_UPLOAD)
    await gql.sign_in_as(scene.teacher)
    [edge] = (await gql.ok("{ certificationQueue { edges { node { document { downloadPath } } } } }"))["certificationQueue"]["edges"]
    assert await gql.error_code(ops.CERTIFY, {"id": outcome_id, "p": True}) == "OUTCOME_NOT_OPENED"
    response = await gql.http.get(edge["node"]["document"]["downloadPath"], headers={"authorization": f"Bearer {gql.token}"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert (await gql.ok(ops.CERTIFY, {"id": outcome_id, "p": True}))["certifyCourseOutcome"]["decision"] == "PASSED"
    assert (await CourseOutcome.get(student_id=scene.student.person.id, academic_year=YEAR)).opened_at is not None
