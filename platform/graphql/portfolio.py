"""GraphQL for reading portfolios: the student's own, a parent's children, the homeroom class
overview (導師), the school's progress (staff), the rules and the performance kinds.

A ``Portfolio`` is (student, academic year); each section is loaded through a
DataLoader keyed by that pair, so one portfolio or a parent's three cost the
same queries, and a section nobody asked for costs none.
"""

from __future__ import annotations

import strawberry

from licheng.errors import NotFound
from licheng.graphql.context import Info
from licheng.graphql.loaders import loader, once
from licheng.graphql.permissions import InSchool, SignedIn
from licheng.graphql.portfolio_receipts import Receipt
from licheng.graphql.portfolio_types import (
    CadreRecord,
    CourseOutcome,
    CourseRecord,
    DiversePerformance,
    EnrolmentRecord,
    PortfolioWindow,
)
from licheng.graphql.relay import pk_of, to_global_id
from licheng.graphql.tenants import Person, SchoolClass
from licheng.portfolio import access, files, kinds, views
from licheng.portfolio.models import OutcomeStatus
from licheng.portfolio.policy import Policy, policy_for
from licheng.portfolio.windows import SchoolCalendar


@strawberry.type(description="The resolved rules of the school for an academic year (national ← bureau ← school).")
class PortfolioPolicy:
    academic_year: int
    outcomes_per_term: int | None
    outcomes_per_subject_per_term: int | None
    performances_per_year: int | None
    selected_outcomes_cap: int
    selected_performances_cap: int
    document_max_bytes: int
    media_max_bytes: int
    counseling_max_bytes: int
    brief_max_chars: int
    quota_bytes: int
    document_kinds: list[str]
    media_kinds: list[str]
    pdf_active_content: str
    upload_opens_days_after_start: int
    upload_days_after_ceremony: int
    upload_days_after_ceremony_grade12_term2: int
    certification_days_after_upload: int
    records_days_after_ceremony: int
    records_opens_days_before_start: int
    performance_deadline: str
    selection_opens: str
    selection_closes: str
    submission_opens: str
    submission_closes: str
    receipt_review_days: int
    sources: list[str] = strawberry.field(description="The layers applied, e.g. national:115, bureau:taipei, school:115.")

    @staticmethod
    def of(policy: Policy) -> PortfolioPolicy:
        return PortfolioPolicy(**policy.as_dict())


@strawberry.type(description="One term of a portfolio: outcomes against the term's caps and windows.")
class TermSummary:
    term: int
    outcomes: int
    sent_for_certification: int = strawberry.field(description="Counted against outcomesPerTerm (提交認證).")
    awaiting_result: int
    passed: int
    failed: int
    outcomes_cap: int | None
    per_subject_cap: int | None
    # (calendar, policy, grade) when the term has dates: its windows are worked out only if asked for.
    dated: strawberry.Private[tuple[SchoolCalendar, Policy, int] | None]

    @strawberry.field
    def upload_window(self) -> PortfolioWindow | None:
        if self.dated is None:
            return None
        calendar, policy, grade = self.dated
        return PortfolioWindow.of(calendar.upload(policy, self.term, grade))

    @strawberry.field
    def certification_window(self) -> PortfolioWindow | None:
        if self.dated is None:
            return None
        calendar, policy, grade = self.dated
        return PortfolioWindow.of(calendar.certification(policy, self.term, grade))

    @strawberry.field(description="When staff enter the term's basic data and course records (學校登錄).")
    def records_window(self) -> PortfolioWindow | None:
        return PortfolioWindow.of(self.dated[0].records(self.dated[1], self.term)) if self.dated else None


@strawberry.type(description="Counts against the year's caps and the storage quota.")
class PortfolioCaps:
    performances: int
    performances_cap: int | None
    selected_outcomes: int
    selected_outcomes_cap: int
    selected_performances: int
    selected_performances_cap: int
    storage_used_bytes: int = strawberry.field(description="All three years (e.g. 5.08 MB of 150 MB).")
    quota_bytes: int


async def _context(info: Info, school_id: int, year: int) -> views.YearContext:
    """The school's year, read once per request (one school per request: nothing to batch)."""
    return await once(info, ("portfolio.context", school_id, year), lambda: views.year_context(school_id, year))


@strawberry.type(description="A student's learning portfolio (學習歷程檔案) for one academic year.")
class Portfolio:
    student_pk: strawberry.Private[int]
    school_pk: strawberry.Private[int]
    academic_year: int
    # The student's row when the caller has read it already (the access checks of a parent's or a
    # teacher's view do); "my portfolio" has only the actor's ids and reads it with the item lists.
    student_row: strawberry.Private[object | None] = None

    @strawberry.field
    async def student(self, info: Info) -> Person:
        row = self.student_row or await loader(info, "portfolio.person", views.people_by_id(self.school_pk)).load(self.student_pk)
        if row is None:  # removed since the token's actor was read
            raise NotFound("student", "學生")
        return Person.of(row)  # type: ignore[arg-type]

    @property
    def _key(self) -> tuple[int, int]:
        return (self.student_pk, self.academic_year)

    async def _outcome_rows(self, info: Info) -> list:
        return await loader(info, "portfolio.outcomes", views.outcomes_for).load(self._key)

    async def _performance_rows(self, info: Info) -> list:
        return await loader(info, "portfolio.performances", views.performances_for).load(self._key)

    async def _record_rows(self, info: Info) -> list:
        return await loader(info, "portfolio.course_records", views.course_records_for).load(self._key)

    @strawberry.field(description="修課紀錄 of the year (school-registered).")
    async def course_records(self, info: Info, term: int | None = None) -> list[CourseRecord]:
        return [CourseRecord.of(r) for r in await self._record_rows(info) if term is None or r.term == term]

    @strawberry.field(description="課程學習成果 of the year.")
    async def outcomes(self, info: Info, term: int | None = None) -> list[CourseOutcome]:
        teacher_view = access.sees_unpublished_decisions_in_portfolio(info.context.actor)
        return [CourseOutcome.of(r, teacher_view=teacher_view) for r in await self._outcome_rows(info) if term is None or r.term == term]

    @strawberry.field(description="多元表現 of the year.")
    async def performances(self, info: Info) -> list[DiversePerformance]:
        return [DiversePerformance.of(r) for r in await self._performance_rows(info)]

    @strawberry.field(description="School-registered cadre records (校級/班級/社團幹部).")
    async def cadre_records(self, info: Info) -> list[CadreRecord]:
        rows = await loader(info, "portfolio.cadre", views.cadre_records_for).load(self._key)
        return [CadreRecord.of(r) for r in rows]

    @strawberry.field(description="學籍資料 per term.")
    async def enrolment(self, info: Info) -> list[EnrolmentRecord]:
        rows = await loader(info, "portfolio.enrolment", views.enrolment_for).load(self._key)
        return [EnrolmentRecord.of(r) for r in rows]

    @strawberry.field(description="收訖明細 of the year's submissions.")
    async def receipts(self, info: Info) -> list[Receipt]:
        rows = await loader(info, "portfolio.receipts", views.receipts_for).load(self._key)
        return [Receipt.of(r) for r in rows]

    @strawberry.field(description="Per term: outcomes sent against the caps, and the term's windows.")
    async def terms(self, info: Info) -> list[TermSummary]:
        context = await _context(info, self.school_pk, self.academic_year)
        outcomes, records = await self._outcome_rows(info), await self._record_rows(info)
        out: list[TermSummary] = []
        for term in sorted(set(context.calendar.terms) | {r.term for r in records}):
            rows = [o for o in outcomes if o.term == term]
            grade = next((r.grade for r in records if r.term == term), 10)
            has_dates = term in context.calendar.terms
            out.append(TermSummary(
                term=term, outcomes=len(rows), sent_for_certification=sum(o.first_sent_at is not None for o in rows),
                awaiting_result=sum(o.status == OutcomeStatus.SENT for o in rows),
                passed=sum(o.status == OutcomeStatus.PASSED for o in rows),
                failed=sum(o.status == OutcomeStatus.FAILED for o in rows),
                outcomes_cap=context.policy.outcomes_per_term, per_subject_cap=context.policy.outcomes_per_subject_per_term,
                dated=(context.calendar, context.policy, grade) if has_dates else None,
            ))  # fmt: skip
        return out

    @strawberry.field(description="Counts against the caps (uploaded, selected) and storage used of the quota.")
    async def caps(self, info: Info) -> PortfolioCaps:
        policy = (await _context(info, self.school_pk, self.academic_year)).policy
        outcomes, performances = await self._outcome_rows(info), await self._performance_rows(info)
        used = await loader(info, "portfolio.storage", _storage).load(self.student_pk)
        return PortfolioCaps(
            performances=len(performances), performances_cap=policy.performances_per_year,
            selected_outcomes=sum(o.selected_at is not None for o in outcomes), selected_outcomes_cap=policy.selected_outcomes_cap,
            selected_performances=sum(p.selected_at is not None for p in performances),
            selected_performances_cap=policy.selected_performances_cap, storage_used_bytes=used, quota_bytes=policy.quota_bytes,
        )  # fmt: skip

    @strawberry.field(description="The year's windows: per term (upload, certification, records) and yearly.")
    async def windows(self, info: Info) -> list[PortfolioWindow]:
        context = await _context(info, self.school_pk, self.academic_year)
        grade = next((r.grade for r in await self._record_rows(info)), None)
        return [PortfolioWindow.of(w) for w in context.windows(grade)]

    @strawberry.field
    async def policy(self, info: Info) -> PortfolioPolicy:
        return PortfolioPolicy.of((await _context(info, self.school_pk, self.academic_year)).policy)


async def _storage(student_ids: list[int]) -> list[int]:
    used = await files.storage_used(student_ids)
    return [used[s] for s in student_ids]


def portfolio_of(student, academic_year: int) -> Portfolio:  # noqa: ANN001 - a tenants Person row
    return Portfolio(student_pk=student.id, school_pk=student.school_id, academic_year=academic_year, student_row=student)


@strawberry.type(description="One student in the homeroom overview.")
class StudentProgress:
    student_id: strawberry.ID
    name: str
    student_number: str | None
    seat: int | None
    outcomes: int
    sent_for_certification: int
    passed: int
    failed: int
    awaiting_result: int
    performances: int
    selected_outcomes: int
    selected_performances: int
    has_none: bool = strawberry.field(description="Sent no outcome for certification this year.")

    @staticmethod
    def of(c: views.StudentCounts) -> StudentProgress:
        return StudentProgress(
            student_id=to_global_id("Person", c.student_id), name=c.name, student_number=c.student_number, seat=c.seat,
            outcomes=c.outcomes, sent_for_certification=c.sent, passed=c.passed, failed=c.failed, awaiting_result=c.awaiting,
            performances=c.performances, selected_outcomes=c.selected_outcomes,
            selected_performances=c.selected_performances, has_none=c.has_none,
        )  # fmt: skip


@strawberry.type(description="導師 view: e.g. 32 students sent 1 outcome, 6 sent none.")
class ClassOverview:
    school_class: SchoolClass = strawberry.field(name="class")
    academic_year: int
    students: list[StudentProgress]
    students_with_none: list[StudentProgress]


@strawberry.type(description="Staff view of one class's progress.")
class ClassProgress:
    school_class: SchoolClass = strawberry.field(name="class")
    students: int
    students_with_sent: int
    sent_for_certification: int
    passed: int
    failed: int
    awaiting_result: int
    performances: int
    selected_outcomes: int
    selected_performances: int
    students_with_selection: int


@strawberry.type
class SchoolProgress:
    academic_year: int
    classes: list[ClassProgress]
    windows: list[PortfolioWindow]


@strawberry.type(description="A roster field of a performance kind, to build the form.")
class PerformanceField:
    name: str
    label_zh: str
    label_en: str
    type: str = strawberry.field(description="text, date, int, decimal or choice")
    required: bool
    max_len: int
    choices: list[str]


@strawberry.type
class PerformanceKindSpec:
    kind: str
    name_zh: str
    name_en: str
    fields: list[PerformanceField]


@strawberry.type
class PortfolioQuery:
    @strawberry.field(permission_classes=[InSchool], description="The signed-in student's portfolio of an academic year.")
    async def my_portfolio(self, info: Info, academic_year: int) -> Portfolio:
        # The actor's statement already found him an active student of the school; his row is read
        # with the item lists (one round trip for all), not before them.
        school_id, person_id = access.require_student(info.context.actor)
        return Portfolio(student_pk=person_id, school_pk=school_id, academic_year=academic_year)

    @strawberry.field(permission_classes=[InSchool], description="A student's portfolio: his parents, homeroom teacher, counselors, staff.")
    async def portfolio(self, info: Info, student_id: strawberry.ID, academic_year: int) -> Portfolio:
        actor = info.context.actor
        student = await access.viewable_student(actor, pk_of(student_id, "Person"))
        await views.record_portfolio_read(actor, student)
        return portfolio_of(student, academic_year)

    @strawberry.field(permission_classes=[InSchool], description="家長: the portfolios of the signed-in parent's children.")
    async def my_children_portfolios(self, info: Info, academic_year: int) -> list[Portfolio]:
        actor = info.context.actor
        children = await access.children_of(actor)
        for child in children:
            await views.record_portfolio_read(actor, child)
        return [portfolio_of(child, academic_year) for child in children]

    @strawberry.field(permission_classes=[InSchool], description="導師 (or staff): per-student progress of a class.")
    async def class_overview(self, info: Info, class_id: strawberry.ID, academic_year: int) -> ClassOverview:
        result = await views.class_overview(info.context.actor, pk_of(class_id, "SchoolClass"), academic_year)
        students = [StudentProgress.of(c) for c in result.students]
        return ClassOverview(
            school_class=SchoolClass.of(result.school_class), academic_year=academic_year, students=students,
            students_with_none=[s for s in students if s.has_none],
        )  # fmt: skip

    @strawberry.field(permission_classes=[InSchool], description="Staff: progress per class against the deadlines.")
    async def portfolio_progress(self, info: Info, academic_year: int) -> SchoolProgress:
        result = await views.school_progress(info.context.actor, academic_year)
        return SchoolProgress(
            academic_year=academic_year,
            classes=[ClassProgress(
                school_class=SchoolClass.of(c.school_class), students=c.students, students_with_sent=c.students_with_sent,
                sent_for_certification=c.sent, passed=c.passed, failed=c.failed, awaiting_result=c.awaiting,
                performances=c.performances, selected_outcomes=c.selected_outcomes,
                selected_performances=c.selected_performances, students_with_selection=c.students_with_selection,
            ) for c in result.classes],
            windows=[PortfolioWindow.of(w) for w in result.windows],
        )  # fmt: skip

    @strawberry.field(permission_classes=[InSchool], description="The school's resolved rules for an academic year.")
    async def portfolio_policy(self, info: Info, academic_year: int) -> PortfolioPolicy:
        school_id = info.context.actor.require_school()
        return PortfolioPolicy.of(await policy_for(school_id, academic_year))

    @strawberry.field(permission_classes=[SignedIn], description="The kinds of diverse performance and their roster fields.")
    def performance_kinds(self) -> list[PerformanceKindSpec]:
        return [
            PerformanceKindSpec(
                kind=kind.value, name_zh=kinds.KIND_NAMES[kind][0], name_en=kinds.KIND_NAMES[kind][1],
                fields=[PerformanceField(name=f.name, label_zh=f.label_zh, label_en=f.label_en, type=f.type,
                                         required=f.required, max_len=f.max_len, choices=list(f.choices)) for f in specs],
            )  # fmt: skip
            for kind, specs in kinds.KIND_FIELDS.items()
        ]


from licheng.graphql import portfolio_scopes as _scopes  # noqa: E402,F401 - registers the portfolio's OAuth scopes
