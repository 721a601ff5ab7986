"""The national-ID service for submissions: staff of the school only, other schools' people unseen, audited."""

from __future__ import annotations

import logging

import pytest

from licheng.errors import LichengError
from licheng.settings import Settings
from licheng.tenants import nationalid
from licheng.tenants.actor import system_actor
from licheng.tenants.audit import AuditEntry
from licheng.tenants.models import Role
from licheng.tenants.national_ids import national_ids_for_submission
from tests.conftest import Factory

RAW = ("A139923835", "A299428648")


async def students(factory: Factory, settings: Settings):  # type: ignore[no-untyped-def]
    school = await factory.school()
    keys = {"data_key": settings.data_key_bytes, "lookup_key": settings.lookup_key_bytes}
    first = await factory.member(school, Role.STUDENT, **nationalid.protect(RAW[0], **keys))
    second = await factory.member(school, Role.STUDENT, **nationalid.protect(RAW[1], **keys))
    without = await factory.member(school, Role.STUDENT)
    staff = await factory.member(school, Role.STAFF)
    return school, first, second, without, staff


async def test_staff_get_the_clear_ids_of_their_students_and_each_read_is_audited(
    factory: Factory, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    school, first, second, without, staff = await students(factory, settings)
    actor = await staff.actor()
    with caplog.at_level(logging.DEBUG):
        ids = await national_ids_for_submission(actor, [first.person.id, second.person.id, without.person.id],
                                                settings=settings, batch_id=42)  # fmt: skip
    assert ids == {first.person.id: RAW[0], second.person.id: RAW[1]}  # no ID: left out, the package names the student
    assert not any(raw in caplog.text for raw in RAW)
    entries = await AuditEntry.filter(school_id=school.id, action="read_national_id_for_submission").order_by("student_id")
    assert [(e.student_id, e.account_id, e.changes) for e in entries] == [
        (first.person.id, staff.account.id, {"batch_id": 42}), (second.person.id, staff.account.id, {"batch_id": 42}),
    ]  # fmt: skip
    assert not any(raw in str(e.changes) for e in entries for raw in RAW)


async def test_a_job_acting_for_the_school_may_read_them(factory: Factory, settings: Settings) -> None:
    school, first, *_ = await students(factory, settings)
    assert await national_ids_for_submission(system_actor(school.id), [first.person.id], settings=settings) == {first.person.id: RAW[0]}


@pytest.mark.parametrize("role", [Role.STUDENT, Role.TEACHER, Role.HOMEROOM, Role.COUNSELOR, Role.PARENT])
async def test_anyone_but_staff_is_refused(factory: Factory, settings: Settings, role: Role) -> None:
    school, first, *_ = await students(factory, settings)
    other = await factory.member(school, role)
    with pytest.raises(LichengError) as caught:
        await national_ids_for_submission(await other.actor(), [first.person.id], settings=settings)
    assert caught.value.code == "FORBIDDEN"


async def test_people_of_another_school_are_not_found(factory: Factory, settings: Settings) -> None:
    _, first, *_ = await students(factory, settings)
    elsewhere = await factory.member(await factory.school(), Role.STAFF)
    with pytest.raises(LichengError) as caught:
        await national_ids_for_submission(await elsewhere.actor(), [first.person.id], settings=settings)
    assert caught.value.code == "NOT_FOUND"
    assert not await AuditEntry.filter(action="read_national_id_for_submission", student_id=first.person.id).exists()


async def test_a_wrong_data_key_is_a_clear_refusal_without_values(factory: Factory, settings: Settings) -> None:
    school, first, *_ = await students(factory, settings)
    wrong = Settings(data_dir=settings.data_dir, secret_key="another-secret-key-0123456789abcdef", debug=False)
    with pytest.raises(LichengError) as caught:
        await national_ids_for_submission(system_actor(school.id), [first.person.id], settings=wrong)
    assert caught.value.code == "NATIONAL_ID_UNREADABLE" and RAW[0] not in str(caught.value)


async def test_without_settings_the_running_apps_data_key_is_used(app: object, factory: Factory, settings: Settings) -> None:
    school, first, *_ = await students(factory, settings)
    assert await national_ids_for_submission(system_actor(school.id), [first.person.id]) == {first.person.id: RAW[0]}
