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
