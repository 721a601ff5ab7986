"""Uploads that fail while batches are in the store's pipeline (hashed and written in a worker
thread while the next batch arrives): nothing may be left behind, and what is kept is exact.

The bodies here are megabytes in uneven chunks, so several batches have gone to the worker
(and on S3, a part to the server) before the failure; the service-level tests that fail after
a few kilobytes never reach the worker at all.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.requests import ClientDisconnect

from licheng.storage import local, service
from licheng.storage.blobstore import BlobStore
from licheng.storage.errors import UploadRefused
from licheng.storage.limits import national_defaults
from licheng.storage.local import LocalBlobStore
from licheng.storage.models import QuotaLedger, StoredBlob

MiB = 1024 * 1024
LIMITS = national_defaults()
SIZES = (7_001, 100_003, 65_536, 300_007)  # uneven, as a network hands a body over


async def uneven(data: bytes, *, then: BaseException | None = None) -> AsyncIterator[bytes]:
    offset = index = 0
    while offset < len(data):
        size = SIZES[index % len(SIZES)]
        yield data[offset : offset + size]
        offset, index = offset + size, index + 1
    if then is not None:
        raise then


async def used(person_id: int) -> int:
    row = await QuotaLedger.get_or_none(person_id=person_id)
    return int(row.used_bytes) if row else 0


async def assert_nothing_kept(store: BlobStore, samples, school, student) -> None:
    """No blob, no temporary file (nor unfinished multipart upload), no row, no charge."""
    await samples.assert_empty(store)
    assert not await StoredBlob.filter(school_id=school.id).exists()
    assert await used(student.person.id) == 0


async def test_the_stored_sha256_is_hashlibs_over_the_bytes(store, samples, school, student) -> None:
    data = samples.mp4(mdat_bytes=3 * MiB + 17)
    row = await service.receive_upload(
        await student.actor(), store, uneven(data), category="media", filename="clip.mp4", limits=LIMITS
    )
    assert row.sha256 == hashlib.sha256(data).hexdigest()
    assert row.size == len(data) and await used(student.person.id) == len(data)
    assert b"".join([chunk async for chunk in store.open(row.key)]) == data
    kept = await StoredBlob.get(id=row.id)
    assert (kept.sha256, kept.size) == (row.sha256, len(data))


async def test_a_client_gone_after_megabytes_leaves_nothing(store, samples, school, student) -> None:
    data = samples.mp4(mdat_bytes=3 * MiB)
    with pytest.raises(ClientDisconnect):
        await service.receive_upload(
            await student.actor(), store, uneven(data, then=ClientDisconnect()),
            category="media", filename="clip.mp4", limits=LIMITS,
        )  # fmt: skip
    await assert_nothing_kept(store, samples, school, student)


async def test_the_size_limit_hit_mid_pipeline_stops_reading_and_leaves_nothing(
    store, samples, school, student
) -> None:
    limits = replace(LIMITS, media_max_bytes=2 * MiB)
    data = samples.mp4(mdat_bytes=3 * MiB)
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        async for chunk in uneven(data):
            pulled += len(chunk)
            yield chunk

    with pytest.raises(UploadRefused) as refused:
        await service.receive_upload(
            await student.actor(), store, body(), category="media", filename="clip.mp4", limits=limits
        )
    assert refused.value.code == "UPLOAD_TOO_LARGE"
    assert pulled <= 2 * MiB + max(SIZES)  # the chunk that crossed the limit was the last one read
    await assert_nothing_kept(store, samples, school, student)


async def test_a_disk_write_error_mid_pipeline_leaves_nothing(
    tmp_path: Path, samples, school, student, monkeypatch
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    await store.check()
    real_writev_all = local._writev_all  # noqa: SLF001
    calls = 0

    def failing_on_the_third_batch(fd: int, pieces: list[bytes]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_writev_all(fd, pieces)

    monkeypatch.setattr(local, "_writev_all", failing_on_the_third_batch)
    with pytest.raises(OSError) as failed:
        await service.receive_upload(
            await student.actor(), store, uneven(samples.mp4(mdat_bytes=4 * MiB)),
            category="media", filename="clip.mp4", limits=LIMITS,
        )  # fmt: skip
    assert failed.value.errno == errno.ENOSPC and calls == 3
    await assert_nothing_kept(store, samples, school, student)
