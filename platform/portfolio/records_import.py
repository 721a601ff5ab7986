"""Importing enrolment, cadre and course records from CSV exports of the school's system.

Same approach as the people import (``licheng.tenants.importer``): UTF-8 or
Big5 detected, every row validated, a dry run writes nothing, one bad row
writes nothing at all, and a re-import updates rows by their natural key
(student number + year + term + course code, ...) instead of duplicating.
A row of a term whose records window is not open is a row error (WINDOW_CLOSED,
naming the window and its dates), so it too writes nothing; a row equal to what
is stored changes nothing and passes, so a whole year's export can be re-imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import LichengError
from licheng.portfolio.models import CadreLevel, EnrolmentStatus
from licheng.portfolio.records import RecordWindows, save_cadre_record, save_course_record, save_enrolment
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.importer import RowError, RowInvalid, read_csv
from licheng.tenants.models import Person, Role


class RecordImportKind(str, Enum):
    ENROLMENT = "enrolment"  # 學籍資料
    CADRE = "cadre"  # 幹部紀錄
    COURSE_RECORDS = "course_records"  # 修課紀錄


COLUMNS: dict[RecordImportKind, tuple[list[str], list[str]]] = {
    RecordImportKind.ENROLMENT: (["student_number", "academic_year", "term", "grade", "class_code"], ["seat", "department", "status"]),
    RecordImportKind.CADRE: (["student_number", "academic_year", "term", "level", "unit", "position", "starts_on"], ["ends_on"]),
    RecordImportKind.COURSE_RECORDS: (
        ["student_number", "academic_year", "term", "course_code", "subject_name", "grade", "credits"],
        ["score", "passed", "teacher_staff_number"],
    ),
}


@dataclass
class RecordImportReport:
    kind: RecordImportKind
    dry_run: bool
    rows: int = 0
    written: int = 0
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"

    @property
    def ok(self) -> bool:
        return not self.errors


def parse(kind: RecordImportKind, data: bytes) -> tuple[list[dict[str, str]], str]:
    required, optional = COLUMNS[kind]
    return read_csv(data, required, optional)


def _int(row: dict[str, str], column: str) -> int:
    value = row.get(column, "")
    if not value.lstrip("-").isdigit():
        raise RowInvalid(column, "NOT_A_NUMBER", "須為整數", "Must be a whole number")
    return int(value)


def _date(row: dict[str, str], column: str) -> date | None:
    value = row.get(column, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise RowInvalid(column, "NOT_A_DATE", "日期格式須為 YYYY-MM-DD", "Dates are YYYY-MM-DD") from None


def _choice(enum: type[Enum], row: dict[str, str], column: str, default: Any = None) -> Any:
    value = row.get(column, "").lower()
    if not value and default is not None:
        return default
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(e.value for e in enum)  # type: ignore[attr-defined]
        raise RowInvalid(column, "UNKNOWN_VALUE", f"須為：{choices}", f"Must be one of: {choices}") from None


def _passed(value: str) -> bool | None:
    if not value:
        return None
    if value.lower() in ("1", "y", "yes", "true", "是", "及格", "通過"):
        return True
    if value.lower() in ("0", "n", "no", "false", "否", "不及格", "未通過"):
        return False
    raise RowInvalid("passed", "UNKNOWN_VALUE", "須為 是/否", "Must be yes or no")


async def import_records(actor: Actor, kind: RecordImportKind, data: bytes, *, dry_run: bool = False) -> RecordImportReport:
    """Import one CSV of school records; staff only. Any row error (a closed window too) writes nothing."""
    school_id = actor.require_role(Role.STAFF)
    kind = RecordImportKind(kind)
    rows, encoding = parse(kind, data)
    report = RecordImportReport(kind=kind, dry_run=dry_run, rows=len(rows), encoding=encoding)
    numbers = {r.get("student_number", "") for r in rows} | {r.get("teacher_staff_number", "") for r in rows}
    students = dict(await Person.filter(school_id=school_id, student_number__in=list(numbers)).values_list("student_number", "id"))
    teachers = dict(await Person.filter(school_id=school_id, staff_number__in=list(numbers)).values_list("staff_number", "id"))
    windows = RecordWindows()  # each year's calendar and policy read once for the whole file

    async def one(row: dict[str, str]) -> None:
        student_id = students.get(row.get("student_number", ""))
        if student_id is None:
            raise RowInvalid("student_number", "UNKNOWN_STUDENT", "找不到此學號", "No student with this number")
        common = {"student_id": student_id, "academic_year": _int(row, "academic_year"), "term": _int(row, "term"), "windows": windows}
        if kind == RecordImportKind.ENROLMENT:
            await save_enrolment(actor, **common, grade=_int(row, "grade"), class_code=row["class_code"],
                                 seat=_int(row, "seat") if row.get("seat") else None, department=row.get("department") or None,
                                 status=_choice(EnrolmentStatus, row, "status", EnrolmentStatus.ENROLLED))  # fmt: skip
        elif kind == RecordImportKind.CADRE:
            starts_on = _date(row, "starts_on")
            if starts_on is None:
                raise RowInvalid("starts_on", "REQUIRED", "此欄必填", "This column is required")
            await save_cadre_record(actor, **common, level=_choice(CadreLevel, row, "level"), unit=row["unit"],
                                    position=row["position"], starts_on=starts_on, ends_on=_date(row, "ends_on"))  # fmt: skip
        else:
            teacher_id = None
            if number := row.get("teacher_staff_number"):
                teacher_id = teachers.get(number)
                if teacher_id is None:
                    raise RowInvalid("teacher_staff_number", "UNKNOWN_TEACHER", "找不到此教師編號", "No teacher with this staff number")
            await save_course_record(actor, **common, course_code=row["course_code"], subject_name=row["subject_name"],
                                     grade=_int(row, "grade"), credits=_int(row, "credits"), score=row.get("score") or None,
                                     passed=_passed(row.get("passed", "")), teacher_id=teacher_id)  # fmt: skip

    class _Rollback(Exception):
        pass

    try:
        async with in_transaction():
            for index, row in enumerate(rows):
                try:
                    async with in_transaction():  # a savepoint per row
                        await one(row)
                    report.written += 1
                except RowInvalid as bad:
                    report.errors.append(RowError(index + 2, *bad.error))
                except LichengError as error:
                    column = str(error.details.get("field", "")) if error.details else ""
                    if error.code in ("WINDOW_CLOSED", "TERM_NOT_SET"):
                        column = "term"  # the row's year and term chose the window
                    report.errors.append(RowError(index + 2, column, error.code, error.message_zh, error.message_en))
            if dry_run or report.errors:
                raise _Rollback
            await audit.record(actor, "import_records", kind.value, None, changes={"rows": report.rows})
    except _Rollback:
        pass
    return report
