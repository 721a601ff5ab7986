"""Importing people from CSV: Big5 and UTF-8, per-row errors, dry run, idempotent re-import."""

from __future__ import annotations

import base64

import pytest

from licheng.auth.models import Account
from licheng.tenants import importer
from licheng.tenants.models import Guardianship, Membership, Person, Role, SchoolClass

IMPORT = """mutation($k: ImportKind!, $f: String!, $d: Boolean!) {
  importPeople(kind: $k, fileBase64: $f, dryRun: $d) {
    ok encoding rows created updated unchanged
    errors { row column code messageZh messageEn }
    credentials { login initialPassword }
  }
}"""

CLASSES = "code,name,grade,homeroom_staff_number\n101,1年1班,10,T01\n102,1年2班,10,\n"
TEACHERS = "staff_number,name,login,email,roles\nT01,林老師,lin.t,lin@example.tw,teacher;counselor\nT02,陳老師,chen.t,,teacher\n"
STUDENTS = (
    "student_number,name,class_code,seat,entry_year,national_id,login\n"
    "115001,王小明,101,1,115,A123456789,s115001\n"
    "115002,李小華,101,2,115,,s115002\n"
)


def b64(text: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(text.encode(encoding)).decode()


@pytest.fixture
async def staff_gql(factory, gql):
    school = await factory.school()
    staff = await factory.member(school, Role.STAFF)
    await gql.sign_in_as(staff)
    gql.school = school
    return gql


async def run(gql, kind: str, text: str, *, dry_run: bool = False, encoding: str = "utf-8") -> dict:
    data = await gql.ok(IMPORT, {"k": kind, "f": b64(text, encoding), "d": dry_run})
    return data["importPeople"]


async def test_big5_file_from_a_school_system_is_read(staff_gql):
    """Taiwanese school systems export Big5 (CP950)."""
    await run(staff_gql, "TEACHERS", TEACHERS)
    report = await run(staff_gql, "CLASSES", CLASSES, encoding="cp950")
    assert report["ok"] and report["encoding"] == "big5" and report["created"] == 2
    names = set(await SchoolClass.filter(school_id=staff_gql.school.id).values_list("name", flat=True))
    assert names == {"1年1班", "1年2班"}


async def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_written(staff_gql):
    await run(staff_gql, "TEACHERS", TEACHERS)
    await run(staff_gql, "CLASSES", CLASSES)
    bad = (
        "student_number,name,class_code,seat,entry_year,national_id,login\n"
        "115001,王小明,101,1,115,A123456789,s115001\n"
        "115003,,101,3,115,,\n"
        "115004,張三,999,4,115,,\n"
        "115005,李四,101,abc,115,,\n"
        "115006,趙五,101,6,115,A123456780,\n"
    )
    report = await run(staff_gql, "STUDENTS", bad)
    assert not report["ok"]
    got = {(e["row"], e["column"], e["code"]) for e in report["errors"]}
    assert got == {
        (3, "name", "REQUIRED"),
        (4, "class_code", "UNKNOWN_CLASS"),
        (5, "seat", "OUT_OF_RANGE"),
        (6, "national_id", "NATIONAL_ID_INVALID"),
    }
    assert all(e["messageZh"] and e["messageEn"] for e in report["errors"])
    assert "A123456780" not in str(report)  # the bad ID is not echoed
    assert report["credentials"] == []
    assert not await Person.filter(school_id=staff_gql.school.id, student_number="115001").exists()


async def test_dry_run_checks_everything_and_writes_nothing(staff_gql):
    await run(staff_gql, "TEACHERS", TEACHERS)
    await run(staff_gql, "CLASSES", CLASSES)
    report = await run(staff_gql, "STUDENTS", STUDENTS, dry_run=True)
    assert report["ok"] and report["created"] == 2 and report["credentials"] == []
    assert not await Person.filter(school_id=staff_gql.school.id, student_number__in=["115001", "115002"]).exists()
    assert not await Account.filter(login="s115001").exists()


async def test_reimport_updates_and_never_duplicates(staff_gql):
    await run(staff_gql, "TEACHERS", TEACHERS)
    await run(staff_gql, "CLASSES", CLASSES)
    first = await run(staff_gql, "STUDENTS", STUDENTS)
    assert first["created"] == 2 and len(first["credentials"]) == 2
    again = await run(staff_gql, "STUDENTS", STUDENTS)
    assert again["created"] == 0 and again["unchanged"] == 2 and again["credentials"] == []
    moved = STUDENTS.replace("115002,李小華,101,2", "115002,李小華,102,2")
    third = await run(staff_gql, "STUDENTS", moved)
    assert third["updated"] == 1 and third["unchanged"] == 1
    school_id = staff_gql.school.id
    assert await Person.filter(school_id=school_id, student_number="115002").count() == 1
    student = await Person.get(school_id=school_id, student_number="115002").prefetch_related("school_class")
    assert student.school_class.code == "102"
    assert await Membership.filter(person_id=student.id, role=Role.STUDENT).count() == 1


async def test_national_ids_are_stored_encrypted_and_masked(staff_gql):
    await run(staff_gql, "TEACHERS", TEACHERS)
    await run(staff_gql, "CLASSES", CLASSES)
    await run(staff_gql, "STUDENTS", STUDENTS)
    student = await Person.get(school_id=staff_gql.school.id, student_number="115001")
    assert student.national_id_masked == "A12345****"
    assert b"A123456789" not in bytes(student.national_id_encrypted)


async def test_homeroom_teacher_and_parents_are_linked(staff_gql):
    await run(staff_gql, "TEACHERS", TEACHERS)
    await run(staff_gql, "CLASSES", CLASSES)
    await run(staff_gql, "STUDENTS", STUDENTS)
    report = await run(staff_gql, "PARENTS", "login,name,student_numbers\nparent.wang,王爸爸,115001;115002\n")
    assert report["ok"] and report["created"] == 1
    parent = await Person.get(school_id=staff_gql.school.id, account__login="parent.wang")
    assert await Guardianship.filter(parent_id=parent.id).count() == 2
    homeroom = await Membership.get(school_id=staff_gql.school.id, role=Role.HOMEROOM)
    assert (await SchoolClass.get(id=homeroom.school_class_id)).code == "101"


async def test_missing_columns_are_named(staff_gql):
    code = await staff_gql.error_code(IMPORT, {"k": "STUDENTS", "f": b64("name\nx\n"), "d": False})
    assert code == "INVALID_INPUT"


async def test_only_staff_import(factory, gql):
    school = await factory.school()
    teacher = await factory.member(school, Role.TEACHER)
    await gql.sign_in_as(teacher)
    assert await gql.error_code(IMPORT, {"k": "CLASSES", "f": b64(CLASSES), "d": False}) == "FORBIDDEN"


def test_undecodable_file_is_refused_with_a_clear_error():
    with pytest.raises(importer.LichengError) as caught:
        importer.decode(b"\xff\xfe\xfa\xfb\x80\x81")
    assert caught.value.code == "IMPORT_ENCODING"
