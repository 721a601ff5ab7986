"""Early warnings in the app: a person's own warnings, the school's list for staff, e-mail opt-out.

Every function takes the acting ``Actor`` first, refuses (``NotFound``) where the
plugin is not enabled, and scopes by the school. A warning of another person or
school reads as absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from licheng.errors import Forbidden, NotFound
from licheng.pagination import Page, paginate
from licheng.plugins.runtime import require_enabled
from licheng.portfolio import clock
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Role
from taipei_coolcloud.ids import PLUGIN_ID
from taipei_coolcloud.models.early_warnings import EarlyWarning, WarningEmailOptOut, WarningKind

ALL_KINDS = ""  # the opt-out row that covers every kind
STUDENT_KINDS = frozenset({WarningKind.OUTCOMES_NOT_SENT, WarningKind.NOT_SELECTED})  # sent to students


async def _audit_staff_read(actor: Actor, rows: list[EarlyWarning]) -> None:
    """PDPA: staff reading students' warnings leaves one ``read_portfolio`` entry per student (not per warning)."""
    students = sorted({r.recipient_id for r in rows if r.kind in STUDENT_KINDS and r.recipient_id != actor.person_id})
    for student_id in students:
        await audit.record(actor, "read_portfolio", "person", student_id, student_id=student_id, changes={"via": "warnings"})


async def _enabled(actor: Actor) -> None:
    """First of all: where the plugin is not enabled (or without a school) nothing exists."""
    await require_enabled(actor.school_id, PLUGIN_ID)


async def _me(actor: Actor) -> tuple[int, int]:
    await _enabled(actor)
    school_id = actor.require_school()
    if actor.person_id is None:
        raise Forbidden("read warnings without a person in this school", "在此學校沒有人員身分時讀取預警")
    return school_id, actor.person_id


async def my_warnings(
    actor: Actor, *, unread_only: bool = False, first: int | None = None, after: str | None = None
) -> Page[EarlyWarning]:
    school_id, me = await _me(actor)
    query = EarlyWarning.filter(school_id=school_id, recipient_id=me).select_related("recipient")
    if unread_only:
        query = query.filter(read_at__isnull=True)
    return await paginate(query, first=first, after=after)


async def school_warnings(
    actor: Actor, *, kind: WarningKind | None = None, first: int | None = None, after: str | None = None
) -> Page[EarlyWarning]:
    """Staff (註冊組/教務處) see every warning of their school, e.g. to follow up by phone."""
    await _enabled(actor)
    school_id = actor.require_role(Role.STAFF)
    query = EarlyWarning.filter(school_id=school_id).select_related("recipient")
    if kind is not None:
        query = query.filter(kind=kind)
    page = await paginate(query, first=first, after=after)
    await _audit_staff_read(actor, page.items)
    return page


async def get_warning(actor: Actor, warning_id: int) -> EarlyWarning:
    """One warning: the recipient's own, or any of the school's for staff."""
    await _enabled(actor)
    school_id = actor.require_school()
    query = EarlyWarning.filter(id=warning_id, school_id=school_id)
    if not actor.has(Role.STAFF):
        query = query.filter(recipient_id=actor.person_id or -1)
    row = await query.select_related("recipient").first()
    if row is None:
        raise NotFound("warning", "預警")
    await _audit_staff_read(actor, [row])
    return row


async def mark_read(actor: Actor, warning_id: int) -> EarlyWarning:
    """The recipient marks his warning read (only the first time is kept)."""
    school_id, me = await _me(actor)
    row = await EarlyWarning.get_or_none(id=warning_id, school_id=school_id, recipient_id=me)
    if row is None:
        raise NotFound("warning", "預警")
    if row.read_at is None:
        await EarlyWarning.filter(id=row.id, read_at__isnull=True).update(read_at=clock.now())
    return await EarlyWarning.get(id=row.id).select_related("recipient")


@dataclass(frozen=True)
class EmailPreference:
    all_kinds: bool  # no warning e-mail at all
    kinds: list[WarningKind]  # opted out of these kinds only


async def email_preference(actor: Actor) -> EmailPreference:
    return await _preference(*await _me(actor))


async def _preference(school_id: int, me: int) -> EmailPreference:
    kinds = set(await WarningEmailOptOut.filter(school_id=school_id, person_id=me).values_list("kind", flat=True))
    return EmailPreference(ALL_KINDS in kinds, [k for k in WarningKind if k.value in kinds])


async def set_email_opt_out(actor: Actor, opt_out: bool, kind: WarningKind | None = None) -> EmailPreference:
    """Stop (or resume) warning e-mail, of one kind or of all. The warnings still show in the app."""
    school_id, me = await _me(actor)
    key = kind.value if kind is not None else ALL_KINDS
    if opt_out:
        _, created = await WarningEmailOptOut.get_or_create(school_id=school_id, person_id=me, kind=key)
        changed = created
    else:
        changed = bool(await WarningEmailOptOut.filter(school_id=school_id, person_id=me, kind=key).delete())
    if changed:
        await audit.record(actor, "warning_email_opt_out" if opt_out else "warning_email_opt_in", "person", me,
                           changes={"kind": key or "all"})  # fmt: skip
    return await _preference(school_id, me)
