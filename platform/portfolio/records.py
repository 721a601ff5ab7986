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
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.portfolio import clock
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
from licheng.portfolio.windows import Window, YearContext, year_context
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
    if isinstance(grade, bool) or not isinstance(grade, int) or grade not in (10, 11, 12):
        raise InvalidInput("grade", "年級須為 10、11 或 12", "The grade is 10, 11 or 12")


def clean_text(name: str, value: str | None, max_len: int, *, required: bool = True) -> str | None:
    if value is not None and not isinstance(value, str):  # a correction's JSON may carry anything
        raise InvalidInput(name, "此欄須為文字", f"{name} is text")
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(name, "此欄必填", f"{name} is required")
        return None
    if len(value) > max_len:
        raise InvalidInput(name, f"長度不可超過 {max_len}", f"{name} is at most {max_len} characters", limit=max_len)
    return value


def check_course_code(value: Any) -> str:
    code = value.strip() if isinstance(value, str) else ""
    if not COURSE_CODE.match(code):
        raise InvalidInput("course_code", "課程代碼須為 23 碼英數字", "The course code is 23 letters or digits", length=len(code))
    return code


def _whole(name: str, value: Any, low: int, high: int, zh: str, en: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(name, zh, en, low=low, high=high)
    return value


E = TypeVar("E", bound=Enum)


def _choice(kind: type[E], name: str, value: Any) -> E:
    """An enum member from itself or its value (any case: "club", or the GraphQL name "CLUB")."""
    if isinstance(value, kind):
        return value
    try:
        return kind(value.lower() if isinstance(value, str) else value)
    except ValueError:
        raise InvalidInput(name, "不是可選的值", f"{name} is not one of the choices", allowed=[m.value for m in kind]) from None


def _day(name: str, value: Any, *, required: bool = False) -> date | None:
    """A date, or its ISO text (what a correction's JSON carries)."""
    if value is None or value == "":
        if required:
            raise InvalidInput(name, "此欄必填", f"{name} is required")
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        pass
    raise InvalidInput(name, "日期格式須為 YYYY-MM-DD", f"{name} is a date (YYYY-MM-DD)")


def _flag(name: str, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(name, "須為是或否", f"{name} is true or false")
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
        self._years: dict[tuple[int, int], YearContext] = {}

    async def of(self, school_id: int, academic_year: int, term: int) -> Window:
        key = (school_id, academic_year)
        if key not in self._years:
            self._years[key] = await year_context(school_id, academic_year)  # the same read as every view's
        context = self._years[key]
        return context.calendar.records(context.policy, term)

    async def require_open(self, school_id: int, academic_year: int, term: int) -> None:
        """WINDOW_CLOSED (window "records", its dates) outside it; TERM_NOT_SET without a calendar."""
        (await self.of(school_id, academic_year, term)).require_open()


def _teacher_id(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput("teacher_id", "教師須以編號指定", "teacher_id names a teacher")
    return value


async def _teacher(school_id: int, teacher_id: int | None) -> int | None:
    """The teacher is one of the school's: checked when a row names him, not again when a correction
    of another field copies him (he may have left the school since)."""
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
    if not score.is_finite() or not Decimal(0) <= score <= Decimal(100):  # NaN would not even compare
        raise InvalidInput("score", "成績須介於 0 到 100", "The score is between 0 and 100")
    return score.quantize(Decimal("0.01"))


def _course_fields(*, course_code: Any, subject_name: Any, grade: Any, credits: Any, score: Any = None,
                   passed: Any = None, teacher_id: Any = None) -> dict[str, Any]:  # fmt: skip
    """A course record's fields, checked: shared by saves, imports and corrections."""
    check_grade(grade)
    code = check_course_code(course_code)
    return {
        "course_code": code, "subject_name": clean_text("subject_name", subject_name, 100), "grade": grade,
        "credits": _whole("credits", credits, 0, 20, "學分數須介於 0 到 20", "Credits are between 0 and 20"),
        "score": parse_score(score), "passed": _flag("passed", passed), "teacher_id": _teacher_id(teacher_id),
    }  # fmt: skip


def _cadre_fields(*, level: Any, unit: Any, position: Any, starts_on: Any, ends_on: Any = None) -> dict[str, Any]:
    starts, ends = _day("starts_on", starts_on, required=True), _day("ends_on", ends_on)
    if ends is not None and starts is not None and ends < starts:
        raise InvalidInput("ends_on", "結束日期須在開始日期之後", "The end date must follow the start date")
    return {
        "unit": clean_text("unit", unit, 100), "position": clean_text("position", position, 50),
        "level": _choice(CadreLevel, "level", level), "starts_on": starts, "ends_on": ends,
    }  # fmt: skip


def _enrolment_fields(*, grade: Any, class_code: Any, seat: Any = None, department: Any = None,
                      status: Any = EnrolmentStatus.ENROLLED) -> dict[str, Any]:  # fmt: skip
    check_grade(grade)
    if seat is not None:
        _whole("seat", seat, 1, 99, "座號須介於 1 到 99", "The seat is between 1 and 99")
    return {
        "grade": grade, "class_code": clean_text("class_code", class_code, 16), "seat": seat,
        "department": clean_text("department", department, 50, required=False),
        "status": _choice(EnrolmentStatus, "status", status),
    }  # fmt: skip


_FIELDS: dict[str, Callable[..., dict[str, Any]]] = {"course_record": _course_fields, "cadre": _cadre_fields, "enrolment": _enrolment_fields}
# Fields that, with student, year and term, name the live row a save updates (``_upsert``'s lookup).
_IDENTITY = {"course_record": ("course_code",), "cadre": ("unit", "position"), "enrolment": ()}
CORRECTABLE = {
    "course_record": ("course_code", "subject_name", "grade", "credits", "score", "passed", "teacher_id"),
    "cadre": ("level", "unit", "position", "starts_on", "ends_on"),
    "enrolment": ("grade", "class_code", "seat", "department", "status"),
}


async def _save(actor: Actor, kind: str, student_id: int, academic_year: int, term: int,
                fields: dict[str, Any], windows: RecordWindows | None) -> Any:  # fmt: skip
    school_id = actor.require_role(Role.STAFF)
    await student_in_school(actor, student_id)
    check_year_term(academic_year, term)
    checked = _FIELDS[kind](**fields)
    if "teacher_id" in checked:
        await _teacher(school_id, checked["teacher_id"])
    lookup = {"school_id": school_id, "student_id": student_id, "academic_year": academic_year, "term": term}
    lookup.update({name: checked.pop(name) for name in _IDENTITY[kind]})
    row, _ = await _upsert(actor, kind, lookup, checked, windows)
    return row


async def save_course_record(
    actor: Actor, *, student_id: int, academic_year: int, term: int, course_code: str, subject_name: str,
    grade: int, credits: int, score: Any = None, passed: bool | None = None, teacher_id: int | None = None,
    windows: RecordWindows | None = None,
) -> CourseRecord:  # fmt: skip
    """Register or update a course record (修課紀錄); the course code is the 23-character 課程代碼."""
    fields = {"course_code": course_code, "subject_name": subject_name, "grade": grade, "credits": credits,
              "score": score, "passed": passed, "teacher_id": teacher_id}  # fmt: skip
    return await _save(actor, "course_record", student_id, academic_year, term, fields, windows)  # type: ignore[no-any-return]


async def save_cadre_record(
    actor: Actor, *, student_id: int, academic_year: int, term: int, level: CadreLevel, unit: str, position: str,
    starts_on: date, ends_on: date | None = None, windows: RecordWindows | None = None,
) -> CadreRecord:  # fmt: skip
    """Register a cadre post (校級/班級/社團幹部): it goes with basic data and is not among the 10."""
    fields = {"level": level, "unit": unit, "position": position, "starts_on": starts_on, "ends_on": ends_on}
    return await _save(actor, "cadre", student_id, academic_year, term, fields, windows)  # type: ignore[no-any-return]


async def save_enrolment(
    actor: Actor, *, student_id: int, academic_year: int, term: int, grade: int, class_code: str,
    seat: int | None = None, department: str | None = None, status: EnrolmentStatus = EnrolmentStatus.ENROLLED,
    windows: RecordWindows | None = None,
) -> EnrolmentRecord:  # fmt: skip
    """Register a student's enrolment data (學籍資料) for a term."""
    fields = {"grade": grade, "class_code": class_code, "seat": seat, "department": department, "status": status}
    return await _save(actor, "enrolment", student_id, academic_year, term, fields, windows)  # type: ignore[no-any-return]


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


class RecordNotFinal(LichengError):
    """A 補件 of a row its records window still lets staff edit: it would read as a late addition."""

    def __init__(self, window: Window) -> None:
        super().__init__(
            "RECORD_NOT_FINAL",
            f"此紀錄尚未定案：「{window.name_zh}」期間（至 {window.closes_on}）內請直接修改，不需補件",
            f"The record is not final: while the {window.name_en} window is open (until {window.closes_on}) use the ordinary save",
            window=window.name, opens_on=window.opens_on.isoformat(), closes_on=window.closes_on.isoformat(),
            academic_year=window.academic_year, term=window.term,
        )  # fmt: skip


async def _require_final(row: Any) -> None:
    """A row is final once a submission froze it (in any window) or once its records window is not
    open; a term without a calendar has no open window, so its rows are final too."""
    if row.frozen_at is not None:
        return
    try:
        window = await RecordWindows().of(row.school_id, row.academic_year, row.term)
    except LichengError as error:
        if error.code == "TERM_NOT_SET":
            return
        raise
    if window.is_open():
        raise RecordNotFinal(window)


async def correct_record(actor: Actor, kind: str, record_id: int, reason: str, changes: dict[str, Any]) -> Any:
    """補件: a staff correction of a row that is final (its window is not open, or a submission took
    it; RECORD_NOT_FINAL otherwise). A new row supersedes the old one, which stays as it was (and so
    does any submission's snapshot of it); the new row passes the checks a save does, carries the
    reason (``late_reason``), and a LateAddition entry and an audit entry name who and when."""
    school_id = actor.require_role(Role.STAFF)
    reason_text = clean_text("reason", reason, 200)
    if not changes:
        raise InvalidInput("changes", "請指定要更正的欄位", "Name at least one field to correct")
    old = await get_record(actor, kind, record_id)
    if old.superseded_at is not None:
        raise Immutable(*_WHAT[kind], "superseded")
    allowed = CORRECTABLE[kind]
    if unknown := set(changes) - set(allowed):
        raise InvalidInput(sorted(unknown)[0], "此欄位不可更正", "This field cannot be corrected", allowed=list(allowed))
    await _require_final(old)
    # The whole corrected row is checked, not only the changed fields: an end date is judged
    # against the start date it will sit with.
    fields = _FIELDS[kind](**{**{f: getattr(old, f) for f in allowed}, **changes})
    if "teacher_id" in changes:
        await _teacher(school_id, fields["teacher_id"])
    identity = {name: fields[name] for name in _IDENTITY[kind]}
    model = RECORD_MODELS[kind]
    if any(name in changes for name in identity) and await model.filter(
        school_id=school_id, student_id=old.student_id, academic_year=old.academic_year, term=old.term, superseded_at=None, **identity
    ).exclude(id=old.id).exists():
        raise InvalidInput(
            sorted(set(identity) & set(changes))[0], f"此學生該學期已有相同的{_WHAT[kind][1]}",
            f"The student already has this {_WHAT[kind][0]} in the term",
        )  # fmt: skip
    corrected = {name: fields[name] for name in changes}
    copy = {f: getattr(old, f) for f in old._meta.db_fields if f not in {"id", "created_at", "updated_at", "frozen_at", "superseded_at", "supersedes_id", "late_reason"}}  # noqa: SLF001
    copy.update(corrected)
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
                           changes={"replaces": old.id, "reason": reason_text, **_plain(corrected)})  # fmt: skip
    return new


async def person_names(ids: list[int]) -> dict[int, str]:
    return dict(await Person.filter(id__in=list(set(ids))).values_list("id", "name"))
