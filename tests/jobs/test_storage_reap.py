"""The `storage.reap` job: one school's abandoned uploads go, another school's stay."""

from __future__ import annotations

from datetime import timedelta

from licheng.jobs import Job, JobStatus, enqueue, run_pending
from licheng.jobs.queue import utcnow
from licheng.storage.models import BlobCategory, BlobState, StoredBlob


async def _abandoned_upload(school, factory) -> StoredBlob:
    row = await StoredBlob.create(
        school=school, key=f"test/{factory.unique('reap')}", category=BlobCategory.DOCUMENT,
        display_filename="a.pdf", state=BlobState.RECEIVING,
    )  # fmt: skip
    await StoredBlob.filter(id=row.id).update(created_at=utcnow() - timedelta(hours=7))
    return row


async def test_the_storage_reap_job_removes_only_its_schools_abandoned_uploads(factory, settings):
    school, other = await factory.school(), await factory.school()
    ours, theirs = await _abandoned_upload(school, factory), await _abandoned_upload(other, factory)
    job = await enqueue("storage.reap", {"intents_hours": 6}, school_id=school.id)
    while (await Job.get(id=job.id)).status == JobStatus.QUEUED:
        assert await run_pending(10, settings=settings, kinds=["storage.reap"])
    assert (await Job.get(id=job.id)).status == JobStatus.DONE
    assert not await StoredBlob.exists(id=ours.id)
    assert await StoredBlob.exists(id=theirs.id)
