"""Running jobs: a `Worker` claims, runs and settles them, and `licheng worker` loops until SIGTERM.

Each job runs under ``log_context(request_id="job-<id>", school_id=...)`` with
``system_actor(job.school_id)``: never without its tenant. While a handler runs,
a heartbeat extends the lease, so only a dead worker's job is taken over.
On SIGTERM the worker finishes the job in hand, then exits 0; a job cut off by
SIGKILL is claimed again once its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from licheng.jobs import queue, scheduler
from licheng.jobs.models import Job, JobStatus
from licheng.jobs.registry import JobContext, handler_for
from licheng.observability import count_job_failure, log_context, set_job_queue_depth
from licheng.settings import Settings
from licheng.tenants.actor import system_actor

log = logging.getLogger("licheng.jobs")

SCHEDULE_EVERY = 60.0  # seconds between looks for periodic work that is due (licheng.jobs.scheduler)
POLL_INTERVAL = 1.0  # seconds between looks at an empty queue (+-20 %, so workers do not poll in step)
DEPTH_EVERY = 5.0  # seconds between queue-depth updates while busy


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:128]


class Worker:
    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        lease: timedelta = queue.DEFAULT_LEASE,
        kinds: Collection[str] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.id = worker_id or default_worker_id()
        self.lease = lease
        self.kinds = kinds
        self.rand = rand
        self._depth_at = 0.0
        self._scheduled_at: float | None = None

    async def schedule(self) -> None:
        """Enqueue due periodic work, at most every ``SCHEDULE_EVERY`` seconds (idempotent per slot)."""
        if self._scheduled_at is not None and time.monotonic() - self._scheduled_at < SCHEDULE_EVERY:
            return
        self._scheduled_at = time.monotonic()
        try:
            await scheduler.schedule_due()
        except Exception:  # noqa: BLE001 - the queue keeps running; the next look tries again
            log.exception("periodic jobs could not be scheduled")

    async def run_one(self, *, now: datetime | None = None) -> Job | None:
        """Claim one due job and run it to done, retry or dead. None when nothing was due.

        `now` pins the clock (tests); otherwise every step reads the real time.
        """
        job = await queue.claim(self.id, lease=self.lease, now=now, kinds=self.kinds)
        if job is None:
            return None
        with log_context(request_id=f"job-{job.id}", school_id=job.school_id):
            await self._execute(job, now)
        return job

    async def _execute(self, job: Job, now: datetime | None) -> None:
        spec = handler_for(job.kind)
        extra = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts}
        if job.attempts > job.max_attempts:
            # Claimed again after a lost lease, with no attempt left: the last one died with its worker.
            await self._fail(job, "worker lost (lease expired) during the final attempt", now, retry=False)
            return
        if spec is None:
            await self._fail(job, f"no handler registered for kind {job.kind}", now)
            return
        if spec.platform_level != (job.school_id is None):
            # Written around enqueue's checks (by hand, or a kind redeclared): never run out of tenant context.
            refusal = "a tenant job without a school" if job.school_id is None else "a platform job with a school"
            await self._fail(job, f"refused: {refusal}", now, retry=False)
            return
        context = JobContext(settings=self.settings, job_id=job.id, kind=job.kind, attempt=job.attempts)
        log.info("job started", extra=extra)
        started = time.monotonic()
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            await spec.func(system_actor(job.school_id), dict(job.payload), context)
        except Exception as error:  # noqa: BLE001 - any failure of a handler is the job's failure
            log.warning("job failed", exc_info=True, extra=extra)
            await self._fail(job, queue.describe_error(error), now)
        else:
            if await queue.mark_done(job, now):
                log.info("job done", extra={**extra, "seconds": round(time.monotonic() - started, 3)})
            else:
                log.warning("job done, but its lease had gone to another worker", extra=extra)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _fail(self, job: Job, error: str, now: datetime | None, *, retry: bool = True) -> None:
        count_job_failure(job.kind)
        status = await queue.mark_failed(job, error, handler_for(job.kind), now=now, retry=retry, rand=self.rand)
        extra = {"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "error": error}
        if status is JobStatus.DEAD:
            log.error("job dead", extra=extra)
        elif status is None:
            log.warning("job failed, but its lease had gone to another worker", extra=extra)

    async def _heartbeat(self, job: Job) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                if not await queue.extend_lease(job, self.lease):
                    log.warning("job lease lost", extra={"job_id": job.id, "kind": job.kind})
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease is generous
                log.warning("job lease not extended", exc_info=True, extra={"job_id": job.id})

    async def report_depth(self) -> None:
        set_job_queue_depth(await queue.queue_depth())
        self._depth_at = time.monotonic()

    async def run(
        self, stop: asyncio.Event, *, once: bool = False, poll_interval: float = POLL_INTERVAL, schedule: bool = True
    ) -> int:
        """Run jobs until `stop` is set (or, with `once`, until none is due). Returns how many ran.

        With `schedule`, periodic work is enqueued as it falls due (every worker may do
        this: the scheduler's idempotency keys keep one job per slot)."""
        ran = 0
        await self.report_depth()
        while not stop.is_set():
            if schedule:
                await self.schedule()
            try:
                job = await self.run_one()
            except Exception:
                if once:
                    raise
                log.exception("could not claim a job")  # database away: keep trying
                job = None
            if job is not None:
                ran += 1
                if time.monotonic() - self._depth_at >= DEPTH_EVERY:
                    await self.report_depth()
                continue
            with contextlib.suppress(Exception):
                await self.report_depth()
            if once:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_interval * (0.8 + 0.4 * self.rand()))
        return ran


async def run_pending(
    limit: int = 100, *, settings: Settings | None = None, kinds: Collection[str] | None = None
) -> int:
    """Run up to `limit` due jobs in this process (the embedded default, the demo). Returns how many ran."""
    worker = Worker(settings or Settings(), worker_id=f"in-process:{default_worker_id()}", kinds=kinds)
    ran = 0
    while ran < limit and await worker.run_one() is not None:
        ran += 1
    return ran


def run_worker(settings: Settings, *, once: bool = False, poll_interval: float = POLL_INTERVAL) -> int:
    """`licheng worker`: serve metrics if asked, run jobs until SIGTERM or SIGINT, exit 0."""
    from licheng import db
    from licheng.observability import configure_logging, start_metrics_server

    early: list[int] = []  # a signal before the loop exists still stops the worker cleanly
    previous = {
        sig: signal.signal(sig, lambda number, _frame: early.append(number)) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    configure_logging(settings.log_level)
    if settings.metrics_port:
        start_metrics_server(settings.metrics_port)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in previous:
            loop.add_signal_handler(sig, stop.set)
        if early:
            stop.set()
        worker = Worker(settings)
        log.info("worker started", extra={"worker_id": worker.id, "metrics_port": settings.metrics_port})
        await db.init_db(settings)
        try:
            # --once drains what is queued; periodic work is scheduled by running workers only.
            ran = await worker.run(stop, once=once, poll_interval=poll_interval, schedule=settings.schedule_periodic_jobs and not once)
        finally:
            await db.close_db()
        log.info("worker stopped", extra={"worker_id": worker.id, "jobs_run": ran})
        return ran

    try:
        return asyncio.run(main())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class InProcessJobs:
    """One worker task inside the web process: the embedded default's job runner.

    ``licheng serve`` on SQLite has no separate worker; this task claims jobs
    (and schedules periodic ones) like ``licheng worker`` does, and finishes the
    job in hand when the app shuts down.
    """

    def __init__(self, settings: Settings, poll_interval: float = POLL_INTERVAL, *, schedule: bool | None = None) -> None:
        self.worker = Worker(settings, worker_id=f"in-process:{default_worker_id()}")
        self.poll_interval = poll_interval
        self.schedule = settings.schedule_periodic_jobs if schedule is None else schedule
        self._stop = asyncio.Event()
        self._task: asyncio.Task[int] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.worker.run(self._stop, poll_interval=self.poll_interval, schedule=self.schedule))

    async def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._task, timeout)
        except TimeoutError:
            log.warning("in-process jobs did not stop in time; the job in hand runs again after its lease")
        except Exception:  # noqa: BLE001 - shutting down: report, do not mask the app's own exit
            log.exception("in-process job runner failed")
