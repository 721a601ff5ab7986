"""The records window (學校登錄基本資料及修課紀錄): school-entered records of a term are written from
30 days before the term's start until 30 days after its 休業式; then only an audited 補件 changes them.

Scene calendar (115): term 1 2026-08-31 .. 休業式 2027-01-20 -> records 2026-08-01 .. 2027-02-19;
term 2 2027-02-11 .. 休業式 2027-06-30 -> records 2027-01-12 .. 2027-07-30.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import pytest

from licheng.errors import LichengError
from licheng.portfolio import records, submission
from licheng.portfolio.models import CadreLevel, CourseRecord, EnrolmentRecord, LateAddition, SubmissionItem
from licheng.portfolio.policy import BUREAU_LAYER_PROVIDERS, set_school_policy
from licheng.portfolio.records_import import RecordImportKind, import_records
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Person, SchoolTerm
from tests.portfolio import ops
from tests.portfolio.conftest import YEAR, at

AFTER_TERM_1_RECORDS = at(2027, 2, 20, 0)  # the first instant after 2027-02-19, Taipei
TERM_1_RECORDS = {
    "window": "records", "window_zh": "學校登錄基本資料及修課紀錄", "window_en": "school records entry",
    "opens_on": "2026-08-01", "closes_on": "2027-02-19", "academic_year": 115, "term": 1,
}  # fmt: skip


async def _error(work: Any) -> LichengError:
    with pytest.raises(LichengError) as caught:
        await work
    return caught.value


def _course(scene: Any, **changes: Any) -> dict[str, Any]:
    math = scene.records["math"]
    values = {"student_id": scene.student.person.id, "academic_year": YEAR, "term": 1, "course_code": math.course_code,
              "subject_name": "數學", "grade": 10, "credits": 4, "teacher_id": scene.teacher.person.id}  # fmt: skip
    return {**values, **changes}


async def test_saving_each_kind_of_record_after_the_window_is_window_closed_with_its_dates(scene, clock):
    staff, sid = await scene.staff.actor(), scene.student.person.id
    clock.set(AFTER_TERM_1_RECORDS)
    saves = (
        records.save_course_record(staff, **_course(scene, course_code="11512345611A1B2C3D4E5F9", subject_name="物理")),
        records.save_course_record(staff, **_course(scene, credits=3)),  # an update of a live row
        records.save_cadre_record(staff, student_id=sid, academic_year=YEAR, term=1, level=CadreLevel.CLASS, unit="101班",
                                  position="班長", starts_on=date(2026, 9, 1)),
        records.save_enrolment(staff, student_id=sid, academic_year=YEAR, term=1, grade=10, class_code="101"),
    )  # fmt: skip
    for save in saves:
        error = await _error(save)
        assert (error.code, error.details) == ("WINDOW_CLOSED", TERM_1_RECORDS)
        assert "2027-02-19" in error.message_zh and "school records entry" in error.message_en
    assert (await CourseRecord.get(id=scene.records["math"].id)).credits == 4
    assert not await EnrolmentRecord.filter(student_id=sid).exists()


async def test_a_terms_records_open_30_days_before_it_starts_and_not_earlier(scene, clock):
    clock.set(at(2027, 1, 11, 23))  # the evening before term 2's records open (term 2 starts 2027-02-11)
    error = await _error(records.save_course_record(await scene.staff.actor(), **_course(scene, term=2, course_code="11512345611A1B2C3D4E5F7")))
    assert (error.code, error.details["opens_on"], error.details["closes_on"], error.details["term"]) == (
        "WINDOW_CLOSED", "2027-01-12", "2027-07-30", 2,
    )  # fmt: skip
    clock.set(at(2027, 1, 12, 0))  # during term 1: term 2's course choices are registered
    assert (await records.save_course_record(await scene.staff.actor(), **_course(scene, term=2, course_code="11512345611A1B2C3D4E5F7"))).term == 2


async def test_saving_what_is_already_stored_after_the_window_writes_nothing_and_is_not_refused(scene, clock):
    clock.set(AFTER_TERM_1_RECORDS)
    row = await records.save_course_record(await scene.staff.actor(), **_course(scene))
    assert row.id == scene.records["math"].id
    assert not await AuditEntry.filter(school_id=scene.school.id, action="update_course_record").exists()


async def test_deleting_after_the_window_is_window_closed_and_a_submitted_row_stays_immutable(scene, clock, central):
    staff = await scene.staff.actor()
    clock.set(AFTER_TERM_1_RECORDS)
    error = await _error(records.delete_record(staff, "course_record", scene.records["chinese"].id))
    assert (error.code, error.details["window"], error.details["closes_on"]) == ("WINDOW_CLOSED", "records", "2027-02-19")
    assert await CourseRecord.exists(id=scene.records["chinese"].id)
    await submission.create_batch(staff, YEAR, 1)
    assert (await _error(records.delete_record(staff, "course_record", scene.records["chinese"].id))).code == "IMMUTABLE"


async def test_a_term_without_a_calendar_takes_no_records(scene, clock):
    await SchoolTerm.filter(school_id=scene.school.id, academic_year=YEAR, term=2).delete()
    error = await _error(records.save_course_record(await scene.staff.actor(), **_course(scene, term=2)))
    assert (error.code, error.details) == ("TERM_NOT_SET", {"academic_year": 115, "term": 2})


async def _numbers(scene: Any) -> dict[str, str]:
    await Person.filter(id=scene.teacher.person.id).update(staff_number=f"T{scene.school.code}")
    return {"n": scene.student.person.student_number, "t": f"T{scene.school.code}"}


IMPORT = """student_number,academic_year,term,course_code,subject_name,grade,credits,score
{n},115,1,11512345611A1B2C3D4E5F9,物理,10,2,88
{n},115,2,11512345611A1B2C3D4E5F8,化學,10,2,
"""


async def test_an_import_reports_each_row_outside_its_window_and_writes_nothing(scene, clock):
    staff = await scene.staff.actor()
    clock.set(at(2027, 3, 1))  # term 1 closed on 2027-02-19, term 2 is open
    data = IMPORT.format(**await _numbers(scene)).encode()
    for dry_run in (True, False):
        report = await import_records(staff, RecordImportKind.COURSE_RECORDS, data, dry_run=dry_run)
        assert (report.ok, report.rows, report.written) == (False, 2, 1)
        [error] = report.errors
        assert (error.row, error.column, error.code) == (2, "term", "WINDOW_CLOSED")
        assert "學校登錄基本資料及修課紀錄" in error.message_zh and "2027-02-19" in error.message_en
    # all or nothing: the open term's row was rolled back with the refused one
    assert not await CourseRecord.filter(student_id=scene.student.person.id, subject_name__in=["物理", "化學"]).exists()


async def test_reimporting_a_closed_terms_rows_unchanged_passes(scene, clock):
    staff = await scene.staff.actor()
    data = IMPORT.format(**await _numbers(scene)).encode()
    clock.set(at(2027, 2, 15))  # both terms open
    assert (await import_records(staff, RecordImportKind.COURSE_RECORDS, data)).ok
    clock.set(at(2027, 3, 1))
    changed_term_2 = data.decode().replace("化學,10,2,\n", "化學,10,2,70\n").encode()
    again = await import_records(staff, RecordImportKind.COURSE_RECORDS, changed_term_2)
    assert (again.ok, again.written) == (True, 2)
    assert str((await CourseRecord.get(subject_name="化學", student_id=scene.student.person.id)).score) == "70.00"


async def test_graphql_save_and_import_carry_the_window_and_its_dates(scene, gql, clock):
    clock.set(AFTER_TERM_1_RECORDS)
    await gql.sign_in_as(scene.staff)
    save = """mutation($s: ID!) { saveEnrolmentRecord(input: {studentId: $s, academicYear: 115, term: 1, grade: 10,
      classCode: "101"}) { id } }"""
    result = await gql.execute(save, {"s": ops.gid("Person", scene.student.person.id)})
    extensions = result["errors"][0]["extensions"]
    assert (extensions["code"], extensions["details"]["window_zh"], extensions["details"]["opens_on"]) == (
        "WINDOW_CLOSED", "學校登錄基本資料及修課紀錄", "2026-08-01",
    )  # fmt: skip
    text = base64.b64encode(IMPORT.format(**await _numbers(scene)).encode()).decode()
    query = "mutation($f: String!) { importPortfolioRecords(kind: COURSE_RECORDS, fileBase64: $f) { ok written errors { row column code messageEn } } }"
    report = (await gql.ok(query, {"f": text}))["importPortfolioRecords"]
    assert (report["ok"], [(e["row"], e["column"], e["code"]) for e in report["errors"]]) == (False, [(2, "term", "WINDOW_CLOSED")])
    assert "2027-02-19" in report["errors"][0]["messageEn"]


async def test_after_the_window_a_correction_is_the_only_change_and_is_audited(scene, clock, central):
    staff = await scene.staff.actor()
    batch = await submission.create_batch(staff, YEAR, 1)
    math = scene.records["math"]
    snapshot = (await SubmissionItem.get(batch_id=batch.id, item_type="course_record", item_id=math.id)).content
    clock.set(AFTER_TERM_1_RECORDS)
    assert (await _error(records.correct_record(staff, "course_record", math.id, "  ", {"credits": 3}))).code == "INVALID_INPUT"
    assert (await _error(records.correct_record(staff, "course_record", math.id, "學分更正", {}))).code == "INVALID_INPUT"
    fixed = await records.correct_record(staff, "course_record", math.id, "學分數登錄錯誤", {"credits": 3})
    assert (fixed.credits, fixed.supersedes_id, fixed.late_reason, fixed.frozen_at) == (3, math.id, "學分數登錄錯誤", None)
    old = await CourseRecord.get(id=math.id)
    assert (old.credits, old.superseded_at is not None, old.frozen_at is not None) == (4, True, True)
    assert (await SubmissionItem.get(batch_id=batch.id, item_type="course_record", item_id=math.id)).content == snapshot
    late = await LateAddition.get(item_type="course_record", item_id=fixed.id)
    assert (late.replaces_id, late.reason, late.created_by_account_id) == (math.id, "學分數登錄錯誤", scene.staff.account.id)
    entry = await AuditEntry.get(school_id=scene.school.id, action="correct_course_record", record_id=str(fixed.id))
    assert (entry.account_id, entry.acting_role, entry.changes["replaces"], entry.changes["reason"]) == (
        scene.staff.account.id, "staff", math.id, "學分數登錄錯誤",
    )  # fmt: skip
    assert entry.at is not None
    # the new row is final too: outside the window it changes again only by another 補件
    assert (await _error(records.save_course_record(staff, **_course(scene, credits=2)))).code == "WINDOW_CLOSED"
    assert (await _error(records.correct_record(staff, "course_record", math.id, "再改", {"credits": 2}))).code == "IMMUTABLE"
    assert (await records.correct_record(staff, "course_record", fixed.id, "再更正", {"credits": 2})).supersedes_id == fixed.id


async def test_a_correction_of_a_row_its_open_window_still_lets_staff_edit_is_record_not_final(scene, clock):
    staff, math = await scene.staff.actor(), scene.records["math"]
    error = await _error(records.correct_record(staff, "course_record", math.id, "學分更正", {"credits": 3}))  # 2026-10-15
    assert (error.code, error.details["window"], error.details["closes_on"]) == ("RECORD_NOT_FINAL", "records", "2027-02-19")
    assert "2027-02-19" in error.message_zh and "ordinary save" in error.message_en
    assert not await LateAddition.filter(school_id=scene.school.id).exists()
    assert (await CourseRecord.get(id=math.id)).superseded_at is None
    assert (await records.save_course_record(staff, **_course(scene, credits=3))).credits == 3  # the way while it is open


async def test_a_submitted_row_is_corrected_in_any_window_and_a_term_without_a_calendar_has_final_rows(scene, clock, central):
    staff = await scene.staff.actor()
    await submission.create_batch(staff, YEAR, 1)  # 2026-10-15: term 1's window is open, its rows are frozen
    fixed = await records.correct_record(staff, "course_record", scene.records["math"].id, "學分數登錄錯誤", {"credits": 3})
    assert (fixed.credits, fixed.supersedes_id) == (3, scene.records["math"].id)
    await SchoolTerm.filter(school_id=scene.school.id, academic_year=YEAR, term=2).delete()
    fixed = await records.correct_record(staff, "course_record", scene.records["math2"].id, "學分數登錄錯誤", {"credits": 3})
    assert fixed.supersedes_id == scene.records["math2"].id  # no open window, so no ordinary save either


async def test_only_staff_correct_records(scene, clock):
    clock.set(AFTER_TERM_1_RECORDS)
    error = await _error(records.correct_record(await scene.teacher.actor(), "course_record", scene.records["math"].id, "改", {"credits": 3}))
    assert error.code == "FORBIDDEN"


async def test_a_school_moves_its_records_deadline_within_bounds_and_a_bureau_may_lock_it(scene, clock):
    staff = await scene.staff.actor()
    assert (await _error(set_school_policy(staff, YEAR, {"records_days_after_ceremony": 5}))).code == "INVALID_INPUT"
    assert (await _error(set_school_policy(staff, YEAR, {"records_days_after_ceremony": 61}))).code == "INVALID_INPUT"
    await set_school_policy(staff, YEAR, {"records_days_after_ceremony": 45})
    clock.set(AFTER_TERM_1_RECORDS)
    assert (await records.save_course_record(staff, **_course(scene, credits=3))).credits == 3  # open until 2027-03-06

    async def bureau(school_id: int, academic_year: int) -> list[dict]:
        return [{"_source": "bureau:test", "records_days_after_ceremony": 20, "locked_for_schools": ["records_days_after_ceremony"]}]

    saved = list(BUREAU_LAYER_PROVIDERS)
    BUREAU_LAYER_PROVIDERS[:] = [bureau]
    try:
        # the school's 45 was stored before the lock: dropped at resolution, the bureau's 20 holds
        assert (await _error(records.save_course_record(staff, **_course(scene, credits=2)))).details["closes_on"] == "2027-02-09"
        assert (await _error(set_school_policy(staff, YEAR, {"records_days_after_ceremony": 30}))).code == "POLICY_FIELD_LOCKED"
    finally:
        BUREAU_LAYER_PROVIDERS[:] = saved


async def test_the_records_window_is_listed_with_the_others_and_in_the_policy(scene, gql, clock):
    await gql.sign_in_as(scene.staff)
    query = """{ portfolioProgress(academicYear: 115) { windows { name nameZh nameEn term opensOn closesOn isOpen } }
                 portfolioPolicy(academicYear: 115) { recordsDaysAfterCeremony recordsOpensDaysBeforeStart } }"""
    data = await gql.ok(query)
    listed = [w for w in data["portfolioProgress"]["windows"] if w["name"] == "records"]
    assert listed == [
        {"name": "records", "nameZh": "學校登錄基本資料及修課紀錄", "nameEn": "school records entry", "term": 1,
         "opensOn": "2026-08-01", "closesOn": "2027-02-19", "isOpen": True},
        {"name": "records", "nameZh": "學校登錄基本資料及修課紀錄", "nameEn": "school records entry", "term": 2,
         "opensOn": "2027-01-12", "closesOn": "2027-07-30", "isOpen": False},
    ]  # fmt: skip
    assert data["portfolioPolicy"] == {"recordsDaysAfterCeremony": 30, "recordsOpensDaysBeforeStart": 30}
    await gql.sign_in_as(scene.student)
    terms = (await gql.ok("{ myPortfolio(academicYear: 115) { terms { term recordsWindow { closesOn } } } }"))["myPortfolio"]["terms"]
    assert terms == [{"term": 1, "recordsWindow": {"closesOn": "2027-02-19"}}, {"term": 2, "recordsWindow": {"closesOn": "2027-07-30"}}]


async def test_an_import_reads_the_calendar_and_policy_once_per_year_whatever_its_rows(scene, clock):
    from tests.statements import counting

    clock.set(at(2027, 2, 15))  # both terms open
    staff, number = await scene.staff.actor(), scene.student.person.student_number
    header = "student_number,academic_year,term,course_code,subject_name,grade,credits\n"

    def csv(rows: int, first: int) -> bytes:
        return (header + "".join(f"{number},115,{1 + i % 2},11512345611A1B2C3D4E{first + i:03d},科目{i},10,2\n" for i in range(rows))).encode()

    seen = []
    for rows, first in ((1, 0), (20, 100)):
        with counting() as statements:
            assert (await import_records(staff, RecordImportKind.COURSE_RECORDS, csv(rows, first))).written == rows
        seen.append(sum("school_term" in s for s in statements.seen))
    assert seen == [1, 1]
