"""Which of a student's items each target department would take, and what is missing (ours, not Taipei's).

Candidates: certified (passed) course outcomes and every diverse performance, of
all the student's years, read through the portfolio's public read services.
Per department and per group (outcomes, performances) the choice is
deterministic and bounded by the department's cap:

1. coverage first: codes by weight (highest first, then the department's order);
   each takes its best candidate not yet chosen, while the cap allows;
2. then the remaining slots go to the best remaining candidates.

"Best" orders by the weight of the best code the item answers, then items
already selected (勾選) for the central database (universities read the central
copy), then the most recent academic year, then the oldest id.

Universities read only what reached the central database: once a year's
selection window has closed, that year's items not selected are out of reach
and are not candidates (an open or future window still lets the student select them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from licheng.portfolio import clock, views
from licheng.portfolio.access import require_student, viewable_student
from licheng.tenants.actor import Actor
from taipei_coolcloud.cabinet_items import items_by_year
from taipei_coolcloud.departments import ITEM_CODES, ItemCode, school_bureau, targets_of
from taipei_coolcloud.models.departments import ApplicationDepartment


@dataclass(frozen=True, eq=False)
class Candidate:
    """A portfolio item as matching sees it: no files, no details. Hashed by identity (a dict key, cheaply)."""

    item_type: str  # outcome | performance
    id: int
    academic_year: int
    title: str  # the subject of an outcome, the title of a performance
    brief: str
    kind: str | None  # a performance's kind
    selected: bool


@dataclass(frozen=True)
class MatchedItem:
    item: Candidate
    code: str  # the code it is counted under
    weight: float


@dataclass(frozen=True)
class CodeCoverage:
    code: ItemCode
    weight: float
    candidates: int  # items of the student that answer it
    chosen: int  # of those, taken within the caps under this code


@dataclass
class DepartmentMatch:
    department: ApplicationDepartment
    outcomes: list[MatchedItem] = field(default_factory=list)
    performances: list[MatchedItem] = field(default_factory=list)
    codes: list[CodeCoverage] = field(default_factory=list)
    missing: list[ItemCode] = field(default_factory=list)  # weighed, nothing of the student answers it
    at_application: list[ItemCode] = field(default_factory=list)  # prepared when applying (self-statements...)
    left_out: int = 0  # candidates beyond the caps


def answers(code: ItemCode, item: Candidate) -> bool:
    if code.matches == "outcome":
        return item.item_type == "outcome"
    if code.matches == "performance":
        return item.item_type == "performance" and (not code.kinds or item.kind in code.kinds)
    return False


def _choose(
    department: ApplicationDepartment, codes: list[str], items: list[Candidate], cap: int, answered: dict[Candidate, list[str]]
) -> list[MatchedItem]:
    order = {code: i for i, code in enumerate(department.item_codes)}
    weight = {code: float(department.weights.get(code, 0)) for code in codes}
    mine = {item: [c for c in answered[item] if c in weight] for item in items}
    best_code = {item: min(cs, key=lambda c: (-weight[c], order[c])) for item, cs in mine.items() if cs}

    def rank(item: Candidate) -> tuple:
        return (-weight[best_code[item]], not item.selected, -item.academic_year, item.id)

    pool = sorted(best_code, key=rank)
    chosen: dict[Candidate, str] = {}
    for code in sorted(codes, key=lambda c: (-weight[c], order[c])):
        if len(chosen) >= cap:
            break
        pick = next((item for item in pool if item not in chosen and code in mine[item]), None)
        if pick is not None:
            chosen[pick] = code
    for item in pool:
        if len(chosen) >= cap:
            break
        chosen.setdefault(item, best_code[item])
    return [MatchedItem(item, code, weight[code]) for item, code in sorted(chosen.items(), key=lambda p: rank(p[0]))]


def match(department: ApplicationDepartment, items: list[Candidate]) -> DepartmentMatch:
    """One department against the student's candidates (pure: no database)."""
    result = DepartmentMatch(department)
    codes = [ITEM_CODES[c] for c in department.item_codes if c in ITEM_CODES]
    answered = {item: [c.code for c in codes if answers(c, item)] for item in items}  # each pair tested once
    outcome_codes = [c.code for c in codes if c.matches == "outcome"]
    performance_codes = [c.code for c in codes if c.matches == "performance"]
    outcomes = [i for i in items if i.item_type == "outcome"]
    performances = [i for i in items if i.item_type == "performance"]
    result.outcomes = _choose(department, outcome_codes, outcomes, department.outcome_cap, answered)
    result.performances = _choose(department, performance_codes, performances, department.performance_cap, answered)
    chosen = result.outcomes + result.performances
    counts = Counter(code for item_codes in answered.values() for code in item_codes)
    chosen_counts = Counter(m.code for m in chosen)
    for code in codes:
        if code.matches == "none":
            result.at_application.append(code)
            continue
        weight = float(department.weights.get(code.code, 0))
        result.codes.append(CodeCoverage(code, weight, counts[code.code], chosen_counts[code.code]))
        if counts[code.code] == 0:
            result.missing.append(code)
    result.left_out = sum(bool(item_codes) for item_codes in answered.values()) - len(chosen)
    return result


def reachable(items: list[Candidate], closed_years: set[int]) -> list[Candidate]:
    """What a university can still see: every item of a year whose selection is open or to come, selected items of the others."""
    return [item for item in items if item.selected or item.academic_year not in closed_years]


async def _closed_selection_years(school_id: int, years: list[int]) -> set[int]:
    now = clock.now()
    closed = set()
    for year in years:  # a student has at most a handful of years
        context = await views.year_context(school_id, year)
        if context.calendar.selection(context.policy).has_closed(now):
            closed.add(year)
    return closed


async def candidates(school_id: int, student_id: int) -> list[Candidate]:
    """The student's passed outcomes and his performances that universities can still see: four statements, plus
    each year's calendar (to know whether its selection closed)."""
    years = await items_by_year(student_id)
    items = [
        Candidate("outcome", o.id, o.academic_year, o.course_record.subject_name, o.brief, None, o.selected_at is not None)
        for year in years for o in year.outcomes
    ]  # fmt: skip
    items += [
        Candidate("performance", p.id, p.academic_year, p.title, p.brief, p.kind.value, p.selected_at is not None)
        for year in years for p in year.performances
    ]  # fmt: skip
    return reachable(items, await _closed_selection_years(school_id, [y.academic_year for y in years]))


async def department_matches(actor: Actor, student_id: int | None = None) -> list[DepartmentMatch]:
    """Per target department of the student (himself by default): what it would take and what is missing.
    Readers: the student, his parents, his homeroom teacher (導師), counselors and staff."""
    school_id, _ = await school_bureau(actor)
    if student_id is None:
        _, student_id = require_student(actor)
    else:
        student = await viewable_student(actor, student_id)
        await views.record_portfolio_read(actor, student)
    items = await candidates(school_id, student_id)
    return [match(department, items) for department in await targets_of(school_id, student_id)]


async def target_departments(actor: Actor, student_id: int | None = None) -> list[ApplicationDepartment]:
    school_id, _ = await school_bureau(actor)
    if student_id is None:
        _, student_id = require_student(actor)
    else:
        await views.record_portfolio_read(actor, await viewable_student(actor, student_id))
    return await targets_of(school_id, student_id)
