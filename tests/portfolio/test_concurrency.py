"""Caps hold under concurrent requests: a row lock per student and year on PostgreSQL, the single
writer on SQLite. Twenty requests at once, each racing for the last places."""

from __future__ import annotations

import asyncio

from licheng.errors import LichengError
from licheng.portfolio import outcomes, selection
from licheng.portfolio.models import CourseOutcome, DiversePerformance, PerformanceKind
from licheng.portfolio.policy import set_school_policy
from tests.portfolio.conftest import IN_SELECTION, YEAR


async def _outcomes_of(results: list[object]) -> tuple[int, list[str]]:
    codes = [r.code for r in results if isinstance(r, LichengError)]
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, LichengError)]
    assert not unexpected, unexpected
    return len(results) - len(codes), codes


async def test_twenty_concurrent_selections_never_exceed_ten_performances(scene, clock):
    ids = [
        (await DiversePerformance.create(school=scene.school, student_id=scene.student.person.id, academic_year=YEAR,
                                         kind=PerformanceKind.OTHER, title=f"表現{i}", brief="表現", details={})).id
        for i in range(20)
    ]  # fmt: skip
    clock.set(IN_SELECTION)
    student = await scene.student.actor()
    results = await asyncio.gather(
        *(selection.select_items(student, YEAR, performance_ids=[pid]) for pid in ids), return_exceptions=True
    )
    accepted, codes = await _outcomes_of(list(results))
    assert accepted == 10 and codes == ["SELECTION_CAP_REACHED"] * 10
    assert await DiversePerformance.filter(student_id=scene.student.person.id, selected_at__isnull=False).count() == 10


async def test_twenty_concurrent_sends_never_exceed_the_terms_cap(scene):
    await set_school_policy(await scene.staff.actor(), YEAR, {"outcomes_per_term": 5, "outcomes_per_subject_per_term": None})
    student = await scene.student.actor()
    drafts = [
        await outcomes.create_outcome(student, course_record_id=scene.records["math"].id, brief=f"作品{i}",
                                      document_ref=await scene.file(scene.student))  # fmt: skip
        for i in range(20)
    ]
    results = await asyncio.gather(*(outcomes.send_for_certification(student, d.id) for d in drafts), return_exceptions=True)
    accepted, codes = await _outcomes_of(list(results))
    assert accepted == 5 and codes == ["OUTCOME_CAP_REACHED"] * 15
    assert await CourseOutcome.filter(student_id=scene.student.person.id, first_sent_at__isnull=False).count() == 5
