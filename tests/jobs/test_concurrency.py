"""Several workers at once: every job runs exactly once (SKIP LOCKED on PostgreSQL, conditional UPDATE on SQLite)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from licheng.jobs import Job, JobStatus, Worker, claim, enqueue
from licheng.jobs.queue import utcnow


def on_postgres() -> bool:
    return connections.get("default").capabilities.dialect == "postgres"


async def test_four_concurrent_workers_run_each_of_200_jobs_exactly_once(factory, register, settings):
    school = await factory.school()
    runs: Counter[int] = Counter()
    by_worker: Counter[str] = Counter()

    async def handler(actor, payload, context):
        runs[payload["n"]] += 1
        await asyncio.sleep(0)  # let the other workers in between claim and settle

    kind = register(handler)
    for n in range(200):
        await enqueue(kind, {"n": n}, school_id=school.id)

    async def work(name: str) -> None:
        worker = Worker(settings, worker_id=name, kinds=[kind])
        while (job := await worker.run_one()) is not None:
            by_worker[job.locked_by or ""] += 1

    await asyncio.gather(*(work(f"w{i}") for i in range(4)))
    assert runs == Counter({n: 1 for n in range(200)})
    assert sum(by_worker.values()) == 200 and len(by_worker) > 1
    assert await Job.filter(kind=kind, status=JobStatus.DONE, attempts=1).count() == 200


async def test_four_concurrent_claim_loops_never_take_the_same_job(factory, register):
    from .conftest import noop

    school = await factory.school()
    kind = register(noop)
    for _ in range(200):
        await enqueue(kind, {}, school_id=school.id)
    claimed: list[int] = []

    async def loop(name: str) -> None:
        while (job := await claim(name, kinds=[kind])) is not None:
            claimed.append(job.id)
            await asyncio.sleep(0)

    await asyncio.gather(*(loop(f"c{i}") for i in range(4)))
    assert len(claimed) == 200 and len(set(claimed)) == 200


async def test_on_postgresql_a_claimer_skips_a_job_another_transaction_holds(factory, register):
    if not on_postgres():
        pytest.skip("row locks exist on PostgreSQL only (SQLite claims by conditional UPDATE)")
    from .conftest import noop

    school = await factory.school()
    kind = register(noop)
    first = await enqueue(kind, {}, school_id=school.id, run_after=utcnow().replace(year=2000))
    second = await enqueue(kind, {}, school_id=school.id)
    locked, release = asyncio.Event(), asyncio.Event()

    async def other_worker_mid_claim() -> None:  # its own task: its own transaction and connection
        async with in_transaction() as tx:
            await Job.filter(id=first.id).using_db(tx).select_for_update().first()
            locked.set()
            await release.wait()

    holder = asyncio.create_task(other_worker_mid_claim())
    await locked.wait()
    try:
        taken = await asyncio.wait_for(claim("other", kinds=[kind]), timeout=10)
    finally:
        release.set()
        await holder
    assert taken is not None and taken.id == second.id
