"""School-system sync through the single sign-on's school data API (issue 7, item 6).

The API is the simulator on a real socket (uvicorn); the sync runs through the plugin's
importers (``licheng_importers``) and the core service, against the real database.
"""

from __future__ import annotations

from typing import Any

import pytest

from licheng.errors import LichengError
from licheng.plugins.manager import PluginManager
from licheng.portfolio.models import DiversePerformance, PerformanceKind
from licheng.settings import Settings
from licheng.tenants import nationalid, sync
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Membership, Person, Role, SchoolClass
from tests.plugins.taipei.sync.conftest import DC, IDNOS, TaipeiSchool


async def run(settings: Settings, taipei: TaipeiSchool, **kwargs: Any) -> sync.SyncReport:
    return await sync.sync_school_people(settings, await taipei.staff_actor(), **kwargs)


async def roster(taipei: TaipeiSchool) -> dict[str, tuple[str, str | None, int | None, bool]]:
    """student number or staff number -> (name, class code, seat, active)."""
    people = await Person.filter(school_id=taipei.school.id).exclude(id=taipei.staff.person.id).prefetch_related("school_class")
    return {
        (p.student_number or p.staff_number or ""): (p.name, p.school_class.code if p.school_class else None, p.seat, p.active)
        for p in people
    }


async def homeroom_of(taipei: TaipeiSchool, class_code: str) -> list[str]:
    rows = await Membership.filter(school_id=taipei.school.id, role=Role.HOMEROOM, school_class__code=class_code).prefetch_related("person")
    return [m.person.name for m in rows]


async def test_first_sync_creates_classes_people_and_memberships(settings: Settings, taipei: TaipeiSchool) -> None:
    report = await run(settings, taipei)
    assert report.ok and report.changed and report.source == "taipei_coolcloud"
    assert (report.classes.created, report.teachers.created, report.students.created) == (3, 2, 3)
    classes = {c.code: (c.name, c.grade) for c in await SchoolClass.filter(school_id=taipei.school.id)}
    assert classes == {"101": ("1年1班", 10), "102": ("1年2班", 10), "103": ("1年3班", 10)}  # Taipei's grade 1 is our 10
    assert await roster(taipei) == {
        "112001": ("王小明", "101", 7, True), "112002": ("林小華", "101", 8, True), "112003": ("張小美", "102", 1, True),
        "T187": ("李大同", None, None, True), "T188": ("陳老師", None, None, True),
    }  # fmt: skip
    ming = await Person.get(school_id=taipei.school.id, student_number="112001")
    assert ming.national_id_hash == nationalid.lookup_hash(IDNOS["ming"], settings.lookup_key_bytes)
    assert ming.national_id_masked == "A10000****" and ming.account_id is None  # linked at first sign-in, not here
    roles = await Membership.filter(person_id=ming.id).values_list("role", flat=True)
    assert list(roles) == [Role.STUDENT]
    lee = await Person.get(school_id=taipei.school.id, staff_number="T187")
    assert await Membership.filter(person_id=lee.id, role=Role.TEACHER).exists()
    assert await homeroom_of(taipei, "101") == ["李大同"]  # the tutor class became the homeroom
    assert await AuditEntry.filter(school_id=taipei.school.id, action="sync", record_type="people").count() == 1


async def test_second_identical_sync_changes_nothing_and_says_so(settings: Settings, taipei: TaipeiSchool) -> None:
    await run(settings, taipei)
    before = await roster(taipei)
    report = await run(settings, taipei)
    assert report.ok and not report.changed
    assert (report.classes.unchanged, report.teachers.unchanged, report.students.unchanged) == (3, 2, 3)
    assert await roster(taipei) == before
    assert await Membership.filter(school_id=taipei.school.id).count() == 1 + 2 + 1 + 3  # staff, teachers, homeroom, students


async def test_a_removed_student_is_deactivated_not_deleted_and_keeps_the_portfolio(settings: Settings, taipei: TaipeiSchool) -> None:
    await run(settings, taipei)
    hua = await Person.get(school_id=taipei.school.id, student_number="112002")
    await DiversePerformance.create(school_id=taipei.school.id, student_id=hua.id, academic_year=115,
                                    kind=list(PerformanceKind)[0], title="志工服務", brief="社區服務")  # fmt: skip
    del taipei.sim.state.users["s-hua"]
    report = await run(settings, taipei)
    assert report.students.deactivated == 1 and report.students.unchanged == 2
    hua = await Person.get(id=hua.id)
    assert not hua.active and await DiversePerformance.filter(student_id=hua.id).count() == 1
    assert await Membership.filter(person_id=hua.id, role=Role.STUDENT).exists()
    again = await run(settings, taipei)  # still gone: nothing more to do
    assert not again.changed and again.students.deactivated == 0


async def test_a_student_listed_again_is_reactivated(settings: Settings, taipei: TaipeiSchool) -> None:
    await run(settings, taipei)
    hua = taipei.sim.state.users.pop("s-hua")
    await run(settings, taipei)
    taipei.sim.state.users[hua.uuid] = hua
    report = await run(settings, taipei)
    assert report.students.updated == 1
    assert (await roster(taipei))["112002"] == ("林小華", "101", 8, True)


async def test_a_moved_student_changes_class_and_seat(settings: Settings, taipei: TaipeiSchool) -> None:
    await run(settings, taipei)
    taipei.sim.state.users["s-ming"].profile.update({"class": "102", "seat": "2"})
    report = await run(settings, taipei)
    assert report.students.updated == 1 and report.students.unchanged == 2
    assert (await roster(taipei))["112001"] == ("王小明", "102", 2, True)


async def test_a_new_tutor_takes_the_homeroom_and_the_old_one_loses_it(settings: Settings, taipei: TaipeiSchool) -> None:
    await run(settings, taipei)
    state = taipei.sim.state
    state.schools[DC]["classes"][0]["tutor"] = ["t-chen"]
    state.users["t-lee"].profile.pop("tutorClass")
    state.users["t-chen"].profile["tutorClass"] = "101"
    report = await run(settings, taipei)
    assert report.teachers.updated == 2
    assert await homeroom_of(taipei, "101") == ["陳老師"]


async def test_an_empty_class_is_the_apis_404_read_as_empty(settings: Settings, taipei: TaipeiSchool) -> None:
    report = await run(settings, taipei)
    assert report.ok
    assert (f"/api/v2/school/{DC}/class/103/students", 404) in taipei.sim.state.api_calls
    empty = await SchoolClass.get(school_id=taipei.school.id, code="103")
    assert not await Person.filter(school_class_id=empty.id).exists()


async def test_never_touches_another_school(settings: Settings, taipei: TaipeiSchool, factory: Any) -> None:
    other_student = await factory.member(taipei.other, Role.STUDENT, student_number="112002", name="他校同學號")
    await run(settings, taipei)
    assert not await Person.filter(school_id=taipei.school.id, student_number="999001").exists()
    other = await Person.get(id=other_student.person.id)
    assert other.active and other.name == "他校同學號" and other.school_id == taipei.other.id
    assert not await SchoolClass.filter(school_id=taipei.other.id).exists()


async def test_a_wrong_client_secret_is_a_clear_auth_failure_and_nothing_changes(
    settings: Settings, taipei: TaipeiSchool, manager: PluginManager
) -> None:
    await taipei.configure(manager, sso_client_secret="0" * 40)
    with pytest.raises(LichengError) as failed:
        await run(settings, taipei)
    assert failed.value.code == "SYNC_AUTH_FAILED" and "school 授權範圍" in failed.value.message_zh
    assert "0" * 40 not in str(failed.value.as_extensions())
    assert await roster(taipei) == {}


async def test_a_server_that_is_down_is_a_clear_failure(settings: Settings, taipei: TaipeiSchool, manager: PluginManager) -> None:
    from tests.plugins.taipei.ldap.slapd import free_port

    await taipei.configure(manager, sso_base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(LichengError) as failed:
        await run(settings, taipei)
    assert failed.value.code == "SYNC_SOURCE_FAILED" and "無法讀取校務系統資料" in failed.value.message_zh


async def test_a_school_without_a_code_mapping_is_refused(settings: Settings, taipei: TaipeiSchool, manager: PluginManager) -> None:
    await taipei.configure(manager, sso_school_codes="tpmsh=999999")
    with pytest.raises(LichengError) as failed:
        await run(settings, taipei)
    assert failed.value.code == "SYNC_SCHOOL_UNMAPPED"


async def test_an_empty_roster_after_a_full_one_is_refused_as_a_broken_source(settings: Settings, taipei: TaipeiSchool) -> None:
    await run(settings, taipei)
    for uuid in ("s-ming", "s-hua", "s-mei"):
        del taipei.sim.state.users[uuid]
    with pytest.raises(LichengError) as failed:
        await run(settings, taipei)
    assert failed.value.code == "SYNC_EMPTY_FEED"
    assert all(active for *_, active in (await roster(taipei)).values())


async def test_a_bad_row_rolls_the_whole_sync_back(settings: Settings, taipei: TaipeiSchool) -> None:
    taipei.sim.state.users["s-mei"].profile["seat"] = "100"  # out of range
    report = await run(settings, taipei)
    assert not report.ok and [(e.column, e.code) for e in report.errors] == [("students.seat", "OUT_OF_RANGE")]
    assert await roster(taipei) == {} and not await SchoolClass.filter(school_id=taipei.school.id).exists()


async def test_a_dry_run_reports_and_writes_nothing(settings: Settings, taipei: TaipeiSchool) -> None:
    report = await run(settings, taipei, dry_run=True)
    assert report.ok and report.students.created == 3
    assert await roster(taipei) == {}


async def test_progress_counts_every_row(settings: Settings, taipei: TaipeiSchool) -> None:
    seen: list[tuple[int, int]] = []
    await run(settings, taipei, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (8, 8) and len(seen) == 8


async def test_only_staff_may_sync(settings: Settings, taipei: TaipeiSchool, factory: Any) -> None:
    teacher = await factory.member(taipei.school, Role.TEACHER)
    with pytest.raises(LichengError) as refused:
        await sync.sync_school_people(settings, await teacher.actor())
    assert refused.value.code == "FORBIDDEN"


async def test_the_nightly_job_syncs_each_enabled_school_once_per_day(
    settings: Settings, taipei: TaipeiSchool, manager: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from licheng.jobs import run_pending, schedule_due

    # The worker builds its settings from the environment; make it the test app's.
    monkeypatch.setenv("LICHENG_SECRET_KEY", settings.secret_key)
    await taipei.configure(manager, sync_nightly=True)
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    jobs = [j for j in await schedule_due(now, school_ids=[taipei.school.id]) if j.payload.get("name") == "taipei_school_sync"]
    assert len(jobs) == 1
    assert [j.id for j in await schedule_due(now, school_ids=[taipei.school.id]) if j.payload.get("name") == "taipei_school_sync"] == [jobs[0].id]
    await run_pending(settings=settings, kinds=["plugins.scheduled"])
    assert (await roster(taipei))["112001"] == ("王小明", "101", 7, True)
    ming = await Person.get(school_id=taipei.school.id, student_number="112001")
    assert ming.national_id_hash == nationalid.lookup_hash(IDNOS["ming"], settings.lookup_key_bytes)
    entry = await AuditEntry.get(school_id=taipei.school.id, action="sync")
    assert entry.acting_role == "system"


async def test_no_nightly_job_unless_the_bureau_asks_for_it(taipei: TaipeiSchool) -> None:
    from licheng.plugins.runtime import scheduled_jobs

    assert "taipei_school_sync" not in [j.name for j in await scheduled_jobs(taipei.school.id)]


async def test_two_syncs_at_once_give_one_roster(settings: Settings, taipei: TaipeiSchool) -> None:
    import asyncio

    reports = await asyncio.gather(run(settings, taipei), run(settings, taipei))
    assert all(r.ok for r in reports)
    assert sorted(r.students.created for r in reports) == [0, 3]
    assert await Person.filter(school_id=taipei.school.id, student_number__isnull=False).count() == 3


async def test_staff_are_never_deactivated_even_when_the_feed_omits_them(settings: Settings, taipei: TaipeiSchool, factory: Any) -> None:
    registrar = await factory.member(taipei.school, Role.STAFF, Role.TEACHER, staff_number="R001", name="註冊組長")
    await sync.sync_school_people(settings, sync.system_actor(taipei.school.id))  # the nightly actor: no person of its own
    assert (await Person.get(id=registrar.person.id)).active


async def test_a_renumbered_student_is_the_same_person_found_by_national_id(settings: Settings, taipei: TaipeiSchool) -> None:
    await run(settings, taipei)
    ming = await Person.get(school_id=taipei.school.id, student_number="112001")
    taipei.sim.state.users["s-ming"].profile["studentId"] = "113999"
    report = await run(settings, taipei)
    assert report.ok and report.students.updated == 1 and report.students.created == 0 and report.students.deactivated == 0
    again = await Person.get(id=ming.id)
    assert again.student_number == "113999" and again.active
