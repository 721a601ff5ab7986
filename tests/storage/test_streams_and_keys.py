"""The streaming wrapper, blob keys, sniffing and the storage URL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from licheng.errors import LichengError
from licheng.storage.blobstore import BlobStore, make_blob_store
from licheng.storage.errors import InvalidBlobKey, UploadRefused
from licheng.storage.keys import new_blob_key, validate_key
from licheng.storage.local import LocalBlobStore
from licheng.storage.s3 import S3BlobStore
from licheng.storage.sniff import sniff
from licheng.storage.streams import checked_stream, read_head


async def test_checked_stream_passes_chunks_and_hashes_them(samples: ModuleType) -> None:
    data = bytes(range(256)) * 1000
    stream = checked_stream(samples.chunked(data, 999), len(data))
    assert b"".join([c async for c in stream]) == data
    assert stream.size == len(data)
    assert stream.sha256_hex == hashlib.sha256(data).hexdigest()


async def test_checked_stream_refuses_before_yielding_the_crossing_chunk() -> None:
    closed = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal closed
        try:
            for _ in range(10):
                yield b"a" * 10
        finally:
            closed = True

    seen: list[bytes] = []
    with pytest.raises(UploadRefused) as refused:
        async for chunk in checked_stream(body(), 25):
            seen.append(chunk)
    assert seen == [b"a" * 10, b"a" * 10]
    assert refused.value.details == {"limit_bytes": 25, "received_bytes": 30}
    assert closed  # the producer is told to stop


async def test_read_head_replays_everything(samples: ModuleType) -> None:
    data = bytes(range(200)) * 100
    head, rest = await read_head(samples.chunked(data, 3000), 8192)
    assert head == data[:9000]
    assert b"".join([c async for c in rest]) == data


async def test_read_head_of_a_short_stream(samples: ModuleType) -> None:
    head, rest = await read_head(samples.chunked(b"tiny"), 8192)
    assert head == b"tiny"
    assert [c async for c in rest] == [b"tiny"]


def test_new_blob_key_is_school_year_and_random() -> None:
    key = new_blob_key("001234", now=datetime(2026, 9, 1, tzinfo=UTC))
    assert re.fullmatch(r"001234/2026/[0-9a-f]{32}", key)
    assert new_blob_key(42) != new_blob_key(42)
    assert validate_key(new_blob_key(42)).startswith("42/")


@pytest.mark.parametrize("school", ["../x", "", "a/b", ".x", "學校"])
def test_new_blob_key_refuses_an_unsafe_school(school: str) -> None:
    with pytest.raises(InvalidBlobKey):
        new_blob_key(school)


def test_upload_refused_is_a_licheng_error() -> None:
    error = UploadRefused.of("UPLOAD_TOO_LARGE", limit_bytes=4 * 1024 * 1024)
    assert isinstance(error, LichengError)
    assert error.as_extensions()["code"] == "UPLOAD_TOO_LARGE"
    assert "4 MB" in error.message_zh and "4 MB" in error.message_en


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xfa\x90\x00" + b"\x00" * 100, "mp3"),  # MPEG-1 Layer III with CRC
        (b"\xff\xe3\x18\x00" + b"\x00" * 100, "mp3"),  # MPEG-2.5 Layer III
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
    ],
)
def test_mp3_frame_sync_variants_are_recognised(head: bytes, kind: str) -> None:
    assert sniff(head).kind == kind


def test_storage_urls_choose_the_store(tmp_path: Path) -> None:
    assert isinstance(make_blob_store(str(tmp_path)), LocalBlobStore)
    local = make_blob_store(f"file://{tmp_path}/blobs")
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "blobs"
    s3 = make_blob_store(
        "s3://AK:s%2Fe%40cret@minio.local:9000/blobs?secure=false&region=ap-northeast-1"
    )
    assert isinstance(s3, S3BlobStore)
    assert (s3.bucket, s3.region, s3.create_bucket) == ("blobs", "ap-northeast-1", True)
    assert s3._client._provider.retrieve().secret_key == "s/e@cret"  # noqa: SLF001
    for bad in [
        "http://x/y",
        "s3://host:9000/",
        "s3://h/a/b",
        "file://host/path",
        "",
        "s3://a:b@h/bkt?secure=maybe",
        "s3://a:b@h/bkt?part_size=1024",
    ]:
        with pytest.raises(ValueError):
            make_blob_store(bad)


def test_both_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(LocalBlobStore(tmp_path), BlobStore)
    assert isinstance(make_blob_store("s3://a:b@127.0.0.1:9/bkt?region=us-east-1"), BlobStore)
