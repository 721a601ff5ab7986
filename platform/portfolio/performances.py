"""Diverse performances (多元表現): entered by the student during the year, no certification.

They are uploaded all year until the performance deadline, and cannot be added
afterwards ("not added retroactively"); staff may add one later only as an
explicit, audited late addition (補件). Each may have a document, a media file
and an external link (performances only).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tortoise.transactions import in_transaction

from licheng.errors import NotFound
from licheng.portfolio.access import ensure_counter, lock_student, require_student, student_in_school
from licheng.portfolio.errors import Immutable, invalid_url, performance_cap
from licheng.portfolio.files import attach_file
from licheng.portfolio.kinds import clean_details
from licheng.portfolio.models import DiversePerformance, ItemVersion, LateAddition, PerformanceKind
from licheng.portfolio.outcomes import check_brief
from licheng.portfolio.policy import Policy, policy_for
from licheng.portfolio.records import check_year_term, clean_text
from licheng.portfolio.windows import calendar_for
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Role

URL_MAX = 500


def check_url(url: str | None) -> str | None:
    """An external link: absolute http(s) with a host, no spaces, at most 500 characters."""
    text = (url or "").strip()
    if not text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        raise invalid_url() from None
    if (
        parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname
        or len(text) > URL_MAX or any(c.isspace() for c in text) or parts.username or parts.password
    ):  # fmt: skip
        raise invalid_url()
    return text


async def performance_window(school_id: int, academic_year: int, policy: Policy):  # noqa: ANN201 - a Window
    return (await calendar_for(school_id, academic_year)).performance(policy)


async def _version(actor: Actor, row: DiversePerformance) -> None:
    await ItemVersion.create(
        school_id=row.school_id, student_id=row.student_id, item_type="performance", item_id=row.id, number=row.version,
        brief=row.brief, document_id=row.document_id, media_id=row.media_id, created_by_account_id=actor.account_id,
        content={"kind": row.kind.value, "title": row.title, "details": row.details, "external_url": row.external_url},
    )  # fmt: skip


async def _attach(actor: Actor, row_student: int, year: int, document_ref: str | None, media_ref: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for category, ref in (("document", document_ref), ("media", media_ref)):
        if ref:
            out[f"{category}_id"] = (await attach_file(actor, student_id=row_student, category=category, upload_ref=ref, academic_year=year)).id
    return out


async def _create(
    actor: Actor, *, school_id: int, student_id: int, academic_year: int, kind: PerformanceKind, title: str, brief: str,
    details: dict[str, Any] | None, external_url: str | None = None, document_ref: str | None = None,
    media_ref: str | None = None, late_reason: str | None = None,
) -> DiversePerformance:  # fmt: skip
    check_year_term(academic_year, 0, yearly=True)
    policy = await policy_for(school_id, academic_year)
    kind = PerformanceKind(kind)
    values: dict[str, Any] = {
        "kind": kind, "title": clean_text("title", title, 100), "brief": check_brief(brief, policy),
        "details": clean_details(kind, details), "external_url": check_url(external_url),
    }  # fmt: skip
    if late_reason is None:
        (await performance_window(school_id, academic_year, policy)).require_open()
    await ensure_counter(school_id, student_id, academic_year)
    async with in_transaction():
        await lock_student(student_id, academic_year)
        if policy.performances_per_year is not None and late_reason is None:
            count = await DiversePerformance.filter(student_id=student_id, academic_year=academic_year).count()
            if count >= policy.performances_per_year:
                raise performance_cap(policy.performances_per_year, count)
        files = await _attach(actor, student_id, academic_year, document_ref, media_ref)
        row = await DiversePerformance.create(
            school_id=school_id, student_id=student_id, academic_year=academic_year, late_addition=late_reason is not None,
            **values, **files,
        )  # fmt: skip
        await _version(actor, row)
        if late_reason is not None:
            await LateAddition.create(
                school_id=school_id, student_id=student_id, academic_year=academic_year, item_type="performance",
                item_id=row.id, reason=late_reason, created_by_account_id=actor.account_id,
            )  # fmt: skip
        await audit.record(actor, "late_add_performance" if late_reason else "create_performance", "performance", row.id,
                           student_id=student_id, changes={"kind": kind.value, "year": academic_year, "reason": late_reason})  # fmt: skip
    return row


async def create_performance(
    actor: Actor, *, academic_year: int, kind: PerformanceKind, title: str, brief: str,
    details: dict[str, Any] | None = None, external_url: str | None = None,
    document_ref: str | None = None, media_ref: str | None = None,
) -> DiversePerformance:  # fmt: skip
    """The student adds a performance to an academic year, within its window and cap."""
    school_id, student_id = require_student(actor)
    return await _create(
        actor, school_id=school_id, student_id=student_id, academic_year=academic_year, kind=kind, title=title,
        brief=brief, details=details, external_url=external_url, document_ref=document_ref, media_ref=media_ref,
    )  # fmt: skip


async def add_late_performance(actor: Actor, *, student_id: int, reason: str, **fields: Any) -> DiversePerformance:
    """補件: staff add a performance after its window closed, with a reason; flagged and audited."""
    school_id = actor.require_role(Role.STAFF)
    await student_in_school(actor, student_id)
    return await _create(actor, school_id=school_id, student_id=student_id, late_reason=clean_text("reason", reason, 200), **fields)


async def _own(actor: Actor, performance_id: int) -> DiversePerformance:
    school_id, student_id = require_student(actor)
    row = await DiversePerformance.get_or_none(id=performance_id, school_id=school_id, student_id=student_id)
    if row is None:
        raise NotFound("performance", "多元表現")
    return row


async def _require_changeable(row: DiversePerformance) -> Policy:
    if row.frozen_at is not None:
        raise Immutable("performance", "多元表現", "submitted")
    policy = await policy_for(row.school_id, row.academic_year)
    window = await performance_window(row.school_id, row.academic_year, policy)
    if window.has_closed():
        raise Immutable("performance", "多元表現", "window closed")
    window.require_open()
    return policy


async def update_performance(
    actor: Actor, performance_id: int, *, title: str | None = None, brief: str | None = None,
    details: dict[str, Any] | None = None, external_url: str | None = None,
    document_ref: str | None = None, media_ref: str | None = None,
) -> DiversePerformance:  # fmt: skip
    """A new version while the window is open; earlier files stay in the version history."""
    row = await _own(actor, performance_id)
    policy = await _require_changeable(row)
    if row.selected_at is not None:
        raise Immutable("performance", "多元表現", "selected")
    if title is not None:
        row.title = clean_text("title", title, 100) or row.title
    if brief is not None:
        row.brief = check_brief(brief, policy)
    if details is not None:
        row.details = clean_details(row.kind, details)
    if external_url is not None:
        row.external_url = check_url(external_url)
    async with in_transaction():
        for key, value in (await _attach(actor, row.student_id, row.academic_year, document_ref, media_ref)).items():
            setattr(row, key, value)
        row.version += 1
        await row.save()
        await _version(actor, row)
        await audit.record(actor, "update_performance", "performance", row.id, student_id=row.student_id,
                           changes={"version": row.version})  # fmt: skip
    return row


async def delete_performance(actor: Actor, performance_id: int) -> None:
    row = await _own(actor, performance_id)
    await _require_changeable(row)
    if row.selected_at is not None:
        raise Immutable("performance", "多元表現", "selected")
    await row.delete()
    await audit.record(actor, "delete_performance", "performance", performance_id, student_id=row.student_id)
