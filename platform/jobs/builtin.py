"""The platform's own job handlers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from licheng.errors import InvalidInput
from licheng.jobs.registry import JobContext, job_handler
from licheng.jobs.scheduler import every
from licheng.tenants.actor import Actor


def _hours(payload: dict[str, Any], name: str, default: timedelta) -> timedelta:
    value = payload.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidInput(name, f"{name} 須為非負數", f"{name} must be a number of hours >= 0")
    return timedelta(hours=value)


@job_handler("storage.reap", max_attempts=5, backoff_base=60.0)
async def reap_storage(actor: Actor, payload: dict[str, Any], context: JobContext) -> None:
    """Remove one school's failed and abandoned uploads and refund their quota (`licheng storage reap`).

    Payload (optional): ``intents_hours``, ``unclaimed_hours``. Orphan removal is
    never offered here: after a database restore "orphans" are real files.
    """
    from licheng.storage import reaper
    from licheng.storage.blobstore import make_blob_store

    store = make_blob_store(context.settings.resolved_storage_url)
    await reaper.reap(
        store,
        school_id=actor.require_school(),
        intents_after=_hours(payload, "intents_hours", reaper.INTENTS_AFTER),
        unclaimed_after=_hours(payload, "unclaimed_hours", reaper.UNCLAIMED_AFTER),
    )


# Failed and abandoned uploads are cleaned in every school four times a day.
every("storage.reap", timedelta(hours=6))


def _plugins_wired() -> None:
    """A `licheng worker` process never built the app: wire the plugins' adapters into the portfolio."""
    from licheng.plugins import runtime

    runtime.install()


async def _final_attempt(context: JobContext) -> bool:
    from licheng.jobs.models import Job

    job = await Job.get_or_none(id=context.job_id)
    return job is None or context.attempt >= job.max_attempts


def _seconds(payload: dict[str, Any], default: float) -> float:
    value = payload.get("poll_seconds", default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
        raise InvalidInput("poll_seconds", "poll_seconds 須為 0 到 3600 的數字", "poll_seconds must be a number from 0 to 3600")
    return float(value)


def _batch_id(payload: dict[str, Any]) -> int:
    value = payload.get("batch_id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("batch_id", "缺少批次編號", "batch_id must be an integer")
    return value


@job_handler("submission.deliver", max_attempts=8, backoff_base=5.0, backoff_cap=900.0)
async def deliver_submission(actor: Actor, payload: dict[str, Any], context: JobContext) -> None:
    """Deliver a queued submission batch through the school's adapter (`licheng.portfolio.submission.deliver_batch`).

    Payload: ``batch_id``, optional ``poll_seconds`` (first status poll delay).
    """
    from licheng.portfolio import submission

    _plugins_wired()
    await submission.deliver_batch(
        actor, _batch_id(payload), attempt=context.attempt, final=await _final_attempt(context),
        poll_seconds=_seconds(payload, submission.POLL_SECONDS),
    )  # fmt: skip


@job_handler("submission.poll", max_attempts=8, backoff_base=5.0, backoff_cap=900.0)
async def poll_submission(actor: Actor, payload: dict[str, Any], context: JobContext) -> None:
    """Ask the adapter for a submitted batch's status; record the receipts when ready
    (`licheng.portfolio.receipts.poll_batch`). Payload: ``batch_id``, ``poll_seconds``, ``polls``."""
    from licheng.portfolio import receipts, submission

    _plugins_wired()
    polls = payload.get("polls", 0)
    if isinstance(polls, bool) or not isinstance(polls, int) or polls < 0:
        raise InvalidInput("polls", "polls 須為非負整數", "polls must be an integer >= 0")
    await receipts.poll_batch(
        actor, _batch_id(payload), polls=polls, poll_seconds=_seconds(payload, submission.POLL_SECONDS),
        job_id=context.job_id, final=await _final_attempt(context),
    )  # fmt: skip
