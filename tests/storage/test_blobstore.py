"""The blob store contract, run over local disk and a real S3 server alike."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from types import ModuleType

import pytest

from licheng.storage.blobstore import BlobStore
from licheng.storage.errors import BlobNotFound, BlobStoreUnavailable, InvalidBlobKey, UploadRefused
from licheng.storage.local import LocalBlobStore
from licheng.storage.s3 import S3BlobStore

MiB = 1024 * 1024
KEY = "001234/2026/0123456789abcdef0123456789abcdef"


async def read_all(store: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.open(key)])


async def test_round_trip_keeps_the_bytes_and_measures_sha256(
    store: BlobStore, samples: ModuleType
) -> None:
    data = os.urandom(300_000)
    stored = await store.put(KEY, samples.chunked(data, 10_000), max_bytes=None)
    assert stored.size == len(data)
    assert stored.sha256_hex == hashlib.sha256(data).hexdigest()
    assert await read_all(store, KEY) == data
    stat = await store.stat(KEY)
    assert stat is not None and stat.size == len(data)
    assert await samples.all_keys(store) == [KEY]


async def test_a_multipart_sized_blob_round_trips(store: BlobStore, samples: ModuleType) -> None:
    data = os.urandom(11 * MiB + 7)  # three S3 parts
    stored = await store.put(KEY, samples.chunked(data), max_bytes=12 * MiB)
    assert stored.sha256_hex == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(await read_all(store, KEY)).hexdigest() == stored.sha256_hex


@pytest.mark.parametrize("limit", [1000, 6 * MiB])  # one request; past the first S3 part
async def test_one_byte_over_the_limit_is_refused_and_nothing_is_stored(
    store: BlobStore, samples: ModuleType, limit: int
) -> None:
    with pytest.raises(UploadRefused) as refused:
        await store.put(KEY, samples.chunked(b"x" * (limit + 1), 4096), max_bytes=limit)
    assert refused.value.code == "UPLOAD_TOO_LARGE"
    assert refused.value.details["limit_bytes"] == limit
    assert await store.stat(KEY) is None
    assert await samples.all_keys(store, "001234/") == []
    await samples.assert_empty(store)


async def test_exactly_the_limit_is_accepted(store: BlobStore, samples: ModuleType) -> None:
    stored = await store.put(KEY, samples.chunked(b"y" * 4096, 1000), max_bytes=4096)
    assert stored.size == 4096
    assert (await store.stat(KEY)).size == 4096  # type: ignore[union-attr]


async def test_reading_stops_at_the_chunk_that_crosses_the_limit(store: BlobStore) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(1000):
            pulled += 1
            yield b"z" * 1024

    with pytest.raises(UploadRefused):
        await store.put(KEY, body(), max_bytes=10 * 1024)
    assert pulled == 11


async def test_memory_stays_bounded_for_a_50_mb_stream(store: BlobStore) -> None:
    chunk = os.urandom(64 * 1024)
    count = 800  # 50 MiB

    async def body() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield chunk  # the same object: the test itself allocates nothing

    tracemalloc.start()
    try:
        stored = await store.put(KEY, body(), max_bytes=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == count * len(chunk)
    # Local: a chunk or two. S3: one 5 MiB part and its copies in the SDK (it grows a
    # part by concatenation), plus the 2 MiB queue: bounded, whatever the stream size.
    assert peak < (4 * MiB if isinstance(store, LocalBlobStore) else 24 * MiB), peak


async def test_a_failing_body_leaves_nothing(store: BlobStore, samples: ModuleType) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(7 * 16):  # 7 MiB: past the first S3 part
            yield b"q" * 65536
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(KEY, body(), max_bytes=None)
    assert await store.stat(KEY) is None
    await samples.assert_empty(store)


async def test_a_cancelled_upload_leaves_nothing(store: BlobStore, samples: ModuleType) -> None:
    started = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        for index in range(10_000):
            if index == 100:
                started.set()
            yield b"c" * 65536
            await asyncio.sleep(0)

    task = asyncio.create_task(store.put(KEY, body(), max_bytes=None))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):  # S3: the SDK's thread aborts the upload just after
        if await samples.all_keys(store) == []:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    await samples.assert_empty(store)


async def test_put_replaces_an_existing_blob(store: BlobStore, samples: ModuleType) -> None:
    await store.put(KEY, samples.chunked(b"old" * 100), max_bytes=None)
    await store.put(KEY, samples.chunked(b"new"), max_bytes=None)
    assert await read_all(store, KEY) == b"new"
    assert await samples.all_keys(store) == [KEY]


async def test_a_missing_blob_has_no_stat_cannot_be_opened_and_deletes_quietly(
    store: BlobStore,
) -> None:
    assert await store.stat(KEY) is None
    with pytest.raises(BlobNotFound):
        await read_all(store, KEY)
    await store.delete(KEY)


async def test_delete_removes_the_blob(store: BlobStore, samples: ModuleType) -> None:
    await store.put(KEY, samples.chunked(b"bye"), max_bytes=None)
    await store.delete(KEY)
    assert await store.stat(KEY) is None
    await samples.assert_empty(store)


async def test_keys_are_listed_by_plain_string_prefix(
    store: BlobStore, samples: ModuleType
) -> None:
    keys = ["s1/2026/a", "s1/2026/b", "s1/2027/c", "s10/2026/d", "s2/2026/e"]
    for key in keys:
        await store.put(key, samples.chunked(key.encode()), max_bytes=None)
    assert sorted(await samples.all_keys(store)) == keys
    assert sorted(await samples.all_keys(store, "s1/")) == keys[:3]
    assert sorted(await samples.all_keys(store, "s1/2026/")) == keys[:2]
    assert sorted(await samples.all_keys(store, "s1")) == keys[:4]
    assert await samples.all_keys(store, "s3/") == []


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "/abs/key", "a//b", ".hidden", "a/./b", "a/../b", "a\\b", "", "a/"]
)
async def test_unsafe_keys_are_refused(store: BlobStore, samples: ModuleType, key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        await store.put(key, samples.chunked(b"x"), max_bytes=None)
    with pytest.raises(InvalidBlobKey):
        await store.stat(key)
    with pytest.raises(InvalidBlobKey):
        await store.delete(key)
    await samples.assert_empty(store)


async def test_presigned_url_downloads_with_the_display_name(
    store: BlobStore, samples: ModuleType
) -> None:
    await store.put(KEY, samples.chunked(b"%PDF-1.7 body"), max_bytes=None)
    url = await store.presigned_get_url(
        KEY,
        filename="學習成果 報告.pdf",
        expires=timedelta(minutes=5),
        content_type="application/pdf",
    )
    if isinstance(store, LocalBlobStore):
        assert url is None  # the app streams local blobs itself
        return
    assert url is not None
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"%PDF-1.7 body"
        disposition = response.headers["Content-Disposition"]
        assert "filename*=UTF-8''%E5%AD%B8" in disposition
        assert response.headers["Content-Type"] == "application/pdf"


async def test_check_passes_on_a_ready_store(store: BlobStore) -> None:
    await store.check()


async def test_local_temporary_files_are_never_listed(
    tmp_path: object, samples: ModuleType
) -> None:
    store = LocalBlobStore(str(tmp_path))
    gate = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield b"first half "
        await gate.wait()
        yield b"second half"

    task = asyncio.create_task(store.put(KEY, body(), max_bytes=None))
    while not any(store.root.rglob(".*.tmp")):
        await asyncio.sleep(0.01)
    assert await samples.all_keys(store) == []
    assert await store.stat(KEY) is None
    gate.set()
    await task
    assert await samples.all_keys(store) == [KEY]
    assert not any(store.root.rglob(".*.tmp"))


async def test_s3_missing_bucket_is_created_on_check(s3_base_url: str, samples: ModuleType) -> None:
    store = S3BlobStore.from_url(samples.s3_url(s3_base_url, "licheng-created-on-check"))
    await store.check()
    await store.check()  # idempotent
    assert await samples.all_keys(store) == []


async def test_s3_missing_bucket_fails_readiness_when_creation_is_off(
    s3_base_url: str, samples: ModuleType
) -> None:
    url = samples.s3_url(s3_base_url, "licheng-never-created", create_bucket="false")
    with pytest.raises(BlobStoreUnavailable):
        await S3BlobStore.from_url(url).check()


async def test_an_unreachable_s3_fails_readiness_quickly(samples: ModuleType) -> None:
    import socket
    import time

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3BlobStore.from_url(f"s3://a:b@127.0.0.1:{port}/bucket?secure=false&region=us-east-1")
    start = time.monotonic()
    with pytest.raises(BlobStoreUnavailable):
        await store.check()
    assert time.monotonic() - start < 10
