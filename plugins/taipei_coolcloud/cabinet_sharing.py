"""Sharing a read-only portfolio link (分享學習歷程) with an expiry.

The student makes a link; the token (256 random bits) is shown once and only
its SHA-256 is stored, so a database dump does not hand out working links.
Anyone holding the token reads a summary until the link expires (30 days at
most) or is revoked: names of items by year with their briefs, certified
outcomes only, never national IDs, student numbers, files, details, reasons
or links. Views are counted per link and 10-minute window (anonymous): one
row and one audit entry per window, a counter for the rest, so an anonymous
caller cannot make the database grow by reading a link in a loop.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.plugins import runtime
from licheng.portfolio import clock
from licheng.portfolio.access import require_student
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Person, School
from taipei_coolcloud.cabinet import enabled_school
from taipei_coolcloud.cabinet_items import items_by_year
from taipei_coolcloud.ids import PLUGIN_ID
from taipei_coolcloud.models.cabinet import CabinetStatement, ShareLink, ShareLinkView, StatementKind

MAX_DAYS = 30
MAX_ACTIVE_LINKS = 10
VIEW_WINDOW = timedelta(minutes=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class LinkInfo:
    row: ShareLink
    viewed_at: list[datetime]  # newest first: the first view of each 10-minute window with views
    view_count: int  # every anonymous view


async def create_link(actor: Actor, *, days: int = 7, label: str = "", include_statements: bool = False) -> tuple[ShareLink, str]:
    """The student's new link and its token (returned only now)."""
    school_id = await enabled_school(actor)
    _, student_id = require_student(actor)
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"有效天數須為 1 到 {MAX_DAYS} 天", f"A link lasts 1 to {MAX_DAYS} days", limit=MAX_DAYS)
    label = (label or "").strip()
    if len(label) > 50:
        raise InvalidInput("label", "名稱不可超過 50 字", "The label is at most 50 characters")
    now = clock.now()
    active = await ShareLink.filter(school_id=school_id, student_id=student_id, revoked_at=None, expires_at__gt=now).count()
    if active >= MAX_ACTIVE_LINKS:
        raise LichengError("SHARE_LINK_LIMIT", f"有效的分享連結最多 {MAX_ACTIVE_LINKS} 個，請先撤銷舊連結",
                           f"At most {MAX_ACTIVE_LINKS} active share links: revoke one first", cap=MAX_ACTIVE_LINKS)  # fmt: skip
    token = secrets.token_urlsafe(32)
    row = await ShareLink.create(school_id=school_id, student_id=student_id, token_hash=token_hash(token), label=label,
                                 include_statements=include_statements, expires_at=now + timedelta(days=days))  # fmt: skip
    await audit.record(actor, "create_share_link", "share_link", row.id, student_id=student_id,
                       changes={"days": days, "include_statements": include_statements})  # fmt: skip
    return row, token


async def revoke_link(actor: Actor, link_id: int) -> ShareLink:
    school_id = await enabled_school(actor)
    _, student_id = require_student(actor)
    row = await ShareLink.get_or_none(id=link_id, school_id=school_id, student_id=student_id)
    if row is None:
        raise NotFound("share link", "分享連結")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        await row.save(update_fields=["revoked_at"])
        await audit.record(actor, "revoke_share_link", "share_link", row.id, student_id=student_id)
    return row


async def links_of(actor: Actor) -> list[LinkInfo]:
    """The student's links, newest first, with the time of every view."""
    school_id = await enabled_school(actor)
    _, student_id = require_student(actor)
    rows = await ShareLink.filter(school_id=school_id, student_id=student_id).order_by("-id")
    seen: dict[int, list[datetime]] = {row.id: [] for row in rows}
    counts: dict[int, int] = dict.fromkeys(seen, 0)
    for link_id, at, count in await ShareLinkView.filter(link_id__in=list(seen)).values_list("link_id", "viewed_at", "views"):
        seen[link_id].append(at)  # type: ignore[index,arg-type]
        counts[link_id] += count  # type: ignore[index,operator]
    return [LinkInfo(row, sorted(seen[row.id], reverse=True), counts[row.id]) for row in rows]


async def _count_view(link: ShareLink, student_id: int) -> None:
    """Count one anonymous view; the first of a 10-minute window makes the window's row and one audit entry."""
    now = clock.now()
    seconds = VIEW_WINDOW.total_seconds()
    window = datetime.fromtimestamp(now.timestamp() // seconds * seconds, UTC)
    counted = ShareLinkView.filter(link_id=link.id, window=window)
    if await counted.update(views=F("views") + 1):
        return
    try:
        async with in_transaction():  # a savepoint: on PostgreSQL a failed INSERT must not spoil an outer transaction
            await ShareLinkView.create(school_id=link.school_id, link_id=link.id, window=window, viewed_at=now)
    except IntegrityError:  # a concurrent request made the window's row first
        await counted.update(views=F("views") + 1)
        return
    await audit.record(None, "view_shared_portfolio", "share_link", link.id, school_id=link.school_id, student_id=student_id,
                       changes={"viewer": "anonymous", "counted_per_minutes": int(seconds // 60)})  # fmt: skip


# --- the public view ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedItem:
    item_type: str  # outcome | performance
    academic_year: int
    term: int | None
    title: str  # subject name of an outcome, title of a performance
    kind: str | None
    brief: str


@dataclass
class SharedYear:
    academic_year: int
    outcomes: list[SharedItem] = field(default_factory=list)
    performances: list[SharedItem] = field(default_factory=list)


@dataclass
class SharedPortfolio:
    student_name: str
    school_name: str
    expires_at: datetime
    years: list[SharedYear]
    autobiography: str | None = None
    study_plan: str | None = None


async def _summary(student_id: int) -> list[SharedYear]:
    return [
        SharedYear(
            year.academic_year,
            [SharedItem("outcome", o.academic_year, o.term, o.course_record.subject_name, None, o.brief) for o in year.outcomes],
            [SharedItem("performance", p.academic_year, None, p.title, p.kind.value, p.brief) for p in year.performances],
        )
        for year in await items_by_year(student_id)
    ]


async def shared_portfolio(token: str) -> SharedPortfolio:
    """Anyone with a live token: the student's summary. Counts the view (anonymous, per 10-minute window)."""
    if not token or len(token) > 128:
        raise NotFound("shared portfolio", "分享的學習歷程")
    link = await ShareLink.get_or_none(token_hash=token_hash(token))
    if link is None:
        raise NotFound("shared portfolio", "分享的學習歷程")
    await runtime.require_enabled(link.school_id, PLUGIN_ID)
    if link.revoked_at is not None:
        raise LichengError("SHARE_LINK_REVOKED", "此分享連結已被撤銷", "This share link was revoked")
    if link.expires_at <= clock.now():
        raise LichengError("SHARE_LINK_EXPIRED", "此分享連結已過期", "This share link has expired")
    student = await Person.get_or_none(id=link.student_id, school_id=link.school_id, active=True)
    if student is None:
        raise NotFound("shared portfolio", "分享的學習歷程")
    school = await School.get(id=link.school_id)
    await _count_view(link, student.id)
    result = SharedPortfolio(student.name, school.name, link.expires_at, await _summary(student.id))
    if link.include_statements:
        texts = dict(await CabinetStatement.filter(school_id=link.school_id, student_id=student.id).values_list("kind", "text"))
        result.autobiography = texts.get(StatementKind.AUTOBIOGRAPHY) or None  # type: ignore[call-overload]
        result.study_plan = texts.get(StatementKind.STUDY_PLAN) or None  # type: ignore[call-overload]
    return result
