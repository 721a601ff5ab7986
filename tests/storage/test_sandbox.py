"""Structure checks run in worker processes with a time limit: a slow file is refused, the
worker killed and replaced, nothing stored. Real parsers, real stores, a real slow input."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from types import ModuleType

import pytest

from licheng.storage import sandbox
from licheng.storage.blobstore import BlobStore
from licheng.storage.checks import store_checked_upload
from licheng.storage.errors import UploadRefused
from licheng.storage.keys import new_blob_key

LIMITS = {"document": 4 * 1024 * 1024, "media": 10 * 1024 * 1024}
SCHOOL = "004321"


@functools.cache
def slow_png(samples: ModuleType) -> bytes:
    return samples.png_slow_to_check()


async def keys(store: BlobStore) -> list[str]:
    return [key async for key in store.iter_keys(f"{SCHOOL}/")]


async def put(store: BlobStore, samples: ModuleType, data: bytes, name: str, **options: object):
    return await store_checked_upload(
        store, new_blob_key(SCHOOL), samples.chunked(data, 65536), filename=name,
        category_limits=LIMITS, **options,  # type: ignore[arg-type]
    )  # fmt: skip


async def busy_worker(pool: sandbox.CheckPool, task: asyncio.Task[object]) -> int:
    """The pid of the worker the check of `task` went to, once it is busy."""
    for _ in range(1000):
        await asyncio.sleep(0.005)
        busy = [w for w in list(pool._all) if w not in pool._idle]  # noqa: SLF001
        if busy:
            assert not task.done()
            return int(busy[0].process.pid)
    raise AssertionError("the check never started")


async def test_a_check_that_overruns_its_time_is_refused_and_nothing_is_kept(store, samples) -> None:
    pool = sandbox.check_pool()
    killed = pool.killed
    with pytest.raises(UploadRefused) as refused:
        await put(store, samples, slow_png(samples), "transparent.png", check_seconds=0.05)
    assert refused.value.code == "UPLOAD_CHECK_TIMEOUT"
    assert refused.value.details == {"seconds": 0.05}
    assert "0.05" in refused.value.message_zh and "0.05" in refused.value.message_en
    assert pool.killed == killed + 1
    assert await keys(store) == []
    # The same file passes with time enough, and the pool has replaced its worker.
    accepted = await put(store, samples, slow_png(samples), "transparent.png", check_seconds=30)
    assert accepted.kind == "png" and await keys(store) != []


async def test_more_uploads_than_workers_all_get_checked(store, samples) -> None:
    files = [(samples.pdf(pages=2), "a.pdf"), (samples.png(), "b.png"), (samples.jpeg(), "c.jpg"),
             (samples.mp3(), "d.mp3"), (samples.mp4(), "e.mp4"), (samples.pdf_with_javascript(), "f.pdf")]  # fmt: skip
    results = await asyncio.gather(
        *(put(store, samples, data, name) for data, name in files * 2), return_exceptions=True
    )
    assert [r.kind for r in results if not isinstance(r, BaseException)] == ["pdf", "png", "jpeg", "mp3", "mp4"] * 2
    refused = [r for r in results if isinstance(r, BaseException)]
    assert [r.code for r in refused] == ["UPLOAD_PDF_ACTIVE_CONTENT"] * 2  # type: ignore[attr-defined]
    assert len(await keys(store)) == 10


async def test_a_worker_that_dies_refuses_its_upload_and_is_replaced(store, samples) -> None:
    pool = sandbox.check_pool()
    task = asyncio.create_task(put(store, samples, slow_png(samples), "transparent.png", check_seconds=30))
    os.kill(await busy_worker(pool, task), signal.SIGKILL)  # as the kernel would for a parser crash
    with pytest.raises(UploadRefused) as refused:
        await task
    assert refused.value.code == "UPLOAD_CORRUPT"
    assert await keys(store) == []
    assert (await put(store, samples, samples.png(), "ok.png")).kind == "png"


async def test_a_cancelled_upload_does_not_leave_a_worker_busy(store, samples) -> None:
    pool = sandbox.check_pool()
    task = asyncio.create_task(put(store, samples, slow_png(samples), "transparent.png", check_seconds=30))
    await busy_worker(pool, task)  # the check is running (it takes most of a second)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await keys(store) == []
    checks = [put(store, samples, samples.png(), f"{n}.png") for n in range(pool.size + 1)]
    assert len(await asyncio.wait_for(asyncio.gather(*checks), 30)) == pool.size + 1


async def test_a_worker_that_died_while_idle_is_replaced_without_failing_the_upload(store, samples) -> None:
    pool = sandbox.check_pool()
    await asyncio.gather(*(put(store, samples, samples.png(), f"{n}.png") for n in range(pool.size)))  # all started
    for worker in list(pool._idle):  # noqa: SLF001
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(5)
    assert (await put(store, samples, samples.pdf(), "after.pdf")).kind == "pdf"
