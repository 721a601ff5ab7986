"""Selection (勾選): what of an academic year goes to the central database.

In the selection window a student picks at most 6 course outcomes that passed
certification and at most 10 diverse performances of the year. Cadre records
registered by the school are basic data and do not count toward the 10. The
caps hold under concurrent requests: each change counts and writes under the
student's per-year lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from licheng.errors import NotFound
from licheng.portfolio import clock
from licheng.portfolio.access import ensure_counter, lock_student, require_student
from licheng.portfolio.errors import Immutable, NotCertified, selection_cap
from licheng.portfolio.models import CourseOutcome, DiversePerformance, OutcomeStatus
from licheng.portfolio.policy import policy_for
from licheng.portfolio.records import check_year_term
from licheng.portfolio.windows import calendar_for
from licheng.tenants import audit
from licheng.tenants.actor import Actor


@dataclass(frozen=True)
class SelectionSummary:
    academic_year: int
    outcome_ids: list[int]
    performance_ids: list[int]
    outcomes_cap: int
    performances_cap: int


async def summary(student_id: int, academic_year: int, school_id: int) -> SelectionSummary:
    policy = await policy_for(school_id, academic_year)
    outcomes: list[Any] = await CourseOutcome.filter(student_id=student_id, academic_year=academic_year, selected_at__isnull=False).order_by("id").values_list("id", flat=True)
    performances: list[Any] = await DiversePerformance.filter(student_id=student_id, academic_year=academic_year, selected_at__isnull=False).order_by("id").values_list("id", flat=True)
    return SelectionSummary(academic_year, [int(i) for i in outcomes], [int(i) for i in performances],
                            policy.selected_outcomes_cap, policy.selected_performances_cap)  # fmt: skip


async def _require_window(school_id: int, academic_year: int) -> None:
    policy = await policy_for(school_id, academic_year)
    (await calendar_for(school_id, academic_year)).selection(policy).require_open()


async def select_items(
    actor: Actor, academic_year: int, *, outcome_ids: list[int] = (), performance_ids: list[int] = ()  # type: ignore[assignment]
) -> SelectionSummary:
    """Add items to the year's selection (already selected ones are left as they are)."""
    school_id, student_id = require_student(actor)
    check_year_term(academic_year, 0, yearly=True)
    policy = await policy_for(school_id, academic_year)
    await _require_window(school_id, academic_year)
    outcome_ids, performance_ids = sorted(set(outcome_ids)), sorted(set(performance_ids))
    await ensure_counter(school_id, student_id, academic_year)
    async with in_transaction():
        await lock_student(student_id, academic_year)
        scope = {"school_id": school_id, "student_id": student_id, "academic_year": academic_year}
        outcomes = await CourseOutcome.filter(**scope, id__in=outcome_ids) if outcome_ids else []
        performances = await DiversePerformance.filter(**scope, id__in=performance_ids) if performance_ids else []
        if len(outcomes) != len(outcome_ids):
            raise NotFound("course outcome", "課程學習成果")
        if len(performances) != len(performance_ids):
            raise NotFound("performance", "多元表現")
        if any(o.status != OutcomeStatus.PASSED or o.published_at is None for o in outcomes):
            raise NotCertified()
        items: list[Any] = [*outcomes, *performances]
        if any(item.frozen_at is not None for item in items):
            raise Immutable("selection", "勾選", "submitted")
        new_outcomes = [o.id for o in outcomes if o.selected_at is None]
        new_performances = [p.id for p in performances if p.selected_at is None]
        if new_outcomes:
            count = await CourseOutcome.filter(**scope, selected_at__isnull=False).count()
            if count + len(new_outcomes) > policy.selected_outcomes_cap:
                raise selection_cap(policy.selected_outcomes_cap, count, "outcome")
            await CourseOutcome.filter(id__in=new_outcomes).update(selected_at=clock.now())
        if new_performances:
            count = await DiversePerformance.filter(**scope, selected_at__isnull=False).count()
            if count + len(new_performances) > policy.selected_performances_cap:
                raise selection_cap(policy.selected_performances_cap, count, "performance")
            await DiversePerformance.filter(id__in=new_performances).update(selected_at=clock.now())
        if new_outcomes or new_performances:
            await audit.record(actor, "select_items", "selection", academic_year, student_id=student_id,
                               changes={"outcomes": new_outcomes, "performances": new_performances})  # fmt: skip
    return await summary(student_id, academic_year, school_id)


async def unselect_items(
    actor: Actor, academic_year: int, *, outcome_ids: list[int] = (), performance_ids: list[int] = ()  # type: ignore[assignment]
) -> SelectionSummary:
    """Take items out of the selection while the window is open and no batch froze them."""
    school_id, student_id = require_student(actor)
    check_year_term(academic_year, 0, yearly=True)
    await _require_window(school_id, academic_year)
    scope = {"school_id": school_id, "student_id": student_id, "academic_year": academic_year}
    await ensure_counter(school_id, student_id, academic_year)
    async with in_transaction():
        await lock_student(student_id, academic_year)
        for model, ids in ((CourseOutcome, list(outcome_ids)), (DiversePerformance, list(performance_ids))):
            if not ids:
                continue
            rows = await model.filter(**scope, id__in=ids)
            if len(rows) != len(set(ids)):
                raise NotFound("item", "項目")
            if any(row.frozen_at is not None for row in rows):
                raise Immutable("selection", "勾選", "submitted")
            await model.filter(id__in=ids).update(selected_at=None)
        await audit.record(actor, "unselect_items", "selection", academic_year, student_id=student_id,
                           changes={"outcomes": list(outcome_ids), "performances": list(performance_ids)})  # fmt: skip
    return await summary(student_id, academic_year, school_id)
