"""`list_jobs` and `get_job`: a school's staff see their school's jobs only."""

from __future__ import annotations

import pytest

from licheng.errors import Forbidden, NotFound
from licheng.jobs import JobStatus, Worker, enqueue, get_job, list_jobs
from licheng.tenants.models import Role

from .conftest import noop


async def test_staff_see_their_schools_jobs_with_status_attempts_and_last_error(factory, register, settings):
    school, other = await factory.school(), await factory.school()
    staff = await (await factory.member(school, Role.STAFF)).actor()

    async def broken(actor, payload, context):
        raise RuntimeError("boom")

    kind = register(broken)
    ours = await enqueue(kind, {}, school_id=school.id)
    theirs = await enqueue(kind, {}, school_id=other.id)
    await Worker(settings, kinds=[kind]).run_one()
    await Worker(settings, kinds=[kind]).run_one()

    page = await list_jobs(staff, kind=kind)
    assert [(j.id, j.status, j.attempts, j.last_error) for j in page.items] == [
        (ours.id, JobStatus.FAILED, 1, "RuntimeError")
    ]
    assert [j.id for j in (await list_jobs(staff, status=JobStatus.QUEUED, kind=kind)).items] == []
    assert (await get_job(staff, ours.id)).id == ours.id
    with pytest.raises(NotFound):
        await get_job(staff, theirs.id)


async def test_teachers_may_not_list_jobs(factory):
    school = await factory.school()
    teacher = await (await factory.member(school, Role.TEACHER)).actor()
    with pytest.raises(Forbidden):
        await list_jobs(teacher)


async def test_platform_admin_outside_a_school_sees_platform_jobs_only(factory, register):
    school = await factory.school()
    admin = await (await factory.platform_admin()).actor()
    tenant_kind, platform_kind = register(noop), register(noop, platform_level=True)
    await enqueue(tenant_kind, {}, school_id=school.id)
    platform_job = await enqueue(platform_kind, {}, school_id=None)
    assert [j.id for j in (await list_jobs(admin, kind=platform_kind)).items] == [platform_job.id]
    assert (await list_jobs(admin, kind=tenant_kind)).items == []
