"""GraphQL for course outcomes and their certification: upload, send, the teacher's queue,
opening, passing or failing, publishing, and substitutes (代理人)."""

from __future__ import annotations

import strawberry

from licheng.graphql.context import Info
from licheng.graphql.loaders import loader
from licheng.graphql.permissions import InSchool
from licheng.graphql.portfolio_types import CourseOutcome, PortfolioFile
from licheng.graphql.relay import Connection, connection, node_resolver, pk_of, to_global_id
from licheng.graphql.tenants import Person
from licheng.portfolio import access, certification, files, outcomes, views



async def _outcome(info: Info, pk: int) -> CourseOutcome:
    row = await views.load_outcome(pk)
    return CourseOutcome.of(row, teacher_view=access.sees_unpublished_decision(info.context.actor, row.student_id))


def _ref(value: strawberry.ID | None) -> str | None:
    return str(value) if value else None


@node_resolver("CourseOutcome")
async def _outcome_node(info: Info, pk: int) -> CourseOutcome:
    row = await views.visible_outcome(info.context.actor, pk)
    return CourseOutcome.of(row, teacher_view=access.sees_unpublished_decision(info.context.actor, row.student_id))


@strawberry.input
class CreateOutcomeInput:
    course_record_id: strawberry.ID
    brief: str = strawberry.field(description="簡述, at most 100 characters.")
    document_upload: strawberry.ID | None = strawberry.field(default=None, description="uploadId from POST /uploads?category=document (PDF, JPG, PNG).")
    media_upload: strawberry.ID | None = strawberry.field(default=None, description="uploadId from POST /uploads?category=media (MP3, MP4).")


@strawberry.input
class ReviseOutcomeInput:
    id: strawberry.ID
    brief: str | None = None
    document_upload: strawberry.ID | None = None
    media_upload: strawberry.ID | None = None


@strawberry.type
class SubstituteAssignment:
    id: strawberry.ID
    teacher: Person
    substitute: Person
    academic_year: int
    term: int


@strawberry.type
class OpenedOutcome:
    outcome: CourseOutcome
    files: list[PortfolioFile]


@strawberry.type
class OutcomeQuery:
    @strawberry.field(permission_classes=[InSchool], description="任課教師: outcomes of his courses (and those he substitutes for).")
    async def certification_queue(
        self, info: Info, academic_year: int | None = None, term: int | None = None, pending_only: bool = True,
        first: int | None = None, after: str | None = None,
    ) -> Connection[CourseOutcome]:  # fmt: skip
        page = await certification.certification_queue(
            info.context.actor, academic_year=academic_year, term=term, pending_only=pending_only, first=first, after=after
        )
        people = loader(info, "portfolio.person", views.people_by_id(info.context.actor.school_id))
        for row in page.items:
            people.prime(row.student_id, row.student)
        return connection(page, lambda row: CourseOutcome.of(row, teacher_view=True))

    @strawberry.field(permission_classes=[InSchool], description="Substitute assignments (代理人): staff see all, teachers theirs.")
    async def substitutes(self, info: Info, academic_year: int | None = None) -> list[SubstituteAssignment]:
        rows = await certification.list_substitutes(info.context.actor, academic_year)
        people = {p.id: p for p in await views.people(info.context.actor, [i for r in rows for i in (r.teacher_id, r.substitute_id)])}
        return [
            SubstituteAssignment(id=to_global_id("SubstituteAssignment", r.id), teacher=Person.of(people[r.teacher_id]),
                                 substitute=Person.of(people[r.substitute_id]), academic_year=r.academic_year, term=r.term)  # fmt: skip
            for r in rows
        ]


@strawberry.type
class OutcomeMutation:
    @strawberry.mutation(permission_classes=[InSchool], description="學生: upload a course outcome for one of his course records.")
    async def create_course_outcome(self, info: Info, input: CreateOutcomeInput) -> CourseOutcome:
        row = await outcomes.create_outcome(
            info.context.actor, course_record_id=pk_of(input.course_record_id, "CourseRecord"), brief=input.brief,
            document_ref=_ref(input.document_upload), media_ref=_ref(input.media_upload),
        )  # fmt: skip
        return await _outcome(info, row.id)

    @strawberry.mutation(permission_classes=[InSchool], description="學生: a new version of a draft or failed outcome (earlier files are kept).")
    async def revise_course_outcome(self, info: Info, input: ReviseOutcomeInput) -> CourseOutcome:
        row = await outcomes.revise_outcome(
            info.context.actor, pk_of(input.id, "CourseOutcome"), brief=input.brief,
            document_ref=_ref(input.document_upload), media_ref=_ref(input.media_upload),
        )  # fmt: skip
        return await _outcome(info, row.id)

    @strawberry.mutation(permission_classes=[InSchool], description="學生: withdraw a draft never sent.")
    async def delete_course_outcome(self, info: Info, id: strawberry.ID) -> bool:
        await outcomes.delete_outcome(info.context.actor, pk_of(id, "CourseOutcome"))
        return True

    @strawberry.mutation(permission_classes=[InSchool], description="學生: 提交認證, within the upload window and the caps.")
    async def send_outcome_for_certification(self, info: Info, id: strawberry.ID) -> CourseOutcome:
        row = await outcomes.send_for_certification(info.context.actor, pk_of(id, "CourseOutcome"))
        return await _outcome(info, row.id)

    @strawberry.mutation(permission_classes=[InSchool], description="任課教師: open (read) the files; recorded, required before certifying.")
    async def open_outcome_file(self, info: Info, id: strawberry.ID) -> OpenedOutcome:
        pk = pk_of(id, "CourseOutcome")
        refs = await certification.open_outcome_file(info.context.actor, pk)
        rows = await files.file_rows([r.id for r in refs])
        return OpenedOutcome(outcome=await _outcome(info, pk), files=[PortfolioFile.of(r) for r in rows])  # type: ignore[misc]

    @strawberry.mutation(permission_classes=[InSchool], description="任課教師: pass or fail (with a reason); private until published.")
    async def certify_course_outcome(self, info: Info, id: strawberry.ID, passed: bool, reason: str | None = None) -> CourseOutcome:
        row = await certification.certify_outcome(info.context.actor, pk_of(id, "CourseOutcome"), passed, reason)
        return await _outcome(info, row.id)

    @strawberry.mutation(permission_classes=[InSchool], description="任課教師: 公布 the decided outcomes (all of his, or those listed).")
    async def publish_certifications(self, info: Info, ids: list[strawberry.ID] | None = None) -> list[CourseOutcome]:
        pks = [pk_of(i, "CourseOutcome") for i in ids] if ids is not None else None
        rows = await certification.publish_certifications(info.context.actor, pks)
        loaded = await views.load_outcomes([r.id for r in rows])
        return [CourseOutcome.of(r, teacher_view=True) for r in loaded]

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: a substitute (代理人) certifies for a teacher during a term.")
    async def assign_substitute(
        self, info: Info, teacher_id: strawberry.ID, substitute_id: strawberry.ID, academic_year: int, term: int
    ) -> SubstituteAssignment:
        row = await certification.assign_substitute(
            info.context.actor, pk_of(teacher_id, "Person"), pk_of(substitute_id, "Person"), academic_year, term
        )
        people = {p.id: p for p in await views.people(info.context.actor, [row.teacher_id, row.substitute_id])}
        return SubstituteAssignment(id=to_global_id("SubstituteAssignment", row.id), teacher=Person.of(people[row.teacher_id]),
                                    substitute=Person.of(people[row.substitute_id]), academic_year=row.academic_year, term=row.term)  # fmt: skip

    @strawberry.mutation(permission_classes=[InSchool], description="Staff: end a substitute assignment.")
    async def remove_substitute(self, info: Info, id: strawberry.ID) -> bool:
        await certification.remove_substitute(info.context.actor, pk_of(id, "SubstituteAssignment"))
        return True


__all__ = ["OutcomeMutation", "OutcomeQuery"]
