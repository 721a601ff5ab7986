"""SIGKILL of a real `licheng worker` process at random points, again and again, while it delivers
batches to the simulator: afterwards one accepted package per batch and each receipt once.

Three workers run at once; each kill waits until a worker holds a job, then a random 0-0.5 s, so
kills land mid-request, between two steps or after a job. A killed worker's job waits for its
lease to run out (5 minutes); the test moves that deadline to now instead of waiting, which is
what the passing of time would do. A job killed in every one of its 8 tries is buried (the head of
the queue is what every new worker takes first): staff send its batch again, as they would.
The seed is printed; set LICHENG_TEST_SEED to replay a run.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from licheng.jobs import Job, JobStatus
from licheng.jobs.queue import utcnow
from licheng.portfolio import receipts, submission
from licheng.portfolio.models import BatchStatus, Receipt, SubmissionBatch
from licheng.tenants.actor import system_actor
from tests.plugins.moe_central.exchange.conftest import CLI, connect_school, receipts_once, term_school

KILLS = 50
BATCHES = 40
POOL = 3  # workers at once: a replacement starts while the others work


def _worker_env(settings: Any, log_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICHENG_")}
    env.update(
        LICHENG_DATABASE_URL=settings.database_url, LICHENG_DATA_DIR=str(settings.data_dir),
        LICHENG_STORAGE_URL=settings.storage_url, LICHENG_SECRET_KEY=settings.secret_key,
        LICHENG_DEBUG="true", LICHENG_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
        LICHENG_SCHEDULE_PERIODIC_JOBS="false",  # only this test's jobs: no periodic work for the session's schools
    )  # fmt: skip
    return env


async def _after_kill(pid: int) -> int:
    """What waiting would do: the dead worker's lease runs out. Returns how many jobs it was cut off in."""
    past = utcnow() - timedelta(seconds=1)
    return await Job.filter(status=JobStatus.RUNNING, locked_by__startswith=f"{socket.gethostname()}:{pid}:").update(locked_until=past)


async def _work_left() -> bool:
    return await Job.filter(status__in=[JobStatus.QUEUED, JobStatus.FAILED, JobStatus.RUNNING]).exists()


async def _busy(pids: list[int]) -> list[int]:
    """Workers holding a job now (worker ids are host:pid:random)."""
    held = await Job.filter(status=JobStatus.RUNNING).values_list("locked_by", flat=True)
    return [pid for pid in pids if any(str(h).startswith(f"{socket.gethostname()}:{pid}:") for h in held)]


async def test_sigkill_of_the_worker_at_random_points_neither_duplicates_nor_loses_a_submission(
    factory, manager, sim, exchange_keys, settings, tmp_path: Path
) -> None:
    """Every call to the simulator is a little slow (it waits, then works), so a kill often lands after
    a request was sent and before its answer was recorded: the worst moment for exactly-once."""
    seed = int(os.environ.get("LICHENG_TEST_SEED") or time.time_ns() % 1_000_000)
    print(f"seed {seed}")
    rng = random.Random(seed)
    bureau = await factory.bureau()
    await connect_school(manager, factory, sim, exchange_keys, bureau, timeout=5.0)
    schools = [await term_school(factory, sim, exchange_keys, settings, bureau, students=1, records=1) for _ in range(BATCHES)]
    for school in schools:
        await submission.submit_batch(school.staff, school.batch.id, poll_seconds=0.0)
    for endpoint in ("upload", "notify", "status", "receipts"):
        sim.fault("slow", 1000, endpoint, seconds=0.25)
    env = _worker_env(settings, tmp_path)
    log = (tmp_path / "workers.log").open("ab")
    workers: dict[int, subprocess.Popen[bytes]] = {}

    def spawn() -> None:
        process = subprocess.Popen([CLI, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        workers[process.pid] = process

    kills = cut_off = 0
    try:
        for _ in range(POOL):
            spawn()
        while kills < KILLS:
            # Wait for a worker to hold a job (they take a second or two to start), then let a random
            # moment pass: the kill lands mid-request, between two steps, or after the job.
            waited = time.monotonic()
            while not (busy := await _busy(list(workers))) and time.monotonic() - waited < 4 and await _work_left():
                await asyncio.sleep(0.05)
            victim = rng.choice(busy or list(workers))
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            process = workers.pop(victim)
            assert process.poll() is None, (tmp_path / "workers.log").read_text()[-3000:]  # alive until killed
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            cut_off += await _after_kill(victim)
            await Job.filter(status=JobStatus.FAILED).update(run_after=utcnow())  # retries come due
            spawn()
    finally:
        for process in workers.values():
            process.terminate()
        for process in workers.values():
            process.wait(30)
    sim.admin("DELETE", "/_faults")  # drain what is left at full speed
    drain = [CLI, "worker", "--once"]
    assert subprocess.run(drain, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=120).returncode == 0
    # A delivery job whose worker died in every one of its tries is buried (dead): its batch stays
    # queued, and staff send it again. The recorded delivery resumes: still nothing twice.
    buried = [s for s in schools if await submission._delivery_buried(await SubmissionBatch.get(id=s.batch.id))]
    for school in buried:
        await submission.submit_batch(school.staff, school.batch.id, poll_seconds=0.0)
    assert subprocess.run(drain, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=120).returncode == 0
    log.close()
    # A buried status poll leaves its batch submitted: staff collect the receipts by hand (collectReceipts).
    stuck = await SubmissionBatch.filter(id__in=[s.batch.id for s in schools], status=BatchStatus.SUBMITTED)
    for batch in stuck:
        await receipts.collect_receipts(system_actor(batch.school_id), batch.id)
    print(f"{kills} kills, {cut_off} of them in the middle of a job, {len(buried)} batches sent again after a buried job, {len(stuck)} collected by hand")

    ids = [s.batch.id for s in schools]
    statuses = await SubmissionBatch.filter(id__in=ids).values_list("status", flat=True)
    assert set(statuses) == {BatchStatus.RECEIPTS}, (tmp_path / "workers.log").read_text()[-3000:]
    for school in schools:
        packages = sim.packages(school.school.code)
        assert [(p["state"], p["batch_id"]) for p in packages] == [("accepted", school.batch.id)]
        assert receipts_once(await Receipt.filter(batch_id=school.batch.id), school)
    assert cut_off >= KILLS // 4  # the kills did land inside deliveries and polls, not only between them


# Runs once (the SQLite pass), though it uses the session database: 50 real worker processes make it
# take 1-2 minutes, and the PostgreSQL pass would prove little new (it passed there too when run with
# LICHENG_TEST_DATABASE_URL; claiming under concurrent workers is covered in tests/jobs/test_processes.py).
pytestmark = [pytest.mark.filterwarnings("ignore::ResourceWarning"), pytest.mark.backend_independent]
