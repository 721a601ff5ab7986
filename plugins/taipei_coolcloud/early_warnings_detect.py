"""Who needs a warning now: the four Taipei early warnings (預警), computed for one school.

Each detector reads the school's calendar and policy (``calendar_for``,
``policy_for``) and the portfolio's batch reads, and returns drafts; it writes
nothing. A draft's ``period`` names the window and its deadline, so the same
draft found again on the next run is the same warning (see ``early_warnings``).
A detector looks at the current academic year and the one before (selection of
year 115 happens in September of 116).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Subquery

from licheng.portfolio import views
from licheng.portfolio.clock import academic_year_of
from licheng.portfolio.models import CourseOutcome, OutcomeStatus, SubstituteAssignment
from licheng.portfolio.policy import Policy, policy_for
from licheng.portfolio.windows import SchoolCalendar, Window, calendar_for
from licheng.tenants.models import Membership, Person, Role, SchoolClass
from taipei_coolcloud.models.early_warnings import WarningKind


@dataclass(frozen=True)
class WarningDraft:
    kind: WarningKind
    recipient_id: int
    period: str
    subject_zh: str
    body_zh: str
    subject_en: str
    body_en: str
    deadline_at: datetime | None


@dataclass(frozen=True)
class Year:
    academic_year: int
    policy: Policy
    calendar: SchoolCalendar


async def _years(school_id: int, now: datetime) -> list[Year]:
    """The current academic year and the previous one, with their rules and calendars."""
    calendar = await calendar_for(school_id, academic_year_of(now.date()))
    today = now.astimezone(ZoneInfo(calendar.time_zone)).date()
    current = academic_year_of(today)
    out = []
    for year in (current - 1, current):
        out.append(Year(year, await policy_for(school_id, year), await calendar_for(school_id, year)))
    return out


def nearing(window: Window, days: int, now: datetime) -> bool:
    """The window is open and closes within ``days`` days (0: this warning is switched off)."""
    return days > 0 and window.is_open(now) and now >= window.closes_at - timedelta(days=days)


def _period(window: Window, suffix: str = "") -> str:
    head = f"{window.academic_year}-{window.term}" if window.term else f"{window.academic_year}-{window.name}"
    return f"{head}@{window.closes_on.isoformat()}{suffix}"


def _d(day: date) -> str:
    return f"{day.year}-{day.month:02d}-{day.day:02d}"


async def _students(school_id: int, class_ids: list[int] | None = None) -> list[Person]:
    query = Person.filter(
        school_id=school_id, active=True,
        id__in=Subquery(Membership.filter(school_id=school_id, role=Role.STUDENT).values("person_id")),
    )  # fmt: skip
    if class_ids is not None:
        query = query.filter(school_class_id__in=class_ids)
    return await query.order_by("seat", "id")


async def _grades(school_id: int) -> dict[int, SchoolClass]:
    return {c.id: c for c in await SchoolClass.filter(school_id=school_id)}


def _grade(student: Person, classes: dict[int, SchoolClass]) -> int:
    school_class = classes.get(student.school_class_id or -1)
    return school_class.grade if school_class else 10


async def _sent_in_term(students: list[Person], year: int, term: int) -> dict[int, int]:
    """Outcomes each student has sent for certification in the term (first sending counts)."""
    keys = [(s.id, year) for s in students]
    sent: dict[int, int] = {}
    if not keys:
        return sent  # an empty IN () is no valid SQL
    for (student_id, _), rows in zip(keys, await views.outcomes_for(keys), strict=True):
        sent[student_id] = sum(1 for r in rows if r.term == term and r.first_sent_at is not None)
    return sent


# --- 1. students with nothing sent as the upload deadline nears --------------------------------


async def outcomes_not_sent(school_id: int, days: int, now: datetime) -> list[WarningDraft]:
    drafts: list[WarningDraft] = []
    classes = await _grades(school_id)
    students: list[Person] | None = None
    for year in await _years(school_id, now):
        for term in sorted(year.calendar.terms):
            if students is None:
                students = await _students(school_id)
            due = [(s, year.calendar.upload(year.policy, term, _grade(s, classes))) for s in students]
            due = [(s, w) for s, w in due if nearing(w, days, now)]
            if not due:
                continue
            people = [s for s, _ in due]
            keys = [(s.id, year.academic_year) for s in people]
            records = await views.course_records_for(keys)
            has_course = {s.id for s, rows in zip(people, records, strict=True) if any(r.term == term for r in rows)}
            sent = await _sent_in_term(people, year.academic_year, term)
            for student, window in due:
                if student.id not in has_course or sent.get(student.id, 0) > 0:
                    continue
                drafts.append(_not_sent_draft(student, window))
    return drafts


def _not_sent_draft(student: Person, window: Window) -> WarningDraft:
    y, t, day = window.academic_year, window.term, _d(window.closes_on)
    return WarningDraft(
        WarningKind.OUTCOMES_NOT_SENT, student.id, _period(window),
        f"【預警】{y} 學年度第 {t} 學期課程學習成果尚未提交認證",
        f"{student.name} 同學您好：\n{y} 學年度第 {t} 學期的課程學習成果上傳及提交認證將於 {day} 截止，"
        "您目前尚未提交任何一件課程學習成果認證。請於截止前登入系統上傳並提交認證。",
        f"[Warning] No course outcome sent for certification in {y}-{t}",
        f"Dear {student.name},\nCourse-outcome upload and certification requests for academic year {y}, term {t} "
        f"close on {day}. You have not sent any course outcome for certification yet. Please upload and send "
        "your work before the deadline.",
        window.closes_at,
    )  # fmt: skip


# --- 2. students who have not selected in the selection window ---------------------------------


async def not_selected(school_id: int, days: int, now: datetime) -> list[WarningDraft]:
    drafts: list[WarningDraft] = []
    for year in await _years(school_id, now):
        window = year.calendar.selection(year.policy)
        if not nearing(window, days, now):
            continue
        for counts in await views.counts_for(await _students(school_id), year.academic_year):
            missing_outcomes = counts.passed > 0 and counts.selected_outcomes == 0
            missing_performances = counts.performances > 0 and counts.selected_performances == 0
            if missing_outcomes or missing_performances:
                drafts.append(_not_selected_draft(counts, window, year.policy, missing_outcomes, missing_performances))
    return drafts


def _not_selected_draft(
    counts: views.StudentCounts, window: Window, policy: Policy, outcomes: bool, performances: bool
) -> WarningDraft:
    y, day = window.academic_year, _d(window.closes_on)
    what_zh, what_en = [], []
    if outcomes:
        what_zh.append(f"課程學習成果（已通過認證 {counts.passed} 件，最多可勾選 {policy.selected_outcomes_cap} 件）")
        what_en.append(f"course outcomes ({counts.passed} certified, up to {policy.selected_outcomes_cap} may be selected)")
    if performances:
        what_zh.append(f"多元表現（已上傳 {counts.performances} 件，最多可勾選 {policy.selected_performances_cap} 件）")
        cap = policy.selected_performances_cap
        what_en.append(f"diverse performances ({counts.performances} uploaded, up to {cap} may be selected)")
    return WarningDraft(
        WarningKind.NOT_SELECTED, counts.student_id, _period(window),
        f"【預警】{y} 學年度學習歷程尚未勾選",
        f"{counts.name} 同學您好：\n{y} 學年度學習歷程的勾選將於 {day} 截止，您尚未勾選：" + "；".join(what_zh)
        + "。請於截止前登入系統勾選要提交至中央資料庫的項目。",
        f"[Warning] Nothing selected yet for academic year {y}",
        f"Dear {counts.name},\nSelection for academic year {y} closes on {day}. You have not selected any "
        + " nor any ".join(what_en) + ". Please select what goes to the central database before the deadline.",
        window.closes_at,
    )  # fmt: skip


# --- 3. teachers with uncertified outcomes near the certification deadline ---------------------


async def uncertified_outcomes(school_id: int, days: int, now: datetime) -> list[WarningDraft]:
    """Sent outcomes not yet published (認證或公布未完成), per teacher, as the window closes.

    Substitutes (代理人) of the term get the same warning about the absent teacher's courses."""
    drafts: list[WarningDraft] = []
    for year in await _years(school_id, now):
        for term in sorted(year.calendar.terms):
            rows = await CourseOutcome.filter(
                school_id=school_id, academic_year=year.academic_year, term=term, status=OutcomeStatus.SENT
            ).values_list("course_record__teacher_id", "course_record__grade")
            pending: dict[tuple[int, Window], int] = Counter()
            for teacher_id, grade in rows:
                window = year.calendar.certification(year.policy, term, grade)
                if teacher_id is not None and nearing(window, days, now):
                    pending[(teacher_id, window)] += 1
            if not pending:
                continue
            substitutes: dict[int, list[int]] = defaultdict(list)
            for teacher_id, substitute_id in await SubstituteAssignment.filter(
                school_id=school_id, academic_year=year.academic_year, term=term,
                teacher_id__in=sorted({t for t, _ in pending}),
            ).values_list("teacher_id", "substitute_id"):  # fmt: skip
                substitutes[teacher_id].append(substitute_id)
            ids = {t for t, _ in pending} | {s for subs in substitutes.values() for s in subs}
            people = await Person.filter(school_id=school_id, id__in=sorted(ids)).values_list("id", "name", "active")
            names = {pid: name for pid, name, _ in people}  # an absent teacher who left still names the substitute's work
            active = {pid for pid, _, is_active in people if is_active}
            for (teacher_id, window), count in sorted(pending.items(), key=lambda item: (item[0][0], item[0][1].closes_on)):
                if teacher_id in active:
                    drafts.append(_uncertified_draft(teacher_id, names[teacher_id], window, count))
                for substitute_id in substitutes.get(teacher_id, []):
                    if substitute_id in active and teacher_id in names:
                        drafts.append(
                            _uncertified_draft(substitute_id, names[substitute_id], window, count, names[teacher_id], teacher_id)
                        )
    return drafts


def _uncertified_draft(
    recipient_id: int, name: str, window: Window, count: int, absent: str | None = None, absent_id: int | None = None
) -> WarningDraft:
    y, t, day = window.academic_year, window.term, _d(window.closes_on)
    for_zh = f"（代理 {absent} 老師）" if absent else ""
    for_en = f" (substituting for {absent})" if absent else ""
    return WarningDraft(
        WarningKind.UNCERTIFIED_OUTCOMES, recipient_id, _period(window, f"#sub{absent_id}" if absent_id else ""),
        f"【預警】尚有 {count} 件課程學習成果未完成認證",
        f"{name} 老師您好{for_zh}：\n{y} 學年度第 {t} 學期的教師認證將於 {day} 截止，"
        f"尚有 {count} 件學生提交的課程學習成果未完成認證或尚未公布結果。請於截止前完成認證並公布。",
        f"[Warning] {count} course outcomes still to certify",
        f"Dear {name}{for_en},\nTeacher certification for academic year {y}, term {t} closes on {day}. "
        f"{count} course outcomes sent by students are not yet certified or their results not yet published. "
        "Please certify and publish them before the deadline.",
        window.closes_at,
    )  # fmt: skip


# --- 4. homeroom teachers: a class summary -----------------------------------------------------


async def class_summary(school_id: int, days: int, now: datetime) -> list[WarningDraft]:
    """"32 students sent 1 outcome, 6 sent none": one summary per class and term, as its upload deadline nears."""
    drafts: list[WarningDraft] = []
    homerooms = await Membership.filter(school_id=school_id, role=Role.HOMEROOM, school_class_id__isnull=False).values_list(
        "person_id", "school_class_id"
    )
    if not homerooms:
        return drafts
    classes = await _grades(school_id)
    teachers = Person.filter(school_id=school_id, active=True, id__in=sorted({p for p, _ in homerooms}))
    active = set(await teachers.values_list("id", flat=True))
    for year in await _years(school_id, now):
        for term in sorted(year.calendar.terms):
            due: list[tuple[int, SchoolClass, Window]] = []
            for person_id, class_id in homerooms:
                school_class = classes.get(class_id)
                if school_class is None or person_id not in active:
                    continue
                window = year.calendar.upload(year.policy, term, school_class.grade)
                if nearing(window, days, now):
                    due.append((person_id, school_class, window))
            if not due:
                continue
            students = await _students(school_id, sorted({c.id for _, c, _ in due}))  # one read for every due class
            sent = await _sent_in_term(students, year.academic_year, term)
            for person_id, school_class, window in due:
                members = [s for s in students if s.school_class_id == school_class.id]
                if members:  # an empty class needs no summary
                    drafts.append(_summary_draft(person_id, school_class, window, members, sent))
    return drafts


def _summary_draft(
    person_id: int, school_class: SchoolClass, window: Window, students: list[Person], sent: dict[int, int]
) -> WarningDraft:
    y, t, day = window.academic_year, window.term, _d(window.closes_on)
    by_count = Counter(sent.get(s.id, 0) for s in students)
    none = [s for s in students if sent.get(s.id, 0) == 0]
    parts_zh = [f"{by_count[n]} 位學生已提交 {n} 件" for n in sorted(by_count) if n > 0]
    plural = lambda n: "s" if n != 1 else ""  # noqa: E731
    parts_en = [f"{by_count[n]} student{plural(by_count[n])} sent {n} outcome{plural(n)}" for n in sorted(by_count) if n > 0]
    parts_zh.append(f"{len(none)} 位學生尚未提交")
    parts_en.append(f"{len(none)} sent none")
    names = "、".join(f"{s.seat or '-'} 號 {s.name}" for s in none)
    names_en = ", ".join(f"No. {s.seat or '-'} {s.name}" for s in none)
    return WarningDraft(
        WarningKind.CLASS_SUMMARY, person_id, _period(window, f"#{school_class.code}"),
        f"【班級概況】{school_class.name} {y} 學年度第 {t} 學期課程學習成果提交情形",
        f"{school_class.name}（共 {len(students)} 位學生）{y} 學年度第 {t} 學期的課程學習成果提交認證將於 {day} 截止。\n"
        + "，".join(parts_zh) + "。" + (f"\n尚未提交：{names}" if none else ""),
        f"[Class summary] {school_class.name}: course outcomes sent in {y}-{t}",
        f"Class {school_class.name} ({len(students)} students): certification requests for academic year {y}, term {t} "
        f"close on {day}.\n" + ", ".join(parts_en) + "." + (f"\nNone sent yet: {names_en}" if none else ""),
        window.closes_at,
    )  # fmt: skip
