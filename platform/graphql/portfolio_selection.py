"""GraphQL for diverse performances (多元表現), late additions (補件) and selection (勾選)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from licheng.graphql.context import Info
from licheng.graphql.permissions import InSchool
from licheng.graphql.portfolio_types import DiversePerformance, PerformanceKind
from licheng.graphql.relay import node_resolver, pk_of, to_global_id
from licheng.portfolio import performances, selection, views
from licheng.portfolio.models import PerformanceKind as KindRow


@node_resolver("DiversePerformance")
async def _performance_node(info: Info, pk: int) -> DiversePerformance:
    return DiversePerformance.of(await views.visible_performance(info.context.actor, pk))


@strawberry.input
class PerformanceInput:
    academic_year: int
    kind: PerformanceKind  # type: ignore[valid-type]
    title: str
    brief: str = strawberry.field(description="簡述, at most 100 characters.")
    details: JSON | None = strawberry.field(default=None, description="The kind's roster fields (see performanceKinds).")
    external_url: str | None = strawberry.field(default=None, description="An external link (http or https).")
    document_upload: strawberry.ID | None = None
    media_upload: strawberry.ID | None = None


@strawberry.input
class UpdatePerformanceInput:
    id: strawberry.ID
    title: str | None = None
    brief: str | None = None
    details: JSON | None = None
    external_url: str | None = None
    document_upload: strawberry.ID | None = None
    media_upload: strawberry.ID | None = None


@strawberry.type(description="The year's selection (勾選) against the caps.")
class Selection:
    academic_year: int
    outcome_ids: list[strawberry.ID]
    performance_ids: list[strawberry.ID]
    outcomes_cap: int
    performances_cap: int

    @staticmethod
    def of(summary: selection.SelectionSummary) -> Selection:
        return Selection(
            academic_year=summary.academic_year,
            outcome_ids=[to_global_id("CourseOutcome", i) for i in summary.outcome_ids],
            performance_ids=[to_global_id("DiversePerformance", i) for i in summary.performance_ids],
            outcomes_cap=summary.outcomes_cap, performances_cap=summary.performances_cap,
        )  # fmt: skip


def _fields(input: PerformanceInput) -> dict:
    return {
        "academic_year": input.academic_year, "kind": KindRow(input.kind), "title": input.title,
        "brief": input.brief, "details": input.details, "external_url": input.external_url,
        "document_ref": str(input.document_upload) if input.document_upload else None,
        "media_ref": str(input.media_upload) if input.media_upload else None,
    }  # fmt: skip


async def _answer(pk: int) -> DiversePerformance:
    return DiversePerformance.of((await views.load_performances([pk]))[0])


@strawberry.type
class SelectionMutation:
    @strawberry.mutation(permission_classes=[InSchool], description="學生: add a diverse performance to an academic year.")
    async def create_performance(self, info: Info, input: PerformanceInput) -> DiversePerformance:
        row = await performances.create_performance(info.context.actor, **_fields(input))
        return await _answer(row.id)

    @strawberry.mutation(permission_classes=[InSchool], description="學生: a new version while the window is open.")
    async def update_performance(self, info: Info, input: UpdatePerformanceInput) -> DiversePerformance:
        row = await performances.update_performance(
            info.context.actor, pk_of(input.id, "DiversePerformance"), title=input.title, brief=input.brief,
            details=dict(input.details) if input.details is not None else None, external_url=input.external_url,  # type: ignore[call-overload]
            document_ref=str(input.document_upload) if input.document_upload else None,
            media_ref=str(input.media_upload) if input.media_upload else None,
        )  # fmt: skip
        return await _answer(row.id)

    @strawberry.mutation(permission_classes=[InSchool], description="學生: remove a performance while the window is open.")
    async def delete_performance(self, info: Info, id: strawberry.ID) -> bool:
        await performances.delete_performance(info.context.actor, pk_of(id, "DiversePerformance"))
        return True

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: 補件, add a performance after its window, with a reason.")
    async def add_late_performance(self, info: Info, student_id: strawberry.ID, reason: str, input: PerformanceInput) -> DiversePerformance:
        row = await performances.add_late_performance(
            info.context.actor, student_id=pk_of(student_id, "Person"), reason=reason, **_fields(input)
        )
        return await _answer(row.id)

    @strawberry.mutation(permission_classes=[InSchool], description="學生: 勾選 up to 6 passed outcomes and 10 performances of a year.")
    async def select_portfolio_items(
        self, info: Info, academic_year: int, outcome_ids: list[strawberry.ID] | None = None,
        performance_ids: list[strawberry.ID] | None = None,
    ) -> Selection:  # fmt: skip
        summary = await selection.select_items(
            info.context.actor, academic_year,
            outcome_ids=[pk_of(i, "CourseOutcome") for i in outcome_ids or []],
            performance_ids=[pk_of(i, "DiversePerformance") for i in performance_ids or []],
        )  # fmt: skip
        return Selection.of(summary)

    @strawberry.mutation(permission_classes=[InSchool], description="學生: take items out of the selection while the window is open.")
    async def unselect_portfolio_items(
        self, info: Info, academic_year: int, outcome_ids: list[strawberry.ID] | None = None,
        performance_ids: list[strawberry.ID] | None = None,
    ) -> Selection:  # fmt: skip
        summary = await selection.unselect_items(
            info.context.actor, academic_year,
            outcome_ids=[pk_of(i, "CourseOutcome") for i in outcome_ids or []],
            performance_ids=[pk_of(i, "DiversePerformance") for i in performance_ids or []],
        )  # fmt: skip
        return Selection.of(summary)
