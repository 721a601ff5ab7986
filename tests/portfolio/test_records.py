"""School records: CSV imports (UTF-8 and Big5, dry run, all or nothing), staff-only writes, corrections."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest

from licheng.errors import LichengError
from licheng.portfolio import records
from licheng.portfolio.models import CadreLevel, CadreRecord, CourseRecord, EnrolmentRecord, LateAddition
from licheng.portfolio.records_import import RecordImportKind, import_records
from licheng.tenants.models import Person
from tests.portfolio.conftest import YEAR, at
from tests.portfolio.ops import gid

AFTER_TERM_1_RECORDS = at(2027, 2, 20, 0)  # term 1's records window closed on 2027-02-19

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


async def _final_rows(scene: Any, clock: Any) -> dict[str, int]:
    """A row of each kind entered in term 1's records window, which then closes: only 補件 changes them."""
    staff, sid = await scene.staff.actor(), scene.student.person.id
    cadre = await records.save_cadre_record(staff, student_id=sid, academic_year=YEAR, term=1, level=CadreLevel.CLASS,
                                            unit="101班", position="班長", starts_on=date(2026, 9, 1))  # fmt: skip
    enrolment = await records.save_enrolment(staff, student_id=sid, academic_year=YEAR, term=1, grade=10, class_code="101", seat=1)
    clock.set(AFTER_TERM_1_RECORDS)
    return {"course_record": scene.records["math"].id, "cadre": cadre.id, "enrolment": enrolment.id}


BAD_CORRECTIONS = [  # (kind, changes, the field the refusal names)
    ("course_record", {"grade": 99}, "grade"),
    ("course_record", {"credits": -5}, "credits"),
    ("course_record", {"credits": "4"}, "credits"),
    ("course_record", {"subject_name": "長" * 5000}, "subject_name"),
    ("course_record", {"subject_name": "  "}, "subject_name"),
    ("course_record", {"score": "NaN"}, "score"),
    ("course_record", {"score": 100.5}, "score"),
    ("course_record", {"passed": "yes"}, "passed"),
    ("course_record", {"course_code": "11512345611A1B2C3D4E5F"}, "course_code"),  # 22 characters
    ("course_record", {"teacher_id": "林老師"}, "teacher_id"),
    ("course_record", {"student_id": 1}, "student_id"),
    ("course_record", {"academic_year": 116}, "academic_year"),
    ("cadre", {"level": "captain"}, "level"),
    ("cadre", {"starts_on": "2026-13-01"}, "starts_on"),
    ("cadre", {"starts_on": None}, "starts_on"),
    ("cadre", {"ends_on": "2026-08-31"}, "ends_on"),  # before the stored start, 2026-09-01
    ("cadre", {"position": "長" * 51}, "position"),
    ("cadre", {"startsOn": "2026-09-02"}, "startsOn"),
    ("enrolment", {"status": "expelled"}, "status"),
    ("enrolment", {"seat": 0}, "seat"),
    ("enrolment", {"grade": 9}, "grade"),
    ("enrolment", {"class_code": "1" * 17}, "class_code"),
    ("enrolment", {"term": 2}, "term"),
]


@pytest.mark.parametrize(("kind", "changes", "field"), BAD_CORRECTIONS)
async def test_a_correction_is_refused_what_a_save_would_refuse_and_writes_nothing(scene, clock, kind, changes, field):
    ids = await _final_rows(scene, clock)
    with pytest.raises(LichengError) as caught:
        await records.correct_record(await scene.staff.actor(), kind, ids[kind], "更正", changes)
    assert (caught.value.code, caught.value.details["field"]) == ("INVALID_INPUT", field)
    assert caught.value.message_zh and caught.value.message_en
    assert not await LateAddition.filter(school_id=scene.school.id).exists()
    assert (await records.RECORD_MODELS[kind].get(id=ids[kind])).superseded_at is None


async def test_a_course_code_is_corrected_to_a_valid_code_not_to_one_the_student_has_in_the_term(scene, clock):
    ids, staff = await _final_rows(scene, clock), await scene.staff.actor()
    taken = scene.records["chinese"].course_code
    with pytest.raises(LichengError) as caught:
        await records.correct_record(staff, "course_record", ids["course_record"], "課程代碼誤植", {"course_code": taken})
    assert (caught.value.code, caught.value.details["field"]) == ("INVALID_INPUT", "course_code")
    fixed = await records.correct_record(staff, "course_record", ids["course_record"], "課程代碼誤植", {"course_code": " 11512345611A1B2C3D4E5F9 "})
    assert (fixed.course_code, fixed.subject_name, fixed.credits) == ("11512345611A1B2C3D4E5F9", "數學", 4)


async def test_graphql_corrections_take_iso_dates_and_enum_names_and_refuse_bad_values_as_invalid_input(scene, gql, clock):
    ids = await _final_rows(scene, clock)
    await gql.sign_in_as(scene.staff)
    query = """mutation($id: ID!, $changes: JSON!) { correctSchoolRecord(id: $id, reason: "補登", changes: $changes) {
        ... on CadreRecord { level startsOn endsOn } ... on EnrolmentRecord { status seat } } }"""
    cadre = gid("CadreRecord", ids["cadre"])
    for changes in ({"starts_on": "2026-9-1"}, {"ends_on": "2026-08-01"}, {"level": "captain"}, {"unit": "x" * 101}):
        result = await gql.execute(query, {"id": cadre, "changes": changes})
        assert result["errors"][0]["extensions"]["code"] == "INVALID_INPUT", (changes, result)
    assert await gql.error_code(query, {"id": cadre, "changes": ["level", "CLUB"]}) == "INVALID_INPUT"
    data = await gql.ok(query, {"id": cadre, "changes": {"level": "CLUB", "ends_on": "2027-01-20"}})
    assert data["correctSchoolRecord"] == {"level": "CLUB", "startsOn": "2026-09-01", "endsOn": "2027-01-20"}
    data = await gql.ok(query, {"id": gid("EnrolmentRecord", ids["enrolment"]), "changes": {"status": "transferred", "seat": 2}})
    assert data["correctSchoolRecord"] == {"status": "TRANSFERRED", "seat": 2}
