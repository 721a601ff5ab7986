"""Periodic work: one job per school and time slot, plugin jobs only where the plugin is enabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from licheng.jobs import Job, JobStatus, run_pending, schedule_due
from licheng.jobs.scheduler import PLUGIN_JOB_KIND, slot_of
from licheng.plugins import Plugin, PluginSettings, ScheduledJob, hookimpl, service
from licheng.plugins.manager import PluginManager
from tests.plugins.conftest import District, make_available

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class ReminderPlugin(Plugin):
    id = "test_reminders"
    name = "測試提醒 Test reminders"
    version = "1.0"
    settings_model = PluginSettings

    def __init__(self) -> None:
        self.ran: list[int] = []

    @hookimpl
    def licheng_scheduled_jobs(self, config: Any) -> list[ScheduledJob]:
        async def remind(school_id: int) -> None:
            self.ran.append(school_id)

        return [ScheduledJob("remind", timedelta(hours=1), remind)]


async def _plugin(district: District, manager: PluginManager, schools: list[Any]) -> ReminderPlugin:
    plugin = ReminderPlugin()
    manager.register(plugin)
    await make_available(manager, plugin.id)
    await service.set_enabled(
        await district.admin_actor(), manager, district.bureau.id, plugin.id, enabled=True, school_ids=[s.id for s in schools]
    )
    return plugin


async def test_a_periodic_kind_is_enqueued_once_per_school_and_slot(district: District) -> None:
    ids = [s.id for s in district.schools]
    first = await schedule_due(NOON, school_ids=ids)
    again = await schedule_due(NOON + timedelta(minutes=30), school_ids=ids)
    reaps = [j for j in first if j.kind == "storage.reap"]
    assert sorted(j.school_id for j in reaps) == sorted(ids)
    assert [j.id for j in first] == [j.id for j in again]  # same slot: nothing new
    later = await schedule_due(NOON + timedelta(hours=6), school_ids=ids)
    assert not {j.id for j in later} & {j.id for j in first}
    assert await Job.filter(kind="storage.reap", school_id__in=ids).count() == 2 * len(ids)


async def test_a_plugin_job_runs_only_in_schools_where_the_plugin_is_enabled(district: District, manager: PluginManager) -> None:
    a, b, c = district.schools
    plugin = await _plugin(district, manager, [a, b])
    try:
        jobs = [j for j in await schedule_due(NOON, school_ids=[a.id, b.id, c.id]) if j.kind == PLUGIN_JOB_KIND]
        assert sorted(j.school_id for j in jobs) == sorted([a.id, b.id])
        assert jobs[0].payload == {"plugin": "test_reminders", "name": "remind"}
        assert jobs[0].idempotency_key.endswith(f"test_reminders.remind@{slot_of(NOON, timedelta(hours=1))}")
        await run_pending(kinds=[PLUGIN_JOB_KIND])
        assert sorted(plugin.ran) == sorted([a.id, b.id])
        # The same hour again: no second run.
        await schedule_due(NOON + timedelta(minutes=59), school_ids=[a.id, b.id, c.id])
        await run_pending(kinds=[PLUGIN_JOB_KIND])
        assert sorted(plugin.ran) == sorted([a.id, b.id])
    finally:
        manager.unregister(plugin.id)


async def test_a_plugin_job_of_a_plugin_disabled_since_does_nothing(district: District, manager: PluginManager) -> None:
    a = district.schools[0]
    plugin = await _plugin(district, manager, [a])
    try:
        [job] = [j for j in await schedule_due(NOON, school_ids=[a.id]) if j.kind == PLUGIN_JOB_KIND]
        await service.set_enabled(await district.admin_actor(), manager, district.bureau.id, plugin.id, enabled=False)
        await run_pending(kinds=[PLUGIN_JOB_KIND])
        assert plugin.ran == []
        assert (await Job.get(id=job.id)).status == JobStatus.DONE
    finally:
        manager.unregister(plugin.id)
