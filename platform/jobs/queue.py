"""Enqueue, claim and settle jobs, and let a school's staff see theirs.

Claiming differs by backend (docs/jobs.md says why):

- PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` in a short transaction.
  Concurrent workers each lock a different row instead of queueing behind the
  same head-of-queue row, and a claimed row is invisible to the others until
  the claim commits.
- SQLite: no row locks (a write locks the database), so a claim is a
  conditional ``UPDATE ... WHERE id = ? AND attempts = ? AND <still claimable>``.
  Whoever's update matches one row owns the job; a loser tries the next one.

Either way ``attempts`` grows at every claim and every later write about the
job names the attempt it belongs to, so a worker whose lease ran out cannot
overwrite what the job's new owner does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from licheng.errors import InvalidInput, LichengError, NotFound
from licheng.jobs.models import WAITING, Job, JobStatus
from licheng.jobs.registry import DEFAULT_RETRY, HandlerSpec, RetryPolicy, handler_for
from licheng.observability import redact
from licheng.pagination import Page, paginate
from licheng.tenants.actor import Actor
from licheng.tenants.models import Role

DEFAULT_LEASE = timedelta(minutes=5)
_CANDIDATES = 8  # rows a SQLite claimer reads at once: a lost race moves on to the next


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobError(Exception):
    """Raise from a handler when the message is safe to store (no personal data)."""


def describe_error(error: BaseException) -> str:
    """What `last_error` keeps: the error class, and a message only when it is known to be safe.

    Arbitrary exception messages can quote personal data (a name in a failed
    SQL statement), so they go to the (redacted) worker log only.
    """
    name = type(error).__qualname__
    module = type(error).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    if isinstance(error, LichengError):
        text = f"{name} {error.code}: {error.message_en}"
    elif isinstance(error, JobError):
        text = f"{name}: {error}"
    else:
        text = name
    return redact(text)[:500]


def backoff_delay(attempts: int, policy: RetryPolicy, rand: Callable[[], float] = random.random) -> timedelta:
    """Wait before the next try after `attempts` failed ones: base * 2^(attempts-1), capped, +-jitter.

    The cap applies before the jitter, so jobs that all reached the cap still spread out.
    """
    exponent = max(0, attempts - 1)
    seconds = min(policy.base * (2.0 ** min(exponent, 62)), policy.cap)
    seconds *= 1 + policy.jitter * (2 * rand() - 1)
    return timedelta(seconds=max(0.0, seconds))


def _spec_or_refuse(kind: str) -> HandlerSpec:
    spec = handler_for(kind)
    if spec is None:
        raise InvalidInput("kind", f"未知的背景工作種類 {kind}", f"unknown job kind {kind!r}", kind=kind)
    return spec


def _json_object(payload: dict[str, Any] | None) -> dict[str, Any]:
    payload = {} if payload is None else payload
    try:
        if not isinstance(payload, dict):
            raise TypeError
        return json.loads(json.dumps(payload))  # a copy that is plain JSON, or a refusal now
    except (TypeError, ValueError):
        raise InvalidInput(
            "payload", "背景工作的參數必須是 JSON 物件", "a job payload must be a JSON object"
        ) from None


async def enqueue(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    school_id: int | None,
    run_after: datetime | None = None,
    delay: timedelta | None = None,
    max_attempts: int | None = None,
    idempotency_key: str | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> Job:
    """Queue a job of a registered `kind` for `school_id` (None only for platform-level kinds).

    Inside ``async with in_transaction():`` the job is written on that
    transaction's connection (Tortoise's current one, or `using_db`): it is
    committed, or rolled back, with the change that caused it.

    With `idempotency_key`, enqueueing the same (school, kind, key) again returns
    the job already there instead of adding one.
    """
    spec = _spec_or_refuse(kind)
    if school_id is None and not spec.platform_level:
        raise InvalidInput(
            "school_id", f"背景工作 {kind} 必須指定學校", f"a job of kind {kind!r} must carry its school", kind=kind
        )
    if school_id is not None and spec.platform_level:
        raise InvalidInput(
            "school_id", f"平臺層級的背景工作 {kind} 不屬於任何學校",
            f"{kind!r} is a platform-level job kind and takes no school", kind=kind,
        )  # fmt: skip
    attempts_allowed = spec.max_attempts if max_attempts is None else max_attempts
    if not 1 <= attempts_allowed <= 100:
        raise InvalidInput("max_attempts", "嘗試次數須介於 1 到 100", "max_attempts must be between 1 and 100")
    if run_after is not None and run_after.tzinfo is None:
        raise InvalidInput("run_after", "時間須含時區", "run_after must be timezone-aware")
    when = run_after or utcnow() + (delay or timedelta(0))
    fields: dict[str, Any] = dict(
        school_id=school_id, kind=kind, payload=_json_object(payload), status=JobStatus.QUEUED,
        attempts=0, max_attempts=attempts_allowed, run_after=when,
    )  # fmt: skip
    if idempotency_key is None:
        return await Job.create(using_db=using_db, **fields)
    key = f"{'platform' if school_id is None else school_id}:{kind}:{idempotency_key}"
    if not idempotency_key or len(key) > 255:
        raise InvalidInput("idempotency_key", "冪等鍵長度不符", "the idempotency key is empty or too long")
    # ON CONFLICT DO NOTHING (INSERT OR IGNORE on SQLite): a duplicate never aborts the caller's transaction.
    await Job.bulk_create([Job(idempotency_key=key, **fields)], ignore_conflicts=True, using_db=using_db)
    return await _on(Job.filter(idempotency_key=key), using_db).get()


def _on(query: QuerySet[Job], conn: BaseDBAsyncClient | None) -> QuerySet[Job]:
    return query.using_db(conn) if conn is not None else query


def claimable(now: datetime) -> Q:
    """Due waiting jobs, and running ones whose lease ran out (their worker is gone)."""
    return Q(status__in=list(WAITING), run_after__lte=now) | Q(status=JobStatus.RUNNING, locked_until__lt=now)


def _candidates(now: datetime, kinds: Collection[str] | None) -> QuerySet[Job]:
    query = Job.filter(claimable(now))
    if kinds is not None:
        query = query.filter(kind__in=list(kinds))
    return query.order_by("run_after", "id")


async def claim(
    worker_id: str,
    *,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
    kinds: Collection[str] | None = None,
) -> Job | None:
    """Take one due job for `worker_id` until `now + lease`, or None when nothing is due."""
    now = now or utcnow()
    if connections.get("default").capabilities.dialect == "postgres":
        return await _claim_skip_locked(worker_id, lease, now, kinds)
    return await _claim_conditional(worker_id, lease, now, kinds)


async def _claim_skip_locked(
    worker_id: str, lease: timedelta, now: datetime, kinds: Collection[str] | None
) -> Job | None:
    async with in_transaction() as tx:
        job = await _candidates(now, kinds).using_db(tx).select_for_update(skip_locked=True).first()
        if job is None:
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.locked_by = worker_id
        job.locked_until = now + lease
        await job.save(using_db=tx, update_fields=["status", "attempts", "locked_by", "locked_until"])
        return job


async def _claim_conditional(
    worker_id: str, lease: timedelta, now: datetime, kinds: Collection[str] | None
) -> Job | None:
    while True:
        rows = await _candidates(now, kinds).limit(_CANDIDATES).values_list("id", "attempts")
        if not rows:
            return None
        for job_id, attempts in rows:
            won = await Job.filter(claimable(now), id=job_id, attempts=attempts).update(
                status=JobStatus.RUNNING, attempts=attempts + 1, locked_by=worker_id, locked_until=now + lease
            )
            if won:
                return await Job.get(id=job_id)
        # Every candidate went to another worker meanwhile: read the queue again.


def _owned(job: Job) -> QuerySet[Job]:
    """The job as this worker claimed it (same attempt, still ours)."""
    return Job.filter(id=job.id, status=JobStatus.RUNNING, locked_by=job.locked_by, attempts=job.attempts)


async def extend_lease(job: Job, lease: timedelta, now: datetime | None = None) -> bool:
    """Keep a long job ours; False if its lease already went to another worker."""
    return bool(await _owned(job).update(locked_until=(now or utcnow()) + lease))


async def mark_done(job: Job, now: datetime | None = None) -> bool:
    return bool(
        await _owned(job).update(
            status=JobStatus.DONE, finished_at=now or utcnow(), locked_by=None, locked_until=None
        )
    )


async def mark_failed(
    job: Job,
    error: str,
    spec: HandlerSpec | None,
    *,
    now: datetime | None = None,
    retry: bool = True,
    rand: Callable[[], float] = random.random,
) -> JobStatus | None:
    """Schedule a retry with backoff, or bury the job once its attempts are spent (or `retry` is False).

    Returns the new status, or None when the job was no longer ours.
    """
    now = now or utcnow()
    fields: dict[str, Any] = dict(last_error=error[:500], locked_by=None, locked_until=None)
    if retry and job.attempts < job.max_attempts:
        status = JobStatus.FAILED
        policy = spec.retry if spec is not None else DEFAULT_RETRY
        fields.update(status=status, run_after=now + backoff_delay(job.attempts, policy, rand))
    else:
        status = JobStatus.DEAD
        fields.update(status=status, finished_at=now)
    return status if await _owned(job).update(**fields) else None


async def queue_depth() -> int:
    """Jobs waiting for a worker (queued, or failed and waiting for their retry)."""
    return await Job.filter(status__in=list(WAITING)).count()


def _visible(actor: Actor) -> QuerySet[Job]:
    """Staff see their school's jobs; a platform admin acting outside schools sees platform jobs."""
    actor.require_signed_in()
    if actor.school_id is None:
        actor.require_platform_admin()
        return Job.filter(school_id__isnull=True)
    if not actor.is_platform_admin:
        actor.require_role(Role.STAFF)
    return Job.filter(school_id=actor.school_id)


async def list_jobs(
    actor: Actor,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[Job]:
    """The actor's school's jobs (status, attempts, last error), oldest first, a page at a time."""
    query = _visible(actor)
    if status is not None:
        try:
            query = query.filter(status=JobStatus(status))
        except ValueError:
            raise InvalidInput("status", "未知的狀態", f"unknown job status {status!r}") from None
    if kind is not None:
        query = query.filter(kind=kind)
    return await paginate(query, first=first, after=after)


async def get_job(actor: Actor, job_id: int) -> Job:
    job = await _visible(actor).filter(id=job_id).first()
    if job is None:
        raise NotFound("job", "背景工作")
    return job
