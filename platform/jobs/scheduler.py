"""Periodic work (排程): enqueue each recurring job at most once per school and time slot.

Two sources of recurring work:

- the platform's own, declared with ``every("storage.reap", timedelta(hours=6))``:
  a registered job kind, run for every school;
- plugins' ``ScheduledJob`` values (hook ``licheng_scheduled_jobs``), run for
  each school where the plugin is enabled, through the job kind
  ``plugins.scheduled``.

Time is cut into slots of length ``every`` since the Unix epoch; the job of a
slot is enqueued with the idempotency key ``<name>@<slot>``, so any number of
workers may call ``schedule_due`` at once and each job still exists once per
slot. A slot missed while no worker ran is not caught up: the next slot runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from licheng.jobs.models import Job
from licheng.jobs.queue import enqueue
from licheng.jobs.registry import JobContext, job_handler
from licheng.tenants.actor import Actor

log = logging.getLogger("licheng.jobs")

PLUGIN_JOB_KIND = "plugins.scheduled"


@dataclass(frozen=True)
class Periodic:
    """A platform job kind enqueued for every school once per ``interval``."""

    kind: str
    interval: timedelta
    payload: Mapping[str, Any] = field(default_factory=dict)


PERIODIC: dict[str, Periodic] = {}


def every(kind: str, interval: timedelta, payload: Mapping[str, Any] | None = None) -> Periodic:
    """Run the job kind ``kind`` in every school once per ``interval`` (at least a minute)."""
    if interval < timedelta(minutes=1):
        raise ValueError(f"periodic job {kind!r}: the interval must be at least a minute")
    periodic = Periodic(kind, interval, dict(payload or {}))
    PERIODIC[kind] = periodic
    return periodic


def slot_of(now: datetime, interval: timedelta) -> int:
    """The number of the time slot ``now`` falls in (slots of ``interval`` since the epoch)."""
    return int(now.timestamp() // interval.total_seconds())


async def _school_ids() -> list[int]:
    from licheng.tenants.models import School

    rows: list[int] = await School.all().order_by("id").values_list("id", flat=True)  # type: ignore[assignment]
    return rows


async def _plugin_jobs(school_id: int) -> list[tuple[str, Any]]:
    """(plugin id, ScheduledJob) for the plugins enabled in this school."""
    from licheng.plugins.runtime import call_for_school

    results = await call_for_school(school_id, "licheng_scheduled_jobs")
    return [(r.plugin_id, job) for r in results for job in r.value]


async def schedule_due(now: datetime | None = None, *, school_ids: Sequence[int] | None = None) -> list[Job]:
    """Enqueue the current slot's job of every periodic kind and plugin job, in every school
    (or in the schools named).

    Returns the jobs of the current slots (already there or new). Idempotent:
    calling it again in the same slots adds nothing.
    """
    now = now or datetime.now(UTC)
    jobs: list[Job] = []
    for school_id in school_ids if school_ids is not None else await _school_ids():
        for periodic in PERIODIC.values():
            key = f"every@{slot_of(now, periodic.interval)}"
            jobs.append(await enqueue(periodic.kind, dict(periodic.payload), school_id=school_id, idempotency_key=key))
        try:
            plugin_jobs = await _plugin_jobs(school_id)
        except Exception:  # noqa: BLE001 - one school's plugin trouble must not stop the others
            log.exception("scheduled jobs of school %s could not be listed", school_id)
            continue
        for plugin_id, job in plugin_jobs:
            key = f"{plugin_id}.{job.name}@{slot_of(now, job.every)}"
            payload = {"plugin": plugin_id, "name": job.name}
            jobs.append(await enqueue(PLUGIN_JOB_KIND, payload, school_id=school_id, idempotency_key=key))
    return jobs


@job_handler(PLUGIN_JOB_KIND, max_attempts=5, backoff_base=60.0)
async def run_plugin_job(actor: Actor, payload: dict[str, Any], context: JobContext) -> None:
    """Run one plugin's scheduled job for the job's school, if the plugin is still enabled there."""
    school_id = actor.require_school()
    for plugin_id, job in await _plugin_jobs(school_id):
        if plugin_id == payload.get("plugin") and job.name == payload.get("name"):
            await job.run(school_id)
            return
    # Disabled (or the job withdrawn) since it was scheduled: nothing to do, and nothing to retry.
    log.info("scheduled plugin job no longer offered here", extra={"plugin": payload.get("plugin"), "job": payload.get("name")})
