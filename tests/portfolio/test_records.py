"""School records: CSV imports (UTF-8 and Big5, dry run, all or nothing), staff-only writes, corrections."""

from __future__ import annotations

import base64

from licheng.portfolio.models import CadreRecord, CourseRecord, EnrolmentRecord, LateAddition
from licheng.portfolio.records_import import RecordImportKind, import_records
from licheng.tenants.models import Person
from tests.portfolio.conftest import YEAR

COURSES = """student_number,academic_year,term,course_code,subject_name,grade,credits,score,passed,teacher_staff_number
{number},115,1,11512345611A1B2C3D4E5F9,物理,10,2,88.5,是,{teacher}
{number},115,1,11512345611A1B2C3D4E5F8,化學,10,2,,,
"""


async def _numbers(scene) -> dict:  # noqa: ANN001
    await Person.filter(id=scene.teacher.person.id).update(staff_number=f"T{scene.school.code}")
    return {"number": scene.student.person.student_number, "teacher": f"T{scene.school.code}"}


async def test_course_records_import_from_utf8_and_big5_and_reimport_updates(scene):
    staff = await scene.staff.actor()
    text = COURSES.format(**await _numbers(scene))
    report = await import_records(staff, RecordImportKind.COURSE_RECORDS, text.encode("utf-8-sig"))
    assert (report.ok, report.written, report.encoding) == (True, 2, "utf-8")
    physics = await CourseRecord.get(student_id=scene.student.person.id, subject_name="物理")
    assert (str(physics.score), physics.passed, physics.teacher_id) == ("88.50", True, scene.teacher.person.id)
    again = await import_records(staff, RecordImportKind.COURSE_RECORDS, text.replace("88.5", "90").encode("cp950"))
    assert (again.ok, again.encoding) == (True, "big5")
    assert await CourseRecord.filter(student_id=scene.student.person.id, academic_year=YEAR, term=1).count() == 4  # 2 + scene's 2
    assert str((await CourseRecord.get(id=physics.id)).score) == "90.00"


async def test_a_bad_row_writes_nothing_and_says_where(scene):
    staff = await scene.staff.actor()
    text = COURSES.format(**await _numbers(scene)) + "nobody,115,1,11512345611A1B2C3D4E5F7,生物,10,2,,,\n"
    text += f"{scene.student.person.student_number},115,1,SHORT,生物,10,2,,,\n"
    report = await import_records(staff, RecordImportKind.COURSE_RECORDS, text.encode())
    assert not report.ok and report.written == 2
    assert [(e.row, e.column, e.code) for e in report.errors] == [(4, "student_number", "UNKNOWN_STUDENT"), (5, "course_code", "INVALID_INPUT")]
    assert not await CourseRecord.filter(student_id=scene.student.person.id, subject_name="物理").exists()


async def test_a_dry_run_validates_and_writes_nothing(scene):
    staff = await scene.staff.actor()
    number = scene.student.person.student_number
    csv = f"student_number,academic_year,term,grade,class_code,seat\n{number},115,1,10,101,1\n"
    report = await import_records(staff, RecordImportKind.ENROLMENT, csv.encode(), dry_run=True)
    assert (report.ok, report.dry_run) == (True, True)
    assert not await EnrolmentRecord.filter(student_id=scene.student.person.id).exists()
    cadre = f"student_number,academic_year,term,level,unit,position,starts_on\n{number},115,1,club,熱舞社,社長,2026/09/01\n"
    assert (await import_records(staff, RecordImportKind.CADRE, cadre.encode())).ok
    assert (await CadreRecord.get(student_id=scene.student.person.id)).position == "社長"


async def test_only_staff_import_and_through_graphql_with_row_errors(scene, gql):
    text = base64.b64encode(COURSES.format(**await _numbers(scene)).encode()).decode()
    query = "mutation($f: String!) { importPortfolioRecords(kind: COURSE_RECORDS, fileBase64: $f) { ok written errors { row code } } }"
    await gql.sign_in_as(scene.teacher)
    assert await gql.error_code(query, {"f": text}) == "FORBIDDEN"
    await gql.sign_in_as(scene.staff)
    assert (await gql.ok(query, {"f": text}))["importPortfolioRecords"] == {"ok": True, "written": 2, "errors": []}


async def test_a_correction_of_a_submitted_record_is_a_flagged_late_addition(scene, gql):
    from licheng.portfolio import submission

    await submission.create_batch(await scene.staff.actor(), YEAR, 1)
    await gql.sign_in_as(scene.staff)
    record_id = f"{scene.records['math'].id}"
    from tests.portfolio.ops import gid

    query = 'mutation($id: ID!) { correctSchoolRecord(id: $id, reason: "成績更正", changes: {score: "75"}) { ... on CourseRecord { score lateReason frozen } } }'
    data = await gql.ok(query, {"id": gid("CourseRecord", int(record_id))})
    assert data["correctSchoolRecord"] == {"score": "75.00", "lateReason": "成績更正", "frozen": False}
    assert await LateAddition.filter(item_type="course_record", replaces_id=int(record_id)).exists()
    assert await gql.error_code(query, {"id": gid("CourseRecord", int(record_id))}) == "IMMUTABLE"  # the old one is superseded
