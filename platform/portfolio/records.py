"""Basic data and course records, entered by the school (基本資料、修課紀錄).

Staff write enrolment, cadre and course records (one at a time here, or in bulk
with ``records_import``); course-counseling records are in ``counseling``. A
term's records are written in the term's records window (``SchoolCalendar.records``);
once it closed, or once a submission batch took a row, the row is final: a
correction is an explicit 補件 (``correct_record``) that adds a new row and keeps
the old one.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.portfolio import clock, reads
from licheng.portfolio.access import student_in_school
from licheng.portfolio.errors import Immutable
from licheng.portfolio.models import (
    CadreLevel,
    CadreRecord,
    CourseOutcome,
    CourseRecord,
    EnrolmentRecord,
    EnrolmentStatus,
    LateAddition,
)
from licheng.portfolio.policy import Policy, policy_with
from licheng.portfolio.windows import SchoolCalendar, Window, calendar_of
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Membership, Person, Role

COURSE_CODE = re.compile(r"^[0-9A-Za-z]{23}$")
RECORD_MODELS: dict[str, type[Model]] = {
    "enrolment": EnrolmentRecord,
    "cadre": CadreRecord,
    "course_record": CourseRecord,
}
_WHAT = {"enrolment": ("enrolment record", "學籍資料"), "cadre": ("cadre record", "幹部紀錄"), "course_record": ("course record", "修課紀錄")}


def check_year_term(academic_year: int, term: int, *, yearly: bool = False) -> None:
    if not 100 <= academic_year <= 200:
        raise InvalidInput("academic_year", "學年度以民國年表示，例如 115", "The academic year is a ROC year, e.g. 115")
    if term not in ((0, 1, 2) if yearly else (1, 2)):
        raise InvalidInput("term", "學期須為 1 或 2", "The term is 1 or 2")


def check_grade(grade: int) -> None:
    if grade not in (10, 11, 12):
        raise InvalidInput("grade", "年級須為 10、11 或 12", "The grade is 10, 11 or 12")


def clean_text(name: str, value: str | None, max_len: int, *, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(name, "此欄必填", f"{name} is required")
        return None
    if len(value) > max_len:
        raise InvalidInput(name, f"長度不可超過 {max_len}", f"{name} is at most {max_len} characters", limit=max_len)
    return value


def ensure_mutable(row: Any, what_en: str, what_zh: str) -> None:
    if getattr(row, "superseded_at", None) is not None:
        raise Immutable(what_en, what_zh, "superseded")
    if row.frozen_at is not None:
        raise Immutable(what_en, what_zh, "submitted")


class RecordWindows:
    """The records window of each (school, year, term), resolved once per year: an import of a
    thousand rows reads the calendar and the policy once per academic year, not once per row."""

    def __init__(self) -> None:
        self._years: dict[tuple[int, int], tuple[Policy, SchoolCalendar]] = {}

    async def of(self, school_id: int, academic_year: int, term: int) -> Window:
        key = (school_id, academic_year)
        if key not in self._years:
            zone, terms, override = await reads.year_rows(school_id, academic_year)  # calendar and school layer at once
            policy = await policy_with(school_id, academic_year, override)
            self._years[key] = (policy, calendar_of(school_id, academic_year, zone, terms))
        policy, calendar = self._years[key]
        return calendar.records(policy, term)

    async def require_open(self, school_id: int, academic_year: int, term: int) -> None:
        """WINDOW_CLOSED (window "records", its dates) outside it; TERM_NOT_SET without a calendar."""
        (await self.of(school_id, academic_year, term)).require_open()


async def _teacher(school_id: int, teacher_id: int | None) -> int | None:
    if teacher_id is None:
        return None
    if not await Membership.exists(school_id=school_id, person_id=teacher_id, role=Role.TEACHER):
        raise NotFound("teacher", "教師")
    return teacher_id


async def _upsert(actor: Actor, kind: str, lookup: dict[str, Any], values: dict[str, Any],
                  windows: RecordWindows | None) -> tuple[Any, bool]:  # fmt: skip
    """Create or update the live row (not superseded) found by ``lookup``; frozen rows refuse, and
    so does any write outside the term's records window. Saving what is already stored writes
    nothing and is not refused, so a re-import of a whole year's export stays possible."""
    model = RECORD_MODELS[kind]
    windows = windows or RecordWindows()
    when = (lookup["school_id"], lookup["academic_year"], lookup["term"])
    row: Any = await model.filter(**lookup, superseded_at=None).first()
    if row is None:
        await windows.require_open(*when)
        row = await model.create(**lookup, **values)
        await audit.record(actor, f"create_{kind}", kind, row.id, student_id=lookup["student_id"], changes=_plain(values))
        return row, True
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if changed:
        ensure_mutable(row, *_WHAT[kind])
        await windows.require_open(*when)
        await model.filter(id=row.id).update(**changed)
        for key, value in changed.items():
            setattr(row, key, value)
        await audit.record(actor, f"update_{kind}", kind, row.id, student_id=lookup["student_id"], changes=_plain(changed))
    return row, False


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, (date, Decimal)) else getattr(v, "value", v)) for k, v in values.items()}


def parse_score(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        score = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput("score", "成績須為數字", "The score is a number") from None
    if not Decimal(0) <= score <= Decimal(100):
        raise InvalidInput("score", "成績須介於 0 到 100", "The score is between 0 and 100")
    return score.quantize(Decimal("0.01"))


async def save_course_record(
    actor: Actor, *, student_id: int, academic_year: int, term: int, course_code: str, subject_name: str,
    grade: int, credits: int, score: Any = None, passed: bool | None = None, teacher_id: int | None = None,
    windows: RecordWindows | None = None,
) -> CourseRecord:  # fmt: skip
    """Register or update a course record (修課紀錄); the course code is the 23-character 課程代碼."""
    school_id = actor.require_role(Role.STAFF)
    await student_in_school(actor, student_id)
    check_year_term(academic_year, term)
    check_grade(grade)
    code = (course_code or "").strip()
    if not COURSE_CODE.match(code):
        raise InvalidInput("course_code", "課程代碼須為 23 碼英數字", "The course code is 23 letters or digits", length=len(code))
    if not 0 <= credits <= 20:
        raise InvalidInput("credits", "學分數須介於 0 到 20", "Credits are between 0 and 20")
    values = {
        "subject_name": clean_text("subject_name", subject_name, 100), "grade": grade, "credits": credits,
        "score": parse_score(score), "passed": passed, "teacher_id": await _teacher(school_id, teacher_id),
    }  # fmt: skip
    lookup = {"school_id": school_id, "student_id": student_id, "academic_year": academic_year, "term": term, "course_code": code}
    row, _ = await _upsert(actor, "course_record", lookup, values, windows)
    return row  # type: ignore[return-value]


async def save_cadre_record(
    actor: Actor, *, student_id: int, academic_year: int, term: int, level: CadreLevel, unit: str, position: str,
    starts_on: date, ends_on: date | None = None, windows: RecordWindows | None = None,
) -> CadreRecord:  # fmt: skip
    """Register a cadre post (校級/班級/社團幹部): it goes with basic data and is not among the 10."""
    school_id = actor.require_role(Role.STAFF)
    await student_in_school(actor, student_id)
    check_year_term(academic_year, term)
    if ends_on is not None and ends_on < starts_on:
        raise InvalidInput("ends_on", "結束日期須在開始日期之後", "The end date must follow the start date")
    lookup = {
        "school_id": school_id, "student_id": student_id, "academic_year": academic_year, "term": term,
        "unit": clean_text("unit", unit, 100), "position": clean_text("position", position, 50),
    }  # fmt: skip
    values = {"level": CadreLevel(level), "starts_on": starts_on, "ends_on": ends_on}
    row, _ = await _upsert(actor, "cadre", lookup, values, windows)
    return row  # type: ignore[return-value]


async def save_enrolment(
    actor: Actor, *, student_id: int, academic_year: int, term: int, grade: int, class_code: str,
    seat: int | None = None, department: str | None = None, status: EnrolmentStatus = EnrolmentStatus.ENROLLED,
    windows: RecordWindows | None = None,
) -> EnrolmentRecord:  # fmt: skip
    """Register a student's enrolment data (學籍資料) for a term."""
    school_id = actor.require_role(Role.STAFF)
    await student_in_school(actor, student_id)
    check_year_term(academic_year, term)
    check_grade(grade)
    if seat is not None and not 1 <= seat <= 99:
        raise InvalidInput("seat", "座號須介於 1 到 99", "The seat is between 1 and 99")
    values = {
        "grade": grade, "class_code": clean_text("class_code", class_code, 16), "seat": seat,
        "department": clean_text("department", department, 50, required=False), "status": EnrolmentStatus(status),
    }  # fmt: skip
    lookup = {"school_id": school_id, "student_id": student_id, "academic_year": academic_year, "term": term}
    row, _ = await _upsert(actor, "enrolment", lookup, values, windows)
    return row  # type: ignore[return-value]


async def get_record(actor: Actor, kind: str, record_id: int) -> Any:
    school_id = actor.require_school()
    model = RECORD_MODELS.get(kind)
    row = await model.get_or_none(id=record_id, school_id=school_id) if model else None
    if row is None:
        raise NotFound(_WHAT.get(kind, ("record", "資料"))[0], _WHAT.get(kind, ("record", "資料"))[1])
    return row


async def delete_record(actor: Actor, kind: str, record_id: int) -> None:
    """Staff remove a wrongly entered row, only in its term's records window and before any
    submission took it."""
    actor.require_role(Role.STAFF)
    row = await get_record(actor, kind, record_id)
    ensure_mutable(row, *_WHAT[kind])
    await RecordWindows().require_open(row.school_id, row.academic_year, row.term)
    if kind == "course_record" and await CourseOutcome.exists(course_record_id=row.id):
        raise LichengError("RECORD_IN_USE", "已有學生的課程學習成果連結此修課紀錄", "Course outcomes are attached to this course record")
    await row.delete()
    await audit.record(actor, f"delete_{kind}", kind, record_id, student_id=row.student_id)


async def correct_record(actor: Actor, kind: str, record_id: int, reason: str, changes: dict[str, Any]) -> Any:
    """補件: a staff correction of a row that is final (its window closed, or a submission took it).
    Works in any window: a new row supersedes the old one, which stays as it was (and so does any
    submission's snapshot of it); the new row carries the reason (``late_reason``), a LateAddition
    entry and an audit entry name who and when."""
    school_id = actor.require_role(Role.STAFF)
    reason_text = clean_text("reason", reason, 200)
    if not changes:
        raise InvalidInput("changes", "請指定要更正的欄位", "Name at least one field to correct")
    old = await get_record(actor, kind, record_id)
    if old.superseded_at is not None:
        raise Immutable(*_WHAT[kind], "superseded")
    allowed = {
        "course_record": {"subject_name", "grade", "credits", "score", "passed", "teacher_id"},
        "cadre": {"level", "unit", "position", "starts_on", "ends_on"},
        "enrolment": {"grade", "class_code", "seat", "department", "status"},
    }[kind]
    if unknown := set(changes) - allowed:
        raise InvalidInput(sorted(unknown)[0], "此欄位不可更正", "This field cannot be corrected", allowed=sorted(allowed))
    if "score" in changes:
        changes["score"] = parse_score(changes["score"])
    if "teacher_id" in changes:
        changes["teacher_id"] = await _teacher(school_id, changes["teacher_id"])
    model = RECORD_MODELS[kind]
    copy = {f: getattr(old, f) for f in old._meta.db_fields if f not in {"id", "created_at", "updated_at", "frozen_at", "superseded_at", "supersedes_id", "late_reason"}}  # noqa: SLF001
    copy.update(changes)
    async with in_transaction():
        claimed = await model.filter(id=old.id, superseded_at=None).update(superseded_at=clock.now())
        if claimed != 1:
            raise Immutable(*_WHAT[kind], "superseded")
        new: Any = await model.create(**copy, supersedes_id=old.id, late_reason=reason_text)
        await LateAddition.create(
            school_id=school_id, student_id=old.student_id, academic_year=old.academic_year, item_type=kind,
            item_id=new.id, replaces_id=old.id, reason=reason_text, created_by_account_id=actor.account_id,
        )  # fmt: skip
        await audit.record(actor, f"correct_{kind}", kind, new.id, student_id=old.student_id,
                           changes={"replaces": old.id, "reason": reason_text, **_plain(changes)})  # fmt: skip
    return new


async def person_names(ids: list[int]) -> dict[int, str]:
    return dict(await Person.filter(id__in=list(set(ids))).values_list("id", "name"))
