"""Certification (認證) by the subject teacher (任課教師) or his substitute (代理人).

The teacher opens the file first (``open_outcome_file`` records when), then
passes or fails it with a reason the student will read, then publishes: until
publishing the student sees only "sent". Certification confirms the work is
the student's own and came from the course; it is not a grade. All of it
happens in the term's certification window.
"""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.pagination import Page, paginate
from licheng.portfolio import clock
from licheng.portfolio.errors import InvalidState, NotTheTeacher, OutcomeNotOpened
from licheng.portfolio.files import FileRef, file_refs
from licheng.portfolio.models import CourseOutcome, CourseRecord, Decision, ItemVersion, OutcomeStatus, SubstituteAssignment
from licheng.portfolio.policy import policy_for
from licheng.portfolio.records import check_year_term
from licheng.portfolio.windows import calendar_for
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Membership, Role

REASON_MAX = 200


# --- substitutes (代理人) ------------------------------------------------------------------


async def assign_substitute(actor: Actor, teacher_id: int, substitute_id: int, academic_year: int, term: int) -> SubstituteAssignment:
    """Staff let a colleague certify for an absent teacher during a term."""
    school_id = actor.require_role(Role.STAFF)
    check_year_term(academic_year, term)
    for person_id in (teacher_id, substitute_id):
        if not await Membership.exists(school_id=school_id, person_id=person_id, role=Role.TEACHER):
            raise NotFound("teacher", "教師")
    if teacher_id == substitute_id:
        raise InvalidInput("substitute_id", "代理人不可是教師本人", "The substitute must be another teacher")
    row, created = await SubstituteAssignment.get_or_create(
        school_id=school_id, teacher_id=teacher_id, substitute_id=substitute_id, academic_year=academic_year, term=term
    )
    if created:
        await audit.record(actor, "assign_substitute", "substitute", row.id,
                           changes={"teacher": teacher_id, "substitute": substitute_id, "year": academic_year, "term": term})  # fmt: skip
    return row


async def remove_substitute(actor: Actor, assignment_id: int) -> None:
    school_id = actor.require_role(Role.STAFF)
    row = await SubstituteAssignment.get_or_none(id=assignment_id, school_id=school_id)
    if row is None:
        raise NotFound("substitute assignment", "代理設定")
    await row.delete()
    await audit.record(actor, "remove_substitute", "substitute", assignment_id,
                       changes={"teacher": row.teacher_id, "substitute": row.substitute_id})  # fmt: skip


async def list_substitutes(actor: Actor, academic_year: int | None = None) -> list[SubstituteAssignment]:
    """Staff see all; a teacher sees the assignments he is part of."""
    school_id = actor.require_role(Role.STAFF, Role.TEACHER)
    query = SubstituteAssignment.filter(school_id=school_id)
    if academic_year is not None:
        query = query.filter(academic_year=academic_year)
    if not actor.has(Role.STAFF):
        me = actor.person_id or -1
        query = query.filter(Q(teacher_id=me) | Q(substitute_id=me))
    return await query.order_by("id")


# --- the teacher's side ---------------------------------------------------------------------


async def may_certify(actor: Actor, record: CourseRecord) -> None:
    """Pass if the actor teaches the course or substitutes (代理人) for its teacher that term."""
    me = actor.person_id
    if me is not None and record.teacher_id == me:
        return
    if me is not None and record.teacher_id is not None and await SubstituteAssignment.exists(
        school_id=record.school_id, teacher_id=record.teacher_id, substitute_id=me,
        academic_year=record.academic_year, term=record.term,
    ):  # fmt: skip
        return
    raise NotTheTeacher()


async def _outcome_for_teacher(actor: Actor, outcome_id: int) -> tuple[CourseOutcome, CourseRecord]:
    school_id = actor.require_school()
    row = await CourseOutcome.get_or_none(id=outcome_id, school_id=school_id)
    if row is None or row.status == OutcomeStatus.DRAFT:
        raise NotFound("course outcome", "課程學習成果")
    if not actor.has(Role.TEACHER):
        raise NotTheTeacher()
    record = await CourseRecord.get(id=row.course_record_id)
    await may_certify(actor, record)
    return row, record


async def _require_certification_window(row: CourseOutcome, record: CourseRecord) -> None:
    policy = await policy_for(row.school_id, row.academic_year)
    calendar = await calendar_for(row.school_id, row.academic_year)
    calendar.certification(policy, record.term, record.grade).require_open()


async def open_outcome_file(actor: Actor, outcome_id: int) -> list[FileRef]:
    """The teacher opens (reads) the files: the first opening of this version is recorded."""
    row, record = await _outcome_for_teacher(actor, outcome_id)
    if row.status != OutcomeStatus.SENT:
        raise InvalidState(row.status.value, "open a published outcome for certification", "開啟已公布的成果進行認證")
    await _require_certification_window(row, record)
    if row.opened_at is None:
        await CourseOutcome.filter(id=row.id, opened_at__isnull=True).update(opened_at=clock.now(), opened_by_id=actor.person_id)
    await audit.record(actor, "open_outcome_file", "course_outcome", row.id, student_id=row.student_id,
                       changes={"version": row.version})  # fmt: skip
    refs = await file_refs([i for i in (row.document_id, row.media_id) if i])
    return list(refs.values())


async def _downloaded(actor: Actor, row: CourseOutcome) -> bool:
    """Opening through storage's download (GET /files/{id}, audited there) counts as opening:
    the first download by this teacher since the outcome was sent becomes ``opened_at``."""
    from licheng.portfolio.models import PortfolioFile
    from licheng.tenants.audit import AuditEntry

    blob_ids = await PortfolioFile.filter(id__in=[i for i in (row.document_id, row.media_id) if i], stored_blob_id__isnull=False).values_list("stored_blob_id", flat=True)
    if not blob_ids or row.sent_at is None:
        return False
    entry = await AuditEntry.filter(
        school_id=row.school_id, action="download_file", record_type="stored_blob", record_id__in=[str(i) for i in blob_ids],
        account_id=actor.account_id, at__gte=row.sent_at,
    ).order_by("at").first()  # fmt: skip
    if entry is None:
        return False
    await CourseOutcome.filter(id=row.id, opened_at__isnull=True).update(opened_at=entry.at, opened_by_id=actor.person_id)
    return True


async def certify_outcome(actor: Actor, outcome_id: int, passed: bool, reason: str | None = None) -> CourseOutcome:
    """Pass or fail with a reason (required to fail); may be changed until published."""
    row, record = await _outcome_for_teacher(actor, outcome_id)
    if row.status != OutcomeStatus.SENT:
        raise InvalidState(row.status.value, "certify a published outcome", "認證已公布的成果")
    if row.opened_at is None and not await _downloaded(actor, row):
        raise OutcomeNotOpened()
    text = (reason or "").strip() or None
    if not passed and not text:
        raise LichengError("REASON_REQUIRED", "認證未通過須說明原因", "Give a reason when failing an outcome")
    if text and len(text) > REASON_MAX:
        raise InvalidInput("reason", f"原因不可超過 {REASON_MAX} 字", f"The reason is at most {REASON_MAX} characters")
    await _require_certification_window(row, record)
    decision = Decision.PASSED if passed else Decision.FAILED
    await CourseOutcome.filter(id=row.id).update(decision=decision, reason=text, decided_at=clock.now(), decided_by_id=actor.person_id)
    await audit.record(actor, "certify_outcome", "course_outcome", row.id, student_id=row.student_id,
                       changes={"decision": decision.value, "previous": row.decision.value if row.decision else None})  # fmt: skip
    return await CourseOutcome.get(id=row.id)


async def publish_certifications(actor: Actor, outcome_ids: list[int] | None = None) -> list[CourseOutcome]:
    """公布: the decided outcomes (all of the teacher's, or those listed) become visible to students.

    Listed outcomes must all be the actor's to certify and decided; unlisted, the teacher's
    decided outcomes are published and others' are left alone."""
    school_id = actor.require_role(Role.TEACHER)
    if outcome_ids is not None:
        for outcome_id in outcome_ids:
            row, _ = await _outcome_for_teacher(actor, outcome_id)
            if row.status == OutcomeStatus.SENT and row.decision is None:
                raise InvalidState("sent", "publish an outcome not yet passed or failed", "公布尚未認證的成果")
    query = CourseOutcome.filter(school_id=school_id, status=OutcomeStatus.SENT, decision__isnull=False)
    if outcome_ids is not None:
        query = query.filter(id__in=outcome_ids)
    rows = await query.select_related("course_record").order_by("id")
    windows: dict[tuple[int, int, int], object] = {}
    published: list[CourseOutcome] = []
    for row in rows:
        record = row.course_record
        try:
            await may_certify(actor, record)
        except NotTheTeacher:
            continue
        key = (row.academic_year, record.term, record.grade)
        if key not in windows:
            policy = await policy_for(row.school_id, row.academic_year)
            windows[key] = (await calendar_for(row.school_id, row.academic_year)).certification(policy, record.term, record.grade)
        windows[key].require_open()  # type: ignore[attr-defined]
        assert row.decision is not None
        now, status = clock.now(), OutcomeStatus(row.decision.value)
        async with in_transaction():
            done = await CourseOutcome.filter(id=row.id, status=OutcomeStatus.SENT).update(status=status, published_at=now)
            if done != 1:
                continue
            await ItemVersion.filter(item_type="outcome", item_id=row.id, number=row.version).update(
                result=row.decision.value, reason=row.reason
            )
            await audit.record(actor, "publish_certification", "course_outcome", row.id, student_id=row.student_id,
                               changes={"from": "sent", "to": status.value})  # fmt: skip
        row.status, row.published_at = status, now
        published.append(row)
    return published


def queue_query(actor: Actor, academic_year: int | None, term: int | None, pending_only: bool):  # noqa: ANN201
    school_id = actor.require_role(Role.TEACHER)
    me = actor.person_id or -1
    substitutes = SubstituteAssignment.filter(school_id=school_id, substitute_id=me)
    query = CourseOutcome.filter(school_id=school_id).exclude(status=OutcomeStatus.DRAFT)
    if academic_year is not None:
        query = query.filter(academic_year=academic_year)
    if term is not None:
        query = query.filter(term=term)
    if pending_only:
        query = query.filter(status=OutcomeStatus.SENT)
    return query, substitutes, me


async def certification_queue(
    actor: Actor, *, academic_year: int | None = None, term: int | None = None, pending_only: bool = True,
    first: int | None = None, after: str | None = None,
) -> Page[CourseOutcome]:  # fmt: skip
    """The teacher's queue across his courses and the courses he substitutes for."""
    query, substitutes, me = queue_query(actor, academic_year, term, pending_only)
    mine = Q(course_record__teacher_id=me)
    for sub in await substitutes:
        mine |= Q(course_record__teacher_id=sub.teacher_id, academic_year=sub.academic_year, term=sub.term)
    return await paginate(query.filter(mine).select_related("course_record", "student", "document", "media"), first=first, after=after)
