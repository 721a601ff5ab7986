"""Enqueueing: in the caller's transaction, always with a school unless the kind is platform-level."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput
from licheng.jobs import Job, JobStatus, enqueue
from licheng.tenants.models import Bureau

from .conftest import noop


class Rollback(Exception):
    pass


async def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(factory, register):
    school = await factory.school()
    kind = register(noop)
    with pytest.raises(Rollback):
        async with in_transaction():
            bureau = await Bureau.create(code=factory.unique("rb"), name="rolled back")
            job = await enqueue(kind, {"bureau": bureau.id}, school_id=school.id)
            raise Rollback
    assert not await Job.exists(id=job.id)
    assert not await Bureau.exists(id=bureau.id)


async def test_a_job_enqueued_in_a_committed_transaction_is_queued_with_the_change(factory, register):
    school = await factory.school()
    kind = register(noop)
    async with in_transaction():
        bureau = await Bureau.create(code=factory.unique("ok"), name="committed")
        job = await enqueue(kind, {"bureau": bureau.id}, school_id=school.id)
    stored = await Job.get(id=job.id)
    assert (stored.status, stored.attempts, stored.school_id, stored.payload) == (
        JobStatus.QUEUED, 0, school.id, {"bureau": bureau.id},
    )  # fmt: skip


async def test_a_tenant_job_without_a_school_is_refused(register):
    kind = register(noop)
    with pytest.raises(InvalidInput) as refused:
        await enqueue(kind, {}, school_id=None)
    assert refused.value.details["field"] == "school_id"
    assert not await Job.exists(kind=kind)


async def test_a_platform_level_kind_runs_without_a_school_and_refuses_one(factory, register):
    kind = register(noop, platform_level=True)
    job = await enqueue(kind, {}, school_id=None)
    assert job.school_id is None
    with pytest.raises(InvalidInput):
        await enqueue(kind, {}, school_id=(await factory.school()).id)


async def test_an_unknown_kind_or_a_payload_that_is_not_json_is_refused(factory):
    school = await factory.school()
    with pytest.raises(InvalidInput):
        await enqueue("nobody.handles_this", {}, school_id=school.id)
    with pytest.raises(InvalidInput):
        await enqueue("storage.reap", {"when": object()}, school_id=school.id)


async def test_the_same_idempotency_key_returns_the_job_already_queued_even_inside_a_transaction(factory, register):
    school, other = await factory.school(), await factory.school()
    kind = register(noop)
    first = await enqueue(kind, {}, school_id=school.id, idempotency_key="reap-2026-11-22")
    async with in_transaction():
        again = await enqueue(kind, {}, school_id=school.id, idempotency_key="reap-2026-11-22")
        # The duplicate did not abort the transaction (PostgreSQL would refuse further statements).
        await Bureau.create(code=factory.unique("idem"), name="after the duplicate")
    elsewhere = await enqueue(kind, {}, school_id=other.id, idempotency_key="reap-2026-11-22")
    assert again.id == first.id
    assert elsewhere.id != first.id and elsewhere.school_id == other.id
    assert await Job.filter(kind=kind).count() == 2
