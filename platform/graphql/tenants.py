"""GraphQL for tenants: bureaus, schools, terms, classes and people, with their resolvers."""

from __future__ import annotations

from datetime import date

import strawberry

from licheng.graphql.context import Info
from licheng.graphql.loaders import by_id, grouped, loader
from licheng.graphql.permissions import InSchool, PlatformAdmin, SignedIn
from licheng.graphql.relay import Connection, Node, connection, node_resolver, pk_of, to_global_id
from licheng.tenants import models, service

SchoolKind = strawberry.enum(models.SchoolKind, name="SchoolKind")
Role = strawberry.enum(models.Role, name="Role")


@strawberry.type
class Bureau(Node):
    pk: strawberry.Private[int]
    code: str
    name: str

    @staticmethod
    def of(row: models.Bureau) -> Bureau:
        return Bureau(id=to_global_id("Bureau", row.id), pk=row.id, code=row.code, name=row.name)


@strawberry.type
class Term:
    academic_year: int
    term: int
    starts_on: date
    ceremony_on: date

    @staticmethod
    def of(row: models.SchoolTerm) -> Term:
        return Term(academic_year=row.academic_year, term=row.term, starts_on=row.starts_on, ceremony_on=row.ceremony_on)


@strawberry.type
class School(Node):
    pk: strawberry.Private[int]
    bureau_pk: strawberry.Private[int]
    code: str = strawberry.field(description="The Ministry's 6-character school code (學校代碼).")
    name: str
    kind: SchoolKind  # type: ignore[valid-type]
    time_zone: str

    @staticmethod
    def of(row: models.School) -> School:
        return School(
            id=to_global_id("School", row.id), pk=row.id, bureau_pk=row.bureau_id, code=row.code,
            name=row.name, kind=row.kind, time_zone=row.time_zone,
        )  # fmt: skip

    @strawberry.field
    async def bureau(self, info: Info) -> Bureau:
        row = await loader(info, "bureau", by_id(models.Bureau)).load(self.bureau_pk)
        return Bureau.of(row)


@strawberry.type
class SchoolClass(Node):
    pk: strawberry.Private[int]
    code: str
    name: str
    grade: int

    @staticmethod
    def of(row: models.SchoolClass) -> SchoolClass:
        return SchoolClass(id=to_global_id("SchoolClass", row.id), pk=row.id, code=row.code, name=row.name, grade=row.grade)

    @strawberry.field
    async def students(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Person]:
        page = await service.list_people(
            info.context.actor, role=models.Role.STUDENT, class_id=self.pk, first=first, after=after
        )
        return connection(page, Person.of)


@strawberry.type
class Person(Node):
    pk: strawberry.Private[int]
    class_pk: strawberry.Private[int | None]
    row: strawberry.Private[models.Person]
    name: str
    student_number: str | None = strawberry.field(description="學號, for students.")
    seat: int | None
    entry_year: int | None
    active: bool

    @staticmethod
    def of(row: models.Person) -> Person:
        return Person(
            id=to_global_id("Person", row.id), pk=row.id, class_pk=row.school_class_id, row=row, name=row.name,
            student_number=row.student_number, seat=row.seat, entry_year=row.entry_year, active=row.active,
        )  # fmt: skip

    @strawberry.field(description="Shown only to the person and school staff.")
    def email(self, info: Info) -> str | None:
        actor = info.context.actor
        return self.row.email if actor.person_id == self.pk or actor.has(models.Role.STAFF) else None

    @strawberry.field(description="Masked (A123456****) except for registry staff, whose reads are audited.")
    async def national_id(self, info: Info) -> str | None:
        return await service.reveal_national_id(info.context.settings, info.context.actor, self.row)

    @strawberry.field(name="class")
    async def school_class(self, info: Info) -> SchoolClass | None:
        if self.class_pk is None:
            return None
        row = await loader(info, "class", by_id(models.SchoolClass, school_id=self.row.school_id)).load(self.class_pk)
        return SchoolClass.of(row) if row else None

    @strawberry.field
    async def roles(self, info: Info) -> list[Role]:  # type: ignore[valid-type]
        rows = await loader(info, "memberships", grouped(models.Membership, "person_id")).load(self.pk)
        return sorted({m.role for m in rows}, key=lambda r: r.value)

    @strawberry.field(description="A parent's children (家長的子女).")
    async def children(self, info: Info) -> list[Person]:
        return [Person.of(row) for row in await service.children_of(info.context.actor, self.pk)]


@node_resolver("Bureau")
async def _bureau_node(info: Info, pk: int) -> Bureau | None:
    rows = [b for b in await service.list_bureaus(info.context.actor) if b.id == pk]
    return Bureau.of(rows[0]) if rows else None


@node_resolver("School")
async def _school_node(info: Info, pk: int) -> School:
    return School.of(await service.get_school(info.context.actor, pk))


@node_resolver("SchoolClass")
async def _class_node(info: Info, pk: int) -> SchoolClass:
    return SchoolClass.of(await service.get_class(info.context.actor, pk))


@node_resolver("Person")
async def _person_node(info: Info, pk: int) -> Person:
    row = await service.get_person(info.context.actor, pk)
    await service.record_personal_data_read(info.context.actor, row)
    return Person.of(row)


@strawberry.type
class TenantQuery:
    @strawberry.field(permission_classes=[SignedIn], description="Bureaus the viewer administers.")
    async def bureaus(self, info: Info) -> list[Bureau]:
        return [Bureau.of(b) for b in await service.list_bureaus(info.context.actor)]

    @strawberry.field(permission_classes=[SignedIn])
    async def schools(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[School]:
        return connection(await service.list_schools(info.context.actor, first=first, after=after), School.of)

    @strawberry.field(permission_classes=[InSchool], description="The calendar of the viewer's school.")
    async def terms(self, info: Info) -> list[Term]:
        return [Term.of(t) for t in await service.list_terms(info.context.actor)]

    @strawberry.field(permission_classes=[InSchool])
    async def classes(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[SchoolClass]:
        return connection(await service.list_classes(info.context.actor, first=first, after=after), SchoolClass.of)

    @strawberry.field(permission_classes=[InSchool])
    async def people(
        self,
        info: Info,
        role: Role | None = None,  # type: ignore[valid-type]
        class_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Person]:
        page = await service.list_people(
            info.context.actor,
            role=role,
            class_id=pk_of(class_id, "SchoolClass") if class_id else None,
            first=first,
            after=after,
        )
        return connection(page, Person.of)


@strawberry.input
class CreateSchoolInput:
    bureau_id: strawberry.ID
    code: str
    name: str
    kind: SchoolKind = models.SchoolKind.GENERAL  # type: ignore[valid-type]


@strawberry.type
class InvitedStaff:
    person: Person
    login: str
    initial_password: str | None = strawberry.field(
        description="Shown once; null when the account existed already. Must be changed at first sign-in."
    )


@strawberry.input
class SetTermInput:
    academic_year: int
    term: int
    starts_on: date
    ceremony_on: date


@strawberry.type
class TenantMutation:
    @strawberry.mutation(permission_classes=[PlatformAdmin])
    async def create_bureau(self, info: Info, code: str, name: str) -> Bureau:
        return Bureau.of(await service.create_bureau(info.context.actor, code, name))

    @strawberry.mutation(permission_classes=[PlatformAdmin])
    async def add_bureau_admin(self, info: Info, bureau_id: strawberry.ID, login: str) -> Bureau:
        pk = pk_of(bureau_id, "Bureau")
        await service.add_bureau_admin(info.context.actor, pk, login)
        return Bureau.of(await models.Bureau.get(id=pk))

    @strawberry.mutation(permission_classes=[SignedIn], description="Platform admins, or admins of the bureau.")
    async def create_school(self, info: Info, input: CreateSchoolInput) -> School:
        row = await service.create_school(
            info.context.actor, pk_of(input.bureau_id, "Bureau"), input.code, input.name, input.kind
        )
        return School.of(row)

    @strawberry.mutation(permission_classes=[SignedIn], description="Create a school staff account (註冊組/教務處).")
    async def invite_staff(
        self, info: Info, school_id: strawberry.ID, login: str, name: str, email: str | None = None
    ) -> InvitedStaff:
        person, initial = await service.invite_staff(
            info.context.settings, info.context.actor, pk_of(school_id, "School"), login, name, email
        )
        return InvitedStaff(person=Person.of(person), login=login, initial_password=initial or None)

    @strawberry.mutation(permission_classes=[InSchool], description="Staff set a term's key dates.")
    async def set_term(self, info: Info, input: SetTermInput) -> Term:
        row = await service.set_term(info.context.actor, input.academic_year, input.term, input.starts_on, input.ceremony_on)
        return Term.of(row)


__all__ = ["Person", "School", "SchoolClass", "TenantMutation", "TenantQuery"]
