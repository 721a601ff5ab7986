"""Isolation case for the school-system sync (see tests/graphql/test_isolation.py).

The mutation takes no school: it syncs the actor's own school. School A's intruder
(staff there) runs it; school B's people must be untouched and unnamed.
"""

from __future__ import annotations

from licheng.tenants.models import Person, SchoolClass
from tests.graphql.isolation import Case, World


async def _b_unchanged(w: World) -> None:
    people = await Person.filter(school_id=w.school_b.id).order_by("id")
    assert [(p.id, p.active) for p in people] == [(w.student_b.person.id, True), (w.staff_b.person.id, True)]
    assert await SchoolClass.filter(school_id=w.school_b.id).count() == 1


CASES: dict[str, Case] = {
    "Mutation.syncSchoolPeople": Case(
        "mutation { syncSchoolPeople { ok changed students { created deactivated } errors { column message_en: messageEn } } }",
        check=_b_unchanged,
    ),
}
