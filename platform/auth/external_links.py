"""Correcting links between external identities and our people (school staff, audited).

Why: a first sign-in links by national ID or student number, and data can be
wrong (a mistyped student number, a person imported twice). Staff of the school
remove the wrong link; the next sign-in links afresh by the rules in
``licheng.auth.external``. Another school's link reads as not found.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from licheng.auth.models import ExternalLogin
from licheng.errors import NotFound
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Membership, Role


async def external_logins_of(actor: Actor, person_id: int) -> list[ExternalLogin]:
    """A person's links in the actor's school (staff only)."""
    school_id = actor.require_role(Role.STAFF)
    return await ExternalLogin.filter(school_id=school_id, person_id=person_id).order_by("provider_id")


async def unlink_external_login(actor: Actor, link_id: int) -> None:
    """Remove one link of the actor's school, and the homeroom role it granted (staff only)."""
    school_id = actor.require_role(Role.STAFF)
    async with in_transaction():
        link = await ExternalLogin.get_or_none(id=link_id, school_id=school_id)
        if link is None:
            raise NotFound("external_login", "外部登入連結")
        if link.homeroom_class_id is not None:
            await Membership.filter(school_id=school_id, person_id=link.person_id, role=Role.HOMEROOM,
                                    school_class_id=link.homeroom_class_id).delete()  # fmt: skip
        await ExternalLogin.filter(id=link.id, school_id=school_id).delete()
        await audit.record(actor, "external_login_unlinked", "person", link.person_id, school_id=school_id,
                           changes={"provider": link.provider_id, "linked_by": link.linked_by})  # fmt: skip
