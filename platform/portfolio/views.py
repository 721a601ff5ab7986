"""The reading side: portfolios, class overviews and school progress, in a fixed number of queries.

Every function here loads many students at once (keys in, groups out), so a
list of 1 or 500 students costs the same number of SQL statements. The GraphQL
layer calls them from DataLoaders; access is checked once by the caller
(``licheng.portfolio.access``) before any of these run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tortoise.expressions import Subquery
from tortoise.models import Model

from licheng.errors import NotFound
from licheng.portfolio.models import (
    CadreRecord,
    CourseOutcome,
    CourseRecord,
    DiversePerformance,
    EnrolmentRecord,
    OutcomeStatus,
    Receipt,
)
from licheng.portfolio import reads
from licheng.portfolio.windows import Window, year_context
from licheng.portfolio.windows import YearContext as YearContext  # re-exported: the GraphQL layer reads it from here
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Membership, Person, Role, SchoolClass

Key = tuple[int, int]  # (student_id, academic_year)


async def _grouped(model: type[Model], keys: list[Key], *, related: tuple[str, ...] = (), **scope: Any) -> list[list[Any]]:
    """Rows of ``model`` for each (student, year) key, in key order, in one query."""
    students = sorted({k[0] for k in keys})
    years = sorted({k[1] for k in keys})
    query = model.filter(student_id__in=students, academic_year__in=years, **scope)
    if related:
        query = query.select_related(*related)
    groups: dict[Key, list[Any]] = defaultdict(list)
    row: Any
    for row in await query.order_by("id"):
        groups[(row.student_id, row.academic_year)].append(row)
    return [groups.get(key, []) for key in keys]


def _by_key(keys: list[Key], rows: Iterable[Any]) -> list[list[Any]]:
    groups: dict[Key, list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.student_id, row.academic_year)].append(row)
    return [groups.get(key, []) for key in keys]


def _students_years(keys: list[Key]) -> tuple[list[int], list[int]]:
    return sorted({k[0] for k in keys}), sorted({k[1] for k in keys})


async def outcomes_for(keys: list[Key]) -> list[list[reads.OutcomeRow]]:
    """Outcomes with course record and files (the hot path: ``reads`` rather than the ORM)."""
    return _by_key(keys, await reads.outcomes(*_students_years(keys)))


async def performances_for(keys: list[Key]) -> list[list[reads.PerformanceRow]]:
    return _by_key(keys, await reads.performances(*_students_years(keys)))


async def course_records_for(keys: list[Key]) -> list[list[reads.RecordRow]]:
    return _by_key(keys, await reads.course_records(*_students_years(keys)))


async def cadre_records_for(keys: list[Key]) -> list[list[CadreRecord]]:
    return await _grouped(CadreRecord, keys, superseded_at=None)


async def enrolment_for(keys: list[Key]) -> list[list[EnrolmentRecord]]:
    return await _grouped(EnrolmentRecord, keys, superseded_at=None)


async def receipts_for(keys: list[Key]) -> list[list[Receipt]]:
    students = sorted({k[0] for k in keys})
    groups: dict[Key, list[Receipt]] = defaultdict(list)
    for row in await Receipt.filter(student_id__in=students).select_related("batch").order_by("id"):
        groups[(row.student_id, row.batch.academic_year)].append(row)
    return [groups.get(key, []) for key in keys]


async def load_outcomes(ids: list[int]) -> list[CourseOutcome]:
    """Outcomes with their course record and files, for answering after a change."""
    return await CourseOutcome.filter(id__in=ids).select_related("course_record", "document", "media").order_by("id")


async def load_outcome(outcome_id: int) -> CourseOutcome:
    rows = await load_outcomes([outcome_id])
    if not rows:
        raise NotFound("course outcome", "課程學習成果")
    return rows[0]


async def load_performances(ids: list[int]) -> list[DiversePerformance]:
    return await DiversePerformance.filter(id__in=ids).select_related("document", "media").order_by("id")


async def visible_outcome(actor: Actor, outcome_id: int) -> CourseOutcome:
    """An outcome the actor may read: the student's own, his viewers', or one in the teacher's queue."""
    from licheng.portfolio.access import viewable_student
    from licheng.portfolio.certification import _outcome_for_teacher

    school_id = actor.require_school()
    row = await CourseOutcome.get_or_none(id=outcome_id, school_id=school_id)
    if row is None:
        raise NotFound("course outcome", "課程學習成果")
    try:
        await viewable_student(actor, row.student_id)
    except NotFound:
        try:
            await _outcome_for_teacher(actor, outcome_id)
        except Exception:  # noqa: BLE001 - any refusal reads as absent
            raise NotFound("course outcome", "課程學習成果") from None
    return await load_outcome(outcome_id)


async def visible_performance(actor: Actor, performance_id: int) -> DiversePerformance:
    from licheng.portfolio.access import viewable_student

    school_id = actor.require_school()
    row = await DiversePerformance.get_or_none(id=performance_id, school_id=school_id)
    if row is None:
        raise NotFound("performance", "多元表現")
    await viewable_student(actor, row.student_id)
    return (await load_performances([performance_id]))[0]


def people_by_id(school_id: int | None):  # noqa: ANN201 - a DataLoader batch function
    """People of the school by id (teachers, students) for a request, one plain statement."""

    async def batch(keys: list[int]) -> list[Person | None]:
        rows = await reads.people(keys, school_id or -1)
        return [rows.get(k) for k in keys]

    return batch


async def people(actor: Actor, ids: list[int]) -> list[Person]:
    school_id = actor.require_school()
    return await Person.filter(id__in=list(set(ids)), school_id=school_id)


async def record_portfolio_read(actor: Actor, student: Person) -> None:
    """PDPA: reading another person's portfolio leaves a trace."""
    if actor.person_id != student.id:
        await audit.record(actor, "read_portfolio", "person", student.id, student_id=student.id)


# --- counts for overviews ------------------------------------------------------------------------


@dataclass
class StudentCounts:
    """How far one student is in a year: what the homeroom teacher (導師) looks at."""

    student_id: int
    name: str
    student_number: str | None
    seat: int | None
    class_id: int | None
    outcomes: int = 0
    sent: int = 0
    passed: int = 0
    failed: int = 0
    awaiting: int = 0  # sent, result not yet published
    performances: int = 0
    selected_outcomes: int = 0
    selected_performances: int = 0

    @property
    def has_none(self) -> bool:
        return self.sent == 0


async def counts_for(students: list[Person], academic_year: int) -> list[StudentCounts]:
    """Two queries whatever the number of students."""
    out = {s.id: StudentCounts(s.id, s.name, s.student_number, s.seat, s.school_class_id) for s in students}
    ids = list(out)
    if not ids:
        return []
    rows = await CourseOutcome.filter(student_id__in=ids, academic_year=academic_year).values_list(
        "student_id", "status", "first_sent_at", "selected_at"
    )
    for student_id, status, first_sent_at, selected_at in rows:
        counts = out[student_id]
        counts.outcomes += 1
        counts.sent += first_sent_at is not None
        counts.passed += status == OutcomeStatus.PASSED
        counts.failed += status == OutcomeStatus.FAILED
        counts.awaiting += status == OutcomeStatus.SENT
        counts.selected_outcomes += selected_at is not None
    for student_id, selected_at in await DiversePerformance.filter(student_id__in=ids, academic_year=academic_year).values_list(
        "student_id", "selected_at"
    ):
        out[student_id].performances += 1
        out[student_id].selected_performances += selected_at is not None
    return sorted(out.values(), key=lambda c: (c.class_id or 0, c.seat or 0, c.student_id))


async def _students(school_id: int, class_ids: Iterable[int] | None = None) -> list[Person]:
    query = Person.filter(
        school_id=school_id, active=True,
        id__in=Subquery(Membership.filter(school_id=school_id, role=Role.STUDENT).values("person_id")),
    )  # fmt: skip
    if class_ids is not None:
        query = query.filter(school_class_id__in=list(class_ids))
    return await query.order_by("seat", "id")


@dataclass
class ClassOverview:
    school_class: SchoolClass
    academic_year: int
    students: list[StudentCounts]

    @property
    def without_any(self) -> list[StudentCounts]:
        return [s for s in self.students if s.has_none]


async def class_overview(actor: Actor, class_id: int, academic_year: int) -> ClassOverview:
    """The homeroom view: per student, sent / passed / performances / selected; who has none."""
    school_id = actor.require_school()
    school_class = await SchoolClass.get_or_none(id=class_id, school_id=school_id)
    if school_class is None or not (actor.has(Role.STAFF) or class_id in actor.homeroom_class_ids):
        raise NotFound("class", "班級")
    students = await _students(school_id, [class_id])
    return ClassOverview(school_class, academic_year, await counts_for(students, academic_year))


@dataclass
class ClassProgress:
    school_class: SchoolClass
    students: int = 0
    students_with_sent: int = 0
    sent: int = 0
    passed: int = 0
    failed: int = 0
    awaiting: int = 0
    performances: int = 0
    selected_outcomes: int = 0
    selected_performances: int = 0
    students_with_selection: int = 0


@dataclass
class SchoolProgress:
    academic_year: int
    classes: list[ClassProgress] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)


async def school_progress(actor: Actor, academic_year: int) -> SchoolProgress:
    """Staff: progress per class against the year's windows and deadlines."""
    school_id = actor.require_role(Role.STAFF)
    classes = await SchoolClass.filter(school_id=school_id).order_by("code")
    per_class = {c.id: ClassProgress(c) for c in classes}
    for counts in await counts_for(await _students(school_id), academic_year):
        progress = per_class.get(counts.class_id or -1)
        if progress is None:
            continue
        progress.students += 1
        progress.students_with_sent += counts.sent > 0
        progress.students_with_selection += (counts.selected_outcomes + counts.selected_performances) > 0
        for name in ("sent", "passed", "failed", "awaiting", "performances", "selected_outcomes", "selected_performances"):
            setattr(progress, name, getattr(progress, name) + getattr(counts, name))
    context = await year_context(school_id, academic_year)
    return SchoolProgress(academic_year, list(per_class.values()), context.windows())
