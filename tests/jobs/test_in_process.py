"""The embedded default runs jobs inside the web process."""

from __future__ import annotations

import asyncio
from typing import Any

from licheng.jobs import Job, JobStatus, enqueue
from licheng.jobs.worker import InProcessJobs
from licheng.settings import Settings


def test_jobs_run_in_process_on_sqlite_by_default_and_not_on_postgresql(tmp_path: Any) -> None:
    assert Settings(data_dir=tmp_path).runs_jobs_in_process
    assert not Settings(data_dir=tmp_path, database_url="postgres://u@127.0.0.1/x").runs_jobs_in_process
    assert not Settings(data_dir=tmp_path, jobs_in_process=False).runs_jobs_in_process


async def test_in_process_jobs_run_queued_work_and_stop_cleanly(settings: Any, factory: Any, register: Any) -> None:
    done = asyncio.Event()

    async def handler(*_: Any) -> None:
        done.set()

    kind = register(handler)
    job = await enqueue(kind, {}, school_id=(await factory.school()).id)
    runner = InProcessJobs(settings.model_copy(update={"jobs_in_process": True}), poll_interval=0.05, schedule=False)
    runner.worker.kinds = [kind]
    runner.start()
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await runner.stop()
    assert (await Job.get(id=job.id)).status == JobStatus.DONE
