"""Windows (時程) derived from the school calendar and the policy's offsets.

A window is a range of school-local dates, both inclusive: it opens at local
midnight of its first day and closes at local midnight after its last day
(Asia/Taipei unless the school says otherwise). Course-outcome windows are per
term and depend on the student's grade (grade-12 term 2 ends earlier); the
records window (school-entered basic data and course records) is per term for
every grade; performances, selection and submission are per academic year; a
receipt's review window starts when the receipt is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from licheng.portfolio import clock
from licheng.portfolio.errors import WindowClosed, term_not_set
from licheng.portfolio.policy import Policy, bureau_raw, policy_with

# name -> (zh-TW, English)
NAMES: dict[str, tuple[str, str]] = {
    "upload": ("課程學習成果上傳及提交認證", "course-outcome upload and certification request"),
    "certification": ("教師認證", "teacher certification"),
    "records": ("學校登錄基本資料及修課紀錄", "school records entry"),
    "performance": ("多元表現上傳", "diverse-performance upload"),
    "selection": ("勾選", "selection"),
    "submission": ("學校提交", "school submission"),
    "receipt_review": ("收訖確認", "receipt review"),
}


@dataclass(frozen=True)
class Window:
    name: str
    academic_year: int
    term: int  # 0 for yearly windows
    opens_on: date
    closes_on: date
    time_zone: str = "Asia/Taipei"

    @property
    def name_zh(self) -> str:
        return NAMES[self.name][0]

    @property
    def name_en(self) -> str:
        return NAMES[self.name][1]

    @property
    def opens_at(self) -> datetime:
        return datetime.combine(self.opens_on, datetime.min.time(), ZoneInfo(self.time_zone))

    @property
    def closes_at(self) -> datetime:
        """The first instant after the window (local midnight after its last day)."""
        return datetime.combine(self.closes_on + timedelta(days=1), datetime.min.time(), ZoneInfo(self.time_zone))

    def is_open(self, at: datetime | None = None) -> bool:
        at = at or clock.now()
        return self.opens_at <= at < self.closes_at

    def has_closed(self, at: datetime | None = None) -> bool:
        return (at or clock.now()) >= self.closes_at

    def require_open(self, at: datetime | None = None) -> None:
        if not self.is_open(at):
            raise WindowClosed(self)


@dataclass(frozen=True)
class TermDates:
    term: int
    starts_on: date
    ceremony_on: date  # 休業式


@dataclass(frozen=True)
class SchoolCalendar:
    """One academic year of one school: its terms' key dates and time zone."""

    school_id: int
    academic_year: int
    time_zone: str
    terms: dict[int, TermDates]

    def term(self, term: int) -> TermDates:
        found = self.terms.get(term)
        if found is None:
            raise term_not_set(self.academic_year, term)
        return found

    def _md(self, month_day: str) -> date:
        """A "MM-DD" of the calendar year in which the academic year ends (115 -> 2027)."""
        month, day = (int(part) for part in month_day.split("-"))
        return date(self.academic_year + 1912, month, day)

    def upload(self, policy: Policy, term: int, grade: int) -> Window:
        dates = self.term(term)
        after = policy.upload_days_after_ceremony
        if grade == 12 and term == 2:
            after = policy.upload_days_after_ceremony_grade12_term2
        return Window(
            "upload", self.academic_year, term,
            dates.starts_on + timedelta(days=policy.upload_opens_days_after_start),
            dates.ceremony_on + timedelta(days=after), self.time_zone,
        )  # fmt: skip

    def certification(self, policy: Policy, term: int, grade: int) -> Window:
        upload = self.upload(policy, term, grade)
        closes = upload.closes_on + timedelta(days=policy.certification_days_after_upload)
        return Window("certification", self.academic_year, term, upload.opens_on, closes, self.time_zone)

    def records(self, policy: Policy, term: int) -> Window:
        """Staff enter the term's enrolment, cadre and course records (學籍、幹部、修課紀錄) from
        ``records_opens_days_before_start`` before the term's start (new students are registered,
        and term 2's courses chosen, before it starts) until ``records_days_after_ceremony`` after
        休業式; then they are final."""
        dates = self.term(term)
        opens = dates.starts_on - timedelta(days=policy.records_opens_days_before_start)
        closes = dates.ceremony_on + timedelta(days=policy.records_days_after_ceremony)
        return Window("records", self.academic_year, term, opens, closes, self.time_zone)

    def performance(self, policy: Policy) -> Window:
        first = self.terms.get(1)
        opens = first.starts_on if first else date(self.academic_year + 1911, 8, 1)
        return Window("performance", self.academic_year, 0, opens, self._md(policy.performance_deadline), self.time_zone)

    def selection(self, policy: Policy) -> Window:
        return Window(
            "selection", self.academic_year, 0, self._md(policy.selection_opens), self._md(policy.selection_closes), self.time_zone
        )

    def submission(self, policy: Policy) -> Window:
        return Window(
            "submission", self.academic_year, 0,
            self._md(policy.submission_opens), self._md(policy.submission_closes), self.time_zone,
        )  # fmt: skip

    def receipt_review(self, policy: Policy, recorded_at: datetime) -> Window:
        opens = recorded_at.astimezone(ZoneInfo(self.time_zone)).date()
        return Window(
            "receipt_review", self.academic_year, 0, opens, opens + timedelta(days=policy.receipt_review_days), self.time_zone
        )

    def yearly(self, policy: Policy) -> list[Window]:
        return [self.performance(policy), self.selection(policy), self.submission(policy)]

    def all_windows(self, policy: Policy, grade: int | None = None) -> list[Window]:
        """Every window of the year in date order: per term (for the grade) and yearly."""
        out: list[Window] = []
        for term in sorted(self.terms):
            out.append(self.upload(policy, term, grade or 10))
            out.append(self.certification(policy, term, grade or 10))
            out.append(self.records(policy, term))
        return out + self.yearly(policy)


async def calendar_for(school_id: int, academic_year: int) -> SchoolCalendar:
    """The school's terms of the year and its time zone (one statement)."""
    from licheng.portfolio.reads import calendar_rows

    zone, terms = await calendar_rows(school_id, academic_year)
    return calendar_of(school_id, academic_year, zone, terms)


def calendar_of(school_id: int, academic_year: int, zone: str, terms: list[tuple[int, date, date]]) -> SchoolCalendar:
    return SchoolCalendar(school_id, academic_year, zone, {t: TermDates(t, starts, ends) for t, starts, ends in terms})


@dataclass(frozen=True)
class YearContext:
    """What every section of one school's year needs: the rules and the calendar."""

    policy: Policy
    calendar: SchoolCalendar

    def windows(self, grade: int | None = None) -> list[Window]:
        return self.calendar.all_windows(self.policy, grade)


async def year_context(school_id: int, academic_year: int) -> YearContext:
    """The year's policy and calendar, for the views and the records window alike: the school's own
    rows in one statement and the plugins' layers queued with it (one round trip, not two)."""
    from licheng.portfolio.reads import year_rows

    (zone, terms, override), raws = await asyncio.gather(year_rows(school_id, academic_year), bureau_raw(school_id, academic_year))
    policy = await policy_with(school_id, academic_year, override, raws)
    return YearContext(policy, calendar_of(school_id, academic_year, zone, terms))
