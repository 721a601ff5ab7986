"""Durable background jobs (背景工作).

Work that must survive a crash is enqueued in the same transaction as the
change that causes it, retried with capped exponential backoff and jitter,
visible to the school's staff (`list_jobs`), and run by any number of
`licheng worker` processes, or in-process with `run_pending` on the embedded
default. Every job carries its school; only kinds declared platform-level run
without one. See docs/jobs.md.

    @job_handler("storage.reap")
    async def reap(actor, payload, context): ...

    async with in_transaction():
        ...  # the change
        await enqueue("storage.reap", {}, school_id=school.id)
"""

from licheng.jobs.models import Job, JobStatus
from licheng.jobs.queue import (
    DEFAULT_LEASE,
    JobError,
    backoff_delay,
    claim,
    enqueue,
    get_job,
    list_jobs,
    queue_depth,
)
from licheng.jobs.registry import HANDLERS, HandlerSpec, JobContext, RetryPolicy, handler_for, job_handler
from licheng.jobs.worker import InProcessJobs, Worker, run_pending, run_worker

from licheng.jobs import builtin as _builtin  # noqa: E402,F401 - registers the platform's handlers
from licheng.jobs.scheduler import PERIODIC, every, schedule_due  # noqa: E402 - registers plugins.scheduled

__all__ = [
    "DEFAULT_LEASE",
    "HANDLERS",
    "InProcessJobs",
    "HandlerSpec",
    "PERIODIC",
    "Job",
    "JobContext",
    "JobError",
    "JobStatus",
    "RetryPolicy",
    "Worker",
    "backoff_delay",
    "claim",
    "enqueue",
    "every",
    "get_job",
    "handler_for",
    "job_handler",
    "list_jobs",
    "queue_depth",
    "run_pending",
    "run_worker",
    "schedule_due",
]
