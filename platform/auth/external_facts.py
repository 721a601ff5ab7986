"""What a city directory or single sign-on states about a person, added in the school signed in to.

Why its own module: linking (``licheng.auth.external``) decides *who* signs in;
this decides what the provider's statements may change, and the answer is
deliberately small. A parent's children already linked in the same school
become guardianships. A teacher's tutor class (導師班) names no school, so it
becomes the homeroom role only when the identity named exactly one school; the
homeroom a link granted is remembered on the link and moves with the tutor
class instead of piling up. Everything else is the school sync's job.
"""

from __future__ import annotations

from typing import Any

from licheng.auth.models import ExternalLogin
from licheng.plugins.contracts import ExternalIdentity
from licheng.tenants import audit
from licheng.tenants.models import Guardianship, Membership, Person, Role, School, SchoolClass


async def has_role(person: Person, role: Role) -> bool:
    return await Membership.exists(person_id=person.id, role=role)


async def apply_facts(provider_id: str, school: School, person: Person, facts: dict[str, Any]) -> None:
    """What the city directory states and we can add safely, in the school signed in to only.

    A parent's children already linked *in this school* become guardianships. A
    teacher's tutor class carries no school, so it becomes the homeroom role only
    when the identity named exactly this one school; the homeroom granted earlier
    moves with it (no roles piling up). Everything else is the school sync's job.
    """
    children = [str(c) for c in facts.get("children") or ()]
    if children and Role.PARENT.value in (facts.get("roles") or ()):
        rows = await ExternalLogin.filter(provider_id=provider_id, subject__in=children, school_id=school.id)
        for child_id in [row.person_id for row in rows]:
            _, created = await Guardianship.get_or_create(school_id=school.id, parent_id=person.id, student_id=child_id)
            if created:
                await audit.record(None, "guardianship_from_sso", "person", person.id, school_id=school.id,
                                   student_id=child_id, changes={"provider": provider_id})  # fmt: skip
    if not facts.get("one_school") or not await has_role(person, Role.TEACHER):
        return
    link = await ExternalLogin.get(provider_id=provider_id, person_id=person.id, school_id=school.id)
    tutor = str(facts.get("tutor_class") or "").strip()
    cls = await SchoolClass.get_or_none(school_id=school.id, code=tutor) if tutor else None
    granted = link.homeroom_class_id
    if granted is not None and (cls is None or cls.id != granted):
        await Membership.filter(school_id=school.id, person_id=person.id, role=Role.HOMEROOM, school_class_id=granted).delete()
        await ExternalLogin.filter(id=link.id).update(homeroom_class_id=None)
        await audit.record(None, "homeroom_from_sso_removed", "person", person.id, school_id=school.id,
                           changes={"provider": provider_id, "class_id": granted})  # fmt: skip
    if cls is not None and cls.id != granted:
        _, created = await Membership.get_or_create(school_id=school.id, person_id=person.id, role=Role.HOMEROOM, school_class_id=cls.id)
        if created:
            await ExternalLogin.filter(id=link.id).update(homeroom_class_id=cls.id)
            await audit.record(None, "homeroom_from_sso", "person", person.id, school_id=school.id,
                               changes={"provider": provider_id, "class": cls.code})  # fmt: skip


def facts_of(identity: ExternalIdentity) -> dict[str, Any]:
    """What ``apply_facts`` needs, small enough to travel in the sealed choice token."""
    return {"children": list(identity.children), "roles": list(identity.roles), "tutor_class": identity.tutor_class,
            "one_school": len(identity.all_school_codes()) == 1}  # fmt: skip
