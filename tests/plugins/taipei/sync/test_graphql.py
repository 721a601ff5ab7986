"""``syncSchoolPeople`` over HTTP: staff sync their own school; others are refused; errors are typed."""

from __future__ import annotations

from typing import Any

from licheng.tenants.models import Person, Role
from tests.plugins.taipei.sync.conftest import TaipeiSchool

SYNC = """mutation($dry: Boolean!) { syncSchoolPeople(dryRun: $dry) {
  ok dryRun changed source rows
  classes { created updated unchanged deactivated }
  teachers { created updated unchanged deactivated }
  students { created updated unchanged deactivated }
  errors { row column code messageZh messageEn } } }"""


async def test_staff_sync_their_school_and_a_second_run_says_nothing_changed(gql: Any, taipei: TaipeiSchool) -> None:
    await gql.sign_in_as(taipei.staff)
    first = (await gql.ok(SYNC, {"dry": False}))["syncSchoolPeople"]
    assert first["ok"] and first["changed"] and first["source"] == "taipei_coolcloud" and first["rows"] == 8
    assert first["students"] == {"created": 3, "updated": 0, "unchanged": 0, "deactivated": 0}
    second = (await gql.ok(SYNC, {"dry": False}))["syncSchoolPeople"]
    assert not second["changed"] and second["students"]["unchanged"] == 3 and second["classes"]["unchanged"] == 3
    assert await Person.filter(school_id=taipei.school.id, student_number__isnull=False).count() == 3


async def test_a_dry_run_over_graphql_writes_nothing(gql: Any, taipei: TaipeiSchool) -> None:
    await gql.sign_in_as(taipei.staff)
    report = (await gql.ok(SYNC, {"dry": True}))["syncSchoolPeople"]
    assert report["dryRun"] and report["teachers"]["created"] == 2
    assert not await Person.filter(school_id=taipei.school.id, staff_number__isnull=False).exists()


async def test_teachers_and_students_may_not_sync(gql: Any, taipei: TaipeiSchool, factory: Any) -> None:
    for role in (Role.TEACHER, Role.STUDENT):
        member = await factory.member(taipei.school, role)
        await gql.sign_in_as(member)
        assert await gql.error_code(SYNC, {"dry": False}) == "FORBIDDEN"


async def test_a_school_without_the_plugin_gets_a_clear_code(gql: Any, factory: Any) -> None:
    staff = await factory.member(await factory.school(), Role.STAFF)
    await gql.sign_in_as(staff)
    assert await gql.error_code(SYNC, {"dry": False}) == "SYNC_NOT_CONFIGURED"


async def test_signed_out_callers_are_refused(gql: Any) -> None:
    assert await gql.anonymous().error_code(SYNC, {"dry": False}) == "UNAUTHENTICATED"
