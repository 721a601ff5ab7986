"""Running jobs: tenant context, retries with backoff, dead letters, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from prometheus_client import REGISTRY

from licheng.jobs import Job, JobError, JobStatus, RetryPolicy, Worker, backoff_delay, claim, enqueue, run_pending
from licheng.jobs.queue import mark_done, utcnow
from licheng.observability import current_request_id
from licheng.tenants.actor import system_actor

from .conftest import noop

NO_JITTER = 0.5  # rand() = 0.5 puts the jitter factor at exactly 1


def failures(kind: str) -> float:
    return REGISTRY.get_sample_value("licheng_job_failures_total", {"kind": kind}) or 0.0


async def test_a_handler_runs_as_the_system_actor_of_its_school_with_the_job_in_the_log_context(
    factory, register, settings
):
    school = await factory.school()
    seen: dict[str, Any] = {}

    async def handler(actor, payload, context):
        seen.update(actor=actor, payload=payload, request_id=current_request_id(), job_id=context.job_id)

    kind = register(handler)
    job = await enqueue(kind, {"n": 1}, school_id=school.id)
    assert await Worker(settings, kinds=[kind]).run_one() is not None
    assert seen == {
        "actor": system_actor(school.id), "payload": {"n": 1}, "request_id": f"job-{job.id}", "job_id": job.id,
    }  # fmt: skip
    done = await Job.get(id=job.id)
    assert (done.status, done.attempts, done.locked_by, done.finished_at is not None) == (JobStatus.DONE, 1, None, True)


async def test_a_failing_job_is_retried_with_exponential_backoff_then_succeeds(factory, register, settings):
    school = await factory.school()
    calls: list[int] = []

    async def flaky(actor, payload, context):
        calls.append(context.attempt)
        if len(calls) < 3:
            raise ConnectionError("remote unavailable")

    kind = register(flaky, backoff_base=10.0, backoff_cap=3600.0)
    job = await enqueue(kind, {}, school_id=school.id)
    worker = Worker(settings, kinds=[kind], rand=lambda: NO_JITTER)
    now = utcnow()

    await worker.run_one(now=now)
    first = await Job.get(id=job.id)
    assert (first.status, first.attempts, first.last_error) == (JobStatus.FAILED, 1, "ConnectionError")
    assert first.run_after == now + timedelta(seconds=10)
    assert await worker.run_one(now=now + timedelta(seconds=9)) is None  # not due yet

    await worker.run_one(now=now + timedelta(seconds=10))
    second = await Job.get(id=job.id)
    assert (second.status, second.attempts) == (JobStatus.FAILED, 2)
    assert second.run_after == now + timedelta(seconds=10 + 20)  # the wait doubled

    await worker.run_one(now=now + timedelta(seconds=30))
    done = await Job.get(id=job.id)
    assert (done.status, done.attempts, calls) == (JobStatus.DONE, 3, [1, 2, 3])


def test_backoff_doubles_up_to_the_cap_and_jitter_stays_within_its_band():
    policy = RetryPolicy(base=10.0, cap=300.0, jitter=0.2)
    assert [backoff_delay(n, policy, lambda: NO_JITTER).total_seconds() for n in range(1, 8)] == [
        10, 20, 40, 80, 160, 300, 300,
    ]  # fmt: skip
    assert backoff_delay(50, policy, lambda: 0.0).total_seconds() == 240.0
    assert backoff_delay(50, policy, lambda: 1.0).total_seconds() == 360.0


async def test_a_job_is_dead_after_max_attempts_with_its_last_error(factory, register, settings):
    school = await factory.school()

    async def broken(actor, payload, context):
        raise JobError(f"upstream answered 503 on attempt {context.attempt}")

    kind = register(broken, max_attempts=3, backoff_base=1.0)
    job = await enqueue(kind, {}, school_id=school.id)
    worker = Worker(settings, kinds=[kind])
    before = failures(kind)
    now = utcnow()
    for day in range(5):
        await worker.run_one(now=now + timedelta(days=day))
    dead = await Job.get(id=job.id)
    assert (dead.status, dead.attempts) == (JobStatus.DEAD, 3)
    assert dead.last_error == "licheng.jobs.queue.JobError: upstream answered 503 on attempt 3"
    assert dead.finished_at is not None and dead.locked_by is None
    assert failures(kind) - before == 3


async def test_last_error_keeps_the_error_class_but_not_a_message_that_may_hold_personal_data(
    factory, register, settings
):
    school = await factory.school()

    async def leaky(actor, payload, context):
        raise ValueError("學生 王小明 A123456789 not found")

    kind = register(leaky, max_attempts=1)
    job = await enqueue(kind, {}, school_id=school.id)
    await Worker(settings, kinds=[kind]).run_one()
    dead = await Job.get(id=job.id)
    assert (dead.status, dead.last_error) == (JobStatus.DEAD, "ValueError")


async def test_a_stuck_job_becomes_claimable_once_its_lease_expires(factory, register):
    school = await factory.school()
    kind = register(noop)
    job = await enqueue(kind, {}, school_id=school.id)
    now, lease = utcnow(), timedelta(seconds=60)

    held = await claim("worker-a", lease=lease, now=now, kinds=[kind])
    assert held is not None and held.id == job.id
    assert await claim("worker-b", lease=lease, now=now + timedelta(seconds=59), kinds=[kind]) is None

    taken = await claim("worker-b", lease=lease, now=now + timedelta(seconds=61), kinds=[kind])
    assert taken is not None and (taken.id, taken.locked_by, taken.attempts) == (job.id, "worker-b", 2)
    assert not await mark_done(held)  # worker-a came back too late: its attempt is not the job's any more
    assert await mark_done(taken)
    assert (await Job.get(id=job.id)).status == JobStatus.DONE


async def test_a_job_whose_worker_died_on_the_final_attempt_is_dead_without_running_again(
    factory, register, settings
):
    school = await factory.school()
    calls: list[int] = []

    async def handler(actor, payload, context):
        calls.append(context.attempt)

    kind = register(handler, max_attempts=1)
    job = await enqueue(kind, {}, school_id=school.id)
    now = utcnow()
    assert await claim("crashed", lease=timedelta(seconds=5), now=now, kinds=[kind]) is not None
    await Worker(settings, kinds=[kind]).run_one(now=now + timedelta(seconds=6))
    dead = await Job.get(id=job.id)
    assert (dead.status, calls) == (JobStatus.DEAD, [])
    assert "lease expired" in (dead.last_error or "")


async def test_a_tenant_job_that_lost_its_school_is_refused_by_the_worker(register, settings):
    calls: list[int] = []

    async def handler(actor, payload, context):
        calls.append(1)

    kind = register(handler)
    job = await Job.create(kind=kind, school_id=None, run_after=utcnow())  # around enqueue's check
    await Worker(settings, kinds=[kind]).run_one()
    refused = await Job.get(id=job.id)
    assert (refused.status, calls) == (JobStatus.DEAD, [])
    assert refused.last_error == "refused: a tenant job without a school"


async def test_run_pending_runs_due_jobs_in_process_up_to_its_limit(factory, register, settings):
    school = await factory.school()
    kind = register(noop)
    for _ in range(3):
        await enqueue(kind, {}, school_id=school.id)
    later = await enqueue(kind, {}, school_id=school.id, delay=timedelta(hours=1))
    assert await run_pending(2, settings=settings, kinds=[kind]) == 2
    assert await run_pending(10, settings=settings, kinds=[kind]) == 1
    assert await Job.filter(kind=kind, status=JobStatus.DONE).count() == 3
    assert (await Job.get(id=later.id)).status == JobStatus.QUEUED


async def test_a_stop_request_lets_the_current_job_finish_and_leaves_the_rest_queued(factory, register, settings):
    school = await factory.school()
    stop = asyncio.Event()
    finished: list[int] = []

    async def slow(actor, payload, context):
        stop.set()  # SIGTERM arrives while this job runs
        await asyncio.sleep(0.05)
        finished.append(context.job_id)

    kind = register(slow)
    first = await enqueue(kind, {}, school_id=school.id)
    second = await enqueue(kind, {}, school_id=school.id)
    assert await Worker(settings, kinds=[kind]).run(stop) == 1
    assert finished == [first.id]
    assert (await Job.get(id=first.id)).status == JobStatus.DONE
    assert (await Job.get(id=second.id)).status == JobStatus.QUEUED
