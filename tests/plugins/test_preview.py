"""Previewing a rule change: per school, what changes and how many students are already above a new cap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone

import pytest

from licheng.errors import NotFound
from licheng.plugins import configs, preview, service
from licheng.plugins.models import BureauPluginConfig
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Role
from tests.plugins.conftest import District


class FakeCounter:
    """Pretends school ``i`` has ``per_school[i]`` students above any cap below 12."""

    def __init__(self, per_school: Mapping[int, int]) -> None:
        self.per_school = per_school
        self.calls: list[tuple[list[int], int, int, int]] = []

    async def __call__(self, school_ids: Sequence[int], *, limit: int, academic_year: int, term: int) -> Mapping[int, int]:
        self.calls.append((list(school_ids), limit, academic_year, term))
        return {s: self.per_school.get(s, 0) for s in school_ids if limit < 12}


@pytest.fixture
def fake_counter(monkeypatch: pytest.MonkeyPatch):
    def install(per_school: Mapping[int, int]) -> FakeCounter:
        counter = FakeCounter(per_school)
        monkeypatch.setitem(preview.IMPACT_COUNTERS, "outcomes_per_term", counter)
        return counter

    return install


async def _enable(district: District, manager, schools) -> None:
    await service.set_enabled(
        await district.admin_actor(), manager, district.bureau.id, "test_rules", enabled=True, school_ids=[s.id for s in schools]
    )


def test_the_current_term_follows_the_taiwanese_school_year() -> None:
    assert preview.current_term(date(2026, 9, 1)) == (115, 1)
    assert preview.current_term(date(2027, 1, 15)) == (115, 1)
    assert preview.current_term(date(2027, 3, 1)) == (115, 2)


async def test_lowering_the_per_term_cap_shows_per_school_how_many_students_are_above_it(
    district: District, manager, fake_counter
) -> None:
    a, b, _ = district.schools
    await _enable(district, manager, [a, b])
    counter = fake_counter({a.id: 5, b.id: 0})
    result = await preview.preview_policy_change(
        await district.admin_actor(), manager, "test_rules", {"outcomes_per_term": 9},
        bureau_id=district.bureau.id, academic_year=115, term=1,
    )  # fmt: skip
    assert [s.school.id for s in result.schools] == sorted([a.id, b.id], key=lambda i: next(s.code for s in district.schools if s.id == i))
    by_school = {s.school.id: s.impacts for s in result.schools}
    assert by_school[a.id] == [preview.RuleImpact("outcomes_per_term", 12, 9, 5)]
    assert by_school[b.id] == [preview.RuleImpact("outcomes_per_term", 12, 9, 0)]
    assert counter.calls == [(sorted([a.id, b.id], key=lambda i: next(s.code for s in district.schools if s.id == i)), 9, 115, 1)]


async def test_the_preview_saves_nothing(district: District, manager, fake_counter) -> None:
    fake_counter({})
    before = await AuditEntry.filter(bureau_id=district.bureau.id).count()
    await preview.preview_policy_change(await district.admin_actor(), manager, "test_rules", {"outcomes_per_term": 9}, bureau_id=district.bureau.id)
    assert not await BureauPluginConfig.exists(bureau_id=district.bureau.id, plugin_id="test_rules")
    assert await AuditEntry.filter(bureau_id=district.bureau.id).count() == before


async def test_a_school_override_shields_the_school_from_a_bureau_change(district: District, manager, fake_counter) -> None:
    a, b, _ = district.schools
    await _enable(district, manager, [a, b])
    fake_counter({a.id: 5, b.id: 2})
    await configs.update_settings(await district.admin_actor(), manager, "test_rules", {"outcomes_per_term": 6}, school_id=a.id)
    result = await preview.preview_policy_change(
        await district.admin_actor(), manager, "test_rules", {"outcomes_per_term": 9}, bureau_id=district.bureau.id
    )
    by_school = {s.school.id: s.impacts for s in result.schools}
    assert by_school[a.id] == []
    assert by_school[b.id][0].students_above == 2


async def test_an_invalid_proposal_gets_the_same_field_errors_as_saving(district: District, manager) -> None:
    with pytest.raises(configs.SettingsRejected) as refused:
        await preview.preview_policy_change(await district.admin_actor(), manager, "test_rules", {"outcomes_per_term": 0}, bureau_id=district.bureau.id)
    assert refused.value.details["field"] == "outcomes_per_term"


async def test_a_rule_change_shows_its_value_before_and_after(district: District, manager) -> None:
    await _enable(district, manager, district.schools[:1])
    result = await preview.preview_policy_change(
        await district.admin_actor(), manager, "test_rules", {"outcomes_per_subject_per_term": 2}, bureau_id=district.bureau.id,
        academic_year=101, term=1,
    )  # fmt: skip
    impact = result.schools[0].impacts[0]
    assert (impact.key, impact.before, impact.after) == ("outcomes_per_subject_per_term", 3, 2)


async def test_a_plugin_failing_in_the_preview_marks_the_school_not_the_request(district: District, manager) -> None:
    result = await preview.preview_policy_change(
        await district.admin_actor(), manager, "test_broken", {"cap": 3}, bureau_id=district.bureau.id, school_ids=[district.schools[0].id]
    )
    assert result.schools[0].error_code == "PLUGIN_FAILED"


async def test_another_bureau_school_cannot_be_previewed(district: District, manager, factory) -> None:
    stranger = await factory.school()
    with pytest.raises(NotFound):
        await preview.preview_policy_change(
            await district.admin_actor(), manager, "test_rules", {"outcomes_per_term": 9}, bureau_id=district.bureau.id, school_ids=[stranger.id]
        )


async def test_the_portfolio_counter_counts_outcomes_sent_for_certification(district: District, manager, factory) -> None:
    from licheng.plugins import impact
    from licheng.portfolio.models import CourseOutcome, CourseRecord

    school = district.schools[0]
    sent_at = datetime(2026, 10, 1, tzinfo=timezone.utc)

    async def student_with(subjects: dict[str, int], sent: bool = True) -> None:
        student = await factory.member(school, Role.STUDENT)
        for subject, count in subjects.items():
            record = await CourseRecord.create(
                school=school, student=student.person, academic_year=115, term=1, course_code="1" * 23,
                subject_name=subject, grade=10, credits=2,
            )  # fmt: skip
            for n in range(count):
                await CourseOutcome.create(
                    school=school, student=student.person, course_record=record, academic_year=115, term=1,
                    brief=f"作品{n}", first_sent_at=sent_at if sent else None,
                )  # fmt: skip

    await student_with({"國文": 3, "數學": 3, "英文": 4})  # 10 sent, 4 in one subject
    await student_with({"國文": 2, "數學": 2})  # 4 sent
    await student_with({"國文": 11}, sent=False)  # drafts do not count
    per_term = await impact.students_above_outcomes_per_term([school.id], limit=9, academic_year=115, term=1)
    assert per_term == {school.id: 1}
    per_subject = await impact.students_above_outcomes_per_subject([school.id], limit=3, academic_year=115, term=1)
    assert per_subject == {school.id: 1}
    assert await impact.students_above_outcomes_per_term([school.id], limit=10, academic_year=115, term=1) == {}
    assert await impact.students_above_outcomes_per_term([school.id], limit=1, academic_year=115, term=2) == {}
