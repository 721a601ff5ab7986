"""The warnings run as the platform's scheduled jobs: only where Taipei CoolCloud is enabled, school by school."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from licheng.jobs import Job, JobStatus, run_pending
from licheng.jobs.scheduler import PLUGIN_JOB_KIND, schedule_due
from taipei_coolcloud.early_warnings import run_kind
from taipei_coolcloud.models.early_warnings import WarningKind
from tests.plugins.taipei.warnings.conftest import NEAR_UPLOAD_DEADLINE, make_taipei_school
from tests.plugins.taipei.warnings.helpers import warnings_of

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # the scheduler's slot time (the portfolio clock is the test's)
JOB_NAMES = {f"warnings_{kind.value}" for kind in WarningKind}


def _one_each(school, *labels: str) -> dict[str, int]:
    return {label: int(label in labels) for label in school.emails}


async def _plugin_jobs(school_id: int) -> list[Job]:
    return await Job.filter(school_id=school_id, kind=PLUGIN_JOB_KIND).order_by("id")


async def test_the_scheduler_runs_the_warnings_only_where_the_plugin_is_enabled(taipei, inbox, clock, factory, manager, smtp_server, settings):
    elsewhere = await make_taipei_school(factory, manager, smtp_server.port, enable=False)  # another bureau, plugin off
    clock.set(NEAR_UPLOAD_DEADLINE)

    # Only this test's schools: the session database holds every earlier test's schools too.
    here = [taipei.school_id, elsewhere.school_id]
    await schedule_due(now=NOW, school_ids=here)
    jobs = await _plugin_jobs(taipei.school_id)
    assert {j.payload["name"] for j in jobs} == JOB_NAMES and all(j.payload["plugin"] == "taipei_coolcloud" for j in jobs)
    assert not await _plugin_jobs(elsewhere.school_id)
    await run_pending(1000, settings=settings, kinds=[PLUGIN_JOB_KIND])

    assert {j.status for j in await _plugin_jobs(taipei.school_id)} == {JobStatus.DONE}
    kinds = {w.kind for w in await warnings_of(taipei)}
    assert kinds == {WarningKind.OUTCOMES_NOT_SENT, WarningKind.CLASS_SUMMARY}
    assert {label: len(inbox.to(address)) for label, address in taipei.emails.items()} == _one_each(taipei, "student", "homeroom")
    assert not await warnings_of(elsewhere)

    # The same slot again adds no job; the next slot runs again and sends nothing new.
    await schedule_due(now=NOW, school_ids=here)
    assert len(await _plugin_jobs(taipei.school_id)) == len(JOB_NAMES)
    await schedule_due(now=NOW + timedelta(hours=1), school_ids=here)
    await run_pending(1000, settings=settings, kinds=[PLUGIN_JOB_KIND])
    assert len(await _plugin_jobs(taipei.school_id)) == 2 * len(JOB_NAMES)
    assert len(await warnings_of(taipei)) == 2
    assert {label: len(inbox.to(address)) for label, address in taipei.emails.items()} == _one_each(taipei, "student", "homeroom")


async def test_a_job_scheduled_before_the_bureau_disabled_the_plugin_does_nothing(taipei, inbox, clock, settings):
    clock.set(NEAR_UPLOAD_DEADLINE)
    await schedule_due(now=NOW + timedelta(days=1), school_ids=[taipei.school_id])
    await taipei.disable()
    await run_pending(1000, settings=settings, kinds=[PLUGIN_JOB_KIND])
    assert {j.status for j in await _plugin_jobs(taipei.school_id)} == {JobStatus.DONE}
    assert not await warnings_of(taipei) and not any(inbox.to(a) for a in taipei.emails.values())
    await schedule_due(now=NOW + timedelta(days=2), school_ids=[taipei.school_id])
    assert len(await _plugin_jobs(taipei.school_id)) == len(JOB_NAMES)  # nothing new scheduled while disabled


async def test_a_run_for_one_school_leaves_another_school_untouched(taipei, inbox, clock, factory, manager, smtp_server):
    other = await make_taipei_school(factory, manager, smtp_server.port)
    clock.set(NEAR_UPLOAD_DEADLINE)
    for kind in WarningKind:
        await run_kind(kind, taipei.school_id, await taipei.config())
    assert await warnings_of(taipei) and not await warnings_of(other)
    assert not inbox.to(other.emails["student"]) and not inbox.to(other.emails["homeroom"])
    await run_kind(WarningKind.OUTCOMES_NOT_SENT, other.school_id, await other.config())
    [mine] = await warnings_of(other)
    assert mine.recipient_id == other.scene.student.person.id and len(inbox.to(other.emails["student"])) == 1
