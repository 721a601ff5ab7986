"""Who may see or touch which student's portfolio, and the per-student lock for caps.

Another school's student is ``NotFound``; a student of the same school the
actor may not see is ``NotFound`` too (existence is not revealed).
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from licheng.errors import Forbidden, NotFound
from licheng.portfolio.models import StudentCounter
from licheng.tenants.actor import Actor
from licheng.tenants.models import Guardianship, Membership, Person, Role


def require_student(actor: Actor) -> tuple[int, int]:
    """The acting student's (school_id, person_id)."""
    school_id = actor.require_role(Role.STUDENT)
    if actor.person_id is None:
        raise Forbidden()
    return school_id, actor.person_id


async def student_in_school(actor: Actor, student_id: int) -> Person:
    """A student of the actor's school (any role may name one; what it may do is checked after)."""
    school_id = actor.require_school()
    person = await Person.get_or_none(id=student_id, school_id=school_id)
    if person is None or not await Membership.exists(person_id=student_id, role=Role.STUDENT):
        raise NotFound("student", "學生")
    return person


async def viewable_student(actor: Actor, student_id: int) -> Person:
    """The student if the actor may read his portfolio: himself, his parents, his homeroom
    teacher (導師), counselors and staff. Anyone else gets ``NotFound``."""
    school_id = actor.require_school()
    person = await Person.get_or_none(id=student_id, school_id=school_id)
    if person is None:
        raise NotFound("student", "學生")
    if actor.person_id == student_id or actor.has(Role.STAFF, Role.COUNSELOR):
        return person
    if actor.has(Role.HOMEROOM) and person.school_class_id in actor.homeroom_class_ids:
        return person
    if actor.has(Role.PARENT) and await Guardianship.exists(
        school_id=school_id, parent_id=actor.person_id or -1, student_id=student_id
    ):
        return person
    raise NotFound("student", "學生")


async def children_of(actor: Actor) -> list[Person]:
    """A parent's children (家長的子女) in the actor's school."""
    school_id = actor.require_role(Role.PARENT)
    ids = await Guardianship.filter(school_id=school_id, parent_id=actor.person_id or -1).values_list("student_id", flat=True)
    return await Person.filter(school_id=school_id, id__in=list(ids)).order_by("id")


async def ensure_counter(school_id: int, student_id: int, academic_year: int) -> None:
    """Create the lock row once, outside the transaction that will lock it."""
    if await StudentCounter.exists(student_id=student_id, academic_year=academic_year):
        return
    try:
        await StudentCounter.create(school_id=school_id, student_id=student_id, academic_year=academic_year)
    except IntegrityError:
        pass  # a concurrent request created it


async def lock_student(student_id: int, academic_year: int) -> None:
    """Inside a transaction: serialise cap checks of one student and year.

    PostgreSQL takes a row lock (SELECT ... FOR UPDATE); SQLite ignores it and
    relies on its single writer (Tortoise holds one connection per transaction).
    """
    await StudentCounter.filter(student_id=student_id, academic_year=academic_year).select_for_update().first()


def sees_unpublished_decision(actor: Actor, student_id: int) -> bool:
    """A certification result is hidden from the student (and his parents) until published;
    the teachers and staff handling it see it at once."""
    return actor.person_id != student_id and actor.has(Role.TEACHER, Role.STAFF)


def sees_unpublished_decisions_in_portfolio(actor: Actor) -> bool:
    """In a whole-portfolio view only staff see results before they are published."""
    return actor.has(Role.STAFF)
