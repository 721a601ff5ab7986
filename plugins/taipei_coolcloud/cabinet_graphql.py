"""GraphQL for the cabinet extras: statements (自傳, 學習計畫), learning plans (自主學習計畫), share links.

Thin: the services in ``cabinet`` and ``cabinet_sharing`` check that the plugin
is enabled for the school, the actor's role and the student's school.
``sharedPortfolio`` is public (no sign-in, scope None): the token is the key.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from licheng.graphql.context import Info
from licheng.graphql.permissions import SignedIn
from licheng.graphql.relay import pk_of, to_global_id
from taipei_coolcloud import cabinet, cabinet_sharing
from taipei_coolcloud.models import cabinet as models

StatementKind = strawberry.enum(models.StatementKind, name="CabinetStatementKind")
PlanState = strawberry.enum(models.PlanState, name="LearningPlanState")


@strawberry.type
class CabinetStatementVersion:
    number: int
    text: str
    created_at: datetime


@strawberry.type(description="A student's autobiography (自傳) or study plan (學習計畫), with every earlier version.")
class CabinetStatement:
    kind: StatementKind  # type: ignore[valid-type]
    student_id: strawberry.ID
    text: str = strawberry.field(description="The latest version; empty before the first save.")
    version: int
    max_length: int
    updated_at: datetime | None
    versions: list[CabinetStatementVersion] = strawberry.field(description="Newest first.")

    @staticmethod
    def of(s: cabinet.Statement) -> CabinetStatement:
        return CabinetStatement(
            kind=s.kind, student_id=to_global_id("Person", s.student_id), text=s.row.text if s.row else "",
            version=s.row.version if s.row else 0, max_length=cabinet.STATEMENT_MAX_CHARS[s.kind],
            updated_at=s.row.updated_at if s.row else None,
            versions=[CabinetStatementVersion(number=v.number, text=v.text, created_at=v.created_at) for v in s.versions],
        )  # fmt: skip


@strawberry.type(description="One step of a plan: who did what, when.")
class LearningPlanEvent:
    action: str = strawberry.field(description="created, saved, submitted, approved, returned")
    state: PlanState  # type: ignore[valid-type]
    actor_id: strawberry.ID | None
    comment: str | None
    at: datetime


@strawberry.type(description="A self-directed learning plan (自主學習計畫).")
class LearningPlan:
    id: strawberry.ID
    student_id: strawberry.ID
    reviewer_id: strawberry.ID | None
    academic_year: int
    title: str
    goals: str
    schedule: str
    method: str
    expected_outcome: str
    state: PlanState  # type: ignore[valid-type]
    comment: str | None = strawberry.field(description="The reviewer's latest comment.")
    events: list[LearningPlanEvent]

    @staticmethod
    def of(plan: cabinet.Plan) -> LearningPlan:
        r = plan.row
        return LearningPlan(
            id=to_global_id("LearningPlan", r.id), student_id=to_global_id("Person", r.student_id),
            reviewer_id=to_global_id("Person", r.reviewer_id) if r.reviewer_id else None, academic_year=r.academic_year,
            title=r.title, goals=r.goals, schedule=r.schedule, method=r.method, expected_outcome=r.expected_outcome,
            state=r.state, comment=r.comment,
            events=[LearningPlanEvent(action=e.action, state=e.state, comment=e.comment, at=e.at,
                                      actor_id=to_global_id("Person", e.actor_person_id) if e.actor_person_id else None)
                    for e in plan.events],
        )  # fmt: skip


@strawberry.input
class LearningPlanInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="Omit to create a plan.")
    academic_year: int
    title: str
    goals: str = ""
    schedule: str = ""
    method: str = ""
    expected_outcome: str = ""


@strawberry.type(description="A read-only share link of the student's portfolio (the token is never shown again).")
class ShareLink:
    id: strawberry.ID
    label: str
    include_statements: bool
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    viewed_at: list[datetime] = strawberry.field(
        description="When the link was viewed (anonymous), newest first: the first view of each 10-minute window with views."
    )
    view_count: int = strawberry.field(description="How many times the link was viewed in all.")

    @staticmethod
    def of(info: cabinet_sharing.LinkInfo) -> ShareLink:
        r = info.row
        return ShareLink(
            id=to_global_id("ShareLink", r.id), label=r.label, include_statements=r.include_statements,
            created_at=r.created_at, expires_at=r.expires_at, revoked_at=r.revoked_at, viewed_at=info.viewed_at,
            view_count=info.view_count,
        )  # fmt: skip


@strawberry.type
class CreatedShareLink:
    link: ShareLink
    token: str = strawberry.field(description="Give this to the reader (sharedPortfolio(token)); shown only now.")


@strawberry.type
class SharedPortfolioItem:
    academic_year: int
    term: int | None
    title: str
    kind: str | None
    brief: str


@strawberry.type
class SharedPortfolioYear:
    academic_year: int
    outcomes: list[SharedPortfolioItem] = strawberry.field(description="Certified course outcomes only.")
    performances: list[SharedPortfolioItem]


@strawberry.type(description="What a share link shows: items by year with briefs, nothing personal beyond the name.")
class SharedPortfolio:
    student_name: str
    school_name: str
    expires_at: datetime
    years: list[SharedPortfolioYear]
    autobiography: str | None
    study_plan: str | None

    @staticmethod
    def of(p: cabinet_sharing.SharedPortfolio) -> SharedPortfolio:
        def item(i: cabinet_sharing.SharedItem) -> SharedPortfolioItem:
            return SharedPortfolioItem(academic_year=i.academic_year, term=i.term, title=i.title, kind=i.kind, brief=i.brief)

        return SharedPortfolio(
            student_name=p.student_name, school_name=p.school_name, expires_at=p.expires_at,
            years=[SharedPortfolioYear(academic_year=y.academic_year, outcomes=[item(i) for i in y.outcomes],
                                       performances=[item(i) for i in y.performances]) for y in p.years],
            autobiography=p.autobiography, study_plan=p.study_plan,
        )  # fmt: skip


def student_pk(student_id: strawberry.ID | None) -> int | None:
    """An optional ``studentId`` argument: the person's pk, or None for "myself"."""
    return pk_of(student_id, "Person") if student_id else None



@strawberry.type
class CabinetQuery:
    licheng_scopes = {
        "Query.cabinetStatement": "portfolio:read",
        "Query.learningPlans": "portfolio:read",
        "Query.learningPlansToReview": "portfolio:read",
        "Query.myShareLinks": "first-party",
        "Query.sharedPortfolio": None,
    }

    @strawberry.field(permission_classes=[SignedIn], description="臺北市: a student's 自傳 or 學習計畫 (yourself by default).")
    async def cabinet_statement(self, info: Info, kind: StatementKind, student_id: strawberry.ID | None = None) -> CabinetStatement:  # type: ignore[valid-type]
        return CabinetStatement.of(await cabinet.statement(info.context.actor, kind, student_pk(student_id)))

    @strawberry.field(permission_classes=[SignedIn], description="臺北市: a student's 自主學習計畫 (yourself by default).")
    async def learning_plans(self, info: Info, student_id: strawberry.ID | None = None) -> list[LearningPlan]:
        return [LearningPlan.of(p) for p in await cabinet.plans_of(info.context.actor, student_pk(student_id))]

    @strawberry.field(permission_classes=[SignedIn], description="臺北市: plans assigned to you or of your homeroom class.")
    async def learning_plans_to_review(self, info: Info, state: PlanState = models.PlanState.SUBMITTED) -> list[LearningPlan]:  # type: ignore[valid-type,assignment]
        return [LearningPlan.of(p) for p in await cabinet.plans_to_review(info.context.actor, state)]

    @strawberry.field(permission_classes=[SignedIn], description="學生: your share links and how often each was viewed.")
    async def my_share_links(self, info: Info) -> list[ShareLink]:
        return [ShareLink.of(i) for i in await cabinet_sharing.links_of(info.context.actor)]

    @strawberry.field(description="Public: the portfolio summary behind a live share link. Each view is recorded.")
    async def shared_portfolio(self, token: str) -> SharedPortfolio:
        return SharedPortfolio.of(await cabinet_sharing.shared_portfolio(token))


@strawberry.type
class CabinetMutation:
    licheng_scopes = {
        "Mutation.saveCabinetStatement": "portfolio:write",
        "Mutation.saveLearningPlan": "portfolio:write",
        "Mutation.submitLearningPlan": "portfolio:write",
        "Mutation.reviewLearningPlan": "certify",
        "Mutation.createShareLink": "first-party",
        "Mutation.revokeShareLink": "first-party",
    }

    @strawberry.mutation(permission_classes=[SignedIn], description="學生: save a new version of your 自傳 or 學習計畫.")
    async def save_cabinet_statement(self, info: Info, kind: StatementKind, text: str) -> CabinetStatement:  # type: ignore[valid-type]
        return CabinetStatement.of(await cabinet.save_statement(info.context.actor, kind, text))

    @strawberry.mutation(permission_classes=[SignedIn], description="學生: create or edit a plan (draft or returned).")
    async def save_learning_plan(self, info: Info, input: LearningPlanInput) -> LearningPlan:
        plan = await cabinet.save_plan(
            info.context.actor, pk_of(input.id, "LearningPlan") if input.id else None, academic_year=input.academic_year,
            title=input.title, goals=input.goals, schedule=input.schedule, method=input.method,
            expected_outcome=input.expected_outcome,
        )  # fmt: skip
        return LearningPlan.of(plan)

    @strawberry.mutation(permission_classes=[SignedIn], description="學生: send a plan for review (to a teacher, or your homeroom teacher).")
    async def submit_learning_plan(self, info: Info, id: strawberry.ID, reviewer_id: strawberry.ID | None = None) -> LearningPlan:
        plan = await cabinet.submit_plan(info.context.actor, pk_of(id, "LearningPlan"), student_pk(reviewer_id))
        return LearningPlan.of(plan)

    @strawberry.mutation(permission_classes=[SignedIn], description="Reviewer: approve a plan, or return it with a comment.")
    async def review_learning_plan(self, info: Info, id: strawberry.ID, approve: bool, comment: str | None = None) -> LearningPlan:
        plan = await cabinet.review_plan(info.context.actor, pk_of(id, "LearningPlan"), approve=approve, comment=comment)
        return LearningPlan.of(plan)

    @strawberry.mutation(permission_classes=[SignedIn], description="學生: a read-only link to your portfolio, 1 to 30 days.")
    async def create_share_link(
        self, info: Info, days: int = 7, label: str = "", include_statements: bool = False
    ) -> CreatedShareLink:
        row, token = await cabinet_sharing.create_link(info.context.actor, days=days, label=label, include_statements=include_statements)
        return CreatedShareLink(link=ShareLink.of(cabinet_sharing.LinkInfo(row, [], 0)), token=token)

    @strawberry.mutation(permission_classes=[SignedIn], description="學生: revoke a share link at once.")
    async def revoke_share_link(self, info: Info, id: strawberry.ID) -> ShareLink:
        row = await cabinet_sharing.revoke_link(info.context.actor, pk_of(id, "ShareLink"))
        return ShareLink.of(next(i for i in await cabinet_sharing.links_of(info.context.actor) if i.row.id == row.id))


QUERY_TYPES = [CabinetQuery]
MUTATION_TYPES = [CabinetMutation]
