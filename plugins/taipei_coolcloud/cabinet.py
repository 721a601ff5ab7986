"""My portfolio cabinet extras: autobiography (自傳), study plan (學習計畫), self-directed learning plans (自主學習計畫).

The student alone writes; his parents, his homeroom teacher (導師) and the
counselors (課程諮詢教師) read. Texts keep every version. A learning plan goes
draft → submitted → approved, or back to the student (returned) with the
reviewer's comment; every step is a row with who and when. Share links live
in ``cabinet_sharing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.plugins import runtime
from licheng.portfolio import views
from licheng.portfolio.access import require_student, student_in_school
from licheng.tenants import audit
from licheng.tenants.actor import Actor
from licheng.tenants.models import Guardianship, Membership, Person, Role
from taipei_coolcloud.ids import PLUGIN_ID
from taipei_coolcloud.models.cabinet import (
    CabinetStatement,
    CabinetStatementVersion,
    LearningPlan,
    LearningPlanEvent,
    PlanState,
    StatementKind,
)

STATEMENT_MAX_CHARS = {StatementKind.AUTOBIOGRAPHY: 3000, StatementKind.STUDY_PLAN: 3000}
PLAN_FIELD_MAX_CHARS = 1000
PLAN_FIELDS = ("goals", "schedule", "method", "expected_outcome")
REVIEWER_ROLES = (Role.TEACHER, Role.HOMEROOM, Role.COUNSELOR)


async def enabled_school(actor: Actor) -> int:
    """The actor's school, where the plugin is enabled (``NotFound`` elsewhere)."""
    school_id = actor.require_school()
    await runtime.require_enabled(school_id, PLUGIN_ID)
    return school_id


async def readable_student(actor: Actor, student_id: int | None) -> Person:
    """The student whose cabinet the actor may read: himself, a parent of his, his homeroom
    teacher, a counselor. Anyone else (and any other school) gets ``NotFound``."""
    school_id = await enabled_school(actor)
    if student_id is None:
        _, student_id = require_student(actor)
    person = await student_in_school(actor, student_id)
    if actor.person_id == student_id:
        return person
    if actor.has(Role.COUNSELOR) or (actor.has(Role.HOMEROOM) and person.school_class_id in actor.homeroom_class_ids):
        await views.record_portfolio_read(actor, person)
        return person
    if actor.has(Role.PARENT) and await Guardianship.exists(school_id=school_id, parent_id=actor.person_id or -1, student_id=student_id):
        await views.record_portfolio_read(actor, person)
        return person
    raise NotFound("student", "學生")


# --- autobiography and study plan ---------------------------------------------------------------


@dataclass
class Statement:
    kind: StatementKind
    student_id: int
    row: CabinetStatement | None
    versions: list[CabinetStatementVersion]


async def statement(actor: Actor, kind: StatementKind, student_id: int | None = None) -> Statement:
    person = await readable_student(actor, student_id)
    row = await CabinetStatement.get_or_none(school_id=person.school_id, student_id=person.id, kind=kind)
    versions = await CabinetStatementVersion.filter(statement_id=row.id).order_by("-number") if row else []
    return Statement(StatementKind(kind), person.id, row, list(versions))


async def save_statement(actor: Actor, kind: StatementKind, text: str) -> Statement:
    """The student saves a new version; an unchanged text adds none. Earlier versions stay."""
    school_id = await enabled_school(actor)
    _, student_id = require_student(actor)
    kind = StatementKind(kind)
    text = (text or "").strip()
    limit = STATEMENT_MAX_CHARS[kind]
    if not text:
        raise InvalidInput("text", "內容不可空白", "The text is empty")
    if len(text) > limit:
        raise InvalidInput("text", f"不可超過 {limit} 字", f"At most {limit} characters", limit=limit, length=len(text))
    try:
        await CabinetStatement.get_or_create(school_id=school_id, student_id=student_id, kind=kind)
    except IntegrityError:
        pass  # created by a concurrent save
    async with in_transaction():
        row = await CabinetStatement.select_for_update().get(school_id=school_id, student_id=student_id, kind=kind)
        if row.text != text:
            row.version += 1
            row.text = text
            await row.save(update_fields=["version", "text", "updated_at"])
            await CabinetStatementVersion.create(school_id=school_id, student_id=student_id, statement_id=row.id,
                                                 number=row.version, text=text, created_by_account_id=actor.account_id)  # fmt: skip
            await audit.record(actor, f"save_{kind.value}", "cabinet_statement", row.id, student_id=student_id,
                               changes={"version": row.version, "length": len(text)})  # fmt: skip
    return await statement(actor, kind)


# --- self-directed learning plans -----------------------------------------------------------------


@dataclass
class Plan:
    row: LearningPlan
    events: list[LearningPlanEvent]


async def _event(actor: Actor, plan: LearningPlan, action: str, comment: str | None = None) -> None:
    await LearningPlanEvent.create(school_id=plan.school_id, plan_id=plan.id, action=action, state=plan.state,
                                   actor_person_id=actor.person_id, actor_account_id=actor.account_id, comment=comment)  # fmt: skip
    await audit.record(actor, f"learning_plan_{action}", "learning_plan", plan.id, student_id=plan.student_id,
                       changes={"state": plan.state.value})  # fmt: skip


async def _with_events(rows: list[LearningPlan]) -> list[Plan]:
    events: dict[int, list[LearningPlanEvent]] = {row.id: [] for row in rows}
    for event in await LearningPlanEvent.filter(plan_id__in=list(events)).order_by("id"):
        events[event.plan_id].append(event)
    return [Plan(row, events[row.id]) for row in rows]


def _clean_text(name: str, value: str | None, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(name, f"不可超過 {limit} 字", f"At most {limit} characters", limit=limit)
    return text


async def save_plan(actor: Actor, plan_id: int | None, *, academic_year: int, title: str, **texts: str | None) -> Plan:
    """The student creates a plan or edits one that is a draft or was returned."""
    school_id = await enabled_school(actor)
    _, student_id = require_student(actor)
    if not 100 <= academic_year <= 200:
        raise InvalidInput("academic_year", "學年度須為民國年（例如 115）", "The academic year is a ROC year (e.g. 115)")
    if unknown := set(texts) - set(PLAN_FIELDS):
        raise InvalidInput(sorted(unknown)[0], "沒有此欄位", "Unknown field")
    values: dict[str, Any] = {name: _clean_text(name, texts.get(name), PLAN_FIELD_MAX_CHARS) for name in PLAN_FIELDS}
    values["title"] = _clean_text("title", title, 100)
    if not values["title"]:
        raise InvalidInput("title", "請填寫計畫名稱", "The title is required")
    async with in_transaction():
        if plan_id is None:
            row = await LearningPlan.create(school_id=school_id, student_id=student_id, academic_year=academic_year, **values)
            await _event(actor, row, "created")
        else:
            found = await LearningPlan.select_for_update().get_or_none(id=plan_id, school_id=school_id, student_id=student_id)
            if found is None:
                raise NotFound("learning plan", "自主學習計畫")
            row = found
            if row.state not in (PlanState.DRAFT, PlanState.RETURNED):
                raise LichengError("PLAN_LOCKED", "計畫送審中或已核可，不能修改", "The plan is under review or approved: it cannot change",
                                   state=row.state.value)  # fmt: skip
            row.update_from_dict({"academic_year": academic_year, **values})
            await row.save()
            await _event(actor, row, "saved")
    return (await _with_events([row]))[0]


async def _reviewer(school_id: int, reviewer_id: int) -> Person:
    person = await Person.get_or_none(id=reviewer_id, school_id=school_id, active=True)
    if person is None or not await Membership.exists(school_id=school_id, person_id=reviewer_id, role__in=list(REVIEWER_ROLES)):
        raise NotFound("teacher", "教師")
    return person


async def submit_plan(actor: Actor, plan_id: int, reviewer_id: int | None = None) -> Plan:
    """The student sends a complete plan for review, to a chosen teacher or counselor, or else his homeroom teacher."""
    school_id = await enabled_school(actor)
    _, student_id = require_student(actor)
    if reviewer_id is not None:
        await _reviewer(school_id, reviewer_id)
    async with in_transaction():
        row = await LearningPlan.select_for_update().get_or_none(id=plan_id, school_id=school_id, student_id=student_id)
        if row is None:
            raise NotFound("learning plan", "自主學習計畫")
        if row.state not in (PlanState.DRAFT, PlanState.RETURNED):
            raise LichengError("PLAN_LOCKED", "計畫已送審或已核可", "The plan is already under review or approved", state=row.state.value)
        if empty := [name for name in PLAN_FIELDS if not getattr(row, name)]:
            raise InvalidInput(empty[0], "送審前請填寫目標、進度、方法與預期成果", "Fill in goals, schedule, method and expected outcome first",
                               missing=empty)  # fmt: skip
        student = await Person.get(id=student_id)
        if reviewer_id is None and row.reviewer_id is None and student.school_class_id is None:
            raise InvalidInput("reviewer_id", "請指定審閱教師", "Choose a teacher to review the plan")
        row.state = PlanState.SUBMITTED
        if reviewer_id is not None:
            row.reviewer_id = reviewer_id
        await row.save()
        await _event(actor, row, "submitted")
    return (await _with_events([row]))[0]


async def _reviewable(actor: Actor, plan: LearningPlan) -> bool:
    if actor.person_id is not None and plan.reviewer_id == actor.person_id:
        return True
    if not actor.has(Role.HOMEROOM):
        return False
    return await Person.exists(id=plan.student_id, school_id=plan.school_id, school_class_id__in=list(actor.homeroom_class_ids))


async def review_plan(actor: Actor, plan_id: int, *, approve: bool, comment: str | None = None) -> Plan:
    """The assigned reviewer or the homeroom teacher approves the plan, or returns it with a comment."""
    school_id = await enabled_school(actor)
    comment = _clean_text("comment", comment, 500) or None
    if not approve and not comment:
        raise InvalidInput("comment", "退回時請寫明原因", "Say why when returning a plan")
    async with in_transaction():
        row = await LearningPlan.select_for_update().get_or_none(id=plan_id, school_id=school_id)
        if row is None or not await _reviewable(actor, row):
            raise NotFound("learning plan", "自主學習計畫")
        await audit_reads(actor, [row.student_id])  # read before deciding, even if the state check refuses below
        if row.state != PlanState.SUBMITTED:
            raise LichengError("PLAN_NOT_SUBMITTED", "此計畫不在送審中", "The plan is not awaiting review", state=row.state.value)
        row.state = PlanState.APPROVED if approve else PlanState.RETURNED
        row.comment = comment
        await row.save()
        await _event(actor, row, "approved" if approve else "returned", comment)
    return (await _with_events([row]))[0]


async def plans_of(actor: Actor, student_id: int | None = None) -> list[Plan]:
    person = await readable_student(actor, student_id)
    rows = await LearningPlan.filter(school_id=person.school_id, student_id=person.id).order_by("-academic_year", "id")
    return await _with_events(list(rows))


async def plans_to_review(actor: Actor, state: PlanState = PlanState.SUBMITTED) -> list[Plan]:
    """A teacher's queue: plans assigned to him, and his homeroom class's plans."""
    school_id = await enabled_school(actor)
    if not actor.has(*REVIEWER_ROLES) or actor.person_id is None:
        return []
    condition = Q(reviewer_id=actor.person_id)
    if actor.has(Role.HOMEROOM) and actor.homeroom_class_ids:
        students = await Person.filter(school_id=school_id, school_class_id__in=list(actor.homeroom_class_ids)).values_list("id", flat=True)
        condition |= Q(student_id__in=list(students))
    rows = await LearningPlan.filter(condition, school_id=school_id, state=PlanState(state)).order_by("updated_at", "id")
    await audit_reads(actor, [row.student_id for row in rows])
    return await _with_events(list(rows))


async def audit_reads(actor: Actor, student_ids: list[int]) -> None:
    """PDPA: one ``read_portfolio`` entry per other student whose data the actor just read (as ``views.record_portfolio_read``)."""
    for student_id in sorted(set(student_ids) - {actor.person_id}):
        await audit.record(actor, "read_portfolio", "person", student_id, student_id=student_id)
