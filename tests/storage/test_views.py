"""ByteView: the checks' random access to a blob, by pread on disk and range GETs on S3."""

from __future__ import annotations

import io
import os
import re

import pytest

from licheng.storage.blobstore import BlobStore
from licheng.storage.errors import BlobIntegrityError
from licheng.storage.keys import new_blob_key
from licheng.storage.structure import check_structure
from licheng.storage.views import ByteView

DATA = bytes(range(256)) * 40 + b"NEEDLE" + os.urandom(3000) + b"%%EOF \n"  # ~13 KB


async def stored(store: BlobStore, samples, data: bytes) -> tuple[str, int]:
    key = new_blob_key("007654")
    result = await store.put(key, samples.chunked(data, 4096), max_bytes=None)
    return key, result.size


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]

    def close(self) -> None:
        pass


@pytest.mark.parametrize("block", [7, 64, 1000, 1 << 20])
def test_a_view_reads_like_the_bytes_themselves(block: int) -> None:
    view = ByteView(_Bytes(DATA), block=block, cache_blocks=3)
    assert len(view) == len(DATA)
    assert view[0] == DATA[0] and view[-1] == DATA[-1] and view[5000] == DATA[5000]
    for start, stop in [(0, 10), (5, 900), (1234, 5678), (len(DATA) - 3, len(DATA) + 50), (50, 20)]:
        assert view[start:stop] == DATA[start:stop]
    for needle, start in [(b"NEEDLE", 0), (b"NEEDLE", 10241), (b"\xff", 300), (b"absent!", 0), (b"%%EOF", 9)]:
        assert view.find(needle, start) == DATA.find(needle, start)
    assert view.rfind(b"%%EOF") == DATA.rfind(b"%%EOF") and view.rfind(b"nowhere") == -1
    assert view.search(re.compile(rb"NEE+DLE"), 100) == DATA.find(b"NEEDLE")
    assert view.match(re.compile(rb"NEEDLE"), DATA.find(b"NEEDLE"))
    assert view.only(re.compile(rb"[ \n]*"), len(DATA) - 2) and not view.only(re.compile(rb"[ \n]*"), 0)
    with pytest.raises(IndexError):
        view[len(DATA)]
    handle = view.file()
    assert handle.read(100) == DATA[:100]
    handle.seek(-7, io.SEEK_END)
    assert handle.read() == b"%%EOF \n"
    handle.seek(10240)
    assert handle.read(6) == b"NEEDLE" and handle.tell() == 10246


def test_the_cache_serves_small_reads_and_stays_small() -> None:
    view = ByteView(_Bytes(DATA), block=1024, cache_blocks=2)
    for offset in range(0, 1024, 4):
        view.unpack_from(">I", offset)
    assert view.requests == 1  # one block for 256 reads
    view.read(0, 8000)  # a large read goes straight to the source, not into the cache
    assert view.requests == 2 and view.fetched == 1024 + 8000


async def test_a_stored_blob_is_read_in_place_from_either_store(store, samples) -> None:
    key, size = await stored(store, samples, DATA)
    with store.source_of(key, size).open() as view:
        assert view[0:len(DATA)] == DATA
        assert view.find(b"NEEDLE") == DATA.find(b"NEEDLE")


async def test_checking_a_large_mp4_reads_only_its_boxes(store, samples) -> None:
    data = samples.mp4(mdat_bytes=8 * 1024 * 1024)
    key, size = await stored(store, samples, data)
    source = store.source_of(key, size)
    assert check_structure(source, "mp4", 50_000_000) == set()
    # The walk alone (range GETs on S3): a few blocks, never the 8 MB of media.
    with source.open() as view:
        from licheng.storage.media import _walk_mp4

        _walk_mp4(view)
        assert view.fetched < 1024 * 1024


async def test_a_blob_that_changed_size_is_an_integrity_fault(store, samples) -> None:
    key, size = await stored(store, samples, DATA)
    with pytest.raises(BlobIntegrityError):
        with store.source_of(key, size + 1).open() as view:
            view[0:10]


def test_the_s3_credentials_stay_out_of_reprs() -> None:
    from licheng.storage.views import S3Source

    source = S3Source("s3.example:9000", "b", "1/2026/x", 10, access_key="AKIA-SECRET", secret_key="shh-secret")
    assert "SECRET" not in repr(source) and "shh" not in repr(source)
