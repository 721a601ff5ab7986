"""Throughput of the local blob store against writing the same bytes directly.

    python bench/upload_store.py [--dir PATH] [--mb 10] [--rounds 15]

Each round writes one 10 MB stream (64 KiB chunks, as a request body arrives)
through `LocalBlobStore.put` (SHA-256, size limit, temp file, fsync, rename,
directory fsync) and the same bytes with plain `open/write/fsync` into the
same directory, alternating which goes first. Prints MB/s of each and the
ratio store/direct (1.0 = as fast as the disk allows; higher is better).
Both write to `--dir` (default: the system temp folder), which must be on
the disk being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from licheng.storage.keys import new_blob_key
from licheng.storage.local import LocalBlobStore

CHUNK = 64 * 1024


def make_chunks(total: int) -> list[bytes]:
    block = os.urandom(CHUNK)
    return [block] * (total // CHUNK) + ([block[: total % CHUNK]] if total % CHUNK else [])


async def body(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def through_store(store: LocalBlobStore, chunks: list[bytes], limit: int) -> float:
    key = new_blob_key("bench")
    start = time.perf_counter()
    await store.put(key, body(chunks), max_bytes=limit)
    elapsed = time.perf_counter() - start
    await store.delete(key)
    return elapsed


def direct(folder: Path, chunks: list[bytes]) -> float:
    path = folder / uuid.uuid4().hex
    start = time.perf_counter()
    with open(path, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--mb", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    total = args.mb * 1000 * 1000
    chunks = make_chunks(total)
    root = Path(tempfile.mkdtemp(prefix="licheng-bench-", dir=args.dir))
    try:
        store = LocalBlobStore(root / "blobs")
        await store.check()
        plain = root / "direct"
        plain.mkdir()
        await through_store(store, chunks, total)  # warm up both paths
        direct(plain, chunks)
        store_times: list[float] = []
        direct_times: list[float] = []
        for index in range(args.rounds):
            if index % 2:
                direct_times.append(direct(plain, chunks))
                store_times.append(await through_store(store, chunks, total))
            else:
                store_times.append(await through_store(store, chunks, total))
                direct_times.append(direct(plain, chunks))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    store_rate = total / 1e6 / statistics.median(store_times)
    direct_rate = total / 1e6 / statistics.median(direct_times)
    print(
        f"stream size            {args.mb} MB in {CHUNK // 1024} KiB chunks, {args.rounds} rounds"
    )
    print(f"direct write + fsync   {direct_rate:8.1f} MB/s (median)")
    print(f"local store put        {store_rate:8.1f} MB/s (median, SHA-256 + atomic + fsync)")
    print(f"ratio store/direct     {store_rate / direct_rate:8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
